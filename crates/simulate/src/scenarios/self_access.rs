//! Self-access: a staff member who is also a patient opens their own record at work. Never
//! done by normal behaviour.

use super::{PlanCtx, Planted, Scenario, clinical_user, look, staff_name};
use crate::audit::Purpose;
use crate::org::HOUR;
use crate::rng::Rng;

pub struct SelfAccess;

impl Scenario for SelfAccess {
    fn kind(&self) -> &'static str {
        "self_access"
    }

    fn per_week(&self) -> f64 {
        3.0
    }

    fn plan(&self, ctx: &PlanCtx, rng: &mut Rng) -> Option<Planted> {
        let (user, duty) = ctx.user_on_duty(rng, |_, s| {
            clinical_user(ctx.org, s) && s.patient.is_some_and(|p| ctx.unexplained(p))
        })?;
        let patient = ctx.org.staff[user as usize].patient?;
        let t = ctx.moment(rng, duty, HOUR);
        Some(Planted {
            variant: "own-record",
            user,
            patients: vec![patient],
            ws: duty.ws,
            description: format!(
                "{} opened their own patient record",
                staff_name(ctx.org, user)
            ),
            actions: look(rng, user, duty.ws, patient, t, Purpose::Treatment),
            expected_alert_min: 1,
            ..Default::default()
        })
    }
}
