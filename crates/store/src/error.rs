use thiserror::Error;

/// A storage failure. Messages name the operation and never include event contents.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("cannot open the store at {path}: {reason}")]
    Open { path: String, reason: String },
    #[error(
        "the store's schema is version {found}, newer than this Ward understands ({supported}); upgrade Ward"
    )]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("store {operation} failed: {reason}")]
    Backend {
        operation: &'static str,
        reason: String,
    },
    #[error("store keys: {0}")]
    Keys(String),
    #[error("a stored record is corrupt ({what}): {reason}; run `ward verify`")]
    Corrupt { what: String, reason: String },
}
