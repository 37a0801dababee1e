//! Every threat detector's state stays bounded however many entities pass by: ten million
//! distinct source addresses, accounts, devices, destinations or zone pairs go through each
//! detector's `observe`, and every table of its state (`state()`) must stay within its cap,
//! count what it evicted, and account for every entry it ever made (held + evicted + expired).
//!
//! The events are minimal (one reused event whose entity fields change), so the run measures
//! the state, not the decoders, and they raise few alerts: an unoptimised test build spends
//! most of an alert's time on its description. The segmentation detector raises an alert for
//! every denied flow, so its ten million zone pairs and ports go through its table directly
//! (`segmentation::tests`). The mail detector keeps no state per sender, recipient or domain
//! (its fields are its configuration), so it has nothing to bound.

use std::net::Ipv4Addr;
use std::sync::Arc;

use serde_json::json;
use ward_detect::Detector;
use ward_detect::threat::TableStats;
use ward_detect::threat::credential::{CredentialDetector, CredentialOptions};
use ward_detect::threat::geoip::GeoIp;
use ward_detect::threat::inventory::Inventory;
use ward_detect::threat::network::{self, NetworkDetector, NetworkOptions};
use ward_model::event::{auth_activity, class};
use ward_model::{Event, Status, Timestamp};

const ENTITIES: u32 = 10_000_000;
/// 2026-11-03T00:00Z.
const START: i64 = 1_794_096_000_000;

fn table<'a>(tables: &'a [TableStats], name: &str) -> &'a TableStats {
    tables
        .iter()
        .find(|t| t.table == name)
        .unwrap_or_else(|| panic!("no table {name} in {tables:?}"))
}

/// The table stayed within its cap, evicted to do so, and lost track of no entry: each of the
/// `distinct` keys it was given is held, evicted or expired.
fn bounded(tables: &[TableStats], name: &str, distinct: u64) {
    let t = table(tables, name);
    assert!(t.held <= t.cap, "{t:?}");
    assert!(
        t.evicted > 0,
        "{name}: {distinct} keys, none evicted: {t:?}"
    );
    assert_eq!(
        t.held as u64 + t.evicted + t.expired,
        distinct,
        "{name}: every key is held, evicted or expired: {t:?}"
    );
}

fn ip(n: u32) -> String {
    Ipv4Addr::from(n).to_string()
}

#[test]
fn credential_state_stays_bounded_under_ten_million_entities() {
    let dir = tempfile::tempdir().unwrap();
    ward_simulate::geoip::write(dir.path(), 0).unwrap();
    let geoip = GeoIp::city(std::fs::read(dir.path().join("geoip.mmdb")).unwrap()).unwrap();
    let options = CredentialOptions {
        geoip: Some(Arc::new(geoip)),
        ..Default::default()
    };
    let cap = options.max_entities;
    let mut det = CredentialDetector::new(Arc::new(Inventory::new()), options);

    // Even: a successful VPN login by a new account from a new address (sources, users); one
    // in ten from a public address (the GeoIP cache: half a million addresses, several times
    // its capacity), the rest from private addresses, which are never looked up.
    let mut login = Event::from_record("authlog", Timestamp(START), b"login".to_vec());
    login.class_uid = class::AUTHENTICATION;
    login.activity_id = auth_activity::LOGON;
    login.activity_name = Some("Accepted".into());
    login.status = Status::Success;
    login.device.hostname = Some("vpn-gw01".into());
    // Odd: a denied MFA push for a new account (the MFA table).
    let mut push = Event::from_record("entra", Timestamp(START), b"push".to_vec());
    push.class_uid = class::AUTHENTICATION;
    push.activity_id = auth_activity::LOGON;
    push.status = Status::Failure;
    push.metadata.event_code = Some("500121".into());
    push.unmapped.insert("mfa.result", json!("denied"));

    let mut out = Vec::new();
    let (mut logins, mut public) = (0u64, 0u64);
    for i in 0..ENTITIES {
        // 10 ms apart: 28 hours in all, so the hour- and day-long tables also expire entries.
        let now = Timestamp(START + i64::from(i) * 10);
        let event = if i % 2 == 0 {
            logins += 1;
            login.actor.user.name = Some(format!("u{i}"));
            let address = if i % 20 == 0 {
                public += 1;
                0x0b00_0000 + i
            } else {
                0x0a00_0000 + i
            };
            login.src_endpoint.ip = Some(ip(address));
            login.time = now;
            &login
        } else {
            push.actor.user.name = Some(format!("u{i}@x.org"));
            push.time = now;
            &push
        };
        det.observe(event, &mut out);
        assert!(
            out.is_empty(),
            "a first login or a single denied push is no alert"
        );
        if i % 100_000 == 0 {
            det.advance(now, &mut out);
            for t in det.state() {
                assert!(t.held <= t.cap, "{t:?}");
            }
        }
    }
    let state = det.state();
    assert!(table(&state, "users").cap == cap);
    bounded(&state, "sources", logins);
    bounded(&state, "users", logins);
    bounded(&state, "mfa", u64::from(ENTITIES) - logins);
    let cache = table(&state, "geoip_cache");
    assert!(cache.held <= cache.cap && cache.evicted > 0, "{cache:?}");
    let (hits, misses, errors) = det.geoip_lookups().unwrap();
    assert_eq!((hits, misses, errors), (0, public, 0));
    assert_eq!(cache.held as u64 + cache.evicted, misses);
}

const NETWORK_ZONES: &str = r#"
[[zone]]
name = "medical-devices"
cidr = "10.0.0.0/8"
[[zone]]
name = "guest-wifi"
cidr = "100.64.0.0/10"
[[zone]]
name = "ehr-servers"
cidr = "192.168.20.0/24"
"#;

/// Of every hundred entities, one of each alert-raising kind; the rest are addresses' names.
const RAISING_EVERY: u32 = 100;

#[test]
fn network_state_stays_bounded_under_ten_million_entities() {
    let assets = Inventory::parse_assets(
        "hostname,ip,kind,model,zone\n\
         ehr-db01,192.168.20.20,server,ehr-database,ehr-servers\n\
         pump-1,10.30.1.1,medical-device,infusion-pump,medical-devices\n",
    )
    .unwrap();
    let inventory = Inventory::new()
        .with_zones(Inventory::parse_zones(NETWORK_ZONES).unwrap())
        .with_assets(assets);
    // Fleets learn nothing, so every new destination is pending (and concluded) at once; a
    // cap below the number of alert-raising entities, so that every table must evict.
    let options = NetworkOptions {
        fleet_hold_ms: 0,
        max_entities: 50_000,
        ..Default::default()
    };
    let cap = options.max_entities;
    let mut det = NetworkDetector::new(Arc::new(inventory), options);

    // A Zeek http row naming the server it reached: how TLS and HTTP teach addresses' names.
    let mut http = Event::from_record("zeek", Timestamp(START), b"http".to_vec());
    http.class_uid = class::HTTP_ACTIVITY;
    http.metadata.event_code = Some("http".into());
    http.dst_endpoint.hostname = Some("portal.example.com".into());
    let mut conn = Event::from_record("zeek", Timestamp(START), b"conn".to_vec());
    conn.class_uid = class::NETWORK_ACTIVITY;
    conn.metadata.event_code = Some("conn".into());
    conn.dst_endpoint.port = Some(443);
    conn.unmapped.insert("conn_state", json!("SF"));

    let mut out = Vec::new();
    let (mut names, mut unknown, mut guests, mut fanned) = (0u64, 0u64, 0u64, 0u64);
    // Alerts of devices reaching new destinations: one per (device, destination), each an
    // alert in progress beside the guests'.
    let mut device_alerts = 0u64;
    for i in 0..ENTITIES {
        let now = Timestamp(START + i64::from(i) * 10);
        let n = i / RAISING_EVERY;
        let event = match i % RAISING_EVERY {
            // A device the inventory does not list, in the medical-device zone (unknown
            // devices; its destinations go to the unlisted devices' fleet).
            1 => {
                unknown += 1;
                conn.src_endpoint.ip = Some(ip(0x0a40_0000 + n));
                conn.dst_endpoint.ip = Some(ip(0x2e00_0000 + n));
                conn.time = now;
                &conn
            }
            // A new guest reaching the EHR database (an alert in progress per pair).
            2 => {
                guests += 1;
                conn.src_endpoint.ip = Some(ip(0x6440_0000 + n));
                conn.dst_endpoint.ip = Some("192.168.20.20".into());
                conn.time = now;
                &conn
            }
            // The listed pump fanning out to a new external destination (its fleet's pending
            // destinations).
            3 => {
                fanned += 1;
                conn.src_endpoint.ip = Some("10.30.1.1".into());
                conn.dst_endpoint.ip = Some(ip(0x2f00_0000 + n));
                conn.time = now;
                &conn
            }
            // A name for a new address (the names table).
            _ => {
                names += 1;
                http.dst_endpoint.ip = Some(ip(0x2d00_0000 + i));
                http.time = now;
                &http
            }
        };
        det.observe(event, &mut out);
        device_alerts += out
            .iter()
            .filter(|f| f.alert.rule_id == network::DEVICE_UNSEEN_DESTINATION.id)
            .count() as u64;
        out.clear();
        if i % 100_000 == 0 {
            det.advance(now, &mut out);
            assert!(out.is_empty(), "every destination was concluded as it came");
            for t in det.state() {
                assert!(t.held <= t.cap, "{t:?}");
            }
        }
    }
    let state = det.state();
    assert_eq!(table(&state, "names").cap, cap);
    bounded(&state, "names", names);
    bounded(&state, "unknown_devices", unknown);
    assert_eq!(device_alerts, unknown + fanned);
    bounded(&state, "open_alerts", guests + device_alerts);
    let pending = table(&state, "fleet_pending");
    // Two fleets (the pump's model and the unlisted devices), each full, the rest evicted.
    assert_eq!(pending.cap, 2 * 256);
    assert_eq!(pending.held, pending.cap);
    assert_eq!(pending.held as u64 + pending.evicted, unknown + fanned);
    assert_eq!(names + unknown + guests + fanned, u64::from(ENTITIES));
}
