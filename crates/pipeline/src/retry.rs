//! `ward quarantine retry`: runs quarantined records through the decoders again (after a
//! decoder fix, or with the right `--format`) and releases those that now decode.

use crate::context::ContextParser;
use crate::context::{CONTEXT_FORMAT, HL7_CONTEXT_FORMAT};
use crate::error::IngestError;
use crate::ingest::{known_formats, push_decoded};
use ward_decode::Decoder;
use ward_store::{Batch, QuarantineQuery, Store};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetrySummary {
    pub examined: u64,
    /// Records that now decode: stored (events or context) and released from quarantine.
    pub released: u64,
    pub events: u64,
    /// Records that still fail (they stay quarantined).
    pub still_failing: u64,
    /// Records kept only in part (longer than the quarantine bound): they cannot be re-run.
    pub incomplete: u64,
}

/// Re-runs every quarantined record (or those of `source`), with `format` overriding the
/// format each was read as.
pub fn retry_quarantine(
    store: &dyn Store,
    format: Option<&str>,
    source: Option<&str>,
) -> Result<RetrySummary, IngestError> {
    let forced: Option<&'static dyn Decoder> = match format {
        None | Some("auto") => None,
        Some(CONTEXT_FORMAT | HL7_CONTEXT_FORMAT) => None,
        Some(name) => {
            Some(
                ward_decode::by_name(name).ok_or_else(|| IngestError::UnknownFormat {
                    name: name.to_string(),
                    known: format!(
                        "{}, {CONTEXT_FORMAT}, {HL7_CONTEXT_FORMAT}",
                        known_formats()
                    ),
                })?,
            )
        }
    };
    let mut summary = RetrySummary::default();
    let mut after_id = None;
    let mut out = Vec::new();
    let mut context_out = Vec::new();
    loop {
        let page = store.list_quarantine(&QuarantineQuery {
            source: source.map(str::to_string),
            limit: Some(1024),
            after_id,
        })?;
        let Some(last) = page.last() else { break };
        after_id = Some(last.id);
        let mut batch = Batch::default();
        let mut resources = Vec::new();
        let mut released = Vec::new();
        for q in &page {
            summary.examined += 1;
            let record = &q.record;
            if record.is_truncated() {
                summary.incomplete += 1;
                continue;
            }
            let context_format = match format {
                Some(f) => f,
                None => record.format.as_str(),
            };
            let context_parser: Option<ContextParser> = match context_format {
                CONTEXT_FORMAT => Some(ward_decode::context::parse_context),
                HL7_CONTEXT_FORMAT => Some(ward_decode::hl7::adt_context),
                _ => None,
            };
            if let Some(parse) = context_parser {
                context_out.clear();
                parse(&record.raw, &mut context_out);
                if !context_out.is_empty() && context_out.iter().all(Result::is_ok) {
                    resources.extend(context_out.drain(..).flatten());
                    released.push(q.id);
                } else {
                    summary.still_failing += 1;
                }
                continue;
            }
            let decoder = forced
                .or_else(|| ward_decode::by_name(&record.format))
                .or_else(|| ward_decode::detect(&[&record.raw]));
            let Some(decoder) = decoder else {
                summary.still_failing += 1;
                continue;
            };
            out.clear();
            // The year a record was received in is the best guess for timestamps without one.
            decoder.decode_in_year(&record.raw, q.quarantined_at.year(), &mut out);
            if out.is_empty() || out.iter().any(Result::is_err) {
                summary.still_failing += 1;
                continue;
            }
            for decoded in out.drain(..) {
                push_decoded(
                    &mut batch,
                    decoded,
                    &record.source,
                    decoder.name(),
                    record.position,
                    &record.raw,
                );
            }
            released.push(q.id);
        }
        // Store first, release after: a crash in between leaves the record quarantined and its
        // events stored, and the next retry counts them as duplicates instead of losing them.
        store.put_context(&resources)?;
        let receipt = store.commit(&batch)?;
        summary.events += receipt.inserted + receipt.duplicates;
        summary.released += store.release_quarantine(&released)?;
    }
    Ok(summary)
}
