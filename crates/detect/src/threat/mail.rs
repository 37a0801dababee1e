//! Phishing, business e-mail compromise and PHI mailed to the wrong place, from whole
//! messages (the `email` decoder's events from `.eml` files and journal mailboxes, which carry
//! Authentication-Results, Reply-To, display names, attachments and body text).
//!
//! - Look-alike sender domains of the organisation's and its partners' domains: the same
//!   letters once confusable characters are folded (`rn`/`m`, `1`/`l`, Cyrillic `а`/`a`) and
//!   separators dropped (`wgh-example.org` for `wgh.example.org`), a word added
//!   (`medirx-supply-billing.com`), or one or two edits.
//! - Display names of executives on the roster used from outside the organisation.
//! - A Reply-To at a different, personal or look-alike domain.
//! - SPF/DKIM/DMARC failures recorded by the organisation's own gateway.
//! - Requests to change bank or payment details.
//! - PHI (MRNs, valid US SSNs, dates of birth) or attachments sent from the organisation to
//!   personal mailbox domains; matched text is masked in the alert.
//! - A link in mail from a newly seen sender domain, opened from a workstation: the web request
//!   shows in Zeek's `http.log` (host and URI), a web proxy's CEF log (`request`), or Zeek's
//!   `ssl.log` (the server name of an HTTPS link).
//!
//! Message traces and gateway logs carry no content and are not read here. Attachment
//! contents are not inspected: the decoder records each attachment's name, type and size only.
//!
//! # Newly seen domains and the links they send
//!
//! The detector remembers every inbound sender domain (its organisational part, `evil.example`
//! for `mail.evil.example`) with when it was first seen and how many messages it sent. A domain
//! is *new* when it was first seen within [`MailOptions::new_domain_ms`], has sent at most
//! [`MailOptions::new_domain_messages`] messages (a newsletter's morning run to hundreds of
//! subscribers makes it established within minutes), is neither the organisation's nor a
//! partner's, and was first seen after the learning period: during the first
//! [`MailOptions::learning_ms`] of mail the detector sees, every domain is one the organisation
//! already corresponded with. The links of a new domain's messages are remembered for
//! [`MailOptions::link_ttl_ms`] with the message, sender and recipients. A web request to a
//! link's host from an internal address then raises one alert per message and requesting
//! address. So that a link to a popular site (a map, a social network in a signature) does not
//! make everyone browsing there a suspect, a host that web traffic had already shown before the
//! message arrived matches only the link's exact URL (which only clear-text HTTP or a proxy
//! log shows), never the host alone. All of it is bounded ([`MailDetector::state`]) and saved
//! between runs, since the message and the click often arrive in different files.

use std::sync::Arc;

use regex::Regex;
use serde::{Deserialize, Serialize};
use ward_model::event::class;
use ward_model::{AlertEntities, Event, EventId, Severity, Timestamp};

use super::inventory::Inventory;
use super::{
    DAY, Expiring, HOUR, MINUTE, Rule, TableStats, clock, day_of, duration, ip_of, plural,
    push_capped, unmapped_str,
};
use crate::{Detector, Finding};

const AWARENESS: &str = "164.308(a)(5)(ii)(B)";
const ACTIVITY_REVIEW: &str = "164.308(a)(1)(ii)(D)";
const TRANSMISSION: &str = "164.312(e)(1)";
const AUDIT_CONTROLS: &str = "164.312(b)";
const INCIDENT_PROCEDURES: &str = "164.308(a)(6)(ii)";

pub const LOOKALIKE_DOMAIN: Rule = Rule {
    id: "threat.mail.lookalike_domain",
    title: "Mail from a look-alike of a trusted domain",
    severity: Severity::High,
    attack: &["T1566", "T1656"],
    hipaa: &[AWARENESS, ACTIVITY_REVIEW],
};

pub const DISPLAY_NAME_IMPERSONATION: Rule = Rule {
    id: "threat.mail.display_name_impersonation",
    title: "Executive's name on mail from outside",
    severity: Severity::High,
    attack: &["T1656", "T1566"],
    hipaa: &[AWARENESS, ACTIVITY_REVIEW],
};

pub const REPLY_TO_MISMATCH: Rule = Rule {
    id: "threat.mail.reply_to_mismatch",
    title: "Replies diverted to another domain",
    severity: Severity::Medium,
    attack: &["T1566", "T1656"],
    hipaa: &[AWARENESS, ACTIVITY_REVIEW],
};

pub const AUTHENTICATION_FAILURE: Rule = Rule {
    id: "threat.mail.authentication_failure",
    title: "Inbound mail failed SPF/DKIM/DMARC",
    severity: Severity::Medium,
    attack: &["T1566"],
    hipaa: &[AWARENESS, AUDIT_CONTROLS],
};

pub const PAYMENT_CHANGE_REQUEST: Rule = Rule {
    id: "threat.mail.payment_change_request",
    title: "Request to change bank or payment details",
    severity: Severity::High,
    attack: &["T1656", "T1534"],
    hipaa: &[AWARENESS, ACTIVITY_REVIEW],
};

pub const PHI_TO_PERSONAL: Rule = Rule {
    id: "threat.mail.phi_to_personal",
    title: "PHI mailed to a personal mailbox",
    severity: Severity::High,
    attack: &["T1048.003"],
    hipaa: &[TRANSMISSION, ACTIVITY_REVIEW, "164.530(c)"],
};

pub const LINK_CLICKED: Rule = Rule {
    id: "threat.mail.link_clicked",
    title: "Link from a newly seen sender domain opened",
    severity: Severity::High,
    attack: &["T1566.002", "T1204.001"],
    hipaa: &[AWARENESS, INCIDENT_PROCEDURES, ACTIVITY_REVIEW],
};

/// Every rule this detector can raise.
pub const RULES: &[Rule] = &[
    LOOKALIKE_DOMAIN,
    DISPLAY_NAME_IMPERSONATION,
    REPLY_TO_MISMATCH,
    AUTHENTICATION_FAILURE,
    PAYMENT_CHANGE_REQUEST,
    PHI_TO_PERSONAL,
    LINK_CLICKED,
];

#[derive(Debug, Clone)]
pub struct MailOptions {
    /// The organisation's mail domains; empty: the domains of the inventory's host names.
    pub organisation_domains: Vec<String>,
    /// Free mailbox providers: mail to them leaves the organisation's control.
    pub personal_domains: Vec<String>,
    /// Medical record number formats, besides the built-in `MRN` followed by 6–10 digits.
    pub mrn_patterns: Vec<Regex>,
    /// How long after it was first seen a sender domain counts as new.
    pub new_domain_ms: i64,
    /// Messages after which a sender domain is established, however recently first seen.
    pub new_domain_messages: u32,
    /// Mail seen before this much time has passed since the first message (event time) only
    /// teaches the detector which domains the organisation already corresponds with.
    pub learning_ms: i64,
    /// How long a new domain's links are remembered after its message.
    pub link_ttl_ms: i64,
    /// Sender domains remembered (least recently seen forgotten first; forgotten after 90 days).
    pub max_domains: usize,
    /// Web hosts remembered as already visited (forgotten after 30 days unvisited).
    pub max_web_hosts: usize,
    /// Link hosts of new domains' messages remembered.
    pub max_link_hosts: usize,
}

impl Default for MailOptions {
    fn default() -> Self {
        MailOptions {
            organisation_domains: Vec::new(),
            personal_domains: [
                "gmail.com",
                "googlemail.com",
                "yahoo.com",
                "outlook.com",
                "hotmail.com",
                "live.com",
                "msn.com",
                "icloud.com",
                "me.com",
                "aol.com",
                "proton.me",
                "protonmail.com",
                "gmx.com",
                "mail.com",
                "zoho.com",
            ]
            .map(String::from)
            .to_vec(),
            mrn_patterns: Vec::new(),
            new_domain_ms: 7 * DAY,
            new_domain_messages: 20,
            learning_ms: DAY,
            link_ttl_ms: 72 * HOUR,
            max_domains: 50_000,
            max_web_hosts: 100_000,
            max_link_hosts: 20_000,
        }
    }
}

/// A sender domain: when first seen and how many messages it sent since.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Sender {
    first: Timestamp,
    messages: u32,
}

/// A message from a new domain carrying a link to one host.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Lure {
    host: String,
    /// The links to `host`, without scheme or fragment (`host/path?query`).
    urls: Vec<String>,
    /// The host had not been visited before the message came: a request for it is enough.
    unfamiliar: bool,
    message: EventId,
    message_uid: Option<String>,
    time: Timestamp,
    sender: String,
    domain: String,
    domain_first: Timestamp,
    recipients: Vec<String>,
    recipient_count: usize,
    /// Addresses already reported for this message.
    clicked: Vec<String>,
}

/// Messages remembered per link host, links per message and host, recipients named, and
/// requesting addresses reported per message: bounds, so one host or one campaign cannot grow
/// the state.
const LURES_PER_HOST: usize = 8;
const URLS_PER_LURE: usize = 4;
const LINKS_PER_MESSAGE: usize = 16;
const RECIPIENTS_KEPT: usize = 8;
const CLICKS_PER_LURE: usize = 16;
/// A request this long before the message's Date is still a click (clocks differ).
const CLOCK_SKEW: i64 = 5 * MINUTE;
/// How long a sender domain and a visited web host are remembered without being seen again.
const DOMAIN_TTL: i64 = 90 * DAY;
const WEB_HOST_TTL: i64 = 30 * DAY;

/// What [`MailDetector::save_state`] writes.
#[derive(Serialize, Deserialize)]
struct SavedState {
    version: u32,
    watching_since: Option<Timestamp>,
    domains: Vec<(String, Timestamp, Sender)>,
    web_hosts: Vec<(u64, Timestamp)>,
    lures: Vec<(Timestamp, Lure)>,
}

const STATE_VERSION: u32 = 1;

/// A domain worth imitating, prepared for comparison.
#[derive(Debug, Clone)]
struct Protected {
    domain: String,
    /// The domain without its top-level label, folded (`wghexample`).
    skeleton: String,
    whose: String,
}

pub struct MailDetector {
    inventory: Arc<Inventory>,
    organisation: Vec<String>,
    protected: Vec<Protected>,
    personal: Vec<String>,
    mrn: Vec<Regex>,
    ssn: Option<Regex>,
    date: Option<Regex>,
    payment: Option<Regex>,
    change: Option<Regex>,
    urgency: Option<Regex>,
    new_domain_ms: i64,
    new_domain_messages: u32,
    learning_ms: i64,
    link_ttl_ms: i64,
    /// Event time of the first message seen: the learning period runs from here.
    watching_since: Option<Timestamp>,
    domains: Expiring<String, Sender>,
    /// Hosts web traffic showed, by [`host_key`].
    web_hosts: Expiring<u64, ()>,
    /// New domains' messages by the [`host_key`] of the hosts they link to.
    lures: Expiring<u64, Vec<Lure>>,
}

impl MailDetector {
    pub fn new(inventory: Arc<Inventory>, options: MailOptions) -> Self {
        let mut organisation: Vec<String> = options
            .organisation_domains
            .iter()
            .map(|d| d.trim().to_ascii_lowercase())
            .filter(|d| !d.is_empty())
            .collect();
        if organisation.is_empty() {
            organisation = inventory.organisation_domains();
        }
        let mut protected: Vec<Protected> = organisation
            .iter()
            .map(|d| Protected {
                domain: d.clone(),
                skeleton: skeleton(core(d)),
                whose: "the organisation's domain".to_string(),
            })
            .collect();
        protected.extend(inventory.partners.iter().map(|p| Protected {
            domain: p.domain.clone(),
            skeleton: skeleton(core(&p.domain)),
            whose: if p.company.is_empty() {
                "a partner's domain".to_string()
            } else {
                format!("{}'s domain", p.company)
            },
        }));
        let mut mrn: Vec<Regex> = Regex::new(r"\bMRN[-: #]?\d{6,10}\b").into_iter().collect();
        mrn.extend(options.mrn_patterns);
        MailDetector {
            inventory,
            organisation,
            protected,
            personal: options.personal_domains,
            mrn,
            ssn: Regex::new(r"\b(\d{3})-(\d{2})-(\d{4})\b").ok(),
            date: Regex::new(r"\b(?:(?:19|20)\d\d-\d\d-\d\d|\d{1,2}/\d{1,2}/(?:19|20)\d\d)\b").ok(),
            payment: Regex::new(
                r"(?i)\b(bank(ing)? (details|account|information|arrangements)|new bank|account number|routing number|remittance details|wire (transfer|instructions)|iban|sort code|swift|payment details)\b",
            )
            .ok(),
            change: Regex::new(
                r"(?i)\b(new|updated?|chang(e|ed|ing)|moved|switch(ed)?|replace[ds]?)\b",
            )
            .ok(),
            urgency: Regex::new(r"(?i)\b(urgent(ly)?|immediately|today|asap|before (this|the) week|cannot take calls|confidential)\b").ok(),
            new_domain_ms: options.new_domain_ms.max(1),
            new_domain_messages: options.new_domain_messages.max(1),
            learning_ms: options.learning_ms.max(0),
            link_ttl_ms: options.link_ttl_ms.max(MINUTE),
            watching_since: None,
            domains: Expiring::new(options.max_domains, DOMAIN_TTL),
            web_hosts: Expiring::new(options.max_web_hosts, WEB_HOST_TTL),
            lures: Expiring::new(options.max_link_hosts, options.link_ttl_ms.max(MINUTE)),
        }
    }

    /// The tables of state this detector holds, with their caps and what they let go.
    pub fn state(&self) -> Vec<TableStats> {
        vec![
            self.domains.stats("sender_domains"),
            self.web_hosts.stats("web_hosts"),
            self.lures.stats("link_hosts"),
        ]
    }

    /// The organisation's own domains and its partners' are never new.
    fn is_known(&self, domain: &str) -> bool {
        self.protected.iter().any(|p| within(domain, &p.domain))
    }

    /// Counts a message from `domain` and, when the domain is new, remembers its links.
    fn note_sender(&mut self, event: &Event, from: &str, domain: &str) {
        let since = match self.watching_since {
            Some(t) if t <= event.time => t,
            _ => {
                self.watching_since = Some(event.time);
                event.time
            }
        };
        let base = organisational(domain).to_string();
        let sender = self.domains.touch(base.clone(), event.time, || Sender {
            first: event.time,
            messages: 0,
        });
        sender.first = Timestamp(sender.first.millis().min(event.time.millis()));
        sender.messages = sender.messages.saturating_add(1);
        let sender = *sender;
        let new = sender.first.millis() > since.millis().saturating_add(self.learning_ms)
            && event.time.millis() - sender.first.millis() <= self.new_domain_ms
            && sender.messages <= self.new_domain_messages
            && !self.is_known(domain);
        if !new {
            return;
        }
        let Some(links) = event.unmapped.get("links").and_then(|l| l.as_array()) else {
            return;
        };
        let cc = event.unmapped.get("cc").and_then(|c| c.as_array());
        let recipients: Vec<String> = event
            .email
            .to
            .iter()
            .map(String::as_str)
            .chain(cc.into_iter().flatten().filter_map(|c| c.as_str()))
            .map(|r| r.trim().to_ascii_lowercase())
            .collect();
        let mut by_host: Vec<(String, Vec<String>)> = Vec::new();
        for link in links
            .iter()
            .filter_map(|l| l.as_str())
            .take(LINKS_PER_MESSAGE)
        {
            let Some((host, url)) = split_url(link) else {
                continue;
            };
            if self.is_known(&host) {
                continue;
            }
            match by_host.iter_mut().find(|(h, _)| *h == host) {
                Some((_, urls)) => {
                    if urls.len() < URLS_PER_LURE && !urls.contains(&url) {
                        urls.push(url);
                    }
                }
                None => by_host.push((host, vec![url])),
            }
        }
        for (host, urls) in by_host {
            let key = host_key(&host);
            let unfamiliar = self.web_hosts.get(&key, event.time).is_none();
            let lure = Lure {
                host,
                urls,
                unfamiliar,
                message: event.id,
                message_uid: event.email.message_uid.clone(),
                time: event.time,
                sender: from.to_string(),
                domain: base.clone(),
                domain_first: sender.first,
                recipients: recipients.iter().take(RECIPIENTS_KEPT).cloned().collect(),
                recipient_count: recipients.len(),
                clicked: Vec::new(),
            };
            let held = self.lures.touch(key, event.time, Vec::new);
            if !held.iter().any(|l| l.message == lure.message) {
                push_capped(held, lure, LURES_PER_HOST);
            }
        }
    }

    /// A web request (Zeek `http`, a proxy's CEF line) or TLS session (Zeek `ssl`): a click on
    /// a remembered link is reported; the host is remembered as visited.
    fn web_request(&mut self, event: &Event, out: &mut Vec<Finding>) {
        let Some((host, url)) = web_target(event) else {
            return;
        };
        let key = host_key(&host);
        let now = event.time;
        self.web_hosts.touch(key, now, || ());
        self.web_hosts.sweep(now);
        self.lures.sweep(now);
        let Some(src) = event.src_endpoint.ip.as_deref() else {
            return;
        };
        let Some(src_ip) = ip_of(Some(src)) else {
            return;
        };
        if !self.inventory.is_internal(src_ip) {
            return;
        }
        let Some(lures) = self.lures.get_mut(&key, now) else {
            return;
        };
        let src = src_ip.to_string();
        // The messages whose link this can be: in time, not yet reported for this address, and
        // either to a host no one visited before or for the exact link.
        let exact = |lure: &Lure| url.as_ref().is_some_and(|u| lure.urls.contains(u));
        let eligible: Vec<usize> = (0..lures.len())
            .filter(|&i| {
                let lure = &lures[i];
                lure.host == host
                    && now.millis() >= lure.time.millis() - CLOCK_SKEW
                    && now.millis() - lure.time.millis() <= self.link_ttl_ms
                    && (lure.unfamiliar || exact(lure))
                    && lure.clicked.len() < CLICKS_PER_LURE
                    && !lure.clicked.contains(&src)
            })
            .collect();
        // A campaign sends one message a recipient: a click is reported once, for the latest
        // message with this exact link (or to this host), naming how many others it may be.
        let Some(&chosen) = eligible
            .iter()
            .rev()
            .find(|&&i| exact(&lures[i]))
            .or_else(|| eligible.last())
        else {
            return;
        };
        for &i in &eligible {
            lures[i].clicked.push(src.clone());
        }
        let others = match eligible.len() - 1 {
            0 => String::new(),
            n => format!(
                "; {} from the same domain linked to this host",
                plural(n, "other message")
            ),
        };
        let lure = &lures[chosen];
        let workstation = self.inventory.asset(src_ip).map(|a| a.hostname.clone());
        let shown = match &url {
            Some(u) => u.clone(),
            None => format!("{host} (the TLS server name; the path is encrypted)"),
        };
        let novelty = match lure.time.millis() - lure.domain_first.millis() {
            0 => format!("that message was the first seen from {}", lure.domain),
            ago => format!(
                "{} was first seen {} before that message",
                lure.domain,
                duration(ago)
            ),
        };
        // The count, not the kept list, says how many there were (a restored state may hold
        // fewer names than its count).
        let recipients = match (lure.recipients.first(), lure.recipient_count) {
            (None, _) | (_, 0) => String::new(),
            (Some(first), 1) => format!(" to {first}"),
            (Some(first), n) => format!(" to {first} and {}", plural(n - 1, "other recipient")),
        };
        let message_id = lure
            .message_uid
            .as_deref()
            .map(|m| format!(" (Message-ID <{m}>)"))
            .unwrap_or_default();
        let by = workstation
            .as_deref()
            .map_or_else(|| src.clone(), |w| format!("{src} ({w})"));
        out.push(LINK_CLICKED.finding(
            &format!("{}|{src}", lure.message.to_hex()),
            day_of(lure.time),
            (lure.time, now),
            AlertEntities {
                sender: Some(lure.sender.clone()),
                recipient: lure.recipients.first().cloned(),
                src_ip: Some(src.clone()),
                dst_ip: event.dst_endpoint.ip.clone(),
                host: workstation.clone(),
                ..Default::default()
            },
            format!(
                "{by} requested {shown} at {}, {} after mail from {}{recipients}{message_id} linked to {host}; {novelty}{}{others}",
                clock(now),
                duration(now.millis() - lure.time.millis()),
                lure.sender,
                if lure.unfamiliar {
                    ", and no one here had visited the host before it"
                } else {
                    ""
                }
            ),
            vec![lure.message, event.id],
        ));
    }

    fn saved_state(&self) -> SavedState {
        SavedState {
            version: STATE_VERSION,
            watching_since: self.watching_since,
            domains: self
                .domains
                .entries()
                .map(|(k, t, v)| (k.clone(), t, *v))
                .collect(),
            web_hosts: self.web_hosts.entries().map(|(k, t, _)| (*k, t)).collect(),
            lures: self
                .lures
                .entries()
                .flat_map(|(_, t, list)| list.iter().map(move |l| (t, l.clone())))
                .collect(),
        }
    }

    fn restored_state(&mut self, mut state: SavedState) -> String {
        self.watching_since = match (self.watching_since, state.watching_since) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        state.domains.sort_by_key(|(_, t, _)| *t);
        state.web_hosts.sort_by_key(|(_, t)| *t);
        state.lures.sort_by_key(|(t, _)| *t);
        let counts = (
            state.domains.len(),
            state.web_hosts.len(),
            state.lures.len(),
        );
        for (domain, t, sender) in state.domains {
            *self.domains.touch(domain, t, || sender) = sender;
        }
        for (key, t) in state.web_hosts {
            self.web_hosts.touch(key, t, || ());
        }
        for (t, lure) in state.lures {
            let held = self.lures.touch(host_key(&lure.host), t, Vec::new);
            if !held
                .iter()
                .any(|l| l.message == lure.message && l.host == lure.host)
            {
                push_capped(held, lure, LURES_PER_HOST);
            }
        }
        format!(
            "{} sender domains, {} visited web hosts and {} remembered links taken back",
            counts.0, counts.1, counts.2
        )
    }

    fn is_organisation(&self, domain: &str) -> bool {
        self.organisation.iter().any(|o| within(domain, o))
    }

    /// The trusted domain `domain` imitates, and how.
    fn imitates(&self, domain: &str) -> Option<(&Protected, &'static str)> {
        if self.protected.iter().any(|p| within(domain, &p.domain)) {
            return None;
        }
        let candidate = skeleton(core(domain));
        self.protected.iter().find_map(|p| {
            if p.skeleton.len() < 5 {
                return None;
            }
            if candidate == p.skeleton {
                return Some((
                    p,
                    "the same name once look-alike characters and separators are folded",
                ));
            }
            if candidate.contains(&p.skeleton) {
                return Some((p, "the trusted name with a word added"));
            }
            let limit = if p.skeleton.len() >= 10 { 2 } else { 1 };
            (edit_distance(&candidate, &p.skeleton) <= limit)
                .then_some((p, "a misspelling of the trusted name"))
        })
    }

    fn inbound(&self, event: &Event, from: &str, domain: &str, out: &mut Vec<Finding>) {
        let day = day_of(event.time);
        let recipients = &event.email.to;
        let first_recipient = recipients.first().cloned();
        let entities = || AlertEntities {
            sender: Some(from.to_string()),
            recipient: first_recipient.clone(),
            src_ip: event.src_endpoint.ip.clone(),
            ..Default::default()
        };
        let to_text = match recipients.len() {
            0 => String::new(),
            1 => format!(" to {}", recipients[0]),
            n => format!(
                " to {} and {}",
                recipients[0],
                plural(n - 1, "other recipient")
            ),
        };
        let auth = |key: &str| {
            unmapped_str(event, key)
                .unwrap_or("none")
                .to_ascii_lowercase()
        };
        let (spf, dkim, dmarc) = (auth("auth.spf"), auth("auth.dkim"), auth("auth.dmarc"));
        let auth_text = format!("SPF {spf}, DKIM {dkim}, DMARC {dmarc}");
        let subject = event.email.subject.as_deref().unwrap_or("");
        let body = unmapped_str(event, "body_text").unwrap_or("");
        let text = format!("{subject}\n{body}");
        let imitation = self.imitates(domain);

        if let Some((p, how)) = imitation {
            out.push(LOOKALIKE_DOMAIN.finding(
                &format!("{domain}|{}", p.domain),
                day,
                (event.time, event.time),
                entities(),
                format!(
                    "mail from {from}{to_text}: {domain} imitates {} ({}): {how}; {auth_text}",
                    p.domain, p.whose
                ),
                vec![event.id],
            ));
        }
        let failed = dmarc == "fail"
            || (spf == "fail" && dkim != "pass")
            || spf == "softfail" && dkim == "fail";
        if failed {
            out.push(AUTHENTICATION_FAILURE.finding(
                domain,
                day,
                (event.time, event.time),
                entities(),
                format!(
                    "mail from {from}{to_text} failed authentication at the gateway ({auth_text}): the sending server is not authorised for {domain}"
                ),
                vec![event.id],
            ));
        }
        if let Some(reply_to) = unmapped_str(event, "reply_to") {
            let reply_domain = domain_of(reply_to);
            if !reply_domain.is_empty()
                && !within(&reply_domain, domain)
                && !within(domain, &reply_domain)
                && !self.is_organisation(&reply_domain)
            {
                let why = if self.personal.contains(&reply_domain) {
                    "a personal mailbox provider"
                } else {
                    "an unrelated domain"
                };
                out.push(REPLY_TO_MISMATCH.finding(
                    &format!("{domain}|{reply_domain}"),
                    day,
                    (event.time, event.time),
                    AlertEntities {
                        recipient: first_recipient.clone(),
                        sender: Some(from.to_string()),
                        src_ip: event.src_endpoint.ip.clone(),
                        ..Default::default()
                    },
                    format!(
                        "mail from {from}{to_text} asks for replies at {reply_to}, {why}, not the sender's {domain}"
                    ),
                    vec![event.id],
                ));
            }
        }
        if let (Some(payment), Some(change)) = (&self.payment, &self.change)
            && let Some(m) = payment.find(&text)
            && change.is_match(&text)
        {
            let mut signals: Vec<String> = Vec::new();
            if let Some((p, _)) = imitation {
                signals.push(format!("the sender's domain imitates {}", p.domain));
            }
            if let Some(reply_to) = unmapped_str(event, "reply_to")
                && !within(&domain_of(reply_to), domain)
            {
                signals.push(format!("replies go to {reply_to}"));
            }
            if self.urgency.as_ref().is_some_and(|u| u.is_match(&text)) {
                signals.push("it presses for urgency".to_string());
            }
            if failed {
                signals.push("it failed authentication".to_string());
            }
            // A partner's own notice of new details is possible; without any other sign of
            // deceit it is left to the people who pay the invoices.
            if !signals.is_empty() {
                out.push(PAYMENT_CHANGE_REQUEST.finding(
                    &format!("{domain}|{}", first_recipient.as_deref().unwrap_or("")),
                    day,
                    (event.time, event.time),
                    entities(),
                    format!(
                        "mail from {from}{to_text} asks to change payment details (\"{}\"): {}",
                        m.as_str(),
                        signals.join("; ")
                    ),
                    vec![event.id],
                ));
            }
        }
        if let Some(display) = unmapped_str(event, "from_display") {
            let display_norm = normalise_name(display);
            if let Some(exec) = self
                .inventory
                .staff
                .iter()
                .filter(|s| s.is_executive())
                .find(|s| !display_norm.is_empty() && normalise_name(&s.name) == display_norm)
            {
                out.push(DISPLAY_NAME_IMPERSONATION.finding(
                    &format!("{}|{domain}", exec.login),
                    day,
                    (event.time, event.time),
                    entities(),
                    format!(
                        "mail from {from}{to_text} uses the name of {} ({}), sent from outside the organisation",
                        exec.name, exec.role
                    ),
                    vec![event.id],
                ));
            }
        }
    }

    fn outbound(&self, event: &Event, from: &str, out: &mut Vec<Finding>) {
        let personal: Vec<&String> = event
            .email
            .to
            .iter()
            .filter(|r| {
                let d = domain_of(r);
                self.personal.contains(&d)
            })
            .collect();
        if personal.is_empty() {
            return;
        }
        let subject = event.email.subject.as_deref().unwrap_or("");
        let body = unmapped_str(event, "body_text").unwrap_or("");
        let text = format!("{subject}\n{body}");
        let mut found: Vec<String> = Vec::new();
        let mrns: Vec<&str> = self
            .mrn
            .iter()
            .flat_map(|r| r.find_iter(&text).map(|m| m.as_str()))
            .collect();
        if !mrns.is_empty() {
            found.push(format!(
                "{} ({})",
                plural(mrns.len(), "medical record number"),
                mrns.iter()
                    .take(3)
                    .map(|m| mask(m))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let ssns = self.ssn.as_ref().map_or(0, |r| {
            r.captures_iter(&text)
                .filter(|c| valid_ssn(&c[1], &c[2], &c[3]))
                .count()
        });
        if ssns > 0 {
            found.push(plural(ssns, "Social Security number"));
        }
        let lower = text.to_ascii_lowercase();
        if lower.contains("dob") || lower.contains("date of birth") || lower.contains("born") {
            let dates = self.date.as_ref().map_or(0, |r| r.find_iter(&text).count());
            match dates {
                0 => {}
                1 => found.push("1 date of birth".to_string()),
                n => found.push(format!("{n} dates of birth")),
            }
        }
        let attachments: Vec<String> = event
            .unmapped
            .get("attachments")
            .and_then(|v| v.as_array())
            .map(|list| {
                list.iter()
                    .filter_map(|a| {
                        let name = a.get("name")?.as_str()?;
                        let size = a.get("size").and_then(|s| s.as_u64()).unwrap_or(0);
                        Some(format!("{name} ({size} bytes)"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        if found.is_empty() && attachments.is_empty() {
            return;
        }
        let mut what = Vec::new();
        if !found.is_empty() {
            what.push(format!("the message names {}", found.join(", ")));
        }
        if !attachments.is_empty() {
            what.push(format!(
                "attached {} (contents not inspected)",
                attachments.join(", ")
            ));
        }
        let own = if personal.iter().any(|r| same_person(from, r)) {
            ", apparently the sender's own"
        } else {
            ""
        };
        let user = event.actor.user.name.clone();
        out.push(PHI_TO_PERSONAL.finding(
            &format!("{from}|{}", personal[0]),
            day_of(event.time),
            (event.time, event.time),
            AlertEntities {
                user,
                sender: Some(from.to_string()),
                recipient: Some(personal[0].clone()),
                ..Default::default()
            },
            format!(
                "{from} mailed {} at a personal mailbox provider{own}: {}",
                personal
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                what.join("; ")
            ),
            vec![event.id],
        ));
    }
}

impl Detector for MailDetector {
    fn name(&self) -> &str {
        "mail"
    }

    fn save_state(&self) -> Option<Vec<u8>> {
        if self.watching_since.is_none() && self.web_hosts.entries().next().is_none() {
            return None;
        }
        serde_json::to_vec(&self.saved_state()).ok()
    }

    fn restore_state(&mut self, state: &[u8]) -> Result<String, String> {
        let state: SavedState = serde_json::from_slice(state)
            .map_err(|e| format!("the saved mail state does not read: {e}"))?;
        if state.version != STATE_VERSION {
            return Err(format!(
                "the saved mail state is of version {}, this Ward reads {STATE_VERSION}",
                state.version
            ));
        }
        Ok(self.restored_state(state))
    }

    fn observe(&mut self, event: &Event, out: &mut Vec<Finding>) {
        if event.class_uid != class::EMAIL_ACTIVITY || event.metadata.product != "email" {
            self.web_request(event, out);
            return;
        }
        let Some(from) = event.email.from.as_deref() else {
            return;
        };
        let from = from.trim().to_ascii_lowercase();
        let domain = domain_of(&from);
        if domain.is_empty() {
            return;
        }
        if self.is_organisation(&domain) {
            self.outbound(event, &from, out);
        } else {
            self.inbound(event, &from, &domain, out);
            self.note_sender(event, &from, &domain);
            self.domains.sweep(event.time);
        }
    }
}

/// The part of a domain an organisation registers: the last two labels, or three under a
/// two-letter country code whose second level is generic (`example.co.uk`). A heuristic, not
/// the public suffix list: what matters is that one sender's subdomains count as one domain.
fn organisational(domain: &str) -> &str {
    let labels: Vec<&str> = domain.rsplitn(4, '.').collect();
    let keep = match labels.as_slice() {
        [tld, second, ..]
            if tld.len() == 2
                && matches!(
                    *second,
                    "co" | "com" | "net" | "org" | "gov" | "edu" | "ac" | "nhs"
                ) =>
        {
            3
        }
        _ => 2,
    };
    if labels.len() <= keep {
        return domain;
    }
    let cut: usize = labels[..keep].iter().map(|l| l.len() + 1).sum();
    &domain[domain.len() + 1 - cut..]
}

/// FNV-1a of a host name folded to lower case: the key of the host tables, stable across runs
/// and builds (it is saved), computed without allocating for every web request.
fn host_key(host: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in host.bytes() {
        hash ^= u64::from(b.to_ascii_lowercase());
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// A host name as compared: lower case, without port, user information or final dot.
fn clean_host(host: &str) -> Option<String> {
    let host = host.rsplit('@').next().unwrap_or(host);
    let host = if host.starts_with('[') {
        host.split_inclusive(']').next().unwrap_or(host)
    } else {
        host.split(':').next().unwrap_or(host)
    };
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty() && !host.contains(char::is_whitespace)).then_some(host)
}

/// A web URL's host and its comparable form (`host/path?query`: no scheme, no fragment, the
/// path `/` when empty); `None` for anything but `http(s)://` URLs with a host.
fn split_url(url: &str) -> Option<(String, String)> {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let rest = rest.split('#').next().unwrap_or(rest);
    let cut = rest.find(['/', '?']).unwrap_or(rest.len());
    let host = clean_host(&rest[..cut])?;
    let path = &rest[cut..];
    let path = if path.is_empty() || path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_string()
    };
    Some((host.clone(), format!("{host}{path}")))
}

/// The host a web event reached and, when the log shows it, the URL in [`split_url`]'s form:
/// HTTP activity (Zeek `http.log`: `host` and `uri`, which a proxy's traffic gives in absolute
/// form), a proxy's CEF line (`request`), a TLS session's server name (Zeek `ssl.log`).
fn web_target(event: &Event) -> Option<(String, Option<String>)> {
    if event.class_uid == class::HTTP_ACTIVITY {
        let uri = unmapped_str(event, "uri").unwrap_or("");
        if let Some((host, url)) = split_url(uri) {
            return Some((host, Some(url)));
        }
        let host = event
            .dst_endpoint
            .hostname
            .as_deref()
            .or_else(|| unmapped_str(event, "host"))
            .and_then(clean_host)?;
        if unmapped_str(event, "method") == Some("CONNECT") || uri.is_empty() {
            return Some((host, None));
        }
        let path = if uri.starts_with('/') {
            uri.to_string()
        } else {
            format!("/{uri}")
        };
        return Some((host.clone(), Some(format!("{host}{path}"))));
    }
    match event.metadata.product.as_str() {
        "zeek" if event.metadata.event_code.as_deref() == Some("ssl") => {
            let host = clean_host(event.dst_endpoint.hostname.as_deref()?)?;
            Some((host, None))
        }
        "cef" | "leef" => {
            let (host, url) = split_url(unmapped_str(event, "request")?)?;
            Some((host, Some(url)))
        }
        _ => None,
    }
}

fn domain_of(address: &str) -> String {
    let address = address.trim().trim_start_matches('<').trim_end_matches('>');
    address
        .rsplit_once('@')
        .map_or("", |(_, d)| d)
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

fn within(domain: &str, parent: &str) -> bool {
    domain == parent
        || domain
            .strip_suffix(parent)
            .is_some_and(|rest| rest.ends_with('.'))
}

/// The domain without its top-level label: `wgh.example.org` → `wgh.example`.
fn core(domain: &str) -> &str {
    domain.rsplit_once('.').map_or(domain, |(c, _)| c)
}

/// Folds characters people mistake for one another and drops separators, so that look-alikes
/// compare equal: `wgh.exarnple` and `wgh-example` both become `wghexample`.
fn skeleton(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        let c = match c {
            'а' | 'α' => 'a',
            'е' | 'ё' | 'ε' => 'e',
            'о' | 'ο' | '0' => 'o',
            'р' | 'ρ' => 'p',
            'с' | 'ϲ' => 'c',
            'у' | 'γ' => 'y',
            'х' | 'χ' => 'x',
            'і' | 'ı' | 'ι' | '1' | '!' | '|' | 'i' => 'l',
            'ј' => 'j',
            'ԁ' => 'd',
            'ɡ' => 'g',
            'ո' => 'n',
            'ν' => 'v',
            'ѕ' | '5' | '$' => 's',
            'ԝ' | 'ω' => 'w',
            'к' | 'κ' => 'k',
            'м' => 'm',
            'т' | 'τ' => 't',
            'в' => 'b',
            'н' => 'h',
            '-' | '.' | '_' => continue,
            c => c,
        };
        folded.push(c);
    }
    folded
        .replace("rn", "m")
        .replace("vv", "w")
        .replace("cl", "d")
}

/// Damerau-Levenshtein (optimal string alignment) distance, bounded by the inputs' lengths.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(256).collect();
    let b: Vec<char> = b.chars().take(256).collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = v;
        }
    }
    d[a.len() * width + b.len()]
}

/// `MRN1000123` → `MRN1******`: enough to recognise the format, not the patient.
fn mask(text: &str) -> String {
    let digits_from = text
        .find(|c: char| c.is_ascii_digit())
        .unwrap_or(text.len());
    let (prefix, rest) = text.split_at(digits_from);
    let mut chars = rest.chars();
    let first: String = chars.next().map(String::from).unwrap_or_default();
    format!("{prefix}{first}{}", "*".repeat(chars.count()))
}

/// SSA rules: no area 000, 666 or 900–999, no group 00, no serial 0000.
fn valid_ssn(area: &str, group: &str, serial: &str) -> bool {
    area != "000" && area != "666" && !area.starts_with('9') && group != "00" && serial != "0000"
}

fn normalise_name(name: &str) -> String {
    name.trim()
        .trim_matches('"')
        .split_whitespace()
        .map(|w| w.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `jack.ruiz@hospital.org` and `jack.ruiz86@outlook.com`: the local parts share the name.
fn same_person(a: &str, b: &str) -> bool {
    let letters = |s: &str| -> String {
        s.split('@')
            .next()
            .unwrap_or("")
            .chars()
            .filter(|c| c.is_ascii_alphabetic())
            .collect()
    };
    let (a, b) = (letters(a), letters(b));
    a.len() >= 4 && (a == b || b.starts_with(&a) || a.starts_with(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn detector() -> MailDetector {
        let inventory = Inventory::new()
            .with_assets(
                Inventory::parse_assets(
                    "hostname,ip,kind,model,zone\nehr-app01.wgh.example.org,10.20.0.10,server,ehr-application,ehr-servers\n",
                )
                .unwrap(),
            )
            .with_partners(
                Inventory::parse_partners(
                    "domain,company,kind,business_associate\n\
                     medirx-supply.com,MediRx Supply,pharmacy-supplier,yes\n\
                     northstar-reflab.com,Northstar Reference Laboratory,lab,yes\n\
                     bluecrest-healthplan.com,BlueCrest Health Plan,insurer,yes\n",
                )
                .unwrap(),
            )
            .with_staff(
                Inventory::parse_roster(
                    "login,name,department,role,hire_date,termination_date,status\n\
                     u1,Grace Whitman,ADMIN,Chief Executive Officer,2015-01-01,,active\n",
                )
                .unwrap(),
            );
        MailDetector::new(Arc::new(inventory), MailOptions::default())
    }

    fn mail(from: &str, to: &[&str], subject: &str, body: &str) -> Event {
        let mut e = Event::from_record(
            "email",
            Timestamp(1_794_096_000_000),
            format!("{from}{subject}{body}").into_bytes(),
        );
        e.class_uid = class::EMAIL_ACTIVITY;
        e.email.from = Some(from.into());
        e.email.to = to.iter().map(|s| s.to_string()).collect();
        e.email.subject = Some(subject.into());
        e.unmapped.insert("body_text", json!(body));
        for (k, v) in [
            ("auth.spf", "pass"),
            ("auth.dkim", "pass"),
            ("auth.dmarc", "pass"),
        ] {
            e.unmapped.insert(k, json!(v));
        }
        e
    }

    fn rules(det: &mut MailDetector, e: &Event) -> Vec<String> {
        let mut out = Vec::new();
        det.observe(e, &mut out);
        out.into_iter().map(|f| f.alert.rule_id).collect()
    }

    #[test]
    fn look_alikes_of_own_and_partner_domains() {
        let det = detector();
        for (domain, of) in [
            ("wgh-example.org", "wgh.example.org"),
            ("wgh.exarnple.org", "wgh.example.org"),
            ("wgh-example-support.org", "wgh.example.org"),
            ("wgh.example.com", "wgh.example.org"),
            ("medirxsupply.com", "medirx-supply.com"),
            ("medirx-supply-billing.com", "medirx-supply.com"),
            ("northstar-refiab.com", "northstar-reflab.com"),
            ("bluecrest-healthpian.com", "bluecrest-healthplan.com"),
            ("bluecrest-heathplan.com", "bluecrest-healthplan.com"),
            ("wgh.ехample.org", "wgh.example.org"),
        ] {
            assert_eq!(
                det.imitates(domain).map(|p| p.0.domain.as_str()),
                Some(of),
                "{domain}"
            );
        }
        for domain in [
            "wgh.example.org",
            "mail.wgh.example.org",
            "medirx-supply.com",
            "news.healthit-weekly.com",
            "mail.nursing-today.org",
            "lists.hospital-pharmacy-forum.org",
            "outlook.com",
            "example.net",
        ] {
            assert!(det.imitates(domain).is_none(), "{domain}");
        }
    }

    #[test]
    fn phishing_with_failed_authentication() {
        let mut det = detector();
        let mut e = mail(
            "it-support@wgh-example.org",
            &["karen.pena@wgh.example.org", "carl.baker@wgh.example.org"],
            "Action required: your password expires today",
            "confirm your password: https://login.wgh-example.org/owa/reset",
        );
        e.unmapped.insert("auth.spf", json!("fail"));
        e.unmapped.insert("auth.dkim", json!("none"));
        e.unmapped.insert("auth.dmarc", json!("fail"));
        assert_eq!(
            rules(&mut det, &e),
            [LOOKALIKE_DOMAIN.id, AUTHENTICATION_FAILURE.id]
        );
        let mut out = Vec::new();
        det.observe(&e, &mut out);
        assert_eq!(
            out[0].alert.description.as_deref().unwrap(),
            "mail from it-support@wgh-example.org to karen.pena@wgh.example.org and 1 other recipient: wgh-example.org imitates wgh.example.org (the organisation's domain): the same name once look-alike characters and separators are folded; SPF fail, DKIM none, DMARC fail"
        );
    }

    #[test]
    fn bank_change_from_a_partner_look_alike_with_reply_to_elsewhere() {
        let mut det = detector();
        let mut e = mail(
            "justin.graham@medirx-supply-billing.com",
            &["anna.brooks@wgh.example.org"],
            "URGENT: updated bank details for MediRx Supply invoices",
            "MediRx Supply has moved to a new bank. Routing number: 073354584",
        );
        e.unmapped
            .insert("reply_to", json!("justin.graham.accounts@outlook.com"));
        assert_eq!(
            rules(&mut det, &e),
            [
                LOOKALIKE_DOMAIN.id,
                REPLY_TO_MISMATCH.id,
                PAYMENT_CHANGE_REQUEST.id
            ]
        );
        // The real partner's remittance summary is none of these.
        let normal = mail(
            "nadia.wallace@bluecrest-healthplan.com",
            &["noah@wgh.example.org"],
            "Remittance advice 79396",
            "Please find this week's remittance summary for your records.",
        );
        assert!(rules(&mut det, &normal).is_empty());
    }

    #[test]
    fn executive_display_name_from_outside() {
        let mut det = detector();
        let mut e = mail(
            "grace.w.ceo@gmail.com",
            &["ap@wgh.example.org"],
            "quick favour",
            "are you at your desk?",
        );
        e.unmapped.insert("from_display", json!("Grace  Whitman"));
        assert_eq!(rules(&mut det, &e), [DISPLAY_NAME_IMPERSONATION.id]);
    }

    #[test]
    fn phi_to_a_personal_mailbox_is_reported_masked() {
        let mut det = detector();
        let body = mail(
            "jack.ruiz@wgh.example.org",
            &["jack.ruiz86@outlook.com"],
            "work list",
            "list for tomorrow\n\nMRN,Name,DOB\nMRN1000123,Ann Lee,1950-02-03\nMRN1000456,Bo Kim,1961-07-08\nSSN 123-45-6789 and 666-12-3456\n",
        );
        let mut out = Vec::new();
        det.observe(&body, &mut out);
        assert_eq!(out.len(), 1);
        let d = out[0].alert.description.as_deref().unwrap();
        assert_eq!(
            d,
            "jack.ruiz@wgh.example.org mailed jack.ruiz86@outlook.com at a personal mailbox provider, apparently the sender's own: the message names 2 medical record numbers (MRN1******, MRN1******), 1 Social Security number, 2 dates of birth"
        );
        assert!(!d.contains("1000123") && !d.contains("Ann Lee"));
        let mut attached = mail(
            "jack.ruiz@wgh.example.org",
            &["jack.ruiz86@outlook.com"],
            "work list",
            "finish at home",
        );
        attached.unmapped.insert(
            "attachments",
            json!([{"name": "patients.txt", "size": 232}]),
        );
        assert_eq!(rules(&mut det, &attached), [PHI_TO_PERSONAL.id]);
        // Work mail to a partner with PHI, and a personal note without PHI, are not reported.
        let partner = mail(
            "lab@wgh.example.org",
            &["orders@northstar-reflab.com"],
            "send-out",
            "MRN1000123",
        );
        assert!(rules(&mut det, &partner).is_empty());
        let note = mail(
            "jack.ruiz@wgh.example.org",
            &["jack@gmail.com"],
            "lunch",
            "see you at 12",
        );
        assert!(rules(&mut det, &note).is_empty());
    }

    #[test]
    fn helpers_do_not_panic_on_odd_input() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abcd", "abdc"), 1);
        assert_eq!(mask("MRN"), "MRN");
        assert_eq!(domain_of("no-at-sign"), "");
        assert_eq!(core("localhost"), "localhost");
        assert!(valid_ssn("123", "45", "6789") && !valid_ssn("900", "45", "6789"));
        let mut det = detector();
        let mut e = mail("@", &[], "", "");
        e.email.from = Some("\u{feff}@\u{202e}".into());
        assert!(rules(&mut det, &e).is_empty());
    }

    /// 2026-11-10T00:00Z: the day the detector first sees mail.
    const T0: i64 = 1_794_268_800_000;

    fn inbound(t: i64, from: &str, to: &[&str], links: &[&str]) -> Event {
        let mut e = mail(from, to, "A document was shared with you", "open it");
        e.time = Timestamp(t);
        e.id = EventId::of_record("email", e.time, format!("{from}{t}").as_bytes());
        e.email.message_uid = Some(format!("{t}@{}", domain_of(from)));
        if !links.is_empty() {
            e.unmapped.insert("links", json!(links));
        }
        e
    }

    fn web(t: i64, src: &str, host: &str, uri: Option<&str>) -> Event {
        let mut e =
            Event::from_record("zeek", Timestamp(t), format!("{src}{host}{t}").into_bytes());
        e.src_endpoint.ip = Some(src.into());
        e.dst_endpoint.ip = Some("185.159.82.14".into());
        e.dst_endpoint.hostname = Some(host.into());
        match uri {
            Some(uri) => {
                e.class_uid = class::HTTP_ACTIVITY;
                e.metadata.event_code = Some("http".into());
                e.unmapped.insert("method", json!("GET"));
                e.unmapped.insert("host", json!(host));
                e.unmapped.insert("uri", json!(uri));
            }
            None => {
                e.class_uid = class::NETWORK_ACTIVITY;
                e.metadata.event_code = Some("ssl".into());
                e.unmapped.insert("server_name", json!(host));
            }
        }
        e
    }

    /// A detector that has watched mail for two days: a partner wrote on the first morning.
    fn watching() -> MailDetector {
        let mut det = detector();
        let mut out = Vec::new();
        det.observe(
            &inbound(T0, "orders@medirx-supply.com", &["rx@wgh.example.org"], &[]),
            &mut out,
        );
        assert!(out.is_empty());
        det
    }

    fn findings(det: &mut MailDetector, e: &Event) -> Vec<Finding> {
        let mut out = Vec::new();
        det.observe(e, &mut out);
        out
    }

    #[test]
    fn link_from_a_new_domain_opened_raises_one_alert_per_message_and_address() {
        let mut det = watching();
        // Someone browsed to a map the day before the lure came.
        assert!(
            findings(
                &mut det,
                &web(T0 + DAY, "10.10.2.30", "www.google.com", Some("/"))
            )
            .is_empty()
        );
        let lure = inbound(
            T0 + 2 * DAY,
            "no-reply@fileshare-notice.com",
            &["karen.pena@wgh.example.org", "carl.baker@wgh.example.org"],
            &[
                "http://view.fileshare-notice.com/d/8f2a9c?u=kp#top",
                "https://www.google.com/maps/place/Springfield",
                "https://orders.medirx-supply.com/po/1",
            ],
        );
        assert!(
            findings(&mut det, &lure).is_empty(),
            "the message alone is no alert"
        );
        let click = web(
            T0 + 2 * DAY + 7 * MINUTE,
            "10.10.2.11",
            "view.fileshare-notice.com",
            Some("/d/8f2a9c?u=kp"),
        );
        let out = findings(&mut det, &click);
        assert_eq!(out.len(), 1);
        let alert = &out[0].alert;
        assert_eq!(alert.rule_id, LINK_CLICKED.id);
        assert_eq!(alert.severity, Severity::High);
        assert_eq!(alert.attack, ["T1566.002", "T1204.001"]);
        assert!(alert.hipaa.contains(&"164.308(a)(5)(ii)(B)".to_string()));
        assert!(alert.hipaa.contains(&"164.308(a)(6)(ii)".to_string()));
        assert_eq!(
            alert.entities.sender.as_deref(),
            Some("no-reply@fileshare-notice.com")
        );
        assert_eq!(
            alert.entities.recipient.as_deref(),
            Some("karen.pena@wgh.example.org")
        );
        assert_eq!(alert.entities.src_ip.as_deref(), Some("10.10.2.11"));
        assert_eq!(alert.entities.dst_ip.as_deref(), Some("185.159.82.14"));
        assert_eq!(out[0].events, [lure.id, click.id]);
        assert_eq!(
            alert.description.as_deref().unwrap(),
            "10.10.2.11 requested view.fileshare-notice.com/d/8f2a9c?u=kp at 2026-11-12 00:07 UTC, 7 min after mail from no-reply@fileshare-notice.com to karen.pena@wgh.example.org and 1 other recipient (Message-ID <1794441600000@fileshare-notice.com>) linked to view.fileshare-notice.com; that message was the first seen from fileshare-notice.com, and no one here had visited the host before it"
        );
        // The page's other requests from the same workstation are the same click.
        let form = web(
            T0 + 2 * DAY + 9 * MINUTE,
            "10.10.2.11",
            "view.fileshare-notice.com",
            Some("/d/8f2a9c/login"),
        );
        assert!(findings(&mut det, &form).is_empty());
        // Another workstation opening it is another alert.
        let other = web(
            T0 + 2 * DAY + HOUR,
            "10.10.3.12",
            "view.fileshare-notice.com",
            Some("/"),
        );
        let out = findings(&mut det, &other);
        assert_eq!(out.len(), 1);
        assert_ne!(out[0].alert.id, alert.id);
        // A host people visited before the message matches only the exact link.
        let maps = |uri| {
            web(
                T0 + 2 * DAY + 2 * HOUR,
                "10.10.2.40",
                "www.google.com",
                Some(uri),
            )
        };
        assert!(findings(&mut det, &maps("/search?q=weather")).is_empty());
        assert_eq!(
            findings(&mut det, &maps("/maps/place/Springfield")).len(),
            1
        );
        // The partner's portal is never a lure; nor is an address outside the organisation.
        assert!(
            findings(
                &mut det,
                &web(
                    T0 + 2 * DAY + HOUR,
                    "10.10.2.11",
                    "orders.medirx-supply.com",
                    Some("/po/1")
                )
            )
            .is_empty()
        );
        assert!(
            findings(
                &mut det,
                &web(
                    T0 + 2 * DAY + HOUR,
                    "198.51.100.9",
                    "view.fileshare-notice.com",
                    Some("/")
                )
            )
            .is_empty()
        );
        // After 72 hours the link is forgotten.
        assert!(
            findings(
                &mut det,
                &web(
                    T0 + 6 * DAY,
                    "10.10.4.4",
                    "view.fileshare-notice.com",
                    Some("/")
                )
            )
            .is_empty()
        );
    }

    #[test]
    fn https_link_opened_shows_as_a_tls_server_name_and_a_proxy_request() {
        let mut det = watching();
        let lure = inbound(
            T0 + 3 * DAY,
            "share@docs-secureview.com",
            &["anna.brooks@wgh.example.org"],
            &["https://docs.docs-secureview.com/d/1"],
        );
        assert!(findings(&mut det, &lure).is_empty());
        let tls = web(
            T0 + 3 * DAY + 3 * MINUTE,
            "10.10.5.5",
            "DOCS.docs-secureview.com",
            None,
        );
        let out = findings(&mut det, &tls);
        assert_eq!(out.len(), 1);
        assert!(out[0].alert.description.as_deref().unwrap().starts_with(
            "10.10.5.5 requested docs.docs-secureview.com (the TLS server name; the path is encrypted)"
        ));
        let mut proxy =
            Event::from_record("cef", Timestamp(T0 + 3 * DAY + 4 * MINUTE), b"cef".to_vec());
        proxy.src_endpoint.ip = Some("10.10.5.6".into());
        proxy
            .unmapped
            .insert("request", json!("https://docs.docs-secureview.com:443/d/1"));
        assert_eq!(findings(&mut det, &proxy).len(), 1);
    }

    #[test]
    fn established_domains_learning_and_old_links_raise_nothing() {
        let mut det = watching();
        let click = |t| {
            web(
                t,
                "10.10.2.11",
                "www.nursing-today.org",
                Some("/articles/1"),
            )
        };
        // Mail during the first day of watching teaches, it does not alarm.
        let early = inbound(
            T0 + HOUR,
            "updates@mail.nursing-today.org",
            &["a@wgh.example.org"],
            &["https://www.nursing-today.org/articles/1"],
        );
        assert!(findings(&mut det, &early).is_empty());
        assert!(findings(&mut det, &click(T0 + 2 * HOUR)).is_empty());
        // A newsletter that starts later sends to so many that it is established within minutes.
        for i in 0..25 {
            let e = inbound(
                T0 + 2 * DAY + i * 1000,
                "news@lists.healthit-digest.com",
                &["b@wgh.example.org"],
                &["http://healthit-digest.com/issue/9"],
            );
            assert!(findings(&mut det, &e).is_empty());
        }
        let late = web(
            T0 + 2 * DAY + HOUR,
            "10.10.2.12",
            "healthit-digest.com",
            Some("/issue/9"),
        );
        // Only the links of the first twenty messages, while the domain was new, were
        // remembered (eight of them, the cap per host), and one click is one alert, not eight.
        let out = findings(&mut det, &late);
        assert_eq!(out.len(), 1, "one click, one alert");
        assert!(
            out[0]
                .alert
                .description
                .as_deref()
                .unwrap()
                .ends_with("; 7 other messages from the same domain linked to this host"),
            "{:?}",
            out[0].alert.description
        );
        assert!(findings(&mut det, &late).is_empty());
        // Subdomains are the same sender: a later message from another subdomain is not new.
        let e = inbound(
            T0 + 20 * DAY,
            "x@mail2.healthit-digest.com",
            &["c@wgh.example.org"],
            &["http://other.example/x"],
        );
        assert!(findings(&mut det, &e).is_empty());
        assert!(
            findings(
                &mut det,
                &web(
                    T0 + 20 * DAY + MINUTE,
                    "10.10.2.13",
                    "other.example",
                    Some("/x")
                )
            )
            .is_empty()
        );
        assert_eq!(organisational("a.b.example.co.uk"), "example.co.uk");
        assert_eq!(
            organisational("mail.nursing-today.org"),
            "nursing-today.org"
        );
        assert_eq!(organisational("localhost"), "localhost");
    }

    #[test]
    fn urls_and_hosts_compare_without_scheme_port_case_or_fragment() {
        assert_eq!(
            split_url("HTTPS://User@View.Example.COM.:8443/d/1?x=Y#frag"),
            Some((
                "view.example.com".to_string(),
                "view.example.com/d/1?x=Y".to_string()
            ))
        );
        assert_eq!(
            split_url("http://example.org?q=1").map(|u| u.1),
            Some("example.org/?q=1".to_string())
        );
        assert_eq!(
            split_url("http://[2001:db8::1]:80/").map(|u| u.0),
            Some("[2001:db8::1]".to_string())
        );
        for odd in [
            "http://",
            "ftp://x.example/",
            "mailto:a@b.example",
            "",
            "http:// /x",
        ] {
            assert_eq!(split_url(odd), None, "{odd:?}");
        }
        assert_eq!(host_key("Example.ORG"), host_key("example.org"));
        assert_eq!(
            clean_host("login.example.com:443").as_deref(),
            Some("login.example.com")
        );
    }

    #[test]
    fn remembered_domains_and_links_are_saved_and_taken_back() {
        let mut det = watching();
        let lure = inbound(
            T0 + 2 * DAY,
            "no-reply@invoice-center.net",
            &["ap@wgh.example.org"],
            &["http://portal.invoice-center.net/i/77"],
        );
        assert!(findings(&mut det, &lure).is_empty());
        assert!(
            findings(
                &mut det,
                &web(T0 + 2 * DAY, "10.10.2.2", "www.cdc.gov", Some("/"))
            )
            .is_empty()
        );
        let saved = det.save_state().expect("state to save");
        let mut next = detector();
        let said = next.restore_state(&saved).unwrap();
        assert_eq!(
            said,
            "2 sender domains, 1 visited web hosts and 1 remembered links taken back"
        );
        let click = web(
            T0 + 2 * DAY + 5 * MINUTE,
            "10.10.2.11",
            "portal.invoice-center.net",
            Some("/i/77"),
        );
        assert_eq!(findings(&mut next, &click).len(), 1);
        assert!(findings(&mut next, &click).is_empty(), "reported once");
        assert!(
            next.restore_state(b"{")
                .unwrap_err()
                .contains("does not read")
        );
        let other_version =
            String::from_utf8(saved)
                .unwrap()
                .replacen("\"version\":1", "\"version\":9", 1);
        assert!(
            next.restore_state(other_version.as_bytes())
                .unwrap_err()
                .contains("version 9")
        );
        assert!(
            detector().save_state().is_none(),
            "nothing seen, nothing saved"
        );
    }

    #[test]
    fn state_stays_bounded_under_ten_million_hosts_and_domains() {
        let mut det = MailDetector::new(
            Arc::new(Inventory::new()),
            MailOptions {
                max_domains: 1_000,
                max_web_hosts: 1_000,
                max_link_hosts: 1_000,
                learning_ms: 0,
                ..MailOptions::default()
            },
        );
        let mut out = Vec::new();
        // Twenty thousand new domains, each with a link, through `observe` ...
        for i in 0..20_000i64 {
            let e = inbound(
                T0 + i * 1000,
                &format!("x@d{i}.example"),
                &["a@b.example"],
                &[&format!("http://h{i}.example/")],
            );
            det.observe(&e, &mut out);
        }
        // ... and ten million web hosts, keyed as `observe` keys them.
        for i in 0..10_000_000u64 {
            det.web_hosts.touch(i, Timestamp(T0 + 30 * DAY), || ());
        }
        assert!(out.is_empty());
        for table in det.state() {
            assert!(table.held <= table.cap, "{table:?}");
            assert!(table.evicted > 0, "{table:?}");
        }
        let hosts = det
            .state()
            .into_iter()
            .find(|t| t.table == "web_hosts")
            .unwrap();
        assert_eq!(
            hosts.held as u64 + hosts.evicted + hosts.expired,
            10_000_000
        );
    }
}
