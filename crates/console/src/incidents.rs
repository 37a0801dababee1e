//! Incidents in the console and the API: the list, one incident's page (timeline, tasks,
//! alerts, breach assessment, deadlines, evidence locker and custody), the forms that move an
//! incident on, the notification letter, the deadline panel of the overview, and the
//! `/api/v1/incidents` and `/api/v1/exercises` twins. Every step is a call into `ward-respond` or the store's
//! `Incidents`; the HIPAA reasoning lives there, not here.
//!
//! Linked patients are masked for roles without the PHI permission; letters and evidence
//! content (which name patients) need [`Permission::ViewIncidentPhi`], and every view that
//! shows a patient unmasked is written to Ward's audit trail before the answer is sent.
//!
//! Must never put evidence content, a letter or a patient id in a log or an error message.

use crate::audit::{self, AuditRecord};
use crate::auth::Principal;
use crate::pages::{Chrome, fmt_time, masker, record_phi_views, render, see_other};
use crate::roles::Permission;
use crate::routes::{Caller, RouteMethod};
use crate::totp::percent_encode;
use crate::{ConsoleError, ConsoleState};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Json, Response};
use axum::{Extension, Form};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use ward_model::event::{api_activity, class};
use ward_model::{Alert, Status, Timestamp};
use ward_respond::assessment::{
    Exception, ExceptionClaim, Factor, FactorAssessment, Risk, SafeHarbour,
};
use ward_respond::deadlines::{NoticeKind, status_of};
use ward_respond::incident::utc_date;
use ward_respond::letter::{BreachFacts, Sender};
use ward_respond::review::{Exercise, FollowUp, Review};
use ward_respond::{
    AssessmentInput, DeadlineStatus, DelayStatement, IncidentType, LawEnforcementDelay, Plan,
    RespondError, Responder, Role as ClockRole, StatementForm,
};
use ward_store::Store;
use ward_store::incidents::{
    AssessmentRecord, CustodyAction, DeadlineRecord, EvidenceRecord, EvidenceVerification,
    FollowUpRecord, FollowUpSource, IncidentQuery, IncidentRecord, IncidentStatus, LinkKind,
    NewEvidence, ReviewRecord, TaskRecord, TaskStatus, TimelineEntry, hex,
};

type PageResult = Result<Response, ConsoleError>;

impl ConsoleState {
    /// Store work on a blocking thread with the response plan the console follows
    /// ([`crate::ConsoleOptions::plan`]: the organisation's edited plan, or the shipped one).
    async fn planned<T, F>(&self, work: F) -> Result<T, ConsoleError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store, &Plan) -> Result<T, ConsoleError> + Send + 'static,
    {
        let plan = std::sync::Arc::clone(&self.options().plan);
        self.blocking(move |store| work(store, &plan)).await
    }
}

/// Deadlines due within this many days are on the overview's panel (overdue ones always).
const BOARD_HORIZON_DAYS: u64 = 60;

/// Largest text evidence taken from the form: the route middleware reads at most 64 KiB of a
/// form to find its CSRF field, and the rest of the form must fit beside it.
const MAX_TEXT_EVIDENCE_BYTES: usize = 60 * 1024;

fn respond_error(e: RespondError) -> ConsoleError {
    match e {
        RespondError::Store(e) => ConsoleError::Store(e),
        RespondError::NoSuchIncident(_) => ConsoleError::NotFound,
        // Responder messages name rules, elements and counts, never PHI.
        other => ConsoleError::BadRequest(other.to_string()),
    }
}

fn parse_id(text: &str) -> Result<i64, ConsoleError> {
    text.parse().map_err(|_| ConsoleError::NotFound)
}

fn today(state: &ConsoleState) -> NaiveDate {
    utc_date(state.now())
}

fn incident_href(id: i64) -> String {
    format!("/incidents/{id}")
}

/// Records a change to an incident in Ward's audit trail.
async fn audit_change(
    state: &ConsoleState,
    p: &Principal,
    place: &str,
    incident_id: i64,
    detail: String,
) -> Result<(), ConsoleError> {
    audit::record(
        state,
        vec![AuditRecord::alert_change(
            &p.audit_name(),
            p.ip.clone(),
            place,
            &format!("incident:{incident_id}"),
            detail,
        )],
    )
    .await
}

fn load(store: &dyn Store, id: i64) -> Result<IncidentRecord, ConsoleError> {
    store
        .incidents()
        .get_incident(id)?
        .ok_or(ConsoleError::NotFound)
}

/// The first deadline not yet met, soonest first; on the same day the notice to the
/// individuals, which the others follow.
fn next_deadline(deadlines: &[DeadlineRecord]) -> Option<&DeadlineRecord> {
    deadlines
        .iter()
        .filter(|d| d.notified_on.is_none())
        .min_by_key(|d| (d.due_on, d.kind != "individuals"))
}

fn notice_label(d: &DeadlineRecord) -> String {
    if d.jurisdiction.is_empty() {
        d.kind.clone()
    } else {
        format!("{} ({})", d.kind, d.jurisdiction)
    }
}

/// A deadline's standing as a CSS class and words.
fn standing(status: DeadlineStatus) -> (&'static str, String) {
    match status {
        DeadlineStatus::Met { on, late: false } => ("met", format!("given on {on}")),
        DeadlineStatus::Met { on, late: true } => ("late", format!("given late, on {on}")),
        DeadlineStatus::Overdue { days } => ("overdue", format!("overdue by {days} days")),
        DeadlineStatus::DueSoon { days_left } => ("due-soon", format!("due in {days_left} days")),
        DeadlineStatus::Upcoming { days_left } => ("upcoming", format!("due in {days_left} days")),
    }
}

fn status_json(status: DeadlineStatus) -> &'static str {
    match status {
        DeadlineStatus::Met { late: false, .. } => "met",
        DeadlineStatus::Met { late: true, .. } => "met_late",
        DeadlineStatus::Overdue { .. } => "overdue",
        DeadlineStatus::DueSoon { .. } => "due_soon",
        DeadlineStatus::Upcoming { .. } => "upcoming",
    }
}

// ---------------------------------------------------------------------------------------------
// The overview's panel

/// One row of the overview's deadline panel.
pub(crate) struct BoardRow {
    pub(crate) href: String,
    pub(crate) title: String,
    pub(crate) notice: String,
    pub(crate) due_on: String,
    pub(crate) class: &'static str,
    pub(crate) standing: String,
    pub(crate) citation: String,
}

/// Overdue and upcoming notices for the overview, `None` for roles that do not see incidents.
pub(crate) async fn board(
    state: &ConsoleState,
    p: &Principal,
) -> Result<Option<Vec<BoardRow>>, ConsoleError> {
    if !p.role.allows(Permission::ViewIncidents) {
        return Ok(None);
    }
    let today = today(state);
    let rows = state
        .planned(move |store, plan| {
            Responder::new(store, plan)
                .deadline_board(today, BOARD_HORIZON_DAYS)
                .map_err(respond_error)
        })
        .await?;
    Ok(Some(
        rows.into_iter()
            .map(|(pending, status)| {
                let (class, standing) = standing(status);
                BoardRow {
                    href: incident_href(pending.incident_id),
                    title: pending.incident_title,
                    notice: notice_label(&pending.deadline),
                    due_on: pending.deadline.due_on.to_string(),
                    class,
                    standing,
                    citation: pending.deadline.citation,
                }
            })
            .collect(),
    ))
}

// ---------------------------------------------------------------------------------------------
// The list

struct ListRow {
    href: String,
    id: i64,
    title: String,
    status: &'static str,
    severity: &'static str,
    incident_type: String,
    opened: String,
    next_deadline: Option<NextView>,
}

struct NextView {
    notice: String,
    standing: String,
    class: &'static str,
}

#[derive(Template)]
#[template(path = "incidents.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<ListRow>,
    can_manage: bool,
    can_work: bool,
    types: Vec<&'static str>,
    today: String,
    plan: PlanView,
    exercises: Vec<ExerciseView>,
    exercise_follow_ups: Vec<FollowUpView>,
}

/// The response plan the incidents follow, and when it was last tested.
struct PlanView {
    name: String,
    version: String,
    last_tested: Option<String>,
    unassigned_roles: Vec<String>,
}

struct ExerciseView {
    held_on: String,
    scenario: String,
    plan_version: String,
    participants: String,
    findings: Vec<String>,
}

/// Incidents with their next unmet deadline, newest first.
fn list_with_deadlines(
    store: &dyn Store,
) -> Result<Vec<(IncidentRecord, Option<DeadlineRecord>)>, ConsoleError> {
    let incidents = store.incidents();
    let list = incidents.list_incidents(&IncidentQuery {
        limit: Some(500),
        ..Default::default()
    })?;
    let mut out = Vec::with_capacity(list.len());
    for incident in list {
        let deadlines = incidents.deadlines(incident.id)?;
        let next = next_deadline(&deadlines).cloned();
        out.push((incident, next));
    }
    Ok(out)
}

pub(crate) async fn list(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let today = today(&state);
    let list = state.blocking(list_with_deadlines).await?;
    let (plan, exercises, exercise_follow_ups) = state
        .planned(move |store, plan| {
            let last_tested = Responder::new(store, plan)
                .plan_last_tested()
                .map_err(respond_error)?;
            let view = PlanView {
                name: plan.name.clone(),
                version: plan.version.clone(),
                last_tested: last_tested.map(|d| d.to_string()),
                unassigned_roles: plan
                    .unassigned_roles()
                    .into_iter()
                    .map(String::from)
                    .collect(),
            };
            let incidents = store.incidents();
            let exercises: Vec<ExerciseView> = incidents
                .exercises()?
                .into_iter()
                .take(10)
                .map(|e| ExerciseView {
                    held_on: e.held_on.to_string(),
                    scenario: e.scenario,
                    plan_version: e.plan_version,
                    participants: e.participants.join(", "),
                    findings: e.findings,
                })
                .collect();
            let follow_ups: Vec<FollowUpView> = incidents
                .follow_ups(true)?
                .iter()
                .filter(|f| matches!(f.source, FollowUpSource::Exercise(_)))
                .map(|f| follow_up_view(f, today))
                .collect();
            Ok((view, exercises, follow_ups))
        })
        .await?;
    let rows = list
        .into_iter()
        .map(|(i, next)| ListRow {
            href: incident_href(i.id),
            id: i.id,
            title: i.title,
            status: i.status.as_str(),
            severity: i.severity.as_str(),
            incident_type: i.incident_type,
            opened: fmt_time(i.opened_at),
            next_deadline: next.map(|d| {
                let (class, standing) = standing(status_of(d.due_on, today, None));
                NextView {
                    notice: format!("{} by {}", notice_label(&d), d.due_on),
                    standing,
                    class,
                }
            }),
        })
        .collect();
    render(&ListPage {
        chrome: Chrome::new(&p, "/incidents", "Incidents"),
        rows,
        can_manage: p.role.allows(Permission::ManageIncidents),
        can_work: p.role.allows(Permission::WorkIncidents),
        types: IncidentType::ALL.iter().map(|t| t.as_str()).collect(),
        today: today.to_string(),
        plan,
        exercises,
        exercise_follow_ups,
    })
}

// ---------------------------------------------------------------------------------------------
// Opening

#[derive(Deserialize)]
pub(crate) struct HandForm {
    incident_type: String,
    title: String,
    /// A calendar date; empty means today.
    #[serde(default)]
    discovered_on: String,
}

fn date_field(text: &str, what: &str) -> Result<Option<NaiveDate>, ConsoleError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| ConsoleError::BadRequest(format!("{what} must be a date like 2026-11-28")))
}

fn start_of(day: NaiveDate) -> Timestamp {
    Timestamp(
        day.and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp_millis())
            .unwrap_or_default(),
    )
}

fn incident_type(text: &str) -> Result<Option<IncidentType>, ConsoleError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    IncidentType::parse(text)
        .map(Some)
        .ok_or_else(|| ConsoleError::BadRequest("unknown incident type".into()))
}

pub(crate) async fn open_by_hand(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Form(form): Form<HandForm>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let kind = incident_type(&form.incident_type)?
        .ok_or_else(|| ConsoleError::BadRequest("choose the incident type".into()))?;
    let title = form.title.trim().to_string();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(ConsoleError::BadRequest(
            "give a title of at most 200 characters".into(),
        ));
    }
    let now = state.now();
    let discovered = date_field(&form.discovered_on, "the discovery date")?
        .map(start_of)
        .unwrap_or(now);
    let actor = p.audit_name();
    let opened = state
        .planned(move |store, plan| {
            Responder::new(store, plan)
                .open_by_hand(kind, &title, discovered, &actor, now)
                .map_err(respond_error)
        })
        .await?;
    audit_change(
        &state,
        &p,
        "POST /incidents",
        opened.incident_id,
        format!("incident opened by hand ({})", kind.as_str()),
    )
    .await?;
    Ok(see_other(&incident_href(opened.incident_id)))
}

#[derive(Deserialize)]
pub(crate) struct FromAlertForm {
    /// Empty: the response plan's route decides.
    #[serde(default)]
    incident_type: String,
}

/// Opens one incident from alerts named by id; `NotFound` when one does not exist.
async fn open_from(
    state: &ConsoleState,
    p: &Principal,
    alert_ids: Vec<String>,
    kind: Option<IncidentType>,
) -> Result<ward_respond::Opened, ConsoleError> {
    let now = state.now();
    let actor = p.audit_name();
    state
        .planned(move |store, plan| {
            let mut alerts: Vec<Alert> = Vec::with_capacity(alert_ids.len());
            for id in &alert_ids {
                alerts.push(store.get_alert(id)?.ok_or(ConsoleError::NotFound)?);
            }
            Responder::new(store, plan)
                .open_from_alerts(&alerts, kind, None, &actor, now)
                .map_err(respond_error)
        })
        .await
}

pub(crate) async fn open_from_alert(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(alert_id): Path<String>,
    Form(form): Form<FromAlertForm>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let kind = incident_type(&form.incident_type)?;
    let opened = open_from(&state, &p, vec![alert_id.clone()], kind).await?;
    audit_change(
        &state,
        &p,
        "POST /alerts/{id}/incident",
        opened.incident_id,
        format!(
            "incident opened from alert {alert_id} ({})",
            opened.incident_type.as_str()
        ),
    )
    .await?;
    Ok(see_other(&incident_href(opened.incident_id)))
}

// ---------------------------------------------------------------------------------------------
// One incident

/// Everything one incident's page and answer show, read in one blocking call.
struct Gathered {
    incident: IncidentRecord,
    alerts: Vec<(String, Option<Alert>)>,
    links: Vec<(LinkKind, String)>,
    tasks: Vec<TaskRecord>,
    timeline: Vec<TimelineEntry>,
    evidence: Vec<EvidenceRecord>,
    custody_entries: usize,
    last_verified: Option<(Timestamp, String)>,
    assessment: Option<AssessmentRecord>,
    deadlines: Vec<DeadlineRecord>,
    delays: Vec<ward_store::incidents::LawEnforcementDelayRecord>,
    affected: ward_respond::Affected,
    review: Option<ReviewRecord>,
    follow_ups: Vec<FollowUpRecord>,
}

fn gather(store: &dyn Store, plan: &Plan, id: i64) -> Result<Gathered, ConsoleError> {
    let incident = load(store, id)?;
    let incidents = store.incidents();
    let mut alerts = Vec::new();
    for alert_id in incidents.incident_alerts(id)? {
        let alert = store.get_alert(&alert_id)?;
        alerts.push((alert_id, alert));
    }
    let custody = incidents.custody_log(id)?;
    let last_verified = custody
        .iter()
        .rev()
        .find(|e| e.action == CustodyAction::Verified)
        .map(|e| (e.at, e.actor.clone()));
    Ok(Gathered {
        alerts,
        links: incidents.incident_links(id)?,
        tasks: incidents.tasks(id)?,
        timeline: incidents.timeline(id)?,
        evidence: incidents.list_evidence(id)?,
        custody_entries: custody.len(),
        last_verified,
        assessment: incidents.assessments(id)?.pop(),
        deadlines: incidents.deadlines(id)?,
        delays: incidents.law_enforcement_delays(id)?,
        review: incidents.review(id)?,
        follow_ups: incidents
            .follow_ups(false)?
            .into_iter()
            .filter(|f| f.source == FollowUpSource::Incident(id))
            .collect(),
        affected: Responder::new(store, plan)
            .affected(id)
            .map_err(respond_error)?,
        incident,
    })
}

struct AlertView {
    href: String,
    id: String,
    title: String,
    severity: &'static str,
    status: &'static str,
}

struct LinkView {
    kind: &'static str,
    value: String,
}

struct TaskView {
    id: i64,
    phase: String,
    title: String,
    detail: String,
    role: String,
    assignee: String,
    status: &'static str,
    open: bool,
}

struct TimelineView {
    at: String,
    actor: String,
    kind: &'static str,
    text: String,
}

struct EvidenceView {
    id: i64,
    name: String,
    media_type: String,
    size: u64,
    sha256: String,
    added_by: String,
    added_at: String,
}

struct DeadlineView {
    notice: String,
    due_on: String,
    citation: String,
    explanation: String,
    class: &'static str,
    standing: String,
}

struct FactorView {
    factor: String,
    risk: String,
    reasoning: String,
}

struct AssessmentView {
    conclusion: String,
    assessed_by: String,
    assessed_at: String,
    reasons: Vec<String>,
    factors: Vec<FactorView>,
}

fn assessment_view(a: &AssessmentRecord) -> AssessmentView {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    AssessmentView {
        conclusion: a.conclusion.clone(),
        assessed_by: a.assessed_by.clone(),
        assessed_at: fmt_time(a.assessed_at),
        reasons: a.body["reasons"]
            .as_array()
            .map(|r| r.iter().map(text).collect())
            .unwrap_or_default(),
        factors: a.body["input"]["factors"]
            .as_array()
            .map(|f| {
                f.iter()
                    .map(|f| FactorView {
                        factor: text(&f["factor"]),
                        risk: text(&f["risk"]),
                        reasoning: text(&f["reasoning"]),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

struct NoticeChoice {
    value: String,
    label: String,
}

struct ReviewView {
    held_on: String,
    participants: String,
    summary: String,
    went_well: Vec<String>,
    to_improve: Vec<String>,
    recorded: String,
}

struct FollowUpView {
    id: i64,
    title: String,
    owner: String,
    due_on: String,
    done_on: String,
    overdue: bool,
}

fn follow_up_view(f: &FollowUpRecord, today: NaiveDate) -> FollowUpView {
    FollowUpView {
        id: f.id,
        title: f.title.clone(),
        owner: f.owner.clone(),
        due_on: f.due_on.to_string(),
        done_on: f.done_on.map(|d| d.to_string()).unwrap_or_default(),
        overdue: f.done_on.is_none() && f.due_on < today,
    }
}

struct DelayView {
    official: String,
    agency: String,
    form: String,
    stated_on: String,
    until: String,
}

#[derive(Template)]
#[template(path = "incident.html")]
struct DetailPage {
    chrome: Chrome,
    id: i64,
    href: String,
    title: String,
    status: &'static str,
    severity: &'static str,
    incident_type: String,
    opened: String,
    opened_by: String,
    discovered: String,
    plan_version: String,
    alerts: Vec<AlertView>,
    links: Vec<LinkView>,
    affected_total: u64,
    affected_by_state: Vec<StateCount>,
    tasks: Vec<TaskView>,
    timeline: Vec<TimelineView>,
    evidence: Vec<EvidenceView>,
    custody_entries: usize,
    last_verified: Option<String>,
    verification: Option<Verification>,
    assessment: Option<AssessmentView>,
    deadlines: Vec<DeadlineView>,
    delays: Vec<DelayView>,
    can_work: bool,
    can_manage: bool,
    can_phi: bool,
    factors: Vec<FactorForm>,
    closed: bool,
    notices_open: Vec<NoticeChoice>,
    review: Option<ReviewView>,
    follow_ups: Vec<FollowUpView>,
    today: String,
    unreachable: u64,
}

struct StateCount {
    state: String,
    count: u64,
}

/// What a verification just run found.
struct Verification {
    ok: bool,
    text: String,
}

struct FactorForm {
    key: &'static str,
    citation: &'static str,
    question: &'static str,
}

/// Renders one incident's page; `verification` is the result of a verification just run.
async fn detail_page(
    state: &ConsoleState,
    p: &Principal,
    id: i64,
    verification: Option<Verification>,
) -> PageResult {
    let g = state
        .planned(move |store, plan| gather(store, plan, id))
        .await?;
    let masker = masker(state, p);
    let mut shown = BTreeSet::new();
    let links = g
        .links
        .iter()
        .map(|(kind, value)| LinkView {
            kind: kind.as_str(),
            value: if *kind == LinkKind::Patient {
                if !masker.enabled {
                    shown.insert(value.clone());
                }
                masker.patient_id(value)
            } else {
                value.clone()
            },
        })
        .collect();
    record_phi_views(state, p, "GET /incidents/{id}", shown).await?;
    let today = today(state);
    let i = &g.incident;
    render(&DetailPage {
        chrome: Chrome::new(p, "/incidents", &format!("Incident {}", i.id)),
        id: i.id,
        href: incident_href(i.id),
        title: i.title.clone(),
        status: i.status.as_str(),
        severity: i.severity.as_str(),
        incident_type: i.incident_type.clone(),
        opened: fmt_time(i.opened_at),
        opened_by: i.opened_by.clone(),
        discovered: utc_date(i.discovered_at).to_string(),
        plan_version: i.plan_version.clone(),
        alerts: g
            .alerts
            .iter()
            .map(|(id, alert)| AlertView {
                href: format!("/alerts/{}", percent_encode(id)),
                id: id.clone(),
                title: alert
                    .as_ref()
                    .map_or("(no longer stored)".into(), |a| a.title.clone()),
                severity: alert.as_ref().map_or("unknown", |a| a.severity.as_str()),
                status: alert.as_ref().map_or("", |a| a.status.as_str()),
            })
            .collect(),
        links,
        affected_total: g.affected.total,
        affected_by_state: g
            .affected
            .by_state
            .iter()
            .map(|(s, n)| StateCount {
                state: s.clone(),
                count: *n,
            })
            .collect(),
        tasks: g
            .tasks
            .iter()
            .map(|t| TaskView {
                id: t.id,
                phase: t.phase.clone(),
                title: t.title.clone(),
                detail: t.detail.clone(),
                role: t.role.clone(),
                assignee: t.assignee.clone().unwrap_or_else(|| "unassigned".into()),
                status: t.status.as_str(),
                open: matches!(t.status, TaskStatus::Todo | TaskStatus::InProgress),
            })
            .collect(),
        timeline: g
            .timeline
            .iter()
            .map(|e| TimelineView {
                at: fmt_time(e.at),
                actor: e.actor.clone(),
                kind: e.kind.as_str(),
                text: e.text.clone(),
            })
            .collect(),
        evidence: g
            .evidence
            .iter()
            .map(|e| EvidenceView {
                id: e.id,
                name: e.name.clone(),
                media_type: e.media_type.clone(),
                size: e.size,
                sha256: hex(&e.sha256),
                added_by: e.added_by.clone(),
                added_at: fmt_time(e.added_at),
            })
            .collect(),
        custody_entries: g.custody_entries,
        last_verified: g
            .last_verified
            .as_ref()
            .map(|(at, by)| format!("{} by {by}", fmt_time(*at))),
        verification,
        assessment: g.assessment.as_ref().map(assessment_view),
        deadlines: g
            .deadlines
            .iter()
            .map(|d| {
                let (class, standing) = standing(status_of(d.due_on, today, d.notified_on));
                DeadlineView {
                    notice: notice_label(d),
                    due_on: d.due_on.to_string(),
                    citation: d.citation.clone(),
                    explanation: d.explanation.clone(),
                    class,
                    standing,
                }
            })
            .collect(),
        delays: g
            .delays
            .iter()
            .map(|d| DelayView {
                official: d.official.clone(),
                agency: d.agency.clone(),
                form: d.form.clone(),
                stated_on: d.stated_on.to_string(),
                until: d.until.map(|u| u.to_string()).unwrap_or_default(),
            })
            .collect(),
        can_work: p.role.allows(Permission::WorkIncidents),
        can_manage: p.role.allows(Permission::ManageIncidents),
        can_phi: p.role.allows(Permission::ViewIncidentPhi),
        closed: i.status == IncidentStatus::Closed,
        notices_open: g
            .deadlines
            .iter()
            .filter(|d| d.notified_on.is_none())
            .map(|d| NoticeChoice {
                value: if d.jurisdiction.is_empty() {
                    d.kind.clone()
                } else {
                    format!("{}|{}", d.kind, d.jurisdiction)
                },
                label: format!("{} (due {})", notice_label(d), d.due_on),
            })
            .collect(),
        review: g.review.as_ref().map(|r| ReviewView {
            held_on: r.held_on.to_string(),
            participants: r.participants.join(", "),
            summary: r.summary.clone(),
            went_well: r.went_well.clone(),
            to_improve: r.to_improve.clone(),
            recorded: format!("{} by {}", fmt_time(r.recorded_at), r.recorded_by),
        }),
        follow_ups: g
            .follow_ups
            .iter()
            .map(|f| follow_up_view(f, today))
            .collect(),
        today: today.to_string(),
        unreachable: g.affected.unreachable,
        factors: Factor::ALL
            .iter()
            .map(|f| FactorForm {
                key: factor_key(*f),
                citation: f.citation(),
                question: f.question(),
            })
            .collect(),
    })
}

fn factor_key(f: Factor) -> &'static str {
    match f {
        Factor::NatureAndExtent => "nature_and_extent",
        Factor::UnauthorisedRecipient => "unauthorised_recipient",
        Factor::AcquiredOrViewed => "acquired_or_viewed",
        Factor::Mitigation => "mitigation",
    }
}

pub(crate) async fn detail(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> PageResult {
    let p = caller.principal()?.clone();
    detail_page(&state, &p, parse_id(&id)?, None).await
}

// ---------------------------------------------------------------------------------------------
// Tasks, evidence, verification

#[derive(Deserialize)]
pub(crate) struct TaskForm {
    task_id: i64,
    status: String,
}

pub(crate) async fn task(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Form(form): Form<TaskForm>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let id = parse_id(&id)?;
    let status = TaskStatus::parse(&form.status).ok_or_else(|| {
        ConsoleError::BadRequest("status must be todo, in_progress, done or not_applicable".into())
    })?;
    let now = state.now();
    let actor = p.audit_name();
    let task_id = form.task_id;
    state
        .blocking(move |store| {
            load(store, id)?;
            let incidents = store.incidents();
            // The task must belong to this incident: a form for one incident moves no other.
            if !incidents.tasks(id)?.iter().any(|t| t.id == task_id) {
                return Err(ConsoleError::NotFound);
            }
            incidents.update_task(task_id, status, None, &actor, now)?;
            Ok(())
        })
        .await?;
    audit_change(
        &state,
        &p,
        "POST /incidents/{id}/task",
        id,
        format!("task {task_id} set to {}", status.as_str()),
    )
    .await?;
    Ok(see_other(&incident_href(id)))
}

#[derive(Deserialize)]
pub(crate) struct EvidenceForm {
    name: String,
    content: String,
}

pub(crate) async fn add_evidence(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Form(form): Form<EvidenceForm>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let id = parse_id(&id)?;
    let name = form.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ConsoleError::BadRequest(
            "name the evidence in at most 200 characters".into(),
        ));
    }
    if form.content.is_empty() || form.content.len() > MAX_TEXT_EVIDENCE_BYTES {
        return Err(ConsoleError::BadRequest(format!(
            "text evidence must be 1 to {MAX_TEXT_EVIDENCE_BYTES} bytes; add larger files with the command line"
        )));
    }
    let evidence = NewEvidence {
        name,
        media_type: "text/plain; charset=utf-8".into(),
        content: form.content.into_bytes(),
        added_by: p.audit_name(),
        added_at: state.now(),
    };
    let record = state
        .blocking(move |store| {
            load(store, id)?;
            Ok(store.incidents().add_evidence(id, &evidence)?)
        })
        .await?;
    audit_change(
        &state,
        &p,
        "POST /incidents/{id}/evidence",
        id,
        format!(
            "evidence {} added, sha256 {}",
            record.id,
            hex(&record.sha256)
        ),
    )
    .await?;
    Ok(see_other(&incident_href(id)))
}

pub(crate) async fn verify(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let id = parse_id(&id)?;
    let now = state.now();
    let actor = p.audit_name();
    let result = state
        .blocking(move |store| {
            load(store, id)?;
            Ok(store.incidents().verify_evidence(id, &actor, now)?)
        })
        .await?;
    let outcome = match result {
        EvidenceVerification::Intact {
            files,
            custody_entries,
        } => Verification {
            ok: true,
            text: format!(
                "intact: {files} files match their SHA-256 and {custody_entries} custody entries chain"
            ),
        },
        EvidenceVerification::Failed(failure) => Verification {
            ok: false,
            text: format!("FAILED: {failure}"),
        },
    };
    audit_change(
        &state,
        &p,
        "POST /incidents/{id}/verify",
        id,
        format!(
            "evidence verified: {}",
            if outcome.ok { "intact" } else { "failed" }
        ),
    )
    .await?;
    detail_page(&state, &p, id, Some(outcome)).await
}

#[derive(Deserialize)]
pub(crate) struct EvidenceQuery {
    item: i64,
}

#[derive(Template)]
#[template(path = "incident_evidence.html")]
struct EvidencePage {
    chrome: Chrome,
    href: String,
    name: String,
    sha256: String,
    content: String,
}

/// Patients linked to an incident: whose data its letters and evidence may show.
fn linked_patients(store: &dyn Store, id: i64) -> Result<BTreeSet<String>, ConsoleError> {
    Ok(store
        .incidents()
        .incident_links(id)?
        .into_iter()
        .filter(|(k, _)| *k == LinkKind::Patient)
        .map(|(_, v)| v)
        .collect())
}

pub(crate) async fn evidence_content(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<EvidenceQuery>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let id = parse_id(&id)?;
    let item = q.item;
    let patients = state
        .blocking(move |store| {
            load(store, id)?;
            if !store
                .incidents()
                .list_evidence(id)?
                .iter()
                .any(|e| e.id == item)
            {
                return Err(ConsoleError::NotFound);
            }
            linked_patients(store, id)
        })
        .await?;
    // Evidence is free-form and may name anyone: the view is recorded before it is read, as
    // a read of the evidence and of each patient the incident concerns.
    let place = "GET /incidents/{id}/evidence";
    let mut records = vec![AuditRecord {
        class_uid: class::API_ACTIVITY,
        activity_id: api_activity::READ,
        activity_name: "Read",
        status: Status::Success,
        user: p.audit_name(),
        ip: p.ip.clone(),
        place: place.into(),
        target: Some(format!("incident:{id}/evidence:{item}")),
        patient: None,
        detail: Some("evidence content shown".into()),
    }];
    records.extend(
        patients
            .iter()
            .map(|pt| AuditRecord::phi_view(&p.audit_name(), p.ip.clone(), place, pt)),
    );
    audit::record(&state, records).await?;
    let now = state.now();
    let actor = p.audit_name();
    let (record, content) = state
        .blocking(move |store| {
            store
                .incidents()
                .open_evidence(
                    item,
                    CustodyAction::Read,
                    &actor,
                    now,
                    "viewed in the console",
                )?
                .ok_or(ConsoleError::NotFound)
        })
        .await?;
    render(&EvidencePage {
        chrome: Chrome::new(&p, "/incidents", &record.name),
        href: incident_href(id),
        name: record.name,
        sha256: hex(&record.sha256),
        content: String::from_utf8_lossy(&content).into_owned(),
    })
}

// ---------------------------------------------------------------------------------------------
// Assessment, law-enforcement delay, deadlines

#[derive(Deserialize)]
pub(crate) struct AssessmentForm {
    #[serde(default)]
    safe_harbour_method: String,
    #[serde(default)]
    safe_harbour_reasoning: String,
    #[serde(default)]
    exception: String,
    #[serde(default)]
    exception_reasoning: String,
    #[serde(default)]
    nature_and_extent: String,
    #[serde(default)]
    nature_and_extent_reasoning: String,
    #[serde(default)]
    unauthorised_recipient: String,
    #[serde(default)]
    unauthorised_recipient_reasoning: String,
    #[serde(default)]
    acquired_or_viewed: String,
    #[serde(default)]
    acquired_or_viewed_reasoning: String,
    #[serde(default)]
    mitigation: String,
    #[serde(default)]
    mitigation_reasoning: String,
}

fn risk(text: &str) -> Result<Option<Risk>, ConsoleError> {
    Ok(match text.trim() {
        "" => None,
        "low" => Some(Risk::Low),
        "moderate" => Some(Risk::Moderate),
        "high" => Some(Risk::High),
        _ => {
            return Err(ConsoleError::BadRequest(
                "a factor's risk is low, moderate or high".into(),
            ));
        }
    })
}

impl AssessmentForm {
    /// The assessor's input; a factor left unrated is left out (and the presumption of breach
    /// then stands, as the rule says).
    fn input(&self) -> Result<AssessmentInput, ConsoleError> {
        let mut input = AssessmentInput::default();
        if !self.safe_harbour_method.trim().is_empty() {
            input.safe_harbour = Some(SafeHarbour {
                method: self.safe_harbour_method.trim().into(),
                reasoning: self.safe_harbour_reasoning.trim().into(),
            });
        }
        let exception = match self.exception.trim() {
            "" => None,
            "unintentional_workforce_access" => Some(Exception::UnintentionalWorkforceAccess),
            "inadvertent_disclosure_between_authorised" => {
                Some(Exception::InadvertentDisclosureBetweenAuthorised)
            }
            "recipient_could_not_retain" => Some(Exception::RecipientCouldNotRetain),
            _ => return Err(ConsoleError::BadRequest("unknown exception".into())),
        };
        if let Some(exception) = exception {
            input.exceptions.push(ExceptionClaim {
                exception,
                reasoning: self.exception_reasoning.trim().into(),
            });
        }
        let rated = [
            (
                Factor::NatureAndExtent,
                &self.nature_and_extent,
                &self.nature_and_extent_reasoning,
            ),
            (
                Factor::UnauthorisedRecipient,
                &self.unauthorised_recipient,
                &self.unauthorised_recipient_reasoning,
            ),
            (
                Factor::AcquiredOrViewed,
                &self.acquired_or_viewed,
                &self.acquired_or_viewed_reasoning,
            ),
            (
                Factor::Mitigation,
                &self.mitigation,
                &self.mitigation_reasoning,
            ),
        ];
        for (factor, rating, reasoning) in rated {
            if let Some(risk) = risk(rating)? {
                input.factors.push(FactorAssessment {
                    factor,
                    risk,
                    reasoning: reasoning.trim().into(),
                });
            }
        }
        Ok(input)
    }
}

pub(crate) async fn assess(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Form(form): Form<AssessmentForm>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let id = parse_id(&id)?;
    let input = form.input()?;
    let now = state.now();
    let actor = p.audit_name();
    let determination = state
        .planned(move |store, plan| {
            Responder::new(store, plan)
                .assess(id, input, &actor, now)
                .map_err(respond_error)
        })
        .await?;
    audit_change(
        &state,
        &p,
        "POST /incidents/{id}/assessment",
        id,
        format!("breach assessment: {}", determination.conclusion.as_str()),
    )
    .await?;
    Ok(see_other(&incident_href(id)))
}

#[derive(Deserialize)]
pub(crate) struct DelayForm {
    official: String,
    #[serde(default)]
    agency: String,
    form: String,
    stated_on: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    note: String,
}

pub(crate) async fn delay(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Form(form): Form<DelayForm>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let id = parse_id(&id)?;
    let stated_on = date_field(&form.stated_on, "the statement's date")?
        .ok_or_else(|| ConsoleError::BadRequest("give the statement's date".into()))?;
    let statement_form = match form.form.as_str() {
        "oral" => StatementForm::Oral,
        "written" => StatementForm::Written {
            until: date_field(&form.until, "the end of the delay")?.ok_or_else(|| {
                ConsoleError::BadRequest(
                    "a written statement specifies the end of the delay".into(),
                )
            })?,
        },
        _ => {
            return Err(ConsoleError::BadRequest(
                "the statement is written or oral".into(),
            ));
        }
    };
    let statement = DelayStatement {
        official: form.official.trim().into(),
        agency: form.agency.trim().into(),
        delay: LawEnforcementDelay {
            stated_on,
            form: statement_form,
        },
        note: form.note.trim().into(),
    };
    let now = state.now();
    let actor = p.audit_name();
    state
        .planned(move |store, plan| {
            Responder::new(store, plan)
                .record_law_enforcement_delay(id, &statement, &actor, now)
                .map_err(respond_error)
        })
        .await?;
    audit_change(
        &state,
        &p,
        "POST /incidents/{id}/delay",
        id,
        format!("law-enforcement delay recorded ({})", form.form),
    )
    .await?;
    Ok(see_other(&incident_href(id)))
}

#[derive(Deserialize)]
pub(crate) struct DeadlinesForm {
    #[serde(default)]
    role: String,
}

pub(crate) async fn deadlines(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Form(form): Form<DeadlinesForm>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let id = parse_id(&id)?;
    let role = match form.role.as_str() {
        "" | "covered_entity" => ClockRole::CoveredEntity,
        "business_associate" => ClockRole::BusinessAssociate,
        _ => {
            return Err(ConsoleError::BadRequest(
                "role is covered_entity or business_associate".into(),
            ));
        }
    };
    let now = state.now();
    let actor = p.audit_name();
    let count = state
        .planned(move |store, plan| {
            let responder = Responder::new(store, plan);
            let affected = responder.affected(id).map_err(respond_error)?;
            responder
                .compute_deadlines(id, role, &affected, &actor, now)
                .map(|d| d.len())
                .map_err(respond_error)
        })
        .await?;
    audit_change(
        &state,
        &p,
        "POST /incidents/{id}/deadlines",
        id,
        format!("{count} notification deadlines computed"),
    )
    .await?;
    Ok(see_other(&incident_href(id)))
}

// ---------------------------------------------------------------------------------------------
// Letters

#[derive(Template)]
#[template(path = "incident_letter.html")]
struct LetterPage {
    chrome: Chrome,
    href: String,
    patients: Vec<String>,
    f: LetterForm,
    letter: Option<String>,
}

#[derive(Deserialize, Default)]
pub(crate) struct LetterForm {
    #[serde(default)]
    organisation: String,
    #[serde(default)]
    signatory: String,
    #[serde(default)]
    signatory_title: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    website: String,
    #[serde(default)]
    what_happened: String,
    #[serde(default)]
    breach_from: String,
    #[serde(default)]
    breach_to: String,
    /// One item a line.
    #[serde(default)]
    phi_types: String,
    #[serde(default)]
    steps: String,
    #[serde(default)]
    doing: String,
    /// A linked patient's id; empty for the generic letter; `substitute` for the substitute
    /// notice (164.404(d)(2)) to post for those who cannot be reached by mail.
    #[serde(default)]
    patient: String,
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

fn optional(text: &str) -> Option<String> {
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

pub(crate) async fn letter_form(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let id = parse_id(&id)?;
    let patients = state
        .blocking(move |store| {
            load(store, id)?;
            linked_patients(store, id)
        })
        .await?;
    record_phi_views(&state, &p, "GET /incidents/{id}/letter", patients.clone()).await?;
    render(&LetterPage {
        chrome: Chrome::new(&p, "/incidents", "Notification letter"),
        href: incident_href(id),
        patients: patients.into_iter().collect(),
        f: LetterForm::default(),
        letter: None,
    })
}

pub(crate) async fn letter(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Form(form): Form<LetterForm>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let id = parse_id(&id)?;
    let sender = Sender {
        organisation: form.organisation.trim().into(),
        signatory: form.signatory.trim().into(),
        signatory_title: form.signatory_title.trim().into(),
        toll_free_phone: optional(&form.phone),
        email: optional(&form.email),
        website: optional(&form.website),
        postal_address: None,
    };
    let breach_from = date_field(&form.breach_from, "the breach's first day")?;
    let breach_to = date_field(&form.breach_to, "the breach's last day")?;
    let substitute = form.patient.trim() == "substitute";
    let patient = optional(&form.patient).filter(|_| !substitute);
    let (patients, facts) = {
        let what_happened = form.what_happened.trim().to_string();
        let phi_types = lines(&form.phi_types);
        let steps = lines(&form.steps);
        let doing = lines(&form.doing);
        state
            .blocking(move |store| {
                let incident = load(store, id)?;
                let facts = BreachFacts {
                    what_happened,
                    breach_from,
                    breach_to,
                    discovered_on: utc_date(incident.discovered_at),
                    phi_types,
                    steps_for_individuals: steps,
                    what_we_are_doing: doing,
                };
                Ok((linked_patients(store, id)?, facts))
            })
            .await?
    };
    if let Some(patient) = &patient
        && !patients.contains(patient)
    {
        // Only the incident's own patients: the form is not a way to look anyone up.
        return Err(ConsoleError::NotFound);
    }
    let mut shown = patients.clone();
    if let Some(patient) = &patient {
        shown.insert(patient.clone());
    }
    record_phi_views(&state, &p, "POST /incidents/{id}/letter", shown).await?;
    let letter = {
        let patient = patient.clone();
        state
            .planned(move |store, plan| {
                let responder = Responder::new(store, plan);
                if substitute {
                    responder.draft_substitute_notice(&sender, &facts)
                } else {
                    responder.draft_letter(&sender, &facts, patient.as_deref())
                }
                .map_err(respond_error)
            })
            .await?
    };
    // The letter is a whole document whose every value `ward-respond` escaped; its body is
    // shown inside the console's page.
    let body = letter
        .html
        .split_once("<body>")
        .and_then(|(_, rest)| rest.rsplit_once("</body>"))
        .map(|(body, _)| body.to_string())
        .unwrap_or_default();
    render(&LetterPage {
        chrome: Chrome::new(&p, "/incidents", "Notification letter"),
        href: incident_href(id),
        patients: patients.into_iter().collect(),
        f: form,
        letter: Some(body),
    })
}

// ---------------------------------------------------------------------------------------------
// The report as PDF

/// The incident report (the same document `ward incidents report` writes) printed to PDF by
/// headless Chromium. Patients are named only for roles with the incident-PHI permission, and
/// then each is written to the audit trail before the report is made, as for the letter.
pub(crate) async fn report_pdf(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let id = parse_id(&id)?;
    let today = today(&state);
    let show_patients = p.role.allows(Permission::ViewIncidentPhi);
    let report = state
        .planned(move |store, plan| {
            Responder::new(store, plan)
                .incident_report(id, today)
                .map_err(respond_error)
        })
        .await?;
    let place = "GET /incidents/{id}/report.pdf";
    let mut records = vec![AuditRecord {
        class_uid: class::API_ACTIVITY,
        activity_id: api_activity::READ,
        activity_name: "Read",
        status: Status::Success,
        user: p.audit_name(),
        ip: p.ip.clone(),
        place: place.into(),
        target: Some(format!("incident:{id}/report")),
        patient: None,
        detail: Some(
            if show_patients {
                "incident report downloaded as PDF, patients named"
            } else {
                "incident report downloaded as PDF, patients counted"
            }
            .into(),
        ),
    }];
    if show_patients {
        records.extend(
            report
                .links
                .iter()
                .filter(|(k, _)| *k == LinkKind::Patient)
                .map(|(_, pt)| AuditRecord::phi_view(&p.audit_name(), p.ip.clone(), place, pt)),
        );
    }
    audit::record(&state, records).await?;
    let html = ward_respond::report::render_html(&report, show_patients);
    let configured = state.options().chromium.clone();
    let printed = tokio::task::spawn_blocking(move || {
        let chromium = ward_respond::pdf::find_chromium(configured.as_deref())?;
        ward_respond::pdf::html_to_pdf(&html, &chromium, ward_respond::pdf::DEFAULT_TIMEOUT)
    })
    .await
    .map_err(|_| ConsoleError::Internal("the PDF task did not finish"))?;
    let pdf = printed.map_err(|e| {
        // The message names Chromium and what it said, never the report.
        tracing::error!(error = %e, "incident report PDF failed");
        ConsoleError::Internal("the PDF report could not be made; see the server log")
    })?;
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/pdf".to_string(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"incident-{id}.pdf\""),
            ),
            (axum::http::header::CACHE_CONTROL, "no-store".to_string()),
        ],
        pdf,
    )
        .into_response())
}

// ---------------------------------------------------------------------------------------------
// Notices given, closing, reviews, follow-ups, exercises
//
// Each step has one core (`give_notice`, `close_incident`, `put_review`, `mark_follow_up_done`,
// `hold_exercise`) that checks, calls the responder and audits; the form and its `/api/v1`
// twin only read their input and shape their answer.

/// The most characters of the method a notice was given by.
const MAX_NOTICE_METHOD_CHARS: usize = 200;

/// A notice as given, read from the form or the API.
struct NoticeGiven {
    kind: String,
    jurisdiction: String,
    given_on: NaiveDate,
    method: String,
}

/// Records a notice as given, audited at `place`.
async fn give_notice(
    state: &ConsoleState,
    p: &Principal,
    place: &str,
    id: i64,
    notice: NoticeGiven,
    errors: fn(RespondError) -> ConsoleError,
) -> Result<(), ConsoleError> {
    if notice.method.chars().count() > MAX_NOTICE_METHOD_CHARS {
        return Err(ConsoleError::BadRequest(format!(
            "describe the method in at most {MAX_NOTICE_METHOD_CHARS} characters"
        )));
    }
    let now = state.now();
    let actor = p.audit_name();
    let detail = format!(
        "{} notice recorded as given on {}",
        notice.kind, notice.given_on
    );
    state
        .planned(move |store, plan| {
            Responder::new(store, plan)
                .record_notice(
                    id,
                    &notice.kind,
                    &notice.jurisdiction,
                    notice.given_on,
                    &notice.method,
                    &actor,
                    now,
                )
                .map_err(errors)
        })
        .await?;
    audit_change(state, p, place, id, detail).await
}

#[derive(Deserialize)]
pub(crate) struct NoticeForm {
    /// `kind` or `kind|jurisdiction`, as the page's choices give it.
    notice: String,
    given_on: String,
    method: String,
}

pub(crate) async fn notice(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Form(form): Form<NoticeForm>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let id = parse_id(&id)?;
    let (kind, jurisdiction) = match form.notice.split_once('|') {
        Some((kind, jurisdiction)) => (kind.to_string(), jurisdiction.to_string()),
        None => (form.notice.clone(), String::new()),
    };
    let given_on = date_field(&form.given_on, "the day the notice was given")?
        .ok_or_else(|| ConsoleError::BadRequest("give the day the notice was given".into()))?;
    let notice = NoticeGiven {
        kind,
        jurisdiction,
        given_on,
        method: form.method.trim().to_string(),
    };
    give_notice(
        &state,
        &p,
        "POST /incidents/{id}/notice",
        id,
        notice,
        respond_error,
    )
    .await?;
    Ok(see_other(&incident_href(id)))
}

/// Follow-ups as the forms take them: one a line, `title | owner | YYYY-MM-DD`.
fn follow_ups(text: &str) -> Result<Vec<FollowUp>, ConsoleError> {
    lines(text)
        .iter()
        .map(|line| {
            let parts: Vec<&str> = line.split('|').map(str::trim).collect();
            let [title, owner, due] = parts[..] else {
                return Err(ConsoleError::BadRequest(
                    "write each follow-up as: title | owner | YYYY-MM-DD".into(),
                ));
            };
            Ok(FollowUp {
                title: title.into(),
                owner: owner.into(),
                due_on: date_field(due, "a follow-up's due date")?.ok_or_else(|| {
                    ConsoleError::BadRequest("each follow-up has a due date".into())
                })?,
            })
        })
        .collect()
}

#[derive(Deserialize)]
pub(crate) struct ReviewForm {
    #[serde(default)]
    note: String,
    held_on: String,
    #[serde(default)]
    participants: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    went_well: String,
    #[serde(default)]
    to_improve: String,
    #[serde(default)]
    follow_ups: String,
}

impl ReviewForm {
    fn review(&self) -> Result<Review, ConsoleError> {
        Ok(Review {
            held_on: date_field(&self.held_on, "the day of the review")?
                .ok_or_else(|| ConsoleError::BadRequest("give the day of the review".into()))?,
            participants: lines(&self.participants),
            summary: self.summary.trim().into(),
            went_well: lines(&self.went_well),
            to_improve: lines(&self.to_improve),
            follow_ups: follow_ups(&self.follow_ups)?,
        })
    }
}

/// Closes an incident together with its post-incident review (NIST SP 800-61r2 3.4.1),
/// audited at `place`; answers how many follow-ups the review added.
async fn close_incident(
    state: &ConsoleState,
    p: &Principal,
    place: &str,
    id: i64,
    note: String,
    review: Review,
    errors: fn(RespondError) -> ConsoleError,
) -> Result<usize, ConsoleError> {
    let now = state.now();
    let actor = p.audit_name();
    let follow_ups = review.follow_ups.len();
    state
        .planned(move |store, plan| {
            Responder::new(store, plan)
                .close_with_review(id, &note, &review, &actor, now)
                .map_err(errors)
        })
        .await?;
    audit_change(
        state,
        p,
        place,
        id,
        format!("incident closed with its review ({follow_ups} follow-ups)"),
    )
    .await?;
    Ok(follow_ups)
}

pub(crate) async fn close(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Form(form): Form<ReviewForm>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let id = parse_id(&id)?;
    let review = form.review()?;
    let note = form.note.trim().to_string();
    close_incident(
        &state,
        &p,
        "POST /incidents/{id}/close",
        id,
        note,
        review,
        respond_error,
    )
    .await?;
    Ok(see_other(&incident_href(id)))
}

/// Records (or replaces) the review of a closed incident, adding its follow-ups, audited at
/// `place`; answers how many follow-ups it added.
async fn put_review(
    state: &ConsoleState,
    p: &Principal,
    place: &str,
    id: i64,
    review: Review,
    errors: fn(RespondError) -> ConsoleError,
) -> Result<usize, ConsoleError> {
    let now = state.now();
    let actor = p.audit_name();
    let follow_ups = review.follow_ups.len();
    state
        .planned(move |store, plan| {
            Responder::new(store, plan)
                .record_review(id, &review, &actor, now)
                .map_err(errors)
        })
        .await?;
    audit_change(
        state,
        p,
        place,
        id,
        format!("post-incident review recorded ({follow_ups} follow-ups)"),
    )
    .await?;
    Ok(follow_ups)
}

pub(crate) async fn review(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Form(form): Form<ReviewForm>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let id = parse_id(&id)?;
    let review = form.review()?;
    put_review(
        &state,
        &p,
        "POST /incidents/{id}/review",
        id,
        review,
        respond_error,
    )
    .await?;
    Ok(see_other(&incident_href(id)))
}

/// Marks an open follow-up done on `done_on` (today when none), audited at `place`. With
/// `incident`, only a follow-up of that incident's review is found.
async fn mark_follow_up_done(
    state: &ConsoleState,
    p: &Principal,
    place: &str,
    id: i64,
    done_on: Option<NaiveDate>,
    incident: Option<i64>,
) -> Result<FollowUpRecord, ConsoleError> {
    let today = today(state);
    let done_on = done_on.unwrap_or(today);
    if done_on > today {
        return Err(ConsoleError::BadRequest(
            "a follow-up cannot be done in the future".into(),
        ));
    }
    let now = state.now();
    let actor = p.audit_name();
    let done = state
        .planned(move |store, plan| {
            if let Some(incident) = incident {
                let of_incident = store
                    .incidents()
                    .follow_ups(true)?
                    .iter()
                    .any(|f| f.id == id && f.source == FollowUpSource::Incident(incident));
                if !of_incident {
                    return Err(ConsoleError::NotFound);
                }
            }
            Responder::new(store, plan)
                .complete_follow_up(id, done_on, &actor, now)
                .map_err(respond_error)?
                .ok_or(ConsoleError::NotFound)
        })
        .await?;
    let target = match done.source {
        FollowUpSource::Incident(incident) => format!("incident:{incident}"),
        FollowUpSource::Exercise(exercise) => format!("exercise:{exercise}"),
    };
    audit::record(
        state,
        vec![AuditRecord::alert_change(
            &p.audit_name(),
            p.ip.clone(),
            place,
            &target,
            format!("follow-up {id} done on {done_on}"),
        )],
    )
    .await?;
    Ok(done)
}

#[derive(Deserialize)]
pub(crate) struct FollowUpDoneForm {
    follow_up: i64,
    #[serde(default)]
    done_on: String,
}

/// Marks a follow-up done; back to its incident, or to the incidents page for an exercise's.
pub(crate) async fn follow_up_done(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Form(form): Form<FollowUpDoneForm>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let done_on = date_field(&form.done_on, "the day it was done")?;
    let done = mark_follow_up_done(
        &state,
        &p,
        "POST /incidents/follow-up",
        form.follow_up,
        done_on,
        None,
    )
    .await?;
    Ok(see_other(&match done.source {
        FollowUpSource::Incident(incident) => incident_href(incident),
        FollowUpSource::Exercise(_) => "/incidents".to_string(),
    }))
}

/// Records a tabletop exercise against the plan the console follows, audited at `place`;
/// answers the exercise's id and the plan version it tested.
async fn hold_exercise(
    state: &ConsoleState,
    p: &Principal,
    place: &str,
    exercise: Exercise,
    errors: fn(RespondError) -> ConsoleError,
) -> Result<(i64, String), ConsoleError> {
    if exercise.held_on > today(state) {
        return Err(ConsoleError::BadRequest(
            "record an exercise once it has been held".into(),
        ));
    }
    let now = state.now();
    let actor = p.audit_name();
    let (exercise_id, version) = state
        .planned(move |store, plan| {
            let id = Responder::new(store, plan)
                .record_exercise(&exercise, &actor, now)
                .map_err(errors)?;
            Ok((id, plan.version.clone()))
        })
        .await?;
    audit::record(
        state,
        vec![AuditRecord::alert_change(
            &p.audit_name(),
            p.ip.clone(),
            place,
            &format!("exercise:{exercise_id}"),
            format!("tabletop exercise recorded against plan version {version}"),
        )],
    )
    .await?;
    Ok((exercise_id, version))
}

#[derive(Deserialize)]
pub(crate) struct ExerciseForm {
    held_on: String,
    #[serde(default)]
    scenario: String,
    #[serde(default)]
    participants: String,
    #[serde(default)]
    findings: String,
    #[serde(default)]
    follow_ups: String,
}

pub(crate) async fn exercise(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Form(form): Form<ExerciseForm>,
) -> PageResult {
    let p = caller.principal()?.clone();
    let exercise = Exercise {
        held_on: date_field(&form.held_on, "the day of the exercise")?
            .ok_or_else(|| ConsoleError::BadRequest("give the day of the exercise".into()))?,
        scenario: form.scenario.trim().into(),
        participants: lines(&form.participants),
        findings: lines(&form.findings),
        follow_ups: follow_ups(&form.follow_ups)?,
    };
    hold_exercise(
        &state,
        &p,
        "POST /incidents/exercise",
        exercise,
        respond_error,
    )
    .await?;
    Ok(see_other("/incidents"))
}

// ---------------------------------------------------------------------------------------------
// The API

fn incident_json(i: &IncidentRecord) -> Value {
    json!({
        "id": i.id,
        "title": i.title,
        "incident_type": i.incident_type,
        "severity": i.severity.as_str(),
        "status": i.status.as_str(),
        "opened_at": i.opened_at.to_rfc3339(),
        "opened_by": i.opened_by,
        "discovered_at": i.discovered_at.to_rfc3339(),
        "plan_version": i.plan_version,
    })
}

fn deadline_json(d: &DeadlineRecord, today: NaiveDate) -> Value {
    json!({
        "kind": d.kind,
        "jurisdiction": d.jurisdiction,
        "due_on": d.due_on.to_string(),
        "citation": d.citation,
        "explanation": d.explanation,
        "notified_on": d.notified_on.map(|n| n.to_string()),
        "status": status_json(status_of(d.due_on, today, d.notified_on)),
    })
}

pub(crate) async fn api_list(State(state): State<ConsoleState>) -> Result<Response, ConsoleError> {
    let today = today(&state);
    let list = state.blocking(list_with_deadlines).await?;
    let incidents: Vec<Value> = list
        .iter()
        .map(|(i, next)| {
            let mut v = incident_json(i);
            v["next_deadline"] = next
                .as_ref()
                .map_or(Value::Null, |d| deadline_json(d, today));
            v
        })
        .collect();
    Ok(Json(json!({"incidents": incidents})).into_response())
}

pub(crate) async fn api_detail(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let p = caller.principal()?.clone();
    let id = parse_id(&id)?;
    let g = state
        .planned(move |store, plan| gather(store, plan, id))
        .await?;
    let masker = masker(&state, &p);
    let mut shown = BTreeSet::new();
    let links: Vec<Value> = g
        .links
        .iter()
        .map(|(kind, value)| {
            let value = if *kind == LinkKind::Patient {
                if !masker.enabled {
                    shown.insert(value.clone());
                }
                masker.patient_id(value)
            } else {
                value.clone()
            };
            json!({"kind": kind.as_str(), "value": value})
        })
        .collect();
    record_phi_views(&state, &p, "GET /api/v1/incidents/{id}", shown).await?;
    let today = today(&state);
    Ok(Json(json!({
        "incident": incident_json(&g.incident),
        "alerts": g.alerts.iter().map(|(id, _)| id).collect::<Vec<_>>(),
        "links": links,
        "affected": {"total": g.affected.total, "by_state": g.affected.by_state},
        "tasks": g.tasks.iter().map(|t| json!({
            "id": t.id, "phase": t.phase, "title": t.title, "role": t.role,
            "assignee": t.assignee, "status": t.status.as_str(),
        })).collect::<Vec<_>>(),
        "assessment": g.assessment.as_ref().map(|a| {
            let v = assessment_view(a);
            json!({"conclusion": v.conclusion, "reasons": v.reasons,
                   "assessed_by": a.assessed_by, "assessed_at": a.assessed_at.to_rfc3339()})
        }),
        "deadlines": g.deadlines.iter().map(|d| deadline_json(d, today)).collect::<Vec<_>>(),
        "evidence": g.evidence.iter().map(|e| json!({
            "id": e.id, "name": e.name, "media_type": e.media_type, "size": e.size,
            "sha256": hex(&e.sha256), "added_by": e.added_by, "added_at": e.added_at.to_rfc3339(),
        })).collect::<Vec<_>>(),
        "custody_entries": g.custody_entries,
        "timeline": g.timeline.iter().map(|e| json!({
            "seq": e.seq, "at": e.at.to_rfc3339(), "actor": e.actor, "kind": e.kind.as_str(), "text": e.text,
        })).collect::<Vec<_>>(),
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenBody {
    alerts: Vec<String>,
    #[serde(default)]
    incident_type: Option<String>,
}

/// The most alerts one incident is opened from in one call.
const MAX_ALERTS_PER_OPEN: usize = 100;

pub(crate) async fn api_open(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    bytes: Bytes,
) -> Result<Response, ConsoleError> {
    let p = caller.principal()?.clone();
    let body: OpenBody = serde_json::from_slice(&bytes)
        .map_err(|_| ConsoleError::BadRequest("the body is not the JSON this call takes".into()))?;
    if body.alerts.is_empty() || body.alerts.len() > MAX_ALERTS_PER_OPEN {
        return Err(ConsoleError::BadRequest(format!(
            "name 1 to {MAX_ALERTS_PER_OPEN} alerts"
        )));
    }
    let kind = incident_type(body.incident_type.as_deref().unwrap_or_default())?;
    let alerts = body.alerts.clone();
    let opened = open_from(&state, &p, body.alerts, kind).await?;
    audit_change(
        &state,
        &p,
        "POST /api/v1/incidents",
        opened.incident_id,
        format!(
            "incident opened from {} alerts ({})",
            alerts.len(),
            opened.incident_type.as_str()
        ),
    )
    .await?;
    Ok(Json(json!({
        "id": opened.incident_id,
        "incident_type": opened.incident_type.as_str(),
        "tasks": opened.task_ids.len(),
    }))
    .into_response())
}

// ---------------------------------------------------------------------------------------------
// The API twins of the forms above. Bodies are checked exactly as the OpenAPI document
// declares them (`with_schemas`), so a body the document allows is never refused for its shape
// and one it forbids never gets through.

/// Limits of the bodies, shared by the checks and the document.
const MAX_JURISDICTION_CHARS: usize = 64;
const MAX_NOTE_CHARS: usize = 2000;
const MAX_NAME_CHARS: usize = 200;
const MAX_SUMMARY_CHARS: usize = 4000;
const MAX_ITEM_CHARS: usize = 1000;
const MAX_LIST_ITEMS: usize = 50;

/// The document's pattern for text that must not be blank: a character outside Unicode's
/// White_Space, the set `str::trim` removes, so the pattern and [`non_blank`] agree.
const NON_BLANK_PATTERN: &str = "[^\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";

/// Errors of the API twins: a notice the incident does not have is not found (the form
/// answers 400, as the page only offers the incident's own notices).
fn api_respond_error(e: RespondError) -> ConsoleError {
    match e {
        RespondError::NoSuchNotice { .. } => ConsoleError::NotFound,
        other => respond_error(other),
    }
}

fn api_body<T: serde::de::DeserializeOwned>(bytes: &Bytes) -> Result<T, ConsoleError> {
    serde_json::from_slice(bytes)
        .map_err(|_| ConsoleError::BadRequest("the body is not the JSON this call takes".into()))
}

/// An RFC 3339 full-date (`format: date`): exactly `YYYY-MM-DD`, a day the calendar has.
fn api_date(text: &str, what: &str) -> Result<NaiveDate, ConsoleError> {
    let shaped = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    shaped
        .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| ConsoleError::BadRequest(format!("{what} must be a date like 2026-11-28")))
}

/// Digit strings of `digits`' length that sort before it, as regular-expression branches.
fn before(digits: &str) -> Vec<String> {
    let bytes = digits.as_bytes();
    (0..bytes.len())
        .filter(|&i| bytes[i] > b'0')
        .map(|i| {
            let rest = bytes.len() - i - 1;
            let tail = if rest > 0 {
                format!("\\d{{{rest}}}")
            } else {
                String::new()
            };
            format!("{}[0-{}]{tail}", &digits[..i], char::from(bytes[i] - 1))
        })
        .collect()
}

/// The document's pattern for a `YYYY-MM-DD` day not after `today`, so a date the handlers
/// refuse as in the future is one the document already forbids.
fn not_after_pattern(today: NaiveDate) -> String {
    let text = today.format("%Y-%m-%d").to_string();
    let (year, month, day) = (&text[..4], &text[5..7], &text[8..]);
    let mut branches: Vec<String> = before(year)
        .into_iter()
        .map(|y| format!("{y}-\\d{{2}}-\\d{{2}}"))
        .collect();
    branches.extend(
        before(month)
            .into_iter()
            .map(|m| format!("{year}-{m}-\\d{{2}}")),
    );
    branches.extend(
        before(day)
            .into_iter()
            .map(|d| format!("{year}-{month}-{d}")),
    );
    branches.push(text.clone());
    format!("^(?:{})$", branches.join("|"))
}

/// Text of at most `max` characters (as JSON Schema counts them: code points).
fn bounded(text: &str, what: &str, max: usize) -> Result<(), ConsoleError> {
    if text.chars().count() > max {
        return Err(ConsoleError::BadRequest(format!(
            "{what} takes at most {max} characters"
        )));
    }
    Ok(())
}

/// Text of at most `max` characters that is not blank.
fn non_blank(text: &str, what: &str, max: usize) -> Result<String, ConsoleError> {
    bounded(text, what, max)?;
    if text.trim().is_empty() {
        return Err(ConsoleError::BadRequest(format!(
            "{what} must not be blank"
        )));
    }
    Ok(text.to_string())
}

/// A list of `min..=MAX_LIST_ITEMS` items, each non-blank and at most `max` characters.
fn item_list(
    items: &[String],
    what: &str,
    min: usize,
    max: usize,
) -> Result<Vec<String>, ConsoleError> {
    if items.len() < min || items.len() > MAX_LIST_ITEMS {
        return Err(ConsoleError::BadRequest(format!(
            "{what} takes {min} to {MAX_LIST_ITEMS} items"
        )));
    }
    items.iter().map(|i| non_blank(i, what, max)).collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoticeBody {
    kind: String,
    #[serde(default)]
    jurisdiction: String,
    given_on: String,
    method: String,
}

pub(crate) async fn api_notice(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ConsoleError> {
    let p = caller.principal()?.clone();
    let id = parse_id(&id)?;
    let body: NoticeBody = api_body(&bytes)?;
    if NoticeKind::parse(&body.kind).is_none() {
        return Err(ConsoleError::BadRequest("unknown notice kind".into()));
    }
    bounded(
        &body.jurisdiction,
        "the jurisdiction",
        MAX_JURISDICTION_CHARS,
    )?;
    let notice = NoticeGiven {
        given_on: api_date(&body.given_on, "the day the notice was given")?,
        method: non_blank(&body.method, "the method", MAX_NOTICE_METHOD_CHARS)?,
        kind: body.kind,
        jurisdiction: body.jurisdiction,
    };
    let answer = json!({"id": id, "kind": notice.kind, "jurisdiction": notice.jurisdiction,
        "given_on": notice.given_on.to_string()});
    give_notice(
        &state,
        &p,
        "POST /api/v1/incidents/{id}/notice",
        id,
        notice,
        api_respond_error,
    )
    .await?;
    Ok(Json(answer).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FollowUpBody {
    title: String,
    owner: String,
    due_on: String,
}

fn api_follow_ups(items: &[FollowUpBody]) -> Result<Vec<FollowUp>, ConsoleError> {
    if items.len() > MAX_LIST_ITEMS {
        return Err(ConsoleError::BadRequest(format!(
            "name at most {MAX_LIST_ITEMS} follow-ups"
        )));
    }
    items
        .iter()
        .map(|f| {
            Ok(FollowUp {
                title: non_blank(&f.title, "a follow-up's title", MAX_NAME_CHARS)?,
                owner: non_blank(&f.owner, "a follow-up's owner", MAX_NAME_CHARS)?,
                due_on: api_date(&f.due_on, "a follow-up's due date")?,
            })
        })
        .collect()
}

/// A review as the API takes it (closing adds a `note` beside it).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewBody {
    held_on: String,
    participants: Vec<String>,
    summary: String,
    #[serde(default)]
    went_well: Vec<String>,
    #[serde(default)]
    to_improve: Vec<String>,
    #[serde(default)]
    follow_ups: Vec<FollowUpBody>,
}

impl ReviewBody {
    fn review(&self) -> Result<Review, ConsoleError> {
        Ok(Review {
            held_on: api_date(&self.held_on, "the day of the review")?,
            participants: item_list(&self.participants, "participants", 1, MAX_NAME_CHARS)?,
            summary: non_blank(&self.summary, "the summary", MAX_SUMMARY_CHARS)?,
            went_well: item_list(&self.went_well, "went_well", 0, MAX_ITEM_CHARS)?,
            to_improve: item_list(&self.to_improve, "to_improve", 0, MAX_ITEM_CHARS)?,
            follow_ups: api_follow_ups(&self.follow_ups)?,
        })
    }
}

fn review_answer(id: i64, follow_ups: usize) -> Response {
    Json(json!({"id": id, "status": IncidentStatus::Closed.as_str(), "follow_ups": follow_ups}))
        .into_response()
}

pub(crate) async fn api_close(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ConsoleError> {
    let p = caller.principal()?.clone();
    let id = parse_id(&id)?;
    let mut body: serde_json::Map<String, Value> = api_body(&bytes)?;
    let note = match body.remove("note") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(note)) => note,
        Some(_) => return Err(ConsoleError::BadRequest("the note is text".into())),
    };
    bounded(&note, "the note", MAX_NOTE_CHARS)?;
    let body: ReviewBody = serde_json::from_value(Value::Object(body))
        .map_err(|_| ConsoleError::BadRequest("the body is not the JSON this call takes".into()))?;
    let review = body.review()?;
    let follow_ups = close_incident(
        &state,
        &p,
        "POST /api/v1/incidents/{id}/close",
        id,
        note.trim().to_string(),
        review,
        api_respond_error,
    )
    .await?;
    Ok(review_answer(id, follow_ups))
}

pub(crate) async fn api_review(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ConsoleError> {
    let p = caller.principal()?.clone();
    let id = parse_id(&id)?;
    let body: ReviewBody = api_body(&bytes)?;
    let review = body.review()?;
    let follow_ups = put_review(
        &state,
        &p,
        "POST /api/v1/incidents/{id}/review",
        id,
        review,
        api_respond_error,
    )
    .await?;
    Ok(review_answer(id, follow_ups))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FollowUpDoneBody {
    #[serde(default)]
    done_on: Option<String>,
}

pub(crate) async fn api_follow_up_done(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    Path((id, follow_up)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Response, ConsoleError> {
    let p = caller.principal()?.clone();
    let id = parse_id(&id)?;
    let follow_up = parse_id(&follow_up)?;
    let body: FollowUpDoneBody = api_body(&bytes)?;
    let done_on = body
        .done_on
        .as_deref()
        .map(|d| api_date(d, "the day it was done"))
        .transpose()?;
    let done = mark_follow_up_done(
        &state,
        &p,
        "POST /api/v1/incidents/{id}/follow-ups/{n}/done",
        follow_up,
        done_on,
        Some(id),
    )
    .await?;
    Ok(Json(json!({
        "id": done.id,
        "incident": id,
        "title": done.title,
        "owner": done.owner,
        "due_on": done.due_on.to_string(),
        "done_on": done.done_on.map(|d| d.to_string()),
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExerciseBody {
    held_on: String,
    scenario: String,
    participants: Vec<String>,
    #[serde(default)]
    findings: Vec<String>,
    #[serde(default)]
    follow_ups: Vec<FollowUpBody>,
}

pub(crate) async fn api_exercise(
    State(state): State<ConsoleState>,
    Extension(caller): Extension<Caller>,
    bytes: Bytes,
) -> Result<Response, ConsoleError> {
    let p = caller.principal()?.clone();
    let body: ExerciseBody = api_body(&bytes)?;
    let exercise = Exercise {
        held_on: api_date(&body.held_on, "the day of the exercise")?,
        scenario: non_blank(&body.scenario, "the scenario", MAX_ITEM_CHARS)?,
        participants: item_list(&body.participants, "participants", 1, MAX_NAME_CHARS)?,
        findings: item_list(&body.findings, "findings", 0, MAX_ITEM_CHARS)?,
        follow_ups: api_follow_ups(&body.follow_ups)?,
    };
    let follow_ups = exercise.follow_ups.len();
    let held_on = exercise.held_on;
    let (exercise_id, plan_version) = hold_exercise(
        &state,
        &p,
        "POST /api/v1/exercises",
        exercise,
        api_respond_error,
    )
    .await?;
    Ok(Json(json!({
        "id": exercise_id,
        "held_on": held_on.to_string(),
        "plan_version": plan_version,
        "follow_ups": follow_ups,
    }))
    .into_response())
}

type Operation = (Vec<Value>, Option<Value>, Value);

/// The OpenAPI operations of the incident routes (see `openapi.rs`).
pub(crate) fn api_operation(method: RouteMethod, path: &str) -> Option<Operation> {
    let schema = |name: &str, description: &str| json!({"description": description, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}")}}}});
    let incident_id = json!({"name": "id", "in": "path", "required": true,
        "schema": {"type": "integer", "format": "int64"}, "description": "The incident's id"});
    Some(match (method, path) {
        (RouteMethod::Get, "/api/v1/incidents") => (
            vec![],
            None,
            schema("IncidentList", "Incidents, newest first"),
        ),
        (RouteMethod::Get, "/api/v1/incidents/{id}") => (
            vec![json!({"name": "id", "in": "path", "required": true,
                "schema": {"type": "integer", "format": "int64"}, "description": "The incident's id"})],
            None,
            schema("IncidentDetail", "The incident"),
        ),
        (RouteMethod::Post, "/api/v1/incidents") => (
            vec![],
            Some(json!({"$ref": "#/components/schemas/OpenIncident"})),
            schema(
                "IncidentOpened",
                "The incident opened, with its playbook's tasks",
            ),
        ),
        (RouteMethod::Post, "/api/v1/incidents/{id}/notice") => (
            vec![incident_id.clone()],
            Some(json!({"$ref": "#/components/schemas/GiveNotice"})),
            schema(
                "NoticeGiven",
                "The notice recorded as given (404 when the incident has no such notice)",
            ),
        ),
        (RouteMethod::Post, "/api/v1/incidents/{id}/close") => (
            vec![incident_id.clone()],
            Some(json!({"$ref": "#/components/schemas/CloseIncident"})),
            schema(
                "ReviewRecorded",
                "The incident closed with its review (400 while a notice or a task is outstanding)",
            ),
        ),
        (RouteMethod::Post, "/api/v1/incidents/{id}/review") => (
            vec![incident_id.clone()],
            Some(json!({"$ref": "#/components/schemas/IncidentReview"})),
            schema(
                "ReviewRecorded",
                "The review of the closed incident, replacing any earlier one",
            ),
        ),
        (RouteMethod::Post, "/api/v1/incidents/{id}/follow-ups/{n}/done") => (
            vec![
                incident_id.clone(),
                json!({"name": "n", "in": "path", "required": true,
                    "schema": {"type": "integer", "format": "int64"},
                    "description": "The follow-up's id (404 unless it is an open follow-up of this incident)"}),
            ],
            Some(json!({"$ref": "#/components/schemas/FollowUpDone"})),
            schema("FollowUpMarked", "The follow-up, done"),
        ),
        (RouteMethod::Post, "/api/v1/exercises") => (
            vec![],
            Some(json!({"$ref": "#/components/schemas/TabletopExercise"})),
            schema(
                "ExerciseRecorded",
                "The exercise, recorded against the response plan's current version",
            ),
        ),
        _ => return None,
    })
}

/// The document's schemas with the incident ones added.
pub(crate) fn with_schemas(mut schemas: Value) -> Value {
    let time = json!({"type": "string", "format": "date-time"});
    let date = json!({"type": "string", "format": "date"});
    let types: Vec<&str> = IncidentType::ALL.iter().map(|t| t.as_str()).collect();
    let not_after = not_after_pattern(utc_date(Timestamp::now()));
    let notice_kinds: Vec<&str> = NoticeKind::ALL.iter().map(|k| k.as_str()).collect();
    let non_blank =
        |max: usize| json!({"type": "string", "maxLength": max, "pattern": NON_BLANK_PATTERN});
    let list = |min: usize, max: usize| json!({"type": "array", "minItems": min, "maxItems": MAX_LIST_ITEMS, "items": non_blank(max)});
    let follow_ups = json!({"type": "array", "maxItems": MAX_LIST_ITEMS, "items": {"$ref": "#/components/schemas/FollowUp"}});
    let review_properties = json!({
        "held_on": date,
        "participants": list(1, MAX_NAME_CHARS),
        "summary": non_blank(MAX_SUMMARY_CHARS),
        "went_well": list(0, MAX_ITEM_CHARS),
        "to_improve": list(0, MAX_ITEM_CHARS),
        "follow_ups": follow_ups,
    });
    let mut close_properties = review_properties.clone();
    close_properties["note"] = json!({"type": ["string", "null"], "maxLength": MAX_NOTE_CHARS});
    let added = json!({
        "Incident": {"type": "object", "additionalProperties": false,
            "required": ["id", "title", "incident_type", "severity", "status", "opened_at", "opened_by", "discovered_at", "plan_version"],
            "properties": {
                "id": {"type": "integer"}, "title": {"type": "string"}, "incident_type": {"type": "string"},
                "severity": {"type": "string", "enum": ["unknown", "informational", "low", "medium", "high", "critical", "fatal", "other"]},
                "status": {"type": "string", "enum": ["open", "contained", "eradicated", "recovered", "closed"]},
                "opened_at": time, "opened_by": {"type": "string"}, "discovered_at": time, "plan_version": {"type": "string"},
                "next_deadline": {"oneOf": [{"$ref": "#/components/schemas/IncidentDeadline"}, {"type": "null"}]}}},
        "IncidentDeadline": {"type": "object", "additionalProperties": false,
            "required": ["kind", "jurisdiction", "due_on", "citation", "explanation", "notified_on", "status"],
            "properties": {
                "kind": {"type": "string"}, "jurisdiction": {"type": "string"}, "due_on": date,
                "citation": {"type": "string"}, "explanation": {"type": "string"},
                "notified_on": {"type": ["string", "null"], "format": "date"},
                "status": {"type": "string", "enum": ["met", "met_late", "overdue", "due_soon", "upcoming"]}}},
        "IncidentList": {"type": "object", "additionalProperties": false, "required": ["incidents"], "properties": {
            "incidents": {"type": "array", "items": {"$ref": "#/components/schemas/Incident"}}}},
        "IncidentDetail": {"type": "object", "additionalProperties": false,
            "required": ["incident", "alerts", "links", "affected", "tasks", "assessment", "deadlines", "evidence", "custody_entries", "timeline"],
            "properties": {
                "incident": {"$ref": "#/components/schemas/Incident"},
                "alerts": {"type": "array", "items": {"type": "string"}},
                "links": {"type": "array", "items": {"type": "object", "additionalProperties": false, "required": ["kind", "value"], "properties": {
                    "kind": {"type": "string", "enum": ["asset", "user", "patient", "vendor"]},
                    "value": {"type": "string", "description": "Patients as masked-… pseudonyms for roles without PHI"}}}},
                "affected": {"type": "object", "additionalProperties": false, "required": ["total", "by_state"], "properties": {
                    "total": {"type": "integer", "minimum": 0},
                    "by_state": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}}},
                "tasks": {"type": "array", "items": {"type": "object", "additionalProperties": false,
                    "required": ["id", "phase", "title", "role", "assignee", "status"], "properties": {
                    "id": {"type": "integer"}, "phase": {"type": "string"}, "title": {"type": "string"}, "role": {"type": "string"},
                    "assignee": {"type": ["string", "null"]},
                    "status": {"type": "string", "enum": ["todo", "in_progress", "done", "not_applicable"]}}}},
                "assessment": {"oneOf": [{"type": "null"}, {"type": "object", "additionalProperties": false,
                    "required": ["conclusion", "reasons", "assessed_by", "assessed_at"], "properties": {
                    "conclusion": {"type": "string"}, "reasons": {"type": "array", "items": {"type": "string"}},
                    "assessed_by": {"type": "string"}, "assessed_at": time}}]},
                "deadlines": {"type": "array", "items": {"$ref": "#/components/schemas/IncidentDeadline"}},
                "evidence": {"type": "array", "items": {"type": "object", "additionalProperties": false,
                    "required": ["id", "name", "media_type", "size", "sha256", "added_by", "added_at"], "properties": {
                    "id": {"type": "integer"}, "name": {"type": "string"}, "media_type": {"type": "string"},
                    "size": {"type": "integer", "minimum": 0}, "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                    "added_by": {"type": "string"}, "added_at": time}}},
                "custody_entries": {"type": "integer", "minimum": 0},
                "timeline": {"type": "array", "items": {"type": "object", "additionalProperties": false,
                    "required": ["seq", "at", "actor", "kind", "text"], "properties": {
                    "seq": {"type": "integer"}, "at": time, "actor": {"type": "string"}, "kind": {"type": "string"}, "text": {"type": "string"}}}}}},
        "OpenIncident": {"type": "object", "additionalProperties": false, "required": ["alerts"], "properties": {
            "alerts": {"type": "array", "minItems": 1, "maxItems": MAX_ALERTS_PER_OPEN, "items": {"type": "string"},
                "description": "Ids of stored alerts (404 when one is not)"},
            "incident_type": {"type": ["string", "null"], "enum": types.iter().map(|t| Value::from(*t)).chain([Value::Null]).collect::<Vec<_>>(),
                "description": "Overrides the response plan's route; needed when no route matches the first alert (400 otherwise)"}}},
        "IncidentOpened": {"type": "object", "additionalProperties": false, "required": ["id", "incident_type", "tasks"], "properties": {
            "id": {"type": "integer"}, "incident_type": {"type": "string", "enum": types},
            "tasks": {"type": "integer", "minimum": 0}}},
        "GiveNotice": {"type": "object", "additionalProperties": false, "required": ["kind", "given_on", "method"], "properties": {
            "kind": {"type": "string", "enum": notice_kinds},
            "jurisdiction": {"type": "string", "maxLength": MAX_JURISDICTION_CHARS,
                "description": "The state of a state-law notice; empty or absent for a federal one"},
            "given_on": {"type": "string", "format": "date", "pattern": not_after,
                "description": "Between the day of discovery and today (400 for a day before discovery)"},
            "method": non_blank(MAX_NOTICE_METHOD_CHARS)}},
        "NoticeGiven": {"type": "object", "additionalProperties": false, "required": ["id", "kind", "jurisdiction", "given_on"], "properties": {
            "id": {"type": "integer"}, "kind": {"type": "string", "enum": notice_kinds},
            "jurisdiction": {"type": "string"}, "given_on": date}},
        "FollowUp": {"type": "object", "additionalProperties": false, "required": ["title", "owner", "due_on"], "properties": {
            "title": non_blank(MAX_NAME_CHARS), "owner": non_blank(MAX_NAME_CHARS), "due_on": date}},
        "IncidentReview": {"type": "object", "additionalProperties": false, "required": ["held_on", "participants", "summary"],
            "properties": review_properties.clone()},
        "CloseIncident": {"type": "object", "additionalProperties": false, "required": ["held_on", "participants", "summary"],
            "properties": close_properties},
        "ReviewRecorded": {"type": "object", "additionalProperties": false, "required": ["id", "status", "follow_ups"], "properties": {
            "id": {"type": "integer"}, "status": {"type": "string", "enum": ["closed"]},
            "follow_ups": {"type": "integer", "minimum": 0}}},
        "FollowUpDone": {"type": "object", "additionalProperties": false, "properties": {
            "done_on": {"type": ["string", "null"], "format": "date", "pattern": not_after,
                "description": "Not after today; today when absent or null"}}},
        "FollowUpMarked": {"type": "object", "additionalProperties": false, "required": ["id", "incident", "title", "owner", "due_on", "done_on"], "properties": {
            "id": {"type": "integer"}, "incident": {"type": "integer"}, "title": {"type": "string"},
            "owner": {"type": "string"}, "due_on": date, "done_on": date}},
        "TabletopExercise": {"type": "object", "additionalProperties": false, "required": ["held_on", "scenario", "participants"], "properties": {
            "held_on": {"type": "string", "format": "date", "pattern": not_after, "description": "Not after today"},
            "scenario": non_blank(MAX_ITEM_CHARS),
            "participants": list(1, MAX_NAME_CHARS),
            "findings": list(0, MAX_ITEM_CHARS),
            "follow_ups": follow_ups}},
        "ExerciseRecorded": {"type": "object", "additionalProperties": false, "required": ["id", "held_on", "plan_version", "follow_ups"], "properties": {
            "id": {"type": "integer"}, "held_on": date, "plan_version": {"type": "string"},
            "follow_ups": {"type": "integer", "minimum": 0}}},
    });
    if let (Some(into), Value::Object(added)) = (schemas.as_object_mut(), added) {
        into.extend(added);
    }
    schemas
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_not_after_pattern_names_every_earlier_day_and_today() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        assert_eq!(
            not_after_pattern(today),
            "^(?:[0-1]\\d{3}-\\d{2}-\\d{2}|20[0-1]\\d{1}-\\d{2}-\\d{2}|202[0-5]-\\d{2}-\\d{2}\
             |2026-[0-0]\\d{1}-\\d{2}|2026-1[0-0]-\\d{2}\
             |2026-11-[0-1]\\d{1}|2026-11-2[0-7]|2026-11-28)$"
        );
    }
}
