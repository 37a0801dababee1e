//! Describing a certificate chain and judging it: validity at the given instant, the name,
//! self-signature, and whether it leads to a trusted root (webpki-roots plus the
//! organisation's own CAs), using the same webpki path validation rustls uses.
//!
//! No IO and no clock: the instant is a parameter. Certificates are untrusted input, so every
//! parse failure becomes a described entry, never a panic.

use chrono::{DateTime, TimeDelta, Utc};
use rustls::RootCertStore;
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::server::ParsedCertificate;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};
use x509_parser::prelude::{GeneralName, X509Certificate};
use x509_parser::public_key::PublicKey;

use crate::report::{CertificateInfo, CertificateReport, ChainSource};

/// A certificate expiring within this many days is flagged.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// What a chain is verified against.
pub(crate) struct TrustContext<'a> {
    pub roots: &'a RootCertStore,
    pub algorithms: WebPkiSupportedAlgorithms,
}

/// The trust store: webpki-roots plus the organisation's extra roots. Extra roots that cannot
/// be used as trust anchors are returned with the reason, so the report can say so.
pub(crate) fn trust_store(extra_roots: &[CertificateDer<'static>]) -> (RootCertStore, Vec<String>) {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let mut rejected = Vec::new();
    for (index, root) in extra_roots.iter().enumerate() {
        if let Err(error) = roots.add(root.clone()) {
            rejected.push(format!(
                "extra root #{index} is not a usable trust anchor: {error}"
            ));
        }
    }
    (roots, rejected)
}

/// Describes and judges a chain (leaf first). `None` for an empty chain.
pub(crate) fn assess_chain(
    chain: &[CertificateDer<'static>],
    name: Option<&str>,
    trust: &TrustContext<'_>,
    now: DateTime<Utc>,
    source: ChainSource,
) -> Option<CertificateReport> {
    let leaf_der = chain.first()?;
    let infos: Vec<CertificateInfo> = chain.iter().map(|der| describe(der)).collect();
    let leaf = infos.first()?;
    let intermediates = chain.get(1..).unwrap_or(&[]);

    let (not_before, not_after) = (leaf.not_before, leaf.not_after);
    let expired = not_after.is_some_and(|end| now > end);
    let not_yet_valid = not_before.is_some_and(|start| now < start);
    let remaining = not_after.map(|end| end - now);
    let expiring_soon = !expired
        && !not_yet_valid
        && remaining.is_some_and(|left| left <= TimeDelta::days(EXPIRY_WARNING_DAYS));

    let parsed = ParsedCertificate::try_from(leaf_der);
    let verify_at = |instant: DateTime<Utc>| -> Result<(), String> {
        let parsed = parsed.as_ref().map_err(|error| error.to_string())?;
        verify_server_cert_signed_by_trust_anchor(
            parsed,
            trust.roots,
            intermediates,
            unix_time(instant),
            trust.algorithms.all,
        )
        .map_err(|error| error.to_string())
    };
    // Trust is judged inside the leaf's validity window, so "expired" and "untrusted" are
    // separate answers rather than the first error path validation happens to hit.
    let trust_instant = match (not_before, not_after) {
        (Some(start), Some(end)) if start <= end => start + (end - start) / 2,
        _ => now,
    };
    let trust_result = verify_at(trust_instant);
    let chain_now = verify_at(now);

    let server_name = name.map(|name| {
        ServerName::try_from(name.to_owned())
            .map_err(|_| format!("{name:?} is neither a DNS name nor an IP address"))
    });
    let name_result = match (&server_name, &parsed) {
        (None, _) => Err("no server name or host to check the certificate against".to_owned()),
        (Some(Err(reason)), _) => Err(reason.clone()),
        (Some(Ok(_)), Err(error)) => Err(error.to_string()),
        (Some(Ok(server_name)), Ok(parsed)) => {
            verify_server_name(parsed, server_name).map_err(|error| error.to_string())
        }
    };

    Some(CertificateReport {
        source,
        checked_name: name.map(str::to_owned),
        expired,
        not_yet_valid,
        expiring_soon,
        days_until_expiry: remaining.map(|left| left.num_days()),
        self_signed: is_self_issued(leaf_der),
        trusted: trust_result.is_ok(),
        trust_error: trust_result.err(),
        name_matches: name_result.is_ok(),
        name_error: name_result.as_ref().err().cloned(),
        verify_error: chain_now.err().or(name_result.err()),
        chain: infos,
    })
}

pub(crate) fn unix_time(instant: DateTime<Utc>) -> UnixTime {
    UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        u64::try_from(instant.timestamp()).unwrap_or(0),
    ))
}

/// Subject and issuer are the same name: the certificate signed itself.
fn is_self_issued(der: &[u8]) -> bool {
    x509_parser::parse_x509_certificate(der)
        .is_ok_and(|(_, cert)| cert.subject().as_raw() == cert.issuer().as_raw())
}

/// Describes one DER certificate.
pub fn describe(der: &[u8]) -> CertificateInfo {
    let fingerprint_sha256 = hex(&Sha256::digest(der));
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => describe_parsed(&cert, fingerprint_sha256),
        Err(error) => CertificateInfo {
            subject: String::new(),
            issuer: String::new(),
            subject_alt_names: Vec::new(),
            serial: String::new(),
            not_before: None,
            not_after: None,
            key_type: String::new(),
            key_bits: 0,
            signature_algorithm: String::new(),
            fingerprint_sha256,
            is_ca: false,
            parse_error: Some(format!("certificate could not be parsed: {error}")),
        },
    }
}

fn describe_parsed(cert: &X509Certificate<'_>, fingerprint_sha256: String) -> CertificateInfo {
    let subject_alt_names = match cert.subject_alternative_name() {
        Ok(Some(extension)) => extension
            .value
            .general_names
            .iter()
            .filter_map(|name| match name {
                GeneralName::DNSName(dns) => Some((*dns).to_owned()),
                GeneralName::IPAddress(bytes) => ip_to_string(bytes),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let validity = cert.validity();
    let (key_type, key_bits) = key_description(cert);
    CertificateInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        subject_alt_names,
        serial: hex(cert.raw_serial()),
        not_before: DateTime::from_timestamp(validity.not_before.timestamp(), 0),
        not_after: DateTime::from_timestamp(validity.not_after.timestamp(), 0),
        key_type,
        key_bits,
        signature_algorithm: signature_name(&cert.signature_algorithm.algorithm.to_id_string()),
        fingerprint_sha256,
        is_ca: cert.is_ca(),
        parse_error: None,
    }
}

fn ip_to_string(bytes: &[u8]) -> Option<String> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Some(std::net::Ipv4Addr::from(v4).to_string());
    }
    <[u8; 16]>::try_from(bytes)
        .ok()
        .map(|v6| std::net::Ipv6Addr::from(v6).to_string())
}

fn key_description(cert: &X509Certificate<'_>) -> (String, u32) {
    let spki = cert.public_key();
    let algorithm = spki.algorithm.algorithm.to_id_string();
    let bits = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    match algorithm.as_str() {
        "1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.10" => {
            let label = if algorithm.ends_with(".10") {
                "RSA-PSS"
            } else {
                "RSA"
            };
            let size = match spki.parsed() {
                Ok(PublicKey::RSA(rsa)) => modulus_bits(rsa.modulus),
                _ => 0,
            };
            (label.to_owned(), size)
        }
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|parameters| parameters.as_oid().ok())
                .map(|oid| oid.to_id_string());
            let (name, size) = match curve.as_deref() {
                Some("1.2.840.10045.3.1.7") => ("EC P-256".to_owned(), 256),
                Some("1.3.132.0.34") => ("EC P-384".to_owned(), 384),
                Some("1.3.132.0.35") => ("EC P-521".to_owned(), 521),
                Some(other) => {
                    let size = match spki.parsed() {
                        Ok(key) => bits(key.key_size()),
                        Err(_) => 0,
                    };
                    (format!("EC {other}"), size)
                }
                None => ("EC".to_owned(), 0),
            };
            (name, size)
        }
        "1.3.101.112" => ("Ed25519".to_owned(), 256),
        "1.3.101.113" => ("Ed448".to_owned(), 456),
        "1.2.840.10040.4.1" => {
            let size = match spki.parsed() {
                Ok(key) => bits(key.key_size()),
                Err(_) => 0,
            };
            ("DSA".to_owned(), size)
        }
        other => (other.to_owned(), 0),
    }
}

/// Significant bits of a big-endian unsigned integer (leading zero bytes ignored).
fn modulus_bits(modulus: &[u8]) -> u32 {
    let significant: &[u8] = match modulus.iter().position(|&byte| byte != 0) {
        Some(start) => modulus.get(start..).unwrap_or(&[]),
        None => &[],
    };
    match significant.first() {
        Some(&top) => {
            let len = u32::try_from(significant.len()).unwrap_or(u32::MAX / 8);
            (len - 1) * 8 + (8 - top.leading_zeros())
        }
        None => 0,
    }
}

fn signature_name(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "rsassaPss",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        "1.2.840.10040.4.3" => "dsa-with-SHA1",
        other => return other.to_owned(),
    }
    .to_owned()
}

/// Whether a signature algorithm (as [`describe`] names it) rests on a broken hash.
pub fn is_weak_signature(name: &str) -> bool {
    name.starts_with("md5") || name.contains("sha1") || name.ends_with("SHA1")
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_modulus_bits_ignoring_leading_zero_bytes() {
        assert_eq!(modulus_bits(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(modulus_bits(&[0x01, 0xFF]), 9);
        assert_eq!(modulus_bits(&[0, 0, 0]), 0);
        assert_eq!(modulus_bits(&[]), 0);
    }

    #[test]
    fn garbage_is_described_with_a_parse_error_not_a_panic() {
        let info = describe(b"definitely not DER");
        assert!(info.parse_error.is_some());
        assert_eq!(info.fingerprint_sha256.len(), 64);
        let mut state = 1u32;
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (state >> 24) as u8
                })
                .collect();
            let mut der = vec![0x30, 0x82, 0x01, 0x00];
            der.extend(bytes);
            let _ = describe(&der);
        }
    }

    #[test]
    fn flags_md5_and_sha1_signatures_only() {
        assert!(is_weak_signature("sha1WithRSAEncryption"));
        assert!(is_weak_signature("ecdsa-with-SHA1"));
        assert!(is_weak_signature("md5WithRSAEncryption"));
        assert!(!is_weak_signature("sha256WithRSAEncryption"));
        assert!(!is_weak_signature("ecdsa-with-SHA256"));
    }
}
