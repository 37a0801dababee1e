//! The privacy detector measured against the simulated hospital's ground truth: the simulator
//! writes context, EHR audit trail (FHIR AuditEvent, ATNA) and `truth.json` with planted
//! snooping incidents; the context and the decoded audit events go through the detector the way
//! the pipeline feeds it, and its alerts are matched to the incidents.
//!
//! `measures_recall_and_precision_on_a_small_hospital` runs in every `cargo test`. The larger
//! measurement behind the figures in the report (default size, two seeds, a week) is
//! `#[ignore]`d: `cargo test --release -p ward-detect --test privacy -- --ignored --nocapture`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use ward_detect::privacy::explain::Template;
use ward_detect::privacy::{AccessOutcome, PrivacyDetector, PrivacyOptions, PrivacyStats};
use ward_detect::{Detector, Finding};
use ward_model::{Alert, ContextResource, Event, Timestamp};
use ward_simulate::SimConfig;

/// The incident kinds of `truth.json` that live in the EHR audit trail.
const PRIVACY_KINDS: [&str; 13] = [
    "self_access",
    "family_member",
    "co_worker",
    "vip",
    "deceased",
    "neighbour",
    "bulk_sweep",
    "terminated_access",
    "mass_export",
    "break_glass_no_follow_up",
    "after_hours",
    "volume_above_baseline",
    "outside_department",
];

struct Incident {
    kind: String,
    user: String,
    patients: Vec<String>,
    start: i64,
    end: i64,
}

fn lines(path: &Path) -> Vec<Vec<u8>> {
    std::fs::read(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// Every context file the simulator writes that Ward reads: FHIR resources, the HR roster,
/// and the ADT feed (which keys patients by MRN).
fn context(dir: &Path) -> Vec<ContextResource> {
    let mut out = Vec::new();
    let mut parsed = Vec::new();
    for name in [
        "organization.ndjson",
        "practitioners.ndjson",
        "practitioner-roles.ndjson",
        "patients.ndjson",
        "encounters.ndjson",
        "care-teams.ndjson",
        "appointments.ndjson",
        "service-requests.ndjson",
    ] {
        for line in lines(&dir.join("context").join(name)) {
            ward_decode::context::parse_context(&line, &mut parsed);
        }
    }
    for line in lines(&dir.join("telemetry/adt.hl7")) {
        ward_decode::hl7::adt_context(&line, &mut parsed);
    }
    let roster = std::fs::read(dir.join("context/hr-roster.csv")).unwrap();
    parsed.extend(ward_decode::roster::parse_roster(&roster));
    for r in parsed {
        out.push(r.unwrap_or_else(|e| panic!("context does not parse: {e}")));
    }
    out
}

/// The EHR audit events (FHIR AuditEvent and ATNA), decoded and in time order.
fn events(dir: &Path) -> Vec<Event> {
    let mut out = Vec::new();
    let mut decoded = Vec::new();
    for (decoder, file) in [
        ("fhir", "telemetry/ehr-audit.ndjson"),
        ("atna", "telemetry/atna.log"),
    ] {
        let decoder = ward_decode::by_name(decoder).unwrap();
        for line in lines(&dir.join(file)) {
            decoder.decode(&line, &mut decoded);
        }
    }
    for d in decoded {
        let mut event = d.unwrap_or_else(|e| panic!("audit event does not decode: {e}"));
        event.raw = Vec::new();
        out.push(event);
    }
    out.sort_by_key(|e| e.time);
    out
}

fn truth(dir: &Path) -> Vec<Incident> {
    let text = std::fs::read_to_string(dir.join("truth.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let time = |v: &serde_json::Value| Timestamp::parse(v.as_str().unwrap()).unwrap().millis();
    doc["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| PRIVACY_KINDS.contains(&i["kind"].as_str().unwrap_or("")))
        .map(|i| Incident {
            kind: i["kind"].as_str().unwrap().to_string(),
            user: i["entities"]["user"].as_str().unwrap().to_string(),
            patients: i["entities"]["patient"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().to_string())
                .collect(),
            start: time(&i["start"]),
            end: time(&i["end"]),
        })
        .collect()
}

/// One alert as the engine would store it: findings with the same id merged.
struct Merged {
    alert: Alert,
    events: usize,
}

struct Run {
    incidents: Vec<Incident>,
    alerts: Vec<Merged>,
    accesses: usize,
    /// Accesses that belong to no incident (normal work), and how many of them were explained.
    normal: usize,
    normal_explained: usize,
    stats: PrivacyStats,
    learned: Vec<(String, String)>,
    /// Events through the detector, and the time they took (decoding excluded; the truth
    /// look-ups of the measurement included).
    events: usize,
    elapsed: std::time::Duration,
}

fn run(config: &SimConfig) -> Run {
    let dir = tempfile::tempdir().unwrap();
    ward_simulate::simulate(config, dir.path()).unwrap();
    let mut detector = PrivacyDetector::new(PrivacyOptions::default());
    assert_eq!(detector.name(), "privacy");
    detector.context(&context(dir.path()));
    let events = events(dir.path());
    let accesses = events.iter().filter(|e| e.patient.id.is_some()).count();
    let incidents = truth(dir.path());
    let mut findings: Vec<Finding> = Vec::new();
    let (mut normal, mut normal_explained) = (0, 0);
    let started = std::time::Instant::now();
    for event in &events {
        detector.observe(event, &mut findings);
        let outcome = detector.last_outcome();
        if outcome != AccessOutcome::NotAssessed && !incidents.iter().any(|i| part_of(event, i)) {
            normal += 1;
            normal_explained += matches!(outcome, AccessOutcome::Explained(_)) as usize;
        }
    }
    let last = events.last().map_or(0, |e| e.time.millis());
    detector.advance(Timestamp(last + 2 * 86_400_000), &mut findings);
    let elapsed = started.elapsed();
    let mut merged: BTreeMap<String, Merged> = BTreeMap::new();
    for f in findings {
        match merged.get_mut(&f.alert.id) {
            Some(m) => {
                m.alert.first_seen = m.alert.first_seen.min(f.alert.first_seen);
                m.alert.last_seen = m.alert.last_seen.max(f.alert.last_seen);
                m.alert.count += f.alert.count;
                m.events += f.events.len();
            }
            None => {
                let events = f.events.len();
                merged.insert(
                    f.alert.id.clone(),
                    Merged {
                        alert: f.alert,
                        events,
                    },
                );
            }
        }
    }
    Run {
        incidents,
        alerts: merged.into_values().collect(),
        accesses,
        normal,
        normal_explained,
        stats: detector.stats(),
        learned: detector.learned_templates(),
        events: events.len(),
        elapsed,
    }
}

/// Whether an audit event is one of an incident's actions.
fn part_of(event: &Event, incident: &Incident) -> bool {
    let t = event.time.millis();
    event.actor.user.name.as_deref() == Some(incident.user.as_str())
        && incident.start <= t
        && t <= incident.end
}

/// An alert is about an incident when it names the incident's user, names one of its patients
/// (or no patient: user-level alerts), and the time it covers (from its first to its last
/// access) meets the incident. For most alerts that is one moment, which must fall during the
/// incident; a user-level alert over a window (several first looks outside the department
/// within a week) may begin with an earlier look and still be about the incident it ends in.
fn matches(alert: &Alert, incident: &Incident) -> bool {
    alert.entities.user.as_deref() == Some(incident.user.as_str())
        && alert
            .entities
            .patient
            .as_ref()
            .is_none_or(|p| incident.patients.contains(p))
        && incident.start - 60_000 <= alert.last_seen.millis()
        && alert.first_seen.millis() <= incident.end + 3 * 3_600_000
}

struct Scores {
    /// kind → (planted, detected)
    recall: BTreeMap<String, (usize, usize)>,
    true_alerts: usize,
    false_alerts: Vec<String>,
}

fn score(run: &Run) -> Scores {
    let mut recall: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for incident in &run.incidents {
        let entry = recall.entry(incident.kind.clone()).or_default();
        entry.0 += 1;
        if run.alerts.iter().any(|a| matches(&a.alert, incident)) {
            entry.1 += 1;
        }
    }
    let mut true_alerts = 0;
    let mut false_alerts = Vec::new();
    for a in &run.alerts {
        if run.incidents.iter().any(|i| matches(&a.alert, i)) {
            true_alerts += 1;
        } else {
            false_alerts.push(format!(
                "{} {} {:?} {:?}: {}",
                a.alert.rule_id,
                a.alert.first_seen,
                a.alert.entities.user,
                a.alert.entities.patient,
                a.alert.description.as_deref().unwrap_or("")
            ));
        }
    }
    Scores {
        recall,
        true_alerts,
        false_alerts,
    }
}

fn report(label: &str, run: &Run, scores: &Scores) {
    println!("\n== {label}: {} accesses to patient records", run.accesses);
    println!(
        "{:<26} {:>7} {:>8} {:>7}",
        "kind", "planted", "detected", "recall"
    );
    for (kind, (planted, detected)) in &scores.recall {
        println!(
            "{kind:<26} {planted:>7} {detected:>8} {:>7.2}",
            *detected as f64 / (*planted).max(1) as f64
        );
    }
    let (planted, detected) = scores
        .recall
        .values()
        .fold((0, 0), |(p, d), (pp, dd)| (p + pp, d + dd));
    let alerts = run.alerts.len();
    println!(
        "{:<26} {planted:>7} {detected:>8} {:>7.2}",
        "all",
        detected as f64 / planted.max(1) as f64
    );
    println!(
        "alerts {alerts}, true {}, false {}, precision {:.3}; {:.2} alerts per 1,000 accesses",
        scores.true_alerts,
        scores.false_alerts.len(),
        scores.true_alerts as f64 / alerts.max(1) as f64,
        alerts as f64 * 1000.0 / run.accesses.max(1) as f64
    );
    let mut by_rule: BTreeMap<&str, usize> = BTreeMap::new();
    for a in &run.alerts {
        *by_rule.entry(a.alert.rule_id.as_str()).or_default() += 1;
    }
    println!("alerts by rule: {by_rule:?}");
    let mut false_by_rule: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &scores.false_alerts {
        *false_by_rule
            .entry(f.split(' ').next().unwrap_or(""))
            .or_default() += 1;
    }
    println!("false alerts by rule: {false_by_rule:?}");
    println!(
        "explained {:.4} of {} assessed accesses ({} unexplained, {} by unknown users)",
        run.stats.explained_share(),
        run.stats.accesses,
        run.stats.unexplained,
        run.stats.unknown_user
    );
    println!(
        "normal accesses explained: {} of {} ({:.4})",
        run.normal_explained,
        run.normal,
        run.normal_explained as f64 / run.normal.max(1) as f64
    );
    for (template, n) in run.stats.by_template() {
        println!("  {:<18} {n}", template.name());
    }
    println!("learned templates: {:?}", run.learned);
    println!(
        "detector: {} events in {:.2} s ({:.0} events/s, this build's profile)",
        run.events,
        run.elapsed.as_secs_f64(),
        run.events as f64 / run.elapsed.as_secs_f64().max(1e-9)
    );
    for f in scores.false_alerts.iter().take(10) {
        println!("false: {f}");
    }
    for i in &run.incidents {
        if !run.alerts.iter().any(|a| matches(&a.alert, i)) {
            println!(
                "missed: {} by {} from {} to {}, patients {:?}",
                i.kind,
                i.user,
                Timestamp(i.start),
                Timestamp(i.end),
                i.patients
            );
        }
    }
}

/// The bars for recall and the share of normal work explained, and a precision to
/// reach: the bar, 0.9, on the default-size runs it is stated for; a lower floor on
/// the small hospital (too few colleagues per department to learn consult patterns from) and
/// on the week (more innocent unexplained looks, docs/privacy.md), catching a regression. The
/// simulator's normal work includes work no context explains (informal consults, covering
/// shifts, looks at former patients, innocent one-off looks at other departments' patients,
/// docs/simulate.md), so precision is measured against honest noise.
fn check(run: &Run, scores: &Scores, precision_floor: f64) {
    assert!(
        run.incidents.len() >= 8,
        "the simulation planted only {} privacy incidents",
        run.incidents.len()
    );
    for (kind, (planted, detected)) in &scores.recall {
        assert_eq!(
            detected, planted,
            "{kind}: {detected} of {planted} detected"
        );
    }
    let precision = scores.true_alerts as f64 / run.alerts.len().max(1) as f64;
    assert!(
        precision >= precision_floor,
        "precision {precision:.3} below {precision_floor}; false alerts: {:#?}",
        scores.false_alerts
    );
    let share = run.normal_explained as f64 / run.normal.max(1) as f64;
    assert!(
        share >= 0.95,
        "only {share:.4} of normal accesses explained"
    );
    assert!(
        run.stats
            .by_template()
            .any(|(t, n)| t == Template::CareTeam && n > 0),
        "no access explained by the care team"
    );
}

#[test]
fn measures_recall_and_precision_on_a_small_hospital() {
    let config = SimConfig {
        seed: 7,
        days: 2,
        staff: 90,
        patients: 1_500,
        ..SimConfig::default()
    };
    let run = run(&config);
    let scores = score(&run);
    report("seed 7, 90 staff, 1,500 patients, 2 days", &run, &scores);
    check(&run, &scores, 0.8);

    // Every alert says why in plain words, names its user, and cites HIPAA.
    for a in &run.alerts {
        let alert = &a.alert;
        assert!(alert.rule_id.starts_with("privacy."), "{}", alert.rule_id);
        assert!(
            alert.entities.user.is_some(),
            "{} names no user",
            alert.rule_id
        );
        assert!(
            alert.hipaa.iter().any(|h| h == "164.312(b)"),
            "{:?}",
            alert.hipaa
        );
        assert!(a.events > 0);
        let text = alert.description.as_deref().unwrap_or("");
        assert!(text.len() > 60, "{}: {text}", alert.rule_id);
    }
    // Per-patient snooping alerts list the explanations tried and why each failed.
    let snooping = run
        .alerts
        .iter()
        .find(|a| a.alert.rule_id == "privacy.co_worker" || a.alert.rule_id == "privacy.neighbour")
        .expect("a co-worker or neighbour alert");
    let text = snooping.alert.description.as_deref().unwrap();
    for tried in ["care team:", "department:", "break-the-glass:"] {
        assert!(text.contains(tried), "{tried} missing from: {text}");
    }
    assert!(
        snooping
            .alert
            .entities
            .patient
            .as_deref()
            .is_some_and(|p| p.starts_with("pt"))
    );
    // Sweeps and exports are one alert each, not one per patient.
    for rule in ["privacy.bulk_sweep", "privacy.mass_export"] {
        let n = run
            .alerts
            .iter()
            .filter(|a| a.alert.rule_id == rule)
            .count();
        assert!(n <= 2, "{rule}: {n} alerts");
    }
}

#[test]
fn without_the_roster_or_care_teams_the_detector_says_so_in_its_figures() {
    // Care relationships are what explains normal work: with encounters and care teams
    // withheld, the share explained collapses; the measurement above is not vacuous.
    let config = SimConfig {
        seed: 3,
        days: 1,
        staff: 60,
        patients: 800,
        ..SimConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    ward_simulate::simulate(&config, dir.path()).unwrap();
    let resources: Vec<ContextResource> = context(dir.path())
        .into_iter()
        .filter(|r| {
            !matches!(
                r.kind,
                ward_model::ContextKind::Encounter | ward_model::ContextKind::CareTeam
            )
        })
        .collect();
    let mut detector = PrivacyDetector::new(PrivacyOptions {
        learn: false,
        ..PrivacyOptions::default()
    });
    detector.context(&resources);
    let mut out = Vec::new();
    for event in events(dir.path()) {
        detector.observe(&event, &mut out);
    }
    let stats = detector.stats();
    assert!(stats.accesses > 1_000, "{stats:?}");
    assert!(stats.explained_share() < 0.2, "{stats:?}");
    assert!(
        stats
            .by_template()
            .all(|(t, n)| t != Template::Learned || n == 0),
        "{stats:?}"
    );
    let by_rule: HashMap<&str, usize> = out.iter().fold(HashMap::new(), |mut m, f| {
        *m.entry(f.alert.rule_id.as_str()).or_default() += 1;
        m
    });
    assert!(by_rule.contains_key("privacy.bulk_sweep"), "{by_rule:?}");
}

/// The figures of the report: default size (300 staff, 5,000 patients, 2 days) on seed 1 (used
/// while developing) and seeds 2 and 11 (not), and a week on seed 3. Slow in debug builds.
#[test]
#[ignore]
fn measures_default_size_on_four_seeds_and_a_week() {
    let mut runs = Vec::new();
    for (label, config, floor) in [
        (
            "seed 1, default size",
            SimConfig {
                seed: 1,
                ..SimConfig::default()
            },
            0.9,
        ),
        (
            "seed 2, default size",
            SimConfig {
                seed: 2,
                ..SimConfig::default()
            },
            0.9,
        ),
        (
            "seed 11, default size (not used while developing until 2026-11-29)",
            SimConfig {
                seed: 11,
                ..SimConfig::default()
            },
            0.9,
        ),
        (
            "seed 23, default size (first run after the last change, 2026-11-29)",
            SimConfig {
                seed: 23,
                ..SimConfig::default()
            },
            0.9,
        ),
        (
            "seed 3, default size, 7 days",
            SimConfig {
                seed: 3,
                days: 7,
                ..SimConfig::default()
            },
            0.8,
        ),
    ] {
        let run = run(&config);
        let scores = score(&run);
        report(label, &run, &scores);
        runs.push((run, scores, floor));
    }
    for (run, scores, floor) in &runs {
        check(run, scores, *floor);
    }
}
