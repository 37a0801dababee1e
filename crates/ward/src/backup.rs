//! `ward backup DEST` and `ward restore SRC`: an online, consistent, encrypted copy of the
//! store with a manifest of hashes, and its verified restoration (docs/backup.md).
//!
//! A backup is a folder: `ward.db.sealed` (a snapshot of the database taken with SQLite's
//! `VACUUM INTO` while the store keeps serving, sealed in 1 MiB chunks with AES-256-GCM under
//! a fresh backup key) and `manifest.json` (format, times, the KEK's id, the backup key
//! wrapped by the KEK, sizes and SHA-256 of the sealed file and of the snapshot, the hash
//! chain's head, counts). The key-encryption key is never in it: keep it apart.

use crate::commands::BadInput;
use crate::config::Config;
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;
use ward_model::Timestamp;
use ward_store::{SqliteStore, Store};
use ward_vault::{DataKey, Kek, KekSource, KeyPurpose};

const FORMAT: &str = "ward-backup-1";
const SEALED_FILE: &str = "ward.db.sealed";
const MANIFEST_FILE: &str = "manifest.json";

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: String,
    created_at: Timestamp,
    ward_version: String,
    /// Which key-encryption key restores it (its id, not the key).
    kek_id: String,
    backup_key: WrappedBackupKey,
    store: StoreCopy,
    counts: Counts,
}

#[derive(Debug, Serialize, Deserialize)]
struct WrappedBackupKey {
    /// Binds the wrapping to this backup.
    id: i64,
    wrapped: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoreCopy {
    file: String,
    sealed_bytes: u64,
    sealed_sha256: String,
    plain_bytes: u64,
    plain_sha256: String,
    chain_seq: u64,
    chain_hash: String,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Counts {
    events: u64,
    quarantined: u64,
    alerts: u64,
    context: u64,
    batches: u64,
}

/// Hashes what passes through.
struct Hashing<T> {
    inner: T,
    hash: Sha256,
    bytes: u64,
}

impl<T> Hashing<T> {
    fn new(inner: T) -> Self {
        Hashing {
            inner,
            hash: Sha256::new(),
            bytes: 0,
        }
    }

    fn finish(self) -> (String, u64) {
        (ward_vault::hex(&self.hash.finalize()), self.bytes)
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// `ward backup DEST`.
pub fn backup(config: &Config, data_dir: &Path, dest: &Path) -> Result<ExitCode> {
    let started = Instant::now();
    if dest.exists() && std::fs::read_dir(dest)?.next().is_some() {
        return Err(BadInput(format!("{} exists and is not empty", dest.display())).into());
    }
    let (source, _) = crate::keys::kek_source(config, data_dir)?;
    let store = crate::keys::open_store(config, data_dir)?;
    let kek = source.load()?;
    create_private_dir(dest)?;
    let stats = store.stats()?;

    let snapshot = dest.join(".snapshot.db");
    let (chain_seq, chain_hash) = store
        .snapshot(&snapshot)
        .context("taking a snapshot of the store")?;
    drop(store);

    let created_at = Timestamp::now();
    let key_id = created_at.millis();
    let material = Kek::generate_bytes()?;
    let wrapped = kek.wrap(key_id, KeyPurpose::Data, &material)?;
    let key = DataKey::new(key_id, &material);

    let sealed_path = dest.join(SEALED_FILE);
    let mut plain = Hashing::new(std::io::BufReader::with_capacity(
        1 << 20,
        std::fs::File::open(&snapshot).context("reading the snapshot")?,
    ));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&sealed_path)
        .with_context(|| format!("cannot create {}", sealed_path.display()))?;
    let mut sealed = Hashing::new(std::io::BufWriter::with_capacity(1 << 20, file));
    key.seal_stream(&mut plain, &mut sealed)
        .context("sealing the snapshot")?;
    let (plain_sha256, plain_bytes) = plain.finish();
    let writer = sealed.inner;
    let (sealed_sha256, sealed_bytes) = (ward_vault::hex(&sealed.hash.finalize()), sealed.bytes);
    writer
        .into_inner()
        .map_err(|e| e.into_error())
        .and_then(|f| f.sync_all())
        .context("writing the sealed snapshot")?;
    std::fs::remove_file(&snapshot).context("removing the plain snapshot")?;

    let manifest = Manifest {
        format: FORMAT.into(),
        created_at,
        ward_version: env!("CARGO_PKG_VERSION").into(),
        kek_id: ward_vault::hex(&kek.id()),
        backup_key: WrappedBackupKey {
            id: key_id,
            wrapped: base64_encode(&wrapped),
        },
        store: StoreCopy {
            file: SEALED_FILE.into(),
            sealed_bytes,
            sealed_sha256,
            plain_bytes,
            plain_sha256,
            chain_seq,
            chain_hash: ward_vault::hex(&chain_hash),
        },
        counts: Counts {
            events: stats.events,
            quarantined: stats.quarantined,
            alerts: stats.alerts,
            context: stats.context,
            batches: stats.batches,
        },
    };
    write_synced(
        &dest.join(MANIFEST_FILE),
        &serde_json::to_vec_pretty(&manifest)?,
    )?;
    sync_dir(dest);
    let secs = started.elapsed().as_secs_f64();
    println!(
        "backed up {} batches ({} events) to {}: {:.1} MB sealed in {secs:.2} s",
        chain_seq,
        stats.events,
        dest.display(),
        sealed_bytes as f64 / 1e6
    );
    println!("restore needs the key-encryption key {}", manifest.kek_id);
    Ok(ExitCode::SUCCESS)
}

/// `ward restore SRC`: into the data directory, which must hold no store.
pub fn restore(
    config: &Config,
    data_dir: &Path,
    src: &Path,
    kek_file: Option<&Path>,
) -> Result<ExitCode> {
    let started = Instant::now();
    let manifest: Manifest = serde_json::from_slice(
        &std::fs::read(src.join(MANIFEST_FILE))
            .with_context(|| format!("cannot read {}", src.join(MANIFEST_FILE).display()))?,
    )
    .map_err(|e| {
        BadInput(format!(
            "{} is not a Ward backup manifest: {e}",
            src.display()
        ))
    })?;
    if manifest.format != FORMAT {
        return Err(BadInput(format!(
            "{} is a backup of format {}, not {FORMAT}",
            src.display(),
            manifest.format
        ))
        .into());
    }
    if data_dir.join(ward_store::sqlite::DB_FILE).exists() {
        return Err(BadInput(format!(
            "{} already holds a store; restore into an empty data directory",
            data_dir.display()
        ))
        .into());
    }
    let source = match kek_file {
        Some(file) => KekSource::File(file.to_path_buf()),
        None => crate::keys::kek_source(config, data_dir)?.0,
    };
    let kek = source.load()?;
    if ward_vault::hex(&kek.id()) != manifest.kek_id {
        return Err(BadInput(format!(
            "the backup needs key-encryption key {}, and the {source} holds key {}",
            manifest.kek_id,
            ward_vault::hex(&kek.id())
        ))
        .into());
    }

    // The sealed file first: its size and hash, before any key is used on it.
    let sealed_path = src.join(&manifest.store.file);
    let mut check = Hashing::new(
        std::fs::File::open(&sealed_path)
            .with_context(|| format!("cannot read {}", sealed_path.display()))?,
    );
    std::io::copy(&mut check, &mut std::io::sink())?;
    let (sealed_sha256, sealed_bytes) = check.finish();
    if sealed_sha256 != manifest.store.sealed_sha256 || sealed_bytes != manifest.store.sealed_bytes
    {
        bail!(
            "{} does not match the manifest (SHA-256 or size differs): the backup is damaged",
            sealed_path.display()
        );
    }
    let wrapped = base64_decode(&manifest.backup_key.wrapped)
        .ok_or_else(|| BadInput("the manifest's backup key is not base64".into()))?;
    let material = kek.unwrap(manifest.backup_key.id, KeyPurpose::Data, &wrapped)?;
    let key = DataKey::new(manifest.backup_key.id, &material);

    create_private_dir(data_dir)?;
    let partial = data_dir.join(".restoring.db");
    let _ = std::fs::remove_file(&partial);
    let out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    let mut plain = Hashing::new(std::io::BufWriter::with_capacity(1 << 20, out));
    let opened = key.open_stream(
        std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&sealed_path)?),
        &mut plain,
    );
    let (plain_sha256, plain_bytes) =
        (ward_vault::hex(&plain.hash.clone().finalize()), plain.bytes);
    let file = plain
        .inner
        .into_inner()
        .map_err(|e| e.into_error())
        .context("writing the restored database")?;
    if let Err(e) = opened {
        let _ = std::fs::remove_file(&partial);
        bail!("the backup does not open: {e}");
    }
    if plain_sha256 != manifest.store.plain_sha256 || plain_bytes != manifest.store.plain_bytes {
        let _ = std::fs::remove_file(&partial);
        bail!("the restored database does not match the manifest's SHA-256: the backup is damaged");
    }
    file.sync_all()?;
    std::fs::rename(&partial, data_dir.join(ward_store::sqlite::DB_FILE))?;
    sync_dir(data_dir);

    let store = SqliteStore::open_encrypted(data_dir, &source)
        .map_err(|e| crate::commands::open_error(e, data_dir))?;
    let report = store.verify()?;
    let stats = store.stats()?;
    let restored = Counts {
        events: stats.events,
        quarantined: stats.quarantined,
        alerts: stats.alerts,
        context: stats.context,
        batches: stats.batches,
    };
    let head = store.chain_head();
    if !report.is_intact()
        || head.0 != manifest.store.chain_seq
        || ward_vault::hex(&head.1) != manifest.store.chain_hash
    {
        bail!(
            "the restored store does not verify (first bad batch {:?}, checkpoint {:?})",
            report.first_bad_batch,
            report.bad_checkpoint
        );
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "restored {} batches ({} events, {} alerts, {} context resources) into {}; chain verified",
        restored.batches,
        restored.events,
        restored.alerts,
        restored.context,
        data_dir.display()
    );
    println!(
        "{:.1} MB in {secs:.2} s ({:.0} MB/s)",
        plain_bytes as f64 / 1e6,
        plain_bytes as f64 / 1e6 / secs.max(1e-9)
    );
    if restored != manifest.counts {
        println!(
            "note: the counts differ from the manifest's (taken while the store was serving): {:?}",
            manifest.counts
        );
    }
    if kek_file.is_some() && config.keys.kek_file.is_none() {
        println!(
            "the store's key is {}: name it under [keys] kek_file, or copy it to {}",
            source,
            crate::keys::default_kek_file(data_dir).display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

/// Makes the directory's entries durable (best effort: not every file system allows it).
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}
