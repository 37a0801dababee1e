//! The hash chain of committed batches, which makes the stored history tamper-evident: each
//! batch's hash covers the previous batch's hash and every event and quarantined record the
//! batch stored, so changing, removing or reordering a stored row breaks every hash after it.
//! Backends compute it the same way, so `ward verify` means the same on each.
//!
//! The construction, all integers little-endian:
//! `hash = SHA-256(prev_hash ‖ seq:u64 ‖ for each inserted event, in insertion order:
//! id:16 bytes ‖ body_len:u64 ‖ body ‖ for each quarantined record, in id order: its digest ‖
//! events:u64 ‖ quarantined:u64)`, with `prev_hash` of the first batch 32 zero bytes.
//! A quarantined record enters as the digest of its stored fields (not the fields themselves)
//! so that releasing it after a successful retry can keep the digest and leave the chain
//! verifiable.
//!
//! Must never change for existing data: a new construction needs a new version recorded beside
//! the batches it covers.

use sha2::{Digest, Sha256};
use ward_model::{EventId, NewQuarantined, Timestamp};

pub(crate) const GENESIS: [u8; 32] = [0; 32];

/// Hashes one batch as its rows are written.
pub(crate) struct BatchHasher {
    hasher: Sha256,
    events: u64,
    quarantined: u64,
}

impl BatchHasher {
    pub(crate) fn new(prev_hash: &[u8; 32], seq: u64) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(prev_hash);
        hasher.update(seq.to_le_bytes());
        BatchHasher {
            hasher,
            events: 0,
            quarantined: 0,
        }
    }

    /// Adds an event; call for every inserted event before any quarantined record.
    pub(crate) fn event(&mut self, id: &EventId, body: &[u8]) {
        self.hasher.update(id.0);
        self.hasher.update((body.len() as u64).to_le_bytes());
        self.hasher.update(body);
        self.events += 1;
    }

    pub(crate) fn quarantined(&mut self, digest: &[u8; 32]) {
        self.hasher.update(digest);
        self.quarantined += 1;
    }

    pub(crate) fn finish(mut self) -> [u8; 32] {
        self.hasher.update(self.events.to_le_bytes());
        self.hasher.update(self.quarantined.to_le_bytes());
        self.hasher.finalize().into()
    }
}

/// The digest of a quarantined record as stored: its id, every field, and when it was stored.
pub(crate) fn quarantine_digest(
    id: i64,
    record: &NewQuarantined,
    quarantined_at: Timestamp,
) -> [u8; 32] {
    fn bytes(h: &mut Sha256, b: &[u8]) {
        h.update((b.len() as u64).to_le_bytes());
        h.update(b);
    }
    let mut h = Sha256::new();
    h.update(id.to_le_bytes());
    bytes(&mut h, record.source.as_bytes());
    bytes(&mut h, record.format.as_bytes());
    h.update(record.position.line.to_le_bytes());
    h.update(record.position.offset.to_le_bytes());
    match record.position.entry {
        Some(entry) => {
            h.update([1]);
            h.update(entry.to_le_bytes());
        }
        None => h.update([0]),
    }
    bytes(&mut h, record.reason.as_bytes());
    bytes(&mut h, &record.raw);
    h.update(record.raw_len.to_le_bytes());
    h.update(quarantined_at.millis().to_le_bytes());
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_input_changes_the_hash() {
        let hash = |prev: &[u8; 32], seq: u64, body: &[u8], digest: Option<[u8; 32]>| {
            let mut h = BatchHasher::new(prev, seq);
            h.event(&EventId([1; 16]), body);
            if let Some(d) = digest {
                h.quarantined(&d);
            }
            h.finish()
        };
        let base = hash(&GENESIS, 1, b"body", None);
        assert_ne!(base, hash(&[1; 32], 1, b"body", None));
        assert_ne!(base, hash(&GENESIS, 2, b"body", None));
        assert_ne!(base, hash(&GENESIS, 1, b"bodY", None));
        assert_ne!(base, hash(&GENESIS, 1, b"body", Some([0; 32])));
    }

    #[test]
    fn follows_the_documented_construction() {
        let bodies: Vec<Vec<u8>> = (0..300u32)
            .map(|n| vec![n as u8; 500 + (n as usize % 700)])
            .collect();
        let mut batch = BatchHasher::new(&[9; 32], 7);
        let mut plain = Vec::new();
        plain.extend_from_slice(&[9; 32]);
        plain.extend_from_slice(&7u64.to_le_bytes());
        for body in &bodies {
            batch.event(&EventId([3; 16]), body);
            plain.extend_from_slice(&[3; 16]);
            plain.extend_from_slice(&(body.len() as u64).to_le_bytes());
            plain.extend_from_slice(body);
        }
        batch.quarantined(&[4; 32]);
        plain.extend_from_slice(&[4; 32]);
        plain.extend_from_slice(&300u64.to_le_bytes());
        plain.extend_from_slice(&1u64.to_le_bytes());
        assert_eq!(batch.finish(), <[u8; 32]>::from(Sha256::digest(&plain)));
    }

    #[test]
    fn quarantine_digest_covers_position_and_time() {
        let q = NewQuarantined::new("f", "fhir", Default::default(), "bad", b"x");
        let base = quarantine_digest(1, &q, Timestamp(5));
        let mut moved = q.clone();
        moved.position.entry = Some(0);
        assert_ne!(base, quarantine_digest(1, &moved, Timestamp(5)));
        assert_ne!(base, quarantine_digest(2, &q, Timestamp(5)));
        assert_ne!(base, quarantine_digest(1, &q, Timestamp(6)));
    }
}
