//! Testing the plan and learning from incidents: tabletop exercises recorded against a plan
//! version, a post-incident review for each closed incident (NIST SP 800-61r2 3.4.1), and
//! follow-up actions from either, tracked to completion. The plan's last test date is the
//! later of what the plan document says and the last exercise recorded in Ward.

use crate::incident::{RespondError, Responder, Result};
use chrono::NaiveDate;
use ward_model::Timestamp;
use ward_store::incidents::{
    ExerciseRecord, FollowUpRecord, FollowUpSource, IncidentStatus, ReviewRecord, TaskStatus,
    TimelineKind,
};

/// An action agreed in an exercise or review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUp {
    pub title: String,
    /// A person or a plan role.
    pub owner: String,
    pub due_on: NaiveDate,
}

/// A tabletop exercise as held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exercise {
    pub held_on: NaiveDate,
    pub scenario: String,
    pub participants: Vec<String>,
    pub findings: Vec<String>,
    pub follow_ups: Vec<FollowUp>,
}

/// A post-incident review as held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub held_on: NaiveDate,
    pub participants: Vec<String>,
    pub summary: String,
    pub went_well: Vec<String>,
    pub to_improve: Vec<String>,
    pub follow_ups: Vec<FollowUp>,
}

fn blank(text: &str) -> bool {
    text.trim().is_empty()
}

fn check_follow_ups(follow_ups: &[FollowUp]) -> Result<()> {
    if follow_ups
        .iter()
        .any(|f| blank(&f.title) || blank(&f.owner))
    {
        return Err(RespondError::Incomplete("a follow-up's title or owner"));
    }
    Ok(())
}

/// What a post-incident review must have: who took part and what it concluded.
fn check_review(review: &Review) -> Result<()> {
    if blank(&review.summary) {
        return Err(RespondError::Incomplete("the review summary"));
    }
    if review.participants.iter().all(|p| blank(p)) {
        return Err(RespondError::Incomplete("the list of participants"));
    }
    check_follow_ups(&review.follow_ups)
}

impl Responder<'_> {
    /// Records an exercise against the current plan version, with its follow-ups.
    pub fn record_exercise(&self, exercise: &Exercise, actor: &str, now: Timestamp) -> Result<i64> {
        if blank(&exercise.scenario) {
            return Err(RespondError::Incomplete("the exercise scenario"));
        }
        if exercise.participants.iter().all(|p| blank(p)) {
            return Err(RespondError::Incomplete("the list of participants"));
        }
        check_follow_ups(&exercise.follow_ups)?;
        let incidents = self.store.incidents();
        let id = incidents.add_exercise(&ExerciseRecord {
            id: 0,
            plan_version: self.plan.version.clone(),
            held_on: exercise.held_on,
            scenario: exercise.scenario.clone(),
            participants: exercise.participants.clone(),
            findings: exercise.findings.clone(),
            recorded_by: actor.to_string(),
            recorded_at: now,
        })?;
        self.add_follow_ups(FollowUpSource::Exercise(id), &exercise.follow_ups, now)?;
        Ok(id)
    }

    fn add_follow_ups(
        &self,
        source: FollowUpSource,
        follow_ups: &[FollowUp],
        now: Timestamp,
    ) -> Result<()> {
        check_follow_ups(follow_ups)?;
        for f in follow_ups {
            self.store.incidents().add_follow_up(&FollowUpRecord {
                id: 0,
                source,
                title: f.title.clone(),
                owner: f.owner.clone(),
                due_on: f.due_on,
                done_on: None,
                created_at: now,
            })?;
        }
        Ok(())
    }

    /// Closes an incident once every notice that runs has been given and every task is done
    /// or judged not to apply: a closed incident leaves the deadline board, so closing one
    /// with a notice outstanding would hide a legal deadline.
    pub fn close_incident(
        &self,
        incident_id: i64,
        note: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<()> {
        self.incident(incident_id)?;
        let incidents = self.store.incidents();
        let pending_notices = incidents
            .deadlines(incident_id)?
            .iter()
            .filter(|d| d.notified_on.is_none())
            .count();
        let open_tasks = incidents
            .tasks(incident_id)?
            .iter()
            .filter(|t| !matches!(t.status, TaskStatus::Done | TaskStatus::NotApplicable))
            .count();
        if pending_notices > 0 || open_tasks > 0 {
            return Err(RespondError::StillOpen {
                pending_notices,
                open_tasks,
            });
        }
        incidents.set_incident_status(incident_id, IncidentStatus::Closed, actor, now, note)?;
        Ok(())
    }

    /// Closes an incident and records its post-incident review in one step, as the console's
    /// close form does: the review is checked before anything changes, so an incomplete review
    /// leaves the incident open, and an incident that may not close yet (a notice or a task
    /// outstanding) gets no review.
    pub fn close_with_review(
        &self,
        incident_id: i64,
        note: &str,
        review: &Review,
        actor: &str,
        now: Timestamp,
    ) -> Result<()> {
        check_review(review)?;
        self.close_incident(incident_id, note, actor, now)?;
        self.record_review(incident_id, review, actor, now)
    }

    /// Marks a follow-up done on `on`; an incident's follow-up is also written on its
    /// timeline. `false` when there is no such open follow-up.
    pub fn complete_follow_up(
        &self,
        follow_up_id: i64,
        on: NaiveDate,
        actor: &str,
        now: Timestamp,
    ) -> Result<Option<FollowUpRecord>> {
        let incidents = self.store.incidents();
        let Some(open) = incidents
            .follow_ups(true)?
            .into_iter()
            .find(|f| f.id == follow_up_id)
        else {
            return Ok(None);
        };
        if !incidents.complete_follow_up(follow_up_id, on)? {
            return Ok(None);
        }
        if let FollowUpSource::Incident(incident_id) = open.source {
            incidents.append_timeline(
                incident_id,
                TimelineKind::Action,
                actor,
                now,
                &format!("follow-up {follow_up_id} done on {on}: {}", open.title),
            )?;
        }
        Ok(Some(FollowUpRecord {
            done_on: Some(on),
            ..open
        }))
    }

    /// Records the review of a closed incident, with its follow-ups.
    pub fn record_review(
        &self,
        incident_id: i64,
        review: &Review,
        actor: &str,
        now: Timestamp,
    ) -> Result<()> {
        let incident = self.incident(incident_id)?;
        if incident.status != IncidentStatus::Closed {
            return Err(RespondError::NotClosed(incident_id));
        }
        check_review(review)?;
        self.store.incidents().put_review(&ReviewRecord {
            incident_id,
            held_on: review.held_on,
            participants: review.participants.clone(),
            summary: review.summary.clone(),
            went_well: review.went_well.clone(),
            to_improve: review.to_improve.clone(),
            recorded_by: actor.to_string(),
            recorded_at: now,
        })?;
        self.add_follow_ups(
            FollowUpSource::Incident(incident_id),
            &review.follow_ups,
            now,
        )
    }

    /// When the plan was last tested: the plan document's own date or the last exercise
    /// recorded in Ward, whichever is later.
    pub fn plan_last_tested(&self) -> Result<Option<NaiveDate>> {
        let stated = self
            .plan
            .last_tested
            .as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
        let exercised = self
            .store
            .incidents()
            .exercises()?
            .first()
            .map(|e| e.held_on);
        Ok(stated.max(exercised))
    }

    /// Follow-ups not done whose due date is before `today`.
    pub fn overdue_follow_ups(&self, today: NaiveDate) -> Result<Vec<FollowUpRecord>> {
        Ok(self
            .store
            .incidents()
            .follow_ups(true)?
            .into_iter()
            .filter(|f| f.due_on < today)
            .collect())
    }
}
