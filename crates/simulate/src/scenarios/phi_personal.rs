//! PHI e-mailed to a personal address: a clerk, HIM or nursing staff member sends a work list
//! of real patients (MRN, name, date of birth) to their own mailbox at a free provider, "to
//! finish at home": as a text attachment (`patients.txt`, 6–15 patients) or in the body (3).
//! The message is otherwise ordinary: sent from their workstation during their shift, passing
//! every authentication check.

use super::{PlanCtx, Planted, Scenario, staff_name};
use crate::context::login_name;
use crate::directory::PERSONAL_DOMAINS;
use crate::mail::{Mail, Party, Topic, party_address};
use crate::org::{Employment, Role};
use crate::rng::Rng;
use crate::signal::Signals;

pub struct PhiToPersonalMailbox;

impl Scenario for PhiToPersonalMailbox {
    fn kind(&self) -> &'static str {
        "phi_to_personal_email"
    }

    fn per_week(&self) -> f64 {
        1.5
    }

    fn plan(&self, ctx: &PlanCtx, rng: &mut Rng) -> Option<Planted> {
        let org = ctx.org;
        let (user, duty) = ctx.user_on_duty(rng, |_, st| {
            st.employment == Employment::Active
                && matches!(st.role, Role::Clerk | Role::Him | Role::Nurse)
        })?;
        let provider = rng.below(PERSONAL_DOMAINS.len() as u64) as u8;
        let to = Party::Personal(user, provider);
        let mut mail = Mail::new(rng.next_u64(), Party::Staff(user), to, Topic::PhiHome);
        mail.attachment = rng.chance(0.6);
        mail.patients = if mail.attachment {
            6 + rng.below(10) as u8
        } else {
            3
        };
        mail.sample = true;
        let t = ctx.moment(rng, duty, 0);
        let t = t - t.rem_euclid(1000); // a Date header has whole seconds
        let mut out = Signals::default();
        out.mail(t, mail);
        let (_, recipient) = party_address(to, org, ctx.directory);
        Some(Planted {
            variant: if mail.attachment {
                "attachment"
            } else {
                "body"
            },
            description: format!(
                "{} e-mailed {} patients' names, MRNs and dates of birth to the personal address {recipient}",
                staff_name(org, user),
                mail.patients
            ),
            signals: out.out,
            entities: vec![
                ("user", login_name(user)),
                ("sender", ctx.directory.address(user)),
                ("recipient", recipient),
            ],
            expected_alert_min: 1,
            ..Default::default()
        })
    }
}
