//! Sigma rules: [`parse_rule`] reads one rule's YAML into a [`Rule`], [`compile`] lowers it once
//! into a [`CompiledRule`] (fields resolved, patterns lowered to equals / prefix / suffix /
//! contains / regex), and a [`RuleSet`] evaluates an event against every compiled rule.
//!
//! Semantics follow pySigma, the reference implementation: values match case-insensitively
//! unless `cased` or `re`; `field: null` matches an absent field; `not filter` matches when the
//! filtered field is absent. Features not implemented (`fieldref`, `expand`, correlation rules,
//! deprecated `|` aggregations) are refused with [`RuleError::Unsupported`] and a reason, never
//! silently ignored. Keyword searches (a list of bare values) look for the value in every
//! text field the source carried (`unmapped`), as pySigma's full-text search does for Windows. YAML is read with `yaml-rust2` (maintained, pure Rust, YAML 1.2, no serde
//! layer) because `serde_yaml` is deprecated and unmaintained.
//!
//! Open for the next step: evaluation loops over rules one by one and each pattern checks the
//! field on its own. The compiled form keeps every literal visible ([`compile`]'s `Pattern`s),
//! so a rule set can later share field lookups, gather literals into Aho-Corasick automata and
//! regexes into a `RegexSet`, and prefilter by logsource route, without changing this API.

mod compile;
mod condition;
pub mod logsource;
mod parse;

pub use compile::{CompiledRule, RuleSet, compile};
pub use logsource::Route;
pub use parse::{Detection, FieldSpec, LogSource, Rule, Search, Value, parse_rule};

/// Why a rule could not be loaded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuleError {
    #[error("not YAML: {0}")]
    Yaml(String),
    #[error("not a Sigma rule: {0}")]
    Invalid(String),
    #[error("unsupported {feature}: {reason}")]
    Unsupported { feature: String, reason: String },
    #[error("condition `{condition}`: {reason}")]
    Condition { condition: String, reason: String },
    #[error("field `{field}`: {reason}")]
    Pattern { field: String, reason: String },
}

impl RuleError {
    /// A short, stable label for grouping failures in summaries (`unsupported modifier expand`).
    pub fn kind(&self) -> String {
        match self {
            RuleError::Yaml(_) => "not YAML".into(),
            RuleError::Invalid(_) => "not a Sigma rule".into(),
            RuleError::Unsupported { feature, .. } => format!("unsupported {feature}"),
            RuleError::Condition { .. } => "bad condition".into(),
            RuleError::Pattern { .. } => "bad pattern".into(),
        }
    }

    pub(crate) fn unsupported(feature: impl Into<String>, reason: impl Into<String>) -> Self {
        RuleError::Unsupported {
            feature: feature.into(),
            reason: reason.into(),
        }
    }
}
