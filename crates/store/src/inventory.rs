//! The technology inventory's storage: assets, what the telemetry shows of devices nobody
//! listed (sightings), the vulnerability and lifecycle feeds as imported, and the results of
//! TLS scans of the organisation's own endpoints.
//!
//! The store keeps assets, feeds and scan reports as documents it does not interpret (JSON
//! written by `ward-inventory` and `ward-scan`), indexed by what lookups need. None of it is
//! PHI: an asset names systems and the people responsible for them, never patients, so these
//! tables are not sealed.

use crate::Result;
use ward_model::Timestamp;

/// One asset as stored: its id (hostname, or name for a cloud service or application) and
/// the document describing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetRecord {
    pub id: String,
    /// The asset as JSON, opaque to the store.
    pub body: String,
    pub updated_at: Timestamp,
}

/// What a person decided about a device seen in the telemetry but not in the inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SightingReview {
    /// Nobody has looked at it yet: it is listed as new and unknown.
    Unreviewed,
    /// Added to the inventory as the asset with this id.
    Accepted { asset: String },
    /// Known and not worth an inventory entry (a visitor's phone on guest Wi-Fi), with why.
    Dismissed { reason: String },
}

impl SightingReview {
    pub fn as_str(&self) -> &'static str {
        match self {
            SightingReview::Unreviewed => "unreviewed",
            SightingReview::Accepted { .. } => "accepted",
            SightingReview::Dismissed { .. } => "dismissed",
        }
    }
}

/// A device or service the telemetry shows. Sightings with the same key merge: first and
/// last seen widen, counts add, sources and services are united.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting {
    /// `ip:10.30.4.17`, `host:pacs-01.example.org`, `mac:00:1a:2b:…`: what identifies it.
    pub key: String,
    pub address: Option<String>,
    pub hostname: Option<String>,
    pub mac: Option<String>,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// Events that showed it.
    pub events: u64,
    /// Sources (decoder names: `zeek_conn`, `atna`, `hl7`, `windows` …) that showed it.
    pub sources: Vec<String>,
    /// Services it answered on, `tcp/443`.
    pub services: Vec<String>,
    pub review: SightingReview,
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<Timestamp>,
}

/// A feed as imported: its name (`kev`, `eol:ubuntu`, `nvd:2024-01` …), what it is, and its
/// bytes exactly as read, so a finding can be traced back to the feed version that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedRecord {
    pub name: String,
    /// `kev`, `endoflife`, `nvd`.
    pub kind: String,
    /// The feed's own version or date (KEV's `catalogVersion`), empty when it has none.
    pub version: String,
    /// Where it came from: a file path or a URL.
    pub origin: String,
    pub imported_at: Timestamp,
    /// SHA-256 of `body`, hex.
    pub sha256: String,
    /// Entries it holds (vulnerabilities, release cycles).
    pub entries: u64,
    /// The feed's bytes; empty in listings.
    pub body: Vec<u8>,
}

/// The latest TLS scan of one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanRecord {
    /// `host:port`.
    pub target: String,
    pub scanned_at: Timestamp,
    /// The scanner's grade (`A`, `B`, `F` …), for listing without reading the report.
    pub grade: String,
    /// The scanner's report as JSON, opaque to the store.
    pub body: String,
}

/// Assets, sightings, feeds and scans.
pub trait Inventory: Send + Sync {
    /// Inserts assets or replaces those with the same id; returns how many were written.
    fn put_assets(&self, assets: &[AssetRecord]) -> Result<u64>;
    fn get_asset(&self, id: &str) -> Result<Option<AssetRecord>>;
    /// Every asset, by id.
    fn list_assets(&self) -> Result<Vec<AssetRecord>>;
    /// `false` when there was no such asset.
    fn delete_asset(&self, id: &str) -> Result<bool>;

    /// Merges sightings into those stored (a new key is stored unreviewed); returns how many
    /// keys were new.
    fn record_sightings(&self, sightings: &[Sighting]) -> Result<u64>;
    /// Sightings by key; only those nobody has reviewed when `unreviewed_only`.
    fn sightings(&self, unreviewed_only: bool) -> Result<Vec<Sighting>>;
    /// Records a person's decision; `false` when there is no such sighting.
    fn review_sighting(
        &self,
        key: &str,
        review: &SightingReview,
        by: &str,
        at: Timestamp,
    ) -> Result<bool>;

    /// Stores a feed, replacing the one with the same name.
    fn put_feed(&self, feed: &FeedRecord) -> Result<()>;
    fn feed(&self, name: &str) -> Result<Option<FeedRecord>>;
    /// Every feed by name, without their bodies.
    fn feeds(&self) -> Result<Vec<FeedRecord>>;

    /// Stores a scan result; the latest per target is kept.
    fn put_scan(&self, scan: &ScanRecord) -> Result<()>;
    /// The latest scan of every target, by target.
    fn scans(&self) -> Result<Vec<ScanRecord>>;
}
