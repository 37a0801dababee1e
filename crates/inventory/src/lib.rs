//! The technology asset inventory and its exposure: assets and the software they run (from
//! `assets.csv` and CycloneDX SBOMs), vulnerability and lifecycle feeds (CISA KEV,
//! endoflife.date, NVD), matching of software against those feeds with the reason for every
//! match, and a ranking of exposed assets by what matters in a hospital.
//!
//! Every module but two is pure: text or bytes in, values out. None reads files, opens
//! sockets, looks at the clock (callers pass `as_of`) or logs; errors name the file kind,
//! line or field path and the problem, never a row's content. [`discover`] gathers the
//! devices the telemetry shows from events handed to it. [`stored`] and [`reach`] are the
//! inventory over the store: they read and write only through the `Store` trait (as
//! `ward-respond` does for incidents), so the command line and the console share one
//! implementation of importing, matching and ranking.

pub mod asset;
pub mod cpe;
pub mod csv;
pub mod discover;
pub mod exposure;
pub mod feeds;
#[doc(hidden)]
pub mod fuzzing;
mod json;
pub mod matching;
pub mod purl;
pub mod reach;
pub mod sbom;
pub mod stored;
pub mod version;

pub use asset::{Asset, AssetKind, Criticality, Origin, PhiUse, Software};
pub use cpe::{Cpe, CpeError, CpePart, CpeValue};
pub use csv::{CsvError, parse_assets};
pub use exposure::{ExposureEntry, ExposureInput, Factor, FactorKind, Reachability, rank};
pub use feeds::{
    EolIdentifier, EolProduct, EolRelease, FeedKind, KevCatalog, KevEntry, Milestone,
    NvdConfiguration, NvdCpeMatch, NvdCve, NvdFeed, NvdNode, detect_feed, parse_endoflife_legacy,
    parse_endoflife_v1, parse_kev, parse_nvd,
};
pub use json::JsonError;
pub use matching::{Confidence, Feeds, Finding, FindingKind, findings_for};
pub use purl::{Purl, PurlError};
pub use sbom::{Sbom, SbomComponent, SbomVulnerability, parse_cyclonedx};
pub use version::{Version, VersionRange};
