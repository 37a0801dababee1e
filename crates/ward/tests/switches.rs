//! Switching a rule off from the command line: a brute-force-then-success raises its alert,
//! the rule is switched off with a reason, the same attack on another account raises nothing
//! of that rule, and once switched back on the next one does.

use serde_json::Value;

const RULE: &str = "threat.credential.brute_force_success";

mod common;
use common::Ward;

fn alerts_of_rule(ward: &Ward) -> usize {
    ward.json_lines(&["alerts", "--json"])
        .iter()
        .filter(|a| a["rule_id"] == RULE)
        .count()
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
    let ward = Ward::new();
    let ingest = ["ingest", "--format", "authlog", "-"];
    ward.ok_with_input(&ingest, brute_force("jdoe", "203.0.113.77", 6).as_bytes());
    assert_eq!(alerts_of_rule(&ward), 1);

    // A reason is required.
    let out = ward.run(&["rules", "disable", RULE, "--reason", " "]);
    assert_eq!(out.status.code(), Some(2));
    ward.ok(&[
        "rules",
        "disable",
        RULE,
        "--reason",
        "pen test this week",
        "--by",
        "it-lead",
    ]);
    let off: Vec<Value> = ward
        .ok(&["rules", "disabled", "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(off.len(), 1);
    assert_eq!(off[0]["rule"], RULE);
    assert_eq!(off[0]["by"], "it-lead");
    assert_eq!(off[0]["reason"], "pen test this week");

    ward.ok_with_input(&ingest, brute_force("asmith", "198.51.100.9", 4).as_bytes());
    assert_eq!(alerts_of_rule(&ward), 1, "switched off: no new alert");

    ward.ok(&["rules", "enable", RULE]);
    assert!(ward.ok(&["rules", "disabled"]).is_empty());
    let out = ward.run(&["rules", "enable", RULE]);
    assert_eq!(out.status.code(), Some(2), "it is not off any more");
    ward.ok_with_input(&ingest, brute_force("bwong", "192.0.2.200", 2).as_bytes());
    assert_eq!(alerts_of_rule(&ward), 2, "switched back on");
}
