//! Auto-detection: which decoder `ward ingest --format auto` picks from a source's first records.

use ward_decode::{Sniff, by_name, detect};

const AUDIT_LINE: &[u8] =
    br#"{"resourceType":"AuditEvent","id":"1","recorded":"2024-05-01T00:00:00Z"}"#;
const APP_LINE: &[u8] = br#"{"time":"2024-05-01T00:00:00Z","user":"jsmith"}"#;

fn picked(sample: &[&[u8]]) -> Option<&'static str> {
    detect(sample).map(|d| d.name())
}

#[test]
fn audit_events_and_bundles_are_detected_as_fhir() {
    assert_eq!(picked(&[AUDIT_LINE]), Some("fhir"));
    assert_eq!(
        picked(&[b"{\n  \"resourceType\": \"Bundle\",\n  \"entry\": []\n}"]),
        Some("fhir")
    );
    assert_eq!(
        picked(&[br#"[{"resourceType":"AuditEvent"}]"#]),
        Some("fhir")
    );
    // resourceType written after a contained resource.
    let late =
        br#"{"contained":[{"resourceType":"OperationOutcome"}],"resourceType":"AuditEvent"}"#;
    assert_eq!(by_name("fhir").map(|d| d.sniff(late)), Some(Sniff::Yes));
}

#[test]
fn other_fhir_resources_go_to_fhir_which_points_them_to_context_import() {
    let patient: &[u8] = br#"{"resourceType":"Patient","id":"p"}"#;
    assert_eq!(
        by_name("fhir").map(|d| d.sniff(patient)),
        Some(Sniff::Maybe)
    );
    assert_eq!(picked(&[patient]), Some("fhir"));
}

#[test]
fn other_json_objects_fall_back_to_json_lines() {
    assert_eq!(picked(&[APP_LINE]), Some("jsonl"));
    assert_eq!(by_name("fhir").map(|d| d.sniff(APP_LINE)), Some(Sniff::No));
}

#[test]
fn text_and_binary_are_not_claimed() {
    assert_eq!(picked(&[b"hello, world"]), None);
    assert_eq!(picked(&[b"\x89PNG\r\n\x1a\n"]), None);
    assert_eq!(picked(&[]), None);
}

#[test]
fn syslog_sources_go_to_atna_authlog_or_syslog_by_content() {
    let generic: &[u8] = b"<85>1 2024-05-01T00:00:00Z host app - - - hello";
    let sshd: &[u8] =
        b"May  1 10:00:00 web1 sshd[7]: Accepted password for a from 10.0.0.1 port 2 ssh2";
    let cron: &[u8] = b"May  1 10:00:00 web1 CRON[9]: (root) CMD (true)";
    let atna: &[u8] = b"<85>1 2024-05-01T00:00:00Z h EHR - IHE+RFC-3881 - <?xml version=\"1.0\"?>";
    let journald: &[u8] =
        br#"{"__REALTIME_TIMESTAMP":"1","SYSLOG_IDENTIFIER":"sshd","MESSAGE":"x"}"#;
    assert_eq!(picked(&[generic]), Some("syslog"));
    assert_eq!(picked(&[cron, sshd]), Some("authlog"));
    assert_eq!(picked(&[cron]), Some("syslog"));
    assert_eq!(picked(&[generic, atna]), Some("atna"));
    assert_eq!(
        picked(&[b"<?xml version=\"1.0\"?>", b"<AuditMessage>"]),
        Some("atna")
    );
    assert_eq!(picked(&[journald]), Some("authlog"));
}

#[test]
fn windows_zeek_and_hl7_are_recognised_before_generic_json_lines() {
    let otrf: &[u8] = br#"{"SourceName":"Microsoft-Windows-Sysmon","Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"TimeCreated":"2022-08-18T06:56:26.369Z"}"#;
    let beat: &[u8] = br#"{"@timestamp":"2024-05-01T10:00:00Z","winlog":{"event_id":"4624","channel":"Security"}}"#;
    assert_eq!(picked(&[otrf]), Some("windows"));
    assert_eq!(picked(&[beat]), Some("windows"));
    let zeek_json: &[u8] =
        br#"{"ts":1714557600.1,"uid":"C1","id.orig_h":"10.0.0.1","id.resp_h":"10.0.0.2"}"#;
    assert_eq!(picked(&[zeek_json]), Some("zeek"));
    assert_eq!(
        picked(&[b"#separator \\x09", b"#set_separator\t,"]),
        Some("zeek")
    );
    assert_eq!(
        picked(&[b"MSH|^~\\&|EPICADT|DH|LABADT|DH|20240501093012||ADT^A01|1|P|2.5"]),
        Some("hl7")
    );
    assert_eq!(picked(&[b"\x0bMSH|^~\\&|A|B"]), Some("hl7"));
    // An event id alone, without channel or winlog, is any application's JSON.
    assert_eq!(
        picked(&[br#"{"EventID":7,"time":"2024-05-01T00:00:00Z"}"#]),
        Some("jsonl")
    );
}

#[test]
fn mail_sources_are_recognised_by_their_first_lines() {
    let mbox: &[u8] = b"From MAILER-DAEMON Fri Jul  8 12:08:34 2011";
    let eml: &[u8] = b"Return-Path: <ceo@stmarys-hospita1.org>";
    let received: &[u8] = b"Received: from mx1.example.org (mx1.example.org [192.0.2.1])";
    let postfix: &[u8] = b"May 20 16:45:13 mail postfix/smtp[30420]: 4VY0aa2k3Lz9sTs: to=<a@b.example>, relay=none, status=deferred (x)";
    let trace: &[u8] = b"\"Received\",\"SenderAddress\",\"RecipientAddress\",\"Subject\",\"Status\",\"ToIP\",\"FromIP\",\"Size\",\"MessageId\",\"MessageTraceId\"";
    assert_eq!(picked(&[mbox]), Some("email"));
    assert_eq!(picked(&[eml]), Some("email"));
    assert_eq!(picked(&[received]), Some("email"));
    assert_eq!(
        picked(&[b"Subject: hello", b"Date: Mon, 1 Jan 2024 00:00:00 +0000"]),
        Some("email")
    );
    assert_eq!(picked(&[postfix]), Some("postfix"));
    assert_eq!(picked(&[trace]), Some("m365-trace"));
    // A generic syslog line from another program stays syslog.
    assert_eq!(
        picked(&[b"May 20 16:45:13 mail CRON[1]: (root) CMD (true)"]),
        Some("syslog")
    );
}

#[test]
fn cef_and_leef_are_recognised_bare_or_behind_syslog() {
    assert_eq!(
        picked(&[b"CEF:0|Vendor|Product|1.0|100|name|5|src=10.0.0.1"]),
        Some("cef")
    );
    assert_eq!(
        picked(&[b"<134>May 20 17:06:01 edr01 CEF:0|CrowdStrike|FalconHost|1.0|x|y|9|rt=1"]),
        Some("cef")
    );
    assert_eq!(
        picked(&[b"LEEF:1.0|Microsoft|MSExchange|2016|15345|src=10.0.0.1"]),
        Some("leef")
    );
    assert_eq!(
        picked(&[b"<13>May 20 17:11:00 fw01 LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=1"]),
        Some("leef")
    );
    // The word CEF inside an ordinary message is not CEF.
    assert_eq!(
        picked(&[b"<13>May 20 17:11:00 h app: saw CEF:abc"]),
        Some("syslog")
    );
}

#[test]
fn entra_and_okta_sign_ins_are_recognised_before_generic_json_lines() {
    let graph: &[u8] = br#"{"id":"1","createdDateTime":"2024-05-20T08:01:14Z","userPrincipalName":"a@b.example","status":{"errorCode":0}}"#;
    let monitor: &[u8] = br#"{"time":"2024-05-20T08:14:02Z","category":"SignInLogs","properties":{"userPrincipalName":"a@b.example"}}"#;
    let okta: &[u8] = br#"{"uuid":"1","published":"2024-05-20T08:30:01.120Z","eventType":"user.session.start","actor":{"alternateId":"a@b.example"}}"#;
    assert_eq!(picked(&[graph]), Some("entra"));
    assert_eq!(picked(&[monitor]), Some("entra"));
    assert_eq!(picked(&[okta]), Some("okta"));
}

#[test]
fn cloudtrail_records_delivery_files_and_eventbridge_events_are_detected_as_cloudtrail() {
    let record: &[u8] = br#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","userName":"a"},"eventTime":"2026-11-03T02:20:12Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"us-east-1"}"#;
    assert_eq!(picked(&[record]), Some("cloudtrail"));
    let delivery = [b"{\"Records\":[".as_slice(), record, b"]}"].concat();
    assert_eq!(picked(&[&delivery]), Some("cloudtrail"));
    let eventbridge: &[u8] = br#"{"version":"0","detail-type":"AWS API Call via CloudTrail","source":"aws.s3","detail":{"eventName":"GetObject"}}"#;
    assert_eq!(picked(&[eventbridge]), Some("cloudtrail"));
    // Okta's System Log also has an `eventType`, but neither eventSource nor eventName.
    let okta: &[u8] = br#"{"uuid":"u","published":"2024-05-20T08:30:00Z","eventType":"user.session.start","actor":{"alternateId":"a@b"}}"#;
    assert_eq!(picked(&[okta]), Some("okta"));
}
