//! Opening the store with its key-encryption key, and `ward keys`: generate, show, rotate,
//! re-encrypt. See docs/keys.md.

use crate::commands::BadInput;
use crate::config::Config;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use ward_store::SqliteStore;
use ward_store::sqlite::DB_FILE;
use ward_vault::{Kek, KekSource};

/// The environment variable read for the key when the configuration names no source.
pub const KEK_ENV: &str = "WARD_KEK";

/// Where the key-encryption key comes from: the configuration's `[keys]` (one of
/// `kek_file`, `kek_env`, `kek_command`), else `WARD_KEK` when set, else the file beside the
/// data directory (`ward-data.kek` for `ward-data`), which Ward creates for a new store.
/// The second value says whether the source is that default file.
pub fn kek_source(config: &Config, data_dir: &Path) -> Result<(KekSource, bool)> {
    let keys = &config.keys;
    let given = [
        keys.kek_file.clone().map(KekSource::File),
        keys.kek_env.clone().map(KekSource::Env),
        keys.kek_command.clone().map(KekSource::Command),
    ];
    let mut given = given.into_iter().flatten();
    if let Some(source) = given.next() {
        if given.next().is_some() {
            return Err(BadInput(
                "[keys] names more than one of kek_file, kek_env and kek_command; choose one"
                    .into(),
            )
            .into());
        }
        return Ok((source, false));
    }
    if std::env::var_os(KEK_ENV).is_some() {
        return Ok((KekSource::Env(KEK_ENV.into()), false));
    }
    Ok((KekSource::File(default_kek_file(data_dir)), true))
}

/// `ward-data` → `ward-data.kek`, beside it: never inside the directory it protects.
pub fn default_kek_file(data_dir: &Path) -> PathBuf {
    let name = data_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "ward-data".into());
    data_dir.with_file_name(format!("{name}.kek"))
}

/// Opens the store in `data_dir` encrypted. With the default key file and no key yet, a new
/// key is created for a new store, or for a store that held plaintext (which is then
/// encrypted in place); a missing key for an encrypted store is an error, never a new key.
pub fn open_store(config: &Config, data_dir: &Path) -> Result<SqliteStore> {
    let (source, default) = kek_source(config, data_dir)?;
    if let (KekSource::File(path), true) = (&source, default)
        && !path.exists()
    {
        if data_dir.join(DB_FILE).exists() {
            // Only a store without keys may get a new one.
            let plain = SqliteStore::open(data_dir).map_err(|_| {
                BadInput(format!(
                    "the store in {} is encrypted and its key file {} is missing; restore the key \
                     file, or name the key's source under [keys] in the configuration",
                    data_dir.display(),
                    path.display()
                ))
            })?;
            drop(plain);
            eprintln!(
                "ward: encrypting the existing store in {} under a new key",
                data_dir.display()
            );
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        Kek::create_file(path)?;
        eprintln!(
            "ward: created the key-encryption key {} (keep it apart from the data directory and \
             back it up: without it the stored PHI cannot be read)",
            path.display()
        );
    }
    if let Ok(Some((from, to))) = ward_store::sqlite::pending_upgrade(data_dir) {
        eprintln!(
            "ward: upgrading the store in {} from schema version {from} to {to}; on a large \
             store this takes a while (building an index over the stored events takes about \
             5 s per million)",
            data_dir.display()
        );
    }
    SqliteStore::open_encrypted(data_dir, &source)
        .map_err(|e| crate::commands::open_error(e, data_dir))
}

/// `ward keys generate FILE`: a new key file, readable by its owner only.
pub fn generate(path: &Path) -> Result<ExitCode> {
    let kek = Kek::create_file(path)?;
    println!(
        "created key-encryption key {} (id {})",
        path.display(),
        ward_vault::hex(&kek.id())
    );
    Ok(ExitCode::SUCCESS)
}

/// `ward keys show`: where the key comes from and what the store holds; never key bytes.
pub fn show(config: &Config, data_dir: &Path) -> Result<ExitCode> {
    let (source, _) = kek_source(config, data_dir)?;
    let store = open_store(config, data_dir)?;
    let kek = source.load()?;
    println!(
        "key-encryption key: {source} (id {})",
        ward_vault::hex(&kek.id())
    );
    if let Some(public) = store.checkpoint_public_key() {
        println!(
            "checkpoint signing key (Ed25519, public): {}",
            ward_vault::hex(&public)
        );
    }
    for key in store.data_keys()? {
        println!(
            "data key {:>3}  {:<8} {:<8} created {}{}",
            key.id,
            key.purpose,
            key.period.as_deref().unwrap_or("-"),
            key.created_at,
            key.retired_at
                .map(|t| format!(", retired {t}"))
                .unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `ward keys rotate`: re-wraps the store's keys under a new key-encryption key. With the
/// key in a file and no `--new-kek-file`, a new key is generated beside the old one and
/// replaces it once the store has switched; otherwise the new key comes from the file given,
/// and the configuration must be pointed at it.
pub fn rotate(config: &Config, data_dir: &Path, new_file: Option<&Path>) -> Result<ExitCode> {
    let (source, _) = kek_source(config, data_dir)?;
    let store = open_store(config, data_dir)?;
    let (new, replace) = match (new_file, &source) {
        (Some(file), _) => (KekSource::File(file.to_path_buf()).load()?, None),
        (None, KekSource::File(path)) => {
            let staged = path.with_extension("kek.new");
            let _ = std::fs::remove_file(&staged);
            (Kek::create_file(&staged)?, Some((staged, path.clone())))
        }
        (None, _) => {
            return Err(BadInput(format!(
                "the key comes from the {source}; give the new key with --new-kek-file FILE"
            ))
            .into());
        }
    };
    let id = ward_vault::hex(&new.id());
    let count = store.rotate_kek(new)?;
    match replace {
        Some((staged, path)) => {
            std::fs::rename(&staged, &path).with_context(|| {
                format!("cannot move {} to {}", staged.display(), path.display())
            })?;
            println!(
                "re-wrapped {count} keys under the new key-encryption key {id}, now in {}",
                path.display()
            );
        }
        None => println!(
            "re-wrapped {count} keys under the new key-encryption key {id}; point [keys] at it \
             before Ward next starts"
        ),
    }
    println!(
        "new records are sealed under a new data key; `ward keys reencrypt` re-seals the old ones"
    );
    Ok(ExitCode::SUCCESS)
}

/// `ward keys reencrypt`: re-seals every record not under the current data key.
pub fn reencrypt(config: &Config, data_dir: &Path) -> Result<ExitCode> {
    let store = open_store(config, data_dir)?;
    let done = store.reencrypt(|_| {})?;
    println!(
        "re-sealed {} events, {} quarantined records, {} context resources and {} alerts under the current data key",
        done.events, done.quarantined, done.context, done.alerts
    );
    Ok(ExitCode::SUCCESS)
}
