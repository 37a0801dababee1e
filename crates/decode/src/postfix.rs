//! Postfix's mail log (`/var/log/mail.log`): RFC 3164 syslog lines from `postfix/smtp`,
//! `postfix/qmgr`, `postfix/smtpd`, `postfix/cleanup` and the other Postfix daemons. The lines
//! that state a mail fact become Email Activity events: a delivery attempt
//! (`QID: to=<…>, relay=…, dsn=…, status=sent|deferred|bounced (…)`), a message entering the
//! queue (`QID: from=<…>, size=…, nrcpt=…`), its Message-ID (`QID: message-id=<…>`), a client
//! connecting or handing a message in (`connect from host[ip]`, `QID: client=host[ip]`, with
//! its SASL login), and a refusal (`NOQUEUE: reject: RCPT from host[ip]: … from=<…> to=<…>`).
//! Other Postfix lines (`removed`, `disconnect`, warnings) get the generic syslog mapping, not
//! an error. A message's lines are tied together by `unmapped.postfix.queue_id`. The mapping
//! is the table in `docs/formats.md`.
//!
//! The syslog header is read by [`crate::syslog`], with its rule for timestamps without a
//! year. Messages are split on `, ` and `=` by hand: no regular expressions, no allocation
//! before the event is built. This decoder never panics and does no IO.

use crate::email::email_activity;
use crate::syslog;
use crate::{DecodeError, Decoded, Decoder, Framing, Sniff};
use serde_json::Value;
use ward_model::event::class;
use ward_model::unmapped::Key;
use ward_model::{Endpoint, Event, Severity, Status};

const PRODUCT: &str = "postfix";

/// The Postfix mail log decoder.
pub struct Postfix;

impl Decoder for Postfix {
    fn name(&self) -> &'static str {
        PRODUCT
    }

    fn description(&self) -> &'static str {
        "Postfix mail log: syslog lines from postfix/smtp, qmgr, smtpd, cleanup …"
    }

    fn framing(&self) -> Framing {
        Framing::Lines
    }

    fn sniff(&self, record: &[u8]) -> Sniff {
        match syslog::parse(record).ok().and_then(|m| m.app_name) {
            Some(app) if is_postfix(app) => Sniff::Yes,
            _ => Sniff::No,
        }
    }

    fn decode(&self, record: &[u8], out: &mut Vec<Decoded>) {
        out.push(decode_line(record, None).map_err(DecodeError::record));
    }

    fn decode_in_year(&self, record: &[u8], year: i32, out: &mut Vec<Decoded>) {
        out.push(decode_line(record, Some(year)).map_err(DecodeError::record));
    }
}

/// `postfix/smtp`, and multi-instance names such as `postfix-out/qmgr`.
fn is_postfix(app: &str) -> bool {
    app.split_once('/')
        .is_some_and(|(instance, _)| instance.starts_with("postfix"))
}

fn decode_line(record: &[u8], year: Option<i32>) -> Result<Event, String> {
    let message = syslog::parse(record)?;
    let mut event = syslog::base_event(PRODUCT, &message, record, year)?;
    let daemon = message
        .app_name
        .and_then(|a| a.split_once('/'))
        .map(|(_, d)| d);
    let text = message.text();
    classify(&mut event, daemon, text.trim());
    Ok(event)
}

/// A queue id: hexadecimal (short ids) or Postfix's long base-52 ids, at least 5 characters.
fn queue_id(text: &str) -> Option<(&str, &str)> {
    let (id, rest) = text.split_once(": ")?;
    let ok = (5..=32).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric())
        && id.bytes().any(|b| b.is_ascii_digit());
    ok.then_some((id, rest))
}

/// `name=value` pairs separated by `, ` (values may hold spaces, and `status=` ends with a
/// parenthesised reason that may hold anything).
fn pairs(text: &str) -> impl Iterator<Item = (&str, &str)> {
    let (head, reason) = match text.find(" (") {
        Some(at) if text.get(..at).is_some_and(|h| h.contains("status=")) => {
            (&text[..at], Some(&text[at + 1..]))
        }
        _ => (text, None),
    };
    head.split(", ")
        .filter_map(|p| p.split_once('='))
        .chain(reason.map(|r| {
            let r = r.strip_prefix('(').unwrap_or(r);
            ("reason", r.strip_suffix(')').unwrap_or(r))
        }))
}

/// `<a@b>` → `a@b`; the null sender `<>` → none.
fn address(value: &str) -> Option<String> {
    let bare = value.trim().trim_start_matches('<').trim_end_matches('>');
    (!bare.is_empty()).then(|| bare.to_string())
}

/// `host[ip]` or `host[ip]:port` → an endpoint; `none` and `unknown` names are dropped.
fn host_endpoint(value: &str) -> Endpoint {
    let value = value.trim().trim_end_matches(',');
    let (host, rest) = match value.split_once('[') {
        Some(split) => split,
        None => (value, ""),
    };
    let (ip, port) = match rest.split_once(']') {
        Some((ip, after)) => (ip, after.strip_prefix(':')),
        None => ("", None),
    };
    let ip = ip.strip_prefix("IPv6:").unwrap_or(ip);
    Endpoint {
        ip: ip
            .parse::<std::net::IpAddr>()
            .is_ok()
            .then(|| ip.to_string()),
        hostname: (!host.is_empty() && host != "unknown" && host != "none")
            .then(|| host.to_string()),
        port: port.and_then(|p| p.parse().ok()),
    }
}

fn put(event: &mut Event, key: impl Into<Key>, value: &str) {
    event.unmapped.insert(key, Value::String(value.to_string()));
}

fn mail(event: &mut Event, activity: u8, name: &str) {
    event.class_uid = class::EMAIL_ACTIVITY;
    event.activity_id = activity;
    event.activity_name = Some(name.to_string());
    if event.severity == Severity::Unknown {
        event.severity = Severity::Informational;
    }
}

fn classify(event: &mut Event, daemon: Option<&str>, text: &str) {
    if let Some(rest) = text.strip_prefix("connect from ") {
        if daemon.is_some_and(|d| d.ends_with("smtpd")) {
            mail(event, email_activity::RECEIVE, "connect");
            event.src_endpoint = host_endpoint(rest);
        }
        return;
    }
    if let Some(rest) = text.strip_prefix("NOQUEUE: ") {
        return refusal(event, rest);
    }
    let Some((qid, rest)) = queue_id(text) else {
        return;
    };
    put(event, "postfix.queue_id", qid);
    if let Some(rest) = rest.strip_prefix("reject: ") {
        return refusal(event, rest);
    }
    if let Some(id) = rest.strip_prefix("message-id=") {
        mail(event, email_activity::OTHER, "message-id");
        event.email.message_uid = address(id);
        return;
    }
    let first = rest.split_once('=').map(|(k, _)| k);
    match first {
        Some("to") => delivery(event, rest),
        Some("from") => {
            mail(event, email_activity::OTHER, "queued");
            for (key, value) in pairs(rest) {
                match key {
                    "from" => event.email.from = address(value),
                    "size" | "nrcpt" => {
                        let n = value.split_whitespace().next().unwrap_or(value);
                        match n.parse::<u64>() {
                            Ok(n) => {
                                event
                                    .unmapped
                                    .insert(format!("postfix.{key}"), Value::from(n));
                            }
                            Err(_) => put(event, format!("postfix.{key}"), value),
                        }
                    }
                    _ => {}
                }
            }
        }
        Some("client") => {
            mail(event, email_activity::RECEIVE, "client");
            for (key, value) in pairs(rest) {
                match key {
                    "client" => event.src_endpoint = host_endpoint(value),
                    "sasl_username" => event.actor.user.name = Some(value.to_string()),
                    "sasl_method" => put(event, "postfix.sasl_method", value),
                    "orig_client" => put(event, "postfix.orig_client", value),
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

/// `to=<…>, [orig_to=<…>,] relay=…, delay=…, delays=…, dsn=…, status=… (…)`.
fn delivery(event: &mut Event, rest: &str) {
    mail(event, email_activity::SEND, "delivery");
    for (key, value) in pairs(rest) {
        match key {
            "to" => event.email.to = address(value).into_iter().collect(),
            "orig_to" => {
                if let Some(a) = address(value) {
                    put(event, "postfix.orig_to", &a);
                }
            }
            "relay" => event.dst_endpoint = host_endpoint(value),
            "delay" | "delays" | "dsn" | "conn_use" => put(event, format!("postfix.{key}"), value),
            "status" => {
                let status = value.split_whitespace().next().unwrap_or(value);
                put(event, "postfix.status", status);
                event.activity_name = Some(status.to_string());
                event.status = match status {
                    "sent" | "delivered" => Status::Success,
                    "bounced" | "expired" | "undeliverable" => Status::Failure,
                    "deferred" => Status::Other,
                    _ => Status::Unknown,
                };
            }
            "reason" => event.status_detail = Some(value.to_string()),
            _ => {}
        }
    }
    if matches!(event.status, Status::Failure | Status::Other) {
        event.severity = event.severity.max(Severity::Low);
    }
}

/// `reject: RCPT from host[ip]: 554 5.7.1 <…>: Relay access denied; from=<…> to=<…>
/// proto=ESMTP helo=<…>`.
fn refusal(event: &mut Event, rest: &str) {
    let Some(rest) = rest.strip_prefix("reject: ") else {
        return;
    };
    mail(event, email_activity::RECEIVE, "reject");
    event.status = Status::Failure;
    event.severity = event.severity.max(Severity::Low);
    // `RCPT from host[ip]: REASON; from=<…> to=<…> proto=… helo=<…>`
    let (stage, rest) = rest.split_once(" from ").unwrap_or(("", rest));
    put(event, "postfix.stage", stage);
    let (client, rest) = rest.split_once(": ").unwrap_or((rest, ""));
    event.src_endpoint = host_endpoint(client);
    let (reason, fields) = match rest.rfind("; ") {
        Some(at) => (&rest[..at], &rest[at + 2..]),
        None => (rest, ""),
    };
    event.status_detail = Some(reason.to_string());
    let mut words = reason.split_whitespace();
    if let (Some(_code), Some(dsn)) = (words.next(), words.next())
        && dsn.split('.').count() == 3
        && dsn.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    {
        put(event, "postfix.dsn", dsn);
    }
    for word in fields.split_whitespace() {
        match word.split_once('=') {
            Some(("from", v)) => event.email.from = address(v),
            Some(("to", v)) => event.email.to = address(v).into_iter().collect(),
            Some(("proto", v)) => put(event, "postfix.proto", v),
            Some(("helo", v)) => put(event, "postfix.helo", v.trim_matches(['<', '>'])),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> Event {
        let mut out = Vec::new();
        Postfix.decode_in_year(line.as_bytes(), 2024, &mut out);
        match out.pop() {
            Some(Ok(e)) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn delivery_line_gives_recipient_relay_and_status() {
        let e = one(
            "May  1 10:00:00 mail postfix/smtp[2291]: 4VXk2b0QZrz9sTn: to=<j.doe@outlook.com>, relay=outlook-com.olc.protection.outlook.com[52.101.8.36]:25, delay=1.2, delays=0.1/0/0.4/0.7, dsn=2.6.0, status=sent (250 2.6.0 <a@b> [InternalId=1] Queued mail for delivery)",
        );
        assert_eq!(e.class_uid, class::EMAIL_ACTIVITY);
        assert_eq!(e.email.to, vec!["j.doe@outlook.com".to_string()]);
        assert_eq!(e.dst_endpoint.ip.as_deref(), Some("52.101.8.36"));
        assert_eq!(e.dst_endpoint.port, Some(25));
        assert_eq!(e.status, Status::Success);
        assert_eq!(e.unmapped["postfix.dsn"], "2.6.0");
        assert_eq!(e.unmapped["postfix.queue_id"], "4VXk2b0QZrz9sTn");
        assert!(e.status_detail.unwrap().starts_with("250 2.6.0"));
    }

    #[test]
    fn lines_without_a_mail_fact_get_the_syslog_mapping() {
        let e = one("May  1 10:00:00 mail postfix/qmgr[1]: 4VXk2b0QZrz9sTn: removed");
        assert_eq!(e.class_uid, class::BASE_EVENT);
        assert_eq!(e.unmapped["postfix.queue_id"], "4VXk2b0QZrz9sTn");
    }
}
