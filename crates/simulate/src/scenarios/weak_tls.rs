//! A service carrying PHI offers TLS 1.0 with a self-signed certificate: the second EHR
//! application server, rebuilt from an old image, answers workstations' connections with
//! an obsolete protocol and a certificate no one issued.

use super::{PlanCtx, Planted, Scenario};
use crate::infra::tcp;
use crate::org::{HOUR, MINUTE};
use crate::rng::Rng;
use crate::signal::{Name, Signals, Tls, ip_text};

pub struct WeakTlsOnPhiService;

impl Scenario for WeakTlsOnPhiService {
    fn kind(&self) -> &'static str {
        "weak_tls_phi_service"
    }

    fn per_week(&self) -> f64 {
        1.0
    }

    fn plan(&self, ctx: &PlanCtx, rng: &mut Rng) -> Option<Planted> {
        let infra = ctx.infra;
        let org = ctx.org;
        let server = infra.ehr_app2;
        let server_ip = infra.ip(server);
        let clients: Vec<u32> = org
            .depts
            .iter()
            .flat_map(|d| d.workstations.iter().copied())
            .collect();
        if clients.is_empty() {
            return None;
        }
        let mut out = Signals::default();
        let mut t = ctx.day_start() + rng.range(8 * HOUR, 16 * HOUR);
        for _ in 0..4 + rng.below(8) {
            let client = infra.ip(*rng.pick(&clients));
            let conn = tcp(
                rng.next_u64(),
                client,
                server_ip,
                443,
                "ssl",
                rng.range(MINUTE, 20 * MINUTE),
                30_000 + rng.below(200_000) as u32,
                100_000 + rng.below(2_000_000) as u32,
            );
            let tls = Tls {
                version: "TLSv10",
                cipher: "TLS_RSA_WITH_AES_128_CBC_SHA",
                curve: "",
                server: Name::Asset(server),
                resumed: false,
                validation: "self signed certificate",
                cert: 0x5E1F,
            };
            out.tcp(t, conn, Some(tls));
            t += rng.range(2 * MINUTE, 30 * MINUTE);
        }
        let hostname = org.assets[server as usize].hostname.clone();
        Some(Planted {
            variant: "tls10-self-signed",
            description: format!("{hostname} served TLS 1.0 with a self-signed certificate"),
            signals: out.out,
            entities: vec![("host", hostname), ("dst_ip", ip_text(server_ip))],
            expected_alert_min: 1,
            ..Default::default()
        })
    }
}
