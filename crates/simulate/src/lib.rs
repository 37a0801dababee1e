//! The synthetic hospital: a deterministic generator of an organisation's context (FHIR R4
//! Organization, Practitioner, PractitionerRole, Patient, Encounter, CareTeam, Appointment,
//! ServiceRequest; an HR roster;
//! an asset and network-zone inventory), its EHR audit trail as FHIR R4 AuditEvent NDJSON in
//! IHE BALP shapes, and `truth.json`, the ground truth of every planted incident. Detectors,
//! benchmarks and demos use it because no hospital may give us its logs.
//!
//! The same [`SimConfig`] always gives byte-identical files. Generation streams: the
//! organisation is built once, the census one day at a time, and audit events one at a time
//! from a time-ordered queue of working sessions and incident scripts, written as they come, so
//! memory follows the organisation's size, never days × rate. This crate never reads anything
//! but its configuration, never uses the clock for content, and never writes outside `out`.
//!
//! Files written under `out` (formats in `docs/simulate.md`):
//!
//! - `context/organization.ndjson`, `practitioners.ndjson`, `practitioner-roles.ndjson`,
//!   `patients.ndjson`, `encounters.ndjson`, `care-teams.ndjson`, `appointments.ndjson` (clinic
//!   visits), `service-requests.ndjson` (formal consult orders): FHIR R4 resources.
//! - `context/hr-roster.csv`: one row per staff member with the columns `login` (the EHR login,
//!   `u1035`, as in `Practitioner.identifier` and the AuditEvent user agent), `name` (given
//!   and family name), `department` (code, as in the department Organization's identifier),
//!   `role` (physician, nurse, clerk, lab, radiology, pharmacist, HIM, IT), `hire_date`,
//!   `termination_date` (empty unless terminated) and `status` (active, terminated,
//!   on-leave).
//! - `context/assets.csv` (`hostname,ip,kind,model,zone,department,shared`) and
//!   `context/zones.toml` (`[[zone]]` tables with `name`, `cidr`, `description`, then the
//!   segmentation policy's `[policy]` and `[[allow]]` tables).
//! - `context/vendors.csv` (`account,company,source_ip,days,hours_utc,systems`): vendors with
//!   remote access and their contracts.
//! - `telemetry/ehr-audit.ndjson`: AuditEvents in time order.
//! - `telemetry/auth.log`: the jump host's OpenSSH, PAM and sudo lines (rsyslog file format).
//! - `telemetry/windows-security.ndjson`: Windows Security events as flat JSON lines.
//! - `telemetry/zeek/conn.log`, `dns.log`, `ssl.log`, `http.log`: Zeek TSV logs (`http.log`:
//!   clear-text web requests from workstations, including links followed from mail).
//! - `context/partners.csv` (`domain,company,kind,business_associate`): the partners mail is
//!   exchanged with.
//! - `telemetry/mail.mbox` (the journal of every message), `telemetry/eml/*.eml` (each incident
//!   message alone), `telemetry/maillog` (the Postfix gateway) and
//!   `telemetry/m365-message-trace.csv` (Exchange Online message trace).
//! - `context/geoip.mmdb` and `context/geoip-asn.mmdb`: GeoLite2-City and GeoLite2-ASN
//!   databases (MaxMind DB format) of the public networks sign-ins come from (`geoip`).
//! - `telemetry/entra-signins.ndjson`: Entra ID sign-ins (Microsoft 365, telehealth, portal).
//! - `telemetry/adt.hl7`: the HL7 v2.5 ADT feed of every encounter, one message a line.
//! - `telemetry/atna.log`: IHE ATNA audit messages of the PACS and the HL7 engine (syslog).
//! - `truth.json`: `{"generator","seed","start","days","incidents":[…]}`, one incident per line.

mod adt;
mod atna;
mod audit;
mod authlog;
mod behaviour;
mod clinical;
mod context;
mod directory;
mod entra;
pub mod geoip;
mod infra;
mod mail;
pub mod mmdb;
mod names;
mod office;
mod org;
mod policy;
mod rng;
mod scenarios;
mod signal;
mod web;
mod winlog;
mod zeeklog;

use audit::{Access, AuditWriter};
use behaviour::{Session, World};
use clinical::Census;
use context::{EncounterSink, Lines};
use org::{DAY, Org};
use rng::Rng;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use ward_model::Timestamp;

pub use org::{MIN_PATIENTS, MIN_STAFF};

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    pub seed: u64,
    pub days: u32,
    /// Everyone on the roster, including terminated staff and staff on leave (at least
    /// [`MIN_STAFF`]).
    pub staff: u32,
    /// At least [`MIN_PATIENTS`].
    pub patients: u32,
    /// Midnight UTC of day 1.
    pub start: Timestamp,
    /// Target EHR audit events per second of simulated time; `None` is the realistic rate of
    /// an organisation this size. Approximate: activity is scaled, night-time dips remain.
    pub rate: Option<f64>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            days: 2,
            staff: 300,
            patients: 5_000,
            // 2026-11-02T00:00:00Z, a Monday.
            start: Timestamp(1_793_577_600_000),
            rate: None,
        }
    }
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimSummary {
    /// Every file with its number of records (lines of NDJSON, rows of CSV without the
    /// header, zones, incidents).
    pub files: Vec<(PathBuf, u64)>,
    /// AuditEvents written.
    pub events: u64,
    /// Incidents planted (and listed in `truth.json`).
    pub incidents: u64,
}

/// Writes the simulated hospital under `out` (created if missing; existing files of the same
/// names are replaced). Incidents of each kind are spread evenly over the run at the rate
/// each scenario has in a real organisation.
pub fn simulate(config: &SimConfig, out: &Path) -> io::Result<SimSummary> {
    simulate_planted(config, None, out)
}

/// As [`simulate`], but with one incident of every kind planted on each of `incident_days`
/// (0-based days of the run) instead of the natural spread: the demo plants every kind both
/// in its history and in its live feed. Days beyond the run are ignored.
pub fn simulate_planted(
    config: &SimConfig,
    incident_days: Option<&[u32]>,
    out: &Path,
) -> io::Result<SimSummary> {
    generate(config, incident_days, out, None)
}

/// As [`simulate`], but the EHR audit trail (one AuditEvent a line, in time order) is written
/// to `audit` instead of `telemetry/ehr-audit.ndjson`, which is not created: a benchmark can
/// scan a hospital's week as it is generated instead of writing tens of gigabytes first.
/// Everything else is written under `out` as usual.
pub fn simulate_audit_to(
    config: &SimConfig,
    out: &Path,
    audit: &mut dyn io::Write,
) -> io::Result<SimSummary> {
    generate(config, None, out, Some(audit))
}

fn generate(
    config: &SimConfig,
    incident_days: Option<&[u32]>,
    out: &Path,
    audit_to: Option<&mut dyn io::Write>,
) -> io::Result<SimSummary> {
    let context_dir = out.join("context");
    let telemetry_dir = out.join("telemetry");
    fs::create_dir_all(&context_dir)?;
    fs::create_dir_all(&telemetry_dir)?;

    let start = config.start.millis().div_euclid(DAY) * DAY;
    let org = Org::generate(config.seed, start, config.staff, config.patients);
    let mut files = context::write_static(&org, &context_dir)?;
    let run_end = start + config.days as i64 * DAY;
    let mut encounters = EncounterSink::create(&context_dir, config.seed, run_end)?;
    let audit_path = telemetry_dir.join("ehr-audit.ndjson");
    let audit_to_file = audit_to.is_none();
    let audit_out: Box<dyn io::Write + '_> = match audit_to {
        Some(sink) => Box::new(sink),
        None => Box::new(BufWriter::with_capacity(
            1 << 20,
            File::create(&audit_path)?,
        )),
    };
    let mut audit = AuditWriter::new(audit_out);
    let mut truth = TruthWriter::create(out.join("truth.json"), config, start)?;
    let infra = infra::Infra::new(&org);
    files.push(write_vendors(&context_dir)?);
    files.push(directory::write_partners(&context_dir)?);
    files.extend(geoip::write(&context_dir, (start / 1000).max(0) as u64)?);
    let directory = directory::Directory::new(&org);
    let mut telemetry = signal::Telemetry::create(&telemetry_dir, &org)?;
    let mut adt = adt::AdtFeed::create(&telemetry_dir, run_end)?;
    let mut atna = atna::AtnaLog::create(&telemetry_dir)?;

    let natural = behaviour::natural_rate(&org);
    let intensity = match config.rate {
        Some(rate) if natural > 0.0 && rate > 0.0 => rate / natural,
        _ => 1.0,
    };
    let mut census = Census::new(&org);
    let mut queue = Queue::default();
    let scenarios = scenarios::all();
    let planted_days: Vec<u32> = incident_days
        .unwrap_or_default()
        .iter()
        .copied()
        .filter(|d| *d < config.days)
        .collect();
    let counts: Vec<u32> = scenarios
        .iter()
        .map(|s| match incident_days {
            Some(_) => planted_days.len() as u32,
            None => scenarios::count_for(*s, config.days),
        })
        .collect();

    for day in 0..config.days {
        census.advance(&org, day, &mut encounters)?;
        encounters.forget_consults(census.encounters.iter().map(|e| e.id));
        adt.schedule(&org, &census);
        atna.day(&org, &census, day);
        for staff in 0..org.staff.len() as u32 {
            if let Some(duty) = org.duty(staff, day) {
                let (session, first) = Session::start(&org, staff, day, duty);
                queue.push(first, Actor::Session(session));
            }
        }
        let mut signals = signal::Signals::default();
        infra.day(&org, day, &mut signals);
        office::day(&org, day, &mut signals);
        web::day(&org, day, &mut signals);
        telemetry.extend(signals.out);
        let ctx = scenarios::PlanCtx {
            org: &org,
            infra: &infra,
            census: &census,
            directory: &directory,
            day,
        };
        for (k, scenario) in scenarios.iter().enumerate() {
            for i in 0..counts[k] {
                let on = match incident_days {
                    Some(_) => planted_days[i as usize],
                    None => scenarios::day_of_incident(i, counts[k], config.days),
                };
                if on != day {
                    continue;
                }
                let mut rng = Rng::stream(config.seed, &[0x1C1D, k as u64, i as u64]);
                if let Some(mut planted) = scenario.plan(&ctx, &mut rng) {
                    planted.actions.sort_by_key(|a| a.time);
                    truth.incident(scenario.kind(), &org, &planted)?;
                    telemetry.extend(std::mem::take(&mut planted.signals));
                    let mut script = planted.actions;
                    script.reverse();
                    if let Some(first) = script.last().map(|a| a.time) {
                        queue.push(first, Actor::Script(script));
                    }
                }
            }
        }
        let world = World {
            org: &org,
            census: &census,
            intensity,
        };
        queue.run_until(
            start + (day as i64 + 1) * DAY,
            &world,
            &mut audit,
            &mut encounters,
        )?;
        telemetry.flush_before(start + (day as i64 + 1) * DAY, &org)?;
        let day_end = start + (day as i64 + 1) * DAY;
        adt.flush_before(day_end, &org, |at, visit| atna.admitted(&org, at, visit))?;
        atna.flush_before(day_end)?;
    }
    // Night shifts of the last day end the next morning; they finish with the last census.
    let world = World {
        org: &org,
        census: &census,
        intensity,
    };
    queue.run_until(i64::MAX, &world, &mut audit, &mut encounters)?;

    files.extend(encounters.finish()?);
    let events = audit.events;
    audit.finish()?;
    if audit_to_file {
        files.push((audit_path, events));
    }
    files.extend(telemetry.finish(&org)?);
    adt.flush_before(i64::MAX, &org, |at, visit| atna.admitted(&org, at, visit))?;
    files.push(adt.finish()?);
    files.push(atna.finish()?);
    let (truth_path, incidents) = truth.finish()?;
    files.push((truth_path, incidents));
    Ok(SimSummary {
        files,
        events,
        incidents,
    })
}

/// Generation throughput: simulates one day of a 3,000-staff, 100,000-patient hospital at a
/// rate that yields about `n` AuditEvents, under `out`. Returns the events written and the
/// wall time of the whole run (organisation, context, census and audit trail).
pub fn bench_events(n: u64, out: &Path) -> io::Result<(u64, Duration)> {
    let config = SimConfig {
        days: 1,
        staff: 3_000,
        patients: 100_000,
        rate: Some(n as f64 / 86_400.0),
        ..SimConfig::default()
    };
    let started = Instant::now();
    let summary = simulate(&config, out)?;
    Ok((summary.events, started.elapsed()))
}

/// `context/vendors.csv`: the vendors with remote access and their contracted hours.
fn write_vendors(dir: &Path) -> io::Result<(PathBuf, u64)> {
    let mut lines = context::Lines::create(dir.join("vendors.csv"))?;
    lines.line("account,company,source_ip,days,hours_utc,systems", false)?;
    for v in &infra::VENDORS {
        lines.line(
            &format!(
                "{},{},{},{},{:02}:00-{:02}:00,{}",
                v.account,
                v.company,
                signal::ip_text(v.source),
                if v.weekdays_only {
                    "Mon-Fri"
                } else {
                    "Mon-Sun"
                },
                v.from_hour,
                v.to_hour,
                v.systems
            ),
            true,
        )?;
    }
    lines.finish()
}

/// Something that produces audit events in time order.
enum Actor {
    Session(Session),
    /// An incident's remaining actions, last first.
    Script(Vec<Access>),
}

/// The time-ordered queue of actors: a k-way merge of their event streams. Ties are broken by
/// insertion order, so the output is deterministic.
#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Reverse<(i64, u64, usize)>>,
    actors: Vec<Option<Actor>>,
    free: Vec<usize>,
    seq: u64,
}

impl Queue {
    fn push(&mut self, at: i64, actor: Actor) {
        let slot = match self.free.pop() {
            Some(slot) => {
                self.actors[slot] = Some(actor);
                slot
            }
            None => {
                self.actors.push(Some(actor));
                self.actors.len() - 1
            }
        };
        self.schedule(at, slot);
    }

    fn schedule(&mut self, at: i64, slot: usize) {
        self.seq += 1;
        self.heap.push(Reverse((at, self.seq, slot)));
    }

    /// Writes every event before `limit`, and the order of each consult sessions plan.
    fn run_until<W: io::Write>(
        &mut self,
        limit: i64,
        world: &World,
        audit: &mut AuditWriter<W>,
        context: &mut EncounterSink,
    ) -> io::Result<()> {
        while let Some(&Reverse((at, _, slot))) = self.heap.peek() {
            if at >= limit {
                break;
            }
            self.heap.pop();
            let next = match self.actors[slot].as_mut() {
                Some(Actor::Session(session)) => match session.next(world) {
                    Some((access, next)) => {
                        audit.write(world.org, &access)?;
                        if let Some(consult) = session.take_consult() {
                            context.consult(world.org, &consult)?;
                        }
                        next
                    }
                    None => None,
                },
                Some(Actor::Script(script)) => match script.pop() {
                    Some(access) => {
                        audit.write(world.org, &access)?;
                        script.last().map(|a| a.time)
                    }
                    None => None,
                },
                None => None,
            };
            match next {
                Some(t) => self.schedule(t, slot),
                None => {
                    self.actors[slot] = None;
                    self.free.push(slot);
                }
            }
        }
        Ok(())
    }
}

/// `truth.json`, written as incidents are planned.
struct TruthWriter {
    lines: Lines,
    next_id: u32,
}

impl TruthWriter {
    fn create(path: PathBuf, config: &SimConfig, start: i64) -> io::Result<Self> {
        let mut lines = Lines::create(path)?;
        lines.line(
            &format!(
                r#"{{"generator":"ward-simulate","seed":{},"start":"{}","days":{},"incidents":["#,
                config.seed,
                Timestamp(start),
                config.days
            ),
            false,
        )?;
        Ok(TruthWriter { lines, next_id: 1 })
    }

    fn incident(&mut self, kind: &str, org: &Org, planted: &scenarios::Planted) -> io::Result<()> {
        let json = scenarios::truth_json(self.next_id, kind, org, planted);
        let separator = if self.next_id > 1 { "," } else { "" };
        self.lines.line(&format!("{separator}{json}"), true)?;
        self.next_id += 1;
        Ok(())
    }

    fn finish(mut self) -> io::Result<(PathBuf, u64)> {
        self.lines.line("]}", false)?;
        self.lines.finish()
    }
}
