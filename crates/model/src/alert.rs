//! Alerts: what a detector concluded, in the shape `ward alerts --json` promises
//! (`../shared/PRODUCT.md`): `id, rule_id, title, severity, first_seen, last_seen, count,
//! entities, attack, hipaa`, plus the rule's attribution as the Detection Rule License asks.

use crate::event::Severity;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// The entities an alert names, as plain strings; only those that apply are present.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AlertEntities {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    #[default]
    Open,
    Acknowledged,
    Closed,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "open" => Some(AlertStatus::Open),
            "acknowledged" => Some(AlertStatus::Acknowledged),
            "closed" => Some(AlertStatus::Closed),
            _ => None,
        }
    }
}

/// One alert: repeated matches of the same rule on the same entities grouped together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable across backends: derived by the detector from rule, entities and window.
    pub id: String,
    pub rule_id: String,
    pub title: String,
    pub severity: Severity,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub count: u64,
    pub entities: AlertEntities,
    /// MITRE ATT&CK technique ids (`T1110.003`).
    pub attack: Vec<String>,
    /// 45 CFR citations (`164.312(b)`).
    pub hipaa: Vec<String>,
    #[serde(default)]
    pub status: AlertStatus,
    /// The rule's author, references and licence, shown wherever its matches are shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    /// Plain-language reason for a human reader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_has_the_contract_keys() {
        let a = Alert {
            id: "a1".into(),
            rule_id: "r".into(),
            title: "t".into(),
            severity: Severity::High,
            first_seen: Timestamp(0),
            last_seen: Timestamp(1),
            count: 2,
            entities: AlertEntities {
                user: Some("u".into()),
                ..Default::default()
            },
            attack: vec!["T1110".into()],
            hipaa: vec!["164.312(b)".into()],
            status: AlertStatus::Open,
            author: None,
            license: None,
            references: vec![],
            description: None,
        };
        let v = serde_json::to_value(&a).unwrap();
        for key in [
            "id",
            "rule_id",
            "title",
            "severity",
            "first_seen",
            "last_seen",
            "count",
            "entities",
            "attack",
            "hipaa",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert_eq!(v["severity"], "high");
        assert_eq!(v["entities"], serde_json::json!({"user": "u"}));
    }
}
