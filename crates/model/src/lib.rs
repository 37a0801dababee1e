//! The data Ward reasons about: normalised events shaped after OCSF, the organisation's
//! context (staff, patients, care relationships), alerts and quarantined records.
//!
//! Plain data only. This crate never performs IO, never spawns threads and never logs: every
//! other crate depends on it, so it must stay fast to build and trivially testable.

pub mod alert;
pub mod context;
pub mod event;
pub mod fields;
pub mod quarantine;
pub mod time;
pub mod unmapped;

pub use alert::{Alert, AlertEntities, AlertStatus};
pub use context::{ContextKind, ContextResource, ContextSummary};
pub use event::{
    Actor, Email, Endpoint, Event, EventId, Patient, Resource, Severity, Status, User,
};
pub use fields::{FIELDS, FieldDef, FieldValue};
pub use quarantine::{MAX_QUARANTINED_BYTES, NewQuarantined, Position, QuarantinedRecord};
pub use time::Timestamp;
pub use unmapped::Unmapped;
