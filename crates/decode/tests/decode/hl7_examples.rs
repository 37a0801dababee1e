//! The HL7 FHIR specification's own examples (R4 and R5), kept outside the repository in
//! `<repo>/../shared/data/fhir`: every AuditEvent decodes to exactly one event, and every
//! context resource to one summary.

use crate::support::shared_data;
use ward_decode::Decoder;
use ward_decode::fhir::FhirAuditEvent;
use ward_model::event::{api_activity, auth_activity, class};
use ward_model::{ContextSummary, Event, Severity, Status};

fn json_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn is_audit_event(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .is_ok_and(|v| v["resourceType"] == "AuditEvent")
}

/// Decodes one example file as the pipeline would (a pretty-printed document: one record).
fn decode_one(path: &std::path::Path) -> Event {
    let bytes = std::fs::read(path).expect("example file");
    let mut out = Vec::new();
    FhirAuditEvent.decode(&bytes, &mut out);
    assert_eq!(
        out.len(),
        1,
        "{}: expected exactly one event, got {out:?}",
        path.display()
    );
    match out.pop() {
        Some(Ok(event)) => event,
        other => panic!("{}: {other:?}", path.display()),
    }
}

#[test]
fn every_hl7_audit_event_example_decodes_to_one_event() {
    let Some(data) = shared_data() else { return };
    let mut decoded = 0;
    for version in ["r4", "r5"] {
        for path in json_files(&data.join("fhir").join(version)) {
            let bytes = std::fs::read(&path).expect("example file");
            if !is_audit_event(&bytes) {
                continue;
            }
            assert!(
                ward_decode::json::looks_like_json_document(&bytes),
                "{} is pretty-printed",
                path.display()
            );
            assert_eq!(
                FhirAuditEvent.sniff(&bytes),
                ward_decode::Sniff::Yes,
                "{}",
                path.display()
            );
            let event = decode_one(&path);
            assert!(event.time.millis() > 0, "{}: time", path.display());
            assert_eq!(event.metadata.product, "fhir");
            assert!(event.metadata.uid.is_some(), "{}: id", path.display());
            decoded += 1;
        }
    }
    assert!(
        decoded >= 15,
        "expected the 6 R4 and 9 R5 AuditEvent examples, decoded {decoded}"
    );
}

#[test]
fn r5_login_example_is_a_logon_by_user_95() {
    let Some(data) = shared_data() else { return };
    let e = decode_one(&data.join("fhir/r5/audit-event-example-login.json"));
    assert_eq!(
        (e.class_uid, e.activity_id),
        (class::AUTHENTICATION, auth_activity::LOGON)
    );
    assert_eq!(e.actor.user.name.as_deref(), Some("95"));
    assert_eq!(e.actor.user.full_name.as_deref(), Some("Grahame Grieve"));
    assert_eq!(e.status, Status::Success);
    assert_eq!(e.activity_name.as_deref(), Some("Login"));
    assert_eq!(
        e.src_endpoint.hostname.as_deref(),
        Some("Workstation1.ehr.familyclinic.com")
    );
    assert_eq!(
        e.device.hostname.as_deref(),
        Some("hl7connect.healthintersections.com.au")
    );
}

#[test]
fn r4_and_r5_logout_examples_are_logoffs() {
    let Some(data) = shared_data() else { return };
    for version in ["r4", "r5"] {
        let e = decode_one(&data.join(format!("fhir/{version}/audit-event-example-logout.json")));
        assert_eq!(
            (e.class_uid, e.activity_id),
            (class::AUTHENTICATION, auth_activity::LOGOFF),
            "{version}"
        );
        assert_eq!(e.src_endpoint.ip.as_deref(), Some("127.0.0.1"), "{version}");
    }
}

#[test]
fn r5_breakglass_example_is_high_severity_emergency_treatment_of_patient_example() {
    let Some(data) = shared_data() else { return };
    let e = decode_one(&data.join("fhir/r5/auditevent-example-breakglass-start.json"));
    assert_eq!(e.purpose_of_use, ["ETREAT"]);
    assert_eq!(e.patient.id.as_deref(), Some("example"));
    assert_eq!(e.severity, Severity::High);
    assert_eq!(
        e.activity_name.as_deref(),
        Some("Emergency Override Started")
    );
    assert_eq!(e.metadata.event_code.as_deref(), Some("110127"));
    assert_eq!(e.actor.user.uid.as_deref(), Some("Practitioner/f001"));
    assert_eq!(
        e.status_detail.as_deref(),
        Some("Successful  Start of Break-Glass")
    );
}

#[test]
fn r4_vread_example_reads_patient_example() {
    let Some(data) = shared_data() else { return };
    let e = decode_one(&data.join("fhir/r4/audit-event-example-vread.json"));
    assert_eq!(
        (e.class_uid, e.activity_id),
        (class::API_ACTIVITY, api_activity::READ)
    );
    assert_eq!(e.resource.r#type.as_deref(), Some("Patient"));
    assert_eq!(e.resource.id.as_deref(), Some("example"));
    assert_eq!(e.patient.id.as_deref(), Some("example"));
    assert_eq!(e.activity_name.as_deref(), Some("vread"));
    assert_eq!(e.actor.user.name.as_deref(), Some("95"));
    assert_eq!(e.actor.user.full_name.as_deref(), Some("Grahame Grieve"));
}

#[test]
fn r4_search_example_decodes_its_base64_query() {
    let Some(data) = shared_data() else { return };
    let e = decode_one(&data.join("fhir/r4/audit-event-example-search.json"));
    assert_eq!(
        (e.class_uid, e.activity_id),
        (class::API_ACTIVITY, api_activity::READ)
    );
    assert_eq!(
        e.resource.query.as_deref(),
        Some("http://fhir-dev.healthintersections.com.au/open/Encounter?participant=13")
    );
}

#[test]
fn r4_and_r5_error_examples_are_failures_with_their_description() {
    let Some(data) = shared_data() else { return };
    for version in ["r4", "r5"] {
        let e = decode_one(&data.join(format!("fhir/{version}/auditevent-example-error.json")));
        assert_eq!(e.status, Status::Failure, "{version}");
        assert_eq!(e.severity, Severity::Medium, "{version}");
        assert_eq!(
            e.status_detail.as_deref(),
            Some("Invalid request to create an Operation resource on the Patient endpoint."),
            "{version}"
        );
        assert_eq!(e.activity_id, api_activity::CREATE, "{version}");
    }
}

fn context_of(
    path: &std::path::Path,
) -> Vec<Result<ward_model::ContextResource, ward_decode::DecodeError>> {
    let mut out = Vec::new();
    ward_decode::context::parse_context(&std::fs::read(path).expect("example file"), &mut out);
    out
}

#[test]
fn every_hl7_context_example_parses_to_one_resource() {
    let Some(data) = shared_data() else { return };
    let mut parsed = 0;
    for path in json_files(&data.join("fhir/r4")) {
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if !["patient-", "practitioner-", "encounter-", "careteam-"]
            .iter()
            .any(|p| name.starts_with(p))
        {
            continue;
        }
        let out = context_of(&path);
        assert_eq!(out.len(), 1, "{name}: {out:?}");
        assert!(out[0].is_ok(), "{name}: {:?}", out[0]);
        parsed += 1;
    }
    assert!(
        parsed >= 10,
        "expected the patient, practitioner, encounter and care team examples, parsed {parsed}"
    );
}

#[test]
fn hl7_patient_example_has_mrn_official_name_and_contact() {
    let Some(data) = shared_data() else { return };
    let out = context_of(&data.join("fhir/r4/patient-example.json"));
    let Some(Ok(patient)) = out.first() else {
        panic!("{out:?}")
    };
    assert_eq!(patient.reference(), "Patient/example");
    let ContextSummary::Patient {
        identifiers,
        name,
        birth_date,
        address,
        deceased,
        contact_names,
        ..
    } = &patient.summary
    else {
        panic!("not a patient summary: {:?}", patient.summary)
    };
    assert_eq!(identifiers[0].type_code.as_deref(), Some("MR"));
    assert_eq!(identifiers[0].value, "12345");
    assert_eq!(name.family.as_deref(), Some("Chalmers"));
    assert_eq!(name.given, ["Peter", "James"]);
    assert_eq!(birth_date.as_deref(), Some("1974-12-25"));
    assert_eq!(
        address.as_ref().and_then(|a| a.postal_code.as_deref()),
        Some("3999")
    );
    assert!(!deceased);
    assert_eq!(contact_names[0].family.as_deref(), Some("du Marché"));
}

#[test]
fn hl7_encounter_and_care_team_examples_link_patient_and_practitioners() {
    let Some(data) = shared_data() else { return };
    let out = context_of(&data.join("fhir/r4/encounter-example-home.json"));
    let Some(Ok(encounter)) = out.first() else {
        panic!("{out:?}")
    };
    let ContextSummary::Encounter {
        patient,
        participants,
        start,
        end,
        class,
        ..
    } = &encounter.summary
    else {
        panic!("{:?}", encounter.summary)
    };
    assert_eq!(patient.as_deref(), Some("Patient/example"));
    assert_eq!(class.as_deref(), Some("HH"));
    assert_eq!(participants[0].reference, "Practitioner/example");
    assert!(participants[0].start.is_some() && start.is_some() && end.is_some());

    let out = context_of(&data.join("fhir/r4/careteam-example.json"));
    let Some(Ok(team)) = out.first() else {
        panic!("{out:?}")
    };
    let ContextSummary::CareTeam {
        patient,
        participants,
        managing_organizations,
        end,
        ..
    } = &team.summary
    else {
        panic!("{:?}", team.summary)
    };
    assert_eq!(patient.as_deref(), Some("Patient/example"));
    assert_eq!(participants.len(), 2);
    assert_eq!(participants[1].role.as_deref(), Some("adviser"));
    assert_eq!(managing_organizations, &["Organization/f001"]);
    assert!(end.is_some());
}

#[test]
fn hl7_transaction_bundle_gives_its_patients_and_refuses_the_rest_by_entry() {
    let Some(data) = shared_data() else { return };
    let out = context_of(&data.join("fhir/r4/bundle-transaction.json"));
    let ids: Vec<String> = out
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|r| r.reference())
        .collect();
    assert_eq!(
        ids,
        [
            "Patient/61ebe359-bfdc-4613-8bf2-c5e300945f0a",
            "Patient/88f151c0-a954-468a-88bd-5ae15c08e059",
            "Patient/123",
            "Patient/74891afc-ed52-42a2-bcd7-f13d9b60f096",
            "Patient/123a"
        ]
    );
    let refused: Vec<u64> = out
        .iter()
        .filter_map(|r| r.as_ref().err())
        .filter_map(|e| e.entry)
        .collect();
    assert_eq!(refused, [5, 6, 7, 8, 9]);
}

#[test]
fn audit_decoder_refuses_context_examples_and_points_to_context_import() {
    let Some(data) = shared_data() else { return };
    let bytes = std::fs::read(data.join("fhir/r4/patient-example.json")).expect("example file");
    assert_eq!(FhirAuditEvent.sniff(&bytes), ward_decode::Sniff::Maybe);
    let mut out = Vec::new();
    FhirAuditEvent.decode(&bytes, &mut out);
    match out.as_slice() {
        [Err(e)] => assert!(e.reason.contains("ward context import"), "{}", e.reason),
        other => panic!("{other:?}"),
    }
}
