//! How an event is encoded in the `body` of its stored row. Every backend uses the same
//! encodings, so a body moves between backends (and into a backup) byte for byte, and the hash
//! chain over bodies means the same thing everywhere.
//!
//! Must never panic on a damaged body, allocate what a damaged length prefix claims, or put
//! any part of an event into an error message: bodies hold PHI, error messages end up in logs.
//! Must never change the bytes of a shipped dictionary: stored bodies depend on them; a new
//! dictionary is a new codec number.

use crate::StoreError;
use lz4_flex::block::{
    compress_into_with_dict, decompress_into_with_dict, get_maximum_output_size,
};
use ward_model::Event;

/// `codec` 1: `json_len: u32 LE ‖ raw_len: u32 LE ‖ LZ4 block of (json ‖ raw)` compressed
/// against [`DICTIONARY_1`], where `json` is the event without its raw record
/// ([`Event::write_json_without_raw`]) and `raw` the record's bytes, unescaped. Keeping the raw
/// record out of the JSON saves escaping every quote of a JSON record; the dictionary lets a
/// single ~2 KB record compress against the vocabulary every audit record repeats.
pub(crate) const LZ4_DICT_1: i64 = 1;

/// What every event body and every FHIR audit record repeats: the normalised event's keys and
/// the code systems and element names of FHIR AuditEvent (R4, R5, IHE BALP). LZ4 finds matches
/// in it as if it preceded each body. Ordered so the most common strings sit nearest the data
/// (LZ4 prefers near matches only in cost, not in correctness).
pub(crate) const DICTIONARY_1: &[u8] = concat!(
    r#"{"resourceType":"AuditEvent","id":"","meta":{"profile":["https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientRead","#,
    r#""https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientQuery"],"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}]},"#,
    r#""category":[{"coding":[{"system":"http://dicom.nema.org/resources/ontology/DCM","code":"110114","display":"User Authentication"}]}],"#,
    r#""code":{"coding":[{"system":"http://dicom.nema.org/resources/ontology/DCM","code":"110122","display":"Login"}]},"outcome":{"code":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-outcome","code":"0","display":"Success"}},"#,
    r#""authorization":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"TREAT"}]}],"networkString":"","#,
    r#""type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest","display":"Restful Operation"},"#,
    r#""subtype":[{"system":"http://hl7.org/fhir/restful-interaction","code":"read","display":"read"}],"action":"R","recorded":"2024-01-01T00:00:00.000Z","outcome":"0","#,
    r#""agent":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP","display":"information recipient"}]},"who":{"identifier":{"system":"urn:oid:","value":""}},"requestor":true,"#,
    r#""purposeOfUse":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"TREAT"}]}]},"#,
    r#"{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/extra-security-role-type","code":"humanuser","display":"human user"}]},"#,
    r#"{"type":{"coding":[{"system":"http://dicom.nema.org/resources/ontology/DCM","code":"110153","display":"Source Role ID"}]},"who":{"display":""},"requestor":false,"network":{"address":"","type":"2"}},"#,
    r#"{"type":{"coding":[{"system":"http://dicom.nema.org/resources/ontology/DCM","code":"110152","display":"Destination Role ID"}]},"who":{"display":""},"requestor":false,"network":{"address":"","type":"1"}}],"#,
    r#""source":{"site":"","observer":{"display":""},"type":[{"system":"http://terminology.hl7.org/CodeSystem/security-source-type","code":"4","display":"Application Server"}]},"#,
    r#""entity":[{"what":{"reference":"Patient/"},"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"1","display":"Person"},"role":{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"1","display":"Patient"}},"#,
    r#"{"what":{"reference":""},"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"2","display":"System Object"},"role":{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"4","display":"Domain Resource"}}]}"#,
    r#"{"id":"","time":"2024-01-01T00:00:00.000Z","class_uid":6003,"activity_id":2,"activity_name":"read","severity":"informational","status":"success","#,
    r#""metadata":{"product":"fhir","log_name":"","uid":"","event_code":"read"},"actor":{"user":{"name":"","uid":"","domain":"urn:oid:","role":""}},"#,
    r#""src_endpoint":{"ip":"","hostname":""},"dst_endpoint":{"hostname":""},"device":{"hostname":""},"patient":{"id":""},"resource":{"type":"","id":""},"purpose_of_use":["TREAT"],"unmapped":{}}"#,
)
.as_bytes();

/// LZ4 cannot expand data by more than this factor, so a length prefix claiming more is damage,
/// not data.
const LZ4_MAX_RATIO: usize = 255;

/// Encodes events one after another, reusing its buffer so a batch costs no allocation per
/// event beyond the growth of the output. Public so that benchmarks can time the encoding on
/// its own (`ward bench ingest`); the store is its only other user.
#[derive(Default)]
pub struct Encoder {
    plain: Vec<u8>,
}

impl Encoder {
    /// Appends the body of `event` (codec [`LZ4_DICT_1`]) to `out`.
    pub fn encode_into(&mut self, event: &Event, out: &mut Vec<u8>) -> Result<(), StoreError> {
        let failed = |reason: String| StoreError::Backend {
            operation: "encode event",
            reason,
        };
        self.plain.clear();
        event
            .write_json_without_raw(&mut self.plain)
            .map_err(|e| failed(json_error_summary(&e)))?;
        let json_len = self.plain.len();
        self.plain.extend_from_slice(&event.raw);
        let too_big = || {
            failed(format!(
                "the event is {} bytes, more than a body can hold",
                self.plain.len()
            ))
        };
        let json_len = u32::try_from(json_len).map_err(|_| too_big())?;
        let raw_len = u32::try_from(event.raw.len()).map_err(|_| too_big())?;
        let start = out.len();
        out.extend_from_slice(&json_len.to_le_bytes());
        out.extend_from_slice(&raw_len.to_le_bytes());
        out.resize(start + 8 + get_maximum_output_size(self.plain.len()), 0);
        let written = compress_into_with_dict(&self.plain, &mut out[start + 8..], DICTIONARY_1)
            .map_err(|e| failed(e.to_string()))?;
        out.truncate(start + 8 + written);
        Ok(())
    }
}

/// Decodes a stored body. The error is a reason fit for [`StoreError::Corrupt`]: it describes
/// the damage, never the content.
pub(crate) fn decode(codec: i64, body: &[u8]) -> Result<Event, String> {
    if codec != LZ4_DICT_1 {
        return Err(format!("unknown body codec {codec}"));
    }
    let (prefix, compressed) = body
        .split_first_chunk::<8>()
        .ok_or("body shorter than its length prefix")?;
    let json_len = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
    let raw_len = u32::from_le_bytes([prefix[4], prefix[5], prefix[6], prefix[7]]) as usize;
    let total = json_len.saturating_add(raw_len);
    // A dictionary lets one byte stand for a long match, so allow for the dictionary's length.
    if total
        > compressed
            .len()
            .saturating_mul(LZ4_MAX_RATIO)
            .saturating_add(DICTIONARY_1.len() * 2 + 64)
    {
        return Err(format!(
            "length prefix claims {total} bytes from {} compressed bytes",
            compressed.len()
        ));
    }
    let mut plain = vec![0u8; total];
    let written = decompress_into_with_dict(compressed, &mut plain, DICTIONARY_1)
        .map_err(|e| format!("LZ4: {e}"))?;
    if written != total {
        return Err(format!(
            "decompressed {written} bytes, length prefix says {total}"
        ));
    }
    let raw = plain.split_off(json_len);
    let mut event: Event = serde_json::from_slice(&plain).map_err(|e| json_error_summary(&e))?;
    event.raw = raw;
    Ok(event)
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
        e.raw = b"{\"resourceType\":\"AuditEvent\",\"note\":\"a \\\"quoted\\\" word\"}".to_vec();
        e
    }

    /// Builds a body by hand from the documented layout, so the layout cannot drift silently.
    fn body_by_hand(e: &Event) -> Vec<u8> {
        let mut json = Vec::new();
        e.write_json_without_raw(&mut json).unwrap();
        let mut plain = json.clone();
        plain.extend_from_slice(&e.raw);
        let mut body = (json.len() as u32).to_le_bytes().to_vec();
        body.extend_from_slice(&(e.raw.len() as u32).to_le_bytes());
        body.extend_from_slice(&lz4_flex::block::compress_with_dict(&plain, DICTIONARY_1));
        body
    }

    #[test]
    fn bodies_round_trip_and_follow_the_documented_layout() {
        let mut out = Vec::new();
        let mut encoder = Encoder::default();
        encoder.encode_into(&event(), &mut out).unwrap();
        let first_len = out.len();
        let mut binary = event();
        binary.raw = vec![0xff, 0, 0x80];
        encoder.encode_into(&binary, &mut out).unwrap();
        assert_eq!(decode(LZ4_DICT_1, &out[..first_len]).unwrap(), event());
        assert_eq!(decode(LZ4_DICT_1, &out[first_len..]).unwrap(), binary);
        assert_eq!(
            decode(LZ4_DICT_1, &body_by_hand(&event())).unwrap(),
            event()
        );
        assert_eq!(&out[..8], &body_by_hand(&event())[..8]);
    }

    #[test]
    fn damaged_bodies_are_errors_that_do_not_quote_the_content() {
        let mut body = Vec::new();
        Encoder::default().encode_into(&event(), &mut body).unwrap();
        assert!(decode(LZ4_DICT_1, &body[..2]).is_err());
        assert!(decode(2, &body).is_err());
        let mut huge = body.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(
            decode(LZ4_DICT_1, &huge)
                .unwrap_err()
                .contains("length prefix")
        );
        let plain = serde_json::to_vec(&serde_json::json!({"id": "Jane Doe"})).unwrap();
        let mut bad = (plain.len() as u32).to_le_bytes().to_vec();
        bad.extend_from_slice(&0u32.to_le_bytes());
        bad.extend_from_slice(&lz4_flex::block::compress_with_dict(&plain, DICTIONARY_1));
        let reason = decode(LZ4_DICT_1, &bad).unwrap_err();
        assert!(!reason.contains("Jane"), "{reason}");
        for i in 0..body.len() {
            let mut flipped = body.clone();
            flipped[i] ^= 0x5a;
            let _ = decode(LZ4_DICT_1, &flipped);
        }
    }
}
