//! A real-world CycloneDX SBOM (OWASP Dependency-Track 4.6.0, trimmed; see tests/data/README.md).

mod common;

use common::{data, day, kev_snapshot};
use ward_inventory::{
    Asset, AssetKind, Confidence, FeedKind, Feeds, Origin, Purl, Version, detect_feed,
    findings_for, parse_assets, parse_cyclonedx, parse_kev, parse_nvd,
};

const SBOM: &str = "dependency-track-4.6.0.cdx.json";

#[test]
fn parses_subject_and_every_component() {
    let bytes = data(SBOM);
    assert_eq!(detect_feed(&bytes), FeedKind::CycloneDx);
    let bom = parse_cyclonedx(&bytes).unwrap();
    assert_eq!(bom.spec_version, "1.4");
    let subject = bom.subject.as_ref().unwrap();
    assert_eq!(
        (subject.name.as_str(), subject.version.as_deref()),
        ("dependency-track", Some("4.6.0-SNAPSHOT"))
    );
    assert_eq!(subject.kind, "application");
    assert_eq!(bom.components.len(), 12);
    for c in &bom.components {
        let purl = Purl::parse(c.purl.as_deref().unwrap()).unwrap();
        assert_eq!(purl.ty, "maven");
        assert_eq!(purl.namespace.as_deref(), c.group.as_deref());
        assert_eq!(purl.version.as_deref(), c.version.as_deref());
        assert_eq!(c.bom_ref.as_deref(), c.purl.as_deref());
    }
    let slf4j = bom
        .components
        .iter()
        .find(|c| c.name == "slf4j-api")
        .unwrap();
    assert_eq!(slf4j.publisher.as_deref(), Some("QOS.ch"));
    assert!(Version::parse(bom.components[0].version.as_deref().unwrap()).is_pre_release());
    assert!(bom.vulnerabilities.is_empty());
}

#[test]
fn sbom_merges_into_the_inventory_host_it_runs_on() {
    let mut hosts = parse_assets(
        "hostname,ip,kind,model,zone,criticality,stores_phi\n\
         dtrack01.hospital.example,10.20.0.40,server,sbom-platform,servers,low,no\n",
    )
    .unwrap();
    let bom = parse_cyclonedx(&data(SBOM)).unwrap();
    let mut app = bom.to_asset("unnamed");
    assert_eq!(
        (app.id.as_str(), app.kind, app.origin),
        ("dependency-track", AssetKind::Application, Origin::Sbom)
    );
    app.id = hosts[0].id.clone();
    app.kind = AssetKind::Other;
    hosts[0].merge(app);
    let host: &Asset = &hosts[0];
    assert_eq!((host.kind, host.origin), (AssetKind::Server, Origin::Csv));
    assert_eq!(host.software.len(), 12);
    assert_eq!(host.vendor, "OWASP");
    let lang = host
        .software
        .iter()
        .find(|s| s.name == "commons-lang3")
        .unwrap();
    assert_eq!(
        (lang.vendor.as_str(), lang.version.as_str()),
        ("org.apache.commons", "3.12.0")
    );
}

#[test]
fn no_kev_or_openssl_cve_is_matched_to_these_java_libraries() {
    let bom = parse_cyclonedx(&data(SBOM)).unwrap();
    let app = bom.to_asset("unnamed");
    let nvd = parse_nvd(&data("nvd/openssl.json")).unwrap();
    let kev = kev_snapshot().map(|b| parse_kev(&b).unwrap());
    let feeds = Feeds {
        kev: kev.as_ref(),
        nvd: Some(&nvd),
        eol: &[],
    };
    let findings = findings_for(&app, &feeds, day("2025-06-01"));
    assert!(findings.is_empty(), "{findings:?}");
}

#[test]
fn a_cve_range_on_one_library_confirms_only_that_library() {
    // An NVD-shaped record (test id) for commons-lang3 before 3.18.0, to prove the SBOM's
    // purls reach NVD criteria by namespace and name.
    let nvd = parse_nvd(
        br#"{"format": "NVD_CVE", "version": "2.0", "vulnerabilities": [{"cve": {"id": "CVE-2099-0001",
          "configurations": [{"nodes": [{"operator": "OR", "negate": false, "cpeMatch": [
            {"vulnerable": true, "criteria": "cpe:2.3:a:apache:commons_lang3:*:*:*:*:*:*:*:*",
             "versionStartIncluding": "3.0", "versionEndExcluding": "3.18.0"}]}]}]}}]}"#,
    )
    .unwrap();
    let app = parse_cyclonedx(&data(SBOM)).unwrap().to_asset("unnamed");
    let feeds = Feeds {
        kev: None,
        nvd: Some(&nvd),
        eol: &[],
    };
    let findings = findings_for(&app, &feeds, day("2025-06-01"));
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].software.name, "commons-lang3");
    assert_eq!(findings[0].confidence, Confidence::Confirmed);
    assert_eq!(
        findings[0].reason,
        "commons-lang3 3.12.0 is in NVD's range >= 3.0, < 3.18.0 for CVE-2099-0001"
    );
}
