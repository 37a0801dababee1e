//! Replays the fuzzers' saved corpus (`fuzz/corpus/<target>/`) through the same calls the fuzz
//! targets make (`fuzz/fuzz_targets/`), so every input a fuzzer once found, or was seeded
//! with, is checked on every test run without a nightly compiler.

use std::path::Path;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    inputs.sort();
    inputs
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .collect()
}

#[test]
fn the_decoders_fuzz_corpus_replays_without_a_panic() {
    let inputs = corpus("decoders");
    assert!(
        !inputs.is_empty(),
        "fuzz/corpus/decoders is empty or missing"
    );
    let registry = ward_decode::registry();
    let mut out = Vec::new();
    for data in &inputs {
        let Some((&pick, record)) = data.split_first() else {
            continue;
        };
        let decoder = registry[pick as usize % registry.len()];
        out.clear();
        decoder.decode(record, &mut out);
        out.clear();
        decoder.decode_in_year(record, 2026, &mut out);
        if let Some(mut source) = decoder.start() {
            for line in record.split(|&b| b == b'\n') {
                out.clear();
                source.decode(line, &mut out);
            }
        }
    }
}

#[test]
fn the_context_fuzz_corpus_replays_without_a_panic() {
    let inputs = corpus("context");
    assert!(
        !inputs.is_empty(),
        "fuzz/corpus/context is empty or missing"
    );
    let mut out = Vec::new();
    for data in &inputs {
        out.clear();
        ward_decode::context::parse_context(data, &mut out);
        out.clear();
        ward_decode::hl7::adt_context(data, &mut out);
    }
}
