//! OpenSSH, PAM and sudo as a Linux host logs them: `/var/log/auth.log` (RFC 3164 syslog
//! lines) and journald's export (`journalctl -o json`, one JSON object a line). Logons,
//! failed and invalid-user attempts, pre-authentication disconnects and PAM sessions become
//! Authentication events; sudo commands become Process Activity events. Lines of other
//! programs in the same file (cron, systemd-logind …) get the generic syslog mapping rather
//! than being refused. The mapping is the table in `docs/formats.md`.
//!
//! Messages are matched with a few fixed prefixes and split on spaces: no regular
//! expressions, no allocation before the event is built. The syslog header is read by
//! [`crate::syslog`]; RFC 3164 timestamps without a year are handled as there.

use crate::json::{self, Text, TextOr};
use crate::syslog;
use crate::{DecodeError, Decoded, Decoder, Framing, Sniff};
use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;
use std::sync::LazyLock;
use ward_model::event::{api_activity, auth_activity, class};
use ward_model::{Endpoint, Event, Severity, Status, Timestamp};

const PRODUCT: &str = "authlog";

/// OCSF Process Activity `activity_id` 1: Launch.
const PROCESS_LAUNCH: u8 = 1;

/// The programs whose lines this decoder claims when sniffing.
const PROGRAMS: [&str; 3] = ["sshd", "sshd-session", "sudo"];

/// The auth.log / journald decoder.
pub struct AuthLog;

impl Decoder for AuthLog {
    fn name(&self) -> &'static str {
        PRODUCT
    }

    fn description(&self) -> &'static str {
        "OpenSSH / PAM / sudo: auth.log syslog lines and journald JSON export (journalctl -o json)"
    }

    fn framing(&self) -> Framing {
        Framing::Lines
    }

    fn sniff(&self, record: &[u8]) -> Sniff {
        let body = record.trim_ascii();
        let program = if body.first() == Some(&b'{') {
            journal_identifier(body.get(..body.len().min(SNIFF_WINDOW)).unwrap_or(body))
        } else {
            syslog::parse(body).ok().and_then(|m| m.app_name)
        };
        match program {
            Some(p) if PROGRAMS.contains(&p) => Sniff::Yes,
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

const SNIFF_WINDOW: usize = 16 * 1024;

static IDENTIFIER_KEY: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new(b"\"SYSLOG_IDENTIFIER\""));

/// The `SYSLOG_IDENTIFIER` of a journald JSON entry, without parsing the JSON.
fn journal_identifier(window: &[u8]) -> Option<&str> {
    let at = IDENTIFIER_KEY.find(window)?;
    let after = window.get(at + b"\"SYSLOG_IDENTIFIER\"".len()..)?;
    let after = after
        .trim_ascii_start()
        .strip_prefix(b":")?
        .trim_ascii_start()
        .strip_prefix(b"\"")?;
    let end = memchr::memchr(b'"', after)?;
    std::str::from_utf8(after.get(..end)?).ok()
}

fn decode_line(record: &[u8], year: Option<i32>) -> Result<Event, String> {
    let body = json::body(record);
    if body.first() == Some(&b'{') {
        return decode_journal(body, record);
    }
    let message = syslog::parse(record)?;
    let mut event = syslog::base_event(PRODUCT, &message, record, year)?;
    let text = message.text();
    classify(&mut event, message.app_name, &text);
    Ok(event)
}

/// The fields of a journald export entry that the mapping reads.
#[derive(Deserialize)]
struct JournalEntry<'a> {
    #[serde(borrow, default, rename = "__REALTIME_TIMESTAMP")]
    realtime: Option<Text<'a>>,
    #[serde(borrow, default, rename = "_SOURCE_REALTIME_TIMESTAMP")]
    source_realtime: Option<Text<'a>>,
    #[serde(borrow, default, rename = "_HOSTNAME")]
    hostname: Option<Text<'a>>,
    #[serde(borrow, default, rename = "SYSLOG_IDENTIFIER")]
    identifier: Option<Text<'a>>,
    /// Text, or an array of bytes when the message is not UTF-8.
    #[serde(borrow, default, rename = "MESSAGE")]
    message: Option<TextOr<'a, Vec<u8>>>,
    #[serde(borrow, default, rename = "_PID")]
    pid: Option<Text<'a>>,
    #[serde(borrow, default, rename = "PRIORITY")]
    priority: Option<Text<'a>>,
    #[serde(borrow, default, rename = "__CURSOR")]
    cursor: Option<Text<'a>>,
}

fn decode_journal(body: &[u8], raw: &[u8]) -> Result<Event, String> {
    let entry: JournalEntry<'_> = match json::parse(body) {
        Ok(entry) => entry,
        Err(e) if json::is_syntax(&e) => return Err(format!("not JSON: {}", json::located(&e))),
        Err(e) => {
            return Err(format!(
                "not a journald export entry: {}",
                json::located(&e)
            ));
        }
    };
    let (key, micros) = match (&entry.source_realtime, &entry.realtime) {
        (Some(t), _) => ("_SOURCE_REALTIME_TIMESTAMP", t),
        (None, Some(t)) => ("__REALTIME_TIMESTAMP", t),
        (None, None) => {
            return Err(
                "journald entry has no __REALTIME_TIMESTAMP: expected `journalctl -o json` output"
                    .into(),
            );
        }
    };
    let time = micros
        .trim()
        .parse::<i64>()
        .ok()
        .map(|us| Timestamp::from_millis(us.div_euclid(1000)))
        .ok_or_else(|| {
            format!(
                "{key} {:?} is not microseconds since the epoch",
                json::clip(micros)
            )
        })?;
    let mut event = Event::from_record(PRODUCT, time, raw.to_vec());
    event.class_uid = class::BASE_EVENT;
    if let Some(host) = entry.hostname.as_deref() {
        event.device = Endpoint::from_address(host);
    }
    let program = entry.identifier.as_deref();
    event.actor.app_name = program.map(str::to_string);
    if let Some(code) = entry
        .priority
        .as_deref()
        .and_then(|p| p.trim().parse::<u8>().ok())
    {
        event.severity = syslog::severity_of(code);
    }
    if let Some(pid) = entry.pid.as_deref() {
        event
            .unmapped
            .insert("syslog.procid", Value::String(pid.to_string()));
    }
    if let Some(cursor) = entry.cursor.as_deref() {
        event.metadata.uid = Some(cursor.to_string());
    }
    let text: Cow<'_, str> = match &entry.message {
        Some(TextOr::Text(t)) => Cow::Borrowed(&**t),
        Some(TextOr::Other(bytes)) => String::from_utf8_lossy(bytes),
        None => Cow::Borrowed(""),
    };
    let text = text.trim_end();
    if !text.is_empty() {
        event.message = Some(text.to_string());
    }
    classify(&mut event, program, text);
    Ok(event)
}

// ---------------------------------------------------------------------------------------------
// The mapping of messages.

/// Gives `event` its class and fields when `message` is one that OpenSSH, PAM or sudo writes;
/// leaves it a Base Event otherwise.
fn classify(event: &mut Event, program: Option<&str>, message: &str) {
    let message = message.trim();
    if let Some(rest) = message.strip_prefix("pam_unix(") {
        pam(event, rest);
    } else if matches!(program, Some("sshd" | "sshd-session")) {
        sshd(event, message);
    } else if program == Some("sudo") {
        sudo(event, message);
    }
}

/// What an OpenSSH message says about an authentication.
struct Attempt<'a> {
    /// What the message says happened, in its own words (`Accepted`, `session opened` …).
    name: &'static str,
    activity: u8,
    status: Status,
    user: Option<&'a str>,
    address: Option<&'a str>,
    port: Option<&'a str>,
}

fn authentication(event: &mut Event, a: Attempt<'_>) {
    event.class_uid = class::AUTHENTICATION;
    event.activity_id = a.activity;
    event.activity_name = Some(a.name.to_string());
    event.status = a.status;
    settle_severity(event);
    event.actor.user.name = a.user.filter(|u| !u.is_empty()).map(str::to_string);
    if let Some(address) = a.address {
        event.src_endpoint = Endpoint::from_address(address);
        event.src_endpoint.port = a.port.and_then(|p| p.parse().ok());
    }
}

/// A line without PRI states no severity: successes are informational, failures low, unless
/// the line said more.
fn settle_severity(event: &mut Event) {
    let floor = match event.status {
        Status::Failure => Severity::Low,
        _ => Severity::Informational,
    };
    event.severity = event.severity.max(floor);
}

/// `… IP port N …`: the address before `port` and the port after it.
fn address_port(words: &[&str]) -> (Option<usize>, Option<usize>) {
    match words.iter().position(|w| *w == "port") {
        Some(at) if at > 0 => (Some(at - 1), Some(at + 1)),
        _ => (None, None),
    }
}

fn sshd(event: &mut Event, message: &str) {
    let words: Vec<&str> = message.split_ascii_whitespace().take(16).collect();
    let word = |i: usize| words.get(i).copied();
    let attempt = match words.as_slice() {
        // Accepted publickey for alice from 10.0.0.5 port 52144 ssh2: ED25519 SHA256:…
        [
            "Accepted",
            method,
            "for",
            user,
            "from",
            address,
            "port",
            port,
            ..,
        ] => {
            event
                .unmapped
                .insert("auth_method", Value::String(method.to_string()));
            Attempt {
                name: "Accepted",
                activity: auth_activity::LOGON,
                status: Status::Success,
                user: Some(user),
                address: Some(address),
                port: Some(port),
            }
        }
        // Failed password for [invalid user] root from 203.0.113.9 port 40022 ssh2
        ["Failed", method, "for", rest @ ..] => {
            event
                .unmapped
                .insert("auth_method", Value::String(method.to_string()));
            let (invalid, rest) = match rest {
                ["invalid", "user", rest @ ..] => (true, rest),
                _ => (false, rest),
            };
            if invalid {
                event.status_detail = Some("invalid user".into());
            }
            // A user name may be empty (`for invalid user  from …`).
            let from = rest.iter().position(|w| *w == "from");
            let user = from
                .and_then(|f| f.checked_sub(1))
                .and_then(|u| rest.get(u));
            let (address, port) = match from {
                Some(f) => (rest.get(f + 1).copied(), rest.get(f + 3).copied()),
                None => (None, None),
            };
            Attempt {
                name: "Failed",
                activity: auth_activity::LOGON,
                status: Status::Failure,
                user: user.copied(),
                address,
                port: port.filter(|_| rest.contains(&"port")),
            }
        }
        // Invalid user admin from 203.0.113.9 [port 40022]
        ["Invalid", "user", ..] => {
            event.status_detail = Some("invalid user".into());
            let from = words.iter().rposition(|w| *w == "from");
            let user = from.filter(|&f| f == 3).and_then(|_| word(2));
            let address = from.and_then(|f| word(f + 1));
            let port = from
                .filter(|&f| word(f + 2) == Some("port"))
                .and_then(|f| word(f + 3));
            Attempt {
                name: "Invalid user",
                activity: auth_activity::LOGON,
                status: Status::Failure,
                user,
                address,
                port,
            }
        }
        // Connection closed by [authenticating|invalid] user root 203.0.113.9 port 40022 [preauth]
        // Disconnected from [authenticating|invalid] user root 203.0.113.9 port 40022 [preauth]
        // Disconnected from user alice 10.0.0.5 port 52144
        ["Connection", "closed", "by", rest @ ..] | ["Disconnected", "from", rest @ ..] => {
            let disconnected = words.first() == Some(&"Disconnected");
            let (user, rest) = match rest {
                ["authenticating" | "invalid", "user", user, rest @ ..] => (Some(*user), rest),
                ["user", user, rest @ ..] => (Some(*user), rest),
                _ => (None, rest),
            };
            let logged_in = disconnected && words.get(2) == Some(&"user");
            let (address, port) = address_port(rest);
            let preauth = rest.contains(&"[preauth]");
            if preauth {
                event.status_detail = Some("preauth".into());
            }
            Attempt {
                name: if disconnected {
                    "Disconnected"
                } else {
                    "Connection closed"
                },
                activity: if logged_in {
                    auth_activity::LOGOFF
                } else {
                    api_activity::OTHER
                },
                status: if logged_in {
                    Status::Success
                } else {
                    Status::Unknown
                },
                user,
                address: address.and_then(|i| rest.get(i).copied()),
                port: port.and_then(|i| rest.get(i).copied()),
            }
        }
        // Received disconnect from 10.0.0.5 port 52144:11: disconnected by user
        ["Received", "disconnect", "from", address, "port", port, ..] => Attempt {
            name: "Received disconnect",
            activity: api_activity::OTHER,
            status: Status::Unknown,
            user: None,
            address: Some(address),
            port: port.split(':').next(),
        },
        _ => return,
    };
    authentication(event, attempt);
}

/// `pam_unix(SERVICE:TYPE): …` (the part after `pam_unix(`).
fn pam(event: &mut Event, rest: &str) {
    let Some((service, rest)) = rest.split_once("): ") else {
        return;
    };
    let Some((service, kind)) = service.split_once(':') else {
        return;
    };
    let attempt = match kind {
        "auth" => {
            let Some(details) = rest.strip_prefix("authentication failure;") else {
                return;
            };
            // logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.9  user=root
            let value = |key: &str| {
                details
                    .split_ascii_whitespace()
                    .find_map(|kv| kv.strip_prefix(key))
                    .filter(|v| !v.is_empty())
            };
            Attempt {
                name: "authentication failure",
                activity: auth_activity::LOGON,
                status: Status::Failure,
                user: value("user="),
                address: value("rhost="),
                port: None,
            }
        }
        "session" => {
            let (name, activity, rest) =
                if let Some(r) = rest.strip_prefix("session opened for user ") {
                    ("session opened", auth_activity::LOGON, r)
                } else if let Some(r) = rest.strip_prefix("session closed for user ") {
                    ("session closed", auth_activity::LOGOFF, r)
                } else {
                    return;
                };
            // `alice(uid=1000) by (uid=0)` or `alice by (uid=0)` or `alice`.
            let user = rest.split([' ', '(']).next().filter(|u| !u.is_empty());
            Attempt {
                name,
                activity,
                status: Status::Success,
                user,
                address: None,
                port: None,
            }
        }
        _ => return,
    };
    event
        .unmapped
        .insert("pam.service", Value::String(service.to_string()));
    authentication(event, attempt);
}

/// `alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/apt update`, with a
/// reason before `TTY=` when sudo refused (`3 incorrect password attempts ; TTY=…`).
fn sudo(event: &mut Event, message: &str) {
    let Some((user, rest)) = message.split_once(" : ") else {
        return;
    };
    let user = user.trim();
    if user.is_empty() || user.contains(' ') {
        return;
    }
    // COMMAND comes last and may itself hold ` ; `.
    let (fields, command) = match rest.find("COMMAND=") {
        Some(at) => (&rest[..at], Some(rest[at + "COMMAND=".len()..].trim())),
        None => (rest, None),
    };
    let mut reason = None;
    let map = &mut event.unmapped;
    for part in fields.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            Some(("TTY", v)) => {
                map.insert("sudo.tty", Value::String(v.to_string()));
            }
            Some(("PWD", v)) => {
                map.insert("sudo.pwd", Value::String(v.to_string()));
            }
            Some(("USER", v)) => {
                map.insert("sudo.run_as", Value::String(v.to_string()));
            }
            Some(_) => {}
            None => reason = reason.or(Some(part)),
        }
    }
    if command.is_none() && !map.contains_key("sudo.tty") && !map.contains_key("sudo.run_as") {
        return;
    }
    if let Some(command) = command {
        map.insert("sudo.command", Value::String(command.to_string()));
    }
    event.class_uid = class::PROCESS_ACTIVITY;
    event.activity_id = PROCESS_LAUNCH;
    event.activity_name = Some("sudo".into());
    event.actor.user.name = Some(user.to_string());
    match reason {
        Some(reason) => {
            event.status = Status::Failure;
            event.status_detail = Some(reason.to_string());
        }
        None => event.status = Status::Success,
    }
    settle_severity(event);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> Event {
        let mut out = Vec::new();
        AuthLog.decode_in_year(line.as_bytes(), 2024, &mut out);
        match out.pop() {
            Some(Ok(e)) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn accepted_publickey_is_a_successful_logon_from_its_address() {
        let e = one(
            "May  1 10:00:00 web1 sshd[42]: Accepted publickey for alice from 10.0.0.5 port 52144 ssh2: ED25519 SHA256:abc",
        );
        assert_eq!(
            (e.class_uid, e.activity_id, e.status),
            (class::AUTHENTICATION, auth_activity::LOGON, Status::Success)
        );
        assert_eq!(e.actor.user.name.as_deref(), Some("alice"));
        assert_eq!(e.src_endpoint.ip.as_deref(), Some("10.0.0.5"));
        assert_eq!(e.src_endpoint.port, Some(52144));
        assert_eq!(e.unmapped["auth_method"], "publickey");
        assert_eq!(e.device.hostname.as_deref(), Some("web1"));
    }

    #[test]
    fn failed_password_for_invalid_user_is_a_failure_naming_the_user() {
        let e = one(
            "May  1 10:00:01 web1 sshd[43]: Failed password for invalid user admin from 203.0.113.9 port 40022 ssh2",
        );
        assert_eq!(e.status, Status::Failure);
        assert_eq!(e.actor.user.name.as_deref(), Some("admin"));
        assert_eq!(e.status_detail.as_deref(), Some("invalid user"));
        assert_eq!(e.src_endpoint.port, Some(40022));
    }

    #[test]
    fn sudo_command_is_a_process_launch_run_as_root() {
        let e = one(
            "May  1 10:00:02 web1 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/apt update ; echo",
        );
        assert_eq!(
            (e.class_uid, e.activity_id),
            (class::PROCESS_ACTIVITY, PROCESS_LAUNCH)
        );
        assert_eq!(e.unmapped["sudo.command"], "/usr/bin/apt update ; echo");
        assert_eq!(e.unmapped["sudo.run_as"], "root");
        assert_eq!(e.status, Status::Success);
    }

    #[test]
    fn other_programs_get_the_generic_syslog_mapping() {
        let e = one("May  1 10:00:03 web1 systemd-logind[600]: New session 5 of user alice.");
        assert_eq!(e.class_uid, class::BASE_EVENT);
        assert_eq!(e.actor.app_name.as_deref(), Some("systemd-logind"));
    }

    #[test]
    fn sniffs_sshd_and_sudo_only() {
        assert_eq!(AuthLog.sniff(b"May  1 10:00:00 h sshd[1]: x"), Sniff::Yes);
        assert_eq!(AuthLog.sniff(b"May  1 10:00:00 h CRON[1]: x"), Sniff::No);
        assert_eq!(
            AuthLog.sniff(br#"{"MESSAGE":"x","SYSLOG_IDENTIFIER":"sshd"}"#),
            Sniff::Yes
        );
        assert_eq!(AuthLog.sniff(br#"{"time":"x"}"#), Sniff::No);
    }
}
