//! Alerts rendered for each kind of receiver: CEF and OCSF for SIEMs, Ward's own JSON for
//! generic webhooks, Slack and Teams message shapes, e-mail text, and RFC 5424 syslog lines
//! around any of them. Pure functions of the alert: masking happens before (the caller hands
//! in the alert as the channel may see it), so nothing here decides what is PHI.

pub mod cef;
pub mod chat;
pub mod email;
pub mod json;
pub mod ocsf;
pub mod syslog;
pub mod template;

use ward_model::Alert;

/// Whether a message announces a new alert or an update of one already sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    Create,
    Update,
}

impl Activity {
    pub fn as_str(self) -> &'static str {
        match self {
            Activity::Create => "create",
            Activity::Update => "update",
        }
    }
}

/// What every renderer may need besides the alert.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// The console's public address, for links.
    pub console_url: Option<String>,
}

impl RenderOptions {
    /// The console page of an alert, when the console's address is known.
    pub fn alert_url(&self, alert: &Alert) -> Option<String> {
        self.console_url
            .as_ref()
            .map(|base| format!("{}/alerts/{}", base.trim_end_matches('/'), alert.id))
    }
}

/// The entities of an alert as `(label, value)` pairs, in a fixed order, for human-readable
/// renderings.
pub(crate) fn entity_pairs(alert: &Alert) -> Vec<(&'static str, &str)> {
    let e = &alert.entities;
    [
        ("User", &e.user),
        ("Patient", &e.patient),
        ("Source IP", &e.src_ip),
        ("Destination IP", &e.dst_ip),
        ("Host", &e.host),
        ("Device", &e.device),
        ("Sender", &e.sender),
        ("Recipient", &e.recipient),
        ("Vendor", &e.vendor),
    ]
    .into_iter()
    .filter_map(|(label, value)| value.as_deref().map(|v| (label, v)))
    .collect()
}
