use thiserror::Error;
use ward_store::StoreError;

/// Why a source could not be ingested. Messages name the source, the line and what to do;
/// they quote at most a short, sanitised excerpt of the input.
#[derive(Debug, Error)]
pub enum IngestError {
    #[error("cannot read {source_name}: {error}")]
    Io {
        source_name: String,
        error: std::io::Error,
    },
    #[error("unknown format {name:?}; known formats: {known}")]
    UnknownFormat { name: String, known: String },
    #[error(
        "{source_name}: cannot recognise the format from line {line} ({excerpt}); name it with --format ({known})"
    )]
    Unrecognised {
        source_name: String,
        line: u64,
        excerpt: String,
        known: String,
    },
    #[error("{source_name} is not {format}: line {line}: {reason}")]
    NotFormat {
        source_name: String,
        format: String,
        line: u64,
        reason: String,
    },
    #[error(
        "{source_name}: a single JSON document larger than {limit} bytes; split it into NDJSON (one resource a line)"
    )]
    DocumentTooLarge { source_name: String, limit: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal pipeline failure: {0}")]
    Internal(String),
}

impl IngestError {
    /// True when the input (or the command) was at fault rather than Ward: exit code 2.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            IngestError::Io { .. }
                | IngestError::UnknownFormat { .. }
                | IngestError::Unrecognised { .. }
                | IngestError::NotFormat { .. }
                | IngestError::DocumentTooLarge { .. }
        )
    }
}

/// A short excerpt of a record for an error message: printable ASCII only, at most 60 chars,
/// so binary garbage and control characters never reach a terminal or a log.
pub(crate) fn excerpt(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes.iter().take(60) {
        out.push(if (0x20..0x7f).contains(&b) {
            b as char
        } else {
            '.'
        });
    }
    if bytes.len() > 60 {
        out.push('…');
    }
    format!("{out:?}")
}
