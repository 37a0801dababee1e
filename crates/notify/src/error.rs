//! The notifier's errors. Messages name the channel, file or setting at fault and what to do;
//! they never carry a message body, a patient or a secret.

use thiserror::Error;

/// A configuration that cannot be used, found when the notifier is built.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("notification settings are not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("notification setting {setting}: {reason}")]
    Invalid { setting: String, reason: String },
    #[error("cannot read {path} for notification setting {setting}: {reason}")]
    File {
        setting: String,
        path: String,
        reason: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(setting: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            setting: setting.into(),
            reason: reason.into(),
        }
    }
}

/// A failure of the notifier's own machinery (not of a channel: those are retried).
#[derive(Debug, Error)]
pub enum NotifyError {
    #[error(transparent)]
    Store(#[from] ward_store::StoreError),
    #[error("a queued delivery {id} cannot be read back: {reason}")]
    Payload { id: i64, reason: String },
    #[error("the notifier's blocking work was cancelled: {0}")]
    Join(String),
}
