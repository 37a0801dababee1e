//! Records Ward could not read. Nothing is dropped: each one is kept with where it came from,
//! why it failed and its bytes (bounded), so it can be inspected and re-run after a fix.

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// At most this many bytes of a bad record are kept; `raw_len` says how long it really was.
pub const MAX_QUARANTINED_BYTES: usize = 64 * 1024;

/// Where in its source a record sat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Position {
    /// 1-based line number, for line-oriented sources (0 when not applicable).
    pub line: u64,
    /// Byte offset of the record's first byte in its source.
    pub offset: u64,
    /// 0-based index of the record inside a container (a Bundle entry), when applicable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<u64>,
}

/// A record to be quarantined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewQuarantined {
    pub source: String,
    /// The format it was read as (`fhir`, `jsonl`, or `auto` when detection failed).
    pub format: String,
    pub position: Position,
    pub reason: String,
    /// The first [`MAX_QUARANTINED_BYTES`] of the record.
    #[serde(with = "crate::quarantine::bytes_lossless")]
    pub raw: Vec<u8>,
    pub raw_len: u64,
}

impl NewQuarantined {
    pub fn new(
        source: &str,
        format: &str,
        position: Position,
        reason: impl Into<String>,
        raw: &[u8],
    ) -> Self {
        NewQuarantined {
            source: source.to_string(),
            format: format.to_string(),
            position,
            reason: reason.into(),
            raw: raw[..raw.len().min(MAX_QUARANTINED_BYTES)].to_vec(),
            raw_len: raw.len() as u64,
        }
    }

    pub fn is_truncated(&self) -> bool {
        self.raw_len as usize > self.raw.len()
    }
}

/// A quarantined record as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuarantinedRecord {
    pub id: i64,
    pub quarantined_at: Timestamp,
    #[serde(flatten)]
    pub record: NewQuarantined,
}

/// Raw bytes as text when they are UTF-8, as a byte array otherwise.
pub(crate) mod bytes_lossless {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Text(String),
        Bytes(Vec<u8>),
    }

    pub fn serialize<S: Serializer>(raw: &[u8], s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(raw) {
            Ok(text) => text.serialize(s),
            Err(_) => raw.serialize(s),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        Ok(match Repr::deserialize(d)? {
            Repr::Text(t) => t.into_bytes(),
            Repr::Bytes(b) => b,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_a_bounded_prefix_and_the_true_length() {
        let big = vec![b'x'; MAX_QUARANTINED_BYTES + 10];
        let q = NewQuarantined::new("f", "fhir", Position::default(), "bad", &big);
        assert_eq!(q.raw.len(), MAX_QUARANTINED_BYTES);
        assert_eq!(q.raw_len, big.len() as u64);
        assert!(q.is_truncated());
    }
}
