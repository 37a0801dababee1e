//! Zeek logs (`conn`, `dns`, `ssl`, `http`, `smtp`, `dhcp`), in both of Zeek's writers: TSV with
//! `#separator`/`#fields`/`#types` headers, and JSON lines. Every Zeek field stays reachable
//! under its Zeek name (`unmapped.id.orig_h`, `unmapped.conn_state`); the fields with a place
//! in the model are mapped too (table in `docs/formats.md`).
//!
//! # Why TSV is read through a per-source decoder
//!
//! A TSV row means nothing without the `#fields` header that names its columns, which sits at
//! the top of the log (and again after a rotation or a schema change). Three designs were
//! weighed:
//! - *the whole log as one record* ([`Framing::Grouped`] from `#separator`): simple and pure,
//!   but a multi-gigabyte `conn.log` becomes one record, over the pipeline's 16 MiB record cap
//!   and against flat-memory streaming; and a bad row's line number would be lost inside it;
//! - *headers repeated into every record*: the framing would have to know Zeek;
//! - *each line its own record, the header kept by a per-source decoder* (chosen):
//!   [`Decoder::start`] hands the pipeline a [`SourceDecoder`] for one source, fed every line
//!   in order. Header lines update its state (and yield nothing); each data row decodes alone
//!   against the current header, so memory stays flat however long the log, and a bad row is
//!   quarantined as its own record with its own line number.
//!
//! The stateless [`Decoder::decode`] still reads JSON lines, and a record that carries its
//! own header lines (a small log given whole, or `header lines + rows`): each row of such a
//! record decodes alone, and a failing row is an entry error with the row's index and bytes.
//! A TSV row decoded alone, without any header, is refused with a reason saying so.
//!
//! This decoder never panics, does no IO, and allocates in proportion to the row.

use crate::{DecodeError, Decoded, Decoder, Framing, Sniff, SourceDecoder, json};
use serde_json::Value;
use std::sync::Arc;
use ward_model::event::class;
use ward_model::unmapped::{Key, KnownNames};
use ward_model::{Event, Severity, Status, Timestamp, Unmapped};

const PRODUCT: &str = "zeek";

/// The Zeek log decoder.
pub struct Zeek;

impl Decoder for Zeek {
    fn name(&self) -> &'static str {
        PRODUCT
    }

    fn description(&self) -> &'static str {
        "Zeek logs (conn, dns, ssl, http, smtp, dhcp): TSV with #fields headers, or JSON lines"
    }

    fn framing(&self) -> Framing {
        Framing::Lines
    }

    fn sniff(&self, record: &[u8]) -> Sniff {
        let line = record.trim_ascii_start();
        if line.starts_with(b"#separator") || line.starts_with(b"#fields") {
            return Sniff::Yes;
        }
        if line.first() == Some(&b'{') {
            let window = line.get(..line.len().min(4096)).unwrap_or(line);
            let has = |key: &[u8]| memchr::memmem::find(window, key).is_some();
            if has(b"\"uid\"") && has(b"\"id.orig_h\"") {
                return Sniff::Yes;
            }
        }
        Sniff::No
    }

    fn decode(&self, record: &[u8], out: &mut Vec<Decoded>) {
        let mut lines = record
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .filter(|l| !l.trim_ascii().is_empty())
            .peekable();
        let mut source = ZeekSource::default();
        let Some(first) = lines.next() else {
            return out.push(Err(DecodeError::record(
                "empty record: expected a Zeek log line",
            )));
        };
        if lines.peek().is_none() {
            return source.decode(first, out);
        }
        // Several lines: a log with its headers. Each row is an entry of the record.
        let mut row = 0u64;
        for line in std::iter::once(first).chain(lines) {
            if line.first() == Some(&b'#') {
                source.read_header(line);
                continue;
            }
            match source.decode_row(line) {
                Ok(event) => out.push(Ok(event)),
                Err(reason) => out.push(Err(DecodeError::entry(row, reason, line.to_vec()))),
            }
            row += 1;
        }
    }

    fn start(&self) -> Option<Box<dyn SourceDecoder>> {
        Some(Box::new(ZeekSource::default()))
    }
}

/// What the TSV headers of a log say. Shared (`Arc`) so that a pipeline may hand a snapshot
/// to another thread cheaply.
#[derive(Debug, Clone)]
struct Header {
    separator: u8,
    set_separator: u8,
    empty: Vec<u8>,
    unset: Vec<u8>,
    path: Option<String>,
    fields: Vec<Key>,
    types: Vec<String>,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            separator: b'\t',
            set_separator: b',',
            empty: b"(empty)".to_vec(),
            unset: b"-".to_vec(),
            path: None,
            fields: Vec::new(),
            types: Vec::new(),
        }
    }
}

/// One Zeek source: the header read so far.
#[derive(Default)]
pub struct ZeekSource {
    header: Arc<Header>,
}

impl SourceDecoder for ZeekSource {
    fn decode(&mut self, record: &[u8], out: &mut Vec<Decoded>) {
        let line = record.strip_suffix(b"\r").unwrap_or(record);
        if line.first() == Some(&b'#') {
            self.read_header(line);
            return;
        }
        out.push(self.decode_row(line).map_err(DecodeError::record));
    }
}

impl ZeekSource {
    fn read_header(&mut self, line: &[u8]) {
        let header = Arc::make_mut(&mut self.header);
        // `#separator` is followed by a space; the others by the separator it names.
        if let Some(value) = line.strip_prefix(b"#separator ") {
            if let Some(sep) = unescape_byte(value) {
                *header = Header {
                    separator: sep,
                    ..Header::default()
                };
            }
            return;
        }
        let mut parts = line.split(|&b| b == header.separator);
        let key = parts.next().unwrap_or_default();
        let texts = |parts: std::slice::Split<'_, u8, _>| -> Vec<String> {
            parts
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect()
        };
        match key {
            b"#set_separator" => {
                if let Some(sep) = parts.next().and_then(unescape_byte) {
                    header.set_separator = sep;
                }
            }
            b"#empty_field" => header.empty = parts.next().unwrap_or_default().to_vec(),
            b"#unset_field" => header.unset = parts.next().unwrap_or_default().to_vec(),
            b"#path" => {
                header.path = parts
                    .next()
                    .map(|p| String::from_utf8_lossy(p).into_owned())
            }
            b"#fields" => {
                header.fields = texts(parts)
                    .into_iter()
                    .map(|name| match known_name(&name) {
                        Some(known) => Key::Borrowed(known),
                        None => Key::Owned(name),
                    })
                    .collect()
            }
            b"#types" => header.types = texts(parts),
            // `#open`, `#close` and comments carry nothing a row needs.
            _ => {}
        }
    }

    fn decode_row(&self, line: &[u8]) -> Result<Event, String> {
        if line.first() == Some(&b'{') {
            return decode_json(line);
        }
        let header = &*self.header;
        if header.fields.is_empty() {
            return Err(
                "a Zeek TSV row without its #fields header: ingest the log from its first line"
                    .into(),
            );
        }
        let columns = line.split(|&b| b == header.separator).count();
        if columns != header.fields.len() {
            return Err(format!(
                "{columns} columns where #fields names {}: the row is truncated or not of this log",
                header.fields.len()
            ));
        }
        let mut fields = Unmapped::with_capacity(header.fields.len() + 1);
        for (i, value) in line.split(|&b| b == header.separator).enumerate() {
            if value == header.unset.as_slice() {
                continue;
            }
            let (Some(name), kind) = (header.fields.get(i), header.types.get(i)) else {
                continue;
            };
            let value = if value == header.empty.as_slice() {
                match kind {
                    Some(k) if k.starts_with("set[") || k.starts_with("vector[") => {
                        Value::Array(Vec::new())
                    }
                    _ => Value::String(String::new()),
                }
            } else {
                typed(value, kind.map(String::as_str), header.set_separator)
                    .map_err(|expected| format!("column {name} is not {expected} as #types says"))?
            };
            fields.insert(name.clone(), value);
        }
        if let Some(path) = &header.path {
            fields.insert("_path", Value::String(path.clone()));
        }
        to_event(fields, line)
    }
}

/// The field names of the logs this decoder reads (conn, dns, ssl, http, smtp, dhcp, and Zeek's
/// own `_path` / `_write_ts`): a row's names are taken from here rather than copied, so most
/// cost no allocation. A name not listed is kept as well, as a copy. Looked up by length and
/// first byte, then compared: at most three candidates.
fn known_name(name: &str) -> Option<&'static str> {
    let &first = name.as_bytes().first()?;
    let candidates: &[&'static str] = match (name.len(), first) {
        (1, b'Z') => ["Z"].as_slice(),
        (2, b'A') => ["AA"].as_slice(),
        (2, b'R') => ["RA", "RD"].as_slice(),
        (2, b'T') => ["TC"].as_slice(),
        (2, b'c') => ["cc"].as_slice(),
        (2, b't') => ["to", "ts"].as_slice(),
        (3, b'm') => ["mac"].as_slice(),
        (3, b'r') => ["rtt"].as_slice(),
        (3, b't') => ["tls"].as_slice(),
        (3, b'u') => ["uid", "uri"].as_slice(),
        (4, b'T') => ["TTLs"].as_slice(),
        (4, b'd') => ["date"].as_slice(),
        (4, b'f') => ["from"].as_slice(),
        (4, b'h') => ["helo", "host"].as_slice(),
        (4, b'p') => ["path"].as_slice(),
        (4, b't') => ["tags"].as_slice(),
        (4, b'u') => ["uids"].as_slice(),
        (4, b'v') => ["vlan"].as_slice(),
        (5, b'_') => ["_path"].as_slice(),
        (5, b'c') => ["curve"].as_slice(),
        (5, b'f') => ["fuids"].as_slice(),
        (5, b'p') => ["proto"].as_slice(),
        (5, b'q') => ["qtype", "query"].as_slice(),
        (5, b'r') => ["rcode"].as_slice(),
        (6, b'c') => ["cipher"].as_slice(),
        (6, b'd') => ["domain"].as_slice(),
        (6, b'i') => ["issuer"].as_slice(),
        (6, b'm') => ["method", "msg_id"].as_slice(),
        (6, b'o') => ["origin"].as_slice(),
        (6, b'q') => ["qclass"].as_slice(),
        (6, b'r') => ["rcptto"].as_slice(),
        (7, b'a') => ["answers"].as_slice(),
        (7, b'h') => ["history"].as_slice(),
        (7, b'p') => ["proxied"].as_slice(),
        (7, b'r') => ["resumed"].as_slice(),
        (7, b's') => ["service", "subject"].as_slice(),
        (7, b'v') => ["version"].as_slice(),
        (8, b'd') => ["duration"].as_slice(),
        (8, b'i') => ["info_msg"].as_slice(),
        (8, b'm') => ["mailfrom"].as_slice(),
        (8, b'p') => ["password"].as_slice(),
        (8, b'r') => ["referrer", "rejected", "reply_to"].as_slice(),
        (8, b't') => ["trans_id"].as_slice(),
        (8, b'u') => ["username"].as_slice(),
        (9, b'_') => ["_write_ts"].as_slice(),
        (9, b'h') => ["host_name"].as_slice(),
        (9, b'i') => [
            "id.orig_h",
            "id.orig_p",
            "id.resp_h",
            "id.resp_p",
            "info_code",
        ]
        .as_slice(),
        (9, b'm') => ["msg_types"].as_slice(),
        (9, b'o') => ["orig_pkts"].as_slice(),
        (9, b'r') => ["resp_pkts"].as_slice(),
        (10, b'c') => ["conn_state"].as_slice(),
        (10, b'i') => ["inner_vlan", "is_webmail"].as_slice(),
        (10, b'l') => [
            "last_alert",
            "last_reply",
            "lease_time",
            "local_orig",
            "local_resp",
        ]
        .as_slice(),
        (10, b'o') => ["orig_bytes", "orig_fuids"].as_slice(),
        (10, b'q') => ["qtype_name"].as_slice(),
        (10, b'r') => ["rcode_name", "resp_bytes", "resp_fuids"].as_slice(),
        (10, b's') => ["status_msg"].as_slice(),
        (10, b'u') => ["user_agent"].as_slice(),
        (11, b'c') => ["client_addr", "client_fqdn"].as_slice(),
        (11, b'e') => ["established"].as_slice(),
        (11, b'i') => ["in_reply_to"].as_slice(),
        (11, b'q') => ["qclass_name"].as_slice(),
        (11, b's') => ["server_addr", "server_name", "ssl_history", "status_code"].as_slice(),
        (11, b't') => ["trans_depth"].as_slice(),
        (12, b'c') => ["community_id"].as_slice(),
        (12, b'm') => ["missed_bytes"].as_slice(),
        (12, b'o') => ["orig_l2_addr"].as_slice(),
        (12, b'r') => ["resp_l2_addr"].as_slice(),
        (13, b'a') => ["assigned_addr"].as_slice(),
        (13, b'n') => ["next_protocol"].as_slice(),
        (13, b'o') => ["orig_ip_bytes"].as_slice(),
        (13, b'r') => ["resp_ip_bytes"].as_slice(),
        (14, b'c') => ["cert_chain_fps", "client_message"].as_slice(),
        (14, b'f') => ["first_received"].as_slice(),
        (14, b'o') => ["orig_filenames"].as_slice(),
        (14, b'r') => ["requested_addr", "resp_filenames"].as_slice(),
        (14, b's') => ["server_message"].as_slice(),
        (14, b't') => ["tunnel_parents"].as_slice(),
        (15, b'o') => ["orig_mime_types"].as_slice(),
        (15, b'r') => ["resp_mime_types"].as_slice(),
        (15, b's') => ["second_received"].as_slice(),
        (16, b'r') => ["request_body_len"].as_slice(),
        (16, b's') => ["sni_matches_cert"].as_slice(),
        (16, b'x') => ["x_originating_ip"].as_slice(),
        (17, b'r') => ["response_body_len"].as_slice(),
        (17, b'v') => ["validation_status"].as_slice(),
        (21, b'c') => ["client_cert_chain_fps"].as_slice(),
        _ => return None,
    };
    candidates.iter().copied().find(|known| *known == name)
}

/// `\x09` (as `#separator` writes it) or a literal byte.
fn unescape_byte(text: &[u8]) -> Option<u8> {
    match text {
        [b'\\', b'x', hi, lo] => {
            u8::from_str_radix(std::str::from_utf8(&[*hi, *lo]).ok()?, 16).ok()
        }
        [b] => Some(*b),
        _ => None,
    }
}

/// Zeek's TSV escapes non-printable bytes as `\xHH`.
fn unescape_text(bytes: &[u8]) -> String {
    if !bytes.contains(&b'\\') {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'\\'
            && bytes.get(i + 1) == Some(&b'x')
            && let Some(byte) = bytes
                .get(i + 2..i + 4)
                .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok())
        {
            out.push(byte);
            i += 4;
            continue;
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A TSV value as JSON, by its `#types` type: counts, ports and integers as numbers, times and
/// intervals as (fractional) numbers, `T`/`F` as booleans, sets and vectors as arrays. A value
/// that is not of its declared type is an error naming the type expected: a damaged row is
/// quarantined, not stored with a field silently turned into text.
fn typed(value: &[u8], kind: Option<&str>, set_separator: u8) -> Result<Value, &'static str> {
    let text = || unescape_text(value);
    Ok(match kind {
        Some("count" | "port") => std::str::from_utf8(value)
            .ok()
            .and_then(|t| t.parse::<u64>().ok())
            .map(Value::from)
            .ok_or("a count")?,
        Some("int") => std::str::from_utf8(value)
            .ok()
            .and_then(|t| t.parse::<i64>().ok())
            .map(Value::from)
            .ok_or("an integer")?,
        Some("time" | "interval" | "double") => std::str::from_utf8(value)
            .ok()
            .and_then(|t| t.parse::<f64>().ok())
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or("a number")?,
        Some("bool") => match value {
            b"T" => Value::Bool(true),
            b"F" => Value::Bool(false),
            _ => return Err("T or F"),
        },
        Some(k) if k.starts_with("set[") || k.starts_with("vector[") => Value::Array(
            value
                .split(|&b| b == set_separator)
                .map(|item| Value::String(unescape_text(item)))
                .collect(),
        ),
        _ => Value::String(text()),
    })
}

fn decode_json(line: &[u8]) -> Result<Event, String> {
    let fields = json::object_or_reason(
        json::body(line),
        "one Zeek log entry a line",
        |body| json::parse_seed(body, KnownNames(known_name)),
        Unmapped::from,
    )?;
    to_event(fields, line)
}

/// The kind of log a row comes from: its `_path`, else guessed from the fields it has.
fn log_kind(fields: &Unmapped) -> &'static str {
    let path = fields.get("_path").and_then(Value::as_str).unwrap_or("");
    for kind in ["conn", "dns", "ssl", "http", "smtp", "dhcp"] {
        if path.starts_with(kind) {
            return kind;
        }
    }
    let has = |key: &str| fields.contains_key(key);
    if has("qtype_name") || has("rcode_name") || has("query") && has("trans_id") {
        "dns"
    } else if has("method") || has("status_code") || has("user_agent") {
        "http"
    } else if has("mailfrom") || has("rcptto") {
        "smtp"
    } else if has("cipher") || has("server_name") || has("validation_status") {
        "ssl"
    } else if has("assigned_addr") || has("mac") || has("lease_time") {
        "dhcp"
    } else if has("conn_state") || has("proto") {
        "conn"
    } else {
        ""
    }
}

fn text<'a>(fields: &'a Unmapped, key: &str) -> Option<&'a str> {
    fields
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn ip(fields: &Unmapped, key: &str) -> Option<String> {
    let t = text(fields, key)?;
    t.parse::<std::net::IpAddr>().is_ok().then(|| t.to_string())
}

fn port(fields: &Unmapped, key: &str) -> Option<u16> {
    match fields.get(key)? {
        Value::Number(n) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().filter(|s| !s.is_empty()).map(str::to_string))
            .collect(),
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// `ts`: epoch seconds with a fraction (TSV, default JSON) or ISO 8601 (JSON written with
/// `JSON::TS_ISO8601`).
fn event_time(fields: &Unmapped) -> Result<Timestamp, String> {
    let value = fields
        .get("ts")
        .ok_or("no ts field: every Zeek log entry starts with ts")?;
    let seconds = |s: f64| {
        (s.is_finite() && s.abs() < 1e12).then(|| Timestamp::from_millis((s * 1e3).round() as i64))
    };
    let parsed = match value {
        Value::Number(n) => n.as_f64().and_then(seconds),
        Value::String(s) => s
            .parse::<f64>()
            .ok()
            .and_then(seconds)
            .or_else(|| Timestamp::parse(s)),
        _ => None,
    };
    parsed.ok_or_else(|| {
        format!(
            "ts {} is not a time: expected epoch seconds or ISO 8601",
            json::clip(&value.to_string())
        )
    })
}

/// OCSF activity ids used below.
const TRAFFIC: u8 = 6;
const OTHER: u8 = 99;
const EMAIL_SEND: u8 = 1;

/// OCSF HTTP Activity `activity_id` from the method.
fn http_activity(method: &str) -> u8 {
    match method {
        "CONNECT" => 1,
        "DELETE" => 2,
        "GET" => 3,
        "HEAD" => 4,
        "OPTIONS" => 5,
        "POST" => 6,
        "PUT" => 7,
        "TRACE" => 8,
        _ => OTHER,
    }
}

fn to_event(fields: Unmapped, raw: &[u8]) -> Result<Event, String> {
    let time = event_time(&fields)?;
    let mut event = Event::from_record(PRODUCT, time, raw.to_vec());
    let kind = log_kind(&fields);
    event.severity = Severity::Informational;
    event.metadata.uid = text(&fields, "uid").map(str::to_string);
    event.metadata.event_code = (!kind.is_empty()).then(|| kind.to_string());
    event.src_endpoint.ip = ip(&fields, "id.orig_h");
    event.src_endpoint.port = port(&fields, "id.orig_p");
    event.dst_endpoint.ip = ip(&fields, "id.resp_h");
    event.dst_endpoint.port = port(&fields, "id.resp_p");
    match kind {
        "conn" => {
            event.class_uid = class::NETWORK_ACTIVITY;
            event.activity_id = TRAFFIC;
            event.activity_name = Some("connection".into());
            event.status_detail = text(&fields, "conn_state").map(str::to_string);
        }
        "dns" => {
            event.class_uid = class::DNS_ACTIVITY;
            event.activity_id = TRAFFIC;
            event.activity_name = Some("query".into());
            let rcode = text(&fields, "rcode_name");
            event.status = match rcode {
                Some("NOERROR") => Status::Success,
                Some(_) => Status::Failure,
                None => Status::Unknown,
            };
            event.status_detail = rcode.map(str::to_string);
        }
        "ssl" => {
            event.class_uid = class::NETWORK_ACTIVITY;
            event.activity_id = TRAFFIC;
            event.activity_name = Some("tls handshake".into());
            event.dst_endpoint.hostname = text(&fields, "server_name").map(str::to_string);
            let validation = text(&fields, "validation_status");
            event.status = match (validation, fields.get("established")) {
                (_, Some(Value::Bool(false))) => Status::Failure,
                (Some("ok"), _) => Status::Success,
                (Some(_), _) => Status::Failure,
                (None, Some(Value::Bool(true))) => Status::Success,
                _ => Status::Unknown,
            };
            event.status_detail = validation.map(str::to_string);
        }
        "http" => {
            event.class_uid = class::HTTP_ACTIVITY;
            let method = text(&fields, "method");
            event.activity_id = method.map_or(0, http_activity);
            event.activity_name = method.map(str::to_string);
            event.dst_endpoint.hostname = text(&fields, "host").map(str::to_string);
            let status = port(&fields, "status_code");
            event.status = match status {
                Some(s) if s < 400 => Status::Success,
                Some(_) => Status::Failure,
                None => Status::Unknown,
            };
            event.status_detail = status.map(|s| s.to_string());
        }
        "smtp" => {
            event.class_uid = class::EMAIL_ACTIVITY;
            event.activity_id = EMAIL_SEND;
            event.activity_name = Some("smtp".into());
            event.email.from = text(&fields, "mailfrom").map(str::to_string);
            event.email.to = strings(fields.get("rcptto"));
            event.email.subject = text(&fields, "subject").map(str::to_string);
            event.email.message_uid = text(&fields, "msg_id").map(str::to_string);
            event.dst_endpoint.hostname = text(&fields, "helo").map(str::to_string);
        }
        "dhcp" => {
            event.class_uid = class::NETWORK_ACTIVITY;
            event.activity_id = OTHER;
            event.activity_name = Some("dhcp lease".into());
            event.src_endpoint.hostname = text(&fields, "host_name").map(str::to_string);
            if event.src_endpoint.ip.is_none() {
                event.src_endpoint.ip =
                    ip(&fields, "assigned_addr").or_else(|| ip(&fields, "client_addr"));
            }
            if event.dst_endpoint.ip.is_none() {
                event.dst_endpoint.ip = ip(&fields, "server_addr");
            }
        }
        _ => {
            event.class_uid = class::BASE_EVENT;
        }
    }
    if event.status == Status::Failure {
        event.severity = Severity::Low;
    }
    event.unmapped = fields;
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known names come back as their static spelling, every other name (a near miss, an empty
    /// one, a log's own extension field) is not known and is kept as a copy; either way a row
    /// keeps every field under its name.
    #[test]
    fn field_names_are_known_or_copied_and_always_kept() {
        for name in [
            "ts",
            "uid",
            "id.orig_h",
            "conn_state",
            "TTLs",
            "_path",
            "x_originating_ip",
        ] {
            assert_eq!(known_name(name), Some(name), "{name}");
        }
        for name in ["", "t", "tss", "id.orig_x", "Ts", "my_extension_field"] {
            assert_eq!(known_name(name), None, "{name}");
        }
        let line = br#"{"ts":1700000000.5,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":5,"id.resp_h":"10.0.0.2","id.resp_p":22,"proto":"tcp","my_extension_field":"kept"}"#;
        let event = decode_json(line).unwrap();
        assert_eq!(event.unmapped["my_extension_field"], "kept");
        assert!(event.unmapped.get("conn_state").is_none());
        assert_eq!(event.unmapped.len(), 8, "{:?}", event.unmapped);
    }

    #[test]
    fn separator_and_types_are_read_from_the_header() {
        let mut source = ZeekSource::default();
        let mut out = Vec::new();
        for line in [
            &b"#separator \\x7c"[..],
            b"#set_separator|;",
            b"#fields|ts|uid|id.orig_h|tags",
            b"#types|time|string|addr|set[string]",
            b"1700000000.5|C1|10.0.0.1|a;b",
        ] {
            source.decode(line, &mut out);
        }
        let [Ok(e)] = out.as_slice() else {
            panic!("{out:?}")
        };
        assert_eq!(e.time, Timestamp(1_700_000_000_500));
        assert_eq!(e.unmapped["tags"], serde_json::json!(["a", "b"]));
        assert_eq!(e.src_endpoint.ip.as_deref(), Some("10.0.0.1"));
    }

    #[test]
    fn escaped_bytes_are_undone() {
        assert_eq!(unescape_text(br"a\x09b\x5c"), "a\tb\\");
        assert_eq!(unescape_text(br"\x4"), r"\x4");
    }
}
