//! Normal behaviour: each staff member's working session, from login to logout, and the chart
//! work in between, shaped by role, department and time of day. This is the noise privacy
//! detectors must earn their precision against: care teams reading and documenting on their
//! patients, unit staff reading the unit's patients, ancillary departments reading patients
//! hospital-wide, registration searching for the day's arrivals, HIM and billing working on
//! recent discharges, a mistyped password now and then, shared workstations.
//!
//! Not all normal work is explained by the context a hospital exports, so neither is all of
//! it here: specialists consult on patients of the departments they serve without being put
//! on the care team (always the same pairs of departments, [`CONSULTS`], so a detector can
//! learn them; most consults are formal, ordered by the attending with a ServiceRequest
//! addressed to the consulting department, which [`crate::context::EncounterSink`] writes
//! when the consult's first access is planned; the rest are informal "curbside" consults
//! that no data shows), nurses cover a sister ward for a shift ([`SISTER_WARDS`]), clinicians look
//! again at a former patient after the encounter ended, and now and then someone opens one
//! record of another department for an innocent reason no data shows (a colleague's
//! question, the wrong name in a search list).
//!
//! A session is generated lazily, one event at a time, so it holds only the current burst of
//! chart work. Normal behaviour never touches a user's own record or their family's, and
//! never a record outside a current encounter (within the margins of [`crate::clinical`])
//! except a former patient of the user's within the days the census still holds.

use crate::audit::{Access, Data, Purpose, What};
use crate::clinical::{BACK_OFFICE_WINDOW, Census, Class, Encounter, Function};
use crate::org::{DeptKind, Duty, Employment, HOUR, Org, Role, Shift};
use crate::rng::Rng;

/// What a session needs to see of the world when it plans its next burst.
pub struct World<'a> {
    pub org: &'a Org,
    pub census: &'a Census,
    /// Multiplies every activity rate (1.0 = realistic); set from `SimConfig::rate`.
    pub intensity: f64,
}

/// Audit events an hour a working staff member of this role and department produces.
fn events_per_hour(role: Role, dept_code: &str) -> f64 {
    match role {
        Role::Physician => 30.0,
        Role::Nurse => 36.0,
        Role::Clerk if dept_code == "REG" => 30.0,
        Role::Clerk if dept_code == "BILL" => 24.0,
        Role::Clerk => 20.0,
        Role::Lab => 40.0,
        Role::Radiology => 30.0,
        Role::Pharmacist => 36.0,
        Role::Him => 24.0,
        Role::It => 0.0,
    }
}

/// Departments whose physicians consult on patients of other departments without being
/// named on the care team: (consulting department, departments consulted for).
pub const CONSULTS: &[(&str, &[&str])] = &[
    ("CARD", &["MED", "ICU", "ED"]),
    ("ONC", &["MED", "SURG"]),
    ("ICU", &["MED", "SURG", "ED"]),
    ("SURG", &["ED", "MED"]),
    ("PEDS", &["OBS"]),
];

/// Wards whose nurses cover each other's shifts: (ward, sister ward).
pub const SISTER_WARDS: &[(&str, &str)] = &[
    ("MED", "SURG"),
    ("SURG", "MED"),
    ("CARD", "ICU"),
    ("ICU", "CARD"),
    ("OBS", "PEDS"),
    ("PEDS", "OBS"),
    ("ONC", "MED"),
];

/// Share of a consulting physician's chart work spent on consults.
const CONSULT_SHARE: f64 = 0.15;
/// Share of a ward nurse's shifts spent covering the sister ward.
const COVER_SHARE: u64 = 10;
/// Share of a clinician's chart work that is a look at a former patient.
const REVISIT_SHARE: f64 = 0.01;
/// Share of a clinician's chart work that opens one record of another department for a
/// reason nothing in the data shows.
const ODD_SHARE: f64 = 0.0005;

/// Whether staff of department `from` work on patients of department `to` in the normal
/// course of things (consults, covering), beyond what the care teams say.
pub fn works_with(from: &str, to: &str) -> bool {
    from == to
        || CONSULTS
            .iter()
            .any(|&(c, targets)| c == from && targets.contains(&to))
        || SISTER_WARDS.iter().any(|&(w, s)| w == from && s == to)
}

/// The sister ward a nurse covers on `day`, if she does: a pure function of seed, staff and
/// day.
pub fn covering(org: &Org, staff: u32, day: u32) -> Option<u16> {
    let st = &org.staff[staff as usize];
    if st.role != Role::Nurse {
        return None;
    }
    let code = org.depts[st.dept as usize].code;
    let &(_, sister) = SISTER_WARDS.iter().find(|&&(w, _)| w == code)?;
    let h = crate::rng::mix_all(org.seed, &[0xC0E5, staff as u64, day as u64]);
    if h % 100 >= COVER_SHARE {
        return None;
    }
    org.depts
        .iter()
        .position(|d| d.code == sister)
        .map(|d| d as u16)
}

/// Events in an average burst and the average time between its events, for the rate estimate.
const BURST_EVENTS: f64 = 4.0;
const BURST_SPAN_S: f64 = 50.0;

/// Fewer accesses at night: fewer staff, sleeping patients.
fn time_of_day_factor(t: i64) -> f64 {
    match (t.rem_euclid(24 * HOUR)) / HOUR {
        0..=5 => 0.45,
        6 | 23 => 0.7,
        _ => 1.0,
    }
}

/// The expected audit events a second of the organisation at intensity 1.0, ignoring the
/// night-time dip: what `SimConfig::rate` is measured against.
pub fn natural_rate(org: &Org) -> f64 {
    let per_day: f64 = org
        .staff
        .iter()
        .filter(|s| s.employment == Employment::Active)
        .map(|s| {
            let works = if s.shift == Shift::Office {
                0.93 * 5.0 / 7.0
            } else {
                0.62
            };
            let hours = s.shift.minutes() as f64 / 60.0;
            works * hours * events_per_hour(s.role, org.depts[s.dept as usize].code)
        })
        .sum();
    per_day / 86_400.0
}

/// One staff member's session on one day.
pub struct Session {
    staff: u32,
    /// The sister ward the user covers today, if any.
    covering: Option<u16>,
    /// Draws for the work no context explains.
    extra: Rng,
    ws: u32,
    end: i64,
    rng: Rng,
    /// The rest of the current burst, last first.
    pending: Vec<Access>,
    burst: Vec<Access>,
    /// The consult the burst just planned is for, until the queue takes it.
    consult: Option<Consult>,
}

/// A consult planned by a session: what writing its order needs to know.
#[derive(Debug, Clone, Copy)]
pub struct Consult {
    /// The consulting physician.
    pub staff: u32,
    /// The encounter consulted on, as the census holds it.
    pub encounter: u32,
    pub patient: u32,
    pub start: i64,
    pub end: i64,
    /// The attending of the encounter, who orders the consult.
    pub attending: Option<u32>,
    /// When the consult's first access is.
    pub at: i64,
}

impl Session {
    /// The session and the time of its first event.
    pub fn start(org: &Org, staff: u32, day: u32, duty: Duty) -> (Session, i64) {
        let mut rng = Rng::stream(org.seed, &[0x5E55, staff as u64, day as u64]);
        let mut opening = Vec::with_capacity(3);
        let mut t = duty.start;
        // Clinicians mistype passwords now and then, and succeed a few seconds later.
        if rng.chance(0.04) {
            let failures = if rng.chance(0.2) { 2 } else { 1 };
            for _ in 0..failures {
                opening.push(access(
                    t,
                    What::LoginFailed,
                    staff,
                    duty.ws,
                    None,
                    Purpose::Treatment,
                    0,
                ));
                t += rng.range(4_000, 15_000);
            }
        }
        opening.push(access(
            t,
            What::Login,
            staff,
            duty.ws,
            None,
            Purpose::Treatment,
            0,
        ));
        opening.reverse();
        let session = Session {
            staff,
            covering: covering(org, staff, day),
            extra: Rng::stream(org.seed, &[0x0FF5, staff as u64, day as u64]),
            ws: duty.ws,
            end: duty.end,
            rng,
            pending: opening,
            burst: Vec::with_capacity(8),
            consult: None,
        };
        (session, duty.start)
    }

    /// The consult the last planned burst is for, if it was one (taken once).
    pub fn take_consult(&mut self) -> Option<Consult> {
        self.consult.take()
    }

    /// The next event and the time of the one after it (`None` once logged out).
    pub fn next(&mut self, world: &World) -> Option<(Access, Option<i64>)> {
        let a = self.pending.pop()?;
        if a.what == What::Logout {
            return Some((a, None));
        }
        if self.pending.is_empty() {
            self.plan_next(world, a.time);
        }
        Some((a, self.pending.last().map(|n| n.time)))
    }

    fn plan_next(&mut self, world: &World, after: i64) {
        let org = world.org;
        let st = &org.staff[self.staff as usize];
        let rate = events_per_hour(st.role, org.depts[st.dept as usize].code) * world.intensity;
        let mut t = after;
        loop {
            if rate > 0.0 {
                let mean_gap_s = (3600.0 * BURST_EVENTS / rate
                    - BURST_SPAN_S / world.intensity.max(1.0))
                .max(1.0);
                t += (self.rng.exp(mean_gap_s / time_of_day_factor(t)) * 1000.0) as i64 + 1;
            } else {
                t = self.end;
            }
            if t >= self.end {
                let logout = self.end.max(after + 1_000);
                self.pending.push(access(
                    logout,
                    What::Logout,
                    self.staff,
                    self.ws,
                    None,
                    Purpose::Treatment,
                    0,
                ));
                return;
            }
            self.plan_burst(world, t);
            if !self.pending.is_empty() {
                return;
            }
        }
    }

    /// Chart work on one patient starting at `t`, into `pending` (last first); nothing when
    /// no suitable patient is found.
    fn plan_burst(&mut self, world: &World, t: i64) {
        let org = world.org;
        let census = world.census;
        let staff = self.staff;
        let st = &org.staff[staff as usize];
        let dept = &org.depts[st.dept as usize];
        let rng = &mut self.rng;
        let extra = &mut self.extra;
        use Data as D;
        use What as W;
        let (encounter, purpose): (Option<&Encounter>, Purpose) = match (dept.kind, st.role) {
            (_, Role::It) => (None, Purpose::Operations),
            (DeptKind::Ancillary, Role::Pharmacist) => (
                pick(org, census, rng, staff, &census_all(census), |e| {
                    e.class == Class::Inpatient && e.open_at(t)
                }),
                Purpose::Treatment,
            ),
            (DeptKind::Ancillary, Role::Radiology) => (
                pick(org, census, rng, staff, &census_all(census), |e| {
                    e.open_at(t)
                        && (e.class != Class::Ambulatory
                            || org.depts[e.dept as usize].code == "ORTHO")
                }),
                Purpose::Treatment,
            ),
            (DeptKind::Ancillary, _) => (
                pick(org, census, rng, staff, &census_all(census), |e| {
                    e.open_at(t)
                }),
                Purpose::Treatment,
            ),
            (DeptKind::Office, Role::Him) => (
                pick(org, census, rng, staff, &census_all(census), |e| {
                    e.end < t && t - e.end <= BACK_OFFICE_WINDOW
                }),
                Purpose::Operations,
            ),
            (DeptKind::Office, Role::Clerk) if dept.code == "BILL" => (
                pick(org, census, rng, staff, &census_all(census), |e| {
                    e.end < t && t - e.end <= BACK_OFFICE_WINDOW
                }),
                Purpose::Payment,
            ),
            (DeptKind::Office, _) => (
                // Registration works on arrivals: admissions and visits starting soon.
                pick(org, census, rng, staff, &census_all(census), |e| {
                    e.start - 12 * HOUR <= t && t <= e.start + HOUR
                }),
                Purpose::Operations,
            ),
            (_, role) => {
                // Own patients (care team, consults) first, else anyone on the unit (the
                // sister ward's when covering it); now and then work no context explains.
                let own = &census.by_staff[staff as usize];
                let clinician = role != Role::Clerk;
                let unit = self.covering.unwrap_or(st.dept) as usize;
                // Drawn from their own stream, so that the rest of the session (and with it
                // every earlier measurement) stays as it was.
                let r = extra.unit();
                let off_context = if clinician && r < ODD_SHARE {
                    odd_one_off(org, census, extra, staff, t)
                } else if clinician && r < ODD_SHARE + REVISIT_SHARE {
                    pick(org, census, extra, staff, own, |e| {
                        e.end + crate::clinical::MARGIN_AFTER < t
                    })
                } else if role == Role::Physician && r < ODD_SHARE + REVISIT_SHARE + CONSULT_SHARE {
                    consult(org, census, extra, staff, t).inspect(|e| {
                        self.consult = Some(Consult {
                            staff,
                            encounter: e.id,
                            patient: e.patient,
                            start: e.start,
                            end: e.end,
                            attending: e
                                .team
                                .iter()
                                .find(|&&(_, f)| f == Function::Attending)
                                .map(|&(m, _)| m),
                            at: t,
                        })
                    })
                } else {
                    None
                };
                let mine = if !own.is_empty() && clinician && rng.chance(0.7) {
                    pick(org, census, rng, staff, own, |e| e.open_at(t))
                        .filter(|_| self.covering.is_none())
                } else {
                    None
                };
                let purpose = if role == Role::Clerk {
                    Purpose::Operations
                } else {
                    Purpose::Treatment
                };
                let usual = mine.or_else(|| {
                    pick(org, census, rng, staff, &census.by_dept[unit], |e| {
                        e.open_at(t)
                    })
                });
                (off_context.or(usual), purpose)
            }
        };
        let Some(encounter) = encounter else { return };
        let patient = encounter.patient;
        let mut purpose = purpose;
        let mut whats: Vec<What> = Vec::with_capacity(6);
        {
            let mut add = |w: What| whats.push(w);
            match (dept.kind, st.role) {
                (DeptKind::Emergency, Role::Physician)
                    if encounter.class == Class::Emergency
                        && t - encounter.start < HOUR
                        && rng.chance(0.05) =>
                {
                    // A legitimate break-the-glass: an emergency patient whose record is
                    // restricted, followed by documentation.
                    purpose = Purpose::EmergencyTreatment;
                    add(W::BreakGlass);
                    add(W::Read(D::Patient));
                    add(W::Read(D::Observation));
                    add(W::Create(D::DocumentReference));
                }
                (_, Role::Physician) => {
                    add(W::Read(D::Patient));
                    add(W::Search(D::Observation));
                    add(W::Read(if rng.chance(0.5) {
                        D::DiagnosticReport
                    } else {
                        D::DocumentReference
                    }));
                    let r = rng.below(100);
                    if r < 35 {
                        add(W::Create(D::DocumentReference));
                    } else if r < 60 {
                        add(W::Create(D::ServiceRequest));
                    } else if r < 75 {
                        add(W::Update(D::Condition));
                    }
                }
                (_, Role::Nurse) => {
                    add(W::Read(D::Patient));
                    add(W::Search(D::Observation));
                    if rng.chance(0.5) {
                        add(W::Create(D::Observation));
                    }
                    if rng.chance(0.35) {
                        add(W::Create(D::MedicationAdministration));
                    }
                    if rng.chance(0.1) {
                        add(W::Read(D::AllergyIntolerance));
                    }
                }
                (_, Role::Lab) => {
                    add(W::Read(D::Patient));
                    add(W::Read(D::ServiceRequest));
                    if rng.chance(0.6) {
                        add(W::Create(D::Observation));
                    } else if rng.chance(0.5) {
                        add(W::Update(D::DiagnosticReport));
                    }
                }
                (_, Role::Radiology) => {
                    add(W::Read(D::Patient));
                    add(W::Read(D::ServiceRequest));
                    add(W::Read(D::ImagingStudy));
                    if rng.chance(0.4) {
                        add(W::Create(D::DiagnosticReport));
                    }
                }
                (_, Role::Pharmacist) => {
                    add(W::Read(D::Patient));
                    add(W::Search(D::MedicationRequest));
                    add(W::Read(D::AllergyIntolerance));
                    if rng.chance(0.4) {
                        add(W::Update(D::MedicationRequest));
                    }
                }
                (_, Role::Him) => {
                    add(W::Read(D::Patient));
                    add(W::Read(D::DocumentReference));
                    if rng.chance(0.5) {
                        add(W::Read(D::DocumentReference));
                    }
                    if rng.chance(0.25) {
                        add(W::Update(D::DocumentReference));
                    }
                    // Release of information: a requested copy of the record, disclosed.
                    if rng.chance(0.03) {
                        add(W::Export);
                    }
                }
                (DeptKind::Office, Role::Clerk) if dept.code == "BILL" => {
                    add(W::Read(D::Patient));
                    add(W::Read(D::Encounter));
                    add(W::Read(D::Coverage));
                    if rng.chance(0.3) {
                        add(W::Create(D::Claim));
                    }
                }
                (DeptKind::Office, Role::Clerk) => {
                    add(W::FindPatient);
                    add(W::Read(D::Patient));
                    if rng.chance(0.5) {
                        add(W::Update(D::Patient));
                    }
                    add(W::Read(D::Coverage));
                }
                (_, Role::Clerk) => {
                    add(W::Read(D::Patient));
                    add(W::Read(D::Encounter));
                    if rng.chance(0.3) {
                        add(W::Update(D::Encounter));
                    }
                }
                (_, Role::It) => {}
            }
        }
        let b = &mut self.burst;
        b.clear();
        let spacing = world.intensity.max(1.0);
        let mut at = t;
        for (i, what) in whats.into_iter().enumerate() {
            if i > 0 {
                at += (rng.range(3_000, 30_000) as f64 / spacing) as i64 + 1;
            }
            if at >= self.end {
                break;
            }
            let data = rng.next_u64() as u32;
            b.push(access(
                at,
                what,
                staff,
                self.ws,
                Some(patient),
                purpose,
                data,
            ));
        }
        self.pending.extend(b.drain(..).rev());
    }
}

/// A consult on a patient of a department the user's department consults for, without being
/// on the patient's care team.
fn consult<'c>(
    org: &Org,
    census: &'c Census,
    rng: &mut Rng,
    staff: u32,
    t: i64,
) -> Option<&'c Encounter> {
    let code = org.depts[org.staff[staff as usize].dept as usize].code;
    let &(_, targets) = CONSULTS.iter().find(|&&(c, _)| c == code)?;
    let target = *rng.pick(targets);
    let d = org.depts.iter().position(|d| d.code == target)?;
    pick(org, census, rng, staff, &census.by_dept[d], |e| {
        e.open_at(t) && e.class != Class::Ambulatory && !e.team.iter().any(|&(m, _)| m == staff)
    })
}

/// One record of another department, current, that nothing in the data explains.
fn odd_one_off<'c>(
    org: &Org,
    census: &'c Census,
    rng: &mut Rng,
    staff: u32,
    t: i64,
) -> Option<&'c Encounter> {
    let dept = org.staff[staff as usize].dept;
    pick(org, census, rng, staff, &census_all(census), |e| {
        e.open_at(t) && e.dept != dept && !e.team.iter().any(|&(m, _)| m == staff)
    })
}

/// Every held encounter, as indices (ancillary and back-office staff serve the whole house).
fn census_all(census: &Census) -> AllEncounters {
    AllEncounters(census.encounters.len() as u32)
}

/// The index list `0..n` without materialising it.
struct AllEncounters(u32);

/// Index lists a session picks encounters from.
trait Candidates {
    fn len(&self) -> usize;
    fn get(&self, i: usize) -> u32;
}

impl Candidates for AllEncounters {
    fn len(&self) -> usize {
        self.0 as usize
    }
    fn get(&self, i: usize) -> u32 {
        i as u32
    }
}

impl Candidates for Vec<u32> {
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn get(&self, i: usize) -> u32 {
        self[i]
    }
}

/// A random encounter among `candidates` that `fits`, whose patient is not the user or
/// the user's family; a few tries, then none (the user does something else).
fn pick<'c>(
    org: &Org,
    census: &'c Census,
    rng: &mut Rng,
    staff: u32,
    candidates: &impl Candidates,
    fits: impl Fn(&Encounter) -> bool,
) -> Option<&'c Encounter> {
    if candidates.len() == 0 {
        return None;
    }
    for _ in 0..16 {
        let e = &census.encounters
            [candidates.get(rng.below(candidates.len() as u64) as usize) as usize];
        if fits(e) && !org.personally_linked(staff, e.patient) {
            return Some(e);
        }
    }
    None
}

pub fn access(
    time: i64,
    what: What,
    user: u32,
    ws: u32,
    patient: Option<u32>,
    purpose: Purpose,
    data: u32,
) -> Access {
    Access {
        time,
        what,
        user,
        ws,
        patient,
        purpose,
        data,
    }
}
