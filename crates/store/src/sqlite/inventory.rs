//! [`Inventory`] for the embedded backend: assets, sightings, feeds and TLS scans, each one
//! table of its own migration ([`INVENTORY_SCHEMA`]).
//!
//! Must never build SQL from a value.

use super::{During, SqliteStore, int, uint};
use crate::inventory::{AssetRecord, FeedRecord, Inventory, ScanRecord, Sighting, SightingReview};
use crate::{Result, StoreError};
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};
use ward_model::Timestamp;

/// The inventory's migration. Lists (sources, services) are newline-separated text: none of
/// their values can hold a newline (decoder names, `tcp/443`).
pub(crate) const INVENTORY_SCHEMA: &str = r#"
    CREATE TABLE assets (
        id          TEXT PRIMARY KEY,
        body        TEXT NOT NULL,
        updated_at  INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE sightings (
        key          TEXT PRIMARY KEY,
        address      TEXT,
        hostname     TEXT,
        mac          TEXT,
        first_seen   INTEGER NOT NULL,
        last_seen    INTEGER NOT NULL,
        events       INTEGER NOT NULL,
        sources      TEXT NOT NULL,
        services     TEXT NOT NULL,
        review       TEXT NOT NULL,
        review_note  TEXT,
        reviewed_by  TEXT,
        reviewed_at  INTEGER
    ) STRICT;
    CREATE INDEX sightings_unreviewed ON sightings(key) WHERE review = 'unreviewed';
    CREATE TABLE feeds (
        name         TEXT PRIMARY KEY,
        kind         TEXT NOT NULL,
        version      TEXT NOT NULL,
        origin       TEXT NOT NULL,
        imported_at  INTEGER NOT NULL,
        sha256       TEXT NOT NULL,
        entries      INTEGER NOT NULL,
        body         BLOB NOT NULL
    ) STRICT;
    CREATE TABLE tls_scans (
        target      TEXT PRIMARY KEY,
        scanned_at  INTEGER NOT NULL,
        grade       TEXT NOT NULL,
        body        TEXT NOT NULL
    ) STRICT;
    CREATE TABLE settings (
        name   TEXT PRIMARY KEY,
        value  TEXT NOT NULL
    ) STRICT;
"#;

fn asset_row(row: &Row<'_>) -> rusqlite::Result<AssetRecord> {
    Ok(AssetRecord {
        id: row.get(0)?,
        body: row.get(1)?,
        updated_at: Timestamp(row.get(2)?),
    })
}

const SIGHTING_COLUMNS: &str = "SELECT key, address, hostname, mac, first_seen, last_seen, events, sources, services, review, review_note, reviewed_by, reviewed_at FROM sightings";

fn split_list(text: &str) -> Vec<String> {
    text.split('\n')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Sorted union of two lists, without empty or multi-line values.
fn union(stored: &[String], more: &[String]) -> String {
    let mut all: Vec<&str> = stored
        .iter()
        .chain(more)
        .map(String::as_str)
        .filter(|s| !s.is_empty() && !s.contains('\n'))
        .collect();
    all.sort_unstable();
    all.dedup();
    all.join("\n")
}

fn sighting_row(row: &Row<'_>) -> rusqlite::Result<(Sighting, String, Option<String>)> {
    let review: String = row.get(9)?;
    let note: Option<String> = row.get(10)?;
    Ok((
        Sighting {
            key: row.get(0)?,
            address: row.get(1)?,
            hostname: row.get(2)?,
            mac: row.get(3)?,
            first_seen: Timestamp(row.get(4)?),
            last_seen: Timestamp(row.get(5)?),
            events: uint(row.get(6)?),
            sources: split_list(&row.get::<_, String>(7)?),
            services: split_list(&row.get::<_, String>(8)?),
            review: SightingReview::Unreviewed,
            reviewed_by: row.get(11)?,
            reviewed_at: row.get::<_, Option<i64>>(12)?.map(Timestamp),
        },
        review,
        note,
    ))
}

fn with_review(
    (mut sighting, review, note): (Sighting, String, Option<String>),
) -> Result<Sighting> {
    sighting.review = match review.as_str() {
        "unreviewed" => SightingReview::Unreviewed,
        "accepted" => SightingReview::Accepted {
            asset: note.unwrap_or_default(),
        },
        "dismissed" => SightingReview::Dismissed {
            reason: note.unwrap_or_default(),
        },
        _ => {
            return Err(StoreError::Corrupt {
                what: format!("sighting {}", sighting.key),
                reason: "its review is not one Ward writes".into(),
            });
        }
    };
    Ok(sighting)
}

fn feed_row(row: &Row<'_>) -> rusqlite::Result<FeedRecord> {
    Ok(FeedRecord {
        name: row.get(0)?,
        kind: row.get(1)?,
        version: row.get(2)?,
        origin: row.get(3)?,
        imported_at: Timestamp(row.get(4)?),
        sha256: row.get(5)?,
        entries: uint(row.get(6)?),
        body: row.get(7)?,
    })
}

impl Inventory for SqliteStore {
    fn put_assets(&self, assets: &[AssetRecord]) -> Result<u64> {
        const OP: &str = "store assets";
        let mut writer = self.writer();
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(OP)?;
        let mut written = 0;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO assets (id, body, updated_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
                )
                .during(OP)?;
            for asset in assets {
                written += insert
                    .execute(params![asset.id, asset.body, asset.updated_at.millis()])
                    .during(OP)? as u64;
            }
        }
        tx.commit().during(OP)?;
        Ok(written)
    }

    fn get_asset(&self, id: &str) -> Result<Option<AssetRecord>> {
        const OP: &str = "read asset";
        let reader = self.reader()?;
        reader
            .prepare_cached("SELECT id, body, updated_at FROM assets WHERE id = ?1")
            .and_then(|mut s| s.query_row(params![id], asset_row).optional())
            .during(OP)
    }

    fn list_assets(&self) -> Result<Vec<AssetRecord>> {
        const OP: &str = "list assets";
        let reader = self.reader()?;
        let mut stmt = reader
            .prepare_cached("SELECT id, body, updated_at FROM assets ORDER BY id")
            .during(OP)?;
        let rows = stmt.query_map([], asset_row).during(OP)?;
        rows.map(|r| r.during(OP)).collect()
    }

    fn delete_asset(&self, id: &str) -> Result<bool> {
        const OP: &str = "delete asset";
        let writer = self.writer();
        let deleted = writer
            .conn
            .prepare_cached("DELETE FROM assets WHERE id = ?1")
            .and_then(|mut s| s.execute(params![id]))
            .during(OP)?;
        Ok(deleted == 1)
    }

    fn record_sightings(&self, sightings: &[Sighting]) -> Result<u64> {
        const OP: &str = "record sightings";
        let mut writer = self.writer();
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(OP)?;
        let mut new = 0;
        {
            let mut read = tx
                .prepare_cached(&format!("{SIGHTING_COLUMNS} WHERE key = ?1"))
                .during(OP)?;
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO sightings (key, address, hostname, mac, first_seen, last_seen, events, sources, services, review)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'unreviewed')",
                )
                .during(OP)?;
            let mut update = tx
                .prepare_cached(
                    "UPDATE sightings SET address = ?2, hostname = ?3, mac = ?4, first_seen = ?5,
                        last_seen = ?6, events = ?7, sources = ?8, services = ?9
                     WHERE key = ?1",
                )
                .during(OP)?;
            for s in sightings {
                let stored = read
                    .query_row(params![s.key], sighting_row)
                    .optional()
                    .during(OP)?;
                match stored {
                    None => {
                        insert
                            .execute(params![
                                s.key,
                                s.address,
                                s.hostname,
                                s.mac,
                                s.first_seen.millis(),
                                s.last_seen.millis(),
                                int(s.events),
                                union(&[], &s.sources),
                                union(&[], &s.services),
                            ])
                            .during(OP)?;
                        new += 1;
                    }
                    Some((old, _, _)) => {
                        update
                            .execute(params![
                                s.key,
                                s.address.as_ref().or(old.address.as_ref()),
                                s.hostname.as_ref().or(old.hostname.as_ref()),
                                s.mac.as_ref().or(old.mac.as_ref()),
                                old.first_seen.min(s.first_seen).millis(),
                                old.last_seen.max(s.last_seen).millis(),
                                int(old.events.saturating_add(s.events)),
                                union(&old.sources, &s.sources),
                                union(&old.services, &s.services),
                            ])
                            .during(OP)?;
                    }
                }
            }
        }
        tx.commit().during(OP)?;
        Ok(new)
    }

    fn sightings(&self, unreviewed_only: bool) -> Result<Vec<Sighting>> {
        const OP: &str = "list sightings";
        let reader = self.reader()?;
        let sql = if unreviewed_only {
            format!("{SIGHTING_COLUMNS} WHERE review = 'unreviewed' ORDER BY key")
        } else {
            format!("{SIGHTING_COLUMNS} ORDER BY key")
        };
        let mut stmt = reader.prepare_cached(&sql).during(OP)?;
        let rows = stmt.query_map([], sighting_row).during(OP)?;
        rows.map(|r| r.during(OP).and_then(with_review)).collect()
    }

    fn review_sighting(
        &self,
        key: &str,
        review: &SightingReview,
        by: &str,
        at: Timestamp,
    ) -> Result<bool> {
        const OP: &str = "review sighting";
        let note = match review {
            SightingReview::Unreviewed => None,
            SightingReview::Accepted { asset } => Some(asset.as_str()),
            SightingReview::Dismissed { reason } => Some(reason.as_str()),
        };
        let (by, at) = match review {
            SightingReview::Unreviewed => (None, None),
            _ => (Some(by), Some(at.millis())),
        };
        let writer = self.writer();
        let changed = writer
            .conn
            .prepare_cached(
                "UPDATE sightings SET review = ?2, review_note = ?3, reviewed_by = ?4, reviewed_at = ?5
                 WHERE key = ?1",
            )
            .and_then(|mut s| s.execute(params![key, review.as_str(), note, by, at]))
            .during(OP)?;
        Ok(changed == 1)
    }

    fn put_feed(&self, feed: &FeedRecord) -> Result<()> {
        const OP: &str = "store feed";
        let writer = self.writer();
        writer
            .conn
            .prepare_cached(
                "INSERT INTO feeds (name, kind, version, origin, imported_at, sha256, entries, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, version = excluded.version,
                    origin = excluded.origin, imported_at = excluded.imported_at,
                    sha256 = excluded.sha256, entries = excluded.entries, body = excluded.body",
            )
            .and_then(|mut s| {
                s.execute(params![
                    feed.name,
                    feed.kind,
                    feed.version,
                    feed.origin,
                    feed.imported_at.millis(),
                    feed.sha256,
                    int(feed.entries),
                    feed.body,
                ])
            })
            .during(OP)?;
        Ok(())
    }

    fn feed(&self, name: &str) -> Result<Option<FeedRecord>> {
        const OP: &str = "read feed";
        let reader = self.reader()?;
        reader
            .prepare_cached(
                "SELECT name, kind, version, origin, imported_at, sha256, entries, body
                 FROM feeds WHERE name = ?1",
            )
            .and_then(|mut s| s.query_row(params![name], feed_row).optional())
            .during(OP)
    }

    fn feeds(&self) -> Result<Vec<FeedRecord>> {
        const OP: &str = "list feeds";
        let reader = self.reader()?;
        let mut stmt = reader
            .prepare_cached(
                "SELECT name, kind, version, origin, imported_at, sha256, entries, X''
                 FROM feeds ORDER BY name",
            )
            .during(OP)?;
        let rows = stmt.query_map([], feed_row).during(OP)?;
        rows.map(|r| r.during(OP)).collect()
    }

    fn put_scan(&self, scan: &ScanRecord) -> Result<()> {
        const OP: &str = "store TLS scan";
        let writer = self.writer();
        writer
            .conn
            .prepare_cached(
                "INSERT INTO tls_scans (target, scanned_at, grade, body) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (target) DO UPDATE SET scanned_at = excluded.scanned_at,
                    grade = excluded.grade, body = excluded.body
                 WHERE excluded.scanned_at >= tls_scans.scanned_at",
            )
            .and_then(|mut s| {
                s.execute(params![
                    scan.target,
                    scan.scanned_at.millis(),
                    scan.grade,
                    scan.body
                ])
            })
            .during(OP)?;
        Ok(())
    }

    fn scans(&self) -> Result<Vec<ScanRecord>> {
        const OP: &str = "list TLS scans";
        let reader = self.reader()?;
        let mut stmt = reader
            .prepare_cached("SELECT target, scanned_at, grade, body FROM tls_scans ORDER BY target")
            .during(OP)?;
        let rows = stmt
            .query_map([], |row| {
                Ok(ScanRecord {
                    target: row.get(0)?,
                    scanned_at: Timestamp(row.get(1)?),
                    grade: row.get(2)?,
                    body: row.get(3)?,
                })
            })
            .during(OP)?;
        rows.map(|r| r.during(OP)).collect()
    }
}

impl SqliteStore {
    pub(crate) fn read_setting(&self, name: &str) -> Result<Option<String>> {
        const OP: &str = "read setting";
        let reader = self.reader()?;
        reader
            .prepare_cached("SELECT value FROM settings WHERE name = ?1")
            .and_then(|mut s| s.query_row(params![name], |r| r.get(0)).optional())
            .during(OP)
    }

    pub(crate) fn write_setting(&self, name: &str, value: &str) -> Result<()> {
        const OP: &str = "write setting";
        let writer = self.writer();
        writer
            .conn
            .prepare_cached(
                "INSERT INTO settings (name, value) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            )
            .and_then(|mut s| s.execute(params![name, value]))
            .during(OP)?;
        Ok(())
    }
}

/// Migration: detectors' state between runs (open correlation windows), one row per detector.
/// `value` is sealed under data key `key_id` when the store has keys (NULL: plaintext, a store
/// without encryption); the state may name users and patients.
pub(crate) const DETECTOR_STATE_SCHEMA: &str = r#"
    CREATE TABLE detector_state (
        name     TEXT PRIMARY KEY,
        key_id   INTEGER,
        value    BLOB NOT NULL,
        saved_at INTEGER NOT NULL
    ) STRICT;
"#;

/// Sealed state is bound to the detector it belongs to.
fn state_aad(name: &str) -> Vec<u8> {
    let mut aad = b"detector-state\0".to_vec();
    aad.extend_from_slice(name.as_bytes());
    aad
}

impl SqliteStore {
    pub(crate) fn read_detector_state(&self, name: &str) -> Result<Option<Vec<u8>>> {
        const OP: &str = "read detector state";
        let reader = self.reader()?;
        let row: Option<(Vec<u8>, Option<i64>)> = reader
            .prepare_cached("SELECT value, key_id FROM detector_state WHERE name = ?1")
            .and_then(|mut s| {
                s.query_row(params![name], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .during(OP)?;
        match row {
            None => Ok(None),
            Some((value, None)) => Ok(Some(value)),
            Some((sealed, Some(key_id))) => crate::keyring::open_sealed(
                self.vault.as_ref(),
                key_id,
                &state_aad(name),
                &sealed,
                &format!("the saved state of detector {name}"),
            )
            .map(Some),
        }
    }

    /// Seals the states a store saved before it had keys (when it is first opened with one).
    pub(crate) fn seal_plain_detector_states(&self) -> Result<()> {
        const OP: &str = "seal detector state";
        let plain: Vec<(String, Vec<u8>)> = {
            let reader = self.reader()?;
            let mut stmt = reader
                .prepare_cached("SELECT name, value FROM detector_state WHERE key_id IS NULL")
                .during(OP)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .during(OP)?;
            rows.map(|r| r.during(OP)).collect::<Result<_>>()?
        };
        for (name, value) in plain {
            self.write_detector_state(&name, &value)?;
        }
        Ok(())
    }

    pub(crate) fn write_detector_state(&self, name: &str, state: &[u8]) -> Result<()> {
        const OP: &str = "save detector state";
        let (value, key_id) = match self.sealing_key()? {
            None => (state.to_vec(), None),
            Some(key) => (
                key.seal(&state_aad(name), state)
                    .map_err(|e| crate::StoreError::Keys(e.to_string()))?,
                Some(key.id()),
            ),
        };
        let writer = self.writer();
        writer
            .conn
            .prepare_cached(
                "INSERT INTO detector_state (name, key_id, value, saved_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO UPDATE SET key_id = excluded.key_id, value = excluded.value,
                     saved_at = excluded.saved_at",
            )
            .and_then(|mut s| s.execute(params![name, key_id, value, Timestamp::now().millis()]))
            .during(OP)?;
        Ok(())
    }
}
