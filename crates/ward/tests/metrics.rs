//! `/metrics` through `ward serve`: telemetry arrives over HTTP, and a scraper holding the
//! metrics token reads counters that a real Prometheus parser (Python's `prometheus_client`)
//! accepts and that equal what was ingested; without the token, or with the ingest token, the
//! answer is 401.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod common;

const INGEST_TOKEN: &str = "metrics-test-ingest-token";
const SCRAPE_TOKEN: &str = "metrics-test-scrape-token";

/// `ward serve` with an ingest token and a scrape token; the caller waits for the child.
fn serve(dir: &std::path::Path) -> (Child, SocketAddr) {
    let config = format!(
        "[listen.http]\nbind = \"127.0.0.1:0\"\ntoken_sha256 = [\"{}\"]\n\n\
         [metrics]\ntoken_sha256 = [\"{}\"]\n",
        ward_listen::http::token_hash(INGEST_TOKEN),
        ward_listen::http::token_hash(SCRAPE_TOKEN),
    );
    let (child, addresses, stdout) = common::serve(dir, &config, &["http"]);
    common::drain(stdout);
    (child, addresses[0])
}

/// One request on its own connection; the status and the body.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}\
         Content-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer[9..12].parse().unwrap();
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Parses the exposition text with `prometheus_client` and prints one JSON sample a line;
/// `None` (reason printed) when it is missing and `CI` is unset.
fn parse_with_prometheus_client(text: &str) -> Option<Vec<serde_json::Value>> {
    let script = "import sys, json\n\
        from prometheus_client.parser import text_string_to_metric_families as parse\n\
        for f in parse(sys.stdin.read()):\n    for s in f.samples:\n        \
        print(json.dumps({'family': f.name, 'type': f.type, 'name': s.name, 'labels': s.labels, 'value': float(s.value)}))\n";
    let missing = |why: String| {
        if std::env::var_os("CI").is_some() {
            panic!("{why} (CI is set: pip install prometheus-client)");
        }
        eprintln!("skipped the parser check: {why}");
        None
    };
    let mut child = match Command::new("python3")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return missing(format!("python3 cannot run: {e}")),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("No module named 'prometheus_client'") {
        return missing("prometheus_client is not installed".into());
    }
    assert!(
        output.status.success(),
        "the parser refused the text:\n{stderr}\n{text}"
    );
    Some(
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
    )
}

/// The value of the one sample in `text` named `name` with exactly `labels`.
fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
    let prefix = if labels.is_empty() {
        format!("{name} ")
    } else {
        format!("{name}{{{labels}}} ")
    };
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.parse().unwrap())
}

#[test]
fn metrics_count_what_was_ingested_and_need_the_scrape_token() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, http) = serve(dir.path());

    // Two posts on two connections (two sources, one sender), one unreadable line.
    let mut accepted = 0;
    let mut quarantined = 0;
    for batch in 0..2 {
        let mut lines = String::new();
        for i in 0..4 {
            lines.push_str(&format!(
                "Nov 29 03:1{batch}:{i:02} bastion sshd[4{batch}{i:02}]: Failed password for jdoe from 203.0.113.{batch} port 5{i:04} ssh2\n"
            ));
        }
        if batch == 1 {
            lines.push_str("\u{1}\u{2} not a log line at all\n");
        }
        let (status, body) = request(
            http,
            "POST",
            "/api/ingest?format=authlog",
            Some(INGEST_TOKEN),
            &lines,
        );
        assert_eq!(status, 200, "{body}");
        let receipt: serde_json::Value = serde_json::from_str(&body).unwrap();
        accepted += receipt["accepted"].as_u64().unwrap();
        quarantined += receipt["quarantined"].as_u64().unwrap();
    }
    assert_eq!((accepted, quarantined), (8, 1));

    assert_eq!(request(http, "GET", "/metrics", None, "").0, 401);
    assert_eq!(
        request(http, "GET", "/metrics", Some(INGEST_TOKEN), "").0,
        401,
        "the ingest token does not read metrics"
    );
    assert_eq!(request(http, "GET", "/metrics", Some("wrong"), "").0, 401);
    let (status, text) = request(http, "GET", "/metrics", Some(SCRAPE_TOKEN), "");
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
    assert_eq!(status, 200, "{text}");

    let source = r#"source="http-ingest://127.0.0.1""#;
    assert_eq!(
        sample(&text, "ward_source_events_total", source),
        Some(accepted as f64),
        "{text}"
    );
    assert_eq!(
        sample(&text, "ward_source_quarantined_total", source),
        Some(quarantined as f64),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "ward_build_info",
            &format!(r#"version="{}""#, env!("CARGO_PKG_VERSION"))
        ),
        Some(1.0)
    );
    assert!(sample(&text, "ward_store_size_bytes", "").unwrap() > 0.0);
    let lag = sample(&text, "ward_source_ingest_lag_seconds", source).unwrap();
    assert!(lag > 0.0, "the events are from the past: lag {lag}");
    assert_eq!(
        sample(
            &text,
            "ward_detector_events_total",
            r#"detector="credential""#
        ),
        Some(accepted as f64),
        "each detector saw each new event once:\n{text}"
    );

    let Some(samples) = parse_with_prometheus_client(&text) else {
        return;
    };
    let find = |name: &str| {
        samples
            .iter()
            .find(|s| s["name"] == name && s["labels"]["source"] == "http-ingest://127.0.0.1")
            .unwrap_or_else(|| panic!("{name} parsed"))
    };
    let events = find("ward_source_events_total");
    assert_eq!(events["type"], "counter");
    assert_eq!(events["family"], "ward_source_events");
    assert_eq!(events["value"], accepted as f64);
    assert_eq!(
        find("ward_source_quarantined_total")["value"],
        quarantined as f64
    );
    assert!(
        samples
            .iter()
            .any(|s| s["name"] == "process_start_time_seconds" && s["type"] == "gauge")
    );
}
