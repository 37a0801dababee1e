//! Cloud identity sign-ins, one JSON object a line: Microsoft Entra ID (Azure AD) sign-in
//! logs (`entra`) and the Okta System Log (`okta`). Both become Authentication events with the
//! facts the account-takeover detectors read: who, from which address and country, with which
//! application, whether it succeeded, and what MFA did (approved, denied push). The mappings
//! are the tables in `docs/formats.md`.
//!
//! Entra comes in two shapes, read alike: the Graph `signIn` resource (fields at the top
//! level, as `GET /auditLogs/signIns` and the portal's JSON download give them) and the Azure
//! Monitor diagnostic export (`{"time", "category": "SignInLogs", "properties": {…}}`, as Event
//! Hubs and storage accounts receive it). Every source field stays reachable under its path
//! (`unmapped.status.errorCode`, `unmapped.deviceDetail.operatingSystem`); flattening is
//! bounded in depth and path length as in the `windows` decoder. These decoders never panic
//! and do no IO.

use crate::json;
use crate::{DecodeError, Decoded, Decoder, Framing, Sniff};
use serde_json::{Map, Value};
use ward_model::event::{auth_activity, class};
use ward_model::{Event, Severity, Status, Timestamp, Unmapped};

const MAX_FLATTEN_DEPTH: usize = 4;
const MAX_FLATTEN_PATH: usize = 128;
const SNIFF_WINDOW: usize = 16 * 1024;

/// The Microsoft Entra ID sign-in log decoder.
pub struct Entra;
/// The Okta System Log decoder.
pub struct Okta;

fn window(record: &[u8]) -> Option<&[u8]> {
    let body = json::body(record);
    (body.first() == Some(&b'{')).then(|| body.get(..body.len().min(SNIFF_WINDOW)).unwrap_or(body))
}

fn has(window: &[u8], key: &[u8]) -> bool {
    memchr::memmem::find(window, key).is_some()
}

impl Decoder for Entra {
    fn name(&self) -> &'static str {
        "entra"
    }

    fn description(&self) -> &'static str {
        "Microsoft Entra ID (Azure AD) sign-in logs as JSON lines (Graph signIn or Azure Monitor export)"
    }

    fn framing(&self) -> Framing {
        Framing::Lines
    }

    fn sniff(&self, record: &[u8]) -> Sniff {
        let Some(w) = window(record) else {
            return Sniff::No;
        };
        let user = has(w, b"\"userPrincipalName\"");
        let signin = has(w, b"\"createdDateTime\"")
            || has(w, b"\"SignInLogs\"")
            || has(w, b"\"conditionalAccessStatus\"");
        if user && signin {
            Sniff::Yes
        } else {
            Sniff::No
        }
    }

    fn decode(&self, record: &[u8], out: &mut Vec<Decoded>) {
        out.push(decode_entra(record).map_err(DecodeError::record));
    }
}

impl Decoder for Okta {
    fn name(&self) -> &'static str {
        "okta"
    }

    fn description(&self) -> &'static str {
        "Okta System Log events as JSON lines (/api/v1/logs)"
    }

    fn framing(&self) -> Framing {
        Framing::Lines
    }

    fn sniff(&self, record: &[u8]) -> Sniff {
        let Some(w) = window(record) else {
            return Sniff::No;
        };
        if has(w, b"\"eventType\"") && has(w, b"\"published\"") && has(w, b"\"actor\"") {
            Sniff::Yes
        } else {
            Sniff::No
        }
    }

    fn decode(&self, record: &[u8], out: &mut Vec<Decoded>) {
        out.push(decode_okta(record).map_err(DecodeError::record));
    }
}

fn object(record: &[u8], what: &str) -> Result<Map<String, Value>, String> {
    let body = json::body(record);
    if body.first() != Some(&b'{') {
        return Err(json::not_a_container(body, what));
    }
    match json::parse::<Value>(body) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(format!("not a JSON object: expected {what}")),
        Err(e) if json::is_syntax(&e) => Err(format!("not JSON: {}", json::located(&e))),
        Err(e) => Err(format!("not a JSON object: {}", json::located(&e))),
    }
}

/// The value at a dotted path of nested objects.
fn at<'a>(map: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut keys = path.split('.');
    let mut value: &Value = map.get(keys.next()?)?;
    for key in keys {
        value = value.get(key)?;
    }
    Some(value)
}

fn text<'a>(map: &'a Map<String, Value>, path: &str) -> Option<&'a str> {
    at(map, path)?
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn number(map: &Map<String, Value>, path: &str) -> Option<i64> {
    match at(map, path)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn flatten(map: Map<String, Value>) -> Unmapped {
    let mut flat = Unmapped::with_capacity(64);
    for (key, value) in map {
        flatten_into(key, value, 0, &mut flat);
    }
    flat
}

fn flatten_into(path: String, value: Value, depth: usize, flat: &mut Unmapped) {
    match value {
        Value::Object(inner)
            if depth < MAX_FLATTEN_DEPTH && path.len() <= MAX_FLATTEN_PATH && !inner.is_empty() =>
        {
            for (key, value) in inner {
                flatten_into(format!("{path}.{key}"), value, depth + 1, flat);
            }
        }
        Value::Null => {}
        other => {
            flat.insert(path, other);
        }
    }
}

fn time_of(map: &Map<String, Value>, keys: &[&str], what: &str) -> Result<Timestamp, String> {
    for key in keys {
        if let Some(value) = map.get(*key) {
            return value.as_str().and_then(Timestamp::parse).ok_or_else(|| {
                format!(
                    "{key} {} is not a time: expected an ISO 8601 instant",
                    json::clip(&value.to_string())
                )
            });
        }
    }
    Err(format!(
        "{what} has no time: expected {}",
        keys.join(" or ")
    ))
}

fn ip(text: Option<&str>) -> Option<String> {
    let t = text?;
    t.parse::<std::net::IpAddr>().is_ok().then(|| t.to_string())
}

fn risk_severity(level: Option<&str>) -> Severity {
    match level.map(str::to_ascii_lowercase).as_deref() {
        Some("high") => Severity::High,
        Some("medium") => Severity::Medium,
        Some("low") => Severity::Low,
        _ => Severity::Informational,
    }
}

// ---------------------------------------------------------------------------------------------
// Entra ID

fn decode_entra(record: &[u8]) -> Result<Event, String> {
    let mut root = object(record, "one Entra ID sign-in as a JSON object a line")?;
    // Azure Monitor export: the signIn resource is `properties`; the envelope's own fields
    // (time, category, callerIpAddress, resultType …) stay beside it under `envelope.*`.
    let (props, envelope) = match root.remove("properties") {
        Some(Value::Object(props)) => (props, Some(root)),
        Some(other) => {
            root.insert("properties".into(), other);
            (root, None)
        }
        None => (root, None),
    };
    let time = match time_of(&props, &["createdDateTime"], "sign-in") {
        Ok(t) => t,
        Err(e) => match &envelope {
            Some(env) => time_of(env, &["time"], "sign-in").map_err(|_| e)?,
            None => return Err(e),
        },
    };
    let mut event = Event::from_record("entra", time, record.to_vec());
    event.class_uid = class::AUTHENTICATION;
    event.activity_id = auth_activity::LOGON;
    event.activity_name = Some("sign-in".into());
    event.metadata.uid = text(&props, "id").map(str::to_string);
    let user = &mut event.actor.user;
    user.name = text(&props, "userPrincipalName").map(str::to_string);
    user.uid = text(&props, "userId").map(str::to_string);
    user.full_name = text(&props, "userDisplayName").map(str::to_string);
    user.role = text(&props, "userType").map(str::to_string);
    event.actor.app_name = text(&props, "appDisplayName").map(str::to_string);
    event.src_endpoint.ip = ip(text(&props, "ipAddress")).or_else(|| {
        envelope
            .as_ref()
            .and_then(|e| ip(text(e, "callerIpAddress")))
    });
    event.dst_endpoint.hostname = text(&props, "resourceDisplayName").map(str::to_string);
    event.device.hostname = text(&props, "deviceDetail.displayName").map(str::to_string);

    let code = number(&props, "status.errorCode")
        .or_else(|| envelope.as_ref().and_then(|e| number(e, "resultType")));
    event.status = match code {
        Some(0) => Status::Success,
        Some(_) => Status::Failure,
        None => Status::Unknown,
    };
    event.metadata.event_code = code.map(|c| c.to_string());
    if event.status == Status::Failure {
        event.status_detail = text(&props, "status.failureReason")
            .or_else(|| envelope.as_ref().and_then(|e| text(e, "resultDescription")))
            .map(str::to_string)
            .or_else(|| code.map(|c| c.to_string()));
    }
    let risk = text(&props, "riskLevelDuringSignIn").filter(|r| *r != "none" && *r != "hidden");
    event.severity = risk_severity(risk);
    if event.status == Status::Failure {
        event.severity = event.severity.max(Severity::Low);
    }

    // Convenience keys the detectors share with `okta`.
    let mut extra = Unmapped::new();
    let mut put = |k: &'static str, v: Option<&str>| {
        if let Some(v) = v {
            extra.insert(k, Value::String(v.to_string()));
        }
    };
    put("geo.country", text(&props, "location.countryOrRegion"));
    put("geo.state", text(&props, "location.state"));
    put("geo.city", text(&props, "location.city"));
    put("mfa.method", text(&props, "mfaDetail.authMethod"));
    put("mfa.detail", text(&props, "mfaDetail.authDetail"));
    let requirement = text(&props, "authenticationRequirement");
    let mfa_involved = requirement == Some("multiFactorAuthentication")
        || props.get("mfaDetail").is_some_and(Value::is_object);
    // 500121: strong authentication failed (a denied or unanswered push among others);
    // 50074/50076: MFA required and not yet done (an interrupt, not a denial).
    let mfa_result = match code {
        Some(0) if mfa_involved => Some("success"),
        Some(500121) => Some("denied"),
        Some(50074 | 50076) => Some("required"),
        Some(c) if c != 0 && mfa_involved => Some("failure"),
        _ => None,
    };
    put("mfa.result", mfa_result);
    if let Some(lat) = at(&props, "location.geoCoordinates.latitude") {
        extra.insert("geo.lat", lat.clone());
    }
    if let Some(lon) = at(&props, "location.geoCoordinates.longitude") {
        extra.insert("geo.lon", lon.clone());
    }

    let mut unmapped = flatten(props);
    if let Some(env) = envelope {
        for (k, v) in flatten(env) {
            unmapped.insert(format!("envelope.{k}"), v);
        }
    }
    unmapped.extend(extra);
    event.unmapped = unmapped;
    Ok(event)
}

// ---------------------------------------------------------------------------------------------
// Okta

fn decode_okta(record: &[u8]) -> Result<Event, String> {
    let root = object(record, "one Okta System Log event as a JSON object a line")?;
    let time = time_of(&root, &["published"], "Okta event")?;
    let event_type = text(&root, "eventType").ok_or("Okta event has no eventType")?;
    let mut event = Event::from_record("okta", time, record.to_vec());
    let auth = event_type.starts_with("user.session.")
        || event_type.starts_with("user.authentication.")
        || event_type.starts_with("user.mfa.")
        || event_type.starts_with("policy.evaluate_sign_on");
    if auth {
        event.class_uid = class::AUTHENTICATION;
        event.activity_id = if event_type == "user.session.end" {
            auth_activity::LOGOFF
        } else {
            auth_activity::LOGON
        };
    } else {
        event.class_uid = class::BASE_EVENT;
    }
    event.activity_name = Some(event_type.to_string());
    event.metadata.event_code = Some(event_type.to_string());
    event.metadata.uid = text(&root, "uuid").map(str::to_string);
    event.message = text(&root, "displayMessage").map(str::to_string);
    let user = &mut event.actor.user;
    user.name = text(&root, "actor.alternateId").map(str::to_string);
    user.uid = text(&root, "actor.id").map(str::to_string);
    user.full_name = text(&root, "actor.displayName").map(str::to_string);
    user.role = text(&root, "actor.type").map(str::to_string);
    event.src_endpoint.ip = ip(text(&root, "client.ipAddress"));
    event.actor.app_name = root
        .get("target")
        .and_then(Value::as_array)
        .and_then(|targets| {
            targets
                .iter()
                .find(|t| t.get("type").and_then(Value::as_str) == Some("AppInstance"))
        })
        .and_then(|t| t.get("displayName"))
        .and_then(Value::as_str)
        .map(str::to_string);

    let result = text(&root, "outcome.result");
    event.status = match result {
        Some("SUCCESS" | "ALLOW") => Status::Success,
        Some("FAILURE" | "DENY") => Status::Failure,
        Some("CHALLENGE" | "SKIPPED" | "ABANDONED") => Status::Other,
        _ => Status::Unknown,
    };
    event.status_detail = text(&root, "outcome.reason")
        .map(str::to_string)
        .or_else(|| (event.status == Status::Other).then(|| result.unwrap_or("").to_string()));
    event.severity = match text(&root, "severity") {
        Some("WARN") => Severity::Medium,
        Some("ERROR") => Severity::High,
        _ => Severity::Informational,
    };
    if event.status == Status::Failure {
        event.severity = event.severity.max(Severity::Low);
    }
    let risk = at(&root, "debugContext.debugData.risk")
        .and_then(Value::as_str)
        .and_then(|r| r.split("level=").nth(1))
        .and_then(|l| l.split(|c: char| !c.is_ascii_alphabetic()).next());
    event.severity = event.severity.max(risk_severity(risk));

    let mut extra = Unmapped::new();
    let mut put = |k: &'static str, v: Option<&str>| {
        if let Some(v) = v {
            extra.insert(k, Value::String(v.to_string()));
        }
    };
    put(
        "geo.country",
        text(&root, "client.geographicalContext.country"),
    );
    put("geo.state", text(&root, "client.geographicalContext.state"));
    put("geo.city", text(&root, "client.geographicalContext.city"));
    let mfa = event_type.starts_with("user.mfa.")
        || event_type == "user.authentication.auth_via_mfa"
        || event_type.starts_with("system.push.");
    if mfa {
        // Okta Verify push: `user.mfa.okta_verify.deny_push` is the user refusing a push
        // (the signal of MFA fatigue), `…auth_via_mfa` SUCCESS an approval.
        let outcome = if event_type.ends_with("deny_push") {
            Some("denied")
        } else {
            match event.status {
                Status::Success => Some("success"),
                Status::Failure => Some("failure"),
                _ => None,
            }
        };
        put("mfa.result", outcome);
        put(
            "mfa.method",
            at(&root, "debugContext.debugData.factor")
                .and_then(Value::as_str)
                .or_else(|| text(&root, "authenticationContext.credentialType")),
        );
    }
    if let Some(lat) = at(&root, "client.geographicalContext.geolocation.lat") {
        extra.insert("geo.lat", lat.clone());
    }
    if let Some(lon) = at(&root, "client.geographicalContext.geolocation.lon") {
        extra.insert("geo.lon", lon.clone());
    }
    let mut unmapped = flatten(root);
    unmapped.extend(extra);
    event.unmapped = unmapped;
    Ok(event)
}
