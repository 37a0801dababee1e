//! Suspicious patterns in one access: what the relationship between the user and the patient
//! says when no explanation applies (and, for personal links, even when one does). Each pattern
//! is a rule with its id, severity, citations and the sentence that tells a privacy officer why.

use super::relations::{
    PatientRecord, Relations, StaffId, StaffRecord, identity_confidence, same_family_name,
    same_household, same_name, same_street_other_house,
};
use ward_model::event::Severity;

/// Security labels that mark a VIP (v3 ActCode `CEL` celebrity; `VIP` as some EHRs write it).
const VIP_LABELS: [&str; 2] = ["CEL", "VIP"];
/// Confidentiality codes of restricted records (v3 Confidentiality `R` restricted, `V` very
/// restricted) and sensitive-information labels (HIV, psychiatry, substance use, sexual and
/// reproductive health, employee).
const SENSITIVE_LABELS: [&str; 7] = ["R", "V", "HIV", "PSY", "SDV", "ETH", "SEX"];

#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    SelfAccess {
        confidence: f32,
    },
    FamilyMember {
        link: FamilyLink,
    },
    CoWorker {
        colleague: StaffId,
        same_department: bool,
        confidence: f32,
    },
    Vip,
    Neighbour,
    Deceased {
        at: Option<i64>,
    },
    Sensitive {
        label: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FamilyLink {
    /// The patient names the user as next of kin (or another contact).
    NextOfKin,
    /// Same family name and home address.
    Household,
    /// Same home address, another family name.
    SameAddress,
}

impl Pattern {
    pub fn rule_id(&self) -> &'static str {
        match self {
            Pattern::SelfAccess { .. } => "privacy.self_access",
            Pattern::FamilyMember { .. } => "privacy.family_member",
            Pattern::CoWorker { .. } => "privacy.co_worker",
            Pattern::Vip => "privacy.vip",
            Pattern::Neighbour => "privacy.neighbour",
            Pattern::Deceased { .. } => "privacy.deceased",
            Pattern::Sensitive { .. } => "privacy.sensitive_record",
        }
    }

    pub fn title(&self) -> &'static str {
        match self {
            Pattern::SelfAccess { .. } => "Staff member opened their own patient record",
            Pattern::FamilyMember { .. } => {
                "Staff member opened a family or household member's record"
            }
            Pattern::CoWorker { .. } => {
                "Staff member opened a co-worker's record without a care relationship"
            }
            Pattern::Vip => "VIP record opened without a care relationship",
            Pattern::Neighbour => "Staff member opened a neighbour's record",
            Pattern::Deceased { .. } => "Deceased patient's record opened without a reason",
            Pattern::Sensitive { .. } => "Restricted record opened without a care relationship",
        }
    }

    pub fn severity(&self) -> Severity {
        match self {
            Pattern::SelfAccess { .. } => Severity::Medium,
            Pattern::FamilyMember { .. } | Pattern::Vip => Severity::High,
            Pattern::CoWorker {
                same_department, ..
            } => {
                if *same_department {
                    Severity::High
                } else {
                    Severity::Medium
                }
            }
            Pattern::Neighbour | Pattern::Deceased { .. } | Pattern::Sensitive { .. } => {
                Severity::Medium
            }
        }
    }

    /// Whether the pattern is a personal link that makes even an explained access a conflict
    /// of interest worth a look (most hospitals forbid opening one's own or family's chart).
    /// A shared address alone is not: apartment buildings put strangers at one address, and
    /// a clinical reason outweighs it.
    pub fn personal(&self) -> bool {
        matches!(
            self,
            Pattern::SelfAccess { .. }
                | Pattern::FamilyMember {
                    link: FamilyLink::NextOfKin | FamilyLink::Household
                }
        )
    }

    /// Why the pattern holds, in a sentence.
    pub fn reason(&self, rel: &Relations, user: &StaffRecord, patient: &PatientRecord) -> String {
        let login = user.login();
        match self {
            Pattern::SelfAccess { confidence } => format!(
                "the patient is {login} themself: the same name and birth date{} (match confidence {confidence:.2})",
                if *confidence >= 0.99 {
                    " and home address"
                } else {
                    ""
                }
            ),
            Pattern::FamilyMember { link } => match link {
                FamilyLink::NextOfKin => format!("the patient names {login} as next of kin"),
                FamilyLink::Household => {
                    format!("the patient shares {login}'s family name and home address")
                }
                FamilyLink::SameAddress => format!("the patient lives at {login}'s home address"),
            },
            Pattern::CoWorker {
                colleague,
                same_department,
                confidence,
            } => {
                let other = rel.staff.get(*colleague as usize);
                let who = other.map_or("a staff member", StaffRecord::login);
                let dept = other
                    .and_then(|o| o.departments.first())
                    .map_or("an unknown department", |&d| rel.dept_label(d));
                format!(
                    "the patient is the co-worker {who} of {dept}{} (matched on name and birth date, confidence {confidence:.2})",
                    if *same_department {
                        format!(", {login}'s own department")
                    } else {
                        String::new()
                    }
                )
            }
            Pattern::Vip => "the record is labelled VIP (celebrity)".to_string(),
            Pattern::Neighbour => format!(
                "the patient lives on {login}'s street ({}), in another house",
                patient
                    .address
                    .as_ref()
                    .and_then(|a| a.postal_code.clone())
                    .map_or_else(|| "same street".to_string(), |p| format!("postal code {p}"))
            ),
            Pattern::Deceased { at } => match at {
                Some(at) => format!(
                    "the patient died on {}",
                    ward_model::Timestamp(*at)
                        .to_rfc3339()
                        .get(..10)
                        .unwrap_or_default()
                ),
                None => "the patient is recorded as deceased".to_string(),
            },
            Pattern::Sensitive { label } => {
                format!("the record carries the confidentiality label {label}")
            }
        }
    }
}

/// Every pattern the access shows, most telling first.
pub fn patterns(
    rel: &Relations,
    identity_threshold: f32,
    user_id: StaffId,
    user: &StaffRecord,
    patient: &PatientRecord,
    t: i64,
) -> Vec<Pattern> {
    let mut out = Vec::new();
    let confidence = identity_confidence(
        &user.name,
        user.birth_date.as_deref(),
        user.address.as_ref(),
        &patient.name,
        patient.birth_date.as_deref(),
        patient.address.as_ref(),
    );
    let is_self = confidence >= identity_threshold;
    if is_self {
        out.push(Pattern::SelfAccess { confidence });
    } else {
        let next_of_kin = patient.contacts.iter().any(|c| same_name(c, &user.name));
        let home = match (&user.address, &patient.address) {
            (Some(a), Some(b)) => same_household(a, b),
            _ => false,
        };
        if next_of_kin {
            out.push(Pattern::FamilyMember {
                link: FamilyLink::NextOfKin,
            });
        } else if home && same_family_name(&user.name, &patient.name) {
            out.push(Pattern::FamilyMember {
                link: FamilyLink::Household,
            });
        } else if home {
            out.push(Pattern::FamilyMember {
                link: FamilyLink::SameAddress,
            });
        }
        if let Some(pattern) = co_worker(rel, identity_threshold, user_id, user, patient) {
            out.push(pattern);
        }
        if !home
            && let (Some(a), Some(b)) = (&user.address, &patient.address)
            && same_street_other_house(a, b)
        {
            out.push(Pattern::Neighbour);
        }
    }
    if patient
        .labels
        .iter()
        .any(|l| VIP_LABELS.contains(&l.as_str()))
    {
        out.push(Pattern::Vip);
    }
    if patient.deceased && patient.deceased_at.is_none_or(|at| at <= t) {
        out.push(Pattern::Deceased {
            at: patient.deceased_at,
        });
    }
    if !out.iter().any(|p| matches!(p, Pattern::Vip))
        && let Some(label) = patient
            .labels
            .iter()
            .find(|l| SENSITIVE_LABELS.contains(&l.as_str()))
    {
        out.push(Pattern::Sensitive {
            label: label.clone(),
        });
    }
    out
}

/// The co-worker the patient is, if any: a staff member other than the user whose name and
/// birth date are the patient's.
fn co_worker(
    rel: &Relations,
    identity_threshold: f32,
    user_id: StaffId,
    user: &StaffRecord,
    patient: &PatientRecord,
) -> Option<Pattern> {
    rel.staff_matching(patient)
        .iter()
        .filter(|&&s| s != user_id)
        .find_map(|&s| {
            let other = rel.staff.get(s as usize)?;
            let confidence = identity_confidence(
                &other.name,
                other.birth_date.as_deref(),
                other.address.as_ref(),
                &patient.name,
                patient.birth_date.as_deref(),
                patient.address.as_ref(),
            );
            (confidence >= identity_threshold).then(|| Pattern::CoWorker {
                colleague: s,
                same_department: other
                    .departments
                    .iter()
                    .any(|d| user.departments.contains(d)),
                confidence,
            })
        })
}
