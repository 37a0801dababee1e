//! Sigma rules added to the store (`ward rules add`): checked before they are kept, kept as
//! their text (a store setting) with who added them and when, and loaded beside the shipped
//! pack and the `--rules` folders by `ward ingest` and at the start of `ward serve`.

use crate::commands::BadInput;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use ward_detect::sigma::{Collection, Placeholders};
use ward_model::Timestamp;
use ward_store::Store;

/// The store setting the added rules live under.
const SETTING: &str = "detect.rules.added";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Added {
    /// The file name it was added from; adding a file of the same name replaces it.
    name: String,
    text: String,
    by: String,
    at: Timestamp,
}

fn load(store: &dyn Store) -> Result<Vec<Added>> {
    match store.setting(SETTING)? {
        None => Ok(Vec::new()),
        Some(text) => serde_json::from_str(&text).context("the added rules do not read back"),
    }
}

fn save(store: &dyn Store, rules: &[Added]) -> Result<()> {
    store.set_setting(SETTING, &serde_json::to_string(rules)?)?;
    Ok(())
}

/// Every added rule as one collection (each was checked when added; one that no longer loads,
/// after an upgrade say, is named on standard error and left out).
pub fn collection(store: &dyn Store, placeholders: &Placeholders) -> Result<Collection> {
    let mut all = Collection::with_placeholders(placeholders.clone());
    for rule in load(store)? {
        let origin = format!("store:{}", rule.name);
        if let Err(e) = all.add(&rule.text, &origin) {
            eprintln!("{origin}: not loaded: {e}");
        }
    }
    Ok(all)
}

pub fn add(
    store: &dyn Store,
    files: &[PathBuf],
    by: Option<String>,
    placeholders: &Placeholders,
) -> Result<ExitCode> {
    let by = by
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "cli".into());
    let mut rules = load(store)?;
    let mut checked = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let mut collection = Collection::with_placeholders(placeholders.clone());
        collection
            .add(&text, &file.display().to_string())
            .map_err(|e| BadInput(format!("{}: {e}; nothing was added", file.display())))?;
        let name = file.file_name().map_or_else(
            || file.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        checked.push((
            name,
            text,
            collection.rules.len() + collection.correlations.len(),
        ));
    }
    let mut out = std::io::stdout().lock();
    for (name, text, count) in checked {
        rules.retain(|r| r.name != name);
        rules.push(Added {
            name: name.clone(),
            text,
            by: by.clone(),
            at: Timestamp::now(),
        });
        writeln!(out, "{name}: {count} rule(s) added")?;
    }
    rules.sort_by(|a, b| a.name.cmp(&b.name));
    save(store, &rules)?;
    writeln!(
        out,
        "they run from the next `ward ingest`, and from the next start of `ward serve`"
    )?;
    Ok(ExitCode::SUCCESS)
}

pub fn remove(store: &dyn Store, name: &str) -> Result<ExitCode> {
    let mut rules = load(store)?;
    let before = rules.len();
    rules.retain(|r| r.name != name);
    if rules.len() == before {
        return Err(BadInput(format!("no rule file {name} was added")).into());
    }
    save(store, &rules)?;
    println!("{name}: removed");
    Ok(ExitCode::SUCCESS)
}
