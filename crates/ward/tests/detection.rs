//! Detection end to end: the simulated hospital's telemetry ingested by the `ward` binary
//! raises alerts for the incidents planted in it (compared with `truth.json`), ingesting the
//! same files again changes no count, and a user's own Sigma folder runs beside the shipped
//! pack (`ingest --rules`, `rules list`, `hunt` with a correlation).

use serde_json::Value;
use std::path::{Path, PathBuf};

mod common;
use common::Ward;

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
    let sim = ward.path("sim");
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
    let rules = ward.path("rules");
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

    let log = ward.path("auth.log");
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
    let rules = ward.path("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(rules.join("root.yml"), ROOT_FAILURES).unwrap();
    let rules_dir = rules.to_str().unwrap();
    let line = |i: u32| {
        format!(
            "2026-11-02T10:00:0{i}.000000+00:00 gw sshd[1]: Failed password for root from 203.0.113.9 port 4{i} ssh2\n"
        )
    };
    // Two failures in the first file, the third (within the minute) in the second.
    let first = ward.path("auth-1.log");
    let second = ward.path("auth-2.log");
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
    let db = rusqlite::Connection::open(forgetful.path("data/ward.db")).unwrap();
    let removed = db.execute("DELETE FROM detector_state", []).unwrap();
    assert!(
        removed >= 1,
        "the first run saved the Sigma detector's state"
    );
    drop(db);
    forgetful.ok(&["ingest", "--rules", rules_dir, second.to_str().unwrap()]);
    assert_eq!(correlated(&forgetful), 0);
}

/// Mail from a domain first seen that day links to its own site, and the recipient's
/// workstation opens the link minutes later: three `ward ingest` runs (a day's mail before, the
/// message as an .eml, Zeek's http.log in its real layout) and one alert naming sender,
/// recipient and workstation. The mail detector's memory of domains and links is what carries
/// the message over to the run that sees the click.
#[test]
fn a_link_from_a_newly_seen_domain_opened_from_a_workstation_raises_an_alert() {
    let ward = Ward::new();
    let history = ward.path("history.mbox");
    std::fs::write(
        &history,
        "From orders@medirx-supply.com Sun Nov  8 08:00:00 2026\n\
         From: orders@medirx-supply.com\nTo: rx@wgh.example.org\n\
         Subject: Purchase order PO-51234\nDate: Sun, 08 Nov 2026 08:00:00 +0000\n\
         Message-ID: <po51234@medirx-supply.com>\n\n\
         Confirming the order: http://orders.medirx-supply.com/po/PO-51234\n",
    )
    .unwrap();
    let eml = ward.path("lure.eml");
    std::fs::write(
        &eml,
        "Received: from mail.fileshare-notice.com (mail.fileshare-notice.com [185.159.82.10])\n\
         \tby mailgw01.wgh.example.org (Postfix) with ESMTPS id 4XkP2m0ZqTz9sWb\n\
         \tfor <karen.pena@wgh.example.org>; Tue, 10 Nov 2026 09:14:03 +0000 (UTC)\n\
         Authentication-Results: mailgw01.wgh.example.org; spf=pass smtp.mailfrom=fileshare-notice.com; dkim=pass header.d=fileshare-notice.com; dmarc=pass header.from=fileshare-notice.com\n\
         From: \"Secure Document Share\" <no-reply@fileshare-notice.com>\n\
         To: \"Karen Pena\" <karen.pena@wgh.example.org>\n\
         Subject: A document was shared with you\n\
         Date: Tue, 10 Nov 2026 09:14:01 +0000\n\
         Message-ID: <5c1e0a77d2b94f10@fileshare-notice.com>\n\
         MIME-Version: 1.0\n\
         Content-Type: text/html; charset=\"us-ascii\"\n\n\
         <html><body><p>A document was shared with you:\n\
         <a href=\"http://view.fileshare-notice.com/d/8f2a9c41\">Open</a></p></body></html>\n",
    )
    .unwrap();
    let http = ward.path("http.log");
    let row = |ts: &str, orig: &str, host: &str, uri: &str| {
        format!(
            "{ts}\tC5rwNQvzZEf5Cjzmgd\t{orig}\t49159\t185.159.82.14\t80\t1\tGET\t{host}\t{uri}\t-\t1.1\tMozilla/5.0 (Windows NT 10.0; Win64; x64)\t-\t0\t5120\t200\tOK\t-\t-\t(empty)\t-\t-\t-\t-\t-\t-\tFB5o2Hcauq1MxZeQb\t-\ttext/html\n"
        )
    };
    std::fs::write(
        &http,
        [
            "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\thttp\n#open\t2026-11-10-09-00-00\n",
            "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\ttrans_depth\tmethod\thost\turi\treferrer\tversion\tuser_agent\torigin\trequest_body_len\tresponse_body_len\tstatus_code\tstatus_msg\tinfo_code\tinfo_msg\ttags\tusername\tpassword\tproxied\torig_fuids\torig_filenames\torig_mime_types\tresp_fuids\tresp_filenames\tresp_mime_types\n",
            "#types\ttime\tstring\taddr\tport\taddr\tport\tcount\tstring\tstring\tstring\tstring\tstring\tstring\tstring\tcount\tcount\tcount\tstring\tcount\tstring\tset[enum]\tstring\tstring\tset[string]\tvector[string]\tvector[string]\tvector[string]\tvector[string]\tvector[string]\tvector[string]\n",
            // The lure's link, opened seven minutes after the message, then its form posted.
            &row("1794302461.250000", "10.10.2.11", "view.fileshare-notice.com", "/d/8f2a9c41"),
            // The partner's portal, linked from its order two days earlier: ordinary.
            &row("1794302500.100000", "10.10.2.20", "orders.medirx-supply.com", "/po/PO-51234"),
            &row("1794302520.500000", "10.10.2.11", "view.fileshare-notice.com", "/d/8f2a9c41/login"),
            "#close\t2026-11-10-10-00-00\n",
        ]
        .concat(),
    )
    .unwrap();
    let clicked = |ward: &Ward| -> Vec<Value> {
        ward.json_lines(&["alerts", "--json"])
            .into_iter()
            .filter(|a| a["rule_id"] == "threat.mail.link_clicked")
            .collect()
    };
    ward.ok(&["ingest", history.to_str().unwrap()]);
    ward.ok(&["ingest", eml.to_str().unwrap()]);
    assert!(clicked(&ward).is_empty(), "a message alone is no click");
    ward.ok(&["ingest", http.to_str().unwrap()]);
    let alerts = clicked(&ward);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = &alerts[0];
    assert_eq!(alert["severity"], "high");
    assert_eq!(alert["entities"]["sender"], "no-reply@fileshare-notice.com");
    assert_eq!(alert["entities"]["recipient"], "karen.pena@wgh.example.org");
    assert_eq!(alert["entities"]["src_ip"], "10.10.2.11");
    assert_eq!(alert["entities"]["dst_ip"], "185.159.82.14");
    let attack: Vec<&str> = alert["attack"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(attack, ["T1566.002", "T1204.001"]);
    assert!(
        alert["description"]
            .as_str()
            .unwrap()
            .starts_with("10.10.2.11 requested view.fileshare-notice.com/d/8f2a9c41 at 2026-11-10 09:21 UTC, 7 min after mail from no-reply@fileshare-notice.com"),
        "{alert:#}"
    );
}

/// `expand` placeholders take their values from `[detect.placeholders]`: without them the rule
/// is refused, naming the placeholder and counted in the summary; with them it loads, and
/// `hunt` filters exactly the configured domain controllers.
#[test]
fn expand_placeholders_take_their_values_from_the_configuration() {
    let ward = Ward::new();
    let dir = ward.root();
    let rule = dir.join("cdc_chase.yml");
    std::fs::write(
        &rule,
        "title: CDC chase to an unknown domain controller\nid: 0c1d2e3f-0000-4000-8000-000000000001\n\
         logsource:\n  product: windows\n  service: security\n\
         detection:\n  selection:\n    EventID: 4886\n    Attributes|contains: 'cdc:'\n\
         \x20 filter_known:\n    Attributes|contains|expand: '%known_cdcs%'\n\
         \x20 condition: selection and not filter_known\nlevel: high\n",
    )
    .unwrap();
    let refused = ward.run(&["rules", "validate", rule.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&refused.stdout);
    assert!(!refused.status.success(), "{said}");
    assert!(said.contains("`%known_cdcs%`"), "{said}");
    assert!(
        said.contains("1  unsupported placeholder without values"),
        "{said}"
    );

    let config = dir.join("ward.toml");
    std::fs::write(
        &config,
        "[detect.placeholders]\nknown_cdcs = [\"dc01.corp.example\", \"10.0.0.*\"]\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let rule = rule.to_str().unwrap();
    let loaded = ward.ok(&["--config", config, "rules", "validate", rule]);
    assert!(loaded.contains("1 loaded"), "{loaded}");

    let events = dir.join("security.jsonl");
    let line = |attributes: &str| {
        serde_json::json!({
            "SourceName": "Microsoft-Windows-CertificationAuthority",
            "Channel": "Security",
            "Hostname": "ca01.corp.example",
            "TimeCreated": "2026-11-29T10:00:00.000Z",
            "EventID": 4886,
            "Attributes": attributes,
        })
        .to_string()
    };
    std::fs::write(
        &events,
        [
            line("cdc:192.0.2.66\nrmd:dc02.corp.example"),
            line("cdc:DC01.corp.example\nrmd:dc02.corp.example"),
            line("cdc:10.0.0.5"),
        ]
        .join("\n")
            + "\n",
    )
    .unwrap();
    let matches = ward.json_lines(&[
        "--config",
        config,
        "hunt",
        "--json",
        rule,
        events.to_str().unwrap(),
    ]);
    assert_eq!(matches.len(), 1, "{matches:?}");
    assert!(
        matches[0].to_string().contains("192.0.2.66"),
        "{:?}",
        matches[0]
    );
}
