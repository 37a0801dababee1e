//! One input through one of the crate's parsers, chosen by `pick`, and whatever parsed through
//! the matcher: the body of the `inventory` fuzz target (`fuzz/fuzz_targets/inventory.rs`) and
//! of the test that replays its corpus on every run (`tests/fuzz_corpus.rs`), kept here so the
//! two cannot drift apart.

use chrono::NaiveDate;

use crate::asset::{Asset, AssetKind, Origin, Software};
use crate::matching::{Feeds, findings_for};

/// Parsers, in the order `pick` (modulo their count) selects them.
pub const PARSERS: [&str; 9] = [
    "assets.csv",
    "cyclonedx",
    "kev",
    "endoflife-v1",
    "endoflife-legacy",
    "nvd",
    "cpe",
    "purl",
    "version",
];

pub fn exercise(pick: u8, data: &[u8]) {
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap_or_default();
    let text = std::str::from_utf8(data).ok();
    let mut assets: Vec<Asset> = Vec::new();
    let (mut kev, mut nvd, mut eol) = (None, None, Vec::new());
    match usize::from(pick) % PARSERS.len() {
        0 => {
            if let Some(Ok(parsed)) = text.map(crate::csv::parse_assets) {
                assets = parsed;
            }
        }
        1 => {
            if let Ok(sbom) = crate::sbom::parse_cyclonedx(data) {
                assets.push(sbom.to_asset("fuzz"));
            }
        }
        2 => kev = crate::feeds::parse_kev(data).ok(),
        3 => eol.extend(crate::feeds::parse_endoflife_v1(data).ok()),
        4 => eol.extend(crate::feeds::parse_endoflife_legacy("windows-server", data).ok()),
        5 => nvd = crate::feeds::parse_nvd(data).ok(),
        _ => {
            let Some(text) = text else { return };
            let mut host = Asset::new("fuzz", AssetKind::Server, Origin::Csv);
            match usize::from(pick) % PARSERS.len() {
                6 => {
                    if let Ok(cpe) = crate::cpe::Cpe::parse(text) {
                        let _ = cpe.to_formatted_string();
                        host.software.push(Software::from_cpe(&cpe, text));
                    }
                }
                7 => {
                    if let Ok(purl) = crate::purl::Purl::parse(text) {
                        let _ = purl.to_string();
                        host.software.push(Software::from_purl(&purl, text));
                    }
                }
                _ => {
                    let version = crate::version::Version::parse(text);
                    let _ = version.cmp(&crate::version::Version::parse("1.0"));
                    host.software.push(Software::new("openssl", text));
                }
            }
            assets.push(host);
        }
    }
    // Whatever parsed meets real-shaped counterparts in the matcher.
    if assets.is_empty() {
        let mut host = Asset::new("fuzz", AssetKind::Server, Origin::Csv);
        host.os = Some(Software::new("Windows Server 2012 R2", "6.3.9600"));
        host.software.push(Software::new("openssl", "1.1.1k"));
        assets.push(host);
    }
    let feeds = Feeds {
        kev: kev.as_ref(),
        nvd: nvd.as_ref(),
        eol: &eol,
    };
    for asset in &assets {
        let _ = findings_for(asset, &feeds, as_of);
    }
}
