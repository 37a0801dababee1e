//! The decode crate's integration tests, one binary: fixtures (input beside expected output),
//! the HL7 FHIR specification's own examples, and robustness against damaged input.

mod atna_examples;
mod detection;
mod fixtures;
mod fuzz_corpus;
mod hl7_examples;
mod netflow;
mod robustness;
mod support;
mod windows_otrf;
