//! Encryption-in-transit posture: an active, opt-in TLS scan of an organisation's own listed
//! endpoints. For one endpoint it finds which protocol versions (SSLv3 to TLS 1.3) and which
//! cipher suites the server accepts, reads and judges the certificate chain (expiry, trust
//! against webpki-roots plus the organisation's own CA, name, self-signature, key and
//! signature strength), reads the HSTS header, and turns that into findings and a grade.
//!
//! Two ways of talking to the server: rustls for real TLS 1.2/1.3 handshakes (suite, chain,
//! HSTS), and a hand-written ClientHello ([`hello`]) for what rustls rightly refuses to speak
//! (SSLv3, TLS 1.0/1.1, RC4, 3DES, NULL, EXPORT), read only as far as the ServerHello.
//!
//! Must never: scan anything it was not handed (no discovery, no sweeps), read the clock (the
//! instant comes in [`ScanOptions::now`]), wait without a timeout, or panic on a server's
//! reply. It sends no application data except one `GET /` when HSTS is asked for.

pub mod cert;
#[doc(hidden)]
pub mod fuzzing;
pub mod grade;
mod handshake;
pub mod hello;
pub mod hsts;
mod probe;
pub mod report;
pub mod suites;
mod target;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rustls_pki_types::CertificateDer;

pub use report::{
    AcceptedSuite, Answer, CertificateInfo, CertificateReport, ChainSource, Finding, Grade,
    HstsPolicy, HstsReport, Protocol, ProtocolResult, ProtocolSuites, Severity, Support, TlsReport,
};
pub use suites::SuiteStrength;
pub use target::{Target, TargetError};

use crate::cert::{TrustContext, assess_chain};
use crate::handshake::{Handshake, HandshakeFailure, handshake};
use crate::probe::{LegacyResult, probe_protocol};

/// How to scan.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Longest wait for one probe's answer (after the TCP connection is open).
    pub timeout: Duration,
    /// Longest wait for a TCP connection (including name resolution).
    pub connect_timeout: Duration,
    /// The organisation's private CA certificates, trusted in addition to webpki-roots.
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// Send `GET /` over TLS and check the Strict-Transport-Security header.
    pub check_hsts: bool,
    /// The instant certificates are judged at and the report is stamped with.
    pub now: DateTime<Utc>,
}

impl ScanOptions {
    /// Defaults: 5 s per probe, 3 s to connect, no extra roots, HSTS checked.
    pub fn new(now: DateTime<Utc>) -> Self {
        ScanOptions {
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(3),
            extra_roots: Vec::new(),
            check_hsts: true,
            now,
        }
    }
}

/// Scans one endpoint. Never fails: an unreachable or non-TLS endpoint is a report that says
/// so. Connections are made one at a time; the worst case for a silent endpoint is about
/// `connect_timeout + 2 × (connect_timeout + timeout)`.
pub async fn scan(target: &Target, options: &ScanOptions) -> TlsReport {
    let mut report = TlsReport {
        target: target.to_string(),
        server_name: Some(target.effective_name().to_owned())
            .filter(|_| target.server_name.is_some() || !target.host_is_ip()),
        scanned_at: options.now,
        reachable: false,
        connect_error: None,
        answer: Answer::NoAnswer,
        protocols: Vec::new(),
        cipher_suites: Vec::new(),
        tls13_cipher_suite: None,
        certificate: None,
        hsts: None,
        findings: Vec::new(),
        grade: None,
    };
    if let Err(error) = probe::connect(target, options.connect_timeout).await {
        report.connect_error = Some(error);
        return finish(report, Vec::new());
    }
    report.reachable = true;

    let (roots, rejected_roots) = cert::trust_store(&options.extra_roots);
    let roots = Arc::new(roots);
    let notes: Vec<Finding> = rejected_roots
        .into_iter()
        .map(|message| Finding {
            severity: Severity::Info,
            code: "scan.extra_root_invalid".to_owned(),
            message,
        })
        .collect();

    // The TLS 1.2 probe goes first: it shows at once whether the port speaks TLS at all.
    let tls12 = probe_protocol(target, Protocol::Tls12, options).await;
    if tls12.not_tls {
        report.answer = Answer::NotTls;
        report.protocols.push(tls12.support);
        return finish(report, notes);
    }
    let tls13 = handshake(
        target,
        options,
        Protocol::Tls13,
        roots.clone(),
        options.check_hsts,
    )
    .await;
    let full = match tls13 {
        Ok(done) => Ok(done),
        Err(failure) if tls12.timed_out && !failure.refused => {
            // Nothing answers in TLS; probing four more versions would only repeat the wait.
            report.protocols.push(tls12.support);
            report.protocols.push(tls13_failure(&failure));
            return finish(report, notes);
        }
        Err(failure) => {
            report.protocols.push(tls13_failure(&failure));
            handshake(
                target,
                options,
                Protocol::Tls12,
                roots.clone(),
                options.check_hsts,
            )
            .await
            .map_err(|tls12_failure| HandshakeFailure {
                certificate: tls12_failure.certificate.or(failure.certificate),
                ..tls12_failure
            })
        }
    };

    let mut legacy: Vec<LegacyResult> = Vec::with_capacity(4);
    for protocol in [Protocol::Ssl3, Protocol::Tls10, Protocol::Tls11] {
        legacy.push(probe_protocol(target, protocol, options).await);
    }
    legacy.push(tls12);

    if full.is_ok() || legacy.iter().any(|result| result.spoke_tls) {
        report.answer = Answer::Tls;
    }
    for result in &legacy {
        report.protocols.push(result.support.clone());
        if let Some(suites) = &result.suites {
            report.cipher_suites.push(suites.clone());
        }
    }
    match full {
        Ok(Handshake {
            protocol,
            cipher_suite,
            certificate,
            hsts,
        }) => {
            if protocol == Protocol::Tls13 {
                report.protocols.push(ProtocolResult {
                    protocol,
                    support: Support::Supported,
                    detail: Some(format!("handshake completed with {cipher_suite}")),
                });
                report.tls13_cipher_suite = Some(cipher_suite);
            }
            report.certificate = certificate;
            report.hsts = hsts;
        }
        Err(HandshakeFailure {
            certificate: Some(certificate),
            ..
        }) => {
            report.certificate = Some(certificate);
        }
        Err(_) => {
            // rustls could not finish a handshake (a TLS 1.0-only server, say); the chain
            // sent in the clear during a legacy probe still tells expiry and trust.
            let trust = TrustContext {
                roots: &roots,
                algorithms: rustls::crypto::ring::default_provider()
                    .signature_verification_algorithms,
            };
            report.certificate = legacy
                .iter()
                .rev()
                .find(|result| !result.certificates.is_empty())
                .and_then(|result| {
                    let chain: Vec<CertificateDer<'static>> = result
                        .certificates
                        .iter()
                        .map(|der| CertificateDer::from(der.clone()))
                        .collect();
                    assess_chain(
                        &chain,
                        Some(target.effective_name()),
                        &trust,
                        options.now,
                        ChainSource::LegacyProbe,
                    )
                });
        }
    }
    report.protocols.sort_by_key(|result| result.protocol);
    finish(report, notes)
}

/// A TLS 1.3 handshake that got as far as the server's certificate proves the version is
/// supported even if it then failed (on a demanded client certificate, say).
fn tls13_failure(failure: &HandshakeFailure) -> ProtocolResult {
    let support = match (failure.certificate.is_some(), failure.refused) {
        (true, _) => Support::Supported,
        (false, true) => Support::NotSupported,
        (false, false) => Support::Inconclusive,
    };
    ProtocolResult {
        protocol: Protocol::Tls13,
        support,
        detail: Some(failure.message.clone()),
    }
}

fn finish(mut report: TlsReport, notes: Vec<Finding>) -> TlsReport {
    let mut findings = grade::findings(&report);
    findings.extend(notes);
    report.grade = grade::grade(
        report.reachable && report.answer != Answer::NoAnswer,
        &findings,
    );
    report.findings = findings;
    report
}
