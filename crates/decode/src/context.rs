//! The organisation's context from FHIR R4 resources: Patient, Practitioner, PractitionerRole,
//! Organization, Encounter, CareTeam, ServiceRequest and Appointment, as NDJSON lines or whole documents (a single
//! resource, a Bundle of any type, or a JSON array). Each resource becomes a
//! [`ContextResource`]: its logical id, a [`ContextSummary`] of the elements privacy analytics
//! reason about (who the patient is, who cared for them and when), and its original bytes.
//!
//! References are kept in their relative `Type/id` form whatever base URL or version the source
//! wrote, so they compare equal to the ids events carry. A resource this parser cannot read,
//! or of another type, is an error naming the entry; it never panics and never guesses a date:
//! an unreadable period bound is refused, because an open-ended care relationship would
//! silently excuse access.

use crate::DecodeError;
use crate::fhir::{Concept, Identifier as FhirIdentifier, Meta, Period, Reference};
use crate::json::{self, Member, OneOrMany, Text, TextOr};
use serde::Deserialize;
use std::collections::HashMap;
use ward_model::context::{Address, Attendee, Identifier, Participant, PersonName};
use ward_model::{ContextKind, ContextResource, ContextSummary, Timestamp};

/// Parses one record of context: pushes every resource and every failure it holds.
pub fn parse_context(record: &[u8], out: &mut Vec<Result<ContextResource, DecodeError>>) {
    let body = json::body(record);
    match body.first() {
        Some(b'{') => {
            let head = match json::Head::read(body) {
                Ok(head) => head,
                Err(e) => return out.push(Err(DecodeError::record(syntax_or_shape(&e)))),
            };
            if head.resource_type.as_deref() == Some("Bundle") {
                let members: Vec<_> =
                    json::bundle_members(head.entry.unwrap_or_default()).collect();
                let refs = Refs::of_bundle(&members);
                for member in members {
                    out.push(member.and_then(|m| {
                        parse_member(&m, &refs)
                            .map_err(|reason| DecodeError::entry(m.index, reason, m.entry.to_vec()))
                    }));
                }
            } else {
                let whole = Member {
                    index: 0,
                    resource: body,
                    entry: body,
                    full_url: None,
                };
                out.push(parse_member(&whole, &Refs::default()).map_err(DecodeError::record));
            }
        }
        Some(b'[') => {
            match json::array_members(body) {
                Ok(members) => {
                    for m in members {
                        let parsed = parse_member(&m, &Refs::default());
                        out.push(parsed.map_err(|reason| {
                            DecodeError::entry(m.index, reason, m.entry.to_vec())
                        }));
                    }
                }
                Err(reason) => out.push(Err(DecodeError::record(reason))),
            }
        }
        _ => out.push(Err(DecodeError::record(json::not_a_container(
            body,
            "a FHIR resource or Bundle",
        )))),
    }
}

fn syntax_or_shape(e: &serde_json::Error) -> String {
    if json::is_syntax(e) {
        format!("not JSON: {}", json::located(e))
    } else {
        format!("not a FHIR resource: {}", json::located(e))
    }
}

/// The elements of the eight context resources, side by side (each reads only its own).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ContextDoc<'a> {
    #[serde(borrow, default)]
    resource_type: Option<Text<'a>>,
    #[serde(borrow, default)]
    id: Option<Text<'a>>,
    #[serde(borrow, default)]
    meta: Option<Meta<'a>>,
    #[serde(borrow, default)]
    identifier: Vec<FhirIdentifier<'a>>,
    #[serde(default)]
    active: Option<bool>,
    /// `HumanName[]` for people; a string for Organization and CareTeam.
    #[serde(borrow, default)]
    name: Option<TextOr<'a, Vec<HumanName<'a>>>>,
    #[serde(borrow, default)]
    birth_date: Option<Text<'a>>,
    #[serde(borrow, default)]
    address: Vec<FhirAddress<'a>>,
    #[serde(default)]
    deceased_boolean: Option<bool>,
    #[serde(borrow, default)]
    deceased_date_time: Option<Text<'a>>,
    #[serde(borrow, default)]
    contact: Vec<Contact<'a>>,
    #[serde(borrow, default)]
    status: Option<Text<'a>>,
    /// Encounter `class` (a Coding in R4, a list in R5).
    #[serde(borrow, default)]
    class: OneOrMany<Concept<'a>>,
    /// Organization `type[]`.
    #[serde(borrow, default, rename = "type")]
    kind: OneOrMany<Concept<'a>>,
    #[serde(borrow, default)]
    subject: Option<Reference<'a>>,
    #[serde(borrow, default)]
    participant: Vec<FhirParticipant<'a>>,
    #[serde(borrow, default)]
    service_provider: Option<Reference<'a>>,
    #[serde(borrow, default)]
    period: Option<Period<'a>>,
    #[serde(borrow, default)]
    managing_organization: OneOrMany<Reference<'a>>,
    #[serde(borrow, default)]
    practitioner: Option<Reference<'a>>,
    #[serde(borrow, default)]
    organization: Option<Reference<'a>>,
    /// PractitionerRole `code[]`; ServiceRequest `code` (one).
    #[serde(borrow, default)]
    code: OneOrMany<Concept<'a>>,
    #[serde(borrow, default)]
    specialty: Vec<Concept<'a>>,
    #[serde(borrow, default)]
    part_of: Option<Reference<'a>>,
    #[serde(borrow, default)]
    encounter: Option<Reference<'a>>,
    #[serde(borrow, default)]
    intent: Option<Text<'a>>,
    #[serde(borrow, default)]
    category: Vec<Concept<'a>>,
    #[serde(borrow, default)]
    requester: Option<Reference<'a>>,
    #[serde(borrow, default)]
    performer: Vec<Reference<'a>>,
    #[serde(borrow, default)]
    authored_on: Option<Text<'a>>,
    #[serde(borrow, default)]
    occurrence_date_time: Option<Text<'a>>,
    #[serde(borrow, default)]
    occurrence_period: Option<Period<'a>>,
    /// Appointment elements.
    #[serde(borrow, default)]
    service_type: Vec<Concept<'a>>,
    #[serde(borrow, default)]
    start: Option<Text<'a>>,
    #[serde(borrow, default)]
    end: Option<Text<'a>>,
    #[serde(borrow, default)]
    based_on: Vec<Reference<'a>>,
}

#[derive(Deserialize)]
struct HumanName<'a> {
    #[serde(borrow, default, rename = "use")]
    usage: Option<Text<'a>>,
    #[serde(borrow, default)]
    family: Option<Text<'a>>,
    #[serde(borrow, default)]
    given: Vec<Text<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FhirAddress<'a> {
    #[serde(borrow, default)]
    line: Vec<Text<'a>>,
    #[serde(borrow, default)]
    city: Option<Text<'a>>,
    #[serde(borrow, default)]
    state: Option<Text<'a>>,
    #[serde(borrow, default)]
    postal_code: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct Contact<'a> {
    /// One HumanName in R4 (a list in R5's Organization.contact).
    #[serde(borrow, default)]
    name: OneOrMany<HumanName<'a>>,
}

/// Encounter `participant` (`individual`, R5 `actor`, `type[]`), CareTeam `participant`
/// (`member`, `role[]`) and Appointment `participant` (`actor`, `type[]`, `status`) in one
/// shape.
#[derive(Deserialize)]
struct FhirParticipant<'a> {
    #[serde(borrow, default)]
    individual: Option<Reference<'a>>,
    #[serde(borrow, default)]
    actor: Option<Reference<'a>>,
    #[serde(borrow, default)]
    member: Option<Reference<'a>>,
    #[serde(borrow, default, rename = "type")]
    kind: Vec<Concept<'a>>,
    #[serde(borrow, default)]
    role: Vec<Concept<'a>>,
    #[serde(borrow, default)]
    period: Option<Period<'a>>,
    #[serde(borrow, default)]
    status: Option<Text<'a>>,
}

fn parse_member(member: &Member<'_>, refs: &Refs) -> Result<ContextResource, String> {
    if json::body(member.resource).first() != Some(&b'{') {
        return Err(json::not_a_container(
            json::body(member.resource),
            "a FHIR resource",
        ));
    }
    let doc: ContextDoc = match json::parse(member.resource) {
        Ok(doc) => doc,
        Err(e) => {
            let kind = json::Head::read(member.resource)
                .ok()
                .and_then(|h| h.resource_type);
            return Err(match kind {
                _ if json::is_syntax(&e) => format!("not JSON: {}", json::located(&e)),
                Some(t) if *t == *"Bundle" => NESTED_BUNDLE.into(),
                Some(t) if ContextKind::parse(&t).is_none() => not_context(&t),
                Some(t) => format!(
                    "{} is not valid FHIR R4: {}",
                    json::clip(&t),
                    json::located(&e)
                ),
                None => format!("not a FHIR resource: {}", json::located(&e)),
            });
        }
    };
    let Some(resource_type) = doc.resource_type.as_deref() else {
        return Err("no resourceType: expected a FHIR Patient, Practitioner, PractitionerRole, Organization, Encounter, CareTeam, ServiceRequest or Appointment".into());
    };
    if resource_type == "Bundle" {
        return Err(NESTED_BUNDLE.into());
    }
    let kind = ContextKind::parse(resource_type).ok_or_else(|| not_context(resource_type))?;
    let id = logical_id(doc.id.as_deref(), member.full_url.as_deref()).ok_or_else(|| {
        format!(
            "{} has no id: give each resource an id (or its Bundle entry a fullUrl)",
            kind.as_str()
        )
    })?;
    let summary = summarise(kind, &doc, refs)?;
    Ok(ContextResource {
        kind,
        id,
        summary,
        raw: member.resource.to_vec(),
    })
}

const NESTED_BUNDLE: &str = "a Bundle inside a Bundle is not read: send its entries instead";

fn not_context(resource_type: &str) -> String {
    let resource_type = json::clip(resource_type);
    format!(
        "resourceType {resource_type} is not organisation context (Patient, Practitioner, PractitionerRole, \
         Organization, Encounter, CareTeam, ServiceRequest, Appointment); ingest audit events with `ward ingest`"
    )
}

/// The resource's id; for resources a transaction creates without one, the last segment of
/// the entry's `fullUrl` (`urn:uuid:<uuid>` gives the uuid), which is what other entries of
/// that Bundle reference.
fn logical_id(id: Option<&str>, full_url: Option<&str>) -> Option<String> {
    if let Some(id) = id.map(str::trim).filter(|id| !id.is_empty()) {
        return Some(id.to_string());
    }
    let url = full_url?.trim();
    let url = url
        .strip_prefix("urn:uuid:")
        .or_else(|| url.strip_prefix("urn:oid:"))
        .unwrap_or(url);
    let last = url.trim_end_matches('/').rsplit('/').next()?;
    (!last.is_empty()).then(|| last.to_string())
}

/// Resolves references: to relative `Type/id` form when they name a resource that way, and,
/// inside a Bundle, from an entry's `fullUrl` (`urn:uuid:…` in transactions) to the `Type/id`
/// of the resource that entry holds.
#[derive(Default)]
struct Refs {
    full_urls: HashMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdHead<'a> {
    #[serde(borrow, default)]
    resource_type: Option<Text<'a>>,
    #[serde(borrow, default)]
    id: Option<Text<'a>>,
}

impl Refs {
    fn of_bundle(members: &[Result<Member<'_>, DecodeError>]) -> Self {
        let mut full_urls = HashMap::new();
        for m in members.iter().flatten() {
            let Some(url) = m.full_url.as_deref() else {
                continue;
            };
            let Ok(head) = json::parse::<IdHead>(m.resource) else {
                continue;
            };
            if let (Some(kind), Some(id)) = (
                head.resource_type.as_deref(),
                logical_id(head.id.as_deref(), Some(url)),
            ) {
                full_urls.insert(url.trim().to_string(), format!("{kind}/{id}"));
            }
        }
        Refs { full_urls }
    }

    fn of(&self, r: &Reference<'_>) -> Option<String> {
        let written = r.reference.as_deref()?.trim();
        if written.is_empty() {
            return None;
        }
        if let Some(resolved) = self.full_urls.get(written) {
            return Some(resolved.clone());
        }
        Some(match json::split_reference(written) {
            Some((kind, id)) => format!("{kind}/{id}"),
            None => written.to_string(),
        })
    }
}

fn owned(t: &Option<Text<'_>>) -> Option<String> {
    t.as_deref().map(str::to_string)
}

fn instant(element: &str, text: &Option<Text<'_>>) -> Result<Option<Timestamp>, String> {
    match text.as_deref() {
        None => Ok(None),
        Some(t) => Timestamp::parse(t).map(Some).ok_or_else(|| {
            let shown = json::clip(t);
            format!("{element} {shown:?} is not a FHIR dateTime (expected e.g. 2024-05-01 or 2024-05-01T09:30:00Z)")
        }),
    }
}

fn period(
    element: &str,
    p: &Option<Period<'_>>,
) -> Result<(Option<Timestamp>, Option<Timestamp>), String> {
    let Some(p) = p else { return Ok((None, None)) };
    Ok((
        instant(&format!("{element}.start"), &p.start)?,
        instant(&format!("{element}.end"), &p.end)?,
    ))
}

fn codes(concepts: &[Concept<'_>]) -> Vec<String> {
    concepts
        .iter()
        .filter_map(Concept::code_or_text)
        .map(str::to_string)
        .collect()
}

fn person_name(n: &HumanName<'_>) -> PersonName {
    PersonName {
        family: owned(&n.family),
        given: n.given.iter().map(|g| g.to_string()).collect(),
    }
}

/// The official name, else the first.
fn main_name(doc: &ContextDoc<'_>) -> PersonName {
    let Some(TextOr::Other(names)) = &doc.name else {
        return PersonName::default();
    };
    names
        .iter()
        .find(|n| n.usage.as_deref() == Some("official"))
        .or_else(|| names.first())
        .map(person_name)
        .unwrap_or_default()
}

fn identifiers(doc: &ContextDoc<'_>) -> Vec<Identifier> {
    doc.identifier
        .iter()
        .filter_map(|i| {
            Some(Identifier {
                system: owned(&i.system),
                type_code: i.kind.as_ref().and_then(Concept::code).map(str::to_string),
                value: i.value.as_deref()?.to_string(),
            })
        })
        .collect()
}

fn address(doc: &ContextDoc<'_>) -> Option<Address> {
    doc.address.first().map(|a| Address {
        line: a.line.iter().map(|l| l.to_string()).collect(),
        city: owned(&a.city),
        state: owned(&a.state),
        postal_code: owned(&a.postal_code),
    })
}

fn participants(
    doc: &ContextDoc<'_>,
    element: &str,
    refs: &Refs,
) -> Result<Vec<Participant>, String> {
    let mut out = Vec::new();
    for (i, p) in doc.participant.iter().enumerate() {
        let Some(reference) = p
            .individual
            .as_ref()
            .or(p.actor.as_ref())
            .or(p.member.as_ref())
            .and_then(|r| refs.of(r))
        else {
            continue;
        };
        let (start, end) = period(&format!("{element}[{i}].period"), &p.period)?;
        let role = p
            .kind
            .iter()
            .chain(p.role.iter())
            .find_map(Concept::code_or_text)
            .map(str::to_string);
        out.push(Participant {
            reference,
            role,
            start,
            end,
        });
    }
    Ok(out)
}

fn summarise(
    kind: ContextKind,
    doc: &ContextDoc<'_>,
    refs: &Refs,
) -> Result<ContextSummary, String> {
    // FHIR leaves `active` absent for most records in use; absent means in use.
    let active = doc.active.unwrap_or(true);
    Ok(match kind {
        ContextKind::Employment => {
            return Err("`Employment` is an HR roster row, not a FHIR resource".into());
        }
        ContextKind::PrivacyDetermination => {
            return Err(
                "`PrivacyDetermination` is Ward's own record of a privacy officer's decision, made with `ward privacy determine`; it is never imported".into(),
            );
        }
        ContextKind::Patient => ContextSummary::Patient {
            identifiers: identifiers(doc),
            name: main_name(doc),
            birth_date: owned(&doc.birth_date),
            address: address(doc),
            deceased: doc.deceased_boolean.unwrap_or(false) || doc.deceased_date_time.is_some(),
            deceased_at: instant("Patient.deceasedDateTime", &doc.deceased_date_time)?,
            security_labels: doc
                .meta
                .as_ref()
                .map(|m| codes(&m.security))
                .unwrap_or_default(),
            contact_names: doc
                .contact
                .iter()
                .flat_map(|c| c.name.0.iter())
                .map(person_name)
                .filter(|n| n.family.is_some() || !n.given.is_empty())
                .collect(),
        },
        ContextKind::Practitioner => ContextSummary::Practitioner {
            identifiers: identifiers(doc),
            name: main_name(doc),
            birth_date: owned(&doc.birth_date),
            address: address(doc),
            active,
        },
        ContextKind::PractitionerRole => {
            let (start, end) = period("PractitionerRole.period", &doc.period)?;
            ContextSummary::PractitionerRole {
                practitioner: doc.practitioner.as_ref().and_then(|r| refs.of(r)),
                organization: doc.organization.as_ref().and_then(|r| refs.of(r)),
                codes: codes(&doc.code.0),
                specialties: codes(&doc.specialty),
                active,
                start,
                end,
            }
        }
        ContextKind::Organization => ContextSummary::Organization {
            name: match &doc.name {
                Some(TextOr::Text(name)) => Some(name.to_string()),
                _ => None,
            },
            part_of: doc.part_of.as_ref().and_then(|r| refs.of(r)),
            types: codes(&doc.kind.0),
            active,
        },
        ContextKind::Encounter => {
            let (start, end) = period("Encounter.period", &doc.period)?;
            ContextSummary::Encounter {
                patient: doc.subject.as_ref().and_then(|r| refs.of(r)),
                status: owned(&doc.status),
                class: doc
                    .class
                    .0
                    .iter()
                    .find_map(Concept::code)
                    .map(str::to_string),
                participants: participants(doc, "Encounter.participant", refs)?,
                service_provider: doc.service_provider.as_ref().and_then(|r| refs.of(r)),
                start,
                end,
            }
        }
        ContextKind::CareTeam => {
            let (start, end) = period("CareTeam.period", &doc.period)?;
            ContextSummary::CareTeam {
                patient: doc.subject.as_ref().and_then(|r| refs.of(r)),
                status: owned(&doc.status),
                participants: participants(doc, "CareTeam.participant", refs)?,
                managing_organizations: doc
                    .managing_organization
                    .0
                    .iter()
                    .filter_map(|r| refs.of(r))
                    .collect(),
                start,
                end,
            }
        }
        ContextKind::ServiceRequest => {
            // `occurrenceTiming` (a schedule of repeats) has no single end and is not read:
            // such an order explains for the window after `authoredOn` only, never longer.
            let (occurrence_start, occurrence_end) = match &doc.occurrence_date_time {
                Some(_) => {
                    let at = instant(
                        "ServiceRequest.occurrenceDateTime",
                        &doc.occurrence_date_time,
                    )?;
                    (at, at)
                }
                None => period("ServiceRequest.occurrencePeriod", &doc.occurrence_period)?,
            };
            ContextSummary::ServiceRequest {
                patient: doc.subject.as_ref().and_then(|r| refs.of(r)),
                encounter: doc.encounter.as_ref().and_then(|r| refs.of(r)),
                status: owned(&doc.status),
                intent: owned(&doc.intent),
                categories: codes(&doc.category),
                codes: codes(&doc.code.0),
                requester: doc.requester.as_ref().and_then(|r| refs.of(r)),
                performers: doc.performer.iter().filter_map(|r| refs.of(r)).collect(),
                authored_on: instant("ServiceRequest.authoredOn", &doc.authored_on)?,
                occurrence_start,
                occurrence_end,
            }
        }
        ContextKind::Appointment => {
            let participants: Vec<Attendee> = doc
                .participant
                .iter()
                .filter_map(|p| {
                    Some(Attendee {
                        reference: p.actor.as_ref().and_then(|r| refs.of(r))?,
                        role: p
                            .kind
                            .iter()
                            .find_map(Concept::code_or_text)
                            .map(str::to_string),
                        status: owned(&p.status),
                    })
                })
                .collect();
            ContextSummary::Appointment {
                patient: participants
                    .iter()
                    .find(|p| p.reference.starts_with("Patient/"))
                    .map(|p| p.reference.clone()),
                status: owned(&doc.status),
                participants,
                service_types: codes(&doc.service_type),
                specialties: codes(&doc.specialty),
                start: instant("Appointment.start", &doc.start)?,
                end: instant("Appointment.end", &doc.end)?,
                based_on: doc.based_on.iter().filter_map(|r| refs.of(r)).collect(),
            }
        }
    })
}
