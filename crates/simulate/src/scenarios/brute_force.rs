//! Brute force followed by success: one external address guesses one staff account's password
//! on the VPN dozens of times in a few minutes, over several connections (sshd allows six
//! tries a connection), and finally gets in, opens a session and stays a while.

use super::{PlanCtx, Planted, Scenario, staff_name};
use crate::authlog::JUMP_HOST;
use crate::infra::ssh_session;
use crate::org::{Employment, HOUR, Role};
use crate::rng::Rng;
use crate::signal::{Signals, SshWhat, Who, ip, ip_text};

/// The network brute-force attacks come from (a /24).
pub(crate) const BRUTE_FORCE_NET: crate::signal::Ip = ip(91, 240, 118, 0);

pub struct BruteForceThenSuccess;

impl Scenario for BruteForceThenSuccess {
    fn kind(&self) -> &'static str {
        "brute_force_success"
    }

    fn per_week(&self) -> f64 {
        1.0
    }

    fn plan(&self, ctx: &PlanCtx, rng: &mut Rng) -> Option<Planted> {
        let org = ctx.org;
        let accounts: Vec<u32> = (0..org.staff.len() as u32)
            .filter(|&s| {
                let st = &org.staff[s as usize];
                st.employment == Employment::Active && st.role == Role::Physician
            })
            .collect();
        if accounts.is_empty() {
            return None;
        }
        let user = *rng.pick(&accounts);
        let who = Who::Staff(user);
        let source = BRUTE_FORCE_NET + 10 + rng.below(200) as u32;
        let mut out = Signals::default();
        let mut t = ctx.day_start() + rng.range(HOUR, 20 * HOUR);
        let guesses = 40 + rng.below(40);
        let mut pid = 0;
        let mut port = 0;
        for g in 0..guesses {
            if g % 6 == 0 {
                if g > 0 {
                    out.ssh(t, SshWhat::ClosedAuthenticating, who, source, port, pid);
                    t += rng.range(500, 3_000);
                }
                pid = 3000 + rng.below(60_000) as u32;
                port = 30_000 + rng.below(35_000) as u16;
                out.ssh(t, SshWhat::PamAuthFailure, who, source, port, pid);
            }
            t += rng.range(1_500, 4_000);
            out.ssh(t, SshWhat::Failed, who, source, port, pid);
        }
        t += rng.range(5_000, 30_000);
        ssh_session(rng, &mut out, t, who, source, "password", 0, |_| "");
        Some(Planted {
            variant: "vpn-ssh",
            description: format!(
                "{} guessed {} passwords for {} on the VPN, then logged in",
                ip_text(source),
                guesses,
                staff_name(org, user)
            ),
            signals: out.out,
            entities: vec![
                ("user", who.text()),
                ("src_ip", ip_text(source)),
                ("host", JUMP_HOST.to_string()),
            ],
            expected_alert_min: 1,
            ..Default::default()
        })
    }
}
