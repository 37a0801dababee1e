//! What the stream listeners (syslog over TCP/TLS, MLLP plain/TLS) share: binding, the accept
//! loop with its connection limit and TLS handshake, and a bounded, timed, cancellable read.
//! The per-message work is in `syslog` and `mllp`.

use crate::commit::Committer;
use crate::config::{StreamKind, StreamLimits};
use crate::limits::PeerRate;
use crate::{ListenError, Shutdown};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

/// How long connections may take to finish their commit in flight after shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A connection's byte stream, plain or TLS.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Everything a connection handler needs.
pub(crate) struct Conn {
    pub kind: StreamKind,
    pub peer: SocketAddr,
    pub limits: Arc<StreamLimits>,
    pub committer: Committer,
    pub rate: Arc<PeerRate>,
    pub shutdown: Shutdown,
}

impl Conn {
    /// The source name stored with what this connection delivers.
    pub fn source(&self) -> String {
        format!("{}://{}", self.kind.name(), self.peer)
    }

    /// Waits as long as the peer's rate limit asks after `messages` messages.
    pub async fn pace(&self, messages: usize) {
        let wait = self.rate.take(self.peer.ip(), messages);
        if !wait.is_zero() {
            self.committer.stats().rate_limited(1);
            tokio::time::sleep(wait).await;
        }
    }
}

pub(crate) enum ReadResult {
    Data(usize),
    Eof,
    /// No byte within the read or idle timeout.
    TimedOut,
    /// The batch deadline passed first.
    Deadline,
    Shutdown,
    Failed(std::io::Error),
}

/// Reads what is there, up to `buf.len()`, unless the timeout, the deadline or shutdown comes
/// first. Cancel-safe: nothing read is lost when another branch wins.
pub(crate) async fn read_some(
    io: &mut dyn Io,
    buf: &mut [u8],
    timeout: Duration,
    deadline: Option<Instant>,
    shutdown: &mut Shutdown,
) -> ReadResult {
    let far = Instant::now() + Duration::from_secs(86_400);
    tokio::select! {
        biased;
        _ = shutdown.wait() => ReadResult::Shutdown,
        _ = tokio::time::sleep_until(deadline.unwrap_or(far)), if deadline.is_some() => ReadResult::Deadline,
        r = tokio::time::timeout(timeout, io.read(buf)) => match r {
            Err(_) => ReadResult::TimedOut,
            Ok(Ok(0)) => ReadResult::Eof,
            Ok(Ok(n)) => ReadResult::Data(n),
            Ok(Err(e)) => ReadResult::Failed(e),
        },
    }
}

pub(crate) struct StreamListener {
    kind: StreamKind,
    limits: Arc<StreamLimits>,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    committer: Committer,
}

impl StreamListener {
    pub async fn bind(
        kind: StreamKind,
        limits: StreamLimits,
        tls: Option<TlsAcceptor>,
        committer: Committer,
    ) -> Result<Self, ListenError> {
        let listener =
            TcpListener::bind(limits.bind)
                .await
                .map_err(|source| ListenError::Bind {
                    listener: kind.name(),
                    addr: limits.bind,
                    source,
                })?;
        Ok(StreamListener {
            kind,
            limits: Arc::new(limits),
            listener,
            tls,
            committer,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or(self.limits.bind)
    }

    /// Accepts until shutdown; each connection runs in its own task. Connections beyond the
    /// limit are closed at once (the sender sees a reset and retries later).
    pub async fn run(self, mut shutdown: Shutdown) {
        let name = self.kind.name();
        let slots = Arc::new(Semaphore::new(self.limits.max_connections));
        let rate = Arc::new(PeerRate::new(self.limits.rate_per_peer));
        let mut connections = JoinSet::new();
        let mut refused: u64 = 0;
        loop {
            let accepted = tokio::select! {
                _ = shutdown.wait() => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => continue,
                accepted = self.listener.accept() => accepted,
            };
            let (tcp, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(listener = name, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                refused += 1;
                self.committer.stats().connection_refused();
                if refused.is_power_of_two() {
                    tracing::warn!(listener = name, %peer, refused, limit = self.limits.max_connections, "connection limit reached: closing new connections");
                }
                drop(tcp);
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let conn = Conn {
                kind: self.kind,
                peer,
                limits: self.limits.clone(),
                committer: self.committer.clone(),
                rate: rate.clone(),
                shutdown: shutdown.clone(),
            };
            let tls = self.tls.clone();
            let open = self.committer.stats().connection_opened();
            connections.spawn(async move {
                let _slot = slot;
                let _open = open;
                tracing::debug!(listener = name, %peer, "connection opened");
                let io: Box<dyn Io> = match tls {
                    None => Box::new(tcp),
                    Some(acceptor) => {
                        match tokio::time::timeout(conn.limits.read_timeout, acceptor.accept(tcp)).await {
                            Ok(Ok(stream)) => Box::new(stream),
                            Ok(Err(e)) => {
                                tracing::info!(listener = name, %peer, error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                tracing::info!(listener = name, %peer, "TLS handshake timed out");
                                return;
                            }
                        }
                    }
                };
                if conn.kind.is_hl7() {
                    crate::mllp::serve_connection(io, conn).await;
                } else {
                    crate::syslog::serve_connection(io, conn).await;
                }
            });
        }
        drop(self.listener);
        tracing::info!(
            listener = name,
            open = connections.len(),
            "stopped accepting; finishing connections"
        );
        let finish = async { while connections.join_next().await.is_some() {} };
        if tokio::time::timeout(SHUTDOWN_GRACE, finish).await.is_err() {
            tracing::warn!(
                listener = name,
                "connections still open after the grace period: closing them"
            );
            connections.shutdown().await;
        }
    }
}
