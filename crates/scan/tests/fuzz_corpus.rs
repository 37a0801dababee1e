//! Replays the `tls_reply` fuzz target's saved corpus (`fuzz/corpus/tls_reply/`: real first
//! flights of `openssl s_server` at TLS 1.2 and 1.0, an alert, a certificate, HTTP heads)
//! through the function the target calls, and checks the real flights still read as what
//! they are.

use std::path::Path;

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/tls_reply");
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .expect("fuzz/corpus/tls_reply exists")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    inputs.sort();
    inputs
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn the_tls_reply_fuzz_corpus_replays_without_a_panic() {
    let inputs = corpus();
    assert!(inputs.len() >= 5);
    for (_, data) in &inputs {
        ward_scan::fuzzing::exercise(data);
        // Every prefix: a server that hangs up mid-record.
        for cut in (0..data.len()).step_by(7) {
            ward_scan::fuzzing::exercise(&data[..cut]);
        }
    }
}

#[test]
fn real_server_flights_read_as_a_server_hello_with_the_certificate() {
    for (name, data) in corpus() {
        if !name.ends_with("-flight.bin") {
            continue;
        }
        let reply = ward_scan::hello::parse_reply(&data, true);
        assert!(
            matches!(&reply, ward_scan::hello::Reply::Hello { certificates, .. } if certificates.len() == 1),
            "{name}: a ServerHello and the self-signed certificate: {reply:?}"
        );
    }
}
