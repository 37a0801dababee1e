//! IHE ATNA / DICOM PS3.15 A.5 audit messages (`AuditMessage` XML, also in its older RFC 3881
//! form): the audit trail of PACS, integration engines, registries and EHRs that speak IHE.
//! A record is a whole XML document, bare (possibly pretty-printed over many lines) or as the
//! MSG of a syslog message (RFC 5424 MSGID `IHE+RFC-3881` or `DICOM+RFC3881`, or any syslog
//! message whose MSG is XML). Every `AuditMessage` becomes one API Activity or Authentication
//! event; the mapping is the table in `docs/formats.md`.
//!
//! XML is read with `quick-xml` in one pass without building a tree: only the attributes and
//! texts the mapping uses are copied. Both coded-value styles are read (DICOM `csd-code` /
//! `originalText`, RFC 3881 `code` / `displayName`). Syslog messages in an ATNA feed that do
//! not hold XML get the generic syslog mapping rather than being refused. Malformed XML is
//! refused with the parser's reason and its line and column in the record.

use crate::syslog;
use crate::{DecodeError, Decoded, Decoder, Framing, Sniff};
use base64::Engine as _;
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event as Xml};
use quick_xml::reader::Reader;
use serde_json::Value;
use std::sync::LazyLock;
use ward_model::event::{api_activity, auth_activity, class};
use ward_model::{Endpoint, Event, Severity, Status, Timestamp};

const PRODUCT: &str = "atna";

/// DICOM codes (DCM) with a meaning in the mapping.
mod dcm {
    pub const QUERY: &str = "110112";
    pub const SECURITY_ALERT: &str = "110113";
    pub const USER_AUTHENTICATION: &str = "110114";
    pub const LOGIN: &str = "110122";
    pub const LOGOUT: &str = "110123";
    pub const APPLICATION: &str = "110150";
    pub const APPLICATION_LAUNCHER: &str = "110151";
    pub const DESTINATION_ROLE: &str = "110152";
    pub const SOURCE_ROLE: &str = "110153";
}

/// The IHE ATNA decoder.
pub struct Atna;

impl Decoder for Atna {
    fn name(&self) -> &'static str {
        PRODUCT
    }

    fn description(&self) -> &'static str {
        "IHE ATNA / DICOM audit messages (AuditMessage XML), bare or in syslog (IHE+RFC-3881)"
    }

    fn framing(&self) -> Framing {
        Framing::Grouped(starts_record)
    }

    fn sniff(&self, record: &[u8]) -> Sniff {
        let window = record
            .get(..record.len().min(SNIFF_WINDOW))
            .unwrap_or(record);
        if AUDIT_MESSAGE_TAG.find(window).is_some() {
            return Sniff::Yes;
        }
        let head = window.get(..window.len().min(256)).unwrap_or(window);
        if syslog::looks_like_header(head)
            && (memchr::memmem::find(head, b" IHE+RFC-3881 ").is_some()
                || memchr::memmem::find(head, b" DICOM+RFC3881 ").is_some())
        {
            return Sniff::Yes;
        }
        if record.trim_ascii_start().starts_with(b"<?xml") {
            return Sniff::Maybe;
        }
        Sniff::No
    }

    fn decode(&self, record: &[u8], out: &mut Vec<Decoded>) {
        decode_record(record, None, out);
    }

    fn decode_in_year(&self, record: &[u8], year: i32, out: &mut Vec<Decoded>) {
        decode_record(record, Some(year), out);
    }
}

const SNIFF_WINDOW: usize = 64 * 1024;

static AUDIT_MESSAGE_TAG: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new(b"<AuditMessage"));

/// Where a record starts when a source is cut into records ([`Framing::Grouped`]): at an XML
/// declaration or at a syslog header. A pretty-printed message is one record from its
/// declaration to the next; messages written without declarations one after another form one
/// record, which gives one event per `AuditMessage`.
pub fn starts_record(line: &[u8]) -> bool {
    line.trim_ascii_start().starts_with(b"<?xml") || syslog::looks_like_header(line)
}

fn decode_record(record: &[u8], year: Option<i32>, out: &mut Vec<Decoded>) {
    let trimmed = record.trim_ascii_start();
    if trimmed.first() == Some(&b'<') && !syslog::looks_like_header(trimmed) {
        return decode_xml(record, record.len() - trimmed.len(), None, out);
    }
    let message = match syslog::parse(record) {
        Ok(m) => m,
        Err(_) if !syslog::looks_like_header(record) => {
            return out.push(Err(DecodeError::record(
                "not an ATNA audit message: expected AuditMessage XML, bare or as a syslog message",
            )));
        }
        Err(reason) => return out.push(Err(DecodeError::record(reason))),
    };
    let msg = message.msg.trim_ascii_start();
    if msg.first() == Some(&b'<') {
        // MSG is borrowed from the record: its offset is the distance between the two.
        let at = (msg.as_ptr() as usize).saturating_sub(record.as_ptr() as usize);
        decode_xml(record, at, Some(&message), out);
    } else {
        out.push(syslog::base_event(PRODUCT, &message, record, year).map_err(DecodeError::record));
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the XML.

/// A coded value in either style.
#[derive(Debug, Default)]
struct Code {
    code: Option<String>,
    display: Option<String>,
}

impl Code {
    fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    fn display_or_code(&self) -> Option<&str> {
        self.display.as_deref().or(self.code.as_deref())
    }
}

#[derive(Debug, Default)]
struct Participant {
    user_id: Option<String>,
    alternative_user_id: Option<String>,
    user_name: Option<String>,
    requestor: bool,
    access_point: Option<String>,
    access_point_type: Option<String>,
    roles: Vec<Code>,
}

impl Participant {
    fn has_role(&self, code: &str) -> bool {
        self.roles.iter().any(|r| r.is(code))
    }

    fn endpoint(&self) -> Option<Endpoint> {
        let address = self.access_point.as_deref()?.trim();
        if address.is_empty() {
            return None;
        }
        Some(match self.access_point_type.as_deref().map(str::trim) {
            Some("1" | "5") => Endpoint {
                hostname: Some(address.to_string()),
                ..Default::default()
            },
            _ => Endpoint::from_address(address),
        })
    }
}

#[derive(Debug, Default)]
struct AuditSource {
    id: Option<String>,
    site: Option<String>,
    types: Vec<Code>,
}

#[derive(Debug, Default)]
struct Object {
    id: Option<String>,
    type_code: Option<String>,
    role: Option<String>,
    id_type: Option<Code>,
    name: Option<String>,
    query: Option<String>,
    details: Vec<(String, String)>,
}

impl Object {
    fn is(&self, type_code: &str, role: &str) -> bool {
        self.type_code.as_deref().map(str::trim) == Some(type_code)
            && self.role.as_deref().map(str::trim) == Some(role)
    }
}

#[derive(Debug, Default)]
struct Audit {
    action: Option<String>,
    date_time: Option<String>,
    outcome: Option<String>,
    outcome_description: Option<String>,
    event_id: Option<Code>,
    event_types: Vec<Code>,
    participants: Vec<Participant>,
    sources: Vec<AuditSource>,
    objects: Vec<Object>,
}

/// The elements whose place matters while reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Elem {
    AuditMessage,
    EventIdentification,
    ActiveParticipant,
    AuditSource,
    Object,
    /// An element whose text is kept: `EventOutcomeDescription`, `ParticipantObjectName`,
    /// `ParticipantObjectQuery`.
    Text(TextSlot),
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextSlot {
    OutcomeDescription,
    ObjectName,
    ObjectQuery,
}

/// One `AuditMessage` of a record and its byte range in the XML.
struct Parsed {
    audit: Audit,
    start: usize,
    end: usize,
}

fn xml_error(e: impl std::fmt::Display, at: u64, record: &[u8], xml_at: usize) -> String {
    let message = e.to_string();
    // The parser's messages quote element names: room for two of them, not for a document.
    let message = match message.char_indices().nth(120) {
        Some((cut, _)) => format!("{}…", message.get(..cut).unwrap_or_default()),
        None => message,
    };
    let (line, column) = line_column(record, xml_at.saturating_add(at as usize));
    format!("not well-formed XML: {message} at line {line} column {column}")
}

/// 1-based line and column (in bytes) of `offset` in `record`.
fn line_column(record: &[u8], offset: usize) -> (usize, usize) {
    let before = record.get(..offset.min(record.len())).unwrap_or(record);
    let line = memchr::memchr_iter(b'\n', before).count() + 1;
    let column = match memchr::memrchr(b'\n', before) {
        Some(nl) => before.len() - nl,
        None => before.len() + 1,
    };
    (line, column)
}

fn value_of(attr: &quick_xml::events::attributes::Attribute<'_>) -> Result<String, String> {
    attr.normalized_value(XmlVersion::Implicit1_0)
        .map(|v| v.into_owned())
        .map_err(|e| e.to_string())
}

/// Reads a coded value's attributes (either style).
fn read_code(e: &BytesStart<'_>) -> Result<Code, String> {
    let mut code = Code::default();
    for attr in e.attributes() {
        let attr = attr.map_err(|e| e.to_string())?;
        match attr.key.local_name().as_ref().as_bytes() {
            b"csd-code" => code.code = Some(value_of(&attr)?),
            b"code" if code.code.is_none() => code.code = Some(value_of(&attr)?),
            b"originalText" => code.display = Some(value_of(&attr)?),
            b"displayName" if code.display.is_none() => code.display = Some(value_of(&attr)?),
            _ => {}
        }
    }
    Ok(code)
}

/// Calls `f` with each attribute's local name and value.
fn each_attr(e: &BytesStart<'_>, mut f: impl FnMut(&[u8], String)) -> Result<(), String> {
    for attr in e.attributes() {
        let attr = attr.map_err(|e| e.to_string())?;
        let value = value_of(&attr)?;
        f(attr.key.local_name().as_ref().as_bytes(), value);
    }
    Ok(())
}

/// What an opening tag (`<x>` or `<x/>`) means where it stands.
fn open(e: &BytesStart<'_>, parent: Option<Elem>, audit: &mut Audit) -> Result<Elem, String> {
    let name = e.local_name();
    let name = name.as_ref().as_bytes();
    Ok(match (parent, name) {
        (Some(Elem::AuditMessage), b"EventIdentification") => {
            each_attr(e, |k, v| match k {
                b"EventActionCode" => audit.action = Some(v),
                b"EventDateTime" => audit.date_time = Some(v),
                b"EventOutcomeIndicator" => audit.outcome = Some(v),
                _ => {}
            })?;
            Elem::EventIdentification
        }
        (Some(Elem::EventIdentification), b"EventID") => {
            audit.event_id = Some(read_code(e)?);
            Elem::Other
        }
        (Some(Elem::EventIdentification), b"EventTypeCode") => {
            audit.event_types.push(read_code(e)?);
            Elem::Other
        }
        (Some(Elem::EventIdentification), b"EventOutcomeDescription") => {
            Elem::Text(TextSlot::OutcomeDescription)
        }
        (Some(Elem::AuditMessage), b"ActiveParticipant") => {
            let mut p = Participant::default();
            each_attr(e, |k, v| match k {
                b"UserID" => p.user_id = Some(v),
                b"AlternativeUserID" => p.alternative_user_id = Some(v),
                b"UserName" => p.user_name = Some(v),
                b"UserIsRequestor" => {
                    p.requestor = v.trim().eq_ignore_ascii_case("true") || v.trim() == "1"
                }
                b"NetworkAccessPointID" => p.access_point = Some(v),
                b"NetworkAccessPointTypeCode" => p.access_point_type = Some(v),
                _ => {}
            })?;
            audit.participants.push(p);
            Elem::ActiveParticipant
        }
        (Some(Elem::ActiveParticipant), b"RoleIDCode") => {
            let code = read_code(e)?;
            if let Some(p) = audit.participants.last_mut() {
                p.roles.push(code);
            }
            Elem::Other
        }
        (Some(Elem::AuditMessage), b"AuditSourceIdentification") => {
            let mut s = AuditSource::default();
            each_attr(e, |k, v| match k {
                b"AuditSourceID" => s.id = Some(v),
                b"AuditEnterpriseSiteID" => s.site = Some(v),
                _ => {}
            })?;
            audit.sources.push(s);
            Elem::AuditSource
        }
        (Some(Elem::AuditSource), b"AuditSourceTypeCode") => {
            let code = read_code(e)?;
            if let Some(s) = audit.sources.last_mut() {
                s.types.push(code);
            }
            Elem::Other
        }
        (Some(Elem::AuditMessage), b"ParticipantObjectIdentification") => {
            let mut o = Object::default();
            each_attr(e, |k, v| match k {
                b"ParticipantObjectID" => o.id = Some(v),
                b"ParticipantObjectTypeCode" => o.type_code = Some(v),
                b"ParticipantObjectTypeCodeRole" => o.role = Some(v),
                _ => {}
            })?;
            audit.objects.push(o);
            Elem::Object
        }
        (Some(Elem::Object), b"ParticipantObjectIDTypeCode") => {
            let code = read_code(e)?;
            if let Some(o) = audit.objects.last_mut() {
                o.id_type = Some(code);
            }
            Elem::Other
        }
        (Some(Elem::Object), b"ParticipantObjectName") => Elem::Text(TextSlot::ObjectName),
        (Some(Elem::Object), b"ParticipantObjectQuery") => Elem::Text(TextSlot::ObjectQuery),
        (Some(Elem::Object), b"ParticipantObjectDetail") => {
            let (mut kind, mut value) = (None, None);
            each_attr(e, |k, v| match k {
                b"type" => kind = Some(v),
                b"value" => value = Some(v),
                _ => {}
            })?;
            if let (Some(kind), Some(value), Some(o)) = (kind, value, audit.objects.last_mut()) {
                o.details.push((kind, value));
            }
            Elem::Other
        }
        _ => Elem::Other,
    })
}

fn text_slot(audit: &mut Audit, slot: TextSlot) -> Option<&mut String> {
    let target = match slot {
        TextSlot::OutcomeDescription => &mut audit.outcome_description,
        TextSlot::ObjectName => &mut audit.objects.last_mut()?.name,
        TextSlot::ObjectQuery => &mut audit.objects.last_mut()?.query,
    };
    Some(target.get_or_insert_with(String::new))
}

/// Every `AuditMessage` in `xml`, or why the XML cannot be read (with its position in
/// `record`, where `xml` starts at `xml_at`).
fn parse_xml(xml: &[u8], record: &[u8], xml_at: usize) -> Result<Vec<Parsed>, String> {
    let mut reader = Reader::from_reader(xml);
    reader.config_mut().trim_text(false);
    let mut parsed = Vec::new();
    let mut stack: Vec<Elem> = Vec::new();
    let mut audit = Audit::default();
    let mut start = 0;
    loop {
        let before = reader.buffer_position() as usize;
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(e) => return Err(xml_error(e, reader.error_position(), record, xml_at)),
        };
        let fail = |reason: String| {
            let (line, column) = line_column(record, xml_at + before);
            format!("{reason} at line {line} column {column}")
        };
        match event {
            Xml::Start(ref e) | Xml::Empty(ref e) => {
                let elem = match stack.last() {
                    None if e.local_name().as_ref() == "AuditMessage" => {
                        audit = Audit::default();
                        start = before;
                        Elem::AuditMessage
                    }
                    None => {
                        let name = e.name().as_ref().to_string();
                        return Err(fail(format!(
                            "root element <{}> is not an AuditMessage",
                            syslog::clip(&name)
                        )));
                    }
                    Some(&parent) => open(e, Some(parent), &mut audit)
                        .map_err(|r| fail(format!("not well-formed XML: {}", syslog::clip(&r))))?,
                };
                if matches!(event, Xml::Start(_)) {
                    stack.push(elem);
                } else if elem == Elem::AuditMessage {
                    parsed.push(Parsed {
                        audit: std::mem::take(&mut audit),
                        start,
                        end: reader.buffer_position() as usize,
                    });
                }
            }
            Xml::End(_) if stack.pop() == Some(Elem::AuditMessage) => {
                parsed.push(Parsed {
                    audit: std::mem::take(&mut audit),
                    start,
                    end: reader.buffer_position() as usize,
                });
            }
            Xml::Text(ref t) => {
                if let Some(Elem::Text(slot)) = stack.last()
                    && let Some(text) = text_slot(&mut audit, *slot)
                {
                    text.push_str(&t.xml_content(XmlVersion::Implicit1_0));
                }
            }
            Xml::CData(ref t) => {
                if let Some(Elem::Text(slot)) = stack.last()
                    && let Some(text) = text_slot(&mut audit, *slot)
                {
                    text.push_str(t.as_ref());
                }
            }
            Xml::GeneralRef(ref r) => {
                if let Some(Elem::Text(slot)) = stack.last() {
                    let resolved = match r.resolve_char_ref() {
                        Ok(Some(c)) => Some(c),
                        Ok(None) => match &*r.xml_content(XmlVersion::Implicit1_0) {
                            "amp" => Some('&'),
                            "lt" => Some('<'),
                            "gt" => Some('>'),
                            "quot" => Some('"'),
                            "apos" => Some('\''),
                            _ => None,
                        },
                        Err(e) => return Err(fail(format!("not well-formed XML: {e}"))),
                    };
                    let Some(c) = resolved else {
                        let name = r.xml_content(XmlVersion::Implicit1_0);
                        return Err(fail(format!(
                            "not well-formed XML: unknown entity &{};",
                            syslog::clip(&name)
                        )));
                    };
                    if let Some(text) = text_slot(&mut audit, *slot) {
                        text.push(c);
                    }
                }
            }
            Xml::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        let (line, column) = line_column(record, xml_at + xml.len());
        return Err(format!(
            "not well-formed XML: cut short, {} element(s) not closed at line {line} column {column}",
            stack.len()
        ));
    }
    if parsed.is_empty() {
        return Err("no AuditMessage element in the XML".into());
    }
    Ok(parsed)
}

fn decode_xml(
    record: &[u8],
    xml_at: usize,
    syslog_header: Option<&syslog::Message<'_>>,
    out: &mut Vec<Decoded>,
) {
    let xml = record.get(xml_at..).unwrap_or_default();
    let parsed = match parse_xml(xml, record, xml_at) {
        Ok(parsed) => parsed,
        Err(reason) => return out.push(Err(DecodeError::record(reason))),
    };
    // One message: the event's raw is the whole record (declaration and syslog header
    // included); several: each message's own bytes, and a failure names its index.
    if let [only] = parsed.as_slice() {
        return out.push(to_event(&only.audit, record, syslog_header).map_err(DecodeError::record));
    }
    for (i, p) in parsed.iter().enumerate() {
        let raw = xml.get(p.start..p.end).unwrap_or(xml);
        out.push(
            to_event(&p.audit, raw, syslog_header)
                .map_err(|r| DecodeError::entry(i as u64, r, raw.to_vec())),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The mapping.

fn to_event(
    audit: &Audit,
    raw: &[u8],
    syslog_header: Option<&syslog::Message<'_>>,
) -> Result<Event, String> {
    let time = match audit.date_time.as_deref() {
        None => return Err("AuditMessage has no EventIdentification EventDateTime".into()),
        Some(text) => Timestamp::parse(text).ok_or_else(|| {
            format!(
                "EventDateTime {:?} is not an xs:dateTime (expected e.g. 2024-05-01T09:30:00Z)",
                syslog::clip(text)
            )
        })?,
    };
    let mut event = Event::from_record(PRODUCT, time, raw.to_vec());
    let event_id = audit.event_id.as_ref();
    let has_type = |code: &str| audit.event_types.iter().any(|t| t.is(code));
    let is_event = |code: &str| event_id.is_some_and(|c| c.is(code));

    event.metadata.event_code = event_id.and_then(|c| c.code.clone());
    event.activity_name = audit
        .event_types
        .iter()
        .find_map(Code::display_or_code)
        .or_else(|| event_id.and_then(Code::display_or_code))
        .map(str::to_string);

    if is_event(dcm::USER_AUTHENTICATION) {
        event.class_uid = class::AUTHENTICATION;
        event.activity_id = if has_type(dcm::LOGIN) {
            auth_activity::LOGON
        } else if has_type(dcm::LOGOUT) {
            auth_activity::LOGOFF
        } else {
            api_activity::OTHER
        };
    } else {
        event.class_uid = class::API_ACTIVITY;
        event.activity_id = match audit.action.as_deref().map(str::trim) {
            // A query reads data whatever action its producer wrote (IHE queries carry E).
            _ if is_event(dcm::QUERY) => api_activity::READ,
            Some("C") => api_activity::CREATE,
            Some("R") => api_activity::READ,
            Some("U") => api_activity::UPDATE,
            Some("D") => api_activity::DELETE,
            _ => api_activity::OTHER,
        };
    }

    let outcome = audit.outcome.as_deref().map(str::trim);
    event.status = match outcome {
        Some("0") => Status::Success,
        Some("4" | "8" | "12") => Status::Failure,
        _ => Status::Unknown,
    };
    event.status_detail = match (&audit.outcome_description, event.status) {
        (Some(d), _) if !d.trim().is_empty() => Some(d.trim().to_string()),
        (_, Status::Failure) => outcome.map(|o| match o {
            "4" => "4 minor failure".to_string(),
            "8" => "8 serious failure".to_string(),
            _ => "12 major failure".to_string(),
        }),
        _ => None,
    };
    event.severity = match event.status {
        Status::Failure => Severity::Medium,
        _ => Severity::Informational,
    };
    if is_event(dcm::SECURITY_ALERT) {
        event.severity = event.severity.max(Severity::High);
    }

    // Who: the requestor that is a user rather than an application role, else any requestor.
    let is_application = |p: &Participant| {
        [
            dcm::SOURCE_ROLE,
            dcm::DESTINATION_ROLE,
            dcm::APPLICATION,
            dcm::APPLICATION_LAUNCHER,
        ]
        .iter()
        .any(|r| p.has_role(r))
    };
    let participants = &audit.participants;
    let user = participants
        .iter()
        .position(|p| p.requestor && !is_application(p))
        .or_else(|| participants.iter().position(|p| p.requestor));
    if let Some(p) = user.and_then(|i| participants.get(i)) {
        let u = &mut event.actor.user;
        u.name = p.user_id.clone().filter(|n| !n.trim().is_empty());
        u.full_name = p.user_name.clone().filter(|n| !n.trim().is_empty());
        u.role = p
            .roles
            .first()
            .and_then(Code::display_or_code)
            .map(str::to_string);
    }
    let source = participants
        .iter()
        .position(|p| p.has_role(dcm::SOURCE_ROLE) && p.endpoint().is_some());
    let src = user
        .filter(|&i| {
            participants
                .get(i)
                .and_then(Participant::endpoint)
                .is_some()
        })
        .or(source);
    if let Some(endpoint) = src
        .and_then(|i| participants.get(i))
        .and_then(Participant::endpoint)
    {
        event.src_endpoint = endpoint;
    }
    let destination = participants
        .iter()
        .position(|p| p.has_role(dcm::DESTINATION_ROLE));
    if let Some(endpoint) = destination
        .and_then(|i| participants.get(i))
        .and_then(Participant::endpoint)
    {
        event.dst_endpoint = endpoint;
    }

    // Where it was recorded: the audit source, else the syslog sender.
    let audit_source = audit.sources.first();
    let host = audit_source
        .and_then(|s| s.id.as_deref())
        .filter(|h| !h.trim().is_empty())
        .or_else(|| syslog_header.and_then(|m| m.hostname));
    if let Some(host) = host {
        event.device = Endpoint::from_address(host);
    }

    // Whose data: the first patient object (person, role patient); a query; a data object.
    let mut patients = audit.objects.iter().filter(|o| o.is("1", "1"));
    let patient = patients.next();
    let mut other_patients: Vec<Value> = patients
        .filter_map(|o| o.id.as_deref())
        .map(|id| Value::String(id.to_string()))
        .collect();
    if let Some(o) = patient {
        if let Some(id) = o.id.as_deref() {
            let mut repetitions = id.split('~');
            let first = repetitions.next().unwrap_or(id);
            let (number, authority) = split_cx(first);
            event.patient.id = Some(number.to_string()).filter(|n| !n.is_empty());
            if let Some(authority) = authority {
                event.unmapped.insert(
                    "patient.assigning_authority".into(),
                    Value::String(authority.to_string()),
                );
            }
            other_patients.splice(0..0, repetitions.map(|r| Value::String(r.to_string())));
        }
        event.patient.name = o.name.as_deref().map(str::trim).map(str::to_string);
    }
    if !other_patients.is_empty() {
        event
            .unmapped
            .insert("patient.other_ids".into(), Value::Array(other_patients));
    }
    if let Some(query) = audit
        .objects
        .iter()
        .filter(|o| o.role.as_deref().map(str::trim) == Some("24"))
        .find_map(|o| o.query.as_deref())
    {
        event.resource.query = Some(decode_base64_text(query.trim()));
    }
    if let Some(o) = audit.objects.iter().find(|o| {
        o.type_code.as_deref().map(str::trim) == Some("2")
            && o.role.as_deref().map(str::trim) != Some("24")
    }) {
        event.resource.id = o.id.clone();
        event.resource.r#type = o
            .id_type
            .as_ref()
            .and_then(Code::display_or_code)
            .map(str::to_string);
    }

    unmapped(audit, &mut event, user, syslog_header);
    Ok(event)
}

/// An HL7 v2 CX identifier's ID number and, when present, its assigning authority (CX.4):
/// `24^^^MPI&2.16.840.1&ISO^PI` → (`24`, `MPI&2.16.840.1&ISO`).
fn split_cx(cx: &str) -> (&str, Option<&str>) {
    let mut components = cx.split('^');
    let number = components.next().unwrap_or(cx);
    let authority = components.nth(2).filter(|a| !a.is_empty());
    (number, authority)
}

/// Base64 text (a query or a detail value) decoded when it is base64 of UTF-8 text; anything
/// else is kept as written.
fn decode_base64_text(text: &str) -> String {
    match base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT.decode(text) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(decoded) => decoded,
            Err(_) => text.to_string(),
        },
        Err(_) => text.to_string(),
    }
}

fn unmapped(
    audit: &Audit,
    event: &mut Event,
    user: Option<usize>,
    syslog_header: Option<&syslog::Message<'_>>,
) {
    let map = &mut event.unmapped;
    if let Some(action) = &audit.action {
        map.insert("EventActionCode".into(), Value::String(action.clone()));
    }
    let types: Vec<Value> = audit
        .event_types
        .iter()
        .filter_map(|t| t.code.as_deref())
        .map(|c| Value::String(c.to_string()))
        .collect();
    if !types.is_empty() {
        map.insert("EventTypeCode".into(), Value::Array(types));
    }
    if let Some(p) = user.and_then(|i| audit.participants.get(i))
        && let Some(alt) = p.alternative_user_id.as_deref().filter(|a| !a.is_empty())
    {
        map.insert("AlternativeUserID".into(), Value::String(alt.to_string()));
    }
    if let Some(source) = audit.sources.first() {
        if let Some(site) = &source.site {
            map.insert("AuditEnterpriseSiteID".into(), Value::String(site.clone()));
        }
        let types: Vec<Value> = source
            .types
            .iter()
            .filter_map(Code::display_or_code)
            .map(|c| Value::String(c.to_string()))
            .collect();
        if !types.is_empty() {
            map.insert("AuditSourceTypeCode".into(), Value::Array(types));
        }
    }
    let mut details = serde_json::Map::new();
    for (kind, value) in audit.objects.iter().flat_map(|o| o.details.iter()) {
        let value = decode_base64_text(value);
        match details.get_mut(kind) {
            Some(Value::String(have)) => {
                have.push_str(", ");
                have.push_str(&value);
            }
            _ => {
                details.insert(kind.clone(), Value::String(value));
            }
        }
    }
    if !details.is_empty() {
        map.insert("ParticipantObjectDetail".into(), Value::Object(details));
    }
    if let Some(m) = syslog_header {
        event.actor.app_name = m.app_name.map(str::to_string);
        if let Some(host) = m.hostname {
            map.insert("syslog.hostname".into(), Value::String(host.to_string()));
        }
        if let Some(msg_id) = m.msg_id {
            map.insert("syslog.msgid".into(), Value::String(msg_id.to_string()));
        }
        if let Some(sd) = m.structured_data {
            for (id, param, value) in syslog::structured_params(sd) {
                map.insert(format!("sd.{id}.{param}"), Value::String(value));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(record: &[u8]) -> Vec<Decoded> {
        let mut out = Vec::new();
        Atna.decode(record, &mut out);
        out
    }

    const LOGIN_FAILURE: &str = r#"<?xml version="1.0"?>
<AuditMessage>
  <EventIdentification EventActionCode="E" EventDateTime="2024-05-01T10:00:00Z" EventOutcomeIndicator="4">
    <EventID code="110114" codeSystemName="DCM" displayName="User Authentication"/>
    <EventTypeCode code="110122" codeSystemName="DCM" displayName="Login"/>
  </EventIdentification>
  <ActiveParticipant UserID="jsmith" UserIsRequestor="true" NetworkAccessPointID="10.1.2.3" NetworkAccessPointTypeCode="2"/>
  <AuditSourceIdentification AuditSourceID="pacs1"/>
</AuditMessage>"#;

    #[test]
    fn rfc3881_login_failure_is_a_failed_logon() {
        let out = decode(LOGIN_FAILURE.as_bytes());
        let [Ok(e)] = out.as_slice() else {
            panic!("{out:?}")
        };
        assert_eq!(
            (e.class_uid, e.activity_id),
            (class::AUTHENTICATION, auth_activity::LOGON)
        );
        assert_eq!(e.status, Status::Failure);
        assert_eq!(e.actor.user.name.as_deref(), Some("jsmith"));
        assert_eq!(e.src_endpoint.ip.as_deref(), Some("10.1.2.3"));
        assert_eq!(e.device.hostname.as_deref(), Some("pacs1"));
        assert_eq!(e.activity_name.as_deref(), Some("Login"));
    }

    #[test]
    fn messages_without_declarations_one_after_another_give_one_event_each() {
        let one = LOGIN_FAILURE.trim_start_matches(r#"<?xml version="1.0"?>"#);
        let two = format!("{one}\n{one}");
        let out = decode(two.as_bytes());
        assert_eq!(out.len(), 2);
        for d in &out {
            let e = d.as_ref().unwrap();
            assert!(e.raw.starts_with(b"<AuditMessage>") && e.raw.ends_with(b"</AuditMessage>"));
        }
    }

    #[test]
    fn malformed_xml_names_the_error_and_position() {
        let bad = LOGIN_FAILURE.replace("</EventIdentification>", "</EventIdentificatio>");
        let out = decode(bad.as_bytes());
        let [Err(e)] = out.as_slice() else {
            panic!("{out:?}")
        };
        assert!(e.reason.starts_with("not well-formed XML"), "{}", e.reason);
        assert!(e.reason.contains("line 6"), "{}", e.reason);
        let cut = &LOGIN_FAILURE.as_bytes()[..200];
        let out = decode(cut);
        let [Err(e)] = out.as_slice() else {
            panic!("{out:?}")
        };
        assert!(e.reason.contains("not well-formed XML"), "{}", e.reason);
    }

    #[test]
    fn cx_identifiers_split_off_their_assigning_authority() {
        assert_eq!(
            split_cx("24^^^MPI&2.16.840.1&ISO^PI"),
            ("24", Some("MPI&2.16.840.1&ISO"))
        );
        assert_eq!(split_cx("p1"), ("p1", None));
    }

    #[test]
    fn sniffs_audit_messages_and_atna_syslog() {
        assert_eq!(Atna.sniff(b"  <AuditMessage xmlns:xsi=\"x\">"), Sniff::Yes);
        assert_eq!(
            Atna.sniff(b"<85>1 2024-05-01T10:00:00Z h app - IHE+RFC-3881 - <?xml"),
            Sniff::Yes
        );
        assert_eq!(Atna.sniff(b"<?xml version=\"1.0\"?>"), Sniff::Maybe);
        assert_eq!(
            Atna.sniff(b"<13>1 2024-05-01T10:00:00Z h app - - - hi"),
            Sniff::No
        );
        assert!(starts_record(b"<?xml version=\"1.0\"?>"));
        assert!(starts_record(
            b"<85>1 2024-05-01T10:00:00Z h app - IHE+RFC-3881 - <?xml"
        ));
        assert!(!starts_record(b"<AuditMessage>"));
        assert!(!starts_record(
            b"  <EventIdentification EventActionCode=\"E\">"
        ));
    }
}
