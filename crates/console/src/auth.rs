//! Who is calling: session cookies and API bearer tokens resolved to a [`Principal`], random
//! tokens, their SHA-256 (all the store keeps), CSRF tokens derived from the session, and the
//! cookies themselves.
//!
//! Must never log or return a token, and never compare secrets in time that depends on where
//! they differ.

use crate::roles::Role;
use crate::{ConsoleError, ConsoleOptions};
use axum::http::{HeaderMap, HeaderValue, header};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use ward_model::Timestamp;
use ward_store::{SessionStage, Store};

/// A session's idle clock is written back at most this often, not on every request.
const TOUCH_EVERY_MS: i64 = 10_000;

pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The operating system's generator failing is not something to carry on from.
    getrandom::fill(&mut bytes).expect("the operating system's random generator works");
    bytes
}

/// 256 random bits as 64 hex digits: session, API and setup tokens.
pub(crate) fn random_token() -> String {
    hex(&random_bytes::<32>())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

pub(crate) fn sha256(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// Equality that looks at every byte whatever the first difference.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// HMAC-SHA256 of `parts` under the server secret, as hex.
pub(crate) fn keyed(secret: &[u8; 32], parts: &[&[u8]]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key");
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    hex(&mac.finalize().into_bytes())
}

/// The CSRF token of a session: bound to it, so a token from another session is useless.
pub(crate) fn session_csrf(secret: &[u8; 32], token_sha256: &[u8; 32]) -> String {
    keyed(secret, &[b"csrf-session", token_sha256])
}

/// The CSRF token for forms shown before sign-in (sign-in, setup), bound to a random
/// pre-session cookie: a page elsewhere cannot sign a browser in to an account of its choosing.
pub(crate) fn pre_session_csrf(secret: &[u8; 32], pre_cookie: &str) -> String {
    keyed(secret, &[b"csrf-pre", pre_cookie.as_bytes()])
}

pub(crate) fn session_cookie_name(options: &ConsoleOptions) -> &'static str {
    if options.secure_cookies {
        "__Host-ward_session"
    } else {
        "ward_session"
    }
}

pub(crate) fn pre_cookie_name(options: &ConsoleOptions) -> &'static str {
    if options.secure_cookies {
        "__Host-ward_pre"
    } else {
        "ward_pre"
    }
}

/// A `Set-Cookie` value: host-only, whole site, not readable by scripts, never sent on a
/// request that another site starts; `Secure` unless serving plain HTTP on loopback. No
/// `Max-Age`: the browser forgets it on closing, and the server enforces the timeouts.
pub(crate) fn set_cookie(options: &ConsoleOptions, name: &str, value: &str) -> HeaderValue {
    let secure = if options.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict{secure}"
    ))
    .expect("cookie names and hex tokens are valid header text")
}

pub(crate) fn clear_cookie(options: &ConsoleOptions, name: &str) -> HeaderValue {
    let secure = if options.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"
    ))
    .expect("valid header text")
}

/// The value of cookie `name` in the request, if sent.
pub(crate) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// How the caller proved who they are.
#[derive(Debug, Clone)]
pub(crate) enum Via {
    Session {
        token_sha256: [u8; 32],
        stage: SessionStage,
        csrf: String,
    },
    ApiToken {
        id: String,
    },
}

/// The signed-in caller.
#[derive(Debug, Clone)]
pub(crate) struct Principal {
    pub user: String,
    pub role: Role,
    pub via: Via,
    pub ip: Option<String>,
}

impl Principal {
    pub fn stage(&self) -> SessionStage {
        match &self.via {
            Via::Session { stage, .. } => *stage,
            Via::ApiToken { .. } => SessionStage::Full,
        }
    }

    pub fn csrf(&self) -> &str {
        match &self.via {
            Via::Session { csrf, .. } => csrf,
            Via::ApiToken { .. } => "",
        }
    }

    /// How the audit trail names the caller: the user, or the token acting for its creator.
    pub fn audit_name(&self) -> String {
        match &self.via {
            Via::Session { .. } => self.user.clone(),
            Via::ApiToken { id } => format!("token:{id}"),
        }
    }
}

/// What [`resolve`] found.
pub(crate) struct Resolved {
    pub principal: Option<Principal>,
    /// A session cookie was sent but names no live session (expired, signed out): clear it.
    pub stale_cookie: bool,
}

/// Resolves the caller from a bearer token or the session cookie. Expired sessions are
/// deleted here, so the idle and absolute timeouts hold whatever route is asked for.
pub(crate) fn resolve(
    store: &dyn Store,
    options: &ConsoleOptions,
    secret: &[u8; 32],
    headers: &HeaderMap,
    now: Timestamp,
    ip: Option<String>,
) -> Result<Resolved, ConsoleError> {
    let accounts = store.accounts();
    if let Some(token) = bearer(headers) {
        let Some(record) = accounts.get_api_token(&sha256(token))? else {
            return Err(ConsoleError::Unauthenticated);
        };
        let role = Role::parse(&record.role).ok_or(ConsoleError::Unauthenticated)?;
        if record.revoked || record.expires_at <= now {
            return Err(ConsoleError::Unauthenticated);
        }
        return Ok(Resolved {
            principal: Some(Principal {
                user: record.created_by,
                role,
                via: Via::ApiToken { id: record.id },
                ip,
            }),
            stale_cookie: false,
        });
    }
    let Some(token) = cookie(headers, session_cookie_name(options)) else {
        return Ok(Resolved {
            principal: None,
            stale_cookie: false,
        });
    };
    let hash = sha256(token);
    let stale = Resolved {
        principal: None,
        stale_cookie: true,
    };
    let Some(session) = accounts.get_session(&hash)? else {
        return Ok(stale);
    };
    let idle = millis(options.idle_timeout);
    let absolute = millis(options.absolute_timeout);
    if now.millis() - session.last_seen.millis() > idle
        || now.millis() - session.created_at.millis() > absolute
    {
        accounts.delete_session(&hash)?;
        return Ok(stale);
    }
    let user = accounts.get_user(&session.user)?;
    let Some(user) = user.filter(|u| !u.disabled) else {
        accounts.delete_session(&hash)?;
        return Ok(stale);
    };
    let Some(role) = Role::parse(&user.role) else {
        return Ok(stale);
    };
    if now.millis() - session.last_seen.millis() >= TOUCH_EVERY_MS {
        accounts.touch_session(&hash, now, None)?;
    }
    Ok(Resolved {
        principal: Some(Principal {
            user: user.name,
            role,
            via: Via::Session {
                token_sha256: hash,
                stage: session.stage,
                csrf: session_csrf(secret, &hash),
            },
            ip,
        }),
        stale_cookie: false,
    })
}

pub(crate) fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
