use crate::support::*;
use ward_decode::Decoder;
use ward_decode::cef::Cef;
use ward_model::Severity;

#[tokio::test]
async fn cef_over_tls_syslog_parses_back_field_for_field() {
    let cert = cert();
    let collector = SyslogCollector::start(&cert).await;
    let cfg = format!(
        r#"
        [channels.mdr]
        kind = "syslog"
        address = "127.0.0.1:{}"
        server_name = "localhost"
        ca_file = "{}"
        hostname = "ward-clinic"
        [[routes]]
        channels = ["mdr"]
        "#,
        collector.port,
        cert.cert_pem.display()
    );
    let db = store();
    let n = notifier(&cfg, &db.store);
    let now = at("2026-03-02T03:00:00Z");
    let threat = threat_alert("t1", Severity::Critical, now);
    let privacy = privacy_alert("p1", Severity::High, now);
    n.alerts(&[threat.clone(), privacy], now).unwrap();
    assert_eq!(n.pump(now).await.unwrap().delivered, 2);

    let messages = collector.wait_for(2).await;
    assert_eq!(messages.len(), 2);
    let line = messages
        .iter()
        .find(|m| m.contains("externalId=t1"))
        .unwrap();
    // RFC 5424 header: facility 10 × 8 + critical (2).
    assert!(
        line.starts_with("<82>1 2026-03-02T03:00:00.000Z ward-clinic ward - WARD_ALERT - CEF:0|"),
        "{line}"
    );

    // Ward's own CEF decoder (independent of the renderer) reads it back.
    let mut out = Vec::new();
    Cef.decode(line.as_bytes(), &mut out);
    let event = out.pop().unwrap().expect("decodes as CEF");
    let u = &event.unmapped;
    assert_eq!(u["cef.version"], "0");
    assert_eq!(u["cef.device_vendor"], "Ward");
    assert_eq!(u["cef.device_product"], "Ward");
    assert_eq!(u["cef.signature_id"], "threat.credential.spray");
    assert_eq!(u["cef.name"], threat.title.as_str());
    assert_eq!(u["cef.severity"], "9");
    assert_eq!(event.severity, Severity::Critical);
    assert_eq!(u["externalId"], "t1");
    assert_eq!(u["cnt"], "17");
    assert_eq!(u["attack"], "T1110.003,T1078");
    assert_eq!(u["hipaa"], "164.308(a)(5)(ii)(C)");
    assert_eq!(event.actor.user.name.as_deref(), Some("svc=backup"));
    assert_eq!(event.src_endpoint.ip.as_deref(), Some("203.0.113.9"));
    assert_eq!(
        event.message.as_deref(),
        Some("17 failed sign-ins a=b\\c\nsecond line")
    );
    assert_eq!(event.time, now);

    // The privacy alert reached the SIEM masked.
    let other = messages
        .iter()
        .find(|m| m.contains("externalId=p1"))
        .unwrap();
    assert!(!other.contains(PATIENT_ID) && !other.contains("Lopez"));
    assert!(other.contains("cs1Label=patient cs1=masked-"));
}
