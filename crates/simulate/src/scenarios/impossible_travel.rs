//! Impossible travel to a new country: a physician signs in to the patient portal or the
//! telehealth app from home in the evening, and within one to two hours the same account
//! signs in successfully (its password and a session token stolen) from an unmanaged browser
//! in a country the account has never used, thousands of kilometres away.

use super::{PlanCtx, Planted, Scenario, staff_name};
use crate::directory::FOREIGN;
use crate::entra::{App, Device, Outcome, SignIn};
use crate::infra::home_ip;
use crate::org::{Employment, HOUR, MINUTE, Role};
use crate::rng::Rng;
use crate::signal::{Signals, ip_text};

pub struct ImpossibleTravel;

impl Scenario for ImpossibleTravel {
    fn kind(&self) -> &'static str {
        "impossible_travel"
    }

    fn per_week(&self) -> f64 {
        1.0
    }

    fn plan(&self, ctx: &PlanCtx, rng: &mut Rng) -> Option<Planted> {
        let org = ctx.org;
        let users: Vec<u32> = (0..org.staff.len() as u32)
            .filter(|&s| {
                let st = &org.staff[s as usize];
                st.employment == Employment::Active && st.role == Role::Physician
            })
            .collect();
        if users.is_empty() {
            return None;
        }
        let user = *rng.pick(&users);
        let app = if rng.chance(0.5) {
            App::Portal
        } else {
            App::Telehealth
        };
        let place = rng.below(FOREIGN.len() as u64) as usize;
        let (where_, net) = FOREIGN[place];
        let source = net + 64 + rng.below(40) as u32;
        let home = home_ip(org, user);
        let t = ctx.day_start() + rng.range(17 * HOUR, 20 * HOUR);
        let later = t + rng.range(60 * MINUTE, 120 * MINUTE);
        let mut out = Signals::default();
        for (at, ip, place, device) in [
            (t, home, 0, Device::HomePc),
            (later, source, 1 + place as u8, Device::Unknown),
        ] {
            out.sign_in(
                at,
                SignIn {
                    id: rng.next_u64(),
                    staff: user,
                    app,
                    ip,
                    place,
                    outcome: Outcome::PushApproved,
                    device,
                },
            );
        }
        Some(Planted {
            variant: if app == App::Portal {
                "patient-portal"
            } else {
                "telehealth"
            },
            description: format!(
                "{} signed in from home ({}) and {} minutes later from {} ({}, {})",
                staff_name(org, user),
                ip_text(home),
                (later - t) / MINUTE,
                ip_text(source),
                where_.city,
                where_.country
            ),
            signals: out.out,
            entities: vec![
                ("user", ctx.directory.address(user)),
                ("src_ip", ip_text(source)),
                ("prior_ip", ip_text(home)),
                ("country", where_.country.to_string()),
            ],
            expected_alert_min: 1,
            ..Default::default()
        })
    }
}
