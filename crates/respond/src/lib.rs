//! Incident response and HIPAA breach notification: what happens after an alert.
//!
//! - [`plan`]: versioned response plans (roles with people and deputies, routes from alert
//!   rules to incident types, one playbook of ordered tasks per type), shipped as TOML in
//!   `plans/` and edited by each organisation.
//! - [`incident`]: the [`Responder`] that opens incidents from alerts or by hand, creates the
//!   playbook's tasks, records assessments and law-enforcement delays, computes and stores
//!   deadlines, drafts letters and exports the chain of custody, all through the `Store`.
//! - [`assessment`]: the breach determination of 45 CFR 164.402 (safe harbour, three
//!   exceptions, four-factor risk assessment, presumption of breach).
//! - [`deadlines`]: the notification clock of 164.404–164.412, pure date arithmetic.
//! - [`letter`]: letters to individuals with the content of 164.404(c).
//! - [`states`]: affected individuals counted per State from the patient context.
//! - [`report`]: the incident report as HTML; [`pdf`] prints it to PDF with headless Chromium.
//! - [`review`]: tabletop exercises, post-incident reviews and follow-up actions.
//!
//! Must never read a clock (every instant and date comes in as an argument, so the law's
//! arithmetic is tested on dates alone), touch files or sockets other than through the
//! `Store`, or put PHI into an error or a log. The one exception is [`pdf`], which writes the
//! report to a private temporary directory for Chromium to print and removes it afterwards.

pub mod assessment;
pub mod deadlines;
pub mod incident;
pub mod letter;
pub mod pdf;
pub mod plan;
pub mod report;
pub mod review;
pub mod states;
pub mod watch;

pub use assessment::{AssessmentInput, Conclusion, Determination, determine};
pub use deadlines::{
    Affected, ClockInput, Deadline, DeadlineStatus, LawEnforcementDelay, NoticeKind, Role,
    StatementForm, deadlines,
};
pub use incident::{DelayStatement, Opened, RespondError, Responder};
pub use plan::{IncidentType, Phase, Plan, PlanError};
