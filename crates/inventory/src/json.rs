//! Reading JSON documents field by field, so an error can name the path of the field that
//! is wrong (`components[12].purl`) rather than a byte offset. Errors never quote values.

use serde_json::{Map, Value};

/// Why a JSON document could not be read: the document kind, the field path, the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[error("{document}: {path}: {reason}")]
pub struct JsonError {
    /// `CycloneDX SBOM`, `CISA KEV catalogue` …
    pub document: String,
    /// `$` for the whole document, else `vulnerabilities[3].dueDate`.
    pub path: String,
    pub reason: String,
}

pub(crate) struct Reader {
    pub document: &'static str,
}

impl Reader {
    pub fn error(&self, path: &str, reason: impl Into<String>) -> JsonError {
        JsonError {
            document: self.document.to_string(),
            path: path.to_string(),
            reason: reason.into(),
        }
    }

    pub fn parse(&self, bytes: &[u8]) -> Result<Value, JsonError> {
        let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        serde_json::from_slice(bytes).map_err(|e| {
            self.error(
                "$",
                format!("not valid JSON (line {}, column {})", e.line(), e.column()),
            )
        })
    }

    pub fn object<'v>(
        &self,
        value: &'v Value,
        path: &str,
    ) -> Result<&'v Map<String, Value>, JsonError> {
        value
            .as_object()
            .ok_or_else(|| self.error(path, format!("expected an object, found {}", kind(value))))
    }

    pub fn array<'v>(&self, value: &'v Value, path: &str) -> Result<&'v Vec<Value>, JsonError> {
        value
            .as_array()
            .ok_or_else(|| self.error(path, format!("expected an array, found {}", kind(value))))
    }

    /// A required string field.
    pub fn string(
        &self,
        object: &Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Result<String, JsonError> {
        match object.get(key) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(self.error(
                &join(path, key),
                format!("expected a string, found {}", kind(other)),
            )),
            None => Err(self.error(&join(path, key), "missing")),
        }
    }

    /// An optional string field; `null` counts as absent. Numbers are accepted as their text
    /// because some producers write versions and cycles as numbers (`"cycle": 3.8`).
    pub fn opt_string(
        &self,
        object: &Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Result<Option<String>, JsonError> {
        match object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(self.error(
                &join(path, key),
                format!("expected a string, found {}", kind(other)),
            )),
        }
    }

    pub fn opt_bool(
        &self,
        object: &Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Result<Option<bool>, JsonError> {
        match object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(self.error(
                &join(path, key),
                format!("expected true or false, found {}", kind(other)),
            )),
        }
    }

    /// An optional array field; absent or `null` is empty.
    pub fn opt_array<'v>(
        &self,
        object: &'v Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Result<&'v [Value], JsonError> {
        match object.get(key) {
            None | Some(Value::Null) => Ok(&[]),
            Some(value) => self.array(value, &join(path, key)).map(Vec::as_slice),
        }
    }
}

pub(crate) fn join(path: &str, key: &str) -> String {
    if path == "$" || path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

pub(crate) fn index(path: &str, key: &str, i: usize) -> String {
    format!("{}[{i}]", join(path, key))
}

pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A `YYYY-MM-DD` date, or the date part of an RFC 3339 timestamp.
pub(crate) fn parse_date(text: &str) -> Option<chrono::NaiveDate> {
    let day = text.trim().get(..10)?;
    chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()
}
