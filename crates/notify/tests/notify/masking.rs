use crate::support::*;
use ward_model::Severity;
use ward_store::DeliveryQuery;

/// One channel of every kind not approved for PHI, and one webhook that is.
fn config() -> String {
    r#"
    [channels.mail]
    kind = "email"
    server = "smtp.clinic.example"
    from = "ward@clinic.example"
    to = ["it@clinic.example"]
    [channels.hook]
    kind = "webhook"
    url = "https://hooks.example/ward"
    secret = "k"
    [channels.ocsf]
    kind = "webhook"
    url = "https://hooks.example/ocsf"
    secret = "k"
    format = "ocsf"
    [channels.slack]
    kind = "slack"
    url = "https://hooks.slack.example/services/X"
    [channels.teams]
    kind = "teams"
    url = "https://teams.example/workflows/X"
    [channels.cef]
    kind = "syslog"
    address = "siem.example:6514"
    [channels.siem-json]
    kind = "syslog"
    address = "siem.example:6514"
    format = "ocsf"
    [channels.privacy-office]
    kind = "webhook"
    url = "https://privacy.example/ward"
    secret = "k"
    phi_approved = true
    [[routes]]
    channels = ["mail", "hook", "ocsf", "slack", "teams", "cef", "siem-json", "privacy-office"]
    [[routes]]
    digest_minutes = 60
    channels = ["slack"]
    "#
    .into()
}

#[test]
fn channels_not_approved_for_phi_never_carry_the_patient() {
    let db = store();
    let n = notifier(&config(), &db.store);
    let now = at("2026-03-02T10:00:00Z");
    let alert = privacy_alert("p1", Severity::High, now);
    assert_eq!(n.alerts(&[alert], now).unwrap(), 8);
    let queued = db
        .store
        .deliveries()
        .list(&DeliveryQuery::default())
        .unwrap();
    assert_eq!(queued.len(), 8);
    for d in &queued {
        let leaks: Vec<&str> = [PATIENT_ID, PATIENT_NAME, "Lopez", "Elm St"]
            .into_iter()
            .filter(|s| d.payload.contains(s))
            .collect();
        if d.channel == "privacy-office" {
            assert!(d.payload.contains(PATIENT_ID) && d.payload.contains(PATIENT_NAME));
        } else {
            assert!(
                leaks.is_empty(),
                "{} leaks {leaks:?}: {}",
                d.channel,
                d.payload
            );
            assert!(
                d.payload.contains("masked-"),
                "{}: {}",
                d.channel,
                d.payload
            );
            // What is not PHI still goes: the staff member and the rule.
            assert!(d.payload.contains("jdoe"), "{}", d.channel);
        }
    }
}
