//! Chat messages: Slack incoming webhooks (`text` as the notification fallback, `blocks` for
//! the layout) and Microsoft Teams workflows/incoming webhooks (a `message` with one Adaptive
//! Card 1.4 attachment). Slack's mrkdwn treats `&`, `<` and `>` as control characters, so
//! text from alerts is escaped; Adaptive Card `TextBlock`s are plain text with a Markdown
//! subset, so Markdown characters from alerts are escaped there.

use super::{RenderOptions, entity_pairs};
use serde_json::{Value, json};
use ward_model::Alert;

/// Slack header blocks hold at most 150 characters.
const SLACK_HEADER_MAX: usize = 150;

pub fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

fn headline(alert: &Alert) -> String {
    format!(
        "[{}] {}",
        alert.severity.as_str().to_uppercase(),
        alert.title
    )
}

/// A Slack message for one alert; `note` (an on-call page or escalation) leads the text.
pub fn slack(alert: &Alert, options: &RenderOptions, note: Option<&str>) -> Value {
    let mut fields = vec![
        json!({ "type": "mrkdwn", "text": format!("*Severity*\n{}", alert.severity.as_str()) }),
        json!({ "type": "mrkdwn", "text": format!("*Rule*\n`{}`", slack_escape(&alert.rule_id)) }),
        json!({ "type": "mrkdwn", "text": format!("*Seen*\n{} × since {}", alert.count, alert.first_seen) }),
    ];
    for (label, value) in entity_pairs(alert) {
        fields.push(
            json!({ "type": "mrkdwn", "text": format!("*{label}*\n{}", slack_escape(value)) }),
        );
    }
    // Slack allows ten fields in a section.
    fields.truncate(10);
    let mut blocks = vec![json!({
        "type": "header",
        "text": { "type": "plain_text", "text": truncate(&headline(alert), SLACK_HEADER_MAX) },
    })];
    if let Some(note) = note {
        blocks.push(
            json!({ "type": "section", "text": { "type": "mrkdwn", "text": slack_escape(note) } }),
        );
    }
    blocks.push(json!({ "type": "section", "fields": fields }));
    if let Some(desc) = &alert.description {
        blocks.push(
            json!({ "type": "section", "text": { "type": "mrkdwn", "text": slack_escape(desc) } }),
        );
    }
    let mut context = format!("Ward alert `{}`", alert.id);
    if let Some(url) = options.alert_url(alert) {
        context.push_str(&format!(" · <{url}|Open in Ward>"));
    }
    blocks.push(json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": context }] }));
    let mut text = headline(alert);
    if let Some(note) = note {
        text = format!("{note}: {text}");
    }
    json!({ "text": slack_escape(&text), "blocks": blocks })
}

pub fn slack_digest(alerts: &[Alert], options: &RenderOptions) -> Value {
    let title = format!("Ward digest: {} alert(s)", alerts.len());
    let lines: Vec<String> = alerts
        .iter()
        .map(|a| {
            let link = options
                .alert_url(a)
                .map(|u| format!(" <{u}|open>"))
                .unwrap_or_default();
            format!(
                "• *{}* {} ({} ×){link}",
                a.severity.as_str(),
                slack_escape(&a.title),
                a.count
            )
        })
        .collect();
    json!({
        "text": title,
        "blocks": [
            { "type": "header", "text": { "type": "plain_text", "text": title } },
            { "type": "section", "text": { "type": "mrkdwn", "text": truncate(&lines.join("\n"), 3000) } },
        ],
    })
}

/// Escapes the Markdown subset Adaptive Cards render: emphasis, links and code anywhere,
/// list, heading and quote markers at the start of a line.
fn card_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut line_start = true;
    for c in text.chars() {
        let special = matches!(c, '\\' | '*' | '_' | '[' | ']' | '`')
            || (line_start && matches!(c, '-' | '+' | '#' | '>'));
        if special {
            out.push('\\');
        }
        out.push(c);
        line_start = c == '\n';
    }
    out
}

fn teams_message(card_body: Vec<Value>, actions: Vec<Value>) -> Value {
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": card_body,
    });
    if !actions.is_empty() {
        card["actions"] = Value::Array(actions);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }],
    })
}

pub fn teams(alert: &Alert, options: &RenderOptions, note: Option<&str>) -> Value {
    let mut facts = vec![
        json!({ "title": "Severity", "value": alert.severity.as_str() }),
        json!({ "title": "Rule", "value": card_escape(&alert.rule_id) }),
        json!({ "title": "Seen", "value": format!("{} × since {}", alert.count, alert.first_seen) }),
    ];
    for (label, value) in entity_pairs(alert) {
        facts.push(json!({ "title": label, "value": card_escape(value) }));
    }
    let mut body = vec![json!({
        "type": "TextBlock", "text": card_escape(&headline(alert)),
        "weight": "Bolder", "size": "Medium", "wrap": true,
    })];
    if let Some(note) = note {
        body.push(json!({ "type": "TextBlock", "text": card_escape(note), "wrap": true, "color": "Attention" }));
    }
    body.push(json!({ "type": "FactSet", "facts": facts }));
    if let Some(desc) = &alert.description {
        body.push(json!({ "type": "TextBlock", "text": card_escape(desc), "wrap": true }));
    }
    let actions = options
        .alert_url(alert)
        .map(|url| vec![json!({ "type": "Action.OpenUrl", "title": "Open in Ward", "url": url })])
        .unwrap_or_default();
    teams_message(body, actions)
}

pub fn teams_digest(alerts: &[Alert], options: &RenderOptions) -> Value {
    let mut body = vec![json!({
        "type": "TextBlock", "text": format!("Ward digest: {} alert(s)", alerts.len()),
        "weight": "Bolder", "size": "Medium", "wrap": true,
    })];
    for a in alerts {
        let link = options
            .alert_url(a)
            .map(|u| format!(" [open]({u})"))
            .unwrap_or_default();
        body.push(json!({
            "type": "TextBlock",
            "text": format!("{}: {} ({} ×){link}", a.severity.as_str(), card_escape(&a.title), a.count),
            "wrap": true,
        }));
    }
    teams_message(body, Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_control_characters_are_escaped() {
        assert_eq!(slack_escape("<!channel> & co"), "&lt;!channel&gt; &amp; co");
    }

    #[test]
    fn card_markdown_is_escaped_but_inner_hyphens_are_not() {
        assert_eq!(
            card_escape("masked-1c *x* [a]"),
            "masked-1c \\*x\\* \\[a\\]"
        );
        assert_eq!(card_escape("- item\n# head"), "\\- item\n\\# head");
    }

    #[test]
    fn long_headers_are_cut_to_slacks_limit() {
        let t = truncate(&"x".repeat(400), SLACK_HEADER_MAX);
        assert_eq!(t.chars().count(), SLACK_HEADER_MAX);
    }
}
