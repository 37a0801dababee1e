//! IHE ATNA / DICOM PS3.15 A.5 audit messages (`AuditMessage` XML, also in its older RFC 3881
//! form): the audit trail of PACS, integration engines, registries and EHRs that speak IHE.
//! A record is a whole XML document, bare (possibly pretty-printed over many lines) or as the
//! MSG of a syslog message (RFC 5424 MSGID `IHE+RFC-3881` or `DICOM+RFC3881`, or any syslog
//! message whose MSG is XML). Every `AuditMessage` becomes one API Activity or Authentication
//! event; the mapping is the table in `docs/formats.md`.
//!
//! XML is read with `quick-xml` in one pass without building a tree: the attributes and texts
//! the mapping uses are borrowed from the record, and only what the event keeps is copied.
//! Both coded-value styles are read (DICOM `csd-code` / `originalText`, RFC 3881 `code` /
//! `displayName`). Syslog messages in an ATNA feed that do not hold XML get the generic syslog
//! mapping rather than being refused. Malformed XML is refused with the parser's reason and
//! its line and column in the record.

use crate::syslog;
use crate::{DecodeError, Decoded, Decoder, Framing, Sniff};
use base64::Engine as _;
use quick_xml::XmlVersion;
use quick_xml::events::attributes::{Attribute, Attributes};
use quick_xml::events::{BytesStart, Event as Xml};
use quick_xml::reader::Reader;
use serde_json::Value;
use std::borrow::Cow;
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

/// A value read from the XML: borrowed from the record unless normalising it (an entity, a
/// line end in an attribute) or joining its pieces needed a copy. Only what the event keeps is
/// ever copied, once, when the event is built.
type Text<'a> = Cow<'a, str>;

/// A coded value in either style.
#[derive(Debug, Default)]
struct Code<'a> {
    code: Option<Text<'a>>,
    display: Option<Text<'a>>,
}

impl Code<'_> {
    fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    fn display_or_code(&self) -> Option<&str> {
        self.display.as_deref().or(self.code.as_deref())
    }
}

#[derive(Debug, Default)]
struct Participant<'a> {
    user_id: Option<Text<'a>>,
    alternative_user_id: Option<Text<'a>>,
    user_name: Option<Text<'a>>,
    requestor: bool,
    access_point: Option<Text<'a>>,
    access_point_type: Option<Text<'a>>,
    roles: Vec<Code<'a>>,
}

impl Participant<'_> {
    fn has_role(&self, code: &str) -> bool {
        self.roles.iter().any(|r| r.is(code))
    }

    /// The network access point, when one is written: what makes [`Self::endpoint`] `Some`.
    fn access_point(&self) -> Option<&str> {
        self.access_point
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty())
    }

    fn endpoint(&self) -> Option<Endpoint> {
        let address = self.access_point()?;
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
struct AuditSource<'a> {
    id: Option<Text<'a>>,
    site: Option<Text<'a>>,
    types: Vec<Code<'a>>,
}

#[derive(Debug, Default)]
struct Object<'a> {
    id: Option<Text<'a>>,
    type_code: Option<Text<'a>>,
    role: Option<Text<'a>>,
    id_type: Option<Code<'a>>,
    name: Option<Text<'a>>,
    query: Option<Text<'a>>,
    details: Vec<(Text<'a>, Text<'a>)>,
}

impl Object<'_> {
    fn is(&self, type_code: &str, role: &str) -> bool {
        self.type_code.as_deref().map(str::trim) == Some(type_code)
            && self.role.as_deref().map(str::trim) == Some(role)
    }
}

#[derive(Debug, Default)]
struct Audit<'a> {
    action: Option<Text<'a>>,
    date_time: Option<Text<'a>>,
    outcome: Option<Text<'a>>,
    outcome_description: Option<Text<'a>>,
    event_id: Option<Code<'a>>,
    event_types: Vec<Code<'a>>,
    participants: Vec<Participant<'a>>,
    sources: Vec<AuditSource<'a>>,
    objects: Vec<Object<'a>>,
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
struct Parsed<'a> {
    audit: Audit<'a>,
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

/// The text of `tag` (its name and attributes) as a slice of the XML (`xml_text`, the XML as
/// far as it is UTF-8), so that attribute values borrow from the record for as long as the
/// record lives, not just as long as the reader's event.
fn tag_text<'a>(xml_text: &'a str, tag: &BytesStart<'_>) -> Result<&'a str, String> {
    // The reader hands out tags as slices of the XML it reads: the distance between the two
    // is the tag's offset.
    let at = (tag.as_ptr() as usize).wrapping_sub(xml_text.as_ptr() as usize);
    at.checked_add(tag.len())
        .and_then(|end| xml_text.get(at..end))
        .ok_or_else(|| "the parser gave a tag that is not part of the record".to_string())
}

/// How many attributes a tag may have for [`plain_attributes`] to read them: ATNA elements
/// have up to six; a longer tag is read by quick-xml.
const PLAIN_ATTRIBUTES: usize = 8;

/// A tag's attributes (names as written, values) when every one is written plainly:
/// `name="value"` or `name='value'`, separated by whitespace, a value with nothing to
/// normalise (no reference, tab or line end), no name twice. Then these are exactly the
/// names and values quick-xml's attribute iterator would give, found in one scan without its
/// per-tag bookkeeping (an allocated list of names). Anything else is `None`, and quick-xml
/// reads the tag and names what is wrong.
fn plain_attributes(
    tag: &str,
    name_len: usize,
) -> Option<([(&str, &str); PLAIN_ATTRIBUTES], usize)> {
    // Byte by byte: names and values are short, and every delimiter is ASCII, so each slice
    // below starts and ends on a character boundary.
    let is_space = |b: u8| matches!(b, b' ' | b'\r' | b'\n' | b'\t');
    let bytes = tag.as_bytes();
    let mut pairs = [("", ""); PLAIN_ATTRIBUTES];
    let mut count = 0;
    let mut at = name_len;
    loop {
        let spaces = bytes
            .get(at..)?
            .iter()
            .take_while(|&&b| is_space(b))
            .count();
        let name_start = at + spaces;
        if name_start == bytes.len() {
            return Some((pairs, count));
        }
        if spaces == 0 {
            return None;
        }
        let eq = name_start
            + bytes
                .get(name_start..)?
                .iter()
                .position(|&b| b == b'=' || is_space(b))?;
        let quote = *bytes.get(eq + 1)?;
        if eq == name_start || bytes.get(eq) != Some(&b'=') || (quote != b'"' && quote != b'\'') {
            return None;
        }
        let value_start = eq + 2;
        let value_end = value_start
            + bytes
                .get(value_start..)?
                .iter()
                .position(|&b| b == quote || matches!(b, b'\t' | b'\r' | b'\n' | b'&'))?;
        if bytes.get(value_end) != Some(&quote) {
            return None;
        }
        let name = tag.get(name_start..eq)?;
        if pairs.iter().take(count).any(|&(n, _)| n == name) {
            return None;
        }
        *pairs.get_mut(count)? = (name, tag.get(value_start..value_end)?);
        count += 1;
        at = value_end + 1;
    }
}

/// `name` without its namespace prefix (up to and including the first `:`), as quick-xml's
/// `local_name` gives it, by a byte scan rather than a character search.
fn local(name: &str) -> &[u8] {
    let name = name.as_bytes();
    match name.iter().position(|&b| b == b':') {
        Some(colon) => name.get(colon + 1..).unwrap_or_default(),
        None => name,
    }
}

fn value_of<'a>(attr: &Attribute<'a>) -> Result<Text<'a>, String> {
    attr.normalized_value(XmlVersion::Implicit1_0)
        .map_err(|e| e.to_string())
}

/// Reads a coded value's attributes (either style) from `tag` (see [`tag_text`]).
fn read_code<'a>(tag: &'a str, name_len: usize) -> Result<Code<'a>, String> {
    let mut code = Code::default();
    if let Some((pairs, count)) = plain_attributes(tag, name_len) {
        for &(name, value) in pairs.iter().take(count) {
            code_attribute(&mut code, local(name), || Ok(Cow::Borrowed(value)))?;
        }
        return Ok(code);
    }
    for attr in Attributes::new(tag, name_len) {
        let attr = attr.map_err(|e| e.to_string())?;
        code_attribute(&mut code, local(attr.key.into_inner()), || value_of(&attr))?;
    }
    Ok(code)
}

/// One attribute of a coded value: its value is read (and may be refused) only when kept.
fn code_attribute<'a>(
    code: &mut Code<'a>,
    name: &[u8],
    value: impl FnOnce() -> Result<Text<'a>, String>,
) -> Result<(), String> {
    match name {
        b"csd-code" => code.code = Some(value()?),
        b"code" if code.code.is_none() => code.code = Some(value()?),
        b"originalText" => code.display = Some(value()?),
        b"displayName" if code.display.is_none() => code.display = Some(value()?),
        _ => {}
    }
    Ok(())
}

/// Calls `f` with each attribute's local name and value, from `tag` (see [`tag_text`]).
fn each_attr<'a>(
    tag: &'a str,
    name_len: usize,
    mut f: impl FnMut(&[u8], Text<'a>),
) -> Result<(), String> {
    if let Some((pairs, count)) = plain_attributes(tag, name_len) {
        for &(name, value) in pairs.iter().take(count) {
            f(local(name), Cow::Borrowed(value));
        }
        return Ok(());
    }
    for attr in Attributes::new(tag, name_len) {
        let attr = attr.map_err(|e| e.to_string())?;
        let value = value_of(&attr)?;
        f(local(attr.key.into_inner()), value);
    }
    Ok(())
}

/// What an opening tag (`<x>` or `<x/>`) means where it stands; `xml_text` is the XML as far
/// as it is UTF-8 (see [`tag_text`]).
fn open<'a>(
    e: &BytesStart<'_>,
    xml_text: &'a str,
    parent: Option<Elem>,
    audit: &mut Audit<'a>,
) -> Result<Elem, String> {
    let name = local(e.name().into_inner());
    let tag = || tag_text(xml_text, e);
    let name_len = e.name().as_ref().len();
    Ok(match (parent, name) {
        (Some(Elem::AuditMessage), b"EventIdentification") => {
            each_attr(tag()?, name_len, |k, v| match k {
                b"EventActionCode" => audit.action = Some(v),
                b"EventDateTime" => audit.date_time = Some(v),
                b"EventOutcomeIndicator" => audit.outcome = Some(v),
                _ => {}
            })?;
            Elem::EventIdentification
        }
        (Some(Elem::EventIdentification), b"EventID") => {
            audit.event_id = Some(read_code(tag()?, name_len)?);
            Elem::Other
        }
        (Some(Elem::EventIdentification), b"EventTypeCode") => {
            audit.event_types.push(read_code(tag()?, name_len)?);
            Elem::Other
        }
        (Some(Elem::EventIdentification), b"EventOutcomeDescription") => {
            Elem::Text(TextSlot::OutcomeDescription)
        }
        (Some(Elem::AuditMessage), b"ActiveParticipant") => {
            let mut p = Participant::default();
            each_attr(tag()?, name_len, |k, v| match k {
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
            let code = read_code(tag()?, name_len)?;
            if let Some(p) = audit.participants.last_mut() {
                p.roles.push(code);
            }
            Elem::Other
        }
        (Some(Elem::AuditMessage), b"AuditSourceIdentification") => {
            let mut s = AuditSource::default();
            each_attr(tag()?, name_len, |k, v| match k {
                b"AuditSourceID" => s.id = Some(v),
                b"AuditEnterpriseSiteID" => s.site = Some(v),
                _ => {}
            })?;
            audit.sources.push(s);
            Elem::AuditSource
        }
        (Some(Elem::AuditSource), b"AuditSourceTypeCode") => {
            let code = read_code(tag()?, name_len)?;
            if let Some(s) = audit.sources.last_mut() {
                s.types.push(code);
            }
            Elem::Other
        }
        (Some(Elem::AuditMessage), b"ParticipantObjectIdentification") => {
            let mut o = Object::default();
            each_attr(tag()?, name_len, |k, v| match k {
                b"ParticipantObjectID" => o.id = Some(v),
                b"ParticipantObjectTypeCode" => o.type_code = Some(v),
                b"ParticipantObjectTypeCodeRole" => o.role = Some(v),
                _ => {}
            })?;
            audit.objects.push(o);
            Elem::Object
        }
        (Some(Elem::Object), b"ParticipantObjectIDTypeCode") => {
            let code = read_code(tag()?, name_len)?;
            if let Some(o) = audit.objects.last_mut() {
                o.id_type = Some(code);
            }
            Elem::Other
        }
        (Some(Elem::Object), b"ParticipantObjectName") => Elem::Text(TextSlot::ObjectName),
        (Some(Elem::Object), b"ParticipantObjectQuery") => Elem::Text(TextSlot::ObjectQuery),
        (Some(Elem::Object), b"ParticipantObjectDetail") => {
            let (mut kind, mut value) = (None, None);
            each_attr(tag()?, name_len, |k, v| match k {
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

fn text_slot<'s, 'a>(audit: &'s mut Audit<'a>, slot: TextSlot) -> Option<&'s mut Option<Text<'a>>> {
    Some(match slot {
        TextSlot::OutcomeDescription => &mut audit.outcome_description,
        TextSlot::ObjectName => &mut audit.objects.last_mut()?.name,
        TextSlot::ObjectQuery => &mut audit.objects.last_mut()?.query,
    })
}

/// Adds a piece of an element's text (the reader splits text at entities): the first piece
/// is kept borrowed, a second makes a copy.
fn append<'a>(text: &mut Option<Text<'a>>, piece: Text<'a>) {
    match text {
        None => *text = Some(piece),
        Some(have) => have.to_mut().push_str(&piece),
    }
}

/// The longest start of `xml` that is UTF-8: all of it unless the reader is going to refuse
/// it at the first byte that is not.
fn utf8_prefix(xml: &[u8]) -> &str {
    match std::str::from_utf8(xml) {
        Ok(text) => text,
        Err(e) => xml
            .get(..e.valid_up_to())
            .and_then(|valid| std::str::from_utf8(valid).ok())
            .unwrap_or_default(),
    }
}

/// Every `AuditMessage` in `xml`, or why the XML cannot be read (with its position in
/// `record`, where `xml` starts at `xml_at`).
fn parse_xml<'a>(xml: &'a [u8], record: &[u8], xml_at: usize) -> Result<Vec<Parsed<'a>>, String> {
    let xml_text = utf8_prefix(xml);
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
                    None if local(e.name().into_inner()) == b"AuditMessage" => {
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
                    Some(&parent) => open(e, xml_text, Some(parent), &mut audit)
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
                    append(text, t.xml_content(XmlVersion::Implicit1_0));
                }
            }
            Xml::CData(ref t) => {
                if let Some(Elem::Text(slot)) = stack.last()
                    && let Some(text) = text_slot(&mut audit, *slot)
                {
                    append(text, t.clone().into_inner());
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
                        text.get_or_insert_default().to_mut().push(c);
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
    audit: &Audit<'_>,
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

    event.metadata.event_code = event_id.and_then(|c| c.code.as_deref()).map(str::to_string);
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
    event.status_detail = match (audit.outcome_description.as_deref(), event.status) {
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
        u.name = p
            .user_id
            .as_deref()
            .filter(|n| !n.trim().is_empty())
            .map(str::to_string);
        u.full_name = p
            .user_name
            .as_deref()
            .filter(|n| !n.trim().is_empty())
            .map(str::to_string);
        u.role = p
            .roles
            .first()
            .and_then(Code::display_or_code)
            .map(str::to_string);
    }
    let source = participants
        .iter()
        .position(|p| p.has_role(dcm::SOURCE_ROLE) && p.access_point().is_some());
    let src = user
        .filter(|&i| {
            participants
                .get(i)
                .and_then(Participant::access_point)
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
                    "patient.assigning_authority",
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
            .insert("patient.other_ids", Value::Array(other_patients));
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
        event.resource.id = o.id.as_deref().map(str::to_string);
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
    audit: &Audit<'_>,
    event: &mut Event,
    user: Option<usize>,
    syslog_header: Option<&syslog::Message<'_>>,
) {
    let map = &mut event.unmapped;
    if let Some(action) = &audit.action {
        map.insert("EventActionCode", Value::String(action.to_string()));
    }
    let types: Vec<Value> = audit
        .event_types
        .iter()
        .filter_map(|t| t.code.as_deref())
        .map(|c| Value::String(c.to_string()))
        .collect();
    if !types.is_empty() {
        map.insert("EventTypeCode", Value::Array(types));
    }
    if let Some(p) = user.and_then(|i| audit.participants.get(i))
        && let Some(alt) = p.alternative_user_id.as_deref().filter(|a| !a.is_empty())
    {
        map.insert("AlternativeUserID", Value::String(alt.to_string()));
    }
    if let Some(source) = audit.sources.first() {
        if let Some(site) = &source.site {
            map.insert("AuditEnterpriseSiteID", Value::String(site.to_string()));
        }
        let types: Vec<Value> = source
            .types
            .iter()
            .filter_map(Code::display_or_code)
            .map(|c| Value::String(c.to_string()))
            .collect();
        if !types.is_empty() {
            map.insert("AuditSourceTypeCode", Value::Array(types));
        }
    }
    let mut details = serde_json::Map::new();
    for (kind, value) in audit.objects.iter().flat_map(|o| o.details.iter()) {
        let value = decode_base64_text(value);
        match details.get_mut(kind.as_ref()) {
            Some(Value::String(have)) => {
                have.push_str(", ");
                have.push_str(&value);
            }
            _ => {
                details.insert(kind.to_string(), Value::String(value));
            }
        }
    }
    if !details.is_empty() {
        map.insert("ParticipantObjectDetail", Value::Object(details));
    }
    if let Some(m) = syslog_header {
        event.actor.app_name = m.app_name.map(str::to_string);
        if let Some(host) = m.hostname {
            map.insert("syslog.hostname", Value::String(host.to_string()));
        }
        if let Some(msg_id) = m.msg_id {
            map.insert("syslog.msgid", Value::String(msg_id.to_string()));
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
    fn plain_attribute_scan_reads_what_quick_xml_reads_or_leaves_the_tag_to_it() {
        let quick_xml = |tag: &str| -> Result<Vec<(String, String)>, String> {
            Attributes::new(tag, 1)
                .map(|a| {
                    let a = a.map_err(|e| e.to_string())?;
                    Ok((a.key.0.to_string(), value_of(&a)?.into_owned()))
                })
                .collect()
        };
        let plain = |tag: &str| {
            plain_attributes(tag, 1).map(|(pairs, count)| {
                let pairs = pairs.iter().take(count);
                pairs
                    .map(|&(n, v)| (n.to_string(), v.to_string()))
                    .collect::<Vec<_>>()
            })
        };
        // Written plainly: the scan reads them, exactly as quick-xml does.
        for tag in [
            "x",
            "x ",
            r#"x a="1" b='2'"#,
            "x\n\ta=\"1\"\r\n xsi:type=\"é\" ",
            r#"x a="" b="'" c='"'"#,
            r#"x a"b="1""#,
        ] {
            assert_eq!(plain(tag).ok_or(tag.to_string()), quick_xml(tag), "{tag}");
        }
        // Anything else is left to quick-xml: what it normalises, accepts or refuses.
        for tag in [
            r#"x a="1"b="2""#,
            r#"x a = "1""#,
            r#"x a="1" a="2""#,
            r#"x a="1 &amp; 2""#,
            r#"x a="&bogus;""#,
            "x a=\"1\n2\"",
            r#"x a=1"#,
            r#"x a="1"#,
            r#"x ="1""#,
            r#"x a"#,
        ] {
            assert_eq!(plain(tag), None, "{tag}");
        }
        let many: String = (0..PLAIN_ATTRIBUTES + 1)
            .map(|i| format!(" a{i}=\"{i}\""))
            .collect();
        assert_eq!(plain(&format!("x{many}")), None);
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
