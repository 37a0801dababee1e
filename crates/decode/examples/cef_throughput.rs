//! Decoder throughput on CEF and LEEF lines as firewalls and EDRs send them behind a syslog
//! header: traffic logs with a dozen extension keys, detections with values holding spaces
//! and escapes. Generates 400,000 lines in memory (three CEF to one LEEF), decodes them with
//! the `cef` and `leef` decoders on one thread, and prints records/s and MB/s.
//!
//! `cargo run --release -p ward-decode --example cef_throughput [-- RECORDS]`

mod common;
use common::{best_of_3, generate, mix};

use ward_decode::Decoder;
use ward_decode::cef::{Cef, Leef};

fn main() {
    let (records, lines, bytes) = generate(400_000, record);
    let mut out = Vec::with_capacity(4);
    let decode = best_of_3(|| {
        let mut events = 0usize;
        for (i, line) in lines.iter().enumerate() {
            out.clear();
            if i % 4 == 3 {
                Leef.decode_in_year(line.as_bytes(), 2024, &mut out);
            } else {
                Cef.decode_in_year(line.as_bytes(), 2024, &mut out);
            }
            events += out.iter().filter(|d| d.is_ok()).count();
        }
        assert_eq!(events, records, "every generated record decodes");
    });
    println!(
        "cef/leef decode: {:>9.0} records/s, {:>5.0} MB/s (best of 3, one thread)",
        records as f64 / decode,
        bytes as f64 / decode / 1e6
    );
}

fn record(i: usize) -> String {
    let r = mix(i as u64);
    let src = format!("10.30.{}.{}", (r >> 8) % 256, 1 + (r >> 16) % 254);
    let dst = format!("52.101.{}.{}", (r >> 24) % 256, 1 + (r >> 32) % 254);
    let rt = 1_716_224_761_000u64 + i as u64 * 13;
    match i % 4 {
        3 => format!(
            "<13>May 20 17:11:00 fw01 LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src={src}^dst={dst}^srcPort={}^dstPort=104^proto=TCP^sev=8^usrName=user{}^devTime={rt}^cat=DICOM transfer to external peer",
            1024 + r % 60000,
            r % 5000
        ),
        1 => format!(
            "<134>May 20 17:06:01 edr01 CEF:0|CrowdStrike|FalconHost|1.0|DetectionSummaryEvent|Suspicious PowerShell execution|9|shost=WS-{} suser=STMARYS\\\\user{} fname=powershell.exe cs1Label=CommandLine cs1=powershell.exe -nop -w hidden -enc SQBFAFgA msg=Process tried to download a payload from {dst} act=Process blocked outcome=blocked rt={rt}",
            r % 900,
            r % 5000
        ),
        _ => format!(
            "<14>May 20 17:05:12 pa-edge-01 CEF:0|Palo Alto Networks|PAN-OS|10.2.4|TRAFFIC|end|3|rt={rt} src={src} dst={dst} sourceTranslatedAddress=198.51.100.7 cs1Label=Rule cs1=allow-outbound-web suser=corp\\\\user{} cs2Label=App cs2=ssl act=allow outcome=success spt={} dpt=443 proto=TCP in={} out={} dvchost=pa-edge-01",
            r % 5000,
            1024 + r % 60000,
            r % 9000,
            r % 90000
        ),
    }
}
