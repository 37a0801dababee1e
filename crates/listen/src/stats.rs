//! What each listener has done since the process started: connections accepted, refused and
//! open, messages received, stored, duplicated and quarantined, and what its limits turned
//! away. Counters are atomics updated where the work happens; [`ListenerRegistry::snapshot`]
//! reads them for the console's sources page, its API and `/metrics`. Nothing here holds a
//! message or a peer address, so the figures may be shown to any role that sees sources.

use serde::Serialize;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use ward_model::Timestamp;

/// A listener's fixed facts: what it is and the limits it runs under.
#[derive(Debug, Clone, Serialize)]
pub struct ListenerFacts {
    /// The listener's name, as `listening:` prints it (`syslog-tcp`, `mllp-tls`, `http`…).
    pub name: &'static str,
    /// The address it is bound to.
    pub address: String,
    /// The transport: `udp` or `tcp`.
    pub transport: &'static str,
    /// Whether peers connect over TLS.
    pub tls: bool,
    /// Largest message (or HTTP body) taken whole; longer ones are quarantined or refused.
    pub max_message_bytes: u64,
    /// Connections (or concurrent requests) served at once; `None` for UDP.
    pub max_connections: Option<u64>,
    /// Messages (HTTP: requests) per second per peer address; 0 means no limit.
    pub rate_per_peer: f64,
}

/// The counters of one listener.
#[derive(Debug)]
pub struct ListenerStats {
    /// Behind a lock only so the address can be set once the socket is bound.
    facts: Mutex<ListenerFacts>,
    connections_accepted: AtomicU64,
    connections_open: AtomicI64,
    connections_refused: AtomicU64,
    received: AtomicU64,
    stored: AtomicU64,
    duplicates: AtomicU64,
    quarantined: AtomicU64,
    oversize: AtomicU64,
    rate_limited: AtomicU64,
    busy: AtomicU64,
    failed_commits: AtomicU64,
    last_received_ms: AtomicI64,
}

/// A listener's counters as read at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct ListenerSnapshot {
    #[serde(flatten)]
    pub facts: ListenerFacts,
    /// Connections (TCP) accepted since start.
    pub connections_accepted: u64,
    /// Connections open now.
    pub connections_open: u64,
    /// Connections closed at once because the listener was at its connection limit.
    pub connections_refused: u64,
    /// Messages (datagrams, framed messages, records of HTTP bodies) received.
    pub received: u64,
    /// Events newly stored from them.
    pub stored: u64,
    /// Messages whose event was stored before (a sender's retry).
    pub duplicates: u64,
    /// Messages quarantined (undecodable or over the size limit), with their reason.
    pub quarantined: u64,
    /// Of the quarantined, those over the size limit (HTTP: bodies refused with 413).
    pub oversize: u64,
    /// Times the per-peer rate limit acted: a stream slowed, a datagram dropped (counted, as
    /// UDP has no backpressure), an HTTP request answered 429.
    pub rate_limited: u64,
    /// HTTP requests answered 503 because every commit slot was taken.
    pub busy: u64,
    /// Commits that failed in the store (the sender was not acknowledged and will retry).
    pub failed_commits: u64,
    /// When the last message arrived (RFC 3339), if any has.
    pub last_received: Option<String>,
}

impl ListenerStats {
    pub fn new(facts: ListenerFacts) -> Self {
        ListenerStats {
            facts: Mutex::new(facts),
            connections_accepted: AtomicU64::new(0),
            connections_open: AtomicI64::new(0),
            connections_refused: AtomicU64::new(0),
            received: AtomicU64::new(0),
            stored: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            quarantined: AtomicU64::new(0),
            oversize: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            busy: AtomicU64::new(0),
            failed_commits: AtomicU64::new(0),
            last_received_ms: AtomicI64::new(i64::MIN),
        }
    }

    /// Counters that belong to no listener, for committers built outside [`crate::Listeners`]
    /// (tests, tools).
    pub fn detached() -> Arc<Self> {
        Arc::new(ListenerStats::new(ListenerFacts {
            name: "detached",
            address: String::new(),
            transport: "tcp",
            tls: false,
            max_message_bytes: 0,
            max_connections: None,
            rate_per_peer: 0.0,
        }))
    }

    pub fn facts(&self) -> ListenerFacts {
        self.facts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The address the listener is bound to, once it is (a configured port 0 becomes a real one).
    pub fn set_address(&self, addr: SocketAddr) {
        self.facts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .address = addr.to_string();
    }

    /// A connection was accepted; the guard counts it open until dropped.
    pub fn connection_opened(self: &Arc<Self>) -> OpenConnection {
        self.connections_accepted.fetch_add(1, Ordering::Relaxed);
        self.connections_open.fetch_add(1, Ordering::Relaxed);
        OpenConnection(self.clone())
    }

    pub fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// `n` messages arrived now.
    pub fn received(&self, n: u64) {
        if n == 0 {
            return;
        }
        self.received.fetch_add(n, Ordering::Relaxed);
        self.last_received_ms
            .fetch_max(Timestamp::now().millis(), Ordering::Relaxed);
    }

    /// The store's answer for messages this listener handed it.
    pub fn committed(&self, stored: u64, duplicates: u64, quarantined: u64) {
        self.stored.fetch_add(stored, Ordering::Relaxed);
        self.duplicates.fetch_add(duplicates, Ordering::Relaxed);
        self.quarantined.fetch_add(quarantined, Ordering::Relaxed);
    }

    pub fn oversize(&self, n: u64) {
        self.oversize.fetch_add(n, Ordering::Relaxed);
    }

    pub fn rate_limited(&self, n: u64) {
        self.rate_limited.fetch_add(n, Ordering::Relaxed);
    }

    pub fn busy(&self) {
        self.busy.fetch_add(1, Ordering::Relaxed);
    }

    pub fn commit_failed(&self) {
        self.failed_commits.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> ListenerSnapshot {
        let last = self.last_received_ms.load(Ordering::Relaxed);
        ListenerSnapshot {
            facts: self.facts(),
            connections_accepted: self.connections_accepted.load(Ordering::Relaxed),
            connections_open: u64::try_from(self.connections_open.load(Ordering::Relaxed))
                .unwrap_or(0),
            connections_refused: self.connections_refused.load(Ordering::Relaxed),
            received: self.received.load(Ordering::Relaxed),
            stored: self.stored.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
            quarantined: self.quarantined.load(Ordering::Relaxed),
            oversize: self.oversize.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            busy: self.busy.load(Ordering::Relaxed),
            failed_commits: self.failed_commits.load(Ordering::Relaxed),
            last_received: (last != i64::MIN).then(|| Timestamp::from_millis(last).to_rfc3339()),
        }
    }
}

/// Counts a connection open while it lives.
#[derive(Debug)]
pub struct OpenConnection(Arc<ListenerStats>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.connections_open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Every listener of the process, in the order they were started.
#[derive(Debug, Clone, Default)]
pub struct ListenerRegistry(Arc<Mutex<Vec<Arc<ListenerStats>>>>);

impl ListenerRegistry {
    pub fn new() -> Self {
        ListenerRegistry::default()
    }

    /// Adds a listener's counters and returns them for the listener to update.
    pub fn register(&self, facts: ListenerFacts) -> Arc<ListenerStats> {
        let stats = Arc::new(ListenerStats::new(facts));
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(stats.clone());
        stats
    }

    pub fn snapshot(&self) -> Vec<ListenerSnapshot> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|s| s.snapshot())
            .collect()
    }
}

impl ListenerFacts {
    pub fn udp(name: &'static str, addr: SocketAddr, max_message_bytes: usize, rate: f64) -> Self {
        ListenerFacts {
            name,
            address: addr.to_string(),
            transport: "udp",
            tls: false,
            max_message_bytes: max_message_bytes as u64,
            max_connections: None,
            rate_per_peer: rate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_connections_are_counted_while_their_guard_lives() {
        let registry = ListenerRegistry::new();
        let stats = registry.register(ListenerFacts::udp(
            "syslog-udp",
            SocketAddr::from(([127, 0, 0, 1], 514)),
            65_535,
            0.0,
        ));
        let a = stats.connection_opened();
        let b = stats.connection_opened();
        drop(a);
        stats.received(3);
        stats.committed(2, 1, 0);
        let snap = &registry.snapshot()[0];
        assert_eq!(snap.connections_accepted, 2);
        assert_eq!(snap.connections_open, 1);
        assert_eq!((snap.received, snap.stored, snap.duplicates), (3, 2, 1));
        assert!(snap.last_received.is_some());
        drop(b);
        assert_eq!(registry.snapshot()[0].connections_open, 0);
    }
}
