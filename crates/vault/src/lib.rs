//! The vault: the keys that protect PHI at rest, and the cryptography that uses them.
//!
//! Envelope encryption. A **key-encryption key** (KEK, [`Kek`]) comes from outside the data
//! directory (a key file with strict permissions, an environment variable, or a KMS-style
//! command, see [`KekSource`]). It never encrypts data: it wraps the **data keys**
//! ([`DataKey`]), which are random, one per period, and stored wrapped beside the data they
//! protect. Rotating the KEK re-wraps the few data keys and rewrites nothing else. Three kinds
//! of data key exist, by purpose: `data` keys seal records with AES-256-GCM ([`DataKey::seal`]),
//! the `lookup` key makes keyed hashes (HMAC-SHA-256, [`LookupKey`]) so that equality lookups
//! by patient or user work without storing the value, and the `signing` key (Ed25519,
//! [`SigningKey`]) signs checkpoints of the store's hash chain.
//!
//! Key material held by this crate is zeroised when dropped (`zeroize`; the AES key schedule
//! through `aes-gcm`'s `zeroize` feature). What it cannot clear: the Ed25519 key pair expanded
//! inside `ring`, which offers no zeroisation, and copies an operating system makes (swap,
//! core dumps), which deployment must disable.
//!
//! Must never: log or display key bytes (`Debug` shows ids only), reuse a nonce (every seal
//! draws 96 fresh random bits), or accept a key file that other users can read.

mod kek;
mod keys;

pub use kek::{Kek, KekSource};
pub use keys::{DataKey, KeyPurpose, LookupKey, STREAM_CHUNK, SigningKey, verify_signature};

use thiserror::Error;

/// A vault failure. Messages never contain key bytes or sealed contents.
#[derive(Debug, Error)]
pub enum VaultError {
    #[error("the key-encryption key {origin} is unusable: {reason}")]
    Kek { origin: String, reason: String },
    #[error(
        "cannot unwrap data key {key_id}: the key-encryption key is not the one that wrapped it, or the stored key is damaged"
    )]
    Unwrap { key_id: i64 },
    #[error(
        "sealed data does not open under key {key_id}: it was altered, or sealed under another key"
    )]
    Open { key_id: i64 },
    #[error("sealed data is {len} bytes, shorter than a nonce and tag")]
    TooShort { len: usize },
    #[error("the system's random number generator failed: {0}")]
    Random(String),
}

pub type Result<T> = std::result::Result<T, VaultError>;

/// Fills `buf` from the operating system's CSPRNG.
pub(crate) fn random(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|e| VaultError::Random(e.to_string()))
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}
