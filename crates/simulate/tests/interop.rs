//! The simulator's files read by independent tools, not only by Ward's own decoders (issue
//! #3's bar): the Zeek logs by PyPI's `zat`, which analysts use to load Zeek into pandas
//! (`tests/interop/zeek_zat.py`), and every FHIR resource by PyPI's `fhir.resources`, models
//! generated from the FHIR specification (`tests/interop/fhir_r4_validate.py`). Each skips with
//! the reason when Python or the package is missing, and fails instead when `CI` is set
//! (`.ci/run` installs both).

use std::path::Path;
use std::process::Command;
use ward_simulate::{SimConfig, simulate};

fn zat_available() -> Result<(), String> {
    let probe = Command::new("python3")
        .args(["-c", "import zat.zeek_log_reader, zat.log_to_dataframe"])
        .output()
        .map_err(|e| format!("python3 cannot run: {e}"))?;
    if probe.status.success() {
        Ok(())
    } else {
        Err("the PyPI package zat is not installed (pip install zat)".into())
    }
}

#[test]
fn zat_reads_every_zeek_row_with_its_types() {
    if let Err(reason) = zat_available() {
        if std::env::var_os("CI").is_some() {
            panic!("CI is set but the zat check cannot run: {reason}");
        }
        eprintln!("skipping the zat check: {reason}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = SimConfig {
        days: 1,
        staff: 120,
        patients: 2_000,
        ..SimConfig::default()
    };
    simulate(&config, dir.path()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/zeek_zat.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(dir.path().join("telemetry/zeek"))
        .output()
        .unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "zat disagrees with the simulator's Zeek logs:\n{report}"
    );
    for log in ["conn.log", "dns.log", "ssl.log", "http.log"] {
        assert!(
            report.contains(&format!("{log}: ")),
            "zat did not read {log}:\n{report}"
        );
    }
}

fn fhir_resources_available() -> Result<(), String> {
    let probe = Command::new("python3")
        .args(["-c", "import fhir.resources.R4B.auditevent"])
        .output()
        .map_err(|e| format!("python3 cannot run: {e}"))?;
    if probe.status.success() {
        Ok(())
    } else {
        Err("the PyPI package fhir.resources is not installed (pip install fhir.resources)".into())
    }
}

fn validate_fhir(paths: &[std::path::PathBuf]) -> (bool, String) {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/fhir_r4_validate.py");
    let out = Command::new("python3")
        .arg(&script)
        .args(paths)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Every FHIR resource the simulator writes (the organisation, staff, patients, encounters,
/// care teams, appointments, consult orders and the EHR's AuditEvents) validates against the FHIR specification's
/// definitions, as generated into PyPI's fhir.resources: required elements, types, formats.
#[test]
fn every_fhir_resource_validates_against_its_definition_with_fhir_resources() {
    if let Err(reason) = fhir_resources_available() {
        if std::env::var_os("CI").is_some() {
            panic!("CI is set but the FHIR validation cannot run: {reason}");
        }
        eprintln!("skipping the FHIR validation: {reason}");
        return;
    }
    // The validator refuses what breaks the definitions: an Encounter without its required
    // status, an AuditEvent whose `recorded` is not an instant.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.ndjson");
    std::fs::write(
        &bad,
        concat!(
            r#"{"resourceType":"Encounter","id":"e1","class":{"code":"IMP"}}"#,
            "\n",
            r#"{"resourceType":"AuditEvent","id":"a1","type":{"code":"rest"},"recorded":"yesterday","agent":[{"requestor":true}],"source":{"observer":{"reference":"Device/x"}}}"#,
            "\n"
        ),
    )
    .unwrap();
    let (ok, report) = validate_fhir(&[bad]);
    assert!(
        !ok && report.contains("status") && report.contains("recorded"),
        "{report}"
    );

    let out = dir.path().join("sim");
    let config = SimConfig {
        days: 2,
        staff: 120,
        patients: 2_000,
        ..SimConfig::default()
    };
    simulate(&config, &out).unwrap();
    let mut files: Vec<_> = std::fs::read_dir(out.join("context"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "ndjson"))
        .collect();
    files.sort();
    files.push(out.join("telemetry/ehr-audit.ndjson"));
    let (ok, report) = validate_fhir(&files);
    assert!(ok, "the simulator wrote invalid FHIR:\n{report}");
    for kind in [
        "Appointment",
        "AuditEvent",
        "CareTeam",
        "Encounter",
        "Organization",
        "Patient",
        "Practitioner",
        "PractitionerRole",
        "ServiceRequest",
    ] {
        assert!(
            report.contains(&format!("{kind}: ")),
            "no {kind} was validated:\n{report}"
        );
    }
}
