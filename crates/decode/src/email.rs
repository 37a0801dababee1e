//! E-mail messages (RFC 5322 with MIME): a `.eml` file (one message) or an mbox (messages
//! one after another, each behind a `From ` separator line). Each message becomes one Email
//! Activity event carrying what the phishing, BEC and misdirected-PHI detectors read: sender
//! and display name, Reply-To, recipients, subject, the first external hop from the
//! `Received` chain, SPF/DKIM/DMARC verdicts from `Authentication-Results`, the attachments'
//! names and types, the text of the body (HTML reduced to text), bounded and in UTF-8, and the
//! web links the message carries (`http`/`https` URLs written in its text and the `href`s of
//! its HTML, which reducing HTML to text loses). The mapping is the table in `docs/formats.md`.
//!
//! MIME is read with Stalwart's `mail-parser` (Apache-2.0/MIT, no dependencies of its own
//! here, fuzzed upstream, about three seconds to build): RFC 2047 encoded words, RFC 2231
//! parameters, base64 / quoted-printable, nested multiparts and `message/rfc822` parts, the
//! common non-UTF-8 charsets and the malformed headers real mail carries. A hand-written
//! reader would be several hundred lines to get the same on real messages; what is written
//! here is only the mapping, mbox framing and the `Authentication-Results` grammar.
//!
//! Framing: [`Framing::Grouped`] starting at mbox `From ` separator lines only, so an mbox is
//! cut at each separator and a bare `.eml` (which has none) is one record whole. A message
//! with no readable `Date` is refused: the time of an e-mail is when it was written, never
//! when it was read. This decoder never panics, does no IO, and keeps at most
//! [`MAX_BODY_TEXT`] bytes of body text.

use crate::{DecodeError, Decoded, Decoder, Framing, Sniff, json};
use mail_parser::{Address, MessageParser, MimeHeaders};
use serde_json::{Map, Value, json};
use std::net::IpAddr;
use ward_model::event::class;
use ward_model::{Event, Severity, Timestamp, Unmapped};

const PRODUCT: &str = "email";

/// Body text kept for content inspection; longer bodies are cut at a character boundary and
/// `unmapped.body_truncated` is set.
pub const MAX_BODY_TEXT: usize = 64 * 1024;

/// Attachments listed per message; more are counted in `unmapped.attachment_count` only.
const MAX_ATTACHMENTS: usize = 64;

/// Links listed per message (`unmapped.links`); more are counted in `unmapped.link_count` only.
pub const MAX_LINKS: usize = 32;

/// A link longer than this is cut (at a character boundary): its host, what detectors match
/// on, is at the start.
const MAX_LINK_BYTES: usize = 2048;

/// OCSF Email Activity (4009) `activity_id` values.
pub mod email_activity {
    pub const SEND: u8 = 1;
    pub const RECEIVE: u8 = 2;
    pub const OTHER: u8 = 99;
}

/// The e-mail message decoder (`.eml`, mbox).
pub struct Email;

impl Decoder for Email {
    fn name(&self) -> &'static str {
        PRODUCT
    }

    fn description(&self) -> &'static str {
        "e-mail messages: RFC 5322 / MIME .eml files and mbox mailboxes"
    }

    fn framing(&self) -> Framing {
        Framing::Grouped(is_mbox_separator)
    }

    fn sniff(&self, record: &[u8]) -> Sniff {
        let first = first_line(record);
        if is_mbox_separator(first) {
            return Sniff::Yes;
        }
        match header_name(first) {
            Some(name)
                if TELLTALE_HEADERS
                    .iter()
                    .any(|h| h.eq_ignore_ascii_case(name)) =>
            {
                Sniff::Yes
            }
            Some(name) if COMMON_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name)) => {
                Sniff::Maybe
            }
            _ => Sniff::No,
        }
    }

    fn decode(&self, record: &[u8], out: &mut Vec<Decoded>) {
        out.push(decode_message(record).map_err(DecodeError::record));
    }
}

/// Header names that only a mail message (or a mail server's spool) starts with.
const TELLTALE_HEADERS: [&str; 12] = [
    "Return-Path",
    "Received",
    "Delivered-To",
    "X-Original-To",
    "DKIM-Signature",
    "ARC-Seal",
    "ARC-Message-Signature",
    "ARC-Authentication-Results",
    "Authentication-Results",
    "Received-SPF",
    "X-Received",
    "MIME-Version",
];

/// Header names a message may start with but other text might too.
const COMMON_HEADERS: [&str; 8] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "Sender",
    "Content-Type",
];

fn first_line(record: &[u8]) -> &[u8] {
    let line = match memchr::memchr(b'\n', record) {
        Some(nl) => &record[..nl],
        None => record,
    };
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// An mbox separator: `From SENDER DATE`, where the date is asctime-like and carries a time
/// `hh:mm:ss` and a four-digit year (`From MAILER-DAEMON Fri Jul  8 12:08:34 2011`). Demanding
/// the date keeps a body line that happens to begin with `From ` (unescaped, in a bare
/// `.eml`) from cutting the message.
pub fn is_mbox_separator(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"From ") else {
        return false;
    };
    if rest.len() > 1024 {
        return false;
    }
    let (sender, date) = match memchr::memchr(b' ', rest) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => return false,
    };
    if sender.is_empty() || sender.ends_with(b":") {
        return false;
    }
    let has_time = date.windows(8).any(|w| shape(w, b"99:99:99"));
    let has_year = date
        .split(|&b| b == b' ')
        .any(|w| w.len() == 4 && w.iter().all(u8::is_ascii_digit));
    has_time && has_year
}

/// True when `bytes` has the shape of `pattern`, where `9` stands for any digit.
fn shape(bytes: &[u8], pattern: &[u8]) -> bool {
    bytes.len() == pattern.len()
        && bytes.iter().zip(pattern).all(|(b, p)| match p {
            b'9' => b.is_ascii_digit(),
            p => b == p,
        })
}

/// A message as it was before an mbox writer escaped it: a line `>From ` (mboxo) or
/// `>>…>From ` (mboxrd) loses one `>`. Reversing mboxrd this way also reverses mboxo, whose
/// writers only ever add one `>` to a line that began with `From `. Borrowed when no line
/// needs it, which is nearly every message.
fn unescape_mbox_from(message: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    fn escaped(line: &[u8]) -> bool {
        let quotes = line.iter().take_while(|&&b| b == b'>').count();
        quotes > 0 && line[quotes..].starts_with(b"From ")
    }
    if !message.split(|&b| b == b'\n').any(escaped) {
        return std::borrow::Cow::Borrowed(message);
    }
    let mut out = Vec::with_capacity(message.len());
    for (i, line) in message.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        out.extend_from_slice(if escaped(line) { &line[1..] } else { line });
    }
    std::borrow::Cow::Owned(out)
}

/// The field name of an RFC 5322 header line (`Name: value`), if the line is one.
fn header_name(line: &[u8]) -> Option<&str> {
    let colon = memchr::memchr(b':', line.get(..line.len().min(80))?)?;
    let name = &line[..colon];
    let printable = |b: &u8| (33..=126).contains(b) && *b != b':';
    (!name.is_empty() && name.iter().all(printable))
        .then(|| std::str::from_utf8(name).ok())
        .flatten()
}

fn decode_message(record: &[u8]) -> Result<Event, String> {
    // The mbox separator is the mailbox's, not the message's; so are the `>` it put before
    // body lines starting with `From ` (a bare `.eml` escapes nothing).
    let unescaped;
    let message_bytes = if is_mbox_separator(first_line(record)) {
        let message = match memchr::memchr(b'\n', record) {
            Some(nl) => &record[nl + 1..],
            None => &[][..],
        };
        unescaped = unescape_mbox_from(message);
        unescaped.as_ref()
    } else {
        record
    };
    let start = message_bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(message_bytes.len());
    let message_bytes = &message_bytes[start..];
    if message_bytes.is_empty() {
        return Err("empty message: expected RFC 5322 header lines".into());
    }
    if header_name(first_line(message_bytes)).is_none() {
        let shown = String::from_utf8_lossy(
            &first_line(message_bytes)[..first_line(message_bytes).len().min(24)],
        )
        .into_owned();
        return Err(format!(
            "not an e-mail message: first line {:?} is not a `Name: value` header",
            json::clip(&shown)
        ));
    }
    let message = MessageParser::default()
        .parse(message_bytes)
        .ok_or("not an e-mail message: no header could be read")?;

    let time = message_time(&message)?;
    let mut event = Event::from_record(PRODUCT, time, record.to_vec());
    event.class_uid = class::EMAIL_ACTIVITY;
    event.severity = Severity::Informational;
    let mut unmapped = Unmapped::with_capacity(16);

    if let Some(from) = message.from().and_then(Address::first) {
        event.email.from = from.address().map(str::to_string);
        if let Some(name) = from.name().filter(|n| !n.trim().is_empty()) {
            unmapped.insert("from_display", Value::String(name.trim().to_string()));
        }
    }
    event.email.to = addresses(message.to());
    let cc = addresses(message.cc());
    if !cc.is_empty() {
        unmapped.insert("cc", json!(cc));
    }
    if let Some(reply_to) = message.reply_to().and_then(Address::first) {
        if let Some(address) = reply_to.address() {
            unmapped.insert("reply_to", Value::String(address.to_string()));
        }
        if let Some(name) = reply_to.name().filter(|n| !n.trim().is_empty()) {
            unmapped.insert("reply_to_display", Value::String(name.trim().to_string()));
        }
    }
    if let Some(sender) = message
        .sender()
        .and_then(Address::first)
        .and_then(|a| a.address())
    {
        unmapped.insert("sender", Value::String(sender.to_string()));
    }
    if let Some(path) = message.header_raw("Return-Path") {
        let path = path.trim().trim_start_matches('<').trim_end_matches('>');
        unmapped.insert("return_path", Value::String(path.to_string()));
    }
    event.email.subject = message.subject().map(str::to_string);
    event.email.message_uid = message.message_id().map(str::to_string);

    // Received: newest first. The first hop from a public address is where the message came
    // in from outside; private and loopback hops are the organisation's own relays.
    let mut hops = 0u64;
    for received in message.received_all() {
        hops += 1;
        if event.src_endpoint.ip.is_some() {
            continue;
        }
        if let Some(ip) = received.from_ip.filter(is_external) {
            event.src_endpoint.ip = Some(ip.to_string());
            event.src_endpoint.hostname = received
                .from
                .as_ref()
                .or(received.helo.as_ref())
                .map(|h| h.to_string());
            if let Some(by) = received.by.as_ref() {
                event.dst_endpoint.hostname = Some(by.to_string());
            }
        }
    }
    if hops > 0 {
        unmapped.insert("received_hops", Value::from(hops));
    }
    event.activity_id = if event.src_endpoint.ip.is_some() {
        email_activity::RECEIVE
    } else {
        email_activity::OTHER
    };

    authentication_results(&message, &mut unmapped);
    attachments(&message, &mut unmapped);
    body_text(&message, &mut unmapped);
    links(&message, &mut unmapped);
    if let Some(mailer) = message
        .header_raw("X-Mailer")
        .or_else(|| message.header_raw("User-Agent"))
    {
        unmapped.insert("x_mailer", Value::String(mailer.trim().to_string()));
    }
    event.unmapped = unmapped;
    Ok(event)
}

fn message_time(message: &mail_parser::Message<'_>) -> Result<Timestamp, String> {
    if let Some(date) = message.date().filter(|d| d.is_valid()) {
        return Ok(Timestamp::from_millis(
            date.to_timestamp().saturating_mul(1000),
        ));
    }
    Err(match message.header_raw("Date") {
        Some(raw) => format!(
            "Date {:?} is not an RFC 5322 date-time",
            json::clip(raw.trim())
        ),
        None => "message has no Date header: the time it was written is unknown".into(),
    })
}

fn addresses(address: Option<&Address<'_>>) -> Vec<String> {
    address
        .map(|a| {
            a.iter()
                .filter_map(|addr| addr.address())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Public addresses: neither private, loopback, link-local, shared (100.64/10) nor
/// unspecified.
fn is_external(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// `spf=pass`, `dkim=fail`, `dmarc=fail` … of the first (topmost: added by the receiving
/// server) `Authentication-Results` header, into `auth.<method>`; `smtp.mailfrom`,
/// `header.from` and `header.d` into `auth.smtp_mailfrom`, `auth.header_from`,
/// `auth.dkim_domain`. Without one, `Received-SPF`'s verdict gives `auth.spf`.
fn authentication_results(message: &mail_parser::Message<'_>, unmapped: &mut Unmapped) {
    if let Some(results) = message.header_raw("Authentication-Results") {
        // RFC 8601 starts with the authserv-id; Exchange Online leaves it out and starts with
        // a result (`spf=pass (sender IP is …) smtp.mailfrom=…; dkim=…`), so a first part
        // that reads as `method=result` is a result, not a server name.
        let mut parts = results.split(';').peekable();
        if let Some(first) = parts.peek() {
            let first = first.trim();
            let is_result = first
                .split_ascii_whitespace()
                .next()
                .is_some_and(|w| w.contains('='));
            if !is_result {
                if !first.is_empty() {
                    unmapped.insert("auth.serv_id", Value::String(first.to_string()));
                }
                parts.next();
            }
        }
        for part in parts {
            let mut words = part.split_ascii_whitespace();
            let Some((method, result)) = words.next().and_then(|w| w.split_once('=')) else {
                continue;
            };
            let method = method.to_ascii_lowercase();
            if !matches!(
                method.as_str(),
                "spf" | "dkim" | "dmarc" | "arc" | "compauth"
            ) {
                continue;
            }
            let key = format!("auth.{method}");
            if !unmapped.contains_key(&key) {
                let result = result
                    .trim_matches(|c: char| c == ',' || c == '(')
                    .to_ascii_lowercase();
                unmapped.insert(key, Value::String(result));
            }
            for property in words {
                let (name, target) = match property.split_once('=') {
                    Some(("smtp.mailfrom", v)) => ("auth.smtp_mailfrom", v),
                    Some(("header.from", v)) => ("auth.header_from", v),
                    Some(("header.d", v)) => ("auth.dkim_domain", v),
                    _ => continue,
                };
                if !unmapped.contains_key(name) {
                    let value = target.trim_end_matches([';', ',', ')']);
                    unmapped.insert(name, Value::String(value.to_string()));
                }
            }
        }
    }
    if !unmapped.contains_key("auth.spf")
        && let Some(verdict) = message
            .header_raw("Received-SPF")
            .and_then(|v| v.split_ascii_whitespace().next())
    {
        unmapped.insert("auth.spf", Value::String(verdict.to_ascii_lowercase()));
    }
}

fn attachments(message: &mail_parser::Message<'_>, unmapped: &mut Unmapped) {
    let mut list = Vec::new();
    let mut count = 0u64;
    for part in message.attachments() {
        count += 1;
        if list.len() >= MAX_ATTACHMENTS {
            continue;
        }
        let mut item = Map::new();
        if let Some(name) = part.attachment_name() {
            item.insert("name".into(), Value::String(name.to_string()));
        }
        if let Some(ct) = part.content_type() {
            let text = match ct.subtype() {
                Some(sub) => format!("{}/{}", ct.ctype(), sub),
                None => ct.ctype().to_string(),
            };
            item.insert(
                "content_type".into(),
                Value::String(text.to_ascii_lowercase()),
            );
        }
        item.insert("size".into(), Value::from(part.len() as u64));
        list.push(Value::Object(item));
    }
    if count > 0 {
        unmapped.insert("attachments", Value::Array(list));
        unmapped.insert("attachment_count", Value::from(count));
    }
}

/// The text bodies (text/plain; text/html reduced to text where a message has no plain
/// alternative), joined by blank lines, in UTF-8, at most [`MAX_BODY_TEXT`] bytes.
fn body_text(message: &mail_parser::Message<'_>, unmapped: &mut Unmapped) {
    let mut text = String::new();
    let mut truncated = false;
    // mail-parser offers an HTML part, reduced to text, as the text body when there is no
    // text/plain alternative.
    let html_only = message.text_body_count() > 0
        && message
            .text_bodies()
            .all(|part| part.is_content_type("text", "html"));
    for i in 0..message.text_body_count() {
        let Some(part) = message.body_text(i) else {
            continue;
        };
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        truncated |= push_bounded(&mut text, part.trim());
        if truncated {
            break;
        }
    }
    if !text.is_empty() {
        unmapped.insert("body_text", Value::String(text));
    }
    if truncated {
        unmapped.insert("body_truncated", Value::Bool(true));
    }
    if html_only {
        unmapped.insert("body_html_only", Value::Bool(true));
    }
}

/// The web links of the message, in order of appearance, without repeats: the `href`s of its
/// HTML bodies and the URLs written in its text bodies, at most [`MAX_LINKS`] listed.
fn links(message: &mail_parser::Message<'_>, unmapped: &mut Unmapped) {
    let mut found: Vec<String> = Vec::new();
    let mut count = 0usize;
    let mut add = |url: String| {
        if !found.contains(&url) {
            count += 1;
            if found.len() < MAX_LINKS {
                found.push(url);
            }
        }
    };
    for i in 0..message.html_body_count() {
        if let Some(html) = message.body_html(i) {
            hrefs(&html, &mut add);
        }
    }
    for i in 0..message.text_body_count() {
        if let Some(text) = message.body_text(i) {
            urls_in_text(&text, &mut add);
        }
    }
    if !found.is_empty() {
        unmapped.insert(
            "links",
            Value::Array(found.into_iter().map(Value::String).collect()),
        );
    }
    if count > MAX_LINKS {
        unmapped.insert("link_count", Value::from(count as u64));
    }
}

/// `http://` or `https://` at the start of `text`, in any case.
fn starts_with_web_scheme(text: &str) -> bool {
    let lower = |n: usize| text.get(..n).map(str::to_ascii_lowercase);
    lower(7).as_deref() == Some("http://") || lower(8).as_deref() == Some("https://")
}

/// A link as found, with `&amp;` undone (HTML) and cut to [`MAX_LINK_BYTES`]; `None` when it is
/// not a web URL with a host.
fn clean_link(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if !starts_with_web_scheme(raw) {
        return None;
    }
    let mut url = raw.replace("&amp;", "&");
    if url.len() > MAX_LINK_BYTES {
        let mut cut = MAX_LINK_BYTES;
        while !url.is_char_boundary(cut) {
            cut -= 1;
        }
        url.truncate(cut);
    }
    let after_scheme = url.split_once("://").map_or("", |(_, rest)| rest);
    let host = after_scheme.split(['/', '?', '#']).next().unwrap_or("");
    (!host.is_empty()).then_some(url)
}

/// The values of `href` attributes in HTML that are web URLs.
fn hrefs(html: &str, add: &mut impl FnMut(String)) {
    let lower = html.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = lower[from..].find("href") {
        let mut i = from + at + 4;
        from = i;
        let bytes = lower.as_bytes();
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        if bytes.get(i) != Some(&b'=') {
            continue;
        }
        i += 1;
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        let (start, end) = match bytes.get(i) {
            Some(&q @ (b'"' | b'\'')) => {
                let end = memchr::memchr(q, &bytes[i + 1..]).map_or(bytes.len(), |e| i + 1 + e);
                (i + 1, end)
            }
            Some(_) => {
                let end = bytes[i..]
                    .iter()
                    .position(|b| b.is_ascii_whitespace() || *b == b'>')
                    .map_or(bytes.len(), |e| i + e);
                (i, end)
            }
            None => break,
        };
        // `lower` has the same byte offsets as `html` (ASCII case folding only).
        if let Some(url) = html.get(start..end).and_then(clean_link) {
            add(url);
        }
        from = end.max(from);
    }
}

/// URLs written out in plain text: from `http://` or `https://` to the next space, quote or
/// bracket, without the punctuation that ends a sentence.
fn urls_in_text(text: &str, add: &mut impl FnMut(String)) {
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = lower[from..].find("http") {
        let start = from + at;
        from = start + 4;
        if !starts_with_web_scheme(&text[start..]) {
            continue;
        }
        let end = text[start..]
            .find(|c: char| {
                c.is_whitespace()
                    || matches!(
                        c,
                        '<' | '>' | '"' | '\'' | '(' | ')' | '[' | ']' | '{' | '}'
                    )
            })
            .map_or(text.len(), |e| start + e);
        let url = text[start..end].trim_end_matches(['.', ',', ';', ':', '!', '?']);
        if let Some(url) = clean_link(url) {
            add(url);
        }
        from = end.max(from);
    }
}

/// Appends as much of `part` as fits under [`MAX_BODY_TEXT`]; true when it was cut.
fn push_bounded(text: &mut String, part: &str) -> bool {
    let room = MAX_BODY_TEXT.saturating_sub(text.len());
    if part.len() <= room {
        text.push_str(part);
        return false;
    }
    let mut cut = room;
    while cut > 0 && !part.is_char_boundary(cut) {
        cut -= 1;
    }
    text.push_str(&part[..cut]);
    true
}

#[cfg(test)]
mod auth_results_tests {
    use super::*;

    fn auth(header: &str) -> Unmapped {
        let raw = format!(
            "From: a@b.example\r\nDate: Mon, 2 Nov 2026 10:00:00 +0000\r\nAuthentication-Results: {header}\r\n\r\nbody\r\n"
        );
        let message = mail_parser::MessageParser::default()
            .parse(raw.as_bytes())
            .unwrap();
        let mut unmapped = Unmapped::new();
        authentication_results(&message, &mut unmapped);
        unmapped
    }

    #[test]
    fn reads_verdicts_with_and_without_an_authserv_id() {
        let standard = auth(
            "mx.example.org; spf=fail smtp.mailfrom=x@evil.example; dmarc=fail header.from=evil.example",
        );
        assert_eq!(standard["auth.serv_id"], "mx.example.org");
        assert_eq!(standard["auth.spf"], "fail");
        let exchange = auth(
            "spf=pass (sender IP is 198.51.100.7) smtp.mailfrom=partner.example; dkim=none (message not signed) header.d=none;dmarc=fail action=none header.from=partner.example;compauth=fail reason=001",
        );
        assert!(!exchange.contains_key("auth.serv_id"));
        assert_eq!(exchange["auth.spf"], "pass");
        assert_eq!(exchange["auth.dmarc"], "fail");
        assert_eq!(exchange["auth.smtp_mailfrom"], "partner.example");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(text: &str) -> Result<Event, DecodeError> {
        let mut out = Vec::new();
        Email.decode(text.as_bytes(), &mut out);
        assert_eq!(out.len(), 1);
        out.pop().unwrap()
    }

    #[test]
    fn mbox_separators_need_a_date_so_body_lines_do_not_cut_messages() {
        assert!(is_mbox_separator(
            b"From MAILER-DAEMON Fri Jul  8 12:08:34 2011"
        ));
        assert!(is_mbox_separator(b"From - Mon Jan 01 00:00:00 2024"));
        assert!(!is_mbox_separator(
            b"From the desk of the CEO: wire 12:00:00 today"
        ));
        assert!(!is_mbox_separator(b"From: alice@example.org"));
    }

    #[test]
    fn encoded_display_name_and_subject_are_decoded() {
        let e = decode(
            "From: =?UTF-8?B?Sm9zw6kgR2FyY8OtYQ==?= <jose@example.org>\r\nTo: a@b.example\r\nSubject: =?ISO-8859-1?Q?R=E9sultats?=\r\nDate: Wed, 1 May 2024 10:00:00 +0200\r\nMessage-ID: <1@example.org>\r\n\r\nHello\r\n",
        )
        .unwrap();
        assert_eq!(e.unmapped["from_display"], "José García");
        assert_eq!(e.email.subject.as_deref(), Some("Résultats"));
        assert_eq!(e.time.to_rfc3339(), "2024-05-01T08:00:00.000Z");
        assert_eq!(e.email.message_uid.as_deref(), Some("1@example.org"));
        assert_eq!(e.unmapped["body_text"], "Hello");
    }

    #[test]
    fn missing_or_unreadable_date_is_refused() {
        let e = decode("From: a@b.example\nSubject: x\n\nbody\n").unwrap_err();
        assert!(e.reason.contains("no Date"), "{}", e.reason);
        let e = decode("From: a@b.example\nDate: last Tuesday\n\nbody\n").unwrap_err();
        assert!(
            e.reason.contains("not an RFC 5322 date-time"),
            "{}",
            e.reason
        );
    }

    #[test]
    fn body_text_is_bounded_at_a_character_boundary() {
        let body = "é".repeat(MAX_BODY_TEXT);
        let e = decode(&format!(
            "From: a@b.example\nDate: Wed, 1 May 2024 10:00:00 +0000\nContent-Type: text/plain; charset=utf-8\n\n{body}\n"
        ))
        .unwrap();
        let text = e.unmapped["body_text"].as_str().unwrap();
        assert!(text.len() <= MAX_BODY_TEXT && text.len() > MAX_BODY_TEXT - 4);
        assert_eq!(e.unmapped["body_truncated"], true);
    }

    #[test]
    fn mbox_escaped_from_lines_come_back_unescaped_in_the_body() {
        let mbox = "From alice@example.org Wed May  1 10:00:00 2024\n\
                    From: alice@example.org\nDate: Wed, 1 May 2024 10:00:00 +0000\n\
                    Subject: notes\n\n\
                    Minutes below.\n>From the ward round: bed 12 stable.\n\
                    >>From quoted mail (mboxrd keeps one level).\n> From is not escaped here.\n";
        let e = decode(mbox).unwrap();
        assert_eq!(
            e.unmapped["body_text"],
            "Minutes below.\nFrom the ward round: bed 12 stable.\n\
             >From quoted mail (mboxrd keeps one level).\n> From is not escaped here."
        );
        assert_eq!(
            e.raw,
            mbox.as_bytes(),
            "the raw record stays as it was stored"
        );
    }

    #[test]
    fn a_bare_eml_is_not_unescaped() {
        let e =
            decode("From: a@b.example\nDate: Wed, 1 May 2024 10:00:00 +0000\n\n>From the start.\n")
                .unwrap();
        assert_eq!(e.unmapped["body_text"], ">From the start.");
    }

    #[test]
    fn sniffs_separators_and_mail_headers() {
        assert_eq!(
            Email.sniff(b"From a@b Mon Jan  1 00:00:00 2024"),
            Sniff::Yes
        );
        assert_eq!(Email.sniff(b"Return-Path: <a@b>"), Sniff::Yes);
        assert_eq!(Email.sniff(b"Received: from x by y"), Sniff::Yes);
        assert_eq!(Email.sniff(b"Subject: hi"), Sniff::Maybe);
        assert_eq!(Email.sniff(b"Received,SenderAddress"), Sniff::No);
        assert_eq!(Email.sniff(b"<13>May  1 10:00:00 h a: m"), Sniff::No);
    }
}
