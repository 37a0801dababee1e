//! `telemetry/auth.log`: the jump host and VPN concentrator's OpenSSH, PAM and sudo messages
//! as rsyslog writes them to `/var/log/auth.log` with its default file format since v8
//! (`RSYSLOG_FileFormat`): an RFC 3164 header whose timestamp is RFC 3339 with microseconds
//! and the zone (`2026-11-02T07:01:02.123456+00:00 vpn-gw01 sshd[4211]: …`). The classic
//! `Nov  2 07:01:02` stamp has no year, so a simulation of a past year read back later would
//! be dated in the wrong year; Ward's syslog reader accepts the RFC 3339 form, which needs
//! no guess. This module only formats: what happens is decided by `infra` and the scenarios.

use crate::signal::{Ip, Ssh, SshWhat, push_datetime, push_ip, push_num, push_padded};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

/// The host name syslog records for the jump host (`vpn-gw01` of the asset inventory).
pub const JUMP_HOST: &str = "vpn-gw01";

pub struct AuthLogWriter {
    path: PathBuf,
    out: BufWriter<File>,
    buf: Vec<u8>,
    records: u64,
}

impl AuthLogWriter {
    pub fn create(path: PathBuf) -> io::Result<Self> {
        Ok(AuthLogWriter {
            out: BufWriter::with_capacity(256 * 1024, File::create(&path)?),
            path,
            buf: Vec::with_capacity(256),
            records: 0,
        })
    }

    pub fn write(&mut self, time: i64, s: &Ssh) -> io::Result<()> {
        let b = &mut self.buf;
        b.clear();
        push_datetime(b, time);
        b.push(b'.');
        push_padded(b, time.rem_euclid(1000) as u64, 3);
        push_padded(b, (time.rem_euclid(1000) as u64 * 7) % 1000, 3);
        b.extend_from_slice(b"+00:00 ");
        b.extend_from_slice(JUMP_HOST.as_bytes());
        let program: &[u8] = if matches!(s.what, SshWhat::Sudo(_)) {
            b" sudo"
        } else {
            b" sshd"
        };
        b.extend_from_slice(program);
        b.push(b'[');
        push_num(b, s.pid as u64);
        b.extend_from_slice(b"]: ");
        let from = |b: &mut Vec<u8>, ip: Ip, port: u16| {
            b.extend_from_slice(b" from ");
            push_ip(b, ip);
            b.extend_from_slice(b" port ");
            push_num(b, port as u64);
        };
        let at = |b: &mut Vec<u8>, ip: Ip, port: u16| {
            b.push(b' ');
            push_ip(b, ip);
            b.extend_from_slice(b" port ");
            push_num(b, port as u64);
        };
        match s.what {
            SshWhat::Accepted(method) => {
                b.extend_from_slice(b"Accepted ");
                b.extend_from_slice(method.as_bytes());
                b.extend_from_slice(b" for ");
                s.who.push(b);
                from(b, s.ip, s.port);
                b.extend_from_slice(b" ssh2");
                if method == "publickey" {
                    b.extend_from_slice(b": ED25519 SHA256:");
                    push_key_hash(b, s.who);
                }
            }
            SshWhat::Failed => {
                b.extend_from_slice(b"Failed password for ");
                s.who.push(b);
                from(b, s.ip, s.port);
                b.extend_from_slice(b" ssh2");
            }
            SshWhat::PamAuthFailure => {
                b.extend_from_slice(
                    b"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=",
                );
                push_ip(b, s.ip);
                b.extend_from_slice(b"  user=");
                s.who.push(b);
            }
            SshWhat::Invalid => {
                b.extend_from_slice(b"Invalid user ");
                s.who.push(b);
                from(b, s.ip, s.port);
            }
            SshWhat::FailedInvalid => {
                b.extend_from_slice(b"Failed password for invalid user ");
                s.who.push(b);
                from(b, s.ip, s.port);
                b.extend_from_slice(b" ssh2");
            }
            SshWhat::ClosedInvalid | SshWhat::ClosedAuthenticating => {
                b.extend_from_slice(if s.what == SshWhat::ClosedInvalid {
                    b"Connection closed by invalid user "
                } else {
                    b"Connection closed by authenticating user "
                });
                s.who.push(b);
                at(b, s.ip, s.port);
                b.extend_from_slice(b" [preauth]");
            }
            SshWhat::SessionOpened => {
                b.extend_from_slice(b"pam_unix(sshd:session): session opened for user ");
                s.who.push(b);
                b.extend_from_slice(b"(uid=");
                push_num(b, uid_of(s.who) as u64);
                b.extend_from_slice(b") by (uid=0)");
            }
            SshWhat::SessionClosed => {
                b.extend_from_slice(b"pam_unix(sshd:session): session closed for user ");
                s.who.push(b);
            }
            SshWhat::ReceivedDisconnect => {
                b.extend_from_slice(b"Received disconnect");
                from(b, s.ip, s.port);
                b.extend_from_slice(b":11: disconnected by user");
            }
            SshWhat::Disconnected => {
                b.extend_from_slice(b"Disconnected from user ");
                s.who.push(b);
                at(b, s.ip, s.port);
            }
            SshWhat::Sudo(command) => {
                // sudo pads the user name with spaces after its tag.
                b.extend_from_slice(b"   ");
                s.who.push(b);
                b.extend_from_slice(b" : TTY=pts/");
                push_num(b, (s.pid % 4) as u64);
                b.extend_from_slice(b" ; PWD=/home/");
                s.who.push(b);
                b.extend_from_slice(b" ; USER=root ; COMMAND=");
                b.extend_from_slice(command.as_bytes());
            }
        }
        b.push(b'\n');
        self.records += 1;
        self.out.write_all(b)
    }

    pub fn finish(mut self) -> io::Result<(PathBuf, u64)> {
        self.out.flush()?;
        Ok((self.path, self.records))
    }
}

/// The Unix uid of an account on the jump host (logins map to 10000 + their number).
fn uid_of(who: crate::signal::Who) -> u32 {
    match who {
        crate::signal::Who::Staff(s) => 10_000 + crate::org::Org::login(s),
        crate::signal::Who::Name(n) => 2_000 + n.bytes().map(u32::from).sum::<u32>() % 1000,
    }
}

/// A stable 43-character base64 fingerprint of the account's key.
fn push_key_hash(b: &mut Vec<u8>, who: crate::signal::Who) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut x = uid_of(who) as u64;
    for _ in 0..43 {
        x = crate::rng::mix(x);
        b.push(ALPHABET[(x & 63) as usize]);
    }
}
