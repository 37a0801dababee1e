//! Instants as milliseconds since the Unix epoch, UTC: one integer that every backend can
//! index and compare, rendered as RFC 3339 at the edges.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A UTC instant with millisecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    pub fn now() -> Self {
        Timestamp(Utc::now().timestamp_millis())
    }

    /// Parses RFC 3339 / ISO 8601 instants as FHIR, syslog and most JSON sources write them,
    /// including FHIR's partial `dateTime` forms (`2024`, `2024-05`, `2024-05-01`), which are
    /// taken as the start of the period in UTC.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return Some(Timestamp(t.timestamp_millis()));
        }
        // A space instead of `T`, or a missing offset (taken as UTC).
        let normalised = text.replacen(' ', "T", 1);
        if let Ok(t) = DateTime::parse_from_rfc3339(&normalised) {
            return Some(Timestamp(t.timestamp_millis()));
        }
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(&normalised, "%Y-%m-%dT%H:%M:%S%.f") {
            return Some(Timestamp(t.and_utc().timestamp_millis()));
        }
        let padded = match text.len() {
            4 => format!("{text}-01-01"),
            7 => format!("{text}-01"),
            _ => text.to_string(),
        };
        chrono::NaiveDate::parse_from_str(&padded, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| Timestamp(t.and_utc().timestamp_millis()))
    }

    /// The calendar year (UTC) of this instant.
    pub fn year(self) -> i32 {
        use chrono::Datelike;
        DateTime::<Utc>::from_timestamp_millis(self.0).map_or(1970, |t| t.year())
    }

    pub fn to_rfc3339(self) -> String {
        match DateTime::<Utc>::from_timestamp_millis(self.0) {
            Some(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
            None => self.0.to_string(),
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Millis(i64),
            Text(String),
        }
        match Repr::deserialize(d)? {
            Repr::Millis(ms) => Ok(Timestamp(ms)),
            Repr::Text(t) => Timestamp::parse(&t)
                .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 instant: {t:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_offsets_fractions_and_partial_dates() {
        assert_eq!(
            Timestamp::parse("1970-01-01T00:00:01Z"),
            Some(Timestamp(1000))
        );
        assert_eq!(
            Timestamp::parse("1970-01-01T01:00:01.5+01:00"),
            Some(Timestamp(1500))
        );
        assert_eq!(
            Timestamp::parse("1970-01-01 00:00:02"),
            Some(Timestamp(2000))
        );
        assert_eq!(Timestamp::parse("1970-01-02"), Some(Timestamp(86_400_000)));
        assert_eq!(Timestamp::parse("1970"), Some(Timestamp(0)));
        assert_eq!(Timestamp::parse("yesterday"), None);
    }

    #[test]
    fn round_trips_through_json_as_rfc3339() {
        let t = Timestamp(1_700_000_000_123);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"2023-11-14T22:13:20.123Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
    }
}
