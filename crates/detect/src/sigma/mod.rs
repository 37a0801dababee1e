//! Sigma rules: [`parse_rule`] reads one rule's YAML into a [`Rule`], [`compile`] lowers it once
//! into a [`CompiledRule`] (fields resolved, patterns lowered to equals / prefix / suffix /
//! contains / regex), and a [`RuleSet`] evaluates an event against all compiled rules at once.
//!
//! Semantics follow pySigma, the reference implementation: values match case-insensitively
//! unless `cased` or `re`; `field: null` matches an absent field; `not filter` matches when the
//! filtered field is absent. Features not implemented (Sigma 1 aggregations and `action:`
//! collections) are refused with [`RuleError::Unsupported`] and a reason, never silently
//! ignored; so is an `expand` placeholder (`%Admins_Workstations%`) without configured values
//! ([`Placeholders`], given to [`compile_with`] or [`Collection::with_placeholders`]). Sigma 2 correlation rules ([`correlation`]) are read from multi-document
//! files ([`parse_documents`]) and evaluated on the stream by the [`SigmaDetector`], which
//! turns matches into alerts; Ward's own healthcare rules ship inside the binary ([`pack`]). Keyword searches (a list of bare values) look for the value in every
//! text field the source carried (`unmapped`), as pySigma's full-text search does for Windows. YAML is read with `yaml-rust2` (maintained, pure Rust, YAML 1.2, no serde
//! layer) because `serde_yaml` is deprecated and unmaintained.
//!
//! A [`RuleSet`] does not loop over its rules: it lowers them once into one matcher (shared
//! predicates, per-field Aho-Corasick automata over every rule's literals, rules woken only by
//! literals they need; see `matcher.rs`), and must match exactly what each rule matches alone
//! ([`CompiledRule::matches`], kept as the reference).

mod compile;
mod condition;
pub mod correlation;
mod detector;
pub mod logsource;
mod matcher;
pub mod pack;
mod parse;
mod placeholder;

pub use compile::{CompiledRule, compile, compile_with};
pub use correlation::{Comparison, Condition, Correlation, CorrelationType};
pub use detector::{
    Collection, MAX_GROUPS, SigmaDetector, describe_logsource, entities_of, rule_key,
};
pub use logsource::Route;
pub use matcher::RuleSet;
pub use parse::{
    Detection, Document, FieldSpec, LogSource, Meta, Rule, Search, Value, hipaa_citation,
    parse_documents, parse_rule,
};
pub use placeholder::{Placeholders, Unconfigured};

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
    /// A short, stable label for grouping failures in summaries (`unsupported modifier utf16
    /// without base64`).
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
