//! The real CISA KEV snapshot: it parses completely, and matching against it confirms what
//! it should and only guesses (possible) where the version cannot be checked.

mod common;

use common::{data, day, kev_snapshot};
use ward_inventory::{
    Asset, AssetKind, Confidence, ExposureInput, FactorKind, FeedKind, Feeds, FindingKind, Origin,
    Reachability, Software, detect_feed, findings_for, parse_kev, parse_nvd, rank,
};

#[test]
fn snapshot_parses_every_entry_with_valid_dates() {
    let Some(bytes) = kev_snapshot() else { return };
    assert_eq!(detect_feed(&bytes), FeedKind::Kev);
    let kev = parse_kev(&bytes).expect("the real KEV snapshot parses");
    let declared: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        kev.entries.len() as u64,
        declared["count"].as_u64().unwrap()
    );
    assert!(kev.entries.len() > 1000);
    assert!(kev.entries.iter().all(|e| e.cve_id.starts_with("CVE-")));
    assert!(kev.entries.iter().filter(|e| e.known_ransomware).count() > 100);
    let log4shell = kev.get("CVE-2021-44228").expect("Log4Shell is in KEV");
    assert_eq!(
        (
            log4shell.vendor_project.as_str(),
            log4shell.product.as_str()
        ),
        ("Apache", "Log4j2")
    );
    assert!(log4shell.known_ransomware);
    assert_eq!(log4shell.date_added, day("2021-12-10"));
    assert_eq!(log4shell.due_date, Some(day("2021-12-24")));
}

#[test]
fn heartbleed_is_confirmed_on_an_affected_openssl_and_not_on_the_fix() {
    let Some(bytes) = kev_snapshot() else { return };
    let kev = parse_kev(&bytes).unwrap();
    let nvd = parse_nvd(&data("nvd/openssl.json")).unwrap();
    let feeds = Feeds {
        kev: Some(&kev),
        nvd: Some(&nvd),
        eol: &[],
    };
    let as_of = day("2025-06-01");

    let mut host = Asset::new("lab-web01.hospital.example", AssetKind::Server, Origin::Csv);
    host.software.push(openssl("1.0.1f"));
    let findings = findings_for(&host, &feeds, as_of);
    let heartbleed = findings
        .iter()
        .find(|f| f.id == "CVE-2014-0160")
        .expect("Heartbleed found");
    assert_eq!(
        (heartbleed.kind, heartbleed.confidence),
        (FindingKind::Kev, Confidence::Confirmed)
    );
    assert!(
        heartbleed
            .reason
            .starts_with("openssl 1.0.1f is the version NVD lists for CVE-2014-0160"),
        "{}",
        heartbleed.reason
    );
    assert!(
        heartbleed
            .reason
            .contains("CISA KEV lists CVE-2014-0160 as exploited in the wild since")
    );
    // No other OpenSSL KEV entry is claimed as confirmed for 1.0.1f.
    assert!(
        findings
            .iter()
            .filter(|f| f.confidence == Confidence::Confirmed)
            .all(|f| f.id == "CVE-2014-0160")
    );

    let mut fixed = Asset::new("lab-web02.hospital.example", AssetKind::Server, Origin::Csv);
    fixed.software.push(openssl("1.0.1g"));
    let findings = findings_for(&fixed, &feeds, as_of);
    assert!(
        findings.iter().all(|f| f.id != "CVE-2014-0160"),
        "1.0.1g carries the fix: {findings:?}"
    );
    assert!(
        findings
            .iter()
            .all(|f| f.confidence == Confidence::Possible)
    );

    // CVE-2023-0286 (not in KEV) is a plain CVE on 1.1.1s, and gone on 1.1.1t.
    let mut old = Asset::new("lis01.hospital.example", AssetKind::Server, Origin::Csv);
    old.software.push(openssl("1.1.1s"));
    let f = findings_for(&old, &feeds, as_of);
    let x400 = f
        .iter()
        .find(|f| f.id == "CVE-2023-0286")
        .expect("CVE-2023-0286 on 1.1.1s");
    assert_eq!(x400.kind, FindingKind::Cve);
    assert_eq!(
        x400.reason,
        "openssl 1.1.1s is in NVD's range >= 1.1.1, < 1.1.1t for CVE-2023-0286"
    );
    old.software[0] = openssl("1.1.1t");
    assert!(
        findings_for(&old, &feeds, as_of)
            .iter()
            .all(|f| f.id != "CVE-2023-0286")
    );
}

#[test]
fn without_nvd_data_a_windows_server_gets_only_possible_kev_matches() {
    let Some(bytes) = kev_snapshot() else { return };
    let kev = parse_kev(&bytes).unwrap();
    let feeds = Feeds {
        kev: Some(&kev),
        nvd: None,
        eol: &[],
    };
    let mut dc = Asset::new("dc01.hospital.example", AssetKind::Server, Origin::Csv);
    let mut os = Software::new("Windows Server 2019", "10.0.17763.1234");
    os.cpe = Some("cpe:2.3:o:microsoft:windows_server_2019:-:*:*:*:*:*:*:*".into());
    dc.os = Some(os);
    let findings = findings_for(&dc, &feeds, day("2025-06-01"));
    // KEV lists most Windows flaws under the product `Windows`, so there are many guesses.
    assert!(findings.len() > 50, "{}", findings.len());
    for f in &findings {
        assert_eq!(
            (f.kind, f.confidence),
            (FindingKind::Kev, Confidence::Possible),
            "{f:?}"
        );
        assert!(
            f.reason
                .starts_with("possible: only the vendor and product match"),
            "{}",
            f.reason
        );
    }
}

#[test]
fn log4shell_listed_by_an_sbom_ranks_its_phi_host_first() {
    let Some(bytes) = kev_snapshot() else { return };
    let kev = parse_kev(&bytes).unwrap();
    let feeds = Feeds {
        kev: Some(&kev),
        nvd: None,
        eol: &[],
    };
    let as_of = day("2025-06-01");
    let mut portal = Asset::new(
        "portal.hospital.example",
        AssetKind::Application,
        Origin::Sbom,
    );
    portal.phi.transmits = true;
    let mut log4j = Software::new("log4j-core", "2.14.1");
    log4j.purl = Some("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1?type=jar".into());
    log4j.vulnerabilities = vec!["CVE-2021-44228".into()];
    portal.software.push(log4j);
    let mut printer = Asset::new(
        "printer.hospital.example",
        AssetKind::Iot,
        Origin::Discovered,
    );
    printer.software.push(openssl("1.0.1f"));

    let portal_findings = findings_for(&portal, &feeds, as_of);
    let printer_findings = findings_for(&printer, &feeds, as_of);
    assert_eq!(portal_findings.len(), 1);
    assert!(portal_findings[0].ransomware);
    let open = Reachability {
        from_untrusted: true,
        why: vec!["published in the DMZ on 443/tcp".into()],
    };
    let closed = Reachability::default();
    let ranked = rank(&[
        ExposureInput {
            asset: &printer,
            findings: &printer_findings,
            reachability: &closed,
        },
        ExposureInput {
            asset: &portal,
            findings: &portal_findings,
            reachability: &open,
        },
    ]);
    assert_eq!(ranked[0].asset_id, "portal.hospital.example");
    let kinds: Vec<FactorKind> = ranked[0].factors.iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        [
            FactorKind::KnownExploited,
            FactorKind::Ransomware,
            FactorKind::Phi,
            FactorKind::UntrustedReach,
            FactorKind::Criticality
        ]
    );
    assert_eq!(ranked[0].score, 40 + 20 + 10 + 20 + 5);
}

fn openssl(version: &str) -> Software {
    let mut s = Software::new("openssl", version);
    s.vendor = "OpenSSL".into();
    s.cpe = Some(format!("cpe:2.3:a:openssl:openssl:{version}:*:*:*:*:*:*:*"));
    s
}
