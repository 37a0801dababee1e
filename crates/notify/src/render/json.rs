//! Ward's own alert JSON for generic webhooks: the alert exactly as `ward alerts --json`
//! prints it, wrapped with what the message is (`create` or `update`) and a console link.

use super::Activity;
use serde_json::{Value, json};
use ward_model::Alert;

pub const SCHEMA: &str = "ward.alert.v1";

pub fn render(alert: &Alert, activity: Activity, url: Option<&str>) -> Value {
    let mut out = json!({
        "schema": SCHEMA,
        "activity": activity.as_str(),
        "alert": alert,
    });
    if let Some(url) = url {
        out["url"] = json!(url);
    }
    out
}

/// Several alerts in one message (a digest).
pub fn digest(alerts: &[Alert]) -> Value {
    json!({ "schema": "ward.digest.v1", "count": alerts.len(), "alerts": alerts })
}
