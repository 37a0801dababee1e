//! The legacy probe over TCP: one connection per hand-written ClientHello, read the server's
//! first flight within the time allowed, hang up. For each version up to TLS 1.2 it finds
//! out whether the server accepts it and, by offering every suite and removing the one the
//! server picked until it refuses (testssl's method), which suites it accepts.
//!
//! Every read is bounded in bytes and in time; a silent or endless peer ends in `TimedOut`
//! or `Malformed`, never a hang.

use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};

use crate::ScanOptions;
use crate::hello::{Alert, ClientHello, Reply, ServerHello, parse_reply};
use crate::report::{AcceptedSuite, Protocol, ProtocolResult, ProtocolSuites, Support};
use crate::suites::{PROBE_SUITES, SuiteDef};
use crate::target::Target;

/// Bytes of server reply read at most per probe: a ServerHello plus a long chain.
const MAX_REPLY: usize = 160 * 1024;

/// How one probe ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Hello {
        server_hello: ServerHello,
        certificates: Vec<Vec<u8>>,
    },
    Alert(Alert),
    /// Closed or reset before a ServerHello.
    Closed,
    NotTls,
    Malformed(&'static str),
    TimedOut,
    ConnectFailed(String),
}

/// Opens a TCP connection (resolving the host if it is a name) within `connect_timeout`.
pub(crate) async fn connect(
    target: &Target,
    connect_timeout: Duration,
) -> Result<TcpStream, String> {
    match timeout(
        connect_timeout,
        TcpStream::connect((target.host.as_str(), target.port)),
    )
    .await
    {
        Ok(Ok(stream)) => {
            // Probes are single small writes; waiting for Nagle only slows the scan.
            let _ = stream.set_nodelay(true);
            Ok(stream)
        }
        Ok(Err(error)) => Err(format!("could not connect to {target}: {error}")),
        Err(_) => Err(format!(
            "could not connect to {target} within {} ms",
            connect_timeout.as_millis()
        )),
    }
}

/// Sends one ClientHello and classifies the answer.
pub(crate) async fn probe(
    target: &Target,
    hello: &[u8],
    options: &ScanOptions,
    want_certificates: bool,
) -> Outcome {
    let mut stream = match connect(target, options.connect_timeout).await {
        Ok(stream) => stream,
        Err(error) => return Outcome::ConnectFailed(error),
    };
    let deadline = Instant::now() + options.timeout;
    match timeout_at(deadline, stream.write_all(hello)).await {
        Ok(Ok(())) => {}
        Ok(Err(_)) => return Outcome::Closed,
        Err(_) => return Outcome::TimedOut,
    }
    let mut received = Vec::with_capacity(8 * 1024);
    let mut chunk = [0u8; 8 * 1024];
    loop {
        let read = timeout_at(deadline, stream.read(&mut chunk)).await;
        let n = match read {
            Ok(Ok(n)) => n,
            // A reset after a partial flight counts like an orderly close.
            Ok(Err(_)) => 0,
            Err(_) => {
                return match parse_reply(&received, want_certificates) {
                    Reply::Incomplete {
                        server_hello: Some(server_hello),
                    } => Outcome::Hello {
                        server_hello,
                        certificates: Vec::new(),
                    },
                    _ => Outcome::TimedOut,
                };
            }
        };
        if n == 0 {
            return match parse_reply(&received, want_certificates) {
                Reply::Incomplete {
                    server_hello: Some(server_hello),
                } => Outcome::Hello {
                    server_hello,
                    certificates: Vec::new(),
                },
                Reply::Incomplete { server_hello: None } if received.is_empty() => Outcome::Closed,
                Reply::Incomplete { server_hello: None } => {
                    Outcome::Malformed("reply ended mid-record")
                }
                other => outcome_of(other),
            };
        }
        let room = MAX_REPLY.saturating_sub(received.len());
        received.extend_from_slice(chunk.get(..n.min(room)).unwrap_or(&[]));
        match parse_reply(&received, want_certificates) {
            Reply::Incomplete { server_hello } if received.len() >= MAX_REPLY => {
                return match server_hello {
                    Some(server_hello) => Outcome::Hello {
                        server_hello,
                        certificates: Vec::new(),
                    },
                    None => Outcome::Malformed("reply longer than the scanner reads"),
                };
            }
            Reply::Incomplete { .. } => {}
            other => return outcome_of(other),
        }
    }
}

fn outcome_of(reply: Reply) -> Outcome {
    match reply {
        Reply::Hello {
            server_hello,
            certificates,
        } => Outcome::Hello {
            server_hello,
            certificates,
        },
        Reply::Alert(alert) => Outcome::Alert(alert),
        Reply::NotTls => Outcome::NotTls,
        Reply::Malformed(reason) => Outcome::Malformed(reason),
        Reply::Incomplete { .. } => Outcome::Malformed("reply ended mid-record"),
    }
}

/// What probing one legacy version found.
#[derive(Debug, Clone)]
pub(crate) struct LegacyResult {
    pub support: ProtocolResult,
    pub suites: Option<ProtocolSuites>,
    /// The chain from the first accepted handshake (plaintext before TLS 1.3).
    pub certificates: Vec<Vec<u8>>,
    /// The first answer was TLS-shaped (a ServerHello or an alert).
    pub spoke_tls: bool,
    pub not_tls: bool,
    pub timed_out: bool,
}

/// Probes one version (SSLv3 to TLS 1.2) and enumerates its accepted suites.
pub(crate) async fn probe_protocol(
    target: &Target,
    protocol: Protocol,
    options: &ScanOptions,
) -> LegacyResult {
    let mut offered: Vec<&'static SuiteDef> = PROBE_SUITES.iter().collect();
    let mut accepted: Vec<AcceptedSuite> = Vec::new();
    let mut certificates = Vec::new();
    let mut complete = true;
    let server_name = Some(target.effective_name());

    for round in 0..=PROBE_SUITES.len() {
        if offered.is_empty() {
            break;
        }
        let ids: Vec<u16> = offered.iter().map(|suite| suite.id).collect();
        let hello = ClientHello {
            version: protocol,
            cipher_suites: &ids,
            server_name,
            random: client_random(target, protocol, round, options),
        }
        .encode();
        let outcome = probe(target, &hello, options, round == 0).await;
        let chosen = match &outcome {
            Outcome::Hello { server_hello, .. }
                if server_hello.version == protocol.wire_version()
                    && !server_hello.hello_retry_request =>
            {
                offered
                    .iter()
                    .position(|suite| suite.id == server_hello.cipher_suite)
            }
            _ => None,
        };
        match (round, chosen, outcome) {
            (
                _,
                Some(index),
                Outcome::Hello {
                    certificates: chain,
                    ..
                },
            ) => {
                let suite = offered.remove(index);
                if round == 0 {
                    certificates = chain;
                }
                accepted.push(AcceptedSuite {
                    id: suite.id,
                    name: suite.name.to_owned(),
                    strength: suite.strength,
                    forward_secret: suite.forward_secret,
                });
            }
            (0, _, outcome) => return first_refusal(protocol, outcome, options),
            // Refusing the remaining suites is the normal end of enumeration.
            (_, _, Outcome::Alert(_) | Outcome::Closed) => break,
            _ => {
                complete = false;
                break;
            }
        }
    }

    let detail = accepted
        .first()
        .map(|suite| format!("accepted; first choice {}", suite.name));
    LegacyResult {
        support: ProtocolResult {
            protocol,
            support: Support::Supported,
            detail,
        },
        suites: Some(ProtocolSuites {
            protocol,
            accepted,
            complete,
        }),
        certificates,
        spoke_tls: true,
        not_tls: false,
        timed_out: false,
    }
}

/// The result for a version whose very first probe got no acceptable ServerHello.
fn first_refusal(protocol: Protocol, outcome: Outcome, options: &ScanOptions) -> LegacyResult {
    let (support, detail, spoke_tls) = match &outcome {
        Outcome::Hello { server_hello, .. } if server_hello.version != protocol.wire_version() => (
            Support::NotSupported,
            format!(
                "server answered with version {}",
                Protocol::from_wire(server_hello.version).map_or_else(
                    || format!("0x{:04x}", server_hello.version),
                    |p| p.name().to_owned()
                )
            ),
            true,
        ),
        Outcome::Hello { server_hello, .. } => (
            Support::Inconclusive,
            format!(
                "server chose suite 0x{:04x}, which was not offered",
                server_hello.cipher_suite
            ),
            true,
        ),
        Outcome::Alert(alert) => (Support::NotSupported, format!("refused with {alert}"), true),
        Outcome::Closed => (
            Support::NotSupported,
            "connection closed without a ServerHello".to_owned(),
            false,
        ),
        Outcome::NotTls => (
            Support::Inconclusive,
            "the service did not answer with TLS".to_owned(),
            false,
        ),
        Outcome::Malformed(reason) => (
            Support::Inconclusive,
            format!("malformed reply: {reason}"),
            false,
        ),
        Outcome::TimedOut => (
            Support::Inconclusive,
            format!("no answer within {} ms", options.timeout.as_millis()),
            false,
        ),
        Outcome::ConnectFailed(error) => (Support::Inconclusive, error.clone(), false),
    };
    LegacyResult {
        support: ProtocolResult {
            protocol,
            support,
            detail: Some(detail),
        },
        suites: None,
        certificates: Vec::new(),
        spoke_tls,
        not_tls: outcome == Outcome::NotTls,
        timed_out: outcome == Outcome::TimedOut,
    }
}

/// A per-hello client random. It needs to be unpredictable to nobody (no key exchange is
/// ever completed), only distinct, so it is derived rather than read from an entropy source.
fn client_random(
    target: &Target,
    protocol: Protocol,
    round: usize,
    options: &ScanOptions,
) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(target.to_string().as_bytes());
    hash.update(protocol.wire_version().to_be_bytes());
    hash.update(round.to_be_bytes());
    hash.update(
        options
            .now
            .timestamp_nanos_opt()
            .unwrap_or_default()
            .to_be_bytes(),
    );
    hash.finalize().into()
}
