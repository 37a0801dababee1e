//! Breach determination under 45 CFR 164.402: is this acquisition, access, use or disclosure of
//! PHI a breach that must be notified?
//!
//! In the order the rule reasons:
//! 1. Only *unsecured* PHI is notifiable (164.402 "unsecured protected health information",
//!    164.404(a)(1)): PHI encrypted or destroyed as the Secretary's guidance specifies, with the
//!    key not compromised, falls under the safe harbour.
//! 2. Three exceptions (164.402(1)(i)–(iii)) take an event out of the definition: an
//!    unintentional acquisition, access or use by a workforce member acting in good faith within
//!    their authority and not further used or disclosed; an inadvertent disclosure between
//!    people authorised at the same entity (or business associate, or organised health care
//!    arrangement) not further used or disclosed; a good-faith belief that the unauthorised
//!    recipient could not reasonably have retained the information.
//! 3. Otherwise the event *is presumed* a breach (164.402(2)) unless a risk assessment of at
//!    least four factors demonstrates a low probability that the PHI has been compromised.
//!
//! Ward records each factor with its rating and the reasoning behind it. It concludes "low
//! probability" only when every factor is rated low and each has its reasoning written down;
//! anything missing or higher leaves the presumption standing. The record is evidence of the
//! determination, so a determination without reasoning is refused rather than stored.

use serde::{Deserialize, Serialize};
use std::fmt;
use ward_model::Timestamp;

/// The four factors of 164.402(2)(i)–(iv).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Factor {
    /// The nature and extent of the PHI involved, including the types of identifiers and the
    /// likelihood of re-identification.
    NatureAndExtent,
    /// The unauthorised person who used the PHI or to whom it was disclosed.
    UnauthorisedRecipient,
    /// Whether the PHI was actually acquired or viewed.
    AcquiredOrViewed,
    /// The extent to which the risk to the PHI has been mitigated.
    Mitigation,
}

impl Factor {
    pub const ALL: [Factor; 4] = [
        Factor::NatureAndExtent,
        Factor::UnauthorisedRecipient,
        Factor::AcquiredOrViewed,
        Factor::Mitigation,
    ];

    pub fn citation(self) -> &'static str {
        match self {
            Factor::NatureAndExtent => "45 CFR 164.402(2)(i)",
            Factor::UnauthorisedRecipient => "45 CFR 164.402(2)(ii)",
            Factor::AcquiredOrViewed => "45 CFR 164.402(2)(iii)",
            Factor::Mitigation => "45 CFR 164.402(2)(iv)",
        }
    }

    /// The question the assessor answers, as the rule puts it.
    pub fn question(self) -> &'static str {
        match self {
            Factor::NatureAndExtent => {
                "What PHI was involved: which identifiers, how sensitive, how likely re-identification?"
            }
            Factor::UnauthorisedRecipient => {
                "Who used the PHI or received it, and are they bound to protect it (a covered entity, a federal agency)?"
            }
            Factor::AcquiredOrViewed => "Was the PHI actually acquired or viewed?",
            Factor::Mitigation => {
                "How far has the risk been mitigated (assurances obtained, PHI returned or destroyed)?"
            }
        }
    }
}

/// How much a factor points toward compromise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    Low,
    Moderate,
    High,
}

/// One factor as assessed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactorAssessment {
    pub factor: Factor,
    pub risk: Risk,
    /// Why: the facts relied on. Required.
    pub reasoning: String,
}

/// The exceptions of 164.402(1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exception {
    /// 164.402(1)(i).
    UnintentionalWorkforceAccess,
    /// 164.402(1)(ii).
    InadvertentDisclosureBetweenAuthorised,
    /// 164.402(1)(iii).
    RecipientCouldNotRetain,
}

impl Exception {
    pub fn citation(self) -> &'static str {
        match self {
            Exception::UnintentionalWorkforceAccess => "45 CFR 164.402(1)(i)",
            Exception::InadvertentDisclosureBetweenAuthorised => "45 CFR 164.402(1)(ii)",
            Exception::RecipientCouldNotRetain => "45 CFR 164.402(1)(iii)",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Exception::UnintentionalWorkforceAccess => {
                "unintentional acquisition, access or use by a workforce member or person acting under the entity's authority, in good faith and within the scope of authority, not further used or disclosed"
            }
            Exception::InadvertentDisclosureBetweenAuthorised => {
                "inadvertent disclosure by a person authorised to access PHI to another person authorised at the same covered entity, business associate or organised health care arrangement, not further used or disclosed"
            }
            Exception::RecipientCouldNotRetain => {
                "good-faith belief that the unauthorised person to whom the disclosure was made would not reasonably have been able to retain the information"
            }
        }
    }
}

/// A claimed exception with the facts that support it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionClaim {
    pub exception: Exception,
    pub reasoning: String,
}

/// How PHI was secured, for the safe harbour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafeHarbour {
    /// The method, as HHS guidance names it (`AES-256 full-disk encryption, FIPS 140-3
    /// validated`, `cross-cut shredding`).
    pub method: String,
    /// Why the key or the means of access was not compromised with the data.
    pub reasoning: String,
}

/// What the assessor brings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AssessmentInput {
    /// Set when the PHI was secured (encrypted, destroyed) per HHS guidance.
    #[serde(default)]
    pub safe_harbour: Option<SafeHarbour>,
    #[serde(default)]
    pub exceptions: Vec<ExceptionClaim>,
    #[serde(default)]
    pub factors: Vec<FactorAssessment>,
}

/// What the assessment concludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "conclusion", rename_all = "snake_case")]
pub enum Conclusion {
    /// A breach of unsecured PHI: notification deadlines run.
    Breach,
    /// Not a breach: the PHI was secured.
    SecuredPhi,
    /// Not a breach: an exception of 164.402(1) applies.
    Excepted { exception: Exception },
    /// Not a breach: the four factors demonstrate a low probability of compromise.
    LowProbabilityOfCompromise,
}

impl Conclusion {
    pub fn is_breach(self) -> bool {
        self == Conclusion::Breach
    }

    /// A word for lists and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Conclusion::Breach => "breach",
            Conclusion::SecuredPhi => "not_breach_secured_phi",
            Conclusion::Excepted { .. } => "not_breach_exception",
            Conclusion::LowProbabilityOfCompromise => "not_breach_low_probability",
        }
    }
}

/// A determination with everything it rests on, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Determination {
    pub conclusion: Conclusion,
    /// The reasoning in order: safe harbour, exceptions, then each factor.
    pub reasons: Vec<String>,
    pub input: AssessmentInput,
    pub assessed_by: String,
    pub assessed_at: Timestamp,
}

/// An assessment that cannot be recorded as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssessmentError {
    /// Every claim and factor needs its reasoning.
    MissingReasoning(String),
    /// A factor was assessed twice.
    DuplicateFactor(Factor),
}

impl fmt::Display for AssessmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AssessmentError::MissingReasoning(what) => {
                write!(
                    f,
                    "{what} has no reasoning; write down the facts it rests on"
                )
            }
            AssessmentError::DuplicateFactor(factor) => {
                write!(f, "the factor {factor:?} is assessed twice; keep one")
            }
        }
    }
}

impl std::error::Error for AssessmentError {}

/// Reaches the determination. Factors not assessed count against a finding of low
/// probability: the rule presumes a breach until the assessment shows otherwise.
pub fn determine(
    input: AssessmentInput,
    assessed_by: &str,
    assessed_at: Timestamp,
) -> Result<Determination, AssessmentError> {
    if let Some(harbour) = &input.safe_harbour
        && (harbour.reasoning.trim().is_empty() || harbour.method.trim().is_empty())
    {
        return Err(AssessmentError::MissingReasoning(
            "the safe-harbour claim".into(),
        ));
    }
    for claim in &input.exceptions {
        if claim.reasoning.trim().is_empty() {
            return Err(AssessmentError::MissingReasoning(format!(
                "the exception {}",
                claim.exception.citation()
            )));
        }
    }
    let mut seen = Vec::new();
    for f in &input.factors {
        if f.reasoning.trim().is_empty() {
            return Err(AssessmentError::MissingReasoning(format!(
                "the factor {}",
                f.factor.citation()
            )));
        }
        if seen.contains(&f.factor) {
            return Err(AssessmentError::DuplicateFactor(f.factor));
        }
        seen.push(f.factor);
    }

    let mut reasons = Vec::new();
    let conclusion = if let Some(harbour) = &input.safe_harbour {
        reasons.push(format!(
            "Safe harbour: the PHI was secured ({}), so it is not unsecured PHI and no notice is required (45 CFR 164.402, 164.404(a)(1)): {}",
            harbour.method, harbour.reasoning
        ));
        Conclusion::SecuredPhi
    } else if let Some(claim) = input.exceptions.first() {
        reasons.push(format!(
            "Exception {} applies ({}): {}",
            claim.exception.citation(),
            claim.exception.description(),
            claim.reasoning
        ));
        Conclusion::Excepted {
            exception: claim.exception,
        }
    } else {
        for factor in Factor::ALL {
            match input.factors.iter().find(|f| f.factor == factor) {
                Some(f) => reasons.push(format!(
                    "{} ({:?} risk): {}",
                    factor.citation(),
                    f.risk,
                    f.reasoning
                )),
                None => reasons.push(format!(
                    "{}: not assessed, so it cannot support a low probability of compromise",
                    factor.citation()
                )),
            }
        }
        let all_low = Factor::ALL.iter().all(|factor| {
            input
                .factors
                .iter()
                .any(|f| f.factor == *factor && f.risk == Risk::Low)
        });
        if all_low {
            reasons.push(
                "Every factor shows low risk: the assessment demonstrates a low probability that the PHI has been compromised (45 CFR 164.402(2)).".into(),
            );
            Conclusion::LowProbabilityOfCompromise
        } else {
            reasons.push(
                "The assessment does not demonstrate a low probability of compromise, so the impermissible use or disclosure is presumed a breach (45 CFR 164.402(2)).".into(),
            );
            Conclusion::Breach
        }
    };
    Ok(Determination {
        conclusion,
        reasons,
        input,
        assessed_by: assessed_by.to_string(),
        assessed_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn factor(factor: Factor, risk: Risk) -> FactorAssessment {
        FactorAssessment {
            factor,
            risk,
            reasoning: format!("facts about {factor:?}"),
        }
    }

    fn all(risk: Risk) -> Vec<FactorAssessment> {
        Factor::ALL.iter().map(|f| factor(*f, risk)).collect()
    }

    fn conclude(input: AssessmentInput) -> Conclusion {
        determine(input, "privacy.officer", Timestamp(0))
            .unwrap()
            .conclusion
    }

    #[test]
    fn every_factor_low_demonstrates_low_probability_of_compromise() {
        let d = determine(
            AssessmentInput {
                factors: all(Risk::Low),
                ..Default::default()
            },
            "po",
            Timestamp(0),
        )
        .unwrap();
        assert_eq!(d.conclusion, Conclusion::LowProbabilityOfCompromise);
        assert_eq!(d.reasons.len(), 5);
        assert!(d.reasons[0].starts_with("45 CFR 164.402(2)(i) (Low risk)"));
    }

    #[test]
    fn one_factor_above_low_leaves_the_breach_presumption_standing() {
        for risky in Factor::ALL {
            let mut factors = all(Risk::Low);
            factors.retain(|f| f.factor != risky);
            factors.push(factor(risky, Risk::Moderate));
            assert_eq!(
                conclude(AssessmentInput {
                    factors,
                    ..Default::default()
                }),
                Conclusion::Breach,
                "{risky:?}"
            );
        }
    }

    #[test]
    fn an_unassessed_factor_cannot_support_low_probability() {
        let mut factors = all(Risk::Low);
        factors.pop();
        let d = determine(
            AssessmentInput {
                factors,
                ..Default::default()
            },
            "po",
            Timestamp(0),
        )
        .unwrap();
        assert_eq!(d.conclusion, Conclusion::Breach);
        assert!(d.reasons[3].contains("not assessed"), "{:?}", d.reasons);
        assert_eq!(conclude(AssessmentInput::default()), Conclusion::Breach);
    }

    #[test]
    fn the_safe_harbour_and_the_exceptions_take_the_event_out_of_the_definition() {
        assert_eq!(
            conclude(AssessmentInput {
                safe_harbour: Some(SafeHarbour {
                    method: "AES-256 full-disk encryption".into(),
                    reasoning: "the laptop was powered off; the key is in the TPM with a PIN"
                        .into(),
                }),
                factors: all(Risk::High),
                ..Default::default()
            }),
            Conclusion::SecuredPhi
        );
        for exception in [
            Exception::UnintentionalWorkforceAccess,
            Exception::InadvertentDisclosureBetweenAuthorised,
            Exception::RecipientCouldNotRetain,
        ] {
            assert_eq!(
                conclude(AssessmentInput {
                    exceptions: vec![ExceptionClaim {
                        exception,
                        reasoning: "facts".into()
                    }],
                    factors: all(Risk::High),
                    ..Default::default()
                }),
                Conclusion::Excepted { exception }
            );
        }
    }

    #[test]
    fn claims_without_reasoning_are_refused() {
        let mut factors = all(Risk::Low);
        factors[2].reasoning = "  ".into();
        assert_eq!(
            determine(
                AssessmentInput {
                    factors,
                    ..Default::default()
                },
                "po",
                Timestamp(0)
            ),
            Err(AssessmentError::MissingReasoning(
                "the factor 45 CFR 164.402(2)(iii)".into()
            ))
        );
        assert!(matches!(
            determine(
                AssessmentInput {
                    exceptions: vec![ExceptionClaim {
                        exception: Exception::RecipientCouldNotRetain,
                        reasoning: String::new()
                    }],
                    ..Default::default()
                },
                "po",
                Timestamp(0)
            ),
            Err(AssessmentError::MissingReasoning(_))
        ));
        let mut twice = all(Risk::Low);
        twice.push(factor(Factor::Mitigation, Risk::Low));
        assert_eq!(
            determine(
                AssessmentInput {
                    factors: twice,
                    ..Default::default()
                },
                "po",
                Timestamp(0)
            ),
            Err(AssessmentError::DuplicateFactor(Factor::Mitigation))
        );
    }
}
