//! FHIR AuditEvent, R4 (4.0.1, R4B) and R5 in one decoder: the EHR's own record of who touched
//! which patient's data, how, and why. A record is one NDJSON line or a whole JSON document (a
//! single AuditEvent, a Bundle of any type, or a JSON array of resources); every AuditEvent in
//! it becomes one API Activity or Authentication event, following the IHE Basic Audit Log
//! Patterns. The mapping, element by element, is the table in `docs/formats.md`.
//!
//! The serde types here are hand-written and tolerant: they borrow text from the input, ignore
//! elements they do not use, and accept both versions' shapes of an element (a Coding where R4
//! has one, a CodeableConcept where R5 does), so one pass reads either version. This is the
//! hot path of Ward's ingest (hundreds of thousands of events a second): no
//! `serde_json::Value`, no FHIR library. It never panics and never guesses: a record it cannot
//! read is returned as an error saying why.

use crate::json::{self, Member, Text, TextOr};
use crate::{DecodeError, Decoded, Decoder, Framing, Sniff};
use base64::Engine as _;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;
use std::sync::LazyLock;
use ward_model::event::{api_activity, auth_activity, class};
use ward_model::{Endpoint, Event, Severity, Status, Timestamp};

const PRODUCT: &str = "fhir";

/// DICOM codes (DCM) with a meaning in the mapping.
mod dcm {
    pub const USER_AUTHENTICATION: &str = "110114";
    pub const LOGIN: &str = "110122";
    pub const LOGOUT: &str = "110123";
    pub const EMERGENCY_OVERRIDE_STARTED: &str = "110127";
    pub const DESTINATION_ROLE: &str = "110152";
    pub const SOURCE_ROLE: &str = "110153";
}

/// The FHIR AuditEvent decoder.
pub struct FhirAuditEvent;

impl Decoder for FhirAuditEvent {
    fn name(&self) -> &'static str {
        PRODUCT
    }

    fn description(&self) -> &'static str {
        "FHIR AuditEvent R4/R5 (IHE BALP): NDJSON, single resources, Bundles or arrays"
    }

    fn framing(&self) -> Framing {
        Framing::Lines
    }

    fn sniff(&self, record: &[u8]) -> Sniff {
        let body = json::body(record);
        if !matches!(body.first(), Some(b'{' | b'[')) {
            return Sniff::No;
        }
        // `resourceType` normally comes first; a bounded window keeps sniffing cheap on huge
        // documents, and looking at every occurrence in it copes with producers that write the
        // key last (after contained resources).
        let window = body.get(..body.len().min(SNIFF_WINDOW)).unwrap_or(body);
        let mut types = resource_type_values(window).peekable();
        if types.peek().is_none() {
            return Sniff::No;
        }
        if types.any(|t| t == b"AuditEvent" || t == b"Bundle") {
            Sniff::Yes
        } else {
            // Another FHIR resource (a Patient file given to `ward ingest`): plausible, so that
            // auto-detection prefers this decoder over generic JSON lines and the user is told
            // to import it as context, rather than that it lacks a time field.
            Sniff::Maybe
        }
    }

    fn decode(&self, record: &[u8], out: &mut Vec<Decoded>) {
        let body = json::body(record);
        match body.first() {
            Some(b'{') => decode_object(record, body, out),
            Some(b'[') => match json::array_members(body) {
                Ok(members) => members.into_iter().for_each(|m| decode_member(m, out)),
                Err(reason) => out.push(Err(DecodeError::record(reason))),
            },
            _ => out.push(Err(DecodeError::record(json::not_a_container(
                body,
                "a FHIR AuditEvent or Bundle",
            )))),
        }
    }
}

const SNIFF_WINDOW: usize = 64 * 1024;

static RESOURCE_TYPE_KEY: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new(b"\"resourceType\""));

/// The string values of `"resourceType"` keys in `window`, without parsing the JSON.
fn resource_type_values(window: &[u8]) -> impl Iterator<Item = &[u8]> {
    RESOURCE_TYPE_KEY.find_iter(window).filter_map(move |at| {
        let after = window.get(at + b"\"resourceType\"".len()..)?;
        let after = after
            .trim_ascii_start()
            .strip_prefix(b":")?
            .trim_ascii_start()
            .strip_prefix(b"\"")?;
        let end = memchr::memchr(b'"', after)?;
        after.get(..end)
    })
}

fn decode_object(record: &[u8], body: &[u8], out: &mut Vec<Decoded>) {
    let doc: AuditEventDoc = match json::parse(body) {
        Ok(doc) => doc,
        Err(e) => return out.push(Err(DecodeError::record(explain(&e, body)))),
    };
    match doc.resource_type.as_deref() {
        Some("AuditEvent") => out.push(to_event(&doc, record).map_err(DecodeError::record)),
        Some("Bundle") => {
            for member in json::bundle_members(doc.entry.unwrap_or_default()) {
                match member {
                    Ok(m) => decode_member(m, out),
                    Err(e) => out.push(Err(e)),
                }
            }
        }
        Some(other) => out.push(Err(DecodeError::record(wrong_resource(other)))),
        None => out.push(Err(DecodeError::record(
            "no resourceType: expected a FHIR AuditEvent or Bundle",
        ))),
    }
}

/// Decodes one Bundle entry or array element; failures name the entry and carry its bytes.
fn decode_member(member: Member<'_>, out: &mut Vec<Decoded>) {
    let fail = |reason: String| DecodeError::entry(member.index, reason, member.entry.to_vec());
    if json::body(member.resource).first() != Some(&b'{') {
        return out.push(Err(fail(json::not_a_container(
            json::body(member.resource),
            "a FHIR AuditEvent",
        ))));
    }
    let decoded = match json::parse::<AuditEventDoc>(member.resource) {
        Err(e) => Err(fail(explain(&e, member.resource))),
        Ok(doc) => match doc.resource_type.as_deref() {
            Some("AuditEvent") => to_event(&doc, member.resource).map_err(fail),
            Some("Bundle") => Err(fail(
                "a Bundle inside a Bundle is not read: send its entries instead".into(),
            )),
            Some(other) => Err(fail(wrong_resource(other))),
            None => Err(fail("no resourceType: expected a FHIR AuditEvent".into())),
        },
    };
    out.push(decoded);
}

fn wrong_resource(resource_type: &str) -> String {
    let resource_type = json::clip(resource_type);
    format!(
        "resourceType is {resource_type:?}, expected AuditEvent or Bundle — import context with `ward context import`"
    )
}

/// Why `body` did not read as an AuditEvent: not JSON at all, another kind of resource, or an
/// AuditEvent whose elements have the wrong shape.
fn explain(e: &serde_json::Error, body: &[u8]) -> String {
    if json::is_syntax(e) {
        return format!("not JSON: {}", json::located(e));
    }
    match json::Head::read(body).ok().and_then(|h| h.resource_type) {
        Some(t) if *t != *"AuditEvent" && *t != *"Bundle" => wrong_resource(&t),
        Some(t) => format!(
            "{} does not follow FHIR R4 or R5: {}",
            &*t,
            json::located(e)
        ),
        None => format!("not a FHIR resource: {}", json::located(e)),
    }
}

// ---------------------------------------------------------------------------------------------
// FHIR datatypes, as far as Ward reads them. Shared with the context parser.

/// FHIR `Coding`. Its `system` is not read: the codes Ward acts on are unambiguous, and every
/// field less is a move less on the hot path.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Coding<'a> {
    #[serde(borrow, default)]
    pub code: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub display: Option<Text<'a>>,
}

/// A `Coding` or a `CodeableConcept`, read into one shape: R4 uses a Coding where R5 uses a
/// CodeableConcept for the same element (`entity.role`, `type`/`category`), and producers of
/// both versions mix them up. A bare string is taken as a code.
#[derive(Debug, Default)]
pub(crate) struct Concept<'a> {
    /// The element's own `system`/`code`/`display` when it is a Coding.
    pub own: Coding<'a>,
    pub coding: Vec<Coding<'a>>,
    pub text: Option<Text<'a>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Concept<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ConceptVisitor)
    }
}

/// Hand-written rather than derived through an intermediate struct: concepts are the most
/// frequent element of an AuditEvent, and this keeps them one pass without moves.
struct ConceptVisitor;

impl<'de> Visitor<'de> for ConceptVisitor {
    type Value = Concept<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Coding, a CodeableConcept or a code")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Concept::of_code(Text(Cow::Borrowed(v))))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Concept::of_code(Text(Cow::Owned(v.to_owned()))))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut concept = Concept::default();
        while let Some(key) = map.next_key::<Text<'de>>()? {
            match &*key {
                "coding" => concept.coding = map.next_value()?,
                "text" => concept.text = map.next_value()?,
                "code" => concept.own.code = map.next_value()?,
                "display" => concept.own.display = map.next_value()?,
                _ => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        Ok(concept)
    }
}

impl<'a> Concept<'a> {
    fn of_code(code: Text<'a>) -> Self {
        Concept {
            own: Coding {
                code: Some(code),
                display: None,
            },
            ..Default::default()
        }
    }

    /// Every coding, the element's own first.
    pub(crate) fn codings(&self) -> impl Iterator<Item = &Coding<'a>> {
        let own = (self.own.code.is_some() || self.own.display.is_some()).then_some(&self.own);
        own.into_iter().chain(self.coding.iter())
    }

    pub(crate) fn code(&self) -> Option<&str> {
        self.codings().find_map(|c| c.code.as_deref())
    }

    pub(crate) fn has_code(&self, code: &str) -> bool {
        self.codings().any(|c| c.code.as_deref() == Some(code))
    }

    /// The first code, else the text: what a rule would compare.
    pub(crate) fn code_or_text(&self) -> Option<&str> {
        self.code().or(self.text.as_deref())
    }

    /// The text, else the first code.
    pub(crate) fn text_or_code(&self) -> Option<&str> {
        self.text.as_deref().or_else(|| self.code())
    }
}

/// FHIR `Identifier`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Identifier<'a> {
    #[serde(borrow, default)]
    pub system: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub value: Option<Text<'a>>,
    /// The identifier's type (v2-0203 `MR`, `NPI` …).
    #[serde(borrow, default, rename = "type")]
    pub kind: Option<Concept<'a>>,
}

/// FHIR `Reference`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Reference<'a> {
    #[serde(borrow, default)]
    pub reference: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub identifier: Option<Identifier<'a>>,
    #[serde(borrow, default)]
    pub display: Option<Text<'a>>,
}

impl Reference<'_> {
    fn identifier_value(&self) -> Option<&str> {
        self.identifier.as_ref().and_then(|i| i.value.as_deref())
    }

    /// The best single name for who is referenced: identifier value, reference, display.
    fn name(&self) -> Option<&str> {
        self.identifier_value()
            .or(self.reference.as_deref())
            .or(self.display.as_deref())
    }

    /// The best name for a device as a host: identifier value, display (audit sources display
    /// their host name), reference.
    fn host_name(&self) -> Option<&str> {
        self.identifier_value()
            .or(self.display.as_deref())
            .or(self.reference.as_deref())
    }
}

/// FHIR `Period`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Period<'a> {
    #[serde(borrow, default)]
    pub start: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub end: Option<Text<'a>>,
}

// ---------------------------------------------------------------------------------------------
// AuditEvent, R4 and R5 elements side by side.

/// An AuditEvent (or a Bundle, whose `entry` is kept raw): one pass over the bytes reads
/// either.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuditEventDoc<'a> {
    #[serde(borrow, default)]
    resource_type: Option<Text<'a>>,
    #[serde(borrow, default)]
    id: Option<Text<'a>>,
    #[serde(borrow, default)]
    meta: Option<Meta<'a>>,
    /// R4 `type` (Coding). A Bundle's `type` is a string: [`Concept`] takes it as a code.
    #[serde(borrow, default, rename = "type")]
    kind: Option<Concept<'a>>,
    /// R4 `subtype[]`.
    #[serde(borrow, default)]
    subtype: Vec<Concept<'a>>,
    /// R5 `category[]`.
    #[serde(borrow, default)]
    category: Vec<Concept<'a>>,
    /// R5 `code`.
    #[serde(borrow, default)]
    code: Option<Concept<'a>>,
    #[serde(borrow, default)]
    action: Option<Text<'a>>,
    /// R5 `severity`.
    #[serde(borrow, default)]
    severity: Option<Text<'a>>,
    #[serde(borrow, default)]
    recorded: Option<Text<'a>>,
    /// R4 `period`.
    #[serde(borrow, default)]
    period: Option<Period<'a>>,
    #[serde(borrow, default)]
    occurred_date_time: Option<Text<'a>>,
    #[serde(borrow, default)]
    occurred_period: Option<Period<'a>>,
    /// R4: a code; R5: `{code, detail[]}`.
    #[serde(borrow, default)]
    outcome: Option<TextOr<'a, Outcome<'a>>>,
    /// R4 `outcomeDesc`.
    #[serde(borrow, default)]
    outcome_desc: Option<Text<'a>>,
    /// R4 `purposeOfEvent[]`.
    #[serde(borrow, default)]
    purpose_of_event: Vec<Concept<'a>>,
    /// R5 `authorization[]`.
    #[serde(borrow, default)]
    authorization: Vec<Concept<'a>>,
    /// R5 `patient`.
    #[serde(borrow, default)]
    patient: Option<Reference<'a>>,
    /// R5 `encounter`.
    #[serde(borrow, default)]
    encounter: Option<Reference<'a>>,
    #[serde(borrow, default)]
    agent: Vec<Agent<'a>>,
    #[serde(borrow, default)]
    source: Option<Source<'a>>,
    #[serde(borrow, default)]
    entity: Vec<Entity<'a>>,
    /// `Bundle.entry`, kept as raw bytes so each entry's event id hashes exactly its bytes.
    #[serde(borrow, default)]
    entry: Option<Vec<&'a RawValue>>,
}

/// FHIR `meta`, reduced to its security labels.
#[derive(Deserialize, Default)]
pub(crate) struct Meta<'a> {
    #[serde(borrow, default)]
    pub security: Vec<Concept<'a>>,
}

/// R5 `outcome`.
#[derive(Debug, Deserialize)]
struct Outcome<'a> {
    #[serde(borrow, default)]
    code: Option<Concept<'a>>,
    #[serde(borrow, default)]
    detail: Vec<Concept<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Agent<'a> {
    #[serde(borrow, default, rename = "type")]
    kind: Option<Concept<'a>>,
    #[serde(borrow, default)]
    role: Vec<Concept<'a>>,
    #[serde(borrow, default)]
    who: Option<Reference<'a>>,
    /// R4 `altId`.
    #[serde(borrow, default)]
    alt_id: Option<Text<'a>>,
    /// R4 `name`.
    #[serde(borrow, default)]
    name: Option<Text<'a>>,
    #[serde(default)]
    requestor: Option<bool>,
    /// R4 `network{address, type}`.
    #[serde(borrow, default)]
    network: Option<Network<'a>>,
    #[serde(borrow, default)]
    network_string: Option<Text<'a>>,
    #[serde(borrow, default)]
    network_uri: Option<Text<'a>>,
    #[serde(borrow, default)]
    network_reference: Option<Box<Reference<'a>>>,
    /// R4 `purposeOfUse[]`.
    #[serde(borrow, default)]
    purpose_of_use: Vec<Concept<'a>>,
    /// R5 `authorization[]`.
    #[serde(borrow, default)]
    authorization: Vec<Concept<'a>>,
}

#[derive(Deserialize)]
struct Network<'a> {
    #[serde(borrow, default)]
    address: Option<Text<'a>>,
}

impl Agent<'_> {
    /// True when the agent is typed (or plays a role) with `code`.
    fn is(&self, code: &str) -> bool {
        self.kind.as_ref().is_some_and(|k| k.has_code(code))
            || self.role.iter().any(|r| r.has_code(code))
    }

    fn address(&self) -> Option<&str> {
        self.network
            .as_ref()
            .and_then(|n| n.address.as_deref())
            .or(self.network_string.as_deref())
            .or(self.network_uri.as_deref())
            .or_else(|| self.network_reference.as_deref().and_then(Reference::name))
            .filter(|a| !a.trim().is_empty())
    }
}

#[derive(Deserialize)]
struct Source<'a> {
    /// R4: a string; R5: a Reference.
    #[serde(borrow, default)]
    site: Option<TextOr<'a, Reference<'a>>>,
    #[serde(borrow, default)]
    observer: Option<Reference<'a>>,
    #[serde(borrow, default, rename = "type")]
    kind: Vec<Concept<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entity<'a> {
    #[serde(borrow, default)]
    what: Option<Reference<'a>>,
    /// R4 only: 1 person, 2 system object.
    #[serde(borrow, default, rename = "type")]
    kind: Option<Concept<'a>>,
    /// R4 Coding, R5 CodeableConcept: 1 patient, 4 domain resource, 24 query.
    #[serde(borrow, default)]
    role: Option<Concept<'a>>,
    #[serde(borrow, default)]
    query: Option<Text<'a>>,
    #[serde(borrow, default)]
    security_label: Vec<Concept<'a>>,
    #[serde(borrow, default)]
    detail: Vec<Detail<'a>>,
}

impl Entity<'_> {
    fn role_is(&self, code: &str) -> bool {
        self.role.as_ref().is_some_and(|r| r.has_code(code))
    }

    fn type_is(&self, code: &str) -> bool {
        self.kind.as_ref().is_some_and(|k| k.has_code(code))
    }

    fn what_reference(&self) -> Option<(&str, &str)> {
        self.what
            .as_ref()
            .and_then(|w| w.reference.as_deref())
            .and_then(json::split_reference)
    }
}

/// `entity.detail`: R4 `type` is a string, R5 a CodeableConcept; the value is one of
/// `value[x]`, of which the textual ones are kept.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Detail<'a> {
    #[serde(borrow, default, rename = "type")]
    kind: Option<TextOr<'a, Concept<'a>>>,
    #[serde(borrow, default)]
    value_string: Option<Text<'a>>,
    #[serde(borrow, default)]
    value_base64_binary: Option<Text<'a>>,
    #[serde(borrow, default)]
    value_code: Option<Text<'a>>,
    #[serde(borrow, default)]
    value_integer: Option<Text<'a>>,
    #[serde(borrow, default)]
    value_boolean: Option<Text<'a>>,
}

// ---------------------------------------------------------------------------------------------
// The mapping.

/// REST interactions (`restful-interaction`) and the API activity each one is.
fn rest_activity(code: &str) -> Option<u8> {
    Some(match code {
        "read" | "vread" | "search" | "search-type" | "search-system" | "search-compartment"
        | "history" | "history-instance" | "history-type" | "history-system" => api_activity::READ,
        "create" => api_activity::CREATE,
        "update" | "patch" => api_activity::UPDATE,
        "delete" => api_activity::DELETE,
        _ => return None,
    })
}

fn action_activity(action: Option<&str>) -> u8 {
    match action.map(str::trim) {
        Some("C") => api_activity::CREATE,
        Some("R") => api_activity::READ,
        Some("U") => api_activity::UPDATE,
        Some("D") => api_activity::DELETE,
        _ => api_activity::OTHER,
    }
}

fn r5_severity(text: &str) -> Option<Severity> {
    Some(match text.trim().to_ascii_lowercase().as_str() {
        "emergency" | "alert" | "critical" => Severity::Critical,
        "error" => Severity::High,
        "warning" => Severity::Medium,
        "notice" => Severity::Low,
        "informational" | "debug" => Severity::Informational,
        _ => return None,
    })
}

fn patient_id_of(reference: &Reference<'_>) -> Option<String> {
    match reference
        .reference
        .as_deref()
        .and_then(json::split_reference)
    {
        Some((_, id)) => Some(id.to_string()),
        None => reference
            .identifier_value()
            .or(reference.reference.as_deref())
            .map(str::to_string),
    }
}

/// Files a network address: an IP literal (also as R5's `urn:ipv4:`/`urn:ipv6:` URIs) to
/// `ip`, anything else (host names, URIs) to `hostname`.
fn endpoint(address: &str) -> Endpoint {
    let bare = address.trim();
    if let Some(ip) = bare
        .strip_prefix("urn:ipv6:")
        .or_else(|| bare.strip_prefix("urn:ipv4:"))
        && ip.parse::<std::net::IpAddr>().is_ok()
    {
        return Endpoint {
            ip: Some(ip.to_string()),
            ..Default::default()
        };
    }
    Endpoint::from_address(address)
}

fn push_codes(codes: &mut Vec<String>, concepts: &[Concept<'_>]) {
    for code in concepts
        .iter()
        .flat_map(|c| c.codings())
        .filter_map(|c| c.code.as_deref())
    {
        if !codes.iter().any(|have| have == code) {
            codes.push(code.to_string());
        }
    }
}

fn codes_value<'c, 'd: 'c>(concepts: impl Iterator<Item = &'c Concept<'d>>) -> serde_json::Value {
    serde_json::Value::Array(
        concepts
            .filter_map(|c| c.code_or_text())
            .map(|code| serde_json::Value::String(code.to_string()))
            .collect(),
    )
}

fn to_event(doc: &AuditEventDoc<'_>, raw: &[u8]) -> Result<Event, String> {
    let time = event_time(doc)?;
    let mut event = Event::from_record(PRODUCT, time, raw.to_vec());
    event.metadata.uid = doc.id.as_deref().map(str::to_string);

    // What happened. R4 names it in type/subtype[], R5 in category[]/code; the specific code
    // (subtype/code) names the activity, the general one (type/category) is the fallback.
    let specific = doc.subtype.iter().chain(doc.code.as_ref());
    let general = doc.kind.iter().chain(doc.category.iter());
    let event_codings = || specific.clone().flat_map(Concept::codings);
    let type_codings = || general.clone().flat_map(Concept::codings);
    let has_event_code = |code: &str| event_codings().any(|c| c.code.as_deref() == Some(code));
    let has_type_code = |code: &str| type_codings().any(|c| c.code.as_deref() == Some(code));

    // A RESTful interaction names the activity better than `action` (BALP queries carry action
    // E): look for one in the specific codes, then in the general ones (R5 examples swap them).
    let rest = event_codings().chain(type_codings()).find_map(|c| {
        c.code
            .as_deref()
            .and_then(rest_activity)
            .map(|activity| (c, activity))
    });
    let naming = rest
        .map(|(c, _)| c)
        .or_else(|| event_codings().next())
        .or_else(|| type_codings().next());
    event.activity_name = naming
        .and_then(|c| c.display.as_deref().or(c.code.as_deref()))
        .map(str::to_string);
    event.metadata.event_code = naming.and_then(|c| c.code.as_deref()).map(str::to_string);

    if has_event_code(dcm::LOGIN) {
        event.class_uid = class::AUTHENTICATION;
        event.activity_id = auth_activity::LOGON;
    } else if has_event_code(dcm::LOGOUT) {
        event.class_uid = class::AUTHENTICATION;
        event.activity_id = auth_activity::LOGOFF;
    } else if has_type_code(dcm::USER_AUTHENTICATION) {
        // A user authentication that is neither login nor logout: OCSF "Other".
        event.class_uid = class::AUTHENTICATION;
        event.activity_id = api_activity::OTHER;
    } else {
        event.class_uid = class::API_ACTIVITY;
        event.activity_id = rest.map_or_else(
            || action_activity(doc.action.as_deref()),
            |(_, activity)| activity,
        );
    }

    // Outcome and severity.
    let (status, outcome_code, outcome_detail) = match &doc.outcome {
        Some(TextOr::Text(code)) => {
            let status = match code.trim() {
                "0" => Status::Success,
                "4" | "8" | "12" => Status::Failure,
                _ => Status::Unknown,
            };
            (status, Some(&**code), doc.outcome_desc.as_deref())
        }
        Some(TextOr::Other(outcome)) => {
            let code = outcome.code.as_ref().and_then(Concept::code);
            let status = match code.map(str::trim) {
                Some("0") => Status::Success,
                Some(_) => Status::Failure,
                None => Status::Unknown,
            };
            let detail = outcome.detail.iter().find_map(|d| {
                d.text
                    .as_deref()
                    .or_else(|| d.codings().find_map(|c| c.display.as_deref()))
            });
            (status, code, detail.or(doc.outcome_desc.as_deref()))
        }
        None => (Status::Unknown, None, doc.outcome_desc.as_deref()),
    };
    event.status = status;
    event.status_detail = match (outcome_detail, status) {
        (Some(detail), _) => Some(detail.to_string()),
        (None, Status::Failure) => outcome_code.map(str::to_string),
        (None, _) => None,
    };
    event.severity = doc
        .severity
        .as_deref()
        .and_then(r5_severity)
        .unwrap_or(match status {
            Status::Failure => Severity::Medium,
            _ => Severity::Informational,
        });

    // Why: purpose of use, from the event and from every agent.
    push_codes(&mut event.purpose_of_use, &doc.purpose_of_event);
    push_codes(&mut event.purpose_of_use, &doc.authorization);
    for agent in &doc.agent {
        push_codes(&mut event.purpose_of_use, &agent.purpose_of_use);
        push_codes(&mut event.purpose_of_use, &agent.authorization);
    }
    let break_glass = has_event_code(dcm::EMERGENCY_OVERRIDE_STARTED)
        || event
            .purpose_of_use
            .iter()
            .any(|p| p == "ETREAT" || p == "BTG");
    if break_glass {
        event.severity = event.severity.max(Severity::High);
    }

    // Who: the requestor, else the first human user; where from and to: the DICOM source and
    // destination role agents.
    let user = doc
        .agent
        .iter()
        .position(|a| a.requestor == Some(true))
        .or_else(|| {
            doc.agent
                .iter()
                .position(|a| a.is("humanuser") || a.is("IRCP"))
        });
    if let Some(agent) = user.and_then(|i| doc.agent.get(i)) {
        let who = agent.who.as_ref();
        let identifier = who.and_then(|w| w.identifier.as_ref());
        let u = &mut event.actor.user;
        u.name = who.and_then(Reference::name).map(str::to_string);
        u.uid = who
            .and_then(|w| w.reference.as_deref())
            .map(str::to_string)
            .or_else(|| {
                let value = identifier?.value.as_deref()?;
                Some(match identifier?.system.as_deref() {
                    Some(system) => format!("{system}|{value}"),
                    None => value.to_string(),
                })
            });
        u.domain = identifier
            .and_then(|i| i.system.as_deref())
            .map(str::to_string);
        u.full_name = agent
            .name
            .as_deref()
            .or_else(|| who.and_then(|w| w.display.as_deref()))
            .map(str::to_string);
        u.role = agent
            .role
            .first()
            .and_then(Concept::text_or_code)
            .map(str::to_string);
    }
    let source = doc
        .agent
        .iter()
        .position(|a| a.is(dcm::SOURCE_ROLE) && a.address().is_some());
    let destination = doc
        .agent
        .iter()
        .position(|a| a.is(dcm::DESTINATION_ROLE) && a.address().is_some());
    let src = user
        .filter(|&i| doc.agent.get(i).and_then(Agent::address).is_some())
        .or(source);
    if let Some(address) = src.and_then(|i| doc.agent.get(i)).and_then(Agent::address) {
        event.src_endpoint = endpoint(address);
    }
    if let Some(address) = destination
        .and_then(|i| doc.agent.get(i))
        .and_then(Agent::address)
    {
        event.dst_endpoint = endpoint(address);
    }
    if let Some(observer) = doc
        .source
        .as_ref()
        .and_then(|s| s.observer.as_ref())
        .and_then(Reference::host_name)
    {
        event.device = endpoint(observer);
    }

    // Whose data, and which record.
    let patient_entity = doc.entity.iter().find(|e| {
        e.role_is("1")
            || (e.type_is("1")
                && e.what_reference()
                    .is_some_and(|(kind, _)| kind == "Patient"))
    });
    event.patient.id = doc.patient.as_ref().and_then(patient_id_of).or_else(|| {
        patient_entity
            .and_then(|e| e.what.as_ref())
            .and_then(patient_id_of)
    });
    let data = doc
        .entity
        .iter()
        .filter(|e| e.role_is("4") || e.type_is("2"))
        .find_map(Entity::what_reference)
        .or_else(|| patient_entity.and_then(Entity::what_reference));
    if let Some((kind, id)) = data {
        event.resource.r#type = Some(kind.to_string());
        event.resource.id = Some(id.to_string());
        // Reading a Patient resource touches that patient even when no entity says so.
        if event.patient.id.is_none() && kind == "Patient" {
            event.patient.id = Some(id.to_string());
        }
    }
    if let Some(query) = doc.entity.iter().find_map(|e| e.query.as_deref()) {
        event.resource.query = Some(decode_query(query));
    }

    unmapped(doc, &mut event, [user, src, destination]);
    Ok(event)
}

fn event_time(doc: &AuditEventDoc<'_>) -> Result<Timestamp, String> {
    let (element, text) = if let Some(t) = &doc.recorded {
        ("recorded", t)
    } else if let Some(t) = &doc.occurred_date_time {
        ("occurredDateTime", t)
    } else if let Some(t) = doc.occurred_period.as_ref().and_then(|p| p.start.as_ref()) {
        ("occurredPeriod.start", t)
    } else if let Some(t) = doc.period.as_ref().and_then(|p| p.start.as_ref()) {
        ("period.start", t)
    } else {
        return Err(
            "AuditEvent has no time: expected recorded, occurredDateTime or period.start".into(),
        );
    };
    Timestamp::parse(text).ok_or_else(|| {
        let shown = json::clip(text);
        format!("AuditEvent {element} {shown:?} is not a FHIR instant (expected e.g. 2024-05-01T09:30:00Z)")
    })
}

/// `entity.query` is base64 (FHIR `base64Binary`); a producer that wrote the query as plain
/// text keeps it as written.
fn decode_query(query: &str) -> String {
    match base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT.decode(query.trim()) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => query.to_string(),
    }
}

/// Elements without a place in the model, under their FHIR paths. Only what a rule could
/// want and is cheap to carry: the raw record keeps the rest.
fn unmapped(doc: &AuditEventDoc<'_>, event: &mut Event, used_agents: [Option<usize>; 3]) {
    use serde_json::Value;
    let map = &mut event.unmapped;
    if let Some(source) = &doc.source {
        let site = match &source.site {
            Some(TextOr::Text(site)) => Some(&**site),
            Some(TextOr::Other(reference)) => reference.name(),
            None => None,
        };
        if let Some(site) = site {
            map.insert("source.site", Value::String(site.to_string()));
        }
        if !source.kind.is_empty() {
            map.insert("source.type", codes_value(source.kind.iter()));
        }
    }
    for (i, agent) in doc.agent.iter().enumerate() {
        if let Some(alt) = &agent.alt_id {
            map.insert(format!("agent[{i}].altId"), Value::String(alt.to_string()));
        }
        if !used_agents.contains(&Some(i))
            && let Some(who) = agent.who.as_ref().and_then(Reference::name)
        {
            map.insert(format!("agent[{i}].who"), Value::String(who.to_string()));
        }
    }
    if let Some(encounter) = doc.encounter.as_ref().and_then(Reference::name) {
        map.insert("encounter", Value::String(encounter.to_string()));
    }
    let labels: Vec<&Concept<'_>> = doc
        .entity
        .iter()
        .flat_map(|e| e.security_label.iter())
        .collect();
    if !labels.is_empty() {
        map.insert("entity.securityLabel", codes_value(labels.into_iter()));
    }
    let mut details = serde_json::Map::new();
    for detail in doc.entity.iter().flat_map(|e| e.detail.iter()) {
        let name = match &detail.kind {
            Some(TextOr::Text(t)) => Some(&**t),
            Some(TextOr::Other(c)) => c.text_or_code(),
            None => None,
        };
        let value = detail
            .value_string
            .as_deref()
            .or(detail.value_base64_binary.as_deref())
            .or(detail.value_code.as_deref())
            .or(detail.value_integer.as_deref())
            .or(detail.value_boolean.as_deref());
        if let (Some(name), Some(value)) = (name, value) {
            // Repeated detail types are joined rather than overwritten.
            match details.get_mut(name) {
                Some(Value::String(have)) => {
                    have.push_str(", ");
                    have.push_str(value);
                }
                _ => {
                    details.insert(name.to_string(), Value::String(value.to_string()));
                }
            }
        }
    }
    if !details.is_empty() {
        map.insert("entity.detail", Value::Object(details));
    }
    if let Some(meta) = &doc.meta
        && !meta.security.is_empty()
    {
        map.insert("meta.security", codes_value(meta.security.iter()));
    }
}
