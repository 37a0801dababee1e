//! `ward zones` and the serve task that flushes the inventory's watcher (discovery and
//! observed flows, `ward_inventory::reach`) every minute.

use crate::commands::BadInput;
use crate::config::Config;
use anyhow::{Context, Result};
use clap::Subcommand;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use ward_detect::threat::segmentation::{CompiledPolicy, render_svg};
use ward_inventory::reach::{Reach, Watcher};
use ward_store::Store;

#[derive(Debug, Subcommand)]
pub enum ZonesCommand {
    /// Read zones.toml (`[detect] inventory` in the configuration) and print its zones and
    /// allow rules; exit 2 naming the line when it does not parse.
    Check,
    /// What can reach the zones that hold PHI, by policy and as observed, and (with --svg)
    /// the map of zones and the flows seen between them.
    Report {
        #[arg(long)]
        json: bool,
        /// Write the map as SVG to FILE.
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
    },
}

/// `ward serve`: flushes the watcher every minute and at shutdown.
pub async fn run(store: Arc<dyn Store>, watcher: Watcher, mut shutdown: ward_listen::Shutdown) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        let stop = tokio::select! {
            _ = tick.tick() => false,
            _ = shutdown.wait() => true,
        };
        let (store, w) = (store.clone(), watcher.clone());
        match tokio::task::spawn_blocking(move || w.flush(store.as_ref())).await {
            Ok(Ok(flushed)) => log_flush(flushed),
            Ok(Err(e)) => tracing::warn!(error = %e, "discovery: writing sightings failed"),
            Err(e) => tracing::warn!(error = %e, "discovery task failed"),
        }
        if stop {
            break;
        }
    }
}

/// Logs what a flush wrote: counts only.
pub fn log_flush(flushed: ward_inventory::reach::Flushed) {
    if flushed.new_devices > 0 {
        tracing::info!(
            devices = flushed.new_devices,
            "discovery: devices seen for the first time"
        );
    }
    if flushed.dropped_sightings > 0 {
        tracing::warn!(
            dropped = flushed.dropped_sightings,
            "discovery: more devices than it holds between flushes; some sightings were not recorded"
        );
    }
}

/// The policy and observed flows for the configured inventory.
pub fn load(config: &Config, store: &dyn Store) -> Result<Reach> {
    let inventory = crate::detection::inventory_from_config(config)?;
    Ok(Reach::with_inventory(&inventory, store)?)
}

pub fn run_command(config: &Config, data_dir: &Path, command: ZonesCommand) -> Result<ExitCode> {
    let inventory = crate::detection::inventory_from_config(config)?;
    let Some(policy) = CompiledPolicy::of_inventory(&inventory) else {
        return Err(BadInput(
            "no segmentation policy: name the inventory folder under [detect] inventory, with \
             [[allow]] rules in its zones.toml (docs/inventory-files.md)"
                .into(),
        )
        .into());
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match command {
        ZonesCommand::Check => {
            for zone in policy.zones() {
                writeln!(
                    out,
                    "zone {:<24} {}{}",
                    zone.name,
                    if zone.trusted { "trusted" } else { "untrusted" },
                    if zone.phi { ", holds PHI" } else { "" }
                )?;
            }
            for rule in policy.rules() {
                writeln!(out, "allow {}", rule.summary())?;
            }
            writeln!(
                out,
                "default {:?}, within a zone {:?}",
                policy.default(),
                policy.intra_zone()
            )?;
        }
        ZonesCommand::Report { json, svg } => {
            let store = crate::keys::open_store(config, data_dir)?;
            let reach = Reach::with_inventory(&inventory, &store)?;
            let map = reach
                .map()
                .ok_or_else(|| anyhow::anyhow!("the policy did not compile"))?;
            if let Some(path) = svg {
                std::fs::write(&path, render_svg(&map))
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            for phi in map.phi_reach() {
                if json {
                    writeln!(out, "{}", serde_json::to_string(&phi)?)?;
                    continue;
                }
                writeln!(out, "{} (holds PHI)", phi.zone)?;
                for edge in &phi.by_policy {
                    writeln!(
                        out,
                        "  may be reached from {:<20} {}",
                        edge.from,
                        edge.services.join(", ")
                    )?;
                }
                for edge in &phi.observed {
                    writeln!(
                        out,
                        "  was reached from {:<20} {} connection(s), {} denied, {}",
                        edge.from,
                        edge.connections,
                        edge.denied,
                        edge.services
                            .iter()
                            .map(|s| s.label())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
