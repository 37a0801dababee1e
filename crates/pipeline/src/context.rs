//! Context import: FHIR organisation resources (staff, departments, patients, encounters,
//! care teams), HL7 v2 ADT messages and the HR roster (CSV, recognised by its header line)
//! into the store, with the same framing and quarantine rules as event ingest.

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
/// Rows of an HR roster. A row is read in the light of its file's header line, so a
/// quarantined row is mended by importing its file again rather than retried alone.
pub const ROSTER_FORMAT: &str = "hr-roster";

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
    // An HR roster: its header line names the columns of every row after it.
    let mut roster: Option<(ward_decode::roster::RosterColumns, u64)> = None;
    let (first, mut rest) = frame(
        source,
        1024,
        usize::MAX,
        16 << 20,
        max_document_bytes,
        &mut |lines| {
            if let Some(&(header, line)) = lines.first()
                && let Some(columns) = ward_decode::roster::RosterColumns::from_header(header)
            {
                roster = Some((columns, line));
                format = ROSTER_FORMAT;
                return Ok(ward_decode::Framing::Lines);
            }
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
        },
    )?;
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
            match &roster {
                Some((_, header)) if r.line == *header => continue,
                Some((columns, _)) => {
                    columns.parse_row(bytes, &mut out);
                    if out.is_empty() {
                        // A blank row holds nothing, and is nothing to quarantine.
                        continue;
                    }
                }
                None => parse(bytes, &mut out),
            }
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
                        format: "organisation context (FHIR Patient, Practitioner, PractitionerRole, Organization, Encounter, CareTeam, HL7 v2 ADT, or an HR roster CSV)"
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

#[cfg(test)]
mod tests {
    use super::*;
    use ward_model::ContextSummary;
    use ward_model::context::EmploymentStatus;
    use ward_store::QuarantineQuery;
    use ward_store::sqlite::SqliteStore;

    #[test]
    fn imports_an_hr_roster_recognised_by_its_header_and_quarantines_bad_rows() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let roster = "login,name,department,role,hire_date,termination_date,status\n\
            u1000,Jacob Ryan,MED,physician,2019-03-21,,active\n\
            \n\
            u1007,Hannah Robinson,MED,nurse,2015-03-13,2026-08-12,terminated\n\
            u1008,Bad Date,MED,nurse,2015-03-13,someday,terminated\n";
        let summary = import_context(
            &store,
            Source::new(
                "hr-roster.csv",
                std::io::Cursor::new(roster.as_bytes().to_vec()),
            ),
            1 << 20,
        )
        .unwrap();
        assert_eq!(summary.total(), 2, "{summary:?}");
        assert_eq!(summary.quarantined, 1);
        let stored = store
            .get_context(ContextKind::Employment, "roster-u1007")
            .unwrap()
            .expect("the terminated row is stored");
        let ContextSummary::Employment {
            status, terminated, ..
        } = stored.summary
        else {
            panic!("not an employment: {:?}", stored.summary);
        };
        assert_eq!(status, EmploymentStatus::Terminated);
        assert!(terminated.is_some());
        let quarantined = store.list_quarantine(&QuarantineQuery::default()).unwrap();
        assert_eq!(quarantined.len(), 1);
        assert_eq!(quarantined[0].record.format, ROSTER_FORMAT);
        assert_eq!(quarantined[0].record.position.line, 5);
        assert!(quarantined[0].record.reason.contains("termination_date"));
    }

    #[test]
    fn a_csv_that_is_not_a_roster_is_refused_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let assets = "hostname,ip,kind\nws-1,10.0.0.1,workstation\n";
        let refused = import_context(
            &store,
            Source::new(
                "assets.csv",
                std::io::Cursor::new(assets.as_bytes().to_vec()),
            ),
            1 << 20,
        );
        assert!(
            matches!(refused, Err(IngestError::NotFormat { .. })),
            "{refused:?}"
        );
        assert_eq!(
            store.count_context(ContextKind::PractitionerRole).unwrap(),
            0
        );
    }
}
