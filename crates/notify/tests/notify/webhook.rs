use crate::support::*;
use ward_model::Severity;
use ward_notify::send::http::{HttpTarget, signature};

fn config(url: &str, extra: &str) -> String {
    format!(
        r#"
        console_url = "https://ward.clinic.example"
        [channels.mdr]
        kind = "webhook"
        url = "{url}"
        secret = "s3cret-shared-with-the-mdr"
        format = "ocsf"
        {extra}
        [[routes]]
        channels = ["mdr"]
        "#
    )
}

#[tokio::test]
async fn signed_ocsf_webhook_is_verified_by_the_receiver() {
    let receiver = HttpReceiver::start(Some(b"s3cret-shared-with-the-mdr")).await;
    let db = store();
    let n = notifier(&config(&receiver.url("/ward"), ""), &db.store);
    let now = at("2026-03-02T10:00:00Z");
    let alert = threat_alert("a-threat", Severity::High, now);
    assert_eq!(n.alerts(std::slice::from_ref(&alert), now).unwrap(), 1);
    let report = n.pump(now).await.unwrap();
    assert_eq!((report.delivered, report.failed), (1, 0));

    let got = receiver.accepted();
    assert_eq!(got.len(), 1);
    assert!(receiver.rejected().is_empty());
    assert_eq!(got[0].path, "/ward");
    assert_eq!(
        got[0].headers["x-ward-timestamp"],
        (now.millis() / 1000).to_string().as_str()
    );
    assert_eq!(
        got[0].headers["x-ward-delivery"],
        format!("mdr|a-threat|v|17|{}", now.millis()).as_str()
    );
    let f = got[0].json();
    assert_eq!(f["class_uid"], 2004);
    assert_eq!(f["category_uid"], 2);
    assert_eq!(f["activity_id"], 1);
    assert_eq!(f["type_uid"], 200401);
    assert_eq!(f["severity_id"], 4);
    assert_eq!(f["status_id"], 1);
    assert_eq!(f["finding_info"]["uid"], "a-threat");
    assert_eq!(f["finding_info"]["title"], alert.title);
    assert_eq!(f["finding_info"]["types"][0], "threat.credential.spray");
    assert_eq!(
        f["finding_info"]["first_seen_time"],
        alert.first_seen.millis()
    );
    assert_eq!(
        f["finding_info"]["last_seen_time"],
        alert.last_seen.millis()
    );
    assert_eq!(
        f["finding_info"]["src_url"],
        "https://ward.clinic.example/alerts/a-threat"
    );
    assert_eq!(f["attacks"][0]["technique"]["uid"], "T1110.003");
    assert_eq!(f["metadata"]["product"]["name"], "Ward");
    let observables = f["observables"].as_array().unwrap();
    assert!(
        observables
            .iter()
            .any(|o| o["type_id"] == 2 && o["value"] == "203.0.113.9")
    );
    assert!(
        observables
            .iter()
            .any(|o| o["type_id"] == 4 && o["value"] == "svc=backup")
    );

    // Seen again with more matches: an update (activity 2), once.
    let mut again = alert.clone();
    again.count = 18;
    again.last_seen = plus(now, 60);
    assert_eq!(
        n.alerts(std::slice::from_ref(&again), plus(now, 60))
            .unwrap(),
        1
    );
    assert_eq!(
        n.alerts(std::slice::from_ref(&again), plus(now, 61))
            .unwrap(),
        0
    );
    n.pump(plus(now, 61)).await.unwrap();
    let got = receiver.accepted();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].json()["activity_id"], 2);
    assert_eq!(got[1].json()["count"], 18);
}

#[tokio::test]
async fn the_receiver_rejects_a_tampered_body_or_a_replayed_timestamp() {
    let secret = b"s3cret-shared-with-the-mdr";
    let receiver = HttpReceiver::start(Some(secret)).await;
    let target = HttpTarget::new(&receiver.url("/ward"), test_tls()).unwrap();
    let body = br#"{"alert":"a1","severity":"high"}"#.to_vec();
    let ts = 1_772_445_600;
    let good = signature(secret, ts, &body);
    let headers = |ts: i64, sig: &str| {
        vec![
            ("x-ward-timestamp", ts.to_string()),
            ("x-ward-signature", sig.to_string()),
        ]
    };
    target
        .post(&headers(ts, &good), body.clone())
        .await
        .unwrap();

    let tampered = br#"{"alert":"a1","severity":"low"}"#.to_vec();
    let err = target
        .post(&headers(ts, &good), tampered)
        .await
        .unwrap_err();
    assert!(err.0.contains("HTTP 401"), "{err}");
    // The timestamp is signed too: moving it (a replay dressed up as new) breaks the MAC.
    let err = target
        .post(&headers(ts + 600, &good), body.clone())
        .await
        .unwrap_err();
    assert!(err.0.contains("HTTP 401"), "{err}");
    let wrong_key = signature(b"another secret", ts, &body);
    assert!(target.post(&headers(ts, &wrong_key), body).await.is_err());

    assert_eq!(receiver.accepted().len(), 1);
    assert_eq!(receiver.rejected().len(), 3);
}

fn test_tls() -> std::sync::Arc<rustls::ClientConfig> {
    std::sync::Arc::new(
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth(),
    )
}

#[tokio::test]
async fn slack_and_teams_receive_their_own_shapes() {
    let slack = HttpReceiver::start(None).await;
    let teams = HttpReceiver::start(None).await;
    let cfg = format!(
        r#"
        console_url = "https://ward.clinic.example"
        [channels.slack]
        kind = "slack"
        url = "{}"
        [channels.teams]
        kind = "teams"
        url = "{}"
        [[routes]]
        channels = ["slack", "teams"]
        "#,
        slack.url("/services/T0/B0/XYZ"),
        teams.url("/workflows/abc")
    );
    let db = store();
    let n = notifier(&cfg, &db.store);
    let now = at("2026-03-02T10:00:00Z");
    let mut alert = threat_alert("a-chat", Severity::Critical, now);
    alert.title = "Spray <!channel> & more".into();
    n.alerts(&[alert], now).unwrap();
    assert_eq!(n.pump(now).await.unwrap().delivered, 2);

    let s = slack.accepted()[0].json();
    assert!(
        s["text"]
            .as_str()
            .unwrap()
            .contains("&lt;!channel&gt; &amp; more")
    );
    let blocks = s["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["type"], "plain_text");
    assert!(
        blocks
            .iter()
            .any(|b| b["type"] == "section" && b["fields"].is_array())
    );
    let context = blocks.last().unwrap()["elements"][0]["text"]
        .as_str()
        .unwrap();
    assert!(context.contains("<https://ward.clinic.example/alerts/a-chat|Open in Ward>"));

    let t = teams.accepted()[0].json();
    assert_eq!(t["type"], "message");
    let attachment = &t["attachments"][0];
    assert_eq!(
        attachment["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let card = &attachment["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["version"], "1.4");
    assert_eq!(card["body"][0]["type"], "TextBlock");
    assert!(
        card["body"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["type"] == "FactSet")
    );
    assert_eq!(card["actions"][0]["type"], "Action.OpenUrl");
    assert_eq!(
        card["actions"][0]["url"],
        "https://ward.clinic.example/alerts/a-chat"
    );
}
