//! `ward serve`: the listeners, the detection engine, and one HTTP server carrying the console,
//! its API and the ingest endpoints; with `--demo`, the simulated hospital and its live feed.
//!
//! Plain HTTP is served only on a loopback address; anywhere else the server speaks TLS with
//! the configured certificate (`[listen.tls]`) or a self-signed one generated at start, whose
//! fingerprint is printed.

use crate::commands::BadInput;
use crate::config::Config;
use crate::demo;
use anyhow::{Context as _, Result};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use ward_listen::http::PeerAddr;
use ward_listen::{Committer, Listeners, SharedEngine};
use ward_model::Timestamp;
use ward_pipeline::{IngestOptions, Source};
use ward_store::Store;

/// What `ward serve` was asked to do.
pub struct ServeRequest {
    pub data_dir: PathBuf,
    pub listen: Option<SocketAddr>,
    pub demo: bool,
    pub demo_speed: f64,
    pub demo_seed: u64,
}

pub fn serve(config: &Config, request: ServeRequest) -> Result<ExitCode> {
    if !(request.demo_speed.is_finite() && request.demo_speed > 0.0) {
        return Err(BadInput("--demo-speed must be a positive number".into()).into());
    }
    // The data directory holds PHI: only its owner may enter (as the store creates it).
    let mut private = std::fs::DirBuilder::new();
    private.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut private, 0o700);
    private
        .create(&request.data_dir)
        .with_context(|| format!("cannot create {}", request.data_dir.display()))?;
    // The response plan is read before anything starts: a mistake in it stops Ward here.
    let plan = Arc::new(crate::incidents::load_plan(config)?);
    let sqlite = crate::keys::open_store(config, &request.data_dir)?;
    // The console (CSRF tokens, patient pseudonyms) and notifications (pseudonyms) share one
    // secret derived from the store's keys: a masked patient reads the same in a message and
    // on the console page it links to, and across restarts.
    let pseudonym_key = match sqlite.derived_secret("console and notification pseudonyms") {
        Some(key) => key,
        None => *ward_vault::Kek::generate_bytes()?,
    };
    let sqlite = Arc::new(sqlite);
    let store: Arc<dyn Store> = sqlite.clone();
    let now = Timestamp::now();
    let metrics_tokens = Arc::new(crate::metrics::parse_tokens(&config.metrics.token_sha256)?);
    let silence = crate::silence::SilenceSettings {
        after_minutes: config.detect.silence_after_minutes.unwrap_or(60),
        overrides: config.detect.silence.clone(),
    };

    let prepared = if request.demo {
        println!(
            "demo: preparing the simulated hospital in {}",
            demo::simulated_dir(&request.data_dir).display()
        );
        let prepared = demo::prepare(&request.data_dir, request.demo_seed, now)?;
        if prepared.generated {
            println!(
                "demo: simulated hospital written (seed {})",
                request.demo_seed
            );
        }
        // Imported once per store: a demo store removed by hand is filled again.
        if store.count_context(ward_model::ContextKind::Patient)? == 0 {
            import_demo_context(store.as_ref(), &prepared.dir)?;
        }
        if store.inventory().list_assets()?.is_empty() {
            import_demo_inventory(store.as_ref(), &prepared.dir)?;
        }
        Some(prepared)
    } else {
        None
    };

    let inventory = match &prepared {
        Some(p) => crate::detection::inventory_from_dir(&p.dir.join("context"))?,
        None => crate::detection::inventory_from_config(config)?,
    };
    // The console draws the network map and each asset's reachability from the same zones
    // and policy the detectors check flows against.
    let console_inventory = Arc::new(inventory.clone());
    // The demo's GeoIP databases are the simulated hospital's, as its inventory is.
    let geoip = match &prepared {
        Some(p) => crate::detection::geoip_from_dir(&p.dir.join("context"))?,
        None => crate::detection::geoip_from_config(config)?,
    };
    let placeholders = config.detect.sigma_placeholders();
    let (detectors, watcher) = crate::detection::detectors(
        inventory,
        geoip,
        &[],
        store.as_ref(),
        &placeholders,
        config.detect.privacy.options()?,
    )?;
    let scans = crate::inventory::scan_settings(config)?;
    let engine: SharedEngine = Arc::new(Mutex::new(crate::detection::engine(detectors, &sqlite)));
    let rules = Arc::new(crate::detection::catalogue(
        &[],
        store.as_ref(),
        &placeholders,
    )?);
    let notifier = crate::notify::start(
        config.notify.as_ref(),
        store.clone(),
        &engine,
        pseudonym_key,
    )?;
    let context = ward_pipeline::load_context(store.as_ref(), &engine)?;
    let switched_off = crate::switches::apply(store.as_ref(), &engine)?;
    if switched_off > 0 {
        println!("detection: {switched_off} rule(s) switched off (ward rules disabled)");
    }
    tracing::info!(resources = context, "detection engine loaded the context");

    let settings = Arc::new(crate::settings::view(config, &request.data_dir, &sqlite));
    let mut listen = config.listen.clone();
    let bind = request
        .listen
        .or(listen.http.bind)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
    let http_enabled = listen.http.enabled.unwrap_or(true);
    // The HTTP server is started here, with the console merged in, not by the listeners.
    listen.http.enabled = Some(false);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let store_for_async = store.clone();
    runtime.block_on(async move {
        let signals = crate::commands::Signals::watch()?;
        let store = store_for_async;
        let listeners = Listeners::start(&listen, store.clone(), Some(engine.clone()))
            .await
            .context("cannot start the listeners")?;
        for bound in &listeners.bound {
            println!("listening: {} on {}", bound.name, bound.addr);
        }
        if let Some(fingerprint) = &listeners.tls_fingerprint {
            println!(
                "TLS certificate of the listeners ({}) SHA-256 fingerprint: {fingerprint}",
                certificate_origin(listeners.tls_generated)
            );
        }

        let (trigger, shutdown) = ward_listen::shutdown_channel();
        let mut server_task = None;
        if http_enabled {
            let plain = crate::web::plain_http_allowed(bind);
            // The console's server also takes HTTP ingest: one listener, counted as `http`.
            let http_stats = listeners.registry.register(listen.http.facts(!plain));
            let committer = Committer::new(store.clone(), listen.max_pending_commits.unwrap_or(4))
                .with_engine(Some(engine.clone()))
                .for_listener(http_stats.clone());
            let ingest = ward_listen::http::router(
                ward_listen::http::HttpState::new(committer, &listen.http)
                    .context("cannot configure the HTTP ingest endpoints")?,
            );
            let console = ward_console::router(ward_console::ConsoleState::new(
                store.clone(),
                ward_console::ConsoleOptions {
                    secure_cookies: !plain,
                    rules: rules.clone(),
                    on_audit: Some(audit_hook(engine.clone())),
                    on_rules_changed: Some(rules_hook(engine.clone())),
                    server_secret: Some(pseudonym_key),
                    inventory: console_inventory,
                    plan: plan.clone(),
                    chromium: config.respond.chromium.clone(),
                    listeners: Some(listeners.registry.clone()),
                    settings: settings.clone(),
                    ..ward_console::ConsoleOptions::default()
                },
            ));
            let metrics = crate::metrics::router(crate::metrics::MetricsState {
                store: store.clone(),
                engine: engine.clone(),
                data_dir: request.data_dir.clone(),
                start_time: now,
                tokens: metrics_tokens.clone(),
                listeners: listeners.registry.clone(),
            });
            let router = console
                .merge(ingest)
                .merge(metrics)
                .layer(axum::middleware::from_fn(client_addr));
            let mut server = ward_listen::http::HttpServer::bind_router(bind, &listen.http, router)
                .await
                .with_context(|| format!("cannot listen on {bind}"))?
                .count_into(http_stats);
            if !plain {
                let identity = ward_listen::tls::load_or_generate(&listen.tls)
                    .context("cannot set up TLS for the console")?;
                println!(
                    "TLS certificate of the console ({}) SHA-256 fingerprint: {}",
                    certificate_origin(identity.generated),
                    identity.fingerprint
                );
                server = server.with_tls(identity.acceptor());
            }
            let addr = server.local_addr();
            let scheme = if plain { "http" } else { "https" };
            println!("listening: {scheme} on {addr}");
            server_task = Some(tokio::spawn(server.run(shutdown.clone())));
            let scheme = format!("{scheme}://{addr}");
            let origin = scheme.replace("0.0.0.0", "127.0.0.1");
            if request.demo {
                let users = ward_console::create_demo_users(store.as_ref())
                    .context("cannot create the demo users")?;
                println!("console: {origin}/");
                println!("demo users (passwords are new at every start):");
                for user in &users {
                    let totp = user
                        .totp_secret
                        .as_ref()
                        .map(|secret| format!(" totp={secret}"))
                        .unwrap_or_default();
                    println!(
                        "  demo-user: {} {} {}{totp}",
                        user.name,
                        user.role.as_str(),
                        user.password
                    );
                }
            } else {
                println!("console: {origin}/");
                if let Some(token) = ward_console::first_run_setup_token(store.as_ref())
                    .context("cannot prepare the first-run setup")?
                {
                    println!("first run: create the first admin at {origin}/setup?token={token}");
                }
            }
        }

        let notify_task = notifier.map(|n| {
            println!(
                "notifications: on ({} channels)",
                config.notify.as_ref().map_or(0, |c| c.channels.len())
            );
            tokio::spawn(crate::notify::run(
                n,
                engine.clone(),
                store.clone(),
                shutdown.clone(),
            ))
        });

        let silence_task = tokio::spawn(crate::silence::run(
            silence,
            store.clone(),
            engine.clone(),
            shutdown.clone(),
        ));

        let deadline_task = tokio::spawn(crate::deadlines::run(
            store.clone(),
            engine.clone(),
            plan.clone(),
            config.respond.deadline_check_seconds.map_or(
                crate::deadlines::CHECK_EVERY,
                std::time::Duration::from_secs,
            ),
            shutdown.clone(),
        ));

        let scan_task = scans.map(|schedule| {
            println!(
                "TLS scans: {} endpoint(s) every {} h",
                schedule.targets.len(),
                schedule.every.as_secs() / 3600
            );
            tokio::spawn(crate::inventory::scan_loop(
                schedule,
                store.clone(),
                shutdown.clone(),
            ))
        });

        let discovery_task = tokio::spawn(crate::reach::run(
            store.clone(),
            watcher.clone(),
            shutdown.clone(),
        ));

        // What the detectors must remember across a restart (open correlation windows),
        // saved every few minutes, so even a crash loses at most that much of it.
        let state_task = tokio::spawn(save_state_every(
            STATE_EVERY,
            store.clone(),
            engine.clone(),
            shutdown.clone(),
        ));

        let stop = Arc::new(AtomicBool::new(false));
        let feed = match &prepared {
            Some(p) => {
                let status = Arc::new(demo::FeedStatus::default());
                let store = store.clone();
                let engine = engine.clone();
                let commit: Arc<demo::Commit> = Arc::new(move |events| {
                    demo::commit_and_detect(store.as_ref(), &engine, events)
                });
                println!(
                    "demo: live feed from {} at {}x real time",
                    p.start, request.demo_speed
                );
                Some(demo::start_feed(
                    p.dir.clone(),
                    demo::telemetry_files(&p.dir),
                    now,
                    request.demo_speed,
                    commit,
                    status,
                    stop.clone(),
                ))
            }
            None => None,
        };

        signals.wait().await;
        println!("shutting down: finishing commits in flight");
        stop.store(true, Ordering::Relaxed);
        trigger.trigger();
        if let Some(task) = server_task {
            let _ = task.await;
        }
        listeners.shutdown().await;
        if let Some(task) = notify_task {
            let _ = task.await;
        }
        let _ = silence_task.await;
        let _ = deadline_task.await;
        if let Some(task) = scan_task {
            let _ = task.await;
        }
        if let Some(feed) = feed {
            let joined = tokio::task::spawn_blocking(move || feed.join()).await;
            if let Ok(Ok(Err(e))) = joined {
                eprintln!("ward: the demo feed failed: {e:#}");
            }
        }
        // What the last commits showed (the feed's and the listeners' final batches).
        let _ = discovery_task.await;
        let flushed = tokio::task::spawn_blocking({
            let store = store.clone();
            move || watcher.flush(store.as_ref())
        })
        .await;
        if let Ok(Err(e)) = flushed {
            eprintln!("ward: writing the last sightings failed: {e:#}");
        }
        let _ = state_task.await;
        // What detectors that keep nothing between runs still hold is concluded, not lost.
        let concluded = tokio::task::spawn_blocking({
            let (store, engine) = (store.clone(), engine.clone());
            move || ward_pipeline::conclude_run(store.as_ref(), &engine)
        })
        .await;
        if let Ok(Err(e)) = concluded {
            eprintln!("ward: concluding the detectors' held findings failed: {e:#}");
        }
        let saved = tokio::task::spawn_blocking({
            let (store, engine) = (store.clone(), engine.clone());
            move || crate::detection::save_state(&engine, store.as_ref())
        })
        .await;
        if let Ok(Err(e)) = saved {
            eprintln!("ward: saving the detectors' state failed: {e:#}");
        }
        println!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// How often `serve` saves the detectors' state.
const STATE_EVERY: std::time::Duration = std::time::Duration::from_secs(300);

async fn save_state_every(
    every: std::time::Duration,
    store: Arc<dyn Store>,
    engine: SharedEngine,
    mut shutdown: ward_listen::Shutdown,
) {
    loop {
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let (store, engine) = (store.clone(), engine.clone());
        let saved = tokio::task::spawn_blocking(move || {
            crate::detection::save_state(&engine, store.as_ref())
        })
        .await;
        if let Ok(Err(e)) = saved {
            tracing::warn!(error = %e, "saving the detectors' state failed");
        }
    }
}

fn certificate_origin(generated: bool) -> &'static str {
    if generated {
        "generated self-signed"
    } else {
        "configured"
    }
}

/// The console finds the client's address as [`ward_console::ClientAddr`]; the servers here
/// know it as the listeners' [`PeerAddr`].
async fn client_addr(
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<PeerAddr>>()
        .map(|info| info.0.0.ip());
    if let Some(ip) = peer {
        request
            .extensions_mut()
            .insert(ward_console::ClientAddr(ip));
    }
    next.run(request).await
}

/// Ward watches itself: its own audit events (console sign-ins, PHI views, changes) go through
/// the same detectors as everything else once stored.
fn audit_hook(engine: SharedEngine) -> ward_console::AuditHook {
    Arc::new(
        move |store: &dyn Store, batch: &ward_store::Batch, receipt: &ward_store::Receipt| {
            if let Err(e) = ward_pipeline::detect_committed(store, Some(&engine), batch, receipt) {
                tracing::warn!(error = %e, "detection on Ward's own audit events failed");
            }
        },
    )
}

/// Rules switched off or on in the console take effect in the running engine at once.
fn rules_hook(engine: SharedEngine) -> ward_console::RulesHook {
    Arc::new(move |disabled: &std::collections::HashSet<String>| {
        engine
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .set_disabled_rules(disabled.clone());
    })
}

/// Imports the simulated hospital's asset list as a customer would with `ward inventory
/// import`, and the bundled KEV snapshot (the demo runs without internet access).
fn import_demo_inventory(store: &dyn Store, dir: &Path) -> Result<()> {
    let path = dir.join("context").join("assets.csv");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let assets = ward_inventory::parse_assets(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let imported =
        ward_inventory::stored::save_assets(store, assets, ward_model::Timestamp::now())?;
    if store.inventory().feed("kev")?.is_none() {
        use std::io::Read as _;
        let mut kev = Vec::new();
        flate2::read::GzDecoder::new(ward_inventory::stored::DEMO_KEV_GZ).read_to_end(&mut kev)?;
        ward_inventory::stored::import_feed(
            store,
            kev,
            ward_inventory::stored::DEMO_KEV_ORIGIN,
            None,
            "demo",
            ward_model::Timestamp::now(),
        )?;
    }
    for (product, bytes) in ward_inventory::stored::DEMO_EOL {
        if store.inventory().feed(&format!("eol:{product}"))?.is_none() {
            ward_inventory::stored::import_feed(
                store,
                bytes.to_vec(),
                ward_inventory::stored::DEMO_EOL_ORIGIN,
                Some(product),
                "demo",
                ward_model::Timestamp::now(),
            )?;
        }
    }
    println!(
        "demo: imported {} assets into the inventory",
        imported.added
    );
    Ok(())
}

/// Imports the simulated organisation as a customer would with `ward context import`.
fn import_demo_context(store: &dyn Store, dir: &Path) -> Result<()> {
    let options = IngestOptions::default();
    let mut total = 0;
    for path in demo::context_files(dir) {
        let file = std::fs::File::open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let source = Source::new(demo::source_name(dir, &path), std::io::BufReader::new(file));
        let summary = ward_pipeline::import_context(store, source, options.max_document_bytes)
            .with_context(|| format!("cannot import {}", path.display()))?;
        total += summary.total();
    }
    println!("demo: imported {total} context resources (staff, patients, encounters, care teams)");
    Ok(())
}
