//! The OpenAPI 3.1 document of `/api/v1`, served at `/api/v1/openapi.json`. Each API route of
//! [`ROUTES`] gets its operation from [`operation`], written by hand (parameters, bodies,
//! answers); a route without one is left out, and a test fails, so the document cannot
//! silently fall behind the router. Each operation names the permission it needs
//! (`x-ward-permission`), as the route table says.

use crate::routes::{ROUTES, RouteMethod, RouteSpec};
use serde_json::{Map, Value, json};

fn param(name: &str, place: &str, required: bool, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": place, "required": required, "schema": schema, "description": description})
}

fn string() -> Value {
    json!({"type": "string"})
}

fn ok(schema: &str, description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
}

/// A point in time as the API reads it: an RFC 3339 time or a calendar date; empty (as an
/// HTML form sends an unfilled field) means no bound.
fn instant() -> Value {
    json!({"type": "string", "anyOf": [{"format": "date-time"}, {"format": "date"}, {"maxLength": 0}]})
}

/// Parameters, request body and success answer of one API route.
fn operation(spec: &RouteSpec) -> Option<Value> {
    let alert_id = param("id", "path", true, string(), "The alert's id");
    let limit = |max: u32| {
        param(
            "limit",
            "query",
            false,
            json!({"type": "integer", "minimum": 1, "maximum": max}),
            "At most this many results",
        )
    };
    let (parameters, body, answer): (Vec<Value>, Option<Value>, Value) = match (
        spec.method,
        spec.path,
    ) {
        (RouteMethod::Get, "/api/v1/openapi.json") => (
            vec![],
            None,
            json!({"description": "This document", "content": {"application/json": {"schema": {"type": "object"}}}}),
        ),
        (RouteMethod::Get, "/api/v1/stats") => {
            (vec![], None, ok("Stats", "Counts for the overview"))
        }
        (RouteMethod::Get, "/api/v1/alerts") => (
            vec![
                param(
                    "status",
                    "query",
                    false,
                    json!({"type": "string", "enum": ["open", "acknowledged", "closed", "all", ""]}),
                    "Status filter",
                ),
                param(
                    "severity",
                    "query",
                    false,
                    json!({"type": "string", "enum": ["informational", "low", "medium", "high", "critical", ""]}),
                    "Exact severity",
                ),
                param("rule", "query", false, string(), "Rule id"),
                param(
                    "entity",
                    "query",
                    false,
                    string(),
                    "Any entity value, exactly",
                ),
                param(
                    "sort",
                    "query",
                    false,
                    json!({"type": "string", "enum": ["last_seen", "severity", "count", "first_seen", ""]}),
                    "Sort order",
                ),
                limit(500),
            ],
            None,
            ok(
                "AlertList",
                "Alerts, most recently seen first unless sorted otherwise",
            ),
        ),
        (RouteMethod::Get, "/api/v1/alerts/{id}") => {
            (vec![alert_id], None, ok("AlertDetail", "The alert"))
        }
        (RouteMethod::Post, "/api/v1/alerts/{id}/status") => (
            vec![alert_id],
            Some(json!({"$ref": "#/components/schemas/StatusChange"})),
            ok("StatusChanged", "The new status"),
        ),
        (RouteMethod::Post, "/api/v1/alerts/{id}/assign") => (
            vec![alert_id],
            Some(json!({"$ref": "#/components/schemas/Assignment"})),
            ok("Assigned", "The new assignee"),
        ),
        (RouteMethod::Get, "/api/v1/privacy") => (
            vec![],
            None,
            ok(
                "PrivacyCaseList",
                "Cases, the most severe and most recently seen first",
            ),
        ),
        (RouteMethod::Get, "/api/v1/rules") => (
            vec![param(
                "detector",
                "query",
                false,
                string(),
                "Only rules of this detector (sigma, threat, privacy …); empty for all",
            )],
            None,
            ok("RuleList", "Rules in the order the detectors gave them"),
        ),
        (RouteMethod::Get, "/api/v1/events") => (
            vec![
                param(
                    "since",
                    "query",
                    false,
                    instant(),
                    "Inclusive start, RFC 3339 or a date",
                ),
                param(
                    "until",
                    "query",
                    false,
                    instant(),
                    "Exclusive end, RFC 3339 or a date",
                ),
                param("user", "query", false, string(), "actor.user.name (or uid)"),
                param("patient", "query", false, string(), "patient.id"),
                param("ip", "query", false, string(), "src_endpoint.ip"),
                param(
                    "host",
                    "query",
                    false,
                    string(),
                    "device.hostname (or src_endpoint.hostname)",
                ),
                limit(200),
            ],
            None,
            ok("EventList", "Events, newest first"),
        ),
        (RouteMethod::Get, "/api/v1/timeline/{kind}/{value}") => (
            vec![
                param(
                    "kind",
                    "path",
                    true,
                    json!({"type": "string", "enum": ["user", "patient", "ip", "host"]}),
                    "Entity kind",
                ),
                param("value", "path", true, string(), "Entity value"),
            ],
            None,
            ok("Timeline", "The entity's events, newest first"),
        ),
        (RouteMethod::Get, "/api/v1/sources") => {
            (vec![], None, ok("SourceList", "Sources by name"))
        }
        (RouteMethod::Get, "/api/v1/quarantine") => (
            vec![
                param("source", "query", false, string(), "Only this source"),
                param(
                    "after_id",
                    "query",
                    false,
                    json!({"type": "integer", "format": "int64", "minimum": i64::MIN, "maximum": i64::MAX}),
                    "Page after this id",
                ),
                limit(1000),
            ],
            None,
            ok(
                "QuarantineList",
                "Quarantined records, oldest first, without raw bytes",
            ),
        ),
        (RouteMethod::Get, "/api/v1/audit") => (
            vec![
                param("user", "query", false, string(), "The Ward user who acted"),
                param(
                    "patient",
                    "query",
                    false,
                    string(),
                    "Events naming this patient",
                ),
                param(
                    "since",
                    "query",
                    false,
                    instant(),
                    "Inclusive start, RFC 3339 or a date",
                ),
                param(
                    "format",
                    "query",
                    false,
                    json!({"type": "string", "enum": ["json", "fhir"]}),
                    "fhir: a FHIR R4 Bundle of BALP AuditEvents",
                ),
                limit(500),
            ],
            None,
            json!({"description": "Ward's audit trail, newest first", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/AuditList"}},
                "application/fhir+json": {"schema": {"$ref": "#/components/schemas/Bundle"}},
            }}),
        ),
        (RouteMethod::Get, "/api/v1/users") => {
            (vec![], None, ok("UserList", "Console users, by name"))
        }
        (RouteMethod::Get, "/api/v1/deliveries") => {
            crate::deliveries::api_operation(spec.method, spec.path)?
        }
        (method, path @ ("/api/v1/settings" | "/api/v1/listeners")) => {
            crate::settings::api_operation(method, path)?
        }
        (method, path @ "/api/v1/rules/test") => crate::rule_test::api_operation(method, path)?,
        (RouteMethod::Post, "/api/v1/rules/{id}/state") => {
            crate::switches::api_operation(spec.method, spec.path)?
        }
        (method, path) if path.starts_with("/api/v1/inventory/") => {
            crate::inventory::api_operation(method, path)?
        }
        (method, path) => crate::incidents::api_operation(method, path)?,
    };
    let method = spec.method.as_str().to_ascii_lowercase();
    let mut op = json!({
        "operationId": format!("{method}{}", spec.path.replace(['/', '{', '}', '.'], "_")),
        "summary": spec.summary,
        "x-ward-permission": spec.permission,
        "parameters": parameters,
        "responses": {
            "200": answer,
            "400": {"$ref": "#/components/responses/Error"},
            "401": {"$ref": "#/components/responses/Error"},
            "403": {"$ref": "#/components/responses/Error"},
            "404": {"$ref": "#/components/responses/Error"},
            "503": {"$ref": "#/components/responses/Error"},
        },
    });
    if let Some(schema) = body {
        op["requestBody"] =
            json!({"required": true, "content": {"application/json": {"schema": schema}}});
    }
    if spec.permission == crate::Permission::Public {
        op["security"] = json!([]);
    }
    Some(op)
}

/// The document.
pub(crate) fn document() -> Value {
    let mut paths = Map::new();
    for spec in ROUTES.iter().filter(|r| r.api) {
        let Some(op) = operation(spec) else { continue };
        let entry = paths
            .entry(spec.path.to_string())
            .or_insert_with(|| json!({}));
        entry[spec.method.as_str().to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Ward API",
            "version": "1",
            "description": "What the Ward console shows, as JSON. Authenticate with an API token (`Authorization: Bearer`) or the console session cookie plus the `X-CSRF-Token` header for POSTs. Roles without the PHI permission see patient ids as `masked-…` pseudonyms.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "__Host-ward_session"},
            },
            "responses": {
                "Error": {"description": "An error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
            "schemas": crate::rule_test::with_schemas(crate::settings::with_schemas(crate::switches::with_schemas(crate::inventory::with_schemas(
                crate::deliveries::with_schemas(crate::incidents::with_schemas(schemas())),
            )))),
        },
    })
}

fn schemas() -> Value {
    let time = json!({"type": "string", "format": "date-time"});
    let opt_string = json!({"type": ["string", "null"]});
    json!({
        "Error": {"type": "object", "required": ["error", "message"], "properties": {
            "error": {"type": "string"}, "message": {"type": "string"}}},
        "AlertEntities": {"type": "object", "additionalProperties": {"type": "string"}},
        "Alert": {"type": "object", "required": ["id", "rule_id", "title", "severity", "first_seen", "last_seen", "count", "entities", "attack", "hipaa", "status"], "properties": {
            "id": {"type": "string"}, "rule_id": {"type": "string"}, "title": {"type": "string"},
            "severity": {"type": "string", "enum": ["unknown", "informational", "low", "medium", "high", "critical"]},
            "first_seen": time, "last_seen": time, "count": {"type": "integer", "minimum": 0},
            "entities": {"$ref": "#/components/schemas/AlertEntities"},
            "attack": {"type": "array", "items": {"type": "string"}},
            "hipaa": {"type": "array", "items": {"type": "string"}},
            "status": {"type": "string", "enum": ["open", "acknowledged", "closed"]},
            "author": {"type": "string"}, "license": {"type": "string"},
            "references": {"type": "array", "items": {"type": "string"}},
            "description": {"type": "string"}}},
        "AlertList": {"type": "object", "required": ["alerts"], "properties": {
            "alerts": {"type": "array", "items": {"$ref": "#/components/schemas/Alert"}}}},
        "AlertDetail": {"type": "object", "required": ["alert", "assignee", "close_reason", "events"], "properties": {
            "alert": {"$ref": "#/components/schemas/Alert"}, "assignee": opt_string, "close_reason": opt_string,
            "events": {"type": "array", "items": {"type": "string", "pattern": "^[0-9a-f]{32}$"}}}},
        "StatusChange": {"type": "object", "required": ["status"], "properties": {
            "status": {"type": "string", "enum": ["open", "acknowledged", "closed"]},
            "reason": {"type": ["string", "null"], "description": "Required when closing", "maxLength": 500}},
            "if": {"properties": {"status": {"const": "closed"}}},
            "then": {"required": ["reason"], "properties": {"reason": {"type": "string", "pattern": "\\S"}}}},
        "StatusChanged": {"type": "object", "required": ["id", "status"], "properties": {
            "id": {"type": "string"}, "status": {"type": "string"}}},
        "Assignment": {"type": "object", "required": ["assignee"], "properties": {
            "assignee": {"type": ["string", "null"], "description": "A user name (404 when there is no such user); null unassigns"}}},
        "Assigned": {"type": "object", "required": ["id", "assignee"], "properties": {
            "id": {"type": "string"}, "assignee": opt_string}},
        "Event": {"type": "object", "required": ["id", "time", "class_uid", "activity_id", "metadata"], "description": "An OCSF-shaped event (see docs/fields.md)", "properties": {
            "id": {"type": "string"}, "time": time, "class_uid": {"type": "integer"}, "activity_id": {"type": "integer"},
            "metadata": {"type": "object"}}},
        "EventList": {"type": "object", "required": ["total", "events"], "properties": {
            "total": {"type": "integer", "minimum": 0},
            "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}}},
        "Timeline": {"type": "object", "required": ["kind", "value", "total", "events"], "properties": {
            "kind": {"type": "string"}, "value": {"type": "string"}, "total": {"type": "integer", "minimum": 0},
            "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}}},
        "Source": {"type": "object", "required": ["name", "events", "quarantined", "last_event_time", "silent"], "properties": {
            "name": {"type": "string"}, "events": {"type": "integer", "minimum": 0}, "quarantined": {"type": "integer", "minimum": 0},
            "last_event_time": {"type": ["string", "null"], "format": "date-time"}, "silent": {"type": "boolean"}}},
        "SourceList": {"type": "object", "required": ["sources"], "properties": {
            "sources": {"type": "array", "items": {"$ref": "#/components/schemas/Source"}}}},
        "Quarantined": {"type": "object", "required": ["id", "source", "format", "line", "offset", "reason", "raw_len", "quarantined_at"], "properties": {
            "id": {"type": "integer"}, "source": {"type": "string"}, "format": {"type": "string"},
            "line": {"type": "integer"}, "offset": {"type": "integer"}, "entry": {"type": ["integer", "null"]},
            "reason": {"type": "string"}, "raw_len": {"type": "integer"}, "quarantined_at": time}},
        "QuarantineList": {"type": "object", "required": ["records"], "properties": {
            "records": {"type": "array", "items": {"$ref": "#/components/schemas/Quarantined"}}}},
        "AuditList": {"type": "object", "required": ["events"], "properties": {
            "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}}},
        "Bundle": {"type": "object", "required": ["resourceType", "type", "entry"], "properties": {
            "resourceType": {"const": "Bundle"}, "type": {"type": "string"}, "total": {"type": "integer"},
            "entry": {"type": "array", "items": {"type": "object"}}}},
        "User": {"type": "object", "required": ["name", "role", "mfa", "disabled", "locked", "created_at"], "properties": {
            "name": {"type": "string"}, "role": {"type": "string"}, "mfa": {"type": "boolean"},
            "disabled": {"type": "boolean"}, "locked": {"type": "boolean"}, "created_at": time}},
        "UserList": {"type": "object", "required": ["users"], "properties": {
            "users": {"type": "array", "items": {"$ref": "#/components/schemas/User"}}}},
        "PrivacyCase": {"type": "object", "required": ["user", "severity", "first_seen", "last_seen", "accesses", "patients", "alerts"], "properties": {
            "user": {"type": ["string", "null"], "description": "The user the alerts name; null for alerts naming nobody"},
            "severity": {"type": "string", "enum": ["unknown", "informational", "low", "medium", "high", "critical", "fatal", "other"], "description": "The highest of its alerts"},
            "first_seen": time, "last_seen": time,
            "accesses": {"type": "integer", "minimum": 0, "description": "Sum of the alerts' counts"},
            "patients": {"type": "array", "items": {"type": "string"}, "description": "Patient ids, or masked-… pseudonyms for roles without PHI"},
            "alerts": {"type": "array", "items": {"$ref": "#/components/schemas/Alert"}, "description": "Most severe first, then most recent"}}},
        "PrivacyCaseList": {"type": "object", "required": ["cases", "truncated"], "properties": {
            "cases": {"type": "array", "items": {"$ref": "#/components/schemas/PrivacyCase"}},
            "truncated": {"type": "boolean", "description": "More open alerts than one answer reads: cases may miss alerts"}}},
        "Rule": {"type": "object", "required": ["id", "title", "detector", "level", "logsource", "attack", "hipaa", "author", "license", "description", "open_alerts"], "properties": {
            "id": {"type": "string"}, "title": {"type": "string"}, "detector": {"type": "string"}, "level": {"type": "string"},
            "logsource": opt_string, "attack": {"type": "array", "items": {"type": "string"}},
            "hipaa": {"type": "array", "items": {"type": "string"}},
            "author": opt_string, "license": opt_string, "description": opt_string,
            "open_alerts": {"type": "integer", "minimum": 0}}},
        "RuleList": {"type": "object", "required": ["rules", "open_alerts_truncated"], "properties": {
            "rules": {"type": "array", "items": {"$ref": "#/components/schemas/Rule"}},
            "open_alerts_truncated": {"type": "boolean", "description": "Counts are lower bounds"}}},
        "Stats": {"type": "object", "required": ["events", "alerts", "quarantined", "open_alerts", "trend", "top_entities", "sources"], "properties": {
            "events": {"type": "integer"}, "alerts": {"type": "integer"}, "quarantined": {"type": "integer"},
            "open_alerts": {"type": "object"}, "trend": {"type": "array", "items": {"type": "object"}},
            "top_entities": {"type": "array", "items": {"type": "object"}},
            "sources": {"type": "array", "items": {"$ref": "#/components/schemas/Source"}}}},
    })
}
