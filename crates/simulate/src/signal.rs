//! The telemetry of the hospital other than its EHR audit trail, as compact records: OpenSSH
//! lines of the jump host, Windows security events, Zeek connection, DNS, TLS and HTTP rows,
//! e-mail messages and Entra ID sign-ins.
//! Normal infrastructure ([`crate::infra`]) and planted incidents produce [`Signal`]s; the
//! [`Telemetry`] sink orders them and hands each to the writer of its file.
//!
//! Records hold indices and small numbers, never formatted text, so a day of them stays small.
//! Every signal of a simulated day is made on that day, at or after its midnight; the sink keeps
//! a day's signals, sorts them, and writes those before the next midnight, so each file is in
//! time order and memory follows one day's traffic, never the number of days. Nothing here
//! knows a file format: that is the writers' business (`authlog`, `winlog`, `zeeklog`, `mail`,
//! `entra`).

use crate::authlog::AuthLogWriter;
use crate::entra::EntraWriter;
use crate::mail::MailWriter;
use crate::org::Org;
use crate::winlog::WinLogWriter;
use crate::zeeklog::ZeekWriter;
use std::io;
use std::path::{Path, PathBuf};

/// An IPv4 address as a number (`10.20.0.10` is `0x0A14000A`).
pub type Ip = u32;

pub const fn ip(a: u8, b: u8, c: u8, d: u8) -> Ip {
    u32::from_be_bytes([a, b, c, d])
}

/// The address of an inventory asset (`10.10.3.12`); 0 when it is not dotted IPv4.
pub fn parse_ip(text: &str) -> Ip {
    text.parse::<std::net::Ipv4Addr>().map_or(0, u32::from)
}

/// Writes `ip` in dotted form.
pub fn push_ip(b: &mut Vec<u8>, ip: Ip) {
    for (i, octet) in ip.to_be_bytes().iter().enumerate() {
        if i > 0 {
            b.push(b'.');
        }
        push_num(b, *octet as u64);
    }
}

pub fn ip_text(ip: Ip) -> String {
    let mut b = Vec::with_capacity(15);
    push_ip(&mut b, ip);
    String::from_utf8(b).unwrap_or_default()
}

/// Decimal digits of `n`.
pub fn push_num(b: &mut Vec<u8>, n: u64) {
    push_padded(b, n, 1);
}

/// Decimal digits of `n`, zero-padded to at least `width`.
pub fn push_padded(b: &mut Vec<u8>, mut n: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 && digits.len() - i >= width {
            break;
        }
    }
    b.extend_from_slice(&digits[i..]);
}

/// `YYYY-MM-DDThh:mm:ss` of an instant in milliseconds (UTC), without fraction or zone.
pub fn push_datetime(b: &mut Vec<u8>, ms: i64) {
    let days = ms.div_euclid(86_400_000);
    let (y, m, d) = civil(days);
    push_padded(b, y as u64, 4);
    b.push(b'-');
    push_padded(b, m as u64, 2);
    b.push(b'-');
    push_padded(b, d as u64, 2);
    b.push(b'T');
    let in_day = ms.rem_euclid(86_400_000) as u64;
    push_padded(b, in_day / 3_600_000, 2);
    b.push(b':');
    push_padded(b, in_day / 60_000 % 60, 2);
    b.push(b':');
    push_padded(b, in_day / 1000 % 60, 2);
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + (m <= 2) as i64;
    (y, m, d)
}

/// Who acts: a staff member (written as their login, `u1035`) or a fixed account name
/// (vendors, `root`, the user names internet scanners try).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Staff(u32),
    Name(&'static str),
}

impl Who {
    pub fn push(self, b: &mut Vec<u8>) {
        match self {
            Who::Staff(s) => {
                b.push(b'u');
                push_num(b, Org::login(s) as u64);
            }
            Who::Name(n) => b.extend_from_slice(n.as_bytes()),
        }
    }

    pub fn text(self) -> String {
        let mut b = Vec::new();
        self.push(&mut b);
        String::from_utf8(b).unwrap_or_default()
    }
}

/// A name as DNS and TLS carry it: fixed, or an inventory asset's host name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Name {
    Fixed(&'static str),
    Asset(u32),
}

/// What the jump host's sshd, PAM or sudo says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SshWhat {
    /// `Accepted METHOD for USER from IP port P ssh2`.
    Accepted(&'static str),
    /// `Failed password for USER from IP port P ssh2`.
    Failed,
    /// `pam_unix(sshd:auth): authentication failure; … rhost=IP  user=USER`.
    PamAuthFailure,
    /// `Invalid user USER from IP port P`.
    Invalid,
    /// `Failed password for invalid user USER from IP port P ssh2`.
    FailedInvalid,
    /// `Connection closed by invalid user USER IP port P [preauth]`.
    ClosedInvalid,
    /// `Connection closed by authenticating user USER IP port P [preauth]`.
    ClosedAuthenticating,
    SessionOpened,
    SessionClosed,
    /// `Received disconnect from IP port P:11: disconnected by user`.
    ReceivedDisconnect,
    /// `Disconnected from user USER IP port P`.
    Disconnected,
    /// `USER : TTY=pts/0 ; PWD=/home/USER ; USER=root ; COMMAND=…`.
    Sudo(&'static str),
}

#[derive(Debug, Clone, Copy)]
pub struct Ssh {
    pub what: SshWhat,
    pub who: Who,
    pub ip: Ip,
    pub port: u16,
    /// The sshd (or sudo) process.
    pub pid: u32,
}

/// What a Windows security event records.
#[derive(Debug, Clone, Copy)]
pub enum WinWhat {
    /// 4624; `ip` `None` for a local (interactive) logon.
    Logon {
        logon_type: u8,
        ip: Option<Ip>,
        port: u16,
        from: Option<u32>,
    },
    /// 4625, unknown user name or bad password.
    LogonFailed {
        logon_type: u8,
        ip: Option<Ip>,
        port: u16,
        from: Option<u32>,
    },
    /// 4634.
    Logoff { logon_type: u8 },
    /// 4648: explicit credentials (`runas`), for `account` on `server`.
    ExplicitCredentials { account: &'static str, server: u32 },
    /// 4672: special privileges at logon (administrators).
    SpecialPrivileges,
    /// 4688.
    Process {
        image: &'static str,
        command_line: &'static str,
        parent: &'static str,
        pid: u32,
    },
    /// 4720: `user` created account `account`.
    UserCreated { account: u32 },
    /// 4732: member added to a security-enabled local group.
    GroupMemberAdded { account: u32, group: &'static str },
}

#[derive(Debug, Clone, Copy)]
pub struct Win {
    pub what: WinWhat,
    /// The asset whose Security log holds the event.
    pub host: u32,
    pub user: Who,
    /// The logon session (`TargetLogonId` / `SubjectLogonId`).
    pub logon_id: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
}

/// One row of Zeek's `conn.log`.
#[derive(Debug, Clone, Copy)]
pub struct Conn {
    pub uid: u64,
    pub orig: Ip,
    pub orig_p: u16,
    pub resp: Ip,
    pub resp_p: u16,
    pub proto: Proto,
    /// Zeek's detected service (`ssl`, `dns`, `dicom` …) or `""` when none was recognised.
    pub service: &'static str,
    pub duration_ms: u32,
    pub orig_bytes: u32,
    pub resp_bytes: u32,
    /// `SF`, `S0`, `REJ`, `RSTO` …
    pub state: &'static str,
    pub history: &'static str,
}

/// One row of Zeek's `dns.log`: a query and its answer.
#[derive(Debug, Clone, Copy)]
pub struct Dns {
    pub uid: u64,
    pub orig: Ip,
    pub orig_p: u16,
    pub resp: Ip,
    pub trans_id: u16,
    pub rtt_us: u32,
    pub query: Name,
    /// `None`: NXDOMAIN.
    pub answer: Option<Ip>,
}

/// One row of Zeek's `ssl.log`.
#[derive(Debug, Clone, Copy)]
pub struct Ssl {
    pub uid: u64,
    pub orig: Ip,
    pub orig_p: u16,
    pub resp: Ip,
    pub resp_p: u16,
    /// `TLSv13`, `TLSv12`, `TLSv10` (Zeek's spelling).
    pub version: &'static str,
    pub cipher: &'static str,
    pub curve: &'static str,
    pub server: Name,
    pub resumed: bool,
    /// `ok`, `self signed certificate` … (Zeek's validate-certs policy).
    pub validation: &'static str,
    /// Seeds the certificate fingerprint.
    pub cert: u64,
}

/// Where a clear-text HTTP request goes: a fixed host and URI, or a link a message carried
/// (built from the message by [`crate::mail::link_of`], so the request names the same URL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Site {
    Fixed {
        host: &'static str,
        uri: &'static str,
    },
    /// The link in the message `mail` of `topic`, from `from`, followed by `suffix` (a page's
    /// style sheet, a form's action), `""` for the link itself.
    MailLink {
        from: crate::mail::Party,
        topic: crate::mail::Topic,
        mail: u64,
        suffix: &'static str,
    },
}

/// One row of Zeek's `http.log`: a request and its response on a connection.
#[derive(Debug, Clone, Copy)]
pub struct Http {
    pub uid: u64,
    pub orig: Ip,
    pub orig_p: u16,
    pub resp: Ip,
    pub method: &'static str,
    pub site: Site,
    pub user_agent: &'static str,
    pub request_len: u32,
    pub status: u16,
    pub response_len: u32,
    /// The response's MIME type as Zeek's file analysis sees it; `""` when there is no body.
    pub mime: &'static str,
}

#[derive(Debug, Clone, Copy)]
pub enum Body {
    Ssh(Ssh),
    Win(Win),
    Conn(Conn),
    Dns(Dns),
    Ssl(Ssl),
    Http(Http),
    Mail(crate::mail::Mail),
    SignIn(crate::entra::SignIn),
}

/// One record of telemetry at its time (milliseconds since the epoch).
#[derive(Debug, Clone, Copy)]
pub struct Signal {
    pub time: i64,
    pub body: Body,
}

/// Builds signals, keeping the records of one connection together (a DNS query's `conn` row,
/// a TLS session's `conn` and `ssl` rows share a uid).
#[derive(Default)]
pub struct Signals {
    pub out: Vec<Signal>,
}

/// Resolver of every internal host: the domain controller.
pub const DNS_SERVER: Ip = ip(10, 20, 0, 50);

impl Signals {
    pub fn push(&mut self, time: i64, body: Body) {
        self.out.push(Signal { time, body });
    }

    pub fn ssh(&mut self, time: i64, what: SshWhat, who: Who, ip: Ip, port: u16, pid: u32) {
        self.push(
            time,
            Body::Ssh(Ssh {
                what,
                who,
                ip,
                port,
                pid,
            }),
        );
    }

    pub fn mail(&mut self, time: i64, mail: crate::mail::Mail) {
        self.push(time, Body::Mail(mail));
    }

    pub fn sign_in(&mut self, time: i64, sign_in: crate::entra::SignIn) {
        self.push(time, Body::SignIn(sign_in));
    }

    pub fn win(&mut self, time: i64, host: u32, user: Who, logon_id: u32, what: WinWhat) {
        self.push(
            time,
            Body::Win(Win {
                what,
                host,
                user,
                logon_id,
            }),
        );
    }

    /// A DNS lookup of `query` by `orig` through `resolver`: a `dns` row and its `conn` row.
    pub fn lookup(
        &mut self,
        time: i64,
        uid: u64,
        orig: Ip,
        resolver: Ip,
        query: Name,
        answer: Option<Ip>,
    ) {
        let orig_p = 49_152 + (uid % 16_000) as u16;
        let rtt_us = 300 + (uid >> 20) as u32 % 2_000;
        self.push(
            time,
            Body::Conn(Conn {
                uid,
                orig,
                orig_p,
                resp: resolver,
                resp_p: 53,
                proto: Proto::Udp,
                service: "dns",
                duration_ms: rtt_us / 1000 + 1,
                orig_bytes: 38 + (uid >> 8) as u32 % 30,
                resp_bytes: if answer.is_some() { 70 } else { 120 } + (uid >> 12) as u32 % 40,
                state: "SF",
                history: "Dd",
            }),
        );
        self.push(
            time,
            Body::Dns(Dns {
                uid,
                orig,
                orig_p,
                resp: resolver,
                trans_id: (uid >> 32) as u16,
                rtt_us,
                query,
                answer,
            }),
        );
    }

    /// A clear-text HTTP exchange on port 80: its `conn` row and its `http` row.
    pub fn http(&mut self, time: i64, http: Http, duration_ms: i64) {
        self.push(
            time,
            Body::Conn(Conn {
                uid: http.uid,
                orig: http.orig,
                orig_p: http.orig_p,
                resp: http.resp,
                resp_p: 80,
                proto: Proto::Tcp,
                service: "http",
                duration_ms: duration_ms.clamp(1, u32::MAX as i64) as u32,
                orig_bytes: 180 + http.request_len + (http.uid % 300) as u32,
                resp_bytes: 220 + http.response_len,
                state: "SF",
                history: "ShADadfF",
            }),
        );
        self.push(time + 1, Body::Http(http));
    }

    /// A TCP connection, with a TLS session when `tls` is given.
    pub fn tcp(&mut self, time: i64, conn: Conn, tls: Option<Tls>) {
        self.push(time, Body::Conn(conn));
        if let Some(tls) = tls {
            self.push(
                time + 2,
                Body::Ssl(Ssl {
                    uid: conn.uid,
                    orig: conn.orig,
                    orig_p: conn.orig_p,
                    resp: conn.resp,
                    resp_p: conn.resp_p,
                    version: tls.version,
                    cipher: tls.cipher,
                    curve: tls.curve,
                    server: tls.server,
                    resumed: tls.resumed,
                    validation: tls.validation,
                    cert: tls.cert,
                }),
            );
        }
    }
}

/// What a TLS session negotiated, for [`Signals::tcp`].
#[derive(Debug, Clone, Copy)]
pub struct Tls {
    pub version: &'static str,
    pub cipher: &'static str,
    pub curve: &'static str,
    pub server: Name,
    pub resumed: bool,
    pub validation: &'static str,
    pub cert: u64,
}

impl Tls {
    /// A modern session to a server with a valid certificate.
    pub fn modern(server: Name, cert: u64, tls13: bool, resumed: bool) -> Tls {
        Tls {
            version: if tls13 { "TLSv13" } else { "TLSv12" },
            cipher: if tls13 {
                "TLS_AES_256_GCM_SHA384"
            } else {
                "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
            },
            curve: "x25519",
            server,
            resumed,
            validation: "ok",
            cert,
        }
    }
}

/// A connection's Zeek uid: `C` and 17 base-62 characters.
pub fn push_uid(b: &mut Vec<u8>, uid: u64) {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    b.push(b'C');
    let mut x = uid;
    let mut y = crate::rng::mix(uid);
    for i in 0..17 {
        let src = if i < 10 { &mut x } else { &mut y };
        b.push(ALPHABET[(*src % 62) as usize]);
        *src /= 62;
    }
}

/// The telemetry files being written, fed signals in any order within a day.
pub struct Telemetry {
    pending: Vec<(i64, u64, Body)>,
    seq: u64,
    auth: AuthLogWriter,
    windows: WinLogWriter,
    conn: ZeekWriter,
    dns: ZeekWriter,
    ssl: ZeekWriter,
    http: ZeekWriter,
    mail: MailWriter,
    entra: EntraWriter,
}

impl Telemetry {
    pub fn create(dir: &Path, org: &Org) -> io::Result<Self> {
        let zeek = dir.join("zeek");
        std::fs::create_dir_all(&zeek)?;
        Ok(Telemetry {
            pending: Vec::new(),
            seq: 0,
            auth: AuthLogWriter::create(dir.join("auth.log"))?,
            windows: WinLogWriter::create(dir.join("windows-security.ndjson"), org)?,
            conn: ZeekWriter::create(zeek.join("conn.log"), crate::zeeklog::CONN, org.start)?,
            dns: ZeekWriter::create(zeek.join("dns.log"), crate::zeeklog::DNS, org.start)?,
            ssl: ZeekWriter::create(zeek.join("ssl.log"), crate::zeeklog::SSL, org.start)?,
            http: ZeekWriter::create(zeek.join("http.log"), crate::zeeklog::HTTP, org.start)?,
            mail: MailWriter::create(dir, org)?,
            entra: EntraWriter::create(dir, org)?,
        })
    }

    pub fn extend(&mut self, signals: impl IntoIterator<Item = Signal>) {
        for s in signals {
            self.seq += 1;
            self.pending.push((s.time, self.seq, s.body));
        }
    }

    /// Writes every pending signal before `limit`, in time order (ties in the order given).
    pub fn flush_before(&mut self, limit: i64, org: &Org) -> io::Result<()> {
        self.pending.sort_unstable_by_key(|&(t, seq, _)| (t, seq));
        let cut = self.pending.partition_point(|&(t, _, _)| t < limit);
        for &(time, _, ref body) in &self.pending[..cut] {
            match body {
                Body::Ssh(s) => self.auth.write(time, s)?,
                Body::Win(w) => self.windows.write(time, w, org)?,
                Body::Conn(c) => self.conn.conn(time, c)?,
                Body::Dns(d) => self.dns.dns(time, d, org)?,
                Body::Ssl(s) => self.ssl.ssl(time, s, org)?,
                Body::Http(h) => self.http.http(time, h)?,
                Body::Mail(m) => self.mail.write(time, m, org)?,
                Body::SignIn(s) => self.entra.write(time, s, org)?,
            }
        }
        self.pending.drain(..cut);
        Ok(())
    }

    /// Writes what is left and closes the files: each with its number of records.
    pub fn finish(mut self, org: &Org) -> io::Result<Vec<(PathBuf, u64)>> {
        self.flush_before(i64::MAX, org)?;
        let mut files = vec![
            self.auth.finish()?,
            self.windows.finish()?,
            self.conn.finish()?,
            self.dns.finish()?,
            self.ssl.finish()?,
            self.http.finish()?,
        ];
        files.extend(self.mail.finish()?);
        files.push(self.entra.finish()?);
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_and_addresses_are_written_like_the_standards() {
        let mut b = Vec::new();
        push_datetime(&mut b, 1_793_577_600_000 + 3_723_000);
        assert_eq!(b, b"2026-11-02T01:02:03");
        b.clear();
        push_datetime(&mut b, 951_782_400_000);
        assert_eq!(b, b"2000-02-29T00:00:00");
        assert_eq!(ip_text(parse_ip("10.20.0.10")), "10.20.0.10");
        assert_eq!(ip(10, 20, 0, 10), 0x0A14_000A);
    }
}
