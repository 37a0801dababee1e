//! `ward incidents` end to end: a brute-force authlog ingested through standard input raises
//! an alert, which is opened as an incident from the command line, listed, shown, given
//! deadlines and evidence, verified (and, once the custody chain is tampered with, refused
//! with exit 1), and written out as a report.

use serde_json::Value;
use sha2::Digest;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

struct Ward {
    dir: tempfile::TempDir,
}

impl Ward {
    fn new() -> Self {
        Ward {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ward"));
        cmd.arg("--data-dir")
            .arg(self.data_dir())
            .args(args)
            .env_remove("WARD_CONFIG")
            .env_remove("WARD_DATA_DIR")
            .env_remove("WARD_KEK");
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
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

    fn ingest_stdin(&self, format: &str, input: &str) {
        let mut child = self
            .command(&["ingest", "--format", format, "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Twelve failed SSH logins for one account from one address, then a success, two hours ago
/// (so the notification clock starts about today whatever day the test runs).
fn brute_force_log() -> String {
    let start = chrono::Utc::now() - chrono::Duration::hours(2);
    let mut lines = String::new();
    for i in 0..12 {
        let at = start + chrono::Duration::seconds(i);
        lines.push_str(&format!(
            "{} bastion sshd[4{i:03}]: Failed password for jdoe from 203.0.113.77 port 5{i:04} ssh2\n",
            at.format("%b %e %H:%M:%S")
        ));
    }
    let at = start + chrono::Duration::seconds(60);
    lines.push_str(&format!(
        "{} bastion sshd[4999]: Accepted password for jdoe from 203.0.113.77 port 51000 ssh2\n",
        at.format("%b %e %H:%M:%S")
    ));
    lines
}

#[test]
fn an_alert_is_opened_as_an_incident_verified_and_reported_from_the_command_line() {
    let ward = Ward::new();
    ward.ingest_stdin("authlog", &brute_force_log());
    let alerts = ward.json_lines(&["alerts", "--json"]);
    let alert = alerts
        .iter()
        .find(|a| {
            a["rule_id"]
                .as_str()
                .is_some_and(|r| r.contains("brute_force"))
        })
        .unwrap_or_else(|| panic!("a brute-force alert among {alerts:?}"));
    let alert_id = alert["id"].as_str().unwrap();

    assert_eq!(ward.ok(&["incidents", "list"]).trim(), "no incidents");
    let refused = ward.run(&["incidents", "open", "--alert", "no-such-alert"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("there is no alert no-such-alert"));

    // Opened from the alert: the plan routes threat.credential.* to a compromised account.
    let opened = ward.json_lines(&["incidents", "open", "--alert", alert_id, "--json"]);
    assert_eq!(opened[0]["incident_type"], "compromised_account");
    assert!(opened[0]["tasks"].as_u64().unwrap() > 3);
    let id = opened[0]["id"].as_i64().unwrap().to_string();

    let list = ward.json_lines(&["incidents", "list", "--json"]);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["status"], "open");
    assert_eq!(list[0]["next_deadline"], Value::Null);
    let shown = ward.json_lines(&["incidents", "show", &id, "--json"]);
    assert_eq!(shown[0]["alerts"][0], alert_id);
    assert!(shown[0]["tasks"].as_array().unwrap().len() > 3);
    assert!(
        shown[0]["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["kind"] == "user" && l["value"] == "jdoe")
    );
    let text = ward.ok(&["incidents", "show", &id]);
    assert!(text.contains("the presumption of breach stands"), "{text}");
    let missing = ward.run(&["incidents", "show", "99"]);
    assert_eq!(missing.status.code(), Some(2));

    // Deadlines: with no assessment the presumption applies and the clock runs.
    assert!(
        ward.ok(&["incidents", "deadlines"])
            .contains("no notice is overdue")
    );
    let computed = ward.ok(&["incidents", "compute-deadlines", &id]);
    assert!(computed.contains("45 CFR 164.404(b)"), "{computed}");
    let board = ward.json_lines(&["incidents", "deadlines", "--json"]);
    let individuals = board
        .iter()
        .find(|d| d["kind"] == "individuals")
        .expect("the individuals' notice is on the board");
    assert_eq!(individuals["incident"].as_i64().unwrap().to_string(), id);
    assert_eq!(individuals["citation"], "45 CFR 164.404(b)");
    assert!(
        matches!(
            individuals["status"].as_str(),
            Some("upcoming" | "due_soon")
        ),
        "{individuals}"
    );
    let list = ward.json_lines(&["incidents", "list", "--json"]);
    assert_eq!(list[0]["next_deadline"]["kind"], "individuals");

    // Evidence in, hashed, verified.
    let file = ward.dir.path().join("auth.log");
    std::fs::write(&file, brute_force_log()).unwrap();
    let digest: String = sha2::Sha256::digest(std::fs::read(&file).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let added = ward.ok(&["incidents", "add-evidence", &id, file.to_str().unwrap()]);
    assert!(added.contains(&digest), "{added}");
    let verified = ward.ok(&["incidents", "verify", &id]);
    assert!(verified.contains("evidence intact (1 files"), "{verified}");

    // The report.
    let report = ward.dir.path().join("incident.html");
    ward.ok(&[
        "incidents",
        "report",
        &id,
        "--out",
        report.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains(&format!("Incident {id}")));
    assert!(html.contains(&digest));

    // Someone with the database file rewrites a custody entry: verification fails, exit 1.
    let db = rusqlite::Connection::open(ward.data_dir().join("ward.db")).unwrap();
    db.execute_batch(
        "DROP TRIGGER evidence_access_append_only_update;
         UPDATE evidence_access SET actor = 'mallory' WHERE seq = 1;",
    )
    .unwrap();
    drop(db);
    let failed = ward.run(&["incidents", "verify", &id]);
    assert_eq!(failed.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&failed.stdout)
            .contains("FAILED: custody entry 1 does not match its hash chain")
    );
}
