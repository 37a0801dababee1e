//! The HTTP ingest surface (`ward_listen::http::router`) driven in process with
//! `tower::ServiceExt::oneshot`, on a real SQLite store in a temporary directory (on
//! `/dev/shm` when it exists, so commits do not wait for a disk). The first byte picks the
//! route, the content type and whether the bearer token is valid; for `/api/ingest` the
//! second picks the `format` parameter; the rest is the body. Every request must get an
//! answer (2xx or a 4xx/5xx `OperationOutcome`), never a panic, and only 2xx or 4xx
//! unless the store is overloaded.
#![no_main]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, Mutex};
use tower::ServiceExt;
use ward_listen::http::{HttpState, router, token_hash};
use ward_listen::{Committer, HttpConfig};

const TOKEN: &str = "fuzz-token";

struct Harness {
    runtime: tokio::runtime::Runtime,
    router: Router,
    _dir: tempfile::TempDir,
}

/// Requests served by one store before it is replaced by a fresh one: every accepted request
/// adds to the store, which lives in memory (`/dev/shm`), about 4.5 GB a million executions;
/// one store for a whole campaign filled the machine's memory after 3.7 million.
const REQUESTS_PER_STORE: u32 = 200_000;

fn harness() -> Harness {
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let store = ward_store::SqliteStore::open(dir.path()).unwrap();
    let config = HttpConfig {
        token_sha256: vec![token_hash(TOKEN)],
        max_body_bytes: Some(1 << 20),
        ..HttpConfig::default()
    };
    let state = HttpState::new(Committer::new(Arc::new(store), 4), &config).unwrap();
    Harness {
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
        router: router(state),
        _dir: dir,
    }
}

/// The harness and how many requests its store has served.
static HARNESS: Mutex<Option<(Harness, u32)>> = Mutex::new(None);

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

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let mut slot = HARNESS.lock().unwrap_or_else(|e| e.into_inner());
    if slot
        .as_ref()
        .is_none_or(|(_, served)| *served >= REQUESTS_PER_STORE)
    {
        // The old store (and its directory) goes before the new one is made.
        *slot = None;
        *slot = Some((harness(), 0));
    }
    let Some((h, served)) = slot.as_mut() else {
        return;
    };
    *served += 1;
    let route = ROUTES[(pick & 0x07) as usize % ROUTES.len()];
    let content_type = CONTENT_TYPES[((pick >> 3) & 0x03) as usize];
    let authorised = pick & 0x20 == 0;
    let (uri, body) = if route == "/api/ingest" {
        let Some((&format, body)) = rest.split_first() else {
            return;
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
    let method = if route.ends_with("z") { "GET" } else { "POST" };
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, content_type);
    if authorised {
        request = request.header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
    }
    let request = request.body(Body::from(body.to_vec())).unwrap();
    let response = h
        .runtime
        .block_on(h.router.clone().oneshot(request))
        .expect("the router is infallible");
    let status = response.status();
    assert!(
        status.is_success() || status.is_client_error() || status.as_u16() == 503,
        "unexpected status {status} for {route}"
    );
});
