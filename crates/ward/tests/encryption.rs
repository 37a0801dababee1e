//! PHI at rest, end to end through the `ward` binary: a simulated hospital's context and
//! telemetry go in, and a copy of the data directory taken without the key reveals no patient
//! (a search of the raw files for every patient's name and identifiers finds nothing), while
//! Ward with the key finds everything; keys rotate and records re-seal without losing a row.

use std::path::Path;
use std::process::Command;

mod common;
use common::Ward;

/// Every patient's family name, MRN and logical id from the simulated context.
fn patient_identities(context: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(context.join("patients.ndjson")).unwrap();
    let mut out = Vec::new();
    for line in text.lines() {
        let patient: serde_json::Value = serde_json::from_str(line).unwrap();
        out.push(patient["id"].as_str().unwrap().to_string());
        for name in patient["name"].as_array().into_iter().flatten() {
            if let Some(family) = name["family"].as_str() {
                out.push(family.to_string());
            }
        }
        for id in patient["identifier"].as_array().into_iter().flatten() {
            out.push(id["value"].as_str().unwrap().to_string());
        }
    }
    // Short family names ("Li") occur by chance in any binary file; six letters do not.
    out.retain(|s| s.len() >= 6);
    out.sort();
    out.dedup();
    out
}

/// The identities found in any file under `dir`.
fn found_in(dir: &Path, identities: &[String]) -> Vec<String> {
    fn read_all(dir: &Path, out: &mut Vec<Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                read_all(&path, out);
            } else {
                out.push(std::fs::read(&path).unwrap());
            }
        }
    }
    let mut contents = Vec::new();
    read_all(dir, &mut contents);
    // One automaton for all of them (regex compiles literal alternations to Aho-Corasick).
    let pattern = identities
        .iter()
        .map(|s| regex::escape(s))
        .collect::<Vec<_>>()
        .join("|");
    let any = regex::bytes::Regex::new(&pattern).unwrap();
    let mut found: Vec<String> = contents
        .iter()
        .flat_map(|c| {
            any.find_iter(c)
                .map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned())
        })
        .collect();
    found.sort();
    found.dedup();
    found
}

#[test]
fn a_stolen_data_directory_reveals_no_patient_and_keys_rotate_without_loss() {
    let ward = Ward::new();
    let sim = ward.path("sim");
    let sim_arg = sim.to_str().unwrap();
    ward.ok(&[
        "simulate",
        "--out",
        sim_arg,
        "--days",
        "1",
        "--staff",
        "40",
        "--patients",
        "500",
    ]);
    let context = sim.join("context");
    let telemetry = sim.join("telemetry");
    let mut import: Vec<String> = vec!["context".into(), "import".into()];
    for name in [
        "organization",
        "practitioners",
        "practitioner-roles",
        "patients",
        "encounters",
        "care-teams",
    ] {
        import.push(context.join(format!("{name}.ndjson")).display().to_string());
    }
    import.push(context.join("hr-roster.csv").display().to_string());
    import.push(telemetry.join("adt.hl7").display().to_string());
    ward.ok(&import.iter().map(String::as_str).collect::<Vec<_>>());
    let mut ingest = vec!["ingest".to_string()];
    for name in [
        "ehr-audit.ndjson",
        "atna.log",
        "adt.hl7",
        "auth.log",
        "windows-security.ndjson",
        "mail.mbox",
    ] {
        ingest.push(telemetry.join(name).display().to_string());
    }
    // A line no decoder reads, carrying a patient's name, goes to quarantine (sealed).
    let identities = patient_identities(&context);
    let broken = ward.path("broken.ndjson");
    let audit = std::fs::read_to_string(telemetry.join("ehr-audit.ndjson")).unwrap();
    let first = audit.lines().next().unwrap();
    std::fs::write(
        &broken,
        format!(
            "{first}\n{{\"resourceType\":\"AuditEvent\", \"note\": \"{}\"\n",
            identities[0]
        ),
    )
    .unwrap();
    ingest.push(broken.display().to_string());
    ward.ok(&ingest.iter().map(String::as_str).collect::<Vec<_>>());

    assert!(
        identities.len() > 500,
        "names, MRNs and ids of 500 patients"
    );
    // The simulated telemetry names patients (so the search below is meaningful) …
    assert!(!found_in(&telemetry, &identities).is_empty());
    // … the data directory does not, while Ward runs against it or after.
    let data = ward.data_dir();
    assert_eq!(found_in(&data, &identities), Vec::<String>::new());
    let kek = ward.path("data.kek");
    assert!(
        kek.exists(),
        "the key lives beside the data directory, not in it"
    );

    // With the key, everything reads back and is found by patient.
    let alerts_before = ward.ok(&["alerts"]);
    assert!(!alerts_before.is_empty());
    let events = ward.ok(&["events", "--patient", "pt000001", "--limit", "5"]);
    assert!(events.contains("patient=pt000001"), "{events}");
    let verified = ward.ok(&["verify"]);
    assert!(
        verified.contains("chain intact") && verified.contains("signed checkpoints verified"),
        "{verified}"
    );

    // A copy of the directory without the key does not open.
    let stolen = ward.path("stolen");
    std::fs::create_dir(&stolen).unwrap();
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, stolen.join(path.file_name().unwrap())).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_ward"))
        .args(["--data-dir", stolen.to_str().unwrap(), "alerts"])
        .env_remove("WARD_KEK")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("key file"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Rotation: a new key replaces the file; the old key no longer opens the store.
    let old_key = std::fs::read_to_string(&kek).unwrap();
    let rotated = ward.ok(&["keys", "rotate"]);
    assert!(rotated.contains("re-wrapped"), "{rotated}");
    assert_ne!(std::fs::read_to_string(&kek).unwrap(), old_key);
    let resealed = ward.ok(&["keys", "reencrypt"]);
    assert!(resealed.contains("re-sealed"), "{resealed}");
    assert_eq!(ward.ok(&["alerts"]), alerts_before);
    assert!(ward.ok(&["verify"]).contains("chain intact"));
    assert_eq!(found_in(&data, &identities), Vec::<String>::new());
    let old_file = ward.path("old.kek");
    std::fs::write(&old_file, &old_key).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&old_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let config = ward.path("old.toml");
    std::fs::write(
        &config,
        format!("[keys]\nkek_file = {:?}\n", old_file.display().to_string()),
    )
    .unwrap();
    let out = ward.run(&["--config", config.to_str().unwrap(), "alerts"]);
    assert!(
        !out.status.success(),
        "the old key must not open the rotated store"
    );
}
