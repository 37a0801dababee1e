//! Decoder throughput on generic JSON lines: an application's own JSON log, with aliases for
//! the time, user, address, host and patient, an outcome, a nested object and fields with no
//! place in the model (as in the `jsonl` fixtures). Generates 400,000 lines in memory, decodes
//! them on one thread, and prints records/s and MB/s.
//!
//! `cargo run --release -p ward-decode --example jsonl_throughput [-- RECORDS]`

mod common;
use common::{best_of_3, generate, mix};

use ward_decode::Decoder;
use ward_decode::jsonl::JsonLines;

fn main() {
    let (records, lines, bytes) = generate(400_000, record);
    let mut out = Vec::with_capacity(4);
    let decode = best_of_3(|| {
        let mut events = 0usize;
        for line in &lines {
            out.clear();
            JsonLines.decode(line.as_bytes(), &mut out);
            events += out.iter().filter(|d| d.is_ok()).count();
        }
        assert_eq!(events, records, "every generated record decodes");
    });
    println!(
        "jsonl decode:       {:>9.0} records/s, {:>5.0} MB/s (best of 3, one thread)",
        records as f64 / decode,
        bytes as f64 / decode / 1e6
    );
}

fn record(i: usize) -> String {
    let r = mix(i as u64);
    let action = [
        "chart.view",
        "chart.view",
        "note.sign",
        "order.enter",
        "report.print",
    ][(r % 5) as usize];
    let outcome = if r.is_multiple_of(40) {
        "denied"
    } else {
        "success"
    };
    format!(
        r#"{{"ts":"2026-11-02T{:02}:{:02}:{:02}.{:03}Z","user":"u{:05}","src_ip":"10.20.{}.{}","host":"ehr-app-{}","patient_id":"p-{:06}","action":"{action}","outcome":"{outcome}","msg":"opened chart section {}","level":"info","session":"{r:016x}","client":{{"app":"ehr-web","version":"24.3.{}"}}}}"#,
        (i / 3600) % 24,
        (i / 60) % 60,
        i % 60,
        i % 1000,
        r % 5000,
        (r >> 8) % 120,
        (r >> 16) % 256,
        (r >> 24) % 4,
        (r >> 28) % 400_000,
        (r >> 40) % 12,
        (r >> 44) % 9,
    )
}
