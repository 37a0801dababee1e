//! Patient-privacy monitoring end to end, through the `ward` binary: organisation context
//! imported with `ward context import` (FHIR NDJSON), EHR audit events ingested with
//! `ward ingest` (FHIR AuditEvent NDJSON), and the alert and its explanation read back with
//! `ward alerts --json`; then `ward privacy scan` over the stored history and over a file.
//!
//! The hospital here is hand-made so each test isolates one flag: Internal Medicine (MED)
//! with nurses u1, u4 and u5 and sixty admitted patients pm0…pm59, whose encounters name no
//! care team member (so a nurse's access is explained by her department, not a care team).

use common::Ward;
use common::privacy::{DAY0, H, Hospital, privacy_alerts, read};
use serde_json::Value;

mod common;

/// Imports the hospital, ingests `audit` and returns the privacy alerts.
fn run(ward: &Ward, audit: &str) -> Vec<Value> {
    let context = ward.file("context.ndjson", hospital());
    ward.ok(&["context", "import", context.to_str().unwrap()]);
    let audit = ward.file("audit.ndjson", audit);
    ward.ok(&["ingest", audit.to_str().unwrap()]);
    privacy_alerts(ward)
}

fn hospital() -> String {
    Hospital::internal_medicine(60).ndjson().to_string()
}

/// A shift of `user` on day `day` (0 = 2026-11-02) from hour `from` to `until`: `per_hour`
/// distinct patients an hour, taken in turn.
fn shift(out: &mut String, n: &mut u32, user: &str, day: i64, hours: (i64, i64), per_hour: i64) {
    for h in hours.0..hours.1 {
        for k in 0..per_hour {
            let patient = format!("pm{}", (h * per_hour + k) % 60);
            let t = DAY0 + day * 24 * H + h * H + k * 55 * 60_000 / per_hour;
            read(out, n, user, &patient, t);
        }
    }
}

fn only(alerts: &[Value], rule: &str) -> Value {
    let found: Vec<&Value> = alerts.iter().filter(|a| a["rule_id"] == rule).collect();
    assert_eq!(found.len(), 1, "{rule}: {alerts:#?}");
    found[0].clone()
}

#[test]
fn after_hours_relative_to_the_users_own_shifts_is_flagged_with_its_reason() {
    let ward = Ward::new();
    let (mut audit, mut n) = (String::new(), 0);
    // Day 0: u1 works 07:00–15:00. Day 1: 02:10, three of her unit's records.
    shift(&mut audit, &mut n, "u1", 0, (7, 15), 4);
    for (k, p) in ["pm1", "pm2", "pm3"].iter().enumerate() {
        let t = DAY0 + 24 * H + 2 * H + 10 * 60_000 + k as i64 * 60_000;
        read(&mut audit, &mut n, "u1", p, t);
    }
    // u4 works nights, 23:00–07:00: the same hour is her shift, not after hours.
    shift(&mut audit, &mut n, "u4", 0, (0, 7), 4);
    shift(&mut audit, &mut n, "u4", 0, (23, 24), 4);
    shift(&mut audit, &mut n, "u4", 1, (0, 7), 4);
    let mut lines: Vec<&str> = audit.lines().collect();
    lines.sort_by_key(|l| {
        l.split(r#""recorded":""#)
            .nth(1)
            .map(|r| r[..24].to_string())
    });
    let alerts = run(&ward, &(lines.join("\n") + "\n"));
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = only(&alerts, "privacy.after_hours");
    assert_eq!(alert["entities"]["user"], "u1");
    assert_eq!(alert["entities"]["patient"], "pm1");
    assert_eq!(alert["severity"], "medium");
    assert_eq!(alert["count"], 3);
    assert!(
        alert["hipaa"]
            .as_array()
            .unwrap()
            .contains(&"164.312(b)".into())
    );
    let text = alert["description"].as_str().unwrap();
    for part in [
        "began at 02:10 UTC, outside u1's own usual hours",
        "on 1 earlier days (8 hours of work) u1 worked 07:00–15:00 (UTC)",
        "in the department serving the patient's encounter",
        "It would look legitimate with u1 on a care team of pm1",
    ] {
        assert!(text.contains(part), "{part:?} not in {text}");
    }
    // The alert names its stored evidence: the three accesses.
    let evidence = ward.ok(&["events", "--json", "--alert", alert["id"].as_str().unwrap()]);
    assert_eq!(evidence.lines().count(), 3, "{evidence}");
}

#[test]
fn volume_far_above_own_and_peers_is_flagged_with_both_baselines() {
    let ward = Ward::new();
    let (mut audit, mut n) = (String::new(), 0);
    for user in ["u1", "u4", "u5"] {
        shift(&mut audit, &mut n, user, 0, (7, 15), 5);
    }
    // Day 1, 10:00–10:45: u1 opens 45 of her unit's records, each explained.
    for i in 0..45 {
        let t = DAY0 + 24 * H + 10 * H + i * 60_000;
        read(&mut audit, &mut n, "u1", &format!("pm{i}"), t);
    }
    let mut lines: Vec<&str> = audit.lines().collect();
    lines.sort_by_key(|l| {
        l.split(r#""recorded":""#)
            .nth(1)
            .map(|r| r[..24].to_string())
    });
    let alerts = run(&ward, &(lines.join("\n") + "\n"));
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = only(&alerts, "privacy.volume_above_baseline");
    assert_eq!(alert["entities"]["user"], "u1");
    assert_eq!(alert["severity"], "medium");
    assert!(
        alert["hipaa"]
            .as_array()
            .unwrap()
            .contains(&"164.502(b)".into())
    );
    let text = alert["description"].as_str().unwrap();
    for part in [
        "30 distinct patients in the hour from 10:00 UTC",
        "own usual hour (5 patients at the 95th percentile over 8 past hours of work)",
        "their peers (nurse of Internal Medicine: 5 an hour at the 95th percentile over 14 hours of 2 colleagues)",
        "30 of those patients' first accesses had a clinical explanation",
    ] {
        assert!(text.contains(part), "{part:?} not in {text}");
    }
    let evidence = ward.ok(&["events", "--json", "--alert", alert["id"].as_str().unwrap()]);
    assert_eq!(evidence.lines().count(), 30);
}

#[test]
fn privacy_scan_lists_the_accesses_worth_a_conversation_and_what_explained_the_rest() {
    let ward = Ward::new();
    let (mut audit, mut n) = (String::new(), 0);
    shift(&mut audit, &mut n, "u1", 0, (7, 15), 4);
    for (k, p) in ["pm1", "pm2"].iter().enumerate() {
        let t = DAY0 + 24 * H + 2 * H + 10 * 60_000 + k as i64 * 60_000;
        read(&mut audit, &mut n, "u1", p, t);
    }
    // A patient Ward has no context for: unexplained, low severity.
    read(&mut audit, &mut n, "u1", "stranger", DAY0 + 24 * H + 9 * H);
    let alerts = run(&ward, &audit);
    assert_eq!(alerts.len(), 2, "{alerts:#?}");

    // Over the stored history: the same alerts, ranked, with the figures.
    let text = ward.ok(&[
        "privacy",
        "scan",
        "--since",
        "2026-11-01",
        "--until",
        "2026-11-04",
    ]);
    let after_hours = text.find("MEDIUM   2026-11-03T02:10:00.000Z  privacy.after_hours  user=u1 patient=pm1  ×2 (2 events)");
    let unexplained = text.find(
        "LOW      2026-11-03T09:00:00.000Z  privacy.unexplained_access  user=u1 patient=stranger",
    );
    assert!(
        after_hours.is_some() && unexplained.is_some() && after_hours < unexplained,
        "{text}"
    );
    assert!(text.contains("outside u1's own usual hours"), "{text}");
    for line in [
        "2 alerts: 0 critical, 0 high, 1 medium, 1 low",
        "35 events; 35 accesses to patient records assessed: 34 explained (97.1%), 1 unexplained",
        "  department                 34   97.1%  in the department serving the patient's encounter",
        "  care_team                   0    0.0%",
    ] {
        assert!(text.contains(line), "{line:?} not in:\n{text}");
    }

    // The short list only, as JSON.
    let json = ward.ok(&[
        "privacy",
        "scan",
        "--since",
        "2026-11-01",
        "--until",
        "2026-11-04",
        "--min-severity",
        "medium",
        "--json",
    ]);
    let lines: Vec<Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{json}");
    assert_eq!(lines[0]["rule_id"], "privacy.after_hours");
    assert_eq!(lines[0]["evidence"], 2);
    let summary = &lines[1]["summary"];
    assert_eq!(summary["accesses"], 35);
    assert_eq!(summary["explained"], 34);
    assert_eq!(summary["by_template"]["department"], 34);
    assert_eq!(summary["alerts"], 2);

    // A period before any of it: nothing to talk about.
    let empty = ward.ok(&[
        "privacy",
        "scan",
        "--since",
        "2026-10-01",
        "--until",
        "2026-10-02",
    ]);
    assert!(empty.starts_with("No access to talk about"), "{empty}");

    // Over a file instead of the store (context still from the store).
    let file = ward.path("audit.ndjson");
    let from_file = ward.ok(&[
        "privacy",
        "scan",
        "--since",
        "2026-11-01",
        "--until",
        "2026-11-04",
        file.to_str().unwrap(),
    ]);
    assert!(
        from_file.contains("privacy.after_hours  user=u1"),
        "{from_file}"
    );

    // A wrong severity is bad usage.
    ward.refused(&["privacy", "scan", "--min-severity", "dire"]);
}

#[test]
fn first_ever_accesses_to_patients_of_another_department_are_flagged_with_their_reason() {
    let ward = Ward::new();
    // Cardiology beside Internal Medicine, with three patients admitted there.
    let context = ward.file("cardiology.ndjson", Hospital::new().cardiology().ndjson());
    ward.ok(&["context", "import", context.to_str().unwrap()]);

    // u1, a nurse of Internal Medicine, looks at one Cardiology patient twice in a minute
    // while her own unit's work goes on: one look outside the department is an observation,
    // not an alert. The access is held for a day (templates learned meanwhile would have
    // explained it), but the file ends the same day: the end of the ingest run concludes it.
    let (mut audit, mut n) = (String::new(), 0);
    read(&mut audit, &mut n, "u1", "pm1", DAY0 + 9 * H);
    read(&mut audit, &mut n, "u1", "pc1", DAY0 + 10 * H);
    read(&mut audit, &mut n, "u1", "pc1", DAY0 + 10 * H + 60_000);
    read(&mut audit, &mut n, "u1", "pm2", DAY0 + 11 * H);
    read(&mut audit, &mut n, "u4", "pm3", DAY0 + 13 * H);
    let alerts = run(&ward, &audit);
    assert!(alerts.is_empty(), "{alerts:#?}");
    let scan = ward.ok(&[
        "privacy",
        "scan",
        "--since",
        "2026-11-01",
        "--until",
        "2026-11-03",
    ]);
    assert!(
        scan.contains("1 first-ever accesses outside the user's department held as observations"),
        "{scan}"
    );

    // Two more Cardiology strangers the same afternoon: browsing, one alert naming all three.
    let ward = Ward::new();
    ward.ok(&["context", "import", context.to_str().unwrap()]);
    read(&mut audit, &mut n, "u1", "pc2", DAY0 + 14 * H);
    read(&mut audit, &mut n, "u1", "pc3", DAY0 + 15 * H);
    let alerts = run(&ward, &audit);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = only(&alerts, "privacy.outside_department");
    assert_eq!(alert["entities"]["user"], "u1");
    assert_eq!(alert["severity"], "medium");
    for citation in ["164.308(a)(1)(ii)(D)", "164.312(b)", "164.502(b)"] {
        assert!(
            alert["hipaa"]
                .as_array()
                .unwrap()
                .contains(&citation.into()),
            "{citation}: {alert:#}"
        );
    }
    let text = alert["description"].as_str().unwrap();
    for part in [
        "u1 opened, for the first time, the records of 3 distinct patients of other departments than u1's Internal Medicine within 7 days",
        "pc1 at 2026-11-02T10:00:00.000Z (a patient of Cardiology)",
        "pc2 at 2026-11-02T14:00:00.000Z",
        "pc3 at 2026-11-02T15:00:00.000Z",
        "It would look legitimate with u1 on those patients' care teams",
    ] {
        assert!(text.contains(part), "{part:?} not in {text}");
    }
    // The evidence: the first look at each of the three.
    let evidence = ward.ok(&["events", "--json", "--alert", alert["id"].as_str().unwrap()]);
    assert_eq!(evidence.lines().count(), 3, "{evidence}");

    // The scan over the stored history finds the same accesses, with the same reason.
    let text = ward.ok(&[
        "privacy",
        "scan",
        "--since",
        "2026-11-01",
        "--until",
        "2026-11-03",
    ]);
    assert!(
        text.contains("2026-11-02T10:00:00.000Z  privacy.outside_department  user=u1"),
        "{text}"
    );
    assert!(text.contains("than u1's Internal Medicine"), "{text}");
}

#[test]
fn the_privacy_memory_carries_from_one_ingest_run_to_the_next() {
    let ward = Ward::new();
    let context = ward.file("cardiology.ndjson", Hospital::new().cardiology().ndjson());
    ward.ok(&["context", "import", context.to_str().unwrap()]);

    // Monday's export: u1's shift, and one look at a Cardiology patient (an observation).
    let (mut monday, mut n) = (String::new(), 0);
    shift(&mut monday, &mut n, "u1", 0, (7, 15), 4);
    read(&mut monday, &mut n, "u1", "pc1", DAY0 + 10 * H);
    assert!(run(&ward, &monday).is_empty());

    // Tuesday's export, another run of `ward ingest`: two more strangers. The first look,
    // remembered from Monday's run, makes three within a week.
    let mut tuesday = String::new();
    shift(&mut tuesday, &mut n, "u1", 1, (7, 15), 4);
    read(&mut tuesday, &mut n, "u1", "pc2", DAY0 + 24 * H + 9 * H);
    read(&mut tuesday, &mut n, "u1", "pc3", DAY0 + 24 * H + 11 * H);
    let tuesday_file = ward.file("tuesday.ndjson", &tuesday);
    ward.ok(&["ingest", tuesday_file.to_str().unwrap()]);
    let alerts = privacy_alerts(&ward);
    let alert = only(&alerts, "privacy.outside_department");
    let text = alert["description"].as_str().unwrap();
    assert!(
        text.contains("pc1 at 2026-11-02T10:00:00.000Z (a patient of Cardiology)"),
        "{text}"
    );
    assert!(text.contains("pc3 at 2026-11-03T11:00:00.000Z"), "{text}");
}

#[test]
fn outside_department_min_patients_from_the_config_makes_one_look_at_a_stranger_an_alert() {
    // u1 of Internal Medicine opens one Cardiology patient between two of her own.
    let (mut audit, mut n) = (String::new(), 0);
    read(&mut audit, &mut n, "u1", "pm1", DAY0 + 9 * H);
    read(&mut audit, &mut n, "u1", "pc1", DAY0 + 10 * H);
    read(&mut audit, &mut n, "u1", "pm2", DAY0 + 11 * H);
    let cardiology = Hospital::new().cardiology();

    // By default one look is an observation.
    let ward = Ward::new();
    let context = ward.file("cardiology.ndjson", cardiology.ndjson());
    ward.ok(&["context", "import", context.to_str().unwrap()]);
    assert!(run(&ward, &audit).is_empty());

    // `outside_department_min_patients = 1`: the same look is an alert, from `ward ingest`
    // and from `ward privacy scan` alike.
    let ward = Ward::new();
    let config = ward.file(
        "ward.toml",
        "[detect.privacy]\noutside_department_min_patients = 1\n",
    );
    let ward = ward.with_config(config);
    let context = ward.file("cardiology.ndjson", cardiology.ndjson());
    ward.ok(&["context", "import", context.to_str().unwrap()]);
    let alerts = run(&ward, &audit);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = only(&alerts, "privacy.outside_department");
    assert_eq!(alert["entities"]["user"], "u1");
    let text = alert["description"].as_str().unwrap();
    assert!(text.contains("pc1 at 2026-11-02T10:00:00.000Z"), "{text}");
    let scan = ward.ok(&[
        "privacy",
        "scan",
        "--since",
        "2026-11-01",
        "--until",
        "2026-11-03",
    ]);
    assert!(
        scan.contains("2026-11-02T10:00:00.000Z  privacy.outside_department  user=u1"),
        "{scan}"
    );
}

#[test]
fn an_unknown_or_senseless_detect_privacy_key_is_refused_naming_it() {
    for (config, named) in [
        (
            "[detect.privacy]\noutside_department_min_patient = 1\n",
            "unknown field `outside_department_min_patient`",
        ),
        (
            "[detect.privacy]\nlearn_min_user_share = 1.5\n",
            "[detect.privacy] learn_min_user_share must be between 0 and 1",
        ),
        (
            "[detect.privacy]\nsweep_window_minutes = 0\n",
            "[detect.privacy] sweep_window_minutes must be at least 1",
        ),
        (
            "[detect.privacy]\nlearn_min_user_share = nan\n",
            "[detect.privacy] learn_min_user_share must be between 0 and 1",
        ),
        (
            "[detect.privacy]\nseen_for_days = 9223372036854775807\n",
            "[detect.privacy] seen_for_days must be at most 3650 (ten years)",
        ),
    ] {
        let ward = Ward::new();
        let path = ward.file("ward.toml", config);
        let ward = ward.with_config(path);
        let stderr = ward.refused(&["privacy", "scan", "--since", "30d"]);
        assert!(stderr.contains(named), "{named:?} not in {stderr}");
        assert!(stderr.contains("ward.toml"), "{stderr}");
    }
}
