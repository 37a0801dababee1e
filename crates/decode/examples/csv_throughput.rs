//! Decoder throughput on an EHR access log exported as CSV and read through a mapping (the
//! example mapping of `docs/formats.md`: US dates with AM/PM in a local zone, user, patient,
//! action, workstation, client address and result columns). Generates 400,000 rows in memory,
//! feeds them in order, after the header, to one `csv` source decoder on one thread, and prints
//! records/s and MB/s.
//!
//! `cargo run --release -p ward-decode --example csv_throughput [-- RECORDS]`

mod common;
use common::{best_of_3_in_order, generate, mix};

use ward_decode::csv::{CsvMapping, MappedCsv};

const HEADER: &str = "Access Date/Time,User ID,User Name,User Role,Patient MRN,Patient Name,Action,Activity Type,Workstation,Client IP,Result,Department";

fn main() {
    let mapping: CsvMapping = serde_json::from_value(serde_json::json!({
        "class": "api_activity",
        "required": ["user", "patient_id"],
        "time": {
            "column": "Access Date/Time",
            "format": "%m/%d/%Y %I:%M:%S %p",
            "timezone": "America/Chicago"
        },
        "columns": {
            "user": "User ID", "user_name": "User Name", "user_role": "User Role",
            "patient_id": "Patient MRN", "patient_name": "Patient Name", "action": "Action",
            "resource_type": "Activity Type", "workstation": "Workstation",
            "source_ip": "Client IP", "outcome": "Result"
        },
        "actions": {
            "Chart Viewed": "read", "Note Signed": "update", "Order Entered": "create",
            "Report Printed": "read"
        },
        "outcomes": {"success": ["Allowed"], "failure": ["Denied"]}
    }))
    .expect("the example mapping reads");
    let decoder = MappedCsv::new(mapping).expect("the example mapping checks");
    let (records, lines, bytes) = generate(400_000, record);
    let decode = best_of_3_in_order(&decoder, HEADER, &lines);
    println!(
        "csv decode:         {:>9.0} records/s, {:>5.0} MB/s (best of 3, one thread)",
        records as f64 / decode,
        bytes as f64 / decode / 1e6
    );
}

fn record(i: usize) -> String {
    let r = mix(i as u64);
    let action = [
        "Chart Viewed",
        "Chart Viewed",
        "Note Signed",
        "Order Entered",
        "Report Printed",
    ][(r % 5) as usize];
    let result = if r.is_multiple_of(50) {
        "Denied"
    } else {
        "Allowed"
    };
    let (hour, minute, second) = ((i / 3600) % 12 + 1, (i / 60) % 60, i % 60);
    let meridian = if (i / 43_200).is_multiple_of(2) {
        "AM"
    } else {
        "PM"
    };
    format!(
        "11/02/2026 {hour:02}:{minute:02}:{second:02} {meridian},U{:05},\"Nurse, Jane {}\",RN,MRN-{:07},\"Doe, John {}\",{action},Encounter,WS-ICU-{:03},10.20.{}.{},{result},Cardiology",
        r % 5000,
        r % 977,
        (r >> 12) % 400_000,
        (r >> 20) % 991,
        (r >> 8) % 120,
        (r >> 16) % 256,
        (r >> 24) % 256,
    )
}
