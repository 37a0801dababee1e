//! The relationship context privacy analytics reason with: who the patients and the staff are,
//! which departments exist, which care relationships (encounters, care teams) tie staff to
//! patients and when, and which orders and appointments name staff or departments for a
//! patient. Built from the [`ContextResource`]s the detector receives, in any order,
//! and kept current as more arrive (an A08 replaces what an A01 said).
//!
//! Patients are one record however they are named: FHIR logical ids (`pt000123`), MRNs (HL7
//! ADT keys patients by MRN, ATNA audit names them by MRN) and any other identifier all lead
//! to the same record. Staff are one record per person, reached by EHR login (the
//! Practitioner's identifier, the HR roster's `login`) or by `Practitioner/…` reference.
//!
//! Memory follows the size of the organisation's context, never the number of events. Lookups
//! never panic: every index is checked.

use std::collections::HashMap;
use ward_model::context::{Address, EmploymentStatus, Identifier, Participant, PersonName};
use ward_model::{ContextResource, ContextSummary};

/// Index of a patient record.
pub type PatientId = u32;
/// Index of a staff record.
pub type StaffId = u32;
/// Index of a department (an Organization).
pub type DeptId = u32;

/// The most care relationships kept per patient: the most recent replace the oldest, so one
/// patient with years of visits cannot grow memory without bound.
const MAX_CARE_PER_PATIENT: usize = 256;
/// The most orders and appointments kept per patient, for the same reason.
const MAX_ORDERS_PER_PATIENT: usize = 256;

#[derive(Debug, Clone, Default)]
pub struct PatientRecord {
    /// The id alerts name the patient by: the FHIR logical id when one is known, else the id
    /// the first resource gave (an MRN from ADT).
    pub display: String,
    pub name: PersonName,
    pub birth_date: Option<String>,
    pub address: Option<Address>,
    pub deceased: bool,
    pub deceased_at: Option<i64>,
    /// `meta.security` codes, upper-cased.
    pub labels: Vec<String>,
    pub contacts: Vec<PersonName>,
    /// Care relationships (indices into [`Relations::care`]).
    pub care: Vec<u32>,
    /// Orders and appointments (indices into [`Relations::orders`]).
    pub orders: Vec<u32>,
    /// The privacy officer's determinations on accesses to this patient.
    pub determinations: Vec<Determination>,
}

/// A privacy officer's determination on one user's accesses to one patient
/// (`ward privacy determine`): `appropriate` confirms the pair for a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Determination {
    /// The user's login, as the alert names it (compared with every login of the person).
    pub login: String,
    pub appropriate: bool,
    /// The alert decided on (the case).
    pub alert: String,
    pub decided_at: i64,
    /// Accesses from here to `until` (inclusive) are confirmed; open ends are open.
    pub from: Option<i64>,
    pub until: Option<i64>,
}

impl PatientRecord {
    /// The confirmation in force for this staff member's access at `t`: the latest
    /// determination on the pair decides (a later policy violation withdraws an earlier
    /// confirmation), and it confirms only within its period.
    pub fn confirmed(&self, staff: &StaffRecord, t: i64) -> Option<&Determination> {
        self.determinations
            .iter()
            .filter(|d| staff.logins.contains(&d.login))
            .max_by_key(|d| d.decided_at)
            .filter(|d| {
                d.appropriate
                    && d.from.is_none_or(|from| from <= t)
                    && d.until.is_none_or(|until| t <= until)
            })
    }
}

#[derive(Debug, Clone, Default)]
pub struct StaffRecord {
    pub logins: Vec<String>,
    /// `Practitioner/…` references of this person.
    pub practitioners: Vec<String>,
    pub name: PersonName,
    pub birth_date: Option<String>,
    pub address: Option<Address>,
    /// The departments the person works in: those their PractitionerRoles and roster row
    /// name, in the order first named. Kept by [`Relations`] with its staff counts.
    pub departments: Vec<DeptId>,
    /// Which context resource (`PractitionerRole/…`, a roster row) names which department: a
    /// new version of the same resource replaces its department.
    placed_by: Vec<(String, DeptId)>,
    /// Role codes, lower-cased (`physician`, `nurse`, `him` …).
    pub roles: Vec<String>,
    /// From the HR roster.
    pub status: Option<EmploymentStatus>,
    pub terminated_at: Option<i64>,
    pub leave: Option<(Option<i64>, Option<i64>)>,
    /// The latest end of the person's FHIR PractitionerRoles when every one of them is
    /// inactive: the EHR's own record of a departure, used when no roster says more.
    pub roles_ended_at: Option<i64>,
    pub any_active_role: bool,
}

impl StaffRecord {
    /// The login alerts name the person by.
    pub fn login(&self) -> &str {
        self.logins
            .first()
            .map_or("an unknown user", String::as_str)
    }

    /// Since when the person no longer works here, as of `t`: the roster's termination date,
    /// else the end of the last FHIR role when every role ended.
    pub fn terminated_as_of(&self, t: i64) -> Option<Option<i64>> {
        if let Some(at) = self.terminated_at {
            return (at <= t).then_some(Some(at));
        }
        if self.status == Some(EmploymentStatus::Terminated) {
            return Some(None);
        }
        if !self.any_active_role
            && let Some(at) = self.roles_ended_at
        {
            return (at <= t).then_some(Some(at));
        }
        None
    }

    /// Whether the person is on leave at `t`, as the roster says.
    pub fn on_leave_at(&self, t: i64) -> bool {
        if self.status != Some(EmploymentStatus::OnLeave) {
            return false;
        }
        match self.leave {
            Some((from, until)) => {
                from.is_none_or(|from| from <= t) && until.is_none_or(|until| t < until)
            }
            None => true,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct DeptRecord {
    pub reference: String,
    pub name: Option<String>,
    /// Identifier values (department codes such as `MED`), as written.
    pub codes: Vec<String>,
    /// Whether any encounter names this department as its service provider: departments
    /// that never do are back offices or ancillary services.
    pub serves_encounters: bool,
}

impl DeptRecord {
    /// How alerts name the department: its name, else its code, else its reference.
    pub fn label(&self) -> &str {
        self.name
            .as_deref()
            .or(self.codes.first().map(String::as_str))
            .unwrap_or(&self.reference)
    }
}

/// One care relationship: an encounter or a care team, with its department and members.
#[derive(Debug, Clone, Default)]
pub struct CareRecord {
    /// `Encounter/…` or `CareTeam/…`.
    pub reference: String,
    pub patient: Option<PatientId>,
    pub departments: Vec<DeptId>,
    pub start: Option<i64>,
    pub end: Option<i64>,
    /// Participant references as written (`Practitioner/…`, `PractitionerRole/…`) and their
    /// own periods.
    pub members: Vec<(String, Option<i64>, Option<i64>)>,
}

impl CareRecord {
    /// Whether `t` falls in the relationship's period widened by `before` and `after`; an
    /// open end is open.
    pub fn covers(&self, t: i64, before: i64, after: i64) -> bool {
        covers(self.start, self.end, t, before, after)
    }
}

/// An order (ServiceRequest) or appointment for a patient: whom and which departments it
/// names, and the period it was known to be in force (before the margins the templates add).
#[derive(Debug, Clone, Default)]
pub struct OrderRecord {
    /// `ServiceRequest/…` or `Appointment/…`.
    pub reference: String,
    pub patient: Option<PatientId>,
    /// Whether the order or appointment can explain anything: an order that is not a draft,
    /// revoked or entered in error; an appointment not cancelled, a no-show or entered in
    /// error.
    pub in_force: bool,
    /// The status as written, for explanations.
    pub status: Option<String>,
    /// People named: the requester, performers and accepting participants, as referenced
    /// (`Practitioner/…`, `PractitionerRole/…`, or `CareTeam/…` for a team as performer).
    pub members: Vec<String>,
    /// Departments the order is addressed to (performer Organizations).
    pub departments: Vec<DeptId>,
    /// For an order: `authoredOn` (or its occurrence start when earlier); for an
    /// appointment: its start. `None` when the resource gives no time: it explains nothing.
    pub from: Option<i64>,
    /// For an order: the end of its occurrence when given; for an appointment: its end (or
    /// start).
    pub until: Option<i64>,
}

impl OrderRecord {
    pub fn is_appointment(&self) -> bool {
        self.reference.starts_with("Appointment/")
    }
}

pub fn covers(start: Option<i64>, end: Option<i64>, t: i64, before: i64, after: i64) -> bool {
    start.is_none_or(|s| s.saturating_sub(before) <= t)
        && end.is_none_or(|e| t <= e.saturating_add(after))
}

/// The organisation's context, as privacy analytics need it.
#[derive(Debug, Default)]
pub struct Relations {
    pub patients: Vec<PatientRecord>,
    patient_alias: HashMap<String, PatientId>,
    pub staff: Vec<StaffRecord>,
    login_of: HashMap<String, StaffId>,
    practitioner_of: HashMap<String, StaffId>,
    /// `PractitionerRole/…` → `Practitioner/…`, to resolve care team members named by role.
    role_practitioner: HashMap<String, String>,
    /// Staff indexed by (family, first given name, birth date), lower-cased, for identity links.
    staff_by_identity: HashMap<(String, String, String), Vec<StaffId>>,
    pub depts: Vec<DeptRecord>,
    dept_alias: HashMap<String, DeptId>,
    /// Staff per department, kept as staff are placed, moved and merged.
    dept_staff: Vec<u32>,
    /// The staff member each placing resource (see `StaffRecord::placed_by`) is filed under.
    placed: HashMap<String, StaffId>,
    pub care: Vec<CareRecord>,
    care_of: HashMap<String, u32>,
    pub orders: Vec<OrderRecord>,
    order_of: HashMap<String, u32>,
    /// Roster departments as written, waiting for an Organization that carries that code:
    /// (staff, roster row, code).
    pending_roster_depts: Vec<(StaffId, String, String)>,
    /// Per alert: the patients its determination was filed under, so a later determination
    /// on the same alert replaces it.
    determination_of: HashMap<String, Vec<PatientId>>,
    /// Determinations naming a patient Ward has no record of yet, filed when it arrives.
    pending_determinations: Vec<(String, Determination)>,
}

impl Relations {
    pub fn add(&mut self, resource: &ContextResource) {
        match &resource.summary {
            ContextSummary::Patient {
                identifiers,
                name,
                birth_date,
                address,
                deceased,
                deceased_at,
                security_labels,
                contact_names,
            } => self.add_patient(
                &resource.id,
                identifiers,
                PatientRecord {
                    display: resource.id.clone(),
                    name: name.clone(),
                    birth_date: birth_date.clone(),
                    address: address.clone(),
                    deceased: *deceased,
                    deceased_at: deceased_at.map(|t| t.millis()),
                    labels: security_labels
                        .iter()
                        .map(|l| l.to_ascii_uppercase())
                        .collect(),
                    contacts: contact_names.clone(),
                    care: Vec::new(),
                    orders: Vec::new(),
                    determinations: Vec::new(),
                },
            ),
            ContextSummary::Practitioner {
                identifiers,
                name,
                birth_date,
                address,
                ..
            } => {
                let reference = format!("Practitioner/{}", resource.id);
                let logins: Vec<&str> = identifiers.iter().map(|i| i.value.as_str()).collect();
                let s = self.staff_for(Some(&reference), &logins);
                if let Some(rec) = self.staff.get_mut(s as usize) {
                    if name.family.is_some() || !name.given.is_empty() {
                        rec.name = name.clone();
                    }
                    if birth_date.is_some() {
                        rec.birth_date = birth_date.clone();
                    }
                    if address.is_some() {
                        rec.address = address.clone();
                    }
                }
                self.index_identity(s);
            }
            ContextSummary::PractitionerRole {
                practitioner,
                organization,
                codes,
                active,
                end,
                ..
            } => {
                let Some(practitioner) = practitioner else {
                    return;
                };
                self.role_practitioner.insert(
                    format!("PractitionerRole/{}", resource.id),
                    practitioner.clone(),
                );
                let s = self.staff_for(Some(practitioner), &[]);
                let dept = organization.as_deref().map(|o| self.dept_for(o));
                self.place(s, &resource.reference(), dept);
                if let Some(rec) = self.staff.get_mut(s as usize) {
                    for code in codes {
                        push_unique(&mut rec.roles, code.to_ascii_lowercase());
                    }
                    if *active && end.is_none() {
                        rec.any_active_role = true;
                    } else if let Some(end) = end {
                        rec.roles_ended_at =
                            Some(rec.roles_ended_at.unwrap_or(i64::MIN).max(end.millis()));
                    }
                }
            }
            ContextSummary::Employment {
                login,
                name,
                department,
                role,
                terminated,
                status,
                leave_start,
                leave_end,
                ..
            } => {
                let s = self.staff_for(None, &[login.as_str()]);
                let source = resource.reference();
                let dept = department.as_deref().and_then(|d| self.dept_by_code(d));
                // The row's department replaces what an earlier version of the row said, also
                // while it waits for its Organization.
                self.pending_roster_depts.retain(|p| p.1 != source);
                self.place(s, &source, dept);
                if let (None, Some(code)) = (dept, department) {
                    self.pending_roster_depts.push((s, source, code.clone()));
                }
                if let Some(rec) = self.staff.get_mut(s as usize) {
                    if rec.name.family.is_none() && rec.name.given.is_empty() {
                        rec.name = name.clone();
                    }
                    if let Some(role) = role {
                        push_unique(&mut rec.roles, role.to_ascii_lowercase());
                    }
                    rec.status = Some(*status);
                    rec.terminated_at = terminated.map(|t| t.millis());
                    rec.leave = (leave_start.is_some() || leave_end.is_some()).then(|| {
                        (
                            leave_start.map(|t| t.millis()),
                            leave_end.map(|t| t.millis()),
                        )
                    });
                }
            }
            ContextSummary::Organization { name, .. } => {
                let reference = resource.reference();
                let d = self.dept_for(&reference);
                let codes = organization_codes(&resource.raw);
                if let Some(rec) = self.depts.get_mut(d as usize) {
                    if name.is_some() {
                        rec.name = name.clone();
                    }
                    for code in &codes {
                        push_unique(&mut rec.codes, code.clone());
                    }
                }
                for alias in codes.iter().chain(name.iter()) {
                    self.dept_alias
                        .entry(alias.to_ascii_lowercase())
                        .or_insert(d);
                }
                self.resolve_roster_departments();
            }
            ContextSummary::Encounter {
                patient,
                participants,
                service_provider,
                start,
                end,
                ..
            } => self.add_care(
                resource.reference(),
                patient.as_deref(),
                participants,
                service_provider.iter().map(String::as_str),
                start.map(|t| t.millis()),
                end.map(|t| t.millis()),
                true,
            ),
            ContextSummary::CareTeam {
                patient,
                participants,
                managing_organizations,
                start,
                end,
                ..
            } => self.add_care(
                resource.reference(),
                patient.as_deref(),
                participants,
                managing_organizations.iter().map(String::as_str),
                start.map(|t| t.millis()),
                end.map(|t| t.millis()),
                false,
            ),
            ContextSummary::ServiceRequest {
                patient,
                status,
                requester,
                performers,
                authored_on,
                occurrence_start,
                occurrence_end,
                ..
            } => {
                let in_force = !matches!(
                    status.as_deref(),
                    Some("revoked" | "entered-in-error" | "draft")
                );
                let (members, orgs): (Vec<&String>, Vec<&String>) = requester
                    .iter()
                    .filter(|r| !r.starts_with("Organization/"))
                    .chain(performers.iter())
                    .partition(|r| !r.starts_with("Organization/"));
                let departments = orgs.into_iter().map(|o| self.dept_for(o)).collect();
                let from = match (authored_on, occurrence_start) {
                    (Some(a), Some(o)) => Some(a.millis().min(o.millis())),
                    (a, o) => a.or(*o).map(|t| t.millis()),
                };
                self.add_order(OrderRecord {
                    reference: resource.reference(),
                    patient: patient.as_deref().and_then(|p| self.patient(p)),
                    in_force,
                    status: status.clone(),
                    members: members.into_iter().cloned().collect(),
                    departments,
                    from,
                    until: occurrence_end.map(|t| t.millis()),
                });
            }
            ContextSummary::Appointment {
                patient,
                status,
                participants,
                start,
                end,
                ..
            } => {
                let in_force = !matches!(
                    status.as_deref(),
                    Some("cancelled" | "noshow" | "entered-in-error")
                );
                let members = participants
                    .iter()
                    .filter(|p| {
                        p.status.as_deref() != Some("declined")
                            && (p.reference.starts_with("Practitioner/")
                                || p.reference.starts_with("PractitionerRole/"))
                    })
                    .map(|p| p.reference.clone())
                    .collect();
                self.add_order(OrderRecord {
                    reference: resource.reference(),
                    patient: patient.as_deref().and_then(|p| self.patient(p)),
                    in_force,
                    status: status.clone(),
                    members,
                    departments: Vec::new(),
                    from: start.map(|t| t.millis()),
                    until: end.or(*start).map(|t| t.millis()),
                });
            }
            ContextSummary::PrivacyDetermination {
                user,
                patient,
                patients,
                determination,
                alert,
                decided_at,
                from,
                until,
                ..
            } => self.add_determination(
                patient.iter().chain(patients),
                Determination {
                    login: user.clone(),
                    appropriate: determination == "appropriate",
                    alert: alert.clone(),
                    decided_at: decided_at.millis(),
                    from: from.map(|t| t.millis()),
                    until: until.map(|t| t.millis()),
                },
            ),
        }
    }

    /// Files a determination under each patient it names, replacing the earlier determination
    /// on the same alert.
    fn add_determination<'a>(
        &mut self,
        patients: impl Iterator<Item = &'a String>,
        determination: Determination,
    ) {
        for p in self
            .determination_of
            .remove(&determination.alert)
            .unwrap_or_default()
        {
            if let Some(rec) = self.patients.get_mut(p as usize) {
                rec.determinations
                    .retain(|d| d.alert != determination.alert);
            }
        }
        self.pending_determinations
            .retain(|(_, d)| d.alert != determination.alert);
        for patient in patients {
            self.file_determination(patient, determination.clone());
        }
    }

    fn file_determination(&mut self, patient: &str, determination: Determination) {
        let Some(p) = self.patient(patient) else {
            self.pending_determinations
                .push((patient.to_string(), determination));
            return;
        };
        let filed = self
            .determination_of
            .entry(determination.alert.clone())
            .or_default();
        if !filed.contains(&p) {
            filed.push(p);
        }
        if let Some(rec) = self.patients.get_mut(p as usize) {
            rec.determinations.push(determination);
        }
    }

    /// Whether a member an order names (`Practitioner/…`, `PractitionerRole/…`, or a
    /// `CareTeam/…` whose members count) is this staff member.
    pub fn is_named(&self, staff: &StaffRecord, reference: &str) -> bool {
        if reference.starts_with("CareTeam/") {
            return self
                .care_of
                .get(reference)
                .and_then(|&c| self.care.get(c as usize))
                .is_some_and(|c| c.members.iter().any(|(m, _, _)| self.is_member(staff, m)));
        }
        self.is_member(staff, reference)
    }

    /// The patient an event names (a FHIR id, `Patient/…`, an MRN, or an identifier in HL7
    /// CX form `MRN^^^…`).
    pub fn patient(&self, id: &str) -> Option<PatientId> {
        let id = id.trim();
        let bare = id.strip_prefix("Patient/").unwrap_or(id);
        let bare = bare.split('^').next().unwrap_or(bare);
        self.patient_alias.get(bare).copied()
    }

    /// The staff member behind a login (`u1035`) or an identifier `system|value`.
    pub fn staff_by_login(&self, login: &str) -> Option<StaffId> {
        if let Some(&s) = self.login_of.get(login) {
            return Some(s);
        }
        let value = login.rsplit('|').next()?;
        self.login_of.get(value).copied()
    }

    /// Whether a care relationship member reference (`Practitioner/…` or `PractitionerRole/…`)
    /// is this staff member.
    pub fn is_member(&self, staff: &StaffRecord, reference: &str) -> bool {
        let practitioner = self
            .role_practitioner
            .get(reference)
            .map_or(reference, String::as_str);
        staff.practitioners.iter().any(|p| p == practitioner)
    }

    /// Staff members whose name and birth date are the patient's.
    pub fn staff_matching(&self, patient: &PatientRecord) -> &[StaffId] {
        identity_key(&patient.name, patient.birth_date.as_deref())
            .and_then(|k| self.staff_by_identity.get(&k))
            .map_or(&[], Vec::as_slice)
    }

    pub fn dept_label(&self, d: DeptId) -> &str {
        self.depts.get(d as usize).map_or("?", DeptRecord::label)
    }

    fn add_patient(&mut self, id: &str, identifiers: &[Identifier], record: PatientRecord) {
        let aliases: Vec<&str> = std::iter::once(id)
            .chain(identifiers.iter().map(|i| i.value.as_str()))
            .filter(|a| !a.is_empty())
            .collect();
        let existing = aliases
            .iter()
            .find_map(|a| self.patient_alias.get(*a).copied());
        // A logical id that is not one of the patient's identifiers is a FHIR id: the name
        // alerts should use. ADT keys patients by their MRN, which is an identifier.
        let logical = !identifiers.iter().any(|i| i.value == id);
        let p = match existing {
            Some(p) => {
                if let Some(rec) = self.patients.get_mut(p as usize) {
                    if logical {
                        rec.display = record.display;
                    }
                    if record.name.family.is_some() || !record.name.given.is_empty() {
                        rec.name = record.name;
                    }
                    if record.birth_date.is_some() {
                        rec.birth_date = record.birth_date;
                    }
                    if record.address.is_some() {
                        rec.address = record.address;
                    }
                    rec.deceased |= record.deceased;
                    if record.deceased_at.is_some() {
                        rec.deceased_at = record.deceased_at;
                    }
                    for label in record.labels {
                        push_unique(&mut rec.labels, label);
                    }
                    if !record.contacts.is_empty() {
                        rec.contacts = record.contacts;
                    }
                }
                p
            }
            None => {
                self.patients.push(record);
                (self.patients.len() - 1) as PatientId
            }
        };
        for alias in aliases {
            self.patient_alias.insert(alias.to_string(), p);
        }
        if !self.pending_determinations.is_empty() {
            let pending = std::mem::take(&mut self.pending_determinations);
            for (patient, determination) in pending {
                self.file_determination(&patient, determination);
            }
        }
    }

    /// The staff record for a practitioner reference and/or logins, created if new; two
    /// records found to be one person (a roster row met its Practitioner) are merged.
    fn staff_for(&mut self, practitioner: Option<&str>, logins: &[&str]) -> StaffId {
        let mut found: Vec<StaffId> = practitioner
            .and_then(|p| self.practitioner_of.get(p).copied())
            .into_iter()
            .chain(logins.iter().filter_map(|l| self.login_of.get(*l).copied()))
            .collect();
        found.sort_unstable();
        found.dedup();
        let s = match found.first() {
            Some(&s) => s,
            None => {
                self.staff.push(StaffRecord::default());
                (self.staff.len() - 1) as StaffId
            }
        };
        for &other in found.iter().skip(1) {
            self.merge_staff(s, other);
        }
        if let Some(p) = practitioner {
            self.practitioner_of.insert(p.to_string(), s);
            if let Some(rec) = self.staff.get_mut(s as usize) {
                push_unique(&mut rec.practitioners, p.to_string());
            }
        }
        for login in logins.iter().filter(|l| !l.is_empty()) {
            self.login_of.insert(login.to_string(), s);
            if let Some(rec) = self.staff.get_mut(s as usize) {
                push_unique(&mut rec.logins, login.to_string());
            }
        }
        s
    }

    /// Moves everything `from` knows into `into`; `from` stays behind empty and unreachable.
    fn merge_staff(&mut self, into: StaffId, from: StaffId) {
        let Some(mut taken) = self.staff.get_mut(from as usize).map(std::mem::take) else {
            return;
        };
        // `from` no longer works anywhere; its departments come back with `into`'s below.
        for &d in &taken.departments {
            uncount(&mut self.dept_staff, d);
        }
        let placed_by = std::mem::take(&mut taken.placed_by);
        for (source, _) in &placed_by {
            self.placed.insert(source.clone(), into);
        }
        for login in &taken.logins {
            self.login_of.insert(login.clone(), into);
        }
        for p in &taken.practitioners {
            self.practitioner_of.insert(p.clone(), into);
        }
        for ids in self.staff_by_identity.values_mut() {
            ids.retain(|&s| s != from);
        }
        for pending in &mut self.pending_roster_depts {
            if pending.0 == from {
                pending.0 = into;
            }
        }
        self.edit_placements(into, |rec| rec.placed_by.extend(placed_by));
        if let Some(rec) = self.staff.get_mut(into as usize) {
            for l in taken.logins {
                push_unique(&mut rec.logins, l);
            }
            for p in taken.practitioners {
                push_unique(&mut rec.practitioners, p);
            }
            if rec.name.family.is_none() && rec.name.given.is_empty() {
                rec.name = taken.name;
            }
            rec.birth_date = rec.birth_date.take().or(taken.birth_date);
            rec.address = rec.address.take().or(taken.address);
            for r in taken.roles {
                push_unique(&mut rec.roles, r);
            }
            rec.status = rec.status.or(taken.status);
            rec.terminated_at = rec.terminated_at.or(taken.terminated_at);
            rec.leave = rec.leave.or(taken.leave);
            rec.roles_ended_at = rec.roles_ended_at.max(taken.roles_ended_at);
            rec.any_active_role |= taken.any_active_role;
        }
        self.index_identity(into);
    }

    fn index_identity(&mut self, s: StaffId) {
        let Some(rec) = self.staff.get(s as usize) else {
            return;
        };
        if let Some(key) = identity_key(&rec.name, rec.birth_date.as_deref()) {
            let ids = self.staff_by_identity.entry(key).or_default();
            if !ids.contains(&s) {
                ids.push(s);
            }
        }
    }

    fn dept_for(&mut self, reference: &str) -> DeptId {
        if let Some(&d) = self.dept_alias.get(reference) {
            return d;
        }
        self.depts.push(DeptRecord {
            reference: reference.to_string(),
            ..Default::default()
        });
        let d = (self.depts.len() - 1) as DeptId;
        self.dept_alias.insert(reference.to_string(), d);
        d
    }

    /// A department named by the roster: its code or name (case-insensitive), or a reference.
    fn dept_by_code(&self, code: &str) -> Option<DeptId> {
        self.dept_alias
            .get(code)
            .or_else(|| self.dept_alias.get(&code.to_ascii_lowercase()))
            .copied()
    }

    fn resolve_roster_departments(&mut self) {
        let pending = std::mem::take(&mut self.pending_roster_depts);
        for (s, source, code) in pending {
            match self.dept_by_code(&code) {
                Some(d) => self.place(s, &source, Some(d)),
                None => self.pending_roster_depts.push((s, source, code)),
            }
        }
    }

    /// How many staff work in `dept`.
    pub fn dept_size(&self, dept: DeptId) -> usize {
        self.dept_staff
            .get(dept as usize)
            .map_or(0, |&n| n as usize)
    }

    /// Records that `source` (a PractitionerRole or roster row) places staff `s` in `dept`,
    /// or nowhere, replacing what the same resource said before, for `s` or for whomever it
    /// named then: a role moved to another department moves the person.
    fn place(&mut self, s: StaffId, source: &str, dept: Option<DeptId>) {
        let before = match dept {
            Some(_) => self.placed.insert(source.to_string(), s),
            None => self.placed.remove(source),
        };
        if let Some(old) = before.filter(|&old| old != s) {
            self.edit_placements(old, |rec| rec.placed_by.retain(|(k, _)| k != source));
        }
        self.edit_placements(s, |rec| {
            let slot = rec.placed_by.iter().position(|(k, _)| k == source);
            match (slot, dept) {
                (Some(i), Some(d)) => rec.placed_by[i].1 = d,
                (Some(i), None) => {
                    rec.placed_by.remove(i);
                }
                (None, Some(d)) => rec.placed_by.push((source.to_string(), d)),
                (None, None) => {}
            }
        });
    }

    /// Applies `edit` to the placements of staff `s`, derives its departments from them and
    /// keeps the per-department counts.
    fn edit_placements(&mut self, s: StaffId, edit: impl FnOnce(&mut StaffRecord)) {
        let Some(rec) = self.staff.get_mut(s as usize) else {
            return;
        };
        let before = std::mem::take(&mut rec.departments);
        edit(rec);
        for &(_, d) in &rec.placed_by {
            push_unique(&mut rec.departments, d);
        }
        for &d in &before {
            if !rec.departments.contains(&d) {
                uncount(&mut self.dept_staff, d);
            }
        }
        for &d in &rec.departments {
            if !before.contains(&d) {
                let i = d as usize;
                if self.dept_staff.len() <= i {
                    self.dept_staff.resize(i + 1, 0);
                }
                self.dept_staff[i] += 1;
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn add_care<'a>(
        &mut self,
        reference: String,
        patient: Option<&str>,
        participants: &[Participant],
        departments: impl Iterator<Item = &'a str>,
        start: Option<i64>,
        end: Option<i64>,
        serves: bool,
    ) {
        let patient = patient.and_then(|p| self.patient(p));
        let departments: Vec<DeptId> = departments.map(|d| self.dept_for(d)).collect();
        if serves {
            for &d in &departments {
                if let Some(rec) = self.depts.get_mut(d as usize) {
                    rec.serves_encounters = true;
                }
            }
        }
        let record = CareRecord {
            reference: reference.clone(),
            patient,
            departments,
            start,
            end,
            members: participants
                .iter()
                .map(|p| {
                    (
                        p.reference.clone(),
                        p.start.map(|t| t.millis()),
                        p.end.map(|t| t.millis()),
                    )
                })
                .collect(),
        };
        let c = match self.care_of.get(&reference).copied() {
            Some(c) => {
                let old_patient = self.care.get(c as usize).and_then(|r| r.patient);
                if old_patient != patient
                    && let Some(old) = old_patient.and_then(|p| self.patients.get_mut(p as usize))
                {
                    old.care.retain(|&x| x != c);
                }
                if let Some(slot) = self.care.get_mut(c as usize) {
                    *slot = record;
                }
                if old_patient == patient {
                    return;
                }
                c
            }
            None => {
                self.care.push(record);
                let c = (self.care.len() - 1) as u32;
                self.care_of.insert(reference, c);
                c
            }
        };
        if let Some(rec) = patient.and_then(|p| self.patients.get_mut(p as usize)) {
            if rec.care.len() >= MAX_CARE_PER_PATIENT {
                rec.care.remove(0);
            }
            rec.care.push(c);
        }
    }
}

impl Relations {
    /// Files an order or appointment under its patient, replacing an earlier version of the
    /// same resource (an order revoked, an appointment cancelled).
    fn add_order(&mut self, record: OrderRecord) {
        let patient = record.patient;
        let o = match self.order_of.get(&record.reference).copied() {
            Some(o) => {
                let old_patient = self.orders.get(o as usize).and_then(|r| r.patient);
                if old_patient != patient
                    && let Some(old) = old_patient.and_then(|p| self.patients.get_mut(p as usize))
                {
                    old.orders.retain(|&x| x != o);
                }
                if let Some(slot) = self.orders.get_mut(o as usize) {
                    *slot = record;
                }
                if old_patient == patient {
                    return;
                }
                o
            }
            None => {
                let reference = record.reference.clone();
                self.orders.push(record);
                let o = (self.orders.len() - 1) as u32;
                self.order_of.insert(reference, o);
                o
            }
        };
        if let Some(rec) = patient.and_then(|p| self.patients.get_mut(p as usize)) {
            if rec.orders.len() >= MAX_ORDERS_PER_PATIENT {
                rec.orders.remove(0);
            }
            rec.orders.push(o);
        }
    }
}

/// Department codes of an Organization: its identifiers' values, read from the resource as
/// imported (the summary keeps no identifiers).
fn organization_codes(raw: &[u8]) -> Vec<String> {
    // HL7 ADT and other non-JSON sources simply have none; Organizations are few, so a
    // generic parse costs nothing that matters.
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(raw) else {
        return Vec::new();
    };
    value
        .get("identifier")
        .and_then(serde_json::Value::as_array)
        .map(|ids| {
            ids.iter()
                .filter_map(|i| i.get("value")?.as_str())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn uncount(counts: &mut [u32], dept: DeptId) {
    if let Some(n) = counts.get_mut(dept as usize) {
        *n = n.saturating_sub(1);
    }
}

fn push_unique<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

pub fn lower(text: &str) -> String {
    text.trim().to_lowercase()
}

fn identity_key(name: &PersonName, birth_date: Option<&str>) -> Option<(String, String, String)> {
    let family = lower(name.family.as_deref()?);
    let given = lower(name.given.first()?);
    let birth = birth_date?
        .trim()
        .get(..10)
        .unwrap_or(birth_date?.trim())
        .to_string();
    (!family.is_empty() && !given.is_empty()).then_some((family, given, birth))
}

/// Whether two people are the same: name, birth date and home address compared, with the
/// confidence of the match (0 when they are not the same person as far as can be told).
pub fn identity_confidence(
    a_name: &PersonName,
    a_birth: Option<&str>,
    a_address: Option<&Address>,
    b_name: &PersonName,
    b_birth: Option<&str>,
    b_address: Option<&Address>,
) -> f32 {
    let (Some(a), Some(b)) = (identity_key(a_name, a_birth), identity_key(b_name, b_birth)) else {
        return 0.0;
    };
    if a != b {
        return 0.0;
    }
    match (a_address, b_address) {
        (Some(x), Some(y)) if same_household(x, y) => 0.99,
        (Some(x), Some(y)) if !same_postal_area(x, y) => 0.8,
        _ => 0.9,
    }
}

/// The first address line without its house number, and the number, lower-cased.
fn street_and_number(address: &Address) -> Option<(String, String)> {
    let line = lower(address.line.first()?);
    let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
    let (first, rest) = line.split_once(' ')?;
    if first.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        Some((rest.to_string(), first.to_string()))
    } else {
        Some((line.clone(), String::new()))
    }
}

fn postal_area(address: &Address) -> Option<String> {
    address
        .postal_code
        .as_deref()
        .map(|p| {
            lower(p)
                .chars()
                .filter(|c| c.is_alphanumeric())
                .take(5)
                .collect()
        })
        .or_else(|| address.city.as_deref().map(lower))
        .filter(|p: &String| !p.is_empty())
}

fn same_postal_area(a: &Address, b: &Address) -> bool {
    matches!((postal_area(a), postal_area(b)), (Some(x), Some(y)) if x == y)
}

/// The same home: same street, house number and postal area.
pub fn same_household(a: &Address, b: &Address) -> bool {
    same_postal_area(a, b)
        && matches!((street_and_number(a), street_and_number(b)), (Some(x), Some(y)) if x == y)
}

/// Neighbours: the same street in the same postal area, another house.
pub fn same_street_other_house(a: &Address, b: &Address) -> bool {
    if !same_postal_area(a, b) {
        return false;
    }
    match (street_and_number(a), street_and_number(b)) {
        (Some((sa, na)), Some((sb, nb))) => sa == sb && na != nb,
        _ => false,
    }
}

/// Whether a contact's name is this person's (given and family name).
pub fn same_name(a: &PersonName, b: &PersonName) -> bool {
    match (&a.family, &b.family, a.given.first(), b.given.first()) {
        (Some(fa), Some(fb), Some(ga), Some(gb)) => {
            lower(fa) == lower(fb) && lower(ga) == lower(gb)
        }
        _ => false,
    }
}

pub fn same_family_name(a: &PersonName, b: &PersonName) -> bool {
    matches!((&a.family, &b.family), (Some(x), Some(y)) if lower(x) == lower(y))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_model::ContextKind;

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

    fn org(id: &str, code: &str) -> ContextResource {
        resource(
            ContextKind::Organization,
            id,
            ContextSummary::Organization {
                name: Some(code.into()),
                part_of: None,
                types: Vec::new(),
                active: true,
            },
            &format!(r#"{{"resourceType":"Organization","identifier":[{{"value":"{code}"}}]}}"#),
        )
    }

    fn role(id: &str, practitioner: &str, org: &str) -> ContextResource {
        resource(
            ContextKind::PractitionerRole,
            id,
            ContextSummary::PractitionerRole {
                practitioner: Some(format!("Practitioner/{practitioner}")),
                organization: Some(format!("Organization/{org}")),
                codes: vec!["nurse".into()],
                specialties: Vec::new(),
                active: true,
                start: None,
                end: None,
            },
            "{}",
        )
    }

    fn roster(login: &str, department: &str) -> ContextResource {
        resource(
            ContextKind::PractitionerRole,
            &format!("roster-{login}"),
            ContextSummary::Employment {
                login: login.into(),
                name: PersonName::default(),
                department: Some(department.into()),
                role: Some("nurse".into()),
                hired: None,
                terminated: None,
                status: EmploymentStatus::Active,
                leave_start: None,
                leave_end: None,
            },
            "",
        )
    }

    fn sizes(rel: &Relations) -> (usize, usize) {
        let med = rel.dept_by_code("MED").unwrap();
        let card = rel.dept_by_code("CARD").unwrap();
        (rel.dept_size(med), rel.dept_size(card))
    }

    #[test]
    fn moving_staff_between_departments_changes_both_counts() {
        let mut rel = Relations::default();
        for r in [
            org("dept-med", "MED"),
            org("dept-card", "CARD"),
            role("role-u1", "u1", "dept-med"),
            role("role-u2", "u2", "dept-med"),
            roster("u3", "MED"),
        ] {
            rel.add(&r);
        }
        assert_eq!(sizes(&rel), (3, 0));
        let staff = rel.staff.len();

        // A new version of u1's role names Cardiology: u1 moved, no one was added.
        rel.add(&role("role-u1", "u1", "dept-card"));
        assert_eq!(rel.staff.len(), staff);
        assert_eq!(sizes(&rel), (2, 1));
        let u1 = &rel.staff[rel.practitioner_of["Practitioner/u1"] as usize];
        assert_eq!(u1.departments, vec![rel.dept_by_code("CARD").unwrap()]);

        // The roster moves u3 the same way; a second role in the same department counts once.
        rel.add(&roster("u3", "CARD"));
        rel.add(&role("role-u1-b", "u1", "dept-card"));
        assert_eq!(sizes(&rel), (1, 2));

        // A roster row naming a department not known yet takes u3 out of Cardiology until it
        // arrives.
        rel.add(&roster("u3", "ICU"));
        assert_eq!(sizes(&rel), (1, 1));
        rel.add(&org("dept-icu", "ICU"));
        assert_eq!(rel.dept_size(rel.dept_by_code("ICU").unwrap()), 1);
        assert_eq!(sizes(&rel), (1, 1));
    }

    #[test]
    fn merged_staff_records_are_counted_once() {
        let mut rel = Relations::default();
        rel.add(&org("dept-med", "MED"));
        // The roster row arrives first, then the practitioner it belongs to, with its role.
        rel.add(&roster("u1", "MED"));
        rel.add(&role("role-u1", "p1", "dept-med"));
        assert_eq!(sizes_of(&rel, "MED"), 2);
        rel.add(&resource(
            ContextKind::Practitioner,
            "p1",
            ContextSummary::Practitioner {
                identifiers: vec![Identifier {
                    system: None,
                    type_code: None,
                    value: "u1".into(),
                }],
                name: PersonName::default(),
                birth_date: None,
                address: None,
                active: true,
            },
            "{}",
        ));
        assert_eq!(sizes_of(&rel, "MED"), 1);
    }

    fn sizes_of(rel: &Relations, code: &str) -> usize {
        rel.dept_size(rel.dept_by_code(code).unwrap())
    }
}
