//! Writes a simulated hospital with the default configuration (or the given seed and days) to
//! DIR and prints what it wrote: the library's stand-in for `ward simulate` until the binary
//! wires it.
//!
//! `cargo run --release -p ward-simulate --example dataset -- DIR [SEED [DAYS]]`

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().unwrap_or_else(|| "simulated".into()));
    let mut config = ward_simulate::SimConfig::default();
    if let Some(seed) = args.next().and_then(|s| s.parse().ok()) {
        config.seed = seed;
    }
    if let Some(days) = args.next().and_then(|s| s.parse().ok()) {
        config.days = days;
    }
    let summary = ward_simulate::simulate(&config, &dir)?;
    for (path, records) in &summary.files {
        println!("{records:>10}  {}", path.display());
    }
    println!(
        "{} AuditEvents, {} incidents",
        summary.events, summary.incidents
    );
    Ok(())
}
