//! No parser panics, whatever it is given: every prefix of the real inputs, and
//! pseudo-random mutations of them, come back as a value or an error.

mod common;

use common::data;
use ward_inventory::{
    Cpe, Purl, Version, detect_feed, parse_assets, parse_cyclonedx, parse_endoflife_legacy,
    parse_endoflife_v1, parse_kev, parse_nvd,
};

/// A small xorshift generator: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn every_parser(bytes: &[u8]) {
    let _ = detect_feed(bytes);
    let _ = parse_cyclonedx(bytes);
    let _ = parse_kev(bytes);
    let _ = parse_nvd(bytes);
    let _ = parse_endoflife_v1(bytes);
    let _ = parse_endoflife_legacy("p", bytes);
    let text = String::from_utf8_lossy(bytes);
    let _ = parse_assets(&text);
    for line in text.lines().take(50) {
        let _ = Version::parse(line).segments();
        let _ = Cpe::parse(line);
        let _ = Purl::parse(line);
    }
}

fn inputs() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = [
        "dependency-track-4.6.0.cdx.json",
        "nvd/openssl.json",
        "endoflife/ubuntu.v1.json",
        "endoflife/windows-server.legacy.json",
    ]
    .iter()
    .map(|f| data(f))
    .collect();
    out.push(
        b"hostname,ip,kind,software,os_cpe,phi\n\"a\",10.0.0.1,server,pkg:npm/a@1;b@2,cpe:/o:x:y:1,stores\n"
            .to_vec(),
    );
    out.push(
        b"cpe:2.3:a:v\\:x:p:1.0:*:*:*:*:*:*:*\npkg:maven/g/a@1?x=%41#s\n1:2.3-rc1~b+m\n".to_vec(),
    );
    out
}

#[test]
fn every_prefix_of_the_real_inputs_parses_or_errs() {
    for input in inputs() {
        let step = (input.len() / 400).max(1);
        for end in (0..input.len()).step_by(step) {
            every_parser(&input[..end]);
        }
    }
}

#[test]
fn mutated_inputs_parse_or_err() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let alphabet = b"{}[]\":,\\%@#?/*-~.0123456789aZ \n\xff\xc3";
    for input in inputs() {
        for _ in 0..200 {
            let mut mutated = input.clone();
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(mutated.len());
                let byte = alphabet[rng.below(alphabet.len())];
                match rng.below(3) {
                    0 => mutated[at] = byte,
                    1 => mutated.insert(at, byte),
                    _ => {
                        mutated.remove(at);
                    }
                }
                if mutated.is_empty() {
                    break;
                }
            }
            every_parser(&mutated);
        }
    }
}
