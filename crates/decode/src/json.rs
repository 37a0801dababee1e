//! JSON plumbing shared by the JSON decoders (`fhir`, `jsonl`) and the context parser: telling
//! a pretty-printed document from a JSON-lines file by its first line, walking the containers a
//! record may be (a single resource, a FHIR Bundle, a JSON array of resources) with each
//! member's bytes exactly as they stand in the input, borrowed-text types for tolerant serde
//! structs, and error messages that say what is wrong and where.
//!
//! Nothing here allocates more than a small multiple of its input, and nothing panics on any
//! input: member bytes come from `serde_json::value::RawValue`, never from index arithmetic.

use crate::DecodeError;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

/// True when `first_line` (the first non-blank line of a source) opens a JSON object or array
/// that it does not close: a pretty-printed resource, Bundle or array, which must be read as
/// one whole-document record rather than line by line.
///
/// A line that closes its value is a JSON-lines record, even when something follows it (that
/// line is then quarantined alone, not the whole file). A line that stays open must also end
/// the way pretty-printers end lines (`{`, `[` or `,`): a truncated JSON-lines record, which
/// stops anywhere, is then rarely mistaken for the start of a document.
pub fn looks_like_json_document(first_line: &[u8]) -> bool {
    let start = first_line
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(first_line.len());
    let rest = first_line.get(start..).unwrap_or_default();
    let line = match memchr::memchr(b'\n', rest) {
        Some(nl) => rest.get(..nl).unwrap_or_default(),
        None => rest,
    };
    let line = line.trim_ascii();
    if !matches!(line.first(), Some(b'{' | b'[')) {
        return false;
    }
    if !matches!(line.last(), Some(b'{' | b'[' | b',')) {
        return false;
    }
    // Depth of open objects/arrays outside strings; closing back to zero means the line holds
    // a complete value.
    let mut depth: usize = 0;
    let mut in_string = false;
    let mut escaped = false;
    for &b in line {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth > 0
}

/// Text borrowed from the input when it holds no escapes, owned otherwise. Serde's `borrow`
/// attribute does not reach through `Option<Cow<str>>` (it would always allocate), hence this
/// newtype. Numbers and booleans are accepted as their JSON text, because producers write
/// codes such as `"outcome": 0` either way.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Text<'a>(pub Cow<'a, str>);

impl Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v.to_string())))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v.to_string())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v.to_string())))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Text(Cow::Borrowed(if v { "true" } else { "false" })))
    }
}

/// An element that is plain text in one FHIR version and a structure in another (R4
/// `source.site` is a string, R5 a Reference; R4 `entity.detail.type` a string, R5 a
/// CodeableConcept; R4 `outcome` a code, R5 an object).
#[derive(Debug)]
pub(crate) enum TextOr<'a, T> {
    Text(Text<'a>),
    Other(T),
}

impl<'de: 'a, 'a, T: Deserialize<'de>> Deserialize<'de> for TextOr<'a, T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = TextOr<'de, T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an object")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                TextVisitor.visit_borrowed_str(v).map(TextOr::Text)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                TextVisitor.visit_str(v).map(TextOr::Text)
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                TextVisitor.visit_string(v).map(TextOr::Text)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                TextVisitor.visit_u64(v).map(TextOr::Text)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                TextVisitor.visit_i64(v).map(TextOr::Text)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                TextVisitor.visit_f64(v).map(TextOr::Text)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                TextVisitor.visit_bool(v).map(TextOr::Text)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(TextOr::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                T::deserialize(SeqAccessDeserializer::new(seq)).map(TextOr::Other)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// One value or a list of them: elements that are single in R4 and repeat in R5
/// (`Encounter.class`, `Organization.contact.name`), read the same way.
#[derive(Debug)]
pub(crate) struct OneOrMany<T>(pub Vec<T>);

impl<T> Default for OneOrMany<T> {
    fn default() -> Self {
        OneOrMany(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object or a list of objects")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(|one| OneOrMany(vec![one]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Vec::<T>::deserialize(SeqAccessDeserializer::new(seq)).map(OneOrMany)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// Parses `bytes` as `T`. UTF-8 is checked once for the whole input (std's check is
/// word-at-a-time on ASCII) rather than string by string as `from_slice` does; input that is
/// not UTF-8 takes the slow path, so the error names the position serde_json stops at.
pub(crate) fn parse<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, serde_json::Error> {
    match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(bytes),
    }
}

/// One JSON object read by the decoder's own `read` (its fast path into the event's map); a
/// record that is not one, or that `read` refuses, is parsed again as a value, which gives the
/// reason to quarantine it with (`expected` names what a record should be), or the object to
/// convert with `from_map`.
pub(crate) fn object_or_reason<'a, T>(
    body: &'a [u8],
    expected: &str,
    read: impl FnOnce(&'a [u8]) -> Result<T, serde_json::Error>,
    from_map: impl FnOnce(serde_json::Map<String, serde_json::Value>) -> T,
) -> Result<T, String> {
    if body.first() == Some(&b'{')
        && let Ok(object) = read(body)
    {
        return Ok(object);
    }
    match parse::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(object)) => Ok(from_map(object)),
        Ok(_) => Err(format!("not a JSON object: expected {expected}")),
        Err(e) if is_syntax(&e) => Err(format!("not JSON: {}", located(&e))),
        Err(e) => Err(format!("not a JSON object: {}", located(&e))),
    }
}

/// As [`parse`], through a seed.
pub(crate) fn parse_seed<'a, S: serde::de::DeserializeSeed<'a>>(
    bytes: &'a [u8],
    seed: S,
) -> Result<S::Value, serde_json::Error> {
    let value = match std::str::from_utf8(bytes) {
        Ok(text) => {
            let mut reader = serde_json::Deserializer::from_str(text);
            let value = seed.deserialize(&mut reader)?;
            reader.end()?;
            value
        }
        Err(_) => {
            let mut reader = serde_json::Deserializer::from_slice(bytes);
            let value = seed.deserialize(&mut reader)?;
            reader.end()?;
            value
        }
    };
    Ok(value)
}

/// The first bytes of a record that matter: leading and trailing whitespace removed.
pub(crate) fn body(record: &[u8]) -> &[u8] {
    record.trim_ascii()
}

/// Why `body` (a trimmed record that is not a JSON object or array) cannot be read.
pub(crate) fn not_a_container(body: &[u8], expected: &str) -> String {
    if body.is_empty() {
        return "empty record".into();
    }
    match serde_json::from_slice::<de::IgnoredAny>(body) {
        Ok(_) => {
            let kind = match body.first() {
                Some(b'"') => "a string",
                Some(b't' | b'f') => "a boolean",
                Some(b'n') => "null",
                _ => "a number",
            };
            format!("a JSON value that is {kind}, not an object: expected {expected}")
        }
        Err(e) => format!("not JSON: {}", located(&e)),
    }
}

/// Input text quoted in a reason, cut to `MAX_SHOWN` characters: a reason must stay short
/// whatever the record holds.
pub(crate) fn clip(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(MAX_SHOWN) {
        Some((cut, _)) => Cow::Owned(format!("{}…", text.get(..cut).unwrap_or_default())),
        None => Cow::Borrowed(text),
    }
}

const MAX_SHOWN: usize = 64;

/// serde_json's message with its position, written `at column C` for one-line records. The
/// message quotes offending values, so it is clipped.
pub(crate) fn located(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = text.strip_suffix(&suffix).unwrap_or(&text);
    let message = match message.char_indices().nth(2 * MAX_SHOWN) {
        Some((cut, _)) => format!("{}…", message.get(..cut).unwrap_or_default()),
        None => message.to_string(),
    };
    match (e.line(), e.column()) {
        (0, _) => message.to_string(),
        (1, c) => format!("{message} at column {c}"),
        (l, c) => format!("{message} at line {l} column {c}"),
    }
}

/// True when serde_json failed on the JSON text itself rather than on its shape.
pub(crate) fn is_syntax(e: &serde_json::Error) -> bool {
    e.is_syntax() || e.is_eof()
}

/// The `resourceType` of a resource and, for a Bundle, its entries, read without looking at
/// anything else: used to report a resource of the wrong kind precisely, and by the context
/// parser, whose resources are not on the hot path.
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Head<'a> {
    #[serde(borrow, default)]
    pub resource_type: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub entry: Option<Vec<&'a RawValue>>,
}

impl<'a> Head<'a> {
    pub(crate) fn read(body: &'a [u8]) -> Result<Self, serde_json::Error> {
        parse(body)
    }
}

/// A Bundle entry as far as finding its resource goes.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct BundleEntry<'a> {
    #[serde(borrow, default)]
    resource: Option<&'a RawValue>,
    #[serde(borrow, default)]
    full_url: Option<Text<'a>>,
    #[serde(borrow, default)]
    request: Option<BundleRequest<'a>>,
}

#[derive(serde::Deserialize)]
struct BundleRequest<'a> {
    #[serde(borrow, default)]
    method: Option<Text<'a>>,
    #[serde(borrow, default)]
    url: Option<Text<'a>>,
}

/// One resource inside a container record (a Bundle entry or an array element).
pub(crate) struct Member<'a> {
    /// 0-based position in `Bundle.entry` or in the array.
    pub index: u64,
    /// The resource's own bytes, exactly as in the input: an event's `raw`.
    pub resource: &'a [u8],
    /// The whole entry's bytes (for an array, the element's): what is quarantined on failure.
    pub entry: &'a [u8],
    /// `Bundle.entry.fullUrl`, which names resources a transaction creates without an id.
    pub full_url: Option<Text<'a>>,
}

/// The members of a Bundle (from its entries) or of a JSON array. Entries without a resource
/// (transaction `DELETE`/`GET` requests) and malformed entries come back as entry errors
/// carrying the whole entry's bytes.
pub(crate) fn bundle_members<'a>(
    entries: Vec<&'a RawValue>,
) -> impl Iterator<Item = Result<Member<'a>, DecodeError>> + 'a {
    entries.into_iter().enumerate().map(|(i, raw)| {
        let index = i as u64;
        let bytes = raw.get().as_bytes();
        let entry: BundleEntry<'a> = serde_json::from_str(raw.get()).map_err(|e| {
            DecodeError::entry(
                index,
                format!("Bundle entry is not valid: {}", located(&e)),
                bytes.to_vec(),
            )
        })?;
        match entry.resource {
            Some(resource) => Ok(Member {
                index,
                resource: resource.get().as_bytes(),
                entry: bytes,
                full_url: entry.full_url,
            }),
            None => {
                let request = entry.request.map(|r| {
                    format!(
                        " (a {} {} request)",
                        clip(r.method.as_deref().unwrap_or("?")),
                        clip(r.url.as_deref().unwrap_or("?"))
                    )
                });
                Err(DecodeError::entry(
                    index,
                    format!(
                        "Bundle entry has no resource{}: only entries holding a resource are read",
                        request.unwrap_or_default()
                    ),
                    bytes.to_vec(),
                ))
            }
        }
    })
}

/// The elements of a top-level JSON array, each taken as a resource.
pub(crate) fn array_members(body: &[u8]) -> Result<Vec<Member<'_>>, String> {
    let elements: Vec<&RawValue> = serde_json::from_slice(body).map_err(|e| {
        if is_syntax(&e) {
            format!("not JSON: {}", located(&e))
        } else {
            format!("JSON array is not valid: {}", located(&e))
        }
    })?;
    Ok(elements
        .into_iter()
        .enumerate()
        .map(|(i, raw)| Member {
            index: i as u64,
            resource: raw.get().as_bytes(),
            entry: raw.get().as_bytes(),
            full_url: None,
        })
        .collect())
}

/// Splits a FHIR reference (`Patient/123`, `Patient/123/_history/2`,
/// `https://ehr.example/fhir/Patient/123`) into resource type and logical id. `None` for
/// references that do not name a resource that way (`#contained`, `urn:uuid:…`).
pub(crate) fn split_reference(reference: &str) -> Option<(&str, &str)> {
    let reference = reference.trim();
    let reference = match reference.find("/_history/") {
        Some(at) => reference.get(..at)?,
        None => reference,
    };
    let (rest, id) = reference.rsplit_once('/')?;
    let kind = match rest.rsplit_once('/') {
        Some((_, kind)) => kind,
        None => rest,
    };
    let mut chars = kind.chars();
    let valid_kind = chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_alphanumeric());
    (valid_kind && !id.is_empty()).then_some((kind, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_printed_first_lines_open_documents() {
        assert!(looks_like_json_document(b"{"));
        assert!(looks_like_json_document(b"  [\r"));
        assert!(looks_like_json_document(b"{\"resourceType\": \"Bundle\","));
        assert!(looks_like_json_document(b"\n\n{\n  \"a\": 1\n}"));
    }

    #[test]
    fn json_lines_and_truncated_lines_are_not_documents() {
        assert!(!looks_like_json_document(b"{\"a\":1}"));
        assert!(!looks_like_json_document(b"{\"a\":1} trailing"));
        assert!(!looks_like_json_document(b"{\"a\":\"{[\"}"));
        assert!(!looks_like_json_document(
            b"{\"resourceType\":\"AuditEvent\",\"id\":\"x"
        ));
        assert!(!looks_like_json_document(b""));
        assert!(!looks_like_json_document(b"   "));
        assert!(!looks_like_json_document(
            b"<85>1 2024-01-01T00:00:00Z host app - - {"
        ));
    }

    #[test]
    fn splits_relative_absolute_and_versioned_references() {
        assert_eq!(split_reference("Patient/123"), Some(("Patient", "123")));
        assert_eq!(
            split_reference("Patient/example/_history/1"),
            Some(("Patient", "example"))
        );
        assert_eq!(
            split_reference("https://ehr.example/fhir/Patient/9"),
            Some(("Patient", "9"))
        );
        assert_eq!(split_reference("#o1"), None);
        assert_eq!(
            split_reference("urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"),
            None
        );
        assert_eq!(split_reference("Patient/"), None);
        assert_eq!(split_reference("/_history/"), None);
    }

    #[test]
    fn quoted_input_is_clipped() {
        assert_eq!(clip("short"), "short");
        let long = "é".repeat(1000);
        assert_eq!(clip(&long).chars().count(), MAX_SHOWN + 1);
        let huge = format!("{{\"a\":[\"{}\"", "x".repeat(100_000));
        let e =
            serde_json::from_str::<std::collections::HashMap<String, String>>(&huge).unwrap_err();
        assert!(located(&e).len() < 300, "{}", located(&e));
    }

    #[test]
    fn positions_read_as_columns_on_one_line() {
        let e = serde_json::from_slice::<de::IgnoredAny>(b"{\"a\":").unwrap_err();
        assert_eq!(located(&e), "EOF while parsing a value at column 5");
        let e = serde_json::from_slice::<de::IgnoredAny>(b"{\n\"a\" 1}").unwrap_err();
        assert_eq!(located(&e), "expected `:` at line 2 column 5");
    }
}
