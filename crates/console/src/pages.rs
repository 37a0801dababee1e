//! The console's pages, rendered on the server with askama. Every page lists what it shows in
//! plain tables, links every entity to its timeline, and works without JavaScript. Handlers
//! trust the route middleware for who may call them; they mask PHI for roles without it and
//! record every unmasked PHI view in the audit trail before answering.

use crate::audit::{self, AuditRecord, account_activity};
use crate::auth::{self, Principal, Via};
use crate::charts;
use crate::error::ErrorKind;
use crate::mask::Masker;
use crate::roles::{Permission, Role};
use crate::routes::{Caller, ROUTES, RouteMethod, safe_next};
use crate::totp::{self, percent_encode};
use crate::views::{self, AlertFilter, EventSearch};
use crate::{ConsoleError, ConsoleState, password};
use askama::Template;
use axum::Extension;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::collections::BTreeSet;
use ward_model::{AlertStatus, Event, Status, Timestamp};
use ward_store::{
    ApiTokenRecord, AuditQuery, QuarantineQuery, SessionRecord, SessionStage, UserChange,
    UserRecord,
};

type PageResult = Result<Response, ConsoleError>;

// ---------------------------------------------------------------------------------------------
// Shared pieces

pub(crate) struct NavItem {
    pub(crate) href: &'static str,
    pub(crate) label: &'static str,
    pub(crate) current: bool,
}

/// What every signed-in page shows around its content.
pub(crate) struct Chrome {
    pub(crate) title: String,
    pub(crate) user: String,
    pub(crate) role: &'static str,
    pub(crate) masked: bool,
    pub(crate) csrf: String,
    pub(crate) nav: Vec<NavItem>,
}

impl Chrome {
    pub(crate) fn new(p: &Principal, current: &str, title: &str) -> Self {
        let nav = ROUTES
            .iter()
            .filter(|r| r.method == RouteMethod::Get && !r.api)
            .filter_map(|r| r.nav.map(|label| (r, label)))
            .filter(|(r, _)| p.role.allows(r.permission))
            .map(|(r, label)| NavItem {
                href: r.path,
                label,
                current: r.path == current,
            })
            .collect();
        Chrome {
            title: title.to_string(),
            user: p.user.clone(),
            role: p.role.label(),
            masked: !p.role.sees_phi(),
            csrf: p.csrf().to_string(),
            nav,
        }
    }
}

pub(crate) fn render(template: &impl Template) -> PageResult {
    template
        .render()
        .map(|html| Html(html).into_response())
        .map_err(|_| ConsoleError::Internal("a page template failed to render"))
}

pub(crate) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

pub(crate) fn fmt_time(t: Timestamp) -> String {
    let s = t.to_rfc3339();
    match (s.get(..10), s.get(11..19)) {
        (Some(d), Some(h)) => format!("{d} {h}"),
        _ => s,
    }
}

fn timeline_href(kind: &str, value: &str) -> String {
    format!("/timeline/{kind}/{}", percent_encode(value))
}

pub(crate) fn masker<'a>(state: &'a ConsoleState, p: &Principal) -> Masker<'a> {
    Masker {
        enabled: !p.role.sees_phi(),
        secret: state.secret(),
    }
}

/// Records that `p` was shown the data of `patients`, unmasked, at `place`.
pub(crate) async fn record_phi_views(
    state: &ConsoleState,
    p: &Principal,
    place: &str,
    patients: BTreeSet<String>,
) -> Result<(), ConsoleError> {
    if !p.role.sees_phi() || patients.is_empty() {
        return Ok(());
    }
    let records = patients
        .iter()
        .map(|patient| AuditRecord::phi_view(&p.audit_name(), p.ip.clone(), place, patient))
        .collect();
    audit::record(state, records).await
}

/// One event as a table row: every entity a link to its timeline (masked patients excepted).
pub(crate) struct EventRow {
    pub(crate) time: String,
    pub(crate) what: String,
    pub(crate) user: Option<(String, String)>,
    pub(crate) patient: Option<(String, Option<String>)>,
    pub(crate) patient_name: Option<String>,
    pub(crate) ip: Option<(String, String)>,
    pub(crate) host: Option<(String, String)>,
    pub(crate) status: &'static str,
    pub(crate) source: String,
}

/// Rows for `events`, masked as `masker` says; the ids of patients shown unmasked are added
/// to `shown`.
pub(crate) fn event_rows(
    events: Vec<Event>,
    masker: Masker<'_>,
    shown: &mut BTreeSet<String>,
) -> Vec<EventRow> {
    events
        .into_iter()
        .map(|event| {
            if !masker.enabled
                && let Some(id) = &event.patient.id
            {
                shown.insert(id.clone());
            }
            let e = masker.event(event);
            let user = e
                .actor
                .user
                .name
                .clone()
                .or(e.actor.user.uid.clone())
                .map(|u| (u.clone(), timeline_href("user", &u)));
            let patient = e.patient.id.clone().map(|id| {
                let href = (!Masker::is_masked(&id)).then(|| timeline_href("patient", &id));
                (id, href)
            });
            let host = e
                .device
                .hostname
                .clone()
                .or(e.src_endpoint.hostname.clone())
                .map(|h| (h.clone(), timeline_href("host", &h)));
            let what = match (&e.activity_name, &e.resource.r#type) {
                (Some(a), Some(r)) => format!("{} · {a} {r}", e.class_name()),
                (Some(a), None) => format!("{} · {a}", e.class_name()),
                _ => e.class_name().to_string(),
            };
            EventRow {
                time: fmt_time(e.time),
                what,
                user,
                patient,
                patient_name: e.patient.name.clone(),
                ip: e
                    .src_endpoint
                    .ip
                    .clone()
                    .map(|ip| (ip.clone(), timeline_href("ip", &ip))),
                host,
                status: e.status.as_str(),
                source: if e.metadata.log_name.is_empty() {
                    e.metadata.product.clone()
                } else {
                    e.metadata.log_name.clone()
                },
            }
        })
        .collect()
}

pub(crate) struct EntityLink {
    kind: &'static str,
    value: String,
    href: Option<String>,
}

pub(crate) struct AlertRow {
    href: String,
    title: String,
    rule_id: String,
    severity: &'static str,
    status: &'static str,
    count: u64,
    first_seen: String,
    last_seen: String,
    entities: Vec<EntityLink>,
}

fn alert_row(
    alert: &ward_model::Alert,
    masker: Masker<'_>,
    shown: &mut BTreeSet<String>,
) -> AlertRow {
    if !masker.enabled
        && let Some(p) = &alert.entities.patient
    {
        shown.insert(p.clone());
    }
    let masked = masker.alert(alert.clone());
    AlertRow {
        href: format!("/alerts/{}", percent_encode(&alert.id)),
        title: masked.title.clone(),
        rule_id: masked.rule_id.clone(),
        severity: masked.severity.as_str(),
        status: masked.status.as_str(),
        count: masked.count,
        first_seen: fmt_time(masked.first_seen),
        last_seen: fmt_time(masked.last_seen),
        entities: views::entities(&masked)
            .into_iter()
            .map(|(kind, value)| EntityLink {
                kind,
                value: value.to_string(),
                href: views::timeline_kind(kind)
                    .filter(|_| !Masker::is_masked(value))
                    .map(|k| timeline_href(k, value)),
            })
            .collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    status: String,
    message: &'a str,
}

pub(crate) fn error_page(kind: &ErrorKind) -> Response {
    let page = ErrorPage {
        title: kind.status.canonical_reason().unwrap_or("Error"),
        status: format!(
            "{} {}",
            kind.status.as_u16(),
            kind.status.canonical_reason().unwrap_or("")
        ),
        message: &kind.message,
    };
    let html = page
        .render()
        .unwrap_or_else(|_| "Ward could not render this error.".into());
    (kind.status, Html(html)).into_response()
}

// ---------------------------------------------------------------------------------------------
// Static files

pub(crate) async fn style() -> Response {
    static_file(
        "text/css; charset=utf-8",
        include_str!("../static/console.css"),
    )
}

pub(crate) async fn script() -> Response {
    static_file(
        "text/javascript; charset=utf-8",
        include_str!("../static/console.js"),
    )
}

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

// ---------------------------------------------------------------------------------------------
// Signing in

pub(crate) async fn home(Extension(caller): Extension<Caller>) -> PageResult {
    let p = caller.principal()?;
    let first = ROUTES
        .iter()
        .filter(|r| r.nav.is_some() && p.role.allows(r.permission))
        .map(|r| r.path)
        .next()
        .unwrap_or("/login");
    Ok(see_other(first))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    title: &'static str,
    csrf: String,
    error: Option<String>,
    setup_pending: bool,
}

/// The pre-session cookie of the request, or a new one to set.
fn pre_session(state: &ConsoleState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    let name = auth::pre_cookie_name(state.options());
    match auth::cookie(headers, name) {
        Some(v) if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) => {
            (v.to_string(), None)
        }
        _ => {
            let value = auth::random_token();
            let cookie = auth::set_cookie(state.options(), name, &value);
            (value, Some(cookie))
        }
    }
}

pub(crate) async fn login_page(
    state: &ConsoleState,
    headers: &HeaderMap,
    error: Option<String>,
    status: StatusCode,
) -> PageResult {
    let (pre, set) = pre_session(state, headers);
    let setup_pending = state
        .blocking(|store| Ok(store.accounts().count_users()? == 0))
        .await?;
    let mut response = render(&LoginPage {
        title: "Sign in",
        csrf: auth::pre_session_csrf(state.secret(), &pre),
        error,
        setup_pending,
    })?;
    *response.status_mut() = status;
    if let Some(cookie) = set {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

pub(crate) async fn login_form(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
) -> PageResult {
    login_page(&state, &headers, None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    name: String,
    password: String,
    #[serde(default)]
    next: Option<String>,
}

/// What a password check concluded.
enum PasswordOutcome {
    Accepted(UserRecord),
    Refused { locked: bool },
    Throttled,
}

const SIGN_IN_FAILED: &str = "Sign-in failed: wrong name or password, or the account is locked \
     after repeated failures (it unlocks by itself after a while, or an admin unlocks it).";

pub(crate) async fn login_submit(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    request_ip: ClientIp,
    Form(form): Form<LoginForm>,
) -> PageResult {
    let ip = request_ip.0;
    let now = state.now();
    let name = form.name.trim().to_string();
    let options = state.options().clone();
    let outcome = {
        let name = name.clone();
        // Without a known client address there is no per-address throttle (one shared bucket
        // would let anyone lock everybody out); the per-account lock-out still holds.
        let ip_key = ip.as_deref().map(|ip| format!("ip:{ip}"));
        state
            .blocking(move |store| {
                let accounts = store.accounts();
                let window_start = Timestamp(now.millis() - auth::millis(options.throttle_window));
                if let Some(key) = &ip_key
                    && accounts.count_login_attempts(key, window_start)?
                        >= options.throttle_per_client
                {
                    return Ok(PasswordOutcome::Throttled);
                }
                let user = accounts.get_user(&name)?;
                let stored = user
                    .as_ref()
                    .map_or(password::decoy_hash(), |u| u.password_hash.as_str());
                let matches = password::verify(&form.password, stored);
                let usable = user.as_ref().is_some_and(|u| {
                    !u.disabled && u.locked_until.is_none_or(|until| until <= now)
                });
                match user {
                    Some(user) if matches && usable => {
                        accounts.record_successful_login(&user.name)?;
                        Ok(PasswordOutcome::Accepted(user))
                    }
                    found => {
                        if let Some(key) = &ip_key {
                            accounts.record_login_attempt(key, now)?;
                        }
                        let mut locked = false;
                        if found.is_some() {
                            let lock_until =
                                Timestamp(now.millis() + auth::millis(options.lock_duration));
                            let after = accounts.record_failed_login(
                                &name,
                                options.lock_after_failures,
                                lock_until,
                            )?;
                            locked = after
                                .and_then(|u| u.locked_until)
                                .is_some_and(|until| until > now);
                        }
                        Ok(PasswordOutcome::Refused { locked })
                    }
                }
            })
            .await?
    };
    let user = match outcome {
        PasswordOutcome::Throttled => {
            audit::record(
                &state,
                vec![AuditRecord::sign_in(
                    &name,
                    ip.clone(),
                    false,
                    "throttled: too many failures from this address",
                )],
            )
            .await?;
            return Err(ConsoleError::TooManyRequests);
        }
        PasswordOutcome::Refused { locked } => {
            let detail = if locked {
                "wrong password or unknown user; account locked"
            } else {
                "wrong password, unknown, locked or disabled user"
            };
            audit::record(
                &state,
                vec![AuditRecord::sign_in(&name, ip.clone(), false, detail)],
            )
            .await?;
            return login_page(
                &state,
                &headers,
                Some(SIGN_IN_FAILED.into()),
                StatusCode::UNAUTHORIZED,
            )
            .await;
        }
        PasswordOutcome::Accepted(user) => user,
    };
    let role = Role::parse(&user.role).ok_or(ConsoleError::Forbidden)?;
    let stage = if user.totp_secret.is_some() {
        SessionStage::Mfa
    } else if role.requires_mfa() {
        SessionStage::Enrol
    } else {
        SessionStage::Full
    };
    if stage == SessionStage::Full {
        audit::record(
            &state,
            vec![AuditRecord::sign_in(
                &user.name,
                ip.clone(),
                true,
                "password",
            )],
        )
        .await?;
    }
    let previous = previous_session(&caller);
    let cookie = start_session(&state, &user.name, stage, ip, previous, false).await?;
    let to = match stage {
        SessionStage::Mfa => "/login/mfa".to_string(),
        SessionStage::Enrol => "/account/mfa".to_string(),
        SessionStage::Full => form
            .next
            .as_deref()
            .and_then(safe_next)
            .unwrap_or("/")
            .to_string(),
    };
    let mut response = see_other(&to);
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

fn previous_session(caller: &Caller) -> Option<[u8; 32]> {
    match caller.0.as_ref().map(|p| &p.via) {
        Some(Via::Session { token_sha256, .. }) => Some(*token_sha256),
        _ => None,
    }
}

/// Starts a session with a fresh token (ending `previous`, so a token planted before sign-in
/// is worth nothing after it) and returns its cookie. With `keep_start`, the new session keeps
/// the start time of `previous`: the absolute timeout runs from the first sign-in step. Sessions
/// past either timeout are swept out at the same time.
async fn start_session(
    state: &ConsoleState,
    user: &str,
    stage: SessionStage,
    ip: Option<String>,
    previous: Option<[u8; 32]>,
    keep_start: bool,
) -> Result<HeaderValue, ConsoleError> {
    let token = auth::random_token();
    let now = state.now();
    let idle_before = Timestamp(now.millis() - auth::millis(state.options().idle_timeout));
    let created_before = Timestamp(now.millis() - auth::millis(state.options().absolute_timeout));
    let mut record = SessionRecord {
        token_sha256: auth::sha256(&token),
        user: user.to_string(),
        stage,
        created_at: now,
        last_seen: now,
        ip,
    };
    state
        .blocking(move |store| {
            let accounts = store.accounts();
            if let Some(previous) = previous {
                if let Some(old) = accounts.get_session(&previous)?.filter(|_| keep_start) {
                    record.created_at = old.created_at;
                }
                accounts.delete_session(&previous)?;
            }
            accounts.expire_sessions(idle_before, created_before)?;
            accounts.create_session(&record)?;
            Ok(())
        })
        .await?;
    let name = auth::session_cookie_name(state.options());
    Ok(auth::set_cookie(state.options(), name, &token))
}

/// Moves a session to a later stage under a new token (privilege changes rotate the token).
async fn advance_session(
    state: &ConsoleState,
    p: &Principal,
    stage: SessionStage,
) -> Result<HeaderValue, ConsoleError> {
    let previous = match &p.via {
        Via::Session { token_sha256, .. } => Some(*token_sha256),
        Via::ApiToken { .. } => None,
    };
    start_session(state, &p.user, stage, p.ip.clone(), previous, true).await
}

#[derive(Template)]
#[template(path = "mfa.html")]
struct MfaPage {
    title: &'static str,
    csrf: String,
    error: Option<String>,
}

pub(crate) async fn mfa_form(Extension(caller): Extension<Caller>) -> PageResult {
    let p = caller.principal()?;
    render(&MfaPage {
        title: "Authenticator code",
        csrf: p.csrf().to_string(),
        error: None,
    })
}

#[derive(Deserialize)]
pub(crate) struct CodeForm {
    code: String,
}

pub(crate) async fn mfa_submit(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Form(form): Form<CodeForm>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let now = state.now();
    let options = state.options().clone();
    let user_name = p.user.clone();
    let step_state = state.clone();
    let accepted = state
        .blocking(move |store| {
            let accounts = store.accounts();
            let Some(user) = accounts.get_user(&user_name)? else {
                return Ok(false);
            };
            let locked = user.locked_until.is_some_and(|until| until > now);
            let step = user
                .totp_secret
                .as_deref()
                .and_then(|secret| totp::verify(secret, &form.code, now.millis() / 1000));
            // A code is accepted once: a step at or before the last one used is a replay.
            let fresh = step.is_some_and(|s| step_state.claim_totp_step(&user.name, s));
            if fresh && !locked {
                accounts.record_successful_login(&user.name)?;
                return Ok(true);
            }
            let lock_until = Timestamp(now.millis() + auth::millis(options.lock_duration));
            accounts.record_failed_login(&user.name, options.lock_after_failures, lock_until)?;
            Ok(false)
        })
        .await?;
    if !accepted {
        audit::record(
            &state,
            vec![AuditRecord::sign_in(
                &p.user,
                p.ip.clone(),
                false,
                "wrong, reused or late TOTP code, or account locked",
            )],
        )
        .await?;
        let mut response = render(&MfaPage {
            title: "Authenticator code",
            csrf: p.csrf().to_string(),
            error: Some("That code was not accepted. Enter the code your app shows now.".into()),
        })?;
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        return Ok(response);
    }
    audit::record(
        &state,
        vec![AuditRecord::sign_in(
            &p.user,
            p.ip.clone(),
            true,
            "password and TOTP",
        )],
    )
    .await?;
    let cookie = advance_session(&state, &p, SessionStage::Full).await?;
    let mut response = see_other("/");
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

pub(crate) async fn logout(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
) -> PageResult {
    let p = caller.principal()?.clone();
    if let Via::Session { token_sha256, .. } = p.via {
        state
            .blocking(move |store| {
                store.accounts().delete_session(&token_sha256)?;
                Ok(())
            })
            .await?;
    }
    audit::record(&state, vec![AuditRecord::sign_out(&p.user, p.ip.clone())]).await?;
    let mut response = see_other("/login");
    let name = auth::session_cookie_name(state.options());
    response.headers_mut().append(
        header::SET_COOKIE,
        auth::clear_cookie(state.options(), name),
    );
    Ok(response)
}

// ---------------------------------------------------------------------------------------------
// MFA enrolment

#[derive(Template)]
#[template(path = "enrol.html")]
struct EnrolPage {
    title: &'static str,
    csrf: String,
    secret: String,
    proof: String,
    qr_svg: String,
    required: bool,
    error: Option<String>,
}

fn enrol_proof(state: &ConsoleState, user: &str, secret_b32: &str) -> String {
    auth::keyed(
        state.secret(),
        &[b"mfa-enrol", user.as_bytes(), secret_b32.as_bytes()],
    )
}

fn enrol_page(
    state: &ConsoleState,
    p: &Principal,
    secret: Vec<u8>,
    error: Option<String>,
) -> PageResult {
    let secret_b32 = totp::base32_encode(&secret);
    let uri = totp::otpauth_uri("Ward", &p.user, &secret);
    let qr_svg = qrcode::QrCode::new(uri.as_bytes())
        .map(|code| {
            code.render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .quiet_zone(true)
                .build()
        })
        .map_err(|_| ConsoleError::Internal("the enrolment QR code could not be drawn"))?;
    // The renderer starts with an XML declaration, which does not belong inside HTML.
    let qr_svg = match qr_svg.find("<svg") {
        Some(at) => qr_svg[at..].to_string(),
        None => qr_svg,
    };
    let mut response = render(&EnrolPage {
        title: "Two-factor sign-in",
        csrf: p.csrf().to_string(),
        proof: enrol_proof(state, &p.user, &secret_b32),
        secret: secret_b32,
        qr_svg,
        required: p.stage() == SessionStage::Enrol,
        error: error.clone(),
    })?;
    if error.is_some() {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

pub(crate) async fn enrol_form(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
) -> PageResult {
    let p = caller.principal()?;
    enrol_page(
        &state,
        p,
        auth::random_bytes::<{ totp::SECRET_BYTES }>().to_vec(),
        None,
    )
}

#[derive(Deserialize)]
pub(crate) struct EnrolForm {
    secret: String,
    proof: String,
    code: String,
}

pub(crate) async fn enrol_submit(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Form(form): Form<EnrolForm>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let expected = enrol_proof(&state, &p.user, &form.secret);
    if !auth::constant_time_eq(expected.as_bytes(), form.proof.as_bytes()) {
        return Err(ConsoleError::BadRequest(
            "the enrolment form was altered".into(),
        ));
    }
    let secret = totp::base32_decode(&form.secret)
        .filter(|s| s.len() == totp::SECRET_BYTES)
        .ok_or_else(|| ConsoleError::BadRequest("the enrolment key is not valid".into()))?;
    let now = state.now();
    let Some(step) = totp::verify(&secret, &form.code, now.millis() / 1000) else {
        return enrol_page(
            &state,
            &p,
            secret,
            Some(
                "That code does not match. Check the app's clock and try the current code.".into(),
            ),
        );
    };
    state.claim_totp_step(&p.user, step);
    let user = p.user.clone();
    state
        .blocking(move |store| {
            store.accounts().update_user(
                &user,
                &UserChange {
                    totp_secret: Some(Some(secret)),
                    ..Default::default()
                },
            )?;
            Ok(())
        })
        .await?;
    let mut records = vec![AuditRecord::account_change(
        &p.user,
        p.ip.clone(),
        "POST /account/mfa",
        (account_activity::MFA_ENABLE, "MFA Factor Enable"),
        &p.user,
        "TOTP enrolled".into(),
    )];
    if p.stage() == SessionStage::Enrol {
        records.push(AuditRecord::sign_in(
            &p.user,
            p.ip.clone(),
            true,
            "password and TOTP enrolment",
        ));
    }
    audit::record(&state, records).await?;
    // Enrolment changes what the session proves: a new token either way.
    let cookie = advance_session(&state, &p, SessionStage::Full).await?;
    let mut response = see_other("/");
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

// ---------------------------------------------------------------------------------------------
// Overview

struct SourceView {
    name: String,
    events: u64,
    quarantined: u64,
    last: String,
    silent: bool,
}

fn source_views(rows: &[views::SourceRow]) -> Vec<SourceView> {
    rows.iter()
        .map(|s| SourceView {
            name: s.name.clone(),
            events: s.events,
            quarantined: s.quarantined,
            last: s.last_event_time.map_or("never".into(), fmt_time),
            silent: s.silent,
        })
        .collect()
}

struct TopEntity {
    kind: String,
    value: String,
    href: Option<String>,
    count: u64,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    chrome: Chrome,
    o: views::Overview,
    trend_svg: String,
    sources_svg: String,
    top: Vec<TopEntity>,
    sources: Vec<SourceView>,
    incident_board: Option<Vec<crate::incidents::BoardRow>>,
}

pub(crate) async fn overview(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let now = state.now();
    let silent = auth::millis(state.options().silent_source_after);
    let o = state
        .blocking(move |store| views::overview(store, now, silent))
        .await?;
    let masker = masker(&state, &p);
    let mut shown = BTreeSet::new();
    let top = o
        .top_entities
        .iter()
        .map(|(kind, value, count)| {
            let value = if kind == "patient" {
                if !masker.enabled {
                    shown.insert(value.clone());
                }
                masker.patient_id(value)
            } else {
                value.clone()
            };
            TopEntity {
                href: views::timeline_kind(kind)
                    .filter(|_| !Masker::is_masked(&value))
                    .map(|k| timeline_href(k, &value)),
                kind: kind.clone(),
                value,
                count: *count,
            }
        })
        .collect();
    record_phi_views(&state, &p, "GET /overview", shown).await?;
    let incident_board = crate::incidents::board(&state, &p).await?;
    let mut per_source: Vec<(String, u64)> = o
        .sources
        .iter()
        .map(|s| (s.name.clone(), s.events))
        .collect();
    per_source.sort_by_key(|s| std::cmp::Reverse(s.1));
    per_source.truncate(12);
    render(&OverviewPage {
        chrome: Chrome::new(&p, "/overview", "Overview"),
        trend_svg: charts::trend("New alerts per day by severity", &o.trend),
        sources_svg: charts::bars("Events per source", &per_source),
        sources: source_views(&o.sources),
        top,
        o,
        incident_board,
    })
}

// ---------------------------------------------------------------------------------------------
// Alerts

#[derive(Template)]
#[template(path = "alerts.html")]
struct AlertsPage {
    chrome: Chrome,
    rows: Vec<AlertRow>,
    /// Alerts read for the page, grouped or not.
    listed: usize,
    limit: usize,
    rule: String,
    entity: String,
    status_options: Vec<(&'static str, &'static str, bool)>,
    severity_options: Vec<(&'static str, &'static str, bool)>,
    sort_options: Vec<(&'static str, &'static str, bool)>,
    group_options: Vec<(&'static str, &'static str, bool)>,
    /// What the groups are of ("rule", "entity"); empty when the list is not grouped.
    grouped_by: &'static str,
    groups: Vec<GroupRow>,
}

/// One group on the alerts page: a rule or an entity value, with a link to its alerts (none
/// for a masked patient, whose pseudonym cannot be searched for).
struct GroupRow {
    key: String,
    label: String,
    href: Option<String>,
    alerts: u64,
    severity: &'static str,
    last_seen: String,
}

fn group_rows(groups: Vec<views::AlertGroup>, grouping: views::Grouping) -> Vec<GroupRow> {
    groups
        .into_iter()
        .map(|g| {
            let href = match grouping {
                views::Grouping::None => None,
                views::Grouping::Rule => Some(format!("/alerts?rule={}", percent_encode(&g.key))),
                views::Grouping::Entity => (!Masker::is_masked(&g.key))
                    .then(|| format!("/alerts?entity={}", percent_encode(&g.key))),
            };
            GroupRow {
                href,
                alerts: g.alerts,
                severity: g.severity.as_str(),
                last_seen: fmt_time(g.last_seen),
                key: g.key,
                label: g.label,
            }
        })
        .collect()
}

fn options(
    choices: &[(&'static str, &'static str)],
    chosen: Option<&str>,
) -> Vec<(&'static str, &'static str, bool)> {
    choices
        .iter()
        .map(|(v, l)| (*v, *l, chosen.unwrap_or("") == *v))
        .collect()
}

pub(crate) async fn alerts(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Query(mut filter): Query<AlertFilter>,
) -> PageResult {
    let p = caller.principal()?.clone();
    if filter.status.is_none() {
        filter.status = Some("open".into());
    }
    let grouping = views::Grouping::parse(&filter.group)?;
    let masked = masker(&state, &p).enabled;
    if masked && filter.entity.as_deref().is_some_and(Masker::is_masked) {
        return Err(ConsoleError::BadRequest(
            "a masked value cannot be searched for".into(),
        ));
    }
    let listed = {
        let filter = filter.clone();
        state
            .blocking(move |store| views::alerts(store, &filter))
            .await?
    };
    let masker = masker(&state, &p);
    let mut shown = BTreeSet::new();
    let listed_count = listed.len();
    let (rows, groups) = if grouping == views::Grouping::None {
        let rows = listed
            .iter()
            .map(|a| alert_row(a, masker, &mut shown))
            .collect();
        (rows, Vec::new())
    } else {
        let masked_alerts: Vec<_> = listed
            .into_iter()
            .map(|a| {
                // Patients appear on the page only when grouping by entity.
                if grouping == views::Grouping::Entity
                    && !masker.enabled
                    && let Some(patient) = &a.entities.patient
                {
                    shown.insert(patient.clone());
                }
                masker.alert(a)
            })
            .collect();
        let groups = views::group_alerts(&masked_alerts, grouping);
        (Vec::new(), group_rows(groups, grouping))
    };
    record_phi_views(&state, &p, "GET /alerts", shown).await?;
    let severities: Vec<(&'static str, &'static str)> = std::iter::once(("", "any"))
        .chain(views::severity_names().into_iter().map(|s| (s, s)))
        .collect();
    render(&AlertsPage {
        chrome: Chrome::new(&p, "/alerts", "Alerts"),
        rows,
        listed: listed_count,
        limit: views::ALERT_LIMIT,
        rule: filter.rule.clone().unwrap_or_default(),
        entity: filter.entity.clone().unwrap_or_default(),
        status_options: options(
            &[
                ("open", "open"),
                ("acknowledged", "acknowledged"),
                ("closed", "closed"),
                ("all", "all"),
            ],
            filter.status.as_deref(),
        ),
        severity_options: options(&severities, filter.severity.as_deref()),
        sort_options: options(
            &[
                ("last_seen", "last seen"),
                ("severity", "severity"),
                ("count", "count"),
                ("first_seen", "first seen"),
            ],
            filter.sort.as_deref().or(Some("last_seen")),
        ),
        group_options: options(
            &views::Grouping::CHOICES,
            filter
                .group
                .as_deref()
                .map(str::trim)
                .filter(|g| !g.is_empty())
                .or(Some("none")),
        ),
        grouped_by: match grouping {
            views::Grouping::None => "",
            views::Grouping::Rule => "rule",
            views::Grouping::Entity => "entity",
        },
        groups,
    })
}

#[derive(Template)]
#[template(path = "alert.html")]
struct AlertPage {
    chrome: Chrome,
    a: AlertRow,
    attack: Vec<String>,
    hipaa: Vec<String>,
    author: Option<String>,
    license: Option<String>,
    references: Vec<String>,
    description: Option<String>,
    assignee: Option<String>,
    close_reason: Option<String>,
    can_change: bool,
    can_open_incident: bool,
    users: Vec<String>,
    events: Vec<EventRow>,
}

/// Evidence events shown on an alert's page at most.
const EVIDENCE_LIMIT: usize = 100;

pub(crate) async fn alert_detail(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let can_change = p.role.allows(Permission::ChangeAlerts);
    let (alert, workflow, evidence, users) = state
        .blocking(move |store| {
            let alert = store.get_alert(&id)?.ok_or(ConsoleError::NotFound)?;
            let workflow = store.alert_workflow(&id)?.unwrap_or_default();
            let evidence = views::alert_evidence(store, &id, EVIDENCE_LIMIT)?;
            let users = if can_change {
                store
                    .accounts()
                    .list_users()?
                    .into_iter()
                    .filter(|u| !u.disabled)
                    .map(|u| u.name)
                    .collect()
            } else {
                Vec::new()
            };
            Ok((alert, workflow, evidence, users))
        })
        .await?;
    let masker = masker(&state, &p);
    let mut shown = BTreeSet::new();
    let row = alert_row(&alert, masker, &mut shown);
    let events = event_rows(evidence, masker, &mut shown);
    record_phi_views(&state, &p, "GET /alerts/{id}", shown).await?;
    let description = masker.alert(alert.clone()).description;
    render(&AlertPage {
        chrome: Chrome::new(&p, "/alerts", &alert.title),
        a: row,
        attack: alert.attack,
        hipaa: alert.hipaa,
        author: alert.author,
        license: alert.license,
        // Only web links: a rule file is outside input, and a `javascript:` link must not be
        // one click away.
        references: alert
            .references
            .into_iter()
            .filter(|r| r.starts_with("https://") || r.starts_with("http://"))
            .collect(),
        description,
        assignee: workflow.assignee,
        close_reason: (alert.status == AlertStatus::Closed)
            .then_some(workflow.close_reason)
            .flatten(),
        can_change,
        can_open_incident: p.role.allows(Permission::ManageIncidents),
        users,
        events,
    })
}

#[derive(Deserialize)]
pub(crate) struct StatusForm {
    status: String,
}

pub(crate) async fn alert_status(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Form(form): Form<StatusForm>,
) -> PageResult {
    let p = caller.principal()?;
    let status = AlertStatus::parse(&form.status)
        .filter(|s| *s != AlertStatus::Closed)
        .ok_or_else(|| {
            ConsoleError::BadRequest(
                "status must be open or acknowledged; close with a reason".into(),
            )
        })?;
    change_alert(
        &state,
        p,
        &id,
        "POST /alerts/{id}/status",
        AlertChange::Status(status),
    )
    .await?;
    Ok(see_other(&format!("/alerts/{}", percent_encode(&id))))
}

#[derive(Deserialize)]
pub(crate) struct AssignForm {
    #[serde(default)]
    assignee: String,
}

pub(crate) async fn alert_assign(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Form(form): Form<AssignForm>,
) -> PageResult {
    let p = caller.principal()?;
    let assignee = Some(form.assignee.trim().to_string()).filter(|a| !a.is_empty());
    change_alert(
        &state,
        p,
        &id,
        "POST /alerts/{id}/assign",
        AlertChange::Assign(assignee),
    )
    .await?;
    Ok(see_other(&format!("/alerts/{}", percent_encode(&id))))
}

#[derive(Deserialize)]
pub(crate) struct CloseForm {
    reason: String,
}

pub(crate) async fn alert_close(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Form(form): Form<CloseForm>,
) -> PageResult {
    let p = caller.principal()?;
    change_alert(
        &state,
        p,
        &id,
        "POST /alerts/{id}/close",
        AlertChange::Close(form.reason),
    )
    .await?;
    Ok(see_other(&format!("/alerts/{}", percent_encode(&id))))
}

/// A change people make to an alert.
pub(crate) enum AlertChange {
    Status(AlertStatus),
    Assign(Option<String>),
    Close(String),
}

/// Longest close reason kept.
const MAX_REASON_CHARS: usize = 500;

/// Applies and audits a change to an alert; the API and the pages share it.
pub(crate) async fn change_alert(
    state: &ConsoleState,
    p: &Principal,
    id: &str,
    place: &str,
    change: AlertChange,
) -> Result<(), ConsoleError> {
    let detail = match &change {
        AlertChange::Status(s) => format!("status set to {}", s.as_str()),
        AlertChange::Assign(Some(a)) => format!("assigned to {a}"),
        AlertChange::Assign(None) => "unassigned".into(),
        AlertChange::Close(reason) => {
            let reason = reason.trim();
            if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
                return Err(ConsoleError::BadRequest(format!(
                    "give a reason for closing, at most {MAX_REASON_CHARS} characters"
                )));
            }
            format!("closed: {reason}")
        }
    };
    let alert_id = id.to_string();
    let changed = state
        .blocking(move |store| {
            Ok(match change {
                AlertChange::Status(s) => store.set_alert_status(&alert_id, s)?,
                AlertChange::Assign(assignee) => {
                    if let Some(a) = &assignee
                        && store.accounts().get_user(a)?.is_none()
                    {
                        // The user named does not exist: 404, like an alert that does not.
                        return Err(ConsoleError::NotFound);
                    }
                    store.assign_alert(&alert_id, assignee.as_deref())?
                }
                AlertChange::Close(reason) => store.close_alert(&alert_id, reason.trim())?,
            })
        })
        .await?;
    if !changed {
        return Err(ConsoleError::NotFound);
    }
    audit::record(
        state,
        vec![AuditRecord::alert_change(
            &p.audit_name(),
            p.ip.clone(),
            place,
            id,
            detail,
        )],
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Investigation and timelines

#[derive(Template)]
#[template(path = "investigate.html")]
struct InvestigatePage {
    chrome: Chrome,
    q: EventSearch,
    searched: bool,
    total: u64,
    events: Vec<EventRow>,
}

pub(crate) async fn investigate(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<EventSearch>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let searched = !q.is_empty();
    let (events, total) = if searched {
        let query = q.to_query()?;
        state
            .blocking(move |store| Ok((store.query_events(&query)?, store.count_events(&query)?)))
            .await?
    } else {
        (Vec::new(), 0)
    };
    let mut shown = BTreeSet::new();
    let rows = event_rows(events, masker(&state, &p), &mut shown);
    record_phi_views(&state, &p, "GET /investigate", shown).await?;
    render(&InvestigatePage {
        chrome: Chrome::new(&p, "/investigate", "Investigate"),
        q,
        searched,
        total,
        events: rows,
    })
}

#[derive(Template)]
#[template(path = "timeline.html")]
struct TimelinePage {
    chrome: Chrome,
    kind: String,
    value: String,
    total: u64,
    chart_svg: String,
    events: Vec<EventRow>,
}

pub(crate) async fn timeline(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path((kind, value)): Path<(String, String)>,
) -> PageResult {
    let p = caller.principal()?.clone();
    if Masker::is_masked(&value) {
        return Err(ConsoleError::NotFound);
    }
    let query = views::timeline_query(&kind, &value)?;
    let (events, total) = state
        .blocking(move |store| Ok((store.query_events(&query)?, store.count_events(&query)?)))
        .await?;
    let masker = masker(&state, &p);
    let mut per_day: std::collections::BTreeMap<String, u64> = Default::default();
    for e in &events {
        let day = fmt_time(e.time);
        *per_day
            .entry(day.get(..10).unwrap_or(&day).to_string())
            .or_default() += 1;
    }
    let chart_svg = charts::bars(
        "Events per day (of those shown)",
        &per_day.into_iter().rev().collect::<Vec<_>>(),
    );
    let mut shown = BTreeSet::new();
    if kind == "patient" && !masker.enabled {
        shown.insert(value.clone());
    }
    let rows = event_rows(events, masker, &mut shown);
    record_phi_views(&state, &p, "GET /timeline/{kind}/{value}", shown).await?;
    let shown_value = if kind == "patient" {
        masker.patient_id(&value)
    } else {
        value
    };
    render(&TimelinePage {
        chrome: Chrome::new(&p, "/investigate", "Timeline"),
        kind,
        value: shown_value,
        total,
        chart_svg,
        events: rows,
    })
}

// ---------------------------------------------------------------------------------------------
// Privacy cases

struct CaseAlert {
    a: AlertRow,
    description: Option<String>,
}

struct CaseView {
    user: String,
    user_href: Option<String>,
    severity: &'static str,
    first_seen: String,
    last_seen: String,
    accesses: u64,
    patients: Vec<EntityLink>,
    alerts: Vec<CaseAlert>,
}

#[derive(Template)]
#[template(path = "privacy.html")]
struct PrivacyPage {
    chrome: Chrome,
    cases: Vec<CaseView>,
    truncated: bool,
}

/// Shown for a case whose alerts name no user.
const NO_USER: &str = "(no user named)";

pub(crate) async fn privacy(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let (cases, truncated) = state.blocking(views::privacy_cases).await?;
    let masker = masker(&state, &p);
    let mut shown = BTreeSet::new();
    let cases = cases
        .into_iter()
        .map(|case| CaseView {
            user_href: case.user.as_deref().map(|u| timeline_href("user", u)),
            user: case.user.unwrap_or_else(|| NO_USER.into()),
            severity: case.severity.as_str(),
            first_seen: fmt_time(case.first_seen),
            last_seen: fmt_time(case.last_seen),
            accesses: case.accesses,
            patients: case
                .patients
                .iter()
                .map(|id| {
                    let value = masker.patient_id(id);
                    EntityLink {
                        kind: "patient",
                        href: (!Masker::is_masked(&value))
                            .then(|| timeline_href("patient", &value)),
                        value,
                    }
                })
                .collect(),
            alerts: case
                .alerts
                .into_iter()
                .map(|alert| {
                    let a = alert_row(&alert, masker, &mut shown);
                    CaseAlert {
                        a,
                        description: masker.alert(alert).description,
                    }
                })
                .collect(),
        })
        .collect();
    record_phi_views(&state, &p, "GET /privacy", shown).await?;
    render(&PrivacyPage {
        chrome: Chrome::new(&p, "/privacy", "Privacy cases"),
        cases,
        truncated,
    })
}

// ---------------------------------------------------------------------------------------------
// Rules

struct RuleRow {
    href: String,
    rule: crate::RuleInfo,
    open: u64,
    /// Who switched it off, when and why; `None` while it runs.
    off: Option<ward_detect::switches::Disabled>,
    /// The rule's id, percent-encoded for the switch forms' paths.
    path: String,
}

#[derive(Template)]
#[template(path = "rules.html")]
struct RulesPage {
    chrome: Chrome,
    rows: Vec<RuleRow>,
    total: usize,
    detector_options: Vec<(String, bool)>,
    truncated: bool,
    /// The caller may switch rules off and on.
    can_manage: bool,
    switched_off: usize,
    can_test: bool,
}

#[derive(Deserialize, Default)]
pub(crate) struct RuleFilter {
    #[serde(default)]
    pub detector: Option<String>,
}

impl RuleFilter {
    pub fn detector(&self) -> Option<&str> {
        self.detector
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
    }
}

/// The rules the filter keeps, each with its open alerts; and whether the counts are lower
/// bounds (see [`views::open_alerts_by_rule`]).
pub(crate) async fn rules_with_counts(
    state: &ConsoleState,
    filter: &RuleFilter,
) -> Result<(Vec<(crate::RuleInfo, u64)>, bool), ConsoleError> {
    let (counts, truncated) = state.blocking(views::open_alerts_by_rule).await?;
    let rules = state
        .options()
        .rules
        .iter()
        .filter(|r| filter.detector().is_none_or(|d| r.detector == d))
        .map(|r| (r.clone(), counts.get(&r.id).copied().unwrap_or(0)))
        .collect();
    Ok((rules, truncated))
}

pub(crate) async fn rules(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Query(filter): Query<RuleFilter>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let (rules, truncated) = rules_with_counts(&state, &filter).await?;
    let switches = state.blocking(|store| crate::switches::load(store)).await?;
    let detectors: BTreeSet<&str> = state
        .options()
        .rules
        .iter()
        .map(|r| r.detector.as_str())
        .collect();
    let detector_options = std::iter::once("")
        .chain(detectors)
        .map(|d| (d.to_string(), filter.detector().unwrap_or("") == d))
        .collect();
    render(&RulesPage {
        chrome: Chrome::new(&p, "/rules", "Rules"),
        rows: rules
            .into_iter()
            .map(|(rule, open)| RuleRow {
                href: format!("/alerts?rule={}", percent_encode(&rule.id)),
                off: switches.get(&rule.id).cloned(),
                path: percent_encode(&rule.id),
                rule,
                open,
            })
            .collect(),
        total: state.options().rules.len(),
        detector_options,
        truncated,
        can_manage: p.role.allows(Permission::ManageRules),
        can_test: p.role.allows(Permission::TestRules),
        switched_off: switches.disabled.len(),
    })
}

// ---------------------------------------------------------------------------------------------
// Sources and quarantine

#[derive(Template)]
#[template(path = "sources.html")]
struct SourcesPage {
    chrome: Chrome,
    sources: Vec<SourceView>,
    listeners: Option<Vec<crate::settings::ListenerView>>,
}

pub(crate) async fn sources(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let now = state.now();
    let silent = auth::millis(state.options().silent_source_after);
    let rows = state
        .blocking(move |store| views::sources(store, now, silent))
        .await?;
    render(&SourcesPage {
        chrome: Chrome::new(&p, "/sources", "Sources"),
        sources: source_views(&rows),
        listeners: crate::settings::listeners(&state).map(crate::settings::listener_views),
    })
}

struct QuarantineRow {
    id: i64,
    source: String,
    format: String,
    line: u64,
    offset: u64,
    reason: String,
    bytes: u64,
    when: String,
}

#[derive(Template)]
#[template(path = "quarantine.html")]
struct QuarantinePage {
    chrome: Chrome,
    total: u64,
    rows: Vec<QuarantineRow>,
}

pub(crate) async fn quarantine(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let (records, total) = state
        .blocking(|store| {
            let records = store.list_quarantine(&QuarantineQuery {
                limit: Some(500),
                ..Default::default()
            })?;
            Ok((records, store.stats()?.quarantined))
        })
        .await?;
    let rows = records
        .into_iter()
        .map(|q| QuarantineRow {
            id: q.id,
            source: q.record.source,
            format: q.record.format,
            line: q.record.position.line,
            offset: q.record.position.offset,
            reason: q.record.reason,
            bytes: q.record.raw_len,
            when: fmt_time(q.quarantined_at),
        })
        .collect();
    render(&QuarantinePage {
        chrome: Chrome::new(&p, "/quarantine", "Quarantine"),
        total,
        rows,
    })
}

// ---------------------------------------------------------------------------------------------
// Users

struct UserView {
    name: String,
    name_path: String,
    role: &'static str,
    role_id: &'static str,
    mfa: bool,
    locked: bool,
    state: &'static str,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    chrome: Chrome,
    users: Vec<UserView>,
    roles: Vec<(&'static str, &'static str)>,
    error: Option<String>,
    message: Option<String>,
}

fn role_choices() -> Vec<(&'static str, &'static str)> {
    Role::ALL.iter().map(|r| (r.as_str(), r.label())).collect()
}

async fn users_page(
    state: &ConsoleState,
    p: &Principal,
    error: Option<String>,
    message: Option<String>,
) -> PageResult {
    let now = state.now();
    let users = state
        .blocking(|store| Ok(store.accounts().list_users()?))
        .await?;
    let users = users
        .into_iter()
        .map(|u| {
            let role = Role::parse(&u.role);
            let locked = u.locked_until.is_some_and(|t| t > now);
            UserView {
                name_path: percent_encode(&u.name),
                role: role.map_or("unknown role", Role::label),
                role_id: role.map_or("", Role::as_str),
                mfa: u.totp_secret.is_some(),
                locked,
                state: if u.disabled {
                    "disabled"
                } else if locked {
                    "locked"
                } else {
                    "active"
                },
                name: u.name,
            }
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut response = render(&UsersPage {
        chrome: Chrome::new(p, "/users", "Users"),
        users,
        roles: role_choices(),
        error,
        message,
    })?;
    *response.status_mut() = status;
    Ok(response)
}

pub(crate) async fn users(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
) -> PageResult {
    users_page(&state, caller.principal()?, None, None).await
}

#[derive(Deserialize)]
pub(crate) struct NewUserForm {
    name: String,
    role: String,
    password: String,
}

/// User names: letters, digits and `._@-`, so they are safe in paths, logs and audit records.
pub(crate) fn valid_user_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'))
}

pub(crate) async fn user_create(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Form(form): Form<NewUserForm>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let name = form.name.trim().to_string();
    if !valid_user_name(&name) {
        return users_page(
            &state,
            &p,
            Some("User names are 1 to 64 letters, digits, or . _ @ -".into()),
            None,
        )
        .await;
    }
    let Some(role) = Role::parse(&form.role) else {
        return users_page(&state, &p, Some("Unknown role".into()), None).await;
    };
    if let Err(why) = password::check(&form.password, &name) {
        return users_page(&state, &p, Some(why.to_string()), None).await;
    }
    let now = state.now();
    let created = {
        let name = name.clone();
        state
            .blocking(move |store| {
                let record = UserRecord {
                    name,
                    role: role.as_str().into(),
                    password_hash: password::hash(&form.password),
                    totp_secret: None,
                    failed_logins: 0,
                    locked_until: None,
                    disabled: false,
                    created_at: now,
                };
                Ok(store.accounts().create_user(&record)?)
            })
            .await?
    };
    if !created {
        return users_page(&state, &p, Some("That user name is taken".into()), None).await;
    }
    audit::record(
        &state,
        vec![AuditRecord::account_change(
            &p.audit_name(),
            p.ip.clone(),
            "POST /users",
            (account_activity::CREATE, "Create"),
            &name,
            format!("created with role {}", role.as_str()),
        )],
    )
    .await?;
    users_page(&state, &p, None, Some(format!("Created {name}."))).await
}

#[derive(Deserialize)]
pub(crate) struct RoleForm {
    role: String,
}

/// Refuses a change that would leave Ward without an active admin.
fn keeps_an_admin(store: &dyn ward_store::Store, changed: &str) -> Result<(), ConsoleError> {
    let admins = store
        .accounts()
        .list_users()?
        .into_iter()
        .filter(|u| u.role == Role::Admin.as_str() && !u.disabled && u.name != changed)
        .count();
    if admins == 0 {
        return Err(ConsoleError::BadRequest(
            "Ward needs at least one admin".into(),
        ));
    }
    Ok(())
}

pub(crate) async fn user_role(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Form(form): Form<RoleForm>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let role =
        Role::parse(&form.role).ok_or_else(|| ConsoleError::BadRequest("unknown role".into()))?;
    let target = name.clone();
    state
        .blocking(move |store| {
            let user = store
                .accounts()
                .get_user(&target)?
                .ok_or(ConsoleError::NotFound)?;
            if user.role == Role::Admin.as_str() && role != Role::Admin {
                keeps_an_admin(store, &target)?;
            }
            store.accounts().update_user(
                &target,
                &UserChange {
                    role: Some(role.as_str().into()),
                    ..Default::default()
                },
            )?;
            // New privileges take effect at the next sign-in, with MFA if the role needs it.
            store.accounts().delete_user_sessions(&target)?;
            Ok(())
        })
        .await?;
    audit::record(
        &state,
        vec![AuditRecord::account_change(
            &p.audit_name(),
            p.ip.clone(),
            "POST /users/{name}/role",
            (account_activity::ATTACH_POLICY, "Attach Policy"),
            &name,
            format!("role set to {}", role.as_str()),
        )],
    )
    .await?;
    users_page(
        &state,
        &p,
        None,
        Some(format!("{name} is now {}.", role.label())),
    )
    .await
}

pub(crate) async fn user_mfa_reset(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let target = name.clone();
    let found = state
        .blocking(move |store| {
            let found = store.accounts().update_user(
                &target,
                &UserChange {
                    totp_secret: Some(None),
                    ..Default::default()
                },
            )?;
            store.accounts().delete_user_sessions(&target)?;
            Ok(found)
        })
        .await?;
    if !found {
        return Err(ConsoleError::NotFound);
    }
    audit::record(
        &state,
        vec![AuditRecord::account_change(
            &p.audit_name(),
            p.ip.clone(),
            "POST /users/{name}/mfa-reset",
            (account_activity::MFA_DISABLE, "MFA Factor Disable"),
            &name,
            "MFA reset; enrols again at next sign-in".into(),
        )],
    )
    .await?;
    users_page(&state, &p, None, Some(format!("MFA of {name} was reset."))).await
}

pub(crate) async fn user_unlock(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let target = name.clone();
    let found = state
        .blocking(move |store| {
            Ok(store.accounts().update_user(
                &target,
                &UserChange {
                    unlock: true,
                    ..Default::default()
                },
            )?)
        })
        .await?;
    if !found {
        return Err(ConsoleError::NotFound);
    }
    audit::record(
        &state,
        vec![AuditRecord::account_change(
            &p.audit_name(),
            p.ip.clone(),
            "POST /users/{name}/unlock",
            (account_activity::ENABLE, "Enable"),
            &name,
            "unlocked".into(),
        )],
    )
    .await?;
    users_page(&state, &p, None, Some(format!("{name} was unlocked."))).await
}

// ---------------------------------------------------------------------------------------------
// Audit trail

struct AuditRow {
    time: String,
    user: String,
    what: String,
    place: String,
    patient: String,
    target: String,
    outcome: String,
    ip: String,
    failed: bool,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    user: String,
    patient: String,
    rows: Vec<AuditRow>,
}

#[derive(Deserialize, Default)]
pub(crate) struct AuditFilter {
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub patient: Option<String>,
    #[serde(default)]
    pub since: Option<String>,
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub limit: Option<usize>,
}

pub(crate) const AUDIT_LIMIT: usize = 500;

impl AuditFilter {
    pub fn to_query(&self) -> Result<AuditQuery, ConsoleError> {
        let nonblank = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(String::from)
        };
        let since =
            match nonblank(&self.since) {
                Some(t) => Some(Timestamp::parse(&t).ok_or_else(|| {
                    ConsoleError::BadRequest("since must be a date or time".into())
                })?),
                None => None,
            };
        Ok(AuditQuery {
            since,
            user: nonblank(&self.user),
            patient: nonblank(&self.patient),
            limit: Some(self.limit.unwrap_or(AUDIT_LIMIT).min(AUDIT_LIMIT)),
            ..Default::default()
        })
    }
}

pub(crate) async fn audit(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Query(filter): Query<AuditFilter>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let query = filter.to_query()?;
    let events = state
        .blocking(move |store| Ok(store.accounts().audit_events(&query)?))
        .await?;
    let masker = masker(&state, &p);
    let mut shown = BTreeSet::new();
    let rows = events
        .into_iter()
        .map(|e| {
            let patient = e.patient.id.as_deref().map(|id| {
                if !masker.enabled {
                    shown.insert(id.to_string());
                }
                masker.patient_id(id)
            });
            AuditRow {
                time: fmt_time(e.time),
                user: e.actor.user.name.clone().unwrap_or_default(),
                what: format!(
                    "{} · {}",
                    e.class_name(),
                    e.activity_name.clone().unwrap_or_default()
                ),
                place: e.resource.id.clone().unwrap_or_default(),
                patient: patient.unwrap_or_default(),
                target: e
                    .unmapped
                    .get("target")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string(),
                outcome: match &e.status_detail {
                    Some(d) => format!("{}: {d}", e.status.as_str()),
                    None => e.status.as_str().to_string(),
                },
                ip: e.src_endpoint.ip.clone().unwrap_or_default(),
                failed: e.status == Status::Failure,
            }
        })
        .collect();
    record_phi_views(&state, &p, "GET /audit", shown).await?;
    render(&AuditPage {
        chrome: Chrome::new(&p, "/audit", "Audit trail"),
        user: filter.user.unwrap_or_default(),
        patient: filter.patient.unwrap_or_default(),
        rows,
    })
}

// ---------------------------------------------------------------------------------------------
// API tokens

struct TokenView {
    id: String,
    name: String,
    role: &'static str,
    created_by: String,
    expires: String,
    state: &'static str,
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    chrome: Chrome,
    tokens: Vec<TokenView>,
    roles: Vec<(&'static str, &'static str)>,
    new_token: Option<String>,
    error: Option<String>,
}

async fn tokens_page(
    state: &ConsoleState,
    p: &Principal,
    new_token: Option<String>,
    error: Option<String>,
) -> PageResult {
    let now = state.now();
    let tokens = state
        .blocking(|store| Ok(store.accounts().list_api_tokens()?))
        .await?;
    let tokens = tokens
        .into_iter()
        .map(|t| TokenView {
            role: Role::parse(&t.role).map_or("unknown role", Role::label),
            state: if t.revoked {
                "revoked"
            } else if t.expires_at <= now {
                "expired"
            } else {
                "active"
            },
            expires: fmt_time(t.expires_at),
            id: t.id,
            name: t.name,
            created_by: t.created_by,
        })
        .collect();
    let mut response = render(&TokensPage {
        chrome: Chrome::new(p, "/tokens", "API tokens"),
        tokens,
        roles: role_choices(),
        new_token,
        error: error.clone(),
    })?;
    if error.is_some() {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

pub(crate) async fn tokens(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
) -> PageResult {
    tokens_page(&state, caller.principal()?, None, None).await
}

#[derive(Deserialize)]
pub(crate) struct NewTokenForm {
    name: String,
    role: String,
    days: u32,
}

const MAX_TOKEN_DAYS: u32 = 365;

pub(crate) async fn token_create(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Form(form): Form<NewTokenForm>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let name = form.name.trim().to_string();
    let Some(role) = Role::parse(&form.role) else {
        return tokens_page(&state, &p, None, Some("Unknown role".into())).await;
    };
    if name.is_empty() || name.chars().count() > 100 || !(1..=MAX_TOKEN_DAYS).contains(&form.days) {
        return tokens_page(
            &state,
            &p,
            None,
            Some(format!(
                "Give a name (at most 100 characters) and 1 to {MAX_TOKEN_DAYS} days"
            )),
        )
        .await;
    }
    let token = format!("ward_{}", auth::random_token());
    let now = state.now();
    let record = ApiTokenRecord {
        id: auth::hex(&auth::random_bytes::<6>()),
        token_sha256: auth::sha256(&token),
        name,
        role: role.as_str().into(),
        created_by: p.user.clone(),
        created_at: now,
        expires_at: Timestamp(now.millis() + i64::from(form.days) * 86_400_000),
        revoked: false,
    };
    let id = record.id.clone();
    let created = state
        .blocking(move |store| Ok(store.accounts().create_api_token(&record)?))
        .await?;
    if !created {
        return Err(ConsoleError::Internal(
            "a random token id was already taken",
        ));
    }
    audit::record(
        &state,
        vec![AuditRecord::account_change(
            &p.audit_name(),
            p.ip.clone(),
            "POST /tokens",
            (account_activity::CREATE, "Create"),
            &format!("token:{id}"),
            format!(
                "API token with role {} for {} days",
                role.as_str(),
                form.days
            ),
        )],
    )
    .await?;
    tokens_page(&state, &p, Some(token), None).await
}

pub(crate) async fn token_revoke(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let target = id.clone();
    let found = state
        .blocking(move |store| Ok(store.accounts().revoke_api_token(&target)?))
        .await?;
    if !found {
        return Err(ConsoleError::NotFound);
    }
    audit::record(
        &state,
        vec![AuditRecord::account_change(
            &p.audit_name(),
            p.ip.clone(),
            "POST /tokens/{id}/revoke",
            (account_activity::OTHER, "Other"),
            &format!("token:{id}"),
            "revoked".into(),
        )],
    )
    .await?;
    Ok(see_other("/tokens"))
}

// ---------------------------------------------------------------------------------------------
// The client address, as an extractor

/// The client's address when the server knows it (see [`crate::ClientAddr`]).
pub(crate) struct ClientIp(pub Option<String>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        if let Some(crate::ClientAddr(ip)) = parts.extensions.get::<crate::ClientAddr>() {
            return Ok(ClientIp(Some(ip.to_string())));
        }
        Ok(ClientIp(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|axum::extract::ConnectInfo(a)| a.ip().to_string()),
        ))
    }
}
