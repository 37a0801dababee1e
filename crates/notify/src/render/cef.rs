//! ArcSight CEF (`CEF:0|Vendor|Product|Version|Signature ID|Name|Severity|Extension`), as
//! the CEF specification (Micro Focus, "Implementing ArcSight CEF", rev. 25) escapes it:
//! in header fields `\` and `|` are escaped with a backslash and line breaks are not allowed
//! (they become spaces); in extension values `\` and `=` are escaped, and line breaks are
//! written `\n` / `\r`. Extension keys are fixed here and never come from data.

use ward_model::{Alert, Severity};

/// CEF's 0–10 severity for an OCSF severity (what ArcSight shows as Low 0–3, Medium 4–6,
/// High 7–8, Very-High 9–10).
pub fn severity(severity: Severity) -> u8 {
    match severity {
        Severity::Unknown | Severity::Informational | Severity::Other => 0,
        Severity::Low => 3,
        Severity::Medium => 5,
        Severity::High => 8,
        Severity::Critical => 9,
        Severity::Fatal => 10,
    }
}

/// Escapes a header field.
pub fn header(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Escapes an extension value.
pub fn value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// The alert as one CEF record (no syslog header, no trailing newline).
pub fn render(alert: &Alert, version: &str) -> String {
    let mut ext: Vec<(&str, String)> = vec![
        ("externalId", alert.id.clone()),
        ("cat", alert.rule_id.clone()),
        ("rt", alert.last_seen.millis().to_string()),
        ("start", alert.first_seen.millis().to_string()),
        ("end", alert.last_seen.millis().to_string()),
        ("cnt", alert.count.to_string()),
        ("outcome", alert.status.as_str().to_string()),
    ];
    let e = &alert.entities;
    let mapped = [
        ("suser", &e.user),
        ("src", &e.src_ip),
        ("dst", &e.dst_ip),
        ("shost", &e.host),
        ("dvchost", &e.device),
    ];
    for (key, v) in mapped {
        if let Some(v) = v {
            ext.push((key, v.clone()));
        }
    }
    let custom = [
        ("cs1", "cs1Label", "patient", e.patient.clone()),
        ("cs2", "cs2Label", "attack", join(&alert.attack)),
        ("cs3", "cs3Label", "hipaa", join(&alert.hipaa)),
        ("cs4", "cs4Label", "sender", e.sender.clone()),
        ("cs5", "cs5Label", "recipient", e.recipient.clone()),
        ("cs6", "cs6Label", "vendor", e.vendor.clone()),
    ];
    for (key, label_key, label, v) in custom {
        if let Some(v) = v {
            ext.push((label_key, label.to_string()));
            ext.push((key, v));
        }
    }
    if let Some(d) = &alert.description {
        ext.push(("msg", d.clone()));
    }
    let extension = ext
        .iter()
        .map(|(k, v)| format!("{k}={}", value(v)))
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "CEF:0|Ward|Ward|{}|{}|{}|{}|{extension}",
        header(version),
        header(&alert.rule_id),
        header(&alert.title),
        severity(alert.severity),
    )
}

fn join(list: &[String]) -> Option<String> {
    (!list.is_empty()).then(|| list.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_escapes_pipe_and_backslash_and_flattens_newlines() {
        assert_eq!(header(r"a|b\c"), r"a\|b\\c");
        assert_eq!(header("one\r\ntwo"), "one  two");
    }

    #[test]
    fn extension_escapes_equals_backslash_and_newlines_but_not_pipe() {
        assert_eq!(value("a=b\\c|d"), "a\\=b\\\\c|d");
        assert_eq!(value("l1\nl2\rl3"), "l1\\nl2\\rl3");
    }
}
