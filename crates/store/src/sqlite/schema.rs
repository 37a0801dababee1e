//! The SQLite schema as an ordered list of migrations, tracked with `PRAGMA user_version`
//! (the number of migrations applied). Each migration runs in its own transaction with the
//! version bump, so a crash leaves the database at one version or the next, never between.
//!
//! Must never edit a migration that has shipped: a change is a new migration at the end.
//! Must never open a database newer than the code (its rows may mean something this code
//! would misread or destroy).

use crate::{Result, StoreError};
use rusqlite::Connection;

/// Migration `i` (0-based) brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    //
    // Events: `body` holds the whole event encoded by `codec` (see `crate::codec`); `key_id`
    // names the data key a later issue encrypts it under (NULL: not encrypted). `user_key` and
    // `patient_key` hold what `LookupKeys::lookup_key` gives, today plaintext, later keyed
    // hashes. The lookup indexes are partial so events without the field cost no index entry,
    // and they lead with `hour` (time / 1 h): keyed by value alone, a batch of events lands on
    // a random page of each index per event, and at ingest rates those page writes dominate;
    // led by the hour, a batch touches only the small, hot region of the current hours.
    // Queries name the hours they need (`hour IN (…)`), one index seek each.
    // `batch_seq` ties each row to its batch in the hash chain; a batch's events occupy the
    // contiguous `seq` range `first_event_seq..=last_event_seq`, which is how verification
    // finds them without another index.
    //
    // Quarantine ids are AUTOINCREMENT so a released id is never handed out again: readers page
    // by id, and `quarantine_released` keeps the digest of each released record under its id
    // so the chain still verifies.
    r#"
    CREATE TABLE batches (
        seq             INTEGER PRIMARY KEY,
        committed_at    INTEGER NOT NULL,
        events          INTEGER NOT NULL,
        quarantined     INTEGER NOT NULL,
        first_event_seq INTEGER,
        last_event_seq  INTEGER,
        prev_hash       BLOB NOT NULL,
        hash            BLOB NOT NULL
    ) STRICT;

    CREATE TABLE events (
        seq         INTEGER PRIMARY KEY,
        id          BLOB NOT NULL UNIQUE,
        batch_seq   INTEGER NOT NULL,
        time        INTEGER NOT NULL,
        hour        INTEGER NOT NULL,
        class_uid   INTEGER NOT NULL,
        activity_id INTEGER NOT NULL,
        severity_id INTEGER NOT NULL,
        status_id   INTEGER NOT NULL,
        product     TEXT NOT NULL,
        user_key    TEXT,
        patient_key TEXT,
        src_ip      TEXT,
        host        TEXT,
        codec       INTEGER NOT NULL,
        key_id      INTEGER,
        body        BLOB NOT NULL
    ) STRICT;
    CREATE INDEX events_time ON events(time);
    CREATE INDEX events_user_time ON events(hour, user_key, time) WHERE user_key IS NOT NULL;
    CREATE INDEX events_patient_time ON events(hour, patient_key, time) WHERE patient_key IS NOT NULL;
    CREATE INDEX events_src_ip_time ON events(hour, src_ip, time) WHERE src_ip IS NOT NULL;
    CREATE INDEX events_host_time ON events(hour, host, time) WHERE host IS NOT NULL;

    CREATE TABLE quarantine (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        batch_seq      INTEGER NOT NULL,
        source         TEXT NOT NULL,
        format         TEXT NOT NULL,
        line           INTEGER NOT NULL,
        byte_offset    INTEGER NOT NULL,
        entry          INTEGER,
        reason         TEXT NOT NULL,
        raw            BLOB NOT NULL,
        raw_len        INTEGER NOT NULL,
        quarantined_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX quarantine_source ON quarantine(source, id);
    CREATE INDEX quarantine_batch ON quarantine(batch_seq);

    CREATE TABLE quarantine_released (
        id          INTEGER PRIMARY KEY,
        batch_seq   INTEGER NOT NULL,
        digest      BLOB NOT NULL,
        released_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX quarantine_released_batch ON quarantine_released(batch_seq);

    CREATE TABLE context (
        kind       TEXT NOT NULL,
        id         TEXT NOT NULL,
        summary    TEXT NOT NULL,
        raw        BLOB NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (kind, id)
    ) STRICT;

    CREATE TABLE alerts (
        id          TEXT PRIMARY KEY,
        rule_id     TEXT NOT NULL,
        severity_id INTEGER NOT NULL,
        status      TEXT NOT NULL,
        first_seen  INTEGER NOT NULL,
        last_seen   INTEGER NOT NULL,
        count       INTEGER NOT NULL,
        body        TEXT NOT NULL
    ) STRICT;
    CREATE INDEX alerts_last_seen ON alerts(last_seen);

    CREATE TABLE alert_events (
        alert_id TEXT NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
        event_id BLOB NOT NULL,
        PRIMARY KEY (alert_id, event_id)
    ) WITHOUT ROWID, STRICT;

    CREATE TABLE sources (
        source          TEXT PRIMARY KEY,
        byte_offset     INTEGER NOT NULL,
        events          INTEGER NOT NULL,
        quarantined     INTEGER NOT NULL,
        last_event_time INTEGER,
        updated_at      INTEGER NOT NULL
    ) STRICT;
    "#,
    // 2: console accounts and the alert workflow.
    //
    // Secrets are never stored: passwords as argon2id PHC strings, session, API and setup
    // tokens as SHA-256. `login_attempts` holds failed sign-ins per client address, for
    // throttling; old rows are pruned as new ones arrive. `alert_workflow` keeps who an alert is
    // assigned to and why it was closed, beside the alert row, so a detector re-seeing the alert
    // rewrites neither. `events_ward_audit` indexes Ward's own audit trail (product `ward`): a
    // partial index, so ingest of other events pays nothing for it.
    r#"
    CREATE TABLE users (
        name          TEXT PRIMARY KEY,
        role          TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        totp_secret   BLOB,
        failed_logins INTEGER NOT NULL DEFAULT 0,
        locked_until  INTEGER,
        disabled      INTEGER NOT NULL DEFAULT 0,
        created_at    INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE sessions (
        token_sha256 BLOB PRIMARY KEY,
        user         TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
        stage        TEXT NOT NULL,
        created_at   INTEGER NOT NULL,
        last_seen    INTEGER NOT NULL,
        ip           TEXT
    ) WITHOUT ROWID, STRICT;
    CREATE INDEX sessions_user ON sessions(user);

    CREATE TABLE api_tokens (
        id           TEXT PRIMARY KEY,
        token_sha256 BLOB NOT NULL UNIQUE,
        name         TEXT NOT NULL,
        role         TEXT NOT NULL,
        created_by   TEXT NOT NULL,
        created_at   INTEGER NOT NULL,
        expires_at   INTEGER NOT NULL,
        revoked      INTEGER NOT NULL DEFAULT 0
    ) STRICT;

    CREATE TABLE setup_token (
        one          INTEGER PRIMARY KEY CHECK (one = 1),
        token_sha256 BLOB NOT NULL
    ) STRICT;

    CREATE TABLE login_attempts (
        key  TEXT NOT NULL,
        time INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX login_attempts_key_time ON login_attempts(key, time);

    CREATE TABLE alert_workflow (
        alert_id     TEXT PRIMARY KEY REFERENCES alerts(id) ON DELETE CASCADE,
        assignee     TEXT,
        close_reason TEXT,
        updated_at   INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX alerts_rule ON alerts(rule_id, last_seen);

    CREATE INDEX events_ward_audit ON events(time) WHERE product = 'ward';
    "#,
    // The notification delivery queue (`sqlite/deliveries.rs`).
    super::deliveries::DELIVERIES_SCHEMA,
    // Incidents, their tasks, timeline, evidence locker with chain of custody, breach
    // assessments, notification deadlines, law-enforcement delays, exercises, reviews and
    // follow-ups (`sqlite/incidents.rs`).
    super::incidents::INCIDENTS_SCHEMA,
    // PHI encryption at rest: wrapped keys, sealed rows' key ids, alert entities by keyed
    // hash, signed checkpoints (`sqlite/keys.rs`).
    super::keys::ENCRYPTION_SCHEMA,
    // The technology inventory: assets, sightings, feeds, TLS scans; Ward's own settings
    // (`sqlite/inventory.rs`).
    super::inventory::INVENTORY_SCHEMA,
    // Detectors' saved state, sealed like the rows it may name (`sqlite/inventory.rs`).
    super::inventory::DETECTOR_STATE_SCHEMA,
    // Lookup indexes led by a ten-minute bucket instead of the hour. A batch of events lands
    // anywhere among the pages of its bucket in each lookup index, and every page it touches
    // is written to the log at commit: with hour buckets of a busy feed (90,000 events an hour)
    // a 4,096-event batch dirtied hundreds of pages per index. Ten minutes cuts that sixfold
    // for six seeks an hour at query time (BENCHMARKS.md, "2026-11-30: ten-minute lookup
    // buckets …").
    //
    // `bucket` is a virtual column computed from `time` (floor division, so times before 1970
    // fall in the right bucket), so stores written before this migration need no row rewritten;
    // `hour` stays as it was, written and verified, and no longer indexed.
    r#"
    DROP INDEX events_user_time;
    DROP INDEX events_patient_time;
    DROP INDEX events_src_ip_time;
    DROP INDEX events_host_time;
    ALTER TABLE events ADD COLUMN bucket INTEGER
        GENERATED ALWAYS AS ((time - ((time % 600000) + 600000) % 600000) / 600000) VIRTUAL;
    CREATE INDEX events_user_bucket ON events(bucket, user_key, time) WHERE user_key IS NOT NULL;
    CREATE INDEX events_patient_bucket ON events(bucket, patient_key, time) WHERE patient_key IS NOT NULL;
    CREATE INDEX events_src_ip_bucket ON events(bucket, src_ip, time) WHERE src_ip IS NOT NULL;
    CREATE INDEX events_host_bucket ON events(bucket, host, time) WHERE host IS NOT NULL;
    "#,
];

/// The schema version this code writes.
pub(crate) const VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the schema up to [`VERSION`], or refuses a database that is already newer.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    let found = user_version(conn)?;
    if found > VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: VERSION,
        });
    }
    for (done, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        let failed = |e: rusqlite::Error| StoreError::Backend {
            operation: "migrate schema",
            reason: format!("migration {} failed: {e}", done + 1),
        };
        let tx = conn.transaction().map_err(failed)?;
        tx.execute_batch(sql).map_err(failed)?;
        tx.pragma_update(None, "user_version", done as i64 + 1)
            .map_err(failed)?;
        tx.commit().map_err(failed)?;
    }
    Ok(())
}

pub(crate) fn user_version(conn: &Connection) -> Result<i64> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| StoreError::Backend {
            operation: "read schema version",
            reason: e.to_string(),
        })
}
