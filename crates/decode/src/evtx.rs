//! Windows event log files (`.evtx`), read with the `evtx` crate chunk by chunk: a file is a
//! 4 KiB header followed by self-contained 64 KiB chunks, so the pipeline frames it into
//! blocks and memory stays bounded by a chunk however large the file. Each record is rendered
//! to the JSON shape `evtx_dump` writes and mapped by the `windows` decoder, so Sigma rules see
//! the same field names from an EVTX file as from its JSON export.
//!
//! Never panics on a damaged file: a chunk that does not parse is one quarantined record, a
//! record that does not render is one quarantined entry of its chunk.

use crate::{DecodeError, Decoded, Decoder, Framing, Sniff, SourceDecoder};
use evtx::{EvtxChunkData, ParserSettings};
use std::sync::Arc;

const FILE_MAGIC: &[u8] = b"ElfFile\0";
const CHUNK_MAGIC: &[u8] = b"ElfChnk\0";
const HEADER_BYTES: usize = 4096;
const CHUNK_BYTES: usize = 65536;

/// The EVTX file decoder. Its events carry `metadata.product = "windows"`: they are Windows
/// events, whichever container they came in.
pub struct Evtx;

impl Decoder for Evtx {
    fn name(&self) -> &'static str {
        "evtx"
    }

    fn description(&self) -> &'static str {
        "Windows event log files (.evtx)"
    }

    fn framing(&self) -> Framing {
        Framing::Blocks {
            header: HEADER_BYTES,
            block: CHUNK_BYTES,
        }
    }

    fn sniff(&self, record: &[u8]) -> Sniff {
        if record.starts_with(FILE_MAGIC) || record.starts_with(CHUNK_MAGIC) {
            Sniff::Yes
        } else {
            Sniff::No
        }
    }

    fn decode(&self, record: &[u8], out: &mut Vec<Decoded>) {
        if record.starts_with(FILE_MAGIC) {
            out.push(Err(DecodeError::record(
                "an EVTX file header holds no event; ingest the whole .evtx file",
            )));
            return;
        }
        decode_chunk(record, &settings(), out);
    }

    fn start(&self) -> Option<Box<dyn SourceDecoder>> {
        Some(Box::new(EvtxSource {
            settings: settings(),
        }))
    }
}

fn settings() -> Arc<ParserSettings> {
    // Single-threaded: the crate is built without `multithreading`, the pipeline's workers
    // give the parallelism.
    Arc::new(ParserSettings::default().validate_checksums(false))
}

/// One `.evtx` file read in order: the header first (checked, no events), then its chunks.
struct EvtxSource {
    settings: Arc<ParserSettings>,
}

impl SourceDecoder for EvtxSource {
    fn decode(&mut self, record: &[u8], out: &mut Vec<Decoded>) {
        if record.starts_with(FILE_MAGIC) {
            return; // the file header: nothing to emit
        }
        decode_chunk(record, &self.settings, out);
    }
}

fn decode_chunk(record: &[u8], settings: &Arc<ParserSettings>, out: &mut Vec<Decoded>) {
    if !record.starts_with(CHUNK_MAGIC) {
        // Chunks past the file's last one are zero-filled space, not damage.
        if record.iter().all(|&b| b == 0) {
            return;
        }
        out.push(Err(DecodeError::record(
            "not an EVTX chunk (no ElfChnk signature)",
        )));
        return;
    }
    let mut data = match EvtxChunkData::new(record.to_vec(), false) {
        Ok(data) => data,
        Err(e) => {
            return out.push(Err(DecodeError::record(format!(
                "EVTX chunk header: {}",
                clip(&e.to_string())
            ))));
        }
    };
    let mut chunk = match data.parse(settings.clone()) {
        Ok(chunk) => chunk,
        Err(e) => {
            return out.push(Err(DecodeError::record(format!(
                "EVTX chunk: {}",
                clip(&e.to_string())
            ))));
        }
    };
    for (index, item) in chunk.iter().enumerate() {
        let rendered = item.and_then(|r| r.into_json_value());
        match rendered {
            Ok(record) => {
                let raw = match serde_json::to_vec(&record.data) {
                    Ok(raw) => raw,
                    Err(e) => {
                        out.push(Err(DecodeError::entry(
                            index as u64,
                            format!("EVTX record: {e}"),
                            Vec::new(),
                        )));
                        continue;
                    }
                };
                match crate::windows::decode_object(&raw, &raw) {
                    Ok(event) => out.push(Ok(event)),
                    Err(reason) => out.push(Err(DecodeError::entry(index as u64, reason, raw))),
                }
            }
            Err(e) => out.push(Err(DecodeError::entry(
                index as u64,
                format!("EVTX record: {}", clip(&e.to_string())),
                Vec::new(),
            ))),
        }
    }
}

/// The crate's error texts can quote template strings from the file; keep them short.
fn clip(text: &str) -> String {
    let mut out: String = text.chars().take(120).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damaged_chunks_are_reasons_not_panics() {
        let mut chunk = CHUNK_MAGIC.to_vec();
        chunk.resize(CHUNK_BYTES, 0xa5);
        let mut out = Vec::new();
        Evtx.decode(&chunk, &mut out);
        assert!(out.iter().all(Result::is_err) || out.is_empty());
        out.clear();
        Evtx.decode(b"MZ\x90\x00", &mut out);
        assert!(out[0].is_err());
        out.clear();
        Evtx.decode(&[0u8; 64], &mut out);
        assert!(out.is_empty(), "zero-filled unused chunks are skipped");
    }
}
