//! Replays the `inventory` fuzz target's saved corpus (`fuzz/corpus/inventory/`) through the
//! same function the target calls, so every input a fuzzer found, or was seeded with, is
//! checked on every test run without a nightly compiler.

use std::path::Path;

#[test]
fn the_inventory_fuzz_corpus_replays_without_a_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/inventory");
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .expect("fuzz/corpus/inventory exists")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    inputs.sort();
    let mut picked = std::collections::BTreeSet::new();
    for path in &inputs {
        let data = std::fs::read(path).unwrap();
        let Some((&pick, rest)) = data.split_first() else {
            continue;
        };
        picked.insert(usize::from(pick) % ward_inventory::fuzzing::PARSERS.len());
        ward_inventory::fuzzing::exercise(pick, rest);
    }
    assert_eq!(
        picked.len(),
        ward_inventory::fuzzing::PARSERS.len(),
        "the corpus seeds every parser: {picked:?}"
    );
}
