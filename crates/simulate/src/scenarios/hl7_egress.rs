//! HL7 leaving the network in clear text: the interface engine opens MLLP (port 2575, no
//! TLS) to an external address, as a misconfigured outbound interface to a partner would,
//! and sends messages for an hour.

use super::{PlanCtx, Planted, Scenario};
use crate::infra::tcp;
use crate::org::{HOUR, MINUTE};
use crate::rng::Rng;
use crate::signal::{Signals, ip, ip_text};

pub struct CleartextHl7Egress;

impl Scenario for CleartextHl7Egress {
    fn kind(&self) -> &'static str {
        "cleartext_phi_egress"
    }

    fn per_week(&self) -> f64 {
        1.0
    }

    fn plan(&self, ctx: &PlanCtx, rng: &mut Rng) -> Option<Planted> {
        let infra = ctx.infra;
        let engine = infra.ip(infra.hl7);
        let partner = ip(64, 39, 100 + rng.below(50) as u8, 10 + rng.below(200) as u8);
        let mut out = Signals::default();
        let mut t = ctx.day_start() + rng.range(6 * HOUR, 20 * HOUR);
        for _ in 0..6 + rng.below(10) {
            let conn = tcp(
                rng.next_u64(),
                engine,
                partner,
                2575,
                "",
                rng.range(300, 3_000),
                2_000 + rng.below(30_000) as u32,
                200 + rng.below(600) as u32,
            );
            out.tcp(t, conn, None);
            t += rng.range(MINUTE, 8 * MINUTE);
        }
        Some(Planted {
            variant: "hl7-mllp",
            description: format!(
                "the HL7 interface engine sent MLLP in clear text to external {}",
                ip_text(partner)
            ),
            signals: out.out,
            entities: vec![("src_ip", ip_text(engine)), ("dst_ip", ip_text(partner))],
            expected_alert_min: 1,
            ..Default::default()
        })
    }
}
