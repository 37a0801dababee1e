//! How an event is encoded in the `body` of its stored row. Every backend uses the same
//! encodings, so a body moves between backends (and into a backup) byte for byte, and the hash
//! chain over bodies means the same thing everywhere.
//!
//! Must never panic on a damaged body, allocate what a damaged length prefix claims, or put
//! any part of an event into an error message: bodies hold PHI, error messages end up in logs.

use crate::StoreError;
use lz4_flex::block::{
    CompressTable, compress_into_with_table, decompress_into, get_maximum_output_size,
};
use ward_model::Event;

/// `codec` 1: the whole event (raw record included) as JSON, LZ4 block-compressed, prefixed
/// with the JSON's length as a little-endian `u32` (the layout of `lz4_flex`'s
/// `compress_prepend_size`).
pub(crate) const LZ4_JSON: i64 = 1;

/// LZ4 cannot expand data by more than this factor, so a length prefix claiming more is damage,
/// not data.
const LZ4_MAX_RATIO: usize = 255;

/// Encodes events one after another, reusing its buffers so a batch costs no allocation per
/// event beyond the growth of the output.
#[derive(Default)]
pub(crate) struct Encoder {
    json: Vec<u8>,
    table: CompressTable,
}

impl Encoder {
    /// Appends the codec-1 body of `event` to `out`.
    pub(crate) fn encode_into(
        &mut self,
        event: &Event,
        out: &mut Vec<u8>,
    ) -> Result<(), StoreError> {
        self.json.clear();
        serde_json::to_writer(&mut self.json, event).map_err(|e| StoreError::Backend {
            operation: "encode event",
            reason: json_error_summary(&e),
        })?;
        let json_len = u32::try_from(self.json.len()).map_err(|_| StoreError::Backend {
            operation: "encode event",
            reason: format!(
                "the event's JSON is {} bytes, more than a body can hold",
                self.json.len()
            ),
        })?;
        let start = out.len();
        out.extend_from_slice(&json_len.to_le_bytes());
        out.resize(start + 4 + get_maximum_output_size(self.json.len()), 0);
        let written = compress_into_with_table(&self.json, &mut out[start + 4..], &mut self.table)
            .map_err(|e| StoreError::Backend {
                operation: "encode event",
                reason: e.to_string(),
            })?;
        out.truncate(start + 4 + written);
        Ok(())
    }
}

/// Decodes a stored body. The error is a reason fit for [`StoreError::Corrupt`]: it describes
/// the damage, never the content.
pub(crate) fn decode(codec: i64, body: &[u8]) -> Result<Event, String> {
    match codec {
        LZ4_JSON => {
            let (prefix, compressed) = body
                .split_first_chunk::<4>()
                .ok_or("body shorter than its length prefix")?;
            let json_len = u32::from_le_bytes(*prefix) as usize;
            if json_len
                > compressed
                    .len()
                    .saturating_mul(LZ4_MAX_RATIO)
                    .saturating_add(64)
            {
                return Err(format!(
                    "length prefix claims {json_len} bytes from {} compressed bytes",
                    compressed.len()
                ));
            }
            let mut json = vec![0u8; json_len];
            let written =
                decompress_into(compressed, &mut json).map_err(|e| format!("LZ4: {e}"))?;
            if written != json_len {
                return Err(format!(
                    "decompressed {written} bytes, length prefix says {json_len}"
                ));
            }
            serde_json::from_slice(&json).map_err(|e| json_error_summary(&e))
        }
        other => Err(format!("unknown body codec {other}")),
    }
}

/// serde_json's own messages quote the offending value (`invalid type: string "Jane Doe"`),
/// which may be PHI; this keeps only the kind of error and where it is.
pub(crate) fn json_error_summary(e: &serde_json::Error) -> String {
    format!(
        "JSON {:?} error at line {} column {}",
        e.classify(),
        e.line(),
        e.column()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_model::{EventId, Timestamp};

    fn event() -> Event {
        let mut e = Event {
            id: EventId([7; 16]),
            time: Timestamp(1_700_000_000_000),
            ..Default::default()
        };
        e.metadata.product = "fhir".into();
        e.raw = b"{\"resourceType\":\"AuditEvent\"}".to_vec();
        e
    }

    #[test]
    fn bodies_round_trip_and_match_lz4_flex_prepend_size_layout() {
        let mut out = Vec::new();
        let mut encoder = Encoder::default();
        encoder.encode_into(&event(), &mut out).unwrap();
        let first_len = out.len();
        encoder.encode_into(&event(), &mut out).unwrap();
        assert_eq!(decode(LZ4_JSON, &out[..first_len]).unwrap(), event());
        assert_eq!(decode(LZ4_JSON, &out[first_len..]).unwrap(), event());
        let json = lz4_flex::decompress_size_prepended(&out[..first_len]).unwrap();
        assert_eq!(json, serde_json::to_vec(&event()).unwrap());
    }

    #[test]
    fn damaged_bodies_are_errors_that_do_not_quote_the_content() {
        let mut body = Vec::new();
        Encoder::default().encode_into(&event(), &mut body).unwrap();
        assert!(decode(LZ4_JSON, &body[..2]).is_err());
        assert!(decode(2, &body).is_err());
        let mut huge = body.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(
            decode(LZ4_JSON, &huge)
                .unwrap_err()
                .contains("length prefix")
        );
        let plain = serde_json::to_vec(&serde_json::json!({"id": "Jane Doe"})).unwrap();
        let bad = lz4_flex::compress_prepend_size(&plain);
        let reason = decode(LZ4_JSON, &bad).unwrap_err();
        assert!(!reason.contains("Jane"), "{reason}");
        for i in 0..body.len() {
            let mut flipped = body.clone();
            flipped[i] ^= 0x5a;
            let _ = decode(LZ4_JSON, &flipped);
        }
    }
}
