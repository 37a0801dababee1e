//! The shipped healthcare pack over the simulated hospital: every rule loads, the planted
//! incidents the pack is meant for raise alerts naming the planted entities, and normal
//! behaviour raises none that is not one of the planted incidents.

use std::path::Path;
use ward_detect::engine::{Engine, Finding};
use ward_detect::sigma::{SigmaDetector, pack};
use ward_model::{Event, Timestamp};

#[test]
fn every_shipped_rule_loads_with_attack_and_hipaa_tags_and_a_description() {
    let collection = pack::shipped().unwrap();
    assert!(collection.len() >= 10, "{}", collection.len());
    for (rule, _) in &collection.rules {
        assert!(rule.rule.id.is_some(), "{} has no id", rule.rule.title);
        assert!(rule.rule.description.is_some(), "{}", rule.rule.title);
        if rule.rule.level.is_some() {
            assert!(
                !rule.rule.attack.is_empty(),
                "{} has no ATT&CK id",
                rule.rule.title
            );
            assert!(
                !rule.rule.hipaa.is_empty(),
                "{} has no HIPAA citation",
                rule.rule.title
            );
            assert!(!rule.rule.falsepositives.is_empty(), "{}", rule.rule.title);
        }
        assert!(
            !matches!(rule.route, ward_detect::sigma::Route::Nothing(_)),
            "{} selects no events: {:?}",
            rule.rule.title,
            rule.route
        );
    }
    for (c, _) in &collection.correlations {
        if c.meta.level.is_some() {
            assert!(!c.meta.attack.is_empty(), "{}", c.meta.title);
            assert!(!c.meta.hipaa.is_empty(), "{}", c.meta.title);
            assert!(c.meta.description.is_some(), "{}", c.meta.title);
        }
    }
    SigmaDetector::new(collection).unwrap();
}

/// Every event of every telemetry file the simulator wrote, file by file, as `ward ingest`
/// would read them (the formats recognised from their first lines).
fn telemetry(dir: &Path) -> Vec<Vec<Event>> {
    let mut files = Vec::new();
    let mut stack = vec![dir.join("telemetry")];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_none_or(|x| x != "eml") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
        .iter()
        .map(|path| {
            let bytes = std::fs::read(path).unwrap();
            let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
            let decoder = ward_decode::detect(&lines[..lines.len().min(16)])
                .unwrap_or_else(|| panic!("{} not recognised", path.display()));
            let mut events = Vec::new();
            let mut out = Vec::new();
            match decoder.start() {
                Some(mut stateful) => {
                    for line in &lines {
                        stateful.decode(line, &mut out);
                    }
                }
                None if matches!(decoder.framing(), ward_decode::Framing::Lines) => {
                    for line in lines.iter().filter(|l| !l.is_empty()) {
                        decoder.decode_in_year(line, 2026, &mut out);
                    }
                }
                // Grouped formats (HL7, mbox) carry nothing the pack reads.
                None => {}
            }
            events.extend(out.into_iter().filter_map(Result::ok));
            events
        })
        .collect()
}

fn simulate(dir: &Path) -> serde_json::Value {
    let config = ward_simulate::SimConfig {
        seed: 7,
        days: 1,
        staff: 60,
        patients: 600,
        ..Default::default()
    };
    ward_simulate::simulate(&config, dir).unwrap();
    serde_json::from_slice(&std::fs::read(dir.join("truth.json")).unwrap()).unwrap()
}

#[test]
fn the_pack_finds_the_planted_incidents_it_covers_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let truth = simulate(dir.path());
    let incidents = truth["incidents"].as_array().unwrap();
    let mut engine = Engine::new(ward_detect::standard().unwrap());
    let mut alerts: std::collections::BTreeMap<String, Finding> = Default::default();
    let mut events = 0;
    for file in telemetry(dir.path()) {
        events += file.len();
        for batch in file.chunks(4096) {
            for finding in engine.observe(batch) {
                alerts.insert(finding.alert.id.clone(), finding);
            }
        }
    }
    assert!(events > 10_000, "{events}");
    // The decoder index of the rule set selects exactly what rule-by-rule evaluation does.
    let set = ward_detect::sigma::RuleSet::new(
        pack::shipped()
            .unwrap()
            .rules
            .into_iter()
            .map(|(r, _)| r)
            .collect(),
    );
    let (mut indexed, mut alone) = (Vec::new(), Vec::new());
    for file in telemetry(dir.path()) {
        for e in &file {
            indexed.extend(set.matches(e).map(|r| (e.id, r.rule.title.clone())));
            alone.extend(
                set.rules()
                    .iter()
                    .filter(|r| r.matches(e))
                    .map(|r| (e.id, r.rule.title.clone())),
            );
        }
    }
    assert!(alone.len() > 100, "{}", alone.len());
    assert_eq!(indexed, alone);
    let alerts: Vec<Finding> = alerts.into_values().collect();
    let planted = |kind: &str| {
        incidents
            .iter()
            .find(|i| i["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} planted"))
    };
    let window = |i: &serde_json::Value| {
        let start = Timestamp::parse(i["start"].as_str().unwrap()).unwrap();
        let end = Timestamp::parse(i["end"].as_str().unwrap()).unwrap();
        (start, end)
    };
    let raised = |kind: &str, title: &str| {
        let incident = planted(kind);
        let user = incident["entities"]["user"].as_str();
        let (start, end) = window(incident);
        alerts
            .iter()
            .find(|f| {
                f.alert.title.contains(title)
                    && f.alert.entities.user.as_deref() == user
                    && f.alert.first_seen <= end
                    && f.alert.last_seen >= start
            })
            .unwrap_or_else(|| panic!("no `{title}` alert for {kind}: {alerts:#?}"))
    };
    let brute = raised(
        "brute_force_success",
        "SSH password guessing against one account",
    );
    let incident = planted("brute_force_success");
    assert_eq!(
        brute.alert.entities.src_ip.as_deref(),
        incident["entities"]["src_ip"].as_str()
    );
    assert_eq!(brute.alert.attack, ["T1110.001"]);
    assert!(
        brute
            .alert
            .hipaa
            .contains(&"164.308(a)(5)(ii)(C)".to_string())
    );
    let glass = raised("break_glass_no_follow_up", "break-the-glass");
    assert_eq!(
        glass.alert.entities.patient.as_deref(),
        planted("break_glass_no_follow_up")["entities"]["patient"][0].as_str()
    );
    let export = raised("mass_export", "Records of many patients exported");
    assert!(export.alert.count >= 50, "{}", export.alert.count);
    let ransomware = planted("ransomware_precursors");
    assert!(
        alerts
            .iter()
            .any(|f| f.alert.title.starts_with("Backups and recovery")
                && f.alert.entities.host.as_deref() == ransomware["entities"]["host"].as_str()),
        "ransomware precursors: {alerts:#?}"
    );

    // Quiet on normal behaviour: every alert names the user or address of a planted incident.
    let planted_entities: Vec<&str> = incidents
        .iter()
        .flat_map(|i| {
            ["user", "src_ip", "host"]
                .into_iter()
                .filter_map(|k| i["entities"][k].as_str())
        })
        .collect();
    for f in &alerts {
        let e = &f.alert.entities;
        assert!(
            [&e.user, &e.src_ip, &e.host]
                .into_iter()
                .flatten()
                .any(|v| planted_entities.contains(&v.as_str())),
            "alert on normal behaviour: {:#?}",
            f.alert
        );
    }
}
