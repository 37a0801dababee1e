//! The [`Responder`]: the steps of a response, each one a few store calls that leave a
//! timeline entry behind. The console and the command line call these; they hold no HIPAA
//! logic of their own.

use crate::assessment::{AssessmentError, AssessmentInput, Determination, determine};
use crate::deadlines::{
    self, Affected, ClockError, ClockInput, Deadline, DeadlineStatus, LawEnforcementDelay, Role,
    StatementForm,
};
use crate::letter::{self, BreachFacts, Letter, MissingContent, Recipient, Sender};
use crate::plan::{IncidentType, Plan, playbook_severity};
use crate::states::affected_by_state;
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::BTreeSet;
use std::fmt;
use ward_model::{Alert, ContextKind, ContextSummary, Severity, Timestamp};
use ward_store::incidents::{
    AssessmentRecord, CustodyEntry, DeadlineRecord, LawEnforcementDelayRecord, LinkKind,
    NewIncident, PendingDeadline, TimelineKind,
};
use ward_store::{Store, StoreError};

/// Why a response step could not be taken.
#[derive(Debug)]
pub enum RespondError {
    Store(StoreError),
    NoSuchIncident(i64),
    /// No alerts were given to open an incident from.
    NoAlerts,
    /// No route of the plan matches the alert's rule: a person picks the incident type.
    Unrouted {
        rule_id: String,
    },
    Assessment(AssessmentError),
    Clock(ClockError),
    Letter(MissingContent),
    /// A law-enforcement statement without the official's identity.
    UnnamedOfficial,
    /// An incident cannot close while notices are due or tasks are open.
    StillOpen {
        pending_notices: usize,
        open_tasks: usize,
    },
    /// A review is for a closed incident.
    NotClosed(i64),
    /// A required field of an exercise or review is empty.
    Incomplete(&'static str),
    /// The standing determination says no breach, so no notice is due.
    NotABreach {
        conclusion: String,
    },
    /// No deadline of this kind (and jurisdiction) runs for the incident.
    NoSuchNotice {
        kind: String,
    },
    /// A notice dated before the discovery or after today.
    NoticeDate(NaiveDate),
}

impl fmt::Display for RespondError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RespondError::Store(e) => e.fmt(f),
            RespondError::NoSuchIncident(id) => write!(f, "there is no incident {id}"),
            RespondError::NoAlerts => f.write_str("no alerts were given to open an incident from"),
            RespondError::Unrouted { rule_id } => write!(
                f,
                "the response plan routes no incident type for rule {rule_id}; choose the type by hand or add a route"
            ),
            RespondError::UnnamedOfficial => f.write_str(
                "a law-enforcement delay must name the official who asked for it (45 CFR 164.412(b))",
            ),
            RespondError::StillOpen {
                pending_notices,
                open_tasks,
            } => write!(
                f,
                "the incident cannot close: {pending_notices} notices not yet given and {open_tasks} tasks neither done nor marked not applicable"
            ),
            RespondError::NotClosed(id) => write!(
                f,
                "incident {id} is not closed; close it before recording its review"
            ),
            RespondError::Incomplete(what) => write!(f, "{what} is empty; fill it in"),
            RespondError::Assessment(e) => e.fmt(f),
            RespondError::Clock(e) => e.fmt(f),
            RespondError::Letter(e) => e.fmt(f),
            RespondError::NoSuchNotice { kind } => write!(
                f,
                "no {kind} notice runs for this incident; compute the deadlines first, or pick one of those listed"
            ),
            RespondError::NoticeDate(on) => write!(
                f,
                "a notice given on {on} is before the breach was discovered or in the future; correct the date"
            ),
            RespondError::NotABreach { conclusion } => write!(
                f,
                "the standing determination is {conclusion}: no notification deadlines run; record a new assessment if facts change"
            ),
        }
    }
}

impl std::error::Error for RespondError {}

impl From<StoreError> for RespondError {
    fn from(e: StoreError) -> Self {
        RespondError::Store(e)
    }
}

pub type Result<T> = std::result::Result<T, RespondError>;

/// A law-enforcement official's statement as the entity documents it (164.412(b) asks for the
/// official's identity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelayStatement {
    /// Name and title of the official.
    pub official: String,
    pub agency: String,
    pub delay: LawEnforcementDelay,
    /// How it was received, reference numbers.
    pub note: String,
}

/// An incident just opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub incident_id: i64,
    pub incident_type: IncidentType,
    pub task_ids: Vec<i64>,
}

/// Runs response steps against a store, following one plan.
pub struct Responder<'a> {
    pub(crate) store: &'a dyn Store,
    pub(crate) plan: &'a Plan,
}

/// The calendar day (UTC) of an instant: the law counts calendar days.
pub fn utc_date(at: Timestamp) -> NaiveDate {
    DateTime::<Utc>::from_timestamp_millis(at.millis())
        .map(|t| t.date_naive())
        .unwrap_or_default()
}

impl<'a> Responder<'a> {
    pub fn new(store: &'a dyn Store, plan: &'a Plan) -> Self {
        Responder { store, plan }
    }

    /// Opens one incident from `alerts` (the first alert's route decides the type; a person
    /// may override it with `incident_type`), attaches them, links the users, patients, hosts
    /// and vendors they name, and creates the playbook's tasks.
    ///
    /// Discovery defaults to the earliest `first_seen` of the alerts: the day Ward's records
    /// show the organisation could have known with reasonable diligence (164.404(a)(2)), which
    /// is also the earlier, safer start for the clock. Give `discovered_at` to record another.
    pub fn open_from_alerts(
        &self,
        alerts: &[Alert],
        incident_type: Option<IncidentType>,
        discovered_at: Option<Timestamp>,
        actor: &str,
        now: Timestamp,
    ) -> Result<Opened> {
        let first = alerts.first().ok_or(RespondError::NoAlerts)?;
        let kind = match incident_type {
            Some(kind) => kind,
            None => self
                .plan
                .route(first)
                .ok_or_else(|| RespondError::Unrouted {
                    rule_id: first.rule_id.clone(),
                })?,
        };
        let playbook = self.plan.playbook(kind);
        let severity = alerts
            .iter()
            .map(|a| a.severity)
            .filter(|s| {
                matches!(
                    s,
                    Severity::Low
                        | Severity::Medium
                        | Severity::High
                        | Severity::Critical
                        | Severity::Fatal
                )
            })
            .max_by_key(|s| s.id())
            .or_else(|| playbook_severity(playbook))
            .unwrap_or(Severity::High);
        let discovered_at = discovered_at
            .unwrap_or_else(|| alerts.iter().map(|a| a.first_seen).min().unwrap_or(now))
            .min(now);
        let mut title = format!("{}: {}", playbook.title, first.title);
        if alerts.len() > 1 {
            title.push_str(&format!(" (and {} more alerts)", alerts.len() - 1));
        }
        let incidents = self.store.incidents();
        let incident_id = incidents.create_incident(&NewIncident {
            title,
            incident_type: kind.as_str().to_string(),
            severity,
            opened_at: now,
            opened_by: actor.to_string(),
            discovered_at,
            plan_version: self.plan.version.clone(),
            body: serde_json::json!({
                "opened_from": "alerts",
                "rules": alerts.iter().map(|a| a.rule_id.as_str()).collect::<BTreeSet<_>>(),
            }),
        })?;
        for alert in alerts {
            incidents.attach_alert(incident_id, &alert.id, actor, now)?;
            let e = &alert.entities;
            let links = [
                (LinkKind::User, &e.user),
                (LinkKind::Patient, &e.patient),
                (LinkKind::Asset, &e.host),
                (LinkKind::Asset, &e.device),
                (LinkKind::Vendor, &e.vendor),
            ];
            for (kind, value) in links {
                if let Some(value) = value {
                    incidents.link_entity(incident_id, kind, value, actor, now)?;
                }
            }
        }
        let task_ids = incidents.add_tasks(incident_id, &self.plan.tasks_for(kind), actor, now)?;
        Ok(Opened {
            incident_id,
            incident_type: kind,
            task_ids,
        })
    }

    /// Opens an incident reported by a person (a lost laptop, a vendor's letter).
    pub fn open_by_hand(
        &self,
        incident_type: IncidentType,
        title: &str,
        discovered_at: Timestamp,
        actor: &str,
        now: Timestamp,
    ) -> Result<Opened> {
        let playbook = self.plan.playbook(incident_type);
        let incidents = self.store.incidents();
        let incident_id = incidents.create_incident(&NewIncident {
            title: title.to_string(),
            incident_type: incident_type.as_str().to_string(),
            severity: playbook_severity(playbook).unwrap_or(Severity::High),
            opened_at: now,
            opened_by: actor.to_string(),
            discovered_at: discovered_at.min(now),
            plan_version: self.plan.version.clone(),
            body: serde_json::json!({ "opened_from": "report" }),
        })?;
        let task_ids =
            incidents.add_tasks(incident_id, &self.plan.tasks_for(incident_type), actor, now)?;
        Ok(Opened {
            incident_id,
            incident_type,
            task_ids,
        })
    }

    pub(crate) fn incident(&self, id: i64) -> Result<ward_store::incidents::IncidentRecord> {
        self.store
            .incidents()
            .get_incident(id)?
            .ok_or(RespondError::NoSuchIncident(id))
    }

    /// Reaches and records the breach determination, then brings the deadlines in line with
    /// it: a breach (re)computes them from the current affected counts (as the covered entity,
    /// or as whatever role they were last computed for); a finding of no breach withdraws the
    /// notices not yet given. Either is written on the timeline; a clock that cannot be
    /// computed (a delay dated before discovery) leaves a timeline note saying why, and the
    /// determination stands.
    pub fn assess(
        &self,
        incident_id: i64,
        input: AssessmentInput,
        actor: &str,
        now: Timestamp,
    ) -> Result<Determination> {
        self.incident(incident_id)?;
        let determination = determine(input, actor, now).map_err(RespondError::Assessment)?;
        let incidents = self.store.incidents();
        incidents.add_assessment(&AssessmentRecord {
            id: 0,
            incident_id,
            assessed_by: actor.to_string(),
            assessed_at: now,
            conclusion: determination.conclusion.as_str().to_string(),
            body: serde_json::to_value(&determination).unwrap_or_default(),
        })?;
        if determination.conclusion.is_breach() {
            let role = self.clock_role(incident_id)?;
            let affected = self.affected(incident_id)?;
            match self.compute_deadlines(incident_id, role, &affected, actor, now) {
                Ok(due) => {
                    incidents.append_timeline(
                        incident_id,
                        TimelineKind::Note,
                        actor,
                        now,
                        &format!(
                            "deadlines recomputed after the assessment: {} notices run",
                            due.len()
                        ),
                    )?;
                }
                Err(RespondError::Clock(e)) => {
                    incidents.append_timeline(
                        incident_id,
                        TimelineKind::Note,
                        actor,
                        now,
                        &format!("deadlines not recomputed after the assessment: {e}"),
                    )?;
                }
                Err(e) => return Err(e),
            }
        } else {
            let kept: Vec<DeadlineRecord> = incidents
                .deadlines(incident_id)?
                .into_iter()
                .filter(|d| d.notified_on.is_some())
                .collect();
            let withdrawn = incidents.deadlines(incident_id)?.len() - kept.len();
            if withdrawn > 0 {
                incidents.set_deadlines(incident_id, &kept, actor, now)?;
                incidents.append_timeline(
                    incident_id,
                    TimelineKind::Note,
                    actor,
                    now,
                    &format!(
                        "{withdrawn} notices not yet given withdrawn: the determination is {}",
                        determination.conclusion.as_str()
                    ),
                )?;
            }
        }
        Ok(determination)
    }

    /// The role the incident's deadlines were last computed for (covered entity until then).
    fn clock_role(&self, incident_id: i64) -> Result<Role> {
        let incident = self.incident(incident_id)?;
        Ok(
            serde_json::from_value(incident.body["clock"]["role"].clone())
                .unwrap_or(Role::CoveredEntity),
        )
    }

    /// Recomputes the deadlines of open incidents whose affected counts (patients linked, their
    /// States, who cannot be reached) have changed since their deadlines were last computed,
    /// writing why on each one's timeline. Returns the incidents recomputed. Incidents whose
    /// deadlines were never computed, or whose standing determination is no breach, are left
    /// alone. `ward serve` runs this with its deadline check.
    pub fn refresh_deadlines(&self, actor: &str, now: Timestamp) -> Result<Vec<i64>> {
        let incidents = self.store.incidents();
        let mut refreshed = Vec::new();
        for incident in incidents.list_incidents(&ward_store::incidents::IncidentQuery {
            limit: Some(10_000),
            ..Default::default()
        })? {
            if incident.status == ward_store::incidents::IncidentStatus::Closed {
                continue;
            }
            let Ok(before) =
                serde_json::from_value::<Affected>(incident.body["clock"]["affected"].clone())
            else {
                continue;
            };
            let after = self.affected(incident.id)?;
            if after == before {
                continue;
            }
            let role = self.clock_role(incident.id)?;
            match self.compute_deadlines(incident.id, role, &after, actor, now) {
                Ok(due) => {
                    incidents.append_timeline(
                        incident.id,
                        TimelineKind::Note,
                        actor,
                        now,
                        &format!(
                            "affected individuals changed ({} to {}; {} to {} without usable contact information): deadlines recomputed, {} notices run",
                            before.total,
                            after.total,
                            before.unreachable,
                            after.unreachable,
                            due.len()
                        ),
                    )?;
                    refreshed.push(incident.id);
                }
                Err(RespondError::NotABreach { .. } | RespondError::Clock(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(refreshed)
    }

    /// Records that a notice was given: which (`kind` and, for media, the State), when and how
    /// (first-class mail, e-mail, web posting, press release …). Refused for a notice that does
    /// not run, a date before discovery or after `now`, or without the method.
    #[allow(clippy::too_many_arguments)]
    pub fn record_notice(
        &self,
        incident_id: i64,
        kind: &str,
        jurisdiction: &str,
        given_on: NaiveDate,
        method: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<()> {
        let incident = self.incident(incident_id)?;
        if method.trim().is_empty() {
            return Err(RespondError::Incomplete("how the notice was given"));
        }
        if given_on < utc_date(incident.discovered_at) || given_on > utc_date(now) {
            return Err(RespondError::NoticeDate(given_on));
        }
        let incidents = self.store.incidents();
        if !incidents.mark_notified(incident_id, kind, jurisdiction, given_on, actor, now)? {
            return Err(RespondError::NoSuchNotice {
                kind: kind.to_string(),
            });
        }
        let mut text = format!("{kind} notice given on {given_on} by {}", method.trim());
        if let Some(kind) = crate::deadlines::NoticeKind::parse(kind)
            && let Some((_, through)) = crate::deadlines::posting_window(kind, given_on)
        {
            text.push_str(&format!(
                "; keep the posting up and the toll-free number answered through {through} (45 CFR 164.404(d)(2)(ii))"
            ));
        }
        incidents.append_timeline(
            incident_id,
            TimelineKind::NotificationSent,
            actor,
            now,
            &text,
        )?;
        Ok(())
    }

    /// Records a law-enforcement statement (164.412), which pauses the clock: deadlines already
    /// computed are recomputed at once (and noted on the timeline).
    pub fn record_law_enforcement_delay(
        &self,
        incident_id: i64,
        statement: &DelayStatement,
        actor: &str,
        now: Timestamp,
    ) -> Result<i64> {
        self.incident(incident_id)?;
        if statement.official.trim().is_empty() {
            return Err(RespondError::UnnamedOfficial);
        }
        let delay = statement.delay;
        let (form, until) = match delay.form {
            StatementForm::Written { until } => ("written", Some(until)),
            StatementForm::Oral => ("oral", None),
        };
        let id = self
            .store
            .incidents()
            .add_law_enforcement_delay(&LawEnforcementDelayRecord {
                id: 0,
                incident_id,
                official: statement.official.clone(),
                agency: statement.agency.clone(),
                form: form.to_string(),
                stated_on: delay.stated_on,
                until,
                recorded_by: actor.to_string(),
                recorded_at: now,
                note: statement.note.clone(),
            })?;
        // Where the clock already runs, the delay pauses it at once.
        let incident = self.incident(incident_id)?;
        let running = !self.store.incidents().deadlines(incident_id)?.is_empty();
        if let (true, Ok(affected)) = (
            running,
            serde_json::from_value::<Affected>(incident.body["clock"]["affected"].clone()),
        ) {
            let role = self.clock_role(incident_id)?;
            match self.compute_deadlines(incident_id, role, &affected, actor, now) {
                Ok(due) => {
                    self.store.incidents().append_timeline(
                        incident_id,
                        TimelineKind::Note,
                        actor,
                        now,
                        &format!(
                            "law-enforcement delay recorded (45 CFR 164.412): deadlines recomputed, {} notices run",
                            due.len()
                        ),
                    )?;
                }
                Err(RespondError::NotABreach { .. } | RespondError::Clock(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(id)
    }

    /// Affected individuals: the patients linked to the incident, counted by State from the
    /// patient context.
    pub fn affected(&self, incident_id: i64) -> Result<Affected> {
        let patients: BTreeSet<String> = self
            .store
            .incidents()
            .incident_links(incident_id)?
            .into_iter()
            .filter(|(kind, _)| *kind == LinkKind::Patient)
            .map(|(_, id)| id)
            .collect();
        let mut context = Vec::with_capacity(patients.len());
        for id in &patients {
            if let Some(resource) = self.store.get_context(ContextKind::Patient, id)? {
                context.push(resource);
            }
        }
        Ok(affected_by_state(&patients, &context))
    }

    /// Computes the deadlines that run for the incident from its discovery date, the affected
    /// counts and the recorded law-enforcement delays, and stores them (keeping notices already
    /// given). Refused when the standing determination is that there was no breach; without
    /// any determination the rule's presumption of breach applies and the clock runs.
    pub fn compute_deadlines(
        &self,
        incident_id: i64,
        role: Role,
        affected: &Affected,
        actor: &str,
        now: Timestamp,
    ) -> Result<Vec<Deadline>> {
        let incident = self.incident(incident_id)?;
        let incidents = self.store.incidents();
        if let Some(last) = incidents.assessments(incident_id)?.last()
            && last.conclusion != crate::assessment::Conclusion::Breach.as_str()
        {
            return Err(RespondError::NotABreach {
                conclusion: last.conclusion.clone(),
            });
        }
        let delays = incidents
            .law_enforcement_delays(incident_id)?
            .into_iter()
            .map(|d| LawEnforcementDelay {
                stated_on: d.stated_on,
                form: match d.until {
                    Some(until) if d.form == "written" => StatementForm::Written { until },
                    _ => StatementForm::Oral,
                },
            })
            .collect();
        let input = ClockInput {
            role,
            discovered_on: utc_date(incident.discovered_at),
            affected: affected.clone(),
            delays,
        };
        let due = deadlines::deadlines(&input).map_err(RespondError::Clock)?;
        let records: Vec<_> = due.iter().map(Deadline::to_record).collect();
        incidents.set_deadlines(incident_id, &records, actor, now)?;
        // What the clock ran on, so a change in the affected counts can be noticed later.
        let mut body = incident.body.clone();
        if !body.is_object() {
            body = serde_json::json!({});
        }
        body["clock"] = serde_json::json!({ "role": role, "affected": affected });
        incidents.update_incident_body(incident_id, &body)?;
        Ok(due)
    }

    /// Overdue and upcoming notices across open incidents, due within `horizon_days` of
    /// `today`, each with its status: what the overview shows and the notifier sends.
    pub fn deadline_board(
        &self,
        today: NaiveDate,
        horizon_days: u64,
    ) -> Result<Vec<(PendingDeadline, DeadlineStatus)>> {
        let until = today
            .checked_add_days(chrono::Days::new(horizon_days))
            .unwrap_or(today);
        Ok(self
            .store
            .incidents()
            .pending_deadlines(until)?
            .into_iter()
            .map(|p| {
                let status = deadlines::status_of(p.deadline.due_on, today, None);
                (p, status)
            })
            .collect())
    }

    /// Drafts the letter to one affected patient (name and address from the patient context)
    /// or, with `patient` `None`, the generic letter.
    pub fn draft_letter(
        &self,
        sender: &Sender,
        facts: &BreachFacts,
        patient: Option<&str>,
    ) -> Result<Letter> {
        let recipient = match patient {
            None => None,
            Some(id) => match self.store.get_context(ContextKind::Patient, id)? {
                Some(resource) => match resource.summary {
                    ContextSummary::Patient { name, address, .. } => {
                        Some(Recipient { name, address })
                    }
                    _ => None,
                },
                None => None,
            },
        };
        letter::render(sender, facts, recipient.as_ref()).map_err(RespondError::Letter)
    }

    /// Drafts the substitute notice (164.404(d)(2)(ii)) for the individuals who cannot be
    /// reached by mail: a web posting or media notice with the toll-free number.
    pub fn draft_substitute_notice(&self, sender: &Sender, facts: &BreachFacts) -> Result<Letter> {
        letter::render_substitute_notice(sender, facts).map_err(RespondError::Letter)
    }

    /// The incident's chain of custody as JSON, for handing over with the evidence; read back
    /// with `serde_json` and checked with `ward_store::incidents::first_broken_custody_link`.
    pub fn export_custody(&self, incident_id: i64) -> Result<String> {
        self.incident(incident_id)?;
        let log: Vec<CustodyEntry> = self.store.incidents().custody_log(incident_id)?;
        Ok(serde_json::to_string_pretty(&serde_json::json!({
            "incident": incident_id,
            "algorithm": "sha256(prev_hash, incident, seq, evidence, action, actor, at, detail, digest)",
            "entries": log,
        }))
        .unwrap_or_default())
    }
}
