//! What the tests share: cutting a file into records the way the ingest pipeline does, and
//! the list of parsers to run over every input.

use ward_decode::{DecodeError, Decoded, Decoder};
use ward_model::ContextResource;

/// One record of a file and its 1-based line.
pub struct Record<'a> {
    pub line: u64,
    pub bytes: &'a [u8],
}

/// Cuts `file` into records as the pipeline does: the whole file when its first non-blank line
/// opens a JSON document, else one record a non-blank line (without its line ending).
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
}

pub enum Outcome {
    Events(Vec<Decoded>),
    Context(Vec<Result<ContextResource, DecodeError>>),
}

impl Parser {
    pub fn by_name(name: &str) -> Option<Parser> {
        match name {
            "context" => Some(Parser::Context),
            other => ward_decode::by_name(other).map(Parser::Events),
        }
    }

    pub fn all() -> Vec<Parser> {
        let mut all: Vec<Parser> = ward_decode::registry()
            .iter()
            .map(|d| Parser::Events(*d))
            .collect();
        all.push(Parser::Context);
        all
    }

    pub fn name(&self) -> &'static str {
        match self {
            Parser::Events(d) => d.name(),
            Parser::Context => "context",
        }
    }

    pub fn run(&self, record: &[u8]) -> Outcome {
        match self {
            Parser::Events(d) => {
                let mut out = Vec::new();
                d.decode(record, &mut out);
                Outcome::Events(out)
            }
            Parser::Context => {
                let mut out = Vec::new();
                ward_decode::context::parse_context(record, &mut out);
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
