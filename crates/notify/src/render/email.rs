//! E-mail subject and plain-text body. The subject carries the severity and the rule's
//! title only (rule titles are fixed text, never data), since subjects are shown on lock
//! screens and kept in mail logs.

use super::{RenderOptions, entity_pairs};
use ward_model::Alert;

pub struct Email {
    pub subject: String,
    pub body: String,
}

fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

pub fn render(alert: &Alert, options: &RenderOptions, note: Option<&str>) -> Email {
    let subject = one_line(&format!(
        "[Ward] {}{}: {}",
        if note.is_some() { "PAGE " } else { "" },
        alert.severity.as_str().to_uppercase(),
        alert.title
    ));
    let mut body = String::new();
    if let Some(note) = note {
        body.push_str(note);
        body.push_str("\n\n");
    }
    body.push_str(&format!("{}\n\n", alert.title));
    body.push_str(&format!("Severity:   {}\n", alert.severity.as_str()));
    body.push_str(&format!("Rule:       {}\n", alert.rule_id));
    body.push_str(&format!("First seen: {}\n", alert.first_seen));
    body.push_str(&format!("Last seen:  {}\n", alert.last_seen));
    body.push_str(&format!("Count:      {}\n", alert.count));
    for (label, value) in entity_pairs(alert) {
        body.push_str(&format!("{:<12}{}\n", format!("{label}:"), value));
    }
    if !alert.attack.is_empty() {
        body.push_str(&format!("ATT&CK:     {}\n", alert.attack.join(", ")));
    }
    if !alert.hipaa.is_empty() {
        body.push_str(&format!("HIPAA:      {}\n", alert.hipaa.join(", ")));
    }
    if let Some(desc) = &alert.description {
        body.push_str(&format!("\n{desc}\n"));
    }
    body.push_str(&format!("\nAlert id: {}\n", alert.id));
    if let Some(url) = options.alert_url(alert) {
        body.push_str(&format!("Open in Ward: {url}\n"));
    }
    Email { subject, body }
}

pub fn digest(alerts: &[Alert], options: &RenderOptions) -> Email {
    let subject = format!("[Ward] digest: {} alert(s)", alerts.len());
    let mut body = format!("{} alert(s) since the last digest:\n\n", alerts.len());
    for a in alerts {
        body.push_str(&format!(
            "- {} {} ({} ×, last {})\n",
            a.severity.as_str().to_uppercase(),
            one_line(&a.title),
            a.count,
            a.last_seen
        ));
        if let Some(url) = options.alert_url(a) {
            body.push_str(&format!("  {url}\n"));
        }
    }
    Email { subject, body }
}
