//! Generic CSV read through a mapping: for the EHRs (and other systems) whose audit or access
//! log export is a CSV with column names of their own. A [`CsvMapping`] (a TOML file, see
//! `docs/formats.md`) says which column holds the time and in which format, which hold the
//! user, the patient, the action, the record type, the workstation, the source address and
//! the outcome, and which OCSF class and activity the rows are. The first row of a source
//! names its columns; every later row becomes one event, and a row that cannot be read (a bad
//! time, a required value missing, a wrong number of cells) is quarantined alone with its line
//! and reason. Every cell stays reachable under `unmapped.<column name>`.
//!
//! Rows are split by the RFC 4180 reader of the `m365` decoder (quoted fields, commas and `""`
//! inside quotes); a quoted field holding a line break is refused, since the pipeline frames
//! by lines. Unlike the other decoders this one is built from a mapping at run time, so it is
//! not in [`crate::registry`] and never auto-detected: `ward ingest --format csv --mapping
//! FILE` builds it. It never panics, does no IO, and keeps only the header between rows.

use crate::m365::cells;
use crate::{DecodeError, Decoded, Decoder, Framing, Sniff, SourceDecoder, json};
use chrono::TimeZone;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use ward_model::event::{api_activity, auth_activity, class};
use ward_model::{Endpoint, Event, Severity, Status, Timestamp, Unmapped};

const PRODUCT: &str = "csv";

/// A mapping file as written (TOML): see `docs/formats.md` for an annotated example.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvMapping {
    /// OCSF class of every row: `api_activity` (default) or `authentication`.
    #[serde(default)]
    pub class: Option<String>,
    /// The activity of a row whose action is not in `actions` (default `other`).
    #[serde(default)]
    pub activity: Option<String>,
    pub time: TimeColumn,
    #[serde(default)]
    pub columns: Columns,
    /// Action cell (compared without regard to case) → activity (`read`, `create`, `update`,
    /// `delete`, `other`; for authentication `logon`, `logoff`, `other`).
    #[serde(default)]
    pub actions: BTreeMap<String, String>,
    #[serde(default)]
    pub outcomes: Outcomes,
    /// Fields (`user`, `patient_id` … as in `columns`) that every row must have; a row
    /// without one is quarantined.
    #[serde(default)]
    pub required: Vec<String>,
}

/// Where the time is and how it is written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeColumn {
    pub column: String,
    /// `rfc3339` (ISO 8601 with a zone; the default), `unix` (seconds), `unix_ms`, or a
    /// chrono `strftime` pattern such as `%m/%d/%Y %I:%M:%S %p`.
    #[serde(default)]
    pub format: Option<String>,
    /// The zone of times written without one (an IANA name such as `America/Chicago`;
    /// default `UTC`).
    #[serde(default)]
    pub timezone: Option<String>,
}

/// Column names, by the field they fill.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Columns {
    pub user: Option<String>,
    pub user_name: Option<String>,
    pub user_role: Option<String>,
    pub patient_id: Option<String>,
    pub patient_name: Option<String>,
    pub action: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub workstation: Option<String>,
    pub source_ip: Option<String>,
    pub outcome: Option<String>,
    pub message: Option<String>,
}

/// Outcome cells (compared without regard to case) that mean success or failure; any other
/// value is `other`, kept in `status_detail`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcomes {
    #[serde(default = "default_success")]
    pub success: Vec<String>,
    #[serde(default = "default_failure")]
    pub failure: Vec<String>,
}

impl Default for Outcomes {
    fn default() -> Self {
        Outcomes {
            success: default_success(),
            failure: default_failure(),
        }
    }
}

fn default_success() -> Vec<String> {
    [
        "success",
        "successful",
        "succeeded",
        "ok",
        "allowed",
        "granted",
    ]
    .map(String::from)
    .to_vec()
}

fn default_failure() -> Vec<String> {
    ["failure", "failed", "fail", "denied", "error", "rejected"]
        .map(String::from)
        .to_vec()
}

/// The fields a mapping can fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    User,
    UserName,
    UserRole,
    PatientId,
    PatientName,
    Action,
    ResourceType,
    ResourceId,
    Workstation,
    SourceIp,
    Outcome,
    Message,
}

const FIELDS: [(Field, &str); 12] = [
    (Field::User, "user"),
    (Field::UserName, "user_name"),
    (Field::UserRole, "user_role"),
    (Field::PatientId, "patient_id"),
    (Field::PatientName, "patient_name"),
    (Field::Action, "action"),
    (Field::ResourceType, "resource_type"),
    (Field::ResourceId, "resource_id"),
    (Field::Workstation, "workstation"),
    (Field::SourceIp, "source_ip"),
    (Field::Outcome, "outcome"),
    (Field::Message, "message"),
];

impl Columns {
    fn get(&self, field: Field) -> Option<&str> {
        match field {
            Field::User => self.user.as_deref(),
            Field::UserName => self.user_name.as_deref(),
            Field::UserRole => self.user_role.as_deref(),
            Field::PatientId => self.patient_id.as_deref(),
            Field::PatientName => self.patient_name.as_deref(),
            Field::Action => self.action.as_deref(),
            Field::ResourceType => self.resource_type.as_deref(),
            Field::ResourceId => self.resource_id.as_deref(),
            Field::Workstation => self.workstation.as_deref(),
            Field::SourceIp => self.source_ip.as_deref(),
            Field::Outcome => self.outcome.as_deref(),
            Field::Message => self.message.as_deref(),
        }
    }
}

#[derive(Debug, Clone)]
enum TimeFormat {
    Rfc3339,
    UnixSeconds,
    UnixMillis,
    Pattern { pattern: String, zoned: bool },
}

/// A CSV decoder built from a checked mapping.
#[derive(Debug, Clone)]
pub struct MappedCsv(Arc<Checked>);

/// A mapping checked and resolved, shared by the decoder and each source it starts.
#[derive(Debug)]
struct Checked {
    class_uid: u32,
    default_activity: u8,
    time_column: String,
    time_format: TimeFormat,
    timezone: chrono_tz::Tz,
    columns: Columns,
    actions: Vec<(String, u8)>,
    success: Vec<String>,
    failure: Vec<String>,
    required: Vec<Field>,
}

impl MappedCsv {
    /// Checks `mapping` (class, activities, time format and zone, required fields) and builds
    /// the decoder; the error says what is wrong in the mapping.
    pub fn new(mapping: CsvMapping) -> Result<MappedCsv, String> {
        let class_uid = match mapping.class.as_deref().unwrap_or("api_activity") {
            "api_activity" => class::API_ACTIVITY,
            "authentication" => class::AUTHENTICATION,
            other => {
                return Err(format!(
                    "class {other:?} is not one of api_activity, authentication"
                ));
            }
        };
        let activity = |name: &str| activity_of(class_uid, name);
        let default_activity = activity(mapping.activity.as_deref().unwrap_or("other"))?;
        let actions = mapping
            .actions
            .iter()
            .map(|(action, name)| {
                activity(name)
                    .map(|a| (action.trim().to_lowercase(), a))
                    .map_err(|e| format!("actions.{action:?}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let time_format = match mapping.time.format.as_deref().unwrap_or("rfc3339") {
            "rfc3339" | "iso8601" => TimeFormat::Rfc3339,
            "unix" => TimeFormat::UnixSeconds,
            "unix_ms" => TimeFormat::UnixMillis,
            pattern => {
                let items: Vec<_> = chrono::format::StrftimeItems::new(pattern).collect();
                if items
                    .iter()
                    .any(|i| matches!(i, chrono::format::Item::Error))
                {
                    return Err(format!("time.format {pattern:?} is not a strftime pattern"));
                }
                let zoned = pattern.contains("%z") || pattern.contains("%:z");
                TimeFormat::Pattern {
                    pattern: pattern.to_string(),
                    zoned,
                }
            }
        };
        let timezone = match mapping.time.timezone.as_deref() {
            None => chrono_tz::UTC,
            Some(name) => name.parse::<chrono_tz::Tz>().map_err(|_| {
                format!(
                    "time.timezone {name:?} is not an IANA time zone name (America/Chicago, UTC)"
                )
            })?,
        };
        let required = mapping
            .required
            .iter()
            .map(|name| {
                let field = FIELDS
                    .iter()
                    .find(|(_, n)| n == name)
                    .map(|(f, _)| *f)
                    .ok_or_else(|| {
                        format!(
                            "required names {name:?}, which is not one of {}",
                            FIELDS.map(|(_, n)| n).join(", ")
                        )
                    })?;
                if mapping.columns.get(field).is_none() {
                    return Err(format!(
                        "required names {name:?}, but [columns] gives it no column"
                    ));
                }
                Ok(field)
            })
            .collect::<Result<Vec<_>, String>>()?;
        let lower = |v: Vec<String>| v.into_iter().map(|s| s.trim().to_lowercase()).collect();
        Ok(MappedCsv(Arc::new(Checked {
            class_uid,
            default_activity,
            time_column: mapping.time.column,
            time_format,
            timezone,
            columns: mapping.columns,
            actions,
            success: lower(mapping.outcomes.success),
            failure: lower(mapping.outcomes.failure),
            required,
        })))
    }
}

impl Checked {
    fn parse_time(&self, text: &str) -> Option<Timestamp> {
        match &self.time_format {
            TimeFormat::Rfc3339 => Timestamp::parse(text),
            TimeFormat::UnixSeconds => {
                let secs: f64 = text.parse().ok().filter(|s: &f64| s.is_finite())?;
                let ms = secs * 1000.0;
                (ms.abs() < 1e15).then(|| Timestamp::from_millis(ms as i64))
            }
            TimeFormat::UnixMillis => text.parse::<i64>().ok().map(Timestamp::from_millis),
            TimeFormat::Pattern { pattern, zoned } => {
                if *zoned {
                    let t = chrono::DateTime::parse_from_str(text, pattern).ok()?;
                    return Some(Timestamp::from_millis(t.timestamp_millis()));
                }
                let naive = chrono::NaiveDateTime::parse_from_str(text, pattern)
                    .ok()
                    .or_else(|| {
                        chrono::NaiveDate::parse_from_str(text, pattern)
                            .ok()
                            .and_then(|d| d.and_hms_opt(0, 0, 0))
                    })?;
                // A time in the hour skipped when clocks go forward does not exist; one in
                // the hour repeated when they go back is taken the first time round.
                let local = self.timezone.from_local_datetime(&naive).earliest()?;
                Some(Timestamp::from_millis(local.timestamp_millis()))
            }
        }
    }
}

fn activity_of(class_uid: u32, name: &str) -> Result<u8, String> {
    let name = name.trim().to_lowercase();
    if class_uid == class::AUTHENTICATION {
        return match name.as_str() {
            "logon" | "login" => Ok(auth_activity::LOGON),
            "logoff" | "logout" => Ok(auth_activity::LOGOFF),
            "other" => Ok(99),
            _ => Err(format!(
                "activity {name:?} is not one of logon, logoff, other for class authentication"
            )),
        };
    }
    match name.as_str() {
        "create" => Ok(api_activity::CREATE),
        "read" => Ok(api_activity::READ),
        "update" => Ok(api_activity::UPDATE),
        "delete" => Ok(api_activity::DELETE),
        "other" => Ok(api_activity::OTHER),
        _ => Err(format!(
            "activity {name:?} is not one of create, read, update, delete, other for class api_activity"
        )),
    }
}

impl Decoder for MappedCsv {
    fn name(&self) -> &'static str {
        PRODUCT
    }

    fn description(&self) -> &'static str {
        "CSV with a mapping file (--mapping FILE): EHR access and audit log exports"
    }

    fn framing(&self) -> Framing {
        Framing::Lines
    }

    /// Never recognised from content: the mapping says what a CSV means.
    fn sniff(&self, _record: &[u8]) -> Sniff {
        Sniff::No
    }

    /// A record holding the header row and rows after it (a whole file); a lone row is
    /// refused, since without the header its cells have no names.
    fn decode(&self, record: &[u8], out: &mut Vec<Decoded>) {
        let mut source = CsvSource {
            mapping: self.0.clone(),
            header: None,
        };
        let mut rows = 0u64;
        for line in record.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.trim_ascii().is_empty() {
                continue;
            }
            if source.header.is_none() || source.is_header(line) {
                source.read_header(line);
                continue;
            }
            out.push(
                source
                    .decode_row(line)
                    .map_err(|reason| DecodeError::entry(rows, reason, line.to_vec())),
            );
            rows += 1;
        }
        if rows == 0 {
            out.push(Err(DecodeError::record(
                "a CSV header without rows, or a row without its header: ingest the CSV from its first line",
            )));
        }
    }

    fn start(&self) -> Option<Box<dyn SourceDecoder>> {
        Some(Box::new(CsvSource {
            mapping: self.0.clone(),
            header: None,
        }))
    }
}

/// Column positions of the header row, resolved once for every field the mapping names.
#[derive(Debug)]
struct Header {
    raw: Vec<u8>,
    names: Vec<String>,
    time: usize,
    fields: Vec<(Field, usize)>,
}

/// One CSV source: the header read from its first row.
struct CsvSource {
    mapping: Arc<Checked>,
    /// The header, or why it does not fit the mapping (every row is then refused with it).
    header: Option<Result<Arc<Header>, String>>,
}

impl SourceDecoder for CsvSource {
    fn decode(&mut self, record: &[u8], out: &mut Vec<Decoded>) {
        let line = record.strip_suffix(b"\r").unwrap_or(record);
        if line.trim_ascii().is_empty() {
            return;
        }
        if self.header.is_none() || self.is_header(line) {
            return self.read_header(line);
        }
        out.push(self.decode_row(line).map_err(DecodeError::record));
    }
}

impl CsvSource {
    /// A row repeating the header (exports concatenated into one file).
    fn is_header(&self, line: &[u8]) -> bool {
        matches!(&self.header, Some(Ok(h)) if h.raw == line)
    }

    fn read_header(&mut self, line: &[u8]) {
        self.header = Some(self.resolve_header(line).map(Arc::new));
    }

    fn resolve_header(&self, line: &[u8]) -> Result<Header, String> {
        let names: Vec<String> = cells(line)
            .ok_or("the header row leaves a quote open")?
            .into_iter()
            .map(|n| n.trim().to_string())
            .collect();
        let find = |column: &str| -> Result<usize, String> {
            names
                .iter()
                .position(|n| n.eq_ignore_ascii_case(column.trim()))
                .ok_or_else(|| {
                    format!(
                        "the header has no column {:?} named by the mapping (it has {})",
                        json::clip(column),
                        json::clip(&names.join(", "))
                    )
                })
        };
        let time = find(&self.mapping.time_column)?;
        let fields = FIELDS
            .iter()
            .filter_map(|(field, _)| Some((*field, self.mapping.columns.get(*field)?)))
            .map(|(field, column)| find(column).map(|i| (field, i)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Header {
            raw: line.to_vec(),
            names,
            time,
            fields,
        })
    }

    fn decode_row(&self, line: &[u8]) -> Result<Event, String> {
        let header = match &self.header {
            Some(Ok(h)) => h,
            Some(Err(e)) => return Err(e.clone()),
            None => return Err("a CSV row before the header row".into()),
        };
        let mapping = &*self.mapping;
        let cells = cells(line).ok_or(
            "not one CSV row: a quote is not closed (a line break inside a quoted field is not supported)",
        )?;
        if cells.len() != header.names.len() {
            return Err(format!(
                "{} columns where the header names {}: the row is truncated or has an unquoted comma",
                cells.len(),
                header.names.len()
            ));
        }
        let cell = |i: usize| cells.get(i).map(|s| s.trim()).filter(|s| !s.is_empty());
        let get = |field: Field| {
            header
                .fields
                .iter()
                .find(|(f, _)| *f == field)
                .and_then(|(_, i)| cell(*i))
        };
        let time_text = cell(header.time)
            .ok_or_else(|| format!("no time in column {:?}", json::clip(&mapping.time_column)))?;
        let time = mapping.parse_time(time_text).ok_or_else(|| {
            format!(
                "{:?} in column {:?} is not a time in the mapping's format{}",
                json::clip(time_text),
                json::clip(&mapping.time_column),
                match &mapping.time_format {
                    TimeFormat::Pattern { pattern, .. } => format!(" {pattern:?}"),
                    TimeFormat::Rfc3339 => " (RFC 3339)".into(),
                    TimeFormat::UnixSeconds => " (Unix seconds)".into(),
                    TimeFormat::UnixMillis => " (Unix milliseconds)".into(),
                }
            )
        })?;
        for field in &mapping.required {
            if get(*field).is_none() {
                let column = mapping.columns.get(*field).unwrap_or_default();
                return Err(format!(
                    "required {} is empty (column {:?})",
                    FIELDS
                        .iter()
                        .find(|(f, _)| f == field)
                        .map_or("field", |(_, n)| n),
                    json::clip(column)
                ));
            }
        }

        let mut event = Event::from_record(PRODUCT, time, line.to_vec());
        event.class_uid = mapping.class_uid;
        event.severity = Severity::Informational;
        event.activity_id = mapping.default_activity;
        if let Some(action) = get(Field::Action) {
            event.activity_name = Some(action.to_string());
            event.metadata.event_code = Some(action.to_string());
            let key = action.to_lowercase();
            if let Some((_, activity)) = mapping.actions.iter().find(|(a, _)| *a == key) {
                event.activity_id = *activity;
            }
        }
        let text = |field: Field| get(field).map(str::to_string);
        event.actor.user.name = text(Field::User);
        event.actor.user.full_name = text(Field::UserName);
        event.actor.user.role = text(Field::UserRole);
        event.patient.id = text(Field::PatientId);
        event.patient.name = text(Field::PatientName);
        event.resource.r#type = text(Field::ResourceType);
        event.resource.id = text(Field::ResourceId);
        event.message = text(Field::Message);
        event.src_endpoint.hostname = text(Field::Workstation);
        if let Some(ip) = get(Field::SourceIp) {
            let address = Endpoint::from_address(ip);
            if address.ip.is_some() {
                event.src_endpoint.ip = address.ip;
            }
        }
        if let Some(outcome) = get(Field::Outcome) {
            let key = outcome.to_lowercase();
            event.status = if mapping.success.contains(&key) {
                Status::Success
            } else if mapping.failure.contains(&key) {
                Status::Failure
            } else {
                Status::Other
            };
            if event.status != Status::Success {
                event.status_detail = Some(outcome.to_string());
            }
            if event.status == Status::Failure {
                event.severity = Severity::Low;
            }
        }
        let mut unmapped = Unmapped::with_capacity(header.names.len());
        for (name, value) in header.names.iter().zip(&cells) {
            if !name.is_empty() && !value.trim().is_empty() {
                unmapped.insert(name.clone(), Value::String(value.clone()));
            }
        }
        event.unmapped = unmapped;
        Ok(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPPING: &str = r#"
class = "api_activity"
activity = "other"
required = ["user", "patient_id"]

[time]
column = "Access Time"
format = "%m/%d/%Y %H:%M:%S"
timezone = "America/Chicago"

[columns]
user = "User ID"
user_name = "User Name"
patient_id = "MRN"
patient_name = "Patient Name"
action = "Action"
resource_type = "Record Type"
workstation = "Workstation"
source_ip = "IP Address"
outcome = "Status"

[actions]
View = "read"
Modify = "update"
Print = "read"
"#;

    fn mapping(text: &str) -> Result<MappedCsv, String> {
        let m: CsvMapping = toml::from_str(text).map_err(|e| e.to_string())?;
        MappedCsv::new(m)
    }

    fn decode_source(decoder: &MappedCsv, file: &str) -> Vec<Decoded> {
        let mut source = decoder.start().unwrap();
        let mut out = Vec::new();
        for line in file.lines() {
            source.decode(line.as_bytes(), &mut out);
        }
        out
    }

    const HEADER: &str = "Access Time,User ID,User Name,MRN,Patient Name,Action,Record Type,Workstation,IP Address,Status,Department";

    #[test]
    fn rows_map_to_events_with_local_time_and_quoted_cells() {
        let d = mapping(MAPPING).unwrap();
        let file = format!(
            "{HEADER}\n11/02/2026 08:15:00,jdoe,\"Doe, Jane\",E1001,\"Smith, \"\"Bob\"\"\",View,Chart,WS-ICU-04,10.20.30.40,Success,ICU\n"
        );
        let out = decode_source(&d, &file);
        assert_eq!(out.len(), 1);
        let e = out[0].as_ref().unwrap();
        // 08:15 in Chicago, on 2 November 2026 (CST, UTC-6).
        assert_eq!(e.time.to_rfc3339(), "2026-11-02T14:15:00.000Z");
        assert_eq!(e.class_uid, class::API_ACTIVITY);
        assert_eq!(e.activity_id, api_activity::READ);
        assert_eq!(e.actor.user.name.as_deref(), Some("jdoe"));
        assert_eq!(e.actor.user.full_name.as_deref(), Some("Doe, Jane"));
        assert_eq!(e.patient.id.as_deref(), Some("E1001"));
        assert_eq!(e.patient.name.as_deref(), Some("Smith, \"Bob\""));
        assert_eq!(e.src_endpoint.hostname.as_deref(), Some("WS-ICU-04"));
        assert_eq!(e.src_endpoint.ip.as_deref(), Some("10.20.30.40"));
        assert_eq!(e.status, Status::Success);
        assert_eq!(e.unmapped["Department"], "ICU");
        assert_eq!(e.metadata.product, "csv");
    }

    #[test]
    fn bad_time_missing_required_value_and_short_rows_are_refused_alone() {
        let d = mapping(MAPPING).unwrap();
        let file = format!(
            "{HEADER}\n\
             yesterday,jdoe,Jane,E1001,Bob,View,Chart,WS1,10.0.0.1,Success,ICU\n\
             11/02/2026 08:16:00,jdoe,Jane,,Bob,View,Chart,WS1,10.0.0.1,Success,ICU\n\
             11/02/2026 08:17:00,jdoe,Jane,E1001\n\
             11/02/2026 08:18:00,jdoe,Jane,E1001,Bob,Delete Note,Note,WS1,10.0.0.1,Denied,ICU\n"
        );
        let out = decode_source(&d, &file);
        let reasons: Vec<String> = out
            .iter()
            .filter_map(|d| d.as_ref().err().map(|e| e.reason.clone()))
            .collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(reasons[0].contains("is not a time"), "{}", reasons[0]);
        assert!(reasons[1].contains("required patient_id"), "{}", reasons[1]);
        assert!(reasons[2].contains("4 columns"), "{}", reasons[2]);
        let e = out[3].as_ref().unwrap();
        assert_eq!(e.status, Status::Failure);
        assert_eq!(e.activity_id, api_activity::OTHER);
        assert_eq!(e.activity_name.as_deref(), Some("Delete Note"));
    }

    #[test]
    fn a_header_without_a_mapped_column_refuses_every_row_naming_it() {
        let d = mapping(MAPPING).unwrap();
        let out = decode_source(&d, "Access Time,User ID\n11/02/2026 08:15:00,jdoe\n");
        let e = out[0].as_ref().unwrap_err();
        assert!(e.reason.contains("no column \"User Name\""), "{}", e.reason);
    }

    #[test]
    fn mapping_mistakes_are_reported() {
        let bad = |from: &str, to: &str| mapping(&MAPPING.replace(from, to)).unwrap_err();
        assert!(bad("\"api_activity\"", "\"api\"").contains("class"));
        assert!(bad("America/Chicago", "Mars/Olympus").contains("IANA"));
        assert!(bad("Modify = \"update\"", "Modify = \"edit\"").contains("edit"));
        assert!(bad("\"patient_id\"]", "\"patient\"]").contains("not one of"));
        assert!(bad("[columns]", "[columns]\nbogus = \"x\"").contains("bogus"));
    }

    #[test]
    fn times_in_the_hour_clocks_skip_do_not_exist() {
        let d = mapping(MAPPING).unwrap();
        // 8 March 2026, 02:30 in Chicago: clocks went from 02:00 to 03:00.
        assert_eq!(d.0.parse_time("03/08/2026 02:30:00"), None);
        assert!(d.0.parse_time("03/08/2026 03:30:00").is_some());
    }

    #[test]
    fn unix_and_rfc3339_times() {
        let unix = mapping(&MAPPING.replace("%m/%d/%Y %H:%M:%S", "unix")).unwrap();
        assert_eq!(
            unix.0.parse_time("1793600000").map(|t| t.to_rfc3339()),
            Some("2026-11-02T06:13:20.000Z".to_string())
        );
        assert_eq!(unix.0.parse_time("NaN"), None);
        assert_eq!(unix.0.parse_time("1e300"), None);
        let iso = mapping(&MAPPING.replace("%m/%d/%Y %H:%M:%S", "rfc3339")).unwrap();
        assert!(iso.0.parse_time("2026-11-02T08:15:00Z").is_some());
    }

    #[test]
    fn no_truncation_or_changed_byte_of_a_file_panics() {
        let d = mapping(MAPPING).unwrap();
        let file = format!(
            "{HEADER}\n11/02/2026 08:15:00,jdoe,\"Doe, Jane\",E1001,\"Smith, \"\"Bob\"\"\",View,Chart,WS-ICU-04,10.20.30.40,Success,ICU\n\
             03/08/2026 02:30:00,é,\"\",E1,B,Print,Chart,WS,::1,Denied,\"x\"y\n"
        );
        let bytes = file.as_bytes();
        let run = |input: &[u8]| {
            let mut out = Vec::new();
            d.decode(input, &mut out);
            let mut source = d.start().unwrap();
            for line in input.split(|&b| b == b'\n') {
                source.decode(line, &mut out);
            }
        };
        for end in 0..=bytes.len() {
            run(&bytes[..end]);
        }
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..2000 {
            let mut changed = bytes.to_vec();
            for _ in 0..3 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let at = (state % changed.len() as u64) as usize;
                changed[at] = (state >> 32) as u8;
            }
            run(&changed);
        }
    }

    #[test]
    fn a_whole_file_decodes_statelessly_and_a_lone_row_is_refused() {
        let d = mapping(MAPPING).unwrap();
        let mut out = Vec::new();
        d.decode(
            format!(
                "{HEADER}\n11/02/2026 08:15:00,jdoe,J,E1,B,View,Chart,WS,10.0.0.1,Success,ICU\n"
            )
            .as_bytes(),
            &mut out,
        );
        assert!(out.len() == 1 && out[0].is_ok());
        out.clear();
        d.decode(HEADER.as_bytes(), &mut out);
        assert!(out[0].is_err());
    }
}
