//! Incidents as the store keeps them: the incident itself, the alerts attached to it, the tasks
//! of its playbook, an append-only timeline, the evidence locker with its chain of custody,
//! breach assessments, notification deadlines and law-enforcement delays.
//!
//! The store knows nothing of HIPAA's arithmetic or of playbooks: `ward-respond` decides what a
//! deadline is and which tasks a playbook creates, and hands the store plain records (an
//! assessment's reasoning travels as JSON). What the store guarantees is durability and proof:
//! the timeline and the custody log are never rewritten (the backend refuses updates and
//! deletes of their rows), each evidence file is hashed with SHA-256 on arrival, and every
//! access to it is appended to a hash chain that [`Incidents::verify_evidence`] recomputes.
//!
//! Must never put evidence contents, PHI or a note's text into an error message.

use crate::Result;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use ward_model::{Severity, Timestamp};

/// Where an incident stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    /// Opened, not yet contained.
    Open,
    Contained,
    Eradicated,
    Recovered,
    Closed,
}

impl IncidentStatus {
    pub const ALL: [IncidentStatus; 5] = [
        IncidentStatus::Open,
        IncidentStatus::Contained,
        IncidentStatus::Eradicated,
        IncidentStatus::Recovered,
        IncidentStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Open => "open",
            IncidentStatus::Contained => "contained",
            IncidentStatus::Eradicated => "eradicated",
            IncidentStatus::Recovered => "recovered",
            IncidentStatus::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A new incident, before the store gives it an id.
#[derive(Debug, Clone, PartialEq)]
pub struct NewIncident {
    pub title: String,
    /// The incident type as the response plan names it (`insider_snooping`, `ransomware` …).
    pub incident_type: String,
    pub severity: Severity,
    pub opened_at: Timestamp,
    pub opened_by: String,
    /// When the incident became known, or by reasonable diligence would have been: the day the
    /// breach notification clock starts (45 CFR 164.404(a)(2)).
    pub discovered_at: Timestamp,
    /// The version of the response plan whose playbook the incident follows.
    pub plan_version: String,
    /// What the caller wants to keep beside the columns (description, affected counts …).
    pub body: serde_json::Value,
}

/// A stored incident.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentRecord {
    pub id: i64,
    pub title: String,
    pub incident_type: String,
    pub severity: Severity,
    pub status: IncidentStatus,
    pub opened_at: Timestamp,
    pub opened_by: String,
    pub discovered_at: Timestamp,
    pub plan_version: String,
    pub body: serde_json::Value,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct IncidentQuery {
    pub status: Option<IncidentStatus>,
    pub incident_type: Option<String>,
    /// At most this many incidents (default 1,000), newest first.
    pub limit: Option<usize>,
}

/// Something an incident is about: an asset, a user, a patient or a vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    Asset,
    User,
    Patient,
    Vendor,
}

impl LinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Asset => "asset",
            LinkKind::User => "user",
            LinkKind::Patient => "patient",
            LinkKind::Vendor => "vendor",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            LinkKind::Asset,
            LinkKind::User,
            LinkKind::Patient,
            LinkKind::Vendor,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }
}

/// A task's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Todo,
    InProgress,
    Done,
    /// Judged not to apply to this incident (the timeline says why).
    NotApplicable,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Todo => "todo",
            TaskStatus::InProgress => "in_progress",
            TaskStatus::Done => "done",
            TaskStatus::NotApplicable => "not_applicable",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            TaskStatus::Todo,
            TaskStatus::InProgress,
            TaskStatus::Done,
            TaskStatus::NotApplicable,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// A task to create, usually one step of a playbook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    /// The response phase (`identification`, `containment` …).
    pub phase: String,
    /// Position in the incident's task list (phase order, then the playbook's order).
    pub order: u32,
    pub title: String,
    pub detail: String,
    /// The plan role responsible (`it_lead`).
    pub role: String,
    /// The person the task is assigned to (the role's holder), when the plan names one.
    pub assignee: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRecord {
    pub id: i64,
    pub incident_id: i64,
    pub phase: String,
    pub order: u32,
    pub title: String,
    pub detail: String,
    pub role: String,
    pub assignee: Option<String>,
    pub status: TaskStatus,
    pub updated_at: Timestamp,
}

/// What a timeline entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimelineKind {
    Opened,
    StatusChanged,
    AlertAttached,
    LinkAdded,
    TaskCreated,
    TaskUpdated,
    Note,
    Action,
    EvidenceAdded,
    Assessment,
    DeadlinesComputed,
    NotificationSent,
    LawEnforcementDelay,
    Review,
}

impl TimelineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TimelineKind::Opened => "opened",
            TimelineKind::StatusChanged => "status_changed",
            TimelineKind::AlertAttached => "alert_attached",
            TimelineKind::LinkAdded => "link_added",
            TimelineKind::TaskCreated => "task_created",
            TimelineKind::TaskUpdated => "task_updated",
            TimelineKind::Note => "note",
            TimelineKind::Action => "action",
            TimelineKind::EvidenceAdded => "evidence_added",
            TimelineKind::Assessment => "assessment",
            TimelineKind::DeadlinesComputed => "deadlines_computed",
            TimelineKind::NotificationSent => "notification_sent",
            TimelineKind::LawEnforcementDelay => "law_enforcement_delay",
            TimelineKind::Review => "review",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            TimelineKind::Opened,
            TimelineKind::StatusChanged,
            TimelineKind::AlertAttached,
            TimelineKind::LinkAdded,
            TimelineKind::TaskCreated,
            TimelineKind::TaskUpdated,
            TimelineKind::Note,
            TimelineKind::Action,
            TimelineKind::EvidenceAdded,
            TimelineKind::Assessment,
            TimelineKind::DeadlinesComputed,
            TimelineKind::NotificationSent,
            TimelineKind::LawEnforcementDelay,
            TimelineKind::Review,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }
}

/// One line of an incident's timeline. Appended, never changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    /// Assigned by the store, ascending in the order entries were appended.
    pub seq: i64,
    pub at: Timestamp,
    pub actor: String,
    pub kind: TimelineKind,
    pub text: String,
}

/// An evidence file to put in the locker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvidence {
    /// A file name or a description of an exported event set.
    pub name: String,
    pub media_type: String,
    pub content: Vec<u8>,
    pub added_by: String,
    pub added_at: Timestamp,
}

/// An evidence file as listed: its metadata, never its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceRecord {
    pub id: i64,
    pub incident_id: i64,
    pub name: String,
    pub media_type: String,
    /// SHA-256 of the content, computed by the store on arrival.
    pub sha256: [u8; 32],
    pub size: u64,
    pub added_by: String,
    pub added_at: Timestamp,
}

/// What was done with an evidence file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustodyAction {
    Added,
    Read,
    Exported,
    Verified,
}

impl CustodyAction {
    pub fn as_str(self) -> &'static str {
        match self {
            CustodyAction::Added => "added",
            CustodyAction::Read => "read",
            CustodyAction::Exported => "exported",
            CustodyAction::Verified => "verified",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            CustodyAction::Added,
            CustodyAction::Read,
            CustodyAction::Exported,
            CustodyAction::Verified,
        ]
        .into_iter()
        .find(|a| a.as_str() == text)
    }
}

/// One link of an incident's chain of custody: who did what to which evidence file, when, and
/// the file's SHA-256 as recorded at arrival. `hash` is SHA-256 over `prev_hash` and every
/// other field (see [`custody_hash`]), so removing, reordering or editing a row breaks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustodyEntry {
    /// 1, 2, 3 … within the incident.
    pub seq: u64,
    pub evidence_id: i64,
    pub action: CustodyAction,
    pub actor: String,
    pub at: Timestamp,
    /// Why (a purpose, a recipient of an export); may be empty.
    pub detail: String,
    #[serde(with = "hex32")]
    pub digest: [u8; 32],
    #[serde(with = "hex32")]
    pub prev_hash: [u8; 32],
    #[serde(with = "hex32")]
    pub hash: [u8; 32],
}

/// The previous hash of an incident's first custody entry.
pub const CUSTODY_GENESIS: [u8; 32] = [0; 32];

impl CustodyEntry {
    /// What `hash` must be: SHA-256 over `prev_hash`, the incident and every other field,
    /// texts length-prefixed so no two different entries hash the same bytes.
    pub fn expected_hash(&self, incident_id: i64) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(b"ward-custody-v1");
        h.update(self.prev_hash);
        h.update(incident_id.to_be_bytes());
        h.update(self.seq.to_be_bytes());
        h.update(self.evidence_id.to_be_bytes());
        for text in [self.action.as_str(), &self.actor, &self.detail] {
            h.update((text.len() as u64).to_be_bytes());
            h.update(text.as_bytes());
        }
        h.update(self.at.millis().to_be_bytes());
        h.update(self.digest);
        h.finalize().into()
    }
}

/// Checks an incident's custody log (as [`Incidents::custody_log`] returns it, or as read back
/// from an export): numbered 1, 2, 3 …, each entry linked to its predecessor's hash and hashing
/// to what it says. Returns the sequence number of the first entry that fails.
pub fn first_broken_custody_link(incident_id: i64, entries: &[CustodyEntry]) -> Option<u64> {
    let mut prev = CUSTODY_GENESIS;
    for (i, entry) in entries.iter().enumerate() {
        let expected_seq = i as u64 + 1;
        if entry.seq != expected_seq
            || entry.prev_hash != prev
            || entry.expected_hash(incident_id) != entry.hash
        {
            return Some(expected_seq);
        }
        prev = entry.hash;
    }
    None
}

/// What [`Incidents::verify_evidence`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvidenceVerification {
    /// Every file's content hashes to its recorded SHA-256 and the custody chain is whole.
    Intact { files: u64, custody_entries: u64 },
    /// The first thing that failed.
    Failed(EvidenceFailure),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvidenceFailure {
    /// The stored content no longer hashes to the SHA-256 recorded on arrival.
    ContentChanged { evidence_id: i64, name: String },
    /// The SHA-256 kept with the file differs from the one its custody entries recorded.
    DigestChanged { evidence_id: i64, name: String },
    /// A custody entry does not hash to what it says, or does not follow its predecessor.
    ChainBroken { seq: u64 },
    /// A file has no `added` entry in the custody log.
    NoCustodyRecord { evidence_id: i64, name: String },
}

impl std::fmt::Display for EvidenceFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EvidenceFailure::ContentChanged { evidence_id, name } => write!(
                f,
                "evidence {evidence_id} ({name}): its content no longer matches the SHA-256 recorded on arrival"
            ),
            EvidenceFailure::DigestChanged { evidence_id, name } => write!(
                f,
                "evidence {evidence_id} ({name}): its recorded SHA-256 differs from the custody log's"
            ),
            EvidenceFailure::ChainBroken { seq } => {
                write!(f, "custody entry {seq} does not match its hash chain")
            }
            EvidenceFailure::NoCustodyRecord { evidence_id, name } => write!(
                f,
                "evidence {evidence_id} ({name}) has no arrival record in the custody log"
            ),
        }
    }
}

/// A breach risk assessment as recorded: who concluded what, when, and the full reasoning as
/// the caller serialised it.
#[derive(Debug, Clone, PartialEq)]
pub struct AssessmentRecord {
    /// Assigned by the store.
    pub id: i64,
    pub incident_id: i64,
    pub assessed_by: String,
    pub assessed_at: Timestamp,
    /// The conclusion in a word (`breach`, `not_breach` …) for lists.
    pub conclusion: String,
    pub body: serde_json::Value,
}

/// A notification deadline that runs for an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineRecord {
    /// What notice is due (`individuals`, `media`, `hhs`, `hhs_annual_log`, `covered_entity`).
    pub kind: String,
    /// The state or jurisdiction for media notice; empty otherwise.
    pub jurisdiction: String,
    pub due_on: NaiveDate,
    /// The regulation that sets it (`45 CFR 164.404(b)`).
    pub citation: String,
    /// How the date was reached, in words.
    pub explanation: String,
    /// When the notice was given, once it was.
    pub notified_on: Option<NaiveDate>,
    pub notified_by: Option<String>,
}

/// A deadline with the incident it belongs to, for the overview across incidents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingDeadline {
    pub incident_id: i64,
    pub incident_title: String,
    pub deadline: DeadlineRecord,
}

/// A law-enforcement statement that notice would impede an investigation (45 CFR 164.412).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LawEnforcementDelayRecord {
    /// Assigned by the store.
    pub id: i64,
    pub incident_id: i64,
    /// The official's name and title, as 164.412(b) asks the entity to document.
    pub official: String,
    pub agency: String,
    /// `written` or `oral`.
    pub form: String,
    pub stated_on: NaiveDate,
    /// For a written statement, the end of the period it specifies.
    pub until: Option<NaiveDate>,
    pub recorded_by: String,
    pub recorded_at: Timestamp,
    pub note: String,
}

/// A tabletop exercise held against a response plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExerciseRecord {
    /// Assigned by the store.
    pub id: i64,
    pub plan_version: String,
    pub held_on: NaiveDate,
    /// The scenario played (`ransomware on the PACS network during a night shift`).
    pub scenario: String,
    pub participants: Vec<String>,
    /// What the exercise showed: gaps, confusions, what worked.
    pub findings: Vec<String>,
    pub recorded_by: String,
    pub recorded_at: Timestamp,
}

/// The post-incident review of a closed incident (NIST SP 800-61r2 3.4.1, lessons learned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRecord {
    pub incident_id: i64,
    pub held_on: NaiveDate,
    pub participants: Vec<String>,
    pub summary: String,
    pub went_well: Vec<String>,
    pub to_improve: Vec<String>,
    pub recorded_by: String,
    pub recorded_at: Timestamp,
}

/// Where a follow-up action came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "from", content = "id", rename_all = "snake_case")]
pub enum FollowUpSource {
    Exercise(i64),
    Incident(i64),
}

/// An action agreed in an exercise or a review, tracked to completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUpRecord {
    /// Assigned by the store.
    pub id: i64,
    pub source: FollowUpSource,
    pub title: String,
    pub owner: String,
    pub due_on: NaiveDate,
    pub done_on: Option<NaiveDate>,
    pub created_at: Timestamp,
}

/// Incidents and everything kept with them. Implementations are internally synchronised.
/// Every change that matters to the story of an incident appends a timeline entry in the same
/// transaction, so the timeline cannot miss one.
pub trait Incidents: Send + Sync {
    /// Stores a new incident with status `open` and an `opened` timeline entry; returns its id.
    fn create_incident(&self, incident: &NewIncident) -> Result<i64>;
    fn get_incident(&self, id: i64) -> Result<Option<IncidentRecord>>;
    /// Incidents, newest first.
    fn list_incidents(&self, query: &IncidentQuery) -> Result<Vec<IncidentRecord>>;
    /// Moves an incident to `status`; `false` when there is no such incident.
    fn set_incident_status(
        &self,
        id: i64,
        status: IncidentStatus,
        actor: &str,
        at: Timestamp,
        note: &str,
    ) -> Result<bool>;
    /// Replaces the caller's body of an incident (affected counts, description …).
    fn update_incident_body(&self, id: i64, body: &serde_json::Value) -> Result<bool>;

    /// Attaches an alert; `false` when it was attached already.
    fn attach_alert(
        &self,
        incident_id: i64,
        alert_id: &str,
        actor: &str,
        at: Timestamp,
    ) -> Result<bool>;
    /// Ids of the attached alerts, in the order they were attached.
    fn incident_alerts(&self, incident_id: i64) -> Result<Vec<String>>;
    /// Links an asset, user, patient or vendor; `false` when it was linked already.
    fn link_entity(
        &self,
        incident_id: i64,
        kind: LinkKind,
        value: &str,
        actor: &str,
        at: Timestamp,
    ) -> Result<bool>;
    fn incident_links(&self, incident_id: i64) -> Result<Vec<(LinkKind, String)>>;

    /// Creates tasks (one timeline entry for all); returns their ids in the order given.
    fn add_tasks(
        &self,
        incident_id: i64,
        tasks: &[NewTask],
        actor: &str,
        at: Timestamp,
    ) -> Result<Vec<i64>>;
    /// The incident's tasks by order.
    fn tasks(&self, incident_id: i64) -> Result<Vec<TaskRecord>>;
    /// Moves a task on, reassigning it when `assignee` is given; `false`: no such task.
    fn update_task(
        &self,
        task_id: i64,
        status: TaskStatus,
        assignee: Option<&str>,
        actor: &str,
        at: Timestamp,
    ) -> Result<bool>;

    /// Appends a note or an action to the timeline.
    fn append_timeline(
        &self,
        incident_id: i64,
        kind: TimelineKind,
        actor: &str,
        at: Timestamp,
        text: &str,
    ) -> Result<i64>;
    /// The whole timeline, in the order it was written.
    fn timeline(&self, incident_id: i64) -> Result<Vec<TimelineEntry>>;

    /// Puts a file in the locker: hashes it, stores it, and appends `added` to the custody log.
    fn add_evidence(&self, incident_id: i64, evidence: &NewEvidence) -> Result<EvidenceRecord>;
    fn list_evidence(&self, incident_id: i64) -> Result<Vec<EvidenceRecord>>;
    /// Reads a file's content, appending `action` (read or exported) with `detail` to the
    /// custody log first. `None` when there is no such evidence.
    fn open_evidence(
        &self,
        evidence_id: i64,
        action: CustodyAction,
        actor: &str,
        at: Timestamp,
        detail: &str,
    ) -> Result<Option<(EvidenceRecord, Vec<u8>)>>;
    /// The incident's chain of custody, in order: what an export hands over.
    fn custody_log(&self, incident_id: i64) -> Result<Vec<CustodyEntry>>;
    /// Recomputes each file's SHA-256 and the custody chain, naming the first thing that
    /// fails. When everything holds, appends `verified` for each file (verification reads the
    /// content, and every read is logged).
    fn verify_evidence(
        &self,
        incident_id: i64,
        actor: &str,
        at: Timestamp,
    ) -> Result<EvidenceVerification>;

    /// Records an assessment (with a timeline entry); returns its id.
    fn add_assessment(&self, assessment: &AssessmentRecord) -> Result<i64>;
    /// Assessments, oldest first: the last one is the standing determination.
    fn assessments(&self, incident_id: i64) -> Result<Vec<AssessmentRecord>>;

    /// Replaces the incident's deadlines with `deadlines`, keeping what was recorded as
    /// notified for a deadline of the same kind and jurisdiction.
    fn set_deadlines(
        &self,
        incident_id: i64,
        deadlines: &[DeadlineRecord],
        actor: &str,
        at: Timestamp,
    ) -> Result<()>;
    fn deadlines(&self, incident_id: i64) -> Result<Vec<DeadlineRecord>>;
    /// Records that a notice was given; `false` when no such deadline runs.
    fn mark_notified(
        &self,
        incident_id: i64,
        kind: &str,
        jurisdiction: &str,
        on: NaiveDate,
        actor: &str,
        at: Timestamp,
    ) -> Result<bool>;
    /// Deadlines not yet met and due on or before `until`, across incidents that are not
    /// closed, soonest first: the overview's list of overdue and upcoming notices.
    fn pending_deadlines(&self, until: NaiveDate) -> Result<Vec<PendingDeadline>>;

    /// Records a law-enforcement delay (with a timeline entry); returns its id.
    fn add_law_enforcement_delay(&self, delay: &LawEnforcementDelayRecord) -> Result<i64>;
    fn law_enforcement_delays(&self, incident_id: i64) -> Result<Vec<LawEnforcementDelayRecord>>;

    /// Records a tabletop exercise; returns its id.
    fn add_exercise(&self, exercise: &ExerciseRecord) -> Result<i64>;
    /// Exercises, most recently held first.
    fn exercises(&self) -> Result<Vec<ExerciseRecord>>;

    /// Records the review of an incident (with a timeline entry), replacing an earlier one.
    fn put_review(&self, review: &ReviewRecord) -> Result<()>;
    fn review(&self, incident_id: i64) -> Result<Option<ReviewRecord>>;
    /// Closed incidents that have no review yet, oldest first.
    fn closed_without_review(&self) -> Result<Vec<i64>>;

    /// Records a follow-up action; returns its id.
    fn add_follow_up(&self, follow_up: &FollowUpRecord) -> Result<i64>;
    /// Follow-up actions by due date; only those not done when `open_only`.
    fn follow_ups(&self, open_only: bool) -> Result<Vec<FollowUpRecord>>;
    /// Marks a follow-up done; `false` when there is no such open follow-up.
    fn complete_follow_up(&self, id: i64, on: NaiveDate) -> Result<bool>;
}

/// Lower-case hex for the 32-byte hashes of an exported custody log.
mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        let mut text = String::with_capacity(64);
        for b in bytes {
            text.push_str(&format!("{b:02x}"));
        }
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        let bad = || serde::de::Error::custom("not 64 hex digits");
        if text.len() != 64 || !text.is_ascii() {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(out)
    }
}

/// Lower-case hex of a SHA-256, as reports and exports show it.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
