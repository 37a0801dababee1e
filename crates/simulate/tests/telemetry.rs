//! The hospital's telemetry beyond the EHR audit trail, through the public API: every file is
//! read by Ward's own decoder without a single refused record and in time order, the same
//! seed writes the same bytes, and every planted incident's entities are in its telemetry
//! inside its window.

use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use ward_model::Timestamp;
use ward_simulate::{SimConfig, simulate};

fn small() -> SimConfig {
    SimConfig {
        days: 1,
        staff: 120,
        patients: 2_000,
        ..SimConfig::default()
    }
}

/// The telemetry files, each with the decoder that reads it.
const FILES: [(&str, &str); 6] = [
    ("telemetry/auth.log", "authlog"),
    ("telemetry/windows-security.ndjson", "windows"),
    ("telemetry/zeek/conn.log", "zeek"),
    ("telemetry/zeek/dns.log", "zeek"),
    ("telemetry/zeek/ssl.log", "zeek"),
    ("telemetry/zeek/http.log", "zeek"),
];

/// Every record of `file` decoded as the pipeline does (one record a line; Zeek through its
/// per-source decoder so headers set the columns): its time and its line. Panics on the
/// first refused record.
fn decode(dir: &Path, file: &str, decoder: &str) -> Vec<(Timestamp, String)> {
    let decoder = ward_decode::by_name(decoder).unwrap();
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    let mut source = decoder.start();
    let mut out = Vec::new();
    let mut records = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        out.clear();
        match source.as_mut() {
            Some(s) => s.decode(line.as_bytes(), &mut out),
            None => decoder.decode(line.as_bytes(), &mut out),
        }
        for decoded in out.drain(..) {
            match decoded {
                Ok(event) => records.push((event.time, line.to_string())),
                Err(e) => panic!("{file} line {} refused: {e}\n{line}", n + 1),
            }
        }
    }
    records
}

#[test]
fn every_telemetry_file_decodes_without_a_refused_record_in_time_order() {
    let dir = tempfile::tempdir().unwrap();
    simulate(&small(), dir.path()).unwrap();
    for (file, decoder) in FILES {
        let records = decode(dir.path(), file, decoder);
        assert!(records.len() > 50, "{file}: {} records", records.len());
        for w in records.windows(2) {
            assert!(
                w[0].0 <= w[1].0,
                "{file} out of order:\n{}\n{}",
                w[0].1,
                w[1].1
            );
        }
    }
}

#[test]
fn auth_log_says_who_logged_in_from_where_with_the_year_in_the_line() {
    let dir = tempfile::tempdir().unwrap();
    simulate(&small(), dir.path()).unwrap();
    let decoder = ward_decode::by_name("authlog").unwrap();
    let text = std::fs::read_to_string(dir.path().join("telemetry/auth.log")).unwrap();
    let mut accepted = 0;
    let mut invalid = 0;
    for line in text.lines() {
        let mut out = Vec::new();
        // No year from outside: the RFC 3339 stamp carries it.
        decoder.decode(line.as_bytes(), &mut out);
        let event = out.pop().unwrap().unwrap();
        assert_eq!(event.time.year(), 2026, "{line}");
        if line.contains("Accepted") {
            accepted += 1;
            assert!(
                event.actor.user.name.is_some() && event.src_endpoint.ip.is_some(),
                "{line}"
            );
        }
        invalid += line.contains("Invalid user") as u32;
    }
    assert!(
        accepted > 0 && invalid > 20,
        "{accepted} accepted, {invalid} invalid"
    );
}

#[test]
fn same_seed_writes_the_same_telemetry() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    simulate(&small(), a.path()).unwrap();
    simulate(&small(), b.path()).unwrap();
    for (file, _) in FILES {
        assert!(
            std::fs::read(a.path().join(file)).unwrap()
                == std::fs::read(b.path().join(file)).unwrap(),
            "{file} differs"
        );
    }
}

/// The telemetry file(s) in which an incident kind shows.
fn files_of_kind(kind: &str) -> &'static [&'static str] {
    match kind {
        "password_spray"
        | "brute_force_success"
        | "terminated_vpn_login"
        | "vendor_outside_contract" => &["telemetry/auth.log"],
        "ransomware_precursors" => &["telemetry/windows-security.ndjson"],
        "device_unseen_destination"
        | "guest_wifi_to_ehr_database"
        | "cleartext_phi_egress"
        | "segmentation_violation"
        | "unknown_device" => &["telemetry/zeek/conn.log"],
        "weak_tls_phi_service" => &["telemetry/zeek/ssl.log"],
        _ => &[],
    }
}

const TELEMETRY_KINDS: [&str; 11] = [
    "password_spray",
    "brute_force_success",
    "terminated_vpn_login",
    "vendor_outside_contract",
    "ransomware_precursors",
    "device_unseen_destination",
    "guest_wifi_to_ehr_database",
    "cleartext_phi_egress",
    "weak_tls_phi_service",
    "segmentation_violation",
    "unknown_device",
];

#[test]
fn every_telemetry_incident_names_entities_found_in_its_file_inside_its_window() {
    let dir = tempfile::tempdir().unwrap();
    simulate(&SimConfig::default(), dir.path()).unwrap();
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("truth.json")).unwrap())
            .unwrap();
    let assets: HashMap<String, String> =
        std::fs::read_to_string(dir.path().join("context/assets.csv"))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| {
                let mut cols = l.split(',');
                (
                    cols.next().unwrap().to_string(),
                    cols.next().unwrap().to_string(),
                )
            })
            .collect();
    let mut decoded: HashMap<&str, Vec<(Timestamp, String)>> = HashMap::new();
    for (file, decoder) in FILES {
        decoded.insert(file, decode(dir.path(), file, decoder));
    }
    let mut seen = Vec::new();
    for incident in truth["incidents"].as_array().unwrap() {
        let kind = incident["kind"].as_str().unwrap();
        let files = files_of_kind(kind);
        if files.is_empty() {
            continue;
        }
        seen.push(kind.to_string());
        let start = Timestamp::parse(incident["start"].as_str().unwrap()).unwrap();
        let end = Timestamp::parse(incident["end"].as_str().unwrap()).unwrap();
        assert!(start <= end);
        let window: Vec<&String> = files
            .iter()
            .flat_map(|f| decoded[f].iter())
            .filter(|(t, _)| *t >= start && *t <= end)
            .map(|(_, line)| line)
            .collect();
        assert!(!window.is_empty(), "{incident}: nothing in its window");
        let entities = incident["entities"].as_object().unwrap();
        assert!(!entities.is_empty(), "{incident}");
        for (key, value) in entities {
            let value = value.as_str().unwrap();
            // A device is named by its inventory host name; the network sees its address.
            let needle = match key.as_str() {
                "device" => assets
                    .get(value)
                    .unwrap_or_else(|| panic!("{value} not in assets")),
                _ => value,
            };
            assert!(
                window
                    .iter()
                    .any(|line| { line.split(['\t', ' ', '"', ',']).any(|word| word == needle) }),
                "{kind}: {key} {value} not in its telemetry between {start} and {end}"
            );
        }
    }
    for kind in TELEMETRY_KINDS {
        assert!(seen.iter().any(|k| k == kind), "no {kind} planted");
    }
}

/// `truth.json` lists each incident's connections (`flows`) with the zones they cross and the
/// policy's verdict: every one is in conn.log inside its window, as many times as truth says,
/// and zones.toml carries the policy the verdicts come from.
#[test]
fn every_incident_flow_is_in_conn_log_as_often_as_truth_says() {
    let dir = tempfile::tempdir().unwrap();
    simulate(&small(), dir.path()).unwrap();
    let zones = std::fs::read_to_string(dir.path().join("context/zones.toml")).unwrap();
    assert!(zones.contains("[policy]\ndefault = \"deny\""), "{zones}");
    assert!(zones.matches("[[allow]]").count() >= 10, "{zones}");
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("truth.json")).unwrap())
            .unwrap();
    let conns = decode(dir.path(), "telemetry/zeek/conn.log", "zeek");
    let (mut denied, mut variants) = (0, std::collections::HashSet::new());
    for incident in truth["incidents"].as_array().unwrap() {
        let kind = incident["kind"].as_str().unwrap();
        let flows = incident["flows"].as_array();
        if kind == "segmentation_violation" {
            assert!(flows.is_some_and(|f| !f.is_empty()), "{incident}");
            variants.insert(incident["scenario"].as_str().unwrap().to_string());
        }
        for flow in flows.into_iter().flatten() {
            let s = |k: &str| flow[k].as_str().unwrap().to_string();
            let first = Timestamp::parse(&s("first")).unwrap();
            let last = Timestamp::parse(&s("last")).unwrap();
            let port = flow["dst_port"].as_u64().unwrap().to_string();
            let rows: Vec<Vec<&str>> = conns
                .iter()
                .filter(|(t, _)| {
                    t.millis() >= first.millis() - 1 && t.millis() <= last.millis() + 1
                })
                .map(|(_, line)| line.split('\t').collect::<Vec<&str>>())
                .filter(|f| {
                    f[2] == s("src_ip") && f[4] == s("dst_ip") && f[5] == port && f[6] == s("proto")
                })
                .collect();
            assert_eq!(
                rows.len() as u64,
                flow["connections"].as_u64().unwrap(),
                "{kind}: {flow}"
            );
            let established = rows
                .iter()
                .filter(|f| f[11] != "S0" && f[11] != "REJ")
                .count() as u64;
            assert_eq!(established, flow["established"].as_u64().unwrap(), "{flow}");
            assert!(["allowed", "denied"].contains(&s("policy").as_str()));
            denied += usize::from(s("policy") == "denied");
            if kind == "segmentation_violation" {
                assert_eq!(s("policy"), "denied", "{flow}");
                assert_ne!(s("src_zone"), s("dst_zone"), "{flow}");
            }
        }
    }
    assert_eq!(
        variants.len(),
        3,
        "every variant of segmentation_violation is planted: {variants:?}"
    );
    assert!(denied >= 6, "{denied} denied flows");
}

/// A link lure's message is in the mailbox, and the recipient's workstation requests its
/// link minutes later: in `http.log` over clear text, in `ssl.log` (the server name) over HTTPS.
/// Partners' portal links are opened too, so clicks on known domains are part of normal days.
#[test]
fn every_link_click_shows_the_message_and_the_workstation_requesting_its_link() {
    let mut variants = std::collections::BTreeSet::new();
    for seed in 1..=4 {
        let dir = tempfile::tempdir().unwrap();
        simulate(&SimConfig { seed, ..small() }, dir.path()).unwrap();
        let truth: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("truth.json")).unwrap())
                .unwrap();
        let mbox = std::fs::read_to_string(dir.path().join("telemetry/mail.mbox")).unwrap();
        let http = decode(dir.path(), "telemetry/zeek/http.log", "zeek");
        let ssl = decode(dir.path(), "telemetry/zeek/ssl.log", "zeek");
        let partner_clicks = http
            .iter()
            .filter(|(_, l)| {
                l.contains("\torders.medirx-supply.com\t")
                    || l.contains("\ttrack.northstar-reflab.com\t")
                    || l.contains("\tproviders.bluecrest-healthplan.com\t")
                    || l.contains("\tsupport.meridian-ehr.com\t")
                    || l.contains("\tstatus.clearview-imaging.com\t")
            })
            .count();
        assert!(
            partner_clicks > 0,
            "seed {seed}: no partner portal was opened"
        );
        let incidents: Vec<&Value> = truth["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["kind"] == "phishing_click")
            .collect();
        assert_eq!(incidents.len(), 1, "seed {seed}");
        for incident in incidents {
            let e = |k: &str| incident["entities"][k].as_str().unwrap().to_string();
            let start = Timestamp::parse(incident["start"].as_str().unwrap()).unwrap();
            let end = Timestamp::parse(incident["end"].as_str().unwrap()).unwrap();
            let message = mbox
                .split("\nFrom ")
                .find(|m| m.contains(&format!("<{}>", e("sender"))) && m.contains(&e("recipient")))
                .unwrap_or_else(|| panic!("seed {seed}: no message from {}", e("sender")));
            let link = message
                .split_whitespace()
                .find(|w| w.starts_with("http://") || w.starts_with("https://"))
                .unwrap();
            let host = link.split('/').nth(2).unwrap();
            assert!(host.ends_with(&e("domain")), "{link}");
            let variant = incident["scenario"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap();
            let requests = if variant == "https" { &ssl } else { &http };
            let opened = requests.iter().any(|(t, line)| {
                let f: Vec<&str> = line.split('\t').collect();
                *t >= start
                    && *t <= end
                    && f[2] == e("src_ip")
                    && f[4] == e("dst_ip")
                    && f.contains(&host)
            });
            assert!(
                opened,
                "seed {seed}: {host} not requested from {} in {incident}",
                e("src_ip")
            );
            variants.insert(variant.to_string());
        }
    }
    assert_eq!(
        variants.len(),
        2,
        "both variants over four seeds: {variants:?}"
    );
}
