//! The store: where events, quarantined records, context, alerts and source checkpoints live.
//!
//! Everything above this crate talks to [`Store`] and nothing else: no SQL, no backend type
//! leaks out. Each backend (embedded SQLite now, PostgreSQL next) passes the same conformance
//! suite in `tests/conformance.rs`, which is written against the trait alone.
//!
//! Record layout leaves room for what later issues add without a migration of existing rows:
//! each event row has a `codec` (how `body` is encoded: today LZ4-compressed JSON, later
//! encrypted under a data key named by `key_id`), lookup columns that can hold keyed hashes
//! instead of plaintext (`patient_key`, `user_key`), and each committed batch is a row of
//! `batches` with the hash of the previous batch (the hash chain `ward verify` checks).

pub mod accounts;
mod chain;
pub mod codec;
pub mod deliveries;
mod error;
pub mod history;
pub mod incidents;
pub mod inventory;
mod keyring;
mod lookup;
pub mod sqlite;

pub use accounts::{
    AUDIT_PRODUCT, Accounts, ApiTokenRecord, AuditQuery, SessionRecord, SessionStage, UserChange,
    UserRecord,
};
pub use deliveries::{Deliveries, DeliveryQuery, DeliveryRecord, DeliveryState, NewDelivery};
pub use error::StoreError;
pub use incidents::Incidents;
pub use inventory::{AssetRecord, FeedRecord, Inventory, ScanRecord, Sighting, SightingReview};
pub use sqlite::{ChainReport, Reencrypted, SqliteStore};
use ward_model::{
    Alert, AlertStatus, ContextKind, ContextResource, Event, EventId, NewQuarantined,
    QuarantinedRecord, Severity, Timestamp,
};

pub type Result<T> = std::result::Result<T, StoreError>;

/// How far a source has been read, committed atomically with the events read from it, so an
/// interrupted ingest can tell what was durably stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The source's name (file path, `-`, or listener name).
    pub source: String,
    /// Byte offset up to which every record is stored or quarantined.
    pub offset: u64,
}

/// One unit of durable work: events and quarantined records from the same stretch of input.
/// A backend commits all of it or none of it.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub events: Vec<Event>,
    pub quarantined: Vec<NewQuarantined>,
    pub checkpoint: Option<Checkpoint>,
}

/// A batch with the work a backend can do outside its write lock already done (the SQLite
/// backend: encoding, compressing and sealing the event bodies), by whichever thread called
/// [`Store::prepare`]. Ingest prepares batches on its decode workers so the one thread that
/// commits does only the database's work. A batch prepared by another backend, or under a
/// data key that is no longer current, is committed by doing that work again. The batch can
/// be read but not changed, so the work stays the work of this batch.
pub struct Prepared {
    batch: Batch,
    work: Option<Box<dyn std::any::Any + Send>>,
}

impl Prepared {
    /// A batch with nothing done ahead: committing it does all the work.
    pub fn unprepared(batch: Batch) -> Self {
        Prepared { batch, work: None }
    }

    /// A batch with a backend's own work attached, for that backend's `commit_prepared`.
    pub fn with_work(batch: Batch, work: Box<dyn std::any::Any + Send>) -> Self {
        Prepared {
            batch,
            work: Some(work),
        }
    }

    /// The batch as it was prepared.
    pub fn batch(&self) -> &Batch {
        &self.batch
    }

    /// The batch, the prepared work dropped (after the commit, for what reads it next).
    pub fn into_batch(self) -> Batch {
        self.batch
    }

    /// The attached work, if it is of type `T`.
    pub fn work<T: 'static>(&self) -> Option<&T> {
        self.work.as_ref()?.downcast_ref()
    }
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("events", &self.batch.events.len())
            .field("quarantined", &self.batch.quarantined.len())
            .field("prepared", &self.work.is_some())
            .finish()
    }
}

/// What a committed batch did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Receipt {
    /// Events newly stored.
    pub inserted: u64,
    /// Events already present (same content hash), not stored again.
    pub duplicates: u64,
    pub quarantined: u64,
    /// Sequence number of the batch in the store's hash chain; 0 when the batch stored
    /// nothing (it was empty, or held only duplicates and a checkpoint), which adds no link.
    pub batch_seq: u64,
    /// Indices into the batch's `events` of the events newly stored, ascending: the events
    /// detectors must see. A file ingested twice, or a record a sender retried, is stored
    /// once and so reaches the detectors once.
    pub new_events: Vec<usize>,
}

/// A filter over stored events. Every filter is optional; results come newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventQuery {
    /// Inclusive lower bound on `time`.
    pub since: Option<Timestamp>,
    /// Exclusive upper bound on `time`.
    pub until: Option<Timestamp>,
    /// Matches `actor.user.name`, or `actor.user.uid` when the event has no user name.
    pub user: Option<String>,
    /// Matches `patient.id`.
    pub patient: Option<String>,
    /// Matches `src_endpoint.ip`.
    pub src_ip: Option<String>,
    /// Matches `device.hostname`, or `src_endpoint.hostname` when the event has no device.
    pub host: Option<String>,
    /// Events attached to this alert.
    pub alert_id: Option<String>,
    pub class_uid: Option<u32>,
    /// At most this many events (default 1,000).
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct QuarantineQuery {
    pub source: Option<String>,
    pub limit: Option<usize>,
    /// Only records with an id greater than this, for paging (oldest first).
    pub after_id: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertQuery {
    /// Alerts whose `last_seen` is at or after this instant.
    pub since: Option<Timestamp>,
    pub status: Option<AlertStatus>,
    /// Alerts of exactly this severity.
    pub severity: Option<Severity>,
    pub rule_id: Option<String>,
    /// Alerts naming this value as any of their entities (user, patient, address, host …),
    /// compared exactly.
    pub entity: Option<String>,
    pub limit: Option<usize>,
}

/// What people did with an alert, kept beside it so a detector updating the alert never
/// overwrites it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertWorkflow {
    /// The console user the alert is assigned to.
    pub assignee: Option<String>,
    /// Why it was closed (the last close, if it was reopened since).
    pub close_reason: Option<String>,
    pub updated_at: Option<Timestamp>,
}

/// What a source has delivered so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceState {
    pub source: String,
    pub offset: u64,
    pub events: u64,
    pub quarantined: u64,
    pub last_event_time: Option<Timestamp>,
    pub updated_at: Timestamp,
}

/// Counts of what is stored, for summaries and health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    pub events: u64,
    pub quarantined: u64,
    pub alerts: u64,
    pub context: u64,
    pub batches: u64,
}

/// The storage interface. Implementations are internally synchronised: one value is shared
/// by every thread of the process.
pub trait Store: Send + Sync {
    /// Commits a batch atomically: new events are stored, events whose id is already stored
    /// are counted as duplicates, quarantined records are stored, and the checkpoint advances.
    fn commit(&self, batch: &Batch) -> Result<Receipt>;

    /// Does the part of committing `batch` that needs no lock, on the calling thread, so that
    /// threads preparing batches in parallel leave the committing thread only the database's
    /// work. By default nothing is done ahead.
    fn prepare(&self, batch: Batch) -> Result<Prepared> {
        Ok(Prepared::unprepared(batch))
    }

    /// Commits a prepared batch: the same as [`Store::commit`] of `prepared.batch()`, with
    /// what [`Store::prepare`] did reused.
    fn commit_prepared(&self, prepared: &Prepared) -> Result<Receipt> {
        self.commit(prepared.batch())
    }

    /// Events matching `query`, newest first (ties broken by id, descending).
    fn query_events(&self, query: &EventQuery) -> Result<Vec<Event>>;
    /// How many events match `query`, ignoring its limit.
    fn count_events(&self, query: &EventQuery) -> Result<u64>;
    fn get_event(&self, id: &EventId) -> Result<Option<Event>>;

    /// Quarantined records, oldest first.
    fn list_quarantine(&self, query: &QuarantineQuery) -> Result<Vec<QuarantinedRecord>>;
    /// Removes quarantined records (after a successful retry stored them as events).
    fn release_quarantine(&self, ids: &[i64]) -> Result<u64>;

    /// Inserts or replaces context resources by (kind, id); returns how many were written.
    fn put_context(&self, resources: &[ContextResource]) -> Result<u64>;
    fn get_context(&self, kind: ContextKind, id: &str) -> Result<Option<ContextResource>>;
    /// Context resources of one kind in a stable order, starting after the resource whose id
    /// is `after_id`, for paging: id order, or the order of the ids' keyed hashes in a store
    /// that encrypts them.
    fn list_context(
        &self,
        kind: ContextKind,
        after_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ContextResource>>;
    fn count_context(&self, kind: ContextKind) -> Result<u64>;

    /// Inserts an alert or updates the one with the same id (count, last_seen, title …), and
    /// links the given events to it. An existing alert keeps its stored status: a detector
    /// seeing the same alert again must not reopen one a person acknowledged or closed.
    fn upsert_alert(&self, alert: &Alert, events: &[EventId]) -> Result<()>;
    fn get_alert(&self, id: &str) -> Result<Option<Alert>>;
    /// Alerts, most recently seen first (ties broken by id, descending).
    fn list_alerts(&self, query: &AlertQuery) -> Result<Vec<Alert>>;
    fn set_alert_status(&self, id: &str, status: AlertStatus) -> Result<bool>;
    /// Closes an alert and records why, in one step; `false` when there is no such alert.
    fn close_alert(&self, id: &str, reason: &str) -> Result<bool>;
    /// Assigns an alert to a user (`None` unassigns); `false` when there is no such alert.
    fn assign_alert(&self, id: &str, assignee: Option<&str>) -> Result<bool>;
    /// Assignment and close reason; the default when nobody has acted on the alert yet,
    /// `None` when there is no such alert.
    fn alert_workflow(&self, id: &str) -> Result<Option<AlertWorkflow>>;
    /// Ids of the events linked to an alert, newest first, at most `limit`.
    fn alert_events(&self, alert_id: &str, limit: usize) -> Result<Vec<EventId>>;
    /// How many alerts there are of each severity and status (metrics); reads no body.
    fn alert_counts(&self) -> Result<Vec<(Severity, AlertStatus, u64)>>;

    /// Console users, sessions, API tokens and Ward's own audit trail.
    fn accounts(&self) -> &dyn Accounts;

    /// Incidents, their tasks, timeline, evidence locker, assessments and deadlines.
    fn incidents(&self) -> &dyn Incidents;

    /// The notification delivery queue.
    fn deliveries(&self) -> &dyn Deliveries;

    /// Assets, sightings of devices not in the inventory, vulnerability feeds, TLS scans.
    fn inventory(&self) -> &dyn Inventory;

    /// A named setting Ward keeps for itself (a small document: the rules switched off, the
    /// observed reachability map), `None` when never written.
    fn setting(&self, name: &str) -> Result<Option<String>>;
    /// Writes a setting, replacing its value.
    fn set_setting(&self, name: &str, value: &str) -> Result<()>;

    /// A detector's saved state (its open correlation windows), `None` when never saved. It
    /// may name users and patients, so an encrypted store keeps it sealed.
    fn detector_state(&self, name: &str) -> Result<Option<Vec<u8>>>;
    /// Saves a detector's state, replacing what was saved before.
    fn save_detector_state(&self, name: &str, state: &[u8]) -> Result<()>;

    /// Every source that has delivered events, quarantined records or a checkpoint, by name.
    fn sources(&self) -> Result<Vec<SourceState>>;
    /// Counts of what the store holds. Reads a row per batch and whole tables (alerts,
    /// context): for pages and commands, not for probes.
    fn stats(&self) -> Result<StoreStats>;
    /// Whether the store answers a read, at a cost that does not grow with what it holds: what
    /// a readiness probe asks every few seconds.
    fn ready(&self) -> Result<()>;
}

/// The default number of rows a query returns when no limit is given.
pub const DEFAULT_LIMIT: usize = 1_000;
