//! Reading a source without storing it, for hunting and rule tests: the same framing, format
//! recognition, checks and decoders as ingest, with every event handed to the caller as it is
//! decoded (memory stays bounded by one chunk) and every failure counted with its position.

use crate::error::IngestError;
use crate::ingest::{IngestOptions, RecordDecoder, Source, open};
use ward_model::{Event, Position};

/// What a scan read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanSummary {
    pub source: String,
    pub format: String,
    pub records: u64,
    pub events: u64,
    /// Records (or container entries) that did not decode, with their first reasons.
    pub failed: u64,
    pub first_failures: Vec<(Position, String)>,
}

/// Decodes `source` and calls `on_event` with each event, in source order.
pub fn scan(
    source: Source,
    options: &IngestOptions,
    on_event: &mut dyn FnMut(Event),
) -> Result<ScanSummary, IngestError> {
    let name = source.name.clone();
    let opened = open(source, options)?;
    let mut summary = ScanSummary {
        source: name.clone(),
        format: opened.format.to_string(),
        ..Default::default()
    };
    let Some((decoder, first)) = opened.first else {
        return Ok(summary);
    };
    let mut chunker = opened.rest;
    let mut record_decoder = RecordDecoder::new(decoder, options.year);
    let mut out = Vec::new();
    let mut chunk = Some(first);
    while let Some(current) = chunk {
        for r in &current.records {
            summary.records += 1;
            let position = Position {
                line: r.line,
                offset: r.offset,
                entry: None,
            };
            out.clear();
            record_decoder.decode(current.record(r), &mut out);
            for decoded in out.drain(..) {
                match decoded {
                    Ok(mut event) => {
                        event.metadata.log_name = name.clone();
                        summary.events += 1;
                        on_event(event);
                    }
                    Err(e) => {
                        summary.failed += 1;
                        if summary.first_failures.len() < 10 {
                            summary.first_failures.push((
                                Position {
                                    entry: e.entry,
                                    ..position
                                },
                                e.reason,
                            ));
                        }
                    }
                }
            }
        }
        chunk = chunker.next_chunk().map_err(|error| IngestError::Io {
            source_name: name.clone(),
            error,
        })?;
    }
    Ok(summary)
}
