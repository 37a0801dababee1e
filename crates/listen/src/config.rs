//! The `[listen]` section of Ward's configuration: one table per listener, each with
//! `enabled`, `bind` and its limits. Every limit has a default sized for a hospital's feeds;
//! unknown keys are refused so a typo never silently falls back to a default.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenConfig {
    #[serde(default)]
    pub syslog_udp: UdpConfig,
    #[serde(default)]
    pub syslog_tcp: StreamConfig,
    #[serde(default)]
    pub syslog_tls: StreamConfig,
    #[serde(default)]
    pub mllp: StreamConfig,
    #[serde(default)]
    pub mllp_tls: StreamConfig,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub netflow: NetflowConfig,
    #[serde(default)]
    pub tls: TlsConfig,
    /// Store commits running or waiting at once, over all listeners (default 4). Beyond it a
    /// connection waits (TCP: stops reading) and HTTP answers 503.
    pub max_pending_commits: Option<usize>,
}

/// Syslog over UDP (RFC 5426): one datagram, one message.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UdpConfig {
    #[serde(default)]
    pub enabled: bool,
    /// Default `0.0.0.0:514` (binding it needs root or CAP_NET_BIND_SERVICE).
    pub bind: Option<SocketAddr>,
    /// Messages committed together (default 512).
    pub batch_max: Option<usize>,
    /// Longest a received message waits for its batch to fill (default 50 ms).
    pub batch_wait_ms: Option<u64>,
}

/// NetFlow v5/v9 and IPFIX export over UDP.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetflowConfig {
    #[serde(default)]
    pub enabled: bool,
    /// Default `0.0.0.0:2055` (NetFlow's usual port; IPFIX's registered port is 4739).
    pub bind: Option<SocketAddr>,
    /// Datagrams committed together (default 512).
    pub batch_max: Option<usize>,
    /// Longest a received datagram waits for its batch to fill (default 50 ms).
    pub batch_wait_ms: Option<u64>,
    /// Datagrams per second per exporter address; the excess is dropped and counted. 0 turns
    /// the limit off (default 10,000).
    pub rate_per_peer: Option<f64>,
    /// Exporters whose templates are kept (default 1024); a new one beyond it displaces one.
    pub max_exporters: Option<usize>,
}

impl NetflowConfig {
    /// Datagrams per second per exporter (0: no limit).
    pub fn rate_per_peer(&self) -> f64 {
        self.rate_per_peer.unwrap_or(10_000.0).max(0.0)
    }

    pub fn bind(&self) -> SocketAddr {
        self.bind
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 2055)))
    }
}

/// A stream listener: syslog over TCP or TLS, HL7 over MLLP (plain or TLS).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConfig {
    #[serde(default)]
    pub enabled: bool,
    pub bind: Option<SocketAddr>,
    /// Longest message kept; longer ones are quarantined with their true length (default
    /// 64 KiB for syslog, 1 MiB for HL7).
    pub max_message_bytes: Option<usize>,
    /// Connections open at once; more are closed as soon as they are accepted (default 256).
    pub max_connections: Option<usize>,
    /// A message that has started must be complete within this many seconds of silence
    /// (default 30).
    pub read_timeout_secs: Option<u64>,
    /// A connection silent this long between messages is closed (default 300).
    pub idle_timeout_secs: Option<u64>,
    /// Messages per second per peer address (token bucket, burst of one second); a peer above
    /// it is read more slowly. 0 turns the limit off (default 20,000).
    pub rate_per_peer: Option<f64>,
    /// Messages committed together (default 512).
    pub batch_max: Option<usize>,
    /// Longest a received message waits for its batch to fill (default 50 ms; HL7 is
    /// committed as soon as it arrives, its sender waits for the ACK).
    pub batch_wait_ms: Option<u64>,
}

/// FHIR and bulk ingest over HTTP.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// `ward serve` runs the HTTP server unless this is `false`.
    pub enabled: Option<bool>,
    /// Default `127.0.0.1:8080`; `ward serve --listen` overrides it.
    pub bind: Option<SocketAddr>,
    /// SHA-256 of each accepted API token, in hex (`printf %s TOKEN | sha256sum`). Never the
    /// token itself. Without any, every ingest request is refused.
    #[serde(default)]
    pub token_sha256: Vec<String>,
    /// Largest request body (default 8 MiB): larger ones get 413.
    pub max_body_bytes: Option<usize>,
    /// Ingest requests handled at once; more get 503 with Retry-After (default 64).
    pub max_concurrent_requests: Option<usize>,
    /// Connections open at once; more are closed as soon as they are accepted (default 512).
    pub max_connections: Option<usize>,
    /// A request body must arrive within this many seconds (default 30): else 408.
    pub read_timeout_secs: Option<u64>,
    /// Requests per second per peer address; above it 429 with Retry-After. 0 (default) turns
    /// the limit off.
    pub rate_per_peer: Option<f64>,
}

/// The certificate and key of the TLS listeners (PEM files). When neither is given a
/// self-signed certificate is generated at start and its SHA-256 fingerprint printed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// Which stream listener a [`StreamConfig`] is for: it decides the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    SyslogTcp,
    SyslogTls,
    Mllp,
    MllpTls,
}

impl StreamKind {
    pub fn name(self) -> &'static str {
        match self {
            StreamKind::SyslogTcp => "syslog-tcp",
            StreamKind::SyslogTls => "syslog-tls",
            StreamKind::Mllp => "mllp",
            StreamKind::MllpTls => "mllp-tls",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            StreamKind::SyslogTcp => 601,
            StreamKind::SyslogTls => 6514,
            StreamKind::Mllp => 2575,
            StreamKind::MllpTls => 2576,
        }
    }

    pub fn is_tls(self) -> bool {
        matches!(self, StreamKind::SyslogTls | StreamKind::MllpTls)
    }

    pub fn is_hl7(self) -> bool {
        matches!(self, StreamKind::Mllp | StreamKind::MllpTls)
    }
}

/// A [`StreamConfig`] with every default filled in.
#[derive(Debug, Clone)]
pub struct StreamLimits {
    pub bind: SocketAddr,
    pub max_message_bytes: usize,
    pub max_connections: usize,
    pub read_timeout: Duration,
    pub idle_timeout: Duration,
    pub rate_per_peer: f64,
    pub batch_max: usize,
    pub batch_wait: Duration,
}

/// Syslog receivers must take messages of at least 32 KiB (RFC 5425/6587, IHE ATNA).
pub const MIN_SYSLOG_MESSAGE_BYTES: usize = 32 * 1024;

impl StreamConfig {
    pub fn limits(&self, kind: StreamKind) -> StreamLimits {
        let default_max = if kind.is_hl7() { 1 << 20 } else { 64 * 1024 };
        let mut max_message_bytes = self.max_message_bytes.unwrap_or(default_max).max(1024);
        if !kind.is_hl7() {
            max_message_bytes = max_message_bytes.max(MIN_SYSLOG_MESSAGE_BYTES);
        }
        StreamLimits {
            bind: self
                .bind
                .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], kind.default_port()))),
            max_message_bytes,
            max_connections: self.max_connections.unwrap_or(256).max(1),
            read_timeout: Duration::from_secs(self.read_timeout_secs.unwrap_or(30).max(1)),
            idle_timeout: Duration::from_secs(self.idle_timeout_secs.unwrap_or(300).max(1)),
            rate_per_peer: self.rate_per_peer.unwrap_or(20_000.0).max(0.0),
            batch_max: self.batch_max.unwrap_or(512).max(1),
            batch_wait: Duration::from_millis(self.batch_wait_ms.unwrap_or(50)),
        }
    }
}

impl UdpConfig {
    pub fn bind(&self) -> SocketAddr {
        self.bind
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 514)))
    }
}

/// An [`HttpConfig`] with every default filled in.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    pub max_body_bytes: usize,
    pub max_concurrent_requests: usize,
    pub max_connections: usize,
    pub read_timeout: Duration,
    pub rate_per_peer: f64,
}

impl HttpConfig {
    /// What the sources page shows of this listener; `tls` when it is served over TLS.
    pub fn facts(&self, tls: bool) -> crate::stats::ListenerFacts {
        let limits = self.limits();
        crate::stats::ListenerFacts {
            name: "http",
            address: self.bind().to_string(),
            transport: "tcp",
            tls,
            max_message_bytes: limits.max_body_bytes as u64,
            max_connections: Some(limits.max_connections as u64),
            rate_per_peer: limits.rate_per_peer,
        }
    }

    pub fn bind(&self) -> SocketAddr {
        self.bind
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)))
    }

    pub fn limits(&self) -> HttpLimits {
        HttpLimits {
            max_body_bytes: self.max_body_bytes.unwrap_or(8 << 20),
            max_concurrent_requests: self.max_concurrent_requests.unwrap_or(64).max(1),
            max_connections: self.max_connections.unwrap_or(512).max(1),
            read_timeout: Duration::from_secs(self.read_timeout_secs.unwrap_or(30).max(1)),
            rate_per_peer: self.rate_per_peer.unwrap_or(0.0).max(0.0),
        }
    }
}
