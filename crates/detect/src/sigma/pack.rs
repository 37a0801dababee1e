//! Ward's healthcare rule pack: Sigma files under `crates/detect/rules/ward/`, compiled into
//! the binary. This list is the one place a shipped rule is named; `docs/rules.md` describes
//! the logsources, tags and conventions they follow.

use super::{Collection, RuleError};

/// Where shipped rules say they come from, in listings.
pub const ORIGIN: &str = "shipped";

/// Every shipped file: its name and its text.
pub const FILES: &[(&str, &str)] = &[
    (
        "ssh_brute_force.yml",
        include_str!("../../rules/ward/ssh_brute_force.yml"),
    ),
    (
        "windows_failed_logon_burst.yml",
        include_str!("../../rules/ward/windows_failed_logon_burst.yml"),
    ),
    (
        "windows_audit_log_cleared.yml",
        include_str!("../../rules/ward/windows_audit_log_cleared.yml"),
    ),
    (
        "windows_inhibit_recovery.yml",
        include_str!("../../rules/ward/windows_inhibit_recovery.yml"),
    ),
    (
        "ehr_break_the_glass.yml",
        include_str!("../../rules/ward/ehr_break_the_glass.yml"),
    ),
    (
        "ehr_bulk_export.yml",
        include_str!("../../rules/ward/ehr_bulk_export.yml"),
    ),
    (
        "atna_bulk_export.yml",
        include_str!("../../rules/ward/atna_bulk_export.yml"),
    ),
    (
        "atna_security_alert.yml",
        include_str!("../../rules/ward/atna_security_alert.yml"),
    ),
];

/// The shipped pack as a collection. An error names the file: it is a bug in Ward, caught by
/// the pack's tests.
pub fn shipped() -> Result<Collection, RuleError> {
    let mut collection = Collection::new();
    for (name, text) in FILES {
        collection
            .add(text, ORIGIN)
            .map_err(|e| RuleError::Invalid(format!("shipped rule file {name}: {e}")))?;
    }
    Ok(collection)
}
