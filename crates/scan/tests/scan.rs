//! The scanner against real servers on the loopback interface: rustls servers with rcgen
//! certificates for the certificate, TLS 1.2/1.3 and HSTS cases, `openssl s_server` for
//! TLS 1.0/1.1 and weak suites, and endpoints that are not TLS at all.

mod support;

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use sha2::{Digest, Sha256};
use support::*;
use ward_scan::{
    Answer, ChainSource, Grade, Protocol, Severity, SuiteStrength, Support, Target, TlsReport, scan,
};

const HSTS_GOOD: &str = "max-age=31536000; includeSubDomains";

fn support_of(report: &TlsReport, protocol: Protocol) -> Support {
    report
        .protocols
        .iter()
        .find(|result| result.protocol == protocol)
        .map(|result| result.support)
        .unwrap()
}

fn accepted_names(report: &TlsReport, protocol: Protocol) -> Vec<&str> {
    let mut names: Vec<&str> = report
        .accepted_suites(protocol)
        .iter()
        .map(|suite| suite.name.as_str())
        .collect();
    names.sort_unstable();
    names
}

fn codes(report: &TlsReport) -> Vec<&str> {
    report
        .findings
        .iter()
        .map(|finding| finding.code.as_str())
        .collect()
}

#[tokio::test]
async fn valid_chain_from_the_organisations_ca_with_hsts_grades_a() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["localhost"], (2025, 1, 1), (2028, 1, 1));
    let server = RustlsServer::start(&leaf, Versions::Both, Some(HSTS_GOOD)).await;

    let report = scan(&target(server.addr), &options(vec![ca.cert.clone()])).await;

    assert!(
        report.reachable && report.answer == Answer::Tls,
        "{report:#?}"
    );
    assert_eq!(support_of(&report, Protocol::Tls13), Support::Supported);
    assert_eq!(support_of(&report, Protocol::Tls12), Support::Supported);
    for old in [Protocol::Ssl3, Protocol::Tls10, Protocol::Tls11] {
        assert_eq!(support_of(&report, old), Support::NotSupported, "{old}");
    }
    // rcgen's key is ECDSA P-256, so rustls accepts exactly its ECDHE-ECDSA AEAD suites.
    assert_eq!(
        accepted_names(&report, Protocol::Tls12),
        [
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
        ]
    );
    assert!(
        report
            .accepted_suites(Protocol::Tls12)
            .iter()
            .all(|suite| suite.strength == SuiteStrength::Strong)
    );
    assert!(report.tls13_cipher_suite.as_deref().is_some_and(|suite| {
        [
            "TLS_AES_128_GCM_SHA256",
            "TLS_AES_256_GCM_SHA384",
            "TLS_CHACHA20_POLY1305_SHA256",
        ]
        .contains(&suite)
    }));

    let cert = report.certificate.as_ref().unwrap();
    assert_eq!(cert.source, ChainSource::Handshake);
    assert!(
        cert.trusted && cert.name_matches && !cert.self_signed && !cert.expired,
        "{cert:#?}"
    );
    assert_eq!(cert.verify_error, None);
    let leaf_info = &cert.chain[0];
    assert_eq!(leaf_info.subject, "CN=localhost");
    assert_eq!(leaf_info.issuer, "CN=Ward Test Hospital CA");
    assert_eq!(leaf_info.subject_alt_names, ["localhost"]);
    assert_eq!(
        (leaf_info.key_type.as_str(), leaf_info.key_bits),
        ("EC P-256", 256)
    );
    assert_eq!(leaf_info.signature_algorithm, "ecdsa-with-SHA256");
    assert_eq!(
        leaf_info.not_after,
        Some(Utc.with_ymd_and_hms(2028, 1, 1, 0, 0, 0).unwrap())
    );
    let expected_fingerprint: String = Sha256::digest(&leaf.cert)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(leaf_info.fingerprint_sha256, expected_fingerprint);

    let hsts = report.hsts.as_ref().unwrap();
    assert_eq!(hsts.status, Some(200));
    let policy = hsts.policy.as_ref().unwrap();
    assert_eq!(
        (policy.max_age, policy.include_subdomains, policy.preload),
        (31_536_000, true, false)
    );

    assert!(
        report
            .findings
            .iter()
            .all(|finding| finding.severity <= Severity::Low),
        "{:?}",
        report.findings
    );
    assert_eq!(report.grade, Some(Grade::A));

    let json = serde_json::to_string_pretty(&report).unwrap();
    assert_eq!(serde_json::from_str::<TlsReport>(&json).unwrap(), report);
}

#[tokio::test]
async fn same_chain_without_the_private_ca_is_untrusted() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["localhost"], (2025, 1, 1), (2028, 1, 1));
    let server = RustlsServer::start(&leaf, Versions::Both, Some(HSTS_GOOD)).await;

    let report = scan(&target(server.addr), &options(vec![])).await;

    let cert = report.certificate.as_ref().unwrap();
    assert!(!cert.trusted && !cert.self_signed && cert.name_matches);
    assert!(
        cert.trust_error
            .as_deref()
            .unwrap()
            .contains("UnknownIssuer"),
        "{cert:#?}"
    );
    assert!(cert.verify_error.is_some());
    assert!(codes(&report).contains(&"tls.cert.untrusted"));
    assert_eq!(report.grade, Some(Grade::F));
}

#[tokio::test]
async fn expired_certificate_is_reported_as_expired_not_untrusted() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["localhost"], (2020, 1, 1), (2021, 1, 1));
    let server = RustlsServer::start(&leaf, Versions::Both, Some(HSTS_GOOD)).await;

    let report = scan(&target(server.addr), &options(vec![ca.cert.clone()])).await;

    let cert = report.certificate.as_ref().unwrap();
    assert!(
        cert.expired && !cert.not_yet_valid && cert.trusted,
        "{cert:#?}"
    );
    assert!(cert.days_until_expiry.unwrap() < -1900);
    assert!(
        cert.verify_error.as_deref().unwrap().contains("expired"),
        "{cert:#?}"
    );
    assert_eq!(codes(&report), ["tls.cert.expired"]);
    assert_eq!(report.findings[0].severity, Severity::Critical);
    assert_eq!(report.grade, Some(Grade::F));
}

#[tokio::test]
async fn not_yet_valid_certificate_is_reported() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["localhost"], (2030, 1, 1), (2031, 1, 1));
    let server = RustlsServer::start(&leaf, Versions::Both, Some(HSTS_GOOD)).await;

    let report = scan(&target(server.addr), &options(vec![ca.cert.clone()])).await;

    let cert = report.certificate.as_ref().unwrap();
    assert!(
        cert.not_yet_valid && !cert.expired && cert.trusted,
        "{cert:#?}"
    );
    assert_eq!(codes(&report), ["tls.cert.not_yet_valid"]);
    assert_eq!(report.grade, Some(Grade::F));
}

#[tokio::test]
async fn certificate_expiring_within_thirty_days_grades_b() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["localhost"], (2025, 6, 1), (2026, 6, 11));
    let server = RustlsServer::start(&leaf, Versions::Both, Some(HSTS_GOOD)).await;

    let report = scan(&target(server.addr), &options(vec![ca.cert.clone()])).await;

    let cert = report.certificate.as_ref().unwrap();
    assert!(cert.expiring_soon && !cert.expired);
    assert_eq!(cert.days_until_expiry, Some(9));
    assert_eq!(codes(&report), ["tls.cert.expiring_soon"]);
    assert_eq!(report.grade, Some(Grade::B));
}

#[tokio::test]
async fn self_signed_certificate_is_reported_as_self_signed() {
    let leaf = self_signed(&["localhost"]);
    let server = RustlsServer::start(&leaf, Versions::Both, Some(HSTS_GOOD)).await;

    let report = scan(&target(server.addr), &options(vec![])).await;

    let cert = report.certificate.as_ref().unwrap();
    assert!(
        cert.self_signed && !cert.trusted && cert.name_matches,
        "{cert:#?}"
    );
    assert_eq!(codes(&report), ["tls.cert.self_signed"]);
    assert_eq!(report.grade, Some(Grade::F));
}

#[tokio::test]
async fn certificate_for_another_name_is_a_mismatch_unless_that_name_is_scanned() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["ehr.hospital.example"], (2025, 1, 1), (2028, 1, 1));
    let server = RustlsServer::start(&leaf, Versions::Both, Some(HSTS_GOOD)).await;
    let opts = options(vec![ca.cert.clone()]);

    let report = scan(&target(server.addr), &opts).await;
    let cert = report.certificate.as_ref().unwrap();
    assert!(!cert.name_matches && cert.trusted, "{cert:#?}");
    assert_eq!(cert.checked_name.as_deref(), Some("localhost"));
    assert!(
        cert.name_error
            .as_deref()
            .unwrap()
            .contains("ehr.hospital.example"),
        "{cert:#?}"
    );
    assert_eq!(codes(&report), ["tls.cert.name_mismatch"]);
    assert_eq!(report.grade, Some(Grade::F));

    // Scanning the address with the virtual host's name as SNI and expected name is clean.
    let by_name =
        Target::new("127.0.0.1", server.addr.port()).with_server_name("ehr.hospital.example");
    let report = scan(&by_name, &opts).await;
    assert_eq!(report.server_name.as_deref(), Some("ehr.hospital.example"));
    assert!(report.certificate.as_ref().unwrap().name_matches);
    assert_eq!(report.grade, Some(Grade::A), "{:?}", report.findings);
}

#[tokio::test]
async fn server_demanding_a_client_certificate_still_shows_its_own_chain() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["localhost"], (2025, 1, 1), (2028, 1, 1));
    let server = RustlsServer::start_requiring_client_certificate(&leaf, &ca).await;

    let report = scan(&target(server.addr), &options(vec![ca.cert.clone()])).await;

    assert_eq!(support_of(&report, Protocol::Tls12), Support::Supported);
    let cert = report.certificate.as_ref().unwrap();
    assert!(cert.trusted && cert.name_matches, "{cert:#?}");
    assert_eq!(cert.chain[0].subject, "CN=localhost");
    assert_eq!(cert.source, ChainSource::Handshake);
    // The handshake never completes, so there is no HTTP answer to read HSTS from.
    assert_eq!(report.hsts, None);
    assert_eq!(report.grade, Some(Grade::A), "{:?}", report.findings);
}

#[tokio::test]
async fn tls13_only_server_has_no_tls12_suites() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["localhost"], (2025, 1, 1), (2028, 1, 1));
    let server = RustlsServer::start(&leaf, Versions::Tls13Only, Some(HSTS_GOOD)).await;

    let report = scan(&target(server.addr), &options(vec![ca.cert.clone()])).await;

    assert_eq!(support_of(&report, Protocol::Tls13), Support::Supported);
    assert_eq!(support_of(&report, Protocol::Tls12), Support::NotSupported);
    let tls12 = report
        .protocols
        .iter()
        .find(|result| result.protocol == Protocol::Tls12)
        .unwrap();
    assert!(
        tls12
            .detail
            .as_deref()
            .unwrap()
            .contains("protocol_version"),
        "{tls12:?}"
    );
    assert!(report.cipher_suites.is_empty());
    assert!(report.tls13_cipher_suite.is_some());
    assert_eq!(report.grade, Some(Grade::A), "{:?}", report.findings);
}

#[tokio::test]
async fn tls12_only_server_is_found_without_tls13() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["localhost"], (2025, 1, 1), (2028, 1, 1));
    let server = RustlsServer::start(&leaf, Versions::Tls12Only, Some(HSTS_GOOD)).await;

    let report = scan(&target(server.addr), &options(vec![ca.cert.clone()])).await;

    assert_eq!(support_of(&report, Protocol::Tls12), Support::Supported);
    assert_eq!(support_of(&report, Protocol::Tls13), Support::NotSupported);
    assert_eq!(report.tls13_cipher_suite, None);
    // The chain and HSTS came from a rustls TLS 1.2 handshake.
    assert_eq!(
        report.certificate.as_ref().unwrap().source,
        ChainSource::Handshake
    );
    assert!(report.hsts.as_ref().unwrap().policy.is_some());
    assert_eq!(codes(&report), ["tls.protocol.no_tls13"]);
    assert_eq!(report.grade, Some(Grade::A));
}

#[tokio::test]
async fn missing_and_short_hsts_are_findings_and_the_check_can_be_turned_off() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["localhost"], (2025, 1, 1), (2028, 1, 1));

    let without = RustlsServer::start(&leaf, Versions::Both, None).await;
    let report = scan(&target(without.addr), &options(vec![ca.cert.clone()])).await;
    let hsts = report.hsts.as_ref().unwrap();
    assert_eq!((hsts.status, hsts.header.as_deref()), (Some(200), None));
    assert_eq!(codes(&report), ["tls.hsts.missing"]);
    assert_eq!(report.grade, Some(Grade::B));

    let mut opts = options(vec![ca.cert.clone()]);
    opts.check_hsts = false;
    let report = scan(&target(without.addr), &opts).await;
    assert_eq!(report.hsts, None);
    assert_eq!(report.grade, Some(Grade::A));

    let short = RustlsServer::start(&leaf, Versions::Both, Some("max-age=3600")).await;
    let report = scan(&target(short.addr), &options(vec![ca.cert.clone()])).await;
    assert_eq!(codes(&report), ["tls.hsts.short_max_age"]);
    assert_eq!(report.grade, Some(Grade::A));

    let broken = RustlsServer::start(&leaf, Versions::Both, Some("includeSubDomains")).await;
    let report = scan(&target(broken.addr), &options(vec![ca.cert.clone()])).await;
    assert_eq!(codes(&report), ["tls.hsts.invalid"]);
}

#[tokio::test]
async fn plain_http_port_is_reported_as_not_tls_quickly() {
    let (addr, server) = plain_http_server().await;
    let started = Instant::now();

    let report = scan(&target(addr), &options(vec![])).await;

    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!((report.reachable, report.answer), (true, Answer::NotTls));
    assert_eq!(codes(&report), ["tls.not_tls"]);
    assert_eq!(report.grade, Some(Grade::F));
    server.abort();
}

#[tokio::test]
async fn silent_port_times_out_instead_of_hanging() {
    let (addr, server) = silent_server().await;
    let mut opts = options(vec![]);
    opts.timeout = Duration::from_millis(400);
    let started = Instant::now();

    let report = scan(&target(addr), &opts).await;

    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!((report.reachable, report.answer), (true, Answer::NoAnswer));
    assert_eq!(support_of(&report, Protocol::Tls12), Support::Inconclusive);
    assert_eq!(support_of(&report, Protocol::Tls13), Support::Inconclusive);
    assert_eq!(codes(&report), ["tls.no_answer"]);
    assert_eq!(report.grade, None);
    server.abort();
}

#[tokio::test]
async fn closed_port_is_unreachable_and_ungraded() {
    let port = closed_port();

    let report = scan(&Target::new("127.0.0.1", port), &options(vec![])).await;

    assert!(!report.reachable);
    assert!(
        report
            .connect_error
            .as_deref()
            .unwrap()
            .contains(&format!("127.0.0.1:{port}"))
    );
    assert!(report.protocols.is_empty());
    assert_eq!(codes(&report), ["scan.unreachable"]);
    assert_eq!(report.grade, None);
}

/// The openssl-made certificate is dated by the real clock, so these scans use it too.
fn openssl_options() -> ward_scan::ScanOptions {
    let mut opts = options(vec![]);
    opts.now = Utc::now();
    opts
}

#[tokio::test]
async fn openssl_tls10_server_is_found_with_its_cbc_and_static_rsa_suites() {
    let Some(openssl) = openssl_or_skip("openssl_tls10_server") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = openssl_rsa_identity(&openssl, dir.path());
    let server = OpensslServer::start(
        &openssl,
        &cert,
        &key,
        &["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"],
    );

    let report = scan(&Target::new("localhost", server.port), &openssl_options()).await;

    assert_eq!(
        support_of(&report, Protocol::Tls10),
        Support::Supported,
        "{report:#?}"
    );
    for other in [
        Protocol::Ssl3,
        Protocol::Tls11,
        Protocol::Tls12,
        Protocol::Tls13,
    ] {
        assert_eq!(support_of(&report, other), Support::NotSupported, "{other}");
    }
    let accepted = accepted_names(&report, Protocol::Tls10);
    for expected in [
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        "TLS_RSA_WITH_AES_256_CBC_SHA",
    ] {
        assert!(
            accepted.contains(&expected),
            "{expected} missing from {accepted:?}"
        );
    }
    assert!(
        accepted.iter().all(|name| !name.contains("GCM")),
        "GCM is TLS 1.2 only: {accepted:?}"
    );
    // rustls cannot talk TLS 1.0, so the chain comes from the probe's plaintext Certificate.
    let chain = report.certificate.as_ref().unwrap();
    assert_eq!(chain.source, ChainSource::LegacyProbe);
    assert_eq!(chain.chain[0].subject, "CN=localhost");
    assert_eq!(
        (chain.chain[0].key_type.as_str(), chain.chain[0].key_bits),
        ("RSA", 2048)
    );
    assert!(chain.self_signed && chain.name_matches);
    let codes = codes(&report);
    for expected in [
        "tls.protocol.tls10",
        "tls.protocol.no_modern",
        "tls.cipher.no_forward_secrecy",
        "tls.cipher.cbc",
        "tls.cert.self_signed",
    ] {
        assert!(
            codes.contains(&expected),
            "{expected} missing from {codes:?}"
        );
    }
    assert_eq!(report.grade, Some(Grade::F));
}

#[tokio::test]
async fn openssl_tls11_server_accepting_null_suites_is_enumerated_exactly() {
    let Some(openssl) = openssl_or_skip("openssl_tls11_weak_suites") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = openssl_rsa_identity(&openssl, dir.path());
    let mut ciphers = vec!["ECDHE-RSA-NULL-SHA", "NULL-SHA", "NULL-MD5", "AES128-SHA"];
    let mut expected = vec![
        "TLS_ECDHE_RSA_WITH_NULL_SHA",
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        "TLS_RSA_WITH_NULL_MD5",
        "TLS_RSA_WITH_NULL_SHA",
    ];
    let has_3des = openssl_has_cipher(&openssl, "DES-CBC3-SHA");
    if has_3des {
        ciphers.push("DES-CBC3-SHA");
        expected.push("TLS_RSA_WITH_3DES_EDE_CBC_SHA");
    } else {
        eprintln!("note: this openssl has no 3DES; the 3DES suite is not part of this run");
    }
    expected.sort_unstable();
    let cipher_list = format!("{}:@SECLEVEL=0", ciphers.join(":"));
    let server = OpensslServer::start(&openssl, &cert, &key, &["-tls1_1", "-cipher", &cipher_list]);

    let report = scan(&Target::new("localhost", server.port), &openssl_options()).await;

    assert_eq!(
        support_of(&report, Protocol::Tls11),
        Support::Supported,
        "{report:#?}"
    );
    assert_eq!(support_of(&report, Protocol::Tls10), Support::NotSupported);
    assert_eq!(support_of(&report, Protocol::Tls12), Support::NotSupported);
    assert_eq!(accepted_names(&report, Protocol::Tls11), expected);
    assert!(report.cipher_suites[0].complete);
    let codes = codes(&report);
    for code in [
        "tls.protocol.tls11",
        "tls.cipher.insecure",
        "tls.cipher.no_forward_secrecy",
    ] {
        assert!(codes.contains(&code), "{code} missing from {codes:?}");
    }
    assert_eq!(codes.contains(&"tls.cipher.weak"), has_3des);
    assert_eq!(report.findings[0].severity, Severity::Critical);
    assert_eq!(report.grade, Some(Grade::F));
}

#[tokio::test]
async fn openssl_tls12_server_mixing_aead_cbc_and_null_suites() {
    let Some(openssl) = openssl_or_skip("openssl_tls12_mixed_suites") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = openssl_rsa_identity(&openssl, dir.path());
    let server = OpensslServer::start(
        &openssl,
        &cert,
        &key,
        &[
            "-tls1_2",
            "-cipher",
            "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-SHA384:NULL-SHA256:@SECLEVEL=0",
        ],
    );

    let report = scan(&Target::new("localhost", server.port), &openssl_options()).await;

    assert_eq!(
        support_of(&report, Protocol::Tls12),
        Support::Supported,
        "{report:#?}"
    );
    assert_eq!(support_of(&report, Protocol::Tls13), Support::NotSupported);
    assert_eq!(
        accepted_names(&report, Protocol::Tls12),
        [
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
            "TLS_RSA_WITH_NULL_SHA256"
        ]
    );
    // rustls completes TLS 1.2 with the GCM suite, so the chain and HSTS come from it;
    // s_server -www answers without HSTS.
    assert_eq!(
        report.certificate.as_ref().unwrap().source,
        ChainSource::Handshake
    );
    let hsts = report.hsts.as_ref().unwrap();
    assert_eq!((hsts.status, hsts.header.as_deref()), (Some(200), None));
    let codes = codes(&report);
    for code in [
        "tls.cipher.insecure",
        "tls.cipher.cbc",
        "tls.hsts.missing",
        "tls.cert.self_signed",
        "tls.protocol.no_tls13",
    ] {
        assert!(codes.contains(&code), "{code} missing from {codes:?}");
    }
    assert!(!codes.contains(&"tls.protocol.tls10"));
}
