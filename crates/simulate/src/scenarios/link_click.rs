//! A link from a newly registered domain, opened: a "document shared with you" notice from a
//! domain the hospital never had mail from (`fileshare-notice.com`, `invoice-center.net` …, a
//! new one each week),
//! which imitates no one and passes SPF, DKIM and DMARC, reaches a member of staff on duty
//! (and a colleague or two); minutes later the recipient's workstation opens the link. Over
//! clear-text HTTP (variant `http`) Zeek's `http.log` shows the page and the sign-in form posted
//! back; over HTTPS (variant `https`) only the TLS server name in `ssl.log` does.

use super::{PlanCtx, Planted, Scenario, staff_name};
use crate::directory::NEW_SENDERS;
use crate::mail::{Mail, Party, Topic, party_address};
use crate::org::{Employment, HOUR, MINUTE};
use crate::rng::Rng;
use crate::signal::{DNS_SERVER, Http, Name, Signals, Site, Tls, ip_text};
use crate::web::{BROWSER, follow_link};

pub struct NewDomainLinkClicked;

impl Scenario for NewDomainLinkClicked {
    fn kind(&self) -> &'static str {
        "phishing_click"
    }

    fn per_week(&self) -> f64 {
        1.0
    }

    fn plan(&self, ctx: &PlanCtx, rng: &mut Rng) -> Option<Planted> {
        let org = ctx.org;
        let (user, duty) = ctx.user_on_duty(rng, |_, st| st.employment == Employment::Active)?;
        // A domain registered for this week's campaign: never one used in the last weeks.
        let week = org.seed.wrapping_add(ctx.day as u64 / 7);
        let sender = (week % NEW_SENDERS.len() as u64) as u8;
        let tls = rng.chance(0.5);
        let t = ctx.moment(rng, duty, HOUR);
        let t = t - t.rem_euclid(1000); // a Date header has whole seconds
        let from = Party::Stranger(sender);
        let mut mail = Mail::new(
            rng.next_u64(),
            from,
            Party::Staff(user),
            Topic::LinkLure { tls },
        );
        let colleagues: Vec<u32> = org
            .dept_of(user)
            .staff
            .iter()
            .copied()
            .filter(|&c| c != user && org.staff[c as usize].employment == Employment::Active)
            .collect();
        for slot in 0..rng.below(3) as usize {
            if let Some(&c) = colleagues.get(rng.below(colleagues.len().max(1) as u64) as usize)
                && !mail.recipients().any(|r| r == Party::Staff(c))
            {
                mail.cc[slot] = Some(Party::Staff(c));
            }
        }
        mail.sample = true;
        let mut out = Signals::default();
        out.mail(t, mail);

        let me = ctx.infra.ip(duty.ws);
        let n = &NEW_SENDERS[sender as usize];
        let opened = t + rng.range(2 * MINUTE, 25 * MINUTE);
        if tls {
            out.lookup(
                opened,
                rng.next_u64(),
                me,
                DNS_SERVER,
                Name::Fixed(n.web_host),
                Some(n.web_ip),
            );
            let conn = crate::infra::tcp(
                rng.next_u64(),
                me,
                n.web_ip,
                443,
                "ssl",
                rng.range(5_000, 90_000),
                3_000 + rng.below(6_000) as u32,
                40_000 + rng.below(200_000) as u32,
            );
            let tls = Tls::modern(Name::Fixed(n.web_host), n.web_ip as u64, true, false);
            out.tcp(opened + 150, conn, Some(tls));
        } else {
            follow_link(&mut out, rng, opened, me, &mail);
            // The page's sign-in form, filled in and posted back.
            let posted = opened + rng.range(40_000, 4 * MINUTE);
            let form = Http {
                uid: rng.next_u64(),
                orig: me,
                orig_p: 49_152 + rng.below(16_000) as u16,
                resp: n.web_ip,
                method: "POST",
                site: Site::MailLink {
                    from,
                    topic: mail.topic,
                    mail: mail.id,
                    suffix: "/login",
                },
                user_agent: BROWSER,
                request_len: 60 + rng.below(40) as u32,
                status: 302,
                response_len: 0,
                mime: "",
            };
            out.http(posted, form, rng.range(100, 900));
        }

        let (_, sender_address) = party_address(from, org, ctx.directory);
        let recipient = ctx.directory.address(user);
        Some(Planted {
            variant: if tls { "https" } else { "http" },
            description: format!(
                "{sender_address}, a newly registered domain, sent {} a link to {}; their workstation {} opened it {} min later",
                staff_name(org, user),
                n.web_host,
                ip_text(me),
                (opened - t) / MINUTE
            ),
            signals: out.out,
            entities: vec![
                ("sender", sender_address),
                ("recipient", recipient),
                ("src_ip", ip_text(me)),
                ("dst_ip", ip_text(n.web_ip)),
                ("domain", n.domain.to_string()),
            ],
            expected_alert_min: 1,
            ..Default::default()
        })
    }
}
