//! The settings page and the listeners on the sources page: what Ward runs with, read-only.
//! Ward's settings live in its configuration file (configuration as code: reviewed, versioned,
//! restored with the host); the console shows the effective values, secrets redacted by the
//! binary before they reach it, beside the console's own session policy, so an auditor can
//! check the safeguards (automatic logoff, lock-out, encryption at rest) without a shell.

use crate::pages::{Chrome, fmt_time, render};
use crate::routes::{Caller, RouteMethod};
use crate::{ConsoleError, ConsoleState};
use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::response::{IntoResponse, Json, Response};
use serde::Serialize;
use serde_json::{Value, json};
use ward_listen::ListenerSnapshot;

type Result<T> = std::result::Result<T, ConsoleError>;

/// One named group of settings (`Encryption at rest`, `[listen.syslog_tcp]`…).
#[derive(Debug, Clone, Default, Serialize)]
pub struct SettingGroup {
    pub name: String,
    pub items: Vec<SettingItem>,
}

/// One setting and its effective value, as text.
#[derive(Debug, Clone, Serialize)]
pub struct SettingItem {
    pub key: String,
    pub value: String,
}

impl SettingGroup {
    pub fn new(name: impl Into<String>) -> Self {
        SettingGroup {
            name: name.into(),
            items: Vec::new(),
        }
    }

    /// Adds `key = value`.
    pub fn item(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.items.push(SettingItem {
            key: key.into(),
            value: value.to_string(),
        });
        self
    }
}

/// What the binary tells the console about its configuration.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SettingsView {
    /// The configuration file read at start, if any.
    pub config_file: Option<String>,
    /// Its text with every secret value replaced by `"<redacted>"`.
    pub config_text: Option<String>,
    pub groups: Vec<SettingGroup>,
}

fn duration(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    match secs {
        s if s % 3600 == 0 && s > 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 && s > 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// The console's own policy, from its options.
fn console_group(state: &ConsoleState) -> SettingGroup {
    let o = state.options();
    SettingGroup::new("Console sessions and sign-in")
        .item(
            "idle timeout (automatic logoff, 164.312(a)(2)(iii))",
            duration(o.idle_timeout),
        )
        .item("absolute session lifetime", duration(o.absolute_timeout))
        .item(
            "account lock-out",
            format!(
                "after {} failed sign-ins, for {}",
                o.lock_after_failures,
                duration(o.lock_duration)
            ),
        )
        .item(
            "sign-in throttle per client address",
            format!(
                "{} failures per {}",
                o.throttle_per_client,
                duration(o.throttle_window)
            ),
        )
        .item("MFA (TOTP)", "required for admins; any user may enrol")
        .item(
            "cookies",
            if o.secure_cookies {
                "Secure, HttpOnly, SameSite=Strict (__Host- prefix)"
            } else {
                "HttpOnly, SameSite=Strict, not Secure: plain HTTP on loopback only"
            },
        )
        .item("source silent after", duration(o.silent_source_after))
        .item("detection rules loaded", o.rules.len())
}

fn all_groups(state: &ConsoleState) -> Vec<SettingGroup> {
    let mut groups = vec![console_group(state)];
    groups.extend(state.options().settings.groups.iter().cloned());
    groups
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    chrome: Chrome,
    groups: Vec<SettingGroup>,
    config_file: Option<String>,
    config_text: Option<String>,
}

pub(crate) async fn page(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response> {
    let p = caller.principal()?.clone();
    let settings = &state.options().settings;
    render(&SettingsPage {
        chrome: Chrome::new(&p, "/settings", "Settings"),
        groups: all_groups(&state),
        config_file: settings.config_file.clone(),
        config_text: settings.config_text.clone(),
    })
}

pub(crate) async fn api(State(state): State<ConsoleState>) -> Result<Response> {
    let settings = &state.options().settings;
    Ok(Json(json!({
        "config_file": settings.config_file,
        "config_text": settings.config_text,
        "groups": all_groups(&state),
    }))
    .into_response())
}

/// The listeners' counters, or `None` when the console was given no registry.
pub(crate) fn listeners(state: &ConsoleState) -> Option<Vec<ListenerSnapshot>> {
    state.options().listeners.as_ref().map(|r| r.snapshot())
}

/// A listener as the sources page shows it.
pub(crate) struct ListenerView {
    pub(crate) s: ListenerSnapshot,
    pub(crate) limits: String,
    pub(crate) last: String,
}

pub(crate) fn listener_views(list: Vec<ListenerSnapshot>) -> Vec<ListenerView> {
    list.into_iter()
        .map(|s| {
            let mut limits = vec![format!("{} bytes a message", s.facts.max_message_bytes)];
            if let Some(c) = s.facts.max_connections {
                limits.push(format!("{c} connections"));
            }
            limits.push(if s.facts.rate_per_peer > 0.0 {
                format!("{} a second per peer", s.facts.rate_per_peer)
            } else {
                "no per-peer rate limit".to_string()
            });
            let last = s
                .last_received
                .as_deref()
                .and_then(ward_model::Timestamp::parse)
                .map_or_else(|| "never".to_string(), fmt_time);
            ListenerView {
                limits: limits.join(", "),
                last,
                s,
            }
        })
        .collect()
}

pub(crate) async fn api_listeners(State(state): State<ConsoleState>) -> Result<Response> {
    Ok(Json(json!({
        "running": state.options().listeners.is_some(),
        "listeners": listeners(&state).unwrap_or_default(),
    }))
    .into_response())
}

/// The OpenAPI operations of this module's routes.
pub(crate) fn api_operation(
    method: RouteMethod,
    path: &str,
) -> Option<(Vec<Value>, Option<Value>, Value)> {
    let ok = |schema: &str, description: &str| json!({"description": description, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}});
    match (method, path) {
        (RouteMethod::Get, "/api/v1/settings") => Some((
            vec![],
            None,
            ok("Settings", "The effective configuration, secrets redacted"),
        )),
        (RouteMethod::Get, "/api/v1/listeners") => Some((
            vec![],
            None,
            ok(
                "ListenerList",
                "The running listeners with their limits and counters",
            ),
        )),
        _ => None,
    }
}

pub(crate) fn with_schemas(mut schemas: Value) -> Value {
    let count = json!({"type": "integer", "minimum": 0});
    let added = json!({
        "Settings": {"type": "object", "additionalProperties": false,
            "required": ["config_file", "config_text", "groups"], "properties": {
            "config_file": {"type": ["string", "null"]},
            "config_text": {"type": ["string", "null"]},
            "groups": {"type": "array", "items": {"type": "object", "additionalProperties": false,
                "required": ["name", "items"], "properties": {
                "name": {"type": "string"},
                "items": {"type": "array", "items": {"type": "object", "additionalProperties": false,
                    "required": ["key", "value"], "properties": {
                    "key": {"type": "string"}, "value": {"type": "string"}}}}}}}}},
        "ListenerList": {"type": "object", "additionalProperties": false,
            "required": ["running", "listeners"], "properties": {
            "running": {"type": "boolean"},
            "listeners": {"type": "array", "items": {"$ref": "#/components/schemas/Listener"}}}},
        "Listener": {"type": "object", "additionalProperties": false,
            "required": ["name", "address", "transport", "tls", "max_message_bytes", "max_connections",
                "rate_per_peer", "connections_accepted", "connections_open", "connections_refused",
                "received", "stored", "duplicates", "quarantined", "oversize", "rate_limited", "busy",
                "failed_commits", "last_received"],
            "properties": {
            "name": {"type": "string"}, "address": {"type": "string"},
            "transport": {"type": "string", "enum": ["udp", "tcp"]}, "tls": {"type": "boolean"},
            "max_message_bytes": count, "max_connections": {"type": ["integer", "null"], "minimum": 0},
            "rate_per_peer": {"type": "number", "minimum": 0},
            "connections_accepted": count, "connections_open": count, "connections_refused": count,
            "received": count, "stored": count, "duplicates": count, "quarantined": count,
            "oversize": count, "rate_limited": count, "busy": count, "failed_commits": count,
            "last_received": {"type": ["string", "null"], "format": "date-time"}}},
    });
    if let (Some(all), Some(added)) = (schemas.as_object_mut(), added.as_object()) {
        for (k, v) in added {
            all.insert(k.clone(), v.clone());
        }
    }
    schemas
}
