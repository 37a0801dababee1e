//! Context import: FHIR organisation resources (staff, departments, patients, encounters,
//! care teams) into the store, with the same framing and quarantine rules as event ingest.

use crate::error::IngestError;
use crate::ingest::{Source, frame};
use std::collections::BTreeMap;

use std::time::{Duration, Instant};
use ward_model::{ContextKind, NewQuarantined, Position};
use ward_store::{Batch, Checkpoint, Store};

/// The format names recorded on quarantined context records, so `ward quarantine retry`
/// sends them back through the right context parser.
pub const CONTEXT_FORMAT: &str = "fhir-context";
pub const HL7_CONTEXT_FORMAT: &str = "hl7-context";

pub(crate) type ContextParser =
    fn(&[u8], &mut Vec<Result<ward_model::ContextResource, ward_decode::DecodeError>>);

/// What one context import did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContextSummary {
    pub source: String,
    pub records: u64,
    /// Resources written, by kind.
    pub imported: BTreeMap<ContextKind, u64>,
    pub quarantined: u64,
    pub elapsed: Duration,
}

impl ContextSummary {
    pub fn total(&self) -> u64 {
        self.imported.values().sum()
    }
}

/// Imports one source of FHIR context resources (NDJSON, a Bundle, or a single resource).
pub fn import_context(
    store: &dyn Store,
    source: Source,
    max_document_bytes: u64,
) -> Result<ContextSummary, IngestError> {
    let started = Instant::now();
    let name = source.name.clone();
    let io_err = |error| IngestError::Io {
        source_name: name.clone(),
        error,
    };
    // FHIR resources (NDJSON, Bundles) by default; HL7 v2 ADT messages, which span lines,
    // when the first lines are HL7.
    let mut parse: ContextParser = ward_decode::context::parse_context;
    let mut format = CONTEXT_FORMAT;
    let (first, mut rest) = frame(source, 1024, 16 << 20, max_document_bytes, &mut |lines| {
        if lines
            .iter()
            .any(|(line, _)| ward_decode::hl7::starts_message(line))
        {
            parse = ward_decode::hl7::adt_context;
            format = HL7_CONTEXT_FORMAT;
            return Ok(ward_decode::Framing::Grouped(
                ward_decode::hl7::starts_message,
            ));
        }
        Ok(ward_decode::Framing::Lines)
    })?;
    let chunks = first
        .map(Ok)
        .into_iter()
        .chain(std::iter::from_fn(move || rest.next_chunk().transpose()));
    let mut summary = ContextSummary {
        source: name.clone(),
        ..Default::default()
    };
    let mut checked = false;
    let mut out = Vec::new();
    for chunk in chunks {
        let chunk = chunk.map_err(io_err)?;
        let mut resources = Vec::new();
        let mut batch = Batch {
            checkpoint: Some(Checkpoint {
                source: name.clone(),
                offset: chunk.end_offset,
            }),
            ..Default::default()
        };
        for r in &chunk.records {
            let bytes = chunk.record(r);
            let position = Position {
                line: r.line,
                offset: r.offset,
                entry: None,
            };
            summary.records += 1;
            if let Some(len) = r.oversized {
                let mut q = NewQuarantined::new(
                    &name,
                    format,
                    position,
                    "record exceeds the size limit",
                    bytes,
                );
                q.raw_len = len;
                batch.quarantined.push(q);
                continue;
            }
            out.clear();
            parse(bytes, &mut out);
            if !checked {
                // As for events: a source whose first record holds no context resource at all
                // is not context, and is refused whole rather than quarantined line by line.
                if !out.iter().any(Result::is_ok) {
                    let reason = out
                        .iter()
                        .find_map(|d| d.as_ref().err().map(ToString::to_string))
                        .unwrap_or_else(|| "holds no resource".into());
                    return Err(IngestError::NotFormat {
                        source_name: name,
                        format: "organisation context (FHIR Patient, Practitioner, PractitionerRole, Organization, Encounter, CareTeam, or HL7 v2 ADT)"
                            .into(),
                        line: r.line,
                        reason,
                    });
                }
                checked = true;
            }
            for decoded in out.drain(..) {
                match decoded {
                    Ok(resource) => resources.push(resource),
                    Err(e) => {
                        let raw = e.raw.as_deref().unwrap_or(bytes);
                        let position = Position {
                            entry: e.entry,
                            ..position
                        };
                        batch
                            .quarantined
                            .push(NewQuarantined::new(&name, format, position, e.reason, raw));
                    }
                }
            }
        }
        // Resources first: a crash between the two writes re-imports them (an idempotent
        // upsert) rather than losing the checkpoint's quarantined records.
        store.put_context(&resources)?;
        for resource in &resources {
            *summary.imported.entry(resource.kind).or_default() += 1;
        }
        summary.quarantined += store.commit(&batch)?.quarantined;
    }
    summary.elapsed = started.elapsed();
    Ok(summary)
}
