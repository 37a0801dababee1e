//! Decoders: bytes of one record in a source format in, normalised [`Event`]s out.
//!
//! Every format is one module with the same shape: a unit struct implementing [`Decoder`]
//! (a name, a framing, a cheap `sniff` for auto-detection, and `decode`). Adding a format is
//! filling in that form and listing it in [`registry`]. Decoders never touch files, sockets or
//! clocks, never log, and never panic on any input: a record they cannot read comes back as
//! an error with a reason, which the pipeline quarantines.

pub mod atna;
pub mod cef;
pub mod cloudtrail;
pub mod context;
pub mod csv;
pub mod email;
pub mod evtx;
pub mod fhir;
pub mod hl7;
pub mod json;
pub mod jsonl;
pub mod m365;
pub mod netflow;
pub mod postfix;
pub mod roster;
pub mod signin;
pub mod sshd;
pub mod syslog;
pub mod windows;
pub mod zeek;

use ward_model::Event;

/// How a stream of this format is cut into records before decoding.
#[derive(Debug, Clone, Copy)]
pub enum Framing {
    /// One record a line (NDJSON, syslog files). A JSON source whose first record spans
    /// several lines (a pretty-printed resource or Bundle) is read as whole JSON documents
    /// instead: see [`json::looks_like_json_document`].
    Lines,
    /// Records that span lines (HL7 v2 messages, pretty-printed XML audit messages): a record
    /// starts at a line for which the function returns true and takes every following line
    /// until the next such line. The record's lines are joined with `\n`. Lines before the
    /// first start form a record of their own (which will usually fail to decode).
    Grouped(fn(&[u8]) -> bool),
    /// Binary files of a fixed-size header followed by fixed-size blocks (EVTX: a 4 KiB file
    /// header, then 64 KiB chunks): the header is the first record, each block one record.
    Blocks { header: usize, block: usize },
}

/// How sure a decoder is that a record is in its format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Sniff {
    No,
    /// Could be (e.g. any JSON object for the generic JSON-lines decoder).
    Maybe,
    /// Certainly (e.g. `"resourceType": "AuditEvent"`).
    Yes,
}

/// Why one record (or one entry of a container record) could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// The entry of a container (a Bundle's `entry[i]`) that failed; `None` for the whole record.
    pub entry: Option<u64>,
    pub reason: String,
    /// The bytes of the failed entry, when it is not the whole record.
    pub raw: Option<Vec<u8>>,
}

impl DecodeError {
    pub fn record(reason: impl Into<String>) -> Self {
        DecodeError {
            entry: None,
            reason: reason.into(),
            raw: None,
        }
    }

    pub fn entry(index: u64, reason: impl Into<String>, raw: Vec<u8>) -> Self {
        DecodeError {
            entry: Some(index),
            reason: reason.into(),
            raw: Some(raw),
        }
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.entry {
            Some(i) => write!(f, "entry {i}: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

/// The outcome of decoding one record: a record may hold many events (a Bundle), and some of
/// its entries may fail while others succeed.
pub type Decoded = Result<Event, DecodeError>;

/// One source format.
pub trait Decoder: Send + Sync {
    /// The name used by `--format` and stored as `metadata.product`.
    fn name(&self) -> &'static str;
    /// One line describing the format, for `ward ingest --help` and errors.
    fn description(&self) -> &'static str;
    fn framing(&self) -> Framing;
    /// A cheap look at one record for auto-detection. Must not allocate much.
    fn sniff(&self, record: &[u8]) -> Sniff;
    /// Decodes one record, pushing every event and every failure it holds onto `out`.
    /// Event ids are computed from the record's (or the entry's) bytes.
    fn decode(&self, record: &[u8], out: &mut Vec<Decoded>);
    /// As [`Decoder::decode`], for sources whose timestamps may leave out the year (RFC 3164
    /// syslog writes `May  1 10:00:00`): such a timestamp takes `year`, which the caller knows
    /// and the record does not (the year the file was last written, or of the clock when a
    /// listener received the message). `decode` refuses such records rather than guess.
    /// Decoders whose records always carry a full date need not implement it.
    fn decode_in_year(&self, record: &[u8], year: i32, out: &mut Vec<Decoded>) {
        let _ = year;
        self.decode(record, out);
    }
    /// For formats whose records are read in the light of earlier ones (Zeek TSV: a `#fields`
    /// line names the columns of every row after it): a decoder for one source, which the
    /// pipeline feeds every record of that source, in order, instead of calling
    /// [`Decoder::decode`]. `None` (the default): records are independent.
    fn start(&self) -> Option<Box<dyn SourceDecoder>> {
        None
    }
}

/// The decoder of one source whose records depend on earlier ones (see [`Decoder::start`]).
/// Fed every record of the source in order, including those that only set state (headers),
/// for which it pushes nothing. Like [`Decoder::decode`] it never panics, does no IO, and
/// keeps state bounded by the size of a record.
pub trait SourceDecoder: Send {
    fn decode(&mut self, record: &[u8], out: &mut Vec<Decoded>);
}

/// Every event decoder, most specific first (auto-detection takes the first `Yes`, then the
/// first `Maybe`).
pub fn registry() -> &'static [&'static dyn Decoder] {
    &[
        &evtx::Evtx,
        &netflow::Netflow,
        &fhir::FhirAuditEvent,
        &atna::Atna,
        &cef::Cef,
        &cef::Leef,
        &postfix::Postfix,
        &sshd::AuthLog,
        &syslog::Syslog,
        &hl7::Hl7v2,
        &m365::MessageTrace,
        &email::Email,
        &zeek::Zeek,
        &windows::WindowsEvent,
        &cloudtrail::CloudTrail,
        &signin::Entra,
        &signin::Okta,
        &jsonl::JsonLines,
    ]
}

/// The decoder named `name`.
pub fn by_name(name: &str) -> Option<&'static dyn Decoder> {
    registry().iter().copied().find(|d| d.name() == name)
}

/// Picks the decoder for a source from a sample of its first records: the first decoder that
/// is sure of any record, else the first that finds every sampled record plausible.
pub fn detect(sample: &[&[u8]]) -> Option<&'static dyn Decoder> {
    let registry = registry();
    for decoder in registry {
        if sample.iter().any(|r| decoder.sniff(r) == Sniff::Yes) {
            return Some(*decoder);
        }
    }
    registry
        .iter()
        .copied()
        .find(|d| !sample.is_empty() && sample.iter().any(|r| d.sniff(r) >= Sniff::Maybe))
}
