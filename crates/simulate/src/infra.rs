//! Normal infrastructure behaviour, one simulated day at a time: the same staff on the same
//! duties and workstations as the EHR audit trail, seen by Windows (logon at shift start on
//! the workstation and on the EHR server, the EHR client and office programs started, logoff
//! at the end), by Zeek (DNS lookups, TLS sessions to the EHR, HL7 feeds inside the server
//! zone, DICOM from the modalities to the PACS, pumps and monitors talking only to their
//! servers and vendor cloud, guests browsing), and by the jump host's sshd (IT
//! administrators with sudo, clinicians on the VPN in the evening, vendors within their
//! contracted hours, internet scanners trying invalid user names all day).
//!
//! This is the background the network and credential detectors must earn their precision
//! against: mistyped passwords, NXDOMAINs and scanner noise happen here at realistic rates.
//! Every draw comes from a stream named by the day and the actor, so a day's traffic never
//! depends on another's. Nothing here does IO.

use crate::org::{DAY, Duty, Employment, HOUR, MINUTE, Org, Role, Shift};
use crate::rng::Rng;
use crate::signal::{
    Conn, DNS_SERVER, Ip, Name, Proto, Signals, SshWhat, Tls, Who, WinWhat, ip, parse_ip,
};

/// A vendor with remote access through the jump host, and its contract.
pub struct Vendor {
    pub account: &'static str,
    pub company: &'static str,
    pub source: Ip,
    /// Contracted hours, UTC, `[from, to)`.
    pub from_hour: i64,
    pub to_hour: i64,
    pub weekdays_only: bool,
    pub systems: &'static str,
}

/// The vendors of `context/vendors.csv`.
pub const VENDORS: [Vendor; 3] = [
    Vendor {
        account: "vnd-infusion",
        company: "MedInfuse Systems",
        source: ip(198, 51, 100, 24),
        from_hour: 8,
        to_hour: 18,
        weekdays_only: true,
        systems: "infusion-pump",
    },
    Vendor {
        account: "vnd-pacs",
        company: "ClearView Imaging",
        source: ip(198, 51, 100, 77),
        from_hour: 9,
        to_hour: 17,
        weekdays_only: true,
        systems: "pacs",
    },
    Vendor {
        account: "vnd-ehr",
        company: "Meridian EHR Support",
        source: ip(192, 0, 2, 140),
        from_hour: 6,
        to_hour: 20,
        weekdays_only: false,
        systems: "ehr-application",
    },
];

/// Internet services the hospital's devices and people reach, with the address DNS gives.
const SAAS: [(&str, Ip); 6] = [
    ("outlook.office365.com", ip(52, 96, 165, 18)),
    ("login.microsoftonline.com", ip(20, 190, 151, 68)),
    ("www.google.com", ip(142, 250, 72, 196)),
    ("www.youtube.com", ip(142, 250, 72, 206)),
    ("www.netflix.com", ip(54, 155, 178, 5)),
    ("api.weather.gov", ip(23, 56, 13, 170)),
];

/// The infusion pumps' vendor cloud (drug library and status reports).
pub const PUMP_CLOUD: (&str, Ip) = ("connect.medinfuse-cloud.net", ip(34, 117, 59, 81));

/// Names looked up that do not exist: WPAD probes and typos.
const NXDOMAINS: [&str; 4] = [
    "wpad.wgh.example.org",
    "ehr-app.wgh.example.org",
    "outlok.office365.com",
    "printer-2f.wgh.example.org",
];

/// User names internet scanners try on any sshd.
pub const SCANNER_USERS: [&str; 16] = [
    "admin",
    "test",
    "oracle",
    "ubuntu",
    "pi",
    "postgres",
    "user",
    "guest",
    "ftpuser",
    "git",
    "support",
    "deploy",
    "hadoop",
    "mysql",
    "nagios",
    "administrator",
];

/// Networks internet scanners come from (first two octets).
pub(crate) const SCANNER_NETS: [(u8, u8); 8] = [
    (45, 141),
    (61, 177),
    (103, 78),
    (141, 98),
    (179, 43),
    (185, 220),
    (218, 92),
    (222, 186),
];

/// The guest Wi-Fi's gateway, which also resolves names for guests.
pub const GUEST_GATEWAY: Ip = ip(172, 16, 0, 1);

/// The inventory's servers and device groups, found once.
pub struct Infra {
    pub ips: Vec<Ip>,
    pub ehr_app: u32,
    pub ehr_app2: u32,
    pub ehr_db: u32,
    pub hl7: u32,
    pub pacs: u32,
    pub dc: u32,
    pub pumps: Vec<u32>,
    pub monitors: Vec<u32>,
    pub modalities: Vec<u32>,
    pub analysers: Vec<u32>,
}

impl Infra {
    pub fn new(org: &Org) -> Infra {
        let find = |model: &str| {
            org.assets
                .iter()
                .position(|a| a.model == model)
                .unwrap_or(0) as u32
        };
        let all = |models: &[&str]| -> Vec<u32> {
            (0..org.assets.len() as u32)
                .filter(|&a| models.contains(&org.assets[a as usize].model))
                .collect()
        };
        let ehr_app = find("ehr-application");
        Infra {
            ips: org.assets.iter().map(|a| parse_ip(&a.ip)).collect(),
            ehr_app,
            ehr_app2: (0..org.assets.len() as u32)
                .find(|&a| a != ehr_app && org.assets[a as usize].model == "ehr-application")
                .unwrap_or(ehr_app),
            ehr_db: find("ehr-database"),
            hl7: find("hl7-interface-engine"),
            pacs: find("pacs"),
            dc: find("identity-provider"),
            pumps: all(&["infusion-pump"]),
            monitors: all(&["patient-monitor"]),
            modalities: all(&["ct-scanner", "mr-scanner", "x-ray", "ultrasound"]),
            analysers: all(&["lab-analyser"]),
        }
    }

    pub fn ip(&self, asset: u32) -> Ip {
        self.ips[asset as usize]
    }

    /// Every signal of normal work on simulated day `day` (0-based).
    pub fn day(&self, org: &Org, day: u32, out: &mut Signals) {
        let day_start = org.start + day as i64 * DAY;
        for staff in 0..org.staff.len() as u32 {
            if let Some(duty) = org.duty(staff, day) {
                let mut rng = Rng::stream(org.seed, &[0x1AF0, staff as u64, day as u64]);
                self.workstation_session(org, staff, duty, &mut rng, out);
                if org.staff[staff as usize].role == Role::It {
                    self.admin_work(org, staff, duty, &mut rng, out);
                }
            }
            self.remote_evening(org, staff, day, day_start, out);
        }
        self.vendors(org, day, day_start, out);
        self.scanners(org, day, day_start, out);
        self.devices(org, day, day_start, out);
        self.guests(org, day, day_start, out);
    }

    /// Windows logon, the EHR client and its TLS sessions, office programs, logoff.
    fn workstation_session(
        &self,
        org: &Org,
        staff: u32,
        duty: Duty,
        rng: &mut Rng,
        out: &mut Signals,
    ) {
        let st = &org.staff[staff as usize];
        let ws = duty.ws;
        let ws_ip = self.ip(ws);
        let who = Who::Staff(staff);
        let logon = 0x0010_0000 | (rng.next_u64() as u32 & 0x00FF_FFFF);
        let mut t = duty.start - rng.range(20_000, 90_000);
        if rng.chance(0.04) {
            let failed = WinWhat::LogonFailed {
                logon_type: 2,
                ip: None,
                port: 0,
                from: None,
            };
            out.win(t, ws, who, 0, failed);
            t += rng.range(5_000, 15_000);
        }
        let local = WinWhat::Logon {
            logon_type: 2,
            ip: None,
            port: 0,
            from: None,
        };
        out.win(t, ws, who, logon, local);
        if st.role == Role::It {
            out.win(t, ws, who, logon, WinWhat::SpecialPrivileges);
        }
        t += rng.range(15_000, 40_000);
        out.win(t, ws, who, logon, process(rng, EHR_CLIENT));
        let server_logon = logon ^ 0x00A5_5A00;
        let port = 49_152 + rng.below(16_000) as u16;
        let network = WinWhat::Logon {
            logon_type: 3,
            ip: Some(ws_ip),
            port,
            from: Some(ws),
        };
        out.win(t + 400, self.ehr_app, who, server_logon, network);
        out.lookup(
            t + 100,
            rng.next_u64(),
            ws_ip,
            DNS_SERVER,
            Name::Asset(self.ehr_app),
            Some(self.ip(self.ehr_app)),
        );
        // The EHR client holds a TLS session and reconnects now and then.
        let mut at = t + 200;
        let mut first = true;
        while at < duty.end {
            let length = rng.range(20 * MINUTE, 70 * MINUTE).min(duty.end - at);
            let tls = Tls::modern(Name::Asset(self.ehr_app), 0xE11, false, !first);
            let conn = tcp(
                rng.next_u64(),
                ws_ip,
                self.ip(self.ehr_app),
                443,
                "ssl",
                length,
                40_000 + rng.below(400_000) as u32,
                200_000 + rng.below(4_000_000) as u32,
            );
            out.tcp(at, conn, Some(tls));
            first = false;
            at += length + rng.range(1_000, 5 * MINUTE);
        }
        if st.personal_ws.is_some() {
            let later = t + rng.range(MINUTE, 5 * MINUTE);
            out.win(later, ws, who, logon, process(rng, OUTLOOK));
            let (name, addr) = SAAS[0];
            out.lookup(
                later + 300,
                rng.next_u64(),
                ws_ip,
                DNS_SERVER,
                Name::Fixed(name),
                Some(addr),
            );
            let conn = tcp(
                rng.next_u64(),
                ws_ip,
                addr,
                443,
                "ssl",
                (duty.end - later - MINUTE).max(MINUTE),
                300_000 + rng.below(2_000_000) as u32,
                2_000_000 + rng.below(20_000_000) as u32,
            );
            out.tcp(
                later + 400,
                conn,
                Some(Tls::modern(Name::Fixed(name), 0x365, true, false)),
            );
            if rng.chance(0.5) {
                let office = if rng.chance(0.5) { EXCEL } else { WORD };
                out.win(
                    later + rng.range(10 * MINUTE, 3 * HOUR),
                    ws,
                    who,
                    logon,
                    process(rng, office),
                );
            }
        }
        if rng.chance(0.2) {
            let name = *rng.pick(&NXDOMAINS);
            out.lookup(
                t + rng.range(MINUTE, HOUR),
                rng.next_u64(),
                ws_ip,
                DNS_SERVER,
                Name::Fixed(name),
                None,
            );
        }
        out.win(
            server_end(duty),
            self.ehr_app,
            who,
            server_logon,
            WinWhat::Logoff { logon_type: 3 },
        );
        out.win(
            duty.end + 5_000,
            ws,
            who,
            logon,
            WinWhat::Logoff { logon_type: 2 },
        );
    }

    /// IT administrators: an SSH session with sudo on the jump host, and now and then a new
    /// account created on the domain controller.
    fn admin_work(&self, org: &Org, staff: u32, duty: Duty, rng: &mut Rng, out: &mut Signals) {
        let from = self.ip(duty.ws);
        let who = Who::Staff(staff);
        let t = duty.start + rng.range(30 * MINUTE, 3 * HOUR);
        let commands = 1 + rng.below(3) as usize;
        let mut at = ssh_session(rng, out, t, who, from, "publickey", commands, |rng| {
            *rng.pick(&ADMIN_COMMANDS)
        });
        if rng.chance(0.35) {
            at += rng.range(10 * MINUTE, HOUR);
            let logon = 0x0020_0000 | (rng.next_u64() as u32 & 0x000F_FFFF);
            let port = 49_152 + rng.below(16_000) as u16;
            let rdp = WinWhat::Logon {
                logon_type: 10,
                ip: Some(from),
                port,
                from: Some(duty.ws),
            };
            out.win(at, self.dc, who, logon, rdp);
            out.win(at, self.dc, who, logon, WinWhat::SpecialPrivileges);
            // A new hire's account: the next numbers after the roster.
            let account = org.staff.len() as u32 + rng.below(400) as u32;
            at += rng.range(2 * MINUTE, 10 * MINUTE);
            out.win(at, self.dc, who, logon, WinWhat::UserCreated { account });
            at += rng.range(20_000, 2 * MINUTE);
            out.win(
                at,
                self.dc,
                who,
                logon,
                WinWhat::GroupMemberAdded {
                    account,
                    group: "Remote Desktop Users",
                },
            );
            at += rng.range(MINUTE, 5 * MINUTE);
            out.win(
                at,
                self.dc,
                who,
                logon,
                WinWhat::ExplicitCredentials {
                    account: "svc-backup",
                    server: self.ehr_db,
                },
            );
            out.win(
                at + rng.range(MINUTE, 10 * MINUTE),
                self.dc,
                who,
                logon,
                WinWhat::Logoff { logon_type: 10 },
            );
        }
    }

    /// Clinicians reading results from home over the VPN in the evening.
    fn remote_evening(&self, org: &Org, staff: u32, day: u32, day_start: i64, out: &mut Signals) {
        let st = &org.staff[staff as usize];
        if st.employment != Employment::Active
            || !matches!(st.role, Role::Physician | Role::Him)
            || st.shift == Shift::LongNight
        {
            return;
        }
        let mut rng = Rng::stream(org.seed, &[0x7E3, staff as u64, day as u64]);
        if !rng.chance(0.08) {
            return;
        }
        let t = day_start + rng.range(19 * HOUR, 23 * HOUR);
        let home = home_ip(org, staff);
        let mut at = t;
        if rng.chance(0.07) {
            let pid = 3000 + rng.below(60_000) as u32;
            let port = 40_000 + rng.below(25_000) as u16;
            out.ssh(
                at,
                SshWhat::PamAuthFailure,
                Who::Staff(staff),
                home,
                port,
                pid,
            );
            out.ssh(
                at + 2_000,
                SshWhat::Failed,
                Who::Staff(staff),
                home,
                port,
                pid,
            );
            at += rng.range(8_000, 30_000);
        }
        ssh_session(
            &mut rng,
            out,
            at,
            Who::Staff(staff),
            home,
            "password",
            0,
            |_| "",
        );
    }

    /// Vendors' support sessions, inside their contracted hours.
    fn vendors(&self, org: &Org, day: u32, day_start: i64, out: &mut Signals) {
        let weekday = (org.start_day + day as i64 + 3).rem_euclid(7);
        for (v, vendor) in VENDORS.iter().enumerate() {
            if vendor.weekdays_only && weekday >= 5 {
                continue;
            }
            let mut rng = Rng::stream(org.seed, &[0xBE4D, v as u64, day as u64]);
            if !rng.chance(0.6) {
                continue;
            }
            let t =
                day_start + rng.range(vendor.from_hour * HOUR, vendor.to_hour * HOUR - 2 * HOUR);
            let commands = rng.below(2) as usize;
            ssh_session(
                &mut rng,
                out,
                t,
                Who::Name(vendor.account),
                vendor.source,
                "publickey",
                commands,
                |_| "/usr/bin/systemctl status openvpn-server@vendor",
            );
        }
    }

    /// The internet's background of sshd scanning: common user names, a few tries each.
    fn scanners(&self, org: &Org, day: u32, day_start: i64, out: &mut Signals) {
        let mut rng = Rng::stream(org.seed, &[0x5CA7, day as u64]);
        let mut t = day_start;
        loop {
            t += (rng.exp(4.0 * 60.0) * 1000.0) as i64 + 1;
            if t >= day_start + DAY {
                break;
            }
            let (a, b) = *rng.pick(&SCANNER_NETS);
            let source = ip(a, b, rng.below(256) as u8, 1 + rng.below(254) as u8);
            let tries = 1 + rng.below(3);
            let mut at = t;
            for _ in 0..tries {
                let pid = 3000 + rng.below(60_000) as u32;
                let port = 30_000 + rng.below(35_000) as u16;
                if rng.chance(0.2) {
                    let root = Who::Name("root");
                    out.ssh(at, SshWhat::PamAuthFailure, root, source, port, pid);
                    out.ssh(at + 2_100, SshWhat::Failed, root, source, port, pid);
                    out.ssh(
                        at + 2_400,
                        SshWhat::ClosedAuthenticating,
                        root,
                        source,
                        port,
                        pid,
                    );
                } else {
                    let user =
                        Who::Name(SCANNER_USERS[rng.below(SCANNER_USERS.len() as u64) as usize]);
                    out.ssh(at, SshWhat::Invalid, user, source, port, pid);
                    out.ssh(at + 1_900, SshWhat::FailedInvalid, user, source, port, pid);
                    out.ssh(at + 2_200, SshWhat::ClosedInvalid, user, source, port, pid);
                }
                at += rng.range(3_000, 20_000);
            }
        }
    }

    /// Medical devices and servers talking to their peers, and nothing else.
    fn devices(&self, org: &Org, day: u32, day_start: i64, out: &mut Signals) {
        let end = day_start + DAY;
        let hl7 = self.ip(self.hl7);
        let pacs = self.ip(self.pacs);
        for &pump in &self.pumps {
            let mut rng = Rng::stream(org.seed, &[0xD1, pump as u64, day as u64]);
            let me = self.ip(pump);
            let mut t = day_start + rng.range(0, 30 * MINUTE);
            let mut first = true;
            while t < end {
                if first {
                    out.lookup(
                        t,
                        rng.next_u64(),
                        me,
                        DNS_SERVER,
                        Name::Fixed(PUMP_CLOUD.0),
                        Some(PUMP_CLOUD.1),
                    );
                }
                let conn = tcp(
                    rng.next_u64(),
                    me,
                    PUMP_CLOUD.1,
                    443,
                    "ssl",
                    rng.range(800, 4_000),
                    900 + rng.below(6_000) as u32,
                    600 + rng.below(3_000) as u32,
                );
                let tls = Tls::modern(Name::Fixed(PUMP_CLOUD.0), 0x9F, false, !first);
                out.tcp(t + 50, conn, Some(tls));
                first = false;
                t += rng.range(20 * MINUTE, 40 * MINUTE);
            }
        }
        for &monitor in &self.monitors {
            let mut rng = Rng::stream(org.seed, &[0xD2, monitor as u64, day as u64]);
            let me = self.ip(monitor);
            let mut t = day_start + rng.range(0, 10 * MINUTE);
            while t < end {
                let length = HOUR - rng.range(0, 5_000);
                let conn = tcp(
                    rng.next_u64(),
                    me,
                    hl7,
                    2575,
                    "",
                    length,
                    150_000 + rng.below(50_000) as u32,
                    8_000 + rng.below(2_000) as u32,
                );
                out.tcp(t, conn, None);
                t += length + rng.range(1_000, 10_000);
            }
        }
        for &analyser in &self.analysers {
            let mut rng = Rng::stream(org.seed, &[0xD3, analyser as u64, day as u64]);
            let me = self.ip(analyser);
            let mut t = day_start + rng.range(0, 20 * MINUTE);
            while t < end {
                let conn = tcp(
                    rng.next_u64(),
                    me,
                    hl7,
                    2575,
                    "",
                    rng.range(200, 2_000),
                    1_500 + rng.below(8_000) as u32,
                    120 + rng.below(200) as u32,
                );
                out.tcp(t, conn, None);
                t += rng.range(5 * MINUTE, 25 * MINUTE);
            }
        }
        for &modality in &self.modalities {
            let mut rng = Rng::stream(org.seed, &[0xD4, modality as u64, day as u64]);
            let me = self.ip(modality);
            let mean = match org.assets[modality as usize].model {
                "x-ray" => 30.0,
                "ultrasound" => 70.0,
                _ => 50.0,
            } * 60.0;
            let mut t = day_start + 7 * HOUR;
            loop {
                t += (rng.exp(mean) * 1000.0) as i64 + 1;
                if t >= day_start + 22 * HOUR {
                    break;
                }
                let size = 20_000_000 + rng.below(400_000_000) as u32;
                let conn = tcp(
                    rng.next_u64(),
                    me,
                    pacs,
                    104,
                    "",
                    (size / 40_000) as i64 + rng.range(500, 5_000),
                    size,
                    40_000 + rng.below(20_000) as u32,
                );
                out.tcp(t, conn, None);
            }
        }
        // The interface engine relays ADT and results to the EHR all day.
        let mut rng = Rng::stream(org.seed, &[0xD5, day as u64]);
        let ehr = self.ip(self.ehr_app);
        let mut t = day_start + rng.range(0, MINUTE);
        while t < end {
            let conn = tcp(
                rng.next_u64(),
                hl7,
                ehr,
                2575,
                "",
                rng.range(100, 1_500),
                2_000 + rng.below(20_000) as u32,
                200 + rng.below(800) as u32,
            );
            out.tcp(t, conn, None);
            t += rng.range(MINUTE, 4 * MINUTE);
        }
    }

    /// Patients' and visitors' phones on the guest Wi-Fi: the internet, never the hospital.
    fn guests(&self, org: &Org, day: u32, day_start: i64, out: &mut Signals) {
        let mut rng = Rng::stream(org.seed, &[0x6E57, day as u64]);
        let guests = 30 + org.staff.len() as u64 / 10;
        for _ in 0..guests {
            let me = ip(172, 16, 1 + rng.below(20) as u8, 2 + rng.below(250) as u8);
            let mut t = day_start + rng.range(7 * HOUR, 21 * HOUR);
            for _ in 0..1 + rng.below(4) {
                let (name, addr) = *rng.pick(&SAAS[2..]);
                out.lookup(
                    t,
                    rng.next_u64(),
                    me,
                    GUEST_GATEWAY,
                    Name::Fixed(name),
                    Some(addr),
                );
                let conn = tcp(
                    rng.next_u64(),
                    me,
                    addr,
                    443,
                    "ssl",
                    rng.range(5_000, 20 * MINUTE),
                    20_000 + rng.below(200_000) as u32,
                    500_000 + rng.below(50_000_000) as u32,
                );
                out.tcp(
                    t + 80,
                    conn,
                    Some(Tls::modern(Name::Fixed(name), addr as u64, true, false)),
                );
                t += rng.range(MINUTE, 30 * MINUTE);
            }
        }
    }
}

/// The Windows logoff on the EHR server comes with the end of the EHR session.
fn server_end(duty: Duty) -> i64 {
    duty.end + 1_000
}

/// A residential address for a staff member's home connection, stable across days.
/// The broadband networks staff connect from at home (first two octets, /16 each).
pub(crate) const HOME_NETS: [(u8, u8); 4] = [(73, 12), (98, 210), (24, 61), (71, 184)];

pub fn home_ip(org: &Org, staff: u32) -> Ip {
    let h = crate::rng::mix_all(org.seed, &[0x4053, staff as u64]);
    let (a, b) = HOME_NETS[(h % 4) as usize];
    ip(a, b, (h >> 8) as u8, 2 + ((h >> 16) % 250) as u8)
}

/// A TCP connection that completed normally.
#[allow(clippy::too_many_arguments)]
pub fn tcp(
    uid: u64,
    orig: Ip,
    resp: Ip,
    resp_p: u16,
    service: &'static str,
    duration_ms: i64,
    orig_bytes: u32,
    resp_bytes: u32,
) -> Conn {
    Conn {
        uid,
        orig,
        orig_p: 49_152 + (crate::rng::mix(uid) % 16_000) as u16,
        resp,
        resp_p,
        proto: Proto::Tcp,
        service,
        duration_ms: duration_ms.clamp(1, u32::MAX as i64) as u32,
        orig_bytes,
        resp_bytes,
        state: "SF",
        history: "ShADadFf",
    }
}

/// An SSH login with a PAM session, `commands` sudo commands, and the disconnect; returns
/// when it ended.
#[allow(clippy::too_many_arguments)]
pub fn ssh_session(
    rng: &mut Rng,
    out: &mut Signals,
    t: i64,
    who: Who,
    from: Ip,
    method: &'static str,
    commands: usize,
    mut command: impl FnMut(&mut Rng) -> &'static str,
) -> i64 {
    let pid = 3000 + rng.below(60_000) as u32;
    let port = 40_000 + rng.below(25_000) as u16;
    out.ssh(t, SshWhat::Accepted(method), who, from, port, pid);
    out.ssh(t + 40, SshWhat::SessionOpened, who, from, port, pid);
    let mut at = t;
    for _ in 0..commands {
        at += rng.range(MINUTE, 15 * MINUTE);
        let sudo_pid = pid + 1 + rng.below(500) as u32;
        out.ssh(at, SshWhat::Sudo(command(rng)), who, from, port, sudo_pid);
    }
    at += rng.range(5 * MINUTE, 50 * MINUTE);
    out.ssh(at, SshWhat::ReceivedDisconnect, who, from, port, pid);
    out.ssh(at + 10, SshWhat::Disconnected, who, from, port, pid);
    out.ssh(at + 20, SshWhat::SessionClosed, who, from, port, pid);
    at + 20
}

/// What IT administrators run with sudo on the jump host.
const ADMIN_COMMANDS: [&str; 5] = [
    "/usr/bin/systemctl restart openvpn-server@server",
    "/usr/bin/journalctl -u openvpn-server@server --since today",
    "/usr/bin/apt-get upgrade -y",
    "/usr/sbin/ufw status verbose",
    "/usr/bin/tail -n 200 /var/log/auth.log",
];

/// A program started on a Windows host: image, command line, parent.
pub type Program = (&'static str, &'static str, &'static str);

const EXPLORER: &str = r"C:\Windows\explorer.exe";
const EHR_CLIENT: Program = (
    r"C:\Program Files\Meridian\EHR Client\EHRClient.exe",
    r#""C:\Program Files\Meridian\EHR Client\EHRClient.exe" /server:ehr-app01.wgh.example.org"#,
    EXPLORER,
);
const OUTLOOK: Program = (
    r"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE",
    r#""C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE" "#,
    EXPLORER,
);
const EXCEL: Program = (
    r"C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE",
    r#""C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE" "#,
    EXPLORER,
);
const WORD: Program = (
    r"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE",
    r#""C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE" /n"#,
    EXPLORER,
);

/// A 4688 of `program` with a fresh process id.
pub fn process(rng: &mut Rng, program: Program) -> WinWhat {
    WinWhat::Process {
        image: program.0,
        command_line: program.1,
        parent: program.2,
        pid: 0x400 + (rng.below(0x4000) as u32) * 4,
    }
}
