//! Volume far above the baseline: a registration, billing or health-information user who
//! worked on an earlier day opens 90–130 records within one clock hour, every one of a patient
//! with a current or recent encounter, so each access has a back-office explanation. Only the
//! count, far above the user's own hours and their colleagues', gives it away. Needs an
//! earlier day of the user's work, so a one-day run plants none.

use super::{PlanCtx, Planted, Scenario, staff_name};
use crate::audit::{Data, Purpose, What};
use crate::behaviour::access;
use crate::clinical::BACK_OFFICE_WINDOW;
use crate::org::{DeptKind, Employment, HOUR, MINUTE, Role};
use crate::rng::Rng;

pub struct VolumeAboveBaseline;

const MIN_PATIENTS: u64 = 90;
const MAX_PATIENTS: u64 = 130;

impl Scenario for VolumeAboveBaseline {
    fn kind(&self) -> &'static str {
        "volume_above_baseline"
    }

    fn per_week(&self) -> f64 {
        1.0
    }

    fn plan(&self, ctx: &PlanCtx, rng: &mut Rng) -> Option<Planted> {
        let org = ctx.org;
        if ctx.day == 0 {
            return None;
        }
        let (user, duty) = ctx.user_on_duty(rng, |s, st| {
            st.employment == Employment::Active
                && org.depts[st.dept as usize].kind == DeptKind::Office
                && matches!(st.role, Role::Clerk | Role::Him)
                && (0..ctx.day).any(|d| org.duty(s, d).is_some())
        })?;
        // Within one clock hour of the shift.
        let moment = ctx.moment(rng, duty, HOUR);
        let mut t = moment - moment.rem_euclid(HOUR) + rng.range(2 * MINUTE, 5 * MINUTE);
        if t < duty.start + 10 * MINUTE {
            t += HOUR;
        }
        let pool: Vec<u32> = ctx
            .census
            .encounters
            .iter()
            .filter(|e| e.start - 6 * HOUR <= t && t <= e.end + BACK_OFFICE_WINDOW - HOUR)
            .map(|e| e.patient)
            .filter(|&p| {
                !org.personally_linked(user, p) && org.patients[p as usize].staff.is_none()
            })
            .collect();
        let count = (MIN_PATIENTS + rng.below(MAX_PATIENTS - MIN_PATIENTS + 1)) as usize;
        let mut patients: Vec<u32> = Vec::with_capacity(count);
        let mut seen = vec![false; org.patients.len()];
        for _ in 0..count * 8 {
            if patients.len() >= count {
                break;
            }
            let p = *rng.pick(&pool);
            if !seen[p as usize] {
                seen[p as usize] = true;
                patients.push(p);
            }
        }
        if patients.len() < MIN_PATIENTS as usize {
            return None;
        }
        let span = rng.range(38 * MINUTE, 50 * MINUTE);
        let step = span / patients.len() as i64;
        let mut actions = Vec::with_capacity(patients.len() * 2);
        for &p in &patients {
            actions.push(access(
                t,
                What::Read(Data::Patient),
                user,
                duty.ws,
                Some(p),
                Purpose::Operations,
                rng.next_u64() as u32,
            ));
            if rng.chance(0.25) {
                actions.push(access(
                    t + rng.range(2_000, (step / 2).max(3_000)),
                    What::Read(Data::Encounter),
                    user,
                    duty.ws,
                    Some(p),
                    Purpose::Operations,
                    rng.next_u64() as u32,
                ));
            }
            t += rng.range(step / 2, step * 3 / 2).max(1_000);
        }
        actions.sort_by_key(|a| a.time);
        Some(Planted {
            variant: "back-office-browsing",
            user,
            description: format!(
                "{} opened {} records of patients with current or recent encounters in {} minutes, several times their usual hour",
                staff_name(org, user),
                patients.len(),
                (actions.last()?.time - actions.first()?.time) / MINUTE + 1
            ),
            patients,
            ws: duty.ws,
            actions,
            expected_alert_min: 1,
            ..Default::default()
        })
    }
}
