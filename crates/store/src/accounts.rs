//! Who may use Ward itself: console users, their sessions, API tokens for machines, the
//! one-time setup token that creates the first admin, failed sign-in attempts (for throttling
//! and lock-out), and Ward's own audit trail read back.
//!
//! The store keeps only what cannot be used to sign in if the database is copied: password
//! hashes (argon2id, computed by the console), SHA-256 of session, API and setup tokens. It
//! knows nothing about roles beyond their names: what a role may do is the console's concern.
//! Must never put a secret or a hash into an error message.

use crate::Result;
use ward_model::{Event, Timestamp};

/// A console user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// The sign-in name, unique.
    pub name: String,
    /// The role's name, as the console spells it.
    pub role: String,
    /// A PHC string (`$argon2id$v=19$…`).
    pub password_hash: String,
    /// The TOTP shared secret once MFA is enrolled. Needed in the clear to compute codes.
    pub totp_secret: Option<Vec<u8>>,
    /// Consecutive failed sign-ins since the last success.
    pub failed_logins: u32,
    /// Sign-in is refused until this instant.
    pub locked_until: Option<Timestamp>,
    pub disabled: bool,
    pub created_at: Timestamp,
}

/// A change to a stored user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChange {
    pub role: Option<String>,
    pub password_hash: Option<String>,
    /// `Some(None)` removes the enrolled MFA secret (an admin's "reset MFA").
    pub totp_secret: Option<Option<Vec<u8>>>,
    pub disabled: Option<bool>,
    /// Clears the failure count and any lock.
    pub unlock: bool,
}

/// How far a session has got through sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStage {
    /// The password was right; the TOTP code is still due.
    Mfa,
    /// The password was right, and the user must enrol MFA before anything else.
    Enrol,
    /// Fully signed in.
    Full,
}

impl SessionStage {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStage::Mfa => "mfa",
            SessionStage::Enrol => "enrol",
            SessionStage::Full => "full",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "mfa" => Some(SessionStage::Mfa),
            "enrol" => Some(SessionStage::Enrol),
            "full" => Some(SessionStage::Full),
            _ => None,
        }
    }
}

/// A console session. The cookie holds a random token; the store holds its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub token_sha256: [u8; 32],
    pub user: String,
    pub stage: SessionStage,
    pub created_at: Timestamp,
    pub last_seen: Timestamp,
    /// The client address the session was created from, for the audit trail.
    pub ip: Option<String>,
}

/// An API token for machines, scoped to a role and expiring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenRecord {
    /// A public identifier, shown in lists and the audit trail (never the token).
    pub id: String,
    pub token_sha256: [u8; 32],
    /// What the token is for, as its creator described it.
    pub name: String,
    pub role: String,
    /// The user who created it.
    pub created_by: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked: bool,
}

/// A filter over Ward's own audit trail (events whose product is `ward`), newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditQuery {
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// The Ward user who acted.
    pub user: Option<String>,
    /// Events naming this patient (PHI views).
    pub patient: Option<String>,
    pub limit: Option<usize>,
}

/// The product name Ward's own audit events carry (`metadata.product`).
pub const AUDIT_PRODUCT: &str = "ward";

/// Accounts and the audit trail. Implementations are internally synchronised.
pub trait Accounts: Send + Sync {
    /// Stores a new user; `false` when the name is taken.
    fn create_user(&self, user: &UserRecord) -> Result<bool>;
    fn get_user(&self, name: &str) -> Result<Option<UserRecord>>;
    /// Every user, by name.
    fn list_users(&self) -> Result<Vec<UserRecord>>;
    fn count_users(&self) -> Result<u64>;
    /// Applies `change`; `false` when there is no such user.
    fn update_user(&self, name: &str, change: &UserChange) -> Result<bool>;
    /// Counts a failed sign-in for `name`; once `lock_after` failures in a row are counted, the
    /// account is locked until `lock_until`. Returns the user as it now is (`None`: no user).
    fn record_failed_login(
        &self,
        name: &str,
        lock_after: u32,
        lock_until: Timestamp,
    ) -> Result<Option<UserRecord>>;
    /// Clears the failure count after a successful sign-in.
    fn record_successful_login(&self, name: &str) -> Result<()>;

    /// Records one sign-in attempt that failed from `key` (a client address) at `at`.
    fn record_login_attempt(&self, key: &str, at: Timestamp) -> Result<()>;
    /// Failed attempts from `key` at or after `since`.
    fn count_login_attempts(&self, key: &str, since: Timestamp) -> Result<u64>;

    fn create_session(&self, session: &SessionRecord) -> Result<()>;
    fn get_session(&self, token_sha256: &[u8; 32]) -> Result<Option<SessionRecord>>;
    /// Moves a session's idle clock on, and to a new stage when given.
    fn touch_session(
        &self,
        token_sha256: &[u8; 32],
        last_seen: Timestamp,
        stage: Option<SessionStage>,
    ) -> Result<bool>;
    fn delete_session(&self, token_sha256: &[u8; 32]) -> Result<bool>;
    /// Ends every session of a user (role change, MFA reset, disabling).
    fn delete_user_sessions(&self, user: &str) -> Result<u64>;
    /// Removes sessions whose last activity is before `idle_before` or which began before
    /// `created_before`.
    fn expire_sessions(&self, idle_before: Timestamp, created_before: Timestamp) -> Result<u64>;

    /// Stores a new API token; `false` when its id is taken.
    fn create_api_token(&self, token: &ApiTokenRecord) -> Result<bool>;
    fn get_api_token(&self, token_sha256: &[u8; 32]) -> Result<Option<ApiTokenRecord>>;
    /// Every API token, newest first.
    fn list_api_tokens(&self) -> Result<Vec<ApiTokenRecord>>;
    fn revoke_api_token(&self, id: &str) -> Result<bool>;

    /// Replaces the one-time setup token (`None` removes it).
    fn set_setup_token(&self, token_sha256: Option<&[u8; 32]>) -> Result<()>;
    /// Whether a setup token is waiting to be used.
    fn setup_token_pending(&self) -> Result<bool>;
    /// Consumes the setup token if `token_sha256` is it: `true` exactly once.
    fn consume_setup_token(&self, token_sha256: &[u8; 32]) -> Result<bool>;

    /// Ward's own audit events, newest first.
    fn audit_events(&self, query: &AuditQuery) -> Result<Vec<Event>>;
}
