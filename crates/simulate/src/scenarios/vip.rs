//! VIP: a staff member opens the record of a celebrity (v3 ActCode CEL, confidentiality R)
//! who has no encounter with them or their department.

use super::{PlanCtx, Planted, Scenario, clinical_user, look, staff_name};
use crate::audit::Purpose;
use crate::org::{HOUR, label};
use crate::rng::Rng;

pub struct Vip;

impl Scenario for Vip {
    fn kind(&self) -> &'static str {
        "vip"
    }

    fn per_week(&self) -> f64 {
        2.0
    }

    fn plan(&self, ctx: &PlanCtx, rng: &mut Rng) -> Option<Planted> {
        let org = ctx.org;
        let vips: Vec<u32> = (0..org.patients.len() as u32)
            .filter(|&p| {
                org.patients[p as usize].labels & label::CELEBRITY != 0 && ctx.unexplained(p)
            })
            .collect();
        if vips.is_empty() {
            return None;
        }
        let patient = *rng.pick(&vips);
        let (user, duty) = ctx.user_on_duty(rng, |s, st| {
            clinical_user(org, st) && !org.personally_linked(s, patient)
        })?;
        let t = ctx.moment(rng, duty, HOUR);
        let p = &org.patients[patient as usize];
        Some(Planted {
            variant: "celebrity",
            user,
            patients: vec![patient],
            ws: duty.ws,
            description: format!(
                "{} opened the restricted record of celebrity patient {} {} without any encounter",
                staff_name(org, user),
                p.given,
                p.family
            ),
            actions: look(rng, user, duty.ws, patient, t, Purpose::Treatment),
            expected_alert_min: 1,
            ..Default::default()
        })
    }
}
