//! What detection runs, as the console shows it: one [`RuleInfo`] per rule, handed to the
//! console by the binary (which gets them from the detectors) through
//! [`crate::ConsoleOptions::rules`]. The console only lists them; it never loads or evaluates
//! a rule. The text fields come from rule files, which are outside input: templates escape
//! them, and only the id is used in a path, percent-encoded. Rules are switched off and on in
//! `switches.rs`.

use serde::Serialize;

/// One detection rule: a Sigma rule, a threat analytic or a privacy pattern.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RuleInfo {
    /// The `rule_id` its alerts carry: `privacy.vip`, `threat.credential.password_spray`, or a
    /// Sigma rule's UUID.
    pub id: String,
    pub title: String,
    /// The detector that evaluates it (`sigma`, `threat`, `privacy` …); the rules page filters
    /// on it.
    pub detector: String,
    /// Its level or usual severity (`high`, `medium` …), as the rule states it.
    pub level: String,
    /// The events it reads, as a Sigma logsource (`product/service/category`) when it has one.
    pub logsource: Option<String>,
    /// MITRE ATT&CK technique ids.
    pub attack: Vec<String>,
    /// 45 CFR citations.
    pub hipaa: Vec<String>,
    pub author: Option<String>,
    pub license: Option<String>,
    pub description: Option<String>,
}
