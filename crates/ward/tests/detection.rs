//! Detection end to end: the simulated hospital's telemetry ingested by the `ward` binary
//! raises alerts for the incidents planted in it (compared with `truth.json`), ingesting the
//! same files again changes no count, and a user's own Sigma folder runs beside the shipped
//! pack (`ingest --rules`, `rules list`, `hunt` with a correlation).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Ward {
    dir: tempfile::TempDir,
}

impl Ward {
    fn new() -> Self {
        Ward {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_ward"))
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .args(args)
            .env_remove("WARD_CONFIG")
            .env_remove("WARD_DATA_DIR")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ward {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json_lines(&self, args: &[&str]) -> Vec<Value> {
        self.ok(args)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn files_under(dir: &Path, extension: Option<&str>) -> Vec<String> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(d).unwrap() {
            let path: PathBuf = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if extension.is_none_or(|x| path.extension().is_some_and(|e| e == x)) {
                files.push(path.to_string_lossy().to_string());
            }
        }
    }
    files.sort();
    files
}

fn alert_counts(ward: &Ward) -> std::collections::BTreeMap<String, u64> {
    ward.json_lines(&["alerts", "--json"])
        .into_iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap().to_string(),
                a["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn simulated_incidents_raise_alerts_and_a_second_ingest_changes_no_count() {
    let ward = Ward::new();
    let sim = ward.dir.path().join("sim");
    ward.ok(&[
        "simulate",
        "--out",
        sim.to_str().unwrap(),
        "--seed",
        "7",
        "--days",
        "1",
        "--staff",
        "60",
        "--patients",
        "600",
    ]);
    let truth: Value =
        serde_json::from_slice(&std::fs::read(sim.join("truth.json")).unwrap()).unwrap();
    let incidents = truth["incidents"].as_array().unwrap();
    let planted = |kind: &str| {
        incidents
            .iter()
            .find(|i| i["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in truth.json"))
    };

    let mut context = vec!["context", "import"];
    let context_files = files_under(&sim.join("context"), Some("ndjson"));
    context.extend(context_files.iter().map(String::as_str));
    ward.ok(&context);
    let telemetry = files_under(&sim.join("telemetry"), None);
    let mut ingest = vec!["ingest", "--json"];
    ingest.extend(telemetry.iter().map(String::as_str));
    let summaries = ward.json_lines(&ingest);
    let total = summaries.last().unwrap();
    assert!(total["alerts"].as_u64().unwrap() > 0, "{total}");

    let alerts = ward.json_lines(&["alerts", "--json"]);
    let find = |title: &str, user: &str| {
        alerts
            .iter()
            .find(|a| a["title"] == title && a["entities"]["user"] == user)
            .unwrap_or_else(|| panic!("no `{title}` alert for {user}: {alerts:#?}"))
    };
    let brute = planted("brute_force_success");
    let alert = find(
        "Brute force followed by a successful login",
        brute["entities"]["user"].as_str().unwrap(),
    );
    assert_eq!(alert["entities"]["src_ip"], brute["entities"]["src_ip"]);
    assert_eq!(alert["severity"], "critical");
    assert_eq!(alert["attack"], serde_json::json!(["T1110.001", "T1078"]));
    assert!(
        alert["hipaa"]
            .as_array()
            .unwrap()
            .contains(&"164.312(b)".into())
    );
    // One alert for the success, from the credential detector, not a second from the pack.
    assert_eq!(
        alerts
            .iter()
            .filter(|a| a["severity"] == "critical"
                && a["entities"]["user"] == brute["entities"]["user"]
                && a["title"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("followed by a successful login"))
            .count(),
        1,
        "{alerts:#?}"
    );
    let guessing = find(
        "SSH password guessing against one account",
        brute["entities"]["user"].as_str().unwrap(),
    );
    assert_eq!(guessing["license"], "DRL-1.1");
    assert!(guessing["count"].as_u64().unwrap() >= 40, "{guessing}");

    let glass = planted("break_glass_no_follow_up");
    let alert = find(
        "Emergency access to a patient record (break-the-glass)",
        glass["entities"]["user"].as_str().unwrap(),
    );
    assert_eq!(
        alert["entities"]["patient"],
        glass["entities"]["patient"][0]
    );
    let first_seen = alert["first_seen"].as_str().unwrap();
    assert!(
        glass["start"].as_str().unwrap() <= first_seen
            && first_seen <= glass["end"].as_str().unwrap(),
        "{alert}"
    );
    // The alert names its stored evidence.
    let evidence = ward.json_lines(&["events", "--json", "--alert", alert["id"].as_str().unwrap()]);
    assert!(!evidence.is_empty());

    let before = alert_counts(&ward);
    let again = ward.json_lines(&ingest);
    assert_eq!(again.last().unwrap()["accepted"], 0);
    assert_eq!(again.last().unwrap()["alerts"], 0);
    assert_eq!(
        alert_counts(&ward),
        before,
        "re-ingest must not double the counts"
    );
}

const ROOT_FAILURES: &str = r#"
title: Root password tried
id: 11111111-2222-4333-8444-555555555555
name: root_password_tried
level: medium
tags: [attack.t1110.001, hipaa.164.312.b]
logsource: {product: authlog, category: authentication}
detection:
    selection:
        status: failure
        actor.user.name: root
    condition: selection
---
title: Root password tried three times
id: 66666666-7777-4888-8999-000000000000
level: high
correlation:
    type: event_count
    rules: [root_password_tried]
    group-by: [src_endpoint.ip]
    timespan: 1m
    condition: {gte: 3}
    generate: true
"#;

#[test]
fn a_users_rule_folder_runs_beside_the_shipped_pack() {
    let ward = Ward::new();
    let rules = ward.dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(rules.join("root.yml"), ROOT_FAILURES).unwrap();
    let rules_dir = rules.to_str().unwrap();

    let listed = ward.json_lines(&["rules", "list", "--json", "--rules", rules_dir]);
    let mine = listed
        .iter()
        .find(|r| r["title"] == "Root password tried")
        .expect("the user's rule is listed");
    assert!(
        mine["source"].as_str().unwrap().ends_with("root.yml"),
        "{mine}"
    );
    assert_eq!(mine["logsource"], "authlog/authentication/*");
    assert!(
        listed
            .iter()
            .any(|r| r["source"] == "shipped" && r["level"] == "critical")
    );

    let log = ward.dir.path().join("auth.log");
    let lines: String = (0..3)
        .map(|i| {
            format!(
                "2026-11-02T10:00:0{i}.000000+00:00 gw sshd[1]: Failed password for root from 203.0.113.7 port 4{i} ssh2\n"
            )
        })
        .collect();
    std::fs::write(&log, lines).unwrap();
    let summary = ward.json_lines(&[
        "ingest",
        "--json",
        "--rules",
        rules_dir,
        log.to_str().unwrap(),
    ]);
    assert_eq!(summary[0]["accepted"], 3);
    let alerts = ward.json_lines(&["alerts", "--json"]);
    let titles: Vec<&str> = alerts.iter().filter_map(|a| a["title"].as_str()).collect();
    assert!(titles.contains(&"Root password tried"), "{titles:?}");
    assert!(
        titles.contains(&"Root password tried three times"),
        "{titles:?}"
    );

    // The same rules hunted over the file, correlation included, nothing stored.
    let hunted = ward.json_lines(&["hunt", "--json", rules_dir, log.to_str().unwrap()]);
    assert_eq!(hunted.iter().filter(|m| m["event"].is_object()).count(), 3);
    let correlation = hunted
        .iter()
        .find(|m| m["correlation"] == true)
        .expect("the correlation is evaluated by hunt");
    assert_eq!(correlation["count"], 3);
}

#[test]
fn a_correlation_spanning_two_ingest_runs_is_seen() {
    let ward = Ward::new();
    let rules = ward.dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(rules.join("root.yml"), ROOT_FAILURES).unwrap();
    let rules_dir = rules.to_str().unwrap();
    let line = |i: u32| {
        format!(
            "2026-11-02T10:00:0{i}.000000+00:00 gw sshd[1]: Failed password for root from 203.0.113.9 port 4{i} ssh2\n"
        )
    };
    // Two failures in the first file, the third (within the minute) in the second.
    let first = ward.dir.path().join("auth-1.log");
    let second = ward.dir.path().join("auth-2.log");
    std::fs::write(&first, format!("{}{}", line(0), line(1))).unwrap();
    std::fs::write(&second, line(2)).unwrap();
    let correlated = |ward: &Ward| {
        ward.json_lines(&["alerts", "--json"])
            .into_iter()
            .filter(|a| a["title"] == "Root password tried three times")
            .count()
    };
    ward.ok(&["ingest", "--rules", rules_dir, first.to_str().unwrap()]);
    assert_eq!(correlated(&ward), 0, "two failures are not three");
    ward.ok(&["ingest", "--rules", rules_dir, second.to_str().unwrap()]);
    assert_eq!(
        correlated(&ward),
        1,
        "the window opened by the first run was saved and continued by the second"
    );

    // The control: the same two runs with the saved state removed in between see nothing.
    let forgetful = Ward::new();
    forgetful.ok(&["ingest", "--rules", rules_dir, first.to_str().unwrap()]);
    let db = rusqlite::Connection::open(forgetful.dir.path().join("data/ward.db")).unwrap();
    let removed = db.execute("DELETE FROM detector_state", []).unwrap();
    assert!(
        removed >= 1,
        "the first run saved the Sigma detector's state"
    );
    drop(db);
    forgetful.ok(&["ingest", "--rules", rules_dir, second.to_str().unwrap()]);
    assert_eq!(correlated(&forgetful), 0);
}
