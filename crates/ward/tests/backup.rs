//! `ward backup` and `ward restore` as a user runs them: a store with a simulated day in it is
//! backed up while another ingest is writing, restored into a fresh directory with the key
//! kept elsewhere, and compared; a damaged backup and a wrong key are refused.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ward(data_dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ward"));
    cmd.arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("WARD_CONFIG")
        .env_remove("WARD_DATA_DIR")
        .env_remove("WARD_KEK");
    cmd
}

fn ok(data_dir: &Path, args: &[&str]) -> String {
    let out = ward(data_dir, args).output().unwrap();
    assert!(
        out.status.success(),
        "ward {args:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn fails(data_dir: &Path, args: &[&str]) -> Output {
    let out = ward(data_dir, args).output().unwrap();
    assert!(!out.status.success(), "ward {args:?} should fail");
    out
}

/// What a user compares: every event, alert and context count, as Ward prints them.
fn contents(data_dir: &Path) -> Vec<String> {
    vec![
        ok(data_dir, &["events", "--json", "--limit", "1000000"]),
        ok(data_dir, &["alerts", "--json"]),
        ok(data_dir, &["context", "stats"]),
        ok(data_dir, &["quarantine", "list", "--json"]),
    ]
}

#[test]
fn a_backup_taken_while_ingesting_restores_elsewhere_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let data = root.join("data");
    let sim = root.join("sim");
    ok(
        &data,
        &[
            "simulate",
            "--out",
            sim.to_str().unwrap(),
            "--days",
            "1",
            "--staff",
            "40",
            "--patients",
            "500",
        ],
    );
    let file = |p: &str| sim.join(p).display().to_string();
    ok(
        &data,
        &[
            "context",
            "import",
            &file("context/patients.ndjson"),
            &file("context/practitioners.ndjson"),
            &file("context/hr-roster.csv"),
        ],
    );
    ok(
        &data,
        &[
            "ingest",
            &file("telemetry/auth.log"),
            &file("telemetry/windows-security.ndjson"),
        ],
    );

    // Backup while another process ingests the EHR audit trail into the same store.
    let mut writer = ward(&data, &["ingest", &file("telemetry/ehr-audit.ndjson")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let online = root.join("backup-online");
    let out = ok(&data, &["backup", online.to_str().unwrap()]);
    assert!(out.contains("backed up"), "{out}");
    assert!(writer.wait().unwrap().success());
    let restored_online = root.join("restored-online");
    let key = root.join("data.kek");
    let out = ok(
        &restored_online,
        &[
            "restore",
            online.to_str().unwrap(),
            "--kek-file",
            key.to_str().unwrap(),
        ],
    );
    assert!(out.contains("chain verified"), "{out}");

    // A quiet backup restores to exactly what the store holds.
    let quiet = root.join("backup-quiet");
    ok(&data, &["backup", quiet.to_str().unwrap()]);
    let manifest = std::fs::read_to_string(quiet.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"plain_sha256\""));
    let restored: PathBuf = root.join("restored");
    ok(
        &restored,
        &[
            "restore",
            quiet.to_str().unwrap(),
            "--kek-file",
            key.to_str().unwrap(),
        ],
    );
    // The restored store runs with the same key, kept beside it as Ward expects by default.
    std::fs::copy(&key, root.join("restored.kek")).unwrap();
    assert_eq!(contents(&restored), contents(&data));
    assert!(ok(&restored, &["verify"]).contains("chain intact"));

    // The backup holds no patient in the clear. The needles are long enough that ciphertext
    // does not contain them by chance: a bare four-letter family name turns up in some 40 MB
    // of random bytes about once in a hundred runs (it did, once, in CI).
    let patients = std::fs::read_to_string(sim.join("context/patients.ndjson")).unwrap();
    let first: serde_json::Value = serde_json::from_str(patients.lines().next().unwrap()).unwrap();
    let family = first["name"][0]["family"].as_str().unwrap();
    let mrn = first["identifier"][0]["value"].as_str().unwrap();
    let sealed = std::fs::read(quiet.join("ward.db.sealed")).unwrap();
    for needle in [format!("\"family\":\"{family}\""), mrn.to_string()] {
        assert!(needle.len() >= 8, "{needle}");
        // The needle is the patient as the imported file spells it.
        assert!(patients.contains(&needle), "{needle}");
        assert!(
            !sealed.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle} in the sealed backup"
        );
    }
    assert!(
        !quiet.join(".snapshot.db").exists(),
        "the plain snapshot is removed"
    );

    // Refusals: a store already there, a damaged copy, another key.
    let out = fails(
        &restored,
        &[
            "restore",
            quiet.to_str().unwrap(),
            "--kek-file",
            key.to_str().unwrap(),
        ],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("already holds a store"));
    let damaged = root.join("backup-damaged");
    std::fs::create_dir(&damaged).unwrap();
    std::fs::copy(quiet.join("manifest.json"), damaged.join("manifest.json")).unwrap();
    let mut bytes = sealed.clone();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(damaged.join("ward.db.sealed"), &bytes).unwrap();
    let out = fails(
        &root.join("r2"),
        &[
            "restore",
            damaged.to_str().unwrap(),
            "--kek-file",
            key.to_str().unwrap(),
        ],
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("damaged"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Even with the manifest's hash rewritten to match, the sealed chunk does not open.
    let sha = {
        use sha2::Digest;
        sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let original_sha = {
        use sha2::Digest;
        sha2::Sha256::digest(&sealed)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    std::fs::write(
        damaged.join("manifest.json"),
        manifest.replace(&original_sha, &sha),
    )
    .unwrap();
    let out = fails(
        &root.join("r3"),
        &[
            "restore",
            damaged.to_str().unwrap(),
            "--kek-file",
            key.to_str().unwrap(),
        ],
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not open"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !root.join("r3").join("ward.db").exists(),
        "nothing half-restored is left as a store"
    );
    let other = root.join("other.kek");
    ok(&data, &["keys", "generate", other.to_str().unwrap()]);
    let out = fails(
        &root.join("r4"),
        &[
            "restore",
            quiet.to_str().unwrap(),
            "--kek-file",
            other.to_str().unwrap(),
        ],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs key-encryption key"));
}
