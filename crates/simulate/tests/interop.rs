//! The simulator's files read by independent tools, not only by Ward's own decoders (issue
//! #3's bar): the Zeek logs by PyPI's `zat`, which analysts use to load Zeek into pandas
//! (`tests/interop/zeek_zat.py`). Skips with the reason when Python or zat is missing, and
//! fails instead when `CI` is set (`.ci/run` installs zat).

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
    for log in ["conn.log", "dns.log", "ssl.log"] {
        assert!(
            report.contains(&format!("{log}: ")),
            "zat did not read {log}:\n{report}"
        );
    }
}
