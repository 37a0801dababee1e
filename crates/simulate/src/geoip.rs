//! `context/geoip.mmdb` and `context/geoip-asn.mmdb`: a GeoLite2-City and a GeoLite2-ASN
//! database (MaxMind DB format, written by [`crate::mmdb`]) covering every public network the
//! simulated sign-ins come from: staff's home broadband, the hospital's egress, the vendors'
//! offices, the foreign places of account-takeover scenarios, the brute-force and spraying
//! networks and the internet's scanners. With them Ward geolocates the VPN's sshd logins,
//! which carry no location of their own, as a site with a GeoIP subscription would.
//!
//! The organisations named are fictional and their AS numbers are from the ranges reserved for
//! documentation (RFC 5398), so nothing here says anything about a real network's owner.

use crate::directory::{FOREIGN, HOME_PLACE, HOSPITAL_EGRESS, Place};
use crate::infra::{HOME_NETS, SCANNER_NETS, VENDORS};
use crate::mmdb::{CityRecord, Writer, asn_record};
use crate::scenarios::{BRUTE_FORCE_NET, SPRAY_NET};
use crate::signal::{Ip, ip};
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

/// A place that is not one of the sign-in places of `directory`.
const fn place(
    city: &'static str,
    state: &'static str,
    country: &'static str,
    lat: f64,
    lon: f64,
) -> Place {
    Place {
        city,
        state,
        country,
        lat,
        lon,
    }
}

const ST_PETERSBURG: Place = place("Saint Petersburg", "St.-Petersburg", "RU", 59.9386, 30.3141);
const FRANKFURT: Place = place("Frankfurt am Main", "Hesse", "DE", 50.1109, 8.6821);
const MINNEAPOLIS: Place = place("Minneapolis", "Minnesota", "US", 44.9778, -93.265);
const BOSTON: Place = place("Boston", "Massachusetts", "US", 42.3601, -71.0589);
const MADISON: Place = place("Madison", "Wisconsin", "US", 43.0731, -89.4012);

/// Where each scanner network of `infra::SCANNER_NETS` is, in the same order.
const SCANNER_PLACES: [Place; 8] = [
    place("Amsterdam", "Noord-Holland", "NL", 52.374, 4.8897),
    place("Beijing", "Beijing", "CN", 39.9042, 116.4074),
    place("Singapore", "Singapore", "SG", 1.3521, 103.8198),
    FRANKFURT,
    place("Sao Paulo", "Sao Paulo", "BR", -23.5505, -46.6333),
    place("Bucharest", "Bucuresti", "RO", 44.4323, 26.1063),
    place("Seoul", "Seoul", "KR", 37.5665, 126.978),
    place("Shanghai", "Shanghai", "CN", 31.2304, 121.4737),
];

fn country_name(iso: &str) -> &'static str {
    match iso {
        "US" => "United States",
        "RU" => "Russia",
        "NG" => "Nigeria",
        "RO" => "Romania",
        "NL" => "Netherlands",
        "DE" => "Germany",
        "CN" => "China",
        "SG" => "Singapore",
        "BR" => "Brazil",
        "KR" => "South Korea",
        _ => "",
    }
}

fn continent(iso: &str) -> &'static str {
    match iso {
        "US" => "NA",
        "NG" => "AF",
        "BR" => "SA",
        "CN" | "SG" | "KR" => "AS",
        _ => "EU",
    }
}

fn time_zone(p: &Place) -> &'static str {
    match (p.country, p.state) {
        ("US", "Minnesota" | "Wisconsin") => "America/Chicago",
        ("US", _) => "America/New_York",
        ("RU", _) => "Europe/Moscow",
        ("NG", _) => "Africa/Lagos",
        ("RO", _) => "Europe/Bucharest",
        ("NL", _) => "Europe/Amsterdam",
        ("DE", _) => "Europe/Berlin",
        ("CN", _) => "Asia/Shanghai",
        ("SG", _) => "Asia/Singapore",
        ("BR", _) => "America/Sao_Paulo",
        ("KR", _) => "Asia/Seoul",
        _ => "UTC",
    }
}

/// One network of the databases: its address, prefix length, place and autonomous system.
struct Network {
    net: Ip,
    prefix: u8,
    place: Place,
    asn: u32,
    org: &'static str,
}

/// Every network, wider ones before the narrower ones inside them.
fn networks() -> Vec<Network> {
    let mut out = Vec::new();
    for (i, (a, b)) in HOME_NETS.iter().enumerate() {
        out.push(Network {
            net: ip(*a, *b, 0, 0),
            prefix: 16,
            place: HOME_PLACE,
            asn: 64_496 + i as u32 % 2,
            org: if i % 2 == 0 {
                "Hudson Valley Cable"
            } else {
                "Taconic Fiber"
            },
        });
    }
    out.push(Network {
        net: HOSPITAL_EGRESS & 0xffff_ff00,
        prefix: 24,
        place: HOME_PLACE,
        asn: 64_498,
        org: "Ward General Hospital",
    });
    // The vendors' offices: MedInfuse's /24 holds ClearView's one address (a narrower network
    // inside a wider one, as real databases have them).
    let [infusion, pacs, ehr] = [&VENDORS[0], &VENDORS[1], &VENDORS[2]];
    out.push(Network {
        net: infusion.source & 0xffff_ff00,
        prefix: 24,
        place: MINNEAPOLIS,
        asn: 64_499,
        org: "Lakeside Business Internet",
    });
    out.push(Network {
        net: pacs.source,
        prefix: 32,
        place: BOSTON,
        asn: 64_500,
        org: "Harbor Metro Networks",
    });
    out.push(Network {
        net: ehr.source & 0xffff_ff00,
        prefix: 24,
        place: MADISON,
        asn: 64_499,
        org: "Lakeside Business Internet",
    });
    for (i, (place, address)) in FOREIGN.iter().enumerate() {
        out.push(Network {
            // A /22: the scenarios pick addresses up to 104 past the one listed.
            net: address & 0xffff_fc00,
            prefix: 22,
            place: *place,
            asn: 64_501 + i as u32,
            org: "Rented Virtual Servers",
        });
    }
    out.push(Network {
        net: BRUTE_FORCE_NET,
        prefix: 24,
        place: ST_PETERSBURG,
        asn: 64_505,
        org: "Bulletproof Hosting",
    });
    out.push(Network {
        net: SPRAY_NET,
        prefix: 24,
        place: FRANKFURT,
        asn: 64_506,
        org: "Anonymous VPS",
    });
    for (i, (a, b)) in SCANNER_NETS.iter().enumerate() {
        out.push(Network {
            net: ip(*a, *b, 0, 0),
            prefix: 16,
            place: SCANNER_PLACES[i],
            asn: 64_507 + i as u32 % 5,
            org: "Cloud Compute Region",
        });
    }
    out
}

/// Writes both databases into `dir`; `build_epoch` is the run's start (seconds since 1970), so
/// the same configuration gives the same bytes.
pub fn write(dir: &Path, build_epoch: u64) -> io::Result<Vec<(PathBuf, u64)>> {
    let networks = networks();
    let mut city = Writer::new(
        "GeoLite2-City",
        "Ward simulated hospital: places of its sign-in networks",
        build_epoch,
    );
    let mut asn = Writer::new(
        "GeoLite2-ASN",
        "Ward simulated hospital: autonomous systems of its sign-in networks",
        build_epoch,
    );
    let invalid = |e: crate::mmdb::WriteError| io::Error::new(io::ErrorKind::InvalidInput, e);
    for n in &networks {
        let address = IpAddr::V4(Ipv4Addr::from(n.net));
        let p = &n.place;
        let record = CityRecord {
            city: p.city,
            subdivision: Some(p.state),
            country_iso: p.country,
            country_name: country_name(p.country),
            continent: continent(p.country),
            latitude: p.lat,
            longitude: p.lon,
            accuracy_km: if p.country == "US" { 20 } else { 100 },
            time_zone: time_zone(p),
        };
        city.insert(address, n.prefix, &record.value())
            .map_err(invalid)?;
        asn.insert(address, n.prefix, &asn_record(n.asn, n.org))
            .map_err(invalid)?;
    }
    let mut files = Vec::new();
    for (name, writer) in [("geoip.mmdb", &city), ("geoip-asn.mmdb", &asn)] {
        let path = dir.join(name);
        std::fs::write(&path, writer.to_bytes().map_err(invalid)?)?;
        files.push((path, networks.len() as u64));
    }
    Ok(files)
}

/// How many networks each database holds.
pub fn network_count() -> u64 {
    networks().len() as u64
}

/// The value a network of the City database carries, for tests that compare what a reader
/// returns with what was written.
pub fn city_of(address: Ipv4Addr) -> Option<(&'static str, &'static str, f64, f64)> {
    let a = u32::from(address);
    networks()
        .iter()
        .rev()
        .find(|n| {
            let mask = if n.prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(n.prefix))
            };
            a & mask == n.net
        })
        .map(|n| (n.place.city, n.place.country, n.place.lat, n.place.lon))
}
