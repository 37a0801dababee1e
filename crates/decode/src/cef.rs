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
use std::borrow::Cow;
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
    // The first occurrence, by a plain byte search: building a substring searcher for a
    // marker of four or five bytes costs more than the search.
    let first = *marker.first()?;
    let at = memchr::memchr_iter(first, window).find(|&i| window[i..].starts_with(marker))?;
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
    let body = text_of(&line[at + marker.len()..]);
    let parsed = match kind {
        Kind::Cef => read_cef(&body)?,
        Kind::Leef => read_leef(&body)?,
    };
    build(kind, parsed, header.as_ref(), record, year)
}

/// The line as text: borrowed when it is UTF-8 (the usual case, checked by the standard
/// library's fast validation), invalid sequences replaced otherwise.
fn text_of(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// The names of the header fields under `unmapped`, in the order the header writes them.
const CEF_HEADER: [&str; 7] = [
    "cef.version",
    "cef.device_vendor",
    "cef.device_product",
    "cef.device_version",
    "cef.signature_id",
    "cef.name",
    "cef.severity",
];
const LEEF_HEADER: [&str; 6] = [
    "leef.version",
    "leef.vendor",
    "leef.product",
    "leef.product_version",
    "leef.event_id",
    "leef.delimiter",
];

/// What a CEF or LEEF line holds, unescaped, borrowed from the line where nothing had to be
/// unescaped: each value is copied once, into the event.
struct Parsed<'a> {
    /// The header fields, named by the first entries of `header_names` (`cef.*` / `leef.*`).
    header_names: &'static [&'static str],
    header: Vec<Cow<'a, str>>,
    /// CEF's severity (the header's seventh field); LEEF has none in its header.
    vendor_severity: Option<usize>,
    /// CEF's name (the sixth field).
    name: Option<usize>,
    extension: Vec<(&'a str, Cow<'a, str>)>,
}

impl Parsed<'_> {
    /// CEF Signature ID or LEEF EventID: the fifth field of both headers.
    fn signature(&self) -> &str {
        self.header.get(4).map_or("", |s| s)
    }

    fn name(&self) -> Option<&str> {
        self.name
            .and_then(|n| self.header.get(n))
            .map(|s| &**s)
            .filter(|n| !n.is_empty())
    }

    fn vendor_severity(&self) -> Option<&str> {
        self.vendor_severity
            .and_then(|n| self.header.get(n))
            .map(|s| &**s)
    }
}

/// Splits on `|` not escaped by `\`, unescaping `\|` and `\\`, into at most `n - 1` fields;
/// returns them and the text after the `(n - 1)`th separator as written (empty when the line
/// has fewer fields).
fn split_header(text: &str, n: usize) -> (Vec<Cow<'_, str>>, &str) {
    let bytes = text.as_bytes();
    let mut fields = Vec::with_capacity(n);
    let mut start = 0;
    let mut escaped = false;
    let mut i = 0;
    while i < bytes.len() {
        if fields.len() + 1 == n {
            return (fields, text.get(i..).unwrap_or_default());
        }
        match bytes[i] {
            b'\\' => {
                if matches!(bytes.get(i + 1), Some(b'|' | b'\\')) {
                    escaped = true;
                    i += 1;
                }
            }
            b'|' => {
                fields.push(header_field(
                    text.get(start..i).unwrap_or_default(),
                    escaped,
                ));
                escaped = false;
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if fields.len() + 1 < n {
        fields.push(header_field(text.get(start..).unwrap_or_default(), escaped));
    }
    (fields, "")
}

/// One header field, `\|` and `\\` undone when `escaped` says it holds them; other
/// backslashes stay as written.
fn header_field(field: &str, escaped: bool) -> Cow<'_, str> {
    if !escaped {
        return Cow::Borrowed(field);
    }
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('|' | '\\')) => out.push(e),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            },
            other => out.push(other),
        }
    }
    Cow::Owned(out)
}

fn read_cef(body: &str) -> Result<Parsed<'_>, String> {
    let (header, extension) = split_header(body, 8);
    if header.len() < 7 {
        return Err(format!(
            "CEF header has {} of its 7 `|`-separated fields: expected Version|Vendor|Product|Version|SignatureID|Name|Severity",
            header.len()
        ));
    }
    Ok(Parsed {
        header_names: &CEF_HEADER,
        header,
        vendor_severity: Some(6),
        name: Some(5),
        extension: cef_extension(extension),
    })
}

/// `k1=v1 k2=v two k3=v\=3`: a key is `[A-Za-z0-9_.\[\]-]+` right before an unescaped `=`;
/// a value runs until the space before the next key.
fn cef_extension(text: &str) -> Vec<(&str, Cow<'_, str>)> {
    let bytes = text.as_bytes();
    // Room for the usual two dozen pairs in one allocation small enough for the
    // allocator's per-thread cache (a kilobyte).
    let mut pairs = Vec::with_capacity(24);
    // The start of the key and the `=` of the pair whose value runs until the next key.
    let mut open: Option<(usize, usize)> = None;
    // The last backslash seen: a value holds an escape when one lies after its `=` (keys
    // hold none), so values are not searched for escapes again.
    let mut backslash = None;
    let mut i = 0;
    while let Some(found) = memchr::memchr2(b'\\', b'=', bytes.get(i..).unwrap_or_default()) {
        i += found;
        if bytes[i] == b'\\' {
            backslash = Some(i);
            i += 2;
            continue;
        }
        let mut k = i;
        while k > 0 && is_key_byte(bytes[k - 1]) {
            k -= 1;
        }
        let at_boundary = k == 0 || bytes[k - 1] == b' ';
        if k < i && at_boundary {
            if let Some((key_start, eq)) = open {
                let escaped = backslash.is_some_and(|b| b > eq);
                pairs.push(cef_pair(text, key_start, eq, k.saturating_sub(1), escaped));
            }
            open = Some((k, i));
        }
        i += 1;
    }
    if let Some((key_start, eq)) = open {
        let escaped = backslash.is_some_and(|b| b > eq);
        pairs.push(cef_pair(text, key_start, eq, bytes.len(), escaped));
    }
    pairs
}

fn cef_pair(
    text: &str,
    key_start: usize,
    eq: usize,
    value_end: usize,
    escaped: bool,
) -> (&str, Cow<'_, str>) {
    let key = text.get(key_start..eq).unwrap_or_default();
    let value = trim_end(text.get(eq + 1..value_end.max(eq + 1)).unwrap_or_default());
    if escaped {
        (key, unescape_value(value))
    } else {
        (key, Cow::Borrowed(value))
    }
}

/// `text.trim_end()`, answered without decoding characters when the text ends with ASCII
/// that is not white space, as nearly every value does.
fn trim_end(text: &str) -> &str {
    match text.as_bytes().last() {
        Some(&b) if b.is_ascii() && !char::from(b).is_whitespace() => text,
        _ => text.trim_end(),
    }
}

/// `text.trim()`, as [`trim_end`] answered at both ends.
fn trim(text: &str) -> &str {
    match text.as_bytes().first() {
        Some(&b) if b.is_ascii() && !char::from(b).is_whitespace() => trim_end(text),
        _ => text.trim(),
    }
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'[' | b']')
}

fn unescape_value(value: &str) -> Cow<'_, str> {
    if !value.contains('\\') {
        return Cow::Borrowed(value);
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
    Cow::Owned(out)
}

fn read_leef(body: &str) -> Result<Parsed<'_>, String> {
    let v2 = body.starts_with('2');
    let needed = if v2 { 7 } else { 6 };
    let (mut header, attributes) = split_header(body, needed);
    if header.len() < needed - 1 {
        return Err(format!(
            "LEEF header has {} of its `|`-separated fields: expected Version|Vendor|Product|Version|EventID|",
            header.len()
        ));
    }
    let delimiter = if v2 {
        let spec = header.get(5).map_or("", |s| s);
        let delimiter = leef_delimiter(spec).ok_or_else(|| {
            format!(
                "LEEF 2.0 delimiter {:?} is neither one character nor hex (`0x09`)",
                crate::json::clip(spec)
            )
        })?;
        header.truncate(5);
        header.push(Cow::Owned(delimiter.to_string()));
        delimiter
    } else {
        '\t'
    };
    let mut extension = Vec::with_capacity(16);
    extension.extend(attributes.split(delimiter).filter_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        let k = trim(k);
        (!k.is_empty()).then_some((k, Cow::Borrowed(v)))
    }));
    Ok(Parsed {
        header_names: &LEEF_HEADER,
        header,
        vendor_severity: None,
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

/// The extension values the model maps, each the first occurrence of its key (a value that
/// is empty there counts as absent), found in one pass over the extension.
#[derive(Default)]
struct Mapped<'p> {
    /// Device times, in order of preference: CEF `rt`, `end`, `start`; LEEF `devTime`.
    times: [Option<&'p str>; 3],
    src_ip: Option<&'p str>,
    src_port: Option<&'p str>,
    src_host: Option<&'p str>,
    dst_ip: Option<&'p str>,
    dst_port: Option<&'p str>,
    dst_host: Option<&'p str>,
    user: Option<&'p str>,
    user_id: Option<&'p str>,
    /// LEEF `sev`.
    severity: Option<&'p str>,
    /// CEF `c6a2`, then `sourceTranslatedAddress`.
    src_ip6: Option<&'p str>,
    src_translated: Option<&'p str>,
    /// CEF `dvchost`, then `dvc`.
    device_host: Option<&'p str>,
    device: Option<&'p str>,
    app: Option<&'p str>,
    process: Option<&'p str>,
    action: Option<&'p str>,
    message: Option<&'p str>,
    outcome: Option<&'p str>,
}

/// The keys of [`Mapped::times`], for reasons.
const CEF_TIME_KEYS: [&str; 3] = ["rt", "end", "start"];
const LEEF_TIME_KEYS: [&str; 1] = ["devTime"];

impl<'p> Mapped<'p> {
    fn of(kind: Kind, extension: &'p [(&str, Cow<'_, str>)]) -> Self {
        let mut m = Mapped::default();
        for (key, value) in extension {
            let slot = match (kind, *key) {
                (Kind::Cef, "rt") | (Kind::Leef, "devTime") => &mut m.times[0],
                (Kind::Cef, "end") => &mut m.times[1],
                (Kind::Cef, "start") => &mut m.times[2],
                (_, "src") => &mut m.src_ip,
                (Kind::Cef, "spt") | (Kind::Leef, "srcPort") => &mut m.src_port,
                (Kind::Cef, "shost") | (Kind::Leef, "identHostName") => &mut m.src_host,
                (_, "dst") => &mut m.dst_ip,
                (Kind::Cef, "dpt") | (Kind::Leef, "dstPort") => &mut m.dst_port,
                (Kind::Cef, "dhost") | (Kind::Leef, "dstHostName") => &mut m.dst_host,
                (Kind::Cef, "suser") | (Kind::Leef, "usrName") => &mut m.user,
                (_, "suid") => &mut m.user_id,
                (Kind::Leef, "sev") => &mut m.severity,
                (Kind::Cef, "c6a2") => &mut m.src_ip6,
                (Kind::Cef, "sourceTranslatedAddress") => &mut m.src_translated,
                (Kind::Cef, "dvchost") => &mut m.device_host,
                (Kind::Cef, "dvc") => &mut m.device,
                (_, "app") => &mut m.app,
                (_, "sproc") => &mut m.process,
                (_, "act") => &mut m.action,
                (_, "msg") => &mut m.message,
                (_, "outcome") => &mut m.outcome,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(value);
            }
        }
        let [t0, t1, t2] = &mut m.times;
        for slot in [
            t0,
            t1,
            t2,
            &mut m.src_ip,
            &mut m.src_port,
            &mut m.src_host,
            &mut m.dst_ip,
            &mut m.dst_port,
            &mut m.dst_host,
            &mut m.user,
            &mut m.user_id,
            &mut m.severity,
            &mut m.src_ip6,
            &mut m.src_translated,
            &mut m.device_host,
            &mut m.device,
            &mut m.app,
            &mut m.process,
            &mut m.action,
            &mut m.message,
            &mut m.outcome,
        ] {
            *slot = slot.filter(|v| !v.is_empty());
        }
        m
    }
}

/// CEF `outcome` (LEEF too) as a status, whatever its case.
fn status_of(outcome: Option<&str>) -> Status {
    const SUCCESS: [&str; 7] = [
        "success",
        "succeeded",
        "allowed",
        "allow",
        "permitted",
        "accept",
        "accepted",
    ];
    const FAILURE: [&str; 11] = [
        "failure", "failed", "fail", "blocked", "block", "denied", "deny", "dropped", "drop",
        "rejected", "reject",
    ];
    let Some(outcome) = outcome else {
        return Status::Unknown;
    };
    let is = |words: &[&str]| words.iter().any(|w| w.eq_ignore_ascii_case(outcome));
    if is(&SUCCESS) {
        Status::Success
    } else if is(&FAILURE) {
        Status::Failure
    } else {
        Status::Other
    }
}

fn build(
    kind: Kind,
    parsed: Parsed<'_>,
    header: Option<&syslog::Message<'_>>,
    raw: &[u8],
    year: Option<i32>,
) -> Result<Event, String> {
    let mapped = Mapped::of(kind, &parsed.extension);
    let time_keys: &[&str] = match kind {
        Kind::Cef => &CEF_TIME_KEYS,
        Kind::Leef => &LEEF_TIME_KEYS,
    };
    let mut time = None;
    for (key, text) in time_keys.iter().zip(mapped.times) {
        if let Some(text) = text {
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
    let signature = parsed.signature();
    event.metadata.event_code = (!signature.is_empty()).then(|| signature.to_string());

    let endpoint = |ip: Option<&str>, port: Option<&str>, host: Option<&str>| {
        let mut e = ip.map(Endpoint::from_address).unwrap_or_default();
        if let Some(h) = host {
            e.hostname = Some(h.to_string());
        }
        e.port = port.and_then(|p| p.trim().parse().ok()).filter(|p| *p != 0);
        e
    };
    event.src_endpoint = endpoint(mapped.src_ip, mapped.src_port, mapped.src_host);
    event.dst_endpoint = endpoint(mapped.dst_ip, mapped.dst_port, mapped.dst_host);
    if kind == Kind::Cef {
        if event.src_endpoint.ip.is_none()
            && let Some(ip) = mapped.src_ip6.or(mapped.src_translated)
        {
            event.src_endpoint.ip = Endpoint::from_address(ip).ip;
        }
        if let Some(host) = mapped.device_host.or(mapped.device) {
            let device = Endpoint::from_address(host);
            event.device.ip = device.ip.or(event.device.ip.take());
            event.device.hostname = device.hostname.or(event.device.hostname.take());
        }
    }
    event.actor.user.name = mapped.user.map(str::to_string);
    event.actor.user.uid = mapped.user_id.map(str::to_string);
    event.actor.app_name = mapped
        .app
        .or(mapped.process)
        .map(str::to_string)
        .or(event.actor.app_name.take());
    event.activity_name = mapped.action.or(parsed.name()).map(str::to_string);
    event.message = mapped.message.or(parsed.name()).map(str::to_string);
    let severity = parsed
        .vendor_severity()
        .or(mapped.severity)
        .and_then(severity_of);
    if let Some(s) = severity {
        event.severity = s;
    }
    event.status = status_of(mapped.outcome);
    if event.status == Status::Other {
        event.status_detail = mapped.outcome.map(str::to_string);
    }

    // CEF custom fields under their labels: cs1Label=Policy cs1=Block-All → Policy.
    let mut labelled = Vec::new();
    if kind == Kind::Cef {
        for (key, label) in &parsed.extension {
            let Some(field) = key.strip_suffix("Label") else {
                continue;
            };
            if let Some((_, value)) = parsed.extension.iter().find(|(k, _)| *k == field)
                && !label.is_empty()
            {
                labelled.push((label.to_string(), value.to_string()));
            }
        }
    }
    let map = &mut event.unmapped;
    for (key, value) in parsed.header_names.iter().zip(parsed.header) {
        map.insert(*key, Value::String(value.into_owned()));
    }
    for (key, value) in parsed.extension {
        map.insert(key.to_string(), Value::String(value.into_owned()));
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
    fn escapes_are_undone_only_in_the_values_holding_them() {
        let e = one(
            &Cef,
            r"CEF:0|V\\x|P\y|1|S|N|3|rt=1714557600000 a=x b=y\=z c=w\\ d=plain  e=\n f=last\",
        );
        let field = |k: &str| e.unmapped[k].as_str().unwrap().to_string();
        assert_eq!(field("cef.device_vendor"), r"V\x");
        assert_eq!(field("cef.device_product"), r"P\y");
        assert_eq!(field("a"), "x");
        assert_eq!(field("b"), "y=z");
        assert_eq!(field("c"), r"w\");
        assert_eq!(field("d"), "plain");
        assert_eq!(field("e"), "\n");
        assert_eq!(field("f"), r"last\");
    }

    #[test]
    fn header_without_extension_and_leef_one_with_tabs() {
        let e = one(&Cef, "<14>May 20 17:05:12 fw CEF:0|V|P|1|S|N|3|");
        assert_eq!(e.unmapped["cef.severity"], "3");
        assert_eq!(e.time.to_rfc3339(), "2024-05-20T17:05:12.000Z");
        let e = one(
            &Leef,
            "LEEF:1.0|V|P|1|E7|src=10.0.0.1\t usrName =ann\tdevTime=1714557600000\t=x\tjunk",
        );
        assert_eq!(e.unmapped["leef.event_id"], "E7");
        assert_eq!(e.actor.user.name.as_deref(), Some("ann"));
        assert_eq!(e.time.to_rfc3339(), "2024-05-01T10:00:00.000Z");
        assert!(!e.unmapped.contains_key(""));
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
