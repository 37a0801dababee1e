//! The clinical interfaces' telemetry through the public API: the HL7 v2 ADT feed
//! (`telemetry/adt.hl7`) and the PACS and interface engine's ATNA audit log
//! (`telemetry/atna.log`) are read by Ward's `hl7` and `atna` decoders without a refused
//! record, in time order, and say the same encounters, patients and users as the context.

use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use ward_decode::hl7;
use ward_model::{ContextKind, ContextSummary, Event};
use ward_simulate::{SimConfig, simulate};

fn small() -> SimConfig {
    SimConfig {
        days: 2,
        staff: 120,
        patients: 2_000,
        ..SimConfig::default()
    }
}

fn ndjson(dir: &Path, file: &str) -> Vec<Value> {
    std::fs::read_to_string(dir.join(file))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every line of `file` through the decoder `name`, one record a line; panics on a refusal.
fn events(dir: &Path, file: &str, name: &str) -> Vec<Event> {
    let decoder = ward_decode::by_name(name).unwrap();
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    let mut out = Vec::new();
    let mut events = Vec::new();
    for (n, line) in text.lines().enumerate() {
        out.clear();
        decoder.decode(line.as_bytes(), &mut out);
        assert_eq!(out.len(), 1, "{file} line {}: {} results", n + 1, out.len());
        for decoded in out.drain(..) {
            match decoded {
                Ok(event) => events.push(event),
                Err(e) => panic!("{file} line {} refused: {e}\n{line}", n + 1),
            }
        }
    }
    for w in events.windows(2) {
        assert!(w[0].time <= w[1].time, "{file} out of order");
    }
    events
}

/// `Patient/pt000123` → `MRN1000123`, from patients.ndjson's MR identifiers.
fn mrns(dir: &Path) -> HashMap<String, String> {
    ndjson(dir, "context/patients.ndjson")
        .iter()
        .map(|p| {
            (
                format!("Patient/{}", p["id"].as_str().unwrap()),
                p["identifier"][0]["value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn adt_feed_decodes_and_its_context_has_every_encounter_with_its_patient_and_attending() {
    let dir = tempfile::tempdir().unwrap();
    let summary = simulate(&small(), dir.path()).unwrap();
    let decoded = events(dir.path(), "telemetry/adt.hl7", "hl7");
    let listed = summary
        .files
        .iter()
        .find(|(p, _)| p.ends_with("adt.hl7"))
        .unwrap()
        .1;
    assert_eq!(decoded.len() as u64, listed);
    let triggers: HashSet<&str> = decoded
        .iter()
        .filter_map(|e| e.metadata.event_code.as_deref())
        .collect();
    assert_eq!(triggers, HashSet::from(["A01", "A02", "A03", "A04", "A08"]));
    // A transfer moves the patient to another bed of the same unit: PV1-3 now, PV1-6 before.
    let location = |e: &ward_model::Event, field: &str| -> Vec<String> {
        let text = e.unmapped.get(field).and_then(|v| v.as_str()).unwrap_or("");
        text.split('^').take(3).map(str::to_string).collect()
    };
    let transfers: Vec<_> = decoded
        .iter()
        .filter(|e| e.metadata.event_code.as_deref() == Some("A02"))
        .collect();
    assert!(!transfers.is_empty());
    for t in &transfers {
        let (now, before) = (location(t, "PV1.3"), location(t, "PV1.6"));
        assert_eq!(now.len(), 3, "unit^room^bed: {now:?}");
        assert_eq!(now[0], before[0], "the same unit");
        assert_ne!(now[1..], before[1..], "another bed");
    }

    let text = std::fs::read(dir.path().join("telemetry/adt.hl7")).unwrap();
    let mut context = Vec::new();
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        hl7::adt_context(line, &mut context);
    }
    // The latest message about a visit says what the engine knows of it.
    let mut visits = HashMap::new();
    for resource in context {
        let resource = resource.unwrap();
        if resource.kind == ContextKind::Encounter {
            visits.insert(resource.id.clone(), resource.summary);
        }
    }
    let mrn = mrns(dir.path());
    let encounters = ndjson(dir.path(), "context/encounters.ndjson");
    assert_eq!(visits.len(), encounters.len());
    for e in &encounters {
        let id = e["id"].as_str().unwrap();
        let Some(ContextSummary::Encounter {
            patient,
            participants,
            service_provider,
            start,
            end,
            ..
        }) = visits.get(id)
        else {
            panic!("no Encounter {id} in the ADT context");
        };
        let subject = &mrn[e["subject"]["reference"].as_str().unwrap()];
        assert_eq!(
            patient.as_deref(),
            Some(format!("Patient/{subject}").as_str())
        );
        let attending: Vec<&str> = e["participant"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["type"][0]["coding"][0]["code"] == "ATND")
            .map(|p| p["individual"]["reference"].as_str().unwrap())
            .collect();
        let adt_attending: Vec<&str> = participants
            .iter()
            .filter(|p| p.role.as_deref() == Some("ATND"))
            .map(|p| p.reference.as_str())
            .collect();
        assert_eq!(adt_attending, attending, "{id}");
        assert_eq!(
            service_provider.as_deref(),
            e["serviceProvider"]["reference"].as_str()
        );
        assert_eq!(
            start.map(|t| t.to_string()[..19].to_string()),
            e["period"]["start"].as_str().map(|s| s[..19].to_string())
        );
        assert_eq!(
            end.map(|t| t.to_string()[..19].to_string()),
            e["period"]["end"].as_str().map(|s| s[..19].to_string()),
            "{id}"
        );
    }
}

#[test]
fn atna_log_decodes_with_the_patient_and_the_user_of_every_message() {
    let dir = tempfile::tempdir().unwrap();
    simulate(&small(), dir.path()).unwrap();
    let decoded = events(dir.path(), "telemetry/atna.log", "atna");
    let roster = std::fs::read_to_string(dir.path().join("context/hr-roster.csv")).unwrap();
    let radiology: HashSet<&str> = roster
        .lines()
        .filter(|l| l.split(',').nth(3) == Some("radiology"))
        .filter_map(|l| l.split(',').next())
        .collect();
    let patients: HashSet<String> = mrns(dir.path()).into_values().collect();
    let mut codes: HashMap<String, usize> = HashMap::new();
    for e in &decoded {
        let code = e.metadata.event_code.clone().unwrap();
        let user = e.actor.user.name.as_deref().unwrap();
        match code.as_str() {
            "110112" | "110103" => {
                assert!(radiology.contains(user), "{user} is not radiology staff");
                assert!(patients.contains(e.patient.id.as_deref().unwrap()));
            }
            "110110" => {
                assert_eq!(user, "EPIC|WGH");
                assert!(patients.contains(e.patient.id.as_deref().unwrap()));
            }
            "110100" => assert_eq!(user, "svc-pacs"),
            other => panic!("unexpected event {other}"),
        }
        *codes.entry(code).or_default() += 1;
    }
    for code in ["110112", "110103", "110110", "110100"] {
        assert!(
            codes.get(code).copied().unwrap_or(0) > 0,
            "no {code}: {codes:?}"
        );
    }
    // Every study opened was queried first.
    assert_eq!(codes["110112"], codes["110103"]);
    let admits = events(dir.path(), "telemetry/adt.hl7", "hl7")
        .iter()
        .filter(|e| matches!(e.metadata.event_code.as_deref(), Some("A01" | "A04")))
        .count();
    assert_eq!(codes["110110"], admits);
}
