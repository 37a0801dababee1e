//! The hospital's e-mail, four ways, from one compact [`Mail`] record: the journaling
//! mailbox `telemetry/mail.mbox` (every message in full: `From ` separator, RFC 5322 headers
//! with the `Received` chain, `Authentication-Results` with SPF/DKIM/DMARC verdicts,
//! `Message-ID`, MIME multipart/alternative text and HTML, attachments in base64), one `.eml`
//! file per incident message under `telemetry/eml/`, the Postfix mail gateway's log
//! `telemetry/maillog` (every message crossing the hospital's edge, in or out) and the
//! Exchange Online message trace `telemetry/m365-message-trace.csv` (`Get-MessageTraceV2 |
//! Export-Csv`, one row a recipient).
//!
//! Mail flows as in a hybrid tenant that keeps its own edge: mailboxes live in Exchange Online;
//! inbound mail reaches the on-premises gateway `mailgw01` first (its milters add
//! `Authentication-Results`) and is relayed to Exchange Online; outbound mail leaves Exchange
//! Online through a connector to the gateway (DLP and encryption) and then to the recipient's
//! MX. Internal mail never leaves Exchange Online, so the gateway does not log it.
//!
//! Every file is in time order: messages are handed over in time order, and the gateway's lines
//! (which follow a message by a second or two) wait in a small heap until their time comes.
//! Bodies never start a line with `From `, so the mbox needs no escaping. This module only
//! formats: who writes to whom is decided by `office` and the scenarios.

use crate::context::date;
use crate::directory::{
    Directory, EXO_INBOUND, EXO_OUTBOUND, EXO_SERVER, HOSPITAL_EGRESS, LOOKALIKES, MAIL_GATEWAY,
    MAIL_GATEWAY_FQDN, MAIL_GATEWAY_IP, MAIL_GATEWAY_PUBLIC, NEW_SENDERS, NEWSLETTERS, PARTNERS,
    PERSONAL_DOMAINS,
};
use crate::names::{FAMILY, GIVEN_FEMALE, GIVEN_MALE};
use crate::org::{HOSPITAL_NAME, Org};
use crate::rng::mix;
use crate::signal::{Ip, ip, ip_text, push_datetime, push_num, push_padded};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

/// Someone who sends or receives mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Staff(u32),
    /// A person at a partner (index into [`PARTNERS`]), named from the number.
    Partner(u8, u32),
    Newsletter(u8),
    /// A staff member's private mailbox at a free provider (index into [`PERSONAL_DOMAINS`]).
    Personal(u32, u8),
    /// Someone writing from a look-alike domain (index into [`LOOKALIKES`]), named from the
    /// number.
    Impostor(u8, u32),
    /// A service writing from a newly registered domain (index into [`NEW_SENDERS`]).
    Stranger(u8),
}

/// What a message is about; decides subject, body and attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// Colleagues about rosters, meetings, supplies.
    Memo,
    /// Routine business with a partner: orders, remittances, tickets, no patient data.
    Business,
    /// A patient's details sent to (or from) a business associate: a lab requisition, a prior
    /// authorisation.
    PartnerPhi,
    Newsletter,
    /// A credential phish: a password-expiry notice linking to the look-alike domain.
    Phish,
    /// Business e-mail compromise: a supplier's new bank details, urgent, replies elsewhere.
    BankChange,
    /// Patients' names, MRNs and birth dates sent to a personal mailbox.
    PhiHome,
    /// "A document was shared with you": a link to the sender's own new site, over HTTPS when
    /// `tls`, else clear-text HTTP.
    LinkLure {
        tls: bool,
    },
}

/// One message, as compact as a signal: everything else is derived from `id`.
#[derive(Debug, Clone, Copy)]
pub struct Mail {
    pub id: u64,
    pub from: Party,
    pub to: Party,
    /// Further recipients of the same message (`None` slots unused).
    pub cc: [Option<Party>; 3],
    pub topic: Topic,
    /// Patients named (PHI topics), drawn from `id`.
    pub patients: u8,
    pub attachment: bool,
    /// Also written alone as `telemetry/eml/*.eml`.
    pub sample: bool,
}

impl Mail {
    pub fn new(id: u64, from: Party, to: Party, topic: Topic) -> Mail {
        Mail {
            id,
            from,
            to,
            cc: [None; 3],
            topic,
            patients: 0,
            attachment: false,
            sample: false,
        }
    }

    pub fn recipients(&self) -> impl Iterator<Item = Party> + '_ {
        std::iter::once(self.to).chain(self.cc.iter().flatten().copied())
    }
}

/// The patients a message names: drawn from its id, distinct, real patients of the census.
pub fn patients_of(mail: &Mail, org: &Org) -> Vec<u32> {
    let n = org.patients.len() as u64;
    let mut out: Vec<u32> = Vec::with_capacity(mail.patients as usize);
    let mut k = 0u64;
    while out.len() < mail.patients as usize && k < 1000 {
        let p = (mix(mail.id ^ (k.wrapping_mul(0x9E37))) % n) as u32;
        k += 1;
        if org.patients[p as usize].deceased.is_none() && !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

pub fn mrn(patient: u32) -> String {
    format!("MRN{:07}", 1_000_000 + patient)
}

fn is_internal(p: Party) -> bool {
    matches!(p, Party::Staff(_))
}

/// Whether the message crosses the hospital's edge (and so the gateway logs it).
fn crosses_edge(mail: &Mail) -> bool {
    !is_internal(mail.from) || mail.recipients().any(|r| !is_internal(r))
}

/// A person's name from a number (partners' staff, impostors' personas).
fn persona(n: u32) -> (&'static str, &'static str) {
    let h = mix(n as u64);
    let given = if h & 1 == 0 {
        GIVEN_FEMALE[(h >> 8) as usize % GIVEN_FEMALE.len()]
    } else {
        GIVEN_MALE[(h >> 8) as usize % GIVEN_MALE.len()]
    };
    (given, FAMILY[(h >> 32) as usize % FAMILY.len()])
}

/// Display name and address.
pub fn party_address(p: Party, org: &Org, dir: &Directory) -> (String, String) {
    match p {
        Party::Staff(s) => {
            let st = &org.staff[s as usize];
            (format!("{} {}", st.given, st.family), dir.address(s))
        }
        Party::Partner(i, n) => {
            let (g, f) = persona(n);
            let domain = PARTNERS[i as usize].domain;
            (
                format!("{g} {f}"),
                format!(
                    "{}.{}@{domain}",
                    g.to_ascii_lowercase(),
                    f.to_ascii_lowercase()
                ),
            )
        }
        Party::Newsletter(i) => {
            let n = &NEWSLETTERS[i as usize];
            (n.name.to_string(), format!("{}@{}", n.from, n.domain))
        }
        Party::Personal(s, provider) => {
            let st = &org.staff[s as usize];
            (
                format!("{} {}", st.given, st.family),
                dir.personal(org, s, provider),
            )
        }
        Party::Stranger(i) => {
            let n = &NEW_SENDERS[i as usize];
            (n.name.to_string(), format!("{}@{}", n.mailbox, n.domain))
        }
        Party::Impostor(i, n) => {
            let l = &LOOKALIKES[i as usize];
            match l.imitates {
                None => (
                    "WGH IT Service Desk".into(),
                    format!("it-support@{}", l.domain),
                ),
                Some(_) => {
                    let (g, f) = persona(n);
                    (
                        format!("{g} {f}"),
                        format!(
                            "{}.{}@{}",
                            g.to_ascii_lowercase(),
                            f.to_ascii_lowercase(),
                            l.domain
                        ),
                    )
                }
            }
        }
    }
}

fn domain_of(address: &str) -> &str {
    address.rsplit('@').next().unwrap_or(address)
}

/// The sending MTA of an external party: host name and address.
fn sending_mta(p: Party) -> (String, Ip) {
    match p {
        Party::Partner(i, _) => {
            let partner = &PARTNERS[i as usize];
            (partner.mx.to_string(), partner.mx_ip)
        }
        Party::Newsletter(i) => {
            let n = &NEWSLETTERS[i as usize];
            (format!("mta{}.{}", 1 + i, n.domain), n.ip)
        }
        Party::Impostor(i, _) => {
            let l = &LOOKALIKES[i as usize];
            (l.mta.to_string(), l.mta_ip)
        }
        Party::Stranger(i) => {
            let n = &NEW_SENDERS[i as usize];
            (format!("mail.{}", n.domain), n.mta_ip)
        }
        Party::Personal(_, provider) => relay_of_personal(provider),
        Party::Staff(_) => (MAIL_GATEWAY_FQDN.to_string(), MAIL_GATEWAY_IP),
    }
}

fn relay_of_personal(provider: u8) -> (String, Ip) {
    match provider as usize % PERSONAL_DOMAINS.len() {
        0 => ("gmail-smtp-in.l.google.com".into(), ip(142, 250, 27, 26)),
        1 => ("mta7.am0.yahoodns.net".into(), ip(67, 195, 204, 72)),
        2 => (
            "outlook-com.olc.protection.outlook.com".into(),
            ip(52, 101, 68, 25),
        ),
        _ => ("mx01.mail.icloud.com".into(), ip(17, 57, 155, 23)),
    }
}

/// Where the gateway hands an outbound message for this recipient.
fn relay_for(p: Party) -> (String, Ip) {
    match p {
        Party::Partner(i, _) => {
            let partner = &PARTNERS[i as usize];
            (partner.mx.to_string(), partner.mx_ip)
        }
        Party::Personal(_, provider) => relay_of_personal(provider),
        other => sending_mta(other),
    }
}

/// The web link a message of `topic` from `from` carries, if any, built from the message's id
/// alone: the mail writer puts it in the message and the Zeek writer in the request of whoever
/// follows it, so both name the same URL. Partners link to their customer portals; a stranger
/// links to a document on its own site.
pub fn link_of(from: Party, topic: Topic, mail: u64) -> Option<String> {
    let h = mix(mail ^ 0xC0_47E7);
    match (from, topic) {
        (Party::Partner(i, _), Topic::Business) => {
            let partner = &PARTNERS[i as usize];
            let n = 10_000 + h % 90_000;
            let path = match i {
                0 => "pickup?id=",
                1 => "remittance/",
                2 => "po/PO-",
                3 => "tickets/",
                _ => "kb/article/",
            };
            Some(format!("http://{}/{path}{n}", partner.portal))
        }
        (Party::Stranger(i), Topic::LinkLure { tls }) => Some(format!(
            "{}://{}/d/{:012x}",
            if tls { "https" } else { "http" },
            NEW_SENDERS[i as usize].web_host,
            mix(mail ^ 0x11_4E) & 0xFFFF_FFFF_FFFF
        )),
        _ => None,
    }
}

/// `Mon, 02 Nov 2026 07:01:02 +0000`.
fn rfc5322_date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%a, %d %b %Y %H:%M:%S +0000").to_string())
        .unwrap_or_default()
}

/// `Mon Nov  2 07:01:02 2026` (asctime, as the mbox separator carries it).
fn asctime(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%a %b %e %H:%M:%S %Y").to_string())
        .unwrap_or_default()
}

/// `11/2/2026 7:01:02 AM`: how `Export-Csv` writes a DateTime in the en-US culture.
fn us_datetime(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%-m/%-d/%Y %-I:%M:%S %p").to_string())
        .unwrap_or_default()
}

/// Standard base64, wrapped at 76 characters (RFC 2045).
pub fn base64_lines(data: &[u8], out: &mut String) {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut col = 0;
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
        col += 4;
        if col == 76 {
            out.push('\n');
            col = 0;
        }
    }
    if col > 0 {
        out.push('\n');
    }
}

/// The text of a message: subject, plain body, HTML body, and an attachment.
struct Content {
    subject: String,
    text: String,
    links: Vec<String>,
    attachment: Option<(String, &'static str, Vec<u8>)>,
    reply_to: Option<String>,
}

const MEMO_SUBJECTS: [&str; 8] = [
    "Staffing for the weekend",
    "Updated hand hygiene audit results",
    "Supply room inventory",
    "Reminder: annual HIPAA training due",
    "Agenda for Thursday's huddle",
    "Holiday schedule requests",
    "New badge access procedure",
    "Parking lot resurfacing next week",
];

const MEMO_LINES: [&str; 8] = [
    "Could you take a look at the attached numbers before the meeting?",
    "Please remind your team that the form is due by the end of the week.",
    "We are short two people on the weekend rota, let me know if you can help.",
    "The policy committee approved the changes; they take effect on Monday.",
    "Thanks for covering yesterday, it made a real difference on the unit.",
    "The vendor will be on site Tuesday morning, expect some noise.",
    "I moved the huddle to 10:30 so night staff can join before they leave.",
    "Facilities asked everyone to use the east entrance while work is ongoing.",
];

fn content(mail: &Mail, org: &Org, dir: &Directory, time: i64) -> Content {
    let h = mix(mail.id ^ 0xC0_47E7);
    let (from_name, _) = party_address(mail.from, org, dir);
    let (to_name, to_addr) = party_address(mail.to, org, dir);
    let to_given = to_name.split(' ').next().unwrap_or("").to_string();
    let sign = |s: &mut String| {
        let _ = write!(s, "\n\nThanks,\n{from_name}");
        if let Party::Staff(st) = mail.from {
            let _ = write!(s, "\n{}\n{HOSPITAL_NAME}", org.dept_of(st).name);
        }
    };
    let mut links = Vec::new();
    let mut attachment = None;
    let mut reply_to = None;
    let (subject, mut text) = match mail.topic {
        Topic::Memo => {
            let subject = MEMO_SUBJECTS[(h % 8) as usize].to_string();
            let text = format!(
                "Hi {to_given},\n\n{}\n{}",
                MEMO_LINES[(h >> 8) as usize % 8],
                MEMO_LINES[(h >> 16) as usize % 8]
            );
            (subject, text)
        }
        Topic::Business => {
            let partner = match (mail.from, mail.to) {
                (Party::Partner(i, _), _) | (_, Party::Partner(i, _)) => i,
                _ => 0,
            };
            let n = 10_000 + h % 90_000;
            let (subject, line) = match partner {
                0 => (
                    format!("Courier pickup schedule, week {}", 1 + (h >> 20) % 52),
                    "Our courier will collect specimens at 10:00 and 16:00 as usual.",
                ),
                1 => (
                    format!("Remittance advice {n}"),
                    "Please find this week's remittance summary for your records.",
                ),
                2 => (
                    format!("Purchase order PO-{n}"),
                    "Confirming the order below for delivery to the main pharmacy dock.",
                ),
                3 => (
                    format!("PACS maintenance window, ticket {n}"),
                    "We will patch the archive on Sunday between 02:00 and 04:00.",
                ),
                _ => (
                    format!("Ticket {n}: EHR client update"),
                    "The client update is ready for your test environment.",
                ),
            };
            let mut line = line.to_string();
            if let Some(link) = link_of(mail.from, mail.topic, mail.id) {
                let _ = write!(line, "\nDetails are on our portal: {link}");
                links.push(link);
            }
            if mail.attachment {
                let pdf = format!(
                    "%PDF-1.4\n% {} document {n}\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
                    PARTNERS[partner as usize].company
                );
                attachment = Some((format!("{n}.pdf"), "application/pdf", pdf.into_bytes()));
            }
            (subject, format!("Hello {to_given},\n\n{line}"))
        }
        Topic::PartnerPhi => {
            let patients = patients_of(mail, org);
            let insurer = matches!(mail.to, Party::Partner(1, _));
            let mut text = format!(
                "Hello {to_given},\n\n{}\n",
                if insurer {
                    "Please review the prior authorization request below."
                } else {
                    "Requisition for the send-out test below; specimen leaves with today's courier."
                }
            );
            for &p in &patients {
                let pt = &org.patients[p as usize];
                let _ = write!(
                    text,
                    "\nPatient: {} {}, {}, DOB {}",
                    pt.given,
                    pt.family,
                    mrn(p),
                    date(pt.birth)
                );
            }
            let subject = if insurer {
                format!("Prior authorization request {}", 100_000 + h % 900_000)
            } else {
                format!("Send-out requisition {}", 100_000 + h % 900_000)
            };
            (subject, text)
        }
        Topic::Newsletter => {
            let n = match mail.from {
                Party::Newsletter(i) => &NEWSLETTERS[i as usize],
                _ => &NEWSLETTERS[0],
            };
            let issue = (time / 86_400_000) % 1000;
            links.push(format!("{}/{issue}", n.link));
            links.push(format!("{}/{issue}/top-stories", n.link));
            let text = format!(
                "{}, issue {issue}\n\nThis week: staffing models that work, a new sepsis bundle,\nand what regulators expect next year.\n\nRead the issue: {}\nTop stories: {}\n\nYou receive this because you subscribed with {to_addr}.",
                n.name, links[0], links[1]
            );
            return Content {
                subject: format!("{}: this week's issue", n.name),
                text,
                links,
                attachment: None,
                reply_to: None,
            };
        }
        Topic::Phish => {
            let lookalike = match mail.from {
                Party::Impostor(i, _) => &LOOKALIKES[i as usize],
                _ => &LOOKALIKES[0],
            };
            links.push(format!(
                "https://login.{}/owa/reset?user={}",
                lookalike.domain, to_addr
            ));
            let text = format!(
                "Dear {to_given},\n\nThe password for {to_addr} expires today. To keep access to\nyour mailbox and the EHR, confirm your password within 24 hours:\n\n{}\n\nAccounts not confirmed will be locked.\n\nIT Service Desk\n{HOSPITAL_NAME}",
                links[0]
            );
            return Content {
                subject: "Action required: your password expires today".into(),
                text,
                links,
                attachment: None,
                reply_to: None,
            };
        }
        Topic::LinkLure { .. } => {
            let sender = match mail.from {
                Party::Stranger(i) => &NEW_SENDERS[i as usize],
                _ => &NEW_SENDERS[0],
            };
            let link = link_of(mail.from, mail.topic, mail.id).unwrap_or_default();
            let document = match h % 4 {
                0 => "2027 benefits changes.pdf",
                1 => "Staff schedule revision.xlsx",
                2 => "Policy acknowledgement form.docx",
                _ => "Shared scan from copier.pdf",
            };
            let text = format!(
                "Hello {to_given},\n\nA document was shared with you: \"{document}\".\nOpen it before the link expires in 48 hours:\n\n{link}\n\n{}",
                sender.name
            );
            links.push(link);
            return Content {
                subject: format!("{}: \"{document}\" was shared with you", sender.name),
                text,
                links,
                attachment: None,
                reply_to: None,
            };
        }
        Topic::BankChange => {
            let partner = match mail.from {
                Party::Impostor(i, _) => LOOKALIKES[i as usize].imitates.unwrap_or(2),
                _ => 2,
            };
            let company = PARTNERS[partner as usize].company;
            let (g, f) = match mail.from {
                Party::Impostor(_, n) => persona(n),
                _ => ("Accounts", "Team"),
            };
            reply_to = Some(format!(
                "{}.{}.accounts@outlook.com",
                g.to_ascii_lowercase(),
                f.to_ascii_lowercase()
            ));
            let text = format!(
                "Hello {to_given},\n\nDue to an audit of our banking arrangements, {company} has moved to a new\nbank. Please update our remittance details before this week's payment run:\n\nBank: First Harbor Bank\nRouting number: 0{:08}\nAccount number: {:010}\n\nThis is urgent: payments to the old account will be returned and may delay\nyour next delivery. Please confirm by reply today, I am travelling and\ncannot take calls.\n\nRegards,\n{g} {f}\nAccounts Receivable, {company}",
                h % 100_000_000,
                (h >> 20) % 10_000_000_000
            );
            return Content {
                subject: format!("URGENT: updated bank details for {company} invoices"),
                text,
                links,
                attachment: None,
                reply_to,
            };
        }
        Topic::PhiHome => {
            let patients = patients_of(mail, org);
            let mut list = String::from("MRN,Name,DOB\n");
            for &p in &patients {
                let pt = &org.patients[p as usize];
                let _ = writeln!(
                    list,
                    "{},{} {},{}",
                    mrn(p),
                    pt.given,
                    pt.family,
                    date(pt.birth)
                );
            }
            let text = if mail.attachment {
                attachment = Some(("patients.txt".into(), "text/plain", list.into_bytes()));
                "sending this to myself to finish at home tonight".to_string()
            } else {
                format!("list for tomorrow, finishing at home\n\n{list}")
            };
            return Content {
                subject: "work list".into(),
                text,
                links,
                attachment,
                reply_to: None,
            };
        }
    };
    sign(&mut text);
    Content {
        subject,
        text,
        links,
        attachment,
        reply_to,
    }
}

/// Writes the four mail files.
pub struct MailWriter {
    directory: Directory,
    mbox_path: PathBuf,
    mbox: BufWriter<File>,
    messages: u64,
    eml_dir: PathBuf,
    samples: u64,
    log_path: PathBuf,
    log: BufWriter<File>,
    log_lines: u64,
    /// Gateway lines not yet due: (time, sequence, line).
    pending: BinaryHeap<Reverse<(i64, u64, Vec<u8>)>>,
    seq: u64,
    trace_path: PathBuf,
    trace: BufWriter<File>,
    trace_rows: u64,
    message: String,
    line: Vec<u8>,
}

const TRACE_HEADER: &str = "\"Received\",\"SenderAddress\",\"RecipientAddress\",\"Subject\",\"Status\",\"ToIP\",\"FromIP\",\"Size\",\"MessageId\",\"MessageTraceId\"";

impl MailWriter {
    pub fn create(dir: &std::path::Path, org: &Org) -> io::Result<Self> {
        let eml_dir = dir.join("eml");
        std::fs::create_dir_all(&eml_dir)?;
        let mbox_path = dir.join("mail.mbox");
        let log_path = dir.join("maillog");
        let trace_path = dir.join("m365-message-trace.csv");
        let mut trace = BufWriter::with_capacity(256 * 1024, File::create(&trace_path)?);
        writeln!(trace, "{TRACE_HEADER}")?;
        Ok(MailWriter {
            directory: Directory::new(org),
            mbox: BufWriter::with_capacity(1 << 20, File::create(&mbox_path)?),
            mbox_path,
            messages: 0,
            eml_dir,
            samples: 0,
            log: BufWriter::with_capacity(256 * 1024, File::create(&log_path)?),
            log_path,
            log_lines: 0,
            pending: BinaryHeap::new(),
            seq: 0,
            trace,
            trace_path,
            trace_rows: 0,
            message: String::with_capacity(8 * 1024),
            line: Vec::with_capacity(256),
        })
    }

    /// Writes the gateway's lines due before `limit`.
    fn flush_log(&mut self, limit: i64) -> io::Result<()> {
        while let Some(Reverse((t, _, _))) = self.pending.peek() {
            if *t > limit {
                break;
            }
            if let Some(Reverse((_, _, line))) = self.pending.pop() {
                self.log.write_all(&line)?;
                self.log_lines += 1;
            }
        }
        Ok(())
    }

    fn log_line(&mut self, time: i64, daemon: &str, pid: u32, text: &str) {
        let b = &mut self.line;
        b.clear();
        push_datetime(b, time);
        b.push(b'.');
        push_padded(b, time.rem_euclid(1000) as u64, 3);
        push_padded(b, (time.rem_euclid(1000) as u64 * 13) % 1000, 3);
        b.extend_from_slice(b"+00:00 ");
        b.extend_from_slice(MAIL_GATEWAY.as_bytes());
        b.extend_from_slice(b" postfix/");
        b.extend_from_slice(daemon.as_bytes());
        b.push(b'[');
        push_num(b, pid as u64);
        b.extend_from_slice(b"]: ");
        b.extend_from_slice(text.as_bytes());
        b.push(b'\n');
        self.seq += 1;
        self.pending.push(Reverse((time, self.seq, b.clone())));
    }

    pub fn write(&mut self, time: i64, mail: &Mail, org: &Org) -> io::Result<()> {
        self.flush_log(time)?;
        let dir = &self.directory;
        let (from_name, from_addr) = party_address(mail.from, org, dir);
        let recipients: Vec<(String, String, Party)> = mail
            .recipients()
            .map(|p| {
                let (n, a) = party_address(p, org, dir);
                (n, a, p)
            })
            .collect();
        let c = content(mail, org, dir, time);
        let from_domain = domain_of(&from_addr).to_string();
        let id_hex = format!("{:016x}", mix(mail.id ^ 0x3E55_A6E1));
        let message_id = match mail.from {
            Party::Staff(_) => format!("{}{}@{EXO_SERVER}", &EXO_SERVER[..13], id_hex),
            _ => format!("{id_hex}@{from_domain}"),
        };
        let queue_id = format!(
            "{}{:09X}",
            1 + mix(mail.id ^ 0x0F1E) % 9,
            mix(mail.id) & 0xF_FFFF_FFFF
        );
        let inbound = !is_internal(mail.from);
        let edge = crosses_edge(mail);
        let (mta, mta_ip) = sending_mta(mail.from);

        // The message.
        let m = &mut self.message;
        m.clear();
        let return_path = match mail.from {
            Party::Newsletter(i) => {
                format!("bounce-{}@{}", &id_hex[..8], NEWSLETTERS[i as usize].domain)
            }
            _ => from_addr.clone(),
        };
        let _ = writeln!(m, "Return-Path: <{return_path}>");
        if inbound {
            let _ = writeln!(
                m,
                "Received: from {MAIL_GATEWAY_FQDN} ({MAIL_GATEWAY_FQDN} [{}])\n\tby {EXO_SERVER} with ESMTPS id 15.20.8207.17;\n\t{}",
                ip_text(MAIL_GATEWAY_IP),
                rfc5322_date(time + 2_000)
            );
        }
        let (spf, dkim, dmarc) = match mail.topic {
            Topic::Phish => ("fail", "none", "fail"),
            _ => ("pass", "pass", "pass"),
        };
        let spf_ip = if inbound { mta_ip } else { MAIL_GATEWAY_PUBLIC };
        let _ = writeln!(
            m,
            "Authentication-Results: {MAIL_GATEWAY_FQDN};\n\tspf={spf} (domain of {return_path} {} {}) smtp.mailfrom={};\n\tdkim={dkim}{};\n\tdmarc={dmarc} (p={}) header.from={from_domain}",
            if spf == "pass" {
                "designates"
            } else {
                "does not designate"
            },
            ip_text(spf_ip),
            domain_of(&return_path),
            if dkim == "none" {
                " (no signature)".to_string()
            } else {
                format!(" header.d={from_domain}")
            },
            if dmarc == "fail" {
                "quarantine"
            } else {
                "none"
            }
        );
        if inbound {
            let _ = writeln!(
                m,
                "Received: from {mta} ({mta} [{}])\n\tby {MAIL_GATEWAY_FQDN} (Postfix) with ESMTPS id {queue_id}\n\tfor <{}>; {}",
                ip_text(mta_ip),
                recipients[0].1,
                rfc5322_date(time + 1_000)
            );
        } else {
            let _ = writeln!(
                m,
                "Received: from {EXO_SERVER} ([fe80::5c1a:2b3:9d4e:71f0]) by\n\t{EXO_SERVER} ([fe80::5c1a:2b3:9d4e:71f0]) with mapi id\n\t15.20.8207.17; {}",
                rfc5322_date(time)
            );
        }
        if dkim != "none" {
            let _ = writeln!(
                m,
                "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={from_domain}; s=selector1;\n\th=From:To:Subject:Date:Message-ID; bh={}=;\n\tb={}{}",
                &format!("{:016x}{:016x}", mix(mail.id ^ 1), mix(mail.id ^ 2))[..27],
                id_hex,
                &format!("{:016x}", mix(mail.id ^ 3))
            );
        }
        let _ = writeln!(m, "From: \"{from_name}\" <{from_addr}>");
        let _ = write!(m, "To: ");
        for (i, (name, addr, _)) in recipients.iter().enumerate() {
            if i > 0 {
                m.push_str(",\n\t");
            }
            let _ = write!(m, "\"{name}\" <{addr}>");
        }
        m.push('\n');
        if let Some(reply_to) = &c.reply_to {
            let _ = writeln!(m, "Reply-To: <{reply_to}>");
        }
        let _ = writeln!(m, "Subject: {}", c.subject);
        let _ = writeln!(m, "Date: {}", rfc5322_date(time));
        let _ = writeln!(m, "Message-ID: <{message_id}>");
        if matches!(mail.topic, Topic::Newsletter) {
            let _ = writeln!(
                m,
                "List-Unsubscribe: <{}/unsubscribe?id={}>",
                c.links[0],
                &id_hex[..12]
            );
        }
        if matches!(mail.from, Party::Staff(_)) {
            let _ = writeln!(m, "X-Mailer: Microsoft Outlook 16.0");
        }
        m.push_str("MIME-Version: 1.0\n");
        let alt = format!("alt_{id_hex}");
        let mixed = format!("mix_{id_hex}");
        if c.attachment.is_some() {
            let _ = writeln!(
                m,
                "Content-Type: multipart/mixed; boundary=\"{mixed}\"\n\nThis is a multi-part message in MIME format.\n\n--{mixed}"
            );
        }
        let _ = writeln!(
            m,
            "Content-Type: multipart/alternative; boundary=\"{alt}\"\n\n--{alt}\nContent-Type: text/plain; charset=\"us-ascii\"\nContent-Transfer-Encoding: 7bit\n\n{}\n\n--{alt}\nContent-Type: text/html; charset=\"us-ascii\"\nContent-Transfer-Encoding: 7bit\n",
            c.text
        );
        m.push_str("<html><body>\n");
        for para in c.text.split("\n\n") {
            let mut html = para.replace('&', "&amp;").replace('<', "&lt;");
            for link in &c.links {
                if html.contains(link.as_str()) {
                    html = html.replace(link.as_str(), &format!("<a href=\"{link}\">{link}</a>"));
                }
            }
            let _ = writeln!(m, "<p>{}</p>", html.replace('\n', "<br>\n"));
        }
        m.push_str("</body></html>\n\n");
        let _ = writeln!(m, "--{alt}--");
        if let Some((name, ctype, data)) = &c.attachment {
            let _ = writeln!(
                m,
                "\n--{mixed}\nContent-Type: {ctype}; name=\"{name}\"\nContent-Disposition: attachment; filename=\"{name}\"\nContent-Transfer-Encoding: base64\n"
            );
            base64_lines(data, m);
            let _ = writeln!(m, "\n--{mixed}--");
        }
        let size = m.len();

        // The journal mailbox.
        let envelope = if return_path.is_empty() {
            "MAILER-DAEMON".to_string()
        } else {
            return_path.clone()
        };
        writeln!(self.mbox, "From {envelope} {}", asctime(time))?;
        self.mbox.write_all(self.message.as_bytes())?;
        self.mbox.write_all(b"\n")?;
        self.messages += 1;
        if mail.sample {
            let kind = match mail.topic {
                Topic::Phish => "phishing",
                Topic::BankChange => "bank-change",
                Topic::PhiHome => "phi-personal",
                Topic::LinkLure { .. } => "link-lure",
                _ => "message",
            };
            std::fs::write(
                self.eml_dir.join(format!("{kind}-{}.eml", &id_hex[..12])),
                self.message.as_bytes(),
            )?;
            self.samples += 1;
        }

        // The message trace: one row a recipient.
        let status = "Delivered";
        for (_, addr, party) in &recipients {
            let (to_ip, from_ip) = if inbound {
                (String::new(), ip_text(mta_ip))
            } else if is_internal(*party) {
                (String::new(), ip_text(HOSPITAL_EGRESS))
            } else {
                (ip_text(MAIL_GATEWAY_IP), ip_text(HOSPITAL_EGRESS))
            };
            writeln!(
                self.trace,
                "\"{}\",\"{from_addr}\",\"{addr}\",\"{}\",\"{status}\",\"{to_ip}\",\"{from_ip}\",\"{size}\",\"<{message_id}>\",\"{}\"",
                us_datetime(time),
                c.subject.replace('"', "\"\""),
                uuid(mail.id ^ mix(addr.len() as u64))
            )?;
            self.trace_rows += 1;
        }

        // The gateway, for mail crossing the edge.
        if edge {
            let (client, client_ip) = if inbound {
                (mta, mta_ip)
            } else {
                (EXO_OUTBOUND.0.to_string(), EXO_OUTBOUND.1)
            };
            let smtpd = 10_000 + (mix(mail.id ^ 7) % 50_000) as u32;
            let mut t = time + 600 + (mix(mail.id ^ 8) % 400) as i64;
            let client_text = format!("{client}[{}]", ip_text(client_ip));
            self.log_line(t, "smtpd", smtpd, &format!("connect from {client_text}"));
            t += 120;
            self.log_line(
                t,
                "smtpd",
                smtpd,
                &format!("{queue_id}: client={client_text}"),
            );
            t += 15;
            self.log_line(
                t,
                "cleanup",
                smtpd + 3,
                &format!("{queue_id}: message-id=<{message_id}>"),
            );
            t += 10;
            self.log_line(
                t,
                "qmgr",
                1187,
                &format!(
                    "{queue_id}: from=<{return_path}>, size={size}, nrcpt={} (queue active)",
                    recipients.len()
                ),
            );
            self.log_line(
                t + 40,
                "smtpd",
                smtpd,
                &format!(
                    "disconnect from {client_text} ehlo=2 starttls=1 mail=1 rcpt={} data=1 quit=1 commands={}",
                    recipients.len(),
                    6 + recipients.len()
                ),
            );
            let mut last = t;
            for (k, (_, addr, party)) in recipients.iter().enumerate() {
                let (relay, relay_ip) = if inbound {
                    (EXO_INBOUND.0.to_string(), EXO_INBOUND.1)
                } else if is_internal(*party) {
                    continue;
                } else {
                    relay_for(*party)
                };
                let took = 300 + (mix(mail.id ^ k as u64 ^ 9) % 1500) as i64;
                last = t + took;
                self.log_line(
                    last,
                    "smtp",
                    smtpd + 11 + k as u32,
                    &format!(
                        "{queue_id}: to=<{addr}>, relay={relay}[{}]:25, delay={:.1}, delays=0.1/0/0.{}/0.{}, dsn=2.0.0, status=sent (250 2.0.0 OK {})",
                        ip_text(relay_ip),
                        (last - time) as f64 / 1000.0,
                        1 + took % 5,
                        2 + took % 7,
                        &id_hex[..10]
                    ),
                );
            }
            self.log_line(last + 5, "qmgr", 1187, &format!("{queue_id}: removed"));
        }
        Ok(())
    }

    /// Writes what is left and closes the files: each with its number of records (messages,
    /// sample files, log lines, trace rows).
    pub fn finish(mut self) -> io::Result<Vec<(PathBuf, u64)>> {
        self.flush_log(i64::MAX)?;
        self.mbox.flush()?;
        self.log.flush()?;
        self.trace.flush()?;
        Ok(vec![
            (self.mbox_path, self.messages),
            (self.eml_dir, self.samples),
            (self.log_path, self.log_lines),
            (self.trace_path, self.trace_rows),
        ])
    }
}

/// A GUID-shaped identifier from a number (`8-4-4-4-12` hex).
pub fn uuid(n: u64) -> String {
    let a = mix(n ^ 0xA11CE);
    let b = mix(n ^ 0xB0B);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xFFFF,
        a & 0xFFF,
        0x8000 | (b >> 48) & 0x3FFF,
        b & 0xFFFF_FFFF_FFFF
    )
}
