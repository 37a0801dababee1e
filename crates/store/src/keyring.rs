//! The unwrapped keys of an encrypted store, and the conventions every backend uses to seal
//! a stored value: which data key, which associated data. Backend-neutral; where the wrapped
//! keys are kept is the backend's business (`sqlite/keys.rs`).
//!
//! What is sealed (AES-256-GCM, see `ward_vault::DataKey`): event bodies (associated data:
//! the event id), quarantined records' reason and raw bytes (their source and position),
//! context resources (their kind and keyed id), alert bodies and close reasons (the alert id).
//! What is kept as a keyed hash (`ward_vault::LookupKey`): the user and patient lookup
//! columns of events, context ids, alert entities. What stays plain: times, classes, source
//! IP addresses and host names (network analytics need them; they identify machines, not
//! patients), rule ids, counts.
//!
//! Must never hand out a key for a period other than the current one for sealing, nor keep a
//! key whose unwrapping failed.

use crate::{Result, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use ward_model::Timestamp;
use ward_vault::{DataKey, Kek, LookupKey, SigningKey};

/// One stored, wrapped key.
#[derive(Debug, Clone)]
pub(crate) struct WrappedKey {
    pub id: i64,
    pub purpose: String,
    pub period: Option<String>,
    pub kek_id: Vec<u8>,
    pub wrapped: Vec<u8>,
}

/// Every key of a store, unwrapped.
pub(crate) struct Keyring {
    kek: Mutex<Kek>,
    data: RwLock<HashMap<i64, Arc<DataKey>>>,
    /// The key sealing new records, with the period it belongs to.
    current: RwLock<Option<(String, Arc<DataKey>)>>,
    pub lookup: LookupKey,
    pub signing: (i64, SigningKey),
}

impl Keyring {
    /// Unwraps the stored keys with `kek`. The lookup and signing keys must be among them.
    pub(crate) fn unwrap(kek: Kek, stored: &[WrappedKey], now: Timestamp) -> Result<Keyring> {
        use ward_vault::KeyPurpose;
        let mut data = HashMap::new();
        let mut lookup = None;
        let mut signing = None;
        for key in stored {
            if key.kek_id != kek.id() {
                return Err(StoreError::Keys(format!(
                    "the store's keys are wrapped by key-encryption key {}, not by the one given ({})",
                    ward_vault::hex(&key.kek_id),
                    ward_vault::hex(&kek.id())
                )));
            }
            let purpose = KeyPurpose::parse(&key.purpose).ok_or_else(|| {
                StoreError::Keys(format!("stored key {} has an unknown purpose", key.id))
            })?;
            let material = kek
                .unwrap(key.id, purpose, &key.wrapped)
                .map_err(|e| StoreError::Keys(e.to_string()))?;
            match purpose {
                KeyPurpose::Data => {
                    data.insert(key.id, Arc::new(DataKey::new(key.id, &material)));
                }
                KeyPurpose::Lookup => lookup = Some(LookupKey::new(&material)),
                KeyPurpose::Signing => {
                    let pair =
                        SigningKey::new(&material).map_err(|e| StoreError::Keys(e.to_string()))?;
                    signing = Some((key.id, pair));
                }
            }
        }
        let missing = |what: &str| StoreError::Keys(format!("the store has no {what} key"));
        let period = period_of(now);
        let current = stored
            .iter()
            .filter(|k| k.purpose == "data" && k.period.as_deref() == Some(period.as_str()))
            .max_by_key(|k| k.id)
            .and_then(|k| data.get(&k.id).cloned())
            .map(|key| (period, key));
        Ok(Keyring {
            kek: Mutex::new(kek),
            data: RwLock::new(data),
            current: RwLock::new(current),
            lookup: lookup.ok_or_else(|| missing("lookup"))?,
            signing: signing.ok_or_else(|| missing("signing"))?,
        })
    }

    /// The key-encryption key, for wrapping a new data key.
    pub(crate) fn kek(&self) -> MutexGuard<'_, Kek> {
        self.kek.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// After the stored keys were re-wrapped under `new`: new data keys are wrapped with it,
    /// and the current data key is retired.
    pub(crate) fn replace_kek(&self, new: Kek) {
        *self.kek() = new;
        self.retire_current();
    }

    /// The key a record was sealed under.
    pub(crate) fn data_key(&self, id: i64) -> Result<Arc<DataKey>> {
        self.data
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned()
            .ok_or_else(|| StoreError::Keys(format!("data key {id} is not in the store")))
    }

    /// The key for sealing at `now`, when the store has one for the period.
    pub(crate) fn current(&self, now: Timestamp) -> Option<Arc<DataKey>> {
        let period = period_of(now);
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|(p, _)| *p == period)
            .map(|(_, key)| key.clone())
    }

    /// Makes a newly stored data key the current one for `period`.
    pub(crate) fn install(&self, period: String, key: DataKey) -> Arc<DataKey> {
        let key = Arc::new(key);
        self.data
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.id(), key.clone());
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some((period, key.clone()));
        key
    }

    /// Forgets the current key, so the next seal starts a new one (after a rotation).
    pub(crate) fn retire_current(&self) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = None;
    }

    pub(crate) fn open(
        &self,
        key_id: i64,
        aad: &[u8],
        sealed: &[u8],
        what: &str,
    ) -> Result<Vec<u8>> {
        self.data_key(key_id)?
            .open(aad, sealed)
            .map_err(|e| StoreError::Corrupt {
                what: what.to_string(),
                reason: e.to_string(),
            })
    }
}

/// Opens a value sealed under data key `key_id`: the one way every sealed column is read. A
/// store without keys holding a sealed value, a key it lacks, or a value that does not open,
/// is a corrupt `what`.
pub(crate) fn open_sealed(
    vault: Option<&Keyring>,
    key_id: i64,
    aad: &[u8],
    sealed: &[u8],
    what: &str,
) -> Result<Vec<u8>> {
    let vault = vault.ok_or_else(|| StoreError::Corrupt {
        what: what.to_string(),
        reason: "it is sealed and the store has no keys".into(),
    })?;
    vault.open(key_id, aad, sealed, what)
}

/// [`open_sealed`] for a TEXT column, which holds the sealed value in base64.
pub(crate) fn open_sealed_base64(
    vault: Option<&Keyring>,
    key_id: i64,
    aad: &[u8],
    text: &str,
    what: &str,
) -> Result<Vec<u8>> {
    use base64::Engine as _;
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| StoreError::Corrupt {
            what: what.to_string(),
            reason: "its sealed text is not base64".into(),
        })?;
    open_sealed(vault, key_id, aad, &sealed, what)
}

/// Data keys change each calendar month (UTC): `2026-11`.
pub(crate) fn period_of(time: Timestamp) -> String {
    use chrono::{Datelike, TimeZone, Utc};
    let date = Utc
        .timestamp_millis_opt(time.millis())
        .single()
        .unwrap_or_default();
    format!("{:04}-{:02}", date.year(), date.month())
}

/// Associated data binding a sealed value to the row it belongs to.
pub(crate) mod aad {
    pub(crate) fn quarantine(source: &str, line: u64, offset: u64) -> Vec<u8> {
        let mut aad = b"quarantine\0".to_vec();
        aad.extend_from_slice(source.as_bytes());
        aad.push(0);
        aad.extend_from_slice(&line.to_le_bytes());
        aad.extend_from_slice(&offset.to_le_bytes());
        aad
    }

    pub(crate) fn context(kind: &str, stored_id: &str) -> Vec<u8> {
        format!("context\0{kind}\0{stored_id}").into_bytes()
    }

    pub(crate) fn alert(id: &str) -> Vec<u8> {
        format!("alert\0{id}").into_bytes()
    }

    pub(crate) fn close_reason(id: &str) -> Vec<u8> {
        format!("close reason\0{id}").into_bytes()
    }
}

/// Length-prefixed parts, for sealing several fields as one value.
pub(crate) fn join_parts(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len() + 4).sum());
    for (i, part) in parts.iter().enumerate() {
        if i + 1 < parts.len() {
            out.extend_from_slice(&(part.len() as u32).to_le_bytes());
        }
        out.extend_from_slice(part);
    }
    out
}

/// The inverse of [`join_parts`] for `n` parts; `None` when the lengths do not fit.
pub(crate) fn split_parts(mut bytes: &[u8], n: usize) -> Option<Vec<&[u8]>> {
    let mut parts = Vec::with_capacity(n);
    for _ in 1..n {
        let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
        bytes = &bytes[4..];
        parts.push(bytes.get(..len)?);
        bytes = &bytes[len..];
    }
    parts.push(bytes);
    Some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_round_trip_and_damage_is_refused() {
        let joined = join_parts(&[b"reason", b"", b"raw bytes"]);
        let parts = split_parts(&joined, 3).unwrap();
        assert_eq!(parts, vec![&b"reason"[..], b"", b"raw bytes"]);
        assert!(split_parts(&joined[..3], 3).is_none());
        assert!(split_parts(&[255, 255, 255, 255, 1], 2).is_none());
    }

    #[test]
    fn periods_are_utc_months() {
        assert_eq!(period_of(Timestamp(0)), "1970-01");
        assert_eq!(period_of(Timestamp(1_795_000_000_000)), "2026-11");
    }
}
