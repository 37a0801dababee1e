//! Reading what the detectors need from disk: the inventory files (zones, assets, vendors,
//! partners, HR roster; `docs/inventory-files.md`), the GeoIP databases and the user's Sigma
//! rule folders. The
//! detectors themselves live in `crates/detect` and never touch files.

use crate::commands::BadInput;
use crate::config::Config;
use anyhow::{Context as _, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use ward_detect::Detector;
use ward_detect::threat::geoip::GeoIp;
use ward_detect::threat::inventory::Inventory;

/// The inventory files, by their names in an inventory folder (the simulator's `context/`
/// layout).
const ZONES: &str = "zones.toml";
const ASSETS: &str = "assets.csv";
const VENDORS: &str = "vendors.csv";
const PARTNERS: &str = "partners.csv";
const ROSTER: &str = "hr-roster.csv";

/// Reads the inventory from `dir`; each file is optional, a file that is present must parse.
pub fn inventory_from_dir(dir: &Path) -> Result<Inventory> {
    let read = |name: &str| -> Result<Option<String>> {
        let path = dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    };
    let bad = |name: &str, e: &dyn std::fmt::Display| -> anyhow::Error {
        BadInput(format!("{}: {e}", dir.join(name).display())).into()
    };
    let mut inventory = Inventory::new();
    if let Some(text) = read(ZONES)? {
        let (zones, policy) =
            Inventory::parse_zones_and_policy(&text).map_err(|e| bad(ZONES, &e))?;
        inventory = inventory.with_zones(zones).with_policy(policy);
    }
    if let Some(text) = read(ASSETS)? {
        inventory =
            inventory.with_assets(Inventory::parse_assets(&text).map_err(|e| bad(ASSETS, &e))?);
    }
    if let Some(text) = read(VENDORS)? {
        inventory =
            inventory.with_vendors(Inventory::parse_vendors(&text).map_err(|e| bad(VENDORS, &e))?);
    }
    if let Some(text) = read(PARTNERS)? {
        inventory = inventory
            .with_partners(Inventory::parse_partners(&text).map_err(|e| bad(PARTNERS, &e))?);
    }
    if let Some(text) = read(ROSTER)? {
        inventory =
            inventory.with_staff(Inventory::parse_roster(&text).map_err(|e| bad(ROSTER, &e))?);
    }
    Ok(inventory)
}

/// The inventory named by `[detect] inventory` in the configuration, or an empty one.
pub fn inventory_from_config(config: &Config) -> Result<Inventory> {
    match &config.detect.inventory {
        Some(dir) => inventory_from_dir(dir),
        None => Ok(Inventory::new()),
    }
}

/// The names of the GeoIP databases in an inventory folder laid out as the simulator's
/// `context/` (the demo's).
const GEOIP: &str = "geoip.mmdb";
const GEOIP_ASN: &str = "geoip-asn.mmdb";

/// The GeoIP databases named by `[detect] geoip` and `[detect] asn`, or none. A file that is
/// missing, unreadable, not a MaxMind DB or of the wrong kind stops Ward at start, naming it.
pub fn geoip_from_config(config: &Config) -> Result<Option<Arc<GeoIp>>> {
    let (city, asn) = (&config.detect.geoip, &config.detect.asn);
    match (city, asn) {
        (None, None) => Ok(None),
        (None, Some(asn)) => Err(BadInput(format!(
            "[detect] asn = {} needs [detect] geoip (a City database) beside it",
            asn.display()
        ))
        .into()),
        (Some(city), asn) => geoip_from_files(city, asn.as_deref()).map(Some),
    }
}

/// The demo's GeoIP databases: those the simulator wrote into `dir` (an older simulated
/// hospital has none).
pub fn geoip_from_dir(dir: &Path) -> Result<Option<Arc<GeoIp>>> {
    let city = dir.join(GEOIP);
    if !city.is_file() {
        return Ok(None);
    }
    let asn = Some(dir.join(GEOIP_ASN)).filter(|p| p.is_file());
    geoip_from_files(&city, asn.as_deref()).map(Some)
}

fn geoip_from_files(city: &Path, asn: Option<&Path>) -> Result<Arc<GeoIp>> {
    let read = |path: &Path| -> Result<Vec<u8>> {
        std::fs::read(path).map_err(|e| {
            BadInput(format!(
                "cannot read the GeoIP database {}: {e}",
                path.display()
            ))
            .into()
        })
    };
    let bad = |path: &Path, e: ward_detect::threat::geoip::GeoIpError| -> anyhow::Error {
        BadInput(format!("GeoIP database {}: {e}", path.display())).into()
    };
    let mut geoip = GeoIp::city(read(city)?).map_err(|e| bad(city, e))?;
    if let Some(asn) = asn {
        geoip = geoip.with_asn(read(asn)?).map_err(|e| bad(asn, e))?;
    }
    Ok(Arc::new(geoip))
}

/// Every detector Ward runs: the shipped Sigma pack plus the rule folders given, privacy
/// monitoring and the threat analytics over `inventory` (the credential detector with the
/// GeoIP databases, when given), and the inventory's watcher (discovery and observed flows),
/// returned too so its caller can flush what it gathers.
pub fn detectors(
    inventory: Inventory,
    geoip: Option<Arc<GeoIp>>,
    rule_dirs: &[PathBuf],
    store: &dyn ward_store::Store,
    placeholders: &ward_detect::sigma::Placeholders,
    privacy: ward_detect::privacy::PrivacyOptions,
) -> Result<(Vec<Box<dyn Detector>>, ward_inventory::reach::Watcher)> {
    let extra = extra_rules(rule_dirs, store, placeholders)?;
    let inventory = Arc::new(inventory);
    let mut detectors =
        ward_detect::standard::standard_configured(inventory.clone(), extra, geoip, privacy)
            .map_err(|e| BadInput(format!("the detection rules do not load: {e}")))?;
    let watcher = ward_inventory::reach::Watcher::new(inventory);
    detectors.push(watcher.detector());
    Ok((detectors, watcher))
}

/// The rules beside the shipped pack: the `--rules` folders and those added to the store.
fn extra_rules(
    rule_dirs: &[PathBuf],
    store: &dyn ward_store::Store,
    placeholders: &ward_detect::sigma::Placeholders,
) -> Result<ward_detect::sigma::Collection> {
    let mut extra = crate::commands::load_folders(rule_dirs, placeholders)?;
    let added = crate::added_rules::collection(store, placeholders)?;
    extra.rules.extend(added.rules);
    extra.correlations.extend(added.correlations);
    Ok(extra)
}

/// The detection engine over `detectors`, with alert ids keyed by the store's keys when it
/// encrypts PHI (`Engine::key_alert_ids`: an id must not let a copy of the store confirm which
/// patient an alert concerns).
pub fn engine(
    detectors: Vec<Box<dyn Detector>>,
    store: &ward_store::SqliteStore,
) -> ward_detect::Engine {
    let mut engine = ward_detect::Engine::new(detectors);
    if let Some(key) = store.derived_secret(ALERT_ID_LABEL) {
        engine.key_alert_ids(key);
    }
    restore_state(&mut engine, store);
    engine
}

/// Gives the detectors the state they saved at the end of the last run (open correlation
/// windows), so a pattern spanning two runs is seen. State that cannot be used is reported
/// and left out: detection then starts empty for it, as before this existed.
pub fn restore_state(engine: &mut ward_detect::Engine, store: &dyn ward_store::Store) {
    let said = engine.restore_states(&mut |name| match store.detector_state(name) {
        Ok(state) => state,
        Err(e) => {
            eprintln!(
                "ward: the saved state of detector {name} cannot be read ({e}); it starts empty"
            );
            None
        }
    });
    for (name, answer) in said {
        match answer {
            Ok(taken) => tracing::info!(detector = %name, "{taken}"),
            Err(reason) => eprintln!("ward: detector {name}: {reason}; it starts empty"),
        }
    }
}

/// Saves what the detectors must remember until the next run (`ward ingest` at its end,
/// `ward serve` every few minutes and at shutdown).
/// The engine is locked only while its state is serialised, not while it is written.
pub fn save_state(
    engine: &std::sync::Mutex<ward_detect::Engine>,
    store: &dyn ward_store::Store,
) -> Result<()> {
    let states = engine
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .save_states();
    for (name, state) in states {
        store
            .save_detector_state(&name, &state)
            .with_context(|| format!("cannot save the state of detector {name}"))?;
    }
    Ok(())
}

/// The label the alert-id key is derived under.
const ALERT_ID_LABEL: &str = "alert ids";

/// Every rule the standard detectors can raise, for the console's rules page: the Sigma rules
/// and correlations (shipped pack and the folders given), the privacy rules and the threat
/// analytics' rules.
pub fn catalogue(
    rule_dirs: &[PathBuf],
    store: &dyn ward_store::Store,
    placeholders: &ward_detect::sigma::Placeholders,
) -> Result<Vec<ward_console::RuleInfo>> {
    use ward_detect::sigma::{describe_logsource, pack, rule_key};
    let mut rules = Vec::new();
    for collection in [
        pack::shipped()?,
        extra_rules(rule_dirs, store, placeholders)?,
    ] {
        for (compiled, _) in &collection.rules {
            let r = &compiled.rule;
            rules.push(ward_console::RuleInfo {
                id: rule_key(r.id.as_deref(), r.name.as_deref(), &r.title),
                title: r.title.clone(),
                detector: "sigma".into(),
                level: r.level.clone().unwrap_or_else(|| "medium".into()),
                logsource: Some(describe_logsource(&r.logsource)),
                attack: r.attack.clone(),
                hipaa: r.hipaa.clone(),
                author: r.author.clone(),
                license: r.license.clone(),
                description: r.description.clone(),
            });
        }
        for (correlation, _) in &collection.correlations {
            let m = &correlation.meta;
            rules.push(ward_console::RuleInfo {
                id: rule_key(m.id.as_deref(), m.name.as_deref(), &m.title),
                title: m.title.clone(),
                detector: "sigma correlation".into(),
                level: m.level.clone().unwrap_or_else(|| "medium".into()),
                logsource: None,
                attack: m.attack.clone(),
                hipaa: m.hipaa.clone(),
                author: m.author.clone(),
                license: m.license.clone(),
                description: m.description.clone(),
            });
        }
    }
    use ward_detect::threat::{credential, mail, network, segmentation};
    for (detector, table) in [
        ("privacy", ward_detect::privacy::RULES),
        ("credential", credential::RULES),
        ("network", network::RULES),
        ("segmentation", segmentation::RULES),
        ("mail", mail::RULES),
    ] {
        for rule in table {
            rules.push(ward_console::RuleInfo {
                id: rule.id.into(),
                title: rule.title.into(),
                detector: detector.into(),
                level: rule.severity.as_str().into(),
                logsource: None,
                attack: rule.attack.iter().map(|s| s.to_string()).collect(),
                hipaa: rule.hipaa.iter().map(|s| s.to_string()).collect(),
                author: Some("Ward".into()),
                license: Some("Apache-2.0".into()),
                description: None,
            });
        }
    }
    Ok(rules)
}
