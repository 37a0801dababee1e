//! Phishing from a look-alike of the hospital's own domain (`wgh-example.org`,
//! `wgh.exarnple.org`, `wgh-example-support.org`): an "IT Service Desk" password-expiry notice
//! with a link to a login page on that domain, sent to a handful of staff in the morning. The
//! sender's domain fails SPF and DMARC and carries no DKIM signature. Nobody is shown clicking:
//! a link opened is the `phishing_click` scenario (`link_click.rs`).

use super::{PlanCtx, Planted, Scenario};
use crate::directory::LOOKALIKES;
use crate::mail::{Mail, Party, Topic, party_address};
use crate::org::{Employment, HOUR};
use crate::rng::Rng;
use crate::signal::{Signals, ip_text};

pub struct LookalikePhishing;

impl Scenario for LookalikePhishing {
    fn kind(&self) -> &'static str {
        "phishing_lookalike"
    }

    fn per_week(&self) -> f64 {
        1.0
    }

    fn plan(&self, ctx: &PlanCtx, rng: &mut Rng) -> Option<Planted> {
        let org = ctx.org;
        let own: Vec<u8> = (0..LOOKALIKES.len() as u8)
            .filter(|&i| LOOKALIKES[i as usize].imitates.is_none())
            .collect();
        let lookalike = *rng.pick(&own);
        let active: Vec<u32> = (0..org.staff.len() as u32)
            .filter(|&s| org.staff[s as usize].employment == Employment::Active)
            .collect();
        if active.len() < 4 {
            return None;
        }
        let mut to: Vec<u32> = Vec::new();
        while to.len() < 4 {
            let s = *rng.pick(&active);
            if !to.contains(&s) {
                to.push(s);
            }
        }
        let from = Party::Impostor(lookalike, 0);
        let mut mail = Mail::new(rng.next_u64(), from, Party::Staff(to[0]), Topic::Phish);
        for (k, &s) in to[1..].iter().enumerate() {
            mail.cc[k] = Some(Party::Staff(s));
        }
        mail.sample = true;
        let t = ctx.day_start() + rng.range(7 * HOUR, 10 * HOUR);
        let t = t - t.rem_euclid(1000); // a Date header has whole seconds
        let mut out = Signals::default();
        out.mail(t, mail);
        let l = &LOOKALIKES[lookalike as usize];
        let (_, sender) = party_address(from, org, ctx.directory);
        Some(Planted {
            variant: l.trick,
            description: format!(
                "password-expiry phish from {sender} ({} look-alike of {}) to {} staff, SPF and DMARC fail",
                l.trick,
                crate::org::DOMAIN,
                to.len()
            ),
            signals: out.out,
            entities: vec![
                ("sender", sender),
                ("recipient", ctx.directory.address(to[0])),
                ("domain", l.domain.to_string()),
                ("src_ip", ip_text(l.mta_ip)),
            ],
            expected_alert_min: 1,
            ..Default::default()
        })
    }
}
