//! HL7 v2 over MLLP (plain, and inside TLS): each framed message is decoded with the `hl7`
//! decoder and committed, its ADT context (patient, encounter, care team) stored, and only
//! then answered with an ACK: `AA` when stored, `AE` with the reason (and an `ERR` segment)
//! when quarantined, `AR` when the frame is not HL7 at all or is over the size limit. A sender
//! that never saw an `AA` resends, and the content-hash ids make the resend harmless.
//!
//! Messages a sender pipelines without waiting for ACKs are committed together and answered
//! in order.

use crate::commit::{CommitError, oversize_reason, store_frames};
use crate::framing::{Frame, Framer, MLLP_END, MLLP_START, MllpFramer};
use crate::stream::{Conn, Io, ReadResult, read_some};
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::AsyncWriteExt;
use ward_pipeline::RecordOutcome;
use ward_store::Store;

const READ_CHUNK: usize = 16 * 1024;

/// The acknowledgment code of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ack {
    /// Application Accept: stored.
    Accept,
    /// Application Error: quarantined, with the reason.
    Error(String),
    /// Application Reject: not HL7, or too large.
    Reject(String),
}

pub(crate) async fn serve_connection(mut io: Box<dyn Io>, mut conn: Conn) {
    let name = conn.kind.name();
    let source = conn.source();
    let max = conn.limits.max_message_bytes;
    let mut framer = MllpFramer::new(max);
    let mut buf = vec![0u8; READ_CHUNK];
    let mut acks = (0u64, 0u64, 0u64);
    let reason = loop {
        let mut frames = Vec::new();
        while frames.len() < conn.limits.batch_max {
            match framer.next_frame() {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) | Err(_) => break,
            }
        }
        if !frames.is_empty() {
            let n = frames.len();
            let source = source.clone();
            let engine = conn.committer.engine();
            let stats = conn.committer.stats();
            let result = conn
                .committer
                .run(move |store| {
                    store_hl7(store, &source, &frames, max, engine.as_deref(), &stats)
                })
                .await;
            let replies = match result {
                Ok(Ok(replies)) => replies,
                Ok(Err(e)) => {
                    tracing::error!(listener = name, peer = %conn.peer, error = %e, "commit failed: closing without ACK");
                    break "store failure";
                }
                Err(e) => {
                    tracing::error!(listener = name, peer = %conn.peer, error = %e, "commit failed: closing without ACK");
                    break "store failure";
                }
            };
            let mut out = Vec::new();
            for (ack, reply) in replies {
                match ack {
                    Ack::Accept => acks.0 += 1,
                    Ack::Error(_) => acks.1 += 1,
                    Ack::Reject(_) => acks.2 += 1,
                }
                out.push(MLLP_START);
                out.extend_from_slice(&reply);
                out.extend_from_slice(&MLLP_END);
            }
            let write = async {
                io.write_all(&out).await?;
                io.flush().await
            };
            match tokio::time::timeout(conn.limits.read_timeout, write).await {
                Ok(Ok(())) => {}
                _ => break "cannot write ACK",
            }
            conn.pace(n).await;
            continue;
        }
        if conn.shutdown.is_set() {
            break "shutdown";
        }
        let timeout = if framer.has_partial() {
            conn.limits.read_timeout
        } else {
            conn.limits.idle_timeout
        };
        match read_some(&mut *io, &mut buf, timeout, None, &mut conn.shutdown).await {
            ReadResult::Data(n) => framer.push(&buf[..n]),
            ReadResult::Deadline => {}
            ReadResult::Eof => break "closed by peer",
            ReadResult::TimedOut => break "timed out",
            ReadResult::Shutdown => break "shutdown",
            ReadResult::Failed(e) => {
                tracing::debug!(listener = name, peer = %conn.peer, error = %e, "read failed");
                break "read error";
            }
        }
    };
    let _ = io.shutdown().await;
    tracing::debug!(listener = name, peer = %conn.peer, reason, accepted = acks.0, errors = acks.1, rejected = acks.2, "connection closed");
}

/// Stores the messages and their ADT context (blocking), hands the context to the detectors,
/// and builds one ACK per message.
fn store_hl7(
    store: &dyn Store,
    source: &str,
    frames: &[Frame],
    max: usize,
    engine: Option<&std::sync::Mutex<ward_detect::Engine>>,
    stats: &crate::stats::ListenerStats,
) -> Result<Vec<(Ack, Vec<u8>)>, CommitError> {
    let hl7 = ward_decode::by_name("hl7");
    let (outcomes, _) = store_frames(store, source, hl7, frames, max, engine, stats)?;
    let mut context = Vec::new();
    let mut parsed = Vec::new();
    for (frame, outcome) in frames.iter().zip(&outcomes) {
        if matches!(outcome, RecordOutcome::Stored { .. }) {
            ward_decode::hl7::adt_context(&frame.bytes, &mut parsed);
            context.extend(parsed.drain(..).filter_map(Result::ok));
        }
    }
    if !context.is_empty() {
        store.put_context(&context)?;
        if let Some(engine) = engine {
            engine
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .context(&context);
        }
    }
    Ok(frames
        .iter()
        .zip(outcomes)
        .map(|(frame, outcome)| {
            let ack = if frame.is_oversize() {
                Ack::Reject(oversize_reason(frame.true_len, max))
            } else if !ward_decode::hl7::starts_message(&frame.bytes) {
                Ack::Reject("not an HL7 v2 message (no MSH segment)".into())
            } else {
                match outcome {
                    RecordOutcome::Stored { .. } => Ack::Accept,
                    RecordOutcome::Quarantined { reason } => Ack::Error(reason),
                }
            };
            let reply = build_ack(&frame.bytes, &ack, &chrono::Utc::now());
            (ack, reply)
        })
        .collect())
}

static CONTROL_IDS: AtomicU64 = AtomicU64::new(0);

/// A new message control id for an ACK: unique within the process and across restarts.
fn new_control_id(now: &chrono::DateTime<chrono::Utc>) -> String {
    let n = CONTROL_IDS.fetch_add(1, Ordering::Relaxed);
    format!("WARD{}{n:06}", now.format("%Y%m%d%H%M%S%3f"))
}

/// The ACK for `message` (its `MSH` may be missing or broken: then defaults are used).
pub fn build_ack(message: &[u8], ack: &Ack, now: &chrono::DateTime<chrono::Utc>) -> Vec<u8> {
    let msh_line = message
        .split(|&b| b == b'\r' || b == b'\n')
        .next()
        .filter(|l| ward_decode::hl7::starts_message(l))
        .unwrap_or(b"");
    let (field, encoding) = if msh_line.len() > 4 {
        let field = msh_line[3];
        let encoding: Vec<u8> = msh_line[4..]
            .iter()
            .take_while(|&&b| b != field)
            .copied()
            .collect();
        (field, encoding)
    } else {
        (b'|', b"^~\\&".to_vec())
    };
    let component = encoding.first().copied().unwrap_or(b'^');
    // fields[i] is MSH-(i+1): fields[0] = "MSH", fields[1] = MSH-2 …
    let fields: Vec<&[u8]> = if msh_line.is_empty() {
        Vec::new()
    } else {
        msh_line.split(|&b| b == field).collect()
    };
    let msh = |n: usize| -> &[u8] { fields.get(n - 1).copied().unwrap_or(b"") };
    let trigger = msh(9).split(|&b| b == component).nth(1).unwrap_or(b"");
    let (code, text) = match ack {
        Ack::Accept => ("AA", None),
        Ack::Error(reason) => ("AE", Some(reason.as_str())),
        Ack::Reject(reason) => ("AR", Some(reason.as_str())),
    };
    let f = field as char;
    let c = component as char;
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"MSH");
    out.push(field);
    out.extend_from_slice(&encoding);
    for part in [msh(5), msh(6), msh(3), msh(4)] {
        out.push(field);
        out.extend_from_slice(part);
    }
    out.push(field);
    out.extend_from_slice(now.format("%Y%m%d%H%M%S+0000").to_string().as_bytes());
    out.push(field); // MSH-8 security
    out.push(field);
    out.extend_from_slice(b"ACK");
    if !trigger.is_empty() {
        out.push(component);
        out.extend_from_slice(trigger);
    }
    out.push(component);
    out.extend_from_slice(b"ACK");
    out.push(field);
    out.extend_from_slice(new_control_id(now).as_bytes());
    out.push(field);
    let processing = msh(11);
    out.extend_from_slice(if processing.is_empty() {
        b"P"
    } else {
        processing
    });
    out.push(field);
    let version = msh(12);
    out.extend_from_slice(if version.is_empty() { b"2.5" } else { version });
    out.push(b'\r');
    out.extend_from_slice(format!("MSA{f}{code}{f}").as_bytes());
    out.extend_from_slice(msh(10));
    if let Some(text) = text {
        let text = escape(text, field, &encoding);
        out.extend_from_slice(format!("{f}{text}").as_bytes());
        out.push(b'\r');
        // ERR-3 error code (HL7 table 0357), ERR-4 severity, ERR-8 user message.
        let (err_code, err_text) = match ack {
            Ack::Reject(_) => ("102", "Data type error"),
            _ => ("207", "Application internal error"),
        };
        out.extend_from_slice(
            format!("ERR{f}{f}{f}{err_code}{c}{err_text}{c}HL70357{f}E{f}{f}{f}{f}{text}")
                .as_bytes(),
        );
    }
    out.push(b'\r');
    out
}

/// Escapes HL7 delimiters (and drops line breaks) in free text put into a segment.
fn escape(text: &str, field: u8, encoding: &[u8]) -> String {
    let esc = encoding.get(2).copied().unwrap_or(b'\\') as char;
    let named = [
        (field as char, 'F'),
        (encoding.first().copied().unwrap_or(b'^') as char, 'S'),
        (encoding.get(1).copied().unwrap_or(b'~') as char, 'R'),
        (esc, 'E'),
        (encoding.get(3).copied().unwrap_or(b'&') as char, 'T'),
    ];
    let mut out = String::with_capacity(text.len());
    for ch in text.chars().take(200) {
        if ch == '\r' || ch == '\n' {
            out.push(' ');
        } else if let Some((_, name)) = named.iter().find(|(d, _)| *d == ch) {
            out.push(esc);
            out.push(*name);
            out.push(esc);
        } else {
            out.push(ch);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADT: &[u8] = b"MSH|^~\\&|EPIC|MAIN|WARD|SEC|20261102080000||ADT^A01^ADT_A01|MSG00042|P|2.5.1\rPID|1||MRN1^^^H^MR||DOE^JANE\r";

    fn text(ack: &[u8]) -> String {
        String::from_utf8(ack.to_vec()).unwrap()
    }

    #[test]
    fn accept_swaps_sender_and_receiver_and_echoes_the_control_id() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-02T08:00:01Z")
            .unwrap()
            .to_utc();
        let ack = text(&build_ack(ADT, &Ack::Accept, &now));
        let segments: Vec<&str> = ack.split('\r').collect();
        let msh: Vec<&str> = segments[0].split('|').collect();
        assert_eq!(
            &msh[..7],
            [
                "MSH",
                "^~\\&",
                "WARD",
                "SEC",
                "EPIC",
                "MAIN",
                "20261102080001+0000"
            ]
        );
        assert_eq!(msh[8], "ACK^A01^ACK");
        assert!(msh[9].starts_with("WARD"));
        assert_eq!(&msh[10..], ["P", "2.5.1"]);
        assert_eq!(segments[1], "MSA|AA|MSG00042");
    }

    #[test]
    fn error_carries_the_escaped_reason_in_msa_and_err() {
        let now = chrono::Utc::now();
        let ack = text(&build_ack(ADT, &Ack::Error("bad PID|5 ^x".into()), &now));
        let segments: Vec<&str> = ack.split('\r').collect();
        assert_eq!(segments[1], "MSA|AE|MSG00042|bad PID\\F\\5 \\S\\x");
        assert!(segments[2].starts_with("ERR|||207^Application internal error^HL70357|E|"));
    }

    #[test]
    fn reject_of_something_that_is_not_hl7_still_is_a_valid_ack() {
        let ack = text(&build_ack(
            b"hello",
            &Ack::Reject("not HL7".into()),
            &chrono::Utc::now(),
        ));
        assert!(ack.starts_with("MSH|^~\\&|||||"));
        assert!(ack.contains("\rMSA|AR||not HL7\r"));
    }
}
