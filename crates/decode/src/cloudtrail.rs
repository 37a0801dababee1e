//! AWS CloudTrail: what every AWS account's API and console sign-ins did, in three shapes read
//! alike. The S3 delivery file (`{"Records":[ … ]}`: one JSON document holding many records,
//! on one line or pretty-printed) is split into its records, each decoded alone, so a bad one
//! is quarantined with its own index in `Records` while the others are stored. One record a
//! line (CloudTrail Lake exports, `jq -c '.Records[]'`) is read as it is, and an EventBridge
//! event (`{"detail-type": "AWS API Call via CloudTrail", "detail": { … }}`) is read from its
//! `detail`, the envelope's own fields kept under `envelope.*`.
//!
//! `ConsoleLogin` becomes an Authentication event (success or failure from
//! `responseElements.ConsoleLogin`, MFA from `additionalEventData.MFAUsed`), everything else
//! API Activity. Every source field stays reachable under its CloudTrail path
//! (`unmapped.eventName`, `unmapped.userIdentity.type`, `unmapped.requestParameters.bucketName`),
//! which are the names SigmaHQ's `product: aws, service: cloudtrail` rules use. Flattening is
//! bounded in depth and path length as in the `jsonl` decoder. The mapping is the table in
//! `docs/formats.md`. This decoder never panics and does no IO.

use crate::json;
use crate::{DecodeError, Decoded, Decoder, Framing, Sniff};
use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};
use std::fmt;
use ward_model::event::{api_activity, auth_activity, class};
use ward_model::{Event, Severity, Status, Timestamp, Unmapped};

const PRODUCT: &str = "cloudtrail";
const SNIFF_WINDOW: usize = 16 * 1024;
/// `requestParameters` nest deeply (security group rules, policies); deeper than this, or with
/// a longer path, a subtree is kept whole under its path.
const MAX_FLATTEN_DEPTH: usize = 8;
const MAX_FLATTEN_PATH: usize = 128;

/// The AWS CloudTrail decoder.
pub struct CloudTrail;

impl Decoder for CloudTrail {
    fn name(&self) -> &'static str {
        PRODUCT
    }

    fn description(&self) -> &'static str {
        "AWS CloudTrail: S3 delivery files ({\"Records\":[…]}), one record a line, or EventBridge events"
    }

    fn framing(&self) -> Framing {
        Framing::Lines
    }

    fn sniff(&self, record: &[u8]) -> Sniff {
        let body = json::body(record);
        if !matches!(body.first(), Some(b'{' | b'[')) {
            return Sniff::No;
        }
        let w = body.get(..body.len().min(SNIFF_WINDOW)).unwrap_or(body);
        let has = |key: &[u8]| memchr::memmem::find(w, key).is_some();
        let record_like = has(b"\"eventSource\"")
            && has(b"\"eventName\"")
            && (has(b"\"eventVersion\"") || has(b"\"userIdentity\"") || has(b"\"awsRegion\""));
        if record_like || (has(b"\"detail-type\"") && has(b"via CloudTrail\"")) {
            Sniff::Yes
        } else {
            Sniff::No
        }
    }

    fn decode(&self, record: &[u8], out: &mut Vec<Decoded>) {
        let body = json::body(record);
        match body.first() {
            Some(b'{') if opens_with_records(body) => decode_delivery(body, out),
            Some(b'{') => decode_object(record, body, out),
            Some(b'[') => match json::array_members(body) {
                Ok(members) => {
                    for m in members {
                        out.push(decode_member(m.index, m.entry));
                    }
                }
                Err(reason) => out.push(Err(DecodeError::record(reason))),
            },
            _ => out.push(Err(DecodeError::record(json::not_a_container(
                body,
                "a CloudTrail record or a {\"Records\": […]} delivery file",
            )))),
        }
    }
}

/// True when the object's first key is `Records`, as in every file CloudTrail delivers to S3.
fn opens_with_records(body: &[u8]) -> bool {
    body.strip_prefix(b"{")
        .map(|rest| rest.trim_ascii_start().starts_with(b"\"Records\""))
        .unwrap_or(false)
}

/// The S3 delivery file, each record's bytes exactly as they stand in it.
#[derive(Deserialize)]
struct Delivery<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<&'a RawValue>,
}

fn decode_delivery(body: &[u8], out: &mut Vec<Decoded>) {
    let delivery: Delivery<'_> = match json::parse(body) {
        Ok(d) => d,
        Err(e) if json::is_syntax(&e) => {
            return out.push(Err(DecodeError::record(format!(
                "not JSON: {}",
                json::located(&e)
            ))));
        }
        Err(e) => {
            return out.push(Err(DecodeError::record(format!(
                "not a CloudTrail delivery file: {}: expected {{\"Records\": [records]}}",
                json::located(&e)
            ))));
        }
    };
    if delivery.records.is_empty() {
        return out.push(Err(DecodeError::record(
            "a CloudTrail delivery file whose Records list is empty",
        )));
    }
    for (i, raw) in delivery.records.into_iter().enumerate() {
        out.push(decode_member(i as u64, raw.get().as_bytes()));
    }
}

/// One record of a delivery file or array; a failure names its index and carries its bytes.
fn decode_member(index: u64, bytes: &[u8]) -> Decoded {
    if let Some(event) = decode_plain(bytes, bytes) {
        return Ok(event);
    }
    let fail = |reason: String| DecodeError::entry(index, reason, bytes.to_vec());
    match json::parse::<Value>(bytes) {
        Ok(Value::Object(map)) => decode_record(map, None, bytes).map_err(fail),
        Ok(_) => Err(fail(json::not_a_container(bytes, "a CloudTrail record"))),
        Err(e) => Err(fail(format!("not JSON: {}", json::located(&e)))),
    }
}

fn decode_object(record: &[u8], body: &[u8], out: &mut Vec<Decoded>) {
    if let Some(event) = decode_plain(body, record) {
        return out.push(Ok(event));
    }
    let mut root = match json::parse::<Value>(body) {
        Ok(Value::Object(o)) => o,
        Ok(_) => return out.push(Err(DecodeError::record("not a JSON object"))),
        Err(e) if json::is_syntax(&e) => {
            return out.push(Err(DecodeError::record(format!(
                "not JSON: {}",
                json::located(&e)
            ))));
        }
        Err(e) => {
            return out.push(Err(DecodeError::record(format!(
                "not a JSON object: {}",
                json::located(&e)
            ))));
        }
    };
    // A delivery file whose writer did not put `Records` first.
    if root.get("Records").is_some_and(Value::is_array) && !root.contains_key("eventName") {
        return decode_delivery(body, out);
    }
    let eventbridge = root.get("detail").is_some_and(Value::is_object)
        && root
            .get("detail-type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.contains("CloudTrail"));
    let decoded = if eventbridge {
        match root.remove("detail") {
            Some(Value::Object(detail)) => decode_record(detail, Some(root), record),
            _ => Err("EventBridge event without a detail object".to_string()),
        }
    } else {
        decode_record(root, None, record)
    };
    out.push(decoded.map_err(DecodeError::record));
}

/// The value at a dotted path of nested objects.
fn at<'a>(map: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut keys = path.split('.');
    let mut value: &Value = map.get(keys.next()?)?;
    for key in keys {
        value = value.get(key)?;
    }
    Some(value)
}

fn text<'a>(map: &'a Map<String, Value>, path: &str) -> Option<&'a str> {
    as_text(at(map, path)?)
}

fn as_text(value: &Value) -> Option<&str> {
    value.as_str().map(str::trim).filter(|s| !s.is_empty())
}

/// A record's fields by their dotted CloudTrail path: walked in the parsed tree, or looked up
/// in the record already flattened by `decode_plain` (where a path is a key).
#[derive(Clone, Copy)]
enum Fields<'a> {
    Tree(&'a Map<String, Value>),
    Flat(&'a Unmapped),
}

impl<'a> Fields<'a> {
    fn get(self, path: &str) -> Option<&'a Value> {
        match self {
            Fields::Tree(map) => at(map, path),
            Fields::Flat(map) => map.get(path),
        }
    }

    fn text(self, path: &str) -> Option<&'a str> {
        as_text(self.get(path)?)
    }
}

/// Decodes one CloudTrail record; `envelope` is the EventBridge event around it, if any.
/// `raw` becomes the event's raw record (and id).
fn decode_record(
    record: Map<String, Value>,
    envelope: Option<Map<String, Value>>,
    raw: &[u8],
) -> Result<Event, String> {
    let (mut event, extra) = map_record(Fields::Tree(&record), raw)?;
    let mut unmapped = Unmapped::with_capacity(64);
    for (key, value) in record {
        flatten_into(key, value, 0, &mut unmapped);
    }
    if let Some(envelope) = envelope {
        for (key, value) in envelope {
            flatten_into(format!("envelope.{key}"), value, 1, &mut unmapped);
        }
    }
    unmapped.extend(extra);
    event.unmapped = unmapped;
    Ok(event)
}

/// The event of one record without its `unmapped` map, and the fields the decoder adds to that
/// map (`mfa.*`), which come after the record's own.
fn map_record(record: Fields<'_>, raw: &[u8]) -> Result<(Event, Unmapped), String> {
    let time = match record.get("eventTime") {
        Some(value) => value.as_str().and_then(Timestamp::parse).ok_or_else(|| {
            format!(
                "eventTime {} is not a time: expected an ISO 8601 instant",
                json::clip(&value.to_string())
            )
        })?,
        None => return Err("not a CloudTrail record: no eventTime".into()),
    };
    let name = record
        .text("eventName")
        .ok_or("not a CloudTrail record: no eventName")?;
    let source = record
        .text("eventSource")
        .ok_or("not a CloudTrail record: no eventSource")?;

    let mut event = Event::from_record(PRODUCT, time, raw.to_vec());
    event.activity_name = Some(name.to_string());
    event.metadata.event_code = Some(name.to_string());
    event.metadata.uid = record.text("eventID").map(str::to_string);
    event.dst_endpoint.hostname = Some(source.to_string());
    event.actor.app_name = record.text("userAgent").map(str::to_string);
    actor(record, &mut event);
    // `sourceIPAddress` is an address, or the AWS service that made the call on the
    // principal's behalf (`ec2.amazonaws.com`, `AWS Internal`): that is no address.
    if let Some(from) = record.text("sourceIPAddress") {
        if from.parse::<std::net::IpAddr>().is_ok() {
            event.src_endpoint.ip = Some(from.to_string());
        } else {
            event.src_endpoint.hostname = Some(from.to_string());
        }
    }
    if let Some(first) = record
        .get("resources")
        .and_then(Value::as_array)
        .and_then(|r| r.first())
        .and_then(Value::as_object)
    {
        event.resource.r#type = text(first, "type").map(str::to_string);
        event.resource.id = text(first, "ARN").map(str::to_string);
    }

    let error = record.text("errorCode");
    let error_message = record.text("errorMessage");
    let mut extra = Unmapped::new();
    if name == "ConsoleLogin" {
        event.class_uid = class::AUTHENTICATION;
        event.activity_id = auth_activity::LOGON;
        let result = record.text("responseElements.ConsoleLogin");
        event.status = match result {
            Some("Success") if error.is_none() => Status::Success,
            Some("Failure") => Status::Failure,
            _ if error.is_some() || error_message.is_some() => Status::Failure,
            _ => Status::Unknown,
        };
        if let Some(used) = record.text("additionalEventData.MFAUsed") {
            let used = used.eq_ignore_ascii_case("yes");
            extra.insert("mfa.used", Value::from(if used { "yes" } else { "no" }));
            let result = match (used, event.status) {
                (true, Status::Success) => Some("success"),
                (true, Status::Failure) => Some("failure"),
                _ => None,
            };
            if let Some(result) = result {
                extra.insert("mfa.result", Value::from(result));
            }
        }
    } else {
        event.class_uid = class::API_ACTIVITY;
        let read_only = record.get("readOnly").and_then(Value::as_bool);
        event.activity_id = api_activity_of(name, read_only);
        event.status = if error.is_some() {
            Status::Failure
        } else {
            Status::Success
        };
    }
    if event.status == Status::Failure {
        event.status_detail = error_message.or(error).map(str::to_string);
        event.severity = Severity::Low;
    } else {
        event.severity = Severity::Informational;
    }
    Ok((event, extra))
}

/// The acting identity. An assumed role is named by the role it assumed
/// (`sessionContext.sessionIssuer.userName`); the session's own name stays in the ARN.
fn actor(record: Fields<'_>, event: &mut Event) {
    let kind = record.text("userIdentity.type");
    let issuer = record.text("userIdentity.sessionContext.sessionIssuer.userName");
    let arn = record.text("userIdentity.arn");
    let name = match kind {
        Some("AssumedRole" | "FederatedUser") => {
            issuer.or_else(|| record.text("userIdentity.userName"))
        }
        Some("AWSService") => record.text("userIdentity.invokedBy"),
        _ => record.text("userIdentity.userName"),
    }
    // Root and AWSAccount identities carry no user name: `arn:aws:iam::123456789012:root`.
    .or_else(|| {
        arn.and_then(|a| a.rsplit([':', '/']).next())
            .filter(|n| !n.is_empty())
    })
    .or_else(|| record.text("userIdentity.principalId"));
    let user = &mut event.actor.user;
    user.name = name.map(str::to_string);
    user.uid = arn
        .or_else(|| record.text("userIdentity.principalId"))
        .map(str::to_string);
    user.domain = record.text("userIdentity.accountId").map(str::to_string);
    user.role = kind.map(str::to_string);
}

/// The common record read in one pass: flattened into its `unmapped` map while it is parsed,
/// with no tree of nested maps built and taken apart again. `None` (and the caller reads the
/// record the long way, which gives the same event or the reason to quarantine it) for anything
/// where the one pass could differ from `decode_record`: a key written twice in one object (the
/// tree keeps the last), a key holding a dot (a flat path would then not be a tree path), two
/// paths that meet, a delivery file or EventBridge event, text that is not UTF-8, and every
/// record that fails.
fn decode_plain(body: &[u8], raw: &[u8]) -> Option<Event> {
    let text = std::str::from_utf8(body).ok()?;
    let mut flat = Flattener {
        unmapped: Unmapped::with_capacity(64),
        path: String::with_capacity(MAX_FLATTEN_PATH),
        keys: Vec::new(),
    };
    let mut parser = serde_json::Deserializer::from_str(text);
    Member {
        flat: &mut flat,
        depth: 0,
        root: true,
    }
    .deserialize(&mut parser)
    .ok()?;
    parser.end().ok()?;
    let mut unmapped = flat.unmapped;
    let (mut event, extra) = map_record(Fields::Flat(&unmapped), raw).ok()?;
    unmapped.extend(extra);
    event.unmapped = unmapped;
    Some(event)
}

/// What `decode_plain` builds: the flat map, the path being read, and the keys of the objects
/// open at that path (to find a key written twice).
struct Flattener<'de> {
    unmapped: Unmapped,
    path: String,
    keys: Vec<json::Text<'de>>,
}

impl Flattener<'_> {
    /// Stores a value at the current path, as `flatten_into` would.
    fn keep<E: de::Error>(&mut self, value: Value) -> Result<(), E> {
        match self.unmapped.insert(self.path.clone(), value) {
            None => Ok(()),
            Some(_) => Err(E::custom("two paths meet")),
        }
    }
}

/// The value at the flattener's current path, `depth` objects down as `flatten_into` counts
/// (the record's own members are at depth 0), or the record itself.
struct Member<'f, 'de> {
    flat: &'f mut Flattener<'de>,
    depth: usize,
    root: bool,
}

impl<'de> DeserializeSeed<'de> for Member<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Member<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a CloudTrail record")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Member { flat, depth, root } = self;
        let inner = if root { 0 } else { depth + 1 };
        if !root && (depth >= MAX_FLATTEN_DEPTH || flat.path.len() > MAX_FLATTEN_PATH) {
            let whole = Value::deserialize(MapAccessDeserializer::new(map))?;
            return flat.keep(whole);
        }
        let opened = flat.keys.len();
        let parent = flat.path.len();
        while let Some(key) = map.next_key::<json::Text<'de>>()? {
            if key.contains('.')
                || flat.keys.get(opened..).unwrap_or_default().contains(&key)
                || (root && matches!(&*key, "Records" | "detail"))
            {
                return Err(de::Error::custom("not a plain record"));
            }
            if !root {
                flat.path.push('.');
            }
            flat.path.push_str(&key);
            flat.keys.push(key);
            map.next_value_seed(Member {
                flat: &mut *flat,
                depth: inner,
                root: false,
            })?;
            flat.path.truncate(parent);
        }
        let members = flat.keys.len() - opened;
        flat.keys.truncate(opened);
        if root || members > 0 {
            Ok(())
        } else {
            flat.keep(Value::Object(Map::new()))
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        let whole = Value::deserialize(SeqAccessDeserializer::new(seq))?;
        self.not_root()?.keep(whole)
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.not_root()?;
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.not_root()?.keep(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.not_root()?.keep(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.not_root()?.keep(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        // A number with no JSON form is null in the tree, and a null is not kept.
        let flat = self.not_root()?;
        match Number::from_f64(v) {
            Some(number) => flat.keep(Value::Number(number)),
            None => Ok(()),
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.not_root()?.keep(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<(), E> {
        self.not_root()?.keep(Value::String(v))
    }
}

impl<'f, 'de> Member<'f, 'de> {
    /// The flattener, unless this value is the record itself, which must be an object.
    fn not_root<E: de::Error>(self) -> Result<&'f mut Flattener<'de>, E> {
        if self.root {
            Err(E::custom("not an object"))
        } else {
            Ok(self.flat)
        }
    }
}

/// OCSF API Activity from the verb the API name starts with; read-only calls of other verbs
/// are reads.
fn api_activity_of(name: &str, read_only: Option<bool>) -> u8 {
    const VERBS: &[(&str, u8)] = &[
        ("Create", api_activity::CREATE),
        ("Add", api_activity::CREATE),
        ("Run", api_activity::CREATE),
        ("Import", api_activity::CREATE),
        ("Register", api_activity::CREATE),
        ("Allocate", api_activity::CREATE),
        ("Issue", api_activity::CREATE),
        ("Copy", api_activity::CREATE),
        ("Get", api_activity::READ),
        ("List", api_activity::READ),
        ("Describe", api_activity::READ),
        ("Head", api_activity::READ),
        ("Lookup", api_activity::READ),
        ("Search", api_activity::READ),
        ("Select", api_activity::READ),
        ("BatchGet", api_activity::READ),
        ("Update", api_activity::UPDATE),
        ("Modify", api_activity::UPDATE),
        ("Put", api_activity::UPDATE),
        ("Set", api_activity::UPDATE),
        ("Attach", api_activity::UPDATE),
        ("Detach", api_activity::UPDATE),
        ("Associate", api_activity::UPDATE),
        ("Disassociate", api_activity::UPDATE),
        ("Enable", api_activity::UPDATE),
        ("Disable", api_activity::UPDATE),
        ("Start", api_activity::UPDATE),
        ("Stop", api_activity::UPDATE),
        ("Change", api_activity::UPDATE),
        ("Reset", api_activity::UPDATE),
        ("Tag", api_activity::UPDATE),
        ("Untag", api_activity::UPDATE),
        ("Replace", api_activity::UPDATE),
        ("Reboot", api_activity::UPDATE),
        ("Delete", api_activity::DELETE),
        ("Remove", api_activity::DELETE),
        ("Terminate", api_activity::DELETE),
        ("Revoke", api_activity::DELETE),
        ("Deregister", api_activity::DELETE),
    ];
    // `Get` must not take `GetawayX`: the verb ends where the next capital letter starts.
    let verb = VERBS.iter().find(|(verb, _)| {
        name.strip_prefix(verb).is_some_and(|rest| {
            rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_uppercase())
        })
    });
    match (verb, read_only) {
        (Some((_, activity)), _) => *activity,
        (None, Some(true)) => api_activity::READ,
        (None, _) => api_activity::OTHER,
    }
}

fn flatten_into(path: String, value: Value, depth: usize, flat: &mut Unmapped) {
    match value {
        Value::Object(inner)
            if depth < MAX_FLATTEN_DEPTH && path.len() <= MAX_FLATTEN_PATH && !inner.is_empty() =>
        {
            for (key, value) in inner {
                flatten_into(format!("{path}.{key}"), value, depth + 1, flat);
            }
        }
        Value::Null => {}
        other => {
            flat.insert(path, other);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_verbs_map_to_ocsf_activities() {
        assert_eq!(
            api_activity_of("CreateUser", Some(false)),
            api_activity::CREATE
        );
        assert_eq!(api_activity_of("GetObject", Some(true)), api_activity::READ);
        assert_eq!(
            api_activity_of("AttachUserPolicy", None),
            api_activity::UPDATE
        );
        assert_eq!(api_activity_of("StopLogging", None), api_activity::UPDATE);
        assert_eq!(api_activity_of("DeleteTrail", None), api_activity::DELETE);
        assert_eq!(api_activity_of("AssumeRole", None), api_activity::OTHER);
        assert_eq!(
            api_activity_of("ConsoleLogin", Some(true)),
            api_activity::READ
        );
        assert_eq!(api_activity_of("Getaway", None), api_activity::OTHER);
        assert_eq!(api_activity_of("Get", None), api_activity::READ);
    }

    /// The event `decode_record` makes from the parsed tree, as JSON (order of `unmapped`
    /// included), or its reason to quarantine.
    fn by_tree(record: &str) -> Result<String, String> {
        match json::parse::<Value>(record.as_bytes()) {
            Ok(Value::Object(map)) => decode_record(map, None, record.as_bytes())
                .map(|e| serde_json::to_string(&e).expect("an event serialises")),
            other => Err(format!("not an object: {other:?}")),
        }
    }

    #[test]
    fn one_pass_flattening_gives_the_tree_walks_event_or_declines() {
        let fixture = include_str!("../tests/fixtures/cloudtrail/one-record-a-line.input");
        let mut records: Vec<String> = fixture.lines().map(str::to_string).collect();
        let head = r#""eventTime":"2026-11-03T02:11:09Z","eventSource":"s3.amazonaws.com""#;
        for tail in [
            r#""eventName":"GetObject","userIdentity":{"type":"AssumedRole","sessionContext":{"sessionIssuer":{"userName":"r"},"attributes":{}}},"readOnly":true"#,
            r#""eventName":"ListBuckets","resources":[{"type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::b"}],"requestParameters":{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":1}}}}}}}},"n":null,"e":{},"x":[1,{"y":null}],"f":-0.5,"u":18446744073709551615,"i":-3,"s":"\u00e9\n"}"#,
            r#""eventName":"PutObject","requestParameters":{"k2345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789":{"deep":{"kept":"whole"}}}"#,
            r#""eventName":"ConsoleLogin","responseElements":{"ConsoleLogin":"Failure"},"additionalEventData":{"MFAUsed":"Yes"},"errorMessage":"Failed authentication","x\"y":true"#,
        ] {
            records.push(format!("{{{head},{tail}}}"));
        }
        let mut read_in_one_pass = 0;
        for record in &records {
            let plain = decode_plain(record.as_bytes(), record.as_bytes())
                .map(|e| serde_json::to_string(&e).expect("an event serialises"));
            // A record the tree quarantines is left to it, with its reason.
            assert_eq!(plain, by_tree(record).ok(), "{record}");
            read_in_one_pass += usize::from(plain.is_some());
        }
        // The fixture's nine records that decode, and the four made above.
        assert!(
            read_in_one_pass >= 9 + 4,
            "{read_in_one_pass} read in one pass"
        );
        // Where one pass could differ from the tree, it declines and the tree decides.
        for tail in [
            r#""eventName":"GetObject","requestParameters":{"a":1},"requestParameters":{"b":2}"#,
            r#""eventName":"GetObject","requestParameters":{"a":1,"a":null}"#,
            r#""eventName":"GetObject","userIdentity.type":"Root""#,
            r#""eventName":"GetObject","a.b":1,"a":{"b":2}"#,
            r#""eventName":"GetObject","detail":{}"#,
            r#""eventName":"GetObject","eventTime":null"#,
            r#""eventSource":"x""#,
        ] {
            let record = format!("{{{head},{tail}}}");
            assert!(
                decode_plain(record.as_bytes(), record.as_bytes()).is_none(),
                "{record}"
            );
        }
        for not_a_record in ["[]", "1", "{\"eventName\":", "\"x\""] {
            assert!(decode_plain(not_a_record.as_bytes(), b"").is_none());
        }
    }

    #[test]
    fn delivery_files_are_recognised_by_their_first_key() {
        assert!(opens_with_records(b"{ \"Records\": []}"));
        assert!(opens_with_records(b"{\n  \"Records\": ["));
        assert!(!opens_with_records(b"{\"eventName\":\"Records\"}"));
        assert!(!opens_with_records(b"{"));
    }
}
