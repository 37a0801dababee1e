//! Who the hospital corresponds with, and under which names: each staff member's e-mail
//! address (also their Entra ID user principal name), the partners of `context/partners.csv`
//! (laboratory, insurer, pharmacy supplier, imaging and EHR vendors, all business associates),
//! the newsletters staff subscribe to, the free mailbox providers staff use privately, the
//! look-alike domains incidents send from, the newly registered domains link lures come from,
//! and the places sign-ins come from.
//!
//! Addresses are built once from the organisation (one string a staff member), so writers and
//! scenarios name people identically. Nothing here draws random numbers or writes anything
//! but `partners.csv`.

use crate::context::Lines;
use crate::org::{DOMAIN, Org};
use crate::signal::{Ip, ip};
use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};

/// The public address the hospital's users reach the internet (and Microsoft 365) from.
pub const HOSPITAL_EGRESS: Ip = ip(203, 0, 113, 10);
/// The Postfix gateway: the hospital's MX and outbound smarthost (DLP and encryption).
pub const MAIL_GATEWAY: &str = "mailgw01";
pub const MAIL_GATEWAY_FQDN: &str = "mailgw01.wgh.example.org";
pub const MAIL_GATEWAY_IP: Ip = ip(10, 20, 0, 25);
pub const MAIL_GATEWAY_PUBLIC: Ip = ip(203, 0, 113, 25);
/// The Exchange Online mailbox server of the tenant and the address its connector uses.
pub const EXO_SERVER: &str = "DM6PR04MB4321.namprd04.prod.outlook.com";
pub const EXO_OUTBOUND: (&str, Ip) = (
    "mail-dm6nam10on2101.outbound.protection.outlook.com",
    ip(40, 107, 93, 101),
);
pub const EXO_INBOUND: (&str, Ip) = (
    "wgh-example-org.mail.protection.outlook.com",
    ip(52, 101, 41, 12),
);

/// A business the hospital exchanges mail with.
pub struct Partner {
    pub domain: &'static str,
    pub company: &'static str,
    /// `lab`, `insurer`, `pharmacy-supplier`, `imaging-vendor`, `ehr-vendor`.
    pub kind: &'static str,
    /// A business associate agreement covers PHI sent to it.
    pub business_associate: bool,
    pub mx: &'static str,
    pub mx_ip: Ip,
    /// The partner's customer portal, which its mail links to. Clear-text HTTP: the legacy
    /// portals of healthcare suppliers still are, and so Zeek's `http.log` shows their use.
    pub portal: &'static str,
    pub portal_ip: Ip,
}

pub const PARTNERS: [Partner; 5] = [
    Partner {
        domain: "northstar-reflab.com",
        company: "Northstar Reference Laboratory",
        kind: "lab",
        business_associate: true,
        mx: "mx1.northstar-reflab.com",
        mx_ip: ip(198, 18, 40, 21),
        portal: "track.northstar-reflab.com",
        portal_ip: ip(198, 18, 40, 80),
    },
    Partner {
        domain: "bluecrest-healthplan.com",
        company: "BlueCrest Health Plan",
        kind: "insurer",
        business_associate: true,
        mx: "mail.bluecrest-healthplan.com",
        mx_ip: ip(198, 18, 52, 7),
        portal: "providers.bluecrest-healthplan.com",
        portal_ip: ip(198, 18, 52, 80),
    },
    Partner {
        domain: "medirx-supply.com",
        company: "MediRx Supply",
        kind: "pharmacy-supplier",
        business_associate: true,
        mx: "mx.medirx-supply.com",
        mx_ip: ip(198, 18, 77, 140),
        portal: "orders.medirx-supply.com",
        portal_ip: ip(198, 18, 77, 80),
    },
    Partner {
        domain: "clearview-imaging.com",
        company: "ClearView Imaging",
        kind: "imaging-vendor",
        business_associate: true,
        mx: "smtp.clearview-imaging.com",
        mx_ip: ip(198, 18, 90, 12),
        portal: "status.clearview-imaging.com",
        portal_ip: ip(198, 18, 90, 80),
    },
    Partner {
        domain: "meridian-ehr.com",
        company: "Meridian EHR Support",
        kind: "ehr-vendor",
        business_associate: true,
        mx: "mx01.meridian-ehr.com",
        mx_ip: ip(198, 18, 101, 33),
        portal: "support.meridian-ehr.com",
        portal_ip: ip(198, 18, 101, 80),
    },
];

pub const LAB: u8 = 0;
pub const INSURER: u8 = 1;
pub const PHARMACY: u8 = 2;
pub const IMAGING: u8 = 3;
pub const EHR_VENDOR: u8 = 4;

/// A newsletter: its sending address, its name, and where its links point.
pub struct Newsletter {
    pub from: &'static str,
    pub domain: &'static str,
    pub name: &'static str,
    pub link: &'static str,
    pub ip: Ip,
}

pub const NEWSLETTERS: [Newsletter; 3] = [
    Newsletter {
        from: "newsletter",
        domain: "news.healthit-weekly.com",
        name: "Health IT Weekly",
        link: "https://news.healthit-weekly.com/issues",
        ip: ip(198, 18, 120, 5),
    },
    Newsletter {
        from: "updates",
        domain: "mail.nursing-today.org",
        name: "Nursing Today",
        link: "https://www.nursing-today.org/articles",
        ip: ip(198, 18, 121, 44),
    },
    Newsletter {
        from: "bulletin",
        domain: "lists.hospital-pharmacy-forum.org",
        name: "Hospital Pharmacy Forum",
        link: "https://hospital-pharmacy-forum.org/bulletin",
        ip: ip(198, 18, 122, 9),
    },
];

/// Free mailbox providers: personal addresses, never business associates.
pub const PERSONAL_DOMAINS: [&str; 4] = ["gmail.com", "yahoo.com", "outlook.com", "icloud.com"];

/// A domain made to pass for the hospital's own or a partner's.
pub struct Lookalike {
    pub domain: &'static str,
    /// `None`: the hospital's own domain; else the partner index.
    pub imitates: Option<u8>,
    /// How it differs: `added-word`, `hyphenated`, `homoglyph`, `dropped-hyphen`.
    pub trick: &'static str,
    pub mta: &'static str,
    pub mta_ip: Ip,
}

pub const LOOKALIKES: [Lookalike; 7] = [
    Lookalike {
        domain: "wgh-example.org",
        imitates: None,
        trick: "hyphenated",
        mta: "mail.wgh-example.org",
        mta_ip: ip(185, 231, 154, 20),
    },
    Lookalike {
        domain: "wgh.exarnple.org",
        imitates: None,
        trick: "homoglyph",
        mta: "smtp.exarnple.org",
        mta_ip: ip(45, 148, 10, 77),
    },
    Lookalike {
        domain: "wgh-example-support.org",
        imitates: None,
        trick: "added-word",
        mta: "mx.wgh-example-support.org",
        mta_ip: ip(193, 42, 33, 18),
    },
    Lookalike {
        domain: "medirxsupply.com",
        imitates: Some(PHARMACY),
        trick: "dropped-hyphen",
        mta: "mail.medirxsupply.com",
        mta_ip: ip(104, 168, 44, 9),
    },
    Lookalike {
        domain: "medirx-supply-billing.com",
        imitates: Some(PHARMACY),
        trick: "added-word",
        mta: "smtp.medirx-supply-billing.com",
        mta_ip: ip(172, 93, 201, 66),
    },
    Lookalike {
        domain: "northstar-refiab.com",
        imitates: Some(LAB),
        trick: "homoglyph",
        mta: "mx.northstar-refiab.com",
        mta_ip: ip(23, 94, 12, 130),
    },
    Lookalike {
        domain: "bluecrest-healthpian.com",
        imitates: Some(INSURER),
        trick: "homoglyph",
        mta: "mail.bluecrest-healthpian.com",
        mta_ip: ip(66, 63, 187, 12),
    },
];

/// A domain registered days before it sends a link lure: it imitates no one and its mail
/// authenticates (SPF, DKIM and DMARC pass), so only its novelty and what staff do with the
/// link give it away. Its mail server is `mail.` and the domain.
pub struct NewSender {
    pub domain: &'static str,
    /// The display name its messages carry and the service it pretends to be.
    pub name: &'static str,
    pub mailbox: &'static str,
    /// Where its links point, and that host's address.
    pub web_host: &'static str,
    pub web_ip: Ip,
    pub mta_ip: Ip,
}

/// Enough domains for a new one every week for longer than a detector remembers senders.
pub const NEW_SENDERS: [NewSender; 16] = [
    NewSender {
        domain: "fileshare-notice.com",
        name: "Secure Document Share",
        mailbox: "no-reply",
        web_host: "view.fileshare-notice.com",
        web_ip: ip(185, 159, 82, 14),
        mta_ip: ip(185, 159, 82, 10),
    },
    NewSender {
        domain: "invoice-center.net",
        name: "Invoice Center",
        mailbox: "notifications",
        web_host: "portal.invoice-center.net",
        web_ip: ip(91, 215, 85, 14),
        mta_ip: ip(91, 215, 85, 10),
    },
    NewSender {
        domain: "benefits-enroll.org",
        name: "Benefits Enrollment",
        mailbox: "enrollment",
        web_host: "www.benefits-enroll.org",
        web_ip: ip(141, 98, 6, 14),
        mta_ip: ip(141, 98, 6, 10),
    },
    NewSender {
        domain: "parcel-redelivery.com",
        name: "Parcel Redelivery",
        mailbox: "support",
        web_host: "track.parcel-redelivery.com",
        web_ip: ip(194, 26, 29, 14),
        mta_ip: ip(194, 26, 29, 10),
    },
    NewSender {
        domain: "docs-secureview.com",
        name: "SecureView Documents",
        mailbox: "share",
        web_host: "docs.docs-secureview.com",
        web_ip: ip(45, 86, 162, 14),
        mta_ip: ip(45, 86, 162, 10),
    },
    NewSender {
        domain: "e-signature-center.net",
        name: "eSignature Center",
        mailbox: "sign",
        web_host: "app.e-signature-center.net",
        web_ip: ip(193, 233, 48, 14),
        mta_ip: ip(193, 233, 48, 10),
    },
    NewSender {
        domain: "payroll-notices.org",
        name: "Payroll Notices",
        mailbox: "payroll",
        web_host: "www.payroll-notices.org",
        web_ip: ip(77, 91, 124, 14),
        mta_ip: ip(77, 91, 124, 10),
    },
    NewSender {
        domain: "voicemail-inbox.com",
        name: "Voicemail Inbox",
        mailbox: "voicemail",
        web_host: "play.voicemail-inbox.com",
        web_ip: ip(95, 164, 18, 14),
        mta_ip: ip(95, 164, 18, 10),
    },
    NewSender {
        domain: "cloudfax-delivery.net",
        name: "CloudFax Delivery",
        mailbox: "fax",
        web_host: "view.cloudfax-delivery.net",
        web_ip: ip(31, 184, 199, 14),
        mta_ip: ip(31, 184, 199, 10),
    },
    NewSender {
        domain: "staff-survey-online.com",
        name: "Staff Survey",
        mailbox: "survey",
        web_host: "www.staff-survey-online.com",
        web_ip: ip(162, 33, 177, 14),
        mta_ip: ip(162, 33, 177, 10),
    },
    NewSender {
        domain: "scan-to-email.net",
        name: "Scan Center",
        mailbox: "scanner",
        web_host: "files.scan-to-email.net",
        web_ip: ip(103, 151, 226, 14),
        mta_ip: ip(103, 151, 226, 10),
    },
    NewSender {
        domain: "hr-policy-update.com",
        name: "HR Policy Updates",
        mailbox: "hr",
        web_host: "docs.hr-policy-update.com",
        web_ip: ip(176, 97, 73, 14),
        mta_ip: ip(176, 97, 73, 10),
    },
    NewSender {
        domain: "meeting-invite-hub.com",
        name: "Meeting Invitations",
        mailbox: "calendar",
        web_host: "join.meeting-invite-hub.com",
        web_ip: ip(5, 181, 86, 14),
        mta_ip: ip(5, 181, 86, 10),
    },
    NewSender {
        domain: "securemsg-portal.net",
        name: "Secure Message Portal",
        mailbox: "securemail",
        web_host: "read.securemsg-portal.net",
        web_ip: ip(89, 185, 30, 14),
        mta_ip: ip(89, 185, 30, 10),
    },
    NewSender {
        domain: "expense-approvals.com",
        name: "Expense Approvals",
        mailbox: "approvals",
        web_host: "app.expense-approvals.com",
        web_ip: ip(147, 45, 112, 14),
        mta_ip: ip(147, 45, 112, 10),
    },
    NewSender {
        domain: "shared-drive-access.net",
        name: "Shared Drive",
        mailbox: "drive",
        web_host: "open.shared-drive-access.net",
        web_ip: ip(212, 192, 241, 14),
        mta_ip: ip(212, 192, 241, 10),
    },
];

/// A place sign-ins come from: city, state, ISO country, coordinates.
#[derive(Debug, Clone, Copy)]
pub struct Place {
    pub city: &'static str,
    pub state: &'static str,
    pub country: &'static str,
    pub lat: f64,
    pub lon: f64,
}

/// The hospital's own town (the first of the simulated cities).
pub const HOME_PLACE: Place = Place {
    city: "Millbrook",
    state: "New York",
    country: "US",
    lat: 41.7851,
    lon: -73.6940,
};

/// Where foreign sign-ins come from, with the addresses used from there.
pub const FOREIGN: [(Place, Ip); 4] = [
    (
        Place {
            city: "Moscow",
            state: "Moscow",
            country: "RU",
            lat: 55.7522,
            lon: 37.6156,
        },
        ip(91, 219, 236, 40),
    ),
    (
        Place {
            city: "Lagos",
            state: "Lagos",
            country: "NG",
            lat: 6.4541,
            lon: 3.3947,
        },
        ip(102, 89, 34, 7),
    ),
    (
        Place {
            city: "Bucharest",
            state: "Bucuresti",
            country: "RO",
            lat: 44.4323,
            lon: 26.1063,
        },
        ip(89, 38, 97, 150),
    ),
    (
        Place {
            city: "Amsterdam",
            state: "Noord-Holland",
            country: "NL",
            lat: 52.374,
            lon: 4.8897,
        },
        ip(185, 107, 56, 201),
    ),
];

/// Each staff member's mailbox name (`kathryn.torres`, or `kathryn.torres1174` when the name
/// is taken), in the hospital's domain.
pub struct Directory {
    local: Vec<Box<str>>,
}

impl Directory {
    pub fn new(org: &Org) -> Directory {
        let mut taken = HashSet::with_capacity(org.staff.len());
        let local = (0..org.staff.len() as u32)
            .map(|s| {
                let st = &org.staff[s as usize];
                let plain = format!(
                    "{}.{}",
                    st.given.to_ascii_lowercase(),
                    st.family.to_ascii_lowercase()
                );
                let name = if taken.contains(&plain) {
                    format!("{plain}{}", Org::login(s))
                } else {
                    plain
                };
                taken.insert(name.clone());
                name.into_boxed_str()
            })
            .collect();
        Directory { local }
    }

    pub fn local(&self, staff: u32) -> &str {
        &self.local[staff as usize]
    }

    /// `kathryn.torres@wgh.example.org`: the mailbox and the user principal name.
    pub fn address(&self, staff: u32) -> String {
        format!("{}@{DOMAIN}", self.local(staff))
    }

    pub fn push_address(&self, b: &mut Vec<u8>, staff: u32) {
        b.extend_from_slice(self.local(staff).as_bytes());
        b.push(b'@');
        b.extend_from_slice(DOMAIN.as_bytes());
    }

    /// A staff member's private mailbox at a free provider.
    pub fn personal(&self, org: &Org, staff: u32, provider: u8) -> String {
        let st = &org.staff[staff as usize];
        format!(
            "{}.{}{}@{}",
            st.given.to_ascii_lowercase(),
            st.family.to_ascii_lowercase(),
            crate::context::date(st.birth).get(2..4).unwrap_or("00"),
            PERSONAL_DOMAINS[provider as usize % PERSONAL_DOMAINS.len()]
        )
    }
}

/// `context/partners.csv`: `domain,company,kind,business_associate`.
pub fn write_partners(dir: &Path) -> io::Result<(PathBuf, u64)> {
    let mut lines = Lines::create(dir.join("partners.csv"))?;
    lines.line("domain,company,kind,business_associate", false)?;
    for p in &PARTNERS {
        lines.line(
            &format!(
                "{},{},{},{}",
                p.domain,
                p.company,
                p.kind,
                if p.business_associate { "yes" } else { "no" }
            ),
            true,
        )?;
    }
    lines.finish()
}
