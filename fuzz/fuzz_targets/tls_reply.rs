//! The TLS scanner's readers of what a server sends: the first flight after a hand-written
//! ClientHello (records, ServerHello, Certificate, alerts), certificates, and an HTTP response
//! head with its Strict-Transport-Security header. The servers scanned are the organisation's
//! own, but a broken or hostile one must cost a finding, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ward_scan::fuzzing::exercise(data);
});
