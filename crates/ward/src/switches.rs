//! Rules switched off and on (`ward rules disable|enable|disabled`), and the engine told which
//! (`apply`, at the start of `ward ingest` and `ward serve`; the console tells the running
//! engine through its hook). The switches are `ward_detect::switches`, kept as a store
//! setting.

use crate::commands::BadInput;
use anyhow::{Context, Result};
use std::io::Write;
use std::process::ExitCode;
use std::sync::{Mutex, PoisonError};
use ward_detect::Engine;
use ward_detect::switches::{RuleSwitches, SETTING};
use ward_model::Timestamp;
use ward_store::Store;

pub fn load(store: &dyn Store) -> Result<RuleSwitches> {
    RuleSwitches::parse(store.setting(SETTING)?.as_deref())
        .context("the stored rule switches do not read back")
}

/// Tells `engine` which rules are switched off in `store`.
pub fn apply(store: &dyn Store, engine: &Mutex<Engine>) -> Result<usize> {
    let ids = load(store)?.ids();
    let count = ids.len();
    engine
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .set_disabled_rules(ids);
    Ok(count)
}

pub fn disable(
    store: &dyn Store,
    rule: &str,
    reason: &str,
    by: Option<String>,
) -> Result<ExitCode> {
    let mut switches = load(store)?;
    let by = by
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "cli".into());
    let changed = switches
        .disable(rule, &by, Timestamp::now(), reason)
        .map_err(|e| BadInput(e.to_string()))?;
    store.set_setting(SETTING, &switches.to_text())?;
    println!(
        "{rule}: {} (a running `ward serve` reads it at its next start; the console switches it at once)",
        if changed {
            "switched off"
        } else {
            "already off; reason updated"
        }
    );
    Ok(ExitCode::SUCCESS)
}

pub fn enable(store: &dyn Store, rule: &str) -> Result<ExitCode> {
    let mut switches = load(store)?;
    if !switches.enable(rule) {
        return Err(BadInput(format!("{rule} is not switched off")).into());
    }
    store.set_setting(SETTING, &switches.to_text())?;
    println!("{rule}: switched back on");
    Ok(ExitCode::SUCCESS)
}

pub fn list(store: &dyn Store, json: bool) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    for d in load(store)?.disabled {
        if json {
            writeln!(out, "{}", serde_json::to_string(&d)?)?;
        } else {
            writeln!(
                out,
                "{}  off since {} by {}: {}",
                d.rule, d.at, d.by, d.reason
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
