//! Decoder throughput on real Windows events: the 30,000 OTRF events shared beside the
//! repository (Sysmon, Security and PowerShell, about 1.5 KB a line with their rendered
//! messages), decoded by the `windows` decoder on one thread; prints records/s and MB/s, and
//! for scale the cost of parsing each line into a `serde_json` map alone, which this decoder
//! must do because every field stays reachable by its Windows name.
//!
//! `cargo run --release -p ward-decode --example windows_throughput [-- PASSES]`

mod common;
use common::best_of_3;

use std::io::Read;
use ward_decode::Decoder;
use ward_decode::windows::WindowsEvent;

fn main() {
    let passes: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(3);
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/otrf/otrf-windows-30k.jsonl.gz"
    );
    let Ok(file) = std::fs::File::open(path) else {
        eprintln!("OTRF sample not found at {path}: nothing to measure");
        return;
    };
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut text)
        .expect("gzip");
    let lines: Vec<&[u8]> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let records = lines.len() * passes;
    let bytes = text.len() * passes;
    println!(
        "{records} records ({} OTRF lines x {passes}), {:.0} bytes on average",
        lines.len(),
        bytes as f64 / records as f64
    );

    let mut out = Vec::with_capacity(2);
    let decode = best_of_3(|| {
        let mut events = 0usize;
        for _ in 0..passes {
            for line in &lines {
                out.clear();
                WindowsEvent.decode(line, &mut out);
                events += out.iter().filter(|d| d.is_ok()).count();
            }
        }
        assert_eq!(events, records, "every OTRF line decodes");
    });
    let parse = best_of_3(|| {
        for _ in 0..passes {
            for line in &lines {
                let parsed: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_slice(line).expect("JSON");
                std::hint::black_box(parsed);
            }
        }
    });
    let rate = |seconds: f64| records as f64 / seconds;
    println!(
        "windows decode:       {:>9.0} records/s, {:>4.0} MB/s (best of 3, one thread)",
        rate(decode),
        bytes as f64 / decode / 1e6
    );
    println!(
        "  JSON map alone:     {:>9.0} records/s ({:.0}% of decode time)",
        rate(parse),
        100.0 * parse / decode
    );
}
