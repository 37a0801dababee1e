//! Auto-detection: which decoder `ward ingest --format auto` picks from a source's first records.

use ward_decode::{Sniff, by_name, detect};

const AUDIT_LINE: &[u8] =
    br#"{"resourceType":"AuditEvent","id":"1","recorded":"2024-05-01T00:00:00Z"}"#;
const APP_LINE: &[u8] = br#"{"time":"2024-05-01T00:00:00Z","user":"jsmith"}"#;

fn picked(sample: &[&[u8]]) -> Option<&'static str> {
    detect(sample).map(|d| d.name())
}

#[test]
fn audit_events_and_bundles_are_detected_as_fhir() {
    assert_eq!(picked(&[AUDIT_LINE]), Some("fhir"));
    assert_eq!(
        picked(&[b"{\n  \"resourceType\": \"Bundle\",\n  \"entry\": []\n}"]),
        Some("fhir")
    );
    assert_eq!(
        picked(&[br#"[{"resourceType":"AuditEvent"}]"#]),
        Some("fhir")
    );
    // resourceType written after a contained resource.
    let late =
        br#"{"contained":[{"resourceType":"OperationOutcome"}],"resourceType":"AuditEvent"}"#;
    assert_eq!(by_name("fhir").map(|d| d.sniff(late)), Some(Sniff::Yes));
}

#[test]
fn other_fhir_resources_go_to_fhir_which_points_them_to_context_import() {
    let patient: &[u8] = br#"{"resourceType":"Patient","id":"p"}"#;
    assert_eq!(
        by_name("fhir").map(|d| d.sniff(patient)),
        Some(Sniff::Maybe)
    );
    assert_eq!(picked(&[patient]), Some("fhir"));
}

#[test]
fn other_json_objects_fall_back_to_json_lines() {
    assert_eq!(picked(&[APP_LINE]), Some("jsonl"));
    assert_eq!(by_name("fhir").map(|d| d.sniff(APP_LINE)), Some(Sniff::No));
}

#[test]
fn text_and_binary_are_not_claimed() {
    assert_eq!(
        picked(&[b"<85>1 2024-05-01T00:00:00Z host app - - - hello"]),
        None
    );
    assert_eq!(picked(&[b"\x89PNG\r\n\x1a\n"]), None);
    assert_eq!(picked(&[]), None);
}
