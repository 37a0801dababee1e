//! Rules switched off by people: a noisy rule a site has judged, with who did it, when and
//! why. The engine drops the findings of a switched-off rule (the detectors keep running, so
//! switching it back on needs no restart and loses no state); the switches are a small
//! document the binary keeps in the store under [`SETTING`] and the console edits.

use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use ward_model::Timestamp;

/// The store setting the switches live under.
pub const SETTING: &str = "detect.rules.disabled";

/// Longest reason kept.
const MAX_REASON: usize = 500;

/// One rule switched off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disabled {
    pub rule: String,
    pub by: String,
    pub at: Timestamp,
    pub reason: String,
}

/// Every rule switched off, by rule id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSwitches {
    pub disabled: Vec<Disabled>,
}

/// Why a switch could not be changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SwitchError {
    #[error("say why the rule is switched off")]
    NoReason,
    #[error("the rule id is empty")]
    NoRule,
}

impl RuleSwitches {
    /// The stored document; an absent setting is no rule switched off.
    pub fn parse(text: Option<&str>) -> Result<RuleSwitches, serde_json::Error> {
        match text {
            None => Ok(RuleSwitches::default()),
            Some(text) => serde_json::from_str(text),
        }
    }

    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{\"disabled\":[]}".into())
    }

    pub fn ids(&self) -> HashSet<String> {
        self.disabled.iter().map(|d| d.rule.clone()).collect()
    }

    pub fn get(&self, rule: &str) -> Option<&Disabled> {
        self.disabled.iter().find(|d| d.rule == rule)
    }

    /// Switches `rule` off (replacing an earlier record of it); `false` when it already was.
    pub fn disable(
        &mut self,
        rule: &str,
        by: &str,
        at: Timestamp,
        reason: &str,
    ) -> Result<bool, SwitchError> {
        let rule = rule.trim();
        let reason = reason.trim();
        if rule.is_empty() {
            return Err(SwitchError::NoRule);
        }
        if reason.is_empty() {
            return Err(SwitchError::NoReason);
        }
        let was_on = self.get(rule).is_none();
        self.disabled.retain(|d| d.rule != rule);
        self.disabled.push(Disabled {
            rule: rule.to_string(),
            by: by.to_string(),
            at,
            reason: reason.chars().take(MAX_REASON).collect(),
        });
        self.disabled.sort_by(|a, b| a.rule.cmp(&b.rule));
        Ok(was_on)
    }

    /// Switches `rule` back on; `false` when it was not off.
    pub fn enable(&mut self, rule: &str) -> bool {
        let before = self.disabled.len();
        self.disabled.retain(|d| d.rule != rule.trim());
        self.disabled.len() != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_switched_off_with_a_reason_and_back_on() {
        let mut switches = RuleSwitches::parse(None).unwrap();
        assert_eq!(
            switches.disable("r1", "ana", Timestamp(1), " "),
            Err(SwitchError::NoReason)
        );
        assert_eq!(
            switches.disable("r1", "ana", Timestamp(1), "noisy"),
            Ok(true)
        );
        assert_eq!(
            switches.disable("r1", "bob", Timestamp(2), "still noisy"),
            Ok(false)
        );
        assert_eq!(switches.get("r1").unwrap().by, "bob");
        let text = switches.to_text();
        let back = RuleSwitches::parse(Some(&text)).unwrap();
        assert_eq!(back, switches);
        assert!(back.ids().contains("r1"));
        assert!(switches.enable("r1"));
        assert!(!switches.enable("r1"));
        assert!(switches.ids().is_empty());
    }
}
