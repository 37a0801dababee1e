//! The NetFlow / IPFIX listener end to end: datagrams built byte by byte after RFC 3954 and
//! RFC 5101/7011 sent to a real listener on 127.0.0.1, checked in a temporary store; and a
//! NetFlow record of a guest Wi-Fi host reaching a denied port, which the segmentation
//! detector must raise.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use ward_detect::Engine;
use ward_detect::threat::inventory::Inventory;
use ward_detect::threat::segmentation::{SegmentationDetector, SegmentationOptions, flow_of};
use ward_listen::{ListenConfig, Listeners, NetflowConfig};
use ward_store::{EventQuery, QuarantineQuery, SqliteStore, Store};

const EXPORT_SECS: u32 = 1_793_606_400; // 2026-11-02T08:00:00Z

fn v9_header(seq: u32, source_id: u32) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend(9u16.to_be_bytes());
    h.extend(1u16.to_be_bytes()); // count
    h.extend(3_600_000u32.to_be_bytes()); // sysUptime
    h.extend(EXPORT_SECS.to_be_bytes());
    h.extend(seq.to_be_bytes());
    h.extend(source_id.to_be_bytes());
    h
}

/// Template 256: sourceIPv4Address, destinationIPv4Address, ports, protocol, tcpControlBits,
/// octetDeltaCount, flowStartSysUpTime.
fn v9_template() -> Vec<u8> {
    let fields: [(u16, u16); 8] = [
        (8, 4),
        (12, 4),
        (7, 2),
        (11, 2),
        (4, 1),
        (6, 1),
        (1, 4),
        (22, 4),
    ];
    let mut p = v9_header(1, 1);
    p.extend(0u16.to_be_bytes());
    p.extend(((8 + fields.len() * 4) as u16).to_be_bytes());
    p.extend(256u16.to_be_bytes());
    p.extend((fields.len() as u16).to_be_bytes());
    for (id, len) in fields {
        p.extend(id.to_be_bytes());
        p.extend(len.to_be_bytes());
    }
    p
}

fn v9_data(seq: u32, src: [u8; 4], dst: [u8; 4], dport: u16, flags: u8) -> Vec<u8> {
    let mut record = Vec::new();
    record.extend(src);
    record.extend(dst);
    record.extend(50_000u16.to_be_bytes());
    record.extend(dport.to_be_bytes());
    record.push(6);
    record.push(flags);
    record.extend(180u32.to_be_bytes());
    record.extend(3_590_000u32.to_be_bytes());
    let mut p = v9_header(seq, 1);
    p.extend(256u16.to_be_bytes());
    p.extend(((4 + record.len()) as u16).to_be_bytes());
    p.extend(record);
    p
}

async fn start(
    engine: Option<Arc<Mutex<Engine>>>,
) -> (tempfile::TempDir, Arc<SqliteStore>, Listeners) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let config = ListenConfig {
        netflow: NetflowConfig {
            enabled: true,
            bind: Some("127.0.0.1:0".parse().unwrap()),
            ..Default::default()
        },
        ..Default::default()
    };
    let listeners = Listeners::start(&config, store.clone(), engine)
        .await
        .unwrap();
    (dir, store, listeners)
}

async fn send(socket: &UdpSocket, to: SocketAddr, datagram: &[u8]) {
    socket.send_to(datagram, to).await.unwrap();
    // UDP keeps no order across a commit: give each datagram time to be read in turn.
    tokio::time::sleep(Duration::from_millis(30)).await;
}

async fn wait_until(mut done: impl FnMut() -> bool, what: &str) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn netflow_v9_flows_are_stored_and_templates_stay_with_their_exporter() {
    let (_dir, store, listeners) = start(None).await;
    let addr = listeners.addr("netflow").unwrap();
    let router = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let other = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    send(&router, addr, &v9_template()).await;
    send(
        &router,
        addr,
        &v9_data(2, [10, 10, 1, 1], [10, 20, 0, 20], 443, 0x1a),
    )
    .await;
    // The same source id and template id from another exporter, which announced nothing.
    send(
        &other,
        addr,
        &v9_data(2, [10, 10, 1, 2], [10, 20, 0, 20], 443, 0x1a),
    )
    .await;
    let count = || store.count_events(&EventQuery::default()).unwrap();
    let quarantined = || store.list_quarantine(&QuarantineQuery::default()).unwrap();
    wait_until(
        || count() == 1 && quarantined().len() == 1,
        "one event and one quarantined",
    )
    .await;
    let q = quarantined();
    assert!(
        q[0].record.reason.contains("template 256"),
        "{}",
        q[0].record.reason
    );
    assert!(
        q[0].record.source.starts_with("netflow://127.0.0.1:"),
        "{}",
        q[0].record.source
    );
    // The template datagram itself stores nothing; a repeat of the data is a duplicate.
    send(
        &router,
        addr,
        &v9_data(2, [10, 10, 1, 1], [10, 20, 0, 20], 443, 0x1a),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!((count(), quarantined().len()), (1, 1));
    listeners.shutdown().await;
}

const ZONES: &str = r#"
[[zone]]
name = "clinical"
cidr = "10.10.0.0/16"

[[zone]]
name = "ehr-servers"
cidr = "10.20.0.0/24"

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

#[tokio::test]
async fn a_guest_wifi_flow_to_a_denied_port_raises_the_segmentation_alert() {
    let (zones, policy) = Inventory::parse_zones_and_policy(ZONES).unwrap();
    let inventory = Inventory::new().with_zones(zones).with_policy(policy);
    let detector = SegmentationDetector::new(Arc::new(inventory), SegmentationOptions::default());
    let engine = Arc::new(Mutex::new(Engine::new(vec![Box::new(detector)])));
    let (_dir, store, listeners) = start(Some(engine)).await;
    let addr = listeners.addr("netflow").unwrap();
    let router = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    send(&router, addr, &v9_template()).await;
    // Allowed: clinical to the EHR servers on 443.
    send(
        &router,
        addr,
        &v9_data(2, [10, 10, 1, 1], [10, 20, 0, 20], 443, 0x1a),
    )
    .await;
    // Denied: a guest Wi-Fi host's SYN to SQL Server.
    send(
        &router,
        addr,
        &v9_data(3, [172, 16, 1, 7], [10, 20, 0, 20], 1433, 0x02),
    )
    .await;
    wait_until(
        || store.count_events(&EventQuery::default()).unwrap() == 2,
        "two flows stored",
    )
    .await;
    let mut alerts = Vec::new();
    wait_until(
        || {
            alerts = store.list_alerts(&Default::default()).unwrap();
            !alerts.is_empty()
        },
        "the segmentation alert",
    )
    .await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].rule_id, "threat.segmentation.policy_violation");
    assert_eq!(alerts[0].entities.src_ip.as_deref(), Some("172.16.1.7"));
    listeners.shutdown().await;
}

#[test]
fn flow_of_reads_decoded_netflow_as_an_attempt() {
    use ward_decode::Decoder;
    let mut source = ward_decode::netflow::Netflow.start().unwrap();
    let mut out = Vec::new();
    source.decode(&v9_template(), &mut out);
    source.decode(
        &v9_data(2, [172, 16, 1, 7], [10, 20, 0, 20], 1433, 0x02),
        &mut out,
    );
    let [Ok(event)] = out.as_slice() else {
        panic!("{out:?}")
    };
    let flow = flow_of(event).expect("a NetFlow record is a flow");
    assert_eq!(flow.src.to_string(), "172.16.1.7");
    assert_eq!(flow.dst.to_string(), "10.20.0.20");
    assert_eq!(flow.port, Some(1433));
    assert_eq!(
        format!("{:?} {:?}", flow.proto, flow.attempt),
        "Some(Tcp) Attempted"
    );
}

#[tokio::test]
async fn a_file_of_the_same_packets_ingests_to_the_same_events_as_the_datagrams() {
    let (_dir, store, listeners) = start(None).await;
    let addr = listeners.addr("netflow").unwrap();
    let router = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let packets = [
        v9_template(),
        v9_data(2, [10, 10, 1, 1], [10, 20, 0, 20], 443, 0x1a),
        v9_data(3, [172, 16, 1, 7], [10, 20, 0, 20], 1433, 0x02),
    ];
    for p in &packets {
        send(&router, addr, p).await;
    }
    wait_until(
        || store.count_events(&EventQuery::default()).unwrap() == 2,
        "two flows stored",
    )
    .await;
    listeners.shutdown().await;
    // The packets back to back, as a file; the format recognised from the bytes.
    let file: Vec<u8> = packets.concat();
    let summary = ward_pipeline::ingest(
        &*store,
        ward_pipeline::Source::new("flows.bin", std::io::Cursor::new(file)),
        &ward_pipeline::IngestOptions::default(),
        &|_| {},
        None,
    )
    .unwrap();
    assert_eq!(summary.format, "netflow");
    assert_eq!(
        (summary.accepted, summary.duplicates, summary.quarantined),
        (0, 2, 0),
        "the ids hash the flow, not how it arrived"
    );
}
