//! The inventory in the console and the API: the assets with their findings, one asset's
//! page, the ranked exposure list, the network map with what can reach PHI, encryption
//! coverage, and the devices the telemetry showed that nobody has reviewed yet, with the
//! forms that accept or dismiss them. Every answer is assembled by `ward-inventory`
//! (`stored`, `reach`, `findings_for`); this module loads, shows and audits, nothing more.
//!
//! Findings are worked out when a page is asked for, as of the console's today, against the
//! feeds stored at that moment, and every page that shows findings says which feed versions
//! it used, because a finding is only as current as its feed.
//!
//! The inventory holds no PHI (it says which systems hold it, not what they hold), so no view
//! here is a PHI view. Every review of a device is written to Ward's audit trail.

use crate::audit::{self, AuditRecord};
use crate::auth::Principal;
use crate::pages::{Chrome, fmt_time, render, see_other};
use crate::roles::Permission;
use crate::routes::{Caller, RouteMethod};
use crate::totp::percent_encode;
use crate::{ConsoleError, ConsoleState};
use askama::Template;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Json, Response};
use axum::{Extension, Form};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use ward_detect::threat::inventory::Inventory as ZonesAndPolicy;
use ward_detect::threat::segmentation::{Edge, PhiReach, render_svg};
use ward_inventory::exposure::Reachability;
use ward_inventory::reach::Reach;
use ward_inventory::stored::{self, CoverageRow, LoadedFeeds, StoredError};
use ward_inventory::{Asset, AssetKind, ExposureEntry, Finding, Software, findings_for};
use ward_model::event::{api_activity, class};
use ward_model::{Status, Timestamp};
use ward_respond::incident::utc_date;
use ward_store::{FeedRecord, ScanRecord, Sighting, SightingReview, Store};

type PageResult = Result<Response, ConsoleError>;

/// The alerts the segmentation policy raises, for the network page's link.
const SEGMENTATION_RULE: &str = "threat.segmentation.policy_violation";
/// Longest sighting key taken (keys are `ip:…`, `host:…`, `mac:…`).
const MAX_KEY_CHARS: usize = 512;
/// Longest asset id taken: a DNS name's limit.
const MAX_ASSET_ID_CHARS: usize = 253;
/// Longest dismissal reason kept.
const MAX_REASON_CHARS: usize = 500;
/// What an asset id may be, as the OpenAPI document states it. [`valid_asset_id`] is the
/// same rule in code.
const ASSET_ID_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9._:@-]*$";

/// Every asset kind, in the order the filter lists them.
const KINDS: [AssetKind; 9] = [
    AssetKind::Server,
    AssetKind::Workstation,
    AssetKind::SharedWorkstation,
    AssetKind::MedicalDevice,
    AssetKind::Iot,
    AssetKind::Network,
    AssetKind::CloudService,
    AssetKind::Application,
    AssetKind::Other,
];

fn stored_error(e: StoredError) -> ConsoleError {
    match e {
        StoredError::Store(e) => ConsoleError::Store(e),
        StoredError::Input(message) => ConsoleError::BadRequest(message),
        // Names the asset or feed that no longer reads back, never its contents.
        corrupt @ StoredError::Corrupt { .. } => {
            tracing::error!(error = %corrupt, "stored inventory does not read back");
            ConsoleError::Internal("the stored inventory does not read back")
        }
    }
}

fn today(state: &ConsoleState) -> NaiveDate {
    utc_date(state.now())
}

fn zones_and_policy(state: &ConsoleState) -> Arc<ZonesAndPolicy> {
    Arc::clone(&state.options().inventory)
}

fn asset_href(id: &str) -> String {
    format!("/inventory/assets/{}", percent_encode(id))
}

fn bad_query(_: QueryRejection) -> ConsoleError {
    ConsoleError::BadRequest("the query string is not valid".into())
}

/// `yes`, `no` or `unknown`.
fn flag(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    }
}

fn software_label(s: &Software) -> String {
    s.label()
}

// ---------------------------------------------------------------------------------------------
// Loading

/// The assets and the feeds they are matched against.
struct Loaded {
    assets: Vec<Asset>,
    feeds: LoadedFeeds,
    /// The stored feeds as listed (without their bodies), by name.
    listed: Vec<FeedRecord>,
}

fn load(store: &dyn Store) -> Result<Loaded, ConsoleError> {
    Ok(Loaded {
        assets: stored::load_assets(store).map_err(stored_error)?,
        feeds: stored::load_feeds(store).map_err(stored_error)?,
        listed: store.inventory().feeds()?,
    })
}

/// A stored feed as shown: which version, from where, when.
#[derive(Debug, Serialize)]
struct FeedView {
    name: String,
    kind: String,
    version: String,
    origin: String,
    imported_at: Timestamp,
    entries: u64,
    sha256: String,
}

impl FeedView {
    fn from(record: &FeedRecord) -> Self {
        FeedView {
            name: record.name.clone(),
            kind: record.kind.clone(),
            version: record.version.clone(),
            origin: record.origin.clone(),
            imported_at: record.imported_at,
            entries: record.entries,
            sha256: record.sha256.clone(),
        }
    }
}

/// The feed kinds Ward matches with that are not stored, with what their absence means.
fn missing_feeds(listed: &[FeedRecord]) -> Vec<(&'static str, &'static str)> {
    [
        (
            "kev",
            "No KEV feed imported: known exploited vulnerabilities are not matched. Import the CISA catalogue with `ward feeds update --from FILE`.",
        ),
        (
            "endoflife",
            "No endoflife.date feed imported: end of life and end of support are not checked.",
        ),
        (
            "nvd",
            "No NVD feed imported (optional): vulnerabilities outside KEV are matched only from SBOMs.",
        ),
    ]
    .into_iter()
    .filter(|(kind, _)| !listed.iter().any(|f| f.kind == *kind))
    .collect()
}

/// The latest TLS scans of an asset's endpoints: those whose host part is one of its
/// addresses, host names or its id (the rule `stored::encryption_coverage` applies).
#[derive(Debug, Serialize)]
struct ScanView {
    target: String,
    grade: String,
    scanned_at: Timestamp,
}

impl ScanView {
    fn from(record: &ScanRecord) -> Self {
        ScanView {
            target: record.target.clone(),
            grade: record.grade.clone(),
            scanned_at: record.scanned_at,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The asset list

/// The filter of the asset list, for the page and the API.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AssetFilter {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    zone: Option<String>,
    /// `true`: only assets that store, process or transmit PHI; `false` or empty: all.
    #[serde(default)]
    phi: Option<String>,
}

struct Wanted {
    kind: Option<AssetKind>,
    zone: Option<String>,
    phi_only: bool,
}

impl AssetFilter {
    fn wanted(&self) -> Result<Wanted, ConsoleError> {
        let kind = match self.kind.as_deref() {
            None | Some("") => None,
            Some(word) => Some(
                KINDS
                    .into_iter()
                    .find(|k| k.as_str() == word)
                    .ok_or_else(|| ConsoleError::BadRequest("unknown asset kind".into()))?,
            ),
        };
        let phi_only = match self.phi.as_deref() {
            None | Some("") | Some("false") => false,
            Some("true") => true,
            Some(_) => return Err(ConsoleError::BadRequest("phi must be true or false".into())),
        };
        Ok(Wanted {
            kind,
            zone: self.zone.clone().filter(|z| !z.is_empty()),
            phi_only,
        })
    }
}

impl Wanted {
    fn admits(&self, asset: &Asset) -> bool {
        self.kind.is_none_or(|k| asset.kind == k)
            && self.zone.as_deref().is_none_or(|z| asset.zone == z)
            && (!self.phi_only || asset.phi.any())
    }
}

/// One asset in the list.
#[derive(Debug, Serialize)]
struct AssetSummary {
    id: String,
    name: String,
    kind: &'static str,
    zone: String,
    phi: ward_inventory::PhiUse,
    criticality: &'static str,
    os: Option<String>,
    mfa: Option<bool>,
    encrypted_at_rest: Option<bool>,
    encrypted_in_transit: Option<bool>,
    findings: usize,
}

struct AssetList {
    summaries: Vec<AssetSummary>,
    /// Every asset's kind counted, whatever the filter.
    counts: BTreeMap<&'static str, usize>,
    zones: Vec<String>,
    listed: Vec<FeedRecord>,
}

async fn asset_list(state: &ConsoleState, wanted: Wanted) -> Result<AssetList, ConsoleError> {
    let as_of = today(state);
    state
        .blocking(move |store| {
            let loaded = load(store)?;
            let feeds = loaded.feeds.feeds();
            let mut counts = BTreeMap::new();
            let mut zones: Vec<String> = Vec::new();
            for asset in &loaded.assets {
                *counts.entry(asset.kind.as_str()).or_insert(0) += 1;
                if !asset.zone.is_empty() && !zones.contains(&asset.zone) {
                    zones.push(asset.zone.clone());
                }
            }
            zones.sort();
            let summaries = loaded
                .assets
                .iter()
                .filter(|a| wanted.admits(a))
                .map(|a| AssetSummary {
                    id: a.id.clone(),
                    name: a.name.clone(),
                    kind: a.kind.as_str(),
                    zone: a.zone.clone(),
                    phi: a.phi,
                    criticality: a.criticality.as_str(),
                    os: a.os.as_ref().map(software_label),
                    mfa: a.mfa,
                    encrypted_at_rest: a.encrypted_at_rest,
                    encrypted_in_transit: a.encrypted_in_transit,
                    findings: findings_for(a, &feeds, as_of).len(),
                })
                .collect();
            Ok(AssetList {
                summaries,
                counts,
                zones,
                listed: loaded.listed,
            })
        })
        .await
}

struct AssetRow {
    href: String,
    id: String,
    name: String,
    kind: &'static str,
    zone: String,
    stores: &'static str,
    processes: &'static str,
    transmits: &'static str,
    criticality: &'static str,
    os: String,
    mfa: &'static str,
    at_rest: &'static str,
    in_transit: &'static str,
    findings: usize,
}

struct FeedLine {
    name: String,
    version: String,
    origin: String,
    imported: String,
    entries: u64,
}

fn feed_lines(listed: &[FeedRecord]) -> Vec<FeedLine> {
    listed
        .iter()
        .map(|f| FeedLine {
            name: f.name.clone(),
            version: if f.version.is_empty() {
                "unversioned".into()
            } else {
                f.version.clone()
            },
            origin: f.origin.clone(),
            imported: fmt_time(f.imported_at),
            entries: f.entries,
        })
        .collect()
}

/// The sub-navigation of the inventory pages: `(href, label, current)`.
fn sub_nav(current: &str) -> Vec<(&'static str, &'static str, bool)> {
    [
        ("/inventory", "Assets"),
        ("/inventory/exposure", "Exposure"),
        ("/inventory/network", "Network"),
        ("/inventory/encryption", "Encryption"),
        ("/inventory/unknown", "Unknown devices"),
    ]
    .into_iter()
    .map(|(href, label)| (href, label, href == current))
    .collect()
}

#[derive(Template)]
#[template(path = "inventory_assets.html")]
struct AssetsPage {
    chrome: Chrome,
    sub: Vec<(&'static str, &'static str, bool)>,
    counts: Vec<(&'static str, usize)>,
    total: usize,
    kind_options: Vec<(&'static str, bool)>,
    zone_options: Vec<(String, bool)>,
    phi_only: bool,
    feeds: Vec<FeedLine>,
    missing: Vec<&'static str>,
    as_of: String,
    rows: Vec<AssetRow>,
}

/// `GET /inventory`: the assets, filtered.
pub(crate) async fn assets_page(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<AssetFilter>, QueryRejection>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let Query(filter) = q.map_err(bad_query)?;
    let wanted = filter.wanted()?;
    let (kind, zone, phi_only) = (wanted.kind, wanted.zone.clone(), wanted.phi_only);
    let list = asset_list(&state, wanted).await?;
    let rows = list
        .summaries
        .into_iter()
        .map(|a| AssetRow {
            href: asset_href(&a.id),
            stores: flag(Some(a.phi.stores)),
            processes: flag(Some(a.phi.processes)),
            transmits: flag(Some(a.phi.transmits)),
            mfa: flag(a.mfa),
            at_rest: flag(a.encrypted_at_rest),
            in_transit: flag(a.encrypted_in_transit),
            os: a.os.unwrap_or_default(),
            id: a.id,
            name: a.name,
            kind: a.kind,
            zone: a.zone,
            criticality: a.criticality,
            findings: a.findings,
        })
        .collect();
    render(&AssetsPage {
        chrome: Chrome::new(&p, "/inventory", "Inventory"),
        sub: sub_nav("/inventory"),
        total: list.counts.values().sum(),
        counts: list.counts.into_iter().collect(),
        kind_options: KINDS
            .into_iter()
            .map(|k| (k.as_str(), Some(k) == kind))
            .collect(),
        zone_options: list
            .zones
            .into_iter()
            .map(|z| {
                let selected = Some(&z) == zone.as_ref();
                (z, selected)
            })
            .collect(),
        phi_only,
        feeds: feed_lines(&list.listed),
        missing: missing_feeds(&list.listed)
            .into_iter()
            .map(|(_, why)| why)
            .collect(),
        as_of: today(&state).to_string(),
        rows,
    })
}

/// `GET /api/v1/inventory/assets`.
pub(crate) async fn api_assets(
    State(state): State<ConsoleState>,
    q: Result<Query<AssetFilter>, QueryRejection>,
) -> Result<Response, ConsoleError> {
    let Query(filter) = q.map_err(bad_query)?;
    let list = asset_list(&state, filter.wanted()?).await?;
    Ok(Json(json!({
        "as_of": today(&state),
        "counts_by_kind": list.counts,
        "feeds": list.listed.iter().map(FeedView::from).collect::<Vec<_>>(),
        "missing_feeds": missing_feeds(&list.listed).into_iter().map(|(k, _)| k).collect::<Vec<_>>(),
        "assets": list.summaries,
    }))
    .into_response())
}

// ---------------------------------------------------------------------------------------------
// One asset

struct AssetDetail {
    asset: Asset,
    findings: Vec<Finding>,
    reachability: Reachability,
    scans: Vec<ScanView>,
    listed: Vec<FeedRecord>,
}

async fn asset_detail(state: &ConsoleState, id: String) -> Result<AssetDetail, ConsoleError> {
    let as_of = today(state);
    let zones = zones_and_policy(state);
    state
        .blocking(move |store| {
            let asset = stored::load_asset(store, &id)
                .map_err(stored_error)?
                .ok_or(ConsoleError::NotFound)?;
            let feeds = stored::load_feeds(store).map_err(stored_error)?;
            let findings = findings_for(&asset, &feeds.feeds(), as_of);
            let reach = Reach::with_inventory(&zones, store).map_err(stored_error)?;
            let all_scans = store.inventory().scans()?;
            let scans = stored::scans_of(&asset, &all_scans)
                .into_iter()
                .map(ScanView::from)
                .collect();
            Ok(AssetDetail {
                reachability: reach.of(&asset),
                asset,
                findings,
                scans,
                listed: store.inventory().feeds()?,
            })
        })
        .await
}

struct SoftwareRow {
    role: &'static str,
    name: String,
    vendor: String,
    version: String,
    purl: String,
    cpe: String,
}

struct FindingRow {
    kind: &'static str,
    confidence: &'static str,
    id: String,
    software: String,
    reason: String,
    ransomware: bool,
    due: String,
    lifecycle: String,
}

fn finding_kind(f: &Finding) -> &'static str {
    match f.kind {
        ward_inventory::FindingKind::Kev => "known exploited",
        ward_inventory::FindingKind::EndOfLife => "end of life",
        ward_inventory::FindingKind::EndOfSupport => "end of support",
        ward_inventory::FindingKind::Cve => "vulnerability",
    }
}

fn finding_rows(findings: &[Finding]) -> Vec<FindingRow> {
    findings
        .iter()
        .map(|f| FindingRow {
            kind: finding_kind(f),
            confidence: match f.confidence {
                ward_inventory::Confidence::Confirmed => "confirmed",
                ward_inventory::Confidence::Possible => "possible",
            },
            id: f.id.clone(),
            software: f.software.label(),
            reason: f.reason.clone(),
            ransomware: f.ransomware,
            due: f.due_date.map(|d| d.to_string()).unwrap_or_default(),
            lifecycle: f.lifecycle_date.map(|d| d.to_string()).unwrap_or_default(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "inventory_asset.html")]
struct AssetPage {
    chrome: Chrome,
    sub: Vec<(&'static str, &'static str, bool)>,
    facts: Vec<(&'static str, String)>,
    software: Vec<SoftwareRow>,
    findings: Vec<FindingRow>,
    from_untrusted: bool,
    why: Vec<String>,
    has_policy: bool,
    scans: Vec<(String, String, String)>,
    feeds: Vec<FeedLine>,
    missing: Vec<&'static str>,
    as_of: String,
    name: String,
}

fn joined(items: impl IntoIterator<Item = String>) -> String {
    items.into_iter().collect::<Vec<_>>().join(", ")
}

/// `GET /inventory/assets/{id}`.
pub(crate) async fn asset_page(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let has_policy = zones_and_policy(&state).policy.is_some();
    let d = asset_detail(&state, id).await?;
    let a = &d.asset;
    let phi_uses: Vec<String> = [
        (a.phi.stores, "stores"),
        (a.phi.processes, "processes"),
        (a.phi.transmits, "transmits"),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, w)| w.to_string())
    .collect();
    let facts = vec![
        ("Id", a.id.clone()),
        ("Kind", a.kind.as_str().to_string()),
        ("Model", a.model.clone()),
        ("Owner", a.owner.clone()),
        ("Location", a.location.clone()),
        ("Zone", a.zone.clone()),
        ("Department", a.department.clone()),
        (
            "Addresses",
            joined(a.addresses.iter().map(|ip| ip.to_string())),
        ),
        ("Host names", joined(a.hostnames.iter().cloned())),
        (
            "PHI",
            if phi_uses.is_empty() {
                "none".into()
            } else {
                joined(phi_uses)
            },
        ),
        ("MFA", flag(a.mfa).into()),
        ("Encrypted at rest", flag(a.encrypted_at_rest).into()),
        ("Encrypted in transit", flag(a.encrypted_in_transit).into()),
        ("Criticality", a.criticality.as_str().into()),
        ("Supporting vendor", a.vendor.clone()),
        (
            "Compensating controls",
            joined(a.compensating_controls.iter().cloned()),
        ),
        (
            "Origin",
            match a.origin {
                ward_inventory::Origin::Csv => "asset list (CSV)",
                ward_inventory::Origin::Sbom => "SBOM",
                ward_inventory::Origin::Discovered => "discovered in telemetry",
            }
            .into(),
        ),
    ];
    let role_of = |s: &Software| -> &'static str {
        if a.os.as_ref() == Some(s) {
            "operating system"
        } else if a.firmware.as_ref() == Some(s) {
            "firmware"
        } else {
            "software"
        }
    };
    let software = a
        .all_software()
        .map(|s| SoftwareRow {
            role: role_of(s),
            name: s.name.clone(),
            vendor: s.vendor.clone(),
            version: s.version.clone(),
            purl: s.purl.clone().unwrap_or_default(),
            cpe: s.cpe.clone().unwrap_or_default(),
        })
        .collect();
    render(&AssetPage {
        chrome: Chrome::new(&p, "/inventory", &format!("Asset {}", a.id)),
        sub: sub_nav(""),
        facts,
        software,
        findings: finding_rows(&d.findings),
        from_untrusted: d.reachability.from_untrusted,
        why: d.reachability.why.clone(),
        has_policy,
        scans: d
            .scans
            .iter()
            .map(|s| (s.target.clone(), s.grade.clone(), fmt_time(s.scanned_at)))
            .collect(),
        feeds: feed_lines(&d.listed),
        missing: missing_feeds(&d.listed)
            .into_iter()
            .map(|(_, why)| why)
            .collect(),
        as_of: today(&state).to_string(),
        name: a.name.clone(),
    })
}

/// `GET /api/v1/inventory/assets/{id}`.
pub(crate) async fn api_asset(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let d = asset_detail(&state, id).await?;
    Ok(Json(json!({
        "as_of": today(&state),
        "asset": d.asset,
        "findings": d.findings,
        "reachability": d.reachability,
        "scans": d.scans,
        "feeds": d.listed.iter().map(FeedView::from).collect::<Vec<_>>(),
    }))
    .into_response())
}

// ---------------------------------------------------------------------------------------------
// Exposure

async fn exposure_list(
    state: &ConsoleState,
) -> Result<(Vec<ExposureEntry>, Vec<FeedRecord>), ConsoleError> {
    let as_of = today(state);
    let zones = zones_and_policy(state);
    state
        .blocking(move |store| {
            let loaded = load(store)?;
            let reach = Reach::with_inventory(&zones, store).map_err(stored_error)?;
            let entries = stored::exposure(&loaded.assets, &loaded.feeds, as_of, &|a| reach.of(a));
            Ok((entries, loaded.listed))
        })
        .await
}

struct ExposureRow {
    rank: usize,
    score: u32,
    href: String,
    asset_id: String,
    asset_name: String,
    factors: Vec<(i32, String)>,
    findings: usize,
}

#[derive(Template)]
#[template(path = "inventory_exposure.html")]
struct ExposurePage {
    chrome: Chrome,
    sub: Vec<(&'static str, &'static str, bool)>,
    rows: Vec<ExposureRow>,
    feeds: Vec<FeedLine>,
    missing: Vec<&'static str>,
    as_of: String,
}

/// `GET /inventory/exposure`.
pub(crate) async fn exposure_page(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let (entries, listed) = exposure_list(&state).await?;
    let rows = entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| ExposureRow {
            rank: i + 1,
            score: e.score,
            href: asset_href(&e.asset_id),
            factors: e
                .factors
                .into_iter()
                .map(|f| (f.points, f.detail))
                .collect(),
            findings: e.findings.len(),
            asset_id: e.asset_id,
            asset_name: e.asset_name,
        })
        .collect();
    render(&ExposurePage {
        chrome: Chrome::new(&p, "/inventory", "Exposure"),
        sub: sub_nav("/inventory/exposure"),
        rows,
        feeds: feed_lines(&listed),
        missing: missing_feeds(&listed)
            .into_iter()
            .map(|(_, why)| why)
            .collect(),
        as_of: today(&state).to_string(),
    })
}

/// `GET /api/v1/inventory/exposure`.
pub(crate) async fn api_exposure(
    State(state): State<ConsoleState>,
) -> Result<Response, ConsoleError> {
    let (entries, listed) = exposure_list(&state).await?;
    Ok(Json(json!({
        "as_of": today(&state),
        "feeds": listed.iter().map(FeedView::from).collect::<Vec<_>>(),
        "entries": entries,
    }))
    .into_response())
}

// ---------------------------------------------------------------------------------------------
// The network: zones, policy, observed flows

/// The map, as the API returns it; `None` without a policy.
struct Network {
    svg: String,
    phi_reach: Vec<PhiReach>,
    edges: Vec<Edge>,
    dropped_flows: u64,
}

async fn network(state: &ConsoleState) -> Result<Option<Network>, ConsoleError> {
    let zones = zones_and_policy(state);
    state
        .blocking(move |store| {
            let reach = Reach::with_inventory(&zones, store).map_err(stored_error)?;
            Ok(reach.map().map(|map| Network {
                svg: render_svg(&map),
                phi_reach: map.phi_reach(),
                edges: map.edges,
                dropped_flows: map.dropped_flows,
            }))
        })
        .await
}

struct PolicyRow {
    from: String,
    services: String,
    rule_lines: String,
}

struct ObservedRow {
    from: String,
    services: String,
    connections: u64,
    denied: u64,
    last_seen: String,
    phi_destinations: String,
}

struct PhiZone {
    zone: String,
    by_policy: Vec<PolicyRow>,
    observed: Vec<ObservedRow>,
}

#[derive(Template)]
#[template(path = "inventory_network.html")]
struct NetworkPage {
    chrome: Chrome,
    sub: Vec<(&'static str, &'static str, bool)>,
    has_policy: bool,
    svg: String,
    zones: Vec<PhiZone>,
    dropped_flows: u64,
    alerts_href: String,
    can_see_alerts: bool,
}

/// `GET /inventory/network`.
pub(crate) async fn network_page(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let net = network(&state).await?;
    let (svg, zones, dropped_flows) = match net {
        None => (String::new(), Vec::new(), 0),
        Some(net) => {
            let zones = net
                .phi_reach
                .into_iter()
                .map(|r| PhiZone {
                    zone: r.zone,
                    by_policy: r
                        .by_policy
                        .into_iter()
                        .map(|e| PolicyRow {
                            from: e.from,
                            services: e.services.join(", "),
                            rule_lines: joined(e.rule_lines.iter().map(|l| l.to_string())),
                        })
                        .collect(),
                    observed: r
                        .observed
                        .into_iter()
                        .map(|e| ObservedRow {
                            services: joined(e.services.iter().map(|s| {
                                if s.allowed {
                                    s.label()
                                } else {
                                    format!("{} (denied)", s.label())
                                }
                            })),
                            from: e.from,
                            connections: e.connections,
                            denied: e.denied,
                            last_seen: fmt_time(e.last_seen),
                            phi_destinations: e.phi_destinations.join(", "),
                        })
                        .collect(),
                })
                .collect();
            (net.svg, zones, net.dropped_flows)
        }
    };
    render(&NetworkPage {
        chrome: Chrome::new(&p, "/inventory", "Network"),
        sub: sub_nav("/inventory/network"),
        has_policy: !svg.is_empty(),
        svg,
        zones,
        dropped_flows,
        alerts_href: format!("/alerts?rule={SEGMENTATION_RULE}&status=all"),
        can_see_alerts: p.role.allows(Permission::ViewAlerts),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FormatQuery {
    #[serde(default)]
    format: Option<String>,
}

/// `GET /api/v1/inventory/reachability`: what can reach the zones holding PHI, and the
/// observed flows, as JSON; with `format=svg`, the drawn map.
pub(crate) async fn api_reachability(
    State(state): State<ConsoleState>,
    q: Result<Query<FormatQuery>, QueryRejection>,
) -> Result<Response, ConsoleError> {
    let Query(q) = q.map_err(bad_query)?;
    let svg = match q.format.as_deref() {
        None | Some("") | Some("json") => false,
        Some("svg") => true,
        Some(_) => {
            return Err(ConsoleError::BadRequest(
                "format must be json or svg".into(),
            ));
        }
    };
    let net = network(&state).await?;
    if svg {
        // Without a policy there is no map to draw.
        let net = net.ok_or(ConsoleError::NotFound)?;
        return Ok(([(header::CONTENT_TYPE, "image/svg+xml")], net.svg).into_response());
    }
    Ok(Json(match net {
        None => json!({"policy": false, "phi_reach": [], "edges": [], "dropped_flows": 0}),
        Some(net) => json!({
            "policy": true,
            "phi_reach": net.phi_reach,
            "edges": net.edges,
            "dropped_flows": net.dropped_flows,
        }),
    })
    .into_response())
}

// ---------------------------------------------------------------------------------------------
// Encryption coverage

async fn coverage(state: &ConsoleState) -> Result<Vec<CoverageRow>, ConsoleError> {
    state
        .blocking(|store| {
            let assets = stored::load_assets(store).map_err(stored_error)?;
            let scans = store.inventory().scans()?;
            Ok(stored::encryption_coverage(&assets, &scans))
        })
        .await
}

/// "N of M PHI systems encrypted at rest and in transit".
fn covered(rows: &[CoverageRow]) -> usize {
    rows.iter().filter(|r| r.gaps.is_empty()).count()
}

struct CoverageLine {
    href: String,
    asset_id: String,
    asset_name: String,
    zone: String,
    at_rest: &'static str,
    in_transit: &'static str,
    scans: String,
    gaps: Vec<String>,
}

#[derive(Template)]
#[template(path = "inventory_encryption.html")]
struct EncryptionPage {
    chrome: Chrome,
    sub: Vec<(&'static str, &'static str, bool)>,
    covered: usize,
    total: usize,
    rows: Vec<CoverageLine>,
}

/// `GET /inventory/encryption`.
pub(crate) async fn encryption_page(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let rows = coverage(&state).await?;
    render(&EncryptionPage {
        chrome: Chrome::new(&p, "/inventory", "Encryption"),
        sub: sub_nav("/inventory/encryption"),
        covered: covered(&rows),
        total: rows.len(),
        rows: rows
            .into_iter()
            .map(|r| CoverageLine {
                href: asset_href(&r.asset_id),
                at_rest: flag(r.at_rest),
                in_transit: flag(r.in_transit),
                scans: joined(r.scans.iter().map(|(t, g)| format!("{t} grade {g}"))),
                asset_id: r.asset_id,
                asset_name: r.asset_name,
                zone: r.zone,
                gaps: r.gaps,
            })
            .collect(),
    })
}

/// `GET /api/v1/inventory/encryption`.
pub(crate) async fn api_encryption(
    State(state): State<ConsoleState>,
) -> Result<Response, ConsoleError> {
    let rows = coverage(&state).await?;
    let systems: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "asset_id": r.asset_id,
                "asset_name": r.asset_name,
                "zone": r.zone,
                "at_rest": r.at_rest,
                "in_transit_declared": r.in_transit_declared,
                "in_transit": r.in_transit,
                "scans": r.scans.iter().map(|(t, g)| json!({"target": t, "grade": g})).collect::<Vec<_>>(),
                "gaps": r.gaps,
            })
        })
        .collect();
    Ok(Json(json!({
        "phi_systems": rows.len(),
        "covered": covered(&rows),
        "systems": systems,
    }))
    .into_response())
}

// ---------------------------------------------------------------------------------------------
// Unknown devices

async fn unknown(state: &ConsoleState) -> Result<Vec<Sighting>, ConsoleError> {
    state
        .blocking(|store| {
            let assets = stored::load_assets(store).map_err(stored_error)?;
            stored::unknown_devices(store, &assets).map_err(stored_error)
        })
        .await
}

#[derive(Debug, Serialize)]
struct SightingView {
    key: String,
    address: Option<String>,
    hostname: Option<String>,
    mac: Option<String>,
    first_seen: Timestamp,
    last_seen: Timestamp,
    events: u64,
    sources: Vec<String>,
    services: Vec<String>,
}

impl SightingView {
    fn from(s: Sighting) -> Self {
        SightingView {
            key: s.key,
            address: s.address,
            hostname: s.hostname,
            mac: s.mac,
            first_seen: s.first_seen,
            last_seen: s.last_seen,
            events: s.events,
            sources: s.sources,
            services: s.services,
        }
    }

    /// What the accept form offers as the new asset's id: the host name, else the address.
    fn suggested_id(&self) -> String {
        self.hostname
            .clone()
            .or_else(|| self.address.clone())
            .unwrap_or_default()
    }
}

struct DeviceRow {
    key: String,
    hostname: String,
    address: String,
    mac: String,
    first_seen: String,
    last_seen: String,
    events: u64,
    sources: String,
    services: String,
    suggested_id: String,
}

#[derive(Template)]
#[template(path = "inventory_unknown.html")]
struct UnknownPage {
    chrome: Chrome,
    sub: Vec<(&'static str, &'static str, bool)>,
    can_manage: bool,
    rows: Vec<DeviceRow>,
}

/// `GET /inventory/unknown`.
pub(crate) async fn unknown_page(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let devices = unknown(&state).await?;
    render(&UnknownPage {
        chrome: Chrome::new(&p, "/inventory", "Unknown devices"),
        sub: sub_nav("/inventory/unknown"),
        can_manage: p.role.allows(Permission::ManageInventory),
        rows: devices
            .into_iter()
            .map(SightingView::from)
            .map(|s| DeviceRow {
                suggested_id: s.suggested_id(),
                key: s.key,
                hostname: s.hostname.unwrap_or_default(),
                address: s.address.unwrap_or_default(),
                mac: s.mac.unwrap_or_default(),
                first_seen: fmt_time(s.first_seen),
                last_seen: fmt_time(s.last_seen),
                events: s.events,
                sources: s.sources.join(", "),
                services: s.services.join(", "),
            })
            .collect(),
    })
}

/// `GET /api/v1/inventory/unknown`.
pub(crate) async fn api_unknown(
    State(state): State<ConsoleState>,
) -> Result<Response, ConsoleError> {
    let devices: Vec<SightingView> = unknown(&state)
        .await?
        .into_iter()
        .map(SightingView::from)
        .collect();
    Ok(Json(json!({ "devices": devices })).into_response())
}

/// What a person decided about a device.
enum Decision {
    Accept { asset_id: String },
    Dismiss { reason: String },
}

/// Blank as the OpenAPI document's `\S` pattern reads it (Python's `str.isspace`, which
/// also counts the separators U+001C to U+001F).
fn blank(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

/// Whether `id` matches [`ASSET_ID_PATTERN`] within [`MAX_ASSET_ID_CHARS`]; a final line
/// feed is dropped first, as the pattern's `$` allows it. The id to keep, when valid.
fn valid_asset_id(id: &str) -> Option<&str> {
    if id.chars().count() > MAX_ASSET_ID_CHARS {
        return None;
    }
    let id = id.strip_suffix('\n').unwrap_or(id);
    let mut chars = id.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok =
        chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '@' | '-'));
    (first_ok && rest_ok).then_some(id)
}

fn valid_key(key: &str) -> Result<(), ConsoleError> {
    let n = key.chars().count();
    if n == 0 || n > MAX_KEY_CHARS {
        return Err(ConsoleError::BadRequest(format!(
            "name the device by its key, at most {MAX_KEY_CHARS} characters"
        )));
    }
    Ok(())
}

fn dismissal_reason(reason: Option<&str>) -> Result<String, ConsoleError> {
    match reason {
        Some(r) if !blank(r) && r.chars().count() <= MAX_REASON_CHARS => Ok(r.trim().to_string()),
        _ => Err(ConsoleError::BadRequest(format!(
            "give a reason for dismissing, at most {MAX_REASON_CHARS} characters"
        ))),
    }
}

fn asset_id_of(id: &str) -> Result<String, ConsoleError> {
    valid_asset_id(id).map(str::to_string).ok_or_else(|| {
        ConsoleError::BadRequest(format!(
            "an asset id is 1 to {MAX_ASSET_ID_CHARS} letters, digits and . _ : @ -, starting with a letter or digit"
        ))
    })
}

/// Records the decision on device `key` and writes it to the audit trail; `NotFound` when
/// there is no such device. Returns the id of the asset accepted into the inventory.
async fn review(
    state: &ConsoleState,
    p: &Principal,
    place: &str,
    key: String,
    decision: Decision,
) -> Result<Option<String>, ConsoleError> {
    let now = state.now();
    let by = p.audit_name();
    let (activity, detail, accepted) = match &decision {
        Decision::Accept { asset_id } => (
            (api_activity::CREATE, "Create"),
            format!("device accepted into the inventory as asset {asset_id}"),
            Some(asset_id.clone()),
        ),
        Decision::Dismiss { reason } => (
            (api_activity::UPDATE, "Update"),
            format!("device dismissed: {reason}"),
            None,
        ),
    };
    let target = format!("sighting:{key}");
    let found = state
        .blocking(move |store| {
            Ok(match decision {
                Decision::Accept { asset_id } => {
                    stored::accept_sighting(store, &key, &asset_id, &by, now)
                        .map_err(stored_error)?
                }
                Decision::Dismiss { reason } => store.inventory().review_sighting(
                    &key,
                    &SightingReview::Dismissed { reason },
                    &by,
                    now,
                )?,
            })
        })
        .await?;
    if !found {
        return Err(ConsoleError::NotFound);
    }
    audit::record(
        state,
        vec![AuditRecord {
            class_uid: class::API_ACTIVITY,
            activity_id: activity.0,
            activity_name: activity.1,
            status: Status::Success,
            user: p.audit_name(),
            ip: p.ip.clone(),
            place: place.into(),
            target: Some(target),
            patient: None,
            detail: Some(detail),
        }],
    )
    .await?;
    Ok(accepted)
}

#[derive(Debug, Deserialize)]
pub(crate) struct AcceptForm {
    key: String,
    asset_id: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct DismissForm {
    key: String,
    reason: String,
}

/// `POST /inventory/unknown/accept`.
pub(crate) async fn accept_form(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Form(form): Form<AcceptForm>,
) -> PageResult {
    let p = caller.principal()?.clone();
    valid_key(&form.key)?;
    let asset_id = asset_id_of(form.asset_id.trim())?;
    let place = "POST /inventory/unknown/accept";
    let accepted = review(&state, &p, place, form.key, Decision::Accept { asset_id }).await?;
    Ok(see_other(&accepted.map_or_else(
        || "/inventory/unknown".to_string(),
        |id| asset_href(&id),
    )))
}

/// `POST /inventory/unknown/dismiss`.
pub(crate) async fn dismiss_form(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Form(form): Form<DismissForm>,
) -> PageResult {
    let p = caller.principal()?.clone();
    valid_key(&form.key)?;
    let reason = dismissal_reason(Some(&form.reason))?;
    let place = "POST /inventory/unknown/dismiss";
    review(&state, &p, place, form.key, Decision::Dismiss { reason }).await?;
    Ok(see_other("/inventory/unknown"))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum DecisionWord {
    Accept,
    Dismiss,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewBody {
    key: String,
    decision: DecisionWord,
    #[serde(default)]
    asset_id: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /api/v1/inventory/unknown/review`.
pub(crate) async fn api_review(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    bytes: Bytes,
) -> Result<Response, ConsoleError> {
    let p = caller.principal()?.clone();
    let body: ReviewBody = serde_json::from_slice(&bytes)
        .map_err(|_| ConsoleError::BadRequest("the body is not the JSON this call takes".into()))?;
    valid_key(&body.key)?;
    if body
        .reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > MAX_REASON_CHARS)
    {
        return Err(ConsoleError::BadRequest(format!(
            "a reason is at most {MAX_REASON_CHARS} characters"
        )));
    }
    let decision = match body.decision {
        DecisionWord::Accept => {
            let asset_id = match &body.asset_id {
                Some(id) => asset_id_of(id)?,
                None => {
                    // The host name or address the device was seen with, as the form offers.
                    let key = body.key.clone();
                    let suggested = unknown(&state)
                        .await?
                        .into_iter()
                        .find(|s| s.key == key)
                        .map(|s| SightingView::from(s).suggested_id())
                        .ok_or(ConsoleError::NotFound)?;
                    asset_id_of(&suggested)?
                }
            };
            Decision::Accept { asset_id }
        }
        DecisionWord::Dismiss => Decision::Dismiss {
            reason: dismissal_reason(body.reason.as_deref())?,
        },
    };
    let decided = match decision {
        Decision::Accept { .. } => "accepted",
        Decision::Dismiss { .. } => "dismissed",
    };
    let key = body.key.clone();
    let asset_id = review(
        &state,
        &p,
        "POST /api/v1/inventory/unknown/review",
        body.key,
        decision,
    )
    .await?;
    Ok(Json(json!({"key": key, "review": decided, "asset_id": asset_id})).into_response())
}

// ---------------------------------------------------------------------------------------------
// The OpenAPI document

type Operation = (Vec<Value>, Option<Value>, Value);

/// The OpenAPI operations of the inventory routes (see `openapi.rs`).
pub(crate) fn api_operation(method: RouteMethod, path: &str) -> Option<Operation> {
    let ok = |name: &str, description: &str| json!({"description": description, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}")}}}});
    let kinds: Vec<&str> = KINDS.iter().map(|k| k.as_str()).chain([""]).collect();
    Some(match (method, path) {
        (RouteMethod::Get, "/api/v1/inventory/assets") => (
            vec![
                json!({"name": "kind", "in": "query", "required": false,
                    "schema": {"type": "string", "enum": kinds}, "description": "Only assets of this kind"}),
                json!({"name": "zone", "in": "query", "required": false,
                    "schema": {"type": "string"}, "description": "Only assets in this network zone"}),
                json!({"name": "phi", "in": "query", "required": false,
                    "schema": {"type": "string", "enum": ["true", "false", ""]},
                    "description": "true: only assets that store, process or transmit PHI"}),
            ],
            None,
            ok(
                "InventoryAssetList",
                "Assets by id, with their count of findings as of today and the feeds matched against",
            ),
        ),
        (RouteMethod::Get, "/api/v1/inventory/assets/{id}") => (
            vec![json!({"name": "id", "in": "path", "required": true,
                "schema": {"type": "string"}, "description": "The asset's id"})],
            None,
            ok(
                "InventoryAssetDetail",
                "The asset with its findings, reachability and TLS scans",
            ),
        ),
        (RouteMethod::Get, "/api/v1/inventory/exposure") => (
            vec![],
            None,
            ok(
                "ExposureList",
                "Assets with findings, most exposed first, as of today",
            ),
        ),
        (RouteMethod::Get, "/api/v1/inventory/encryption") => (
            vec![],
            None,
            ok(
                "EncryptionCoverage",
                "Encryption of the systems holding PHI, gaps first",
            ),
        ),
        (RouteMethod::Get, "/api/v1/inventory/unknown") => (
            vec![],
            None,
            ok(
                "UnknownDeviceList",
                "Devices seen in telemetry that the inventory does not list and nobody has reviewed",
            ),
        ),
        (RouteMethod::Get, "/api/v1/inventory/reachability") => (
            vec![json!({"name": "format", "in": "query", "required": false,
                "schema": {"type": "string", "enum": ["json", "svg", ""]},
                "description": "svg: the drawn map of zones and observed flows (404 without a segmentation policy)"})],
            None,
            json!({"description": "What can reach the zones holding PHI, by policy and as observed", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Reachability"}},
                "image/svg+xml": {"schema": {"type": "string"}},
            }}),
        ),
        (RouteMethod::Post, "/api/v1/inventory/unknown/review") => (
            vec![],
            Some(json!({"$ref": "#/components/schemas/DeviceReview"})),
            ok("DeviceReviewed", "The decision recorded"),
        ),
        _ => return None,
    })
}

/// The document's schemas with the inventory ones added.
pub(crate) fn with_schemas(mut schemas: Value) -> Value {
    let time = json!({"type": "string", "format": "date-time"});
    let date = json!({"type": "string", "format": "date"});
    let opt_date = json!({"type": ["string", "null"], "format": "date"});
    let opt_bool = json!({"type": ["boolean", "null"]});
    let opt_string = json!({"type": ["string", "null"]});
    let strings = json!({"type": "array", "items": {"type": "string"}});
    let count = json!({"type": "integer", "minimum": 0});
    let r = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    let kinds: Vec<&str> = KINDS.iter().map(|k| k.as_str()).collect();
    let criticality =
        json!({"type": "string", "enum": ["low", "medium", "high", "patient-care-critical"]});
    let phi = json!({"type": "object", "required": ["stores", "processes", "transmits"], "properties": {
        "stores": {"type": "boolean"}, "processes": {"type": "boolean"}, "transmits": {"type": "boolean"}}});
    // In parts: one `json!` of them all is deeper than the macro's recursion limit.
    let assets = json!({
        "InventoryFeed": {"type": "object", "required": ["name", "kind", "version", "origin", "imported_at", "entries", "sha256"], "properties": {
            "name": {"type": "string", "description": "kev, eol:<product>, nvd:<label>"},
            "kind": {"type": "string", "enum": ["kev", "endoflife", "nvd"]},
            "version": {"type": "string", "description": "The feed's own version (KEV's catalogVersion); empty when it has none"},
            "origin": {"type": "string"}, "imported_at": time, "entries": count, "sha256": {"type": "string"}}},
        "InventoryAssetSummary": {"type": "object", "required": ["id", "name", "kind", "zone", "phi", "criticality", "os", "mfa", "encrypted_at_rest", "encrypted_in_transit", "findings"], "properties": {
            "id": {"type": "string"}, "name": {"type": "string"}, "kind": {"type": "string", "enum": kinds},
            "zone": {"type": "string"}, "phi": phi, "criticality": criticality, "os": opt_string,
            "mfa": opt_bool, "encrypted_at_rest": opt_bool, "encrypted_in_transit": opt_bool,
            "findings": count}},
        "InventoryAssetList": {"type": "object", "required": ["as_of", "counts_by_kind", "feeds", "missing_feeds", "assets"], "properties": {
            "as_of": date,
            "counts_by_kind": {"type": "object", "additionalProperties": count, "description": "Every asset counted by kind, whatever the filter"},
            "feeds": {"type": "array", "items": r("InventoryFeed")},
            "missing_feeds": {"type": "array", "items": {"type": "string", "enum": ["kev", "endoflife", "nvd"]}},
            "assets": {"type": "array", "items": r("InventoryAssetSummary")}}},
        "Software": {"type": "object", "required": ["name", "vendor", "version", "purl", "cpe"], "properties": {
            "name": {"type": "string"}, "vendor": {"type": "string"}, "version": {"type": "string"},
            "purl": opt_string, "cpe": opt_string,
            "vulnerabilities": strings}},
        "InventoryAsset": {"type": "object", "required": ["id", "name", "kind", "model", "owner", "location", "zone", "department", "addresses", "hostnames", "phi", "mfa", "encrypted_at_rest", "encrypted_in_transit", "criticality", "vendor", "os", "firmware", "software", "compensating_controls", "origin"], "properties": {
            "id": {"type": "string"}, "name": {"type": "string"}, "kind": {"type": "string", "enum": kinds},
            "model": {"type": "string"}, "owner": {"type": "string"}, "location": {"type": "string"},
            "zone": {"type": "string"}, "department": {"type": "string"},
            "addresses": strings, "hostnames": strings, "phi": phi,
            "mfa": opt_bool, "encrypted_at_rest": opt_bool, "encrypted_in_transit": opt_bool,
            "criticality": criticality, "vendor": {"type": "string"},
            "os": {"oneOf": [{"type": "null"}, r("Software")]},
            "firmware": {"oneOf": [{"type": "null"}, r("Software")]},
            "software": {"type": "array", "items": r("Software")},
            "compensating_controls": strings,
            "origin": {"type": "string", "enum": ["csv", "sbom", "discovered"]}}},
    });
    let findings = json!({
        "InventoryFinding": {"type": "object", "required": ["kind", "software", "id", "reason", "confidence", "ransomware", "due_date", "lifecycle_date"], "properties": {
            "kind": {"type": "string", "enum": ["kev", "end-of-life", "end-of-support", "cve"]},
            "software": r("Software"),
            "id": {"type": "string", "description": "The CVE id, or the product and cycle"},
            "reason": {"type": "string", "description": "Why it matched, in plain words"},
            "confidence": {"type": "string", "enum": ["confirmed", "possible"]},
            "ransomware": {"type": "boolean"}, "due_date": opt_date.clone(), "lifecycle_date": opt_date}},
        "AssetReachability": {"type": "object", "required": ["from_untrusted", "why"], "properties": {
            "from_untrusted": {"type": "boolean"}, "why": strings}},
        "TlsScan": {"type": "object", "required": ["target", "grade", "scanned_at"], "properties": {
            "target": {"type": "string"}, "grade": {"type": "string"}, "scanned_at": time}},
        "InventoryAssetDetail": {"type": "object", "required": ["as_of", "asset", "findings", "reachability", "scans", "feeds"], "properties": {
            "as_of": date, "asset": r("InventoryAsset"),
            "findings": {"type": "array", "items": r("InventoryFinding")},
            "reachability": r("AssetReachability"),
            "scans": {"type": "array", "items": r("TlsScan")},
            "feeds": {"type": "array", "items": r("InventoryFeed")}}},
        "ExposureEntry": {"type": "object", "required": ["asset_id", "asset_name", "score", "factors", "findings"], "properties": {
            "asset_id": {"type": "string"}, "asset_name": {"type": "string"}, "score": count,
            "factors": {"type": "array", "items": {"type": "object", "required": ["kind", "points", "detail"], "properties": {
                "kind": {"type": "string", "enum": ["known-exploited", "ransomware", "end-of-life", "end-of-support", "known-vulnerability", "phi", "untrusted-reach", "criticality", "compensating-controls"]},
                "points": {"type": "integer"}, "detail": {"type": "string"}}}},
            "findings": {"type": "array", "items": r("InventoryFinding")}}},
        "ExposureList": {"type": "object", "required": ["as_of", "feeds", "entries"], "properties": {
            "as_of": date, "feeds": {"type": "array", "items": r("InventoryFeed")},
            "entries": {"type": "array", "items": r("ExposureEntry")}}},
        "EncryptionCoverage": {"type": "object", "required": ["phi_systems", "covered", "systems"], "properties": {
            "phi_systems": count,
            "covered": {"type": "integer", "minimum": 0, "description": "Systems encrypted at rest and in transit"},
            "systems": {"type": "array", "items": {"type": "object", "required": ["asset_id", "asset_name", "zone", "at_rest", "in_transit_declared", "in_transit", "scans", "gaps"], "properties": {
                "asset_id": {"type": "string"}, "asset_name": {"type": "string"}, "zone": {"type": "string"},
                "at_rest": opt_bool, "in_transit_declared": opt_bool,
                "in_transit": {"type": ["boolean", "null"], "description": "As the latest TLS scans show, else as declared"},
                "scans": {"type": "array", "items": {"type": "object", "required": ["target", "grade"], "properties": {
                    "target": {"type": "string"}, "grade": {"type": "string"}}}},
                "gaps": strings}}}}},
    });
    let devices = json!({
        "UnknownDevice": {"type": "object", "required": ["key", "address", "hostname", "mac", "first_seen", "last_seen", "events", "sources", "services"], "properties": {
            "key": {"type": "string"}, "address": opt_string, "hostname": opt_string, "mac": opt_string,
            "first_seen": time, "last_seen": time, "events": count, "sources": strings, "services": strings}},
        "UnknownDeviceList": {"type": "object", "required": ["devices"], "properties": {
            "devices": {"type": "array", "items": r("UnknownDevice")}}},
        "ObservedEdge": {"type": "object", "required": ["from", "to", "services", "connections", "established", "denied", "first_seen", "last_seen", "phi_destinations"], "properties": {
            "from": {"type": "string"}, "to": {"type": "string"},
            "services": {"type": "array", "items": {"type": "object", "required": ["proto", "port", "allowed", "connections"], "properties": {
                "proto": {"type": ["string", "null"], "enum": ["tcp", "udp", "icmp", "any", null]},
                "port": {"type": ["integer", "null"], "minimum": 0, "maximum": 65535},
                "allowed": {"type": "boolean"}, "connections": count}}},
            "connections": count, "established": count, "denied": count,
            "first_seen": time, "last_seen": time, "phi_destinations": strings}},
        "Reachability": {"type": "object", "required": ["policy", "phi_reach", "edges", "dropped_flows"], "properties": {
            "policy": {"type": "boolean", "description": "Whether zones.toml has a segmentation policy; without one, the lists are empty"},
            "phi_reach": {"type": "array", "items": {"type": "object", "required": ["zone", "by_policy", "observed"], "properties": {
                "zone": {"type": "string"},
                "by_policy": {"type": "array", "items": {"type": "object", "required": ["from", "to", "services", "rule_lines"], "properties": {
                    "from": {"type": "string"}, "to": {"type": "string"}, "services": strings,
                    "rule_lines": {"type": "array", "items": count}}}},
                "observed": {"type": "array", "items": r("ObservedEdge")}}}},
            "edges": {"type": "array", "items": r("ObservedEdge")},
            "dropped_flows": count}},
        "DeviceReview": {"type": "object", "additionalProperties": false, "required": ["key", "decision"], "properties": {
            "key": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_CHARS, "description": "The device's key, as listed"},
            "decision": {"type": "string", "enum": ["accept", "dismiss"]},
            "asset_id": {"type": ["string", "null"], "maxLength": MAX_ASSET_ID_CHARS, "pattern": ASSET_ID_PATTERN,
                "description": "accept: the new asset's id (default: the host name or address it was seen with)"},
            "reason": {"type": ["string", "null"], "maxLength": MAX_REASON_CHARS, "description": "dismiss: why"}},
            "if": {"properties": {"decision": {"const": "dismiss"}}, "required": ["decision"]},
            "then": {"required": ["reason"], "properties": {"reason": {"type": "string", "pattern": "\\S"}}}},
        "DeviceReviewed": {"type": "object", "required": ["key", "review", "asset_id"], "properties": {
            "key": {"type": "string"}, "review": {"type": "string", "enum": ["accepted", "dismissed"]},
            "asset_id": opt_string}},
    });
    if let Some(map) = schemas.as_object_mut() {
        for part in [assets, findings, devices] {
            if let Value::Object(part) = part {
                map.extend(part);
            }
        }
    }
    schemas
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_kind_is_offered_once_and_reads_back() {
        for kind in KINDS {
            assert_eq!(AssetKind::from_word(kind.as_str()), Some(kind));
        }
        let mut words: Vec<&str> = KINDS.iter().map(|k| k.as_str()).collect();
        words.dedup();
        assert_eq!(words.len(), KINDS.len());
    }

    #[test]
    fn asset_ids_follow_the_documented_pattern() {
        assert_eq!(
            valid_asset_id("ws-0042.hospital.example"),
            Some("ws-0042.hospital.example")
        );
        assert_eq!(valid_asset_id("10.30.4.17"), Some("10.30.4.17"));
        assert_eq!(valid_asset_id("fe80::1"), Some("fe80::1"));
        // The pattern's `$` allows one final line feed; the id is kept without it.
        assert_eq!(valid_asset_id("pacs01\n"), Some("pacs01"));
        for bad in [
            "",
            "-lead",
            ".lead",
            "with space",
            "tab\there",
            "ünï",
            "a\n\n",
            "a/b",
        ] {
            assert_eq!(valid_asset_id(bad), None, "{bad:?}");
        }
        assert!(valid_asset_id(&"a".repeat(MAX_ASSET_ID_CHARS)).is_some());
        assert!(valid_asset_id(&"a".repeat(MAX_ASSET_ID_CHARS + 1)).is_none());
    }

    #[test]
    fn a_dismissal_needs_a_reason_with_something_in_it() {
        assert!(dismissal_reason(None).is_err());
        assert!(dismissal_reason(Some(" \t\n")).is_err());
        assert!(dismissal_reason(Some("\u{1c}\u{1f}")).is_err());
        assert!(dismissal_reason(Some(&"x".repeat(MAX_REASON_CHARS + 1))).is_err());
        assert_eq!(
            dismissal_reason(Some("  visitor's phone ")).unwrap(),
            "visitor's phone"
        );
    }
}
