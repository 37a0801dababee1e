//! The inventory's record of one asset: what it is, where it sits, who owns it, whether it
//! touches PHI, how it is protected, and the software it runs. Plain data; sources (CSV,
//! SBOM, discovery) build it and `merge` folds a later source into an earlier record.

use crate::cpe::Cpe;
use crate::purl::Purl;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AssetKind {
    Server,
    Workstation,
    /// A clinical workstation several staff share (nurses' station, ward PC).
    SharedWorkstation,
    MedicalDevice,
    Iot,
    Network,
    CloudService,
    Application,
    Other,
}

impl AssetKind {
    /// The documented word, or a common synonym; anything else is `None`.
    pub fn from_word(word: &str) -> Option<AssetKind> {
        let w = word.trim().to_ascii_lowercase().replace(['_', ' '], "-");
        Some(match w.as_str() {
            "server" => AssetKind::Server,
            "workstation" | "desktop" | "laptop" => AssetKind::Workstation,
            "shared-workstation" | "clinical-workstation" | "kiosk" => AssetKind::SharedWorkstation,
            "medical-device" | "medical" | "biomed" => AssetKind::MedicalDevice,
            "iot" => AssetKind::Iot,
            "network" | "network-device" | "router" | "switch" | "firewall" => AssetKind::Network,
            "cloud-service" | "cloud" | "saas" => AssetKind::CloudService,
            "application" | "app" => AssetKind::Application,
            "other" => AssetKind::Other,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AssetKind::Server => "server",
            AssetKind::Workstation => "workstation",
            AssetKind::SharedWorkstation => "shared-workstation",
            AssetKind::MedicalDevice => "medical-device",
            AssetKind::Iot => "iot",
            AssetKind::Network => "network",
            AssetKind::CloudService => "cloud-service",
            AssetKind::Application => "application",
            AssetKind::Other => "other",
        }
    }
}

/// How the asset touches protected health information.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhiUse {
    pub stores: bool,
    pub processes: bool,
    pub transmits: bool,
}

impl PhiUse {
    pub fn any(&self) -> bool {
        self.stores || self.processes || self.transmits
    }
}

/// How much patient care depends on the asset; ordered from least to most critical.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Criticality {
    Low,
    #[default]
    Medium,
    High,
    PatientCareCritical,
}

impl Criticality {
    pub fn from_word(word: &str) -> Option<Criticality> {
        let w = word.trim().to_ascii_lowercase().replace(['_', ' '], "-");
        Some(match w.as_str() {
            "patient-care-critical" | "patient-care" | "critical" => {
                Criticality::PatientCareCritical
            }
            "high" => Criticality::High,
            "medium" | "moderate" => Criticality::Medium,
            "low" => Criticality::Low,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Criticality::Low => "low",
            Criticality::Medium => "medium",
            Criticality::High => "high",
            Criticality::PatientCareCritical => "patient-care-critical",
        }
    }
}

/// Where the record came from first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    Csv,
    Sbom,
    Discovered,
}

/// A piece of software (operating system, firmware, application, library).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Software {
    pub name: String,
    /// The vendor or publisher; for a Maven component its group.
    pub vendor: String,
    /// Empty when unknown.
    pub version: String,
    pub purl: Option<String>,
    pub cpe: Option<String>,
    /// CVE ids a source (an SBOM's `vulnerabilities`) states affect this component.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vulnerabilities: Vec<String>,
}

impl Software {
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Software {
        Software {
            name: name.into(),
            version: version.into(),
            ..Software::default()
        }
    }

    /// Software named by a package URL: name, namespace as vendor, version.
    pub fn from_purl(purl: &Purl, text: &str) -> Software {
        Software {
            name: purl.name.clone(),
            vendor: purl.namespace.clone().unwrap_or_default(),
            version: purl.version.clone().unwrap_or_default(),
            purl: Some(text.trim().to_string()),
            ..Software::default()
        }
    }

    /// Software named by a CPE: product as name, vendor, version.
    pub fn from_cpe(cpe: &Cpe, text: &str) -> Software {
        Software {
            name: cpe.product.value().unwrap_or_default().to_string(),
            vendor: cpe.vendor.value().unwrap_or_default().to_string(),
            version: cpe.version.value().unwrap_or_default().to_string(),
            cpe: Some(text.trim().to_string()),
            ..Software::default()
        }
    }

    /// `openssl 3.0.7`, or the name alone when the version is unknown.
    pub fn label(&self) -> String {
        if self.version.is_empty() {
            self.name.clone()
        } else {
            format!("{} {}", self.name, self.version)
        }
    }

    /// Whether two records describe the same installed component: the same package URL
    /// when both have one, otherwise the same name (case-insensitive) and version.
    fn same_component(&self, other: &Software) -> bool {
        match (&self.purl, &other.purl) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => {
                self.name.eq_ignore_ascii_case(&other.name)
                    && self.version.eq_ignore_ascii_case(&other.version)
            }
        }
    }

    /// Fills what this record lacks from `other` (same component).
    fn absorb(&mut self, other: Software) {
        fill(&mut self.vendor, other.vendor);
        fill(&mut self.version, other.version);
        if self.purl.is_none() {
            self.purl = other.purl;
        }
        if self.cpe.is_none() {
            self.cpe = other.cpe;
        }
        union(&mut self.vulnerabilities, other.vulnerabilities);
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Asset {
    /// Stable identifier: the hostname, or the name of a cloud service or application.
    pub id: String,
    pub name: String,
    pub kind: AssetKind,
    /// What it is (`infusion-pump`, `ehr-database` …).
    pub model: String,
    pub owner: String,
    pub location: String,
    pub zone: String,
    pub department: String,
    pub addresses: Vec<IpAddr>,
    pub hostnames: Vec<String>,
    pub phi: PhiUse,
    /// `None`: not known.
    pub mfa: Option<bool>,
    pub encrypted_at_rest: Option<bool>,
    pub encrypted_in_transit: Option<bool>,
    pub criticality: Criticality,
    /// The vendor that supports the asset.
    pub vendor: String,
    pub os: Option<Software>,
    pub firmware: Option<Software>,
    pub software: Vec<Software>,
    pub compensating_controls: Vec<String>,
    pub origin: Origin,
}

impl Asset {
    /// An asset with only its identity; everything else empty, unknown or default.
    pub fn new(id: impl Into<String>, kind: AssetKind, origin: Origin) -> Asset {
        let id = id.into();
        Asset {
            name: id.clone(),
            id,
            kind,
            model: String::new(),
            owner: String::new(),
            location: String::new(),
            zone: String::new(),
            department: String::new(),
            addresses: Vec::new(),
            hostnames: Vec::new(),
            phi: PhiUse::default(),
            mfa: None,
            encrypted_at_rest: None,
            encrypted_in_transit: None,
            criticality: Criticality::default(),
            vendor: String::new(),
            os: None,
            firmware: None,
            software: Vec::new(),
            compensating_controls: Vec::new(),
            origin,
        }
    }

    /// The operating system, firmware and software, in that order.
    pub fn all_software(&self) -> impl Iterator<Item = &Software> {
        self.os
            .iter()
            .chain(self.firmware.iter())
            .chain(self.software.iter())
    }

    /// Folds a later record of the same asset (a re-import, an SBOM, a discovery) into this
    /// one. The later source's known values win over this record's (it is newer); an empty
    /// or unknown value never erases one. PHI use only accumulates and criticality only rises,
    /// because dropping either would hide risk on the word of a thinner source. Lists are
    /// unions; software is matched by purl, else name and version, and gaps filled.
    /// The identity (`id`) and the `origin` (where the asset was first learnt) are kept.
    pub fn merge(&mut self, other: Asset) {
        fill_override(&mut self.name, other.name);
        if other.kind != AssetKind::Other {
            self.kind = other.kind;
        }
        fill_override(&mut self.model, other.model);
        fill_override(&mut self.owner, other.owner);
        fill_override(&mut self.location, other.location);
        fill_override(&mut self.zone, other.zone);
        fill_override(&mut self.department, other.department);
        fill_override(&mut self.vendor, other.vendor);
        union(&mut self.addresses, other.addresses);
        union(&mut self.hostnames, other.hostnames);
        self.phi.stores |= other.phi.stores;
        self.phi.processes |= other.phi.processes;
        self.phi.transmits |= other.phi.transmits;
        self.mfa = other.mfa.or(self.mfa);
        self.encrypted_at_rest = other.encrypted_at_rest.or(self.encrypted_at_rest);
        self.encrypted_in_transit = other.encrypted_in_transit.or(self.encrypted_in_transit);
        self.criticality = self.criticality.max(other.criticality);
        if other.os.is_some() {
            self.os = other.os;
        }
        if other.firmware.is_some() {
            self.firmware = other.firmware;
        }
        for software in other.software {
            match self
                .software
                .iter_mut()
                .find(|s| s.same_component(&software))
            {
                Some(existing) => existing.absorb(software),
                None => self.software.push(software),
            }
        }
        union(&mut self.compensating_controls, other.compensating_controls);
    }
}

fn fill(target: &mut String, value: String) {
    if target.is_empty() {
        *target = value;
    }
}

fn fill_override(target: &mut String, value: String) {
    if !value.is_empty() {
        *target = value;
    }
}

fn union<T: PartialEq>(target: &mut Vec<T>, values: Vec<T>) {
    for v in values {
        if !target.contains(&v) {
            target.push(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_known_values_accumulates_phi_and_unions_software() {
        let mut a = Asset::new("pacs01.hospital.example", AssetKind::Server, Origin::Csv);
        a.owner = "Radiology IT".into();
        a.mfa = Some(true);
        a.phi.stores = true;
        a.criticality = Criticality::PatientCareCritical;
        a.addresses = vec!["10.20.0.5".parse().unwrap()];
        a.software = vec![Software::new("openssl", "3.0.7")];

        let mut b = Asset::new("pacs01.hospital.example", AssetKind::Other, Origin::Sbom);
        b.name = String::new();
        b.location = "Building B".into();
        b.criticality = Criticality::Low;
        b.phi.transmits = true;
        b.addresses = vec!["10.20.0.5".parse().unwrap(), "10.20.0.6".parse().unwrap()];
        let mut ssl = Software::new("OpenSSL", "3.0.7");
        ssl.purl = Some("pkg:generic/openssl@3.0.7".into());
        ssl.vulnerabilities = vec!["CVE-2023-0286".into()];
        b.software = vec![ssl, Software::new("zlib", "1.2.13")];

        a.merge(b);
        assert_eq!(a.name, "pacs01.hospital.example");
        assert_eq!(a.kind, AssetKind::Server);
        assert_eq!(a.owner, "Radiology IT");
        assert_eq!(a.location, "Building B");
        assert_eq!(a.mfa, Some(true));
        assert!(a.phi.stores && a.phi.transmits && !a.phi.processes);
        assert_eq!(a.criticality, Criticality::PatientCareCritical);
        assert_eq!(a.addresses.len(), 2);
        assert_eq!(a.software.len(), 2);
        assert_eq!(
            a.software[0].purl.as_deref(),
            Some("pkg:generic/openssl@3.0.7")
        );
        assert_eq!(a.software[0].vulnerabilities, ["CVE-2023-0286"]);
        assert_eq!(a.origin, Origin::Csv);
    }

    #[test]
    fn merge_lets_a_newer_known_flag_replace_an_older_one() {
        let mut a = Asset::new("ws1", AssetKind::Workstation, Origin::Csv);
        a.encrypted_at_rest = Some(true);
        let mut b = Asset::new("ws1", AssetKind::Workstation, Origin::Csv);
        b.encrypted_at_rest = Some(false);
        a.merge(b);
        assert_eq!(a.encrypted_at_rest, Some(false));
        assert_eq!(a.encrypted_in_transit, None);
    }

    #[test]
    fn kinds_and_criticality_read_words_and_synonyms() {
        assert_eq!(
            AssetKind::from_word("Medical Device"),
            Some(AssetKind::MedicalDevice)
        );
        assert_eq!(
            AssetKind::from_word("cloud_service"),
            Some(AssetKind::CloudService)
        );
        assert_eq!(AssetKind::from_word("toaster"), None);
        assert_eq!(
            Criticality::from_word("critical"),
            Some(Criticality::PatientCareCritical)
        );
        assert!(Criticality::PatientCareCritical > Criticality::High);
        assert_eq!(Criticality::default(), Criticality::Medium);
    }
}
