//! Draft notification letters to individuals with the content 45 CFR 164.404(c)(1) requires,
//! written in plain language (164.404(c)(2)):
//!
//! (A) a brief description of what happened, including the date of the breach and the date of
//!     discovery, if known;
//! (B) the types of unsecured PHI involved (name, Social Security number, date of birth, home
//!     address, account number, diagnosis, disability code …);
//! (C) the steps individuals should take to protect themselves;
//! (D) what the covered entity is doing to investigate, mitigate harm and protect against
//!     further breaches;
//! (E) contact procedures, which include a toll-free telephone number, an e-mail address, web
//!     site, or postal address.
//!
//! A draft lacking any element is refused, naming it, rather than rendered with a gap: a
//! letter is reviewed by the privacy officer and counsel before it is sent, never sent by Ward.
//! Rendered as plain text and as HTML (every value escaped).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;
use ward_model::context::{Address, PersonName};

/// Who sends the letter and how to reach them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Sender {
    pub organisation: String,
    /// The person who signs (usually the privacy officer) and their title.
    pub signatory: String,
    pub signatory_title: String,
    #[serde(default)]
    pub toll_free_phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub website: Option<String>,
    #[serde(default)]
    pub postal_address: Option<String>,
}

/// What the letter says about the breach.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BreachFacts {
    /// What happened, in plain words, without naming other patients or the workforce member.
    pub what_happened: String,
    /// When the breach happened (its first day), if known.
    #[serde(default)]
    pub breach_from: Option<NaiveDate>,
    /// Its last day, when it lasted more than one.
    #[serde(default)]
    pub breach_to: Option<NaiveDate>,
    pub discovered_on: NaiveDate,
    /// The types of information involved (`name`, `date of birth`, `diagnoses` …).
    pub phi_types: Vec<String>,
    pub steps_for_individuals: Vec<String>,
    pub what_we_are_doing: Vec<String>,
}

/// The person the letter goes to, from the patient context.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recipient {
    pub name: PersonName,
    pub address: Option<Address>,
}

/// A rendered letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// An element of 164.404(c)(1) the draft lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingContent {
    pub element: &'static str,
    pub citation: &'static str,
}

impl fmt::Display for MissingContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the letter lacks {} ({}); add it before drafting",
            self.element, self.citation
        )
    }
}

impl std::error::Error for MissingContent {}

fn blank(text: &str) -> bool {
    text.trim().is_empty()
}

fn none_filled(items: &[String]) -> bool {
    items.iter().all(|s| blank(s))
}

/// Checks that every required element is present.
pub fn check(sender: &Sender, facts: &BreachFacts) -> Result<(), MissingContent> {
    let missing = |element, citation| Err(MissingContent { element, citation });
    if blank(&facts.what_happened) {
        return missing("a description of what happened", "45 CFR 164.404(c)(1)(A)");
    }
    if none_filled(&facts.phi_types) {
        return missing(
            "the types of information involved",
            "45 CFR 164.404(c)(1)(B)",
        );
    }
    if none_filled(&facts.steps_for_individuals) {
        return missing(
            "the steps individuals should take",
            "45 CFR 164.404(c)(1)(C)",
        );
    }
    if none_filled(&facts.what_we_are_doing) {
        return missing(
            "what the organisation is doing about it",
            "45 CFR 164.404(c)(1)(D)",
        );
    }
    let contacts = [
        &sender.toll_free_phone,
        &sender.email,
        &sender.website,
        &sender.postal_address,
    ];
    if contacts.iter().all(|c| c.as_deref().is_none_or(blank)) {
        return missing(
            "a toll-free number, e-mail address, web site or postal address to contact",
            "45 CFR 164.404(c)(1)(E)",
        );
    }
    if blank(&sender.organisation) || blank(&sender.signatory) {
        return missing("the organisation and signatory", "45 CFR 164.404(c)(1)");
    }
    Ok(())
}

fn long_date(date: NaiveDate) -> String {
    date.format("%B %-d, %Y").to_string()
}

fn salutation(recipient: Option<&Recipient>) -> String {
    let name = recipient.map(|r| {
        let mut parts: Vec<&str> = r.name.given.iter().map(String::as_str).collect();
        if let Some(family) = &r.name.family {
            parts.push(family);
        }
        parts.join(" ")
    });
    match name.filter(|n| !blank(n)) {
        Some(name) => format!("Dear {name},"),
        None => "Dear Patient,".to_string(),
    }
}

fn address_lines(recipient: Option<&Recipient>) -> Vec<String> {
    let Some(r) = recipient else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    let mut name: Vec<&str> = r.name.given.iter().map(String::as_str).collect();
    if let Some(family) = &r.name.family {
        name.push(family);
    }
    if !name.is_empty() {
        lines.push(name.join(" "));
    }
    if let Some(a) = &r.address {
        lines.extend(a.line.iter().cloned());
        let city_line = [
            a.city.as_deref(),
            a.state.as_deref(),
            a.postal_code.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
        if !city_line.is_empty() {
            lines.push(city_line);
        }
    }
    lines
}

/// The "when" sentence: breach dates, if known, and discovery.
fn when(facts: &BreachFacts) -> String {
    let discovered = long_date(facts.discovered_on);
    match (facts.breach_from, facts.breach_to) {
        (Some(from), Some(to)) if to > from => format!(
            "This happened between {} and {}. We discovered it on {discovered}.",
            long_date(from),
            long_date(to)
        ),
        (Some(from), _) => format!(
            "This happened on {}. We discovered it on {discovered}.",
            long_date(from)
        ),
        (None, _) => format!(
            "We do not yet know the date on which this happened. We discovered it on {discovered}."
        ),
    }
}

fn contact_lines(sender: &Sender) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(phone) = sender.toll_free_phone.as_deref().filter(|s| !blank(s)) {
        lines.push(format!("Call us toll-free at {phone}."));
    }
    if let Some(email) = sender.email.as_deref().filter(|s| !blank(s)) {
        lines.push(format!("E-mail us at {email}."));
    }
    if let Some(web) = sender.website.as_deref().filter(|s| !blank(s)) {
        lines.push(format!("Visit {web}."));
    }
    if let Some(post) = sender.postal_address.as_deref().filter(|s| !blank(s)) {
        lines.push(format!("Write to us at {post}."));
    }
    lines
}

/// The letter's sections: heading and paragraphs or bullet lists, shared by both renderings.
enum Block {
    Para(String),
    Heading(String),
    List(Vec<String>),
}

fn blocks(sender: &Sender, facts: &BreachFacts, recipient: Option<&Recipient>) -> Vec<Block> {
    let filled = |items: &[String]| -> Vec<String> {
        items
            .iter()
            .filter(|s| !blank(s))
            .map(|s| s.trim().to_string())
            .collect()
    };
    vec![
        Block::Para(salutation(recipient)),
        Block::Para(format!(
            "We are writing to tell you about an incident at {} that involved some of your health information, what we are doing about it, and what you can do.",
            sender.organisation
        )),
        Block::Heading("What happened".into()),
        Block::Para(format!("{} {}", facts.what_happened.trim(), when(facts))),
        Block::Heading("What information was involved".into()),
        Block::List(filled(&facts.phi_types)),
        Block::Heading("What you can do".into()),
        Block::List(filled(&facts.steps_for_individuals)),
        Block::Heading("What we are doing".into()),
        Block::List(filled(&facts.what_we_are_doing)),
        Block::Heading("For more information".into()),
        Block::Para(format!(
            "If you have questions, please contact us. {}",
            contact_lines(sender).join(" ")
        )),
        Block::Para(format!(
            "We sincerely apologise.\n\n{}\n{}\n{}",
            sender.signatory, sender.signatory_title, sender.organisation
        )),
    ]
}

/// Renders the letter, or names the required element it lacks.
pub fn render(
    sender: &Sender,
    facts: &BreachFacts,
    recipient: Option<&Recipient>,
) -> Result<Letter, MissingContent> {
    check(sender, facts)?;
    let subject = format!("Notice of a privacy incident at {}", sender.organisation);
    let body = blocks(sender, facts, recipient);
    Ok(assemble(subject, &address_lines(recipient), &body))
}

/// Renders the substitute notice of 164.404(d)(2)(ii) for individuals whose contact
/// information is insufficient or out of date: the letter's content for a web posting or a
/// media notice, with the toll-free number, active for at least 90 days, where someone can
/// learn whether their information was involved. Refused without a toll-free number.
pub fn render_substitute_notice(
    sender: &Sender,
    facts: &BreachFacts,
) -> Result<Letter, MissingContent> {
    check(sender, facts)?;
    let Some(phone) = sender.toll_free_phone.as_deref().filter(|p| !blank(p)) else {
        return Err(MissingContent {
            element: "a toll-free number active for at least 90 days",
            citation: "45 CFR 164.404(d)(2)(ii)(B)",
        });
    };
    let subject = format!(
        "Notice to patients of {} about a privacy incident",
        sender.organisation
    );
    let mut body = blocks(sender, facts, None);
    body[0] = Block::Para(format!(
        "{} is posting this notice because we could not reach by mail everyone whose health information may have been involved in the incident described below.",
        sender.organisation
    ));
    body.insert(
        1,
        Block::Para(format!(
            "To learn whether your information was involved, call us toll-free at {} (the number will be answered for at least 90 days from the date of this notice).",
            phone.trim()
        )),
    );
    Ok(assemble(subject, &[], &body))
}

/// The text and HTML renderings of a notice's address lines and blocks.
fn assemble(subject: String, address: &[String], body: &[Block]) -> Letter {
    let mut text = String::new();
    for line in address {
        text.push_str(line);
        text.push('\n');
    }
    if !address.is_empty() {
        text.push('\n');
    }
    text.push_str(&subject);
    text.push_str("\n\n");
    for block in body {
        match block {
            Block::Para(p) => text.push_str(&format!("{p}\n\n")),
            Block::Heading(h) => text.push_str(&format!("{h}\n")),
            Block::List(items) => {
                for item in items {
                    text.push_str(&format!("  - {item}\n"));
                }
                text.push('\n');
            }
        }
    }

    let mut html =
        String::from("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    html.push_str(&format!(
        "<title>{}</title></head><body>\n",
        escape(&subject)
    ));
    if !address.is_empty() {
        html.push_str("<address>");
        html.push_str(
            &address
                .iter()
                .map(|l| escape(l))
                .collect::<Vec<_>>()
                .join("<br>"),
        );
        html.push_str("</address>\n");
    }
    html.push_str(&format!("<h1>{}</h1>\n", escape(&subject)));
    for block in body {
        match block {
            Block::Para(p) => {
                html.push_str(&format!("<p>{}</p>\n", escape(p).replace('\n', "<br>")))
            }
            Block::Heading(h) => html.push_str(&format!("<h2>{}</h2>\n", escape(h))),
            Block::List(items) => {
                html.push_str("<ul>");
                for item in items {
                    html.push_str(&format!("<li>{}</li>", escape(item)));
                }
                html.push_str("</ul>\n");
            }
        }
    }
    html.push_str("</body></html>\n");
    Letter {
        subject,
        text: text.trim_end().to_string() + "\n",
        html,
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sender() -> Sender {
        Sender {
            organisation: "Westbrook General Hospital".into(),
            signatory: "Pat Rivera".into(),
            signatory_title: "Privacy Officer".into(),
            toll_free_phone: Some("1-800-555-0134".into()),
            email: Some("privacy@wgh.example.org".into()),
            website: None,
            postal_address: Some("Privacy Office, 1 Hospital Way, Springfield, MA 01101".into()),
        }
    }

    fn facts() -> BreachFacts {
        BreachFacts {
            what_happened:
                "A member of our staff looked at your medical record without a work reason.".into(),
            breach_from: NaiveDate::from_ymd_opt(2026, 2, 3),
            breach_to: NaiveDate::from_ymd_opt(2026, 2, 5),
            discovered_on: NaiveDate::from_ymd_opt(2026, 2, 6).unwrap(),
            phi_types: vec!["your name".into(), "diagnoses <and> medications".into()],
            steps_for_individuals: vec![
                "Review the statements you receive from your health plan.".into(),
            ],
            what_we_are_doing: vec!["The staff member's access was suspended.".into()],
        }
    }

    #[test]
    fn the_letter_carries_every_element_of_164_404_c() {
        let recipient = Recipient {
            name: PersonName {
                family: Some("Okafor".into()),
                given: vec!["Ada".into()],
            },
            address: Some(Address {
                line: vec!["12 Elm St".into()],
                city: Some("Springfield".into()),
                state: Some("MA".into()),
                postal_code: Some("01101".into()),
            }),
        };
        let letter = render(&sender(), &facts(), Some(&recipient)).unwrap();
        for needle in [
            "Ada Okafor\n12 Elm St\nSpringfield MA 01101",
            "Dear Ada Okafor,",
            "between February 3, 2026 and February 5, 2026",
            "We discovered it on February 6, 2026.",
            "  - diagnoses <and> medications",
            "Review the statements",
            "access was suspended",
            "toll-free at 1-800-555-0134",
            "privacy@wgh.example.org",
            "Write to us at Privacy Office",
        ] {
            assert!(
                letter.text.contains(needle),
                "missing {needle:?} in\n{}",
                letter.text
            );
        }
        assert!(
            letter
                .html
                .contains("<li>diagnoses &lt;and&gt; medications</li>")
        );
        assert!(!letter.html.contains("<and>"));
    }

    #[test]
    fn a_draft_missing_an_element_is_refused_naming_it() {
        let mut f = facts();
        f.phi_types = vec![" ".into()];
        assert_eq!(
            render(&sender(), &f, None).unwrap_err().citation,
            "45 CFR 164.404(c)(1)(B)"
        );
        let mut s = sender();
        s.toll_free_phone = None;
        s.email = Some(String::new());
        s.postal_address = None;
        assert_eq!(
            render(&s, &facts(), None).unwrap_err().citation,
            "45 CFR 164.404(c)(1)(E)"
        );
        // Any one of the four contact routes is enough.
        s.website = Some("https://wgh.example.org/privacy-notice".into());
        assert!(render(&s, &facts(), None).is_ok());
    }

    #[test]
    fn an_unknown_breach_date_is_said_so() {
        let mut f = facts();
        f.breach_from = None;
        let letter = render(&sender(), &f, None).unwrap();
        assert!(letter.text.contains("Dear Patient,"));
        assert!(letter.text.contains("We do not yet know the date"));
    }

    #[test]
    fn a_substitute_notice_names_the_toll_free_number_for_ninety_days() {
        let notice = render_substitute_notice(&sender(), &facts()).unwrap();
        let phone = sender().toll_free_phone.unwrap();
        assert!(notice.text.contains(&phone), "{}", notice.text);
        assert!(notice.text.contains("at least 90 days"));
        assert!(notice.text.contains("could not reach by mail"));
        assert!(!notice.text.contains("Dear"), "a posting has no addressee");
        // Still every element of 164.404(c).
        assert!(notice.text.contains("What information was involved"));
        let mut no_phone = sender();
        no_phone.toll_free_phone = None;
        no_phone.website = Some("https://wgh.example.org".into());
        assert_eq!(
            render_substitute_notice(&no_phone, &facts())
                .unwrap_err()
                .citation,
            "45 CFR 164.404(d)(2)(ii)(B)"
        );
    }
}
