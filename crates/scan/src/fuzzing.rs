//! One server answer through every reader of the scanner: the body of the `tls_reply` fuzz
//! target (`fuzz/fuzz_targets/tls_reply.rs`) and of the test that replays its corpus on every
//! run (`tests/fuzz_corpus.rs`), kept here so the two cannot drift apart.

pub fn exercise(data: &[u8]) {
    let _ = crate::hello::parse_reply(data, true);
    let _ = crate::hello::parse_reply(data, false);
    let _ = crate::cert::describe(data);
    let _ = crate::hsts::parse_response_head(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::hsts::parse_hsts(text);
    }
}
