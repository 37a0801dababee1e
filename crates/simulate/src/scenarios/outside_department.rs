//! Outside department: during one shift, a staff member opens the records of a few patients
//! admitted to (or seen in) other departments, ones their own department has no working
//! relationship with (no consults, no covering), while not on those patients' care teams:
//! first-ever looks at strangers' charts that only curiosity explains. One such look alone is,
//! in the audit trail, the same as the innocent one-off looks of normal work
//! ([`crate::behaviour`]: a colleague's question, a wrong name in a search list); three or four
//! within a couple of hours is how browsing looks.

use super::{PlanCtx, Planted, Scenario, clinical_user, look, staff_name};
use crate::audit::Purpose;
use crate::behaviour::works_with;
use crate::org::{HOUR, MINUTE};
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
        'user: for _ in 0..20 {
            let (user, duty) = ctx.user_on_duty(rng, |_, st| clinical_user(org, st))?;
            let own = org.staff[user as usize].dept;
            let own_code = org.depts[own as usize].code;
            let wanted = 3 + rng.below(2) as usize;
            // The looks spread over a couple of hours of the shift, 20 to 50 minutes apart:
            // too slow for a bulk sweep, and each its own chart session.
            let mut t = ctx.moment(rng, duty, 3 * HOUR);
            let mut moments = Vec::with_capacity(wanted);
            for _ in 0..wanted {
                moments.push(t);
                t += rng.range(20 * MINUTE, 50 * MINUTE);
            }
            let mut patients: Vec<u32> = Vec::new();
            let mut depts: Vec<&str> = Vec::new();
            let mut actions = Vec::new();
            for &t in &moments {
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
                            && !patients.contains(&e.patient)
                            && !org.personally_linked(user, e.patient)
                            && org.patient_household_street(e.patient) != org.staff_street(user)
                            && p.deceased.is_none()
                            && p.staff.is_none()
                            && p.labels == 0
                    })
                    .map(|(i, _)| i)
                    .collect();
                if strangers.is_empty() {
                    continue 'user;
                }
                let e = &ctx.census.encounters[*rng.pick(&strangers)];
                patients.push(e.patient);
                let name = org.depts[e.dept as usize].name;
                if !depts.contains(&name) {
                    depts.push(name);
                }
                actions.extend(look(rng, user, duty.ws, e.patient, t, Purpose::Treatment));
            }
            return Some(Planted {
                variant: "browsing",
                user,
                ws: duty.ws,
                description: format!(
                    "{} of {} opened the records of {} patients of {} within a few hours, with no encounter, care team or working relationship between them",
                    staff_name(org, user),
                    org.depts[own as usize].name,
                    patients.len(),
                    depts.join(", ")
                ),
                patients,
                actions,
                expected_alert_min: 1,
                ..Default::default()
            });
        }
        None
    }
}
