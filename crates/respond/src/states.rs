//! Affected individuals counted by State of residence, from the patient context (the FHIR
//! `Patient.address.state` Ward keeps in each patient's summary). Media notice turns on more
//! than 500 residents of one State or jurisdiction (45 CFR 164.406), so the count must be per
//! State, and a State written `Massachusetts` and one written `MA` must be one State.

use crate::deadlines::Affected;
use std::collections::BTreeSet;
use ward_model::{ContextResource, ContextSummary};

/// USPS codes with the names of the States, the District of Columbia and the territories.
const JURISDICTIONS: [(&str, &str); 56] = [
    ("AL", "alabama"),
    ("AK", "alaska"),
    ("AZ", "arizona"),
    ("AR", "arkansas"),
    ("CA", "california"),
    ("CO", "colorado"),
    ("CT", "connecticut"),
    ("DE", "delaware"),
    ("DC", "district of columbia"),
    ("FL", "florida"),
    ("GA", "georgia"),
    ("HI", "hawaii"),
    ("ID", "idaho"),
    ("IL", "illinois"),
    ("IN", "indiana"),
    ("IA", "iowa"),
    ("KS", "kansas"),
    ("KY", "kentucky"),
    ("LA", "louisiana"),
    ("ME", "maine"),
    ("MD", "maryland"),
    ("MA", "massachusetts"),
    ("MI", "michigan"),
    ("MN", "minnesota"),
    ("MS", "mississippi"),
    ("MO", "missouri"),
    ("MT", "montana"),
    ("NE", "nebraska"),
    ("NV", "nevada"),
    ("NH", "new hampshire"),
    ("NJ", "new jersey"),
    ("NM", "new mexico"),
    ("NY", "new york"),
    ("NC", "north carolina"),
    ("ND", "north dakota"),
    ("OH", "ohio"),
    ("OK", "oklahoma"),
    ("OR", "oregon"),
    ("PA", "pennsylvania"),
    ("RI", "rhode island"),
    ("SC", "south carolina"),
    ("SD", "south dakota"),
    ("TN", "tennessee"),
    ("TX", "texas"),
    ("UT", "utah"),
    ("VT", "vermont"),
    ("VA", "virginia"),
    ("WA", "washington"),
    ("WV", "west virginia"),
    ("WI", "wisconsin"),
    ("WY", "wyoming"),
    ("PR", "puerto rico"),
    ("GU", "guam"),
    ("VI", "u.s. virgin islands"),
    ("AS", "american samoa"),
    ("MP", "northern mariana islands"),
];

/// The USPS code for a State as written in an address (`ma`, `MA`, `Massachusetts`), or the
/// text itself, trimmed, when it names no jurisdiction Ward knows (a foreign province still
/// counts as its own jurisdiction). `None` for an empty State.
pub fn state_code(text: &str) -> Option<String> {
    let trimmed = text.trim().trim_end_matches('.');
    if trimmed.is_empty() {
        return None;
    }
    let lower = trimmed.to_lowercase();
    let lower = lower.strip_prefix("state of ").unwrap_or(&lower);
    let found = JURISDICTIONS
        .iter()
        .find(|(code, name)| code.eq_ignore_ascii_case(lower) || *name == lower)
        .map(|(code, _)| code.to_string());
    Some(found.unwrap_or_else(|| trimmed.to_string()))
}

/// Counts the patients among `context` whose ids are in `affected` (each once) by the State
/// of their address. Patients named in `affected` but absent from the context, or without a
/// State, count toward the total only. Those absent from the context or without a postal
/// address a letter can reach (a street line and a city or postal code) are counted as
/// unreachable: their contact information is insufficient, so substitute notice applies
/// (45 CFR 164.404(d)(2)).
pub fn affected_by_state<'a>(
    affected: &BTreeSet<String>,
    context: impl IntoIterator<Item = &'a ContextResource>,
) -> Affected {
    let mut counts = Affected {
        total: affected.len() as u64,
        ..Default::default()
    };
    let mut seen = BTreeSet::new();
    let mut reachable = 0u64;
    for resource in context {
        let ContextSummary::Patient { address, .. } = &resource.summary else {
            continue;
        };
        if !affected.contains(&resource.id) || !seen.insert(resource.id.as_str()) {
            continue;
        }
        if let Some(state) = address
            .as_ref()
            .and_then(|a| a.state.as_deref())
            .and_then(state_code)
        {
            *counts.by_state.entry(state).or_default() += 1;
        }
        if address.as_ref().is_some_and(|a| {
            let filled = |t: &Option<String>| t.as_deref().is_some_and(|t| !t.trim().is_empty());
            a.line.iter().any(|l| !l.trim().is_empty())
                && (filled(&a.city) || filled(&a.postal_code))
        }) {
            reachable += 1;
        }
    }
    counts.unreachable = counts.total.saturating_sub(reachable);
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_model::ContextKind;
    use ward_model::context::Address;

    fn patient(id: &str, state: Option<&str>) -> ContextResource {
        ContextResource {
            kind: ContextKind::Patient,
            id: id.into(),
            summary: ContextSummary::Patient {
                identifiers: vec![],
                name: Default::default(),
                birth_date: None,
                address: Some(Address {
                    state: state.map(String::from),
                    ..Default::default()
                }),
                deceased: false,
                deceased_at: None,
                security_labels: vec![],
                contact_names: vec![],
            },
            raw: b"{}".to_vec(),
        }
    }

    #[test]
    fn state_names_and_codes_are_one_jurisdiction() {
        assert_eq!(state_code("MA").as_deref(), Some("MA"));
        assert_eq!(state_code(" ma ").as_deref(), Some("MA"));
        assert_eq!(state_code("Massachusetts").as_deref(), Some("MA"));
        assert_eq!(state_code("State of New York").as_deref(), Some("NY"));
        assert_eq!(state_code("Ontario").as_deref(), Some("Ontario"));
        assert_eq!(state_code("  "), None);
    }

    #[test]
    fn counts_each_affected_patient_once_by_state() {
        let context = [
            patient("p1", Some("MA")),
            patient("p2", Some("Massachusetts")),
            patient("p3", Some("NH")),
            patient("p4", None),
            patient("p5", Some("MA")),
            patient("p1", Some("MA")),
        ];
        let affected: BTreeSet<String> = ["p1", "p2", "p3", "p4", "p9"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let counts = affected_by_state(&affected, &context);
        assert_eq!(counts.total, 5);
        assert_eq!(counts.by_state.get("MA"), Some(&2));
        assert_eq!(counts.by_state.get("NH"), Some(&1));
        assert_eq!(counts.unknown_state(), 2);
    }

    #[test]
    fn patients_without_a_postal_address_a_letter_reaches_are_unreachable() {
        let with = |id: &str, line: &[&str], city: Option<&str>, postal: Option<&str>| {
            let mut p = patient(id, Some("MA"));
            if let ContextSummary::Patient { address, .. } = &mut p.summary {
                *address = Some(Address {
                    line: line.iter().map(|l| l.to_string()).collect(),
                    city: city.map(String::from),
                    state: Some("MA".into()),
                    postal_code: postal.map(String::from),
                });
            }
            p
        };
        let context = [
            with("full", &["1 Main St"], Some("Boston"), Some("02110")),
            with("zip-only", &["2 Main St"], None, Some("02110")),
            with("no-street", &[], Some("Boston"), Some("02110")),
            with("blank-street", &["  "], Some("Boston"), None),
            with("street-only", &["3 Main St"], None, None),
        ];
        let affected: BTreeSet<String> = [
            "full",
            "zip-only",
            "no-street",
            "blank-street",
            "street-only",
            "not-in-context",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let counts = affected_by_state(&affected, &context);
        assert_eq!(counts.total, 6);
        assert_eq!(counts.unreachable, 4, "{counts:?}");
    }
}
