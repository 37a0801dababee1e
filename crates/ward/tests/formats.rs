//! End-to-end tests of telemetry formats read through the `ward` binary: AWS CloudTrail
//! (stored, quarantined per record, and read by SigmaHQ's own CloudTrail rules) and CSV access
//! logs read through a mapping file.

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

mod common;
use common::Ward;

fn cloudtrail_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../decode/tests/fixtures/cloudtrail")
        .join(name)
}

/// The SigmaHQ rules beside the repository. Absent: skip with a message, unless CI is set.
fn sigmahq_cloudtrail_rules() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/sigma/rules/cloud/aws/cloudtrail");
    if path.is_dir() {
        return Some(path);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "CI is set but the SigmaHQ rules are missing at {}",
            path.display()
        );
    }
    eprintln!("skipped: the SigmaHQ rules are not at {}", path.display());
    None
}

#[test]
fn sigmahq_cloudtrail_rules_fire_on_the_cloudtrail_records_they_describe() {
    let Some(rules) = sigmahq_cloudtrail_rules() else {
        return;
    };
    let ward = Ward::new();
    let files = [
        "s3-delivery.input",
        "one-record-a-line.input",
        "eventbridge.input",
    ]
    .map(|f| cloudtrail_fixture(f).to_str().unwrap().to_string());
    let mut args = vec!["hunt", "--json", rules.to_str().unwrap()];
    args.extend(files.iter().map(String::as_str));
    let out = ward.run(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("(0 not loaded)"), "{stderr}");
    let matches: BTreeSet<(String, String)> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|m| {
            (
                m["title"].as_str().unwrap().to_string(),
                m["event"]["activity_name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("AWS ConsoleLogin Failed Authentication", "ConsoleLogin"),
        ("AWS Successful Console Login Without MFA", "ConsoleLogin"),
        ("AWS Root Credentials", "ConsoleLogin"),
        ("AWS Root Credentials", "CreateUser"),
        ("AWS Root Credentials", "AttachUserPolicy"),
        ("AWS Root Credentials", "CreateAccessKey"),
        ("AWS IAM Backdoor Users Keys", "CreateAccessKey"),
        ("AWS CloudTrail Important Change", "StopLogging"),
        ("AWS CloudTrail Important Change", "DeleteTrail"),
        ("AWS STS AssumeRole Misuse", "GetObject"),
        ("AWS STS AssumeRole Misuse", "Decrypt"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(matches, expected);
}

#[test]
fn a_cloudtrail_delivery_file_is_stored_record_by_record_and_its_bad_record_quarantined_at_its_index()
 {
    let ward = Ward::new();
    let path = cloudtrail_fixture("s3-delivery.input");
    let summary = &ward.json_lines(&["ingest", "--json", path.to_str().unwrap()])[0];
    assert_eq!(summary["format"], "cloudtrail", "{summary}");
    assert_eq!(summary["accepted"], 4, "{summary}");
    assert_eq!(summary["quarantined"], 1, "{summary}");
    let quarantined = ward.json_lines(&["quarantine", "list", "--json"]);
    assert_eq!(quarantined.len(), 1);
    assert_eq!(quarantined[0]["position"]["entry"], 4);
    let reason = quarantined[0]["reason"].as_str().unwrap();
    assert!(reason.contains("eventTime"), "{reason}");
    let raw = quarantined[0]["raw"].as_str().unwrap();
    assert!(raw.starts_with('{') && raw.contains("ListBuckets"), "{raw}");
    assert!(!raw.contains("ConsoleLogin"), "only the bad record: {raw}");
    let by_user = ward.json_lines(&["events", "--json", "--user", "ehr-backup-admin"]);
    assert_eq!(by_user.len(), 1);
    assert_eq!(by_user[0]["unmapped"]["eventName"], "GetObject");
}

const EHR_MAPPING: &str = r#"
class = "api_activity"
activity = "other"
required = ["user", "patient_id"]

[time]
column = "Access Date/Time"
format = "%m/%d/%Y %I:%M:%S %p"
timezone = "America/Chicago"

[columns]
user = "User ID"
user_name = "User Name"
user_role = "User Role"
patient_id = "Patient MRN"
patient_name = "Patient Name"
action = "Action"
resource_type = "Activity Type"
workstation = "Workstation"
source_ip = "Client IP"
outcome = "Result"

[actions]
"Chart Viewed" = "read"
"Note Signed" = "update"
"Order Entered" = "create"
"Report Printed" = "read"

[outcomes]
success = ["Allowed"]
failure = ["Denied"]
"#;

const EHR_EXPORT: &str = "\
\"Access Date/Time\",\"User ID\",\"User Name\",\"User Role\",\"Patient MRN\",\"Patient Name\",\"Action\",\"Activity Type\",\"Workstation\",\"Client IP\",\"Result\",\"Reason\"
11/02/2026 08:15:00 AM,jdoe,\"Doe, Jane\",RN,E1001,\"Smith, Robert \"\"Bob\"\"\",Chart Viewed,Chart,WS-ICU-04,10.20.30.40,Allowed,\"Treatment, ICU\"
11/02/2026 08:17:30 AM,jdoe,\"Doe, Jane\",RN,E1001,\"Smith, Robert \"\"Bob\"\"\",Note Signed,Notes,WS-ICU-04,10.20.30.40,Allowed,
11/02/2026 25:99:00 PM,mroe,\"Roe, Mark\",MD,E2002,\"Lee, Ann\",Chart Viewed,Chart,WS-ED-01,10.20.31.7,Allowed,
11/02/2026 09:02:10 PM,mroe,\"Roe, Mark\",MD,,\"Lee, Ann\",Report Printed,Reports,WS-ED-01,10.20.31.7,Allowed,
11/02/2026 11:45:00 PM,kbell,\"Bell, Kim\",Clerk,E1001,\"Smith, Robert \"\"Bob\"\"\",Chart Viewed,Chart,WS-REG-02,10.20.40.9,Denied,\"Break, the glass refused\"
";

#[test]
fn an_ehr_access_csv_is_read_through_its_mapping_and_bad_rows_are_quarantined_with_their_line() {
    let ward = Ward::new();
    let mapping = ward.file("ehr-mapping.toml", EHR_MAPPING.as_bytes());
    let export = ward.file("access.csv", EHR_EXPORT.as_bytes());
    let summary = &ward.json_lines(&[
        "ingest",
        "--json",
        "--format",
        "csv",
        "--mapping",
        mapping.to_str().unwrap(),
        export.to_str().unwrap(),
    ])[0];
    assert_eq!(summary["format"], "csv", "{summary}");
    assert_eq!(summary["accepted"], 3, "{summary}");
    assert_eq!(summary["quarantined"], 2, "{summary}");

    let quarantined = ward.json_lines(&["quarantine", "list", "--json"]);
    let lines: Vec<(u64, String)> = quarantined
        .iter()
        .map(|q| {
            (
                q["position"]["line"].as_u64().unwrap(),
                q["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0].0, 4);
    assert!(lines[0].1.contains("is not a time"), "{lines:?}");
    assert_eq!(lines[1].0, 5);
    assert!(lines[1].1.contains("required patient_id"), "{lines:?}");

    // Newest first.
    let events = ward.json_lines(&["events", "--json", "--patient", "E1001"]);
    assert_eq!(events.len(), 3);
    let denied = &events[0];
    assert_eq!(denied["time"], "2026-11-03T05:45:00.000Z");
    assert_eq!(denied["actor"]["user"]["name"], "kbell");
    assert_eq!(denied["status"], "failure");
    assert_eq!(denied["unmapped"]["Reason"], "Break, the glass refused");
    let viewed = &events[2];
    assert_eq!(viewed["time"], "2026-11-02T14:15:00.000Z");
    assert_eq!(viewed["class_uid"], 6003);
    assert_eq!(viewed["activity_id"], 2);
    assert_eq!(viewed["activity_name"], "Chart Viewed");
    assert_eq!(viewed["actor"]["user"]["full_name"], "Doe, Jane");
    assert_eq!(viewed["patient"]["name"], "Smith, Robert \"Bob\"");
    assert_eq!(viewed["src_endpoint"]["hostname"], "WS-ICU-04");
    assert_eq!(viewed["src_endpoint"]["ip"], "10.20.30.40");
    assert_eq!(viewed["metadata"]["product"], "csv");
    assert_eq!(events[1]["activity_id"], 3, "Note Signed maps to update");
}

#[test]
fn csv_without_a_mapping_or_with_a_broken_one_is_a_usage_error() {
    let ward = Ward::new();
    let export = ward.file("access.csv", EHR_EXPORT.as_bytes());
    let out = ward.run(&["ingest", "--format", "csv", export.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--mapping"));

    let broken = ward.file(
        "broken.toml",
        EHR_MAPPING.replace("America/Chicago", "Chicago").as_bytes(),
    );
    let out = ward.run(&[
        "ingest",
        "--mapping",
        broken.to_str().unwrap(),
        export.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("broken.toml") && stderr.contains("IANA"),
        "{stderr}"
    );

    // A mapping naming a column the file does not have: the source is refused whole.
    let other = ward.file(
        "other.toml",
        EHR_MAPPING.replace("\"Patient MRN\"", "\"MRN\"").as_bytes(),
    );
    let out = ward.run(&[
        "ingest",
        "--mapping",
        other.to_str().unwrap(),
        export.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 2: the header has no column \"MRN\""),
        "{stderr}"
    );
}
