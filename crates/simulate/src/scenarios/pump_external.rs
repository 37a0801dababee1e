//! An infusion pump calls an external host it has never talked to: a lookup of an unknown
//! domain, then repeated connections to its address on an unusual port, beside the pump's
//! normal check-ins with its vendor cloud.

use super::{PlanCtx, Planted, Scenario};
use crate::infra::tcp;
use crate::org::{HOUR, MINUTE};
use crate::rng::Rng;
use crate::signal::{DNS_SERVER, Name, Signals, ip, ip_text};

pub struct PumpToUnseenHost;

impl Scenario for PumpToUnseenHost {
    fn kind(&self) -> &'static str {
        "device_unseen_destination"
    }

    fn per_week(&self) -> f64 {
        1.0
    }

    fn plan(&self, ctx: &PlanCtx, rng: &mut Rng) -> Option<Planted> {
        let infra = ctx.infra;
        if infra.pumps.is_empty() {
            return None;
        }
        let pump = *rng.pick(&infra.pumps);
        let me = infra.ip(pump);
        let target = ip(5, 188, 206, 20 + rng.below(200) as u8);
        let mut out = Signals::default();
        let mut t = ctx.day_start() + rng.range(HOUR, 22 * HOUR);
        out.lookup(
            t,
            rng.next_u64(),
            me,
            DNS_SERVER,
            Name::Fixed("fw-update.infuse-sync.top"),
            Some(target),
        );
        for _ in 0..3 + rng.below(5) {
            t += rng.range(MINUTE, 10 * MINUTE);
            let conn = tcp(
                rng.next_u64(),
                me,
                target,
                8443,
                "",
                rng.range(2_000, 60_000),
                20_000 + rng.below(2_000_000) as u32,
                1_000 + rng.below(50_000) as u32,
            );
            out.tcp(t, conn, None);
        }
        let device = ctx.org.assets[pump as usize].hostname.clone();
        Some(Planted {
            variant: "infusion-pump",
            description: format!(
                "{device} connected to {}, an external host it had never used",
                ip_text(target)
            ),
            signals: out.out,
            entities: vec![
                ("device", device),
                ("src_ip", ip_text(me)),
                ("dst_ip", ip_text(target)),
            ],
            expected_alert_min: 1,
            ..Default::default()
        })
    }
}
