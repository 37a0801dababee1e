//! Neighbour: a staff member opens the record of a patient living on their own street (same
//! street and postal code, another household).

use super::{PlanCtx, Planted, Scenario, clinical_user, look, staff_name};
use crate::audit::Purpose;
use crate::org::HOUR;
use crate::rng::Rng;

pub struct Neighbour;

impl Scenario for Neighbour {
    fn kind(&self) -> &'static str {
        "neighbour"
    }

    fn per_week(&self) -> f64 {
        2.0
    }

    fn plan(&self, ctx: &PlanCtx, rng: &mut Rng) -> Option<Planted> {
        let org = ctx.org;
        for _ in 0..20 {
            let (user, duty) = ctx.user_on_duty(rng, |_, st| clinical_user(org, st))?;
            let street = org.staff_street(user);
            let neighbours: Vec<u32> = (0..org.patients.len() as u32)
                .filter(|&p| {
                    org.patient_household_street(p) == street
                        && !org.personally_linked(user, p)
                        && org.patients[p as usize].deceased.is_none()
                        && org.patients[p as usize].staff.is_none()
                        && ctx.unexplained(p)
                })
                .collect();
            if neighbours.is_empty() {
                continue;
            }
            let patient = *rng.pick(&neighbours);
            let t = ctx.moment(rng, duty, HOUR);
            let st = &org.streets[street as usize];
            return Some(Planted {
                variant: "same-street",
                user,
                patients: vec![patient],
                ws: duty.ws,
                description: format!(
                    "{} opened the record of a neighbour living on {} {}, {} {}",
                    staff_name(org, user),
                    st.name,
                    st.suffix,
                    st.city,
                    st.postal
                ),
                actions: look(rng, user, duty.ws, patient, t, Purpose::Treatment),
                expected_alert_min: 1,
                ..Default::default()
            });
        }
        None
    }
}
