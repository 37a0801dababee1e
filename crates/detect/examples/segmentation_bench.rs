//! How fast flow records are checked against a segmentation policy: 10 million flows against
//! a 50-zone policy (44 IPv4 zones, 6 of them nested in others, and 6 IPv6 zones; 160 allow
//! rules), through the compiled policy, and the plain reading of the same policy
//! (`SegmentationPolicy::check_linear`: every zone's networks scanned, then every rule) as the
//! baseline in the same run. Both must give the same verdict on every flow of the sample.
//!
//! ```text
//! cargo run --release -p ward-detect --example segmentation_bench [-- FLOWS]
//! taskset -c 0 target/release/examples/segmentation_bench      # one core
//! ```

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use std::sync::Arc;

use ward_detect::Detector;
use ward_detect::threat::inventory::Inventory;
use ward_detect::threat::segmentation::{
    CompiledPolicy, Proto, SegmentationDetector, SegmentationOptions, Verdict,
};
use ward_model::event::class;
use ward_model::{Event, Timestamp};

/// xorshift64*: reproducible flows without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const PORTS: [u16; 16] = [
    22, 53, 80, 104, 123, 135, 161, 443, 445, 1433, 2575, 3389, 5985, 8080, 8443, 11112,
];

fn zones_toml(rng: &mut Rng) -> String {
    let mut s = String::new();
    for i in 0..38 {
        s.push_str(&format!(
            "[[zone]]\nname = \"z{i:02}\"\ncidr = \"10.{i}.0.0/16\"\n"
        ));
    }
    for i in 38..44 {
        // Nested inside z00..z05: the most specific network must win.
        s.push_str(&format!(
            "[[zone]]\nname = \"z{i:02}\"\ncidr = \"10.{}.{}.0/24\"\ntrusted = false\n",
            i - 38,
            100 + i
        ));
    }
    for i in 44..50 {
        s.push_str(&format!(
            "[[zone]]\nname = \"z{i:02}\"\ncidr = \"2001:db8:{:x}::/48\"\n",
            i
        ));
    }
    s.push_str("[policy]\ndefault = \"deny\"\nintra_zone = \"allow\"\n");
    for _ in 0..150 {
        let (from, to) = (rng.below(50), rng.below(50));
        let ports: Vec<String> = (0..1 + rng.below(3))
            .map(|_| PORTS[rng.below(PORTS.len() as u64) as usize].to_string())
            .collect();
        let proto = ["tcp", "udp", "any"][rng.below(3) as usize];
        s.push_str(&format!(
            "[[allow]]\nfrom = \"z{from:02}\"\nto = \"z{to:02}\"\nproto = \"{proto}\"\nports = [{}]\n",
            ports.join(", ")
        ));
    }
    s.push_str("[[allow]]\nfrom = \"internal\"\nto = \"z00\"\nproto = \"udp\"\nports = [53]\n");
    s.push_str("[[allow]]\nfrom = [\"z01\", \"z02\", \"z03\"]\nto = \"external\"\nproto = \"tcp\"\nports = [443, \"8000-8100\"]\n");
    for i in 0..8 {
        s.push_str(&format!(
            "[[allow]]\nfrom = \"z{:02}\"\nto = \"*\"\nproto = \"tcp\"\nports = [22, 3389, \"5985-5986\"]\n",
            10 + i
        ));
    }
    s
}

fn address(rng: &mut Rng) -> IpAddr {
    match rng.below(20) {
        // Inside an IPv4 zone (sometimes a nested one).
        0..=13 => {
            let zone = rng.below(38) as u8;
            let third = if rng.below(8) == 0 {
                138 + rng.below(6) as u8
            } else {
                rng.below(256) as u8
            };
            IpAddr::V4(Ipv4Addr::new(10, zone, third, rng.below(256) as u8))
        }
        14..=15 => {
            let zone = 44 + rng.below(6) as u16;
            IpAddr::V6(Ipv6Addr::new(
                0x2001,
                0xdb8,
                zone,
                rng.below(65536) as u16,
                0,
                0,
                0,
                1 + rng.below(1000) as u16,
            ))
        }
        // Private but in no zone.
        16 => IpAddr::V4(Ipv4Addr::new(192, 168, rng.below(256) as u8, 7)),
        // The internet.
        _ => IpAddr::V4(Ipv4Addr::new(
            23 + rng.below(150) as u8,
            rng.below(256) as u8,
            rng.below(256) as u8,
            1 + rng.below(254) as u8,
        )),
    }
}

type Flow = (IpAddr, IpAddr, Option<Proto>, Option<u16>);

fn main() {
    let total: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let mut rng = Rng(0x5EED_CAFE_F00D_0001);
    let text = zones_toml(&mut rng);
    let (zones, policy) = Inventory::parse_zones_and_policy(&text).expect("the policy parses");
    let policy = policy.expect("a policy");
    let started = Instant::now();
    let compiled = CompiledPolicy::new(&policy, &zones, &[]);
    let compile_time = started.elapsed();

    // A pool of distinct flows, cycled: 10 million flows of 40 bytes would not fit the cache
    // either way, and generating them is not what is measured.
    let pool_size = total.min(1_000_000);
    let pool: Vec<Flow> = (0..pool_size)
        .map(|_| {
            let proto = match rng.below(10) {
                0..=6 => Some(Proto::Tcp),
                7..=8 => Some(Proto::Udp),
                _ => Some(Proto::Icmp),
            };
            let port =
                (proto != Some(Proto::Icmp)).then(|| PORTS[rng.below(PORTS.len() as u64) as usize]);
            (address(&mut rng), address(&mut rng), proto, port)
        })
        .collect();

    let mut mismatches = 0usize;
    for &(src, dst, proto, port) in &pool {
        if compiled.check_flow(src, dst, proto, port)
            != policy.check_linear(&zones, src, dst, proto, port)
        {
            mismatches += 1;
        }
    }

    let baseline_flows = pool_size.min(1_000_000);
    let started = Instant::now();
    let mut baseline_denied = 0usize;
    for &(src, dst, proto, port) in pool.iter().take(baseline_flows) {
        if black_box(policy.check_linear(&zones, src, dst, proto, port)).is_denied() {
            baseline_denied += 1;
        }
    }
    let baseline = started.elapsed();

    let started = Instant::now();
    let mut denied = 0usize;
    let mut unjudged = 0usize;
    for i in 0..total {
        let (src, dst, proto, port) = pool[i % pool_size];
        match black_box(compiled.check_flow(black_box(src), black_box(dst), proto, port)) {
            Verdict::Denied(_) => denied += 1,
            Verdict::Unjudged => unjudged += 1,
            _ => {}
        }
    }
    let fast = started.elapsed();

    let rate = |n: usize, d: std::time::Duration| n as f64 / d.as_secs_f64().max(1e-9);
    println!(
        "policy: {} zones, {} allow rules; compiled in {:.2} ms",
        zones.len(),
        policy.rules.len(),
        compile_time.as_secs_f64() * 1e3
    );
    println!(
        "baseline (linear scan of zones and rules): {baseline_flows} flows in {:.3} s = {:.0} flows/s ({baseline_denied} denied)",
        baseline.as_secs_f64(),
        rate(baseline_flows, baseline)
    );
    println!(
        "compiled (range search + zone matrix):     {total} flows in {:.3} s = {:.0} flows/s ({denied} denied, {unjudged} unjudged)",
        fast.as_secs_f64(),
        rate(total, fast)
    );
    println!(
        "speed-up {:.0}x; verdicts compared on {pool_size} flows: {mismatches} differ",
        rate(total, fast) / rate(baseline_flows, baseline)
    );

    // The detector end to end on decoded Zeek conn events (addresses as text, state and
    // protocol in `unmapped`): mostly allowed flows, as a real feed runs.
    let allowed: Vec<&Flow> = pool
        .iter()
        .filter(|f| !compiled.check_flow(f.0, f.1, f.2, f.3).is_denied())
        .take(99_000)
        .collect();
    let denied_flows: Vec<&Flow> = pool
        .iter()
        .filter(|f| compiled.check_flow(f.0, f.1, f.2, f.3).is_denied())
        .take(1_000)
        .collect();
    let events: Vec<Event> = allowed
        .iter()
        .chain(denied_flows.iter())
        .enumerate()
        .map(|(i, &&(src, dst, proto, port))| {
            let time = Timestamp(1_794_096_000_000 + i as i64 * 10);
            let mut e = Event::from_record("zeek", time, i.to_be_bytes().to_vec());
            e.class_uid = class::NETWORK_ACTIVITY;
            e.metadata.event_code = Some("conn".into());
            e.src_endpoint.ip = Some(src.to_string());
            e.dst_endpoint.ip = Some(dst.to_string());
            e.dst_endpoint.port = port;
            let proto = proto.map_or("tcp", |p| p.as_str());
            e.unmapped.insert("proto", proto.into());
            e.unmapped.insert("conn_state", "SF".into());
            e
        })
        .collect();
    let inventory = Inventory::new()
        .with_zones(zones.clone())
        .with_policy(Some(policy.clone()));
    let mut detector =
        SegmentationDetector::new(Arc::new(inventory), SegmentationOptions::default());
    let rounds = (total / events.len().max(1)).max(1);
    let mut out = Vec::new();
    let mut findings = 0usize;
    let started = Instant::now();
    for _ in 0..rounds {
        for e in &events {
            detector.observe(e, &mut out);
        }
        findings += out.len();
        out.clear();
    }
    let end_to_end = started.elapsed();
    println!(
        "detector on Zeek conn events ({:.1}% denied): {} events in {:.3} s = {:.0} events/s ({findings} findings)",
        100.0 * denied_flows.len() as f64 / events.len().max(1) as f64,
        rounds * events.len(),
        end_to_end.as_secs_f64(),
        rate(rounds * events.len(), end_to_end)
    );
    if mismatches > 0 {
        std::process::exit(1);
    }
}
