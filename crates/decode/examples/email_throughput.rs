//! Decoder throughput on e-mail messages shaped like a hospital mailbox's: multipart
//! messages with a plain and an HTML alternative, Received chains, Authentication-Results,
//! and every fourth one a base64 attachment. Generates 20,000 messages in memory, decodes
//! them with the `email` decoder on one thread, and prints messages/s and MB/s.
//!
//! `cargo run --release -p ward-decode --example email_throughput [-- RECORDS]`

mod common;
use common::{best_of_3, generate, mix};

use ward_decode::Decoder;
use ward_decode::email::Email;

fn main() {
    let (records, lines, bytes) = generate(20_000, record);
    let mut out = Vec::with_capacity(4);
    let decode = best_of_3(|| {
        let mut events = 0usize;
        for (i, line) in lines.iter().enumerate() {
            out.clear();
            let _ = i;
            Email.decode(line.as_bytes(), &mut out);
            events += out.iter().filter(|d| d.is_ok()).count();
        }
        assert_eq!(events, records, "every generated record decodes");
    });
    println!(
        "email decode: {:>9.0} records/s, {:>5.0} MB/s (best of 3, one thread)",
        records as f64 / decode,
        bytes as f64 / decode / 1e6
    );
}

fn record(i: usize) -> String {
    let r = mix(i as u64);
    let sender = [
        "ceo@stmarys-hospita1.org",
        "billing@medsupp1y-invoices.com",
        "n.patel@stmarys-hospital.org",
        "noreply@docusign.net",
    ][(r % 4) as usize];
    let spf = ["pass", "fail", "softfail", "none"][((r >> 8) % 4) as usize];
    let body = "Please review the attached summary before the meeting. The payment details have changed and the invoice is overdue; reply today.\r\n".repeat(1 + (r >> 16) as usize % 12);
    let attachment = if i.is_multiple_of(4) {
        format!(
            "--b1\r\nContent-Type: application/pdf; name=\"invoice-{i}.pdf\"\r\nContent-Disposition: attachment; filename=\"invoice-{i}.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            "JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFI+PgpzdHJlYW0K\r\n".repeat(40)
        )
    } else {
        String::new()
    };
    format!(
        "Return-Path: <{sender}>\r\nReceived: from mx1.stmarys-hospital.org (mx1 [10.20.0.25]) by mail.stmarys-hospital.org (Postfix) with ESMTPS id 4VXk{i:06X}; Wed, 15 May 2024 09:12:44 -0400\r\nReceived: from smtp.example.net (smtp.example.net [185.220.{}.{}]) by mx1.stmarys-hospital.org (Postfix) with ESMTP id 4VXl{i:06X}; Wed, 15 May 2024 09:12:43 -0400\r\nAuthentication-Results: mx1.stmarys-hospital.org; spf={spf} smtp.mailfrom={sender}; dkim=none; dmarc=fail header.from=example.net\r\nFrom: \"Dr. Margaret Chen\" <{sender}>\r\nReply-To: m.chen.office@gmail.com\r\nTo: ap-clerk@stmarys-hospital.org, finance@stmarys-hospital.org\r\nSubject: =?UTF-8?Q?Urgent_=E2=80=93_invoice_{i}?=\r\nDate: Wed, 15 May 2024 09:12:40 -0400\r\nMessage-ID: <{i}.{r}@example.net>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: multipart/alternative; boundary=\"b2\"\r\n\r\n--b2\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{body}\r\n--b2\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>{body}</p></body></html>\r\n--b2--\r\n{attachment}--b1--\r\n",
        (r >> 24) % 256,
        1 + (r >> 32) % 254
    )
}
