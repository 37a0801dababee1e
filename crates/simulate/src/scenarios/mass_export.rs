//! Mass export: a user exports (DCM 110106) the records of hundreds of patients within an
//! hour, where normal release-of-information work exports a handful a day.

use super::{PlanCtx, Planted, Scenario, staff_name};
use crate::audit::{Purpose, What};
use crate::behaviour::access;
use crate::org::{DeptKind, Employment, HOUR, MINUTE, Role};
use crate::rng::Rng;

pub struct MassExport;

const MIN_RECORDS: u64 = 200;
const MAX_RECORDS: u64 = 450;

impl Scenario for MassExport {
    fn kind(&self) -> &'static str {
        "mass_export"
    }

    fn per_week(&self) -> f64 {
        0.7
    }

    fn plan(&self, ctx: &PlanCtx, rng: &mut Rng) -> Option<Planted> {
        let org = ctx.org;
        let (user, duty) = ctx.user_on_duty(rng, |_, st| {
            st.employment == Employment::Active
                && (st.role == Role::Him
                    || (st.role == Role::Clerk
                        && org.depts[st.dept as usize].kind == DeptKind::Office))
        })?;
        let count = MIN_RECORDS + rng.below(MAX_RECORDS - MIN_RECORDS + 1);
        let span = rng.range(25 * MINUTE, 55 * MINUTE);
        let step = (span / count as i64).max(1_000);
        let mut t = ctx.moment(rng, duty, HOUR);
        let mut patients = Vec::with_capacity(count as usize);
        let mut actions = Vec::with_capacity(count as usize);
        let mut seen = vec![false; org.patients.len()];
        while (patients.len() as u64) < count {
            let p = ctx.stranger(rng, user, |p| !seen[p as usize])?;
            seen[p as usize] = true;
            patients.push(p);
            actions.push(access(
                t,
                What::Export,
                user,
                duty.ws,
                Some(p),
                Purpose::Operations,
                rng.next_u64() as u32,
            ));
            t += rng.range(step / 2, step * 3 / 2).max(200);
        }
        Some(Planted {
            variant: "hundreds-of-records",
            user,
            description: format!(
                "{} exported the records of {} patients in {} minutes",
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
