//! The listeners end to end: a real server on 127.0.0.1 ephemeral ports, real clients
//! (syslog over UDP, TCP and TLS, HL7 over MLLP, FHIR over HTTP), and a temporary store each,
//! checked through the `Store` trait.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use ward_listen::{ListenConfig, Listeners, StreamConfig};
use ward_model::ContextKind;
use ward_store::{EventQuery, QuarantineQuery, SqliteStore, Store};

const SSHD: &str = "<38>1 2026-11-02T08:00:00Z vpn1 sshd 4242 - - Failed password for root from 203.0.113.9 port 5 ssh2";
const TOKEN: &str = "test-token-1";
const ADT_BROKEN: &str = "MSH|^~\\&|EPICADT|DH|WARD|DH|20240501093012||ADT^A01^ADT_A01|BROKEN1|P|2.5\rEVN|A01|20240501093000\r";

struct Server {
    _dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    listeners: Listeners,
}

fn local() -> Option<SocketAddr> {
    Some("127.0.0.1:0".parse().unwrap())
}

fn stream_on() -> StreamConfig {
    StreamConfig {
        enabled: true,
        bind: local(),
        ..Default::default()
    }
}

impl Server {
    async fn start(configure: impl FnOnce(&mut ListenConfig)) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
        let mut config = ListenConfig::default();
        configure(&mut config);
        let listeners = Listeners::start(&config, store.clone(), None)
            .await
            .unwrap();
        Server {
            _dir: dir,
            store,
            listeners,
        }
    }

    fn addr(&self, name: &str) -> SocketAddr {
        self.listeners.addr(name).unwrap()
    }

    fn events(&self) -> u64 {
        self.store.count_events(&EventQuery::default()).unwrap()
    }

    /// Waits until `n` events are stored (syslog has no acknowledgment to wait for).
    async fn wait_for_events(&self, n: u64) {
        let start = Instant::now();
        while self.events() < n {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "only {} of {n} events stored",
                self.events()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn syslog_line(i: usize) -> String {
    format!(
        "<38>1 2026-11-02T08:00:{:02}Z vpn1 sshd 4242 - - Failed password for user{i} from 203.0.113.9 port {i} ssh2",
        i % 60
    )
}

#[tokio::test]
async fn syslog_udp_datagrams_are_stored() {
    let server = Server::start(|c| {
        c.syslog_udp.enabled = true;
        c.syslog_udp.bind = local();
    })
    .await;
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for i in 0..20 {
        socket
            .send_to(
                format!("{}\n", syslog_line(i)).as_bytes(),
                server.addr("syslog-udp"),
            )
            .await
            .unwrap();
    }
    server.wait_for_events(20).await;
    assert_eq!(server.events(), 20);
    server.listeners.shutdown().await;
}

#[tokio::test]
async fn syslog_tcp_takes_octet_counting_and_newline_framing() {
    let server = Server::start(|c| c.syslog_tcp = stream_on()).await;
    let addr = server.addr("syslog-tcp");
    let mut octets = TcpStream::connect(addr).await.unwrap();
    for i in 0..10 {
        let line = syslog_line(i);
        octets
            .write_all(format!("{} {line}", line.len()).as_bytes())
            .await
            .unwrap();
    }
    let mut lines = TcpStream::connect(addr).await.unwrap();
    for i in 10..20 {
        lines
            .write_all(format!("{}\n", syslog_line(i)).as_bytes())
            .await
            .unwrap();
    }
    server.wait_for_events(20).await;
    drop((octets, lines));
    server.listeners.shutdown().await;
}

#[tokio::test]
async fn atna_message_of_40_kib_over_tcp_is_stored_and_longer_than_the_limit_is_quarantined() {
    let server = Server::start(|c| c.syslog_tcp = stream_on()).await;
    let framed = include_str!("../../decode/tests/fixtures/atna/syslog-framed.input");
    let atna = framed.lines().next().unwrap();
    // Pad the XML to 40 KiB between two elements (whitespace is not content).
    let cut = atna.find("<ActiveParticipant").unwrap();
    let padding = " ".repeat(40 * 1024 - atna.len());
    let big = format!("{}{padding}{}", &atna[..cut], &atna[cut..]);
    assert!(big.len() >= 40 * 1024);
    let huge = format!(
        "<13>1 2026-11-02T08:00:00Z h app - - - {}",
        "x".repeat(100_000)
    );
    let mut stream = TcpStream::connect(server.addr("syslog-tcp")).await.unwrap();
    for message in [&big, &huge, &syslog_line(1)] {
        stream
            .write_all(format!("{} {message}", message.len()).as_bytes())
            .await
            .unwrap();
    }
    server.wait_for_events(2).await;
    let events = server.store.query_events(&EventQuery::default()).unwrap();
    assert!(
        events.iter().any(|e| e.metadata.product == "atna"),
        "the ATNA message was read as ATNA"
    );
    let start = Instant::now();
    let quarantined = loop {
        let q = server
            .store
            .list_quarantine(&QuarantineQuery::default())
            .unwrap();
        if !q.is_empty() || start.elapsed() > Duration::from_secs(5) {
            break q;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(quarantined.len(), 1);
    assert_eq!(
        quarantined[0].record.raw_len,
        huge.len() as u64,
        "quarantined with its true length"
    );
    assert!(
        quarantined[0]
            .record
            .reason
            .contains("longer than the limit")
    );
    // The listener's counters say the same.
    let counts = listener(&server, "syslog-tcp");
    assert_eq!(counts.received, 3);
    assert_eq!(counts.stored, 2);
    assert_eq!((counts.quarantined, counts.oversize), (1, 1));
    assert_eq!(counts.connections_accepted, 1);
    assert!(counts.last_received.is_some());
    server.listeners.shutdown().await;
}

/// The counters of the listener called `name`.
fn listener(server: &Server, name: &str) -> ward_listen::ListenerSnapshot {
    server
        .listeners
        .registry
        .snapshot()
        .into_iter()
        .find(|l| l.facts.name == name)
        .unwrap_or_else(|| panic!("no listener {name}"))
}

async fn tls_client(
    cert_der: Vec<u8>,
    addr: SocketAddr,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(cert_der))
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.unwrap()
}

#[tokio::test]
async fn syslog_over_tls_with_a_generated_certificate() {
    let server = Server::start(|c| c.syslog_tls = stream_on()).await;
    assert!(server.listeners.tls_generated);
    let fingerprint = server.listeners.tls_fingerprint.clone().unwrap();
    assert_eq!(fingerprint.len(), 32 * 3 - 1);
    let cert = server.listeners.tls_certificate.clone().unwrap();
    let mut tls = tls_client(cert, server.addr("syslog-tls")).await;
    for i in 0..5 {
        let line = syslog_line(i);
        tls.write_all(format!("{} {line}", line.len()).as_bytes())
            .await
            .unwrap();
    }
    tls.flush().await.unwrap();
    server.wait_for_events(5).await;
    drop(tls);
    server.listeners.shutdown().await;
}

/// Sends one MLLP frame and reads the ACK.
async fn mllp_exchange<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    stream: &mut S,
    message: &[u8],
) -> String {
    let mut frame = vec![0x0B];
    frame.extend_from_slice(message);
    frame.extend_from_slice(&[0x1C, 0x0D]);
    stream.write_all(&frame).await.unwrap();
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    while !reply.ends_with(&[0x1C, 0x0D]) {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut byte))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "connection closed before the ACK");
        reply.push(byte[0]);
    }
    String::from_utf8(reply[1..reply.len() - 2].to_vec()).unwrap()
}

fn msa(ack: &str) -> Vec<String> {
    let segment = ack
        .split('\r')
        .find(|s| s.starts_with("MSA|"))
        .expect("an MSA segment");
    segment.split('|').map(str::to_string).collect()
}

#[tokio::test]
async fn mllp_answers_aa_for_a_good_adt_and_ae_for_a_broken_one_and_stores_event_and_context() {
    let server = Server::start(|c| c.mllp = stream_on()).await;
    let adt = include_str!("../../decode/tests/fixtures/hl7/adt-a01-with-nk1-and-rol.input")
        .replace('\n', "\r");
    let mut stream = TcpStream::connect(server.addr("mllp")).await.unwrap();

    let ack = mllp_exchange(&mut stream, adt.trim_end().as_bytes()).await;
    assert!(
        ack.starts_with("MSH|^~\\&|LABADT|DH|EPICADT|DH|"),
        "{ack:?}"
    );
    assert!(ack.contains("|ACK^A01^ACK|"));
    assert_eq!(msa(&ack)[1..3], ["AA", "MSG00001"]);
    assert_eq!(server.events(), 1, "the ACK came after the commit");
    assert_eq!(server.store.count_context(ContextKind::Patient).unwrap(), 1);
    assert_eq!(
        server.store.count_context(ContextKind::Encounter).unwrap(),
        1
    );

    let ack = mllp_exchange(&mut stream, ADT_BROKEN.as_bytes()).await;
    let fields = msa(&ack);
    assert_eq!(fields[1..3], ["AE", "BROKEN1"]);
    assert!(fields[3].contains("PID"), "the reason is given: {ack:?}");
    assert!(ack.contains("\rERR|"));
    assert_eq!(
        server
            .store
            .list_quarantine(&QuarantineQuery::default())
            .unwrap()
            .len(),
        1
    );

    let ack = mllp_exchange(&mut stream, b"GET / HTTP/1.1").await;
    assert_eq!(msa(&ack)[1], "AR");

    // The same message again: acknowledged, not stored twice.
    let ack = mllp_exchange(&mut stream, adt.trim_end().as_bytes()).await;
    assert_eq!(msa(&ack)[1], "AA");
    assert_eq!(server.events(), 1);
    drop(stream);
    server.listeners.shutdown().await;
}

#[tokio::test]
async fn mllp_over_tls_is_acknowledged() {
    let server = Server::start(|c| c.mllp_tls = stream_on()).await;
    let cert = server.listeners.tls_certificate.clone().unwrap();
    let mut tls = tls_client(cert, server.addr("mllp-tls")).await;
    let adt = include_str!("../../decode/tests/fixtures/hl7/adt-a11-cancel-admit.input")
        .replace('\n', "\r");
    let ack = mllp_exchange(&mut tls, adt.trim_end().as_bytes()).await;
    assert_eq!(msa(&ack)[1..3], ["AA", "MSG00005"]);
    assert_eq!(server.events(), 1);
    drop(tls);
    server.listeners.shutdown().await;
}

#[tokio::test]
async fn connections_beyond_the_limit_are_closed_and_the_server_keeps_serving() {
    let server = Server::start(|c| {
        c.syslog_tcp = StreamConfig {
            max_connections: Some(2),
            ..stream_on()
        };
    })
    .await;
    let addr = server.addr("syslog-tcp");
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A flood beyond the limit: every extra connection is closed at once.
    let mut closed = 0;
    for _ in 0..50 {
        let mut extra = TcpStream::connect(addr).await.unwrap();
        let mut byte = [0u8; 1];
        match tokio::time::timeout(Duration::from_secs(2), extra.read(&mut byte)).await {
            Ok(Ok(0)) | Ok(Err(_)) => closed += 1,
            other => panic!("an extra connection stayed open: {other:?}"),
        }
    }
    assert_eq!(closed, 50);
    let counts = listener(&server, "syslog-tcp");
    assert_eq!(counts.connections_refused, 50);
    assert_eq!(
        (counts.connections_open, counts.connections_accepted),
        (2, 2)
    );
    assert_eq!(counts.facts.max_connections, Some(2));
    // The held connections still work, and once they close new ones are served.
    let line = syslog_line(7);
    held[0]
        .write_all(format!("{line}\n").as_bytes())
        .await
        .unwrap();
    server.wait_for_events(1).await;
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = TcpStream::connect(addr).await.unwrap();
    again
        .write_all(format!("{}\n", syslog_line(8)).as_bytes())
        .await
        .unwrap();
    server.wait_for_events(2).await;
    drop(again);
    server.listeners.shutdown().await;
}

/// A minimal HTTP/1.1 client: one request per connection.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: ward\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    // A large body may be refused before it is all sent.
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .unwrap();
    parse_reply(&raw)
}

fn parse_reply(raw: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete response");
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_string(),
    }
}

fn with_http(c: &mut ListenConfig) {
    c.http.enabled = Some(true);
    c.http.bind = local();
    c.http.token_sha256 = vec![ward_listen::http::token_hash(TOKEN)];
}

const AUDIT: &str = r#"{"resourceType":"AuditEvent","type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest"},"subtype":[{"system":"http://hl7.org/fhir/restful-interaction","code":"read"}],"action":"R","recorded":"2026-11-02T10:00:00Z","outcome":"0","agent":[{"who":{"identifier":{"value":"u1035"}},"requestor":true,"network":{"address":"10.1.2.3","type":"2"}}],"source":{"observer":{"display":"ehr.example"}},"entity":[{"what":{"reference":"Patient/p42"},"type":{"code":"1"},"role":{"code":"1"}}]}"#;

fn auth() -> String {
    format!("Bearer {TOKEN}")
}

#[tokio::test]
async fn fhir_audit_event_needs_a_token_and_is_created_once() {
    let server = Server::start(with_http).await;
    let addr = server.addr("http");
    let fhir = ("Content-Type", "application/fhir+json");

    let refused = http(addr, "POST", "/fhir/AuditEvent", &[fhir], AUDIT.as_bytes()).await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.json()["resourceType"], "OperationOutcome");
    let wrong = http(
        addr,
        "POST",
        "/fhir/AuditEvent",
        &[fhir, ("Authorization", "Bearer nope")],
        AUDIT.as_bytes(),
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(server.events(), 0);

    let auth = auth();
    let created = http(
        addr,
        "POST",
        "/fhir/AuditEvent",
        &[fhir, ("Authorization", &auth)],
        AUDIT.as_bytes(),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert!(
        created
            .header("Location")
            .unwrap()
            .starts_with("/fhir/AuditEvent/")
    );
    assert_eq!(server.events(), 1);
    let again = http(
        addr,
        "POST",
        "/fhir/AuditEvent",
        &[fhir, ("Authorization", &auth)],
        AUDIT.as_bytes(),
    )
    .await;
    assert_eq!(again.status, 200, "a duplicate is not created again");
    assert_eq!(again.header("Location"), created.header("Location"));
    assert_eq!(server.events(), 1);

    let text = http(
        addr,
        "POST",
        "/fhir/AuditEvent",
        &[("Content-Type", "text/plain"), ("Authorization", &auth)],
        AUDIT.as_bytes(),
    )
    .await;
    assert_eq!(text.status, 415);
    assert_eq!(text.json()["resourceType"], "OperationOutcome");
    let invalid = http(
        addr,
        "POST",
        "/fhir/AuditEvent",
        &[fhir, ("Authorization", &auth)],
        b"{\"resourceType\":\"Patient\"}",
    )
    .await;
    assert_eq!(invalid.status, 400);
    assert_eq!(invalid.json()["issue"][0]["severity"], "error");

    assert_eq!(http(addr, "GET", "/healthz", &[], b"").await.status, 200);
    assert_eq!(http(addr, "GET", "/readyz", &[], b"").await.status, 200);
    server.listeners.shutdown().await;
}

#[tokio::test]
async fn fhir_batch_answers_per_entry_and_transaction_is_all_or_nothing() {
    let server = Server::start(with_http).await;
    let addr = server.addr("http");
    let auth = auth();
    let headers = [
        ("Content-Type", "application/json"),
        ("Authorization", auth.as_str()),
    ];
    let other = AUDIT.replace("u1035", "u2000");
    let bundle = |kind: &str| {
        format!(
            r#"{{"resourceType":"Bundle","type":"{kind}","entry":[{{"resource":{AUDIT}}},{{"resource":{{"resourceType":"AuditEvent","action":"R"}}}},{{"resource":{other}}}]}}"#
        )
    };
    let transaction = http(
        addr,
        "POST",
        "/fhir",
        &headers,
        bundle("transaction").as_bytes(),
    )
    .await;
    assert_eq!(transaction.status, 400);
    assert!(
        transaction.json()["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("entry 1")
    );
    assert_eq!(server.events(), 0);

    let batch = http(addr, "POST", "/fhir", &headers, bundle("batch").as_bytes()).await;
    assert_eq!(batch.status, 200, "{}", batch.body);
    let body = batch.json();
    assert_eq!(body["type"], "batch-response");
    let statuses: Vec<&str> = body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["response"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["201 Created", "400 Bad Request", "201 Created"]);
    assert_eq!(
        body["entry"][1]["response"]["outcome"]["resourceType"],
        "OperationOutcome"
    );
    assert_eq!(server.events(), 2);
    server.listeners.shutdown().await;
}

#[tokio::test]
async fn bulk_ingest_reports_every_line() {
    let server = Server::start(with_http).await;
    let addr = server.addr("http");
    let auth = auth();
    let body = format!("{SSHD}\nnot syslog at all \u{1}\n");
    let refused = http(
        addr,
        "POST",
        "/api/ingest?format=syslog",
        &[],
        body.as_bytes(),
    )
    .await;
    assert_eq!(refused.status, 401);
    let reply = http(
        addr,
        "POST",
        "/api/ingest?format=authlog",
        &[("Authorization", &auth)],
        body.as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let json = reply.json();
    assert_eq!(json["accepted"], 1);
    assert_eq!(json["quarantined"], 1);
    assert_eq!(json["outcomes"][1]["status"], "quarantined");
    assert_eq!(json["outcomes"][1]["line"], 2);
    let unknown = http(
        addr,
        "POST",
        "/api/ingest?format=nope",
        &[("Authorization", &auth)],
        body.as_bytes(),
    )
    .await;
    assert_eq!(unknown.status, 400);
    server.listeners.shutdown().await;
}

#[tokio::test]
async fn too_large_bodies_get_413_and_overload_gets_503_with_retry_after() {
    let server = Server::start(|c| {
        with_http(c);
        c.http.max_body_bytes = Some(1024);
        c.http.max_concurrent_requests = Some(1);
    })
    .await;
    let addr = server.addr("http");
    let auth = auth();
    let big = vec![b' '; 4096];
    let large = http(
        addr,
        "POST",
        "/fhir/AuditEvent",
        &[
            ("Content-Type", "application/fhir+json"),
            ("Authorization", &auth),
        ],
        &big,
    )
    .await;
    assert_eq!(large.status, 413);
    assert_eq!(large.json()["resourceType"], "OperationOutcome");

    // One request holds the only slot while its body trickles in.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(format!("POST /fhir/AuditEvent HTTP/1.1\r\nHost: ward\r\nContent-Type: application/fhir+json\r\nAuthorization: {auth}\r\nContent-Length: 100\r\n\r\n{{").as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let busy = http(
        addr,
        "POST",
        "/fhir/AuditEvent",
        &[
            ("Content-Type", "application/fhir+json"),
            ("Authorization", &auth),
        ],
        AUDIT.as_bytes(),
    )
    .await;
    assert_eq!(busy.status, 503);
    assert_eq!(busy.header("Retry-After"), Some("1"));
    assert_eq!(busy.json()["resourceType"], "OperationOutcome");
    drop(slow);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ok = http(
        addr,
        "POST",
        "/fhir/AuditEvent",
        &[
            ("Content-Type", "application/fhir+json"),
            ("Authorization", &auth),
        ],
        AUDIT.as_bytes(),
    )
    .await;
    assert_eq!(ok.status, 201, "served again once the load is gone");
    let counts = listener(&server, "http");
    assert_eq!((counts.oversize, counts.busy, counts.stored), (1, 1, 1));
    server.listeners.shutdown().await;
}

#[tokio::test]
async fn a_peer_over_its_rate_gets_429_with_retry_after() {
    let server = Server::start(|c| {
        with_http(c);
        c.http.rate_per_peer = Some(1.0);
    })
    .await;
    let addr = server.addr("http");
    let auth = auth();
    let headers = [
        ("Content-Type", "application/fhir+json"),
        ("Authorization", auth.as_str()),
    ];
    assert_eq!(
        http(addr, "POST", "/fhir/AuditEvent", &headers, AUDIT.as_bytes())
            .await
            .status,
        201
    );
    let limited = http(addr, "POST", "/fhir/AuditEvent", &headers, AUDIT.as_bytes()).await;
    assert_eq!(limited.status, 429);
    assert!(limited.header("Retry-After").is_some());
    assert_eq!(listener(&server, "http").rate_limited, 1);
    server.listeners.shutdown().await;
}

#[tokio::test]
async fn listeners_run_the_detectors_on_what_they_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let engine = Arc::new(std::sync::Mutex::new(ward_detect::Engine::new(
        ward_detect::standard().unwrap(),
    )));
    let config = ListenConfig {
        syslog_tcp: stream_on(),
        ..Default::default()
    };
    let listeners = Listeners::start(&config, store.clone(), Some(engine))
        .await
        .unwrap();
    let mut conn = TcpStream::connect(listeners.addr("syslog-tcp").unwrap())
        .await
        .unwrap();
    // Twelve wrong passwords for one account from one address within a minute.
    for i in 0..12 {
        let line = format!(
            "<38>1 2026-11-02T08:00:{:02}Z vpn1 sshd 4242 - - Failed password for root from 203.0.113.9 port {i} ssh2\n",
            i * 4
        );
        conn.write_all(line.as_bytes()).await.unwrap();
    }
    let start = Instant::now();
    let alerts = loop {
        let alerts = store.list_alerts(&Default::default()).unwrap();
        if alerts.first().is_some_and(|a| a.count >= 12) {
            break alerts;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no alert: {alerts:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].title, "SSH password guessing against one account");
    assert_eq!(alerts[0].entities.src_ip.as_deref(), Some("203.0.113.9"));
    listeners.shutdown().await;
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_loses_its_connection() {
    let server = Server::start(|c| {
        with_http(c);
        c.http.read_timeout_secs = Some(1);
        c.http.max_connections = Some(1);
    })
    .await;
    let addr = server.addr("http");
    // Slowloris: the request line and one header, then nothing.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"POST /fhir/AuditEvent HTTP/1.1\r\nHost: ward\r\n")
        .await
        .unwrap();
    let mut reply = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut reply)).await;
    assert!(
        closed.is_ok(),
        "the connection was still open 5 s after the 1 s header deadline"
    );
    // Its slot is free again: the only connection allowed serves a new client.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let health = http(addr, "GET", "/healthz", &[], b"").await;
    assert_eq!(health.status, 200);
    server.listeners.shutdown().await;
}
