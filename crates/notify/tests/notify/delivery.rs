use crate::support::*;
use std::collections::BTreeMap;
use ward_model::Severity;
use ward_notify::CHANNEL_FAILED_RULE;
use ward_store::{DeliveryQuery, DeliveryState};

fn webhook_config(port: u16, extra_routes: &str) -> String {
    format!(
        r#"
        [channels.mdr]
        kind = "webhook"
        url = "http://127.0.0.1:{port}/ward"
        secret = "k"
        [retry]
        first_delay_seconds = 30
        max_delay_seconds = 300
        channel_failed_after_minutes = 2
        [[routes]]
        channels = ["mdr"]
        {extra_routes}
        "#
    )
}

fn alert_ids(receiver: &HttpReceiver) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for r in receiver.accepted() {
        let id = r.json()["alert"]["id"].as_str().unwrap().to_string();
        *seen.entry(id).or_insert(0) += 1;
    }
    seen
}

#[tokio::test]
async fn a_receiver_down_for_a_while_gets_every_alert_exactly_once_when_back() {
    let port = closed_port();
    let db = store();
    let n = notifier(&webhook_config(port, ""), &db.store);
    let t0 = at("2026-03-02T03:00:00Z");
    let alerts: Vec<_> = (0..5)
        .map(|i| threat_alert(&format!("a{i}"), Severity::High, t0))
        .collect();
    assert_eq!(n.alerts(&alerts, t0).unwrap(), 5);

    // Down: the first is tried and fails; the rest wait for the retry without costing a
    // connection attempt each.
    let r = n.pump(t0).await.unwrap();
    assert_eq!((r.delivered, r.failed), (0, 1));
    assert!(r.alerts.is_empty());
    // Nothing is due again before the backoff ends (30 s).
    let r = n.pump(plus(t0, 29)).await.unwrap();
    assert_eq!((r.delivered, r.failed), (0, 0));
    let r = n.pump(plus(t0, 30)).await.unwrap();
    assert_eq!((r.delivered, r.failed), (0, 1));
    let failed = db
        .store
        .deliveries()
        .list(&DeliveryQuery::default())
        .unwrap();
    let first = failed.iter().find(|d| d.alert_id == "a0").unwrap();
    assert_eq!(first.attempts, 2);
    assert!(
        first
            .last_error
            .as_deref()
            .unwrap()
            .contains("cannot connect")
    );
    // Second failure of a0 waits 60 s (doubling).
    assert_eq!(first.next_try, plus(t0, 90));

    // Still down after the threshold: the channel raises its own alert, once.
    let r = n.pump(plus(t0, 150)).await.unwrap();
    assert_eq!(r.alerts.len(), 1);
    assert_eq!(r.alerts[0].rule_id, CHANNEL_FAILED_RULE);
    assert!(
        r.alerts[0]
            .description
            .as_deref()
            .unwrap()
            .contains("`mdr`")
    );
    assert!(n.pump(plus(t0, 400)).await.unwrap().alerts.is_empty());

    // The receiver comes back on the same port.
    let receiver = HttpReceiver::start_on(port, Some(b"k")).await;
    let mut now = plus(t0, 400);
    for _ in 0..20 {
        now = plus(now, 300);
        n.pump(now).await.unwrap();
    }
    let seen = alert_ids(&receiver);
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert!(seen.values().all(|&c| c == 1), "{seen:?}");
    let left = db
        .store
        .deliveries()
        .list(&DeliveryQuery {
            state: Some(DeliveryState::Pending),
            ..Default::default()
        })
        .unwrap();
    assert!(left.is_empty());
}

#[tokio::test]
async fn queued_deliveries_survive_a_restart_of_the_notifier_and_the_store() {
    let port = closed_port();
    let db = store();
    let t0 = at("2026-03-02T03:00:00Z");
    {
        let n = notifier(&webhook_config(port, ""), &db.store);
        n.alerts(&[threat_alert("kept", Severity::Critical, t0)], t0)
            .unwrap();
        assert_eq!(n.pump(t0).await.unwrap().failed, 1);
    }
    // A new process: the store opened again, a new notifier, the receiver back.
    let store = db.reopen();
    let receiver = HttpReceiver::start_on(port, Some(b"k")).await;
    let n = notifier(&webhook_config(port, ""), &store);
    // The engine reports the same alert again after the restart: not sent twice.
    n.alerts(&[threat_alert("kept", Severity::Critical, t0)], plus(t0, 5))
        .unwrap();
    assert_eq!(n.pump(plus(t0, 10)).await.unwrap().delivered, 0);
    assert_eq!(n.pump(plus(t0, 30)).await.unwrap().delivered, 1);
    assert_eq!(n.pump(plus(t0, 3600)).await.unwrap().delivered, 0);
    assert_eq!(alert_ids(&receiver).get("kept"), Some(&1));
}

#[tokio::test]
async fn low_alerts_are_gathered_into_one_digest_per_interval() {
    let receiver = HttpReceiver::start(Some(b"k")).await;
    let cfg = format!(
        r#"
        [channels.team]
        kind = "webhook"
        url = "{}"
        secret = "k"
        [[routes]]
        max_severity = "medium"
        digest_minutes = 60
        channels = ["team"]
        [[routes]]
        min_severity = "high"
        channels = ["team"]
        "#,
        receiver.url("/team")
    );
    let db = store();
    let n = notifier(&cfg, &db.store);
    let t0 = at("2026-03-02T10:05:00Z");
    let lows: Vec<_> = (0..3)
        .map(|i| threat_alert(&format!("low{i}"), Severity::Low, t0))
        .collect();
    n.alerts(&lows, t0).unwrap();
    n.alerts(&[threat_alert("urgent", Severity::High, t0)], t0)
        .unwrap();
    // The urgent one goes at once; the low ones wait for 11:00.
    assert_eq!(n.pump(t0).await.unwrap().delivered, 1);
    assert_eq!(
        n.pump(at("2026-03-02T10:59:59Z")).await.unwrap().delivered,
        0
    );
    assert_eq!(
        n.pump(at("2026-03-02T11:00:00Z")).await.unwrap().delivered,
        3
    );
    let got = receiver.accepted();
    assert_eq!(got.len(), 2, "one urgent message and one digest");
    let digest = got[1].json();
    assert_eq!(digest["schema"], "ward.digest.v1");
    assert_eq!(digest["count"], 3);
}

#[tokio::test]
async fn quiet_hours_hold_low_alerts_to_people_until_morning_but_not_to_the_siem() {
    let people = HttpReceiver::start(None).await;
    let siem = HttpReceiver::start(Some(b"k")).await;
    let cfg = format!(
        r#"
        utc_offset = "-05:00"
        [channels.chat]
        kind = "slack"
        url = "{}"
        [channels.siem]
        kind = "webhook"
        url = "{}"
        secret = "k"
        [[routes]]
        channels = ["chat", "siem"]
        [quiet_hours]
        start = "22:00"
        end = "07:00"
        max_severity = "low"
        "#,
        people.url("/slack"),
        siem.url("/siem")
    );
    let db = store();
    let n = notifier(&cfg, &db.store);
    // 23:30 local (-05:00).
    let night = at("2026-03-03T04:30:00Z");
    n.alerts(&[threat_alert("low", Severity::Low, night)], night)
        .unwrap();
    n.alerts(&[threat_alert("crit", Severity::Critical, night)], night)
        .unwrap();
    n.pump(night).await.unwrap();
    assert_eq!(people.accepted().len(), 1, "only the critical one at night");
    assert_eq!(siem.accepted().len(), 2);
    n.pump(at("2026-03-03T11:59:59Z")).await.unwrap();
    assert_eq!(people.accepted().len(), 1);
    // 07:00 local.
    n.pump(at("2026-03-03T12:00:00Z")).await.unwrap();
    assert_eq!(people.accepted().len(), 2);
}

#[tokio::test]
async fn messages_for_a_removed_or_changed_channel_are_abandoned_not_retried_forever() {
    let receiver = HttpReceiver::start(None).await;
    let db = store();
    let t0 = at("2026-03-02T03:00:00Z");
    let before = format!(
        r#"
        [channels.a]
        kind = "webhook"
        url = "{url}"
        secret = "k"
        [channels.b]
        kind = "webhook"
        url = "{url}"
        secret = "k"
        [[routes]]
        channels = ["a", "b"]
        "#,
        url = receiver.url("/x")
    );
    notifier(&before, &db.store)
        .alerts(&[threat_alert("t", Severity::High, t0)], t0)
        .unwrap();
    // The settings change before the queue is pumped: `a` becomes a Slack channel, `b` is gone.
    let after = format!(
        r#"
        [channels.a]
        kind = "slack"
        url = "{}"
        "#,
        receiver.url("/x")
    );
    let r = notifier(&after, &db.store).pump(t0).await.unwrap();
    assert_eq!((r.delivered, r.failed, r.abandoned), (0, 0, 2));
    assert!(receiver.accepted().is_empty());
    let abandoned = db
        .store
        .deliveries()
        .list(&DeliveryQuery {
            state: Some(DeliveryState::Abandoned),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(abandoned.len(), 2);
}
