//! Decoder throughput on IHE BALP PatientRead AuditEvents (FHIR R4), the bulk of an EHR's
//! audit trail: generates 200,000 realistic NDJSON lines in memory, decodes them with the
//! `fhir` decoder on one thread, and prints records/s and MB/s. For scale it also times the
//! two costs every decode pays that the decoder does not choose: the event id (SHA-256 over the
//! record, fixed by the model) and a bare JSON syntax pass (serde_json into `IgnoredAny`).
//!
//! `cargo run --release -p ward-decode --example fhir_throughput [-- RECORDS]`

mod common;
use common::{best_of_3, mix};

use ward_decode::Decoder;
use ward_decode::fhir::FhirAuditEvent;

fn main() {
    let records: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000);
    let lines: Vec<String> = (0..records).map(balp_patient_read).collect();
    let bytes: usize = lines.iter().map(String::len).sum();
    println!(
        "{records} records, {:.0} bytes on average",
        bytes as f64 / records as f64
    );

    let decoder = FhirAuditEvent;
    let mut out = Vec::with_capacity(4);
    let decode = best_of_3(|| {
        let mut events = 0usize;
        for line in &lines {
            out.clear();
            decoder.decode(line.as_bytes(), &mut out);
            events += out.iter().filter(|d| d.is_ok()).count();
        }
        assert_eq!(events, records, "every generated record decodes");
    });
    let ids = best_of_3(|| {
        for line in &lines {
            std::hint::black_box(ward_model::EventId::of_record(
                "fhir",
                ward_model::Timestamp(0),
                line.as_bytes(),
            ));
        }
    });
    let scan = best_of_3(|| {
        for line in &lines {
            let scanned: Result<serde::de::IgnoredAny, _> = serde_json::from_slice(line.as_bytes());
            assert!(scanned.is_ok());
        }
    });
    let rate = |seconds: f64| records as f64 / seconds;
    println!(
        "fhir decode:          {:>9.0} records/s, {:>4.0} MB/s (best of 3, one thread)",
        rate(decode),
        bytes as f64 / decode / 1e6
    );
    println!(
        "  event ids alone:    {:>9.0} records/s ({:.0}% of decode time)",
        rate(ids),
        100.0 * ids / decode
    );
    println!(
        "  JSON scan alone:    {:>9.0} records/s ({:.0}% of decode time)",
        rate(scan),
        100.0 * scan / decode
    );
}

/// One BALP PatientRead event as a FHIR server writes it (~1.8 KB): client (Source Role ID)
/// and server (Destination Role ID) agents with network addresses, the user as requestor,
/// the patient and the data entity.
fn balp_patient_read(i: usize) -> String {
    let r = mix(i as u64);
    let user = r % 2_000;
    let patient = mix(r) % 500_000;
    let resource = [
        "Observation",
        "Condition",
        "MedicationRequest",
        "DocumentReference",
        "Encounter",
    ][(r % 5) as usize];
    let seconds = 1_714_550_400 + (i as u64) * 3;
    let (h, m, s) = ((seconds / 3600) % 24, (seconds / 60) % 60, seconds % 60);
    let day = 1 + (seconds / 86_400) % 28;
    format!(
        concat!(
            r#"{{"resourceType":"AuditEvent","id":"{id:016x}-{i}","#,
            r#""type":{{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest","display":"Restful Operation"}},"#,
            r#""subtype":[{{"system":"http://hl7.org/fhir/restful-interaction","code":"read","display":"read"}}],"#,
            r#""action":"R","recorded":"2024-05-{day:02}T{h:02}:{m:02}:{s:02}.{ms:03}Z","outcome":"0","#,
            r#""purposeOfEvent":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"TREAT"}}]}}],"#,
            r#""agent":[{{"type":{{"coding":[{{"system":"http://dicom.nema.org/resources/ontology/DCM","code":"110153"}}]}},"requestor":false,"who":{{"display":"ws-{ws}.clinic.example.org"}},"network":{{"address":"10.{a}.{b}.{c}","type":"2"}}}},"#,
            r#"{{"type":{{"coding":[{{"system":"http://dicom.nema.org/resources/ontology/DCM","code":"110152"}}]}},"requestor":false,"who":{{"reference":"Device/fhir-server"}},"network":{{"address":"https://ehr.clinic.example.org/fhir","type":"5"}}}},"#,
            r#"{{"type":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP"}}]}},"requestor":true,"who":{{"identifier":{{"system":"https://idp.clinic.example.org","value":"user{user:04}"}},"display":"Clinician {user}"}}}}],"#,
            r#""source":{{"site":"ehr.clinic.example.org","observer":{{"reference":"Device/fhir-server"}},"type":[{{"system":"http://terminology.hl7.org/CodeSystem/security-source-type","code":"4","display":"Application Server"}}]}},"#,
            r#""entity":[{{"what":{{"reference":"Patient/p{patient:06}"}},"type":{{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"1"}},"role":{{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"1"}}}},"#,
            r#"{{"what":{{"reference":"{resource}/{res:x}"}},"type":{{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"2"}},"role":{{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"4"}}}}]}}"#
        ),
        id = r,
        i = i,
        day = day,
        h = h,
        m = m,
        s = s,
        ms = r % 1000,
        ws = r % 300,
        a = (r >> 8) % 256,
        b = (r >> 16) % 256,
        c = 1 + (r >> 24) % 254,
        user = user,
        patient = patient,
        resource = resource,
        res = mix(r ^ 7) % 0xff_ffff,
    )
}
