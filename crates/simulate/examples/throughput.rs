//! Generation throughput of the simulator: one day of a 3,000-staff, 100,000-patient hospital
//! at a rate giving about EVENTS AuditEvents, written to a temporary directory (or DIR), on
//! one thread. Prints events/s and MB/s of the audit trail, and the whole run's wall time
//! (organisation, context and census included).
//!
//! `cargo run --release -p ward-simulate --example throughput [-- EVENTS [DIR]]`

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let events: u64 = args
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000_000);
    let keep = args.next().map(std::path::PathBuf::from);
    let temp =
        std::env::temp_dir().join(format!("ward-simulate-throughput-{}", std::process::id()));
    let dir = keep.clone().unwrap_or(temp);
    let (written, elapsed) = ward_simulate::bench_events(events, &dir)?;
    let bytes = std::fs::metadata(dir.join("telemetry/ehr-audit.ndjson"))?.len();
    let seconds = elapsed.as_secs_f64();
    println!(
        "{written} AuditEvents, {:.0} MB, in {seconds:.2} s: {:.0} events/s, {:.0} MB/s ({:.0} bytes an event)",
        bytes as f64 / 1e6,
        written as f64 / seconds,
        bytes as f64 / seconds / 1e6,
        bytes as f64 / written.max(1) as f64
    );
    if keep.is_none() {
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}
