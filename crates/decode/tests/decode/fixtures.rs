//! Every `tests/fixtures/<parser>/<name>.input` is decoded as the pipeline would feed it and
//! compared with `<name>.expected.json` beside it. `UPDATE_EXPECT=1 cargo test -p ward-decode`
//! rewrites the expected files; read the diff before keeping it; an expected file is a
//! specification, checked by eye.
//!
//! Events are compared without `raw` (the input is beside them); instead every event's `raw`
//! must be a slice of its record and its id the hash of that slice.

use crate::support::{Outcome, Parser, records_for};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use ward_model::EventId;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

fn error_json(line: u64, e: &ward_decode::DecodeError, record: &[u8]) -> Value {
    if let Some(raw) = &e.raw {
        assert!(
            contains(record, raw),
            "line {line}: an entry error's raw bytes are not part of its record"
        );
    }
    json!({"line": line, "error": {"entry": e.entry, "reason": e.reason, "raw_len": e.raw.as_ref().map(Vec::len)}})
}

/// The outcome of decoding `file` with `parser`, as the expected file holds it.
fn render(parser: Parser, file: &[u8]) -> Value {
    let mut items = Vec::new();
    // A decoder that reads a source's records in order (Zeek TSV) is fed the whole file so.
    let mut source = match parser {
        Parser::Events(d) => d.start(),
        _ => None,
    };
    for record in records_for(parser, file) {
        let outcome = match source.as_mut() {
            Some(source) => {
                let mut out = Vec::new();
                source.decode(record.bytes, &mut out);
                Outcome::Events(out)
            }
            None => parser.run(record.bytes),
        };
        match outcome {
            Outcome::Events(decoded) => {
                for d in decoded {
                    items.push(match d {
                        Ok(event) => {
                            assert!(
                                contains(record.bytes, &event.raw),
                                "line {}: raw is not part of the record",
                                record.line
                            );
                            assert_eq!(
                                event.id,
                                EventId::of_record(parser.name(), event.time, &event.raw),
                                "line {}: id",
                                record.line
                            );
                            assert_eq!(event.metadata.product, parser.name());
                            let mut value = serde_json::to_value(&event).expect("events serialise");
                            if let Some(map) = value.as_object_mut() {
                                map.remove("raw");
                            }
                            json!({"line": record.line, "event": value})
                        }
                        Err(e) => error_json(record.line, &e, record.bytes),
                    });
                }
            }
            Outcome::Context(parsed) => {
                for r in parsed {
                    items.push(match r {
                        Ok(resource) => {
                            assert!(
                                contains(record.bytes, &resource.raw),
                                "line {}: raw is not part of the record",
                                record.line
                            );
                            let mut value =
                                serde_json::to_value(&resource).expect("resources serialise");
                            if let Some(map) = value.as_object_mut() {
                                map.remove("raw");
                            }
                            json!({"line": record.line, "resource": value})
                        }
                        Err(e) => error_json(record.line, &e, record.bytes),
                    });
                }
            }
        }
    }
    Value::Array(items)
}

#[test]
fn every_fixture_decodes_to_its_expected_output() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut checked = 0;
    let mut failures = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir(fixture_dir())
        .expect("fixtures directory")
        .flatten()
        .collect();
    dirs.sort_by_key(|d| d.path());
    for dir in dirs {
        let parser_name = dir.file_name().to_string_lossy().into_owned();
        let parser = Parser::by_name(&parser_name)
            .unwrap_or_else(|| panic!("no parser named {parser_name}"));
        let mut inputs: Vec<PathBuf> = std::fs::read_dir(dir.path())
            .expect("fixture directory")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "input"))
            .collect();
        inputs.sort();
        for input in inputs {
            let file = std::fs::read(&input).expect("fixture input");
            let actual = serde_json::to_string_pretty(&render(parser, &file)).expect("json") + "\n";
            let expected_path = input.with_extension("expected.json");
            let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
            checked += 1;
            if actual == expected {
                continue;
            }
            if update {
                std::fs::write(&expected_path, &actual).expect("write expected file");
                eprintln!("updated {}", expected_path.display());
            } else {
                failures.push(format!(
                    "{} differs from {}",
                    input.display(),
                    expected_path.display()
                ));
                eprintln!("--- {}\n{actual}", expected_path.display());
            }
        }
    }
    assert!(checked > 0, "no fixtures found");
    assert!(
        failures.is_empty(),
        "{}\n(run with UPDATE_EXPECT=1 to rewrite the expected files, then review the diff)",
        failures.join("\n")
    );
}

#[test]
fn ingesting_a_bundle_twice_gives_the_same_event_ids() {
    let file =
        std::fs::read(fixture_dir().join("fhir/bundle-with-bad-entry.input")).expect("fixture");
    let parser = Parser::by_name("fhir").expect("fhir decoder");
    let ids = |bytes: &[u8]| match parser.run(bytes) {
        Outcome::Events(d) => d
            .into_iter()
            .filter_map(Result::ok)
            .map(|e| e.id)
            .collect::<Vec<_>>(),
        Outcome::Context(_) => unreachable!(),
    };
    let first = ids(&file);
    assert_eq!(first.len(), 2);
    assert_eq!(first, ids(&file.clone()));
}
