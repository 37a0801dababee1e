//! The scan's result: plain serialisable data, no IO. A report is what the inventory's
//! "encryption in transit" flag and the encryption-coverage view are built from, so every
//! conclusion in it carries the evidence it rests on (the server's answer, the verifier's
//! error text, the header as received).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::suites::SuiteStrength;

/// A protocol version the scanner probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Protocol {
    #[serde(rename = "SSLv3")]
    Ssl3,
    #[serde(rename = "TLSv1.0")]
    Tls10,
    #[serde(rename = "TLSv1.1")]
    Tls11,
    #[serde(rename = "TLSv1.2")]
    Tls12,
    #[serde(rename = "TLSv1.3")]
    Tls13,
}

impl Protocol {
    /// All probed versions, oldest first.
    pub const ALL: [Protocol; 5] = [
        Protocol::Ssl3,
        Protocol::Tls10,
        Protocol::Tls11,
        Protocol::Tls12,
        Protocol::Tls13,
    ];

    /// The version number on the wire (`ProtocolVersion` in RFC 8446).
    pub fn wire_version(self) -> u16 {
        match self {
            Protocol::Ssl3 => 0x0300,
            Protocol::Tls10 => 0x0301,
            Protocol::Tls11 => 0x0302,
            Protocol::Tls12 => 0x0303,
            Protocol::Tls13 => 0x0304,
        }
    }

    /// The version with this wire number, if it is one the scanner knows.
    pub fn from_wire(version: u16) -> Option<Protocol> {
        Protocol::ALL
            .into_iter()
            .find(|protocol| protocol.wire_version() == version)
    }

    /// The conventional name, as in the JSON report.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Ssl3 => "SSLv3",
            Protocol::Tls10 => "TLSv1.0",
            Protocol::Tls11 => "TLSv1.1",
            Protocol::Tls12 => "TLSv1.2",
            Protocol::Tls13 => "TLSv1.3",
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The whole result of scanning one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TlsReport {
    /// The endpoint as `host:port` (`[v6]:port` for IPv6 literals).
    pub target: String,
    /// The name sent as SNI and checked against the certificate, if any (none for a bare IP
    /// address without an explicit server name).
    pub server_name: Option<String>,
    /// The instant the scan was evaluated at (from `ScanOptions::now`).
    pub scanned_at: DateTime<Utc>,
    /// Whether a TCP connection could be opened.
    pub reachable: bool,
    /// Why the TCP connection failed, when it did.
    pub connect_error: Option<String>,
    /// What kind of answer the port gave to a ClientHello.
    pub answer: Answer,
    /// One entry per probed version, oldest first.
    pub protocols: Vec<ProtocolResult>,
    /// Suites accepted, per supported version up to TLS 1.2.
    pub cipher_suites: Vec<ProtocolSuites>,
    /// The suite the server chose in a TLS 1.3 handshake (IANA name).
    pub tls13_cipher_suite: Option<String>,
    /// The server's certificate chain and what was found wrong with it.
    pub certificate: Option<CertificateReport>,
    /// The HSTS check, when it was asked for and a TLS connection was possible.
    pub hsts: Option<HstsReport>,
    /// Everything worth acting on, worst first.
    pub findings: Vec<Finding>,
    /// Overall grade; `None` when nothing could be measured (see [`crate::grade`]).
    pub grade: Option<Grade>,
}

impl TlsReport {
    /// Whether the scan found this protocol version supported.
    pub fn supports(&self, protocol: Protocol) -> bool {
        self.protocols
            .iter()
            .any(|result| result.protocol == protocol && result.support == Support::Supported)
    }

    /// The suites accepted under one version (empty when none or not probed).
    pub fn accepted_suites(&self, protocol: Protocol) -> &[AcceptedSuite] {
        self.cipher_suites
            .iter()
            .find(|suites| suites.protocol == protocol)
            .map(|suites| suites.accepted.as_slice())
            .unwrap_or(&[])
    }

    /// Whether a finding with this code was raised.
    pub fn has_finding(&self, code: &str) -> bool {
        self.findings.iter().any(|finding| finding.code == code)
    }
}

/// What the port answered to a ClientHello.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// A ServerHello or a TLS alert: the port speaks TLS.
    Tls,
    /// Bytes that are not TLS (an HTTP 400, an SSH banner): the service is plaintext.
    NotTls,
    /// Nothing usable: unreachable, silent until the timeout, or closed without a word.
    NoAnswer,
}

/// Whether one protocol version is supported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtocolResult {
    pub protocol: Protocol,
    pub support: Support,
    /// What the server did: the suite it chose, the alert it sent, "connection closed",
    /// "timed out".
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Support {
    Supported,
    NotSupported,
    /// No clear answer (timeout, reset, malformed reply): neither claimed nor ruled out.
    Inconclusive,
}

/// The suites one version accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtocolSuites {
    pub protocol: Protocol,
    /// In the order the server chose them (its preference when it enforces one).
    pub accepted: Vec<AcceptedSuite>,
    /// False when enumeration stopped early (timeout, connection error), so the list may be
    /// missing suites.
    pub complete: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptedSuite {
    pub id: u16,
    pub name: String,
    pub strength: SuiteStrength,
    pub forward_secret: bool,
}

/// Where the certificate chain came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChainSource {
    /// A full rustls handshake (TLS 1.2 or 1.3).
    Handshake,
    /// The plaintext Certificate message of a legacy (TLS 1.1 or older) probe, for servers
    /// rustls cannot talk to.
    LegacyProbe,
}

/// The certificate chain as presented, and the checks made on it at `scanned_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertificateReport {
    pub source: ChainSource,
    /// Leaf first, then the intermediates in the order the server sent them.
    pub chain: Vec<CertificateInfo>,
    /// The name the leaf was checked against (server name, else the host).
    pub checked_name: Option<String>,
    pub expired: bool,
    pub not_yet_valid: bool,
    /// Valid now but expires within 30 days.
    pub expiring_soon: bool,
    /// Whole days from `scanned_at` to the leaf's `not_after` (negative once expired).
    pub days_until_expiry: Option<i64>,
    /// The leaf is its own issuer.
    pub self_signed: bool,
    /// The chain leads to a trusted root (webpki-roots or the organisation's own), judged
    /// inside the leaf's validity period so that an expired certificate from a trusted CA
    /// is not also called untrusted.
    pub trusted: bool,
    /// Why the chain is not trusted, in the verifier's words.
    pub trust_error: Option<String>,
    pub name_matches: bool,
    pub name_error: Option<String>,
    /// The full verification's error at `scanned_at` (what a browser would refuse with).
    pub verify_error: Option<String>,
}

/// One certificate, described.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateInfo {
    pub subject: String,
    pub issuer: String,
    /// DNS names and IP addresses from the subjectAltName extension.
    pub subject_alt_names: Vec<String>,
    /// Serial number in hexadecimal.
    pub serial: String,
    pub not_before: Option<DateTime<Utc>>,
    pub not_after: Option<DateTime<Utc>>,
    /// "RSA", "EC P-256", "Ed25519", … or the algorithm's OID when unknown.
    pub key_type: String,
    pub key_bits: u32,
    /// "sha256WithRSAEncryption", "ecdsa-with-SHA256", … or the OID when unknown.
    pub signature_algorithm: String,
    /// SHA-256 over the DER encoding, lowercase hex.
    pub fingerprint_sha256: String,
    pub is_ca: bool,
    /// Set when the DER could not be parsed; the other fields are then empty.
    pub parse_error: Option<String>,
}

/// What the HTTP response over TLS said about Strict-Transport-Security.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HstsReport {
    /// HTTP status of `GET /`.
    pub status: Option<u16>,
    /// The header's value as received.
    pub header: Option<String>,
    pub policy: Option<HstsPolicy>,
    /// Why no policy could be read: no HTTP answer, malformed header, timeout.
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HstsPolicy {
    pub max_age: u64,
    pub include_subdomains: bool,
    pub preload: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

/// Something worth acting on, with a stable machine-readable code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub severity: Severity,
    /// Dotted, stable code, e.g. `tls.protocol.tls10`, `tls.cert.expired`.
    pub code: String,
    pub message: String,
}

/// Overall grade, derived from the worst finding (rules in [`crate::grade`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Grade {
    A,
    B,
    C,
    F,
}
