use crate::support::*;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use ward_model::Severity;

/// aiosmtpd (PyPI) as a child process, killed when dropped.
struct Aiosmtpd {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Drop for Aiosmtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Aiosmtpd {
    /// `None` (with the reason printed) when aiosmtpd is not installed and CI is unset; under
    /// CI a missing aiosmtpd fails the test.
    fn start(port: u16, cert: &Cert) -> Option<Self> {
        let available = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !available {
            if std::env::var_os("CI").is_some() {
                panic!("aiosmtpd is required under CI: pip install aiosmtpd==1.4.6");
            }
            eprintln!("skipping: python3 cannot import aiosmtpd (pip install aiosmtpd==1.4.6)");
            return None;
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/notify/smtp_receiver.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .arg(&cert.cert_pem)
            .arg(&cert.key_pem)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let server = Aiosmtpd { child, lines };
        let ready = server.next_line(Duration::from_secs(20));
        assert_eq!(ready.as_deref(), Some("READY"), "aiosmtpd did not start");
        Some(server)
    }

    fn next_line(&self, within: Duration) -> Option<String> {
        self.lines.recv_timeout(within).ok()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_goes_over_starttls_to_a_real_smtp_server_without_phi() {
    let cert = cert();
    let port = closed_port();
    let Some(server) = Aiosmtpd::start(port, &cert) else {
        return;
    };
    let cfg = format!(
        r#"
        console_url = "https://ward.clinic.example"
        [channels.it-mail]
        kind = "email"
        server = "localhost"
        port = {port}
        security = "starttls"
        ca_file = "{}"
        from = "Ward <ward@clinic.example>"
        to = ["it@clinic.example", "mdr@partner.example"]
        [[routes]]
        channels = ["it-mail"]
        "#,
        cert.cert_pem.display()
    );
    let db = store();
    let n = notifier(&cfg, &db.store);
    let now = at("2026-03-02T03:00:00Z");
    n.alerts(&[privacy_alert("mail-1", Severity::Critical, now)], now)
        .unwrap();
    let report = n.pump(now).await.unwrap();
    assert_eq!((report.delivered, report.failed), (1, 0), "{report:?}");

    let line = server
        .next_line(Duration::from_secs(20))
        .expect("the message reached aiosmtpd");
    let got: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(got["tls"], true, "delivered after STARTTLS");
    assert_eq!(got["mail_from"], "ward@clinic.example");
    assert_eq!(
        got["rcpt_tos"],
        serde_json::json!(["it@clinic.example", "mdr@partner.example"])
    );
    // Parsed as a mail client would (folded headers, quoted-printable body).
    let content = got["content"].as_str().unwrap();
    let message = mail_parser::MessageParser::default()
        .parse(content.as_bytes())
        .expect("a MIME message");
    assert_eq!(
        message.subject(),
        Some("[Ward] CRITICAL: Staff member opened a family or household member's record")
    );
    let body = message.body_text(0).expect("a text body");
    assert!(body.contains("Severity:   critical"), "{body}");
    assert!(body.contains("User:       jdoe"), "{body}");
    assert!(body.contains("https://ward.clinic.example/alerts/mail-1"));
    assert!(body.contains("Patient:    masked-"), "{body}");
    assert!(!content.contains(PATIENT_ID) && !content.contains("Lopez"));
    assert!(!body.contains(PATIENT_ID) && !body.contains("Lopez"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channels_own_templates_shape_the_mail_and_cannot_unmask_the_patient() {
    let cert = cert();
    let port = closed_port();
    let Some(server) = Aiosmtpd::start(port, &cert) else {
        return;
    };
    let cfg = format!(
        r#"
        console_url = "https://ward.clinic.example"
        [channels.it-mail]
        kind = "email"
        server = "localhost"
        port = {port}
        security = "starttls"
        ca_file = "{}"
        from = "Ward <ward@clinic.example>"
        to = ["it@clinic.example"]
        subject_template = "Ward {{severity}} alert: {{title}}"
        body_template = "Rule {{rule_id}} for {{user}} on patient {{patient}}.\n{{description}}\nSee {{url}}"
        [[routes]]
        channels = ["it-mail"]
        "#,
        cert.cert_pem.display()
    );
    let db = store();
    let n = notifier(&cfg, &db.store);
    let now = at("2026-03-02T03:00:00Z");
    n.alerts(&[privacy_alert("mail-2", Severity::High, now)], now)
        .unwrap();
    let report = n.pump(now).await.unwrap();
    assert_eq!((report.delivered, report.failed), (1, 0), "{report:?}");
    let line = server
        .next_line(Duration::from_secs(20))
        .expect("the message reached aiosmtpd");
    let got: serde_json::Value = serde_json::from_str(&line).unwrap();
    let content = got["content"].as_str().unwrap();
    let message = mail_parser::MessageParser::default()
        .parse(content.as_bytes())
        .expect("a MIME message");
    assert_eq!(
        message.subject(),
        Some("Ward high alert: Staff member opened a family or household member's record")
    );
    let body = message.body_text(0).expect("a text body");
    assert!(
        body.starts_with("Rule privacy.family_member for jdoe on patient masked-"),
        "{body}"
    );
    assert!(
        body.contains("https://ward.clinic.example/alerts/mail-2"),
        "{body}"
    );
    assert!(
        !content.contains(PATIENT_ID) && !content.contains("Lopez"),
        "{content}"
    );

    // A template naming a placeholder Ward does not have is refused with the settings.
    let bad = cfg.replace("{user}", "{patient_name}");
    let err = ward_notify::NotifyConfig::from_toml(&bad)
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown placeholder {patient_name}"), "{err}");
}
