//! The incident report: what happened and what was done, as one HTML document to file or
//! hand over (timeline, tasks, evidence with SHA-256, the breach determination and its
//! reasoning, the notices with their deadlines and when they were given).
//!
//! The report names linked patients only when asked to: the console offers the unmasked
//! report to roles with the PHI permission and audits the view, as it does for any PHI.
//! Gathering reads the store without touching evidence content, so making a report adds
//! nothing to the chain of custody.

use crate::deadlines::{
    DeadlineStatus, NoticeKind, SUBSTITUTE_POSTING_DAYS, posting_window, status_of,
};
use crate::incident::{Responder, Result};
use crate::letter::escape;
use chrono::NaiveDate;
use ward_store::incidents::{
    AssessmentRecord, DeadlineRecord, EvidenceRecord, IncidentRecord, LinkKind, TaskRecord,
    TimelineEntry, hex,
};

/// Everything the report shows, gathered from the store.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentReport {
    pub incident: IncidentRecord,
    pub alerts: Vec<String>,
    pub links: Vec<(LinkKind, String)>,
    pub tasks: Vec<TaskRecord>,
    pub timeline: Vec<TimelineEntry>,
    pub evidence: Vec<EvidenceRecord>,
    pub custody_entries: usize,
    pub determination: Option<AssessmentRecord>,
    pub deadlines: Vec<DeadlineRecord>,
    /// The day the report describes deadlines against.
    pub as_of: NaiveDate,
}

impl Responder<'_> {
    /// Gathers the report of one incident as of `today`.
    pub fn incident_report(&self, incident_id: i64, today: NaiveDate) -> Result<IncidentReport> {
        let incident = self.incident(incident_id)?;
        let store = self.store.incidents();
        Ok(IncidentReport {
            alerts: store.incident_alerts(incident_id)?,
            links: store.incident_links(incident_id)?,
            tasks: store.tasks(incident_id)?,
            timeline: store.timeline(incident_id)?,
            evidence: store.list_evidence(incident_id)?,
            custody_entries: store.custody_log(incident_id)?.len(),
            determination: store.assessments(incident_id)?.pop(),
            deadlines: store.deadlines(incident_id)?,
            as_of: today,
            incident,
        })
    }
}

/// For a notice that must stay posted, how long, once it was given.
fn posting(d: &DeadlineRecord) -> Option<String> {
    let kind = NoticeKind::parse(&d.kind)?;
    let (from, through) = posting_window(kind, d.notified_on?)?;
    Some(format!(
        "posted from {from}: keep it up and the toll-free number answered through {through}"
    ))
}

fn status_text(status: DeadlineStatus) -> String {
    match status {
        DeadlineStatus::Met { on, late: false } => format!("given on {on}"),
        DeadlineStatus::Met { on, late: true } => format!("given late, on {on}"),
        DeadlineStatus::Overdue { days } => format!("OVERDUE by {days} days"),
        DeadlineStatus::DueSoon { days_left } => format!("due in {days_left} days"),
        DeadlineStatus::Upcoming { days_left } => format!("due in {days_left} days"),
    }
}

/// Renders the report as a standalone HTML document; every stored value is escaped. With
/// `show_patients` false, linked patients are counted, not named.
pub fn render_html(report: &IncidentReport, show_patients: bool) -> String {
    let i = &report.incident;
    let mut h = String::from("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    let title = format!("Incident {}: {}", i.id, i.title);
    h.push_str(&format!("<title>{}</title>", escape(&title)));
    h.push_str("<style>body{font-family:sans-serif;max-width:60rem;margin:auto}table{border-collapse:collapse;width:100%}td,th{border:1px solid #999;padding:.25rem .5rem;text-align:left;vertical-align:top}code{font-size:.8rem;word-break:break-all}</style></head><body>\n");
    h.push_str(&format!("<h1>{}</h1>\n<table>", escape(&title)));
    for (key, value) in [
        ("Type", i.incident_type.clone()),
        ("Severity", i.severity.as_str().to_string()),
        ("Status", i.status.as_str().to_string()),
        ("Opened", format!("{} by {}", i.opened_at, i.opened_by)),
        ("Discovered", i.discovered_at.to_string()),
        ("Response plan version", i.plan_version.clone()),
        ("Report as of", report.as_of.to_string()),
    ] {
        h.push_str(&format!(
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(key),
            escape(&value)
        ));
    }
    h.push_str("</table>\n");

    h.push_str("<h2>Alerts and links</h2>\n<ul>");
    for alert in &report.alerts {
        h.push_str(&format!("<li>alert <code>{}</code></li>", escape(alert)));
    }
    let patients = report
        .links
        .iter()
        .filter(|(k, _)| *k == LinkKind::Patient)
        .count();
    for (kind, value) in &report.links {
        if *kind == LinkKind::Patient && !show_patients {
            continue;
        }
        h.push_str(&format!("<li>{} {}</li>", kind.as_str(), escape(value)));
    }
    if !show_patients && patients > 0 {
        h.push_str(&format!("<li>{patients} patients (names withheld)</li>"));
    }
    h.push_str("</ul>\n");

    h.push_str("<h2>Breach determination</h2>\n");
    match &report.determination {
        None => h.push_str(
            "<p>No assessment recorded: the impermissible use or disclosure is presumed a breach (45 CFR 164.402).</p>\n",
        ),
        Some(a) => {
            h.push_str(&format!(
                "<p><strong>{}</strong>, assessed by {} at {}.</p>\n<ol>",
                escape(&a.conclusion),
                escape(&a.assessed_by),
                a.assessed_at
            ));
            for reason in a.body["reasons"].as_array().into_iter().flatten() {
                h.push_str(&format!("<li>{}</li>", escape(reason.as_str().unwrap_or(""))));
            }
            h.push_str("</ol>\n");
        }
    }

    h.push_str("<h2>Notifications</h2>\n<table><tr><th>Notice</th><th>Due</th><th>Status</th><th>Basis</th></tr>");
    for d in &report.deadlines {
        let mut notice = d.kind.clone();
        if !d.jurisdiction.is_empty() {
            notice.push_str(&format!(" ({})", d.jurisdiction));
        }
        let mut status = status_text(status_of(d.due_on, report.as_of, d.notified_on));
        if let Some(window) = posting(d) {
            status.push_str(&format!("; {window}"));
        }
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}: {}</td></tr>",
            escape(&notice),
            d.due_on,
            escape(&status),
            escape(&d.citation),
            escape(&d.explanation)
        ));
    }
    h.push_str("</table>\n");
    if report
        .deadlines
        .iter()
        .any(|d| d.kind == NoticeKind::SubstituteNotice.as_str())
    {
        h.push_str(&format!(
            "<p>Substitute notice (45 CFR 164.404(d)(2)(ii)): a conspicuous posting on the home page of the web site for {SUBSTITUTE_POSTING_DAYS} days, or notice in major print or broadcast media where the individuals likely live, with a toll-free number active for at least {SUBSTITUTE_POSTING_DAYS} days.</p>\n"
        ));
    }

    h.push_str(&format!(
        "<h2>Evidence</h2>\n<p>{} custody entries in the hash chain.</p>\n<table><tr><th>#</th><th>Name</th><th>Bytes</th><th>SHA-256</th><th>Added</th></tr>",
        report.custody_entries
    ));
    for e in &report.evidence {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{} by {}</td></tr>",
            e.id,
            escape(&e.name),
            e.size,
            hex(&e.sha256),
            e.added_at,
            escape(&e.added_by)
        ));
    }
    h.push_str("</table>\n");

    h.push_str("<h2>Tasks</h2>\n<table><tr><th>#</th><th>Phase</th><th>Task</th><th>Role</th><th>Assignee</th><th>Status</th></tr>");
    for t in &report.tasks {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            t.order,
            escape(&t.phase),
            escape(&t.title),
            escape(&t.role),
            escape(t.assignee.as_deref().unwrap_or("")),
            t.status.as_str()
        ));
    }
    h.push_str("</table>\n");

    h.push_str("<h2>Timeline</h2>\n<table><tr><th>When</th><th>Who</th><th>What</th></tr>");
    for entry in &report.timeline {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}: {}</td></tr>",
            entry.at,
            escape(&entry.actor),
            entry.kind.as_str(),
            escape(&entry.text)
        ));
    }
    h.push_str("</table>\n</body></html>\n");
    h
}
