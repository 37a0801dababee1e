//! Generic JSON lines: one JSON object a line, from any application that logs JSON, mapped onto
//! the event model by a documented default (the table in `docs/formats.md`): keys that are
//! documented field paths (`actor.user.name`, or the same nested as objects) map directly,
//! common aliases (`user`, `src_ip`, `@timestamp` …) map to their field, and everything else is
//! kept under `unmapped` by its dotted path.
//!
//! A record without a usable time is refused rather than stamped with the time of ingest:
//! detections and investigations depend on when things happened. This decoder never panics,
//! and bounds how far it flattens nesting so a hostile line cannot multiply its own size.

use crate::json;
use crate::{DecodeError, Decoded, Decoder, Framing, Sniff};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;
use ward_model::event::{api_activity, auth_activity, class};
use ward_model::{Event, EventId, Severity, Status, Timestamp, Unmapped};

const PRODUCT: &str = "jsonl";

/// Keys that may carry the event's time, in order of preference.
const TIME_KEYS: [&str; 4] = ["time", "timestamp", "@timestamp", "ts"];

/// Nested objects are flattened to dotted paths down to this depth and while the path stays
/// this short; deeper or longer, the subtree is kept whole under its path. Flattening copies
/// each ancestor key into every leaf's path, so unbounded flattening could turn a small line
/// with long keys into a large allocation.
const MAX_FLATTEN_DEPTH: usize = 8;
const MAX_FLATTEN_PATH: usize = 128;

/// The generic JSON-lines decoder.
pub struct JsonLines;

impl Decoder for JsonLines {
    fn name(&self) -> &'static str {
        PRODUCT
    }

    fn description(&self) -> &'static str {
        "JSON lines: one JSON object a line, mapped by field paths and common aliases"
    }

    fn framing(&self) -> Framing {
        Framing::Lines
    }

    fn sniff(&self, record: &[u8]) -> Sniff {
        match json::body(record).first() {
            Some(b'{') => Sniff::Maybe,
            _ => Sniff::No,
        }
    }

    fn decode(&self, record: &[u8], out: &mut Vec<Decoded>) {
        let body = json::body(record);
        match body.first() {
            Some(b'{') => out.push(decode_object(body, record).map_err(DecodeError::record)),
            Some(b'[') => out.push(Err(DecodeError::record(
                "a JSON array, not an object: expected one JSON object a line",
            ))),
            _ => out.push(Err(DecodeError::record(json::not_a_container(
                body,
                "one JSON object a line",
            )))),
        }
    }
}

fn decode_object(body: &[u8], raw: &[u8]) -> Result<Event, String> {
    let object = json::object_or_reason(
        body,
        "one JSON object a line",
        |body| json::parse::<Members<'_>>(body).map(|members| members.0),
        |object| {
            object
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k), v))
                .collect()
        },
    )?;
    let mut leaves = Vec::with_capacity(object.len() + 4);
    flatten(Cow::Borrowed(""), object, 0, &mut leaves);

    // The id needs the time, which is only known once every field is read: it is set below,
    // once (`Event::from_record` would hash the record for a time that is not yet known).
    let mut event = Event {
        raw: raw.to_vec(),
        ..Event::default()
    };
    event.metadata.product = PRODUCT.to_string();
    event.unmapped = Unmapped::with_capacity(leaves.len());
    let mut times: Vec<(Cow<'_, str>, Value)> = Vec::new();
    let mut aliased = Vec::new();
    let mut class_given = false;
    // Documented paths first, so that they win over an alias naming the same field.
    for (path, value) in leaves {
        if TIME_KEYS.contains(&&*path) {
            times.push((path, value));
            continue;
        }
        let is_class = path == "class_uid";
        match set_field(&mut event, &path, value) {
            Some(value) => aliased.push((path, value)),
            None => class_given |= is_class,
        }
    }
    for (path, value) in aliased {
        if let Some(value) = set_alias(&mut event, &path, value) {
            event.unmapped.insert(path.into_owned(), value);
        }
    }
    // The first time key in order of preference that holds a time; the others are kept.
    times.sort_by_key(|(key, _)| TIME_KEYS.iter().position(|k| k == key));
    let mut time = None;
    let mut first_error = None;
    for (key, value) in times {
        if time.is_none() {
            match parse_time(&key, &value) {
                Ok(t) => {
                    time = Some(t);
                    continue;
                }
                Err(e) => first_error = first_error.or(Some(e)),
            }
        }
        event.unmapped.insert(key.into_owned(), value);
    }
    event.time = match (time, first_error) {
        (Some(t), _) => t,
        (None, Some(error)) => return Err(error),
        (None, None) => {
            return Err("no time field: expected one of time, timestamp, @timestamp, ts".into());
        }
    };
    event.id = EventId::of_record(PRODUCT, event.time, &event.raw);
    if !class_given {
        infer_class(&mut event);
    }
    Ok(event)
}

/// Flattens nested objects into `(dotted.path, value)` leaves, within the bounds above.
fn flatten<'a, K: Into<Cow<'a, str>> + std::fmt::Display>(
    prefix: Cow<'a, str>,
    object: impl IntoIterator<Item = (K, Value)>,
    depth: usize,
    leaves: &mut Vec<(Cow<'a, str>, Value)>,
) {
    for (key, value) in object {
        let path = if prefix.is_empty() {
            key.into()
        } else {
            Cow::Owned(format!("{prefix}.{key}"))
        };
        match value {
            Value::Object(inner)
                if depth < MAX_FLATTEN_DEPTH
                    && path.len() <= MAX_FLATTEN_PATH
                    && !inner.is_empty() =>
            {
                flatten(path, inner, depth + 1, leaves)
            }
            other => leaves.push((path, other)),
        }
    }
}

/// A record's members in order, their names borrowed from the line where they hold no
/// escapes (most names are mapped to a field and never kept). A name written twice keeps its
/// first place and takes the last value, as `serde_json::Map` does.
struct Members<'a>(Vec<(Cow<'a, str>, Value)>);

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut members: Vec<(Cow<'de, str>, Value)> = Vec::with_capacity(16);
                while let Some((json::Text(key), value)) =
                    map.next_entry::<json::Text<'de>, Value>()?
                {
                    match members.iter_mut().find(|(k, _)| *k == key) {
                        Some(member) => member.1 = value,
                        None => members.push((key, value)),
                    }
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(Visit)
    }
}

/// A JSON scalar as text (numbers and booleans as written); `None` for arrays, objects, null.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A JSON string, trimmed and in lower case, borrowed when it is already lower case: for
/// matching words without copying each value.
fn lower_word(value: &Value) -> Option<std::borrow::Cow<'_, str>> {
    let t = value.as_str()?.trim();
    Some(if t.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(t.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(t)
    })
}

fn texts(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::Array(items) => items.iter().map(text).collect(),
        other => text(other).map(|t| vec![t]),
    }
}

fn ip(value: &Value) -> Option<String> {
    let t = text(value)?;
    let bare = t.trim().trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>()
        .is_ok()
        .then(|| bare.to_string())
}

fn port(value: &Value) -> Option<u16> {
    match value {
        Value::Number(n) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn small_int<T: TryFrom<u64>>(value: &Value) -> Option<T> {
    match value {
        Value::Number(n) => n.as_u64().and_then(|v| T::try_from(v).ok()),
        Value::String(s) => s
            .trim()
            .parse::<u64>()
            .ok()
            .and_then(|v| T::try_from(v).ok()),
        _ => None,
    }
}

fn severity(value: &Value) -> Option<Severity> {
    if let Some(id) = small_int::<u8>(value) {
        return Some(Severity::from_id(id));
    }
    // Numbers and booleans as text name no severity.
    let t = value.as_str()?;
    if let Some(severity) = Severity::parse(t) {
        return Some(severity);
    }
    Some(match &*lower_word(value)? {
        "debug" | "trace" => Severity::Informational,
        "notice" => Severity::Low,
        "warn" | "warning" => Severity::Medium,
        "error" | "err" => Severity::High,
        "crit" | "alert" | "emerg" | "emergency" => Severity::Critical,
        _ => return None,
    })
}

fn status(value: &Value) -> Option<Status> {
    if let Value::Bool(ok) = value {
        return Some(if *ok {
            Status::Success
        } else {
            Status::Failure
        });
    }
    // Numbers as text name no outcome.
    Some(match &*lower_word(value)? {
        "success" | "succeeded" | "successful" | "ok" | "pass" | "passed" | "allow" | "allowed"
        | "accept" | "accepted" | "granted" => Status::Success,
        "failure" | "failed" | "fail" | "error" | "denied" | "deny" | "blocked" | "rejected"
        | "refused" | "forbidden" | "unauthorized" => Status::Failure,
        "unknown" => Status::Unknown,
        "other" => Status::Other,
        _ => return None,
    })
}

/// Sets the documented field `path` from `value`. Returns the value back when `path` is not a
/// documented, settable field or the value does not fit it (the caller keeps it elsewhere).
fn set_field(event: &mut Event, path: &str, value: Value) -> Option<Value> {
    macro_rules! put {
        ($slot:expr, $conv:expr) => {{
            match $conv(&value) {
                Some(v) => {
                    $slot = Some(v);
                    None
                }
                None => Some(value),
            }
        }};
    }
    // A text field takes the string itself, not a copy.
    macro_rules! put_text {
        ($slot:expr) => {{
            match value {
                Value::String(s) => {
                    $slot = Some(s);
                    None
                }
                Value::Number(n) => {
                    $slot = Some(n.to_string());
                    None
                }
                Value::Bool(b) => {
                    $slot = Some(b.to_string());
                    None
                }
                other => Some(other),
            }
        }};
    }
    let user = &mut event.actor.user;
    match path {
        "class_uid" => match small_int::<u32>(&value) {
            Some(v) => {
                event.class_uid = v;
                None
            }
            None => Some(value),
        },
        "activity_id" => match small_int::<u8>(&value) {
            Some(v) => {
                event.activity_id = v;
                None
            }
            None => Some(value),
        },
        "severity" => match severity(&value) {
            Some(v) => {
                event.severity = v;
                None
            }
            None => Some(value),
        },
        "status" => match status(&value) {
            Some(v) => {
                event.status = v;
                None
            }
            None => Some(value),
        },
        "purpose_of_use" => match texts(&value) {
            Some(v) => {
                event.purpose_of_use = v;
                None
            }
            None => Some(value),
        },
        "email.to" => match texts(&value) {
            Some(v) => {
                event.email.to = v;
                None
            }
            None => Some(value),
        },
        "metadata.log_name" => match text(&value) {
            Some(v) => {
                event.metadata.log_name = v;
                None
            }
            None => Some(value),
        },
        "activity_name" => put_text!(event.activity_name),
        "status_detail" => put_text!(event.status_detail),
        "message" => put_text!(event.message),
        "metadata.uid" => put_text!(event.metadata.uid),
        "metadata.event_code" => put_text!(event.metadata.event_code),
        "actor.user.name" => put_text!(user.name),
        "actor.user.uid" => put_text!(user.uid),
        "actor.user.full_name" => put_text!(user.full_name),
        "actor.user.domain" => put_text!(user.domain),
        "actor.user.role" => put_text!(user.role),
        "actor.app_name" => put_text!(event.actor.app_name),
        "src_endpoint.ip" => put!(event.src_endpoint.ip, ip),
        "src_endpoint.hostname" => put_text!(event.src_endpoint.hostname),
        "src_endpoint.port" => put!(event.src_endpoint.port, port),
        "dst_endpoint.ip" => put!(event.dst_endpoint.ip, ip),
        "dst_endpoint.hostname" => put_text!(event.dst_endpoint.hostname),
        "dst_endpoint.port" => put!(event.dst_endpoint.port, port),
        "device.hostname" => put_text!(event.device.hostname),
        "device.ip" => put!(event.device.ip, ip),
        "email.from" => put_text!(event.email.from),
        "email.subject" => put_text!(event.email.subject),
        "email.message_uid" => put_text!(event.email.message_uid),
        "patient.id" => put_text!(event.patient.id),
        "patient.name" => put_text!(event.patient.name),
        "resource.type" => put_text!(event.resource.r#type),
        "resource.id" => put_text!(event.resource.id),
        "resource.query" => put_text!(event.resource.query),
        // Not a field, or one derived or owned by Ward (`class_name`, `type_uid`,
        // `metadata.product` …): the source's value is kept under `unmapped`, not trusted.
        _ => Some(value),
    }
}

/// Documented fields a record cannot set: derived from others, or Ward's own.
#[cfg(test)]
const DERIVED: [&str; 5] = [
    "time",
    "class_name",
    "category_uid",
    "type_uid",
    "metadata.product",
];

/// The aliases common in application logs, and the documented field each one fills
/// (`status`, `message` and `severity` are field paths themselves).
pub const ALIASES: &[(&str, &str)] = &[
    ("user", "actor.user.name"),
    ("username", "actor.user.name"),
    ("user_name", "actor.user.name"),
    ("src_ip", "src_endpoint.ip"),
    ("source_ip", "src_endpoint.ip"),
    ("client_ip", "src_endpoint.ip"),
    ("dst_ip", "dst_endpoint.ip"),
    ("dest_ip", "dst_endpoint.ip"),
    ("destination_ip", "dst_endpoint.ip"),
    ("host", "device.hostname"),
    ("hostname", "device.hostname"),
    ("patient", "patient.id"),
    ("patient_id", "patient.id"),
    ("mrn", "patient.id"),
    ("action", "activity_name"),
    ("event", "activity_name"),
    ("outcome", "status"),
    ("result", "status"),
    ("msg", "message"),
    ("level", "severity"),
];

/// Fills an alias's field when the record did not already set it; returns the value back
/// otherwise, or when `path` is no alias.
fn set_alias(event: &mut Event, path: &str, value: Value) -> Option<Value> {
    let Some((_, field)) = ALIASES.iter().find(|(alias, _)| *alias == path) else {
        return Some(value);
    };
    // Severity and status always read as set (they default to unknown).
    let already_set = match *field {
        "severity" => event.severity != Severity::Unknown,
        "status" => event.status != Status::Unknown,
        field => event.field(field).is_some(),
    };
    if already_set {
        Some(value)
    } else {
        set_field(event, field, value)
    }
}

/// The time of a record: RFC 3339 text, or epoch seconds, milliseconds, microseconds or
/// nanoseconds told apart by magnitude (a number below 10^11 is seconds: 10^11 s is in the
/// year 5138, while 10^11 ms is in 1973).
fn parse_time(key: &str, value: &Value) -> Result<Timestamp, String> {
    let from_number = |n: f64| -> Option<Timestamp> {
        if !n.is_finite() {
            return None;
        }
        let abs = n.abs();
        let ms = if abs < 1e11 {
            n * 1e3
        } else if abs < 1e14 {
            n
        } else if abs < 1e17 {
            n / 1e3
        } else {
            n / 1e6
        };
        // Beyond ±10^15 ms (about ±31,000 years) no clock is right.
        (ms.abs() < 1e15).then(|| Timestamp::from_millis(ms.round() as i64))
    };
    let parsed = match value {
        Value::Number(n) => n.as_f64().and_then(from_number),
        Value::String(s) => {
            Timestamp::parse(s).or_else(|| s.trim().parse::<f64>().ok().and_then(from_number))
        }
        _ => None,
    };
    parsed.ok_or_else(|| {
        let shown = value.to_string();
        let shown = json::clip(&shown);
        format!("{key} {shown} is not a time: expected an RFC 3339 instant or epoch seconds/milliseconds")
    })
}

/// Picks the OCSF class of an event whose record did not name one.
fn infer_class(event: &mut Event) {
    let activity = event
        .activity_name
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase();
    // A plain scan: the names are a few words long, where `str::contains` spends more on
    // preparing its searcher than on searching.
    let mentions = |words: &[&str]| {
        words.iter().any(|w| {
            activity
                .as_bytes()
                .windows(w.len())
                .any(|at| at == w.as_bytes())
        })
    };
    if event.patient.id.is_some() {
        event.class_uid = class::API_ACTIVITY;
        if event.activity_id == 0 {
            event.activity_id = if mentions(&["create", "add", "insert"]) {
                api_activity::CREATE
            } else if mentions(&["update", "modify", "edit", "change"]) {
                api_activity::UPDATE
            } else if mentions(&["delete", "remove"]) {
                api_activity::DELETE
            } else if mentions(&[
                "read", "view", "get", "open", "search", "query", "print", "export",
            ]) {
                api_activity::READ
            } else if activity.is_empty() {
                0
            } else {
                api_activity::OTHER
            };
        }
    } else if !event.email.is_empty() {
        event.class_uid = class::EMAIL_ACTIVITY;
    } else if event.dst_endpoint.ip.is_some() && event.dst_endpoint.port.is_some() {
        event.class_uid = class::NETWORK_ACTIVITY;
    } else if mentions(&[
        "login", "logon", "logout", "logoff", "auth", "sign-in", "signin", "sign in",
    ]) {
        event.class_uid = class::AUTHENTICATION;
        if event.activity_id == 0 {
            event.activity_id = if mentions(&["logout", "logoff", "sign-out", "signout"]) {
                auth_activity::LOGOFF
            } else if mentions(&["login", "logon", "sign-in", "signin", "sign in"]) {
                auth_activity::LOGON
            } else {
                api_activity::OTHER
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_model::FIELDS;

    /// Names are read borrowed and de-duplicated by hand: a name written twice must still
    /// keep its first place and the last value, escaped names must read as their text, and a
    /// line that is not one object must get the reason it always got.
    #[test]
    fn members_read_as_a_json_object_would() {
        let line =
            br#"{"ts":"2024-05-11T09:15:02Z","us\u0065r":"a","x":1,"user":"b","y":{"z":2},"x":3}"#;
        let event = decode_object(line, line).unwrap();
        assert_eq!(event.actor.user.name.as_deref(), Some("b"));
        assert_eq!(event.unmapped.keys().collect::<Vec<_>>(), ["x", "y.z"]);
        assert_eq!(event.unmapped["x"], 3);
        let Members(members) = json::parse::<Members<'_>>(line).unwrap();
        let names: Vec<&str> = members.iter().map(|(k, _)| &**k).collect();
        assert_eq!(names, ["ts", "user", "x", "y"]);
        assert!(matches!(members[2].0, Cow::Borrowed(_)));
        assert!(
            decode_object(b"[1]", b"[1]")
                .unwrap_err()
                .contains("not a JSON object")
        );
        assert!(
            decode_object(b"{\"a\":", b"{")
                .unwrap_err()
                .starts_with("not JSON")
        );
    }

    #[test]
    fn every_documented_field_is_settable_or_derived() {
        for f in FIELDS {
            if DERIVED.contains(&f.path) {
                continue;
            }
            let sample = match f.kind {
                "integer" => Value::from(3),
                "ip" => Value::from("10.0.0.1"),
                "list" => Value::from(vec!["a"]),
                _ if f.path == "severity" => Value::from("high"),
                _ if f.path == "status" => Value::from("success"),
                _ => Value::from("x"),
            };
            let mut event = Event::default();
            assert_eq!(
                set_field(&mut event, f.path, sample),
                None,
                "{} is not settable",
                f.path
            );
            assert!(event.field(f.path).is_some(), "{} did not land", f.path);
        }
    }

    #[test]
    fn every_alias_names_a_documented_field() {
        for (alias, field) in ALIASES {
            assert!(
                FIELDS.iter().any(|f| f.path == *field),
                "{alias} -> {field}"
            );
            assert!(
                FIELDS.iter().all(|f| f.path != *alias),
                "{alias} is a field path itself"
            );
        }
    }

    #[test]
    fn epoch_numbers_are_told_apart_by_magnitude() {
        let t = |v: Value| parse_time("ts", &v).unwrap().millis();
        assert_eq!(t(Value::from(1_700_000_000)), 1_700_000_000_000);
        assert_eq!(t(Value::from(1_700_000_000.25)), 1_700_000_000_250);
        assert_eq!(t(Value::from(1_700_000_000_123u64)), 1_700_000_000_123);
        assert_eq!(t(Value::from(1_700_000_000_123_456u64)), 1_700_000_000_123);
        assert_eq!(
            t(Value::from(1_700_000_000_123_456_789u64)),
            1_700_000_000_123
        );
        assert_eq!(t(Value::from("1700000000")), 1_700_000_000_000);
        assert!(parse_time("ts", &Value::from(1e300)).is_err());
        assert!(parse_time("ts", &Value::from("yesterday")).is_err());
    }
}
