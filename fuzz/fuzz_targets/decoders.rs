//! Every event decoder on arbitrary bytes: the first byte picks the decoder, the rest is the
//! record. Each decoder must return events or reasons, never panic, hang or blow up memory.
//! Stateful decoders (Zeek TSV) get the input as a sequence of records, one a line.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, record)) = data.split_first() else { return };
    let registry = ward_decode::registry();
    let decoder = registry[pick as usize % registry.len()];
    let mut out = Vec::new();
    decoder.decode(record, &mut out);
    out.clear();
    decoder.decode_in_year(record, 2026, &mut out);
    if let Some(mut source) = decoder.start() {
        for line in record.split(|&b| b == b'\n') {
            out.clear();
            source.decode(line, &mut out);
        }
    }
});
