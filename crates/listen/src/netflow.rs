//! NetFlow v5/v9 and IPFIX over UDP (RFC 3954, RFC 7011 §10.3): one datagram, one or more
//! export packets. Each exporter (source address and port) is its own source with its own
//! template cache, so a template announced by one router never decodes another's data. Each
//! datagram is handed to [`ward_pipeline::ingest_records`] with the templates it uses in
//! front ([`ward_decode::netflow::with_templates`]), so every stored or quarantined record
//! reads on its own; a datagram of templates and options records only updates the cache and
//! stores nothing.
//!
//! UDP has no backpressure: a peer above `rate_per_peer` datagrams a second has the excess
//! dropped and counted (logged as a count, never contents), as the kernel would once its
//! buffer is full; the exporters tracked are bounded too.

use crate::commit::{Committer, store_frames};
use crate::config::NetflowConfig;
use crate::framing::Frame;
use crate::limits::PeerRate;
use crate::{ListenError, Shutdown};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::Instant;
use ward_decode::Decoder;
use ward_decode::netflow::{Netflow, TemplateCache, with_templates};
use ward_model::Position;

const NAME: &str = "netflow";
/// The largest UDP payload.
pub(crate) const MAX_DATAGRAM: usize = 65_535;
/// How often dropped datagrams are reported.
const DROP_REPORT: Duration = Duration::from_secs(10);

/// One exporter: its templates, and the datagrams and bytes it has sent (for positions).
#[derive(Default)]
struct Exporter {
    templates: TemplateCache,
    datagrams: u64,
    bytes: u64,
}

/// NetFlow / IPFIX over UDP.
pub struct NetflowListener {
    socket: UdpSocket,
    committer: Committer,
    batch_max: usize,
    batch_wait: Duration,
    rate: PeerRate,
    max_exporters: usize,
}

impl NetflowListener {
    pub async fn bind(config: &NetflowConfig, committer: Committer) -> Result<Self, ListenError> {
        let addr = config.bind();
        let socket = UdpSocket::bind(addr)
            .await
            .map_err(|source| ListenError::Bind {
                listener: NAME,
                addr,
                source,
            })?;
        Ok(NetflowListener {
            socket,
            committer,
            batch_max: config.batch_max.unwrap_or(512).max(1),
            batch_wait: Duration::from_millis(config.batch_wait_ms.unwrap_or(50)),
            rate: PeerRate::new(config.rate_per_peer()),
            max_exporters: config.max_exporters.unwrap_or(1024).max(1),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.socket
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Receives until shutdown, committing datagrams in batches (up to `batch_max`, or
    /// `batch_wait` after the first); while a batch commits, datagrams wait in the socket's
    /// buffer.
    pub async fn run(self, mut shutdown: Shutdown) {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut batch: Vec<(SocketAddr, Frame)> = Vec::new();
        let mut exporters: HashMap<SocketAddr, Exporter> = HashMap::new();
        let mut deadline: Option<Instant> = None;
        let mut dropped = 0u64;
        let mut last_report = Instant::now();
        let far = Duration::from_secs(86_400);
        loop {
            let stop = tokio::select! {
                biased;
                _ = shutdown.wait() => true,
                _ = tokio::time::sleep_until(deadline.unwrap_or_else(|| Instant::now() + far)), if deadline.is_some() => false,
                r = self.socket.recv_from(&mut buf) => {
                    match r {
                        Ok((n, peer)) => {
                            if !self.rate.take(peer.ip(), 1).is_zero() {
                                dropped += 1;
                                self.committer.stats().rate_limited(1);
                            } else if let Some(frame) = self.receive(&mut exporters, peer, buf.get(..n).unwrap_or_default()) {
                                batch.push((peer, frame));
                                deadline.get_or_insert_with(|| Instant::now() + self.batch_wait);
                            }
                        }
                        Err(e) => tracing::debug!(listener = NAME, error = %e, "receive failed"),
                    }
                    false
                }
            };
            if dropped > 0 && (stop || last_report.elapsed() >= DROP_REPORT) {
                tracing::warn!(
                    listener = NAME,
                    dropped,
                    "datagrams over the per-exporter rate were dropped"
                );
                dropped = 0;
                last_report = Instant::now();
            }
            let due = deadline.is_some_and(|d| d <= Instant::now());
            if !batch.is_empty() && (stop || due || batch.len() >= self.batch_max) {
                deadline = None;
                self.commit(std::mem::take(&mut batch)).await;
            }
            if stop {
                break;
            }
        }
        tracing::info!(listener = NAME, "stopped");
    }

    /// Reads one datagram's templates into its exporter's cache; the record to store, unless
    /// the datagram held only templates and options records.
    fn receive(
        &self,
        exporters: &mut HashMap<SocketAddr, Exporter>,
        peer: SocketAddr,
        datagram: &[u8],
    ) -> Option<Frame> {
        if datagram.is_empty() {
            return None;
        }
        if exporters.len() >= self.max_exporters
            && !exporters.contains_key(&peer)
            && let Some(oldest) = exporters.keys().next().copied()
        {
            // Its data is quarantined as of unknown templates until it announces them again.
            exporters.remove(&oldest);
        }
        let exporter = exporters.entry(peer).or_default();
        exporter.datagrams += 1;
        let position = Position {
            line: exporter.datagrams,
            offset: exporter.bytes,
            entry: None,
        };
        exporter.bytes += datagram.len() as u64;
        let record = with_templates(datagram, &mut exporter.templates)?;
        Some(Frame {
            true_len: record.len() as u64,
            bytes: record,
            position,
            oversize: false,
        })
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
        let decoder: &'static dyn Decoder = &Netflow;
        let stats = self.committer.stats();
        let result = self
            .committer
            .run(move |store| {
                let mut totals = (0, 0, 0);
                for (peer, frames) in by_peer {
                    let source = format!("{NAME}://{peer}");
                    // A record is a datagram with templates in front: never over the limit.
                    let (_, r) = store_frames(
                        store,
                        &source,
                        Some(decoder),
                        &frames,
                        usize::MAX,
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
                    listener = NAME,
                    inserted,
                    duplicates,
                    quarantined,
                    "committed"
                );
            }
            Ok(Err(e)) => {
                tracing::error!(listener = NAME, error = %e, "commit failed: datagrams lost")
            }
            Err(e) => {
                tracing::error!(listener = NAME, error = %e, "commit failed: datagrams lost")
            }
        }
    }
}
