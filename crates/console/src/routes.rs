//! Every route of the console and the API, with the permission it needs, in one table
//! ([`ROUTES`]); the router is built from it, so no route exists without a permission. One
//! middleware ([`authorize`]) resolves the caller, checks the permission, the sign-in stage and
//! the CSRF token, and renders errors as JSON for the API and as pages for the console.

use crate::auth::{self, Principal, Via};
use crate::error::ErrorKind;
use crate::roles::Permission;
use crate::{
    ClientAddr, ConsoleError, ConsoleState, api, headers, incidents, inventory, pages, setup,
};
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{MethodRouter, get, post};
use std::net::SocketAddr;
use ward_store::SessionStage;

/// The HTTP method of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteMethod {
    Get,
    Post,
}

impl RouteMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            RouteMethod::Get => "GET",
            RouteMethod::Post => "POST",
        }
    }
}

/// One route: what it is, who may call it, and its handler.
pub struct RouteSpec {
    pub method: RouteMethod,
    /// In axum's syntax: `/alerts/{id}`.
    pub path: &'static str,
    pub permission: Permission,
    /// Part of the JSON API (errors as JSON, described in the OpenAPI document).
    pub api: bool,
    /// The label of the page in the navigation bar, for pages that have one.
    pub nav: Option<&'static str>,
    pub summary: &'static str,
    handler: fn() -> MethodRouter<ConsoleState>,
}

macro_rules! route {
    ($method:ident $path:literal, $perm:ident, $api:expr, $nav:expr, $summary:literal, $handler:path) => {
        RouteSpec {
            method: RouteMethod::$method,
            path: $path,
            permission: Permission::$perm,
            api: $api,
            nav: $nav,
            summary: $summary,
            handler: || route!(@method $method, $handler),
        }
    };
    (@method Get, $handler:path) => { get($handler) };
    (@method Post, $handler:path) => { post($handler) };
}

const PAGE: bool = false;
const API: bool = true;

/// The access policy of every route. Adding a route means adding a row here.
pub static ROUTES: &[RouteSpec] = &[
    // Signing in and out.
    route!(Get "/", SignedIn, PAGE, None, "Landing: the first page the role may see", pages::home),
    route!(Get "/login", Public, PAGE, None, "Sign-in form", pages::login_form),
    route!(Post "/login", Public, PAGE, None, "Sign in with name and password", pages::login_submit),
    route!(Get "/login/mfa", MfaStep, PAGE, None, "TOTP code form", pages::mfa_form),
    route!(Post "/login/mfa", MfaStep, PAGE, None, "Complete sign-in with a TOTP code", pages::mfa_submit),
    route!(Post "/logout", AnySession, PAGE, None, "Sign out", pages::logout),
    route!(Get "/setup", Public, PAGE, None, "First-run setup form", setup::form),
    route!(Post "/setup", Public, PAGE, None, "Create the first admin with the setup token", setup::submit),
    route!(Get "/account/mfa", EnrolMfa, PAGE, None, "MFA enrolment with a QR code", pages::enrol_form),
    route!(Post "/account/mfa", EnrolMfa, PAGE, None, "Confirm MFA enrolment", pages::enrol_submit),
    // Console pages.
    route!(Get "/overview", ViewOverview, PAGE, Some("Overview"), "Overview", pages::overview),
    route!(Get "/alerts", ViewAlerts, PAGE, Some("Alerts"), "Alerts", pages::alerts),
    route!(Get "/alerts/{id}", ViewAlerts, PAGE, None, "One alert with its evidence", pages::alert_detail),
    route!(Post "/alerts/{id}/status", ChangeAlerts, PAGE, None, "Acknowledge or reopen an alert", pages::alert_status),
    route!(Post "/alerts/{id}/assign", ChangeAlerts, PAGE, None, "Assign an alert", pages::alert_assign),
    route!(Post "/alerts/{id}/close", ChangeAlerts, PAGE, None, "Close an alert with a reason", pages::alert_close),
    route!(Get "/incidents", ViewIncidents, PAGE, Some("Incidents"), "Incidents with their next deadline", incidents::list),
    route!(Post "/incidents", ManageIncidents, PAGE, None, "Open an incident by hand", incidents::open_by_hand),
    route!(Post "/alerts/{id}/incident", ManageIncidents, PAGE, None, "Open an incident from an alert", incidents::open_from_alert),
    route!(Get "/incidents/{id}", ViewIncidents, PAGE, None, "One incident: timeline, tasks, assessment, deadlines, evidence", incidents::detail),
    route!(Post "/incidents/{id}/task", WorkIncidents, PAGE, None, "Move an incident task on", incidents::task),
    route!(Post "/incidents/{id}/evidence", WorkIncidents, PAGE, None, "Add text evidence to the locker", incidents::add_evidence),
    route!(Post "/incidents/{id}/verify", WorkIncidents, PAGE, None, "Verify the evidence and its chain of custody", incidents::verify),
    route!(Post "/incidents/{id}/assessment", ManageIncidents, PAGE, None, "Record the breach assessment", incidents::assess),
    route!(Post "/incidents/{id}/delay", ManageIncidents, PAGE, None, "Record a law-enforcement delay", incidents::delay),
    route!(Post "/incidents/{id}/deadlines", ManageIncidents, PAGE, None, "Compute the notification deadlines", incidents::deadlines),
    route!(Get "/incidents/{id}/evidence", ViewIncidentPhi, PAGE, None, "One evidence file's content (logged in the custody chain)", incidents::evidence_content),
    route!(Get "/incidents/{id}/report.pdf", ViewIncidents, PAGE, None, "The incident report as PDF (patients named only with the incident-PHI permission)", incidents::report_pdf),
    route!(Post "/incidents/{id}/notice", ManageIncidents, PAGE, None, "Record a notice as given (which, when, how)", incidents::notice),
    route!(Post "/incidents/{id}/close", ManageIncidents, PAGE, None, "Close an incident with its post-incident review", incidents::close),
    route!(Post "/incidents/{id}/review", ManageIncidents, PAGE, None, "Record the review of a closed incident", incidents::review),
    route!(Post "/incidents/follow-up", WorkIncidents, PAGE, None, "Mark a follow-up of a review or exercise done", incidents::follow_up_done),
    route!(Post "/incidents/exercise", ManageIncidents, PAGE, None, "Record a tabletop exercise against the response plan", incidents::exercise),
    route!(Get "/incidents/{id}/letter", ViewIncidentPhi, PAGE, None, "Notification letter form", incidents::letter_form),
    route!(Post "/incidents/{id}/letter", ViewIncidentPhi, PAGE, None, "Draft a notification letter", incidents::letter),
    route!(Get "/inventory", ViewInventory, PAGE, Some("Inventory"), "Assets with their findings and the feeds matched against", inventory::assets_page),
    route!(Get "/inventory/assets/{id}", ViewInventory, PAGE, None, "One asset: fields, software, findings, reachability, TLS scans", inventory::asset_page),
    route!(Get "/inventory/exposure", ViewInventory, PAGE, None, "Assets ranked by exposure", inventory::exposure_page),
    route!(Get "/inventory/network", ViewInventory, PAGE, None, "Network map and what can reach PHI", inventory::network_page),
    route!(Get "/inventory/encryption", ViewInventory, PAGE, None, "Encryption coverage of the systems holding PHI", inventory::encryption_page),
    route!(Get "/inventory/unknown", ViewInventory, PAGE, None, "Devices seen in telemetry that nobody has reviewed", inventory::unknown_page),
    route!(Post "/inventory/unknown/accept", ManageInventory, PAGE, None, "Accept an unknown device into the inventory", inventory::accept_form),
    route!(Post "/inventory/unknown/dismiss", ManageInventory, PAGE, None, "Dismiss an unknown device with a reason", inventory::dismiss_form),
    route!(Get "/privacy", ViewPrivacyCases, PAGE, Some("Privacy cases"), "Privacy cases: privacy alerts grouped per user", pages::privacy),
    route!(Get "/investigate", Investigate, PAGE, Some("Investigate"), "Search events", pages::investigate),
    route!(Get "/timeline/{kind}/{value}", Investigate, PAGE, None, "An entity's timeline", pages::timeline),
    route!(Get "/sources", ViewSources, PAGE, Some("Sources"), "Sources", pages::sources),
    route!(Get "/rules", ViewRules, PAGE, Some("Rules"), "Detection rules with their open alerts", pages::rules),
    route!(Post "/rules/{id}/disable", ManageRules, PAGE, None, "Switch a rule off, saying why", crate::switches::disable_form),
    route!(Post "/rules/{id}/enable", ManageRules, PAGE, None, "Switch a rule back on", crate::switches::enable_form),
    route!(Get "/rules/test", TestRules, PAGE, None, "Test a draft Sigma rule over stored events", crate::rule_test::form),
    route!(Post "/rules/test", TestRules, PAGE, None, "Run a draft Sigma rule over stored events and show what it matches", crate::rule_test::run_form),
    route!(Get "/settings", ViewSettings, PAGE, Some("Settings"), "The effective configuration, secrets redacted", crate::settings::page),
    route!(Get "/quarantine", ViewQuarantine, PAGE, Some("Quarantine"), "Quarantined records", pages::quarantine),
    route!(Get "/deliveries", ViewDeliveries, PAGE, Some("Notifications"), "Notification deliveries (without their contents)", crate::deliveries::page),
    route!(Get "/users", ManageUsers, PAGE, Some("Users"), "Users", pages::users),
    route!(Post "/users", ManageUsers, PAGE, None, "Create a user", pages::user_create),
    route!(Post "/users/{name}/role", ManageUsers, PAGE, None, "Change a user's role", pages::user_role),
    route!(Post "/users/{name}/mfa-reset", ManageUsers, PAGE, None, "Reset a user's MFA", pages::user_mfa_reset),
    route!(Post "/users/{name}/unlock", ManageUsers, PAGE, None, "Unlock a locked account", pages::user_unlock),
    route!(Get "/audit", ViewAudit, PAGE, Some("Audit trail"), "Ward's own audit trail", pages::audit),
    route!(Get "/tokens", ManageTokens, PAGE, Some("API tokens"), "API tokens", pages::tokens),
    route!(Post "/tokens", ManageTokens, PAGE, None, "Create an API token", pages::token_create),
    route!(Post "/tokens/{id}/revoke", ManageTokens, PAGE, None, "Revoke an API token", pages::token_revoke),
    route!(Get "/static/console.css", Public, PAGE, None, "Style sheet", pages::style),
    route!(Get "/static/console.js", Public, PAGE, None, "Script", pages::script),
    // The JSON API.
    route!(Get "/api/v1/openapi.json", Public, API, None, "This API's OpenAPI 3.1 document", api::openapi),
    route!(Get "/api/v1/stats", ViewOverview, API, None, "Counts for the overview", api::stats),
    route!(Get "/api/v1/alerts", ViewAlerts, API, None, "List alerts", api::alerts),
    route!(Get "/api/v1/alerts/{id}", ViewAlerts, API, None, "One alert with its workflow and evidence ids", api::alert),
    route!(Post "/api/v1/alerts/{id}/status", ChangeAlerts, API, None, "Set an alert's status (closing needs a reason)", api::alert_status),
    route!(Post "/api/v1/alerts/{id}/assign", ChangeAlerts, API, None, "Assign or unassign an alert", api::alert_assign),
    route!(Get "/api/v1/privacy", ViewPrivacyCases, API, None, "Privacy cases: open and acknowledged privacy alerts grouped per user", api::privacy),
    route!(Get "/api/v1/rules", ViewRules, API, None, "Detection rules with their open alerts", api::rules),
    route!(Post "/api/v1/rules/{id}/state", ManageRules, API, None, "Switch a rule off (with a reason) or back on", crate::switches::api_state),
    route!(Get "/api/v1/events", Investigate, API, None, "Search events", api::events),
    route!(Get "/api/v1/timeline/{kind}/{value}", Investigate, API, None, "An entity's timeline", api::timeline),
    route!(Get "/api/v1/sources", ViewSources, API, None, "Sources and their last event", api::sources),
    route!(Get "/api/v1/listeners", ViewSources, API, None, "The running listeners with their limits and counters", crate::settings::api_listeners),
    route!(Get "/api/v1/settings", ViewSettings, API, None, "The effective configuration, secrets redacted", crate::settings::api),
    route!(Post "/api/v1/rules/test", TestRules, API, None, "Run a draft Sigma rule over stored events", crate::rule_test::api),
    route!(Get "/api/v1/quarantine", ViewQuarantine, API, None, "Quarantined records (without their raw bytes)", api::quarantine),
    route!(Get "/api/v1/deliveries", ViewDeliveries, API, None, "Notification deliveries, newest first, without their contents", crate::deliveries::api_list),
    route!(Get "/api/v1/audit", ViewAudit, API, None, "Ward's own audit trail; format=fhir for a Bundle of AuditEvents", api::audit),
    route!(Get "/api/v1/users", ManageUsers, API, None, "Console users", api::users),
    route!(Get "/api/v1/incidents", ViewIncidents, API, None, "Incidents, newest first, with their next deadline", incidents::api_list),
    route!(Post "/api/v1/incidents", ManageIncidents, API, None, "Open an incident from alerts", incidents::api_open),
    route!(Get "/api/v1/incidents/{id}", ViewIncidents, API, None, "One incident with tasks, alerts, assessment, deadlines and evidence", incidents::api_detail),
    route!(Post "/api/v1/incidents/{id}/notice", ManageIncidents, API, None, "Record a notice as given (which, when, how)", incidents::api_notice),
    route!(Post "/api/v1/incidents/{id}/close", ManageIncidents, API, None, "Close an incident with its post-incident review", incidents::api_close),
    route!(Post "/api/v1/incidents/{id}/review", ManageIncidents, API, None, "Record the review of a closed incident", incidents::api_review),
    route!(Post "/api/v1/incidents/{id}/follow-ups/{n}/done", WorkIncidents, API, None, "Mark a follow-up of an incident's review done", incidents::api_follow_up_done),
    route!(Post "/api/v1/exercises", ManageIncidents, API, None, "Record a tabletop exercise against the response plan", incidents::api_exercise),
    route!(Get "/api/v1/inventory/assets", ViewInventory, API, None, "Assets with their count of findings, filtered by kind, zone or PHI", inventory::api_assets),
    route!(Get "/api/v1/inventory/assets/{id}", ViewInventory, API, None, "One asset with its findings, reachability and TLS scans", inventory::api_asset),
    route!(Get "/api/v1/inventory/exposure", ViewInventory, API, None, "The exposure list, most exposed first", inventory::api_exposure),
    route!(Get "/api/v1/inventory/encryption", ViewInventory, API, None, "Encryption coverage of the systems holding PHI", inventory::api_encryption),
    route!(Get "/api/v1/inventory/unknown", ViewInventory, API, None, "Unknown devices awaiting review", inventory::api_unknown),
    route!(Get "/api/v1/inventory/reachability", ViewInventory, API, None, "What can reach the zones holding PHI, as JSON or as the SVG map", inventory::api_reachability),
    route!(Post "/api/v1/inventory/unknown/review", ManageInventory, API, None, "Accept an unknown device into the inventory or dismiss it", inventory::api_review),
];

/// The console and API router. Merge it with the listeners' router and serve both.
pub fn router(state: ConsoleState) -> Router {
    let mut router = Router::new();
    for spec in ROUTES {
        let guarded = (spec.handler)().route_layer(middleware::from_fn_with_state(
            (state.clone(), spec),
            authorize,
        ));
        router = router.route(spec.path, guarded);
    }
    router
        .layer(middleware::from_fn(headers::security_headers))
        .with_state(state)
}

/// The caller as the middleware resolved it, for handlers.
#[derive(Clone)]
pub(crate) struct Caller(pub Option<Principal>);

impl Caller {
    /// The signed-in caller; routes other than public ones always have one.
    pub fn principal(&self) -> Result<&Principal, ConsoleError> {
        self.0.as_ref().ok_or(ConsoleError::Unauthenticated)
    }
}

/// Largest form body read to find its CSRF field.
const MAX_FORM_BYTES: usize = 64 * 1024;

pub(crate) fn client_ip(request: &Request) -> Option<String> {
    if let Some(ClientAddr(ip)) = request.extensions().get::<ClientAddr>() {
        return Some(ip.to_string());
    }
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
}

/// The one place access is decided. See the module documentation.
async fn authorize(
    State((state, spec)): State<(ConsoleState, &'static RouteSpec)>,
    request: Request,
    next: Next,
) -> Response {
    let result = check(&state, spec, request).await;
    let (response, stale_cookie) = match result {
        Ok((request, stale)) => (next.run(request).await, stale),
        Err((e, stale)) => (e.into_response(), stale),
    };
    let mut response = match response.extensions().get::<ErrorKind>().cloned() {
        Some(kind) => render_error(spec, &kind),
        None => response,
    };
    if stale_cookie {
        let name = auth::session_cookie_name(state.options());
        response.headers_mut().append(
            header::SET_COOKIE,
            auth::clear_cookie(state.options(), name),
        );
    }
    response
}

type Checked = Result<(Request, bool), (ConsoleError, bool)>;

async fn check(state: &ConsoleState, spec: &'static RouteSpec, request: Request) -> Checked {
    let ip = client_ip(&request);
    let headers = request.headers().clone();
    let now = state.now();
    let resolved = {
        let state = state.clone();
        state
            .clone()
            .blocking(move |store| {
                auth::resolve(store, state.options(), state.secret(), &headers, now, ip)
            })
            .await
    };
    let resolved = resolved.map_err(|e| (e, false))?;
    let stale = resolved.stale_cookie;
    let principal = resolved.principal;
    let fail = |e| Err((e, stale));

    match spec.permission {
        Permission::Public => {}
        Permission::MfaStep => match &principal {
            Some(p) if p.stage() == SessionStage::Mfa => {}
            Some(_) => return fail(ConsoleError::Forbidden),
            None => return fail(ConsoleError::Unauthenticated),
        },
        Permission::EnrolMfa => match &principal {
            Some(
                p @ Principal {
                    via: Via::Session { .. },
                    ..
                },
            ) if p.stage() != SessionStage::Mfa => {}
            Some(_) => return fail(ConsoleError::Forbidden),
            None => return fail(ConsoleError::Unauthenticated),
        },
        Permission::AnySession => match &principal {
            Some(Principal {
                via: Via::Session { .. },
                ..
            }) => {}
            Some(_) => return fail(ConsoleError::Forbidden),
            None => return fail(ConsoleError::Unauthenticated),
        },
        permission => match &principal {
            None => return fail(ConsoleError::Unauthenticated),
            Some(p) if p.stage() != SessionStage::Full => {
                return fail(ConsoleError::Unauthenticated);
            }
            Some(p) if !p.role.allows(permission) => return fail(ConsoleError::Forbidden),
            Some(_) => {}
        },
    }

    let mut request = request;
    if *request.method() == Method::POST {
        // Forms shown before sign-in (sign-in, setup) carry the pre-session token even when
        // a session exists; every other form carries the session's.
        let pre_session = auth::cookie(request.headers(), auth::pre_cookie_name(state.options()))
            .map(|pre| auth::pre_session_csrf(state.secret(), pre))
            .or_else(|| Some(String::new()));
        let expected = match &principal {
            Some(Principal {
                via: Via::ApiToken { .. },
                ..
            }) => None,
            _ if spec.permission == Permission::Public => pre_session,
            Some(p) => Some(p.csrf().to_string()),
            None => pre_session,
        };
        if let Some(expected) = expected {
            let (checked, ok) = csrf_matches(request, &expected).await;
            if !ok {
                return fail(ConsoleError::Csrf);
            }
            request = checked;
        }
    }
    request.extensions_mut().insert(Caller(principal));
    Ok((request, stale))
}

/// Whether the request carries `expected` as its `X-CSRF-Token` header or its `csrf` form
/// field; the request comes back whole (its body re-assembled) for the handler.
async fn csrf_matches(request: Request, expected: &str) -> (Request, bool) {
    if expected.is_empty() {
        return (request, false);
    }
    if let Some(sent) = request.headers().get("x-csrf-token") {
        let ok = auth::constant_time_eq(sent.as_bytes(), expected.as_bytes());
        return (request, ok);
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return (request, false);
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return (Request::from_parts(parts, Body::empty()), false);
    };
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
    let ok = fields
        .iter()
        .any(|(k, v)| k == "csrf" && auth::constant_time_eq(v.as_bytes(), expected.as_bytes()));
    (Request::from_parts(parts, Body::from(bytes)), ok)
}

/// Renders an error as the API's JSON or as a console page (sign-in redirect when the caller
/// is not signed in).
fn render_error(spec: &RouteSpec, kind: &ErrorKind) -> Response {
    if spec.api {
        let body = serde_json::json!({"error": kind.code, "message": kind.message});
        let mut response = (kind.status, axum::Json(body)).into_response();
        if kind.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"ward\""),
            );
        }
        return response;
    }
    if kind.status == StatusCode::UNAUTHORIZED {
        return Redirect::to("/login").into_response();
    }
    pages::error_page(kind)
}

/// A path a sign-in may send the browser back to: only this site's own pages.
pub(crate) fn safe_next(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.starts_with("/login")
        && next.len() < 512;
    ok.then_some(next)
}
