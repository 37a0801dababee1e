//! Notifications through `ward serve`: telemetry arrives over HTTP, the detectors store an
//! alert, and a signed webhook reaches a receiver on loopback within the pump interval, its
//! HMAC signature verifying over the bytes received and its patient-free JSON naming the rule.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Child;
use std::sync::mpsc;
use std::time::Duration;

mod common;

const TOKEN: &str = "notify-test-token";
const SECRET: &str = "webhook-shared-secret";

/// One request the receiver took: its headers (lower-case names) and body.
struct Received {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A webhook receiver: answers 200 to every POST and hands each request over.
fn receiver() -> (SocketAddr, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let mut reader = BufReader::new(stream);
            let mut headers = Vec::new();
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                continue;
            }
            let path = line
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_string();
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((name, value)) = line.trim().split_once(':') {
                    headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
                }
            }
            let len: usize = headers
                .iter()
                .find(|(n, _)| n == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let mut stream = reader.into_inner();
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = tx.send(Received {
                path,
                headers,
                body,
            });
        }
    });
    (addr, rx)
}

/// `ward serve` notifying two webhooks at `hook`; the caller waits for the child.
fn serve(dir: &std::path::Path, hook: SocketAddr) -> (Child, SocketAddr) {
    let config = format!(
        "[listen.http]\nbind = \"127.0.0.1:0\"\ntoken_sha256 = [\"{}\"]\n\n\
         [notify]\nconsole_url = \"http://127.0.0.1\"\n\n\
         [notify.channels.soc]\nkind = \"webhook\"\nurl = \"http://{hook}/ward\"\nsecret = \"{SECRET}\"\n\n\
         [notify.channels.ehr]\nkind = \"webhook\"\nurl = \"http://{hook}/ehr\"\nsecret = \"{SECRET}\"\n\n\
         [[notify.routes]]\nname = \"all\"\nchannels = [\"soc\"]\n\n\
         [[notify.routes]]\nname = \"EHR team: what the EHR's audit shows\"\nsources = [\"fhir\"]\nchannels = [\"ehr\"]\n",
        ward_listen::http::token_hash(TOKEN)
    );
    let (child, addresses, stdout) = common::serve(dir, &config, &["http"]);
    common::drain(stdout);
    (child, addresses[0])
}

fn post(addr: SocketAddr, path: &str, body: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    String::from_utf8_lossy(&answer)[9..12].parse().unwrap()
}

#[test]
fn a_stored_alert_reaches_a_signed_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let (hook, received) = receiver();
    let (mut child, http) = serve(dir.path(), hook);

    // Twelve failed SSH logins for one account from one address, then a success: brute
    // force followed by success (threat.credential.brute_force_success).
    let mut lines = String::new();
    for i in 0..12 {
        lines.push_str(&format!(
            "Nov 29 03:10:{i:02} bastion sshd[4{i:03}]: Failed password for jdoe from 203.0.113.77 port 5{i:04} ssh2\n"
        ));
    }
    lines.push_str("Nov 29 03:11:00 bastion sshd[4999]: Accepted password for jdoe from 203.0.113.77 port 51000 ssh2\n");
    assert_eq!(post(http, "/api/ingest?format=authlog", &lines), 200);

    let mut rules = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut verified = 0;
    while std::time::Instant::now() < deadline
        && !rules
            .iter()
            .any(|r: &String| r.contains("brute_force_success"))
    {
        let Ok(request) = received.recv_timeout(Duration::from_secs(1)) else {
            continue;
        };
        let timestamp = request
            .header("x-ward-timestamp")
            .expect("a timestamp header");
        let signature = request
            .header("x-ward-signature")
            .expect("a signature header");
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(&request.body);
        let expected: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            signature,
            format!("sha256={expected}"),
            "the signature verifies"
        );
        verified += 1;
        // The route by source: SSH evidence never reaches the EHR team's channel.
        assert_eq!(
            request.path, "/ward",
            "an authlog alert went to the fhir-only route"
        );
        let json: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(json["schema"], "ward.alert.v1");
        rules.push(
            json["alert"]["rule_id"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    // Whatever else arrives in the next pump went to the route for everything, too.
    while let Ok(request) = received.recv_timeout(Duration::from_millis(6_000)) {
        assert_eq!(
            request.path, "/ward",
            "an authlog alert went to the fhir-only route"
        );
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
    assert!(
        rules.iter().any(|r| r.contains("brute_force_success")),
        "the brute-force alert was notified ({verified} signed posts: {rules:?})"
    );
}
