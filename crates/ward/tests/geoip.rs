//! `[detect] geoip` and `asn` end to end: `ward simulate` writes the simulated hospital's
//! GeoIP databases, `ward ingest` with them configured sees impossible travel between two VPN
//! (sshd) logins that carry no location, without them it does not, and a database that is
//! missing, malformed or of the wrong kind stops Ward at start with exit code 2, naming it.

use std::path::Path;
use std::process::{Command, Output};

fn ward(dir: &Path, config: Option<&Path>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ward"));
    cmd.arg("--data-dir").arg(dir.join("data"));
    if let Some(config) = config {
        cmd.arg("--config").arg(config);
    }
    cmd.args(args)
        .env_remove("WARD_CONFIG")
        .env_remove("WARD_DATA_DIR")
        .output()
        .unwrap()
}

fn config(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Two VPN logins of one account, from home and, 95 minutes later, from Moscow.
const AUTH_LOG: &str = "\
2026-11-02T19:01:02.123456+00:00 vpn-gw01 sshd[4211]: Accepted password for u1035 from 73.12.4.9 port 51234 ssh2
2026-11-02T20:36:40.000001+00:00 vpn-gw01 sshd[4377]: Accepted password for u1035 from 91.219.236.77 port 40022 ssh2
";

fn travel_alerts(dir: &Path, config: Option<&Path>) -> Vec<serde_json::Value> {
    let out = ward(
        dir,
        config,
        &[
            "ingest",
            "--format",
            "authlog",
            dir.join("auth.log").to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = ward(dir, None, &["alerts", "--json"]);
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|a| a["rule_id"] == "threat.credential.impossible_travel")
        .collect()
}

#[test]
fn impossible_travel_between_vpn_logins_needs_the_configured_geoip_database() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = tmp.path().join("sim");
    let out = ward(
        tmp.path(),
        None,
        &[
            "simulate",
            "--out",
            sim.to_str().unwrap(),
            "--days",
            "1",
            "--staff",
            "60",
            "--patients",
            "600",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let city = sim.join("context/geoip.mmdb");
    let asn = sim.join("context/geoip-asn.mmdb");
    assert!(city.is_file() && asn.is_file());

    let without = tmp.path().join("without");
    std::fs::create_dir_all(&without).unwrap();
    std::fs::write(without.join("auth.log"), AUTH_LOG).unwrap();
    assert!(
        travel_alerts(&without, None).is_empty(),
        "no database: no place"
    );

    let with = tmp.path().join("with");
    std::fs::create_dir_all(&with).unwrap();
    std::fs::write(with.join("auth.log"), AUTH_LOG).unwrap();
    let conf = config(
        &with,
        "ward.toml",
        &format!(
            "[detect]\ngeoip = {:?}\nasn = {:?}\n",
            city.to_str().unwrap(),
            asn.to_str().unwrap()
        ),
    );
    let alerts = travel_alerts(&with, Some(&conf));
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0]["entities"]["user"], "u1035");
    assert_eq!(alerts[0]["entities"]["src_ip"], "91.219.236.77");
}

#[test]
fn a_missing_malformed_or_wrong_geoip_database_stops_ward_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("auth.log"), AUTH_LOG).unwrap();
    std::fs::write(dir.join("garbage.mmdb"), b"this is not a MaxMind database").unwrap();
    let mut asn = ward_simulate::mmdb::Writer::new("GeoLite2-ASN", "test", 0);
    asn.insert(
        "91.219.236.0".parse().unwrap(),
        22,
        &ward_simulate::mmdb::asn_record(64_501, "x"),
    )
    .unwrap();
    std::fs::write(dir.join("asn.mmdb"), asn.to_bytes().unwrap()).unwrap();
    let missing = dir.join("nowhere/GeoLite2-City.mmdb");
    let garbage = dir.join("garbage.mmdb");
    let wrong = dir.join("asn.mmdb");
    for (text, named, says) in [
        (
            format!("[detect]\ngeoip = {:?}\n", missing.to_str().unwrap()),
            &missing,
            "cannot read the GeoIP database",
        ),
        (
            format!("[detect]\ngeoip = {:?}\n", garbage.to_str().unwrap()),
            &garbage,
            "not a readable MaxMind DB file",
        ),
        (
            format!("[detect]\ngeoip = {:?}\n", wrong.to_str().unwrap()),
            &wrong,
            "a GeoLite2-ASN database, where a City database was expected",
        ),
        (
            format!("[detect]\nasn = {:?}\n", wrong.to_str().unwrap()),
            &wrong,
            "needs [detect] geoip",
        ),
    ] {
        let conf = config(dir, "ward.toml", &text);
        let out = ward(
            dir,
            Some(&conf),
            &["ingest", dir.join("auth.log").to_str().unwrap()],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {stderr}");
        assert!(stderr.contains(named.to_str().unwrap()), "{text}: {stderr}");
        assert!(stderr.contains(says), "{text}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
