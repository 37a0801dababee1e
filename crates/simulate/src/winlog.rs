//! `telemetry/windows-security.ndjson`: Windows Security events as flat JSON lines, one event a
//! line, in the shape of the OTRF Security Datasets (and of NXLog's flat output): Windows'
//! own field names (`EventID`, `Channel`, `Hostname`, `TimeCreated`, `SubjectUserName`,
//! `TargetUserName`, `LogonType`, `IpAddress`, `NewProcessName`, `CommandLine` …), the audit
//! `Keywords` in hex, `EventRecordID` counted per host. Accounts live in the `WGH` domain.
//! This module only formats: what happens is decided by `infra` and the scenarios.

use crate::org::Org;
use crate::signal::{Who, Win, WinWhat, push_datetime, push_ip, push_num, push_padded};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

/// The NetBIOS name of the hospital's Active Directory domain.
pub const DOMAIN: &str = "WGH";
/// The domain SID; account RIDs follow it.
const DOMAIN_SID: &str = "S-1-5-21-2718281828-3141592653-1618033988";
const AUDIT_SUCCESS: &str = "0x8020000000000000";
const AUDIT_FAILURE: &str = "0x8010000000000000";

pub struct WinLogWriter {
    path: PathBuf,
    out: BufWriter<File>,
    buf: Vec<u8>,
    records: u64,
    /// The next `EventRecordID` of each host's Security log.
    record_ids: Vec<u64>,
}

impl WinLogWriter {
    pub fn create(path: PathBuf, org: &Org) -> io::Result<Self> {
        let record_ids = (0..org.assets.len() as u64)
            .map(|a| 100_000 + crate::rng::mix(a) % 900_000)
            .collect();
        Ok(WinLogWriter {
            out: BufWriter::with_capacity(256 * 1024, File::create(&path)?),
            path,
            buf: Vec::with_capacity(1024),
            records: 0,
            record_ids,
        })
    }

    pub fn write(&mut self, time: i64, w: &Win, org: &Org) -> io::Result<()> {
        let host = &org.assets[w.host as usize];
        let short = short_name(&host.hostname);
        let (id, task, failed) = match w.what {
            WinWhat::Logon { .. } => (4624, 12544, false),
            WinWhat::LogonFailed { .. } => (4625, 12544, true),
            WinWhat::Logoff { .. } => (4634, 12545, false),
            WinWhat::ExplicitCredentials { .. } => (4648, 12544, false),
            WinWhat::SpecialPrivileges => (4672, 12548, false),
            WinWhat::Process { .. } => (4688, 13312, false),
            WinWhat::UserCreated { .. } => (4720, 13824, false),
            WinWhat::GroupMemberAdded { .. } => (4732, 13826, false),
        };
        let record_id = &mut self.record_ids[w.host as usize];
        *record_id += 1;
        let b = &mut self.buf;
        b.clear();
        b.extend_from_slice(br#"{"SourceName":"Microsoft-Windows-Security-Auditing","ProviderGuid":"{54849625-5478-4994-A5BA-3E3B0328C30D}","Keywords":""#);
        b.extend_from_slice(if failed { AUDIT_FAILURE } else { AUDIT_SUCCESS }.as_bytes());
        b.extend_from_slice(br#"","Level":"0","Channel":"Security","Hostname":""#);
        b.extend_from_slice(host.hostname.as_bytes());
        b.extend_from_slice(br#"","TimeCreated":""#);
        push_stamp(b, time);
        b.extend_from_slice(br#"","@timestamp":""#);
        push_stamp(b, time);
        b.extend_from_slice(br#"","EventID":"#);
        push_num(b, id);
        b.extend_from_slice(br#","Task":""#);
        push_num(b, task);
        b.extend_from_slice(br#"","EventRecordID":""#);
        push_num(b, *record_id);
        b.push(b'"');
        let machine = |b: &mut Vec<u8>| {
            b.extend_from_slice(br#","SubjectUserSid":"S-1-5-18","SubjectUserName":""#);
            b.extend_from_slice(short.as_bytes());
            b.extend_from_slice(br#"$","SubjectDomainName":""#);
            b.extend_from_slice(DOMAIN.as_bytes());
            b.extend_from_slice(br#"","SubjectLogonId":"0x3e7""#);
        };
        let subject = |b: &mut Vec<u8>, who: Who, logon: u32| {
            b.extend_from_slice(br#","SubjectUserSid":""#);
            push_sid(b, who);
            b.extend_from_slice(br#"","SubjectUserName":""#);
            who.push(b);
            b.extend_from_slice(br#"","SubjectDomainName":""#);
            b.extend_from_slice(DOMAIN.as_bytes());
            b.extend_from_slice(br#"","SubjectLogonId":""#);
            push_logon_id(b, logon);
            b.push(b'"');
        };
        let target = |b: &mut Vec<u8>, who: Who| {
            b.extend_from_slice(br#","TargetUserSid":""#);
            push_sid(b, who);
            b.extend_from_slice(br#"","TargetUserName":""#);
            who.push(b);
            b.extend_from_slice(br#"","TargetDomainName":""#);
            b.extend_from_slice(DOMAIN.as_bytes());
            b.push(b'"');
        };
        let network = |b: &mut Vec<u8>,
                       logon_type: u8,
                       ip: Option<crate::signal::Ip>,
                       port: u16,
                       from: Option<u32>| {
            b.extend_from_slice(br#","LogonType":""#);
            push_num(b, logon_type as u64);
            b.extend_from_slice(br#"","WorkstationName":""#);
            match from {
                Some(a) => {
                    b.extend_from_slice(short_name(&org.assets[a as usize].hostname).as_bytes())
                }
                None => b.extend_from_slice(short.as_bytes()),
            }
            b.extend_from_slice(br#"","IpAddress":""#);
            match ip {
                Some(ip) => push_ip(b, ip),
                None => b.extend_from_slice(b"127.0.0.1"),
            }
            b.extend_from_slice(br#"","IpPort":""#);
            push_num(b, if ip.is_some() { port as u64 } else { 0 });
            b.push(b'"');
        };
        match w.what {
            WinWhat::Logon {
                logon_type,
                ip,
                port,
                from,
            } => {
                machine(b);
                target(b, w.user);
                b.extend_from_slice(br#","TargetLogonId":""#);
                push_logon_id(b, w.logon_id);
                b.push(b'"');
                network(b, logon_type, ip, port, from);
                let (process, package) = if logon_type == 3 {
                    ("Kerberos", "Kerberos")
                } else {
                    ("User32 ", "Negotiate")
                };
                b.extend_from_slice(br#","LogonProcessName":""#);
                b.extend_from_slice(process.as_bytes());
                b.extend_from_slice(br#"","AuthenticationPackageName":""#);
                b.extend_from_slice(package.as_bytes());
                b.extend_from_slice(br#"","ProcessName":""#);
                b.extend_from_slice(if logon_type == 3 {
                    br"-".as_slice()
                } else {
                    br"C:\\Windows\\System32\\svchost.exe".as_slice()
                });
                b.extend_from_slice(br#"","ElevatedToken":"%%1843"}"#);
            }
            WinWhat::LogonFailed {
                logon_type,
                ip,
                port,
                from,
            } => {
                machine(b);
                b.extend_from_slice(br#","TargetUserSid":"S-1-0-0","TargetUserName":""#);
                w.user.push(b);
                b.extend_from_slice(br#"","TargetDomainName":""#);
                b.extend_from_slice(DOMAIN.as_bytes());
                b.extend_from_slice(
                    br#"","Status":"0xc000006d","FailureReason":"%%2313","SubStatus":"0xc000006a""#,
                );
                network(b, logon_type, ip, port, from);
                b.extend_from_slice(
                    br#","LogonProcessName":"User32 ","AuthenticationPackageName":"Negotiate"}"#,
                );
            }
            WinWhat::Logoff { logon_type } => {
                target(b, w.user);
                b.extend_from_slice(br#","TargetLogonId":""#);
                push_logon_id(b, w.logon_id);
                b.extend_from_slice(br#"","LogonType":""#);
                push_num(b, logon_type as u64);
                b.extend_from_slice(br#""}"#);
            }
            WinWhat::ExplicitCredentials { account, server } => {
                subject(b, w.user, w.logon_id);
                b.extend_from_slice(br#","TargetUserName":""#);
                b.extend_from_slice(account.as_bytes());
                b.extend_from_slice(br#"","TargetDomainName":""#);
                b.extend_from_slice(DOMAIN.as_bytes());
                b.extend_from_slice(br#"","TargetServerName":""#);
                b.extend_from_slice(org.assets[server as usize].hostname.as_bytes());
                b.extend_from_slice(br#"","TargetInfo":""#);
                b.extend_from_slice(org.assets[server as usize].hostname.as_bytes());
                b.extend_from_slice(br#"","ProcessName":"C:\\Windows\\System32\\runas.exe","IpAddress":"-","IpPort":"-"}"#);
            }
            WinWhat::SpecialPrivileges => {
                subject(b, w.user, w.logon_id);
                b.extend_from_slice(br#","PrivilegeList":"SeSecurityPrivilege\n\t\t\tSeBackupPrivilege\n\t\t\tSeRestorePrivilege\n\t\t\tSeTakeOwnershipPrivilege\n\t\t\tSeDebugPrivilege\n\t\t\tSeSystemEnvironmentPrivilege\n\t\t\tSeLoadDriverPrivilege\n\t\t\tSeImpersonatePrivilege"}"#);
            }
            WinWhat::Process {
                image,
                command_line,
                parent,
                pid,
            } => {
                subject(b, w.user, w.logon_id);
                b.extend_from_slice(br#","NewProcessId":"0x"#);
                push_hex(b, pid);
                b.extend_from_slice(br#"","NewProcessName":""#);
                push_escaped(b, image);
                b.extend_from_slice(br#"","TokenElevationType":"%%1938","ProcessId":"0x"#);
                push_hex(b, pid / 3 + 0x100);
                b.extend_from_slice(br#"","CommandLine":""#);
                push_escaped(b, command_line);
                b.extend_from_slice(br#"","TargetUserSid":"S-1-0-0","TargetUserName":"-","TargetDomainName":"-","TargetLogonId":"0x0","ParentProcessName":""#);
                push_escaped(b, parent);
                b.extend_from_slice(br#"","MandatoryLabel":"S-1-16-8192"}"#);
            }
            WinWhat::UserCreated { account } => {
                subject(b, w.user, w.logon_id);
                let new = Who::Staff(account);
                target(b, new);
                b.extend_from_slice(br#","SamAccountName":""#);
                new.push(b);
                b.extend_from_slice(br#"","UserPrincipalName":""#);
                new.push(b);
                b.extend_from_slice(br#"@wgh.example.org","UserAccountControl":"%%2080 %%2082 %%2084","PrimaryGroupId":"513","PrivilegeList":"-"}"#);
            }
            WinWhat::GroupMemberAdded { account, group } => {
                subject(b, w.user, w.logon_id);
                let member = Who::Staff(account);
                b.extend_from_slice(br#","MemberName":"CN="#);
                member.push(b);
                b.extend_from_slice(br#",OU=Staff,DC=wgh,DC=example,DC=org","MemberSid":""#);
                push_sid(b, member);
                b.extend_from_slice(br#"","TargetUserName":""#);
                b.extend_from_slice(group.as_bytes());
                b.extend_from_slice(br#"","TargetDomainName":"Builtin","TargetSid":"S-1-5-32-555","PrivilegeList":"-"}"#);
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

/// `WS-ICU-01` from `ws-icu-01.wgh.example.org`: the NetBIOS computer name.
fn short_name(hostname: &str) -> String {
    hostname
        .split('.')
        .next()
        .unwrap_or(hostname)
        .to_ascii_uppercase()
}

/// `2026-11-02T07:01:02.123Z`.
fn push_stamp(b: &mut Vec<u8>, time: i64) {
    push_datetime(b, time);
    b.push(b'.');
    push_padded(b, time.rem_euclid(1000) as u64, 3);
    b.push(b'Z');
}

fn push_sid(b: &mut Vec<u8>, who: Who) {
    b.extend_from_slice(DOMAIN_SID.as_bytes());
    b.push(b'-');
    let rid = match who {
        Who::Staff(s) => 100 + Org::login(s) as u64,
        Who::Name(n) => 500 + n.bytes().map(u64::from).sum::<u64>() % 400,
    };
    push_num(b, rid);
}

fn push_logon_id(b: &mut Vec<u8>, id: u32) {
    b.extend_from_slice(b"0x");
    push_hex(b, id);
}

fn push_hex(b: &mut Vec<u8>, n: u32) {
    let text = format!("{n:x}");
    b.extend_from_slice(text.as_bytes());
}

/// JSON string content: Windows paths and command lines hold `\` and `"`.
fn push_escaped(b: &mut Vec<u8>, text: &str) {
    for &c in text.as_bytes() {
        match c {
            b'\\' => b.extend_from_slice(b"\\\\"),
            b'"' => b.extend_from_slice(b"\\\""),
            _ => b.push(c),
        }
    }
}
