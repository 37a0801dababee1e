//! The guest Wi-Fi reaches the EHR database: a visitor's device probes the database server's
//! SQL port (refused a few times), then gets through. Segmentation should make that
//! impossible; every connection here crosses from `guest-wifi` into `ehr-servers`.

use super::{PlanCtx, Planted, Scenario};
use crate::infra::tcp;
use crate::org::{HOUR, MINUTE};
use crate::rng::Rng;
use crate::signal::{Signals, ip, ip_text};

pub struct GuestWifiToEhrDatabase;

impl Scenario for GuestWifiToEhrDatabase {
    fn kind(&self) -> &'static str {
        "guest_wifi_to_ehr_database"
    }

    fn per_week(&self) -> f64 {
        1.0
    }

    fn plan(&self, ctx: &PlanCtx, rng: &mut Rng) -> Option<Planted> {
        let infra = ctx.infra;
        let guest = ip(172, 16, 30 + rng.below(20) as u8, 2 + rng.below(250) as u8);
        let db = infra.ip(infra.ehr_db);
        let mut out = Signals::default();
        let mut t = ctx.day_start() + rng.range(8 * HOUR, 22 * HOUR);
        for attempt in 0..6 + rng.below(6) {
            let mut conn = tcp(
                rng.next_u64(),
                guest,
                db,
                1433,
                "",
                rng.range(50, 30_000),
                300 + rng.below(5_000) as u32,
                200 + rng.below(40_000) as u32,
            );
            if attempt < 3 {
                conn.state = "REJ";
                conn.history = "Sr";
            }
            out.tcp(t, conn, None);
            t += rng.range(5_000, 3 * MINUTE);
        }
        Some(Planted {
            variant: "sql",
            description: format!(
                "guest Wi-Fi device {} connected to the EHR database's SQL port",
                ip_text(guest)
            ),
            signals: out.out,
            entities: vec![("src_ip", ip_text(guest)), ("dst_ip", ip_text(db))],
            expected_alert_min: 1,
            ..Default::default()
        })
    }
}
