//! What the decoder throughput examples share: a best-of-three timer and a deterministic
//! mixer for generating varied records. Included by each example with `mod common;`.

#![allow(dead_code)]

use std::time::Instant;
use ward_decode::Decoder;

/// The shortest of three timed runs, in seconds.
pub fn best_of_3(mut run: impl FnMut()) -> f64 {
    run();
    (0..3)
        .map(|_| {
            let started = Instant::now();
            run();
            started.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min)
}

/// SplitMix64, so runs are comparable.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The benchmark's records: as many as the first argument says (else `default`), made by
/// `record`, with their count and total size printed. Returns (count, records, bytes).
pub fn generate(default: usize, record: impl Fn(usize) -> String) -> (usize, Vec<String>, usize) {
    let records: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(default);
    let lines: Vec<String> = (0..records).map(record).collect();
    let bytes: usize = lines.iter().map(String::len).sum();
    println!(
        "{records} records, {:.0} bytes on average",
        bytes as f64 / records as f64
    );
    (records, lines, bytes)
}

/// Seconds, best of three, for a decoder that reads a source in order (a CSV whose first row
/// names its columns): each run starts a source, gives it `header`, then every line, and
/// checks that every line decoded.
pub fn best_of_3_in_order(decoder: &dyn Decoder, header: &str, lines: &[String]) -> f64 {
    let mut out = Vec::with_capacity(4);
    best_of_3(|| {
        let mut events = 0usize;
        let Some(mut source) = decoder.start() else {
            panic!("the decoder reads a source in order");
        };
        source.decode(header.as_bytes(), &mut out);
        for line in lines {
            out.clear();
            source.decode(line.as_bytes(), &mut out);
            events += out.iter().filter(|d| d.is_ok()).count();
        }
        assert_eq!(events, lines.len(), "every generated record decodes");
    })
}
