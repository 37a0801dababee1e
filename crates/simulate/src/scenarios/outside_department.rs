//! Outside department: a staff member opens the record of a patient admitted to (or seen in)
//! another department, one their own department has no working relationship with (no
//! consults, no covering), while not on the patient's care team: a first-ever look at a
//! stranger's chart that only curiosity explains.

use super::{PlanCtx, Planted, Scenario, clinical_user, look, staff_name};
use crate::audit::Purpose;
use crate::behaviour::works_with;
use crate::org::HOUR;
use crate::rng::Rng;

pub struct OutsideDepartment;

impl Scenario for OutsideDepartment {
    fn kind(&self) -> &'static str {
        "outside_department"
    }

    fn per_week(&self) -> f64 {
        2.0
    }

    fn plan(&self, ctx: &PlanCtx, rng: &mut Rng) -> Option<Planted> {
        let org = ctx.org;
        for _ in 0..20 {
            let (user, duty) = ctx.user_on_duty(rng, |_, st| clinical_user(org, st))?;
            let t = ctx.moment(rng, duty, HOUR);
            let own = org.staff[user as usize].dept;
            let own_code = org.depts[own as usize].code;
            let strangers: Vec<usize> = ctx
                .census
                .encounters
                .iter()
                .enumerate()
                .filter(|(_, e)| {
                    let p = &org.patients[e.patient as usize];
                    e.open_at(t)
                        && e.open_at(t + HOUR)
                        && e.dept != own
                        && !works_with(own_code, org.depts[e.dept as usize].code)
                        && !e.team.iter().any(|&(m, _)| m == user)
                        && !org.personally_linked(user, e.patient)
                        && org.patient_household_street(e.patient) != org.staff_street(user)
                        && p.deceased.is_none()
                        && p.staff.is_none()
                        && p.labels == 0
                })
                .map(|(i, _)| i)
                .collect();
            if strangers.is_empty() {
                continue;
            }
            let e = &ctx.census.encounters[*rng.pick(&strangers)];
            let patient = e.patient;
            return Some(Planted {
                variant: "no-relationship",
                user,
                patients: vec![patient],
                ws: duty.ws,
                description: format!(
                    "{} of {} opened the record of a patient of {}, with no encounter, care team or working relationship between them",
                    staff_name(org, user),
                    org.depts[own as usize].name,
                    org.depts[e.dept as usize].name
                ),
                actions: look(rng, user, duty.ws, patient, t, Purpose::Treatment),
                expected_alert_min: 1,
                ..Default::default()
            });
        }
        None
    }
}
