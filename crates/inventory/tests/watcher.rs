//! The inventory's watcher over a real store: devices and zone-pair flows gathered from
//! events, written by each flush, merged with what earlier flushes (and earlier runs) stored,
//! and read back by `Reach` for the exposure ranking.

use std::sync::Arc;
use ward_detect::threat::inventory::Inventory;
use ward_inventory::reach::{Reach, Watcher};
use ward_inventory::{Asset, AssetKind, Origin};
use ward_model::event::class;
use ward_model::{Event, Timestamp};
use ward_store::{SqliteStore, Store};

const ZONES: &str = r#"
[[zone]]
name = "clinical"
cidr = "10.10.0.0/16"

[[zone]]
name = "ehr-servers"
cidr = "10.20.0.0/16"

[[zone]]
name = "guest-wifi"
cidr = "172.16.0.0/16"

[policy]
default = "deny"

[[allow]]
from = "clinical"
to = "ehr-servers"
proto = "tcp"
ports = [443]
"#;

const ASSETS: &str = "hostname,ip,kind,model,zone\n\
    ehr-db01,10.20.0.20,server,ehr-database,ehr-servers\n\
    ws-01,10.10.1.10,workstation,shared-clinical-workstation,clinical\n";

fn inventory() -> Arc<Inventory> {
    let (zones, policy) = Inventory::parse_zones_and_policy(ZONES).unwrap();
    Arc::new(
        Inventory::new()
            .with_zones(zones)
            .with_policy(policy)
            .with_assets(Inventory::parse_assets(ASSETS).unwrap()),
    )
}

/// A Zeek conn row as the decoder makes it.
fn conn(n: u32, src: &str, dst: &str, port: u16, state: &str) -> Event {
    let time = Timestamp(1_795_910_400_000 + i64::from(n) * 1_000);
    let mut e = Event::from_record("zeek", time, format!("conn {n}").into_bytes());
    e.class_uid = class::NETWORK_ACTIVITY;
    e.metadata.event_code = Some("conn".into());
    e.src_endpoint.ip = Some(src.into());
    e.dst_endpoint.ip = Some(dst.into());
    e.dst_endpoint.port = Some(port);
    e.status_detail = Some(state.into());
    e.unmapped.insert("proto", "tcp".into());
    e
}

fn feed(watcher: &Watcher, events: &[Event]) {
    let mut detector = watcher.detector();
    let mut out = Vec::new();
    for e in events {
        detector.observe(e, &mut out);
    }
    assert!(out.is_empty(), "the watcher raises nothing");
}

#[test]
fn flushes_add_up_across_runs_and_reach_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();

    let watcher = Watcher::new(inventory());
    feed(
        &watcher,
        &[
            conn(1, "10.10.1.10", "10.20.0.20", 443, "SF"),
            conn(2, "10.10.1.10", "10.20.0.20", 443, "SF"),
            // A device nobody listed, answered on 443 by the database.
            conn(3, "10.10.9.99", "10.20.0.20", 443, "SF"),
            // The guest network knocking on the database: denied, and never a "device".
            conn(4, "172.16.5.5", "10.20.0.20", 1433, "S0"),
        ],
    );
    let flushed = watcher.flush(&store).unwrap();
    assert_eq!(
        flushed.new_devices, 3,
        "ws-01, ehr-db01 and the unknown one"
    );
    // A flush with nothing new changes nothing.
    assert_eq!(watcher.flush(&store).unwrap().new_devices, 0);

    // A later run (a new watcher, as after a restart) adds to what is stored.
    let watcher = Watcher::new(inventory());
    feed(
        &watcher,
        &[
            conn(5, "10.10.1.10", "10.20.0.20", 443, "SF"),
            conn(6, "172.16.5.6", "10.20.0.20", 1433, "REJ"),
        ],
    );
    assert_eq!(watcher.flush(&store).unwrap().new_devices, 0);

    let sightings = store.inventory().sightings(false).unwrap();
    let keys: Vec<&str> = sightings.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(keys, ["ip:10.10.1.10", "ip:10.10.9.99", "ip:10.20.0.20"]);
    let db = &sightings[2];
    assert_eq!(db.services, ["tcp/443"], "S0 and REJ are no service");
    assert_eq!(sightings[0].events, 3);

    let reach = Reach::with_inventory(&inventory(), &store).unwrap();
    let map = reach.map().expect("a policy");
    let guest = map
        .edges
        .iter()
        .find(|e| e.from == "guest-wifi" && e.to == "ehr-servers")
        .expect("the guest edge");
    assert_eq!(
        (guest.connections, guest.denied),
        (2, 2),
        "both runs counted"
    );
    let clinical = map
        .edges
        .iter()
        .find(|e| e.from == "clinical" && e.to == "ehr-servers")
        .unwrap();
    assert_eq!((clinical.connections, clinical.denied), (4, 0));

    let mut asset = Asset::new("ehr-db01", AssetKind::Server, Origin::Csv);
    asset.zone = "ehr-servers".into();
    let reachability = reach.of(&asset);
    assert!(reachability.from_untrusted);
    assert!(
        reachability.why.iter().any(|w| w.contains("guest-wifi")),
        "{:?}",
        reachability.why
    );
    let mut workstation = Asset::new("ws-01", AssetKind::Workstation, Origin::Csv);
    workstation.zone = "clinical".into();
    assert!(
        !reach.of(&workstation).from_untrusted,
        "nothing untrusted reaches it"
    );
}
