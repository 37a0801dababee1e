//! Behaviour of the privacy detector on hand-built context and events: one test per rule or
//! explanation that the simulator's measurement (tests/privacy.rs) cannot isolate.

use super::*;
use ward_model::context::{Address, Identifier, Participant, PersonName};
use ward_model::{ContextKind, ContextSummary};

const H: i64 = 3_600_000;
/// 2026-11-02T00:00:00Z.
const T0: i64 = 1_793_577_600_000;

fn name(given: &str, family: &str) -> PersonName {
    PersonName {
        family: Some(family.into()),
        given: vec![given.into()],
    }
}

fn address(line: &str, postal: &str) -> Option<Address> {
    Some(Address {
        line: vec![line.into()],
        city: Some("Riverton".into()),
        state: None,
        postal_code: Some(postal.into()),
    })
}

fn resource(kind: ContextKind, id: &str, summary: ContextSummary, raw: &str) -> ContextResource {
    ContextResource {
        kind,
        id: id.into(),
        summary,
        raw: raw.as_bytes().to_vec(),
    }
}

fn patient(id: &str, mrn: &str, person: PersonName, birth: &str, home: &str) -> ContextResource {
    resource(
        ContextKind::Patient,
        id,
        ContextSummary::Patient {
            identifiers: vec![Identifier {
                system: None,
                type_code: Some("MR".into()),
                value: mrn.into(),
            }],
            name: person,
            birth_date: Some(birth.into()),
            address: address(home, "12628"),
            deceased: false,
            deceased_at: None,
            security_labels: Vec::new(),
            contact_names: Vec::new(),
        },
        "{}",
    )
}

fn practitioner(
    id: &str,
    login: &str,
    person: PersonName,
    birth: &str,
    home: &str,
) -> ContextResource {
    resource(
        ContextKind::Practitioner,
        id,
        ContextSummary::Practitioner {
            identifiers: vec![Identifier {
                system: Some("urn:oid:2.16.840.1.113883.19.5".into()),
                type_code: None,
                value: login.into(),
            }],
            name: person,
            birth_date: Some(birth.into()),
            address: address(home, "12628"),
            active: true,
        },
        "{}",
    )
}

fn role(id: &str, practitioner: &str, org: &str, code: &str) -> ContextResource {
    resource(
        ContextKind::PractitionerRole,
        id,
        ContextSummary::PractitionerRole {
            practitioner: Some(format!("Practitioner/{practitioner}")),
            organization: Some(format!("Organization/{org}")),
            codes: vec![code.into()],
            specialties: Vec::new(),
            active: true,
            start: None,
            end: None,
        },
        "{}",
    )
}

fn org(id: &str, label: &str, code: &str) -> ContextResource {
    resource(
        ContextKind::Organization,
        id,
        ContextSummary::Organization {
            name: Some(label.into()),
            part_of: None,
            types: vec!["dept".into()],
            active: true,
        },
        &format!(r#"{{"resourceType":"Organization","identifier":[{{"value":"{code}"}}]}}"#),
    )
}

fn encounter(
    id: &str,
    patient: &str,
    dept: &str,
    start: i64,
    end: Option<i64>,
    members: &[&str],
) -> ContextResource {
    resource(
        ContextKind::Encounter,
        id,
        ContextSummary::Encounter {
            patient: Some(format!("Patient/{patient}")),
            status: None,
            class: Some("IMP".into()),
            participants: members
                .iter()
                .map(|m| Participant {
                    reference: format!("Practitioner/{m}"),
                    role: Some("ATND".into()),
                    start: None,
                    end: None,
                })
                .collect(),
            service_provider: Some(format!("Organization/{dept}")),
            start: Some(Timestamp(start)),
            end: end.map(Timestamp),
        },
        "{}",
    )
}

fn roster(
    login: &str,
    status: ward_model::context::EmploymentStatus,
    terminated: Option<i64>,
) -> ContextResource {
    resource(
        ContextKind::PractitionerRole,
        &format!("roster-{login}"),
        ContextSummary::Employment {
            login: login.into(),
            name: PersonName::default(),
            department: Some("MED".into()),
            role: Some("nurse".into()),
            hired: None,
            terminated: terminated.map(Timestamp),
            status,
            leave_start: None,
            leave_end: None,
        },
        "",
    )
}

/// An EHR access: `code` is the FHIR interaction or DICOM event code.
fn access(n: u32, user: &str, patient: Option<&str>, t: i64, code: &str) -> Event {
    let mut e = Event::from_record("fhir", Timestamp(t), format!("{n}").into_bytes());
    e.class_uid = class::API_ACTIVITY;
    e.activity_id = match code {
        "create" => api_activity::CREATE,
        "update" => api_activity::UPDATE,
        "read" | "110106" => api_activity::READ,
        _ => api_activity::OTHER,
    };
    e.metadata.event_code = Some(code.into());
    e.actor.user.name = Some(user.into());
    e.patient.id = patient.map(str::to_string);
    e
}

/// A small hospital: Internal Medicine (MED) with nurse u1 (pr1) and physician u2 (pr2), the
/// laboratory (LAB) with u3 (pr3); patient pt1 (MRN1) admitted to MED under pr2.
fn hospital() -> Vec<ContextResource> {
    vec![
        org("dept-med", "Internal Medicine", "MED"),
        org("dept-lab", "Laboratory", "LAB"),
        practitioner(
            "pr1",
            "u1",
            name("Ann", "Lee"),
            "1980-01-01",
            "1 Oak Street",
        ),
        practitioner("pr2", "u2", name("Bob", "Ray"), "1970-02-02", "9 Elm Road"),
        practitioner("pr3", "u3", name("Cy", "Fox"), "1990-03-03", "5 Pine Lane"),
        role("prr1", "pr1", "dept-med", "nurse"),
        role("prr2", "pr2", "dept-med", "physician"),
        role("prr3", "pr3", "dept-lab", "lab"),
        patient(
            "pt1",
            "MRN1",
            name("Dee", "Kim"),
            "1950-05-05",
            "77 Birch Way",
        ),
        encounter("enc1", "pt1", "dept-med", T0, None, &["pr2"]),
    ]
}

fn detector(resources: &[ContextResource]) -> PrivacyDetector {
    let mut d = PrivacyDetector::default();
    d.context(resources);
    d
}

/// A detector for which every first-ever access outside the user's department is an alert
/// of its own (the browsing threshold at 1 patient).
fn detector_every_outside(resources: &[ContextResource]) -> PrivacyDetector {
    let mut d = PrivacyDetector::new(PrivacyOptions {
        outside_department_min_patients: 1,
        ..PrivacyOptions::default()
    });
    d.context(resources);
    d
}

fn run(d: &mut PrivacyDetector, events: &[Event]) -> Vec<Finding> {
    let mut out = Vec::new();
    for e in events {
        d.observe(e, &mut out);
    }
    let last = events.last().map_or(0, |e| e.time.millis());
    d.advance(Timestamp(last + 48 * H), &mut out);
    out
}

#[test]
fn care_team_department_and_ancillary_explain_in_that_order() {
    let mut d = detector(&hospital());
    let mut out = Vec::new();
    for (user, expected) in [
        ("u2", Template::CareTeam),
        ("u1", Template::Department),
        ("u3", Template::Ancillary),
    ] {
        d.observe(&access(1, user, Some("pt1"), T0 + H, "read"), &mut out);
        assert_eq!(
            d.last_outcome(),
            AccessOutcome::Explained(expected),
            "{user}"
        );
    }
    // The margins: 12 h before admission explains, 13 h before does not.
    d.observe(&access(2, "u2", Some("pt1"), T0 - 11 * H, "read"), &mut out);
    assert_eq!(
        d.last_outcome(),
        AccessOutcome::Explained(Template::CareTeam)
    );
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn adt_patients_keyed_by_mrn_join_fhir_patients_by_identifier() {
    let mut resources = hospital();
    // ADT names the patient by MRN; its encounter puts u1 on the team of pt1's second stay.
    resources.push(patient(
        "MRN1",
        "MRN1",
        name("Dee", "Kim"),
        "1950-05-05",
        "77 Birch Way",
    ));
    resources.push(encounter(
        "enc2",
        "MRN1",
        "dept-lab",
        T0 + 100 * H,
        Some(T0 + 101 * H),
        &["pr1"],
    ));
    let mut d = detector(&resources);
    assert_eq!(d.relations().patients.len(), 1);
    assert_eq!(d.relations().patients[0].display, "pt1");
    let mut out = Vec::new();
    // An ATNA event names the patient in HL7 CX form.
    d.observe(
        &access(1, "u1", Some("MRN1^^^WGH&1.2&ISO^MR"), T0 + 100 * H, "read"),
        &mut out,
    );
    assert_eq!(
        d.last_outcome(),
        AccessOutcome::Explained(Template::CareTeam)
    );
}

#[test]
fn co_worker_record_without_a_relationship_says_why_and_what_was_tried() {
    let mut resources = hospital();
    // u2 is also a patient here, with no encounter.
    resources.push(patient(
        "pt2",
        "MRN2",
        name("Bob", "Ray"),
        "1970-02-02",
        "9 Elm Road",
    ));
    let mut d = detector(&resources);
    let out = run(&mut d, &[access(1, "u1", Some("pt2"), T0 + H, "read")]);
    assert_eq!(out.len(), 1, "{out:?}");
    let alert = &out[0].alert;
    assert_eq!(alert.rule_id, "privacy.co_worker");
    assert_eq!(
        alert.severity,
        Severity::High,
        "same department is the more severe case"
    );
    assert_eq!(alert.entities.user.as_deref(), Some("u1"));
    assert_eq!(alert.entities.patient.as_deref(), Some("pt2"));
    assert_eq!(
        alert.id,
        alert_id("privacy.co_worker", "u1|pt2", Timestamp(T0))
    );
    let text = alert.description.as_deref().unwrap();
    for part in [
        "co-worker u2",
        "care team:",
        "department:",
        "break-the-glass:",
    ] {
        assert!(text.contains(part), "{part:?} not in {text}");
    }
    for cite in [
        "164.308(a)(1)(ii)(D)",
        "164.312(b)",
        "164.308(a)(4)",
        "164.502(b)",
    ] {
        assert!(alert.hipaa.iter().any(|h| h == cite), "{cite}");
    }
}

#[test]
fn own_record_is_flagged_even_when_the_department_explains_it() {
    let mut resources = hospital();
    resources.push(patient(
        "pt9",
        "MRN9",
        name("Ann", "Lee"),
        "1980-01-01",
        "1 Oak Street",
    ));
    resources.push(encounter("enc9", "pt9", "dept-med", T0, None, &["pr2"]));
    let mut d = detector(&resources);
    let out = run(&mut d, &[access(1, "u1", Some("pt9"), T0 + H, "read")]);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].alert.rule_id, "privacy.self_access");
    let text = out[0].alert.description.as_deref().unwrap();
    assert!(text.contains("clinical explanation"), "{text}");
    assert!(text.contains("0.99"), "{text}");
}

fn appropriate(alert: &str, user: &str, patient: &str, until: i64) -> ContextResource {
    resource(
        ContextKind::PrivacyDetermination,
        &format!("determination-{alert}"),
        ContextSummary::PrivacyDetermination {
            user: user.into(),
            patient: Some(patient.into()),
            patients: Vec::new(),
            determination: "appropriate".into(),
            alert: alert.into(),
            note: None,
            by: None,
            decided_at: Timestamp(T0),
            from: Some(Timestamp(T0)),
            until: Some(Timestamp(until)),
        },
        "{}",
    )
}

#[test]
fn a_confirmed_pair_raises_no_pattern_but_own_record_is_still_flagged() {
    let mut resources = hospital();
    resources.push(patient(
        "pt2",
        "MRN2",
        name("Bob", "Ray"),
        "1970-02-02",
        "9 Elm Road",
    ));
    resources.push(patient(
        "pt9",
        "MRN9",
        name("Ann", "Lee"),
        "1980-01-01",
        "1 Oak Street",
    ));
    // The officer found u1's looks at co-worker pt2 and at her own record appropriate, for
    // two days.
    resources.push(appropriate("a1", "u1", "pt2", T0 + 48 * H));
    resources.push(appropriate("a2", "u1", "pt9", T0 + 48 * H));
    let mut d = detector(&resources);
    let mut out = Vec::new();
    d.observe(&access(1, "u1", Some("MRN2"), T0 + H, "read"), &mut out);
    assert_eq!(
        d.last_outcome(),
        AccessOutcome::Explained(Template::Confirmed)
    );
    d.advance(Timestamp(T0 + 30 * H), &mut out);
    assert!(out.is_empty(), "{out:?}");
    // Her own record: flagged whatever explains it, the officer's finding included.
    let out = run(&mut d, &[access(2, "u1", Some("pt9"), T0 + 31 * H, "read")]);
    assert_eq!(rules(&out), vec!["privacy.self_access"]);
    let text = out[0].alert.description.as_deref().unwrap();
    assert!(text.contains("the privacy officer found"), "{text}");
    // After the confirmation ends, the co-worker pattern is flagged again.
    let out = run(&mut d, &[access(3, "u1", Some("pt2"), T0 + 80 * H, "read")]);
    assert_eq!(rules(&out), vec!["privacy.co_worker"]);
    // Confirmed: the first look at pt2 and the look at her own record.
    assert_eq!(d.stats().explained[slot(Template::Confirmed)], 2);
}

#[test]
fn household_neighbour_and_deceased_patterns() {
    let mut resources = hospital();
    resources.push(patient(
        "pt3",
        "MRN3",
        name("Eve", "Lee"),
        "2001-01-01",
        "1 Oak Street",
    ));
    resources.push(patient(
        "pt4",
        "MRN4",
        name("Gil", "Orr"),
        "1961-01-01",
        "12 Oak Street",
    ));
    let mut dead = patient("pt5", "MRN5", name("Hal", "Ng"), "1931-01-01", "3 Far Road");
    if let ContextSummary::Patient {
        deceased,
        deceased_at,
        ..
    } = &mut dead.summary
    {
        *deceased = true;
        *deceased_at = Some(Timestamp(T0 - 400 * 24 * H));
    }
    resources.push(dead);
    let mut d = detector(&resources);
    let out = run(
        &mut d,
        &[
            access(1, "u1", Some("pt3"), T0 + H, "read"),
            access(2, "u1", Some("pt4"), T0 + 2 * H, "read"),
            access(3, "u1", Some("pt5"), T0 + 3 * H, "read"),
        ],
    );
    let rules: Vec<&str> = out.iter().map(|f| f.alert.rule_id.as_str()).collect();
    assert_eq!(
        rules,
        [
            "privacy.family_member",
            "privacy.neighbour",
            "privacy.deceased"
        ],
        "{out:#?}"
    );
}

#[test]
fn roster_termination_flags_every_use_of_the_account_whatever_the_order_context_arrives_in() {
    use ward_model::context::EmploymentStatus;
    let mut resources = vec![roster(
        "u1",
        EmploymentStatus::Terminated,
        Some(T0 - 30 * 24 * H),
    )];
    resources.extend(hospital());
    let mut d = detector(&resources);
    let mut login = access(1, "u1", None, T0 + H, "110122");
    login.class_uid = class::AUTHENTICATION;
    login.activity_name = Some("Login".into());
    let out = run(
        &mut d,
        &[login, access(2, "u1", Some("pt1"), T0 + H + 60_000, "read")],
    );
    assert!(
        out.len() == 2
            && out
                .iter()
                .all(|f| f.alert.rule_id == "privacy.terminated_user"),
        "{out:#?}"
    );
    assert_eq!(
        out[0].alert.id, out[1].alert.id,
        "one alert per user and day"
    );
    assert_eq!(out[0].alert.severity, Severity::Critical);
    assert!(
        out[0]
            .alert
            .hipaa
            .iter()
            .any(|h| h == "164.308(a)(3)(ii)(C)")
    );
    // The department explained the read; the account is flagged all the same.
    assert_eq!(
        d.last_outcome(),
        AccessOutcome::Explained(Template::Department)
    );

    let mut d = detector(&hospital());
    d.context(&[roster("u1", EmploymentStatus::OnLeave, None)]);
    let out = run(&mut d, &[access(1, "u1", Some("pt1"), T0 + H, "read")]);
    assert_eq!(out[0].alert.rule_id, "privacy.on_leave_user");
}

#[test]
fn break_the_glass_explains_but_must_be_followed_by_care() {
    let mut resources = hospital();
    resources.push(patient(
        "pt7",
        "MRN7",
        name("Ida", "Yu"),
        "1977-07-07",
        "8 Lake Drive",
    ));
    let mut d = detector(&resources);
    let btg = access(1, "u1", Some("pt7"), T0 + H, "110127");
    let read = access(2, "u1", Some("pt7"), T0 + H + 30_000, "read");
    let mut out = Vec::new();
    d.observe(&btg, &mut out);
    d.observe(&read, &mut out);
    assert_eq!(
        d.last_outcome(),
        AccessOutcome::Explained(Template::BreakGlass)
    );
    assert!(out.is_empty());
    d.advance(Timestamp(T0 + 4 * H), &mut out);
    assert_eq!(out.len(), 1, "{out:#?}");
    assert_eq!(
        out[0].alert.rule_id,
        "privacy.break_glass_without_follow_up"
    );
    assert_eq!(out[0].events, vec![btg.id]);

    // The same, followed by a note: nothing to say.
    let mut d = detector(&resources);
    let out = run(
        &mut d,
        &[
            btg.clone(),
            read.clone(),
            access(3, "u1", Some("pt7"), T0 + H + 90_000, "create"),
        ],
    );
    assert!(out.is_empty(), "{out:#?}");
}

#[test]
fn many_unexplained_patients_in_an_hour_are_one_sweep_alert_not_one_per_patient() {
    let mut resources = hospital();
    let mut events = Vec::new();
    for i in 0..30 {
        let id = format!("px{i}");
        resources.push(patient(
            &id,
            &format!("MRNX{i}"),
            name("Pat", &format!("X{i}")),
            "1990-01-01",
            &format!("{i} Far Road"),
        ));
        events.push(access(
            i,
            "u1",
            Some(&id),
            T0 + H + i as i64 * 60_000,
            "read",
        ));
    }
    let mut d = detector(&resources);
    let out = run(&mut d, &events);
    let ids: std::collections::HashSet<&str> = out.iter().map(|f| f.alert.id.as_str()).collect();
    assert_eq!(ids.len(), 1, "{out:#?}");
    assert_eq!(out[0].alert.rule_id, "privacy.bulk_sweep");
    assert_eq!(
        out[0].events.len(),
        15,
        "the first alert carries the accesses that made it"
    );
    assert_eq!(out.iter().map(|f| f.events.len()).sum::<usize>(), 30);

    // Fewer than the threshold: each is its own low-severity alert, after the window.
    let mut d = detector(&resources);
    let out = run(&mut d, &events[..3]);
    assert_eq!(out.len(), 3);
    assert!(
        out.iter()
            .all(|f| f.alert.rule_id == "privacy.unexplained_access"
                && f.alert.severity == Severity::Low)
    );
}

#[test]
fn exports_of_many_patients_are_a_mass_export_even_when_explained() {
    let mut resources = hospital();
    let mut events = Vec::new();
    for i in 0..25u32 {
        let id = format!("py{i}");
        resources.push(patient(
            &id,
            &format!("MRNY{i}"),
            name("Pat", &format!("Y{i}")),
            "1990-01-01",
            "2 Far Road",
        ));
        resources.push(encounter(
            &format!("ey{i}"),
            &id,
            "dept-med",
            T0,
            None,
            &["pr2"],
        ));
        events.push(access(
            i,
            "u2",
            Some(&id),
            T0 + H + i as i64 * 30_000,
            "110106",
        ));
    }
    let mut d = detector(&resources);
    let out = run(&mut d, &events);
    let rules: std::collections::HashSet<&str> =
        out.iter().map(|f| f.alert.rule_id.as_str()).collect();
    assert_eq!(rules, ["privacy.mass_export"].into(), "{out:#?}");
    assert_eq!(out[0].alert.severity, Severity::Critical);
}

#[test]
fn learned_templates_explain_recurring_department_pairs_but_never_strangers() {
    // Laboratory-like work from a department the fixed templates do not know as ancillary:
    // three dietitians of NUTR read five MED inpatients each.
    let mut resources = hospital();
    resources.push(org("dept-nutr", "Nutrition", "NUTR"));
    let mut events = Vec::new();
    for u in 0..3 {
        let pr = format!("prd{u}");
        resources.push(practitioner(
            &pr,
            &format!("d{u}"),
            name("Dia", &format!("D{u}")),
            "1985-01-01",
            "4 Sea Road",
        ));
        resources.push(role(&format!("prrd{u}"), &pr, "dept-nutr", "dietitian"));
    }
    for p in 0..5 {
        let id = format!("pz{p}");
        resources.push(patient(
            &id,
            &format!("MRNZ{p}"),
            name("Pat", &format!("Z{p}")),
            "1990-01-01",
            "6 Far Road",
        ));
        resources.push(encounter(
            &format!("ez{p}"),
            &id,
            "dept-med",
            T0,
            None,
            &["pr2"],
        ));
    }
    resources.push(patient(
        "stranger",
        "MRNS",
        name("Sam", "S"),
        "1990-01-01",
        "7 Far Road",
    ));
    let mut n = 0;
    for u in 0..3 {
        for p in 0..5 {
            n += 1;
            events.push(access(
                n,
                &format!("d{u}"),
                Some(&format!("pz{p}")),
                T0 + H + n as i64 * 60_000,
                "read",
            ));
        }
    }
    events.push(access(99, "d0", Some("stranger"), T0 + 2 * H, "read"));
    let mut d = detector(&resources);
    let out = run(&mut d, &events);
    assert_eq!(
        d.learned_templates(),
        vec![("Nutrition".to_string(), "Internal Medicine".to_string())]
    );
    let stats = d.stats();
    assert!(stats.explained[slot(Template::Learned)] >= 10, "{stats:?}");
    // Only the stranger remains.
    assert_eq!(out.len(), 1, "{out:#?}");
    assert_eq!(out[0].alert.entities.patient.as_deref(), Some("stranger"));
}

#[test]
fn a_chart_session_running_past_the_margin_keeps_its_explanation() {
    let mut resources = hospital();
    resources.push(encounter(
        "enc5",
        "pt1",
        "dept-lab",
        T0,
        Some(T0 + H),
        &["pr1"],
    ));
    resources.retain(|r| r.id != "enc1");
    // The care team's follow-up window no longer than the margin, so that only the chart
    // session explains the second access.
    let mut d = PrivacyDetector::new(PrivacyOptions {
        care_team_follow_up: std::time::Duration::from_secs(24 * 3600),
        ..PrivacyOptions::default()
    });
    d.context(&resources);
    let end_of_margin = T0 + H + 24 * H;
    let out = run(
        &mut d,
        &[
            access(1, "u1", Some("pt1"), end_of_margin - 5_000, "read"),
            access(2, "u1", Some("pt1"), end_of_margin + 20_000, "read"),
        ],
    );
    assert_eq!(
        d.last_outcome(),
        AccessOutcome::Explained(Template::CareTeam)
    );
    assert!(out.is_empty(), "{out:#?}");
}

#[test]
fn system_accounts_and_events_without_context_never_panic_or_alert_on_nothing() {
    let mut d = PrivacyDetector::default();
    let mut out = Vec::new();
    let mut odd = access(1, "EPIC|WGH", Some("MRN1"), T0, "read");
    d.observe(&odd, &mut out);
    assert_eq!(d.stats().unknown_user, 1);
    odd.actor.user.name = None;
    d.observe(&odd, &mut out);
    d.observe(&Event::default(), &mut out);
    d.advance(Timestamp(i64::MAX), &mut out);
    d.advance(Timestamp(i64::MIN), &mut out);
    d.context(&[roster(
        "",
        ward_model::context::EmploymentStatus::Unknown,
        None,
    )]);
    d.observe(&access(2, "", Some(""), i64::MAX, "110127"), &mut out);
    d.observe(
        &access(3, "x", Some("Patient/"), i64::MIN, "110106"),
        &mut out,
    );
    assert!(out.is_empty(), "{out:#?}");

    // A known user reading a patient Ward has no context for is said so.
    let mut d = detector(&hospital());
    let out = run(&mut d, &[access(1, "u1", Some("pt404"), T0, "read")]);
    assert_eq!(out.len(), 1);
    assert!(
        out[0]
            .alert
            .description
            .as_deref()
            .unwrap()
            .contains("no context")
    );
}

#[test]
fn a_shared_address_alone_does_not_flag_an_explained_access() {
    let mut resources = hospital();
    // Another family at u2's address (an apartment building), admitted to u2's department.
    resources.push(patient(
        "pt8",
        "MRN8",
        name("Jo", "Park"),
        "1999-09-09",
        "9 Elm Road",
    ));
    resources.push(encounter("enc8", "pt8", "dept-med", T0, None, &["pr1"]));
    // Family of u2 at the same address, admitted the same way.
    resources.push(patient(
        "pt6",
        "MRN6",
        name("Kay", "Ray"),
        "1972-06-06",
        "9 Elm Road",
    ));
    resources.push(encounter("enc6", "pt6", "dept-med", T0, None, &["pr1"]));
    let mut d = detector(&resources);
    let out = run(
        &mut d,
        &[
            access(1, "u2", Some("pt8"), T0 + H, "read"),
            access(2, "u2", Some("pt6"), T0 + H, "read"),
        ],
    );
    assert_eq!(out.len(), 1, "{out:#?}");
    assert_eq!(out[0].alert.rule_id, "privacy.family_member");
    assert_eq!(out[0].alert.entities.patient.as_deref(), Some("pt6"));
    assert_eq!(out[0].alert.severity, Severity::Medium);
}

#[test]
fn a_patient_reading_their_own_record_through_the_portal_is_self_service() {
    let mut d = detector(&hospital());
    let out = run(&mut d, &[access(1, "MRN1", Some("pt1"), T0 + H, "read")]);
    assert!(out.is_empty(), "{out:#?}");
    assert_eq!(
        d.last_outcome(),
        AccessOutcome::Explained(Template::SelfService)
    );
    // A portal account reading someone else's record is not explained by it.
    let mut resources = hospital();
    resources.push(patient(
        "pt2",
        "MRN2",
        name("Lou", "Tan"),
        "1966-06-06",
        "3 Far Road",
    ));
    let mut d = detector(&resources);
    let mut out = Vec::new();
    d.observe(&access(2, "MRN2", Some("pt1"), T0 + H, "read"), &mut out);
    assert_eq!(d.last_outcome(), AccessOutcome::NotAssessed);
    assert_eq!(d.stats().unknown_user, 1);
}

#[test]
fn stream_state_is_capped_and_what_the_cap_turns_away_is_counted() {
    let mut resources = hospital();
    let mut events = Vec::new();
    for i in 0..5u32 {
        let id = format!("pq{i}");
        resources.push(patient(
            &id,
            &format!("MRNQ{i}"),
            name("Pat", &format!("Q{i}")),
            "1990-01-01",
            "2 Far Road",
        ));
        events.push(access(
            i,
            "u1",
            Some(&id),
            T0 + H + i as i64 * 1_000,
            "read",
        ));
    }
    let mut d = PrivacyDetector::new(PrivacyOptions {
        max_pending: 2,
        ..PrivacyOptions::default()
    });
    d.context(&resources);
    let out = run(&mut d, &events);
    assert_eq!(out.len(), 2, "{out:#?}");
    assert_eq!(d.stats().over_capacity, 3);
}

#[test]
fn every_listed_rule_is_one_the_detector_raises() {
    let source = concat!(include_str!("mod.rs"), include_str!("patterns.rs"));
    for rule in super::RULES {
        let quoted = format!("\"{}\"", rule.id);
        assert!(
            source.matches(&quoted).count() >= 2,
            "{} is listed but never raised",
            rule.id
        );
    }
}

/// `n` patients admitted to Internal Medicine at `T0` (ids `pm0`…), with no team member named.
fn medicine_patients(resources: &mut Vec<ContextResource>, n: usize) {
    for i in 0..n {
        let id = format!("pm{i}");
        resources.push(patient(
            &id,
            &format!("MRNM{i}"),
            name("Pat", &format!("M{i}")),
            "1960-01-01",
            &format!("{i} Near Road"),
        ));
        resources.push(encounter(
            &format!("encm{i}"),
            &id,
            "dept-med",
            T0,
            None,
            &[],
        ));
    }
}

/// A day shift of `user` on `day`: from `from` to `until` (hours of the day), one access an
/// hour to each of `per_hour` Internal Medicine patients, in turn.
fn shift(user: &str, day: i64, from: i64, until: i64, per_hour: usize, n: &mut u32) -> Vec<Event> {
    let mut out = Vec::new();
    for h in from..until {
        for k in 0..per_hour {
            *n += 1;
            let patient = format!("pm{}", (*n as usize) % 60);
            let t = T0 + day * 24 * H + h * H + (k as i64 * 55 * 60_000) / per_hour as i64;
            out.push(access(*n, user, Some(&patient), t, "read"));
            let _ = k;
        }
    }
    out
}

fn rules(out: &[Finding]) -> Vec<&str> {
    let mut r: Vec<&str> = out.iter().map(|f| f.alert.rule_id.as_str()).collect();
    r.sort_unstable();
    r.dedup();
    r
}

#[test]
fn a_stretch_of_work_far_from_the_users_own_hours_is_after_hours() {
    let mut resources = hospital();
    medicine_patients(&mut resources, 60);
    let mut n = 0;
    // Day 0: nurse u1 works 07:00–15:00 on her department's patients (all explained).
    let mut events = shift("u1", 0, 7, 15, 4, &mut n);
    // Day 1 at 02:10 she opens three of them: explained by the department, but hours away
    // from anything she did before.
    for (k, p) in ["pm1", "pm2", "pm3"].iter().enumerate() {
        events.push(access(
            900 + k as u32,
            "u1",
            Some(p),
            T0 + 24 * H + 2 * H + 10 * 60_000 + k as i64 * 60_000,
            "read",
        ));
    }
    let mut d = detector(&resources);
    let out = run(&mut d, &events);
    assert_eq!(rules(&out), vec!["privacy.after_hours"], "{out:#?}");
    assert_eq!(
        out.len(),
        3,
        "one finding per access, merged into one alert"
    );
    let ids: std::collections::HashSet<&str> = out.iter().map(|f| f.alert.id.as_str()).collect();
    assert_eq!(ids.len(), 1);
    let alert = &out[0].alert;
    assert_eq!(alert.entities.user.as_deref(), Some("u1"));
    assert_eq!(alert.entities.patient.as_deref(), Some("pm1"));
    assert_eq!(alert.severity, Severity::Medium);
    let text = alert.description.as_deref().unwrap();
    for part in [
        "began at 02:10 UTC",
        "on 1 earlier days (8 hours of work)",
        "07:00–15:00",
        "never within 2 hours of 02:10",
        "in the department serving the patient's encounter",
        "care team",
    ] {
        assert!(text.contains(part), "{part:?} not in {text}");
    }
    assert!(alert.hipaa.iter().any(|h| h == "164.308(a)(4)"));

    // The same hours the day before and the day after are not after hours.
    let mut usual = shift("u1", 0, 7, 15, 4, &mut n);
    usual.extend(shift("u1", 1, 6, 16, 4, &mut n));
    let mut d = detector(&resources);
    assert!(run(&mut d, &usual).is_empty());
}

#[test]
fn after_hours_needs_history_and_spares_care_teams_and_shifts_running_over() {
    let mut resources = hospital();
    medicine_patients(&mut resources, 60);
    // Without an earlier day on record nothing is judged: 02:00 may be this user's shift.
    let mut n = 0;
    let night = shift("u1", 0, 2, 4, 4, &mut n);
    let mut d = detector(&resources);
    assert!(run(&mut d, &night).is_empty());

    // u2 is on pt1's care team: called in at night, that is the reason.
    let mut events = shift("u2", 0, 8, 16, 4, &mut n);
    events.push(access(800, "u2", Some("pt1"), T0 + 24 * H + 3 * H, "read"));
    let mut d = detector(&resources);
    assert!(run(&mut d, &events).is_empty());

    // A shift that began in u1's usual hours and ran four hours late is overtime, not after
    // hours: the stretch of work began at 07:00.
    let mut events = shift("u1", 0, 7, 15, 4, &mut n);
    events.extend(shift("u1", 1, 7, 21, 4, &mut n));
    let mut d = detector(&resources);
    assert!(run(&mut d, &events).is_empty());
}

#[test]
fn an_hour_far_above_the_users_own_and_their_peers_volume_is_flagged_once() {
    let mut resources = hospital();
    medicine_patients(&mut resources, 60);
    // A second nurse of Internal Medicine: u1's peer.
    resources.push(practitioner(
        "pr4",
        "u4",
        name("Dot", "Orr"),
        "1985-04-04",
        "8 Ash Court",
    ));
    resources.push(role("prr4", "pr4", "dept-med", "nurse"));
    // A third, for the peer group to have two colleagues besides u1.
    resources.push(practitioner(
        "pr5",
        "u5",
        name("Eve", "Pak"),
        "1986-05-05",
        "3 Yew Row",
    ));
    resources.push(role("prr5", "pr5", "dept-med", "nurse"));
    let mut n = 0;
    let mut events = Vec::new();
    for user in ["u1", "u4", "u5"] {
        events.extend(shift(user, 0, 7, 15, 5, &mut n));
    }
    events.sort_by_key(|e| e.time);
    // Day 1, 10:00–10:50: u1 opens 45 distinct patients of her department, every one
    // explained by the department, nine times her usual hour.
    let base = T0 + 24 * H + 10 * H;
    for i in 0..45 {
        events.push(access(
            2000 + i,
            "u1",
            Some(&format!("pm{i}")),
            base + i as i64 * 60_000,
            "read",
        ));
    }
    let mut d = detector(&resources);
    let out = run(&mut d, &events);
    assert_eq!(
        rules(&out),
        vec!["privacy.volume_above_baseline"],
        "{out:#?}"
    );
    assert_eq!(
        out.len(),
        1,
        "once a day, not once per patient above the threshold"
    );
    let f = &out[0];
    assert_eq!(f.alert.entities.user.as_deref(), Some("u1"));
    assert_eq!(
        f.events.len(),
        30,
        "the hour's distinct patients are the evidence"
    );
    let text = f.alert.description.as_deref().unwrap();
    for part in [
        "30 distinct patients in the hour from 10:00 UTC",
        "own usual hour (5 patients at the 95th percentile over 8 past hours of work)",
        "nurse of Internal Medicine: 5 an hour at the 95th percentile over 14 hours of 2 colleagues",
        "threshold 30",
        "30 of those patients' first accesses had a clinical explanation and 0 had none",
    ] {
        assert!(text.contains(part), "{part:?} not in {text}");
    }

    // 14 in an hour is busy, not far above: nothing.
    let mut quieter: Vec<Event> = events[..events.len() - 45].to_vec();
    for i in 0..14 {
        quieter.push(access(
            3000 + i,
            "u1",
            Some(&format!("pm{i}")),
            base + i as i64 * 60_000,
            "read",
        ));
    }
    let mut d = detector(&resources);
    assert!(run(&mut d, &quieter).is_empty());

    // Without history of their own, a burst is not judged against a baseline.
    let burst: Vec<Event> = events[events.len() - 45..].to_vec();
    let mut d = detector(&resources);
    assert!(run(&mut d, &burst).is_empty());
}

#[test]
fn baselines_keep_a_bounded_record_per_user() {
    let mut resources = hospital();
    medicine_patients(&mut resources, 60);
    let mut n = 0;
    let mut events = Vec::new();
    for day in 0..30 {
        events.extend(shift("u1", day, 7, 15, 5, &mut n));
    }
    let mut d = detector(&resources);
    let out = run(&mut d, &events);
    assert!(out.is_empty(), "{out:#?}");
    assert_eq!(d.baselines.users(), 1);
}

/// Cardiology (CARD) beside the small hospital: pc1 admitted there now, pc2 seen there a
/// month ago and not since.
fn with_cardiology() -> Vec<ContextResource> {
    let mut resources = hospital();
    resources.push(org("dept-card", "Cardiology", "CARD"));
    for (id, mrn, home) in [
        ("pc1", "MRNC1", "3 Hill Road"),
        ("pc2", "MRNC2", "4 Hill Road"),
    ] {
        resources.push(patient(id, mrn, name("Cal", id), "1955-05-05", home));
    }
    resources.push(encounter("encc1", "pc1", "dept-card", T0, None, &[]));
    resources.push(encounter(
        "encc2",
        "pc2",
        "dept-card",
        T0 - 30 * 24 * H,
        Some(T0 - 28 * 24 * H),
        &[],
    ));
    resources
}

#[test]
fn first_ever_access_to_a_patient_of_another_department_says_why_and_what_would_explain_it() {
    let mut d = detector_every_outside(&with_cardiology());
    let out = run(
        &mut d,
        &[
            access(1, "u1", Some("pc1"), T0 + 2 * H, "read"),
            access(2, "u1", Some("pc1"), T0 + 2 * H + 30_000, "read"),
            access(3, "u1", Some("pc2"), T0 + 3 * H, "read"),
        ],
    );
    assert_eq!(out.len(), 2, "one alert per patient: {out:#?}");
    for f in &out {
        let alert = &f.alert;
        assert_eq!(alert.rule_id, "privacy.outside_department");
        assert_eq!(alert.severity, Severity::Low);
        assert_eq!(alert.entities.user.as_deref(), Some("u1"));
        assert!(alert.hipaa.iter().any(|h| h == "164.312(b)"));
        assert!(alert.hipaa.iter().any(|h| h == "164.502(b)"));
        assert_eq!(f.events.len(), 1);
    }
    let current = out[0].alert.description.as_deref().unwrap();
    assert_eq!(out[0].alert.entities.patient.as_deref(), Some("pc1"));
    for part in [
        "u1 opened the record of patient pc1 at 2026-11-02T02:00:00.000Z for the first time",
        "the patient's current encounter is in Cardiology, not u1's Internal Medicine",
        "care team: no encounter or care team of the patient names u1",
        "break-the-glass:",
        "It would look legitimate with u1 on a care team of pc1",
        "Internal Medicine staff routinely reading Cardiology patients (a learned template)",
    ] {
        assert!(current.contains(part), "{part:?} not in {current}");
    }
    let earlier = out[1].alert.description.as_deref().unwrap();
    assert!(
        earlier.contains("encounters on record are in Cardiology, none current"),
        "{earlier}"
    );
}

#[test]
fn outside_department_spares_own_department_returns_and_explained_accesses() {
    let mut resources = with_cardiology();
    // pt9: a former Internal Medicine patient of u2's, discharged at T0 + 2 h.
    resources.push(patient(
        "pt9",
        "MRN9",
        name("Fay", "Orr"),
        "1944-04-04",
        "8 Dale Road",
    ));
    resources.push(encounter(
        "enc9",
        "pt9",
        "dept-med",
        T0,
        Some(T0 + 2 * H),
        &["pr2"],
    ));
    resources.push(encounter(
        "encc9",
        "pt9",
        "dept-card",
        T0 + 2 * H,
        None,
        &[],
    ));
    let mut d = detector(&resources);
    let out = run(
        &mut d,
        &[
            // On the care team while in Internal Medicine, then a look after the transfer to
            // Cardiology, nine days later (past the care team's follow-up): a return to a
            // former patient, no alert.
            access(1, "u2", Some("pt9"), T0 + H, "read"),
            access(2, "u2", Some("pt9"), T0 + 9 * 24 * H, "read"),
            // The laboratory serves every current patient: explained.
            access(3, "u3", Some("pc1"), T0 + 50 * H, "read"),
        ],
    );
    assert!(out.is_empty(), "{out:#?}");
    assert_eq!(d.stats().unexplained, 1);

    // A first look at a patient whose only encounter is in the user's own department, but not
    // current, is unexplained but not outside the department.
    let mut d = detector_every_outside(&resources);
    let out = run(&mut d, &[access(1, "u1", Some("pt9"), T0 + 50 * H, "read")]);
    assert_eq!(rules(&out), vec!["privacy.outside_department"], "{out:#?}");
    let mut resources = hospital();
    resources.push(encounter(
        "enc1b",
        "pt1",
        "dept-med",
        T0 - 9 * 24 * H,
        Some(T0 - 8 * 24 * H),
        &[],
    ));
    resources.retain(|r| r.id != "enc1");
    let mut d = detector(&resources);
    let out = run(&mut d, &[access(1, "u1", Some("pt1"), T0 + H, "read")]);
    assert_eq!(rules(&out), vec!["privacy.unexplained_access"], "{out:#?}");
}

/// Cardiology patients `pc1`..`pcN` admitted now, beside the small hospital.
fn with_cardiology_patients(n: usize) -> Vec<ContextResource> {
    let mut resources = with_cardiology();
    for i in 3..=n {
        let id = format!("pc{i}");
        resources.push(patient(
            &id,
            &format!("MRNC{i}"),
            name("Cal", &id),
            "1955-05-05",
            &format!("{} Hill Road", 10 + i),
        ));
        resources.push(encounter(
            &format!("encc{i}"),
            &id,
            "dept-card",
            T0,
            None,
            &[],
        ));
    }
    resources
}

#[test]
fn one_first_look_outside_the_department_is_an_observation_and_three_in_a_week_an_alert() {
    let resources = with_cardiology_patients(5);
    // One look, then a second at another patient four days later: observations, no alert.
    let mut d = detector(&resources);
    let two = [
        access(1, "u1", Some("pc1"), T0 + 2 * H, "read"),
        access(2, "u1", Some("pc1"), T0 + 2 * H + 30_000, "read"),
        access(3, "u1", Some("pc3"), T0 + 4 * 24 * H, "read"),
    ];
    let out = run(&mut d, &two);
    assert!(out.is_empty(), "{out:#?}");
    assert_eq!(d.stats().outside_department_observed, 2);
    assert_eq!(d.stats().unexplained, 3);

    // A third patient within seven days of the first: one alert naming all three, with the
    // first access to each as evidence; a fourth adds to the same alert.
    let mut d = detector(&resources);
    let mut events = two.to_vec();
    events.push(access(4, "u1", Some("pc4"), T0 + 5 * 24 * H, "read"));
    events.push(access(5, "u1", Some("pc5"), T0 + 6 * 24 * H, "read"));
    let out = run(&mut d, &events);
    assert_eq!(out.len(), 2, "{out:#?}");
    assert_eq!(rules(&out), vec!["privacy.outside_department"], "{out:#?}");
    assert_eq!(
        out[0].alert.id, out[1].alert.id,
        "one alert per user and window"
    );
    let alert = &out[0].alert;
    assert_eq!(alert.severity, Severity::Medium);
    assert_eq!(alert.entities.user.as_deref(), Some("u1"));
    assert_eq!(alert.entities.patient, None);
    assert_eq!(alert.first_seen, Timestamp(T0 + 2 * H));
    assert_eq!(out[0].events.len(), 3, "the first access to each patient");
    assert_eq!(out[1].events.len(), 1);
    let text = alert.description.as_deref().unwrap();
    for part in [
        "u1 opened, for the first time, the records of 3 distinct patients of other departments than u1's Internal Medicine within 7 days",
        "pc1 at 2026-11-02T02:00:00.000Z (a patient of Cardiology)",
        "pc3 at",
        "pc4 at",
        "Threshold: 3 patients.",
    ] {
        assert!(text.contains(part), "{part:?} not in {text}");
    }
    assert_eq!(d.stats().outside_department_observed, 2);

    // Spread wider than the window, the same looks stay observations.
    let mut d = detector(&resources);
    let out = run(
        &mut d,
        &[
            access(1, "u1", Some("pc1"), T0 + 2 * H, "read"),
            access(2, "u1", Some("pc3"), T0 + 5 * 24 * H, "read"),
            access(3, "u1", Some("pc4"), T0 + 10 * 24 * H, "read"),
        ],
    );
    assert!(out.is_empty(), "{out:#?}");
    assert_eq!(d.stats().outside_department_observed, 3);
}

#[test]
fn outside_department_in_a_stretch_outside_the_users_hours_is_medium() {
    let mut resources = with_cardiology();
    medicine_patients(&mut resources, 60);
    let mut n = 0;
    let mut events = shift("u1", 0, 7, 15, 4, &mut n);
    events.push(access(900, "u1", Some("pc1"), T0 + 24 * H + 2 * H, "read"));
    let mut d = detector(&resources);
    let out = run(&mut d, &events);
    assert_eq!(
        rules(&out),
        vec!["privacy.after_hours", "privacy.outside_department"],
        "{out:#?}"
    );
    let outside = out
        .iter()
        .find(|f| f.alert.rule_id == "privacy.outside_department")
        .unwrap();
    assert_eq!(outside.alert.severity, Severity::Medium);
    assert!(
        outside
            .alert
            .description
            .as_deref()
            .unwrap()
            .contains("outside u1's usual hours, which raises it to medium")
    );
}

#[test]
fn a_pattern_alert_says_when_it_was_also_a_first_access_outside_the_department() {
    let mut resources = with_cardiology();
    // u1's neighbour, admitted to Cardiology.
    resources.push(patient(
        "pn",
        "MRNN",
        name("Ned", "Bay"),
        "1950-01-01",
        "3 Oak Street",
    ));
    resources.push(encounter("encn", "pn", "dept-card", T0, None, &[]));
    let mut d = detector(&resources);
    let out = run(&mut d, &[access(1, "u1", Some("pn"), T0 + H, "read")]);
    assert_eq!(rules(&out), vec!["privacy.neighbour"], "{out:#?}");
    let text = out[0].alert.description.as_deref().unwrap();
    assert!(
        text.contains("It was also u1's first access to this patient on record, a patient of Cardiology, outside u1's department."),
        "{text}"
    );
}

#[test]
fn the_memory_of_who_opened_whom_is_capped_expires_and_counts_what_it_forgot() {
    let mut resources = with_cardiology();
    medicine_patients(&mut resources, 60);
    let mut d = PrivacyDetector::new(PrivacyOptions {
        max_seen_pairs: 8,
        seen_for: std::time::Duration::from_secs(3 * 24 * 3600),
        outside_department_min_patients: 1,
        ..PrivacyOptions::default()
    });
    d.context(&resources);
    let mut n = 0;
    // u1 opens pc1 once, then 59 of her own department's patients: pc1 is forgotten to stay
    // under the cap, so opening it again looks first-ever.
    let mut events = vec![access(1, "u1", Some("pc1"), T0 + H, "read")];
    events.extend(shift("u1", 0, 2, 17, 4, &mut n));
    events.push(access(999, "u1", Some("pc1"), T0 + 24 * H + 12 * H, "read"));
    let out = run(&mut d, &events);
    let outside: Vec<_> = out
        .iter()
        .filter(|f| f.alert.rule_id == "privacy.outside_department")
        .collect();
    assert_eq!(outside.len(), 2, "{out:#?}");
    let seen = d
        .state()
        .into_iter()
        .find(|t| t.table == "seen_patients")
        .unwrap();
    assert!(seen.held <= 8, "{seen:?}");
    assert_eq!(seen.cap, 8);
    assert!(seen.evicted > 0, "{seen:?}");

    // Without the cap, the second look is a return, not a first-ever access (it is an
    // "unexplained access": the first look had no explanation either). And a pair not
    // touched for longer than `seen_for` expires.
    let mut d = PrivacyDetector::new(PrivacyOptions {
        seen_for: std::time::Duration::from_secs(3 * 24 * 3600),
        outside_department_min_patients: 1,
        ..PrivacyOptions::default()
    });
    d.context(&resources);
    let out = run(&mut d, &events);
    assert_eq!(
        out.iter()
            .filter(|f| f.alert.rule_id == "privacy.outside_department")
            .count(),
        1,
        "{out:#?}"
    );
    let mut out = Vec::new();
    d.observe(
        &access(1000, "u1", Some("pm1"), T0 + 30 * 24 * H, "read"),
        &mut out,
    );
    let seen = d
        .state()
        .into_iter()
        .find(|t| t.table == "seen_patients")
        .unwrap();
    assert!(seen.expired > 0, "{seen:?}");
    assert_eq!(seen.evicted, 0, "{seen:?}");
}

/// Ends a run as the engine does: what is held is concluded, the memory saved.
fn end_run(d: &mut PrivacyDetector, out: &mut Vec<Finding>, last: i64) -> Vec<u8> {
    let state = d
        .save_state()
        .expect("a detector that saw accesses saves its memory");
    d.conclude(Timestamp(last + 2 * 24 * H), out);
    state
}

/// The next run: a new detector takes the state back before the context, as `ward` does.
fn next_run(resources: &[ContextResource], state: &[u8]) -> PrivacyDetector {
    let mut d = PrivacyDetector::default();
    let said = d.restore_state(state).unwrap();
    assert!(said.contains("privacy memory of"), "{said}");
    d.context(resources);
    d
}

#[test]
fn the_memory_carries_first_looks_baselines_and_who_opened_whom_to_the_next_run() {
    let mut resources = with_cardiology_patients(5);
    medicine_patients(&mut resources, 60);

    // Run 1: u1 works her shift and looks once at a Cardiology patient: an observation.
    let mut n = 0;
    let mut events = shift("u1", 0, 7, 15, 4, &mut n);
    events.push(access(900, "u1", Some("pc1"), T0 + 10 * H, "read"));
    let mut d = detector(&resources);
    let mut out = run(&mut d, &events);
    let state = end_run(&mut d, &mut out, T0 + 15 * H);
    assert!(out.is_empty(), "{out:#?}");
    assert_eq!(d.stats().outside_department_observed, 1);

    // Run 2, the next day: two more strangers. With the memory, the three looks within a
    // week are browsing, and the alert names the first one, seen in the run before.
    let mut d = next_run(&resources, &state);
    let mut events = shift("u1", 1, 7, 15, 4, &mut n);
    events.push(access(901, "u1", Some("pc3"), T0 + 24 * H + 9 * H, "read"));
    events.push(access(902, "u1", Some("pc4"), T0 + 24 * H + 11 * H, "read"));
    let mut out = run(&mut d, &events);
    let state = end_run(&mut d, &mut out, T0 + 24 * H + 15 * H);
    assert_eq!(rules(&out), vec!["privacy.outside_department"], "{out:#?}");
    let text = out[0].alert.description.as_deref().unwrap();
    assert!(text.contains("pc1 at 2026-11-02T10:00:00.000Z"), "{text}");
    assert_eq!(out[0].alert.first_seen, Timestamp(T0 + 10 * H));
    assert_eq!(out[0].events.len(), 3);

    // Without it, the same second run sees two first looks: observations only.
    let mut fresh = detector(&resources);
    let out = run(&mut fresh, &events);
    assert!(out.is_empty(), "{out:#?}");

    // Run 3, the day after: u1's usual hours came along (02:00 is after hours for her), and
    // a return to pc3 is a return, not a first look: an unexplained access, no observation.
    let mut d = next_run(&resources, &state);
    let mut out = run(
        &mut d,
        &[
            access(903, "u1", Some("pm1"), T0 + 2 * 24 * H + 2 * H, "read"),
            access(904, "u1", Some("pc3"), T0 + 2 * 24 * H + 9 * H, "read"),
        ],
    );
    d.conclude(Timestamp(T0 + 6 * 24 * H), &mut out);
    assert_eq!(
        rules(&out),
        vec!["privacy.after_hours", "privacy.unexplained_access"],
        "{out:#?}"
    );
    assert_eq!(d.stats().outside_department_observed, 0, "{out:#?}");
    assert_eq!(d.stats().restore_dropped, 0);
}

#[test]
fn a_saved_memory_that_names_someone_unknown_or_does_not_read_is_left_out() {
    let resources = with_cardiology_patients(3);
    let mut d = detector(&resources);
    let mut out = run(&mut d, &[access(1, "u1", Some("pc1"), T0 + 10 * H, "read")]);
    let state = end_run(&mut d, &mut out, T0 + 10 * H);

    // The next run's context lacks pc1: its entries are dropped and counted.
    let fewer: Vec<ContextResource> = resources
        .iter()
        .filter(|r| r.id != "pc1" && r.id != "encc1")
        .cloned()
        .collect();
    let mut d = next_run(&fewer, &state);
    let mut out = Vec::new();
    d.observe(&access(2, "u1", Some("pm1"), T0 + 30 * H, "read"), &mut out);
    assert!(d.stats().restore_dropped > 0);

    // Unreadable or of another version: refused with a reason, and the detector starts empty.
    let mut d = PrivacyDetector::default();
    assert!(
        d.restore_state(b"not json")
            .unwrap_err()
            .contains("does not read")
    );
    let other = String::from_utf8(state)
        .unwrap()
        .replacen("\"version\":1", "\"version\":99", 1);
    assert!(
        d.restore_state(other.as_bytes())
            .unwrap_err()
            .contains("version 99")
    );
    // A detector that saw nothing has nothing to save.
    assert!(PrivacyDetector::default().save_state().is_none());
}

#[test]
fn in_a_large_department_a_pattern_needs_a_share_of_its_staff() {
    // Nutrition has 40 dietitians: three of them reading five MED inpatients is not yet a
    // pattern of the department (10 % of 40 is 4 users), a fourth makes it one.
    let mut resources = hospital();
    resources.push(org("dept-nutr", "Nutrition", "NUTR"));
    for u in 0..40 {
        let pr = format!("prd{u}");
        resources.push(practitioner(
            &pr,
            &format!("d{u}"),
            name("Dia", &format!("D{u}")),
            "1985-01-01",
            "4 Sea Road",
        ));
        resources.push(role(&format!("prrd{u}"), &pr, "dept-nutr", "dietitian"));
    }
    for p in 0..5 {
        let id = format!("pz{p}");
        resources.push(patient(
            &id,
            &format!("MRNZ{p}"),
            name("Pat", &format!("Z{p}")),
            "1990-01-01",
            "6 Far Road",
        ));
        resources.push(encounter(
            &format!("ez{p}"),
            &id,
            "dept-med",
            T0,
            None,
            &["pr2"],
        ));
    }
    let reads = |users: u32| {
        let mut events = Vec::new();
        let mut n = 0;
        for u in 0..users {
            for p in 0..5 {
                n += 1;
                events.push(access(
                    n,
                    &format!("d{u}"),
                    Some(&format!("pz{p}")),
                    T0 + H + i64::from(n) * 60_000,
                    "read",
                ));
            }
        }
        events
    };
    let mut d = detector(&resources);
    run(&mut d, &reads(3));
    assert!(
        d.learned_templates().is_empty(),
        "{:?}",
        d.learned_templates()
    );
    let mut d = detector(&resources);
    run(&mut d, &reads(4));
    assert_eq!(
        d.learned_templates(),
        vec![("Nutrition".to_string(), "Internal Medicine".to_string())]
    );
}
