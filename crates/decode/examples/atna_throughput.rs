//! Decoder throughput on IHE ATNA audit messages as an integration engine sends them: RFC 5424
//! syslog (MSGID `IHE+RFC-3881`) carrying a one-line DICOM `AuditMessage` for a patient
//! demographics query (user, source and destination participants, a base64 HL7 query and a
//! patient object). Generates 100,000 records in memory, decodes them with the `atna` decoder
//! on one thread, and prints records/s and MB/s, with the share of the event id (SHA-256) for
//! scale.
//!
//! `cargo run --release -p ward-decode --example atna_throughput [-- RECORDS]`

mod common;
use common::{best_of_3, mix};

use ward_decode::Decoder;
use ward_decode::atna::Atna;

fn main() {
    let records: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let lines: Vec<String> = (0..records).map(pdq_message).collect();
    let bytes: usize = lines.iter().map(String::len).sum();
    println!(
        "{records} records, {:.0} bytes on average",
        bytes as f64 / records as f64
    );
    let mut out = Vec::with_capacity(4);
    let decode = best_of_3(|| {
        let mut events = 0usize;
        for line in &lines {
            out.clear();
            Atna.decode(line.as_bytes(), &mut out);
            events += out.iter().filter(|d| d.is_ok()).count();
        }
        assert_eq!(events, records, "every generated record decodes");
    });
    let ids = best_of_3(|| {
        for line in &lines {
            std::hint::black_box(ward_model::EventId::of_record(
                "atna",
                ward_model::Timestamp(0),
                line.as_bytes(),
            ));
        }
    });
    println!(
        "atna decode:          {:>9.0} records/s, {:>4.0} MB/s (best of 3, one thread)",
        records as f64 / decode,
        bytes as f64 / decode / 1e6
    );
    println!(
        "  event ids alone:    {:>9.0} records/s ({:.0}% of decode time)",
        records as f64 / ids,
        100.0 * ids / decode
    );
}

fn pdq_message(i: usize) -> String {
    let r = mix(i as u64);
    let seconds = 1_714_550_400 + (i as u64) * 2;
    let (h, m, s) = ((seconds / 3600) % 24, (seconds / 60) % 60, seconds % 60);
    format!(
        concat!(
            r#"<85>1 2024-05-01T{h:02}:{m:02}:{s:02}.{ms:03}Z mpi01.clinic.example.org MPI {pid} IHE+RFC-3881 - "#,
            r#"<?xml version="1.0" encoding="UTF-8"?><AuditMessage><EventIdentification EventActionCode="E" EventDateTime="2024-05-01T{h:02}:{m:02}:{s:02}.{ms:03}Z" EventOutcomeIndicator="0">"#,
            r#"<EventID csd-code="110112" codeSystemName="DCM" originalText="Query"/><EventTypeCode csd-code="ITI-21" codeSystemName="IHE Transactions" originalText="Patient Demographics Query"/></EventIdentification>"#,
            r#"<ActiveParticipant UserID="CLINIC|PDQ_CONSUMER" UserIsRequestor="true" NetworkAccessPointID="10.{a}.{b}.{c}" NetworkAccessPointTypeCode="2"><RoleIDCode csd-code="110153" codeSystemName="DCM" originalText="Source Role ID"/></ActiveParticipant>"#,
            r#"<ActiveParticipant UserID="user{user:04}" UserName="Clinician {user}" UserIsRequestor="true"/>"#,
            r#"<ActiveParticipant UserID="MPI|PDQ_SUPPLIER" UserIsRequestor="false" NetworkAccessPointID="10.1.1.2" NetworkAccessPointTypeCode="2"><RoleIDCode csd-code="110152" codeSystemName="DCM" originalText="Destination Role ID"/></ActiveParticipant>"#,
            r#"<AuditSourceIdentification AuditEnterpriseSiteID="CLINIC" AuditSourceID="MPI"><AuditSourceTypeCode csd-code="4" codeSystemName="DCM" originalText="Application Server Process"/></AuditSourceIdentification>"#,
            r#"<ParticipantObjectIdentification ParticipantObjectID="q{i}" ParticipantObjectTypeCode="2" ParticipantObjectTypeCodeRole="24"><ParticipantObjectIDTypeCode csd-code="ITI-21" codeSystemName="IHE Transactions" originalText="Patient Demographics Query"/>"#,
            r#"<ParticipantObjectQuery>TVNIfF5+XCZ8TUVTQV9QRF9DT05TVU1FUnxNRVNBX0RFUEFSVE1FTlR8TUVTQV9QRF9TVVBQTElFUnxQSU18MjAwODEwMzExMTI3MDR8fFFCUF5RMjJeUUJQX1EyMXwzMjQ0MDY2MDl8UHwyLjV8fHxFUg1RUER8SUhFIFBEUSBRdWVyeXw0NzEzfEBQSUQuNS4xXm1laWVyDVJDUHxJfDEwXlJEDQ==</ParticipantObjectQuery>"#,
            r#"<ParticipantObjectDetail type="MSH-10" value="MzI0NDA2NjA5"/></ParticipantObjectIdentification>"#,
            r#"<ParticipantObjectIdentification ParticipantObjectID="{patient}^^^CLINIC&amp;1.2.3.4&amp;ISO^PI" ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="1"><ParticipantObjectIDTypeCode csd-code="2" codeSystemName="RFC-3881" originalText="Patient Number"/></ParticipantObjectIdentification></AuditMessage>"#
        ),
        h = h,
        m = m,
        s = s,
        ms = r % 1000,
        pid = 1000 + r % 5000,
        a = (r >> 8) % 256,
        b = (r >> 16) % 256,
        c = 1 + (r >> 24) % 254,
        user = r % 2000,
        i = i,
        patient = mix(r) % 500_000,
    )
}
