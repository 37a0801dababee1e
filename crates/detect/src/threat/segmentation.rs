//! Network segmentation: the policy matrix of `zones.toml` (which zone may reach which, by
//! protocol and port), compiled once into a lookup fast enough for every flow record, checked
//! against the flows Zeek conn (or any Network Activity source with addresses, port and
//! protocol) reports, and aggregated into a reachability map that answers "what can reach the
//! systems that hold PHI?", drawn as SVG for the console.
//!
//! - [`SegmentationPolicy`]: the policy as written (`docs/inventory-files.md`), parsed by
//!   [`super::inventory::Inventory::parse_policy`].
//! - [`CompiledPolicy`]: addresses to zones by the most specific prefix (sorted ranges and a
//!   binary search, IPv4 and IPv6), then a dense zone × zone matrix of allowed ports.
//! - [`SegmentationDetector`]: raises `threat.segmentation.policy_violation`, one alert per
//!   (from zone, to zone, destination port) and day. With a policy present, the policy speaks
//!   for guest Wi-Fi too: [`crate::standard`] silences the network detector's
//!   `guest_to_phi` / `guest_to_internal`, which stay for sites without a policy.
//! - [`Reachability`] and [`render_svg`]: zone-pair edges of observed flows, bounded in size.
//!
//! Nothing here does IO, reads a clock, logs or panics on any input.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;

use ward_model::event::class;
use ward_model::{AlertEntities, Event, Severity, Timestamp};

use super::inventory::{Inventory, Zone, ZoneKind, is_private};
use super::{Expiring, Rule, TableStats, clock, day_of, ip_of, plural, unmapped_str};
use crate::{Detector, Finding};

const ACCESS_CONTROL: &str = "164.312(a)(1)";
const ACTIVITY_REVIEW: &str = "164.308(a)(1)(ii)(D)";
const TRANSMISSION: &str = "164.312(e)(1)";

/// Raised at high severity when the destination holds PHI or is in a medical-device zone,
/// medium otherwise. ATT&CK: T1046 for any crossing, T1021 on remote-service ports, T1570 for
/// established file-transfer connections.
pub const POLICY_VIOLATION: Rule = Rule {
    id: "threat.segmentation.policy_violation",
    title: "Network flow denied by the segmentation policy",
    severity: Severity::High,
    attack: &["T1046", "T1021", "T1570"],
    hipaa: &[ACCESS_CONTROL, ACTIVITY_REVIEW, TRANSMISSION],
};

/// Every rule this detector can raise.
pub const RULES: &[Rule] = &[POLICY_VIOLATION];

/// Ports of remote services (SSH, Telnet, RPC, SMB, RDP, VNC, WinRM): T1021.
const REMOTE_SERVICE_PORTS: &[u16] = &[22, 23, 135, 139, 445, 3389, 5900, 5985, 5986];
/// Ports of file transfer (FTP, TFTP, SMB, NFS): T1570 when established.
const FILE_TRANSFER_PORTS: &[u16] = &[20, 21, 69, 139, 445, 2049];

// ---------------------------------------------------------------------------------------------
// The policy as written

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
    Icmp,
    /// In a rule: TCP and UDP on its ports, and ICMP too when it lists no ports.
    Any,
}

impl Proto {
    pub fn parse(text: &str) -> Option<Proto> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "tcp" | "6" => Proto::Tcp,
            "udp" | "17" => Proto::Udp,
            "icmp" | "icmp6" | "ipv6-icmp" | "icmpv6" | "1" | "58" => Proto::Icmp,
            "any" | "*" | "ip" => Proto::Any,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Icmp => "icmp",
            Proto::Any => "any",
        }
    }
}

/// Whether what no rule mentions is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyDefault {
    Deny,
    Allow,
}

impl PolicyDefault {
    pub fn parse(text: &str) -> Option<PolicyDefault> {
        match text.trim().to_ascii_lowercase().as_str() {
            "deny" => Some(PolicyDefault::Deny),
            "allow" => Some(PolicyDefault::Allow),
            _ => None,
        }
    }
}

/// The `from` or `to` of an allow rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneSelector {
    /// `"*"`: every zone, addresses in no zone, and the internet.
    Any,
    /// `"internal"`: every zone and private addresses in no zone.
    Internal,
    /// `"external"`: public addresses in no zone.
    External,
    /// Zones by name.
    Zones(Vec<String>),
}

impl ZoneSelector {
    fn text(&self) -> String {
        match self {
            ZoneSelector::Any => "*".into(),
            ZoneSelector::Internal => "internal".into(),
            ZoneSelector::External => "external".into(),
            ZoneSelector::Zones(names) => names.join(", "),
        }
    }
}

/// One `[[allow]]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct AllowRule {
    pub from: ZoneSelector,
    pub to: ZoneSelector,
    /// Inclusive port ranges, sorted and merged; empty: any port.
    pub ports: Vec<(u16, u16)>,
    pub proto: Proto,
    pub description: String,
    /// The line of its `[[allow]]` header in zones.toml.
    pub line: usize,
}

impl AllowRule {
    /// `line 41: clinical → ehr-servers tcp 443, 8443 (clinical workstations to the EHR)`.
    pub fn summary(&self) -> String {
        let ports = if self.ports.is_empty() {
            "any port".to_string()
        } else {
            ports_text(&self.ports)
        };
        let what = if self.proto == Proto::Icmp {
            "icmp".to_string()
        } else {
            format!("{} {ports}", self.proto.as_str())
        };
        let description = if self.description.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.description)
        };
        format!(
            "line {}: {} → {} {what}{description}",
            self.line,
            self.from.text(),
            self.to.text()
        )
    }
}

/// The policy matrix of zones.toml, as written.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentationPolicy {
    /// `[policy] default`: what an inter-zone flow no rule allows is (deny unless said).
    pub default: PolicyDefault,
    /// `[policy] intra_zone`: flows inside one zone (allow unless said).
    pub intra_zone: PolicyDefault,
    pub rules: Vec<AllowRule>,
}

impl SegmentationPolicy {
    /// The verdict on one flow by the plain reading of the policy: the zones by a scan of
    /// every network, then every rule in turn. [`CompiledPolicy::check_flow`] must agree with
    /// it on every flow; it is the reference the tests compare against and the benchmark's
    /// baseline, too slow for a live feed.
    pub fn check_linear(
        &self,
        zones: &[Zone],
        src: IpAddr,
        dst: IpAddr,
        proto: Option<Proto>,
        port: Option<u16>,
    ) -> Verdict {
        #[derive(PartialEq)]
        enum Place<'a> {
            Zone(&'a str),
            Unzoned,
            External,
        }
        let place = |ip: IpAddr| -> Place<'_> {
            let zone = zones
                .iter()
                .flat_map(|z| z.cidrs.iter().map(move |c| (z, c)))
                .filter(|(_, c)| c.contains(ip))
                .max_by_key(|(_, c)| c.prefix)
                .map(|(z, _)| z.name.as_str());
            match zone {
                Some(name) => Place::Zone(name),
                None if is_private(ip) => Place::Unzoned,
                None => Place::External,
            }
        };
        let (from, to) = (place(src), place(dst));
        if from == Place::External && to == Place::External {
            return Verdict::Unjudged;
        }
        if port.is_none() && proto != Some(Proto::Icmp) {
            return Verdict::Unjudged;
        }
        let holds = |selector: &ZoneSelector, place: &Place| match (selector, place) {
            (ZoneSelector::Any, _) => true,
            (ZoneSelector::Internal, p) => *p != Place::External,
            (ZoneSelector::External, p) => *p == Place::External,
            (ZoneSelector::Zones(names), Place::Zone(name)) => names.iter().any(|n| n == name),
            (ZoneSelector::Zones(_), _) => false,
        };
        let port_ok = |rule: &AllowRule| {
            rule.ports.is_empty()
                || port.is_some_and(|p| rule.ports.iter().any(|&(a, b)| a <= p && p <= b))
        };
        let covered = self.rules.iter().any(|rule| {
            holds(&rule.from, &from)
                && holds(&rule.to, &to)
                && match proto {
                    Some(Proto::Icmp) => {
                        rule.proto == Proto::Icmp
                            || (rule.proto == Proto::Any && rule.ports.is_empty())
                    }
                    Some(Proto::Tcp) => {
                        matches!(rule.proto, Proto::Tcp | Proto::Any) && port_ok(rule)
                    }
                    Some(Proto::Udp) => {
                        matches!(rule.proto, Proto::Udp | Proto::Any) && port_ok(rule)
                    }
                    None | Some(Proto::Any) => rule.proto != Proto::Icmp && port_ok(rule),
                }
        });
        if covered {
            Verdict::Allowed
        } else if from == to {
            match self.intra_zone {
                PolicyDefault::Allow => Verdict::Allowed,
                PolicyDefault::Deny => Verdict::Denied(Denial::IntraZoneDeny),
            }
        } else {
            match self.default {
                PolicyDefault::Allow => Verdict::AllowedByDefault,
                PolicyDefault::Deny => Verdict::Denied(Denial::DefaultDeny),
            }
        }
    }
}

/// `443, 8000-8080`.
fn ports_text(ranges: &[(u16, u16)]) -> String {
    ranges
        .iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Sorts inclusive ranges and merges those that overlap or touch.
pub(crate) fn merge_ranges(mut ranges: Vec<(u16, u16)>) -> Vec<(u16, u16)> {
    ranges.sort_unstable();
    let mut out: Vec<(u16, u16)> = Vec::with_capacity(ranges.len());
    for (a, b) in ranges {
        match out.last_mut() {
            Some(last) if u32::from(a) <= u32::from(last.1) + 1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The compiled policy

/// A zone's index in a [`CompiledPolicy`]: the zones of zones.toml in their order, then
/// private addresses in no zone, then the internet.
pub type ZoneId = u16;

/// A zone as the compiled policy and the map know it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ZoneInfo {
    pub name: String,
    /// `None` for the two pseudo-zones (unzoned internal addresses, the internet).
    pub kind: Option<ZoneKind>,
    pub trusted: bool,
    /// An asset of the inventory in this zone stores or serves PHI.
    pub phi: bool,
}

/// The sorted port ranges of one protocol in one cell.
#[derive(Debug, Clone, Default)]
struct PortSet(Vec<(u16, u16)>);

impl PortSet {
    fn contains(&self, port: u16) -> bool {
        // Cells hold a handful of ranges; a linear scan beats a binary search there.
        self.0.iter().any(|&(a, b)| a <= port && port <= b)
    }
}

#[derive(Debug, Clone, Default)]
struct Cell {
    tcp: PortSet,
    udp: PortSet,
    icmp: bool,
    /// The rules (indices into the policy's list) that allow anything here.
    rules: Vec<u16>,
}

/// Why a flow was denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// `[policy] default = "deny"` and no allow rule covers it.
    DefaultDeny,
    /// `[policy] intra_zone = "deny"` and no allow rule covers it.
    IntraZoneDeny,
}

/// What the policy says about one flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// An allow rule covers it (or, within a zone, intra-zone flows are allowed).
    Allowed,
    /// No rule covers it, but the default allows it.
    AllowedByDefault,
    Denied(Denial),
    /// Both ends outside the organisation, or TCP/UDP without a port: nothing to judge.
    Unjudged,
}

impl Verdict {
    pub fn is_denied(self) -> bool {
        matches!(self, Verdict::Denied(_))
    }
}

/// The policy compiled for speed: an address's zone by binary search over disjoint ranges,
/// then one cell of a dense matrix holding that zone pair's allowed ports.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    zones: Vec<ZoneInfo>,
    /// `(first address, zone)` of disjoint ranges covering the whole space, sorted; the zone
    /// is `NO_ZONE` where no zone's network lies.
    v4: Vec<(u32, ZoneId)>,
    v6: Vec<(u128, ZoneId)>,
    cells: Vec<Cell>,
    default: PolicyDefault,
    intra_zone: PolicyDefault,
    rules: Vec<AllowRule>,
}

const NO_ZONE: ZoneId = ZoneId::MAX;

/// The most zones a policy compiles (the matrix grows with their square) and the most allow
/// rules; the parser refuses files with more.
pub const MAX_ZONES: usize = 512;
pub const MAX_RULES: usize = 4_096;
/// Allow rules remembered per zone pair, for descriptions.
const RULES_LISTED_PER_PAIR: usize = 32;

impl CompiledPolicy {
    /// Compiles `policy` over `zones`; `assets` mark the zones holding PHI. Rules naming a zone
    /// that is not in `zones` contribute nothing (the parser refuses them anyway).
    pub fn new(
        policy: &SegmentationPolicy,
        zones: &[Zone],
        assets: &[super::inventory::Asset],
    ) -> CompiledPolicy {
        let defined = zones.len().min(MAX_ZONES);
        let mut infos: Vec<ZoneInfo> = zones
            .iter()
            .take(defined)
            .map(|z| ZoneInfo {
                name: z.name.clone(),
                kind: Some(z.kind),
                trusted: z.trusted,
                phi: false,
            })
            .collect();
        infos.push(ZoneInfo {
            name: "unzoned".into(),
            kind: None,
            trusted: true,
            phi: false,
        });
        infos.push(ZoneInfo {
            name: "external".into(),
            kind: None,
            trusted: false,
            phi: false,
        });
        let mut v4_cidrs: Vec<(u32, u32, u8, ZoneId)> = Vec::new();
        let mut v6_cidrs: Vec<(u128, u128, u8, ZoneId)> = Vec::new();
        for (z, zone) in zones.iter().take(defined).enumerate() {
            for c in &zone.cidrs {
                match c.address {
                    IpAddr::V4(a) => {
                        let mask = u32::MAX
                            .checked_shl(32u32.saturating_sub(u32::from(c.prefix)))
                            .unwrap_or(0);
                        let start = u32::from(a) & mask;
                        v4_cidrs.push((start, start | !mask, c.prefix, z as ZoneId));
                    }
                    IpAddr::V6(a) => {
                        let mask = u128::MAX
                            .checked_shl(128u32.saturating_sub(u32::from(c.prefix)))
                            .unwrap_or(0);
                        let start = u128::from(a) & mask;
                        v6_cidrs.push((start, start | !mask, c.prefix, z as ZoneId));
                    }
                }
            }
        }
        let mut compiled = CompiledPolicy {
            zones: infos,
            v4: flatten(&v4_cidrs),
            v6: flatten(&v6_cidrs),
            cells: Vec::new(),
            default: policy.default,
            intra_zone: policy.intra_zone,
            rules: policy.rules.clone(),
        };
        for asset in assets.iter().filter(|a| a.phi) {
            let by_ip = asset.ip.map(|ip| compiled.zone_of(ip));
            let id = by_ip
                .filter(|&z| usize::from(z) < defined)
                .or_else(|| compiled.zone_id(&asset.zone));
            if let Some(info) = id.and_then(|z| compiled.zones.get_mut(usize::from(z))) {
                info.phi = true;
            }
        }
        let n = compiled.zones.len();
        let mut cells = vec![Cell::default(); n * n];
        for (r, rule) in policy.rules.iter().enumerate().take(MAX_RULES) {
            let froms = compiled.expand(&rule.from);
            let tos = compiled.expand(&rule.to);
            let all_ports = rule.ports.is_empty();
            let ports: &[(u16, u16)] = if all_ports {
                &[(0, u16::MAX)]
            } else {
                &rule.ports
            };
            for &f in &froms {
                for &t in &tos {
                    let Some(cell) = cells.get_mut(usize::from(f) * n + usize::from(t)) else {
                        continue;
                    };
                    if matches!(rule.proto, Proto::Tcp | Proto::Any) {
                        cell.tcp.0.extend_from_slice(ports);
                        if cell.tcp.0.len() > 64 {
                            cell.tcp.0 = merge_ranges(std::mem::take(&mut cell.tcp.0));
                        }
                    }
                    if matches!(rule.proto, Proto::Udp | Proto::Any) {
                        cell.udp.0.extend_from_slice(ports);
                        if cell.udp.0.len() > 64 {
                            cell.udp.0 = merge_ranges(std::mem::take(&mut cell.udp.0));
                        }
                    }
                    if rule.proto == Proto::Icmp || (rule.proto == Proto::Any && all_ports) {
                        cell.icmp = true;
                    }
                    if let Ok(r) = u16::try_from(r)
                        && cell.rules.len() < RULES_LISTED_PER_PAIR
                        && !cell.rules.contains(&r)
                    {
                        cell.rules.push(r);
                    }
                }
            }
        }
        for cell in &mut cells {
            cell.tcp.0 = merge_ranges(std::mem::take(&mut cell.tcp.0));
            cell.udp.0 = merge_ranges(std::mem::take(&mut cell.udp.0));
        }
        compiled.cells = cells;
        compiled
    }

    /// The compiled policy of `inventory`, when it has one.
    pub fn of_inventory(inventory: &Inventory) -> Option<CompiledPolicy> {
        inventory
            .policy
            .as_ref()
            .map(|p| CompiledPolicy::new(p, &inventory.zones, &inventory.assets))
    }

    fn expand(&self, selector: &ZoneSelector) -> Vec<ZoneId> {
        let n = self.zones.len() as ZoneId;
        match selector {
            ZoneSelector::Any => (0..n).collect(),
            ZoneSelector::Internal => (0..n - 1).collect(),
            ZoneSelector::External => vec![self.external()],
            ZoneSelector::Zones(names) => names.iter().filter_map(|n| self.zone_id(n)).collect(),
        }
    }

    /// Private addresses in no zone.
    pub fn unzoned(&self) -> ZoneId {
        (self.zones.len() - 2) as ZoneId
    }

    /// Public addresses in no zone.
    pub fn external(&self) -> ZoneId {
        (self.zones.len() - 1) as ZoneId
    }

    pub fn zones(&self) -> &[ZoneInfo] {
        &self.zones
    }

    pub fn zone(&self, id: ZoneId) -> Option<&ZoneInfo> {
        self.zones.get(usize::from(id))
    }

    pub fn zone_name(&self, id: ZoneId) -> &str {
        self.zone(id).map_or("?", |z| z.name.as_str())
    }

    /// A defined zone by name (not the pseudo-zones).
    pub fn zone_id(&self, name: &str) -> Option<ZoneId> {
        self.zones
            .iter()
            .take(self.zones.len().saturating_sub(2))
            .position(|z| z.name == name)
            .map(|i| i as ZoneId)
    }

    pub fn rules(&self) -> &[AllowRule] {
        &self.rules
    }

    pub fn default(&self) -> PolicyDefault {
        self.default
    }

    pub fn intra_zone(&self) -> PolicyDefault {
        self.intra_zone
    }

    /// The zone holding `ip`: the most specific network of any zone, else
    /// [`CompiledPolicy::unzoned`] for a private address, else [`CompiledPolicy::external`].
    #[inline]
    pub fn zone_of(&self, ip: IpAddr) -> ZoneId {
        let found = match ip {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                let i = self.v4.partition_point(|&(start, _)| start <= a);
                i.checked_sub(1)
                    .and_then(|i| self.v4.get(i))
                    .map_or(NO_ZONE, |e| e.1)
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                let i = self.v6.partition_point(|&(start, _)| start <= a);
                i.checked_sub(1)
                    .and_then(|i| self.v6.get(i))
                    .map_or(NO_ZONE, |e| e.1)
            }
        };
        if found != NO_ZONE {
            found
        } else if is_private(ip) {
            self.unzoned()
        } else {
            self.external()
        }
    }

    fn cell(&self, from: ZoneId, to: ZoneId) -> Option<&Cell> {
        let n = self.zones.len();
        self.cells
            .get(usize::from(from) * n + usize::from(to))
            .filter(|_| usize::from(from) < n && usize::from(to) < n)
    }

    /// What the policy says of a flow from zone `from` to zone `to`. `proto` `None` (the
    /// source did not say) is allowed when TCP or UDP on `port` is; TCP and UDP without a
    /// port are not judged.
    #[inline]
    pub fn check(
        &self,
        from: ZoneId,
        to: ZoneId,
        proto: Option<Proto>,
        port: Option<u16>,
    ) -> Verdict {
        let external = self.external();
        if from == external && to == external {
            return Verdict::Unjudged;
        }
        let covered = match self.cell(from, to) {
            None => return Verdict::Unjudged,
            Some(cell) => match (proto, port) {
                (Some(Proto::Icmp), _) => cell.icmp,
                (Some(Proto::Tcp), Some(p)) => cell.tcp.contains(p),
                (Some(Proto::Udp), Some(p)) => cell.udp.contains(p),
                (None | Some(Proto::Any), Some(p)) => cell.tcp.contains(p) || cell.udp.contains(p),
                (_, None) => return Verdict::Unjudged,
            },
        };
        if covered {
            return Verdict::Allowed;
        }
        if from == to {
            match self.intra_zone {
                PolicyDefault::Allow => Verdict::Allowed,
                PolicyDefault::Deny => Verdict::Denied(Denial::IntraZoneDeny),
            }
        } else {
            match self.default {
                PolicyDefault::Allow => Verdict::AllowedByDefault,
                PolicyDefault::Deny => Verdict::Denied(Denial::DefaultDeny),
            }
        }
    }

    /// [`CompiledPolicy::check`] of the zones holding `src` and `dst`.
    #[inline]
    pub fn check_flow(
        &self,
        src: IpAddr,
        dst: IpAddr,
        proto: Option<Proto>,
        port: Option<u16>,
    ) -> Verdict {
        self.check(self.zone_of(src), self.zone_of(dst), proto, port)
    }

    /// The allow rules that let `from` reach `to` in any way.
    pub fn rules_between(&self, from: ZoneId, to: ZoneId) -> Vec<&AllowRule> {
        self.cell(from, to)
            .map(|c| {
                c.rules
                    .iter()
                    .filter_map(|&r| self.rules.get(usize::from(r)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// What the rules allow from `from` to `to`: `tcp 443, 2575`, `udp 53`, `icmp`.
    pub fn services_between(&self, from: ZoneId, to: ZoneId) -> Vec<String> {
        let Some(cell) = self.cell(from, to) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (name, set) in [("tcp", &cell.tcp), ("udp", &cell.udp)] {
            if set.0 == [(0, u16::MAX)] {
                out.push(format!("{name} any port"));
            } else if !set.0.is_empty() {
                out.push(format!("{name} {}", ports_text(&set.0)));
            }
        }
        if cell.icmp {
            out.push("icmp".into());
        }
        out
    }
}

/// Disjoint `(start, zone)` ranges from possibly nested networks, the most specific network
/// winning (the later zone on a tie, as [`Inventory::zone`] decides), starting at address 0.
fn flatten<T>(cidrs: &[(T, T, u8, ZoneId)]) -> Vec<(T, ZoneId)>
where
    T: Copy + Ord + Default + num_like::Step,
{
    let mut bounds: Vec<T> = vec![T::default()];
    for &(start, end, _, _) in cidrs {
        bounds.push(start);
        if let Some(next) = end.next() {
            bounds.push(next);
        }
    }
    bounds.sort_unstable();
    bounds.dedup();
    let mut out: Vec<(T, ZoneId)> = Vec::with_capacity(bounds.len());
    for b in bounds {
        let mut best: Option<(u8, ZoneId)> = None;
        for &(start, end, prefix, zone) in cidrs {
            if start <= b && b <= end && best.is_none_or(|(p, _)| prefix >= p) {
                best = Some((prefix, zone));
            }
        }
        let zone = best.map_or(NO_ZONE, |(_, z)| z);
        if out.last().is_none_or(|&(_, z)| z != zone) {
            out.push((b, zone));
        }
    }
    out
}

mod num_like {
    /// The address after this one, if any.
    pub trait Step: Sized {
        fn next(self) -> Option<Self>;
    }
    impl Step for u32 {
        fn next(self) -> Option<u32> {
            self.checked_add(1)
        }
    }
    impl Step for u128 {
        fn next(self) -> Option<u128> {
            self.checked_add(1)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Flows

/// Whether a connection was made, as far as the source tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The responder answered (Zeek `SF`, `S1`, `S2`, `S3`, `RSTO`, `RSTR`).
    Established,
    /// Refused or unanswered (Zeek `REJ`, `S0`, `RSTOS0`, `SH`): an attempt all the same.
    Attempted,
    /// The source keeps no connection state.
    Unknown,
}

/// A connection as segmentation needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowRecord {
    pub time: Timestamp,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub port: Option<u16>,
    pub proto: Option<Proto>,
    pub attempt: Attempt,
    pub bytes: u64,
}

/// The flow an event records: a Zeek `conn` row or another source's Network Activity with
/// both addresses. `None` for anything else, for Zeek's `ssl`/`http` rows (their `conn` row
/// counts the connection), and for Zeek states whose originator Zeek could not see open the
/// connection (`OTH`, `SHR`, `RSTRH`: mid-stream or backscatter, the direction a guess).
pub fn flow_of(event: &Event) -> Option<FlowRecord> {
    if event.class_uid != class::NETWORK_ACTIVITY {
        return None;
    }
    let zeek = event.metadata.product == "zeek";
    if zeek && event.metadata.event_code.as_deref() != Some("conn") {
        return None;
    }
    let src = ip_of(event.src_endpoint.ip.as_deref())?;
    let dst = ip_of(event.dst_endpoint.ip.as_deref())?;
    let state = unmapped_str(event, "conn_state").or(if zeek {
        event.status_detail.as_deref()
    } else {
        None
    });
    let attempt = match state.map(str::trim) {
        None | Some("" | "-") => Attempt::Unknown,
        Some("SF" | "S1" | "S2" | "S3" | "RSTO" | "RSTR") => Attempt::Established,
        Some("REJ" | "S0" | "RSTOS0" | "SH") => Attempt::Attempted,
        Some("OTH" | "SHR" | "RSTRH") => return None,
        Some(_) => Attempt::Unknown,
    };
    let proto = ["proto", "protocol", "transport", "network.transport"]
        .iter()
        .find_map(|k| match event.unmapped.get(k)? {
            serde_json::Value::String(s) => Proto::parse(s),
            serde_json::Value::Number(n) => Proto::parse(&n.to_string()),
            _ => None,
        })
        .filter(|p| *p != Proto::Any);
    // Zeek's payload bytes; flow exporters (NetFlow, IPFIX) count IP-layer bytes only.
    let sum = |keys: [&str; 2]| {
        keys.iter()
            .filter_map(|k| event.unmapped.get(k).and_then(|v| v.as_u64()))
            .fold(0u64, u64::saturating_add)
    };
    let bytes = match sum(["orig_bytes", "resp_bytes"]) {
        0 => sum(["orig_ip_bytes", "resp_ip_bytes"]),
        payload => payload,
    };
    Some(FlowRecord {
        time: event.time,
        src,
        dst,
        port: event.dst_endpoint.port,
        proto,
        attempt,
        bytes,
    })
}

// ---------------------------------------------------------------------------------------------
// The detector

#[derive(Debug, Clone)]
pub struct SegmentationOptions {
    /// The most alerts in progress held at once.
    pub max_entities: usize,
}

impl Default for SegmentationOptions {
    fn default() -> Self {
        SegmentationOptions {
            max_entities: 100_000,
        }
    }
}

/// One alert in progress: a zone pair and destination port on one day.
#[derive(Debug, Clone)]
struct Tally {
    window: Timestamp,
    first: Timestamp,
    last: Timestamp,
    established: u64,
    attempted: u64,
    unknown: u64,
    bytes: u64,
    sources: Vec<IpAddr>,
    more_sources: u64,
    destinations: Vec<IpAddr>,
    more_destinations: u64,
    high: bool,
}

const LISTED: usize = 5;

fn note(list: &mut Vec<IpAddr>, more: &mut u64, ip: IpAddr) {
    if !list.contains(&ip) {
        if list.len() < LISTED {
            list.push(ip);
        } else {
            *more += 1;
        }
    }
}

/// Checks every flow against the compiled policy of the inventory; does nothing when the
/// inventory has no policy.
pub struct SegmentationDetector {
    inventory: Arc<Inventory>,
    policy: Option<Arc<CompiledPolicy>>,
    open: Expiring<String, Tally>,
}

impl SegmentationDetector {
    pub fn new(inventory: Arc<Inventory>, options: SegmentationOptions) -> Self {
        let policy = CompiledPolicy::of_inventory(&inventory).map(Arc::new);
        SegmentationDetector {
            inventory,
            policy,
            open: Expiring::new(options.max_entities, 2 * super::DAY),
        }
    }

    /// The alert in progress for `key` (zone pair and port) today: the one state this detector
    /// keeps per entity.
    fn tally(&mut self, key: String, now: Timestamp) -> &mut Tally {
        let day = day_of(now);
        let fresh = || Tally {
            window: day,
            first: now,
            last: now,
            established: 0,
            attempted: 0,
            unknown: 0,
            bytes: 0,
            sources: Vec::new(),
            more_sources: 0,
            destinations: Vec::new(),
            more_destinations: 0,
            high: false,
        };
        let tally = self.open.touch(key, now, fresh);
        if tally.window != day {
            *tally = fresh();
        }
        tally
    }

    /// The alerts in progress (one per zone pair and port a day), with their cap and what was
    /// let go.
    pub fn state(&self) -> Vec<TableStats> {
        vec![self.open.stats("open_alerts")]
    }

    /// The compiled policy, for a [`Reachability`] map beside the detector.
    pub fn policy(&self) -> Option<&Arc<CompiledPolicy>> {
        self.policy.as_ref()
    }

    fn describe_endpoint(&self, ip: IpAddr) -> String {
        match self.inventory.asset(ip) {
            Some(a) => format!(
                "{} ({}, {ip}{})",
                a.hostname,
                a.model,
                if a.phi { ", holds PHI" } else { "" }
            ),
            None => ip.to_string(),
        }
    }

    fn zone_text(policy: &CompiledPolicy, id: ZoneId) -> String {
        match policy.zone(id) {
            Some(ZoneInfo {
                name,
                kind: Some(kind),
                trusted,
                ..
            }) => format!(
                "{name} ({}{})",
                kind.as_str(),
                if *trusted { "" } else { ", untrusted" }
            ),
            Some(ZoneInfo { name, .. }) if id == policy.external() => {
                format!("{name} (the internet)")
            }
            Some(ZoneInfo { name, .. }) => format!("{name} (private addresses in no zone)"),
            None => "?".into(),
        }
    }
}

impl Detector for SegmentationDetector {
    fn name(&self) -> &str {
        "segmentation"
    }

    fn observe(&mut self, event: &Event, out: &mut Vec<Finding>) {
        let Some(policy) = self.policy.clone() else {
            return;
        };
        let Some(flow) = flow_of(event) else { return };
        let (from, to) = (policy.zone_of(flow.src), policy.zone_of(flow.dst));
        let Verdict::Denied(denial) = policy.check(from, to, flow.proto, flow.port) else {
            return;
        };
        let now = event.time;
        let inventory = Arc::clone(&self.inventory);
        let dst_asset = inventory.asset(flow.dst);
        let high = dst_asset.is_some_and(|a| a.phi)
            || policy
                .zone(to)
                .is_some_and(|z| z.kind == Some(ZoneKind::MedicalDevices));
        let service = match (flow.proto, flow.port) {
            (Some(Proto::Icmp), _) => "icmp".to_string(),
            (Some(p), Some(port)) => format!("{}/{port}", p.as_str()),
            (_, Some(port)) => format!("port {port}"),
            (_, None) => "no port".to_string(),
        };
        let port_key = match (flow.proto, flow.port) {
            (Some(Proto::Icmp), _) => "icmp".to_string(),
            (_, Some(port)) => port.to_string(),
            (_, None) => "-".to_string(),
        };
        let key = format!(
            "{}|{}|{port_key}",
            policy.zone_name(from),
            policy.zone_name(to)
        );
        let tally = self.tally(key.clone(), now);
        tally.last = tally.last.max(now);
        tally.first = tally.first.min(now);
        match flow.attempt {
            Attempt::Established => tally.established += 1,
            Attempt::Attempted => tally.attempted += 1,
            Attempt::Unknown => tally.unknown += 1,
        }
        tally.bytes = tally.bytes.saturating_add(flow.bytes);
        tally.high |= high;
        note(&mut tally.sources, &mut tally.more_sources, flow.src);
        note(
            &mut tally.destinations,
            &mut tally.more_destinations,
            flow.dst,
        );
        let t = tally.clone();

        let total = t.established + t.attempted + t.unknown;
        let outcome = if t.established > 0 {
            "established"
        } else if t.attempted > 0 {
            "attempted"
        } else {
            "observed"
        };
        let mut counts = Vec::new();
        if t.established > 0 {
            counts.push(format!("{} established", t.established));
        }
        if t.attempted > 0 {
            counts.push(format!("{} refused or unanswered", t.attempted));
        }
        if t.unknown > 0 {
            counts.push(format!("{} with no connection state", t.unknown));
        }
        let list = |ips: &[IpAddr], more: u64| -> String {
            let mut text: Vec<String> = ips.iter().map(|ip| self.describe_endpoint(*ip)).collect();
            if more > 0 {
                text.push(format!("{more} more"));
            }
            text.join(", ")
        };
        let rule_set = match denial {
            Denial::DefaultDeny => format!(
                "the default-deny policy of zones.toml: no [[allow]] rule lets {} reach {} on {service}",
                policy.zone_name(from),
                policy.zone_name(to)
            ),
            Denial::IntraZoneDeny => format!(
                "the intra-zone deny of zones.toml ([policy] intra_zone = \"deny\"): no [[allow]] rule lets {} talk within itself on {service}",
                policy.zone_name(from)
            ),
        };
        let between = policy.rules_between(from, to);
        let allowed = if between.is_empty() {
            "none".to_string()
        } else {
            let mut text: Vec<String> = between.iter().take(6).map(|r| r.summary()).collect();
            if between.len() > 6 {
                text.push(format!("{} more", between.len() - 6));
            }
            text.join("; ")
        };
        let span = if t.first == t.last {
            format!("at {}", clock(t.first))
        } else {
            format!("between {} and {}", clock(t.first), clock(t.last))
        };
        let description = format!(
            "{} → {} on {service}, {outcome}: {} ({}), {} bytes, from {} to {} {span}. Denied by {rule_set}. Allow rules between these zones: {allowed}",
            Self::zone_text(&policy, from),
            Self::zone_text(&policy, to),
            plural(total as usize, "connection"),
            counts.join(", "),
            t.bytes,
            list(&t.sources, t.more_sources),
            list(&t.destinations, t.more_destinations),
        );
        let mut attack = vec!["T1046".to_string()];
        if let Some(port) = flow.port.filter(|_| flow.proto != Some(Proto::Icmp)) {
            if REMOTE_SERVICE_PORTS.contains(&port) {
                attack.push("T1021".into());
            }
            if t.established > 0 && FILE_TRANSFER_PORTS.contains(&port) {
                attack.push("T1570".into());
            }
        }
        let mut finding = POLICY_VIOLATION.finding(
            &key,
            t.window,
            (now, now),
            AlertEntities {
                src_ip: Some(flow.src.to_string()),
                dst_ip: Some(flow.dst.to_string()),
                host: dst_asset.map(|a| a.hostname.clone()),
                device: self
                    .inventory
                    .asset(flow.src)
                    .filter(|a| a.kind == super::inventory::AssetKind::MedicalDevice)
                    .map(|a| a.hostname.clone()),
                ..Default::default()
            },
            description,
            vec![event.id],
        );
        finding.alert.severity = if t.high {
            Severity::High
        } else {
            Severity::Medium
        };
        finding.alert.attack = attack;
        out.push(finding);
    }

    fn advance(&mut self, now: Timestamp, _out: &mut Vec<Finding>) {
        self.open.sweep(now);
    }
}

// ---------------------------------------------------------------------------------------------
// Reachability

/// What crossed between two zones on one protocol and port.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ServiceCount {
    pub proto: Option<Proto>,
    pub port: Option<u16>,
    pub allowed: bool,
    pub connections: u64,
}

impl ServiceCount {
    /// `tcp/443`, `icmp`, `port 80`.
    pub fn label(&self) -> String {
        match (self.proto, self.port) {
            (Some(Proto::Icmp), _) => "icmp".into(),
            (Some(p), Some(port)) => format!("{}/{port}", p.as_str()),
            (_, Some(port)) => format!("port {port}"),
            (Some(p), None) => p.as_str().into(),
            (None, None) => "?".into(),
        }
    }
}

/// Observed flows from one zone to another.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
    /// The busiest first; at most the map's per-edge limit, the rest counted in `connections`.
    pub services: Vec<ServiceCount>,
    pub connections: u64,
    pub established: u64,
    /// Connections the policy denies.
    pub denied: u64,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// Assets holding PHI that were reached (host names, or addresses when not inventoried).
    pub phi_destinations: Vec<String>,
}

/// A zone pair the policy lets through, and how.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PolicyEdge {
    pub from: String,
    pub to: String,
    /// `tcp 443, 2575`, `udp 53`, `icmp`; `any (default allow)` when only the default lets
    /// it through.
    pub services: Vec<String>,
    /// The lines of the allow rules.
    pub rule_lines: Vec<usize>,
}

/// The answer to "what can reach the zones that hold PHI?", for one such zone.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PhiReach {
    pub zone: String,
    /// Zones the policy lets reach it.
    pub by_policy: Vec<PolicyEdge>,
    /// Zones seen reaching it.
    pub observed: Vec<Edge>,
}

/// The zones and the flows observed between them: what [`render_svg`] draws.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReachabilityMap {
    pub zones: Vec<ZoneInfo>,
    pub edges: Vec<Edge>,
    /// Every zone pair the policy allows (explicit rules; with a default of allow, every pair).
    pub policy_edges: Vec<PolicyEdge>,
    /// Flows not counted because the map was full.
    pub dropped_flows: u64,
}

impl ReachabilityMap {
    /// For every zone holding PHI: who may reach it by policy and who was seen to.
    pub fn phi_reach(&self) -> Vec<PhiReach> {
        self.zones
            .iter()
            .filter(|z| z.phi)
            .map(|z| PhiReach {
                zone: z.name.clone(),
                by_policy: self
                    .policy_edges
                    .iter()
                    .filter(|e| e.to == z.name && e.from != z.name)
                    .cloned()
                    .collect(),
                observed: self
                    .edges
                    .iter()
                    .filter(|e| e.to == z.name)
                    .cloned()
                    .collect(),
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
struct EdgeTally {
    services: Vec<ServiceCount>,
    connections: u64,
    established: u64,
    denied: u64,
    first: Timestamp,
    last: Timestamp,
    phi: Vec<IpAddr>,
}

/// Aggregates flows into zone-pair edges. Bounded: at most `max_edges` zone pairs (further
/// pairs are counted in `dropped_flows`), `max_services` ports per pair (further ports count
/// in the pair's totals only) and 16 PHI destinations per pair. Flows within one zone and
/// between two outside addresses are not edges.
#[derive(Debug, Clone)]
pub struct Reachability {
    policy: Arc<CompiledPolicy>,
    inventory: Arc<Inventory>,
    edges: HashMap<(ZoneId, ZoneId), EdgeTally>,
    max_edges: usize,
    max_services: usize,
    dropped: u64,
}

impl Reachability {
    pub fn new(policy: Arc<CompiledPolicy>, inventory: Arc<Inventory>) -> Self {
        Reachability {
            policy,
            inventory,
            edges: HashMap::new(),
            max_edges: 4_096,
            max_services: MAX_SERVICES,
            dropped: 0,
        }
    }

    pub fn with_limits(mut self, max_edges: usize, max_services: usize) -> Self {
        self.max_edges = max_edges.max(1);
        self.max_services = max_services.max(1);
        self
    }

    /// Counts the flow of `event`, if it records one.
    pub fn observe_event(&mut self, event: &Event) {
        if let Some(flow) = flow_of(event) {
            self.observe(&flow);
        }
    }

    pub fn observe(&mut self, flow: &FlowRecord) {
        let policy = &self.policy;
        let (from, to) = (policy.zone_of(flow.src), policy.zone_of(flow.dst));
        if from == to {
            return;
        }
        let verdict = policy.check(from, to, flow.proto, flow.port);
        if verdict == Verdict::Unjudged && from == policy.external() && to == policy.external() {
            return;
        }
        if !self.edges.contains_key(&(from, to)) && self.edges.len() >= self.max_edges {
            self.dropped += 1;
            return;
        }
        let edge = self.edges.entry((from, to)).or_insert(EdgeTally {
            services: Vec::new(),
            connections: 0,
            established: 0,
            denied: 0,
            first: flow.time,
            last: flow.time,
            phi: Vec::new(),
        });
        edge.connections += 1;
        edge.established += u64::from(flow.attempt == Attempt::Established);
        edge.denied += u64::from(verdict.is_denied());
        edge.first = edge.first.min(flow.time);
        edge.last = edge.last.max(flow.time);
        let port = if flow.proto == Some(Proto::Icmp) {
            None
        } else {
            flow.port
        };
        match edge
            .services
            .iter()
            .position(|s| s.proto == flow.proto && s.port == port)
        {
            Some(i) => {
                if let Some(s) = edge.services.get_mut(i) {
                    s.connections += 1;
                }
            }
            None if edge.services.len() < self.max_services => edge.services.push(ServiceCount {
                proto: flow.proto,
                port,
                allowed: !verdict.is_denied(),
                connections: 1,
            }),
            None => {}
        }
        let phi = self.inventory.asset(flow.dst).is_some_and(|a| a.phi);
        if phi && edge.phi.len() < MAX_PHI_DESTINATIONS && !edge.phi.contains(&flow.dst) {
            edge.phi.push(flow.dst);
        }
    }

    /// The map so far: edges sorted by zone order, services by connections.
    pub fn map(&self) -> ReachabilityMap {
        let policy = &self.policy;
        let mut keys: Vec<&(ZoneId, ZoneId)> = self.edges.keys().collect();
        keys.sort();
        let edges = keys
            .into_iter()
            .filter_map(|k| {
                let e = self.edges.get(k)?;
                let mut services = e.services.clone();
                services.sort_by(|a, b| {
                    b.connections
                        .cmp(&a.connections)
                        .then(a.port.cmp(&b.port))
                        .then(a.proto.cmp(&b.proto))
                });
                Some(Edge {
                    from: policy.zone_name(k.0).to_string(),
                    to: policy.zone_name(k.1).to_string(),
                    services,
                    connections: e.connections,
                    established: e.established,
                    denied: e.denied,
                    first_seen: e.first,
                    last_seen: e.last,
                    phi_destinations: e
                        .phi
                        .iter()
                        .map(|ip| {
                            self.inventory
                                .asset(*ip)
                                .map_or(ip.to_string(), |a| a.hostname.clone())
                        })
                        .collect(),
                })
            })
            .collect();
        ReachabilityMap::of_policy(policy, edges, self.dropped)
    }
}

/// Most services an edge keeps when edges are merged, and most PHI destinations.
const MAX_SERVICES: usize = 32;
const MAX_PHI_DESTINATIONS: usize = 16;

impl ReachabilityMap {
    /// The map of `policy`'s zones and allowed paths with `edges` observed (by a
    /// [`Reachability`], possibly merged over time with [`merge_edges`]).
    pub fn of_policy(policy: &CompiledPolicy, edges: Vec<Edge>, dropped_flows: u64) -> Self {
        let n = policy.zones().len() as ZoneId;
        let mut policy_edges = Vec::new();
        for from in 0..n {
            for to in 0..n {
                if from == to || (from == policy.external() && to == policy.external()) {
                    continue;
                }
                let mut services = policy.services_between(from, to);
                let rule_lines: Vec<usize> = policy
                    .rules_between(from, to)
                    .iter()
                    .map(|r| r.line)
                    .collect();
                if policy.default() == PolicyDefault::Allow {
                    services.push("any (default allow)".into());
                }
                if !services.is_empty() {
                    policy_edges.push(PolicyEdge {
                        from: policy.zone_name(from).to_string(),
                        to: policy.zone_name(to).to_string(),
                        services,
                        rule_lines,
                    });
                }
            }
        }
        ReachabilityMap {
            zones: policy.zones().to_vec(),
            edges,
            policy_edges,
            dropped_flows,
        }
    }
}

/// `earlier` and `later` edges as one list: the same zone pair's counts added, its times
/// widened, its services added port by port (the later verdict wins when the policy changed
/// in between), at most 32 services (the busiest) and 16 PHI destinations an edge. Sorted by
/// zone pair, so merging is deterministic.
pub fn merge_edges(earlier: &[Edge], later: &[Edge]) -> Vec<Edge> {
    let mut merged: Vec<Edge> = earlier.to_vec();
    for edge in later {
        let Some(into) = merged
            .iter_mut()
            .find(|e| e.from == edge.from && e.to == edge.to)
        else {
            merged.push(edge.clone());
            continue;
        };
        into.connections = into.connections.saturating_add(edge.connections);
        into.established = into.established.saturating_add(edge.established);
        into.denied = into.denied.saturating_add(edge.denied);
        into.first_seen = into.first_seen.min(edge.first_seen);
        into.last_seen = into.last_seen.max(edge.last_seen);
        for service in &edge.services {
            match into
                .services
                .iter_mut()
                .find(|s| s.proto == service.proto && s.port == service.port)
            {
                Some(s) => {
                    s.connections = s.connections.saturating_add(service.connections);
                    s.allowed = service.allowed;
                }
                None => into.services.push(service.clone()),
            }
        }
        for d in &edge.phi_destinations {
            if !into.phi_destinations.contains(d) {
                into.phi_destinations.push(d.clone());
            }
        }
    }
    for e in &mut merged {
        e.services.sort_by(|a, b| {
            b.connections
                .cmp(&a.connections)
                .then(a.port.cmp(&b.port))
                .then(a.proto.cmp(&b.proto))
        });
        e.services.truncate(MAX_SERVICES);
        e.phi_destinations.truncate(MAX_PHI_DESTINATIONS);
    }
    merged.sort_by(|a, b| (&a.from, &a.to).cmp(&(&b.from, &b.to)));
    merged
}

// ---------------------------------------------------------------------------------------------
// The drawn map

/// Escapes text for XML content and attribute values.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' && c != '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

const BOX_W: f64 = 168.0;
const BOX_H: f64 = 56.0;

/// The map as a standalone SVG document: zones as boxes on a circle in their zones.toml
/// order (the internet last, addresses in no zone only when a flow touched them), untrusted
/// zones dashed and amber, zones holding PHI marked; observed flows as arrows, allowed ones
/// green, denied ones red and dashed, each labelled with its busiest ports. Deterministic:
/// the same map gives the same bytes.
pub fn render_svg(map: &ReachabilityMap) -> String {
    let touched = |name: &str| map.edges.iter().any(|e| e.from == name || e.to == name);
    let zones: Vec<&ZoneInfo> = map
        .zones
        .iter()
        .filter(|z| z.kind.is_some() || z.name == "external" || touched(&z.name))
        .collect();
    let n = zones.len().max(1) as f64;
    let radius = (n * (BOX_W + 24.0) / std::f64::consts::TAU).max(260.0);
    let width = 2.0 * radius + BOX_W + 80.0;
    let height = 2.0 * radius + BOX_H + 170.0;
    let (cx, cy) = (width / 2.0, 70.0 + radius + BOX_H / 2.0);
    let position = |i: usize| -> (f64, f64) {
        let angle = -std::f64::consts::FRAC_PI_2 + std::f64::consts::TAU * i as f64 / n;
        (cx + radius * angle.cos(), cy + radius * angle.sin())
    };
    let place: HashMap<&str, (f64, f64)> = zones
        .iter()
        .enumerate()
        .map(|(i, z)| (z.name.as_str(), position(i)))
        .collect();

    let mut s = String::with_capacity(4096 + 512 * map.edges.len());
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="12"><title>Network zones and observed flows</title><defs><marker id="arrow-allowed" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#2e7d32"/></marker><marker id="arrow-denied" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#c62828"/></marker></defs><rect width="100%" height="100%" fill="#ffffff"/><text x="20" y="28" font-size="16" font-weight="bold">Network zones and observed flows</text>"##
    );
    // Arrows first, so boxes sit on top of their ends.
    for e in &map.edges {
        let (Some(&(x1, y1)), Some(&(x2, y2))) =
            (place.get(e.from.as_str()), place.get(e.to.as_str()))
        else {
            continue;
        };
        let (dx, dy) = (x2 - x1, y2 - y1);
        let length = (dx * dx + dy * dy).sqrt().max(1.0);
        let (ux, uy) = (dx / length, dy / length);
        let trim = |ux: f64, uy: f64| -> f64 {
            let tx = if ux.abs() > 1e-9 {
                (BOX_W / 2.0 + 6.0) / ux.abs()
            } else {
                f64::MAX
            };
            let ty = if uy.abs() > 1e-9 {
                (BOX_H / 2.0 + 6.0) / uy.abs()
            } else {
                f64::MAX
            };
            tx.min(ty)
        };
        let cut = trim(ux, uy).min(length / 2.0 - 1.0).max(0.0);
        // Allowed and denied traffic of a pair are two arrows; the two directions of a pair
        // run on either side of the line between the boxes.
        for denied in [false, true] {
            let services: Vec<&ServiceCount> =
                e.services.iter().filter(|s| s.allowed != denied).collect();
            let connections: u64 = services.iter().map(|s| s.connections).sum();
            if services.is_empty() {
                continue;
            }
            let offset = if denied { 16.0 } else { 6.0 };
            let (ox, oy) = (-uy * offset, ux * offset);
            let (ax, ay) = (x1 + ux * cut + ox, y1 + uy * cut + oy);
            let (bx, by) = (x2 - ux * cut + ox, y2 - uy * cut + oy);
            let (colour, dash, marker) = if denied {
                ("#c62828", r#" stroke-dasharray="7 4""#, "arrow-denied")
            } else {
                ("#2e7d32", "", "arrow-allowed")
            };
            let width = 1.5 + (connections as f64).log10().clamp(0.0, 5.0) * 0.6;
            let mut label: Vec<String> = services
                .iter()
                .take(3)
                .map(|s| format!("{} ×{}", s.label(), s.connections))
                .collect();
            if services.len() > 3 {
                label.push("…".into());
            }
            let text = if denied {
                format!("denied: {}", label.join(", "))
            } else {
                label.join(", ")
            };
            let _ = write!(
                s,
                r#"<g class="flow{}"><title>{} → {}: {} {} connections</title><line x1="{ax:.1}" y1="{ay:.1}" x2="{bx:.1}" y2="{by:.1}" stroke="{colour}" stroke-width="{width:.1}"{dash} marker-end="url(#{marker})"/><text x="{:.1}" y="{:.1}" text-anchor="middle" fill="{colour}" font-size="10">{}</text></g>"#,
                if denied { " denied" } else { " allowed" },
                xml(&e.from),
                xml(&e.to),
                connections,
                if denied { "denied" } else { "allowed" },
                (ax + bx) / 2.0 + ox * 0.9,
                (ay + by) / 2.0 + oy * 0.9 + 3.0,
                xml(&text)
            );
        }
    }
    for z in &zones {
        let Some(&(x, y)) = place.get(z.name.as_str()) else {
            continue;
        };
        let (fill, stroke, dash) = if z.trusted {
            ("#e8f0fb", "#2f5f9e", "")
        } else {
            ("#fff3e0", "#b26a00", r#" stroke-dasharray="6 3""#)
        };
        let stroke_width = if z.phi { 3.0 } else { 1.5 };
        let kind = match z.kind {
            Some(k) => k.as_str(),
            None if z.name == "external" => "the internet",
            None => "private, in no zone",
        };
        let _ = write!(
            s,
            r##"<g class="zone{}{}"><rect x="{:.1}" y="{:.1}" width="{BOX_W}" height="{BOX_H}" rx="8" fill="{fill}" stroke="{stroke}" stroke-width="{stroke_width}"{dash}/><text x="{x:.1}" y="{:.1}" text-anchor="middle" font-weight="bold">{}</text><text x="{x:.1}" y="{:.1}" text-anchor="middle" font-size="10" fill="#444444">{}{}</text>"##,
            if z.trusted { "" } else { " untrusted" },
            if z.phi { " phi" } else { "" },
            x - BOX_W / 2.0,
            y - BOX_H / 2.0,
            y - 4.0,
            xml(&z.name),
            y + 12.0,
            xml(kind),
            if z.trusted { "" } else { ", untrusted" },
        );
        if z.phi {
            let _ = write!(
                s,
                r##"<rect x="{:.1}" y="{:.1}" width="34" height="16" rx="3" fill="#c62828"/><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="10" font-weight="bold" fill="#ffffff">PHI</text>"##,
                x + BOX_W / 2.0 - 30.0,
                y - BOX_H / 2.0 - 8.0,
                x + BOX_W / 2.0 - 13.0,
                y - BOX_H / 2.0 + 4.0,
            );
        }
        s.push_str("</g>");
    }
    let ly = height - 60.0;
    let _ = write!(
        s,
        r##"<g class="legend" font-size="11"><rect x="20" y="{:.1}" width="22" height="14" rx="3" fill="#e8f0fb" stroke="#2f5f9e"/><text x="48" y="{:.1}">trusted zone</text><rect x="150" y="{:.1}" width="22" height="14" rx="3" fill="#fff3e0" stroke="#b26a00" stroke-dasharray="6 3"/><text x="178" y="{:.1}">untrusted zone</text><rect x="290" y="{:.1}" width="34" height="14" rx="3" fill="#c62828"/><text x="307" y="{:.1}" text-anchor="middle" fill="#ffffff" font-weight="bold">PHI</text><text x="330" y="{:.1}">holds PHI</text><line x1="420" y1="{:.1}" x2="460" y2="{:.1}" stroke="#2e7d32" stroke-width="2" marker-end="url(#arrow-allowed)"/><text x="466" y="{:.1}">allowed flows</text><line x1="570" y1="{:.1}" x2="610" y2="{:.1}" stroke="#c62828" stroke-width="2" stroke-dasharray="7 4" marker-end="url(#arrow-denied)"/><text x="616" y="{:.1}">denied by policy</text></g>"##,
        ly,
        ly + 11.0,
        ly,
        ly + 11.0,
        ly,
        ly + 11.0,
        ly + 11.0,
        ly + 7.0,
        ly + 7.0,
        ly + 11.0,
        ly + 7.0,
        ly + 7.0,
        ly + 11.0,
    );
    if map.dropped_flows > 0 {
        let _ = write!(
            s,
            r##"<text x="20" y="{:.1}" font-size="11" fill="#444444">{} flows not drawn: the map holds a bounded number of zone pairs</text>"##,
            ly + 34.0,
            map.dropped_flows
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeSet;

    const ZONES: &str = r#"
[[zone]]
name = "clinical"
cidr = "10.10.0.0/16"

[[zone]]
name = "ehr-servers"
cidr = "10.20.0.0/24"

[[zone]]
name = "medical-devices"
cidrs = ["10.30.0.0/16", "2001:db8:30::/48"]

[[zone]]
name = "guest-wifi"
cidr = "172.16.0.0/16"

[[zone]]
name = "lab-devices"
cidr = "10.30.7.0/24"
kind = "medical-devices"
"#;

    const POLICY: &str = r#"
[policy]
default = "deny"

[[allow]]
from = ["clinical", "medical-devices"]
to = "ehr-servers"
proto = "tcp"
ports = [443, "2575", "11110-11112"]
description = "clients to the EHR"

[[allow]]
from = "internal"
to = "ehr-servers"
proto = "udp"
ports = [53]

[[allow]]
from = "guest-wifi"
to = "external"

[[allow]]
from = "*"
to = "clinical"
proto = "icmp"
"#;

    fn inventory(extra: &str) -> Inventory {
        let text = format!("{ZONES}{extra}");
        let (zones, policy) = Inventory::parse_zones_and_policy(&text).unwrap();
        let assets = Inventory::parse_assets(
            "hostname,ip,kind,model,zone\n\
             ehr-db01.h.org,10.20.0.20,server,ehr-database,ehr-servers\n\
             print01.h.org,10.20.0.99,server,printer,ehr-servers\n\
             pump-1.h.org,10.30.1.1,medical-device,infusion-pump,medical-devices\n",
        )
        .unwrap();
        Inventory::new()
            .with_zones(zones)
            .with_policy(policy)
            .with_assets(assets)
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_policy_reads_selectors_ports_protocols_and_lines() {
        let inv = inventory(POLICY);
        let policy = inv.policy.as_ref().unwrap();
        assert_eq!(policy.default, PolicyDefault::Deny);
        assert_eq!(policy.intra_zone, PolicyDefault::Allow);
        assert_eq!(policy.rules.len(), 4);
        let first = &policy.rules[0];
        assert_eq!(
            first.from,
            ZoneSelector::Zones(vec!["clinical".into(), "medical-devices".into()])
        );
        assert_eq!(first.ports, [(443, 443), (2575, 2575), (11110, 11112)]);
        assert_eq!(first.line, ZONES.lines().count() + 5);
        assert_eq!(
            first.summary(),
            format!(
                "line {}: clinical, medical-devices → ehr-servers tcp 443, 2575, 11110-11112 (clients to the EHR)",
                first.line
            )
        );
        assert_eq!(policy.rules[1].from, ZoneSelector::Internal);
        assert_eq!(policy.rules[2].to, ZoneSelector::External);
        assert_eq!(policy.rules[2].proto, Proto::Any);
        assert!(policy.rules[2].ports.is_empty());
        assert_eq!(policy.rules[3].from, ZoneSelector::Any);
        let guest = inv.zones.iter().find(|z| z.name == "guest-wifi").unwrap();
        assert!(!guest.trusted, "guest Wi-Fi is untrusted by default");
        assert!(inv.zones[0].trusted);
    }

    #[test]
    fn zones_toml_without_policy_tables_has_no_policy_and_checks_nothing() {
        let inv = inventory("");
        assert!(inv.policy.is_none());
        assert_eq!(inv.zones.len(), 5);
        let mut det = SegmentationDetector::new(Arc::new(inv), SegmentationOptions::default());
        assert!(det.policy().is_none());
        let mut out = Vec::new();
        det.observe(&conn(0, "172.16.1.1", "10.20.0.20", 1433, "SF"), &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn policy_errors_name_the_line_and_the_problem() {
        let zones_lines = ZONES.lines().count();
        let cases = [
            (
                "[[allow]]\nfrom = \"lobby\"\nto = \"clinical\"\n",
                "names `lobby`, which is no [[zone]]",
            ),
            (
                "[[allow]]\nfrom = \"clinical\"\nto = \"clinical\"\nports = [70000]\n",
                "70000 is not a port",
            ),
            (
                "[[allow]]\nfrom = \"clinical\"\nto = \"clinical\"\nports = [\"90-80\"]\n",
                "runs backwards",
            ),
            (
                "[[allow]]\nfrom = \"clinical\"\nto = \"clinical\"\nproto = \"icmp\"\nports = [1]\n",
                "ICMP has no ports",
            ),
            (
                "[[allow]]\nfrom = \"clinical\"\nto = \"clinical\"\nport = [1]\n",
                "unknown key `port`",
            ),
            (
                "[[allow]]\nfrom = \"clinical\"\nto = \"clinical\"\nproto = \"sctp\"\n",
                "`proto` must be",
            ),
            ("[[allow]]\nfrom = \"clinical\"\n", "missing `to`"),
            ("[[allow]]\nfrom = []\nto = \"clinical\"\n", "names no zone"),
            (
                "[policy]\ndefault = \"maybe\"\n",
                "`default` must be \"deny\" or \"allow\"",
            ),
        ];
        for (extra, reason) in cases {
            let text = format!("{ZONES}{extra}");
            let e = Inventory::parse_zones_and_policy(&text).unwrap_err();
            assert_eq!(e.file, "zones.toml");
            assert_eq!(e.line, zones_lines + 1, "{extra}: {e}");
            assert!(e.to_string().contains(reason), "{extra}: {e}");
        }
        // A later rule is named by its own header's line.
        let text = format!(
            "{ZONES}[[allow]]\nfrom = \"clinical\"\nto = \"clinical\"\n\n[[allow]]\nfrom = \"x\"\nto = \"clinical\"\n"
        );
        let e = Inventory::parse_zones_and_policy(&text).unwrap_err();
        assert_eq!(e.line, zones_lines + 5, "{e}");
        assert!(e.to_string().contains("allow rule 2"), "{e}");
        let e = Inventory::parse_zones("[[zone]]\nname = \"internal\"\ncidr = \"10.0.0.0/8\"\n")
            .unwrap_err();
        assert!(e.to_string().contains("reserved"), "{e}");
        let e = Inventory::parse_zones(
            "[[zone]]\nname = \"a\"\ncidr = \"10.0.0.0/8\"\n\n[[zone]]\nname = \"b\"\ncidr = \"10.0.0.0/33\"\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 5, "{e}");
        let e = Inventory::parse_zones(
            "[[zone]]\nname = \"a\"\ncidr = \"10.0.0.0/8\"\ntrusted = \"no\"\n",
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("`trusted` must be true or false"),
            "{e}"
        );
    }

    #[test]
    fn verdicts_follow_rules_defaults_and_the_intra_zone_setting() {
        let inv = inventory(POLICY);
        let p = CompiledPolicy::of_inventory(&inv).unwrap();
        let check = |s: &str, d: &str, proto: Option<Proto>, port: Option<u16>| {
            p.check_flow(ip(s), ip(d), proto, port)
        };
        let tcp = Some(Proto::Tcp);
        assert_eq!(
            check("10.10.1.1", "10.20.0.20", tcp, Some(443)),
            Verdict::Allowed
        );
        assert_eq!(
            check("10.10.1.1", "10.20.0.20", tcp, Some(11111)),
            Verdict::Allowed
        );
        assert_eq!(
            check("10.10.1.1", "10.20.0.20", tcp, Some(1433)),
            Verdict::Denied(Denial::DefaultDeny)
        );
        assert_eq!(
            check("10.10.1.1", "10.20.0.20", Some(Proto::Udp), Some(443)),
            Verdict::Denied(Denial::DefaultDeny)
        );
        // Addresses in no zone are "internal": they may resolve names.
        assert_eq!(
            check("192.168.9.9", "10.20.0.53", Some(Proto::Udp), Some(53)),
            Verdict::Allowed
        );
        // The source did not say which protocol: allowed if TCP or UDP would be.
        assert_eq!(
            check("10.10.1.1", "10.20.0.20", None, Some(443)),
            Verdict::Allowed
        );
        assert_eq!(
            check("172.16.1.1", "8.8.8.8", Some(Proto::Udp), Some(53)),
            Verdict::Allowed
        );
        assert_eq!(
            check("172.16.1.1", "8.8.8.8", Some(Proto::Icmp), None),
            Verdict::Allowed
        );
        assert_eq!(
            check("8.8.8.8", "10.10.3.3", Some(Proto::Icmp), None),
            Verdict::Allowed
        );
        assert_eq!(
            check("8.8.8.8", "10.10.3.3", tcp, Some(22)),
            Verdict::Denied(Denial::DefaultDeny)
        );
        assert_eq!(
            check("8.8.8.8", "1.1.1.1", tcp, Some(22)),
            Verdict::Unjudged
        );
        assert_eq!(
            check("10.10.1.1", "10.20.0.20", tcp, None),
            Verdict::Unjudged
        );
        // The nested lab zone is its own zone, in IPv4; the device zone reaches IPv6 too.
        assert_eq!(p.zone_name(p.zone_of(ip("10.30.7.9"))), "lab-devices");
        assert_eq!(p.zone_name(p.zone_of(ip("10.30.8.9"))), "medical-devices");
        assert_eq!(
            p.zone_name(p.zone_of(ip("2001:db8:30:1::5"))),
            "medical-devices"
        );
        assert_eq!(p.zone_name(p.zone_of(ip("2001:db8:31::5"))), "external");
        assert_eq!(p.zone_name(p.zone_of(ip("fd00::1"))), "unzoned");
        assert_eq!(
            check("10.30.7.9", "10.30.8.9", tcp, Some(22)),
            Verdict::Denied(Denial::DefaultDeny),
            "a nested zone is another zone"
        );
        assert_eq!(
            check("10.10.1.1", "10.10.2.2", tcp, Some(445)),
            Verdict::Allowed
        );
        let intra = inventory(&POLICY.replace(
            "default = \"deny\"",
            "default = \"allow\"\nintra_zone = \"deny\"",
        ));
        let q = CompiledPolicy::of_inventory(&intra).unwrap();
        assert_eq!(
            q.check_flow(ip("10.10.1.1"), ip("10.10.2.2"), tcp, Some(445)),
            Verdict::Denied(Denial::IntraZoneDeny)
        );
        assert_eq!(
            q.check_flow(ip("10.10.1.1"), ip("10.20.0.20"), tcp, Some(1433)),
            Verdict::AllowedByDefault
        );
        assert_eq!(
            p.services_between(
                p.zone_id("clinical").unwrap(),
                p.zone_id("ehr-servers").unwrap()
            ),
            ["tcp 443, 2575, 11110-11112", "udp 53"]
        );
        assert!(p.zone(p.zone_id("ehr-servers").unwrap()).unwrap().phi);
    }

    #[test]
    fn the_compiled_policy_agrees_with_the_plain_reading_on_random_flows() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut zones = String::new();
        for i in 0..12 {
            zones.push_str(&format!(
                "[[zone]]\nname = \"z{i}\"\ncidr = \"10.{}.0.0/{}\"\n",
                i % 6,
                16 + (i / 6) * 8
            ));
        }
        zones.push_str("[[zone]]\nname = \"v6\"\ncidrs = [\"2001:db8::/32\", \"2001:db8:5::/48\", \"10.6.6.6\"]\n");
        zones.push_str("[[zone]]\nname = \"v6b\"\ncidr = \"2001:db8:5:5::/64\"\n");
        let names: Vec<String> = (0..12)
            .map(|i| format!("\"z{i}\""))
            .chain([
                "\"v6\"".into(),
                "\"v6b\"".into(),
                "\"*\"".into(),
                "\"internal\"".into(),
                "\"external\"".into(),
            ])
            .collect();
        for (default, intra) in [("deny", "allow"), ("allow", "deny"), ("deny", "deny")] {
            let mut text =
                format!("{zones}[policy]\ndefault = \"{default}\"\nintra_zone = \"{intra}\"\n");
            for _ in 0..40 {
                let pick = |r: u64| names[(r % names.len() as u64) as usize].clone();
                let proto = ["tcp", "udp", "icmp", "any"][(next() % 4) as usize];
                let ports = if proto == "icmp" || next() % 4 == 0 {
                    String::new()
                } else {
                    let a = next() % 600;
                    format!(
                        "ports = [{}, \"{}-{}\"]\n",
                        next() % 600,
                        a,
                        a + next() % 50
                    )
                };
                text.push_str(&format!(
                    "[[allow]]\nfrom = {}\nto = [{}]\nproto = \"{proto}\"\n{ports}",
                    pick(next()),
                    pick(next()).replace("\"*\"", "\"z1\"")
                ));
            }
            let (z, policy) = Inventory::parse_zones_and_policy(&text).unwrap();
            let policy = policy.unwrap();
            let inv = Inventory::new().with_zones(z.clone());
            let compiled = CompiledPolicy::new(&policy, &z, &[]);
            for _ in 0..20_000 {
                let mut address = || -> IpAddr {
                    let r = next();
                    match r % 5 {
                        0 | 1 => {
                            IpAddr::from([10, (r >> 8) as u8 % 8, (r >> 16) as u8, (r >> 24) as u8])
                        }
                        2 => IpAddr::from([
                            0x2001,
                            0xdb8,
                            (r >> 8) as u16 % 8,
                            (r >> 24) as u16 % 8,
                            0,
                            0,
                            0,
                            1,
                        ]),
                        3 => IpAddr::from([192, 168, (r >> 8) as u8, 1]),
                        _ => IpAddr::from([(r >> 8) as u8 | 1, (r >> 16) as u8, 3, 4]),
                    }
                };
                let (src, dst) = (address(), address());
                let proto = [Some(Proto::Tcp), Some(Proto::Udp), Some(Proto::Icmp), None]
                    [(next() % 4) as usize];
                let port = (next() % 8 != 0).then(|| (next() % 700) as u16);
                assert_eq!(
                    compiled.check_flow(src, dst, proto, port),
                    policy.check_linear(&z, src, dst, proto, port),
                    "{src} -> {dst} {proto:?} {port:?}"
                );
                let by_inventory = inv.zone(src).map(|z| z.name.as_str());
                let compiled_zone = compiled.zone_of(src);
                if usize::from(compiled_zone) < z.len() {
                    assert_eq!(
                        by_inventory,
                        Some(compiled.zone_name(compiled_zone)),
                        "{src}"
                    );
                } else {
                    assert_eq!(by_inventory, None, "{src}");
                }
            }
        }
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
        e.unmapped.insert("proto", json!("tcp"));
        e.unmapped.insert("conn_state", json!(state));
        e.unmapped.insert("orig_bytes", json!(100));
        e
    }

    fn run(det: &mut SegmentationDetector, events: &[Event]) -> Vec<Finding> {
        let mut out = Vec::new();
        for e in events {
            det.observe(e, &mut out);
            det.advance(e.time, &mut out);
        }
        out
    }

    #[test]
    fn one_alert_per_zone_pair_port_and_day_saying_attempted_or_established() {
        let mut det =
            SegmentationDetector::new(Arc::new(inventory(POLICY)), SegmentationOptions::default());
        let mut ssl = conn(3, "172.16.1.1", "10.20.0.20", 1433, "SF");
        ssl.metadata.event_code = Some("ssl".into());
        let events = vec![
            conn(0, "172.16.1.1", "10.20.0.20", 1433, "REJ"),
            conn(1, "172.16.1.2", "10.20.0.20", 1433, "S0"),
            ssl,
            conn(4, "172.16.1.1", "10.20.0.20", 1433, "OTH"),
            conn(5, "10.10.1.1", "10.20.0.99", 8080, "SF"),
            conn(6, "10.10.1.1", "10.20.0.20", 443, "SF"),
            conn(7, "172.16.1.1", "10.20.0.20", 1433, "SF"),
            conn(24 * 60 + 1, "172.16.1.1", "10.20.0.20", 1433, "SF"),
        ];
        let out = run(&mut det, &events);
        assert_eq!(out.len(), 5, "{out:#?}");
        let ids: BTreeSet<&str> = out.iter().map(|f| f.alert.id.as_str()).collect();
        assert_eq!(
            ids.len(),
            3,
            "guest→servers 1433 twice a day apart, clinical→servers 8080"
        );
        assert_eq!(out[0].alert.id, out[1].alert.id);
        assert_eq!(out[1].alert.id, out[3].alert.id);
        let d = out[1].alert.description.as_deref().unwrap();
        assert!(
            d.starts_with("guest-wifi (guest Wi-Fi, untrusted) → ehr-servers (servers) on tcp/1433, attempted: 2 connections (2 refused or unanswered), 200 bytes, from 172.16.1.1, 172.16.1.2 to ehr-db01.h.org (ehr-database, 10.20.0.20, holds PHI) between "),
            "{d}"
        );
        // `internal` covers guest Wi-Fi too: the only rule between the two.
        assert!(
            d.ends_with("Allow rules between these zones: line 33: internal → ehr-servers udp 53"),
            "{d}"
        );
        assert_eq!(out[1].alert.severity, Severity::High);
        assert_eq!(out[1].alert.attack, ["T1046"]);
        let d = out[3].alert.description.as_deref().unwrap();
        assert!(
            d.contains(
                "tcp/1433, established: 3 connections (1 established, 2 refused or unanswered)"
            ),
            "{d}"
        );
        let printer = &out[2];
        assert_eq!(
            printer.alert.severity,
            Severity::Medium,
            "a printer holds no PHI"
        );
        let d = printer.alert.description.as_deref().unwrap();
        assert!(d.contains("Allow rules between these zones: line "), "{d}");
        assert!(d.contains("clinical, medical-devices → ehr-servers tcp 443, 2575, 11110-11112 (clients to the EHR)"), "{d}");
        assert_ne!(out[4].alert.id, out[3].alert.id, "a new day, a new alert");
        assert!(
            out[4]
                .alert
                .description
                .as_deref()
                .unwrap()
                .contains("1 connection (1 established)")
        );
    }

    #[test]
    fn remote_services_and_device_zones_raise_the_technique_and_severity() {
        let mut det =
            SegmentationDetector::new(Arc::new(inventory(POLICY)), SegmentationOptions::default());
        let out = run(
            &mut det,
            &[
                conn(0, "10.10.1.1", "10.30.1.1", 445, "SF"),
                conn(1, "10.20.0.5", "10.10.1.1", 3389, "S0"),
            ],
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].alert.severity, Severity::High, "medical-device zone");
        assert_eq!(out[0].alert.attack, ["T1046", "T1021", "T1570"]);
        assert_eq!(out[0].alert.entities.host.as_deref(), Some("pump-1.h.org"));
        assert_eq!(out[1].alert.severity, Severity::Medium);
        assert_eq!(out[1].alert.attack, ["T1046", "T1021"]);
    }

    #[test]
    fn reachability_answers_what_reaches_phi_and_stays_bounded() {
        let inv = Arc::new(inventory(POLICY));
        let policy = Arc::new(CompiledPolicy::of_inventory(&inv).unwrap());
        let mut reach = Reachability::new(Arc::clone(&policy), Arc::clone(&inv));
        for (i, (s, d, port, state)) in [
            ("10.10.1.1", "10.20.0.20", 443, "SF"),
            ("10.10.1.1", "10.20.0.20", 443, "SF"),
            ("172.16.1.1", "10.20.0.20", 1433, "REJ"),
            ("10.10.1.1", "10.10.1.2", 445, "SF"),
            ("8.8.8.8", "1.1.1.1", 53, "SF"),
        ]
        .into_iter()
        .enumerate()
        {
            reach.observe_event(&conn(i as i64, s, d, port, state));
        }
        let map = reach.map();
        assert_eq!(map.edges.len(), 2, "{:#?}", map.edges);
        let phi = map.phi_reach();
        assert_eq!(phi.len(), 1);
        let ehr = &phi[0];
        assert_eq!(ehr.zone, "ehr-servers");
        let policy_from: Vec<&str> = ehr.by_policy.iter().map(|e| e.from.as_str()).collect();
        assert!(policy_from.contains(&"clinical") && policy_from.contains(&"unzoned"));
        assert!(
            policy_from.contains(&"guest-wifi"),
            "udp 53 from `internal` covers guest Wi-Fi too"
        );
        let guest = ehr
            .observed
            .iter()
            .find(|e| e.from == "guest-wifi")
            .unwrap();
        assert_eq!(
            (guest.connections, guest.denied, guest.established),
            (1, 1, 0)
        );
        assert_eq!(guest.phi_destinations, ["ehr-db01.h.org"]);
        assert_eq!(guest.services[0].label(), "tcp/1433");
        let clinical = ehr.observed.iter().find(|e| e.from == "clinical").unwrap();
        assert_eq!((clinical.connections, clinical.denied), (2, 0));

        let mut small = Reachability::new(policy, inv).with_limits(2, 3);
        for i in 0..50u16 {
            let src = ["10.10.1.1", "172.16.1.1", "10.30.1.1", "8.8.8.8"][usize::from(i % 4)];
            small.observe_event(&conn(i64::from(i), src, "10.20.0.20", 1000 + i, "SF"));
        }
        let map = small.map();
        assert_eq!(map.edges.len(), 2);
        assert!(map.edges.iter().all(|e| e.services.len() <= 3));
        assert_eq!(map.dropped_flows, 24);
        assert_eq!(map.edges.iter().map(|e| e.connections).sum::<u64>(), 26);
    }

    #[test]
    fn merged_edges_add_counts_widen_times_and_stay_bounded() {
        let edge = |connections: u64, port: u16, allowed: bool, at: i64| Edge {
            from: "guest-wifi".into(),
            to: "ehr-servers".into(),
            services: vec![ServiceCount {
                proto: Some(Proto::Tcp),
                port: Some(port),
                allowed,
                connections,
            }],
            connections,
            established: connections / 2,
            denied: if allowed { 0 } else { connections },
            first_seen: Timestamp(at),
            last_seen: Timestamp(at + 10),
            phi_destinations: vec![format!("db{port}")],
        };
        let mut other = edge(1, 443, true, 0);
        other.from = "clinical".into();
        let merged = merge_edges(
            &[edge(3, 1433, false, 100), other],
            &[edge(5, 1433, false, 50), edge(2, 22, false, 500)],
        );
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].from, "clinical", "sorted by zone pair");
        let guest = &merged[1];
        assert_eq!(
            (guest.connections, guest.denied, guest.established),
            (10, 10, 4)
        );
        assert_eq!(
            (guest.first_seen, guest.last_seen),
            (Timestamp(50), Timestamp(510))
        );
        assert_eq!(guest.services.len(), 2);
        assert_eq!(
            (guest.services[0].port, guest.services[0].connections),
            (Some(1433), 8)
        );
        assert_eq!(guest.phi_destinations, ["db1433", "db22"]);
        let many: Vec<Edge> = (0..100).map(|p| edge(1, p, true, 0)).collect();
        let merged = many.iter().fold(Vec::new(), |acc, e| {
            merge_edges(&acc, std::slice::from_ref(e))
        });
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].services.len(), 32);
        assert_eq!(merged[0].phi_destinations.len(), 16);
        assert_eq!(merged[0].connections, 100);
    }

    #[test]
    fn the_svg_escapes_names_and_marks_untrusted_phi_and_denied() {
        let map = ReachabilityMap {
            zones: vec![
                ZoneInfo {
                    name: "a<b>&\"c'".into(),
                    kind: Some(ZoneKind::Servers),
                    trusted: true,
                    phi: true,
                },
                ZoneInfo {
                    name: "guest".into(),
                    kind: Some(ZoneKind::GuestWifi),
                    trusted: false,
                    phi: false,
                },
                ZoneInfo {
                    name: "external".into(),
                    kind: None,
                    trusted: false,
                    phi: false,
                },
            ],
            edges: vec![Edge {
                from: "guest".into(),
                to: "a<b>&\"c'".into(),
                services: vec![
                    ServiceCount {
                        proto: Some(Proto::Tcp),
                        port: Some(1433),
                        allowed: false,
                        connections: 3,
                    },
                    ServiceCount {
                        proto: Some(Proto::Tcp),
                        port: Some(443),
                        allowed: true,
                        connections: 9,
                    },
                ],
                connections: 12,
                established: 9,
                denied: 3,
                first_seen: Timestamp(0),
                last_seen: Timestamp(1),
                phi_destinations: vec![],
            }],
            policy_edges: vec![],
            dropped_flows: 0,
        };
        let svg = render_svg(&map);
        assert!(svg.contains("a&lt;b&gt;&amp;&quot;c&apos;"), "{svg}");
        assert!(!svg.contains("a<b>"));
        assert!(svg.contains(r#"class="flow denied""#) && svg.contains(r#"class="flow allowed""#));
        assert!(svg.contains("denied: tcp/1433 ×3") && svg.contains("tcp/443 ×9"));
        assert!(svg.contains(r#"class="zone phi""#) && svg.contains(r#"class="zone untrusted""#));
        assert_eq!(svg.matches("<g").count(), svg.matches("</g>").count());
    }

    #[test]
    fn zeek_states_decide_attempted_established_or_unjudged() {
        let state = |s: &str| flow_of(&conn(0, "10.0.0.1", "10.0.0.2", 22, s)).map(|f| f.attempt);
        assert_eq!(state("SF"), Some(Attempt::Established));
        assert_eq!(state("RSTO"), Some(Attempt::Established));
        assert_eq!(state("REJ"), Some(Attempt::Attempted));
        assert_eq!(state("S0"), Some(Attempt::Attempted));
        assert_eq!(state("OTH"), None);
        assert_eq!(state("RSTRH"), None);
        let mut other = conn(0, "10.0.0.1", "10.0.0.2", 22, "SF");
        other.metadata.product = "netflow".into();
        other.unmapped.remove("conn_state");
        other.unmapped.insert("proto", json!(17));
        let f = flow_of(&other).unwrap();
        assert_eq!((f.attempt, f.proto), (Attempt::Unknown, Some(Proto::Udp)));
        assert_eq!(
            merge_ranges(vec![(5, 9), (1, 3), (4, 4), (20, 30), (25, 26)]),
            [(1, 9), (20, 30)]
        );
    }

    #[test]
    fn state_stays_bounded_under_ten_million_zone_pairs_and_ports() {
        // Sixteen zones and no allow rule: every flow between two of them is denied, and each
        // (zone pair, port) is an alert in progress. Observe puts denied flows in the table ...
        let mut zones = String::new();
        for z in 0..16 {
            zones.push_str(&format!(
                "[[zone]]\nname = \"zone-{z}\"\ncidr = \"10.{z}.0.0/16\"\n"
            ));
        }
        zones.push_str("[policy]\ndefault = \"deny\"\nintra_zone = \"deny\"\n");
        let (z, policy) = Inventory::parse_zones_and_policy(&zones).unwrap();
        let inventory = Arc::new(Inventory::new().with_zones(z).with_policy(policy));
        let options = SegmentationOptions::default();
        let cap = options.max_entities;
        let mut det = SegmentationDetector::new(inventory, options);
        let flows: Vec<Event> = (60_000..61_000u16)
            .map(|port| conn(0, "10.1.0.5", "10.2.0.9", port, "S0"))
            .collect();
        assert_eq!(run(&mut det, &flows).len(), 1_000);
        assert_eq!(det.state()[0].held, 1_000);
        // ... and ten million of them, keyed as observe keys them (an unoptimised build would
        // spend minutes describing ten million alerts), stay within the cap.
        let start = Timestamp(1_794_096_000_000);
        for i in 0..10_000_000u32 {
            let (from, to, port) = (i % 16, (i / 16) % 16, (i / 256) % 65_536);
            let now = Timestamp(start.millis() + i64::from(i) * 10);
            let tally = det.tally(format!("zone-{from}|zone-{to}|{port}"), now);
            tally.attempted += 1;
            if i % 100_000 == 0 {
                det.advance(now, &mut Vec::new());
                assert!(det.state()[0].held <= cap);
            }
        }
        let t = &det.state()[0];
        assert_eq!((t.table, t.cap), ("open_alerts", cap));
        assert!(t.held <= cap && t.evicted > 0, "{t:?}");
        // Every key made (a thousand by observe, ten million directly) is held or evicted.
        assert_eq!(t.held as u64 + t.evicted + t.expired, 10_001_000, "{t:?}");
    }
}
