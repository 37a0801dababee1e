//! A device nobody inventoried appears on a clinical wall port (a personal mini-PC, a
//! contractor's laptop, a Raspberry Pi left behind): it reaches the EHR like a workstation
//! would, then probes the medical-device network for Telnet and SSH. The inventory does not
//! list its address, so discovery flags it for review and the network detector raises a
//! device-not-in-inventory alert; the probes are segmentation violations besides.

use super::{PlanCtx, Planted, Scenario};
use crate::infra::tcp;
use crate::org::{HOUR, MINUTE};
use crate::rng::Rng;
use crate::signal::{Signals, ip, ip_text};

pub struct RogueDevice;

impl Scenario for RogueDevice {
    fn kind(&self) -> &'static str {
        "unknown_device"
    }

    fn per_week(&self) -> f64 {
        1.0
    }

    fn plan(&self, ctx: &PlanCtx, rng: &mut Rng) -> Option<Planted> {
        let infra = ctx.infra;
        if infra.pumps.is_empty() {
            return None;
        }
        // Clinical workstations sit at 10.10.<department>.10 and up; nothing is listed this
        // high in a department's range.
        let me = ip(10, 10, 1, 230 + rng.below(20) as u8);
        let ehr = infra.ip(infra.ehr_app);
        let mut out = Signals::default();
        let mut t = ctx.day_start() + rng.range(9 * HOUR, 17 * HOUR);
        for _ in 0..2 + rng.below(3) {
            let conn = tcp(
                rng.next_u64(),
                me,
                ehr,
                443,
                "ssl",
                rng.range(2_000, 5 * MINUTE),
                2_000 + rng.below(20_000) as u32,
                10_000 + rng.below(400_000) as u32,
            );
            out.tcp(t, conn, None);
            t += rng.range(MINUTE, 10 * MINUTE);
        }
        for _ in 0..3 + rng.below(4) {
            let pump = *rng.pick(&infra.pumps);
            let port = if rng.below(2) == 0 { 23 } else { 22 };
            let mut conn = tcp(rng.next_u64(), me, infra.ip(pump), port, "", 1, 0, 0);
            (conn.state, conn.history) = ("S0", "S");
            out.tcp(t, conn, None);
            t += rng.range(1_000, 20_000);
        }
        Some(Planted {
            variant: "clinical-wall-port",
            description: format!(
                "an uninventoried device at {} reached the EHR and probed infusion pumps for Telnet and SSH",
                ip_text(me)
            ),
            signals: out.out,
            entities: vec![("src_ip", ip_text(me))],
            expected_alert_min: 1,
            ..Default::default()
        })
    }
}
