//! What the threat detectors know about the organisation: its network zones, assets, remote
//! vendors, mail partners and staff roster, parsed from the text of the inventory files
//! (formats in `docs/inventory-files.md`).
//!
//! Parsing takes `&str` and never touches a file: the binary reads the files and hands their
//! text over, so this stays testable on data alone. A malformed line is an error naming the
//! file kind, the line and what is wrong with it; it never carries the line's content, which
//! may hold a person's name.
//!
//! `zones.toml` may also carry a segmentation policy (`[policy]` and `[[allow]]` tables), read
//! by [`Inventory::parse_policy`] into a [`SegmentationPolicy`] that
//! [`super::segmentation`] compiles and checks flows against.

use std::collections::HashMap;
use std::net::IpAddr;
use ward_model::Timestamp;

pub use super::segmentation::{AllowRule, PolicyDefault, Proto, SegmentationPolicy, ZoneSelector};

/// Why an inventory file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file} line {line}: {reason}")]
pub struct InventoryError {
    /// Which kind of file (`zones.toml`, `assets.csv` …).
    pub file: &'static str,
    /// 1-based line; 0 when the error concerns the whole file.
    pub line: usize,
    pub reason: String,
}

fn error(file: &'static str, line: usize, reason: impl Into<String>) -> InventoryError {
    InventoryError {
        file,
        line,
        reason: reason.into(),
    }
}

/// An IPv4 or IPv6 network in CIDR notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub address: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    /// `10.0.0.0/8`, `2001:db8::/32`, or a bare address (a host route).
    pub fn parse(text: &str) -> Option<Cidr> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, p.parse::<u8>().ok()?),
            None => {
                let a = text.parse::<IpAddr>().ok()?;
                (a, if a.is_ipv4() { 32 } else { 128 })
            }
        };
        let max = if address.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Cidr { address, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32u32.saturating_sub(u32::from(self.prefix)))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128u32.saturating_sub(u32::from(self.prefix)))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// What a zone holds, which decides what may cross its boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ZoneKind {
    ClinicalWorkstations,
    /// Office and administrative workstations.
    Workstations,
    Servers,
    MedicalDevices,
    GuestWifi,
    Dmz,
    /// Remote access (VPN) address pools: addresses change hands, so no per-device inventory.
    RemoteAccess,
    Other,
}

impl ZoneKind {
    /// The kind named explicitly (`kind = "guest-wifi"`), or guessed from a zone's name and
    /// then its description, because the simulator's zones.toml (and most hand-written ones)
    /// say what a zone is only in words.
    fn from_words(text: &str) -> Option<ZoneKind> {
        let t = text.to_ascii_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| t.contains(w));
        Some(if has(&["guest", "visitor", "public-wifi"]) {
            ZoneKind::GuestWifi
        } else if has(&["medical", "device", "biomed", "iot", "modalit"]) {
            ZoneKind::MedicalDevices
        } else if has(&["server", "datacenter", "data-centre", "datacentre"]) {
            ZoneKind::Servers
        } else if has(&["clinical"]) {
            ZoneKind::ClinicalWorkstations
        } else if has(&["dmz", "perimeter"]) {
            ZoneKind::Dmz
        } else if has(&["vpn", "remote"]) {
            ZoneKind::RemoteAccess
        } else if has(&["admin", "office", "workstation", "desktop"]) {
            ZoneKind::Workstations
        } else {
            return None;
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ZoneKind::ClinicalWorkstations => "clinical workstations",
            ZoneKind::Workstations => "workstations",
            ZoneKind::Servers => "servers",
            ZoneKind::MedicalDevices => "medical devices",
            ZoneKind::GuestWifi => "guest Wi-Fi",
            ZoneKind::Dmz => "DMZ",
            ZoneKind::RemoteAccess => "remote access",
            ZoneKind::Other => "other",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    pub name: String,
    pub cidrs: Vec<Cidr>,
    pub kind: ZoneKind,
    /// Whether the zone's devices are the organisation's own and managed: `trusted = false`
    /// in zones.toml, and by default guest Wi-Fi, DMZ and remote-access zones, are not.
    pub trusted: bool,
}

impl ZoneKind {
    /// Guest Wi-Fi, the DMZ and remote-access pools hold devices the organisation does not
    /// manage or that the internet reaches.
    pub fn trusted_by_default(self) -> bool {
        !matches!(
            self,
            ZoneKind::GuestWifi | ZoneKind::Dmz | ZoneKind::RemoteAccess
        )
    }
}

/// Names a segmentation policy uses for every zone, every internal zone and the internet;
/// a zone may not take them.
pub const RESERVED_ZONE_NAMES: [&str; 3] = ["*", "internal", "external"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssetKind {
    Workstation,
    Server,
    MedicalDevice,
    Other,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Asset {
    pub hostname: String,
    pub ip: Option<IpAddr>,
    pub kind: AssetKind,
    /// What it is (`infusion-pump`, `ehr-database` …); fleets of one model behave alike.
    pub model: String,
    pub zone: String,
    /// Stores or serves protected health information.
    pub phi: bool,
}

/// Asset models that hold or serve PHI when `assets.csv` has no `phi` column.
const PHI_MODELS: &[&str] = &[
    "ehr-application",
    "ehr-database",
    "hl7-interface-engine",
    "pacs",
    "patient-portal",
    "ris",
    "lis",
    "file-server",
];

/// Weekday bit: Monday is bit 0.
const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A vendor with remote access and the hours its contract allows.
#[derive(Debug, Clone, PartialEq)]
pub struct Vendor {
    pub account: String,
    pub company: String,
    /// Addresses the vendor connects from; empty means not restricted.
    pub sources: Vec<Cidr>,
    /// Bit `d` set when weekday `d` (Monday = 0) is contracted.
    pub days: u8,
    /// Contracted hours in UTC, minutes after midnight; `end < start` wraps past midnight.
    pub start_minute: u16,
    pub end_minute: u16,
    pub systems: Vec<String>,
}

impl Vendor {
    /// Whether `time` falls inside the contracted days and hours. A window that wraps past
    /// midnight belongs to the day it starts on.
    pub fn allows(&self, time: Timestamp) -> bool {
        let ms = time.millis();
        let day = ms.div_euclid(DAY_MS);
        let minute = (ms.rem_euclid(DAY_MS) / 60_000) as u16;
        let weekday = |d: i64| ((d + 3).rem_euclid(7)) as u8; // 1970-01-01 was a Thursday
        let day_allowed = |d: i64| self.days & (1 << weekday(d)) != 0;
        if self.start_minute <= self.end_minute {
            day_allowed(day) && minute >= self.start_minute && minute < self.end_minute
        } else {
            (day_allowed(day) && minute >= self.start_minute)
                || (day_allowed(day - 1) && minute < self.end_minute)
        }
    }

    /// `Mon-Fri 08:00-18:00 UTC`, for descriptions.
    pub fn contract_text(&self) -> String {
        let days: Vec<&str> = (0..7)
            .filter(|d| self.days & (1 << d) != 0)
            .filter_map(|d| DAY_NAMES.get(d))
            .copied()
            .collect();
        let days = match days.as_slice() {
            ["mon", "tue", "wed", "thu", "fri"] => "Mon-Fri".to_string(),
            ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] => "every day".to_string(),
            other => other.join(","),
        };
        format!(
            "{days} {:02}:{:02}-{:02}:{:02} UTC",
            self.start_minute / 60,
            self.start_minute % 60,
            self.end_minute / 60,
            self.end_minute % 60
        )
    }
}

/// A mail partner (business associate or supplier) by its domain.
#[derive(Debug, Clone, PartialEq)]
pub struct Partner {
    pub domain: String,
    pub company: String,
    pub kind: String,
    pub business_associate: bool,
}

/// One person on the HR roster.
#[derive(Debug, Clone, PartialEq)]
pub struct StaffMember {
    pub login: String,
    pub name: String,
    pub department: String,
    pub role: String,
    /// Midnight UTC of the termination date, when terminated.
    pub terminated: Option<Timestamp>,
}

impl StaffMember {
    /// Executives are whom display-name impersonation imitates.
    pub fn is_executive(&self) -> bool {
        let role = self.role.to_ascii_lowercase();
        [
            "chief",
            "ceo",
            "cfo",
            "cio",
            "coo",
            "cmo",
            "cno",
            "president",
            "executive",
            "director",
        ]
        .iter()
        .any(|w| {
            role.split(|c: char| !c.is_ascii_alphanumeric())
                .any(|t| t == *w)
        })
    }
}

const DAY_MS: i64 = 86_400_000;

/// The organisation as the threat detectors see it. Build it with the `parse_*` functions and
/// the `with_*` setters; every part is optional, and a detector that lacks a part skips the
/// checks that need it.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub zones: Vec<Zone>,
    pub assets: Vec<Asset>,
    pub vendors: Vec<Vendor>,
    pub partners: Vec<Partner>,
    pub staff: Vec<StaffMember>,
    /// The segmentation policy of `zones.toml`; `None` when the file has no `[policy]` or
    /// `[[allow]]` table, and then no flow is checked against one.
    pub policy: Option<SegmentationPolicy>,
    by_ip: HashMap<IpAddr, usize>,
    by_login: HashMap<String, usize>,
}

impl Inventory {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_zones(mut self, zones: Vec<Zone>) -> Self {
        self.zones = zones;
        self
    }

    pub fn with_assets(mut self, assets: Vec<Asset>) -> Self {
        self.by_ip = assets
            .iter()
            .enumerate()
            .filter_map(|(i, a)| a.ip.map(|ip| (ip, i)))
            .collect();
        self.assets = assets;
        self
    }

    pub fn with_policy(mut self, policy: Option<SegmentationPolicy>) -> Self {
        self.policy = policy;
        self
    }

    pub fn with_vendors(mut self, vendors: Vec<Vendor>) -> Self {
        self.vendors = vendors;
        self
    }

    pub fn with_partners(mut self, partners: Vec<Partner>) -> Self {
        self.partners = partners;
        self
    }

    pub fn with_staff(mut self, staff: Vec<StaffMember>) -> Self {
        self.by_login = staff
            .iter()
            .enumerate()
            .map(|(i, s)| (s.login.to_ascii_lowercase(), i))
            .collect();
        self.staff = staff;
        self
    }

    /// `zones.toml`: `[[zone]]` tables with `name`, `cidr` (or `cidrs`, a list), optional
    /// `kind`, `trusted` and `description`. The policy tables of the same file are read by
    /// [`Inventory::parse_policy`]; this ignores them.
    pub fn parse_zones(text: &str) -> Result<Vec<Zone>, InventoryError> {
        const FILE: &str = "zones.toml";
        let doc = parse_toml(FILE, text)?;
        let Some(list) = doc.get("zone") else {
            return Ok(Vec::new());
        };
        let list = list
            .as_array()
            .ok_or_else(|| error(FILE, 0, "`zone` must be an array of tables ([[zone]])"))?;
        if list.len() > super::segmentation::MAX_ZONES {
            return Err(error(
                FILE,
                0,
                format!(
                    "{} zones: at most {} are supported",
                    list.len(),
                    super::segmentation::MAX_ZONES
                ),
            ));
        }
        let headers = header_lines(text, "zone");
        let mut zones: Vec<Zone> = Vec::with_capacity(list.len());
        for (i, item) in list.iter().enumerate() {
            let line = headers.get(i).copied().unwrap_or(0);
            let at = |reason: String| error(FILE, line, format!("zone {}: {reason}", i + 1));
            let table = item.as_table().ok_or_else(|| at("not a table".into()))?;
            let name = table
                .get("name")
                .and_then(|v| v.as_str())
                .ok_or_else(|| at("missing `name`".into()))?
                .to_string();
            if RESERVED_ZONE_NAMES
                .iter()
                .any(|r| r.eq_ignore_ascii_case(&name))
            {
                return Err(at(format!(
                    "`{name}` is reserved for policies (`*`, `internal`, `external`); rename the zone"
                )));
            }
            if zones.iter().any(|z| z.name == name) {
                return Err(at(format!("a zone named `{name}` is already defined")));
            }
            let mut texts: Vec<&str> = Vec::new();
            if let Some(c) = table.get("cidr").and_then(|v| v.as_str()) {
                texts.push(c);
            }
            if let Some(list) = table.get("cidrs").and_then(|v| v.as_array()) {
                texts.extend(list.iter().filter_map(|v| v.as_str()));
            }
            if texts.is_empty() {
                return Err(at(format!("`{name}` has no `cidr`")));
            }
            let cidrs = texts
                .iter()
                .map(|t| Cidr::parse(t).ok_or_else(|| at(format!("`{t}` is not a CIDR"))))
                .collect::<Result<Vec<_>, _>>()?;
            let description = table
                .get("description")
                .and_then(|v| v.as_str())
                .unwrap_or("");
            let kind = match table.get("kind").and_then(|v| v.as_str()) {
                Some(k) if k.eq_ignore_ascii_case("other") => ZoneKind::Other,
                Some(k) => {
                    ZoneKind::from_words(k).ok_or_else(|| at(format!("unknown zone kind `{k}`")))?
                }
                None => ZoneKind::from_words(&name)
                    .or_else(|| ZoneKind::from_words(description))
                    .unwrap_or(ZoneKind::Other),
            };
            let trusted = match table.get("trusted") {
                None => kind.trusted_by_default(),
                Some(v) => v
                    .as_bool()
                    .ok_or_else(|| at("`trusted` must be true or false".into()))?,
            };
            zones.push(Zone {
                name,
                cidrs,
                kind,
                trusted,
            });
        }
        Ok(zones)
    }

    /// The segmentation policy of `zones.toml` (`[policy]` and `[[allow]]` tables, format in
    /// `docs/inventory-files.md`), checked against `zones` (from [`Inventory::parse_zones`] of
    /// the same text): every zone an allow rule names must exist. `None` when the file has
    /// neither table, which leaves segmentation unchecked.
    pub fn parse_policy(
        text: &str,
        zones: &[Zone],
    ) -> Result<Option<SegmentationPolicy>, InventoryError> {
        const FILE: &str = "zones.toml";
        let doc = parse_toml(FILE, text)?;
        if doc.get("policy").is_none() && doc.get("allow").is_none() {
            return Ok(None);
        }
        let mut policy = SegmentationPolicy {
            default: PolicyDefault::Deny,
            intra_zone: PolicyDefault::Allow,
            rules: Vec::new(),
        };
        if let Some(table) = doc.get("policy") {
            let line = header_lines(text, "policy").first().copied().unwrap_or(0);
            let at = |reason: String| error(FILE, line, format!("[policy]: {reason}"));
            let table = table
                .as_table()
                .ok_or_else(|| at("must be a table ([policy])".into()))?;
            for (key, value) in table {
                let setting = value
                    .as_str()
                    .and_then(PolicyDefault::parse)
                    .ok_or_else(|| at(format!("`{key}` must be \"deny\" or \"allow\"")));
                match key.as_str() {
                    "default" => policy.default = setting?,
                    "intra_zone" => policy.intra_zone = setting?,
                    other => {
                        return Err(at(format!(
                            "unknown key `{other}` (expected `default`, `intra_zone`)"
                        )));
                    }
                }
            }
        }
        let Some(list) = doc.get("allow") else {
            return Ok(Some(policy));
        };
        let list = list
            .as_array()
            .ok_or_else(|| error(FILE, 0, "`allow` must be an array of tables ([[allow]])"))?;
        if list.len() > super::segmentation::MAX_RULES {
            return Err(error(
                FILE,
                0,
                format!(
                    "{} allow rules: at most {} are supported",
                    list.len(),
                    super::segmentation::MAX_RULES
                ),
            ));
        }
        let headers = header_lines(text, "allow");
        for (i, item) in list.iter().enumerate() {
            let line = headers.get(i).copied().unwrap_or(0);
            let at = |reason: String| error(FILE, line, format!("allow rule {}: {reason}", i + 1));
            let table = item.as_table().ok_or_else(|| at("not a table".into()))?;
            if let Some(key) = table
                .keys()
                .find(|k| !["from", "to", "ports", "proto", "description"].contains(&k.as_str()))
            {
                return Err(at(format!(
                    "unknown key `{key}` (expected `from`, `to`, `ports`, `proto`, `description`)"
                )));
            }
            let selector = |key: &str| -> Result<ZoneSelector, InventoryError> {
                let value = table
                    .get(key)
                    .ok_or_else(|| at(format!("missing `{key}`")))?;
                let names: Vec<&str> = match value {
                    toml::Value::String(s) => vec![s.as_str()],
                    toml::Value::Array(items) => items
                        .iter()
                        .map(|v| {
                            v.as_str().ok_or_else(|| {
                                at(format!("`{key}` must list zone names as strings"))
                            })
                        })
                        .collect::<Result<_, _>>()?,
                    _ => return Err(at(format!("`{key}` must be a zone name or a list of them"))),
                };
                if names.is_empty() {
                    return Err(at(format!("`{key}` names no zone")));
                }
                let mut zone_names = Vec::new();
                for name in names {
                    match name.trim() {
                        "*" => return Ok(ZoneSelector::Any),
                        n if n.eq_ignore_ascii_case("internal") => {
                            return Ok(ZoneSelector::Internal);
                        }
                        n if n.eq_ignore_ascii_case("external") => {
                            return Ok(ZoneSelector::External);
                        }
                        n if zones.iter().any(|z| z.name == n) => zone_names.push(n.to_string()),
                        n => {
                            return Err(at(format!(
                                "`{key}` names `{n}`, which is no [[zone]] of this file"
                            )));
                        }
                    }
                }
                Ok(ZoneSelector::Zones(zone_names))
            };
            let from = selector("from")?;
            let to = selector("to")?;
            let proto = match table.get("proto") {
                None => Proto::Any,
                Some(v) => v.as_str().and_then(Proto::parse).ok_or_else(|| {
                    at("`proto` must be \"tcp\", \"udp\", \"icmp\" or \"any\"".into())
                })?,
            };
            let ports = match table.get("ports") {
                None => Vec::new(),
                Some(v) => parse_ports(v).map_err(at)?,
            };
            if proto == Proto::Icmp && !ports.is_empty() {
                return Err(at("ICMP has no ports: leave `ports` out".into()));
            }
            let description = table
                .get("description")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string();
            policy.rules.push(AllowRule {
                from,
                to,
                ports,
                proto,
                description,
                line,
            });
        }
        Ok(Some(policy))
    }

    /// The zones and the policy of one `zones.toml`.
    pub fn parse_zones_and_policy(
        text: &str,
    ) -> Result<(Vec<Zone>, Option<SegmentationPolicy>), InventoryError> {
        let zones = Self::parse_zones(text)?;
        let policy = Self::parse_policy(text, &zones)?;
        Ok((zones, policy))
    }

    /// `assets.csv`: header naming at least `hostname`, `ip`, `kind`, `model`, `zone`; an
    /// optional `phi` column (`true`/`yes`) overrides the guess from the model.
    pub fn parse_assets(text: &str) -> Result<Vec<Asset>, InventoryError> {
        const FILE: &str = "assets.csv";
        let table = CsvTable::parse(FILE, text, &["hostname", "ip", "kind", "model", "zone"])?;
        let mut assets = Vec::new();
        for (line, row) in table.rows() {
            let ip = match table.get(row, "ip") {
                "" => None,
                t => Some(
                    t.parse::<IpAddr>()
                        .map_err(|_| error(FILE, line, "`ip` is not an IP address"))?,
                ),
            };
            let model = table.get(row, "model").to_string();
            let kind = match table.get(row, "kind").to_ascii_lowercase().as_str() {
                "workstation" => AssetKind::Workstation,
                "server" => AssetKind::Server,
                "medical-device" | "medical device" | "iot" => AssetKind::MedicalDevice,
                _ => AssetKind::Other,
            };
            let phi = match table.get(row, "phi") {
                "" => PHI_MODELS.contains(&model.as_str()),
                t => truthy(t),
            };
            assets.push(Asset {
                hostname: table.get(row, "hostname").to_string(),
                ip,
                kind,
                model,
                zone: table.get(row, "zone").to_string(),
                phi,
            });
        }
        Ok(assets)
    }

    /// `vendors.csv`: `account,company,source_ip,days,hours_utc,systems`; several addresses
    /// or systems are separated by `;` or spaces.
    pub fn parse_vendors(text: &str) -> Result<Vec<Vendor>, InventoryError> {
        const FILE: &str = "vendors.csv";
        let table = CsvTable::parse(FILE, text, &["account", "days", "hours_utc"])?;
        let mut vendors = Vec::new();
        for (line, row) in table.rows() {
            let sources = split_list(table.get(row, "source_ip"))
                .map(|t| {
                    Cidr::parse(t).ok_or_else(|| error(FILE, line, "`source_ip` is not an address"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let days = parse_days(table.get(row, "days"))
                .ok_or_else(|| error(FILE, line, "`days` must be like Mon-Fri or Sat,Sun"))?;
            let (start_minute, end_minute) = parse_hours(table.get(row, "hours_utc"))
                .ok_or_else(|| error(FILE, line, "`hours_utc` must be like 08:00-18:00"))?;
            vendors.push(Vendor {
                account: table.get(row, "account").to_string(),
                company: table.get(row, "company").to_string(),
                sources,
                days,
                start_minute,
                end_minute,
                systems: split_list(table.get(row, "systems"))
                    .map(str::to_string)
                    .collect(),
            });
        }
        Ok(vendors)
    }

    /// `partners.csv`: `domain,company,kind,business_associate`.
    pub fn parse_partners(text: &str) -> Result<Vec<Partner>, InventoryError> {
        const FILE: &str = "partners.csv";
        let table = CsvTable::parse(FILE, text, &["domain"])?;
        Ok(table
            .rows()
            .map(|(_, row)| Partner {
                domain: table.get(row, "domain").to_ascii_lowercase(),
                company: table.get(row, "company").to_string(),
                kind: table.get(row, "kind").to_string(),
                business_associate: truthy(table.get(row, "business_associate")),
            })
            .collect())
    }

    /// `hr-roster.csv`: `login,name,department,role,hire_date,termination_date,status`.
    pub fn parse_roster(text: &str) -> Result<Vec<StaffMember>, InventoryError> {
        const FILE: &str = "hr-roster.csv";
        let table = CsvTable::parse(FILE, text, &["login"])?;
        let mut staff = Vec::new();
        for (line, row) in table.rows() {
            let terminated =
                match table.get(row, "termination_date") {
                    "" => None,
                    t => Some(Timestamp::parse(&format!("{t}T00:00:00Z")).ok_or_else(|| {
                        error(FILE, line, "`termination_date` must be YYYY-MM-DD")
                    })?),
                };
            staff.push(StaffMember {
                login: table.get(row, "login").to_string(),
                name: table.get(row, "name").to_string(),
                department: table.get(row, "department").to_string(),
                role: table.get(row, "role").to_string(),
                terminated,
            });
        }
        Ok(staff)
    }

    /// The asset at `ip`.
    pub fn asset(&self, ip: IpAddr) -> Option<&Asset> {
        self.by_ip.get(&ip).and_then(|&i| self.assets.get(i))
    }

    /// The zone holding `ip` (the most specific when zones nest).
    pub fn zone(&self, ip: IpAddr) -> Option<&Zone> {
        self.zones
            .iter()
            .flat_map(|z| z.cidrs.iter().map(move |c| (z, c)))
            .filter(|(_, c)| c.contains(ip))
            .max_by_key(|(_, c)| c.prefix)
            .map(|(z, _)| z)
    }

    /// Whether `ip` belongs to the organisation: inside a zone, or a private, loopback or
    /// link-local address.
    pub fn is_internal(&self, ip: IpAddr) -> bool {
        self.zone(ip).is_some() || is_private(ip)
    }

    pub fn vendor(&self, account: &str) -> Option<&Vendor> {
        self.vendors
            .iter()
            .find(|v| v.account.eq_ignore_ascii_case(account))
    }

    pub fn staff_member(&self, login: &str) -> Option<&StaffMember> {
        self.by_login
            .get(&login.to_ascii_lowercase())
            .and_then(|&i| self.staff.get(i))
    }

    /// The organisation's own mail domains as the asset names show them: each host name
    /// without its first label (`ehr-app01.wgh.example.org` → `wgh.example.org`), the most
    /// common first.
    pub fn organisation_domains(&self) -> Vec<String> {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for asset in &self.assets {
            if let Some((_, domain)) = asset.hostname.split_once('.')
                && domain.contains('.')
            {
                *counts.entry(domain).or_default() += 1;
            }
        }
        let mut domains: Vec<(&str, usize)> = counts.into_iter().collect();
        domains.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        domains
            .into_iter()
            .map(|(d, _)| d.to_ascii_lowercase())
            .collect()
    }
}

/// RFC 1918, CGNAT, loopback, link-local, unique-local and unspecified addresses: never "the
/// internet".
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

fn truthy(text: &str) -> bool {
    matches!(
        text.trim().to_ascii_lowercase().as_str(),
        "true" | "yes" | "y" | "1"
    )
}

fn split_list(text: &str) -> impl Iterator<Item = &str> {
    text.split([';', ' ', '|'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

fn day_index(name: &str) -> Option<u8> {
    let name = name.trim().to_ascii_lowercase();
    let short = name.get(..3)?;
    DAY_NAMES.iter().position(|d| *d == short).map(|i| i as u8)
}

/// `Mon-Fri`, `Sat,Sun`, `Mon-Sun`, `daily`.
fn parse_days(text: &str) -> Option<u8> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("daily") || text.eq_ignore_ascii_case("all") {
        return Some(0x7f);
    }
    let mut days = 0u8;
    for part in text
        .split([',', ';'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day_index(a)?, day_index(b)?);
                let mut d = a;
                loop {
                    days |= 1 << d;
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => days |= 1 << day_index(part)?,
        }
    }
    (days != 0).then_some(days)
}

/// `08:00-18:00` in minutes after midnight; `24:00` allowed as an end.
fn parse_hours(text: &str) -> Option<(u16, u16)> {
    let (a, b) = text.trim().split_once('-')?;
    let minute = |t: &str| -> Option<u16> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m) = (h.parse::<u16>().ok()?, m.parse::<u16>().ok()?);
        (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
    };
    Some((minute(a)?, minute(b)?))
}

/// The line a TOML error's byte span starts on.
fn line_of(text: &str, span: Option<std::ops::Range<usize>>) -> usize {
    span.map(|s| {
        text.get(..s.start.min(text.len()))
            .map_or(0, |t| t.matches('\n').count() + 1)
    })
    .unwrap_or(0)
}

fn parse_toml(file: &'static str, text: &str) -> Result<toml::Table, InventoryError> {
    text.parse()
        .map_err(|e: toml::de::Error| error(file, line_of(text, e.span()), e.message()))
}

/// The 1-based lines of the `[[name]]` (or `[name]`) headers, in order: where the n-th table
/// of that name starts, for errors about its content.
fn header_lines(text: &str, name: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let compact: String = line
                .split('#')
                .next()
                .unwrap_or("")
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            let inner = compact
                .strip_prefix("[[")
                .and_then(|c| c.strip_suffix("]]"))
                .or_else(|| compact.strip_prefix('[').and_then(|c| c.strip_suffix(']')))?;
            (inner == name).then_some(i + 1)
        })
        .collect()
}

/// `ports = [443, "8000-8080", "2575"]`: numbers and ranges, merged and sorted.
fn parse_ports(value: &toml::Value) -> Result<Vec<(u16, u16)>, String> {
    let items: Vec<&toml::Value> = match value {
        toml::Value::Array(items) => items.iter().collect(),
        single => vec![single],
    };
    if items.is_empty() {
        return Err("`ports` is empty: leave it out to allow any port".into());
    }
    let port = |text: &str| -> Result<u16, String> {
        text.trim()
            .parse::<u16>()
            .map_err(|_| format!("`{text}` is not a port (0-65535)"))
    };
    let mut ranges = Vec::with_capacity(items.len());
    for item in items {
        let range = match item {
            toml::Value::Integer(n) => {
                let p = u16::try_from(*n).map_err(|_| format!("{n} is not a port (0-65535)"))?;
                (p, p)
            }
            toml::Value::String(s) => match s.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (port(a)?, port(b)?);
                    if a > b {
                        return Err(format!("the range `{s}` runs backwards"));
                    }
                    (a, b)
                }
                None => {
                    let p = port(s)?;
                    (p, p)
                }
            },
            _ => return Err("`ports` must list numbers and \"a-b\" ranges".into()),
        };
        ranges.push(range);
    }
    Ok(super::segmentation::merge_ranges(ranges))
}

/// A small CSV reader: a header row, then rows of the same width, fields optionally quoted
/// (RFC 4180, `""` for a quote inside), `#` comment lines and blank lines skipped. Header
/// names are case-insensitive, with spaces and `-` read as `_`; a name may not repeat.
/// Inventory files are small and hand-edited; quoted fields spanning lines are not supported.
/// Shared by every inventory file reader (these and `ward-inventory`'s asset list).
#[derive(Debug, Clone)]
pub struct CsvTable {
    header_line: usize,
    columns: HashMap<String, usize>,
    rows: Vec<(usize, Vec<String>)>,
}

impl CsvTable {
    /// Reads `text`; errors name `file` and the line, never a field's content.
    pub fn parse(
        file: &'static str,
        text: &str,
        required: &[&str],
    ) -> Result<CsvTable, InventoryError> {
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| {
                (
                    i + 1,
                    l.trim_start_matches('\u{feff}').trim_end_matches('\r'),
                )
            })
            .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
        let Some((header_line, header)) = lines.next() else {
            return Err(error(file, 0, "empty file: expected a header row"));
        };
        let names = split_csv(header)
            .ok_or_else(|| error(file, header_line, "unbalanced quotes in the header"))?;
        let mut columns = HashMap::new();
        for (i, name) in names.iter().enumerate() {
            let key = name.trim().to_ascii_lowercase().replace([' ', '-'], "_");
            if !key.is_empty() && columns.insert(key, i).is_some() {
                return Err(error(
                    file,
                    header_line,
                    format!("column {} repeats an earlier column's name", i + 1),
                ));
            }
        }
        if let Some(missing) = required.iter().find(|c| !columns.contains_key(**c)) {
            return Err(error(
                file,
                header_line,
                format!("the header has no `{missing}` column"),
            ));
        }
        let width = names.len();
        let mut rows = Vec::new();
        for (n, line) in lines {
            let fields =
                split_csv(line).ok_or_else(|| error(file, n, "unbalanced quotes in the row"))?;
            if fields.len() != width {
                return Err(error(
                    file,
                    n,
                    format!("{} fields where the header has {width}", fields.len()),
                ));
            }
            rows.push((n, fields));
        }
        Ok(CsvTable {
            header_line,
            columns,
            rows,
        })
    }

    /// The 1-based line of the header row.
    pub fn header_line(&self) -> usize {
        self.header_line
    }

    pub fn has(&self, column: &str) -> bool {
        self.columns.contains_key(column)
    }

    /// Rows with their 1-based line numbers.
    pub fn rows(&self) -> impl Iterator<Item = (usize, &Vec<String>)> {
        self.rows.iter().map(|(n, r)| (*n, r))
    }

    /// The trimmed field of `column`, empty when the file has no such column.
    pub fn get<'a>(&self, row: &'a [String], column: &str) -> &'a str {
        self.columns
            .get(column)
            .and_then(|&i| row.get(i))
            .map_or("", |f| f.trim())
    }
}

fn split_csv(line: &str) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.trim().is_empty() => {
                field.clear();
                quoted = true;
            }
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    if quoted {
        return None;
    }
    fields.push(field);
    Some(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZONES: &str = r#"
# Network zones
[[zone]]
name = "clinical"
cidr = "10.10.0.0/16"
description = "shared clinical workstations"

[[zone]]
name = "ehr-servers"
cidr = "10.20.0.0/24"

[[zone]]
name = "medical-devices"
cidr = "10.30.0.0/16"

[[zone]]
name = "guest-wifi"
cidrs = ["172.16.0.0/16", "2001:db8:1::/48"]

[[zone]]
name = "lab"
cidr = "10.50.0.0/16"
kind = "servers"
"#;

    #[test]
    fn zones_get_their_kind_from_name_description_or_explicit_kind() {
        let zones = Inventory::parse_zones(ZONES).unwrap();
        let kinds: Vec<ZoneKind> = zones.iter().map(|z| z.kind).collect();
        assert_eq!(
            kinds,
            [
                ZoneKind::ClinicalWorkstations,
                ZoneKind::Servers,
                ZoneKind::MedicalDevices,
                ZoneKind::GuestWifi,
                ZoneKind::Servers
            ]
        );
        let inv = Inventory::new().with_zones(zones);
        assert_eq!(
            inv.zone("172.16.4.4".parse().unwrap()).unwrap().name,
            "guest-wifi"
        );
        assert_eq!(
            inv.zone("2001:db8:1:ff::1".parse().unwrap()).unwrap().name,
            "guest-wifi"
        );
        assert!(inv.zone("8.8.8.8".parse().unwrap()).is_none());
        assert!(inv.is_internal("192.168.1.1".parse().unwrap()));
        assert!(!inv.is_internal("203.0.113.9".parse().unwrap()));
    }

    #[test]
    fn zone_errors_name_the_zone_and_problem() {
        let e =
            Inventory::parse_zones("[[zone]]\nname = \"x\"\ncidr = \"10.0.0.0/33\"\n").unwrap_err();
        assert!(e.to_string().contains("10.0.0.0/33"), "{e}");
        let e = Inventory::parse_zones(
            "[[zone]]\nname = \"x\"\ncidr = \"10.0.0.0/8\"\nkind = \"lobby\"\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown zone kind `lobby`"), "{e}");
        let other = "[[zone]]\nname = \"x\"\ncidr = \"10.0.0.0/8\"\nkind = \"other\"\n";
        assert_eq!(
            Inventory::parse_zones(other).unwrap()[0].kind,
            ZoneKind::Other
        );
        let e = Inventory::parse_zones("[[zone]\n").unwrap_err();
        assert_eq!(e.line, 1, "{e}");
    }

    #[test]
    fn assets_take_phi_from_model_or_column() {
        let text = "hostname,ip,kind,model,zone,department,shared\n\
            ehr-db01.wgh.example.org,10.20.0.20,server,ehr-database,ehr-servers,,true\n\
            \"pump-1.wgh.example.org\",10.30.1.3,medical-device,infusion-pump,medical-devices,MED,true\n";
        let assets = Inventory::parse_assets(text).unwrap();
        assert!(assets[0].phi);
        assert!(!assets[1].phi);
        assert_eq!(assets[1].kind, AssetKind::MedicalDevice);
        let with_column =
            "hostname,ip,kind,model,zone,phi\nfs1,10.20.0.9,server,nas,ehr-servers,yes\n";
        assert!(Inventory::parse_assets(with_column).unwrap()[0].phi);
        let inv = Inventory::new().with_assets(assets);
        assert_eq!(inv.organisation_domains(), ["wgh.example.org"]);
        let bad = Inventory::parse_assets("hostname,ip,kind,model,zone\na,not-ip,server,x,y\n")
            .unwrap_err();
        assert_eq!((bad.file, bad.line), ("assets.csv", 2));
        assert!(
            Inventory::parse_assets("hostname,ip\n").is_err(),
            "missing columns"
        );
    }

    #[test]
    fn vendor_hours_respect_days_and_wrap_past_midnight() {
        let text = "account,company,source_ip,days,hours_utc,systems\n\
            vnd-a,A,198.51.100.24,Mon-Fri,08:00-18:00,infusion-pump\n\
            vnd-b,B,192.0.2.0/24;192.0.2.200,Sat-Sun,22:00-02:00,pacs\n";
        let v = Inventory::parse_vendors(text).unwrap();
        let monday_9 = Timestamp::parse("2026-11-02T09:00:00Z").unwrap();
        let monday_3 = Timestamp::parse("2026-11-02T03:00:00Z").unwrap();
        let saturday_9 = Timestamp::parse("2026-11-07T09:00:00Z").unwrap();
        assert!(v[0].allows(monday_9));
        assert!(!v[0].allows(monday_3));
        assert!(!v[0].allows(saturday_9));
        assert_eq!(v[0].contract_text(), "Mon-Fri 08:00-18:00 UTC");
        // Sunday 23:00 and the Monday 01:00 it wraps into are allowed; Monday 23:00 is not.
        assert!(v[1].allows(Timestamp::parse("2026-11-08T23:00:00Z").unwrap()));
        assert!(v[1].allows(Timestamp::parse("2026-11-09T01:00:00Z").unwrap()));
        assert!(!v[1].allows(Timestamp::parse("2026-11-09T23:00:00Z").unwrap()));
        assert_eq!(v[1].sources.len(), 2);
        assert!(
            Inventory::parse_vendors("account,days,hours_utc\nx,Funday,08:00-09:00\n").is_err()
        );
        assert!(Inventory::parse_vendors("account,days,hours_utc\nx,Mon,8-9\n").is_err());
    }

    #[test]
    fn roster_and_partners_parse() {
        let roster = "login,name,department,role,hire_date,termination_date,status\n\
            u1,Ann Lee,MED,physician,2019-03-21,,active\n\
            u2,Bo Kim,IT,Chief Information Officer,2010-01-01,2026-08-12,terminated\n";
        let staff = Inventory::parse_roster(roster).unwrap();
        assert_eq!(
            staff[1].terminated,
            Timestamp::parse("2026-08-12T00:00:00Z")
        );
        assert!(staff[1].is_executive());
        assert!(!staff[0].is_executive());
        let inv = Inventory::new().with_staff(staff);
        assert_eq!(inv.staff_member("U2").unwrap().name, "Bo Kim");
        let partners = Inventory::parse_partners(
            "domain,company,kind,business_associate\nNorthstar-Reflab.com,Northstar,lab,yes\n",
        )
        .unwrap();
        assert_eq!(partners[0].domain, "northstar-reflab.com");
        assert!(partners[0].business_associate);
    }

    #[test]
    fn cidrs_match_by_prefix() {
        let c = Cidr::parse("10.30.0.0/16").unwrap();
        assert!(c.contains("10.30.255.1".parse().unwrap()));
        assert!(!c.contains("10.31.0.1".parse().unwrap()));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(!c.contains("::1".parse().unwrap()));
        assert!(
            Cidr::parse("::/0")
                .unwrap()
                .contains("::1".parse().unwrap())
        );
        assert!(Cidr::parse("10.0.0.0/x").is_none());
    }
}
