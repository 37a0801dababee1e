//! One function per sub-command: open what it needs, call the library crates, print.

use crate::cli::{
    AlertsArgs, BenchCommand, Cli, Command, ContextCommand, EventsArgs, HuntArgs, IngestArgs,
    KeysCommand, QuarantineCommand, RulesCommand, ServeArgs, SimulateArgs,
};
use crate::config::Config;
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use ward_detect::sigma::Placeholders;
use ward_model::{AlertStatus, ContextKind, Timestamp};
use ward_pipeline::{IngestError, IngestOptions, IngestSummary, Source};
use ward_store::sqlite::SqliteStore;
use ward_store::{AlertQuery, EventQuery, QuarantineQuery, Store};

/// Input or usage at fault: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// Files larger than this get a progress bar.
const PROGRESS_BAR_BYTES: u64 = 4 << 20;

pub fn exit_code(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if cause.downcast_ref::<BadInput>().is_some() {
            return 2;
        }
        if let Some(e) = cause.downcast_ref::<IngestError>() {
            return if e.is_bad_input() { 2 } else { 1 };
        }
    }
    1
}

struct Runtime {
    config: Config,
    data_dir: PathBuf,
    /// Whether the data directory was chosen (flag, environment or configuration) rather than
    /// defaulted.
    data_dir_given: bool,
}

impl Runtime {
    fn open_store(&self) -> Result<SqliteStore> {
        crate::keys::open_store(&self.config, &self.data_dir)
    }
}

/// A store that does not open names its directory and what to check, whichever step failed
/// (a read-only directory fails only when the schema is read).
pub(crate) fn open_error(e: ward_store::StoreError, dir: &Path) -> anyhow::Error {
    match e {
        ward_store::StoreError::Open { .. }
        | ward_store::StoreError::SchemaTooNew { .. }
        | ward_store::StoreError::Keys(_) => e.into(),
        e => anyhow::Error::new(e).context(format!(
            "cannot open the store at {} (is the directory writable by this user, on a disk with free space?)",
            dir.display()
        )),
    }
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    let config = match &cli.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let chosen = cli.data_dir.clone().or_else(|| config.data_dir.clone());
    let data_dir_given = chosen.is_some();
    let data_dir = chosen.unwrap_or_else(|| PathBuf::from("ward-data"));
    let ctx = Runtime {
        config,
        data_dir,
        data_dir_given,
    };
    match cli.command {
        Command::Ingest(args) => ingest(&ctx, args),
        Command::Simulate(args) => simulate(args),
        Command::Context(ContextCommand::Import { json, paths }) => {
            context_import(&ctx, &paths, json)
        }
        Command::Context(ContextCommand::Stats) => context_stats(&ctx),
        Command::Quarantine(QuarantineCommand::List {
            json,
            source,
            limit,
            raw,
        }) => quarantine_list(&ctx, json, source, limit, raw),
        Command::Quarantine(QuarantineCommand::Retry { format, source }) => {
            quarantine_retry(&ctx, format.as_deref(), source.as_deref())
        }
        Command::Alerts(args) => alerts(&ctx, args),
        Command::Events(args) => events(&ctx, args),
        Command::Fields(args) => {
            if args.markdown {
                print!("{}", ward_model::fields::markdown());
            } else {
                for f in ward_model::FIELDS {
                    println!("{:<24} {:<10} {}", f.path, f.kind, f.meaning);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify => verify(&ctx),
        Command::Backup { dest } => crate::backup::backup(&ctx.config, &ctx.data_dir, &dest),
        Command::Restore { src, kek_file } => {
            crate::backup::restore(&ctx.config, &ctx.data_dir, &src, kek_file.as_deref())
        }
        Command::Keys(KeysCommand::Generate { path }) => crate::keys::generate(&path),
        Command::Keys(KeysCommand::Show) => crate::keys::show(&ctx.config, &ctx.data_dir),
        Command::Keys(KeysCommand::Rotate { new_kek_file }) => {
            crate::keys::rotate(&ctx.config, &ctx.data_dir, new_kek_file.as_deref())
        }
        Command::Keys(KeysCommand::Reencrypt) => crate::keys::reencrypt(&ctx.config, &ctx.data_dir),
        Command::Serve(args) => serve(&ctx, args),
        Command::Bench(BenchCommand::Sigma { rules, files }) => bench_sigma(&ctx, &rules, &files),
        Command::Bench(BenchCommand::Simulate { events, dir }) => {
            crate::bench::simulate(events, dir.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchCommand::Ingest {
            events,
            workers,
            dir,
        }) => {
            crate::bench::ingest(events, workers, dir.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchCommand::Detectors {
            dir,
            seed,
            days,
            rounds,
        }) => {
            let config = ward_simulate::SimConfig {
                seed,
                days,
                ..Default::default()
            };
            crate::bench::detectors(
                dir.as_deref(),
                &config,
                rounds,
                &ctx.config.detect.privacy.options()?,
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchCommand::Encryption { events, rounds }) => {
            crate::bench::encryption(events, rounds)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchCommand::Privacy {
            staff,
            days,
            patients,
            rate,
            seed,
        }) => {
            crate::bench::privacy(
                staff,
                days,
                patients,
                rate,
                seed,
                ctx.config.detect.privacy.options()?,
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Hunt(args) => hunt(&ctx, args),
        Command::Rules(RulesCommand::Validate { paths }) => rules_validate(&ctx, &paths),
        Command::Rules(RulesCommand::List { rules, json }) => rules_list(&ctx, &rules, json),
        Command::Rules(RulesCommand::Test { rule, events }) => rules_test(&ctx, &rule, &events),
        Command::Rules(RulesCommand::Add { files, by }) => crate::added_rules::add(
            &ctx.open_store()?,
            &files,
            by,
            &ctx.config.detect.sigma_placeholders(),
        ),
        Command::Rules(RulesCommand::Remove { name }) => {
            crate::added_rules::remove(&ctx.open_store()?, &name)
        }
        Command::Rules(RulesCommand::Disable { rule, reason, by }) => {
            crate::switches::disable(&ctx.open_store()?, &rule, &reason, by)
        }
        Command::Rules(RulesCommand::Enable { rule }) => {
            crate::switches::enable(&ctx.open_store()?, &rule)
        }
        Command::Rules(RulesCommand::Disabled { json }) => {
            crate::switches::list(&ctx.open_store()?, json)
        }
        Command::Incidents(command) => crate::incidents::run(&ctx.config, &ctx.data_dir, command),
        Command::Inventory(command) => crate::inventory::run(&ctx.config, &ctx.data_dir, command),
        Command::Feeds(command) => crate::inventory::feeds(&ctx.config, &ctx.data_dir, command),
        Command::Scan(command) => crate::inventory::scan(&ctx.config, &ctx.data_dir, command),
        Command::Zones(command) => crate::reach::run_command(&ctx.config, &ctx.data_dir, command),
        Command::Privacy(command) => crate::privacy::run(&ctx.config, &ctx.data_dir, command),
    }
}

/// The Sigma rule files under `path` (itself, when it is a file), sorted for stable output.
fn rule_files(path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if !path.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("reading {}", path.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            rule_files(&entry, out)?;
        } else if entry.extension().is_some_and(|x| x == "yml" || x == "yaml") {
            out.push(entry);
        }
    }
    Ok(())
}

/// Why a rule file did not load: a kind to count failures by, and the message.
struct LoadFailure {
    kind: String,
    message: String,
}

impl std::fmt::Display for LoadFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn load_rule(
    path: &Path,
    placeholders: &Placeholders,
) -> Result<ward_detect::sigma::CompiledRule, LoadFailure> {
    let text = std::fs::read_to_string(path).map_err(|e| LoadFailure {
        kind: "unreadable".into(),
        message: format!("unreadable: {e}"),
    })?;
    ward_detect::sigma::parse_rule(&text)
        .and_then(|rule| ward_detect::sigma::compile_with(rule, placeholders))
        .map_err(|e| LoadFailure {
            kind: e.kind(),
            message: e.to_string(),
        })
}

/// Every Sigma document of one file (rules and correlation rules, `---` separated).
fn load_file(
    path: &Path,
    placeholders: &Placeholders,
) -> Result<ward_detect::sigma::Collection, LoadFailure> {
    let text = std::fs::read_to_string(path).map_err(|e| LoadFailure {
        kind: "unreadable".into(),
        message: format!("unreadable: {e}"),
    })?;
    let mut collection = ward_detect::sigma::Collection::with_placeholders(placeholders.clone());
    collection
        .add(&text, &path.display().to_string())
        .map_err(|e| LoadFailure {
            kind: e.kind(),
            message: e.to_string(),
        })?;
    Ok(collection)
}

/// The rules of every file under `paths`; each file that does not load is named on standard
/// error and left out.
pub(crate) fn load_folders(
    paths: &[PathBuf],
    placeholders: &Placeholders,
) -> Result<ward_detect::sigma::Collection> {
    let mut files = Vec::new();
    for path in paths {
        rule_files(path, &mut files)?;
    }
    let mut all = ward_detect::sigma::Collection::new();
    for file in &files {
        match load_file(file, placeholders) {
            Ok(c) => {
                all.rules.extend(c.rules);
                all.correlations.extend(c.correlations);
            }
            Err(e) => eprintln!("{}: not loaded: {e}", file.display()),
        }
    }
    Ok(all)
}

/// The detection engine `ward ingest` runs: every standard detector over the configured
/// inventory, with the extra rules, primed with every context resource stored; and the
/// inventory's watcher, flushed when the ingest ends.
fn engine(
    ctx: &Runtime,
    store: &ward_store::SqliteStore,
    rule_dirs: &[PathBuf],
) -> Result<(
    std::sync::Mutex<ward_detect::Engine>,
    ward_inventory::reach::Watcher,
)> {
    let inventory = crate::detection::inventory_from_config(&ctx.config)?;
    let geoip = crate::detection::geoip_from_config(&ctx.config)?;
    let placeholders = ctx.config.detect.sigma_placeholders();
    let (detectors, watcher) = crate::detection::detectors(
        inventory,
        geoip,
        rule_dirs,
        store,
        &placeholders,
        ctx.config.detect.privacy.options()?,
    )?;
    let engine = std::sync::Mutex::new(crate::detection::engine(detectors, store));
    ward_pipeline::load_context(store, &engine)?;
    crate::switches::apply(store, &engine)?;
    Ok((engine, watcher))
}

fn rules_list(ctx: &Runtime, paths: &[PathBuf], json: bool) -> Result<ExitCode> {
    use ward_detect::sigma::{describe_logsource, pack, rule_key};
    let placeholders = ctx.config.detect.sigma_placeholders();
    let shipped = pack::shipped()?;
    let extra = load_folders(paths, &placeholders)?;
    // Rules added to the store, when there is one (listing never creates a store).
    let added = if ctx.data_dir.join("ward.db").exists() {
        crate::added_rules::collection(&ctx.open_store()?, &placeholders)?
    } else {
        ward_detect::sigma::Collection::new()
    };
    let mut out = std::io::stdout().lock();
    for collection in [&shipped, &extra, &added] {
        let rules = collection.rules.iter().map(|(r, origin)| {
            let r2 = &r.rule;
            (
                r2.name.clone(),
                rule_key(r2.id.as_deref(), r2.name.as_deref(), &r2.title),
                r2.title.clone(),
                r2.level.clone(),
                describe_logsource(&r2.logsource),
                r2.status.clone(),
                origin.clone(),
            )
        });
        let correlations = collection.correlations.iter().map(|(c, origin)| {
            let m = &c.meta;
            (
                m.name.clone(),
                rule_key(m.id.as_deref(), m.name.as_deref(), &m.title),
                m.title.clone(),
                m.level.clone(),
                format!("correlation {} of {}", c.kind.as_str(), c.rules.join(", ")),
                m.status.clone(),
                origin.clone(),
            )
        });
        for (name, id, title, level, logsource, status, origin) in correlations.chain(rules) {
            if json {
                let line = serde_json::json!({
                    "name": name, "id": id, "title": title, "level": level,
                    "logsource": logsource, "status": status, "source": origin,
                });
                writeln!(out, "{line}")?;
            } else {
                writeln!(
                    out,
                    "{id}  {:<13} {:<8} {:<12} {title} [{logsource}] ({})",
                    level.as_deref().unwrap_or("-"),
                    status.as_deref().unwrap_or("-"),
                    name.as_deref().unwrap_or("-"),
                    origin
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn rules_validate(ctx: &Runtime, paths: &[PathBuf]) -> Result<ExitCode> {
    use std::collections::BTreeMap;
    let placeholders = ctx.config.detect.sigma_placeholders();
    let mut files = Vec::new();
    for path in paths {
        rule_files(path, &mut files)?;
    }
    let (mut loaded, mut unrouted) = (0usize, 0usize);
    let mut failed: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = std::io::stdout().lock();
    for file in &files {
        match load_file(file, &placeholders) {
            Ok(collection) => {
                loaded += collection.len();
                for (rule, _) in &collection.rules {
                    if let ward_detect::sigma::Route::Nothing(why) = &rule.route {
                        unrouted += 1;
                        if paths.len() == 1 && files.len() == 1 {
                            writeln!(out, "{}: loads, but matches nothing: {why}", file.display())?;
                        }
                    }
                }
            }
            Err(e) => {
                writeln!(out, "{}: {e}", file.display())?;
                *failed.entry(e.kind).or_default() += 1;
            }
        }
    }
    let failures: usize = failed.values().sum();
    writeln!(
        out,
        "{} files: {loaded} loaded (rules and correlations), {failures} failed; {unrouted} \
         loaded rules have a logsource no decoder produces yet",
        files.len()
    )?;
    for (reason, count) in &failed {
        writeln!(out, "  {count:6}  {reason}")?;
    }
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn rules_test(ctx: &Runtime, rule_path: &Path, event_paths: &[PathBuf]) -> Result<ExitCode> {
    let placeholders = ctx.config.detect.sigma_placeholders();
    let rule = load_rule(rule_path, &placeholders)
        .map_err(|e| BadInput(format!("{}: {e}", rule_path.display())))?;
    let mut out = std::io::stdout().lock();
    if let ward_detect::sigma::Route::Nothing(why) = &rule.route {
        writeln!(out, "note: this rule matches nothing: {why}")?;
    }
    let (mut seen, mut matched) = (0usize, 0usize);
    for path in event_paths {
        // Read as `ward ingest` reads, without storing: same framing, recognition and checks.
        let (source, _, year) = open_source(path)?;
        let options = IngestOptions {
            year: Some(year),
            ..IngestOptions::default()
        };
        let mut written = Ok(());
        let summary = ward_pipeline::scan(source, &options, &mut |event| {
            seen += 1;
            if written.is_err() {
                return;
            }
            if let Some(searches) = rule.explain(&event) {
                matched += 1;
                written = writeln!(
                    out,
                    "{}#{}: {} {} matched by {}",
                    path.display(),
                    seen,
                    event.time.to_rfc3339(),
                    event.metadata.event_code.as_deref().unwrap_or("-"),
                    searches.join(", ")
                );
            }
        })?;
        written?;
        if summary.failed > 0 {
            eprintln!(
                "{}: {} records could not be decoded",
                path.display(),
                summary.failed
            );
        }
    }
    let r = &rule.rule;
    writeln!(
        out,
        "{matched} of {seen} events match \"{}\" (author: {}; licence: {})",
        r.title,
        r.author.as_deref().unwrap_or("unknown"),
        r.license.as_deref().unwrap_or("not stated")
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Opens a path (`-`: standard input), with its size when known and the year its records
/// were written in, for timestamps that leave the year out (RFC 3164 syslog): the year the
/// file was last modified, or the current year for standard input.
pub(crate) fn open_source(path: &Path) -> Result<(Source, Option<u64>, i32)> {
    if path.as_os_str() == "-" {
        return Ok((
            Source::new("-", std::io::stdin()),
            None,
            Timestamp::now().year(),
        ));
    }
    let mut file = std::fs::File::open(path)
        .map_err(|e| BadInput(format!("cannot open {}: {e}", path.display())))?;
    let metadata = file.metadata().ok();
    let size = metadata.as_ref().map(|m| m.len());
    let year = metadata
        .and_then(|m| m.modified().ok())
        .map(|t| Timestamp(chrono::DateTime::<chrono::Utc>::from(t).timestamp_millis()).year())
        .unwrap_or_else(|| Timestamp::now().year());
    let name = path.display().to_string();
    // Logs are often kept gzipped: read them as they are. Positions (lines, offsets) are then
    // those of the decompressed stream, and the progress bar, which counts compressed bytes,
    // is not shown.
    let mut magic = [0u8; 2];
    let gzipped = std::io::Read::read_exact(&mut file, &mut magic).is_ok() && magic == [0x1f, 0x8b];
    std::io::Seek::rewind(&mut file)
        .map_err(|e| BadInput(format!("cannot read {}: {e}", path.display())))?;
    if gzipped {
        return Ok((
            Source::new(name, flate2::read::MultiGzDecoder::new(file)),
            None,
            year,
        ));
    }
    Ok((Source::new(name, file), size, year))
}

fn progress_bar(size: Option<u64>, name: &str) -> Option<ProgressBar> {
    let size = size.filter(|s| *s >= PROGRESS_BAR_BYTES)?;
    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .ok()?
        .progress_chars("=> "),
    );
    bar.set_message(name.to_string());
    Some(bar)
}

fn ingest(ctx: &Runtime, args: IngestArgs) -> Result<ExitCode> {
    let store = ctx.open_store()?;
    let (engine, watcher) = engine(ctx, &store, &args.rules)?;
    let defaults = IngestOptions::default();
    let options = IngestOptions {
        format: Some(args.format.clone()),
        decoder: csv_mapping(&args)?,
        workers: ctx.config.ingest.workers.unwrap_or(defaults.workers),
        max_record_bytes: ctx
            .config
            .ingest
            .max_record_bytes
            .unwrap_or(defaults.max_record_bytes),
        max_document_bytes: ctx
            .config
            .ingest
            .max_document_bytes
            .unwrap_or(defaults.max_document_bytes),
        year: None,
    };
    let mut total = IngestSummary {
        source: "total".into(),
        format: args.format.clone(),
        ..Default::default()
    };
    let stdout = std::io::stdout();
    for (i, path) in args.paths.iter().enumerate() {
        let (source, size, year) = open_source(path)?;
        let options = IngestOptions {
            year: Some(year),
            ..options.clone()
        };
        let name = source.name.clone();
        let bar = progress_bar(size, &name);
        let progress = |bytes: u64| {
            if let Some(bar) = &bar {
                bar.set_position(bytes);
            }
        };
        let summary = ward_pipeline::ingest(&store, source, &options, &progress, Some(&engine));
        if let Some(bar) = &bar {
            bar.finish_and_clear();
        }
        // What the committed batches showed is kept even when the source failed later; so is
        // what the detectors must remember for the next run (after the last file, once the
        // run is concluded, below).
        crate::reach::log_flush(watcher.flush(&store)?);
        if i + 1 < args.paths.len() || summary.is_err() {
            crate::detection::save_state(&engine, &store)?;
        }
        let summary = summary.map_err(|e| {
            if e.is_bad_input() {
                anyhow::Error::new(e)
            } else {
                anyhow::Error::new(e).context(format!(
                    "ingest of {name} stopped (the batches committed before are kept; a re-run stores only the rest)"
                ))
            }
        })?;
        tracing::info!(source = %name, accepted = summary.accepted, quarantined = summary.quarantined, "ingested");
        print_summary(&mut stdout.lock(), &summary, args.json)?;
        total.add(&summary);
    }
    // The run ends: what detectors hold and do not carry over (accesses the privacy
    // analytics hold back for a day) is concluded now rather than lost.
    let concluded = ward_pipeline::conclude_run(&store, &engine)?;
    tracing::debug!(alerts = concluded, "concluded at the end of the run");
    // Saved once concluded: what the conclusion taught (the privacy analytics' first looks
    // outside a department, judged only now) belongs to the memory too.
    crate::detection::save_state(&engine, &store)?;
    if args.paths.len() > 1 {
        print_summary(&mut stdout.lock(), &total, args.json)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The CSV decoder `--mapping FILE` describes, or `None` without the flag. `--format csv`
/// needs it; any other named format excludes it.
fn csv_mapping(args: &IngestArgs) -> Result<Option<ward_pipeline::GivenDecoder>> {
    let Some(path) = &args.mapping else {
        if args.format == "csv" {
            return Err(BadInput(
                "--format csv needs --mapping FILE naming the CSV's columns (see docs/formats.md)"
                    .into(),
            )
            .into());
        }
        return Ok(None);
    };
    if !matches!(args.format.as_str(), "auto" | "csv") {
        return Err(BadInput(format!(
            "--mapping reads CSV: it cannot be used with --format {}",
            args.format
        ))
        .into());
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| BadInput(format!("cannot read mapping {}: {e}", path.display())))?;
    let mapping: ward_decode::csv::CsvMapping = toml::from_str(&text)
        .map_err(|e| BadInput(format!("invalid mapping {}: {e}", path.display())))?;
    let decoder = ward_decode::csv::MappedCsv::new(mapping)
        .map_err(|e| BadInput(format!("invalid mapping {}: {e}", path.display())))?;
    // One decoder for the life of this command: the pipeline's threads hold it as 'static.
    Ok(Some(ward_pipeline::GivenDecoder(Box::leak(Box::new(
        decoder,
    )))))
}

fn simulate(args: SimulateArgs) -> Result<ExitCode> {
    let start = Timestamp::parse(&args.start).ok_or_else(|| {
        BadInput(format!(
            "cannot read --start {:?}: use a date such as 2026-11-02",
            args.start
        ))
    })?;
    if args.days == 0
        || args.staff < ward_simulate::MIN_STAFF
        || args.patients < ward_simulate::MIN_PATIENTS
    {
        return Err(BadInput(format!(
            "a hospital needs --days 1 or more, --staff {} or more and --patients {} or more",
            ward_simulate::MIN_STAFF,
            ward_simulate::MIN_PATIENTS
        ))
        .into());
    }
    let config = ward_simulate::SimConfig {
        seed: args.seed,
        days: args.days,
        staff: args.staff,
        patients: args.patients,
        start,
        rate: args.rate,
    };
    let started = std::time::Instant::now();
    let summary = ward_simulate::simulate(&config, &args.out)
        .with_context(|| format!("cannot write the simulation to {}", args.out.display()))?;
    for (path, records) in &summary.files {
        println!("{:>10}  {}", records, path.display());
    }
    println!(
        "simulated {} days: {} events, {} planted incidents (truth.json) in {:.1} s",
        args.days,
        summary.events,
        summary.incidents,
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn print_summary(out: &mut impl Write, s: &IngestSummary, json: bool) -> Result<()> {
    if json {
        let value = serde_json::json!({
            "source": s.source, "format": s.format, "records": s.records, "accepted": s.accepted,
            "duplicates": s.duplicates, "quarantined": s.quarantined, "bytes": s.bytes,
            "alerts": s.alerts,
            "elapsed_ms": s.elapsed.as_millis() as u64, "events_per_second": s.events_per_second().round(),
        });
        writeln!(out, "{value}")?;
    } else {
        writeln!(
            out,
            "{}: {} events accepted, {} duplicates skipped, {} quarantined ({}) in {:.2} s, {} events/s, {} alerts written",
            s.source,
            s.accepted,
            s.duplicates,
            s.quarantined,
            s.format,
            s.elapsed.as_secs_f64(),
            s.events_per_second().round(),
            s.alerts
        )?;
    }
    Ok(())
}

fn context_import(ctx: &Runtime, paths: &[PathBuf], json: bool) -> Result<ExitCode> {
    let store = ctx.open_store()?;
    let max_document_bytes = ctx
        .config
        .ingest
        .max_document_bytes
        .unwrap_or(IngestOptions::default().max_document_bytes);
    for path in paths {
        let (source, _, _) = open_source(path)?;
        let s = ward_pipeline::import_context(&store, source, max_document_bytes)?;
        if json {
            let imported: serde_json::Map<String, serde_json::Value> = s
                .imported
                .iter()
                .map(|(k, n)| (k.as_str().to_string(), (*n).into()))
                .collect();
            println!(
                "{}",
                serde_json::json!({"source": s.source, "records": s.records, "imported": imported,
                    "quarantined": s.quarantined, "elapsed_ms": s.elapsed.as_millis() as u64})
            );
        } else {
            let kinds: Vec<String> = s
                .imported
                .iter()
                .map(|(k, n)| format!("{n} {}", k.as_str()))
                .collect();
            let kinds = if kinds.is_empty() {
                "nothing".to_string()
            } else {
                kinds.join(", ")
            };
            println!(
                "{}: imported {kinds}; {} quarantined in {:.2} s",
                s.source,
                s.quarantined,
                s.elapsed.as_secs_f64()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn context_stats(ctx: &Runtime) -> Result<ExitCode> {
    let store = ctx.open_store()?;
    for kind in ContextKind::ALL {
        println!("{:<18} {}", kind.as_str(), store.count_context(kind)?);
    }
    Ok(ExitCode::SUCCESS)
}

fn quarantine_list(
    ctx: &Runtime,
    json: bool,
    source: Option<String>,
    limit: usize,
    raw: bool,
) -> Result<ExitCode> {
    let store = ctx.open_store()?;
    let records = store.list_quarantine(&QuarantineQuery {
        source,
        limit: Some(limit),
        after_id: None,
    })?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for q in &records {
        if json {
            writeln!(out, "{}", serde_json::to_string(q)?)?;
            continue;
        }
        let r = &q.record;
        let mut position = format!("line {}", r.position.line);
        if let Some(entry) = r.position.entry {
            position.push_str(&format!(" entry {entry}"));
        }
        writeln!(
            out,
            "#{} {}:{} (byte {}, {} bytes, {}): {}",
            q.id, r.source, position, r.position.offset, r.raw_len, r.format, r.reason
        )?;
        if raw {
            writeln!(
                out,
                "    {}",
                String::from_utf8_lossy(&r.raw).escape_debug()
            )?;
        }
    }
    if !json {
        let total = store.stats()?.quarantined;
        writeln!(
            out,
            "{} of {total} quarantined records shown",
            records.len()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn quarantine_retry(ctx: &Runtime, format: Option<&str>, source: Option<&str>) -> Result<ExitCode> {
    let store = ctx.open_store()?;
    let s = ward_pipeline::retry_quarantine(&store, format, source)?;
    println!(
        "examined {}: {} released ({} events stored), {} still failing, {} kept only in part (cannot be re-run)",
        s.examined, s.released, s.events, s.still_failing, s.incomplete
    );
    Ok(ExitCode::SUCCESS)
}

/// RFC 3339, a date, or a duration before now (`30d`, `12h`, `15m`, `45s`).
pub fn parse_since(text: &str) -> Result<Timestamp> {
    if let Some(t) = Timestamp::parse(text) {
        return Ok(t);
    }
    let bad = || {
        BadInput(format!(
            "cannot read time {text:?}: use RFC 3339 (2024-05-01T12:00:00Z) or a duration (30d, 12h, 15m)"
        ))
    };
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = number.parse().map_err(|_| bad())?;
    let ms = match unit {
        "d" => n * 86_400_000,
        "h" => n * 3_600_000,
        "m" => n * 60_000,
        "s" => n * 1000,
        _ => return Err(bad().into()),
    };
    Ok(Timestamp(Timestamp::now().0 - ms))
}

fn alerts(ctx: &Runtime, args: AlertsArgs) -> Result<ExitCode> {
    let store = ctx.open_store()?;
    let status = match &args.status {
        Some(s) => Some(AlertStatus::parse(s).ok_or_else(|| {
            BadInput(format!(
                "unknown status {s:?}: open, acknowledged or closed"
            ))
        })?),
        None => None,
    };
    let since = args.since.as_deref().map(parse_since).transpose()?;
    let alerts = store.list_alerts(&AlertQuery {
        since,
        status,
        limit: Some(args.limit),
        ..Default::default()
    })?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for a in &alerts {
        if args.json {
            writeln!(out, "{}", serde_json::to_string(a)?)?;
        } else {
            writeln!(
                out,
                "{} {:<8} {} ×{} {} — {} ({})",
                a.last_seen,
                a.severity.as_str(),
                a.id,
                a.count,
                a.rule_id,
                a.title,
                a.status.as_str()
            )?;
        }
    }
    if !args.json && alerts.is_empty() {
        writeln!(out, "no alerts")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn events(ctx: &Runtime, args: EventsArgs) -> Result<ExitCode> {
    let store = ctx.open_store()?;
    let query = EventQuery {
        since: args.since.as_deref().map(parse_since).transpose()?,
        until: args.until.as_deref().map(parse_since).transpose()?,
        user: args.user,
        patient: args.patient,
        src_ip: args.src_ip,
        host: args.host,
        alert_id: args.alert,
        class_uid: None,
        limit: Some(args.limit),
    };
    let events = store.query_events(&query)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for e in &events {
        if args.json {
            writeln!(out, "{}", serde_json::to_string(e)?)?;
        } else {
            writeln!(
                out,
                "{} {} {} {} user={} patient={} src={}",
                e.time,
                e.class_name(),
                e.activity_name.as_deref().unwrap_or("-"),
                e.status.as_str(),
                e.actor.user.name.as_deref().unwrap_or("-"),
                e.patient.id.as_deref().unwrap_or("-"),
                e.src_endpoint
                    .ip
                    .as_deref()
                    .or(e.src_endpoint.hostname.as_deref())
                    .unwrap_or("-"),
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(ctx: &Runtime) -> Result<ExitCode> {
    let store = ctx.open_store()?;
    let stats = store.stats()?;
    let report = store.verify().context("verifying the batch chain")?;
    if let Some(seq) = report.first_bad_batch {
        println!("batch {seq} does not verify: stored data was changed after it was written");
    }
    if let Some(seq) = report.bad_checkpoint {
        println!(
            "the signed checkpoint of batch {seq} does not verify: batches were rewritten or removed, or the checkpoint was forged"
        );
    }
    if !report.is_intact() {
        return Ok(ExitCode::from(1));
    }
    println!(
        "verified {} batches ({} events, {} quarantined records): chain intact",
        report.batches, stats.events, stats.quarantined
    );
    match report.last_checkpoint {
        Some((seq, at)) => println!(
            "{} signed checkpoints verified; the last covers batch {seq} (signed {at}) of {}",
            report.checkpoints, report.last_batch
        ),
        None if store.is_encrypted() && report.batches > 0 => {
            println!("no signed checkpoint yet")
        }
        None => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// `ward serve`: opens the store, starts the enabled listeners and the HTTP server, prints
/// where they listen, and on SIGINT or SIGTERM stops accepting and lets the commits in flight
/// finish (and be acknowledged) before exiting.
fn serve(ctx: &Runtime, args: ServeArgs) -> Result<ExitCode> {
    // The demo keeps its simulated hospital apart from real data unless told otherwise.
    let data_dir = if args.demo && !ctx.data_dir_given {
        PathBuf::from("ward-demo")
    } else {
        ctx.data_dir.clone()
    };
    crate::serve::serve(
        &ctx.config,
        crate::serve::ServeRequest {
            data_dir,
            listen: args.listen,
            demo: args.demo,
            demo_speed: args.demo_speed,
            demo_seed: args.demo_seed,
        },
    )
}

/// SIGINT and SIGTERM, watched from the moment this is called (so a signal that arrives while
/// `serve` is still starting its tasks is not lost to the default action).
pub(crate) struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    /// Must be called inside the runtime.
    pub(crate) fn watch() -> Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt()).context("cannot watch SIGINT")?,
            terminate: signal(SignalKind::terminate()).context("cannot watch SIGTERM")?,
        })
    }

    pub(crate) async fn wait(mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

/// `ward bench sigma`: loads the rules, decodes the files into memory (not timed), then times
/// one thread evaluating every event against the whole rule set.
fn bench_sigma(ctx: &Runtime, rule_dirs: &[PathBuf], files: &[PathBuf]) -> Result<ExitCode> {
    let placeholders = ctx.config.detect.sigma_placeholders();
    let mut paths = Vec::new();
    for dir in rule_dirs {
        rule_files(dir, &mut paths)?;
    }
    let rules: Vec<_> = paths
        .iter()
        .filter_map(|p| load_rule(p, &placeholders).ok())
        .collect();
    let loaded = rules.len();
    let set = ward_detect::sigma::RuleSet::new(rules);
    let mut events = Vec::new();
    for path in files {
        let (source, _, year) = open_source(path)?;
        let options = IngestOptions {
            year: Some(year),
            ..IngestOptions::default()
        };
        ward_pipeline::scan(source, &options, &mut |e| events.push(e))?;
    }
    let started = std::time::Instant::now();
    let mut matches = 0usize;
    for event in &events {
        matches += set.matches(event).count();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{} events against {loaded} rules ({} files read) in {secs:.2} s = {:.0} events/s, {matches} matches",
        events.len(),
        paths.len(),
        events.len() as f64 / secs
    );
    // The detection engine as `ward ingest` runs it (standard detectors, shipped pack,
    // correlations, alert merging), over the same events, one thread, nothing stored.
    let mut engine = ward_detect::Engine::new(ward_detect::standard::standard_configured(
        std::sync::Arc::new(ward_detect::threat::inventory::Inventory::new()),
        ward_detect::sigma::Collection::new(),
        None,
        ctx.config.detect.privacy.options()?,
    )?);
    let started = std::time::Instant::now();
    let mut alerts = std::collections::HashSet::new();
    for batch in events.chunks(4096) {
        for finding in engine.observe(batch) {
            alerts.insert(finding.alert.id);
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "detection engine ({}): {} events in {secs:.2} s = {:.0} events/s, {} alerts",
        engine.detector_names().join(", "),
        events.len(),
        events.len() as f64 / secs,
        alerts.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// `ward hunt`: every event of the files against every rule, nothing stored. Matches go to
/// standard output (text or JSON lines), the count of rules and events to standard error.
/// Correlation rules in the files are evaluated on the same stream; each correlation alert is
/// printed once, in its final state, after the matches.
fn hunt(ctx: &Runtime, args: HuntArgs) -> Result<ExitCode> {
    let mut paths = Vec::new();
    rule_files(&args.rules, &mut paths)?;
    paths.sort();
    let placeholders = ctx.config.detect.sigma_placeholders();
    let mut rules = Vec::new();
    let mut correlated = ward_detect::sigma::Collection::new();
    let mut failed = 0usize;
    for path in &paths {
        match load_file(path, &placeholders) {
            Ok(collection) => {
                if !collection.correlations.is_empty() {
                    // The correlations' detector owns its own compiled copy of the file.
                    if let Ok(again) = load_file(path, &placeholders) {
                        correlated.rules.extend(again.rules);
                        correlated.correlations.extend(again.correlations);
                    }
                }
                rules.extend(collection.rules.into_iter().map(|(r, _)| r));
            }
            Err(reason) => {
                failed += 1;
                eprintln!("{}: not loaded: {reason}", path.display());
            }
        }
    }
    if rules.is_empty() && correlated.is_empty() {
        return Err(BadInput(format!("no rule loads from {}", args.rules.display())).into());
    }
    let loaded = rules.len() + correlated.correlations.len();
    let set = ward_detect::sigma::RuleSet::new(rules);
    let correlation_ids: std::collections::HashSet<String> = correlated
        .correlations
        .iter()
        .map(|(c, _)| {
            ward_detect::sigma::rule_key(
                c.meta.id.as_deref(),
                c.meta.name.as_deref(),
                &c.meta.title,
            )
        })
        .collect();
    let mut engine = if correlated.correlations.is_empty() {
        None
    } else {
        let detector = ward_detect::sigma::SigmaDetector::new(correlated)
            .map_err(|e| BadInput(format!("{}: {e}", args.rules.display())))?;
        Some(ward_detect::Engine::new(vec![Box::new(detector)]))
    };
    let mut correlations: std::collections::BTreeMap<String, ward_model::Alert> =
        Default::default();
    let instant = |text: &Option<String>, flag: &str| -> Result<Option<Timestamp>> {
        text.as_deref()
            .map(|t| {
                Timestamp::parse(t).ok_or_else(|| {
                    BadInput(format!("cannot read {flag} {t:?}: use RFC 3339 or a date")).into()
                })
            })
            .transpose()
    };
    let since = instant(&args.since, "--since")?;
    let until = instant(&args.until, "--until")?;
    let started = std::time::Instant::now();
    let (mut events, mut matches) = (0u64, 0u64);
    let mut out = std::io::stdout().lock();
    let mut written = Ok(());
    let mut on_event = |event: ward_model::Event| {
        if since.is_some_and(|s| event.time < s) || until.is_some_and(|u| event.time >= u) {
            return;
        }
        events += 1;
        for rule in set.matches(&event) {
            matches += 1;
            if written.is_ok() {
                written = write_match(&mut out, &rule.rule, &event, args.json);
            }
        }
        if let Some(engine) = &mut engine {
            for finding in engine.observe(std::slice::from_ref(&event)) {
                if correlation_ids.contains(&finding.alert.rule_id) {
                    correlations.insert(finding.alert.id.clone(), finding.alert);
                }
            }
        }
    };
    if args.paths.is_empty() {
        let store = ctx.open_store()?;
        let until = until.unwrap_or_else(Timestamp::now);
        let since = since.unwrap_or(Timestamp(until.millis() - 90 * 86_400_000));
        stored_events_in_order(&store, since, until, &mut on_event)?;
    }
    for path in &args.paths {
        let (source, _, year) = open_source(path)?;
        let options = IngestOptions {
            format: Some(args.format.clone()),
            year: Some(year),
            ..IngestOptions::default()
        };
        let summary = ward_pipeline::scan(source, &options, &mut on_event)?;
        if summary.failed > 0 {
            eprintln!(
                "{}: {} records could not be decoded",
                path.display(),
                summary.failed
            );
        }
    }
    written?;
    for alert in correlations.values() {
        write_correlation(&mut out, alert, args.json)?;
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{matches} matches, {} correlation alerts: {events} events against {loaded} rules ({failed} not loaded) in {secs:.2} s, {:.0} events/s",
        correlations.len(),
        events as f64 / secs.max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}

/// Stored events from `since` to `until`, oldest first (correlations need event order).
fn stored_events_in_order(
    store: &dyn Store,
    since: Timestamp,
    until: Timestamp,
    on_event: &mut dyn FnMut(ward_model::Event),
) -> Result<()> {
    ward_store::history::in_order(
        store,
        since,
        until,
        &mut |at| {
            eprintln!(
                "ward: more than {} events in the millisecond {at}: the first {} were hunted",
                ward_store::history::PAGE,
                ward_store::history::PAGE
            )
        },
        &mut |event| {
            on_event(event);
            true
        },
    )?;
    Ok(())
}

/// One correlation alert of a hunt, with its rule's attribution.
fn write_correlation(
    out: &mut impl Write,
    alert: &ward_model::Alert,
    json: bool,
) -> std::io::Result<()> {
    if json {
        let mut value = serde_json::to_value(alert).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            map.insert("correlation".into(), true.into());
        }
        return writeln!(out, "{value}");
    }
    writeln!(
        out,
        "{} {:<8} {} [{}] ×{} user={} host={} src={} (author: {})",
        alert.last_seen,
        alert.severity.as_str(),
        alert.title,
        alert.attack.join(","),
        alert.count,
        alert.entities.user.as_deref().unwrap_or("-"),
        alert.entities.host.as_deref().unwrap_or("-"),
        alert.entities.src_ip.as_deref().unwrap_or("-"),
        alert.author.as_deref().unwrap_or("unknown")
    )
}

/// One match: the rule's metadata, with its author and licence as the Detection Rule License
/// asks wherever a rule's matches are shown, and the event (without its raw record).
fn write_match(
    out: &mut impl Write,
    rule: &ward_detect::sigma::Rule,
    event: &ward_model::Event,
    json: bool,
) -> std::io::Result<()> {
    if json {
        let mut value = serde_json::to_value(event).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            map.remove("raw");
        }
        let line = serde_json::json!({
            "rule_id": rule.id, "title": rule.title, "level": rule.level, "attack": rule.attack,
            "author": rule.author, "license": rule.license, "references": rule.references,
            "event": value,
        });
        return writeln!(out, "{line}");
    }
    writeln!(
        out,
        "{} {:<8} {} [{}] host={} user={} {} (author: {})",
        event.time,
        rule.level.as_deref().unwrap_or("-"),
        rule.title,
        rule.attack.join(","),
        event.device.hostname.as_deref().unwrap_or("-"),
        event.actor.user.name.as_deref().unwrap_or("-"),
        event.metadata.log_name,
        rule.author.as_deref().unwrap_or("unknown"),
    )
}
