//! Family member: a staff member opens the record of someone in their household (same family
//! name and address) or of a patient who names them as next of kin.

use super::{PlanCtx, Planted, Scenario, clinical_user, look, staff_name};
use crate::audit::Purpose;
use crate::org::HOUR;
use crate::rng::Rng;

pub struct FamilyMember;

impl Scenario for FamilyMember {
    fn kind(&self) -> &'static str {
        "family_member"
    }

    fn per_week(&self) -> f64 {
        3.0
    }

    fn plan(&self, ctx: &PlanCtx, rng: &mut Rng) -> Option<Planted> {
        let org = ctx.org;
        // Household members are generated right after their staff member, so they sit within
        // a few indices of the staff member's own record; a scan of the household finds them.
        let relatives = |staff: u32| -> Vec<u32> {
            let household = org.staff[staff as usize].household;
            org.patients
                .iter()
                .enumerate()
                .filter(|(_, p)| p.household == household && p.staff != Some(staff))
                .map(|(i, _)| i as u32)
                .filter(|&p| org.patients[p as usize].deceased.is_none() && ctx.unexplained(p))
                .collect()
        };
        let mut tries = 0;
        let (user, duty, patient) = loop {
            tries += 1;
            if tries > 50 {
                return None;
            }
            let (user, duty) = ctx.user_on_duty(rng, |_, s| clinical_user(org, s))?;
            let family = relatives(user);
            if !family.is_empty() {
                break (user, duty, *rng.pick(&family));
            }
        };
        let variant = if org.is_contact_of(user, patient) {
            "next-of-kin"
        } else {
            "household"
        };
        let t = ctx.moment(rng, duty, HOUR);
        let p = &org.patients[patient as usize];
        Some(Planted {
            variant,
            user,
            patients: vec![patient],
            ws: duty.ws,
            description: format!(
                "{} opened the record of {} {}, who shares their family name and home address{}",
                staff_name(org, user),
                p.given,
                p.family,
                if variant == "next-of-kin" {
                    " and names them as next of kin"
                } else {
                    ""
                }
            ),
            actions: look(rng, user, duty.ws, patient, t, Purpose::Treatment),
            expected_alert_min: 1,
            ..Default::default()
        })
    }
}
