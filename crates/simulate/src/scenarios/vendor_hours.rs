//! A vendor account used outside its contract: the infusion-pump or PACS vendor's account,
//! contracted for weekday office hours (`context/vendors.csv`), logs in from the vendor's
//! usual address in the small hours and runs commands as root.

use super::{PlanCtx, Planted, Scenario};
use crate::authlog::JUMP_HOST;
use crate::infra::{VENDORS, ssh_session};
use crate::org::{HOUR, MINUTE};
use crate::rng::Rng;
use crate::signal::{Signals, Who, ip_text};

pub struct VendorOutsideContract;

const COMMANDS: [&str; 3] = [
    "/usr/bin/tar czf /tmp/export.tgz /srv/share",
    "/usr/sbin/useradd -m -s /bin/bash support2",
    "/usr/bin/cat /etc/shadow",
];

impl Scenario for VendorOutsideContract {
    fn kind(&self) -> &'static str {
        "vendor_outside_contract"
    }

    fn per_week(&self) -> f64 {
        1.0
    }

    fn plan(&self, ctx: &PlanCtx, rng: &mut Rng) -> Option<Planted> {
        let restricted: Vec<usize> = (0..VENDORS.len())
            .filter(|&v| VENDORS[v].from_hour >= 8)
            .collect();
        let vendor = &VENDORS[*rng.pick(&restricted)];
        let who = Who::Name(vendor.account);
        let mut out = Signals::default();
        let t = ctx.day_start() + rng.range(HOUR + 30 * MINUTE, 4 * HOUR);
        ssh_session(
            rng,
            &mut out,
            t,
            who,
            vendor.source,
            "publickey",
            2,
            |rng| *rng.pick(&COMMANDS),
        );
        Some(Planted {
            variant: "night",
            description: format!(
                "{} ({}) logged in at night, outside its contracted {:02}:00-{:02}:00",
                vendor.account, vendor.company, vendor.from_hour, vendor.to_hour
            ),
            signals: out.out,
            entities: vec![
                ("user", vendor.account.to_string()),
                ("src_ip", ip_text(vendor.source)),
                ("host", JUMP_HOST.to_string()),
            ],
            expected_alert_min: 1,
            ..Default::default()
        })
    }
}
