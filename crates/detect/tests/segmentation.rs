//! Segmentation measured against the simulated hospital: `ward_simulate` writes a hospital
//! whose `zones.toml` carries a policy matrix and whose Zeek `conn.log` holds planted flows
//! the policy denies (each listed in `truth.json` with its addresses, port, zones and the
//! simulator's own verdict); Ward's Zeek decoder reads the log and the segmentation detector
//! checks every connection.
//!
//! Recall: every connection of every flow truth calls denied is evidence of an alert.
//! No false alarm: every connection an alert cites is one of those, so no allowed flow (all
//! of normal traffic, and the allowed flows of incidents) is ever cited. The alerts are one
//! per (from zone, to zone, port) and day.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use ward_detect::threat::inventory::Inventory;
use ward_detect::threat::segmentation::{
    POLICY_VIOLATION, Reachability, SegmentationDetector, SegmentationOptions, flow_of, render_svg,
};
use ward_detect::{Detector, Finding};
use ward_model::{Event, EventId, Severity, Timestamp};
use ward_simulate::{SimConfig, simulate};

const DAY: i64 = 86_400_000;

/// A planted flow as truth names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct FlowKey {
    src: String,
    dst: String,
    proto: String,
    port: u16,
}

struct TruthFlow {
    kind: String,
    src_zone: String,
    dst_zone: String,
    denied: bool,
    connections: usize,
    established: usize,
    first: Timestamp,
    last: Timestamp,
}

fn truth_flows(dir: &Path) -> Vec<(FlowKey, TruthFlow)> {
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("truth.json")).unwrap()).unwrap();
    let mut out = Vec::new();
    for incident in truth["incidents"].as_array().unwrap() {
        for f in incident["flows"].as_array().into_iter().flatten() {
            let s = |k: &str| f[k].as_str().unwrap().to_string();
            out.push((
                FlowKey {
                    src: s("src_ip"),
                    dst: s("dst_ip"),
                    proto: s("proto"),
                    port: f["dst_port"].as_u64().unwrap() as u16,
                },
                TruthFlow {
                    kind: incident["kind"].as_str().unwrap().to_string(),
                    src_zone: s("src_zone"),
                    dst_zone: s("dst_zone"),
                    denied: s("policy") == "denied",
                    connections: f["connections"].as_u64().unwrap() as usize,
                    established: f["established"].as_u64().unwrap() as usize,
                    first: Timestamp::parse(&s("first")).unwrap(),
                    last: Timestamp::parse(&s("last")).unwrap(),
                },
            ));
        }
    }
    out
}

/// Every row of the simulator's conn.log through Ward's Zeek decoder; a refused row fails.
fn conn_events(dir: &Path) -> Vec<Event> {
    let decoder = ward_decode::by_name("zeek").unwrap();
    let text = std::fs::read_to_string(dir.join("telemetry/zeek/conn.log")).unwrap();
    let mut source = decoder.start();
    let mut events = Vec::new();
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        out.clear();
        match source.as_mut() {
            Some(s) => s.decode(line.as_bytes(), &mut out),
            None => decoder.decode(line.as_bytes(), &mut out),
        }
        for decoded in out.drain(..) {
            events.push(decoded.unwrap_or_else(|e| panic!("conn.log row refused: {e}")));
        }
    }
    events.sort_by_key(|e| e.time);
    events
}

fn inventory(dir: &Path) -> Inventory {
    let read = |name: &str| std::fs::read_to_string(dir.join("context").join(name)).unwrap();
    let (zones, policy) = Inventory::parse_zones_and_policy(&read("zones.toml")).unwrap();
    Inventory::new()
        .with_zones(zones)
        .with_policy(policy)
        .with_assets(Inventory::parse_assets(&read("assets.csv")).unwrap())
}

fn key_of(event: &Event) -> FlowKey {
    FlowKey {
        src: event.src_endpoint.ip.clone().unwrap(),
        dst: event.dst_endpoint.ip.clone().unwrap(),
        proto: event.unmapped["proto"].as_str().unwrap().to_string(),
        port: event.dst_endpoint.port.unwrap(),
    }
}

fn check(seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let config = SimConfig {
        seed,
        days: 2,
        staff: 150,
        patients: 2_000,
        ..SimConfig::default()
    };
    simulate(&config, dir.path()).unwrap();
    let inventory = Arc::new(inventory(dir.path()));
    let policy = inventory
        .policy
        .as_ref()
        .expect("the simulator writes a policy");
    assert!(
        policy.rules.len() >= 10,
        "{} allow rules",
        policy.rules.len()
    );
    let events = conn_events(dir.path());
    assert!(events.len() > 5_000, "{} conn rows", events.len());

    let truth = truth_flows(dir.path());
    let denied: HashMap<&FlowKey, &TruthFlow> = truth
        .iter()
        .filter(|(_, f)| f.denied)
        .map(|(k, f)| (k, f))
        .collect();
    let kinds: BTreeSet<&str> = denied.values().map(|f| f.kind.as_str()).collect();
    for kind in [
        "segmentation_violation",
        "guest_wifi_to_ehr_database",
        "device_unseen_destination",
        "cleartext_phi_egress",
    ] {
        assert!(
            kinds.contains(kind),
            "seed {seed}: no denied flow of {kind}: {kinds:?}"
        );
    }
    let variants: HashSet<(&str, &str)> = denied
        .values()
        .filter(|f| f.kind == "segmentation_violation")
        .map(|f| (f.src_zone.as_str(), f.dst_zone.as_str()))
        .collect();
    for pair in [
        ("medical-devices", "admin"),
        ("vendor-vpn", "ehr-servers"),
        ("clinical", "medical-devices"),
    ] {
        assert!(
            variants.contains(&pair),
            "seed {seed}: {pair:?} not planted"
        );
    }

    let mut detector =
        SegmentationDetector::new(Arc::clone(&inventory), SegmentationOptions::default());
    let mut findings: Vec<Finding> = Vec::new();
    for event in &events {
        detector.observe(event, &mut findings);
        detector.advance(event.time, &mut findings);
    }
    let by_id: HashMap<EventId, &Event> = events.iter().map(|e| (e.id, e)).collect();

    // No false alarm: every cited connection belongs to a flow truth calls denied, within its
    // time; and the zones the alert groups by are truth's.
    let compiled = detector.policy().unwrap();
    let mut cited: HashMap<FlowKey, HashSet<EventId>> = HashMap::new();
    let mut expected_alerts: BTreeSet<(i64, String, String, u16)> = BTreeSet::new();
    for f in &findings {
        assert_eq!(f.alert.rule_id, POLICY_VIOLATION.id);
        for id in &f.events {
            let event = by_id[id];
            let key = key_of(event);
            let Some(truth) = denied.get(&key) else {
                panic!(
                    "seed {seed}: false alarm on a flow truth does not call denied: {key:?}\n{}",
                    f.alert.description.as_deref().unwrap_or("")
                );
            };
            // Zeek writes microseconds; the decoder rounds them to the millisecond.
            assert!(
                event.time.millis() >= truth.first.millis() - 1
                    && event.time.millis() <= truth.last.millis() + 1,
                "{key:?} at {} outside {}..{}",
                event.time,
                truth.first,
                truth.last
            );
            let from = compiled.zone_name(compiled.zone_of(event_ip(&key.src)));
            let to = compiled.zone_name(compiled.zone_of(event_ip(&key.dst)));
            assert_eq!(
                (from, to),
                (truth.src_zone.as_str(), truth.dst_zone.as_str())
            );
            cited.entry(key.clone()).or_default().insert(*id);
            expected_alerts.insert((
                event.time.millis().div_euclid(DAY),
                truth.src_zone.clone(),
                truth.dst_zone.clone(),
                key.port,
            ));
        }
    }
    // Recall 1.0: every connection of every denied flow is evidence.
    for (key, truth) in &denied {
        let n = cited.get(*key).map_or(0, HashSet::len);
        assert_eq!(
            n, truth.connections,
            "seed {seed}: {} ({}) {key:?}: {n} of {} connections reported",
            truth.kind, truth.src_zone, truth.connections
        );
    }
    // One alert per zone pair, port and day.
    let alerts: BTreeSet<&str> = findings.iter().map(|f| f.alert.id.as_str()).collect();
    assert_eq!(alerts.len(), expected_alerts.len(), "{expected_alerts:?}");

    // Independently of the detector: the compiled policy denies exactly the denied flows.
    let mut denied_rows = 0;
    for event in &events {
        let flow = flow_of(event).unwrap();
        if compiled
            .check_flow(flow.src, flow.dst, flow.proto, flow.port)
            .is_denied()
        {
            denied_rows += 1;
            assert!(denied.contains_key(&key_of(event)), "{:?}", key_of(event));
        }
    }
    assert_eq!(
        denied_rows,
        denied.values().map(|f| f.connections).sum::<usize>()
    );

    // What the alerts say.
    let last_of = |pred: &dyn Fn(&Finding) -> bool| -> Option<&Finding> {
        findings.iter().rev().find(|f| pred(f))
    };
    let guest = last_of(&|f| {
        f.alert
            .entities
            .src_ip
            .as_deref()
            .unwrap()
            .starts_with("172.16.")
    })
    .expect("guest Wi-Fi to the EHR database");
    let text = guest.alert.description.as_deref().unwrap();
    assert_eq!(guest.alert.severity, Severity::High, "{text}");
    assert!(
        text.starts_with(
            "guest-wifi (guest Wi-Fi, untrusted) → ehr-servers (servers) on tcp/1433, established"
        ),
        "{text}"
    );
    assert!(
        text.contains("Denied by the default-deny policy of zones.toml: no [[allow]] rule lets guest-wifi reach ehr-servers on tcp/1433")
            && text.contains("refused or unanswered")
            && text.ends_with("Allow rules between these zones: none"),
        "{text}"
    );
    let vendor = last_of(&|f| {
        f.alert
            .entities
            .src_ip
            .as_deref()
            .unwrap()
            .starts_with("10.99.0.")
    })
    .expect("vendor VPN to the database");
    let text = vendor.alert.description.as_deref().unwrap();
    assert!(
        text.contains("Allow rules between these zones: line ")
            && text.contains("vendor-vpn → ehr-servers tcp 22, 443 (EHR and PACS vendors support their applications)"),
        "{text}"
    );
    assert!(text.contains("holds PHI"), "{text}");
    let probe = last_of(&|f| {
        f.alert
            .description
            .as_deref()
            .unwrap()
            .starts_with("medical-devices (medical devices) → admin (workstations) on tcp/445")
    })
    .expect("device to admin");
    let text = probe.alert.description.as_deref().unwrap();
    assert!(text.contains(", attempted: "), "{text}");
    assert!(
        text.contains("Allow rules between these zones: none"),
        "{text}"
    );
    assert_eq!(probe.alert.severity, Severity::Medium);
    assert!(probe.alert.attack.contains(&"T1021".to_string()));
    assert!(probe.alert.entities.device.is_some());
    let telnet = last_of(&|f| {
        f.alert
            .description
            .as_deref()
            .unwrap()
            .contains("→ medical-devices (medical devices) on tcp/23")
    })
    .expect("telnet to a pump");
    assert_eq!(telnet.alert.severity, Severity::High);
    for (key, truth) in &denied {
        if truth.established == 0 {
            let f = findings
                .iter()
                .find(|f| f.events.iter().any(|id| key_of(by_id[id]) == **key))
                .unwrap();
            assert!(
                !f.alert
                    .description
                    .as_deref()
                    .unwrap()
                    .contains(" established"),
                "{key:?}"
            );
        }
    }

    // The reachability map of the same flows.
    let mut reach = Reachability::new(Arc::clone(compiled), Arc::clone(&inventory));
    for event in &events {
        reach.observe_event(event);
    }
    let map = reach.map();
    let phi = map.phi_reach();
    let ehr = phi
        .iter()
        .find(|p| p.zone == "ehr-servers")
        .expect("ehr-servers holds PHI");
    let from_guest = ehr
        .observed
        .iter()
        .find(|e| e.from == "guest-wifi")
        .unwrap();
    assert!(
        from_guest.denied > 0
            && from_guest
                .phi_destinations
                .iter()
                .any(|h| h.starts_with("ehr-db01"))
    );
    let clinical = ehr.observed.iter().find(|e| e.from == "clinical").unwrap();
    assert_eq!(clinical.denied, 0);
    assert!(
        ehr.by_policy
            .iter()
            .any(|p| p.from == "clinical" && p.services.contains(&"tcp 443".to_string()))
    );
    assert!(!ehr.by_policy.iter().any(|p| p.from == "guest-wifi"));
    let svg = render_svg(&map);
    assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    assert!(svg.contains(r#"class="flow denied""#) && svg.contains(r#"class="zone untrusted""#));
    assert_eq!(render_svg(&map), svg, "the drawing is deterministic");
    if let Some(target) = std::env::var_os("WARD_SEGMENTATION_SVG") {
        std::fs::write(target, &svg).unwrap();
    }
    println!(
        "seed {seed}: {} conn rows, {} denied rows in {} planted flows, {} alerts",
        events.len(),
        denied_rows,
        denied.len(),
        alerts.len()
    );
}

fn event_ip(text: &str) -> std::net::IpAddr {
    text.parse().unwrap()
}

#[test]
fn segmentation_finds_every_planted_violation_of_the_development_seed_and_nothing_else() {
    check(1);
}

#[test]
fn segmentation_finds_every_planted_violation_of_an_unseen_seed_and_nothing_else() {
    check(90_210);
}
