//! Placeholders of the `expand` modifier: a value such as `%Admins_Workstations%` names a list
//! the organisation configures (its admin workstations, its domain controllers), and stands for
//! any of its values, as pySigma's `ValueListPlaceholderTransformation` expands it.
//!
//! A placeholder without values must never quietly match nothing (a selection that can never
//! hold, or a filter that never filters): by default the rule is refused, naming the
//! placeholder; [`Unconfigured::Wildcard`] reads it as `*` instead, as pySigma's
//! `WildcardPlaceholderTransformation` does.

use super::RuleError;
use std::collections::BTreeMap;

/// The configured values of placeholders, by name (names are case-sensitive, as in pySigma).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Placeholders {
    values: BTreeMap<String, Vec<String>>,
    unconfigured: Unconfigured,
}

/// What a placeholder without values stands for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Unconfigured {
    /// The rule is refused with a reason naming the placeholder.
    #[default]
    Refuse,
    /// The placeholder matches any text (`*`).
    Wildcard,
}

impl Placeholders {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the values `%name%` stands for: Sigma strings, so `*` and `?` are wildcards and
    /// `\` escapes them. An empty list is the same as no values.
    pub fn set(&mut self, name: impl Into<String>, values: Vec<String>) -> &mut Self {
        self.values.insert(name.into(), values);
        self
    }

    pub fn unconfigured(&mut self, policy: Unconfigured) -> &mut Self {
        self.unconfigured = policy;
        self
    }

    /// The Sigma strings a value of an `expand` field stands for, one per combination of its
    /// placeholders' values; the text around placeholders is kept, `\%` is a literal `%`.
    pub(super) fn expand(&self, field: &str, text: &str) -> Result<Vec<String>, RuleError> {
        let mut out = vec![String::new()];
        for part in split(text) {
            let choices: Vec<String> = match part {
                Part::Text(t) => vec![t],
                Part::Placeholder(name) => match self.values.get(&name) {
                    Some(values) if !values.is_empty() => {
                        values.iter().map(|v| canonical(v)).collect()
                    }
                    _ if self.unconfigured == Unconfigured::Wildcard => vec!["*".to_string()],
                    _ => {
                        return Err(RuleError::unsupported(
                            "placeholder without values",
                            format!(
                                "field `{field}`: placeholder `%{name}%` has no values; set \
                                 them under [detect.placeholders] ({name} = [\"…\"]) or \
                                 unconfigured_placeholders = \"wildcard\""
                            ),
                        ));
                    }
                },
            };
            out = out
                .iter()
                .flat_map(|prefix| choices.iter().map(move |c| format!("{prefix}{c}")))
                .collect();
        }
        Ok(out)
    }
}

enum Part {
    /// Sigma text in canonical form (see [`canonical`]).
    Text(String),
    Placeholder(String),
}

/// Splits a value into text and `%name%` placeholders (`name` of word characters, not after a
/// backslash; pySigma's `(?<!\\)%(\w+)%`).
fn split(text: &str) -> Vec<Part> {
    let chars: Vec<char> = text.chars().collect();
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut i = 0;
    while i < chars.len() {
        let after_backslash = i > 0 && chars[i - 1] == '\\';
        if chars[i] == '%' && !after_backslash {
            let name_len = chars[i + 1..]
                .iter()
                .take_while(|c| c.is_alphanumeric() || **c == '_')
                .count();
            if name_len > 0 && chars.get(i + 1 + name_len) == Some(&'%') {
                parts.push(Part::Text(canonical(&literal.replace("\\%", "%"))));
                literal.clear();
                parts.push(Part::Placeholder(
                    chars[i + 1..i + 1 + name_len].iter().collect(),
                ));
                i += name_len + 2;
                continue;
            }
        }
        literal.push(chars[i]);
        i += 1;
    }
    parts.push(Part::Text(canonical(&literal.replace("\\%", "%"))));
    parts
}

/// A Sigma string rewritten with every literal `\`, `*` and `?` escaped, so that pieces can be
/// joined without a trailing backslash of one escaping the start of the next.
fn canonical(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' | '?' => out.push(c),
            '\\' => {
                if let Some(&next @ ('*' | '?' | '\\')) = chars.peek() {
                    chars.next();
                    out.push('\\');
                    out.push(next);
                } else {
                    out.push_str("\\\\");
                }
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{Placeholders, Unconfigured};

    fn admins() -> Placeholders {
        let mut p = Placeholders::new();
        p.set(
            "Admins_Workstations",
            vec!["ws-admin-*".into(), "PAW01".into()],
        );
        p
    }

    #[test]
    fn a_placeholder_stands_for_each_of_its_values_with_wildcards_kept() {
        let expanded = admins()
            .expand("Computer", "%Admins_Workstations%")
            .unwrap();
        assert_eq!(expanded, ["ws-admin-*", "PAW01"]);
    }

    #[test]
    fn text_around_placeholders_is_kept_and_several_placeholders_combine() {
        let mut p = admins();
        p.set("Domains", vec!["corp".into(), "lab".into()]);
        let expanded = p
            .expand("Computer", "%Admins_Workstations%.%Domains%.local")
            .unwrap();
        assert_eq!(
            expanded,
            [
                "ws-admin-*.corp.local",
                "ws-admin-*.lab.local",
                "PAW01.corp.local",
                "PAW01.lab.local"
            ]
        );
    }

    #[test]
    fn escaped_percent_and_non_names_are_text() {
        let p = admins();
        assert_eq!(
            p.expand("f", r"\%Admins_Workstations\%").unwrap(),
            ["%Admins_Workstations%"]
        );
        assert_eq!(p.expand("f", "100% %-%").unwrap(), ["100% %-%"]);
    }

    #[test]
    fn a_value_ending_in_a_backslash_does_not_escape_the_wildcard_after_it() {
        let mut p = Placeholders::new();
        p.set("dir", vec![r"C:\temp\".into()]);
        assert_eq!(p.expand("f", "%dir%*.exe").unwrap(), [r"C:\\temp\\*.exe"]);
    }

    #[test]
    fn a_placeholder_without_values_is_refused_naming_it_unless_read_as_a_wildcard() {
        let mut p = Placeholders::new();
        p.set("known_cdcs", Vec::new());
        for name in ["known_cdcs", "unknown"] {
            let err = p.expand("Attributes", &format!("%{name}%")).unwrap_err();
            assert_eq!(err.kind(), "unsupported placeholder without values");
            assert!(err.to_string().contains(&format!("`%{name}%`")), "{err}");
        }
        p.unconfigured(Unconfigured::Wildcard);
        assert_eq!(
            p.expand("Attributes", "cdc:%known_cdcs%").unwrap(),
            ["cdc:*"]
        );
    }
}
