//! After hours: a clinician who worked a regular shift on an earlier day logs in in the middle
//! of their time off, hours away from any hour they work, and opens a few records of patients
//! on their own unit whose care teams do not name them. Each access has a departmental
//! explanation; only the user's own pattern of hours says something is off (a look from
//! home, or someone else using the account). Needs an earlier day of the user's work, so a
//! one-day run plants none.

use super::{PlanCtx, Planted, Scenario, clinical_user, look, staff_name};
use crate::audit::{Purpose, What};
use crate::behaviour::access;
use crate::org::{DAY, MINUTE, Role, Shift};
use crate::rng::Rng;

pub struct AfterHours;

impl Scenario for AfterHours {
    fn kind(&self) -> &'static str {
        "after_hours"
    }

    fn per_week(&self) -> f64 {
        2.0
    }

    fn plan(&self, ctx: &PlanCtx, rng: &mut Rng) -> Option<Planted> {
        let org = ctx.org;
        if ctx.day == 0 {
            return None;
        }
        let day_start = ctx.day_start();
        // Shifts that start and end on the same day, worked the day before: the user's hours
        // are on record and their time off is one block of the day.
        let candidates: Vec<u32> = (0..org.staff.len() as u32)
            .filter(|&s| {
                let st = &org.staff[s as usize];
                clinical_user(org, st)
                    && matches!(st.role, Role::Nurse | Role::Physician)
                    && matches!(
                        st.shift,
                        Shift::Day | Shift::Evening | Shift::LongDay | Shift::Office
                    )
                    && org.duty(s, ctx.day - 1).is_some()
            })
            .collect();
        if candidates.is_empty() {
            return None;
        }
        for _ in 0..64 {
            let user = *rng.pick(&candidates);
            let st = &org.staff[user as usize];
            // The middle of the time off, within this day.
            let off_start = st.shift.start_minute() + st.shift.minutes() + 20;
            let middle = (off_start + (24 * 60 - st.shift.minutes() - 20) / 2).rem_euclid(24 * 60);
            let mut t = day_start + (middle + rng.range(-30, 30)) * MINUTE;
            if t < day_start || t >= day_start + DAY {
                continue;
            }
            // The unit's patients that normal work may read now: the access is explained.
            let unit: Vec<u32> = ctx.census.by_dept[st.dept as usize]
                .iter()
                .filter_map(|&e| ctx.census.encounters.get(e as usize))
                .filter(|e| e.open_at(t) && e.open_at(t + 30 * MINUTE))
                // Not on the patient's care team: a team member called in has a reason.
                .filter(|e| e.team.iter().all(|&(member, _)| member != user))
                .map(|e| e.patient)
                .filter(|&p| !org.personally_linked(user, p))
                .collect();
            if unit.len() < 2 {
                continue;
            }
            let ws = match org.duty(user, ctx.day - 1) {
                Some(duty) => duty.ws,
                None => continue,
            };
            let mut actions = vec![access(
                t,
                What::Login,
                user,
                ws,
                None,
                Purpose::Treatment,
                0,
            )];
            let mut patients = Vec::new();
            let count = 2 + rng.below(3) as usize;
            while patients.len() < count.min(unit.len()) {
                let p = *rng.pick(&unit);
                if patients.contains(&p) {
                    continue;
                }
                t += rng.range(20_000, 4 * MINUTE);
                let opened = look(rng, user, ws, p, t, Purpose::Treatment);
                t = opened.last().map_or(t, |a| a.time);
                actions.extend(opened);
                patients.push(p);
            }
            return Some(Planted {
                variant: "unit-records-off-shift",
                user,
                description: format!(
                    "{} logged in at {:02}:{:02} UTC, far from their usual shift, and opened {} records of their unit's patients",
                    staff_name(org, user),
                    (actions[0].time - day_start) / (60 * MINUTE),
                    (actions[0].time - day_start) / MINUTE % 60,
                    patients.len()
                ),
                patients,
                ws,
                actions,
                expected_alert_min: 1,
                ..Default::default()
            });
        }
        None
    }
}
