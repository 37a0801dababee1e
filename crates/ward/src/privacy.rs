//! `ward privacy`: the privacy officer's batch view. `scan` runs the privacy detector
//! (`ward_detect::privacy`) over the stored audit trail of a period, oldest first, an hour at a
//! time (or over the files given), with the stored organisation context, and prints the short
//! list of accesses worth a conversation, each with its reason, then the share of accesses
//! explained and which template explained how many. Nothing is stored: the alerts of the live
//! detectors are `ward alerts`. `report`, `case` and `determine`, the officer's case workflow,
//! are in [`crate::privacy_cases`].

use crate::commands::{BadInput, open_source, parse_since};
use crate::config::Config;
use anyhow::Result;
use clap::Subcommand;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use ward_detect::privacy::explain::Template;
use ward_detect::privacy::scan::{PrivacyScan, ScanReport};
use ward_model::event::Severity;
use ward_model::{ContextKind, Timestamp};
use ward_pipeline::IngestOptions;
use ward_store::Store;

#[derive(Debug, Subcommand)]
pub enum PrivacyCommand {
    /// Run patient-privacy monitoring over history: explanations first (care team, department,
    /// ancillary and back-office roles, break-the-glass, learned patterns), then the flags on
    /// what is left. Prints the accesses worth a conversation, most severe first, with their
    /// reasons, and the share of accesses explained by each template. Stores nothing.
    Scan {
        /// Audit files (FHIR AuditEvent NDJSON, ATNA syslog, gzipped or not), each in time
        /// order, read in the order given; none: the events stored in the data directory.
        #[arg(value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Start of the period: RFC 3339, a date, or a duration before now (30d, 12h).
        #[arg(long, value_name = "T", default_value = "30d")]
        since: String,
        /// End of the period (exclusive; default: now).
        #[arg(long, value_name = "T")]
        until: Option<String>,
        /// Alerts listed at most (the figures always count them all).
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Leave out alerts below this severity: low, medium, high or critical.
        #[arg(long, default_value = "low", value_name = "LEVEL")]
        min_severity: String,
        /// One JSON object a line: each alert (as `ward alerts --json`, with `evidence`, the
        /// number of events it names), then `{"summary": …}`.
        #[arg(long)]
        json: bool,
        /// Format of the files: `auto` recognises it from content.
        #[arg(long, default_value = "auto")]
        format: String,
    },
    /// An access report: every stored access to a patient's record (the report a patient can
    /// ask for), or by a user, or that user's accesses to that patient, oldest first, each
    /// with who, what, purpose, from where and the template that explained it (or
    /// "unexplained"). Recorded in Ward's own audit trail before it is shown.
    Report {
        /// The patient (FHIR id or MRN as the audit trail names them).
        #[arg(long, value_name = "ID", required_unless_present = "user")]
        patient: Option<String>,
        /// The user (EHR login).
        #[arg(long, value_name = "LOGIN")]
        user: Option<String>,
        /// Start of the period: RFC 3339, a date, or a duration before now (default: all).
        #[arg(long, value_name = "T")]
        since: Option<String>,
        /// End of the period (exclusive; default: now).
        #[arg(long, value_name = "T")]
        until: Option<String>,
        /// One JSON object per access, then `{"summary": …}`.
        #[arg(long)]
        json: bool,
    },
    /// Open a case on a privacy alert: the alert and its workflow, the user's full access
    /// history to the patient and the patient's history over the same period (who else
    /// looked), each access with its explanation. Recorded in Ward's own audit trail.
    Case {
        /// The alert id (`ward alerts`).
        #[arg(value_name = "ALERT_ID")]
        alert: String,
        /// One JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Record the privacy officer's determination on a privacy alert. `appropriate` closes it
    /// and confirms the (user, patient) pair so the same pattern stops alerting;
    /// `policy-violation` closes it and suppresses nothing; `reportable` keeps it open for an
    /// incident (`ward incidents open --alert ID`).
    Determine {
        #[arg(value_name = "ALERT_ID")]
        alert: String,
        /// appropriate, policy-violation or reportable.
        #[arg(long = "as", value_name = "DETERMINATION")]
        decision: String,
        /// Why: what the officer found.
        #[arg(long, value_name = "TEXT")]
        note: String,
        /// Who decided (default: the operating-system user).
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
        /// How many days an `appropriate` determination confirms the pair.
        #[arg(long = "for", value_name = "DAYS", default_value_t = crate::privacy_cases::DEFAULT_CONFIRM_DAYS)]
        days: u32,
    },
}

pub fn run(config: &Config, data_dir: &Path, command: PrivacyCommand) -> Result<ExitCode> {
    let (paths, since, until, limit, min_severity, json, format) = match command {
        PrivacyCommand::Scan {
            paths,
            since,
            until,
            limit,
            min_severity,
            json,
            format,
        } => (paths, since, until, limit, min_severity, json, format),
        PrivacyCommand::Report {
            patient,
            user,
            since,
            until,
            json,
        } => {
            let scope = crate::privacy_cases::Scope {
                patient,
                user,
                since: since.as_deref().map(parse_since).transpose()?,
                until: until.as_deref().map(parse_since).transpose()?,
            };
            let store = crate::keys::open_store(config, data_dir)?;
            return crate::privacy_cases::run_report(
                &store,
                scope,
                &config.detect.privacy.options()?,
                json,
            );
        }
        PrivacyCommand::Case { alert, json } => {
            let store = crate::keys::open_store(config, data_dir)?;
            return crate::privacy_cases::run_case(
                &store,
                &alert,
                &config.detect.privacy.options()?,
                json,
            );
        }
        PrivacyCommand::Determine {
            alert,
            decision,
            note,
            by,
            days,
        } => {
            let decision = crate::privacy_cases::Decision::parse(&decision)?;
            let store = crate::keys::open_store(config, data_dir)?;
            return crate::privacy_cases::run_determine(&store, &alert, decision, &note, by, days);
        }
    };
    let since = parse_since(&since)?;
    let until = until.as_deref().map(parse_since).transpose()?;
    let min_severity = Severity::parse(&min_severity).ok_or_else(|| {
        BadInput(format!(
            "unknown severity {min_severity:?}: use low, medium, high or critical"
        ))
    })?;
    let store = crate::keys::open_store(config, data_dir)?;
    let mut scan = PrivacyScan::new(config.detect.privacy.options()?);
    let resources = load_context(&store, &mut scan)?;
    if resources == 0 {
        eprintln!(
            "ward: no organisation context is stored: every access will be unexplained. Import staff, patients and encounters first (ward context import)."
        );
    }
    let started = std::time::Instant::now();
    let end = until.unwrap_or_else(Timestamp::now);
    let mut in_period = |event: ward_model::Event| {
        if event.time >= since && event.time < end {
            scan.observe(&event);
        }
    };
    if paths.is_empty() {
        ward_store::history::in_order(
            &store,
            since,
            end,
            &mut |at| {
                eprintln!(
                    "ward: more than {} events in the millisecond {at}: the first {} were scanned",
                    ward_store::history::PAGE,
                    ward_store::history::PAGE
                )
            },
            &mut |event| {
                in_period(event);
                true
            },
        )?;
    }
    for path in &paths {
        let (source, _, year) = open_source(path)?;
        let options = IngestOptions {
            format: Some(format.clone()),
            year: Some(year),
            ..IngestOptions::default()
        };
        let summary = ward_pipeline::scan(source, &options, &mut in_period)?;
        if summary.failed > 0 {
            eprintln!(
                "{}: {} records could not be decoded",
                path.display(),
                summary.failed
            );
        }
    }
    let report = scan.finish(Some(end.min(Timestamp::now())));
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        write_json(&mut out, &report, min_severity, limit)?;
    } else {
        write_text(&mut out, &report, min_severity, limit)?;
    }
    eprintln!(
        "scanned {} events from {since} to {end} in {:.2} s",
        report.events,
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// Every stored context resource, a page at a time, into the scan. Returns how many.
fn load_context(store: &dyn Store, scan: &mut PrivacyScan) -> Result<u64> {
    const PAGE: usize = 1_000;
    let mut total = 0;
    for kind in ContextKind::ALL {
        let mut after: Option<String> = None;
        loop {
            let page = store.list_context(kind, after.as_deref(), PAGE)?;
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            total += page.len() as u64;
            scan.context(&page);
            if page.len() < PAGE {
                break;
            }
        }
    }
    Ok(total)
}

fn share(n: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        n as f64 * 100.0 / of as f64
    }
}

fn write_text(
    out: &mut impl Write,
    report: &ScanReport,
    min: Severity,
    limit: usize,
) -> std::io::Result<()> {
    let listed: Vec<_> = report
        .alerts
        .iter()
        .filter(|a| a.alert.severity >= min)
        .collect();
    if listed.is_empty() {
        writeln!(out, "No access to talk about in the period.")?;
    }
    for a in listed.iter().take(limit) {
        let alert = &a.alert;
        writeln!(
            out,
            "{:<8} {}  {}  user={} patient={}  ×{} ({} events)",
            alert.severity.as_str().to_uppercase(),
            alert.first_seen,
            alert.rule_id,
            alert.entities.user.as_deref().unwrap_or("-"),
            alert.entities.patient.as_deref().unwrap_or("-"),
            alert.count,
            a.evidence
        )?;
        writeln!(out, "         {}", alert.title)?;
        if let Some(text) = &alert.description {
            writeln!(out, "         {text}")?;
        }
        writeln!(out)?;
    }
    if listed.len() > limit {
        writeln!(
            out,
            "… and {} more (--limit to list them)\n",
            listed.len() - limit
        )?;
    }
    let count = |s: Severity| {
        report
            .alerts
            .iter()
            .filter(|a| a.alert.severity == s)
            .count()
    };
    writeln!(
        out,
        "{} alerts: {} critical, {} high, {} medium, {} low",
        report.alerts.len(),
        count(Severity::Critical),
        count(Severity::High),
        count(Severity::Medium),
        count(Severity::Low)
    )?;
    let stats = &report.stats;
    writeln!(
        out,
        "{} events; {} accesses to patient records assessed: {} explained ({:.1}%), {} unexplained; {} by users who are not staff (not assessed)",
        report.events,
        stats.accesses,
        stats.explained_total(),
        share(stats.explained_total(), stats.accesses),
        stats.unexplained,
        stats.unknown_user
    )?;
    writeln!(out, "explained by template:")?;
    for (template, n) in stats.by_template() {
        writeln!(
            out,
            "  {:<20} {n:>8}  {:>5.1}%  {}",
            template.name(),
            share(n, stats.accesses),
            template.describe()
        )?;
    }
    if !report.learned.is_empty() {
        let pairs: Vec<String> = report
            .learned
            .iter()
            .map(|(from, to)| format!("{from} → {to}"))
            .collect();
        writeln!(out, "learned templates: {}", pairs.join(", "))?;
    }
    if stats.outside_department_observed > 0 {
        writeln!(
            out,
            "{} first-ever accesses outside the user's department held as observations (no alert alone: one look, in usual hours, without a pattern; several by one user within days raise privacy.outside_department)",
            stats.outside_department_observed
        )?;
    }
    if stats.over_capacity > 0 {
        writeln!(
            out,
            "{} accesses were not held for judgement (stream state at its cap)",
            stats.over_capacity
        )?;
    }
    Ok(())
}

fn write_json(
    out: &mut impl Write,
    report: &ScanReport,
    min: Severity,
    limit: usize,
) -> std::io::Result<()> {
    for a in report
        .alerts
        .iter()
        .filter(|a| a.alert.severity >= min)
        .take(limit)
    {
        let mut value = serde_json::to_value(&a.alert).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            map.insert("evidence".into(), a.evidence.into());
        }
        writeln!(out, "{value}")?;
    }
    let stats = &report.stats;
    let by_template: serde_json::Map<String, serde_json::Value> = stats
        .by_template()
        .map(|(t, n): (Template, u64)| (t.name().to_string(), n.into()))
        .collect();
    let summary = serde_json::json!({"summary": {
        "events": report.events,
        "alerts": report.alerts.len(),
        "accesses": stats.accesses,
        "explained": stats.explained_total(),
        "explained_share": stats.explained_share(),
        "unexplained": stats.unexplained,
        "unknown_user": stats.unknown_user,
        "by_template": by_template,
        "learned": report.learned.iter().map(|(a, b)| format!("{a} → {b}")).collect::<Vec<_>>(),
        "over_capacity": stats.over_capacity,
        "outside_department_observed": stats.outside_department_observed,
    }});
    writeln!(out, "{summary}")
}
