//! The JSON API under `/api/v1`: what the console shows, for machines and scripts. Same
//! permission table, same masking, same audit trail as the pages; authenticated by an API
//! token (`Authorization: Bearer`) or by the console's session cookie (then state changes need
//! the `X-CSRF-Token` header). Errors are `{"error": code, "message": text}`.

use crate::audit;
use crate::mask::Masker;
use crate::pages::{
    AlertChange, AuditFilter, RuleFilter, change_alert, record_phi_views, rules_with_counts,
};
use crate::routes::Caller;
use crate::views::{self, AlertFilter, EventSearch};
use crate::{ConsoleError, ConsoleState, auth, openapi};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Json, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use ward_model::{AlertStatus, Event};
use ward_store::QuarantineQuery;

type ApiResult = Result<Response, ConsoleError>;

fn query<T: DeserializeOwned>(
    q: Result<Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T, ConsoleError> {
    q.map(|Query(t)| t)
        .map_err(|_| ConsoleError::BadRequest("the query string is not valid".into()))
}

/// The API refuses a `limit` above what the OpenAPI document allows instead of quietly
/// returning fewer rows than asked for (pages clamp; a machine should be told).
fn check_limit(limit: Option<usize>, max: usize) -> Result<(), ConsoleError> {
    match limit {
        Some(n) if n == 0 || n > max => Err(ConsoleError::BadRequest(format!(
            "limit must be between 1 and {max}"
        ))),
        _ => Ok(()),
    }
}

fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ConsoleError> {
    serde_json::from_slice(bytes)
        .map_err(|_| ConsoleError::BadRequest("the body is not the JSON this call takes".into()))
}

fn masker<'a>(state: &'a ConsoleState, role_sees_phi: bool) -> Masker<'a> {
    Masker {
        enabled: !role_sees_phi,
        secret: state.secret(),
    }
}

/// `events` masked as `masker` says; the ids of patients shown unmasked are added to `shown`.
pub(crate) fn masked_events(
    events: Vec<Event>,
    masker: Masker<'_>,
    shown: &mut BTreeSet<String>,
) -> Vec<Event> {
    events
        .into_iter()
        .map(|e| {
            if !masker.enabled
                && let Some(id) = &e.patient.id
            {
                shown.insert(id.clone());
            }
            masker.event(e)
        })
        .collect()
}

pub(crate) async fn openapi() -> Response {
    Json(openapi::document()).into_response()
}

pub(crate) async fn stats(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult {
    let p = caller.principal()?.clone();
    let now = state.now();
    let silent = auth::millis(state.options().silent_source_after);
    let mut o = state
        .blocking(move |store| views::overview(store, now, silent))
        .await?;
    let masker = masker(&state, p.role.sees_phi());
    let mut shown = BTreeSet::new();
    for (kind, value, _) in &mut o.top_entities {
        if kind == "patient" {
            if !masker.enabled {
                shown.insert(value.clone());
            }
            *value = masker.patient_id(value);
        }
    }
    record_phi_views(&state, &p, "GET /api/v1/stats", shown).await?;
    let top: Vec<Value> = o
        .top_entities
        .iter()
        .map(|(k, v, n)| json!({"kind": k, "value": v, "alerts": n}))
        .collect();
    let trend: Vec<Value> = o
        .trend
        .iter()
        .map(|(day, c)| json!({"day": day, "informational": c[0], "low": c[1], "medium": c[2], "high": c[3], "critical": c[4]}))
        .collect();
    let s = o.open_by_severity;
    Ok(Json(json!({
        "events": o.events,
        "alerts": o.alerts,
        "quarantined": o.quarantined,
        "open_alerts": {"total": o.open_total, "informational": s[0], "low": s[1], "medium": s[2], "high": s[3], "critical": s[4]},
        "trend": trend,
        "top_entities": top,
        "sources": o.sources,
    }))
    .into_response())
}

pub(crate) async fn alerts(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<AlertFilter>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let p = caller.principal()?.clone();
    let filter = query(q)?;
    check_limit(filter.limit, views::ALERT_LIMIT)?;
    let listed = state
        .blocking(move |store| views::alerts(store, &filter))
        .await?;
    let masker = masker(&state, p.role.sees_phi());
    let mut shown = BTreeSet::new();
    let alerts: Vec<_> = listed
        .into_iter()
        .map(|a| {
            if !masker.enabled
                && let Some(id) = &a.entities.patient
            {
                shown.insert(id.clone());
            }
            masker.alert(a)
        })
        .collect();
    record_phi_views(&state, &p, "GET /api/v1/alerts", shown).await?;
    Ok(Json(json!({"alerts": alerts})).into_response())
}

pub(crate) async fn alert(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    let p = caller.principal()?.clone();
    let (alert, workflow, events) = state
        .blocking(move |store| {
            let alert = store.get_alert(&id)?.ok_or(ConsoleError::NotFound)?;
            let workflow = store.alert_workflow(&id)?.unwrap_or_default();
            let events = store.alert_events(&id, 1000)?;
            Ok((alert, workflow, events))
        })
        .await?;
    let masker = masker(&state, p.role.sees_phi());
    let mut shown = BTreeSet::new();
    if !masker.enabled
        && let Some(id) = &alert.entities.patient
    {
        shown.insert(id.clone());
    }
    record_phi_views(&state, &p, "GET /api/v1/alerts/{id}", shown).await?;
    let close_reason = if alert.status == AlertStatus::Closed {
        workflow.close_reason
    } else {
        None
    };
    Ok(Json(json!({
        "alert": masker.alert(alert),
        "assignee": workflow.assignee,
        "close_reason": close_reason,
        "events": events,
    }))
    .into_response())
}

pub(crate) async fn privacy(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult {
    let p = caller.principal()?.clone();
    let (cases, truncated) = state.blocking(views::privacy_cases).await?;
    let masker = masker(&state, p.role.sees_phi());
    let mut shown = BTreeSet::new();
    let cases: Vec<Value> = cases
        .into_iter()
        .map(|case| {
            if !masker.enabled {
                shown.extend(case.patients.iter().cloned());
            }
            let patients: Vec<String> = case
                .patients
                .iter()
                .map(|id| masker.patient_id(id))
                .collect();
            let alerts: Vec<_> = case.alerts.into_iter().map(|a| masker.alert(a)).collect();
            json!({
                "user": case.user,
                "severity": case.severity,
                "first_seen": case.first_seen,
                "last_seen": case.last_seen,
                "accesses": case.accesses,
                "patients": patients,
                "alerts": alerts,
            })
        })
        .collect();
    record_phi_views(&state, &p, "GET /api/v1/privacy", shown).await?;
    Ok(Json(json!({"cases": cases, "truncated": truncated})).into_response())
}

pub(crate) async fn rules(
    State(state): State<ConsoleState>,
    q: Result<Query<RuleFilter>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let filter = query(q)?;
    let (rules, truncated) = rules_with_counts(&state, &filter).await?;
    let rows: Vec<Value> = rules
        .into_iter()
        .map(|(rule, open)| {
            let mut row = json!(rule);
            row["open_alerts"] = json!(open);
            row
        })
        .collect();
    Ok(Json(json!({"rules": rows, "open_alerts_truncated": truncated})).into_response())
}

/// Most quarantined records one API call returns.
const QUARANTINE_LIMIT: usize = 1000;
/// Longest close reason, as the console's form allows.
const MAX_REASON_CHARS: usize = 500;

#[derive(Deserialize)]
struct StatusBody {
    status: String,
    #[serde(default)]
    reason: Option<String>,
}

pub(crate) async fn alert_status(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    let p = caller.principal()?.clone();
    let b: StatusBody = body(&bytes)?;
    if b.reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > MAX_REASON_CHARS)
    {
        return Err(ConsoleError::BadRequest(format!(
            "reason is at most {MAX_REASON_CHARS} characters"
        )));
    }
    let change = match AlertStatus::parse(&b.status) {
        Some(AlertStatus::Closed) => AlertChange::Close(b.reason.unwrap_or_default()),
        Some(s) => AlertChange::Status(s),
        None => {
            return Err(ConsoleError::BadRequest(
                "status must be open, acknowledged or closed".into(),
            ));
        }
    };
    change_alert(&state, &p, &id, "POST /api/v1/alerts/{id}/status", change).await?;
    Ok(Json(json!({"id": id, "status": b.status})).into_response())
}

/// `assignee` must be present: a user name, or `null` to unassign.
#[derive(Deserialize)]
struct AssignBody {
    #[serde(deserialize_with = "present")]
    assignee: Option<String>,
}

/// Deserialises a field that must be given but may be `null` (serde treats a missing
/// `Option` as `None` unless the field has its own deserialiser).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d)
}

pub(crate) async fn alert_assign(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    let p = caller.principal()?.clone();
    let b: AssignBody = body(&bytes)?;
    let assignee = b
        .assignee
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty());
    change_alert(
        &state,
        &p,
        &id,
        "POST /api/v1/alerts/{id}/assign",
        AlertChange::Assign(assignee.clone()),
    )
    .await?;
    Ok(Json(json!({"id": id, "assignee": assignee})).into_response())
}

pub(crate) async fn events(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<EventSearch>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let p = caller.principal()?.clone();
    let search = query(q)?;
    check_limit(search.limit, crate::views::EVENT_LIMIT)?;
    let eq = search.to_query()?;
    let (found, total) = state
        .blocking(move |store| Ok((store.query_events(&eq)?, store.count_events(&eq)?)))
        .await?;
    let mut shown = BTreeSet::new();
    let events = masked_events(found, masker(&state, p.role.sees_phi()), &mut shown);
    record_phi_views(&state, &p, "GET /api/v1/events", shown).await?;
    Ok(Json(json!({"total": total, "events": events})).into_response())
}

pub(crate) async fn timeline(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path((kind, value)): Path<(String, String)>,
) -> ApiResult {
    let p = caller.principal()?.clone();
    let eq = views::timeline_query(&kind, &value)?;
    let (found, total) = state
        .blocking(move |store| Ok((store.query_events(&eq)?, store.count_events(&eq)?)))
        .await?;
    let masker = masker(&state, p.role.sees_phi());
    let mut shown = BTreeSet::new();
    if kind == "patient" && !masker.enabled {
        shown.insert(value.clone());
    }
    let events = masked_events(found, masker, &mut shown);
    record_phi_views(&state, &p, "GET /api/v1/timeline/{kind}/{value}", shown).await?;
    let value = if kind == "patient" {
        masker.patient_id(&value)
    } else {
        value
    };
    Ok(
        Json(json!({"kind": kind, "value": value, "total": total, "events": events}))
            .into_response(),
    )
}

pub(crate) async fn sources(State(state): State<ConsoleState>) -> ApiResult {
    let now = state.now();
    let silent = auth::millis(state.options().silent_source_after);
    let rows = state
        .blocking(move |store| views::sources(store, now, silent))
        .await?;
    Ok(Json(json!({"sources": rows})).into_response())
}

#[derive(Deserialize, Default)]
pub(crate) struct QuarantineParams {
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    after_id: Option<i64>,
    #[serde(default)]
    limit: Option<usize>,
}

pub(crate) async fn quarantine(
    State(state): State<ConsoleState>,
    q: Result<Query<QuarantineParams>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let params = query(q)?;
    check_limit(params.limit, QUARANTINE_LIMIT)?;
    let records = state
        .blocking(move |store| {
            Ok(store.list_quarantine(&QuarantineQuery {
                source: params.source,
                after_id: params.after_id,
                limit: Some(params.limit.unwrap_or(500).min(QUARANTINE_LIMIT)),
            })?)
        })
        .await?;
    // Raw bytes can hold PHI that cannot be masked: the API lists where and why, not what.
    let rows: Vec<Value> = records
        .into_iter()
        .map(|q| {
            json!({
                "id": q.id,
                "source": q.record.source,
                "format": q.record.format,
                "line": q.record.position.line,
                "offset": q.record.position.offset,
                "entry": q.record.position.entry,
                "reason": q.record.reason,
                "raw_len": q.record.raw_len,
                "quarantined_at": q.quarantined_at,
            })
        })
        .collect();
    Ok(Json(json!({"records": rows})).into_response())
}

pub(crate) async fn audit(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<AuditFilter>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let p = caller.principal()?.clone();
    let filter = query(q)?;
    check_limit(filter.limit, crate::pages::AUDIT_LIMIT)?;
    let fhir = match filter.format.as_deref() {
        None | Some("json") => false,
        Some("fhir") => true,
        Some(_) => {
            return Err(ConsoleError::BadRequest(
                "format must be json or fhir".into(),
            ));
        }
    };
    let aq = filter.to_query()?;
    let found = state
        .blocking(move |store| Ok(store.accounts().audit_events(&aq)?))
        .await?;
    let masker = masker(&state, p.role.sees_phi());
    let mut shown = BTreeSet::new();
    let events: Vec<Event> = found
        .into_iter()
        .map(|mut e| {
            if let Some(id) = &e.patient.id {
                if !masker.enabled {
                    shown.insert(id.clone());
                }
                e.patient.id = Some(masker.patient_id(id));
            }
            e.raw.clear();
            e
        })
        .collect();
    record_phi_views(&state, &p, "GET /api/v1/audit", shown).await?;
    if fhir {
        let bundle = audit::to_fhir_bundle(&events);
        return Ok((
            [(axum::http::header::CONTENT_TYPE, "application/fhir+json")],
            Json(bundle),
        )
            .into_response());
    }
    Ok(Json(json!({"events": events})).into_response())
}

pub(crate) async fn users(State(state): State<ConsoleState>) -> ApiResult {
    let now = state.now();
    let users = state
        .blocking(|store| Ok(store.accounts().list_users()?))
        .await?;
    // Never the hash or the TOTP key: only what an admin needs to see.
    let rows: Vec<Value> = users
        .into_iter()
        .map(|u| {
            json!({
                "name": u.name,
                "role": u.role,
                "mfa": u.totp_secret.is_some(),
                "disabled": u.disabled,
                "locked": u.locked_until.is_some_and(|t| t > now),
                "created_at": u.created_at,
            })
        })
        .collect();
    Ok(Json(json!({"users": rows})).into_response())
}
