//! Ingest of one source: pick the decoder, check the source really is in that format, then
//! stream it through decode workers to the batched writer.

use crate::chunk::{Chunk, Chunker, RawRecord};
use crate::error::{IngestError, excerpt};
use crossbeam_channel::bounded;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use ward_decode::{Decoded, Decoder, Framing, SourceDecoder};
use ward_detect::Engine;
use ward_model::{NewQuarantined, Position};
use ward_store::{Batch, Checkpoint, Prepared, Store, StoreError};

/// Records per chunk: each chunk becomes one store transaction.
const RECORDS_PER_CHUNK: usize = 4096;
/// … unless the records are large: the input bytes of the chunks in flight are bounded by
/// this, shared among the chunks that can be in the pipeline at once (about one per decode
/// worker, and the one being committed). A chunk becomes a batch two to three times its size
/// (each event parsed, its body encoded beside it), so this keeps ingest's memory flat however
/// many workers run and whatever the record size: chunks of 2 KB FHIR audit records close at
/// 8 MB with one worker (about 4,000 records), at 5.3 MB with two (about 2,700).
const IN_FLIGHT_INPUT_BYTES: usize = 16 << 20;

/// The byte cap of one chunk for `workers` decode workers.
fn chunk_bytes(workers: usize) -> usize {
    IN_FLIGHT_INPUT_BYTES / (workers.max(1) + 1)
}
/// How many records are looked at to recognise and check the format.
const SNIFF_RECORDS: usize = 16;

/// A readable input with a name for messages, positions and `metadata.log_name`.
pub struct Source {
    pub name: String,
    pub reader: Box<dyn Read + Send>,
}

impl Source {
    pub fn new(name: impl Into<String>, reader: impl Read + Send + 'static) -> Self {
        Source {
            name: name.into(),
            reader: Box::new(reader),
        }
    }
}

#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// `None` or `Some("auto")` to recognise the format from content.
    pub format: Option<String>,
    /// A decoder built at run time (a CSV read through a mapping file), used instead of
    /// `format`.
    pub decoder: Option<GivenDecoder>,
    /// Decode worker threads (at least 1).
    pub workers: usize,
    /// Longest line kept whole; longer ones are quarantined with their true length.
    pub max_record_bytes: usize,
    /// Largest single JSON document (pretty-printed resource or Bundle) read whole.
    pub max_document_bytes: u64,
    /// The year for timestamps that leave it out (RFC 3164 syslog): the year the file was
    /// last written, or the receiving clock's. `None`: such records are quarantined.
    pub year: Option<i32>,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            format: None,
            decoder: None,
            workers: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .clamp(1, 8),
            max_record_bytes: 16 << 20,
            max_document_bytes: 256 << 20,
            year: None,
        }
    }
}

/// A decoder that is not in `ward_decode::registry()` because it is built from the user's
/// configuration (`ward_decode::csv::MappedCsv`). The pipeline's threads hold decoders as
/// `&'static`: the caller makes one such decoder per run, for the life of the process.
#[derive(Clone, Copy)]
pub struct GivenDecoder(pub &'static dyn Decoder);

impl std::fmt::Debug for GivenDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("GivenDecoder").field(&self.0.name()).finish()
    }
}

/// What one ingest did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestSummary {
    pub source: String,
    pub format: String,
    /// Non-blank records read (lines, or whole documents).
    pub records: u64,
    /// Events newly stored.
    pub accepted: u64,
    /// Events already in the store.
    pub duplicates: u64,
    pub quarantined: u64,
    pub bytes: u64,
    /// Alerts written (new or updated) by the detectors, when an engine ran.
    pub alerts: u64,
    pub elapsed: Duration,
}

impl IngestSummary {
    pub fn events_per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            (self.accepted + self.duplicates) as f64 / secs
        } else {
            0.0
        }
    }

    pub fn add(&mut self, other: &IngestSummary) {
        self.records += other.records;
        self.accepted += other.accepted;
        self.duplicates += other.duplicates;
        self.quarantined += other.quarantined;
        self.bytes += other.bytes;
        self.alerts += other.alerts;
        self.elapsed += other.elapsed;
    }
}

/// The names of the known formats, for messages.
pub(crate) fn known_formats() -> String {
    ward_decode::registry()
        .iter()
        .map(|d| d.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Ingests one source into `store`. `progress` is called with the number of bytes read so far.
/// With an `engine`, each committed batch's new events run through the detectors and their
/// alerts are written after the batch.
pub fn ingest(
    store: &dyn Store,
    source: Source,
    options: &IngestOptions,
    progress: &(dyn Fn(u64) + Sync),
    engine: Option<&Mutex<Engine>>,
) -> Result<IngestSummary, IngestError> {
    let started = Instant::now();
    let name = source.name.clone();
    let opened = open(source, options)?;
    let Some((decoder, first)) = opened.first else {
        return Ok(IngestSummary {
            source: name,
            format: opened.format.into(),
            ..Default::default()
        });
    };
    let mut chunker = opened.rest;
    let mut summary = IngestSummary {
        source: name.clone(),
        format: decoder.name().to_string(),
        ..Default::default()
    };
    run_stream(
        store,
        &name,
        decoder,
        first,
        &mut chunker,
        options.workers,
        options.year,
        progress,
        engine,
        &mut summary,
    )?;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// A source whose format is known and checked, ready to stream.
pub(crate) struct Opened {
    /// The decoder and the first chunk, or `None` for an empty source.
    pub first: Option<(&'static dyn Decoder, Chunk)>,
    pub rest: Chunker<Box<dyn Read + Send>>,
    /// The format's name (`auto` for an empty source without `--format`).
    pub format: &'static str,
}

/// Picks the decoder (named, or recognised from the first lines, since its framing decides
/// where records end; a whole JSON document is recognised once read), frames the source and
/// refuses it if none of its first records decodes.
pub(crate) fn open(source: Source, options: &IngestOptions) -> Result<Opened, IngestError> {
    let name = source.name.clone();
    let named = match options.format.as_deref() {
        _ if options.decoder.is_some() => options.decoder.map(|d| d.0),
        None | Some("auto") => None,
        Some(format) => {
            Some(
                ward_decode::by_name(format).ok_or_else(|| IngestError::UnknownFormat {
                    name: format.to_string(),
                    known: known_formats(),
                })?,
            )
        }
    };
    let mut chosen = named;
    let (first, rest) = frame(
        source,
        RECORDS_PER_CHUNK,
        chunk_bytes(options.workers),
        options.max_record_bytes,
        options.max_document_bytes,
        &mut |lines| {
            let decoder = choose_decoder(&name, chosen, lines)?;
            chosen = Some(decoder);
            Ok(decoder.framing())
        },
    )?;
    let Some(first) = first else {
        return Ok(Opened {
            first: None,
            rest,
            format: chosen.map_or("auto", |d| d.name()),
        });
    };
    let decoder = match chosen {
        Some(decoder) => decoder,
        None => choose_decoder(&name, None, &sample(&first))?,
    };
    check_format(&name, decoder, options.year, &first)?;
    Ok(Opened {
        first: Some((decoder, first)),
        rest,
        format: decoder.name(),
    })
}

/// Sample lines with their line numbers.
pub(crate) type Sample<'a> = [(&'a [u8], u64)];

/// Picks the framing of a source from its first lines (and may remember the decoder it chose).
pub(crate) type FramingFor<'f> = dyn FnMut(&Sample<'_>) -> Result<Framing, IngestError> + 'f;

/// A source cut into records: its first chunk (read now, to recognise the format) and the
/// chunker that yields the rest.
pub(crate) type Framed = (Option<Chunk>, Chunker<Box<dyn Read + Send>>);

/// Frames a source: a pretty-printed JSON document (a resource or Bundle spanning lines) is
/// one record, kept byte for byte and bounded by `max_document`; anything else is read by
/// lines (or groups of lines, as the framing `framing_for` picks from the first lines says),
/// in chunks of `records_per_chunk` records or `chunk_bytes` bytes, whichever comes first.
pub(crate) fn frame(
    source: Source,
    records_per_chunk: usize,
    chunk_bytes: usize,
    max_record: usize,
    max_document: u64,
    framing_for: &mut FramingFor<'_>,
) -> Result<Framed, IngestError> {
    let name = source.name;
    let io_err = |error| IngestError::Io {
        source_name: name.clone(),
        error,
    };
    let mut reader = BufReader::with_capacity(1 << 20, source.reader);
    let head = reader.fill_buf().map_err(io_err)?;
    if !ward_decode::json::looks_like_json_document(first_line(head)) {
        let framing = if head.is_empty() {
            Framing::Lines
        } else {
            framing_for(&head_lines(head))?
        };
        let reader: Box<dyn Read + Send> = Box::new(reader);
        let mut chunker = match framing {
            Framing::Lines => {
                Chunker::new(reader, records_per_chunk, max_record).max_bytes(chunk_bytes)
            }
            Framing::Grouped(starts_record) => Chunker::new(reader, records_per_chunk, max_record)
                .max_bytes(chunk_bytes)
                .grouped(starts_record),
            // Binary blocks (EVTX chunks of 64 KiB): about 4 MiB of them a chunk.
            Framing::Blocks { header, block } => {
                Chunker::new(reader, (4 << 20) / block.max(1), max_record).blocks(header, block)
            }
        };
        return Ok((chunker.next_chunk().map_err(io_err)?, chunker));
    }
    let mut whole = Vec::new();
    (&mut reader)
        .take(max_document + 1)
        .read_to_end(&mut whole)
        .map_err(io_err)?;
    if whole.len() as u64 > max_document {
        return Err(IngestError::DocumentTooLarge {
            source_name: name,
            limit: max_document,
        });
    }
    let len = whole.len();
    let record = RawRecord {
        start: 0,
        end: len,
        line: 1,
        offset: 0,
        oversized: None,
    };
    let first = Chunk {
        seq: 0,
        data: whole,
        records: vec![record],
        end_offset: len as u64,
    };
    let rest: Box<dyn Read + Send> = Box::new(std::io::empty());
    Ok((
        Some(first),
        Chunker::new(rest, 1, 1).starting_at(1, len as u64),
    ))
}

/// The first non-blank lines of what the source's buffer holds, with their line numbers:
/// the sample a format is recognised from.
fn head_lines(head: &[u8]) -> Vec<(&[u8], u64)> {
    let mut lines = Vec::new();
    let mut rest = head;
    let mut number = 0;
    while !rest.is_empty() && lines.len() < SNIFF_RECORDS {
        number += 1;
        let (line, next) = match memchr::memchr(b'\n', rest) {
            Some(nl) => (&rest[..nl], &rest[nl + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !line.iter().all(u8::is_ascii_whitespace) {
            lines.push((line, number));
        }
        rest = next;
    }
    lines
}

fn first_line(head: &[u8]) -> &[u8] {
    let start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(head.len());
    let rest = &head[start..];
    match memchr::memchr(b'\n', rest) {
        Some(nl) => &rest[..nl],
        None => rest,
    }
}

fn sample(chunk: &Chunk) -> Vec<(&[u8], u64)> {
    chunk
        .records
        .iter()
        .take(SNIFF_RECORDS)
        .map(|r| (chunk.record(r), r.line))
        .collect()
}

fn choose_decoder(
    name: &str,
    named: Option<&'static dyn Decoder>,
    records: &[(&[u8], u64)],
) -> Result<&'static dyn Decoder, IngestError> {
    if let Some(decoder) = named {
        return Ok(decoder);
    }
    let bytes: Vec<&[u8]> = records.iter().map(|(r, _)| *r).collect();
    ward_decode::detect(&bytes).ok_or_else(|| {
        let (record, line) = records.first().copied().unwrap_or((&[], 1));
        IngestError::Unrecognised {
            source_name: name.to_string(),
            line,
            excerpt: excerpt(&record[..record.len().min(24)]),
            known: known_formats(),
        }
    })
}

/// Refuses a source none of whose first records decode: it is not in the format at all, and
/// quarantining every line of it would bury real problems. One good record among them is
/// enough to proceed (bad lines then are quarantined one by one).
fn check_format(
    name: &str,
    decoder: &'static dyn Decoder,
    year: Option<i32>,
    first: &Chunk,
) -> Result<(), IngestError> {
    let mut decoder = RecordDecoder::new(decoder, year);
    let mut out = Vec::new();
    let mut first_bad = None;
    for (record, line) in sample(first) {
        out.clear();
        decoder.decode(record, &mut out);
        if out.iter().any(Result::is_ok) {
            return Ok(());
        }
        if first_bad.is_none() {
            let reason = match out.iter().find_map(|d| d.as_ref().err()) {
                Some(e) => e.to_string(),
                None if decoder.empty_is_bad() => "holds no event".to_string(),
                // A header row: it only sets the state of the source's decoder.
                None => continue,
            };
            first_bad = Some((line, reason));
        }
    }
    match first_bad {
        Some((line, reason)) => Err(IngestError::NotFormat {
            source_name: name.to_string(),
            format: decoder.name().to_string(),
            line,
            reason,
        }),
        None => Ok(()),
    }
}

/// Decodes one chunk into a store batch.
/// Decodes the records of one source: a stateless decoder (records independent, any worker
/// may take any chunk) or the one stateful decoder of the source (records read in order).
pub(crate) enum RecordDecoder {
    Stateless {
        decoder: &'static dyn Decoder,
        year: Option<i32>,
    },
    Stateful {
        name: &'static str,
        decoder: Box<dyn SourceDecoder>,
    },
}

impl RecordDecoder {
    pub(crate) fn new(decoder: &'static dyn Decoder, year: Option<i32>) -> Self {
        match decoder.start() {
            Some(stateful) => RecordDecoder::Stateful {
                name: decoder.name(),
                decoder: stateful,
            },
            None => RecordDecoder::Stateless { decoder, year },
        }
    }

    fn name(&self) -> &'static str {
        match self {
            RecordDecoder::Stateless { decoder, .. } => decoder.name(),
            RecordDecoder::Stateful { name, .. } => name,
        }
    }

    pub(crate) fn decode(&mut self, record: &[u8], out: &mut Vec<Decoded>) {
        match self {
            RecordDecoder::Stateless {
                decoder,
                year: Some(year),
            } => decoder.decode_in_year(record, *year, out),
            RecordDecoder::Stateless {
                decoder,
                year: None,
            } => decoder.decode(record, out),
            RecordDecoder::Stateful { decoder, .. } => decoder.decode(record, out),
        }
    }

    /// A stateful decoder legitimately yields nothing for records that only set its state
    /// (headers); for a stateless one, a record with no event is a bad record.
    fn empty_is_bad(&self) -> bool {
        matches!(self, RecordDecoder::Stateless { .. })
    }
}

/// Decodes one chunk into a store batch.
pub(crate) fn decode_chunk(
    decoder: &mut RecordDecoder,
    source: &str,
    chunk: &Chunk,
) -> (Batch, u64) {
    let format = decoder.name();
    let mut batch = Batch {
        events: Vec::with_capacity(chunk.records.len()),
        quarantined: Vec::new(),
        checkpoint: Some(Checkpoint {
            source: source.to_string(),
            offset: chunk.end_offset,
        }),
    };
    let mut out = Vec::new();
    for r in &chunk.records {
        let bytes = chunk.record(r);
        let position = Position {
            line: r.line,
            offset: r.offset,
            entry: None,
        };
        if let Some(len) = r.oversized {
            let mut q = NewQuarantined::new(
                source,
                format,
                position,
                format!(
                    "record of {len} bytes exceeds the size limit; raise ingest.max_record_bytes or split it"
                ),
                bytes,
            );
            q.raw_len = len;
            batch.quarantined.push(q);
            continue;
        }
        out.clear();
        decoder.decode(bytes, &mut out);
        if out.is_empty() && decoder.empty_is_bad() {
            batch.quarantined.push(NewQuarantined::new(
                source,
                format,
                position,
                "holds no event",
                bytes,
            ));
        }
        for decoded in out.drain(..) {
            push_decoded(&mut batch, decoded, source, format, position, bytes);
        }
    }
    (batch, chunk.records.len() as u64)
}

pub(crate) fn push_decoded(
    batch: &mut Batch,
    decoded: Decoded,
    source: &str,
    format: &str,
    position: Position,
    record: &[u8],
) {
    match decoded {
        Ok(mut event) => {
            event.metadata.log_name = source.to_string();
            batch.events.push(event);
        }
        Err(e) => {
            let position = Position {
                entry: e.entry,
                ..position
            };
            let raw = e.raw.as_deref().unwrap_or(record);
            batch
                .quarantined
                .push(NewQuarantined::new(source, format, position, e.reason, raw));
        }
    }
}

/// Reader thread → decode workers → this thread committing in source order.
#[allow(clippy::too_many_arguments)]
fn run_stream<R: Read + Send>(
    store: &dyn Store,
    name: &str,
    decoder: &'static dyn Decoder,
    first: Chunk,
    chunker: &mut Chunker<R>,
    workers: usize,
    year: Option<i32>,
    progress: &(dyn Fn(u64) + Sync),
    engine: Option<&Mutex<Engine>>,
    summary: &mut IngestSummary,
) -> Result<(), IngestError> {
    let workers = workers.max(1);
    // Each chunk is at most 4,096 records or its share of `IN_FLIGHT_INPUT_BYTES`, and
    // becomes a batch two to three times that size (events, and their bodies encoded by the
    // worker); one of each in flight per worker keeps every stage busy while bounding memory
    // at about a hundred MB whatever the input's size.
    let (chunk_tx, chunk_rx) = bounded::<Chunk>(workers);
    let (batch_tx, batch_rx) = bounded::<(u64, Result<Prepared, StoreError>, u64)>(workers);

    std::thread::scope(|scope| -> Result<(), IngestError> {
        let reader = scope.spawn(move || -> Result<u64, std::io::Error> {
            progress(first.end_offset);
            if chunk_tx.send(first).is_err() {
                return Ok(0);
            }
            while let Some(chunk) = chunker.next_chunk()? {
                progress(chunk.end_offset);
                if chunk_tx.send(chunk).is_err() {
                    break; // the writer stopped on an error; it reports it
                }
            }
            Ok(chunker.offset())
        });
        // A stateful decoder reads the source in order: one worker, which owns it.
        let workers = if decoder.start().is_some() {
            1
        } else {
            workers
        };
        for _ in 0..workers {
            let chunk_rx = chunk_rx.clone();
            let batch_tx = batch_tx.clone();
            let mut decoder = RecordDecoder::new(decoder, year);
            scope.spawn(move || {
                for chunk in chunk_rx {
                    let (batch, records) = decode_chunk(&mut decoder, name, &chunk);
                    // Bodies are encoded and sealed here, in parallel, so the committing
                    // thread does only the database's work.
                    let prepared = store.prepare(batch);
                    if batch_tx.send((chunk.seq, prepared, records)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(chunk_rx);
        drop(batch_tx);

        // Commit strictly in source order so a checkpoint never runs ahead of a gap.
        let mut pending = BTreeMap::new();
        let mut next = 0u64;
        let mut failure = None;
        for (seq, batch, records) in batch_rx.iter() {
            if failure.is_some() {
                continue; // drain so workers and reader can finish
            }
            pending.insert(seq, (batch, records));
            while let Some((prepared, records)) = pending.remove(&next) {
                let committed = prepared.and_then(|prepared| {
                    let receipt = store.commit_prepared(&prepared)?;
                    let batch = prepared.into_batch();
                    let alerts = crate::detect::detect_committed(store, engine, &batch, &receipt)?;
                    Ok((receipt, alerts, batch))
                });
                match committed {
                    Ok((receipt, alerts, batch)) => {
                        summary.records += records;
                        summary.accepted += receipt.inserted;
                        summary.duplicates += receipt.duplicates;
                        summary.quarantined += receipt.quarantined;
                        summary.alerts += alerts;
                        if let Some(c) = &batch.checkpoint {
                            summary.bytes = c.offset;
                        }
                    }
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
                next += 1;
            }
        }
        let read = reader
            .join()
            .map_err(|_| IngestError::Internal("reader thread panicked".into()))?;
        if let Some(e) = failure {
            return Err(IngestError::Store(e));
        }
        let bytes = read.map_err(|error| IngestError::Io {
            source_name: name.to_string(),
            error,
        })?;
        summary.bytes = summary.bytes.max(bytes);
        if !pending.is_empty() {
            return Err(IngestError::Internal(
                "a decode worker stopped early".into(),
            ));
        }
        Ok(())
    })
}
