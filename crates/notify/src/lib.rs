//! Notifications: Ward's alerts reaching people and partners around the clock. Alerts are
//! rendered per channel (CEF and OCSF Detection Finding for a SOC's SIEM, signed JSON
//! webhooks, Slack and Microsoft Teams cards, e-mail), routed by severity, rule and entity,
//! paged to whoever is on call (with escalation when nobody acknowledges), held back in quiet
//! hours or gathered into digests, and delivered at least once through a queue kept in the
//! store, so a channel that is down gets every message once it is back.
//!
//! The [`Notifier`] is the whole surface the server needs: [`Notifier::alerts`] when the
//! engine produced or updated alerts, [`Notifier::acknowledged`] when a person acknowledged
//! one, and [`Notifier::pump`] on a timer to send what is due. Every time decision takes the
//! instant as a parameter; nothing here reads the clock except to time out network IO.
//!
//! Must never: send a patient's identity to a channel not marked `phi_approved`, put PHI,
//! secrets or message bodies into logs or error texts, or mark a delivery done before the
//! channel accepted it.

pub mod config;
mod error;
pub mod mask;
mod notifier;
pub mod oncall;
pub mod render;
pub mod route;
pub mod send;

pub use config::NotifyConfig;
pub use error::{ConfigError, NotifyError};
pub use mask::Masker;
pub use notifier::{CHANNEL_FAILED_RULE, Notifier, PumpReport};
