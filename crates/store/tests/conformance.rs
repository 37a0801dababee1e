//! The contract every [`Store`] backend keeps, written against the trait alone: no SQL, no
//! backend type. Each backend instantiates [`conformance_suite!`] at the bottom of this file
//! with a fixture (a fresh, empty place to keep data, cleaned up when dropped) and a way to
//! open a store over it. The fixture outlives the stores opened over it, so a case can drop a
//! store and open it again to prove what was committed is still there.
//!
//! A case never depends on another case, on wall-clock time beyond "now-ish", or on ids a
//! backend assigns beyond their documented order.

use std::collections::BTreeSet;
use ward_model::event::class;
use ward_model::{
    Alert, AlertEntities, AlertStatus, ContextKind, ContextResource, ContextSummary, Event,
    EventId, NewQuarantined, Position, Severity, Status, Timestamp,
};
use ward_store::{
    AlertQuery, AlertWorkflow, ApiTokenRecord, AuditQuery, Batch, Checkpoint, DEFAULT_LIMIT,
    EventQuery, Prepared, QuarantineQuery, Receipt, SessionRecord, SessionStage, SqliteStore,
    Store, UserChange, UserRecord,
};

/// Expands to one `#[test]` per case for a backend.
///
/// `fixture` makes a fresh, empty place for data (a temporary directory, a scratch database);
/// `open` opens a store over `&fixture`, and may be called again after the first store is
/// dropped.
macro_rules! conformance_suite {
    ($backend:ident, fixture: $fixture:expr, open: $open:expr $(,)?) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;

            conformance_suite!(@cases $fixture, $open;
                commit_stores_events_and_returns_them_by_id,
                recommitting_the_same_events_stores_nothing_and_counts_duplicates,
                duplicates_within_one_batch_are_stored_once,
                events_round_trip_exactly,
                query_by_time_range_includes_since_and_excludes_until,
                query_by_user_matches_the_user_name_or_else_the_uid,
                query_by_patient_matches_the_patient_id,
                lookups_over_weeks_respect_time_bounds_at_bucket_edges,
                query_by_src_ip_matches_the_source_address,
                query_by_host_matches_the_device_or_else_the_source_hostname,
                query_by_class_uid_matches_the_class,
                query_by_alert_id_returns_the_events_linked_to_the_alert,
                combined_filters_must_all_match,
                query_returns_newest_first_with_ties_broken_by_id_descending,
                query_limit_caps_the_results_and_defaults_to_the_default_limit,
                count_events_agrees_with_query_and_ignores_the_limit,
                quarantined_records_round_trip_with_position_reason_and_raw,
                quarantine_lists_oldest_first_with_paging_and_a_source_filter,
                releasing_quarantined_records_removes_them,
                a_batch_of_only_quarantined_records_is_committed,
                a_prepared_batch_commits_as_the_batch_itself_would,
                an_empty_batch_changes_nothing,
                a_receipt_names_the_events_newly_stored,
                batches_that_store_something_get_increasing_sequence_numbers,
                checkpoints_update_sources_with_offsets_and_counts,
                context_is_put_replaced_and_got_per_kind,
                context_lists_in_a_stable_order_with_paging,
                a_second_alert_upsert_updates_the_one_row,
                alerts_list_most_recently_seen_first_with_filters,
                alert_status_changes_are_kept,
                a_detector_re_seeing_an_alert_keeps_the_status_people_gave_it,
                alerts_filter_by_severity_rule_and_entity,
                closing_records_the_reason_and_assignment_survives_updates,
                alert_events_lists_linked_event_ids_newest_first,
                alert_and_delivery_counts_group_by_severity_status_channel_and_state,
                users_are_created_once_listed_and_changed,
                failed_sign_ins_lock_the_account_after_the_threshold,
                sign_in_attempts_are_counted_per_key_within_a_window,
                sessions_round_trip_move_on_and_expire,
                api_tokens_are_found_by_hash_listed_and_revoked,
                the_setup_token_is_consumed_exactly_once,
                the_audit_trail_holds_only_wards_own_events,
                stats_count_everything_stored,
                assets_are_put_replaced_listed_and_deleted,
                sightings_merge_by_key_and_keep_reviews,
                feeds_are_replaced_by_name_and_listed_without_bodies,
                the_latest_scan_per_target_is_kept,
                settings_are_written_and_overwritten,
                detector_state_is_saved_per_detector_and_replaced,
                concurrent_commits_from_several_threads_are_all_stored,
            );

            #[test]
            fn data_survives_reopening_the_store() {
                let fixture = ($fixture)();
                super::data_survives_reopening_the_store(|| ($open)(&fixture));
            }
        }
    };
    (@cases $fixture:expr, $open:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                let fixture = ($fixture)();
                let store = ($open)(&fixture);
                super::$case(&store);
            }
        )*
    };
}

conformance_suite!(
    sqlite,
    fixture: || tempfile::tempdir().expect("a temporary directory"),
    open: |dir: &tempfile::TempDir| SqliteStore::open(dir.path()).expect("the store opens"),
);

// The same contract with PHI encrypted at rest: the key-encryption key in a file beside (not
// inside) the data directory, as Ward keeps it.
conformance_suite!(
    sqlite_encrypted,
    fixture: || {
        let dir = tempfile::tempdir().expect("a temporary directory");
        ward_vault::Kek::create_file(&dir.path().join("kek")).expect("a key file");
        dir
    },
    open: |dir: &tempfile::TempDir| {
        let kek = ward_vault::KekSource::File(dir.path().join("kek"));
        SqliteStore::open_encrypted(&dir.path().join("data"), &kek).expect("the store opens")
    },
);

// ---------------------------------------------------------------------------------------------
// Test data

/// 2023-11-14T22:13:20Z: every test event's time is this plus whole seconds.
const T0: i64 = 1_700_000_000_000;

fn at(seconds: i64) -> Timestamp {
    Timestamp(T0 + seconds * 1000)
}

/// Event `n`: unique id and raw record, time `T0 + n` seconds, from `feed.ndjson`.
fn event(n: u32) -> Event {
    let raw = format!("{{\"resourceType\":\"AuditEvent\",\"id\":\"ae-{n}\"}}").into_bytes();
    let time = at(n.into());
    let mut e = Event {
        id: EventId::of_record("test", time, &raw),
        time,
        class_uid: class::API_ACTIVITY,
        activity_id: 2,
        raw,
        ..Default::default()
    };
    e.metadata.product = "test".into();
    e.metadata.log_name = "feed.ndjson".into();
    e
}

fn with(mut e: Event, change: impl FnOnce(&mut Event)) -> Event {
    change(&mut e);
    e
}

fn events(range: std::ops::Range<u32>) -> Vec<Event> {
    range.map(event).collect()
}

fn commit<S: Store>(store: &S, events: Vec<Event>) -> Receipt {
    store
        .commit(&Batch {
            events,
            ..Default::default()
        })
        .expect("commit")
}

fn ids(events: &[Event]) -> Vec<EventId> {
    events.iter().map(|e| e.id).collect()
}

/// The ids `query` returns, in order.
fn found<S: Store>(store: &S, query: EventQuery) -> Vec<EventId> {
    ids(&store.query_events(&query).expect("query"))
}

/// The ids of `events` newest first, as a query returns them.
fn newest_first(events: &[&Event]) -> Vec<EventId> {
    let mut sorted: Vec<&Event> = events.to_vec();
    sorted.sort_by_key(|e| std::cmp::Reverse((e.time, e.id)));
    sorted.iter().map(|e| e.id).collect()
}

fn quarantined(source: &str, line: u64, raw: &[u8]) -> NewQuarantined {
    let position = Position {
        line,
        offset: line * 100,
        entry: None,
    };
    NewQuarantined::new(
        source,
        "fhir",
        position,
        format!("line {line} is not JSON"),
        raw,
    )
}

fn patient(id: &str, family: &str) -> ContextResource {
    ContextResource {
        kind: ContextKind::Patient,
        id: id.into(),
        summary: ContextSummary::Patient {
            identifiers: vec![ward_model::context::Identifier {
                system: Some("urn:mrn".into()),
                type_code: Some("MR".into()),
                value: format!("MRN-{id}"),
            }],
            name: ward_model::context::PersonName {
                family: Some(family.into()),
                given: vec!["Ann".into()],
            },
            birth_date: Some("1970-01-01".into()),
            address: None,
            deceased: false,
            deceased_at: None,
            security_labels: vec!["R".into()],
            contact_names: vec![],
        },
        raw: format!("{{\"resourceType\":\"Patient\",\"id\":\"{id}\"}}").into_bytes(),
    }
}

fn practitioner(id: &str) -> ContextResource {
    ContextResource {
        kind: ContextKind::Practitioner,
        id: id.into(),
        summary: ContextSummary::Practitioner {
            identifiers: vec![],
            name: ward_model::context::PersonName {
                family: Some("Osler".into()),
                given: vec![],
            },
            birth_date: None,
            address: None,
            active: true,
        },
        raw: b"{\"resourceType\":\"Practitioner\"}".to_vec(),
    }
}

fn alert(id: &str, last_seen: Timestamp, count: u64) -> Alert {
    Alert {
        id: id.into(),
        rule_id: "ward.snooping.same_surname".into(),
        title: "Record of a patient with the user's surname opened".into(),
        severity: Severity::High,
        first_seen: at(0),
        last_seen,
        count,
        entities: AlertEntities {
            user: Some("jdoe".into()),
            patient: Some("p1".into()),
            ..Default::default()
        },
        attack: vec!["T1078".into()],
        hipaa: vec!["164.308(a)(1)(ii)(D)".into()],
        status: AlertStatus::Open,
        author: Some("Ward".into()),
        license: Some("DRL-1.1".into()),
        references: vec!["https://example.org/rule".into()],
        description: Some("why".into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Events

fn commit_stores_events_and_returns_them_by_id<S: Store>(store: &S) {
    let batch = events(0..3);
    let receipt = commit(store, batch.clone());
    assert_eq!(
        (receipt.inserted, receipt.duplicates, receipt.quarantined),
        (3, 0, 0)
    );
    assert!(receipt.batch_seq > 0);
    for e in &batch {
        assert_eq!(store.get_event(&e.id).unwrap().as_ref(), Some(e));
    }
    assert_eq!(store.get_event(&event(99).id).unwrap(), None);
}

fn recommitting_the_same_events_stores_nothing_and_counts_duplicates<S: Store>(store: &S) {
    commit(store, events(0..3));
    let again = commit(store, events(0..3));
    assert_eq!((again.inserted, again.duplicates), (0, 3));
    let mixed = commit(store, events(2..5));
    assert_eq!((mixed.inserted, mixed.duplicates), (2, 1));
    assert_eq!(store.count_events(&EventQuery::default()).unwrap(), 5);
}

fn duplicates_within_one_batch_are_stored_once<S: Store>(store: &S) {
    let receipt = commit(store, vec![event(1), event(2), event(1), event(1)]);
    assert_eq!((receipt.inserted, receipt.duplicates), (2, 2));
    assert_eq!(
        found(store, EventQuery::default()),
        vec![event(2).id, event(1).id]
    );
    assert_eq!(store.stats().unwrap().events, 2);
}

fn events_round_trip_exactly<S: Store>(store: &S) {
    let full = with(event(1), |e| {
        e.time = Timestamp(T0 + 123);
        e.class_uid = class::AUTHENTICATION;
        e.activity_id = 1;
        e.activity_name = Some("Logon".into());
        e.severity = Severity::Medium;
        e.status = Status::Failure;
        e.status_detail = Some("bad password".into());
        e.message = Some("Überprüfung fehlgeschlagen \u{1F512}".into());
        e.metadata.uid = Some("ae-1".into());
        e.metadata.event_code = Some("110114".into());
        e.actor.user.name = Some("jdoe".into());
        e.actor.user.uid = Some("Practitioner/17".into());
        e.actor.user.full_name = Some("Jane Doe".into());
        e.actor.user.domain = Some("HOSP".into());
        e.actor.user.role = Some("nurse".into());
        e.actor.app_name = Some("EHR".into());
        e.src_endpoint = ward_model::Endpoint {
            ip: Some("10.1.2.3".into()),
            hostname: Some("ws-1".into()),
            port: Some(51000),
        };
        e.dst_endpoint = ward_model::Endpoint {
            ip: Some("::1".into()),
            hostname: None,
            port: Some(443),
        };
        e.device = ward_model::Endpoint {
            ip: None,
            hostname: Some("ehr-app-1".into()),
            port: None,
        };
        e.email.from = Some("a@example.org".into());
        e.email.to = vec!["b@example.org".into(), "c@example.org".into()];
        e.email.subject = Some("results".into());
        e.email.message_uid = Some("<m@x>".into());
        e.patient.id = Some("Patient/p1".into());
        e.patient.name = Some("John Q. Public".into());
        e.resource.r#type = Some("Observation".into());
        e.resource.id = Some("obs-9".into());
        e.resource.query = Some("name=smith&_count=100".into());
        e.purpose_of_use = vec!["TREAT".into(), "ETREAT".into()];
        e.unmapped.insert("EventID", serde_json::json!(4625));
        e.unmapped.insert("ratio", serde_json::json!(0.5));
        e.unmapped
            .insert("flags", serde_json::json!([true, null, "x"]));
        e.unmapped
            .insert("nested", serde_json::json!({"a": {"b": "c"}}));
        e.raw = vec![0xff, 0xfe, b'{', 0x00, 0xc3, 0x28, b'}'];
    });
    let minimal = with(event(2), |e| {
        e.class_uid = class::BASE_EVENT;
        e.raw = Vec::new();
    });
    let text_raw = with(event(3), |e| {
        e.raw = "{\"note\":\"quote \\\" and ünïcode\"}\n".into()
    });
    commit(store, vec![full.clone(), minimal.clone(), text_raw.clone()]);
    for e in [&full, &minimal, &text_raw] {
        assert_eq!(store.get_event(&e.id).unwrap().as_ref(), Some(e));
    }
    let queried = store.query_events(&EventQuery::default()).unwrap();
    assert_eq!(queried, vec![text_raw, minimal, full]);
}

fn query_by_time_range_includes_since_and_excludes_until<S: Store>(store: &S) {
    commit(store, events(0..10));
    let range = EventQuery {
        since: Some(at(3)),
        until: Some(at(7)),
        ..Default::default()
    };
    assert_eq!(
        found(store, range),
        ids(&[event(6), event(5), event(4), event(3)])
    );
    let since = EventQuery {
        since: Some(at(8)),
        ..Default::default()
    };
    assert_eq!(found(store, since), ids(&[event(9), event(8)]));
    let until = EventQuery {
        until: Some(at(1)),
        ..Default::default()
    };
    assert_eq!(found(store, until), ids(&[event(0)]));
    let empty = EventQuery {
        since: Some(at(5)),
        until: Some(at(5)),
        ..Default::default()
    };
    assert_eq!(found(store, empty), vec![]);
}

fn query_by_user_matches_the_user_name_or_else_the_uid<S: Store>(store: &S) {
    let named = with(event(1), |e| {
        e.actor.user.name = Some("jdoe".into());
        e.actor.user.uid = Some("u-17".into());
    });
    let uid_only = with(event(2), |e| e.actor.user.uid = Some("jdoe".into()));
    let other = with(event(3), |e| e.actor.user.name = Some("asmith".into()));
    let nobody = event(4);
    commit(
        store,
        vec![named.clone(), uid_only.clone(), other.clone(), nobody],
    );
    let query = |user: &str| EventQuery {
        user: Some(user.into()),
        ..Default::default()
    };
    assert_eq!(found(store, query("jdoe")), ids(&[uid_only, named]));
    assert_eq!(found(store, query("asmith")), ids(&[other]));
    assert_eq!(
        found(store, query("u-17")),
        vec![],
        "the uid is not the user key when a name is present"
    );
    assert_eq!(
        found(store, query("JDOE")),
        vec![],
        "user names match exactly"
    );
}

fn query_by_patient_matches_the_patient_id<S: Store>(store: &S) {
    let p1 = with(event(1), |e| e.patient.id = Some("p1".into()));
    let p1_later = with(event(5), |e| e.patient.id = Some("p1".into()));
    let p2 = with(event(2), |e| e.patient.id = Some("p2".into()));
    let named_only = with(event(3), |e| e.patient.name = Some("p1".into()));
    commit(
        store,
        vec![p1.clone(), p1_later.clone(), p2.clone(), named_only],
    );
    let query = |p: &str| EventQuery {
        patient: Some(p.into()),
        ..Default::default()
    };
    assert_eq!(found(store, query("p1")), ids(&[p1_later, p1]));
    assert_eq!(found(store, query("p2")), ids(&[p2]));
    assert_eq!(found(store, query("p3")), vec![]);
}

/// Lookups across a long span, with bounds falling exactly on and just beside hour and
/// ten-minute edges (the SQLite backend buckets its lookup indexes by ten minutes, and did by
/// the hour), and before 1970.
fn lookups_over_weeks_respect_time_bounds_at_bucket_edges<S: Store>(store: &S) {
    const HOUR: i64 = 3_600_000;
    const TEN_MINUTES: i64 = 600_000;
    let base = 1_700_000_000_000 - 1_700_000_000_000 % HOUR;
    let times = [
        -HOUR - 1,
        -TEN_MINUTES - 1,
        -TEN_MINUTES,
        -1,
        0,
        base - 1,
        base,
        base + 1,
        base + TEN_MINUTES - 1,
        base + TEN_MINUTES,
        base + HOUR,
        base + 21 * 24 * HOUR,
    ];
    let events: Vec<Event> = times
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            let raw = format!("{{\"edge\":{i}}}").into_bytes();
            let mut e = with(event(i as u32), |e| e.patient.id = Some("p".into()));
            e.time = Timestamp(t);
            e.id = EventId::of_record("test", e.time, &raw);
            e.raw = raw;
            e
        })
        .collect();
    commit(store, events.clone());
    let between = |since: Option<i64>, until: Option<i64>| {
        let query = EventQuery {
            patient: Some("p".into()),
            since: since.map(Timestamp),
            until: until.map(Timestamp),
            ..Default::default()
        };
        let mut times: Vec<i64> = store
            .query_events(&query)
            .unwrap()
            .iter()
            .map(|e| e.time.millis())
            .collect();
        times.sort();
        assert_eq!(store.count_events(&query).unwrap(), times.len() as u64);
        times
    };
    assert_eq!(between(None, None), times.to_vec());
    assert_eq!(
        between(Some(base), Some(base + HOUR)),
        vec![base, base + 1, base + TEN_MINUTES - 1, base + TEN_MINUTES]
    );
    assert_eq!(
        between(Some(base - 1), Some(base + HOUR + 1)),
        vec![
            base - 1,
            base,
            base + 1,
            base + TEN_MINUTES - 1,
            base + TEN_MINUTES,
            base + HOUR
        ]
    );
    assert_eq!(
        between(Some(base + 1), Some(base + TEN_MINUTES)),
        vec![base + 1, base + TEN_MINUTES - 1]
    );
    assert_eq!(
        between(Some(base + TEN_MINUTES), Some(base + TEN_MINUTES + 1)),
        vec![base + TEN_MINUTES]
    );
    assert_eq!(
        between(Some(-HOUR - 1), Some(0)),
        vec![-HOUR - 1, -TEN_MINUTES - 1, -TEN_MINUTES, -1]
    );
    assert_eq!(
        between(Some(-TEN_MINUTES), Some(-TEN_MINUTES + 1)),
        vec![-TEN_MINUTES]
    );
    assert_eq!(
        between(Some(base + HOUR + 1), None),
        vec![base + 21 * 24 * HOUR]
    );
    assert_eq!(
        between(Some(base + 22 * 24 * HOUR), None),
        Vec::<i64>::new()
    );
}

fn query_by_src_ip_matches_the_source_address<S: Store>(store: &S) {
    let from = with(event(1), |e| e.src_endpoint.ip = Some("10.0.0.5".into()));
    let to = with(event(2), |e| e.dst_endpoint.ip = Some("10.0.0.5".into()));
    let device = with(event(3), |e| e.device.ip = Some("10.0.0.5".into()));
    commit(store, vec![from.clone(), to, device]);
    let query = EventQuery {
        src_ip: Some("10.0.0.5".into()),
        ..Default::default()
    };
    assert_eq!(found(store, query), ids(&[from]));
}

fn query_by_host_matches_the_device_or_else_the_source_hostname<S: Store>(store: &S) {
    let device = with(event(1), |e| e.device.hostname = Some("ws1".into()));
    let source = with(event(2), |e| e.src_endpoint.hostname = Some("ws1".into()));
    let elsewhere = with(event(3), |e| {
        e.device.hostname = Some("ws2".into());
        e.src_endpoint.hostname = Some("ws1".into());
    });
    let destination = with(event(4), |e| e.dst_endpoint.hostname = Some("ws1".into()));
    commit(
        store,
        vec![
            device.clone(),
            source.clone(),
            elsewhere.clone(),
            destination,
        ],
    );
    let query = |h: &str| EventQuery {
        host: Some(h.into()),
        ..Default::default()
    };
    assert_eq!(found(store, query("ws1")), ids(&[source, device]));
    assert_eq!(found(store, query("ws2")), ids(&[elsewhere]));
}

fn query_by_class_uid_matches_the_class<S: Store>(store: &S) {
    let logon = with(event(1), |e| e.class_uid = class::AUTHENTICATION);
    let api = event(2);
    commit(store, vec![logon.clone(), api.clone()]);
    let query = |c: u32| EventQuery {
        class_uid: Some(c),
        ..Default::default()
    };
    assert_eq!(found(store, query(class::AUTHENTICATION)), ids(&[logon]));
    assert_eq!(found(store, query(class::API_ACTIVITY)), ids(&[api]));
    assert_eq!(found(store, query(class::EMAIL_ACTIVITY)), vec![]);
}

fn query_by_alert_id_returns_the_events_linked_to_the_alert<S: Store>(store: &S) {
    commit(store, events(0..6));
    store
        .upsert_alert(&alert("a1", at(2), 2), &[event(1).id, event(2).id])
        .unwrap();
    store
        .upsert_alert(&alert("a1", at(4), 3), &[event(2).id, event(4).id])
        .unwrap();
    store
        .upsert_alert(&alert("a2", at(5), 1), &[event(5).id])
        .unwrap();
    let query = |a: &str| EventQuery {
        alert_id: Some(a.into()),
        ..Default::default()
    };
    assert_eq!(
        found(store, query("a1")),
        ids(&[event(4), event(2), event(1)])
    );
    assert_eq!(found(store, query("a2")), ids(&[event(5)]));
    assert_eq!(found(store, query("a3")), vec![]);
    assert_eq!(store.count_events(&query("a1")).unwrap(), 3);
}

fn combined_filters_must_all_match<S: Store>(store: &S) {
    let mut batch = Vec::new();
    for n in 0..24u32 {
        batch.push(with(event(n), |e| {
            e.actor.user.name = Some(format!("user{}", n % 2));
            e.patient.id = Some(format!("p{}", n % 3));
            e.src_endpoint.ip = Some(format!("10.0.0.{}", n % 4));
            e.class_uid = if n % 5 == 0 {
                class::AUTHENTICATION
            } else {
                class::API_ACTIVITY
            };
        }));
    }
    commit(store, batch.clone());
    let query = EventQuery {
        since: Some(at(2)),
        until: Some(at(22)),
        user: Some("user0".into()),
        patient: Some("p0".into()),
        src_ip: Some("10.0.0.2".into()),
        class_uid: Some(class::API_ACTIVITY),
        ..Default::default()
    };
    // n even, n % 3 == 0, n % 4 == 2, n % 5 != 0, 2 <= n < 22: n = 6, 18.
    assert_eq!(
        found(store, query.clone()),
        ids(&[batch[18].clone(), batch[6].clone()])
    );
    assert_eq!(store.count_events(&query).unwrap(), 2);
}

fn query_returns_newest_first_with_ties_broken_by_id_descending<S: Store>(store: &S) {
    let same_time: Vec<Event> = (10..16)
        .map(|n| with(event(n), |e| e.time = at(100)))
        .collect();
    let older = event(1);
    let newer = with(event(2), |e| e.time = at(200));
    let mut batch = same_time.clone();
    batch.insert(3, newer.clone());
    batch.push(older.clone());
    commit(store, batch);
    let mut all: Vec<&Event> = same_time.iter().collect();
    all.push(&older);
    all.push(&newer);
    let expected = newest_first(&all);
    assert_eq!(expected.first(), Some(&newer.id));
    assert_eq!(expected.last(), Some(&older.id));
    assert_eq!(found(store, EventQuery::default()), expected);
}

fn query_limit_caps_the_results_and_defaults_to_the_default_limit<S: Store>(store: &S) {
    let total = DEFAULT_LIMIT as u32 + 5;
    commit(store, events(0..total));
    let limited = EventQuery {
        limit: Some(3),
        ..Default::default()
    };
    assert_eq!(
        found(store, limited),
        ids(&[event(total - 1), event(total - 2), event(total - 3)])
    );
    let default = store.query_events(&EventQuery::default()).unwrap();
    assert_eq!(default.len(), DEFAULT_LIMIT);
    assert_eq!(default.last().map(|e| e.id), Some(event(5).id));
    assert_eq!(
        found(
            store,
            EventQuery {
                limit: Some(0),
                ..Default::default()
            }
        ),
        vec![]
    );
}

fn count_events_agrees_with_query_and_ignores_the_limit<S: Store>(store: &S) {
    let batch: Vec<Event> = (0..30)
        .map(|n| {
            with(event(n), |e| {
                e.actor.user.name = Some(format!("user{}", n % 3))
            })
        })
        .collect();
    commit(store, batch);
    let queries = [
        EventQuery::default(),
        EventQuery {
            user: Some("user1".into()),
            ..Default::default()
        },
        EventQuery {
            since: Some(at(10)),
            until: Some(at(20)),
            ..Default::default()
        },
        EventQuery {
            user: Some("user2".into()),
            since: Some(at(15)),
            ..Default::default()
        },
        EventQuery {
            user: Some("nobody".into()),
            ..Default::default()
        },
    ];
    for query in queries {
        let listed = store.query_events(&query).unwrap().len() as u64;
        assert_eq!(store.count_events(&query).unwrap(), listed, "{query:?}");
        let limited = EventQuery {
            limit: Some(1),
            ..query.clone()
        };
        assert_eq!(store.count_events(&limited).unwrap(), listed, "{limited:?}");
    }
    assert_eq!(store.count_events(&EventQuery::default()).unwrap(), 30);
}

// ---------------------------------------------------------------------------------------------
// Quarantine

fn quarantined_records_round_trip_with_position_reason_and_raw<S: Store>(store: &S) {
    let before = Timestamp::now();
    let binary = NewQuarantined::new(
        "audit.ndjson",
        "auto",
        Position {
            line: 7,
            offset: 4096,
            entry: Some(3),
        },
        "not UTF-8",
        &[0xff, 0x00, 0xfe],
    );
    let huge = vec![b'x'; ward_model::MAX_QUARANTINED_BYTES + 100];
    let truncated = NewQuarantined::new(
        "audit.ndjson",
        "fhir",
        Position::default(),
        "too long",
        &huge,
    );
    assert!(truncated.is_truncated());
    let receipt = store
        .commit(&Batch {
            quarantined: vec![binary.clone(), truncated.clone()],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(receipt.quarantined, 2);
    let after = Timestamp::now();
    let listed = store.list_quarantine(&QuarantineQuery::default()).unwrap();
    assert_eq!(
        listed.iter().map(|q| q.record.clone()).collect::<Vec<_>>(),
        vec![binary, truncated]
    );
    assert!(listed[0].id < listed[1].id);
    for q in &listed {
        assert!(
            before <= q.quarantined_at && q.quarantined_at <= after,
            "{:?}",
            q.quarantined_at
        );
    }
}

fn quarantine_lists_oldest_first_with_paging_and_a_source_filter<S: Store>(store: &S) {
    for chunk in 0..3u64 {
        let quarantined = (0..4)
            .map(|i| quarantined(if i % 2 == 0 { "a" } else { "b" }, chunk * 4 + i, b"{"))
            .collect();
        store
            .commit(&Batch {
                quarantined,
                ..Default::default()
            })
            .unwrap();
    }
    let all = store.list_quarantine(&QuarantineQuery::default()).unwrap();
    assert_eq!(
        all.iter()
            .map(|q| q.record.position.line)
            .collect::<Vec<_>>(),
        (0..12).collect::<Vec<_>>()
    );
    let mut paged = Vec::new();
    let mut after_id = None;
    loop {
        let page = store
            .list_quarantine(&QuarantineQuery {
                limit: Some(5),
                after_id,
                ..Default::default()
            })
            .unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 5);
        after_id = page.last().map(|q| q.id);
        paged.extend(page);
    }
    assert_eq!(paged, all);
    let from_b = QuarantineQuery {
        source: Some("b".into()),
        after_id: Some(all[3].id),
        limit: Some(2),
    };
    let lines: Vec<u64> = store
        .list_quarantine(&from_b)
        .unwrap()
        .iter()
        .map(|q| q.record.position.line)
        .collect();
    assert_eq!(lines, vec![5, 7]);
}

fn releasing_quarantined_records_removes_them<S: Store>(store: &S) {
    let records = (0..4).map(|i| quarantined("a", i, b"{")).collect();
    store
        .commit(&Batch {
            quarantined: records,
            ..Default::default()
        })
        .unwrap();
    let all = store.list_quarantine(&QuarantineQuery::default()).unwrap();
    let missing = all.iter().map(|q| q.id).max().unwrap() + 1000;
    assert_eq!(
        store
            .release_quarantine(&[all[1].id, all[3].id, missing])
            .unwrap(),
        2
    );
    let left: Vec<i64> = store
        .list_quarantine(&QuarantineQuery::default())
        .unwrap()
        .iter()
        .map(|q| q.id)
        .collect();
    assert_eq!(left, vec![all[0].id, all[2].id]);
    assert_eq!(store.release_quarantine(&[all[1].id]).unwrap(), 0);
    assert_eq!(store.stats().unwrap().quarantined, 2);
    // Ids are never reused, so paging by id stays correct after a release.
    store
        .commit(&Batch {
            quarantined: vec![quarantined("a", 9, b"{")],
            ..Default::default()
        })
        .unwrap();
    let newest = store
        .list_quarantine(&QuarantineQuery::default())
        .unwrap()
        .last()
        .unwrap()
        .id;
    assert!(newest > all[3].id);
    assert_eq!(store.stats().unwrap().quarantined, 3);
}

fn a_batch_of_only_quarantined_records_is_committed<S: Store>(store: &S) {
    let receipt = store
        .commit(&Batch {
            quarantined: vec![quarantined("a", 1, b"{")],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        (receipt.inserted, receipt.duplicates, receipt.quarantined),
        (0, 0, 1)
    );
    assert!(receipt.batch_seq > 0);
    assert_eq!(
        store
            .list_quarantine(&QuarantineQuery::default())
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.count_events(&EventQuery::default()).unwrap(), 0);
}

/// What ingest's decode workers do: prepare batches in parallel, then commit them in order on
/// one thread. The outcome is the commit of the bare batch: events, duplicates, quarantined
/// records, the checkpoint, the receipt. A batch prepared with nothing done ahead commits too.
fn a_prepared_batch_commits_as_the_batch_itself_would<S: Store>(store: &S) {
    let batch = |events: Vec<Event>, offset: u64| Batch {
        events,
        quarantined: vec![quarantined("feed.ndjson", 4, b"{")],
        checkpoint: Some(Checkpoint {
            source: "feed.ndjson".into(),
            offset,
        }),
    };
    let first = store.prepare(batch(events(0..3), 100)).unwrap();
    let second = store.prepare(batch(events(2..5), 200)).unwrap();
    assert_eq!(first.batch().events.len(), 3);
    let receipt = store.commit_prepared(&first).unwrap();
    assert_eq!(
        (receipt.inserted, receipt.duplicates, receipt.quarantined),
        (3, 0, 1)
    );
    assert_eq!(receipt.new_events, vec![0, 1, 2]);
    let receipt = store.commit_prepared(&second).unwrap();
    assert_eq!(
        (receipt.inserted, receipt.duplicates, receipt.quarantined),
        (2, 1, 1)
    );
    assert_eq!(receipt.new_events, vec![1, 2]);
    let unprepared = Prepared::unprepared(batch(events(4..6), 300));
    let receipt = store.commit_prepared(&unprepared).unwrap();
    assert_eq!((receipt.inserted, receipt.duplicates), (1, 1));

    for n in 0..6 {
        let stored = store.get_event(&event(n).id).unwrap();
        assert_eq!(stored, Some(event(n)), "event {n}");
    }
    assert_eq!(
        store
            .list_quarantine(&QuarantineQuery::default())
            .unwrap()
            .len(),
        3
    );
    let sources = store.sources().unwrap();
    assert_eq!(
        sources
            .iter()
            .map(|s| (s.source.as_str(), s.offset, s.events, s.quarantined))
            .collect::<Vec<_>>(),
        vec![("feed.ndjson", 300, 6, 3)]
    );
    // An empty prepared batch is no commit at all.
    let empty = store.prepare(Batch::default()).unwrap();
    assert_eq!(store.commit_prepared(&empty).unwrap(), Receipt::default());
}

/// Detectors see the events a commit newly stored, so a re-ingested file is detected on once.
fn a_receipt_names_the_events_newly_stored<S: Store>(store: &S) {
    assert_eq!(commit(store, events(0..2)).new_events, vec![0, 1]);
    let mut mixed = events(1..4);
    mixed.push(event(3)); // a duplicate within the batch itself
    let receipt = commit(store, mixed);
    assert_eq!(
        receipt.new_events,
        vec![1, 2],
        "event 1 was stored before, 3 twice"
    );
    assert_eq!((receipt.inserted, receipt.duplicates), (2, 2));
}

fn an_empty_batch_changes_nothing<S: Store>(store: &S) {
    assert_eq!(store.commit(&Batch::default()).unwrap(), Receipt::default());
    assert_eq!(store.stats().unwrap(), Default::default());
    assert_eq!(store.sources().unwrap(), vec![]);
}

fn batches_that_store_something_get_increasing_sequence_numbers<S: Store>(store: &S) {
    let first = commit(store, events(0..2)).batch_seq;
    let second = store
        .commit(&Batch {
            quarantined: vec![quarantined("a", 1, b"{")],
            ..Default::default()
        })
        .unwrap();
    let third = commit(store, events(2..3)).batch_seq;
    assert!(0 < first && first < second.batch_seq && second.batch_seq < third);
    let checkpoint = Some(Checkpoint {
        source: "feed.ndjson".into(),
        offset: 10,
    });
    let nothing_new = store
        .commit(&Batch {
            events: events(0..3),
            quarantined: vec![],
            checkpoint,
        })
        .unwrap();
    assert_eq!(
        nothing_new,
        Receipt {
            inserted: 0,
            duplicates: 3,
            quarantined: 0,
            batch_seq: 0,
            new_events: vec![],
        }
    );
    assert_eq!(store.stats().unwrap().batches, 3);
}

// ---------------------------------------------------------------------------------------------
// Sources

fn checkpoints_update_sources_with_offsets_and_counts<S: Store>(store: &S) {
    let from = |source: &str, n: u32| with(event(n), |e| e.metadata.log_name = source.into());
    store
        .commit(&Batch {
            events: vec![from("a", 5), from("a", 3)],
            quarantined: vec![quarantined("a", 2, b"{")],
            checkpoint: Some(Checkpoint {
                source: "a".into(),
                offset: 100,
            }),
        })
        .unwrap();
    store
        .commit(&Batch {
            events: vec![from("a", 4), from("a", 5), from("b", 9)],
            quarantined: vec![quarantined("b", 1, b"{"), quarantined("b", 2, b"{")],
            checkpoint: Some(Checkpoint {
                source: "c".into(),
                offset: 7,
            }),
        })
        .unwrap();
    // A batch of duplicates still moves its checkpoint, and counts nothing.
    store
        .commit(&Batch {
            events: vec![from("a", 5)],
            quarantined: vec![],
            checkpoint: Some(Checkpoint {
                source: "a".into(),
                offset: 250,
            }),
        })
        .unwrap();

    let sources = store.sources().unwrap();
    let summary: Vec<(&str, u64, u64, u64, Option<Timestamp>)> = sources
        .iter()
        .map(|s| {
            (
                s.source.as_str(),
                s.offset,
                s.events,
                s.quarantined,
                s.last_event_time,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("a", 250, 3, 1, Some(at(5))),
            ("b", 0, 1, 2, Some(at(9))),
            ("c", 7, 0, 0, None),
        ]
    );
    let now = Timestamp::now();
    for s in &sources {
        assert!(
            s.updated_at <= now && s.updated_at.millis() > now.millis() - 3_600_000,
            "{s:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Context

fn context_is_put_replaced_and_got_per_kind<S: Store>(store: &S) {
    assert_eq!(
        store
            .put_context(&[
                patient("p1", "Smith"),
                practitioner("p1"),
                patient("p2", "Jones")
            ])
            .unwrap(),
        3
    );
    assert_eq!(
        store.get_context(ContextKind::Patient, "p1").unwrap(),
        Some(patient("p1", "Smith"))
    );
    assert_eq!(
        store.get_context(ContextKind::Practitioner, "p1").unwrap(),
        Some(practitioner("p1"))
    );
    assert_eq!(
        store.get_context(ContextKind::Encounter, "p1").unwrap(),
        None
    );
    assert_eq!(
        store.put_context(&[patient("p1", "Smith-Jones")]).unwrap(),
        1
    );
    assert_eq!(
        store.get_context(ContextKind::Patient, "p1").unwrap(),
        Some(patient("p1", "Smith-Jones"))
    );
    assert_eq!(store.count_context(ContextKind::Patient).unwrap(), 2);
    assert_eq!(store.count_context(ContextKind::Practitioner).unwrap(), 1);
    assert_eq!(store.count_context(ContextKind::CareTeam).unwrap(), 0);
    assert_eq!(store.put_context(&[]).unwrap(), 0);
}

fn context_lists_in_a_stable_order_with_paging<S: Store>(store: &S) {
    let resources: Vec<ContextResource> = ["p05", "p01", "p10", "p03", "p07"]
        .iter()
        .map(|id| patient(id, "Doe"))
        .collect();
    store.put_context(&resources).unwrap();
    store.put_context(&[practitioner("p02")]).unwrap();
    let page = |after: Option<&str>| -> Vec<String> {
        store
            .list_context(ContextKind::Patient, after, 2)
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect()
    };
    // Pages of two, each starting after the last id of the one before, visit every patient
    // once, in the order a single listing gives (id order, or keyed-hash order when the
    // store encrypts ids), and end with an empty page.
    let all: Vec<String> = store
        .list_context(ContextKind::Patient, None, 100)
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let next = page(after.as_deref());
        assert!(next.len() <= 2);
        let Some(last) = next.last().cloned() else {
            break;
        };
        paged.extend(next);
        after = Some(last);
    }
    assert_eq!(paged, all);
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(sorted, vec!["p01", "p03", "p05", "p07", "p10"]);
    assert_eq!(page(Some(all.last().unwrap())), Vec::<String>::new());
    let first = store.list_context(ContextKind::Patient, None, 1).unwrap();
    assert_eq!(first[0], patient(&all[0], "Doe"));
}

// ---------------------------------------------------------------------------------------------
// Alerts

/// Metrics (issue 12) read counts without opening bodies or payloads.
fn alert_and_delivery_counts_group_by_severity_status_channel_and_state<S: Store>(store: &S) {
    assert!(store.alert_counts().unwrap().is_empty());
    store.upsert_alert(&alert("a1", at(1), 1), &[]).unwrap();
    store.upsert_alert(&alert("a2", at(2), 1), &[]).unwrap();
    let medium = Alert {
        severity: Severity::Medium,
        ..alert("a3", at(3), 1)
    };
    store.upsert_alert(&medium, &[]).unwrap();
    store.set_alert_status("a2", AlertStatus::Closed).unwrap();
    let mut counts = store.alert_counts().unwrap();
    counts.sort_by_key(|(severity, status, _)| (severity.id(), status.as_str()));
    assert_eq!(
        counts,
        [
            (Severity::Medium, AlertStatus::Open, 1),
            (Severity::High, AlertStatus::Closed, 1),
            (Severity::High, AlertStatus::Open, 1),
        ]
    );

    let queue = store.deliveries();
    for (key, channel) in [("k1", "mail"), ("k2", "mail"), ("k3", "soc")] {
        queue
            .enqueue(&ward_store::NewDelivery {
                key: key.into(),
                channel: channel.into(),
                alert_id: "a1".into(),
                payload: "{}".into(),
                not_before: at(0),
                created_at: at(0),
            })
            .unwrap();
    }
    let k1 = queue
        .list(&Default::default())
        .unwrap()
        .into_iter()
        .find(|d| d.key == "k1")
        .unwrap();
    queue.mark_delivered(k1.id, at(1)).unwrap();
    use ward_store::DeliveryState::{Delivered, Pending};
    assert_eq!(
        queue.counts().unwrap(),
        [
            ("mail".to_string(), Delivered, 1),
            ("mail".to_string(), Pending, 1),
            ("soc".to_string(), Pending, 1),
        ]
    );
}

fn asset(id: &str, body: &str, seconds: i64) -> ward_store::AssetRecord {
    ward_store::AssetRecord {
        id: id.into(),
        body: body.into(),
        updated_at: at(seconds),
    }
}

fn assets_are_put_replaced_listed_and_deleted<S: Store>(store: &S) {
    let inventory = store.inventory();
    assert!(inventory.list_assets().unwrap().is_empty());
    let written = inventory
        .put_assets(&[asset("pump-2", "{\"v\":1}", 1), asset("ehr-db", "{}", 1)])
        .unwrap();
    assert_eq!(written, 2);
    inventory
        .put_assets(&[asset("pump-2", "{\"v\":2}", 5)])
        .unwrap();
    let ids: Vec<_> = inventory
        .list_assets()
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(ids, ["ehr-db", "pump-2"]);
    assert_eq!(
        inventory.get_asset("pump-2").unwrap(),
        Some(asset("pump-2", "{\"v\":2}", 5))
    );
    assert!(inventory.delete_asset("pump-2").unwrap());
    assert!(!inventory.delete_asset("pump-2").unwrap());
    assert_eq!(inventory.get_asset("pump-2").unwrap(), None);
}

fn sighting(
    key: &str,
    first: i64,
    last: i64,
    sources: &[&str],
    services: &[&str],
) -> ward_store::Sighting {
    ward_store::Sighting {
        key: key.into(),
        address: key.strip_prefix("ip:").map(str::to_string),
        hostname: None,
        mac: None,
        first_seen: at(first),
        last_seen: at(last),
        events: 2,
        sources: sources.iter().map(|s| s.to_string()).collect(),
        services: services.iter().map(|s| s.to_string()).collect(),
        review: ward_store::SightingReview::Unreviewed,
        reviewed_by: None,
        reviewed_at: None,
    }
}

fn sightings_merge_by_key_and_keep_reviews<S: Store>(store: &S) {
    use ward_store::SightingReview;
    let inventory = store.inventory();
    let new = inventory
        .record_sightings(&[
            sighting("ip:10.30.0.9", 10, 20, &["zeek_conn"], &["tcp/443"]),
            sighting("ip:10.30.0.7", 10, 20, &["dhcp"], &[]),
        ])
        .unwrap();
    assert_eq!(new, 2);
    let mut later = sighting("ip:10.30.0.9", 5, 15, &["atna", "zeek_conn"], &["tcp/104"]);
    later.hostname = Some("modality-3".into());
    assert_eq!(inventory.record_sightings(&[later]).unwrap(), 0);
    let all = inventory.sightings(false).unwrap();
    assert_eq!(all.len(), 2);
    let merged = &all[1];
    assert_eq!(merged.key, "ip:10.30.0.9");
    assert_eq!((merged.first_seen, merged.last_seen), (at(5), at(20)));
    assert_eq!(merged.events, 4);
    assert_eq!(merged.sources, ["atna", "zeek_conn"]);
    assert_eq!(merged.services, ["tcp/104", "tcp/443"]);
    assert_eq!(merged.hostname.as_deref(), Some("modality-3"));
    assert_eq!(merged.address.as_deref(), Some("10.30.0.9"));

    let dismissed = SightingReview::Dismissed {
        reason: "visitor phone".into(),
    };
    assert!(
        inventory
            .review_sighting("ip:10.30.0.7", &dismissed, "it-lead", at(30))
            .unwrap()
    );
    assert!(
        !inventory
            .review_sighting("ip:10.99.0.1", &dismissed, "it-lead", at(30))
            .unwrap()
    );
    let open: Vec<_> = inventory
        .sightings(true)
        .unwrap()
        .into_iter()
        .map(|s| s.key)
        .collect();
    assert_eq!(open, ["ip:10.30.0.9"]);
    // Seeing a reviewed device again widens what is known of it, not its review.
    inventory
        .record_sightings(&[sighting("ip:10.30.0.7", 40, 50, &["dhcp"], &[])])
        .unwrap();
    let reviewed = inventory
        .sightings(false)
        .unwrap()
        .into_iter()
        .find(|s| s.key == "ip:10.30.0.7")
        .unwrap();
    assert_eq!(reviewed.review, dismissed);
    assert_eq!(reviewed.reviewed_by.as_deref(), Some("it-lead"));
    assert_eq!(reviewed.reviewed_at, Some(at(30)));
    assert_eq!(reviewed.last_seen, at(50));
}

fn feed(name: &str, version: &str, body: &[u8]) -> ward_store::FeedRecord {
    ward_store::FeedRecord {
        name: name.into(),
        kind: "kev".into(),
        version: version.into(),
        origin: "kev.json".into(),
        imported_at: at(1),
        sha256: "00".into(),
        entries: 3,
        body: body.to_vec(),
    }
}

fn feeds_are_replaced_by_name_and_listed_without_bodies<S: Store>(store: &S) {
    let inventory = store.inventory();
    inventory
        .put_feed(&feed("kev", "2025.01.01", b"old"))
        .unwrap();
    inventory
        .put_feed(&feed("kev", "2025.06.01", b"new"))
        .unwrap();
    inventory.put_feed(&feed("eol:ubuntu", "", b"[]")).unwrap();
    assert_eq!(
        inventory.feed("kev").unwrap(),
        Some(feed("kev", "2025.06.01", b"new"))
    );
    assert_eq!(inventory.feed("nvd").unwrap(), None);
    let listed = inventory.feeds().unwrap();
    let names: Vec<_> = listed.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["eol:ubuntu", "kev"]);
    assert!(listed.iter().all(|f| f.body.is_empty()));
    assert_eq!(listed[1].version, "2025.06.01");
}

fn the_latest_scan_per_target_is_kept<S: Store>(store: &S) {
    let scan = |target: &str, seconds: i64, grade: &str| ward_store::ScanRecord {
        target: target.into(),
        scanned_at: at(seconds),
        grade: grade.into(),
        body: format!("{{\"grade\":\"{grade}\"}}"),
    };
    let inventory = store.inventory();
    inventory.put_scan(&scan("ehr:443", 10, "F")).unwrap();
    inventory.put_scan(&scan("ehr:443", 20, "A")).unwrap();
    // An older result arriving late does not replace a newer one.
    inventory.put_scan(&scan("ehr:443", 15, "C")).unwrap();
    inventory.put_scan(&scan("pacs:443", 10, "B")).unwrap();
    assert_eq!(
        inventory.scans().unwrap(),
        [scan("ehr:443", 20, "A"), scan("pacs:443", 10, "B")]
    );
}

fn settings_are_written_and_overwritten<S: Store>(store: &S) {
    assert_eq!(store.setting("detect.rules").unwrap(), None);
    store.set_setting("detect.rules", "1").unwrap();
    store.set_setting("detect.rules", "2").unwrap();
    store.set_setting("other", "x").unwrap();
    assert_eq!(store.setting("detect.rules").unwrap().as_deref(), Some("2"));
}

fn detector_state_is_saved_per_detector_and_replaced<S: Store>(store: &S) {
    assert_eq!(store.detector_state("sigma").unwrap(), None);
    store.save_detector_state("sigma", b"first").unwrap();
    store
        .save_detector_state("sigma", b"{\"windows\":[\"Jane Roe\"]}")
        .unwrap();
    store
        .save_detector_state("privacy", &[0, 1, 2, 255])
        .unwrap();
    assert_eq!(
        store.detector_state("sigma").unwrap().as_deref(),
        Some(&b"{\"windows\":[\"Jane Roe\"]}"[..])
    );
    assert_eq!(
        store.detector_state("privacy").unwrap().as_deref(),
        Some(&[0u8, 1, 2, 255][..])
    );
    assert_eq!(store.detector_state("credential").unwrap(), None);
}

fn a_second_alert_upsert_updates_the_one_row<S: Store>(store: &S) {
    store.upsert_alert(&alert("a1", at(10), 1), &[]).unwrap();
    let updated = Alert {
        title: "updated title".into(),
        ..alert("a1", at(60), 5)
    };
    store.upsert_alert(&updated, &[]).unwrap();
    assert_eq!(store.get_alert("a1").unwrap(), Some(updated.clone()));
    assert_eq!(
        store.list_alerts(&AlertQuery::default()).unwrap(),
        vec![updated]
    );
    assert_eq!(store.stats().unwrap().alerts, 1);
    assert_eq!(store.get_alert("a2").unwrap(), None);
}

fn alerts_list_most_recently_seen_first_with_filters<S: Store>(store: &S) {
    for (id, seen) in [("a1", 30), ("a2", 10), ("a3", 50), ("a4", 20)] {
        store.upsert_alert(&alert(id, at(seen), 1), &[]).unwrap();
    }
    store
        .upsert_alert(
            &Alert {
                status: AlertStatus::Closed,
                ..alert("a5", at(40), 1)
            },
            &[],
        )
        .unwrap();
    let listed = |query: AlertQuery| -> Vec<String> {
        store
            .list_alerts(&query)
            .unwrap()
            .into_iter()
            .map(|a| a.id)
            .collect()
    };
    assert_eq!(
        listed(AlertQuery::default()),
        vec!["a3", "a5", "a1", "a4", "a2"]
    );
    assert_eq!(
        listed(AlertQuery {
            since: Some(at(30)),
            ..Default::default()
        }),
        vec!["a3", "a5", "a1"]
    );
    assert_eq!(
        listed(AlertQuery {
            status: Some(AlertStatus::Open),
            limit: Some(2),
            ..Default::default()
        }),
        vec!["a3", "a1"]
    );
    assert_eq!(
        listed(AlertQuery {
            status: Some(AlertStatus::Closed),
            ..Default::default()
        }),
        vec!["a5"]
    );
    assert_eq!(
        listed(AlertQuery {
            status: Some(AlertStatus::Acknowledged),
            ..Default::default()
        }),
        Vec::<String>::new()
    );
}

fn alert_status_changes_are_kept<S: Store>(store: &S) {
    store.upsert_alert(&alert("a1", at(10), 1), &[]).unwrap();
    assert!(
        store
            .set_alert_status("a1", AlertStatus::Acknowledged)
            .unwrap()
    );
    assert!(!store.set_alert_status("nope", AlertStatus::Closed).unwrap());
    let stored = store.get_alert("a1").unwrap().unwrap();
    assert_eq!(
        stored,
        Alert {
            status: AlertStatus::Acknowledged,
            ..alert("a1", at(10), 1)
        }
    );
    let acknowledged = AlertQuery {
        status: Some(AlertStatus::Acknowledged),
        ..Default::default()
    };
    assert_eq!(store.list_alerts(&acknowledged).unwrap(), vec![stored]);
    let open = AlertQuery {
        status: Some(AlertStatus::Open),
        ..Default::default()
    };
    assert_eq!(store.list_alerts(&open).unwrap(), vec![]);
}

fn a_detector_re_seeing_an_alert_keeps_the_status_people_gave_it<S: Store>(store: &S) {
    store.upsert_alert(&alert("a1", at(10), 1), &[]).unwrap();
    assert!(
        store
            .set_alert_status("a1", AlertStatus::Acknowledged)
            .unwrap()
    );
    // The detector sees it again and, knowing nothing of people, says "open".
    let again = Alert {
        title: "seen again".into(),
        ..alert("a1", at(70), 4)
    };
    store.upsert_alert(&again, &[]).unwrap();
    let stored = store.get_alert("a1").unwrap().unwrap();
    assert_eq!(
        stored,
        Alert {
            status: AlertStatus::Acknowledged,
            ..again
        }
    );
    let listed = store
        .list_alerts(&AlertQuery {
            status: Some(AlertStatus::Acknowledged),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(listed, vec![stored]);
    store.close_alert("a1", "benign").unwrap();
    store.upsert_alert(&alert("a1", at(80), 5), &[]).unwrap();
    assert_eq!(
        store.get_alert("a1").unwrap().map(|a| a.status),
        Some(AlertStatus::Closed)
    );
}

fn alerts_filter_by_severity_rule_and_entity<S: Store>(store: &S) {
    store.upsert_alert(&alert("a1", at(10), 1), &[]).unwrap();
    store
        .upsert_alert(
            &Alert {
                severity: Severity::Low,
                rule_id: "ward.auth.spray".into(),
                entities: AlertEntities {
                    src_ip: Some("10.0.0.9".into()),
                    user: Some("asmith".into()),
                    ..Default::default()
                },
                ..alert("a2", at(20), 1)
            },
            &[],
        )
        .unwrap();
    store
        .upsert_alert(
            &Alert {
                severity: Severity::Low,
                ..alert("a3", at(30), 1)
            },
            &[],
        )
        .unwrap();
    let listed = |query: AlertQuery| -> Vec<String> {
        store
            .list_alerts(&query)
            .unwrap()
            .into_iter()
            .map(|a| a.id)
            .collect()
    };
    assert_eq!(
        listed(AlertQuery {
            severity: Some(Severity::Low),
            ..Default::default()
        }),
        vec!["a3", "a2"]
    );
    assert_eq!(
        listed(AlertQuery {
            rule_id: Some("ward.auth.spray".into()),
            ..Default::default()
        }),
        vec!["a2"]
    );
    assert_eq!(
        listed(AlertQuery {
            entity: Some("10.0.0.9".into()),
            ..Default::default()
        }),
        vec!["a2"]
    );
    assert_eq!(
        listed(AlertQuery {
            entity: Some("jdoe".into()),
            ..Default::default()
        }),
        vec!["a3", "a1"]
    );
    // Exact values only: a part of a value, or a field name, matches nothing.
    assert_eq!(
        listed(AlertQuery {
            entity: Some("10.0.0".into()),
            ..Default::default()
        }),
        Vec::<String>::new()
    );
    assert_eq!(
        listed(AlertQuery {
            entity: Some("user".into()),
            ..Default::default()
        }),
        Vec::<String>::new()
    );
    assert_eq!(
        listed(AlertQuery {
            severity: Some(Severity::High),
            entity: Some("p1".into()),
            ..Default::default()
        }),
        vec!["a1"]
    );
}

fn closing_records_the_reason_and_assignment_survives_updates<S: Store>(store: &S) {
    store.upsert_alert(&alert("a1", at(10), 1), &[]).unwrap();
    assert_eq!(
        store.alert_workflow("a1").unwrap(),
        Some(AlertWorkflow::default())
    );
    assert_eq!(store.alert_workflow("nope").unwrap(), None);
    assert!(store.assign_alert("a1", Some("analyst1")).unwrap());
    assert!(!store.assign_alert("nope", Some("analyst1")).unwrap());
    assert!(
        store
            .close_alert("a1", "false positive: covering shift")
            .unwrap()
    );
    assert!(!store.close_alert("nope", "x").unwrap());
    store.upsert_alert(&alert("a1", at(20), 2), &[]).unwrap();
    let workflow = store.alert_workflow("a1").unwrap().unwrap();
    assert_eq!(workflow.assignee.as_deref(), Some("analyst1"));
    assert_eq!(
        workflow.close_reason.as_deref(),
        Some("false positive: covering shift")
    );
    assert!(workflow.updated_at.is_some());
    assert_eq!(
        store.get_alert("a1").unwrap().map(|a| a.status),
        Some(AlertStatus::Closed)
    );
    assert!(store.assign_alert("a1", None).unwrap());
    assert_eq!(store.alert_workflow("a1").unwrap().unwrap().assignee, None);
}

fn alert_events_lists_linked_event_ids_newest_first<S: Store>(store: &S) {
    commit(store, events(0..6));
    store
        .upsert_alert(&alert("a1", at(2), 2), &[event(1).id, event(4).id])
        .unwrap();
    store
        .upsert_alert(&alert("a1", at(4), 3), &[event(2).id, event(4).id])
        .unwrap();
    assert_eq!(
        store.alert_events("a1", 10).unwrap(),
        vec![event(4).id, event(2).id, event(1).id]
    );
    assert_eq!(
        store.alert_events("a1", 2).unwrap(),
        vec![event(4).id, event(2).id]
    );
    assert_eq!(store.alert_events("a2", 10).unwrap(), vec![]);
}

// ---------------------------------------------------------------------------------------------
// Accounts

fn user(name: &str, role: &str) -> UserRecord {
    UserRecord {
        name: name.into(),
        role: role.into(),
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$hash-of-{name}"),
        totp_secret: None,
        failed_logins: 0,
        locked_until: None,
        disabled: false,
        created_at: at(1),
    }
}

fn users_are_created_once_listed_and_changed<S: Store>(store: &S) {
    let accounts = store.accounts();
    assert_eq!(accounts.count_users().unwrap(), 0);
    assert!(accounts.create_user(&user("bob", "analyst")).unwrap());
    assert!(accounts.create_user(&user("alice", "admin")).unwrap());
    assert!(!accounts.create_user(&user("bob", "admin")).unwrap());
    assert_eq!(accounts.count_users().unwrap(), 2);
    let names: Vec<String> = accounts
        .list_users()
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, vec!["alice", "bob"]);
    assert_eq!(
        accounts.get_user("bob").unwrap(),
        Some(user("bob", "analyst"))
    );
    assert!(
        accounts
            .update_user(
                "bob",
                &UserChange {
                    role: Some("privacy_officer".into()),
                    totp_secret: Some(Some(vec![1, 2, 3])),
                    ..Default::default()
                }
            )
            .unwrap()
    );
    let bob = accounts.get_user("bob").unwrap().unwrap();
    assert_eq!(bob.role, "privacy_officer");
    assert_eq!(bob.totp_secret, Some(vec![1, 2, 3]));
    assert_eq!(bob.password_hash, user("bob", "x").password_hash);
    accounts
        .update_user(
            "bob",
            &UserChange {
                totp_secret: Some(None),
                disabled: Some(true),
                password_hash: Some("new".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let bob = accounts.get_user("bob").unwrap().unwrap();
    assert_eq!(
        (bob.totp_secret, bob.disabled, bob.password_hash.as_str()),
        (None, true, "new")
    );
    assert!(
        !accounts
            .update_user("nobody", &UserChange::default())
            .unwrap()
    );
}

fn failed_sign_ins_lock_the_account_after_the_threshold<S: Store>(store: &S) {
    let accounts = store.accounts();
    accounts.create_user(&user("bob", "analyst")).unwrap();
    for n in 1..=2 {
        let u = accounts
            .record_failed_login("bob", 3, at(900))
            .unwrap()
            .unwrap();
        assert_eq!((u.failed_logins, u.locked_until), (n, None));
    }
    let u = accounts
        .record_failed_login("bob", 3, at(900))
        .unwrap()
        .unwrap();
    assert_eq!((u.failed_logins, u.locked_until), (3, Some(at(900))));
    assert_eq!(
        accounts.record_failed_login("nobody", 3, at(900)).unwrap(),
        None
    );
    accounts.record_successful_login("bob").unwrap();
    let u = accounts.get_user("bob").unwrap().unwrap();
    assert_eq!((u.failed_logins, u.locked_until), (0, None));
    accounts.record_failed_login("bob", 1, at(60)).unwrap();
    accounts
        .update_user(
            "bob",
            &UserChange {
                unlock: true,
                ..Default::default()
            },
        )
        .unwrap();
    let u = accounts.get_user("bob").unwrap().unwrap();
    assert_eq!((u.failed_logins, u.locked_until), (0, None));
}

fn sign_in_attempts_are_counted_per_key_within_a_window<S: Store>(store: &S) {
    let accounts = store.accounts();
    for s in [10, 20, 30] {
        accounts.record_login_attempt("10.0.0.1", at(s)).unwrap();
    }
    accounts.record_login_attempt("10.0.0.2", at(30)).unwrap();
    assert_eq!(accounts.count_login_attempts("10.0.0.1", at(0)).unwrap(), 3);
    assert_eq!(
        accounts.count_login_attempts("10.0.0.1", at(20)).unwrap(),
        2
    );
    assert_eq!(accounts.count_login_attempts("10.0.0.2", at(0)).unwrap(), 1);
    assert_eq!(accounts.count_login_attempts("10.0.0.3", at(0)).unwrap(), 0);
}

fn sessions_round_trip_move_on_and_expire<S: Store>(store: &S) {
    let accounts = store.accounts();
    accounts.create_user(&user("bob", "analyst")).unwrap();
    accounts.create_user(&user("eve", "analyst")).unwrap();
    let session = |n: u8, name: &str, created: i64| SessionRecord {
        token_sha256: [n; 32],
        user: name.into(),
        stage: SessionStage::Mfa,
        created_at: at(created),
        last_seen: at(created),
        ip: Some("127.0.0.1".into()),
    };
    accounts.create_session(&session(1, "bob", 10)).unwrap();
    accounts.create_session(&session(2, "bob", 20)).unwrap();
    accounts.create_session(&session(3, "eve", 30)).unwrap();
    assert_eq!(
        accounts.get_session(&[1; 32]).unwrap(),
        Some(session(1, "bob", 10))
    );
    assert_eq!(accounts.get_session(&[9; 32]).unwrap(), None);
    assert!(
        accounts
            .touch_session(&[1; 32], at(50), Some(SessionStage::Full))
            .unwrap()
    );
    // The idle clock never runs backwards.
    accounts.touch_session(&[1; 32], at(40), None).unwrap();
    let s = accounts.get_session(&[1; 32]).unwrap().unwrap();
    assert_eq!((s.last_seen, s.stage), (at(50), SessionStage::Full));
    assert!(!accounts.touch_session(&[9; 32], at(50), None).unwrap());
    // Idle before 25 s: session 2 (last seen 20 s). Created before 15 s: none left but 1,
    // which was active at 50 s yet began at 10 s.
    assert_eq!(accounts.expire_sessions(at(25), at(0)).unwrap(), 1);
    assert_eq!(accounts.get_session(&[2; 32]).unwrap(), None);
    assert_eq!(accounts.expire_sessions(at(0), at(15)).unwrap(), 1);
    assert_eq!(accounts.get_session(&[1; 32]).unwrap(), None);
    accounts.create_session(&session(4, "eve", 40)).unwrap();
    assert_eq!(accounts.delete_user_sessions("eve").unwrap(), 2);
    accounts.create_session(&session(5, "bob", 40)).unwrap();
    assert!(accounts.delete_session(&[5; 32]).unwrap());
    assert!(!accounts.delete_session(&[5; 32]).unwrap());
}

fn api_tokens_are_found_by_hash_listed_and_revoked<S: Store>(store: &S) {
    let accounts = store.accounts();
    let token = |id: &str, n: u8, created: i64| ApiTokenRecord {
        id: id.into(),
        token_sha256: [n; 32],
        name: format!("SOC feed {id}"),
        role: "soc_partner".into(),
        created_by: "alice".into(),
        created_at: at(created),
        expires_at: at(created + 86_400),
        revoked: false,
    };
    assert!(accounts.create_api_token(&token("t1", 1, 10)).unwrap());
    assert!(accounts.create_api_token(&token("t2", 2, 20)).unwrap());
    assert!(!accounts.create_api_token(&token("t1", 3, 30)).unwrap());
    assert_eq!(
        accounts.get_api_token(&[2; 32]).unwrap(),
        Some(token("t2", 2, 20))
    );
    assert_eq!(accounts.get_api_token(&[3; 32]).unwrap(), None);
    let ids: Vec<String> = accounts
        .list_api_tokens()
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(ids, vec!["t2", "t1"]);
    assert!(accounts.revoke_api_token("t1").unwrap());
    assert!(!accounts.revoke_api_token("t9").unwrap());
    assert!(accounts.get_api_token(&[1; 32]).unwrap().unwrap().revoked);
}

fn the_setup_token_is_consumed_exactly_once<S: Store>(store: &S) {
    let accounts = store.accounts();
    assert!(!accounts.setup_token_pending().unwrap());
    assert!(!accounts.consume_setup_token(&[1; 32]).unwrap());
    accounts.set_setup_token(Some(&[1; 32])).unwrap();
    accounts.set_setup_token(Some(&[2; 32])).unwrap();
    assert!(accounts.setup_token_pending().unwrap());
    assert!(!accounts.consume_setup_token(&[1; 32]).unwrap());
    assert!(accounts.consume_setup_token(&[2; 32]).unwrap());
    assert!(!accounts.consume_setup_token(&[2; 32]).unwrap());
    assert!(!accounts.setup_token_pending().unwrap());
    accounts.set_setup_token(Some(&[3; 32])).unwrap();
    accounts.set_setup_token(None).unwrap();
    assert!(!accounts.setup_token_pending().unwrap());
}

fn the_audit_trail_holds_only_wards_own_events<S: Store>(store: &S) {
    let audit = |n: u32, who: &str, patient: Option<&str>| {
        with(event(n), |e| {
            e.metadata.product = "ward".into();
            e.id = EventId::of_record("ward", e.time, &e.raw);
            e.actor.user.name = Some(who.into());
            e.patient.id = patient.map(String::from);
        })
    };
    let others = with(event(5), |e| e.actor.user.name = Some("alice".into()));
    let a1 = audit(1, "alice", None);
    let a2 = audit(2, "bob", Some("p1"));
    let a3 = audit(3, "alice", Some("p1"));
    commit(store, vec![a1.clone(), a2.clone(), a3.clone(), others]);
    let trail = |query: AuditQuery| -> Vec<EventId> {
        store
            .accounts()
            .audit_events(&query)
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect()
    };
    assert_eq!(
        trail(AuditQuery::default()),
        ids(&[a3.clone(), a2.clone(), a1.clone()])
    );
    assert_eq!(
        trail(AuditQuery {
            user: Some("alice".into()),
            ..Default::default()
        }),
        ids(&[a3.clone(), a1.clone()])
    );
    assert_eq!(
        trail(AuditQuery {
            patient: Some("p1".into()),
            since: Some(at(3)),
            ..Default::default()
        }),
        ids(std::slice::from_ref(&a3))
    );
    assert_eq!(
        trail(AuditQuery {
            until: Some(at(2)),
            limit: Some(5),
            ..Default::default()
        }),
        ids(&[a1])
    );
}

// ---------------------------------------------------------------------------------------------
// The store as a whole

fn stats_count_everything_stored<S: Store>(store: &S) {
    commit(store, events(0..5));
    store
        .commit(&Batch {
            events: events(3..8),
            quarantined: vec![quarantined("a", 1, b"{"), quarantined("a", 2, b"{")],
            checkpoint: None,
        })
        .unwrap();
    store
        .put_context(&[patient("p1", "Doe"), practitioner("d1")])
        .unwrap();
    store
        .upsert_alert(&alert("a1", at(1), 1), &[event(1).id])
        .unwrap();
    let stats = store.stats().unwrap();
    assert_eq!(
        (
            stats.events,
            stats.quarantined,
            stats.alerts,
            stats.context,
            stats.batches
        ),
        (8, 2, 1, 2, 2)
    );
}

fn concurrent_commits_from_several_threads_are_all_stored<S: Store>(store: &S) {
    const THREADS: u32 = 4;
    const BATCHES: u32 = 10;
    const PER_BATCH: u32 = 25;
    let seqs = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                scope.spawn(move || {
                    let mut seqs = Vec::new();
                    for b in 0..BATCHES {
                        let start = (t * BATCHES + b) * PER_BATCH;
                        // Every batch overlaps the next thread's first batch by one event.
                        let receipt = commit(store, events(start..start + PER_BATCH + 1));
                        seqs.push(receipt.batch_seq);
                        let reader = store.count_events(&EventQuery::default()).unwrap();
                        assert!(reader >= u64::from(PER_BATCH));
                    }
                    seqs
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect::<Vec<u64>>()
    });
    let distinct: BTreeSet<u64> = seqs.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        seqs.len(),
        "two batches were given the same sequence number"
    );
    let total = THREADS * BATCHES * PER_BATCH + 1;
    assert_eq!(
        store.count_events(&EventQuery::default()).unwrap(),
        u64::from(total)
    );
    let stored: BTreeSet<EventId> = store
        .query_events(&EventQuery {
            limit: Some(total as usize),
            ..Default::default()
        })
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(stored, events(0..total).iter().map(|e| e.id).collect());
}

fn data_survives_reopening_the_store<S: Store>(open: impl Fn() -> S) {
    let store = open();
    let first = commit(&store, events(0..10));
    store
        .commit(&Batch {
            events: vec![],
            quarantined: vec![quarantined("feed.ndjson", 4, &[0xff])],
            checkpoint: Some(Checkpoint {
                source: "feed.ndjson".into(),
                offset: 1234,
            }),
        })
        .unwrap();
    store.put_context(&[patient("p1", "Doe")]).unwrap();
    store
        .upsert_alert(&alert("a1", at(5), 2), &[event(3).id])
        .unwrap();
    store.set_alert_status("a1", AlertStatus::Closed).unwrap();
    let stats = store.stats().unwrap();
    let sources = store.sources().unwrap();
    let quarantine = store.list_quarantine(&QuarantineQuery::default()).unwrap();
    drop(store);

    let store = open();
    assert_eq!(store.stats().unwrap(), stats);
    assert_eq!(store.sources().unwrap(), sources);
    assert_eq!(
        store.list_quarantine(&QuarantineQuery::default()).unwrap(),
        quarantine
    );
    assert_eq!(
        found(&store, EventQuery::default()),
        newest_first(&events(0..10).iter().collect::<Vec<_>>())
    );
    assert_eq!(store.get_event(&event(7).id).unwrap(), Some(event(7)));
    assert_eq!(
        store.get_context(ContextKind::Patient, "p1").unwrap(),
        Some(patient("p1", "Doe"))
    );
    assert_eq!(
        store.get_alert("a1").unwrap().map(|a| a.status),
        Some(AlertStatus::Closed)
    );
    assert_eq!(
        found(
            &store,
            EventQuery {
                alert_id: Some("a1".into()),
                ..Default::default()
            }
        ),
        vec![event(3).id]
    );
    // The chain carries on where it stopped, and duplicates are still recognised.
    let after = commit(&store, events(5..15));
    assert_eq!((after.inserted, after.duplicates), (5, 5));
    assert!(after.batch_seq > first.batch_seq + 1);
}
