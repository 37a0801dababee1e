//! The notification deliveries: what Ward owed each channel and where it stands (the page
//! "Notifications" and `GET /api/v1/deliveries`), for whoever answers for alerts reaching
//! people. Shown: channel, alert, state, attempts, next try and the last error as the notifier
//! worded it (never PHI).
//!
//! Must never show or return a delivery's payload: a message for a channel approved for PHI
//! carries patient details, and this list is for roles that do not see them.

use crate::pages::{Chrome, fmt_time, render};
use crate::routes::{Caller, RouteMethod};
use crate::totp::percent_encode;
use crate::{ConsoleError, ConsoleState};
use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Json, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use ward_model::Timestamp;
use ward_store::{DeliveryQuery, DeliveryRecord, DeliveryState};

/// Most deliveries one answer lists.
pub(crate) const MAX_LIMIT: usize = 500;
const DEFAULT_LIMIT: usize = 200;

/// The filter both the page and the API take.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeliveryFilter {
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
}

impl DeliveryFilter {
    /// The store query; an unknown state or a limit out of range is the caller's mistake.
    fn query(self) -> Result<DeliveryQuery, ConsoleError> {
        let state = match self.state.as_deref() {
            None | Some("") | Some("all") => None,
            Some(text) => Some(DeliveryState::parse(text).ok_or_else(|| {
                ConsoleError::BadRequest("state must be pending, delivered or abandoned".into())
            })?),
        };
        if let Some(n) = self.limit
            && (n == 0 || n > MAX_LIMIT)
        {
            return Err(ConsoleError::BadRequest(format!(
                "limit must be between 1 and {MAX_LIMIT}"
            )));
        }
        Ok(DeliveryQuery {
            channel: self.channel.filter(|c| !c.is_empty()),
            alert_id: None,
            state,
            limit: Some(self.limit.unwrap_or(DEFAULT_LIMIT)),
        })
    }
}

/// One delivery as shown: everything but the payload.
#[derive(Debug, Serialize)]
pub(crate) struct DeliveryView {
    id: i64,
    channel: String,
    alert_id: String,
    state: &'static str,
    attempts: u32,
    /// While pending: when the next attempt is due.
    next_try: Option<String>,
    created_at: String,
    delivered_at: Option<String>,
    last_error: Option<String>,
}

impl DeliveryView {
    fn from(record: DeliveryRecord) -> Self {
        DeliveryView {
            id: record.id,
            channel: record.channel,
            alert_id: record.alert_id,
            state: record.state.as_str(),
            attempts: record.attempts,
            next_try: (record.state == DeliveryState::Pending).then(|| rfc3339(record.next_try)),
            created_at: rfc3339(record.created_at),
            delivered_at: record.delivered_at.map(rfc3339),
            last_error: record.last_error,
        }
    }
}

fn rfc3339(t: Timestamp) -> String {
    t.to_rfc3339()
}

async fn load(
    state: &ConsoleState,
    filter: DeliveryFilter,
) -> Result<Vec<DeliveryView>, ConsoleError> {
    let query = filter.query()?;
    let records = state
        .blocking(move |store| Ok(store.deliveries().list(&query)?))
        .await?;
    // The payload is dropped here, before anything is rendered.
    Ok(records.into_iter().map(DeliveryView::from).collect())
}

struct Row {
    channel: String,
    alert_href: Option<String>,
    alert_id: String,
    state: &'static str,
    attempts: u32,
    next_try: String,
    created: String,
    last_error: String,
}

#[derive(Template)]
#[template(path = "deliveries.html")]
struct DeliveriesPage {
    chrome: Chrome,
    channel: String,
    state_options: Vec<(&'static str, &'static str, bool)>,
    rows: Vec<Row>,
}

/// `GET /deliveries`: the page.
pub(crate) async fn page(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<DeliveryFilter>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ConsoleError> {
    let p = caller.principal()?.clone();
    let Query(filter) =
        q.map_err(|_| ConsoleError::BadRequest("the query string is not valid".into()))?;
    let (channel, wanted) = (
        filter.channel.clone().unwrap_or_default(),
        filter.state.clone().unwrap_or_default(),
    );
    let views = load(&state, filter).await?;
    let rows = views
        .into_iter()
        .map(|d| Row {
            alert_href: (!d.alert_id.is_empty())
                .then(|| format!("/alerts/{}", percent_encode(&d.alert_id))),
            alert_id: d.alert_id,
            channel: d.channel,
            state: d.state,
            attempts: d.attempts,
            next_try: d
                .next_try
                .as_deref()
                .and_then(Timestamp::parse)
                .map(fmt_time)
                .unwrap_or_default(),
            created: Timestamp::parse(&d.created_at)
                .map(fmt_time)
                .unwrap_or_default(),
            last_error: d.last_error.unwrap_or_default(),
        })
        .collect();
    render(&DeliveriesPage {
        chrome: Chrome::new(&p, "/deliveries", "Notifications"),
        channel,
        state_options: [
            ("", "All"),
            ("pending", "Pending"),
            ("delivered", "Delivered"),
            ("abandoned", "Abandoned"),
        ]
        .into_iter()
        .map(|(v, l)| (v, l, v == wanted))
        .collect(),
        rows,
    })
}

/// `GET /api/v1/deliveries`: the same list as JSON.
pub(crate) async fn api_list(
    State(state): State<ConsoleState>,
    q: Result<Query<DeliveryFilter>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ConsoleError> {
    let Query(filter) =
        q.map_err(|_| ConsoleError::BadRequest("the query string is not valid".into()))?;
    let deliveries = load(&state, filter).await?;
    Ok(Json(json!({ "deliveries": deliveries })).into_response())
}

type Operation = (Vec<Value>, Option<Value>, Value);

/// The OpenAPI operation of `GET /api/v1/deliveries` (see `openapi.rs`).
pub(crate) fn api_operation(method: RouteMethod, path: &str) -> Option<Operation> {
    if (method, path) != (RouteMethod::Get, "/api/v1/deliveries") {
        return None;
    }
    Some((
        vec![
            json!({"name": "channel", "in": "query", "required": false, "schema": {"type": "string"},
                "description": "Only this channel (its name in [notify.channels])"}),
            json!({"name": "state", "in": "query", "required": false,
                "schema": {"type": "string", "enum": ["pending", "delivered", "abandoned", "all", ""]},
                "description": "Only deliveries in this state"}),
            json!({"name": "limit", "in": "query", "required": false,
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                "description": "At most this many results (default 200)"}),
        ],
        None,
        json!({"description": "Deliveries, newest first, without their payloads",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DeliveryList"}}}}),
    ))
}

/// Adds the schemas of the deliveries answer to the document's.
pub(crate) fn with_schemas(mut schemas: Value) -> Value {
    let time = json!({"type": "string", "format": "date-time"});
    let opt_time = json!({"type": ["string", "null"], "format": "date-time"});
    let added = json!({
        "Delivery": {"type": "object", "additionalProperties": false,
            "required": ["id", "channel", "alert_id", "state", "attempts", "next_try", "created_at", "delivered_at", "last_error"],
            "properties": {
                "id": {"type": "integer"},
                "channel": {"type": "string"},
                "alert_id": {"type": "string", "description": "Empty for messages about several alerts (digests)"},
                "state": {"type": "string", "enum": ["pending", "delivered", "abandoned"]},
                "attempts": {"type": "integer", "minimum": 0},
                "next_try": opt_time.clone(),
                "created_at": time,
                "delivered_at": opt_time,
                "last_error": {"type": ["string", "null"]}}},
        "DeliveryList": {"type": "object", "additionalProperties": false, "required": ["deliveries"],
            "properties": {"deliveries": {"type": "array", "items": {"$ref": "#/components/schemas/Delivery"}}}},
    });
    if let (Some(map), Value::Object(added)) = (schemas.as_object_mut(), added) {
        map.extend(added);
    }
    schemas
}
