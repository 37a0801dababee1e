//! No input makes a decoder panic: every fixture is fed to every decoder and the context
//! parser cut short at every byte, and every fixture and shared HL7 example (when present)
//! with bytes changed at pseudo-random places. Outcomes are not checked, only that each call
//! returns.

use crate::support::Parser;
use std::path::{Path, PathBuf};

/// The fixtures, and with `with_examples` the HL7 and ATNA examples beside the repository when they are
/// there (their absence is reported by the tests that need them).
fn inputs(with_examples: bool) -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = vec![root.join("tests/fixtures")];
    for examples in ["fhir", "atna"] {
        let examples = root.join("../../../shared/data").join(examples);
        if with_examples && examples.is_dir() {
            dirs.push(examples);
        }
    }
    let mut files = Vec::new();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("directory").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path
                .extension()
                .is_some_and(|e| e == "input" || e == "json" || e == "xml")
                && !path.to_string_lossy().ends_with(".expected.json")
            {
                let bytes = std::fs::read(&path).expect("input file");
                files.push((path, bytes));
            }
        }
    }
    files.sort();
    files
}

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn exercise(record: &[u8]) {
    let _ = ward_decode::json::looks_like_json_document(record);
    for parser in Parser::all() {
        if let Parser::Events(d) = parser {
            let _ = d.sniff(record);
            // Decoders that read a source in order (Zeek TSV) see its lines one by one too.
            if let Some(mut source) = d.start() {
                let mut out = Vec::new();
                for line in record.split(|&b| b == b'\n') {
                    source.decode(line, &mut out);
                }
            }
        }
        let _ = parser.run(record);
    }
}

#[test]
fn no_parser_panics_on_any_truncation_of_any_fixture() {
    let files = inputs(false);
    assert!(!files.is_empty());
    for (_, bytes) in &files {
        for end in 0..=bytes.len() {
            exercise(&bytes[..end]);
        }
    }
}

#[test]
fn no_parser_panics_on_flipped_bytes() {
    let mut rng = Rng(0x5EED_CAFE_F00D_0001);
    // Bytes that matter to JSON structure, plus arbitrary ones.
    const INTERESTING: &[u8] = b"{}[]\",:\\0 \n\xff\xc3tfn-e.";
    for (_, bytes) in inputs(true) {
        if bytes.is_empty() {
            continue;
        }
        for _ in 0..300 {
            let mut damaged = bytes.clone();
            for _ in 0..1 + rng.next() % 4 {
                let at = (rng.next() % damaged.len() as u64) as usize;
                let pick = rng.next();
                damaged[at] = if pick.is_multiple_of(2) {
                    INTERESTING[(pick / 2 % INTERESTING.len() as u64) as usize]
                } else {
                    (pick >> 8) as u8
                };
            }
            exercise(&damaged);
        }
    }
}

#[test]
fn no_parser_panics_on_deep_nesting_or_huge_numbers() {
    let deep_object = "{\"a\":".repeat(10_000);
    let deep_array = "[".repeat(100_000);
    let mixed = format!(
        "{{\"time\":\"2024-01-01T00:00:00Z\",\"x\":{}1{}}}",
        "[".repeat(200),
        "]".repeat(200)
    );
    for record in [
        deep_object.as_bytes(),
        deep_array.as_bytes(),
        mixed.as_bytes(),
        b"{\"time\":1e400}",
        b"{\"ts\":-9223372036854775809}",
        b"{\"resourceType\":\"AuditEvent\",\"recorded\":\"99999-12-31T00:00:00Z\"}",
        b"{\"resourceType\":\"AuditEvent\",\"recorded\":\"2024-01-01T00:00:00Z\",\"entity\":[{\"query\":\"====\"}]}",
        b"{\"resourceType\":\"Bundle\",\"entry\":[{\"resource\":{\"resourceType\":\"Bundle\",\"entry\":[]}}]}",
        b"\"resourceType\":\"AuditEvent\"",
        b"{\"resourceType\":",
        b"{\"resourceType\"",
    ] {
        exercise(record);
    }
}
