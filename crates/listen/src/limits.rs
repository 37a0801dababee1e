//! Per-peer rate limiting: a token bucket per peer address, shared by all its connections.
//! A peer above its rate is not refused but slowed: the caller waits the returned delay
//! before reading more (TCP backpressure) or answers 429 with it as `Retry-After` (HTTP).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets kept before idle ones are dropped, so many peers cannot grow memory.
const MAX_PEERS: usize = 10_000;

pub struct PeerRate {
    /// Tokens (messages) per second; 0 means unlimited.
    rate: f64,
    peers: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl PeerRate {
    pub fn new(rate: f64) -> Self {
        PeerRate {
            rate,
            peers: Mutex::new(HashMap::new()),
        }
    }

    /// Takes `n` tokens for `peer` (going into debt if need be) and returns how long the peer
    /// should wait before the debt is paid.
    pub fn take(&self, peer: IpAddr, n: usize) -> Duration {
        if self.rate <= 0.0 {
            return Duration::ZERO;
        }
        let now = Instant::now();
        let burst = self.rate.max(1.0);
        let mut peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        if peers.len() >= MAX_PEERS && !peers.contains_key(&peer) {
            peers.retain(|_, (_, seen)| now.duration_since(*seen) < Duration::from_secs(10));
        }
        let (tokens, seen) = peers.entry(peer).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*seen).as_secs_f64() * self.rate).min(burst);
        *seen = now;
        *tokens -= n as f64;
        if *tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-*tokens / self.rate)
        }
    }

    /// For HTTP: takes one token if the peer has one, else says how long until it will.
    pub fn try_take(&self, peer: IpAddr) -> Result<(), Duration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let delay = self.take(peer, 1);
        if delay.is_zero() {
            return Ok(());
        }
        // Refused: give the token back.
        let mut peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((tokens, _)) = peers.get_mut(&peer) {
            *tokens += 1.0;
        }
        Err(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_within_its_burst_waits_not_and_one_beyond_waits_for_its_debt() {
        let rate = PeerRate::new(100.0);
        let peer: IpAddr = [10, 0, 0, 1].into();
        assert_eq!(rate.take(peer, 100), Duration::ZERO);
        let wait = rate.take(peer, 50);
        assert!(wait > Duration::from_millis(400) && wait <= Duration::from_millis(500));
        assert_eq!(rate.take([10, 0, 0, 2].into(), 1), Duration::ZERO);
        assert!(PeerRate::new(0.0).take(peer, 1_000_000).is_zero());
    }
}
