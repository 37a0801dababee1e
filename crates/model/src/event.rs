//! The normalised event: one shape for every source, after the OCSF base event and its
//! classes (Authentication 3002, Network Activity 4001, Email Activity 4009, API Activity
//! 6003 …), with the fields healthcare adds (the patient whose data was touched, the resource,
//! the purpose of use). The original record travels with it, and whatever did not map is kept
//! in `unmapped`, so nothing a source said is lost.
//!
//! The field paths rules use are listed, with their meaning, in [`crate::fields::FIELDS`].

use crate::time::Timestamp;
use crate::unmapped::Unmapped;
use serde::{Deserialize, Serialize};
use std::fmt;

/// OCSF class identifiers Ward produces. `class_uid = category_uid * 1000 + n`.
pub mod class {
    pub const FILE_ACTIVITY: u32 = 1001;
    pub const PROCESS_ACTIVITY: u32 = 1007;
    pub const DETECTION_FINDING: u32 = 2004;
    pub const ACCOUNT_CHANGE: u32 = 3001;
    pub const AUTHENTICATION: u32 = 3002;
    pub const AUTHORIZE_SESSION: u32 = 3003;
    pub const USER_ACCESS_MANAGEMENT: u32 = 3005;
    pub const NETWORK_ACTIVITY: u32 = 4001;
    pub const HTTP_ACTIVITY: u32 = 4002;
    pub const DNS_ACTIVITY: u32 = 4003;
    pub const EMAIL_ACTIVITY: u32 = 4009;
    pub const API_ACTIVITY: u32 = 6003;
    pub const DATASTORE_ACTIVITY: u32 = 6005;
    /// OCSF "Base Event": a record whose class could not be determined.
    pub const BASE_EVENT: u32 = 0;

    /// The OCSF class name, for display.
    pub fn name(class_uid: u32) -> &'static str {
        match class_uid {
            FILE_ACTIVITY => "File System Activity",
            PROCESS_ACTIVITY => "Process Activity",
            DETECTION_FINDING => "Detection Finding",
            ACCOUNT_CHANGE => "Account Change",
            AUTHENTICATION => "Authentication",
            AUTHORIZE_SESSION => "Authorize Session",
            USER_ACCESS_MANAGEMENT => "User Access Management",
            NETWORK_ACTIVITY => "Network Activity",
            HTTP_ACTIVITY => "HTTP Activity",
            DNS_ACTIVITY => "DNS Activity",
            EMAIL_ACTIVITY => "Email Activity",
            API_ACTIVITY => "API Activity",
            DATASTORE_ACTIVITY => "Datastore Activity",
            _ => "Base Event",
        }
    }
}

/// OCSF API Activity `activity_id` values (also used for FHIR REST audit).
pub mod api_activity {
    pub const CREATE: u8 = 1;
    pub const READ: u8 = 2;
    pub const UPDATE: u8 = 3;
    pub const DELETE: u8 = 4;
    pub const OTHER: u8 = 99;
}

/// OCSF Authentication `activity_id` values.
pub mod auth_activity {
    pub const LOGON: u8 = 1;
    pub const LOGOFF: u8 = 2;
}

/// An event's identity: the event's time (8 bytes, big-endian, order-preserving) followed by
/// the first 8 bytes of SHA-256 over the decoder name, a zero byte and the record's bytes.
///
/// Re-ingesting the same record yields the same id, which is how the store refuses
/// duplicates. The time prefix makes ids sort by time, so the store's unique index on them
/// grows at its end instead of at random places (at ingest rates, random inserts into a large
/// index cost a page write per event). The hash is cryptographic because a colliding record
/// planted by an attacker would make the store drop a real event as a duplicate: within one
/// millisecond, a second record with the same 64-bit prefix costs about 2^64 hashes to find.
/// SHA-256 rather than BLAKE3 because with the SHA extensions of current x86 and ARM cores it
/// is the faster of the two on records of one or two kilobytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EventId(pub [u8; 16]);

impl EventId {
    pub fn of_record(product: &str, time: Timestamp, raw: &[u8]) -> Self {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(product.as_bytes());
        h.update([0]);
        h.update(raw);
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&((time.0 as u64) ^ (1 << 63)).to_be_bytes());
        id[8..].copy_from_slice(&h.finalize()[..8]);
        EventId(id)
    }

    /// The event time the id carries.
    pub fn time(&self) -> Timestamp {
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(&self.0[..8]);
        Timestamp((u64::from_be_bytes(prefix) ^ (1 << 63)) as i64)
    }

    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(32);
        for b in self.0 {
            s.push(char::from_digit((b >> 4) as u32, 16).unwrap_or('0'));
            s.push(char::from_digit((b & 15) as u32, 16).unwrap_or('0'));
        }
        s
    }

    pub fn from_hex(text: &str) -> Option<Self> {
        if text.len() != 32 || !text.is_ascii() {
            return None;
        }
        let mut id = [0u8; 16];
        for (i, byte) in id.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(EventId(id))
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({})", self.to_hex())
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for EventId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        EventId::from_hex(&text)
            .ok_or_else(|| serde::de::Error::custom("event id must be 32 hex digits"))
    }
}

/// OCSF `severity_id`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    #[default]
    Unknown,
    Informational,
    Low,
    Medium,
    High,
    Critical,
    Fatal,
    Other,
}

impl Severity {
    pub fn id(self) -> u8 {
        match self {
            Severity::Unknown => 0,
            Severity::Informational => 1,
            Severity::Low => 2,
            Severity::Medium => 3,
            Severity::High => 4,
            Severity::Critical => 5,
            Severity::Fatal => 6,
            Severity::Other => 99,
        }
    }

    pub fn from_id(id: u8) -> Self {
        match id {
            1 => Severity::Informational,
            2 => Severity::Low,
            3 => Severity::Medium,
            4 => Severity::High,
            5 => Severity::Critical,
            6 => Severity::Fatal,
            99 => Severity::Other,
            _ => Severity::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "unknown",
            Severity::Informational => "informational",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
            Severity::Fatal => "fatal",
            Severity::Other => "other",
        }
    }

    /// Sigma's `level` names map onto OCSF severities.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.to_ascii_lowercase().as_str() {
            "unknown" => Severity::Unknown,
            "informational" | "info" => Severity::Informational,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            "fatal" => Severity::Fatal,
            "other" => Severity::Other,
            _ => return None,
        })
    }
}

/// OCSF `status_id`: whether the activity succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Unknown,
    Success,
    Failure,
    Other,
}

impl Status {
    pub fn id(self) -> u8 {
        match self {
            Status::Unknown => 0,
            Status::Success => 1,
            Status::Failure => 2,
            Status::Other => 99,
        }
    }

    pub fn from_id(id: u8) -> Self {
        match id {
            1 => Status::Success,
            2 => Status::Failure,
            99 => Status::Other,
            _ => Status::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unknown => "unknown",
            Status::Success => "success",
            Status::Failure => "failure",
            Status::Other => "other",
        }
    }
}

/// OCSF `user` object.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct User {
    /// The account name as the source knows it (login name, FHIR agent identifier).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A stable identifier (SID, FHIR `Practitioner/…` reference, directory object id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// The person's display name. PHI-adjacent: later issues encrypt it at rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Role or type of the account as the source states it (e.g. a FHIR agent role).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

impl User {
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.uid.is_none() && self.full_name.is_none()
    }
}

/// OCSF `actor`: who performed the activity.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Actor {
    #[serde(default, skip_serializing_if = "User::is_empty")]
    pub user: User,
    /// The application acting on the user's behalf (OCSF `actor.app_name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_name: Option<String>,
}

/// OCSF network endpoint (`src_endpoint`, `dst_endpoint`, `device`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Endpoint {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

impl Endpoint {
    pub fn is_empty(&self) -> bool {
        self.ip.is_none() && self.hostname.is_none() && self.port.is_none()
    }

    /// Files an address the source did not type: an IP literal goes to `ip`, anything else to
    /// `hostname`.
    pub fn from_address(address: &str) -> Self {
        let address = address.trim();
        let bare = address.trim_start_matches('[').trim_end_matches(']');
        if bare.parse::<std::net::IpAddr>().is_ok() {
            Endpoint {
                ip: Some(bare.to_string()),
                ..Default::default()
            }
        } else {
            Endpoint {
                hostname: Some(address.to_string()),
                ..Default::default()
            }
        }
    }
}

/// OCSF `email` object.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Email {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_uid: Option<String>,
}

impl Email {
    pub fn is_empty(&self) -> bool {
        self.from.is_none()
            && self.to.is_empty()
            && self.subject.is_none()
            && self.message_uid.is_none()
    }
}

/// The patient whose data the activity touched (a Ward extension to OCSF). PHI.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Patient {
    /// The patient's identifier as the source gives it: a FHIR logical id or an MRN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Patient {
    pub fn is_empty(&self) -> bool {
        self.id.is_none() && self.name.is_none()
    }
}

/// The clinical or system resource acted upon (a Ward extension to OCSF).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Resource {
    /// FHIR resource type or the source's object kind (`Patient`, `Observation`, `DocumentReference`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// A search or query as the source recorded it (decoded from base64 where needed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

impl Resource {
    pub fn is_empty(&self) -> bool {
        self.r#type.is_none() && self.id.is_none() && self.query.is_none()
    }
}

/// Where the event came from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Metadata {
    /// The decoder that produced the event (`fhir`, `jsonl`, …); OCSF `metadata.product.name`.
    pub product: String,
    /// The source it was read from: a file path, `-`, or a listener name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log_name: String,
    /// The record's own identifier in its source, when it has one (FHIR `AuditEvent.id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// The source's own event code (DICOM `110122`, Windows `4624`, FHIR `read`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_code: Option<String>,
}

/// One normalised event.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    /// When the activity happened, as the source says.
    pub time: Timestamp,
    pub class_uid: u32,
    pub activity_id: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_name: Option<String>,
    #[serde(default)]
    pub severity: Severity,
    #[serde(default)]
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub metadata: Metadata,
    #[serde(default)]
    pub actor: Actor,
    #[serde(default, skip_serializing_if = "Endpoint::is_empty")]
    pub src_endpoint: Endpoint,
    #[serde(default, skip_serializing_if = "Endpoint::is_empty")]
    pub dst_endpoint: Endpoint,
    /// The host on which the event was observed or recorded (the audit source, the Windows host).
    #[serde(default, skip_serializing_if = "Endpoint::is_empty")]
    pub device: Endpoint,
    #[serde(default, skip_serializing_if = "Email::is_empty")]
    pub email: Email,
    #[serde(default, skip_serializing_if = "Patient::is_empty")]
    pub patient: Patient,
    #[serde(default, skip_serializing_if = "Resource::is_empty")]
    pub resource: Resource,
    /// Purpose of use codes (v3 ActReason: `TREAT`, `ETREAT`, `HPAYMT` …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub purpose_of_use: Vec<String>,
    /// Source fields that have no place in the model, by their source path.
    #[serde(default, skip_serializing_if = "Unmapped::is_empty")]
    pub unmapped: Unmapped,
    /// The original record, byte for byte (for JSON sources inside a Bundle: the entry's resource).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        with = "crate::quarantine::bytes_lossless"
    )]
    pub raw: Vec<u8>,
}

impl Event {
    /// A new event from `product` at `time`, with the id computed from both and `raw`.
    pub fn from_record(product: &str, time: Timestamp, raw: Vec<u8>) -> Self {
        Event {
            id: EventId::of_record(product, time, &raw),
            time,
            metadata: Metadata {
                product: product.to_string(),
                ..Default::default()
            },
            raw,
            ..Default::default()
        }
    }

    /// Writes the event as JSON without its raw record, for stores that keep the raw bytes
    /// beside the JSON rather than escaped inside it. Reading it back as an [`Event`] gives
    /// every field but `raw`.
    pub fn write_json_without_raw(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        serde_json::to_writer(out, &WithoutRaw(self))
    }

    pub fn category_uid(&self) -> u32 {
        self.class_uid / 1000
    }

    /// OCSF `type_uid = class_uid * 100 + activity_id`.
    pub fn type_uid(&self) -> u64 {
        self.class_uid as u64 * 100 + self.activity_id as u64
    }

    pub fn class_name(&self) -> &'static str {
        class::name(self.class_uid)
    }
}

/// The serialisation of [`Event`] minus `raw`: the same field names and rules, so what it
/// writes reads back with `Event`'s own `Deserialize`. A test checks every field survives.
struct WithoutRaw<'a>(&'a Event);

impl Serialize for WithoutRaw<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let e = self.0;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("id", &e.id)?;
        map.serialize_entry("time", &e.time)?;
        map.serialize_entry("class_uid", &e.class_uid)?;
        map.serialize_entry("activity_id", &e.activity_id)?;
        if let Some(v) = &e.activity_name {
            map.serialize_entry("activity_name", v)?;
        }
        map.serialize_entry("severity", &e.severity)?;
        map.serialize_entry("status", &e.status)?;
        if let Some(v) = &e.status_detail {
            map.serialize_entry("status_detail", v)?;
        }
        if let Some(v) = &e.message {
            map.serialize_entry("message", v)?;
        }
        map.serialize_entry("metadata", &e.metadata)?;
        map.serialize_entry("actor", &e.actor)?;
        if !e.src_endpoint.is_empty() {
            map.serialize_entry("src_endpoint", &e.src_endpoint)?;
        }
        if !e.dst_endpoint.is_empty() {
            map.serialize_entry("dst_endpoint", &e.dst_endpoint)?;
        }
        if !e.device.is_empty() {
            map.serialize_entry("device", &e.device)?;
        }
        if !e.email.is_empty() {
            map.serialize_entry("email", &e.email)?;
        }
        if !e.patient.is_empty() {
            map.serialize_entry("patient", &e.patient)?;
        }
        if !e.resource.is_empty() {
            map.serialize_entry("resource", &e.resource)?;
        }
        if !e.purpose_of_use.is_empty() {
            map.serialize_entry("purpose_of_use", &e.purpose_of_use)?;
        }
        if !e.unmapped.is_empty() {
            map.serialize_entry("unmapped", &e.unmapped)?;
        }
        map.end()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An event with every field set, for tests that must cover them all.
    pub(crate) fn full_event() -> Event {
        let json = serde_json::json!({
            "id": "000102030405060708090a0b0c0d0e0f", "time": "2024-01-01T00:00:00Z",
            "class_uid": 6003, "activity_id": 2, "activity_name": "read", "severity": "low",
            "status": "success", "status_detail": "0", "message": "m",
            "metadata": {"product": "fhir", "log_name": "f", "uid": "u", "event_code": "read"},
            "actor": {"user": {"name": "n", "uid": "u", "full_name": "f", "domain": "d", "role": "r"}, "app_name": "a"},
            "src_endpoint": {"ip": "10.0.0.1", "hostname": "h", "port": 1},
            "dst_endpoint": {"ip": "10.0.0.2", "hostname": "h", "port": 2},
            "device": {"ip": "10.0.0.3", "hostname": "h"},
            "email": {"from": "a@b", "to": ["c@d"], "subject": "s", "message_uid": "m"},
            "patient": {"id": "p", "name": "n"},
            "resource": {"type": "Patient", "id": "p", "query": "q"},
            "purpose_of_use": ["TREAT"], "unmapped": {"x": [1, 2]}, "raw": "{}"
        });
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn json_without_raw_keeps_every_other_field() {
        let full = full_event();
        let mut out = Vec::new();
        full.write_json_without_raw(&mut out).unwrap();
        let mut back: Event = serde_json::from_slice(&out).unwrap();
        assert!(back.raw.is_empty());
        back.raw = full.raw.clone();
        assert_eq!(back, full);
        let mut plain = serde_json::to_value(&full).unwrap();
        plain.as_object_mut().unwrap().remove("raw");
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&out).unwrap(),
            plain,
            "same shape as Event's own JSON"
        );
    }

    #[test]
    fn id_is_stable_and_depends_on_product_and_bytes() {
        let t = Timestamp(1_700_000_000_000);
        let a = EventId::of_record("fhir", t, b"{}");
        assert_eq!(a, EventId::of_record("fhir", t, b"{}"));
        assert_ne!(a, EventId::of_record("jsonl", t, b"{}"));
        assert_ne!(a, EventId::of_record("fhir", t, b"{ }"));
        assert_ne!(a, EventId::of_record("fhir", Timestamp(t.0 + 1), b"{}"));
        assert_eq!(EventId::from_hex(&a.to_hex()), Some(a));
        assert_eq!(a.time(), t);
    }

    #[test]
    fn ids_sort_by_time_including_before_1970() {
        let times = [-86_400_000, -1, 0, 1, 1_700_000_000_000];
        let ids: Vec<EventId> = times
            .iter()
            .map(|&t| EventId::of_record("x", Timestamp(t), b"z"))
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert_eq!(ids[0].time(), Timestamp(-86_400_000));
    }

    #[test]
    fn event_round_trips_through_json_including_binary_raw() {
        let mut e = Event::from_record("jsonl", Timestamp(5), vec![0xff, 0x00, b'a']);
        e.patient.id = Some("p1".into());
        e.unmapped.insert("x", serde_json::json!(1));
        let back: Event = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn type_uid_follows_ocsf_arithmetic() {
        let e = Event {
            class_uid: class::API_ACTIVITY,
            activity_id: api_activity::READ,
            ..Default::default()
        };
        assert_eq!(e.type_uid(), 600_302);
        assert_eq!(e.category_uid(), 6);
    }

    #[test]
    fn addresses_are_filed_as_ip_or_hostname() {
        assert_eq!(
            Endpoint::from_address("10.0.0.1").ip.as_deref(),
            Some("10.0.0.1")
        );
        assert_eq!(Endpoint::from_address("[::1]").ip.as_deref(), Some("::1"));
        assert_eq!(
            Endpoint::from_address("ws1.example").hostname.as_deref(),
            Some("ws1.example")
        );
    }
}
