//! Data keys, by purpose: sealing records, keyed hashes for lookups, signing checkpoints.

use crate::{Result, VaultError, hex, random};
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use zeroize::Zeroizing;

/// What a stored key is for. Bound into its wrapping, so a key of one purpose cannot be
/// passed off as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPurpose {
    Data,
    Lookup,
    Signing,
}

impl KeyPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyPurpose::Data => "data",
            KeyPurpose::Lookup => "lookup",
            KeyPurpose::Signing => "signing",
        }
    }

    pub fn parse(text: &str) -> Option<KeyPurpose> {
        match text {
            "data" => Some(KeyPurpose::Data),
            "lookup" => Some(KeyPurpose::Lookup),
            "signing" => Some(KeyPurpose::Signing),
            _ => None,
        }
    }
}

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// A data key: seals records with AES-256-GCM. Sealed form: `nonce ‖ ciphertext ‖ tag`, the
/// nonce 96 random bits drawn for each seal. The caller's associated data (a record's id)
/// binds a sealed value to its row, so it cannot be moved to another.
///
/// Random nonces bound how much one key may seal: NIST SP 800-38D allows 2^32 messages per
/// key, which is why data keys change every period.
pub struct DataKey {
    id: i64,
    cipher: Aes256Gcm,
}

impl DataKey {
    pub fn new(id: i64, material: &[u8; 32]) -> DataKey {
        DataKey {
            id,
            cipher: Aes256Gcm::new(material.into()),
        }
    }

    pub fn id(&self) -> i64 {
        self.id
    }

    /// Appends the sealed form of `plain` to `out`.
    pub fn seal_into(&self, aad: &[u8], plain: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let mut nonce = [0u8; NONCE_LEN];
        random(&mut nonce)?;
        let start = out.len();
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plain);
        let tag = self
            .cipher
            .encrypt_in_place_detached(
                Nonce::from_slice(&nonce),
                aad,
                &mut out[start + NONCE_LEN..],
            )
            .map_err(|_| VaultError::Random("AES-GCM refused to encrypt".into()))?;
        out.extend_from_slice(&tag);
        Ok(())
    }

    pub fn seal(&self, aad: &[u8], plain: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(plain.len() + NONCE_LEN + TAG_LEN);
        self.seal_into(aad, plain, &mut out)?;
        Ok(out)
    }

    /// The plaintext of a sealed value, or an error when it was altered or sealed under
    /// another key or for another record.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(VaultError::TooShort { len: sealed.len() });
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let (body, tag) = rest.split_at(rest.len() - TAG_LEN);
        let mut plain = body.to_vec();
        self.cipher
            .decrypt_in_place_detached(
                Nonce::from_slice(nonce),
                aad,
                &mut plain,
                Tag::from_slice(tag),
            )
            .map_err(|_| VaultError::Open { key_id: self.id })?;
        Ok(plain)
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey").field("id", &self.id).finish()
    }
}

/// The lookup key: a keyed hash (HMAC-SHA-256, truncated to 128 bits, hex) of a patient id
/// or user name, stored in place of the value so that equal values still find each other but
/// the database alone says nothing about whose records it holds. Without the key, guessing a
/// value means guessing the key too.
#[derive(Clone)]
pub struct LookupKey {
    // The keyed state (inner and outer pads) is kept, so a hash costs two blocks, not four.
    // `hmac` does not zeroise it; the key bytes themselves are not kept.
    mac: Hmac<Sha256>,
}

impl LookupKey {
    pub fn new(material: &[u8; 32]) -> LookupKey {
        LookupKey {
            mac: <Hmac<Sha256> as Mac>::new_from_slice(material).expect("HMAC takes any key"),
        }
    }

    /// A 32-byte secret derived for one purpose (`label`), stable for the life of the store:
    /// for example the key of the pseudonyms notifications show in place of patient ids.
    pub fn derive(&self, label: &str) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(b"ward derived key\0");
        mac.update(label.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The keyed hash of `value`: 32 hexadecimal digits.
    pub fn hash(&self, value: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(value.as_bytes());
        hex(&mac.finalize().into_bytes()[..16])
    }
}

impl fmt::Debug for LookupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LookupKey(..)")
    }
}

/// The signing key of the store's checkpoints (Ed25519).
pub struct SigningKey {
    pair: ring::signature::Ed25519KeyPair,
    _seed: Zeroizing<[u8; 32]>,
}

impl SigningKey {
    pub fn new(seed: &[u8; 32]) -> Result<SigningKey> {
        let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(seed)
            .map_err(|_| VaultError::Random("Ed25519 refused the seed".into()))?;
        Ok(SigningKey {
            pair,
            _seed: Zeroizing::new(*seed),
        })
    }

    pub fn public_key(&self) -> [u8; 32] {
        use ring::signature::KeyPair;
        let mut out = [0u8; 32];
        out.copy_from_slice(self.pair.public_key().as_ref());
        out
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out.copy_from_slice(self.pair.sign(message).as_ref());
        out
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("public", &hex(&self.public_key()))
            .finish()
    }
}

/// Whether `signature` is `public_key`'s Ed25519 signature of `message`.
pub fn verify_signature(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public_key)
        .verify(message, signature)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_data_opens_only_with_its_key_and_record() {
        let key = DataKey::new(1, &[7u8; 32]);
        let sealed = key.seal(b"row 1", b"Jane Doe MRN1000001").unwrap();
        assert!(!sealed.windows(4).any(|w| w == b"Jane"));
        assert_eq!(key.open(b"row 1", &sealed).unwrap(), b"Jane Doe MRN1000001");
        assert!(key.open(b"row 2", &sealed).is_err(), "bound to its record");
        assert!(DataKey::new(2, &[8u8; 32]).open(b"row 1", &sealed).is_err());
        for i in 0..sealed.len() {
            let mut flipped = sealed.clone();
            flipped[i] ^= 1;
            assert!(key.open(b"row 1", &flipped).is_err(), "byte {i} flipped");
        }
        assert!(matches!(
            key.open(b"", &[0; 5]),
            Err(VaultError::TooShort { len: 5 })
        ));
        // A fresh nonce for every seal: the same plaintext never seals the same way twice.
        assert_ne!(key.seal(b"r", b"x").unwrap(), key.seal(b"r", b"x").unwrap());
    }

    #[test]
    fn lookup_hashes_are_stable_keyed_and_opaque() {
        let a = LookupKey::new(&[1u8; 32]);
        let b = LookupKey::new(&[2u8; 32]);
        assert_eq!(a.hash("pt000001"), a.hash("pt000001"));
        assert_ne!(a.hash("pt000001"), a.hash("pt000002"));
        assert_ne!(a.hash("pt000001"), b.hash("pt000001"));
        assert_eq!(a.hash("x").len(), 32);
    }

    #[test]
    fn checkpoint_signatures_verify_and_detect_changes() {
        let key = SigningKey::new(&[3u8; 32]).unwrap();
        let signature = key.sign(b"batch 12 hash");
        assert!(verify_signature(
            &key.public_key(),
            b"batch 12 hash",
            &signature
        ));
        assert!(!verify_signature(
            &key.public_key(),
            b"batch 13 hash",
            &signature
        ));
        let other = SigningKey::new(&[4u8; 32]).unwrap();
        assert!(!verify_signature(
            &other.public_key(),
            b"batch 12 hash",
            &signature
        ));
    }
}

/// Chunked sealing of a whole file (a backup): `u32 LE length ‖ sealed chunk` repeated, each
/// chunk of at most [`STREAM_CHUNK`] plaintext bytes sealed with its index and whether it is
/// the last as associated data, so chunks cannot be reordered, dropped or cut off at the end
/// without opening failing.
pub const STREAM_CHUNK: usize = 1 << 20;

const STREAM_LABEL: &[u8] = b"ward stream v1";

fn stream_aad(index: u64, last: bool) -> Vec<u8> {
    let mut aad = STREAM_LABEL.to_vec();
    aad.extend_from_slice(&index.to_le_bytes());
    aad.push(u8::from(last));
    aad
}

/// Reads up to `buf.len()` bytes, fewer only at the end of `input`.
fn fill(input: &mut impl std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl DataKey {
    /// Seals everything `input` holds into `output`; returns the plaintext length.
    pub fn seal_stream(
        &self,
        mut input: impl std::io::Read,
        mut output: impl std::io::Write,
    ) -> std::io::Result<u64> {
        let mut current = vec![0u8; STREAM_CHUNK];
        let mut next = vec![0u8; STREAM_CHUNK];
        let mut len = fill(&mut input, &mut current)?;
        let mut index = 0u64;
        let mut total = 0u64;
        let mut sealed = Vec::with_capacity(STREAM_CHUNK + NONCE_LEN + TAG_LEN);
        loop {
            let next_len = if len == STREAM_CHUNK {
                fill(&mut input, &mut next)?
            } else {
                0
            };
            let last = next_len == 0;
            sealed.clear();
            self.seal_into(&stream_aad(index, last), &current[..len], &mut sealed)
                .map_err(std::io::Error::other)?;
            output.write_all(&(sealed.len() as u32).to_le_bytes())?;
            output.write_all(&sealed)?;
            total += len as u64;
            if last {
                break;
            }
            std::mem::swap(&mut current, &mut next);
            len = next_len;
            index += 1;
        }
        output.flush()?;
        Ok(total)
    }

    /// Opens what [`DataKey::seal_stream`] wrote into `output`; fails on any change, on
    /// reordered or missing chunks and on a stream cut short. Returns the plaintext length.
    pub fn open_stream(
        &self,
        mut input: impl std::io::Read,
        mut output: impl std::io::Write,
    ) -> std::io::Result<u64> {
        let bad =
            |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
        let read_len = |input: &mut dyn std::io::Read| -> std::io::Result<Option<usize>> {
            let mut header = [0u8; 4];
            match fill(&mut { input }, &mut header)? {
                0 => Ok(None),
                4 => Ok(Some(u32::from_le_bytes(header) as usize)),
                _ => Err(bad("the stream ends inside a chunk header")),
            }
        };
        let mut len = read_len(&mut input)?.ok_or_else(|| bad("the stream is empty"))?;
        let mut index = 0u64;
        let mut total = 0u64;
        let mut sealed = Vec::new();
        loop {
            if !(NONCE_LEN + TAG_LEN..=STREAM_CHUNK + NONCE_LEN + TAG_LEN).contains(&len) {
                return Err(bad("a chunk length is out of range"));
            }
            sealed.resize(len, 0);
            if fill(&mut input, &mut sealed)? != len {
                return Err(bad("the stream ends inside a chunk"));
            }
            let next = read_len(&mut input)?;
            let plain = self
                .open(&stream_aad(index, next.is_none()), &sealed)
                .map_err(|_| {
                    bad("a chunk does not open: the stream was changed, reordered or cut short")
                })?;
            output.write_all(&plain)?;
            total += plain.len() as u64;
            match next {
                None => break,
                Some(n) => len = n,
            }
            index += 1;
        }
        output.flush()?;
        Ok(total)
    }
}

#[cfg(test)]
mod stream_tests {
    use super::*;

    fn round_trip(len: usize) -> (Vec<u8>, Vec<u8>) {
        let key = DataKey::new(9, &[5u8; 32]);
        let plain: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let mut sealed = Vec::new();
        assert_eq!(
            key.seal_stream(&plain[..], &mut sealed).unwrap(),
            len as u64
        );
        let mut opened = Vec::new();
        key.open_stream(&sealed[..], &mut opened).unwrap();
        assert_eq!(opened, plain);
        (plain, sealed)
    }

    #[test]
    fn streams_of_any_length_round_trip() {
        for len in [
            0,
            1,
            STREAM_CHUNK - 1,
            STREAM_CHUNK,
            STREAM_CHUNK + 1,
            2 * STREAM_CHUNK + 5,
        ] {
            round_trip(len);
        }
    }

    #[test]
    fn a_stream_cut_short_changed_or_reordered_does_not_open() {
        let key = DataKey::new(9, &[5u8; 32]);
        let (_, sealed) = round_trip(2 * STREAM_CHUNK + 5);
        let first = 4 + STREAM_CHUNK + NONCE_LEN + TAG_LEN;
        // Cut after whole chunks: the new last chunk was not sealed as last.
        assert!(key.open_stream(&sealed[..first], &mut Vec::new()).is_err());
        let mut flipped = sealed.clone();
        flipped[first + 100] ^= 1;
        assert!(key.open_stream(&flipped[..], &mut Vec::new()).is_err());
        // Swap the first two chunks.
        let mut swapped = sealed[first..2 * first].to_vec();
        swapped.extend_from_slice(&sealed[..first]);
        swapped.extend_from_slice(&sealed[2 * first..]);
        assert!(key.open_stream(&swapped[..], &mut Vec::new()).is_err());
    }
}
