//! The prioritised exposure list: outdated or vulnerable assets ranked by what matters in a
//! hospital, each with the factors (and their points) that put it where it is.
//!
//! Points, added per asset (each factor counts once, however many findings support it):
//!
//! | factor | points |
//! | --- | --- |
//! | known exploited vulnerability (KEV), confirmed | 40 |
//! | known exploited vulnerability (KEV), possible only | 15 |
//! | a KEV vulnerability used in ransomware campaigns, confirmed / possible only | +20 / +10 |
//! | end of life | 25 |
//! | end of active support (not yet end of life) | 10 |
//! | other known vulnerability (CVE), confirmed | 10 |
//! | stores PHI | 15 |
//! | processes or transmits PHI (does not store it) | 10 |
//! | reachable from an untrusted zone | 20 |
//! | patient-care-critical / high / medium / low | 20 / 10 / 5 / 0 |
//! | each compensating control | −10, at most −20 |
//!
//! Only assets with at least one finding are listed; the score is never below zero. Ties are
//! broken by asset id so the order is stable.

use crate::asset::{Asset, Criticality};
use crate::matching::{Confidence, Finding, FindingKind};
use serde::{Deserialize, Serialize};

pub const KEV_CONFIRMED: i32 = 40;
pub const KEV_POSSIBLE: i32 = 15;
pub const RANSOMWARE: i32 = 20;
pub const RANSOMWARE_POSSIBLE: i32 = 10;
pub const END_OF_LIFE: i32 = 25;
pub const END_OF_SUPPORT: i32 = 10;
pub const CVE_CONFIRMED: i32 = 10;
pub const PHI_STORED: i32 = 15;
pub const PHI_HANDLED: i32 = 10;
pub const UNTRUSTED_REACH: i32 = 20;
pub const PATIENT_CARE_CRITICAL: i32 = 20;
pub const HIGH_CRITICALITY: i32 = 10;
pub const MEDIUM_CRITICALITY: i32 = 5;
pub const LOW_CRITICALITY: i32 = 0;
pub const COMPENSATING_CONTROL: i32 = -10;
pub const COMPENSATING_CONTROLS_MAX: i32 = -20;

/// Whether an untrusted zone (guest Wi-Fi, internet, vendor VPN …) can reach the asset, as
/// the caller worked it out from zones, policy and observed flows, with its evidence.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reachability {
    pub from_untrusted: bool,
    pub why: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FactorKind {
    KnownExploited,
    Ransomware,
    EndOfLife,
    EndOfSupport,
    KnownVulnerability,
    Phi,
    UntrustedReach,
    Criticality,
    CompensatingControls,
}

/// One reason for an asset's score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Factor {
    pub kind: FactorKind,
    pub points: i32,
    /// What on this asset earned the points, in plain words.
    pub detail: String,
}

/// One asset to rank: the asset, its findings and its reachability.
#[derive(Debug, Clone, Copy)]
pub struct ExposureInput<'a> {
    pub asset: &'a Asset,
    pub findings: &'a [Finding],
    pub reachability: &'a Reachability,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExposureEntry {
    pub asset_id: String,
    pub asset_name: String,
    pub score: u32,
    pub factors: Vec<Factor>,
    pub findings: Vec<Finding>,
}

/// Scores and sorts the assets that have findings, most exposed first.
pub fn rank(inputs: &[ExposureInput<'_>]) -> Vec<ExposureEntry> {
    let mut entries: Vec<ExposureEntry> = inputs
        .iter()
        .filter(|i| !i.findings.is_empty())
        .map(score)
        .collect();
    entries.sort_by(|a, b| {
        b.score
            .cmp(&a.score)
            .then_with(|| a.asset_id.cmp(&b.asset_id))
    });
    entries
}

/// Findings' ids shown in a factor's detail; the rest are counted (every finding is listed
/// in the entry's `findings`).
const IDS_SHOWN: usize = 5;

fn ids(findings: &[&Finding]) -> String {
    let mut ids: Vec<&str> = findings.iter().map(|f| f.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    // Newest CVEs first: `CVE-2025-…` sorts after `CVE-2017-…`.
    ids.reverse();
    let shown = ids
        .iter()
        .take(IDS_SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    match ids.len().saturating_sub(IDS_SHOWN) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

/// The score and factors of one asset.
pub fn score(input: &ExposureInput<'_>) -> ExposureEntry {
    let mut factors = Vec::new();
    let of = |kind: FindingKind, confidence: Option<Confidence>| -> Vec<&Finding> {
        input
            .findings
            .iter()
            .filter(|f| f.kind == kind && confidence.is_none_or(|c| f.confidence == c))
            .collect()
    };
    let kev_confirmed = of(FindingKind::Kev, Some(Confidence::Confirmed));
    let kev_possible = of(FindingKind::Kev, Some(Confidence::Possible));
    if !kev_confirmed.is_empty() {
        factors.push(Factor {
            kind: FactorKind::KnownExploited,
            points: KEV_CONFIRMED,
            detail: format!("known exploited (CISA KEV): {}", ids(&kev_confirmed)),
        });
    } else if !kev_possible.is_empty() {
        factors.push(Factor {
            kind: FactorKind::KnownExploited,
            points: KEV_POSSIBLE,
            detail: format!(
                "possibly known exploited, vendor and product match only: {}",
                ids(&kev_possible)
            ),
        });
    }
    // Ransomware use counts in full only for a confirmed match: a vendor-and-product match
    // says the asset may be affected, not that it is.
    let ransomware = |confidence: Confidence| -> Vec<&Finding> {
        input
            .findings
            .iter()
            .filter(|f| f.kind == FindingKind::Kev && f.ransomware && f.confidence == confidence)
            .collect()
    };
    let (confirmed_ransomware, possible_ransomware) = (
        ransomware(Confidence::Confirmed),
        ransomware(Confidence::Possible),
    );
    if !confirmed_ransomware.is_empty() {
        factors.push(Factor {
            kind: FactorKind::Ransomware,
            points: RANSOMWARE,
            detail: format!(
                "used in ransomware campaigns: {}",
                ids(&confirmed_ransomware)
            ),
        });
    } else if !possible_ransomware.is_empty() {
        factors.push(Factor {
            kind: FactorKind::Ransomware,
            points: RANSOMWARE_POSSIBLE,
            detail: format!(
                "possibly affected by vulnerabilities used in ransomware campaigns: {}",
                ids(&possible_ransomware)
            ),
        });
    }
    let eol = of(FindingKind::EndOfLife, None);
    let eos = of(FindingKind::EndOfSupport, None);
    if !eol.is_empty() {
        factors.push(Factor {
            kind: FactorKind::EndOfLife,
            points: END_OF_LIFE,
            detail: format!("end of life: {}", ids(&eol)),
        });
    } else if !eos.is_empty() {
        factors.push(Factor {
            kind: FactorKind::EndOfSupport,
            points: END_OF_SUPPORT,
            detail: format!("active support ended: {}", ids(&eos)),
        });
    }
    let cves = of(FindingKind::Cve, Some(Confidence::Confirmed));
    if !cves.is_empty() {
        factors.push(Factor {
            kind: FactorKind::KnownVulnerability,
            points: CVE_CONFIRMED,
            detail: format!("known vulnerabilities: {}", ids(&cves)),
        });
    }
    let phi = input.asset.phi;
    if phi.stores {
        factors.push(Factor {
            kind: FactorKind::Phi,
            points: PHI_STORED,
            detail: "stores PHI".to_string(),
        });
    } else if phi.any() {
        factors.push(Factor {
            kind: FactorKind::Phi,
            points: PHI_HANDLED,
            detail: "processes or transmits PHI".to_string(),
        });
    }
    if input.reachability.from_untrusted {
        let why = if input.reachability.why.is_empty() {
            String::new()
        } else {
            format!(": {}", input.reachability.why.join("; "))
        };
        factors.push(Factor {
            kind: FactorKind::UntrustedReach,
            points: UNTRUSTED_REACH,
            detail: format!("reachable from an untrusted zone{why}"),
        });
    }
    let criticality = input.asset.criticality;
    let points = match criticality {
        Criticality::PatientCareCritical => PATIENT_CARE_CRITICAL,
        Criticality::High => HIGH_CRITICALITY,
        Criticality::Medium => MEDIUM_CRITICALITY,
        Criticality::Low => LOW_CRITICALITY,
    };
    factors.push(Factor {
        kind: FactorKind::Criticality,
        points,
        detail: format!("criticality {}", criticality.as_str()),
    });
    let controls = &input.asset.compensating_controls;
    if !controls.is_empty() {
        let count = i32::try_from(controls.len()).unwrap_or(i32::MAX);
        factors.push(Factor {
            kind: FactorKind::CompensatingControls,
            points: count
                .saturating_mul(COMPENSATING_CONTROL)
                .max(COMPENSATING_CONTROLS_MAX),
            detail: format!("compensating controls: {}", controls.join("; ")),
        });
    }
    let total: i32 = factors.iter().map(|f| f.points).sum();
    ExposureEntry {
        asset_id: input.asset.id.clone(),
        asset_name: input.asset.name.clone(),
        score: u32::try_from(total.max(0)).unwrap_or(0),
        factors,
        findings: input.findings.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asset::{AssetKind, Origin, Software};

    fn finding(kind: FindingKind, id: &str, confidence: Confidence, ransomware: bool) -> Finding {
        Finding {
            kind,
            software: Software::new("x", "1"),
            id: id.into(),
            reason: String::new(),
            confidence,
            ransomware,
            due_date: None,
            lifecycle_date: None,
        }
    }

    #[test]
    fn score_adds_every_factor_with_its_points() {
        let mut pacs = Asset::new("pacs", AssetKind::Server, Origin::Csv);
        pacs.phi.stores = true;
        pacs.criticality = Criticality::PatientCareCritical;
        pacs.compensating_controls = vec!["segmented".into(), "EDR".into(), "allow-list".into()];
        let findings = [
            finding(
                FindingKind::Kev,
                "CVE-2021-44228",
                Confidence::Confirmed,
                true,
            ),
            finding(
                FindingKind::EndOfLife,
                "windows-server 2012",
                Confidence::Confirmed,
                false,
            ),
            finding(FindingKind::Cve, "CVE-2024-1", Confidence::Confirmed, false),
        ];
        let reach = Reachability {
            from_untrusted: true,
            why: vec!["guest-wifi reached it on 443/tcp".into()],
        };
        let entry = score(&ExposureInput {
            asset: &pacs,
            findings: &findings,
            reachability: &reach,
        });
        let points: Vec<(FactorKind, i32)> =
            entry.factors.iter().map(|f| (f.kind, f.points)).collect();
        assert_eq!(
            points,
            [
                (FactorKind::KnownExploited, 40),
                (FactorKind::Ransomware, 20),
                (FactorKind::EndOfLife, 25),
                (FactorKind::KnownVulnerability, 10),
                (FactorKind::Phi, 15),
                (FactorKind::UntrustedReach, 20),
                (FactorKind::Criticality, 20),
                (FactorKind::CompensatingControls, -20),
            ]
        );
        assert_eq!(entry.score, 130);
        assert!(entry.factors[5].detail.contains("guest-wifi reached it"));
    }

    #[test]
    fn ranking_puts_exploited_phi_systems_first_and_skips_assets_without_findings() {
        let mut ehr = Asset::new("ehr", AssetKind::Server, Origin::Csv);
        ehr.phi.stores = true;
        let kiosk = Asset::new("kiosk", AssetKind::Workstation, Origin::Csv);
        let clean = Asset::new("clean", AssetKind::Server, Origin::Csv);
        let kev = [finding(
            FindingKind::Kev,
            "CVE-1",
            Confidence::Possible,
            false,
        )];
        let eos = [finding(
            FindingKind::EndOfSupport,
            "ubuntu 20.04",
            Confidence::Confirmed,
            false,
        )];
        let reach = Reachability::default();
        let ranked = rank(&[
            ExposureInput {
                asset: &kiosk,
                findings: &eos,
                reachability: &reach,
            },
            ExposureInput {
                asset: &clean,
                findings: &[],
                reachability: &reach,
            },
            ExposureInput {
                asset: &ehr,
                findings: &kev,
                reachability: &reach,
            },
        ]);
        let order: Vec<(&str, u32)> = ranked
            .iter()
            .map(|e| (e.asset_id.as_str(), e.score))
            .collect();
        assert_eq!(order, [("ehr", 15 + 15 + 5), ("kiosk", 10 + 5)]);
    }

    #[test]
    fn compensating_controls_never_push_the_score_below_zero() {
        let mut a = Asset::new("a", AssetKind::Other, Origin::Csv);
        a.criticality = Criticality::Low;
        a.compensating_controls = vec!["x".into(), "y".into()];
        let f = [finding(
            FindingKind::EndOfSupport,
            "p 1",
            Confidence::Confirmed,
            false,
        )];
        let entry = score(&ExposureInput {
            asset: &a,
            findings: &f,
            reachability: &Reachability::default(),
        });
        assert_eq!(entry.score, 0);
    }
}
