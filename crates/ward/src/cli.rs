//! The command line: the contract in `../shared/PRODUCT.md`. Scripts rely on these names.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "ward",
    version,
    about = "Ward: security monitoring and compliance for hospitals and clinics"
)]
pub struct Cli {
    /// Where Ward keeps its data.
    #[arg(long, global = true, env = "WARD_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Configuration file (TOML).
    #[arg(long, global = true, env = "WARD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// More log output (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ingest telemetry files (`-` reads standard input).
    Ingest(IngestArgs),
    /// Write a synthetic hospital: its organisation as FHIR context, its telemetry in the
    /// formats real systems write, and `truth.json` naming every planted incident.
    Simulate(SimulateArgs),
    /// Organisation context: staff, departments, patients, encounters, care teams.
    #[command(subcommand)]
    Context(ContextCommand),
    /// Records that could not be read: list them, or re-run them after a fix.
    #[command(subcommand)]
    Quarantine(QuarantineCommand),
    /// Alerts raised by the detectors.
    Alerts(AlertsArgs),
    /// Stored events (newest first), filtered by time, user, patient, address or host.
    Events(EventsArgs),
    /// The event field paths rules and queries use.
    Fields(FieldsArgs),
    /// Checks the hash chain of stored batches (every event, quarantined record and Ward's
    /// own audit trail) and the signed checkpoints; names the first batch that does not verify.
    Verify,
    /// An online, consistent, encrypted copy of the store into the empty folder DEST, with a
    /// manifest of hashes (the key-encryption key is not in it; keep it apart).
    Backup {
        #[arg(value_name = "DEST")]
        dest: PathBuf,
    },
    /// Restore a backup into the data directory (which must hold no store), checking every
    /// hash and the restored hash chain.
    Restore {
        #[arg(value_name = "SRC")]
        src: PathBuf,
        /// The key-encryption key the backup was made under, when it is not where the
        /// configuration (or the default beside the data directory) says.
        #[arg(long, value_name = "FILE")]
        kek_file: Option<PathBuf>,
    },
    /// The keys that encrypt PHI at rest: generate, show, rotate, re-encrypt (docs/keys.md).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Run the network listeners (`[listen]` in the configuration) and the HTTP server until
    /// SIGINT or SIGTERM.
    Serve(ServeArgs),
    /// Measurements recorded in BENCHMARKS.md.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Run Sigma rules over event files without storing them (as incident responders use
    /// Chainsaw or Hayabusa): one line a match, with the rule's metadata.
    Hunt(HuntArgs),
    /// Sigma detection rules: check that they load, try them on event files.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Incidents: list, show, open from alerts, deadlines, evidence, verification, report.
    #[command(subcommand)]
    Incidents(crate::incidents::IncidentsCommand),
    /// The technology inventory: import assets and SBOMs, list them, exposure, encryption
    /// coverage, devices seen that nobody listed (docs/inventory.md).
    #[command(subcommand)]
    Inventory(crate::inventory::InventoryCommand),
    /// Vulnerability and lifecycle feeds: CISA KEV, endoflife.date, NVD.
    #[command(subcommand)]
    Feeds(crate::inventory::FeedsCommand),
    /// Active, opt-in scans of the organisation's own endpoints.
    #[command(subcommand)]
    Scan(crate::inventory::ScanCommand),
    /// Network zones: the segmentation policy and what reaches the systems holding PHI.
    #[command(subcommand)]
    Zones(crate::reach::ZonesCommand),
    /// Patient-privacy monitoring over history: who opened which record, and was there a
    /// reason (docs/privacy.md).
    #[command(subcommand)]
    Privacy(crate::privacy::PrivacyCommand),
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Write a new key-encryption key to FILE (which must not exist), readable by its owner only.
    Generate {
        #[arg(value_name = "FILE")]
        path: PathBuf,
    },
    /// Where the key comes from, its id, the store's data keys and the checkpoint public key.
    Show,
    /// Re-wrap the store's data keys under a new key-encryption key (the store keeps serving;
    /// no data is rewritten). Without --new-kek-file, a key file is replaced by a new key.
    Rotate {
        #[arg(long, value_name = "FILE")]
        new_kek_file: Option<PathBuf>,
    },
    /// Re-seal every record not sealed under the current data key (after a rotation), in
    /// small transactions while the store keeps serving.
    Reencrypt,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Parse and compile every Sigma rule (`.yml`, `.yaml`) in the files and folders given;
    /// print each failure with its reason and a summary. Exit 1 when any rule fails to load.
    Validate {
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// List the rules detection runs: the shipped healthcare pack and any `--rules` folder
    /// (name, id, level, logsource, status, and where each comes from).
    List {
        #[arg(long = "rules", value_name = "DIR")]
        rules: Vec<PathBuf>,
        /// One JSON object a rule.
        #[arg(long)]
        json: bool,
    },
    /// Run one Sigma rule over event files (EVTX, Windows JSON, any decoder's line format)
    /// without storing them, and show which events match and which searches matched.
    Test {
        #[arg(value_name = "RULE")]
        rule: PathBuf,
        #[arg(required = true, value_name = "EVENTS")]
        events: Vec<PathBuf>,
    },
    /// Check Sigma rule files and keep them in the store: `ward ingest` and `ward serve` run
    /// them beside the shipped pack from their next start. A file that does not load is
    /// refused whole; a file of the same name replaces the one added before.
    Add {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Who added them (default: the login running the command).
        #[arg(long)]
        by: Option<String>,
    },
    /// Remove a rule file added with `ward rules add`, by its file name.
    Remove {
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Switch a rule off (any detector's rule id, as alerts name it): its findings are
    /// dropped from then on; the detectors keep running.
    Disable {
        #[arg(value_name = "RULE-ID")]
        rule: String,
        /// Why (kept with the switch and shown on the console's rules page).
        #[arg(long, required = true)]
        reason: String,
        /// Who decided (default: the login running the command).
        #[arg(long)]
        by: Option<String>,
    },
    /// Switch a rule back on.
    Enable {
        #[arg(value_name = "RULE-ID")]
        rule: String,
    },
    /// The rules switched off, with who, when and why.
    Disabled {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct HuntArgs {
    /// A Sigma rule file or a folder of them (`.yml`, `.yaml`); rules that do not load are
    /// counted and named on standard error (see `ward rules validate`).
    #[arg(value_name = "RULES")]
    pub rules: PathBuf,
    /// Event files in any format Ward reads (EVTX, JSON lines, syslog … gzipped or not);
    /// none: the events stored in the data directory.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Only events at or after this instant (RFC 3339 or a date). Over stored events the
    /// default is 90 days ago.
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// Only events before this instant (default: now).
    #[arg(long, value_name = "T")]
    pub until: Option<String>,
    /// One JSON object a match (rule metadata and the matched event).
    #[arg(long)]
    pub json: bool,
    /// Format of the files: `auto` recognises it from content.
    #[arg(long, default_value = "auto")]
    pub format: String,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Format of the input: `auto` recognises it from content; `csv` needs `--mapping`.
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// A CSV mapping file (TOML; see docs/formats.md): the input is CSV whose columns it
    /// names (an EHR's access log export). Implies `--format csv`.
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// Print the summary as one JSON object a source (and a total) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Files to ingest; `-` for standard input.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Sigma rules (a file or a folder of `.yml`) to detect with, beside the shipped pack.
    #[arg(long = "rules", value_name = "DIR")]
    pub rules: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address of the HTTP server (FHIR, bulk ingest, health); overrides `[listen.http] bind`.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// The simulated hospital: written on first start into the data directory (default
    /// `./ward-demo` for the demo), its context imported, its telemetry fed live through the
    /// detectors, and one console user per role created with their credentials printed.
    #[arg(long)]
    pub demo: bool,
    /// How much faster than real time the demo's live feed runs (1 = real time).
    #[arg(long, default_value_t = 1.0, value_name = "FACTOR", requires = "demo")]
    pub demo_speed: f64,
    /// The simulated hospital's seed (used when it is first written).
    #[arg(long, default_value_t = 1, value_name = "N", requires = "demo")]
    pub demo_seed: u64,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Directory to write into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The same seed writes the same files, byte for byte.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value_t = 2)]
    pub days: u32,
    #[arg(long, default_value_t = 300)]
    pub staff: u32,
    #[arg(long, default_value_t = 5_000)]
    pub patients: u32,
    /// EHR audit events per second of simulated time (default: what the staff's work makes).
    #[arg(long, value_name = "EPS")]
    pub rate: Option<f64>,
    /// First simulated day (UTC date).
    #[arg(long, default_value = "2026-11-02")]
    pub start: String,
}

#[derive(Debug, Subcommand)]
pub enum ContextCommand {
    /// Import FHIR R4 Patient, Practitioner, PractitionerRole, Organization, Encounter,
    /// CareTeam, ServiceRequest and Appointment resources (NDJSON, Bundles or single
    /// resources), or HL7 v2 ADT messages.
    Import {
        #[arg(long)]
        json: bool,
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// How many resources of each kind are stored.
    Stats,
}

#[derive(Debug, Subcommand)]
pub enum QuarantineCommand {
    /// Quarantined records with their source, position and reason, oldest first.
    List {
        #[arg(long)]
        json: bool,
        /// Only records from this source.
        #[arg(long)]
        source: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Include the raw bytes (JSON output always includes them).
        #[arg(long)]
        raw: bool,
    },
    /// Decode quarantined records again; those that now decode are stored and released.
    Retry {
        /// Decode as this format instead of the one each record was read as.
        #[arg(long)]
        format: Option<String>,
        #[arg(long)]
        source: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// One JSON object a line.
    #[arg(long)]
    pub json: bool,
    /// Alerts last seen at or after T (RFC 3339, or relative: 30d, 12h, 15m).
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// open, acknowledged or closed.
    #[arg(long)]
    pub status: Option<String>,
    #[arg(long, default_value_t = 1000)]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    #[arg(long)]
    pub json: bool,
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    #[arg(long, value_name = "T")]
    pub until: Option<String>,
    #[arg(long)]
    pub user: Option<String>,
    #[arg(long)]
    pub patient: Option<String>,
    #[arg(long)]
    pub src_ip: Option<String>,
    #[arg(long)]
    pub host: Option<String>,
    #[arg(long)]
    pub alert: Option<String>,
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct FieldsArgs {
    /// Print the Markdown reference (docs/fields.md).
    #[arg(long)]
    pub markdown: bool,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Evaluate every event of FILES against every rule under RULES (folders of Sigma YAML),
    /// in memory, one thread, and report events/s and matches.
    Sigma {
        #[arg(long, value_name = "DIR")]
        rules: Vec<PathBuf>,
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Write one simulated day of a 3,000-staff, 100,000-patient hospital sized to about
    /// EVENTS AuditEvents, and report the generation rate.
    Simulate {
        #[arg(long, default_value_t = 2_000_000)]
        events: u64,
        /// Where to write (default: a temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Ingest a generated NDJSON file of FHIR AuditEvents into a fresh store, beside a
    /// baseline that only parses the same file with serde_json.
    Ingest {
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Decode workers for the ingest (default: one per core).
        #[arg(long)]
        workers: Option<usize>,
        /// Where to write the generated file and the store (default: a temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Every detector on the stream (Sigma healthcare pack, privacy, credential, network,
    /// segmentation, mail) over the simulator's telemetry in time order, one thread, nothing
    /// stored: events/s and each detector's share of the time.
    Detectors {
        /// A simulated hospital written by `ward simulate` (default: one is simulated into a
        /// temporary directory, or into DIR when it holds none).
        #[arg(long)]
        dir: Option<PathBuf>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 2)]
        days: u32,
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// What encrypting PHI at rest costs ingest: the same generated file ingested (decode,
    /// store, no detection) into a store without encryption and into an encrypted one,
    /// alternately, ROUNDS times each; medians compared.
    Encryption {
        #[arg(long, default_value_t = 200_000)]
        events: u64,
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// The privacy scan at hospital scale: the simulator generates DAYS of a STAFF-person
    /// hospital and its EHR audit trail is decoded and scanned by the privacy detector as it
    /// is written, on this thread, nothing of it on disk; generation alone is timed first, in
    /// the same run, so the scan's own time is the difference. Peak memory (maxrss) of both.
    Privacy {
        #[arg(long, default_value_t = 10_000)]
        staff: u32,
        #[arg(long, default_value_t = 7)]
        days: u32,
        /// Patients (default: 20 per staff member).
        #[arg(long)]
        patients: Option<u32>,
        /// EHR audit events per second of simulated time (default: what the staff's work
        /// makes).
        #[arg(long, value_name = "EPS")]
        rate: Option<f64>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}
