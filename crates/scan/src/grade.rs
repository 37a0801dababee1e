//! From the evidence in a report to findings and a grade. Pure functions over the report.
//!
//! Grading rules, deliberately simple so an IT lead can predict them:
//! - no grade (`None`) when nothing could be measured: the endpoint was unreachable, or it
//!   accepted the connection but never answered a ClientHello (a `tls.no_answer` finding);
//! - **F** if any finding is critical: the port does not speak TLS or no version could be
//!   negotiated, SSLv3, an insecure suite (NULL, EXPORT, anonymous, DES, RC2), or a
//!   certificate that is expired, not yet valid, self-signed, untrusted or for another name;
//! - **C** if any finding is high: TLS 1.0 or 1.1 enabled, RC4 or 3DES accepted, neither
//!   TLS 1.2 nor 1.3 available, an RSA key under 2048 bits (EC under 256), a SHA-1 or MD5
//!   signature in the chain;
//! - **B** if any finding is medium: suites without forward secrecy, no HSTS (or HSTS turned
//!   off with max-age=0 or an invalid header), a certificate expiring within 30 days, no
//!   certificate chain could be read;
//! - **A** otherwise (low and informational findings, such as CBC suites, short HSTS
//!   max-age or no TLS 1.3, do not lower the grade).

use crate::cert::{EXPIRY_WARNING_DAYS, is_weak_signature};
use crate::hsts::MIN_RECOMMENDED_MAX_AGE;
use crate::report::{Answer, Finding, Grade, Protocol, Severity, Support, TlsReport};
use crate::suites::SuiteStrength;

fn finding(severity: Severity, code: &str, message: impl Into<String>) -> Finding {
    Finding {
        severity,
        code: code.to_owned(),
        message: message.into(),
    }
}

/// Everything wrong with the endpoint, worst first.
pub fn findings(report: &TlsReport) -> Vec<Finding> {
    let mut out = Vec::new();
    if !report.reachable {
        let reason = report.connect_error.as_deref().unwrap_or("no reason given");
        out.push(finding(
            Severity::Info,
            "scan.unreachable",
            format!("{} was not reachable: {reason}", report.target),
        ));
        return out;
    }
    if report.answer == Answer::NoAnswer {
        out.push(finding(
            Severity::High,
            "tls.no_answer",
            format!(
                "{} accepted a connection but gave no TLS answer (silent or closed); whether it encrypts is unknown",
                report.target
            ),
        ));
        return out;
    }
    if report.answer == Answer::NotTls {
        out.push(finding(
            Severity::Critical,
            "tls.not_tls",
            format!("{} accepted a connection but did not answer with TLS: traffic to it is not encrypted", report.target),
        ));
        return out;
    }
    protocol_findings(report, &mut out);
    suite_findings(report, &mut out);
    certificate_findings(report, &mut out);
    hsts_findings(report, &mut out);
    out.sort_by_key(|finding| std::cmp::Reverse(finding.severity));
    out
}

fn protocol_findings(report: &TlsReport, out: &mut Vec<Finding>) {
    let supported: Vec<Protocol> = Protocol::ALL
        .into_iter()
        .filter(|&p| report.supports(p))
        .collect();
    if supported.is_empty() {
        let inconclusive = report
            .protocols
            .iter()
            .any(|result| result.support == Support::Inconclusive);
        let message = if inconclusive {
            "the server answered in TLS but no protocol version could be negotiated (some probes were inconclusive)"
        } else {
            "the server answered in TLS but refused every protocol version"
        };
        out.push(finding(Severity::Critical, "tls.no_protocol", message));
        return;
    }
    for (protocol, severity, code, why) in [
        (
            Protocol::Ssl3,
            Severity::Critical,
            "tls.protocol.ssl3",
            "broken by POODLE",
        ),
        (
            Protocol::Tls10,
            Severity::High,
            "tls.protocol.tls10",
            "deprecated by RFC 8996",
        ),
        (
            Protocol::Tls11,
            Severity::High,
            "tls.protocol.tls11",
            "deprecated by RFC 8996",
        ),
    ] {
        if supported.contains(&protocol) {
            out.push(finding(
                severity,
                code,
                format!("{protocol} is enabled ({why}); disable it"),
            ));
        }
    }
    let modern = supported.contains(&Protocol::Tls12) || supported.contains(&Protocol::Tls13);
    if !modern {
        out.push(finding(
            Severity::High,
            "tls.protocol.no_modern",
            "neither TLS 1.2 nor TLS 1.3 is available; current clients may refuse to connect",
        ));
    } else if !supported.contains(&Protocol::Tls13) {
        out.push(finding(
            Severity::Info,
            "tls.protocol.no_tls13",
            "TLS 1.3 is not available",
        ));
    }
}

fn suite_findings(report: &TlsReport, out: &mut Vec<Finding>) {
    let listed = |strength: SuiteStrength,
                  filter: &dyn Fn(&crate::report::AcceptedSuite) -> bool| {
        let mut names: Vec<String> = Vec::new();
        for suites in &report.cipher_suites {
            for suite in suites
                .accepted
                .iter()
                .filter(|s| s.strength == strength && filter(s))
            {
                let entry = format!("{} ({})", suite.name, suites.protocol);
                if !names.contains(&entry) {
                    names.push(entry);
                }
            }
        }
        names
    };
    let insecure = listed(SuiteStrength::Insecure, &|_| true);
    let weak = listed(SuiteStrength::Weak, &|_| true);
    let cbc = listed(SuiteStrength::Legacy, &|suite| suite.name.contains("_CBC_"));
    let mut no_fs: Vec<String> = Vec::new();
    for suites in &report.cipher_suites {
        for suite in suites.accepted.iter().filter(|suite| !suite.forward_secret) {
            let entry = format!("{} ({})", suite.name, suites.protocol);
            if !no_fs.contains(&entry) {
                no_fs.push(entry);
            }
        }
    }
    if !insecure.is_empty() {
        out.push(finding(
            Severity::Critical,
            "tls.cipher.insecure",
            format!(
                "suites without real encryption or authentication are accepted: {}",
                insecure.join(", ")
            ),
        ));
    }
    if !weak.is_empty() {
        out.push(finding(
            Severity::High,
            "tls.cipher.weak",
            format!(
                "broken ciphers (RC4, 3DES) are accepted: {}",
                weak.join(", ")
            ),
        ));
    }
    if !no_fs.is_empty() {
        out.push(finding(
            Severity::Medium,
            "tls.cipher.no_forward_secrecy",
            format!(
                "suites with static RSA key exchange are accepted: {}",
                no_fs.join(", ")
            ),
        ));
    }
    if !cbc.is_empty() {
        out.push(finding(
            Severity::Low,
            "tls.cipher.cbc",
            format!(
                "CBC-mode suites are accepted; prefer AEAD (GCM, ChaCha20): {}",
                cbc.join(", ")
            ),
        ));
    }
}

fn certificate_findings(report: &TlsReport, out: &mut Vec<Finding>) {
    let Some(cert) = &report.certificate else {
        out.push(finding(
            Severity::Medium,
            "tls.cert.unavailable",
            "no certificate chain could be read, so expiry and trust are unknown",
        ));
        return;
    };
    let leaf = cert.chain.first();
    let subject = leaf.map_or("", |leaf| leaf.subject.as_str());
    if cert.expired {
        let when = leaf
            .and_then(|leaf| leaf.not_after)
            .map_or_else(String::new, |at| format!(" on {}", at.date_naive()));
        out.push(finding(
            Severity::Critical,
            "tls.cert.expired",
            format!("the certificate for {subject} expired{when}"),
        ));
    }
    if cert.not_yet_valid {
        let when = leaf
            .and_then(|leaf| leaf.not_before)
            .map_or_else(String::new, |at| format!(" until {}", at.date_naive()));
        out.push(finding(
            Severity::Critical,
            "tls.cert.not_yet_valid",
            format!("the certificate for {subject} is not valid{when}"),
        ));
    }
    if cert.expiring_soon {
        let days = cert.days_until_expiry.unwrap_or_default();
        out.push(finding(
            Severity::Medium,
            "tls.cert.expiring_soon",
            format!("the certificate for {subject} expires in {days} days (warning at {EXPIRY_WARNING_DAYS})"),
        ));
    }
    if cert.self_signed && !cert.trusted {
        out.push(finding(
            Severity::Critical,
            "tls.cert.self_signed",
            format!("the certificate for {subject} is self-signed and not trusted"),
        ));
    } else if !cert.trusted {
        let reason = cert.trust_error.as_deref().unwrap_or("unknown reason");
        out.push(finding(
            Severity::Critical,
            "tls.cert.untrusted",
            format!("the certificate chain is not trusted: {reason}"),
        ));
    }
    if !cert.name_matches {
        let name = cert.checked_name.as_deref().unwrap_or("");
        let reason = cert.name_error.as_deref().unwrap_or("unknown reason");
        out.push(finding(
            Severity::Critical,
            "tls.cert.name_mismatch",
            format!("the certificate is not valid for {name}: {reason}"),
        ));
    }
    if let Some(leaf) = leaf {
        let weak_key = match leaf.key_type.as_str() {
            "RSA" | "RSA-PSS" | "DSA" => leaf.key_bits < 2048,
            kind if kind.starts_with("EC") => leaf.key_bits < 256,
            _ => false,
        };
        if weak_key {
            out.push(finding(
                Severity::High,
                "tls.cert.weak_key",
                format!(
                    "the certificate's {} key has only {} bits",
                    leaf.key_type, leaf.key_bits
                ),
            ));
        }
    }
    // A root's own signature is never checked, so only the certificates below it count.
    let weak_signatures: Vec<&str> = cert
        .chain
        .iter()
        .filter(|info| !(info.is_ca && info.subject == info.issuer) || cert.chain.len() == 1)
        .filter(|info| is_weak_signature(&info.signature_algorithm))
        .map(|info| info.subject.as_str())
        .collect();
    if !weak_signatures.is_empty() {
        out.push(finding(
            Severity::High,
            "tls.cert.weak_signature",
            format!("signed with SHA-1 or MD5: {}", weak_signatures.join("; ")),
        ));
    }
}

fn hsts_findings(report: &TlsReport, out: &mut Vec<Finding>) {
    let Some(hsts) = &report.hsts else { return };
    match (&hsts.status, &hsts.header, &hsts.policy) {
        (None, _, _) => out.push(finding(
            Severity::Info,
            "tls.hsts.not_checked",
            format!("HSTS could not be checked: {}", hsts.error.as_deref().unwrap_or("no HTTP response")),
        )),
        (Some(_), None, _) => out.push(finding(
            Severity::Medium,
            "tls.hsts.missing",
            "no Strict-Transport-Security header: browsers may be downgraded to plain HTTP",
        )),
        (Some(_), Some(header), None) => out.push(finding(
            Severity::Medium,
            "tls.hsts.invalid",
            format!("Strict-Transport-Security {header:?} is ignored by browsers: {}", hsts.error.as_deref().unwrap_or("")),
        )),
        (Some(_), Some(_), Some(policy)) if policy.max_age == 0 => out.push(finding(
            Severity::Medium,
            "tls.hsts.disabled",
            "Strict-Transport-Security has max-age=0, which tells browsers to forget the policy",
        )),
        (Some(_), Some(_), Some(policy)) if policy.max_age < MIN_RECOMMENDED_MAX_AGE => out.push(finding(
            Severity::Low,
            "tls.hsts.short_max_age",
            format!("HSTS max-age is {} s; at least {MIN_RECOMMENDED_MAX_AGE} s (180 days) is recommended", policy.max_age),
        )),
        _ => {}
    }
}

/// The grade for a set of findings (rules in the module documentation); `measured` is false
/// when the endpoint was unreachable or silent.
pub fn grade(measured: bool, findings: &[Finding]) -> Option<Grade> {
    if !measured {
        return None;
    }
    let worst = findings
        .iter()
        .map(|finding| finding.severity)
        .max()
        .unwrap_or(Severity::Info);
    Some(match worst {
        Severity::Critical => Grade::F,
        Severity::High => Grade::C,
        Severity::Medium => Grade::B,
        Severity::Low | Severity::Info => Grade::A,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{
        AcceptedSuite, CertificateInfo, CertificateReport, ChainSource, HstsPolicy, HstsReport,
        ProtocolResult, ProtocolSuites,
    };

    fn f(severity: Severity) -> Finding {
        finding(severity, "x", "y")
    }

    fn leaf(key_type: &str, key_bits: u32, signature_algorithm: &str) -> CertificateInfo {
        CertificateInfo {
            subject: "CN=pacs.hospital.example".into(),
            issuer: "CN=Hospital CA".into(),
            subject_alt_names: vec!["pacs.hospital.example".into()],
            serial: "01".into(),
            not_before: None,
            not_after: None,
            key_type: key_type.into(),
            key_bits,
            signature_algorithm: signature_algorithm.into(),
            fingerprint_sha256: String::new(),
            is_ca: false,
            parse_error: None,
        }
    }

    /// A healthy TLS 1.2/1.3 endpoint with HSTS, to be spoiled one way per test.
    fn healthy() -> TlsReport {
        let supported = |protocol| ProtocolResult {
            protocol,
            support: Support::Supported,
            detail: None,
        };
        let refused = |protocol| ProtocolResult {
            protocol,
            support: Support::NotSupported,
            detail: None,
        };
        TlsReport {
            target: "pacs.hospital.example:443".into(),
            server_name: Some("pacs.hospital.example".into()),
            scanned_at: chrono::DateTime::UNIX_EPOCH,
            reachable: true,
            connect_error: None,
            answer: Answer::Tls,
            protocols: vec![
                refused(Protocol::Ssl3),
                refused(Protocol::Tls10),
                refused(Protocol::Tls11),
                supported(Protocol::Tls12),
                supported(Protocol::Tls13),
            ],
            cipher_suites: vec![ProtocolSuites {
                protocol: Protocol::Tls12,
                accepted: vec![suite(0xC02F)],
                complete: true,
            }],
            tls13_cipher_suite: Some("TLS_AES_128_GCM_SHA256".into()),
            certificate: Some(CertificateReport {
                source: ChainSource::Handshake,
                chain: vec![leaf("RSA", 2048, "sha256WithRSAEncryption")],
                checked_name: Some("pacs.hospital.example".into()),
                expired: false,
                not_yet_valid: false,
                expiring_soon: false,
                days_until_expiry: Some(200),
                self_signed: false,
                trusted: true,
                trust_error: None,
                name_matches: true,
                name_error: None,
                verify_error: None,
            }),
            hsts: Some(HstsReport {
                status: Some(200),
                header: Some("max-age=31536000".into()),
                policy: Some(HstsPolicy {
                    max_age: 31_536_000,
                    include_subdomains: false,
                    preload: false,
                }),
                error: None,
            }),
            findings: Vec::new(),
            grade: None,
        }
    }

    fn suite(id: u16) -> AcceptedSuite {
        let def = crate::suites::by_id(id).unwrap();
        AcceptedSuite {
            id,
            name: def.name.into(),
            strength: def.strength,
            forward_secret: def.forward_secret,
        }
    }

    fn codes(report: &TlsReport) -> Vec<String> {
        findings(report)
            .into_iter()
            .map(|finding| finding.code)
            .collect()
    }

    #[test]
    fn healthy_endpoint_has_no_findings() {
        assert!(findings(&healthy()).is_empty());
    }

    #[test]
    fn small_keys_and_sha1_signatures_are_high_findings() {
        let mut report = healthy();
        if let Some(cert) = report.certificate.as_mut() {
            cert.chain = vec![leaf("RSA", 1024, "sha1WithRSAEncryption")];
        }
        let found = findings(&report);
        assert_eq!(
            found
                .iter()
                .map(|f| (f.code.as_str(), f.severity))
                .collect::<Vec<_>>(),
            [
                ("tls.cert.weak_key", Severity::High),
                ("tls.cert.weak_signature", Severity::High)
            ]
        );
        assert_eq!(grade(true, &found), Some(Grade::C));
        if let Some(cert) = report.certificate.as_mut() {
            cert.chain = vec![leaf("EC P-256", 256, "ecdsa-with-SHA256")];
        }
        assert!(findings(&report).is_empty());
    }

    #[test]
    fn sslv3_and_export_suites_are_critical_and_rc4_is_weak() {
        let mut report = healthy();
        report.protocols[0].support = Support::Supported;
        report.cipher_suites.push(ProtocolSuites {
            protocol: Protocol::Ssl3,
            accepted: vec![suite(0x0003), suite(0x0005)],
            complete: true,
        });
        assert_eq!(
            codes(&report),
            [
                "tls.protocol.ssl3",
                "tls.cipher.insecure",
                "tls.cipher.weak",
                "tls.cipher.no_forward_secrecy"
            ]
        );
    }

    #[test]
    fn hsts_max_age_zero_turns_the_policy_off() {
        let mut report = healthy();
        if let Some(hsts) = report.hsts.as_mut() {
            hsts.policy = Some(HstsPolicy {
                max_age: 0,
                include_subdomains: false,
                preload: false,
            });
        }
        assert_eq!(codes(&report), ["tls.hsts.disabled"]);
    }

    #[test]
    fn grade_follows_the_worst_finding() {
        assert_eq!(grade(false, &[]), None);
        assert_eq!(grade(true, &[]), Some(Grade::A));
        assert_eq!(
            grade(true, &[f(Severity::Low), f(Severity::Info)]),
            Some(Grade::A)
        );
        assert_eq!(
            grade(true, &[f(Severity::Low), f(Severity::Medium)]),
            Some(Grade::B)
        );
        assert_eq!(
            grade(true, &[f(Severity::High), f(Severity::Medium)]),
            Some(Grade::C)
        );
        assert_eq!(
            grade(true, &[f(Severity::Info), f(Severity::Critical)]),
            Some(Grade::F)
        );
    }
}
