//! Break-the-glass without a following clinical action: a ward clinician declares an emergency
//! override (DCM 110113 / 110127, ETREAT) on a patient they have no encounter with, reads the
//! chart, and documents nothing. Normal break-the-glass (in the emergency department) is
//! always followed by documentation.

use super::{PlanCtx, Planted, Scenario, look, staff_name};
use crate::audit::{Purpose, What};
use crate::behaviour::access;
use crate::org::{DeptKind, Employment, HOUR, Role, label};
use crate::rng::Rng;

pub struct BreakGlassWithoutFollowUp;

impl Scenario for BreakGlassWithoutFollowUp {
    fn kind(&self) -> &'static str {
        "break_glass_no_follow_up"
    }

    fn per_week(&self) -> f64 {
        1.5
    }

    fn plan(&self, ctx: &PlanCtx, rng: &mut Rng) -> Option<Planted> {
        let org = ctx.org;
        let (user, duty) = ctx.user_on_duty(rng, |_, st| {
            st.employment == Employment::Active
                && matches!(st.role, Role::Physician | Role::Nurse)
                && org.depts[st.dept as usize].kind == DeptKind::Inpatient
        })?;
        // Restricted records are what the glass protects; prefer one.
        let patient = ctx
            .stranger(rng, user, |p| {
                org.patients[p as usize].labels & (label::RESTRICTED | label::VERY_RESTRICTED) != 0
            })
            .or_else(|| ctx.stranger(rng, user, |_| true))?;
        let t = ctx.moment(rng, duty, HOUR);
        let mut actions = vec![access(
            t,
            What::BreakGlass,
            user,
            duty.ws,
            Some(patient),
            Purpose::EmergencyTreatment,
            0,
        )];
        let after = t + rng.range(5_000, 60_000);
        actions.extend(look(
            rng,
            user,
            duty.ws,
            patient,
            after,
            Purpose::EmergencyTreatment,
        ));
        Some(Planted {
            variant: "no-documentation",
            user,
            patients: vec![patient],
            ws: duty.ws,
            description: format!(
                "{} broke the glass on a patient with no encounter and documented nothing afterwards",
                staff_name(org, user)
            ),
            actions,
            expected_alert_min: 1,
            ..Default::default()
        })
    }
}
