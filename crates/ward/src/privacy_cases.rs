//! `ward privacy report`, `case` and `determine`: the privacy officer's case workflow.
//!
//! A report lists every stored access to a patient's record (or by a user, or both), oldest
//! first, with who, what, why (purpose of use), from where, and which explanation template
//! explained it, computed by a fresh privacy detector with the stored context run over the
//! same events. A case is a privacy alert with the user's history on that patient and the
//! patient's history over the same period (who else looked). A determination is recorded on
//! the alert through the alert workflow and filed as a `PrivacyDetermination` context
//! resource, which the privacy detector reads like the rest of its context: `appropriate`
//! confirms the (user, patient) pair, so the same legitimate pattern stops alerting.
//!
//! Reports and cases show PHI, so each run is first recorded in Ward's own audit trail (as the
//! console records its PHI views, with the console's `AuditRecord`): if that record cannot be
//! committed, nothing is shown.

use crate::commands::BadInput;
use anyhow::Result;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::process::ExitCode;
use ward_console::audit::{AuditRecord, AuditSource};
use ward_detect::Detector;
use ward_detect::privacy::explain::Template;
use ward_detect::privacy::{AccessOutcome, PrivacyDetector, PrivacyOptions};
use ward_model::event::{api_activity, class};
use ward_model::{Alert, ContextKind, ContextResource, ContextSummary, Event, Timestamp};
use ward_store::{AUDIT_PRODUCT, Batch, EventQuery, Store};

const DAY_MS: i64 = 86_400_000;
/// Events read per query when paging through a patient's or user's history.
const PAGE: usize = 10_000;
/// Evidence events read to find the patients a user-level alert names.
const MAX_EVIDENCE: usize = 10_000;
/// How long an `appropriate` determination confirms the pair, unless told otherwise.
pub const DEFAULT_CONFIRM_DAYS: u32 = 365;

/// What a report covers: a patient, a user, or that user's accesses to that patient.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub patient: Option<String>,
    pub user: Option<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

/// One access in a report.
#[derive(Debug, Clone)]
struct AccessRow {
    event: Event,
    user: String,
    /// Name, role and department, when the context knows the user.
    who: Option<(String, String, String)>,
    patient: String,
    action: &'static str,
    explanation: Option<Template>,
    /// The case (alert id) whose determination confirmed the access.
    case: Option<String>,
}

/// A report's accesses and how many reads of the same data Ward itself recorded.
struct Report {
    rows: Vec<AccessRow>,
    ward_reads: usize,
}

/// The organisation context and what the live detector learned, in a fresh detector.
fn detector(store: &dyn Store, options: &PrivacyOptions) -> Result<PrivacyDetector> {
    let mut detector = PrivacyDetector::new(options.clone());
    for kind in ContextKind::ALL {
        let mut after: Option<String> = None;
        loop {
            let page = store.list_context(kind, after.as_deref(), 1_000)?;
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            detector.context(&page);
            if page.len() < 1_000 {
                break;
            }
        }
    }
    // The templates the live detector learned from the whole stream (department pairs, a
    // user's documented work): a report reads one patient's or one user's accesses, from which
    // none could be learned again.
    if let Some(state) = store.detector_state("privacy")?
        && let Err(reason) = detector.restore_state(&state)
    {
        eprintln!("ward: the privacy detector's saved memory is not used: {reason}");
    }
    Ok(detector)
}

/// Every identifier the context gives the patient (its FHIR id and MRNs …), so a report
/// finds the accesses however the audit source named the patient.
fn patient_aliases(store: &dyn Store, detector: &PrivacyDetector, patient: &str) -> Vec<String> {
    let mut aliases = vec![patient.to_string()];
    let rel = detector.relations();
    let Some(record) = rel
        .patient(patient)
        .and_then(|p| rel.patients.get(p as usize))
    else {
        return aliases;
    };
    aliases.push(record.display.clone());
    if let Ok(Some(resource)) = store.get_context(ContextKind::Patient, &record.display)
        && let ContextSummary::Patient { identifiers, .. } = &resource.summary
    {
        aliases.extend(identifiers.iter().map(|i| i.value.clone()));
    }
    aliases.sort();
    aliases.dedup();
    aliases
}

/// The stored events in scope, oldest first, paged through the store (which answers newest
/// first).
fn events_in_scope(store: &dyn Store, query: &EventQuery) -> Result<Vec<Event>> {
    let mut found: Vec<Event> = Vec::new();
    let mut until = query.until;
    loop {
        let page = store.query_events(&EventQuery {
            until,
            limit: Some(PAGE),
            ..query.clone()
        })?;
        let full = page.len() >= PAGE;
        let Some(oldest) = page.last().map(|e| e.time) else {
            break;
        };
        if !full {
            found.extend(page);
            break;
        }
        // The oldest millisecond may continue on the next page: it is read whole there.
        let before = found.len();
        found.extend(page.into_iter().filter(|e| e.time > oldest));
        if found.len() == before {
            eprintln!(
                "ward: more than {PAGE} events in the millisecond {oldest}: the first {PAGE} are reported"
            );
            break;
        }
        until = Some(Timestamp(oldest.millis().saturating_add(1)));
    }
    found.reverse();
    Ok(found)
}

fn action(event: &Event) -> &'static str {
    let code = event.metadata.event_code.as_deref().unwrap_or_default();
    if code == "110106" {
        return "export";
    }
    if code.starts_with("search") {
        return "search";
    }
    match (event.class_uid, event.activity_id) {
        (class::API_ACTIVITY, api_activity::CREATE) => "create",
        (class::API_ACTIVITY, api_activity::READ) => "read",
        (class::API_ACTIVITY, api_activity::UPDATE) => "update",
        (class::API_ACTIVITY, api_activity::DELETE) => "delete",
        _ => "other",
    }
}

fn login_of(event: &Event) -> String {
    event
        .actor
        .user
        .name
        .as_deref()
        .or(event.actor.user.uid.as_deref())
        .unwrap_or("-")
        .to_string()
}

/// Runs a fresh detector over the accesses in scope, in time order, and reads which template
/// explained each.
fn report(store: &dyn Store, options: &PrivacyOptions, scope: &Scope) -> Result<Report> {
    let mut detector = detector(store, options)?;
    let aliases = match &scope.patient {
        Some(p) => patient_aliases(store, &detector, p),
        None => vec![String::new()],
    };
    let mut events = Vec::new();
    let mut ids = HashSet::new();
    for alias in &aliases {
        let query = EventQuery {
            since: scope.since,
            until: scope.until,
            user: scope.user.clone(),
            patient: scope.patient.as_ref().map(|_| alias.clone()),
            ..Default::default()
        };
        for e in events_in_scope(store, &query)? {
            if ids.insert(e.id) {
                events.push(e);
            }
        }
    }
    events.sort_by_key(|e| e.time);
    let (ward, ehr): (Vec<Event>, Vec<Event>) = events
        .into_iter()
        .partition(|e| e.metadata.product == AUDIT_PRODUCT);
    let mut rows = Vec::new();
    let mut sink = Vec::new();
    for event in ehr {
        if event.patient.id.is_none() {
            continue;
        }
        detector.observe(&event, &mut sink);
        sink.clear();
        let explanation = match detector.last_outcome() {
            AccessOutcome::Explained(t) => Some(t),
            _ => None,
        };
        let rel = detector.relations();
        let user = login_of(&event);
        let staff = rel
            .staff_by_login(&user)
            .and_then(|s| rel.staff.get(s as usize));
        let patient_record = event
            .patient
            .id
            .as_deref()
            .and_then(|p| rel.patient(p))
            .and_then(|p| rel.patients.get(p as usize));
        let who = staff.map(|s| {
            let name = s
                .name
                .given
                .iter()
                .chain(s.name.family.iter())
                .cloned()
                .collect::<Vec<_>>()
                .join(" ");
            let depts: Vec<&str> = s.departments.iter().map(|&d| rel.dept_label(d)).collect();
            (name, s.roles.join(", "), depts.join(", "))
        });
        let case = match (explanation, staff, patient_record) {
            (Some(Template::Confirmed), Some(s), Some(p)) => {
                p.confirmed(s, event.time.millis()).map(|d| d.alert.clone())
            }
            _ => None,
        };
        rows.push(AccessRow {
            user,
            who,
            patient: patient_record.map_or_else(
                || event.patient.id.clone().unwrap_or_default(),
                |p| p.display.clone(),
            ),
            action: action(&event),
            explanation,
            case,
            event,
        });
    }
    Ok(Report {
        rows,
        ward_reads: ward.len(),
    })
}

/// Who is running the command, as Ward's audit trail and the determinations name them.
fn operator() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

/// Records in Ward's own audit trail that the command showed these patients' data (one read
/// per patient, or one read naming none when nothing was found), before anything is printed:
/// the console's audit records, with source `ward-cli`.
fn audit_read(
    store: &dyn Store,
    place: &str,
    patients: &[String],
    target: Option<&str>,
    detail: &str,
) -> Result<()> {
    let user = operator();
    let records: Vec<AuditRecord> = if patients.is_empty() {
        vec![AuditRecord::read(&user, None, place, target, None, detail)]
    } else {
        patients
            .iter()
            .map(|p| AuditRecord::read(&user, None, place, target, Some(p), detail))
            .collect()
    };
    commit_audit(store, &records)
}

fn commit_audit(store: &dyn Store, records: &[AuditRecord]) -> Result<()> {
    let now = Timestamp::now();
    store.commit(&Batch {
        events: records
            .iter()
            .map(|r| r.to_event(AuditSource::CommandLine, now))
            .collect(),
        ..Default::default()
    })?;
    Ok(())
}

fn distinct_patients(rows: &[AccessRow], also: Option<&String>) -> Vec<String> {
    let mut patients: Vec<String> = rows
        .iter()
        .map(|r| r.patient.clone())
        .chain(also.cloned())
        .collect();
    patients.sort();
    patients.dedup();
    patients
}

fn explanation_name(row: &AccessRow) -> String {
    match (row.explanation, &row.case) {
        (Some(t), Some(case)) => format!("{} (case {case})", t.name()),
        (Some(t), None) => t.name().to_string(),
        (None, _) => "unexplained".into(),
    }
}

fn source_of(event: &Event) -> String {
    event
        .src_endpoint
        .hostname
        .as_deref()
        .or(event.src_endpoint.ip.as_deref())
        .or(event.device.hostname.as_deref())
        .or(event.device.ip.as_deref())
        .unwrap_or("-")
        .to_string()
}

fn row_json(row: &AccessRow) -> Value {
    let (name, role, department) = row.who.clone().unwrap_or_default();
    json!({
        "time": row.event.time,
        "user": row.user,
        "user_name": (!name.is_empty()).then_some(name),
        "role": (!role.is_empty()).then_some(role),
        "department": (!department.is_empty()).then_some(department),
        "patient": row.patient,
        "action": row.action,
        "purpose_of_use": row.event.purpose_of_use,
        "source": source_of(&row.event),
        "explanation": row.explanation.map_or("unexplained", |t| t.name()),
        "case": row.case,
        "event": row.event.id.to_hex(),
    })
}

fn write_row(out: &mut impl Write, row: &AccessRow) -> std::io::Result<()> {
    let who = match &row.who {
        Some((name, role, dept)) => {
            let parts: Vec<&str> = [name.as_str(), role.as_str(), dept.as_str()]
                .into_iter()
                .filter(|p| !p.is_empty())
                .collect();
            format!("{} ({})", row.user, parts.join(", "))
        }
        None => format!("{} (not known as staff)", row.user),
    };
    let purpose = if row.event.purpose_of_use.is_empty() {
        "-".to_string()
    } else {
        row.event.purpose_of_use.join(",")
    };
    writeln!(
        out,
        "  {}  {who}  {}  patient={}  purpose={purpose}  from={}  → {}",
        row.event.time,
        row.action,
        row.patient,
        source_of(&row.event),
        explanation_name(row)
    )
}

#[derive(Debug, Default)]
struct Summary {
    accesses: usize,
    users: usize,
    patients: usize,
    explained: usize,
    by_template: BTreeMap<&'static str, usize>,
}

fn summarise(rows: &[AccessRow]) -> Summary {
    let mut users: Vec<&str> = rows.iter().map(|r| r.user.as_str()).collect();
    users.sort_unstable();
    users.dedup();
    let mut by_template = BTreeMap::new();
    for r in rows {
        *by_template
            .entry(r.explanation.map_or("unexplained", |t| t.name()))
            .or_default() += 1;
    }
    Summary {
        accesses: rows.len(),
        users: users.len(),
        patients: distinct_patients(rows, None).len(),
        explained: rows.iter().filter(|r| r.explanation.is_some()).count(),
        by_template,
    }
}

fn share(n: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        n as f64 * 100.0 / of as f64
    }
}

fn summary_line(s: &Summary) -> String {
    format!(
        "{} accesses by {} distinct users to {} patients; {} explained ({:.1}%), {} unexplained",
        s.accesses,
        s.users,
        s.patients,
        s.explained,
        share(s.explained, s.accesses),
        s.accesses - s.explained
    )
}

fn summary_json(s: &Summary, ward_reads: usize) -> Value {
    json!({
        "accesses": s.accesses,
        "users": s.users,
        "patients": s.patients,
        "explained": s.explained,
        "explained_share": if s.accesses == 0 { 1.0 } else { s.explained as f64 / s.accesses as f64 },
        "by_explanation": s.by_template,
        "ward_reads": ward_reads,
    })
}

fn period_text(since: Option<Timestamp>, until: Option<Timestamp>) -> String {
    match (since, until) {
        (Some(s), Some(u)) => format!("from {s} to {u}"),
        (Some(s), None) => format!("from {s} to now"),
        (None, Some(u)) => format!("everything stored before {u}"),
        (None, None) => "everything stored".into(),
    }
}

fn scope_title(scope: &Scope) -> String {
    match (&scope.user, &scope.patient) {
        (Some(u), Some(p)) => format!("accesses of user {u} to the record of patient {p}"),
        (None, Some(p)) => format!("accesses to the record of patient {p}"),
        (Some(u), None) => format!("accesses to patient records by user {u}"),
        (None, None) => "accesses".into(),
    }
}

/// `ward privacy report`.
pub fn run_report(
    store: &dyn Store,
    scope: Scope,
    options: &PrivacyOptions,
    json: bool,
) -> Result<ExitCode> {
    if scope.patient.is_none() && scope.user.is_none() {
        return Err(BadInput(
            "name a patient (--patient ID), a user (--user LOGIN) or both".into(),
        )
        .into());
    }
    let report = report(store, options, &scope)?;
    audit_read(
        store,
        "ward privacy report",
        &distinct_patients(&report.rows, scope.patient.as_ref()),
        None,
        "access report shown",
    )?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let summary = summarise(&report.rows);
    if json {
        for row in &report.rows {
            writeln!(out, "{}", row_json(row))?;
        }
        let mut s = summary_json(&summary, report.ward_reads);
        if let Some(map) = s.as_object_mut() {
            map.insert("patient".into(), json!(scope.patient));
            map.insert("user".into(), json!(scope.user));
            map.insert("since".into(), json!(scope.since));
            map.insert("until".into(), json!(scope.until));
        }
        writeln!(out, "{}", json!({ "summary": s }))?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "Access report: {}, {}",
        scope_title(&scope),
        period_text(scope.since, scope.until)
    )?;
    writeln!(
        out,
        "From the EHR audit trail Ward holds; each access with the reason Ward found for it (or \"unexplained\")."
    )?;
    writeln!(out)?;
    if report.rows.is_empty() {
        writeln!(out, "  No access on record in the period.")?;
    }
    for row in &report.rows {
        write_row(&mut out, row)?;
    }
    writeln!(out)?;
    writeln!(out, "{}", summary_line(&summary))?;
    let by: Vec<String> = summary
        .by_template
        .iter()
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
    if !by.is_empty() {
        writeln!(out, "by explanation: {}", by.join(", "))?;
    }
    if report.ward_reads > 0 {
        writeln!(
            out,
            "{} earlier views of this data through Ward itself (reports, cases, console) are in Ward's own audit trail, not listed here",
            report.ward_reads
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A privacy alert by id, or bad input naming what is wrong.
fn privacy_alert(store: &dyn Store, id: &str) -> Result<Alert> {
    let alert = store.get_alert(id)?.ok_or_else(|| {
        BadInput(format!(
            "there is no alert {id}; `ward alerts` lists them (privacy alerts have rule ids privacy.*)"
        ))
    })?;
    if !alert.rule_id.starts_with("privacy.") {
        return Err(BadInput(format!(
            "alert {id} is a {} alert, not a privacy alert: cases and determinations are for privacy.* alerts",
            alert.rule_id
        ))
        .into());
    }
    Ok(alert)
}

fn determination_id(alert: &str) -> String {
    format!("determination-{alert}")
}

/// The patients an alert's evidence names (for user-level alerts), as the events name them.
fn evidence_patients(store: &dyn Store, alert: &str) -> Result<Vec<String>> {
    let mut patients = Vec::new();
    for id in store.alert_events(alert, MAX_EVIDENCE)? {
        if let Some(p) = store.get_event(&id)?.and_then(|e| e.patient.id) {
            patients.push(p);
        }
    }
    patients.sort();
    patients.dedup();
    Ok(patients)
}

/// `ward privacy case`.
pub fn run_case(
    store: &dyn Store,
    id: &str,
    options: &PrivacyOptions,
    json: bool,
) -> Result<ExitCode> {
    let alert = privacy_alert(store, id)?;
    let workflow = store.alert_workflow(id)?.unwrap_or_default();
    let determination = store
        .get_context(ContextKind::PrivacyDetermination, &determination_id(id))?
        .map(|r| r.summary);
    let user = alert.entities.user.clone();
    let (mine, theirs, period) = match (&user, &alert.entities.patient) {
        (Some(user), Some(patient)) => {
            let mine = report(
                store,
                options,
                &Scope {
                    patient: Some(patient.clone()),
                    user: Some(user.clone()),
                    ..Scope::default()
                },
            )?;
            // Who else looked: the patient's accesses from a day before the user's first (or
            // the alert's) to a day after the user's last.
            let first = mine
                .rows
                .first()
                .map_or(alert.first_seen, |r| r.event.time.min(alert.first_seen));
            let last = mine
                .rows
                .last()
                .map_or(alert.last_seen, |r| r.event.time.max(alert.last_seen));
            let period = (
                Timestamp(first.millis().saturating_sub(DAY_MS)),
                Timestamp(last.millis().saturating_add(DAY_MS)),
            );
            let theirs = report(
                store,
                options,
                &Scope {
                    patient: Some(patient.clone()),
                    since: Some(period.0),
                    until: Some(period.1),
                    ..Scope::default()
                },
            )?;
            (mine, Some(theirs), period)
        }
        (Some(user), None) => {
            let period = (
                Timestamp(alert.first_seen.millis().saturating_sub(DAY_MS)),
                Timestamp(alert.last_seen.millis().saturating_add(DAY_MS)),
            );
            let mine = report(
                store,
                options,
                &Scope {
                    user: Some(user.clone()),
                    since: Some(period.0),
                    until: Some(period.1),
                    ..Scope::default()
                },
            )?;
            (mine, None, period)
        }
        (None, _) => {
            return Err(BadInput(format!(
                "alert {id} names no user: a case follows one user's accesses"
            ))
            .into());
        }
    };
    let mut shown = distinct_patients(&mine.rows, alert.entities.patient.as_ref());
    if let Some(theirs) = &theirs {
        shown.extend(distinct_patients(&theirs.rows, None));
        shown.sort();
        shown.dedup();
    }
    audit_read(
        store,
        "ward privacy case",
        &shown,
        Some(id),
        "privacy case shown",
    )?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        let section = |r: &Report| {
            json!({
                "accesses": r.rows.iter().map(row_json).collect::<Vec<_>>(),
                "summary": summary_json(&summarise(&r.rows), r.ward_reads),
            })
        };
        let others = theirs.as_ref().map(|t| others(t, user.as_deref()));
        let value = json!({
            "alert": alert,
            "assignee": workflow.assignee,
            "close_reason": workflow.close_reason,
            "determination": determination,
            "period": {"since": period.0, "until": period.1},
            "user_history": section(&mine),
            "patient_history": theirs.as_ref().map(section),
            "others": others.map(|o| o.into_iter().map(|(u, n, e)| json!({"user": u, "accesses": n, "explained": e})).collect::<Vec<_>>()),
        });
        writeln!(out, "{value}")?;
        return Ok(ExitCode::SUCCESS);
    }
    let login = user.as_deref().unwrap_or("-");
    writeln!(
        out,
        "Case {id}: {} {} — {}",
        alert.severity.as_str().to_uppercase(),
        alert.rule_id,
        alert.title
    )?;
    writeln!(
        out,
        "  user={login} patient={}  first seen {}, last seen {}, ×{}",
        alert.entities.patient.as_deref().unwrap_or("-"),
        alert.first_seen,
        alert.last_seen,
        alert.count
    )?;
    writeln!(
        out,
        "  status: {}{}{}",
        alert.status.as_str(),
        workflow
            .assignee
            .as_deref()
            .map(|a| format!(", assigned to {a}"))
            .unwrap_or_default(),
        workflow
            .close_reason
            .as_deref()
            .map(|r| format!(", closed: {r}"))
            .unwrap_or_default()
    )?;
    if let Some(ContextSummary::PrivacyDetermination {
        determination,
        by,
        decided_at,
        until,
        ..
    }) = &determination
    {
        writeln!(
            out,
            "  determination: {determination} (by {}, {decided_at}{})",
            by.as_deref().unwrap_or("unknown"),
            until
                .map(|u| format!(", confirms the pair until {u}"))
                .filter(|_| determination == "appropriate")
                .unwrap_or_default()
        )?;
    } else {
        writeln!(
            out,
            "  determination: none yet (ward privacy determine {id} --as appropriate|policy-violation|reportable --note TEXT)"
        )?;
    }
    if let Some(text) = &alert.description {
        writeln!(out, "  {text}")?;
    }
    writeln!(out)?;
    match &alert.entities.patient {
        Some(patient) => writeln!(out, "{login}'s full access history to patient {patient}:")?,
        None => writeln!(
            out,
            "{login}'s accesses to patient records {}:",
            period_text(Some(period.0), Some(period.1))
        )?,
    }
    for row in &mine.rows {
        write_row(&mut out, row)?;
    }
    if mine.rows.is_empty() {
        writeln!(out, "  none stored")?;
    }
    writeln!(out, "  {}", summary_line(&summarise(&mine.rows)))?;
    if let (Some(theirs), Some(patient)) = (&theirs, &alert.entities.patient) {
        writeln!(out)?;
        writeln!(
            out,
            "Patient {patient}'s access history {} (who else looked):",
            period_text(Some(period.0), Some(period.1))
        )?;
        for row in &theirs.rows {
            write_row(&mut out, row)?;
        }
        writeln!(out, "  {}", summary_line(&summarise(&theirs.rows)))?;
        let others = others(theirs, user.as_deref());
        if others.is_empty() {
            writeln!(out, "  nobody else opened the record in the period")?;
        } else {
            let list: Vec<String> = others
                .iter()
                .map(|(u, n, e)| format!("{u} ×{n} ({e} explained)"))
                .collect();
            writeln!(out, "  others: {}", list.join(", "))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The other users in a patient's history: (login, accesses, explained).
fn others(report: &Report, user: Option<&str>) -> Vec<(String, usize, usize)> {
    let mut by: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for r in report.rows.iter().filter(|r| Some(r.user.as_str()) != user) {
        let entry = by.entry(r.user.as_str()).or_default();
        entry.0 += 1;
        entry.1 += usize::from(r.explanation.is_some());
    }
    by.into_iter()
        .map(|(u, (n, e))| (u.to_string(), n, e))
        .collect()
}

/// What the officer decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Appropriate,
    PolicyViolation,
    Reportable,
}

impl Decision {
    pub fn parse(text: &str) -> Result<Decision> {
        Ok(match text {
            "appropriate" => Decision::Appropriate,
            "policy-violation" => Decision::PolicyViolation,
            "reportable" => Decision::Reportable,
            other => {
                return Err(BadInput(format!(
                    "unknown determination {other:?}: use appropriate, policy-violation or reportable"
                ))
                .into());
            }
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Decision::Appropriate => "appropriate",
            Decision::PolicyViolation => "policy-violation",
            Decision::Reportable => "reportable",
        }
    }
}

/// `ward privacy determine`.
pub fn run_determine(
    store: &dyn Store,
    id: &str,
    decision: Decision,
    note: &str,
    by: Option<String>,
    days: u32,
) -> Result<ExitCode> {
    let alert = privacy_alert(store, id)?;
    let Some(user) = alert.entities.user.clone() else {
        return Err(BadInput(format!(
            "alert {id} names no user: there is no access pattern to decide on"
        ))
        .into());
    };
    let patients = match &alert.entities.patient {
        Some(_) => Vec::new(),
        None => evidence_patients(store, id)?,
    };
    let by = by.unwrap_or_else(operator);
    let now = Timestamp::now();
    let until = Timestamp(
        now.millis()
            .saturating_add(i64::from(days).saturating_mul(DAY_MS)),
    );
    let summary = ContextSummary::PrivacyDetermination {
        user: user.clone(),
        patient: alert.entities.patient.clone(),
        patients: patients.clone(),
        determination: decision.as_str().into(),
        alert: id.to_string(),
        note: Some(note.to_string()).filter(|n| !n.is_empty()),
        by: Some(by.clone()),
        decided_at: now,
        from: Some(alert.first_seen),
        until: Some(until),
    };
    let resource = ContextResource {
        kind: ContextKind::PrivacyDetermination,
        id: determination_id(id),
        raw: serde_json::to_vec(&summary)?,
        summary,
    };
    let reason = format!("determination: {} — {note} (by {by})", decision.as_str());
    commit_audit(
        store,
        &[AuditRecord::alert_change(
            &operator(),
            None,
            "ward privacy determine",
            id,
            format!("privacy determination: {}", decision.as_str()),
        )],
    )?;
    store.put_context(std::slice::from_ref(&resource))?;
    let named = match &alert.entities.patient {
        Some(p) => format!("{user} → patient {p}"),
        None => format!(
            "{user} → {} patients of the alert's evidence",
            patients.len()
        ),
    };
    match decision {
        Decision::Appropriate => {
            store.close_alert(id, &reason)?;
            println!("{id}: closed ({reason})");
            println!(
                "confirmed {named} until {until}: accesses of this pair are explained by confirmed_by_privacy_officer and raise no pattern alert (ward ingest and ward privacy scan from their next run; a running ward serve from its next start)"
            );
            if matches!(
                alert.rule_id.as_str(),
                "privacy.self_access" | "privacy.family_member"
            ) {
                println!(
                    "note: a user's own record and a family member's are flagged whatever explains the access, so this closes this alert only; later accesses raise their own"
                );
            }
        }
        Decision::PolicyViolation => {
            store.close_alert(id, &reason)?;
            println!("{id}: closed ({reason})");
            println!(
                "nothing is suppressed: later accesses of {named} are judged as before. Apply the sanctions policy (45 CFR 164.530(e))."
            );
        }
        Decision::Reportable => {
            store.set_alert_status(id, ward_model::AlertStatus::Acknowledged)?;
            println!(
                "{id}: kept open (acknowledged) with the determination reportable — {note} (by {by})"
            );
            println!(
                "open the breach response: ward incidents open --alert {id}  (the four-factor risk assessment and notification deadlines follow from the incident)"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
