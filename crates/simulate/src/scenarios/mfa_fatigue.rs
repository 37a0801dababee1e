//! MFA fatigue: someone abroad who has a staff member's password signs in to Microsoft 365
//! again and again from an unmanaged browser; each sign-in pushes an approval request to the
//! staff member's phone, which they deny (Entra error 500121) ten to twenty-five times over a
//! quarter of an hour, until they approve one to make it stop.

use super::{PlanCtx, Planted, Scenario, staff_name};
use crate::directory::FOREIGN;
use crate::entra::{App, Device, Outcome, SignIn};
use crate::org::{Employment, HOUR, Role};
use crate::rng::Rng;
use crate::signal::{Signals, ip_text};

pub struct MfaFatigue;

impl Scenario for MfaFatigue {
    fn kind(&self) -> &'static str {
        "mfa_fatigue"
    }

    fn per_week(&self) -> f64 {
        1.0
    }

    fn plan(&self, ctx: &PlanCtx, rng: &mut Rng) -> Option<Planted> {
        let org = ctx.org;
        let users: Vec<u32> = (0..org.staff.len() as u32)
            .filter(|&s| {
                let st = &org.staff[s as usize];
                st.employment == Employment::Active
                    && matches!(st.role, Role::Physician | Role::Nurse | Role::Him)
            })
            .collect();
        if users.is_empty() {
            return None;
        }
        let user = *rng.pick(&users);
        let place = rng.below(FOREIGN.len() as u64) as usize;
        let (where_, net) = FOREIGN[place];
        let source = net + rng.below(40) as u32;
        let mut out = Signals::default();
        let mut t = ctx.day_start() + rng.range(HOUR, 6 * HOUR);
        let denials = 10 + rng.below(16);
        let mut attempt = |t: i64, outcome: Outcome, rng: &mut Rng| {
            out.sign_in(
                t,
                SignIn {
                    id: rng.next_u64(),
                    staff: user,
                    app: App::Outlook,
                    ip: source,
                    place: 1 + place as u8,
                    outcome,
                    device: Device::Unknown,
                },
            );
        };
        for _ in 0..denials {
            attempt(t, Outcome::PushDenied, rng);
            t += rng.range(20_000, 75_000);
        }
        attempt(t, Outcome::PushApproved, rng);
        let upn = ctx.directory.address(user);
        Some(Planted {
            variant: "push-bombing",
            description: format!(
                "{} denied {denials} authenticator pushes for sign-ins from {} ({}), then approved one",
                staff_name(org, user),
                ip_text(source),
                where_.city
            ),
            signals: out.out,
            entities: vec![
                ("user", upn),
                ("src_ip", ip_text(source)),
                ("country", where_.country.to_string()),
            ],
            expected_alert_min: 1,
            ..Default::default()
        })
    }
}
