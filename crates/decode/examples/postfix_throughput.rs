//! Decoder throughput on a Postfix mail log: the lines one message leaves (smtpd connect and
//! client, cleanup message-id, qmgr from, smtp delivery sent/deferred/bounced, removed) and
//! smtpd rejects. Generates 400,000 lines in memory, decodes them with the `postfix` decoder
//! (year 2024) on one thread, and prints records/s and MB/s.
//!
//! `cargo run --release -p ward-decode --example postfix_throughput [-- RECORDS]`

mod common;
use common::{best_of_3, generate, mix};

use ward_decode::Decoder;
use ward_decode::postfix::Postfix;

fn main() {
    let (records, lines, bytes) = generate(400_000, record);
    let mut out = Vec::with_capacity(4);
    let decode = best_of_3(|| {
        let mut events = 0usize;
        for (i, line) in lines.iter().enumerate() {
            out.clear();
            let _ = i;
            Postfix.decode_in_year(line.as_bytes(), 2024, &mut out);
            events += out.iter().filter(|d| d.is_ok()).count();
        }
        assert_eq!(events, records, "every generated record decodes");
    });
    println!(
        "postfix decode: {:>9.0} records/s, {:>5.0} MB/s (best of 3, one thread)",
        records as f64 / decode,
        bytes as f64 / decode / 1e6
    );
}

fn record(i: usize) -> String {
    let r = mix(i as u64);
    let seconds = (i as u64) / 8;
    let (h, m, s) = ((seconds / 3600) % 24, (seconds / 60) % 60, seconds % 60);
    let qid = format!("4VY{:08X}z", r as u32);
    let pid = 1000 + (r >> 40) % 30000;
    let ip = format!("203.0.{}.{}", (r >> 8) % 256, 1 + (r >> 16) % 254);
    let (daemon, message) = match (r >> 4) % 8 {
        0 => ("smtpd", format!("connect from unknown[{ip}]")),
        1 => (
            "smtpd",
            format!(
                "{qid}: client=ws-{}.corp.example.org[10.30.4.{}], sasl_method=LOGIN, sasl_username=user{}",
                r % 900,
                r % 250,
                r % 5000
            ),
        ),
        2 => (
            "cleanup",
            format!("{qid}: message-id=<{r:x}@stmarys-hospital.org>"),
        ),
        3 => (
            "qmgr",
            format!(
                "{qid}: from=<user{}@stmarys-hospital.org>, size={}, nrcpt=1 (queue active)",
                r % 5000,
                r % 90000
            ),
        ),
        4 | 5 => (
            "smtp",
            format!(
                "{qid}: to=<patient{}@gmail.com>, relay=gmail-smtp-in.l.google.com[142.250.{}.27]:25, delay=0.81, delays=0.01/0/0.3/0.5, dsn=2.0.0, status=sent (250 2.0.0 OK  1716224761 a1b2c3d4 - gsmtp)",
                r % 100000,
                (r >> 8) % 256
            ),
        ),
        6 => (
            "smtpd",
            format!(
                "NOQUEUE: reject: RCPT from unknown[{ip}]: 554 5.7.1 <ap@stmarys-hospital.org>: Relay access denied; from=<ceo@stmarys-hospita1.org> to=<ap@stmarys-hospital.org> proto=ESMTP helo=<smtp.example.net>"
            ),
        ),
        _ => ("qmgr", format!("{qid}: removed")),
    };
    format!("May 20 {h:02}:{m:02}:{s:02} mail postfix/{daemon}[{pid}]: {message}")
}
