//! How long an investigation's lookups take when the store spans a long time: synthetic FHIR
//! AuditEvents (the same feed as `commit_throughput`) spread evenly over DAYS days and
//! committed to a fresh store, then lookups by patient, by user and by source address over the
//! last day, the last 30 days and the whole span, each run ROUNDS times with the median kept.
//!
//! ```text
//! cargo run --release -p ward-store --example lookup_latency [EVENTS] [DAYS] [ROUNDS]
//! ```
//! Defaults: 500,000 events over 365 days, 21 rounds. The lookup indexes are led by a time
//! bucket, so a lookup seeks once per bucket in its range: this measures what that costs over
//! months. Figures, with the machine they came from, are in the repository's `BENCHMARKS.md`.

#[path = "common/feed.rs"]
mod feed;

use feed::Feed;
use std::time::{Duration, Instant};
use ward_model::Timestamp;
use ward_store::{Batch, EventQuery, SqliteStore, Store};

const DAY_MS: i64 = 86_400_000;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut arg = |default: u64, what: &str| {
        args.next().map_or(default, |a| {
            a.parse()
                .unwrap_or_else(|_| panic!("{what} must be a number"))
        })
    };
    let total = arg(500_000, "EVENTS") as usize;
    let days = arg(365, "DAYS").max(1) as i64;
    let rounds = arg(21, "ROUNDS").max(1) as usize;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(dir.path()).expect("the store opens");

    let spacing = (days * DAY_MS / total.max(1) as i64).max(1);
    let mut feed = Feed::with_spacing(0x10_0c, spacing);
    let mut last = Timestamp(0);
    let started = Instant::now();
    let mut committed = 0;
    while committed < total {
        let n = 4_096.min(total - committed);
        let events: Vec<_> = (0..n).map(|_| feed.next_event()).collect();
        last = events.last().map_or(last, |e| e.time);
        store
            .commit(&Batch {
                events,
                ..Default::default()
            })
            .expect("commit");
        committed += n;
    }
    println!(
        "committed {committed} events over {days} days ({} s apart) in {:.1} s",
        spacing / 1000,
        started.elapsed().as_secs_f64()
    );

    let end = Timestamp(last.millis() + 1);
    for (label, span) in [
        ("last day", DAY_MS),
        ("last 30 days", 30 * DAY_MS),
        ("whole span", (days + 1) * DAY_MS),
    ] {
        let since = Some(Timestamp(end.millis() - span));
        for (what, query) in [
            (
                "patient",
                EventQuery {
                    patient: Some("pt-42".into()),
                    ..Default::default()
                },
            ),
            (
                "user",
                EventQuery {
                    user: Some("user7".into()),
                    ..Default::default()
                },
            ),
            (
                "source address",
                EventQuery {
                    src_ip: Some("10.20.3.7".into()),
                    ..Default::default()
                },
            ),
        ] {
            let query = EventQuery {
                since,
                until: Some(end),
                limit: Some(100),
                ..query
            };
            let mut times = Vec::with_capacity(rounds);
            let mut found = 0;
            for _ in 0..rounds {
                let t = Instant::now();
                found = store.query_events(&query).expect("query").len();
                times.push(t.elapsed());
            }
            times.sort();
            let count_started = Instant::now();
            let count = store.count_events(&query).expect("count");
            let counted = count_started.elapsed();
            println!(
                "{what:>14}, {label:<12}: newest {found:>3} of {count:>6} in {:>8.2} ms (median of {rounds}); counting all {:>8.2} ms",
                ms(times[times.len() / 2]),
                ms(counted)
            );
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
