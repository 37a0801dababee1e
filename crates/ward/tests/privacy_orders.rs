//! The order-or-appointment explanation end to end, through the `ward` binary: a consult
//! ordered with a FHIR ServiceRequest addressed to Cardiology, imported with
//! `ward context import`, explains a cardiologist's first looks at Internal Medicine patients
//! ingested as FHIR AuditEvents with `ward ingest`; the same looks without the orders are
//! `privacy.outside_department`.
//!
//! The hospital: Internal Medicine (MED) with physician u2, who admitted pm1…pm3 and attends
//! them; Cardiology (CARD) with physician u7, on none of their care teams.

use common::Ward;
use common::privacy::{DAY0, H, Hospital, privacy_alerts, read, time};
use serde_json::Value;
use std::fmt::Write as _;

mod common;

const PATIENTS: [&str; 3] = ["pm1", "pm2", "pm3"];

fn hospital() -> String {
    let mut hospital = Hospital::new()
        .department("MED", "Internal Medicine")
        .department("CARD", "Cardiology")
        .staff("u2", ("Sam", "Ray"), "1970-01-01", "MED", "physician")
        .staff("u7", ("Sam", "Hart"), "1971-01-01", "CARD", "physician");
    for (i, p) in PATIENTS.iter().enumerate() {
        let line = format!("{i} Near Road");
        hospital = hospital
            .patient(
                p,
                &format!("MRN{p}"),
                ("Pat", &format!("M{i}")),
                "1960-01-01",
                Some((&line, "62701")),
            )
            .admitted(&format!("enc-{p}"), p, "MED", Some("u2"));
    }
    hospital.ndjson().to_string()
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
    privacy_alerts(ward)
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
