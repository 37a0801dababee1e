//! The `windows` decoder over 30,000 real Windows events (Sysmon, Security, PowerShell) from the
//! Open Threat Research Forge datasets, as shared beside the repository: every line decodes,
//! and the fields Sigma rules select on keep their names and values.

use crate::support::shared_data;
use std::io::Read;
use ward_decode::Decoder;
use ward_decode::windows::WindowsEvent;
use ward_model::event::class;

fn otrf_lines() -> Option<Vec<u8>> {
    let data = shared_data()?;
    let file = std::fs::File::open(data.join("otrf/otrf-windows-30k.jsonl.gz")).expect("OTRF file");
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut text)
        .expect("gzip");
    Some(text)
}

#[test]
fn every_otrf_event_decodes_with_event_id_channel_and_hostname_kept() {
    let Some(text) = otrf_lines() else { return };
    let mut out = Vec::new();
    let (mut lines, mut logons, mut processes) = (0, 0, 0);
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        lines += 1;
        let source: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(line).expect("the OTRF line is JSON");
        assert_eq!(
            WindowsEvent.sniff(line),
            ward_decode::Sniff::Yes,
            "line {lines}"
        );
        out.clear();
        WindowsEvent.decode(line, &mut out);
        let event = match out.as_slice() {
            [Ok(event)] => event,
            other => panic!("line {lines}: {other:?}"),
        };
        for key in ["EventID", "Channel", "Hostname"] {
            assert_eq!(
                event
                    .unmapped
                    .get(key)
                    .map(|v| v.to_string().trim_matches('"').to_string()),
                source
                    .get(key)
                    .map(|v| v.to_string().trim_matches('"').to_string()),
                "line {lines}: {key}"
            );
        }
        assert_eq!(
            event.device.hostname.as_deref(),
            source.get("Hostname").and_then(|h| h.as_str()),
            "line {lines}"
        );
        logons += usize::from(event.class_uid == class::AUTHENTICATION);
        processes += usize::from(event.class_uid == class::PROCESS_ACTIVITY);
    }
    assert_eq!(lines, 30_000);
    assert!(
        logons > 0 && processes > 0,
        "{logons} logons, {processes} processes"
    );
}
