//! Behaviour only the SQLite backend has: its file, its schema versioning, its hash chain
//! verification. What every backend must do is in `tests/conformance.rs`.

use super::*;
use crate::Checkpoint;
use tempfile::TempDir;

fn event(n: u32) -> Event {
    let raw = format!("{{\"n\":{n}}}").into_bytes();
    let time = Timestamp(1_700_000_000_000 + i64::from(n));
    let mut e = Event {
        id: EventId::of_record("test", time, &raw),
        time,
        class_uid: 6003,
        raw,
        ..Default::default()
    };
    e.metadata.product = "test".into();
    e.metadata.log_name = "feed".into();
    e.actor.user.name = Some(format!("user{}", n % 3));
    e
}

fn batch(range: std::ops::Range<u32>) -> Batch {
    Batch {
        events: range.map(event).collect(),
        ..Default::default()
    }
}

fn store() -> (TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    (dir, store)
}

/// A second connection to the same file, for doing what Ward never does.
fn raw_connection(store: &SqliteStore) -> Connection {
    Connection::open(store.path()).unwrap()
}

#[test]
fn creates_the_directory_and_the_database_file_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a").join("data");
    let store = SqliteStore::open(&nested).unwrap();
    assert_eq!(store.path(), nested.join(DB_FILE));
    assert!(nested.join(DB_FILE).is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&nested).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "data directory is open to others: {mode:o}"
        );
    }
}

#[test]
fn runs_with_write_ahead_logging_and_full_sync() {
    let (_dir, store) = store();
    let writer = store.writer();
    let mode: String = writer
        .conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    let sync: i64 = writer
        .conn
        .pragma_query_value(None, "synchronous", |r| r.get(0))
        .unwrap();
    let fk: i64 = writer
        .conn
        .pragma_query_value(None, "foreign_keys", |r| r.get(0))
        .unwrap();
    assert_eq!((mode.as_str(), sync, fk), ("wal", 2, 1));
}

#[test]
fn refuses_a_schema_newer_than_it_knows() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteStore::open(dir.path()).unwrap());
    let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
    conn.pragma_update(None, "user_version", schema::VERSION + 1)
        .unwrap();
    drop(conn);
    match SqliteStore::open(dir.path()) {
        Err(StoreError::SchemaTooNew { found, supported }) => {
            assert_eq!((found, supported), (schema::VERSION + 1, schema::VERSION));
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

#[test]
fn reopening_keeps_the_schema_version_and_applies_no_migration_twice() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteStore::open(dir.path()).unwrap());
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(
        schema::user_version(&raw_connection(&store)).unwrap(),
        schema::VERSION
    );
}

#[test]
fn an_intact_chain_verifies_across_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(store.verify_chain().unwrap(), None);
    assert_eq!(store.commit(&batch(0..10)).unwrap().batch_seq, 1);
    drop(store);
    let store = SqliteStore::open(dir.path()).unwrap();
    let q = NewQuarantined::new(
        "feed",
        "fhir",
        Position {
            line: 3,
            offset: 40,
            entry: Some(1),
        },
        "bad",
        b"\xff",
    );
    let receipt = store
        .commit(&Batch {
            quarantined: vec![q],
            ..batch(5..20)
        })
        .unwrap();
    assert_eq!(
        (receipt.inserted, receipt.duplicates, receipt.batch_seq),
        (10, 5, 2)
    );
    assert_eq!(store.verify_chain().unwrap(), None);
}

#[test]
fn a_batch_of_only_duplicates_adds_no_link_to_the_chain() {
    let (_dir, store) = store();
    store.commit(&batch(0..3)).unwrap();
    let checkpoint = Some(Checkpoint {
        source: "feed".into(),
        offset: 9,
    });
    let receipt = store
        .commit(&Batch {
            checkpoint,
            ..batch(0..3)
        })
        .unwrap();
    assert_eq!(
        receipt,
        Receipt {
            inserted: 0,
            duplicates: 3,
            quarantined: 0,
            batch_seq: 0,
            new_events: vec![],
        }
    );
    assert_eq!(store.stats().unwrap().batches, 1);
    assert_eq!(store.commit(&batch(3..4)).unwrap().batch_seq, 2);
    assert_eq!(store.verify_chain().unwrap(), None);
}

#[test]
fn the_readiness_check_reads_one_row_not_whole_tables() {
    let (_dir, store) = store();
    store.ready().unwrap();
    store.commit(&batch(0..3)).unwrap();
    store.ready().unwrap();
    // `stats` counts whole tables (alerts, context); `ready` must not depend on them: a
    // probe on a large store read them all every few seconds.
    let conn = raw_connection(&store);
    conn.execute_batch("ALTER TABLE alerts RENAME TO alerts_gone")
        .unwrap();
    assert!(store.stats().is_err());
    store.ready().unwrap();
    // A store that cannot answer the read is not ready.
    conn.execute_batch("ALTER TABLE batches RENAME TO batches_gone")
        .unwrap();
    assert!(store.ready().is_err());
}

#[test]
fn chain_verification_detects_a_flipped_byte_in_a_stored_body() {
    let (_dir, store) = store();
    for start in [0, 10, 20] {
        store.commit(&batch(start..start + 10)).unwrap();
    }
    let conn = raw_connection(&store);
    let (seq, mut body): (i64, Vec<u8>) = conn
        .query_row(
            "SELECT seq, body FROM events WHERE batch_seq = 2 LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let last = body.len() - 1;
    body[last] ^= 1;
    conn.execute(
        "UPDATE events SET body = ?1 WHERE seq = ?2",
        params![body, seq],
    )
    .unwrap();
    assert_eq!(store.verify_chain().unwrap(), Some(2));
}

#[test]
fn chain_verification_detects_a_removed_event_and_a_removed_batch() {
    let (_dir, store) = store();
    for start in [0, 10, 20] {
        store.commit(&batch(start..start + 10)).unwrap();
    }
    let conn = raw_connection(&store);
    conn.execute(
        "DELETE FROM events WHERE seq = (SELECT max(seq) FROM events WHERE batch_seq = 3)",
        [],
    )
    .unwrap();
    assert_eq!(store.verify_chain().unwrap(), Some(3));
    conn.execute("DELETE FROM batches WHERE seq = 1", [])
        .unwrap();
    assert_eq!(store.verify_chain().unwrap(), Some(2));
}

#[test]
fn chain_verification_detects_an_altered_quarantined_record_but_not_a_released_one() {
    let (_dir, store) = store();
    let quarantined = (0..3)
        .map(|i| {
            NewQuarantined::new(
                "feed",
                "fhir",
                Position {
                    line: i,
                    offset: i * 10,
                    entry: None,
                },
                "bad",
                b"x",
            )
        })
        .collect();
    store
        .commit(&Batch {
            quarantined,
            ..Default::default()
        })
        .unwrap();
    store.commit(&batch(0..2)).unwrap();
    let first = store.list_quarantine(&QuarantineQuery::default()).unwrap()[0].id;
    assert_eq!(store.release_quarantine(&[first]).unwrap(), 1);
    assert_eq!(store.verify_chain().unwrap(), None);
    raw_connection(&store)
        .execute(
            "UPDATE quarantine SET reason = 'fine' WHERE id = ?1",
            [first + 1],
        )
        .unwrap();
    assert_eq!(store.verify_chain().unwrap(), Some(1));
}

#[test]
fn a_corrupt_body_is_reported_as_corrupt_not_a_panic() {
    let (_dir, store) = store();
    store.commit(&batch(0..3)).unwrap();
    let target = event(1).id;
    let conn = raw_connection(&store);
    conn.execute(
        "UPDATE events SET body = x'0500000001020304' WHERE id = ?1",
        [&target.0[..]],
    )
    .unwrap();
    assert!(matches!(
        store.get_event(&target),
        Err(StoreError::Corrupt { .. })
    ));
    assert!(matches!(
        store.query_events(&EventQuery::default()),
        Err(StoreError::Corrupt { .. })
    ));
    conn.execute(
        "UPDATE events SET codec = 99 WHERE id = ?1",
        [&target.0[..]],
    )
    .unwrap();
    assert!(matches!(
        store.get_event(&target),
        Err(StoreError::Corrupt { .. })
    ));
    // A well-formed body filed under another event's id is damage too.
    let other = event(2).id;
    conn.execute(
        "UPDATE events SET codec = 1, body = (SELECT body FROM events WHERE id = ?2) WHERE id = ?1",
        [&target.0[..], &other.0[..]],
    )
    .unwrap();
    assert!(matches!(
        store.get_event(&target),
        Err(StoreError::Corrupt { .. })
    ));
}

#[test]
fn corrupt_errors_do_not_quote_stored_contents() {
    let (_dir, store) = store();
    let mut e = event(0);
    e.patient.name = Some("Jane Doe".into());
    store
        .commit(&Batch {
            events: vec![e.clone()],
            ..Default::default()
        })
        .unwrap();
    let mut json = Vec::new();
    e.write_json_without_raw(&mut json).unwrap();
    let text = String::from_utf8(json)
        .unwrap()
        .replace("\"time\":\"", "\"time\":\"Jane Doe ");
    let mut body = (text.len() as u32).to_le_bytes().to_vec();
    body.extend_from_slice(&0u32.to_le_bytes());
    body.extend_from_slice(&lz4_flex::block::compress_with_dict(
        text.as_bytes(),
        crate::codec::DICTIONARY_1,
    ));
    raw_connection(&store)
        .execute("UPDATE events SET body = ?1", [body])
        .unwrap();
    let message = store.get_event(&e.id).unwrap_err().to_string();
    assert!(!message.contains("Jane"), "{message}");
}

/// A store written before migration 8 (lookup indexes led by the hour) keeps finding its
/// events after the upgrade, through the new bucket-led indexes, with no row rewritten.
#[test]
fn stores_with_hour_led_lookup_indexes_upgrade_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    store.commit(&batch(0..30)).unwrap();
    let conn = raw_connection(&store);
    drop(store);
    // Put the events table back as migration 7 left it.
    conn.execute_batch(
        "DROP INDEX events_user_bucket; DROP INDEX events_patient_bucket;
         DROP INDEX events_src_ip_bucket; DROP INDEX events_host_bucket;
         ALTER TABLE events DROP COLUMN bucket;
         CREATE INDEX events_user_time ON events(hour, user_key, time) WHERE user_key IS NOT NULL;
         CREATE INDEX events_patient_time ON events(hour, patient_key, time) WHERE patient_key IS NOT NULL;
         CREATE INDEX events_src_ip_time ON events(hour, src_ip, time) WHERE src_ip IS NOT NULL;
         CREATE INDEX events_host_time ON events(hour, host, time) WHERE host IS NOT NULL;",
    )
    .unwrap();
    conn.pragma_update(None, "user_version", 7).unwrap();
    drop(conn);

    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(
        schema::user_version(&raw_connection(&store)).unwrap(),
        schema::VERSION
    );
    let query = EventQuery {
        user: Some("user1".into()),
        ..Default::default()
    };
    let found = store.query_events(&query).unwrap();
    assert_eq!(found.len(), 10);
    assert!(
        found
            .iter()
            .all(|e| e.actor.user.name.as_deref() == Some("user1"))
    );
    let old_indexes: i64 = raw_connection(&store)
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name LIKE 'events_%_time' AND name != 'events_time'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(old_indexes, 0);
    assert!(store.verify().unwrap().is_intact());
}

#[test]
fn planning_a_lookup_seeks_the_ends_of_the_time_index_instead_of_scanning_it() {
    let (_dir, store) = store();
    store.commit(&batch(0..10)).unwrap();
    let reader = store.reader().unwrap();
    let plan: Vec<String> = reader
        .prepare(&format!("EXPLAIN QUERY PLAN {TIME_SPAN}"))
        .unwrap()
        .query_map([], |r| r.get(3))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert!(
        plan.iter().all(|step| !step.contains("SCAN events")),
        "{plan:?}"
    );
    assert_eq!(
        plan.iter()
            .filter(|step| step.contains("SEARCH events"))
            .count(),
        2,
        "{plan:?}"
    );
}

#[test]
fn lookup_queries_use_their_indexes() {
    let (_dir, store) = store();
    store.commit(&batch(0..10)).unwrap();
    let reader = store.reader().unwrap();
    for (query, index) in [
        (
            EventQuery {
                user: Some("u".into()),
                ..Default::default()
            },
            "events_user_bucket",
        ),
        (
            EventQuery {
                patient: Some("p".into()),
                ..Default::default()
            },
            "events_patient_bucket",
        ),
        (
            EventQuery {
                src_ip: Some("10.0.0.1".into()),
                ..Default::default()
            },
            "events_src_ip_bucket",
        ),
        (
            EventQuery {
                host: Some("h".into()),
                ..Default::default()
            },
            "events_host_bucket",
        ),
        (
            EventQuery {
                since: Some(Timestamp(0)),
                ..Default::default()
            },
            "events_time",
        ),
    ] {
        let filter = store.event_filter(&query, store.lookup_buckets(&reader, &query).unwrap());
        let sql = format!(
            "EXPLAIN QUERY PLAN {}SELECT seq FROM events{} ORDER BY time DESC, id DESC LIMIT 10",
            filter.prefix, filter.sql
        );
        let mut stmt = reader.prepare(&sql).unwrap();
        let plan: Vec<String> = stmt
            .query_map(params_from_iter(&filter.args), |r| r.get(3))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert!(
            plan.iter().any(|step| step.contains(index)),
            "{query:?} planned as {plan:?}"
        );
    }
}

#[test]
fn readers_see_each_commit_as_soon_as_it_returns() {
    let (_dir, store) = store();
    let store = std::sync::Arc::new(store);
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            for start in (0..200).step_by(20) {
                store.commit(&batch(start..start + 20)).unwrap();
            }
        })
    };
    let mut seen = 0;
    loop {
        let writer_done = writer.is_finished();
        let now = store.count_events(&EventQuery::default()).unwrap();
        assert!(
            now >= seen && now % 20 == 0,
            "saw {now} after {seen}: a reader saw part of a batch"
        );
        seen = now;
        if writer_done {
            break;
        }
    }
    writer.join().unwrap();
    assert_eq!(seen, 200);
    assert_eq!(store.verify_chain().unwrap(), None);
}
