//! Passive discovery: the hosts, devices and services the telemetry shows, gathered from
//! stored events so that what nobody listed can be flagged for review.
//!
//! What counts as a sighting:
//! - both ends of a network connection (Zeek `conn`, any Network Activity event) when the
//!   address is internal, and the destination's `proto/port` as a service when the connection
//!   was answered (Zeek states other than `S0`, `REJ`, `OTH`, `RSTOS0`, `RSTRH`, `SH`, `SHR`);
//! - DHCP leases: the address, the client's host name and MAC;
//! - the host that recorded an event (`device`: the Windows computer, the syslog host, the
//!   ATNA audit source), except where `device` is no host of the organisation's: a user's own
//!   device in sign-ins and message traces, HL7's sending facility.
//!
//! An address is internal when `internal` says so (the caller knows the zones) or, without
//! zones, when it is private. Nothing here reads a clock or touches the store.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use ward_model::event::class;
use ward_model::{Event, Status, Timestamp};

use crate::asset::Asset;

/// Sources whose `device` is not one of the organisation's hosts: a person's own phone or
/// laptop (sign-ins, message traces), or HL7's sending facility (an organisation's name).
const NOT_A_HOST_SOURCES: &[&str] = &["signin", "m365", "email", "postfix", "hl7"];

/// Zeek connection states in which the responder never answered.
const UNANSWERED: &[&str] = &["S0", "REJ", "OTH", "RSTOS0", "RSTRH", "SH", "SHR"];

/// One device or service the telemetry showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// `ip:10.30.4.17` when an address is known, else `host:name`.
    pub key: String,
    pub address: Option<String>,
    pub hostname: Option<String>,
    pub mac: Option<String>,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub events: u64,
    pub sources: BTreeSet<String>,
    pub services: BTreeSet<String>,
}

/// Gathers sightings from events, bounded: at most `cap` keys are held, and what could not
/// be held is counted in `dropped` so a caller can say so.
#[derive(Debug)]
pub struct Discovery<F> {
    internal: F,
    seen: HashMap<String, Seen>,
    cap: usize,
    /// Sightings not held because the cap was reached.
    pub dropped: u64,
}

impl<F: Fn(IpAddr) -> bool> Discovery<F> {
    pub fn new(internal: F, cap: usize) -> Self {
        Discovery {
            internal,
            seen: HashMap::new(),
            cap,
            dropped: 0,
        }
    }

    /// Notes what `event` shows.
    pub fn observe(&mut self, event: &Event) {
        let source = event.metadata.product.as_str();
        if event.class_uid == class::NETWORK_ACTIVITY {
            let dhcp = event.activity_name.as_deref() == Some("dhcp lease");
            if dhcp {
                let mac = event
                    .unmapped
                    .get("mac")
                    .and_then(|v| v.as_str())
                    .map(str::to_string);
                self.note(
                    event.src_endpoint.ip.as_deref(),
                    event.src_endpoint.hostname.as_deref(),
                    mac,
                    None,
                    source,
                    event.time,
                );
            } else {
                let answered = match event.status_detail.as_deref() {
                    Some(state) => !UNANSWERED.contains(&state),
                    None => event.status != Status::Failure,
                };
                let service = match (answered, event.dst_endpoint.port) {
                    (true, Some(port)) => Some(format!("{}/{port}", protocol(event))),
                    _ => None,
                };
                self.note(
                    event.src_endpoint.ip.as_deref(),
                    None,
                    None,
                    None,
                    source,
                    event.time,
                );
                if answered {
                    self.note(
                        event.dst_endpoint.ip.as_deref(),
                        None,
                        None,
                        service,
                        source,
                        event.time,
                    );
                }
            }
        }
        if !NOT_A_HOST_SOURCES.contains(&source) {
            self.note(
                event.device.ip.as_deref(),
                event.device.hostname.as_deref(),
                None,
                None,
                source,
                event.time,
            );
        }
    }

    fn note(
        &mut self,
        ip: Option<&str>,
        hostname: Option<&str>,
        mac: Option<String>,
        service: Option<String>,
        source: &str,
        time: Timestamp,
    ) {
        let ip = ip.and_then(|ip| ip.parse::<IpAddr>().ok());
        if let Some(address) = ip
            && !(self.internal)(address)
        {
            return;
        }
        let hostname = hostname
            .map(str::trim)
            .filter(|h| !h.is_empty() && h.len() <= 253 && !h.contains(char::is_whitespace))
            .map(|h| h.to_ascii_lowercase());
        let key = match (ip, &hostname) {
            (Some(ip), _) => format!("ip:{ip}"),
            (None, Some(host)) => format!("host:{host}"),
            (None, None) => return,
        };
        if !self.seen.contains_key(&key) && self.seen.len() >= self.cap {
            self.dropped += 1;
            return;
        }
        let entry = self.seen.entry(key.clone()).or_insert_with(|| Seen {
            key,
            address: ip.map(|ip| ip.to_string()),
            hostname: None,
            mac: None,
            first_seen: time,
            last_seen: time,
            events: 0,
            sources: BTreeSet::new(),
            services: BTreeSet::new(),
        });
        entry.first_seen = entry.first_seen.min(time);
        entry.last_seen = entry.last_seen.max(time);
        entry.events += 1;
        if entry.sources.len() < 16 && !source.is_empty() {
            entry.sources.insert(source.to_string());
        }
        if let Some(service) = service
            && entry.services.len() < 64
        {
            entry.services.insert(service);
        }
        if hostname.is_some() {
            entry.hostname = hostname;
        }
        if mac.is_some() {
            entry.mac = mac;
        }
    }

    /// Everything seen, by key.
    pub fn finish(self) -> Vec<Seen> {
        let mut all: Vec<Seen> = self.seen.into_values().collect();
        all.sort_by(|a, b| a.key.cmp(&b.key));
        all
    }
}

fn protocol(event: &Event) -> &str {
    event
        .unmapped
        .get("proto")
        .and_then(|v| v.as_str())
        .filter(|p| matches!(*p, "tcp" | "udp" | "icmp"))
        .unwrap_or("tcp")
}

/// Whether a device seen at `address` with `hostname` is an asset the inventory lists: by
/// address, or by host name (the full name or its first label).
pub fn is_listed(address: Option<&str>, hostname: Option<&str>, assets: &[Asset]) -> bool {
    let address: Option<IpAddr> = address.and_then(|a| a.parse().ok());
    assets.iter().any(|asset| {
        address.is_some_and(|ip| asset.addresses.contains(&ip))
            || hostname.is_some_and(|h| {
                asset.hostnames.iter().chain([&asset.id]).any(|name| {
                    let name = name.to_ascii_lowercase();
                    name == h || name.split('.').next() == h.split('.').next()
                })
            })
    })
}

/// An address private to the organisation: RFC 1918, CGNAT, loopback, link-local, IPv6
/// unique-local and link-local.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
        }
    }
}
