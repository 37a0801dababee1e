//! The Notifications page and `GET /api/v1/deliveries`: over a real SQLite store holding
//! deliveries in each state, the admin and the security analyst see channel, alert, state,
//! attempts, next try and last error, other roles are refused, and a payload (which may name
//! a patient) is never shown or returned.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use tower::ServiceExt;
use ward_console::{ClientAddr, ConsoleOptions, ConsoleState, DemoUser, Role, create_demo_users};
use ward_model::Timestamp;
use ward_store::deliveries::NewDelivery;
use ward_store::{SessionRecord, SessionStage, SqliteStore, Store};

const PATIENT: &str = "Jane Roe";
const ERROR: &str = "the webhook answered 503 after 10 s";

struct Harness {
    _dir: tempfile::TempDir,
    router: Router,
    store: Arc<SqliteStore>,
    users: Vec<DemoUser>,
    sessions: std::sync::atomic::AtomicU64,
}

fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let users = create_demo_users(store.as_ref()).unwrap();
    let queue = store.deliveries();
    let now = Timestamp::now();
    for (key, channel, alert) in [
        ("k-pending", "soc-webhook", "a1"),
        ("k-delivered", "it-mail", "a1"),
        ("k-abandoned", "teams", "a2"),
        ("k-digest", "it-mail", ""),
    ] {
        assert!(
            queue
                .enqueue(&NewDelivery {
                    key: key.into(),
                    channel: channel.into(),
                    alert_id: alert.into(),
                    payload: format!("{{\"patient\":\"{PATIENT}\",\"key\":\"{key}\"}}"),
                    not_before: now,
                    created_at: now,
                })
                .unwrap()
        );
    }
    let listed = queue.list(&Default::default()).unwrap();
    let id = |key: &str| listed.iter().find(|d| d.key == key).unwrap().id;
    assert!(
        queue
            .mark_failed(
                id("k-pending"),
                2,
                Some(Timestamp(now.millis() + 60_000)),
                ERROR
            )
            .unwrap()
    );
    assert!(queue.mark_delivered(id("k-delivered"), now).unwrap());
    assert!(
        queue
            .mark_failed(id("k-abandoned"), 8, None, "gave up after 8 attempts")
            .unwrap()
    );
    let router = ward_console::router(ConsoleState::new(store.clone(), ConsoleOptions::default()));
    Harness {
        _dir: dir,
        router,
        store,
        users,
        sessions: Default::default(),
    }
}

impl Harness {
    /// A full session for the role's demo user, made in the store; its cookie value.
    fn session(&self, role: Role) -> String {
        let n = self
            .sessions
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let token = format!("{:062x}{:02x}", n, role as u8);
        let hash: [u8; 32] = {
            use sha2::Digest;
            sha2::Sha256::digest(token.as_bytes()).into()
        };
        let user = self.users.iter().find(|u| u.role == role).unwrap();
        self.store
            .accounts()
            .create_session(&SessionRecord {
                token_sha256: hash,
                user: user.name.clone(),
                stage: SessionStage::Full,
                created_at: Timestamp::now(),
                last_seen: Timestamp::now(),
                ip: None,
            })
            .unwrap();
        token
    }

    async fn get(&self, role: Role, path: &str) -> (StatusCode, String) {
        let mut request = Request::get(path)
            .header(
                header::COOKIE,
                format!("__Host-ward_session={}", self.session(role)),
            )
            .body(Body::empty())
            .unwrap();
        request
            .extensions_mut()
            .insert(ClientAddr(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9))));
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn the_notifications_page_lists_deliveries_without_their_payloads() {
    rt().block_on(async {
        let h = harness();
        for role in [Role::Admin, Role::SecurityAnalyst] {
            let (status, page) = h.get(role, "/deliveries").await;
            assert_eq!(status, StatusCode::OK, "{role:?}: {page}");
            assert!(
                page.contains(r#"<a href="/deliveries" aria-current="page">Notifications</a>"#)
            );
            for shown in [
                "soc-webhook",
                "it-mail",
                "teams",
                "pending",
                "delivered",
                "abandoned",
            ] {
                assert!(page.contains(shown), "{shown} is listed");
            }
            assert!(
                page.contains(r#"<a href="/alerts/a1">a1</a>"#),
                "alert link"
            );
            assert!(page.contains("several"), "a digest names no single alert");
            assert!(page.contains(ERROR), "the last error is shown");
            assert!(!page.contains(PATIENT), "a payload never reaches the page");
            assert!(!page.contains("k-pending"), "nor its key");
        }
        let (_, filtered) = h.get(Role::Admin, "/deliveries?state=abandoned").await;
        assert!(filtered.contains("teams") && !filtered.contains("soc-webhook"));
        for role in [
            Role::PrivacyOfficer,
            Role::ComplianceAuditor,
            Role::SocPartner,
        ] {
            let (status, _) = h.get(role, "/deliveries").await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{role:?}");
            let (_, alerts) = h.get(role, "/alerts").await;
            assert!(
                !alerts.contains("href=\"/deliveries\""),
                "{role:?} has no link"
            );
        }
    });
}

#[test]
fn the_deliveries_api_answers_what_its_strict_schema_describes() {
    rt().block_on(async {
        let h = harness();
        let (status, body) = h.get(Role::SecurityAnalyst, "/api/v1/deliveries").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        let list = json["deliveries"].as_array().unwrap();
        assert_eq!(list.len(), 4);
        assert!(!body.contains(PATIENT), "no payload in the API either");

        let (_, doc) = h.get(Role::Admin, "/api/v1/openapi.json").await;
        let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
        let op = &doc["paths"]["/api/v1/deliveries"]["get"];
        assert_eq!(op["x-ward-permission"], "view_deliveries");
        let schema = &doc["components"]["schemas"]["Delivery"];
        assert_eq!(schema["additionalProperties"], false);
        let mut required: Vec<&str> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        required.sort_unstable();
        for item in list {
            let mut keys: Vec<&str> = item
                .as_object()
                .unwrap()
                .keys()
                .map(|k| k.as_str())
                .collect();
            keys.sort_unstable();
            assert_eq!(keys, required, "every key described, none left out");
        }
        let pending = list.iter().find(|d| d["channel"] == "soc-webhook").unwrap();
        assert_eq!(pending["state"], "pending");
        assert_eq!(pending["attempts"], 2);
        assert_eq!(pending["last_error"], ERROR);
        assert!(pending["next_try"].is_string());
        let delivered = list.iter().find(|d| d["state"] == "delivered").unwrap();
        assert!(delivered["next_try"].is_null() && delivered["delivered_at"].is_string());

        let (_, one) = h
            .get(
                Role::Admin,
                "/api/v1/deliveries?state=abandoned&channel=teams",
            )
            .await;
        let one: serde_json::Value = serde_json::from_str(&one).unwrap();
        assert_eq!(one["deliveries"].as_array().unwrap().len(), 1);
        for bad in ["state=lost", "limit=0", "limit=501", "colour=red"] {
            let (status, _) = h
                .get(Role::Admin, &format!("/api/v1/deliveries?{bad}"))
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        }
        let (status, _) = h.get(Role::SocPartner, "/api/v1/deliveries").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    });
}
