//! OCSF Detection Finding (class 2004, category 2 Findings, schema 1.1): what SIEMs and data
//! lakes that speak OCSF (Amazon Security Lake, Splunk, Sentinel's OCSF parsers) ingest
//! without a custom parser. Entities become `observables`; ATT&CK technique ids become
//! `attacks`; HIPAA citations, which OCSF has no place for in this class, go to `unmapped`.

use super::Activity;
use serde_json::{Value, json};
use ward_model::{Alert, AlertStatus};

pub const CLASS_UID: u32 = 2004;
pub const CATEGORY_UID: u32 = 2;
pub const SCHEMA_VERSION: &str = "1.1.0";

/// OCSF finding `status_id`: 1 New, 2 In Progress, 4 Resolved.
pub fn status_id(status: AlertStatus) -> (u8, &'static str) {
    match status {
        AlertStatus::Open => (1, "New"),
        AlertStatus::Acknowledged => (2, "In Progress"),
        AlertStatus::Closed => (4, "Resolved"),
    }
}

pub fn render(alert: &Alert, activity: Activity, version: &str, url: Option<&str>) -> Value {
    let (activity_id, activity_name) = match activity {
        Activity::Create => (1, "Create"),
        Activity::Update => (2, "Update"),
    };
    let (status_id, status) = status_id(alert.status);
    let severity_name = {
        let s = alert.severity.as_str();
        let mut c = s.chars();
        c.next()
            .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
            .unwrap_or_default()
    };
    let mut finding_info = json!({
        "uid": alert.id,
        "title": alert.title,
        "types": [alert.rule_id],
        "first_seen_time": alert.first_seen.millis(),
        "last_seen_time": alert.last_seen.millis(),
        "analytic": {
            "uid": alert.rule_id,
            "name": alert.title,
            "type_id": 1,
            "type": "Rule",
        },
    });
    if let Some(desc) = &alert.description {
        finding_info["desc"] = json!(desc);
    }
    if let Some(url) = url {
        finding_info["src_url"] = json!(url);
    }
    let attacks: Vec<Value> = alert
        .attack
        .iter()
        .map(|t| json!({ "technique": { "uid": t }, "version": "v15" }))
        .collect();
    let mut out = json!({
        "class_uid": CLASS_UID,
        "class_name": "Detection Finding",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": CLASS_UID * 100 + activity_id,
        "time": alert.last_seen.millis(),
        "severity_id": alert.severity.id(),
        "severity": severity_name,
        "status_id": status_id,
        "status": status,
        "count": alert.count,
        "message": alert.title,
        "finding_info": finding_info,
        "metadata": {
            "version": SCHEMA_VERSION,
            "product": { "name": "Ward", "vendor_name": "Ward", "version": version },
            "uid": alert.id,
        },
        "observables": observables(alert),
    });
    if !attacks.is_empty() {
        out["attacks"] = Value::Array(attacks);
    }
    if !alert.hipaa.is_empty() {
        out["unmapped"] = json!({ "hipaa": alert.hipaa });
    }
    out
}

/// OCSF observable `type_id`s: 1 Hostname, 2 IP Address, 4 User Name, 5 Email Address,
/// 99 Other (patients and vendors have no type of their own).
fn observables(alert: &Alert) -> Vec<Value> {
    let e = &alert.entities;
    [
        ("actor.user.name", 4, "User Name", &e.user),
        ("patient.uid", 99, "Other", &e.patient),
        ("src_endpoint.ip", 2, "IP Address", &e.src_ip),
        ("dst_endpoint.ip", 2, "IP Address", &e.dst_ip),
        ("device.hostname", 1, "Hostname", &e.host),
        ("device.name", 1, "Hostname", &e.device),
        ("email.from", 5, "Email Address", &e.sender),
        ("email.to", 5, "Email Address", &e.recipient),
        ("vendor.name", 99, "Other", &e.vendor),
    ]
    .into_iter()
    .filter_map(|(name, type_id, type_name, value)| {
        value
            .as_ref()
            .map(|v| json!({ "name": name, "type_id": type_id, "type": type_name, "value": v }))
    })
    .collect()
}
