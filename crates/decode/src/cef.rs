//! ArcSight CEF and IBM QRadar LEEF (1.0 and 2.0): what firewalls, EDRs and MDR partners
//! emit, one event a line, bare or as the MSG of a syslog message. Two decoders, `cef` and
//! `leef`, share the reading of the extension (key=value pairs) and of device times.
//!
//! - CEF: `CEF:Version|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|Extension`,
//!   header fields escaped with `\|` and `\\`; extension values run to the next ` key=`
//!   (they may hold spaces) and are escaped with `\=`, `\\`, `\n`, `\r`.
//! - LEEF: `LEEF:1.0|Vendor|Product|Version|EventID|` then tab-separated `key=value`;
//!   `LEEF:2.0|Vendor|Product|Version|EventID|Delimiter|` names its own delimiter (a character
//!   or hex `0x5E`/`x5E`).
//!
//! Every extension key is kept as written under `unmapped.<key>` (so rules written for CEF
//! keys match: `unmapped.suser`, `unmapped.act`), the header under `unmapped.cef.*` /
//! `unmapped.leef.*`, and CEF custom fields also under their label (`cs1Label=Policy cs1=X` →
//! `unmapped.Policy`). The keys with a place in the model are mapped (table in
//! `docs/formats.md`). This decoder never panics, does no IO and allocates in proportion to
//! the line.

use crate::syslog;
use crate::{DecodeError, Decoded, Decoder, Framing, Sniff};
use serde_json::Value;
use ward_model::event::class;
use ward_model::{Endpoint, Event, Severity, Status, Timestamp};

/// The ArcSight CEF decoder.
pub struct Cef;
/// The IBM LEEF decoder.
pub struct Leef;

impl Decoder for Cef {
    fn name(&self) -> &'static str {
        "cef"
    }

    fn description(&self) -> &'static str {
        "ArcSight CEF lines, bare or behind a syslog header"
    }

    fn framing(&self) -> Framing {
        Framing::Lines
    }

    fn sniff(&self, record: &[u8]) -> Sniff {
        if find_marker(record, b"CEF:").is_some() {
            Sniff::Yes
        } else {
            Sniff::No
        }
    }

    fn decode(&self, record: &[u8], out: &mut Vec<Decoded>) {
        out.push(decode_line(Kind::Cef, record, None).map_err(DecodeError::record));
    }

    fn decode_in_year(&self, record: &[u8], year: i32, out: &mut Vec<Decoded>) {
        out.push(decode_line(Kind::Cef, record, Some(year)).map_err(DecodeError::record));
    }
}

impl Decoder for Leef {
    fn name(&self) -> &'static str {
        "leef"
    }

    fn description(&self) -> &'static str {
        "IBM QRadar LEEF 1.0 / 2.0 lines, bare or behind a syslog header"
    }

    fn framing(&self) -> Framing {
        Framing::Lines
    }

    fn sniff(&self, record: &[u8]) -> Sniff {
        if find_marker(record, b"LEEF:").is_some() {
            Sniff::Yes
        } else {
            Sniff::No
        }
    }

    fn decode(&self, record: &[u8], out: &mut Vec<Decoded>) {
        out.push(decode_line(Kind::Leef, record, None).map_err(DecodeError::record));
    }

    fn decode_in_year(&self, record: &[u8], year: i32, out: &mut Vec<Decoded>) {
        out.push(decode_line(Kind::Leef, record, Some(year)).map_err(DecodeError::record));
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Cef,
    Leef,
}

impl Kind {
    fn product(self) -> &'static str {
        match self {
            Kind::Cef => "cef",
            Kind::Leef => "leef",
        }
    }
}

/// Where `CEF:`/`LEEF:` starts: at the line's start, or after a syslog header (then preceded
/// by a space) within the first kilobyte.
fn find_marker(line: &[u8], marker: &[u8]) -> Option<usize> {
    if line.starts_with(marker) {
        return Some(0);
    }
    let window = line.get(..line.len().min(1024)).unwrap_or(line);
    let at = memchr::memmem::find(window, marker)?;
    let before = *window.get(at.checked_sub(1)?)?;
    (before == b' ' && marker_version(&line[at + marker.len()..])).then_some(at)
}

/// `0|`, `1|`, `1.0|`, `2.0|`: a version number then the first separator.
fn marker_version(rest: &[u8]) -> bool {
    let n = rest
        .iter()
        .take(6)
        .take_while(|b| b.is_ascii_digit() || **b == b'.')
        .count();
    n > 0 && rest.get(n) == Some(&b'|')
}

fn decode_line(kind: Kind, record: &[u8], year: Option<i32>) -> Result<Event, String> {
    let line = record.strip_suffix(b"\n").unwrap_or(record);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let marker: &[u8] = match kind {
        Kind::Cef => b"CEF:",
        Kind::Leef => b"LEEF:",
    };
    let Some(at) = find_marker(line, marker) else {
        return Err(match kind {
            Kind::Cef => {
                "not CEF: expected `CEF:0|Vendor|Product|Version|SignatureID|Name|Severity|…`"
            }
            Kind::Leef => "not LEEF: expected `LEEF:1.0|Vendor|Product|Version|EventID|…`",
        }
        .into());
    };
    // The syslog header before the marker, when there is one.
    let header = (at > 0).then(|| syslog::parse(&line[..at]).ok()).flatten();
    let body = String::from_utf8_lossy(&line[at + marker.len()..]);
    let parsed = match kind {
        Kind::Cef => read_cef(&body)?,
        Kind::Leef => read_leef(&body)?,
    };
    build(kind, parsed, header.as_ref(), record, year)
}

/// What a CEF or LEEF line holds, unescaped.
struct Parsed {
    /// `(name, value)` of the header fields, under `cef.*` / `leef.*`.
    header: Vec<(&'static str, String)>,
    vendor_severity: Option<String>,
    signature: String,
    name: Option<String>,
    extension: Vec<(String, String)>,
}

/// Splits on `|` not escaped by `\`, unescaping `\|` and `\\`; at most `n` fields, the last
/// holding the rest as written.
fn split_header(text: &str, n: usize) -> Vec<String> {
    let mut fields = Vec::with_capacity(n);
    let mut current = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        if fields.len() + 1 == n {
            fields.push(text[i..].to_string());
            return fields;
        }
        match c {
            '\\' => match chars.next() {
                Some((_, e @ ('|' | '\\'))) => current.push(e),
                Some((_, other)) => {
                    current.push('\\');
                    current.push(other);
                }
                None => current.push('\\'),
            },
            '|' => fields.push(std::mem::take(&mut current)),
            other => current.push(other),
        }
    }
    fields.push(current);
    fields
}

fn read_cef(body: &str) -> Result<Parsed, String> {
    let fields = split_header(body, 8);
    if fields.len() < 7 {
        return Err(format!(
            "CEF header has {} of its 7 `|`-separated fields: expected Version|Vendor|Product|Version|SignatureID|Name|Severity",
            fields.len()
        ));
    }
    let extension = fields.get(7).map(|e| cef_extension(e)).unwrap_or_default();
    Ok(Parsed {
        header: vec![
            ("cef.version", fields[0].clone()),
            ("cef.device_vendor", fields[1].clone()),
            ("cef.device_product", fields[2].clone()),
            ("cef.device_version", fields[3].clone()),
            ("cef.signature_id", fields[4].clone()),
            ("cef.name", fields[5].clone()),
            ("cef.severity", fields[6].clone()),
        ],
        vendor_severity: Some(fields[6].clone()),
        signature: fields[4].clone(),
        name: Some(fields[5].clone()).filter(|n| !n.is_empty()),
        extension,
    })
}

/// `k1=v1 k2=v two k3=v\=3`: a key is `[A-Za-z0-9_.\[\]-]+` right before an unescaped `=`;
/// a value runs until the space before the next key.
fn cef_extension(text: &str) -> Vec<(String, String)> {
    let bytes = text.as_bytes();
    // Positions of unescaped `=` and the start of the key before each.
    let mut starts = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'=' => {
                let mut k = i;
                while k > 0 && is_key_byte(bytes[k - 1]) {
                    k -= 1;
                }
                let at_boundary = k == 0 || bytes[k - 1] == b' ';
                if k < i && at_boundary {
                    starts.push((k, i));
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    let mut pairs = Vec::with_capacity(starts.len());
    for (n, &(key_start, eq)) in starts.iter().enumerate() {
        let value_end = match starts.get(n + 1) {
            Some(&(next_key, _)) => next_key.saturating_sub(1),
            None => bytes.len(),
        };
        let key = text.get(key_start..eq).unwrap_or_default();
        let value = text.get(eq + 1..value_end.max(eq + 1)).unwrap_or_default();
        pairs.push((key.to_string(), unescape_value(value.trim_end())));
    }
    pairs
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'[' | b']')
}

fn unescape_value(value: &str) -> String {
    if !value.contains('\\') {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(e @ ('=' | '\\' | '|')) => out.push(e),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn read_leef(body: &str) -> Result<Parsed, String> {
    let version = body.split('|').next().unwrap_or_default();
    let v2 = version.starts_with('2');
    let fields = split_header(body, if v2 { 7 } else { 6 });
    let needed = if v2 { 7 } else { 6 };
    if fields.len() < needed - 1 {
        return Err(format!(
            "LEEF header has {} of its `|`-separated fields: expected Version|Vendor|Product|Version|EventID|",
            fields.len()
        ));
    }
    let (delimiter, attributes) = if v2 {
        let spec = fields.get(5).map(String::as_str).unwrap_or_default();
        (
            leef_delimiter(spec).ok_or_else(|| {
                format!(
                    "LEEF 2.0 delimiter {:?} is neither one character nor hex (`0x09`)",
                    crate::json::clip(spec)
                )
            })?,
            fields.get(6).cloned().unwrap_or_default(),
        )
    } else {
        ('\t', fields.get(5).cloned().unwrap_or_default())
    };
    let extension = attributes
        .split(delimiter)
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| !k.trim().is_empty())
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .collect();
    let mut header = vec![
        ("leef.version", fields[0].clone()),
        ("leef.vendor", fields[1].clone()),
        ("leef.product", fields[2].clone()),
        ("leef.product_version", fields[3].clone()),
        ("leef.event_id", fields[4].clone()),
    ];
    if v2 {
        header.push(("leef.delimiter", delimiter.to_string()));
    }
    Ok(Parsed {
        header,
        vendor_severity: None,
        signature: fields[4].clone(),
        name: None,
        extension,
    })
}

fn leef_delimiter(spec: &str) -> Option<char> {
    if spec.is_empty() {
        return Some('\t');
    }
    let hex = spec
        .strip_prefix("0x")
        .or_else(|| spec.strip_prefix("x"))
        .or_else(|| spec.strip_prefix("\\x"));
    if let Some(hex) = hex.filter(|h| !h.is_empty() && h.len() <= 4) {
        return u32::from_str_radix(hex, 16).ok().and_then(char::from_u32);
    }
    let mut chars = spec.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    }
}

/// CEF severity: 0–3 low, 4–6 medium, 7–8 high, 9–10 very high (critical), or those words.
fn severity_of(text: &str) -> Option<Severity> {
    let text = text.trim();
    if let Ok(n) = text.parse::<u8>() {
        return Some(match n {
            0 => Severity::Informational,
            1..=3 => Severity::Low,
            4..=6 => Severity::Medium,
            7..=8 => Severity::High,
            9..=10 => Severity::Critical,
            _ => return None,
        });
    }
    Some(match text.to_ascii_lowercase().as_str() {
        "unknown" => Severity::Unknown,
        "low" => Severity::Low,
        "medium" => Severity::Medium,
        "high" => Severity::High,
        "very-high" | "very high" | "veryhigh" => Severity::Critical,
        _ => return None,
    })
}

/// Device times: epoch milliseconds (CEF `rt`), `MMM dd yyyy HH:mm:ss[.SSS] [zone]`,
/// `MMM dd HH:mm:ss[.SSS]` (the caller's year), or ISO 8601. A named zone other than
/// UTC/GMT/Z is ignored (taken as UTC), a numeric offset applied.
fn parse_time(text: &str, year: Option<i32>) -> Option<Timestamp> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = text.parse().ok()?;
        // Ten digits or fewer: seconds (some LEEF senders).
        return Some(Timestamp::from_millis(if text.len() <= 10 {
            n * 1000
        } else {
            n
        }));
    }
    if let Some(t) =
        Timestamp::parse(text).filter(|_| text.len() >= 10 && text.as_bytes()[4] == b'-')
    {
        return Some(t);
    }
    let mut words: Vec<&str> = text.split_ascii_whitespace().take(5).collect();
    let mut offset_minutes = 0i64;
    if let Some(last) = words.last().copied()
        && words.len() >= 4
        && !last.contains(':')
    {
        if let Some(sign) = last.chars().next().filter(|c| *c == '+' || *c == '-') {
            let digits: String = last[1..].chars().filter(char::is_ascii_digit).collect();
            if digits.len() == 4 {
                let h: i64 = digits[..2].parse().ok()?;
                let m: i64 = digits[2..].parse().ok()?;
                offset_minutes = (h * 60 + m) * if sign == '-' { -1 } else { 1 };
            }
        }
        if last
            .chars()
            .all(|c| c.is_ascii_alphabetic() || c == '+' || c == '-' || c.is_ascii_digit())
        {
            words.pop();
        }
    }
    let (month, day, year, clock) = match words.as_slice() {
        [m, d, y, c] => (*m, *d, y.parse::<i32>().ok()?, *c),
        [m, d, c] => (*m, *d, year?, *c),
        _ => return None,
    };
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|n| n.eq_ignore_ascii_case(month))? as u32
        + 1;
    let day: u32 = day.parse().ok()?;
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let mut parts = hms.split(':').map(|p| p.parse::<u32>().ok());
    let (h, m, s) = (parts.next()??, parts.next()??, parts.next()??);
    let millis: u32 = match frac.get(..frac.len().min(3)) {
        Some(f) if !f.is_empty() => format!("{f:0<3}").parse().ok()?,
        _ => 0,
    };
    let t =
        chrono::NaiveDate::from_ymd_opt(year, month, day)?.and_hms_milli_opt(h, m, s, millis)?;
    Some(Timestamp::from_millis(
        t.and_utc().timestamp_millis() - offset_minutes * 60_000,
    ))
}

fn build(
    kind: Kind,
    parsed: Parsed,
    header: Option<&syslog::Message<'_>>,
    raw: &[u8],
    year: Option<i32>,
) -> Result<Event, String> {
    let ext = |key: &str| {
        parsed
            .extension
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let time_keys: &[&str] = match kind {
        Kind::Cef => &["rt", "end", "start"],
        Kind::Leef => &["devTime"],
    };
    let mut time = None;
    for key in time_keys {
        if let Some(text) = ext(key) {
            match parse_time(text, year) {
                Some(t) => {
                    time = Some(t);
                    break;
                }
                None => {
                    return Err(format!(
                        "{key} {:?} is not a time: expected epoch milliseconds or `MMM dd yyyy HH:mm:ss`",
                        crate::json::clip(text)
                    ));
                }
            }
        }
    }
    let time = match (time, header) {
        (Some(t), _) => t,
        (None, Some(h)) => h.time(year)?,
        (None, None) => {
            return Err(match kind {
                Kind::Cef => {
                    "CEF event has no time: expected `rt` (or `end`, `start`) or a syslog header"
                }
                Kind::Leef => "LEEF event has no time: expected `devTime` or a syslog header",
            }
            .into());
        }
    };
    let mut event = Event::from_record(kind.product(), time, raw.to_vec());
    event.class_uid = class::BASE_EVENT;
    if let Some(h) = header {
        syslog::fill_header(&mut event, h);
    }
    event.metadata.event_code = Some(parsed.signature.clone()).filter(|s| !s.is_empty());

    let (src, spt, shost, dst, dpt, dhost, suser, sev) = match kind {
        Kind::Cef => ("src", "spt", "shost", "dst", "dpt", "dhost", "suser", None),
        Kind::Leef => (
            "src",
            "srcPort",
            "identHostName",
            "dst",
            "dstPort",
            "dstHostName",
            "usrName",
            Some("sev"),
        ),
    };
    let endpoint = |ip: &str, port: &str, host: &str| {
        let mut e = ext(ip).map(Endpoint::from_address).unwrap_or_default();
        if let Some(h) = ext(host) {
            e.hostname = Some(h.to_string());
        }
        e.port = ext(port)
            .and_then(|p| p.trim().parse().ok())
            .filter(|p| *p != 0);
        e
    };
    event.src_endpoint = endpoint(src, spt, shost);
    event.dst_endpoint = endpoint(dst, dpt, dhost);
    if kind == Kind::Cef {
        let src6 = ext("c6a2").or_else(|| ext("sourceTranslatedAddress"));
        if event.src_endpoint.ip.is_none()
            && let Some(ip) = src6
        {
            event.src_endpoint.ip = Endpoint::from_address(ip).ip;
        }
        if let Some(host) = ext("dvchost").or_else(|| ext("dvc")) {
            let device = Endpoint::from_address(host);
            event.device.ip = device.ip.or(event.device.ip.take());
            event.device.hostname = device.hostname.or(event.device.hostname.take());
        }
    }
    event.actor.user.name = ext(suser).map(str::to_string);
    event.actor.user.uid = ext("suid").map(str::to_string);
    event.actor.app_name = ext("app")
        .or_else(|| ext("sproc"))
        .map(str::to_string)
        .or(event.actor.app_name.take());
    event.activity_name = ext("act")
        .map(str::to_string)
        .or_else(|| parsed.name.clone());
    event.message = ext("msg")
        .map(str::to_string)
        .or_else(|| parsed.name.clone());
    let severity = parsed
        .vendor_severity
        .as_deref()
        .or_else(|| sev.and_then(ext))
        .and_then(severity_of);
    if let Some(s) = severity {
        event.severity = s;
    }
    let outcome = ext("outcome");
    event.status = match outcome.map(str::to_ascii_lowercase).as_deref() {
        Some(
            "success" | "succeeded" | "allowed" | "allow" | "permitted" | "accept" | "accepted",
        ) => Status::Success,
        Some(
            "failure" | "failed" | "fail" | "blocked" | "block" | "denied" | "deny" | "dropped"
            | "drop" | "rejected" | "reject",
        ) => Status::Failure,
        Some(_) => Status::Other,
        None => Status::Unknown,
    };
    if event.status == Status::Other {
        event.status_detail = outcome.map(str::to_string);
    }

    // CEF custom fields under their labels: cs1Label=Policy cs1=Block-All → Policy.
    let mut labelled = Vec::new();
    if kind == Kind::Cef {
        for (key, label) in &parsed.extension {
            let Some(field) = key.strip_suffix("Label") else {
                continue;
            };
            if let Some((_, value)) = parsed.extension.iter().find(|(k, _)| k == field)
                && !label.is_empty()
            {
                labelled.push((label.clone(), value.clone()));
            }
        }
    }
    let map = &mut event.unmapped;
    for (key, value) in parsed.header {
        map.insert(key.to_string(), Value::String(value));
    }
    for (key, value) in parsed.extension {
        map.insert(key, Value::String(value));
    }
    for (label, value) in labelled {
        if !map.contains_key(label.as_str()) {
            map.insert(label, Value::String(value));
        }
    }
    if event.severity == Severity::Unknown {
        event.severity = Severity::Informational;
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(decoder: &dyn Decoder, line: &str) -> Event {
        let mut out = Vec::new();
        decoder.decode_in_year(line.as_bytes(), 2024, &mut out);
        match out.pop() {
            Some(Ok(e)) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cef_escapes_and_values_with_spaces() {
        let e = one(
            &Cef,
            r"CEF:0|Security|threat\|manager|1.0|100|worm successfully stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=1232 msg=Detected a threat. No action needed a\=b c\\d rt=1714557600000 suser=j smith",
        );
        assert_eq!(e.unmapped["cef.device_product"], "threat|manager");
        assert_eq!(
            e.message.as_deref(),
            Some("Detected a threat. No action needed a=b c\\d")
        );
        assert_eq!(e.actor.user.name.as_deref(), Some("j smith"));
        assert_eq!(e.src_endpoint.port, Some(1232));
        assert_eq!(e.severity, Severity::Critical);
        assert_eq!(e.time.to_rfc3339(), "2024-05-01T10:00:00.000Z");
    }

    #[test]
    fn leef_two_with_caret_delimiter() {
        let e = one(
            &Leef,
            "LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8^dst=10.0.0.5^sev=5^devTime=May 01 2024 10:00:00^usrName=joe",
        );
        assert_eq!(e.src_endpoint.ip.as_deref(), Some("10.0.1.8"));
        assert_eq!(e.actor.user.name.as_deref(), Some("joe"));
        assert_eq!(e.severity, Severity::Medium);
        assert_eq!(e.time.to_rfc3339(), "2024-05-01T10:00:00.000Z");
    }
}
