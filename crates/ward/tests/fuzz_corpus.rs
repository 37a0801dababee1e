//! Replays the saved corpora of the fuzz targets that reach past the decoders
//! (`fuzz/corpus/{sigma,config,http_ingest}/`) through the same calls the targets make
//! (`fuzz/fuzz_targets/`), so every input a fuzzer found, or was seeded with, is checked on
//! every test run without a nightly compiler. The decoder and context corpora are replayed
//! by `crates/decode/tests/decode/fuzz_corpus.rs`. This binary is the one crate that links
//! the Sigma parser, the listeners and the configuration module together.

use axum::body::Body;
use axum::http::{Request, header};
use std::path::Path;
use std::sync::Arc;
use tower::ServiceExt;
use ward_detect::sigma::{Collection, SigmaDetector, compile, parse_rule};
use ward_listen::http::{HttpState, router, token_hash};
use ward_listen::{Committer, HttpConfig, StreamKind};

/// What `config.rs` needs from the binary's `commands` module: the usage-error type.
mod commands {
    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    pub struct BadInput(pub String);
}

#[allow(dead_code)]
#[path = "../src/config.rs"]
mod config;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    inputs.sort();
    let inputs: Vec<Vec<u8>> = inputs
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .collect();
    assert!(
        !inputs.is_empty(),
        "fuzz/corpus/{target} is empty or missing"
    );
    inputs
}

#[test]
fn the_sigma_fuzz_corpus_replays_without_a_panic() {
    let mut loaded = 0;
    for data in corpus("sigma") {
        let Ok(text) = std::str::from_utf8(&data) else {
            continue;
        };
        let _ = parse_rule(text).and_then(compile);
        let mut collection = Collection::new();
        if collection.add(text, "fuzz.yml").is_ok() && SigmaDetector::new(collection).is_ok() {
            loaded += 1;
        }
    }
    // The seeds are real rules (the shipped pack and SigmaHQ's): most of them load.
    assert!(loaded >= 50, "only {loaded} corpus rules loaded");
}

#[test]
fn the_config_fuzz_corpus_replays_without_a_panic() {
    let mut parsed = 0;
    for data in corpus("config") {
        let Ok(text) = std::str::from_utf8(&data) else {
            continue;
        };
        let Ok(config) = toml::from_str::<config::Config>(text) else {
            continue;
        };
        parsed += 1;
        let _ = config.detect.privacy.options();
        let listen = &config.listen;
        let _ = listen.syslog_udp.bind();
        let _ = listen.syslog_tcp.limits(StreamKind::SyslogTcp);
        let _ = listen.syslog_tls.limits(StreamKind::SyslogTls);
        let _ = listen.mllp.limits(StreamKind::Mllp);
        let _ = listen.mllp_tls.limits(StreamKind::MllpTls);
        let _ = listen.http.bind();
        let _ = listen.http.limits();
    }
    assert!(parsed > 0, "no configuration in the corpus parses");
}

const TOKEN: &str = "fuzz-token";
const ROUTES: [&str; 5] = [
    "/fhir/AuditEvent",
    "/fhir",
    "/api/ingest",
    "/readyz",
    "/healthz",
];
const CONTENT_TYPES: [&str; 4] = [
    "application/fhir+json",
    "application/json",
    "application/x-ndjson",
    "text/plain",
];

#[test]
fn the_http_ingest_fuzz_corpus_replays_with_an_answer_for_every_request() {
    let dir = tempfile::tempdir().unwrap();
    let store = ward_store::SqliteStore::open(dir.path()).unwrap();
    let config = HttpConfig {
        token_sha256: vec![token_hash(TOKEN)],
        max_body_bytes: Some(1 << 20),
        ..HttpConfig::default()
    };
    let state = HttpState::new(Committer::new(Arc::new(store), 4), &config).unwrap();
    let app = router(state);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut stored = 0;
    for data in corpus("http_ingest") {
        // The same decoding of the input as fuzz/fuzz_targets/http_ingest.rs.
        let Some((&pick, rest)) = data.split_first() else {
            continue;
        };
        let route = ROUTES[(pick & 0x07) as usize % ROUTES.len()];
        let content_type = CONTENT_TYPES[((pick >> 3) & 0x03) as usize];
        let authorised = pick & 0x20 == 0;
        let (uri, body) = if route == "/api/ingest" {
            let Some((&format, body)) = rest.split_first() else {
                continue;
            };
            let registry = ward_decode::registry();
            let uri = match format as usize % (registry.len() + 1) {
                0 => route.to_string(),
                n => format!("{route}?format={}", registry[n - 1].name()),
            };
            (uri, body)
        } else {
            (route.to_string(), rest)
        };
        let method = if route.ends_with('z') { "GET" } else { "POST" };
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::CONTENT_TYPE, content_type);
        if authorised {
            request = request.header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
        }
        let request = request.body(Body::from(body.to_vec())).unwrap();
        let response = runtime.block_on(app.clone().oneshot(request)).unwrap();
        let status = response.status();
        assert!(
            status.is_success() || status.is_client_error() || status.as_u16() == 503,
            "unexpected status {status} for {route}"
        );
        if status.is_success() && method == "POST" {
            stored += 1;
        }
    }
    assert!(stored > 0, "no corpus request was stored");
}
