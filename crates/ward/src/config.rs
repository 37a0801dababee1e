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
    /// Patient-privacy monitoring thresholds (`[detect.privacy]`, docs/privacy.md).
    #[serde(default)]
    pub privacy: PrivacyConfig,
}

/// The privacy detector's settings a privacy officer tunes (`[detect.privacy]`); each absent
/// key keeps the default documented in docs/privacy.md. Durations are whole units named in
/// the key, as elsewhere in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacyConfig {
    /// First looks at strangers of other departments, within `outside_department_window_days`,
    /// that make an alert (default 3; 1: every such look).
    pub outside_department_min_patients: Option<usize>,
    pub outside_department_window_days: Option<u64>,
    /// Unexplained accesses to this many distinct patients within the window are a bulk sweep
    /// (default 15 in 60 minutes).
    pub sweep_min_patients: Option<usize>,
    pub sweep_window_minutes: Option<u64>,
    /// Exports of this many distinct patients within the window are a mass export (default
    /// 20 in 60 minutes).
    pub export_min_patients: Option<usize>,
    pub export_window_minutes: Option<u64>,
    /// Learn department-to-department templates from the data (default true).
    pub learn: Option<bool>,
    /// How long an unexplained access waits for a template to be learned (default 24).
    pub learn_hold_hours: Option<u64>,
    /// A template needs this many users (default 3), this share of the department's staff
    /// (default 0.1) and this many patients (default 5).
    pub learn_min_users: Option<usize>,
    pub learn_min_user_share: Option<f64>,
    pub learn_min_patients: Option<usize>,
    /// How far from the user's usual hours a stretch of work begins to be after hours
    /// (default 2).
    pub after_hours_margin_hours: Option<u32>,
    /// Distinct patients in an hour, and the factor over the user's and peers' usual hour,
    /// that make a volume alert (default 30 and 3).
    pub volume_min_patients: Option<usize>,
    pub volume_factor: Option<f64>,
    /// How soon a clinical action must follow break-the-glass (default 120).
    pub break_glass_follow_up_minutes: Option<u64>,
    /// How long after an encounter its care team may still open the record (default 7).
    pub care_team_follow_up_days: Option<u64>,
    /// How long Ward remembers that a user opened a patient's record (default 180).
    pub seen_for_days: Option<u64>,
    /// Flag a user's own and family members' records even when a template explains the
    /// access (default true).
    pub personal_links_regardless: Option<bool>,
    /// Role codes that serve every current patient (laboratory, radiology, pharmacy).
    pub ancillary_roles: Option<Vec<String>>,
    /// Role codes and department codes or names of health information management, billing
    /// and registration.
    pub back_office_roles: Option<Vec<String>>,
    pub back_office_departments: Option<Vec<String>>,
}

impl PrivacyConfig {
    /// The privacy detector's options: the defaults with the keys given. A value that makes
    /// no sense (a count or window of 0, a share outside 0–1, a factor below 1) is refused,
    /// naming the key.
    pub fn options(&self) -> Result<ward_detect::privacy::PrivacyOptions, BadInput> {
        use std::time::Duration;
        let mut o = ward_detect::privacy::PrivacyOptions::default();
        let bad =
            |key: &str, what: &str| BadInput(format!("[detect.privacy] {key} must be {what}"));
        let count = |key: &str, v: Option<usize>, into: &mut usize| {
            match v {
                Some(0) => return Err(bad(key, "at least 1")),
                Some(v) => *into = v,
                None => {}
            }
            Ok(())
        };
        const MINUTE: u64 = 60;
        const HOUR: u64 = 3_600;
        const DAY: u64 = 86_400;
        // Ten years: longer windows mean nothing here, and far larger ones would overflow the
        // detector's millisecond arithmetic.
        const LONGEST: u64 = 3_650 * DAY;
        let span = |key: &str, v: Option<u64>, unit: u64, into: &mut Duration| {
            match v {
                Some(0) => return Err(bad(key, "at least 1")),
                Some(v) if v > LONGEST / unit => {
                    let most = LONGEST / unit;
                    return Err(bad(key, &format!("at most {most} (ten years)")));
                }
                Some(v) => *into = Duration::from_secs(v * unit),
                None => {}
            }
            Ok(())
        };
        count(
            "outside_department_min_patients",
            self.outside_department_min_patients,
            &mut o.outside_department_min_patients,
        )?;
        span(
            "outside_department_window_days",
            self.outside_department_window_days,
            DAY,
            &mut o.outside_department_window,
        )?;
        count(
            "sweep_min_patients",
            self.sweep_min_patients,
            &mut o.sweep_min_patients,
        )?;
        span(
            "sweep_window_minutes",
            self.sweep_window_minutes,
            MINUTE,
            &mut o.sweep_window,
        )?;
        count(
            "export_min_patients",
            self.export_min_patients,
            &mut o.export_min_patients,
        )?;
        span(
            "export_window_minutes",
            self.export_window_minutes,
            MINUTE,
            &mut o.export_window,
        )?;
        if let Some(learn) = self.learn {
            o.learn = learn;
        }
        span(
            "learn_hold_hours",
            self.learn_hold_hours,
            HOUR,
            &mut o.learn_hold,
        )?;
        count(
            "learn_min_users",
            self.learn_min_users,
            &mut o.learn_min_users,
        )?;
        if let Some(share) = self.learn_min_user_share {
            if !(0.0..=1.0).contains(&share) {
                return Err(bad("learn_min_user_share", "between 0 and 1"));
            }
            o.learn_min_user_share = share;
        }
        count(
            "learn_min_patients",
            self.learn_min_patients,
            &mut o.learn_min_patients,
        )?;
        if let Some(hours) = self.after_hours_margin_hours {
            if !(1..=12).contains(&hours) {
                return Err(bad("after_hours_margin_hours", "between 1 and 12"));
            }
            o.after_hours_margin = hours;
        }
        count(
            "volume_min_patients",
            self.volume_min_patients,
            &mut o.volume_min_patients,
        )?;
        if let Some(factor) = self.volume_factor {
            if !(factor >= 1.0 && factor.is_finite()) {
                return Err(bad("volume_factor", "a number of at least 1"));
            }
            o.volume_factor = factor;
        }
        span(
            "break_glass_follow_up_minutes",
            self.break_glass_follow_up_minutes,
            MINUTE,
            &mut o.break_glass_follow_up,
        )?;
        span(
            "care_team_follow_up_days",
            self.care_team_follow_up_days,
            DAY,
            &mut o.care_team_follow_up,
        )?;
        span("seen_for_days", self.seen_for_days, DAY, &mut o.seen_for)?;
        if let Some(regardless) = self.personal_links_regardless {
            o.personal_links_regardless = regardless;
        }
        for (list, into) in [
            (&self.ancillary_roles, &mut o.ancillary_roles),
            (&self.back_office_roles, &mut o.back_office_roles),
            (
                &self.back_office_departments,
                &mut o.back_office_departments,
            ),
        ] {
            if let Some(list) = list {
                into.clone_from(list);
            }
        }
        Ok(o)
    }
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
        // Refused here, naming the file, rather than by the first command that builds the
        // privacy detector.
        config
            .detect
            .privacy
            .options()
            .map_err(|e| BadInput(format!("invalid configuration {}: {}", path.display(), e.0)))?;
        config.loaded_from = Some((path.to_path_buf(), text));
        Ok(config)
    }
}
