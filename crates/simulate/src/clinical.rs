//! The clinical census: who is admitted, seen in a clinic or treated in the emergency
//! department, when, by whom. Generated one day at a time and written to `encounters.ndjson`
//! and `care-teams.ndjson` as it is created, so the care relationships in the context are
//! exactly the ones normal behaviour reads patients under.
//!
//! Only encounters that are current or ended in the last few days are held (HIM and billing
//! still work on those), so memory follows the hospital's size, never the number of days
//! simulated. Nobody is ever put on the care team of themselves or of their own household.

use crate::context::EncounterSink;
use crate::org::{DAY, DeptKind, Employment, HOUR, MINUTE, Org, Role};
use crate::rng::Rng;
use std::io;

/// How long before an encounter and after it normal behaviour may read the patient: charts are
/// prepared before a visit and completed after discharge. Detectors should allow at least this.
pub const MARGIN_BEFORE: i64 = 12 * HOUR;
pub const MARGIN_AFTER: i64 = 24 * HOUR;
/// HIM and billing work on encounters up to this long after they ended.
pub const BACK_OFFICE_WINDOW: i64 = 3 * DAY;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Inpatient,
    Ambulatory,
    Emergency,
}

impl Class {
    /// v3-ActCode.
    pub fn code(self) -> (&'static str, &'static str) {
        match self {
            Class::Inpatient => ("IMP", "inpatient encounter"),
            Class::Ambulatory => ("AMB", "ambulatory"),
            Class::Emergency => ("EMER", "emergency"),
        }
    }
}

/// A participant's function (v3-ParticipationType).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Attending,
    Consultant,
    Participant,
}

impl Function {
    pub fn code(self) -> (&'static str, &'static str) {
        match self {
            Function::Attending => ("ATND", "attender"),
            Function::Consultant => ("CON", "consultant"),
            Function::Participant => ("PART", "Participation"),
        }
    }
}

pub struct Encounter {
    pub id: u32,
    pub patient: u32,
    pub dept: u16,
    pub class: Class,
    pub start: i64,
    pub end: i64,
    pub team: Vec<(u32, Function)>,
}

impl Encounter {
    /// Whether normal clinical work may read the patient at `t`.
    pub fn open_at(&self, t: i64) -> bool {
        self.start - MARGIN_BEFORE <= t && t <= self.end + MARGIN_AFTER
    }
}

pub struct Census {
    pub encounters: Vec<Encounter>,
    /// Encounter indices per department.
    pub by_dept: Vec<Vec<u32>>,
    /// Encounter indices per staff member on the team.
    pub by_staff: Vec<Vec<u32>>,
    /// One bit per patient with a held encounter.
    busy: Vec<u64>,
    next_id: u32,
    /// Most encounters held at once, for the memory test.
    pub peak_held: usize,
}

impl Census {
    pub fn new(org: &Org) -> Self {
        Census {
            encounters: Vec::new(),
            by_dept: vec![Vec::new(); org.depts.len()],
            by_staff: vec![Vec::new(); org.staff.len()],
            busy: vec![0; org.patients.len().div_ceil(64)],
            next_id: 1,
            peak_held: 0,
        }
    }

    /// Whether the patient has an encounter current or recently ended (or admitted today).
    pub fn busy(&self, patient: u32) -> bool {
        self.busy[patient as usize / 64] >> (patient % 64) & 1 == 1
    }

    /// Drops what day `day` no longer needs, creates the day's encounters and writes them.
    pub fn advance(&mut self, org: &Org, day: u32, sink: &mut EncounterSink) -> io::Result<()> {
        let day_start = org.start + day as i64 * DAY;
        self.encounters
            .retain(|e| e.end + BACK_OFFICE_WINDOW.max(MARGIN_AFTER) >= day_start);
        let mut rng = Rng::stream(org.seed, &[0xCE05, day as u64]);
        self.rebuild_busy();
        if day == 0 {
            // The hospital is not empty when the simulation starts: patients admitted in the
            // week before are still on the wards.
            for back in 1..=7 {
                self.admit_inpatients(
                    org,
                    &mut rng,
                    day_start - back * DAY,
                    Some(day_start),
                    sink,
                )?;
            }
        }
        self.admit_inpatients(org, &mut rng, day_start, None, sink)?;
        self.emergency_visits(org, &mut rng, day, sink)?;
        self.clinic_visits(org, &mut rng, day, sink)?;
        self.rebuild_indices(org);
        self.peak_held = self.peak_held.max(self.encounters.len());
        Ok(())
    }

    fn rebuild_busy(&mut self) {
        self.busy.iter_mut().for_each(|w| *w = 0);
        for e in &self.encounters {
            self.busy[e.patient as usize / 64] |= 1 << (e.patient % 64);
        }
    }

    fn mark_busy(&mut self, patient: u32) {
        self.busy[patient as usize / 64] |= 1 << (patient % 64);
    }

    fn rebuild_indices(&mut self, org: &Org) {
        self.by_dept.iter_mut().for_each(Vec::clear);
        self.by_staff.iter_mut().for_each(Vec::clear);
        for (i, e) in self.encounters.iter().enumerate() {
            self.by_dept[e.dept as usize].push(i as u32);
            for &(s, _) in &e.team {
                self.by_staff[s as usize].push(i as u32);
            }
        }
        debug_assert_eq!(self.by_dept.len(), org.depts.len());
    }

    /// A living patient without a held encounter who suits the department.
    fn free_patient(&self, org: &Org, rng: &mut Rng, dept_code: &str, at: i64) -> Option<u32> {
        for _ in 0..64 {
            let p = rng.below(org.patients.len() as u64) as u32;
            let patient = &org.patients[p as usize];
            if patient.deceased.is_some() || self.busy(p) {
                continue;
            }
            let age_years = (at / DAY - patient.birth) / 365;
            let suits = match dept_code {
                "OBS" => patient.female && (18..45).contains(&age_years),
                "PEDS" => age_years < 18,
                _ => age_years >= 18,
            };
            if suits {
                return Some(p);
            }
        }
        None
    }

    /// `count` distinct members of the department with `role`, never the patient themselves
    /// or their family, and only people employed at the time.
    fn team_members(
        org: &Org,
        rng: &mut Rng,
        dept: usize,
        role: Role,
        count: usize,
        patient: u32,
    ) -> Vec<u32> {
        let pool: Vec<u32> = org.depts[dept]
            .staff
            .iter()
            .copied()
            .filter(|&s| {
                let st = &org.staff[s as usize];
                st.role == role
                    && st.employment == Employment::Active
                    && !org.personally_linked(s, patient)
            })
            .collect();
        let mut chosen = Vec::with_capacity(count);
        for _ in 0..count * 4 {
            if chosen.len() == count || pool.is_empty() {
                break;
            }
            let s = *rng.pick(&pool);
            if !chosen.contains(&s) {
                chosen.push(s);
            }
        }
        chosen
    }

    /// The member of the department with `role` at work at `t`, if any.
    fn on_duty(
        org: &Org,
        rng: &mut Rng,
        dept: usize,
        role: Role,
        t: i64,
        patient: u32,
    ) -> Option<u32> {
        let day = (t - org.start).div_euclid(DAY);
        let staff = &org.depts[dept].staff;
        let offset = rng.below(staff.len() as u64) as usize;
        (0..staff.len())
            .map(|i| staff[(offset + i) % staff.len()])
            .find(|&s| {
                org.staff[s as usize].role == role
                    && !org.personally_linked(s, patient)
                    && [day - 1, day].iter().any(|&d| {
                        d >= 0
                            && org
                                .duty(s, d as u32)
                                .is_some_and(|duty| duty.start <= t && t < duty.end)
                    })
            })
    }

    fn push(&mut self, org: &Org, sink: &mut EncounterSink, e: Encounter) -> io::Result<()> {
        sink.write(org, &e)?;
        self.mark_busy(e.patient);
        self.encounters.push(e);
        Ok(())
    }

    /// Admissions on the day starting at `day_start`; `still_in_at` keeps only stays that
    /// last until then (the census the simulation starts with).
    fn admit_inpatients(
        &mut self,
        org: &Org,
        rng: &mut Rng,
        day_start: i64,
        still_in_at: Option<i64>,
        sink: &mut EncounterSink,
    ) -> io::Result<()> {
        for d in 0..org.depts.len() {
            let dept = &org.depts[d];
            if dept.kind != DeptKind::Inpatient {
                continue;
            }
            // Mean length of stay about four days, so a full ward admits a quarter of its
            // beds a day.
            let admissions = (dept.beds as f64 / 4.0 * (0.7 + 0.6 * rng.unit())).round() as u32;
            for _ in 0..admissions {
                let start = day_start + rng.range(0, DAY);
                let stay = (HOUR as f64 * (18.0 + rng.exp(78.0))) as i64;
                let end = start + stay.min(30 * DAY);
                if still_in_at.is_some_and(|t| end < t) {
                    continue;
                }
                let Some(patient) = self.free_patient(org, rng, dept.code, start) else {
                    continue;
                };
                let mut team: Vec<(u32, Function)> = Vec::new();
                if let Some(&attending) =
                    Self::team_members(org, rng, d, Role::Physician, 1, patient).first()
                {
                    team.push((attending, Function::Attending));
                }
                for nurse in Self::team_members(org, rng, d, Role::Nurse, 4, patient) {
                    team.push((nurse, Function::Participant));
                }
                if rng.chance(0.25) {
                    // A consult from another ward's physician.
                    let other = rng.below(org.depts.len() as u64) as usize;
                    if other != d
                        && org.depts[other].kind == DeptKind::Inpatient
                        && let Some(&c) =
                            Self::team_members(org, rng, other, Role::Physician, 1, patient).first()
                    {
                        team.push((c, Function::Consultant));
                    }
                }
                let id = self.next_id;
                self.next_id += 1;
                self.push(
                    org,
                    sink,
                    Encounter {
                        id,
                        patient,
                        dept: d as u16,
                        class: Class::Inpatient,
                        start,
                        end,
                        team,
                    },
                )?;
            }
        }
        Ok(())
    }

    fn emergency_visits(
        &mut self,
        org: &Org,
        rng: &mut Rng,
        day: u32,
        sink: &mut EncounterSink,
    ) -> io::Result<()> {
        let Some(d) = org.depts.iter().position(|d| d.kind == DeptKind::Emergency) else {
            return Ok(());
        };
        let day_start = org.start + day as i64 * DAY;
        let visits = org.depts[d].staff.len() as u32 * 3;
        for _ in 0..visits {
            // Arrivals peak in the day and evening.
            let hour = [
                0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 17, 18, 19, 20,
                21, 22, 23, 10, 11, 14, 15, 18, 19,
            ][rng.below(32) as usize];
            let start = day_start + hour * HOUR + rng.range(0, HOUR);
            let end = start + rng.range(2 * HOUR, 8 * HOUR);
            let Some(patient) = self.free_patient(org, rng, "ED", start) else {
                continue;
            };
            let mut team = Vec::new();
            if let Some(p) = Self::on_duty(org, rng, d, Role::Physician, start, patient) {
                team.push((p, Function::Attending));
            }
            if let Some(n) = Self::on_duty(org, rng, d, Role::Nurse, start, patient) {
                team.push((n, Function::Participant));
            }
            if team.is_empty() {
                continue;
            }
            let id = self.next_id;
            self.next_id += 1;
            self.push(
                org,
                sink,
                Encounter {
                    id,
                    patient,
                    dept: d as u16,
                    class: Class::Emergency,
                    start,
                    end,
                    team,
                },
            )?;
        }
        Ok(())
    }

    fn clinic_visits(
        &mut self,
        org: &Org,
        rng: &mut Rng,
        day: u32,
        sink: &mut EncounterSink,
    ) -> io::Result<()> {
        let day_start = org.start + day as i64 * DAY;
        for d in 0..org.depts.len() {
            if org.depts[d].kind != DeptKind::Clinic {
                continue;
            }
            for &physician in &org.depts[d].staff {
                if org.staff[physician as usize].role != Role::Physician {
                    continue;
                }
                let Some(duty) = org.duty(physician, day) else {
                    continue;
                };
                // One patient every half hour from 08:30, with gaps.
                let mut slot = day_start + 8 * HOUR + 30 * MINUTE;
                while slot < duty.end - HOUR && slot < day_start + 17 * HOUR {
                    if rng.chance(0.8)
                        && let Some(patient) = self.free_patient(org, rng, org.depts[d].code, slot)
                        && !org.personally_linked(physician, patient)
                    {
                        let mut team = vec![(physician, Function::Attending)];
                        if let Some(n) = Self::on_duty(org, rng, d, Role::Nurse, slot, patient) {
                            team.push((n, Function::Participant));
                        }
                        let id = self.next_id;
                        self.next_id += 1;
                        let end = slot + rng.range(15, 40) * MINUTE;
                        self.push(
                            org,
                            sink,
                            Encounter {
                                id,
                                patient,
                                dept: d as u16,
                                class: Class::Ambulatory,
                                start: slot,
                                end,
                                team,
                            },
                        )?;
                    }
                    slot += 30 * MINUTE;
                }
            }
        }
        Ok(())
    }
}
