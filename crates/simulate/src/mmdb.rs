//! A writer of MaxMind DB files (`.mmdb`, format version 2.0), small and complete enough for
//! the simulated hospital's GeoIP and ASN databases and for tests that need a real database to
//! read. It writes what the specification
//! (<https://maxmind.github.io/MaxMind-DB/>) describes: a binary search tree over the bits of
//! an IPv6 address (IPv4 networks sit under `::/96`, where readers look them up) whose
//! records are 24, 28 or 32 bits wide, sixteen zero bytes, the data section in the typed data
//! format, then `\xAB\xCD\xEFMaxMind.com` and the metadata map.
//!
//! Values identical once encoded are stored once and shared by every network that carries
//! them. Nothing here reads a clock: the build time is the caller's.

use std::collections::HashMap;
use std::net::IpAddr;

/// A value of the data section. Maps keep their insertion order.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Double(f64),
    Bytes(Vec<u8>),
    U16(u16),
    U32(u32),
    U64(u64),
    I32(i32),
    Bool(bool),
    Map(Vec<(String, Value)>),
    Array(Vec<Value>),
}

impl Value {
    /// A map from `(key, value)` pairs.
    pub fn map<const N: usize>(pairs: [(&str, Value); N]) -> Value {
        Value::Map(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    pub fn str(text: &str) -> Value {
        Value::Str(text.to_string())
    }
}

/// Why a network could not be inserted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteError {
    /// A prefix longer than the address (`/33` for IPv4).
    Prefix { network: String, prefix: u8 },
    /// More data than the widest record (32 bits) can address.
    TooLarge,
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::Prefix { network, prefix } => {
                write!(
                    f,
                    "{network}/{prefix}: the prefix is longer than the address"
                )
            }
            WriteError::TooLarge => write!(f, "the database is too large for 32-bit records"),
        }
    }
}

impl std::error::Error for WriteError {}

/// One record of a tree node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Record {
    Empty,
    Node(u32),
    /// An offset into the data section.
    Data(u32),
}

/// A MaxMind DB under construction.
#[derive(Debug, Clone)]
pub struct Writer {
    database_type: String,
    description: String,
    languages: Vec<String>,
    build_epoch: u64,
    record_size: Option<u16>,
    /// (address bits, prefix length over 128 bits, data offset)
    networks: Vec<(u128, u8, u32)>,
    data: Vec<u8>,
    stored: HashMap<Vec<u8>, u32>,
}

impl Writer {
    /// `database_type` as readers report it (`GeoLite2-City`, `GeoLite2-ASN`); `build_epoch`
    /// in seconds since 1970.
    pub fn new(database_type: &str, description: &str, build_epoch: u64) -> Writer {
        Writer {
            database_type: database_type.to_string(),
            description: description.to_string(),
            languages: vec!["en".to_string()],
            build_epoch,
            record_size: None,
            networks: Vec::new(),
            data: Vec::new(),
            stored: HashMap::new(),
        }
    }

    /// Forces the record width (24, 28 or 32 bits); by default the narrowest that fits.
    pub fn record_size(mut self, bits: u16) -> Writer {
        self.record_size = Some(bits);
        self
    }

    /// `network/prefix` carries `value`. A more specific network inserted beside a wider one
    /// takes precedence for its addresses, whatever the order of insertion.
    pub fn insert(&mut self, network: IpAddr, prefix: u8, value: &Value) -> Result<(), WriteError> {
        let (bits, len) = match network {
            IpAddr::V4(v4) if prefix <= 32 => (u128::from(u32::from(v4)), 96 + prefix),
            IpAddr::V6(v6) if prefix <= 128 => (u128::from(v6), prefix),
            _ => {
                return Err(WriteError::Prefix {
                    network: network.to_string(),
                    prefix,
                });
            }
        };
        let mask = if len == 0 {
            0
        } else {
            u128::MAX << (128 - u32::from(len))
        };
        let mut encoded = Vec::new();
        encode(value, &mut encoded);
        let offset = match self.stored.get(&encoded) {
            Some(&offset) => offset,
            None => {
                let offset = u32::try_from(self.data.len()).map_err(|_| WriteError::TooLarge)?;
                self.data.extend_from_slice(&encoded);
                self.stored.insert(encoded, offset);
                offset
            }
        };
        self.networks.push((bits & mask, len, offset));
        Ok(())
    }

    /// The database's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, WriteError> {
        // Wider networks first, so that a narrower one splits the node its wider one filled.
        let mut networks = self.networks.clone();
        networks.sort_by_key(|&(bits, len, _)| (len, bits));
        let mut nodes: Vec<[Record; 2]> = vec![[Record::Empty; 2]];
        for (bits, len, offset) in networks {
            if len == 0 {
                // The whole address space: both halves of the root.
                nodes[0] = [Record::Data(offset); 2];
                continue;
            }
            let mut node = 0usize;
            for depth in 0..len {
                let bit = ((bits >> (127 - u32::from(depth))) & 1) as usize;
                if depth + 1 == len {
                    nodes[node][bit] = Record::Data(offset);
                    break;
                }
                node = match nodes[node][bit] {
                    Record::Node(next) => next as usize,
                    inherited => {
                        let next = nodes.len();
                        let fill = match inherited {
                            Record::Data(d) => Record::Data(d),
                            _ => Record::Empty,
                        };
                        nodes.push([fill; 2]);
                        nodes[node][bit] = Record::Node(next as u32);
                        next
                    }
                };
            }
        }
        let node_count = nodes.len() as u64;
        let largest = node_count + 16 + self.data.len() as u64;
        let record_size = match self.record_size {
            Some(bits @ (24 | 28 | 32)) if largest < 1u64 << bits => bits,
            Some(24 | 28 | 32) | None if largest < 1 << 24 => 24,
            Some(28 | 32) | None if largest < 1 << 28 => 28,
            _ if largest < 1 << 32 => 32,
            _ => return Err(WriteError::TooLarge),
        };
        let value = |r: Record| -> u32 {
            match r {
                Record::Empty => node_count as u32,
                Record::Node(n) => n,
                Record::Data(offset) => node_count as u32 + 16 + offset,
            }
        };
        let mut out = Vec::with_capacity(nodes.len() * 8 + 16 + self.data.len() + 512);
        for [left, right] in &nodes {
            let (l, r) = (value(*left), value(*right));
            match record_size {
                24 => {
                    out.extend_from_slice(&l.to_be_bytes()[1..]);
                    out.extend_from_slice(&r.to_be_bytes()[1..]);
                }
                28 => {
                    out.extend_from_slice(&l.to_be_bytes()[1..]);
                    out.push((((l >> 24) & 0x0f) << 4) as u8 | ((r >> 24) & 0x0f) as u8);
                    out.extend_from_slice(&r.to_be_bytes()[1..]);
                }
                _ => {
                    out.extend_from_slice(&l.to_be_bytes());
                    out.extend_from_slice(&r.to_be_bytes());
                }
            }
        }
        out.extend_from_slice(&[0; 16]);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
        let metadata = Value::map([
            ("binary_format_major_version", Value::U16(2)),
            ("binary_format_minor_version", Value::U16(0)),
            ("build_epoch", Value::U64(self.build_epoch)),
            ("database_type", Value::str(&self.database_type)),
            (
                "description",
                Value::map([("en", Value::str(&self.description))]),
            ),
            ("ip_version", Value::U16(6)),
            (
                "languages",
                Value::Array(self.languages.iter().map(|l| Value::str(l)).collect()),
            ),
            ("node_count", Value::U32(node_count as u32)),
            ("record_size", Value::U16(record_size)),
        ]);
        encode(&metadata, &mut out);
        Ok(out)
    }
}

/// Type numbers of the data format.
const STRING: u8 = 2;
const DOUBLE: u8 = 3;
const BYTES: u8 = 4;
const UINT16: u8 = 5;
const UINT32: u8 = 6;
const MAP: u8 = 7;
const INT32: u8 = 8;
const UINT64: u8 = 9;
const ARRAY: u8 = 11;
const BOOLEAN: u8 = 14;

/// The control byte(s) of a value of `kind` and `size`: the type in the top three bits (or,
/// for types above 7, zero there and `kind - 7` in the next byte), the size in the low five
/// bits, extended by one to three bytes past 28.
fn control(kind: u8, size: usize, out: &mut Vec<u8>) {
    let (low, extra): (u8, Vec<u8>) = match size {
        0..=28 => (size as u8, Vec::new()),
        29..=284 => (29, vec![(size - 29) as u8]),
        285..=65_820 => (30, ((size - 285) as u16).to_be_bytes().to_vec()),
        _ => (31, ((size - 65_821) as u32).to_be_bytes()[1..].to_vec()),
    };
    if kind <= 7 {
        out.push((kind << 5) | low);
    } else {
        out.push(low);
        out.push(kind - 7);
    }
    out.extend_from_slice(&extra);
}

/// Big-endian bytes without leading zeros (zero has none).
fn unsigned(value: u64, kind: u8, out: &mut Vec<u8>) {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    control(kind, 8 - skip, out);
    out.extend_from_slice(&bytes[skip..]);
}

fn encode(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Str(s) => {
            control(STRING, s.len(), out);
            out.extend_from_slice(s.as_bytes());
        }
        Value::Double(d) => {
            control(DOUBLE, 8, out);
            out.extend_from_slice(&d.to_be_bytes());
        }
        Value::Bytes(b) => {
            control(BYTES, b.len(), out);
            out.extend_from_slice(b);
        }
        Value::U16(n) => unsigned(u64::from(*n), UINT16, out),
        Value::U32(n) => unsigned(u64::from(*n), UINT32, out),
        Value::U64(n) => unsigned(*n, UINT64, out),
        Value::I32(n) => {
            control(INT32, 4, out);
            out.extend_from_slice(&n.to_be_bytes());
        }
        Value::Bool(b) => control(BOOLEAN, usize::from(*b), out),
        Value::Map(pairs) => {
            control(MAP, pairs.len(), out);
            for (k, v) in pairs {
                control(STRING, k.len(), out);
                out.extend_from_slice(k.as_bytes());
                encode(v, out);
            }
        }
        Value::Array(items) => {
            control(ARRAY, items.len(), out);
            for item in items {
                encode(item, out);
            }
        }
    }
}

/// A GeoIP2/GeoLite2 City record: city, country (ISO code and English name), continent code,
/// coordinates, accuracy radius and time zone, under the keys City databases use.
pub struct CityRecord<'a> {
    pub city: &'a str,
    pub subdivision: Option<&'a str>,
    pub country_iso: &'a str,
    pub country_name: &'a str,
    pub continent: &'a str,
    pub latitude: f64,
    pub longitude: f64,
    pub accuracy_km: u16,
    pub time_zone: &'a str,
}

impl CityRecord<'_> {
    pub fn value(&self) -> Value {
        let names = |name: &str| Value::map([("en", Value::str(name))]);
        let mut record = vec![
            (
                "city".to_string(),
                Value::map([("names", names(self.city))]),
            ),
            (
                "continent".to_string(),
                Value::map([("code", Value::str(self.continent))]),
            ),
            (
                "country".to_string(),
                Value::map([
                    ("iso_code", Value::str(self.country_iso)),
                    ("names", names(self.country_name)),
                ]),
            ),
            (
                "location".to_string(),
                Value::map([
                    ("accuracy_radius", Value::U16(self.accuracy_km)),
                    ("latitude", Value::Double(self.latitude)),
                    ("longitude", Value::Double(self.longitude)),
                    ("time_zone", Value::str(self.time_zone)),
                ]),
            ),
        ];
        if let Some(subdivision) = self.subdivision {
            record.push((
                "subdivisions".to_string(),
                Value::Array(vec![Value::map([("names", names(subdivision))])]),
            ));
        }
        Value::Map(record)
    }
}

/// A GeoLite2-ASN record.
pub fn asn_record(number: u32, organisation: &str) -> Value {
    Value::map([
        ("autonomous_system_number", Value::U32(number)),
        ("autonomous_system_organization", Value::str(organisation)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_past_28_take_extension_bytes() {
        let mut out = Vec::new();
        control(STRING, 28, &mut out);
        assert_eq!(out, [0x5c]);
        out.clear();
        control(STRING, 29, &mut out);
        assert_eq!(out, [0x5d, 0]);
        out.clear();
        control(STRING, 300, &mut out);
        assert_eq!(out, [0x5e, 0, 15]);
        out.clear();
        control(STRING, 70_000, &mut out);
        assert_eq!(out, [0x5f, 0, 0x10, 0x53]);
        out.clear();
        control(ARRAY, 2, &mut out);
        assert_eq!(out, [0x02, 0x04], "extended type: 11 - 7");
        out.clear();
        unsigned(0, UINT32, &mut out);
        assert_eq!(out, [0xc0], "zero has no payload");
    }

    #[test]
    fn identical_values_are_stored_once_and_prefixes_are_checked() {
        let mut w = Writer::new("Test", "test", 0);
        let v = Value::str("same");
        w.insert("10.0.0.0".parse().unwrap(), 8, &v).unwrap();
        w.insert("11.0.0.0".parse().unwrap(), 8, &v).unwrap();
        assert_eq!(w.data.len(), 5);
        assert!(w.insert("10.0.0.0".parse().unwrap(), 33, &v).is_err());
        let bytes = w.to_bytes().unwrap();
        let marker = b"\xAB\xCD\xEFMaxMind.com";
        assert!(bytes.windows(marker.len()).any(|x| x == marker));
    }
}
