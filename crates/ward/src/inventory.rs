//! `ward inventory`, `ward feeds` and `ward scan`: the technology inventory from the command
//! line. Each sub-command opens the store, calls `ward_inventory::stored` (or `ward_scan`),
//! and prints; what an asset is, how feeds match and how exposure is ranked live in
//! `crates/inventory` (docs/inventory.md).

use crate::commands::BadInput;
use crate::config::Config;
use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::Subcommand;
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use ward_inventory::stored;
use ward_inventory::{Asset, ExposureEntry};
use ward_model::Timestamp;
use ward_store::{SightingReview, Store};

#[derive(Debug, Subcommand)]
pub enum InventoryCommand {
    /// Import assets from CSV files (docs/inventory.md) or software from CycloneDX SBOMs
    /// (JSON); an asset already stored is updated, never erased.
    Import {
        #[arg(value_name = "PATH", required = true)]
        paths: Vec<PathBuf>,
        /// Attach an SBOM's software to this asset (the host it runs on) instead of storing
        /// the SBOM as an application of its own.
        #[arg(long, value_name = "ASSET")]
        asset: Option<String>,
    },
    /// Every asset: kind, zone, PHI, criticality, operating system.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One asset with its software and what the feeds say about it.
    Show {
        #[arg(value_name = "ID")]
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Outdated, end-of-life and known-exploited assets, most exposed first, each with the
    /// factors that rank it.
    Exposure {
        #[arg(long)]
        json: bool,
        /// Judge end of life as of this date (YYYY-MM-DD; default today).
        #[arg(long, value_name = "DATE")]
        as_of: Option<NaiveDate>,
    },
    /// Which systems holding PHI are encrypted at rest and in transit, and which are not.
    Encryption {
        #[arg(long)]
        json: bool,
    },
    /// Devices the telemetry shows that the inventory does not list, not yet reviewed
    /// (`--all`: every device seen, reviewed or not).
    Unknown {
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Decide about a device seen in the telemetry: add it to the inventory, or dismiss it.
    Review {
        /// The sighting's key, as `unknown` lists it (`ip:10.30.4.17`).
        #[arg(value_name = "KEY")]
        key: String,
        /// Add it as this asset id.
        #[arg(
            long,
            value_name = "ASSET",
            conflicts_with = "dismiss",
            required_unless_present = "dismiss"
        )]
        accept: Option<String>,
        /// Dismiss it, saying why.
        #[arg(long, value_name = "REASON")]
        dismiss: Option<String>,
        /// Who decided (default: the login running the command).
        #[arg(long)]
        by: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum FeedsCommand {
    /// Import feeds from files (CISA KEV JSON, endoflife.date product JSON, NVD CVE API 2.0
    /// JSON), or without --from download the configured ones.
    Update {
        /// A feed file; repeat for more. Nothing is downloaded when given.
        #[arg(long = "from", value_name = "FILE")]
        from: Vec<PathBuf>,
        /// The endoflife.date product of a legacy release list (`/api/PRODUCT.json`), which
        /// does not name its product itself (default: the file's name).
        #[arg(long, value_name = "NAME")]
        product: Option<String>,
    },
    /// The stored feeds: name, version, entries, when and where from.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ScanCommand {
    /// Scan the organisation's own TLS endpoints (the targets given, else `[inventory]
    /// scan_targets`): protocols, cipher suites, certificate, HSTS. Results are stored for
    /// the encryption coverage view.
    Tls {
        /// `host:port`; only endpoints listed here or in the configuration are touched.
        #[arg(value_name = "TARGET")]
        targets: Vec<String>,
        #[arg(long)]
        json: bool,
    },
}

fn now() -> Timestamp {
    Timestamp::now()
}

fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

pub fn run(config: &Config, data_dir: &Path, command: InventoryCommand) -> Result<ExitCode> {
    let store = crate::keys::open_store(config, data_dir)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match command {
        InventoryCommand::Import { paths, asset } => {
            for path in &paths {
                let bytes = std::fs::read(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let imported = import_file(&store, path, bytes, asset.as_deref())?;
                writeln!(
                    out,
                    "{}: {} asset(s) added, {} updated",
                    path.display(),
                    imported.added,
                    imported.updated
                )?;
            }
        }
        InventoryCommand::List { json } => {
            for asset in stored::load_assets(&store)? {
                if json {
                    writeln!(out, "{}", serde_json::to_string(&asset)?)?;
                } else {
                    writeln!(
                        out,
                        "{:<32} {:<16} {:<20} {:<3} {:<22} {}",
                        asset.id,
                        asset.kind.as_str(),
                        asset.zone,
                        if asset.phi.any() { "PHI" } else { "" },
                        asset.criticality.as_str(),
                        asset.os.as_ref().map(|s| s.label()).unwrap_or_default()
                    )?;
                }
            }
        }
        InventoryCommand::Show { id, json } => {
            let Some(asset) = stored::load_asset(&store, &id)? else {
                return Err(BadInput(format!("there is no asset {id}")).into());
            };
            let feeds = stored::load_feeds(&store)?;
            let findings = ward_inventory::findings_for(&asset, &feeds.feeds(), today());
            if json {
                writeln!(out, "{}", json!({"asset": asset, "findings": findings}))?;
            } else {
                print_asset(&mut out, &asset)?;
                for f in &findings {
                    writeln!(out, "  finding  {:?} {}: {}", f.kind, f.id, f.reason)?;
                }
            }
        }
        InventoryCommand::Exposure { json, as_of } => {
            let entries = exposure(config, &store, as_of.unwrap_or_else(today))?;
            for entry in &entries {
                if json {
                    writeln!(out, "{}", serde_json::to_string(entry)?)?;
                } else {
                    print_exposure(&mut out, entry)?;
                }
            }
            if !json && entries.is_empty() {
                writeln!(
                    out,
                    "no asset has a finding (assets: {}, feeds: {})",
                    store.inventory().list_assets()?.len(),
                    store.inventory().feeds()?.len()
                )?;
            }
        }
        InventoryCommand::Encryption { json } => {
            let assets = stored::load_assets(&store)?;
            let rows = stored::encryption_coverage(&assets, &store.inventory().scans()?);
            for row in &rows {
                if json {
                    writeln!(out, "{}", serde_json::to_string(row)?)?;
                } else {
                    let word = |v: Option<bool>| match v {
                        Some(true) => "yes",
                        Some(false) => "NO",
                        None => "unknown",
                    };
                    writeln!(
                        out,
                        "{:<32} at rest: {:<8} in transit: {:<8} {}",
                        row.asset_id,
                        word(row.at_rest),
                        word(row.in_transit),
                        row.gaps.join("; ")
                    )?;
                }
            }
        }
        InventoryCommand::Unknown { all, json } => {
            let assets = stored::load_assets(&store)?;
            let list = if all {
                store.inventory().sightings(false)?
            } else {
                stored::unknown_devices(&store, &assets)?
            };
            for s in &list {
                if json {
                    writeln!(
                        out,
                        "{}",
                        json!({
                            "key": s.key, "address": s.address, "hostname": s.hostname,
                            "mac": s.mac, "first_seen": s.first_seen, "last_seen": s.last_seen,
                            "events": s.events, "sources": s.sources, "services": s.services,
                            "review": s.review.as_str(),
                        })
                    )?;
                } else {
                    writeln!(
                        out,
                        "{:<28} {:<28} {:<10} seen {}..{} in {} event(s) from {} {}",
                        s.key,
                        s.hostname.as_deref().unwrap_or("-"),
                        s.review.as_str(),
                        s.first_seen,
                        s.last_seen,
                        s.events,
                        s.sources.join(","),
                        s.services.join(",")
                    )?;
                }
            }
        }
        InventoryCommand::Review {
            key,
            accept,
            dismiss,
            by,
        } => {
            let by = by
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "cli".into());
            let done = match (accept, dismiss) {
                (Some(asset), _) => stored::accept_sighting(&store, &key, &asset, &by, now())?,
                (None, Some(reason)) => store.inventory().review_sighting(
                    &key,
                    &SightingReview::Dismissed { reason },
                    &by,
                    now(),
                )?,
                (None, None) => {
                    return Err(BadInput("say --accept ASSET or --dismiss REASON".into()).into());
                }
            };
            if !done {
                return Err(BadInput(format!("no device {key} has been seen")).into());
            }
            writeln!(out, "{key}: reviewed")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn import_file(
    store: &dyn Store,
    path: &Path,
    bytes: Vec<u8>,
    onto: Option<&str>,
) -> Result<stored::Imported> {
    let bad = |e: &dyn std::fmt::Display| BadInput(format!("{}: {e}", path.display()));
    let stem = path
        .file_stem()
        .map_or("sbom".into(), |s| s.to_string_lossy().into_owned());
    match ward_inventory::detect_feed(&bytes) {
        ward_inventory::FeedKind::CycloneDx => {
            stored::import_sbom(store, &bytes, onto, &stem, now()).map_err(|e| match e {
                stored::StoredError::Input(e) => bad(&e).into(),
                e => anyhow::Error::from(e),
            })
        }
        ward_inventory::FeedKind::Unknown => {
            if onto.is_some() {
                return Err(bad(&"--asset applies to CycloneDX SBOMs only").into());
            }
            let text = std::str::from_utf8(&bytes)
                .map_err(|_| bad(&"neither a CycloneDX JSON SBOM nor a UTF-8 CSV file"))?;
            let assets = ward_inventory::parse_assets(text).map_err(|e| bad(&e))?;
            Ok(stored::save_assets(store, assets, now())?)
        }
        _ => Err(bad(
            &"this is a feed, not an asset list: import it with `ward feeds update --from`",
        )
        .into()),
    }
}

fn print_asset(out: &mut impl Write, asset: &Asset) -> Result<()> {
    let word = |v: Option<bool>| match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    };
    writeln!(out, "{} ({})", asset.id, asset.kind.as_str())?;
    writeln!(out, "  name          {}", asset.name)?;
    writeln!(out, "  zone          {}", asset.zone)?;
    writeln!(
        out,
        "  addresses     {}",
        asset
            .addresses
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    writeln!(out, "  owner         {}", asset.owner)?;
    writeln!(out, "  location      {}", asset.location)?;
    writeln!(out, "  vendor        {}", asset.vendor)?;
    writeln!(
        out,
        "  PHI           stores {} · processes {} · transmits {}",
        asset.phi.stores, asset.phi.processes, asset.phi.transmits
    )?;
    writeln!(out, "  criticality   {}", asset.criticality.as_str())?;
    writeln!(
        out,
        "  MFA {} · encrypted at rest {} · in transit {}",
        word(asset.mfa),
        word(asset.encrypted_at_rest),
        word(asset.encrypted_in_transit)
    )?;
    for software in asset.all_software() {
        writeln!(out, "  software      {}", software.label())?;
    }
    Ok(())
}

fn print_exposure(out: &mut impl Write, entry: &ExposureEntry) -> Result<()> {
    writeln!(out, "{:>4}  {}", entry.score, entry.asset_id)?;
    for factor in &entry.factors {
        writeln!(out, "      {:+4} {}", factor.points, factor.detail)?;
    }
    Ok(())
}

/// The exposure list as of `as_of`, with reachability from the zones and observed flows.
pub fn exposure(
    config: &Config,
    store: &dyn Store,
    as_of: NaiveDate,
) -> Result<Vec<ExposureEntry>> {
    let assets = stored::load_assets(store)?;
    let feeds = stored::load_feeds(store)?;
    let reach = crate::reach::load(config, store)?;
    Ok(stored::exposure(&assets, &feeds, as_of, &|asset| {
        reach.of(asset)
    }))
}

pub fn feeds(config: &Config, data_dir: &Path, command: FeedsCommand) -> Result<ExitCode> {
    let store = crate::keys::open_store(config, data_dir)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match command {
        FeedsCommand::Update { from, product } => {
            if from.is_empty() {
                return download(config, &store, &mut out);
            }
            for path in &from {
                let bytes = std::fs::read(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let stem = path
                    .file_stem()
                    .map_or("feed".into(), |s| s.to_string_lossy().into_owned());
                let product = product.clone().unwrap_or_else(|| stem.clone());
                let summary = stored::import_feed(
                    &store,
                    bytes,
                    &path.display().to_string(),
                    Some(&product),
                    &stem,
                    now(),
                )
                .map_err(input_error)?;
                print_feed(&mut out, &summary)?;
            }
        }
        FeedsCommand::List { json } => {
            for feed in store.inventory().feeds()? {
                if json {
                    writeln!(
                        out,
                        "{}",
                        json!({
                            "name": feed.name, "kind": feed.kind, "version": feed.version,
                            "entries": feed.entries, "origin": feed.origin,
                            "imported_at": feed.imported_at, "sha256": feed.sha256,
                        })
                    )?;
                } else {
                    writeln!(
                        out,
                        "{:<28} {:<10} {:<12} {:>7} entries  imported {} from {}",
                        feed.name,
                        feed.kind,
                        feed.version,
                        feed.entries,
                        feed.imported_at,
                        feed.origin
                    )?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn input_error(e: stored::StoredError) -> anyhow::Error {
    match e {
        stored::StoredError::Input(message) => BadInput(message).into(),
        e => e.into(),
    }
}

fn print_feed(out: &mut impl Write, summary: &stored::FeedSummary) -> Result<()> {
    writeln!(
        out,
        "{}: {} {} entries{}",
        summary.name,
        summary.entries,
        summary.kind,
        if summary.version.is_empty() {
            String::new()
        } else {
            format!(" (version {})", summary.version)
        }
    )?;
    Ok(())
}

const KEV_URL: &str =
    "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json";
const ENDOFLIFE_URL: &str = "https://endoflife.date/api/v1/products/{product}";
/// What hospitals commonly run, for a first download before any product was imported.
const COMMON_PRODUCTS: &[&str] = &[
    "windows",
    "windows-server",
    "ubuntu",
    "debian",
    "rhel",
    "openssl",
    "python",
    "nodejs",
    "postgresql",
    "mssqlserver",
    "java",
    "apache-http-server",
    "nginx",
];
/// The most a feed download may be (NVD and KEV are a few MB).
const MAX_FEED_BYTES: usize = 256 << 20;

/// Downloads the KEV catalogue and the endoflife.date products, and imports each; a failed
/// download is reported and the others carry on (exit 1 when any failed).
fn download(config: &Config, store: &dyn Store, out: &mut impl Write) -> Result<ExitCode> {
    let settings = &config.inventory;
    let tls =
        ward_notify::send::tls_client(settings.feeds_ca_file.as_deref(), "inventory.feeds_ca_file")
            .map_err(|e| BadInput(e.to_string()))?;
    let mut products = settings.endoflife_products.clone();
    if products.is_empty() {
        products = store
            .inventory()
            .feeds()?
            .into_iter()
            .filter_map(|f| f.name.strip_prefix("eol:").map(str::to_string))
            .collect();
    }
    if products.is_empty() {
        products = COMMON_PRODUCTS.iter().map(|s| s.to_string()).collect();
    }
    let mut wanted = vec![(
        settings.kev_url.clone().unwrap_or_else(|| KEV_URL.into()),
        None,
    )];
    let template = settings
        .endoflife_url
        .clone()
        .unwrap_or_else(|| ENDOFLIFE_URL.into());
    for product in products {
        wanted.push((template.replace("{product}", &product), Some(product)));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut failed = 0;
    for (url, product) in wanted {
        match runtime.block_on(fetch(&url, tls.clone())) {
            Ok(bytes) => {
                let label = product.clone().unwrap_or_else(|| "download".into());
                match stored::import_feed(store, bytes, &url, product.as_deref(), &label, now()) {
                    Ok(summary) => print_feed(out, &summary)?,
                    Err(e) => {
                        failed += 1;
                        // The error names the URL it came from.
                        eprintln!("ward: {e}");
                    }
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("ward: {url}: {e:#}");
            }
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// GETs `url`, following up to five redirects.
async fn fetch(url: &str, tls: std::sync::Arc<rustls::ClientConfig>) -> Result<Vec<u8>> {
    let mut url = url.to_string();
    for _ in 0..=5 {
        let target = ward_notify::send::http::HttpTarget::new(&url, tls.clone())
            .ok_or_else(|| BadInput(format!("{url} is not an http(s) URL")))?;
        let answer = target.get(MAX_FEED_BYTES).await?;
        match answer.status {
            200 if answer.truncated => {
                anyhow::bail!("the answer is larger than {} MiB", MAX_FEED_BYTES >> 20)
            }
            200 => return Ok(answer.body),
            301 | 302 | 303 | 307 | 308 => {
                let Some(location) = answer.location else {
                    anyhow::bail!("HTTP {} without a Location", answer.status);
                };
                url = if location.starts_with("http://") || location.starts_with("https://") {
                    location
                } else {
                    let (scheme, rest) = url.split_once("://").unwrap_or(("https", &url));
                    let host = rest.split('/').next().unwrap_or(rest);
                    format!("{scheme}://{host}/{}", location.trim_start_matches('/'))
                };
            }
            status => anyhow::bail!("HTTP {status}"),
        }
    }
    anyhow::bail!("too many redirects")
}

pub fn scan(config: &Config, data_dir: &Path, command: ScanCommand) -> Result<ExitCode> {
    let ScanCommand::Tls { targets, json } = command;
    let store = crate::keys::open_store(config, data_dir)?;
    let targets = if targets.is_empty() {
        config.inventory.scan_targets.clone()
    } else {
        targets
    };
    if targets.is_empty() {
        return Err(BadInput(
            "no target: name them (`ward scan tls host:443`) or list them under [inventory] scan_targets"
                .into(),
        )
        .into());
    }
    let reports = scan_targets(config, &store, &targets)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for report in &reports {
        if json {
            writeln!(out, "{}", serde_json::to_string(report)?)?;
        } else {
            writeln!(
                out,
                "{}  grade {}",
                report.target,
                report.grade.map_or("-".to_string(), |g| format!("{g:?}"))
            )?;
            for f in &report.findings {
                writeln!(out, "    {:?} {} {}", f.severity, f.code, f.message)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Scans `targets` one after the other and stores each report.
pub fn scan_targets(
    config: &Config,
    store: &dyn Store,
    targets: &[String],
) -> Result<Vec<ward_scan::TlsReport>> {
    let parsed = targets
        .iter()
        .map(|t| {
            t.parse::<ward_scan::Target>()
                .map_err(|e| BadInput(format!("scan target {t}: {e}")).into())
        })
        .collect::<Result<Vec<_>>>()?;
    let mut options = ward_scan::ScanOptions::new(chrono::Utc::now());
    if let Some(path) = &config.inventory.scan_ca_file {
        options.extra_roots = ward_notify::send::read_pem_certs(path, "inventory.scan_ca_file")
            .map_err(|e| BadInput(e.to_string()))?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut reports = Vec::new();
    for target in &parsed {
        let report = runtime.block_on(ward_scan::scan(target, &options));
        store_scan(store, &report)?;
        reports.push(report);
    }
    Ok(reports)
}

pub fn store_scan(store: &dyn Store, report: &ward_scan::TlsReport) -> Result<()> {
    store.inventory().put_scan(&ward_store::ScanRecord {
        target: report.target.clone(),
        scanned_at: Timestamp(report.scanned_at.timestamp_millis()),
        grade: report.grade.map_or("-".to_string(), |g| format!("{g:?}")),
        body: serde_json::to_string(report)?,
    })?;
    Ok(())
}

/// `ward serve`: rescans `[inventory] scan_targets` every `scan_every_hours` (the first scan
/// one minute after start), storing each report.
pub async fn scan_loop(
    schedule: ScanSchedule,
    store: std::sync::Arc<dyn Store>,
    mut shutdown: ward_listen::Shutdown,
) {
    let ScanSchedule {
        targets,
        extra_roots,
        every,
    } = schedule;
    let start = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut tick = tokio::time::interval_at(start, every);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait() => break,
        }
        let mut options = ward_scan::ScanOptions::new(chrono::Utc::now());
        options.extra_roots = extra_roots.clone();
        for target in &targets {
            let report = tokio::select! {
                report = ward_scan::scan(target, &options) => report,
                _ = shutdown.wait() => return,
            };
            let store = store.clone();
            let stored =
                tokio::task::spawn_blocking(move || store_scan(store.as_ref(), &report)).await;
            if let Ok(Err(e)) | Err(e) = stored.map_err(anyhow::Error::from) {
                tracing::warn!(target = %target, error = %e, "TLS scan: storing the report failed");
            }
        }
    }
}

/// What `ward serve` scans, with what, how often.
pub struct ScanSchedule {
    pub targets: Vec<ward_scan::Target>,
    pub extra_roots: Vec<rustls_pki_types::CertificateDer<'static>>,
    pub every: std::time::Duration,
}

/// The scan targets and trusted CA of the configuration, checked before `serve` starts.
pub fn scan_settings(config: &Config) -> Result<Option<ScanSchedule>> {
    let settings = &config.inventory;
    let hours = settings.scan_every_hours.unwrap_or(0);
    if hours == 0 || settings.scan_targets.is_empty() {
        return Ok(None);
    }
    let targets = settings
        .scan_targets
        .iter()
        .map(|t| {
            t.parse::<ward_scan::Target>()
                .map_err(|e| BadInput(format!("[inventory] scan_targets {t}: {e}")).into())
        })
        .collect::<Result<Vec<_>>>()?;
    let roots = match &settings.scan_ca_file {
        Some(path) => ward_notify::send::read_pem_certs(path, "inventory.scan_ca_file")
            .map_err(|e| BadInput(e.to_string()))?,
        None => Vec::new(),
    };
    Ok(Some(ScanSchedule {
        targets,
        extra_roots: roots,
        every: std::time::Duration::from_secs(hours.saturating_mul(3600)),
    }))
}
