//! The inventory's parsers on arbitrary bytes: the first byte picks one (asset CSV, CycloneDX
//! SBOM, CISA KEV, endoflife.date v1 and legacy, NVD, CPE, purl, version), the rest is its
//! input. Asset lists, SBOMs and feeds come from files and downloads Ward does not control; a
//! bad one must be refused with a reason, never panic, hang or exhaust memory. The matcher
//! runs on whatever parsed, so a strange version or CPE cannot upset it either.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    ward_inventory::fuzzing::exercise(pick, rest);
});
