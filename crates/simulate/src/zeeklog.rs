//! `telemetry/zeek/conn.log`, `dns.log`, `ssl.log`, `http.log`: Zeek's ASCII logs as Zeek 6 writes them
//! by default: tab-separated, with the `#separator`, `#set_separator`, `#empty_field`,
//! `#unset_field`, `#path`, `#open`, `#fields` and `#types` headers and a `#close` trailer,
//! `-` for unset fields, epoch seconds with microseconds for `ts`. Field lists and types are
//! Zeek's own (base scripts, plus `validation_status` from the validate-certs policy that
//! most deployments load). TLS 1.3 hides the certificate, so its rows leave the certificate
//! fields unset, as Zeek does. `http.log` sees clear-text HTTP only (port 80); its file fields
//! (`resp_fuids`, `resp_mime_types`) are Zeek's file analysis of the response body. This
//! module only formats.

use crate::org::Org;
use crate::signal::{
    Conn, Dns, Http, Ip, Name, Proto, Site, Ssl, push_datetime, push_ip, push_num, push_padded,
    push_uid,
};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

/// A log's path, field names and types.
pub struct Schema {
    path: &'static str,
    fields: &'static [(&'static str, &'static str)],
}

pub const CONN: Schema = Schema {
    path: "conn",
    fields: &[
        ("ts", "time"),
        ("uid", "string"),
        ("id.orig_h", "addr"),
        ("id.orig_p", "port"),
        ("id.resp_h", "addr"),
        ("id.resp_p", "port"),
        ("proto", "enum"),
        ("service", "string"),
        ("duration", "interval"),
        ("orig_bytes", "count"),
        ("resp_bytes", "count"),
        ("conn_state", "string"),
        ("local_orig", "bool"),
        ("local_resp", "bool"),
        ("missed_bytes", "count"),
        ("history", "string"),
        ("orig_pkts", "count"),
        ("orig_ip_bytes", "count"),
        ("resp_pkts", "count"),
        ("resp_ip_bytes", "count"),
        ("tunnel_parents", "set[string]"),
    ],
};

pub const DNS: Schema = Schema {
    path: "dns",
    fields: &[
        ("ts", "time"),
        ("uid", "string"),
        ("id.orig_h", "addr"),
        ("id.orig_p", "port"),
        ("id.resp_h", "addr"),
        ("id.resp_p", "port"),
        ("proto", "enum"),
        ("trans_id", "count"),
        ("rtt", "interval"),
        ("query", "string"),
        ("qclass", "count"),
        ("qclass_name", "string"),
        ("qtype", "count"),
        ("qtype_name", "string"),
        ("rcode", "count"),
        ("rcode_name", "string"),
        ("AA", "bool"),
        ("TC", "bool"),
        ("RD", "bool"),
        ("RA", "bool"),
        ("Z", "count"),
        ("answers", "vector[string]"),
        ("TTLs", "vector[interval]"),
        ("rejected", "bool"),
    ],
};

pub const SSL: Schema = Schema {
    path: "ssl",
    fields: &[
        ("ts", "time"),
        ("uid", "string"),
        ("id.orig_h", "addr"),
        ("id.orig_p", "port"),
        ("id.resp_h", "addr"),
        ("id.resp_p", "port"),
        ("version", "string"),
        ("cipher", "string"),
        ("curve", "string"),
        ("server_name", "string"),
        ("resumed", "bool"),
        ("last_alert", "string"),
        ("next_protocol", "string"),
        ("established", "bool"),
        ("ssl_history", "string"),
        ("cert_chain_fps", "vector[string]"),
        ("client_cert_chain_fps", "vector[string]"),
        ("sni_matches_cert", "bool"),
        ("validation_status", "string"),
    ],
};

pub const HTTP: Schema = Schema {
    path: "http",
    fields: &[
        ("ts", "time"),
        ("uid", "string"),
        ("id.orig_h", "addr"),
        ("id.orig_p", "port"),
        ("id.resp_h", "addr"),
        ("id.resp_p", "port"),
        ("trans_depth", "count"),
        ("method", "string"),
        ("host", "string"),
        ("uri", "string"),
        ("referrer", "string"),
        ("version", "string"),
        ("user_agent", "string"),
        ("origin", "string"),
        ("request_body_len", "count"),
        ("response_body_len", "count"),
        ("status_code", "count"),
        ("status_msg", "string"),
        ("info_code", "count"),
        ("info_msg", "string"),
        ("tags", "set[enum]"),
        ("username", "string"),
        ("password", "string"),
        ("proxied", "set[string]"),
        ("orig_fuids", "vector[string]"),
        ("orig_filenames", "vector[string]"),
        ("orig_mime_types", "vector[string]"),
        ("resp_fuids", "vector[string]"),
        ("resp_filenames", "vector[string]"),
        ("resp_mime_types", "vector[string]"),
    ],
};

/// One Zeek log being written.
pub struct ZeekWriter {
    path: PathBuf,
    out: BufWriter<File>,
    buf: Vec<u8>,
    records: u64,
    last: i64,
}

impl ZeekWriter {
    pub fn create(path: PathBuf, schema: Schema, opened: i64) -> io::Result<Self> {
        let mut out = BufWriter::with_capacity(256 * 1024, File::create(&path)?);
        let mut b = Vec::with_capacity(1024);
        b.extend_from_slice(
            b"#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\t",
        );
        b.extend_from_slice(schema.path.as_bytes());
        b.extend_from_slice(b"\n#open\t");
        push_zeek_date(&mut b, opened);
        b.extend_from_slice(b"\n#fields");
        for (name, _) in schema.fields {
            b.push(b'\t');
            b.extend_from_slice(name.as_bytes());
        }
        b.extend_from_slice(b"\n#types");
        for (_, kind) in schema.fields {
            b.push(b'\t');
            b.extend_from_slice(kind.as_bytes());
        }
        b.push(b'\n');
        out.write_all(&b)?;
        Ok(ZeekWriter {
            path,
            out,
            buf: b,
            records: 0,
            last: opened,
        })
    }

    fn begin(&mut self, time: i64, uid: u64, orig: Ip, orig_p: u16, resp: Ip, resp_p: u16) {
        self.last = time;
        let b = &mut self.buf;
        b.clear();
        push_num(b, time.div_euclid(1000) as u64);
        b.push(b'.');
        push_padded(b, time.rem_euclid(1000) as u64, 3);
        push_padded(b, uid % 1000, 3);
        b.push(b'\t');
        push_uid(b, uid);
        b.push(b'\t');
        push_ip(b, orig);
        b.push(b'\t');
        push_num(b, orig_p as u64);
        b.push(b'\t');
        push_ip(b, resp);
        b.push(b'\t');
        push_num(b, resp_p as u64);
    }

    fn end(&mut self) -> io::Result<()> {
        self.buf.push(b'\n');
        self.records += 1;
        self.out.write_all(&self.buf)
    }

    pub fn conn(&mut self, time: i64, c: &Conn) -> io::Result<()> {
        self.begin(time, c.uid, c.orig, c.orig_p, c.resp, c.resp_p);
        let b = &mut self.buf;
        b.extend_from_slice(if c.proto == Proto::Tcp {
            b"\ttcp\t"
        } else {
            b"\tudp\t"
        });
        b.extend_from_slice(if c.service.is_empty() { "-" } else { c.service }.as_bytes());
        b.push(b'\t');
        let answered = c.state != "S0" && c.state != "REJ";
        if answered {
            push_num(b, c.duration_ms as u64 / 1000);
            b.push(b'.');
            push_padded(b, (c.duration_ms % 1000) as u64, 3);
            push_padded(b, c.uid % 1000, 3);
            b.push(b'\t');
            push_num(b, c.orig_bytes as u64);
            b.push(b'\t');
            push_num(b, c.resp_bytes as u64);
        } else {
            b.extend_from_slice(b"-\t-\t-");
        }
        b.push(b'\t');
        b.extend_from_slice(c.state.as_bytes());
        b.extend_from_slice(if is_local(c.orig) { b"\tT" } else { b"\tF" });
        b.extend_from_slice(if is_local(c.resp) { b"\tT" } else { b"\tF" });
        b.extend_from_slice(b"\t0\t");
        b.extend_from_slice(c.history.as_bytes());
        let overhead = if c.proto == Proto::Tcp { 52 } else { 28 };
        let (orig_pkts, resp_pkts) = if answered {
            (
                c.orig_bytes as u64 / 1448 + 2 + (c.proto == Proto::Tcp) as u64 * 2,
                c.resp_bytes as u64 / 1448 + 1 + (c.proto == Proto::Tcp) as u64 * 2,
            )
        } else {
            (1 + (c.state == "S0") as u64 * 2, (c.state == "REJ") as u64)
        };
        for (pkts, bytes) in [
            (orig_pkts, c.orig_bytes as u64 * answered as u64),
            (resp_pkts, c.resp_bytes as u64 * answered as u64),
        ] {
            b.push(b'\t');
            push_num(b, pkts);
            b.push(b'\t');
            push_num(b, bytes + pkts * overhead);
        }
        b.extend_from_slice(b"\t-");
        self.end()
    }

    pub fn dns(&mut self, time: i64, d: &Dns, org: &Org) -> io::Result<()> {
        self.begin(time, d.uid, d.orig, d.orig_p, d.resp, 53);
        let b = &mut self.buf;
        b.extend_from_slice(b"\tudp\t");
        push_num(b, d.trans_id as u64);
        b.extend_from_slice(b"\t0.");
        push_padded(b, d.rtt_us as u64 % 1_000_000, 6);
        b.push(b'\t');
        let name = name_of(d.query, org);
        b.extend_from_slice(name.as_bytes());
        let internal = name.ends_with(crate::org::DOMAIN);
        b.extend_from_slice(b"\t1\tC_INTERNET\t1\tA\t");
        match d.answer {
            Some(answer) => {
                b.extend_from_slice(b"0\tNOERROR\t");
                b.extend_from_slice(if internal { b"T" } else { b"F" });
                b.extend_from_slice(b"\tF\tT\tT\t0\t");
                push_ip(b, answer);
                b.extend_from_slice(if internal {
                    b"\t3600.000000"
                } else {
                    b"\t300.000000"
                });
            }
            None => {
                b.extend_from_slice(b"3\tNXDOMAIN\t");
                b.extend_from_slice(if internal { b"T" } else { b"F" });
                b.extend_from_slice(b"\tF\tT\tT\t0\t-\t-");
            }
        }
        b.extend_from_slice(b"\tF");
        self.end()
    }

    pub fn ssl(&mut self, time: i64, s: &Ssl, org: &Org) -> io::Result<()> {
        self.begin(time, s.uid, s.orig, s.orig_p, s.resp, s.resp_p);
        let b = &mut self.buf;
        b.push(b'\t');
        b.extend_from_slice(s.version.as_bytes());
        b.push(b'\t');
        b.extend_from_slice(s.cipher.as_bytes());
        b.push(b'\t');
        b.extend_from_slice(if s.curve.is_empty() { "-" } else { s.curve }.as_bytes());
        b.push(b'\t');
        b.extend_from_slice(name_of(s.server, org).as_bytes());
        b.extend_from_slice(if s.resumed { b"\tT" } else { b"\tF" });
        b.extend_from_slice(b"\t-\t");
        b.extend_from_slice(if s.resp_p == 443 && s.version == "TLSv13" {
            b"h2"
        } else {
            b"-"
        });
        b.extend_from_slice(b"\tT\t");
        let tls13 = s.version == "TLSv13";
        b.extend_from_slice(match (tls13, s.resumed) {
            (true, _) => b"CsiI".as_slice(),
            (false, true) => b"CsIi",
            (false, false) => b"CsxknGIi",
        });
        if tls13 || s.resumed {
            b.extend_from_slice(b"\t-\t-\t-\t-");
        } else {
            b.push(b'\t');
            let mut x = s.cert;
            for _ in 0..4 {
                x = crate::rng::mix(x);
                let text = format!("{x:016x}");
                b.extend_from_slice(text.as_bytes());
            }
            if s.validation == "ok" {
                // The issuing CA's certificate follows the server's.
                b.push(b',');
                let mut y = crate::rng::mix(0xCA);
                for _ in 0..4 {
                    y = crate::rng::mix(y);
                    let text = format!("{y:016x}");
                    b.extend_from_slice(text.as_bytes());
                }
            }
            b.extend_from_slice(b"\t(empty)\tT\t");
            b.extend_from_slice(s.validation.as_bytes());
        }
        self.end()
    }

    pub fn http(&mut self, time: i64, h: &Http) -> io::Result<()> {
        self.begin(time, h.uid, h.orig, h.orig_p, h.resp, 80);
        let (host, uri): (std::borrow::Cow<'_, str>, std::borrow::Cow<'_, str>) = match h.site {
            Site::Fixed { host, uri } => (host.into(), uri.into()),
            Site::MailLink {
                from,
                topic,
                mail,
                suffix,
            } => {
                let link = crate::mail::link_of(from, topic, mail).unwrap_or_default();
                let rest = link.split_once("://").map_or("", |(_, r)| r);
                let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                (host.to_string().into(), format!("{path}{suffix}").into())
            }
        };
        let b = &mut self.buf;
        b.extend_from_slice(b"\t1\t");
        b.extend_from_slice(h.method.as_bytes());
        b.push(b'\t');
        b.extend_from_slice(host.as_bytes());
        b.push(b'\t');
        b.extend_from_slice(uri.as_bytes());
        b.extend_from_slice(b"\t-\t1.1\t");
        b.extend_from_slice(h.user_agent.as_bytes());
        b.extend_from_slice(b"\t-\t");
        push_num(b, h.request_len as u64);
        b.push(b'\t');
        push_num(b, h.response_len as u64);
        b.push(b'\t');
        push_num(b, h.status as u64);
        b.push(b'\t');
        b.extend_from_slice(status_msg(h.status).as_bytes());
        b.extend_from_slice(b"\t-\t-\t(empty)\t-\t-\t-\t-\t-\t-\t");
        if h.mime.is_empty() || h.response_len == 0 {
            b.extend_from_slice(b"-\t-\t-");
        } else {
            // A file id: `F` and 17 base-62 characters, like a connection's uid after its `C`.
            let start = b.len();
            push_uid(b, crate::rng::mix(h.uid ^ 0xF11E));
            b[start] = b'F';
            b.extend_from_slice(b"\t-\t");
            b.extend_from_slice(h.mime.as_bytes());
        }
        self.end()
    }

    pub fn finish(mut self) -> io::Result<(PathBuf, u64)> {
        let mut b = Vec::with_capacity(32);
        b.extend_from_slice(b"#close\t");
        push_zeek_date(&mut b, self.last);
        b.push(b'\n');
        self.out.write_all(&b)?;
        self.out.flush()?;
        Ok((self.path, self.records))
    }
}

/// The reason phrase Zeek logs with a status code.
fn status_msg(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        404 => "Not Found",
        _ => "-",
    }
}

fn name_of(name: Name, org: &Org) -> &str {
    match name {
        Name::Fixed(n) => n,
        Name::Asset(a) => &org.assets[a as usize].hostname,
    }
}

/// RFC 1918 space: the hospital's own networks.
fn is_local(ip: Ip) -> bool {
    let [a, b, ..] = ip.to_be_bytes();
    a == 10 || (a == 172 && (16..32).contains(&b)) || (a == 192 && b == 168)
}

/// `2026-11-02-07-00-00`, as `#open` and `#close` write it.
fn push_zeek_date(b: &mut Vec<u8>, time: i64) {
    let start = b.len();
    push_datetime(b, time);
    for c in &mut b[start..] {
        if *c == b'T' || *c == b':' {
            *c = b'-';
        }
    }
}
