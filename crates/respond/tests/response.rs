//! End to end on a real SQLite store. The first case: a privacy detector's snooping alert
//! becomes an incident, the insider-snooping playbook's tasks are created, the four-factor
//! assessment concludes breach, the deadlines and the letter are produced, the evidence chain
//! verifies, and one byte changed in a stored evidence file makes verification fail naming
//! that file. The second: an incident closes only once its notices are given and its tasks
//! settled, then gets its review; exercises date the plan's last test.

use chrono::NaiveDate;
use ward_model::context::{Address, PersonName};
use ward_model::{
    Alert, AlertEntities, AlertStatus, ContextKind, ContextResource, ContextSummary, Severity,
    Timestamp,
};
use ward_respond::assessment::{Factor, FactorAssessment, Risk};
use ward_respond::letter::{BreachFacts, Sender};
use ward_respond::{
    AssessmentInput, Conclusion, DelayStatement, IncidentType, LawEnforcementDelay, NoticeKind,
    Plan, Responder, Role, StatementForm,
};
use ward_store::incidents::{
    CustodyAction, CustodyEntry, EvidenceFailure, EvidenceVerification, LinkKind, NewEvidence,
    TimelineKind, first_broken_custody_link,
};
use ward_store::{SqliteStore, Store};

fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

/// The alert as `privacy::alert` builds it for a family-member access.
fn snooping_alert() -> Alert {
    Alert {
        // `detect::alert_id`: 16 bytes of SHA-256 over rule, entity key and day.
        id: "5b0e3c1f9a7d42e8b6c0d1a2f3e4b5c6".into(),
        rule_id: "privacy.family_member".into(),
        title: "Staff member opened a family or household member's record".into(),
        severity: Severity::High,
        first_seen: at("2026-02-03T21:14:00Z"),
        last_seen: at("2026-02-03T21:19:00Z"),
        count: 3,
        entities: AlertEntities {
            user: Some("u1035".into()),
            patient: Some("pat-7731".into()),
            ..Default::default()
        },
        attack: vec!["T1213".into()],
        hipaa: vec![
            "164.308(a)(1)(ii)(D)".into(),
            "164.312(b)".into(),
            "164.502(b)".into(),
        ],
        status: AlertStatus::Open,
        author: Some("Ward".into()),
        license: None,
        references: vec![],
        description: Some(
            "u1035 opened the record of a patient who shares their family name and home address"
                .into(),
        ),
    }
}

fn patient() -> ContextResource {
    ContextResource {
        kind: ContextKind::Patient,
        id: "pat-7731".into(),
        summary: ContextSummary::Patient {
            identifiers: vec![],
            name: PersonName {
                family: Some("Okafor".into()),
                given: vec!["Ada".into()],
            },
            birth_date: Some("1961-04-12".into()),
            address: Some(Address {
                line: vec!["12 Elm St".into()],
                city: Some("Springfield".into()),
                state: Some("Massachusetts".into()),
                postal_code: Some("01101".into()),
            }),
            deceased: false,
            deceased_at: None,
            security_labels: vec![],
            contact_names: vec![],
        },
        raw: br#"{"resourceType":"Patient","id":"pat-7731"}"#.to_vec(),
    }
}

fn factor(factor: Factor, risk: Risk, reasoning: &str) -> FactorAssessment {
    FactorAssessment {
        factor,
        risk,
        reasoning: reasoning.into(),
    }
}

/// A store with PHI encrypted at rest (evidence content sealed), as Ward opens it: data in
/// `dir/data`, the key-encryption key beside it in `dir/kek`.
fn open_encrypted(dir: &std::path::Path) -> SqliteStore {
    let kek = dir.join("kek");
    if !kek.exists() {
        ward_vault::Kek::create_file(&kek).unwrap();
    }
    SqliteStore::open_encrypted(&dir.join("data"), &ward_vault::KekSource::File(kek)).unwrap()
}

#[test]
fn a_snooping_alert_runs_to_deadlines_letters_and_a_verified_evidence_chain() {
    let dir = tempfile::tempdir().unwrap();
    let plan = Plan::shipped();
    let evidence_id;
    let incident_id;
    {
        let store = open_encrypted(dir.path());
        store.put_context(&[patient()]).unwrap();
        let alert = snooping_alert();
        store.upsert_alert(&alert, &[]).unwrap();
        let responder = Responder::new(&store, &plan);
        let now = at("2026-02-04T09:00:00Z");

        // The alert opens an insider-snooping incident with the playbook's tasks.
        let opened = responder
            .open_from_alerts(std::slice::from_ref(&alert), None, None, "pat.privacy", now)
            .unwrap();
        incident_id = opened.incident_id;
        assert_eq!(opened.incident_type, IncidentType::InsiderSnooping);
        let incidents = store.incidents();
        let incident = incidents.get_incident(incident_id).unwrap().unwrap();
        assert_eq!(incident.incident_type, "insider_snooping");
        assert_eq!(incident.severity, Severity::High);
        assert_eq!(incident.plan_version, plan.version);
        assert_eq!(incident.discovered_at, alert.first_seen);
        let playbook = plan.playbook(IncidentType::InsiderSnooping);
        let tasks = incidents.tasks(incident_id).unwrap();
        assert_eq!(tasks.len(), playbook.tasks.len());
        assert_eq!(
            tasks.iter().map(|t| t.title.as_str()).collect::<Vec<_>>(),
            playbook
                .tasks
                .iter()
                .map(|t| t.title.as_str())
                .collect::<Vec<_>>()
        );
        assert_eq!(tasks[0].phase, "identification");
        assert_eq!(tasks[0].role, "privacy_officer");
        assert_eq!(
            incidents.incident_alerts(incident_id).unwrap(),
            vec![alert.id.clone()]
        );
        assert_eq!(
            incidents.incident_links(incident_id).unwrap(),
            vec![
                (LinkKind::Patient, "pat-7731".to_string()),
                (LinkKind::User, "u1035".to_string())
            ]
        );

        // The four factors: diagnoses viewed by a workforce member, no assurance yet.
        let determination = responder
            .assess(
                incident_id,
                AssessmentInput {
                    factors: vec![
                        factor(
                            Factor::NatureAndExtent,
                            Risk::High,
                            "problem list, medications and a psychiatry note with full identifiers",
                        ),
                        factor(
                            Factor::UnauthorisedRecipient,
                            Risk::Moderate,
                            "a workforce member bound by policy, but a relative with a personal interest",
                        ),
                        factor(
                            Factor::AcquiredOrViewed,
                            Risk::High,
                            "the audit trail shows three notes opened for 5 minutes",
                        ),
                        factor(
                            Factor::Mitigation,
                            Risk::Moderate,
                            "access suspended; no signed attestation of non-disclosure",
                        ),
                    ],
                    ..Default::default()
                },
                "pat.privacy",
                at("2026-02-05T15:00:00Z"),
            )
            .unwrap();
        assert_eq!(determination.conclusion, Conclusion::Breach);
        let stored = incidents.assessments(incident_id).unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].conclusion, "breach");
        assert_eq!(
            stored[0].body["reasons"].as_array().unwrap().len(),
            determination.reasons.len()
        );

        // Deadlines from the patient context: one Massachusetts resident.
        let affected = responder.affected(incident_id).unwrap();
        assert_eq!(affected.total, 1);
        assert_eq!(affected.by_state.get("MA"), Some(&1));
        let due = responder
            .compute_deadlines(
                incident_id,
                Role::CoveredEntity,
                &affected,
                "pat.privacy",
                at("2026-02-05T15:05:00Z"),
            )
            .unwrap();
        let kinds: Vec<_> = due.iter().map(|d| (d.kind, d.due_on)).collect();
        assert_eq!(
            kinds,
            vec![
                (NoticeKind::Individuals, day("2026-04-04")),
                (NoticeKind::HhsAnnualLog, day("2027-03-01")),
            ]
        );
        assert_eq!(due[0].citation, "45 CFR 164.404(b)");

        // Police ask orally for a delay: the individuals' notice moves 30 days; the annual
        // log (its clock starts at the year end) does not.
        responder
            .record_law_enforcement_delay(
                incident_id,
                &DelayStatement {
                    official: "Det. R. Ortiz".into(),
                    agency: "Springfield Police Department".into(),
                    delay: LawEnforcementDelay {
                        stated_on: day("2026-02-10"),
                        form: StatementForm::Oral,
                    },
                    note: "by telephone to legal counsel".into(),
                },
                "legal",
                at("2026-02-10T16:00:00Z"),
            )
            .unwrap();
        // The clock pauses at once: the stored deadline moved before anyone recomputed it.
        let moved = incidents.deadlines(incident_id).unwrap();
        assert!(
            moved
                .iter()
                .any(|d| d.kind == "individuals" && d.due_on == day("2026-05-04")),
            "{moved:?}"
        );
        let due = responder
            .compute_deadlines(
                incident_id,
                Role::CoveredEntity,
                &affected,
                "pat.privacy",
                at("2026-02-10T16:05:00Z"),
            )
            .unwrap();
        assert_eq!(due[0].due_on, day("2026-05-04"));
        assert_eq!(due[1].due_on, day("2027-03-01"));
        let stored = incidents.deadlines(incident_id).unwrap();
        assert_eq!(stored.len(), 2);
        let board = responder.deadline_board(day("2026-04-25"), 14).unwrap();
        assert_eq!(board.len(), 1);
        assert_eq!(board[0].0.deadline.kind, "individuals");
        assert_eq!(
            board[0].1,
            ward_respond::DeadlineStatus::DueSoon { days_left: 9 }
        );

        // The letter, addressed from the patient context.
        let letter = responder
            .draft_letter(
                &Sender {
                    organisation: "Westbrook General Hospital".into(),
                    signatory: "Pat Rivera".into(),
                    signatory_title: "Privacy Officer".into(),
                    toll_free_phone: Some("1-800-555-0134".into()),
                    email: Some("privacy@wgh.example.org".into()),
                    website: None,
                    postal_address: None,
                },
                &BreachFacts {
                    what_happened: "A member of our staff opened your medical record without a work reason.".into(),
                    breach_from: Some(day("2026-02-03")),
                    breach_to: None,
                    discovered_on: day("2026-02-03"),
                    phi_types: vec!["your name".into(), "diagnoses and medications".into(), "clinical notes".into()],
                    steps_for_individuals: vec!["Tell us if anyone mentions details of your care to you that they should not know.".into()],
                    what_we_are_doing: vec!["We suspended the staff member's access and applied our sanctions policy.".into()],
                },
                Some("pat-7731"),
            )
            .unwrap();
        assert!(
            letter
                .text
                .starts_with("Ada Okafor\n12 Elm St\nSpringfield Massachusetts 01101\n")
        );
        assert!(
            letter.text.contains(
                "This happened on February 3, 2026. We discovered it on February 3, 2026."
            )
        );
        assert!(letter.html.contains("<li>clinical notes</li>"));

        // Evidence: the alert and its events exported into the locker, read once, verified.
        let export = serde_json::to_vec_pretty(&alert).unwrap();
        let record = incidents
            .add_evidence(
                incident_id,
                &NewEvidence {
                    name: "alert-and-events.json".into(),
                    media_type: "application/json".into(),
                    content: export.clone(),
                    added_by: "pat.privacy".into(),
                    added_at: at("2026-02-04T09:30:00Z"),
                },
            )
            .unwrap();
        evidence_id = record.id;
        let (_, read) = incidents
            .open_evidence(
                evidence_id,
                CustodyAction::Read,
                "hr.partner",
                at("2026-02-05T10:00:00Z"),
                "interview preparation",
            )
            .unwrap()
            .unwrap();
        assert_eq!(read, export);
        assert_eq!(
            incidents
                .verify_evidence(incident_id, "pat.privacy", at("2026-02-06T08:00:00Z"))
                .unwrap(),
            EvidenceVerification::Intact {
                files: 1,
                custody_entries: 3
            }
        );
        let exported = responder.export_custody(incident_id).unwrap();
        let value: serde_json::Value = serde_json::from_str(&exported).unwrap();
        let entries: Vec<CustodyEntry> = serde_json::from_value(value["entries"].clone()).unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(first_broken_custody_link(incident_id, &entries), None);

        // The report lists the evidence with its hash and withholds the patient unless asked.
        let report = responder
            .incident_report(incident_id, day("2026-04-25"))
            .unwrap();
        let masked = ward_respond::report::render_html(&report, false);
        assert!(masked.contains(&ward_store::incidents::hex(&record.sha256)));
        assert!(masked.contains("1 patients (names withheld)"));
        assert!(!masked.contains("pat-7731"));
        assert!(masked.contains("individuals</td><td>2026-05-04</td><td>due in 9 days"));
        assert!(masked.contains("<strong>breach</strong>"));
        assert!(ward_respond::report::render_html(&report, true).contains("patient pat-7731"));

        let timeline: Vec<TimelineKind> = incidents
            .timeline(incident_id)
            .unwrap()
            .iter()
            .map(|e| e.kind)
            .collect();
        for kind in [
            TimelineKind::Opened,
            TimelineKind::AlertAttached,
            TimelineKind::TaskCreated,
            TimelineKind::Assessment,
            TimelineKind::DeadlinesComputed,
            TimelineKind::LawEnforcementDelay,
            TimelineKind::EvidenceAdded,
        ] {
            assert!(timeline.contains(&kind), "no {kind:?} in {timeline:?}");
        }
    }

    // One byte of the stored evidence changed behind Ward's back. The trigger that refuses
    // content updates guards against mistakes, not against someone holding the file, so the
    // tamperer drops it first; the SHA-256 recorded on arrival is what catches the change.
    {
        let db =
            rusqlite::Connection::open(dir.path().join("data").join(ward_store::sqlite::DB_FILE))
                .unwrap();
        let mut content: Vec<u8> = db
            .query_row(
                "SELECT content FROM evidence WHERE id = ?1",
                [evidence_id],
                |row| row.get(0),
            )
            .unwrap();
        content[10] ^= 0x01;
        db.execute_batch("DROP TRIGGER evidence_immutable").unwrap();
        let changed = db
            .execute(
                "UPDATE evidence SET content = ?2 WHERE id = ?1",
                rusqlite::params![evidence_id, content],
            )
            .unwrap();
        assert_eq!(changed, 1);
    }

    let store = open_encrypted(dir.path());
    let custody_before = store.incidents().custody_log(incident_id).unwrap().len();
    assert_eq!(
        store
            .incidents()
            .verify_evidence(incident_id, "auditor", at("2026-03-01T08:00:00Z"))
            .unwrap(),
        EvidenceVerification::Failed(EvidenceFailure::ContentChanged {
            evidence_id,
            name: "alert-and-events.json".into()
        })
    );
    // A failed verification certifies nothing.
    assert_eq!(
        store.incidents().custody_log(incident_id).unwrap().len(),
        custody_before
    );
}

#[test]
fn an_incident_closes_only_with_notices_given_then_is_reviewed_and_the_plan_tested() {
    use ward_respond::review::{Exercise, FollowUp, Review};
    use ward_store::incidents::{IncidentStatus, TaskStatus};

    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let plan = Plan::shipped();
    let responder = Responder::new(&store, &plan);
    let now = at("2026-03-01T10:00:00Z");
    let opened = responder
        .open_by_hand(
            IncidentType::LostOrStolenDevice,
            "Laptop stolen from a car",
            at("2026-02-27T18:00:00Z"),
            "ic",
            now,
        )
        .unwrap();
    let id = opened.incident_id;
    let affected = ward_respond::Affected {
        total: 40,
        by_state: [("MA".to_string(), 40)].into_iter().collect(),
        unreachable: 0,
    };
    responder
        .compute_deadlines(id, Role::CoveredEntity, &affected, "po", now)
        .unwrap();

    let refused = responder.close_incident(id, "", "ic", now).unwrap_err();
    assert!(
        matches!(
            refused,
            ward_respond::RespondError::StillOpen {
                pending_notices: 2,
                open_tasks
            } if open_tasks == opened.task_ids.len()
        ),
        "{refused}"
    );
    for task in &opened.task_ids {
        store
            .incidents()
            .update_task(*task, TaskStatus::Done, None, "ic", now)
            .unwrap();
    }
    for (kind, on) in [
        ("individuals", "2026-03-20"),
        ("hhs_annual_log", "2027-02-01"),
    ] {
        assert!(
            store
                .incidents()
                .mark_notified(id, kind, "", day(on), "po", now)
                .unwrap()
        );
    }
    let review = Review {
        held_on: day("2026-04-02"),
        participants: vec!["ic".into(), "po".into(), "it".into()],
        summary: "Unencrypted laptop: an enrolment exception never expired.".into(),
        went_well: vec!["remote wipe confirmed within the hour".into()],
        to_improve: vec!["encryption exceptions expire after 30 days".into()],
        follow_ups: vec![FollowUp {
            title: "Make encryption exceptions expire".into(),
            owner: "it_lead".into(),
            due_on: day("2026-05-01"),
        }],
    };
    assert!(matches!(
        responder.record_review(id, &review, "ic", now),
        Err(ward_respond::RespondError::NotClosed(_))
    ));
    responder
        .close_incident(id, "all notices sent", "ic", at("2027-02-02T09:00:00Z"))
        .unwrap();
    assert_eq!(
        store.incidents().get_incident(id).unwrap().unwrap().status,
        IncidentStatus::Closed
    );
    assert_eq!(store.incidents().closed_without_review().unwrap(), vec![id]);
    responder
        .record_review(id, &review, "ic", at("2027-02-03T09:00:00Z"))
        .unwrap();
    assert!(
        store
            .incidents()
            .closed_without_review()
            .unwrap()
            .is_empty()
    );
    let overdue = responder.overdue_follow_ups(day("2026-05-02")).unwrap();
    assert_eq!(overdue.len(), 1);
    assert_eq!(overdue[0].owner, "it_lead");

    assert_eq!(responder.plan_last_tested().unwrap(), None);
    responder
        .record_exercise(
            &Exercise {
                held_on: day("2026-06-10"),
                scenario: "Ransomware reaches PACS on a Saturday night".into(),
                participants: vec!["ic".into(), "po".into(), "comms".into()],
                findings: vec!["the downtime radiology workflow was unknown to night staff".into()],
                follow_ups: vec![],
            },
            "ic",
            now,
        )
        .unwrap();
    assert_eq!(
        responder.plan_last_tested().unwrap(),
        Some(day("2026-06-10"))
    );
}

#[test]
fn steps_the_law_or_the_plan_does_not_allow_are_refused() {
    use ward_respond::RespondError;
    use ward_respond::assessment::{Exception, ExceptionClaim};

    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let plan = Plan::shipped();
    let responder = Responder::new(&store, &plan);
    let now = at("2026-03-01T10:00:00Z");

    // An alert no route covers needs a person to choose the type.
    let mut unrouted = snooping_alert();
    unrouted.rule_id = "threat.network.unknown_device".into();
    unrouted.attack.clear();
    assert!(matches!(
        responder.open_from_alerts(std::slice::from_ref(&unrouted), None, None, "ic", now),
        Err(RespondError::Unrouted { rule_id }) if rule_id == "threat.network.unknown_device"
    ));
    let opened = responder
        .open_from_alerts(
            &[unrouted],
            Some(IncidentType::CompromisedAccount),
            None,
            "ic",
            now,
        )
        .unwrap();
    assert_eq!(opened.incident_type, IncidentType::CompromisedAccount);

    // Misdirected within the hospital: the exception applies, so no clock runs.
    let id = opened.incident_id;
    responder
        .assess(
            id,
            AssessmentInput {
                exceptions: vec![ExceptionClaim {
                    exception: Exception::InadvertentDisclosureBetweenAuthorised,
                    reasoning: "sent to the wrong ward clerk, who is authorised and deleted it"
                        .into(),
                }],
                ..Default::default()
            },
            "po",
            now,
        )
        .unwrap();
    let affected = ward_respond::Affected {
        total: 1,
        ..Default::default()
    };
    assert!(matches!(
        responder.compute_deadlines(id, Role::CoveredEntity, &affected, "po", now),
        Err(RespondError::NotABreach { conclusion }) if conclusion == "not_breach_exception"
    ));
    assert!(store.incidents().deadlines(id).unwrap().is_empty());

    // A delay must name the official who asked for it.
    assert!(matches!(
        responder.record_law_enforcement_delay(
            id,
            &DelayStatement {
                official: " ".into(),
                agency: "FBI".into(),
                delay: LawEnforcementDelay {
                    stated_on: day("2026-03-01"),
                    form: StatementForm::Oral,
                },
                note: String::new(),
            },
            "legal",
            now,
        ),
        Err(RespondError::UnnamedOfficial)
    ));
    assert!(matches!(
        responder.assess(999, AssessmentInput::default(), "po", now),
        Err(RespondError::NoSuchIncident(999))
    ));
}

fn four(risk: Risk) -> AssessmentInput {
    AssessmentInput {
        factors: Factor::ALL
            .iter()
            .map(|f| factor(*f, risk, "as found by the privacy officer"))
            .collect(),
        ..Default::default()
    }
}

fn timeline_texts(store: &SqliteStore, id: i64) -> Vec<String> {
    store
        .incidents()
        .timeline(id)
        .unwrap()
        .into_iter()
        .map(|e| e.text)
        .collect()
}

fn kinds(store: &SqliteStore, id: i64) -> Vec<String> {
    store
        .incidents()
        .deadlines(id)
        .unwrap()
        .into_iter()
        .map(|d| d.kind)
        .collect()
}

#[test]
fn an_assessment_recomputes_the_deadlines_and_writes_it_on_the_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    store.put_context(&[patient()]).unwrap();
    let plan = Plan::shipped();
    let responder = Responder::new(&store, &plan);
    let now = at("2026-02-04T09:00:00Z");
    let id = responder
        .open_from_alerts(&[snooping_alert()], None, None, "po", now)
        .unwrap()
        .incident_id;
    assert!(kinds(&store, id).is_empty(), "nothing computed yet");

    // A breach: the deadlines appear without pressing anything.
    responder.assess(id, four(Risk::High), "po", now).unwrap();
    assert_eq!(kinds(&store, id), ["individuals", "hhs_annual_log"]);
    assert!(
        timeline_texts(&store, id)
            .iter()
            .any(|t| t == "deadlines recomputed after the assessment: 2 notices run"),
        "{:?}",
        timeline_texts(&store, id)
    );
    responder
        .record_notice(
            id,
            "individuals",
            "",
            day("2026-02-10"),
            "first-class mail",
            "po",
            at("2026-02-10T12:00:00Z"),
        )
        .unwrap();

    // Low probability of compromise: the notices not yet given are withdrawn, the one given
    // stays on record.
    responder.assess(id, four(Risk::Low), "po", now).unwrap();
    let left = store.incidents().deadlines(id).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].kind, "individuals");
    assert_eq!(left[0].notified_on, Some(day("2026-02-10")));
    assert!(
        timeline_texts(&store, id)
            .iter()
            .any(|t| t
                .starts_with("1 notices not yet given withdrawn: the determination is not_breach")),
        "{:?}",
        timeline_texts(&store, id)
    );

    // New facts, breach again: all run again, the given notice still given.
    responder.assess(id, four(Risk::High), "po", now).unwrap();
    let again = store.incidents().deadlines(id).unwrap();
    assert_eq!(again.len(), 2);
    assert_eq!(again[0].notified_on, Some(day("2026-02-10")));
}

#[test]
fn a_change_in_the_affected_counts_recomputes_the_deadlines_on_the_next_check() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    store.put_context(&[patient()]).unwrap();
    let plan = Plan::shipped();
    let responder = Responder::new(&store, &plan);
    let now = at("2026-02-04T09:00:00Z");
    let id = responder
        .open_from_alerts(&[snooping_alert()], None, None, "po", now)
        .unwrap()
        .incident_id;
    let affected = responder.affected(id).unwrap();
    assert_eq!(affected.unreachable, 0, "the patient has a full address");
    responder
        .compute_deadlines(id, Role::CoveredEntity, &affected, "po", now)
        .unwrap();
    assert!(responder.refresh_deadlines("ward", now).unwrap().is_empty());

    // The patient's address turns out to be unusable (the context is re-imported).
    let mut moved = patient();
    if let ContextSummary::Patient { address, .. } = &mut moved.summary {
        *address = None;
    }
    store.put_context(&[moved]).unwrap();
    assert_eq!(responder.refresh_deadlines("ward", now).unwrap(), vec![id]);
    let mut now_due = kinds(&store, id);
    now_due.sort();
    assert_eq!(
        now_due,
        ["alternative_notice", "hhs_annual_log", "individuals"]
    );
    assert!(
        timeline_texts(&store, id).iter().any(|t| t.starts_with(
            "affected individuals changed (1 to 1; 0 to 1 without usable contact information)"
        )),
        "{:?}",
        timeline_texts(&store, id)
    );
    // Nothing changed since: nothing recomputed.
    assert!(responder.refresh_deadlines("ward", now).unwrap().is_empty());
}

#[test]
fn ten_unreachable_patients_owe_a_substitute_notice_kept_posted_ninety_days() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let plan = Plan::shipped();
    let responder = Responder::new(&store, &plan);
    let now = at("2026-03-01T10:00:00Z");
    let id = responder
        .open_by_hand(
            IncidentType::MisdirectedPhi,
            "Mailing with stale addresses",
            at("2026-02-27T18:00:00Z"),
            "po",
            now,
        )
        .unwrap()
        .incident_id;
    // Patients the context does not know: no address to write to.
    for n in 0..9 {
        store
            .incidents()
            .link_entity(id, LinkKind::Patient, &format!("pt-{n}"), "po", now)
            .unwrap();
    }
    let nine = responder.affected(id).unwrap();
    assert_eq!(nine.unreachable, 9);
    responder
        .compute_deadlines(id, Role::CoveredEntity, &nine, "po", now)
        .unwrap();
    assert!(kinds(&store, id).contains(&"alternative_notice".to_string()));
    assert!(!kinds(&store, id).contains(&"substitute_notice".to_string()));

    store
        .incidents()
        .link_entity(id, LinkKind::Patient, "pt-9", "po", now)
        .unwrap();
    assert_eq!(responder.refresh_deadlines("ward", now).unwrap(), vec![id]);
    let ten = store.incidents().deadlines(id).unwrap();
    let substitute = ten
        .iter()
        .find(|d| d.kind == "substitute_notice")
        .expect("ten unreachable: substitute notice");
    assert_eq!(substitute.citation, "45 CFR 164.404(d)(2)(ii)");
    assert_eq!(substitute.due_on, day("2026-04-28"));
    assert!(!ten.iter().any(|d| d.kind == "alternative_notice"));

    // Given: the method is recorded, and how long the posting must stay up.
    let given_at = at("2026-03-05T10:00:00Z");
    let err = responder
        .record_notice(
            id,
            "substitute_notice",
            "",
            day("2026-03-05"),
            " ",
            "po",
            given_at,
        )
        .unwrap_err();
    assert!(
        matches!(err, ward_respond::RespondError::Incomplete(_)),
        "{err}"
    );
    let err = responder
        .record_notice(
            id,
            "media",
            "MA",
            day("2026-03-05"),
            "press",
            "po",
            given_at,
        )
        .unwrap_err();
    assert!(
        matches!(err, ward_respond::RespondError::NoSuchNotice { .. }),
        "{err}"
    );
    let err = responder
        .record_notice(
            id,
            "substitute_notice",
            "",
            day("2026-02-01"),
            "web",
            "po",
            given_at,
        )
        .unwrap_err();
    assert!(
        matches!(err, ward_respond::RespondError::NoticeDate(_)),
        "{err}"
    );
    responder
        .record_notice(
            id,
            "substitute_notice",
            "",
            day("2026-03-05"),
            "home page posting and toll-free line",
            "po",
            given_at,
        )
        .unwrap();
    assert!(timeline_texts(&store, id).iter().any(|t| t
        == "substitute_notice notice given on 2026-03-05 by home page posting and toll-free line; keep the posting up and the toll-free number answered through 2026-06-03 (45 CFR 164.404(d)(2)(ii))"));
    let report = responder.incident_report(id, day("2026-03-06")).unwrap();
    let html = ward_respond::report::render_html(&report, false);
    assert!(html.contains("posted from 2026-03-05: keep it up and the toll-free number answered through 2026-06-03"), "{html}");
    assert!(html.contains("Substitute notice (45 CFR 164.404(d)(2)(ii))"));
    assert!(!html.contains("pt-3"), "patients counted, not named");
}

#[test]
fn closing_with_an_incomplete_review_leaves_the_incident_open_and_follow_ups_are_tracked() {
    use ward_respond::review::{FollowUp, Review};
    use ward_store::incidents::{IncidentStatus, TaskStatus};

    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let plan = Plan::shipped();
    let responder = Responder::new(&store, &plan);
    let now = at("2026-03-01T10:00:00Z");
    let opened = responder
        .open_by_hand(
            IncidentType::Phishing,
            "Phishing reported, no click",
            at("2026-02-27T18:00:00Z"),
            "ic",
            now,
        )
        .unwrap();
    let id = opened.incident_id;
    for task in &opened.task_ids {
        store
            .incidents()
            .update_task(*task, TaskStatus::NotApplicable, None, "ic", now)
            .unwrap();
    }
    let mut review = Review {
        held_on: day("2026-03-02"),
        participants: vec![" ".into()],
        summary: "Reported within minutes; nobody clicked.".into(),
        went_well: vec![],
        to_improve: vec![],
        follow_ups: vec![FollowUp {
            title: "Add the sender's domain to the block list".into(),
            owner: "it_lead".into(),
            due_on: day("2026-03-09"),
        }],
    };
    let err = responder
        .close_with_review(id, "no PHI involved", &review, "ic", now)
        .unwrap_err();
    assert!(
        matches!(err, ward_respond::RespondError::Incomplete(_)),
        "{err}"
    );
    assert_eq!(
        store.incidents().get_incident(id).unwrap().unwrap().status,
        IncidentStatus::Open,
        "an incomplete review closes nothing"
    );
    review.participants = vec!["ic".into(), "it".into()];
    responder
        .close_with_review(id, "no PHI involved", &review, "ic", now)
        .unwrap();
    assert_eq!(
        store.incidents().get_incident(id).unwrap().unwrap().status,
        IncidentStatus::Closed
    );
    assert!(store.incidents().review(id).unwrap().is_some());
    let follow_up = store.incidents().follow_ups(true).unwrap();
    assert_eq!(follow_up.len(), 1);
    let done = responder
        .complete_follow_up(follow_up[0].id, day("2026-03-03"), "it", now)
        .unwrap()
        .unwrap();
    assert_eq!(done.done_on, Some(day("2026-03-03")));
    assert!(store.incidents().follow_ups(true).unwrap().is_empty());
    assert!(
        timeline_texts(&store, id)
            .iter()
            .any(|t| t.starts_with(&format!("follow-up {} done on 2026-03-03", done.id)))
    );
    assert!(
        responder
            .complete_follow_up(done.id, day("2026-03-04"), "it", now)
            .unwrap()
            .is_none(),
        "done once"
    );
}
