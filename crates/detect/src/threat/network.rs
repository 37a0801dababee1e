//! Devices and segmentation, from network telemetry (Zeek conn, dns and ssl logs, or any
//! Network Activity event with addresses and ports), read against the inventory's zones and
//! assets.
//!
//! - A medical device reaching an external address that is not an approved destination of its
//!   model and that its fleet does not use: devices of one model talk to the same vendor
//!   cloud, so a destination only one pump uses is the outlier. Approved destinations can be
//!   given (by domain or network); otherwise a destination becomes part of the fleet's
//!   baseline when `fleet_quorum` devices of the model use it, and a model learns during its
//!   first `fleet_hold` of traffic.
//! - Guest Wi-Fi reaching a PHI system, or any internal zone.
//! - Clear-text PHI protocols (HL7 MLLP, DICOM) leaving the organisation for an address that
//!   is not a known partner's.
//! - TLS below 1.2, weak ciphers or failed certificate validation on connections to PHI
//!   systems.
//! - Addresses in inventoried zones that the inventory does not list (low severity, once per
//!   address): a device to review.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use ward_model::event::class;
use ward_model::{AlertEntities, Event, EventId, Severity, Timestamp};

use super::inventory::{AssetKind, Cidr, Inventory, ZoneKind};
use super::{
    DAY, Expiring, HOUR, Rule, TableStats, clock, day_of, duration, ip_of, plural, unmapped_str,
};
use crate::{Detector, Finding};

const TRANSMISSION: &str = "164.312(e)(1)";
const ENCRYPTION: &str = "164.312(e)(2)(ii)";
const ACTIVITY_REVIEW: &str = "164.308(a)(1)(ii)(D)";
const ACCESS_CONTROL: &str = "164.312(a)(1)";
const AUDIT_CONTROLS: &str = "164.312(b)";

pub const DEVICE_UNSEEN_DESTINATION: Rule = Rule {
    id: "threat.network.device_unseen_destination",
    title: "Medical device reached an external address its fleet does not use",
    severity: Severity::High,
    attack: &["T1071", "T1041"],
    hipaa: &[TRANSMISSION, ACTIVITY_REVIEW, AUDIT_CONTROLS],
};

pub const GUEST_TO_PHI: Rule = Rule {
    id: "threat.network.guest_to_phi",
    title: "Guest Wi-Fi reached a system holding PHI",
    severity: Severity::High,
    attack: &["T1021", "T1046"],
    hipaa: &[ACCESS_CONTROL, TRANSMISSION, ACTIVITY_REVIEW],
};

pub const GUEST_TO_INTERNAL: Rule = Rule {
    id: "threat.network.guest_to_internal",
    title: "Guest Wi-Fi reached an internal zone",
    severity: Severity::Medium,
    attack: &["T1046"],
    hipaa: &[ACCESS_CONTROL, ACTIVITY_REVIEW],
};

pub const CLEARTEXT_PHI_EGRESS: Rule = Rule {
    id: "threat.network.cleartext_phi_egress",
    title: "Clear-text PHI protocol left the organisation",
    severity: Severity::High,
    attack: &["T1048.003"],
    hipaa: &[TRANSMISSION, ENCRYPTION, ACTIVITY_REVIEW],
};

pub const WEAK_TLS: Rule = Rule {
    id: "threat.network.weak_tls_phi",
    title: "Weak TLS on a system holding PHI",
    severity: Severity::Medium,
    attack: &["T1557", "T1040"],
    hipaa: &[TRANSMISSION, ENCRYPTION],
};

pub const UNKNOWN_DEVICE: Rule = Rule {
    id: "threat.network.unknown_device",
    title: "Device not in the inventory",
    severity: Severity::Low,
    attack: &["T1200"],
    hipaa: &["164.310(d)(1)", ACTIVITY_REVIEW],
};

/// Every rule this detector can raise.
pub const RULES: &[Rule] = &[
    DEVICE_UNSEEN_DESTINATION,
    GUEST_TO_PHI,
    GUEST_TO_INTERNAL,
    CLEARTEXT_PHI_EGRESS,
    WEAK_TLS,
    UNKNOWN_DEVICE,
];

#[derive(Debug, Clone)]
pub struct NetworkOptions {
    /// Devices of one model that must use a destination before it is the fleet's.
    pub fleet_quorum: usize,
    /// How long a model learns its destinations after its first traffic.
    pub fleet_hold_ms: i64,
    /// Destinations approved per model: `(model, domain or CIDR)`, e.g.
    /// `("infusion-pump", "medinfuse-cloud.net")`. A domain covers its subdomains and is
    /// matched through the names DNS and TLS gave the address.
    pub approved_destinations: Vec<(String, String)>,
    /// Ports of protocols that carry PHI in clear text (HL7 MLLP, DICOM).
    pub cleartext_phi_ports: Vec<(u16, String)>,
    /// Partners' networks that may receive clear-text PHI (interfaces over a private link).
    pub partner_networks: Vec<Cidr>,
    /// Zeek `version` values that are too weak.
    pub weak_tls_versions: Vec<String>,
    pub report_unknown_devices: bool,
    /// The most addresses, pairs or names any one table holds.
    pub max_entities: usize,
}

impl Default for NetworkOptions {
    fn default() -> Self {
        NetworkOptions {
            fleet_quorum: 3,
            fleet_hold_ms: HOUR,
            approved_destinations: Vec::new(),
            cleartext_phi_ports: vec![
                (2575, "HL7 MLLP".into()),
                (104, "DICOM".into()),
                (11112, "DICOM".into()),
            ],
            partner_networks: Vec::new(),
            weak_tls_versions: ["SSLv2", "SSLv3", "TLSv10", "TLSv11"]
                .map(String::from)
                .to_vec(),
            report_unknown_devices: true,
            max_entities: 200_000,
        }
    }
}

/// A connection as the analytics need it.
struct Flow<'a> {
    src: IpAddr,
    dst: IpAddr,
    port: Option<u16>,
    /// `REJ`, `S0` … : the connection was refused or not answered.
    refused: bool,
    bytes: u64,
    event: &'a Event,
}

fn flow(event: &Event) -> Option<Flow<'_>> {
    let src = ip_of(event.src_endpoint.ip.as_deref())?;
    let dst = ip_of(event.dst_endpoint.ip.as_deref())?;
    let state = unmapped_str(event, "conn_state").or(event.status_detail.as_deref());
    let refused = matches!(state, Some("REJ" | "S0" | "RSTO" | "RSTOS0" | "SH" | "OTH"));
    let bytes = ["orig_bytes", "resp_bytes"]
        .iter()
        .filter_map(|k| event.unmapped.get(k).and_then(|v| v.as_u64()))
        .sum();
    Some(Flow {
        src,
        dst,
        port: event.dst_endpoint.port,
        refused,
        bytes,
        event,
    })
}

#[derive(Debug, Default)]
struct Fleet {
    first_seen: Option<Timestamp>,
    established: HashSet<IpAddr>,
    /// Destinations used by fewer than a quorum of devices: the devices and their evidence.
    pending: HashMap<IpAddr, Pending>,
}

#[derive(Debug)]
struct Pending {
    first: Timestamp,
    devices: Vec<IpAddr>,
    evidence: Vec<(IpAddr, EventId, Timestamp, Option<u16>)>,
}

/// Per pair (source, destination) tallies behind a description.
#[derive(Debug, Default, Clone)]
struct Tally {
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    connections: u64,
    refused: u64,
    bytes: u64,
    clients: Vec<IpAddr>,
    details: Vec<String>,
}

impl Tally {
    fn add(&mut self, time: Timestamp, refused: bool, bytes: u64) {
        self.first.get_or_insert(time);
        self.last = Some(time);
        self.connections += 1;
        self.refused += u64::from(refused);
        self.bytes += bytes;
    }
}

const FLEET_CAP: usize = 256;

/// The fleet of addresses in medical-device zones that the inventory does not list.
pub const UNLISTED_MODEL: &str = "unlisted-device";

pub struct NetworkDetector {
    inventory: Arc<Inventory>,
    options: NetworkOptions,
    fleet_sizes: HashMap<String, usize>,
    fleets: HashMap<String, Fleet>,
    /// The last name DNS answers or TLS SNI gave each address.
    names: Expiring<IpAddr, String>,
    /// (rule, key) → (window start, tally) for alerts in progress.
    open: Expiring<(&'static str, String), (Timestamp, Tally)>,
    unknown_seen: Expiring<IpAddr, ()>,
    /// Pending destinations a fleet dropped, the oldest first, to stay under `FLEET_CAP`.
    pending_evicted: u64,
}

impl NetworkDetector {
    pub fn new(inventory: Arc<Inventory>, options: NetworkOptions) -> Self {
        let mut fleet_sizes: HashMap<String, usize> = HashMap::new();
        for asset in &inventory.assets {
            if asset.kind == AssetKind::MedicalDevice {
                *fleet_sizes.entry(asset.model.clone()).or_default() += 1;
            }
        }
        let cap = options.max_entities;
        NetworkDetector {
            inventory,
            fleet_sizes,
            fleets: HashMap::new(),
            names: Expiring::new(cap, 7 * DAY),
            open: Expiring::new(cap, DAY),
            unknown_seen: Expiring::new(cap, 30 * DAY),
            pending_evicted: 0,
            options,
        }
    }

    /// The tables of state this detector holds, with their caps and what they let go. The
    /// fleets (one per device model of the inventory, and the unlisted devices) hold at most
    /// `FLEET_CAP` pending destinations each, reported together as `fleet_pending`.
    pub fn state(&self) -> Vec<TableStats> {
        vec![
            self.names.stats("names"),
            self.open.stats("open_alerts"),
            self.unknown_seen.stats("unknown_devices"),
            TableStats {
                table: "fleet_pending",
                held: self.fleets.values().map(|f| f.pending.len()).sum(),
                cap: self.fleets.len() * FLEET_CAP,
                evicted: self.pending_evicted,
                expired: 0,
            },
        ]
    }

    fn name_of(&self, ip: IpAddr, now: Timestamp) -> Option<&str> {
        self.names.get(&ip, now).map(String::as_str)
    }

    fn learn_names(&mut self, event: &Event) {
        let now = event.time;
        if event.class_uid == class::DNS_ACTIVITY {
            let Some(query) = unmapped_str(event, "query") else {
                return;
            };
            let query = query.trim_end_matches('.').to_ascii_lowercase();
            if let Some(answers) = event.unmapped.get("answers").and_then(|v| v.as_array()) {
                for answer in answers.iter().filter_map(|a| a.as_str()) {
                    if let Ok(ip) = answer.parse::<IpAddr>() {
                        *self.names.touch(ip, now, String::new) = query.clone();
                    }
                }
            }
        } else if let (Some(ip), Some(host)) = (
            ip_of(event.dst_endpoint.ip.as_deref()),
            event.dst_endpoint.hostname.as_deref(),
        ) && host.contains('.')
        {
            *self.names.touch(ip, now, String::new) = host.to_ascii_lowercase();
        }
    }

    fn approved(&self, model: &str, dst: IpAddr, now: Timestamp) -> bool {
        let name = self.name_of(dst, now);
        self.options
            .approved_destinations
            .iter()
            .filter(|(m, _)| m.eq_ignore_ascii_case(model) || m == "*")
            .any(|(_, what)| match Cidr::parse(what) {
                Some(cidr) => cidr.contains(dst),
                None => name.is_some_and(|n| domain_within(n, what)),
            })
    }

    fn is_partner(&self, dst: IpAddr, now: Timestamp) -> bool {
        self.options
            .partner_networks
            .iter()
            .any(|c| c.contains(dst))
            || self.name_of(dst, now).is_some_and(|name| {
                self.inventory
                    .partners
                    .iter()
                    .any(|p| domain_within(name, &p.domain))
            })
    }

    /// `model` is the asset's model, or [`UNLISTED_MODEL`] for an address in a medical-device
    /// zone that the inventory does not list (such devices learn as one small fleet).
    fn device_destinations(&mut self, f: &Flow, model: &str, out: &mut Vec<Finding>) {
        let now = f.event.time;
        if self.inventory.is_internal(f.dst) || self.approved(model, f.dst, now) {
            return;
        }
        let quorum = self.options.fleet_quorum.max(1);
        let hold = self.options.fleet_hold_ms;
        let fleet_size = self.fleet_sizes.get(model).copied().unwrap_or(1);
        if !self.fleets.contains_key(model) {
            self.fleets.insert(model.to_string(), Fleet::default());
        }
        let Some(fleet) = self.fleets.get_mut(model) else {
            return;
        };
        let learning_until = fleet.first_seen.get_or_insert(now).millis() + hold;
        if fleet.established.contains(&f.dst) {
            return;
        }
        let small_fleet = fleet_size < quorum;
        if small_fleet && now.millis() < learning_until {
            if fleet.established.len() < FLEET_CAP {
                fleet.established.insert(f.dst);
            }
            return;
        }
        if fleet.pending.len() >= FLEET_CAP && !fleet.pending.contains_key(&f.dst) {
            // A device fanning out to hundreds of destinations: the oldest pending one goes.
            if let Some(oldest) = fleet
                .pending
                .iter()
                .min_by_key(|(_, p)| p.first)
                .map(|(k, _)| *k)
            {
                fleet.pending.remove(&oldest);
                self.pending_evicted += 1;
            }
        }
        let pending = fleet.pending.entry(f.dst).or_insert_with(|| Pending {
            first: now,
            devices: Vec::new(),
            evidence: Vec::new(),
        });
        if !pending.devices.contains(&f.src) && pending.devices.len() < 64 {
            pending.devices.push(f.src);
        }
        if pending.evidence.len() < 256 {
            pending.evidence.push((f.src, f.event.id, now, f.port));
        }
        if !small_fleet && pending.devices.len() >= quorum {
            fleet.pending.remove(&f.dst);
            if fleet.established.len() < FLEET_CAP {
                fleet.established.insert(f.dst);
            }
            return;
        }
        if now.millis() >= learning_until {
            self.conclude_pending(model, now, out);
        }
    }

    /// Pending destinations of `model` whose learning time is over become alerts: one per
    /// device and destination, extended by later connections.
    fn conclude_pending(&mut self, model: &str, now: Timestamp, out: &mut Vec<Finding>) {
        let hold = self.options.fleet_hold_ms;
        let Some(fleet) = self.fleets.get_mut(model) else {
            return;
        };
        let learning_until = fleet.first_seen.map_or(i64::MAX, |t| t.millis() + hold);
        if now.millis() < learning_until {
            return;
        }
        let established: Vec<IpAddr> = fleet.established.iter().copied().collect();
        let mut concluded: Vec<(IpAddr, Pending)> = Vec::new();
        for (dst, p) in fleet.pending.iter_mut() {
            if !p.evidence.is_empty() {
                concluded.push((
                    *dst,
                    Pending {
                        first: p.first,
                        devices: p.devices.clone(),
                        evidence: std::mem::take(&mut p.evidence),
                    },
                ));
            }
        }
        for (dst, p) in concluded {
            let mut by_device: HashMap<IpAddr, Vec<(EventId, Timestamp, Option<u16>)>> =
                HashMap::new();
            for (device, id, time, port) in p.evidence {
                by_device.entry(device).or_default().push((id, time, port));
            }
            for (device_ip, evidence) in by_device {
                let device = self.inventory.asset(device_ip);
                let hostname = device.map(|d| d.hostname.clone());
                let key = format!("{device_ip}|{dst}");
                let entry =
                    self.open
                        .touch((DEVICE_UNSEEN_DESTINATION.id, key.clone()), now, || {
                            (day_of(p.first), Tally::default())
                        });
                for (_, time, _) in &evidence {
                    entry.1.add(*time, false, 0);
                }
                let window = entry.0;
                let tally = entry.1.clone();
                let ports: Vec<String> = {
                    let mut ports: Vec<String> = evidence
                        .iter()
                        .filter_map(|e| e.2)
                        .map(|p| p.to_string())
                        .collect();
                    ports.sort();
                    ports.dedup();
                    ports
                };
                let dst_name = self
                    .names
                    .get(&dst, now)
                    .map_or(String::new(), |n| format!(" ({n})"));
                let baseline: Vec<String> = established
                    .iter()
                    .take(3)
                    .map(|ip| match self.names.get(ip, now) {
                        Some(n) => format!("{ip} ({n})"),
                        None => ip.to_string(),
                    })
                    .collect();
                let baseline = if baseline.is_empty() {
                    "no external destination yet".to_string()
                } else {
                    baseline.join(", ")
                };
                let others = p.devices.len().saturating_sub(1);
                out.push(DEVICE_UNSEEN_DESTINATION.finding(
                    &key,
                    window,
                    (tally.first.unwrap_or(now), tally.last.unwrap_or(now)),
                    AlertEntities {
                        device: hostname.clone(),
                        src_ip: Some(device_ip.to_string()),
                        dst_ip: Some(dst.to_string()),
                        ..Default::default()
                    },
                    format!(
                        "{} ({model}, {device_ip}) connected to external {dst}{dst_name} on port {} ({} since {}); {} of its fleet used it; the fleet's destinations: {baseline}",
                        hostname.as_deref().unwrap_or("a medical device"),
                        if ports.is_empty() { "?".to_string() } else { ports.join(", ") },
                        plural(tally.connections as usize, "connection"),
                        clock(tally.first.unwrap_or(now)),
                        if others == 0 { "no other device".to_string() } else { plural(others, "other device") },
                    ),
                    evidence.iter().map(|e| e.0).collect(),
                ));
            }
        }
    }

    fn guest_traffic(&mut self, f: &Flow, out: &mut Vec<Finding>) {
        let inventory = Arc::clone(&self.inventory);
        let Some(dst_zone) = inventory.zone(f.dst) else {
            return;
        };
        if matches!(
            dst_zone.kind,
            ZoneKind::GuestWifi | ZoneKind::Dmz | ZoneKind::Other
        ) {
            return;
        }
        let asset = inventory.asset(f.dst);
        let phi = asset.is_some_and(|a| a.phi);
        let rule = if phi { GUEST_TO_PHI } else { GUEST_TO_INTERNAL };
        let now = f.event.time;
        let key = format!("{}|{}", f.src, f.dst);
        let entry = self.open.touch((rule.id, key.clone()), now, || {
            (day_of(now), Tally::default())
        });
        entry.1.add(now, f.refused, f.bytes);
        let (window, t) = (entry.0, entry.1.clone());
        let what = match asset {
            Some(a) => format!(
                "{} ({}{})",
                a.hostname.split('.').next().unwrap_or(&a.hostname),
                a.model,
                if a.phi { ", holds PHI" } else { "" }
            ),
            None => format!("{} in the {} zone", f.dst, dst_zone.name),
        };
        let port = f.port.map_or(String::new(), |p| format!(" on port {p}"));
        out.push(rule.finding(
            &key,
            window,
            (now, now),
            AlertEntities {
                src_ip: Some(f.src.to_string()),
                dst_ip: Some(f.dst.to_string()),
                host: asset.map(|a| a.hostname.clone()),
                ..Default::default()
            },
            format!(
                "guest Wi-Fi device {} connected to {what}{port}: {}, {} refused, {} established, from {} to {}",
                f.src,
                plural(t.connections as usize, "attempt"),
                t.refused,
                t.connections - t.refused,
                clock(t.first.unwrap_or(now)),
                clock(now)
            ),
            vec![f.event.id],
        ));
    }

    fn cleartext_egress(&mut self, f: &Flow, out: &mut Vec<Finding>) {
        let Some(port) = f.port else { return };
        let Some((_, protocol)) = self
            .options
            .cleartext_phi_ports
            .iter()
            .find(|(p, _)| *p == port)
        else {
            return;
        };
        let now = f.event.time;
        if !self.inventory.is_internal(f.src)
            || self.inventory.is_internal(f.dst)
            || self.is_partner(f.dst, now)
        {
            return;
        }
        let protocol = protocol.clone();
        let src_name = self.inventory.asset(f.src).map(|a| {
            a.hostname
                .split('.')
                .next()
                .unwrap_or(&a.hostname)
                .to_string()
        });
        let dst_name = self
            .name_of(f.dst, now)
            .map_or(String::new(), |n| format!(" ({n})"));
        let key = format!("{}|{}", f.src, f.dst);
        let entry = self
            .open
            .touch((CLEARTEXT_PHI_EGRESS.id, key.clone()), now, || {
                (day_of(now), Tally::default())
            });
        entry.1.add(now, f.refused, f.bytes);
        let (window, t) = (entry.0, entry.1.clone());
        let who = match &src_name {
            Some(n) => format!("{n} ({})", f.src),
            None => f.src.to_string(),
        };
        out.push(CLEARTEXT_PHI_EGRESS.finding(
            &key,
            window,
            (now, now),
            AlertEntities {
                src_ip: Some(f.src.to_string()),
                dst_ip: Some(f.dst.to_string()),
                host: self.inventory.asset(f.src).map(|a| a.hostname.clone()),
                ..Default::default()
            },
            format!(
                "{who} sent {protocol} (port {port}) in clear text to external {}{dst_name}, not a known partner: {}, {} bytes, since {}",
                f.dst,
                plural(t.connections as usize, "connection"),
                t.bytes,
                clock(t.first.unwrap_or(now))
            ),
            vec![f.event.id],
        ));
    }

    fn weak_tls(&mut self, event: &Event, out: &mut Vec<Finding>) {
        let (Some(src), Some(dst)) = (
            ip_of(event.src_endpoint.ip.as_deref()),
            ip_of(event.dst_endpoint.ip.as_deref()),
        ) else {
            return;
        };
        let inventory = Arc::clone(&self.inventory);
        let asset = inventory.asset(dst);
        let phi = asset.is_some_and(|a| a.phi)
            || inventory
                .zone(dst)
                .is_some_and(|z| z.kind == ZoneKind::Servers);
        if !phi {
            return;
        }
        let version = unmapped_str(event, "version").unwrap_or("");
        let cipher = unmapped_str(event, "cipher").unwrap_or("");
        let validation = unmapped_str(event, "validation_status").unwrap_or("");
        let mut problems = Vec::new();
        if self.options.weak_tls_versions.iter().any(|v| v == version) {
            problems.push(format!("{} ({version})", tls_version_text(version)));
        }
        if weak_cipher(cipher) {
            problems.push(format!("weak cipher {cipher}"));
        }
        if problems.is_empty() {
            return;
        }
        if !validation.is_empty() && validation != "ok" {
            problems.push(format!("certificate: {validation}"));
        }
        let now = event.time;
        let key = dst.to_string();
        let entry = self.open.touch((WEAK_TLS.id, key.clone()), now, || {
            (day_of(now), Tally::default())
        });
        entry.1.add(now, false, 0);
        if !entry.1.clients.contains(&src) && entry.1.clients.len() < 1_000 {
            entry.1.clients.push(src);
        }
        for p in &problems {
            if !entry.1.details.contains(p) && entry.1.details.len() < 8 {
                entry.1.details.push(p.clone());
            }
        }
        let (window, t) = (entry.0, entry.1.clone());
        let server = asset.map_or(dst.to_string(), |a| format!("{} ({dst})", a.hostname));
        out.push(WEAK_TLS.finding(
            &key,
            window,
            (now, now),
            AlertEntities {
                dst_ip: Some(dst.to_string()),
                src_ip: Some(src.to_string()),
                host: asset.map(|a| a.hostname.clone()),
                ..Default::default()
            },
            format!(
                "{server}, which holds PHI, negotiated {} with {} in {}: {}",
                plural(t.connections as usize, "weak TLS session"),
                plural(t.clients.len(), "client"),
                duration(now.millis() - t.first.unwrap_or(now).millis()),
                t.details.join("; ")
            ),
            vec![event.id],
        ));
    }

    fn unknown_device(&mut self, event: &Event, ip: IpAddr, out: &mut Vec<Finding>) {
        if !self.options.report_unknown_devices || self.inventory.assets.is_empty() {
            return;
        }
        let Some(zone) = self.inventory.zone(ip) else {
            return;
        };
        if matches!(zone.kind, ZoneKind::GuestWifi | ZoneKind::RemoteAccess) {
            return;
        }
        if self.inventory.asset(ip).is_some() {
            return;
        }
        let now = event.time;
        if self.unknown_seen.get(&ip, now).is_some() {
            return;
        }
        let zone_text = format!("{} zone ({})", zone.name, zone.kind.as_str());
        self.unknown_seen.touch(ip, now, || ());
        let peer = event
            .dst_endpoint
            .ip
            .as_deref()
            .map_or(String::new(), |d| format!(", first seen talking to {d}"));
        out.push(UNKNOWN_DEVICE.finding(
            &ip.to_string(),
            day_of(now),
            (now, now),
            AlertEntities {
                src_ip: Some(ip.to_string()),
                ..Default::default()
            },
            format!(
                "{ip} in the {zone_text} is not in the asset inventory{peer} at {}; review and add it, or find out what it is",
                clock(now)
            ),
            vec![event.id],
        ));
    }
}

/// `login.example.org` is within `example.org`; `badexample.org` is not.
fn domain_within(name: &str, domain: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let domain = domain.trim_start_matches('.').to_ascii_lowercase();
    name == domain || name.ends_with(&format!(".{domain}"))
}

fn tls_version_text(version: &str) -> &'static str {
    match version {
        "SSLv2" => "SSL 2.0",
        "SSLv3" => "SSL 3.0",
        "TLSv10" => "TLS 1.0",
        "TLSv11" => "TLS 1.1",
        _ => "an old protocol version",
    }
}

/// RC4, DES and 3DES, export-grade, anonymous, NULL and MD5 suites.
fn weak_cipher(cipher: &str) -> bool {
    let c = cipher.to_ascii_uppercase();
    [
        "RC4", "_DES_", "DES40", "3DES", "DES_CBC", "NULL", "EXPORT", "_ANON_", "_MD5",
    ]
    .iter()
    .any(|w| c.contains(w))
}

impl Detector for NetworkDetector {
    fn name(&self) -> &str {
        "network"
    }

    fn observe(&mut self, event: &Event, out: &mut Vec<Finding>) {
        if !matches!(
            event.class_uid,
            class::NETWORK_ACTIVITY | class::DNS_ACTIVITY | class::HTTP_ACTIVITY
        ) {
            return;
        }
        self.learn_names(event);
        if let Some(src) = ip_of(event.src_endpoint.ip.as_deref()) {
            self.unknown_device(event, src, out);
        }
        let is_zeek = event.metadata.product == "zeek";
        let code = event.metadata.event_code.as_deref().unwrap_or("");
        if is_zeek && code == "ssl" {
            self.weak_tls(event, out);
            return;
        }
        // Zeek's ssl and http rows repeat a connection its conn row already counted.
        if event.class_uid != class::NETWORK_ACTIVITY || (is_zeek && code != "conn") {
            return;
        }
        let Some(f) = flow(event) else { return };
        let inventory = Arc::clone(&self.inventory);
        let model = match inventory.asset(f.src) {
            Some(a) if a.kind == AssetKind::MedicalDevice => Some(a.model.as_str()),
            Some(_) => None,
            None => inventory
                .zone(f.src)
                .filter(|z| z.kind == ZoneKind::MedicalDevices)
                .map(|_| UNLISTED_MODEL),
        };
        if let Some(model) = model {
            self.device_destinations(&f, model, out);
        }
        if inventory
            .zone(f.src)
            .is_some_and(|z| z.kind == ZoneKind::GuestWifi)
        {
            self.guest_traffic(&f, out);
        }
        self.cleartext_egress(&f, out);
    }

    fn advance(&mut self, now: Timestamp, out: &mut Vec<Finding>) {
        let models: Vec<String> = self
            .fleets
            .iter()
            .filter(|(_, f)| f.pending.values().any(|p| !p.evidence.is_empty()))
            .map(|(m, _)| m.clone())
            .collect();
        for model in models {
            self.conclude_pending(&model, now, out);
        }
        self.names.sweep(now);
        self.open.sweep(now);
        self.unknown_seen.sweep(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ZONES: &str = r#"
[[zone]]
name = "ehr-servers"
cidr = "10.20.0.0/24"
[[zone]]
name = "medical-devices"
cidr = "10.30.0.0/16"
[[zone]]
name = "guest-wifi"
cidr = "172.16.0.0/16"
"#;

    fn inventory() -> Arc<Inventory> {
        let mut assets = String::from("hostname,ip,kind,model,zone\n");
        assets.push_str("ehr-app02.h.org,10.20.0.11,server,ehr-application,ehr-servers\n");
        assets.push_str("ehr-db01.h.org,10.20.0.20,server,ehr-database,ehr-servers\n");
        assets.push_str("hl7-engine01.h.org,10.20.0.30,server,hl7-interface-engine,ehr-servers\n");
        for i in 0..6 {
            assets.push_str(&format!(
                "pump-{i}.h.org,10.30.1.{i},medical-device,infusion-pump,medical-devices\n"
            ));
        }
        Arc::new(
            Inventory::new()
                .with_zones(Inventory::parse_zones(ZONES).unwrap())
                .with_assets(Inventory::parse_assets(&assets).unwrap())
                .with_partners(
                    Inventory::parse_partners("domain,company\nnorthstar-reflab.com,Northstar\n")
                        .unwrap(),
                ),
        )
    }

    fn conn(minute: i64, src: &str, dst: &str, port: u16, state: &str) -> Event {
        let mut e = Event::from_record(
            "zeek",
            Timestamp(1_794_096_000_000 + minute * 60_000),
            format!("{minute}{src}{dst}{port}{state}").into_bytes(),
        );
        e.class_uid = class::NETWORK_ACTIVITY;
        e.metadata.event_code = Some("conn".into());
        e.src_endpoint.ip = Some(src.into());
        e.dst_endpoint.ip = Some(dst.into());
        e.dst_endpoint.port = Some(port);
        e.unmapped.insert("conn_state", json!(state));
        e.unmapped.insert("orig_bytes", json!(1000));
        e
    }

    fn run(det: &mut NetworkDetector, events: &[Event]) -> Vec<Finding> {
        let mut out = Vec::new();
        for e in events {
            det.observe(e, &mut out);
            det.advance(e.time, &mut out);
        }
        out
    }

    #[test]
    fn a_pump_leaving_its_fleets_cloud_is_reported_and_the_fleet_cloud_is_not() {
        let mut det = NetworkDetector::new(inventory(), NetworkOptions::default());
        let mut events = Vec::new();
        for m in 0..180 {
            events.push(conn(
                m,
                &format!("10.30.1.{}", m % 6),
                "34.117.59.81",
                443,
                "SF",
            ));
        }
        let mut dns = conn(200, "10.30.1.4", "10.20.0.50", 53, "SF");
        dns.class_uid = class::DNS_ACTIVITY;
        dns.metadata.event_code = Some("dns".into());
        dns.unmapped
            .insert("query", json!("fw-update.infuse-sync.top"));
        dns.unmapped.insert("answers", json!(["5.188.206.91"]));
        events.push(dns);
        events.push(conn(201, "10.30.1.4", "5.188.206.91", 8443, "SF"));
        events.push(conn(205, "10.30.1.4", "5.188.206.91", 8443, "SF"));
        let out = run(&mut det, &events);
        assert_eq!(out.len(), 2, "{out:#?}");
        assert!(
            out.iter()
                .all(|f| f.alert.rule_id == DEVICE_UNSEEN_DESTINATION.id)
        );
        assert_eq!(out[0].alert.id, out[1].alert.id);
        let d = out[1].alert.description.as_deref().unwrap();
        assert!(d.contains("pump-4.h.org (infusion-pump, 10.30.1.4) connected to external 5.188.206.91 (fw-update.infuse-sync.top) on port 8443 (2 connections"), "{d}");
        assert_eq!(
            out[0].alert.entities.device.as_deref(),
            Some("pump-4.h.org")
        );
    }

    #[test]
    fn a_lone_destination_during_learning_is_reported_when_learning_ends() {
        let mut det = NetworkDetector::new(inventory(), NetworkOptions::default());
        let mut events = vec![conn(0, "10.30.1.1", "5.188.206.91", 8443, "SF")];
        for m in 1..90 {
            events.push(conn(
                m,
                &format!("10.30.1.{}", m % 6),
                "34.117.59.81",
                443,
                "SF",
            ));
        }
        let out = run(&mut det, &events);
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].alert.entities.dst_ip.as_deref(),
            Some("5.188.206.91")
        );
        assert_eq!(out[0].alert.first_seen, events[0].time);
    }

    #[test]
    fn approved_destinations_are_never_reported() {
        let options = NetworkOptions {
            approved_destinations: vec![("infusion-pump".into(), "5.188.206.0/24".into())],
            ..Default::default()
        };
        let mut det = NetworkDetector::new(inventory(), options);
        let events: Vec<Event> = (0..200)
            .map(|m| conn(m, "10.30.1.1", "5.188.206.91", 8443, "SF"))
            .collect();
        assert!(run(&mut det, &events).is_empty());
    }

    #[test]
    fn guest_wifi_to_the_ehr_database_counts_refusals_and_successes() {
        let mut det = NetworkDetector::new(inventory(), NetworkOptions::default());
        let events = vec![
            conn(0, "172.16.33.11", "10.20.0.20", 1433, "REJ"),
            conn(1, "172.16.33.11", "10.20.0.20", 1433, "REJ"),
            conn(2, "172.16.33.11", "10.20.0.20", 1433, "SF"),
            conn(3, "172.16.33.11", "8.8.8.8", 443, "SF"),
        ];
        let out = run(&mut det, &events);
        assert_eq!(out.len(), 3);
        assert!(
            out.iter()
                .all(|f| f.alert.rule_id == GUEST_TO_PHI.id && f.alert.id == out[0].alert.id)
        );
        let d = out[2].alert.description.as_deref().unwrap();
        assert!(d.starts_with("guest Wi-Fi device 172.16.33.11 connected to ehr-db01 (ehr-database, holds PHI) on port 1433: 3 attempts, 2 refused, 1 established"), "{d}");
    }

    #[test]
    fn hl7_to_an_unknown_external_address_but_not_to_a_partner() {
        let mut det = NetworkDetector::new(inventory(), NetworkOptions::default());
        let mut dns = conn(0, "10.20.0.30", "10.20.0.50", 53, "SF");
        dns.class_uid = class::DNS_ACTIVITY;
        dns.unmapped
            .insert("query", json!("mllp.northstar-reflab.com"));
        dns.unmapped.insert("answers", json!(["198.51.100.9"]));
        let events = vec![
            dns,
            conn(1, "10.20.0.30", "198.51.100.9", 2575, "SF"),
            conn(2, "10.20.0.30", "10.20.0.10", 2575, "SF"),
            conn(3, "10.20.0.30", "64.39.116.34", 2575, "SF"),
        ];
        let out = run(&mut det, &events);
        assert_eq!(out.len(), 1, "{out:#?}");
        assert_eq!(out[0].alert.rule_id, CLEARTEXT_PHI_EGRESS.id);
        let d = out[0].alert.description.as_deref().unwrap();
        assert!(d.starts_with("hl7-engine01 (10.20.0.30) sent HL7 MLLP (port 2575) in clear text to external 64.39.116.34"), "{d}");
    }

    #[test]
    fn weak_tls_on_phi_servers_only() {
        let mut det = NetworkDetector::new(inventory(), NetworkOptions::default());
        let ssl = |minute: i64, src: &str, dst: &str, version: &str, cipher: &str| {
            let mut e = conn(minute, src, dst, 443, "SF");
            e.metadata.event_code = Some("ssl".into());
            e.unmapped.insert("version", json!(version));
            e.unmapped.insert("cipher", json!(cipher));
            e.unmapped
                .insert("validation_status", json!("self signed certificate"));
            e
        };
        let events = vec![
            ssl(
                0,
                "10.10.1.1",
                "10.20.0.11",
                "TLSv10",
                "TLS_RSA_WITH_AES_128_CBC_SHA",
            ),
            ssl(
                5,
                "10.10.1.2",
                "10.20.0.11",
                "TLSv10",
                "TLS_RSA_WITH_AES_128_CBC_SHA",
            ),
            ssl(
                6,
                "10.10.1.2",
                "10.20.0.11",
                "TLSv12",
                "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            ),
            ssl(
                7,
                "10.10.1.2",
                "142.250.72.196",
                "TLSv10",
                "TLS_RSA_WITH_RC4_128_SHA",
            ),
        ];
        let out = run(&mut det, &events);
        assert_eq!(out.len(), 2);
        let d = out[1].alert.description.as_deref().unwrap();
        assert_eq!(
            d,
            "ehr-app02.h.org (10.20.0.11), which holds PHI, negotiated 2 weak TLS sessions with 2 clients in 5 min: TLS 1.0 (TLSv10); certificate: self signed certificate"
        );
        assert!(weak_cipher("TLS_RSA_WITH_RC4_128_SHA"));
        assert!(!weak_cipher("TLS_AES_256_GCM_SHA384"));
    }

    #[test]
    fn an_address_missing_from_the_inventory_is_flagged_once() {
        let mut det = NetworkDetector::new(inventory(), NetworkOptions::default());
        let events = vec![
            conn(0, "10.30.9.9", "10.20.0.30", 2575, "SF"),
            conn(1, "10.30.9.9", "10.20.0.30", 2575, "SF"),
            conn(2, "172.16.5.5", "8.8.8.8", 443, "SF"),
        ];
        let out = run(&mut det, &events);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].alert.rule_id, UNKNOWN_DEVICE.id);
        assert_eq!(out[0].alert.severity, Severity::Low);
    }

    #[test]
    fn an_unlisted_device_in_the_device_zone_learns_alone_then_is_watched() {
        let mut det = NetworkDetector::new(inventory(), NetworkOptions::default());
        let mut events: Vec<Event> = (0..70)
            .map(|m| conn(m, "10.30.9.9", "52.1.1.1", 443, "SF"))
            .collect();
        events.push(conn(90, "10.30.9.9", "45.9.9.9", 443, "SF"));
        let out = run(&mut det, &events);
        let devices: Vec<&Finding> = out
            .iter()
            .filter(|f| f.alert.rule_id == DEVICE_UNSEEN_DESTINATION.id)
            .collect();
        assert_eq!(devices.len(), 1, "{out:#?}");
        assert_eq!(
            devices[0].alert.entities.dst_ip.as_deref(),
            Some("45.9.9.9")
        );
        assert!(
            devices[0]
                .alert
                .description
                .as_deref()
                .unwrap()
                .starts_with("a medical device (unlisted-device, 10.30.9.9)")
        );
    }

    #[test]
    fn fan_out_keeps_fleet_state_bounded() {
        let mut det = NetworkDetector::new(inventory(), NetworkOptions::default());
        let mut out = Vec::new();
        for i in 0..20_000u32 {
            let dst = std::net::Ipv4Addr::from(0x0500_0000 + i).to_string();
            det.observe(
                &conn(i64::from(i) / 10, "10.30.1.1", &dst, 443, "SF"),
                &mut out,
            );
        }
        let fleet = det.fleets.get("infusion-pump").unwrap();
        assert!(fleet.pending.len() <= FLEET_CAP && fleet.established.len() <= FLEET_CAP);
    }
}
