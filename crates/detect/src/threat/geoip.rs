//! GeoIP and ASN lookups from MaxMind DB files the user supplies (GeoLite2-City or GeoIP2-City,
//! and optionally GeoLite2-ASN or GeoIP2-ISP; DB-IP's City and ASN files work too), read with
//! the `maxminddb` crate. The credential detector asks for the place and network of a public
//! source address when a sign-in does not say where it came from itself (sshd, Windows, VPN
//! logs), so impossible travel and new countries are seen there as well.
//!
//! The databases arrive as bytes: reading the files is the binary's job, this module never
//! touches one. A database that does not parse, or is not of the kind asked for, is refused
//! when it is loaded, never at a lookup. Lookups go through a [`GeoCache`] per detector,
//! bounded, so that a busy stream asks the database once per address it sees often.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use maxminddb::{Reader, geoip2};

/// What a database knows of one address.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Located {
    /// ISO 3166-1 alpha-2 country code.
    pub country: Option<String>,
    /// The city's English name.
    pub city: Option<String>,
    /// Latitude and longitude, degrees.
    pub coordinates: Option<(f64, f64)>,
    /// Autonomous system number and its organisation, from the ASN database.
    pub asn: Option<(u32, String)>,
}

impl Located {
    fn is_empty(&self) -> bool {
        self == &Located::default()
    }
}

/// Why a database was refused.
#[derive(Debug, thiserror::Error)]
pub enum GeoIpError {
    #[error("not a readable MaxMind DB file ({0})")]
    Unreadable(String),
    #[error(
        "a {found} database, where {expected} database was expected (database_type in its metadata)"
    )]
    WrongKind {
        found: String,
        expected: &'static str,
    },
}

/// The databases the user gave: a City database and, optionally, an ASN database.
pub struct GeoIp {
    city: Option<Reader<Vec<u8>>>,
    asn: Option<Reader<Vec<u8>>>,
}

impl std::fmt::Debug for GeoIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = |r: &Option<Reader<Vec<u8>>>| {
            r.as_ref()
                .map(|r| r.metadata().database_type.clone())
                .unwrap_or_default()
        };
        f.debug_struct("GeoIp")
            .field("city", &kind(&self.city))
            .field("asn", &kind(&self.asn))
            .finish()
    }
}

/// An address every database of a kind holds data for, looked up once at load so that a
/// corrupt search tree is found then rather than on the stream.
const PROBE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(8, 8, 8, 8));

fn open(
    bytes: Vec<u8>,
    kinds: &[&str],
    expected: &'static str,
) -> Result<Reader<Vec<u8>>, GeoIpError> {
    let reader = Reader::from_source(bytes).map_err(|e| GeoIpError::Unreadable(e.to_string()))?;
    let found = reader.metadata().database_type.clone();
    let upper = found.to_ascii_uppercase();
    if !kinds.iter().any(|k| upper.contains(k)) {
        return Err(GeoIpError::WrongKind { found, expected });
    }
    let probe = reader
        .lookup(PROBE)
        .map_err(|e| GeoIpError::Unreadable(e.to_string()))?;
    probe
        .decode::<serde::de::IgnoredAny>()
        .map_err(|e| GeoIpError::Unreadable(e.to_string()))?;
    Ok(reader)
}

impl GeoIp {
    /// A City database (`GeoLite2-City.mmdb`): country, city and coordinates.
    pub fn city(bytes: Vec<u8>) -> Result<GeoIp, GeoIpError> {
        Ok(GeoIp {
            city: Some(open(bytes, &["CITY"], "a City")?),
            asn: None,
        })
    }

    /// Adds an ASN (or ISP) database (`GeoLite2-ASN.mmdb`): the network's number and owner.
    pub fn with_asn(mut self, bytes: Vec<u8>) -> Result<GeoIp, GeoIpError> {
        self.asn = Some(open(bytes, &["ASN", "ISP"], "an ASN or ISP")?);
        Ok(self)
    }

    /// Whether an ASN database was given.
    pub fn has_asn(&self) -> bool {
        self.asn.is_some()
    }

    /// What the databases hold for `ip`; `Ok(None)` when neither knows it. An error is a
    /// record the database holds but that does not decode.
    pub fn lookup(&self, ip: IpAddr) -> Result<Option<Located>, maxminddb::MaxMindDbError> {
        let ip = ip.to_canonical();
        let mut located = Located::default();
        if let Some(reader) = &self.city
            && let Some(city) = reader.lookup(ip)?.decode::<geoip2::City>()?
        {
            located.country = city.country.iso_code.map(str::to_string);
            located.city = city.city.names.english.map(str::to_string);
            located.coordinates = match (city.location.latitude, city.location.longitude) {
                (Some(lat), Some(lon))
                    if lat.is_finite()
                        && lon.is_finite()
                        && lat.abs() <= 90.0
                        && lon.abs() <= 180.0 =>
                {
                    Some((lat, lon))
                }
                _ => None,
            };
        }
        if let Some(reader) = &self.asn
            && let Some(asn) = reader.lookup(ip)?.decode::<geoip2::Asn>()?
            && let Some(number) = asn.autonomous_system_number
        {
            located.asn = Some((
                number,
                asn.autonomous_system_organization
                    .unwrap_or_default()
                    .to_string(),
            ));
        }
        Ok((!located.is_empty()).then_some(located))
    }
}

/// Whether `ip` is routed on the internet, as far as a GeoIP database could know it: not
/// private, loopback, link-local, carrier-grade NAT, multicast or unspecified. (The
/// documentation ranges count as public: real databases hold nothing for them, the simulated
/// hospital's database does.)
pub fn is_public(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_unspecified()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// A bounded cache of lookups per address, for one detector. It keeps two generations: new
/// answers go into the current one, and when that holds half the capacity the older one is
/// dropped (its entries counted as evicted) and the current one becomes the older; an address
/// found in the older generation moves back into the current one. So the addresses a stream
/// sees often stay cached, and the cache never holds more than its capacity.
#[derive(Debug)]
pub struct GeoCache {
    geoip: Arc<GeoIp>,
    current: HashMap<IpAddr, Option<Arc<Located>>>,
    previous: HashMap<IpAddr, Option<Arc<Located>>>,
    half: usize,
    pub hits: u64,
    pub misses: u64,
    pub evicted: u64,
    /// Records the database holds but that did not decode (treated as unknown).
    pub errors: u64,
}

impl GeoCache {
    pub fn new(geoip: Arc<GeoIp>, capacity: usize) -> GeoCache {
        GeoCache {
            geoip,
            current: HashMap::new(),
            previous: HashMap::new(),
            half: (capacity / 2).max(1),
            hits: 0,
            misses: 0,
            evicted: 0,
            errors: 0,
        }
    }

    /// What the databases say of `ip`, from the cache when it was asked recently.
    pub fn get(&mut self, ip: IpAddr) -> Option<Arc<Located>> {
        if let Some(found) = self.current.get(&ip) {
            self.hits += 1;
            return found.clone();
        }
        let found = match self.previous.remove(&ip) {
            Some(found) => {
                self.hits += 1;
                found
            }
            None => {
                self.misses += 1;
                match self.geoip.lookup(ip) {
                    Ok(found) => found.map(Arc::new),
                    Err(_) => {
                        self.errors += 1;
                        None
                    }
                }
            }
        };
        if self.current.len() >= self.half {
            self.evicted += self.previous.len() as u64;
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(ip, found.clone());
        found
    }

    /// Addresses held now.
    pub fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most addresses held at once.
    pub fn capacity(&self) -> usize {
        self.half * 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_simulate::mmdb::{CityRecord, Writer, asn_record};

    fn city_db(record_size: u16) -> Vec<u8> {
        let mut w = Writer::new("GeoLite2-City", "test", 1_794_096_000).record_size(record_size);
        let moscow = CityRecord {
            city: "Moscow",
            subdivision: Some("Moscow"),
            country_iso: "RU",
            country_name: "Russia",
            continent: "EU",
            latitude: 55.7522,
            longitude: 37.6156,
            accuracy_km: 100,
            time_zone: "Europe/Moscow",
        };
        let home = CityRecord {
            city: "Millbrook",
            subdivision: None,
            country_iso: "US",
            country_name: "United States",
            continent: "NA",
            latitude: 41.7851,
            longitude: -73.694,
            accuracy_km: 20,
            time_zone: "America/New_York",
        };
        // The narrower network first: insertion order must not matter.
        w.insert("91.219.237.0".parse().unwrap(), 24, &home.value())
            .unwrap();
        w.insert("91.219.236.0".parse().unwrap(), 22, &moscow.value())
            .unwrap();
        w.insert("73.12.0.0".parse().unwrap(), 16, &home.value())
            .unwrap();
        w.insert("2001:db8:aa::".parse().unwrap(), 48, &moscow.value())
            .unwrap();
        w.to_bytes().unwrap()
    }

    #[test]
    fn maxminddb_reads_what_the_writer_wrote_with_24_28_and_32_bit_records() {
        for size in [24, 28, 32] {
            let bytes = city_db(size);
            let reader = Reader::from_source(bytes.clone()).unwrap();
            assert_eq!(reader.metadata().record_size, size);
            assert_eq!(reader.metadata().database_type, "GeoLite2-City");
            reader.verify().unwrap();
            let city = |ip: &str| {
                reader
                    .lookup(ip.parse().unwrap())
                    .unwrap()
                    .decode::<geoip2::City>()
                    .unwrap()
                    .map(|c| {
                        (
                            c.city.names.english.unwrap().to_string(),
                            c.country.iso_code.unwrap().to_string(),
                            c.location.latitude.unwrap(),
                            c.location.time_zone.unwrap().to_string(),
                        )
                    })
            };
            let moscow = Some((
                "Moscow".into(),
                "RU".into(),
                55.7522,
                "Europe/Moscow".into(),
            ));
            let home = Some((
                "Millbrook".into(),
                "US".into(),
                41.7851,
                "America/New_York".into(),
            ));
            assert_eq!(city("91.219.236.40"), moscow);
            assert_eq!(city("91.219.239.255"), moscow);
            assert_eq!(city("91.219.237.9"), home, "the narrower network wins");
            assert_eq!(city("73.12.200.7"), home);
            assert_eq!(city("2001:db8:aa:1::5"), moscow);
            assert_eq!(city("91.219.240.1"), None);
            assert_eq!(city("8.8.8.8"), None);
            // The /24 inside the /22 splits it: the reader reports the parts.
            let network = |ip: &str| {
                reader
                    .lookup(ip.parse().unwrap())
                    .unwrap()
                    .network()
                    .unwrap()
                    .to_string()
            };
            assert_eq!(network("91.219.238.1"), "91.219.238.0/23");
            assert_eq!(network("91.219.236.1"), "91.219.236.0/24");
            assert_eq!(network("91.219.237.1"), "91.219.237.0/24");
            let geo = GeoIp::city(bytes).unwrap();
            let found = geo
                .lookup("91.219.236.40".parse().unwrap())
                .unwrap()
                .unwrap();
            assert_eq!(found.country.as_deref(), Some("RU"));
            assert_eq!(found.coordinates, Some((55.7522, 37.6156)));
            assert_eq!(found.asn, None);
        }
    }

    #[test]
    fn asn_database_adds_the_network_and_kinds_are_checked() {
        let mut w = Writer::new("GeoLite2-ASN", "test", 0);
        w.insert(
            "91.219.236.0".parse().unwrap(),
            22,
            &asn_record(64_501, "Rented Virtual Servers"),
        )
        .unwrap();
        let asn = w.to_bytes().unwrap();
        let geo = GeoIp::city(city_db(24))
            .unwrap()
            .with_asn(asn.clone())
            .unwrap();
        assert!(geo.has_asn());
        let found = geo
            .lookup("91.219.236.40".parse().unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(found.asn, Some((64_501, "Rented Virtual Servers".into())));
        assert_eq!(found.city.as_deref(), Some("Moscow"));
        assert!(matches!(
            GeoIp::city(asn),
            Err(GeoIpError::WrongKind { .. })
        ));
        assert!(matches!(
            GeoIp::city(city_db(24)).unwrap().with_asn(city_db(24)),
            Err(GeoIpError::WrongKind { .. })
        ));
    }

    #[test]
    fn malformed_databases_are_refused_without_panic() {
        let good = city_db(28);
        assert!(matches!(
            GeoIp::city(Vec::new()),
            Err(GeoIpError::Unreadable(_))
        ));
        assert!(matches!(
            GeoIp::city(b"not a database at all".to_vec()),
            Err(GeoIpError::Unreadable(_))
        ));
        // Every truncation and every single-byte corruption either loads or is refused.
        for cut in 0..good.len() {
            let _ = GeoIp::city(good[..cut].to_vec());
        }
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0xff;
            if let Ok(geo) = GeoIp::city(bad) {
                for ip in ["91.219.236.40", "73.12.1.1", "2001:db8:aa::1", "1.2.3.4"] {
                    let _ = geo.lookup(ip.parse().unwrap());
                }
            }
        }
    }

    #[test]
    fn cache_is_bounded_counts_evictions_and_keeps_frequent_addresses() {
        let geo = Arc::new(GeoIp::city(city_db(24)).unwrap());
        let mut cache = GeoCache::new(geo, 100);
        let hot: IpAddr = "91.219.236.40".parse().unwrap();
        for i in 0..10_000u32 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x4900_0000 + i));
            cache.get(ip);
            assert!(cache.get(hot).is_some());
            assert!(cache.len() <= cache.capacity());
        }
        assert_eq!(cache.capacity(), 100);
        assert_eq!(cache.misses, 10_001, "the hot address was looked up once");
        assert_eq!(cache.hits, 9_999);
        assert_eq!(
            cache.evicted + cache.len() as u64,
            10_001,
            "every address cached is held or counted as evicted"
        );
    }

    #[test]
    fn the_simulated_hospitals_databases_read_back_as_the_simulator_wrote_them() {
        let dir = tempfile::tempdir().unwrap();
        ward_simulate::geoip::write(dir.path(), 0).unwrap();
        let read = |name: &str| std::fs::read(dir.path().join(name)).unwrap();
        let geo = GeoIp::city(read("geoip.mmdb"))
            .unwrap()
            .with_asn(read("geoip-asn.mmdb"))
            .unwrap();
        // Home broadband, the egress, a vendor's /24 and the one address inside it of
        // another vendor, a foreign /22's far end, brute force, spraying, a scanner.
        for text in [
            "73.12.4.9",
            "203.0.113.10",
            "198.51.100.24",
            "198.51.100.77",
            "185.107.59.250",
            "91.240.118.77",
            "194.165.16.10",
            "222.186.3.4",
        ] {
            let std::net::IpAddr::V4(v4) = text.parse().unwrap() else {
                unreachable!()
            };
            let (city, country, lat, lon) = ward_simulate::geoip::city_of(v4).unwrap();
            let found = geo.lookup(IpAddr::V4(v4)).unwrap().unwrap();
            assert_eq!(found.city.as_deref(), Some(city), "{text}");
            assert_eq!(found.country.as_deref(), Some(country), "{text}");
            assert_eq!(found.coordinates, Some((lat, lon)), "{text}");
            assert!(
                found
                    .asn
                    .is_some_and(|(n, _)| (64_496..=64_511).contains(&n))
            );
        }
        assert_eq!(geo.lookup("8.8.8.8".parse().unwrap()).unwrap(), None);
        assert_eq!(
            ward_simulate::geoip::city_of("8.8.8.8".parse().unwrap()),
            None
        );
    }

    #[test]
    fn public_addresses() {
        for ip in [
            "73.12.1.1",
            "203.0.113.10",
            "2001:4860::8888",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "10.1.1.1",
            "172.16.3.3",
            "192.168.0.1",
            "127.0.0.1",
            "100.64.0.1",
            "169.254.1.1",
            "0.0.0.0",
            "224.0.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
    }
}
