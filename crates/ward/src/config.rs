//! The configuration file (TOML). Every key is optional; unknown keys are refused so a typo
//! never silently falls back to a default.

use crate::commands::BadInput;
use anyhow::Context;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub data_dir: Option<PathBuf>,
    #[serde(default)]
    pub ingest: IngestConfig,
    /// Network listeners started by `ward serve` (see README, "Configuration").
    #[serde(default)]
    pub listen: ward_listen::ListenConfig,
    #[serde(default)]
    pub detect: DetectConfig,
    /// Where the key-encryption key comes from (docs/keys.md).
    #[serde(default)]
    pub keys: KeysConfig,
    /// Notification channels, routes and on-call (docs/notify.md); none without it.
    pub notify: Option<ward_notify::NotifyConfig>,
    /// `GET /metrics` for a Prometheus scraper (docs/notify.md, "Metrics").
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// Feeds, TLS scans and discovery (docs/inventory.md).
    #[serde(default)]
    pub inventory: InventoryConfig,
    /// Incident response: the organisation's plan, PDF reports, the deadline check
    /// (docs/incidents.md).
    #[serde(default)]
    pub respond: RespondConfig,
    /// The file this configuration was read from and its text, for the console's settings
    /// page (shown with secrets redacted).
    #[serde(skip)]
    pub loaded_from: Option<(PathBuf, String)>,
}

/// Incident response settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RespondConfig {
    /// A folder holding the organisation's edited response plan: `plan.toml` and
    /// `playbooks/*.toml`, laid out as `crates/respond/plans`. Without it Ward follows the plan
    /// it ships. A plan that does not parse or validate stops Ward at start, naming the file
    /// and line.
    pub plans_dir: Option<PathBuf>,
    /// The Chromium that prints incident reports to PDF (default: `chromium` on `PATH`, then
    /// `/usr/bin/chromium`).
    pub chromium: Option<PathBuf>,
    /// How often `ward serve` checks the notification deadlines, in seconds (default 300).
    pub deadline_check_seconds: Option<u64>,
}

/// Where the vulnerability and lifecycle feeds come from, and which endpoints may be scanned.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventoryConfig {
    /// The CISA KEV catalogue (default: CISA's published JSON feed).
    pub kev_url: Option<String>,
    /// endoflife.date's product endpoint, `{product}` replaced by each product's name
    /// (default: `https://endoflife.date/api/v1/products/{product}`); a local mirror works.
    pub endoflife_url: Option<String>,
    /// The endoflife.date products to download (default: those already imported, else a
    /// list of what hospitals commonly run).
    #[serde(default)]
    pub endoflife_products: Vec<String>,
    /// PEM certificates trusted besides the public roots for downloads (a proxy's or mirror's
    /// private CA).
    pub feeds_ca_file: Option<PathBuf>,
    /// The organisation's own endpoints the TLS scan may connect to, `host:port`. The scan
    /// never touches anything else.
    #[serde(default)]
    pub scan_targets: Vec<String>,
    /// PEM certificates of the organisation's private CA, trusted when judging its servers.
    pub scan_ca_file: Option<PathBuf>,
    /// `ward serve` rescans the targets this often (hours; 0 or absent: only on demand).
    pub scan_every_hours: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// SHA-256 (hex) of the scrapers' bearer tokens; without any, `/metrics` refuses everyone.
    #[serde(default)]
    pub token_sha256: Vec<String>,
}

/// The source of the key-encryption key: at most one of the three. Without any, Ward reads
/// `WARD_KEK`, else the file beside the data directory (`ward-data.kek`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    /// A file holding the key as 64 hexadecimal digits, readable by its owner only.
    pub kek_file: Option<PathBuf>,
    /// An environment variable holding the key.
    pub kek_env: Option<String>,
    /// A command (program, then arguments; no shell) printing the key: a KMS client.
    pub kek_command: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectConfig {
    /// A folder with the inventory files the threat detectors read (`zones.toml`,
    /// `assets.csv`, `vendors.csv`, `partners.csv`, `hr-roster.csv`; docs/inventory-files.md).
    pub inventory: Option<PathBuf>,
    /// A MaxMind DB City database (`GeoLite2-City.mmdb`, GeoIP2-City, DB-IP City): places of
    /// public addresses for sign-ins that carry none (sshd, Windows, VPN), so impossible
    /// travel and new countries are seen there too. Without it, network-prefix novelty.
    pub geoip: Option<PathBuf>,
    /// A MaxMind DB ASN or ISP database (`GeoLite2-ASN.mmdb`), beside `geoip`: a user's
    /// networks become autonomous systems instead of /24 prefixes.
    pub asn: Option<PathBuf>,
    /// A watched source that sends nothing for this long is an alert (default 60; 0: off).
    pub silence_after_minutes: Option<u64>,
    /// Per source (as named in the alert and the metrics): minutes, 0 never.
    #[serde(default)]
    pub silence: std::collections::HashMap<String, u64>,
    /// The values of Sigma placeholders (`Field|expand: '%Admins_Workstations%'`), by name:
    /// Sigma strings, `*` and `?` wildcards kept. `[detect.placeholders]`.
    #[serde(default)]
    pub placeholders: std::collections::BTreeMap<String, Vec<String>>,
    /// What a placeholder without values does: `refuse` the rule (default, named in the load
    /// summary) or read it as `wildcard` (`*`, pySigma's wildcard placeholder transformation).
    pub unconfigured_placeholders: Option<UnconfiguredPlaceholders>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnconfiguredPlaceholders {
    Refuse,
    Wildcard,
}

impl DetectConfig {
    /// The placeholder values Sigma rules are compiled with.
    pub fn sigma_placeholders(&self) -> ward_detect::sigma::Placeholders {
        use ward_detect::sigma::{Placeholders, Unconfigured};
        let mut placeholders = Placeholders::new();
        for (name, values) in &self.placeholders {
            placeholders.set(name.clone(), values.clone());
        }
        placeholders.unconfigured(match self.unconfigured_placeholders {
            None | Some(UnconfiguredPlaceholders::Refuse) => Unconfigured::Refuse,
            Some(UnconfiguredPlaceholders::Wildcard) => Unconfigured::Wildcard,
        });
        placeholders
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// Decode worker threads (default: one per core, at most 8).
    pub workers: Option<usize>,
    /// Longest record line kept whole (default 16 MiB); longer ones are quarantined.
    pub max_record_bytes: Option<usize>,
    /// Largest single JSON document read whole (default 256 MiB).
    pub max_document_bytes: Option<u64>,
}

impl Config {
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read configuration {}", path.display()))?;
        let mut config: Config = toml::from_str(&text).map_err(|e| {
            anyhow::Error::from(BadInput(format!(
                "invalid configuration {}: {e}",
                path.display()
            )))
        })?;
        config.loaded_from = Some((path.to_path_buf(), text));
        Ok(config)
    }
}
