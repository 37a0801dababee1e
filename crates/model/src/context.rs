//! The organisation's context: who works where, who the patients are, and who cares for whom.
//! Enrichment and privacy analytics read it; `ward context import` fills it from FHIR R4
//! resources. Each resource keeps its original JSON beside a typed summary of the elements
//! Ward reasons about.

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ContextKind {
    Patient,
    Practitioner,
    PractitionerRole,
    Organization,
    Encounter,
    CareTeam,
    /// An order for a service (a consult, a test, an imaging study).
    ServiceRequest,
    /// A booked visit, with the people and places taking part.
    Appointment,
    /// A row of the HR roster (employment status, leave, termination): not a FHIR resource.
    Employment,
    /// The privacy officer's determination on a privacy alert (`ward privacy determine`):
    /// Ward's own record, never imported from files.
    PrivacyDetermination,
}

impl ContextKind {
    /// In the order consumers load them: people and departments before what refers to them.
    pub const ALL: [ContextKind; 10] = [
        ContextKind::Patient,
        ContextKind::Practitioner,
        ContextKind::PractitionerRole,
        ContextKind::Organization,
        ContextKind::Encounter,
        ContextKind::CareTeam,
        ContextKind::ServiceRequest,
        ContextKind::Appointment,
        ContextKind::Employment,
        // Last: it names users and patients that the kinds before it define.
        ContextKind::PrivacyDetermination,
    ];

    /// The FHIR resource type name (`Employment` for HR roster rows).
    pub fn as_str(self) -> &'static str {
        match self {
            ContextKind::Patient => "Patient",
            ContextKind::Practitioner => "Practitioner",
            ContextKind::PractitionerRole => "PractitionerRole",
            ContextKind::Organization => "Organization",
            ContextKind::Encounter => "Encounter",
            ContextKind::CareTeam => "CareTeam",
            ContextKind::ServiceRequest => "ServiceRequest",
            ContextKind::Appointment => "Appointment",
            ContextKind::Employment => "Employment",
            ContextKind::PrivacyDetermination => "PrivacyDetermination",
        }
    }

    pub fn parse(resource_type: &str) -> Option<Self> {
        ContextKind::ALL
            .into_iter()
            .find(|k| k.as_str() == resource_type)
    }
}

/// A postal address, reduced to what matching households and neighbours needs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Address {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub line: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
}

/// A person's name as FHIR `HumanName` (the official or first one).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PersonName {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub given: Vec<String>,
}

/// An identifier with its system (an MRN, an NPI, a login name).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Identifier {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// The v2-0203 identifier type code when given (`MR`, `NPI`, `EI` …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_code: Option<String>,
    pub value: String,
}

/// A participant in an encounter or care team.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Participant {
    /// `Practitioner/…`, `PractitionerRole/…`, `Organization/…` as referenced.
    pub reference: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<Timestamp>,
}

/// A participant in an appointment: who or what takes part, and whether they accepted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Attendee {
    /// `Patient/…`, `Practitioner/…`, `PractitionerRole/…`, `Location/…`,
    /// `HealthcareService/…` as referenced.
    pub reference: String,
    /// The participant's `type` (code or text), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// `accepted`, `declined`, `tentative` or `needs-action`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// The elements of each resource Ward reasons about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum ContextSummary {
    Patient {
        identifiers: Vec<Identifier>,
        name: PersonName,
        birth_date: Option<String>,
        address: Option<Address>,
        deceased: bool,
        deceased_at: Option<Timestamp>,
        /// `meta.security` codes (v3 Confidentiality `R`/`V`, ActCode `CEL`, `EMP` …).
        security_labels: Vec<String>,
        /// Next-of-kin and other contacts' family names, for family links.
        contact_names: Vec<PersonName>,
    },
    Practitioner {
        identifiers: Vec<Identifier>,
        name: PersonName,
        birth_date: Option<String>,
        address: Option<Address>,
        active: bool,
    },
    PractitionerRole {
        practitioner: Option<String>,
        organization: Option<String>,
        codes: Vec<String>,
        specialties: Vec<String>,
        active: bool,
        start: Option<Timestamp>,
        end: Option<Timestamp>,
    },
    Organization {
        name: Option<String>,
        part_of: Option<String>,
        types: Vec<String>,
        active: bool,
    },
    Encounter {
        patient: Option<String>,
        status: Option<String>,
        class: Option<String>,
        participants: Vec<Participant>,
        service_provider: Option<String>,
        start: Option<Timestamp>,
        end: Option<Timestamp>,
    },
    CareTeam {
        patient: Option<String>,
        status: Option<String>,
        participants: Vec<Participant>,
        managing_organizations: Vec<String>,
        start: Option<Timestamp>,
        end: Option<Timestamp>,
    },
    /// An order (FHIR `ServiceRequest`): a consult, a test or a study asked for one patient.
    /// Its requester and performers have a reason to open the patient's record while it is
    /// being carried out.
    ServiceRequest {
        patient: Option<String>,
        encounter: Option<String>,
        /// `draft`, `active`, `on-hold`, `revoked`, `completed`, `entered-in-error`, `unknown`.
        status: Option<String>,
        /// `proposal`, `plan`, `order` …
        intent: Option<String>,
        /// `category` and `code`, each concept's first code, else its text.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        categories: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        codes: Vec<String>,
        /// Who asked: `Practitioner/…`, `PractitionerRole/…`, `Organization/…`.
        requester: Option<String>,
        /// Who is to perform it: practitioners, roles, departments (`Organization/…`) or a
        /// `CareTeam/…`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        performers: Vec<String>,
        authored_on: Option<Timestamp>,
        /// `occurrenceDateTime` (start and end alike) or `occurrencePeriod`.
        occurrence_start: Option<Timestamp>,
        occurrence_end: Option<Timestamp>,
    },
    /// A booked visit (FHIR `Appointment`): its patient, the staff, places and services taking
    /// part, and when.
    Appointment {
        /// The first participant that is a `Patient/…`.
        patient: Option<String>,
        /// `proposed`, `pending`, `booked`, `arrived`, `fulfilled`, `cancelled`, `noshow`,
        /// `entered-in-error`, `checked-in`, `waitlist`.
        status: Option<String>,
        participants: Vec<Attendee>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        service_types: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        specialties: Vec<String>,
        start: Option<Timestamp>,
        end: Option<Timestamp>,
        /// The orders (`ServiceRequest/…`) the appointment carries out.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        based_on: Vec<String>,
    },
    /// One row of the HR roster (`context/hr-roster.csv`): the employment behind an EHR login.
    /// HR, not the EHR, knows who left and who is on leave, and an account that outlives its
    /// owner's employment is how terminated staff keep reading records. Filed under
    /// [`ContextKind::PractitionerRole`] (an employment is a practitioner's role at the
    /// organisation for a period), with ids `roster-<login>` that FHIR resources never use.
    Employment {
        /// The EHR login (`u1035`), as in `Practitioner.identifier` and audit events' user.
        login: String,
        #[serde(default)]
        name: PersonName,
        /// The department as HR writes it (a code such as `MED`, or a name).
        #[serde(default)]
        department: Option<String>,
        #[serde(default)]
        role: Option<String>,
        #[serde(default)]
        hired: Option<Timestamp>,
        #[serde(default)]
        terminated: Option<Timestamp>,
        #[serde(default)]
        status: EmploymentStatus,
        #[serde(default)]
        leave_start: Option<Timestamp>,
        #[serde(default)]
        leave_end: Option<Timestamp>,
    },
    /// The privacy officer's determination on a privacy alert, made with
    /// `ward privacy determine` and read back by the privacy detector: an access found
    /// `appropriate` confirms the (user, patient) pair, so the same legitimate pattern stops
    /// alerting until `until`. Ward's own record, not a FHIR resource: ids
    /// `determination-<alert id>` (one determination per alert; a later one replaces it), and
    /// `ward context import` refuses the kind.
    PrivacyDetermination {
        /// The EHR login the alert names.
        user: String,
        /// The patient the alert names (as the alert names it), `None` for a user-level alert.
        #[serde(default)]
        patient: Option<String>,
        /// For a user-level alert (a sweep, a browse of other departments' patients): the
        /// patients its evidence events name, which an `appropriate` determination confirms.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        patients: Vec<String>,
        /// `appropriate`, `policy-violation` or `reportable`.
        determination: String,
        /// The alert decided on.
        alert: String,
        #[serde(default)]
        note: Option<String>,
        /// Who decided (the officer's name as given, else the operating-system user).
        #[serde(default)]
        by: Option<String>,
        decided_at: Timestamp,
        /// The confirmation covers accesses from here (the alert's first access) …
        #[serde(default)]
        from: Option<Timestamp>,
        /// … until here (365 days after the decision unless told otherwise).
        #[serde(default)]
        until: Option<Timestamp>,
    },
}

/// Where an employment stands, as the HR roster says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EmploymentStatus {
    Active,
    Terminated,
    OnLeave,
    /// A status the roster wrote that Ward does not know: treated as neither active nor gone.
    #[default]
    #[serde(other)]
    Unknown,
}

impl ContextSummary {
    pub fn kind(&self) -> ContextKind {
        match self {
            ContextSummary::Patient { .. } => ContextKind::Patient,
            ContextSummary::Practitioner { .. } => ContextKind::Practitioner,
            ContextSummary::PractitionerRole { .. } => ContextKind::PractitionerRole,
            ContextSummary::Organization { .. } => ContextKind::Organization,
            ContextSummary::Encounter { .. } => ContextKind::Encounter,
            ContextSummary::CareTeam { .. } => ContextKind::CareTeam,
            ContextSummary::ServiceRequest { .. } => ContextKind::ServiceRequest,
            ContextSummary::Appointment { .. } => ContextKind::Appointment,
            ContextSummary::Employment { .. } => ContextKind::Employment,
            ContextSummary::PrivacyDetermination { .. } => ContextKind::PrivacyDetermination,
        }
    }
}

/// One context resource: its logical id, summary and original JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextResource {
    pub kind: ContextKind,
    /// The FHIR logical id (`Patient/<id>` is referenced as `kind/id`).
    pub id: String,
    pub summary: ContextSummary,
    /// The resource as imported (JSON). PHI: later issues encrypt it at rest.
    #[serde(with = "crate::quarantine::bytes_lossless")]
    pub raw: Vec<u8>,
}

impl ContextResource {
    /// `Patient/123` style reference.
    pub fn reference(&self) -> String {
        format!("{}/{}", self.kind.as_str(), self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn employment_summary_reads_with_only_its_login_and_keeps_unknown_statuses() {
        let minimal: ContextSummary =
            serde_json::from_str(r#"{"kind":"Employment","login":"u1"}"#).unwrap();
        let ContextSummary::Employment { login, status, .. } = &minimal else {
            panic!("not an employment: {minimal:?}");
        };
        assert_eq!((login.as_str(), *status), ("u1", EmploymentStatus::Unknown));
        assert_eq!(minimal.kind(), ContextKind::Employment);

        let odd: ContextSummary =
            serde_json::from_str(r#"{"kind":"Employment","login":"u2","status":"sabbatical"}"#)
                .unwrap();
        assert!(matches!(
            odd,
            ContextSummary::Employment {
                status: EmploymentStatus::Unknown,
                ..
            }
        ));

        let full = ContextSummary::Employment {
            login: "u3".into(),
            name: PersonName {
                family: Some("Ryan".into()),
                given: vec!["Jacob".into()],
            },
            department: Some("MED".into()),
            role: Some("physician".into()),
            hired: Some(Timestamp(0)),
            terminated: Some(Timestamp(86_400_000)),
            status: EmploymentStatus::OnLeave,
            leave_start: None,
            leave_end: None,
        };
        let text = serde_json::to_string(&full).unwrap();
        assert!(text.contains(r#""status":"on-leave""#), "{text}");
        assert_eq!(serde_json::from_str::<ContextSummary>(&text).unwrap(), full);
    }

    #[test]
    fn privacy_determination_round_trips_and_is_its_own_kind() {
        let decided = ContextSummary::PrivacyDetermination {
            user: "u1".into(),
            patient: Some("pm1".into()),
            patients: Vec::new(),
            determination: "appropriate".into(),
            alert: "a1".into(),
            note: Some("covering shift".into()),
            by: Some("Pat Officer".into()),
            decided_at: Timestamp(86_400_000),
            from: Some(Timestamp(0)),
            until: Some(Timestamp(2 * 86_400_000)),
        };
        assert_eq!(decided.kind(), ContextKind::PrivacyDetermination);
        let text = serde_json::to_string(&decided).unwrap();
        assert!(text.contains(r#""kind":"PrivacyDetermination""#), "{text}");
        assert!(!text.contains("patients"), "{text}");
        assert_eq!(
            serde_json::from_str::<ContextSummary>(&text).unwrap(),
            decided
        );
        assert_eq!(
            ContextKind::parse("PrivacyDetermination"),
            Some(ContextKind::PrivacyDetermination)
        );
        assert_eq!(
            ContextKind::ALL.last(),
            Some(&ContextKind::PrivacyDetermination)
        );
    }
}
