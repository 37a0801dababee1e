//! FHIR and bulk ingest over HTTP (axum): `POST /fhir/AuditEvent` (one resource),
//! `POST /fhir` (a `batch` or `transaction` Bundle), `POST /api/ingest?format=NAME` (NDJSON or
//! raw lines in any format Ward reads), and `GET /healthz`, `GET /readyz`. [`router`] is the
//! whole surface, so the console can merge it into its own router.
//!
//! Ingest routes need `Authorization: Bearer <token>`; the configuration holds only SHA-256
//! hashes of tokens, compared in constant time. Every answer is given after the commit
//! returned. Errors are FHIR `OperationOutcome`s that say what was wrong with the request,
//! never what it contained: 400 invalid, 401 no valid token, 408 body too slow, 413 too large,
//! 415 wrong content type, 429 peer over its rate and 503 overloaded (both with
//! `Retry-After`).

use crate::commit::{CommitError, Committer};
use crate::config::{HttpConfig, HttpLimits};
use crate::limits::PeerRate;
use crate::{ListenError, Shutdown};
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt as _;
use ward_decode::{Decoder, Framing};
use ward_model::{EventId, Position};
use ward_pipeline::{NetRecord, RecordOutcome, RecordsReceipt, ingest_records};

const FHIR_JSON: &str = "application/fhir+json";

/// What the HTTP routes share.
#[derive(Clone)]
pub struct HttpState {
    committer: Committer,
    tokens: Arc<Vec<[u8; 32]>>,
    limits: Arc<HttpLimits>,
    requests: Arc<Semaphore>,
    rate: Arc<PeerRate>,
}

impl HttpState {
    pub fn new(committer: Committer, config: &HttpConfig) -> Result<Self, ListenError> {
        let tokens = config
            .token_sha256
            .iter()
            .enumerate()
            .map(|(i, hex)| parse_hash(hex).ok_or(ListenError::BadTokenHash(i + 1)))
            .collect::<Result<Vec<_>, _>>()?;
        if tokens.is_empty() {
            tracing::warn!(
                listener = "http",
                "no [listen.http] token_sha256: every ingest request will be refused"
            );
        }
        let limits = config.limits();
        Ok(HttpState {
            committer,
            tokens: Arc::new(tokens),
            requests: Arc::new(Semaphore::new(limits.max_concurrent_requests)),
            rate: Arc::new(PeerRate::new(limits.rate_per_peer)),
            limits: Arc::new(limits),
        })
    }
}

/// A `token_sha256` entry (64 hexadecimal digits) as bytes.
pub fn parse_hash(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// SHA-256 of `token` as hex, for writing `token_sha256` entries.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compares the token's hash with every configured hash without stopping at a match, so the
/// time taken says nothing about which bytes matched.
pub fn token_is_valid(tokens: &[[u8; 32]], presented: &str) -> bool {
    let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
    let mut found = 0u8;
    for hash in tokens {
        let diff = hash
            .iter()
            .zip(digest.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        found |= u8::from(diff == 0);
    }
    std::hint::black_box(found) == 1
}

/// Ward's HTTP routes: ingest (authenticated) and health.
pub fn router(state: HttpState) -> Router {
    let ingest = Router::new()
        .route("/fhir/AuditEvent", post(post_audit_event))
        .route("/fhir", post(post_bundle))
        .route("/api/ingest", post(post_ingest))
        .route_layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state.clone());
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(state)
        .merge(ingest)
}

/// An error answer: an `OperationOutcome` with an issue code, and `Retry-After` when the
/// client should come back later.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    diagnostics: String,
    retry_after: Option<Duration>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, diagnostics: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            diagnostics: diagnostics.into(),
            retry_after: None,
        }
    }

    fn invalid(diagnostics: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid", diagnostics)
    }

    fn busy(status: StatusCode, after: Duration) -> Self {
        ApiError {
            retry_after: Some(after),
            ..ApiError::new(status, "throttled", "too many requests: retry later")
        }
    }

    fn store(e: CommitError) -> Self {
        tracing::error!(listener = "http", error = %e, "commit failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "exception",
            "the store failed: nothing was accepted, retry later",
        )
    }
}

fn operation_outcome(severity: &str, code: &str, diagnostics: &str) -> Value {
    json!({
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}]
    })
}

fn fhir_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = fhir_response(
            self.status,
            &operation_outcome("error", self.code, &self.diagnostics),
        );
        if let Some(after) = self.retry_after {
            let secs = after.as_secs_f64().ceil().max(1.0) as u64;
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The peer address, when the server was started with [`PeerAddr`] connect info.
fn peer(request: &Request) -> Option<SocketAddr> {
    request
        .extensions()
        .get::<ConnectInfo<PeerAddr>>()
        .map(|c| c.0.0)
}

/// Authentication, per-peer rate, and the concurrency limit, in that order.
async fn guard(State(state): State<HttpState>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if !presented.is_some_and(|t| token_is_valid(&state.tokens, t)) {
        tracing::info!(listener = "http", peer = ?peer(&request), "refused: no valid API token");
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "login",
            "a valid API token is required (Authorization: Bearer …)",
        )
        .into_response();
    }
    if let Some(addr) = peer(&request)
        && let Err(after) = state.rate.try_take(addr.ip())
    {
        state.committer.stats().rate_limited(1);
        return ApiError::busy(StatusCode::TOO_MANY_REQUESTS, after).into_response();
    }
    let Ok(_permit) = state.requests.clone().try_acquire_owned() else {
        state.committer.stats().busy();
        tracing::info!(listener = "http", "overloaded: 503");
        return ApiError::busy(StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(1))
            .into_response();
    };
    next.run(request).await
}

fn check_content_type(headers: &HeaderMap, allowed: &[&str]) -> Result<(), ApiError> {
    let value = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if allowed.contains(&essence.as_str()) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not-supported",
            format!("Content-Type must be one of {}", allowed.join(", ")),
        ))
    }
}

/// Reads the body, at most `max_body_bytes`, within the read timeout.
async fn read_body(
    state: &HttpState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Vec<u8>, ApiError> {
    let max = state.limits.max_body_bytes;
    let too_large = || {
        state.committer.stats().oversize(1);
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-costly",
            format!("the body is larger than the limit of {max} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let read = async {
        let mut body = body;
        let mut out = Vec::with_capacity(declared.unwrap_or(0) as usize);
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| ApiError::invalid("the body could not be read"))?;
            if let Ok(data) = frame.into_data() {
                if out.len() + data.len() > max {
                    return Err(too_large());
                }
                out.extend_from_slice(&data);
            }
        }
        Ok(out)
    };
    tokio::time::timeout(state.limits.read_timeout, read)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                "the body did not arrive in time",
            )
        })?
}

fn fhir_decoder() -> &'static dyn Decoder {
    ward_decode::by_name("fhir").expect("the fhir decoder is registered")
}

async fn commit(
    state: &HttpState,
    source: String,
    decoder: Option<&'static dyn Decoder>,
    records: Vec<(Vec<u8>, Position)>,
) -> Result<RecordsReceipt, ApiError> {
    let engine = state.committer.engine();
    let stats = state.committer.stats();
    stats.received(records.len() as u64);
    let work = move |store: &dyn ward_store::Store| {
        let records: Vec<NetRecord<'_>> = records
            .iter()
            .map(|(bytes, position)| NetRecord {
                bytes,
                position: *position,
            })
            .collect();
        ingest_records(
            store,
            &source,
            decoder,
            &records,
            ward_model::Timestamp::now(),
            engine.as_deref(),
        )
    };
    let result = state.committer.try_run(work).await;
    match &result {
        None => stats.busy(),
        Some(Ok(Ok(receipt))) => {
            stats.committed(receipt.inserted, receipt.duplicates, receipt.quarantined)
        }
        Some(_) => stats.commit_failed(),
    }
    match result {
        None => Err(ApiError::busy(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(1),
        )),
        Some(Err(e)) => Err(ApiError::store(e)),
        Some(Ok(Err(e))) => Err(ApiError::store(e.into())),
        Some(Ok(Ok(receipt))) => Ok(receipt),
    }
}

fn source_name(kind: &str, request_peer: Option<SocketAddr>) -> String {
    match request_peer {
        Some(p) => format!("{kind}://{p}"),
        None => format!("{kind}://-"),
    }
}

async fn post_audit_event(
    State(state): State<HttpState>,
    request: Request,
) -> Result<Response, ApiError> {
    let source = source_name("fhir-http", peer(&request));
    let (parts, body) = request.into_parts();
    check_content_type(&parts.headers, &[FHIR_JSON, "application/json"])?;
    let bytes = read_body(&state, &parts.headers, body).await?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::invalid(format!("the body is not JSON: {e}")))?;
    if value.get("resourceType").and_then(Value::as_str) != Some("AuditEvent") {
        return Err(ApiError::invalid("the body must be an AuditEvent resource"));
    }
    let position = Position {
        line: 1,
        offset: 0,
        entry: None,
    };
    let receipt = commit(
        &state,
        source,
        Some(fhir_decoder()),
        vec![(bytes.clone(), position)],
    )
    .await?;
    // The stored event's id (its content hash) names it in Location.
    let id = match &receipt.outcomes[0] {
        RecordOutcome::Stored { ids } => ids.first().map(EventId::to_hex),
        RecordOutcome::Quarantined { .. } => None,
    };
    match (&receipt.outcomes[0], id) {
        (RecordOutcome::Stored { .. }, Some(id)) => {
            let status = if receipt.inserted > 0 {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let mut response = (status, bytes).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
            if let Ok(location) = HeaderValue::from_str(&format!("/fhir/AuditEvent/{id}")) {
                headers.insert(header::LOCATION, location);
            }
            Ok(response)
        }
        (RecordOutcome::Quarantined { reason }, _) => {
            Err(ApiError::invalid(format!("quarantined: {reason}")))
        }
        (RecordOutcome::Stored { .. }, None) => {
            Err(ApiError::invalid("the resource holds no event"))
        }
    }
}

#[derive(Deserialize)]
struct BundleIn<'a> {
    #[serde(rename = "resourceType")]
    resource_type: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default, borrow)]
    entry: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct EntryIn<'a> {
    #[serde(borrow)]
    resource: Option<&'a RawValue>,
}

async fn post_bundle(
    State(state): State<HttpState>,
    request: Request,
) -> Result<Response, ApiError> {
    let source = source_name("fhir-http", peer(&request));
    let (parts, body) = request.into_parts();
    check_content_type(&parts.headers, &[FHIR_JSON, "application/json"])?;
    let bytes = read_body(&state, &parts.headers, body).await?;
    let bundle: BundleIn<'_> = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::invalid(format!("the body is not a JSON Bundle: {e}")))?;
    if bundle.resource_type.as_deref() != Some("Bundle") {
        return Err(ApiError::invalid("the body must be a Bundle"));
    }
    let transaction = match bundle.kind.as_deref() {
        Some("batch") => false,
        Some("transaction") => true,
        _ => {
            return Err(ApiError::invalid(
                "Bundle.type must be batch or transaction",
            ));
        }
    };
    let mut records = Vec::with_capacity(bundle.entry.len());
    for (i, entry) in bundle.entry.iter().enumerate() {
        let resource = serde_json::from_str::<EntryIn<'_>>(entry.get())
            .ok()
            .and_then(|e| e.resource)
            .map_or(*entry, |r| r);
        let position = Position {
            line: 1,
            offset: 0,
            entry: Some(i as u64),
        };
        records.push((resource.get().as_bytes().to_vec(), position));
    }
    if transaction {
        // All or nothing: check every entry before anything is stored.
        let mut out = Vec::new();
        for (i, (bytes, _)) in records.iter().enumerate() {
            out.clear();
            fhir_decoder().decode(bytes, &mut out);
            if let Some(Err(e)) = out.iter().find(|d| d.is_err()) {
                return Err(ApiError::invalid(format!(
                    "entry {i}: {}: nothing was stored",
                    e.reason
                )));
            }
            if out.is_empty() {
                return Err(ApiError::invalid(format!(
                    "entry {i} holds no AuditEvent: nothing was stored"
                )));
            }
        }
    }
    let receipt = commit(&state, source, Some(fhir_decoder()), records).await?;
    let entries: Vec<Value> = receipt
        .outcomes
        .iter()
        .map(|outcome| match outcome {
            RecordOutcome::Stored { .. } => json!({"response": {"status": "201 Created"}}),
            RecordOutcome::Quarantined { reason } => json!({"response": {
                "status": "400 Bad Request",
                "outcome": operation_outcome("error", "invalid", reason),
            }}),
        })
        .collect();
    let kind = if transaction {
        "transaction-response"
    } else {
        "batch-response"
    };
    Ok(fhir_response(
        StatusCode::OK,
        &json!({"resourceType": "Bundle", "type": kind, "entry": entries}),
    ))
}

#[derive(Deserialize)]
struct IngestQuery {
    format: Option<String>,
}

async fn post_ingest(
    State(state): State<HttpState>,
    Query(query): Query<IngestQuery>,
    request: Request,
) -> Result<Response, ApiError> {
    let source = source_name("http-ingest", peer(&request));
    let decoder = match query.format.as_deref() {
        None | Some("auto") => None,
        Some(name) => Some(ward_decode::by_name(name).ok_or_else(|| {
            ApiError::invalid(format!("unknown format {name:?}: see `ward ingest --help`"))
        })?),
    };
    let (parts, body) = request.into_parts();
    let bytes = read_body(&state, &parts.headers, body).await?;
    let records = split_records(&bytes, decoder);
    if records.is_empty() {
        return Err(ApiError::invalid("the body holds no record"));
    }
    let lines: Vec<u64> = records.iter().map(|(_, p)| p.line).collect();
    let receipt = commit(&state, source, decoder, records).await?;
    let outcomes: Vec<Value> = receipt
        .outcomes
        .iter()
        .zip(lines)
        .map(|(outcome, line)| match outcome {
            RecordOutcome::Stored { ids } => {
                json!({"line": line, "status": "stored", "events": ids.len()})
            }
            RecordOutcome::Quarantined { reason } => {
                json!({"line": line, "status": "quarantined", "reason": reason})
            }
        })
        .collect();
    Ok(axum::Json(json!({
        "accepted": receipt.inserted,
        "duplicates": receipt.duplicates,
        "quarantined": receipt.quarantined,
        "outcomes": outcomes,
    }))
    .into_response())
}

/// Cuts a body into records as the decoder's framing says: one a line, or grouped lines.
fn split_records(body: &[u8], decoder: Option<&'static dyn Decoder>) -> Vec<(Vec<u8>, Position)> {
    let starts = match decoder.map(|d| d.framing()) {
        Some(Framing::Grouped(starts)) => Some(starts),
        _ => None,
    };
    let mut records: Vec<(Vec<u8>, Position)> = Vec::new();
    let mut offset = 0u64;
    for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        let here = offset;
        offset += raw.len() as u64 + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let position = Position {
            line: i as u64 + 1,
            offset: here,
            entry: None,
        };
        match (starts, records.last_mut()) {
            (Some(starts), Some((record, _))) if !starts(line) => {
                record.push(b'\n');
                record.extend_from_slice(line);
            }
            _ => records.push((line.to_vec(), position)),
        }
    }
    records
}

async fn readyz(State(state): State<HttpState>) -> Response {
    let check = state.committer.run(|store| store.ready().is_ok());
    match tokio::time::timeout(Duration::from_secs(2), check).await {
        Ok(Ok(true)) => (StatusCode::OK, "ready\n").into_response(),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the store does not answer\n",
        )
            .into_response(),
    }
}

/// The peer of a connection, as the connect info the routes read (`ConnectInfo<PeerAddr>`).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// A client that has not finished its TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest wait for the rest of the server's connections at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The HTTP server of `ward serve` and of the `[listen.http]` listener: a router (Ward's
/// routes, perhaps merged with the console's) served over plain TCP or TLS, one task per
/// connection. Connections beyond the limit are closed as soon as they are accepted; a TLS
/// handshake and every request's headers must arrive within their deadlines, so a slow client
/// cannot hold a connection slot (bodies have their own deadline, [`HttpLimits::read_timeout`]);
/// at shutdown, requests in flight finish.
pub struct HttpServer {
    listener: TcpListener,
    router: Router,
    slots: Arc<Semaphore>,
    header_timeout: Duration,
    tls: Option<tokio_rustls::TlsAcceptor>,
    stats: Option<Arc<crate::stats::ListenerStats>>,
}

impl HttpServer {
    pub async fn bind(
        addr: SocketAddr,
        config: &HttpConfig,
        state: HttpState,
    ) -> Result<Self, ListenError> {
        Self::bind_router(addr, config, router(state)).await
    }

    /// Serves `router` (Ward's routes, perhaps merged with others) with the limits of `config`.
    pub async fn bind_router(
        addr: SocketAddr,
        config: &HttpConfig,
        router: Router,
    ) -> Result<Self, ListenError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ListenError::Bind {
                listener: "http",
                addr,
                source,
            })?;
        let limits = config.limits();
        Ok(HttpServer {
            listener,
            router,
            slots: Arc::new(Semaphore::new(limits.max_connections)),
            header_timeout: limits.read_timeout,
            tls: None,
            stats: None,
        })
    }

    /// Serves over TLS with `acceptor`.
    pub fn with_tls(mut self, acceptor: tokio_rustls::TlsAcceptor) -> Self {
        self.tls = Some(acceptor);
        self
    }

    /// Counts connections accepted, open and refused into `stats`.
    pub fn count_into(mut self, stats: Arc<crate::stats::ListenerStats>) -> Self {
        stats.set_address(self.local_addr());
        self.stats = Some(stats);
        self
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Serves until shutdown, then lets requests in flight finish.
    pub async fn run(self, mut shutdown: Shutdown) {
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let mut refused: u64 = 0;
        loop {
            let (tcp, peer) = tokio::select! {
                _ = shutdown.wait() => break,
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: wait rather than spin.
                        tracing::warn!(listener = "http", error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let Ok(slot) = self.slots.clone().try_acquire_owned() else {
                refused += 1;
                if let Some(stats) = &self.stats {
                    stats.connection_refused();
                }
                if refused.is_power_of_two() {
                    tracing::warn!(
                        listener = "http",
                        refused,
                        "connection limit reached: closing new connections"
                    );
                }
                drop(tcp);
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let open = self.stats.as_ref().map(|s| s.connection_opened());
            let (tls, router, watcher) =
                (self.tls.clone(), self.router.clone(), graceful.watcher());
            let header_timeout = self.header_timeout;
            tokio::spawn(async move {
                let _slot: OwnedSemaphorePermit = slot;
                let _open = open;
                let service = router.map_request(
                    move |mut request: hyper::Request<hyper::body::Incoming>| {
                        request.extensions_mut().insert(ConnectInfo(PeerAddr(peer)));
                        request
                    },
                );
                let service = hyper_util::service::TowerToHyperService::new(service);
                let mut builder = hyper::server::conn::http1::Builder::new();
                builder
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(header_timeout);
                let served = match tls {
                    None => {
                        let connection =
                            builder.serve_connection(hyper_util::rt::TokioIo::new(tcp), service);
                        watcher.watch(connection).await
                    }
                    Some(acceptor) => {
                        let stream = match tokio::time::timeout(
                            HANDSHAKE_TIMEOUT,
                            acceptor.accept(tcp),
                        )
                        .await
                        {
                            Ok(Ok(stream)) => stream,
                            // A failed handshake is the client's business (a scanner, an
                            // untrusted certificate): nothing to log beyond debug.
                            Ok(Err(e)) => {
                                tracing::debug!(listener = "http", %peer, error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => return,
                        };
                        let connection =
                            builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
                        watcher.watch(connection).await
                    }
                };
                if let Err(e) = served {
                    tracing::debug!(listener = "http", %peer, error = %e, "connection ended with an error");
                }
            });
        }
        drop(self.listener);
        if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(
                listener = "http",
                "requests still running after the grace period: closing them"
            );
        }
        tracing::info!(listener = "http", "stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_against_their_hashes() {
        let hashes = vec![parse_hash(&token_hash("s3cret")).unwrap()];
        assert!(token_is_valid(&hashes, "s3cret"));
        assert!(!token_is_valid(&hashes, "s3cre"));
        assert!(!token_is_valid(&[], "s3cret"));
        assert!(parse_hash("abc").is_none());
    }

    #[test]
    fn grouped_formats_keep_their_continuation_lines() {
        let hl7 = ward_decode::by_name("hl7");
        let body = b"MSH|^~\\&|A\nPID|1\n\nMSH|^~\\&|B\r\nPID|2\n";
        let records = split_records(body, hl7);
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].0, b"MSH|^~\\&|A\nPID|1");
        assert_eq!(records[1].1.line, 4);
        assert_eq!(split_records(b"a\nb\n", None).len(), 2);
    }
}
