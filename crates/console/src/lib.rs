//! The web console and HTTP API of Ward: sign-in with passwords and TOTP, roles with least
//! privilege, server-rendered pages (alerts, privacy cases, rules, investigation, timelines,
//! sources, quarantine, users, audit trail, API tokens, the inventory), a JSON API under `/api/v1` with its OpenAPI document, and
//! Ward's own audit trail of every sign-in, PHI view and change.
//!
//! [`router`] is the whole surface; the binary mounts it beside `ward_listen::http::router` and
//! serves both over TLS. Every route is listed once, with the permission it needs, in
//! [`routes::ROUTES`]; the router is built from that table, and one middleware checks the
//! permission, the session and the CSRF token before any handler runs.
//!
//! Must never: put PHI, passwords, tokens or session ids in logs or error messages; show a
//! patient's identity to a role without the PHI permission; show PHI before the view is
//! recorded in the audit trail; block an async thread on the store (store calls run on
//! blocking threads).

mod api;
pub mod audit;
mod auth;
mod charts;
mod deliveries;
mod error;
mod headers;
mod incidents;
mod inventory;
mod mask;
mod openapi;
mod pages;
pub mod password;
pub mod roles;
pub mod routes;
mod rule_test;
mod rules;
mod settings;
mod setup;
mod switches;
pub mod totp;
mod views;

pub use error::ConsoleError;
pub use roles::{Permission, Role};
pub use routes::router;
pub use rules::RuleInfo;
pub use settings::{SettingGroup, SettingItem, SettingsView};

pub use setup::{DemoUser, create_demo_users, first_run_setup_token};

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use ward_model::Timestamp;
use ward_store::Store;

/// Where "now" comes from: the wall clock in production, a hand-moved clock in tests, so
/// session expiry is tested without sleeping.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// How the console behaves. [`ConsoleOptions::default`] is right for a TLS deployment.
#[derive(Clone)]
pub struct ConsoleOptions {
    /// Mark cookies `Secure` (and name the session cookie `__Host-…`). True unless the console
    /// is served over plain HTTP on loopback, where browsers would drop a `Secure` cookie.
    pub secure_cookies: bool,
    /// A session unused for this long is ended (45 CFR 164.312(a)(2)(iii), automatic logoff).
    pub idle_timeout: Duration,
    /// A session is ended this long after sign-in however active it is.
    pub absolute_timeout: Duration,
    /// Key for CSRF tokens and for the pseudonyms shown in place of masked patient ids. Random
    /// per process when absent: CSRF tokens of open pages then stop working at a restart, and
    /// pseudonyms change, which is acceptable.
    pub server_secret: Option<[u8; 32]>,
    /// Consecutive failed sign-ins that lock an account.
    pub lock_after_failures: u32,
    /// How long a locked account stays locked.
    pub lock_duration: Duration,
    /// Failed sign-ins from one client address within [`Self::throttle_window`] after which
    /// that address is refused (429) until the window has passed.
    pub throttle_per_client: u64,
    pub throttle_window: Duration,
    /// A source that has delivered nothing for this long is marked silent on the overview.
    pub silent_source_after: Duration,
    pub clock: Clock,
    /// The detection rules that run, for the rules page. Filled by the binary from the
    /// detectors; empty (the page says so) when it is not.
    pub rules: Arc<Vec<RuleInfo>>,
    /// Called on a blocking thread with Ward's own audit events once they are committed, so
    /// the detectors watch Ward too (failed sign-ins to the console are logins like any
    /// other). `None`: audit events are only stored.
    pub on_audit: Option<AuditHook>,
    /// Called with every rule switched off after a change on the rules page or the API, so the
    /// running engine drops their findings at once. `None`: the change is stored and takes
    /// effect at the next start.
    pub on_rules_changed: Option<RulesHook>,
    /// The zones and segmentation policy the binary loaded (zones.toml), for the network map
    /// and each asset's reachability. Empty (the pages say there is no policy) when not set.
    pub inventory: Arc<ward_detect::threat::inventory::Inventory>,
    /// The response plan incidents follow: the organisation's edited plan as the binary loaded
    /// it (`[respond] plans_dir`), else the one Ward ships.
    pub plan: Arc<ward_respond::Plan>,
    /// The Chromium that prints incident reports to PDF; `None`: `chromium` on `PATH`, then
    /// `/usr/bin/chromium`.
    pub chromium: Option<std::path::PathBuf>,
    /// The running listeners' counters, for the sources page; `None` when the console runs
    /// without listeners (the page says so).
    pub listeners: Option<ward_listen::ListenerRegistry>,
    /// The effective configuration as the binary loaded it, secrets redacted, for the
    /// settings page. The console adds its own session policy to it.
    pub settings: Arc<SettingsView>,
}

/// See [`ConsoleOptions::on_rules_changed`].
pub type RulesHook = Arc<dyn Fn(&std::collections::HashSet<String>) + Send + Sync>;

/// See [`ConsoleOptions::on_audit`].
/// It is given the committed batch and its receipt (which names the events newly stored).
pub type AuditHook =
    Arc<dyn Fn(&dyn Store, &ward_store::Batch, &ward_store::Receipt) + Send + Sync>;

impl Default for ConsoleOptions {
    fn default() -> Self {
        ConsoleOptions {
            secure_cookies: true,
            idle_timeout: Duration::from_secs(15 * 60),
            absolute_timeout: Duration::from_secs(8 * 3600),
            server_secret: None,
            lock_after_failures: 5,
            lock_duration: Duration::from_secs(15 * 60),
            throttle_per_client: 20,
            throttle_window: Duration::from_secs(15 * 60),
            silent_source_after: Duration::from_secs(24 * 3600),
            clock: Arc::new(Timestamp::now),
            rules: Arc::new(Vec::new()),
            on_audit: None,
            on_rules_changed: None,
            inventory: Arc::new(ward_detect::threat::inventory::Inventory::new()),
            plan: Arc::new(ward_respond::Plan::shipped()),
            chromium: None,
            listeners: None,
            settings: Arc::new(SettingsView::default()),
        }
    }
}

/// What every handler shares: the store and the options.
#[derive(Clone)]
pub struct ConsoleState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    options: ConsoleOptions,
    secret: [u8; 32],
    /// The last TOTP step each user signed in with, so a code is accepted once (RFC 6238 5.2).
    /// Kept in memory: after a restart a code could be replayed within its 90-second window
    /// only by someone who also has the password.
    totp_steps: Mutex<HashMap<String, u64>>,
}

impl ConsoleState {
    pub fn new(store: Arc<dyn Store>, options: ConsoleOptions) -> Self {
        let secret = options.server_secret.unwrap_or_else(auth::random_bytes);
        ConsoleState {
            inner: Arc::new(Inner {
                store,
                options,
                secret,
                totp_steps: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub(crate) fn options(&self) -> &ConsoleOptions {
        &self.inner.options
    }

    pub(crate) fn secret(&self) -> &[u8; 32] {
        &self.inner.secret
    }

    pub(crate) fn now(&self) -> Timestamp {
        (self.inner.options.clock)()
    }

    /// Records `step` as used by `user`; `false` when it (or a later step) was used already.
    pub(crate) fn claim_totp_step(&self, user: &str, step: u64) -> bool {
        let mut steps = self
            .inner
            .totp_steps
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match steps.get(user) {
            Some(&last) if step <= last => false,
            _ => {
                steps.insert(user.to_string(), step);
                true
            }
        }
    }

    /// Runs store work on a blocking thread.
    pub(crate) async fn blocking<T, F>(&self, work: F) -> Result<T, ConsoleError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> Result<T, ConsoleError> + Send + 'static,
    {
        let store = Arc::clone(&self.inner.store);
        tokio::task::spawn_blocking(move || work(store.as_ref()))
            .await
            .map_err(|_| ConsoleError::Internal("a store task did not finish"))?
    }
}

/// The client's address, when the server knows it. Requests served with
/// `into_make_service_with_connect_info::<SocketAddr>()` have it already; a server with its
/// own connect-info type inserts this extension in a layer of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);
