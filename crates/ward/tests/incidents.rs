//! `ward incidents` end to end: a brute-force authlog ingested through standard input raises
//! an alert, which is opened as an incident from the command line, listed, shown, given
//! deadlines and evidence, verified (and, once the custody chain is tampered with, refused
//! with exit 1), and written out as a report. Then: the report as PDF, an edited response
//! plan read from `[respond] plans_dir` (and a broken one refused naming file and line), and
//! `ward serve` raising the deadline alert for a notice due within 14 days.

use serde_json::Value;
use sha2::Digest;
use std::process::{Output, Stdio};

mod common;
use common::Ward;

/// `ward ingest --format FORMAT -` with `input` on standard input.
fn ingest_stdin(ward: &Ward, format: &str, input: &str) {
    ward.ok_with_input(&["ingest", "--format", format, "-"], input.as_bytes());
}

/// Twelve failed SSH logins for one account from one address, then a success, two hours ago
/// (so the notification clock starts about today whatever day the test runs).
fn brute_force_log() -> String {
    brute_force_log_at(chrono::Utc::now() - chrono::Duration::hours(2))
}

fn brute_force_log_at(start: chrono::DateTime<chrono::Utc>) -> String {
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
    ingest_stdin(&ward, "authlog", &brute_force_log());
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
    let file = ward.path("auth.log");
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
    let report = ward.path("incident.html");
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

/// Whether Chromium can print here; under CI it must (`.ci/run` installs it).
fn chromium_present(test: &str) -> bool {
    match ward_respond::pdf::find_chromium(None) {
        Ok(_) => true,
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("{test}: CI must have Chromium: {e}")
        }
        Err(e) => {
            eprintln!("skipping {test}: {e}");
            false
        }
    }
}

/// Ingests the brute force `days_ago` days back and opens an incident from its alert; returns
/// the incident's id.
fn incident_from_brute_force(ward: &Ward, days_ago: i64) -> String {
    ingest_stdin(
        ward,
        "authlog",
        &brute_force_log_at(chrono::Utc::now() - chrono::Duration::days(days_ago)),
    );
    let alerts = ward.json_lines(&["alerts", "--json"]);
    let alert = alerts
        .iter()
        .find(|a| {
            a["rule_id"]
                .as_str()
                .is_some_and(|r| r.contains("brute_force"))
        })
        .unwrap_or_else(|| panic!("a brute-force alert among {alerts:?}"));
    let opened = ward.json_lines(&[
        "incidents",
        "open",
        "--alert",
        alert["id"].as_str().unwrap(),
        "--json",
    ]);
    opened[0]["id"].as_i64().unwrap().to_string()
}

#[test]
fn the_report_is_written_as_pdf_when_the_file_ends_in_pdf() {
    if !chromium_present("the command-line PDF test") {
        return;
    }
    let ward = Ward::new();
    let id = incident_from_brute_force(&ward, 0);
    let out = ward.path("Incident.PDF");
    let said = ward.ok(&["incidents", "report", &id, "--out", out.to_str().unwrap()]);
    assert!(said.contains("written to"), "{said}");
    let pdf = std::fs::read(&out).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(
        pdf.windows(10).any(|w| w == b"/Type/Page") || pdf.windows(11).any(|w| w == b"/Type /Page"),
        "at least one page"
    );

    // A Chromium that is not there is named in a clear error, and no file is written.
    let config = ward.path("ward.toml");
    std::fs::write(&config, "[respond]\nchromium = \"/nonexistent/chromium\"\n").unwrap();
    let missing = ward.path("missing.pdf");
    let out = ward
        .command(&[
            "--config",
            config.to_str().unwrap(),
            "incidents",
            "report",
            &id,
            "--out",
        ])
        .arg(&missing)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Chromium was not found"), "{stderr}");
    assert!(stderr.contains("/nonexistent/chromium"), "{stderr}");
    assert!(!missing.exists());
}

/// Copies the shipped plan into `dir` (plan.toml and playbooks/), applying `edit` to plan.toml.
fn edited_plan(dir: &std::path::Path, edit: impl Fn(String) -> String) {
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../respond/plans");
    std::fs::create_dir_all(dir.join("playbooks")).unwrap();
    let plan = std::fs::read_to_string(shipped.join("plan.toml")).unwrap();
    std::fs::write(dir.join("plan.toml"), edit(plan)).unwrap();
    for entry in std::fs::read_dir(shipped.join("playbooks")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join("playbooks").join(path.file_name().unwrap())).unwrap();
    }
}

#[test]
fn an_edited_plan_from_plans_dir_assigns_the_tasks_and_a_broken_one_is_refused_by_line() {
    let ward = Ward::new();
    let plans = ward.path("plans");
    // The organisation names its IT lead: `person` goes under the role's id line.
    edited_plan(&plans, |text| {
        text.replacen(
            "id = \"it_lead\"\n",
            "id = \"it_lead\"\nperson = \"morgan.it\"\n",
            1,
        )
    });
    let config = ward.path("ward.toml");
    std::fs::write(
        &config,
        format!("[respond]\nplans_dir = \"{}\"\n", plans.display()),
    )
    .unwrap();
    ingest_stdin(&ward, "authlog", &brute_force_log());
    let alert = ward
        .json_lines(&["alerts", "--json"])
        .into_iter()
        .find(|a| {
            a["rule_id"]
                .as_str()
                .is_some_and(|r| r.contains("brute_force"))
        })
        .unwrap();
    let out = ward
        .command(&[
            "--config",
            config.to_str().unwrap(),
            "incidents",
            "open",
            "--alert",
            alert["id"].as_str().unwrap(),
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = serde_json::from_slice::<Value>(&out.stdout).unwrap()["id"]
        .as_i64()
        .unwrap()
        .to_string();
    let shown = ward.json_lines(&["incidents", "show", &id, "--json"]);
    let tasks = shown[0]["tasks"].as_array().unwrap();
    assert!(
        tasks
            .iter()
            .filter(|t| t["role"] == "it_lead")
            .all(|t| t["assignee"] == "morgan.it")
    );
    assert!(tasks.iter().any(|t| t["assignee"] == "morgan.it"));

    // A typo on line 3 of plan.toml: refused at start, naming the file and the line.
    edited_plan(&plans, |text| {
        let mut lines: Vec<&str> = text.lines().collect();
        lines.insert(2, "colour = \"blue\"");
        lines.join("\n") + "\n"
    });
    for args in [&["incidents", "list"][..], &["serve"][..]] {
        let out = ward
            .command(&["--config", config.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "ward {args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("{}, line 3", plans.join("plan.toml").display())),
            "ward {args:?}: {stderr}"
        );
    }
}

#[test]
fn serve_raises_the_deadline_alert_for_a_notice_due_within_fourteen_days() {
    let ward = Ward::new();
    // Discovered 50 days ago: once computed, the individuals' notice is due in 10 days.
    let id = incident_from_brute_force(&ward, 50);
    let config = ward.path("ward.toml");
    std::fs::write(
        &config,
        format!(
            "[listen.http]\nbind = \"127.0.0.1:0\"\ntoken_sha256 = [\"{}\"]\n\n[respond]\ndeadline_check_seconds = 1\n",
            "0".repeat(64)
        ),
    )
    .unwrap();
    let mut child = ward
        .command(&["--config", config.to_str().unwrap(), "serve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        if std::io::BufRead::read_line(&mut stdout, &mut line).unwrap() == 0 {
            let status = child.wait().unwrap();
            panic!("ward serve exited ({status}) before listening");
        }
        if line.starts_with("listening: http on ") {
            std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
            break;
        }
    }
    // Computed only now, after serve's first check found nothing: a later check (every
    // second here, instead of every five minutes) must find it.
    std::thread::sleep(std::time::Duration::from_millis(1_500));
    let computed = ward.ok(&["incidents", "compute-deadlines", &id]);
    assert!(computed.contains("due in 10 days"), "{computed}");
    let wanted = format!("incident-{id}-individuals---due-soon");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut found = None;
    while found.is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(500));
        let out = ward.run(&["alerts", "--json"]);
        if !out.status.success() {
            continue;
        }
        found = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|a| a["id"] == wanted.as_str());
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
    let alert = found.unwrap_or_else(|| panic!("serve raised {wanted} within 60 s"));
    assert_eq!(alert["rule_id"], "ward.incident.deadline_due_soon");
    assert_eq!(alert["severity"], "high");
    assert!(
        alert["title"]
            .as_str()
            .is_some_and(|t| t.contains("due in 10 days")),
        "{alert}"
    );
}

#[test]
fn notices_are_given_the_incident_closed_with_its_review_and_an_exercise_recorded() {
    let ward = Ward::new();
    let id = incident_from_brute_force(&ward, 1);
    ward.ok(&["incidents", "compute-deadlines", &id]);
    let today = chrono::Utc::now().date_naive();
    let today_text = today.to_string();
    let tomorrow = (today + chrono::Duration::days(1)).to_string();
    let stderr = |out: &Output| String::from_utf8_lossy(&out.stderr).into_owned();

    let review: Vec<&str> = vec![
        "--held-on",
        &today_text,
        "--participant",
        "dana.privacy",
        "--participant",
        "sam.analyst",
        "--summary",
        "Password reset the same day; MFA enforced for the account.",
        "--went-well",
        "the alert reached the analyst within the hour",
        "--to-improve",
        "lockout threshold too high",
        "--follow-up",
        "Lower the lockout threshold | it_lead | 2099-01-15",
        "--note",
        "contained and reviewed",
    ];
    let close = |extra: &[&str]| {
        let mut args = vec!["incidents", "close", id.as_str()];
        args.extend(extra);
        ward.run(&args)
    };
    let outstanding = close(&review);
    assert_eq!(outstanding.status.code(), Some(2));
    assert!(
        stderr(&outstanding).contains("cannot close"),
        "{}",
        stderr(&outstanding)
    );

    // Notices: each deadline given; an unknown one and a day in the future refused.
    let notice = |kind: &str, jurisdiction: &str, on: &str| {
        ward.run(&[
            "incidents",
            "notice",
            &id,
            "--kind",
            kind,
            "--jurisdiction",
            jurisdiction,
            "--given-on",
            on,
            "--method",
            "first-class mail",
        ])
    };
    let unknown = notice("media", "MA", &today_text);
    assert_eq!(unknown.status.code(), Some(2), "{}", stderr(&unknown));
    let future = notice("individuals", "", &tomorrow);
    assert_eq!(future.status.code(), Some(2), "{}", stderr(&future));
    let deadlines = ward.json_lines(&["incidents", "show", &id, "--json"])[0]["deadlines"]
        .as_array()
        .unwrap()
        .clone();
    assert!(!deadlines.is_empty());
    for d in &deadlines {
        let given = notice(
            d["kind"].as_str().unwrap(),
            d["jurisdiction"].as_str().unwrap(),
            &today_text,
        );
        assert!(given.status.success(), "{}", stderr(&given));
        assert!(
            String::from_utf8_lossy(&given.stdout)
                .contains(&format!("notice recorded as given on {today_text}"))
        );
    }
    let shown = ward.json_lines(&["incidents", "show", &id, "--json"]);
    assert!(
        shown[0]["deadlines"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["notified_on"] == today_text.as_str())
    );

    // Closing: tasks outstanding, then an incomplete review and a badly written follow-up.
    let outstanding = close(&review);
    assert_eq!(outstanding.status.code(), Some(2));
    assert!(
        stderr(&outstanding).contains("0 notices not yet given"),
        "{}",
        stderr(&outstanding)
    );
    let db = rusqlite::Connection::open(ward.data_dir().join("ward.db")).unwrap();
    db.execute("UPDATE incident_tasks SET status = 'done'", [])
        .unwrap();
    drop(db);
    let mut blank = review.clone();
    blank[7] = " ";
    let incomplete = close(&blank);
    assert_eq!(incomplete.status.code(), Some(2));
    assert!(
        stderr(&incomplete).contains("summary"),
        "{}",
        stderr(&incomplete)
    );
    let mut badly = review.clone();
    badly[13] = "Lower the threshold, it_lead, soon";
    let refused = close(&badly);
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("title | owner | YYYY-MM-DD"));
    assert_eq!(
        ward.json_lines(&["incidents", "show", &id, "--json"])[0]["incident"]["status"],
        "open"
    );
    let closed = close(&review);
    assert!(closed.status.success(), "{}", stderr(&closed));
    assert!(
        String::from_utf8_lossy(&closed.stdout).contains("closed with its review (1 follow-ups)")
    );
    let shown = ward.json_lines(&["incidents", "show", &id, "--json"]);
    assert_eq!(shown[0]["incident"]["status"], "closed");
    assert!(
        shown[0]["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["text"]
                .as_str()
                .unwrap_or_default()
                .contains("contained and reviewed")),
        "{}",
        shown[0]["timeline"]
    );

    // A tabletop exercise: not in the future, with a scenario; then recorded.
    let exercise = |held_on: &str, scenario: &str| {
        ward.run(&[
            "incidents",
            "exercise",
            "--held-on",
            held_on,
            "--scenario",
            scenario,
            "--participants",
            "dana.privacy",
            "--participant",
            "it.lead",
            "--findings",
            "night staff did not know the downtime workflow",
            "--follow-up",
            "Print the downtime workflow | it_lead | 2099-02-01",
        ])
    };
    let planned = exercise(&tomorrow, "Ransomware on the PACS archive");
    assert_eq!(planned.status.code(), Some(2));
    let no_scenario = exercise(&today_text, " ");
    assert_eq!(no_scenario.status.code(), Some(2));
    assert!(
        stderr(&no_scenario).contains("scenario"),
        "{}",
        stderr(&no_scenario)
    );
    let recorded = exercise(&today_text, "Ransomware on the PACS archive");
    assert!(recorded.status.success(), "{}", stderr(&recorded));
    let text = String::from_utf8_lossy(&recorded.stdout);
    assert!(text.contains("recorded against plan version"), "{text}");
    assert!(text.contains("(1 follow-ups)"), "{text}");
}
