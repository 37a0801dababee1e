//! Shared by the integration tests: the fixtures under `tests/data` and the KEV snapshot
//! kept outside the repository.

// Each integration-test binary includes this module and uses only part of it.
#![allow(dead_code)]

use std::path::PathBuf;

pub fn data(path: &str) -> Vec<u8> {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("fixture {}: {e}", full.display()))
}

/// The CISA KEV snapshot in `../shared/data/kev/` (beside the repository). `None`, with the
/// reason printed, when it is absent on a developer machine; a failure when `CI` is set,
/// because there the test must not pass by skipping.
pub fn kev_snapshot() -> Option<Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/kev/known_exploited_vulnerabilities.json");
    match std::fs::read(&path) {
        Ok(bytes) => Some(bytes),
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!(
                "CI is set and the KEV snapshot {} cannot be read: {e}",
                path.display()
            )
        }
        Err(e) => {
            eprintln!(
                "skipped: the KEV snapshot {} cannot be read ({e}); set CI to make this fail",
                path.display()
            );
            None
        }
    }
}

pub fn day(text: &str) -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("test date")
}
