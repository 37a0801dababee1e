//! The organisation-context parsers (FHIR resources and HL7 v2 ADT) on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    ward_decode::context::parse_context(data, &mut out);
    out.clear();
    ward_decode::hl7::adt_context(data, &mut out);
});
