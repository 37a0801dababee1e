//! The console's HTTPS server: axum's router behind rustls, one task per connection so a slow
//! TLS handshake never holds up the next client, a bounded number of connections, a deadline
//! on the handshake, and graceful shutdown (requests in flight finish).

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;
use ward_listen::Shutdown;
use ward_listen::http::PeerAddr;

/// A client that has not finished its TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `router` over TLS on `listener` until `shutdown`, then waits for connections in
/// flight to finish their requests.
pub async fn serve_tls(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    router: Router,
    max_connections: usize,
    stats: Arc<ward_listen::ListenerStats>,
    mut shutdown: Shutdown,
) {
    let slots = Arc::new(Semaphore::new(max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let permit = tokio::select! {
            _ = shutdown.wait() => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = shutdown.wait() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "console: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let router = router.clone();
        let watcher = graceful.watcher();
        let open = stats.connection_opened();
        tokio::spawn(async move {
            let _permit = permit;
            let _open = open;
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => tls,
                // A failed handshake is the client's business (a scanner, an untrusted
                // certificate): nothing to log beyond debug.
                Ok(Err(e)) => {
                    tracing::debug!(peer = %peer, error = %e, "console: TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let service =
                router.map_request(move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request
                        .extensions_mut()
                        .insert(axum::extract::ConnectInfo(PeerAddr(peer)));
                    request
                });
            let service = TowerToHyperService::new(service);
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HANDSHAKE_TIMEOUT)
                .serve_connection(TokioIo::new(tls), service);
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!(peer = %peer, error = %e, "console: connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Whether plain HTTP may be served on `addr`: only on loopback, where nothing crosses a
/// network (164.312(e)(1) transmission security).
pub fn plain_http_allowed(addr: SocketAddr) -> bool {
    addr.ip().is_loopback()
}
