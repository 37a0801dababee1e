//! Server time of the overview and alert-list pages over a store with many events.
//!
//! `cargo run --release -p ward-console --example page_bench -- [EVENTS] [ALERTS]`
//! (defaults: 1,000,000 events, 2,000 alerts). Fills a temporary store, signs a security
//! analyst in with a session made in the store, then renders each page many times through the
//! router (no network) and prints the median and 95th percentile.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;
use ward_console::{ConsoleOptions, ConsoleState, create_demo_users};
use ward_model::event::class;
use ward_model::{Alert, AlertEntities, AlertStatus, Event, EventId, Severity, Timestamp};
use ward_store::{Batch, SessionRecord, SessionStage, SqliteStore, Store};

const BATCH: usize = 5_000;
const RUNS: usize = 50;

fn main() {
    let mut args = std::env::args().skip(1);
    let events: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let alerts: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = Arc::new(SqliteStore::open(dir.path()).expect("the store opens"));
    let now = Timestamp::now().millis();
    let start = now - 7 * 86_400_000;
    let step = (7 * 86_400_000 / events.max(1) as i64).max(1);

    let filling = Instant::now();
    let sources = [
        "ehr-audit",
        "pacs-atna",
        "auth.log",
        "windows",
        "zeek-conn",
        "m365",
    ];
    let mut ids: Vec<EventId> = Vec::new();
    for chunk in 0..events.div_ceil(BATCH) {
        let batch: Vec<Event> = (chunk * BATCH..((chunk + 1) * BATCH).min(events))
            .map(|n| {
                let time = Timestamp(start + n as i64 * step);
                let raw = format!(r#"{{"resourceType":"AuditEvent","id":"ae{n}"}}"#);
                let mut e = Event::from_record("fhir", time, raw.into_bytes());
                e.class_uid = class::API_ACTIVITY;
                e.activity_id = 2;
                e.metadata.log_name = sources[n % sources.len()].into();
                e.actor.user.name = Some(format!("user{}", n % 3_000));
                e.patient.id = Some(format!("pt{:06}", n % 100_000));
                e.src_endpoint.ip = Some(format!("10.0.{}.{}", n % 200, n % 250));
                e
            })
            .collect();
        if ids.len() < alerts * 3 {
            ids.extend(batch.iter().take(alerts * 3 - ids.len()).map(|e| e.id));
        }
        store
            .commit(&Batch {
                events: batch,
                ..Default::default()
            })
            .expect("commit");
    }
    let severities = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];
    for n in 0..alerts {
        let alert = Alert {
            id: format!("alert-{n:05}"),
            rule_id: format!("ward.rule.{}", n % 24),
            title: format!("Planted incident kind {}", n % 24),
            severity: severities[n % severities.len()],
            first_seen: Timestamp(now - (n as i64 % 14) * 86_400_000),
            last_seen: Timestamp(now - (n as i64 % 7) * 3_600_000),
            count: (n % 17 + 1) as u64,
            entities: AlertEntities {
                user: Some(format!("user{}", n % 3_000)),
                patient: Some(format!("pt{:06}", n % 100_000)),
                src_ip: Some(format!("10.0.{}.{}", n % 200, n % 250)),
                ..Default::default()
            },
            attack: vec!["T1078".into()],
            hipaa: vec!["164.312(b)".into()],
            status: if n % 5 == 0 {
                AlertStatus::Acknowledged
            } else {
                AlertStatus::Open
            },
            author: None,
            license: None,
            references: vec![],
            description: None,
        };
        let linked = &ids[(n * 3).min(ids.len())..(n * 3 + 3).min(ids.len())];
        store.upsert_alert(&alert, linked).expect("alert");
    }
    eprintln!(
        "filled {events} events and {alerts} alerts in {:.1} s",
        filling.elapsed().as_secs_f64()
    );

    create_demo_users(store.as_ref()).expect("demo users");
    let token = "b".repeat(64);
    let hash: [u8; 32] = {
        use sha2::Digest;
        sha2::Sha256::digest(token.as_bytes()).into()
    };
    store
        .accounts()
        .create_session(&SessionRecord {
            token_sha256: hash,
            user: "analyst".into(),
            stage: SessionStage::Full,
            created_at: Timestamp::now(),
            last_seen: Timestamp::now(),
            ip: None,
        })
        .expect("session");
    let router = ward_console::router(ConsoleState::new(store.clone(), ConsoleOptions::default()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        for path in [
            "/overview",
            "/alerts",
            "/alerts?status=all&sort=severity",
            "/investigate?user=user42",
        ] {
            let mut times: Vec<Duration> = Vec::with_capacity(RUNS);
            let mut bytes = 0;
            for _ in 0..RUNS {
                let request = Request::get(path)
                    .header(header::COOKIE, format!("__Host-ward_session={token}"))
                    .body(Body::empty())
                    .expect("request");
                let began = Instant::now();
                let response = router.clone().oneshot(request).await.expect("answer");
                assert_eq!(response.status(), StatusCode::OK, "{path}");
                let body = response
                    .into_body()
                    .collect()
                    .await
                    .expect("body")
                    .to_bytes();
                times.push(began.elapsed());
                bytes = body.len();
            }
            times.sort();
            println!(
                "{path:<40} median {:>7.1} ms   p95 {:>7.1} ms   {bytes} bytes",
                times[RUNS / 2].as_secs_f64() * 1000.0,
                times[RUNS * 95 / 100].as_secs_f64() * 1000.0,
            );
        }
    });
}
