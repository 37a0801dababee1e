//! Testing a draft Sigma rule before it is added (`ward rules add`): the rule (and any Sigma 2
//! correlation in the same text) runs over the stored events of the last hours, oldest first,
//! exactly as `ward hunt` runs it, and the page shows how many events each rule matched, the
//! first matches (masked for roles without the PHI permission, each unmasked view recorded in
//! Ward's audit trail), and the correlation alerts it would raise. Nothing is stored: a test
//! changes no rule and raises no alert. A text that does not load as Sigma is an answer, not
//! a refused request: the page shows why, and the API says `loaded: false` with the reason.

use crate::pages::{Chrome, EventRow, event_rows, fmt_time, masker, record_phi_views, render};
use crate::routes::{Caller, RouteMethod};
use crate::{ConsoleError, ConsoleState};
use askama::Template;
use axum::body::Bytes;
use axum::response::{IntoResponse, Json, Response};
use axum::{Extension, Form, extract::State};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use ward_detect::sigma::{Collection, RuleSet, SigmaDetector, rule_key};
use ward_model::{Event, Timestamp};

type Result<T> = std::result::Result<T, ConsoleError>;

/// Largest rule text taken (a SigmaHQ rule is a few kilobytes).
const MAX_RULE_BYTES: usize = 64 * 1024;
/// Longest look back: a week.
const MAX_HOURS: u32 = 168;
/// Events read at most; a test over more stops there and says so.
const MAX_SCANNED: u64 = 1_000_000;
/// Matched events kept to show.
const SHOWN: usize = 100;

#[derive(Deserialize, Default)]
pub(crate) struct TestForm {
    #[serde(default)]
    rule: String,
    #[serde(default)]
    hours: Option<u32>,
}

/// What one test found.
#[derive(Debug, Default)]
struct Outcome {
    since: Timestamp,
    until: Timestamp,
    scanned: u64,
    truncated: bool,
    /// Per detection rule: (id, title, level, matches), in the file's order.
    rules: Vec<(String, String, String, u64)>,
    /// Correlation alerts: (rule id, title, first seen, last seen, events).
    correlations: Vec<(String, String, Timestamp, Timestamp, u64)>,
    /// The first matched events, oldest first.
    shown: Vec<Event>,
    /// Why the text does not load as Sigma; nothing ran then.
    load_error: Option<String>,
}

fn check(form: &TestForm) -> Result<u32> {
    if form.rule.trim().is_empty() {
        return Err(ConsoleError::BadRequest(
            "paste a Sigma rule to test".into(),
        ));
    }
    if form.rule.len() > MAX_RULE_BYTES {
        return Err(ConsoleError::BadRequest(format!(
            "the rule is longer than {MAX_RULE_BYTES} bytes"
        )));
    }
    let hours = form.hours.unwrap_or(24);
    if !(1..=MAX_HOURS).contains(&hours) {
        return Err(ConsoleError::BadRequest(format!(
            "hours must be from 1 to {MAX_HOURS}"
        )));
    }
    Ok(hours)
}

/// Loads the text and runs it over the stored events of the last `hours` (blocking).
fn run(store: &dyn ward_store::Store, text: &str, hours: u32, now: Timestamp) -> Result<Outcome> {
    let mut outcome = Outcome {
        until: now,
        since: Timestamp(now.millis() - i64::from(hours) * 3_600_000),
        ..Outcome::default()
    };
    let mut collection = Collection::new();
    if let Err(e) = collection.add(text, "console test") {
        outcome.load_error = Some(format!("the rule does not load: {e}"));
        return Ok(outcome);
    }
    // The correlations' detector owns its own copy of the base rules, as `ward hunt` does.
    let correlated = if collection.correlations.is_empty() {
        None
    } else {
        let mut again = Collection::new();
        if let Err(e) = again.add(text, "console test") {
            outcome.load_error = Some(format!("the rule does not load: {e}"));
            return Ok(outcome);
        }
        Some(again)
    };
    let rules: Vec<_> = collection.rules.into_iter().map(|(r, _)| r).collect();
    outcome.rules = rules
        .iter()
        .map(|r| {
            let meta = &r.rule;
            (
                rule_key(meta.id.as_deref(), meta.name.as_deref(), &meta.title),
                meta.title.clone(),
                meta.level.clone().unwrap_or_else(|| "medium".into()),
                0,
            )
        })
        .collect();
    let index: BTreeMap<String, usize> = outcome
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| (r.0.clone(), i))
        .collect();
    let correlation_ids: BTreeSet<String> = correlated
        .iter()
        .flat_map(|c| &c.correlations)
        .map(|(c, _)| rule_key(c.meta.id.as_deref(), c.meta.name.as_deref(), &c.meta.title))
        .collect();
    let mut engine = match correlated.map(SigmaDetector::new) {
        Some(Ok(detector)) => Some(ward_detect::Engine::new(vec![Box::new(detector)])),
        Some(Err(e)) => {
            outcome.rules.clear();
            outcome.load_error = Some(format!("the correlation does not load: {e}"));
            return Ok(outcome);
        }
        None => None,
    };
    let set = RuleSet::new(rules);
    let mut alerts: BTreeMap<String, ward_model::Alert> = BTreeMap::new();
    let (mut counts, mut shown) = (vec![0u64; outcome.rules.len()], Vec::new());
    let mut scanned = 0u64;
    ward_store::history::in_order(
        store,
        outcome.since,
        outcome.until,
        &mut |_| {},
        &mut |event| {
            scanned += 1;
            let mut matched = false;
            for rule in set.matches(&event) {
                let meta = &rule.rule;
                let key = rule_key(meta.id.as_deref(), meta.name.as_deref(), &meta.title);
                if let Some(&i) = index.get(&key) {
                    counts[i] += 1;
                }
                matched = true;
            }
            if let Some(engine) = &mut engine {
                for finding in engine.observe(std::slice::from_ref(&event)) {
                    if correlation_ids.contains(&finding.alert.rule_id) {
                        alerts.insert(finding.alert.id.clone(), finding.alert);
                    }
                }
            }
            if matched && shown.len() < SHOWN {
                shown.push(event);
            }
            scanned < MAX_SCANNED
        },
    )?;
    outcome.scanned = scanned;
    outcome.truncated = scanned >= MAX_SCANNED;
    for (rule, n) in outcome.rules.iter_mut().zip(counts) {
        rule.3 = n;
    }
    outcome.correlations = alerts
        .into_values()
        .map(|a| (a.rule_id, a.title, a.first_seen, a.last_seen, a.count))
        .collect();
    outcome.shown = shown;
    Ok(outcome)
}

async fn test(state: &ConsoleState, form: TestForm) -> Result<Outcome> {
    let hours = check(&form)?;
    let now = state.now();
    state
        .blocking(move |store| run(store, &form.rule, hours, now))
        .await
}

#[derive(Template)]
#[template(path = "rule_test.html")]
struct RuleTestPage {
    chrome: Chrome,
    rule: String,
    hours: u32,
    max_hours: u32,
    error: Option<String>,
    result: Option<ResultView>,
    events: Vec<EventRow>,
}

struct ResultView {
    since: String,
    until: String,
    scanned: u64,
    truncated: bool,
    max_scanned: u64,
    rules: Vec<(String, String, String, u64)>,
    correlations: Vec<(String, String, String, String, u64)>,
    shown_of: u64,
}

pub(crate) async fn form(
    State(_state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response> {
    let p = caller.principal()?.clone();
    render(&RuleTestPage {
        chrome: Chrome::new(&p, "/rules", "Test a rule"),
        rule: String::new(),
        hours: 24,
        max_hours: MAX_HOURS,
        error: None,
        result: None,
        events: Vec::new(),
    })
}

pub(crate) async fn run_form(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Form(form): Form<TestForm>,
) -> Result<Response> {
    let p = caller.principal()?.clone();
    let (rule, hours) = (form.rule.clone(), form.hours.unwrap_or(24));
    let mut page = RuleTestPage {
        chrome: Chrome::new(&p, "/rules", "Test a rule"),
        rule,
        hours,
        max_hours: MAX_HOURS,
        error: None,
        result: None,
        events: Vec::new(),
    };
    match test(&state, form).await {
        Ok(Outcome {
            load_error: Some(reason),
            ..
        }) => page.error = Some(reason),
        Ok(outcome) => {
            let mut shown = BTreeSet::new();
            let total: u64 = outcome.rules.iter().map(|r| r.3).sum();
            let events = event_rows(outcome.shown, masker(&state, &p), &mut shown);
            record_phi_views(&state, &p, "POST /rules/test", shown).await?;
            page.result = Some(ResultView {
                since: fmt_time(outcome.since),
                until: fmt_time(outcome.until),
                scanned: outcome.scanned,
                truncated: outcome.truncated,
                max_scanned: MAX_SCANNED,
                rules: outcome.rules,
                correlations: outcome
                    .correlations
                    .into_iter()
                    .map(|(id, title, first, last, n)| {
                        (id, title, fmt_time(first), fmt_time(last), n)
                    })
                    .collect(),
                shown_of: total,
            });
            page.events = events;
        }
        Err(ConsoleError::BadRequest(message)) => page.error = Some(message),
        Err(e) => return Err(e),
    }
    render(&page)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TestRequest {
    rule: String,
    /// A JSON number: `24` and `24.0` are the same integer to JSON Schema.
    #[serde(default)]
    hours: Option<f64>,
}

pub(crate) async fn api(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Response> {
    let p = caller.principal()?.clone();
    let request: TestRequest = serde_json::from_slice(&body)
        .map_err(|e| ConsoleError::BadRequest(format!("the body is not a rule test: {e}")))?;
    let outcome = test(
        &state,
        TestForm {
            rule: request.rule,
            hours: request
                .hours
                .map(|h| {
                    if h.fract() == 0.0 && (1.0..=f64::from(MAX_HOURS)).contains(&h) {
                        Ok(h as u32)
                    } else {
                        Err(ConsoleError::BadRequest(format!(
                            "hours must be a whole number from 1 to {MAX_HOURS}"
                        )))
                    }
                })
                .transpose()?,
        },
    )
    .await?;
    let mut shown = BTreeSet::new();
    let events = crate::api::masked_events(outcome.shown, masker(&state, &p), &mut shown);
    record_phi_views(&state, &p, "POST /api/v1/rules/test", shown).await?;
    Ok(Json(json!({
        "loaded": outcome.load_error.is_none(),
        "error": outcome.load_error,
        "since": outcome.since.to_rfc3339(),
        "until": outcome.until.to_rfc3339(),
        "scanned": outcome.scanned,
        "truncated": outcome.truncated,
        "rules": outcome.rules.iter().map(|(id, title, level, n)| json!({
            "id": id, "title": title, "level": level, "matches": n})).collect::<Vec<_>>(),
        "correlations": outcome.correlations.iter().map(|(id, title, first, last, n)| json!({
            "rule_id": id, "title": title, "first_seen": first.to_rfc3339(),
            "last_seen": last.to_rfc3339(), "events": n})).collect::<Vec<_>>(),
        "events": events,
    }))
    .into_response())
}

pub(crate) fn api_operation(
    method: RouteMethod,
    path: &str,
) -> Option<(Vec<Value>, Option<Value>, Value)> {
    (method == RouteMethod::Post && path == "/api/v1/rules/test").then(|| {
        (
            vec![],
            Some(json!({"$ref": "#/components/schemas/RuleTestRequest"})),
            json!({"description": "What the rule matched, and the first matched events", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RuleTestResult"}}}}),
        )
    })
}

pub(crate) fn with_schemas(mut schemas: Value) -> Value {
    let time = json!({"type": "string", "format": "date-time"});
    let count = json!({"type": "integer", "minimum": 0});
    let added = json!({
        "RuleTestRequest": {"type": "object", "additionalProperties": false, "required": ["rule"], "properties": {
            "rule": {"type": "string", "minLength": 1, "maxLength": MAX_RULE_BYTES, "pattern": "\\S",
                "description": "One Sigma file: a rule, or rules with their correlation"},
            "hours": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_HOURS,
                "description": "How far back to look (default 24)"}}},
        "RuleTestResult": {"type": "object", "additionalProperties": false,
            "required": ["loaded", "error", "since", "until", "scanned", "truncated", "rules", "correlations", "events"], "properties": {
            "loaded": {"type": "boolean", "description": "false: the text does not load as Sigma (`error` says why) and nothing ran"},
            "error": {"type": ["string", "null"]},
            "since": time, "until": time, "scanned": count, "truncated": {"type": "boolean"},
            "rules": {"type": "array", "items": {"type": "object", "additionalProperties": false,
                "required": ["id", "title", "level", "matches"], "properties": {
                "id": {"type": "string"}, "title": {"type": "string"}, "level": {"type": "string"}, "matches": count}}},
            "correlations": {"type": "array", "items": {"type": "object", "additionalProperties": false,
                "required": ["rule_id", "title", "first_seen", "last_seen", "events"], "properties": {
                "rule_id": {"type": "string"}, "title": {"type": "string"}, "first_seen": time,
                "last_seen": time, "events": count}}},
            "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}}},
    });
    if let (Some(all), Some(added)) = (schemas.as_object_mut(), added.as_object()) {
        for (k, v) in added {
            all.insert(k.clone(), v.clone());
        }
    }
    schemas
}
