//! Switching detection rules off and back on from the rules page and the API: the switch and
//! its reason are stored (`ward_detect::switches`, a store setting), the change is written to
//! Ward's audit trail, and the running engine is told through
//! [`crate::ConsoleOptions::on_rules_changed`] so it drops the rule's findings at once.

use crate::audit::{self, AuditRecord};
use crate::pages::see_other;
use crate::routes::{Caller, RouteMethod};
use crate::totp::percent_encode;
use crate::{ConsoleError, ConsoleState};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Json, Response};
use axum::{Extension, Form};
use serde::Deserialize;
use serde_json::{Value, json};
use ward_detect::switches::{Disabled, RuleSwitches, SETTING};

type Result<T> = std::result::Result<T, ConsoleError>;

/// Longest reason kept (the switches keep no more).
const MAX_REASON_CHARS: usize = 500;

/// The stored switches (none when never written).
pub(crate) fn load(store: &dyn ward_store::Store) -> Result<RuleSwitches> {
    RuleSwitches::parse(store.setting(SETTING)?.as_deref())
        .map_err(|_| ConsoleError::Internal("the stored rule switches do not read back"))
}

#[derive(Deserialize)]
pub(crate) struct DisableForm {
    #[serde(default)]
    reason: String,
}

/// Switches `rule` on or off (`reason` Some), stores and audits it, tells the engine.
async fn switch(
    state: &ConsoleState,
    caller: &Caller,
    rule: &str,
    reason: Option<String>,
    place: &str,
) -> Result<()> {
    let p = caller.principal()?.clone();
    if !state.options().rules.iter().any(|r| r.id == rule) {
        return Err(ConsoleError::NotFound);
    }
    if let Some(reason) = &reason
        && (reason.trim().is_empty() || reason.chars().count() > MAX_REASON_CHARS)
    {
        return Err(ConsoleError::BadRequest(format!(
            "say why the rule is switched off, at most {MAX_REASON_CHARS} characters"
        )));
    }
    let (rule_id, by, now) = (rule.to_string(), p.audit_name(), state.now());
    let detail = match &reason {
        Some(r) => format!("rule switched off: {}", r.trim()),
        None => "rule switched back on".to_string(),
    };
    let ids = state
        .blocking(move |store| {
            let mut switches = load(store)?;
            match reason {
                Some(reason) => {
                    switches
                        .disable(&rule_id, &by, now, &reason)
                        .map_err(|e| ConsoleError::BadRequest(e.to_string()))?;
                }
                None => {
                    switches.enable(&rule_id);
                }
            }
            store.set_setting(SETTING, &switches.to_text())?;
            Ok(switches.ids())
        })
        .await?;
    if let Some(hook) = &state.options().on_rules_changed {
        hook(&ids);
    }
    audit::record(
        state,
        vec![AuditRecord::alert_change(
            &p.audit_name(),
            p.ip.clone(),
            place,
            &format!("rule:{rule}"),
            detail,
        )],
    )
    .await
}

pub(crate) async fn disable_form(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Form(form): Form<DisableForm>,
) -> Result<Response> {
    switch(
        &state,
        &caller,
        &id,
        Some(form.reason),
        "POST /rules/{id}/disable",
    )
    .await?;
    Ok(see_other(&format!("/rules#{}", percent_encode(&id))))
}

pub(crate) async fn enable_form(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response> {
    switch(&state, &caller, &id, None, "POST /rules/{id}/enable").await?;
    Ok(see_other(&format!("/rules#{}", percent_encode(&id))))
}

#[derive(Deserialize)]
struct StateBody {
    enabled: bool,
    #[serde(default)]
    reason: Option<String>,
}

pub(crate) async fn api_state(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response> {
    let b: StateBody = serde_json::from_slice(&bytes)
        .map_err(|_| ConsoleError::BadRequest("the body is not the JSON this call takes".into()))?;
    // The schema bounds the reason whatever the switch says.
    if b.reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > MAX_REASON_CHARS)
    {
        return Err(ConsoleError::BadRequest(format!(
            "a reason is at most {MAX_REASON_CHARS} characters"
        )));
    }
    let reason = if b.enabled {
        None
    } else {
        Some(b.reason.unwrap_or_default())
    };
    switch(
        &state,
        &caller,
        &id,
        reason,
        "POST /api/v1/rules/{id}/state",
    )
    .await?;
    let stored = state
        .blocking({
            let id = id.clone();
            move |store| Ok(load(store)?.get(&id).cloned())
        })
        .await?;
    Ok(Json(state_json(&id, stored.as_ref())).into_response())
}

/// `{"id", "enabled", "disabled_by", "disabled_at", "reason"}`.
pub(crate) fn state_json(id: &str, disabled: Option<&Disabled>) -> Value {
    json!({
        "id": id,
        "enabled": disabled.is_none(),
        "disabled_by": disabled.map(|d| d.by.clone()),
        "disabled_at": disabled.map(|d| d.at),
        "reason": disabled.map(|d| d.reason.clone()),
    })
}

type Operation = (Vec<Value>, Option<Value>, Value);

pub(crate) fn api_operation(method: RouteMethod, path: &str) -> Option<Operation> {
    if (method, path) != (RouteMethod::Post, "/api/v1/rules/{id}/state") {
        return None;
    }
    Some((
        vec![
            json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"},
            "description": "The rule's id, as its alerts' rule_id names it"}),
        ],
        Some(json!({"$ref": "#/components/schemas/RuleStateChange"})),
        json!({"description": "The rule's state now",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RuleState"}}}}),
    ))
}

pub(crate) fn with_schemas(mut schemas: Value) -> Value {
    let opt_string = json!({"type": ["string", "null"]});
    let added = json!({
        "RuleStateChange": {"type": "object", "required": ["enabled"], "properties": {
            "enabled": {"type": "boolean"},
            "reason": {"type": ["string", "null"], "maxLength": MAX_REASON_CHARS,
                "description": "Required when switching off"}},
            "if": {"properties": {"enabled": {"const": false}}},
            "then": {"required": ["reason"], "properties": {"reason": {"type": "string", "pattern": "\\S"}}}},
        "RuleState": {"type": "object", "additionalProperties": false,
            "required": ["id", "enabled", "disabled_by", "disabled_at", "reason"], "properties": {
            "id": {"type": "string"}, "enabled": {"type": "boolean"},
            "disabled_by": opt_string, "disabled_at": {"type": ["string", "null"], "format": "date-time"},
            "reason": opt_string}},
    });
    if let (Some(map), Value::Object(more)) = (schemas.as_object_mut(), added) {
        map.extend(more);
    }
    schemas
}
