//! Decoder throughput on an OpenSSH server's auth.log under a password-guessing campaign, the
//! busiest shape that file takes: RFC 3164 lines from sshd (invalid users, failed passwords,
//! pre-authentication disconnects, PAM failures, the occasional accepted key) and sudo.
//! Generates 400,000 lines in memory, decodes them with the `authlog` decoder (year 2024) on
//! one thread, and prints records/s and MB/s.
//!
//! `cargo run --release -p ward-decode --example authlog_throughput [-- RECORDS]`

mod common;
use common::{best_of_3, mix};

use ward_decode::Decoder;
use ward_decode::sshd::AuthLog;

fn main() {
    let records: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(400_000);
    let lines: Vec<String> = (0..records).map(auth_line).collect();
    let bytes: usize = lines.iter().map(String::len).sum();
    println!(
        "{records} records, {:.0} bytes on average",
        bytes as f64 / records as f64
    );
    let mut out = Vec::with_capacity(4);
    let decode = best_of_3(|| {
        let mut events = 0usize;
        for line in &lines {
            out.clear();
            AuthLog.decode_in_year(line.as_bytes(), 2024, &mut out);
            events += out.iter().filter(|d| d.is_ok()).count();
        }
        assert_eq!(events, records, "every generated record decodes");
    });
    println!(
        "authlog decode:       {:>9.0} records/s, {:>4.0} MB/s (best of 3, one thread)",
        records as f64 / decode,
        bytes as f64 / decode / 1e6
    );
}

fn auth_line(i: usize) -> String {
    let r = mix(i as u64);
    let seconds = (i as u64) / 4;
    let (h, m, s) = ((seconds / 3600) % 24, (seconds / 60) % 60, seconds % 60);
    let day = 1 + (seconds / 86_400) % 28;
    let ip = format!("203.0.{}.{}", (r >> 8) % 256, 1 + (r >> 16) % 254);
    let port = 1024 + (r >> 24) % 60000;
    let pid = 1000 + (r >> 40) % 30000;
    let user = ["root", "admin", "oracle", "ubuntu", "test", "alice"][(r % 6) as usize];
    let message = match (r >> 4) % 8 {
        0 => format!("Invalid user {user} from {ip} port {port}"),
        1 | 2 => format!("Failed password for invalid user {user} from {ip} port {port} ssh2"),
        3 => format!("Connection closed by invalid user {user} {ip} port {port} [preauth]"),
        4 => format!(
            "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user={user}"
        ),
        5 => format!("Failed password for {user} from {ip} port {port} ssh2"),
        6 => format!(
            "Accepted publickey for alice from 10.0.0.5 port {port} ssh2: ED25519 SHA256:Xk2v9qP0aF"
        ),
        _ => {
            return format!(
                "May {day:2} {h:02}:{m:02}:{s:02} web1 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx"
            );
        }
    };
    format!("May {day:2} {h:02}:{m:02}:{s:02} web1 sshd[{pid}]: {message}")
}
