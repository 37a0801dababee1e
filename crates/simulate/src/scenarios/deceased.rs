//! Deceased: a staff member opens the record of a patient who died long ago (at least six
//! months before), with no encounter or reason.

use super::{PlanCtx, Planted, Scenario, clinical_user, look, staff_name};
use crate::audit::Purpose;
use crate::org::{DAY, HOUR};
use crate::rng::Rng;

pub struct Deceased;

/// How long dead the patient must be: recent deaths still have paperwork.
const DEAD_FOR: i64 = 180 * DAY;

impl Scenario for Deceased {
    fn kind(&self) -> &'static str {
        "deceased"
    }

    fn per_week(&self) -> f64 {
        1.5
    }

    fn plan(&self, ctx: &PlanCtx, rng: &mut Rng) -> Option<Planted> {
        let org = ctx.org;
        let day_start = ctx.day_start();
        let dead: Vec<u32> = (0..org.patients.len() as u32)
            .filter(|&p| {
                org.patients[p as usize]
                    .deceased
                    .is_some_and(|d| d < day_start - DEAD_FOR)
            })
            .collect();
        if dead.is_empty() {
            return None;
        }
        let patient = *rng.pick(&dead);
        let (user, duty) = ctx.user_on_duty(rng, |s, st| {
            clinical_user(org, st) && !org.personally_linked(s, patient)
        })?;
        let t = ctx.moment(rng, duty, HOUR);
        let died = org.patients[patient as usize].deceased.unwrap_or(0);
        Some(Planted {
            variant: "long-dead",
            user,
            patients: vec![patient],
            ws: duty.ws,
            description: format!(
                "{} opened the record of a patient who died {} days earlier",
                staff_name(org, user),
                (t - died) / DAY
            ),
            actions: look(rng, user, duty.ws, patient, t, Purpose::Treatment),
            expected_alert_min: 1,
            ..Default::default()
        })
    }
}
