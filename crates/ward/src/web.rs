//! Where the console may be served without TLS. The server itself (plain or TLS, connection
//! limit, handshake and header deadlines, graceful shutdown) is `ward_listen::http::HttpServer`,
//! shared with the `[listen.http]` ingest listener.

use std::net::SocketAddr;

/// Whether plain HTTP may be served on `addr`: only on loopback, where nothing crosses a
/// network (164.312(e)(1) transmission security).
pub fn plain_http_allowed(addr: SocketAddr) -> bool {
    addr.ip().is_loopback()
}
