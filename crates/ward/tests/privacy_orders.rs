//! The order-or-appointment explanation end to end, through the `ward` binary: a consult
//! ordered with a FHIR ServiceRequest addressed to Cardiology, imported with
//! `ward context import`, explains a cardiologist's first looks at Internal Medicine patients
//! ingested as FHIR AuditEvents with `ward ingest`; the same looks without the orders are
//! `privacy.outside_department`.
//!
//! The hospital: Internal Medicine (MED) with physician u2, who admitted pm1…pm3 and attends
//! them; Cardiology (CARD) with physician u7, on none of their care teams.

use serde_json::Value;
use std::fmt::Write as _;

const H: i64 = 3_600_000;
/// 2026-11-02T00:00:00Z, a Monday.
const DAY0: i64 = 1_793_577_600_000;

mod common;
use common::Ward;

const PATIENTS: [&str; 3] = ["pm1", "pm2", "pm3"];

fn time(t: i64) -> String {
    chrono::DateTime::from_timestamp_millis(t)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn hospital() -> String {
    let mut s = String::new();
    for (id, code, name) in [
        ("dept-med", "MED", "Internal Medicine"),
        ("dept-card", "CARD", "Cardiology"),
    ] {
        let _ = writeln!(
            s,
            r#"{{"resourceType":"Organization","id":"{id}","identifier":[{{"value":"{code}"}}],"name":"{name}","active":true}}"#
        );
    }
    for (n, (login, family, dept)) in [("u2", "Ray", "dept-med"), ("u7", "Hart", "dept-card")]
        .iter()
        .enumerate()
    {
        let _ = writeln!(
            s,
            r#"{{"resourceType":"Practitioner","id":"{login}","identifier":[{{"system":"urn:oid:2.16.840.1.113883.19.5","value":"{login}"}}],"active":true,"name":[{{"family":"{family}","given":["Sam"]}}],"birthDate":"197{n}-01-01"}}"#
        );
        let _ = writeln!(
            s,
            r#"{{"resourceType":"PractitionerRole","id":"role-{login}","practitioner":{{"reference":"Practitioner/{login}"}},"organization":{{"reference":"Organization/{dept}"}},"code":[{{"coding":[{{"code":"physician"}}]}}],"active":true}}"#
        );
    }
    for (i, p) in PATIENTS.iter().enumerate() {
        let _ = writeln!(
            s,
            r#"{{"resourceType":"Patient","id":"{p}","identifier":[{{"type":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}}]}},"value":"MRN{p}"}}],"name":[{{"family":"M{i}","given":["Pat"]}}],"birthDate":"1960-01-01","address":[{{"line":["{i} Near Road"],"city":"Springfield","postalCode":"62701"}}]}}"#
        );
        let _ = writeln!(
            s,
            r#"{{"resourceType":"Encounter","id":"enc-{p}","status":"in-progress","class":{{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"IMP"}},"subject":{{"reference":"Patient/{p}"}},"participant":[{{"type":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"ATND"}}]}}],"individual":{{"reference":"Practitioner/u2"}}}}],"period":{{"start":"{}"}},"serviceProvider":{{"reference":"Organization/dept-med"}}}}"#,
            time(DAY0 - 24 * H)
        );
    }
    s
}

/// u2's consult orders to Cardiology, one per patient, written at 08:00.
fn consult_orders() -> String {
    let mut s = String::new();
    for p in PATIENTS {
        let _ = writeln!(
            s,
            r#"{{"resourceType":"ServiceRequest","id":"sr-{p}","status":"active","intent":"order","category":[{{"coding":[{{"system":"http://snomed.info/sct","code":"11429006","display":"Consultation"}}]}}],"code":{{"text":"Cardiology consultation"}},"subject":{{"reference":"Patient/{p}"}},"encounter":{{"reference":"Encounter/enc-{p}"}},"authoredOn":"{}","requester":{{"reference":"Practitioner/u2"}},"performer":[{{"reference":"Organization/dept-card"}}]}}"#,
            time(DAY0 + 8 * H)
        );
    }
    s
}

/// One BALP PatientRead by `user` of `patient` at `t`.
fn read(out: &mut String, n: &mut u32, user: &str, patient: &str, t: i64) {
    *n += 1;
    let _ = writeln!(
        out,
        r#"{{"resourceType":"AuditEvent","id":"ae-{n}","type":{{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest","display":"Restful Operation"}},"subtype":[{{"system":"http://hl7.org/fhir/restful-interaction","code":"read","display":"read"}}],"action":"R","recorded":"{}","outcome":"0","agent":[{{"type":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP"}}]}},"who":{{"identifier":{{"system":"urn:oid:2.16.840.1.113883.19.5","value":"{user}"}}}},"requestor":true}}],"source":{{"observer":{{"display":"ehr.example"}}}},"entity":[{{"what":{{"reference":"Patient/{patient}"}},"type":{{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"1"}},"role":{{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"1","display":"Patient"}}}}]}}"#,
        time(t)
    );
}

/// The day's audit trail: u2 rounds on his patients, u7 opens each of them once, an hour
/// apart, from 10:00.
fn audit() -> String {
    let (mut out, mut n) = (String::new(), 0);
    for (i, p) in PATIENTS.iter().enumerate() {
        read(&mut out, &mut n, "u2", p, DAY0 + 9 * H + i as i64 * 600_000);
    }
    for (i, p) in PATIENTS.iter().enumerate() {
        read(&mut out, &mut n, "u7", p, DAY0 + (10 + i as i64) * H);
    }
    out
}

/// Imports `context`, ingests the day and returns the privacy alerts.
fn run(ward: &Ward, context: &str) -> Vec<Value> {
    let context = ward.file("context.ndjson", context);
    ward.ok(&["context", "import", context.to_str().unwrap()]);
    let audit = ward.file("audit.ndjson", audit());
    ward.ok(&["ingest", audit.to_str().unwrap()]);
    ward.json_lines(&["alerts", "--json"])
        .into_iter()
        .filter(|a| a["rule_id"].as_str().unwrap_or("").starts_with("privacy."))
        .collect()
}

#[test]
fn a_consult_ordered_to_the_consultants_department_explains_the_consultants_first_looks() {
    let ward = Ward::new();
    let alerts = run(&ward, &(hospital() + &consult_orders()));
    assert!(alerts.is_empty(), "{alerts:#?}");
    assert!(
        ward.ok(&["context", "stats"])
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["ServiceRequest", "3"]),
        "the orders are stored"
    );

    // The scan over the stored history says which template explained them.
    let json = ward.ok(&[
        "privacy",
        "scan",
        "--since",
        "2026-11-01",
        "--until",
        "2026-11-03",
        "--json",
    ]);
    let summary: Value = serde_json::from_str(json.lines().last().unwrap()).unwrap();
    let summary = &summary["summary"];
    assert_eq!(summary["accesses"], 6, "{json}");
    assert_eq!(summary["explained"], 6, "{json}");
    assert_eq!(summary["by_template"]["care_team"], 3, "{json}");
    assert_eq!(summary["by_template"]["order_or_appointment"], 3, "{json}");
    let text = ward.ok(&[
        "privacy",
        "scan",
        "--since",
        "2026-11-01",
        "--until",
        "2026-11-03",
    ]);
    assert!(
        text.contains(
            "  order_or_appointment        3   50.0%  named on an order or appointment for the patient"
        ),
        "{text}"
    );
}

#[test]
fn the_same_looks_without_the_orders_are_first_accesses_outside_the_department() {
    let ward = Ward::new();
    let alerts = run(&ward, &hospital());
    assert!(!alerts.is_empty());
    for alert in &alerts {
        assert_eq!(alert["rule_id"], "privacy.outside_department", "{alert:#}");
        assert_eq!(alert["entities"]["user"], "u7", "{alert:#}");
    }
}
