//! Co-worker: a staff member opens the record of a colleague in their own department (a
//! patient with the EMP label who is on the roster), without any encounter.

use super::{PlanCtx, Planted, Scenario, clinical_user, look, staff_name};
use crate::audit::Purpose;
use crate::org::HOUR;
use crate::rng::Rng;

pub struct CoWorker;

impl Scenario for CoWorker {
    fn kind(&self) -> &'static str {
        "co_worker"
    }

    fn per_week(&self) -> f64 {
        2.0
    }

    fn plan(&self, ctx: &PlanCtx, rng: &mut Rng) -> Option<Planted> {
        let org = ctx.org;
        let colleague_record = |user: u32| -> Vec<u32> {
            org.dept_of(user)
                .staff
                .iter()
                .filter(|&&c| c != user)
                .filter_map(|&c| org.staff[c as usize].patient)
                .filter(|&p| ctx.unexplained(p) && !org.personally_linked(user, p))
                .collect()
        };
        let (user, duty) = ctx.user_on_duty(rng, |s, st| {
            clinical_user(org, st) && !colleague_record(s).is_empty()
        })?;
        let patient = *rng.pick(&colleague_record(user));
        let colleague = org.patients[patient as usize].staff?;
        let t = ctx.moment(rng, duty, HOUR);
        Some(Planted {
            variant: "same-department",
            user,
            patients: vec![patient],
            ws: duty.ws,
            description: format!(
                "{} opened the record of their colleague {} in {}, with no encounter between them",
                staff_name(org, user),
                staff_name(org, colleague),
                org.dept_of(user).name
            ),
            actions: look(rng, user, duty.ws, patient, t, Purpose::Treatment),
            expected_alert_min: 1,
            ..Default::default()
        })
    }
}
