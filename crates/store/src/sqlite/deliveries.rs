//! [`Deliveries`] for the embedded backend: one `deliveries` table, its own migration
//! ([`DELIVERIES_SCHEMA`]), a partial index on what is still pending so finding due work stays
//! cheap however much history accumulates.
//!
//! Must never build SQL from a value, and never put a payload into an error.

use super::{During, SqliteStore, limit_value, uint};
use crate::deliveries::{Deliveries, DeliveryQuery, DeliveryRecord, DeliveryState, NewDelivery};
use crate::{Result, StoreError};
use rusqlite::types::Value;
use rusqlite::{Row, params, params_from_iter};
use ward_model::Timestamp;

/// The delivery queue's migration: `key` is unique so re-enqueueing the same message is a
/// no-op; ids are AUTOINCREMENT so a display that pages by id never sees one reused.
pub(crate) const DELIVERIES_SCHEMA: &str = r#"
    CREATE TABLE deliveries (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        key          TEXT NOT NULL UNIQUE,
        channel      TEXT NOT NULL,
        alert_id     TEXT NOT NULL,
        payload      TEXT NOT NULL,
        state        TEXT NOT NULL,
        attempts     INTEGER NOT NULL DEFAULT 0,
        next_try     INTEGER NOT NULL,
        created_at   INTEGER NOT NULL,
        delivered_at INTEGER,
        last_error   TEXT
    ) STRICT;
    CREATE INDEX deliveries_due ON deliveries(next_try, id) WHERE state = 'pending';
    CREATE INDEX deliveries_channel ON deliveries(channel, id);
    CREATE INDEX deliveries_alert ON deliveries(alert_id, id);
"#;

const COLUMNS: &str = "SELECT id, key, channel, alert_id, payload, state, attempts, next_try, created_at, delivered_at, last_error FROM deliveries";

fn delivery_row(row: &Row<'_>) -> rusqlite::Result<(DeliveryRecord, String)> {
    let state: String = row.get(5)?;
    Ok((
        DeliveryRecord {
            id: row.get(0)?,
            key: row.get(1)?,
            channel: row.get(2)?,
            alert_id: row.get(3)?,
            payload: row.get(4)?,
            state: DeliveryState::Pending,
            attempts: u32::try_from(uint(row.get(6)?)).unwrap_or(u32::MAX),
            next_try: Timestamp(row.get(7)?),
            created_at: Timestamp(row.get(8)?),
            delivered_at: row.get::<_, Option<i64>>(9)?.map(Timestamp),
            last_error: row.get(10)?,
        },
        state,
    ))
}

fn with_state((mut record, state): (DeliveryRecord, String)) -> Result<DeliveryRecord> {
    record.state = DeliveryState::parse(&state).ok_or_else(|| StoreError::Corrupt {
        what: format!("delivery {}", record.id),
        reason: "its state is not one Ward writes".into(),
    })?;
    Ok(record)
}

fn collect(
    store: &SqliteStore,
    rows: impl Iterator<Item = rusqlite::Result<(DeliveryRecord, String)>>,
    op: &'static str,
) -> Result<Vec<DeliveryRecord>> {
    rows.map(|row| {
        row.during(op)
            .and_then(with_state)
            .and_then(|r| store.open_payload(r))
    })
    .collect()
}

/// A payload sealed in an encrypted store: `sealed:<key id>:<base64 of the sealed bytes>`.
/// Payloads for channels approved for PHI carry it; masked ones are sealed all the same.
const SEALED_PAYLOAD: &str = "sealed:";

fn payload_aad(key: &str) -> Vec<u8> {
    format!("delivery\0{key}").into_bytes()
}

impl SqliteStore {
    fn seal_payload(&self, key: &str, payload: &str) -> Result<String> {
        use base64::Engine as _;
        let Some(data_key) = self.sealing_key()? else {
            return Ok(payload.to_string());
        };
        let sealed = data_key
            .seal(&payload_aad(key), payload.as_bytes())
            .map_err(|e| StoreError::Keys(e.to_string()))?;
        Ok(format!(
            "{SEALED_PAYLOAD}{}:{}",
            data_key.id(),
            base64::engine::general_purpose::STANDARD.encode(sealed)
        ))
    }

    fn open_payload(&self, mut record: DeliveryRecord) -> Result<DeliveryRecord> {
        let Some(rest) = record.payload.strip_prefix(SEALED_PAYLOAD) else {
            return Ok(record);
        };
        let what = format!("delivery {}", record.id);
        let corrupt = |reason: &str| StoreError::Corrupt {
            what: what.clone(),
            reason: reason.into(),
        };
        let (key_id, sealed) = rest
            .split_once(':')
            .ok_or_else(|| corrupt("its sealed payload has no key id"))?;
        let key_id: i64 = key_id
            .parse()
            .map_err(|_| corrupt("its key id is not a number"))?;
        let plain = crate::keyring::open_sealed_base64(
            self.vault.as_ref(),
            key_id,
            &payload_aad(&record.key),
            sealed,
            &what,
        )?;
        record.payload =
            String::from_utf8(plain).map_err(|_| corrupt("its payload is not text"))?;
        Ok(record)
    }
}

impl Deliveries for SqliteStore {
    fn enqueue(&self, delivery: &NewDelivery) -> Result<bool> {
        const OP: &str = "enqueue delivery";
        let payload = self.seal_payload(&delivery.key, &delivery.payload)?;
        let writer = self.writer();
        let inserted = writer
            .conn
            .prepare_cached(
                "INSERT INTO deliveries (key, channel, alert_id, payload, state, attempts, next_try, created_at)
                 VALUES (?1, ?2, ?3, ?4, 'pending', 0, ?5, ?6)
                 ON CONFLICT (key) DO NOTHING",
            )
            .and_then(|mut s| {
                s.execute(params![
                    delivery.key,
                    delivery.channel,
                    delivery.alert_id,
                    payload,
                    delivery.not_before.millis(),
                    delivery.created_at.millis(),
                ])
            })
            .during(OP)?;
        Ok(inserted == 1)
    }

    fn due(&self, now: Timestamp, limit: usize) -> Result<Vec<DeliveryRecord>> {
        const OP: &str = "list due deliveries";
        let reader = self.reader()?;
        let sql = format!(
            "{COLUMNS} WHERE state = 'pending' AND next_try <= ?1 ORDER BY next_try, id LIMIT ?2"
        );
        let mut stmt = reader.prepare_cached(&sql).during(OP)?;
        let rows = stmt
            .query_map(
                params![now.millis(), limit_value(Some(limit))],
                delivery_row,
            )
            .during(OP)?;
        collect(self, rows, OP)
    }

    fn mark_delivered(&self, id: i64, at: Timestamp) -> Result<bool> {
        const OP: &str = "mark delivery delivered";
        let writer = self.writer();
        let changed = writer
            .conn
            .prepare_cached(
                "UPDATE deliveries SET state = 'delivered', delivered_at = ?2, attempts = attempts + 1
                 WHERE id = ?1 AND state = 'pending'",
            )
            .and_then(|mut s| s.execute(params![id, at.millis()]))
            .during(OP)?;
        Ok(changed == 1)
    }

    fn mark_failed(
        &self,
        id: i64,
        attempts: u32,
        next_try: Option<Timestamp>,
        error: &str,
    ) -> Result<bool> {
        const OP: &str = "mark delivery failed";
        let writer = self.writer();
        let (state, next) = match next_try {
            Some(t) => ("pending", Value::Integer(t.millis())),
            None => ("abandoned", Value::Null),
        };
        // An abandoned delivery keeps the instant it was last due.
        let changed = writer
            .conn
            .prepare_cached(
                "UPDATE deliveries SET state = ?2, attempts = ?3, next_try = coalesce(?4, next_try), last_error = ?5
                 WHERE id = ?1 AND state = 'pending'",
            )
            .and_then(|mut s| s.execute(params![id, state, i64::from(attempts), next, error]))
            .during(OP)?;
        Ok(changed == 1)
    }

    fn list(&self, query: &DeliveryQuery) -> Result<Vec<DeliveryRecord>> {
        const OP: &str = "list deliveries";
        let mut sql = format!("{COLUMNS} WHERE 1 = 1");
        let mut args: Vec<Value> = Vec::new();
        if let Some(channel) = &query.channel {
            sql.push_str(" AND channel = ?");
            args.push(Value::Text(channel.clone()));
        }
        if let Some(alert_id) = &query.alert_id {
            sql.push_str(" AND alert_id = ?");
            args.push(Value::Text(alert_id.clone()));
        }
        if let Some(state) = query.state {
            sql.push_str(" AND state = ?");
            args.push(Value::Text(state.as_str().to_string()));
        }
        sql.push_str(" ORDER BY id DESC LIMIT ?");
        args.push(limit_value(query.limit));
        let reader = self.reader()?;
        let mut stmt = reader.prepare_cached(&sql).during(OP)?;
        let rows = stmt
            .query_map(params_from_iter(&args), delivery_row)
            .during(OP)?;
        collect(self, rows, OP)
    }

    fn counts(&self) -> Result<Vec<(String, DeliveryState, u64)>> {
        const OP: &str = "count deliveries";
        let reader = self.reader()?;
        let mut stmt = reader
            .prepare_cached(
                "SELECT channel, state, count(*) FROM deliveries GROUP BY channel, state ORDER BY channel, state",
            )
            .during(OP)?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                ))
            })
            .during(OP)?;
        let mut out = Vec::new();
        for row in rows {
            let (channel, state, n) = row.during(OP)?;
            let state = DeliveryState::parse(&state).ok_or_else(|| StoreError::Corrupt {
                what: format!("deliveries of channel {channel}"),
                reason: "unknown delivery state".into(),
            })?;
            out.push((channel, state, uint(n)));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    fn open() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        (dir, store)
    }

    fn new(key: &str, channel: &str, not_before: i64) -> NewDelivery {
        NewDelivery {
            key: key.into(),
            channel: channel.into(),
            alert_id: format!("alert-{key}"),
            payload: format!("{{\"k\":\"{key}\"}}"),
            not_before: Timestamp(not_before),
            created_at: Timestamp(0),
        }
    }

    #[test]
    fn enqueue_is_idempotent_per_key() {
        let (_dir, store) = open();
        let q = store.deliveries();
        assert!(q.enqueue(&new("a", "mail", 0)).unwrap());
        let mut again = new("a", "mail", 0);
        again.payload = "changed".into();
        assert!(!q.enqueue(&again).unwrap());
        let all = q.list(&DeliveryQuery::default()).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].payload, "{\"k\":\"a\"}");
        assert_eq!(all[0].state, DeliveryState::Pending);
    }

    #[test]
    fn due_returns_pending_work_whose_time_has_come_oldest_first() {
        let (_dir, store) = open();
        let q = store.deliveries();
        q.enqueue(&new("late", "mail", 3_000)).unwrap();
        q.enqueue(&new("early", "mail", 1_000)).unwrap();
        q.enqueue(&new("future", "mail", 9_000)).unwrap();
        let due = q.due(Timestamp(5_000), 10).unwrap();
        let keys: Vec<_> = due.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(keys, ["early", "late"]);
        assert_eq!(q.due(Timestamp(5_000), 1).unwrap().len(), 1);

        assert!(q.mark_delivered(due[0].id, Timestamp(5_001)).unwrap());
        assert!(!q.mark_delivered(due[0].id, Timestamp(5_002)).unwrap());
        let keys: Vec<_> = q
            .due(Timestamp(5_000), 10)
            .unwrap()
            .into_iter()
            .map(|d| d.key)
            .collect();
        assert_eq!(keys, ["late"]);
    }

    #[test]
    fn failures_reschedule_or_abandon_and_keep_the_error() {
        let (_dir, store) = open();
        let q = store.deliveries();
        q.enqueue(&new("x", "siem", 0)).unwrap();
        let id = q.due(Timestamp(0), 10).unwrap()[0].id;
        assert!(
            q.mark_failed(id, 1, Some(Timestamp(60_000)), "connection refused")
                .unwrap()
        );
        assert!(q.due(Timestamp(59_999), 10).unwrap().is_empty());
        let retry = q.due(Timestamp(60_000), 10).unwrap();
        assert_eq!(retry[0].attempts, 1);
        assert_eq!(retry[0].last_error.as_deref(), Some("connection refused"));

        assert!(q.mark_failed(id, 2, None, "gave up").unwrap());
        assert!(q.due(Timestamp(i64::MAX), 10).unwrap().is_empty());
        let listed = q
            .list(&DeliveryQuery {
                state: Some(DeliveryState::Abandoned),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].next_try, Timestamp(60_000));
        assert!(!q.mark_failed(id, 3, Some(Timestamp(1)), "again").unwrap());
    }

    #[test]
    fn list_filters_by_channel_and_alert_newest_first() {
        let (_dir, store) = open();
        let q = store.deliveries();
        for (key, channel) in [("1", "mail"), ("2", "siem"), ("3", "mail")] {
            q.enqueue(&new(key, channel, 0)).unwrap();
        }
        let mail: Vec<_> = q
            .list(&DeliveryQuery {
                channel: Some("mail".into()),
                ..Default::default()
            })
            .unwrap()
            .into_iter()
            .map(|d| d.key)
            .collect();
        assert_eq!(mail, ["3", "1"]);
        let one = q
            .list(&DeliveryQuery {
                alert_id: Some("alert-2".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].channel, "siem");
    }

    #[test]
    fn pending_deliveries_survive_reopening_the_store() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SqliteStore::open(dir.path()).unwrap();
            store.deliveries().enqueue(&new("kept", "mail", 0)).unwrap();
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        let due = store.deliveries().due(Timestamp(0), 10).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].key, "kept");
    }
}
