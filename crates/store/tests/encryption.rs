//! PHI at rest: what an encrypted SQLite store writes to disk, and what `verify` catches.
//! These reach under the `Store` trait into the database file on purpose: they play the
//! attacker with a copy of the disk.

use rusqlite::Connection;
use std::path::{Path, PathBuf};
use ward_model::event::class;
use ward_model::{
    Alert, AlertEntities, ContextKind, ContextResource, ContextSummary, Event, EventId,
    NewQuarantined, Position, Severity, Timestamp,
};
use ward_store::{AlertQuery, Batch, EventQuery, SqliteStore, Store};
use ward_vault::{Kek, KekSource};

/// Strings that identify the test patient; none may appear in the data directory.
const NAME: &str = "Quixotewhistle";
const MRN: &str = "MRN7731904";
const PATIENT: &str = "pt773190";

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        Kek::create_file(&dir.path().join("kek")).unwrap();
        Fixture { dir }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn kek(&self) -> KekSource {
        KekSource::File(self.dir.path().join("kek"))
    }

    fn open(&self) -> SqliteStore {
        SqliteStore::open_encrypted(&self.data(), &self.kek()).unwrap()
    }

    fn db(&self) -> Connection {
        Connection::open(self.data().join("ward.db")).unwrap()
    }
}

fn event(n: u32) -> Event {
    let raw = format!(
        r#"{{"resourceType":"AuditEvent","id":"ae-{n}","entity":[{{"what":{{"reference":"Patient/{PATIENT}","display":"{NAME}, Ann ({MRN})"}}}}]}}"#
    )
    .into_bytes();
    let time = Timestamp(1_700_000_000_000 + i64::from(n) * 1000);
    let mut e = Event {
        id: EventId::of_record("test", time, &raw),
        time,
        class_uid: class::API_ACTIVITY,
        activity_id: 2,
        raw,
        ..Default::default()
    };
    e.metadata.product = "fhir".into();
    e.metadata.log_name = "audit.ndjson".into();
    e.actor.user.name = Some("nurse.jones".into());
    e.patient.id = Some(PATIENT.into());
    e.patient.name = Some(format!("Ann {NAME}"));
    e
}

fn patient() -> ContextResource {
    ContextResource {
        kind: ContextKind::Patient,
        id: MRN.into(),
        summary: ContextSummary::Patient {
            identifiers: vec![ward_model::context::Identifier {
                system: Some("urn:mrn".into()),
                type_code: Some("MR".into()),
                value: MRN.into(),
            }],
            name: ward_model::context::PersonName {
                family: Some(NAME.into()),
                given: vec!["Ann".into()],
            },
            birth_date: Some("1970-01-01".into()),
            address: None,
            deceased: false,
            deceased_at: None,
            security_labels: vec!["V".into()],
            contact_names: vec![],
        },
        raw: format!(r#"{{"resourceType":"Patient","id":"{MRN}","name":[{{"family":"{NAME}"}}]}}"#)
            .into_bytes(),
    }
}

fn alert() -> Alert {
    Alert {
        id: "a1".into(),
        rule_id: "privacy.vip".into(),
        title: format!("VIP record of {NAME} opened"),
        severity: Severity::High,
        first_seen: Timestamp(1_700_000_000_000),
        last_seen: Timestamp(1_700_000_001_000),
        count: 1,
        entities: AlertEntities {
            user: Some("nurse.jones".into()),
            patient: Some(MRN.into()),
            ..Default::default()
        },
        attack: vec![],
        hipaa: vec!["164.312(b)".into()],
        status: Default::default(),
        author: None,
        license: None,
        references: vec![],
        description: Some(format!(
            "{NAME} ({MRN}) was opened without a care relationship"
        )),
    }
}

/// Fills a store with every kind of row that can hold PHI.
fn fill(store: &SqliteStore) {
    let quarantined = NewQuarantined::new(
        "adt.hl7",
        "hl7",
        Position {
            line: 7,
            offset: 700,
            entry: None,
        },
        format!("PID-7 of {NAME} is not an HL7 date"),
        format!("PID|1||{MRN}||{NAME}^Ann").as_bytes(),
    );
    store
        .commit(&Batch {
            events: (0..20).map(event).collect(),
            quarantined: vec![quarantined],
            checkpoint: None,
        })
        .unwrap();
    store.put_context(&[patient()]).unwrap();
    store.upsert_alert(&alert(), &[event(0).id]).unwrap();
    store
        .close_alert(
            "a1",
            &format!("false positive: {NAME} is the nurse's mother"),
        )
        .unwrap();
    store
        .accounts()
        .create_user(&ward_store::UserRecord {
            name: "admin".into(),
            role: "admin".into(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            totp_secret: Some(TOTP.to_vec()),
            failed_logins: 0,
            locked_until: None,
            disabled: false,
            created_at: Timestamp(1_700_000_000_000),
        })
        .unwrap();
    // A correlation window grouped by patient, as the Sigma detector saves it.
    store
        .save_detector_state("sigma", format!("{{\"group\":[\"{MRN}\"]}}").as_bytes())
        .unwrap();
}

/// A TOTP seed: a secret, sealed like PHI.
const TOTP: &[u8; 20] = b"TOTPSEEDtotpseed1234";

/// Every file of the data directory, as bytes (after the store closed: the log included).
fn files_containing(dir: &Path, needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
            hits.push(path.display().to_string());
        }
    }
    hits
}

#[test]
fn a_copy_of_the_data_directory_reveals_no_patient_and_the_key_reads_everything_back() {
    let f = Fixture::new();
    {
        let store = f.open();
        fill(&store);
        // Read back through the store: everything is there, found by patient and entity.
        let found = store
            .query_events(&EventQuery {
                patient: Some(PATIENT.into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(found.len(), 20);
        assert_eq!(
            found[0].patient.name.as_deref(),
            Some(&*format!("Ann {NAME}"))
        );
        assert_eq!(
            store.get_context(ContextKind::Patient, MRN).unwrap(),
            Some(patient())
        );
        let alerts = store
            .list_alerts(&AlertQuery {
                entity: Some(MRN.into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].description, alert().description);
        let reason = store
            .alert_workflow("a1")
            .unwrap()
            .unwrap()
            .close_reason
            .unwrap();
        assert!(reason.contains(NAME));
        let admin = store.accounts().get_user("admin").unwrap().unwrap();
        assert_eq!(admin.totp_secret.as_deref(), Some(&TOTP[..]));
        let state = store.detector_state("sigma").unwrap().unwrap();
        assert!(String::from_utf8_lossy(&state).contains(MRN));
        let q = store.list_quarantine(&Default::default()).unwrap();
        assert!(String::from_utf8_lossy(&q[0].record.raw).contains(MRN));
        assert!(q[0].record.reason.contains(NAME));
        // The database and its log are the owner's alone.
        #[cfg(unix)]
        for file in ["ward.db", "ward.db-wal", "ward.db-shm"] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(f.data().join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
        // Checked while the write-ahead log still holds the rows, then after it is merged.
        for needle in [NAME, MRN, PATIENT, "nurse.jones", "TOTPSEED"] {
            assert_eq!(
                files_containing(&f.data(), needle),
                Vec::<String>::new(),
                "{needle}"
            );
        }
    }
    for needle in [NAME, MRN, PATIENT, "nurse.jones", "TOTPSEED"] {
        assert_eq!(
            files_containing(&f.data(), needle),
            Vec::<String>::new(),
            "{needle}"
        );
    }

    // The control: the same rows in a store without encryption are readable on disk, so the
    // search above would have found them.
    let plain_dir = tempfile::tempdir().unwrap();
    {
        let plain = SqliteStore::open(plain_dir.path()).unwrap();
        fill(&plain);
    }
    assert!(!files_containing(plain_dir.path(), NAME).is_empty());
    assert!(!files_containing(plain_dir.path(), MRN).is_empty());
    assert!(!files_containing(plain_dir.path(), "TOTPSEED").is_empty());

    // Without its key the store does not open; with another key neither.
    let err = SqliteStore::open(&f.data()).unwrap_err().to_string();
    assert!(err.contains("encrypted"), "{err}");
    let other = f.dir.path().join("other");
    Kek::create_file(&other).unwrap();
    let err = SqliteStore::open_encrypted(&f.data(), &KekSource::File(other))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not by the one given"), "{err}");
}

#[test]
fn verify_names_the_batch_of_any_flipped_byte_in_an_event_row() {
    let f = Fixture::new();
    {
        let store = f.open();
        store
            .commit(&Batch {
                events: (0..3).map(event).collect(),
                ..Default::default()
            })
            .unwrap();
        store
            .commit(&Batch {
                events: (3..6).map(event).collect(),
                ..Default::default()
            })
            .unwrap();
        assert!(store.verify().unwrap().is_intact());
    }
    let db = f.db();
    let (seq, body): (i64, Vec<u8>) = db
        .query_row(
            "SELECT seq, body FROM events WHERE batch_seq = 2 LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    // Every byte of the sealed body, one at a time.
    for i in 0..body.len() {
        let mut flipped = body.clone();
        flipped[i] ^= 0x01;
        db.execute(
            "UPDATE events SET body = ?1 WHERE seq = ?2",
            rusqlite::params![flipped, seq],
        )
        .unwrap();
        let report = f.open().verify().unwrap();
        assert_eq!(report.first_bad_batch, Some(2), "byte {i} of the body");
        assert_eq!(report.batches, 1);
    }
    db.execute(
        "UPDATE events SET body = ?1 WHERE seq = ?2",
        rusqlite::params![body, seq],
    )
    .unwrap();
    assert!(f.open().verify().unwrap().is_intact());
    // And every indexed column: a changed time, lookup key, class, product or key id.
    for (column, change) in [
        ("time", "time + 1"),
        ("hour", "hour + 1"),
        ("class_uid", "class_uid + 1"),
        ("severity_id", "severity_id + 1"),
        ("product", "'fhir2'"),
        ("user_key", "upper(user_key)"),
        ("patient_key", "substr(patient_key, 2) || 'a'"),
        ("src_ip", "'10.0.0.9'"),
        ("key_id", "key_id + 1"),
        ("id", "randomblob(16)"),
    ] {
        let before: rusqlite::types::Value = db
            .query_row(
                &format!("SELECT {column} FROM events WHERE seq = ?1"),
                [seq],
                |r| r.get(0),
            )
            .unwrap();
        db.execute(
            &format!("UPDATE events SET {column} = {change} WHERE seq = ?1"),
            [seq],
        )
        .unwrap();
        let report = f.open().verify().unwrap();
        assert_eq!(report.first_bad_batch, Some(2), "{column} changed");
        db.execute(
            &format!("UPDATE events SET {column} = ?1 WHERE seq = ?2"),
            rusqlite::params![before, seq],
        )
        .unwrap();
    }
    assert!(f.open().verify().unwrap().is_intact());
}

#[test]
fn signed_checkpoints_catch_forgery_and_removal_of_the_newest_batches() {
    let f = Fixture::new();
    {
        let store = f.open();
        for i in 0..3 {
            store
                .commit(&Batch {
                    events: vec![event(i)],
                    ..Default::default()
                })
                .unwrap();
        }
        // The first batch and the head at close are signed.
    }
    let report = f.open().verify().unwrap();
    assert!(report.is_intact());
    assert_eq!(report.last_checkpoint.map(|c| c.0), Some(3));
    let db = f.db();
    // Removing the newest batch with its rows leaves a chain that hashes, but the signed
    // checkpoint names a batch that is gone.
    db.execute_batch("DELETE FROM events WHERE batch_seq = 3; DELETE FROM batches WHERE seq = 3;")
        .unwrap();
    let report = f.open().verify().unwrap();
    assert_eq!(report.first_bad_batch, None);
    assert_eq!(report.bad_checkpoint, Some(3));
    // A forged signature does not verify either.
    let f = Fixture::new();
    {
        let store = f.open();
        store
            .commit(&Batch {
                events: vec![event(1)],
                ..Default::default()
            })
            .unwrap();
    }
    f.db()
        .execute("UPDATE checkpoints SET signature = randomblob(64)", [])
        .unwrap();
    assert_eq!(f.open().verify().unwrap().bad_checkpoint, Some(1));
}

#[test]
fn rotation_rewraps_keys_and_reencryption_moves_rows_to_the_new_key() {
    let f = Fixture::new();
    let store = f.open();
    fill(&store);
    let new_path = f.dir.path().join("kek2");
    let new = Kek::create_file(&new_path).unwrap();
    assert_eq!(
        store.rotate_kek(new).unwrap(),
        3,
        "lookup, signing and one data key"
    );
    // Writing continues under a new data key; the old key's rows still read.
    store
        .commit(&Batch {
            events: vec![event(50)],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(store.count_events(&EventQuery::default()).unwrap(), 21);
    let done = store.reencrypt(|_| {}).unwrap();
    assert_eq!(
        (done.events, done.quarantined, done.context, done.alerts),
        (20, 1, 1, 1)
    );
    assert_eq!(
        store.reencrypt(|_| {}).unwrap().total(),
        0,
        "nothing left to re-seal"
    );
    drop(store);
    // The old key no longer opens the store; the new one reads everything.
    assert!(SqliteStore::open_encrypted(&f.data(), &f.kek()).is_err());
    let store = SqliteStore::open_encrypted(&f.data(), &KekSource::File(new_path)).unwrap();
    assert_eq!(
        store.get_context(ContextKind::Patient, MRN).unwrap(),
        Some(patient())
    );
    assert!(store.verify().unwrap().is_intact());
    let keys: Vec<i64> = f
        .db()
        .prepare("SELECT DISTINCT key_id FROM events")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(keys.len(), 1, "every event under the one current key");
}

/// Ingest seals bodies on its decode workers ahead of the commit. A batch sealed under a data
/// key that was retired while it waited (the key-encryption key was rotated because it may
/// have leaked) is sealed again under the new key when committed, not stored under the old.
#[test]
fn a_batch_prepared_before_a_rotation_is_committed_under_the_new_data_key() {
    let f = Fixture::new();
    let store = f.open();
    fill(&store);
    let prepared = store
        .prepare(Batch {
            events: vec![event(60), event(61)],
            ..Default::default()
        })
        .unwrap();
    let new = Kek::create_file(&f.dir.path().join("kek2")).unwrap();
    store.rotate_kek(new).unwrap();
    // Another writer commits first and starts the new data key.
    store
        .commit(&Batch {
            events: vec![event(62)],
            ..Default::default()
        })
        .unwrap();
    let receipt = store.commit_prepared(&prepared).unwrap();
    assert_eq!(receipt.inserted, 2);
    let db = f.db();
    let newest_key: i64 = db
        .query_row(
            "SELECT max(id) FROM data_keys WHERE period IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let keys: Vec<i64> = db
        .prepare("SELECT key_id FROM events WHERE batch_seq = ?1")
        .unwrap()
        .query_map([receipt.batch_seq as i64], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(keys, vec![newest_key, newest_key]);
    assert_eq!(store.get_event(&event(61).id).unwrap(), Some(event(61)));
    assert!(store.verify().unwrap().is_intact());
}

#[test]
fn a_store_that_held_plaintext_is_encrypted_in_place_when_first_opened_with_a_key() {
    let f = Fixture::new();
    {
        let plain = SqliteStore::open(&f.data()).unwrap();
        fill(&plain);
    }
    assert!(!files_containing(&f.data(), NAME).is_empty());
    {
        let store = f.open();
        assert!(
            store.verify().unwrap().is_intact(),
            "the chain covers plaintext: unchanged"
        );
        assert_eq!(
            store.get_context(ContextKind::Patient, MRN).unwrap(),
            Some(patient())
        );
        let by_patient = store
            .count_events(&EventQuery {
                patient: Some(PATIENT.into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(by_patient, 20);
        let state = store.detector_state("sigma").unwrap().unwrap();
        assert!(
            String::from_utf8_lossy(&state).contains(MRN),
            "the saved state reads back sealed"
        );
    }
    for needle in [NAME, MRN, PATIENT] {
        assert_eq!(
            files_containing(&f.data(), needle),
            Vec::<String>::new(),
            "{needle}"
        );
    }
}
