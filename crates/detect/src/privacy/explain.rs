//! Explanation templates: the reasons an access to a patient's record is legitimate, tested in
//! order (explanation-based auditing, Fabbri & LeFevre, PVLDB 2011). Most accesses in a
//! hospital are explained by a care relationship; only what no template explains is looked at
//! for suspicious patterns, which is what keeps privacy alerts few enough to read.
//!
//! Fixed templates come from the organisation's context (care teams, departments, roles);
//! learned templates come from the data: when users of one department repeatedly read patients
//! served by another department while those patients have an encounter there (consults,
//! shared services), the pair becomes a template. So does one user's own recurring work: a
//! specialist who is the only one of their department to consult, or a nurse covering another
//! ward, who documents care (creates or updates something: a note, an order, an observation)
//! on several current patients of one department is explained for that department's current
//! patients. Reading alone never teaches a template for one user, so slow browsing does not
//! explain itself. A learned template never explains an access to a patient without a
//! current encounter, so it cannot launder curiosity about strangers.

use super::PrivacyOptions;
use super::relations::{DeptId, PatientId, PatientRecord, Relations, StaffId, StaffRecord};
use std::collections::HashMap;

/// An explanation template. The order of [`Template::ALL`] is the order they are tried in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Template {
    /// The user is on the care team of one of the patient's encounters or care teams, within
    /// the margins around it.
    CareTeam,
    /// The user works in the department serving one of the patient's current encounters.
    Department,
    /// The user has an ancillary role (lab, radiology, pharmacy) that serves every current
    /// patient of the hospital.
    Ancillary,
    /// Health information management, billing or registration working on a patient whose
    /// encounter is current, upcoming or recently ended.
    BackOffice,
    /// The user declared an emergency (break-the-glass) on this patient shortly before.
    BreakGlass,
    /// The patient reading their own record: a portal account that is not staff and is one of
    /// the patient's identifiers (decided before the staff templates, which never apply to it).
    SelfService,
    /// A pattern learned from the data: the user's department routinely reads patients of the
    /// department serving the patient's current encounter.
    Learned,
}

impl Template {
    pub const ALL: [Template; 7] = [
        Template::CareTeam,
        Template::Department,
        Template::Ancillary,
        Template::BackOffice,
        Template::BreakGlass,
        Template::SelfService,
        Template::Learned,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Template::CareTeam => "care_team",
            Template::Department => "department",
            Template::Ancillary => "ancillary_role",
            Template::BackOffice => "back_office_role",
            Template::BreakGlass => "break_the_glass",
            Template::SelfService => "self_service",
            Template::Learned => "learned",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Template::CareTeam => "on the patient's care team",
            Template::Department => "in the department serving the patient's encounter",
            Template::Ancillary => {
                "an ancillary service (lab, radiology, pharmacy) for a current patient"
            }
            Template::BackOffice => {
                "health information management, billing or registration for a current or recent encounter"
            }
            Template::BreakGlass => "a declared emergency (break-the-glass) on this patient",
            Template::SelfService => "the patient reading their own record",
            Template::Learned => "a pattern learned from the data (department to department)",
        }
    }
}

/// One access as explanation sees it.
#[derive(Debug, Clone, Copy)]
pub struct Access {
    pub user: StaffId,
    pub patient: PatientId,
    pub time: i64,
}

/// Pairs of departments learned to explain accesses, from the accesses fixed templates left
/// unexplained. Bounded: at most one entry per pair of known departments, and each entry keeps
/// a capped sample of users and patients.
#[derive(Debug, Default)]
pub struct Learned {
    pairs: HashMap<(DeptId, DeptId), Support>,
    /// Per user and department: current patients of that department the user documented
    /// care on, with no other explanation (a capped sample).
    documented: HashMap<(StaffId, DeptId), Vec<PatientId>>,
}

#[derive(Debug, Default)]
struct Support {
    users: Vec<StaffId>,
    patients: Vec<PatientId>,
    active: bool,
}

const SUPPORT_SAMPLE: usize = 64;
/// At most this many (user, department) records of documented work.
const MAX_DOCUMENTED_USERS: usize = 1 << 20;

impl Learned {
    /// Counts an access fixed templates did not explain towards the pairs it supports.
    pub fn observe(&mut self, rel: &Relations, opts: &PrivacyOptions, access: Access) {
        let (Some(staff), Some(patient)) = (
            rel.staff.get(access.user as usize),
            rel.patients.get(access.patient as usize),
        ) else {
            return;
        };
        for (from, to) in pairs(rel, opts, staff, patient, access.time) {
            let support = self.pairs.entry((from, to)).or_default();
            if !support.users.contains(&access.user) && support.users.len() < SUPPORT_SAMPLE {
                support.users.push(access.user);
            }
            if !support.patients.contains(&access.patient)
                && support.patients.len() < SUPPORT_SAMPLE
            {
                support.patients.push(access.patient);
            }
            support.active = support.users.len() >= opts.learn_min_users
                && support.patients.len() >= opts.learn_min_patients;
        }
    }

    /// Counts a clinical action (create or update) fixed templates did not explain towards
    /// the user's own work in the departments serving the patient's current encounters.
    pub fn observe_care(&mut self, rel: &Relations, opts: &PrivacyOptions, access: Access) {
        let Some(patient) = rel.patients.get(access.patient as usize) else {
            return;
        };
        if self.documented.len() >= MAX_DOCUMENTED_USERS {
            return;
        }
        for dept in current_departments(rel, opts, patient, access.time) {
            let seen = self.documented.entry((access.user, dept)).or_default();
            if !seen.contains(&access.patient) && seen.len() < SUPPORT_SAMPLE {
                seen.push(access.patient);
            }
        }
    }

    /// The learned pair that explains this access, if any: a department pair, or the user's
    /// own documented work in the patient's department (given as the user's department and
    /// that one).
    pub fn explains(
        &self,
        rel: &Relations,
        opts: &PrivacyOptions,
        user: StaffId,
        staff: &StaffRecord,
        patient: &PatientRecord,
        t: i64,
    ) -> Option<(DeptId, DeptId)> {
        pairs(rel, opts, staff, patient, t)
            .find(|pair| self.pairs.get(pair).is_some_and(|s| s.active))
            .or_else(|| {
                current_departments(rel, opts, patient, t)
                    .find(|&to| {
                        self.documented
                            .get(&(user, to))
                            .is_some_and(|p| p.len() >= opts.learn_min_documented)
                    })
                    .map(|to| (staff.departments.first().copied().unwrap_or(to), to))
            })
    }

    /// The pairs learned so far, for reports: (user's department, patient's department).
    pub fn active(&self) -> impl Iterator<Item = (DeptId, DeptId)> + '_ {
        self.pairs
            .iter()
            .filter(|(_, s)| s.active)
            .map(|(pair, _)| *pair)
    }
}

/// Departments serving the patient's current encounters and care teams.
fn current_departments<'a>(
    rel: &'a Relations,
    opts: &'a PrivacyOptions,
    patient: &'a PatientRecord,
    t: i64,
) -> impl Iterator<Item = DeptId> + 'a {
    patient
        .care
        .iter()
        .filter_map(|&c| rel.care.get(c as usize))
        .filter(move |c| c.covers(t, opts.margin_before_ms(), opts.margin_after_ms()))
        .flat_map(|c| c.departments.iter().copied())
}

/// (user's department, department of a current encounter of the patient) pairs.
fn pairs<'a>(
    rel: &'a Relations,
    opts: &'a PrivacyOptions,
    staff: &'a StaffRecord,
    patient: &'a PatientRecord,
    t: i64,
) -> impl Iterator<Item = (DeptId, DeptId)> + 'a {
    patient
        .care
        .iter()
        .filter_map(|&c| rel.care.get(c as usize))
        .filter(move |c| c.covers(t, opts.margin_before_ms(), opts.margin_after_ms()))
        .flat_map(|c| c.departments.iter().copied())
        .flat_map(move |to| staff.departments.iter().map(move |&from| (from, to)))
}

/// Whether the user's role is one of `roles` (compared lower-case).
fn has_role(staff: &StaffRecord, roles: &[String]) -> bool {
    staff
        .roles
        .iter()
        .any(|r| roles.iter().any(|x| x.eq_ignore_ascii_case(r)))
}

fn in_department_named(rel: &Relations, staff: &StaffRecord, names: &[String]) -> bool {
    staff.departments.iter().any(|&d| {
        rel.depts.get(d as usize).is_some_and(|dept| {
            dept.codes
                .iter()
                .chain(dept.name.iter())
                .any(|c| names.iter().any(|n| n.eq_ignore_ascii_case(c)))
        })
    })
}

/// Whether the user works in back-office patient administration: a health-information or
/// billing/registration role, a department configured as such, or a clerk in a department
/// that serves no encounters (a registration or billing office rather than a ward).
pub fn is_back_office(rel: &Relations, opts: &PrivacyOptions, staff: &StaffRecord) -> bool {
    has_role(staff, &opts.back_office_roles)
        || in_department_named(rel, staff, &opts.back_office_departments)
        || (staff.roles.iter().any(|r| r == "clerk")
            && !staff.departments.is_empty()
            && staff.departments.iter().all(|&d| {
                rel.depts
                    .get(d as usize)
                    .is_some_and(|dept| !dept.serves_encounters)
            }))
}

pub fn is_ancillary(opts: &PrivacyOptions, staff: &StaffRecord) -> bool {
    has_role(staff, &opts.ancillary_roles)
}

/// The first template that explains a staff member's access, or `None`. `break_glass` says
/// whether the user declared an emergency on this patient within the configured time before.
pub fn explain(
    rel: &Relations,
    opts: &PrivacyOptions,
    learned: &Learned,
    access: Access,
    break_glass: bool,
) -> Option<Template> {
    let staff = rel.staff.get(access.user as usize)?;
    let patient = rel.patients.get(access.patient as usize)?;
    fixed(rel, opts, staff, patient, access.time, break_glass).or_else(|| {
        (opts.learn
            && learned
                .explains(rel, opts, access.user, staff, patient, access.time)
                .is_some())
        .then_some(Template::Learned)
    })
}

/// The fixed templates for staff, in order.
pub fn fixed(
    rel: &Relations,
    opts: &PrivacyOptions,
    staff: &StaffRecord,
    patient: &PatientRecord,
    t: i64,
    break_glass: bool,
) -> Option<Template> {
    let (before, after) = (opts.margin_before_ms(), opts.margin_after_ms());
    let follow_up = opts.care_team_follow_up_ms();
    let care = || {
        patient
            .care
            .iter()
            .filter_map(|&c| rel.care.get(c as usize))
    };
    if care().any(|c| {
        c.covers(t, before, follow_up)
            && c.members.iter().any(|(member, from, until)| {
                rel.is_member(staff, member)
                    && super::relations::covers(*from, *until, t, before, follow_up)
            })
    }) {
        return Some(Template::CareTeam);
    }
    if care().any(|c| {
        c.covers(t, before, after) && c.departments.iter().any(|d| staff.departments.contains(d))
    }) {
        return Some(Template::Department);
    }
    if is_ancillary(opts, staff) && care().any(|c| c.covers(t, before, after)) {
        return Some(Template::Ancillary);
    }
    if is_back_office(rel, opts, staff)
        && care().any(|c| c.covers(t, before, opts.back_office_window_ms()))
    {
        return Some(Template::BackOffice);
    }
    break_glass.then_some(Template::BreakGlass)
}

/// Why each template failed, in plain words, for the alert's description.
pub fn why_not(rel: &Relations, opts: &PrivacyOptions, access: Access) -> Vec<String> {
    let (Some(staff), Some(patient)) = (
        rel.staff.get(access.user as usize),
        rel.patients.get(access.patient as usize),
    ) else {
        return vec!["Ward has no context for this patient or user".into()];
    };
    let t = access.time;
    let (before, after) = (opts.margin_before_ms(), opts.margin_after_ms());
    let login = staff.login();
    let care: Vec<_> = patient
        .care
        .iter()
        .filter_map(|&c| rel.care.get(c as usize))
        .collect();
    let current: Vec<_> = care.iter().filter(|c| c.covers(t, before, after)).collect();
    let hours = |ms: i64| ms / 3_600_000;
    let mut out = Vec::new();
    out.push(format!(
        "care team: no encounter or care team of the patient names {login} between {} h before and {} days after it",
        hours(before),
        opts.care_team_follow_up_ms() / 86_400_000
    ));
    let user_depts = departments_text(rel, &staff.departments);
    if current.is_empty() {
        out.push(format!(
            "department: the patient had no encounter open at the time ({} known in all)",
            care.len()
        ));
    } else {
        let serving: Vec<DeptId> = current
            .iter()
            .flat_map(|c| c.departments.iter().copied())
            .collect();
        out.push(format!(
            "department: the patient's current encounter is served by {}, not by {login}'s {}",
            departments_text(rel, &serving),
            user_depts
        ));
    }
    let roles = if staff.roles.is_empty() {
        "no known role".to_string()
    } else {
        staff.roles.join(", ")
    };
    if is_ancillary(opts, staff) {
        out.push(format!(
            "ancillary role: {login} is {roles}, but the patient had no current encounter to serve"
        ));
    } else if is_back_office(rel, opts, staff) {
        out.push(format!(
            "back-office role: {login} is {roles}, but the patient had no encounter current or ended within {} days",
            opts.back_office_window_ms() / 86_400_000
        ));
    } else {
        out.push(format!(
            "role: {login} is {roles} in {user_depts}, not an ancillary or back-office role that serves every patient"
        ));
    }
    out.push(format!(
        "break-the-glass: {login} declared no emergency on this patient in the {} h before",
        hours(opts.break_glass_explains_ms())
    ));
    if opts.learn {
        out.push("learned patterns: none covers this department and patient".into());
    }
    out
}

/// The departments a patient belongs to when none of them is the user's: the departments
/// serving the patient's current encounters (within the margins), else those of every
/// encounter or care team Ward knows of. `None` when the patient shares a department with
/// the user, has no known department, or the user has none: "outside the user's department"
/// cannot be said then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutsideDepartment {
    pub patient_departments: Vec<DeptId>,
    /// Whether the departments are those of a current encounter (else of earlier ones).
    pub current: bool,
}

pub fn outside_department(
    rel: &Relations,
    opts: &PrivacyOptions,
    staff: &StaffRecord,
    patient: &PatientRecord,
    t: i64,
) -> Option<OutsideDepartment> {
    if staff.departments.is_empty() {
        return None;
    }
    let (before, after) = (opts.margin_before_ms(), opts.margin_after_ms());
    let care = || {
        patient
            .care
            .iter()
            .filter_map(|&c| rel.care.get(c as usize))
    };
    let mut depts: Vec<DeptId> = care()
        .filter(|c| c.covers(t, before, after))
        .flat_map(|c| c.departments.iter().copied())
        .collect();
    let current = !depts.is_empty();
    if !current {
        depts = care().flat_map(|c| c.departments.iter().copied()).collect();
    }
    depts.sort_unstable();
    depts.dedup();
    (!depts.is_empty() && !depts.iter().any(|d| staff.departments.contains(d))).then_some(
        OutsideDepartment {
            patient_departments: depts,
            current,
        },
    )
}

pub fn departments_text(rel: &Relations, depts: &[DeptId]) -> String {
    if depts.is_empty() {
        return "no known department".into();
    }
    let mut names: Vec<&str> = depts.iter().map(|&d| rel.dept_label(d)).collect();
    names.dedup();
    names.join(" and ")
}

/// The fixed template that explains an access, ignoring declared emergencies: what a
/// break-the-glass alert reports about the access behind it.
pub fn fixed_explanation(
    rel: &Relations,
    opts: &PrivacyOptions,
    user: StaffId,
    patient: PatientId,
    t: i64,
) -> Option<Template> {
    let staff = rel.staff.get(user as usize)?;
    let patient = rel.patients.get(patient as usize)?;
    fixed(rel, opts, staff, patient, t, false)
}
