//! Patient-privacy monitoring (issue #6): explanations first, then what is left is flagged.
//!
//! Every access to a patient's record (an audit event naming a user and a patient: FHIR
//! AuditEvent, IHE ATNA) is first tested against explanation templates ([`explain`]): the user
//! is on the patient's care team, works in the department serving the encounter, has an
//! ancillary or back-office role that serves every current patient, declared an emergency, or
//! fits a department-to-department pattern learned from the data. Only what no template
//! explains is examined for suspicious patterns ([`patterns`]): self, family or household,
//! co-worker, neighbour, VIP, sensitive or deceased patient's record. Some things are flagged
//! whatever the explanation: accounts of staff who left or are on leave, mass exports, and
//! break-the-glass without a clinical action after it. A pattern other than the user's own
//! or a family member's record is held for the length of the sweep window, and dropped when a
//! template learned meanwhile explains the access. Unexplained accesses that fit no
//! pattern are held for the length of the sweep window: many of them in a short time become
//! one bulk-sweep alert; otherwise each waits `learn_hold` for templates learned from the
//! accesses after it, and is then judged. A *first-ever access to a patient outside the
//! user's department* (the user never opened the patient before, by a bounded memory of who
//! opened whom, and the patient belongs to another department) is an observation, counted:
//! it becomes an alert in a stretch of work outside the user's usual hours, or once the user
//! has made such accesses to several distinct patients within days (one alert per user and
//! window). Any other unexplained access is a low-severity "unexplained access" alert; a
//! return to a patient the user once opened with an explanation raises nothing of its own.
//! Two flags rest on baselines learned from the stream ([`baseline`]): a stretch of work that
//! begins far from the hours the same user worked on earlier days (after hours, unless a care
//! team or a declared emergency explains the access), and an hour whose distinct patients are
//! far above both the user's own usual hour and their peers' (same role and department),
//! explained or not. [`scan`] runs the detector over history for `ward privacy scan`.
//!
//! Alerts are grouped by user and patient per day (by user per day for sweeps, exports and
//! departed staff), say in plain words which explanations were tried and why each failed, and
//! carry HIPAA citations. The relationship context ([`relations`]) is built from the context
//! resources the detector receives and kept current as more arrive.
//!
//! This module does no IO, reads no clock (time is the events' time), never panics, and keeps
//! memory bounded: context in proportion to the organisation, stream state in proportion to
//! the sweep and follow-up windows (with hard caps).

pub mod baseline;
pub mod explain;
mod memory;
pub mod patterns;
pub mod relations;
pub mod scan;
#[cfg(test)]
mod tests;

use crate::engine::{Detector, Finding, alert_id};
use crate::threat::{Expiring, TableStats};
use baseline::{AfterHours, Baselines, VolumeAbove};
use explain::{Access, Learned, Template};
use patterns::Pattern;
use relations::{PatientId, Relations, StaffId};
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;
use ward_model::event::{Severity, api_activity, class};
use ward_model::{Alert, AlertEntities, AlertStatus, ContextResource, Event, EventId, Timestamp};

const DAY_MS: i64 = 86_400_000;

/// 45 CFR citations. Information system activity review and audit controls apply to every
/// privacy alert; the others where they fit.
const ACTIVITY_REVIEW: &str = "164.308(a)(1)(ii)(D)";
const AUDIT_CONTROLS: &str = "164.312(b)";
const ACCESS_MANAGEMENT: &str = "164.308(a)(4)";
const MINIMUM_NECESSARY: &str = "164.502(b)";
const TERMINATION_PROCEDURES: &str = "164.308(a)(3)(ii)(C)";

/// Every rule this detector can raise, for the console's rules page and `ward rules list`.
/// The alerts carry these ids; the citations are the ones every privacy alert carries plus the
/// rule's own (the alert itself is authoritative).
pub const RULES: &[crate::threat::Rule] = &[
    privacy_rule(
        "privacy.self_access",
        "Staff member opened their own patient record",
        Severity::Medium,
        &["T1213"],
        &[ACTIVITY_REVIEW, AUDIT_CONTROLS, ACCESS_MANAGEMENT],
    ),
    privacy_rule(
        "privacy.family_member",
        "Staff member opened a family or household member's record",
        Severity::High,
        &["T1213"],
        &[ACTIVITY_REVIEW, AUDIT_CONTROLS, MINIMUM_NECESSARY],
    ),
    privacy_rule(
        "privacy.co_worker",
        "Staff member opened a co-worker's record without a care relationship",
        Severity::High,
        &["T1213"],
        &[ACTIVITY_REVIEW, AUDIT_CONTROLS, MINIMUM_NECESSARY],
    ),
    privacy_rule(
        "privacy.vip",
        "VIP record opened without a care relationship",
        Severity::High,
        &["T1213"],
        &[ACTIVITY_REVIEW, AUDIT_CONTROLS, MINIMUM_NECESSARY],
    ),
    privacy_rule(
        "privacy.neighbour",
        "Staff member opened a neighbour's record",
        Severity::Medium,
        &["T1213"],
        &[ACTIVITY_REVIEW, AUDIT_CONTROLS, MINIMUM_NECESSARY],
    ),
    privacy_rule(
        "privacy.deceased",
        "Deceased patient's record opened without a reason",
        Severity::Medium,
        &["T1213"],
        &[ACTIVITY_REVIEW, AUDIT_CONTROLS, MINIMUM_NECESSARY],
    ),
    privacy_rule(
        "privacy.sensitive_record",
        "Restricted record opened without a care relationship",
        Severity::Medium,
        &["T1213"],
        &[ACTIVITY_REVIEW, AUDIT_CONTROLS, MINIMUM_NECESSARY],
    ),
    privacy_rule(
        "privacy.terminated_user",
        "Terminated staff account used on the EHR",
        Severity::Critical,
        &["T1078"],
        &[ACTIVITY_REVIEW, AUDIT_CONTROLS, TERMINATION_PROCEDURES],
    ),
    privacy_rule(
        "privacy.on_leave_user",
        "Account of staff on leave used on the EHR",
        Severity::High,
        &["T1078"],
        &[ACTIVITY_REVIEW, AUDIT_CONTROLS, ACCESS_MANAGEMENT],
    ),
    privacy_rule(
        "privacy.bulk_sweep",
        "Bulk look-up of unrelated patients",
        Severity::High,
        &["T1213"],
        &[ACTIVITY_REVIEW, AUDIT_CONTROLS, MINIMUM_NECESSARY],
    ),
    privacy_rule(
        "privacy.mass_export",
        "Mass export of patient records",
        Severity::Critical,
        &["T1005", "T1213"],
        &[ACTIVITY_REVIEW, AUDIT_CONTROLS, MINIMUM_NECESSARY],
    ),
    privacy_rule(
        "privacy.break_glass_without_follow_up",
        "Break-the-glass without a following clinical action",
        Severity::High,
        &["T1078"],
        &[ACTIVITY_REVIEW, AUDIT_CONTROLS, ACCESS_MANAGEMENT],
    ),
    privacy_rule(
        "privacy.after_hours",
        "Patient records opened outside the user's usual hours",
        Severity::Medium,
        &["T1078", "T1213"],
        &[ACTIVITY_REVIEW, AUDIT_CONTROLS, ACCESS_MANAGEMENT],
    ),
    privacy_rule(
        "privacy.volume_above_baseline",
        "Records opened far above the user's own and their peers' usual volume",
        Severity::Medium,
        &["T1213"],
        &[ACTIVITY_REVIEW, AUDIT_CONTROLS, MINIMUM_NECESSARY],
    ),
    privacy_rule(
        "privacy.outside_department",
        "First-ever access to a patient outside the user's department",
        Severity::Low,
        &["T1213"],
        &[ACTIVITY_REVIEW, AUDIT_CONTROLS, MINIMUM_NECESSARY],
    ),
    privacy_rule(
        "privacy.unexplained_access",
        "Access to a patient record with no explanation",
        Severity::Low,
        &["T1213"],
        &[ACTIVITY_REVIEW, AUDIT_CONTROLS],
    ),
];

const fn privacy_rule(
    id: &'static str,
    title: &'static str,
    severity: Severity,
    attack: &'static [&'static str],
    hipaa: &'static [&'static str],
) -> crate::threat::Rule {
    crate::threat::Rule {
        id,
        title,
        severity,
        attack,
        hipaa,
    }
}

/// MITRE ATT&CK: Data from Information Repositories, and Valid Accounts.
const DATA_FROM_REPOSITORIES: &str = "T1213";
const VALID_ACCOUNTS: &str = "T1078";

/// The detector's settings. The defaults suit a hospital's EHR audit trail; every window is
/// event time, never the wall clock.
#[derive(Debug, Clone, PartialEq)]
pub struct PrivacyOptions {
    /// Charts are prepared before a visit: how long before an encounter a care relationship
    /// already explains an access.
    pub margin_before: Duration,
    /// And completed after discharge: how long after an encounter it still does.
    pub margin_after: Duration,
    /// How long after an encounter its care team may still follow up on the patient (results
    /// that come back after discharge, a call to a former patient): longer than
    /// `margin_after`, and for the care team only, never the department.
    pub care_team_follow_up: Duration,
    /// How long after an encounter health information management, billing and registration
    /// still work on it.
    pub back_office_window: Duration,
    /// How long a declared emergency (break-the-glass) explains the user's accesses to that
    /// patient.
    pub break_glass_explains: Duration,
    /// How long after it was written an order (ServiceRequest) explains its requester's and
    /// performers' accesses, when its occurrence does not end later.
    pub order_window: Duration,
    /// How long before an appointment its participants may prepare for it.
    pub appointment_preparation: Duration,
    /// How soon after break-the-glass a clinical action (a create or update on the patient by
    /// the same user) must follow.
    pub break_glass_follow_up: Duration,
    /// An access within this long after an explained access of the same user to the same
    /// patient belongs to the same chart session and has the same explanation.
    pub session_continuation: Duration,
    /// Unexplained accesses to this many distinct patients by one user within
    /// `sweep_window` are a bulk sweep.
    pub sweep_min_patients: usize,
    pub sweep_window: Duration,
    /// Exports of this many distinct patients by one user within `export_window` are a mass
    /// export, explained or not.
    pub export_min_patients: usize,
    pub export_window: Duration,
    /// Identity matches (staff and patient the same person) at or above this confidence count.
    pub identity_threshold: f32,
    /// Role codes (case-insensitive) that serve every current patient.
    pub ancillary_roles: Vec<String>,
    /// Role codes of health information management, billing and registration.
    pub back_office_roles: Vec<String>,
    /// Department codes or names of those offices.
    pub back_office_departments: Vec<String>,
    /// Learn department-to-department templates from the data.
    pub learn: bool,
    /// How long an unexplained access that fits no pattern waits before it becomes an
    /// alert when templates are learned: a consult or covering pattern seen for the first
    /// time is learned from the accesses of the following hours, and explains the first ones
    /// too. Pattern, sweep and other alerts never wait for it.
    pub learn_hold: Duration,
    pub learn_min_users: usize,
    /// And at least this share of the staff of the user's department (capped at the
    /// 64-user sample), so that in a large department the odd innocent looks of a few users
    /// do not make a pattern that then explains browsing.
    pub learn_min_user_share: f64,
    pub learn_min_patients: usize,
    /// One user's documented care (creates or updates) on this many distinct current
    /// patients of a department explains that user's accesses to its current patients.
    pub learn_min_documented: usize,
    /// Flag self and family accesses even when a template explains them.
    pub personal_links_regardless: bool,
    /// Baselines: completed days of activity and hours of work on record before a user's
    /// own usual hours and volume are judged against.
    pub baseline_min_days: u32,
    pub baseline_min_hours: usize,
    /// A gap in a user's activity this long ends a stretch of work; a stretch that begins at
    /// least `after_hours_margin` hours away from every hour the user worked on earlier days
    /// is after hours.
    pub activity_gap: Duration,
    pub after_hours_margin: u32,
    /// Distinct patients in a clock hour at or above this many, and at least `volume_factor`
    /// times the user's own usual hour (95th percentile) and their peers' (same role and
    /// department, when at least `peer_min_users` colleagues have history), are a volume
    /// far above the baseline.
    pub volume_min_patients: usize,
    pub volume_factor: f64,
    pub peer_min_users: usize,
    /// How long Ward remembers that a user opened a patient's record (since the last
    /// access), and how many (user, patient) pairs it remembers at most: an unexplained
    /// access is a *first-ever* access when the pair is not remembered. Pairs forgotten to
    /// stay under the cap are counted in [`PrivacyDetector::state`].
    pub seen_for: Duration,
    pub max_seen_pairs: usize,
    /// A first-ever access outside the user's department that nothing explains is an alert
    /// on its own only in a stretch of work outside the user's usual hours; otherwise it is
    /// held as an observation, and becomes an alert when the same user has made such accesses
    /// to this many distinct patients within `outside_department_window` (curiosity browses;
    /// a consult nobody recorded or a colleague's question is one look). 1 makes every such
    /// access an alert.
    pub outside_department_min_patients: usize,
    pub outside_department_window: Duration,
    /// Hard caps on stream state.
    pub max_pending: usize,
    pub max_tracked_per_user: usize,
}

impl Default for PrivacyOptions {
    fn default() -> Self {
        let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect();
        PrivacyOptions {
            margin_before: Duration::from_secs(12 * 3600),
            margin_after: Duration::from_secs(24 * 3600),
            care_team_follow_up: Duration::from_secs(7 * 86_400),
            back_office_window: Duration::from_secs(7 * 86_400),
            break_glass_explains: Duration::from_secs(4 * 3600),
            order_window: Duration::from_secs(72 * 3600),
            appointment_preparation: Duration::from_secs(24 * 3600),
            break_glass_follow_up: Duration::from_secs(2 * 3600),
            session_continuation: Duration::from_secs(30 * 60),
            sweep_min_patients: 15,
            sweep_window: Duration::from_secs(3600),
            export_min_patients: 20,
            export_window: Duration::from_secs(3600),
            identity_threshold: 0.9,
            ancillary_roles: strings(&[
                "lab",
                "laboratory",
                "phlebotomist",
                "radiology",
                "radiologist",
                "radiographer",
                "pharmacist",
                "pharmacy",
                "pharmacy technician",
            ]),
            back_office_roles: strings(&[
                "him",
                "health information management",
                "medical records",
                "coder",
                "coding",
                "billing",
                "registration",
                "release of information",
            ]),
            back_office_departments: strings(&[
                "HIM",
                "REG",
                "BILL",
                "ROI",
                "Health Information Management",
                "Patient Registration",
                "Patient Financial Services",
            ]),
            learn: true,
            learn_hold: Duration::from_secs(24 * 3600),
            learn_min_users: 3,
            learn_min_user_share: 0.1,
            learn_min_patients: 5,
            learn_min_documented: 3,
            personal_links_regardless: true,
            baseline_min_days: 1,
            baseline_min_hours: 6,
            activity_gap: Duration::from_secs(3 * 3600),
            after_hours_margin: 2,
            volume_min_patients: 30,
            volume_factor: 3.0,
            peer_min_users: 2,
            seen_for: Duration::from_secs(180 * 86_400),
            max_seen_pairs: 4_000_000,
            outside_department_min_patients: 3,
            outside_department_window: Duration::from_secs(7 * 86_400),
            max_pending: 100_000,
            max_tracked_per_user: 4_096,
        }
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl PrivacyOptions {
    pub fn margin_before_ms(&self) -> i64 {
        ms(self.margin_before)
    }
    pub fn margin_after_ms(&self) -> i64 {
        ms(self.margin_after)
    }
    pub fn care_team_follow_up_ms(&self) -> i64 {
        ms(self.care_team_follow_up).max(self.margin_after_ms())
    }
    pub fn back_office_window_ms(&self) -> i64 {
        ms(self.back_office_window)
    }
    pub fn break_glass_explains_ms(&self) -> i64 {
        ms(self.break_glass_explains)
    }
    pub fn order_window_ms(&self) -> i64 {
        ms(self.order_window)
    }
    pub fn appointment_preparation_ms(&self) -> i64 {
        ms(self.appointment_preparation)
    }
}

/// What the detector has seen: the share of accesses explained, by template.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrivacyStats {
    /// Accesses to a patient's record by a known user.
    pub accesses: u64,
    /// Explained accesses, by template (in [`Template::ALL`] order).
    pub explained: [u64; Template::ALL.len()],
    pub unexplained: u64,
    /// Accesses whose user is not staff (system accounts, unknown logins): not assessed.
    pub unknown_user: u64,
    /// Learned templates in force (department pairs).
    pub learned_templates: u64,
    /// Unexplained accesses or break-the-glass declarations not held for judgement because
    /// the stream state was at its cap (`max_pending`): each is a gap in the review, counted
    /// so that it is never silent.
    pub over_capacity: u64,
    /// First-ever accesses outside the user's department that nothing explains, held as
    /// observations below `outside_department_min_patients` (no alert of their own).
    pub outside_department_observed: u64,
    /// Entries of the state saved by the last run that named a user, patient or department
    /// the context no longer knows, left out when it was taken back.
    pub restore_dropped: u64,
}

impl PrivacyStats {
    pub fn explained_total(&self) -> u64 {
        self.explained.iter().sum()
    }

    /// Explained accesses as a share of assessed accesses (1.0 when there were none).
    pub fn explained_share(&self) -> f64 {
        if self.accesses == 0 {
            1.0
        } else {
            self.explained_total() as f64 / self.accesses as f64
        }
    }

    pub fn by_template(&self) -> impl Iterator<Item = (Template, u64)> + '_ {
        Template::ALL.into_iter().zip(self.explained)
    }
}

/// What the detector concluded about one event, for reports that show which template
/// explained each access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessOutcome {
    /// Not an access to a patient's record by a known user (a login, a system account).
    NotAssessed,
    Explained(Template),
    Unexplained,
}

/// An unexplained access waiting for the sweep decision.
#[derive(Debug, Clone)]
struct Pending {
    time: i64,
    user: StaffId,
    patient: PatientId,
    event: EventId,
    /// The pattern alert the access raised, held for the sweep window: below high severity
    /// so that a sweep covering it absorbs it instead of adding one alert per patient, and
    /// any that is not personal (self, family) so that a template learned meanwhile explains
    /// it after all.
    finding: Option<Finding>,
    /// The pattern is the user's own or a family member's record: flagged whatever explains it.
    personal: bool,
    /// What Ward remembered of the user and the patient before this access.
    seen: Seen,
    /// The access fell in a stretch of work that began outside the user's usual hours.
    after_hours: bool,
    /// Already waited for templates to be learned (`learn_hold`).
    deferred: bool,
}

/// Whether a user opened a patient's record before, as far as Ward remembers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// Never (within `seen_for` and the cap): a first-ever access.
    Never,
    /// Before, and never with an explanation.
    Unexplained,
    /// Before, and at least once with an explanation (a former patient, one transferred
    /// away): an unexplained return is counted but raises no alert of its own.
    Explained,
}

/// A declared emergency waiting for its clinical follow-up.
#[derive(Debug, Clone)]
struct Glass {
    time: i64,
    user: StaffId,
    patient: PatientId,
    event: EventId,
}

/// The privacy detector (`privacy`).
pub struct PrivacyDetector {
    options: PrivacyOptions,
    relations: Relations,
    learned: Learned,
    stats: PrivacyStats,
    /// Unexplained accesses, in time order, held for the sweep window.
    pending: VecDeque<Pending>,
    /// Unexplained accesses without a pattern past the sweep window, in time order, held
    /// until `learn_hold` after them.
    deferred: VecDeque<Pending>,
    /// Per user: recent unexplained accesses and exports (time, patient, event).
    recent_unexplained: HashMap<StaffId, VecDeque<(i64, PatientId, EventId)>>,
    recent_exports: HashMap<StaffId, VecDeque<(i64, PatientId, EventId)>>,
    /// Per user: first-ever unexplained accesses outside their department, concluded in
    /// time order (time, patient, event), within `outside_department_window`.
    recent_outside: HashMap<StaffId, VecDeque<(i64, PatientId, EventId)>>,
    /// Per user: the time of the first access of their open outside-department alert, so
    /// that later accesses in the window add to that alert instead of raising another.
    outside_alerted: HashMap<StaffId, i64>,
    /// User-level alerts raised (sweep, export, departed), as (user, day): they cover the
    /// user's unexplained accesses that day.
    covered: HashSet<(StaffId, i64)>,
    /// (user, patient, day) already flagged by a pattern.
    flagged: HashSet<(StaffId, PatientId, i64)>,
    /// Break-the-glass declarations: the latest per (user, patient), and those awaiting
    /// follow-up in time order.
    glass: HashMap<(StaffId, PatientId), (i64, bool)>,
    glass_queue: VecDeque<Glass>,
    /// The last explained access per (user, patient): the rest of the same chart session is
    /// explained by the same template, even when it runs past the end of a margin.
    last_explained: HashMap<(StaffId, PatientId), (i64, Template)>,
    /// Each user's usual hours and volume, and their peer groups'.
    baselines: Baselines,
    /// (user, patient) pairs seen, with whether any of their accesses was explained.
    seen: Expiring<(StaffId, PatientId), bool>,
    now: i64,
    last_cleanup_hour: i64,
    last_outcome: AccessOutcome,
    /// State saved by the last run, held until the first event (when the context it names is
    /// loaded) and then applied ([`memory`]).
    restored: Option<memory::Saved>,
}

/// The oldest access of `queue` (held in time order) once `hold` has passed since it by `now`.
fn pop_due(queue: &mut VecDeque<Pending>, hold: i64, now: i64) -> Option<Pending> {
    queue
        .front()
        .is_some_and(|p| p.time.saturating_add(hold) < now)
        .then(|| queue.pop_front())
        .flatten()
}

impl PrivacyDetector {
    pub fn new(options: PrivacyOptions) -> Self {
        PrivacyDetector {
            seen: Expiring::new(options.max_seen_pairs, ms(options.seen_for)),
            options,
            relations: Relations::default(),
            learned: Learned::default(),
            stats: PrivacyStats::default(),
            pending: VecDeque::new(),
            deferred: VecDeque::new(),
            recent_unexplained: HashMap::new(),
            recent_exports: HashMap::new(),
            recent_outside: HashMap::new(),
            outside_alerted: HashMap::new(),
            covered: HashSet::new(),
            flagged: HashSet::new(),
            glass: HashMap::new(),
            glass_queue: VecDeque::new(),
            last_explained: HashMap::new(),
            baselines: Baselines::default(),
            now: i64::MIN,
            last_cleanup_hour: i64::MIN,
            last_outcome: AccessOutcome::NotAssessed,
            restored: None,
        }
    }

    pub fn options(&self) -> &PrivacyOptions {
        &self.options
    }

    pub fn stats(&self) -> PrivacyStats {
        let mut stats = self.stats.clone();
        stats.learned_templates = self.learned.active().count() as u64;
        stats
    }

    /// The stream state's tables: what each holds, its cap, and what it let go (pairs of
    /// user and patient forgotten to stay under the cap make a later access look first-ever).
    pub fn state(&self) -> Vec<TableStats> {
        vec![
            self.seen.stats("seen_patients"),
            TableStats {
                table: "pending",
                held: self.pending.len() + self.deferred.len(),
                cap: self.options.max_pending,
                evicted: self.stats.over_capacity,
                expired: 0,
            },
        ]
    }

    /// The relationship context as built so far.
    pub fn relations(&self) -> &Relations {
        &self.relations
    }

    /// The learned templates in force, as (user's department, patient's department) labels.
    pub fn learned_templates(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .learned
            .active()
            .map(|(a, b)| {
                (
                    self.relations.dept_label(a).to_string(),
                    self.relations.dept_label(b).to_string(),
                )
            })
            .collect();
        out.sort();
        out
    }

    /// What the last observed event was judged: which template explained it, if any. (An
    /// access held unexplained may still be explained by a template learned within the sweep
    /// window; [`PrivacyDetector::stats`] counts it then.)
    pub fn last_outcome(&self) -> AccessOutcome {
        self.last_outcome
    }

    /// What to keep for the next run ([`memory`]); `None` when there is nothing.
    fn saved(&self) -> Option<memory::Saved> {
        let seen: Vec<(StaffId, PatientId, i64, bool)> = self
            .seen
            .entries()
            .map(|(&(user, patient), t, &explained)| (user, patient, t.millis(), explained))
            .collect();
        if seen.is_empty() && self.baselines.users() == 0 && self.recent_outside.is_empty() {
            return None;
        }
        let mut names = memory::Names::new(&self.relations);
        names.pack_seen(seen);
        self.learned.save(&mut names);
        self.baselines.save(&mut names);
        for (&user, looks) in &self.recent_outside {
            let Some(n) = names.user(user) else {
                continue;
            };
            let looks = looks
                .iter()
                .filter_map(|&(t, patient, event)| {
                    Some((t, names.patient(patient)?, event.to_hex()))
                })
                .collect();
            names.saved.outside.push((n, looks));
        }
        for (&user, &at) in &self.outside_alerted {
            if let Some(n) = names.user(user) {
                names.saved.outside_alerted.push((n, at));
            }
        }
        Some(names.saved)
    }

    /// Applies the state the last run saved, once the context is loaded (at the first event).
    fn apply_restored(&mut self) {
        let Some(saved) = self.restored.take() else {
            return;
        };
        let mut resolved = memory::Resolved::new(&self.relations, &saved);
        for (user, patient, t, explained) in resolved.seen(&saved) {
            *self.seen.touch((user, patient), Timestamp(t), || explained) |= explained;
        }
        self.learned.restore(&saved, &mut resolved);
        self.baselines.restore(&saved, &mut resolved);
        let window = ms(self.options.outside_department_window);
        for (user, looks) in &saved.outside {
            let Some(user) = resolved.user(*user) else {
                continue;
            };
            let held = self.recent_outside.entry(user).or_default();
            for (t, patient, event) in looks {
                if let (Some(patient), Some(event)) =
                    (resolved.patient(*patient), EventId::from_hex(event))
                {
                    track(
                        held,
                        *t,
                        window,
                        self.options.max_tracked_per_user,
                        patient,
                        event,
                    );
                }
            }
        }
        for &(user, at) in &saved.outside_alerted {
            if let Some(user) = resolved.user(user) {
                self.outside_alerted.entry(user).or_insert(at);
            }
        }
        self.stats.restore_dropped = resolved.dropped;
    }

    fn day_of(t: i64) -> i64 {
        t.div_euclid(DAY_MS)
    }

    fn handle(&mut self, event: &Event, out: &mut Vec<Finding>) {
        let Some(login) = event
            .actor
            .user
            .name
            .as_deref()
            .or(event.actor.user.uid.as_deref())
        else {
            return;
        };
        let record_event = event.patient.id.is_some()
            || matches!(event.metadata.product.as_str(), "fhir" | "atna");
        if !record_event || event.status == ward_model::event::Status::Failure {
            return;
        }
        let Some(user) = self.relations.staff_by_login(login) else {
            if let Some(patient_ref) = event.patient.id.as_deref() {
                if self.is_self_service(login, patient_ref) {
                    self.stats.accesses += 1;
                    self.stats.explained[slot(Template::SelfService)] += 1;
                    self.last_outcome = AccessOutcome::Explained(Template::SelfService);
                } else {
                    self.stats.unknown_user += 1;
                }
            }
            return;
        };
        let t = event.time.millis();
        self.departed(user, event, out);
        let after_hours = self
            .baselines
            .activity(&self.relations, &self.options, user, t);
        let Some(patient_ref) = event.patient.id.as_deref() else {
            return;
        };
        let Some(patient) = self.relations.patient(patient_ref) else {
            // A patient Ward has no context for cannot be explained: it is reported as such
            // (one alert per user, patient and day) rather than silently passed.
            self.stats.accesses += 1;
            self.stats.unexplained += 1;
            self.last_outcome = AccessOutcome::Unexplained;
            self.unknown_patient(user, patient_ref, event, out);
            return;
        };
        self.stats.accesses += 1;
        let is_glass = is_break_glass(event);
        if is_glass {
            self.glass.insert((user, patient), (t, false));
            if self.glass_queue.len() < self.options.max_pending {
                self.glass_queue.push_back(Glass {
                    time: t,
                    user,
                    patient,
                    event: event.id,
                });
            } else {
                self.stats.over_capacity += 1;
            }
        } else if is_clinical_action(event)
            && let Some(entry) = self.glass.get_mut(&(user, patient))
            && t >= entry.0
        {
            entry.1 = true;
        }
        let is_export = is_export(event);
        if is_export {
            self.export(user, patient, event, out);
        }
        let access = Access {
            user,
            patient,
            time: t,
        };
        let glass_recent = self.glass.get(&(user, patient)).is_some_and(|&(at, _)| {
            at <= t && t.saturating_sub(at) <= self.options.break_glass_explains_ms()
        });
        let explanation = explain::explain(
            &self.relations,
            &self.options,
            &self.learned,
            access,
            glass_recent,
        );
        let continuation = ms(self.options.session_continuation);
        let explanation = explanation.or_else(|| {
            self.last_explained
                .get(&(user, patient))
                .filter(|&&(at, _)| at <= t && t.saturating_sub(at) <= continuation)
                .map(|&(_, template)| template)
        });
        if let Some(template) = explanation {
            self.last_explained.insert((user, patient), (t, template));
        }
        let seen = match self.seen.get(&(user, patient), event.time) {
            None => Seen::Never,
            Some(false) => Seen::Unexplained,
            Some(true) => Seen::Explained,
        };
        *self.seen.touch((user, patient), event.time, || false) |= explanation.is_some();
        let day = Self::day_of(t);
        self.last_outcome =
            explanation.map_or(AccessOutcome::Unexplained, AccessOutcome::Explained);
        if let Some(volume) = self.baselines.access(
            &self.relations,
            &self.options,
            access,
            event.id,
            explanation.is_some(),
        ) {
            out.push(self.volume_finding(user, &volume, event));
        }
        // Being on the patient's care team or declaring an emergency is a reason to work at
        // any hour, and so is the privacy officer's finding that this user's accesses to this
        // patient are appropriate; a department or role alone is not.
        let in_after_hours = after_hours.is_some();
        if let Some(off) = after_hours
            && !matches!(
                explanation,
                Some(Template::CareTeam | Template::BreakGlass | Template::Confirmed)
            )
        {
            out.push(self.after_hours_finding(user, patient, explanation, &off, event));
        }
        match explanation {
            Some(template) => {
                self.stats.explained[slot(template)] += 1;
                // An ordered consult is evidence of the department pair too: without it,
                // the informal consults between the same departments would lose the support
                // the formal ones gave the learned template.
                if template == Template::Order && self.options.learn {
                    self.learned.observe(&self.relations, &self.options, access);
                    if is_clinical_action(event) {
                        self.learned
                            .observe_care(&self.relations, &self.options, access);
                    }
                }
                if self.options.personal_links_regardless {
                    self.flag_personal(user, patient, event, template, out);
                }
            }
            None => {
                self.stats.unexplained += 1;
                if self.options.learn {
                    self.learned.observe(&self.relations, &self.options, access);
                    if is_clinical_action(event) {
                        self.learned
                            .observe_care(&self.relations, &self.options, access);
                    }
                }
                let (Some(staff), Some(record)) = (
                    self.relations.staff.get(user as usize),
                    self.relations.patients.get(patient as usize),
                ) else {
                    return;
                };
                let found = patterns::patterns(
                    &self.relations,
                    self.options.identity_threshold,
                    user,
                    staff,
                    record,
                    t,
                );
                let personal = found.first().is_some_and(|first| first.personal());
                let finding = found.first().map(|first| {
                    let mut finding = self.pattern_finding(first, &found[1..], None, access, event);
                    if seen == Seen::Never
                        && let Some(outside) =
                            explain::outside_department(&self.relations, &self.options, staff, record, t)
                        && let Some(text) = finding.alert.description.as_mut()
                    {
                        text.push_str(&format!(
                            " It was also {}'s first access to this patient on record, a patient of {}, outside {}'s department.",
                            staff.login(),
                            explain::departments_text(&self.relations, &outside.patient_departments),
                            staff.login(),
                        ));
                    }
                    finding
                });
                if !is_export {
                    self.sweep(user, patient, event, out);
                }
                match finding {
                    Some(finding) if personal && finding.alert.severity >= Severity::High => {
                        self.flagged.insert((user, patient, day));
                        out.push(finding);
                    }
                    finding => {
                        if self.pending.len() < self.options.max_pending {
                            self.pending.push_back(Pending {
                                time: t,
                                user,
                                patient,
                                event: event.id,
                                finding,
                                personal,
                                seen,
                                after_hours: in_after_hours,
                                deferred: false,
                            });
                        } else {
                            self.stats.over_capacity += 1;
                        }
                    }
                }
            }
        }
    }

    /// A portal account that is the patient's own: a login that is not staff and is one of
    /// the identifiers of the patient whose record it opened.
    fn is_self_service(&self, login: &str, patient_ref: &str) -> bool {
        let patient = self.relations.patient(patient_ref);
        patient.is_some() && self.relations.patient(login) == patient
    }

    /// Self and family accesses that a template explained: still a conflict of interest.
    fn flag_personal(
        &mut self,
        user: StaffId,
        patient: PatientId,
        event: &Event,
        template: Template,
        out: &mut Vec<Finding>,
    ) {
        let (Some(staff), Some(record)) = (
            self.relations.staff.get(user as usize),
            self.relations.patients.get(patient as usize),
        ) else {
            return;
        };
        let found = patterns::patterns(
            &self.relations,
            self.options.identity_threshold,
            user,
            staff,
            record,
            event.time.millis(),
        );
        if let Some(first) = found.iter().find(|p| p.personal()) {
            let access = Access {
                user,
                patient,
                time: event.time.millis(),
            };
            let finding = self.pattern_finding(first, &[], Some(template), access, event);
            self.flagged
                .insert((user, patient, Self::day_of(event.time.millis())));
            out.push(finding);
        }
    }

    fn pattern_finding(
        &self,
        pattern: &Pattern,
        also: &[Pattern],
        explained_by: Option<Template>,
        access: Access,
        event: &Event,
    ) -> Finding {
        let rel = &self.relations;
        let (staff, patient) = match (
            rel.staff.get(access.user as usize),
            rel.patients.get(access.patient as usize),
        ) {
            (Some(s), Some(p)) => (s, p),
            _ => {
                return self.plain_finding(
                    pattern.rule_id(),
                    pattern.title(),
                    pattern.severity(),
                    access.user,
                    None,
                    "the access matched a privacy pattern".into(),
                    event,
                );
            }
        };
        let login = staff.login();
        let mut text = format!(
            "{login} {} the record of patient {} at {}: {}.",
            verb(event),
            patient.display,
            event.time,
            pattern.reason(rel, staff, patient)
        );
        for other in also {
            text.push_str(&format!(" Also, {}.", other.reason(rel, staff, patient)));
        }
        let severity = match explained_by {
            Some(template) => {
                text.push_str(&format!(
                    " The access has a clinical explanation ({}), but opening a record one is personally linked to is a conflict of interest.",
                    template.describe()
                ));
                Severity::Medium.min(pattern.severity())
            }
            None => {
                text.push_str(" No explanation applies: ");
                text.push_str(&explain::why_not(rel, &self.options, access).join("; "));
                text.push_str(&format!(
                    ". It would look legitimate with an encounter or care team of {} naming {login}, or an encounter in {login}'s department.",
                    patient.display
                ));
                pattern.severity()
            }
        };
        let key = format!("{login}|{}", patient.display);
        let mut hipaa = vec![ACTIVITY_REVIEW, AUDIT_CONTROLS, ACCESS_MANAGEMENT];
        if explained_by.is_none() {
            hipaa.push(MINIMUM_NECESSARY);
        }
        Finding {
            alert: alert(
                pattern.rule_id(),
                pattern.title(),
                severity,
                &key,
                event.time,
                AlertEntities {
                    user: Some(login.to_string()),
                    patient: Some(patient.display.clone()),
                    ..Default::default()
                },
                &[],
                &hipaa,
                text,
            ),
            events: vec![event.id],
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn plain_finding(
        &self,
        rule: &str,
        title: &str,
        severity: Severity,
        user: StaffId,
        patient: Option<&str>,
        text: String,
        event: &Event,
    ) -> Finding {
        let login = self
            .relations
            .staff
            .get(user as usize)
            .map_or("unknown", |s| s.login())
            .to_string();
        let key = match patient {
            Some(p) => format!("{login}|{p}"),
            None => login.clone(),
        };
        Finding {
            alert: alert(
                rule,
                title,
                severity,
                &key,
                event.time,
                AlertEntities {
                    user: Some(login),
                    patient: patient.map(str::to_string),
                    ..Default::default()
                },
                &[DATA_FROM_REPOSITORIES],
                &[ACTIVITY_REVIEW, AUDIT_CONTROLS, MINIMUM_NECESSARY],
                text,
            ),
            events: vec![event.id],
        }
    }

    fn unknown_patient(
        &mut self,
        user: StaffId,
        patient_ref: &str,
        event: &Event,
        out: &mut Vec<Finding>,
    ) {
        let login = self
            .relations
            .staff
            .get(user as usize)
            .map_or("unknown", |s| s.login());
        let text = format!(
            "{login} {} the record of patient {patient_ref} at {}, a patient Ward has no context for: no encounter, care team or demographics were imported, so no explanation could be tested. Import the patient and their encounters, or review the access.",
            verb(event),
            event.time
        );
        let finding = self.plain_finding(
            "privacy.unexplained_access",
            "Access to a patient Ward has no context for",
            Severity::Low,
            user,
            Some(patient_ref),
            text,
            event,
        );
        out.push(finding);
    }

    /// Accounts of staff who left or are on leave: every health-record event is flagged,
    /// whatever explains it, one alert per user and day.
    fn departed(&mut self, user: StaffId, event: &Event, out: &mut Vec<Finding>) {
        let t = event.time.millis();
        let Some(staff) = self.relations.staff.get(user as usize) else {
            return;
        };
        let login = staff.login().to_string();
        let (rule, title, severity, why, attack): (_, _, _, String, &[&str]) = if let Some(since) =
            staff.terminated_as_of(t)
        {
            (
                "privacy.terminated_user",
                "Terminated staff account used on the EHR",
                Severity::Critical,
                match since {
                    Some(at) => format!(
                        "{login}'s employment ended on {} (HR roster), yet the account was used",
                        Timestamp(at).to_rfc3339().get(..10).unwrap_or_default()
                    ),
                    None => format!("{login} is terminated (HR roster), yet the account was used"),
                },
                &[VALID_ACCOUNTS, DATA_FROM_REPOSITORIES],
            )
        } else if staff.on_leave_at(t) {
            (
                "privacy.on_leave_user",
                "Account of staff on leave used on the EHR",
                Severity::High,
                format!("{login} is on leave (HR roster), yet the account was used"),
                &[VALID_ACCOUNTS, DATA_FROM_REPOSITORIES],
            )
        } else {
            return;
        };
        let day = Self::day_of(t);
        self.covered.insert((user, day));
        let what = match event.patient.id.as_deref() {
            Some(_) => {
                let display = event
                    .patient
                    .id
                    .as_deref()
                    .and_then(|p| self.relations.patient(p))
                    .and_then(|p| self.relations.patients.get(p as usize))
                    .map(|p| p.display.clone())
                    .unwrap_or_else(|| "an unknown patient".into());
                format!("{} the record of patient {display}", verb(event))
            }
            None => event
                .activity_name
                .clone()
                .unwrap_or_else(|| "used the EHR".into())
                .to_lowercase(),
        };
        let text = format!(
            "{why}: at {} the account {what}. No clinical explanation excuses the use of an account whose owner does not work: disable it and review everything it opened.",
            event.time
        );
        out.push(Finding {
            alert: alert(
                rule,
                title,
                severity,
                &login,
                event.time,
                AlertEntities {
                    user: Some(login.clone()),
                    ..Default::default()
                },
                attack,
                &[
                    ACTIVITY_REVIEW,
                    AUDIT_CONTROLS,
                    ACCESS_MANAGEMENT,
                    TERMINATION_PROCEDURES,
                ],
                text,
            ),
            events: vec![event.id],
        });
    }

    fn after_hours_finding(
        &self,
        user: StaffId,
        patient: PatientId,
        explanation: Option<Template>,
        off: &AfterHours,
        event: &Event,
    ) -> Finding {
        let rel = &self.relations;
        let login = rel
            .staff
            .get(user as usize)
            .map_or("unknown", |s| s.login())
            .to_string();
        let display = rel
            .patients
            .get(patient as usize)
            .map_or_else(|| "unknown".to_string(), |p| p.display.clone());
        let began = Timestamp(off.began).to_rfc3339();
        let began = began.get(11..16).unwrap_or_default();
        let why = match explanation {
            Some(template) => format!(
                "The access has an explanation ({}), but a department or role does not call {login} in outside their hours; being on the patient's care team or declaring an emergency would",
                template.describe()
            ),
            None => format!(
                "No explanation applies either: {}",
                explain::why_not(
                    rel,
                    &self.options,
                    Access {
                        user,
                        patient,
                        time: event.time.millis()
                    }
                )
                .join("; ")
            ),
        };
        let text = format!(
            "{login} {} the record of patient {display} at {} during a stretch of work that began at {began} UTC, outside {login}'s own usual hours: on {} earlier days ({} hours of work) {login} worked {} (UTC), never within {} hours of {began}. {why}. It would look legitimate with {login} on a care team of {display} or a shift scheduled at that time.",
            verb(event),
            event.time,
            off.days,
            off.hours,
            off.usual,
            self.options.after_hours_margin,
        );
        Finding {
            alert: alert(
                "privacy.after_hours",
                "Patient records opened outside the user's usual hours",
                Severity::Medium,
                &login,
                event.time,
                AlertEntities {
                    user: Some(login.clone()),
                    patient: Some(display),
                    ..Default::default()
                },
                &[VALID_ACCOUNTS, DATA_FROM_REPOSITORIES],
                &[ACTIVITY_REVIEW, AUDIT_CONTROLS, ACCESS_MANAGEMENT],
                text,
            ),
            events: vec![event.id],
        }
    }

    fn volume_finding(&self, user: StaffId, v: &VolumeAbove, event: &Event) -> Finding {
        let rel = &self.relations;
        let login = rel
            .staff
            .get(user as usize)
            .map_or("unknown", |s| s.login())
            .to_string();
        let hour = Timestamp(v.hour_start).to_rfc3339();
        let hour = hour.get(11..16).unwrap_or_default();
        let group = format!(
            "{} of {}",
            if v.role.is_empty() {
                "staff"
            } else {
                v.role.as_str()
            },
            v.department
                .map_or("no known department", |d| rel.dept_label(d))
        );
        let peers = match v.peer {
            Some((usual, hours, colleagues)) => format!(
                "and of their peers ({group}: {usual} an hour at the 95th percentile over {hours} hours of {colleagues} colleagues)"
            ),
            None => format!(
                "(no peer comparison: fewer than {} colleagues of the same role and department, {group}, have history yet)",
                self.options.peer_min_users
            ),
        };
        let unexplained = v.patients as u32 - v.explained.min(v.patients as u32);
        let text = format!(
            "{login} opened the records of {} distinct patients in the hour from {hour} UTC (up to {}), far above {login}'s own usual hour ({} patients at the 95th percentile over {} past hours of work) {peers}; threshold {} ({}× the usual, at least {}). {} of those patients' first accesses had a clinical explanation and {unexplained} had none. Volume this far above the baseline is browsing rather than care unless a task calls for it (a census review, an audit): ask {login} what work it was.",
            v.patients,
            event.time,
            v.own,
            v.own_hours,
            v.threshold,
            self.options.volume_factor,
            self.options.volume_min_patients,
            v.explained,
        );
        Finding {
            alert: alert(
                "privacy.volume_above_baseline",
                "Records opened far above the user's own and their peers' usual volume",
                Severity::Medium,
                &login,
                event.time,
                AlertEntities {
                    user: Some(login.clone()),
                    ..Default::default()
                },
                &[DATA_FROM_REPOSITORIES],
                &[ACTIVITY_REVIEW, AUDIT_CONTROLS, MINIMUM_NECESSARY],
                text,
            ),
            events: v.events.clone(),
        }
    }

    fn export(&mut self, user: StaffId, patient: PatientId, event: &Event, out: &mut Vec<Finding>) {
        let t = event.time.millis();
        let window = ms(self.options.export_window);
        let cap = self.options.max_tracked_per_user;
        let (distinct, window_events) = track(
            self.recent_exports.entry(user).or_default(),
            t,
            window,
            cap,
            patient,
            event.id,
        );
        if distinct < self.options.export_min_patients {
            return;
        }
        let day = Self::day_of(t);
        let first = self.covered.insert((user, day));
        let events: Vec<EventId> = if first { window_events } else { vec![event.id] };
        let login = self
            .relations
            .staff
            .get(user as usize)
            .map_or("unknown", |s| s.login())
            .to_string();
        let minutes = window / 60_000;
        let text = format!(
            "{login} exported the records of {distinct} distinct patients within {minutes} minutes (up to {}), at or above the threshold of {}. Release-of-information work exports a handful a day; an export of this size is a disclosure of many records and needs a documented request behind it.",
            event.time, self.options.export_min_patients
        );
        let mut finding = self.plain_finding(
            "privacy.mass_export",
            "Mass export of patient records",
            Severity::Critical,
            user,
            None,
            text,
            event,
        );
        finding.events = events;
        finding.alert.attack = vec![DATA_FROM_REPOSITORIES.into(), "T1005".into()];
        out.push(finding);
    }

    /// Bulk sweep: many distinct unexplained patients by one user in a short time.
    fn sweep(&mut self, user: StaffId, patient: PatientId, event: &Event, out: &mut Vec<Finding>) {
        let t = event.time.millis();
        let window = ms(self.options.sweep_window);
        let cap = self.options.max_tracked_per_user;
        let (distinct, window_events) = track(
            self.recent_unexplained.entry(user).or_default(),
            t,
            window,
            cap,
            patient,
            event.id,
        );
        if distinct < self.options.sweep_min_patients {
            return;
        }
        let day = Self::day_of(t);
        let first = self.covered.insert((user, day));
        let events: Vec<EventId> = if first { window_events } else { vec![event.id] };
        let login = self
            .relations
            .staff
            .get(user as usize)
            .map_or("unknown", |s| s.login())
            .to_string();
        let text = format!(
            "{login} opened the records of {distinct} distinct patients within {} minutes (up to {}) that no explanation covers: none was on {login}'s care teams, none had an encounter in {login}'s department, and {login}'s role serves no such patients. Threshold: {} patients.",
            window / 60_000,
            event.time,
            self.options.sweep_min_patients
        );
        let mut finding = self.plain_finding(
            "privacy.bulk_sweep",
            "Bulk look-up of unrelated patients",
            Severity::High,
            user,
            None,
            text,
            event,
        );
        finding.events = events;
        out.push(finding);
    }

    /// Concludes what the clock passing `now` decides: held unexplained accesses become
    /// alerts (unless a sweep, export or departure alert covers them), and break-the-glass
    /// without follow-up is flagged.
    fn expire(&mut self, now: i64, out: &mut Vec<Finding>) {
        if now <= self.now {
            return;
        }
        self.now = now;
        let hold = ms(self.options.sweep_window);
        while let Some(p) = pop_due(&mut self.pending, hold, now) {
            self.conclude_pending(p, out);
        }
        let learn_hold = ms(self.options.learn_hold);
        while let Some(p) = pop_due(&mut self.deferred, learn_hold, now) {
            self.conclude_pending(p, out);
        }
        let follow = ms(self.options.break_glass_follow_up);
        while self
            .glass_queue
            .front()
            .is_some_and(|g| g.time.saturating_add(follow) < now)
        {
            let Some(g) = self.glass_queue.pop_front() else {
                break;
            };
            let followed = match self.glass.get(&(g.user, g.patient)) {
                Some(&(at, followed)) if at == g.time => {
                    self.glass.remove(&(g.user, g.patient));
                    followed
                }
                // A later declaration on the same patient replaced this one; it is judged on
                // its own.
                Some(_) => continue,
                None => true,
            };
            if !followed {
                out.push(self.glass_finding(&g));
            }
        }
        // Once an hour of event time: windows and sessions that closed are forgotten.
        let hour = now.div_euclid(3_600_000);
        let today = Self::day_of(now);
        if hour > self.last_cleanup_hour {
            self.last_cleanup_hour = hour;
            self.covered.retain(|&(_, d)| d + 2 >= today);
            // Held accesses conclude a day and an hour after they happen.
            self.flagged.retain(|&(_, _, d)| d + 2 >= today);
            let sweep = ms(self.options.sweep_window);
            let export = ms(self.options.export_window);
            self.recent_unexplained.retain(|_, q| {
                q.back()
                    .is_some_and(|&(t, _, _)| t.saturating_add(sweep) >= now)
            });
            self.recent_exports.retain(|_, q| {
                q.back()
                    .is_some_and(|&(t, _, _)| t.saturating_add(export) >= now)
            });
            // Held accesses conclude a day after they happen, so these windows are kept a
            // day longer than they last.
            let outside = ms(self.options.outside_department_window).saturating_add(DAY_MS);
            self.recent_outside.retain(|_, q| {
                q.back()
                    .is_some_and(|&(t, _, _)| t.saturating_add(outside) >= now)
            });
            self.outside_alerted
                .retain(|_, &mut t| t.saturating_add(outside) >= now);
            let explains = self.options.break_glass_explains_ms().max(follow);
            self.glass
                .retain(|_, &mut (t, _)| t.saturating_add(explains) >= now);
            let continuation = ms(self.options.session_continuation);
            self.last_explained
                .retain(|_, &mut (t, _)| t.saturating_add(continuation) >= now);
            self.seen.sweep(Timestamp(now));
        }
    }

    /// Whether a template learned while the access was held explains it after all; if so it
    /// is counted as explained.
    fn explained_after_all(&mut self, p: &Pending) -> bool {
        let explained = self.options.learn
            && matches!(
                (
                    self.relations.staff.get(p.user as usize),
                    self.relations.patients.get(p.patient as usize),
                ),
                (Some(staff), Some(patient)) if self
                    .learned
                    .explains(&self.relations, &self.options, p.user, staff, patient, p.time)
                    .is_some()
            );
        if explained {
            self.stats.unexplained = self.stats.unexplained.saturating_sub(1);
            self.stats.explained[slot(Template::Learned)] += 1;
        }
        explained
    }

    fn conclude_pending(&mut self, p: Pending, out: &mut Vec<Finding>) {
        let day = Self::day_of(p.time);
        let high = p
            .finding
            .as_ref()
            .is_some_and(|f| f.alert.severity >= Severity::High);
        // A high-severity pattern is judged on its own, never absorbed by a sweep.
        if !high && self.covered.contains(&(p.user, day)) {
            return;
        }
        if p.finding.is_some() {
            if !p.personal && self.explained_after_all(&p) {
                return;
            }
            self.flagged.insert((p.user, p.patient, day));
            out.extend(p.finding);
            return;
        }
        if self.flagged.contains(&(p.user, p.patient, day)) {
            return;
        }
        let access = Access {
            user: p.user,
            patient: p.patient,
            time: p.time,
        };
        if self.explained_after_all(&p) {
            return;
        }
        // A return to a patient the user once had a reason to open (a former patient, one
        // transferred to another ward) is counted as unexplained but raises nothing of its
        // own; sweeps, volume and the patterns still see it. Ward knows the reason from its
        // memory of explained accesses, or from the context: the user was on the care team of
        // an earlier encounter (one before Ward's memory began).
        if p.seen == Seen::Explained
            || matches!(
                (
                    self.relations.staff.get(p.user as usize),
                    self.relations.patients.get(p.patient as usize),
                ),
                (Some(staff), Some(patient))
                    if explain::former_care_team(&self.relations, staff, patient, p.time)
            )
        {
            return;
        }
        // Not judged before templates had time to be learned from the accesses that follow.
        if self.options.learn && !p.deferred && self.options.learn_hold > self.options.sweep_window
        {
            if self.deferred.len() + self.pending.len() < self.options.max_pending {
                self.deferred.push_back(Pending {
                    deferred: true,
                    finding: None,
                    ..p
                });
                return;
            }
            self.stats.over_capacity += 1;
        }
        let (Some(staff), Some(patient)) = (
            self.relations.staff.get(p.user as usize),
            self.relations.patients.get(p.patient as usize),
        ) else {
            return;
        };
        if p.seen == Seen::Never
            && let Some(outside) =
                explain::outside_department(&self.relations, &self.options, staff, patient, p.time)
        {
            if p.after_hours || self.options.outside_department_min_patients <= 1 {
                let finding = self.outside_department_finding(&p, &outside);
                self.flagged.insert((p.user, p.patient, day));
                out.push(finding);
            } else {
                self.outside_observed(&p, out);
            }
            return;
        }
        let login = staff.login().to_string();
        let display = patient.display.clone();
        let text = format!(
            "{login} opened the record of patient {display} at {} and no explanation applies: {}. No personal link, VIP label or other pattern was found either; the access is listed so that someone asks {login} why.",
            Timestamp(p.time),
            explain::why_not(&self.relations, &self.options, access).join("; ")
        );
        self.flagged.insert((p.user, p.patient, day));
        out.push(Finding {
            alert: alert(
                "privacy.unexplained_access",
                "Access to a patient record with no explanation",
                Severity::Low,
                &format!("{login}|{display}"),
                Timestamp(p.time),
                AlertEntities {
                    user: Some(login),
                    patient: Some(display),
                    ..Default::default()
                },
                &[],
                &[ACTIVITY_REVIEW, AUDIT_CONTROLS, MINIMUM_NECESSARY],
                text,
            ),
            events: vec![p.event],
        });
    }

    /// A first-ever, unexplained access outside the user's department, in the user's usual
    /// hours: an observation, counted; an alert once the user has made such accesses to
    /// `outside_department_min_patients` distinct patients within the window (one alert per
    /// user and window, which later accesses add to).
    fn outside_observed(&mut self, p: &Pending, out: &mut Vec<Finding>) {
        let window = ms(self.options.outside_department_window);
        let (distinct, events) = track(
            self.recent_outside.entry(p.user).or_default(),
            p.time,
            window,
            self.options.max_tracked_per_user,
            p.patient,
            p.event,
        );
        let day = Self::day_of(p.time);
        // Judged: the rest of the day's accesses of this user to this patient add nothing.
        self.flagged.insert((p.user, p.patient, day));
        if distinct < self.options.outside_department_min_patients {
            self.stats.outside_department_observed += 1;
            return;
        }
        let open = self
            .outside_alerted
            .get(&p.user)
            .copied()
            .filter(|&at| p.time.saturating_sub(at) <= window);
        let finding = match open {
            Some(at) => {
                let mut finding = self.outside_browse_finding(p.user, at, p.time, distinct);
                finding.events = vec![p.event];
                finding
            }
            None => {
                let first = self.recent_outside.get(&p.user).and_then(|q| q.front());
                let at = first.map_or(p.time, |&(t, _, _)| t);
                self.outside_alerted.insert(p.user, at);
                let mut finding = self.outside_browse_finding(p.user, at, p.time, distinct);
                finding.events = events;
                finding
            }
        };
        out.push(finding);
    }

    /// The alert on a user's first-ever accesses to patients of other departments, made in
    /// the window that began at `at`.
    fn outside_browse_finding(
        &self,
        user: StaffId,
        at: i64,
        last: i64,
        distinct: usize,
    ) -> Finding {
        let rel = &self.relations;
        let staff = rel.staff.get(user as usize);
        let login = staff.map_or("unknown", |s| s.login()).to_string();
        let user_depts = staff.map_or_else(
            || "no known department".to_string(),
            |s| explain::departments_text(rel, &s.departments),
        );
        let mut seen_patients: Vec<PatientId> = Vec::new();
        let mut lines = Vec::new();
        for &(t, patient, _) in self.recent_outside.get(&user).into_iter().flatten() {
            if t < at || seen_patients.contains(&patient) {
                continue;
            }
            seen_patients.push(patient);
            let Some(record) = rel.patients.get(patient as usize) else {
                continue;
            };
            let of = staff
                .and_then(|s| explain::outside_department(rel, &self.options, s, record, t))
                .map_or_else(
                    || "another department".to_string(),
                    |o| explain::departments_text(rel, &o.patient_departments),
                );
            lines.push(format!(
                "{} at {} (a patient of {of})",
                record.display,
                Timestamp(t)
            ));
        }
        let days = ms(self.options.outside_department_window) / DAY_MS;
        let text = format!(
            "{login} opened, for the first time, the records of {distinct} distinct patients of other departments than {login}'s {user_depts} within {days} days, and nothing explains any of them: {}. For each, no care team, encounter in {user_depts}, ancillary or back-office role, order or appointment, declared emergency or learned pattern applies, and Ward has no earlier access of {login} to the patient. One such look is held as an observation (a question from a colleague, an informal consult); several in a few days is how curiosity about strangers' charts looks. It would look legitimate with {login} on those patients' care teams, an order or referral naming {login} or {user_depts}, or {user_depts} staff routinely reading those departments' patients (a learned template). Threshold: {} patients.",
            lines.join("; "),
            self.options.outside_department_min_patients,
        );
        let mut alert = alert(
            "privacy.outside_department",
            "First-ever accesses to patients outside the user's department",
            Severity::Medium,
            &format!("{login}|browse"),
            Timestamp(at),
            AlertEntities {
                user: Some(login),
                ..Default::default()
            },
            &[DATA_FROM_REPOSITORIES],
            &[ACTIVITY_REVIEW, AUDIT_CONTROLS, MINIMUM_NECESSARY],
            text,
        );
        alert.last_seen = Timestamp(last.max(at));
        Finding {
            alert,
            events: Vec::new(),
        }
    }

    /// A first-ever access to a patient of another department that nothing explains, in a
    /// stretch of work outside the user's hours (medium), or any such access when the
    /// browsing threshold is 1 (low).
    fn outside_department_finding(
        &self,
        p: &Pending,
        outside: &explain::OutsideDepartment,
    ) -> Finding {
        let rel = &self.relations;
        let login = rel
            .staff
            .get(p.user as usize)
            .map_or("unknown", |s| s.login())
            .to_string();
        let (display, user_depts) = match (
            rel.patients.get(p.patient as usize),
            rel.staff.get(p.user as usize),
        ) {
            (Some(patient), Some(staff)) => (
                patient.display.clone(),
                explain::departments_text(rel, &staff.departments),
            ),
            _ => ("unknown".to_string(), "no known department".to_string()),
        };
        let patient_depts = explain::departments_text(rel, &outside.patient_departments);
        let whose = if outside.current {
            format!("the patient's current encounter is in {patient_depts}")
        } else {
            format!("the patient's encounters on record are in {patient_depts}, none current")
        };
        let access = Access {
            user: p.user,
            patient: p.patient,
            time: p.time,
        };
        let (severity, combined) = if p.after_hours {
            (
                Severity::Medium,
                format!(
                    " It also fell in a stretch of work that began outside {login}'s usual hours, which raises it to medium."
                ),
            )
        } else {
            (Severity::Low, String::new())
        };
        let text = format!(
            "{login} opened the record of patient {display} at {} for the first time: Ward has no earlier access of {login} to this patient in the {} days it remembers. {whose}, not {login}'s {user_depts}. No explanation applies: {}.{combined} It would look legitimate with {login} on a care team of {display}, an encounter of {display} in {user_depts}, an order or referral naming {login}, or {user_depts} staff routinely reading {patient_depts} patients (a learned template).",
            Timestamp(p.time),
            ms(self.options.seen_for) / DAY_MS,
            explain::why_not(rel, &self.options, access).join("; ")
        );
        Finding {
            alert: alert(
                "privacy.outside_department",
                "First-ever access to a patient outside the user's department",
                severity,
                &format!("{login}|{display}"),
                Timestamp(p.time),
                AlertEntities {
                    user: Some(login),
                    patient: Some(display),
                    ..Default::default()
                },
                &[DATA_FROM_REPOSITORIES],
                &[ACTIVITY_REVIEW, AUDIT_CONTROLS, MINIMUM_NECESSARY],
                text,
            ),
            events: vec![p.event],
        }
    }

    fn glass_finding(&self, g: &Glass) -> Finding {
        let rel = &self.relations;
        let login = rel
            .staff
            .get(g.user as usize)
            .map_or("unknown", |s| s.login())
            .to_string();
        let display = rel
            .patients
            .get(g.patient as usize)
            .map_or_else(|| "unknown".to_string(), |p| p.display.clone());
        let explained = explain::fixed_explanation(rel, &self.options, g.user, g.patient, g.time);
        let context = match explained {
            Some(template) => format!(
                "the access itself has an explanation ({})",
                template.describe()
            ),
            None => format!(
                "nothing else explains the access: {}",
                explain::why_not(
                    rel,
                    &self.options,
                    Access {
                        user: g.user,
                        patient: g.patient,
                        time: g.time
                    }
                )
                .join("; ")
            ),
        };
        let text = format!(
            "{login} declared an emergency (break-the-glass) on patient {display} at {} and recorded no clinical action on the patient (no note, order, observation or other create or update) in the {} minutes after; {context}. An emergency override should be followed by care.",
            Timestamp(g.time),
            ms(self.options.break_glass_follow_up) / 60_000
        );
        Finding {
            alert: alert(
                "privacy.break_glass_without_follow_up",
                "Break-the-glass without a following clinical action",
                if explained.is_some() {
                    Severity::Medium
                } else {
                    Severity::High
                },
                &format!("{login}|{display}"),
                Timestamp(g.time),
                AlertEntities {
                    user: Some(login),
                    patient: Some(display),
                    ..Default::default()
                },
                &[DATA_FROM_REPOSITORIES],
                &[
                    ACTIVITY_REVIEW,
                    AUDIT_CONTROLS,
                    ACCESS_MANAGEMENT,
                    MINIMUM_NECESSARY,
                ],
                text,
            ),
            events: vec![g.event],
        }
    }
}

impl Default for PrivacyDetector {
    fn default() -> Self {
        PrivacyDetector::new(PrivacyOptions::default())
    }
}

impl Detector for PrivacyDetector {
    fn name(&self) -> &str {
        "privacy"
    }

    fn context(&mut self, resources: &[ContextResource]) {
        for resource in resources {
            self.relations.add(resource);
        }
    }

    fn observe(&mut self, event: &Event, out: &mut Vec<Finding>) {
        self.apply_restored();
        self.last_outcome = AccessOutcome::NotAssessed;
        self.handle(event, out);
        self.expire(event.time.millis(), out);
    }

    fn advance(&mut self, now: Timestamp, out: &mut Vec<Finding>) {
        self.apply_restored();
        self.expire(now.millis(), out);
    }

    /// Who opened whom, learned templates, baselines and the looks outside the department
    /// still in their window ([`memory`]); not the accesses held for judgement, which the end
    /// of the run concludes ([`Detector::conclude`]).
    fn save_state(&self) -> Option<Vec<u8>> {
        match &self.restored {
            // Nothing happened this run: what the last one saved is still the state.
            Some(saved) => serde_json::to_vec(saved).ok(),
            None => serde_json::to_vec(&self.saved()?).ok(),
        }
    }

    fn restore_state(&mut self, state: &[u8]) -> Result<String, String> {
        let saved: memory::Saved = serde_json::from_slice(state)
            .map_err(|e| format!("the saved privacy state does not read: {e}"))?;
        if saved.version != memory::VERSION {
            return Err(format!(
                "the saved privacy state is of version {}, this Ward reads {}",
                saved.version,
                memory::VERSION
            ));
        }
        let said = format!(
            "privacy memory of {} users, {} patients and {} learned pairs taken back (applied once the context is loaded)",
            saved.users.len(),
            saved.patients.len(),
            saved.learned.iter().filter(|p| p.active).count()
        );
        self.restored = Some(saved);
        Ok(said)
    }

    /// Accesses held for judgement are never saved: the end of a run concludes them, as if
    /// the stream ended there, while the memory is kept for the next run.
    fn conclude(&mut self, end: Timestamp, out: &mut Vec<Finding>) {
        self.advance(end, out);
    }
}

#[allow(clippy::too_many_arguments)]
fn alert(
    rule: &str,
    title: &str,
    severity: Severity,
    key: &str,
    at: Timestamp,
    entities: AlertEntities,
    attack: &[&str],
    hipaa: &[&str],
    description: String,
) -> Alert {
    let day = Timestamp(at.millis().div_euclid(DAY_MS).saturating_mul(DAY_MS));
    Alert {
        id: alert_id(rule, key, day),
        rule_id: rule.to_string(),
        title: title.to_string(),
        severity,
        first_seen: at,
        last_seen: at,
        count: 1,
        entities,
        attack: attack.iter().map(|s| s.to_string()).collect(),
        hipaa: hipaa.iter().map(|s| s.to_string()).collect(),
        status: AlertStatus::Open,
        author: Some("Ward".into()),
        license: None,
        references: Vec::new(),
        description: Some(description),
    }
}

/// The index of a template in [`PrivacyStats::explained`].
fn slot(template: Template) -> usize {
    Template::ALL
        .iter()
        .position(|&t| t == template)
        .unwrap_or_default()
}

/// Adds an access to a user's sliding window and returns the distinct patients in it and the
/// window's events.
fn track(
    recent: &mut VecDeque<(i64, PatientId, EventId)>,
    t: i64,
    window: i64,
    cap: usize,
    patient: PatientId,
    event: EventId,
) -> (usize, Vec<EventId>) {
    while recent
        .front()
        .is_some_and(|&(at, _, _)| at < t.saturating_sub(window))
    {
        recent.pop_front();
    }
    if recent.len() >= cap.max(1) {
        recent.pop_front();
    }
    recent.push_back((t, patient, event));
    let mut ids: Vec<PatientId> = recent.iter().map(|&(_, p, _)| p).collect();
    ids.sort_unstable();
    ids.dedup();
    (ids.len(), recent.iter().map(|&(_, _, e)| e).collect())
}

/// DICOM 110127 Emergency Override Started (with 110113 Security Alert), or a purpose of use
/// of break-the-glass (`BTG`).
fn is_break_glass(event: &Event) -> bool {
    matches!(event.metadata.event_code.as_deref(), Some("110127"))
        || event.purpose_of_use.iter().any(|p| p == "BTG")
}

/// DICOM 110106 Export.
fn is_export(event: &Event) -> bool {
    matches!(event.metadata.event_code.as_deref(), Some("110106"))
}

/// A create or update on the patient's record: care given, not only read.
fn is_clinical_action(event: &Event) -> bool {
    event.class_uid == class::API_ACTIVITY
        && matches!(
            event.activity_id,
            api_activity::CREATE | api_activity::UPDATE
        )
}

fn verb(event: &Event) -> &'static str {
    if is_export(event) {
        "exported"
    } else if is_clinical_action(event) {
        "changed"
    } else {
        "opened"
    }
}
