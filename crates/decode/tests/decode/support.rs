//! What the tests share: cutting a file into records the way the ingest pipeline does, and
//! the list of parsers to run over every input.

use ward_decode::{DecodeError, Decoded, Decoder, Framing};
use ward_model::ContextResource;

/// The year given to timestamps that leave it out (RFC 3164 syslog): fixtures are decoded as
/// a log written in 2024 would be.
pub const FIXTURE_YEAR: i32 = 2024;

/// One record of a file and its 1-based line.
pub struct Record<'a> {
    pub line: u64,
    pub bytes: &'a [u8],
}

/// Cuts `file` into records as the pipeline does for `parser`: with [`Framing::Grouped`], a
/// record from each starting line to the next (lines joined with `\n`, so the record is a
/// slice of the file when its lines end in `\n`); otherwise the whole file when its first
/// non-blank line opens a JSON document, else one record a non-blank line (without its line
/// ending).
pub fn records_for(parser: Parser, file: &[u8]) -> Vec<Record<'_>> {
    match parser.framing() {
        Framing::Grouped(starts) => grouped(file, starts),
        Framing::Lines => records(file),
        Framing::Blocks { header, block } => blocks(file, header, block),
    }
}

/// A header, then fixed-size blocks (the last may be short), numbered from 1.
fn blocks(file: &[u8], header: usize, block: usize) -> Vec<Record<'_>> {
    let (head, rest) = file.split_at(header.min(file.len()));
    std::iter::once(head)
        .chain(rest.chunks(block.max(1)))
        .filter(|b| !b.is_empty())
        .enumerate()
        .map(|(i, bytes)| Record {
            line: i as u64 + 1,
            bytes,
        })
        .collect()
}

fn grouped(file: &[u8], starts: fn(&[u8]) -> bool) -> Vec<Record<'_>> {
    let mut out: Vec<Record<'_>> = Vec::new();
    let mut offset = 0;
    for (i, line) in file.split_inclusive(|&b| b == b'\n').enumerate() {
        let at = offset;
        offset += line.len();
        let bare = line.strip_suffix(b"\n").unwrap_or(line);
        let bare = bare.strip_suffix(b"\r").unwrap_or(bare);
        match out.last_mut() {
            Some(record) if !starts(bare) => {
                let start = record.bytes.as_ptr() as usize - file.as_ptr() as usize;
                record.bytes = file.get(start..at + bare.len()).unwrap_or_default();
            }
            _ if bare.trim_ascii().is_empty() => {}
            _ => out.push(Record {
                line: i as u64 + 1,
                bytes: bare,
            }),
        }
    }
    for record in &mut out {
        record.bytes = record.bytes.trim_ascii_end();
    }
    out
}

/// Cuts `file` into records as the pipeline does for line-framed formats: the whole file when
/// its first non-blank line opens a JSON document, else one record a non-blank line (without
/// its line ending).
pub fn records(file: &[u8]) -> Vec<Record<'_>> {
    let first_line = file
        .split(|&b| b == b'\n')
        .find(|l| !l.trim_ascii().is_empty())
        .unwrap_or_default();
    if ward_decode::json::looks_like_json_document(first_line) {
        return vec![Record {
            line: 1,
            bytes: file,
        }];
    }
    file.split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, l)| !l.trim_ascii().is_empty())
        .map(|(i, l)| Record {
            line: i as u64 + 1,
            bytes: l.strip_suffix(b"\r").unwrap_or(l),
        })
        .collect()
}

/// A parser under test: an event decoder or the context parser.
#[derive(Clone, Copy)]
pub enum Parser {
    Events(&'static dyn Decoder),
    Context,
    /// The care-relationship context in HL7 v2 ADT messages (`hl7::adt_context`).
    Hl7Context,
}

pub enum Outcome {
    Events(Vec<Decoded>),
    Context(Vec<Result<ContextResource, DecodeError>>),
}

impl Parser {
    pub fn by_name(name: &str) -> Option<Parser> {
        match name {
            "context" => Some(Parser::Context),
            "hl7-context" => Some(Parser::Hl7Context),
            other => ward_decode::by_name(other).map(Parser::Events),
        }
    }

    pub fn all() -> Vec<Parser> {
        let mut all: Vec<Parser> = ward_decode::registry()
            .iter()
            .map(|d| Parser::Events(*d))
            .collect();
        all.push(Parser::Context);
        all.push(Parser::Hl7Context);
        all
    }

    pub fn framing(&self) -> Framing {
        match self {
            Parser::Events(d) => d.framing(),
            Parser::Context => Framing::Lines,
            Parser::Hl7Context => ward_decode::hl7::Hl7v2.framing(),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Parser::Events(d) => d.name(),
            Parser::Context => "context",
            Parser::Hl7Context => "hl7-context",
        }
    }

    pub fn run(&self, record: &[u8]) -> Outcome {
        match self {
            Parser::Events(d) => {
                let mut out = Vec::new();
                d.decode_in_year(record, FIXTURE_YEAR, &mut out);
                Outcome::Events(out)
            }
            Parser::Context => {
                let mut out = Vec::new();
                ward_decode::context::parse_context(record, &mut out);
                Outcome::Context(out)
            }
            Parser::Hl7Context => {
                let mut out = Vec::new();
                ward_decode::hl7::adt_context(record, &mut out);
                Outcome::Context(out)
            }
        }
    }
}

/// The directory of the HL7 example files shared beside the repository, or `None` (with a
/// message) when it is absent. Under CI its absence is a failure, not a skip.
pub fn shared_data() -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "shared example data not found at {} (required when CI is set)",
            dir.display()
        );
    }
    eprintln!(
        "SKIPPED: shared example data not found at {}; set it up to run this test",
        dir.display()
    );
    None
}
