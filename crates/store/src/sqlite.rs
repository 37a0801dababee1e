//! The embedded backend: one SQLite database, `ward.db`, in the data directory, needing
//! nothing installed. One writer connection, behind a mutex, commits batches; a small pool of
//! read-only connections serves queries meanwhile (write-ahead logging lets readers see the
//! last committed state while a batch is being written).
//!
//! Must never acknowledge a batch that a crash or power loss could take back (WAL with
//! `synchronous=FULL`: the commit returns after the log is on disk), never build SQL from a
//! value (every value is a bound parameter), and never put event contents into an error.

mod accounts;
mod deliveries;
mod incidents;
mod inventory;
mod keys;
mod schema;

use crate::chain::{self, BatchHasher, GENESIS};
use crate::codec::{self, Encoder, json_error_summary};
use crate::keyring::{self, Keyring, aad};
use crate::lookup::{LookupColumns, LookupKeys};
use crate::{
    AlertQuery, AlertWorkflow, Batch, DEFAULT_LIMIT, EventQuery, Prepared, QuarantineQuery,
    Receipt, Result, SourceState, Store, StoreError, StoreStats,
};
use base64::Engine as _;
pub use keys::{KeyInfo, Reencrypted};
use keys::{holds_plaintext, last_checkpoint, write_checkpoint};
use rusqlite::types::Value;
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior, params, params_from_iter,
};
use std::fmt;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use ward_model::{
    Alert, AlertStatus, ContextKind, ContextResource, Event, EventId, NewQuarantined, Position,
    QuarantinedRecord, Timestamp,
};

/// Sign a checkpoint of the hash chain at least this often (when batches are committed) …
const CHECKPOINT_INTERVAL_MS: i64 = 60_000;
/// … and at least every this many batches.
const CHECKPOINT_BATCHES: u64 = 1_000;

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

/// What [`SqliteStore::verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainReport {
    /// Batches that verified, from the first.
    pub batches: u64,
    /// The last batch that verified.
    pub last_batch: u64,
    /// The first batch whose rows, hash or link do not verify.
    pub first_bad_batch: Option<u64>,
    /// Signed checkpoints whose signature and batch hash verified.
    pub checkpoints: u64,
    /// The newest verified checkpoint: its batch and when it was signed.
    pub last_checkpoint: Option<(u64, Timestamp)>,
    /// The first checkpoint whose signature does not verify, or that names a batch the store
    /// no longer holds as signed (batches were rewritten, or removed from the end).
    pub bad_checkpoint: Option<u64>,
}

impl ChainReport {
    pub fn is_intact(&self) -> bool {
        self.first_bad_batch.is_none() && self.bad_checkpoint.is_none()
    }
}

/// The embedded store. See the module documentation.
pub struct SqliteStore {
    path: PathBuf,
    // Declared before the writer so they close first: the last connection to close
    // checkpoints the log and removes it, which only the writer can do.
    idle_readers: Mutex<Vec<Connection>>,
    writer: Mutex<Writer>,
    keys: LookupKeys,
    /// The unwrapped keys of an encrypted store; `None` for a store without encryption.
    vault: Option<Keyring>,
    /// Where the key-encryption key came from, to read it again after a rotation.
    kek_source: Option<ward_vault::KekSource>,
}

struct Writer {
    conn: Connection,
    /// The last batch of the hash chain, kept so a commit need not read it back.
    head: ChainHead,
    /// When the last signed checkpoint was written (encrypted stores), and for which batch.
    checkpointed: (i64, u64),
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

/// The schema upgrade that opening the store in `dir` will run, as (the version on disk, the
/// version this code writes); `None` when there is no store yet or it is up to date. Reads the
/// version only, changing nothing, so a caller can say an upgrade is under way before it
/// starts: building an index over every stored event takes a while on a large store.
pub fn pending_upgrade(dir: &Path) -> Result<Option<(i64, i64)>> {
    let path = dir.join(DB_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let conn = open_reader(&path)?;
    let found = schema::user_version(&conn)?;
    Ok((found > 0 && found < schema::VERSION).then_some((found, schema::VERSION)))
}

impl SqliteStore {
    /// Opens a store without encryption in `dir` (for tests and tools: Ward itself always
    /// opens its store with [`SqliteStore::open_encrypted`]), creating the directory and the
    /// database when they do not exist, and bringing an older schema up to date. Refuses an
    /// encrypted store.
    pub fn open(dir: &Path) -> Result<Self> {
        Self::open_with(dir, None)
    }

    /// Opens the store in `dir` with PHI encrypted at rest under the key-encryption key from
    /// `kek`. A new store gets its keys; a store that held plaintext is encrypted in place
    /// first (every sealed column and keyed lookup rewritten; the hash chain, which covers
    /// plaintext, is unchanged).
    pub fn open_encrypted(dir: &Path, kek: &ward_vault::KekSource) -> Result<Self> {
        Self::open_with(dir, Some(kek))
    }

    fn open_with(dir: &Path, kek_source: Option<&ward_vault::KekSource>) -> Result<Self> {
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
        // Only the owner may read the database; SQLite gives its log and shared-memory files
        // the database file's permissions when it creates them. Best effort for a file
        // someone else owns (its directory is private all the same); a store that cannot be
        // written fails below with the reason that matters.
        #[cfg(unix)]
        if let Ok(meta) = std::fs::metadata(&path) {
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o077 != 0 {
                let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
            }
        }
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
        let stored_keys = keys::load(&conn)?;
        let mut convert = false;
        let vault = match kek_source {
            None if !stored_keys.is_empty() => {
                return Err(failed(
                    "the store is encrypted; Ward needs its key-encryption key (see docs/keys.md)"
                        .into(),
                ));
            }
            None => None,
            Some(source) => {
                let kek = source.load().map_err(|e| StoreError::Keys(e.to_string()))?;
                let stored_keys = if stored_keys.is_empty() {
                    convert = holds_plaintext(&conn)?;
                    keys::initialise(&mut conn, &kek)?;
                    keys::load(&conn)?
                } else {
                    stored_keys
                };
                Some(Keyring::unwrap(kek, &stored_keys, Timestamp::now())?)
            }
        };
        let checkpointed = last_checkpoint(&conn)?;
        let store = SqliteStore {
            path,
            writer: Mutex::new(Writer {
                conn,
                head,
                checkpointed,
            }),
            idle_readers: Mutex::new(Vec::new()),
            keys: LookupKeys {
                key: vault.as_ref().map(|v| v.lookup.clone()),
            },
            vault,
            kek_source: kek_source.cloned(),
        };
        if convert {
            store.reencrypt(|_| {})?;
            store.seal_plain_detector_states()?;
            // The plaintext the rows held stays in freed pages until overwritten: rebuild the
            // file and empty the log, so no copy of it is left on disk.
            let writer = store.writer();
            writer
                .conn
                .execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")
                .during("rewrite the store after encrypting it")?;
        }
        Ok(store)
    }

    /// A secret derived from the store's keys for one purpose, stable for the store's life;
    /// `None` for a store without encryption.
    pub fn derived_secret(&self, label: &str) -> Option<[u8; 32]> {
        self.vault.as_ref().map(|v| v.lookup.derive(label))
    }

    /// Writes a consistent copy of the database to `dest` (which must not exist) while the
    /// store keeps serving: SQLite's `VACUUM INTO` reads one snapshot of the database and
    /// writes it compacted. Returns the sequence number and hash of the last batch the copy
    /// holds, read from the copy itself.
    pub fn snapshot(&self, dest: &Path) -> Result<(u64, [u8; 32])> {
        const OP: &str = "snapshot the store";
        let dest_text = dest.to_str().ok_or_else(|| StoreError::Backend {
            operation: OP,
            reason: "the destination path is not UTF-8".into(),
        })?;
        let reader = self.reader()?;
        reader.execute("VACUUM INTO ?1", [dest_text]).during(OP)?;
        drop(reader);
        let copy =
            Connection::open_with_flags(dest, OpenFlags::SQLITE_OPEN_READ_ONLY).during(OP)?;
        let head = chain_head(&copy)?;
        Ok((head.seq, head.hash))
    }

    /// The last committed batch: its sequence number and hash.
    pub fn chain_head(&self) -> (u64, [u8; 32]) {
        let writer = self.writer();
        (writer.head.seq, writer.head.hash)
    }

    /// Whether the store encrypts PHI at rest.
    pub fn is_encrypted(&self) -> bool {
        self.vault.is_some()
    }

    /// The public key that verifies this store's signed checkpoints (encrypted stores), to
    /// keep somewhere an attacker with the data directory cannot reach.
    pub fn checkpoint_public_key(&self) -> Option<[u8; 32]> {
        self.vault.as_ref().map(|v| v.signing.1.public_key())
    }

    /// The data key sealing what is written now, started when the period has none yet.
    fn sealing_key(&self) -> Result<Option<Arc<ward_vault::DataKey>>> {
        let Some(vault) = &self.vault else {
            return Ok(None);
        };
        if let Some(key) = vault.current(Timestamp::now()) {
            return Ok(Some(key));
        }
        let mut writer = self.writer();
        if let Some(key) = vault.current(Timestamp::now()) {
            return Ok(Some(key));
        }
        match keys::new_data_key(&mut writer.conn, vault) {
            Err(StoreError::Keys(_)) if self.reload_kek() => {
                keys::new_data_key(&mut writer.conn, vault).map(Some)
            }
            other => other.map(Some),
        }
    }

    /// Reads the key-encryption key again from where it came from (after another process
    /// rotated it); whether a different key was found and taken.
    fn reload_kek(&self) -> bool {
        let (Some(vault), Some(source)) = (&self.vault, &self.kek_source) else {
            return false;
        };
        match source.load() {
            Ok(kek) if kek.id() != vault.kek().id() => {
                vault.replace_kek(kek);
                true
            }
            _ => false,
        }
    }

    /// Re-wraps every key of the store under `new` (the key-encryption key is being
    /// rotated). Rewrites no data; the store keeps serving. Returns how many keys were
    /// re-wrapped.
    pub fn rotate_kek(&self, new: ward_vault::Kek) -> Result<usize> {
        let vault = self.vault.as_ref().ok_or_else(|| {
            StoreError::Keys("the store is not encrypted; it has no keys to rotate".into())
        })?;
        let mut writer = self.writer();
        keys::rewrap(&mut writer.conn, vault, new)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Recomputes the hash chain over every stored batch. Returns the sequence number of the
    /// first batch whose rows or links do not match its recorded hash (stored data was
    /// altered, removed or reordered from that batch on), or `None` when the chain is intact.
    /// [`SqliteStore::verify`] says more.
    pub fn verify_chain(&self) -> Result<Option<u64>> {
        Ok(self.verify()?.first_bad_batch)
    }

    /// Checks the whole store: every batch against its hash and the previous batch's (each
    /// event's body and indexed columns, each quarantined record; in an encrypted store every
    /// sealed value must also open), and every signed checkpoint against the store's signing
    /// key and the batch it names.
    ///
    /// What it cannot see without an anchor kept elsewhere: removal of the newest batches
    /// after the last checkpoint, together with their rows; keep the checkpoint public key
    /// and the last checkpoint outside the data directory for that.
    pub fn verify(&self) -> Result<ChainReport> {
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
        let mut report = ChainReport::default();
        let mut hashes: std::collections::HashMap<u64, Vec<u8>> = std::collections::HashMap::new();
        let mut expected_prev = ChainHead {
            seq: 0,
            hash: GENESIS,
        };
        for batch in batches {
            let seq = u64::try_from(batch.seq).unwrap_or(0);
            let linked = seq == expected_prev.seq + 1 && batch.prev_hash == expected_prev.hash;
            if !linked
                || recompute_batch_hash(
                    &tx,
                    &self.keys,
                    self.vault.as_ref(),
                    &expected_prev.hash,
                    &batch,
                )?
                .as_ref()
                .map(|h| &h[..])
                    != Some(&batch.hash[..])
            {
                report.first_bad_batch = Some(seq);
                break;
            }
            report.batches += 1;
            let mut hash = [0u8; 32];
            hash.copy_from_slice(&batch.hash);
            hashes.insert(seq, batch.hash);
            expected_prev = ChainHead { seq, hash };
        }
        report.last_batch = expected_prev.seq;
        if let Some(vault) = &self.vault {
            let public = vault.signing.1.public_key();
            let mut stmt = tx
                .prepare("SELECT batch_seq, hash, signed_at, signature FROM checkpoints ORDER BY batch_seq")
                .during(OP)?;
            let rows = stmt
                .query_map([], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, Vec<u8>>(1)?,
                        row.get::<_, i64>(2)?,
                        row.get::<_, Vec<u8>>(3)?,
                    ))
                })
                .during(OP)?;
            for row in rows {
                let (seq, hash, signed_at, signature) = row.during(OP)?;
                let message = keys::checkpoint_message(seq, &hash, signed_at);
                let useq = u64::try_from(seq).unwrap_or(0);
                let signed = ward_vault::verify_signature(&public, &message, &signature);
                let matches = hashes.get(&useq).is_some_and(|h| *h == hash);
                if !signed || (!matches && report.first_bad_batch.is_none_or(|bad| useq < bad)) {
                    report.bad_checkpoint.get_or_insert(useq);
                    continue;
                }
                if matches {
                    report.checkpoints += 1;
                    report.last_checkpoint = Some((useq, Timestamp(signed_at)));
                }
            }
        }
        Ok(report)
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

    /// The bucket range a lookup query visits: the query's own bounds, narrowed to the
    /// buckets that hold events at all (two seeks on the time index). `None` when no lookup
    /// column is filtered on, and the time index serves the query instead.
    fn lookup_buckets(
        &self,
        reader: &Connection,
        query: &EventQuery,
    ) -> Result<Option<(i64, i64)>> {
        const OP: &str = "plan event lookup";
        if query.user.is_none()
            && query.patient.is_none()
            && query.src_ip.is_none()
            && query.host.is_none()
        {
            return Ok(None);
        }
        let (first, last): (Option<i64>, Option<i64>) = reader
            .prepare_cached(TIME_SPAN)
            .during(OP)?
            .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
            .during(OP)?;
        let (Some(first), Some(last)) = (first, last) else {
            return Ok(Some((1, 0)));
        };
        let mut lo = bucket_of(Timestamp(first));
        let mut hi = bucket_of(Timestamp(last));
        if let Some(since) = query.since {
            lo = lo.max(bucket_of(since));
        }
        if let Some(until) = query.until {
            hi = hi.min(bucket_of(Timestamp(until.millis().saturating_sub(1))));
        }
        Ok(Some((lo, hi)))
    }

    fn event_filter(&self, query: &EventQuery, buckets: Option<(i64, i64)>) -> Filter {
        let mut filter = Filter::default();
        if let Some((lo, hi)) = buckets {
            filter.prefix = BUCKETS_CTE;
            filter.args.push(Value::Integer(lo));
            filter.args.push(Value::Integer(hi));
            filter.conditions = 0;
            filter.and_raw("bucket IN (SELECT b FROM lookup_buckets)");
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
        // Sign the head of the chain on the way out, so a clean shutdown leaves it anchored.
        if let Some(vault) = &self.vault {
            let writer = self.writer();
            if writer.head.seq > writer.checkpointed.1 {
                let _ = write_checkpoint(
                    &writer.conn,
                    vault,
                    int(writer.head.seq),
                    &writer.head.hash,
                    Timestamp::now().millis(),
                );
            }
        }
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
        product, user_key, patient_key, src_ip, host, codec, body, hour, key_id)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
    ON CONFLICT (id) DO NOTHING";

/// The first and last event time: two subqueries, not `SELECT min(time), max(time)`, because
/// SQLite answers a lone min() or max() with one seek on the time index but both in one select
/// with a scan of the whole index (14 ms on every lookup of a 500,000-event store).
const TIME_SPAN: &str = "SELECT (SELECT min(time) FROM events), (SELECT max(time) FROM events)";

/// The `hour` column: written and verified with every row, no longer indexed (the lookup
/// indexes are led by [`bucket_of`] since schema migration 8).
const HOUR_MS: i64 = 3_600_000;

fn hour_of(time: Timestamp) -> i64 {
    time.millis().div_euclid(HOUR_MS)
}

/// The bucket leading the lookup indexes: ten minutes of event time. Must match the
/// expression of the generated column `events.bucket` (schema migration 8).
const BUCKET_MS: i64 = 600_000;

fn bucket_of(time: Timestamp) -> i64 {
    time.millis().div_euclid(BUCKET_MS)
}

/// The buckets a lookup query must visit, generated inside SQLite so the statement stays the
/// same (and cached) whatever the range: `?lo` and `?hi` are the first and last bucket.
const BUCKETS_CTE: &str = "WITH RECURSIVE lookup_buckets(b) AS (SELECT ? UNION ALL SELECT b + 1 FROM lookup_buckets WHERE b < ?) ";

const INSERT_QUARANTINE: &str =
    "INSERT INTO quarantine (batch_seq, source, format, line, byte_offset, entry, reason,
        raw, raw_len, quarantined_at, key_id)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";

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

/// The bodies of a batch's events, encoded (and sealed, in an encrypted store) before the
/// writer lock is taken so that threads committing at once only queue for the database work.
/// The hash chain covers the plain body; the row stores the sealed one.
struct EncodedBodies {
    plain: Vec<u8>,
    plain_ends: Vec<usize>,
    sealed: Vec<u8>,
    sealed_ends: Vec<usize>,
    key_id: Option<i64>,
}

impl EncodedBodies {
    fn encode(events: &[Event], key: Option<&ward_vault::DataKey>) -> Result<Self> {
        let mut encoder = Encoder::default();
        // Compressed bodies of typical events are well under a kilobyte.
        let mut plain = Vec::with_capacity(events.len() * 1024);
        let mut plain_ends = Vec::with_capacity(events.len());
        for event in events {
            encoder.encode_into(event, &mut plain)?;
            plain_ends.push(plain.len());
        }
        let mut bodies = EncodedBodies {
            plain,
            plain_ends,
            sealed: Vec::new(),
            sealed_ends: Vec::new(),
            key_id: key.map(|k| k.id()),
        };
        if let Some(key) = key {
            bodies
                .sealed
                .reserve(bodies.plain.len() + events.len() * 28);
            for (i, event) in events.iter().enumerate() {
                let start = if i == 0 { 0 } else { bodies.plain_ends[i - 1] };
                key.seal_into(
                    &event.id.0,
                    &bodies.plain[start..bodies.plain_ends[i]],
                    &mut bodies.sealed,
                )
                .map_err(|e| StoreError::Keys(e.to_string()))?;
                bodies.sealed_ends.push(bodies.sealed.len());
            }
        }
        Ok(bodies)
    }

    /// The encoded body, as the hash chain covers it.
    fn plain(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.plain_ends[i - 1] };
        &self.plain[start..self.plain_ends[i]]
    }

    /// The body as stored.
    fn stored(&self, i: usize) -> &[u8] {
        if self.key_id.is_none() {
            return self.plain(i);
        }
        let start = if i == 0 { 0 } else { self.sealed_ends[i - 1] };
        &self.sealed[start..self.sealed_ends[i]]
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
        vault: Option<&Keyring>,
        batch: &Batch,
        bodies: &EncodedBodies,
    ) -> Result<Receipt> {
        let result = self.try_commit(keys, vault, batch, bodies);
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
        vault: Option<&Keyring>,
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
                        bodies.stored(i),
                        hour_of(event.time),
                        bodies.key_id,
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
                hasher.event(&event.id, bodies.plain(i));
                sources.event(&event.metadata.log_name, event.time);
            }
        }
        if !batch.quarantined.is_empty() {
            let mut insert = tx.prepare_cached(INSERT_QUARANTINE).during(OP)?;
            let key = match (vault, bodies.key_id) {
                (Some(vault), Some(id)) => Some(vault.data_key(id)?),
                _ => None,
            };
            for record in &batch.quarantined {
                let (reason, raw) = match &key {
                    None => (
                        record.reason.as_str(),
                        std::borrow::Cow::Borrowed(&record.raw[..]),
                    ),
                    Some(key) => {
                        let plain = keyring::join_parts(&[record.reason.as_bytes(), &record.raw]);
                        let aad = aad::quarantine(
                            &record.source,
                            record.position.line,
                            record.position.offset,
                        );
                        let sealed = key
                            .seal(&aad, &plain)
                            .map_err(|e| StoreError::Keys(e.to_string()))?;
                        ("", std::borrow::Cow::Owned(sealed))
                    }
                };
                insert
                    .execute(params![
                        seq_value,
                        record.source,
                        record.format,
                        int(record.position.line),
                        int(record.position.offset),
                        record.position.entry.map(int),
                        reason,
                        &raw[..],
                        int(record.raw_len),
                        now.millis(),
                        key.as_ref().map(|k| k.id()),
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
            if let Some(vault) = vault
                && (now.millis() - self.checkpointed.0 >= CHECKPOINT_INTERVAL_MS
                    || seq - self.checkpointed.1 >= CHECKPOINT_BATCHES)
            {
                write_checkpoint(&tx, vault, seq_value, &hash, now.millis())?;
            }
        }
        tx.commit().during(OP)?;
        if wrote_rows {
            self.head = ChainHead { seq, hash };
            if vault.is_some()
                && (now.millis() - self.checkpointed.0 >= CHECKPOINT_INTERVAL_MS
                    || seq - self.checkpointed.1 >= CHECKPOINT_BATCHES)
            {
                self.checkpointed = (now.millis(), seq);
            }
        }
        Ok(receipt)
    }
}

// ---------------------------------------------------------------------------------------------
// Reading rows back

/// The columns [`decode_event_row`] reads, in its order.
const EVENT_COLUMNS: &str = "seq, codec, id, body, key_id";

/// An event from its row (selected as [`EVENT_COLUMNS`]); in an encrypted store the body is
/// opened first.
fn decode_event_row(row: &Row<'_>, vault: Option<&Keyring>) -> Result<Event> {
    Ok(plain_event_row(row, vault)?.1)
}

/// The plain encoded body of an event row and the event it holds.
fn plain_event_row(row: &Row<'_>, vault: Option<&Keyring>) -> Result<(Vec<u8>, Event)> {
    const OP: &str = "read event";
    let seq: i64 = row.get(0).during(OP)?;
    let codec: i64 = row.get(1).during(OP)?;
    let id = row.get_ref(2).and_then(|v| Ok(v.as_blob()?)).during(OP)?;
    let body = row.get_ref(3).and_then(|v| Ok(v.as_blob()?)).during(OP)?;
    let key_id: Option<i64> = row.get(4).during(OP)?;
    let corrupt = |reason: String| StoreError::Corrupt {
        what: format!("event row {seq}"),
        reason,
    };
    let body = match key_id {
        None => body.to_vec(),
        Some(key_id) => keyring::open_sealed(vault, key_id, id, body, &format!("event row {seq}"))?,
    };
    let event = codec::decode(codec, &body).map_err(corrupt)?;
    if event.id.0[..] != *id {
        return Err(corrupt("the body belongs to a different event id".into()));
    }
    Ok((body, event))
}

const QUARANTINE_COLUMNS: &str = "SELECT id, source, format, line, byte_offset, entry, reason, raw, raw_len, quarantined_at, key_id, batch_seq FROM quarantine";

/// A quarantined record from its row (selected as [`QUARANTINE_COLUMNS`]), opened when
/// sealed, with the batch that stored it.
fn quarantine_row(row: &Row<'_>, vault: Option<&Keyring>) -> Result<(QuarantinedRecord, i64)> {
    const OP: &str = "read quarantined record";
    let mut record = QuarantinedRecord {
        id: row.get(0).during(OP)?,
        record: NewQuarantined {
            source: row.get(1).during(OP)?,
            format: row.get(2).during(OP)?,
            position: Position {
                line: uint(row.get(3).during(OP)?),
                offset: uint(row.get(4).during(OP)?),
                entry: row.get::<_, Option<i64>>(5).during(OP)?.map(uint),
            },
            reason: row.get(6).during(OP)?,
            raw: row.get(7).during(OP)?,
            raw_len: uint(row.get(8).during(OP)?),
        },
        quarantined_at: Timestamp(row.get(9).during(OP)?),
    };
    let key_id: Option<i64> = row.get(10).during(OP)?;
    let batch_seq: i64 = row.get(11).during(OP)?;
    if let Some(key_id) = key_id {
        let what = format!("quarantined record {}", record.id);
        let r = &record.record;
        let aad = aad::quarantine(&r.source, r.position.line, r.position.offset);
        let plain = keyring::open_sealed(vault, key_id, &aad, &r.raw, &what)?;
        let parts = keyring::split_parts(&plain, 2).ok_or_else(|| StoreError::Corrupt {
            what,
            reason: "its sealed parts do not fit together".into(),
        })?;
        record.record.reason = String::from_utf8_lossy(parts[0]).into_owned();
        record.record.raw = parts[1].to_vec();
    }
    Ok((record, batch_seq))
}

/// The columns [`alert_row`] reads.
const ALERT_COLUMNS: &str = "id, body, status, key_id";

/// An alert row as stored: id, body, status, key id.
type AlertRow = (String, String, String, Option<i64>);

fn alert_row(row: &Row<'_>) -> rusqlite::Result<AlertRow> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

fn base64_engine() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// Every entity value an alert names (user, patient, addresses, host …), for lookups.
fn alert_entity_values(alert: &Alert) -> serde_json::Result<Vec<String>> {
    let entities = serde_json::to_value(&alert.entities)?;
    Ok(entities
        .as_object()
        .into_iter()
        .flat_map(|map| map.values())
        .filter_map(|v| v.as_str())
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect())
}

impl SqliteStore {
    /// An alert from its row: opened when sealed; its status is the row's (people change it
    /// without rewriting the body).
    fn parse_alert(&self, row: AlertRow) -> Result<Alert> {
        let (id, body, status, key_id) = row;
        let what = || format!("alert {id}");
        let body = match key_id {
            None => body.into_bytes(),
            Some(key_id) => keyring::open_sealed_base64(
                self.vault.as_ref(),
                key_id,
                &aad::alert(&id),
                &body,
                &what(),
            )?,
        };
        let mut alert: Alert = serde_json::from_slice(&body).map_err(|e| StoreError::Corrupt {
            what: what(),
            reason: json_error_summary(&e),
        })?;
        if let Some(status) = AlertStatus::parse(&status) {
            alert.status = status;
        }
        Ok(alert)
    }
}

/// Whether an event row's indexed columns (selected after [`EVENT_COLUMNS`] and
/// `batch_seq`) are what its body says.
fn columns_match(row: &Row<'_>, keys: &LookupKeys, event: &Event) -> rusqlite::Result<bool> {
    let lookup = LookupColumns::of(keys, event);
    Ok(row.get::<_, i64>(6)? == event.time.millis()
        && row.get::<_, i64>(7)? == hour_of(event.time)
        && row.get::<_, i64>(8)? == i64::from(event.class_uid)
        && row.get::<_, i64>(9)? == i64::from(event.activity_id)
        && row.get::<_, i64>(10)? == i64::from(event.severity.id())
        && row.get::<_, i64>(11)? == i64::from(event.status.id())
        && row.get::<_, String>(12)? == event.metadata.product
        && row.get::<_, Option<String>>(13)?.as_deref() == lookup.user_key.as_deref()
        && row.get::<_, Option<String>>(14)?.as_deref() == lookup.patient_key.as_deref()
        && row.get::<_, Option<String>>(15)?.as_deref() == lookup.src_ip
        && row.get::<_, Option<String>>(16)?.as_deref() == lookup.host)
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
///
/// Besides the hash, every event row's own columns must be what its body says (time, class,
/// lookup keys …), so a changed byte in an indexed column is found too, and in an encrypted
/// store every sealed value must open (AES-GCM authenticates each one).
fn recompute_batch_hash(
    conn: &Connection,
    keys: &LookupKeys,
    vault: Option<&Keyring>,
    prev_hash: &[u8; 32],
    batch: &StoredBatch,
) -> Result<Option<[u8; 32]>> {
    match recompute_batch_hash_inner(conn, keys, vault, prev_hash, batch) {
        // A sealed value that does not open, or names a key the store lacks, is damage.
        Err(StoreError::Corrupt { .. } | StoreError::Keys(_)) => Ok(None),
        other => other,
    }
}

fn recompute_batch_hash_inner(
    conn: &Connection,
    keys: &LookupKeys,
    vault: Option<&Keyring>,
    prev_hash: &[u8; 32],
    batch: &StoredBatch,
) -> Result<Option<[u8; 32]>> {
    const OP: &str = "verify hash chain";
    let mut hasher = BatchHasher::new(prev_hash, uint(batch.seq));
    let mut events = 0i64;
    if let (Some(first), Some(last)) = (batch.first_event_seq, batch.last_event_seq) {
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS}, batch_seq, time, hour, class_uid, activity_id, severity_id,
                     status_id, product, user_key, patient_key, src_ip, host
                 FROM events WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq"
            ))
            .during(OP)?;
        let mut rows = stmt.query([first, last]).during(OP)?;
        while let Some(row) = rows.next().during(OP)? {
            let batch_seq: i64 = row.get(5).during(OP)?;
            if batch_seq != batch.seq {
                return Ok(None);
            }
            let (body, event) = plain_event_row(row, vault)?;
            if !columns_match(row, keys, &event).during(OP)? {
                return Ok(None);
            }
            hasher.event(&event.id, &body);
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
        let mut rows = stmt.query([batch.seq]).during(OP)?;
        while let Some(row) = rows.next().during(OP)? {
            let (record, _) = quarantine_row(row, vault)?;
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

impl SqliteStore {
    /// Encodes (and in an encrypted store seals) a batch's event bodies: the work of a commit
    /// that needs no lock. The sealing key is taken (or started, at a new period) here, and
    /// quarantined records of a batch without events are sealed under it as well.
    fn encode_bodies(&self, batch: &Batch) -> Result<EncodedBodies> {
        let key = if batch.events.is_empty() && batch.quarantined.is_empty() {
            None
        } else {
            self.sealing_key()?
        };
        EncodedBodies::encode(&batch.events, key.as_deref())
    }
}

fn is_empty(batch: &Batch) -> bool {
    batch.events.is_empty() && batch.quarantined.is_empty() && batch.checkpoint.is_none()
}

impl Store for SqliteStore {
    fn commit(&self, batch: &Batch) -> Result<Receipt> {
        if is_empty(batch) {
            return Ok(Receipt::default());
        }
        let bodies = self.encode_bodies(batch)?;
        self.writer()
            .commit(&self.keys, self.vault.as_ref(), batch, &bodies)
    }

    fn prepare(&self, batch: Batch) -> Result<Prepared> {
        if is_empty(&batch) {
            return Ok(Prepared::unprepared(batch));
        }
        let bodies = self.encode_bodies(&batch)?;
        Ok(Prepared::with_work(batch, Box::new(bodies)))
    }

    fn commit_prepared(&self, prepared: &Prepared) -> Result<Receipt> {
        let batch = prepared.batch();
        if is_empty(batch) {
            return Ok(Receipt::default());
        }
        if let Some(bodies) = prepared.work::<EncodedBodies>()
            && bodies.plain_ends.len() == batch.events.len()
        {
            let mut writer = self.writer();
            // Bodies sealed under a data key that stopped being current while the batch
            // waited (a new period, a rotation) are sealed again under the current one, as a
            // commit of the bare batch would: nothing new is written under a retired key.
            let current = self
                .vault
                .as_ref()
                .map(|vault| vault.current(Timestamp::now()).map(|k| k.id()));
            if current.is_none_or(|id| id.is_some() && id == bodies.key_id) {
                return writer.commit(&self.keys, self.vault.as_ref(), batch, bodies);
            }
        }
        self.commit(batch)
    }

    fn query_events(&self, query: &EventQuery) -> Result<Vec<Event>> {
        const OP: &str = "query events";
        let reader = self.reader()?;
        let mut filter = self.event_filter(query, self.lookup_buckets(&reader, query)?);
        let sql = format!(
            "{}SELECT {EVENT_COLUMNS} FROM events{} ORDER BY time DESC, id DESC LIMIT ?",
            filter.prefix, filter.sql
        );
        filter.args.push(limit_value(query.limit));
        let mut stmt = reader.prepare_cached(&sql).during(OP)?;
        let mut rows = stmt.query(params_from_iter(&filter.args)).during(OP)?;
        let mut events = Vec::new();
        while let Some(row) = rows.next().during(OP)? {
            events.push(decode_event_row(row, self.vault.as_ref())?);
        }
        Ok(events)
    }

    fn count_events(&self, query: &EventQuery) -> Result<u64> {
        const OP: &str = "count events";
        let reader = self.reader()?;
        let filter = self.event_filter(query, self.lookup_buckets(&reader, query)?);
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
            .prepare_cached(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = ?1"))
            .during(OP)?;
        let mut rows = stmt.query([&id.0[..]]).during(OP)?;
        match rows.next().during(OP)? {
            Some(row) => decode_event_row(row, self.vault.as_ref()).map(Some),
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
        let mut rows = stmt.query(params_from_iter(&filter.args)).during(OP)?;
        let mut records = Vec::new();
        while let Some(row) = rows.next().during(OP)? {
            records.push(quarantine_row(row, self.vault.as_ref())?.0);
        }
        Ok(records)
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
                .prepare_cached(&format!("{QUARANTINE_COLUMNS} WHERE id = ?1"))
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
                let mut rows = select.query([id]).during(OP)?;
                let Some(row) = rows.next().during(OP)? else {
                    continue;
                };
                let (stored, batch_seq) = quarantine_row(row, self.vault.as_ref())?;
                drop(rows);
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
        let key = self.sealing_key()?;
        let mut writer = self.writer();
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(OP)?;
        let mut written = 0;
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO context (kind, id, summary, raw, updated_at, key_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .during(OP)?;
            for (resource, summary) in resources.iter().zip(&summaries) {
                let kind = resource.kind.as_str();
                let stored_id = self.keys.lookup_key(&resource.id);
                let (summary, raw) = match &key {
                    None => (
                        summary.as_str(),
                        std::borrow::Cow::Borrowed(&resource.raw[..]),
                    ),
                    Some(key) => {
                        let plain = keyring::join_parts(&[
                            resource.id.as_bytes(),
                            summary.as_bytes(),
                            &resource.raw,
                        ]);
                        let sealed = key
                            .seal(&aad::context(kind, &stored_id), &plain)
                            .map_err(|e| StoreError::Keys(e.to_string()))?;
                        ("", std::borrow::Cow::Owned(sealed))
                    }
                };
                written += put
                    .execute(params![
                        kind,
                        &*stored_id,
                        summary,
                        &raw[..],
                        now,
                        key.as_ref().map(|k| k.id())
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
            .prepare_cached(
                "SELECT id, summary, raw, key_id FROM context WHERE kind = ?1 AND id = ?2",
            )
            .during(OP)?;
        let row = stmt
            .query_row(
                params![kind.as_str(), &*self.keys.lookup_key(id)],
                context_row,
            )
            .optional()
            .during(OP)?;
        row.map(|row| self.context_resource(kind, row)).transpose()
    }

    fn list_context(
        &self,
        kind: ContextKind,
        after_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ContextResource>> {
        const OP: &str = "list context";
        // Pages follow the stored ids: in an encrypted store, the keyed hashes of the ids, an
        // order as stable as the ids' own.
        let mut filter = Filter::default();
        filter.and("kind = ?", Value::Text(kind.as_str().into()));
        if let Some(after) = after_id {
            filter.and(
                "id > ?",
                Value::Text(self.keys.lookup_key(after).into_owned()),
            );
        }
        let sql = format!(
            "SELECT id, summary, raw, key_id FROM context{} ORDER BY id LIMIT ?",
            filter.sql
        );
        filter.args.push(limit_value(Some(limit)));
        let reader = self.reader()?;
        let mut stmt = reader.prepare_cached(&sql).during(OP)?;
        let rows = stmt
            .query_map(params_from_iter(&filter.args), context_row)
            .during(OP)?;
        let mut resources = Vec::new();
        for row in rows {
            resources.push(self.context_resource(kind, row.during(OP)?)?);
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
        let json_failed = |e: serde_json::Error| StoreError::Backend {
            operation: OP,
            reason: json_error_summary(&e),
        };
        let body = serde_json::to_string(alert).map_err(json_failed)?;
        let key = self.sealing_key()?;
        let body = match &key {
            None => body,
            Some(key) => base64_engine().encode(
                key.seal(&aad::alert(&alert.id), body.as_bytes())
                    .map_err(|e| StoreError::Keys(e.to_string()))?,
            ),
        };
        let entities = alert_entity_values(alert).map_err(json_failed)?;
        let mut writer = self.writer();
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(OP)?;
        {
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO alerts (id, rule_id, severity_id, status, first_seen, last_seen, count, body, key_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT (id) DO UPDATE SET
                         rule_id = excluded.rule_id,
                         severity_id = excluded.severity_id,
                         first_seen = excluded.first_seen,
                         last_seen = excluded.last_seen,
                         count = excluded.count,
                         body = excluded.body,
                         key_id = excluded.key_id",
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
                    key.as_ref().map(|k| k.id()),
                ])
                .during(OP)?;
            tx.prepare_cached("DELETE FROM alert_entities WHERE alert_id = ?1")
                .and_then(|mut s| s.execute([&alert.id]))
                .during(OP)?;
            let mut entity = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO alert_entities (entity_key, alert_id) VALUES (?1, ?2)",
                )
                .during(OP)?;
            for value in &entities {
                entity
                    .execute(params![&*self.keys.lookup_key(value), alert.id])
                    .during(OP)?;
            }
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
            .prepare_cached(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?1"))
            .during(OP)?;
        let row = stmt.query_row([id], alert_row).optional().during(OP)?;
        row.map(|row| self.parse_alert(row)).transpose()
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
                "id IN (SELECT alert_id FROM alert_entities WHERE entity_key = ?)",
                Value::Text(self.keys.lookup_key(entity).into_owned()),
            );
        }
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts{} ORDER BY last_seen DESC, id DESC LIMIT ?",
            filter.sql
        );
        filter.args.push(limit_value(query.limit));
        let reader = self.reader()?;
        let mut stmt = reader.prepare_cached(&sql).during(OP)?;
        let rows = stmt
            .query_map(params_from_iter(&filter.args), alert_row)
            .during(OP)?;
        let mut alerts = Vec::new();
        for row in rows {
            alerts.push(self.parse_alert(row.during(OP)?)?);
        }
        Ok(alerts)
    }

    fn set_alert_status(&self, id: &str, status: AlertStatus) -> Result<bool> {
        const OP: &str = "set alert status";
        let writer = self.writer();
        let mut stmt = writer
            .conn
            .prepare_cached("UPDATE alerts SET status = ?2 WHERE id = ?1")
            .during(OP)?;
        let changed = stmt.execute(params![id, status.as_str()]).during(OP)?;
        Ok(changed > 0)
    }

    fn close_alert(&self, id: &str, reason: &str) -> Result<bool> {
        const OP: &str = "close alert";
        let now = Timestamp::now().millis();
        let key = self.sealing_key()?;
        let mut writer = self.writer();
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(OP)?;
        let changed = tx
            .prepare_cached("UPDATE alerts SET status = 'closed' WHERE id = ?1")
            .and_then(|mut s| s.execute([id]))
            .during(OP)?;
        if changed > 0 {
            let (reason, key_id) = match &key {
                None => (reason.to_string(), None),
                Some(key) => (
                    base64_engine().encode(
                        key.seal(&aad::close_reason(id), reason.as_bytes())
                            .map_err(|e| StoreError::Keys(e.to_string()))?,
                    ),
                    Some(key.id()),
                ),
            };
            tx.prepare_cached(
                "INSERT INTO alert_workflow (alert_id, close_reason, updated_at, key_id) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (alert_id) DO UPDATE SET close_reason = ?2, updated_at = ?3, key_id = ?4",
            )
            .and_then(|mut s| s.execute(params![id, reason, now, key_id]))
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
                "SELECT w.assignee, w.close_reason, w.updated_at, w.key_id
                 FROM alerts a LEFT JOIN alert_workflow w ON w.alert_id = a.id WHERE a.id = ?1",
            )
            .and_then(|mut s| {
                s.query_row([id], |row| {
                    Ok((
                        AlertWorkflow {
                            assignee: row.get(0)?,
                            close_reason: row.get(1)?,
                            updated_at: row.get::<_, Option<i64>>(2)?.map(Timestamp),
                        },
                        row.get::<_, Option<i64>>(3)?,
                    ))
                })
                .optional()
            })
            .during(OP)?;
        let Some((mut workflow, key_id)) = row else {
            return Ok(None);
        };
        if let (Some(key_id), Some(sealed)) = (key_id, &workflow.close_reason) {
            let plain = keyring::open_sealed_base64(
                self.vault.as_ref(),
                key_id,
                &aad::close_reason(id),
                sealed,
                &format!("the close reason of alert {id}"),
            )?;
            workflow.close_reason = Some(String::from_utf8_lossy(&plain).into_owned());
        }
        Ok(Some(workflow))
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

    // Metrics (issue 12): counts by the plain columns, no body is opened.
    fn alert_counts(&self) -> Result<Vec<(ward_model::Severity, AlertStatus, u64)>> {
        const OP: &str = "count alerts";
        let reader = self.reader()?;
        let mut stmt = reader
            .prepare_cached(
                "SELECT severity_id, status, count(*) FROM alerts GROUP BY severity_id, status ORDER BY severity_id, status",
            )
            .during(OP)?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                ))
            })
            .during(OP)?;
        let mut out = Vec::new();
        for row in rows {
            let (severity, status, n) = row.during(OP)?;
            let status = AlertStatus::parse(&status).ok_or_else(|| StoreError::Corrupt {
                what: "the alerts table".into(),
                reason: "an alert status Ward does not write".into(),
            })?;
            let severity = ward_model::Severity::from_id(u8::try_from(severity).unwrap_or(0));
            out.push((severity, status, uint(n)));
        }
        Ok(out)
    }

    fn accounts(&self) -> &dyn crate::Accounts {
        self
    }

    fn incidents(&self) -> &dyn crate::Incidents {
        self
    }

    fn deliveries(&self) -> &dyn crate::Deliveries {
        self
    }

    fn inventory(&self) -> &dyn crate::Inventory {
        self
    }

    fn setting(&self, name: &str) -> Result<Option<String>> {
        self.read_setting(name)
    }

    fn set_setting(&self, name: &str, value: &str) -> Result<()> {
        self.write_setting(name, value)
    }

    fn detector_state(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.read_detector_state(name)
    }

    fn save_detector_state(&self, name: &str, state: &[u8]) -> Result<()> {
        self.write_detector_state(name, state)
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
            // Likewise: what batches quarantined less what was released since (a row each);
            // the quarantine itself can hold millions of records of a misconfigured source.
            quarantined: count(
                "SELECT (SELECT coalesce(sum(quarantined), 0) FROM batches)
                      - (SELECT count(*) FROM quarantine_released)",
            )?,
            alerts: count("SELECT count(*) FROM alerts")?,
            context: count("SELECT count(*) FROM context")?,
            batches: count("SELECT count(*) FROM batches")?,
        })
    }

    fn ready(&self) -> Result<()> {
        const OP: &str = "check the store answers";
        let reader = self.reader()?;
        // The last batch, by its integer key: one seek however large the store.
        reader
            .prepare_cached("SELECT max(seq) FROM batches")
            .and_then(|mut s| s.query_row([], |row| row.get::<_, Option<i64>>(0)))
            .during(OP)?;
        Ok(())
    }
}

/// A context row as stored: id, summary, raw, key id.
type ContextRow = (String, String, Vec<u8>, Option<i64>);

fn context_row(row: &Row<'_>) -> rusqlite::Result<ContextRow> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

impl SqliteStore {
    fn context_resource(&self, kind: ContextKind, row: ContextRow) -> Result<ContextResource> {
        let (stored_id, summary, raw, key_id) = row;
        let what = || format!("a {} context resource", kind.as_str());
        let (id, summary, raw) = match key_id {
            None => (stored_id, summary, raw),
            Some(key_id) => {
                let plain = keyring::open_sealed(
                    self.vault.as_ref(),
                    key_id,
                    &aad::context(kind.as_str(), &stored_id),
                    &raw,
                    &what(),
                )?;
                let parts = keyring::split_parts(&plain, 3).ok_or_else(|| StoreError::Corrupt {
                    what: what(),
                    reason: "its sealed parts do not fit together".into(),
                })?;
                (
                    String::from_utf8_lossy(parts[0]).into_owned(),
                    String::from_utf8_lossy(parts[1]).into_owned(),
                    parts[2].to_vec(),
                )
            }
        };
        let summary = serde_json::from_str(&summary).map_err(|e| StoreError::Corrupt {
            what: what(),
            reason: json_error_summary(&e),
        })?;
        Ok(ContextResource {
            kind,
            id,
            summary,
            raw,
        })
    }
}

#[cfg(test)]
mod tests;
