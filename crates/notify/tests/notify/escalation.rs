use crate::support::*;
use ward_model::{AlertStatus, Severity};
use ward_store::DeliveryQuery;

/// Pages go to a webhook nobody listens on: the test reads the queue, where each page is
/// recorded (with whom it paged) the moment it is due, whether or not it could be sent.
fn config(port: u16) -> String {
    format!(
        r#"
        utc_offset = "-05:00"
        [channels.pager]
        kind = "webhook"
        url = "http://127.0.0.1:{port}/page"
        secret = "k"
        [[routes]]
        min_severity = "medium"
        page_oncall = true
        [oncall]
        start = "2026-01-05"
        handoff = "08:00"
        escalate_after_minutes = 15
        escalate_min_severity = "critical"
        people = [
            {{ name = "alice", channel = "pager" }},
            {{ name = "bob", channel = "pager" }},
            {{ name = "carol", channel = "pager" }},
        ]
        "#
    )
}

/// `(level, person)` of every page queued for an alert, in order.
fn pages(store: &std::sync::Arc<dyn ward_store::Store>, alert_id: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = store
        .deliveries()
        .list(&DeliveryQuery {
            alert_id: Some(alert_id.into()),
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .filter_map(|d| {
            let level = d.key.split("|page|").nth(1)?.to_string();
            let payload: serde_json::Value = serde_json::from_str(&d.payload).unwrap();
            let body: serde_json::Value =
                serde_json::from_str(payload["body"].as_str().unwrap()).unwrap();
            Some((level, body["page"]["person"].as_str().unwrap().to_string()))
        })
        .collect();
    out.sort();
    out
}

fn names(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[tokio::test]
async fn an_unacknowledged_critical_alert_escalates_to_the_next_person_on_call() {
    let db = store();
    let n = notifier(&config(closed_port()), &db.store);
    // Week of 2026-01-12 08:00 local: bob's week (alice, bob, carol from 2026-01-05).
    let t0 = at("2026-01-14T07:10:00Z"); // 02:10 local
    let critical = privacy_alert("crit", Severity::Critical, t0);
    let acked = privacy_alert("acked", Severity::Critical, t0);
    let acked_in_console = privacy_alert("console", Severity::Critical, t0);
    let medium = privacy_alert("medium", Severity::Medium, t0);
    db.store.upsert_alert(&acked_in_console, &[]).unwrap();
    n.alerts(
        &[
            critical.clone(),
            acked.clone(),
            acked_in_console.clone(),
            medium.clone(),
        ],
        t0,
    )
    .unwrap();
    n.pump(t0).await.unwrap();
    assert_eq!(pages(&db.store, "crit"), names(&[("0", "bob")]));

    n.acknowledged("acked");
    db.store
        .set_alert_status("console", AlertStatus::Acknowledged)
        .unwrap();

    // One second before the deadline: nothing new.
    n.pump(plus(t0, 15 * 60 - 1)).await.unwrap();
    assert_eq!(pages(&db.store, "crit").len(), 1);
    // At 15 minutes: carol (next after bob).
    let r = n.pump(plus(t0, 15 * 60)).await.unwrap();
    assert_eq!(r.escalated, 1);
    assert_eq!(
        pages(&db.store, "crit"),
        names(&[("0", "bob"), ("1", "carol")])
    );
    // At 30 minutes: alice, the last one; then no one is left.
    n.pump(plus(t0, 30 * 60)).await.unwrap();
    n.pump(plus(t0, 120 * 60)).await.unwrap();
    assert_eq!(
        pages(&db.store, "crit"),
        names(&[("0", "bob"), ("1", "carol"), ("2", "alice")])
    );

    // Acknowledged (through the notifier, or only in the console): paged once, never escalated.
    assert_eq!(pages(&db.store, "acked"), names(&[("0", "bob")]));
    assert_eq!(pages(&db.store, "console"), names(&[("0", "bob")]));
    // Below the escalation severity: paged, not escalated.
    assert_eq!(pages(&db.store, "medium"), names(&[("0", "bob")]));
    assert!(n.awaiting_acknowledgement().is_empty());
}

#[tokio::test]
async fn an_override_takes_the_first_page() {
    let cfg = config(closed_port()).replace(
        "escalate_after_minutes = 15",
        "escalate_after_minutes = 15\n        overrides = [ { person = \"alice\", from = \"2026-01-14T00:00:00Z\", until = \"2026-01-15T00:00:00Z\" } ]",
    );
    let db = store();
    let n = notifier(&cfg, &db.store);
    let t0 = at("2026-01-14T07:10:00Z");
    n.alerts(&[privacy_alert("crit", Severity::Critical, t0)], t0)
        .unwrap();
    n.pump(plus(t0, 15 * 60)).await.unwrap();
    assert_eq!(
        pages(&db.store, "crit"),
        names(&[("0", "alice"), ("1", "bob")])
    );
}

#[tokio::test]
async fn escalation_carries_on_after_a_restart() {
    let port = closed_port();
    let db = store();
    let t0 = at("2026-01-14T07:10:00Z");
    let critical = privacy_alert("crit", Severity::Critical, t0);
    db.store.upsert_alert(&critical, &[]).unwrap();
    {
        let n = notifier(&config(port), &db.store);
        n.alerts(std::slice::from_ref(&critical), t0).unwrap();
        n.pump(plus(t0, 15 * 60)).await.unwrap();
    }
    assert_eq!(
        pages(&db.store, "crit"),
        names(&[("0", "bob"), ("1", "carol")])
    );
    let store = db.reopen();
    let n = notifier(&config(port), &store);
    assert_eq!(n.resume(plus(t0, 20 * 60), 24).unwrap(), 1);
    assert_eq!(n.awaiting_acknowledgement(), [("crit".to_string(), 1)]);
    n.pump(plus(t0, 30 * 60 - 1)).await.unwrap();
    assert_eq!(pages(&store, "crit").len(), 2);
    n.pump(plus(t0, 30 * 60)).await.unwrap();
    assert_eq!(
        pages(&store, "crit"),
        names(&[("0", "bob"), ("1", "carol"), ("2", "alice")])
    );
}
