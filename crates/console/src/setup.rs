//! First run and the demo: a one-time setup token that lets whoever holds it create the first
//! admin (printed by `ward serve` when no user exists), and demo users, one per role, for
//! `ward serve --demo`.

use crate::audit::{self, AuditRecord, account_activity};
use crate::pages::{ClientIp, valid_user_name};
use crate::roles::Role;
use crate::{ConsoleError, ConsoleState, auth, password, totp};
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use ward_store::{Store, StoreError, UserChange, UserRecord};

/// Creates a new one-time setup token when Ward has no user yet and returns it (to print as
/// `https://HOST/setup?token=…`); `None` once a user exists. Each call replaces the previous
/// token, so only the last one printed works.
pub fn first_run_setup_token(store: &dyn Store) -> Result<Option<String>, StoreError> {
    let accounts = store.accounts();
    if accounts.count_users()? > 0 {
        accounts.set_setup_token(None)?;
        return Ok(None);
    }
    let token = auth::random_token();
    accounts.set_setup_token(Some(&auth::sha256(&token)))?;
    Ok(Some(token))
}

/// A demo user's credentials, for `ward serve --demo` to print.
#[derive(Debug, Clone)]
pub struct DemoUser {
    pub name: String,
    pub role: Role,
    pub password: String,
    /// The TOTP key in base32, for users with MFA enrolled (the admin).
    pub totp_secret: Option<String>,
}

/// Creates (or resets, when they exist) one demo user per role with fresh random passwords;
/// the admin has MFA enrolled, as admins must.
pub fn create_demo_users(store: &dyn Store) -> Result<Vec<DemoUser>, StoreError> {
    let accounts = store.accounts();
    let mut created = Vec::new();
    for (name, role) in [
        ("admin", Role::Admin),
        ("analyst", Role::SecurityAnalyst),
        ("privacy", Role::PrivacyOfficer),
        ("auditor", Role::ComplianceAuditor),
        ("soc", Role::SocPartner),
    ] {
        let password = format!("demo-{}", &auth::random_token()[..20]);
        let secret = role
            .requires_mfa()
            .then(|| auth::random_bytes::<{ totp::SECRET_BYTES }>().to_vec());
        let hash = password::hash(&password);
        let record = UserRecord {
            name: name.into(),
            role: role.as_str().into(),
            password_hash: hash.clone(),
            totp_secret: secret.clone(),
            failed_logins: 0,
            locked_until: None,
            disabled: false,
            created_at: ward_model::Timestamp::now(),
        };
        if !accounts.create_user(&record)? {
            accounts.update_user(
                name,
                &UserChange {
                    role: Some(role.as_str().into()),
                    password_hash: Some(hash),
                    totp_secret: Some(secret.clone()),
                    disabled: Some(false),
                    unlock: true,
                },
            )?;
            accounts.delete_user_sessions(name)?;
        }
        created.push(DemoUser {
            name: name.into(),
            role,
            password,
            totp_secret: secret.map(|s| totp::base32_encode(&s)),
        });
    }
    accounts.set_setup_token(None)?;
    Ok(created)
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    title: &'static str,
    csrf: String,
    token: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct SetupQuery {
    #[serde(default)]
    token: String,
}

async fn setup_open(state: &ConsoleState) -> Result<bool, ConsoleError> {
    state
        .blocking(|store| {
            let accounts = store.accounts();
            Ok(accounts.count_users()? == 0 && accounts.setup_token_pending()?)
        })
        .await
}

fn setup_page(
    state: &ConsoleState,
    headers: &HeaderMap,
    token: String,
    error: Option<String>,
) -> Result<Response, ConsoleError> {
    let name = auth::pre_cookie_name(state.options());
    let (pre, set) = match auth::cookie(headers, name) {
        Some(v) if v.len() == 64 => (v.to_string(), None),
        _ => {
            let v = auth::random_token();
            let cookie = auth::set_cookie(state.options(), name, &v);
            (v, Some(cookie))
        }
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let html = SetupPage {
        title: "Setup",
        csrf: auth::pre_session_csrf(state.secret(), &pre),
        token,
        error,
    }
    .render()
    .map_err(|_| ConsoleError::Internal("the setup page failed to render"))?;
    let mut response = (status, Html(html)).into_response();
    if let Some(cookie) = set {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

pub(crate) async fn form(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Query(query): Query<SetupQuery>,
) -> Result<Response, ConsoleError> {
    if !setup_open(&state).await? {
        return Err(ConsoleError::NotFound);
    }
    setup_page(&state, &headers, query.token, None)
}

#[derive(Deserialize)]
pub(crate) struct SetupForm {
    token: String,
    name: String,
    password: String,
}

pub(crate) async fn submit(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    ip: ClientIp,
    Form(form): Form<SetupForm>,
) -> Result<Response, ConsoleError> {
    if !setup_open(&state).await? {
        return Err(ConsoleError::NotFound);
    }
    let name = form.name.trim().to_string();
    if !valid_user_name(&name) {
        let why = "User names are 1 to 64 letters, digits, or . _ @ -".to_string();
        return setup_page(&state, &headers, form.token, Some(why));
    }
    if let Err(why) = password::check(&form.password, &name) {
        return setup_page(&state, &headers, form.token, Some(why.to_string()));
    }
    let now = state.now();
    let token_hash = auth::sha256(form.token.trim());
    let admin = name.clone();
    let created = state
        .blocking(move |store| {
            let accounts = store.accounts();
            // Hash first (slow), then consume the token and create the user.
            let hash = password::hash(&form.password);
            if !accounts.consume_setup_token(&token_hash)? {
                return Ok(false);
            }
            Ok(accounts.create_user(&UserRecord {
                name: admin,
                role: Role::Admin.as_str().into(),
                password_hash: hash,
                totp_secret: None,
                failed_logins: 0,
                locked_until: None,
                disabled: false,
                created_at: now,
            })?)
        })
        .await?;
    if !created {
        audit::record(
            &state,
            vec![AuditRecord::sign_in(
                &name,
                ip.0,
                false,
                "first-run setup with a wrong token",
            )],
        )
        .await?;
        return Err(ConsoleError::Forbidden);
    }
    audit::record(
        &state,
        vec![AuditRecord::account_change(
            &name,
            ip.0,
            "POST /setup",
            (account_activity::CREATE, "Create"),
            &name,
            "first admin created with the setup token".into(),
        )],
    )
    .await?;
    Ok(Redirect::to("/login").into_response())
}
