//! The ingest pipeline: sources → framing → decoders → batched store writer → detectors (on
//! the events each commit newly stored) → alerts, connected by bounded channels so that a slow stage slows the reader instead of
//! growing memory.
//!
//! This is the one place where records become durable: a record is either committed as an
//! event, committed as a quarantined record with its reason and position, or the whole source
//! is refused before anything of it is stored (wrong format). Nothing is dropped silently.
//! The same code serves files, standard input and, later, network listeners and the demo feed.

mod chunk;
mod context;
mod detect;
mod error;
mod ingest;
mod records;
mod retry;
mod scan;

pub use chunk::{Chunk, Chunker, RawRecord};
pub use context::{ContextSummary, import_context};
pub use detect::{conclude_run, detect, detect_committed, load_context};
pub use error::IngestError;
pub use ingest::{GivenDecoder, IngestOptions, IngestSummary, Source, ingest};
pub use records::{NetRecord, RecordOutcome, RecordsReceipt, ingest_records};
pub use retry::{RetrySummary, retry_quarantine};
pub use scan::{ScanSummary, scan};
