//! RFC 5424 syslog messages around a rendered alert, and RFC 6587 octet-counting framing for
//! TCP and TLS transport (RFC 5425 requires octet counting over TLS).

use ward_model::{Alert, Severity};

/// RFC 5424 severity for an alert: critical 2, error 3, warning 4, notice 5, informational 6.
pub fn severity(severity: Severity) -> u8 {
    match severity {
        Severity::Fatal | Severity::Critical => 2,
        Severity::High => 3,
        Severity::Medium => 4,
        Severity::Low => 5,
        _ => 6,
    }
}

/// Header fields are printable US-ASCII without spaces (RFC 5424 §6.2); anything else is
/// replaced so a configured hostname cannot break the frame.
fn field(text: &str, max: usize) -> String {
    let cleaned: String = text
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if cleaned.is_empty() {
        "-".into()
    } else {
        cleaned
    }
}

/// `<PRI>1 TIMESTAMP HOSTNAME ward - MSGID - MSG`, the MSG being `body` (CEF or JSON on one
/// line). The timestamp is the alert's last sighting.
pub fn message(alert: &Alert, facility: u8, hostname: &str, msgid: &str, body: &str) -> String {
    let pri = u16::from(facility.min(23)) * 8 + u16::from(severity(alert.severity));
    format!(
        "<{pri}>1 {} {} ward - {} - {}",
        alert.last_seen.to_rfc3339(),
        field(hostname, 255),
        field(msgid, 32),
        body.replace(['\r', '\n'], " ")
    )
}

/// RFC 6587 octet counting: `LEN SP MSG`.
pub fn frame(message: &str) -> Vec<u8> {
    let mut out = format!("{} ", message.len()).into_bytes();
    out.extend_from_slice(message.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_model::Timestamp;

    #[test]
    fn header_has_priority_version_and_octet_count() {
        let alert = ward_model::Alert {
            id: "a".into(),
            rule_id: "r".into(),
            title: "t".into(),
            severity: Severity::Critical,
            first_seen: Timestamp(0),
            last_seen: Timestamp(1_000),
            count: 1,
            entities: Default::default(),
            attack: vec![],
            hipaa: vec![],
            status: Default::default(),
            author: None,
            license: None,
            references: vec![],
            description: None,
        };
        let m = message(&alert, 10, "ward host", "alert", "CEF:0|x");
        assert_eq!(
            m,
            "<82>1 1970-01-01T00:00:01.000Z wardhost ward - alert - CEF:0|x"
        );
        let framed = frame("héllo");
        assert_eq!(framed, "6 héllo".as_bytes());
    }
}
