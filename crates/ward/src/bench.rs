//! `ward bench ingest`: the ingest throughput benchmark recorded in BENCHMARKS.md.
//!
//! It writes an NDJSON file of BALP-style FHIR AuditEvents, times a baseline that only parses
//! each line with serde_json, then runs `ward ingest` on the same file as a child process into
//! a fresh store and reads the child's wall time and peak resident memory from the kernel.

use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufWriter, Write};
use std::path::Path;
use std::time::Instant;

/// A small deterministic generator (xorshift64*), so every run writes the same file.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const SUBTYPES: [(&str, &str, &str); 4] = [
    ("read", "R", "Patient"),
    ("search-type", "E", "Observation"),
    ("update", "U", "Encounter"),
    ("create", "C", "DocumentReference"),
];

/// One BALP-style AuditEvent (PatientRead / PatientQuery / PatientUpdate / PatientCreate), about
/// 1.3 KB, as an EHR's FHIR server writes them.
fn audit_event_line(i: u64, rng: &mut Rng, out: &mut Vec<u8>) {
    let user = rng.below(2_000);
    let patient = rng.below(100_000);
    let ws = rng.below(400);
    let (subtype, action, resource) = SUBTYPES[rng.below(SUBTYPES.len() as u64) as usize];
    let outcome = if rng.below(200) == 0 { "8" } else { "0" };
    // 25 events a second, about 2 million a day: the EHR audit feed of a large hospital.
    let secs = 1_717_200_000 + i / 25;
    let (day, rest) = (secs / 86_400, secs % 86_400);
    let (h, m, s) = (rest / 3600, rest % 3600 / 60, rest % 60);
    // 2024-06-01 is day 19875 after the epoch; the benchmark spans days, not months.
    let date = 1 + (day - 19_875) % 28;
    let _ = write!(
        out,
        concat!(
            r#"{{"resourceType":"AuditEvent","id":"ae-{i}","meta":{{"profile":["https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientRead"]}},"#,
            r#""type":{{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest","display":"Restful Operation"}},"#,
            r#""subtype":[{{"system":"http://hl7.org/fhir/restful-interaction","code":"{subtype}","display":"{subtype}"}}],"#,
            r#""action":"{action}","recorded":"2024-06-{date:02}T{h:02}:{m:02}:{s:02}.{ms:03}Z","outcome":"{outcome}","#,
            r#""agent":[{{"type":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP","display":"information recipient"}}]}},"who":{{"identifier":{{"system":"urn:oid:2.16.840.1.113883.19.5","value":"u{user}"}}}},"requestor":true,"purposeOfUse":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"TREAT"}}]}}]}},"#,
            r#"{{"type":{{"coding":[{{"system":"http://dicom.nema.org/resources/ontology/DCM","code":"110153","display":"Source Role ID"}}]}},"who":{{"display":"ws-{ws}.clinic.example"}},"requestor":false,"network":{{"address":"10.20.{a}.{b}","type":"2"}}}},"#,
            r#"{{"type":{{"coding":[{{"system":"http://dicom.nema.org/resources/ontology/DCM","code":"110152","display":"Destination Role ID"}}]}},"who":{{"display":"ehr.clinic.example"}},"requestor":false,"network":{{"address":"ehr.clinic.example","type":"1"}}}}],"#,
            r#""source":{{"site":"main-campus","observer":{{"display":"ehr.clinic.example"}},"type":[{{"system":"http://terminology.hl7.org/CodeSystem/security-source-type","code":"4","display":"Application Server"}}]}},"#,
            r#""entity":[{{"what":{{"reference":"Patient/p{patient}"}},"type":{{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"1","display":"Person"}},"role":{{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"1","display":"Patient"}}}},"#,
            r#"{{"what":{{"reference":"{resource}/r{i}"}},"type":{{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"2","display":"System Object"}},"role":{{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"4","display":"Domain Resource"}}}}]}}"#,
            "\n"
        ),
        i = i,
        subtype = subtype,
        action = action,
        date = date,
        h = h,
        m = m,
        s = s,
        ms = i % 1000,
        outcome = outcome,
        user = user,
        ws = ws,
        a = ws / 250,
        b = ws % 250 + 1,
        patient = patient,
        resource = resource,
    );
}

fn write_audit_events(path: &Path, events: u64) -> Result<u64> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let mut rng = Rng(SEED);
    let mut line = Vec::with_capacity(2048);
    let mut bytes = 0;
    for i in 0..events {
        line.clear();
        audit_event_line(i, &mut rng, &mut line);
        bytes += line.len() as u64;
        w.write_all(&line)?;
    }
    w.flush()?;
    Ok(bytes)
}

/// The generator's seed: fixed, so every run measures the same file.
const SEED: u64 = 0x005e_ed0f_3a7d;

/// Peak resident memory (KiB) and wall time of a child process, from wait4(2).
fn run_measured(
    cmd: &mut std::process::Command,
) -> Result<(std::process::ExitStatus, u64, f64, String)> {
    use std::os::unix::process::ExitStatusExt;
    let started = Instant::now();
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("cannot start ward ingest")?;
    let pid = child.id() as libc::pid_t;
    let mut stdout = child.stdout.context("no stdout")?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut text)?;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for the kernel to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet reaped; both pointers are valid for the call.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if rc < 0 {
        bail!("wait4 failed: {}", std::io::Error::last_os_error());
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok((
        std::process::ExitStatus::from_raw(status),
        usage.ru_maxrss as u64,
        elapsed,
        text,
    ))
}

pub fn ingest(events: u64, workers: Option<usize>, dir: Option<&Path>) -> Result<()> {
    let tmp;
    let dir = match dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.to_path_buf()
        }
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let file = dir.join("audit-events.ndjson");
    let store = dir.join("store");
    let _ = std::fs::remove_dir_all(&store);

    let t = Instant::now();
    let bytes = write_audit_events(&file, events)?;
    println!(
        "generated {events} AuditEvents ({:.0} MB) in {:.2} s",
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    // Baseline: parse every line with serde_json into a generic value, nothing else.
    let t = Instant::now();
    let reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&file)?);
    let mut parsed = 0u64;
    for line in reader.split(b'\n') {
        let line = line?;
        let value: serde_json::Value = serde_json::from_slice(&line).context("baseline parse")?;
        parsed += value.is_object() as u64;
    }
    let baseline = t.elapsed().as_secs_f64();
    println!(
        "baseline  serde_json::Value parse: {parsed} lines in {baseline:.2} s = {:.0} events/s",
        parsed as f64 / baseline
    );

    // The floor under ingest on one thread: what every event costs before the store sees it.
    // The FHIR decoder (parse, normalise, SHA-256 event id), then the body the store keeps
    // (normalised event as JSON beside the original record, LZ4-compressed).
    let floor = |encode: bool| -> Result<f64> {
        use ward_decode::Decoder;
        let decoder = ward_decode::fhir::FhirAuditEvent;
        let mut encoder = ward_store::codec::Encoder::default();
        let (mut out, mut body) = (Vec::with_capacity(4), Vec::with_capacity(4096));
        let reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&file)?);
        let t = Instant::now();
        let mut decoded = 0u64;
        for line in reader.split(b'\n') {
            let line = line?;
            out.clear();
            decoder.decode(&line, &mut out);
            for event in out.drain(..) {
                let event = event.map_err(|e| anyhow::anyhow!("floor decode: {e}"))?;
                if encode {
                    body.clear();
                    encoder.encode_into(&event, &mut body)?;
                }
                decoded += 1;
            }
        }
        if decoded != events {
            bail!("the floor run decoded {decoded} of {events} events");
        }
        Ok(t.elapsed().as_secs_f64())
    };
    for (label, encode) in [
        ("FHIR decode only (no store)", false),
        ("decode + body encoding (no store)", true),
    ] {
        let secs = floor(encode)?;
        println!("floor     {label}: {:.0} events/s", events as f64 / secs);
    }

    let exe = std::env::current_exe()?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--data-dir")
        .arg(&store)
        .arg("-q")
        .arg("ingest")
        .arg("--json")
        .arg("--format")
        .arg("fhir")
        .arg(&file);
    if let Some(w) = workers {
        let config = dir.join("bench.toml");
        std::fs::write(&config, format!("[ingest]\nworkers = {w}\n"))?;
        cmd.arg("--config").arg(config);
    }
    let (status, peak_kib, wall, out) = run_measured(&mut cmd)?;
    if !status.success() {
        bail!("ward ingest failed ({status}): {out}");
    }
    let summary: serde_json::Value =
        serde_json::from_str(out.lines().next().unwrap_or("{}")).context("ingest summary")?;
    let accepted = summary["accepted"].as_u64().unwrap_or(0);
    if accepted != events {
        bail!("ingest accepted {accepted} of {events} events: {out}");
    }
    let db_bytes: u64 = std::fs::read_dir(&store)?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "ward ingest (decode + store, {} worker(s)): {accepted} events in {wall:.2} s = {:.0} events/s, peak RSS {:.0} MB, store {:.0} MB",
        workers.map_or("default".to_string(), |w| w.to_string()),
        accepted as f64 / wall,
        peak_kib as f64 / 1024.0,
        db_bytes as f64 / 1e6
    );
    println!("ratio to baseline parse: {:.2}x the time", wall / baseline);
    Ok(())
}

/// `ward bench encryption`: ingest of one generated file into a plain and an encrypted store,
/// alternating so that the machine's drift affects both alike; medians of `rounds` each.
pub fn encryption(events: u64, rounds: usize) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let file = tmp.path().join("audit-events.ndjson");
    write_audit_events(&file, events)?;
    let kek = ward_vault::KekSource::File(tmp.path().join("kek"));
    if let ward_vault::KekSource::File(path) = &kek {
        ward_vault::Kek::create_file(path)?;
    }
    let options = ward_pipeline::IngestOptions {
        format: Some("fhir".into()),
        ..Default::default()
    };
    let mut plain = Vec::new();
    let mut sealed = Vec::new();
    for round in 0..rounds.max(1) {
        for encrypted in [false, true] {
            let dir = tmp.path().join(format!("store-{round}-{encrypted}"));
            let store = if encrypted {
                ward_store::SqliteStore::open_encrypted(&dir, &kek)?
            } else {
                ward_store::SqliteStore::open(&dir)?
            };
            let source = ward_pipeline::Source::new("bench", std::fs::File::open(&file)?);
            let t = Instant::now();
            let summary = ward_pipeline::ingest(&store, source, &options, &|_| {}, None)?;
            let secs = t.elapsed().as_secs_f64();
            if summary.accepted != events {
                bail!("ingest accepted {} of {events} events", summary.accepted);
            }
            drop(store);
            std::fs::remove_dir_all(&dir)?;
            (if encrypted { &mut sealed } else { &mut plain }).push(events as f64 / secs);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (p, e) = (median(&mut plain), median(&mut sealed));
    println!(
        "ingest without encryption: {p:.0} events/s (median of {})",
        plain.len()
    );
    println!(
        "ingest with encryption:    {e:.0} events/s (median of {})",
        sealed.len()
    );
    println!(
        "encryption costs {:.1}% of throughput",
        (1.0 - e / p) * 100.0
    );
    Ok(())
}

/// `ward bench simulate`: the simulator's generation rate, whole run included.
pub fn simulate(events: u64, dir: Option<&Path>) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = dir.unwrap_or(tmp.path());
    let (written, elapsed) =
        ward_simulate::bench_events(events, dir).context("simulation failed")?;
    let audit = dir.join("telemetry/ehr-audit.ndjson");
    let bytes = std::fs::metadata(&audit).map(|m| m.len()).unwrap_or(0);
    let secs = elapsed.as_secs_f64();
    println!(
        "simulated {written} AuditEvents ({:.0} MB) in {secs:.2} s = {:.0} events/s, {:.0} MB/s",
        bytes as f64 / 1e6,
        written as f64 / secs,
        bytes as f64 / 1e6 / secs
    );
    Ok(())
}

/// `ward bench detectors`: every detector Ward runs on the stream (the Sigma healthcare pack
/// with its correlations, privacy monitoring, and the credential, network, segmentation and
/// mail analytics with the simulated hospital's inventory and GeoIP databases) over the
/// simulator's telemetry, in time order, on one thread, nothing stored. The context is
/// imported into a scratch store first and primes the engine as at start-up; decoding is not
/// timed. Each round runs a fresh engine over the same events; the median round is reported,
/// with each detector's share from that round.
pub fn detectors(
    dir: Option<&Path>,
    config: &ward_simulate::SimConfig,
    rounds: usize,
    privacy: &ward_detect::privacy::PrivacyOptions,
) -> Result<()> {
    use std::sync::{Arc, Mutex};
    let tmp = tempfile::tempdir()?;
    let sim = match dir {
        Some(d) if d.join("truth.json").is_file() => d.to_path_buf(),
        _ => {
            let d = dir.map_or_else(|| tmp.path().join("sim"), Path::to_path_buf);
            let t = Instant::now();
            ward_simulate::simulate(config, &d).context("simulation failed")?;
            println!(
                "simulated {} days, {} staff, {} patients (seed {}) in {:.1} s",
                config.days,
                config.staff,
                config.patients,
                config.seed,
                t.elapsed().as_secs_f64()
            );
            d
        }
    };
    let store = ward_store::SqliteStore::open(&tmp.path().join("store"))?;
    let options = ward_pipeline::IngestOptions {
        year: Some(config.start.year()),
        ..Default::default()
    };
    for path in crate::demo::context_files(&sim) {
        let file = std::fs::File::open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let source = ward_pipeline::Source::new(
            crate::demo::source_name(&sim, &path),
            std::io::BufReader::new(file),
        );
        ward_pipeline::import_context(&store, source, options.max_document_bytes)
            .with_context(|| format!("cannot import {}", path.display()))?;
    }
    let mut events = Vec::new();
    for path in crate::demo::telemetry_files(&sim) {
        let file = std::fs::File::open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let source = ward_pipeline::Source::new(
            crate::demo::source_name(&sim, &path),
            std::io::BufReader::new(file),
        );
        ward_pipeline::scan(source, &options, &mut |e| events.push(e))
            .with_context(|| format!("cannot read {}", path.display()))?;
    }
    events.sort_by_key(|e| e.time);
    let context = sim.join("context");
    let inventory = Arc::new(crate::detection::inventory_from_dir(&context)?);
    let geoip = crate::detection::geoip_from_dir(&context)?;
    let mut runs = Vec::new();
    for _ in 0..rounds.max(1) {
        let detectors = ward_detect::standard::standard_configured(
            Arc::clone(&inventory),
            ward_detect::sigma::Collection::new(),
            geoip.clone(),
            privacy.clone(),
        )?;
        let engine = Mutex::new(ward_detect::Engine::new(detectors));
        ward_pipeline::load_context(&store, &engine)?;
        let mut engine = engine
            .into_inner()
            .map_err(|_| anyhow::anyhow!("engine poisoned"))?;
        let mut alerts = std::collections::HashSet::new();
        let started = Instant::now();
        for batch in events.chunks(4096) {
            for finding in engine.observe(batch) {
                alerts.insert(finding.alert.id);
            }
        }
        let secs = started.elapsed().as_secs_f64();
        let shares: Vec<(String, f64)> = engine
            .detector_timings()
            .into_iter()
            .map(|(name, t)| (name.to_string(), t.nanos as f64 / 1e9))
            .collect();
        runs.push((secs, alerts.len(), shares));
    }
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (secs, alerts, shares) = &runs[runs.len() / 2];
    println!(
        "{} events ({} telemetry files), {} detectors, GeoIP {}: {:.3} s = {:.0} events/s on one thread, {alerts} alerts (median of {} rounds; fastest {:.0}, slowest {:.0} events/s)",
        events.len(),
        crate::demo::telemetry_files(&sim).len(),
        shares.len(),
        if geoip.is_some() { "on" } else { "off" },
        secs,
        events.len() as f64 / secs,
        runs.len(),
        events.len() as f64 / runs[0].0,
        events.len() as f64 / runs[runs.len() - 1].0,
    );
    for (name, spent) in shares {
        println!(
            "  {name:<14} {:>7.3} s  {:>5.1}% of the time",
            spent,
            spent / secs * 100.0
        );
    }
    Ok(())
}

/// Peak resident memory of this process so far (KiB), from getrusage(2).
fn own_maxrss_kib() -> u64 {
    // SAFETY: an all-zero rusage is a valid value for the kernel to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    if rc == 0 { usage.ru_maxrss as u64 } else { 0 }
}

/// CPU time (user and system) this process has used so far, in seconds, from getrusage(2):
/// on a shared machine a single-threaded phase's CPU time is its one-core cost, whatever else
/// runs on the core.
fn own_cpu_secs() -> f64 {
    // SAFETY: an all-zero rusage is a valid value for the kernel to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0.0;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Counts the audit trail's lines and bytes and drops them: generation alone.
#[derive(Default)]
struct CountingSink {
    bytes: u64,
}

impl Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Decodes each AuditEvent line as it is written and hands it to the privacy scan, timing
/// its own work (decode and detection).
struct ScanSink {
    scan: ward_detect::privacy::scan::PrivacyScan,
    decoder: &'static dyn ward_decode::Decoder,
    line: Vec<u8>,
    decoded: Vec<Result<ward_model::Event, ward_decode::DecodeError>>,
    events: u64,
    failed: u64,
    busy: std::time::Duration,
}

impl ScanSink {
    fn line(&mut self, line: &[u8]) {
        self.decoder.decode(line, &mut self.decoded);
        for event in self.decoded.drain(..) {
            match event {
                Ok(event) => {
                    self.events += 1;
                    self.scan.observe(&event);
                }
                Err(_) => self.failed += 1,
            }
        }
    }
}

impl Write for ScanSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let started = Instant::now();
        let mut rest = buf;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            if self.line.is_empty() {
                self.line(&rest[..end]);
            } else {
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(&rest[..end]);
                self.line(&line);
                line.clear();
                self.line = line;
            }
            rest = &rest[end + 1..];
        }
        self.line.extend_from_slice(rest);
        self.busy += started.elapsed();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The simulated hospital's context (FHIR resources, the HR roster and the ADT feed) into
/// the scan, a file and a line at a time. Returns how many resources.
fn privacy_context(dir: &Path, scan: &mut ward_detect::privacy::scan::PrivacyScan) -> Result<u64> {
    let mut total = 0u64;
    let mut parsed = Vec::new();
    let mut feed =
        |parsed: &mut Vec<Result<ward_model::ContextResource, ward_decode::DecodeError>>,
         force: bool|
         -> Result<()> {
            if parsed.len() >= 4_096 || (force && !parsed.is_empty()) {
                let resources = parsed
                    .drain(..)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| anyhow::anyhow!("simulated context does not parse: {e}"))?;
                total += resources.len() as u64;
                scan.context(&resources);
            }
            Ok(())
        };
    for (name, adt) in [
        ("context/organization.ndjson", false),
        ("context/practitioners.ndjson", false),
        ("context/practitioner-roles.ndjson", false),
        ("context/patients.ndjson", false),
        ("context/encounters.ndjson", false),
        ("context/care-teams.ndjson", false),
        ("context/appointments.ndjson", false),
        ("context/service-requests.ndjson", false),
        ("telemetry/adt.hl7", true),
    ] {
        let file = std::fs::File::open(dir.join(name))
            .with_context(|| format!("{}", dir.join(name).display()))?;
        for line in std::io::BufReader::new(file).split(b'\n') {
            let line = line?;
            if adt {
                ward_decode::hl7::adt_context(&line, &mut parsed);
            } else {
                ward_decode::context::parse_context(&line, &mut parsed);
            }
            feed(&mut parsed, false)?;
        }
        feed(&mut parsed, true)?;
    }
    let roster = std::fs::read(dir.join("context/hr-roster.csv"))?;
    parsed.extend(ward_decode::roster::parse_roster(&roster));
    feed(&mut parsed, true)?;
    Ok(total)
}

/// `ward bench privacy`: the privacy scan of issue #6's bar (a week of a 10,000-staff hospital
/// in under 5 minutes on one core, under 2 GB). The simulator runs twice with the same
/// configuration, on this thread: first with its EHR audit trail counted and dropped
/// (generation alone), then with every AuditEvent line decoded (`fhir`) and scanned by the
/// privacy detector as it is written. Neither writes the audit trail to disk; the rest of the
/// simulated telemetry goes to a temporary directory, deleted at the end. The scan's time is
/// the second run's minus the first's, and is also clocked inside the scanning sink.
pub fn privacy(
    staff: u32,
    days: u32,
    patients: Option<u32>,
    rate: Option<f64>,
    seed: u64,
    options: ward_detect::privacy::PrivacyOptions,
) -> Result<()> {
    let config = ward_simulate::SimConfig {
        seed,
        days,
        rate,
        staff: staff.max(ward_simulate::MIN_STAFF),
        patients: patients
            .unwrap_or_else(|| staff.saturating_mul(20))
            .max(ward_simulate::MIN_PATIENTS),
        ..ward_simulate::SimConfig::default()
    };
    let tmp = tempfile::tempdir()?;
    println!(
        "simulating {} days of {} staff and {} patients (seed {seed}) …",
        config.days, config.staff, config.patients
    );

    let generation_dir = tmp.path().join("generation");
    let mut counting = CountingSink::default();
    let cpu = own_cpu_secs();
    let started = Instant::now();
    let summary = ward_simulate::simulate_audit_to(&config, &generation_dir, &mut counting)
        .context("simulation failed")?;
    let generation = started.elapsed().as_secs_f64();
    let generation_cpu = own_cpu_secs() - cpu;
    let rss_generation = own_maxrss_kib();
    println!(
        "generation alone: {} AuditEvents ({:.1} GB of NDJSON, not written) in {generation:.1} s ({generation_cpu:.1} s CPU); peak RSS {:.0} MB",
        summary.events,
        counting.bytes as f64 / 1e9,
        rss_generation as f64 / 1024.0
    );

    let mut scan = ward_detect::privacy::scan::PrivacyScan::new(options);
    let started = Instant::now();
    let resources = privacy_context(&generation_dir, &mut scan)?;
    let context_secs = started.elapsed().as_secs_f64();
    std::fs::remove_dir_all(&generation_dir)?;
    println!("context: {resources} resources loaded in {context_secs:.1} s");

    let mut sink = ScanSink {
        scan,
        decoder: ward_decode::by_name("fhir").context("no fhir decoder")?,
        line: Vec::new(),
        decoded: Vec::new(),
        events: 0,
        failed: 0,
        busy: std::time::Duration::ZERO,
    };
    let scan_dir = tmp.path().join("scan");
    let cpu = own_cpu_secs();
    let started = Instant::now();
    ward_simulate::simulate_audit_to(&config, &scan_dir, &mut sink).context("simulation failed")?;
    let finishing = Instant::now();
    let ScanSink {
        scan,
        events,
        failed,
        busy,
        ..
    } = sink;
    let report = scan.finish(None);
    let busy = busy + finishing.elapsed();
    let total = started.elapsed().as_secs_f64();
    let total_cpu = own_cpu_secs() - cpu;
    let rss_total = own_maxrss_kib();
    if failed > 0 {
        bail!("{failed} simulated AuditEvents did not decode");
    }
    let scan_secs = total - generation;
    let scan_cpu = total_cpu - generation_cpu;
    println!(
        "generation + scan: {total:.1} s ({total_cpu:.1} s CPU), so the scan took {scan_secs:.1} s, {scan_cpu:.1} s CPU ({:.0} events per CPU second); clocked inside the scan: {:.1} s ({:.0} events/s)",
        events as f64 / scan_cpu.max(1e-9),
        busy.as_secs_f64(),
        events as f64 / busy.as_secs_f64().max(1e-9)
    );
    println!(
        "peak RSS: {:.0} MB (generation alone: {:.0} MB)",
        rss_total as f64 / 1024.0,
        rss_generation as f64 / 1024.0
    );
    let stats = &report.stats;
    println!(
        "{events} events scanned: {} accesses assessed, {:.2}% explained, {} unexplained, {} by users who are not staff",
        stats.accesses,
        stats.explained_share() * 100.0,
        stats.unexplained,
        stats.unknown_user
    );
    for (template, n) in stats.by_template() {
        println!("  {:<20} {n:>10}", template.name());
    }
    let mut by_rule: std::collections::BTreeMap<&str, usize> = Default::default();
    for a in &report.alerts {
        *by_rule.entry(a.alert.rule_id.as_str()).or_default() += 1;
    }
    println!("{} alerts: {by_rule:?}", report.alerts.len());
    if stats.over_capacity > 0 {
        println!(
            "{} accesses not held for judgement (state at its cap)",
            stats.over_capacity
        );
    }
    Ok(())
}
