//! The ATNA audit messages of an IHE toolkit, kept outside the repository in
//! `<repo>/../shared/data/atna`: every message, cut into records as the pipeline cuts an ATNA
//! source, decodes to exactly one event and is detected as ATNA from its first lines.

use crate::support::{Parser, records_for, shared_data};
use ward_decode::atna::Atna;
use ward_decode::{Decoder, Sniff};
use ward_model::event::{api_activity, class};
use ward_model::{Event, Status};

fn decode_example(name: &str, bytes: &[u8]) -> Event {
    let parser = Parser::Events(&Atna);
    let records = records_for(parser, bytes);
    assert_eq!(records.len(), 1, "{name}: one record");
    let mut out = Vec::new();
    Atna.decode(records[0].bytes, &mut out);
    match out.as_slice() {
        [Ok(event)] => event.clone(),
        other => panic!("{name}: expected one event, got {other:?}"),
    }
}

fn examples() -> Option<Vec<(String, Vec<u8>)>> {
    let dir = shared_data()?.join("atna");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    Some(
        files
            .into_iter()
            .map(|p| {
                let name = p
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                (name, std::fs::read(&p).expect("example file"))
            })
            .collect(),
    )
}

#[test]
fn every_ihe_toolkit_atna_message_decodes_to_one_event() {
    let Some(examples) = examples() else { return };
    assert!(examples.len() >= 12, "expected the 12 ATNA examples");
    for (name, bytes) in &examples {
        let sample: Vec<&[u8]> = bytes
            .split(|&b| b == b'\n')
            .filter(|l| !l.trim_ascii().is_empty())
            .take(16)
            .collect();
        assert_eq!(
            ward_decode::detect(&sample).map(|d| d.name()),
            Some("atna"),
            "{name}"
        );
        assert!(sample.iter().any(|l| Atna.sniff(l) == Sniff::Yes), "{name}");
        let event = decode_example(name, bytes);
        assert!(event.time.millis() > 0, "{name}: time");
        assert!(event.metadata.event_code.is_some(), "{name}: EventID");
        assert!(event.activity_name.is_some(), "{name}: activity");
        assert_eq!(event.status, Status::Success, "{name}");
        assert!(event.device.hostname.is_some(), "{name}: audit source");
    }
}

#[test]
fn pdq_example_is_a_query_read_of_a_patient_with_its_decoded_hl7_query() {
    let Some(examples) = examples() else { return };
    let (_, bytes) = examples
        .iter()
        .find(|(n, _)| n == "pdq.xml")
        .expect("pdq.xml");
    let e = decode_example("pdq.xml", bytes);
    assert_eq!(
        (e.class_uid, e.activity_id),
        (class::API_ACTIVITY, api_activity::READ)
    );
    assert_eq!(e.metadata.event_code.as_deref(), Some("110112"));
    assert_eq!(
        e.activity_name.as_deref(),
        Some("Patient Demographics Query")
    );
    assert_eq!(e.patient.id.as_deref(), Some("24"));
    assert_eq!(
        e.unmapped["patient.assigning_authority"],
        "MPI&2.16.840.1.113883.3.37.4.1.1.2.1.1&ISO"
    );
    assert_eq!(
        e.unmapped["patient.other_ids"].as_array().map(Vec::len),
        Some(3)
    );
    let query = e.resource.query.as_deref().unwrap_or_default();
    assert!(query.starts_with("MSH|^~\\&|MESA_PD_CONSUMER"), "{query}");
    assert_eq!(e.src_endpoint.ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(e.dst_endpoint.ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(
        e.actor.user.name.as_deref(),
        Some("MESA_DEPARTMENT|MESA_PD_CONSUMER")
    );
    assert_eq!(e.device.hostname.as_deref(), Some("MPI"));
}

#[test]
fn pix_feed_examples_follow_their_action_codes() {
    let Some(examples) = examples() else { return };
    for (name, activity) in [
        ("pixfeed.xml", api_activity::CREATE),
        ("pixfeedmerge.xml", api_activity::DELETE),
        ("pixfeedsource.xml", api_activity::UPDATE),
        ("pixupdatesource.xml", api_activity::READ),
    ] {
        let (_, bytes) = examples.iter().find(|(n, _)| n == name).expect(name);
        let e = decode_example(name, bytes);
        assert_eq!(e.activity_id, activity, "{name}");
        assert!(e.patient.id.is_some(), "{name}: patient");
    }
}
