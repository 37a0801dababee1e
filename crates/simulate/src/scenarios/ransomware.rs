//! Ransomware precursors on a Windows host: in the middle of a user's shift, a command shell
//! deletes the volume shadow copies, the backup catalogue and the boot recovery options, the
//! steps ransomware takes before it encrypts (MITRE ATT&CK T1490, Inhibit System Recovery).

use super::{PlanCtx, Planted, Scenario, staff_name};
use crate::infra::{Program, process};
use crate::org::HOUR;
use crate::rng::Rng;
use crate::signal::{Signals, Who};

pub struct RansomwarePrecursors;

const CMD: &str = r"C:\Windows\System32\cmd.exe";

/// What the precursors run, in order.
const STEPS: [Program; 5] = [
    (
        CMD,
        r#"C:\Windows\system32\cmd.exe /c "vssadmin delete shadows /all /quiet & wbadmin delete catalog -quiet""#,
        r"C:\Users\Public\Documents\svchost32.exe",
    ),
    (
        r"C:\Windows\System32\vssadmin.exe",
        "vssadmin  delete shadows /all /quiet",
        CMD,
    ),
    (
        r"C:\Windows\System32\wbadmin.exe",
        "wbadmin  delete catalog -quiet",
        CMD,
    ),
    (
        r"C:\Windows\System32\bcdedit.exe",
        "bcdedit  /set {default} recoveryenabled no",
        CMD,
    ),
    (
        r"C:\Windows\System32\bcdedit.exe",
        "bcdedit  /set {default} bootstatuspolicy ignoreallfailures",
        CMD,
    ),
];

impl Scenario for RansomwarePrecursors {
    fn kind(&self) -> &'static str {
        "ransomware_precursors"
    }

    fn per_week(&self) -> f64 {
        1.0
    }

    fn plan(&self, ctx: &PlanCtx, rng: &mut Rng) -> Option<Planted> {
        let org = ctx.org;
        let (user, duty) = ctx.user_on_duty(rng, |_, s| s.personal_ws.is_some())?;
        let host = duty.ws;
        let who = Who::Staff(user);
        let logon = 0x0030_0000 | (rng.next_u64() as u32 & 0x000F_FFFF);
        let mut t = ctx.moment(rng, duty, HOUR);
        let mut out = Signals::default();
        for step in STEPS {
            out.win(t, host, who, logon, process(rng, step));
            t += rng.range(300, 4_000);
        }
        let hostname = org.assets[host as usize].hostname.clone();
        Some(Planted {
            variant: "shadow-copy-deletion",
            description: format!(
                "shadow copies, backup catalogue and boot recovery deleted on {} under {}",
                hostname,
                staff_name(org, user)
            ),
            signals: out.out,
            entities: vec![("host", hostname), ("user", who.text())],
            expected_alert_min: 1,
            ..Default::default()
        })
    }
}
