//! What can reach what: the segmentation policy of `zones.toml` and the flows actually seen
//! between zones, kept in the store so the map survives restarts; and the watcher that
//! gathers those flows and passive discovery's sightings from every newly stored event.
//!
//! [`Watcher`] is a detector that raises nothing: the engine shows it every newly stored
//! event once, in commit order (files, listeners and the demo alike), and
//! [`Watcher::flush`] writes what it gathered to the store. The policy itself is
//! `ward_detect::threat::segmentation`'s.

use std::sync::{Arc, Mutex, PoisonError};

use ward_detect::threat::inventory::{Inventory, ZoneKind};
use ward_detect::threat::segmentation::{
    CompiledPolicy, Edge, Reachability as FlowTally, ReachabilityMap, merge_edges,
};
use ward_detect::{Detector, Finding};
use ward_model::Event;
use ward_store::Store;

use crate::asset::Asset;
use crate::discover::{Discovery, is_private};
use crate::exposure::Reachability;
use crate::stored::{Result, StoredError};

/// Where the observed zone-pair flows are kept (a store setting).
const FLOWS_SETTING: &str = "inventory.reachability.edges";
/// At most this many devices are gathered between two flushes.
const MAX_SIGHTINGS: usize = 100_000;

/// The policy (when zones.toml has one) and the observed flows, for ranking exposure and
/// drawing the map.
pub struct Reach {
    policy: Option<Arc<CompiledPolicy>>,
    edges: Vec<Edge>,
    dropped: u64,
}

impl Reach {
    pub fn with_inventory(inventory: &Inventory, store: &dyn Store) -> Result<Reach> {
        let (edges, dropped) = stored_edges(store)?;
        Ok(Reach {
            policy: CompiledPolicy::of_inventory(inventory).map(Arc::new),
            edges,
            dropped,
        })
    }

    /// Whether an untrusted zone (guest Wi-Fi, the internet, a vendor VPN …) may reach the
    /// asset's zone by policy, or was seen to.
    pub fn of(&self, asset: &Asset) -> Reachability {
        let mut why = Vec::new();
        let Some(policy) = &self.policy else {
            return Reachability::default();
        };
        let zone = policy
            .zone_id(&asset.zone)
            .or_else(|| asset.addresses.first().map(|ip| policy.zone_of(*ip)));
        let Some(zone) = zone else {
            return Reachability::default();
        };
        let zone_name = policy.zone_name(zone).to_string();
        for (id, info) in policy.zones().iter().enumerate() {
            let Ok(from) = u16::try_from(id) else { break };
            if info.trusted || from == zone {
                continue;
            }
            let services = policy.services_between(from, zone);
            if !services.is_empty() {
                why.push(format!(
                    "the policy lets {} reach {zone_name} ({})",
                    info.name,
                    services.join(", ")
                ));
            }
        }
        let addresses: Vec<String> = asset.addresses.iter().map(|a| a.to_string()).collect();
        for edge in self.edges.iter().filter(|e| e.to == zone_name) {
            let untrusted = policy
                .zone_id(&edge.from)
                .and_then(|z| policy.zone(z))
                .is_some_and(|z| !z.trusted);
            if !untrusted {
                continue;
            }
            let this_asset = edge
                .phi_destinations
                .iter()
                .any(|d| addresses.contains(d) || asset.hostnames.contains(d) || *d == asset.id);
            why.push(format!(
                "{} was seen reaching {}{} ({} connection(s), {} denied by policy, last {})",
                edge.from,
                if this_asset { "this asset in " } else { "" },
                zone_name,
                edge.connections,
                edge.denied,
                edge.last_seen
            ));
        }
        Reachability {
            from_untrusted: !why.is_empty(),
            why,
        }
    }

    /// The map of zones, allowed paths and observed flows; `None` without a policy.
    pub fn map(&self) -> Option<ReachabilityMap> {
        let policy = self.policy.as_ref()?;
        Some(ReachabilityMap::of_policy(
            policy,
            self.edges.clone(),
            self.dropped,
        ))
    }
}

/// The observed flows stored so far, and how many flows did not fit.
fn stored_edges(store: &dyn Store) -> Result<(Vec<Edge>, u64)> {
    match store.setting(FLOWS_SETTING)? {
        None => Ok((Vec::new(), 0)),
        Some(text) => {
            let stored: StoredFlows =
                serde_json::from_str(&text).map_err(|e| StoredError::Corrupt {
                    what: "reachability map".into(),
                    reason: e.to_string(),
                })?;
            Ok((stored.edges, stored.dropped))
        }
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredFlows {
    edges: Vec<Edge>,
    dropped: u64,
}

/// What a flush wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flushed {
    /// Devices seen for the first time.
    pub new_devices: u64,
    /// Sightings not kept because more devices appeared between two flushes than the
    /// watcher holds.
    pub dropped_sightings: u64,
}

/// What the watcher has gathered since the last flush.
struct Gathered {
    discovery: Discovery<Box<dyn Fn(std::net::IpAddr) -> bool + Send>>,
    flows: Option<FlowTally>,
}

/// Sees every newly stored event and gathers devices and zone-pair flows (see the module).
#[derive(Clone)]
pub struct Watcher {
    gathered: Arc<Mutex<Gathered>>,
    policy: Option<Arc<CompiledPolicy>>,
    inventory: Arc<Inventory>,
}

fn fresh(policy: &Option<Arc<CompiledPolicy>>, inventory: &Arc<Inventory>) -> Gathered {
    // Devices are sought where the organisation keeps its own: inside its zones (except guest
    // Wi-Fi and remote-access pools, whose addresses change hands among visitors' and
    // vendors' machines), or at any private address when no zone is defined.
    let zones = inventory.clone();
    let internal: Box<dyn Fn(std::net::IpAddr) -> bool + Send> = Box::new(move |ip| {
        if zones.zones.is_empty() {
            return is_private(ip);
        }
        match zones.zone(ip) {
            Some(zone) => !matches!(zone.kind, ZoneKind::GuestWifi | ZoneKind::RemoteAccess),
            None => is_private(ip),
        }
    });
    Gathered {
        discovery: Discovery::new(internal, MAX_SIGHTINGS),
        flows: policy
            .as_ref()
            .map(|p| FlowTally::new(p.clone(), inventory.clone())),
    }
}

impl Watcher {
    pub fn new(inventory: Arc<Inventory>) -> Watcher {
        let policy = CompiledPolicy::of_inventory(&inventory).map(Arc::new);
        Watcher {
            gathered: Arc::new(Mutex::new(fresh(&policy, &inventory))),
            policy,
            inventory,
        }
    }

    /// A detector handle for the engine; it shares what it gathers with this watcher.
    pub fn detector(&self) -> Box<dyn Detector> {
        Box::new(self.clone())
    }

    /// Writes what was gathered since the last flush to the store: sightings merged into
    /// those stored, observed flows added to the stored map.
    pub fn flush(&self, store: &dyn Store) -> Result<Flushed> {
        let gathered = {
            let mut guard = self.gathered.lock().unwrap_or_else(PoisonError::into_inner);
            std::mem::replace(&mut *guard, fresh(&self.policy, &self.inventory))
        };
        let dropped_sightings = gathered.discovery.dropped;
        let new_devices = crate::stored::record_seen(store, &gathered.discovery.finish())?;
        if let Some(flows) = gathered.flows {
            let map = flows.map();
            if !map.edges.is_empty() || map.dropped_flows > 0 {
                let (stored, dropped) = stored_edges(store)?;
                let merged = StoredFlows {
                    edges: merge_edges(&stored, &map.edges),
                    dropped: dropped + map.dropped_flows,
                };
                let text = serde_json::to_string(&merged).map_err(|e| StoredError::Corrupt {
                    what: "reachability map".into(),
                    reason: e.to_string(),
                })?;
                store.set_setting(FLOWS_SETTING, &text)?;
            }
        }
        Ok(Flushed {
            new_devices,
            dropped_sightings,
        })
    }
}

impl Detector for Watcher {
    fn name(&self) -> &str {
        "inventory"
    }

    fn observe(&mut self, event: &Event, _out: &mut Vec<Finding>) {
        let mut gathered = self.gathered.lock().unwrap_or_else(PoisonError::into_inner);
        gathered.discovery.observe(event);
        if let Some(flows) = &mut gathered.flows {
            flows.observe_event(event);
        }
    }
}
