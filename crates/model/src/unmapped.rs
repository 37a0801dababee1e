//! The fields a source carried that have no place in the model ([`Event::unmapped`]), by their
//! source path, in the order the source wrote them.
//!
//! Every decoder fills one of these for every record, and most records carry a dozen to a
//! hundred such fields, so its cost is paid per record on the hot path. It is a vector of
//! entries in insertion order, not a general-purpose map:
//! - keys are `Cow<'static, str>`: the names a decoder writes itself (`cef.severity`, `PV1.7`,
//!   `mfa.result`) are borrowed, not allocated, and only names read from the record are owned;
//! - up to [`LINEAR`] entries a lookup compares keys one by one, which for so few short keys is
//!   cheaper than hashing, and a 64-bit mask of the keys' fingerprints (length and three bytes)
//!   answers most lookups of an absent key, and most checks for a key written twice, without
//!   comparing any; past that an index of positions is kept beside the entries (`hashbrown`'s
//!   table with its default, randomly seeded `foldhash` hasher, so a record written to collide
//!   cannot make lookups quadratic).
//!
//! It behaves as `serde_json::Map` did (one value per key, a key written again keeps its
//! place and takes the new value, serialised as a JSON object in order) and compares as a map:
//! two with the same entries in another order are equal.
//!
//! [`Event::unmapped`]: crate::Event::unmapped

use hashbrown::{DefaultHashBuilder, HashTable};
use serde::de::{DeserializeSeed, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;
use std::hash::BuildHasher;

/// A field's source path: borrowed when the decoder names it, owned when the record does.
pub type Key = Cow<'static, str>;

/// Up to this many entries, lookups scan; past it, an index is kept.
pub const LINEAR: usize = 24;

/// Unmapped source fields in source order. See the module documentation.
#[derive(Clone, Default)]
pub struct Unmapped {
    entries: Vec<(Key, Value)>,
    /// The union of the keys' [`fingerprint`]s: a key whose bit is clear is not here.
    fingerprints: u64,
    index: Option<Box<Index>>,
}

/// One bit of 64 for a key, from its length and its first, middle and last bytes: cheap
/// enough to take on every insert and lookup, spread enough that keys of a record rarely share
/// one.
fn fingerprint(key: &str) -> u64 {
    let b = key.as_bytes();
    let (first, last) = match b {
        [] => (0, 0),
        [only] => (*only, *only),
        [first, .., last] => (*first, *last),
    };
    let middle = b.get(b.len() / 2).copied().unwrap_or(0);
    let h = (b.len() as u32).wrapping_mul(0x9E37_79B1)
        ^ u32::from(first).wrapping_mul(0x85EB_CA6B)
        ^ u32::from(last).wrapping_mul(0xC2B2_AE35)
        ^ u32::from(middle).wrapping_mul(0x27D4_EB2F);
    1 << (h >> 26)
}

#[derive(Clone)]
struct Index {
    positions: HashTable<usize>,
    hasher: DefaultHashBuilder,
}

impl Index {
    fn of(entries: &[(Key, Value)]) -> Box<Index> {
        let hasher = DefaultHashBuilder::default();
        let mut positions = HashTable::with_capacity(entries.len() * 2);
        for (i, (key, _)) in entries.iter().enumerate() {
            let hash = hasher.hash_one(key.as_ref());
            positions.insert_unique(hash, i, |&j| hasher.hash_one(entries[j].0.as_ref()));
        }
        Box::new(Index { positions, hasher })
    }
}

/// Iterator over `(name, value)` pairs in source order.
pub type Iter<'a> = std::iter::Map<
    std::slice::Iter<'a, (Key, Value)>,
    fn(&'a (Key, Value)) -> (&'a str, &'a Value),
>;

fn pair(entry: &(Key, Value)) -> (&str, &Value) {
    (entry.0.as_ref(), &entry.1)
}

impl Unmapped {
    pub fn new() -> Self {
        Self::default()
    }

    /// Room for `capacity` entries without growing.
    pub fn with_capacity(capacity: usize) -> Self {
        Unmapped {
            entries: Vec::with_capacity(capacity),
            fingerprints: 0,
            index: None,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.fingerprints = 0;
        self.index = None;
    }

    fn position(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(index) => {
                let hash = index.hasher.hash_one(key);
                index
                    .positions
                    .find(hash, |&i| self.entries[i].0.as_ref() == key)
                    .copied()
            }
            None if self.fingerprints & fingerprint(key) == 0 => None,
            None => self.entries.iter().position(|(k, _)| k.as_ref() == key),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.position(key).map(|i| &self.entries[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Sets `key` to `value`. A key already present keeps its place and its old value is
    /// returned.
    pub fn insert(&mut self, key: impl Into<Key>, value: Value) -> Option<Value> {
        let key = key.into();
        if let Some(i) = self.position(&key) {
            return Some(std::mem::replace(&mut self.entries[i].1, value));
        }
        let Unmapped {
            entries,
            fingerprints,
            index,
        } = self;
        *fingerprints |= fingerprint(&key);
        entries.push((key, value));
        match index {
            Some(index) => {
                let i = entries.len() - 1;
                let hash = index.hasher.hash_one(entries[i].0.as_ref());
                let hasher = &index.hasher;
                index
                    .positions
                    .insert_unique(hash, i, |&j| hasher.hash_one(entries[j].0.as_ref()));
            }
            None if entries.len() > LINEAR => *index = Some(Index::of(entries)),
            None => {}
        }
        None
    }

    /// Takes `key` out, keeping the order of the others.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let i = self.position(key)?;
        let (_, value) = self.entries.remove(i);
        self.fingerprints = self.keys().fold(0, |bits, k| bits | fingerprint(k));
        self.index = (self.entries.len() > LINEAR).then(|| Index::of(&self.entries));
        Some(value)
    }

    pub fn iter(&self) -> Iter<'_> {
        self.entries.iter().map(pair)
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
        self.entries.iter().map(|(k, _)| k.as_ref())
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }
}

impl fmt::Debug for Unmapped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Equal when both hold the same keys with the same values, in whatever order.
impl PartialEq for Unmapped {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl<K: Into<Key>> Extend<(K, Value)> for Unmapped {
    fn extend<I: IntoIterator<Item = (K, Value)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<K: Into<Key>> FromIterator<(K, Value)> for Unmapped {
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(iter: I) -> Self {
        let mut out = Unmapped::new();
        out.extend(iter);
        out
    }
}

impl From<serde_json::Map<String, Value>> for Unmapped {
    fn from(map: serde_json::Map<String, Value>) -> Self {
        map.into_iter().collect()
    }
}

impl IntoIterator for Unmapped {
    type Item = (Key, Value);
    type IntoIter = std::vec::IntoIter<(Key, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a> IntoIterator for &'a Unmapped {
    type Item = (&'a str, &'a Value);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// `unmapped["EventID"]`, as on `serde_json::Map`: panics when the key is absent.
impl std::ops::Index<&str> for Unmapped {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        match self.get(key) {
            Some(v) => v,
            None => panic!("no unmapped field {key:?}"),
        }
    }
}

impl Serialize for Unmapped {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Unmapped {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        KnownNames(|_| None).deserialize(d)
    }
}

/// Reads a JSON object as [`Unmapped`] taking each name the function knows as its static
/// spelling, not a copy: for a decoder whose source has a fixed vocabulary (Zeek's field names),
/// so that most keys cost no allocation.
#[derive(Clone, Copy)]
pub struct KnownNames(pub fn(&str) -> Option<&'static str>);

impl<'de> DeserializeSeed<'de> for KnownNames {
    type Value = Unmapped;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Unmapped, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for KnownNames {
    type Value = Unmapped;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Unmapped, A::Error> {
        let mut out = Unmapped::with_capacity(access.size_hint().unwrap_or(16).min(256));
        while let Some(key) = access.next_key_seed(Name(self.0))? {
            out.insert(key, access.next_value::<Value>()?);
        }
        Ok(out)
    }
}
/// One name of an object, as its static spelling when known.
struct Name(fn(&str) -> Option<&'static str>);

impl<'de> DeserializeSeed<'de> for Name {
    type Value = Key;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Name {
    type Value = Key;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a name")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Key, E> {
        Ok(match (self.0)(v) {
            Some(known) => Cow::Borrowed(known),
            None => Cow::Owned(v.to_owned()),
        })
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Key, E> {
        Ok(match (self.0)(&v) {
            Some(known) => Cow::Borrowed(known),
            None => Cow::Owned(v),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(m: &Unmapped) -> Vec<&str> {
        m.keys().collect()
    }

    #[test]
    fn a_key_written_again_keeps_its_place_and_takes_the_new_value() {
        let mut m = Unmapped::new();
        assert_eq!(m.insert("a", json!(1)), None);
        m.insert("b", json!(2));
        assert_eq!(m.insert(String::from("a"), json!(3)), Some(json!(1)));
        assert_eq!(names(&m), ["a", "b"]);
        assert_eq!(m["a"], 3);
        assert_eq!(m.len(), 2);
    }

    /// Past `LINEAR` entries lookups go through the index; every key must still be found at
    /// its place, after inserts, rewrites and removals on both sides of the threshold.
    #[test]
    fn lookups_agree_with_the_entries_across_the_index_threshold() {
        let mut m = Unmapped::new();
        let mut model: Vec<(String, i64)> = Vec::new();
        for round in 0..3 {
            for i in 0..(LINEAR * 3) {
                let key = format!("field.{}", (i * 7 + round) % (LINEAR * 2));
                let value = (round * 1000 + i) as i64;
                m.insert(key.clone(), json!(value));
                match model.iter_mut().find(|(k, _)| *k == key) {
                    Some(entry) => entry.1 = value,
                    None => model.push((key, value)),
                }
                for (k, v) in &model {
                    assert_eq!(m.get(k), Some(&json!(*v)), "{k} after {i} in round {round}");
                }
                assert_eq!(names(&m), model.iter().map(|(k, _)| k).collect::<Vec<_>>());
                assert!(!m.contains_key("field.absent"));
            }
            // Remove down through the threshold.
            while model.len() > LINEAR - 2 {
                let (key, value) = model.remove(model.len() / 2);
                assert_eq!(m.remove(&key), Some(json!(value)));
                assert_eq!(m.get(&key), None);
                for (k, v) in &model {
                    assert_eq!(m.get(k), Some(&json!(*v)));
                }
            }
        }
    }

    #[test]
    fn serialises_in_order_and_reads_back_as_a_map() {
        let mut m = Unmapped::new();
        for i in (0..20).rev() {
            m.insert(format!("k{i}"), json!(i));
        }
        m.insert("static", json!({"nested": [1, "two", null]}));
        let text = serde_json::to_string(&m).unwrap();
        assert!(text.starts_with(r#"{"k19":19,"k18":18,"#), "{text}");
        assert!(
            text.ends_with(r#""static":{"nested":[1,"two",null]}}"#),
            "{text}"
        );
        let back: Unmapped = serde_json::from_str(&text).unwrap();
        assert_eq!(names(&back), names(&m));
        assert_eq!(back, m);
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            serde_json::from_str::<Value>(&text).unwrap()
        );
        // A key written twice in the text: one entry, at its first place, the last value.
        let twice: Unmapped = serde_json::from_str(r#"{"a":1,"b":2,"a":3}"#).unwrap();
        assert_eq!(names(&twice), ["a", "b"]);
        assert_eq!(twice["a"], 3);
        assert!(serde_json::from_str::<Unmapped>("[1]").is_err());
    }

    #[test]
    fn known_names_are_borrowed_and_others_owned() {
        fn known(name: &str) -> Option<&'static str> {
            ["ts", "uid"].into_iter().find(|k| *k == name)
        }
        let mut reader =
            serde_json::Deserializer::from_str(r#"{"ts":1,"other":2,"u\u0069d":"C1"}"#);
        let m = KnownNames(known).deserialize(&mut reader).unwrap();
        let kinds: Vec<(&str, bool)> = m
            .entries
            .iter()
            .map(|(k, _)| (k.as_ref(), matches!(k, Cow::Borrowed(_))))
            .collect();
        assert_eq!(kinds, [("ts", true), ("other", false), ("uid", true)]);
        assert_eq!(m["uid"], "C1");
    }

    #[test]
    fn equality_ignores_order_but_not_values() {
        let a: Unmapped = [("x", json!(1)), ("y", json!(2))].into_iter().collect();
        let b: Unmapped = [("y", json!(2)), ("x", json!(1))].into_iter().collect();
        let c: Unmapped = [("y", json!(2)), ("x", json!(9))].into_iter().collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, Unmapped::new());
    }
}
