//! Flow export packets: NetFlow v5, NetFlow v9 (RFC 3954) and IPFIX (RFC 7011). Each flow
//! record becomes one OCSF Network Activity event filled the way the `zeek` decoder fills a
//! `conn` row (addresses and ports in `src_endpoint`/`dst_endpoint`, `unmapped.proto` as
//! `tcp`/`udp`/`icmp`, `unmapped.orig_ip_bytes`/`orig_pkts`, and `unmapped.conn_state` only
//! where the TCP flags honestly say the handshake never completed), so the segmentation
//! detector reads NetFlow and Zeek alike.
//!
//! # Records and templates
//!
//! A record is one or more export packets back to back: a UDP datagram as the listener
//! receives it, or a block of a file of concatenated packets. Packets frame themselves
//! (v5 by its count, IPFIX by its length, v9 by walking its FlowSets up to the end of the
//! record or to a FlowSet id in the reserved range 2–255, which is where the next packet's
//! version field sits). NetFlow v9 and IPFIX data records mean nothing without the template
//! announced in an earlier packet, so templates are kept in a [`TemplateCache`], keyed by
//! version, observation domain (v9 source id) and template id, bounded in number and replaced
//! when re-announced. The stateless [`Decoder::decode`] uses a cache for the one record; a
//! file is read through [`Decoder::start`], whose cache lives as long as the file; the
//! listener keeps one cache per exporter and hands each datagram over with the templates it
//! needs in front ([`with_templates`]), so every record it stores decodes on its own.
//!
//! # What is never silently dropped
//!
//! A data set whose template is unknown, a set or record that is truncated or malformed, and
//! bytes that are not an export packet are entry errors (quarantined with the reason and the
//! bytes). Options data records (sampling rate, interface names: facts about the exporter,
//! not flows) are read and set aside, as is the zero padding at the end of a set.
//!
//! # Raw record and id
//!
//! Each event's `raw` is a self-contained export packet holding that one flow: the original
//! header (count or length rewritten), for v9/IPFIX the template, and the data record. It
//! decodes on its own to the same event, and its hash is the event id, so the same flow
//! exported twice (a retransmission, a file ingested again) is stored once.
//!
//! This decoder never panics, does no IO, and reads every length against the bytes it has.

use crate::{DecodeError, Decoded, Decoder, Framing, Sniff, SourceDecoder};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use ward_model::event::class;
use ward_model::{Event, Severity, Timestamp, Unmapped};

const PRODUCT: &str = "netflow";

/// Files are cut into blocks of this size; a packet straddling two blocks is quarantined in
/// two parts (see `docs/formats.md`).
pub const FILE_BLOCK_BYTES: usize = 16 << 20;

/// Templates kept per cache (per exporter); the oldest announced goes first.
pub const MAX_TEMPLATES: usize = 4096;

const V5_HEADER: usize = 24;
const V5_RECORD: usize = 48;
const V9_HEADER: usize = 20;
const IPFIX_HEADER: usize = 16;
const SET_HEADER: usize = 4;
/// IPFIX field length meaning "variable" (RFC 7011 §7).
const VARIABLE: u16 = 65535;
const ENTERPRISE_BIT: u16 = 0x8000;

/// OCSF Network Activity `activity_id` 6: Traffic.
const TRAFFIC: u8 = 6;

/// The NetFlow / IPFIX decoder.
pub struct Netflow;

impl Decoder for Netflow {
    fn name(&self) -> &'static str {
        PRODUCT
    }

    fn description(&self) -> &'static str {
        "NetFlow v5, NetFlow v9 and IPFIX export packets (UDP datagrams, or files of concatenated packets)"
    }

    fn framing(&self) -> Framing {
        Framing::Blocks {
            header: FILE_BLOCK_BYTES,
            block: FILE_BLOCK_BYTES,
        }
    }

    /// Text never starts with a NUL byte, and every export packet does (its version is a
    /// big-endian 5, 9 or 10). Auto-detection sees a file's bytes up to the first `\n`
    /// (0x0a), which cuts an IPFIX header after its first byte: IPFIX files need
    /// `--format netflow`.
    fn sniff(&self, record: &[u8]) -> Sniff {
        match (be16(record, 0), be16(record, 2)) {
            (Some(5), Some(count)) if (1..=30).contains(&count) => Sniff::Yes,
            (Some(9), Some(_)) => Sniff::Yes,
            (Some(10), Some(length)) if usize::from(length) >= IPFIX_HEADER => Sniff::Yes,
            _ => Sniff::No,
        }
    }

    fn decode(&self, record: &[u8], out: &mut Vec<Decoded>) {
        decode_packets(record, &mut TemplateCache::default(), out);
    }

    fn start(&self) -> Option<Box<dyn SourceDecoder>> {
        Some(Box::new(NetflowSource::default()))
    }
}

/// One file of export packets read in order: templates announced in one block serve the
/// data of the blocks after it.
#[derive(Default)]
pub struct NetflowSource {
    templates: TemplateCache,
}

impl SourceDecoder for NetflowSource {
    fn decode(&mut self, record: &[u8], out: &mut Vec<Decoded>) {
        decode_packets(record, &mut self.templates, out);
    }
}

// ---------------------------------------------------------------------------------------------
// Templates

/// One field of a template: an information element and its length on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FieldSpec {
    /// The element id, without the enterprise bit.
    id: u16,
    /// The private enterprise number, for enterprise-specific elements (IPFIX only).
    enterprise: Option<u32>,
    /// Bytes on the wire, or [`VARIABLE`].
    length: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Template {
    /// Options templates describe the exporter; their data records are not flows.
    options: bool,
    fields: Vec<FieldSpec>,
    /// The template record as announced, to rebuild a self-contained packet around one flow.
    raw: Vec<u8>,
}

impl Template {
    /// The fewest bytes a data record of this template takes (a variable field at least one).
    fn min_record(&self) -> usize {
        self.fields
            .iter()
            .map(|f| {
                if f.length == VARIABLE {
                    1
                } else {
                    usize::from(f.length)
                }
            })
            .sum()
    }
}

/// (version, observation domain or source id, template id).
type TemplateKey = (u16, u32, u16);

/// The templates of one exporter (or one file), at most [`MAX_TEMPLATES`]: when full, the
/// template announced longest ago is forgotten, and its data is quarantined until the exporter
/// announces it again (exporters repeat their templates every few seconds or packets).
#[derive(Debug, Default)]
pub struct TemplateCache {
    templates: HashMap<TemplateKey, (u64, Arc<Template>)>,
    /// Keys in the order they were (re)defined, with the generation that put them there.
    order: VecDeque<(TemplateKey, u64)>,
    generation: u64,
}

impl TemplateCache {
    /// Templates held.
    pub fn len(&self) -> usize {
        self.templates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.templates.is_empty()
    }

    fn get(&self, key: &TemplateKey) -> Option<Arc<Template>> {
        self.templates.get(key).map(|(_, t)| t.clone())
    }

    fn define(&mut self, key: TemplateKey, template: Template) {
        if self
            .templates
            .get(&key)
            .is_some_and(|(_, t)| **t == template)
        {
            return; // the periodic re-announcement of a template already held
        }
        self.generation += 1;
        self.templates
            .insert(key, (self.generation, Arc::new(template)));
        self.order.push_back((key, self.generation));
        while self.templates.len() > MAX_TEMPLATES {
            let Some((old, generation)) = self.order.pop_front() else {
                break;
            };
            if self
                .templates
                .get(&old)
                .is_some_and(|(g, _)| *g == generation)
            {
                self.templates.remove(&old);
            }
        }
        if self.order.len() > 2 * MAX_TEMPLATES {
            let templates = &self.templates;
            self.order
                .retain(|(k, g)| templates.get(k).is_some_and(|(held, _)| held == g));
        }
    }

    /// IPFIX template withdrawal (RFC 7011 §8.1): the template id, or every template of the
    /// domain when the id is that of the set itself (2 or 3).
    fn withdraw(&mut self, key: TemplateKey, set_id: u16) {
        if key.2 == set_id {
            self.templates
                .retain(|k, (_, t)| !(k.0 == key.0 && k.1 == key.1 && t.options == (set_id == 3)));
        } else {
            self.templates.remove(&key);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading bytes

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*s.first()?, *s.get(1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    let mut a = [0u8; 4];
    a.copy_from_slice(s);
    Some(u32::from_be_bytes(a))
}

/// An unsigned integer of 1 to 8 bytes (IPFIX reduced-size encoding, RFC 7011 §6.2).
fn uint(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 8 {
        return None;
    }
    Some(b.iter().fold(0u64, |n, &byte| (n << 8) | u64::from(byte)))
}

fn ipv4(b: &[u8]) -> Option<IpAddr> {
    let a: [u8; 4] = b.try_into().ok()?;
    Some(IpAddr::from(a))
}

fn ipv6(b: &[u8]) -> Option<IpAddr> {
    let a: [u8; 16] = b.try_into().ok()?;
    Some(IpAddr::from(a))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

// ---------------------------------------------------------------------------------------------
// Packets

/// The header of one v9 or IPFIX packet, and where its sets lie.
struct SetPacket<'a> {
    version: u16,
    header: &'a [u8],
    domain: u32,
    /// Export time, Unix milliseconds.
    export_ms: i64,
    /// v9 only: the exporter's uptime at export, milliseconds.
    sys_uptime: Option<u32>,
    sets: Vec<(u16, &'a [u8])>,
    /// A set whose length does not fit: the reason, and its bytes to the packet's end.
    broken: Option<(String, &'a [u8])>,
}

/// Decodes every packet of `record`, templates read from and added to `templates`.
pub fn decode_packets(record: &[u8], templates: &mut TemplateCache, out: &mut Vec<Decoded>) {
    if record.is_empty() {
        return out.push(Err(DecodeError::record(
            "empty record: expected a NetFlow or IPFIX export packet",
        )));
    }
    let mut at = 0usize;
    let mut index = 0u64;
    while at < record.len() {
        let rest = record.get(at..).unwrap_or_default();
        let used = match be16(rest, 0) {
            Some(5) => decode_v5(rest, index, out),
            Some(9 | 10) => match split_sets(rest) {
                Ok((packet, used)) => {
                    decode_sets(&packet, index, templates, out);
                    used
                }
                Err(reason) => {
                    let skip = next_header(rest, 1);
                    out.push(Err(DecodeError::entry(
                        index,
                        reason,
                        rest.get(..skip).unwrap_or(rest).to_vec(),
                    )));
                    skip
                }
            },
            _ => {
                let skip = next_header(rest, 1);
                out.push(Err(DecodeError::entry(
                    index,
                    format!(
                        "{skip} bytes at byte {at} are not an export packet: expected version 5, 9 or 10 (NetFlow v5, v9, IPFIX) at the start of a packet"
                    ),
                    rest.get(..skip).unwrap_or(rest).to_vec(),
                )));
                skip
            }
        };
        at = at.saturating_add(used.max(1));
        index += 1;
    }
}

/// Where the next plausible packet header starts at or after `from` (else the end): used to
/// step over bytes that are not a packet, so that what follows them is still read.
fn next_header(bytes: &[u8], from: usize) -> usize {
    (from..bytes.len())
        .find(|&i| {
            let rest = bytes.get(i..).unwrap_or_default();
            match be16(rest, 0) {
                Some(5) => be16(rest, 2).is_some_and(|c| {
                    (1..=30).contains(&c) && rest.len() >= V5_HEADER + V5_RECORD * usize::from(c)
                }),
                Some(9) => {
                    be16(rest, V9_HEADER).is_some_and(|id| id <= 1 || id >= 256)
                        && be16(rest, V9_HEADER + 2).is_some_and(|l| {
                            usize::from(l) >= SET_HEADER && rest.len() >= V9_HEADER + usize::from(l)
                        })
                }
                Some(10) => be16(rest, 2).is_some_and(|l| {
                    usize::from(l) >= IPFIX_HEADER && rest.len() >= usize::from(l)
                }),
                _ => false,
            }
        })
        .unwrap_or(bytes.len())
}

/// One NetFlow v5 packet: returns the bytes it took.
fn decode_v5(packet: &[u8], index: u64, out: &mut Vec<Decoded>) -> usize {
    let (Some(header), Some(count), Some(uptime), Some(secs), Some(nsecs)) = (
        packet.get(..V5_HEADER),
        be16(packet, 2),
        be32(packet, 4),
        be32(packet, 8),
        be32(packet, 12),
    ) else {
        out.push(Err(DecodeError::entry(
            index,
            format!(
                "NetFlow v5 header truncated: {} of {V5_HEADER} bytes",
                packet.len()
            ),
            packet.to_vec(),
        )));
        return packet.len();
    };
    let want = V5_HEADER + V5_RECORD * usize::from(count);
    if packet.len() < want {
        out.push(Err(DecodeError::entry(
            index,
            format!(
                "NetFlow v5 packet truncated: its header says {count} records ({want} bytes), {} arrived",
                packet.len()
            ),
            packet.to_vec(),
        )));
        return packet.len();
    }
    let export_ms = i64::from(secs) * 1000 + i64::from(nsecs / 1_000_000);
    let body = packet.get(V5_HEADER..want).unwrap_or_default();
    for record in body.chunks_exact(V5_RECORD) {
        let mut raw = header.to_vec();
        if let Some(c) = raw.get_mut(2..4) {
            c.copy_from_slice(&1u16.to_be_bytes());
        }
        raw.extend_from_slice(record);
        out.push(Ok(v5_event(record, uptime, export_ms, raw)));
    }
    if count == 0 {
        out.push(Err(DecodeError::entry(
            index,
            "NetFlow v5 packet with a count of 0: holds no flow",
            header.to_vec(),
        )));
    }
    want.min(packet.len())
}

fn v5_event(r: &[u8], uptime: u32, export_ms: i64, raw: Vec<u8>) -> Event {
    let byte = |i: usize| r.get(i).copied();
    let mut flow = Flow {
        src: r.get(0..4).and_then(ipv4),
        dst: r.get(4..8).and_then(ipv4),
        ingress: be16(r, 12).map(u64::from),
        egress: be16(r, 14).map(u64::from),
        packets: be32(r, 16).map(u64::from),
        octets: be32(r, 20).map(u64::from),
        start_ms: be32(r, 24).map(|first| relative(export_ms, uptime, first)),
        end_ms: be32(r, 28).map(|last| relative(export_ms, uptime, last)),
        src_port: be16(r, 32),
        dst_port: be16(r, 34),
        tcp_flags: byte(37).map(u16::from),
        proto: byte(38),
        ..Flow::default()
    };
    if let Some(next_hop) = r.get(8..12).and_then(ipv4) {
        flow.extra
            .insert("ipNextHopIPv4Address", next_hop.to_string().into());
    }
    if let Some(tos) = byte(39) {
        flow.extra.insert("ipClassOfService", tos.into());
    }
    event(flow, export_ms, "netflow-v5", raw)
}

/// A time given as the exporter's uptime, in Unix milliseconds: the export time less how long
/// before the export it was. A time a little after the export (clock skew) stays after it,
/// and the 32-bit uptime wrapping after 49.7 days is undone.
fn relative(export_ms: i64, uptime: u32, at: u32) -> i64 {
    export_ms.saturating_sub(i64::from(uptime.wrapping_sub(at) as i32))
}

/// Cuts one v9 or IPFIX packet into its sets. Returns the bytes the packet takes.
fn split_sets(bytes: &[u8]) -> Result<(SetPacket<'_>, usize), String> {
    let version = be16(bytes, 0).unwrap_or(0);
    let (header_len, packet) = if version == 10 {
        let length = be16(bytes, 2).map(usize::from).unwrap_or(0);
        if bytes.len() < IPFIX_HEADER {
            return Err(format!(
                "IPFIX message header truncated: {} of {IPFIX_HEADER} bytes",
                bytes.len()
            ));
        }
        if length < IPFIX_HEADER {
            return Err(format!(
                "IPFIX message length {length} is shorter than its own {IPFIX_HEADER}-byte header"
            ));
        }
        let Some(packet) = bytes.get(..length) else {
            return Err(format!(
                "IPFIX message truncated: its header says {length} bytes, {} arrived",
                bytes.len()
            ));
        };
        (IPFIX_HEADER, packet)
    } else {
        if bytes.len() < V9_HEADER {
            return Err(format!(
                "NetFlow v9 header truncated: {} of {V9_HEADER} bytes",
                bytes.len()
            ));
        }
        (V9_HEADER, bytes)
    };
    let header = packet.get(..header_len).unwrap_or_default();
    let (export_ms, sys_uptime, domain) = if version == 10 {
        (
            i64::from(be32(header, 4).unwrap_or(0)) * 1000,
            None,
            be32(header, 12).unwrap_or(0),
        )
    } else {
        (
            i64::from(be32(header, 8).unwrap_or(0)) * 1000,
            be32(header, 4),
            be32(header, 16).unwrap_or(0),
        )
    };
    let mut sets = Vec::new();
    let mut broken = None;
    let mut at = header_len;
    while at < packet.len() {
        let (Some(id), Some(length)) = (be16(packet, at), be16(packet, at + 2)) else {
            broken = Some((
                format!(
                    "{} stray bytes at byte {at} of the packet, too few for a set header",
                    packet.len() - at
                ),
                packet.get(at..).unwrap_or_default(),
            ));
            at = packet.len();
            break;
        };
        if version == 9 && (2..=255).contains(&id) {
            break; // the version field of the next packet
        }
        let length = usize::from(length);
        let body = packet.get(at + SET_HEADER..at + length.max(SET_HEADER));
        match body {
            Some(body) if length >= SET_HEADER => {
                sets.push((id, body));
                at += length;
            }
            _ => {
                let kind = if version == 10 { "set" } else { "FlowSet" };
                let end = if version == 10 {
                    packet.len()
                } else {
                    next_header(packet, at + 1)
                };
                broken = Some((
                    format!(
                        "{kind} {id} at byte {at} declares {length} bytes but {} remain: truncated or malformed",
                        packet.len() - at
                    ),
                    packet.get(at..end).unwrap_or_default(),
                ));
                at = end;
                break;
            }
        }
    }
    Ok((
        SetPacket {
            version,
            header,
            domain,
            export_ms,
            sys_uptime,
            sets,
            broken,
        },
        at,
    ))
}

fn decode_sets(
    packet: &SetPacket<'_>,
    index: u64,
    templates: &mut TemplateCache,
    out: &mut Vec<Decoded>,
) {
    // Templates first: a packet may carry a template after the data that uses it.
    for &(id, body) in &packet.sets {
        if is_template_set(packet.version, id)
            && let Err(reason) = read_templates(packet, id, body, templates)
        {
            out.push(Err(DecodeError::entry(
                index,
                reason,
                standalone(packet, &[(id, body)]),
            )));
        }
    }
    for &(id, body) in &packet.sets {
        if id < 256 {
            if !is_template_set(packet.version, id) {
                out.push(Err(DecodeError::entry(
                    index,
                    format!(
                        "set id {id} is reserved ({}): neither a template nor a data set",
                        name(packet.version)
                    ),
                    standalone(packet, &[(id, body)]),
                )));
            }
            continue;
        }
        let Some(template) = templates.get(&(packet.version, packet.domain, id)) else {
            out.push(Err(DecodeError::entry(
                index,
                format!(
                    "{} data set of template {id} from observation domain {}: the template is unknown (not announced yet by this exporter, or forgotten); it decodes once the exporter re-announces its templates",
                    name(packet.version),
                    packet.domain
                ),
                standalone(packet, &[(id, body)]),
            )));
            continue;
        };
        decode_data_set(packet, id, body, &template, index, out);
    }
    if let Some((reason, bytes)) = &packet.broken {
        let mut raw = packet.header.to_vec();
        raw.extend_from_slice(bytes);
        out.push(Err(DecodeError::entry(index, reason.clone(), raw)));
    }
}

fn is_template_set(version: u16, id: u16) -> bool {
    match version {
        9 => id <= 1,
        _ => id == 2 || id == 3,
    }
}

fn name(version: u16) -> &'static str {
    if version == 10 { "IPFIX" } else { "NetFlow v9" }
}

/// Reads the template records of one template or options template set.
fn read_templates(
    packet: &SetPacket<'_>,
    set_id: u16,
    body: &[u8],
    templates: &mut TemplateCache,
) -> Result<(), String> {
    let ipfix = packet.version == 10;
    let options = if ipfix { set_id == 3 } else { set_id == 1 };
    let mut at = 0usize;
    // Fewer bytes than the smallest template record header are padding.
    while body.len().saturating_sub(at) >= 4 {
        let start = at;
        let id = be16(body, at).unwrap_or(0);
        let bad = |what: String| {
            format!(
                "{} {} {id} at byte {start} of its set: {what}",
                name(packet.version),
                if options {
                    "options template"
                } else {
                    "template"
                }
            )
        };
        let mut specs: Vec<FieldSpec> = Vec::new();
        if ipfix {
            let count = be16(body, at + 2).unwrap_or(0);
            at += 4;
            if count == 0 {
                templates.withdraw((packet.version, packet.domain, id), set_id);
                continue;
            }
            if options {
                let scope = be16(body, at).ok_or_else(|| bad("truncated".into()))?;
                if scope == 0 || scope > count {
                    return Err(bad(format!("{scope} scope fields of {count}")));
                }
                at += 2;
            }
            for _ in 0..count {
                let (Some(element), Some(length)) = (be16(body, at), be16(body, at + 2)) else {
                    return Err(bad("field specifiers truncated".into()));
                };
                at += 4;
                let enterprise = if element & ENTERPRISE_BIT != 0 {
                    let pen = be32(body, at).ok_or_else(|| {
                        bad("enterprise number of a field specifier truncated".into())
                    })?;
                    at += 4;
                    Some(pen)
                } else {
                    None
                };
                specs.push(FieldSpec {
                    id: element & !ENTERPRISE_BIT,
                    enterprise,
                    length,
                });
            }
        } else if options {
            let (Some(scope_len), Some(option_len)) = (be16(body, at + 2), be16(body, at + 4))
            else {
                return Err(bad("truncated".into()));
            };
            at += 6;
            let total = usize::from(scope_len) + usize::from(option_len);
            if total % 4 != 0 || total == 0 {
                return Err(bad(format!(
                    "scope and option lengths {scope_len} + {option_len} are not whole field specifiers"
                )));
            }
            for _ in 0..total / 4 {
                let (Some(element), Some(length)) = (be16(body, at), be16(body, at + 2)) else {
                    return Err(bad("field specifiers truncated".into()));
                };
                at += 4;
                specs.push(FieldSpec {
                    id: element,
                    enterprise: None,
                    length,
                });
            }
        } else {
            let count = be16(body, at + 2).unwrap_or(0);
            at += 4;
            for _ in 0..count {
                let (Some(element), Some(length)) = (be16(body, at), be16(body, at + 2)) else {
                    return Err(bad("field specifiers truncated".into()));
                };
                at += 4;
                specs.push(FieldSpec {
                    id: element,
                    enterprise: None,
                    length,
                });
            }
        }
        if id < 256 {
            return Err(bad("template ids below 256 are reserved".into()));
        }
        if !ipfix && specs.iter().any(|f| f.length == VARIABLE) {
            return Err(bad("NetFlow v9 has no variable-length fields".into()));
        }
        let template = Template {
            options,
            fields: specs,
            raw: body.get(start..at).unwrap_or_default().to_vec(),
        };
        if template.min_record() == 0 {
            return Err(bad("its records would take no bytes".into()));
        }
        templates.define((packet.version, packet.domain, id), template);
    }
    Ok(())
}

/// Decodes the data records of one set.
fn decode_data_set(
    packet: &SetPacket<'_>,
    set_id: u16,
    body: &[u8],
    template: &Template,
    index: u64,
    out: &mut Vec<Decoded>,
) {
    let min = template.min_record();
    let mut at = 0usize;
    let mut number = 0usize;
    while at < body.len() {
        let rest = body.get(at..).unwrap_or_default();
        if rest.len() < min && rest.len() < 4 && rest.iter().all(|&b| b == 0) {
            break; // padding to the set's 32-bit boundary
        }
        number += 1;
        let Some((values, used)) = split_record(rest, &template.fields) else {
            out.push(Err(DecodeError::entry(
                index,
                format!(
                    "{} data set of template {set_id}: record {number} is truncated ({} bytes left, the template needs at least {min})",
                    name(packet.version),
                    rest.len()
                ),
                standalone(packet, &[(set_id, rest)]),
            )));
            break;
        };
        at += used.max(1);
        if template.options {
            continue;
        }
        let record = rest.get(..used).unwrap_or_default();
        let raw = flow_packet(packet, set_id, template, record);
        out.push(Ok(record_event(packet, &values, raw)));
    }
}

/// A data record's values, field by field.
type Values<'a> = Vec<(FieldSpec, &'a [u8])>;

/// The values of one data record, field by field, and the bytes it took; `None` when the
/// bytes end first.
fn split_record<'a>(bytes: &'a [u8], fields: &[FieldSpec]) -> Option<(Values<'a>, usize)> {
    let mut at = 0usize;
    let mut values = Vec::with_capacity(fields.len());
    for &field in fields {
        let length = if field.length == VARIABLE {
            // RFC 7011 §7: one length byte, or 255 and two more.
            let first = *bytes.get(at)?;
            at += 1;
            if first < 255 {
                usize::from(first)
            } else {
                let long = be16(bytes, at)?;
                at += 2;
                usize::from(long)
            }
        } else {
            usize::from(field.length)
        };
        let value = bytes.get(at..at.checked_add(length)?)?;
        at += length;
        values.push((field, value));
    }
    Some((values, at))
}

/// A packet of `packet`'s header and the given sets, its count or length set to match: what a
/// quarantined set is stored as, so it can be read again on its own.
fn standalone(packet: &SetPacket<'_>, sets: &[(u16, &[u8])]) -> Vec<u8> {
    let mut raw = packet.header.to_vec();
    for &(id, body) in sets {
        raw.extend_from_slice(&id.to_be_bytes());
        let length = u16::try_from(body.len() + SET_HEADER).unwrap_or(u16::MAX);
        raw.extend_from_slice(&length.to_be_bytes());
        raw.extend_from_slice(body);
    }
    fix_header(packet.version, &mut raw, sets.len());
    raw
}

/// One flow as a packet of its own: header, the template, the record.
fn flow_packet(packet: &SetPacket<'_>, set_id: u16, template: &Template, record: &[u8]) -> Vec<u8> {
    let template_set = match (packet.version, template.options) {
        (10, false) => 2,
        (10, true) => 3,
        (_, false) => 0,
        (_, true) => 1,
    };
    standalone(packet, &[(template_set, &template.raw), (set_id, record)])
}

/// Sets a rebuilt packet's IPFIX length, or its v9 count to the number of sets (a flow's own
/// packet holds one record a set; v9 readers, this one included, find a packet's end without
/// the count). A packet over 64 KiB (a large template from one packet and a large record from
/// another) keeps the largest length, and is quarantined as truncated if read again.
fn fix_header(version: u16, raw: &mut [u8], records: usize) {
    let value = if version == 10 {
        u16::try_from(raw.len()).unwrap_or(u16::MAX)
    } else {
        u16::try_from(records).unwrap_or(u16::MAX)
    };
    if let Some(field) = raw.get_mut(2..4) {
        field.copy_from_slice(&value.to_be_bytes());
    }
}

// ---------------------------------------------------------------------------------------------
// Flows to events

/// What a flow record says, whichever version it came in.
#[derive(Default)]
struct Flow {
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    src_port: Option<u16>,
    dst_port: Option<u16>,
    proto: Option<u8>,
    octets: Option<u64>,
    packets: Option<u64>,
    start_ms: Option<i64>,
    end_ms: Option<i64>,
    tcp_flags: Option<u16>,
    icmp_type_code: Option<u16>,
    /// `proto` comes from an ICMP type-and-code element, not from protocolIdentifier.
    proto_implied: bool,
    ingress: Option<u64>,
    egress: Option<u64>,
    /// Elements with no place above, by IPFIX name (or `ie<id>` / `ie<pen>.<id>`).
    extra: Unmapped,
}

fn record_event(packet: &SetPacket<'_>, values: &[(FieldSpec, &[u8])], raw: Vec<u8>) -> Event {
    let mut flow = Flow::default();
    let mut uptime_start = None;
    let mut uptime_end = None;
    let mut init_ms = None;
    let mut icmp_element = None;
    for &(field, value) in values {
        if let Some(pen) = field.enterprise {
            flow.extra
                .insert(format!("ie{pen}.{}", field.id), hex(value).into());
            continue;
        }
        let n = uint(value);
        match field.id {
            1 | 85 => flow.octets = flow.octets.or(n),
            2 | 86 => flow.packets = flow.packets.or(n),
            4 => flow.proto = n.and_then(|p| u8::try_from(p).ok()),
            6 => flow.tcp_flags = n.and_then(|f| u16::try_from(f).ok()),
            7 => flow.src_port = n.and_then(|p| u16::try_from(p).ok()),
            8 => flow.src = ipv4(value),
            27 => flow.src = ipv6(value),
            11 => flow.dst_port = n.and_then(|p| u16::try_from(p).ok()),
            12 => flow.dst = ipv4(value),
            28 => flow.dst = ipv6(value),
            10 => flow.ingress = n,
            14 => flow.egress = n,
            21 => uptime_end = n.and_then(|t| u32::try_from(t).ok()),
            22 => uptime_start = n.and_then(|t| u32::try_from(t).ok()),
            32 | 139 => {
                flow.icmp_type_code = n.and_then(|t| u16::try_from(t).ok());
                icmp_element = Some(if field.id == 32 { ICMP } else { ICMPV6 });
            }
            150 => {
                flow.start_ms = n
                    .and_then(|s| i64::try_from(s).ok())
                    .map(|s| s.saturating_mul(1000))
            }
            151 => {
                flow.end_ms = n
                    .and_then(|s| i64::try_from(s).ok())
                    .map(|s| s.saturating_mul(1000))
            }
            152 => flow.start_ms = n.and_then(|s| i64::try_from(s).ok()),
            153 => flow.end_ms = n.and_then(|s| i64::try_from(s).ok()),
            160 => init_ms = n.and_then(|s| i64::try_from(s).ok()),
            id => {
                let key = element_name(id).map_or_else(|| format!("ie{id}"), str::to_string);
                let value = match (id, value.len()) {
                    (82 | 83 | 96, _) => String::from_utf8_lossy(value).into_owned().into(),
                    (15, 4) => {
                        ipv4(value).map_or_else(|| hex(value).into(), |a| a.to_string().into())
                    }
                    (62, 16) => {
                        ipv6(value).map_or_else(|| hex(value).into(), |a| a.to_string().into())
                    }
                    _ => match n {
                        Some(n) if field.length != VARIABLE => Value::from(n),
                        _ => hex(value).into(),
                    },
                };
                flow.extra.insert(key, value);
            }
        }
    }
    // An ICMP type and code say the protocol when the template leaves protocolIdentifier out
    // (softflowd's ICMP templates do).
    if flow.proto.is_none() && icmp_element.is_some() {
        flow.proto = icmp_element;
        flow.proto_implied = true;
    }
    // Uptime-relative times: against the v9 header's uptime, or IPFIX's
    // systemInitTimeMilliseconds when the record carries it.
    match (packet.sys_uptime, init_ms) {
        (Some(uptime), _) => {
            if flow.start_ms.is_none() {
                flow.start_ms = uptime_start.map(|t| relative(packet.export_ms, uptime, t));
            }
            if flow.end_ms.is_none() {
                flow.end_ms = uptime_end.map(|t| relative(packet.export_ms, uptime, t));
            }
        }
        (None, Some(init)) => {
            if flow.start_ms.is_none() {
                flow.start_ms = uptime_start.map(|t| init.saturating_add(i64::from(t)));
            }
            if flow.end_ms.is_none() {
                flow.end_ms = uptime_end.map(|t| init.saturating_add(i64::from(t)));
            }
        }
        (None, None) => {
            for (key, t) in [
                ("flowStartSysUpTime", uptime_start),
                ("flowEndSysUpTime", uptime_end),
            ] {
                if let Some(t) = t {
                    flow.extra.insert(key, t.into());
                }
            }
        }
    }
    flow.extra
        .insert("observationDomainId", packet.domain.into());
    let code = if packet.version == 10 {
        "ipfix"
    } else {
        "netflow-v9"
    };
    event(flow, packet.export_ms, code, raw)
}

/// IPFIX names of a few more elements worth reading by name.
fn element_name(id: u16) -> Option<&'static str> {
    Some(match id {
        5 => "ipClassOfService",
        9 => "sourceIPv4PrefixLength",
        13 => "destinationIPv4PrefixLength",
        15 => "ipNextHopIPv4Address",
        16 => "bgpSourceAsNumber",
        17 => "bgpDestinationAsNumber",
        58 => "vlanId",
        61 => "flowDirection",
        62 => "ipNextHopIPv6Address",
        82 => "interfaceName",
        83 => "interfaceDescription",
        96 => "applicationName",
        136 => "flowEndReason",
        _ => return None,
    })
}

const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMP: u8 = 1;
const ICMPV6: u8 = 58;
const FIN: u16 = 0x01;
const SYN: u16 = 0x02;
const RST: u16 = 0x04;
const ACK: u16 = 0x10;

/// Zeek's `conn_state` for the few cases a one-way record's TCP flags decide: the originator
/// sent a SYN and never acknowledged anything, so the handshake never completed (`S0`; with
/// a RST of its own, `RSTOS0`). Whether the responder answered (Zeek's `REJ`) a one-way
/// record cannot tell; both count as attempts. Any ACK leaves the state unknown: it may be
/// a completed connection, or the reply half of one.
fn conn_state(proto: Option<u8>, flags: Option<u16>) -> Option<&'static str> {
    let flags = flags?;
    if proto != Some(TCP) || flags & SYN == 0 || flags & ACK != 0 {
        return None;
    }
    Some(if flags & RST != 0 { "RSTOS0" } else { "S0" })
}

fn event(flow: Flow, export_ms: i64, code: &str, raw: Vec<u8>) -> Event {
    // Milliseconds from 1970 to the end of year 9999: a flow time outside is the exporter's
    // clock gone wrong, and the export time stands in for it.
    let sane = |ms: &i64| (0..=253_402_300_799_999).contains(ms);
    let time = Timestamp::from_millis(
        flow.start_ms
            .filter(sane)
            .or(flow.end_ms.filter(sane))
            .unwrap_or(export_ms),
    );
    let mut event = Event::from_record(PRODUCT, time, raw);
    event.class_uid = class::NETWORK_ACTIVITY;
    event.activity_id = TRAFFIC;
    event.activity_name = Some("flow".into());
    event.severity = Severity::Informational;
    event.metadata.event_code = Some(code.to_string());
    event.src_endpoint.ip = flow.src.map(|a| a.to_string());
    event.dst_endpoint.ip = flow.dst.map(|a| a.to_string());
    let icmp = matches!(flow.proto, Some(ICMP | ICMPV6));
    if icmp {
        // As Zeek: the ICMP type in the originator's port, the code in the responder's.
        // NetFlow v5 and many v9 exporters put type × 256 + code in the destination port.
        if let Some(tc) = flow.icmp_type_code.or(flow.dst_port) {
            event.src_endpoint.port = Some(tc >> 8);
            event.dst_endpoint.port = Some(tc & 0xff);
        }
    } else {
        event.src_endpoint.port = flow.src_port;
        event.dst_endpoint.port = flow.dst_port;
    }
    let mut fields = flow.extra;
    if let Some(p) = flow.proto {
        let proto = match p {
            TCP => "tcp",
            UDP => "udp",
            ICMP | ICMPV6 => "icmp",
            _ => "unknown_transport",
        };
        fields.insert("proto", proto.into());
        if !flow.proto_implied {
            fields.insert("protocolIdentifier", p.into());
        }
    }
    if let Some(octets) = flow.octets {
        fields.insert("orig_ip_bytes", octets.into());
    }
    if let Some(packets) = flow.packets {
        fields.insert("orig_pkts", packets.into());
    }
    if let Some(flags) = flow.tcp_flags {
        fields.insert("tcpControlBits", flags.into());
        fields.insert("tcp_flags", flag_letters(flags).into());
    }
    if let Some(state) = conn_state(flow.proto, flow.tcp_flags) {
        fields.insert("conn_state", state.into());
    }
    if let (Some(start), Some(end)) = (flow.start_ms, flow.end_ms)
        && let Some(took) = end.checked_sub(start).filter(|d| *d >= 0)
    {
        fields.insert("duration", (took as f64 / 1000.0).into());
    }
    if let Some(start) = flow.start_ms {
        fields.insert("flowStartMilliseconds", start.into());
    }
    if let Some(end) = flow.end_ms {
        fields.insert("flowEndMilliseconds", end.into());
    }
    if let Some(i) = flow.ingress {
        fields.insert("ingressInterface", i.into());
    }
    if let Some(e) = flow.egress {
        fields.insert("egressInterface", e.into());
    }
    event.unmapped = fields;
    event
}

/// TCP flags as letters, as `nfdump` and `tcpdump` print them (`FSRPAU`, ECN `EC` first).
fn flag_letters(flags: u16) -> String {
    [
        (0x80, 'C'),
        (0x40, 'E'),
        (0x20, 'U'),
        (ACK, 'A'),
        (0x08, 'P'),
        (RST, 'R'),
        (SYN, 'S'),
        (FIN, 'F'),
    ]
    .iter()
    .filter(|(bit, _)| flags & bit != 0)
    .map(|(_, c)| *c)
    .collect()
}

// ---------------------------------------------------------------------------------------------
// For the listener

/// Reads the templates of `datagram` into `templates` (one exporter's cache) and returns the
/// datagram with a packet of the templates its data sets use, from earlier datagrams, in front:
/// a record that [`Netflow`]'s stateless `decode` reads on its own. A datagram that needs no
/// earlier template comes back unchanged. `None` for a datagram with nothing to store or
/// quarantine: only templates (now in the cache) and options records.
pub fn with_templates(datagram: &[u8], templates: &mut TemplateCache) -> Option<Vec<u8>> {
    let record = prepend_templates(datagram, templates);
    let mut out = Vec::new();
    decode_packets(&record, &mut TemplateCache::default(), &mut out);
    (!out.is_empty()).then_some(record)
}

fn prepend_templates(datagram: &[u8], templates: &mut TemplateCache) -> Vec<u8> {
    let mut prefix = Vec::new();
    let mut at = 0usize;
    while at < datagram.len() {
        let rest = datagram.get(at..).unwrap_or_default();
        let used = match be16(rest, 0) {
            Some(5) => {
                let count = be16(rest, 2).map_or(0, usize::from);
                (V5_HEADER + V5_RECORD * count).min(rest.len())
            }
            Some(9 | 10) => match split_sets(rest) {
                Ok((packet, used)) => {
                    let mut needed: Vec<(u16, Vec<u8>)> = Vec::new();
                    for &(id, body) in &packet.sets {
                        if is_template_set(packet.version, id) {
                            // Errors are the decoder's to report, on the datagram itself.
                            let _ = read_templates(&packet, id, body, templates);
                        }
                    }
                    let defined_here = defined_ids(&packet);
                    for &(id, _) in &packet.sets {
                        if id < 256 || defined_here.contains(&id) {
                            continue;
                        }
                        if let Some(t) = templates.get(&(packet.version, packet.domain, id)) {
                            let set = match (packet.version, t.options) {
                                (10, false) => 2,
                                (10, true) => 3,
                                (_, false) => 0,
                                (_, true) => 1,
                            };
                            match needed.iter_mut().find(|(s, _)| *s == set) {
                                Some((_, body)) => body.extend_from_slice(&t.raw),
                                None => needed.push((set, t.raw.clone())),
                            }
                        }
                    }
                    if !needed.is_empty() {
                        let sets: Vec<(u16, &[u8])> =
                            needed.iter().map(|(s, b)| (*s, b.as_slice())).collect();
                        prefix.extend_from_slice(&standalone(&packet, &sets));
                    }
                    used
                }
                Err(_) => rest.len(),
            },
            _ => next_header(rest, 1),
        };
        at = at.saturating_add(used.max(1));
    }
    if prefix.is_empty() {
        return datagram.to_vec();
    }
    prefix.extend_from_slice(datagram);
    prefix
}

/// Template ids a packet defines itself.
fn defined_ids(packet: &SetPacket<'_>) -> Vec<u16> {
    let mut cache = TemplateCache::default();
    for &(id, body) in &packet.sets {
        if is_template_set(packet.version, id) {
            let _ = read_templates(packet, id, body, &mut cache);
        }
    }
    cache.templates.keys().map(|k| k.2).collect()
}

#[cfg(test)]
mod tests {
    //! Packets built byte by byte after the RFCs' layouts (RFC 3954 §5–6, RFC 7011 §3, §7).
    use super::*;

    fn u16b(v: u16) -> [u8; 2] {
        v.to_be_bytes()
    }

    fn u32b(v: u32) -> [u8; 4] {
        v.to_be_bytes()
    }

    /// A NetFlow v5 packet: uptime 100 s at export 2026-11-02T08:00:00Z.
    fn v5(records: &[[u8; V5_RECORD]]) -> Vec<u8> {
        let mut p = Vec::new();
        p.extend(u16b(5));
        p.extend(u16b(records.len() as u16));
        p.extend(u32b(100_000)); // sys_uptime, ms
        p.extend(u32b(1_793_606_400)); // unix_secs
        p.extend(u32b(250_000_000)); // unix_nsecs
        p.extend(u32b(7)); // flow_sequence
        p.extend([0, 0]); // engine type, id
        p.extend(u16b(0)); // sampling
        for r in records {
            p.extend(r);
        }
        p
    }

    fn v5_record(
        src: [u8; 4],
        dst: [u8; 4],
        sport: u16,
        dport: u16,
        proto: u8,
        flags: u8,
    ) -> [u8; V5_RECORD] {
        let mut r = Vec::new();
        r.extend(src);
        r.extend(dst);
        r.extend([0, 0, 0, 0]); // next hop
        r.extend(u16b(3)); // input
        r.extend(u16b(4)); // output
        r.extend(u32b(5)); // packets
        r.extend(u32b(420)); // octets
        r.extend(u32b(90_000)); // first: 10 s before the export
        r.extend(u32b(95_000)); // last
        r.extend(u16b(sport));
        r.extend(u16b(dport));
        r.push(0); // pad
        r.push(flags);
        r.push(proto);
        r.push(0); // tos
        r.extend([0; 8]); // AS numbers, masks, pad
        r.try_into().unwrap()
    }

    fn decode(record: &[u8]) -> Vec<Decoded> {
        let mut out = Vec::new();
        Netflow.decode(record, &mut out);
        out
    }

    fn events(out: &[Decoded]) -> Vec<&Event> {
        out.iter().filter_map(|d| d.as_ref().ok()).collect()
    }

    fn errors(out: &[Decoded]) -> Vec<&DecodeError> {
        out.iter().filter_map(|d| d.as_ref().err()).collect()
    }

    const EXPORT_MS: i64 = 1_793_606_400_250;

    #[test]
    fn netflow_v5_records_become_conn_like_network_activity() {
        let packet = v5(&[
            v5_record([172, 16, 1, 7], [10, 20, 0, 20], 50_000, 1433, 6, 0x02),
            v5_record([10, 10, 1, 1], [10, 20, 0, 5], 40_000, 53, 17, 0),
        ]);
        assert_eq!(Netflow.sniff(&packet), Sniff::Yes);
        let out = decode(&packet);
        let [Ok(tcp), Ok(udp)] = out.as_slice() else {
            panic!("{out:?}")
        };
        assert_eq!(tcp.class_uid, class::NETWORK_ACTIVITY);
        assert_eq!(tcp.metadata.product, "netflow");
        assert_eq!(tcp.metadata.event_code.as_deref(), Some("netflow-v5"));
        assert_eq!(tcp.src_endpoint.ip.as_deref(), Some("172.16.1.7"));
        assert_eq!(tcp.src_endpoint.port, Some(50_000));
        assert_eq!(tcp.dst_endpoint.ip.as_deref(), Some("10.20.0.20"));
        assert_eq!(tcp.dst_endpoint.port, Some(1433));
        assert_eq!(tcp.time, Timestamp(EXPORT_MS - 10_000));
        assert_eq!(tcp.unmapped["proto"], "tcp");
        assert_eq!(tcp.unmapped["orig_ip_bytes"], 420);
        assert_eq!(tcp.unmapped["orig_pkts"], 5);
        assert_eq!(tcp.unmapped["conn_state"], "S0");
        assert_eq!(tcp.unmapped["tcp_flags"], "S");
        assert_eq!(tcp.unmapped["duration"], 5.0);
        assert_eq!(tcp.unmapped["ingressInterface"], 3);
        assert_eq!(udp.unmapped["proto"], "udp");
        assert!(!udp.unmapped.contains_key("conn_state"));
        assert_ne!(tcp.id, udp.id);
    }

    #[test]
    fn an_events_raw_packet_decodes_alone_to_the_same_event() {
        let packet = v5(&[
            v5_record([172, 16, 1, 7], [10, 20, 0, 20], 50_000, 1433, 6, 0x12),
            v5_record([10, 10, 1, 1], [10, 20, 0, 5], 40_000, 53, 17, 0),
        ]);
        for event in events(&decode(&packet)) {
            let again = decode(&event.raw);
            assert_eq!(events(&again), [event]);
        }
        let (template, data) = v9_packets();
        let mut source = NetflowSource::default();
        let mut out = Vec::new();
        source.decode(&template, &mut out);
        source.decode(&data, &mut out);
        let event = events(&out)[0].clone();
        assert_eq!(events(&decode(&event.raw)), [&event]);
    }

    #[test]
    fn only_syn_without_ack_says_attempted() {
        assert_eq!(conn_state(Some(TCP), Some(SYN)), Some("S0"));
        assert_eq!(conn_state(Some(TCP), Some(SYN | RST)), Some("RSTOS0"));
        assert_eq!(conn_state(Some(TCP), Some(SYN | ACK)), None);
        assert_eq!(conn_state(Some(TCP), Some(ACK | FIN)), None);
        assert_eq!(conn_state(Some(UDP), Some(SYN)), None);
        assert_eq!(conn_state(Some(TCP), None), None);
    }

    #[test]
    fn icmp_type_and_code_go_to_the_ports_as_zeek_puts_them() {
        let packet = v5(&[v5_record(
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            0,
            3 * 256 + 1,
            1,
            0,
        )]);
        let out = decode(&packet);
        let e = events(&out)[0];
        assert_eq!(e.unmapped["proto"], "icmp");
        assert_eq!(
            (e.src_endpoint.port, e.dst_endpoint.port),
            (Some(3), Some(1))
        );
    }

    /// A v9 template packet (template 256: src/dst IPv4, ports, protocol, flags, octets,
    /// packets, first/last uptime) and a data packet using it.
    fn v9_packets() -> (Vec<u8>, Vec<u8>) {
        let header = |count: u16, seq: u32| {
            let mut h = Vec::new();
            h.extend(u16b(9));
            h.extend(u16b(count));
            h.extend(u32b(3_600_000)); // sysUptime
            h.extend(u32b(1_793_606_400)); // unix secs
            h.extend(u32b(seq));
            h.extend(u32b(42)); // source id
            h
        };
        let fields: [(u16, u16); 10] = [
            (8, 4),
            (12, 4),
            (7, 2),
            (11, 2),
            (4, 1),
            (6, 1),
            (1, 4),
            (2, 4),
            (22, 4),
            (21, 4),
        ];
        let mut template = header(1, 1);
        template.extend(u16b(0));
        template.extend(u16b((SET_HEADER + 4 + fields.len() * 4) as u16));
        template.extend(u16b(256));
        template.extend(u16b(fields.len() as u16));
        for (id, len) in fields {
            template.extend(u16b(id));
            template.extend(u16b(len));
        }
        let mut record = Vec::new();
        record.extend([172, 16, 1, 7]);
        record.extend([10, 20, 0, 20]);
        record.extend(u16b(50_001));
        record.extend(u16b(1433));
        record.push(6);
        record.push(0x1b); // FIN SYN PSH ACK
        record.extend(u32b(1200));
        record.extend(u32b(9));
        record.extend(u32b(3_590_000));
        record.extend(u32b(3_599_000));
        let mut data = header(1, 2);
        data.extend(u16b(256));
        data.extend(u16b((SET_HEADER + record.len() + 2) as u16));
        data.extend(&record);
        data.extend([0, 0]); // padding to 32 bits
        (template, data)
    }

    #[test]
    fn netflow_v9_data_decodes_with_the_template_of_an_earlier_packet() {
        let (template, data) = v9_packets();
        let mut source = NetflowSource::default();
        let mut out = Vec::new();
        source.decode(&template, &mut out);
        assert!(out.is_empty(), "{out:?}");
        source.decode(&data, &mut out);
        let [Ok(e)] = out.as_slice() else {
            panic!("{out:?}")
        };
        assert_eq!(e.metadata.event_code.as_deref(), Some("netflow-v9"));
        assert_eq!(e.src_endpoint.ip.as_deref(), Some("172.16.1.7"));
        assert_eq!(e.dst_endpoint.port, Some(1433));
        assert_eq!(e.time, Timestamp(1_793_606_400_000 - 10_000));
        assert_eq!(e.unmapped["duration"], 9.0);
        assert_eq!(e.unmapped["orig_ip_bytes"], 1200);
        assert_eq!(e.unmapped["tcp_flags"], "APSF");
        assert_eq!(e.unmapped["observationDomainId"], 42);
        assert!(!e.unmapped.contains_key("conn_state"));
    }

    #[test]
    fn data_of_an_unknown_template_is_quarantined_with_the_reason() {
        let (_, data) = v9_packets();
        let out = decode(&data);
        let [Err(e)] = out.as_slice() else {
            panic!("{out:?}")
        };
        assert!(e.reason.contains("template 256"), "{}", e.reason);
        assert!(e.reason.contains("unknown"), "{}", e.reason);
        assert_eq!(e.entry, Some(0));
        // The quarantined bytes are the data set with its header: it decodes once the
        // template is known.
        let (template, _) = v9_packets();
        let mut source = NetflowSource::default();
        let mut again = Vec::new();
        source.decode(&template, &mut again);
        source.decode(e.raw.as_deref().unwrap(), &mut again);
        assert_eq!(events(&again).len(), 1);
    }

    /// An IPFIX message: template 300 with src/dst IPv6, ports, protocol, flowStart/End
    /// milliseconds, a variable-length interfaceName (82), and an enterprise element
    /// (PEN 29305, id 1, 4 bytes); then two data records, one with a 3-byte name (short
    /// length form), one with a 300-byte name (the 255 + two-byte form).
    fn ipfix_message() -> Vec<u8> {
        let mut sets = Vec::new();
        let fields: Vec<(u16, u16, Option<u32>)> = vec![
            (27, 16, None),
            (28, 16, None),
            (7, 2, None),
            (11, 2, None),
            (4, 1, None),
            (152, 8, None),
            (153, 8, None),
            (82, VARIABLE, None),
            (1, 4, Some(29_305)),
        ];
        let mut t = Vec::new();
        t.extend(u16b(300));
        t.extend(u16b(fields.len() as u16));
        for (id, len, pen) in &fields {
            match pen {
                Some(pen) => {
                    t.extend(u16b(id | ENTERPRISE_BIT));
                    t.extend(u16b(*len));
                    t.extend(u32b(*pen));
                }
                None => {
                    t.extend(u16b(*id));
                    t.extend(u16b(*len));
                }
            }
        }
        sets.extend(u16b(2));
        sets.extend(u16b((SET_HEADER + t.len()) as u16));
        sets.extend(&t);
        let record = |sport: u16, name: &[u8]| {
            let mut r = Vec::new();
            r.extend([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
            r.extend([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
            r.extend(u16b(sport));
            r.extend(u16b(443));
            r.push(6);
            r.extend(1_793_606_390_000u64.to_be_bytes());
            r.extend(1_793_606_395_500u64.to_be_bytes());
            if name.len() < 255 {
                r.push(name.len() as u8);
            } else {
                r.push(255);
                r.extend(u16b(name.len() as u16));
            }
            r.extend(name);
            r.extend([0xde, 0xad, 0xbe, 0xef]);
            r
        };
        let mut data = record(1111, b"ge0");
        data.extend(record(2222, &[b'x'; 300]));
        sets.extend(u16b(300));
        sets.extend(u16b((SET_HEADER + data.len()) as u16));
        sets.extend(&data);
        let mut m = Vec::new();
        m.extend(u16b(10));
        m.extend(u16b((IPFIX_HEADER + sets.len()) as u16));
        m.extend(u32b(1_793_606_400)); // export time
        m.extend(u32b(1)); // sequence
        m.extend(u32b(7)); // observation domain
        m.extend(sets);
        m
    }

    #[test]
    fn ipfix_reads_variable_length_and_enterprise_fields() {
        let message = ipfix_message();
        assert_eq!(Netflow.sniff(&message), Sniff::Yes);
        let out = decode(&message);
        let [Ok(a), Ok(b)] = out.as_slice() else {
            panic!("{out:?}")
        };
        assert_eq!(a.metadata.event_code.as_deref(), Some("ipfix"));
        assert_eq!(a.src_endpoint.ip.as_deref(), Some("2001:db8::1"));
        assert_eq!(a.dst_endpoint.ip.as_deref(), Some("2001:db8::2"));
        assert_eq!(
            (a.src_endpoint.port, b.src_endpoint.port),
            (Some(1111), Some(2222))
        );
        assert_eq!(a.time, Timestamp(1_793_606_390_000));
        assert_eq!(a.unmapped["duration"], 5.5);
        assert_eq!(a.unmapped["interfaceName"], "ge0");
        assert_eq!(
            b.unmapped["interfaceName"].as_str().map(str::len),
            Some(300)
        );
        assert_eq!(a.unmapped["ie29305.1"], "deadbeef");
        assert_eq!(a.unmapped["observationDomainId"], 7);
    }

    #[test]
    fn ipfix_options_records_and_template_withdrawal_yield_no_flow() {
        let mut sets = Vec::new();
        // Options template 400: scope observationDomainId (149, 4), samplingInterval (34, 4).
        sets.extend(u16b(3));
        sets.extend(u16b(4 + 6 + 8));
        sets.extend(u16b(400));
        sets.extend(u16b(2));
        sets.extend(u16b(1));
        sets.extend([0, 149, 0, 4, 0, 34, 0, 4]);
        sets.extend(u16b(400));
        sets.extend(u16b(4 + 8));
        sets.extend([0, 0, 0, 7, 0, 0, 0, 100]);
        let mut m = Vec::new();
        m.extend(u16b(10));
        m.extend(u16b((IPFIX_HEADER + sets.len()) as u16));
        m.extend([0; 12]);
        m.extend(&sets);
        let mut cache = TemplateCache::default();
        let mut out = Vec::new();
        decode_packets(&m, &mut cache, &mut out);
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(cache.len(), 1);
        // Withdrawal: options template 400 with a field count of 0.
        let mut w = Vec::new();
        w.extend(u16b(10));
        w.extend(u16b(IPFIX_HEADER as u16 + 8));
        w.extend([0; 12]);
        w.extend([0, 3, 0, 8, 1, 144, 0, 0]);
        decode_packets(&w, &mut cache, &mut out);
        assert!(out.is_empty() && cache.is_empty(), "{out:?}");
    }

    #[test]
    fn every_truncation_of_a_packet_is_reported_never_a_panic() {
        let v5_packet = v5(&[v5_record([10, 0, 0, 1], [10, 0, 0, 2], 1, 2, 6, 2)]);
        let ipfix = ipfix_message();
        for whole in [&v5_packet, &ipfix] {
            for cut in 1..whole.len() {
                let out = decode(&whole[..cut]);
                assert!(!errors(&out).is_empty(), "cut at {cut}: {out:?}");
            }
        }
        let (template, data) = v9_packets();
        let mut both = template.clone();
        both.extend(&data);
        for cut in 1..both.len() {
            let out = decode(&both[..cut]);
            // v9 carries no length: a cut exactly between FlowSets or packets looks whole.
            let at_boundary =
                [V9_HEADER, template.len(), template.len() + V9_HEADER].contains(&cut);
            assert!(
                at_boundary || !errors(&out).is_empty(),
                "cut at {cut}: {out:?}"
            );
        }
    }

    #[test]
    fn malformed_lengths_and_garbage_are_quarantined_and_what_follows_is_read() {
        let good = v5(&[v5_record([10, 0, 0, 1], [10, 0, 0, 2], 1, 2, 6, 2)]);
        let mut record = b"\x07not a packet".to_vec();
        record.extend(&good);
        let out = decode(&record);
        assert_eq!(errors(&out).len(), 1, "{out:?}");
        assert_eq!(events(&out).len(), 1);
        assert_eq!(
            errors(&out)[0].raw.as_deref(),
            Some(&b"\x07not a packet"[..])
        );

        // An IPFIX set that claims more bytes than its message holds.
        let mut m = ipfix_message();
        m[IPFIX_HEADER + 2] = 0xff;
        m[IPFIX_HEADER + 3] = 0xff;
        let out = decode(&m);
        assert!(
            errors(&out)
                .iter()
                .any(|e| e.reason.contains("declares 65535 bytes")),
            "{out:?}"
        );

        // A set length under the 4-byte set header.
        let mut m = ipfix_message();
        m[IPFIX_HEADER + 3] = 2;
        assert!(!errors(&decode(&m)).is_empty());

        // A template whose fields take no bytes.
        let mut m = Vec::new();
        m.extend(u16b(10));
        m.extend(u16b(IPFIX_HEADER as u16 + 12));
        m.extend([0; 12]);
        m.extend([0, 2, 0, 12, 1, 44, 0, 1, 0, 8, 0, 0]);
        let out = decode(&m);
        assert!(errors(&out)[0].reason.contains("no bytes"), "{out:?}");
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let seeds = [ipfix_message(), v9_packets().0, v9_packets().1];
        let mut cache = TemplateCache::default();
        for _ in 0..3000 {
            let mut bytes = seeds[(next() % 3) as usize].clone();
            for _ in 0..(next() % 6) {
                let i = (next() as usize) % bytes.len();
                bytes[i] = next() as u8;
            }
            let mut out = Vec::new();
            decode_packets(&bytes, &mut cache, &mut out);
            let _ = with_templates(&bytes, &mut cache);
        }
    }

    #[test]
    fn the_template_cache_is_bounded_and_a_reannounced_template_replaces_the_old() {
        let mut cache = TemplateCache::default();
        let t = |len: u16| Template {
            options: false,
            fields: vec![FieldSpec {
                id: 8,
                enterprise: None,
                length: len,
            }],
            raw: Vec::new(),
        };
        for id in 0..(MAX_TEMPLATES as u32 + 10) {
            cache.define((10, id, 256), t(4));
        }
        assert_eq!(cache.len(), MAX_TEMPLATES);
        assert!(cache.get(&(10, 0, 256)).is_none(), "the oldest went first");
        cache.define((10, 5000, 256), t(16));
        assert_eq!(cache.get(&(10, 5000, 256)).unwrap().fields[0].length, 16);
        for _ in 0..(3 * MAX_TEMPLATES) {
            cache.define((10, 1, 256), t(4));
            cache.define((10, 1, 256), t(16));
        }
        assert!(cache.order.len() <= 2 * MAX_TEMPLATES + 1);
        assert_eq!(cache.len(), MAX_TEMPLATES);
    }

    #[test]
    fn the_listener_record_carries_the_templates_it_needs() {
        let (template, data) = v9_packets();
        let mut cache = TemplateCache::default();
        assert_eq!(
            with_templates(&template, &mut cache),
            None,
            "templates only"
        );
        let record = with_templates(&data, &mut cache).unwrap();
        assert!(record.ends_with(&data));
        let out = decode(&record);
        let mut source = NetflowSource::default();
        let mut by_file = Vec::new();
        source.decode(&template, &mut by_file);
        source.decode(&data, &mut by_file);
        assert_eq!(
            events(&out),
            events(&by_file),
            "the same event, the same id"
        );
        // Another exporter's cache knows nothing: its data is quarantined, not guessed.
        let record = with_templates(&data, &mut TemplateCache::default()).unwrap();
        assert_eq!(record, data);
        assert!(!errors(&decode(&record)).is_empty());
    }
}
