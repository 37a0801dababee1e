//! Incidents in the console end to end: an alert becomes an incident, its tasks are worked,
//! the breach is assessed, deadlines reach the overview, evidence is added and verified; roles
//! decide who may change what and who sees letters; a letter's view is in the audit trail.
//! The router is driven request by request over a real SQLite store with a hand-moved clock
//! (helpers copied in small from `console.rs`).

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use sha2::Digest;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;
use tower::ServiceExt;
use ward_console::{ClientAddr, ConsoleOptions, ConsoleState, DemoUser, Role, create_demo_users};
use ward_model::event::class;
use ward_model::{Alert, AlertEntities, AlertStatus, Event, EventId, Severity, Timestamp};
use ward_store::{AuditQuery, Batch, SessionRecord, SessionStage, SqliteStore, Store};

/// 2026-11-28T00:00:00Z.
const T0: i64 = 1_795_824_000_000;
const PATIENT_ID: &str = "pt-1001";
const DAY: Duration = Duration::from_secs(86_400);

struct Harness {
    _dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    router: Router,
    clock: Arc<AtomicI64>,
    users: Vec<DemoUser>,
    sessions: AtomicU64,
}

fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let clock = Arc::new(AtomicI64::new(T0));
    let ticks = Arc::clone(&clock);
    let options = ConsoleOptions {
        clock: Arc::new(move || Timestamp(ticks.load(Ordering::SeqCst))),
        ..ConsoleOptions::default()
    };
    let users = create_demo_users(store.as_ref()).unwrap();
    seed(store.as_ref());
    let router = ward_console::router(ConsoleState::new(store.clone(), options));
    Harness {
        _dir: dir,
        store,
        router,
        clock,
        users,
        sessions: AtomicU64::new(0),
    }
}

/// An EHR read of a patient's chart and an alert about it (T1078 routes it to the
/// compromised-account playbook).
fn seed(store: &dyn Store) {
    let mut e = Event::from_record(
        "fhir",
        Timestamp(T0 - 3_600_000),
        b"{\"id\":\"ae1\"}".to_vec(),
    );
    e.class_uid = class::API_ACTIVITY;
    e.activity_id = 2;
    e.actor.user.name = Some("jdoe".into());
    e.patient.id = Some(PATIENT_ID.into());
    let ids: Vec<EventId> = vec![e.id];
    store
        .commit(&Batch {
            events: vec![e],
            ..Default::default()
        })
        .unwrap();
    let alert = Alert {
        id: "a1".into(),
        rule_id: "ward.snooping.same_surname".into(),
        title: "Record of a patient with the user's surname opened".into(),
        severity: Severity::High,
        first_seen: Timestamp(T0 - 3_600_000),
        last_seen: Timestamp(T0 - 3_600_000),
        count: 1,
        entities: AlertEntities {
            user: Some("jdoe".into()),
            patient: Some(PATIENT_ID.into()),
            ..Default::default()
        },
        attack: vec!["T1078".into()],
        hipaa: vec![],
        status: AlertStatus::Open,
        author: None,
        license: None,
        references: vec![],
        description: None,
    };
    store.upsert_alert(&alert, &ids).unwrap();
}

#[derive(Default)]
struct Browser {
    cookie: String,
    csrf: String,
}

struct Answer {
    status: StatusCode,
    location: String,
    body: String,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

fn value_after(html: &str, marker: &str) -> Option<String> {
    let at = html.find(marker)? + marker.len();
    Some(html[at..].split('"').next()?.to_string())
}

impl Harness {
    fn advance(&self, by: Duration) {
        self.clock
            .fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }

    fn now(&self) -> Timestamp {
        Timestamp(self.clock.load(Ordering::SeqCst))
    }

    fn user(&self, role: Role) -> String {
        self.users
            .iter()
            .find(|u| u.role == role)
            .unwrap()
            .name
            .clone()
    }

    /// A full session made directly in the store, as of the clock's now.
    async fn session_for(&self, role: Role) -> Browser {
        let n = self.sessions.fetch_add(1, Ordering::SeqCst);
        let token = format!("{:064x}", (role as u8 as u128) << 32 | n as u128);
        self.store
            .accounts()
            .create_session(&SessionRecord {
                token_sha256: sha2::Sha256::digest(token.as_bytes()).into(),
                user: self.user(role),
                stage: SessionStage::Full,
                created_at: self.now(),
                last_seen: self.now(),
                ip: None,
            })
            .unwrap();
        let mut browser = Browser {
            cookie: format!("__Host-ward_session={token}"),
            csrf: String::new(),
        };
        let page = self.get(&mut browser, "/account/mfa").await;
        assert_eq!(page.status, StatusCode::OK);
        browser
    }

    async fn send(&self, browser: &mut Browser, mut request: Request<Body>) -> Answer {
        request
            .headers_mut()
            .insert(header::COOKIE, browser.cookie.parse().unwrap());
        request
            .extensions_mut()
            .insert(ClientAddr(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7))));
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = String::from_utf8_lossy(&bytes).into_owned();
        if let Some(csrf) = value_after(&body, r#"name="csrf" value=""#) {
            browser.csrf = csrf;
        }
        Answer {
            status,
            location,
            body,
        }
    }

    async fn get(&self, browser: &mut Browser, path: &str) -> Answer {
        self.send(browser, Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    async fn post(&self, browser: &mut Browser, path: &str, fields: &[(&str, &str)]) -> Answer {
        let mut all = fields.to_vec();
        let csrf = browser.csrf.clone();
        all.push(("csrf", &csrf));
        let request = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(serde_urlencoded::to_string(&all).unwrap()))
            .unwrap();
        self.send(browser, request).await
    }

    async fn post_json(&self, browser: &mut Browser, path: &str, body: &str) -> Answer {
        let request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-csrf-token", browser.csrf.clone())
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send(browser, request).await
    }

    /// Opens an incident from alert a1 through the alert page's button; returns its page path.
    async fn open_from_alert(&self, browser: &mut Browser) -> String {
        let alert = self.get(browser, "/alerts/a1").await;
        assert!(
            alert.body.contains(r#"action="/alerts/a1/incident""#),
            "the alert page offers to open an incident"
        );
        let opened = self
            .post(browser, "/alerts/a1/incident", &[("incident_type", "")])
            .await;
        assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.body);
        assert!(opened.location.starts_with("/incidents/"));
        opened.location
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

const FOUR_HIGH_FACTORS: &[(&str, &str)] = &[
    ("nature_and_extent", "high"),
    (
        "nature_and_extent_reasoning",
        "Full chart including diagnoses was opened.",
    ),
    ("unauthorised_recipient", "high"),
    (
        "unauthorised_recipient_reasoning",
        "A workforce member with no treatment relationship.",
    ),
    ("acquired_or_viewed", "high"),
    (
        "acquired_or_viewed_reasoning",
        "The audit trail shows the chart was viewed.",
    ),
    ("mitigation", "moderate"),
    (
        "mitigation_reasoning",
        "Access revoked; no attestation obtained yet.",
    ),
];

#[test]
fn an_alert_becomes_an_incident_worked_to_deadlines_and_verified_evidence() {
    rt().block_on(async {
        let h = harness();
        let mut po = h.session_for(Role::PrivacyOfficer).await;
        let page_path = h.open_from_alert(&mut po).await;

        // The playbook's tasks are listed, each with a form to move it on.
        let page = h.get(&mut po, &page_path).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("compromised_account"), "routed by T1078");
        assert!(
            page.body.contains(r#"<a href="/alerts/a1">"#),
            "the alert is linked"
        );
        assert!(
            page.body.contains(PATIENT_ID),
            "the privacy officer sees the patient"
        );
        let open_tasks = page.body.matches(r#"class="task-todo""#).count();
        assert!(open_tasks > 3, "{open_tasks} tasks");
        let task_id = value_after(&page.body, r#"name="task_id" value=""#).unwrap();

        let done = h
            .post(
                &mut po,
                &format!("{page_path}/task"),
                &[("task_id", &task_id), ("status", "done")],
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        let page = h.get(&mut po, &page_path).await;
        assert_eq!(
            page.body.matches(r#"class="task-todo""#).count(),
            open_tasks - 1
        );
        assert_eq!(page.body.matches(r#"class="task-done""#).count(), 1);
        // A task id from nowhere is refused, not applied.
        let stray = h
            .post(
                &mut po,
                &format!("{page_path}/task"),
                &[("task_id", "999999"), ("status", "done")],
            )
            .await;
        assert_eq!(stray.status, StatusCode::NOT_FOUND);

        // A factor without reasoning is refused; four assessed factors give a breach.
        let bare = h
            .post(
                &mut po,
                &format!("{page_path}/assessment"),
                &[("nature_and_extent", "low")],
            )
            .await;
        assert_eq!(bare.status, StatusCode::BAD_REQUEST, "{}", bare.body);
        let assessed = h
            .post(
                &mut po,
                &format!("{page_path}/assessment"),
                FOUR_HIGH_FACTORS,
            )
            .await;
        assert_eq!(assessed.status, StatusCode::SEE_OTHER, "{}", assessed.body);
        let page = h.get(&mut po, &page_path).await;
        assert!(page.body.contains("Determination: <strong>breach</strong>"));
        assert!(
            page.body
                .contains("The audit trail shows the chart was viewed.")
        );

        // Deadlines: discovery is the alert's first day (2026-11-27), individuals by day 60.
        let computed = h
            .post(
                &mut po,
                &format!("{page_path}/deadlines"),
                &[("role", "covered_entity")],
            )
            .await;
        assert_eq!(computed.status, StatusCode::SEE_OTHER, "{}", computed.body);
        let page = h.get(&mut po, &page_path).await;
        assert!(page.body.contains("2027-01-26"), "individuals' last day");
        assert!(page.body.contains("45 CFR 164.404(b)"));
        let overview = h.get(&mut po, "/overview").await;
        assert!(overview.body.contains("Notification deadlines"));
        assert!(
            overview
                .body
                .contains(&format!(r#"<a href="{page_path}">"#))
        );
        assert!(overview.body.contains(r#"class="deadline-upcoming""#));

        // Text evidence: hashed on arrival, listed with its SHA-256, verified intact.
        let content = "sshd: Failed password for jdoe from 203.0.113.77\n";
        let added = h
            .post(
                &mut po,
                &format!("{page_path}/evidence"),
                &[("name", "bastion auth.log excerpt"), ("content", content)],
            )
            .await;
        assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
        let digest: String = sha2::Sha256::digest(content.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let page = h.get(&mut po, &page_path).await;
        assert!(page.body.contains(&digest), "the SHA-256 is listed");
        assert!(page.body.contains("Never verified."));
        let verified = h.post(&mut po, &format!("{page_path}/verify"), &[]).await;
        assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);
        assert!(
            verified
                .body
                .contains("Custody verification: <strong>intact: 1 files")
        );
        let page = h.get(&mut po, &page_path).await;
        assert!(page.body.contains("Last verified"));
        // The privacy officer reads the content back; the reading joins the custody chain.
        let evidence_id = value_after(&page.body, "/evidence?item=").unwrap();
        let read = h
            .get(&mut po, &format!("{page_path}/evidence?item={evidence_id}"))
            .await;
        assert_eq!(read.status, StatusCode::OK);
        assert!(read.body.contains("Failed password for jdoe"));

        // The API twins.
        let list = h.get(&mut po, "/api/v1/incidents").await.json();
        assert_eq!(list["incidents"][0]["incident_type"], "compromised_account");
        assert_eq!(list["incidents"][0]["next_deadline"]["kind"], "individuals");
        assert_eq!(list["incidents"][0]["next_deadline"]["status"], "upcoming");
        let id = list["incidents"][0]["id"].as_i64().unwrap();
        let one = h
            .get(&mut po, &format!("/api/v1/incidents/{id}"))
            .await
            .json();
        assert_eq!(one["assessment"]["conclusion"], "breach");
        assert_eq!(one["evidence"][0]["sha256"], digest.as_str());
        assert!(
            one["links"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["value"] == PATIENT_ID)
        );
        let opened = h
            .post_json(
                &mut po,
                "/api/v1/incidents",
                r#"{"alerts":["a1"],"incident_type":"insider_snooping"}"#,
            )
            .await;
        assert_eq!(opened.status, StatusCode::OK, "{}", opened.body);
        assert_eq!(opened.json()["incident_type"], "insider_snooping");
        let missing = h
            .post_json(
                &mut po,
                "/api/v1/incidents",
                r#"{"alerts":["no-such-alert"]}"#,
            )
            .await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        let unknown_field = h
            .post_json(
                &mut po,
                "/api/v1/incidents",
                r#"{"alerts":["a1"],"extra":1}"#,
            )
            .await;
        assert_eq!(unknown_field.status, StatusCode::BAD_REQUEST);

        // Sixty-one days later the individuals' notice is overdue on the overview.
        h.advance(DAY * 61);
        let mut po = h.session_for(Role::PrivacyOfficer).await;
        let overview = h.get(&mut po, "/overview").await;
        assert!(
            overview.body.contains(r#"class="deadline-overdue""#),
            "{}",
            overview.body
        );
        assert!(overview.body.contains("overdue by 2 days"));
    });
}

#[test]
fn roles_decide_who_changes_incidents_and_who_sees_patients_and_letters() {
    rt().block_on(async {
        let h = harness();
        let mut po = h.session_for(Role::PrivacyOfficer).await;
        let page_path = h.open_from_alert(&mut po).await;
        let page = h.get(&mut po, &page_path).await;
        let task_id = value_after(&page.body, r#"name="task_id" value=""#).unwrap();

        // The auditor reads, without forms, and may change nothing.
        let mut auditor = h.session_for(Role::ComplianceAuditor).await;
        let page = h.get(&mut auditor, &page_path).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(!page.body.contains("Record an assessment"));
        assert!(!page.body.contains(r#"name="task_id""#));
        assert!(!page.body.contains(PATIENT_ID), "the patient is masked");
        assert!(page.body.contains("masked-"));
        for (path, fields) in [
            (
                "task",
                vec![("task_id", task_id.as_str()), ("status", "done")],
            ),
            ("assessment", FOUR_HIGH_FACTORS.to_vec()),
            ("evidence", vec![("name", "x"), ("content", "y")]),
            ("deadlines", vec![("role", "covered_entity")]),
            ("verify", vec![]),
        ] {
            let answer = h
                .post(&mut auditor, &format!("{page_path}/{path}"), &fields)
                .await;
            assert_eq!(answer.status, StatusCode::FORBIDDEN, "auditor POST {path}");
        }
        let opened = h
            .post(
                &mut auditor,
                "/alerts/a1/incident",
                &[("incident_type", "")],
            )
            .await;
        assert_eq!(opened.status, StatusCode::FORBIDDEN);
        assert!(
            !h.get(&mut auditor, "/alerts/a1")
                .await
                .body
                .contains("Open incident")
        );

        // The analyst works tasks and evidence on masked views, but assesses nothing and
        // reads no letter or evidence content.
        let mut analyst = h.session_for(Role::SecurityAnalyst).await;
        let page = h.get(&mut analyst, &page_path).await;
        assert!(!page.body.contains(PATIENT_ID));
        assert!(!page.body.contains("Draft a notification letter"));
        let done = h
            .post(
                &mut analyst,
                &format!("{page_path}/task"),
                &[("task_id", &task_id), ("status", "in_progress")],
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER);
        let assessed = h
            .post(
                &mut analyst,
                &format!("{page_path}/assessment"),
                FOUR_HIGH_FACTORS,
            )
            .await;
        assert_eq!(assessed.status, StatusCode::FORBIDDEN);
        assert_eq!(
            h.get(&mut analyst, &format!("{page_path}/letter"))
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        let api = h.get(&mut analyst, "/api/v1/incidents/1").await.json();
        assert!(
            api["links"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["kind"] == "patient"
                    && l["value"].as_str().unwrap().starts_with("masked-"))
        );

        // The SOC partner sees no incident and no letter.
        let mut soc = h.session_for(Role::SocPartner).await;
        assert_eq!(
            h.get(&mut soc, &page_path).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            h.get(&mut soc, "/incidents").await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            h.get(&mut soc, &format!("{page_path}/letter")).await.status,
            StatusCode::FORBIDDEN
        );
        let letter = h
            .post(
                &mut soc,
                &format!("{page_path}/letter"),
                &[("patient", PATIENT_ID)],
            )
            .await;
        assert_eq!(letter.status, StatusCode::FORBIDDEN);
        assert_eq!(
            h.get(&mut soc, "/api/v1/incidents").await.status,
            StatusCode::FORBIDDEN
        );
        assert!(
            !h.get(&mut soc, "/alerts/a1")
                .await
                .body
                .contains("Open incident")
        );
    });
}

#[test]
fn viewing_a_patients_letter_is_written_to_the_audit_trail() {
    rt().block_on(async {
        let h = harness();
        let mut po = h.session_for(Role::PrivacyOfficer).await;
        let page_path = h.open_from_alert(&mut po).await;
        let letter_views = || {
            h.store
                .accounts()
                .audit_events(&AuditQuery {
                    patient: Some(PATIENT_ID.into()),
                    ..Default::default()
                })
                .unwrap()
                .into_iter()
                .filter(|e| e.resource.id.as_deref() == Some("POST /incidents/{id}/letter"))
                .count()
        };
        assert_eq!(letter_views(), 0);

        let form = h.get(&mut po, &format!("{page_path}/letter")).await;
        assert_eq!(form.status, StatusCode::OK);
        assert!(
            form.body
                .contains(&format!(r#"<option value="{PATIENT_ID}""#))
        );
        let fields = [
            ("patient", PATIENT_ID),
            ("organisation", "Riverside General Hospital"),
            ("signatory", "Dana Privacy"),
            ("signatory_title", "Privacy Officer"),
            ("phone", "1-800-555-0100"),
            (
                "what_happened",
                "A workforce member opened your record without a work reason.",
            ),
            ("phi_types", "name\ndiagnoses"),
            ("steps", "Review the statements you receive from us."),
            ("doing", "We revoked the access and retrained staff."),
        ];
        let letter = h
            .post(&mut po, &format!("{page_path}/letter"), &fields)
            .await;
        assert_eq!(letter.status, StatusCode::OK, "{}", letter.body);
        assert!(
            letter
                .body
                .contains("Notice of a privacy incident at Riverside General Hospital")
        );
        assert!(letter.body.contains("1-800-555-0100"));
        assert_eq!(
            letter_views(),
            1,
            "the view of the patient's letter is recorded"
        );

        // A letter element missing is refused, naming it; a patient not linked is not found.
        let mut lacking = fields.to_vec();
        lacking.retain(|(k, _)| *k != "steps");
        let refused = h
            .post(&mut po, &format!("{page_path}/letter"), &lacking)
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
        let mut stranger = fields.to_vec();
        stranger[0] = ("patient", "pt-9999");
        let refused = h
            .post(&mut po, &format!("{page_path}/letter"), &stranger)
            .await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND);
    });
}

#[test]
fn a_written_law_enforcement_delay_moves_the_individuals_deadline() {
    rt().block_on(async {
        let h = harness();
        let mut po = h.session_for(Role::PrivacyOfficer).await;
        let page_path = h.open_from_alert(&mut po).await;
        let compute = [("role", "covered_entity")];
        h.post(&mut po, &format!("{page_path}/deadlines"), &compute)
            .await;
        assert!(h.get(&mut po, &page_path).await.body.contains("2027-01-26"));

        let unnamed = h
            .post(
                &mut po,
                &format!("{page_path}/delay"),
                &[
                    ("official", " "),
                    ("form", "oral"),
                    ("stated_on", "2026-11-28"),
                ],
            )
            .await;
        assert_eq!(
            unnamed.status,
            StatusCode::BAD_REQUEST,
            "164.412(b) names the official"
        );
        let recorded = h
            .post(
                &mut po,
                &format!("{page_path}/delay"),
                &[
                    ("official", "Det. A. Smith"),
                    ("agency", "State Police"),
                    ("form", "written"),
                    ("stated_on", "2026-11-28"),
                    ("until", "2026-12-07"),
                ],
            )
            .await;
        assert_eq!(recorded.status, StatusCode::SEE_OTHER, "{}", recorded.body);
        h.post(&mut po, &format!("{page_path}/deadlines"), &compute)
            .await;
        let page = h.get(&mut po, &page_path).await;
        assert!(
            page.body
                .contains("written statement of 2026-11-28 until 2026-12-07 by Det. A. Smith")
        );
        // Ten paused days (28 November to 7 December inclusive) move day 60 by ten.
        assert!(page.body.contains("2027-02-05"), "{}", page.body);
        assert!(!page.body.contains("<td>2027-01-26</td>"));
    });
}

/// Whether Chromium can print here; under CI it must (`.ci/run` installs it).
fn chromium_present(test: &str) -> bool {
    match ward_respond::pdf::find_chromium(None) {
        Ok(_) => true,
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("{test}: CI must have Chromium: {e}")
        }
        Err(e) => {
            eprintln!("skipping {test}: {e}");
            false
        }
    }
}

fn phi_views_at(h: &Harness, place: &str) -> usize {
    h.store
        .accounts()
        .audit_events(&AuditQuery {
            patient: Some(PATIENT_ID.into()),
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .filter(|e| e.resource.id.as_deref() == Some(place))
        .count()
}

#[test]
fn the_incident_report_downloads_as_pdf_naming_patients_only_for_the_privacy_officer() {
    if !chromium_present("the console PDF test") {
        return;
    }
    rt().block_on(async {
        let h = harness();
        let mut po = h.session_for(Role::PrivacyOfficer).await;
        let page_path = h.open_from_alert(&mut po).await;
        let page = h.get(&mut po, &page_path).await;
        assert!(
            page.body
                .contains(&format!(r#"href="{page_path}/report.pdf""#))
        );
        let place = "GET /incidents/{id}/report.pdf";

        let pdf = h.get(&mut po, &format!("{page_path}/report.pdf")).await;
        assert_eq!(pdf.status, StatusCode::OK, "{}", pdf.body);
        assert!(pdf.body.starts_with("%PDF-"));
        assert!(
            pdf.body.contains("/Type /Page") || pdf.body.contains("/Type/Page"),
            "at least one page"
        );
        assert_eq!(
            phi_views_at(&h, place),
            1,
            "the named patient's view is audited"
        );

        let mut analyst = h.session_for(Role::SecurityAnalyst).await;
        let pdf = h
            .get(&mut analyst, &format!("{page_path}/report.pdf"))
            .await;
        assert_eq!(pdf.status, StatusCode::OK);
        assert!(pdf.body.starts_with("%PDF-"));
        assert_eq!(
            phi_views_at(&h, place),
            1,
            "patients counted, not named: no PHI view"
        );

        let mut partner = h.session_for(Role::SocPartner).await;
        let refused = h
            .get(&mut partner, &format!("{page_path}/report.pdf"))
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let missing = h.get(&mut po, "/incidents/999/report.pdf").await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
    });
}

#[test]
fn an_assessment_computes_the_deadlines_and_notices_are_recorded_as_given() {
    rt().block_on(async {
        let h = harness();
        let mut po = h.session_for(Role::PrivacyOfficer).await;
        let page_path = h.open_from_alert(&mut po).await;
        assert!(
            h.get(&mut po, &page_path)
                .await
                .body
                .contains("No deadlines computed yet.")
        );
        let assessed = h
            .post(
                &mut po,
                &format!("{page_path}/assessment"),
                FOUR_HIGH_FACTORS,
            )
            .await;
        assert_eq!(assessed.status, StatusCode::SEE_OTHER, "{}", assessed.body);
        let page = h.get(&mut po, &page_path).await;
        // Without pressing "Compute deadlines": 60 days from 27 November.
        assert!(page.body.contains("<td>2027-01-26</td>"), "{}", page.body);
        assert!(
            page.body
                .contains("deadlines recomputed after the assessment")
        );
        // The seeded patient is not in the patient context: no address, so substitute notice.
        assert!(page.body.contains("alternative_notice"));
        assert!(page.body.contains(r#"<option value="individuals">"#));

        // Recording a notice: CSRF-checked, permission-checked, validated, audited.
        let fields = [
            ("notice", "individuals"),
            ("given_on", "2026-11-28"),
            ("method", "first-class mail"),
        ];
        let mut analyst = h.session_for(Role::SecurityAnalyst).await;
        h.get(&mut analyst, &page_path).await;
        let refused = h
            .post(&mut analyst, &format!("{page_path}/notice"), &fields)
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let forged = Request::post(format!("{page_path}/notice"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(serde_urlencoded::to_string(fields).unwrap()))
            .unwrap();
        let forged = h.send(&mut po, forged).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN, "no CSRF token");
        h.get(&mut po, &page_path).await;
        let future = h
            .post(
                &mut po,
                &format!("{page_path}/notice"),
                &[
                    ("notice", "individuals"),
                    ("given_on", "2027-01-01"),
                    ("method", "mail"),
                ],
            )
            .await;
        assert_eq!(future.status, StatusCode::BAD_REQUEST, "not in the future");
        let unknown = h
            .post(
                &mut po,
                &format!("{page_path}/notice"),
                &[
                    ("notice", "media|MA"),
                    ("given_on", "2026-11-28"),
                    ("method", "press"),
                ],
            )
            .await;
        assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
        let given = h
            .post(&mut po, &format!("{page_path}/notice"), &fields)
            .await;
        assert_eq!(given.status, StatusCode::SEE_OTHER, "{}", given.body);
        let page = h.get(&mut po, &page_path).await;
        assert!(page.body.contains("given on 2026-11-28"));
        assert!(
            page.body
                .contains("individuals notice given on 2026-11-28 by first-class mail")
        );
        assert!(!page.body.contains(r#"<option value="individuals">"#));
        let audited = h
            .store
            .accounts()
            .audit_events(&AuditQuery::default())
            .unwrap()
            .into_iter()
            .any(|e| {
                e.resource.id.as_deref() == Some("POST /incidents/{id}/notice")
                    && e.status_detail.as_deref()
                        == Some("individuals notice recorded as given on 2026-11-28")
            });
        assert!(audited, "the notice is an audit event");
    });
}

#[test]
fn an_incident_closes_with_its_review_and_its_follow_ups_are_marked_done() {
    rt().block_on(async {
        let h = harness();
        let mut po = h.session_for(Role::PrivacyOfficer).await;
        let page_path = h.open_from_alert(&mut po).await;
        let id: i64 = page_path.rsplit('/').next().unwrap().parse().unwrap();
        let review = [
            ("note", "handled"),
            ("held_on", "2026-11-28"),
            ("participants", "dana.privacy\nsam.analyst"),
            (
                "summary",
                "Access revoked the same day; the user was retrained.",
            ),
            (
                "went_well",
                "the alert reached the privacy officer within the hour",
            ),
            ("to_improve", "the relationship list was stale"),
            (
                "follow_ups",
                "Refresh the relationship list nightly | it_lead | 2026-12-15",
            ),
        ];
        // Tasks open: refused, and nothing changes.
        let refused = h
            .post(&mut po, &format!("{page_path}/close"), &review)
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(refused.body.contains("cannot close"), "{}", refused.body);
        for task in h.store.incidents().tasks(id).unwrap() {
            h.store
                .incidents()
                .update_task(
                    task.id,
                    ward_store::incidents::TaskStatus::Done,
                    None,
                    "x",
                    h.now(),
                )
                .unwrap();
        }
        let mut incomplete = review.to_vec();
        incomplete.retain(|(k, _)| *k != "participants");
        let refused = h
            .post(&mut po, &format!("{page_path}/close"), &incomplete)
            .await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "a review names its participants"
        );
        let badly_written = [("follow_ups", "Refresh the list, it_lead, soon")];
        let mut bad = review.to_vec();
        bad.retain(|(k, _)| *k != "follow_ups");
        bad.extend(badly_written);
        let refused = h.post(&mut po, &format!("{page_path}/close"), &bad).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            h.store
                .incidents()
                .get_incident(id)
                .unwrap()
                .unwrap()
                .status,
            ward_store::incidents::IncidentStatus::Open
        );

        let closed = h
            .post(&mut po, &format!("{page_path}/close"), &review)
            .await;
        assert_eq!(closed.status, StatusCode::SEE_OTHER, "{}", closed.body);
        let page = h.get(&mut po, &page_path).await;
        assert!(page.body.contains("<dt>Status</dt><dd>closed</dd>"));
        assert!(
            page.body
                .contains("Access revoked the same day; the user was retrained.")
        );
        assert!(page.body.contains("Refresh the relationship list nightly"));
        assert!(page.body.contains("Replace the review"));
        let follow_up = h.store.incidents().follow_ups(true).unwrap()[0].id;

        // A second review replaces the first (and adds its follow-ups).
        let mut again = review.to_vec();
        again.retain(|(k, _)| *k != "note" && *k != "follow_ups");
        again.push(("follow_ups", ""));
        again[2] = ("summary", "Revised after the HR interview.");
        let replaced = h
            .post(&mut po, &format!("{page_path}/review"), &again)
            .await;
        assert_eq!(replaced.status, StatusCode::SEE_OTHER, "{}", replaced.body);
        assert!(
            h.get(&mut po, &page_path)
                .await
                .body
                .contains("Revised after the HR interview.")
        );

        // The analyst does the follow-up; the auditor may not mark it.
        let mut auditor = h.session_for(Role::ComplianceAuditor).await;
        h.get(&mut auditor, &page_path).await;
        let follow_up_text = follow_up.to_string();
        let done = [
            ("follow_up", follow_up_text.as_str()),
            ("done_on", "2026-11-28"),
        ];
        let refused = h.post(&mut auditor, "/incidents/follow-up", &done).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let mut analyst = h.session_for(Role::SecurityAnalyst).await;
        h.get(&mut analyst, &page_path).await;
        let marked = h.post(&mut analyst, "/incidents/follow-up", &done).await;
        assert_eq!(marked.status, StatusCode::SEE_OTHER, "{}", marked.body);
        assert_eq!(marked.location, page_path);
        assert!(h.store.incidents().follow_ups(true).unwrap().is_empty());
        let page = h.get(&mut po, &page_path).await;
        assert!(
            page.body
                .contains(&format!("follow-up {follow_up} done on 2026-11-28"))
        );
        let again = h.post(&mut analyst, "/incidents/follow-up", &done).await;
        assert_eq!(again.status, StatusCode::NOT_FOUND, "done once");
    });
}

#[test]
fn a_tabletop_exercise_dates_the_plans_last_test_on_the_incidents_page() {
    rt().block_on(async {
        let h = harness();
        let mut po = h.session_for(Role::PrivacyOfficer).await;
        let list = h.get(&mut po, "/incidents").await;
        assert!(
            list.body.contains("Last tested: <strong>never</strong>"),
            "{}",
            list.body
        );
        let fields = [
            ("held_on", "2026-11-20"),
            (
                "scenario",
                "Ransomware encrypts the PACS archive on a Saturday night",
            ),
            ("participants", "dana.privacy\nsam.analyst\nit.lead"),
            ("findings", "night staff did not know the downtime workflow"),
            (
                "follow_ups",
                "Print the downtime workflow for radiology | it_lead | 2026-11-25",
            ),
        ];
        let mut analyst = h.session_for(Role::SecurityAnalyst).await;
        h.get(&mut analyst, "/incidents").await;
        let refused = h.post(&mut analyst, "/incidents/exercise", &fields).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let mut no_scenario = fields.to_vec();
        no_scenario[1] = ("scenario", " ");
        let refused = h.post(&mut po, "/incidents/exercise", &no_scenario).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);

        let recorded = h.post(&mut po, "/incidents/exercise", &fields).await;
        assert_eq!(recorded.status, StatusCode::SEE_OTHER, "{}", recorded.body);
        let list = h.get(&mut po, "/incidents").await;
        assert!(
            list.body
                .contains("Last tested: <strong>2026-11-20</strong>"),
            "{}",
            list.body
        );
        assert!(list.body.contains("Ransomware encrypts the PACS archive"));
        assert!(list.body.contains("<strong>2026-11-25 (overdue)</strong>"));
        let audited = h
            .store
            .accounts()
            .audit_events(&AuditQuery::default())
            .unwrap()
            .into_iter()
            .any(|e| e.resource.id.as_deref() == Some("POST /incidents/exercise"));
        assert!(audited, "the exercise is an audit event");

        let follow_up = h.store.incidents().follow_ups(true).unwrap()[0]
            .id
            .to_string();
        h.get(&mut analyst, "/incidents").await;
        let done = h
            .post(
                &mut analyst,
                "/incidents/follow-up",
                &[("follow_up", &follow_up)],
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        assert_eq!(done.location, "/incidents");
        assert!(
            !h.get(&mut po, "/incidents")
                .await
                .body
                .contains("(overdue)")
        );
    });
}

fn audited_at(h: &Harness, place: &str) -> usize {
    h.store
        .accounts()
        .audit_events(&AuditQuery::default())
        .unwrap()
        .into_iter()
        .filter(|e| e.resource.id.as_deref() == Some(place))
        .count()
}

#[test]
fn the_api_records_notices_closes_with_a_review_marks_follow_ups_and_records_exercises() {
    rt().block_on(async {
        let h = harness();
        let mut po = h.session_for(Role::PrivacyOfficer).await;
        let page_path = h.open_from_alert(&mut po).await;
        let id: i64 = page_path.rsplit('/').next().unwrap().parse().unwrap();
        h.get(&mut po, &page_path).await;
        let assessed = h
            .post(
                &mut po,
                &format!("{page_path}/assessment"),
                FOUR_HIGH_FACTORS,
            )
            .await;
        assert_eq!(assessed.status, StatusCode::SEE_OTHER, "{}", assessed.body);
        h.get(&mut po, &page_path).await;
        let api = format!("/api/v1/incidents/{id}");

        // Notices: the permission of the form, bodies checked as the document declares.
        let mut analyst = h.session_for(Role::SecurityAnalyst).await;
        h.get(&mut analyst, &page_path).await;
        let notice = r#"{"kind":"individuals","given_on":"2026-11-28","method":"first-class mail"}"#;
        let refused = h
            .post_json(&mut analyst, &format!("{api}/notice"), notice)
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        for (bad, why) in [
            (
                r#"{"kind":"pigeon","given_on":"2026-11-28","method":"bird"}"#,
                "a kind outside the enum",
            ),
            (
                r#"{"kind":"individuals","given_on":" 2026-11-28","method":"mail"}"#,
                "a date not in RFC 3339 form",
            ),
            (
                r#"{"kind":"individuals","given_on":"2026-02-30","method":"mail"}"#,
                "a day the calendar lacks",
            ),
            (
                r#"{"kind":"individuals","given_on":"2026-11-28","method":" \t"}"#,
                "a blank method",
            ),
            (
                r#"{"kind":"individuals","given_on":"2026-11-28"}"#,
                "no method",
            ),
            (
                r#"{"kind":"individuals","given_on":"2026-11-28","method":"mail","extra":1}"#,
                "an unknown field",
            ),
            (
                r#"{"kind":"individuals","given_on":"2027-01-01","method":"mail"}"#,
                "a day in the future",
            ),
        ] {
            let answer = h.post_json(&mut po, &format!("{api}/notice"), bad).await;
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{why}: {}", answer.body);
        }
        let long_method = format!(
            r#"{{"kind":"individuals","given_on":"2026-11-28","method":"{}"}}"#,
            "é".repeat(201)
        );
        let answer = h.post_json(&mut po, &format!("{api}/notice"), &long_method).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "201 characters");
        let not_owed = h
            .post_json(
                &mut po,
                &format!("{api}/notice"),
                r#"{"kind":"media","jurisdiction":"MA","given_on":"2026-11-28","method":"press"}"#,
            )
            .await;
        assert_eq!(not_owed.status, StatusCode::NOT_FOUND, "{}", not_owed.body);
        let deadlines = h.store.incidents().deadlines(id).unwrap();
        assert!(!deadlines.is_empty());
        for d in &deadlines {
            let body = serde_json::json!({"kind": d.kind, "jurisdiction": d.jurisdiction,
                "given_on": "2026-11-28", "method": "é".repeat(200)});
            let given = h
                .post_json(&mut po, &format!("{api}/notice"), &body.to_string())
                .await;
            assert_eq!(given.status, StatusCode::OK, "{}", given.body);
            assert_eq!(given.json()["given_on"], "2026-11-28");
            assert_eq!(given.json()["kind"], d.kind.as_str());
        }
        assert!(
            h.store
                .incidents()
                .deadlines(id)
                .unwrap()
                .iter()
                .all(|d| d.notified_on.is_some())
        );
        assert_eq!(
            audited_at(&h, "POST /api/v1/incidents/{id}/notice"),
            deadlines.len()
        );

        // Closing: refused while tasks are open, then closed with its review.
        let close = serde_json::json!({
            "note": "handled",
            "held_on": "2026-11-28",
            "participants": ["dana.privacy", "sam.analyst"],
            "summary": "Access revoked the same day; the user was retrained.",
            "went_well": ["the alert reached the privacy officer within the hour"],
            "to_improve": ["the relationship list was stale"],
            "follow_ups": [{"title": "Refresh the relationship list nightly",
                "owner": "it_lead", "due_on": "2026-12-15"}],
        })
        .to_string();
        let open_tasks = h.post_json(&mut po, &format!("{api}/close"), &close).await;
        assert_eq!(open_tasks.status, StatusCode::BAD_REQUEST);
        assert!(open_tasks.body.contains("cannot close"), "{}", open_tasks.body);
        for task in h.store.incidents().tasks(id).unwrap() {
            h.store
                .incidents()
                .update_task(
                    task.id,
                    ward_store::incidents::TaskStatus::Done,
                    None,
                    "x",
                    h.now(),
                )
                .unwrap();
        }
        let no_participants = close.replace(r#""participants":["dana.privacy","sam.analyst"]"#, r#""participants":[]"#);
        assert_ne!(no_participants, close);
        let refused = h
            .post_json(&mut po, &format!("{api}/close"), &no_participants)
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "a review names its participants");
        let closed = h.post_json(&mut po, &format!("{api}/close"), &close).await;
        assert_eq!(closed.status, StatusCode::OK, "{}", closed.body);
        assert_eq!(closed.json()["status"], "closed");
        assert_eq!(closed.json()["follow_ups"], 1);
        assert_eq!(
            h.store.incidents().get_incident(id).unwrap().unwrap().status,
            ward_store::incidents::IncidentStatus::Closed
        );
        assert_eq!(audited_at(&h, "POST /api/v1/incidents/{id}/close"), 1);

        // A later review takes no note; without one it replaces the review.
        let with_note = h.post_json(&mut po, &format!("{api}/review"), &close).await;
        assert_eq!(with_note.status, StatusCode::BAD_REQUEST, "the note belongs to closing");
        let review = r#"{"held_on":"2026-11-28","participants":["dana.privacy"],"summary":"Revised after the HR interview."}"#;
        let replaced = h.post_json(&mut po, &format!("{api}/review"), review).await;
        assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
        assert_eq!(replaced.json()["follow_ups"], 0);
        assert!(
            h.get(&mut po, &page_path)
                .await
                .body
                .contains("Revised after the HR interview.")
        );

        // Follow-ups: the analyst marks them, the auditor may not, and only under their incident.
        let follow_up = h.store.incidents().follow_ups(true).unwrap()[0].id;
        let done = r#"{"done_on":"2026-11-28"}"#;
        let elsewhere = h
            .post_json(&mut analyst, &format!("/api/v1/incidents/{}/follow-ups/{follow_up}/done", id + 1), done)
            .await;
        assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);
        let mut auditor = h.session_for(Role::ComplianceAuditor).await;
        h.get(&mut auditor, &page_path).await;
        let path = format!("{api}/follow-ups/{follow_up}/done");
        let refused = h.post_json(&mut auditor, &path, done).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let future = h.post_json(&mut analyst, &path, r#"{"done_on":"2026-12-01"}"#).await;
        assert_eq!(future.status, StatusCode::BAD_REQUEST, "not done in the future");
        let marked = h.post_json(&mut analyst, &path, done).await;
        assert_eq!(marked.status, StatusCode::OK, "{}", marked.body);
        assert_eq!(marked.json()["done_on"], "2026-11-28");
        assert_eq!(marked.json()["incident"], id);
        assert!(h.store.incidents().follow_ups(true).unwrap().is_empty());
        let again = h.post_json(&mut analyst, &path, "{}").await;
        assert_eq!(again.status, StatusCode::NOT_FOUND, "done once");

        // Exercises.
        let exercise = serde_json::json!({
            "held_on": "2026-11-20",
            "scenario": "Ransomware encrypts the PACS archive on a Saturday night",
            "participants": ["dana.privacy", "sam.analyst", "it.lead"],
            "findings": ["night staff did not know the downtime workflow"],
            "follow_ups": [{"title": "Print the downtime workflow for radiology",
                "owner": "it_lead", "due_on": "2026-11-25"}],
        })
        .to_string();
        let refused = h.post_json(&mut analyst, "/api/v1/exercises", &exercise).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let future = exercise.replace("2026-11-20", "2026-12-20");
        let refused = h.post_json(&mut po, "/api/v1/exercises", &future).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "held, not planned");
        let blank_owner = exercise.replace(r#""owner":"it_lead""#, r#""owner":"\u3000""#);
        assert_ne!(blank_owner, exercise);
        let refused = h.post_json(&mut po, "/api/v1/exercises", &blank_owner).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "a follow-up has an owner");
        let recorded = h.post_json(&mut po, "/api/v1/exercises", &exercise).await;
        assert_eq!(recorded.status, StatusCode::OK, "{}", recorded.body);
        assert_eq!(recorded.json()["follow_ups"], 1);
        assert_eq!(recorded.json()["held_on"], "2026-11-20");
        assert!(
            h.get(&mut po, "/incidents")
                .await
                .body
                .contains("Last tested: <strong>2026-11-20</strong>")
        );
        assert_eq!(audited_at(&h, "POST /api/v1/exercises"), 1);
        let exercise_follow_up = h.store.incidents().follow_ups(true).unwrap()[0].id;
        let not_an_incidents = h
            .post_json(&mut analyst, &format!("{api}/follow-ups/{exercise_follow_up}/done"), "{}")
            .await;
        assert_eq!(not_an_incidents.status, StatusCode::NOT_FOUND);

        // The document describes every new route.
        let document = h.get(&mut po, "/api/v1/openapi.json").await;
        for path in [
            "/api/v1/incidents/{id}/notice",
            "/api/v1/incidents/{id}/close",
            "/api/v1/incidents/{id}/review",
            "/api/v1/incidents/{id}/follow-ups/{n}/done",
            "/api/v1/exercises",
        ] {
            assert!(document.body.contains(path), "{path} in the document");
        }
    });
}
