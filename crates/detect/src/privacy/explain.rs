//! Explanation templates: the reasons an access to a patient's record is legitimate, tested in
//! order (explanation-based auditing, Fabbri & LeFevre, PVLDB 2011). Most accesses in a
//! hospital are explained by a care relationship; only what no template explains is looked at
//! for suspicious patterns, which is what keeps privacy alerts few enough to read.
//!
//! Fixed templates come from the organisation's context (care teams, departments, roles,
//! orders and appointments); learned templates come from the data: when users of one
//! department repeatedly read patients served by another department while those patients have
//! an encounter there (consults, shared services), the pair becomes a template; accesses an
//! order explains count towards it too, so formal consults teach the pair that explains the
//! informal ones. So does one user's own recurring work: a
//! specialist who is the only one of their department to consult, or a nurse covering another
//! ward, who documents care (creates or updates something: a note, an order, an observation)
//! on several current patients of one department is explained for that department's current
//! patients. Reading alone never teaches a template for one user, so slow browsing does not
//! explain itself. A learned template never explains an access to a patient without a
//! current encounter, so it cannot launder curiosity about strangers.

use super::PrivacyOptions;
use super::relations::{
    DeptId, OrderRecord, PatientId, PatientRecord, Relations, StaffId, StaffRecord,
};
use std::collections::HashMap;
use ward_model::Timestamp;

/// An explanation template. The order of [`Template::ALL`] is the order they are tried in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Template {
    /// The privacy officer found this user's accesses to this patient appropriate
    /// (`ward privacy determine … --as appropriate`), within the confirmation's period.
    Confirmed,
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
    /// The user is named on an order (requester or performer) or an appointment (a
    /// participant) for the patient, or works in the department an order is addressed to,
    /// while it is in force.
    Order,
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
    pub const ALL: [Template; 9] = [
        Template::Confirmed,
        Template::CareTeam,
        Template::Department,
        Template::Ancillary,
        Template::BackOffice,
        Template::Order,
        Template::BreakGlass,
        Template::SelfService,
        Template::Learned,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Template::Confirmed => "confirmed_by_privacy_officer",
            Template::CareTeam => "care_team",
            Template::Department => "department",
            Template::Ancillary => "ancillary_role",
            Template::BackOffice => "back_office_role",
            Template::Order => "order_or_appointment",
            Template::BreakGlass => "break_the_glass",
            Template::SelfService => "self_service",
            Template::Learned => "learned",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Template::Confirmed => {
                "the privacy officer found this user's access to this patient appropriate (a case decided with ward privacy determine)"
            }
            Template::CareTeam => "on the patient's care team",
            Template::Department => "in the department serving the patient's encounter",
            Template::Ancillary => {
                "an ancillary service (lab, radiology, pharmacy) for a current patient"
            }
            Template::BackOffice => {
                "health information management, billing or registration for a current or recent encounter"
            }
            Template::Order => {
                "named on an order or appointment for the patient (requester, performer or participant), or in the department an order is addressed to"
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
            if !support.active
                && support.users.len() >= opts.learn_min_users
                && support.patients.len() >= opts.learn_min_patients
            {
                // In a large department a handful of users' innocent odd looks add up to a
                // handful of users: a pattern must be the work of a share of the department.
                let colleagues = rel.dept_size(from);
                let needed = ((colleagues as f64 * opts.learn_min_user_share).ceil() as usize)
                    .min(SUPPORT_SAMPLE);
                support.active = support.users.len() >= needed;
            }
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
    // The officer's determination first: it is the most specific reason there is.
    if patient.confirmed(staff, t).is_some() {
        return Some(Template::Confirmed);
    }
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
    if orders(rel, patient).any(|o| order_names(rel, staff, o) && order_covers(opts, o, t)) {
        return Some(Template::Order);
    }
    break_glass.then_some(Template::BreakGlass)
}

/// The patient's orders and appointments Ward knows of.
fn orders<'a>(
    rel: &'a Relations,
    patient: &'a PatientRecord,
) -> impl Iterator<Item = &'a OrderRecord> + 'a {
    patient
        .orders
        .iter()
        .filter_map(|&o| rel.orders.get(o as usize))
}

/// Whether an order or appointment names the user: as a person (requester, performer,
/// participant, a member of a performing care team) or through a department it is addressed to.
fn order_names(rel: &Relations, staff: &StaffRecord, order: &OrderRecord) -> bool {
    order.members.iter().any(|m| rel.is_named(staff, m))
        || order
            .departments
            .iter()
            .any(|d| staff.departments.contains(d))
}

/// The period an order or appointment explains access in, `None` when it explains nothing
/// (revoked, cancelled, entered in error, or without any time). An order: from the care margin
/// before it was written until the later of its occurrence's end (plus the care margin after)
/// and `order_window` after it was written. An appointment: from `appointment_preparation` before its start until the care
/// team's follow-up after its end.
fn order_period(opts: &PrivacyOptions, order: &OrderRecord) -> Option<(i64, i64)> {
    let from = order.from.filter(|_| order.in_force)?;
    Some(if order.is_appointment() {
        (
            from.saturating_sub(opts.appointment_preparation_ms()),
            order
                .until
                .unwrap_or(from)
                .saturating_add(opts.care_team_follow_up_ms()),
        )
    } else {
        (
            from.saturating_sub(opts.margin_before_ms()),
            from.saturating_add(opts.order_window_ms()).max(
                order
                    .until
                    .map_or(i64::MIN, |u| u.saturating_add(opts.margin_after_ms())),
            ),
        )
    })
}

fn order_covers(opts: &PrivacyOptions, order: &OrderRecord, t: i64) -> bool {
    order_period(opts, order).is_some_and(|(from, until)| from <= t && t <= until)
}

/// Why no order or appointment explains the access, in plain words.
fn why_no_order(
    rel: &Relations,
    opts: &PrivacyOptions,
    staff: &StaffRecord,
    patient: &PatientRecord,
    t: i64,
) -> String {
    let login = staff.login();
    let known: Vec<&OrderRecord> = orders(rel, patient).collect();
    if known.is_empty() {
        return "order or appointment: Ward knows of no order or appointment for the patient"
            .into();
    }
    let what = |o: &OrderRecord| {
        if o.is_appointment() {
            "appointment"
        } else {
            "order"
        }
    };
    let naming: Vec<&&OrderRecord> = known
        .iter()
        .filter(|o| order_names(rel, staff, o))
        .collect();
    let Some(o) = naming.first() else {
        let mut addressed: Vec<DeptId> = known
            .iter()
            .flat_map(|o| o.departments.iter().copied())
            .collect();
        addressed.sort_unstable();
        addressed.dedup();
        let to = if addressed.is_empty() {
            String::new()
        } else {
            format!(" (addressed to {})", departments_text(rel, &addressed))
        };
        return format!(
            "order or appointment: {} known for the patient{to}, none naming {login} or {login}'s {}",
            counted(
                known.len(),
                "order or appointment",
                "orders or appointments"
            ),
            departments_text(rel, &staff.departments)
        );
    };
    let Some((from, until)) = order_period(opts, o) else {
        let status = o.status.as_deref().unwrap_or("without a time");
        return format!(
            "order or appointment: the {} {} naming {login} is {status}, which explains nothing",
            what(o),
            o.reference
        );
    };
    let when = if t < from { "before" } else { "after" };
    format!(
        "order or appointment: the {} {} names {login} but explains access only from {} to {}, and this access came {when}",
        what(o),
        o.reference,
        Timestamp(from),
        Timestamp(until)
    )
}

fn counted(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
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
    out.push(why_no_order(rel, opts, staff, patient, t));
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

/// Whether the user was on the care team of an encounter or care team of the patient that
/// began before `t` (however long ago): the patient is a former patient of the user's.
pub fn former_care_team(
    rel: &Relations,
    staff: &StaffRecord,
    patient: &PatientRecord,
    t: i64,
) -> bool {
    patient
        .care
        .iter()
        .filter_map(|&c| rel.care.get(c as usize))
        .filter(|c| c.start.is_some_and(|s| s <= t))
        .any(|c| {
            c.members.iter().any(|(member, from, _)| {
                from.is_none_or(|f| f <= t) && rel.is_member(staff, member)
            })
        })
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

impl Learned {
    /// The learned pairs and the documented work, by name, for the next run.
    pub(super) fn save(&self, names: &mut super::memory::Names) {
        for (&(from, to), support) in &self.pairs {
            let (Some(from), Some(to)) = (names.department(from), names.department(to)) else {
                continue;
            };
            let users = support
                .users
                .iter()
                .filter_map(|&u| names.user(u))
                .collect();
            let patients = support
                .patients
                .iter()
                .filter_map(|&p| names.patient(p))
                .collect();
            names.saved.learned.push(super::memory::SavedPair {
                from,
                to,
                users,
                patients,
                active: support.active,
            });
        }
        for (&(user, dept), patients) in &self.documented {
            let (Some(user), Some(dept)) = (names.user(user), names.department(dept)) else {
                continue;
            };
            let patients = patients.iter().filter_map(|&p| names.patient(p)).collect();
            names.saved.documented.push((user, dept, patients));
        }
    }

    /// Takes back what [`Learned::save`] gave, merged with what this run learned so far.
    /// Returns how many pairs are in force afterwards.
    pub(super) fn restore(
        &mut self,
        saved: &super::memory::Saved,
        resolved: &mut super::memory::Resolved,
    ) -> usize {
        for pair in &saved.learned {
            let (Some(from), Some(to)) =
                (resolved.department(pair.from), resolved.department(pair.to))
            else {
                continue;
            };
            let support = self.pairs.entry((from, to)).or_default();
            for &u in &pair.users {
                if let Some(u) = resolved.user(u)
                    && !support.users.contains(&u)
                    && support.users.len() < SUPPORT_SAMPLE
                {
                    support.users.push(u);
                }
            }
            for &p in &pair.patients {
                if let Some(p) = resolved.patient(p)
                    && !support.patients.contains(&p)
                    && support.patients.len() < SUPPORT_SAMPLE
                {
                    support.patients.push(p);
                }
            }
            support.active |= pair.active;
        }
        for (user, dept, patients) in &saved.documented {
            if self.documented.len() >= MAX_DOCUMENTED_USERS {
                break;
            }
            let (Some(user), Some(dept)) = (resolved.user(*user), resolved.department(*dept))
            else {
                continue;
            };
            let seen = self.documented.entry((user, dept)).or_default();
            for &p in patients {
                if let Some(p) = resolved.patient(p)
                    && !seen.contains(&p)
                    && seen.len() < SUPPORT_SAMPLE
                {
                    seen.push(p);
                }
            }
        }
        self.active().count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_model::context::{Attendee, Identifier, PersonName};
    use ward_model::{ContextKind, ContextResource, ContextSummary};

    const H: i64 = 3_600_000;
    /// 2026-11-02T00:00:00Z.
    const T0: i64 = 1_793_577_600_000;

    fn resource(
        kind: ContextKind,
        id: &str,
        summary: ContextSummary,
        raw: &str,
    ) -> ContextResource {
        ContextResource {
            kind,
            id: id.into(),
            summary,
            raw: raw.as_bytes().to_vec(),
        }
    }

    fn org(id: &str, label: &str, code: &str) -> ContextResource {
        resource(
            ContextKind::Organization,
            id,
            ContextSummary::Organization {
                name: Some(label.into()),
                part_of: None,
                types: Vec::new(),
                active: true,
            },
            &format!(r#"{{"resourceType":"Organization","identifier":[{{"value":"{code}"}}]}}"#),
        )
    }

    fn practitioner(id: &str, login: &str) -> ContextResource {
        resource(
            ContextKind::Practitioner,
            id,
            ContextSummary::Practitioner {
                identifiers: vec![Identifier {
                    system: None,
                    type_code: None,
                    value: login.into(),
                }],
                name: PersonName::default(),
                birth_date: None,
                address: None,
                active: true,
            },
            "{}",
        )
    }

    fn role(id: &str, practitioner: &str, dept: &str) -> ContextResource {
        resource(
            ContextKind::PractitionerRole,
            id,
            ContextSummary::PractitionerRole {
                practitioner: Some(format!("Practitioner/{practitioner}")),
                organization: Some(format!("Organization/{dept}")),
                codes: vec!["physician".into()],
                specialties: Vec::new(),
                active: true,
                start: None,
                end: None,
            },
            "{}",
        )
    }

    fn order(id: &str, status: &str, performers: &[&str], authored: i64) -> ContextResource {
        resource(
            ContextKind::ServiceRequest,
            id,
            ContextSummary::ServiceRequest {
                patient: Some("Patient/pt1".into()),
                encounter: Some("Encounter/enc1".into()),
                status: Some(status.into()),
                intent: Some("order".into()),
                categories: vec!["11429006".into()],
                codes: Vec::new(),
                requester: Some("Practitioner/pr2".into()),
                performers: performers.iter().map(|p| p.to_string()).collect(),
                authored_on: Some(Timestamp(authored)),
                occurrence_start: None,
                occurrence_end: None,
            },
            "{}",
        )
    }

    fn appointment(id: &str, status: &str, practitioner: &str, start: i64) -> ContextResource {
        let attendee = |reference: &str| Attendee {
            reference: reference.into(),
            role: None,
            status: Some("accepted".into()),
        };
        resource(
            ContextKind::Appointment,
            id,
            ContextSummary::Appointment {
                patient: Some("Patient/pt1".into()),
                status: Some(status.into()),
                participants: vec![attendee("Patient/pt1"), attendee(practitioner)],
                service_types: Vec::new(),
                specialties: Vec::new(),
                start: Some(Timestamp(start)),
                end: Some(Timestamp(start + H / 2)),
                based_on: Vec::new(),
            },
            "{}",
        )
    }

    /// Internal Medicine (MED) with physician u2 (pr2), who admitted pt1 at T0 and is its
    /// attending; Cardiology (CARD) with physicians u1 (pr1, role prr1) and u3 (pr3).
    fn hospital() -> Vec<ContextResource> {
        vec![
            org("dept-med", "Internal Medicine", "MED"),
            org("dept-card", "Cardiology", "CARD"),
            practitioner("pr1", "u1"),
            practitioner("pr2", "u2"),
            practitioner("pr3", "u3"),
            role("prr1", "pr1", "dept-card"),
            role("prr2", "pr2", "dept-med"),
            role("prr3", "pr3", "dept-card"),
            resource(
                ContextKind::Patient,
                "pt1",
                ContextSummary::Patient {
                    identifiers: Vec::new(),
                    name: PersonName::default(),
                    birth_date: None,
                    address: None,
                    deceased: false,
                    deceased_at: None,
                    security_labels: Vec::new(),
                    contact_names: Vec::new(),
                },
                "{}",
            ),
            resource(
                ContextKind::Encounter,
                "enc1",
                ContextSummary::Encounter {
                    patient: Some("Patient/pt1".into()),
                    status: Some("in-progress".into()),
                    class: Some("IMP".into()),
                    participants: Vec::new(),
                    service_provider: Some("Organization/dept-med".into()),
                    start: Some(Timestamp(T0)),
                    end: None,
                },
                "{}",
            ),
        ]
    }

    fn relations(extra: Vec<ContextResource>) -> Relations {
        let mut rel = Relations::default();
        for r in hospital().iter().chain(&extra) {
            rel.add(r);
        }
        rel
    }

    /// The fixed template explaining `login`'s access to pt1 at `t`, and why the others failed.
    fn explained(rel: &Relations, login: &str, t: i64) -> (Option<Template>, String) {
        let opts = PrivacyOptions::default();
        let user = rel.staff_by_login(login).unwrap();
        let patient = rel.patient("pt1").unwrap();
        let template = fixed(
            rel,
            &opts,
            &rel.staff[user as usize],
            &rel.patients[patient as usize],
            t,
            false,
        );
        let why = why_not(
            rel,
            &opts,
            Access {
                user,
                patient,
                time: t,
            },
        )
        .join("; ");
        (template, why)
    }

    #[test]
    fn an_order_addressed_to_a_department_explains_its_staff_within_the_window_only() {
        let rel = relations(vec![order(
            "sr1",
            "active",
            &["Organization/dept-card"],
            T0 + 2 * H,
        )]);
        // Any Cardiology physician, from the care margin before the order to 72 h after.
        assert_eq!(explained(&rel, "u1", T0 + 3 * H).0, Some(Template::Order));
        assert_eq!(explained(&rel, "u3", T0 + 70 * H).0, Some(Template::Order));
        assert_eq!(explained(&rel, "u1", T0 - 9 * H).0, Some(Template::Order));
        let (template, why) = explained(&rel, "u1", T0 + 80 * H);
        assert_eq!(template, None);
        assert!(
            why.contains("order or appointment: the order ServiceRequest/sr1 names u1 but explains access only from 2026-11-01T14:00:00.000Z to 2026-11-05T02:00:00.000Z, and this access came after"),
            "{why}"
        );
        // The attending is explained by the department before the order is looked at.
        assert_eq!(
            explained(&rel, "u2", T0 + 3 * H).0,
            Some(Template::Department)
        );

        // Revoked, the order explains nothing, and the explanation says so.
        let rel = relations(vec![order(
            "sr1",
            "revoked",
            &["Organization/dept-card"],
            T0 + 2 * H,
        )]);
        let (template, why) = explained(&rel, "u1", T0 + 3 * H);
        assert_eq!(template, None);
        assert!(
            why.contains(
                "the order ServiceRequest/sr1 naming u1 is revoked, which explains nothing"
            ),
            "{why}"
        );
    }

    #[test]
    fn an_order_to_a_practitioner_role_explains_that_practitioner_not_the_department() {
        let rel = relations(vec![order(
            "sr2",
            "completed",
            &["PractitionerRole/prr1"],
            T0 + 2 * H,
        )]);
        assert_eq!(explained(&rel, "u1", T0 + 5 * H).0, Some(Template::Order));
        let (template, why) = explained(&rel, "u3", T0 + 5 * H);
        assert_eq!(template, None);
        assert!(
            why.contains("order or appointment: 1 order or appointment known for the patient, none naming u3 or u3's Cardiology"),
            "{why}"
        );
    }

    #[test]
    fn a_cancelled_appointment_explains_nothing_and_a_booked_one_its_participants() {
        let booked = relations(vec![appointment(
            "ap1",
            "booked",
            "Practitioner/pr1",
            T0 + 30 * H,
        )]);
        // From a day before the visit to the care team's follow-up after it.
        assert_eq!(
            explained(&booked, "u1", T0 + 7 * H).0,
            Some(Template::Order)
        );
        assert_eq!(
            explained(&booked, "u1", T0 + 5 * 24 * H).0,
            Some(Template::Order)
        );
        assert_eq!(explained(&booked, "u1", T0 + 5 * H).0, None);
        assert_eq!(explained(&booked, "u3", T0 + 29 * H).0, None);

        let cancelled = relations(vec![appointment(
            "ap1",
            "cancelled",
            "Practitioner/pr1",
            T0 + 30 * H,
        )]);
        let (template, why) = explained(&cancelled, "u1", T0 + 29 * H);
        assert_eq!(template, None);
        assert!(
            why.contains(
                "the appointment Appointment/ap1 naming u1 is cancelled, which explains nothing"
            ),
            "{why}"
        );

        // A later version of the same appointment replaces the earlier one.
        let mut rel = booked;
        rel.add(&appointment(
            "ap1",
            "cancelled",
            "Practitioner/pr1",
            T0 + 30 * H,
        ));
        assert_eq!(explained(&rel, "u1", T0 + 29 * H).0, None);
        assert_eq!(
            rel.patients[rel.patient("pt1").unwrap() as usize]
                .orders
                .len(),
            1
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn determination(
        alert: &str,
        user: &str,
        patient: Option<&str>,
        patients: &[&str],
        decision: &str,
        decided: i64,
        from: i64,
        until: i64,
    ) -> ContextResource {
        resource(
            ContextKind::PrivacyDetermination,
            &format!("determination-{alert}"),
            ContextSummary::PrivacyDetermination {
                user: user.into(),
                patient: patient.map(str::to_string),
                patients: patients.iter().map(|p| p.to_string()).collect(),
                determination: decision.into(),
                alert: alert.into(),
                note: None,
                by: None,
                decided_at: Timestamp(decided),
                from: Some(Timestamp(from)),
                until: Some(Timestamp(until)),
            },
            "{}",
        )
    }

    #[test]
    fn a_confirmation_explains_only_its_pair_and_only_within_its_period() {
        // u1 (Cardiology) has no reason of record to open pt1 (Internal Medicine); the
        // officer found it appropriate, confirmed from T0 for two days.
        let rel = relations(vec![determination(
            "a1",
            "u1",
            Some("pt1"),
            &[],
            "appropriate",
            T0 + H,
            T0,
            T0 + 48 * H,
        )]);
        assert_eq!(
            explained(&rel, "u1", T0 + 3 * H).0,
            Some(Template::Confirmed)
        );
        // Before the alert's first access and after the expiry: not confirmed.
        assert_eq!(explained(&rel, "u1", T0 - H).0, None);
        assert_eq!(explained(&rel, "u1", T0 + 49 * H).0, None);
        // Another user of the same department, same patient: not confirmed.
        assert_eq!(explained(&rel, "u3", T0 + 3 * H).0, None);
        // It is tried first: the attending, confirmed too, is counted as confirmed.
        let rel = relations(vec![determination(
            "a2",
            "u2",
            Some("pt1"),
            &[],
            "appropriate",
            T0 + H,
            T0,
            T0 + 48 * H,
        )]);
        assert_eq!(
            explained(&rel, "u2", T0 + 3 * H).0,
            Some(Template::Confirmed)
        );
    }

    #[test]
    fn a_later_determination_replaces_or_withdraws_a_confirmation() {
        let confirmed = determination(
            "a1",
            "u1",
            None,
            &["MRN-unknown", "pt1"],
            "appropriate",
            T0 + H,
            T0,
            T0 + 48 * H,
        );
        // The same alert decided again as a policy violation: the confirmation is gone.
        let mut rel = relations(vec![confirmed.clone()]);
        assert_eq!(
            explained(&rel, "u1", T0 + 3 * H).0,
            Some(Template::Confirmed)
        );
        rel.add(&determination(
            "a1",
            "u1",
            None,
            &["pt1"],
            "policy-violation",
            T0 + 2 * H,
            T0,
            T0 + 48 * H,
        ));
        assert_eq!(explained(&rel, "u1", T0 + 3 * H).0, None);
        // A later case on the same pair found a violation: it withdraws the confirmation.
        let mut rel = relations(vec![confirmed]);
        rel.add(&determination(
            "a9",
            "u1",
            Some("pt1"),
            &[],
            "policy-violation",
            T0 + 5 * H,
            T0 + 4 * H,
            T0 + 48 * H,
        ));
        assert_eq!(explained(&rel, "u1", T0 + 3 * H).0, None);
    }

    #[test]
    fn without_any_order_the_explanation_says_none_is_known() {
        let rel = relations(Vec::new());
        let (template, why) = explained(&rel, "u1", T0 + 3 * H);
        assert_eq!(template, None);
        assert!(
            why.contains(
                "order or appointment: Ward knows of no order or appointment for the patient"
            ),
            "{why}"
        );
    }
}
