//! The inventory pages and `/api/v1/inventory/…` over a real SQLite store holding an imported
//! asset list, a KEV feed (two real catalogue entries), TLS scans, flows from guest Wi-Fi to
//! the EHR database gathered by the inventory's watcher, and two devices nobody has reviewed:
//! what each role may see, the findings with their reasons, the exposure order, encryption
//! gaps, the network map, and reviewing unknown devices (CSRF-protected and audited).

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tower::ServiceExt;
use ward_console::{ClientAddr, ConsoleOptions, ConsoleState, DemoUser, Role, create_demo_users};
use ward_detect::threat::inventory::Inventory as ZonesAndPolicy;
use ward_inventory::reach::Watcher;
use ward_inventory::stored;
use ward_model::event::class;
use ward_model::{Event, Timestamp};
use ward_store::{
    EventQuery, ScanRecord, SessionRecord, SessionStage, Sighting, SightingReview, SqliteStore,
    Store,
};

/// Two entries exactly as the CISA catalogue of 2025-08-25 has them.
const KEV: &str = r#"{
  "title": "CISA Catalog of Known Exploited Vulnerabilities",
  "catalogVersion": "2025.08.25",
  "dateReleased": "2025-08-25T17:04:19.9796Z",
  "count": 2,
  "vulnerabilities": [
    {"cveID": "CVE-2021-36955", "vendorProject": "Microsoft", "product": "Windows",
     "vulnerabilityName": "Microsoft Windows Common Log File System (CLFS) Driver Privilege Escalation Vulnerability",
     "dateAdded": "2021-11-03",
     "shortDescription": "Microsoft Windows Common Log File System (CLFS) driver contains an unspecified vulnerability that allows for privilege escalation.",
     "requiredAction": "Apply updates per vendor instructions.", "dueDate": "2021-11-17",
     "knownRansomwareCampaignUse": "Known", "notes": "https://nvd.nist.gov/vuln/detail/CVE-2021-36955", "cwes": []},
    {"cveID": "CVE-2025-24813", "vendorProject": "Apache", "product": "Tomcat",
     "vulnerabilityName": "Apache Tomcat Path Equivalence Vulnerability", "dateAdded": "2025-04-01",
     "shortDescription": "Apache Tomcat contains a path equivalence vulnerability that allows a remote attacker to execute code, disclose information, or inject malicious content via a partial PUT request.",
     "requiredAction": "Apply mitigations per vendor instructions, follow applicable BOD 22-01 guidance for cloud services, or discontinue use of the product if mitigations are unavailable.",
     "dueDate": "2025-04-22", "knownRansomwareCampaignUse": "Unknown",
     "notes": "https://nvd.nist.gov/vuln/detail/CVE-2025-24813", "cwes": ["CWE-44", "CWE-502"]}
  ]
}"#;

const ASSETS: &str = "\
hostname,name,kind,zone,ip,owner,stores_phi,processes_phi,transmits_phi,mfa,encryption_at_rest,encryption_in_transit,criticality,vendor,os,os_version,os_cpe,software
ehr-db.hospital.example,EHR database,server,ehr-servers,10.20.0.5,Clinical IT,yes,yes,no,yes,yes,yes,patient-care-critical,Epic,Windows Server 2019,10.0.17763,cpe:2.3:o:microsoft:windows_server_2019:-:*:*:*:*:*:*:*,
portal.hospital.example,Patient portal,server,dmz,10.40.0.8,Web team,no,yes,yes,no,no,yes,medium,,Ubuntu,22.04,,cpe:2.3:a:apache:tomcat:9.0.98:*:*:*:*:*:*:*
printer-3.hospital.example,Ward 3 printer,iot,clinical,10.10.0.30,Facilities,no,no,no,unknown,unknown,unknown,low,,,,,
";

const ZONES: &str = r#"
[[zone]]
name = "clinical"
cidr = "10.10.0.0/16"
description = "clinical workstations"

[[zone]]
name = "ehr-servers"
cidr = "10.20.0.0/16"
description = "EHR servers"

[[zone]]
name = "dmz"
cidr = "10.40.0.0/16"
kind = "dmz"

[[zone]]
name = "guest-wifi"
cidr = "172.16.0.0/16"
kind = "guest-wifi"

[policy]
default = "deny"

[[allow]]
from = "clinical"
to = "ehr-servers"
proto = "tcp"
ports = [443]
description = "workstations to the EHR"

[[allow]]
from = "guest-wifi"
to = "external"
description = "guests reach the internet and nothing else"
"#;

/// The threat detectors' view of the same hosts: which zones hold PHI.
const THREAT_ASSETS: &str = "\
hostname,ip,kind,model,zone,phi
ehr-db.hospital.example,10.20.0.5,server,ehr-database,ehr-servers,true
portal.hospital.example,10.40.0.8,server,patient-portal,dmz,true
";

const GUEST: &str = "172.16.5.9";

struct Harness {
    _dir: tempfile::TempDir,
    router: Router,
    store: Arc<SqliteStore>,
    users: Vec<DemoUser>,
    sessions: AtomicU64,
}

fn zones_and_policy() -> ZonesAndPolicy {
    let (zones, policy) = ZonesAndPolicy::parse_zones_and_policy(ZONES).unwrap();
    assert!(policy.is_some(), "the test's zones.toml has a policy");
    ZonesAndPolicy::new()
        .with_zones(zones)
        .with_policy(policy)
        .with_assets(ZonesAndPolicy::parse_assets(THREAT_ASSETS).unwrap())
}

/// A Zeek `conn` row from the guest network to the EHR database's SQL port.
fn guest_to_ehr(at: Timestamp) -> Event {
    let mut e = Event::from_record("zeek", at, format!("conn {}", at.millis()).into_bytes());
    e.class_uid = class::NETWORK_ACTIVITY;
    e.metadata.event_code = Some("conn".into());
    e.status_detail = Some("SF".into());
    e.src_endpoint.ip = Some(GUEST.into());
    e.dst_endpoint.ip = Some("10.20.0.5".into());
    e.dst_endpoint.port = Some(1433);
    e.unmapped.insert("proto", "tcp".into());
    e
}

fn sighting(key: &str, address: &str, hostname: Option<&str>, now: Timestamp) -> Sighting {
    Sighting {
        key: key.into(),
        address: Some(address.into()),
        hostname: hostname.map(String::from),
        mac: Some("00:1a:2b:3c:4d:5e".into()),
        first_seen: Timestamp(now.millis() - 3_600_000),
        last_seen: now,
        events: 12,
        sources: vec!["zeek_conn".into()],
        services: vec!["tcp/445".into()],
        review: SightingReview::Unreviewed,
        reviewed_by: None,
        reviewed_at: None,
    }
}

fn harness_with(zones: ZonesAndPolicy) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let users = create_demo_users(store.as_ref()).unwrap();
    let now = Timestamp::now();
    let assets = ward_inventory::parse_assets(ASSETS).unwrap();
    stored::save_assets(store.as_ref(), assets, now).unwrap();
    stored::import_feed(
        store.as_ref(),
        KEV.as_bytes().to_vec(),
        "known_exploited_vulnerabilities.json",
        None,
        "",
        now,
    )
    .unwrap();
    for (target, grade) in [("10.20.0.5:443", "A"), ("portal.hospital.example:443", "F")] {
        store
            .inventory()
            .put_scan(&ScanRecord {
                target: target.into(),
                scanned_at: now,
                grade: grade.into(),
                body: "{}".into(),
            })
            .unwrap();
    }
    let zones = Arc::new(zones);
    let watcher = Watcher::new(zones.clone());
    let mut detector = watcher.detector();
    for i in 0..3 {
        detector.observe(
            &guest_to_ehr(Timestamp(now.millis() - i * 1000)),
            &mut Vec::new(),
        );
    }
    watcher.flush(store.as_ref()).unwrap();
    store
        .inventory()
        .record_sightings(&[
            sighting(
                "ip:10.10.0.77",
                "10.10.0.77",
                Some("ws-new.hospital.example"),
                now,
            ),
            sighting("ip:10.10.0.78", "10.10.0.78", None, now),
        ])
        .unwrap();
    let router = ward_console::router(ConsoleState::new(
        store.clone(),
        ConsoleOptions {
            inventory: zones,
            ..ConsoleOptions::default()
        },
    ));
    Harness {
        _dir: dir,
        router,
        store,
        users,
        sessions: AtomicU64::new(0),
    }
}

fn harness() -> Harness {
    harness_with(zones_and_policy())
}

fn csrf_in(html: &str) -> Option<String> {
    let at = html.find(r#"name="csrf" value=""#)? + r#"name="csrf" value=""#.len();
    Some(html[at..].split('"').next()?.to_string())
}

struct Answer {
    status: StatusCode,
    location: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

impl Harness {
    /// A full session for the role's demo user, made in the store; its cookie value.
    fn session(&self, role: Role) -> String {
        let n = self.sessions.fetch_add(1, Ordering::Relaxed);
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

    async fn send(&self, session: &str, mut request: Request<Body>) -> Answer {
        request.headers_mut().insert(
            header::COOKIE,
            format!("__Host-ward_session={session}").parse().unwrap(),
        );
        request
            .extensions_mut()
            .insert(ClientAddr(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9))));
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            location,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn get_as(&self, session: &str, path: &str) -> Answer {
        self.send(session, Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    async fn get(&self, role: Role, path: &str) -> Answer {
        let session = self.session(role);
        self.get_as(&session, path).await
    }

    async fn post_form(&self, session: &str, path: &str, fields: &[(&str, &str)]) -> Answer {
        let body = serde_urlencoded::to_string(fields).unwrap();
        let request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        self.send(session, request).await
    }

    async fn post_json(&self, session: &str, csrf: &str, path: &str, body: &Value) -> Answer {
        let request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-csrf-token", csrf)
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send(session, request).await
    }

    /// The devices the inventory does not list and nobody has reviewed, by key.
    fn unreviewed_keys(&self) -> Vec<String> {
        let assets = stored::load_assets(self.store.as_ref()).unwrap();
        let mut keys: Vec<String> = stored::unknown_devices(self.store.as_ref(), &assets)
            .unwrap()
            .into_iter()
            .map(|s| s.key)
            .collect();
        keys.sort();
        keys
    }

    /// Ward's audit events naming `target`, as `(user, detail)`.
    fn audited(&self, target: &str) -> Vec<(String, String)> {
        self.store
            .query_events(&EventQuery {
                class_uid: Some(class::API_ACTIVITY),
                limit: Some(500),
                ..Default::default()
            })
            .unwrap()
            .into_iter()
            .filter(|e| e.metadata.product == ward_store::AUDIT_PRODUCT)
            .filter(|e| e.unmapped.get("target").and_then(Value::as_str) == Some(target))
            .map(|e| {
                (
                    e.actor.user.name.unwrap_or_default(),
                    e.status_detail.unwrap_or_default(),
                )
            })
            .collect()
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

const PAGES: [&str; 7] = [
    "/inventory",
    "/inventory/assets/ehr-db.hospital.example",
    "/inventory/exposure",
    "/inventory/network",
    "/inventory/encryption",
    "/inventory/unknown",
    "/inventory?kind=server&phi=true",
];

const APIS: [&str; 7] = [
    "/api/v1/inventory/assets",
    "/api/v1/inventory/assets/ehr-db.hospital.example",
    "/api/v1/inventory/exposure",
    "/api/v1/inventory/encryption",
    "/api/v1/inventory/unknown",
    "/api/v1/inventory/reachability",
    "/api/v1/inventory/reachability?format=svg",
];

#[test]
fn every_inventory_page_and_answer_is_for_the_in_house_roles_and_not_the_soc_partner() {
    rt().block_on(async {
        let h = harness();
        for role in [
            Role::Admin,
            Role::SecurityAnalyst,
            Role::ComplianceAuditor,
            Role::PrivacyOfficer,
        ] {
            for path in PAGES.iter().chain(&APIS) {
                let answer = h.get(role, path).await;
                assert_eq!(
                    answer.status,
                    StatusCode::OK,
                    "{role:?} {path}: {}",
                    answer.body
                );
            }
            let overview = h.get(role, "/inventory").await.body;
            assert!(
                overview.contains(r#"<a href="/inventory" aria-current="page">Inventory</a>"#),
                "{role:?} has the navigation entry"
            );
        }
        for path in PAGES.iter().chain(&APIS) {
            let answer = h.get(Role::SocPartner, path).await;
            assert_eq!(answer.status, StatusCode::FORBIDDEN, "SOC partner {path}");
        }
        let alerts = h.get(Role::SocPartner, "/alerts").await.body;
        assert!(
            !alerts.contains(r#"href="/inventory""#),
            "no link for the SOC partner"
        );
        let missing = h.get(Role::Admin, "/inventory/assets/no-such-host").await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
    });
}

#[test]
fn the_asset_list_counts_kinds_filters_and_names_the_feed_versions() {
    rt().block_on(async {
        let h = harness();
        let page = h.get(Role::SecurityAnalyst, "/inventory").await.body;
        assert!(page.contains(r#"<span class="n">3</span>assets"#), "{page}");
        assert!(page.contains(r#"<span class="n">2</span>server"#));
        assert!(page.contains(r#"<a href="/inventory/assets/ehr-db.hospital.example">"#));
        assert!(page.contains("2025.08.25"), "the KEV version is shown");
        assert!(page.contains("known_exploited_vulnerabilities.json"));
        assert!(
            page.contains("No endoflife.date feed imported"),
            "a missing feed is said"
        );
        assert!(!page.contains("No KEV feed imported"));

        let phi = h
            .get(Role::SecurityAnalyst, "/inventory?phi=true")
            .await
            .body;
        assert!(phi.contains("ehr-db.hospital.example") && phi.contains("portal.hospital.example"));
        assert!(!phi.contains("printer-3.hospital.example"));
        let iot = h
            .get(Role::SecurityAnalyst, "/inventory?kind=iot")
            .await
            .body;
        assert!(iot.contains("printer-3.hospital.example") && !iot.contains(">ehr-db."));
        let zone = h
            .get(Role::SecurityAnalyst, "/inventory?zone=dmz")
            .await
            .body;
        assert!(zone.contains("portal.hospital.example") && !zone.contains(">ehr-db."));

        for bad in [
            "/inventory?kind=toaster",
            "/inventory?phi=maybe",
            "/inventory?colour=red",
        ] {
            assert_eq!(
                h.get(Role::Admin, bad).await.status,
                StatusCode::BAD_REQUEST,
                "{bad}"
            );
        }

        let api = h
            .get(Role::Admin, "/api/v1/inventory/assets?kind=server")
            .await
            .json();
        assert_eq!(api["counts_by_kind"]["server"], 2);
        assert_eq!(api["counts_by_kind"]["iot"], 1);
        assert_eq!(api["feeds"][0]["name"], "kev");
        assert_eq!(api["feeds"][0]["version"], "2025.08.25");
        let missing: Vec<&str> = api["missing_feeds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(missing, ["endoflife", "nvd"]);
        let assets = api["assets"].as_array().unwrap();
        assert_eq!(assets.len(), 2);
        let ehr = &assets[0];
        assert_eq!(ehr["id"], "ehr-db.hospital.example");
        assert_eq!(ehr["phi"]["stores"], true);
        assert_eq!(ehr["criticality"], "patient-care-critical");
        assert_eq!(ehr["findings"], 1, "{ehr}");
        assert_eq!(ehr["mfa"], true);
        assert_eq!(assets[1]["encrypted_at_rest"], false);
    });
}

#[test]
fn without_a_kev_feed_the_list_says_findings_cannot_include_exploited_vulnerabilities() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
        let users = create_demo_users(store.as_ref()).unwrap();
        let assets = ward_inventory::parse_assets(ASSETS).unwrap();
        stored::save_assets(store.as_ref(), assets, Timestamp::now()).unwrap();
        let h = Harness {
            router: ward_console::router(ConsoleState::new(
                store.clone(),
                ConsoleOptions::default(),
            )),
            _dir: dir,
            store,
            users,
            sessions: AtomicU64::new(0),
        };
        let page = h.get(Role::Admin, "/inventory").await.body;
        assert!(page.contains("No KEV feed imported"), "{page}");
        let network = h.get(Role::Admin, "/inventory/network").await.body;
        assert!(network.contains("no segmentation policy"), "{network}");
        assert!(network.contains("docs/inventory-files.md"));
        assert!(!network.contains("<svg"));
        let json = h
            .get(Role::Admin, "/api/v1/inventory/reachability")
            .await
            .json();
        assert_eq!(json["policy"], false);
        let svg = h
            .get(Role::Admin, "/api/v1/inventory/reachability?format=svg")
            .await;
        assert_eq!(svg.status, StatusCode::NOT_FOUND, "no map to draw");
    });
}

#[test]
fn the_asset_page_shows_software_findings_with_their_reason_reachability_and_scans() {
    rt().block_on(async {
        let h = harness();
        let page = h
            .get(
                Role::ComplianceAuditor,
                "/inventory/assets/ehr-db.hospital.example",
            )
            .await
            .body;
        assert!(page.contains("<h1>EHR database</h1>"), "{page}");
        assert!(page.contains("Clinical IT"), "the owner");
        assert!(
            page.contains("cpe:2.3:o:microsoft:windows_server_2019"),
            "the OS CPE"
        );
        assert!(page.contains("CVE-2021-36955"));
        assert!(page.contains("known exploited"));
        assert!(
            page.contains("possible: only the vendor and product match"),
            "the reason"
        );
        assert!(page.contains("ransomware"));
        assert!(
            page.contains("guest-wifi was seen reaching this asset in ehr-servers"),
            "{page}"
        );
        assert!(page.contains("10.20.0.5:443"), "its TLS scan");

        let json = h
            .get(
                Role::Admin,
                "/api/v1/inventory/assets/ehr-db.hospital.example",
            )
            .await
            .json();
        assert_eq!(json["asset"]["id"], "ehr-db.hospital.example");
        assert_eq!(json["asset"]["os"]["name"], "Windows Server 2019");
        assert_eq!(json["findings"][0]["id"], "CVE-2021-36955");
        assert_eq!(json["findings"][0]["kind"], "kev");
        assert_eq!(json["findings"][0]["confidence"], "possible");
        assert_eq!(json["findings"][0]["ransomware"], true);
        assert!(
            json["findings"][0]["reason"]
                .as_str()
                .unwrap()
                .contains("CVE-2021-36955 lists Microsoft Windows as exploited")
        );
        assert_eq!(json["reachability"]["from_untrusted"], true);
        assert_eq!(json["scans"][0]["grade"], "A");
        let missing = h
            .get(Role::Admin, "/api/v1/inventory/assets/no-such-host")
            .await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_eq!(missing.json()["error"], "not_found");
    });
}

#[test]
fn exposure_ranks_the_reachable_critical_phi_server_above_the_portal_and_skips_clean_assets() {
    rt().block_on(async {
        let h = harness();
        let json = h
            .get(Role::SecurityAnalyst, "/api/v1/inventory/exposure")
            .await
            .json();
        let entries = json["entries"].as_array().unwrap();
        let order: Vec<&str> = entries
            .iter()
            .map(|e| e["asset_id"].as_str().unwrap())
            .collect();
        assert_eq!(
            order,
            ["ehr-db.hospital.example", "portal.hospital.example"]
        );
        assert!(entries[0]["score"].as_u64() > entries[1]["score"].as_u64());
        let kinds: Vec<&str> = entries[0]["factors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["kind"].as_str().unwrap())
            .collect();
        for kind in [
            "known-exploited",
            "ransomware",
            "phi",
            "untrusted-reach",
            "criticality",
        ] {
            assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
        }
        assert_eq!(json["feeds"][0]["version"], "2025.08.25");

        let page = h
            .get(Role::SecurityAnalyst, "/inventory/exposure")
            .await
            .body;
        let ehr = page.find(">ehr-db.hospital.example<").unwrap();
        let portal = page.find(">portal.hospital.example<").unwrap();
        assert!(ehr < portal, "the page keeps the order");
        assert!(!page.contains(">printer-3.hospital.example<"));
        assert!(
            page.contains(
                "possibly known exploited, vendor and product match only: CVE-2021-36955"
            ),
            "factor details: {page}"
        );
    });
}

#[test]
fn encryption_coverage_lists_gaps_first_and_counts_covered_phi_systems() {
    rt().block_on(async {
        let h = harness();
        let page = h
            .get(Role::PrivacyOfficer, "/inventory/encryption")
            .await
            .body;
        assert!(
            page.contains("1 of 2 PHI systems encrypted at rest and in transit"),
            "{page}"
        );
        let portal = page.find(">portal.hospital.example<").unwrap();
        let ehr = page.find(">ehr-db.hospital.example<").unwrap();
        assert!(portal < ehr, "gaps first");
        assert!(page.contains("not encrypted at rest"));
        assert!(page.contains("weak or broken TLS: portal.hospital.example:443 grade F"));
        assert!(!page.contains("printer-3"), "only systems with PHI");

        let json = h
            .get(Role::Admin, "/api/v1/inventory/encryption")
            .await
            .json();
        assert_eq!(json["phi_systems"], 2);
        assert_eq!(json["covered"], 1);
        let first = &json["systems"][0];
        assert_eq!(first["asset_id"], "portal.hospital.example");
        assert_eq!(first["at_rest"], false);
        assert_eq!(first["in_transit_declared"], true);
        assert_eq!(
            first["in_transit"], false,
            "the scan overrules the declaration"
        );
        assert_eq!(first["scans"][0]["grade"], "F");
        assert_eq!(json["systems"][1]["gaps"].as_array().unwrap().len(), 0);
    });
}

#[test]
fn the_network_page_draws_the_map_and_says_what_reaches_phi() {
    rt().block_on(async {
        let h = harness();
        let page = h
            .get(Role::SecurityAnalyst, "/inventory/network")
            .await
            .body;
        assert!(
            page.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""),
            "{page}"
        );
        assert!(page.contains("<h3>ehr-servers</h3>"));
        assert!(
            page.contains("workstations") || page.contains("tcp 443"),
            "by policy"
        );
        assert!(page.contains("tcp/1433 (denied)"), "the observed flow");
        assert!(
            page.contains(
                r#"href="/alerts?rule=threat.segmentation.policy_violation&#38;status=all""#
            ),
            "the link to the segmentation alerts: {page}"
        );

        let json = h
            .get(Role::Admin, "/api/v1/inventory/reachability")
            .await
            .json();
        assert_eq!(json["policy"], true);
        let ehr = json["phi_reach"]
            .as_array()
            .unwrap()
            .iter()
            .find(|z| z["zone"] == "ehr-servers")
            .unwrap();
        assert_eq!(ehr["by_policy"][0]["from"], "clinical");
        assert_eq!(ehr["observed"][0]["from"], "guest-wifi");
        assert_eq!(ehr["observed"][0]["connections"], 3);
        assert_eq!(ehr["observed"][0]["denied"], 3);
        assert_eq!(json["edges"][0]["services"][0]["port"], 1433);

        let svg = h
            .get(Role::Admin, "/api/v1/inventory/reachability?format=svg")
            .await;
        assert_eq!(svg.status, StatusCode::OK);
        assert!(svg.body.starts_with("<svg"));
        let bad = h
            .get(Role::Admin, "/api/v1/inventory/reachability?format=png")
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    });
}

#[test]
fn accepting_an_unknown_device_adds_the_asset_and_is_audited() {
    rt().block_on(async {
        let h = harness();
        let session = h.session(Role::SecurityAnalyst);
        let page = h.get_as(&session, "/inventory/unknown").await.body;
        assert!(
            page.contains("ip:10.10.0.77") && page.contains("ip:10.10.0.78"),
            "{page}"
        );
        assert!(
            page.contains(r#"name="asset_id" value="ws-new.hospital.example""#),
            "the host name is offered"
        );
        assert!(
            page.contains(r#"name="asset_id" value="10.10.0.78""#),
            "else the address"
        );
        let csrf = csrf_in(&page).unwrap();

        let answer = h
            .post_form(
                &session,
                "/inventory/unknown/accept",
                &[
                    ("csrf", &csrf),
                    ("key", "ip:10.10.0.77"),
                    ("asset_id", "ws-new.hospital.example"),
                ],
            )
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        assert_eq!(answer.location, "/inventory/assets/ws-new.hospital.example");
        let asset = stored::load_asset(h.store.as_ref(), "ws-new.hospital.example")
            .unwrap()
            .expect("the asset was created");
        assert_eq!(asset.addresses, ["10.10.0.77".parse::<IpAddr>().unwrap()]);
        assert_eq!(h.unreviewed_keys(), ["ip:10.10.0.78"]);
        let after = h.get_as(&session, "/inventory/unknown").await.body;
        assert!(!after.contains("ip:10.10.0.77"), "no longer listed");
        let analyst = &h
            .users
            .iter()
            .find(|u| u.role == Role::SecurityAnalyst)
            .unwrap()
            .name;
        assert_eq!(
            h.audited("sighting:ip:10.10.0.77"),
            [(
                analyst.clone(),
                "device accepted into the inventory as asset ws-new.hospital.example".to_string()
            )]
        );

        // A bad id is refused before anything changes.
        let bad = h
            .post_form(
                &session,
                "/inventory/unknown/accept",
                &[
                    ("csrf", &csrf),
                    ("key", "ip:10.10.0.78"),
                    ("asset_id", "no spaces"),
                ],
            )
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert_eq!(h.unreviewed_keys(), ["ip:10.10.0.78"]);
    });
}

#[test]
fn dismissing_needs_the_csrf_token_a_reason_and_the_manage_permission() {
    rt().block_on(async {
        let h = harness();
        let session = h.session(Role::Admin);
        let page = h.get_as(&session, "/inventory/unknown").await.body;
        let csrf = csrf_in(&page).unwrap();
        let form = |csrf: &'static str| {
            [
                ("csrf", csrf),
                ("key", "ip:10.10.0.78"),
                ("reason", "a visitor's laptop"),
            ]
        };

        let forged = h
            .post_form(&session, "/inventory/unknown/dismiss", &form("forged"))
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let without = h
            .post_form(
                &session,
                "/inventory/unknown/dismiss",
                &[("key", "ip:10.10.0.78"), ("reason", "a visitor's laptop")],
            )
            .await;
        assert_eq!(without.status, StatusCode::FORBIDDEN);
        let blank = h
            .post_form(
                &session,
                "/inventory/unknown/dismiss",
                &[("csrf", &csrf), ("key", "ip:10.10.0.78"), ("reason", "  ")],
            )
            .await;
        assert_eq!(blank.status, StatusCode::BAD_REQUEST);
        assert_eq!(h.unreviewed_keys().len(), 2, "nothing changed yet");

        // The auditor sees the list but neither the forms nor the right to post them.
        let auditor = h.session(Role::ComplianceAuditor);
        let seen = h.get_as(&auditor, "/inventory/unknown").await.body;
        assert!(seen.contains("ip:10.10.0.78") && !seen.contains("/inventory/unknown/dismiss"));
        let auditor_csrf = csrf_in(&seen).unwrap();
        let refused = h
            .post_form(
                &auditor,
                "/inventory/unknown/dismiss",
                &[
                    ("csrf", &auditor_csrf),
                    ("key", "ip:10.10.0.78"),
                    ("reason", "x"),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);

        let done = h
            .post_form(
                &session,
                "/inventory/unknown/dismiss",
                &[
                    ("csrf", &csrf),
                    ("key", "ip:10.10.0.78"),
                    ("reason", "a visitor's laptop"),
                ],
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        assert_eq!(h.unreviewed_keys(), ["ip:10.10.0.77"]);
        let reviewed = h
            .store
            .inventory()
            .sightings(false)
            .unwrap()
            .into_iter()
            .find(|s| s.key == "ip:10.10.0.78")
            .unwrap();
        assert_eq!(
            reviewed.review,
            SightingReview::Dismissed {
                reason: "a visitor's laptop".into()
            }
        );
        assert_eq!(h.audited("sighting:ip:10.10.0.78").len(), 1);
        assert!(
            h.audited("sighting:ip:10.10.0.78")[0]
                .1
                .contains("a visitor's laptop")
        );

        let gone = h
            .post_form(
                &session,
                "/inventory/unknown/dismiss",
                &[("csrf", &csrf), ("key", "ip:10.9.9.9"), ("reason", "x")],
            )
            .await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND);
    });
}

#[test]
fn the_review_api_accepts_with_the_seen_host_name_dismisses_and_refuses_what_its_schema_refuses() {
    rt().block_on(async {
        let h = harness();
        let session = h.session(Role::SecurityAnalyst);
        let csrf = csrf_in(&h.get_as(&session, "/inventory/unknown").await.body).unwrap();
        let list = h.get_as(&session, "/api/v1/inventory/unknown").await.json();
        let devices = list["devices"].as_array().unwrap();
        assert_eq!(devices.len(), 2);
        assert_eq!(devices[0]["key"], "ip:10.10.0.77");
        assert_eq!(devices[0]["hostname"], "ws-new.hospital.example");
        assert_eq!(devices[1]["hostname"], Value::Null);
        assert_eq!(devices[0]["services"][0], "tcp/445");

        let path = "/api/v1/inventory/unknown/review";
        for bad in [
            serde_json::json!({"key": "ip:10.10.0.78", "decision": "dismiss"}),
            serde_json::json!({"key": "ip:10.10.0.78", "decision": "dismiss", "reason": " "}),
            serde_json::json!({"key": "ip:10.10.0.78", "decision": "dismiss", "reason": null}),
            serde_json::json!({"key": "", "decision": "dismiss", "reason": "x"}),
            serde_json::json!({"key": "ip:10.10.0.78", "decision": "ignore"}),
            serde_json::json!({"key": "ip:10.10.0.78", "decision": "accept", "asset_id": "-x"}),
            serde_json::json!({"key": "ip:10.10.0.78", "decision": "accept", "colour": "red"}),
            serde_json::json!(["ip:10.10.0.78"]),
        ] {
            let answer = h.post_json(&session, &csrf, path, &bad).await;
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad}: {}", answer.body);
        }
        assert_eq!(h.unreviewed_keys().len(), 2);

        let accepted = h
            .post_json(
                &session,
                &csrf,
                path,
                &serde_json::json!({"key": "ip:10.10.0.77", "decision": "accept"}),
            )
            .await;
        assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
        assert_eq!(
            accepted.json(),
            serde_json::json!({"key": "ip:10.10.0.77", "review": "accepted", "asset_id": "ws-new.hospital.example"})
        );
        let dismissed = h
            .post_json(
                &session,
                &csrf,
                path,
                &serde_json::json!({"key": "ip:10.10.0.78", "decision": "dismiss", "reason": "guest laptop"}),
            )
            .await
            .json();
        assert_eq!(dismissed["review"], "dismissed");
        assert_eq!(dismissed["asset_id"], Value::Null);
        assert!(h.unreviewed_keys().is_empty());
        let empty = h.get_as(&session, "/api/v1/inventory/unknown").await.json();
        assert_eq!(empty["devices"], serde_json::json!([]));
        let assets = h
            .get_as(&session, "/api/v1/inventory/assets?kind=other")
            .await
            .json();
        assert_eq!(assets["assets"][0]["id"], "ws-new.hospital.example");

        let auditor = h.session(Role::ComplianceAuditor);
        let refused = h
            .post_json(
                &auditor,
                "",
                path,
                &serde_json::json!({"key": "ip:10.10.0.78", "decision": "dismiss", "reason": "x"}),
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
    });
}

#[test]
fn the_openapi_document_describes_the_inventory_answers() {
    rt().block_on(async {
        let h = harness();
        let doc = h.get(Role::Admin, "/api/v1/openapi.json").await.json();
        for (path, method, permission) in [
            ("/api/v1/inventory/assets", "get", "view_inventory"),
            ("/api/v1/inventory/assets/{id}", "get", "view_inventory"),
            ("/api/v1/inventory/exposure", "get", "view_inventory"),
            ("/api/v1/inventory/encryption", "get", "view_inventory"),
            ("/api/v1/inventory/unknown", "get", "view_inventory"),
            ("/api/v1/inventory/reachability", "get", "view_inventory"),
            (
                "/api/v1/inventory/unknown/review",
                "post",
                "manage_inventory",
            ),
        ] {
            let op = &doc["paths"][path][method];
            assert_eq!(op["x-ward-permission"], permission, "{method} {path}");
        }
        let content =
            &doc["paths"]["/api/v1/inventory/reachability"]["get"]["responses"]["200"]["content"];
        assert!(content["image/svg+xml"].is_object());
        let schemas = &doc["components"]["schemas"];
        // Every property an answer has is one its schema names, with every required one present.
        let answers = [
            (
                "InventoryAssetList",
                h.get(Role::Admin, "/api/v1/inventory/assets").await.json(),
            ),
            (
                "InventoryAssetDetail",
                h.get(
                    Role::Admin,
                    "/api/v1/inventory/assets/ehr-db.hospital.example",
                )
                .await
                .json(),
            ),
            (
                "ExposureList",
                h.get(Role::Admin, "/api/v1/inventory/exposure")
                    .await
                    .json(),
            ),
            (
                "EncryptionCoverage",
                h.get(Role::Admin, "/api/v1/inventory/encryption")
                    .await
                    .json(),
            ),
            (
                "UnknownDeviceList",
                h.get(Role::Admin, "/api/v1/inventory/unknown").await.json(),
            ),
            (
                "Reachability",
                h.get(Role::Admin, "/api/v1/inventory/reachability")
                    .await
                    .json(),
            ),
        ];
        for (name, answer) in &answers {
            if let Err(why) = conforms(schemas, &schemas[*name], answer, name) {
                panic!("{why}");
            }
        }
    });
}

/// A small check of an answer against its schema: types, required properties, enums, and
/// nested objects and arrays, following `$ref`s and `oneOf`. Not a full JSON Schema
/// validator; the schemathesis run of the browser test is that.
fn conforms(schemas: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(name) = schema["$ref"].as_str() {
        let name = name.trim_start_matches("#/components/schemas/");
        return conforms(schemas, &schemas[name], value, at);
    }
    if let Some(options) = schema["oneOf"].as_array() {
        let fitting = options
            .iter()
            .filter(|o| conforms(schemas, o, value, at).is_ok())
            .count();
        return match fitting {
            1 => Ok(()),
            n => Err(format!("{at}: {value} fits {n} of the oneOf options")),
        };
    }
    let type_name = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let allowed: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !allowed.is_empty() && !allowed.contains(&type_name) {
        return Err(format!("{at}: {value} is not {allowed:?}"));
    }
    if let Some(options) = schema["enum"].as_array()
        && !options.contains(value)
    {
        return Err(format!("{at}: {value} not in {options:?}"));
    }
    match value {
        Value::Object(map) => {
            for required in schema["required"].as_array().into_iter().flatten() {
                let key = required.as_str().unwrap_or_default();
                if !map.contains_key(key) {
                    return Err(format!("{at}: {key} missing"));
                }
            }
            for (key, v) in map {
                let here = format!("{at}.{key}");
                let property = &schema["properties"][key];
                if !property.is_null() {
                    conforms(schemas, property, v, &here)?;
                } else if schema["additionalProperties"].is_object() {
                    conforms(schemas, &schema["additionalProperties"], v, &here)?;
                } else if !schema["properties"].is_null() {
                    return Err(format!("{here} is not in the schema"));
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                conforms(schemas, &schema["items"], item, &format!("{at}[{i}]"))?;
            }
        }
        _ => {}
    }
    Ok(())
}
