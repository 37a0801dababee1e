//! Terminated staff access: a former employee whose account was never disabled logs in after
//! their termination date (one mistyped password first, sometimes) and reads patients of
//! their old department, in the evening, from one of its workstations.

use super::{PlanCtx, Planted, Scenario, staff_name};
use crate::audit::{Data, Purpose, What};
use crate::behaviour::access;
use crate::clinical::Class;
use crate::context::date;
use crate::org::{Employment, HOUR, MINUTE};
use crate::rng::Rng;

pub struct TerminatedAccess;

impl Scenario for TerminatedAccess {
    fn kind(&self) -> &'static str {
        "terminated_access"
    }

    fn per_week(&self) -> f64 {
        1.0
    }

    fn plan(&self, ctx: &PlanCtx, rng: &mut Rng) -> Option<Planted> {
        let org = ctx.org;
        let former: Vec<u32> = (0..org.staff.len() as u32)
            .filter(|&s| {
                matches!(org.staff[s as usize].employment, Employment::Terminated(_))
                    && !org.dept_of(s).workstations.is_empty()
            })
            .collect();
        if former.is_empty() {
            return None;
        }
        let user = *rng.pick(&former);
        let dept = org.staff[user as usize].dept;
        let ws = *rng.pick(&org.depts[dept as usize].workstations);
        let mut t = ctx.day_start() + rng.range(18 * HOUR, 22 * HOUR);
        let mut actions = Vec::new();
        if rng.chance(0.5) {
            actions.push(access(
                t,
                What::LoginFailed,
                user,
                ws,
                None,
                Purpose::Treatment,
                0,
            ));
            t += rng.range(5_000, 20_000);
        }
        actions.push(access(
            t,
            What::Login,
            user,
            ws,
            None,
            Purpose::Treatment,
            0,
        ));
        // The old unit's current patients when there are any, else anyone.
        let unit: Vec<u32> = ctx.census.by_dept[dept as usize]
            .iter()
            .map(|&e| &ctx.census.encounters[e as usize])
            .filter(|e| {
                e.class == Class::Inpatient
                    && e.open_at(t)
                    && !org.personally_linked(user, e.patient)
            })
            .map(|e| e.patient)
            .collect();
        let reads = 4 + rng.below(9);
        let mut patients: Vec<u32> = Vec::new();
        for _ in 0..reads {
            let p = if unit.is_empty() {
                ctx.stranger(rng, user, |_| true)?
            } else {
                *rng.pick(&unit)
            };
            t += rng.range(20_000, 4 * MINUTE);
            actions.push(access(
                t,
                What::Read(Data::Patient),
                user,
                ws,
                Some(p),
                Purpose::Treatment,
                rng.next_u64() as u32,
            ));
            t += rng.range(5_000, 30_000);
            actions.push(access(
                t,
                What::Search(Data::Observation),
                user,
                ws,
                Some(p),
                Purpose::Treatment,
                rng.next_u64() as u32,
            ));
            if !patients.contains(&p) {
                patients.push(p);
            }
        }
        t += rng.range(MINUTE, 5 * MINUTE);
        actions.push(access(
            t,
            What::Logout,
            user,
            ws,
            None,
            Purpose::Treatment,
            0,
        ));
        let Employment::Terminated(at) = org.staff[user as usize].employment else {
            return None;
        };
        Some(Planted {
            variant: "after-termination",
            user,
            description: format!(
                "{} logged in and read {} patients after their termination on {}",
                staff_name(org, user),
                patients.len(),
                date(at)
            ),
            patients,
            ws,
            actions,
            expected_alert_min: 1,
            ..Default::default()
        })
    }
}
