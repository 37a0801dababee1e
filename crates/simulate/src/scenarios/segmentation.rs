//! Flows the hospital's segmentation policy (`crate::policy`) denies, one scenario per
//! variant so every run plants each: a patient monitor probing an office PC's SMB port (the
//! first step of a device used as a foothold), a vendor's VPN address logging in to the EHR
//! database that no contract covers, and a shared clinical workstation trying Telnet on an
//! infusion pump. None of them breaks any other rule the network detector knows (the sources
//! are inventoried or in the VPN pool, the destinations internal), so only the policy tells
//! them from normal traffic. Their flows are in `truth.json` with the zones they cross.

use super::{PlanCtx, Planted, Scenario};
use crate::infra::tcp;
use crate::org::{HOUR, MINUTE};
use crate::rng::Rng;
use crate::signal::{Signals, ip, ip_text};

/// The incident kind of every variant.
const KIND: &str = "segmentation_violation";

/// A patient monitor tries SMB on an office PC a few times; the PC's firewall drops it.
pub struct DeviceToAdmin;

impl Scenario for DeviceToAdmin {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn per_week(&self) -> f64 {
        1.0
    }

    fn plan(&self, ctx: &PlanCtx, rng: &mut Rng) -> Option<Planted> {
        let infra = ctx.infra;
        let org = ctx.org;
        if infra.monitors.is_empty() {
            return None;
        }
        let pcs: Vec<u32> = (0..org.assets.len() as u32)
            .filter(|&a| org.assets[a as usize].model == "office-workstation")
            .collect();
        if pcs.is_empty() {
            return None;
        }
        let monitor = *rng.pick(&infra.monitors);
        let pc = *rng.pick(&pcs);
        let (me, target) = (infra.ip(monitor), infra.ip(pc));
        let mut out = Signals::default();
        let mut t = ctx.day_start() + rng.range(HOUR, 22 * HOUR);
        for _ in 0..3 + rng.below(4) {
            let mut conn = tcp(rng.next_u64(), me, target, 445, "", 1, 0, 0);
            conn.state = "S0";
            conn.history = "S";
            out.tcp(t, conn, None);
            t += rng.range(3_000, 40_000);
        }
        let device = org.assets[monitor as usize].hostname.clone();
        Some(Planted {
            variant: "device-to-admin",
            description: format!(
                "{device} tried SMB (445) on the office PC {}, unanswered",
                org.assets[pc as usize].hostname
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

/// An address of the vendor VPN pool connects to the EHR database's SQL port and gets in.
pub struct VendorVpnToDatabase;

impl Scenario for VendorVpnToDatabase {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn per_week(&self) -> f64 {
        1.0
    }

    fn plan(&self, ctx: &PlanCtx, rng: &mut Rng) -> Option<Planted> {
        let infra = ctx.infra;
        let vpn = ip(10, 99, 0, 20 + rng.below(200) as u8);
        let db = infra.ip(infra.ehr_db);
        let mut out = Signals::default();
        let mut t = ctx.day_start() + rng.range(8 * HOUR, 18 * HOUR);
        for _ in 0..2 + rng.below(4) {
            let conn = tcp(
                rng.next_u64(),
                vpn,
                db,
                1433,
                "",
                rng.range(2_000, 10 * MINUTE),
                2_000 + rng.below(40_000) as u32,
                20_000 + rng.below(4_000_000) as u32,
            );
            out.tcp(t, conn, None);
            t += rng.range(MINUTE, 20 * MINUTE);
        }
        Some(Planted {
            variant: "vendor-vpn-to-database",
            description: format!(
                "vendor VPN address {} connected to the EHR database's SQL port, which no vendor contract covers",
                ip_text(vpn)
            ),
            signals: out.out,
            entities: vec![("src_ip", ip_text(vpn)), ("dst_ip", ip_text(db))],
            expected_alert_min: 1,
            ..Default::default()
        })
    }
}

/// A shared clinical workstation tries Telnet on an infusion pump: refused, then unanswered.
pub struct WorkstationToDeviceTelnet;

impl Scenario for WorkstationToDeviceTelnet {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn per_week(&self) -> f64 {
        1.0
    }

    fn plan(&self, ctx: &PlanCtx, rng: &mut Rng) -> Option<Planted> {
        let infra = ctx.infra;
        let org = ctx.org;
        let workstations: Vec<u32> = org
            .depts
            .iter()
            .flat_map(|d| d.workstations.iter().copied())
            .collect();
        if workstations.is_empty() || infra.pumps.is_empty() {
            return None;
        }
        let ws = *rng.pick(&workstations);
        let pump = *rng.pick(&infra.pumps);
        let (me, target) = (infra.ip(ws), infra.ip(pump));
        let mut out = Signals::default();
        let mut t = ctx.day_start() + rng.range(2 * HOUR, 23 * HOUR);
        for attempt in 0..2 + rng.below(3) {
            let mut conn = tcp(rng.next_u64(), me, target, 23, "", 1, 0, 0);
            (conn.state, conn.history) = if attempt == 0 {
                ("REJ", "Sr")
            } else {
                ("S0", "S")
            };
            out.tcp(t, conn, None);
            t += rng.range(2_000, 30_000);
        }
        let device = org.assets[pump as usize].hostname.clone();
        Some(Planted {
            variant: "workstation-to-device-telnet",
            description: format!(
                "{} tried Telnet on {device}",
                org.assets[ws as usize].hostname
            ),
            signals: out.out,
            entities: vec![("src_ip", ip_text(me)), ("dst_ip", ip_text(target))],
            expected_alert_min: 1,
            ..Default::default()
        })
    }
}
