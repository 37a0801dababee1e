//! `ward incidents`: incidents from the command line. Each sub-command opens the store, makes
//! one or two calls into `ward-respond` or the store's `Incidents`, and prints; the response
//! logic lives in `crates/respond` (docs/incidents.md).
//!
//! Patients linked to an incident are counted, never printed: a terminal and its scroll-back
//! are not an audited view. Evidence content is never printed either.

use crate::commands::BadInput;
use crate::config::Config;
use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::Subcommand;
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use ward_model::Timestamp;
use ward_respond::deadlines::status_of;
use ward_respond::incident::utc_date;
use ward_respond::review::{Exercise, FollowUp, Review};
use ward_respond::{DeadlineStatus, IncidentType, Plan, RespondError, Responder, report};
use ward_store::Store;
use ward_store::incidents::{
    DeadlineRecord, EvidenceVerification, IncidentQuery, IncidentRecord, LinkKind, NewEvidence, hex,
};

#[derive(Debug, Subcommand)]
pub enum IncidentsCommand {
    /// Incidents, newest first, with their next notification deadline.
    List {
        /// One JSON object a line.
        #[arg(long)]
        json: bool,
    },
    /// One incident: facts, alerts, tasks, assessment, deadlines, evidence and timeline.
    Show {
        #[arg(value_name = "ID")]
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Open one incident from stored alerts (the response plan's route picks the type).
    Open {
        /// An alert id; repeat for more alerts in the same incident.
        #[arg(long = "alert", value_name = "ID", required = true, num_args = 1..)]
        alerts: Vec<String>,
        /// The incident type, when the plan routes none or another one fits better.
        #[arg(long = "type", value_name = "TYPE")]
        incident_type: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Overdue and upcoming notification deadlines across open incidents.
    Deadlines {
        /// Deadlines due within this many days (overdue ones always).
        #[arg(long, default_value_t = 60)]
        days: u64,
        #[arg(long)]
        json: bool,
    },
    /// Compute and store an incident's notification deadlines (refused when the standing
    /// assessment found no breach; with none, the presumption of breach applies).
    ComputeDeadlines {
        #[arg(value_name = "ID")]
        id: i64,
        /// Ward is run by a business associate: its notice is to the covered entity.
        #[arg(long)]
        business_associate: bool,
    },
    /// Put a file in an incident's evidence locker (hashed with SHA-256 on arrival).
    AddEvidence {
        #[arg(value_name = "ID")]
        id: i64,
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The name it is listed under (default: the file name).
        #[arg(long)]
        name: Option<String>,
    },
    /// Check the evidence against its SHA-256 and the chain of custody; exit 1 on a failure.
    Verify {
        #[arg(value_name = "ID")]
        id: i64,
    },
    /// Write the incident report (patients counted, not named): HTML, or PDF when FILE ends
    /// in `.pdf` (printed by headless Chromium, `[respond] chromium`).
    Report {
        #[arg(value_name = "ID")]
        id: i64,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Record a notice as given: which one (as `show` lists its deadlines), when and how.
    Notice {
        #[arg(value_name = "ID")]
        id: i64,
        /// The notice's kind: individuals, media, hhs, hhs_annual_log, covered_entity,
        /// substitute_notice or alternative_notice.
        #[arg(long, value_name = "KIND")]
        kind: String,
        /// The state of a state-law notice (none for a federal one).
        #[arg(long, value_name = "STATE", default_value = "")]
        jurisdiction: String,
        /// The day it was given (between discovery and today).
        #[arg(long, value_name = "YYYY-MM-DD")]
        given_on: NaiveDate,
        /// How it was given, e.g. "first-class mail".
        #[arg(long, value_name = "TEXT")]
        method: String,
    },
    /// Close an incident with its post-incident review (refused while a notice or a task is
    /// outstanding).
    Close {
        #[arg(value_name = "ID")]
        id: i64,
        /// The day the review was held (default: today).
        #[arg(long, value_name = "YYYY-MM-DD")]
        held_on: Option<NaiveDate>,
        /// Who took part; repeat for each.
        #[arg(long = "participant", visible_alias = "participants", value_name = "NAME", required = true, num_args = 1..)]
        participants: Vec<String>,
        /// What the review concluded.
        #[arg(long, value_name = "TEXT")]
        summary: String,
        /// What went well; repeat for each point.
        #[arg(long = "went-well", value_name = "TEXT")]
        went_well: Vec<String>,
        /// What to improve; repeat for each point.
        #[arg(long = "to-improve", value_name = "TEXT")]
        to_improve: Vec<String>,
        /// A follow-up as `title | owner | YYYY-MM-DD`; repeat for each.
        #[arg(long = "follow-up", value_name = "TITLE|OWNER|DATE")]
        follow_ups: Vec<String>,
        /// A note for the timeline's closing entry.
        #[arg(long, value_name = "TEXT", default_value = "")]
        note: String,
    },
    /// Record a tabletop exercise against the response plan's current version.
    Exercise {
        /// The day it was held (default: today; not in the future).
        #[arg(long, value_name = "YYYY-MM-DD")]
        held_on: Option<NaiveDate>,
        /// The scenario played through.
        #[arg(long, value_name = "TEXT")]
        scenario: String,
        /// Who took part; repeat for each.
        #[arg(long = "participant", visible_alias = "participants", value_name = "NAME", required = true, num_args = 1..)]
        participants: Vec<String>,
        /// What the exercise found; repeat for each finding.
        #[arg(long = "finding", visible_alias = "findings", value_name = "TEXT")]
        findings: Vec<String>,
        /// A follow-up as `title | owner | YYYY-MM-DD`; repeat for each.
        #[arg(long = "follow-up", value_name = "TITLE|OWNER|DATE")]
        follow_ups: Vec<String>,
    },
}

/// A follow-up as the command line takes it: `title | owner | YYYY-MM-DD`.
fn follow_up(text: &str) -> Result<FollowUp> {
    let parts: Vec<&str> = text.split('|').map(str::trim).collect();
    let [title, owner, due] = parts[..] else {
        return Err(BadInput(format!(
            "the follow-up {text:?} is not written as: title | owner | YYYY-MM-DD"
        ))
        .into());
    };
    let due_on = NaiveDate::parse_from_str(due, "%Y-%m-%d").map_err(|_| {
        BadInput(format!(
            "the follow-up {title:?} needs a due date like 2026-12-15, not {due:?}"
        ))
    })?;
    Ok(FollowUp {
        title: title.into(),
        owner: owner.into(),
        due_on,
    })
}

/// A refusal from the responder as the command line reports it: what the user can change is
/// bad input (exit 2); a failing store is not.
fn refused(e: RespondError) -> anyhow::Error {
    match e {
        RespondError::NoSuchIncident(id) => no_such(id),
        RespondError::Store(e) => e.into(),
        other => BadInput(other.to_string()).into(),
    }
}

/// The response plan Ward follows: the organisation's edited plan from `[respond] plans_dir`
/// (`plan.toml` and `playbooks/*.toml`), else the plan Ward ships. A plan that does not parse
/// or validate is bad input naming the file (and the line, where one line holds the mistake).
pub fn load_plan(config: &Config) -> Result<Plan> {
    let Some(dir) = &config.respond.plans_dir else {
        return Ok(Plan::shipped());
    };
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|e| {
            anyhow::Error::from(BadInput(format!(
                "cannot read the response plan file {}: {e}",
                path.display()
            )))
        })
    };
    let plan_path = dir.join("plan.toml");
    let plan_text = read(&plan_path)?;
    let books_dir = dir.join("playbooks");
    let mut book_paths: Vec<PathBuf> = std::fs::read_dir(&books_dir)
        .map_err(|e| {
            BadInput(format!(
                "cannot read the playbooks folder {}: {e}",
                books_dir.display()
            ))
        })?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    book_paths.sort();
    let mut books = Vec::with_capacity(book_paths.len());
    for path in &book_paths {
        books.push((path.display().to_string(), read(path)?));
    }
    let plan_name = plan_path.display().to_string();
    let borrowed: Vec<(&str, &str)> = books
        .iter()
        .map(|(name, text)| (name.as_str(), text.as_str()))
        .collect();
    Plan::parse((&plan_name, &plan_text), &borrowed).map_err(|e| {
        BadInput(format!(
            "the response plan in {} cannot be used: {e}",
            dir.display()
        ))
        .into()
    })
}

/// Who the timeline and custody log name for command-line actions.
fn actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

fn today() -> NaiveDate {
    utc_date(Timestamp::now())
}

fn no_such(id: i64) -> anyhow::Error {
    BadInput(format!(
        "there is no incident {id}; `ward incidents list` shows them"
    ))
    .into()
}

fn incident(store: &dyn Store, id: i64) -> Result<IncidentRecord> {
    store
        .incidents()
        .get_incident(id)?
        .ok_or_else(|| no_such(id))
}

fn standing(status: DeadlineStatus) -> (&'static str, String) {
    match status {
        DeadlineStatus::Met { on, late: false } => ("met", format!("given on {on}")),
        DeadlineStatus::Met { on, late: true } => ("met_late", format!("given late, on {on}")),
        DeadlineStatus::Overdue { days } => ("overdue", format!("OVERDUE by {days} days")),
        DeadlineStatus::DueSoon { days_left } => ("due_soon", format!("due in {days_left} days")),
        DeadlineStatus::Upcoming { days_left } => ("upcoming", format!("due in {days_left} days")),
    }
}

fn notice(d: &DeadlineRecord) -> String {
    if d.jurisdiction.is_empty() {
        d.kind.clone()
    } else {
        format!("{} ({})", d.kind, d.jurisdiction)
    }
}

fn deadline_json(d: &DeadlineRecord, today: NaiveDate) -> Value {
    json!({
        "kind": d.kind,
        "jurisdiction": d.jurisdiction,
        "due_on": d.due_on.to_string(),
        "citation": d.citation,
        "explanation": d.explanation,
        "notified_on": d.notified_on.map(|n| n.to_string()),
        "status": standing(status_of(d.due_on, today, d.notified_on)).0,
    })
}

fn incident_json(i: &IncidentRecord) -> Value {
    json!({
        "id": i.id,
        "title": i.title,
        "incident_type": i.incident_type,
        "severity": i.severity.as_str(),
        "status": i.status.as_str(),
        "opened_at": i.opened_at.to_rfc3339(),
        "opened_by": i.opened_by,
        "discovered_at": i.discovered_at.to_rfc3339(),
        "plan_version": i.plan_version,
    })
}

pub fn run(config: &Config, data_dir: &Path, command: IncidentsCommand) -> Result<ExitCode> {
    let plan = load_plan(config)?;
    let store = crate::keys::open_store(config, data_dir)?;
    let responder = Responder::new(&store, &plan);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match command {
        IncidentsCommand::List { json } => {
            let today = today();
            let list = store
                .incidents()
                .list_incidents(&IncidentQuery::default())?;
            for i in &list {
                let deadlines = store.incidents().deadlines(i.id)?;
                let next = deadlines
                    .iter()
                    .filter(|d| d.notified_on.is_none())
                    .min_by_key(|d| (d.due_on, d.kind != "individuals"));
                if json {
                    let mut v = incident_json(i);
                    v["next_deadline"] = next.map_or(Value::Null, |d| deadline_json(d, today));
                    writeln!(out, "{v}")?;
                } else {
                    let next = next.map_or("no deadline".to_string(), |d| {
                        format!(
                            "{} by {} ({})",
                            notice(d),
                            d.due_on,
                            standing(status_of(d.due_on, today, None)).1
                        )
                    });
                    writeln!(
                        out,
                        "{:>4} {:<10} {:<8} {:<22} {} — {} — {next}",
                        i.id,
                        i.status.as_str(),
                        i.severity.as_str(),
                        i.incident_type,
                        i.opened_at.to_rfc3339(),
                        i.title
                    )?;
                }
            }
            if !json && list.is_empty() {
                writeln!(out, "no incidents")?;
            }
        }
        IncidentsCommand::Show { id, json } => {
            let today = today();
            let report = responder.incident_report(id, today).map_err(|e| match e {
                ward_respond::RespondError::NoSuchIncident(id) => no_such(id),
                e => e.into(),
            })?;
            let patients = report
                .links
                .iter()
                .filter(|(k, _)| *k == LinkKind::Patient)
                .count();
            let links: Vec<Value> = report
                .links
                .iter()
                .filter(|(k, _)| *k != LinkKind::Patient)
                .map(|(k, v)| json!({"kind": k.as_str(), "value": v}))
                .collect();
            if json {
                let v = json!({
                    "incident": incident_json(&report.incident),
                    "alerts": report.alerts,
                    "links": links,
                    "patients_linked": patients,
                    "tasks": report.tasks.iter().map(|t| json!({
                        "id": t.id, "phase": t.phase, "title": t.title, "role": t.role,
                        "assignee": t.assignee, "status": t.status.as_str(),
                    })).collect::<Vec<_>>(),
                    "assessment": report.determination.as_ref().map(|a| json!({
                        "conclusion": a.conclusion, "reasons": a.body["reasons"],
                        "assessed_by": a.assessed_by, "assessed_at": a.assessed_at.to_rfc3339(),
                    })),
                    "deadlines": report.deadlines.iter().map(|d| deadline_json(d, today)).collect::<Vec<_>>(),
                    "evidence": report.evidence.iter().map(|e| json!({
                        "id": e.id, "name": e.name, "media_type": e.media_type, "size": e.size,
                        "sha256": hex(&e.sha256), "added_by": e.added_by, "added_at": e.added_at.to_rfc3339(),
                    })).collect::<Vec<_>>(),
                    "custody_entries": report.custody_entries,
                    "timeline": report.timeline.iter().map(|e| json!({
                        "seq": e.seq, "at": e.at.to_rfc3339(), "actor": e.actor, "kind": e.kind.as_str(), "text": e.text,
                    })).collect::<Vec<_>>(),
                });
                writeln!(out, "{v}")?;
            } else {
                let i = &report.incident;
                writeln!(out, "Incident {}: {}", i.id, i.title)?;
                writeln!(
                    out,
                    "  {} · {} · {} · plan {}",
                    i.status.as_str(),
                    i.severity.as_str(),
                    i.incident_type,
                    i.plan_version
                )?;
                writeln!(
                    out,
                    "  opened {} by {}; discovered {}",
                    i.opened_at.to_rfc3339(),
                    i.opened_by,
                    utc_date(i.discovered_at)
                )?;
                writeln!(out, "Alerts: {}", report.alerts.join(", "))?;
                for l in &links {
                    writeln!(
                        out,
                        "  linked {}: {}",
                        l["kind"].as_str().unwrap_or(""),
                        l["value"].as_str().unwrap_or("")
                    )?;
                }
                writeln!(out, "  patients linked: {patients}")?;
                writeln!(out, "Tasks:")?;
                for t in &report.tasks {
                    writeln!(
                        out,
                        "  [{:<14}] {:<14} {} ({}{})",
                        t.status.as_str(),
                        t.phase,
                        t.title,
                        t.role,
                        t.assignee
                            .as_deref()
                            .map(|a| format!(", {a}"))
                            .unwrap_or_default()
                    )?;
                }
                match &report.determination {
                    Some(a) => {
                        writeln!(out, "Assessment: {} by {}", a.conclusion, a.assessed_by)?;
                        for r in a.body["reasons"].as_array().into_iter().flatten() {
                            writeln!(out, "  - {}", r.as_str().unwrap_or_default())?;
                        }
                    }
                    None => writeln!(out, "Assessment: none (the presumption of breach stands)")?,
                }
                writeln!(out, "Deadlines:")?;
                for d in &report.deadlines {
                    writeln!(
                        out,
                        "  {} due {} — {} — {}",
                        notice(d),
                        d.due_on,
                        standing(status_of(d.due_on, today, d.notified_on)).1,
                        d.citation
                    )?;
                }
                writeln!(
                    out,
                    "Evidence ({} custody entries):",
                    report.custody_entries
                )?;
                for e in &report.evidence {
                    writeln!(
                        out,
                        "  {} {} {} bytes sha256 {}",
                        e.id,
                        e.name,
                        e.size,
                        hex(&e.sha256)
                    )?;
                }
            }
        }
        IncidentsCommand::Open {
            alerts,
            incident_type,
            json,
        } => {
            let kind = incident_type
                .as_deref()
                .map(|t| {
                    IncidentType::parse(t).ok_or_else(|| {
                        BadInput(format!(
                            "unknown incident type {t:?}: one of {}",
                            IncidentType::ALL.map(|t| t.as_str()).join(", ")
                        ))
                    })
                })
                .transpose()?;
            let mut found = Vec::with_capacity(alerts.len());
            for id in &alerts {
                found.push(store.get_alert(id)?.ok_or_else(|| {
                    BadInput(format!("there is no alert {id}; `ward alerts` lists them"))
                })?);
            }
            let opened = responder
                .open_from_alerts(&found, kind, None, &actor(), Timestamp::now())
                .map_err(|e| match e {
                    e @ ward_respond::RespondError::Unrouted { .. } => {
                        BadInput(e.to_string()).into()
                    }
                    e => anyhow::Error::from(e),
                })?;
            if json {
                writeln!(
                    out,
                    "{}",
                    json!({"id": opened.incident_id, "incident_type": opened.incident_type.as_str(), "tasks": opened.task_ids.len()})
                )?;
            } else {
                writeln!(
                    out,
                    "incident {} opened ({}, {} tasks)",
                    opened.incident_id,
                    opened.incident_type.as_str(),
                    opened.task_ids.len()
                )?;
            }
        }
        IncidentsCommand::Deadlines { days, json } => {
            let board = responder.deadline_board(today(), days)?;
            for (pending, status) in &board {
                let d = &pending.deadline;
                if json {
                    writeln!(
                        out,
                        "{}",
                        json!({
                            "incident": pending.incident_id,
                            "incident_title": pending.incident_title,
                            "kind": d.kind, "jurisdiction": d.jurisdiction,
                            "due_on": d.due_on.to_string(), "citation": d.citation,
                            "status": standing(*status).0,
                        })
                    )?;
                } else {
                    writeln!(
                        out,
                        "{} {:<30} incident {} — {} — {} — {}",
                        d.due_on,
                        notice(d),
                        pending.incident_id,
                        standing(*status).1,
                        d.citation,
                        pending.incident_title
                    )?;
                }
            }
            if !json && board.is_empty() {
                writeln!(out, "no notice is overdue or due within {days} days")?;
            }
        }
        IncidentsCommand::ComputeDeadlines {
            id,
            business_associate,
        } => {
            let role = if business_associate {
                ward_respond::Role::BusinessAssociate
            } else {
                ward_respond::Role::CoveredEntity
            };
            let computed = responder
                .affected(id)
                .and_then(|affected| {
                    responder.compute_deadlines(id, role, &affected, &actor(), Timestamp::now())
                })
                .map_err(|e| match e {
                    ward_respond::RespondError::NoSuchIncident(id) => no_such(id),
                    e @ ward_respond::RespondError::NotABreach { .. } => {
                        BadInput(e.to_string()).into()
                    }
                    e => anyhow::Error::from(e),
                })?;
            let today = today();
            for d in &computed {
                writeln!(
                    out,
                    "{:<30} due {} — {} — {}",
                    d.jurisdiction
                        .as_ref()
                        .map_or(d.kind.as_str().to_string(), |j| format!(
                            "{} ({j})",
                            d.kind.as_str()
                        )),
                    d.due_on,
                    standing(status_of(d.due_on, today, None)).1,
                    d.citation
                )?;
            }
        }
        IncidentsCommand::AddEvidence { id, file, name } => {
            incident(&store, id)?;
            let content =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let name = name.unwrap_or_else(|| {
                file.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "evidence".into())
            });
            let record = store.incidents().add_evidence(
                id,
                &NewEvidence {
                    name,
                    media_type: "application/octet-stream".into(),
                    content,
                    added_by: actor(),
                    added_at: Timestamp::now(),
                },
            )?;
            writeln!(
                out,
                "evidence {} added to incident {id}: {} bytes, sha256 {}",
                record.id,
                record.size,
                hex(&record.sha256)
            )?;
        }
        IncidentsCommand::Verify { id } => {
            incident(&store, id)?;
            match store
                .incidents()
                .verify_evidence(id, &actor(), Timestamp::now())?
            {
                EvidenceVerification::Intact {
                    files,
                    custody_entries,
                } => writeln!(
                    out,
                    "incident {id}: evidence intact ({files} files match their SHA-256; {custody_entries} custody entries chain)"
                )?,
                EvidenceVerification::Failed(failure) => {
                    writeln!(
                        out,
                        "incident {id}: evidence verification FAILED: {failure}"
                    )?;
                    return Ok(ExitCode::from(1));
                }
            }
        }
        IncidentsCommand::Report { id, out: path } => {
            let report = responder
                .incident_report(id, today())
                .map_err(|e| match e {
                    ward_respond::RespondError::NoSuchIncident(id) => no_such(id),
                    e => e.into(),
                })?;
            let html = report::render_html(&report, false);
            let pdf = path
                .extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("pdf"));
            let bytes = if pdf {
                let chromium =
                    ward_respond::pdf::find_chromium(config.respond.chromium.as_deref())?;
                ward_respond::pdf::html_to_pdf(
                    &html,
                    &chromium,
                    ward_respond::pdf::DEFAULT_TIMEOUT,
                )?
            } else {
                html.into_bytes()
            };
            std::fs::write(&path, bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
            writeln!(out, "report of incident {id} written to {}", path.display())?;
        }
        IncidentsCommand::Notice {
            id,
            kind,
            jurisdiction,
            given_on,
            method,
        } => {
            responder
                .record_notice(
                    id,
                    &kind,
                    &jurisdiction,
                    given_on,
                    &method,
                    &actor(),
                    Timestamp::now(),
                )
                .map_err(refused)?;
            let notice = if jurisdiction.is_empty() {
                kind
            } else {
                format!("{kind} ({jurisdiction})")
            };
            writeln!(
                out,
                "incident {id}: {notice} notice recorded as given on {given_on}"
            )?;
        }
        IncidentsCommand::Close {
            id,
            held_on,
            participants,
            summary,
            went_well,
            to_improve,
            follow_ups,
            note,
        } => {
            let review = Review {
                held_on: held_on.unwrap_or_else(today),
                participants,
                summary,
                went_well,
                to_improve,
                follow_ups: follow_ups
                    .iter()
                    .map(|f| follow_up(f))
                    .collect::<Result<_>>()?,
            };
            responder
                .close_with_review(id, &note, &review, &actor(), Timestamp::now())
                .map_err(refused)?;
            writeln!(
                out,
                "incident {id} closed with its review ({} follow-ups)",
                review.follow_ups.len()
            )?;
        }
        IncidentsCommand::Exercise {
            held_on,
            scenario,
            participants,
            findings,
            follow_ups,
        } => {
            let held_on = held_on.unwrap_or_else(today);
            if held_on > today() {
                return Err(BadInput(format!(
                    "the exercise is held on {held_on}, in the future; record it once it has been held"
                ))
                .into());
            }
            let exercise = Exercise {
                held_on,
                scenario,
                participants,
                findings,
                follow_ups: follow_ups
                    .iter()
                    .map(|f| follow_up(f))
                    .collect::<Result<_>>()?,
            };
            let exercise_id = responder
                .record_exercise(&exercise, &actor(), Timestamp::now())
                .map_err(refused)?;
            writeln!(
                out,
                "exercise {exercise_id} recorded against plan version {} ({} follow-ups)",
                plan.version,
                exercise.follow_ups.len()
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
