//! Decoder throughput on HL7 v2 ADT messages (A01/A02/A03/A08 with PID, NK1, PV1 and ROL, about
//! 700 bytes each, `\r`-separated as MLLP delivers them): generates 200,000 messages in memory,
//! decodes them with the `hl7` decoder on one thread, then parses their care-relationship
//! context with `hl7::adt_context`, and prints records/s and MB/s for each.
//!
//! `cargo run --release -p ward-decode --example hl7_throughput [-- RECORDS]`

mod common;
use common::{best_of_3, mix};

use ward_decode::Decoder;
use ward_decode::hl7::{Hl7v2, adt_context};

fn main() {
    let records: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000);
    let messages: Vec<String> = (0..records).map(adt).collect();
    let bytes: usize = messages.iter().map(String::len).sum();
    println!(
        "{records} records, {:.0} bytes on average",
        bytes as f64 / records as f64
    );
    let mut out = Vec::with_capacity(2);
    let decode = best_of_3(|| {
        let mut events = 0usize;
        for m in &messages {
            out.clear();
            Hl7v2.decode(m.as_bytes(), &mut out);
            events += out.iter().filter(|d| d.is_ok()).count();
        }
        assert_eq!(events, records, "every generated message decodes");
    });
    let mut context = Vec::with_capacity(2);
    let contexts = best_of_3(|| {
        let mut resources = 0usize;
        for m in &messages {
            context.clear();
            adt_context(m.as_bytes(), &mut context);
            resources += context.iter().filter(|r| r.is_ok()).count();
        }
        assert_eq!(resources, 2 * records, "a patient and an encounter each");
    });
    let rate = |seconds: f64| records as f64 / seconds;
    println!(
        "hl7 decode:           {:>9.0} records/s, {:>4.0} MB/s (best of 3, one thread)",
        rate(decode),
        bytes as f64 / decode / 1e6
    );
    println!(
        "hl7 adt_context:      {:>9.0} records/s, {:>4.0} MB/s",
        rate(contexts),
        bytes as f64 / contexts / 1e6
    );
}

fn adt(i: usize) -> String {
    let r = mix(i as u64);
    let trigger = ["A01", "A02", "A03", "A08"][(r % 4) as usize];
    let minute = i % 60;
    let hour = (i / 60) % 24;
    let day = 1 + (i / 1440) % 28;
    let stamp = format!("202405{day:02}{hour:02}{minute:02}00-0500");
    let discharge = if trigger == "A03" { stamp.as_str() } else { "" };
    format!(
        "MSH|^~\\&|EPICADT|DH|LABADT|DH|{stamp}||ADT^{trigger}^ADT_A01|MSG{i:08}|P|2.5\r\
         EVN|{trigger}|{stamp}|||U{user:04}^Clerk^Pat\r\
         PID|1||MRN{mrn:07}^^^DH^MR||FAMILY{mrn}^GIVEN^M||19620320|F|||{house} MAIN ST^^SPRINGFIELD^IL^62701||(217)5550101\r\
         NK1|1|FAMILY{mrn}^SPOUSE|SPO^Spouse^HL70063\r\
         PV1|1|I|W{ward}^{room}^01^DH||||D{att:04}^Welby^Marcus^^^DR|D{refd:04}^Quinn^Michaela|||MED||||||||V{visit:08}^^^DH^VN|||||||||||||||||||||||||20240501093000-0500|{discharge}\r\
         ROL|1|AD|RN^Registered Nurse^HL70443|N{nurse:04}^Nightingale^Flo|{stamp}\r",
        user = r % 500,
        mrn = mix(r) % 5_000_000,
        house = r % 999,
        ward = r % 20,
        room = r % 40,
        att = mix(r ^ 1) % 900,
        refd = mix(r ^ 2) % 900,
        visit = mix(r ^ 3) % 90_000_000,
        nurse = mix(r ^ 4) % 3000,
    )
}
