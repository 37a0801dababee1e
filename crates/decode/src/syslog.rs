//! Syslog: RFC 5424 and RFC 3164 messages, one a line, as log files and newline-framed TCP
//! hold them (an RFC 6587 octet count before a message is skipped). Every message becomes a
//! Base Event carrying the header (host, application, message id, severity), the message text
//! and the structured data; the mapping is the table in `docs/formats.md`.
//!
//! The parser here is also the header reader of the formats that travel inside syslog (IHE
//! ATNA audit messages, OpenSSH's auth.log): they call [`parse`] and [`base_event`] rather
//! than reading syslog themselves. It is hand-written (two small grammars, no allocation
//! until an event is built) and tolerant of what real senders write: no PRI (files written by
//! rsyslog), RFC 3339 timestamps in RFC 3164 headers, a missing host name or tag.
//!
//! RFC 3164 timestamps (`May  1 10:00:00`) have no year and no zone. A decoder has no clock
//! and must not guess, so such a record is refused by [`Decoder::decode`] and read by
//! [`Decoder::decode_in_year`] with the year the caller knows (the file's, or the listener's
//! clock's); the time is taken as UTC.

use crate::{DecodeError, Decoded, Decoder, Framing, Sniff};
use serde_json::Value;
use ward_model::event::class;
use ward_model::{Endpoint, Event, Severity, Timestamp};

const PRODUCT: &str = "syslog";

/// The syslog decoder (generic mapping).
pub struct Syslog;

impl Decoder for Syslog {
    fn name(&self) -> &'static str {
        PRODUCT
    }

    fn description(&self) -> &'static str {
        "syslog lines: RFC 5424 and RFC 3164 (with or without PRI, octet-counted or not)"
    }

    fn framing(&self) -> Framing {
        Framing::Lines
    }

    fn sniff(&self, record: &[u8]) -> Sniff {
        if looks_like_header(record) {
            Sniff::Maybe
        } else {
            Sniff::No
        }
    }

    fn decode(&self, record: &[u8], out: &mut Vec<Decoded>) {
        out.push(decode_line(record, None));
    }

    fn decode_in_year(&self, record: &[u8], year: i32, out: &mut Vec<Decoded>) {
        out.push(decode_line(record, Some(year)));
    }
}

fn decode_line(record: &[u8], year: Option<i32>) -> Decoded {
    let message = parse(record).map_err(DecodeError::record)?;
    base_event(PRODUCT, &message, record, year).map_err(DecodeError::record)
}

/// A message's timestamp, as far as the message says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stamp {
    /// A full instant (RFC 5424, or RFC 3339 written in an RFC 3164 header).
    Instant(Timestamp),
    /// RFC 3164 `Mmm dd hh:mm:ss`: no year, no zone.
    NoYear {
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
    },
    /// RFC 5424's nil timestamp (`-`).
    Nil,
}

/// One syslog message, borrowed from its line.
#[derive(Debug, Clone)]
pub(crate) struct Message<'a> {
    /// `facility * 8 + severity`; absent in files written without PRI.
    pub pri: Option<u8>,
    pub stamp: Stamp,
    /// The timestamp as written, for reasons.
    pub stamp_text: &'a str,
    pub hostname: Option<&'a str>,
    /// RFC 5424 APP-NAME, RFC 3164 TAG (without its `[pid]`).
    pub app_name: Option<&'a str>,
    pub proc_id: Option<&'a str>,
    /// RFC 5424 MSGID.
    pub msg_id: Option<&'a str>,
    /// RFC 5424 STRUCTURED-DATA as written (`[id k="v"]…`), when not nil.
    pub structured_data: Option<&'a str>,
    /// MSG, without a leading UTF-8 BOM.
    pub msg: &'a [u8],
}

impl Message<'_> {
    /// The severity part of PRI (0 emergency … 7 debug).
    pub fn severity_code(&self) -> Option<u8> {
        self.pri.map(|p| p & 7)
    }

    /// MSG as text (invalid UTF-8 replaced), without trailing whitespace.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.msg.trim_ascii_end())
    }

    /// The instant of the message; `year` completes RFC 3164 timestamps.
    pub fn time(&self, year: Option<i32>) -> Result<Timestamp, String> {
        match self.stamp {
            Stamp::Instant(t) => Ok(t),
            Stamp::Nil => Err("syslog message has no timestamp (RFC 5424 nil `-`)".into()),
            Stamp::NoYear {
                month,
                day,
                hour,
                minute,
                second,
            } => {
                let Some(year) = year else {
                    return Err(format!(
                        "RFC 3164 timestamp {:?} has no year and the source gave none: ingest it with the year the log was written",
                        clip(self.stamp_text)
                    ));
                };
                // A leap second (`23:59:60`) is chrono's 59th second plus 1,000 ms.
                let (second, milli) = if second == 60 {
                    (59, 1000)
                } else {
                    (second, 0)
                };
                chrono::NaiveDate::from_ymd_opt(year, month, day)
                    .and_then(|d| d.and_hms_milli_opt(hour, minute, second, milli))
                    .map(|t| Timestamp::from_millis(t.and_utc().timestamp_millis()))
                    .ok_or_else(|| {
                        format!(
                            "RFC 3164 timestamp {:?} is not a date in {year}",
                            clip(self.stamp_text)
                        )
                    })
            }
        }
    }
}

/// Input quoted in a reason, cut short: reasons stay small whatever the record holds.
pub(crate) fn clip(text: &str) -> std::borrow::Cow<'_, str> {
    crate::json::clip(text)
}

/// Reads one syslog line (its line ending, if any, is ignored).
pub(crate) fn parse(line: &[u8]) -> Result<Message<'_>, String> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = skip_octet_count(line);
    if line.trim_ascii().is_empty() {
        return Err("empty record".into());
    }
    let (pri, rest) = match line.first() {
        Some(b'<') => {
            let (pri, rest) = read_pri(line)?;
            (Some(pri), rest)
        }
        _ => (None, line),
    };
    match rest.strip_prefix(b"1 ") {
        Some(after_version) if pri.is_some() => parse_5424(pri, after_version),
        _ => parse_3164(pri, rest),
    }
}

/// True when `line` starts the way a syslog message does: a PRI (after an optional octet
/// count), an RFC 3164 `Mmm dd hh:mm:ss ` header, or an RFC 3339 instant and a space. Cheap:
/// for sniffing and for cutting multi-line records.
pub(crate) fn looks_like_header(line: &[u8]) -> bool {
    let line = skip_octet_count(line);
    if line.first() == Some(&b'<') {
        return read_pri(line).is_ok();
    }
    read_3164_stamp(line).is_some() || read_rfc3339_token(line).is_some()
}

/// RFC 6587 octet counting: `123 <34>…`. Only skipped when a PRI follows.
fn skip_octet_count(line: &[u8]) -> &[u8] {
    let digits = line
        .iter()
        .take(10)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits > 0
        && line.get(digits) == Some(&b' ')
        && line.get(digits + 1) == Some(&b'<')
        && line.first() != Some(&b'0')
    {
        return line.get(digits + 1..).unwrap_or(line);
    }
    line
}

fn read_pri(line: &[u8]) -> Result<(u8, &[u8]), String> {
    let body = line.get(1..).unwrap_or_default();
    let digits = body
        .iter()
        .take(4)
        .take_while(|b| b.is_ascii_digit())
        .count();
    let close = body.get(digits) == Some(&b'>');
    let value = body
        .get(..digits)
        .and_then(|d| std::str::from_utf8(d).ok())
        .and_then(|d| d.parse::<u16>().ok());
    match (close, digits, value) {
        (true, 1..=3, Some(v)) if v <= 191 => {
            Ok((v as u8, body.get(digits + 1..).unwrap_or_default()))
        }
        _ => {
            let shown = String::from_utf8_lossy(line.get(..line.len().min(8)).unwrap_or(line));
            Err(format!(
                "syslog PRI {shown:?}… is not `<0>`…`<191>`: expected a syslog message"
            ))
        }
    }
}

/// The next space-separated field and what follows its space.
fn field(rest: &[u8]) -> (&[u8], &[u8]) {
    match memchr::memchr(b' ', rest) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &[]),
    }
}

fn text_field<'a>(bytes: &'a [u8], name: &str) -> Result<Option<&'a str>, String> {
    if bytes == b"-" || bytes.is_empty() {
        return Ok(None);
    }
    std::str::from_utf8(bytes)
        .map(Some)
        .map_err(|_| format!("RFC 5424 {name} is not text"))
}

fn parse_5424(pri: Option<u8>, rest: &[u8]) -> Result<Message<'_>, String> {
    let (stamp_bytes, rest) = field(rest);
    let stamp_text = std::str::from_utf8(stamp_bytes).unwrap_or("");
    let stamp = if stamp_bytes == b"-" {
        Stamp::Nil
    } else {
        match Timestamp::parse(stamp_text).filter(|_| !stamp_text.is_empty()) {
            Some(t) => Stamp::Instant(t),
            None => {
                let shown = String::from_utf8_lossy(stamp_bytes);
                return Err(format!(
                    "RFC 5424 TIMESTAMP {:?} is not an RFC 3339 instant",
                    clip(&shown)
                ));
            }
        }
    };
    let (host, rest) = field(rest);
    let (app, rest) = field(rest);
    let (proc_id, rest) = field(rest);
    let (msg_id, rest) = field(rest);
    if rest.is_empty() && msg_id.is_empty() {
        return Err(
            "RFC 5424 header is cut short: expected TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA"
                .into(),
        );
    }
    let (structured_data, msg) = split_structured_data(rest)?;
    let msg = msg.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(msg);
    Ok(Message {
        pri,
        stamp,
        stamp_text,
        hostname: text_field(host, "HOSTNAME")?,
        app_name: text_field(app, "APP-NAME")?,
        proc_id: text_field(proc_id, "PROCID")?,
        msg_id: text_field(msg_id, "MSGID")?,
        structured_data,
        msg,
    })
}

/// STRUCTURED-DATA (`-` or `[…]…`) and the MSG after it.
fn split_structured_data(rest: &[u8]) -> Result<(Option<&str>, &[u8]), String> {
    match rest.first() {
        None => Ok((None, &[])),
        Some(b'-') => Ok((None, rest.get(2..).unwrap_or_default())),
        Some(b'[') => {
            // Walk elements: a `]` closes one unless inside a quoted, `\`-escaped value.
            let mut at = 0;
            let mut end = None;
            while rest.get(at) == Some(&b'[') {
                let mut quoted = false;
                let mut escaped = false;
                let mut close = None;
                for (i, &b) in rest.iter().enumerate().skip(at + 1) {
                    match (quoted, escaped, b) {
                        (true, true, _) => escaped = false,
                        (true, false, b'\\') => escaped = true,
                        (_, false, b'"') => quoted = !quoted,
                        (false, _, b']') => {
                            close = Some(i);
                            break;
                        }
                        _ => {}
                    }
                }
                let Some(close) = close else {
                    return Err(format!(
                        "RFC 5424 STRUCTURED-DATA element at byte {at} of the structured data is not closed by `]`"
                    ));
                };
                at = close + 1;
                end = Some(at);
            }
            let end = end.unwrap_or(0);
            let sd = std::str::from_utf8(&rest[..end])
                .map_err(|_| "RFC 5424 STRUCTURED-DATA is not UTF-8".to_string())?;
            let msg = rest.get(end..).unwrap_or_default();
            Ok((Some(sd), msg.strip_prefix(b" ").unwrap_or(msg)))
        }
        Some(_) => {
            Err("RFC 5424 STRUCTURED-DATA is neither `-` nor `[…]`: expected it after MSGID".into())
        }
    }
}

/// Every `(SD-ID, PARAM-NAME, value)` of structured data, values unescaped.
pub(crate) fn structured_params(sd: &str) -> Vec<(&str, &str, String)> {
    let mut params = Vec::new();
    let mut rest = sd;
    while let Some(body) = rest.strip_prefix('[') {
        let id_end = body.find([' ', ']']).unwrap_or(body.len());
        let id = &body[..id_end];
        let mut p = &body[id_end..];
        loop {
            p = p.trim_start_matches(' ');
            if let Some(after) = p.strip_prefix(']') {
                rest = after;
                break;
            }
            let Some(eq) = p.find('=') else {
                return params;
            };
            let name = &p[..eq];
            let Some(value) = p[eq + 1..].strip_prefix('"') else {
                return params;
            };
            let mut unescaped = String::new();
            let mut escaped = false;
            let mut consumed = None;
            for (i, c) in value.char_indices() {
                match (escaped, c) {
                    (true, '"' | '\\' | ']') => {
                        unescaped.push(c);
                        escaped = false;
                    }
                    (true, other) => {
                        unescaped.push('\\');
                        unescaped.push(other);
                        escaped = false;
                    }
                    (false, '\\') => escaped = true,
                    (false, '"') => {
                        consumed = Some(i + 1);
                        break;
                    }
                    (false, other) => unescaped.push(other),
                }
            }
            let Some(consumed) = consumed else {
                return params;
            };
            params.push((id, name, unescaped));
            p = &value[consumed..];
        }
    }
    params
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// `Mmm dd hh:mm:ss` (day space- or zero-padded, or one digit) and the rest after it.
fn read_3164_stamp(line: &[u8]) -> Option<(Stamp, usize)> {
    let month = MONTHS.iter().position(|m| line.get(..3) == Some(&m[..]))? as u32 + 1;
    if line.get(3) != Some(&b' ') {
        return None;
    }
    let mut at = 4;
    if line.get(at) == Some(&b' ') {
        at += 1;
    }
    let two = |at: usize| -> Option<u32> {
        let a = *line.get(at)?;
        let b = *line.get(at + 1)?;
        (a.is_ascii_digit() && b.is_ascii_digit()).then(|| ((a - b'0') * 10 + (b - b'0')) as u32)
    };
    let day = match (line.get(at), line.get(at + 1)) {
        (Some(a), Some(b' ')) if a.is_ascii_digit() => {
            at += 1;
            (a - b'0') as u32
        }
        _ => {
            let d = two(at)?;
            at += 2;
            d
        }
    };
    if line.get(at) != Some(&b' ') {
        return None;
    }
    at += 1;
    let hour = two(at)?;
    let minute = (line.get(at + 2) == Some(&b':')).then(|| two(at + 3))??;
    let second = (line.get(at + 5) == Some(&b':')).then(|| two(at + 6))??;
    at += 8;
    // Fractions of a second (`.123456`), as some daemons write, are dropped with the year.
    if line.get(at) == Some(&b'.') {
        at += 1 + line
            .get(at + 1..)?
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
    }
    if !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let stamp = Stamp::NoYear {
        month,
        day,
        hour,
        minute,
        second,
    };
    Some((stamp, at))
}

/// An RFC 3339 instant at the start of `line` (`2024-05-01T10:00:00.123+02:00`), as rsyslog
/// writes in its RFC 3164 file format; returns its length.
fn read_rfc3339_token(line: &[u8]) -> Option<(Timestamp, usize)> {
    let shape = line.get(..11)?;
    let digits = |r: std::ops::Range<usize>| shape[r].iter().all(u8::is_ascii_digit);
    if !(digits(0..4) && shape[4] == b'-' && digits(5..7) && shape[7] == b'-' && digits(8..10)) {
        return None;
    }
    if shape[10] != b'T' {
        return None;
    }
    let len = memchr::memchr(b' ', line).unwrap_or(line.len());
    let text = std::str::from_utf8(&line[..len]).ok()?;
    Some((Timestamp::parse(text)?, len))
}

fn parse_3164(pri: Option<u8>, rest: &[u8]) -> Result<Message<'_>, String> {
    let (stamp, stamp_len) = match read_3164_stamp(rest) {
        Some(found) => found,
        None => match read_rfc3339_token(rest) {
            Some((t, len)) => (Stamp::Instant(t), len),
            None => {
                return Err(if pri.is_some() {
                    "RFC 3164 header has no timestamp: expected `Mmm dd hh:mm:ss` or an RFC 3339 instant after the PRI".into()
                } else {
                    "not a syslog line: expected `<PRI>`, `Mmm dd hh:mm:ss` or an RFC 3339 instant at its start".into()
                });
            }
        },
    };
    let stamp_text = std::str::from_utf8(&rest[..stamp_len]).unwrap_or("");
    let after = rest.get(stamp_len..).unwrap_or_default();
    let after = after.strip_prefix(b" ").unwrap_or(after);
    let after = skip_spaces(after);

    // HOSTNAME, unless the first word is already a tag (`su: …`, `sshd[1]: …`).
    let (first, tail) = field(after);
    let (hostname, body) = if is_tag(first) || first.is_empty() {
        (None, after)
    } else {
        (std::str::from_utf8(first).ok(), skip_spaces(tail))
    };
    let (word, tail) = field(body);
    let (app_name, proc_id, msg) = if is_tag(word) {
        let word = word.strip_suffix(b":").unwrap_or(word);
        let (name, pid) = match memchr::memchr(b'[', word) {
            Some(open) => {
                let pid = word[open + 1..]
                    .strip_suffix(b"]")
                    .unwrap_or(&word[open + 1..]);
                (&word[..open], std::str::from_utf8(pid).ok())
            }
            None => (word, None),
        };
        (std::str::from_utf8(name).ok(), pid, tail)
    } else {
        (None, None, body)
    };
    Ok(Message {
        pri,
        stamp,
        stamp_text,
        hostname: hostname.filter(|h| !h.is_empty()),
        app_name: app_name.filter(|a| !a.is_empty()),
        proc_id: proc_id.filter(|p| !p.is_empty()),
        msg_id: None,
        structured_data: None,
        msg,
    })
}

fn skip_spaces(bytes: &[u8]) -> &[u8] {
    let n = bytes.iter().take_while(|&&b| b == b' ').count();
    &bytes[n..]
}

/// An RFC 3164 TAG: a name ending in `:` or `[pid]` / `[pid]:`.
fn is_tag(word: &[u8]) -> bool {
    word.len() > 1 && (word.ends_with(b":") || (word.ends_with(b"]") && word.contains(&b'[')))
}

/// RFC 5424 severity → OCSF severity.
pub(crate) fn severity_of(code: u8) -> Severity {
    match code {
        0..=2 => Severity::Critical,
        3 => Severity::High,
        4 => Severity::Medium,
        5 => Severity::Low,
        _ => Severity::Informational,
    }
}

/// Fills what every event read from a syslog message carries: device, application,
/// severity, message id, and the header fields without a place in the model.
pub(crate) fn fill_header(event: &mut Event, m: &Message<'_>) {
    if let Some(host) = m.hostname {
        let device = Endpoint::from_address(host);
        event.device.ip = device.ip;
        event.device.hostname = device.hostname;
    }
    event.actor.app_name = m.app_name.map(str::to_string);
    if let Some(code) = m.severity_code() {
        event.severity = severity_of(code);
    }
    let map = &mut event.unmapped;
    if let Some(pri) = m.pri {
        map.insert("syslog.facility", Value::from(pri >> 3));
    }
    if let Some(pid) = m.proc_id {
        map.insert("syslog.procid", Value::String(pid.to_string()));
    }
    if let Some(sd) = m.structured_data {
        for (id, param, value) in structured_params(sd) {
            map.insert(format!("sd.{id}.{param}"), Value::String(value));
        }
    }
}

/// The generic mapping of a syslog message: a Base Event with the header, the message text
/// in `message` and the MSGID as the event code.
pub(crate) fn base_event(
    product: &str,
    m: &Message<'_>,
    raw: &[u8],
    year: Option<i32>,
) -> Result<Event, String> {
    let time = m.time(year)?;
    let mut event = Event::from_record(product, time, raw.to_vec());
    event.class_uid = class::BASE_EVENT;
    fill_header(&mut event, m);
    event.metadata.event_code = m.msg_id.map(str::to_string);
    let text = m.text();
    if !text.is_empty() {
        event.message = Some(text.into_owned());
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &[u8], year: Option<i32>) -> Decoded {
        let mut out = Vec::new();
        match year {
            Some(y) => Syslog.decode_in_year(line, y, &mut out),
            None => Syslog.decode(line, &mut out),
        }
        assert_eq!(out.len(), 1);
        out.pop().unwrap()
    }

    #[test]
    fn reads_rfc5424_header_structured_data_and_bom() {
        let line = b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"][x y=\"a\\\"]b\"] \xEF\xBB\xBFAn application event log entry";
        let e = one(line, None).unwrap();
        assert_eq!(e.time.to_rfc3339(), "2003-10-11T22:14:15.003Z");
        assert_eq!(e.device.hostname.as_deref(), Some("mymachine.example.com"));
        assert_eq!(e.actor.app_name.as_deref(), Some("evntslog"));
        assert_eq!(e.metadata.event_code.as_deref(), Some("ID47"));
        assert_eq!(e.severity, Severity::Low);
        assert_eq!(e.message.as_deref(), Some("An application event log entry"));
        assert_eq!(e.unmapped["sd.exampleSDID@32473.eventID"], "1011");
        assert_eq!(e.unmapped["sd.x.y"], "a\"]b");
        assert_eq!(e.unmapped["syslog.facility"], 20);
    }

    #[test]
    fn skips_octet_count_before_pri() {
        let e = one(b"57 <34>1 2024-05-01T10:00:00Z h app 12 - - hello", None).unwrap();
        assert_eq!(e.message.as_deref(), Some("hello"));
        assert_eq!(e.unmapped["syslog.procid"], "12");
        assert_eq!(e.severity, Severity::Critical);
    }

    #[test]
    fn rfc3164_without_year_is_refused_without_a_year_and_read_with_one() {
        let line = b"<38>May  1 10:00:00 web1 sshd[42]: Server listening on 0.0.0.0 port 22.";
        let e = one(line, None).unwrap_err();
        assert!(e.reason.contains("has no year"), "{}", e.reason);
        let e = one(line, Some(2024)).unwrap();
        assert_eq!(e.time.to_rfc3339(), "2024-05-01T10:00:00.000Z");
        assert_eq!(e.device.hostname.as_deref(), Some("web1"));
        assert_eq!(e.actor.app_name.as_deref(), Some("sshd"));
        assert_eq!(e.unmapped["syslog.procid"], "42");
        assert_eq!(e.severity, Severity::Informational);
    }

    #[test]
    fn rfc3164_with_rfc3339_timestamp_needs_no_year() {
        let e = one(
            b"2024-05-01T10:00:00.123456+02:00 web1 CRON[7]: pam_unix(cron:session): session closed",
            None,
        )
        .unwrap();
        assert_eq!(e.time.to_rfc3339(), "2024-05-01T08:00:00.123Z");
        assert_eq!(e.actor.app_name.as_deref(), Some("CRON"));
        assert_eq!(
            e.message.as_deref(),
            Some("pam_unix(cron:session): session closed")
        );
    }

    #[test]
    fn february_30th_is_refused_with_the_year() {
        let e = one(b"Feb 30 10:00:00 h app: x", Some(2024)).unwrap_err();
        assert!(e.reason.contains("not a date in 2024"), "{}", e.reason);
    }

    #[test]
    fn missing_host_name_is_tolerated() {
        let e = one(b"<34>Oct 11 22:14:15 su: 'su root' failed", Some(2024)).unwrap();
        assert_eq!(e.device.hostname, None);
        assert_eq!(e.actor.app_name.as_deref(), Some("su"));
        assert_eq!(e.message.as_deref(), Some("'su root' failed"));
    }

    #[test]
    fn reasons_are_short_and_name_the_part() {
        for (line, part) in [
            (&b"<999>1 x"[..], "PRI"),
            (b"<13>1 yesterday h a - - - m", "TIMESTAMP"),
            (
                b"<13>1 2024-05-01T00:00:00Z h a - - [x a=\"1\"",
                "not closed",
            ),
            (b"hello world", "not a syslog line"),
        ] {
            let e = one(line, Some(2024)).unwrap_err();
            assert!(e.reason.contains(part), "{}", e.reason);
            assert!(e.reason.len() < 200);
        }
    }

    #[test]
    fn sniffs_headers_only() {
        assert_eq!(
            Syslog.sniff(b"<13>1 2024-05-01T00:00:00Z h a - - - m"),
            Sniff::Maybe
        );
        assert_eq!(Syslog.sniff(b"May  1 10:00:00 h a: m"), Sniff::Maybe);
        assert_eq!(Syslog.sniff(b"2024-05-01T10:00:00Z h a: m"), Sniff::Maybe);
        assert_eq!(Syslog.sniff(b"{\"a\":1}"), Sniff::No);
        assert_eq!(Syslog.sniff(b"<AuditMessage>"), Sniff::No);
    }
}
