//! The notification delivery queue: every message Ward owes a channel (an e-mail, a webhook
//! post, a syslog line for the MDR's SIEM) is a row here before it is sent, and stays until
//! the channel took it. That is what makes delivery at-least-once across restarts: a message
//! enqueued before a crash is still due after it.
//!
//! The store keeps payloads as the notifier rendered them (already masked for channels not
//! approved for PHI) and knows nothing about channels beyond their names. Error texts are
//! written by the notifier and must never carry PHI; this module never puts a payload into an
//! error message.

use crate::Result;
use ward_model::Timestamp;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    /// Waiting for its first attempt or for its next retry.
    Pending,
    /// The channel accepted it.
    Delivered,
    /// Retries were given up; kept for display.
    Abandoned,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Abandoned => "abandoned",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(DeliveryState::Pending),
            "delivered" => Some(DeliveryState::Delivered),
            "abandoned" => Some(DeliveryState::Abandoned),
            _ => None,
        }
    }
}

/// A message to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// Unique per message: enqueueing the same key twice stores it once, so a notifier that
    /// sees the same alert again (or restarts and sees it again) does not send it twice.
    pub key: String,
    /// The configured channel's name.
    pub channel: String,
    /// The alert the message is about (empty for messages about several, like digests).
    pub alert_id: String,
    /// The rendered message, opaque to the store.
    pub payload: String,
    /// Not sent before this instant (quiet hours, digests, escalation steps).
    pub not_before: Timestamp,
    pub created_at: Timestamp,
}

/// A stored delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub id: i64,
    pub key: String,
    pub channel: String,
    pub alert_id: String,
    pub payload: String,
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due (while pending).
    pub next_try: Timestamp,
    pub created_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
    /// Why the last attempt failed, as the notifier worded it (never PHI).
    pub last_error: Option<String>,
}

/// A filter over deliveries, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliveryQuery {
    pub channel: Option<String>,
    pub alert_id: Option<String>,
    pub state: Option<DeliveryState>,
    /// At most this many (default 1,000).
    pub limit: Option<usize>,
}

/// The delivery queue. Implementations are internally synchronised.
pub trait Deliveries: Send + Sync {
    /// Stores a pending delivery; `false` when one with the same key exists (whatever its
    /// state), which then stays as it is.
    fn enqueue(&self, delivery: &NewDelivery) -> Result<bool>;
    /// Pending deliveries whose next attempt is due at `now`, oldest due first (ties by id).
    fn due(&self, now: Timestamp, limit: usize) -> Result<Vec<DeliveryRecord>>;
    /// Records that the channel accepted a delivery; `false` when there is no pending
    /// delivery with this id.
    fn mark_delivered(&self, id: i64, at: Timestamp) -> Result<bool>;
    /// Records a failed attempt: `attempts` is the number made so far, `next_try` when to try
    /// again, or `None` to give up. `error` must not carry PHI.
    fn mark_failed(
        &self,
        id: i64,
        attempts: u32,
        next_try: Option<Timestamp>,
        error: &str,
    ) -> Result<bool>;
    /// Deliveries for display, newest first.
    fn list(&self, query: &DeliveryQuery) -> Result<Vec<DeliveryRecord>>;

    /// How many deliveries each channel has in each state, by channel then state (metrics);
    /// reads no payload.
    fn counts(&self) -> Result<Vec<(String, DeliveryState, u64)>>;
}
