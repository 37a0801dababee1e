//! The one road from a listener to the store: [`Committer`] runs store work on tokio's blocking
//! threads (rusqlite blocks), at most a fixed number at once, so the async threads never block
//! and a slow disk shows up as waiting listeners (backpressure), not as growing queues. It
//! also carries the detection engine, when one runs, so every listener's new events are
//! detected on as they are stored.

use crate::framing::Frame;
use crate::stats::ListenerStats;
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;
use ward_decode::Decoder;
use ward_detect::Engine;
use ward_model::{NewQuarantined, Timestamp};
use ward_pipeline::{IngestError, NetRecord, RecordOutcome, RecordsReceipt, ingest_records};
use ward_store::{Batch, Store};

/// The detection engine every listener of a process shares.
pub type SharedEngine = Arc<Mutex<Engine>>;

#[derive(Clone)]
pub struct Committer {
    store: Arc<dyn Store>,
    permits: Arc<Semaphore>,
    engine: Option<SharedEngine>,
    stats: Arc<ListenerStats>,
}

/// Store work that could not run.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("the store failed: {0}")]
    Ingest(#[from] IngestError),
    #[error("the store failed: {0}")]
    Store(#[from] ward_store::StoreError),
    #[error("the commit task did not finish")]
    Aborted,
}

impl Committer {
    /// `max_pending` commits may run or wait for a blocking thread at once.
    pub fn new(store: Arc<dyn Store>, max_pending: usize) -> Self {
        Committer {
            store,
            permits: Arc::new(Semaphore::new(max_pending.max(1))),
            engine: None,
            stats: ListenerStats::detached(),
        }
    }

    /// Runs the detectors on every event this committer's work newly stores.
    pub fn with_engine(mut self, engine: Option<SharedEngine>) -> Self {
        self.engine = engine;
        self
    }

    /// The same committer (same commit slots, same engine) counting into `stats`: each
    /// listener takes one of its own.
    pub fn for_listener(&self, stats: Arc<ListenerStats>) -> Self {
        Committer {
            stats,
            ..self.clone()
        }
    }

    /// The counters of the listener this committer serves.
    pub fn stats(&self) -> Arc<ListenerStats> {
        self.stats.clone()
    }

    /// The engine store work hands new events to, for the work's closure to capture.
    pub fn engine(&self) -> Option<SharedEngine> {
        self.engine.clone()
    }

    /// Runs `work` on a blocking thread once a commit slot is free.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&dyn Store) -> T + Send + 'static,
    ) -> Result<T, CommitError> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| CommitError::Aborted)?;
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work(&*store)
        })
        .await
        .map_err(|_| CommitError::Aborted)
    }

    /// As [`Committer::run`], or `None` at once when every commit slot is taken (HTTP answers
    /// 503 rather than queue).
    pub async fn try_run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&dyn Store) -> T + Send + 'static,
    ) -> Option<Result<T, CommitError>> {
        let permit = self.permits.clone().try_acquire_owned().ok()?;
        let store = self.store.clone();
        Some(
            tokio::task::spawn_blocking(move || {
                let _permit = permit;
                work(&*store)
            })
            .await
            .map_err(|_| CommitError::Aborted),
        )
    }
}

/// Stores framed messages from one connection (blocking): messages over the size limit are
/// quarantined with their true length, the others go through `ingest_records`. Returns one
/// outcome per frame, in order, and the counts, and adds the counts to the listener's
/// `stats`.
pub(crate) fn store_frames(
    store: &dyn Store,
    source: &str,
    decoder: Option<&'static dyn Decoder>,
    frames: &[Frame],
    max_message_bytes: usize,
    engine: Option<&Mutex<Engine>>,
    stats: &ListenerStats,
) -> Result<(Vec<RecordOutcome>, RecordsReceipt), CommitError> {
    stats.received(frames.len() as u64);
    let result = store_frames_uncounted(store, source, decoder, frames, max_message_bytes, engine);
    match &result {
        Ok((_, receipt)) => {
            stats.committed(receipt.inserted, receipt.duplicates, receipt.quarantined);
            stats.oversize(frames.iter().filter(|f| f.is_oversize()).count() as u64);
        }
        Err(_) => stats.commit_failed(),
    }
    result
}

fn store_frames_uncounted(
    store: &dyn Store,
    source: &str,
    decoder: Option<&'static dyn Decoder>,
    frames: &[Frame],
    max_message_bytes: usize,
    engine: Option<&Mutex<Engine>>,
) -> Result<(Vec<RecordOutcome>, RecordsReceipt), CommitError> {
    let received = Timestamp::now();
    let format = decoder.map_or("auto", |d| d.name());
    let oversize: Vec<NewQuarantined> = frames
        .iter()
        .filter(|f| f.is_oversize())
        .map(|f| {
            let mut q = NewQuarantined::new(
                source,
                format,
                f.position,
                oversize_reason(f.true_len, max_message_bytes),
                &f.bytes,
            );
            q.raw_len = f.true_len;
            q
        })
        .collect();
    let mut total = RecordsReceipt::default();
    if !oversize.is_empty() {
        let receipt = store.commit(&Batch {
            events: Vec::new(),
            quarantined: oversize,
            checkpoint: None,
        })?;
        total.quarantined += receipt.quarantined;
    }
    let records: Vec<NetRecord<'_>> = frames
        .iter()
        .filter(|f| !f.is_oversize())
        .map(|f| NetRecord {
            bytes: &f.bytes,
            position: f.position,
        })
        .collect();
    let mut stored = if records.is_empty() {
        RecordsReceipt::default()
    } else {
        ingest_records(store, source, decoder, &records, received, engine)?
    };
    total.inserted += stored.inserted;
    total.duplicates += stored.duplicates;
    total.quarantined += stored.quarantined;
    total.alerts += stored.alerts;
    let mut outcomes = Vec::with_capacity(frames.len());
    let mut decoded = std::mem::take(&mut stored.outcomes).into_iter();
    for f in frames {
        if f.is_oversize() {
            outcomes.push(RecordOutcome::Quarantined {
                reason: oversize_reason(f.true_len, max_message_bytes),
            });
        } else if let Some(outcome) = decoded.next() {
            outcomes.push(outcome);
        }
    }
    Ok((outcomes, total))
}

pub(crate) fn oversize_reason(len: u64, max: usize) -> String {
    format!("message of {len} bytes is longer than the limit of {max} bytes")
}
