//! The privacy officer's case workflow end to end, through the `ward` binary: context imported
//! with `ward context import`, EHR audit events ingested with `ward ingest` until a privacy
//! alert is raised, then `ward privacy case` (the user's and the patient's access histories,
//! each access with its explanation), `ward privacy report` (the access report, recorded in
//! Ward's own audit trail), and `ward privacy determine`, whose `appropriate` stops the same
//! pattern from alerting again while `policy-violation` suppresses nothing.
//!
//! The hospital: Internal Medicine (MED) with nurses u1, u4 and u5, admitted patients pm0…pm5,
//! and px1, a patient with no encounter whose care team is u5 alone: u5's looks at px1 are
//! explained, u1's are not (an `unexplained_access` alert naming u1 and px1).

use common::Ward;
use common::privacy::{DAY0, H, Hospital, privacy_alerts, read, time};
use serde_json::Value;

mod common;

/// Internal Medicine with six patients, and px1, whose care team since a day before Monday
/// is u5 alone.
fn hospital() -> Hospital {
    Hospital::internal_medicine(6)
        .patient("px1", "MRNX1", ("Lin", "Xu"), "1971-02-03", None)
        .resource(&format!(
            r#"{{"resourceType":"CareTeam","id":"ct-x1","status":"active","subject":{{"reference":"Patient/px1"}},"period":{{"start":"{}"}},"participant":[{{"member":{{"reference":"Practitioner/u5"}}}}]}}"#,
            time(DAY0 - 24 * H)
        ))
}

/// Imports the hospital and ingests Monday: u5 (px1's care team) opens px1 at 09:00, u1
/// opens px1 at 10:00 and 10:05 without a reason, and her own patient pm1 at 11:00. Returns
/// the one privacy alert, on u1 and px1.
fn monday(ward: &Ward) -> Value {
    let context = ward.file("context.ndjson", hospital().ndjson());
    ward.ok(&["context", "import", context.to_str().unwrap()]);
    let (mut audit, mut n) = (String::new(), 0);
    read(&mut audit, &mut n, "u5", "px1", DAY0 + 9 * H);
    read(&mut audit, &mut n, "u1", "px1", DAY0 + 10 * H);
    read(&mut audit, &mut n, "u1", "px1", DAY0 + 10 * H + 5 * 60_000);
    read(&mut audit, &mut n, "u1", "pm1", DAY0 + 11 * H);
    let file = ward.file("monday.ndjson", &audit);
    ward.ok(&["ingest", file.to_str().unwrap()]);
    let alerts = privacy_alerts(ward);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = alerts[0].clone();
    assert_eq!(alert["rule_id"], "privacy.unexplained_access");
    assert_eq!(alert["entities"]["user"], "u1");
    assert_eq!(alert["entities"]["patient"], "px1");
    alert
}

/// Ingests Wednesday: u1 opens px1 again at 10:00.
fn wednesday(ward: &Ward) {
    let (mut audit, mut n) = (String::new(), 100);
    read(&mut audit, &mut n, "u1", "px1", DAY0 + 48 * H + 10 * H);
    let file = ward.file("wednesday.ndjson", &audit);
    ward.ok(&["ingest", file.to_str().unwrap()]);
}

fn scan_by_template(ward: &Ward) -> Value {
    let lines = ward.json_lines(&[
        "privacy",
        "scan",
        "--since",
        "2026-11-01",
        "--until",
        "2026-11-06",
        "--json",
    ]);
    lines.last().unwrap()["summary"]["by_template"].clone()
}

#[test]
fn a_case_shows_both_histories_and_appropriate_stops_the_pattern_alerting() {
    let ward = Ward::new();
    let alert = monday(&ward);
    let id = alert["id"].as_str().unwrap();

    // The case: the alert, u1's full history on px1, and who else looked.
    let case = ward.ok(&["privacy", "case", id]);
    for part in [
        &format!("Case {id}: LOW privacy.unexplained_access"),
        "user=u1 patient=px1",
        "status: open",
        "determination: none yet",
        "u1's full access history to patient px1:",
        "2026-11-02T10:00:00.000Z  u1 (Ann Lee, nurse, Internal Medicine)  read  patient=px1  purpose=-  from=ws-u1  → unexplained",
        "2026-11-02T10:05:00.000Z  u1 (Ann Lee, nurse, Internal Medicine)  read",
        "2 accesses by 1 distinct users to 1 patients; 0 explained (0.0%), 2 unexplained",
        "Patient px1's access history from 2026-11-01T10:00:00.000Z to 2026-11-03T10:05:00.000Z (who else looked):",
        "2026-11-02T09:00:00.000Z  u5 (Eve Pak, nurse, Internal Medicine)  read  patient=px1  purpose=-  from=ws-u5  → care_team",
        "others: u5 ×1 (1 explained)",
    ] {
        assert!(case.contains(part), "{part:?} not in:\n{case}");
    }
    assert!(!case.contains("patient=pm1"), "{case}");
    let json = ward.json_lines(&["privacy", "case", id, "--json"]);
    assert_eq!(json.len(), 1);
    assert_eq!(json[0]["alert"]["id"], id);
    assert_eq!(
        json[0]["user_history"]["accesses"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(json[0]["patient_history"]["summary"]["accesses"], 3);
    assert_eq!(json[0]["others"][0]["user"], "u5");

    // The patient's access report: every access with its explanation.
    let report = ward.ok(&["privacy", "report", "--patient", "px1"]);
    for part in [
        "Access report: accesses to the record of patient px1, everything stored",
        "2026-11-02T09:00:00.000Z  u5 (Eve Pak, nurse, Internal Medicine)  read  patient=px1  purpose=-  from=ws-u5  → care_team",
        "2026-11-02T10:00:00.000Z  u1 (Ann Lee, nurse, Internal Medicine)  read  patient=px1  purpose=-  from=ws-u1  → unexplained",
        "3 accesses by 2 distinct users to 1 patients; 1 explained (33.3%), 2 unexplained",
        "by explanation: care_team 1, unexplained 2",
        "2 earlier views of this data through Ward itself",
    ] {
        assert!(report.contains(part), "{part:?} not in:\n{report}");
    }
    // Oldest first.
    assert!(report.find("T09:00:00").unwrap() < report.find("T10:05:00").unwrap());
    // Each run of a report or case is a read of PHI, in Ward's own audit trail first.
    let reads: Vec<Value> = ward
        .json_lines(&["events", "--json", "--patient", "px1"])
        .into_iter()
        .filter(|e| e["metadata"]["product"] == "ward")
        .collect();
    assert_eq!(reads.len(), 3, "{reads:#?}");
    for read in &reads {
        assert_eq!(read["class_uid"], 6003);
        assert_eq!(read["activity_name"], "Read");
        assert!(
            read["actor"]["user"]["name"]
                .as_str()
                .unwrap()
                .starts_with("cli:"),
            "{read:#}"
        );
    }
    assert_eq!(reads[0]["resource"]["id"], "ward privacy report");
    // The report as JSON, between two dates, and by user and patient together.
    let lines = ward.json_lines(&[
        "privacy",
        "report",
        "--patient",
        "px1",
        "--user",
        "u1",
        "--since",
        "2026-11-02",
        "--until",
        "2026-11-03",
        "--json",
    ]);
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert_eq!(lines[0]["user"], "u1");
    assert_eq!(lines[0]["user_name"], "Ann Lee");
    assert_eq!(lines[0]["department"], "Internal Medicine");
    assert_eq!(lines[0]["action"], "read");
    assert_eq!(lines[0]["explanation"], "unexplained");
    assert_eq!(lines[2]["summary"]["accesses"], 2);
    assert_eq!(lines[2]["summary"]["explained"], 0);

    // The officer finds it appropriate: the alert is closed with the determination.
    let said = ward.ok(&[
        "privacy",
        "determine",
        id,
        "--as",
        "appropriate",
        "--note",
        "covering u5's patient at u5's request",
        "--by",
        "Pat Officer",
    ]);
    assert!(said.contains("closed (determination: appropriate — covering u5's patient at u5's request (by Pat Officer))"), "{said}");
    assert!(said.contains("confirmed u1 → patient px1 until"), "{said}");
    let closed = privacy_alerts(&ward);
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0]["status"], "closed");
    let case = ward.ok(&["privacy", "case", id]);
    assert!(
        case.contains("closed: determination: appropriate — covering"),
        "{case}"
    );
    assert!(
        case.contains("determination: appropriate (by Pat Officer"),
        "{case}"
    );

    // Wednesday u1 opens px1 again: no new alert, and the scan counts it as confirmed.
    wednesday(&ward);
    let alerts = privacy_alerts(&ward);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let by_template = scan_by_template(&ward);
    // Monday's two (from the alert's first access on) and Wednesday's.
    assert_eq!(
        by_template["confirmed_by_privacy_officer"], 3,
        "{by_template}"
    );
    assert_eq!(by_template["care_team"], 1, "{by_template}");
    let text = ward.ok(&[
        "privacy",
        "scan",
        "--since",
        "2026-11-01",
        "--until",
        "2026-11-06",
    ]);
    assert!(text.contains("No access to talk about"), "{text}");
    assert!(text.contains("confirmed_by_privacy_officer"), "{text}");
    // The report names the case that confirmed each access.
    let report = ward.ok(&["privacy", "report", "--user", "u1", "--patient", "px1"]);
    assert!(
        report.contains(&format!(
            "2026-11-04T10:00:00.000Z  u1 (Ann Lee, nurse, Internal Medicine)  read  patient=px1  purpose=-  from=ws-u1  → confirmed_by_privacy_officer (case {id})"
        )),
        "{report}"
    );
}

#[test]
fn a_policy_violation_suppresses_nothing() {
    let ward = Ward::new();
    let alert = monday(&ward);
    let id = alert["id"].as_str().unwrap();
    let said = ward.ok(&[
        "privacy",
        "determine",
        id,
        "--as",
        "policy-violation",
        "--note",
        "curiosity, admitted",
    ]);
    assert!(
        said.contains("closed (determination: policy-violation — curiosity, admitted (by cli:"),
        "{said}"
    );
    assert!(said.contains("nothing is suppressed"), "{said}");
    wednesday(&ward);
    let alerts = privacy_alerts(&ward);
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    let new: Vec<&Value> = alerts.iter().filter(|a| a["id"] != id).collect();
    assert_eq!(new[0]["rule_id"], "privacy.unexplained_access");
    assert_eq!(new[0]["entities"]["user"], "u1");
    assert_eq!(new[0]["entities"]["patient"], "px1");
    assert_eq!(new[0]["status"], "open");
    assert_eq!(scan_by_template(&ward)["confirmed_by_privacy_officer"], 0);
}

#[test]
fn reportable_stays_open_for_an_incident_and_bad_input_is_refused() {
    let ward = Ward::new();
    let alert = monday(&ward);
    let id = alert["id"].as_str().unwrap();

    let err = ward.refused(&["privacy", "case", "no-such-alert"]);
    assert!(err.contains("there is no alert no-such-alert"), "{err}");
    let err = ward.refused(&[
        "privacy",
        "determine",
        "no-such-alert",
        "--as",
        "appropriate",
        "--note",
        "x",
    ]);
    assert!(err.contains("there is no alert no-such-alert"), "{err}");
    let err = ward.refused(&["privacy", "determine", id, "--as", "fine", "--note", "x"]);
    assert!(err.contains("unknown determination \"fine\""), "{err}");
    ward.refused(&["privacy", "report"]);

    let said = ward.ok(&[
        "privacy",
        "determine",
        id,
        "--as",
        "reportable",
        "--note",
        "printed and taken home",
    ]);
    assert!(said.contains("kept open (acknowledged)"), "{said}");
    assert!(
        said.contains(&format!("ward incidents open --alert {id}")),
        "{said}"
    );
    let alerts = privacy_alerts(&ward);
    assert_eq!(alerts[0]["status"], "acknowledged");
    let case = ward.ok(&["privacy", "case", id]);
    assert!(case.contains("determination: reportable"), "{case}");

    // A determination is Ward's own record: `ward context import` refuses one from a file.
    let forged = ward.file(
        "forged.ndjson",
        r#"{"resourceType":"PrivacyDetermination","id":"determination-x","user":"u1","patient":"px1","determination":"appropriate"}
"#,
    );
    let err = ward.refused(&["context", "import", forged.to_str().unwrap()]);
    assert!(
        err.contains("`PrivacyDetermination` is Ward's own record of a privacy officer's decision, made with `ward privacy determine`; it is never imported"),
        "{err}"
    );
    let stats = ward.ok(&["context", "stats"]);
    assert!(
        stats
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["PrivacyDetermination", "1"]),
        "only the determination made above: {stats}"
    );
}

#[test]
fn appropriate_on_a_browsing_alert_confirms_each_patient_of_its_evidence() {
    let ward = Ward::new();
    let file = ward.file("context.ndjson", hospital().cardiology().ndjson());
    ward.ok(&["context", "import", file.to_str().unwrap()]);
    // u1 opens three Cardiology strangers on Monday: a browsing alert naming u1 alone.
    let (mut audit, mut n) = (String::new(), 0);
    read(&mut audit, &mut n, "u1", "pm1", DAY0 + 9 * H);
    for (i, h) in [(1, 10), (2, 11), (3, 12)] {
        read(&mut audit, &mut n, "u1", &format!("pc{i}"), DAY0 + h * H);
    }
    let file = ward.file("monday.ndjson", &audit);
    ward.ok(&["ingest", file.to_str().unwrap()]);
    let alerts = privacy_alerts(&ward);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0]["rule_id"], "privacy.outside_department");
    assert!(alerts[0]["entities"]["patient"].is_null());
    let id = alerts[0]["id"].as_str().unwrap();

    // The case of a user-level alert: u1's accesses around the alert's window.
    let case = ward.ok(&["privacy", "case", id]);
    assert!(
        case.contains("u1's accesses to patient records from 2026-11-01T10:00:00.000Z"),
        "{case}"
    );
    assert!(
        case.contains(
            "4 accesses by 1 distinct users to 4 patients; 1 explained (25.0%), 3 unexplained"
        ),
        "{case}"
    );

    let said = ward.ok(&[
        "privacy",
        "determine",
        id,
        "--as",
        "appropriate",
        "--note",
        "cardiology consult cover",
        "--for",
        "30",
    ]);
    assert!(
        said.contains("confirmed u1 → 3 patients of the alert's evidence"),
        "{said}"
    );
    // Tuesday: u1 opens the same three again; the confirmation covers each.
    let (mut audit, mut n) = (String::new(), 200);
    for (i, h) in [(1, 10), (2, 11), (3, 12)] {
        read(
            &mut audit,
            &mut n,
            "u1",
            &format!("pc{i}"),
            DAY0 + 24 * H + h * H,
        );
    }
    let file = ward.file("tuesday.ndjson", &audit);
    ward.ok(&["ingest", file.to_str().unwrap()]);
    let alerts = privacy_alerts(&ward);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(scan_by_template(&ward)["confirmed_by_privacy_officer"], 6);
}
