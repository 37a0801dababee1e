//! `[detect] geoip` and `asn` end to end: `ward simulate` writes the simulated hospital's
//! GeoIP databases, `ward ingest` with them configured sees impossible travel between two VPN
//! (sshd) logins that carry no location, without them it does not, and a database that is
//! missing, malformed or of the wrong kind stops Ward at start with exit code 2, naming it.

mod common;
use common::Ward;

/// Two VPN logins of one account, from home and, 95 minutes later, from Moscow.
const AUTH_LOG: &str = "\
2026-11-02T19:01:02.123456+00:00 vpn-gw01 sshd[4211]: Accepted password for u1035 from 73.12.4.9 port 51234 ssh2
2026-11-02T20:36:40.000001+00:00 vpn-gw01 sshd[4377]: Accepted password for u1035 from 91.219.236.77 port 40022 ssh2
";

fn travel_alerts(ward: &Ward) -> Vec<serde_json::Value> {
    let log = ward.file("auth.log", AUTH_LOG);
    ward.ok(&["ingest", "--format", "authlog", log.to_str().unwrap()]);
    ward.json_lines(&["alerts", "--json"])
        .into_iter()
        .filter(|a| a["rule_id"] == "threat.credential.impossible_travel")
        .collect()
}

#[test]
fn impossible_travel_between_vpn_logins_needs_the_configured_geoip_database() {
    let simulated = Ward::new();
    let sim = simulated.path("sim");
    simulated.ok(&[
        "simulate",
        "--out",
        sim.to_str().unwrap(),
        "--days",
        "1",
        "--staff",
        "60",
        "--patients",
        "600",
    ]);
    let city = sim.join("context/geoip.mmdb");
    let asn = sim.join("context/geoip-asn.mmdb");
    assert!(city.is_file() && asn.is_file());

    assert!(
        travel_alerts(&Ward::new()).is_empty(),
        "no database: no place"
    );

    let with = Ward::new();
    let conf = with.file(
        "ward.toml",
        format!(
            "[detect]\ngeoip = {:?}\nasn = {:?}\n",
            city.to_str().unwrap(),
            asn.to_str().unwrap()
        ),
    );
    let alerts = travel_alerts(&with.with_config(conf));
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0]["entities"]["user"], "u1035");
    assert_eq!(alerts[0]["entities"]["src_ip"], "91.219.236.77");
}

#[test]
fn a_missing_malformed_or_wrong_geoip_database_stops_ward_naming_the_file() {
    let files = Ward::new();
    let log = files.file("auth.log", AUTH_LOG);
    let garbage = files.file("garbage.mmdb", b"this is not a MaxMind database");
    let mut asn = ward_simulate::mmdb::Writer::new("GeoLite2-ASN", "test", 0);
    asn.insert(
        "91.219.236.0".parse().unwrap(),
        22,
        &ward_simulate::mmdb::asn_record(64_501, "x"),
    )
    .unwrap();
    let wrong = files.file("asn.mmdb", asn.to_bytes().unwrap());
    let missing = files.path("nowhere/GeoLite2-City.mmdb");
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
        let ward = Ward::new();
        let conf = ward.file("ward.toml", &text);
        let stderr = ward
            .with_config(conf)
            .refused(&["ingest", log.to_str().unwrap()]);
        assert!(stderr.contains(named.to_str().unwrap()), "{text}: {stderr}");
        assert!(stderr.contains(says), "{text}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
