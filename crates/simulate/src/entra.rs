//! `telemetry/entra-signins.ndjson`: Microsoft Entra ID sign-in logs as the Graph `signIn`
//! resource (`GET /auditLogs/signIns`), one JSON object a line: who (`userPrincipalName`, the
//! staff member's mailbox address), which application (Microsoft 365, the telehealth and
//! patient-portal apps published through Entra), from where (`ipAddress`, `location`), how it
//! ended (`status.errorCode`: 0, 50126 bad password, 500121 MFA denied), what MFA did
//! (`authenticationRequirement`, `mfaDetail`) and the device (`deviceDetail`). This module only
//! formats: `office` and the scenarios decide who signs in.

use crate::directory::{Directory, FOREIGN, HOME_PLACE};
use crate::mail::uuid;
use crate::org::Org;
use crate::rng::mix;
use crate::signal::{Ip, push_datetime, push_ip, push_num, push_padded};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// An application registered in the tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum App {
    Outlook,
    Teams,
    Telehealth,
    Portal,
}

impl App {
    fn name(self) -> &'static str {
        match self {
            App::Outlook => "Office 365 Exchange Online",
            App::Teams => "Microsoft Teams",
            App::Telehealth => "WGH Telehealth",
            App::Portal => "WGH Patient Portal",
        }
    }

    fn id(self) -> &'static str {
        match self {
            App::Outlook => "00000002-0000-0ff1-ce00-000000000000",
            App::Teams => "1fec8e78-bce4-4aaf-ab1b-5451cc387264",
            App::Telehealth => "6b1f4c52-8d0e-4a3b-9f77-2c5e0a9d1e40",
            App::Portal => "9a4e2d17-3c61-47b8-b0f2-7d8e5c4a2b19",
        }
    }
}

/// How a sign-in ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Inside the hospital: single factor, MFA satisfied by the device's token.
    Success,
    /// From outside: a push to the authenticator app, approved.
    PushApproved,
    /// 500121: the push was denied (or not answered).
    PushDenied,
    /// 50126: invalid user name or password.
    BadPassword,
}

/// The device a sign-in came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    /// A hospital workstation (inventory asset), hybrid-joined and compliant.
    Workstation(u32),
    HomePc,
    Phone,
    /// An unmanaged browser the tenant has never seen.
    Unknown,
}

#[derive(Debug, Clone, Copy)]
pub struct SignIn {
    pub id: u64,
    pub staff: u32,
    pub app: App,
    pub ip: Ip,
    /// 0: the hospital's town; `1 + i`: `FOREIGN[i]`.
    pub place: u8,
    pub outcome: Outcome,
    pub device: Device,
}

pub struct EntraWriter {
    path: PathBuf,
    out: BufWriter<File>,
    directory: Directory,
    buf: Vec<u8>,
    records: u64,
}

impl EntraWriter {
    pub fn create(dir: &Path, org: &Org) -> io::Result<Self> {
        let path = dir.join("entra-signins.ndjson");
        Ok(EntraWriter {
            out: BufWriter::with_capacity(256 * 1024, File::create(&path)?),
            path,
            directory: Directory::new(org),
            buf: Vec::with_capacity(2048),
            records: 0,
        })
    }

    pub fn write(&mut self, time: i64, s: &SignIn, org: &Org) -> io::Result<()> {
        let st = &org.staff[s.staff as usize];
        let place = match s.place {
            0 => HOME_PLACE,
            i => FOREIGN[(i as usize - 1) % FOREIGN.len()].0,
        };
        let b = &mut self.buf;
        b.clear();
        let put = |b: &mut Vec<u8>, key: &str, value: &str| {
            b.extend_from_slice(b"\"");
            b.extend_from_slice(key.as_bytes());
            b.extend_from_slice(b"\":\"");
            b.extend_from_slice(value.as_bytes());
            b.extend_from_slice(b"\",");
        };
        b.extend_from_slice(b"{");
        put(b, "id", &uuid(s.id));
        b.extend_from_slice(b"\"createdDateTime\":\"");
        push_datetime(b, time);
        b.extend_from_slice(b"Z\",");
        put(b, "userDisplayName", &format!("{} {}", st.given, st.family));
        b.extend_from_slice(b"\"userPrincipalName\":\"");
        self.directory.push_address(b, s.staff);
        b.extend_from_slice(b"\",");
        put(b, "userId", &uuid(0x05E4_0000_0000 | s.staff as u64));
        put(b, "userType", "member");
        put(b, "appId", s.app.id());
        put(b, "appDisplayName", s.app.name());
        b.extend_from_slice(b"\"ipAddress\":\"");
        push_ip(b, s.ip);
        b.extend_from_slice(b"\",");
        let browser = matches!(s.device, Device::Unknown | Device::HomePc)
            || matches!(s.app, App::Portal | App::Telehealth);
        put(
            b,
            "clientAppUsed",
            if browser {
                "Browser"
            } else {
                "Mobile Apps and Desktop clients"
            },
        );
        put(b, "correlationId", &uuid(mix(s.id)));
        let (ca, requirement, code, reason, detail) = match s.outcome {
            Outcome::Success => (
                "success",
                "singleFactorAuthentication",
                0,
                "Other.",
                "MFA requirement satisfied by claim in the token",
            ),
            Outcome::PushApproved => (
                "success",
                "multiFactorAuthentication",
                0,
                "Other.",
                "MFA completed in Azure AD",
            ),
            Outcome::PushDenied => (
                "failure",
                "multiFactorAuthentication",
                500121,
                "Authentication failed during strong authentication request.",
                "The user didn't complete the MFA prompt. They may have denied the request.",
            ),
            Outcome::BadPassword => (
                "notApplied",
                "singleFactorAuthentication",
                50126,
                "Error validating credentials due to invalid username or password.",
                "The user didn't enter the right credentials.",
            ),
        };
        put(b, "conditionalAccessStatus", ca);
        b.extend_from_slice(b"\"isInteractive\":true,");
        let risky = matches!(s.device, Device::Unknown) && place.country != "US";
        put(b, "riskDetail", "none");
        put(
            b,
            "riskLevelAggregated",
            if risky { "medium" } else { "none" },
        );
        put(
            b,
            "riskLevelDuringSignIn",
            if risky { "medium" } else { "none" },
        );
        put(b, "riskState", if risky { "atRisk" } else { "none" });
        put(b, "resourceDisplayName", s.app.name());
        put(b, "resourceId", &uuid(0x7E50_0000 | s.app as u64));
        put(b, "authenticationRequirement", requirement);
        b.extend_from_slice(b"\"status\":{\"errorCode\":");
        push_num(b, code);
        b.extend_from_slice(b",\"failureReason\":\"");
        b.extend_from_slice(reason.as_bytes());
        b.extend_from_slice(b"\",\"additionalDetails\":\"");
        b.extend_from_slice(detail.as_bytes());
        b.extend_from_slice(b"\"},\"deviceDetail\":{");
        match s.device {
            Device::Workstation(asset) => {
                let host = &org.assets[asset as usize].hostname;
                let short = host.split('.').next().unwrap_or(host);
                put(b, "deviceId", &uuid(0xDE71_0000_0000 | asset as u64));
                put(b, "displayName", short);
                put(b, "operatingSystem", "Windows10");
                put(b, "browser", "Edge 130.0.0");
                b.extend_from_slice(
                    b"\"isCompliant\":true,\"isManaged\":true,\"trustType\":\"Hybrid Azure AD joined\"},",
                );
            }
            Device::HomePc => {
                put(b, "deviceId", "");
                put(b, "displayName", "");
                put(b, "operatingSystem", "Windows10");
                put(b, "browser", "Chrome 130.0.0");
                b.extend_from_slice(
                    b"\"isCompliant\":false,\"isManaged\":false,\"trustType\":\"\"},",
                );
            }
            Device::Phone => {
                put(b, "deviceId", &uuid(0xF0E0_0000_0000 | s.staff as u64));
                put(b, "displayName", "");
                put(b, "operatingSystem", "Ios");
                put(b, "browser", "Mobile Safari");
                b.extend_from_slice(
                    b"\"isCompliant\":true,\"isManaged\":true,\"trustType\":\"Azure AD registered\"},",
                );
            }
            Device::Unknown => {
                put(b, "deviceId", "");
                put(b, "displayName", "");
                put(b, "operatingSystem", "Linux");
                put(b, "browser", "Firefox 128.0");
                b.extend_from_slice(
                    b"\"isCompliant\":false,\"isManaged\":false,\"trustType\":\"\"},",
                );
            }
        }
        b.extend_from_slice(b"\"location\":{");
        put(b, "city", place.city);
        put(b, "state", place.state);
        put(b, "countryOrRegion", place.country);
        b.extend_from_slice(b"\"geoCoordinates\":{\"latitude\":");
        push_coordinate(b, place.lat);
        b.extend_from_slice(b",\"longitude\":");
        push_coordinate(b, place.lon);
        b.extend_from_slice(b"}}");
        if requirement == "multiFactorAuthentication" {
            b.extend_from_slice(
                b",\"mfaDetail\":{\"authMethod\":\"Mobile app notification\",\"authDetail\":null}",
            );
        }
        b.extend_from_slice(b"}\n");
        self.out.write_all(b)?;
        self.records += 1;
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<(PathBuf, u64)> {
        self.out.flush()?;
        Ok((self.path, self.records))
    }
}

/// A coordinate with four decimals, without float formatting's surprises.
fn push_coordinate(b: &mut Vec<u8>, value: f64) {
    let scaled = (value * 10_000.0).round() as i64;
    if scaled < 0 {
        b.push(b'-');
    }
    let abs = scaled.unsigned_abs();
    push_num(b, abs / 10_000);
    b.push(b'.');
    push_padded(b, abs % 10_000, 4);
}
