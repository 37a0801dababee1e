//! [`Incidents`] for the embedded backend, in the tables of [`INCIDENTS_SCHEMA`].
//!
//! The timeline and the custody log are append-only: triggers refuse every UPDATE and DELETE
//! of their rows, and evidence rows refuse changes to their content or hash. Triggers stop
//! mistakes, not someone with the database file; the custody hash chain and the SHA-256 of each
//! file are what show tampering, and [`Incidents::verify_evidence`] checks both.
//!
//! Evidence content passes through [`content_for_storage`] on the way in and
//! [`read_evidence_content`] on the way out and nowhere else, so encryption at rest wraps
//! exactly those two; the immutability trigger lets content change only together with its
//! `key_id` (re-encryption under another key).
//!
//! Must never build SQL from a value, and never put evidence content, a note or PHI into an
//! error.

use super::{During, SqliteStore, int, limit_value, uint};
use crate::incidents::{
    AssessmentRecord, CUSTODY_GENESIS, CustodyAction, CustodyEntry, DeadlineRecord,
    EvidenceFailure, EvidenceRecord, EvidenceVerification, ExerciseRecord, FollowUpRecord,
    FollowUpSource, IncidentQuery, IncidentRecord, IncidentStatus, Incidents,
    LawEnforcementDelayRecord, LinkKind, NewEvidence, NewIncident, NewTask, PendingDeadline,
    ReviewRecord, TaskRecord, TaskStatus, TimelineEntry, TimelineKind, first_broken_custody_link,
};
use crate::{Result, StoreError};
use chrono::NaiveDate;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params, params_from_iter};
use sha2::{Digest, Sha256};
use ward_model::{Severity, Timestamp};

/// The migration that creates the incident tables (appended to `schema::MIGRATIONS`).
///
/// Dates that the law counts in calendar days (deadlines, statements) are `YYYY-MM-DD` text;
/// instants are milliseconds like everywhere else. `body` columns hold the caller's JSON.
pub(crate) const INCIDENTS_SCHEMA: &str = r#"
    CREATE TABLE incidents (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        title         TEXT NOT NULL,
        type          TEXT NOT NULL,
        severity_id   INTEGER NOT NULL,
        status        TEXT NOT NULL,
        opened_at     INTEGER NOT NULL,
        opened_by     TEXT NOT NULL,
        discovered_at INTEGER NOT NULL,
        plan_version  TEXT NOT NULL,
        body          TEXT NOT NULL
    ) STRICT;
    CREATE INDEX incidents_status ON incidents(status, id);

    CREATE TABLE incident_alerts (
        incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
        alert_id    TEXT NOT NULL,
        attached_at INTEGER NOT NULL,
        PRIMARY KEY (incident_id, alert_id)
    ) WITHOUT ROWID, STRICT;
    CREATE INDEX incident_alerts_alert ON incident_alerts(alert_id);

    CREATE TABLE incident_links (
        incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
        kind        TEXT NOT NULL,
        value       TEXT NOT NULL,
        PRIMARY KEY (incident_id, kind, value)
    ) WITHOUT ROWID, STRICT;

    CREATE TABLE incident_tasks (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
        phase       TEXT NOT NULL,
        task_order  INTEGER NOT NULL,
        title       TEXT NOT NULL,
        detail      TEXT NOT NULL,
        role        TEXT NOT NULL,
        assignee    TEXT,
        status      TEXT NOT NULL,
        updated_at  INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX incident_tasks_incident ON incident_tasks(incident_id, task_order);

    CREATE TABLE incident_timeline (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        at          INTEGER NOT NULL,
        actor       TEXT NOT NULL,
        kind        TEXT NOT NULL,
        text        TEXT NOT NULL
    ) STRICT;
    CREATE INDEX incident_timeline_incident ON incident_timeline(incident_id, seq);
    CREATE TRIGGER incident_timeline_append_only_update BEFORE UPDATE ON incident_timeline
        BEGIN SELECT RAISE(ABORT, 'the incident timeline is append-only'); END;
    CREATE TRIGGER incident_timeline_append_only_delete BEFORE DELETE ON incident_timeline
        BEGIN SELECT RAISE(ABORT, 'the incident timeline is append-only'); END;

    CREATE TABLE evidence (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        name        TEXT NOT NULL,
        media_type  TEXT NOT NULL,
        sha256      BLOB NOT NULL,
        size        INTEGER NOT NULL,
        content     BLOB NOT NULL,
        key_id      INTEGER,
        added_by    TEXT NOT NULL,
        added_at    INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX evidence_incident ON evidence(incident_id, id);
    CREATE TRIGGER evidence_immutable BEFORE UPDATE OF content, sha256, size ON evidence
        WHEN OLD.key_id IS NEW.key_id
        BEGIN SELECT RAISE(ABORT, 'evidence content is immutable'); END;
    CREATE TRIGGER evidence_kept BEFORE DELETE ON evidence
        BEGIN SELECT RAISE(ABORT, 'evidence is never deleted'); END;

    CREATE TABLE evidence_access (
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        seq         INTEGER NOT NULL,
        evidence_id INTEGER NOT NULL REFERENCES evidence(id),
        action      TEXT NOT NULL,
        actor       TEXT NOT NULL,
        at          INTEGER NOT NULL,
        detail      TEXT NOT NULL,
        digest      BLOB NOT NULL,
        prev_hash   BLOB NOT NULL,
        hash        BLOB NOT NULL,
        PRIMARY KEY (incident_id, seq)
    ) WITHOUT ROWID, STRICT;
    CREATE TRIGGER evidence_access_append_only_update BEFORE UPDATE ON evidence_access
        BEGIN SELECT RAISE(ABORT, 'the custody log is append-only'); END;
    CREATE TRIGGER evidence_access_append_only_delete BEFORE DELETE ON evidence_access
        BEGIN SELECT RAISE(ABORT, 'the custody log is append-only'); END;

    CREATE TABLE incident_assessments (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
        assessed_by TEXT NOT NULL,
        assessed_at INTEGER NOT NULL,
        conclusion  TEXT NOT NULL,
        body        TEXT NOT NULL
    ) STRICT;
    CREATE INDEX incident_assessments_incident ON incident_assessments(incident_id, id);

    CREATE TABLE incident_deadlines (
        incident_id  INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
        kind         TEXT NOT NULL,
        jurisdiction TEXT NOT NULL,
        due_on       TEXT NOT NULL,
        citation     TEXT NOT NULL,
        explanation  TEXT NOT NULL,
        notified_on  TEXT,
        notified_by  TEXT,
        PRIMARY KEY (incident_id, kind, jurisdiction)
    ) WITHOUT ROWID, STRICT;
    CREATE INDEX incident_deadlines_due ON incident_deadlines(due_on) WHERE notified_on IS NULL;

    CREATE TABLE law_enforcement_delays (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
        official    TEXT NOT NULL,
        agency      TEXT NOT NULL,
        form        TEXT NOT NULL,
        stated_on   TEXT NOT NULL,
        until       TEXT,
        recorded_by TEXT NOT NULL,
        recorded_at INTEGER NOT NULL,
        note        TEXT NOT NULL
    ) STRICT;
    CREATE INDEX law_enforcement_delays_incident ON law_enforcement_delays(incident_id, id);

    CREATE TABLE exercises (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        plan_version TEXT NOT NULL,
        held_on      TEXT NOT NULL,
        scenario     TEXT NOT NULL,
        participants TEXT NOT NULL,
        findings     TEXT NOT NULL,
        recorded_by  TEXT NOT NULL,
        recorded_at  INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE incident_reviews (
        incident_id  INTEGER PRIMARY KEY REFERENCES incidents(id) ON DELETE CASCADE,
        held_on      TEXT NOT NULL,
        participants TEXT NOT NULL,
        summary      TEXT NOT NULL,
        went_well    TEXT NOT NULL,
        to_improve   TEXT NOT NULL,
        recorded_by  TEXT NOT NULL,
        recorded_at  INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE follow_ups (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        source      TEXT NOT NULL,
        source_id   INTEGER NOT NULL,
        title       TEXT NOT NULL,
        owner       TEXT NOT NULL,
        due_on      TEXT NOT NULL,
        done_on     TEXT,
        created_at  INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX follow_ups_open ON follow_ups(due_on) WHERE done_on IS NULL;
"#;

/// Turns evidence content into what the `content` column holds, and the `key_id` it is held
/// under (`None`: in the clear). The one place content is written: encryption at rest wraps it.
fn content_for_storage(
    key: Option<&ward_vault::DataKey>,
    sha256: &[u8; 32],
    content: &[u8],
) -> Result<(Vec<u8>, Option<i64>)> {
    match key {
        None => Ok((content.to_vec(), None)),
        Some(key) => Ok((
            key.seal(&evidence_aad(sha256), content)
                .map_err(|e| StoreError::Keys(e.to_string()))?,
            Some(key.id()),
        )),
    }
}

/// Sealed evidence is bound to the digest it arrived with.
fn evidence_aad(sha256: &[u8]) -> Vec<u8> {
    let mut aad = b"evidence\0".to_vec();
    aad.extend_from_slice(sha256);
    aad
}

/// Reads an evidence file's content back as it arrived. The one place content is read:
/// decryption under `key_id` wraps it.
fn read_evidence_content(
    conn: &Connection,
    vault: Option<&crate::keyring::Keyring>,
    evidence_id: i64,
) -> Result<Option<Vec<u8>>> {
    let stored: Option<(Vec<u8>, Option<i64>, Vec<u8>)> = conn
        .prepare_cached("SELECT content, key_id, sha256 FROM evidence WHERE id = ?1")
        .and_then(|mut s| {
            s.query_row([evidence_id], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .optional()
        })
        .during("read evidence content")?;
    match stored {
        None => Ok(None),
        Some((content, None, _)) => Ok(Some(content)),
        Some((sealed, Some(key_id), sha256)) => crate::keyring::open_sealed(
            vault,
            key_id,
            &evidence_aad(&sha256),
            &sealed,
            &format!("evidence {evidence_id}"),
        )
        .map(Some),
    }
}

fn date_text(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

fn parse_date(text: &str, what: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| StoreError::Corrupt {
        what: what.to_string(),
        reason: "a stored date is not YYYY-MM-DD".into(),
    })
}

fn parse_body(text: &str, what: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        what: what.to_string(),
        reason: format!("its JSON body does not parse at line {}", e.line()),
    })
}

fn list_json(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

fn parse_list(text: &str, what: &str) -> Result<Vec<String>> {
    serde_json::from_str(text).map_err(|_| StoreError::Corrupt {
        what: what.to_string(),
        reason: "a stored list is not a JSON array of strings".into(),
    })
}

fn hash32(bytes: &[u8], what: &str) -> Result<[u8; 32]> {
    <[u8; 32]>::try_from(bytes).map_err(|_| StoreError::Corrupt {
        what: what.to_string(),
        reason: format!("a stored hash is {} bytes, not 32", bytes.len()),
    })
}

fn timeline_insert(
    conn: &Connection,
    incident_id: i64,
    kind: TimelineKind,
    actor: &str,
    at: Timestamp,
    text: &str,
) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO incident_timeline (incident_id, at, actor, kind, text) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| s.execute(params![incident_id, at.millis(), actor, kind.as_str(), text]))
    .during("append to the incident timeline")?;
    Ok(conn.last_insert_rowid())
}

fn incident_exists(conn: &Connection, id: i64) -> Result<bool> {
    conn.prepare_cached("SELECT 1 FROM incidents WHERE id = ?1")
        .and_then(|mut s| s.exists([id]))
        .during("find incident")
}

const INCIDENT_COLUMNS: &str = "SELECT id, title, type, severity_id, status, opened_at, opened_by, discovered_at, plan_version, body FROM incidents";

struct IncidentRow {
    record: IncidentRecord,
    status: String,
    body: String,
}

fn incident_row(row: &Row<'_>) -> rusqlite::Result<IncidentRow> {
    Ok(IncidentRow {
        record: IncidentRecord {
            id: row.get(0)?,
            title: row.get(1)?,
            incident_type: row.get(2)?,
            severity: Severity::from_id(u8::try_from(row.get::<_, i64>(3)?).unwrap_or(0)),
            status: IncidentStatus::Open,
            opened_at: Timestamp(row.get(5)?),
            opened_by: row.get(6)?,
            discovered_at: Timestamp(row.get(7)?),
            plan_version: row.get(8)?,
            body: serde_json::Value::Null,
        },
        status: row.get(4)?,
        body: row.get(9)?,
    })
}

fn finish_incident(row: IncidentRow) -> Result<IncidentRecord> {
    let id = row.record.id;
    let what = || format!("incident {id}");
    let mut record = row.record;
    record.status = IncidentStatus::parse(&row.status).ok_or_else(|| StoreError::Corrupt {
        what: what(),
        reason: "its status is not one Ward knows".into(),
    })?;
    record.body = parse_body(&row.body, &what())?;
    Ok(record)
}

const EVIDENCE_COLUMNS: &str =
    "SELECT id, incident_id, name, media_type, sha256, size, added_by, added_at FROM evidence";

fn evidence_row(row: &Row<'_>) -> rusqlite::Result<(Vec<u8>, EvidenceRecord)> {
    Ok((
        row.get(4)?,
        EvidenceRecord {
            id: row.get(0)?,
            incident_id: row.get(1)?,
            name: row.get(2)?,
            media_type: row.get(3)?,
            sha256: [0; 32],
            size: uint(row.get(5)?),
            added_by: row.get(6)?,
            added_at: Timestamp(row.get(7)?),
        },
    ))
}

fn finish_evidence((hash, mut record): (Vec<u8>, EvidenceRecord)) -> Result<EvidenceRecord> {
    record.sha256 = hash32(&hash, &format!("evidence {}", record.id))?;
    Ok(record)
}

fn get_evidence(conn: &Connection, evidence_id: i64) -> Result<Option<EvidenceRecord>> {
    let sql = format!("{EVIDENCE_COLUMNS} WHERE id = ?1");
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row([evidence_id], evidence_row).optional())
        .during("get evidence")?
        .map(finish_evidence)
        .transpose()
}

fn list_evidence_in(conn: &Connection, incident_id: i64) -> Result<Vec<EvidenceRecord>> {
    const OP: &str = "list evidence";
    let sql = format!("{EVIDENCE_COLUMNS} WHERE incident_id = ?1 ORDER BY id");
    let mut stmt = conn.prepare_cached(&sql).during(OP)?;
    let rows = stmt.query_map([incident_id], evidence_row).during(OP)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(finish_evidence(row.during(OP)?)?);
    }
    Ok(out)
}

fn custody_in(conn: &Connection, incident_id: i64) -> Result<Vec<CustodyEntry>> {
    const OP: &str = "read the custody log";
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, evidence_id, action, actor, at, detail, digest, prev_hash, hash
             FROM evidence_access WHERE incident_id = ?1 ORDER BY seq",
        )
        .during(OP)?;
    let rows = stmt
        .query_map([incident_id], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, i64>(4)?,
                row.get::<_, String>(5)?,
                row.get::<_, Vec<u8>>(6)?,
                row.get::<_, Vec<u8>>(7)?,
                row.get::<_, Vec<u8>>(8)?,
            ))
        })
        .during(OP)?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, evidence_id, action, actor, at, detail, digest, prev, hash) = row.during(OP)?;
        let what = format!("custody entry {seq} of incident {incident_id}");
        out.push(CustodyEntry {
            seq: uint(seq),
            evidence_id,
            action: CustodyAction::parse(&action).ok_or_else(|| StoreError::Corrupt {
                what: what.clone(),
                reason: "its action is not one Ward knows".into(),
            })?,
            actor,
            at: Timestamp(at),
            detail,
            digest: hash32(&digest, &what)?,
            prev_hash: hash32(&prev, &what)?,
            hash: hash32(&hash, &what)?,
        });
    }
    Ok(out)
}

/// Appends one entry to an incident's custody chain, inside the caller's transaction (which
/// must be IMMEDIATE, so two writers cannot both take the same head).
fn custody_append(
    conn: &Connection,
    incident_id: i64,
    evidence: &EvidenceRecord,
    action: CustodyAction,
    actor: &str,
    at: Timestamp,
    detail: &str,
) -> Result<CustodyEntry> {
    const OP: &str = "append to the custody log";
    let head: Option<(i64, Vec<u8>)> = conn
        .prepare_cached(
            "SELECT seq, hash FROM evidence_access WHERE incident_id = ?1 ORDER BY seq DESC LIMIT 1",
        )
        .and_then(|mut s| {
            s.query_row([incident_id], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
        })
        .during(OP)?;
    let (seq, prev_hash) = match head {
        None => (1, CUSTODY_GENESIS),
        Some((seq, hash)) => (
            uint(seq) + 1,
            hash32(
                &hash,
                &format!("custody entry {seq} of incident {incident_id}"),
            )?,
        ),
    };
    let mut entry = CustodyEntry {
        seq,
        evidence_id: evidence.id,
        action,
        actor: actor.to_string(),
        at,
        detail: detail.to_string(),
        digest: evidence.sha256,
        prev_hash,
        hash: [0; 32],
    };
    entry.hash = entry.expected_hash(incident_id);
    conn.prepare_cached(
        "INSERT INTO evidence_access (incident_id, seq, evidence_id, action, actor, at, detail, digest, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )
    .and_then(|mut s| {
        s.execute(params![
            incident_id,
            int(entry.seq),
            entry.evidence_id,
            action.as_str(),
            entry.actor,
            at.millis(),
            entry.detail,
            &entry.digest[..],
            &entry.prev_hash[..],
            &entry.hash[..],
        ])
    })
    .during(OP)?;
    Ok(entry)
}

const TASK_COLUMNS: &str = "SELECT id, incident_id, phase, task_order, title, detail, role, assignee, status, updated_at FROM incident_tasks";

fn task_row(row: &Row<'_>) -> rusqlite::Result<(String, TaskRecord)> {
    Ok((
        row.get(8)?,
        TaskRecord {
            id: row.get(0)?,
            incident_id: row.get(1)?,
            phase: row.get(2)?,
            order: u32::try_from(row.get::<_, i64>(3)?).unwrap_or(u32::MAX),
            title: row.get(4)?,
            detail: row.get(5)?,
            role: row.get(6)?,
            assignee: row.get(7)?,
            status: TaskStatus::Todo,
            updated_at: Timestamp(row.get(9)?),
        },
    ))
}

const DEADLINE_COLUMNS: &str = "SELECT kind, jurisdiction, due_on, citation, explanation, notified_on, notified_by FROM incident_deadlines";

fn deadline_row(row: &Row<'_>) -> rusqlite::Result<[Option<String>; 7]> {
    Ok([
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
    ])
}

fn finish_deadline(cols: [Option<String>; 7], incident_id: i64) -> Result<DeadlineRecord> {
    let what = format!("a deadline of incident {incident_id}");
    let [
        kind,
        jurisdiction,
        due_on,
        citation,
        explanation,
        notified_on,
        notified_by,
    ] = cols;
    Ok(DeadlineRecord {
        kind: kind.unwrap_or_default(),
        jurisdiction: jurisdiction.unwrap_or_default(),
        due_on: parse_date(due_on.as_deref().unwrap_or_default(), &what)?,
        citation: citation.unwrap_or_default(),
        explanation: explanation.unwrap_or_default(),
        notified_on: notified_on.map(|d| parse_date(&d, &what)).transpose()?,
        notified_by,
    })
}

impl Incidents for SqliteStore {
    fn create_incident(&self, incident: &NewIncident) -> Result<i64> {
        const OP: &str = "create incident";
        let mut writer = self.writer();
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(OP)?;
        tx.prepare_cached(
            "INSERT INTO incidents (title, type, severity_id, status, opened_at, opened_by, discovered_at, plan_version, body)
             VALUES (?1, ?2, ?3, 'open', ?4, ?5, ?6, ?7, ?8)",
        )
        .and_then(|mut s| {
            s.execute(params![
                incident.title,
                incident.incident_type,
                i64::from(incident.severity.id()),
                incident.opened_at.millis(),
                incident.opened_by,
                incident.discovered_at.millis(),
                incident.plan_version,
                incident.body.to_string(),
            ])
        })
        .during(OP)?;
        let id = tx.last_insert_rowid();
        timeline_insert(
            &tx,
            id,
            TimelineKind::Opened,
            &incident.opened_by,
            incident.opened_at,
            &format!(
                "incident opened ({}, {}; discovered {})",
                incident.incident_type,
                incident.severity.as_str(),
                incident.discovered_at
            ),
        )?;
        tx.commit().during(OP)?;
        Ok(id)
    }

    fn get_incident(&self, id: i64) -> Result<Option<IncidentRecord>> {
        let reader = self.reader()?;
        let sql = format!("{INCIDENT_COLUMNS} WHERE id = ?1");
        reader
            .prepare_cached(&sql)
            .and_then(|mut s| s.query_row([id], incident_row).optional())
            .during("get incident")?
            .map(finish_incident)
            .transpose()
    }

    fn list_incidents(&self, query: &IncidentQuery) -> Result<Vec<IncidentRecord>> {
        const OP: &str = "list incidents";
        let mut sql = format!("{INCIDENT_COLUMNS} WHERE 1 = 1");
        let mut args: Vec<Value> = Vec::new();
        if let Some(status) = query.status {
            sql.push_str(" AND status = ?");
            args.push(Value::Text(status.as_str().into()));
        }
        if let Some(kind) = &query.incident_type {
            sql.push_str(" AND type = ?");
            args.push(Value::Text(kind.clone()));
        }
        sql.push_str(" ORDER BY id DESC LIMIT ?");
        args.push(limit_value(query.limit));
        let reader = self.reader()?;
        let mut stmt = reader.prepare_cached(&sql).during(OP)?;
        let rows = stmt
            .query_map(params_from_iter(&args), incident_row)
            .during(OP)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(finish_incident(row.during(OP)?)?);
        }
        Ok(out)
    }

    fn set_incident_status(
        &self,
        id: i64,
        status: IncidentStatus,
        actor: &str,
        at: Timestamp,
        note: &str,
    ) -> Result<bool> {
        const OP: &str = "set incident status";
        let mut writer = self.writer();
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(OP)?;
        let old: Option<String> = tx
            .prepare_cached("SELECT status FROM incidents WHERE id = ?1")
            .and_then(|mut s| s.query_row([id], |row| row.get(0)).optional())
            .during(OP)?;
        let Some(old) = old else {
            return Ok(false);
        };
        tx.prepare_cached("UPDATE incidents SET status = ?2 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![id, status.as_str()]))
            .during(OP)?;
        let mut text = format!("status {old} → {}", status.as_str());
        if !note.is_empty() {
            text.push_str(": ");
            text.push_str(note);
        }
        timeline_insert(&tx, id, TimelineKind::StatusChanged, actor, at, &text)?;
        tx.commit().during(OP)?;
        Ok(true)
    }

    fn update_incident_body(&self, id: i64, body: &serde_json::Value) -> Result<bool> {
        let writer = self.writer();
        let changed = writer
            .conn
            .prepare_cached("UPDATE incidents SET body = ?2 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![id, body.to_string()]))
            .during("update incident")?;
        Ok(changed > 0)
    }

    fn attach_alert(
        &self,
        incident_id: i64,
        alert_id: &str,
        actor: &str,
        at: Timestamp,
    ) -> Result<bool> {
        const OP: &str = "attach alert";
        let mut writer = self.writer();
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(OP)?;
        if !incident_exists(&tx, incident_id)? {
            return Ok(false);
        }
        let added = tx
            .prepare_cached(
                "INSERT INTO incident_alerts (incident_id, alert_id, attached_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT DO NOTHING",
            )
            .and_then(|mut s| s.execute(params![incident_id, alert_id, at.millis()]))
            .during(OP)?;
        if added > 0 {
            timeline_insert(
                &tx,
                incident_id,
                TimelineKind::AlertAttached,
                actor,
                at,
                &format!("alert {alert_id} attached"),
            )?;
        }
        tx.commit().during(OP)?;
        Ok(added > 0)
    }

    fn incident_alerts(&self, incident_id: i64) -> Result<Vec<String>> {
        const OP: &str = "list incident alerts";
        let reader = self.reader()?;
        let mut stmt = reader
            .prepare_cached(
                "SELECT alert_id FROM incident_alerts WHERE incident_id = ?1 ORDER BY attached_at, alert_id",
            )
            .during(OP)?;
        let rows = stmt.query_map([incident_id], |row| row.get(0)).during(OP)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().during(OP)
    }

    fn link_entity(
        &self,
        incident_id: i64,
        kind: LinkKind,
        value: &str,
        actor: &str,
        at: Timestamp,
    ) -> Result<bool> {
        const OP: &str = "link to incident";
        let mut writer = self.writer();
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(OP)?;
        if !incident_exists(&tx, incident_id)? {
            return Ok(false);
        }
        let added = tx
            .prepare_cached(
                "INSERT INTO incident_links (incident_id, kind, value) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
            )
            .and_then(|mut s| s.execute(params![incident_id, kind.as_str(), value]))
            .during(OP)?;
        if added > 0 {
            // The value may name a patient: the timeline says a link was added, not to whom.
            timeline_insert(
                &tx,
                incident_id,
                TimelineKind::LinkAdded,
                actor,
                at,
                &format!("{} linked", kind.as_str()),
            )?;
        }
        tx.commit().during(OP)?;
        Ok(added > 0)
    }

    fn incident_links(&self, incident_id: i64) -> Result<Vec<(LinkKind, String)>> {
        const OP: &str = "list incident links";
        let reader = self.reader()?;
        let mut stmt = reader
            .prepare_cached(
                "SELECT kind, value FROM incident_links WHERE incident_id = ?1 ORDER BY kind, value",
            )
            .during(OP)?;
        let rows = stmt
            .query_map([incident_id], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })
            .during(OP)?;
        let mut out = Vec::new();
        for row in rows {
            let (kind, value) = row.during(OP)?;
            let kind = LinkKind::parse(&kind).ok_or_else(|| StoreError::Corrupt {
                what: format!("a link of incident {incident_id}"),
                reason: "its kind is not one Ward knows".into(),
            })?;
            out.push((kind, value));
        }
        Ok(out)
    }

    fn add_tasks(
        &self,
        incident_id: i64,
        tasks: &[NewTask],
        actor: &str,
        at: Timestamp,
    ) -> Result<Vec<i64>> {
        const OP: &str = "create incident tasks";
        let mut writer = self.writer();
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(OP)?;
        if !incident_exists(&tx, incident_id)? {
            return Err(StoreError::Backend {
                operation: OP,
                reason: format!("there is no incident {incident_id}"),
            });
        }
        let mut ids = Vec::with_capacity(tasks.len());
        for task in tasks {
            tx.prepare_cached(
                "INSERT INTO incident_tasks (incident_id, phase, task_order, title, detail, role, assignee, status, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'todo', ?8)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    incident_id,
                    task.phase,
                    i64::from(task.order),
                    task.title,
                    task.detail,
                    task.role,
                    task.assignee,
                    at.millis(),
                ])
            })
            .during(OP)?;
            ids.push(tx.last_insert_rowid());
        }
        if !tasks.is_empty() {
            timeline_insert(
                &tx,
                incident_id,
                TimelineKind::TaskCreated,
                actor,
                at,
                &format!("{} tasks created", tasks.len()),
            )?;
        }
        tx.commit().during(OP)?;
        Ok(ids)
    }

    fn tasks(&self, incident_id: i64) -> Result<Vec<TaskRecord>> {
        const OP: &str = "list incident tasks";
        let reader = self.reader()?;
        let sql = format!("{TASK_COLUMNS} WHERE incident_id = ?1 ORDER BY task_order, id");
        let mut stmt = reader.prepare_cached(&sql).during(OP)?;
        let rows = stmt.query_map([incident_id], task_row).during(OP)?;
        let mut out = Vec::new();
        for row in rows {
            let (status, mut task) = row.during(OP)?;
            task.status = TaskStatus::parse(&status).ok_or_else(|| StoreError::Corrupt {
                what: format!("task {}", task.id),
                reason: "its status is not one Ward knows".into(),
            })?;
            out.push(task);
        }
        Ok(out)
    }

    fn update_task(
        &self,
        task_id: i64,
        status: TaskStatus,
        assignee: Option<&str>,
        actor: &str,
        at: Timestamp,
    ) -> Result<bool> {
        const OP: &str = "update incident task";
        let mut writer = self.writer();
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(OP)?;
        let found: Option<(i64, i64, String)> = tx
            .prepare_cached(
                "SELECT incident_id, task_order, title FROM incident_tasks WHERE id = ?1",
            )
            .and_then(|mut s| {
                s.query_row([task_id], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                    .optional()
            })
            .during(OP)?;
        let Some((incident_id, order, title)) = found else {
            return Ok(false);
        };
        tx.prepare_cached(
            "UPDATE incident_tasks SET status = ?2, assignee = coalesce(?3, assignee), updated_at = ?4 WHERE id = ?1",
        )
        .and_then(|mut s| s.execute(params![task_id, status.as_str(), assignee, at.millis()]))
        .during(OP)?;
        let mut text = format!("task {order} \u{201c}{title}\u{201d} → {}", status.as_str());
        if let Some(who) = assignee {
            text.push_str(&format!(", assigned to {who}"));
        }
        timeline_insert(
            &tx,
            incident_id,
            TimelineKind::TaskUpdated,
            actor,
            at,
            &text,
        )?;
        tx.commit().during(OP)?;
        Ok(true)
    }

    fn append_timeline(
        &self,
        incident_id: i64,
        kind: TimelineKind,
        actor: &str,
        at: Timestamp,
        text: &str,
    ) -> Result<i64> {
        let writer = self.writer();
        if !incident_exists(&writer.conn, incident_id)? {
            return Err(StoreError::Backend {
                operation: "append to the incident timeline",
                reason: format!("there is no incident {incident_id}"),
            });
        }
        timeline_insert(&writer.conn, incident_id, kind, actor, at, text)
    }

    fn timeline(&self, incident_id: i64) -> Result<Vec<TimelineEntry>> {
        const OP: &str = "read the incident timeline";
        let reader = self.reader()?;
        let mut stmt = reader
            .prepare_cached(
                "SELECT seq, at, actor, kind, text FROM incident_timeline WHERE incident_id = ?1 ORDER BY seq",
            )
            .during(OP)?;
        let rows = stmt
            .query_map([incident_id], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                ))
            })
            .during(OP)?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, at, actor, kind, text) = row.during(OP)?;
            let kind = TimelineKind::parse(&kind).ok_or_else(|| StoreError::Corrupt {
                what: format!("timeline entry {seq}"),
                reason: "its kind is not one Ward knows".into(),
            })?;
            out.push(TimelineEntry {
                seq,
                at: Timestamp(at),
                actor,
                kind,
                text,
            });
        }
        Ok(out)
    }

    fn add_evidence(&self, incident_id: i64, evidence: &NewEvidence) -> Result<EvidenceRecord> {
        const OP: &str = "add evidence";
        let sha256: [u8; 32] = Sha256::digest(&evidence.content).into();
        let key = self.sealing_key()?;
        let (stored, key_id) = content_for_storage(key.as_deref(), &sha256, &evidence.content)?;
        let mut writer = self.writer();
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(OP)?;
        if !incident_exists(&tx, incident_id)? {
            return Err(StoreError::Backend {
                operation: OP,
                reason: format!("there is no incident {incident_id}"),
            });
        }
        tx.prepare_cached(
            "INSERT INTO evidence (incident_id, name, media_type, sha256, size, content, key_id, added_by, added_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .and_then(|mut s| {
            s.execute(params![
                incident_id,
                evidence.name,
                evidence.media_type,
                &sha256[..],
                int(evidence.content.len() as u64),
                stored,
                key_id,
                evidence.added_by,
                evidence.added_at.millis(),
            ])
        })
        .during(OP)?;
        let record = EvidenceRecord {
            id: tx.last_insert_rowid(),
            incident_id,
            name: evidence.name.clone(),
            media_type: evidence.media_type.clone(),
            sha256,
            size: evidence.content.len() as u64,
            added_by: evidence.added_by.clone(),
            added_at: evidence.added_at,
        };
        custody_append(
            &tx,
            incident_id,
            &record,
            CustodyAction::Added,
            &evidence.added_by,
            evidence.added_at,
            "",
        )?;
        timeline_insert(
            &tx,
            incident_id,
            TimelineKind::EvidenceAdded,
            &evidence.added_by,
            evidence.added_at,
            &format!(
                "evidence {} added: {} ({} bytes, SHA-256 {})",
                record.id,
                record.name,
                record.size,
                crate::incidents::hex(&sha256)
            ),
        )?;
        tx.commit().during(OP)?;
        Ok(record)
    }

    fn list_evidence(&self, incident_id: i64) -> Result<Vec<EvidenceRecord>> {
        let reader = self.reader()?;
        list_evidence_in(&reader, incident_id)
    }

    fn open_evidence(
        &self,
        evidence_id: i64,
        action: CustodyAction,
        actor: &str,
        at: Timestamp,
        detail: &str,
    ) -> Result<Option<(EvidenceRecord, Vec<u8>)>> {
        const OP: &str = "open evidence";
        let mut writer = self.writer();
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(OP)?;
        let Some(record) = get_evidence(&tx, evidence_id)? else {
            return Ok(None);
        };
        custody_append(&tx, record.incident_id, &record, action, actor, at, detail)?;
        let content =
            read_evidence_content(&tx, self.vault.as_ref(), evidence_id)?.unwrap_or_default();
        tx.commit().during(OP)?;
        Ok(Some((record, content)))
    }

    fn custody_log(&self, incident_id: i64) -> Result<Vec<CustodyEntry>> {
        let reader = self.reader()?;
        custody_in(&reader, incident_id)
    }

    fn verify_evidence(
        &self,
        incident_id: i64,
        actor: &str,
        at: Timestamp,
    ) -> Result<EvidenceVerification> {
        const OP: &str = "verify evidence";
        let mut writer = self.writer();
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(OP)?;
        let files = list_evidence_in(&tx, incident_id)?;
        let custody = custody_in(&tx, incident_id)?;
        if let Some(seq) = first_broken_custody_link(incident_id, &custody) {
            return Ok(EvidenceVerification::Failed(EvidenceFailure::ChainBroken {
                seq,
            }));
        }
        for file in &files {
            let named = || (file.id, file.name.clone());
            let mut entries = custody.iter().filter(|e| e.evidence_id == file.id);
            if !entries.clone().any(|e| e.action == CustodyAction::Added) {
                let (evidence_id, name) = named();
                return Ok(EvidenceVerification::Failed(
                    EvidenceFailure::NoCustodyRecord { evidence_id, name },
                ));
            }
            if entries.any(|e| e.digest != file.sha256) {
                let (evidence_id, name) = named();
                return Ok(EvidenceVerification::Failed(
                    EvidenceFailure::DigestChanged { evidence_id, name },
                ));
            }
            // Sealed content that no longer opens was changed as surely as a changed digest.
            let content = match read_evidence_content(&tx, self.vault.as_ref(), file.id) {
                Ok(content) => content.unwrap_or_default(),
                Err(StoreError::Corrupt { .. }) => {
                    let (evidence_id, name) = named();
                    return Ok(EvidenceVerification::Failed(
                        EvidenceFailure::ContentChanged { evidence_id, name },
                    ));
                }
                Err(e) => return Err(e),
            };
            let actual: [u8; 32] = Sha256::digest(&content).into();
            if actual != file.sha256 || content.len() as u64 != file.size {
                let (evidence_id, name) = named();
                return Ok(EvidenceVerification::Failed(
                    EvidenceFailure::ContentChanged { evidence_id, name },
                ));
            }
        }
        for file in &files {
            custody_append(
                &tx,
                incident_id,
                file,
                CustodyAction::Verified,
                actor,
                at,
                "",
            )?;
        }
        tx.commit().during(OP)?;
        Ok(EvidenceVerification::Intact {
            files: files.len() as u64,
            custody_entries: custody.len() as u64 + files.len() as u64,
        })
    }

    fn add_assessment(&self, assessment: &AssessmentRecord) -> Result<i64> {
        const OP: &str = "record assessment";
        let mut writer = self.writer();
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(OP)?;
        if !incident_exists(&tx, assessment.incident_id)? {
            return Err(StoreError::Backend {
                operation: OP,
                reason: format!("there is no incident {}", assessment.incident_id),
            });
        }
        tx.prepare_cached(
            "INSERT INTO incident_assessments (incident_id, assessed_by, assessed_at, conclusion, body)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .and_then(|mut s| {
            s.execute(params![
                assessment.incident_id,
                assessment.assessed_by,
                assessment.assessed_at.millis(),
                assessment.conclusion,
                assessment.body.to_string(),
            ])
        })
        .during(OP)?;
        let id = tx.last_insert_rowid();
        timeline_insert(
            &tx,
            assessment.incident_id,
            TimelineKind::Assessment,
            &assessment.assessed_by,
            assessment.assessed_at,
            &format!(
                "breach risk assessment {id} concluded: {}",
                assessment.conclusion
            ),
        )?;
        tx.commit().during(OP)?;
        Ok(id)
    }

    fn assessments(&self, incident_id: i64) -> Result<Vec<AssessmentRecord>> {
        const OP: &str = "list assessments";
        let reader = self.reader()?;
        let mut stmt = reader
            .prepare_cached(
                "SELECT id, assessed_by, assessed_at, conclusion, body FROM incident_assessments
                 WHERE incident_id = ?1 ORDER BY id",
            )
            .during(OP)?;
        let rows = stmt
            .query_map([incident_id], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                ))
            })
            .during(OP)?;
        let mut out = Vec::new();
        for row in rows {
            let (id, assessed_by, assessed_at, conclusion, body) = row.during(OP)?;
            out.push(AssessmentRecord {
                id,
                incident_id,
                assessed_by,
                assessed_at: Timestamp(assessed_at),
                conclusion,
                body: parse_body(&body, &format!("assessment {id}"))?,
            });
        }
        Ok(out)
    }

    fn set_deadlines(
        &self,
        incident_id: i64,
        deadlines: &[DeadlineRecord],
        actor: &str,
        at: Timestamp,
    ) -> Result<()> {
        const OP: &str = "set notification deadlines";
        let mut writer = self.writer();
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(OP)?;
        if !incident_exists(&tx, incident_id)? {
            return Err(StoreError::Backend {
                operation: OP,
                reason: format!("there is no incident {incident_id}"),
            });
        }
        // Notices already given stay recorded even when a recomputation no longer lists them.
        tx.prepare_cached(
            "DELETE FROM incident_deadlines WHERE incident_id = ?1 AND notified_on IS NULL",
        )
        .and_then(|mut s| s.execute([incident_id]))
        .during(OP)?;
        for d in deadlines {
            tx.prepare_cached(
                "INSERT INTO incident_deadlines (incident_id, kind, jurisdiction, due_on, citation, explanation, notified_on, notified_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (incident_id, kind, jurisdiction) DO UPDATE SET
                    due_on = excluded.due_on, citation = excluded.citation,
                    explanation = excluded.explanation",
            )
            .and_then(|mut s| {
                s.execute(params![
                    incident_id,
                    d.kind,
                    d.jurisdiction,
                    date_text(d.due_on),
                    d.citation,
                    d.explanation,
                    d.notified_on.map(date_text),
                    d.notified_by,
                ])
            })
            .during(OP)?;
        }
        let mut text = String::from("notification deadlines computed:");
        for d in deadlines {
            text.push_str(&format!(" {}", d.kind));
            if !d.jurisdiction.is_empty() {
                text.push_str(&format!(" ({})", d.jurisdiction));
            }
            text.push_str(&format!(" by {} [{}];", date_text(d.due_on), d.citation));
        }
        timeline_insert(
            &tx,
            incident_id,
            TimelineKind::DeadlinesComputed,
            actor,
            at,
            text.trim_end_matches(';'),
        )?;
        tx.commit().during(OP)?;
        Ok(())
    }

    fn deadlines(&self, incident_id: i64) -> Result<Vec<DeadlineRecord>> {
        const OP: &str = "list notification deadlines";
        let reader = self.reader()?;
        let sql = format!(
            "{DEADLINE_COLUMNS} WHERE incident_id = ?1 ORDER BY due_on, kind, jurisdiction"
        );
        let mut stmt = reader.prepare_cached(&sql).during(OP)?;
        let rows = stmt.query_map([incident_id], deadline_row).during(OP)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(finish_deadline(row.during(OP)?, incident_id)?);
        }
        Ok(out)
    }

    fn mark_notified(
        &self,
        incident_id: i64,
        kind: &str,
        jurisdiction: &str,
        on: NaiveDate,
        actor: &str,
        at: Timestamp,
    ) -> Result<bool> {
        const OP: &str = "record notification";
        let mut writer = self.writer();
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(OP)?;
        let changed = tx
            .prepare_cached(
                "UPDATE incident_deadlines SET notified_on = ?4, notified_by = ?5
                 WHERE incident_id = ?1 AND kind = ?2 AND jurisdiction = ?3",
            )
            .and_then(|mut s| {
                s.execute(params![
                    incident_id,
                    kind,
                    jurisdiction,
                    date_text(on),
                    actor
                ])
            })
            .during(OP)?;
        if changed > 0 {
            let mut text = format!("{kind} notice given on {}", date_text(on));
            if !jurisdiction.is_empty() {
                text = format!("{kind} notice ({jurisdiction}) given on {}", date_text(on));
            }
            timeline_insert(
                &tx,
                incident_id,
                TimelineKind::NotificationSent,
                actor,
                at,
                &text,
            )?;
        }
        tx.commit().during(OP)?;
        Ok(changed > 0)
    }

    fn pending_deadlines(&self, until: NaiveDate) -> Result<Vec<PendingDeadline>> {
        const OP: &str = "list pending deadlines";
        let reader = self.reader()?;
        let mut stmt = reader
            .prepare_cached(
                "SELECT d.kind, d.jurisdiction, d.due_on, d.citation, d.explanation, d.notified_on,
                        d.notified_by, i.id, i.title
                 FROM incident_deadlines d JOIN incidents i ON i.id = d.incident_id
                 WHERE d.notified_on IS NULL AND d.due_on <= ?1 AND i.status != 'closed'
                 ORDER BY d.due_on, i.id, d.kind, d.jurisdiction",
            )
            .during(OP)?;
        let rows = stmt
            .query_map([date_text(until)], |row| {
                Ok((deadline_row(row)?, row.get::<_, i64>(7)?, row.get(8)?))
            })
            .during(OP)?;
        let mut out = Vec::new();
        for row in rows {
            let (cols, incident_id, incident_title) = row.during(OP)?;
            out.push(PendingDeadline {
                incident_id,
                incident_title,
                deadline: finish_deadline(cols, incident_id)?,
            });
        }
        Ok(out)
    }

    fn add_law_enforcement_delay(&self, delay: &LawEnforcementDelayRecord) -> Result<i64> {
        const OP: &str = "record law-enforcement delay";
        let mut writer = self.writer();
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(OP)?;
        if !incident_exists(&tx, delay.incident_id)? {
            return Err(StoreError::Backend {
                operation: OP,
                reason: format!("there is no incident {}", delay.incident_id),
            });
        }
        tx.prepare_cached(
            "INSERT INTO law_enforcement_delays (incident_id, official, agency, form, stated_on, until, recorded_by, recorded_at, note)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .and_then(|mut s| {
            s.execute(params![
                delay.incident_id,
                delay.official,
                delay.agency,
                delay.form,
                date_text(delay.stated_on),
                delay.until.map(date_text),
                delay.recorded_by,
                delay.recorded_at.millis(),
                delay.note,
            ])
        })
        .during(OP)?;
        let id = tx.last_insert_rowid();
        let mut text = format!(
            "{} statement by {} ({}) on {} that notice would impede an investigation",
            delay.form,
            delay.official,
            delay.agency,
            date_text(delay.stated_on)
        );
        if let Some(until) = delay.until {
            text.push_str(&format!("; delay until {}", date_text(until)));
        }
        timeline_insert(
            &tx,
            delay.incident_id,
            TimelineKind::LawEnforcementDelay,
            &delay.recorded_by,
            delay.recorded_at,
            &text,
        )?;
        tx.commit().during(OP)?;
        Ok(id)
    }

    fn law_enforcement_delays(&self, incident_id: i64) -> Result<Vec<LawEnforcementDelayRecord>> {
        const OP: &str = "list law-enforcement delays";
        let reader = self.reader()?;
        let mut stmt = reader
            .prepare_cached(
                "SELECT id, official, agency, form, stated_on, until, recorded_by, recorded_at, note
                 FROM law_enforcement_delays WHERE incident_id = ?1 ORDER BY id",
            )
            .during(OP)?;
        let rows = stmt
            .query_map([incident_id], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, Option<String>>(5)?,
                    row.get::<_, String>(6)?,
                    row.get::<_, i64>(7)?,
                    row.get::<_, String>(8)?,
                ))
            })
            .during(OP)?;
        let mut out = Vec::new();
        for row in rows {
            let (id, official, agency, form, stated_on, until, recorded_by, recorded_at, note) =
                row.during(OP)?;
            let what = format!("law-enforcement delay {id}");
            out.push(LawEnforcementDelayRecord {
                id,
                incident_id,
                official,
                agency,
                form,
                stated_on: parse_date(&stated_on, &what)?,
                until: until.map(|u| parse_date(&u, &what)).transpose()?,
                recorded_by,
                recorded_at: Timestamp(recorded_at),
                note,
            });
        }
        Ok(out)
    }
    fn add_exercise(&self, exercise: &ExerciseRecord) -> Result<i64> {
        let writer = self.writer();
        writer
            .conn
            .prepare_cached(
                "INSERT INTO exercises (plan_version, held_on, scenario, participants, findings, recorded_by, recorded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    exercise.plan_version,
                    date_text(exercise.held_on),
                    exercise.scenario,
                    list_json(&exercise.participants),
                    list_json(&exercise.findings),
                    exercise.recorded_by,
                    exercise.recorded_at.millis(),
                ])
            })
            .during("record exercise")?;
        Ok(writer.conn.last_insert_rowid())
    }

    fn exercises(&self) -> Result<Vec<ExerciseRecord>> {
        const OP: &str = "list exercises";
        let reader = self.reader()?;
        let mut stmt = reader
            .prepare_cached(
                "SELECT id, plan_version, held_on, scenario, participants, findings, recorded_by, recorded_at
                 FROM exercises ORDER BY held_on DESC, id DESC",
            )
            .during(OP)?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, String>(6)?,
                    row.get::<_, i64>(7)?,
                ))
            })
            .during(OP)?;
        let mut out = Vec::new();
        for row in rows {
            let (id, plan_version, held_on, scenario, participants, findings, by, at) =
                row.during(OP)?;
            let what = format!("exercise {id}");
            out.push(ExerciseRecord {
                id,
                plan_version,
                held_on: parse_date(&held_on, &what)?,
                scenario,
                participants: parse_list(&participants, &what)?,
                findings: parse_list(&findings, &what)?,
                recorded_by: by,
                recorded_at: Timestamp(at),
            });
        }
        Ok(out)
    }

    fn put_review(&self, review: &ReviewRecord) -> Result<()> {
        const OP: &str = "record incident review";
        let mut writer = self.writer();
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(OP)?;
        if !incident_exists(&tx, review.incident_id)? {
            return Err(StoreError::Backend {
                operation: OP,
                reason: format!("there is no incident {}", review.incident_id),
            });
        }
        tx.prepare_cached(
            "INSERT OR REPLACE INTO incident_reviews (incident_id, held_on, participants, summary, went_well, to_improve, recorded_by, recorded_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .and_then(|mut s| {
            s.execute(params![
                review.incident_id,
                date_text(review.held_on),
                list_json(&review.participants),
                review.summary,
                list_json(&review.went_well),
                list_json(&review.to_improve),
                review.recorded_by,
                review.recorded_at.millis(),
            ])
        })
        .during(OP)?;
        timeline_insert(
            &tx,
            review.incident_id,
            TimelineKind::Review,
            &review.recorded_by,
            review.recorded_at,
            &format!(
                "post-incident review held on {} ({} to improve)",
                date_text(review.held_on),
                review.to_improve.len()
            ),
        )?;
        tx.commit().during(OP)?;
        Ok(())
    }

    fn review(&self, incident_id: i64) -> Result<Option<ReviewRecord>> {
        const OP: &str = "get incident review";
        let reader = self.reader()?;
        let row = reader
            .prepare_cached(
                "SELECT held_on, participants, summary, went_well, to_improve, recorded_by, recorded_at
                 FROM incident_reviews WHERE incident_id = ?1",
            )
            .and_then(|mut s| {
                s.query_row([incident_id], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, String>(4)?,
                        row.get::<_, String>(5)?,
                        row.get::<_, i64>(6)?,
                    ))
                })
                .optional()
            })
            .during(OP)?;
        let Some((held_on, participants, summary, went_well, to_improve, by, at)) = row else {
            return Ok(None);
        };
        let what = format!("the review of incident {incident_id}");
        Ok(Some(ReviewRecord {
            incident_id,
            held_on: parse_date(&held_on, &what)?,
            participants: parse_list(&participants, &what)?,
            summary,
            went_well: parse_list(&went_well, &what)?,
            to_improve: parse_list(&to_improve, &what)?,
            recorded_by: by,
            recorded_at: Timestamp(at),
        }))
    }

    fn closed_without_review(&self) -> Result<Vec<i64>> {
        const OP: &str = "list incidents awaiting review";
        let reader = self.reader()?;
        let mut stmt = reader
            .prepare_cached(
                "SELECT id FROM incidents WHERE status = 'closed'
                 AND id NOT IN (SELECT incident_id FROM incident_reviews) ORDER BY id",
            )
            .during(OP)?;
        let rows = stmt.query_map([], |row| row.get(0)).during(OP)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().during(OP)
    }

    fn add_follow_up(&self, follow_up: &FollowUpRecord) -> Result<i64> {
        let (source, source_id) = match follow_up.source {
            FollowUpSource::Exercise(id) => ("exercise", id),
            FollowUpSource::Incident(id) => ("incident", id),
        };
        let writer = self.writer();
        writer
            .conn
            .prepare_cached(
                "INSERT INTO follow_ups (source, source_id, title, owner, due_on, done_on, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    source,
                    source_id,
                    follow_up.title,
                    follow_up.owner,
                    date_text(follow_up.due_on),
                    follow_up.done_on.map(date_text),
                    follow_up.created_at.millis(),
                ])
            })
            .during("record follow-up")?;
        Ok(writer.conn.last_insert_rowid())
    }

    fn follow_ups(&self, open_only: bool) -> Result<Vec<FollowUpRecord>> {
        const OP: &str = "list follow-ups";
        let reader = self.reader()?;
        let sql = if open_only {
            "SELECT id, source, source_id, title, owner, due_on, done_on, created_at FROM follow_ups
             WHERE done_on IS NULL ORDER BY due_on, id"
        } else {
            "SELECT id, source, source_id, title, owner, due_on, done_on, created_at FROM follow_ups
             ORDER BY due_on, id"
        };
        let mut stmt = reader.prepare_cached(sql).during(OP)?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, Option<String>>(6)?,
                    row.get::<_, i64>(7)?,
                ))
            })
            .during(OP)?;
        let mut out = Vec::new();
        for row in rows {
            let (id, source, source_id, title, owner, due_on, done_on, created_at) =
                row.during(OP)?;
            let what = format!("follow-up {id}");
            let source = match source.as_str() {
                "exercise" => FollowUpSource::Exercise(source_id),
                "incident" => FollowUpSource::Incident(source_id),
                _ => {
                    return Err(StoreError::Corrupt {
                        what,
                        reason: "its source is not one Ward knows".into(),
                    });
                }
            };
            out.push(FollowUpRecord {
                id,
                source,
                title,
                owner,
                due_on: parse_date(&due_on, &what)?,
                done_on: done_on.map(|d| parse_date(&d, &what)).transpose()?,
                created_at: Timestamp(created_at),
            });
        }
        Ok(out)
    }

    fn complete_follow_up(&self, id: i64, on: NaiveDate) -> Result<bool> {
        let writer = self.writer();
        let changed = writer
            .conn
            .prepare_cached("UPDATE follow_ups SET done_on = ?2 WHERE id = ?1 AND done_on IS NULL")
            .and_then(|mut s| s.execute(params![id, date_text(on)]))
            .during("complete follow-up")?;
        Ok(changed > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        (dir, store)
    }

    fn new_incident(title: &str) -> NewIncident {
        NewIncident {
            title: title.into(),
            incident_type: "insider_snooping".into(),
            severity: Severity::High,
            opened_at: Timestamp(1_000),
            opened_by: "privacy.officer".into(),
            discovered_at: Timestamp(500),
            plan_version: "2026.1".into(),
            body: serde_json::json!({"description": "test"}),
        }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn incidents_round_trip_and_every_change_reaches_the_timeline() {
        let (_dir, store) = store();
        let incidents = store.incidents();
        let id = incidents
            .create_incident(&new_incident("Snooping"))
            .unwrap();
        let got = incidents.get_incident(id).unwrap().unwrap();
        assert_eq!(got.title, "Snooping");
        assert_eq!(got.status, IncidentStatus::Open);
        assert_eq!(got.severity, Severity::High);
        assert_eq!(got.body["description"], "test");

        assert!(
            incidents
                .attach_alert(id, "a1", "x", Timestamp(2_000))
                .unwrap()
        );
        assert!(
            !incidents
                .attach_alert(id, "a1", "x", Timestamp(2_001))
                .unwrap()
        );
        assert!(
            !incidents
                .attach_alert(id + 99, "a1", "x", Timestamp(2_001))
                .unwrap()
        );
        assert_eq!(
            incidents.incident_alerts(id).unwrap(),
            vec!["a1".to_string()]
        );
        assert!(
            incidents
                .link_entity(id, LinkKind::Patient, "p1", "x", Timestamp(2_500))
                .unwrap()
        );
        assert_eq!(
            incidents.incident_links(id).unwrap(),
            vec![(LinkKind::Patient, "p1".to_string())]
        );
        let task_ids = incidents
            .add_tasks(
                id,
                &[NewTask {
                    phase: "containment".into(),
                    order: 1,
                    title: "Suspend access".into(),
                    detail: String::new(),
                    role: "it_lead".into(),
                    assignee: None,
                }],
                "x",
                Timestamp(3_000),
            )
            .unwrap();
        assert!(
            incidents
                .update_task(
                    task_ids[0],
                    TaskStatus::Done,
                    Some("dana"),
                    "dana",
                    Timestamp(4_000)
                )
                .unwrap()
        );
        let tasks = incidents.tasks(id).unwrap();
        assert_eq!(tasks[0].status, TaskStatus::Done);
        assert_eq!(tasks[0].assignee.as_deref(), Some("dana"));
        assert!(
            incidents
                .set_incident_status(id, IncidentStatus::Contained, "x", Timestamp(5_000), "")
                .unwrap()
        );
        incidents
            .append_timeline(id, TimelineKind::Note, "x", Timestamp(6_000), "called HR")
            .unwrap();
        let kinds: Vec<TimelineKind> = incidents
            .timeline(id)
            .unwrap()
            .iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(
            kinds,
            vec![
                TimelineKind::Opened,
                TimelineKind::AlertAttached,
                TimelineKind::LinkAdded,
                TimelineKind::TaskCreated,
                TimelineKind::TaskUpdated,
                TimelineKind::StatusChanged,
                TimelineKind::Note,
            ]
        );
        let listed = incidents
            .list_incidents(&IncidentQuery {
                status: Some(IncidentStatus::Contained),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(listed.len(), 1);
    }

    #[test]
    fn timeline_and_custody_rows_refuse_updates_and_deletes() {
        let (_dir, store) = store();
        let id = store
            .incidents()
            .create_incident(&new_incident("t"))
            .unwrap();
        store
            .incidents()
            .add_evidence(
                id,
                &NewEvidence {
                    name: "export.jsonl".into(),
                    media_type: "application/jsonl".into(),
                    content: b"{}".to_vec(),
                    added_by: "x".into(),
                    added_at: Timestamp(1),
                },
            )
            .unwrap();
        let writer = store.writer();
        for sql in [
            "UPDATE incident_timeline SET text = 'nothing happened'",
            "DELETE FROM incident_timeline",
            "UPDATE evidence_access SET actor = 'someone else'",
            "DELETE FROM evidence_access",
            "UPDATE evidence SET content = x'00'",
            "DELETE FROM evidence",
        ] {
            assert!(writer.conn.execute(sql, []).is_err(), "{sql} was allowed");
        }
    }

    #[test]
    fn evidence_is_hashed_logged_on_every_access_and_verifies() {
        let (_dir, store) = store();
        let incidents = store.incidents();
        let id = incidents.create_incident(&new_incident("t")).unwrap();
        let content = b"event set".to_vec();
        let record = incidents
            .add_evidence(
                id,
                &NewEvidence {
                    name: "events.jsonl".into(),
                    media_type: "application/jsonl".into(),
                    content: content.clone(),
                    added_by: "ann".into(),
                    added_at: Timestamp(10),
                },
            )
            .unwrap();
        let expected: [u8; 32] = Sha256::digest(&content).into();
        assert_eq!(record.sha256, expected);
        assert_eq!(record.size, 9);
        let (_, read) = incidents
            .open_evidence(
                record.id,
                CustodyAction::Read,
                "bob",
                Timestamp(20),
                "review",
            )
            .unwrap()
            .unwrap();
        assert_eq!(read, content);
        assert_eq!(
            incidents
                .verify_evidence(id, "carol", Timestamp(30))
                .unwrap(),
            EvidenceVerification::Intact {
                files: 1,
                custody_entries: 3
            }
        );
        let log = incidents.custody_log(id).unwrap();
        let actions: Vec<_> = log.iter().map(|e| (e.action, e.actor.as_str())).collect();
        assert_eq!(
            actions,
            vec![
                (CustodyAction::Added, "ann"),
                (CustodyAction::Read, "bob"),
                (CustodyAction::Verified, "carol")
            ]
        );
        assert_eq!(first_broken_custody_link(id, &log), None);
        // The exported log verifies on its own, and an edit to it shows.
        let json = serde_json::to_string(&log).unwrap();
        let mut back: Vec<CustodyEntry> = serde_json::from_str(&json).unwrap();
        assert_eq!(first_broken_custody_link(id, &back), None);
        back[1].actor = "mallory".into();
        assert_eq!(first_broken_custody_link(id, &back), Some(2));
        // Another incident's log does not verify under this incident's id.
        assert_eq!(first_broken_custody_link(id + 1, &log), Some(1));
    }

    #[test]
    fn a_custody_row_altered_in_the_file_breaks_the_chain_at_that_row() {
        let (_dir, store) = store();
        let incidents = store.incidents();
        let id = incidents.create_incident(&new_incident("t")).unwrap();
        let record = incidents
            .add_evidence(
                id,
                &NewEvidence {
                    name: "a".into(),
                    media_type: "text/plain".into(),
                    content: b"abc".to_vec(),
                    added_by: "ann".into(),
                    added_at: Timestamp(10),
                },
            )
            .unwrap();
        incidents
            .open_evidence(
                record.id,
                CustodyAction::Exported,
                "bob",
                Timestamp(20),
                "to counsel",
            )
            .unwrap();
        {
            let writer = store.writer();
            writer
                .conn
                .execute_batch(
                    "DROP TRIGGER evidence_access_append_only_update;
                     UPDATE evidence_access SET actor = 'eve' WHERE seq = 2;",
                )
                .unwrap();
        }
        assert_eq!(
            incidents
                .verify_evidence(id, "carol", Timestamp(30))
                .unwrap(),
            EvidenceVerification::Failed(EvidenceFailure::ChainBroken { seq: 2 })
        );
    }

    #[test]
    fn recomputed_deadlines_keep_notices_given_and_the_overview_lists_what_is_pending() {
        let (_dir, store) = store();
        let incidents = store.incidents();
        let id = incidents.create_incident(&new_incident("one")).unwrap();
        let closed = incidents.create_incident(&new_incident("two")).unwrap();
        let deadline = |kind: &str, jurisdiction: &str, due: NaiveDate| DeadlineRecord {
            kind: kind.into(),
            jurisdiction: jurisdiction.into(),
            due_on: due,
            citation: "45 CFR 164.404(b)".into(),
            explanation: String::new(),
            notified_on: None,
            notified_by: None,
        };
        let first = [
            deadline("individuals", "", date(2026, 3, 2)),
            deadline("media", "MA", date(2026, 3, 2)),
        ];
        incidents
            .set_deadlines(id, &first, "x", Timestamp(1))
            .unwrap();
        incidents
            .set_deadlines(closed, &first, "x", Timestamp(1))
            .unwrap();
        incidents
            .set_incident_status(closed, IncidentStatus::Closed, "x", Timestamp(2), "")
            .unwrap();
        assert!(
            incidents
                .mark_notified(id, "media", "MA", date(2026, 2, 1), "x", Timestamp(3))
                .unwrap()
        );
        assert!(
            !incidents
                .mark_notified(id, "media", "NH", date(2026, 2, 1), "x", Timestamp(3))
                .unwrap()
        );
        // A law-enforcement delay moves the dates; the media notice given stays recorded.
        incidents
            .set_deadlines(
                id,
                &[
                    deadline("individuals", "", date(2026, 4, 1)),
                    deadline("media", "MA", date(2026, 4, 1)),
                ],
                "x",
                Timestamp(4),
            )
            .unwrap();
        let now = incidents.deadlines(id).unwrap();
        assert_eq!(now.len(), 2);
        let media = now.iter().find(|d| d.kind == "media").unwrap();
        assert_eq!(media.notified_on, Some(date(2026, 2, 1)));
        assert_eq!(media.due_on, date(2026, 4, 1));
        let pending = incidents.pending_deadlines(date(2026, 12, 31)).unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].incident_id, id);
        assert_eq!(pending[0].deadline.kind, "individuals");
        assert!(
            incidents
                .pending_deadlines(date(2026, 3, 31))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn assessments_and_law_enforcement_delays_round_trip() {
        let (_dir, store) = store();
        let incidents = store.incidents();
        let id = incidents.create_incident(&new_incident("t")).unwrap();
        let aid = incidents
            .add_assessment(&AssessmentRecord {
                id: 0,
                incident_id: id,
                assessed_by: "po".into(),
                assessed_at: Timestamp(5),
                conclusion: "breach".into(),
                body: serde_json::json!({"factors": []}),
            })
            .unwrap();
        let back = incidents.assessments(id).unwrap();
        assert_eq!(back[0].id, aid);
        assert_eq!(back[0].conclusion, "breach");
        let delay = LawEnforcementDelayRecord {
            id: 0,
            incident_id: id,
            official: "Det. R. Ortiz".into(),
            agency: "State Police".into(),
            form: "written".into(),
            stated_on: date(2026, 1, 10),
            until: Some(date(2026, 2, 10)),
            recorded_by: "legal".into(),
            recorded_at: Timestamp(6),
            note: String::new(),
        };
        let did = incidents.add_law_enforcement_delay(&delay).unwrap();
        let got = incidents.law_enforcement_delays(id).unwrap();
        assert_eq!(got, vec![LawEnforcementDelayRecord { id: did, ..delay }]);
    }
    #[test]
    fn exercises_reviews_and_follow_ups_are_tracked_to_completion() {
        let (_dir, store) = store();
        let incidents = store.incidents();
        let exercise = ExerciseRecord {
            id: 0,
            plan_version: "2026.1".into(),
            held_on: date(2026, 5, 12),
            scenario: "ransomware on the PACS network at night".into(),
            participants: vec!["ic".into(), "po".into()],
            findings: vec!["nobody knew where the downtime forms are".into()],
            recorded_by: "ic".into(),
            recorded_at: Timestamp(1),
        };
        let eid = incidents.add_exercise(&exercise).unwrap();
        incidents
            .add_exercise(&ExerciseRecord {
                held_on: date(2025, 11, 1),
                ..exercise.clone()
            })
            .unwrap();
        let listed = incidents.exercises().unwrap();
        assert_eq!(
            listed[0],
            ExerciseRecord {
                id: eid,
                ..exercise
            }
        );
        assert_eq!(listed[1].held_on, date(2025, 11, 1));

        let id = incidents.create_incident(&new_incident("t")).unwrap();
        assert!(incidents.closed_without_review().unwrap().is_empty());
        incidents
            .set_incident_status(id, IncidentStatus::Closed, "ic", Timestamp(2), "")
            .unwrap();
        assert_eq!(incidents.closed_without_review().unwrap(), vec![id]);
        let review = ReviewRecord {
            incident_id: id,
            held_on: date(2026, 6, 1),
            participants: vec!["ic".into()],
            summary: "contained in two hours".into(),
            went_well: vec!["alert to suspension in 40 minutes".into()],
            to_improve: vec!["HR was reached only the next day".into()],
            recorded_by: "ic".into(),
            recorded_at: Timestamp(3),
        };
        incidents.put_review(&review).unwrap();
        assert_eq!(incidents.review(id).unwrap(), Some(review));
        assert!(incidents.closed_without_review().unwrap().is_empty());
        assert_eq!(
            incidents.timeline(id).unwrap().last().unwrap().kind,
            TimelineKind::Review
        );

        let fid = incidents
            .add_follow_up(&FollowUpRecord {
                id: 0,
                source: FollowUpSource::Exercise(eid),
                title: "put downtime forms on every unit".into(),
                owner: "it_lead".into(),
                due_on: date(2026, 6, 30),
                done_on: None,
                created_at: Timestamp(4),
            })
            .unwrap();
        incidents
            .add_follow_up(&FollowUpRecord {
                id: 0,
                source: FollowUpSource::Incident(id),
                title: "HR on-call number in the plan".into(),
                owner: "po".into(),
                due_on: date(2026, 6, 15),
                done_on: None,
                created_at: Timestamp(5),
            })
            .unwrap();
        let open = incidents.follow_ups(true).unwrap();
        assert_eq!(open.len(), 2);
        assert_eq!(open[0].source, FollowUpSource::Incident(id));
        assert!(
            incidents
                .complete_follow_up(fid, date(2026, 6, 20))
                .unwrap()
        );
        assert!(
            !incidents
                .complete_follow_up(fid, date(2026, 6, 21))
                .unwrap()
        );
        assert_eq!(incidents.follow_ups(true).unwrap().len(), 1);
        let all = incidents.follow_ups(false).unwrap();
        assert_eq!(all[1].done_on, Some(date(2026, 6, 20)));
    }
    #[test]
    fn a_recorded_hash_rewritten_to_match_altered_content_still_fails_against_the_custody_log() {
        let (_dir, store) = store();
        let incidents = store.incidents();
        let id = incidents.create_incident(&new_incident("t")).unwrap();
        let record = incidents
            .add_evidence(
                id,
                &NewEvidence {
                    name: "image.dd".into(),
                    media_type: "application/octet-stream".into(),
                    content: b"original".to_vec(),
                    added_by: "ann".into(),
                    added_at: Timestamp(10),
                },
            )
            .unwrap();
        let forged = b"replaced";
        let forged_hash: [u8; 32] = Sha256::digest(forged).into();
        {
            let writer = store.writer();
            writer
                .conn
                .execute_batch("DROP TRIGGER evidence_immutable")
                .unwrap();
            writer
                .conn
                .execute(
                    "UPDATE evidence SET content = ?2, sha256 = ?3 WHERE id = ?1",
                    params![record.id, &forged[..], &forged_hash[..]],
                )
                .unwrap();
        }
        assert_eq!(
            incidents
                .verify_evidence(id, "carol", Timestamp(30))
                .unwrap(),
            EvidenceVerification::Failed(EvidenceFailure::DigestChanged {
                evidence_id: record.id,
                name: "image.dd".into()
            })
        );
    }
}
