//! The key-encryption key: where it comes from, and wrapping data keys with it.

use crate::{KeyPurpose, Result, VaultError, hex, random};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Where the key-encryption key comes from. The key is 32 bytes written as 64 hexadecimal
/// digits (surrounding white space ignored), in each of the three places.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KekSource {
    /// A file readable by its owner only (mode 0600 or stricter).
    File(PathBuf),
    /// An environment variable.
    Env(String),
    /// A command whose standard output is the key (a KMS or HSM client, a secrets manager),
    /// run without a shell: the program, then its arguments.
    Command(Vec<String>),
}

impl KekSource {
    /// Reads the key.
    pub fn load(&self) -> Result<Kek> {
        let origin = self.to_string();
        let failed = |reason: String| VaultError::Kek {
            origin: origin.clone(),
            reason,
        };
        let text: Zeroizing<String> = match self {
            KekSource::File(path) => {
                check_private(path).map_err(failed)?;
                Zeroizing::new(
                    std::fs::read_to_string(path)
                        .map_err(|e| failed(format!("cannot read: {e}")))?,
                )
            }
            KekSource::Env(name) => Zeroizing::new(
                std::env::var(name).map_err(|_| failed("the variable is not set".into()))?,
            ),
            KekSource::Command(argv) => {
                let (program, args) = argv
                    .split_first()
                    .ok_or_else(|| failed("no command given".into()))?;
                let output = std::process::Command::new(program)
                    .args(args)
                    .stdin(std::process::Stdio::null())
                    .stderr(std::process::Stdio::inherit())
                    .output()
                    .map_err(|e| failed(format!("cannot run it: {e}")))?;
                let stdout = Zeroizing::new(output.stdout);
                if !output.status.success() {
                    return Err(failed(format!("the command failed ({})", output.status)));
                }
                Zeroizing::new(
                    String::from_utf8(stdout.to_vec())
                        .map_err(|_| failed("its output is not text".into()))?,
                )
            }
        };
        Kek::parse(&text, &origin)
    }
}

impl fmt::Display for KekSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KekSource::File(path) => write!(f, "file {}", path.display()),
            KekSource::Env(name) => write!(f, "environment variable {name}"),
            KekSource::Command(argv) => write!(f, "command `{}`", argv.join(" ")),
        }
    }
}

/// Refuses a key file that anyone but its owner may read or write.
fn check_private(path: &Path) -> std::result::Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err("it is not a regular file".into());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "other users may access it (mode {mode:03o}); run `chmod 600 {}`",
                path.display()
            ));
        }
    }
    Ok(())
}

/// The key-encryption key. Zeroised when dropped; `Debug` shows its id, never its bytes.
pub struct Kek {
    cipher: Aes256Gcm,
    id: [u8; 8],
}

/// Domain separation for what the KEK's bytes are used for.
const ID_LABEL: &[u8] = b"ward kek id v1";
const WRAP_LABEL: &[u8] = b"ward data key v1";

impl Kek {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Kek {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(bytes).expect("HMAC takes any key");
        mac.update(ID_LABEL);
        let tag = mac.finalize().into_bytes();
        let mut id = [0u8; 8];
        id.copy_from_slice(&tag[..8]);
        Kek {
            cipher: Aes256Gcm::new(bytes.into()),
            id,
        }
    }

    /// Parses 64 hexadecimal digits; `origin` names where they came from, for errors.
    pub fn parse(text: &str, origin: &str) -> Result<Kek> {
        let failed = |reason: &str| VaultError::Kek {
            origin: origin.to_string(),
            reason: reason.to_string(),
        };
        let text = text.trim();
        if text.len() != 64 {
            return Err(failed(
                "it must be 64 hexadecimal digits (32 bytes); generate one with `ward keys generate`",
            ));
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        for (i, pair) in text.as_bytes().chunks(2).enumerate() {
            let digit = |c: u8| (c as char).to_digit(16);
            match (digit(pair[0]), digit(pair[1])) {
                (Some(hi), Some(lo)) => bytes[i] = (hi * 16 + lo) as u8,
                _ => {
                    return Err(failed(
                        "it contains a character that is not a hexadecimal digit",
                    ));
                }
            }
        }
        Ok(Kek::from_bytes(&bytes))
    }

    /// A new random key, written to `path` (which must not exist) readable by its owner only,
    /// and flushed to disk before this returns.
    pub fn create_file(path: &Path) -> Result<Kek> {
        let failed = |reason: String| VaultError::Kek {
            origin: format!("file {}", path.display()),
            reason,
        };
        let bytes = Self::generate_bytes()?;
        let text = Zeroizing::new(format!("{}\n", hex(&bytes[..])));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options
            .open(path)
            .map_err(|e| failed(format!("cannot create: {e}")))?;
        file.write_all(text.as_bytes())
            .and_then(|_| file.sync_all())
            .map_err(|e| failed(format!("cannot write: {e}")))?;
        Ok(Kek::from_bytes(&bytes))
    }

    /// 32 random bytes, for a new key.
    pub fn generate_bytes() -> Result<Zeroizing<[u8; 32]>> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        random(&mut bytes[..])?;
        Ok(bytes)
    }

    /// A fingerprint naming this key (stored beside each key it wrapped), not secret: it
    /// says which KEK a store needs without revealing it.
    pub fn id(&self) -> [u8; 8] {
        self.id
    }

    /// Wraps key material: `nonce ‖ AES-256-GCM(kek, key)`, bound to the key's id and purpose
    /// so a wrapped key cannot be swapped for another row's.
    pub fn wrap(&self, key_id: i64, purpose: KeyPurpose, key: &[u8; 32]) -> Result<Vec<u8>> {
        let purpose = purpose.as_str();
        let mut nonce = [0u8; 12];
        random(&mut nonce)?;
        let aad = wrap_aad(key_id, purpose);
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: key,
                    aad: &aad,
                },
            )
            .map_err(|_| VaultError::Random("AES-GCM refused to encrypt".into()))?;
        let mut out = Vec::with_capacity(12 + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    pub fn unwrap(
        &self,
        key_id: i64,
        purpose: KeyPurpose,
        wrapped: &[u8],
    ) -> Result<Zeroizing<[u8; 32]>> {
        let purpose = purpose.as_str();
        if wrapped.len() < 12 + 16 {
            return Err(VaultError::Unwrap { key_id });
        }
        let aad = wrap_aad(key_id, purpose);
        self.cipher
            .decrypt(
                Nonce::from_slice(&wrapped[..12]),
                Payload {
                    msg: &wrapped[12..],
                    aad: &aad,
                },
            )
            .map_err(|_| VaultError::Unwrap { key_id })
            .and_then(|plain| {
                let plain = Zeroizing::new(plain);
                let mut key = Zeroizing::new([0u8; 32]);
                if plain.len() != 32 {
                    return Err(VaultError::Unwrap { key_id });
                }
                key.copy_from_slice(&plain);
                Ok(key)
            })
    }
}

fn wrap_aad(key_id: i64, purpose: &str) -> Vec<u8> {
    let mut aad = WRAP_LABEL.to_vec();
    aad.extend_from_slice(&key_id.to_le_bytes());
    aad.extend_from_slice(purpose.as_bytes());
    aad
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kek").field("id", &hex(&self.id)).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn parses_hex_and_refuses_anything_else() {
        let a = Kek::parse(KEY, "test").unwrap();
        let b = Kek::parse(&format!("  {KEY}\n"), "test").unwrap();
        assert_eq!(a.id(), b.id());
        assert!(Kek::parse(&KEY[2..], "test").is_err());
        let bad = format!("zz{}", &KEY[2..]);
        let err = Kek::parse(&bad, "test").unwrap_err().to_string();
        assert!(err.contains("hexadecimal"), "{err}");
        assert!(
            !err.contains(&KEY[2..]),
            "the key must not appear in errors: {err}"
        );
    }

    #[test]
    fn wrapping_is_bound_to_the_kek_the_id_and_the_purpose() {
        let kek = Kek::parse(KEY, "test").unwrap();
        let wrapped = kek.wrap(7, KeyPurpose::Data, &[9u8; 32]).unwrap();
        assert_eq!(
            &kek.unwrap(7, KeyPurpose::Data, &wrapped).unwrap()[..],
            &[9u8; 32]
        );
        assert!(kek.unwrap(8, KeyPurpose::Data, &wrapped).is_err());
        assert!(kek.unwrap(7, KeyPurpose::Lookup, &wrapped).is_err());
        let other = Kek::from_bytes(&[1u8; 32]);
        assert!(other.unwrap(7, KeyPurpose::Data, &wrapped).is_err());
    }

    #[test]
    fn key_files_must_be_private_and_are_created_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kek");
        let created = Kek::create_file(&path).unwrap();
        let loaded = KekSource::File(path.clone()).load().unwrap();
        assert_eq!(created.id(), loaded.id());
        assert!(
            Kek::create_file(&path).is_err(),
            "an existing key is never overwritten"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let err = KekSource::File(path).load().unwrap_err().to_string();
            assert!(err.contains("chmod 600"), "{err}");
        }
    }

    #[test]
    fn a_command_can_supply_the_key() {
        let source = KekSource::Command(vec!["echo".into(), KEY.into()]);
        assert_eq!(
            source.load().unwrap().id(),
            Kek::parse(KEY, "t").unwrap().id()
        );
        let failing = KekSource::Command(vec!["false".into()]);
        assert!(failing.load().unwrap_err().to_string().contains("failed"));
    }
}
