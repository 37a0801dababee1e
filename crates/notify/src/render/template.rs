//! Per-channel message templates: text with `{placeholder}`s filled from the alert as the
//! channel may see it (patients already masked for a channel not approved for PHI, so a
//! template cannot leak what masking removed). `{{` and `}}` write braces. An unknown
//! placeholder is refused when the settings are read, not when the first alert is sent.

use super::{RenderOptions, entity_pairs};
use ward_model::Alert;

/// Every placeholder a template may use.
pub const PLACEHOLDERS: &[&str] = &[
    "title",
    "severity",
    "severity_upper",
    "rule_id",
    "id",
    "count",
    "first_seen",
    "last_seen",
    "description",
    "entities",
    "user",
    "patient",
    "src_ip",
    "dst_ip",
    "host",
    "device",
    "sender",
    "recipient",
    "vendor",
    "attack",
    "hipaa",
    "url",
];

/// Checks `template`: braces balanced, every placeholder known. The error names the first
/// problem.
pub fn check(template: &str) -> Result<(), String> {
    parse(template, &mut |name| {
        PLACEHOLDERS.contains(&name).then(String::new)
    })
    .map(|_| ())
}

/// Fills `template` for `alert`.
pub fn fill(template: &str, alert: &Alert, options: &RenderOptions) -> String {
    parse(template, &mut |name| value(name, alert, options)).unwrap_or_else(|_| template.into())
}

fn value(name: &str, alert: &Alert, options: &RenderOptions) -> Option<String> {
    let e = &alert.entities;
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    Some(match name {
        "title" => alert.title.clone(),
        "severity" => alert.severity.as_str().into(),
        "severity_upper" => alert.severity.as_str().to_uppercase(),
        "rule_id" => alert.rule_id.clone(),
        "id" => alert.id.clone(),
        "count" => alert.count.to_string(),
        "first_seen" => alert.first_seen.to_string(),
        "last_seen" => alert.last_seen.to_string(),
        "description" => opt(&alert.description),
        "entities" => entity_pairs(alert)
            .into_iter()
            .map(|(label, value)| format!("{label}: {value}"))
            .collect::<Vec<_>>()
            .join(", "),
        "user" => opt(&e.user),
        "patient" => opt(&e.patient),
        "src_ip" => opt(&e.src_ip),
        "dst_ip" => opt(&e.dst_ip),
        "host" => opt(&e.host),
        "device" => opt(&e.device),
        "sender" => opt(&e.sender),
        "recipient" => opt(&e.recipient),
        "vendor" => opt(&e.vendor),
        "attack" => alert.attack.join(", "),
        "hipaa" => alert.hipaa.join(", "),
        "url" => options.alert_url(alert).unwrap_or_default(),
        _ => return None,
    })
}

fn parse(template: &str, value: &mut dyn FnMut(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut chars = template.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' if chars.peek().map(|&(_, c)| c) == Some('{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek().map(|&(_, c)| c) == Some('}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let rest = &template[i + 1..];
                let end = rest
                    .find('}')
                    .ok_or_else(|| format!("a `{{` at byte {i} is never closed"))?;
                let name = &rest[..end];
                let filled = value(name).ok_or_else(|| {
                    format!(
                        "unknown placeholder {{{name}}}; known: {}",
                        PLACEHOLDERS.join(", ")
                    )
                })?;
                out.push_str(&filled);
                for _ in 0..=end {
                    chars.next();
                }
            }
            '}' => return Err(format!("a `}}` at byte {i} closes nothing (write `}}}}`)")),
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_model::{AlertEntities, AlertStatus, Severity, Timestamp};

    fn alert() -> Alert {
        Alert {
            id: "a1".into(),
            rule_id: "threat.credential.brute_force_success".into(),
            title: "Brute force followed by a successful login".into(),
            severity: Severity::Critical,
            first_seen: Timestamp(0),
            last_seen: Timestamp(0),
            count: 3,
            entities: AlertEntities {
                user: Some("jdoe".into()),
                src_ip: Some("203.0.113.7".into()),
                ..Default::default()
            },
            attack: vec!["T1110.001".into()],
            hipaa: vec![],
            status: AlertStatus::Open,
            author: None,
            license: None,
            references: vec![],
            description: None,
        }
    }

    #[test]
    fn placeholders_fill_and_unknown_ones_are_refused() {
        let options = RenderOptions::default();
        let text = fill(
            "{{Ward}} {severity_upper} {title} for {user} from {src_ip} ×{count} [{attack}]",
            &alert(),
            &options,
        );
        assert_eq!(
            text,
            "{Ward} CRITICAL Brute force followed by a successful login for jdoe from 203.0.113.7 ×3 [T1110.001]"
        );
        assert!(check("{severity} {title}").is_ok());
        assert!(
            check("{patient_name}")
                .unwrap_err()
                .contains("unknown placeholder")
        );
        assert!(check("{title").unwrap_err().contains("never closed"));
        assert!(check("title}").unwrap_err().contains("closes nothing"));
    }
}
