//! Password spray against the VPN: one external address tries one or two common passwords
//! against many real staff accounts, a few minutes apart, for hours. Every try fails. Each
//! account sees no more failures than a clinician's mistyped password; only the count of
//! distinct accounts from one source gives it away, against the background of internet
//! scanners trying invalid user names.

use super::{PlanCtx, Planted, Scenario};
use crate::authlog::JUMP_HOST;
use crate::org::{Employment, HOUR, MINUTE};
use crate::rng::Rng;
use crate::signal::{Signals, SshWhat, Who, ip, ip_text};

/// The network password sprays come from (a /24).
pub(crate) const SPRAY_NET: crate::signal::Ip = ip(194, 165, 16, 0);

pub struct PasswordSpray;

impl Scenario for PasswordSpray {
    fn kind(&self) -> &'static str {
        "password_spray"
    }

    fn per_week(&self) -> f64 {
        1.0
    }

    fn plan(&self, ctx: &PlanCtx, rng: &mut Rng) -> Option<Planted> {
        let org = ctx.org;
        let accounts: Vec<u32> = (0..org.staff.len() as u32)
            .filter(|&s| org.staff[s as usize].employment == Employment::Active)
            .collect();
        if accounts.len() < 10 {
            return None;
        }
        let source = SPRAY_NET + 10 + rng.below(200) as u32;
        let targets = (25 + rng.below(25)).min(accounts.len() as u64);
        let mut out = Signals::default();
        let mut t = ctx.day_start() + rng.range(HOUR, 10 * HOUR);
        let mut tried = Vec::with_capacity(targets as usize);
        while (tried.len() as u64) < targets {
            let s = *rng.pick(&accounts);
            if tried.contains(&s) {
                continue;
            }
            tried.push(s);
            for _ in 0..1 + rng.chance(0.3) as u32 {
                let pid = 3000 + rng.below(60_000) as u32;
                let port = 30_000 + rng.below(35_000) as u16;
                let who = Who::Staff(s);
                out.ssh(t, SshWhat::PamAuthFailure, who, source, port, pid);
                out.ssh(t + 2_000, SshWhat::Failed, who, source, port, pid);
                out.ssh(
                    t + 2_300,
                    SshWhat::ClosedAuthenticating,
                    who,
                    source,
                    port,
                    pid,
                );
                t += rng.range(2 * MINUTE, 7 * MINUTE);
            }
        }
        Some(Planted {
            variant: "vpn-ssh",
            description: format!(
                "{} tried passwords against {} staff accounts on the VPN, a few minutes apart",
                ip_text(source),
                tried.len()
            ),
            signals: out.out,
            entities: vec![("src_ip", ip_text(source)), ("host", JUMP_HOST.to_string())],
            expected_alert_min: 1,
            ..Default::default()
        })
    }
}
