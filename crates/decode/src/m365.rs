//! Microsoft 365 message trace as CSV: `Get-MessageTraceV2 | Export-Csv` (and the older
//! `Get-MessageTrace`), and the admin centre's download of the same report. The header row
//! names the columns (`Received, SenderAddress, RecipientAddress, Subject, Status, ToIP,
//! FromIP, Size, MessageId, MessageTraceId …`, in any order, quoted or not), so the CSV is
//! read through a per-source decoder ([`Decoder::start`]) as Zeek TSV is: the header row sets
//! the columns, each later row decodes alone into one Email Activity event, and a bad row is
//! quarantined alone with its line. The mapping is the table in `docs/formats.md`.
//!
//! Rows are split by a small RFC 4180 reader (quoted fields, `""` inside quotes: a subject
//! with commas and quotes is common). The `csv` crate was tried and dropped: it reads streams,
//! and building a reader for every line (the pipeline hands lines) cost three quarters of the
//! decode time. A quoted field holding a line break is not supported, since the pipeline
//! frames by lines: such a row is refused with a reason. The stateless
//! [`Decoder::decode`] reads a record holding the header and its rows, and refuses a lone
//! data row. This decoder never panics, does no IO, and keeps only the header between rows.

use crate::email::email_activity;
use crate::{DecodeError, Decoded, Decoder, Framing, Sniff, SourceDecoder, json};
use serde_json::Value;
use std::sync::{Arc, LazyLock};
use ward_model::event::class;
use ward_model::{Endpoint, Event, Severity, Status, Timestamp, Unmapped};

const PRODUCT: &str = "m365-trace";

/// The Microsoft 365 message trace decoder.
pub struct MessageTrace;

impl Decoder for MessageTrace {
    fn name(&self) -> &'static str {
        PRODUCT
    }

    fn description(&self) -> &'static str {
        "Microsoft 365 message trace CSV (Get-MessageTraceV2 | Export-Csv, admin centre download)"
    }

    fn framing(&self) -> Framing {
        Framing::Lines
    }

    fn sniff(&self, record: &[u8]) -> Sniff {
        if header_columns(record).is_some() {
            Sniff::Yes
        } else {
            Sniff::No
        }
    }

    fn decode(&self, record: &[u8], out: &mut Vec<Decoded>) {
        let mut source = TraceSource::default();
        let lines: Vec<&[u8]> = record
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .filter(|l| !l.trim_ascii().is_empty())
            .collect();
        if lines.len() <= 1 {
            let line = lines.first().copied().unwrap_or_default();
            if header_columns(line).is_some() {
                return;
            }
            return out.push(Err(DecodeError::record(if line.is_empty() {
                "empty record: expected a message trace CSV row".to_string()
            } else {
                NO_HEADER.to_string()
            })));
        }
        let mut row = 0u64;
        for line in lines {
            if source.read_header(line) {
                continue;
            }
            match source.decode_row(line) {
                Ok(event) => out.push(Ok(event)),
                Err(reason) => out.push(Err(DecodeError::entry(row, reason, line.to_vec()))),
            }
            row += 1;
        }
    }

    fn start(&self) -> Option<Box<dyn SourceDecoder>> {
        Some(Box::new(TraceSource::default()))
    }
}

const NO_HEADER: &str =
    "a message trace row without its header row: ingest the CSV from its first line";

/// The columns the mapping reads, by the names each export gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Received,
    Sender,
    Recipient,
    Subject,
    Status,
    FromIp,
    ToIp,
    Size,
    MessageId,
    TraceId,
    Other,
}

fn column_of(name: &str) -> Column {
    match name.to_ascii_lowercase().replace([' ', '_'], "").as_str() {
        "received" | "date" | "origintimestamputc" | "timestamp" => Column::Received,
        "senderaddress" | "sender" => Column::Sender,
        "recipientaddress" | "recipient" | "recipientstatus" => Column::Recipient,
        "subject" | "messagesubject" => Column::Subject,
        "status" | "deliverystatus" => Column::Status,
        "fromip" | "originalclientip" => Column::FromIp,
        "toip" => Column::ToIp,
        "size" | "totalbytes" => Column::Size,
        "messageid" => Column::MessageId,
        "messagetraceid" | "networkmessageid" => Column::TraceId,
        _ => Column::Other,
    }
}

#[derive(Debug, Default)]
struct Header {
    names: Vec<String>,
    columns: Vec<Column>,
}

/// One message trace source: the header row read so far.
#[derive(Default)]
pub struct TraceSource {
    header: Option<Arc<Header>>,
}

impl SourceDecoder for TraceSource {
    fn decode(&mut self, record: &[u8], out: &mut Vec<Decoded>) {
        let line = record.strip_suffix(b"\r").unwrap_or(record);
        if line.trim_ascii().is_empty() || self.read_header(line) {
            return;
        }
        out.push(self.decode_row(line).map_err(DecodeError::record));
    }
}

/// The cells of one CSV line (RFC 4180: fields in `"…"` may hold commas, and `""` for a
/// quote); `None` when a quote is left open, which is how a field holding a line break looks
/// once the pipeline has cut the source by lines. Shared with the mapped `csv` decoder.
pub(crate) fn cells(line: &[u8]) -> Option<Vec<String>> {
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    let mut cells = Vec::with_capacity(16);
    let mut at = 0;
    loop {
        let mut cell = Vec::new();
        if line.get(at) == Some(&b'"') {
            at += 1;
            loop {
                let close = at + memchr::memchr(b'"', line.get(at..)?)?;
                cell.extend_from_slice(&line[at..close]);
                if line.get(close + 1) == Some(&b'"') {
                    cell.push(b'"');
                    at = close + 2;
                } else {
                    at = close + 1;
                    break;
                }
            }
            // Anything between the closing quote and the comma is kept, as spreadsheets do.
            let end = memchr::memchr(b',', &line[at..]).map_or(line.len(), |c| at + c);
            cell.extend_from_slice(&line[at..end]);
            at = end;
        } else {
            let end = memchr::memchr(b',', &line[at..]).map_or(line.len(), |c| at + c);
            cell.extend_from_slice(&line[at..end]);
            at = end;
        }
        cells.push(match String::from_utf8(cell) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        });
        if at >= line.len() {
            return Some(cells);
        }
        at += 1; // the comma
        if at == line.len() {
            cells.push(String::new());
            return Some(cells);
        }
    }
}

/// The header's cells when `line` is a message trace header row.
fn header_columns(line: &[u8]) -> Option<Vec<String>> {
    static KEYS: LazyLock<[memchr::memmem::Finder<'static>; 4]> = LazyLock::new(|| {
        [
            b"SenderAddress".as_slice(),
            b"RecipientAddress",
            b"sender_address",
            b"recipient_status",
        ]
        .map(memchr::memmem::Finder::new)
    });
    let window = line.get(..line.len().min(4096)).unwrap_or(line);
    let [sender, recipient, sender_snake, status_snake] = &*KEYS;
    let mentions = |key: &memchr::memmem::Finder<'_>| key.find(window).is_some();
    let likely = (mentions(sender) && mentions(recipient))
        || (mentions(sender_snake) && mentions(status_snake));
    if !likely {
        return None;
    }
    cells(line).filter(|c| c.len() >= 3)
}

impl TraceSource {
    /// True when `line` is a header row (its columns are now the source's).
    fn read_header(&mut self, line: &[u8]) -> bool {
        let Some(names) = header_columns(line) else {
            return false;
        };
        let names: Vec<String> = names.into_iter().map(|n| n.trim().to_string()).collect();
        let columns = names.iter().map(|n| column_of(n)).collect();
        self.header = Some(Arc::new(Header { names, columns }));
        true
    }

    fn decode_row(&self, line: &[u8]) -> Result<Event, String> {
        let header = self.header.as_deref().ok_or(NO_HEADER)?;
        let cells = cells(line).ok_or(
            "not one CSV row: a quote is not closed (a line break inside a quoted field is not supported)",
        )?;
        if cells.len() != header.names.len() {
            return Err(format!(
                "{} columns where the header names {}: the row is truncated or not of this export",
                cells.len(),
                header.names.len()
            ));
        }
        let get = |col: Column| {
            header
                .columns
                .iter()
                .position(|c| *c == col)
                .and_then(|i| cells.get(i))
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
        };
        let received = get(Column::Received).ok_or("row has no Received time")?;
        let time = parse_time(received).ok_or_else(|| {
            format!(
                "Received {:?} is not a time: expected ISO 8601 or `M/d/yyyy h:mm:ss tt`",
                json::clip(received)
            )
        })?;
        let mut event = Event::from_record(PRODUCT, time, line.to_vec());
        event.class_uid = class::EMAIL_ACTIVITY;
        event.activity_id = email_activity::OTHER;
        event.activity_name = Some("message trace".into());
        event.severity = Severity::Informational;
        event.email.from = get(Column::Sender).map(str::to_string);
        // The admin centre writes `recipient##Status` pairs separated by `;`.
        event.email.to = get(Column::Recipient)
            .map(|r| {
                r.split(';')
                    .map(|p| p.split("##").next().unwrap_or(p).trim())
                    .filter(|p| !p.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        event.email.subject = get(Column::Subject).map(str::to_string);
        event.email.message_uid = get(Column::MessageId)
            .map(|m| m.trim_start_matches('<').trim_end_matches('>').to_string());
        event.metadata.uid = get(Column::TraceId).map(str::to_string);
        if let Some(ip) = get(Column::FromIp) {
            event.src_endpoint = Endpoint::from_address(ip);
        }
        if let Some(ip) = get(Column::ToIp) {
            event.dst_endpoint = Endpoint::from_address(ip);
        }
        if let Some(status) = get(Column::Status) {
            event.status = match status.to_ascii_lowercase().as_str() {
                "delivered" | "resolved" | "expanded" => Status::Success,
                "failed" => Status::Failure,
                _ => Status::Other,
            };
            event.status_detail = Some(status.to_string());
            if matches!(
                status.to_ascii_lowercase().as_str(),
                "filteredasspam" | "quarantined" | "failed"
            ) {
                event.severity = Severity::Low;
            }
        }
        let mut map = Unmapped::with_capacity(cells.len());
        for ((name, column), cell) in header.names.iter().zip(&header.columns).zip(cells) {
            if name.is_empty() || cell.trim().is_empty() {
                continue;
            }
            let value = match column {
                Column::Size => match cell.trim().parse::<u64>() {
                    Ok(size) => Value::from(size),
                    Err(_) => Value::String(cell),
                },
                _ => Value::String(cell),
            };
            map.insert(name.clone(), value);
        }
        event.unmapped = map;
        Ok(event)
    }
}

/// ISO 8601 (`2024-05-01T10:00:00.1234567Z`, or without zone: UTC, as the cmdlet reports
/// UTC), or `Export-Csv`'s US culture `5/1/2024 10:00:00 AM` (UTC).
fn parse_time(text: &str) -> Option<Timestamp> {
    if let Some(t) = Timestamp::parse(text) {
        return Some(t);
    }
    for format in [
        "%m/%d/%Y %I:%M:%S %p",
        "%m/%d/%Y %H:%M:%S",
        "%m/%d/%Y %H:%M",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Some(Timestamp::from_millis(t.and_utc().timestamp_millis()));
        }
    }
    None
}
