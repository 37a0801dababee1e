//! `GET /metrics` of `ward serve`: Ward's health in the Prometheus text exposition format
//! (version 0.0.4), for a scraper holding a bearer token (`[metrics] token_sha256`, the same
//! hashed-token scheme as `[listen.http]`, but its own tokens: a scraper cannot ingest).
//!
//! [`render`] is a pure function of a [`Snapshot`]; [`router`] gathers one per request on a
//! blocking thread. Labels carry feed names, channel names, severities and states, never
//! event contents. Sources are reported per feed (`kind://address` without the peer's port,
//! see `silence.rs`), so a sender reconnecting does not grow a new series each time.

use crate::silence;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError};
use ward_detect::DetectorTiming;
use ward_model::{AlertStatus, Severity, Timestamp};
use ward_store::{DeliveryState, SourceState, Store};

/// The exposition format's content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Everything one scrape reports.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub version: String,
    pub start_time: Timestamp,
    pub now: Timestamp,
    pub sources: Vec<SourceState>,
    pub alerts: Vec<(Severity, AlertStatus, u64)>,
    pub deliveries: Vec<(String, DeliveryState, u64)>,
    pub store_bytes: u64,
    pub detectors: Vec<(String, DetectorTiming)>,
    pub listeners: Vec<ward_listen::ListenerSnapshot>,
}

/// Writes the families of `snapshot` in the text format.
pub fn render(snapshot: &Snapshot) -> String {
    let mut out = String::new();
    family(
        &mut out,
        "ward_build_info",
        "gauge",
        "Ward's version; always 1.",
    );
    sample(
        &mut out,
        "ward_build_info",
        &[("version", &snapshot.version)],
        "1",
    );
    family(
        &mut out,
        "process_start_time_seconds",
        "gauge",
        "When ward serve started, in seconds since the Unix epoch.",
    );
    sample(
        &mut out,
        "process_start_time_seconds",
        &[],
        &seconds(snapshot.start_time.millis()),
    );

    let feeds = silence::feeds(&snapshot.sources);
    for (name, help, value) in [
        (
            "ward_source_events_total",
            "Events stored from a source (per sender, without its port).",
            (|f: &silence::Feed| f.events) as fn(&silence::Feed) -> u64,
        ),
        (
            "ward_source_quarantined_total",
            "Records of a source quarantined because they could not be decoded.",
            |f| f.quarantined,
        ),
    ] {
        family(&mut out, name, "counter", help);
        for feed in &feeds {
            sample(
                &mut out,
                name,
                &[("source", &feed.name)],
                &value(feed).to_string(),
            );
        }
    }
    family(
        &mut out,
        "ward_source_ingest_lag_seconds",
        "gauge",
        "Now minus the latest event time stored from a source.",
    );
    for feed in &feeds {
        if let Some(last) = feed.last_event_time {
            sample(
                &mut out,
                "ward_source_ingest_lag_seconds",
                &[("source", &feed.name)],
                &seconds(snapshot.now.millis() - last.millis()),
            );
        }
    }
    family(
        &mut out,
        "ward_source_last_commit_timestamp_seconds",
        "gauge",
        "When a source last committed anything, in seconds since the Unix epoch.",
    );
    for feed in &feeds {
        sample(
            &mut out,
            "ward_source_last_commit_timestamp_seconds",
            &[("source", &feed.name)],
            &seconds(feed.last_commit.millis()),
        );
    }

    family(
        &mut out,
        "ward_alerts",
        "gauge",
        "Stored alerts by severity and workflow status.",
    );
    for (severity, status, n) in &snapshot.alerts {
        sample(
            &mut out,
            "ward_alerts",
            &[("severity", severity.as_str()), ("status", status.as_str())],
            &n.to_string(),
        );
    }

    family(
        &mut out,
        "ward_notification_deliveries",
        "gauge",
        "Notification deliveries by channel and state (pending, delivered, abandoned).",
    );
    for (channel, state, n) in &snapshot.deliveries {
        sample(
            &mut out,
            "ward_notification_deliveries",
            &[("channel", channel), ("state", state.as_str())],
            &n.to_string(),
        );
    }

    family(
        &mut out,
        "ward_store_size_bytes",
        "gauge",
        "Size of the files in the data directory.",
    );
    sample(
        &mut out,
        "ward_store_size_bytes",
        &[],
        &snapshot.store_bytes.to_string(),
    );

    family(
        &mut out,
        "ward_detector_seconds_total",
        "counter",
        "Time a detector spent on events since start.",
    );
    for (name, timing) in &snapshot.detectors {
        sample(
            &mut out,
            "ward_detector_seconds_total",
            &[("detector", name)],
            &format!("{}", timing.nanos as f64 / 1e9),
        );
    }
    family(
        &mut out,
        "ward_detector_events_total",
        "counter",
        "Events a detector saw since start.",
    );
    for (name, timing) in &snapshot.detectors {
        sample(
            &mut out,
            "ward_detector_events_total",
            &[("detector", name)],
            &timing.events.to_string(),
        );
    }

    type Count = fn(&ward_listen::ListenerSnapshot) -> u64;
    let listener_families: [(&str, &str, &str, Count); 9] = [
        (
            "ward_listener_connections_accepted_total",
            "counter",
            "Connections a listener accepted.",
            |l| l.connections_accepted,
        ),
        (
            "ward_listener_connections_open",
            "gauge",
            "Connections open now.",
            |l| l.connections_open,
        ),
        (
            "ward_listener_connections_refused_total",
            "counter",
            "Connections closed at once at the connection limit.",
            |l| l.connections_refused,
        ),
        (
            "ward_listener_messages_received_total",
            "counter",
            "Messages a listener handed to the store.",
            |l| l.received,
        ),
        (
            "ward_listener_messages_stored_total",
            "counter",
            "Events newly stored from a listener's messages.",
            |l| l.stored,
        ),
        (
            "ward_listener_messages_quarantined_total",
            "counter",
            "A listener's messages quarantined (undecodable or over the size limit).",
            |l| l.quarantined,
        ),
        (
            "ward_listener_rate_limited_total",
            "counter",
            "Times a listener's per-peer rate limit slowed, dropped (UDP, counted) or refused (HTTP 429).",
            |l| l.rate_limited,
        ),
        (
            "ward_listener_busy_total",
            "counter",
            "HTTP requests answered 503 because every commit slot was taken.",
            |l| l.busy,
        ),
        (
            "ward_listener_commit_failures_total",
            "counter",
            "Commits of a listener's messages that failed in the store.",
            |l| l.failed_commits,
        ),
    ];
    for (name, kind, help, value) in listener_families {
        family(&mut out, name, kind, help);
        for l in &snapshot.listeners {
            sample(
                &mut out,
                name,
                &[("listener", l.facts.name)],
                &value(l).to_string(),
            );
        }
    }
    out
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let help = help.replace('\\', "\\\\").replace('\n', "\\n");
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: &str) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (label, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{label}=\"{}\"", escape_label(v));
        }
        out.push('}');
    }
    out.push(' ');
    out.push_str(value);
    out.push('\n');
}

/// Label values escape backslash, double quote and line feed, as the format says.
fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn seconds(millis: i64) -> String {
    format!("{}", millis as f64 / 1000.0)
}

/// What the route needs.
#[derive(Clone)]
pub struct MetricsState {
    pub store: Arc<dyn Store>,
    pub engine: ward_listen::SharedEngine,
    pub data_dir: PathBuf,
    pub start_time: Timestamp,
    /// SHA-256 of the scrapers' tokens.
    pub tokens: Arc<Vec<[u8; 32]>>,
    pub listeners: ward_listen::ListenerRegistry,
}

/// Parses the configured `token_sha256` entries; the error names the bad entry (1-based).
pub fn parse_tokens(hashes: &[String]) -> anyhow::Result<Vec<[u8; 32]>> {
    hashes
        .iter()
        .enumerate()
        .map(|(i, hex)| {
            ward_listen::http::parse_hash(hex).ok_or_else(|| {
                anyhow::Error::from(crate::commands::BadInput(format!(
                    "[metrics] token_sha256 entry {} is not 64 hexadecimal digits",
                    i + 1
                )))
            })
        })
        .collect()
}

/// `GET /metrics`, behind the bearer token.
pub fn router(state: MetricsState) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(state)
}

async fn scrape(State(state): State<MetricsState>, headers: HeaderMap) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if !presented.is_some_and(|t| ward_listen::http::token_is_valid(&state.tokens, t)) {
        let mut response = (
            StatusCode::UNAUTHORIZED,
            "a valid metrics token is required (Authorization: Bearer …)\n",
        )
            .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"ward-metrics\""),
        );
        return response;
    }
    match tokio::task::spawn_blocking(move || gather(&state)).await {
        Ok(Ok(snapshot)) => (
            [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
            render(&snapshot),
        )
            .into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "metrics could not be gathered");
            (StatusCode::SERVICE_UNAVAILABLE, "metrics unavailable\n").into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "metrics unavailable\n").into_response(),
    }
}

fn gather(state: &MetricsState) -> anyhow::Result<Snapshot> {
    let detectors = state
        .engine
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .detector_timings()
        .into_iter()
        .map(|(name, timing)| (name.to_string(), timing))
        .collect();
    Ok(Snapshot {
        version: env!("CARGO_PKG_VERSION").to_string(),
        start_time: state.start_time,
        now: Timestamp::now(),
        sources: state.store.sources()?,
        alerts: state.store.alert_counts()?,
        deliveries: state.store.deliveries().counts()?,
        store_bytes: dir_bytes(&state.data_dir),
        detectors,
        listeners: state.listeners.snapshot(),
    })
}

/// The sizes of the regular files directly in `dir` (the database, its log and key files).
fn dir_bytes(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        Snapshot {
            version: "0.1.0".into(),
            start_time: Timestamp(1_700_000_000_000),
            now: Timestamp(1_700_000_090_500),
            sources: vec![
                SourceState {
                    source: "syslog-tcp://10.0.0.5:4001".into(),
                    offset: 0,
                    events: 10,
                    quarantined: 1,
                    last_event_time: Some(Timestamp(1_700_000_060_000)),
                    updated_at: Timestamp(1_700_000_061_000),
                },
                SourceState {
                    source: "syslog-tcp://10.0.0.5:4002".into(),
                    offset: 0,
                    events: 5,
                    quarantined: 0,
                    last_event_time: Some(Timestamp(1_700_000_080_000)),
                    updated_at: Timestamp(1_700_000_081_000),
                },
                SourceState {
                    source: "C:\\logs\\\"odd\"\nname".into(),
                    offset: 0,
                    events: 2,
                    quarantined: 0,
                    last_event_time: None,
                    updated_at: Timestamp(1_700_000_000_000),
                },
            ],
            alerts: vec![
                (Severity::Medium, AlertStatus::Open, 3),
                (Severity::Critical, AlertStatus::Closed, 1),
            ],
            deliveries: vec![("soc".into(), DeliveryState::Abandoned, 2)],
            store_bytes: 4096,
            detectors: vec![(
                "sigma".into(),
                DetectorTiming {
                    nanos: 1_500_000,
                    events: 15,
                },
            )],
            listeners: {
                let registry = ward_listen::ListenerRegistry::new();
                let stats = registry.register(ward_listen::ListenerFacts::udp(
                    "syslog-udp",
                    std::net::SocketAddr::from(([0, 0, 0, 0], 514)),
                    65_535,
                    0.0,
                ));
                stats.received(7);
                stats.committed(6, 0, 1);
                stats.rate_limited(2);
                registry.snapshot()
            },
        }
    }

    #[test]
    fn renders_the_exposition_format() {
        let text = render(&snapshot());
        let expected = r#"# HELP ward_build_info Ward's version; always 1.
# TYPE ward_build_info gauge
ward_build_info{version="0.1.0"} 1
# HELP process_start_time_seconds When ward serve started, in seconds since the Unix epoch.
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1700000000
# HELP ward_source_events_total Events stored from a source (per sender, without its port).
# TYPE ward_source_events_total counter
ward_source_events_total{source="C:\\logs\\\"odd\"\nname"} 2
ward_source_events_total{source="syslog-tcp://10.0.0.5"} 15
# HELP ward_source_quarantined_total Records of a source quarantined because they could not be decoded.
# TYPE ward_source_quarantined_total counter
ward_source_quarantined_total{source="C:\\logs\\\"odd\"\nname"} 0
ward_source_quarantined_total{source="syslog-tcp://10.0.0.5"} 1
# HELP ward_source_ingest_lag_seconds Now minus the latest event time stored from a source.
# TYPE ward_source_ingest_lag_seconds gauge
ward_source_ingest_lag_seconds{source="syslog-tcp://10.0.0.5"} 10.5
"#;
        assert!(text.starts_with(expected), "golden start differs:\n{text}");
        for line in [
            "ward_source_last_commit_timestamp_seconds{source=\"syslog-tcp://10.0.0.5\"} 1700000081",
            "ward_alerts{severity=\"medium\",status=\"open\"} 3",
            "ward_alerts{severity=\"critical\",status=\"closed\"} 1",
            "ward_notification_deliveries{channel=\"soc\",state=\"abandoned\"} 2",
            "ward_store_size_bytes 4096",
            "ward_detector_seconds_total{detector=\"sigma\"} 0.0015",
            "ward_detector_events_total{detector=\"sigma\"} 15",
            "ward_listener_messages_received_total{listener=\"syslog-udp\"} 7",
            "ward_listener_messages_stored_total{listener=\"syslog-udp\"} 6",
            "ward_listener_messages_quarantined_total{listener=\"syslog-udp\"} 1",
            "ward_listener_rate_limited_total{listener=\"syslog-udp\"} 2",
            "ward_listener_connections_open{listener=\"syslog-udp\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}:\n{text}");
        }
        // Every sample line's family was announced, with HELP before TYPE.
        let mut announced = std::collections::HashSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                announced.insert(rest.split(' ').next().unwrap().to_string());
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap();
                assert!(announced.contains(name), "{name} has no TYPE line");
            }
        }
    }

    #[test]
    fn parses_with_the_prometheus_client_parser() {
        let text = render(&snapshot());
        let script = "import sys\nfrom prometheus_client.parser import text_string_to_metric_families as p\n\
            fams = list(p(sys.stdin.read()))\n\
            for f in fams:\n    for s in f.samples:\n        print(f.type, s.name, sorted(s.labels.items()), float(s.value))\n";
        let Some(out) = python(script, &text) else {
            return;
        };
        assert!(
            out.contains(
                "counter ward_source_events_total [('source', 'C:\\\\logs\\\\\"odd\"\\nname')] 2.0"
            ),
            "label escaping round-trips:\n{out}"
        );
        assert!(
            out.contains(
                "counter ward_source_events_total [('source', 'syslog-tcp://10.0.0.5')] 15.0"
            ),
            "{out}"
        );
        assert!(
            out.contains("gauge ward_source_ingest_lag_seconds"),
            "{out}"
        );
        assert!(
            out.contains("counter ward_detector_seconds_total [('detector', 'sigma')] 0.0015"),
            "{out}"
        );
        assert!(
            out.contains(
                "counter ward_listener_messages_received_total [('listener', 'syslog-udp')] 7.0"
            ),
            "{out}"
        );
    }

    /// Runs `script` with python3 and prometheus_client, `input` on stdin; `None` (with the
    /// reason printed) when either is missing and `CI` is unset; panics when `CI` is set.
    pub(crate) fn python(script: &str, input: &str) -> Option<String> {
        use std::io::Write as _;
        let child = std::process::Command::new("python3")
            .arg("-c")
            .arg(script)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn();
        let missing = |why: String| {
            if std::env::var_os("CI").is_some() {
                panic!("{why} (CI is set: pip install prometheus-client)");
            }
            eprintln!("skipped: {why}");
            None
        };
        let mut child = match child {
            Ok(c) => c,
            Err(e) => return missing(format!("python3 cannot run: {e}")),
        };
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("No module named 'prometheus_client'") {
            return missing("prometheus_client is not installed".into());
        }
        assert!(output.status.success(), "the parser refused:\n{stderr}");
        Some(String::from_utf8(output.stdout).unwrap())
    }
}
