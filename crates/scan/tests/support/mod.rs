//! Real servers for the scanner to look at, all on the loopback interface: rustls servers
//! in-process with rcgen certificates, `openssl s_server` children for the old protocols
//! rustls will not speak, a plain HTTP server, a silent one and a closed port. Every server
//! stops when its handle is dropped.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    date_time_ymd,
};
use rustls::ServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use ward_scan::{ScanOptions, Target};

/// The instant every rustls-server test is evaluated at.
pub fn scan_instant() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

/// Options with short timeouts, fit for loopback servers.
pub fn options(extra_roots: Vec<CertificateDer<'static>>) -> ScanOptions {
    ScanOptions {
        timeout: Duration::from_secs(3),
        connect_timeout: Duration::from_secs(2),
        extra_roots,
        check_hsts: true,
        now: scan_instant(),
    }
}

pub fn target(addr: SocketAddr) -> Target {
    Target::new("localhost", addr.port())
}

/// A private CA, as a hospital would run for its internal services.
pub struct TestCa {
    pub cert: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    pub fn new() -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "Ward Test Hospital CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2040, 1, 1);
        let cert = params.self_signed(&key).unwrap();
        TestCa {
            cert: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf for `names`, valid between the two dates (year, month, day).
    pub fn leaf(&self, names: &[&str], from: (i32, u8, u8), until: (i32, u8, u8)) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let params = leaf_params(names, from, until);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert: cert.der().clone(),
            key: key.serialize_der(),
        }
    }
}

/// A server certificate and its PKCS#8 key.
pub struct Leaf {
    pub cert: CertificateDer<'static>,
    pub key: Vec<u8>,
}

fn leaf_params(names: &[&str], from: (i32, u8, u8), until: (i32, u8, u8)) -> CertificateParams {
    let mut params = CertificateParams::new(
        names
            .iter()
            .map(|name| name.to_string())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    params.distinguished_name.push(
        DnType::CommonName,
        names.first().copied().unwrap_or("server"),
    );
    params.not_before = date_time_ymd(from.0, from.1, from.2);
    params.not_after = date_time_ymd(until.0, until.1, until.2);
    params
}

/// A self-signed leaf, as an appliance ships with.
pub fn self_signed(names: &[&str]) -> Leaf {
    let key = KeyPair::generate().unwrap();
    let cert = leaf_params(names, (2025, 1, 1), (2028, 1, 1))
        .self_signed(&key)
        .unwrap();
    Leaf {
        cert: cert.der().clone(),
        key: key.serialize_der(),
    }
}

/// Which versions a rustls test server speaks.
#[derive(Clone, Copy)]
pub enum Versions {
    Both,
    Tls13Only,
    Tls12Only,
}

/// A rustls HTTPS server on 127.0.0.1 answering every request with 200 and, when given, a
/// Strict-Transport-Security header.
pub struct RustlsServer {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for RustlsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RustlsServer {
    pub async fn start(leaf: &Leaf, versions: Versions, hsts: Option<&'static str>) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let protocol_versions: &[&'static rustls::SupportedProtocolVersion] = match versions {
            Versions::Both => &[&rustls::version::TLS13, &rustls::version::TLS12],
            Versions::Tls13Only => &[&rustls::version::TLS13],
            Versions::Tls12Only => &[&rustls::version::TLS12],
        };
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf.key.clone()));
        let config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(protocol_versions)
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![leaf.cert.clone()], key)
            .unwrap();
        Self::serve(config, hsts).await
    }

    /// A TLS 1.2-only server that demands a client certificate issued by `client_ca`, as
    /// HL7 and DICOM gateways between hospitals often do.
    pub async fn start_requiring_client_certificate(leaf: &Leaf, client_ca: &TestCa) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut client_roots = rustls::RootCertStore::empty();
        client_roots.add(client_ca.cert.clone()).unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(client_roots),
            provider.clone(),
        )
        .build()
        .unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf.key.clone()));
        let config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![leaf.cert.clone()], key)
            .unwrap();
        Self::serve(config, None).await
    }

    async fn serve(config: ServerConfig, hsts: Option<&'static str>) -> Self {
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(Ok(mut tls)) =
                        tokio::time::timeout(Duration::from_secs(5), acceptor.accept(tcp)).await
                    else {
                        return;
                    };
                    let mut request = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024
                    {
                        match tokio::time::timeout(Duration::from_secs(5), tls.read(&mut chunk))
                            .await
                        {
                            Ok(Ok(n)) if n > 0 => request.extend_from_slice(&chunk[..n]),
                            _ => return,
                        }
                    }
                    let header = hsts
                        .map(|value| format!("Strict-Transport-Security: {value}\r\n"))
                        .unwrap_or_default();
                    let response = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n{header}Content-Length: 2\r\nConnection: close\r\n\r\nok"
                    );
                    let _ = tls.write_all(response.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        RustlsServer { addr, task }
    }
}

/// A plain-text HTTP server: answers anything with a 400, as a web server does to a
/// ClientHello on its HTTP port.
pub async fn plain_http_server() -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = tokio::time::timeout(Duration::from_secs(2), tcp.read(&mut buf)).await;
                let _ = tcp.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
                let _ = tcp.shutdown().await;
            });
        }
    });
    (addr, task)
}

/// A server that accepts connections and never says a word.
pub async fn silent_server() -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    (addr, task)
}

/// A port on 127.0.0.1 with nothing listening.
pub fn closed_port() -> u16 {
    let listener = StdListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Finds `openssl`, or explains the skip; in CI a missing `openssl` is a failure.
pub fn openssl_or_skip(test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("openssl"))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!(
                "{test}: `openssl` is not on PATH, and CI must run the old-protocol tests (apt-get install openssl)"
            );
        }
        eprintln!(
            "skipping {test}: `openssl` is not on PATH (install it to test TLS 1.0/1.1 and weak suites)"
        );
    }
    found
}

/// Whether this openssl build still has a cipher (Debian's OpenSSL 3 drops 3DES, for one).
pub fn openssl_has_cipher(openssl: &Path, cipher: &str) -> bool {
    Command::new(openssl)
        .args(["ciphers", &format!("{cipher}:@SECLEVEL=0")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// A self-signed RSA certificate for localhost made by openssl itself (ring cannot make RSA
/// keys, and static-RSA suites need one).
pub fn openssl_rsa_identity(openssl: &Path, dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let status = Command::new(openssl)
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "90",
            "-subj",
            "/CN=localhost",
        ])
        .args(["-addext", "subjectAltName=DNS:localhost"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "openssl req failed");
    (cert, key)
}

/// `openssl s_server` as a child process; killed when dropped.
pub struct OpensslServer {
    pub port: u16,
    child: Child,
}

impl Drop for OpensslServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl OpensslServer {
    /// Starts `s_server -www` with the given protocol and cipher flags, and waits until it
    /// listens.
    pub fn start(openssl: &Path, cert: &Path, key: &Path, flags: &[&str]) -> Self {
        let port = closed_port();
        let mut child = Command::new(openssl)
            .args(["s_server", "-www", "-accept", &format!("127.0.0.1:{port}")])
            .arg("-cert")
            .arg(cert)
            .arg("-key")
            .arg(key)
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (ready_tx, ready_rx) = mpsc::channel();
        // Keep draining stdout for the server's whole life so it never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.contains("ACCEPT") {
                    let _ = ready_tx.send(());
                }
            }
        });
        let server = OpensslServer { port, child };
        if ready_rx.recv_timeout(Duration::from_secs(10)).is_err() {
            panic!("openssl s_server {flags:?} did not start listening on port {port}");
        }
        server
    }
}
