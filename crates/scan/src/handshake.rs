//! A full rustls handshake, pinned to TLS 1.3 or TLS 1.2, with a certificate verifier that
//! records the chain and judges it (trust, validity, name) instead of refusing it: a scanner
//! has to finish the handshake with an untrusted server to report on it. Handshake signatures
//! are still verified properly, so what is recorded is what the server holds the key for.
//! Over the established connection, optionally, one `GET /` to read the HSTS header.
//!
//! Must never be used to carry data anywhere: the verifier accepts any certificate.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::time_provider::TimeProvider;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{Instant, timeout_at};
use tokio_rustls::TlsConnector;

use crate::ScanOptions;
use crate::cert::{TrustContext, assess_chain, unix_time};
use crate::hsts::{head_end, parse_hsts, parse_response_head};
use crate::probe::connect;
use crate::report::{CertificateReport, ChainSource, HstsReport, Protocol};
use crate::target::Target;

/// Bytes of HTTP response head read at most.
const MAX_HTTP_HEAD: usize = 64 * 1024;

/// A completed handshake.
pub(crate) struct Handshake {
    pub protocol: Protocol,
    pub cipher_suite: String,
    pub certificate: Option<CertificateReport>,
    pub hsts: Option<HstsReport>,
}

/// Why a handshake did not complete.
pub(crate) struct HandshakeFailure {
    /// True when the server answered and refused (so the version is not supported); false for
    /// timeouts and connection failures, which prove nothing.
    pub refused: bool,
    pub message: String,
    /// The chain, when the server sent one before the handshake failed (a server that
    /// demands a client certificate refuses only after presenting its own).
    pub certificate: Option<CertificateReport>,
}

/// Runs one handshake at `protocol` (TLS 1.2 or 1.3 only).
pub(crate) async fn handshake(
    target: &Target,
    options: &ScanOptions,
    protocol: Protocol,
    roots: Arc<RootCertStore>,
    check_hsts: bool,
) -> Result<Handshake, HandshakeFailure> {
    let inconclusive = |message: String| HandshakeFailure {
        refused: false,
        message,
        certificate: None,
    };
    let version = match protocol {
        Protocol::Tls13 => &rustls::version::TLS13,
        Protocol::Tls12 => &rustls::version::TLS12,
        other => return Err(inconclusive(format!("rustls cannot speak {other}"))),
    };
    let name = target.effective_name().to_owned();
    let server_name = ServerName::try_from(name.clone())
        .map_err(|_| inconclusive(format!("{name:?} is neither a DNS name nor an IP address")))?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let recorder = Arc::new(RecordingVerifier {
        roots,
        algorithms: provider.signature_verification_algorithms,
        name: name.clone(),
        now: options.now,
        recorded: Mutex::new(None),
    });
    let config =
        ClientConfig::builder_with_details(provider, Arc::new(FixedClock(unix_time(options.now))))
            .with_protocol_versions(&[version])
            .map_err(|error| inconclusive(format!("rustls refused the configuration: {error}")))?
            .dangerous()
            .with_custom_certificate_verifier(recorder.clone())
            .with_no_client_auth();

    let deadline = Instant::now() + options.connect_timeout + options.timeout;
    let tcp = connect(target, options.connect_timeout)
        .await
        .map_err(inconclusive)?;
    let connector = TlsConnector::from(Arc::new(config));
    let mut tls = match timeout_at(deadline, connector.connect(server_name, tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(error)) => {
            return Err(HandshakeFailure {
                refused: true,
                message: format!("{protocol} handshake failed: {error}"),
                certificate: recorder
                    .recorded
                    .lock()
                    .ok()
                    .and_then(|mut recorded| recorded.take()),
            });
        }
        Err(_) => {
            return Err(inconclusive(format!(
                "{protocol} handshake did not finish within {} ms",
                options.timeout.as_millis()
            )));
        }
    };

    let (_, connection) = tls.get_ref();
    let cipher_suite = connection
        .negotiated_cipher_suite()
        .map(|suite| {
            let suite = suite.suite();
            // rustls says TLS13_AES_128_GCM_SHA256; the IANA name has no "13".
            match suite.as_str() {
                Some(name) => name.replacen("TLS13_", "TLS_", 1),
                None => format!("{suite:?}"),
            }
        })
        .unwrap_or_default();
    let negotiated = connection
        .protocol_version()
        .map(u16::from)
        .and_then(Protocol::from_wire);
    if negotiated != Some(protocol) {
        return Err(inconclusive(format!(
            "asked for {protocol}, rustls negotiated {negotiated:?}"
        )));
    }
    let certificate = recorder
        .recorded
        .lock()
        .ok()
        .and_then(|mut recorded| recorded.take());

    let hsts = if check_hsts {
        Some(
            fetch_hsts(
                &mut tls,
                &host_header(target),
                Instant::now() + options.timeout,
            )
            .await,
        )
    } else {
        None
    };
    Ok(Handshake {
        protocol,
        cipher_suite,
        certificate,
        hsts,
    })
}

async fn fetch_hsts<S>(stream: &mut S, host: &str, deadline: Instant) -> HstsReport
where
    S: AsyncReadExt + AsyncWriteExt + Unpin,
{
    let mut report = HstsReport {
        status: None,
        header: None,
        policy: None,
        error: None,
    };
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: ward-scan\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    match timeout_at(deadline, stream.write_all(request.as_bytes())).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            report.error = Some(format!("could not send the HTTP request: {error}"));
            return report;
        }
        Err(_) => {
            report.error = Some("timed out sending the HTTP request".to_owned());
            return report;
        }
    }
    let mut received = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    while head_end(&received).is_none() && received.len() < MAX_HTTP_HEAD {
        match timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => received.extend_from_slice(chunk.get(..n).unwrap_or(&[])),
            // Servers often drop TLS without close_notify after `Connection: close`.
            Ok(Err(_)) => break,
            Err(_) => {
                if received.is_empty() {
                    report.error = Some("no HTTP response before the timeout".to_owned());
                    return report;
                }
                break;
            }
        }
    }
    let head = match parse_response_head(&received) {
        Ok(head) => head,
        Err(error) => {
            report.error = Some(error);
            return report;
        }
    };
    report.status = Some(head.status);
    // RFC 6797 8.1: only the first header is processed.
    if let Some(value) = head.values("Strict-Transport-Security").next() {
        report.header = Some(value.to_owned());
        match parse_hsts(value) {
            Ok(policy) => report.policy = Some(policy),
            Err(error) => {
                report.error = Some(format!("Strict-Transport-Security is invalid: {error}"))
            }
        }
    }
    report
}

/// The Host header: the server name (bracketed if an IPv6 literal), with the port unless 443.
fn host_header(target: &Target) -> String {
    let name = target.effective_name();
    let name = if name.contains(':') {
        format!("[{name}]")
    } else {
        name.to_owned()
    };
    if target.port == 443 {
        name
    } else {
        format!("{name}:{}", target.port)
    }
}

/// rustls asks for the time; the scan's instant comes from the caller.
#[derive(Debug)]
struct FixedClock(UnixTime);

impl TimeProvider for FixedClock {
    fn current_time(&self) -> Option<UnixTime> {
        Some(self.0)
    }
}

/// Records and judges the presented chain, then lets the handshake go on whatever it found.
#[derive(Debug)]
struct RecordingVerifier {
    roots: Arc<RootCertStore>,
    algorithms: WebPkiSupportedAlgorithms,
    name: String,
    now: DateTime<Utc>,
    recorded: Mutex<Option<CertificateReport>>,
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let chain: Vec<CertificateDer<'static>> = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|der| der.clone().into_owned())
            .collect();
        let trust = TrustContext {
            roots: &self.roots,
            algorithms: self.algorithms,
        };
        let report = assess_chain(
            &chain,
            Some(&self.name),
            &trust,
            self.now,
            ChainSource::Handshake,
        );
        if let Ok(mut recorded) = self.recorded.lock() {
            *recorded = report;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
