//! Business e-mail compromise: someone on a look-alike of a partner's domain
//! (`medirxsupply.com` for `medirx-supply.com`, `northstar-refiab.com` …) writes to a member
//! of Patient Financial Services asking, urgently, to pay the partner's invoices into a new
//! bank account, with a Reply-To at a free mailbox. The look-alike domain is the attacker's
//! own, so SPF, DKIM and DMARC pass: only the domain, the Reply-To and the words give it away.

use super::{PlanCtx, Planted, Scenario, staff_name};
use crate::directory::{LOOKALIKES, PARTNERS};
use crate::mail::{Mail, Party, Topic, party_address};
use crate::org::{Employment, HOUR, Role};
use crate::rng::Rng;
use crate::signal::{Signals, ip_text};

pub struct BankDetailsChange;

impl Scenario for BankDetailsChange {
    fn kind(&self) -> &'static str {
        "bec_bank_change"
    }

    fn per_week(&self) -> f64 {
        1.0
    }

    fn plan(&self, ctx: &PlanCtx, rng: &mut Rng) -> Option<Planted> {
        let org = ctx.org;
        let partners: Vec<u8> = (0..LOOKALIKES.len() as u8)
            .filter(|&i| LOOKALIKES[i as usize].imitates.is_some())
            .collect();
        let lookalike = *rng.pick(&partners);
        let finance = |s: u32| {
            let st = &org.staff[s as usize];
            st.employment == Employment::Active && org.dept_of(s).code == "BILL"
        };
        let office = |s: u32| {
            let st = &org.staff[s as usize];
            st.employment == Employment::Active && matches!(st.role, Role::Clerk | Role::Him)
        };
        let mut targets: Vec<u32> = (0..org.staff.len() as u32)
            .filter(|&s| finance(s))
            .collect();
        if targets.is_empty() {
            targets = (0..org.staff.len() as u32).filter(|&s| office(s)).collect();
        }
        if targets.is_empty() {
            return None;
        }
        let user = *rng.pick(&targets);
        let from = Party::Impostor(lookalike, 40 + rng.below(1000) as u32);
        let mut mail = Mail::new(rng.next_u64(), from, Party::Staff(user), Topic::BankChange);
        mail.sample = true;
        let t = ctx.day_start() + rng.range(13 * HOUR, 16 * HOUR);
        let t = t - t.rem_euclid(1000); // a Date header has whole seconds
        let mut out = Signals::default();
        out.mail(t, mail);
        let l = &LOOKALIKES[lookalike as usize];
        let partner = &PARTNERS[l.imitates.unwrap_or(0) as usize];
        let (name, sender) = party_address(from, org, ctx.directory);
        let reply_to = {
            let mut words = name.split(' ');
            let given = words.next().unwrap_or("").to_ascii_lowercase();
            let family = words.next().unwrap_or("").to_ascii_lowercase();
            format!("{given}.{family}.accounts@outlook.com")
        };
        Some(Planted {
            variant: l.trick,
            description: format!(
                "{sender}, a look-alike of {} ({}), asked {} to change the bank details for its invoices; replies go to {reply_to}",
                partner.domain,
                partner.company,
                staff_name(org, user)
            ),
            signals: out.out,
            entities: vec![
                ("sender", sender),
                ("recipient", ctx.directory.address(user)),
                ("reply_to", reply_to),
                ("domain", l.domain.to_string()),
                ("src_ip", ip_text(l.mta_ip)),
            ],
            expected_alert_min: 1,
            ..Default::default()
        })
    }
}
