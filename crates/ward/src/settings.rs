//! What `ward serve` tells the console's settings page: the effective values of the settings
//! an auditor asks about (encryption at rest, the data directory, listeners, detection,
//! notifications, scans) and the configuration file's text with every secret redacted.
//!
//! Redaction is by key name, so a secret added to the configuration later is covered without
//! touching this file: any key naming a secret, token, password or URL (webhook URLs are
//! bearer secrets, and URLs may carry credentials) and the KMS command (its arguments may)
//! has its value replaced; keys ending in `_env` name an environment variable and are shown.

use crate::config::Config;
use std::path::Path;
use ward_console::{SettingGroup, SettingsView};
use ward_store::{SqliteStore, Store};

/// Shown in place of a secret value.
pub const REDACTED: &str = "<redacted>";

/// Whether the value under `key` must not be shown.
fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    if key.ends_with("_env") {
        return false;
    }
    [
        "secret",
        "password",
        "passwd",
        "token",
        "url",
        "webhook",
        "kek_command",
        "api_key",
    ]
    .iter()
    .any(|s| key.contains(s))
}

fn redact(value: &mut toml::Value) {
    match value {
        toml::Value::Table(table) => redact_table(table),
        toml::Value::Array(items) => items.iter_mut().for_each(redact),
        toml::Value::String(text) => {
            // `scheme://user:password@host`: the credentials go whatever the key.
            if let Some((scheme, rest)) = text.split_once("://") {
                let end = rest.find('/').unwrap_or(rest.len());
                let (authority, path) = rest.split_at(end);
                if let Some((_, host)) = authority.rsplit_once('@') {
                    *text = format!("{scheme}://{REDACTED}@{host}{path}");
                }
            }
        }
        _ => {}
    }
}

fn redact_table(table: &mut toml::Table) {
    for (key, value) in table.iter_mut() {
        if is_secret(key) {
            *value = toml::Value::String(REDACTED.into());
        } else {
            redact(value);
        }
    }
}

/// The configuration text with secrets redacted; `None` when it does not read as TOML (it
/// did, or `ward serve` would not have started).
pub fn redacted_config(text: &str) -> Option<String> {
    let mut table: toml::Table = toml::from_str(text).ok()?;
    redact_table(&mut table);
    toml::to_string_pretty(&table).ok()
}

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

/// Everything the settings page shows besides the console's own policy.
pub fn view(config: &Config, data_dir: &Path, store: &SqliteStore) -> SettingsView {
    let mut groups = Vec::new();

    let mut storage = SettingGroup::new("Storage and encryption at rest")
        .item("data directory", data_dir.display())
        .item("Ward version", env!("CARGO_PKG_VERSION"));
    match crate::keys::kek_source(config, data_dir) {
        Ok((source, default)) => {
            storage = storage.item(
                "key-encryption key",
                format!("{source}{}", if default { " (default)" } else { "" }),
            );
        }
        Err(e) => storage = storage.item("key-encryption key", format!("not usable: {e}")),
    }
    storage = storage.item(
        "PHI fields and raw records",
        if store.checkpoint_public_key().is_some() {
            "encrypted with AES-256-GCM under per-month data keys; lookups by keyed hash"
        } else {
            "NOT encrypted: the store has no keys"
        },
    );
    if let Some(public) = store.checkpoint_public_key() {
        storage = storage.item(
            "checkpoint signing key (Ed25519, public)",
            ward_vault::hex(&public),
        );
    }
    match store.data_keys() {
        Ok(keys) => {
            for key in keys {
                storage = storage.item(
                    format!("data key {}", key.id),
                    format!(
                        "{} {} created {}{}",
                        key.purpose,
                        key.period.as_deref().unwrap_or("-"),
                        key.created_at,
                        key.retired_at
                            .map(|t| format!(", retired {t}"))
                            .unwrap_or_default()
                    ),
                );
            }
        }
        Err(e) => storage = storage.item("data keys", format!("cannot be read: {e}")),
    }
    groups.push(storage);

    let listen = &config.listen;
    let mut listeners = SettingGroup::new("Listeners ([listen])")
        .item("syslog over UDP", on_off(listen.syslog_udp.enabled))
        .item("syslog over TCP", on_off(listen.syslog_tcp.enabled))
        .item("syslog over TLS", on_off(listen.syslog_tls.enabled))
        .item("HL7 v2 over MLLP", on_off(listen.mllp.enabled))
        .item("HL7 v2 over MLLP with TLS", on_off(listen.mllp_tls.enabled))
        .item("NetFlow / IPFIX", on_off(listen.netflow.enabled))
        .item(
            "HTTP ingest API tokens",
            listen.http.token_sha256.len().to_string(),
        )
        .item(
            "store commits in flight at most",
            listen.max_pending_commits.unwrap_or(4),
        );
    listeners = listeners.item(
        "TLS certificate",
        match (&listen.tls.cert, &listen.tls.key) {
            (Some(cert), Some(_)) => format!("{} (key file configured)", cert.display()),
            _ => "generated at start (self-signed)".to_string(),
        },
    );
    groups.push(listeners);

    let detect = &config.detect;
    let disabled = store
        .setting(ward_detect::switches::SETTING)
        .ok()
        .flatten()
        .and_then(|text| ward_detect::switches::RuleSwitches::parse(Some(&text)).ok())
        .map_or(0, |s| s.disabled.len());
    groups.push(
        SettingGroup::new("Detection ([detect])")
            .item(
                "inventory folder",
                detect
                    .inventory
                    .as_ref()
                    .map_or("none".to_string(), |p| p.display().to_string()),
            )
            .item(
                "GeoIP database (City)",
                detect
                    .geoip
                    .as_ref()
                    .map_or("none: network-prefix novelty".to_string(), |p| {
                        p.display().to_string()
                    }),
            )
            .item(
                "GeoIP database (ASN)",
                detect
                    .asn
                    .as_ref()
                    .map_or("none".to_string(), |p| p.display().to_string()),
            )
            .item(
                "source silent after",
                match detect.silence_after_minutes {
                    Some(0) => "never".to_string(),
                    Some(m) => format!("{m} min"),
                    None => "60 min (default)".to_string(),
                },
            )
            .item("per-source silence overrides", detect.silence.len())
            .item("rules switched off", disabled),
    );

    groups.push(privacy_group(&detect.privacy));

    let notify = config.notify.as_ref();
    groups.push(
        SettingGroup::new("Notifications ([notify]) and metrics")
            .item("channels", notify.map_or(0, |n| n.channels.len()))
            .item("routes", notify.map_or(0, |n| n.routes.len()))
            .item("/metrics scrape tokens", config.metrics.token_sha256.len()),
    );

    let inventory = &config.inventory;
    groups.push(
        SettingGroup::new("Inventory ([inventory])")
            .item("TLS scan targets", inventory.scan_targets.len())
            .item(
                "TLS scans every",
                inventory
                    .scan_every_hours
                    .map_or("24 h (default)".to_string(), |h| format!("{h} h")),
            )
            .item(
                "endoflife.date products followed",
                if inventory.endoflife_products.is_empty() {
                    "the bundled list".to_string()
                } else {
                    inventory.endoflife_products.join(", ")
                },
            ),
    );

    groups.push(
        SettingGroup::new("Incident response ([respond])")
            .item(
                "response plan",
                config
                    .respond
                    .plans_dir
                    .as_ref()
                    .map_or("the plan Ward ships".to_string(), |p| {
                        format!("edited plans in {}", p.display())
                    }),
            )
            .item(
                "deadline check every",
                format!(
                    "{} s",
                    config
                        .respond
                        .deadline_check_seconds
                        .unwrap_or(crate::deadlines::CHECK_EVERY.as_secs())
                ),
            ),
    );

    SettingsView {
        config_file: config
            .loaded_from
            .as_ref()
            .map(|(path, _)| path.display().to_string()),
        config_text: config
            .loaded_from
            .as_ref()
            .and_then(|(_, text)| redacted_config(text)),
        groups,
    }
}

/// The thresholds the privacy detector runs with: the file's keys over the defaults, each
/// marked when it is the default.
fn privacy_group(privacy: &crate::config::PrivacyConfig) -> SettingGroup {
    let group = SettingGroup::new("Patient-privacy monitoring ([detect.privacy])");
    let o = match privacy.options() {
        Ok(o) => o,
        // `ward serve` refuses such a file at start; a view of it says why all the same.
        Err(e) => return group.item("thresholds", format!("refused: {e}")),
    };
    let set = |given: bool, value: String| {
        if given {
            value
        } else {
            format!("{value} (default)")
        }
    };
    let minutes = |d: std::time::Duration| format!("{} min", d.as_secs() / 60);
    let hours = |d: std::time::Duration| format!("{} h", d.as_secs() / 3_600);
    let days = |d: std::time::Duration| format!("{} days", d.as_secs() / 86_400);
    let list = |given: &Option<Vec<String>>, values: &[String]| {
        let text = if values.is_empty() {
            "none".to_string()
        } else {
            values.join(", ")
        };
        set(given.is_some(), text)
    };
    let p = privacy;
    group
        .item(
            "outside the department: first looks that make an alert",
            set(
                p.outside_department_min_patients.is_some()
                    || p.outside_department_window_days.is_some(),
                format!(
                    "{} patients within {}",
                    o.outside_department_min_patients,
                    days(o.outside_department_window)
                ),
            ),
        )
        .item(
            "bulk sweep",
            set(
                p.sweep_min_patients.is_some() || p.sweep_window_minutes.is_some(),
                format!(
                    "{} unexplained patients within {}",
                    o.sweep_min_patients,
                    minutes(o.sweep_window)
                ),
            ),
        )
        .item(
            "mass export",
            set(
                p.export_min_patients.is_some() || p.export_window_minutes.is_some(),
                format!(
                    "{} patients within {}",
                    o.export_min_patients,
                    minutes(o.export_window)
                ),
            ),
        )
        .item(
            "templates learned from the data",
            set(
                p.learn.is_some()
                    || p.learn_hold_hours.is_some()
                    || p.learn_min_users.is_some()
                    || p.learn_min_user_share.is_some()
                    || p.learn_min_patients.is_some(),
                if o.learn {
                    format!(
                        "on: held {}, at least {} users and {:.0}% of the department, {} patients",
                        hours(o.learn_hold),
                        o.learn_min_users,
                        o.learn_min_user_share * 100.0,
                        o.learn_min_patients
                    )
                } else {
                    "off".to_string()
                },
            ),
        )
        .item(
            "after hours begins",
            set(
                p.after_hours_margin_hours.is_some(),
                format!("{} h from the user's usual hours", o.after_hours_margin),
            ),
        )
        .item(
            "volume far above the baseline",
            set(
                p.volume_min_patients.is_some() || p.volume_factor.is_some(),
                format!(
                    "{} patients in an hour and {}× the usual",
                    o.volume_min_patients, o.volume_factor
                ),
            ),
        )
        .item(
            "break-the-glass needs a clinical action within",
            set(
                p.break_glass_follow_up_minutes.is_some(),
                minutes(o.break_glass_follow_up),
            ),
        )
        .item(
            "care team follow-up after an encounter",
            set(
                p.care_team_follow_up_days.is_some(),
                days(o.care_team_follow_up),
            ),
        )
        .item(
            "who opened whom is remembered for",
            set(p.seen_for_days.is_some(), days(o.seen_for)),
        )
        .item(
            "own and family records flagged even when explained",
            set(
                p.personal_links_regardless.is_some(),
                if o.personal_links_regardless {
                    "yes"
                } else {
                    "no"
                }
                .to_string(),
            ),
        )
        .item(
            "ancillary roles",
            list(&p.ancillary_roles, &o.ancillary_roles),
        )
        .item(
            "back-office roles",
            list(&p.back_office_roles, &o.back_office_roles),
        )
        .item(
            "back-office departments",
            list(&p.back_office_departments, &o.back_office_departments),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_credentials_in_urls_are_redacted_and_env_names_kept() {
        let text = r#"
data_dir = "/var/lib/ward"
[keys]
kek_command = ["vault", "read", "-field=key", "--token=s.abcdef"]
[metrics]
token_sha256 = ["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]
[notify.channels.soc]
kind = "webhook"
url = "https://hooks.example.org/T000/B000/XXXXXXXX"
secret = "hunter2-webhook"
secret_env = "WARD_WEBHOOK_SECRET"
[notify.channels.mail]
smtp = "smtp://ward:mailpass@mail.example.org:587"
password_env = "SMTP_PASSWORD"
"#;
        let out = redacted_config(text).expect("reads");
        for secret in [
            "s.abcdef",
            "9f86d081",
            "XXXXXXXX",
            "hunter2-webhook",
            "mailpass",
        ] {
            assert!(!out.contains(secret), "{secret} shown in:\n{out}");
        }
        for kept in [
            "/var/lib/ward",
            "WARD_WEBHOOK_SECRET",
            "SMTP_PASSWORD",
            "mail.example.org:587",
            "soc",
        ] {
            assert!(out.contains(kept), "{kept} missing from:\n{out}");
        }
        assert!(out.contains(REDACTED));
    }

    #[test]
    fn the_privacy_thresholds_shown_are_the_files_keys_over_the_defaults() {
        let privacy: crate::config::PrivacyConfig =
            toml::from_str("sweep_min_patients = 40\nlearn = false\nancillary_roles = [\"LAB\"]")
                .expect("parses");
        let group = privacy_group(&privacy);
        let value = |key: &str| {
            group
                .items
                .iter()
                .find(|i| i.key == key)
                .map(|i| i.value.clone())
                .unwrap_or_else(|| panic!("no {key}"))
        };
        assert_eq!(value("bulk sweep"), "40 unexplained patients within 60 min");
        assert_eq!(value("templates learned from the data"), "off");
        assert_eq!(value("ancillary roles"), "LAB");
        assert_eq!(value("mass export"), "20 patients within 60 min (default)");
        assert_eq!(
            value("who opened whom is remembered for"),
            "180 days (default)"
        );
        let refused: crate::config::PrivacyConfig =
            toml::from_str("sweep_min_patients = 0").expect("parses");
        let group = privacy_group(&refused);
        assert!(
            group.items[0]
                .value
                .starts_with("refused: [detect.privacy] sweep_min_patients")
        );
    }
}
