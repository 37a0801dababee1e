//! Ward's network listeners: syslog over UDP, TCP and TLS, HL7 v2 over MLLP (plain and TLS),
//! FHIR / bulk ingest over HTTP, and NetFlow / IPFIX over UDP. Each listener is one module of
//! the same shape: its configuration, `bind`, and `run` until the shutdown signal. All of them hand what they
//! receive to [`ward_pipeline::ingest_records`] through one [`Committer`], which bounds the
//! commits in flight and runs them off the async threads.
//!
//! The rule every listener keeps: a message is acknowledged (HL7 ACK, HTTP 2xx) only after
//! the call that stored or quarantined it has returned, so a sender that retries after a crash
//! loses nothing, and content-hash ids make the retry harmless. Every listener bounds message
//! size, connections, per-peer rate and read/idle time, and answers overload by reading more
//! slowly (TCP) or with 429/503 and `Retry-After` (HTTP), never by growing memory.
//!
//! Listeners never log message contents (PHI): only listener names, peers and counts.

mod commit;
pub mod config;
mod framing;
pub mod http;
mod limits;
pub mod mllp;
pub mod netflow;
pub mod stats;
mod stream;
pub mod syslog;
pub mod tls;

pub use commit::{Committer, SharedEngine};
pub use config::{
    HttpConfig, ListenConfig, NetflowConfig, StreamConfig, StreamKind, TlsConfig, UdpConfig,
};
pub use stats::{ListenerFacts, ListenerRegistry, ListenerSnapshot, ListenerStats};

use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use ward_store::Store;

/// What can go wrong when starting a listener.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("cannot bind {listener} on {addr}: {source}")]
    Bind {
        listener: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("invalid [listen.http] token_sha256 entry #{0}: expected 64 hexadecimal digits")]
    BadTokenHash(usize),
}

/// Tells every listener to stop: they stop accepting, finish the commits in flight, answer
/// what they committed, and close.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// Returns once shutdown has been asked for (at once if it already has).
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }

    pub fn is_set(&self) -> bool {
        *self.0.borrow()
    }
}

/// The sending side of [`Shutdown`].
#[derive(Debug)]
pub struct ShutdownTrigger(watch::Sender<bool>);

impl ShutdownTrigger {
    pub fn trigger(&self) {
        let _ = self.0.send(true);
    }
}

pub fn shutdown_channel() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger(tx), Shutdown(rx))
}

/// One bound listener.
#[derive(Debug, Clone)]
pub struct Bound {
    pub name: &'static str,
    pub addr: SocketAddr,
}

/// The running listeners.
pub struct Listeners {
    pub bound: Vec<Bound>,
    /// SHA-256 fingerprint of the certificate the TLS listeners present, when one is enabled.
    pub tls_fingerprint: Option<String>,
    /// True when that certificate was generated at start (no `[listen.tls]` files).
    pub tls_generated: bool,
    /// The certificate (DER) the TLS listeners present, for clients that pin it.
    pub tls_certificate: Option<Vec<u8>>,
    /// Each listener's counters; a server adding listeners of its own (the HTTP server with
    /// the console) registers them here too.
    pub registry: ListenerRegistry,
    trigger: ShutdownTrigger,
    tasks: Vec<JoinHandle<()>>,
}

impl Listeners {
    /// Binds every enabled listener of `config` (the HTTP server when `config.http.enabled` is
    /// `Some(true)`) and starts it. Nothing is started unless everything could be bound. With
    /// an `engine`, every event the listeners store is detected on before it is acknowledged.
    pub async fn start(
        config: &ListenConfig,
        store: Arc<dyn Store>,
        engine: Option<SharedEngine>,
    ) -> Result<Listeners, ListenError> {
        let committer =
            Committer::new(store, config.max_pending_commits.unwrap_or(4)).with_engine(engine);
        let registry = ListenerRegistry::new();
        let (trigger, shutdown) = shutdown_channel();
        let mut bound = Vec::new();
        let mut starters: Vec<Box<dyn FnOnce() -> JoinHandle<()> + Send>> = Vec::new();

        let needs_tls = config.syslog_tls.enabled || config.mllp_tls.enabled;
        let identity = if needs_tls {
            Some(tls::load_or_generate(&config.tls)?)
        } else {
            None
        };

        if config.syslog_udp.enabled {
            let stats = registry.register(ListenerFacts::udp(
                "syslog-udp",
                config.syslog_udp.bind(),
                syslog::MAX_DATAGRAM,
                0.0,
            ));
            let udp = syslog::UdpListener::bind(
                &config.syslog_udp,
                committer.for_listener(stats.clone()),
            )
            .await?;
            stats.set_address(udp.local_addr());
            bound.push(Bound {
                name: "syslog-udp",
                addr: udp.local_addr(),
            });
            let sd = shutdown.clone();
            starters.push(Box::new(move || tokio::spawn(udp.run(sd))));
        }
        if config.netflow.enabled {
            let stats = registry.register(ListenerFacts::udp(
                "netflow",
                config.netflow.bind(),
                netflow::MAX_DATAGRAM,
                config.netflow.rate_per_peer(),
            ));
            let netflow = netflow::NetflowListener::bind(
                &config.netflow,
                committer.for_listener(stats.clone()),
            )
            .await?;
            stats.set_address(netflow.local_addr());
            bound.push(Bound {
                name: "netflow",
                addr: netflow.local_addr(),
            });
            let sd = shutdown.clone();
            starters.push(Box::new(move || tokio::spawn(netflow.run(sd))));
        }
        for (kind, cfg) in [
            (StreamKind::SyslogTcp, &config.syslog_tcp),
            (StreamKind::SyslogTls, &config.syslog_tls),
            (StreamKind::Mllp, &config.mllp),
            (StreamKind::MllpTls, &config.mllp_tls),
        ] {
            if !cfg.enabled {
                continue;
            }
            let acceptor = if kind.is_tls() {
                identity.as_ref().map(|i| i.acceptor())
            } else {
                None
            };
            let limits = cfg.limits(kind);
            let stats = registry.register(ListenerFacts {
                name: kind.name(),
                address: limits.bind.to_string(),
                transport: "tcp",
                tls: kind.is_tls(),
                max_message_bytes: limits.max_message_bytes as u64,
                max_connections: Some(limits.max_connections as u64),
                rate_per_peer: limits.rate_per_peer,
            });
            let listener = stream::StreamListener::bind(
                kind,
                limits,
                acceptor,
                committer.for_listener(stats.clone()),
            )
            .await?;
            stats.set_address(listener.local_addr());
            bound.push(Bound {
                name: kind.name(),
                addr: listener.local_addr(),
            });
            let sd = shutdown.clone();
            starters.push(Box::new(move || tokio::spawn(listener.run(sd))));
        }
        if config.http.enabled == Some(true) {
            let stats = registry.register(config.http.facts(false));
            let state = http::HttpState::new(committer.for_listener(stats.clone()), &config.http)?;
            let server = http::HttpServer::bind(config.http.bind(), &config.http, state)
                .await?
                .count_into(stats);
            bound.push(Bound {
                name: "http",
                addr: server.local_addr(),
            });
            let sd = shutdown.clone();
            starters.push(Box::new(move || tokio::spawn(server.run(sd))));
        }
        let tasks = starters.into_iter().map(|start| start()).collect();
        for b in &bound {
            tracing::info!(listener = b.name, addr = %b.addr, "listening");
        }
        Ok(Listeners {
            bound,
            tls_fingerprint: identity.as_ref().map(|i| i.fingerprint.clone()),
            tls_generated: identity.as_ref().is_some_and(|i| i.generated),
            tls_certificate: identity.map(|i| i.cert_der),
            registry,
            trigger,
            tasks,
        })
    }

    /// The address the listener called `name` is bound to.
    pub fn addr(&self, name: &str) -> Option<SocketAddr> {
        self.bound.iter().find(|b| b.name == name).map(|b| b.addr)
    }

    /// Stops accepting, lets every connection finish its commit in flight and answer it, and
    /// returns when all listeners have stopped.
    pub async fn shutdown(self) {
        self.trigger.trigger();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
