//! Bulk curiosity sweep: one user reads 50 or more unrelated patients within an hour, each a
//! quick look at demographics and sometimes one result.

use super::{PlanCtx, Planted, Scenario, clinical_user, staff_name};
use crate::audit::{Data, Purpose, What};
use crate::behaviour::access;
use crate::org::{HOUR, MINUTE};
use crate::rng::Rng;

pub struct BulkSweep;

/// Parameters: how many patients, over how long.
const MIN_PATIENTS: u64 = 50;
const MAX_PATIENTS: u64 = 90;

impl Scenario for BulkSweep {
    fn kind(&self) -> &'static str {
        "bulk_sweep"
    }

    fn per_week(&self) -> f64 {
        1.0
    }

    fn plan(&self, ctx: &PlanCtx, rng: &mut Rng) -> Option<Planted> {
        let org = ctx.org;
        let (user, duty) = ctx.user_on_duty(rng, |_, st| clinical_user(org, st))?;
        let count = MIN_PATIENTS + rng.below(MAX_PATIENTS - MIN_PATIENTS + 1);
        let span = rng.range(35 * MINUTE, 55 * MINUTE);
        let mut t = ctx.moment(rng, duty, HOUR);
        let mut patients = Vec::with_capacity(count as usize);
        let mut actions = Vec::with_capacity(2 * count as usize);
        let step = span / count as i64;
        while (patients.len() as u64) < count {
            let p = ctx.stranger(rng, user, |p| !patients.contains(&p))?;
            patients.push(p);
            actions.push(access(
                t,
                What::Read(Data::Patient),
                user,
                duty.ws,
                Some(p),
                Purpose::Treatment,
                rng.next_u64() as u32,
            ));
            if rng.chance(0.3) {
                let at = t + rng.range(2_000, step.max(3_000) / 2);
                actions.push(access(
                    at,
                    What::Search(Data::Observation),
                    user,
                    duty.ws,
                    Some(p),
                    Purpose::Treatment,
                    rng.next_u64() as u32,
                ));
            }
            t += rng.range(step / 2, step * 3 / 2).max(1_000);
        }
        Some(Planted {
            variant: "one-hour",
            user,
            description: format!(
                "{} read {} unrelated patients in {} minutes",
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
