//! Where an encrypted SQLite store keeps its wrapped keys and signed checkpoints, and the
//! key operations that rewrite rows: first encryption of a store that held plaintext, re-
//! encryption under the current key, re-wrapping under a new key-encryption key.

use super::{
    ALERT_COLUMNS, During, EVENT_COLUMNS, QUARANTINE_COLUMNS, SqliteStore, alert_entity_values,
    alert_row, base64_engine, plain_event_row, quarantine_row,
};
use crate::keyring::{self, aad};
use crate::keyring::{Keyring, WrappedKey, period_of};
use crate::lookup::LookupColumns;
use crate::{Result, StoreError};
use base64::Engine as _;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::sync::Arc;
use ward_model::ContextKind;
use ward_model::Timestamp;
use ward_vault::{DataKey, Kek, KeyPurpose};

/// Migration: wrapped keys, the `key_id` of each sealed row, alert entities as their own
/// (keyed) rows, and signed checkpoints of the hash chain.
///
/// `data_keys.wrapped` is `nonce ‖ AES-256-GCM(KEK, key)` bound to the key's id and purpose;
/// `kek_id` names the KEK that wrapped it (a fingerprint, not the key). A row's `key_id`
/// NULL means its sealed columns are plaintext (a store created without encryption, or not
/// yet converted). `alert_entities` holds each entity of an alert through the lookup key, so
/// alerts are found by entity without reading their sealed bodies. `checkpoints` are Ed25519
/// signatures over a batch's hash, by the store's signing key.
pub(crate) const ENCRYPTION_SCHEMA: &str = r#"
    CREATE TABLE data_keys (
        id         INTEGER PRIMARY KEY,
        purpose    TEXT NOT NULL,
        period     TEXT,
        kek_id     BLOB NOT NULL,
        wrapped    BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        retired_at INTEGER
    ) STRICT;
    ALTER TABLE quarantine ADD COLUMN key_id INTEGER;
    ALTER TABLE context ADD COLUMN key_id INTEGER;
    ALTER TABLE alerts ADD COLUMN key_id INTEGER;
    ALTER TABLE alert_workflow ADD COLUMN key_id INTEGER;
    CREATE TABLE alert_entities (
        entity_key TEXT NOT NULL,
        alert_id   TEXT NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
        PRIMARY KEY (entity_key, alert_id)
    ) WITHOUT ROWID, STRICT;
    CREATE INDEX alert_entities_alert ON alert_entities(alert_id);
    INSERT OR IGNORE INTO alert_entities (entity_key, alert_id)
        SELECT e.value, alerts.id FROM alerts, json_each(alerts.body, '$.entities') AS e
        WHERE e.type = 'text' AND e.value <> '';
    CREATE TABLE checkpoints (
        batch_seq INTEGER PRIMARY KEY,
        hash      BLOB NOT NULL,
        signed_at INTEGER NOT NULL,
        key_id    INTEGER NOT NULL,
        signature BLOB NOT NULL
    ) STRICT;
"#;

pub(super) fn load(conn: &Connection) -> Result<Vec<WrappedKey>> {
    const OP: &str = "read the store's keys";
    let mut stmt = conn
        .prepare("SELECT id, purpose, period, kek_id, wrapped FROM data_keys ORDER BY id")
        .during(OP)?;
    let rows = stmt
        .query_map([], |row| {
            Ok(WrappedKey {
                id: row.get(0)?,
                purpose: row.get(1)?,
                period: row.get(2)?,
                kek_id: row.get(3)?,
                wrapped: row.get(4)?,
            })
        })
        .during(OP)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().during(OP)
}

/// Creates the lookup and signing keys of a store that has none.
pub(super) fn initialise(conn: &mut Connection, kek: &Kek) -> Result<()> {
    const OP: &str = "create the store's keys";
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .during(OP)?;
    for purpose in [KeyPurpose::Lookup, KeyPurpose::Signing] {
        insert_key(&tx, kek, purpose, None)?;
    }
    tx.commit().during(OP)
}

fn insert_key(
    conn: &Connection,
    kek: &Kek,
    purpose: KeyPurpose,
    period: Option<&str>,
) -> Result<(i64, zeroize::Zeroizing<[u8; 32]>)> {
    const OP: &str = "store a new key";
    let id: i64 = conn
        .query_row("SELECT coalesce(max(id), 0) + 1 FROM data_keys", [], |r| {
            r.get(0)
        })
        .during(OP)?;
    let material = Kek::generate_bytes().map_err(keys_error)?;
    let wrapped = kek.wrap(id, purpose, &material).map_err(keys_error)?;
    conn.execute(
        "INSERT INTO data_keys (id, purpose, period, kek_id, wrapped, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![id, purpose.as_str(), period, &kek.id()[..], wrapped, Timestamp::now().millis()],
    )
    .during(OP)?;
    Ok((id, material))
}

/// Stores a data key for the current period and makes it the keyring's current key.
///
/// Refuses when another process re-wrapped the keys under a new key-encryption key since
/// this one started: a key wrapped under the old one would be unreadable.
pub(super) fn new_data_key(conn: &mut Connection, keyring: &Keyring) -> Result<Arc<DataKey>> {
    const OP: &str = "start a new data key";
    let now = Timestamp::now();
    let period = period_of(now);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .during(OP)?;
    let newest: Option<Vec<u8>> = tx
        .query_row(
            "SELECT kek_id FROM data_keys ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()
        .during(OP)?;
    let kek = keyring.kek();
    if newest.is_some_and(|id| id != kek.id()) {
        return Err(StoreError::Keys(
            "the store's keys were re-wrapped under a new key-encryption key by another process; \
             restart Ward with the new key"
                .into(),
        ));
    }
    // Another process may have started this period's key already; use it rather than add one.
    let existing: Option<(i64, Vec<u8>)> = tx
        .query_row(
            "SELECT id, wrapped FROM data_keys WHERE purpose = 'data' AND period = ?1 AND retired_at IS NULL
             ORDER BY id DESC LIMIT 1",
            [&period],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .during(OP)?;
    let (id, material) = match existing {
        Some((id, wrapped)) => (
            id,
            kek.unwrap(id, KeyPurpose::Data, &wrapped)
                .map_err(keys_error)?,
        ),
        None => insert_key(&tx, &kek, KeyPurpose::Data, Some(&period))?,
    };
    tx.commit().during(OP)?;
    drop(kek);
    Ok(keyring.install(period, DataKey::new(id, &material)))
}

/// Re-wraps every stored key under `new`, in one transaction, and retires the current data
/// key so that what is sealed from now on uses a key the old KEK never wrapped. Rewrites no
/// data. Returns how many keys were re-wrapped.
pub(super) fn rewrap(conn: &mut Connection, keyring: &Keyring, new: Kek) -> Result<usize> {
    const OP: &str = "re-wrap the store's keys";
    let stored = load(conn)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .during(OP)?;
    {
        let old = keyring.kek();
        let mut update = tx
            .prepare("UPDATE data_keys SET kek_id = ?2, wrapped = ?3 WHERE id = ?1")
            .during(OP)?;
        for key in &stored {
            let purpose = KeyPurpose::parse(&key.purpose).ok_or_else(|| {
                StoreError::Keys(format!("stored key {} has an unknown purpose", key.id))
            })?;
            let material = old
                .unwrap(key.id, purpose, &key.wrapped)
                .map_err(keys_error)?;
            let wrapped = new.wrap(key.id, purpose, &material).map_err(keys_error)?;
            update
                .execute(params![key.id, &new.id()[..], wrapped])
                .during(OP)?;
        }
        tx.execute(
            "UPDATE data_keys SET retired_at = ?1 WHERE purpose = 'data' AND retired_at IS NULL",
            [Timestamp::now().millis()],
        )
        .during(OP)?;
    }
    tx.commit().during(OP)?;
    keyring.replace_kek(new);
    Ok(stored.len())
}

fn keys_error(e: ward_vault::VaultError) -> StoreError {
    StoreError::Keys(e.to_string())
}

/// What a checkpoint signature covers.
pub(super) fn checkpoint_message(seq: i64, hash: &[u8], signed_at: i64) -> Vec<u8> {
    let mut message = b"ward checkpoint v1\0".to_vec();
    message.extend_from_slice(&seq.to_le_bytes());
    message.extend_from_slice(hash);
    message.extend_from_slice(&signed_at.to_le_bytes());
    message
}

/// What [`SqliteStore::reencrypt`] rewrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reencrypted {
    pub events: u64,
    pub quarantined: u64,
    pub context: u64,
    pub alerts: u64,
}

impl Reencrypted {
    pub fn total(&self) -> u64 {
        self.events + self.quarantined + self.context + self.alerts
    }
}

/// Rows rewritten per transaction, so the store keeps serving between them.
const REENCRYPT_CHUNK: usize = 2_000;

/// Whether a store without keys holds any row that encryption must seal.
pub(super) fn holds_plaintext(conn: &Connection) -> Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM events) OR EXISTS (SELECT 1 FROM quarantine)
             OR EXISTS (SELECT 1 FROM context) OR EXISTS (SELECT 1 FROM alerts)
             OR EXISTS (SELECT 1 FROM detector_state)",
        [],
        |r| r.get(0),
    )
    .during("look for plaintext rows")
}

/// The last signed checkpoint: when, and which batch; `(0, 0)` when there is none.
pub(super) fn last_checkpoint(conn: &Connection) -> Result<(i64, u64)> {
    let row: Option<(i64, i64)> = conn
        .query_row(
            "SELECT signed_at, batch_seq FROM checkpoints ORDER BY batch_seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .during("read the last checkpoint")?;
    Ok(row.map_or((0, 0), |(at, seq)| (at, u64::try_from(seq).unwrap_or(0))))
}

/// Signs batch `seq`'s hash and stores the checkpoint.
pub(super) fn write_checkpoint(
    conn: &Connection,
    keyring: &Keyring,
    seq: i64,
    hash: &[u8],
    signed_at: i64,
) -> Result<()> {
    let (key_id, key) = &keyring.signing;
    let signature = key.sign(&checkpoint_message(seq, hash, signed_at));
    conn.prepare_cached(
        "INSERT OR REPLACE INTO checkpoints (batch_seq, hash, signed_at, key_id, signature)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| s.execute(params![seq, hash, signed_at, key_id, &signature[..]]))
    .during("sign a checkpoint")?;
    Ok(())
}

impl SqliteStore {
    /// Seals every row not sealed under the current data key with it: rows of a store that
    /// held plaintext, and rows sealed under older keys (after a key-encryption key was
    /// rotated because it may have leaked). Works in small transactions, so the store keeps
    /// serving; `progress` hears the running total. The hash chain covers plaintext and is
    /// unchanged.
    pub fn reencrypt(&self, mut progress: impl FnMut(u64)) -> Result<Reencrypted> {
        let key = self.sealing_key()?.ok_or_else(|| {
            StoreError::Keys("the store is not encrypted; open it with its key".into())
        })?;
        let mut done = Reencrypted::default();
        for table in [
            Table::Events,
            Table::Quarantine,
            Table::Context,
            Table::Alerts,
        ] {
            loop {
                let n = self.reencrypt_chunk(&key, table)?;
                *match table {
                    Table::Events => &mut done.events,
                    Table::Quarantine => &mut done.quarantined,
                    Table::Context => &mut done.context,
                    Table::Alerts => &mut done.alerts,
                } += n;
                progress(done.total());
                if n == 0 {
                    break;
                }
            }
        }
        Ok(done)
    }

    fn reencrypt_chunk(&self, key: &DataKey, table: Table) -> Result<u64> {
        const OP: &str = "re-encrypt";
        let mut writer = self.writer();
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(OP)?;
        let limit = REENCRYPT_CHUNK as i64;
        let seal = |aad: &[u8], plain: &[u8]| {
            key.seal(aad, plain)
                .map_err(|e| StoreError::Keys(e.to_string()))
        };
        let mut n = 0u64;
        match table {
            Table::Events => {
                let mut select = tx
                    .prepare_cached(&format!(
                        "SELECT {EVENT_COLUMNS} FROM events WHERE key_id IS NULL OR key_id <> ?1 LIMIT ?2"
                    ))
                    .during(OP)?;
                let mut update = tx
                    .prepare_cached(
                        "UPDATE events SET body = ?2, key_id = ?3, user_key = ?4, patient_key = ?5 WHERE seq = ?1",
                    )
                    .during(OP)?;
                let mut rows = select.query(params![key.id(), limit]).during(OP)?;
                while let Some(row) = rows.next().during(OP)? {
                    let seq: i64 = row.get(0).during(OP)?;
                    let (body, event) = plain_event_row(row, self.vault.as_ref())?;
                    let columns = LookupColumns::of(&self.keys, &event);
                    update
                        .execute(params![
                            seq,
                            seal(&event.id.0, &body)?,
                            key.id(),
                            columns.user_key.as_deref(),
                            columns.patient_key.as_deref(),
                        ])
                        .during(OP)?;
                    n += 1;
                }
            }
            Table::Quarantine => {
                let mut select = tx
                    .prepare_cached(&format!(
                        "{QUARANTINE_COLUMNS} WHERE key_id IS NULL OR key_id <> ?1 LIMIT ?2"
                    ))
                    .during(OP)?;
                let mut update = tx
                    .prepare_cached(
                        "UPDATE quarantine SET reason = '', raw = ?2, key_id = ?3 WHERE id = ?1",
                    )
                    .during(OP)?;
                let mut rows = select.query(params![key.id(), limit]).during(OP)?;
                while let Some(row) = rows.next().during(OP)? {
                    let (stored, _) = quarantine_row(row, self.vault.as_ref())?;
                    let r = &stored.record;
                    let plain = keyring::join_parts(&[r.reason.as_bytes(), &r.raw]);
                    let sealed = seal(
                        &aad::quarantine(&r.source, r.position.line, r.position.offset),
                        &plain,
                    )?;
                    update
                        .execute(params![stored.id, sealed, key.id()])
                        .during(OP)?;
                    n += 1;
                }
            }
            Table::Context => {
                let mut select = tx
                    .prepare_cached(
                        "SELECT kind, id, summary, raw, key_id FROM context WHERE key_id IS NULL OR key_id <> ?1 LIMIT ?2",
                    )
                    .during(OP)?;
                let mut update = tx
                    .prepare_cached(
                        "UPDATE context SET id = ?3, summary = '', raw = ?4, key_id = ?5 WHERE kind = ?1 AND id = ?2",
                    )
                    .during(OP)?;
                let mut rows = select.query(params![key.id(), limit]).during(OP)?;
                while let Some(row) = rows.next().during(OP)? {
                    let kind_text: String = row.get(0).during(OP)?;
                    let kind =
                        ContextKind::parse(&kind_text).ok_or_else(|| StoreError::Corrupt {
                            what: "a context resource".into(),
                            reason: format!("unknown kind {kind_text}"),
                        })?;
                    let stored_id: String = row.get(1).during(OP)?;
                    let resource = self.context_resource(
                        kind,
                        (
                            stored_id.clone(),
                            row.get(2).during(OP)?,
                            row.get(3).during(OP)?,
                            row.get(4).during(OP)?,
                        ),
                    )?;
                    let new_id = self.keys.lookup_key(&resource.id).into_owned();
                    let summary = serde_json::to_string(&resource.summary).map_err(|e| {
                        StoreError::Backend {
                            operation: OP,
                            reason: crate::codec::json_error_summary(&e),
                        }
                    })?;
                    let plain = keyring::join_parts(&[
                        resource.id.as_bytes(),
                        summary.as_bytes(),
                        &resource.raw,
                    ]);
                    let sealed = seal(&aad::context(&kind_text, &new_id), &plain)?;
                    update
                        .execute(params![kind_text, stored_id, new_id, sealed, key.id()])
                        .during(OP)?;
                    n += 1;
                }
            }
            Table::Alerts => {
                let mut select = tx
                    .prepare_cached(&format!(
                        "SELECT {ALERT_COLUMNS} FROM alerts WHERE key_id IS NULL OR key_id <> ?1 LIMIT ?2"
                    ))
                    .during(OP)?;
                let mut rows = select.query(params![key.id(), limit]).during(OP)?;
                let mut found = Vec::new();
                while let Some(row) = rows.next().during(OP)? {
                    found.push(self.parse_alert(alert_row(row).during(OP)?)?);
                }
                drop(rows);
                for alert in found {
                    let body = serde_json::to_vec(&alert).map_err(|e| StoreError::Backend {
                        operation: OP,
                        reason: crate::codec::json_error_summary(&e),
                    })?;
                    let sealed = base64_engine().encode(seal(&aad::alert(&alert.id), &body)?);
                    tx.execute(
                        "UPDATE alerts SET body = ?2, key_id = ?3 WHERE id = ?1",
                        params![alert.id, sealed, key.id()],
                    )
                    .during(OP)?;
                    tx.execute(
                        "DELETE FROM alert_entities WHERE alert_id = ?1",
                        [&alert.id],
                    )
                    .during(OP)?;
                    for value in alert_entity_values(&alert).unwrap_or_default() {
                        tx.execute(
                            "INSERT OR IGNORE INTO alert_entities (entity_key, alert_id) VALUES (?1, ?2)",
                            params![&*self.keys.lookup_key(&value), alert.id],
                        )
                        .during(OP)?;
                    }
                    // A close reason written before encryption is sealed with its alert.
                    let reason: Option<(String, Option<i64>)> = tx
                        .query_row(
                            "SELECT close_reason, key_id FROM alert_workflow WHERE alert_id = ?1 AND close_reason IS NOT NULL",
                            [&alert.id],
                            |r| Ok((r.get(0)?, r.get(1)?)),
                        )
                        .optional()
                        .during(OP)?;
                    if let Some((text, key_id)) = reason {
                        let plain = match key_id {
                            None => text.into_bytes(),
                            Some(old) => keyring::open_sealed_base64(
                                self.vault.as_ref(),
                                old,
                                &aad::close_reason(&alert.id),
                                &text,
                                &format!("the close reason of alert {}", alert.id),
                            )?,
                        };
                        let sealed =
                            base64_engine().encode(seal(&aad::close_reason(&alert.id), &plain)?);
                        tx.execute(
                            "UPDATE alert_workflow SET close_reason = ?2, key_id = ?3 WHERE alert_id = ?1",
                            params![alert.id, sealed, key.id()],
                        )
                        .during(OP)?;
                    }
                    n += 1;
                }
            }
        }
        tx.commit().during(OP)?;
        Ok(n)
    }
}

#[derive(Clone, Copy)]
enum Table {
    Events,
    Quarantine,
    Context,
    Alerts,
}

/// A stored key as `ward keys show` lists it: never its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub id: i64,
    pub purpose: String,
    pub period: Option<String>,
    pub created_at: Timestamp,
    pub retired_at: Option<Timestamp>,
}

impl SqliteStore {
    /// The store's keys, oldest first.
    pub fn data_keys(&self) -> Result<Vec<KeyInfo>> {
        const OP: &str = "list the store's keys";
        let reader = self.reader()?;
        let mut stmt = reader
            .prepare(
                "SELECT id, purpose, period, created_at, retired_at FROM data_keys ORDER BY id",
            )
            .during(OP)?;
        let rows = stmt
            .query_map([], |row| {
                Ok(KeyInfo {
                    id: row.get(0)?,
                    purpose: row.get(1)?,
                    period: row.get(2)?,
                    created_at: Timestamp(row.get(3)?),
                    retired_at: row.get::<_, Option<i64>>(4)?.map(Timestamp),
                })
            })
            .during(OP)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().during(OP)
    }
}
