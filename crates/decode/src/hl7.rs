//! HL7 v2 messages, above all ADT (admit, transfer, discharge, register, update, cancels), as
//! integration engines write them to files or send them over MLLP: segments separated by `\r`,
//! `\n` or `\r\n`, each message starting with `MSH`, optionally wrapped in MLLP's `0x0B …
//! 0x1C 0x0D`. A record is one message (the decoder's framing starts a record at each line
//! that begins with `MSH|`), or several messages on one line separated by `\r` only, which
//! are split at every segment that starts with `MSH`.
//!
//! Two outputs from the same parse:
//! - events ([`Hl7v2`]): each message becomes one Base Event (OCSF has no class for patient
//!   administration; the trigger names the activity: `A01` admit …) carrying the patient, the
//!   visit as `resource`, and the segment fields a rule may want under `unmapped.PV1.7` …;
//! - context ([`adt_context`]): each ADT message becomes a `Patient` and, when it names a visit
//!   number, an `Encounter` with its care team, so that privacy analytics can explain an access
//!   by a care relationship. Ids are the MRN and the visit number, so a later A08 replaces what
//!   A01 said. Messages of other types (ORU, ORM …) give events but no context.
//!
//! The parser is hand-written (no HL7 library): it reads the delimiters from MSH-1/MSH-2,
//! splits components, repetitions and subcomponents, and undoes the escapes `\F\ \S\ \T\ \R\
//! \E\` (and `\X..\` hex, `\.br\`). Text that is not UTF-8 is read as ISO-8859-1, the usual
//! HL7 v2 character set. It never panics, does no IO, and allocates in proportion to the
//! message. The mapping is the table in `docs/formats.md`.

use crate::{DecodeError, Decoded, Decoder, Framing, Sniff};
use chrono::NaiveDate;
use serde_json::Value;
use std::borrow::Cow;
use ward_model::context::{Address, Identifier, Participant, PersonName};
use ward_model::event::class;
use ward_model::{ContextKind, ContextResource, ContextSummary, Event, Severity, Timestamp};

const PRODUCT: &str = "hl7";

/// MLLP's start and end of block.
const MLLP_START: u8 = 0x0B;
const MLLP_END: u8 = 0x1C;

/// OCSF `activity_id` "Other": the trigger, not a number, says what happened.
const OTHER: u8 = 99;

/// The HL7 v2 decoder.
pub struct Hl7v2;

impl Decoder for Hl7v2 {
    fn name(&self) -> &'static str {
        PRODUCT
    }

    fn description(&self) -> &'static str {
        "HL7 v2 messages (ADT A01-A13 …), one per MSH, plain or MLLP-framed"
    }

    fn framing(&self) -> Framing {
        Framing::Grouped(starts_message)
    }

    fn sniff(&self, record: &[u8]) -> Sniff {
        if starts_message(record.trim_ascii_start()) {
            Sniff::Yes
        } else {
            Sniff::No
        }
    }

    fn decode(&self, record: &[u8], out: &mut Vec<Decoded>) {
        for_each_message(record, |message| match message {
            Ok(message) => out.push(to_event(&message).map_err(|reason| message.error(reason))),
            Err(e) => out.push(Err(e)),
        });
    }
}

/// True for a line that starts a message: `MSH` and its field separator, perhaps after MLLP's
/// start-of-block byte.
pub fn starts_message(line: &[u8]) -> bool {
    let line = line.strip_prefix(&[MLLP_START]).unwrap_or(line);
    line.len() > 3 && line.starts_with(b"MSH") && is_delimiter(line[3])
}

fn is_delimiter(b: u8) -> bool {
    b.is_ascii_punctuation()
}

/// Parses the organisation context in HL7 v2 ADT messages: a `Patient` from PID (and NK1) and
/// an `Encounter` from PV1 (and ROL) for every ADT message of `record`. Messages of other types
/// hold no context and are skipped; a message that cannot be read is an error.
pub fn adt_context(record: &[u8], out: &mut Vec<Result<ContextResource, DecodeError>>) {
    for_each_message(record, |message| match message {
        Ok(message) => {
            if let Err(reason) = context_of(&message, out) {
                out.push(Err(message.error(reason)));
            }
        }
        Err(e) => out.push(Err(e)),
    });
}

// ---------------------------------------------------------------------------------------------
// Cutting a record into messages and segments.

/// The delimiters a message declares in MSH-1 and MSH-2.
#[derive(Clone, Copy)]
struct Delimiters {
    field: u8,
    component: u8,
    repetition: u8,
    escape: Option<u8>,
    subcomponent: u8,
}

/// One segment: its fields indexed by HL7's numbering (`fields[3]` is `PID-3`; for MSH,
/// `fields[1]` is the field separator itself, as the standard counts it).
struct Segment<'a> {
    name: &'a [u8],
    fields: Vec<&'a [u8]>,
}

impl<'a> Segment<'a> {
    fn field(&self, n: usize) -> &'a [u8] {
        self.fields.get(n).copied().unwrap_or_default()
    }

    /// Whether the segment is `name`, compared in line: names are three bytes, and a call
    /// to `memcmp` for each of the few dozen lookups of a message costs more than the bytes.
    fn is(&self, name: &[u8]) -> bool {
        self.name.len() == name.len() && self.name.iter().zip(name).all(|(a, b)| a == b)
    }
}

struct Message<'a> {
    /// The message's bytes in the record, from `MSH` to the end of its last segment.
    raw: &'a [u8],
    /// Which message of the record this is, and whether the record holds more than one.
    index: u64,
    several: bool,
    delimiters: Delimiters,
    text: Text<'a>,
    segments: Vec<Segment<'a>>,
}

/// A message's bytes as text, when all of them are UTF-8 (nearly always): a part of the
/// message is then sliced from that text rather than validated again (validating each field
/// of a few bytes on its own cost as much as the rest of reading it).
#[derive(Clone, Copy)]
struct Text<'a> {
    raw: &'a [u8],
    whole: Option<&'a str>,
}

impl<'a> Text<'a> {
    /// No text known: every part is validated on its own.
    const NONE: Text<'static> = Text {
        raw: &[],
        whole: None,
    };

    fn of(raw: &'a [u8]) -> Self {
        Text {
            raw,
            whole: std::str::from_utf8(raw).ok(),
        }
    }

    /// `bytes` as text: UTF-8, else ISO-8859-1 (see [`latin1_or_utf8`]). Bytes that lie in
    /// the message are the same bytes as its text at the same offset.
    fn get(self, bytes: &'a [u8]) -> Cow<'a, str> {
        let offset = (bytes.as_ptr() as usize).wrapping_sub(self.raw.as_ptr() as usize);
        let sliced = self
            .whole
            .and_then(|whole| whole.get(offset..offset.checked_add(bytes.len())?));
        match sliced {
            Some(text) => Cow::Borrowed(text),
            None => latin1_or_utf8(bytes),
        }
    }
}

impl<'a> Message<'a> {
    fn error(&self, reason: String) -> DecodeError {
        if self.several {
            DecodeError::entry(self.index, reason, self.raw.to_vec())
        } else {
            DecodeError::record(reason)
        }
    }

    fn segment(&self, name: &[u8]) -> Option<&Segment<'a>> {
        self.segments.iter().find(|s| s.is(name))
    }

    fn all(&self, name: &'a [u8]) -> impl Iterator<Item = &Segment<'a>> {
        self.segments.iter().filter(move |s| s.is(name))
    }

    /// `SEG-n` of the first segment `SEG`, as written (empty when absent).
    fn field(&self, name: &[u8], n: usize) -> &'a [u8] {
        self.segment(name).map(|s| s.field(n)).unwrap_or_default()
    }

    /// Component `c` (1-based) of the first repetition of `field`, escapes undone.
    fn component(&self, field: &[u8], c: usize) -> Option<String> {
        self.component_text(field, c).map(Cow::into_owned)
    }

    /// As [`Message::component`], borrowed from the message when nothing had to be undone.
    fn component_text(&self, field: &'a [u8], c: usize) -> Option<Cow<'a, str>> {
        let first = first_repetition(field, self.delimiters);
        component_text(first, c, self.delimiters, self.text)
    }

    /// The field as written, for `unmapped` (HL7 encoding kept: components stay
    /// `^`-separated).
    fn written(&self, field: &'a [u8]) -> Option<Value> {
        (!field.is_empty()).then(|| Value::String(self.text.get(field).into_owned()))
    }

    fn repetitions(&self, field: &'a [u8]) -> impl Iterator<Item = &'a [u8]> {
        field
            .split(move |&b| b == self.delimiters.repetition)
            .filter(|r| !r.is_empty())
    }

    /// `(code, trigger)` from MSH-9, the trigger falling back to EVN-1.
    fn message_type(&self) -> Result<(Cow<'a, str>, Cow<'a, str>), String> {
        let msh9 = self.field(b"MSH", 9);
        let Some(code) = self.component_text(msh9, 1) else {
            let written = self.segment(b"MSH").map_or(0, |s| s.fields.len());
            return Err(if written <= 9 {
                format!(
                    "MSH is truncated after MSH-{}: no message type (MSH-9)",
                    written.saturating_sub(1)
                )
            } else {
                "MSH-9 message type is empty: expected e.g. ADT^A01".into()
            });
        };
        let trigger = self
            .component_text(msh9, 2)
            .or_else(|| self.component_text(self.field(b"EVN", 1), 1))
            .unwrap_or_default();
        Ok((code, trigger))
    }
}

fn first_repetition(field: &[u8], d: Delimiters) -> &[u8] {
    nth_part(field, d.repetition, 0).unwrap_or_default()
}

/// Part `n` (0-based) of `bytes` cut at every `separator`, `None` when there are fewer.
/// Fields and components are a few bytes long: a plain scan beats `memchr`'s set-up.
fn nth_part(bytes: &[u8], separator: u8, n: usize) -> Option<&[u8]> {
    bytes.split(|&b| b == separator).nth(n)
}

/// Component `c` (1-based) of one repetition: its first subcomponent, escapes undone, `None`
/// when empty or HL7's explicit null `""`.
fn component_of(repetition: &[u8], c: usize, d: Delimiters) -> Option<String> {
    component_text(repetition, c, d, Text::NONE).map(Cow::into_owned)
}

/// As [`component_of`], borrowed from the message (`text`) when nothing had to be undone.
fn component_text<'a>(
    repetition: &'a [u8],
    c: usize,
    d: Delimiters,
    text: Text<'a>,
) -> Option<Cow<'a, str>> {
    let component = nth_part(repetition, d.component, c.checked_sub(1)?)?;
    let sub = nth_part(component, d.subcomponent, 0).unwrap_or_default();
    let kept = |trimmed: &str| !trimmed.is_empty() && trimmed != "\"\"";
    match unescape(sub, d, text) {
        Cow::Borrowed(text) => Some(Cow::Borrowed(trim(text))).filter(|t| kept(t)),
        Cow::Owned(text) => {
            let trimmed = trim(&text);
            kept(trimmed).then(|| Cow::Owned(trimmed.to_string()))
        }
    }
}

/// `text.trim()`, answered without decoding characters when the text starts and ends with
/// ASCII that is not white space, as nearly every HL7 component does.
fn trim(text: &str) -> &str {
    let not_space =
        |b: Option<&u8>| b.is_some_and(|&b| b.is_ascii() && !char::from(b).is_whitespace());
    let bytes = text.as_bytes();
    if not_space(bytes.first()) && not_space(bytes.last()) {
        text
    } else {
        text.trim()
    }
}

/// Calls `each` with every message of `record`, or with the error that stops one.
fn for_each_message<'a>(record: &'a [u8], mut each: impl FnMut(Result<Message<'a>, DecodeError>)) {
    let segments = segment_slices(record);
    let starts: Vec<usize> = segments
        .iter()
        .enumerate()
        .filter(|(_, s)| starts_message(s))
        .map(|(i, _)| i)
        .collect();
    let several = starts.len() > 1;
    if starts.first() != Some(&0) {
        let Some(first) = segments.first() else {
            return each(Err(DecodeError::record(
                "empty record: expected an HL7 v2 message starting with MSH",
            )));
        };
        let reason = format!(
            "not an HL7 v2 message: expected an MSH segment first, found {}",
            shown(first)
        );
        let Some(&next) = starts.first() else {
            return each(Err(DecodeError::record(reason)));
        };
        let raw = span(
            record,
            segments.first().copied(),
            segments.get(next - 1).copied(),
        );
        each(Err(DecodeError::entry(0, reason, raw.to_vec())));
    }
    for (n, &start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(segments.len());
        let Some(own) = segments.get(start..end) else {
            continue;
        };
        let raw = span(record, own.first().copied(), own.last().copied());
        let index = n as u64 + u64::from(starts.first() != Some(&0));
        each(parse_message(raw, own, index, several));
    }
}

/// The segments of a record: split at `\r` and `\n`, MLLP bytes and blank lines dropped.
fn segment_slices(record: &[u8]) -> Vec<&[u8]> {
    let mut segments = Vec::with_capacity(16);
    let mut start = 0;
    let ends = memchr::memchr2_iter(b'\r', b'\n', record).chain(std::iter::once(record.len()));
    for end in ends {
        let s = record.get(start..end).unwrap_or_default();
        start = end + 1;
        let s = s.strip_prefix(&[MLLP_END]).unwrap_or(s);
        let s = s.strip_prefix(&[MLLP_START]).unwrap_or(s);
        let s = s.strip_suffix(&[MLLP_END]).unwrap_or(s);
        if !s.trim_ascii().is_empty() {
            segments.push(s);
        }
    }
    segments
}

/// The bytes of `record` from the start of `first` to the end of `last`, both slices of it.
fn span<'a>(record: &'a [u8], first: Option<&'a [u8]>, last: Option<&'a [u8]>) -> &'a [u8] {
    let base = record.as_ptr() as usize;
    let (Some(first), Some(last)) = (first, last) else {
        return &[];
    };
    let start = (first.as_ptr() as usize).saturating_sub(base);
    let end = (last.as_ptr() as usize + last.len()).saturating_sub(base);
    record.get(start..end).unwrap_or_default()
}

fn parse_message<'a>(
    raw: &'a [u8],
    segments: &[&'a [u8]],
    index: u64,
    several: bool,
) -> Result<Message<'a>, DecodeError> {
    let fail = |reason: String| {
        if several {
            DecodeError::entry(index, reason, raw.to_vec())
        } else {
            DecodeError::record(reason)
        }
    };
    let msh = segments.first().copied().unwrap_or_default();
    let field = msh.get(3).copied().unwrap_or(b'|');
    let encoding = msh
        .get(4..)
        .unwrap_or_default()
        .split(|&b| b == field)
        .next()
        .unwrap_or_default();
    let [component, repetition, rest @ ..] = encoding else {
        return Err(fail(format!(
            "MSH-2 encoding characters {} are incomplete: expected e.g. ^~\\&",
            shown(encoding)
        )));
    };
    let (escape, subcomponent) = match rest {
        [] => (None, b'&'),
        [escape] => (Some(*escape), b'&'),
        [escape, sub, ..] => (Some(*escape), *sub),
    };
    let delimiters = Delimiters {
        field,
        component: *component,
        repetition: *repetition,
        escape,
        subcomponent,
    };
    let all = [field, *component, *repetition, subcomponent];
    if all.iter().any(|&b| !is_delimiter(b))
        || all
            .iter()
            .enumerate()
            .any(|(i, b)| all.get(i + 1..).unwrap_or_default().contains(b))
    {
        return Err(fail(format!(
            "MSH-1/MSH-2 delimiters {} are not distinct punctuation",
            shown(msh.get(3..8).unwrap_or(msh))
        )));
    }
    let segments = segments
        .iter()
        .map(|s| {
            let mut fields = split_fields(s, field);
            let name = fields.first().copied().unwrap_or_default();
            if name == b"MSH" {
                // MSH-1 is the separator itself; MSH-2 is the first field written.
                fields.insert(1, msh.get(3..4).unwrap_or_default());
            }
            Segment { name, fields }
        })
        .collect();
    Ok(Message {
        raw,
        index,
        several,
        delimiters,
        text: Text::of(raw),
        segments,
    })
}

/// The parts of `bytes` cut at every `separator`.
fn split_fields(bytes: &[u8], separator: u8) -> Vec<&[u8]> {
    // Room for a field every two bytes, up to 64: PV1's 46 mostly empty fields without
    // growing, in an allocation small enough for the allocator's per-thread cache (a larger
    // one makes glibc consolidate its free lists, which costs more than the whole segment).
    let mut parts = Vec::with_capacity((bytes.len() / 2 + 2).min(64));
    parts.extend(bytes.split(|&b| b == separator));
    parts
}

/// A few bytes of input for an error message, lossily as text.
fn shown(bytes: &[u8]) -> String {
    let cut = bytes.get(..bytes.len().min(24)).unwrap_or(bytes);
    let text = String::from_utf8_lossy(cut);
    if cut.len() < bytes.len() {
        format!("{:?}…", text)
    } else {
        format!("{text:?}")
    }
}

/// Undoes HL7 escapes; unknown escapes are kept as written. Text that is not UTF-8 is taken
/// as ISO-8859-1; `text` reads the message's own bytes.
fn unescape<'a>(bytes: &'a [u8], d: Delimiters, text: Text<'a>) -> Cow<'a, str> {
    let Some(escape) = d.escape.filter(|e| bytes.contains(e)) else {
        return text.get(bytes);
    };
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some(at) = rest.iter().position(|&b| b == escape) {
        out.extend_from_slice(rest.get(..at).unwrap_or_default());
        let after = rest.get(at + 1..).unwrap_or_default();
        let Some(close) = after.iter().position(|&b| b == escape) else {
            out.extend_from_slice(rest.get(at..).unwrap_or_default());
            rest = &[];
            break;
        };
        let code = after.get(..close).unwrap_or_default();
        match code {
            b"F" => out.push(d.field),
            b"S" => out.push(d.component),
            b"T" => out.push(d.subcomponent),
            b"R" => out.push(d.repetition),
            b"E" => out.push(escape),
            b".br" => out.push(b'\n'),
            b"H" | b"N" => {}
            [b'X', hex @ ..] if hex.len() % 2 == 0 && hex.iter().all(u8::is_ascii_hexdigit) => {
                out.extend(hex.chunks(2).filter_map(|pair| {
                    std::str::from_utf8(pair)
                        .ok()
                        .and_then(|p| u8::from_str_radix(p, 16).ok())
                }));
            }
            _ => {
                out.push(escape);
                out.extend_from_slice(code);
                out.push(escape);
            }
        }
        rest = after.get(close + 1..).unwrap_or_default();
    }
    out.extend_from_slice(rest);
    Cow::Owned(latin1_or_utf8(&out).into_owned())
}

fn latin1_or_utf8(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
    }
}

// ---------------------------------------------------------------------------------------------
// Dates and times.

/// HL7 DTM `YYYY[MM[DD[HH[MM[SS[.S…]]]]]][+/-ZZZZ]` as an instant; without an offset the time
/// is taken as UTC. At least a full date is required.
fn parse_dtm(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    let (body, offset) = match text.bytes().position(|b| b == b'+' || b == b'-') {
        Some(at) => (text.get(..at)?, Some(text.get(at..)?)),
        None => (text, None),
    };
    let (digits, fraction) = match body.split_once('.') {
        Some((d, f)) => (d, Some(f)),
        None => (body, None),
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !matches!(digits.len(), 8 | 10 | 12 | 14) {
        return None;
    }
    // Digits checked above: the parts are numbers, those not written are zero.
    let num = |range: std::ops::Range<usize>| digits.get(range).map_or(0, decimal);
    let date = NaiveDate::from_ymd_opt(num(0..4) as i32, num(4..6), num(6..8))?;
    let time = date.and_hms_opt(num(8..10), num(10..12), num(12..14))?;
    let mut millis = time.and_utc().timestamp_millis();
    if let Some(f) = fraction {
        if f.is_empty() || f.len() > 4 || !f.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // Milliseconds: the first three digits, padded on the right (`.5` is 500 ms).
        let kept = f.get(..f.len().min(3))?;
        millis += i64::from(decimal(kept) * 10u32.pow(3 - kept.len() as u32));
    }
    if let Some(offset) = offset {
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let zone = offset.get(1..)?;
        if zone.len() != 4 || !zone.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (hours, minutes) = (decimal(zone.get(..2)?), decimal(zone.get(2..)?));
        let seconds = sign * i64::from(hours * 3600 + minutes * 60);
        // An offset of less than a day, as chrono's `FixedOffset` accepts; local time minus
        // the offset is UTC.
        if seconds.abs() >= 86_400 {
            return None;
        }
        millis -= seconds * 1000;
    }
    Some(Timestamp(millis))
}

/// A few ASCII digits, already checked, as a number.
fn decimal(digits: &str) -> u32 {
    digits
        .bytes()
        .fold(0, |n, b| n * 10 + u32::from(b.wrapping_sub(b'0')))
}

/// An HL7 date (`YYYY[MM[DD…]]`) as `YYYY[-MM[-DD]]`, as FHIR writes dates.
fn parse_date(text: &str) -> Option<String> {
    let digits: &str = text.trim().get(..text.trim().len().min(8))?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match digits.len() {
        4 => Some(digits.to_string()),
        6 => Some(format!("{}-{}", digits.get(..4)?, digits.get(4..6)?)),
        8 => {
            let (y, m, d) = (digits.get(..4)?, digits.get(4..6)?, digits.get(6..8)?);
            NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)?;
            Some(format!("{y}-{m}-{d}"))
        }
        _ => None,
    }
}

/// The instant in `SEG-n`, `None` when empty, an error naming the field when unreadable.
fn dtm_field(message: &Message<'_>, seg: &str, n: usize) -> Result<Option<Timestamp>, String> {
    let Some(text) = message.component_text(message.field(seg.as_bytes(), n), 1) else {
        return Ok(None);
    };
    parse_dtm(&text).map(Some).ok_or_else(|| {
        format!(
            "{seg}-{n} {} is not an HL7 date/time (YYYYMMDD[HHMM[SS[.S]]][+/-ZZZZ])",
            shown(text.as_bytes())
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Events.

/// What each ADT trigger does, as `activity_name`.
fn adt_activity(trigger: &str) -> Option<&'static str> {
    Some(match trigger {
        "A01" => "admit",
        "A02" => "transfer",
        "A03" => "discharge",
        "A04" => "register",
        "A05" => "pre-admit",
        "A06" => "change outpatient to inpatient",
        "A07" => "change inpatient to outpatient",
        "A08" => "update patient information",
        "A11" => "cancel admit",
        "A12" => "cancel transfer",
        "A13" => "cancel discharge",
        "A28" => "add person information",
        "A31" => "update person information",
        "A38" => "cancel pre-admit",
        "A40" => "merge patient",
        _ => return None,
    })
}

/// The patient's MRN: the PID-3 repetition typed `MR`, else the first with an id; and that
/// repetition.
fn mrn<'a>(message: &Message<'a>) -> Option<(String, &'a [u8])> {
    let pid3 = message.field(b"PID", 3);
    let d = message.delimiters;
    let with_id = || {
        message
            .repetitions(pid3)
            .filter_map(move |r| component_text(r, 1, d, message.text).map(|id| (id, r)))
    };
    with_id()
        .find(|(_, r)| component_text(r, 5, d, message.text).as_deref() == Some("MR"))
        .or_else(|| with_id().next())
        .map(|(id, r)| (id.into_owned(), r))
}

fn person_name(repetition: &[u8], d: Delimiters) -> PersonName {
    PersonName {
        family: component_of(repetition, 1, d),
        given: [2, 3]
            .into_iter()
            .filter_map(|c| component_of(repetition, c, d))
            .collect(),
    }
}

/// The name of an XPN repetition as written in prose: given names, then the family name.
fn display_name<'a>(message: &Message<'a>, repetition: &'a [u8]) -> Option<String> {
    let mut name = String::with_capacity(repetition.len());
    for c in [2, 3, 1] {
        if let Some(part) = component_text(repetition, c, message.delimiters, message.text) {
            if !name.is_empty() {
                name.push(' ');
            }
            name.push_str(&part);
        }
    }
    (!name.is_empty()).then_some(name)
}

fn to_event(message: &Message<'_>) -> Result<Event, String> {
    let (code, trigger) = message.message_type()?;
    let is_adt = code == "ADT";
    let time = match dtm_field(message, "EVN", 2)? {
        Some(t) => t,
        None => dtm_field(message, "MSH", 7)?
            .ok_or("no time: EVN-2 and MSH-7 are empty (MSH-7 is required)")?,
    };
    if is_adt && message.segment(b"PID").is_none() {
        return Err(format!(
            "{code}^{trigger} has no PID segment: the message is truncated or not an ADT event"
        ));
    }
    let mut event = Event::from_record(PRODUCT, time, message.raw.to_vec());
    event.class_uid = class::BASE_EVENT;
    event.activity_id = OTHER;
    event.severity = Severity::Informational;
    event.activity_name = Some(match adt_activity(&trigger).filter(|_| is_adt) {
        Some(name) => name.to_string(),
        None => format!("{code}^{trigger}"),
    });
    event.metadata.event_code = (!trigger.is_empty()).then(|| trigger.into_owned());
    event.metadata.uid = message.component(message.field(b"MSH", 10), 1);
    event.actor.app_name = message.component(message.field(b"MSH", 3), 1);
    event.device.hostname = message.component(message.field(b"MSH", 4), 1);
    event.actor.user.name = message.component(message.field(b"EVN", 5), 1);

    let d = message.delimiters;
    if let Some((id, repetition)) = mrn(message) {
        event.patient.id = Some(id);
        if let Some(authority) = component_text(repetition, 4, d, message.text) {
            event
                .unmapped
                .insert("PID.3.4", Value::String(authority.into_owned()));
        }
    }
    let pid5 = first_repetition(message.field(b"PID", 5), d);
    event.patient.name = display_name(message, pid5);
    if let Some(visit) = message.component(message.field(b"PV1", 19), 1) {
        event.resource.r#type = Some("Encounter".into());
        event.resource.id = Some(visit);
    }

    let map = &mut event.unmapped;
    for (seg, n, key) in [
        ("MSH", 5, "MSH.5"),
        ("MSH", 6, "MSH.6"),
        ("MSH", 9, "MSH.9"),
        ("MSH", 12, "MSH.12"),
        ("EVN", 4, "EVN.4"),
        ("PID", 11, "PID.11"),
        ("PID", 29, "PID.29"),
        ("PID", 30, "PID.30"),
        ("PV1", 2, "PV1.2"),
        ("PV1", 3, "PV1.3"),
        ("PV1", 6, "PV1.6"),
        ("PV1", 7, "PV1.7"),
        ("PV1", 8, "PV1.8"),
        ("PV1", 9, "PV1.9"),
        ("PV1", 10, "PV1.10"),
        ("PV1", 17, "PV1.17"),
        ("PV1", 44, "PV1.44"),
        ("PV1", 45, "PV1.45"),
    ] {
        if let Some(value) = message.written(message.field(seg.as_bytes(), n)) {
            map.insert(key, value);
        }
    }
    // Repeating segments: one array element per segment.
    for (seg, n, key) in [
        ("NK1", 2, "NK1.2"),
        ("NK1", 3, "NK1.3"),
        ("ROL", 3, "ROL.3"),
        ("ROL", 4, "ROL.4"),
    ] {
        let values: Vec<Value> = message
            .all(seg.as_bytes())
            .filter_map(|s| message.written(s.field(n)))
            .collect();
        if !values.is_empty() {
            map.insert(key, Value::Array(values));
        }
    }
    Ok(event)
}

// ---------------------------------------------------------------------------------------------
// Context.

/// The FHIR Encounter status an ADT trigger leaves the visit in; a discharge date (PV1-45)
/// means finished whatever the trigger, except for cancellations.
fn encounter_status(trigger: &str, discharged: bool) -> Option<&'static str> {
    Some(match trigger {
        "A11" | "A38" => "cancelled",
        _ if discharged => "finished",
        "A03" => "finished",
        "A05" => "planned",
        "A04" => "arrived",
        "A01" | "A02" | "A06" | "A07" | "A08" | "A12" | "A13" => "in-progress",
        _ => return None,
    })
}

/// PV1-2 patient class as the FHIR v3 ActCode an Encounter's class uses; other codes as
/// written.
fn encounter_class(code: String) -> String {
    match code.as_str() {
        "I" => "IMP".into(),
        "O" => "AMB".into(),
        "E" => "EMER".into(),
        "P" => "PRENC".into(),
        _ => code,
    }
}

fn context_of(
    message: &Message<'_>,
    out: &mut Vec<Result<ContextResource, DecodeError>>,
) -> Result<(), String> {
    let (code, trigger) = message.message_type()?;
    if code != "ADT" {
        return Ok(());
    }
    if message.segment(b"PID").is_none() {
        return Err(format!(
            "{code}^{trigger} has no PID segment: the message is truncated"
        ));
    }
    let d = message.delimiters;
    let Some((mrn, _)) = mrn(message) else {
        return Err(format!(
            "{code}^{trigger} has no patient identifier in PID-3: no context to keep"
        ));
    };
    let raw = message.raw.to_vec();

    let identifiers = message
        .repetitions(message.field(b"PID", 3))
        .filter_map(|r| {
            let value = component_of(r, 1, d)?;
            let type_code = component_of(r, 5, d).or_else(|| (value == mrn).then(|| "MR".into()));
            Some(Identifier {
                system: component_of(r, 4, d),
                type_code,
                value,
            })
        })
        .collect();
    let address = message
        .repetitions(message.field(b"PID", 11))
        .next()
        .map(|r| Address {
            line: [1, 2]
                .into_iter()
                .filter_map(|c| component_of(r, c, d))
                .collect(),
            city: component_of(r, 3, d),
            state: component_of(r, 4, d),
            postal_code: component_of(r, 5, d),
        });
    let deceased_at = dtm_field(message, "PID", 29)?;
    let deceased = deceased_at.is_some()
        || message
            .component_text(message.field(b"PID", 30), 1)
            .as_deref()
            == Some("Y");
    let contact_names = message
        .all(b"NK1")
        .filter_map(|nk1| {
            let name = person_name(first_repetition(nk1.field(2), d), d);
            (name.family.is_some() || !name.given.is_empty()).then_some(name)
        })
        .collect();
    let birth_date = message
        .component(message.field(b"PID", 7), 1)
        .map(|t| {
            parse_date(&t)
                .ok_or_else(|| format!("PID-7 {} is not an HL7 date", shown(t.as_bytes())))
        })
        .transpose()?;
    let patient = ContextResource {
        kind: ContextKind::Patient,
        id: mrn.clone(),
        summary: ContextSummary::Patient {
            identifiers,
            name: person_name(first_repetition(message.field(b"PID", 5), d), d),
            birth_date,
            address,
            deceased,
            deceased_at,
            security_labels: Vec::new(),
            contact_names,
        },
        raw: raw.clone(),
    };

    let Some(visit) = message.component(message.field(b"PV1", 19), 1) else {
        out.push(Ok(patient));
        return Ok(());
    };
    let start = dtm_field(message, "PV1", 44)?;
    let end = dtm_field(message, "PV1", 45)?;
    let mut participants = Vec::new();
    for (n, role) in [(7, "ATND"), (8, "REF"), (9, "CON"), (17, "ADM")] {
        for doctor in message.repetitions(message.field(b"PV1", n)) {
            if let Some(id) = component_of(doctor, 1, d) {
                participants.push(Participant {
                    reference: format!("Practitioner/{id}"),
                    role: Some(role.into()),
                    start: None,
                    end: None,
                });
            }
        }
    }
    for rol in message.all(b"ROL") {
        // ROL-2 action code DE: this role is being deleted.
        if message.component_text(rol.field(2), 1).as_deref() == Some("DE") {
            continue;
        }
        let role = message.component(rol.field(3), 1);
        let from = dtm_field_of(message, rol, "ROL", 5)?;
        let until = dtm_field_of(message, rol, "ROL", 6)?;
        for person in message.repetitions(rol.field(4)) {
            if let Some(id) = component_of(person, 1, d) {
                participants.push(Participant {
                    reference: format!("Practitioner/{id}"),
                    role: role.clone(),
                    start: from,
                    end: until,
                });
            }
        }
    }
    let service_provider = message
        .component(message.field(b"PV1", 10), 1)
        .or_else(|| message.component(message.field(b"PV1", 3), 1))
        .map(|unit| format!("Organization/{unit}"));
    let encounter = ContextResource {
        kind: ContextKind::Encounter,
        id: visit,
        summary: ContextSummary::Encounter {
            patient: Some(format!("Patient/{mrn}")),
            status: encounter_status(&trigger, end.is_some()).map(str::to_string),
            class: message
                .component(message.field(b"PV1", 2), 1)
                .map(encounter_class),
            participants,
            service_provider,
            start,
            end,
        },
        raw,
    };
    out.push(Ok(patient));
    out.push(Ok(encounter));
    Ok(())
}

/// The instant in field `n` of one (repeating) segment.
fn dtm_field_of<'a>(
    message: &Message<'a>,
    segment: &Segment<'a>,
    seg: &str,
    n: usize,
) -> Result<Option<Timestamp>, String> {
    let Some(text) = message.component_text(segment.field(n), 1) else {
        return Ok(None);
    };
    parse_dtm(&text).map(Some).ok_or_else(|| {
        format!(
            "{seg}-{n} {} is not an HL7 date/time (YYYYMMDD[HHMM[SS[.S]]][+/-ZZZZ])",
            shown(text.as_bytes())
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DELIMITERS: Delimiters = Delimiters {
        field: b'|',
        component: b'^',
        repetition: b'~',
        escape: Some(b'\\'),
        subcomponent: b'&',
    };

    #[test]
    fn dtm_reads_precision_fractions_and_offsets() {
        let t = |s: &str| parse_dtm(s).map(Timestamp::to_rfc3339);
        assert_eq!(t("20240501").as_deref(), Some("2024-05-01T00:00:00.000Z"));
        assert_eq!(
            t("202405011230").as_deref(),
            Some("2024-05-01T12:30:00.000Z")
        );
        assert_eq!(
            t("20240501123045.5").as_deref(),
            Some("2024-05-01T12:30:45.500Z")
        );
        assert_eq!(
            t("20240501123045-0500").as_deref(),
            Some("2024-05-01T17:30:45.000Z")
        );
        assert_eq!(
            t("20240501123045.25+0200").as_deref(),
            Some("2024-05-01T10:30:45.250Z")
        );
        for bad in ["2024", "20241301", "2024050112304", "20240501+05", "x"] {
            assert_eq!(t(bad), None, "{bad}");
        }
    }

    #[test]
    fn parts_of_a_message_are_read_as_utf8_each_or_as_latin1_each() {
        let utf8 = "PID|1||M\u{fc}ller".as_bytes();
        let text = Text::of(utf8);
        assert!(matches!(text.get(&utf8[7..]), Cow::Borrowed("Müller")));
        // Not UTF-8 as a whole: each part is read on its own, as before the whole was tried.
        let mixed = b"PID|M\xc3\xbcller|M\xfcller";
        let text = Text::of(mixed);
        assert_eq!(text.get(&mixed[4..11]), "Müller");
        assert_eq!(text.get(&mixed[12..]), "Müller");
        assert_eq!(Text::of(utf8).get(b"elsewhere"), "elsewhere");
    }

    #[test]
    fn escapes_are_undone_and_unknown_ones_kept() {
        let u = |s: &str| unescape(s.as_bytes(), DELIMITERS, Text::NONE).into_owned();
        assert_eq!(u(r"A\F\B\S\C\T\D\R\E\E\"), r"A|B^C&D~E\");
        assert_eq!(u(r"line\.br\two\X41\"), "line\ntwoA");
        assert_eq!(u(r"\Z99\ and \unclosed"), r"\Z99\ and \unclosed");
        assert_eq!(unescape(b"M\xfcller", DELIMITERS, Text::NONE), "Müller");
    }

    #[test]
    fn dates_are_written_as_fhir_dates() {
        assert_eq!(parse_date("19620320").as_deref(), Some("1962-03-20"));
        assert_eq!(parse_date("196203").as_deref(), Some("1962-03"));
        assert_eq!(parse_date("196202301200"), None);
    }
}
