//! The threat detectors measured against the simulated hospital: `ward_simulate` writes a
//! small hospital with planted incidents into a temporary directory, Ward's own decoders read
//! its telemetry, the events go through the credential (with the simulated GeoIP and ASN
//! databases), network and mail detectors in time order, and the alerts are compared with
//! `truth.json`.
//!
//! Recall: every planted incident of a kind these detectors cover must be named by an alert of
//! a rule for that kind, with the incident's entities, overlapping its time. Precision: an
//! alert that matches no planted incident of its rule's kinds is a false positive. The table
//! printed (`cargo test -p ward-detect --test threat -- --nocapture`) gives the figures.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use ward_decode::Framing;
use ward_detect::threat::credential::{self, CredentialDetector, CredentialOptions};
use ward_detect::threat::inventory::Inventory;
use ward_detect::threat::mail::{self, MailDetector, MailOptions};
use ward_detect::threat::network::{self, NetworkDetector, NetworkOptions};
use ward_detect::{Detector, Finding};
use ward_model::{Alert, Event, Timestamp};
use ward_simulate::{SimConfig, simulate};

/// The telemetry the threat detectors read, each with its decoder.
const TELEMETRY: &[(&str, &str)] = &[
    ("telemetry/auth.log", "authlog"),
    ("telemetry/windows-security.ndjson", "windows"),
    ("telemetry/entra-signins.ndjson", "entra"),
    ("telemetry/zeek/conn.log", "zeek"),
    ("telemetry/zeek/dns.log", "zeek"),
    ("telemetry/zeek/ssl.log", "zeek"),
    ("telemetry/zeek/http.log", "zeek"),
    ("telemetry/mail.mbox", "email"),
];

/// Which planted kinds each rule's alerts may rightly name. `new_network` has no kind of its
/// own: any planted account takeover explains it.
fn kinds_of(rule: &str) -> &'static [&'static str] {
    const TAKEOVER: &[&str] = &[
        "brute_force_success",
        "terminated_vpn_login",
        "vendor_outside_contract",
        "mfa_fatigue",
        "impossible_travel",
    ];
    const MAIL_ATTACK: &[&str] = &["phishing_lookalike", "bec_bank_change"];
    match rule {
        r if r == credential::PASSWORD_SPRAY.id || r == credential::SPRAY_SUCCESS.id => {
            &["password_spray"]
        }
        r if r == credential::BRUTE_FORCE_SUCCESS.id => &["brute_force_success"],
        r if r == credential::MFA_FATIGUE.id || r == credential::MFA_PUSH_FLOOD.id => {
            &["mfa_fatigue"]
        }
        // The sign-in an MFA-fatigue attacker gets approved comes from abroad, hours after the
        // victim's last sign-in at work: it is impossible travel as much as MFA fatigue.
        r if r == credential::IMPOSSIBLE_TRAVEL.id => &["impossible_travel", "mfa_fatigue"],
        r if r == credential::NEW_NETWORK.id => TAKEOVER,
        r if r == credential::TERMINATED_LOGIN.id => &["terminated_vpn_login"],
        r if r == credential::VENDOR_OUTSIDE_CONTRACT.id => &["vendor_outside_contract"],
        r if r == network::DEVICE_UNSEEN_DESTINATION.id => &["device_unseen_destination"],
        r if r == network::GUEST_TO_PHI.id || r == network::GUEST_TO_INTERNAL.id => {
            &["guest_wifi_to_ehr_database"]
        }
        r if r == network::CLEARTEXT_PHI_EGRESS.id => &["cleartext_phi_egress"],
        r if r == network::WEAK_TLS.id => &["weak_tls_phi_service"],
        r if r == network::UNKNOWN_DEVICE.id => &["unknown_device"],
        r if r == mail::PAYMENT_CHANGE_REQUEST.id => &["bec_bank_change"],
        r if r == mail::PHI_TO_PERSONAL.id => &["phi_to_personal_email"],
        r if r == mail::LINK_CLICKED.id => &["phishing_click"],
        r if r == mail::LOOKALIKE_DOMAIN.id
            || r == mail::AUTHENTICATION_FAILURE.id
            || r == mail::REPLY_TO_MISMATCH.id
            || r == mail::DISPLAY_NAME_IMPERSONATION.id =>
        {
            MAIL_ATTACK
        }
        // Service accounts used interactively: nothing of the kind is planted, so every such
        // alert counts against precision.
        _ => &[],
    }
}

/// Kinds whose recall is measured: every kind some rule claims.
const COVERED: &[&str] = &[
    "password_spray",
    "brute_force_success",
    "terminated_vpn_login",
    "vendor_outside_contract",
    "mfa_fatigue",
    "impossible_travel",
    "device_unseen_destination",
    "guest_wifi_to_ehr_database",
    "cleartext_phi_egress",
    "weak_tls_phi_service",
    "unknown_device",
    "phishing_lookalike",
    "bec_bank_change",
    "phi_to_personal_email",
    "phishing_click",
];

struct Incident {
    kind: String,
    start: Timestamp,
    end: Timestamp,
    entities: BTreeMap<String, String>,
}

fn incidents(dir: &Path) -> Vec<Incident> {
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("truth.json")).unwrap()).unwrap();
    truth["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| Incident {
            kind: i["kind"].as_str().unwrap().to_string(),
            start: Timestamp::parse(i["start"].as_str().unwrap()).unwrap(),
            end: Timestamp::parse(i["end"].as_str().unwrap()).unwrap(),
            entities: i["entities"]
                .as_object()
                .unwrap()
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_lowercase())))
                .collect(),
        })
        .collect()
}

/// Every record of `file` through its decoder, framed as the pipeline frames it. A refused
/// record fails the test: the detectors must see all of the telemetry.
fn decode(dir: &Path, file: &str, decoder_name: &str, events: &mut Vec<Event>) {
    let decoder = ward_decode::by_name(decoder_name).unwrap();
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    let mut records: Vec<String> = Vec::new();
    match decoder.framing() {
        Framing::Grouped(starts) => {
            let mut current = String::new();
            for line in text.lines() {
                if starts(line.as_bytes()) && !current.is_empty() {
                    records.push(std::mem::take(&mut current));
                }
                if !current.is_empty() {
                    current.push('\n');
                }
                current.push_str(line);
            }
            if !current.is_empty() {
                records.push(current);
            }
        }
        _ => records.extend(text.lines().map(str::to_string)),
    }
    let mut source = decoder.start();
    let mut out = Vec::new();
    for record in records.iter().filter(|r| !r.trim().is_empty()) {
        out.clear();
        match source.as_mut() {
            Some(s) => s.decode(record.as_bytes(), &mut out),
            None => decoder.decode(record.as_bytes(), &mut out),
        }
        for decoded in out.drain(..) {
            match decoded {
                Ok(event) => events.push(event),
                Err(e) => panic!("{file}: a record was refused: {e}"),
            }
        }
    }
}

fn inventory(dir: &Path) -> Inventory {
    let read = |name: &str| std::fs::read_to_string(dir.join("context").join(name)).unwrap();
    Inventory::new()
        .with_zones(Inventory::parse_zones(&read("zones.toml")).unwrap())
        .with_assets(Inventory::parse_assets(&read("assets.csv")).unwrap())
        .with_vendors(Inventory::parse_vendors(&read("vendors.csv")).unwrap())
        .with_partners(Inventory::parse_partners(&read("partners.csv")).unwrap())
        .with_staff(Inventory::parse_roster(&read("hr-roster.csv")).unwrap())
}

/// Findings folded into alerts the way the engine folds them.
fn fold(findings: Vec<Finding>) -> Vec<Alert> {
    let mut alerts: HashMap<String, Alert> = HashMap::new();
    for f in findings {
        alerts
            .entry(f.alert.id.clone())
            .and_modify(|a| {
                a.first_seen = a.first_seen.min(f.alert.first_seen);
                a.last_seen = a.last_seen.max(f.alert.last_seen);
                a.count += f.alert.count;
            })
            .or_insert(f.alert);
    }
    let mut list: Vec<Alert> = alerts.into_values().collect();
    list.sort_by(|a, b| (a.first_seen, &a.rule_id).cmp(&(b.first_seen, &b.rule_id)));
    list
}

fn alert_entities(alert: &Alert) -> BTreeMap<&'static str, String> {
    let e = &alert.entities;
    [
        ("user", &e.user),
        ("src_ip", &e.src_ip),
        ("dst_ip", &e.dst_ip),
        ("host", &e.host),
        ("device", &e.device),
        ("sender", &e.sender),
        ("recipient", &e.recipient),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k, v.as_ref()?.to_lowercase())))
    .collect()
}

/// An alert names an incident when it overlaps the incident's time (give or take the time a
/// detector needs to conclude) and every entity both name agrees, at least one of them.
fn names(alert: &Alert, incident: &Incident) -> bool {
    let slack = 2 * 3_600_000;
    let overlaps = alert.first_seen.millis() <= incident.end.millis() + slack
        && alert.last_seen.millis() >= incident.start.millis() - 10 * 60_000;
    if !overlaps {
        return false;
    }
    let mut agreed = 0;
    for (key, value) in alert_entities(alert) {
        if key == "host" {
            // Truth names the gateway by short name, alerts by what the log says.
            continue;
        }
        if let Some(expected) = incident.entities.get(key) {
            if *expected != value {
                return false;
            }
            agreed += 1;
        }
    }
    agreed > 0
}

struct Measured {
    recall: BTreeMap<String, (usize, usize)>,
    precision: BTreeMap<String, (usize, usize)>,
    alerts: Vec<Alert>,
}

fn measure(config: &SimConfig) -> Measured {
    let dir = tempfile::tempdir().unwrap();
    simulate(config, dir.path()).unwrap();
    let mut events = Vec::new();
    for (file, decoder) in TELEMETRY {
        decode(dir.path(), file, decoder, &mut events);
    }
    events.sort_by_key(|e| e.time);
    let inventory = Arc::new(inventory(dir.path()));
    // The simulator's GeoIP and ASN databases, as the demo gives them: the VPN's sshd logins
    // are placed too, and must raise nothing that no incident explains.
    let read = |name: &str| std::fs::read(dir.path().join("context").join(name)).unwrap();
    let geoip = ward_detect::threat::geoip::GeoIp::city(read("geoip.mmdb"))
        .unwrap()
        .with_asn(read("geoip-asn.mmdb"))
        .unwrap();
    let mut detectors: Vec<Box<dyn Detector>> = vec![
        Box::new(CredentialDetector::new(
            Arc::clone(&inventory),
            CredentialOptions {
                geoip: Some(Arc::new(geoip)),
                ..CredentialOptions::default()
            },
        )),
        Box::new(NetworkDetector::new(
            Arc::clone(&inventory),
            NetworkOptions::default(),
        )),
        Box::new(MailDetector::new(
            Arc::clone(&inventory),
            MailOptions::default(),
        )),
    ];
    let mut findings = Vec::new();
    let started = std::time::Instant::now();
    let mut clock = Timestamp(i64::MIN);
    for event in &events {
        if event.time > clock {
            clock = event.time;
            for d in detectors.iter_mut() {
                d.advance(clock, &mut findings);
            }
        }
        for d in detectors.iter_mut() {
            d.observe(event, &mut findings);
        }
    }
    for d in detectors.iter_mut() {
        d.advance(Timestamp(clock.millis() + 86_400_000), &mut findings);
    }
    let elapsed = started.elapsed();
    println!(
        "{} events through the three detectors in {:.1} ms ({:.0} events/s, {} build)",
        events.len(),
        elapsed.as_secs_f64() * 1e3,
        events.len() as f64 / elapsed.as_secs_f64().max(1e-9),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    for f in &findings {
        assert!(!f.events.is_empty(), "{} has no evidence", f.alert.rule_id);
        assert!(!f.alert.attack.is_empty() && !f.alert.hipaa.is_empty());
        assert!(f.alert.description.as_deref().is_some_and(|d| d.len() > 20));
    }
    let alerts = fold(findings);
    let incidents = incidents(dir.path());

    let mut recall: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for incident in incidents
        .iter()
        .filter(|i| COVERED.contains(&i.kind.as_str()))
    {
        let found = alerts
            .iter()
            .any(|a| kinds_of(&a.rule_id).contains(&incident.kind.as_str()) && names(a, incident));
        let entry = recall.entry(incident.kind.clone()).or_default();
        entry.0 += usize::from(found);
        entry.1 += 1;
        if !found {
            eprintln!(
                "MISSED {} {:?} {}..{}",
                incident.kind, incident.entities, incident.start, incident.end
            );
        }
    }
    let mut precision: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for alert in &alerts {
        let right = incidents
            .iter()
            .any(|i| kinds_of(&alert.rule_id).contains(&i.kind.as_str()) && names(alert, i));
        let entry = precision.entry(alert.rule_id.clone()).or_default();
        entry.0 += usize::from(right);
        entry.1 += 1;
        if !right {
            eprintln!(
                "FALSE POSITIVE {} {}: {}",
                alert.rule_id,
                alert.first_seen,
                alert.description.as_deref().unwrap_or("")
            );
        }
    }
    Measured {
        recall,
        precision,
        alerts,
    }
}

fn report(label: &str, m: &Measured) -> (f64, f64) {
    println!("\n{label}");
    println!("| incident kind | planted | found | recall |");
    println!("| --- | ---: | ---: | ---: |");
    let (mut found, mut planted) = (0, 0);
    for (kind, (f, n)) in &m.recall {
        println!("| {kind} | {n} | {f} | {:.2} |", *f as f64 / *n as f64);
        found += f;
        planted += n;
    }
    println!("\n| rule | alerts | matching a planted incident | precision |");
    println!("| --- | ---: | ---: | ---: |");
    let (mut right, mut total) = (0, 0);
    for (rule, (r, n)) in &m.precision {
        println!("| {rule} | {n} | {r} | {:.2} |", *r as f64 / *n as f64);
        right += r;
        total += n;
    }
    let recall = found as f64 / planted.max(1) as f64;
    let precision = right as f64 / total.max(1) as f64;
    println!(
        "\nrecall {recall:.3} ({found}/{planted}), precision {precision:.3} ({right}/{total} alerts)"
    );
    (recall, precision)
}

fn config(seed: u64) -> SimConfig {
    SimConfig {
        seed,
        days: 2,
        staff: 150,
        patients: 2_000,
        ..SimConfig::default()
    }
}

fn check(label: &str, seed: u64) {
    check_config(label, &config(seed));
}

fn check_config(label: &str, config: &SimConfig) {
    let seed = config.seed;
    let m = measure(config);
    let (recall, precision) = report(label, &m);
    for kind in COVERED {
        let (found, planted) = m.recall.get(*kind).copied().unwrap_or((0, 0));
        assert!(planted > 0, "{kind} was not planted in seed {seed}");
        assert_eq!(found, planted, "{kind}: {found} of {planted} found");
    }
    assert!(recall >= 0.95, "recall {recall:.3}");
    assert!(precision >= 0.9, "precision {precision:.3}");
    assert!(
        m.alerts.len() < 100 * config.days as usize,
        "{} alerts: the detectors are too noisy",
        m.alerts.len()
    );
}

#[test]
fn threat_detectors_find_the_planted_incidents_of_the_development_seed() {
    check("seed 1 (used while developing)", 1);
}

#[test]
fn threat_detectors_find_the_planted_incidents_of_an_unseen_seed() {
    check("seed 90210 (never used while developing)", 90_210);
}

/// The larger measurement: seed 11 (not used while developing) as the tests above run, then
/// two weeks of the hospital on the development seed and on seed 11, so that every kind is planted several times (both variants of
/// `phishing_click`, for one). `cargo test --release -p ward-detect --test threat -- --ignored
/// --nocapture`.
#[test]
#[ignore = "two simulated weeks: run with --release --ignored"]
fn threat_detectors_over_two_weeks_of_two_seeds() {
    check("seed 11, 2 days (never used while developing)", 11);
    for seed in [1, 11] {
        let config = SimConfig {
            days: 14,
            ..config(seed)
        };
        check_config(&format!("seed {seed}, 14 days"), &config);
    }
}

/// 30,000 real Windows events recorded while attack techniques ran (OTRF; every 21st event,
/// so only a few dozen logons and no whole attack): the credential detector reads them all
/// without a panic and, with no spraying, brute force or MFA in them, raises nothing.
#[test]
fn real_windows_logons_from_otrf() {
    use std::io::Read;
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/otrf/otrf-windows-30k.jsonl.gz");
    if !path.is_file() {
        assert!(
            std::env::var_os("CI").is_none(),
            "OTRF sample missing at {}",
            path.display()
        );
        println!("skipped: no OTRF sample at {}", path.display());
        return;
    }
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let decoder = ward_decode::by_name("windows").unwrap();
    let mut events = Vec::new();
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        out.clear();
        decoder.decode(line.as_bytes(), &mut out);
        events.extend(out.drain(..).filter_map(Result::ok));
    }
    events.sort_by_key(|e| e.time);
    let logons = events
        .iter()
        .filter(|e| matches!(e.metadata.event_code.as_deref(), Some("4624" | "4625")))
        .count();
    let mut detector =
        CredentialDetector::new(Arc::new(Inventory::new()), CredentialOptions::default());
    let mut findings = Vec::new();
    for e in &events {
        detector.observe(e, &mut findings);
        detector.advance(e.time, &mut findings);
    }
    let alerts = fold(findings);
    println!(
        "OTRF: {} events, {logons} logons, {} alerts",
        events.len(),
        alerts.len()
    );
    for a in &alerts {
        println!("  {} {}", a.rule_id, a.description.as_deref().unwrap_or(""));
    }
    assert!(logons >= 20, "the sample holds logons to read");
    assert!(
        alerts.is_empty(),
        "nothing in the sample is a credential attack"
    );
}

/// The decoders' own Entra and Okta fixtures tell one story across two identity providers:
/// a sign-in in Boston, then from Amsterdam half an hour later, with pushes denied on both.
#[test]
fn entra_and_okta_fixtures_give_impossible_travel_and_mfa_fatigue_across_providers() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../decode/tests/fixtures");
    let mut events = Vec::new();
    for (file, name) in [
        ("entra/signins.input", "entra"),
        ("okta/system-log.input", "okta"),
    ] {
        let decoder = ward_decode::by_name(name).unwrap();
        let text = std::fs::read_to_string(fixtures.join(file)).unwrap();
        let mut out = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            decoder.decode(line.as_bytes(), &mut out);
        }
        // The fixtures hold deliberately broken records too; those are the decoders' business.
        events.extend(out.into_iter().filter_map(Result::ok));
    }
    events.sort_by_key(|e| e.time);
    let mut detector = CredentialDetector::new(
        Arc::new(Inventory::new()),
        CredentialOptions {
            mfa_denials: 2,
            ..Default::default()
        },
    );
    let mut findings = Vec::new();
    for e in &events {
        detector.observe(e, &mut findings);
    }
    let alerts = fold(findings);
    let rules: Vec<&str> = alerts.iter().map(|a| a.rule_id.as_str()).collect();
    assert_eq!(
        rules,
        [credential::IMPOSSIBLE_TRAVEL.id, credential::MFA_FATIGUE.id],
        "{alerts:#?}"
    );
    let travel = alerts[0].description.as_deref().unwrap();
    assert!(
        travel.starts_with(
            "n.patel@stmarys-hospital.org signed in from Boston, US (73.162.10.44) at 2024-05-20 08:01 UTC, then from Amsterdam, Netherlands (185.220.101.45) 28 min later: 5557 km"
        ),
        "{travel}"
    );
    let fatigue = alerts[1].description.as_deref().unwrap();
    assert!(
        fatigue.starts_with("n.patel@stmarys-hospital.org denied 2 MFA pushes"),
        "{fatigue}"
    );
}
