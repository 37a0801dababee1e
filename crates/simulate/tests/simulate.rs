//! The simulator through its public API, on temporary directories: determinism, every file
//! accepted by Ward's own decoders, FHIR R4 required elements, ground truth that matches the
//! audit trail, and normal behaviour that stays clear of what incidents are about.

use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use ward_decode::Decoder;
use ward_decode::context::parse_context;
use ward_decode::fhir::FhirAuditEvent;
use ward_model::event::class;
use ward_model::{ContextResource, ContextSummary, Event, Timestamp};
use ward_simulate::{SimConfig, SimSummary, simulate};

const CONTEXT_FILES: [&str; 8] = [
    "organization.ndjson",
    "practitioners.ndjson",
    "practitioner-roles.ndjson",
    "patients.ndjson",
    "encounters.ndjson",
    "care-teams.ndjson",
    "appointments.ndjson",
    "service-requests.ndjson",
];

const KINDS: [&str; 13] = [
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

fn small() -> SimConfig {
    SimConfig {
        days: 1,
        staff: 120,
        patients: 2_000,
        ..SimConfig::default()
    }
}

fn run(config: &SimConfig) -> (tempfile::TempDir, SimSummary) {
    let dir = tempfile::tempdir().unwrap();
    let summary = simulate(config, dir.path()).unwrap();
    (dir, summary)
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn decode_audit(dir: &Path) -> Vec<Event> {
    let mut out = Vec::new();
    let mut events = Vec::new();
    for (n, line) in lines(&dir.join("telemetry/ehr-audit.ndjson"))
        .iter()
        .enumerate()
    {
        out.clear();
        FhirAuditEvent.decode(line.as_bytes(), &mut out);
        assert_eq!(out.len(), 1, "line {}", n + 1);
        match out.pop().unwrap() {
            Ok(event) => events.push(event),
            Err(e) => panic!("line {} refused: {e}\n{line}", n + 1),
        }
    }
    events
}

fn context(dir: &Path) -> Vec<ContextResource> {
    let mut resources = Vec::new();
    for file in CONTEXT_FILES {
        let mut out = Vec::new();
        for (n, line) in lines(&dir.join("context").join(file)).iter().enumerate() {
            parse_context(line.as_bytes(), &mut out);
            for r in out.drain(..) {
                match r {
                    Ok(r) => resources.push(r),
                    Err(e) => panic!("{file} line {} refused: {e}\n{line}", n + 1),
                }
            }
        }
    }
    resources
}

fn files_of(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for sub in ["context", "telemetry", "telemetry/zeek", "telemetry/eml"] {
        for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                files.push(path);
            }
        }
    }
    files.push(dir.join("truth.json"));
    files.sort();
    files
}

#[test]
fn same_seed_gives_byte_identical_files_and_another_seed_different_ones() {
    let (a, sa) = run(&small());
    let (b, sb) = run(&small());
    let (c, _) = run(&SimConfig { seed: 2, ..small() });
    assert_eq!(sa.events, sb.events);
    let fa = files_of(a.path());
    // 28 files and the incident messages of `telemetry/eml/` (a phishing, a BEC, a PHI one,
    // a link lure).
    assert_eq!(fa.len(), 33, "{fa:?}");
    for f in &fa {
        let rel = f.strip_prefix(a.path()).unwrap();
        assert!(
            std::fs::read(f).unwrap() == std::fs::read(b.path().join(rel)).unwrap(),
            "{} differs between runs with the same seed",
            rel.display()
        );
    }
    for rel in [
        "telemetry/ehr-audit.ndjson",
        "telemetry/auth.log",
        "telemetry/windows-security.ndjson",
        "telemetry/zeek/conn.log",
        "telemetry/adt.hl7",
        "telemetry/atna.log",
        "context/patients.ndjson",
        "truth.json",
    ] {
        assert_ne!(
            std::fs::read(a.path().join(rel)).unwrap(),
            std::fs::read(c.path().join(rel)).unwrap(),
            "{rel} is the same under another seed"
        );
    }
}

#[test]
fn summary_counts_match_the_files() {
    let (dir, summary) = run(&small());
    for (path, records) in &summary.files {
        assert!(path.starts_with(dir.path()));
        if path.is_dir() {
            let files = std::fs::read_dir(path).unwrap().count() as u64;
            assert_eq!(files, *records, "{}", path.display());
            continue;
        }
        if path.extension().is_some_and(|e| e == "mmdb") {
            // A MaxMind DB: its networks, and the metadata marker near its end.
            let bytes = std::fs::read(path).unwrap();
            let marker = b"\xAB\xCD\xEFMaxMind.com";
            assert!(bytes.windows(marker.len()).any(|w| w == marker));
            assert_eq!(ward_simulate::geoip::network_count(), *records);
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap();
        let counted = match path.extension().and_then(|e| e.to_str()) {
            Some("mbox") => text.lines().filter(|l| l.starts_with("From ")).count() as u64,
            None => text.lines().count() as u64,
            Some("ndjson" | "hl7") => text.lines().count() as u64,
            Some("csv") => text.lines().count() as u64 - 1,
            Some("toml") => text.matches("[[zone]]").count() as u64,
            Some("log") => text.lines().filter(|l| !l.starts_with('#')).count() as u64,
            _ => text.lines().filter(|l| l.contains("\"kind\"")).count() as u64,
        };
        assert_eq!(counted, *records, "{}", path.display());
    }
    assert_eq!(summary.files.len(), 30);
    let audit = summary
        .files
        .iter()
        .find(|(p, _)| p.ends_with("ehr-audit.ndjson"))
        .unwrap();
    assert_eq!(audit.1, summary.events);
}

#[test]
fn every_audit_event_decodes_in_time_order_with_user_class_and_patient() {
    let (dir, summary) = run(&SimConfig::default());
    let events = decode_audit(dir.path());
    assert_eq!(events.len() as u64, summary.events);
    assert!(summary.events > 50_000, "{}", summary.events);
    let logins: HashSet<String> = practitioner_logins(&context(dir.path()))
        .into_keys()
        .collect();
    let mut last = Timestamp(i64::MIN);
    let mut by_code: HashMap<String, u64> = HashMap::new();
    for e in &events {
        assert!(e.time >= last, "out of order at {}", e.time);
        last = e.time;
        let user = e
            .actor
            .user
            .name
            .as_deref()
            .expect("every event names its user");
        assert!(logins.contains(user), "{user} is no practitioner");
        assert_eq!(
            e.actor.user.domain.as_deref(),
            Some("urn:oid:2.16.840.1.113883.19.5")
        );
        assert!(
            e.src_endpoint
                .ip
                .as_deref()
                .is_some_and(|ip| ip.starts_with("10.")),
            "{:?}",
            e.src_endpoint
        );
        assert_eq!(e.dst_endpoint.ip.as_deref(), Some("10.20.0.10"));
        assert_eq!(
            e.device.hostname.as_deref(),
            Some("ehr-app01.wgh.example.org")
        );
        let code = e.metadata.event_code.clone().unwrap_or_default();
        match code.as_str() {
            "110122" | "110123" => {
                assert_eq!(e.class_uid, class::AUTHENTICATION);
                assert!(e.patient.id.is_none());
            }
            "read" | "create" | "update" | "search-type" => {
                assert_eq!(e.class_uid, class::API_ACTIVITY);
                assert!(!e.purpose_of_use.is_empty());
                let query = e.resource.query.as_deref().unwrap_or("");
                assert!(
                    e.patient.id.is_some() || query.starts_with("GET /fhir/Patient?family="),
                    "{code} without patient"
                );
            }
            "110106" | "110127" => {
                assert_eq!(e.class_uid, class::API_ACTIVITY);
                assert!(e.patient.id.is_some());
            }
            other => panic!("unexpected event code {other}"),
        }
        *by_code.entry(code).or_default() += 1;
    }
    for code in [
        "110122",
        "110123",
        "read",
        "create",
        "update",
        "search-type",
        "110106",
        "110127",
    ] {
        assert!(
            by_code.get(code).copied().unwrap_or(0) > 0,
            "no {code} events: {by_code:?}"
        );
    }
    let failed = events
        .iter()
        .filter(|e| e.status == ward_model::Status::Failure)
        .count();
    assert!(failed > 0, "no failed logins");
}

/// Login name → practitioner id.
fn practitioner_logins(resources: &[ContextResource]) -> HashMap<String, String> {
    resources
        .iter()
        .filter_map(|r| match &r.summary {
            ContextSummary::Practitioner { identifiers, .. } => {
                Some((identifiers[0].value.clone(), r.id.clone()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn every_context_file_parses_and_references_resolve() {
    let (dir, _) = run(&SimConfig::default());
    let resources = context(dir.path());
    let ids: HashSet<String> = resources.iter().map(|r| r.reference()).collect();
    let mut kinds: HashMap<&str, usize> = HashMap::new();
    for r in &resources {
        *kinds.entry(r.kind.as_str()).or_default() += 1;
        let refs: Vec<&String> = match &r.summary {
            ContextSummary::Encounter {
                patient,
                participants,
                service_provider,
                ..
            } => patient
                .iter()
                .chain(service_provider)
                .chain(participants.iter().map(|p| &p.reference))
                .collect(),
            ContextSummary::CareTeam {
                patient,
                participants,
                managing_organizations,
                ..
            } => patient
                .iter()
                .chain(managing_organizations)
                .chain(participants.iter().map(|p| &p.reference))
                .collect(),
            ContextSummary::PractitionerRole {
                practitioner,
                organization,
                ..
            } => practitioner.iter().chain(organization).collect(),
            ContextSummary::Organization { part_of, .. } => part_of.iter().collect(),
            ContextSummary::ServiceRequest {
                patient,
                encounter,
                requester,
                performers,
                ..
            } => patient
                .iter()
                .chain(encounter)
                .chain(requester)
                .chain(performers)
                .collect(),
            ContextSummary::Appointment { participants, .. } => {
                participants.iter().map(|p| &p.reference).collect()
            }
            _ => Vec::new(),
        };
        for reference in refs {
            assert!(
                ids.contains(reference),
                "{} references missing {reference}",
                r.reference()
            );
        }
    }
    assert_eq!(kinds["Practitioner"], 300);
    assert_eq!(kinds["PractitionerRole"], 300);
    assert_eq!(kinds["Patient"], 5_000);
    assert_eq!(kinds["Organization"], 19);
    assert!(kinds["Encounter"] > 300, "{kinds:?}");
    assert!(kinds["CareTeam"] > 50, "{kinds:?}");
    assert!(kinds["ServiceRequest"] > 20, "{kinds:?}");
    assert!(kinds["Appointment"] > 100, "{kinds:?}");
    let labels: HashSet<String> = resources
        .iter()
        .flat_map(|r| match &r.summary {
            ContextSummary::Patient {
                security_labels, ..
            } => security_labels.clone(),
            _ => Vec::new(),
        })
        .collect();
    for label in ["R", "V", "CEL", "EMP"] {
        assert!(labels.contains(label), "no patient labelled {label}");
    }
}

/// R4 (4.0.1) cardinalities of the elements each resource must carry.
#[test]
fn resources_carry_the_fhir_r4_required_elements() {
    let (dir, _) = run(&small());
    for line in lines(&dir.path().join("telemetry/ehr-audit.ndjson")) {
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["resourceType"], "AuditEvent");
        assert!(v["type"]["code"].is_string(), "AuditEvent.type 1..1");
        assert!(
            v["recorded"]
                .as_str()
                .is_some_and(|t| Timestamp::parse(t).is_some()),
            "recorded 1..1"
        );
        let agents = v["agent"].as_array().expect("agent 1..*");
        assert!(!agents.is_empty());
        for a in agents {
            assert!(a["requestor"].is_boolean(), "agent.requestor 1..1");
        }
        assert!(v["source"]["observer"].is_object(), "source.observer 1..1");
        for e in v["entity"].as_array().into_iter().flatten() {
            assert!(e["what"].is_object() || e["query"].is_string());
        }
    }
    for line in lines(&dir.path().join("context/encounters.ndjson")) {
        let v: Value = serde_json::from_str(&line).unwrap();
        let status = v["status"].as_str().expect("Encounter.status 1..1");
        assert!(
            [
                "planned",
                "arrived",
                "triaged",
                "in-progress",
                "onleave",
                "finished",
                "cancelled"
            ]
            .contains(&status)
        );
        assert!(
            ["IMP", "AMB", "EMER"]
                .contains(&v["class"]["code"].as_str().expect("Encounter.class 1..1"))
        );
        if status == "finished" {
            assert!(v["period"]["end"].is_string());
        }
    }
    for line in lines(&dir.path().join("context/care-teams.ndjson")) {
        let v: Value = serde_json::from_str(&line).unwrap();
        assert!(
            ["proposed", "active", "suspended", "inactive"]
                .contains(&v["status"].as_str().unwrap())
        );
    }
    for line in lines(&dir.path().join("context/service-requests.ndjson")) {
        let v: Value = serde_json::from_str(&line).unwrap();
        assert!(["active", "completed"].contains(&v["status"].as_str().unwrap()));
        assert_eq!(v["intent"], "order", "ServiceRequest.intent 1..1");
        assert!(v["subject"]["reference"].is_string(), "subject 1..1");
    }
    for line in lines(&dir.path().join("context/appointments.ndjson")) {
        let v: Value = serde_json::from_str(&line).unwrap();
        assert!(["booked", "fulfilled"].contains(&v["status"].as_str().unwrap()));
        let participants = v["participant"].as_array().expect("participant 1..*");
        assert!(participants.iter().all(|p| p["status"] == "accepted"));
        // app-2: start and end together.
        assert!(v["start"].is_string() && v["end"].is_string());
    }
    for line in lines(&dir.path().join("context/organization.ndjson")) {
        let v: Value = serde_json::from_str(&line).unwrap();
        // org-1: an Organization has at least an identifier or a name.
        assert!(v["name"].is_string() || v["identifier"].is_array());
    }
    for file in ["patients.ndjson", "practitioners.ndjson"] {
        for line in lines(&dir.path().join("context").join(file)) {
            let v: Value = serde_json::from_str(&line).unwrap();
            assert!(v["id"].is_string());
            assert!(["male", "female"].contains(&v["gender"].as_str().unwrap()));
            for c in v["contact"].as_array().into_iter().flatten() {
                // pat-1: a contact has a name, telecom, address or organization.
                assert!(c["name"].is_object());
            }
        }
    }
}

struct Incident {
    kind: String,
    start: Timestamp,
    end: Timestamp,
    user: String,
    patients: HashSet<String>,
}

fn truth(dir: &Path) -> Vec<Incident> {
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("truth.json")).unwrap()).unwrap();
    v["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| KINDS.contains(&i["kind"].as_str().unwrap()))
        .map(|i| {
            for key in [
                "id",
                "kind",
                "scenario",
                "start",
                "end",
                "entities",
                "description",
                "expected_alert_min",
            ] {
                assert!(!i[key].is_null(), "incident without {key}: {i}");
            }
            Incident {
                kind: i["kind"].as_str().unwrap().to_string(),
                start: Timestamp::parse(i["start"].as_str().unwrap()).unwrap(),
                end: Timestamp::parse(i["end"].as_str().unwrap()).unwrap(),
                user: i["entities"]["user"].as_str().unwrap().to_string(),
                patients: i["entities"]["patient"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p.as_str().unwrap().to_string())
                    .collect(),
            }
        })
        .collect()
}

#[test]
fn every_kind_is_planted_and_its_events_are_in_the_trail_inside_its_window() {
    let (dir, summary) = run(&SimConfig::default());
    let incidents = truth(dir.path());
    assert!(incidents.len() as u64 <= summary.incidents);
    for kind in KINDS {
        assert!(
            incidents.iter().any(|i| i.kind == kind),
            "no {kind} incident in a default run"
        );
    }
    let resources = context(dir.path());
    let logins = practitioner_logins(&resources);
    let patients: HashSet<&str> = resources
        .iter()
        .filter(|r| r.kind == ward_model::ContextKind::Patient)
        .map(|r| r.id.as_str())
        .collect();
    let events = decode_audit(dir.path());
    for i in &incidents {
        assert!(
            logins.contains_key(&i.user),
            "{} is no practitioner",
            i.user
        );
        assert!(!i.patients.is_empty());
        for p in &i.patients {
            assert!(patients.contains(p.as_str()), "{p} is no patient");
        }
        let touched: HashSet<&str> = events
            .iter()
            .filter(|e| {
                e.time >= i.start
                    && e.time <= i.end
                    && e.actor.user.name.as_deref() == Some(&i.user)
            })
            .filter_map(|e| e.patient.id.as_deref())
            .filter(|p| i.patients.contains(*p))
            .collect();
        assert_eq!(
            touched.len(),
            i.patients.len(),
            "{}: not every patient is touched in the window",
            i.kind
        );
        let minimum = match i.kind.as_str() {
            "bulk_sweep" => 50,
            "mass_export" => 200,
            "volume_above_baseline" => 90,
            _ => 1,
        };
        assert!(
            touched.len() >= minimum,
            "{}: {} patients",
            i.kind,
            touched.len()
        );
        assert!(
            i.end.0 - i.start.0 <= 3_600_000 * 3,
            "{} lasts too long",
            i.kind
        );
    }
}

/// The identity links incidents exploit (self, household) must never appear in normal work,
/// or a detector's true alerts would be indistinguishable from the simulator's noise.
#[test]
fn normal_work_never_opens_the_users_own_or_household_record() {
    let (dir, _) = run(&SimConfig::default());
    let resources = context(dir.path());
    // Identity and household by name, birth date and address, as issue 6 would match them.
    let mut staff_identity: HashMap<String, (String, String)> = HashMap::new();
    let mut patient_identity: HashMap<String, (String, String)> = HashMap::new();
    for r in &resources {
        match &r.summary {
            ContextSummary::Practitioner {
                identifiers,
                name,
                birth_date,
                address,
                ..
            } => {
                staff_identity.insert(
                    identifiers[0].value.clone(),
                    (
                        format!("{:?}{:?}{birth_date:?}", name.family, name.given),
                        format!("{:?}{:?}", name.family, address),
                    ),
                );
            }
            ContextSummary::Patient {
                name,
                birth_date,
                address,
                ..
            } => {
                patient_identity.insert(
                    r.id.clone(),
                    (
                        format!("{:?}{:?}{birth_date:?}", name.family, name.given),
                        format!("{:?}{:?}", name.family, address),
                    ),
                );
            }
            _ => {}
        }
    }
    let incidents = truth(dir.path());
    let planted = |e: &Event, user: &str, patient: &str| {
        incidents.iter().any(|i| {
            i.user == user && i.patients.contains(patient) && e.time >= i.start && e.time <= i.end
        })
    };
    let mut checked = 0;
    for e in decode_audit(dir.path()) {
        let (Some(user), Some(patient)) = (e.actor.user.name.as_deref(), e.patient.id.as_deref())
        else {
            continue;
        };
        if planted(&e, user, patient) {
            continue;
        }
        let (person, household) = &staff_identity[user];
        let (p_person, p_household) = &patient_identity[patient];
        assert_ne!(
            person, p_person,
            "{user} opened their own record {patient} outside any incident"
        );
        assert_ne!(
            household, p_household,
            "{user} opened household member {patient} outside any incident"
        );
        checked += 1;
    }
    assert!(checked > 10_000);
}

#[test]
fn roster_assets_and_zones_have_their_documented_columns() {
    let (dir, _) = run(&small());
    let roster = lines(&dir.path().join("context/hr-roster.csv"));
    assert_eq!(
        roster[0],
        "login,name,department,role,hire_date,termination_date,status"
    );
    let mut statuses = HashSet::new();
    for row in &roster[1..] {
        let cols: Vec<&str> = row.split(',').collect();
        assert_eq!(cols.len(), 7, "{row}");
        assert!(cols[0].starts_with('u'));
        assert_eq!(cols[5].is_empty(), cols[6] != "terminated", "{row}");
        statuses.insert(cols[6].to_string());
    }
    assert!(
        statuses.contains("active") && statuses.contains("terminated"),
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| ["active", "terminated", "on-leave"].contains(&s.as_str()))
    );
    let assets = lines(&dir.path().join("context/assets.csv"));
    assert!(
        assets[0].starts_with("hostname,ip,kind,model,zone,department,shared,"),
        "{}",
        assets[0]
    );
    let zones = std::fs::read_to_string(dir.path().join("context/zones.toml")).unwrap();
    // The inventory's own reader (docs/inventory.md) takes every row and column.
    let text = std::fs::read_to_string(dir.path().join("context/assets.csv")).unwrap();
    let parsed = ward_inventory::parse_assets(&text).expect("assets.csv reads as an inventory");
    assert_eq!(parsed.len(), assets.len() - 1);
    for asset in &parsed {
        assert_eq!(asset.addresses.len(), 1, "{}", asset.id);
        assert!(asset.addresses[0].is_ipv4(), "{}", asset.id);
        assert!(
            zones.contains(&format!("name = \"{}\"", asset.zone)),
            "{}",
            asset.id
        );
        assert!(!asset.owner.is_empty(), "{} has no owner", asset.id);
        if ["ehr-database", "pacs", "ct-scanner"].contains(&asset.model.as_str()) {
            assert!(asset.phi.stores, "{} stores PHI", asset.id);
        }
        if asset.kind == ward_inventory::AssetKind::Server {
            let os = asset
                .os
                .as_ref()
                .expect("every server has an operating system");
            assert!(os.cpe.is_some(), "{}: the OS has a CPE name", asset.id);
        }
    }
    let pacs = parsed.iter().find(|a| a.model == "pacs").unwrap();
    assert_eq!(pacs.encrypted_at_rest, Some(false));
    assert_eq!(
        pacs.criticality,
        ward_inventory::Criticality::PatientCareCritical
    );
    let location = parsed.iter().find(|a| a.model == "ehr-database").unwrap();
    assert_eq!(
        location.location, "Main building, data centre",
        "a quoted field with a comma"
    );
    for zone in [
        "clinical",
        "ehr-servers",
        "medical-devices",
        "guest-wifi",
        "admin",
        "dmz",
        "vendor-vpn",
    ] {
        assert!(zones.contains(&format!("name = \"{zone}\"")), "{zone}");
    }
    let shared = assets[1..]
        .iter()
        .filter(|r| r.contains("shared-clinical-workstation"))
        .count();
    assert!(shared > 10);
}

#[test]
fn shared_workstations_serve_several_users_a_day() {
    let (dir, _) = run(&small());
    let mut users_by_ws: HashMap<String, HashSet<String>> = HashMap::new();
    for e in decode_audit(dir.path()) {
        if e.metadata.event_code.as_deref() == Some("110122") {
            users_by_ws
                .entry(e.src_endpoint.ip.unwrap())
                .or_default()
                .insert(e.actor.user.name.unwrap());
        }
    }
    let shared = users_by_ws
        .values()
        .filter(|users| users.len() >= 3)
        .count();
    assert!(
        shared >= 5,
        "{shared} workstations with three or more users"
    );
}

/// The departments whose physicians consult, and for which departments (the simulator's
/// `CONSULTS`).
const CONSULTS: &[(&str, &[&str])] = &[
    ("card", &["med", "icu", "ed"]),
    ("onc", &["med", "surg"]),
    ("icu", &["med", "surg", "ed"]),
    ("surg", &["ed", "med"]),
    ("peds", &["obs"]),
];

#[test]
fn most_consults_are_ordered_by_the_attending_before_the_consultant_opens_the_chart() {
    let (dir, _) = run(&SimConfig::default());
    let ctx = dir.path().join("context");
    let values = |file: &str| -> Vec<Value> {
        lines(&ctx.join(file))
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let bare = |v: &Value| v.as_str().unwrap().rsplit('/').next().unwrap().to_string();
    // Practitioner id → department (dept-…) and role; login → practitioner id.
    let mut dept_of: HashMap<String, (String, String)> = HashMap::new();
    for r in values("practitioner-roles.ndjson") {
        dept_of.insert(
            bare(&r["practitioner"]["reference"]),
            (
                bare(&r["organization"]["reference"]),
                r["code"][0]["coding"][0]["code"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            ),
        );
    }
    let practitioner_of: HashMap<String, String> = values("practitioners.ndjson")
        .iter()
        .map(|p| {
            (
                p["identifier"][0]["value"].as_str().unwrap().to_string(),
                p["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    struct Enc {
        patient: String,
        dept: String,
        team: Vec<String>,
        attending: Option<String>,
        start: i64,
        end: Option<i64>,
    }
    let millis = |v: &Value| v.as_str().map(|t| Timestamp::parse(t).unwrap().millis());
    let mut encounters: HashMap<String, Enc> = HashMap::new();
    for e in values("encounters.ndjson") {
        let team: Vec<(String, String)> = e["participant"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    bare(&p["individual"]["reference"]),
                    p["type"][0]["coding"][0]["code"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                )
            })
            .collect();
        encounters.insert(
            e["id"].as_str().unwrap().to_string(),
            Enc {
                patient: bare(&e["subject"]["reference"]),
                dept: bare(&e["serviceProvider"]["reference"]),
                attending: team
                    .iter()
                    .find(|(_, f)| f == "ATND")
                    .map(|(p, _)| p.clone()),
                team: team.into_iter().map(|(p, _)| p).collect(),
                start: millis(&e["period"]["start"]).unwrap(),
                end: millis(&e["period"]["end"]),
            },
        );
    }
    let consults_for = |consulting: &str, target: &str| {
        CONSULTS.iter().any(|&(c, targets)| {
            format!("dept-{c}") == consulting
                && targets.iter().any(|t| format!("dept-{t}") == target)
        })
    };
    // The consult accesses of the trail: a physician of a consulting department reading a
    // patient of a department it consults for, during that encounter, not on its team. The
    // first of each (encounter, consulting department).
    let patient_encounters: HashMap<&str, Vec<&str>> =
        encounters.iter().fold(HashMap::new(), |mut m, (id, e)| {
            m.entry(e.patient.as_str()).or_default().push(id.as_str());
            m
        });
    let mut first_consult: HashMap<(String, String), i64> = HashMap::new();
    for e in decode_audit(dir.path()) {
        let (Some(user), Some(patient)) = (e.actor.user.name.as_deref(), e.patient.id.as_deref())
        else {
            continue;
        };
        let practitioner = &practitioner_of[user];
        let (dept, role) = &dept_of[practitioner];
        if role != "physician" {
            continue;
        }
        let t = e.time.millis();
        for id in patient_encounters.get(patient).into_iter().flatten() {
            let enc = &encounters[*id];
            let open = enc.start - 12 * 3_600_000 <= t
                && enc.end.is_none_or(|end| t <= end + 24 * 3_600_000);
            if open && consults_for(dept, &enc.dept) && !enc.team.contains(practitioner) {
                let first = first_consult
                    .entry((id.to_string(), dept.clone()))
                    .or_insert(t);
                *first = (*first).min(t);
            }
        }
    }
    let orders = values("service-requests.ndjson");
    let mut ordered_before = 0;
    for o in &orders {
        assert_eq!(o["category"][0]["coding"][0]["code"], "11429006", "{o}");
        let enc = &encounters[&bare(&o["encounter"]["reference"])];
        assert_eq!(bare(&o["subject"]["reference"]), enc.patient, "{o}");
        assert_eq!(
            o["requester"]["reference"]
                .as_str()
                .map(|r| bare(&r.into())),
            enc.attending,
            "the attending orders the consult: {o}"
        );
        let performer = bare(&o["performer"][0]["reference"]);
        assert!(consults_for(&performer, &enc.dept), "{o}");
        let key = (bare(&o["encounter"]["reference"]), performer);
        let first = first_consult
            .get(&key)
            .unwrap_or_else(|| panic!("an order without a consult: {o}"));
        let authored = millis(&o["authoredOn"]).unwrap();
        ordered_before += (authored <= *first && *first - authored <= 4 * 3_600_000) as usize;
    }
    assert!(
        ordered_before as f64 >= 0.95 * orders.len() as f64,
        "{ordered_before} of {} orders written before the first consult access",
        orders.len()
    );
    // Four in five consults are formal; the rest stay curbside.
    let share = orders.len() as f64 / first_consult.len() as f64;
    assert!(
        (0.65..0.92).contains(&share),
        "{} orders for {} consults",
        orders.len(),
        first_consult.len()
    );
}
