//! The embedded backend: one SQLite database, `ward.db`, in the data directory, needing
//! nothing installed. One writer connection, behind a mutex, commits batches; a small pool of
//! read-only connections serves queries meanwhile (write-ahead logging lets readers see the
//! last committed state while a batch is being written).
//!
//! Must never acknowledge a batch that a crash or power loss could take back (WAL with
//! `synchronous=FULL`: the commit returns after the log is on disk), never build SQL from a
//! value (every value is a bound parameter), and never put event contents into an error.

mod accounts;
mod schema;

use crate::chain::{self, BatchHasher, GENESIS};
use crate::codec::{self, Encoder, json_error_summary};
use crate::lookup::{LookupColumns, LookupKeys};
use crate::{
    AlertQuery, AlertWorkflow, Batch, DEFAULT_LIMIT, EventQuery, QuarantineQuery, Receipt, Result,
    SourceState, Store, StoreError, StoreStats,
};
use rusqlite::types::Value;
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior, params, params_from_iter,
};
use std::fmt;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use ward_model::{
    Alert, AlertStatus, ContextKind, ContextResource, Event, EventId, NewQuarantined, Position,
    QuarantinedRecord, Timestamp,
};

/// The database file inside the data directory.
pub const DB_FILE: &str = "ward.db";

/// Event bodies are around a kilobyte compressed; larger pages keep more of them per page and
/// make the B-trees shallower. Only takes effect when the database is created.
const PAGE_SIZE: i64 = 8192;
/// The writer's page cache, in KiB: enough for the hot end of the time-ordered `id` index and
/// the current hours of the lookup indexes, which is all ingest touches. It counts against
/// ingest's memory bound (300 MB peak however large the input).
const WRITER_CACHE_KIB: i64 = 32 * 1024;
const READER_CACHE_KIB: i64 = 16 * 1024;
/// Checkpoint the log into the database once it holds this many pages. Larger than SQLite's
/// default (1,000) because index pages rewritten by several batches are then copied once.
const WAL_AUTOCHECKPOINT_PAGES: i64 = 8192;
/// After a checkpoint, truncate the log back to this size rather than leave it at its peak.
const WAL_SIZE_LIMIT_BYTES: i64 = 64 * 1024 * 1024;
/// How long a statement waits for a lock held by another connection (another process, or a
/// checkpoint) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle read connections kept for reuse; more are opened when more threads read at once.
const MAX_IDLE_READERS: usize = 4;
/// Query shapes vary with the filters given; enough slots to keep all common ones prepared.
const STATEMENT_CACHE: usize = 64;

/// The embedded store. See the module documentation.
pub struct SqliteStore {
    path: PathBuf,
    // Declared before the writer so they close first: the last connection to close
    // checkpoints the log and removes it, which only the writer can do.
    idle_readers: Mutex<Vec<Connection>>,
    writer: Mutex<Writer>,
    keys: LookupKeys,
}

struct Writer {
    conn: Connection,
    /// The last batch of the hash chain, kept so a commit need not read it back.
    head: ChainHead,
}

#[derive(Clone, Copy)]
struct ChainHead {
    seq: u64,
    hash: [u8; 32],
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Turns a rusqlite error into a [`StoreError::Backend`] naming the operation. SQLite's
/// messages name tables, columns and types, never the values bound.
trait During<T> {
    fn during(self, operation: &'static str) -> Result<T>;
}

impl<T> During<T> for rusqlite::Result<T> {
    fn during(self, operation: &'static str) -> Result<T> {
        self.map_err(|e| StoreError::Backend {
            operation,
            reason: e.to_string(),
        })
    }
}

impl SqliteStore {
    /// Opens the store in `dir`, creating the directory and the database when they do not
    /// exist, and bringing an older schema up to date.
    pub fn open(dir: &Path) -> Result<Self> {
        let failed = |reason: String| StoreError::Open {
            path: dir.display().to_string(),
            reason,
        };
        create_private_dir(dir).map_err(|e| failed(format!("cannot create the directory: {e}")))?;
        let path = dir.join(DB_FILE);
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn =
            Connection::open_with_flags(&path, flags).map_err(|e| failed(e.to_string()))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| failed(e.to_string()))?;
        // Refuse a newer schema before changing anything in the file (journal mode included).
        let found = schema::user_version(&conn)?;
        if found > schema::VERSION {
            return Err(StoreError::SchemaTooNew {
                found,
                supported: schema::VERSION,
            });
        }
        configure_writer(&conn).map_err(failed)?;
        schema::migrate(&mut conn)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let head = chain_head(&conn)?;
        Ok(SqliteStore {
            path,
            writer: Mutex::new(Writer { conn, head }),
            idle_readers: Mutex::new(Vec::new()),
            keys: LookupKeys,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Recomputes the hash chain over every stored batch. Returns the sequence number of the
    /// first batch whose rows or links do not match its recorded hash (stored data was
    /// altered, removed or reordered from that batch on), or `None` when the chain is intact.
    ///
    /// What it cannot see without an anchor kept elsewhere: removal of the newest batches
    /// together with their rows.
    pub fn verify_chain(&self) -> Result<Option<u64>> {
        const OP: &str = "verify hash chain";
        let reader = self.reader()?;
        let tx = reader.unchecked_transaction().during(OP)?;
        let batches = {
            let mut stmt = tx
                .prepare(
                    "SELECT seq, events, quarantined, first_event_seq, last_event_seq, prev_hash, hash
                     FROM batches ORDER BY seq",
                )
                .during(OP)?;
            let rows = stmt
                .query_map([], |row| {
                    Ok(StoredBatch {
                        seq: row.get(0)?,
                        events: row.get(1)?,
                        quarantined: row.get(2)?,
                        first_event_seq: row.get(3)?,
                        last_event_seq: row.get(4)?,
                        prev_hash: row.get(5)?,
                        hash: row.get(6)?,
                    })
                })
                .during(OP)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().during(OP)?
        };
        let mut expected_prev = ChainHead {
            seq: 0,
            hash: GENESIS,
        };
        for batch in batches {
            let seq = u64::try_from(batch.seq).unwrap_or(0);
            let linked = seq == expected_prev.seq + 1 && batch.prev_hash == expected_prev.hash;
            if !linked
                || recompute_batch_hash(&tx, &expected_prev.hash, &batch)?
                    .as_ref()
                    .map(|h| &h[..])
                    != Some(&batch.hash[..])
            {
                return Ok(Some(seq));
            }
            let mut hash = [0u8; 32];
            hash.copy_from_slice(&batch.hash);
            expected_prev = ChainHead { seq, hash };
        }
        Ok(None)
    }

    fn writer(&self) -> MutexGuard<'_, Writer> {
        // A panic while holding the lock cannot leave a half-written batch: the transaction
        // rolls back when dropped, and the chain head only moves after a commit succeeded.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn reader(&self) -> Result<Reader<'_>> {
        let idle = self
            .idle_readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match idle {
            Some(conn) => conn,
            None => open_reader(&self.path)?,
        };
        Ok(Reader {
            store: self,
            conn: Some(conn),
        })
    }

    /// The hour range a lookup query visits: the query's own bounds, narrowed to the hours that
    /// hold events at all (two seeks on the time index). `None` when no lookup column is
    /// filtered on, and the time index serves the query instead.
    fn lookup_hours(&self, reader: &Connection, query: &EventQuery) -> Result<Option<(i64, i64)>> {
        const OP: &str = "plan event lookup";
        if query.user.is_none()
            && query.patient.is_none()
            && query.src_ip.is_none()
            && query.host.is_none()
        {
            return Ok(None);
        }
        let (first, last): (Option<i64>, Option<i64>) = reader
            .prepare_cached("SELECT min(time), max(time) FROM events")
            .during(OP)?
            .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
            .during(OP)?;
        let (Some(first), Some(last)) = (first, last) else {
            return Ok(Some((1, 0)));
        };
        let mut lo = hour_of(Timestamp(first));
        let mut hi = hour_of(Timestamp(last));
        if let Some(since) = query.since {
            lo = lo.max(hour_of(since));
        }
        if let Some(until) = query.until {
            hi = hi.min(hour_of(Timestamp(until.millis().saturating_sub(1))));
        }
        Ok(Some((lo, hi)))
    }

    fn event_filter(&self, query: &EventQuery, hours: Option<(i64, i64)>) -> Filter {
        let mut filter = Filter::default();
        if let Some((lo, hi)) = hours {
            filter.prefix = HOURS_CTE;
            filter.args.push(Value::Integer(lo));
            filter.args.push(Value::Integer(hi));
            filter.conditions = 0;
            filter.and_raw("hour IN (SELECT h FROM lookup_hours)");
        }
        if let Some(since) = query.since {
            filter.and("time >= ?", Value::Integer(since.millis()));
        }
        if let Some(until) = query.until {
            filter.and("time < ?", Value::Integer(until.millis()));
        }
        if let Some(user) = &query.user {
            filter.and(
                "user_key = ?",
                Value::Text(self.keys.lookup_key(user).into_owned()),
            );
        }
        if let Some(patient) = &query.patient {
            filter.and(
                "patient_key = ?",
                Value::Text(self.keys.lookup_key(patient).into_owned()),
            );
        }
        if let Some(ip) = &query.src_ip {
            filter.and("src_ip = ?", Value::Text(ip.clone()));
        }
        if let Some(host) = &query.host {
            filter.and("host = ?", Value::Text(host.clone()));
        }
        if let Some(class_uid) = query.class_uid {
            filter.and("class_uid = ?", Value::Integer(class_uid.into()));
        }
        if let Some(alert_id) = &query.alert_id {
            filter.and(
                "id IN (SELECT event_id FROM alert_events WHERE alert_id = ?)",
                Value::Text(alert_id.clone()),
            );
        }
        filter
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // SQLite's advice for long-lived connections: refresh planner statistics on close.
        let _ = self.writer().conn.execute_batch("PRAGMA optimize");
    }
}

/// The data directory holds PHI: when Ward creates it, only its owner may enter.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

fn configure_writer(conn: &Connection) -> std::result::Result<(), String> {
    let set = |name: &str, value: &dyn rusqlite::ToSql| {
        conn.pragma_update(None, name, value)
            .map_err(|e| format!("cannot set {name}: {e}"))
    };
    set("page_size", &PAGE_SIZE)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0))
        .map_err(|e| format!("cannot turn on write-ahead logging: {e}"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(format!(
            "the file system does not support write-ahead logging (journal mode stayed {mode}); \
             put the data directory on a local disk"
        ));
    }
    set("synchronous", &"FULL")?;
    set("foreign_keys", &true)?;
    set("cache_size", &-WRITER_CACHE_KIB)?;
    set("temp_store", &"MEMORY")?;
    set("journal_size_limit", &WAL_SIZE_LIMIT_BYTES)?;
    set("wal_autocheckpoint", &WAL_AUTOCHECKPOINT_PAGES)
}

fn open_reader(path: &Path) -> Result<Connection> {
    const OP: &str = "open a read connection";
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).during(OP)?;
    conn.busy_timeout(BUSY_TIMEOUT).during(OP)?;
    conn.pragma_update(None, "cache_size", -READER_CACHE_KIB)
        .during(OP)?;
    conn.pragma_update(None, "temp_store", "MEMORY")
        .during(OP)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

fn chain_head(conn: &Connection) -> Result<ChainHead> {
    let row: Option<(i64, Vec<u8>)> = conn
        .query_row(
            "SELECT seq, hash FROM batches ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .during("read the hash chain head")?;
    match row {
        None => Ok(ChainHead {
            seq: 0,
            hash: GENESIS,
        }),
        Some((seq, stored)) => {
            let hash = stored
                .as_slice()
                .try_into()
                .map_err(|_| StoreError::Corrupt {
                    what: format!("batch {seq}"),
                    reason: format!("its hash is {} bytes, not 32", stored.len()),
                })?;
            Ok(ChainHead {
                seq: u64::try_from(seq).unwrap_or(0),
                hash,
            })
        }
    }
}

/// A read connection borrowed from the pool, returned to it when dropped.
struct Reader<'s> {
    store: &'s SqliteStore,
    conn: Option<Connection>,
}

impl Deref for Reader<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
            .as_ref()
            .expect("a reader holds its connection until dropped")
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let mut idle = self
                .store
                .idle_readers
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if idle.len() < MAX_IDLE_READERS {
                idle.push(conn);
            }
        }
    }
}

/// A WHERE clause built from fixed SQL fragments, with every value bound as a parameter.
#[derive(Default)]
struct Filter {
    /// A `WITH` clause that goes before the statement (its `?`s bind first).
    prefix: &'static str,
    sql: String,
    args: Vec<Value>,
    conditions: usize,
}

impl Filter {
    /// Adds `condition`, which holds exactly one `?`, bound to `arg`.
    fn and(&mut self, condition: &'static str, arg: Value) {
        self.and_raw(condition);
        self.args.push(arg);
    }

    /// Adds `condition`, which holds no `?`.
    fn and_raw(&mut self, condition: &'static str) {
        self.sql.push_str(if self.conditions == 0 {
            " WHERE "
        } else {
            " AND "
        });
        self.sql.push_str(condition);
        self.conditions += 1;
    }
}

fn limit_value(limit: Option<usize>) -> Value {
    Value::Integer(i64::try_from(limit.unwrap_or(DEFAULT_LIMIT)).unwrap_or(i64::MAX))
}

/// Unsigned counters are stored as SQLite integers, which are signed; no real count or
/// offset comes near the limit, and clamping beats failing a commit over it.
fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn uint(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Commit

const INSERT_EVENT: &str =
    "INSERT INTO events (id, batch_seq, time, class_uid, activity_id, severity_id, status_id,
        product, user_key, patient_key, src_ip, host, codec, body, hour)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
    ON CONFLICT (id) DO NOTHING";

/// The hour bucket leading the lookup indexes.
const HOUR_MS: i64 = 3_600_000;

fn hour_of(time: Timestamp) -> i64 {
    time.millis().div_euclid(HOUR_MS)
}

/// The hours a lookup query must visit, generated inside SQLite so the statement stays the
/// same (and cached) whatever the range: `?lo` and `?hi` are the first and last hour.
const HOURS_CTE: &str = "WITH RECURSIVE lookup_hours(h) AS (SELECT ? UNION ALL SELECT h + 1 FROM lookup_hours WHERE h < ?) ";

const INSERT_QUARANTINE: &str =
    "INSERT INTO quarantine (batch_seq, source, format, line, byte_offset, entry, reason,
        raw, raw_len, quarantined_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

const UPSERT_SOURCE: &str =
    "INSERT INTO sources (source, byte_offset, events, quarantined, last_event_time, updated_at)
    VALUES (?1, coalesce(?2, 0), ?3, ?4, ?5, ?6)
    ON CONFLICT (source) DO UPDATE SET
        byte_offset = coalesce(?2, sources.byte_offset),
        events = sources.events + excluded.events,
        quarantined = sources.quarantined + excluded.quarantined,
        last_event_time = max(coalesce(sources.last_event_time, excluded.last_event_time),
                              coalesce(excluded.last_event_time, sources.last_event_time)),
        updated_at = excluded.updated_at";

const INSERT_BATCH: &str =
    "INSERT INTO batches (seq, committed_at, events, quarantined, first_event_seq,
        last_event_seq, prev_hash, hash)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

/// The bodies of a batch's events, encoded before the writer lock is taken so that threads
/// committing at once only queue for the database work.
struct EncodedBodies {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl EncodedBodies {
    fn encode(events: &[Event]) -> Result<Self> {
        let mut encoder = Encoder::default();
        // Compressed bodies of typical events are well under a kilobyte.
        let mut bytes = Vec::with_capacity(events.len() * 1024);
        let mut ends = Vec::with_capacity(events.len());
        for event in events {
            encoder.encode_into(event, &mut bytes)?;
            ends.push(bytes.len());
        }
        Ok(EncodedBodies { bytes, ends })
    }

    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }
}

/// What a batch adds to each source's row.
#[derive(Default)]
struct SourceDeltas<'a> {
    rows: Vec<SourceDelta<'a>>,
}

struct SourceDelta<'a> {
    source: &'a str,
    offset: Option<u64>,
    events: u64,
    quarantined: u64,
    last_event_time: Option<i64>,
}

impl<'a> SourceDeltas<'a> {
    fn entry(&mut self, source: &'a str) -> &mut SourceDelta<'a> {
        // A batch nearly always comes from one source, so this scan is one comparison.
        let i = match self.rows.iter().rposition(|d| d.source == source) {
            Some(i) => i,
            None => {
                let delta = SourceDelta {
                    source,
                    offset: None,
                    events: 0,
                    quarantined: 0,
                    last_event_time: None,
                };
                self.rows.push(delta);
                self.rows.len() - 1
            }
        };
        &mut self.rows[i]
    }

    fn event(&mut self, source: &'a str, time: Timestamp) {
        if source.is_empty() {
            return;
        }
        let delta = self.entry(source);
        delta.events += 1;
        delta.last_event_time = Some(
            delta
                .last_event_time
                .map_or(time.millis(), |t| t.max(time.millis())),
        );
    }

    fn quarantined(&mut self, source: &'a str) {
        if !source.is_empty() {
            self.entry(source).quarantined += 1;
        }
    }

    fn checkpoint(&mut self, source: &'a str, offset: u64) {
        self.entry(source).offset = Some(offset);
    }
}

impl Writer {
    fn commit(
        &mut self,
        keys: &LookupKeys,
        batch: &Batch,
        bodies: &EncodedBodies,
    ) -> Result<Receipt> {
        let result = self.try_commit(keys, batch, bodies);
        if result.is_err() {
            // The transaction rolled back; re-read the head in case the failure was in COMMIT
            // itself and the database knows better than memory what was made durable.
            if let Ok(head) = chain_head(&self.conn) {
                self.head = head;
            }
        }
        result
    }

    fn try_commit(
        &mut self,
        keys: &LookupKeys,
        batch: &Batch,
        bodies: &EncodedBodies,
    ) -> Result<Receipt> {
        const OP: &str = "commit batch";
        let now = Timestamp::now();
        let seq = self.head.seq + 1;
        let seq_value = int(seq);
        let mut hasher = BatchHasher::new(&self.head.hash, seq);
        let mut receipt = Receipt::default();
        let mut sources = SourceDeltas::default();
        let mut event_seqs: Option<(i64, i64)> = None;

        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(OP)?;
        if !batch.events.is_empty() {
            let mut insert = tx.prepare_cached(INSERT_EVENT).during(OP)?;
            for (i, event) in batch.events.iter().enumerate() {
                let body = bodies.get(i);
                let columns = LookupColumns::of(keys, event);
                let changed = insert
                    .execute(params![
                        &event.id.0[..],
                        seq_value,
                        event.time.millis(),
                        event.class_uid,
                        event.activity_id,
                        event.severity.id(),
                        event.status.id(),
                        event.metadata.product,
                        columns.user_key.as_deref(),
                        columns.patient_key.as_deref(),
                        columns.src_ip,
                        columns.host,
                        codec::LZ4_DICT_1,
                        body,
                        hour_of(event.time),
                    ])
                    .during(OP)?;
                if changed == 0 {
                    receipt.duplicates += 1;
                    continue;
                }
                receipt.inserted += 1;
                receipt.new_events.push(i);
                let row = tx.last_insert_rowid();
                event_seqs = Some((event_seqs.map_or(row, |(first, _)| first), row));
                hasher.event(&event.id, body);
                sources.event(&event.metadata.log_name, event.time);
            }
        }
        if !batch.quarantined.is_empty() {
            let mut insert = tx.prepare_cached(INSERT_QUARANTINE).during(OP)?;
            for record in &batch.quarantined {
                insert
                    .execute(params![
                        seq_value,
                        record.source,
                        record.format,
                        int(record.position.line),
                        int(record.position.offset),
                        record.position.entry.map(int),
                        record.reason,
                        record.raw,
                        int(record.raw_len),
                        now.millis(),
                    ])
                    .during(OP)?;
                let id = tx.last_insert_rowid();
                hasher.quarantined(&chain::quarantine_digest(id, record, now));
                receipt.quarantined += 1;
                sources.quarantined(&record.source);
            }
        }
        if let Some(checkpoint) = &batch.checkpoint {
            sources.checkpoint(&checkpoint.source, checkpoint.offset);
        }
        if !sources.rows.is_empty() {
            let mut upsert = tx.prepare_cached(UPSERT_SOURCE).during(OP)?;
            for d in &sources.rows {
                upsert
                    .execute(params![
                        d.source,
                        d.offset.map(int),
                        int(d.events),
                        int(d.quarantined),
                        d.last_event_time,
                        now.millis()
                    ])
                    .during(OP)?;
            }
        }
        let wrote_rows = receipt.inserted + receipt.quarantined > 0;
        let hash = hasher.finish();
        if wrote_rows {
            tx.prepare_cached(INSERT_BATCH)
                .and_then(|mut insert| {
                    insert.execute(params![
                        seq_value,
                        now.millis(),
                        int(receipt.inserted),
                        int(receipt.quarantined),
                        event_seqs.map(|(first, _)| first),
                        event_seqs.map(|(_, last)| last),
                        &self.head.hash[..],
                        &hash[..],
                    ])
                })
                .during(OP)?;
            receipt.batch_seq = seq;
        }
        tx.commit().during(OP)?;
        if wrote_rows {
            self.head = ChainHead { seq, hash };
        }
        Ok(receipt)
    }
}

// ---------------------------------------------------------------------------------------------
// Reading rows back

fn decode_event_row(row: &Row<'_>) -> Result<Event> {
    const OP: &str = "read event";
    let seq: i64 = row.get(0).during(OP)?;
    let codec: i64 = row.get(1).during(OP)?;
    let id = row.get_ref(2).and_then(|v| Ok(v.as_blob()?)).during(OP)?;
    let body = row.get_ref(3).and_then(|v| Ok(v.as_blob()?)).during(OP)?;
    let corrupt = |reason: String| StoreError::Corrupt {
        what: format!("event row {seq}"),
        reason,
    };
    let event = codec::decode(codec, body).map_err(corrupt)?;
    if event.id.0[..] != *id {
        return Err(corrupt("the body belongs to a different event id".into()));
    }
    Ok(event)
}

const QUARANTINE_COLUMNS: &str = "SELECT id, source, format, line, byte_offset, entry, reason, raw, raw_len, quarantined_at FROM quarantine";

fn quarantine_row(row: &Row<'_>) -> rusqlite::Result<QuarantinedRecord> {
    Ok(QuarantinedRecord {
        id: row.get(0)?,
        record: NewQuarantined {
            source: row.get(1)?,
            format: row.get(2)?,
            position: Position {
                line: uint(row.get(3)?),
                offset: uint(row.get(4)?),
                entry: row.get::<_, Option<i64>>(5)?.map(uint),
            },
            reason: row.get(6)?,
            raw: row.get(7)?,
            raw_len: uint(row.get(8)?),
        },
        quarantined_at: Timestamp(row.get(9)?),
    })
}

fn parse_alert(body: &str) -> Result<Alert> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt {
        what: "an alert".into(),
        reason: json_error_summary(&e),
    })
}

struct StoredBatch {
    seq: i64,
    events: i64,
    quarantined: i64,
    first_event_seq: Option<i64>,
    last_event_seq: Option<i64>,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

/// The hash `batch` should have given its rows, or `None` when its rows do not even have the
/// shape it records (missing, extra or foreign rows).
fn recompute_batch_hash(
    conn: &Connection,
    prev_hash: &[u8; 32],
    batch: &StoredBatch,
) -> Result<Option<[u8; 32]>> {
    const OP: &str = "verify hash chain";
    let mut hasher = BatchHasher::new(prev_hash, uint(batch.seq));
    let mut events = 0i64;
    if let (Some(first), Some(last)) = (batch.first_event_seq, batch.last_event_seq) {
        let mut stmt = conn
            .prepare_cached(
                "SELECT batch_seq, id, body FROM events WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq",
            )
            .during(OP)?;
        let mut rows = stmt.query([first, last]).during(OP)?;
        while let Some(row) = rows.next().during(OP)? {
            let batch_seq: i64 = row.get(0).during(OP)?;
            let id = row.get_ref(1).and_then(|v| Ok(v.as_blob()?)).during(OP)?;
            let body = row.get_ref(2).and_then(|v| Ok(v.as_blob()?)).during(OP)?;
            let Ok(id) = <[u8; 16]>::try_from(id) else {
                return Ok(None);
            };
            if batch_seq != batch.seq {
                return Ok(None);
            }
            hasher.event(&EventId(id), body);
            events += 1;
        }
    }
    if events != batch.events {
        return Ok(None);
    }

    let mut digests: Vec<(i64, [u8; 32])> = Vec::new();
    if batch.quarantined > 0 {
        let sql = format!("{QUARANTINE_COLUMNS} WHERE batch_seq = ?1");
        let mut stmt = conn.prepare_cached(&sql).during(OP)?;
        let rows = stmt.query_map([batch.seq], quarantine_row).during(OP)?;
        for record in rows {
            let record = record.during(OP)?;
            digests.push((
                record.id,
                chain::quarantine_digest(record.id, &record.record, record.quarantined_at),
            ));
        }
        let mut stmt = conn
            .prepare_cached("SELECT id, digest FROM quarantine_released WHERE batch_seq = ?1")
            .during(OP)?;
        let rows = stmt
            .query_map([batch.seq], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?))
            })
            .during(OP)?;
        for released in rows {
            let (id, digest) = released.during(OP)?;
            let Ok(digest) = <[u8; 32]>::try_from(digest) else {
                return Ok(None);
            };
            digests.push((id, digest));
        }
        digests.sort_unstable_by_key(|(id, _)| *id);
    }
    if digests.len() as i64 != batch.quarantined {
        return Ok(None);
    }
    for (_, digest) in &digests {
        hasher.quarantined(digest);
    }
    Ok(Some(hasher.finish()))
}

// ---------------------------------------------------------------------------------------------
// The Store interface

impl Store for SqliteStore {
    fn commit(&self, batch: &Batch) -> Result<Receipt> {
        if batch.events.is_empty() && batch.quarantined.is_empty() && batch.checkpoint.is_none() {
            return Ok(Receipt::default());
        }
        let bodies = EncodedBodies::encode(&batch.events)?;
        self.writer().commit(&self.keys, batch, &bodies)
    }

    fn query_events(&self, query: &EventQuery) -> Result<Vec<Event>> {
        const OP: &str = "query events";
        let reader = self.reader()?;
        let mut filter = self.event_filter(query, self.lookup_hours(&reader, query)?);
        let sql = format!(
            "{}SELECT seq, codec, id, body FROM events{} ORDER BY time DESC, id DESC LIMIT ?",
            filter.prefix, filter.sql
        );
        filter.args.push(limit_value(query.limit));
        let mut stmt = reader.prepare_cached(&sql).during(OP)?;
        let mut rows = stmt.query(params_from_iter(&filter.args)).during(OP)?;
        let mut events = Vec::new();
        while let Some(row) = rows.next().during(OP)? {
            events.push(decode_event_row(row)?);
        }
        Ok(events)
    }

    fn count_events(&self, query: &EventQuery) -> Result<u64> {
        const OP: &str = "count events";
        let reader = self.reader()?;
        let filter = self.event_filter(query, self.lookup_hours(&reader, query)?);
        let sql = format!("{}SELECT count(*) FROM events{}", filter.prefix, filter.sql);
        let mut stmt = reader.prepare_cached(&sql).during(OP)?;
        let count: i64 = stmt
            .query_row(params_from_iter(&filter.args), |row| row.get(0))
            .during(OP)?;
        Ok(uint(count))
    }

    fn get_event(&self, id: &EventId) -> Result<Option<Event>> {
        const OP: &str = "get event";
        let reader = self.reader()?;
        let mut stmt = reader
            .prepare_cached("SELECT seq, codec, id, body FROM events WHERE id = ?1")
            .during(OP)?;
        let mut rows = stmt.query([&id.0[..]]).during(OP)?;
        match rows.next().during(OP)? {
            Some(row) => decode_event_row(row).map(Some),
            None => Ok(None),
        }
    }

    fn list_quarantine(&self, query: &QuarantineQuery) -> Result<Vec<QuarantinedRecord>> {
        const OP: &str = "list quarantine";
        let mut filter = Filter::default();
        if let Some(source) = &query.source {
            filter.and("source = ?", Value::Text(source.clone()));
        }
        if let Some(after) = query.after_id {
            filter.and("id > ?", Value::Integer(after));
        }
        let sql = format!("{QUARANTINE_COLUMNS}{} ORDER BY id LIMIT ?", filter.sql);
        filter.args.push(limit_value(query.limit));
        let reader = self.reader()?;
        let mut stmt = reader.prepare_cached(&sql).during(OP)?;
        let rows = stmt
            .query_map(params_from_iter(&filter.args), quarantine_row)
            .during(OP)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().during(OP)
    }

    fn release_quarantine(&self, ids: &[i64]) -> Result<u64> {
        const OP: &str = "release quarantine";
        if ids.is_empty() {
            return Ok(0);
        }
        let now = Timestamp::now().millis();
        let mut writer = self.writer();
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(OP)?;
        let mut released = 0;
        {
            let mut select = tx
                .prepare_cached(
                    "SELECT id, source, format, line, byte_offset, entry, reason, raw, raw_len, quarantined_at,
                         batch_seq
                     FROM quarantine WHERE id = ?1",
                )
                .during(OP)?;
            let mut keep_digest = tx
                .prepare_cached(
                    "INSERT INTO quarantine_released (id, batch_seq, digest, released_at) VALUES (?1, ?2, ?3, ?4)",
                )
                .during(OP)?;
            let mut delete = tx
                .prepare_cached("DELETE FROM quarantine WHERE id = ?1")
                .during(OP)?;
            for &id in ids {
                let found = select.query_row([id], |row| {
                    Ok((quarantine_row(row)?, row.get::<_, i64>(10)?))
                });
                let Some((stored, batch_seq)) = found.optional().during(OP)? else {
                    continue;
                };
                let digest = chain::quarantine_digest(id, &stored.record, stored.quarantined_at);
                keep_digest
                    .execute(params![id, batch_seq, &digest[..], now])
                    .during(OP)?;
                released += delete.execute([id]).during(OP)? as u64;
            }
        }
        tx.commit().during(OP)?;
        Ok(released)
    }

    fn put_context(&self, resources: &[ContextResource]) -> Result<u64> {
        const OP: &str = "store context";
        if resources.is_empty() {
            return Ok(0);
        }
        let now = Timestamp::now().millis();
        let summaries = resources
            .iter()
            .map(|r| serde_json::to_string(&r.summary))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Backend {
                operation: OP,
                reason: json_error_summary(&e),
            })?;
        let mut writer = self.writer();
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(OP)?;
        let mut written = 0;
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO context (kind, id, summary, raw, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .during(OP)?;
            for (resource, summary) in resources.iter().zip(&summaries) {
                written += put
                    .execute(params![
                        resource.kind.as_str(),
                        resource.id,
                        summary,
                        resource.raw,
                        now
                    ])
                    .during(OP)? as u64;
            }
        }
        tx.commit().during(OP)?;
        Ok(written)
    }

    fn get_context(&self, kind: ContextKind, id: &str) -> Result<Option<ContextResource>> {
        const OP: &str = "get context";
        let reader = self.reader()?;
        let mut stmt = reader
            .prepare_cached("SELECT id, summary, raw FROM context WHERE kind = ?1 AND id = ?2")
            .during(OP)?;
        let row = stmt
            .query_row(params![kind.as_str(), id], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Vec<u8>>(2)?,
                ))
            })
            .optional()
            .during(OP)?;
        row.map(|(id, summary, raw)| context_resource(kind, id, &summary, raw))
            .transpose()
    }

    fn list_context(
        &self,
        kind: ContextKind,
        after_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ContextResource>> {
        const OP: &str = "list context";
        let mut filter = Filter::default();
        filter.and("kind = ?", Value::Text(kind.as_str().into()));
        if let Some(after) = after_id {
            filter.and("id > ?", Value::Text(after.into()));
        }
        let sql = format!(
            "SELECT id, summary, raw FROM context{} ORDER BY id LIMIT ?",
            filter.sql
        );
        filter.args.push(limit_value(Some(limit)));
        let reader = self.reader()?;
        let mut stmt = reader.prepare_cached(&sql).during(OP)?;
        let rows = stmt
            .query_map(params_from_iter(&filter.args), |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Vec<u8>>(2)?,
                ))
            })
            .during(OP)?;
        let mut resources = Vec::new();
        for row in rows {
            let (id, summary, raw) = row.during(OP)?;
            resources.push(context_resource(kind, id, &summary, raw)?);
        }
        Ok(resources)
    }

    fn count_context(&self, kind: ContextKind) -> Result<u64> {
        const OP: &str = "count context";
        let reader = self.reader()?;
        let mut stmt = reader
            .prepare_cached("SELECT count(*) FROM context WHERE kind = ?1")
            .during(OP)?;
        let count: i64 = stmt
            .query_row([kind.as_str()], |row| row.get(0))
            .during(OP)?;
        Ok(uint(count))
    }

    fn upsert_alert(&self, alert: &Alert, events: &[EventId]) -> Result<()> {
        const OP: &str = "store alert";
        let body = serde_json::to_string(alert).map_err(|e| StoreError::Backend {
            operation: OP,
            reason: json_error_summary(&e),
        })?;
        let mut writer = self.writer();
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(OP)?;
        {
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO alerts (id, rule_id, severity_id, status, first_seen, last_seen, count, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (id) DO UPDATE SET
                         rule_id = excluded.rule_id,
                         severity_id = excluded.severity_id,
                         first_seen = excluded.first_seen,
                         last_seen = excluded.last_seen,
                         count = excluded.count,
                         body = json_set(excluded.body, '$.status', alerts.status)",
                )
                .during(OP)?;
            upsert
                .execute(params![
                    alert.id,
                    alert.rule_id,
                    alert.severity.id(),
                    alert.status.as_str(),
                    alert.first_seen.millis(),
                    alert.last_seen.millis(),
                    int(alert.count),
                    body,
                ])
                .during(OP)?;
            let mut link = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO alert_events (alert_id, event_id) VALUES (?1, ?2)",
                )
                .during(OP)?;
            for event in events {
                link.execute(params![alert.id, &event.0[..]]).during(OP)?;
            }
        }
        tx.commit().during(OP)
    }

    fn get_alert(&self, id: &str) -> Result<Option<Alert>> {
        const OP: &str = "get alert";
        let reader = self.reader()?;
        let mut stmt = reader
            .prepare_cached("SELECT body FROM alerts WHERE id = ?1")
            .during(OP)?;
        let body: Option<String> = stmt
            .query_row([id], |row| row.get(0))
            .optional()
            .during(OP)?;
        body.map(|b| parse_alert(&b)).transpose()
    }

    fn list_alerts(&self, query: &AlertQuery) -> Result<Vec<Alert>> {
        const OP: &str = "list alerts";
        let mut filter = Filter::default();
        if let Some(since) = query.since {
            filter.and("last_seen >= ?", Value::Integer(since.millis()));
        }
        if let Some(status) = query.status {
            filter.and("status = ?", Value::Text(status.as_str().into()));
        }
        if let Some(severity) = query.severity {
            filter.and("severity_id = ?", Value::Integer(severity.id().into()));
        }
        if let Some(rule_id) = &query.rule_id {
            filter.and("rule_id = ?", Value::Text(rule_id.clone()));
        }
        if let Some(entity) = &query.entity {
            filter.and(
                "EXISTS (SELECT 1 FROM json_each(body, '$.entities') WHERE value = ?)",
                Value::Text(entity.clone()),
            );
        }
        let sql = format!(
            "SELECT body FROM alerts{} ORDER BY last_seen DESC, id DESC LIMIT ?",
            filter.sql
        );
        filter.args.push(limit_value(query.limit));
        let reader = self.reader()?;
        let mut stmt = reader.prepare_cached(&sql).during(OP)?;
        let rows = stmt
            .query_map(params_from_iter(&filter.args), |row| {
                row.get::<_, String>(0)
            })
            .during(OP)?;
        let mut alerts = Vec::new();
        for body in rows {
            alerts.push(parse_alert(&body.during(OP)?)?);
        }
        Ok(alerts)
    }

    fn set_alert_status(&self, id: &str, status: AlertStatus) -> Result<bool> {
        const OP: &str = "set alert status";
        let writer = self.writer();
        let mut stmt = writer
            .conn
            .prepare_cached("UPDATE alerts SET status = ?2, body = json_set(body, '$.status', ?2) WHERE id = ?1")
            .during(OP)?;
        let changed = stmt.execute(params![id, status.as_str()]).during(OP)?;
        Ok(changed > 0)
    }

    fn close_alert(&self, id: &str, reason: &str) -> Result<bool> {
        const OP: &str = "close alert";
        let now = Timestamp::now().millis();
        let mut writer = self.writer();
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(OP)?;
        let changed = tx
            .prepare_cached(
                "UPDATE alerts SET status = 'closed', body = json_set(body, '$.status', 'closed') WHERE id = ?1",
            )
            .and_then(|mut s| s.execute([id]))
            .during(OP)?;
        if changed > 0 {
            tx.prepare_cached(
                "INSERT INTO alert_workflow (alert_id, close_reason, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (alert_id) DO UPDATE SET close_reason = ?2, updated_at = ?3",
            )
            .and_then(|mut s| s.execute(params![id, reason, now]))
            .during(OP)?;
        }
        tx.commit().during(OP)?;
        Ok(changed > 0)
    }

    fn assign_alert(&self, id: &str, assignee: Option<&str>) -> Result<bool> {
        const OP: &str = "assign alert";
        let now = Timestamp::now().millis();
        let writer = self.writer();
        // The alert must exist: the foreign key refuses a workflow row for an unknown id.
        let changed = writer
            .conn
            .prepare_cached(
                "INSERT INTO alert_workflow (alert_id, assignee, updated_at)
                 SELECT id, ?2, ?3 FROM alerts WHERE id = ?1
                 ON CONFLICT (alert_id) DO UPDATE SET assignee = ?2, updated_at = ?3",
            )
            .and_then(|mut s| s.execute(params![id, assignee, now]))
            .during(OP)?;
        Ok(changed > 0)
    }

    fn alert_workflow(&self, id: &str) -> Result<Option<AlertWorkflow>> {
        const OP: &str = "read alert workflow";
        let reader = self.reader()?;
        let row = reader
            .prepare_cached(
                "SELECT w.assignee, w.close_reason, w.updated_at
                 FROM alerts a LEFT JOIN alert_workflow w ON w.alert_id = a.id WHERE a.id = ?1",
            )
            .and_then(|mut s| {
                s.query_row([id], |row| {
                    Ok(AlertWorkflow {
                        assignee: row.get(0)?,
                        close_reason: row.get(1)?,
                        updated_at: row.get::<_, Option<i64>>(2)?.map(Timestamp),
                    })
                })
                .optional()
            })
            .during(OP)?;
        Ok(row)
    }

    fn alert_events(&self, alert_id: &str, limit: usize) -> Result<Vec<EventId>> {
        const OP: &str = "list alert events";
        let reader = self.reader()?;
        let mut stmt = reader
            .prepare_cached(
                "SELECT event_id FROM alert_events WHERE alert_id = ?1 ORDER BY event_id DESC LIMIT ?2",
            )
            .during(OP)?;
        let rows = stmt
            .query_map(params![alert_id, limit_value(Some(limit))], |row| {
                row.get::<_, Vec<u8>>(0)
            })
            .during(OP)?;
        let mut ids = Vec::new();
        for row in rows {
            let bytes = row.during(OP)?;
            let id = <[u8; 16]>::try_from(bytes.as_slice()).map_err(|_| StoreError::Corrupt {
                what: "an alert's event link".into(),
                reason: format!("the event id is {} bytes, not 16", bytes.len()),
            })?;
            ids.push(EventId(id));
        }
        Ok(ids)
    }

    fn accounts(&self) -> &dyn crate::Accounts {
        self
    }

    fn sources(&self) -> Result<Vec<SourceState>> {
        const OP: &str = "list sources";
        let reader = self.reader()?;
        let mut stmt = reader
            .prepare_cached(
                "SELECT source, byte_offset, events, quarantined, last_event_time, updated_at
                 FROM sources ORDER BY source",
            )
            .during(OP)?;
        let rows = stmt
            .query_map([], |row| {
                Ok(SourceState {
                    source: row.get(0)?,
                    offset: uint(row.get(1)?),
                    events: uint(row.get(2)?),
                    quarantined: uint(row.get(3)?),
                    last_event_time: row.get::<_, Option<i64>>(4)?.map(Timestamp),
                    updated_at: Timestamp(row.get(5)?),
                })
            })
            .during(OP)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().during(OP)
    }

    fn stats(&self) -> Result<StoreStats> {
        const OP: &str = "read store statistics";
        let reader = self.reader()?;
        let tx = reader.unchecked_transaction().during(OP)?;
        let count = |sql: &str| -> Result<u64> {
            let n: i64 = tx
                .prepare_cached(sql)
                .and_then(|mut s| s.query_row([], |row| row.get(0)))
                .during(OP)?;
            Ok(uint(n))
        };
        Ok(StoreStats {
            // Events are counted from the batches that stored them (one row per few thousand
            // events) rather than by scanning the events table. Anything that ever deletes
            // events (retention) must record the deletion where this sum sees it.
            events: count("SELECT coalesce(sum(events), 0) FROM batches")?,
            quarantined: count("SELECT count(*) FROM quarantine")?,
            alerts: count("SELECT count(*) FROM alerts")?,
            context: count("SELECT count(*) FROM context")?,
            batches: count("SELECT count(*) FROM batches")?,
        })
    }
}

fn context_resource(
    kind: ContextKind,
    id: String,
    summary: &str,
    raw: Vec<u8>,
) -> Result<ContextResource> {
    let summary = serde_json::from_str(summary).map_err(|e| StoreError::Corrupt {
        what: format!("a {} context resource", kind.as_str()),
        reason: json_error_summary(&e),
    })?;
    Ok(ContextResource {
        kind,
        id,
        summary,
        raw,
    })
}

#[cfg(test)]
mod tests;
