//! Decoder throughput on RFC 5424 syslog as a network appliance or an application server sends
//! it (structured data with three parameters and a short message), and on RFC 3164 lines as
//! rsyslog writes them to files. Generates 400,000 lines of each in memory, decodes them with
//! the `syslog` decoder (year 2024 for RFC 3164) on one thread, and prints records/s and MB/s.
//!
//! `cargo run --release -p ward-decode --example syslog_throughput [-- RECORDS]`

mod common;
use common::{best_of_3, mix};

use ward_decode::Decoder;
use ward_decode::syslog::Syslog;

fn main() {
    let records: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(400_000);
    for (name, make) in [
        ("rfc5424", rfc5424 as fn(usize) -> String),
        ("rfc3164", rfc3164),
    ] {
        let lines: Vec<String> = (0..records).map(make).collect();
        let bytes: usize = lines.iter().map(String::len).sum();
        let mut out = Vec::with_capacity(4);
        let decode = best_of_3(|| {
            let mut events = 0usize;
            for line in &lines {
                out.clear();
                Syslog.decode_in_year(line.as_bytes(), 2024, &mut out);
                events += out.iter().filter(|d| d.is_ok()).count();
            }
            assert_eq!(events, records, "every generated record decodes");
        });
        println!(
            "syslog {name} decode: {:>9.0} records/s, {:>4.0} MB/s, {:.0} bytes a line (best of 3, one thread)",
            records as f64 / decode,
            bytes as f64 / decode / 1e6,
            bytes as f64 / records as f64
        );
    }
}

fn rfc5424(i: usize) -> String {
    let r = mix(i as u64);
    let seconds = (i as u64) / 10;
    let (h, m, s) = ((seconds / 3600) % 24, (seconds / 60) % 60, seconds % 60);
    format!(
        "<{pri}>1 2024-05-01T{h:02}:{m:02}:{s:02}.{ms:03}Z fw{fw}.clinic.example.org filterlog {pid} TRAFFIC [meta sequenceId=\"{i}\" rule=\"{rule}\" action=\"{action}\"] blocked 10.{a}.{b}.{c} -> 192.0.2.{d}:443 tcp",
        pri = 128 + (r % 8),
        ms = r % 1000,
        fw = r % 4,
        pid = 1000 + (r >> 8) % 9000,
        rule = (r >> 16) % 200,
        action = if r & 1 == 0 { "block" } else { "pass" },
        a = (r >> 20) % 256,
        b = (r >> 28) % 256,
        c = 1 + (r >> 36) % 254,
        d = 1 + (r >> 44) % 254,
    )
}

fn rfc3164(i: usize) -> String {
    let r = mix(i as u64);
    let seconds = (i as u64) / 10;
    let (h, m, s) = ((seconds / 3600) % 24, (seconds / 60) % 60, seconds % 60);
    format!(
        "May  1 {h:02}:{m:02}:{s:02} app{n} nginx[{pid}]: 10.0.{a}.{b} - - \"GET /api/v1/patients/{p} HTTP/1.1\" 200 512",
        n = r % 8,
        pid = 1000 + (r >> 8) % 9000,
        a = (r >> 16) % 256,
        b = 1 + (r >> 24) % 254,
        p = (r >> 32) % 100_000,
    )
}
