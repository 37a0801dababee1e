//! How fast the embedded store commits events: synthetic FHIR AuditEvents (about 1.5 KB of
//! raw JSON each, normalised as the FHIR decoder would) committed in batches to a fresh store
//! in a temporary directory, with the durability settings Ward runs with (WAL,
//! `synchronous=FULL`: every commit waits for the disk).
//!
//! ```text
//! cargo run --release -p ward-store --example commit_throughput [EVENTS] [BATCH]
//! ```
//! Defaults: 1,000,000 events in batches of 4,096. Only the time inside `Store::commit`
//! counts; making the events does not. Prints events per second, how much of that time was
//! spent on the CPU (on Linux) rather than waiting for the disk, what encoding bodies alone
//! costs, and the size of the database. Figures, with the machine they came from, are in
//! the repository's `BENCHMARKS.md`.

#[path = "common/feed.rs"]
mod feed;

use feed::Feed;
use std::time::{Duration, Instant};
use ward_model::Event;
use ward_store::{Batch, Checkpoint, EventQuery, SqliteStore, Store};

fn main() {
    let mut args = std::env::args().skip(1);
    let total: usize = args
        .next()
        .map_or(1_000_000, |a| a.parse().expect("EVENTS must be a number"));
    let batch_size: usize = args
        .next()
        .map_or(4_096, |a| a.parse().expect("BATCH must be a number"));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(dir.path()).expect("the store opens");

    let mut feed = Feed::with_spacing(0x5eed, 7);
    let mut committed = 0usize;
    let mut raw_bytes = 0usize;
    let mut in_commit = Duration::ZERO;
    let mut on_cpu = Duration::ZERO;
    let mut slowest = Duration::ZERO;
    while committed < total {
        let n = batch_size.min(total - committed);
        let events: Vec<Event> = (0..n).map(|_| feed.next_event()).collect();
        raw_bytes += events.iter().map(|e| e.raw.len() + 1).sum::<usize>();
        let checkpoint = Some(Checkpoint {
            source: FEED.into(),
            offset: raw_bytes as u64,
        });
        let batch = Batch {
            events,
            quarantined: vec![],
            checkpoint,
        };
        let cpu_before = thread_cpu();
        let started = Instant::now();
        let receipt = store.commit(&batch).expect("commit");
        let took = started.elapsed();
        if let (Some(after), Some(before)) = (thread_cpu(), cpu_before) {
            on_cpu += after.saturating_sub(before);
        }
        in_commit += took;
        slowest = slowest.max(took);
        assert_eq!(
            receipt.inserted as usize, n,
            "synthetic events must be unique"
        );
        committed += n;
    }
    assert_eq!(
        store.count_events(&EventQuery::default()).expect("count") as usize,
        committed
    );

    let secs = in_commit.as_secs_f64();
    let per_event = |d: Duration| d.as_secs_f64() * 1e6 / committed as f64;
    println!(
        "committed {committed} events in batches of {batch_size} in {secs:.2} s (time inside commit only)"
    );
    println!("  {:.0} events/s", committed as f64 / secs);
    println!(
        "  {:.1} MB/s of raw records ({:.0} bytes per record)",
        raw_bytes as f64 / secs / 1e6,
        raw_bytes as f64 / committed as f64
    );
    println!(
        "  {:.1} µs per event, slowest batch {:.0} ms",
        per_event(in_commit),
        slowest.as_secs_f64() * 1e3
    );
    if !on_cpu.is_zero() {
        println!(
            "  {:.1} µs per event on the CPU ({:.0} events per CPU-second), the rest waiting for the disk",
            per_event(on_cpu),
            committed as f64 / on_cpu.as_secs_f64()
        );
    }
    let encoding = encoding_cost(&mut Feed::with_spacing(1, 7), 20_000);
    println!(
        "  of which encoding bodies alone (serde_json + LZ4, measured apart): {:.1} µs per event",
        encoding.as_secs_f64() * 1e6
    );
    let on_disk: u64 = std::fs::read_dir(dir.path())
        .expect("the data directory")
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "  {:.0} MB on disk ({:.0} bytes per event)",
        on_disk as f64 / 1e6,
        on_disk as f64 / committed as f64
    );
}

/// What encoding one event's body costs on its own, the part of a commit that is neither
/// SQLite nor hashing (the store's codec: JSON without the raw record, then the raw record,
/// LZ4-compressed; this does the same, without the store's dictionary).
fn encoding_cost(feed: &mut Feed, n: u32) -> Duration {
    let events: Vec<Event> = (0..n).map(|_| feed.next_event()).collect();
    let started = Instant::now();
    let mut json = Vec::new();
    let mut bytes = 0;
    for e in &events {
        json.clear();
        e.write_json_without_raw(&mut json)
            .expect("events serialise");
        json.extend_from_slice(&e.raw);
        bytes += lz4_flex::compress_prepend_size(&json).len();
    }
    std::hint::black_box(bytes);
    started.elapsed() / n
}

/// Time the calling thread has spent on a CPU, where Linux tells it.
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace()
        .next()?
        .parse()
        .ok()
        .map(Duration::from_nanos)
}

const FEED: &str = "synthetic-audit.ndjson";
