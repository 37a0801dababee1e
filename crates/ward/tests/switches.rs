//! Switching a rule off from the command line: a brute-force-then-success raises its alert,
//! the rule is switched off with a reason, the same attack on another account raises nothing
//! of that rule, and once switched back on the next one does.

use serde_json::Value;
use std::io::Write;
use std::process::{Command, Output, Stdio};

const RULE: &str = "threat.credential.brute_force_success";

struct Ward {
    dir: tempfile::TempDir,
}

impl Ward {
    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ward"))
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .args(args)
            .env_remove("WARD_KEK")
            .env_remove("WARD_CONFIG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
        drop(input);
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "ward {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn alerts_of_rule(&self) -> usize {
        self.ok(&["alerts", "--json"], None)
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|a| a["rule_id"] == RULE)
            .count()
    }
}

/// Twelve failed SSH logins then a success, for `user` from `ip`, `hours_ago`.
fn brute_force(user: &str, ip: &str, hours_ago: i64) -> String {
    let start = chrono::Utc::now() - chrono::Duration::hours(hours_ago);
    let mut lines = String::new();
    for i in 0..12 {
        let at = start + chrono::Duration::seconds(i);
        lines.push_str(&format!(
            "{} bastion sshd[4{i:03}]: Failed password for {user} from {ip} port 5{i:04} ssh2\n",
            at.format("%b %e %H:%M:%S")
        ));
    }
    let at = start + chrono::Duration::seconds(60);
    lines.push_str(&format!(
        "{} bastion sshd[4999]: Accepted password for {user} from {ip} port 51000 ssh2\n",
        at.format("%b %e %H:%M:%S")
    ));
    lines
}

#[test]
fn a_rule_switched_off_raises_nothing_until_switched_back_on() {
    let ward = Ward {
        dir: tempfile::tempdir().unwrap(),
    };
    let ingest = ["ingest", "--format", "authlog", "-"];
    ward.ok(&ingest, Some(&brute_force("jdoe", "203.0.113.77", 6)));
    assert_eq!(ward.alerts_of_rule(), 1);

    // A reason is required.
    let out = ward.run(&["rules", "disable", RULE, "--reason", " "], None);
    assert_eq!(out.status.code(), Some(2));
    ward.ok(
        &[
            "rules",
            "disable",
            RULE,
            "--reason",
            "pen test this week",
            "--by",
            "it-lead",
        ],
        None,
    );
    let off: Vec<Value> = ward
        .ok(&["rules", "disabled", "--json"], None)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(off.len(), 1);
    assert_eq!(off[0]["rule"], RULE);
    assert_eq!(off[0]["by"], "it-lead");
    assert_eq!(off[0]["reason"], "pen test this week");

    ward.ok(&ingest, Some(&brute_force("asmith", "198.51.100.9", 4)));
    assert_eq!(ward.alerts_of_rule(), 1, "switched off: no new alert");

    ward.ok(&["rules", "enable", RULE], None);
    assert!(ward.ok(&["rules", "disabled"], None).is_empty());
    let out = ward.run(&["rules", "enable", RULE], None);
    assert_eq!(out.status.code(), Some(2), "it is not off any more");
    ward.ok(&ingest, Some(&brute_force("bwong", "192.0.2.200", 2)));
    assert_eq!(ward.alerts_of_rule(), 2, "switched back on");
}
