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
