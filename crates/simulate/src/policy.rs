//! The simulated hospital's segmentation policy: which zone may reach which, by protocol and
//! port. [`crate::context`] writes it into `zones.toml` as `[policy]` and `[[allow]]` tables;
//! [`allows`] evaluates it here, on the simulator's own numbers, so `truth.json` can say which
//! planted flows the policy denies, and a test can prove that normal traffic never breaks it.
//! An independent reading of the same table to the one the detectors compile: when the two
//! disagree, a test fails.

use crate::org::Zone;
use crate::signal::{Ip, Proto};

/// Where an address lies: in a zone, private but in no zone, or on the internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Zone(Zone),
    Unzoned,
    External,
}

impl Place {
    /// The name a policy and `truth.json` use.
    pub fn name(self) -> &'static str {
        match self {
            Place::Zone(z) => z.name(),
            Place::Unzoned => "unzoned",
            Place::External => "external",
        }
    }
}

/// One side of an allow rule.
#[derive(Debug, Clone, Copy)]
pub enum Side {
    Zones(&'static [Zone]),
    Internal,
    External,
}

impl Side {
    fn holds(self, place: Place) -> bool {
        match self {
            Side::Zones(zones) => matches!(place, Place::Zone(z) if zones.contains(&z)),
            Side::Internal => place != Place::External,
            Side::External => place == Place::External,
        }
    }

    fn toml(self) -> String {
        match self {
            Side::Zones([one]) => format!("\"{}\"", one.name()),
            Side::Zones(zones) => {
                let names: Vec<String> =
                    zones.iter().map(|z| format!("\"{}\"", z.name())).collect();
                format!("[{}]", names.join(", "))
            }
            Side::Internal => "\"internal\"".into(),
            Side::External => "\"external\"".into(),
        }
    }
}

/// An `[[allow]]` table.
pub struct Allow {
    pub from: Side,
    pub to: Side,
    /// `None`: any protocol.
    pub proto: Option<Proto>,
    /// Inclusive ranges; empty: any port.
    pub ports: &'static [(u16, u16)],
    pub description: &'static str,
}

const WORKSTATIONS: &[Zone] = &[Zone::Clinical, Zone::Admin];
const RESOLVER_CLIENTS: &[Zone] = &[
    Zone::Clinical,
    Zone::Admin,
    Zone::MedicalDevices,
    Zone::Dmz,
    Zone::VendorVpn,
];

/// The policy matrix, in the order zones.toml lists it. Default deny between zones; traffic
/// inside a zone is allowed.
pub const POLICY: &[Allow] = &[
    Allow {
        from: Side::Zones(WORKSTATIONS),
        to: Side::Zones(&[Zone::EhrServers]),
        proto: Some(Proto::Tcp),
        ports: &[(443, 443)],
        description: "workstations to the EHR application (TLS)",
    },
    Allow {
        from: Side::Zones(RESOLVER_CLIENTS),
        to: Side::Zones(&[Zone::EhrServers]),
        proto: Some(Proto::Udp),
        ports: &[(53, 53)],
        description: "name resolution at the domain controller",
    },
    Allow {
        from: Side::Zones(WORKSTATIONS),
        to: Side::External,
        proto: Some(Proto::Tcp),
        ports: &[(80, 80), (443, 443)],
        description: "Microsoft 365 and the web (HTTP, TLS)",
    },
    Allow {
        from: Side::Zones(&[Zone::EhrServers]),
        to: Side::Zones(&[Zone::EhrServers]),
        proto: Some(Proto::Tcp),
        ports: &[(2575, 2575)],
        description: "interface engine and EHR (HL7 MLLP)",
    },
    Allow {
        from: Side::Zones(&[Zone::MedicalDevices]),
        to: Side::Zones(&[Zone::EhrServers]),
        proto: Some(Proto::Tcp),
        ports: &[(2575, 2575)],
        description: "monitors and lab analysers to the interface engine (HL7 MLLP)",
    },
    Allow {
        from: Side::Zones(&[Zone::MedicalDevices]),
        to: Side::Zones(&[Zone::EhrServers]),
        proto: Some(Proto::Tcp),
        ports: &[(104, 104), (11112, 11112)],
        description: "imaging modalities to the PACS (DICOM)",
    },
    Allow {
        from: Side::Zones(&[Zone::MedicalDevices]),
        to: Side::External,
        proto: Some(Proto::Tcp),
        ports: &[(443, 443)],
        description: "infusion pumps to their vendor cloud",
    },
    Allow {
        from: Side::Zones(&[Zone::GuestWifi]),
        to: Side::External,
        proto: None,
        ports: &[],
        description: "guests reach the internet and nothing else",
    },
    Allow {
        from: Side::Zones(&[Zone::Admin]),
        to: Side::Internal,
        proto: Some(Proto::Tcp),
        ports: &[(22, 22), (3389, 3389), (5985, 5986)],
        description: "IT administration (SSH, RDP, WinRM)",
    },
    Allow {
        from: Side::Zones(&[Zone::Admin]),
        to: Side::Internal,
        proto: Some(Proto::Udp),
        ports: &[(161, 161)],
        description: "SNMP monitoring",
    },
    Allow {
        from: Side::External,
        to: Side::Zones(&[Zone::Dmz]),
        proto: Some(Proto::Tcp),
        ports: &[(25, 25), (443, 443)],
        description: "the patient portal and inbound mail",
    },
    Allow {
        from: Side::Zones(&[Zone::Dmz]),
        to: Side::External,
        proto: Some(Proto::Tcp),
        ports: &[(25, 25)],
        description: "the mail relay delivers outbound mail",
    },
    Allow {
        from: Side::Zones(&[Zone::Dmz]),
        to: Side::Zones(&[Zone::EhrServers]),
        proto: Some(Proto::Tcp),
        ports: &[(443, 443)],
        description: "the patient portal's EHR API",
    },
    Allow {
        from: Side::Zones(&[Zone::VendorVpn]),
        to: Side::Zones(&[Zone::MedicalDevices]),
        proto: Some(Proto::Tcp),
        ports: &[(22, 22), (443, 443)],
        description: "device vendors maintain their devices",
    },
    Allow {
        from: Side::Zones(&[Zone::VendorVpn]),
        to: Side::Zones(&[Zone::EhrServers]),
        proto: Some(Proto::Tcp),
        ports: &[(22, 22), (443, 443)],
        description: "EHR and PACS vendors support their applications",
    },
    Allow {
        from: Side::Zones(&[Zone::EhrServers]),
        to: Side::External,
        proto: Some(Proto::Tcp),
        ports: &[(443, 443)],
        description: "the EHR's and PACS's cloud services",
    },
];

/// The `[policy]` and `[[allow]]` tables of zones.toml.
pub fn toml() -> String {
    let mut s = String::from(
        "\n# Segmentation policy: what may cross between zones (format: docs/inventory-files.md).\n\
         [policy]\ndefault = \"deny\"\nintra_zone = \"allow\"\n",
    );
    for rule in POLICY {
        s.push_str("\n[[allow]]\n");
        s.push_str(&format!("from = {}\n", rule.from.toml()));
        s.push_str(&format!("to = {}\n", rule.to.toml()));
        if let Some(proto) = rule.proto {
            s.push_str(match proto {
                Proto::Tcp => "proto = \"tcp\"\n",
                Proto::Udp => "proto = \"udp\"\n",
            });
        }
        if !rule.ports.is_empty() {
            let ports: Vec<String> = rule
                .ports
                .iter()
                .map(|&(a, b)| {
                    if a == b {
                        a.to_string()
                    } else {
                        format!("\"{a}-{b}\"")
                    }
                })
                .collect();
            s.push_str(&format!("ports = [{}]\n", ports.join(", ")));
        }
        s.push_str(&format!("description = \"{}\"\n", rule.description));
    }
    s
}

/// `10.10.0.0/16` as a number and a prefix length.
fn network(zone: Zone) -> (u32, u32) {
    let (address, prefix) = zone.cidr().split_once('/').unwrap_or((zone.cidr(), "32"));
    let address = address.parse::<std::net::Ipv4Addr>().map_or(0, u32::from);
    (address, prefix.parse().unwrap_or(32))
}

pub fn place(ip: Ip) -> Place {
    let mut best: Option<(u32, Zone)> = None;
    for zone in Zone::ALL {
        let (net, prefix) = network(zone);
        let mask = u32::MAX.checked_shl(32 - prefix.min(32)).unwrap_or(0);
        if ip & mask == net & mask && best.is_none_or(|(p, _)| prefix >= p) {
            best = Some((prefix, zone));
        }
    }
    match best {
        Some((_, zone)) => Place::Zone(zone),
        None => {
            let [a, b, ..] = ip.to_be_bytes();
            if a == 10 || (a == 172 && (16..32).contains(&b)) || (a == 192 && b == 168) {
                Place::Unzoned
            } else {
                Place::External
            }
        }
    }
}

/// Whether the policy lets `src` reach `dst` on `proto`/`port`. Traffic inside a zone and
/// traffic between two outside addresses is allowed.
pub fn allows(src: Ip, dst: Ip, proto: Proto, port: u16) -> bool {
    let (from, to) = (place(src), place(dst));
    if from == to {
        return true;
    }
    POLICY.iter().any(|rule| {
        rule.from.holds(from)
            && rule.to.holds(to)
            && rule.proto.is_none_or(|p| p == proto)
            && (rule.ports.is_empty() || rule.ports.iter().any(|&(a, b)| a <= port && port <= b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infra::Infra;
    use crate::org::Org;
    use crate::signal::{Body, Signals, ip};

    #[test]
    fn normal_traffic_of_every_day_is_allowed_by_the_policy() {
        let org = Org::generate(7, 1_793_577_600_000, 200, 1_000);
        let infra = Infra::new(&org);
        let mut conns = 0;
        for day in 0..3 {
            let mut out = Signals::default();
            infra.day(&org, day, &mut out);
            crate::office::day(&org, day, &mut out);
            for s in &out.out {
                if let Body::Conn(c) = s.body {
                    conns += 1;
                    assert!(
                        allows(c.orig, c.resp, c.proto, c.resp_p),
                        "normal traffic denied: {} ({}) -> {} ({}) port {}",
                        crate::signal::ip_text(c.orig),
                        place(c.orig).name(),
                        crate::signal::ip_text(c.resp),
                        place(c.resp).name(),
                        c.resp_p
                    );
                }
            }
        }
        assert!(conns > 1_000, "{conns}");
    }

    #[test]
    fn the_policy_denies_what_it_does_not_list() {
        let guest = ip(172, 16, 40, 7);
        let db = ip(10, 20, 0, 20);
        assert!(!allows(guest, db, Proto::Tcp, 1433));
        assert!(allows(guest, ip(8, 8, 8, 8), Proto::Udp, 53));
        assert!(allows(ip(10, 40, 4, 2), db, Proto::Tcp, 3389));
        assert!(!allows(ip(10, 30, 1, 2), ip(10, 40, 4, 2), Proto::Tcp, 445));
        assert!(allows(
            ip(10, 30, 1, 2),
            ip(34, 117, 59, 81),
            Proto::Tcp,
            443
        ));
        assert!(!allows(
            ip(10, 30, 1, 2),
            ip(34, 117, 59, 81),
            Proto::Tcp,
            8443
        ));
        assert_eq!(place(ip(10, 77, 0, 1)), Place::Unzoned);
        assert_eq!(place(ip(10, 99, 0, 9)), Place::Zone(Zone::VendorVpn));
    }
}
