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
//!
//! Message traces and gateway logs carry no content and are not read here. Attachment
//! contents are not inspected: the decoder records each attachment's name, type and size only.

use std::sync::Arc;

use regex::Regex;
use ward_model::event::class;
use ward_model::{AlertEntities, Event, Severity};

use super::inventory::Inventory;
use super::{Rule, day_of, plural, unmapped_str};
use crate::{Detector, Finding};

const AWARENESS: &str = "164.308(a)(5)(ii)(B)";
const ACTIVITY_REVIEW: &str = "164.308(a)(1)(ii)(D)";
const TRANSMISSION: &str = "164.312(e)(1)";
const AUDIT_CONTROLS: &str = "164.312(b)";

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

/// Every rule this detector can raise.
pub const RULES: &[Rule] = &[
    LOOKALIKE_DOMAIN,
    DISPLAY_NAME_IMPERSONATION,
    REPLY_TO_MISMATCH,
    AUTHENTICATION_FAILURE,
    PAYMENT_CHANGE_REQUEST,
    PHI_TO_PERSONAL,
];

#[derive(Debug, Clone)]
pub struct MailOptions {
    /// The organisation's mail domains; empty: the domains of the inventory's host names.
    pub organisation_domains: Vec<String>,
    /// Free mailbox providers: mail to them leaves the organisation's control.
    pub personal_domains: Vec<String>,
    /// Medical record number formats, besides the built-in `MRN` followed by 6–10 digits.
    pub mrn_patterns: Vec<Regex>,
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
        }
    }
}

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
        }
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

    fn observe(&mut self, event: &Event, out: &mut Vec<Finding>) {
        if event.class_uid != class::EMAIL_ACTIVITY || event.metadata.product != "email" {
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
        }
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
    use ward_model::Timestamp;

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
        e.unmapped.insert("body_text".into(), json!(body));
        for (k, v) in [
            ("auth.spf", "pass"),
            ("auth.dkim", "pass"),
            ("auth.dmarc", "pass"),
        ] {
            e.unmapped.insert(k.into(), json!(v));
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
        e.unmapped.insert("auth.spf".into(), json!("fail"));
        e.unmapped.insert("auth.dkim".into(), json!("none"));
        e.unmapped.insert("auth.dmarc".into(), json!("fail"));
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
        e.unmapped.insert(
            "reply_to".into(),
            json!("justin.graham.accounts@outlook.com"),
        );
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
        e.unmapped
            .insert("from_display".into(), json!("Grace  Whitman"));
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
            "attachments".into(),
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
}
