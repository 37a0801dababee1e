//! Syslog listeners: UDP (RFC 5426, one datagram one message), TCP (RFC 6587, octet-counting
//! or newline framing per connection) and TLS (RFC 5425, the same framing inside TLS). Each
//! message gets the decoder auto-detection picks for it (ATNA inside syslog, sshd, CEF …, then
//! generic syslog). Messages are committed in batches (up to `batch_max` or `batch_wait`) to
//! amortise commits; a TCP connection is not read while its batch commits, so a store that
//! falls behind slows the senders down instead of filling memory.

use crate::commit::{Committer, store_frames};
use crate::config::UdpConfig;
use crate::framing::{Frame, Framer, SyslogFramer};
use crate::stream::{Conn, Io, ReadResult, read_some};
use crate::{ListenError, Shutdown};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::Instant;
use ward_model::Position;

/// The largest UDP payload.
pub(crate) const MAX_DATAGRAM: usize = 65_535;
const READ_CHUNK: usize = 16 * 1024;

/// Serves one syslog TCP or TLS connection until it closes, times out, or shutdown comes;
/// what was received before is committed first.
pub(crate) async fn serve_connection(mut io: Box<dyn Io>, mut conn: Conn) {
    let name = conn.kind.name();
    let source = conn.source();
    let max = conn.limits.max_message_bytes;
    let mut framer = SyslogFramer::new(max);
    let mut buf = vec![0u8; READ_CHUNK];
    let mut batch: Vec<Frame> = Vec::new();
    let mut deadline: Option<Instant> = None;
    let mut totals = (0u64, 0u64, 0u64);
    let mut closing: Option<&'static str> = None;
    loop {
        let mut drained = false;
        while batch.len() < conn.limits.batch_max {
            match framer.next_frame() {
                Ok(Some(frame)) => batch.push(frame),
                Ok(None) => {
                    drained = true;
                    break;
                }
                Err(e) => {
                    tracing::warn!(listener = name, peer = %conn.peer, error = %e, "framing error: closing");
                    closing = Some("framing error");
                    break;
                }
            }
        }
        if closing.is_some()
            && drained
            && let Some(last) = framer.finish()
        {
            batch.push(last);
        }
        if !batch.is_empty() && deadline.is_none() {
            deadline = Some(Instant::now() + conn.limits.batch_wait);
        }
        let due = deadline.is_some_and(|d| d <= Instant::now());
        if !batch.is_empty() && (batch.len() >= conn.limits.batch_max || closing.is_some() || due) {
            let frames = std::mem::take(&mut batch);
            deadline = None;
            let n = frames.len();
            if !commit(&conn, &source, frames, max, &mut totals).await {
                closing = Some("store failure");
                break;
            }
            conn.pace(n).await;
            continue;
        }
        if closing.is_some() {
            break;
        }
        let timeout = if framer.has_partial() {
            conn.limits.read_timeout
        } else {
            conn.limits.idle_timeout
        };
        match read_some(&mut *io, &mut buf, timeout, deadline, &mut conn.shutdown).await {
            ReadResult::Data(n) => framer.push(&buf[..n]),
            ReadResult::Deadline => {}
            ReadResult::Eof => closing = Some("closed by peer"),
            ReadResult::TimedOut => closing = Some("timed out"),
            ReadResult::Shutdown => closing = Some("shutdown"),
            ReadResult::Failed(e) => {
                tracing::debug!(listener = name, peer = %conn.peer, error = %e, "read failed");
                closing = Some("read error");
            }
        }
    }
    tracing::debug!(
        listener = name,
        peer = %conn.peer,
        reason = closing.unwrap_or("-"),
        framing = ?framer.mode(),
        inserted = totals.0,
        duplicates = totals.1,
        quarantined = totals.2,
        "connection closed"
    );
}

/// Commits one batch; false when the store failed (the connection is then closed, so the
/// sender notices and resends).
async fn commit(
    conn: &Conn,
    source: &str,
    frames: Vec<Frame>,
    max: usize,
    totals: &mut (u64, u64, u64),
) -> bool {
    let source = source.to_string();
    let engine = conn.committer.engine();
    let stats = conn.committer.stats();
    let result = conn
        .committer
        .run(move |store| {
            store_frames(
                store,
                &source,
                None,
                &frames,
                max,
                engine.as_deref(),
                &stats,
            )
        })
        .await;
    match result {
        Ok(Ok((_, receipt))) => {
            totals.0 += receipt.inserted;
            totals.1 += receipt.duplicates;
            totals.2 += receipt.quarantined;
            true
        }
        Ok(Err(e)) => {
            tracing::error!(listener = conn.kind.name(), peer = %conn.peer, error = %e, "commit failed");
            false
        }
        Err(e) => {
            tracing::error!(listener = conn.kind.name(), peer = %conn.peer, error = %e, "commit failed");
            false
        }
    }
}

/// Syslog over UDP.
pub struct UdpListener {
    socket: UdpSocket,
    committer: Committer,
    batch_max: usize,
    batch_wait: Duration,
}

/// What one UDP peer has sent so far: message count and bytes, for positions.
#[derive(Default)]
struct PeerCount {
    messages: u64,
    bytes: u64,
}

impl UdpListener {
    pub async fn bind(config: &UdpConfig, committer: Committer) -> Result<Self, ListenError> {
        let addr = config.bind();
        let socket = UdpSocket::bind(addr)
            .await
            .map_err(|source| ListenError::Bind {
                listener: "syslog-udp",
                addr,
                source,
            })?;
        Ok(UdpListener {
            socket,
            committer,
            batch_max: config.batch_max.unwrap_or(512).max(1),
            batch_wait: Duration::from_millis(config.batch_wait_ms.unwrap_or(50)),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.socket
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Receives until shutdown. Datagrams are grouped by peer (each peer is its own source)
    /// and committed together; while a batch commits, datagrams wait in the socket's buffer
    /// (UDP has no backpressure: a full buffer drops, as RFC 5426 warns).
    pub async fn run(self, mut shutdown: Shutdown) {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut batch: Vec<(SocketAddr, Frame)> = Vec::new();
        let mut counts: HashMap<SocketAddr, PeerCount> = HashMap::new();
        let mut deadline: Option<Instant> = None;
        let far = Duration::from_secs(86_400);
        loop {
            let stop = tokio::select! {
                biased;
                _ = shutdown.wait() => true,
                _ = tokio::time::sleep_until(deadline.unwrap_or_else(|| Instant::now() + far)), if deadline.is_some() => false,
                r = self.socket.recv_from(&mut buf) => {
                    match r {
                        Ok((n, peer)) => {
                            if counts.len() > 10_000 && !counts.contains_key(&peer) {
                                counts.clear();
                            }
                            let count = counts.entry(peer).or_default();
                            count.messages += 1;
                            let position = Position { line: count.messages, offset: count.bytes, entry: None };
                            count.bytes += n as u64;
                            let bytes = trim_end(&buf[..n]).to_vec();
                            if !bytes.is_empty() {
                                batch.push((peer, Frame { true_len: bytes.len() as u64, bytes, position, oversize: false }));
                                deadline.get_or_insert_with(|| Instant::now() + self.batch_wait);
                            }
                        }
                        Err(e) => tracing::debug!(listener = "syslog-udp", error = %e, "receive failed"),
                    }
                    false
                }
            };
            let due = deadline.is_some_and(|d| d <= Instant::now());
            if !batch.is_empty() && (stop || due || batch.len() >= self.batch_max) {
                deadline = None;
                self.commit(std::mem::take(&mut batch)).await;
            }
            if stop {
                break;
            }
        }
        tracing::info!(listener = "syslog-udp", "stopped");
    }

    async fn commit(&self, batch: Vec<(SocketAddr, Frame)>) {
        let mut by_peer: Vec<(SocketAddr, Vec<Frame>)> = Vec::new();
        for (peer, frame) in batch {
            match by_peer.iter_mut().find(|(p, _)| *p == peer) {
                Some((_, frames)) => frames.push(frame),
                None => by_peer.push((peer, vec![frame])),
            }
        }
        let engine = self.committer.engine();
        let stats = self.committer.stats();
        let result = self
            .committer
            .run(move |store| {
                let mut totals = (0, 0, 0);
                for (peer, frames) in by_peer {
                    let source = format!("syslog-udp://{peer}");
                    let (_, r) = store_frames(
                        store,
                        &source,
                        None,
                        &frames,
                        MAX_DATAGRAM,
                        engine.as_deref(),
                        &stats,
                    )?;
                    totals.0 += r.inserted;
                    totals.1 += r.duplicates;
                    totals.2 += r.quarantined;
                }
                Ok::<_, crate::commit::CommitError>(totals)
            })
            .await;
        match result {
            Ok(Ok((inserted, duplicates, quarantined))) => {
                tracing::debug!(
                    listener = "syslog-udp",
                    inserted,
                    duplicates,
                    quarantined,
                    "committed"
                );
            }
            Ok(Err(e)) => {
                tracing::error!(listener = "syslog-udp", error = %e, "commit failed: datagrams lost")
            }
            Err(e) => {
                tracing::error!(listener = "syslog-udp", error = %e, "commit failed: datagrams lost")
            }
        }
    }
}

/// Senders often end a datagram with a newline (or a NUL) that is not part of the message.
fn trim_end(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|&b| !matches!(b, b'\n' | b'\r' | 0))
        .map_or(0, |i| i + 1);
    &bytes[..end]
}
