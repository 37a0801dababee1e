//! What the notifier's tests share: a store in a temporary directory, alerts carrying PHI,
//! certificates, and real receivers on loopback (an HTTP receiver that verifies webhook
//! signatures, a syslog collector over TLS).

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::io::AsyncReadExt;
use ward_model::{Alert, AlertEntities, AlertStatus, Severity, Timestamp};
use ward_notify::{Notifier, NotifyConfig};
use ward_store::{SqliteStore, Store};

pub const PATIENT_ID: &str = "MRN-884421";
pub const PATIENT_NAME: &str = "Maria Lopez";
pub const KEY: [u8; 32] = [42; 32];

pub fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).expect("test instant")
}

pub fn plus(t: Timestamp, seconds: i64) -> Timestamp {
    Timestamp(t.millis() + seconds * 1000)
}

pub struct TestStore {
    pub dir: tempfile::TempDir,
    pub store: Arc<dyn Store>,
}

pub fn store() -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
    TestStore { dir, store }
}

impl TestStore {
    /// The same database opened again, as after a restart.
    pub fn reopen(&self) -> Arc<dyn Store> {
        Arc::new(SqliteStore::open(self.dir.path()).unwrap())
    }
}

pub fn notifier(config: &str, store: &Arc<dyn Store>) -> Notifier {
    let config = NotifyConfig::from_toml(config).expect("test settings");
    Notifier::new(config, Arc::clone(store), KEY).expect("notifier")
}

/// A privacy alert naming a patient, with PHI in its description.
pub fn privacy_alert(id: &str, severity: Severity, at: Timestamp) -> Alert {
    Alert {
        id: id.into(),
        rule_id: "privacy.family_member".into(),
        title: "Staff member opened a family or household member's record".into(),
        severity,
        first_seen: at,
        last_seen: at,
        count: 1,
        entities: AlertEntities {
            user: Some("jdoe".into()),
            patient: Some(PATIENT_ID.into()),
            host: Some("ehr-ws-12".into()),
            ..Default::default()
        },
        attack: vec!["T1078".into()],
        hipaa: vec!["164.312(b)".into(), "164.308(a)(1)(ii)(D)".into()],
        status: AlertStatus::Open,
        author: Some("Ward".into()),
        license: None,
        references: vec![],
        description: Some(format!(
            "jdoe opened the record of patient {PATIENT_ID} ({PATIENT_NAME}, 12 Elm St) at 02:14: the patient shares jdoe's family name and home address."
        )),
    }
}

/// A threat alert without a patient, with every character CEF must escape.
pub fn threat_alert(id: &str, severity: Severity, at: Timestamp) -> Alert {
    Alert {
        id: id.into(),
        rule_id: "threat.credential.spray".into(),
        title: "Password spray | many accounts \\ one source".into(),
        severity,
        first_seen: Timestamp(at.millis() - 60_000),
        last_seen: at,
        count: 17,
        entities: AlertEntities {
            src_ip: Some("203.0.113.9".into()),
            user: Some("svc=backup".into()),
            ..Default::default()
        },
        attack: vec!["T1110.003".into(), "T1078".into()],
        hipaa: vec!["164.308(a)(5)(ii)(C)".into()],
        status: AlertStatus::Open,
        author: Some("Ward".into()),
        license: None,
        references: vec![],
        description: Some("17 failed sign-ins a=b\\c\nsecond line".into()),
    }
}

/// A self-signed certificate for `localhost` and `127.0.0.1`, written as PEM files.
pub struct Cert {
    pub cert_pem: PathBuf,
    pub key_pem: PathBuf,
    pub cert_der: rustls_pki_types::CertificateDer<'static>,
    pub key_der: rustls_pki_types::PrivateKeyDer<'static>,
    _dir: tempfile::TempDir,
}

pub fn cert() -> Cert {
    let dir = tempfile::tempdir().unwrap();
    let generated =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert_pem = dir.path().join("cert.pem");
    let key_pem = dir.path().join("key.pem");
    std::fs::write(&cert_pem, generated.cert.pem()).unwrap();
    std::fs::write(&key_pem, generated.signing_key.serialize_pem()).unwrap();
    Cert {
        cert_pem,
        key_pem,
        cert_der: generated.cert.der().clone(),
        key_der: rustls_pki_types::PrivateKeyDer::Pkcs8(
            generated.signing_key.serialize_der().into(),
        ),
        _dir: dir,
    }
}

/// A loopback port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// One request an HTTP receiver accepted.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

#[derive(Clone, Default)]
struct ReceiverState {
    secret: Option<Vec<u8>>,
    accepted: Arc<Mutex<Vec<Received>>>,
    rejected: Arc<Mutex<Vec<String>>>,
}

/// An HTTP receiver on loopback. With a secret, it verifies `X-Ward-Signature` over
/// `"<X-Ward-Timestamp>.<body>"` the way a partner's receiver would, independently of the
/// crate's signing code, and answers 401 to anything that does not verify.
pub struct HttpReceiver {
    pub addr: SocketAddr,
    state: ReceiverState,
    task: tokio::task::JoinHandle<()>,
}

impl HttpReceiver {
    pub async fn start(secret: Option<&[u8]>) -> Self {
        Self::start_on(0, secret).await
    }

    pub async fn start_on(port: u16, secret: Option<&[u8]>) -> Self {
        let state = ReceiverState {
            secret: secret.map(<[u8]>::to_vec),
            ..Default::default()
        };
        let app = Router::new().fallback(receive).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind the receiver");
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        HttpReceiver { addr, state, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn accepted(&self) -> Vec<Received> {
        self.state.accepted.lock().unwrap().clone()
    }

    pub fn rejected(&self) -> Vec<String> {
        self.state.rejected.lock().unwrap().clone()
    }
}

impl Drop for HttpReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(
    State(state): State<ReceiverState>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    if let Some(secret) = &state.secret {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let (Some(ts), Some(sig)) = (header("x-ward-timestamp"), header("x-ward-signature")) else {
            state.rejected.lock().unwrap().push("unsigned".into());
            return StatusCode::UNAUTHORIZED;
        };
        let Some(hex) = sig.strip_prefix("sha256=") else {
            state.rejected.lock().unwrap().push("bad scheme".into());
            return StatusCode::UNAUTHORIZED;
        };
        let Some(given) = decode_hex(hex) else {
            state.rejected.lock().unwrap().push("bad hex".into());
            return StatusCode::UNAUTHORIZED;
        };
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap();
        mac.update(ts.as_bytes());
        mac.update(b".");
        mac.update(&body);
        if mac.verify_slice(&given).is_err() {
            state
                .rejected
                .lock()
                .unwrap()
                .push("signature mismatch".into());
            return StatusCode::UNAUTHORIZED;
        }
    }
    state.accepted.lock().unwrap().push(Received {
        path: uri.path().to_string(),
        headers,
        body: body.to_vec(),
    });
    StatusCode::NO_CONTENT
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// A syslog collector over TLS that reads RFC 6587 octet-counted frames, checking that each
/// count is exact.
pub struct SyslogCollector {
    pub port: u16,
    messages: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl SyslogCollector {
    pub async fn start(cert: &Cert) -> Self {
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert_der.clone()], cert.key_der.clone_key())
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&messages);
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                let sink = Arc::clone(&sink);
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut bytes = Vec::new();
                    let _ = tls.read_to_end(&mut bytes).await;
                    for frame in octet_frames(&bytes) {
                        sink.lock().unwrap().push(frame);
                    }
                });
            }
        });
        SyslogCollector {
            port,
            messages,
            task,
        }
    }

    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().unwrap().clone()
    }

    /// Waits (bounded) until `n` messages arrived: the collector reads on its own task.
    pub async fn wait_for(&self, n: usize) -> Vec<String> {
        for _ in 0..200 {
            if self.messages().len() >= n {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        self.messages()
    }
}

impl Drop for SyslogCollector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Splits `LEN SP MSG LEN SP MSG …`, panicking on any framing error.
fn octet_frames(mut bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let space = bytes.iter().position(|&b| b == b' ').expect("octet count");
        let len: usize = std::str::from_utf8(&bytes[..space])
            .unwrap()
            .parse()
            .unwrap();
        let msg = &bytes[space + 1..space + 1 + len];
        out.push(String::from_utf8(msg.to_vec()).unwrap());
        bytes = &bytes[space + 1 + len..];
    }
    out
}
