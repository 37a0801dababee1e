//! The inventory over the store: importing asset lists, SBOMs and feeds, reading them back,
//! recording what discovery saw, and assembling the views the console and the command line
//! show (the exposure list, encryption coverage, devices to review).
//!
//! This is the one module of the crate that touches anything outside its arguments, and it
//! does so only through the [`Store`] trait; time still comes in as a parameter.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ward_model::Timestamp;
use ward_store::{AssetRecord, FeedRecord, ScanRecord, Sighting, SightingReview, Store};

use crate::asset::{Asset, Origin};
use crate::discover::Seen;
use crate::exposure::{ExposureEntry, ExposureInput, Reachability, rank};
use crate::feeds::{
    EolProduct, FeedKind, KevCatalog, NvdFeed, detect_feed, parse_endoflife_legacy,
    parse_endoflife_v1, parse_kev, parse_nvd,
};
use crate::matching::{Feeds, Finding, findings_for};

/// Why an import or a stored document failed.
#[derive(Debug, thiserror::Error)]
pub enum StoredError {
    #[error(transparent)]
    Store(#[from] ward_store::StoreError),
    /// The input is not what it was taken for; the message names where.
    #[error("{0}")]
    Input(String),
    /// A stored document no longer reads as what Ward wrote.
    #[error("stored {what} does not read back: {reason}")]
    Corrupt { what: String, reason: String },
}

pub type Result<T> = std::result::Result<T, StoredError>;

/// Every asset in the store, by id.
pub fn load_assets(store: &dyn Store) -> Result<Vec<Asset>> {
    store
        .inventory()
        .list_assets()?
        .into_iter()
        .map(|record| decode_asset(&record))
        .collect()
}

/// One asset, `None` when there is no such id.
pub fn load_asset(store: &dyn Store, id: &str) -> Result<Option<Asset>> {
    store
        .inventory()
        .get_asset(id)?
        .map(|record| decode_asset(&record))
        .transpose()
}

fn decode_asset(record: &AssetRecord) -> Result<Asset> {
    serde_json::from_str(&record.body).map_err(|e| StoredError::Corrupt {
        what: format!("asset {}", record.id),
        reason: e.to_string(),
    })
}

/// What an import changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Imported {
    pub added: usize,
    pub updated: usize,
}

/// Stores `assets`, folding each into the stored asset with the same id ([`Asset::merge`]):
/// a re-import updates what it knows and never erases what it does not.
pub fn save_assets(store: &dyn Store, assets: Vec<Asset>, now: Timestamp) -> Result<Imported> {
    let mut stored: BTreeMap<String, Asset> = load_assets(store)?
        .into_iter()
        .map(|a| (a.id.clone(), a))
        .collect();
    let mut by_id: BTreeMap<String, Asset> = BTreeMap::new();
    let mut imported = Imported::default();
    for asset in assets {
        match by_id.get_mut(&asset.id) {
            Some(known) => known.merge(asset),
            None => {
                let merged = match stored.remove(&asset.id) {
                    Some(mut stored) => {
                        stored.merge(asset);
                        imported.updated += 1;
                        stored
                    }
                    None => {
                        imported.added += 1;
                        asset
                    }
                };
                by_id.insert(merged.id.clone(), merged);
            }
        }
    }
    let records = by_id
        .into_values()
        .map(|asset| {
            let body = serde_json::to_string(&asset).map_err(|e| StoredError::Corrupt {
                what: format!("asset {}", asset.id),
                reason: e.to_string(),
            })?;
            Ok(AssetRecord {
                id: asset.id,
                body,
                updated_at: now,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    store.inventory().put_assets(&records)?;
    Ok(imported)
}

/// Imports a CycloneDX SBOM: into the asset `onto` when given (the host the application runs
/// on), else as an application asset named after the BOM's subject or `fallback_name`.
pub fn import_sbom(
    store: &dyn Store,
    bytes: &[u8],
    onto: Option<&str>,
    fallback_name: &str,
    now: Timestamp,
) -> Result<Imported> {
    let sbom =
        crate::sbom::parse_cyclonedx(bytes).map_err(|e| StoredError::Input(e.to_string()))?;
    let mut asset = sbom.to_asset(fallback_name);
    if let Some(id) = onto {
        let Some(_) = load_asset(store, id)? else {
            return Err(StoredError::Input(format!(
                "there is no asset {id} to attach the SBOM to (import the asset list first)"
            )));
        };
        let mut host = Asset::new(id, crate::asset::AssetKind::Other, Origin::Sbom);
        host.software = std::mem::take(&mut asset.software);
        asset = host;
    }
    save_assets(store, vec![asset], now)
}

/// What `feeds update` stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedSummary {
    pub name: String,
    pub kind: String,
    pub version: String,
    pub entries: u64,
}

/// Checks that `bytes` is a feed Ward reads, and stores it under its name: `kev`,
/// `eol:<product>`, `nvd:<label>`. `product` names an endoflife.date product whose legacy
/// file does not carry its name; `label` distinguishes NVD files.
pub fn import_feed(
    store: &dyn Store,
    bytes: Vec<u8>,
    origin: &str,
    product: Option<&str>,
    label: &str,
    now: Timestamp,
) -> Result<FeedSummary> {
    let input = |e: &dyn std::fmt::Display| StoredError::Input(format!("{origin}: {e}"));
    let (name, kind, version, entries) = match detect_feed(&bytes) {
        FeedKind::Kev => {
            let kev = parse_kev(&bytes).map_err(|e| input(&e))?;
            (
                "kev".to_string(),
                "kev",
                kev.catalog_version,
                kev.entries.len(),
            )
        }
        FeedKind::EndOfLifeV1 => {
            let product = parse_endoflife_v1(&bytes).map_err(|e| input(&e))?;
            (
                format!("eol:{}", product.name),
                "endoflife",
                String::new(),
                product.releases.len(),
            )
        }
        FeedKind::EndOfLifeLegacy => {
            let Some(name) = product else {
                return Err(input(
                    &"an endoflife.date release list does not name its product: give it with --product",
                ));
            };
            let product = parse_endoflife_legacy(name, &bytes).map_err(|e| input(&e))?;
            (
                format!("eol:{}", product.name),
                "endoflife",
                String::new(),
                product.releases.len(),
            )
        }
        FeedKind::Nvd => {
            let nvd = parse_nvd(&bytes).map_err(|e| input(&e))?;
            (format!("nvd:{label}"), "nvd", String::new(), nvd.cves.len())
        }
        FeedKind::CycloneDx => {
            return Err(input(
                &"this is a CycloneDX SBOM, not a feed: import it with `ward inventory import`",
            ));
        }
        FeedKind::Unknown => {
            return Err(input(
                &"not a feed Ward reads (CISA KEV JSON, endoflife.date product JSON, NVD CVE API 2.0 JSON)",
            ));
        }
    };
    let sha256 = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let record = FeedRecord {
        name: name.clone(),
        kind: kind.to_string(),
        version: version.clone(),
        origin: origin.to_string(),
        imported_at: now,
        sha256,
        entries: entries as u64,
        body: bytes,
    };
    store.inventory().put_feed(&record)?;
    Ok(FeedSummary {
        name,
        kind: kind.to_string(),
        version,
        entries: entries as u64,
    })
}

/// The stored feeds, parsed.
#[derive(Debug, Default)]
pub struct LoadedFeeds {
    pub kev: Option<KevCatalog>,
    /// Every stored NVD file's CVEs together.
    pub nvd: Option<NvdFeed>,
    pub eol: Vec<EolProduct>,
}

impl LoadedFeeds {
    pub fn feeds(&self) -> Feeds<'_> {
        Feeds {
            kev: self.kev.as_ref(),
            nvd: self.nvd.as_ref(),
            eol: &self.eol,
        }
    }
}

/// Reads and parses every stored feed. A feed was checked when it was imported, so one that
/// no longer parses is corruption, not bad input.
pub fn load_feeds(store: &dyn Store) -> Result<LoadedFeeds> {
    let mut loaded = LoadedFeeds::default();
    for listed in store.inventory().feeds()? {
        let Some(feed) = store.inventory().feed(&listed.name)? else {
            continue;
        };
        let corrupt = |e: &dyn std::fmt::Display| StoredError::Corrupt {
            what: format!("feed {}", feed.name),
            reason: e.to_string(),
        };
        match feed.kind.as_str() {
            "kev" => loaded.kev = Some(parse_kev(&feed.body).map_err(|e| corrupt(&e))?),
            "nvd" => {
                let nvd = parse_nvd(&feed.body).map_err(|e| corrupt(&e))?;
                loaded
                    .nvd
                    .get_or_insert_with(|| NvdFeed { cves: Vec::new() })
                    .cves
                    .extend(nvd.cves);
            }
            "endoflife" => {
                let product = match detect_feed(&feed.body) {
                    FeedKind::EndOfLifeV1 => parse_endoflife_v1(&feed.body),
                    _ => parse_endoflife_legacy(feed.name.trim_start_matches("eol:"), &feed.body),
                }
                .map_err(|e| corrupt(&e))?;
                loaded.eol.push(product);
            }
            other => return Err(corrupt(&format!("unknown feed kind {other}"))),
        }
    }
    Ok(loaded)
}

/// How an asset holding PHI stands on encryption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageRow {
    pub asset_id: String,
    pub asset_name: String,
    pub zone: String,
    /// The inventory's word (`None`: nobody said).
    pub at_rest: Option<bool>,
    /// The inventory's word on encryption in transit.
    pub in_transit_declared: Option<bool>,
    /// The TLS scans of this asset's endpoints: `(target, grade)`.
    pub scans: Vec<(String, String)>,
    /// Encrypted in transit as far as Ward can tell: scanned endpoints all grade A–C, or
    /// declared so with nothing scanned.
    pub in_transit: Option<bool>,
    /// What is missing, in plain words (empty when covered both ways).
    pub gaps: Vec<String>,
}

/// Whether a scan grade counts as encrypted in transit (A to C: modern protocols, a trusted
/// and valid certificate).
fn grade_passes(grade: &str) -> bool {
    matches!(grade.chars().next(), Some('A' | 'B' | 'C'))
}

/// Encryption coverage of the assets that store, process or transmit PHI: at rest from the
/// inventory, in transit from the latest TLS scans of their addresses and host names (which
/// win over the inventory's word) or else the inventory. Gaps first, then by id.
pub fn encryption_coverage(assets: &[Asset], scans: &[ScanRecord]) -> Vec<CoverageRow> {
    let mut rows: Vec<CoverageRow> = assets
        .iter()
        .filter(|a| a.phi.any())
        .map(|asset| {
            let scans: Vec<(String, String)> = scans_of(asset, scans)
                .into_iter()
                .map(|s| (s.target.clone(), s.grade.clone()))
                .collect();
            let in_transit = if scans.is_empty() {
                asset.encrypted_in_transit
            } else {
                Some(scans.iter().all(|(_, g)| grade_passes(g)))
            };
            let mut gaps = Vec::new();
            match asset.encrypted_at_rest {
                Some(true) => {}
                Some(false) => gaps.push("not encrypted at rest".to_string()),
                None => gaps.push("encryption at rest unknown".to_string()),
            }
            match (in_transit, scans.is_empty()) {
                (Some(true), _) => {}
                (Some(false), false) => {
                    let weak: Vec<String> = scans
                        .iter()
                        .filter(|(_, g)| !grade_passes(g))
                        .map(|(t, g)| format!("{t} grade {g}"))
                        .collect();
                    gaps.push(format!("weak or broken TLS: {}", weak.join(", ")));
                }
                (Some(false), true) => gaps.push("not encrypted in transit".to_string()),
                (None, _) => gaps.push("encryption in transit unknown (not scanned)".to_string()),
            }
            CoverageRow {
                asset_id: asset.id.clone(),
                asset_name: asset.name.clone(),
                zone: asset.zone.clone(),
                at_rest: asset.encrypted_at_rest,
                in_transit_declared: asset.encrypted_in_transit,
                scans,
                in_transit,
                gaps,
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        a.gaps
            .is_empty()
            .cmp(&b.gaps.is_empty())
            .then_with(|| a.asset_id.cmp(&b.asset_id))
    });
    rows
}

/// The scans of an asset's endpoints: targets whose host is one of its addresses, host names
/// or its id.
pub fn scans_of<'a>(asset: &Asset, scans: &'a [ScanRecord]) -> Vec<&'a ScanRecord> {
    let names: Vec<String> = asset
        .addresses
        .iter()
        .map(|ip| ip.to_string())
        .chain(asset.hostnames.iter().map(|h| h.to_ascii_lowercase()))
        .chain([asset.id.to_ascii_lowercase()])
        .collect();
    scans
        .iter()
        .filter(|s| {
            let host = s
                .target
                .rsplit_once(':')
                .map_or(s.target.as_str(), |(h, _)| h)
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_ascii_lowercase();
            names.contains(&host)
        })
        .collect()
}

/// The exposure list: every asset's findings against the stored feeds as of `as_of`, ranked
/// with `reach` (what the zones and flows say of each asset).
pub fn exposure(
    assets: &[Asset],
    feeds: &LoadedFeeds,
    as_of: NaiveDate,
    reach: &dyn Fn(&Asset) -> Reachability,
) -> Vec<ExposureEntry> {
    let feeds = feeds.feeds();
    let findings: Vec<Vec<Finding>> = assets
        .iter()
        .map(|asset| findings_for(asset, &feeds, as_of))
        .collect();
    let reach: Vec<Reachability> = assets.iter().map(reach).collect();
    let inputs: Vec<ExposureInput<'_>> = assets
        .iter()
        .zip(&findings)
        .zip(&reach)
        .map(|((asset, findings), reachability)| ExposureInput {
            asset,
            findings,
            reachability,
        })
        .collect();
    rank(&inputs)
}

/// Records what discovery saw; returns how many devices were new to Ward.
pub fn record_seen(store: &dyn Store, seen: &[Seen]) -> Result<u64> {
    let sightings: Vec<Sighting> = seen
        .iter()
        .map(|s| Sighting {
            key: s.key.clone(),
            address: s.address.clone(),
            hostname: s.hostname.clone(),
            mac: s.mac.clone(),
            first_seen: s.first_seen,
            last_seen: s.last_seen,
            events: s.events,
            sources: s.sources.iter().cloned().collect(),
            services: s.services.iter().cloned().collect(),
            review: SightingReview::Unreviewed,
            reviewed_by: None,
            reviewed_at: None,
        })
        .collect();
    Ok(store.inventory().record_sightings(&sightings)?)
}

/// Devices the telemetry showed that the inventory does not list and nobody has reviewed:
/// the new, unknown devices to look at.
pub fn unknown_devices(store: &dyn Store, assets: &[Asset]) -> Result<Vec<Sighting>> {
    Ok(store
        .inventory()
        .sightings(true)?
        .into_iter()
        .filter(|s| {
            !crate::discover::is_listed(s.address.as_deref(), s.hostname.as_deref(), assets)
        })
        .collect())
}

/// Adds a sighting to the inventory as asset `asset_id` (an existing asset gains its address
/// and host name) and marks it accepted; `false` when there is no such sighting.
pub fn accept_sighting(
    store: &dyn Store,
    key: &str,
    asset_id: &str,
    by: &str,
    now: Timestamp,
) -> Result<bool> {
    let Some(sighting) = store
        .inventory()
        .sightings(false)?
        .into_iter()
        .find(|s| s.key == key)
    else {
        return Ok(false);
    };
    let mut asset = Asset::new(asset_id, crate::asset::AssetKind::Other, Origin::Discovered);
    asset.addresses = sighting
        .address
        .as_deref()
        .and_then(|a| a.parse().ok())
        .into_iter()
        .collect();
    asset.hostnames = sighting.hostname.clone().into_iter().collect();
    save_assets(store, vec![asset], now)?;
    let review = SightingReview::Accepted {
        asset: asset_id.to_string(),
    };
    Ok(store.inventory().review_sighting(key, &review, by, now)?)
}

/// The CISA KEV catalogue as of 2025-08-25, gzip-compressed (CC0; `feeds/README.md`): what the
/// demo matches against on a machine without internet access.
pub const DEMO_KEV_GZ: &[u8] = include_bytes!("../feeds/kev-2025.08.25.json.gz");
/// Where [`DEMO_KEV_GZ`] came from, recorded as the feed's origin.
pub const DEMO_KEV_ORIGIN: &str = "bundled snapshot (cisagov/kev-data 2025.08.25)";

/// endoflife.date release data for what the simulated hospital runs (MIT; `feeds/README.md`):
/// `(product, legacy API JSON)`, imported by the demo beside [`DEMO_KEV_GZ`].
pub const DEMO_EOL: &[(&str, &[u8])] = &[
    ("debian", include_bytes!("../feeds/eol/debian.json")),
    ("fortios", include_bytes!("../feeds/eol/fortios.json")),
    (
        "mssqlserver",
        include_bytes!("../feeds/eol/mssqlserver.json"),
    ),
    ("nginx", include_bytes!("../feeds/eol/nginx.json")),
    ("openssl", include_bytes!("../feeds/eol/openssl.json")),
    ("rhel", include_bytes!("../feeds/eol/rhel.json")),
    ("tomcat", include_bytes!("../feeds/eol/tomcat.json")),
    ("ubuntu", include_bytes!("../feeds/eol/ubuntu.json")),
    ("windows", include_bytes!("../feeds/eol/windows.json")),
    (
        "windows-server",
        include_bytes!("../feeds/eol/windows-server.json"),
    ),
];
/// Where [`DEMO_EOL`] came from, recorded as each feed's origin.
pub const DEMO_EOL_ORIGIN: &str = "bundled snapshot (endoflife-date/endoflife.date)";
