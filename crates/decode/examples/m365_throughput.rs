//! Decoder throughput on a Microsoft 365 message trace CSV (`Get-MessageTraceV2 |
//! Export-Csv`): one header row, then quoted rows. Generates 400,000 rows in memory, feeds
//! them in order to one `m365-trace` source decoder on one thread, and prints records/s and
//! MB/s.
//!
//! `cargo run --release -p ward-decode --example m365_throughput [-- RECORDS]`

mod common;
use common::{best_of_3_in_order, generate, mix};

use ward_decode::m365::MessageTrace;

const HEADER: &str = r#""Received","SenderAddress","RecipientAddress","Subject","Status","ToIP","FromIP","Size","MessageId","MessageTraceId","Organization""#;

fn main() {
    let (records, lines, bytes) = generate(400_000, record);
    let decode = best_of_3_in_order(&MessageTrace, HEADER, &lines);
    println!(
        "m365-trace decode: {:>9.0} records/s, {:>5.0} MB/s (best of 3, one thread)",
        records as f64 / decode,
        bytes as f64 / decode / 1e6
    );
}

fn record(i: usize) -> String {
    let r = mix(i as u64);
    let s = (i / 10) % 60;
    let status = [
        "Delivered",
        "Delivered",
        "Delivered",
        "FilteredAsSpam",
        "Failed",
        "Quarantined",
    ][(r % 6) as usize];
    format!(
        r#""2024-05-20T16:45:{s:02}.4471234","user{}@stmarys-hospital.org","patient{}@outlook.com","Discharge summary, ""follow-up"" {i}","{status}","52.101.8.{}","10.30.4.{}","{}","<{r:x}@stmarys-hospital.org>","7f3c1a2b-0000-4c1d-9e8f-{r:012x}","stmaryshospital.onmicrosoft.com""#,
        r % 5000,
        r % 100000,
        (r >> 8) % 256,
        (r >> 16) % 256,
        r % 90000
    )
}
