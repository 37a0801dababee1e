//! A terminated staff member's account, never disabled, logs in over the VPN from home in
//! the evening, weeks after their last day, with the right password at the first try.

use super::{PlanCtx, Planted, Scenario, staff_name};
use crate::authlog::JUMP_HOST;
use crate::context::date;
use crate::infra::{home_ip, ssh_session};
use crate::org::{Employment, HOUR};
use crate::rng::Rng;
use crate::signal::{Signals, Who, ip_text};

pub struct TerminatedVpnLogin;

impl Scenario for TerminatedVpnLogin {
    fn kind(&self) -> &'static str {
        "terminated_vpn_login"
    }

    fn per_week(&self) -> f64 {
        1.0
    }

    fn plan(&self, ctx: &PlanCtx, rng: &mut Rng) -> Option<Planted> {
        let org = ctx.org;
        let former: Vec<u32> = (0..org.staff.len() as u32)
            .filter(|&s| matches!(org.staff[s as usize].employment, Employment::Terminated(_)))
            .collect();
        if former.is_empty() {
            return None;
        }
        let user = *rng.pick(&former);
        let Employment::Terminated(at) = org.staff[user as usize].employment else {
            return None;
        };
        let home = home_ip(org, user);
        let who = Who::Staff(user);
        let mut out = Signals::default();
        let t = ctx.day_start() + rng.range(18 * HOUR, 22 * HOUR);
        ssh_session(rng, &mut out, t, who, home, "password", 0, |_| "");
        Some(Planted {
            variant: "vpn-ssh",
            description: format!(
                "{} logged in over the VPN after their termination on {}",
                staff_name(org, user),
                date(at)
            ),
            signals: out.out,
            entities: vec![
                ("user", who.text()),
                ("src_ip", ip_text(home)),
                ("host", JUMP_HOST.to_string()),
            ],
            expected_alert_min: 1,
            ..Default::default()
        })
    }
}
