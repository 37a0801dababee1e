//! The Sigma parser and compiler on arbitrary text: one rule (`parse_rule` + `compile`), and a
//! whole file of documents (`Collection::add`, then `SigmaDetector::new`, which resolves
//! correlation references). Rules are user input (`ward rules validate`, `--rules` folders);
//! a bad one must be refused with a reason, never panic, hang or exhaust memory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_detect::sigma::{Collection, SigmaDetector, compile, parse_rule};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_rule(text).and_then(compile);
    let mut collection = Collection::new();
    if collection.add(text, "fuzz.yml").is_ok() {
        let _ = SigmaDetector::new(collection);
    }
});
