//! The console end to end: the router driven request by request (`tower::ServiceExt::oneshot`)
//! over a real SQLite store in a temporary directory, with a hand-moved clock.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use tower::ServiceExt;
use ward_console::routes::{ROUTES, RouteMethod};
use ward_console::{
    ClientAddr, ConsoleOptions, ConsoleState, DemoUser, Permission, Role, RuleInfo,
    create_demo_users, first_run_setup_token, totp,
};
use ward_model::event::class;
use ward_model::{Alert, AlertEntities, AlertStatus, Event, EventId, Severity, Timestamp};
use ward_store::{AuditQuery, Batch, SessionRecord, SessionStage, SqliteStore, Store};

/// 2026-11-28T00:00:00Z, where every test's clock starts.
const T0: i64 = 1_795_824_000_000;
const PATIENT_ID: &str = "pt-1001";
const PATIENT_NAME: &str = "Jane Roe";

struct Harness {
    _dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    router: Router,
    clock: Arc<AtomicI64>,
    users: Vec<DemoUser>,
}

fn harness_with(change: impl FnOnce(&mut ConsoleOptions)) -> Harness {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = Arc::new(SqliteStore::open(dir.path()).expect("the store opens"));
    let clock = Arc::new(AtomicI64::new(T0));
    let ticks = Arc::clone(&clock);
    let mut options = ConsoleOptions {
        clock: Arc::new(move || Timestamp(ticks.load(Ordering::SeqCst))),
        ..ConsoleOptions::default()
    };
    change(&mut options);
    let users = create_demo_users(store.as_ref()).expect("demo users");
    seed(store.as_ref());
    let router = ward_console::router(ConsoleState::new(store.clone(), options));
    Harness {
        _dir: dir,
        store,
        router,
        clock,
        users,
    }
}

fn harness() -> Harness {
    harness_with(|_| {})
}

/// Two EHR events reading a patient's chart, and an alert about them.
fn seed(store: &dyn Store) {
    let events: Vec<Event> = (0..2)
        .map(|n| {
            let time = Timestamp(T0 - 3_600_000 + n * 1000);
            let raw = format!(
                r#"{{"resourceType":"AuditEvent","id":"ae{n}","patient":"{PATIENT_NAME}"}}"#
            );
            let mut e = Event::from_record("fhir", time, raw.into_bytes());
            e.class_uid = class::API_ACTIVITY;
            e.activity_id = 2;
            e.activity_name = Some("Read".into());
            e.metadata.log_name = "ehr-audit.ndjson".into();
            e.actor.user.name = Some("jdoe".into());
            e.src_endpoint.ip = Some("10.1.2.3".into());
            e.device.hostname = Some("ehr-ws-12".into());
            e.patient.id = Some(PATIENT_ID.into());
            e.patient.name = Some(PATIENT_NAME.into());
            e.resource.r#type = Some("Patient".into());
            e.resource.id = Some(format!("Patient/{PATIENT_ID}"));
            e.message = Some(format!("chart of {PATIENT_NAME} opened"));
            e
        })
        .collect();
    let ids: Vec<EventId> = events.iter().map(|e| e.id).collect();
    store
        .commit(&Batch {
            events,
            ..Default::default()
        })
        .unwrap();
    let alert = Alert {
        id: "a1".into(),
        rule_id: "ward.snooping.same_surname".into(),
        title: "Record of a patient with the user's surname opened".into(),
        severity: Severity::High,
        first_seen: Timestamp(T0 - 3_600_000),
        last_seen: Timestamp(T0 - 3_599_000),
        count: 2,
        entities: AlertEntities {
            user: Some("jdoe".into()),
            patient: Some(PATIENT_ID.into()),
            ..Default::default()
        },
        attack: vec!["T1078".into()],
        hipaa: vec!["164.308(a)(1)(ii)(D)".into()],
        status: AlertStatus::Open,
        author: Some("Ward".into()),
        license: Some("DRL-1.1".into()),
        references: vec![],
        description: Some(
            "The user opened the chart of a patient who shares their surname.".into(),
        ),
    };
    store.upsert_alert(&alert, &ids).unwrap();
}

/// A browser's state: cookies it holds and the CSRF token its last page carried.
#[derive(Clone, Default)]
struct Browser {
    cookies: Vec<(String, String)>,
    csrf: String,
}

impl Browser {
    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn absorb(&mut self, response: &Response<Body>) {
        for value in response.headers().get_all(header::SET_COOKIE) {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            self.cookies.retain(|(name, _)| name != k);
            if !v.is_empty() && !text.contains("Max-Age=0") {
                self.cookies.push((k.to_string(), v.to_string()));
            }
        }
    }

    fn session(&self) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(k, _)| k.contains("ward_session"))
            .map(|(_, v)| v.as_str())
    }
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Answer {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

fn csrf_in(html: &str) -> Option<String> {
    let at = html.find(r#"name="csrf" value=""#)? + r#"name="csrf" value=""#.len();
    Some(html[at..].split('"').next()?.to_string())
}

impl Harness {
    fn user(&self, role: Role) -> &DemoUser {
        self.users.iter().find(|u| u.role == role).unwrap()
    }

    fn advance(&self, by: Duration) {
        self.clock
            .fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }

    fn now(&self) -> Timestamp {
        Timestamp(self.clock.load(Ordering::SeqCst))
    }

    async fn send(&self, browser: &mut Browser, request: Request<Body>) -> Answer {
        let mut request = request;
        if !browser.cookies.is_empty() {
            request
                .headers_mut()
                .insert(header::COOKIE, browser.cookie_header().parse().unwrap());
        }
        request
            .extensions_mut()
            .insert(ClientAddr(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7))));
        let response = self.router.clone().oneshot(request).await.unwrap();
        browser.absorb(&response);
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = String::from_utf8_lossy(&bytes).into_owned();
        if let Some(csrf) = csrf_in(&body) {
            browser.csrf = csrf;
        }
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, browser: &mut Browser, path: &str) -> Answer {
        let request = Request::get(path).body(Body::empty()).unwrap();
        self.send(browser, request).await
    }

    /// Posts a form, with the browser's CSRF token unless `fields` gives one.
    async fn post(&self, browser: &mut Browser, path: &str, fields: &[(&str, &str)]) -> Answer {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        let csrf = browser.csrf.clone();
        if !fields.iter().any(|(k, _)| *k == "csrf") {
            all.push(("csrf", &csrf));
        }
        let body = serde_urlencoded::to_string(&all).unwrap();
        let request = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        self.send(browser, request).await
    }

    /// Signs in through the forms: password, then TOTP when the user has it.
    async fn sign_in(&self, role: Role) -> Browser {
        let user = self.user(role).clone();
        let mut browser = Browser::default();
        self.get(&mut browser, "/login").await;
        let answer = self
            .post(
                &mut browser,
                "/login",
                &[("name", &user.name), ("password", &user.password)],
            )
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        if let Some(secret) = &user.totp_secret {
            assert_eq!(answer.location(), "/login/mfa");
            self.get(&mut browser, "/login/mfa").await;
            let secret = totp::base32_decode(secret).unwrap();
            let code = totp::code_at(&secret, self.now().millis() / 1000);
            let answer = self
                .post(&mut browser, "/login/mfa", &[("code", &code)])
                .await;
            assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        }
        let page = self.get(&mut browser, "/alerts").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        browser
    }

    /// A full session made directly in the store (for walking many routes quickly).
    async fn session_for(&self, role: Role) -> Browser {
        let token = format!("{:064x}", role as u8 as u128 + 1000);
        let hash: [u8; 32] = {
            use sha2::Digest;
            sha2::Sha256::digest(token.as_bytes()).into()
        };
        self.store
            .accounts()
            .create_session(&SessionRecord {
                token_sha256: hash,
                user: self.user(role).name.clone(),
                stage: SessionStage::Full,
                created_at: self.now(),
                last_seen: self.now(),
                ip: None,
            })
            .unwrap();
        let mut browser = Browser {
            cookies: vec![("__Host-ward_session".into(), token)],
            csrf: String::new(),
        };
        let page = self.get(&mut browser, "/account/mfa").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(!browser.csrf.is_empty());
        browser
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------

#[test]
fn every_route_allows_exactly_the_roles_the_table_grants() {
    rt().block_on(async {
        let h = harness();
        let mut sessions: Vec<(Option<Role>, Browser)> = vec![(None, Browser::default())];
        for role in Role::ALL {
            sessions.push((Some(role), h.session_for(role).await));
        }
        let mut checked = 0;
        for spec in ROUTES {
            let path = spec
                .path
                .replace("{id}", "a1")
                .replace("{kind}", "user")
                .replace("{value}", "jdoe")
                .replace("{name}", "walked");
            for (role, browser) in &mut sessions {
                // Sign-out ends the session the walk goes on using: it is checked last.
                if spec.path == "/logout" {
                    continue;
                }
                let allowed = match role {
                    None => spec.permission == Permission::Public,
                    Some(_) if spec.permission == Permission::MfaStep => false,
                    Some(r) => r.allows(spec.permission),
                };
                let answer = match spec.method {
                    RouteMethod::Get => h.get(browser, &path).await,
                    RouteMethod::Post if spec.api => {
                        let request = Request::builder()
                            .method(Method::POST)
                            .uri(&path)
                            .header(header::CONTENT_TYPE, "application/json")
                            .header("x-csrf-token", browser.csrf.clone())
                            .body(Body::from(r#"{"status":"acknowledged","assignee":null}"#))
                            .unwrap();
                        h.send(browser, request).await
                    }
                    RouteMethod::Post => {
                        h.post(
                            browser,
                            &path,
                            &[
                                ("status", "acknowledged"),
                                ("assignee", ""),
                                ("reason", "walk"),
                                ("role", "security_analyst"),
                                ("name", "walked"),
                                ("password", "not the password"),
                                ("days", "1"),
                                ("code", "000000"),
                            ],
                        )
                        .await
                    }
                };
                let denied = answer.status == StatusCode::FORBIDDEN
                    || answer.status == StatusCode::UNAUTHORIZED && spec.api
                    || answer.status == StatusCode::SEE_OTHER
                        && answer.location().starts_with("/login")
                        && !matches!(spec.path, "/login" | "/setup");
                assert_eq!(
                    !denied,
                    allowed,
                    "{} {} as {role:?}: {} {}",
                    spec.method.as_str(),
                    spec.path,
                    answer.status,
                    answer.location()
                );
                if let Some(csrf) = csrf_in(&answer.body) {
                    browser.csrf = csrf;
                }
                checked += 1;
            }
        }
        assert!(checked > 200, "{checked}");
        // Sign-out: any session may, and afterwards the session is gone.
        for (role, browser) in &mut sessions {
            let answer = h.post(browser, "/logout", &[]).await;
            assert_eq!(answer.status, StatusCode::SEE_OTHER);
            assert_eq!(answer.location(), "/login");
            if role.is_some() {
                assert!(browser.session().is_none(), "cookie cleared for {role:?}");
            }
        }
    });
}

#[test]
fn sign_in_needs_the_password_and_then_a_fresh_totp_code() {
    rt().block_on(async {
        let h = harness();
        let admin = h.user(Role::Admin).clone();
        let secret = totp::base32_decode(admin.totp_secret.as_deref().unwrap()).unwrap();
        let mut b = Browser::default();
        h.get(&mut b, "/login").await;
        let answer = h
            .post(
                &mut b,
                "/login",
                &[("name", "admin"), ("password", &admin.password)],
            )
            .await;
        assert_eq!(answer.location(), "/login/mfa");
        let half = b.session().unwrap().to_string();
        // Half signed in: nothing but the code form.
        let page = h.get(&mut b, "/overview").await;
        assert_eq!(page.location(), "/login");
        h.get(&mut b, "/login/mfa").await;
        let wrong = h.post(&mut b, "/login/mfa", &[("code", "123456")]).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        let code = totp::code_at(&secret, h.now().millis() / 1000);
        let right = h.post(&mut b, "/login/mfa", &[("code", &code)]).await;
        assert_eq!(right.status, StatusCode::SEE_OTHER);
        let full = b.session().unwrap().to_string();
        assert_ne!(
            half, full,
            "the session token is rotated when MFA completes"
        );
        assert_eq!(h.get(&mut b, "/overview").await.status, StatusCode::OK);
        // The half-way token is dead.
        let mut old = Browser {
            cookies: vec![("__Host-ward_session".into(), half)],
            ..Default::default()
        };
        assert_eq!(h.get(&mut old, "/overview").await.location(), "/login");

        // The same code cannot sign in twice.
        let mut again = Browser::default();
        h.get(&mut again, "/login").await;
        h.post(
            &mut again,
            "/login",
            &[("name", "admin"), ("password", &admin.password)],
        )
        .await;
        h.get(&mut again, "/login/mfa").await;
        let replay = h.post(&mut again, "/login/mfa", &[("code", &code)]).await;
        assert_eq!(replay.status, StatusCode::UNAUTHORIZED);

        let trail = h
            .store
            .accounts()
            .audit_events(&AuditQuery {
                user: Some("admin".into()),
                ..Default::default()
            })
            .unwrap();
        let outcomes: Vec<(u32, String)> = trail
            .iter()
            .map(|e| (e.class_uid, e.status.as_str().to_string()))
            .collect();
        assert!(
            outcomes.contains(&(class::AUTHENTICATION, "success".into())),
            "{outcomes:?}"
        );
        assert!(
            outcomes.contains(&(class::AUTHENTICATION, "failure".into())),
            "{outcomes:?}"
        );
    });
}

#[test]
fn an_admin_without_mfa_must_enrol_by_qr_code_before_anything_else() {
    rt().block_on(async {
        let h = harness();
        // A fresh admin without MFA.
        let mut admin = h.sign_in(Role::Admin).await;
        let created = h
            .post(
                &mut admin,
                "/users",
                &[
                    ("name", "newadmin"),
                    ("role", "admin"),
                    ("password", "a long enough passphrase"),
                ],
            )
            .await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.body);
        let mut b = Browser::default();
        h.get(&mut b, "/login").await;
        let answer = h
            .post(
                &mut b,
                "/login",
                &[
                    ("name", "newadmin"),
                    ("password", "a long enough passphrase"),
                ],
            )
            .await;
        assert_eq!(answer.location(), "/account/mfa");
        assert_eq!(h.get(&mut b, "/alerts").await.location(), "/login");
        let page = h.get(&mut b, "/account/mfa").await;
        assert!(page.body.contains("<svg"), "a QR code is drawn inline");
        assert!(
            !page.body.contains("style="),
            "no inline styles for the CSP to block"
        );
        let secret = page
            .body
            .split(r#"name="secret" value=""#)
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string();
        let proof = page
            .body
            .split(r#"name="proof" value=""#)
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string();
        let key = totp::base32_decode(&secret).unwrap();
        // A tampered key is refused.
        let forged = h
            .post(
                &mut b,
                "/account/mfa",
                &[
                    ("secret", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                    ("proof", &proof),
                    ("code", "000000"),
                ],
            )
            .await;
        assert_eq!(forged.status, StatusCode::BAD_REQUEST);
        let code = totp::code_at(&key, h.now().millis() / 1000);
        let done = h
            .post(
                &mut b,
                "/account/mfa",
                &[("secret", &secret), ("proof", &proof), ("code", &code)],
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        assert_eq!(h.get(&mut b, "/users").await.status, StatusCode::OK);
        let stored = h.store.accounts().get_user("newadmin").unwrap().unwrap();
        assert_eq!(stored.totp_secret, Some(key));
    });
}

#[test]
fn state_changes_without_the_sessions_csrf_token_are_refused() {
    rt().block_on(async {
        let h = harness();
        let mut analyst = h.sign_in(Role::SecurityAnalyst).await;
        let other = h.sign_in(Role::PrivacyOfficer).await;
        for csrf in ["", "0000", other.csrf.as_str()] {
            let answer = h
                .post(
                    &mut analyst,
                    "/alerts/a1/status",
                    &[("status", "acknowledged"), ("csrf", csrf)],
                )
                .await;
            assert_eq!(answer.status, StatusCode::FORBIDDEN, "csrf {csrf:?}");
        }
        assert_eq!(
            h.store.get_alert("a1").unwrap().unwrap().status,
            AlertStatus::Open
        );
        // JSON with the cookie but without the header.
        let request = Request::post("/api/v1/alerts/a1/status")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"status":"acknowledged"}"#))
            .unwrap();
        let answer = h.send(&mut analyst, request).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
        assert_eq!(answer.json()["error"], "csrf");
        assert_eq!(
            h.store.get_alert("a1").unwrap().unwrap().status,
            AlertStatus::Open
        );
        // With the token: done, and recorded.
        let answer = h
            .post(
                &mut analyst,
                "/alerts/a1/status",
                &[("status", "acknowledged")],
            )
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER);
        assert_eq!(
            h.store.get_alert("a1").unwrap().unwrap().status,
            AlertStatus::Acknowledged
        );
        let answer = h
            .post(&mut analyst, "/alerts/a1/close", &[("reason", "  ")])
            .await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "closing needs a reason"
        );
        let answer = h
            .post(
                &mut analyst,
                "/alerts/a1/close",
                &[("reason", "covering colleague's shift")],
            )
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER);
        let workflow = h.store.alert_workflow("a1").unwrap().unwrap();
        assert_eq!(
            workflow.close_reason.as_deref(),
            Some("covering colleague's shift")
        );
        let changes = h
            .store
            .accounts()
            .audit_events(&AuditQuery {
                user: Some("analyst".into()),
                ..Default::default()
            })
            .unwrap();
        assert!(
            changes
                .iter()
                .any(|e| e.status_detail.as_deref() == Some("closed: covering colleague's shift"))
        );
        // A sign-in form posted from elsewhere (no pre-session cookie) is refused too.
        let mut stranger = Browser::default();
        let answer = h
            .post(
                &mut stranger,
                "/login",
                &[("name", "analyst"), ("password", "x"), ("csrf", "forged")],
            )
            .await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
    });
}

#[test]
fn api_tokens_work_without_csrf_and_stop_at_expiry_or_revocation() {
    rt().block_on(async {
        let h = harness();
        let mut admin = h.sign_in(Role::Admin).await;
        let page = h
            .post(
                &mut admin,
                "/tokens",
                &[("name", "MDR feed"), ("role", "soc_partner"), ("days", "1")],
            )
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let token = page
            .body
            .split("<code class=\"secret\">")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .to_string();
        assert!(token.starts_with("ward_"));
        let stored = h.store.accounts().list_api_tokens().unwrap();
        assert_eq!(stored.len(), 1);
        assert!(!page.body.contains(&format!("{:?}", stored[0].token_sha256)));
        let call = |method: Method, path: &str, body: &str| {
            Request::builder()
                .method(method)
                .uri(path)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap()
        };
        let mut machine = Browser::default();
        let alerts = h
            .send(&mut machine, call(Method::GET, "/api/v1/alerts", ""))
            .await;
        assert_eq!(alerts.status, StatusCode::OK);
        assert_eq!(alerts.json()["alerts"][0]["id"], "a1");
        // Scoped to its role: a SOC partner token cannot search events.
        let events = h
            .send(
                &mut machine,
                call(Method::GET, "/api/v1/events?user=jdoe", ""),
            )
            .await;
        assert_eq!(events.status, StatusCode::FORBIDDEN);
        let ack = h
            .send(
                &mut machine,
                call(
                    Method::POST,
                    "/api/v1/alerts/a1/status",
                    r#"{"status":"acknowledged"}"#,
                ),
            )
            .await;
        assert_eq!(ack.status, StatusCode::OK, "{}", ack.body);
        h.advance(Duration::from_secs(86_401));
        let expired = h
            .send(&mut machine, call(Method::GET, "/api/v1/alerts", ""))
            .await;
        assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
        assert_eq!(expired.json()["error"], "unauthenticated");
        let mut nobody = Browser::default();
        let wrong = Request::get("/api/v1/alerts")
            .header(header::AUTHORIZATION, "Bearer ward_not_a_token")
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            h.send(&mut nobody, wrong).await.status,
            StatusCode::UNAUTHORIZED
        );
    });
}

#[test]
fn repeated_wrong_passwords_lock_the_account_until_the_lock_expires() {
    rt().block_on(async {
        let h = harness();
        let analyst = h.user(Role::SecurityAnalyst).clone();
        let mut b = Browser::default();
        h.get(&mut b, "/login").await;
        for _ in 0..5 {
            let answer = h
                .post(
                    &mut b,
                    "/login",
                    &[("name", "analyst"), ("password", "wrong password 123")],
                )
                .await;
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        }
        let user = h.store.accounts().get_user("analyst").unwrap().unwrap();
        assert!(user.locked_until.is_some_and(|t| t > h.now()));
        // Even the right password is refused while locked, with the same message.
        let answer = h
            .post(
                &mut b,
                "/login",
                &[("name", "analyst"), ("password", &analyst.password)],
            )
            .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert!(b.session().is_none());
        h.advance(Duration::from_secs(15 * 60 + 1));
        let answer = h
            .post(
                &mut b,
                "/login",
                &[("name", "analyst"), ("password", &analyst.password)],
            )
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER);
        assert!(b.session().is_some());
        let failures = h
            .store
            .accounts()
            .audit_events(&AuditQuery {
                user: Some("analyst".into()),
                ..Default::default()
            })
            .unwrap()
            .into_iter()
            .filter(|e| {
                e.class_uid == class::AUTHENTICATION && e.status == ward_model::Status::Failure
            })
            .count();
        assert_eq!(failures, 6);
    });
}

#[test]
fn too_many_failures_from_one_address_are_throttled() {
    rt().block_on(async {
        let h = harness_with(|o| o.throttle_per_client = 3);
        let mut b = Browser::default();
        h.get(&mut b, "/login").await;
        for name in ["a", "b", "c"] {
            let answer = h
                .post(
                    &mut b,
                    "/login",
                    &[("name", name), ("password", "whatever it is")],
                )
                .await;
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        }
        let soc = h.user(Role::SocPartner).clone();
        let answer = h
            .post(
                &mut b,
                "/login",
                &[("name", "soc"), ("password", &soc.password)],
            )
            .await;
        assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
        h.advance(Duration::from_secs(15 * 60 + 1));
        let answer = h
            .post(
                &mut b,
                "/login",
                &[("name", "soc"), ("password", &soc.password)],
            )
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER);
    });
}

#[test]
fn sessions_end_after_the_idle_and_the_absolute_timeout() {
    rt().block_on(async {
        let h = harness();
        let mut b = h.sign_in(Role::SecurityAnalyst).await;
        h.advance(Duration::from_secs(14 * 60));
        assert_eq!(h.get(&mut b, "/alerts").await.status, StatusCode::OK);
        h.advance(Duration::from_secs(15 * 60 + 1));
        let answer = h.get(&mut b, "/alerts").await;
        assert_eq!(answer.location(), "/login");
        assert!(b.session().is_none(), "the stale cookie is cleared");

        // Busy all day: still signed out after 8 hours.
        let mut b = h.sign_in(Role::SecurityAnalyst).await;
        for _ in 0..(8 * 6) {
            h.advance(Duration::from_secs(10 * 60));
            let answer = h.get(&mut b, "/alerts").await;
            assert_eq!(answer.status, StatusCode::OK);
        }
        h.advance(Duration::from_secs(60));
        assert_eq!(h.get(&mut b, "/alerts").await.location(), "/login");
    });
}

#[test]
fn patient_identities_are_masked_for_soc_partner_and_auditor_and_shown_to_the_privacy_officer() {
    rt().block_on(async {
        let h = harness();
        let mut soc = h.sign_in(Role::SocPartner).await;
        for path in [
            "/alerts",
            "/alerts/a1",
            "/api/v1/alerts",
            "/api/v1/alerts/a1",
        ] {
            let answer = h.get(&mut soc, path).await;
            assert_eq!(answer.status, StatusCode::OK, "{path}");
            assert!(
                !answer.body.contains(PATIENT_ID),
                "{path} shows the patient id"
            );
            assert!(
                !answer.body.contains(PATIENT_NAME),
                "{path} shows the patient name"
            );
            assert!(answer.body.contains("masked-"), "{path} shows a pseudonym");
        }
        let mut auditor = h.sign_in(Role::ComplianceAuditor).await;
        for path in [
            "/investigate?user=jdoe",
            "/timeline/user/jdoe",
            "/api/v1/events?user=jdoe",
            "/alerts/a1",
            "/overview",
        ] {
            let answer = h.get(&mut auditor, path).await;
            assert_eq!(answer.status, StatusCode::OK, "{path}");
            assert!(
                !answer.body.contains(PATIENT_ID),
                "{path} shows the patient id"
            );
            assert!(
                !answer.body.contains(PATIENT_NAME),
                "{path} shows the patient name"
            );
        }
        let api = h.get(&mut auditor, "/api/v1/events?user=jdoe").await.json();
        assert_eq!(api["total"], 2);
        assert!(api["events"][0].get("raw").is_none());
        // A masked patient's timeline cannot be asked for by pseudonym.
        let pseudonym = api["events"][0]["patient"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            h.get(&mut auditor, &format!("/timeline/patient/{pseudonym}"))
                .await
                .status,
            StatusCode::NOT_FOUND
        );

        let mut privacy = h.sign_in(Role::PrivacyOfficer).await;
        let page = h.get(&mut privacy, "/alerts/a1").await;
        assert!(page.body.contains(PATIENT_ID));
        assert!(page.body.contains(PATIENT_NAME));
        let timeline = h
            .get(&mut privacy, &format!("/timeline/patient/{PATIENT_ID}"))
            .await;
        assert_eq!(timeline.status, StatusCode::OK);
        assert!(timeline.body.contains("jdoe"));
    });
}

#[test]
fn every_phi_view_is_in_the_audit_trail_and_exports_as_fhir_audit_events() {
    rt().block_on(async {
        let h = harness();
        let mut privacy = h.sign_in(Role::PrivacyOfficer).await;
        h.get(&mut privacy, "/alerts/a1").await;
        h.get(&mut privacy, "/api/v1/events?patient=pt-1001").await;
        let views = h
            .store
            .accounts()
            .audit_events(&AuditQuery {
                patient: Some(PATIENT_ID.into()),
                ..Default::default()
            })
            .unwrap();
        let places: Vec<&str> = views
            .iter()
            .filter_map(|e| e.resource.id.as_deref())
            .collect();
        assert!(places.contains(&"GET /alerts/{id}"), "{places:?}");
        assert!(places.contains(&"GET /api/v1/events"), "{places:?}");
        assert!(
            views
                .iter()
                .all(|e| e.actor.user.name.as_deref() == Some("privacy"))
        );
        assert!(
            views
                .iter()
                .all(|e| e.class_uid == class::API_ACTIVITY && e.metadata.product == "ward")
        );

        // Masked views show no identity and are not PHI views.
        let mut soc = h.sign_in(Role::SocPartner).await;
        h.get(&mut soc, "/alerts/a1").await;
        let soc_views = h
            .store
            .accounts()
            .audit_events(&AuditQuery {
                user: Some("soc".into()),
                patient: Some(PATIENT_ID.into()),
                ..Default::default()
            })
            .unwrap();
        assert!(soc_views.is_empty());

        // The trail, as FHIR, names the patient and the user who saw the data.
        let answer = h.get(&mut privacy, "/api/v1/audit?format=fhir").await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(
            answer.headers[header::CONTENT_TYPE],
            "application/fhir+json"
        );
        let bundle = answer.json();
        assert_eq!(bundle["resourceType"], "Bundle");
        let entries = bundle["entry"].as_array().unwrap();
        let read = entries
            .iter()
            .map(|e| &e["resource"])
            .find(|r| r["entity"][0]["what"]["reference"] == format!("Patient/{PATIENT_ID}"))
            .expect("a PHI view as an AuditEvent");
        assert_eq!(read["resourceType"], "AuditEvent");
        assert_eq!(read["action"], "R");
        assert_eq!(read["agent"][0]["who"]["identifier"]["value"], "privacy");
        assert_eq!(read["entity"][0]["role"]["code"], "1");
        let logins = entries
            .iter()
            .filter(|e| e["resource"]["subtype"][0]["code"] == "110122")
            .count();
        assert!(logins >= 2, "sign-ins exported as DICOM Login");
        // The audit page is for admins and privacy officers.
        assert_eq!(
            h.get(&mut soc, "/audit").await.status,
            StatusCode::FORBIDDEN
        );
    });
}

/// A privacy alert as the privacy detector raises it: user and patient entities, and a
/// description that names the patient and the explanations that failed. Open, as detectors
/// raise them; tests change the status as a person would.
fn privacy_alert(
    id: &str,
    rule: &str,
    user: &str,
    patient: &str,
    severity: Severity,
    last_seen: i64,
    count: u64,
) -> Alert {
    Alert {
        id: id.into(),
        rule_id: rule.into(),
        title: format!("Unexplained access ({rule})"),
        severity,
        first_seen: Timestamp(last_seen - 60_000),
        last_seen: Timestamp(last_seen),
        count,
        entities: AlertEntities {
            user: Some(user.into()),
            patient: Some(patient.into()),
            ..Default::default()
        },
        attack: vec![],
        hipaa: vec!["164.312(b)".into()],
        status: AlertStatus::Open,
        author: Some("Ward".into()),
        license: None,
        references: vec![],
        description: Some(format!(
            "{user} read the record of patient {patient}; care team: no encounter links them; \
             department: not the same ({id})"
        )),
    }
}

#[test]
fn privacy_cases_group_a_users_alerts_mask_patients_for_the_auditor_and_audit_the_officer() {
    rt().block_on(async {
        let h = harness();
        let hour = 3_600_000;
        for alert in [
            privacy_alert(
                "p1",
                "privacy.co_worker",
                "u1035",
                "pt-2002",
                Severity::High,
                T0 - 2 * hour,
                3,
            ),
            privacy_alert(
                "p2",
                "privacy.vip",
                "u1035",
                "pt-3003",
                Severity::Medium,
                T0 - hour,
                2,
            ),
            privacy_alert(
                "p3",
                "privacy.self_access",
                "u2000",
                "pt-4004",
                Severity::Low,
                T0 - hour / 2,
                1,
            ),
            // Closed alerts are dealt with; they are no longer on the work list.
            privacy_alert(
                "p4",
                "privacy.neighbour",
                "u1035",
                "pt-5005",
                Severity::Critical,
                T0,
                9,
            ),
        ] {
            h.store.upsert_alert(&alert, &[]).unwrap();
        }
        h.store
            .set_alert_status("p2", AlertStatus::Acknowledged)
            .unwrap();
        h.store
            .close_alert("p4", "appropriate: covering a colleague")
            .unwrap();

        let mut privacy = h.sign_in(Role::PrivacyOfficer).await;
        let api = h.get(&mut privacy, "/api/v1/privacy").await;
        assert_eq!(api.status, StatusCode::OK, "{}", api.body);
        let cases = api.json()["cases"].as_array().unwrap().clone();
        // a1 (not a privacy rule) and p4 (closed) are left out; u1035's case is the more severe.
        assert_eq!(cases.len(), 2, "{cases:?}");
        let case = &cases[0];
        assert_eq!(case["user"], "u1035");
        assert_eq!(case["severity"], "high");
        assert_eq!(case["accesses"], 5);
        assert_eq!(case["patients"], serde_json::json!(["pt-2002", "pt-3003"]));
        let ids: Vec<&str> = case["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["p1", "p2"]);
        assert_eq!(
            case["first_seen"],
            serde_json::json!(Timestamp(T0 - 2 * hour - 60_000))
        );
        assert_eq!(case["last_seen"], serde_json::json!(Timestamp(T0 - hour)));
        assert_eq!(cases[1]["user"], "u2000");

        let page = h.get(&mut privacy, "/privacy").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        for shown in [
            "u1035",
            "pt-2002",
            "pt-3003",
            "href=\"/alerts/p1\"",
            "href=\"/alerts/p2\"",
            "care team: no encounter links them",
        ] {
            assert!(page.body.contains(shown), "{shown} not on the page");
        }
        assert!(!page.body.contains("/alerts/p4") && !page.body.contains("/alerts/a1\""));
        assert!(
            page.body.find("u1035").unwrap() < page.body.find("u2000").unwrap(),
            "most severe case first"
        );
        assert!(
            page.body
                .contains(r#"href="/privacy" aria-current="page">Privacy cases"#)
        );
        assert!(!page.body.contains(" style=") && !page.body.contains("<script>"));
        // The officer saw the patients unmasked: each view is in the audit trail, per place.
        for place in ["GET /privacy", "GET /api/v1/privacy"] {
            for patient in ["pt-2002", "pt-3003", "pt-4004"] {
                let views = h
                    .store
                    .accounts()
                    .audit_events(&AuditQuery {
                        user: Some("privacy".into()),
                        patient: Some(patient.into()),
                        ..Default::default()
                    })
                    .unwrap();
                assert!(
                    views
                        .iter()
                        .any(|e| e.resource.id.as_deref() == Some(place)),
                    "no PHI view of {patient} at {place}"
                );
            }
        }

        // The auditor sees the same cases with patients masked, as the alert page masks them.
        let mut auditor = h.sign_in(Role::ComplianceAuditor).await;
        let alert_page = h.get(&mut auditor, "/alerts/p1").await;
        let at = alert_page
            .body
            .find("masked-")
            .expect("a pseudonym on the alert page");
        let pseudonym = &alert_page.body[at..at + "masked-".len() + 10];
        for path in ["/privacy", "/api/v1/privacy"] {
            let answer = h.get(&mut auditor, path).await;
            assert_eq!(answer.status, StatusCode::OK, "{path}");
            for patient in ["pt-2002", "pt-3003", "pt-4004"] {
                assert!(!answer.body.contains(patient), "{path} shows {patient}");
            }
            assert!(answer.body.contains(pseudonym), "{path} lacks {pseudonym}");
            assert!(answer.body.contains("u1035"));
        }
        let api = h.get(&mut auditor, "/api/v1/privacy").await.json();
        assert_eq!(api["cases"][0]["alerts"].as_array().unwrap().len(), 2);
        assert!(
            api["cases"][0]["alerts"][0]["description"]
                .as_str()
                .unwrap()
                .contains(pseudonym),
            "the description names the patient by pseudonym"
        );
        let auditor_views = h
            .store
            .accounts()
            .audit_events(&AuditQuery {
                user: Some("auditor".into()),
                patient: Some("pt-2002".into()),
                ..Default::default()
            })
            .unwrap();
        assert!(auditor_views.is_empty(), "masked views are not PHI views");
        // Nor is the work list for the roles that do not follow up snooping.
        for role in [Role::SecurityAnalyst, Role::SocPartner] {
            let mut b = h.sign_in(role).await;
            assert_eq!(
                h.get(&mut b, "/privacy").await.status,
                StatusCode::FORBIDDEN
            );
            assert_eq!(
                h.get(&mut b, "/api/v1/privacy").await.status,
                StatusCode::FORBIDDEN
            );
        }
    });
}

fn rule(id: &str, title: &str, detector: &str) -> RuleInfo {
    RuleInfo {
        id: id.into(),
        title: title.into(),
        detector: detector.into(),
        level: "high".into(),
        logsource: (detector == "sigma").then(|| "windows/security".into()),
        attack: vec!["T1110.003".into()],
        hipaa: vec!["164.308(a)(5)(ii)(C)".into()],
        author: Some("Ward".into()),
        license: Some("DRL-1.1".into()),
        description: Some(format!("{title}, described")),
    }
}

#[test]
fn the_rules_page_lists_each_rule_with_its_open_alerts_and_filters_by_detector() {
    rt().block_on(async {
        let sigma_id = "5a1e9b8c-0d2f-4e6a-9b3c-7d8e9f0a1b2c";
        let h = harness_with(|o| {
            o.rules = Arc::new(vec![
                rule("privacy.co_worker", "Co-worker's record opened", "privacy"),
                rule(
                    "threat.credential.password_spray",
                    "Password spray",
                    "threat",
                ),
                rule(sigma_id, "Many failed logons", "sigma"),
            ]);
        });
        let hour = 3_600_000;
        for alert in [
            privacy_alert(
                "p1",
                "privacy.co_worker",
                "u1",
                "pt-1",
                Severity::High,
                T0 - hour,
                1,
            ),
            privacy_alert(
                "p2",
                "privacy.co_worker",
                "u2",
                "pt-2",
                Severity::High,
                T0 - hour,
                1,
            ),
            privacy_alert(
                "p3",
                "privacy.co_worker",
                "u3",
                "pt-3",
                Severity::High,
                T0 - hour,
                1,
            ),
            privacy_alert("s1", sigma_id, "u4", "pt-4", Severity::High, T0 - hour, 1),
        ] {
            h.store.upsert_alert(&alert, &[]).unwrap();
        }
        // Closed alerts are not open alerts.
        h.store.close_alert("p3", "appropriate").unwrap();

        let mut analyst = h.sign_in(Role::SecurityAnalyst).await;
        let api = h.get(&mut analyst, "/api/v1/rules").await;
        assert_eq!(api.status, StatusCode::OK, "{}", api.body);
        let api = api.json();
        let open: Vec<(&str, u64)> = api["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["id"].as_str().unwrap(),
                    r["open_alerts"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            open,
            [
                ("privacy.co_worker", 2),
                ("threat.credential.password_spray", 0),
                (sigma_id, 1)
            ]
        );
        assert_eq!(api["rules"][2]["logsource"], "windows/security");
        assert_eq!(api["rules"][0]["hipaa"][0], "164.308(a)(5)(ii)(C)");

        let page = h.get(&mut analyst, "/rules").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        for shown in [
            "Co-worker&#39;s record opened",
            "href=\"/alerts?rule=privacy.co_worker\"",
            &format!("href=\"/alerts?rule={sigma_id}\""),
            "href=\"/alerts?rule=privacy.co_worker\">2</a>",
            "T1110.003",
            "windows/security",
        ] {
            assert!(page.body.contains(shown), "{shown} not on the page");
        }
        assert!(
            page.body
                .contains(r#"href="/rules" aria-current="page">Rules"#)
        );
        // The link leads to the rule's alerts.
        let alerts = h.get(&mut analyst, "/alerts?rule=privacy.co_worker").await;
        assert!(alerts.body.contains("/alerts/p1") && !alerts.body.contains("/alerts/s1"));

        let threat = h.get(&mut analyst, "/rules?detector=threat").await;
        assert!(threat.body.contains("Password spray"));
        assert!(!threat.body.contains("privacy.co_worker") && !threat.body.contains(sigma_id));
        let api = h
            .get(&mut analyst, "/api/v1/rules?detector=sigma")
            .await
            .json();
        assert_eq!(api["rules"].as_array().unwrap().len(), 1);
        assert_eq!(api["rules"][0]["id"], sigma_id);

        let mut soc = h.sign_in(Role::SocPartner).await;
        assert_eq!(
            h.get(&mut soc, "/rules").await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            h.get(&mut soc, "/api/v1/rules").await.status,
            StatusCode::FORBIDDEN
        );
    });
}

#[test]
fn a_rule_is_switched_off_with_a_reason_audited_and_the_running_engine_told() {
    rt().block_on(async {
        let told: Arc<std::sync::Mutex<Vec<Vec<String>>>> = Arc::default();
        let seen = told.clone();
        let h = harness_with(move |o| {
            o.rules = Arc::new(vec![
                rule("privacy.co_worker", "Co-worker's record opened", "privacy"),
                rule(
                    "threat.network.unknown_device",
                    "Device not in the inventory",
                    "threat",
                ),
            ]);
            o.on_rules_changed = Some(Arc::new(move |ids| {
                let mut ids: Vec<String> = ids.iter().cloned().collect();
                ids.sort();
                seen.lock().unwrap().push(ids);
            }));
        });
        let mut analyst = h.sign_in(Role::SecurityAnalyst).await;
        let page = h.get(&mut analyst, "/rules").await;
        assert!(
            page.body
                .contains("action=\"/rules/threat.network.unknown_device/disable\"")
        );

        // A reason is required, and the CSRF token.
        let path = "/rules/threat.network.unknown_device/disable";
        let answer = h.post(&mut analyst, path, &[("reason", " ")]).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        let answer = h
            .post(&mut analyst, path, &[("reason", "x"), ("csrf", "forged")])
            .await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
        let answer = h
            .post(
                &mut analyst,
                "/rules/no.such.rule/disable",
                &[("reason", "x")],
            )
            .await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        assert!(told.lock().unwrap().is_empty(), "nothing changed yet");

        let reason = "every visitor's laptop on the ward Wi-Fi";
        let answer = h.post(&mut analyst, path, &[("reason", reason)]).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        assert_eq!(
            told.lock().unwrap().last().unwrap(),
            &["threat.network.unknown_device".to_string()]
        );
        let stored = h
            .store
            .setting(ward_detect::switches::SETTING)
            .unwrap()
            .unwrap();
        assert!(
            stored.contains(reason) || stored.contains("visitor"),
            "{stored}"
        );
        let page = h.get(&mut analyst, "/rules").await;
        assert!(page.body.contains("rule-off"), "{}", page.body);
        assert!(page.body.contains("Switch on"));
        let changes = h
            .store
            .accounts()
            .audit_events(&AuditQuery {
                user: Some("analyst".into()),
                ..Default::default()
            })
            .unwrap();
        assert!(changes.iter().any(|e| {
            e.status_detail
                .as_deref()
                .is_some_and(|d| d.starts_with("rule switched off: every visitor"))
        }));

        // The auditor sees the state, without the forms, and may not switch.
        let mut auditor = h.sign_in(Role::ComplianceAuditor).await;
        let page = h.get(&mut auditor, "/rules").await;
        assert!(page.body.contains("rule-off") && !page.body.contains("Switch on"));
        let answer = h
            .post(
                &mut auditor,
                "/rules/threat.network.unknown_device/enable",
                &[],
            )
            .await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN);

        // The API switches it back on.
        let request = Request::post("/api/v1/rules/threat.network.unknown_device/state")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-csrf-token", analyst.csrf.clone())
            .body(Body::from(r#"{"enabled":true}"#))
            .unwrap();
        let answer = h.send(&mut analyst, request).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let state = answer.json();
        assert_eq!(state["enabled"], true);
        assert_eq!(state["reason"], serde_json::Value::Null);
        assert!(told.lock().unwrap().last().unwrap().is_empty());
        let request = Request::post("/api/v1/rules/privacy.co_worker/state")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-csrf-token", analyst.csrf.clone())
            .body(Body::from(r#"{"enabled":false}"#))
            .unwrap();
        let answer = h.send(&mut analyst, request).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "switching off needs a reason"
        );
        let long = format!(r#"{{"enabled":true,"reason":"{}"}}"#, "0".repeat(501));
        let request = Request::post("/api/v1/rules/privacy.co_worker/state")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-csrf-token", analyst.csrf.clone())
            .body(Body::from(long))
            .unwrap();
        let answer = h.send(&mut analyst, request).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "the schema's maxLength holds"
        );
    });
}

/// The rows of the alerts page's group table.
fn group_rows(body: &str) -> Vec<&str> {
    body.split("<tr class=\"group\">")
        .skip(1)
        .map(|rest| rest.split("</tr>").next().unwrap_or(""))
        .collect()
}

#[test]
fn the_alerts_page_groups_alerts_by_rule_and_by_entity() {
    rt().block_on(async {
        let h = harness();
        // Only the alerts below are open.
        h.store.close_alert("a1", "appropriate").unwrap();
        let hour = 3_600_000;
        for alert in [
            privacy_alert(
                "g1",
                "test.rule_a",
                "u1",
                "pt-1",
                Severity::Medium,
                T0 - 2 * hour,
                1,
            ),
            privacy_alert(
                "g2",
                "test.rule_a",
                "u1",
                "pt-2",
                Severity::High,
                T0 - hour,
                5,
            ),
            privacy_alert(
                "g3",
                "test.rule_b",
                "u2",
                "pt-3",
                Severity::Low,
                T0 - hour,
                1,
            ),
        ] {
            h.store.upsert_alert(&alert, &[]).unwrap();
        }
        let mut analyst = h.sign_in(Role::SecurityAnalyst).await;

        let page = h.get(&mut analyst, "/alerts?group=rule").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains(r#"<option value="rule" selected>"#));
        let rows = group_rows(&page.body);
        assert_eq!(rows.len(), 2, "{rows:?}");
        // The larger group first: two alerts (not the sum of their repeats), the highest
        // severity, the latest last seen, and a link to the rule's alerts.
        assert!(
            rows[0].contains(r#"href="/alerts?rule=test.rule_a""#),
            "{}",
            rows[0]
        );
        assert!(rows[0].contains(r#"<td class="num">2</td>"#), "{}", rows[0]);
        assert!(rows[0].contains("sev-high"), "{}", rows[0]);
        assert!(
            rows[1].contains(r#"href="/alerts?rule=test.rule_b""#),
            "{}",
            rows[1]
        );
        assert!(rows[1].contains(r#"<td class="num">1</td>"#), "{}", rows[1]);
        // Grouped, the alerts themselves are not listed.
        assert!(!page.body.contains("/alerts/g1"));

        let page = h.get(&mut analyst, "/alerts?group=entity").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let rows = group_rows(&page.body);
        let u1: Vec<&&str> = rows
            .iter()
            .filter(|r| r.contains(r#"href="/alerts?entity=u1""#))
            .collect();
        assert_eq!(u1.len(), 1, "{rows:?}");
        assert!(u1[0].contains(r#"<td class="num">2</td>"#), "{}", u1[0]);
        assert!(
            u1[0].contains("sev-high") && u1[0].contains("user"),
            "{}",
            u1[0]
        );
        // u2, and each patient, once.
        assert_eq!(rows.len(), 5, "{rows:?}");
        // The analyst does not see PHI: patients are pseudonyms, with no link.
        assert!(!page.body.contains("pt-1") && page.body.contains("masked-"));
        assert!(!page.body.contains("entity=masked-"));
        // The link leads to u1's alerts.
        let listed = h.get(&mut analyst, "/alerts?entity=u1").await;
        assert!(listed.body.contains("/alerts/g1") && listed.body.contains("/alerts/g2"));
        assert!(!listed.body.contains("/alerts/g3"));

        // The privacy officer sees patients, linked, and the view is audited (signing in
        // opened the plain list, audited already: count the grouped view's own record).
        let mut privacy = h.sign_in(Role::PrivacyOfficer).await;
        let list_views_of_pt3 = || {
            h.store
                .accounts()
                .audit_events(&AuditQuery {
                    patient: Some("pt-3".into()),
                    ..Default::default()
                })
                .unwrap()
                .iter()
                .filter(|e| e.resource.id.as_deref() == Some("GET /alerts"))
                .count()
        };
        let before = list_views_of_pt3();
        let page = h.get(&mut privacy, "/alerts?group=entity").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains(r#"href="/alerts?entity=pt-1""#));
        assert_eq!(group_rows(&page.body).len(), 5);
        assert_eq!(
            list_views_of_pt3(),
            before + 1,
            "the grouped view of pt-3 is not audited"
        );
        // Grouped by rule, no patient is shown, so none is recorded.
        h.get(&mut privacy, "/alerts?group=rule").await;
        assert_eq!(list_views_of_pt3(), before + 1);

        for bad in ["/alerts?group=severity", "/alerts?group=RULE"] {
            let answer = h.get(&mut analyst, bad).await;
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad}");
        }
        // Blank or none is today's list.
        let page = h.get(&mut analyst, "/alerts?group=").await;
        assert!(page.body.contains("/alerts/g1") && group_rows(&page.body).is_empty());
        let page = h.get(&mut analyst, "/alerts?group=none").await;
        assert!(page.body.contains("/alerts/g3"));
    });
}

#[test]
fn security_headers_are_on_every_response() {
    rt().block_on(async {
        let h = harness();
        let mut anonymous = Browser::default();
        let mut analyst = h.sign_in(Role::SecurityAnalyst).await;
        let mut answers = vec![
            h.get(&mut anonymous, "/login").await,
            h.get(&mut anonymous, "/static/console.css").await,
            h.get(&mut anonymous, "/api/v1/alerts").await,
            h.get(&mut anonymous, "/overview").await,
            h.get(&mut analyst, "/overview").await,
            h.get(&mut analyst, "/users").await,
            h.get(&mut analyst, "/alerts/nope").await,
        ];
        answers.push(h.get(&mut analyst, "/api/v1/openapi.json").await);
        for answer in &answers {
            let header = |name: &str| {
                answer
                    .headers
                    .get(name)
                    .unwrap_or_else(|| panic!("{name} missing on a {} answer", answer.status))
                    .to_str()
                    .unwrap()
                    .to_string()
            };
            let csp = header("content-security-policy");
            assert!(csp.contains("script-src 'self'") && csp.contains("style-src 'self'"));
            assert!(csp.contains("frame-ancestors 'none'"));
            assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
            assert!(header("strict-transport-security").starts_with("max-age="));
            assert_eq!(header("x-frame-options"), "DENY");
            assert_eq!(header("x-content-type-options"), "nosniff");
            assert_eq!(header("referrer-policy"), "no-referrer");
        }
        let overview = &answers[4];
        assert_eq!(overview.status, StatusCode::OK);
        assert!(!overview.body.contains(" style="), "no inline styles");
        assert!(!overview.body.contains("<script>"), "no inline scripts");
        assert!(overview.body.contains("<svg"), "charts drawn on the server");
        // Cookies: secure, script-proof, same-site.
        let mut b = Browser::default();
        let login = h.get(&mut b, "/login").await;
        let cookie = login.headers[header::SET_COOKIE].to_str().unwrap();
        assert!(cookie.starts_with("__Host-"));
        for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(cookie.contains(attribute), "{cookie}");
        }
    });
}

#[test]
fn the_openapi_document_describes_every_api_route() {
    rt().block_on(async {
        let h = harness();
        let mut anonymous = Browser::default();
        let doc = h.get(&mut anonymous, "/api/v1/openapi.json").await.json();
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().unwrap();
        let mut api_routes = 0;
        for spec in ROUTES.iter().filter(|r| r.api) {
            api_routes += 1;
            let op = &paths
                .get(spec.path)
                .unwrap_or_else(|| panic!("{} missing", spec.path))
                [spec.method.as_str().to_ascii_lowercase()];
            assert!(
                op.is_object(),
                "{} {} missing",
                spec.method.as_str(),
                spec.path
            );
            assert_eq!(
                op["x-ward-permission"],
                serde_json::to_value(spec.permission).unwrap()
            );
            assert!(op["responses"]["200"].is_object());
            for param in op["parameters"].as_array().unwrap() {
                if param["in"] == "path" {
                    assert!(
                        spec.path
                            .contains(&format!("{{{}}}", param["name"].as_str().unwrap()))
                    );
                }
            }
        }
        let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
        assert_eq!(
            documented, api_routes,
            "nothing documented that is not routed"
        );
        assert!(
            ROUTES
                .iter()
                .all(|r| r.api == r.path.starts_with("/api/v1/"))
        );
    });
}

#[test]
fn the_setup_token_creates_the_first_admin_once() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
        let token = first_run_setup_token(store.as_ref())
            .unwrap()
            .expect("a token while no user exists");
        let router =
            ward_console::router(ConsoleState::new(store.clone(), ConsoleOptions::default()));
        let h = Harness {
            _dir: dir,
            store: store.clone(),
            router,
            clock: Arc::new(AtomicI64::new(T0)),
            users: vec![],
        };
        let mut b = Browser::default();
        let form = h.get(&mut b, &format!("/setup?token={token}")).await;
        assert_eq!(form.status, StatusCode::OK);
        let weak = h
            .post(
                &mut b,
                "/setup",
                &[
                    ("token", &token),
                    ("name", "root"),
                    ("password", "password1234"),
                ],
            )
            .await;
        assert_eq!(
            weak.status,
            StatusCode::BAD_REQUEST,
            "a breached password is refused"
        );
        let wrong = h
            .post(
                &mut b,
                "/setup",
                &[
                    ("token", "0000"),
                    ("name", "root"),
                    ("password", "a long enough passphrase"),
                ],
            )
            .await;
        assert_eq!(wrong.status, StatusCode::FORBIDDEN);
        let done = h
            .post(
                &mut b,
                "/setup",
                &[
                    ("token", &token),
                    ("name", "root"),
                    ("password", "a long enough passphrase"),
                ],
            )
            .await;
        assert_eq!(done.location(), "/login");
        assert_eq!(
            store.accounts().get_user("root").unwrap().unwrap().role,
            "admin"
        );
        assert_eq!(
            h.get(&mut b, &format!("/setup?token={token}")).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(first_run_setup_token(store.as_ref()).unwrap(), None);
    });
}

#[test]
fn wards_own_audit_events_reach_the_detectors_once_stored() {
    rt().block_on(async {
        let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let sink = seen.clone();
        let h = harness_with(move |o| {
            o.on_audit = Some(Arc::new(
                move |store: &dyn Store,
                      batch: &ward_store::Batch,
                      receipt: &ward_store::Receipt| {
                    for e in receipt.new_events.iter().map(|&i| &batch.events[i]) {
                        // The hook runs after the commit: every event it is given is stored.
                        assert!(store.get_event(&e.id).unwrap().is_some());
                        sink.lock()
                            .unwrap()
                            .push(format!("{}:{:?}", e.class_uid, e.actor.user.name));
                    }
                },
            ));
        });
        let mut b = Browser::default();
        h.get(&mut b, "/login").await;
        let answer = h
            .post(
                &mut b,
                "/login",
                &[("name", "analyst"), ("password", "wrong password 123")],
            )
            .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        let seen = seen.lock().unwrap().clone();
        assert_eq!(
            seen,
            vec![format!("{}:Some(\"analyst\")", class::AUTHENTICATION)],
            "the failed sign-in went to the detectors"
        );
    });
}

const DRAFT_RULE: &str = r#"
title: Charts opened from workstation ehr-ws-12
id: 5d0c3f8e-1b7a-4c55-9d61-2f1e0a7b9c01
logsource:
  product: fhir
detection:
  sel:
    device.hostname: ehr-ws-12
  condition: sel
level: low
"#;

#[test]
fn a_draft_rule_is_tested_over_stored_events_with_patients_masked_and_views_audited() {
    rt().block_on(async {
        let h = harness();
        let mut analyst = h.sign_in(Role::SecurityAnalyst).await;
        let page = h.get(&mut analyst, "/rules").await;
        assert!(page.body.contains("href=\"/rules/test\""), "{}", page.body);
        let form = h.get(&mut analyst, "/rules/test").await;
        assert_eq!(form.status, StatusCode::OK);

        let answer = h
            .post(
                &mut analyst,
                "/rules/test",
                &[("rule", DRAFT_RULE), ("hours", "24")],
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert!(
            answer.body.contains("2 events from"),
            "both seeded events were read: {}",
            answer.body
        );
        assert!(answer.body.contains("5d0c3f8e-1b7a-4c55-9d61-2f1e0a7b9c01"));
        assert!(
            answer.body.contains("<td class=\"num\">2</td>"),
            "{}",
            answer.body
        );
        assert!(answer.body.contains("ehr-ws-12"));
        assert!(
            !answer.body.contains(PATIENT_ID) && !answer.body.contains(PATIENT_NAME),
            "the analyst sees patients masked"
        );

        // Ten minutes later, looking back one hour misses them: the window is real.
        h.advance(Duration::from_secs(600));
        let answer = h
            .post(
                &mut analyst,
                "/rules/test",
                &[("rule", DRAFT_RULE), ("hours", "1")],
            )
            .await;
        assert!(
            answer.body.contains("<td class=\"num\">0</td>") && answer.body.contains("No events."),
            "{}",
            answer.body
        );

        // A rule that does not load is explained on the page, not a server error.
        let answer = h
            .post(
                &mut analyst,
                "/rules/test",
                &[(
                    "rule",
                    "title: x\ndetection:\n  condition: nothing_defined\n",
                )],
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK);
        assert!(
            answer.body.contains("the rule does not load"),
            "{}",
            answer.body
        );
        let answer = h
            .post(
                &mut analyst,
                "/rules/test",
                &[("rule", DRAFT_RULE), ("hours", "500")],
            )
            .await;
        assert!(answer.body.contains("hours must be from 1 to 168"));

        // The privacy officer sees the patient, and the view is in the audit trail.
        let mut officer = h.session_for(Role::PrivacyOfficer).await;
        let request = Request::post("/api/v1/rules/test")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-csrf-token", officer.csrf.clone())
            .body(Body::from(
                serde_json::json!({"rule": DRAFT_RULE, "hours": 24}).to_string(),
            ))
            .unwrap();
        let answer = h.send(&mut officer, request).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert!(answer.body.contains(PATIENT_ID), "{}", answer.body);
        let views = h
            .store
            .accounts()
            .audit_events(&AuditQuery {
                user: Some("privacy".into()),
                ..Default::default()
            })
            .unwrap();
        assert!(
            views.iter().any(|e| {
                e.patient.id.as_deref() == Some(PATIENT_ID)
                    && e.resource.id.as_deref() == Some("POST /api/v1/rules/test")
            }),
            "the officer's view of the patient is audited: {views:?}"
        );

        let mut admin = h.session_for(Role::Admin).await;
        let request = Request::post("/api/v1/rules/test")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-csrf-token", admin.csrf.clone())
            .body(Body::from(
                serde_json::json!({"rule": DRAFT_RULE, "hours": 24}).to_string(),
            ))
            .unwrap();
        let answer = h.send(&mut admin, request).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let result = answer.json();
        assert_eq!(result["loaded"], true);
        // The two chart reads and Ward's own audit events (sign-ins, the officer's view).
        assert!(result["scanned"].as_u64().unwrap() > 2, "{result}");
        assert_eq!(result["rules"][0]["matches"], 2);
        assert_eq!(result["events"].as_array().unwrap().len(), 2);
        assert!(
            !answer.body.contains(PATIENT_ID),
            "the admin role does not see PHI either"
        );

        // Text that is not Sigma is an answer saying so, not a refused request.
        let request = Request::post("/api/v1/rules/test")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-csrf-token", admin.csrf.clone())
            .body(Body::from(r#"{"rule":"0"}"#))
            .unwrap();
        let answer = h.send(&mut admin, request).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let result = answer.json();
        assert_eq!(result["loaded"], false);
        assert!(result["error"].as_str().unwrap().contains("does not load"));
        assert_eq!(result["scanned"], 0);

        let mut soc = h.sign_in(Role::SocPartner).await;
        let answer = h
            .post(&mut soc, "/rules/test", &[("rule", DRAFT_RULE)])
            .await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
    });
}

#[test]
fn settings_show_the_session_policy_and_the_binarys_groups_to_admins_and_auditors_only() {
    rt().block_on(async {
        let h = harness_with(|o| {
            o.idle_timeout = Duration::from_secs(10 * 60);
            o.settings = Arc::new(ward_console::SettingsView {
                config_file: Some("/etc/ward/ward.toml".into()),
                config_text: Some("[metrics]\ntoken_sha256 = \"<redacted>\"\n".into()),
                groups: vec![
                    ward_console::SettingGroup::new("Storage and encryption at rest")
                        .item("key-encryption key", "file /etc/ward/ward.kek"),
                ],
            });
        });
        let mut auditor = h.sign_in(Role::ComplianceAuditor).await;
        let page = h.get(&mut auditor, "/settings").await;
        assert_eq!(page.status, StatusCode::OK);
        for shown in [
            "10 min",
            "automatic logoff",
            "after 5 failed sign-ins",
            "file /etc/ward/ward.kek",
            "/etc/ward/ward.toml",
            "token_sha256",
        ] {
            assert!(page.body.contains(shown), "{shown} missing: {}", page.body);
        }
        let api = h.get(&mut auditor, "/api/v1/settings").await;
        assert_eq!(api.status, StatusCode::OK);
        let json = api.json();
        assert_eq!(json["config_file"], "/etc/ward/ward.toml");
        assert_eq!(json["groups"][1]["name"], "Storage and encryption at rest");
        let mut analyst = h.sign_in(Role::SecurityAnalyst).await;
        assert_eq!(
            h.get(&mut analyst, "/settings").await.status,
            StatusCode::FORBIDDEN
        );
    });
}

#[test]
fn the_sources_page_shows_each_listener_with_its_limits_and_counters() {
    rt().block_on(async {
        let registry = ward_listen::ListenerRegistry::new();
        let syslog = registry.register(ward_listen::ListenerFacts {
            name: "syslog-tls",
            address: "0.0.0.0:6514".into(),
            transport: "tcp",
            tls: true,
            max_message_bytes: 65_536,
            max_connections: Some(256),
            rate_per_peer: 20_000.0,
        });
        let open = syslog.connection_opened();
        syslog.connection_refused();
        syslog.received(7);
        syslog.committed(5, 1, 1);
        let given = registry.clone();
        let h = harness_with(move |o| o.listeners = Some(given));
        let mut analyst = h.sign_in(Role::SecurityAnalyst).await;
        let page = h.get(&mut analyst, "/sources").await;
        assert!(page.body.contains("listener-syslog-tls"), "{}", page.body);
        assert!(page.body.contains("tcp 0.0.0.0:6514"));
        assert!(page.body.contains("1 / 1 / 1"), "open / accepted / refused");
        assert!(page.body.contains("256 connections"));
        let api = h.get(&mut analyst, "/api/v1/listeners").await.json();
        assert_eq!(api["running"], true);
        let l = &api["listeners"][0];
        assert_eq!(
            (
                &l["received"],
                &l["stored"],
                &l["duplicates"],
                &l["quarantined"]
            ),
            (
                &serde_json::json!(7),
                &serde_json::json!(5),
                &serde_json::json!(1),
                &serde_json::json!(1)
            )
        );
        drop(open);
        let api = h.get(&mut analyst, "/api/v1/listeners").await.json();
        assert_eq!(api["listeners"][0]["connections_open"], 0);
    });
}
