//! End-of-life matching on endoflife.date fixtures in both API shapes, for assets read from
//! an assets CSV.

mod common;

use common::{data, day};
use ward_inventory::{
    Asset, EolProduct, FeedKind, Feeds, Finding, FindingKind, detect_feed, findings_for,
    parse_assets, parse_endoflife_legacy, parse_endoflife_v1,
};

fn products() -> Vec<EolProduct> {
    let mut out = Vec::new();
    for (name, file) in [
        ("windows-server", "endoflife/windows-server.legacy.json"),
        ("openssl", "endoflife/openssl.legacy.json"),
        ("nodejs", "endoflife/nodejs.legacy.json"),
    ] {
        let bytes = data(file);
        assert_eq!(detect_feed(&bytes), FeedKind::EndOfLifeLegacy, "{file}");
        out.push(parse_endoflife_legacy(name, &bytes).unwrap());
    }
    for file in ["endoflife/ubuntu.v1.json", "endoflife/python.v1.json"] {
        let bytes = data(file);
        assert_eq!(detect_feed(&bytes), FeedKind::EndOfLifeV1, "{file}");
        out.push(parse_endoflife_v1(&bytes).unwrap());
    }
    out
}

const ASSETS: &str = "hostname,kind,os,os_version,os_cpe,software\n\
    ehr-db01,server,Windows Server 2012 R2,6.3.9600,,\n\
    pacs01,server,Windows Server 2019 Datacenter,10.0.17763.5830,,\n\
    lis01,server,Ubuntu,18.04.6,cpe:2.3:o:canonical:ubuntu_linux:18.04:*:*:*:lts:*:*:*,openssl@1.1.1w;pkg:generic/python@3.8.10\n\
    hl7-01,server,Ubuntu,22.04.4,cpe:2.3:o:canonical:ubuntu_linux:22.04:*:*:*:lts:*:*:*,openssl@3.0.13;node@18.19.1;python@3.12.3\n\
    portal,server,Ubuntu,24.04,,python@3.13.1;pkg:npm/express@4.19.2\n";

fn ids(findings: &[Finding]) -> Vec<(FindingKind, &str)> {
    findings.iter().map(|f| (f.kind, f.id.as_str())).collect()
}

fn assets() -> Vec<Asset> {
    parse_assets(ASSETS).unwrap()
}

#[test]
fn finds_end_of_life_and_end_of_support_per_component() {
    let products = products();
    let feeds = Feeds {
        eol: &products,
        ..Feeds::default()
    };
    let as_of = day("2025-06-01");
    let assets = assets();
    let found: Vec<Vec<Finding>> = assets
        .iter()
        .map(|a| findings_for(a, &feeds, as_of))
        .collect();

    assert_eq!(
        ids(&found[0]),
        [(FindingKind::EndOfLife, "windows-server 2012-R2")]
    );
    assert!(
        found[0][0].reason.contains("from its build number"),
        "{}",
        found[0][0].reason
    );
    assert_eq!(
        ids(&found[1]),
        [(FindingKind::EndOfSupport, "windows-server 2019")]
    );
    assert_eq!(
        ids(&found[2]),
        [
            (FindingKind::EndOfLife, "ubuntu 18.04"),
            (FindingKind::EndOfLife, "openssl 1.1.1"),
            (FindingKind::EndOfLife, "python 3.8"),
        ]
    );
    assert!(
        found[2][0]
            .reason
            .contains("by CPE cpe:/o:canonical:ubuntu_linux"),
        "{}",
        found[2][0].reason
    );
    assert!(
        found[2][2]
            .reason
            .contains("by package URL pkg:generic/python"),
        "{}",
        found[2][2].reason
    );
    assert_eq!(
        ids(&found[3]),
        [
            (FindingKind::EndOfLife, "nodejs 18"),
            (FindingKind::EndOfSupport, "python 3.12")
        ]
    );
    assert!(found[4].is_empty(), "{:?}", found[4]);
}

#[test]
fn ubuntu_20_04_turns_end_of_life_on_its_date_not_the_day_before() {
    let products = products();
    let feeds = Feeds {
        eol: &products,
        ..Feeds::default()
    };
    let asset = &parse_assets("hostname,os,os_version\nris01,Ubuntu,20.04.6\n").unwrap()[0];
    assert!(findings_for(asset, &feeds, day("2025-05-28")).is_empty());
    let on_the_day = findings_for(asset, &feeds, day("2025-05-29"));
    assert_eq!(ids(&on_the_day), [(FindingKind::EndOfLife, "ubuntu 20.04")]);
    assert_eq!(on_the_day[0].lifecycle_date, Some(day("2025-05-29")));
}

#[test]
fn openssl_3_0_is_supported_until_its_date() {
    let products = products();
    let feeds = Feeds {
        eol: &products,
        ..Feeds::default()
    };
    let asset = &parse_assets("hostname,software\nweb01,openssl@3.0.13\n").unwrap()[0];
    assert!(findings_for(asset, &feeds, day("2026-09-06")).is_empty());
    assert_eq!(
        ids(&findings_for(asset, &feeds, day("2026-09-07"))),
        [(FindingKind::EndOfLife, "openssl 3.0")]
    );
}
