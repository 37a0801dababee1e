//! `ward serve --demo`: the real program on a simulated hospital.
//!
//! On first start the simulator writes a hospital whose timeline runs over four days, from
//! midnight UTC the day before yesterday to midnight tomorrow night, into
//! `DATA_DIR/simulated/`: the first day gives the detectors their baselines, yesterday holds an
//! incident of every kind, and today's and tomorrow's incidents (one more of every kind each)
//! arrive live, so that a demo started late in the (UTC) day still has a day of live feed
//! ahead of it (with three days ending at midnight tonight, a start at 21:00 had three
//! simulated hours left, and no incident in them); its context (FHIR resources, ADT
//! feed, HR roster) is imported into the store like a customer's would be. Then a feeder
//! replays the telemetry files in event-time order through the same commit-and-detect path the
//! listeners use: everything up to the present at once (the history a newcomer finds on
//! sign-in), the rest as the clock reaches it (the live feed), `speed` times faster than real
//! time when asked. Nothing is canned: every alert the console shows was found by the
//! detectors in these events.

use anyhow::{Context as _, Result};
use crossbeam_channel::{Receiver, bounded};
use std::collections::BinaryHeap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use ward_model::{Event, Timestamp};
use ward_pipeline::{IngestOptions, Source};
use ward_simulate::SimConfig;
use ward_store::Store;

/// The simulated organisation's size: big enough that the privacy officer's cases stand out
/// from real-looking work, small enough to generate and back-fill in well under a minute.
pub const DEMO_STAFF: u32 = 120;
pub const DEMO_PATIENTS: u32 = 1_500;
const DAY_MS: i64 = 86_400_000;

/// Where the demo keeps its simulated hospital, inside the data directory.
pub fn simulated_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("simulated")
}

/// What the demo prepared.
pub struct Prepared {
    pub dir: PathBuf,
    /// Midnight UTC of the first simulated day.
    pub start: Timestamp,
    pub generated: bool,
}

/// Writes the simulated hospital unless an earlier demo run did (a marker file records its
/// start, so a restarted demo continues the same timeline instead of starting a second one).
pub fn prepare(data_dir: &Path, seed: u64, now: Timestamp) -> Result<Prepared> {
    let dir = simulated_dir(data_dir);
    let marker = dir.join("demo-start");
    if let Ok(text) = std::fs::read_to_string(&marker)
        && let Ok(ms) = text.trim().parse::<i64>()
    {
        return Ok(Prepared {
            dir,
            start: Timestamp::from_millis(ms),
            generated: false,
        });
    }
    let today = now.millis().div_euclid(DAY_MS) * DAY_MS;
    let start = Timestamp::from_millis(today - 2 * DAY_MS);
    let config = SimConfig {
        seed,
        days: 4,
        staff: DEMO_STAFF,
        patients: DEMO_PATIENTS,
        start,
        rate: None,
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // One incident of every kind yesterday (in the history the newcomer finds), one today
    // and one tomorrow (arriving on the live feed).
    ward_simulate::simulate_planted(&config, Some(&[1, 2, 3]), &dir)
        .with_context(|| format!("cannot write the simulated hospital into {}", dir.display()))?;
    std::fs::write(&marker, start.millis().to_string())
        .with_context(|| format!("cannot write {}", marker.display()))?;
    Ok(Prepared {
        dir,
        start,
        generated: true,
    })
}

/// The files of `dir/context` that `ward context import` reads, in an order where each file's
/// references resolve (organisation first, then people, then encounters and the ADT feed).
pub fn context_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = list_files(&dir.join("context"));
    files.retain(|p| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        name.ends_with(".ndjson") || name == "hr-roster.csv"
    });
    files.sort();
    let adt = dir.join("telemetry").join("adt.hl7");
    if adt.is_file() {
        files.push(adt);
    }
    files
}

/// The name a demo file goes by as a source: its path inside the simulated hospital
/// (`telemetry/auth.log`), as a customer's sources are named by their paths.
pub fn source_name(dir: &Path, path: &Path) -> String {
    path.strip_prefix(dir).unwrap_or(path).display().to_string()
}

/// The telemetry files the feeder replays (every file under `telemetry/`, the `.eml` folder
/// included).
pub fn telemetry_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.join("telemetry")];
    while let Some(folder) = stack.pop() {
        for path in list_files_and_dirs(&folder) {
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn list_files_and_dirs(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|it| it.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}

fn list_files(dir: &Path) -> Vec<PathBuf> {
    list_files_and_dirs(dir)
        .into_iter()
        .filter(|p| p.is_file())
        .collect()
}

/// Progress of the live feed, for the console's banner and for tests.
#[derive(Default)]
pub struct FeedStatus {
    pub committed: AtomicU64,
    pub duplicates: AtomicU64,
    /// Records the decoders could not read (the simulator's files should have none).
    pub failed: AtomicU64,
    /// The feed's clock (milliseconds): events up to here are stored.
    pub clock: AtomicU64,
    pub backfilled: AtomicBool,
    pub finished: AtomicBool,
}

/// How a batch of due events reaches the store: the same path as the listeners (commit, then
/// detection on what was new).
pub type Commit = dyn Fn(Vec<Event>) -> Result<(u64, u64)> + Send + Sync;

/// Starts the feeder thread: replays `files` in event-time order, committing events whose time
/// has come on a clock that starts at `now` and runs `speed` times real time.
pub fn start_feed(
    dir: PathBuf,
    files: Vec<PathBuf>,
    now: Timestamp,
    speed: f64,
    commit: Arc<Commit>,
    status: Arc<FeedStatus>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Result<()>> {
    std::thread::Builder::new()
        .name("demo-feed".into())
        .spawn(move || feed(&dir, files, now, speed, &*commit, &status, &stop))
        .expect("spawning a thread only fails when the process is out of resources")
}

/// One telemetry file as a stream of events in its own order.
struct Stream {
    next: Option<Event>,
    rx: Receiver<Event>,
}

/// The heap orders streams by their next event's time, earliest first.
struct Head(i64, usize);

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0 && self.1 == other.1
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.0, other.1).cmp(&(self.0, self.1))
    }
}

fn feed(
    dir: &Path,
    files: Vec<PathBuf>,
    now: Timestamp,
    speed: f64,
    commit: &Commit,
    status: &FeedStatus,
    stop: &AtomicBool,
) -> Result<()> {
    let year = now.year();
    let mut streams = Vec::new();
    for path in files {
        let (tx, rx) = bounded::<Event>(1024);
        let failed = Arc::new(AtomicU64::new(0));
        let name = source_name(dir, &path);
        let path_for_thread = path.clone();
        let failed_in = failed.clone();
        std::thread::Builder::new()
            .name("demo-read".into())
            .spawn(move || {
                let Ok(file) = std::fs::File::open(&path_for_thread) else {
                    failed_in.fetch_add(1, Ordering::Relaxed);
                    return;
                };
                let options = IngestOptions {
                    workers: 1,
                    year: Some(year),
                    ..IngestOptions::default()
                };
                let source = Source::new(name, std::io::BufReader::new(file));
                let mut send = |event: Event| {
                    // The feeder stopped: dropping the rest is the shutdown, not a loss (they
                    // are replayed on the next start, and ids keep them from duplicating).
                    let _ = tx.send(event);
                };
                match ward_pipeline::scan(source, &options, &mut send) {
                    Ok(summary) => {
                        failed_in.fetch_add(summary.failed, Ordering::Relaxed);
                    }
                    Err(e) => {
                        tracing::warn!(file = %path_for_thread.display(), error = %e, "demo feed cannot read a file");
                        failed_in.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
            .context("cannot start a demo reader thread")?;
        streams.push((Stream { next: None, rx }, failed));
    }
    let mut heap = BinaryHeap::new();
    for (i, (stream, _)) in streams.iter_mut().enumerate() {
        if let Ok(event) = stream.rx.recv() {
            heap.push(Head(event.time.millis(), i));
            stream.next = Some(event);
        }
    }
    let started = Instant::now();
    let clock = |elapsed: Duration| now.millis() + (elapsed.as_secs_f64() * speed * 1000.0) as i64;
    let mut batch = Vec::with_capacity(4096);
    while !stop.load(Ordering::Relaxed) {
        let due = clock(started.elapsed());
        while batch.len() < 4096 {
            let Some(Head(time, i)) = heap.peek() else {
                break;
            };
            if *time > due {
                break;
            }
            let i = *i;
            heap.pop();
            let stream = &mut streams[i].0;
            if let Some(event) = stream.next.take() {
                batch.push(event);
            }
            if let Ok(event) = stream.rx.recv() {
                heap.push(Head(event.time.millis(), i));
                stream.next = Some(event);
            }
        }
        if !batch.is_empty() {
            let (inserted, duplicates) = commit(std::mem::take(&mut batch))?;
            status.committed.fetch_add(inserted, Ordering::Relaxed);
            status.duplicates.fetch_add(duplicates, Ordering::Relaxed);
            continue;
        }
        status.clock.store(due.max(0) as u64, Ordering::Relaxed);
        status.failed.store(
            streams.iter().map(|(_, f)| f.load(Ordering::Relaxed)).sum(),
            Ordering::Relaxed,
        );
        if !status.backfilled.swap(true, Ordering::Relaxed) {
            let events = status.committed.load(Ordering::Relaxed);
            tracing::info!(events, "demo history stored; live feed running");
            println!("demo: history stored ({events} events); the live feed continues");
        }
        if heap.is_empty() {
            status.finished.store(true, Ordering::Relaxed);
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

/// Stores the events of a demo batch the way the listeners do (one transaction), then runs
/// the newly stored ones through the detection engine. Returns (inserted, duplicates).
pub fn commit_and_detect(
    store: &dyn Store,
    engine: &std::sync::Mutex<ward_detect::Engine>,
    events: Vec<Event>,
) -> Result<(u64, u64)> {
    let batch = ward_store::Batch {
        events,
        quarantined: Vec::new(),
        checkpoint: None,
    };
    let receipt = store.commit(&batch)?;
    ward_pipeline::detect_committed(store, Some(engine), &batch, &receipt)?;
    Ok((receipt.inserted, receipt.duplicates))
}
