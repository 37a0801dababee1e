//! Breach-notification deadlines as alerts, so that they reach people through the same
//! channels, on-call and escalation as any alert: one alert when a notice falls due within
//! [`DUE_SOON_DAYS`](crate::deadlines::DUE_SOON_DAYS) (high), another when it is overdue
//! (critical). Ids are stable per deadline and stage, so checking again raises nothing new.
//!
//! Alerts name the incident by number and the notice by kind, never the incident's title or
//! any patient: they go to channels that may not be approved for PHI.

use crate::deadlines::DeadlineStatus;
use chrono::NaiveDate;
use ward_model::{Alert, AlertEntities, AlertStatus, Severity, Timestamp};
use ward_store::incidents::PendingDeadline;

pub const DUE_SOON_RULE: &str = "ward.incident.deadline_due_soon";
pub const OVERDUE_RULE: &str = "ward.incident.deadline_overdue";

/// The alerts the deadline board owes: one per notice due soon or overdue.
pub fn deadline_alerts(board: &[(PendingDeadline, DeadlineStatus)]) -> Vec<Alert> {
    board
        .iter()
        .filter_map(|(pending, status)| {
            let (rule, severity, stage, when) = match status {
                DeadlineStatus::Overdue { days } => (
                    OVERDUE_RULE,
                    Severity::Critical,
                    "overdue",
                    format!("{days} day{} overdue", if *days == 1 { "" } else { "s" }),
                ),
                DeadlineStatus::DueSoon { days_left } => (
                    DUE_SOON_RULE,
                    Severity::High,
                    "due-soon",
                    match days_left {
                        0 => "due today".to_string(),
                        1 => "due tomorrow".to_string(),
                        n => format!("due in {n} days"),
                    },
                ),
                DeadlineStatus::Met { .. } | DeadlineStatus::Upcoming { .. } => return None,
            };
            let d = &pending.deadline;
            let notice = notice_name(&d.kind, &d.jurisdiction);
            let at = midnight(d.due_on);
            Some(Alert {
                id: format!(
                    "incident-{}-{}-{}-{stage}",
                    pending.incident_id,
                    slug(&d.kind),
                    slug(&d.jurisdiction)
                ),
                rule_id: rule.into(),
                title: format!(
                    "Breach notice {when}: {notice} for incident {}",
                    pending.incident_id
                ),
                severity,
                first_seen: at,
                last_seen: at,
                count: 1,
                entities: AlertEntities::default(),
                attack: Vec::new(),
                hipaa: vec![d.citation.clone()],
                status: AlertStatus::Open,
                author: None,
                license: None,
                references: Vec::new(),
                description: Some(format!(
                    "Incident {} owes {notice} by {} under {} ({}). Give the notice and record \
                     it on the incident in Ward; a law-enforcement delay, if one was requested, \
                     is recorded there too.",
                    pending.incident_id, d.due_on, d.citation, d.explanation
                )),
            })
        })
        .collect()
}

fn notice_name(kind: &str, jurisdiction: &str) -> String {
    let what = match kind {
        "individuals" => "notice to the affected individuals",
        "media" => "notice to the media",
        "hhs" => "notice to HHS",
        "hhs_annual_log" => "the annual breach log to HHS",
        "covered_entity" => "the business associate's notice to the covered entity",
        "substitute_notice" => "the substitute notice (web posting or media, toll-free number)",
        "alternative_notice" => "the alternative notice to individuals who could not be reached",
        other => other,
    };
    if jurisdiction.is_empty() {
        what.to_string()
    } else {
        format!("{what} in {jurisdiction}")
    }
}

fn slug(text: &str) -> String {
    let slug: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    if slug.is_empty() { "-".into() } else { slug }
}

fn midnight(date: NaiveDate) -> Timestamp {
    Timestamp(
        date.and_hms_opt(0, 0, 0)
            .unwrap_or_default()
            .and_utc()
            .timestamp_millis(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_store::incidents::DeadlineRecord;

    fn pending(kind: &str, jurisdiction: &str) -> PendingDeadline {
        PendingDeadline {
            incident_id: 7,
            incident_title: "Neighbour's record opened by Ann Example".into(),
            deadline: DeadlineRecord {
                kind: kind.into(),
                jurisdiction: jurisdiction.into(),
                due_on: NaiveDate::from_ymd_opt(2027, 1, 26).unwrap(),
                citation: "45 CFR 164.404(b)".into(),
                explanation: "60 days after discovery on 2026-11-27".into(),
                notified_on: None,
                notified_by: None,
            },
        }
    }

    #[test]
    fn due_soon_and_overdue_notices_become_alerts_with_stable_ids() {
        let board = vec![
            (
                pending("individuals", ""),
                DeadlineStatus::DueSoon { days_left: 3 },
            ),
            (
                pending("media", "New York"),
                DeadlineStatus::Overdue { days: 1 },
            ),
            (
                pending("hhs", ""),
                DeadlineStatus::Upcoming { days_left: 40 },
            ),
        ];
        let alerts = deadline_alerts(&board);
        assert_eq!(alerts.len(), 2);
        assert_eq!(alerts[0].id, "incident-7-individuals---due-soon");
        assert_eq!(alerts[0].severity, Severity::High);
        assert_eq!(alerts[0].rule_id, DUE_SOON_RULE);
        assert!(
            alerts[0].title.contains("due in 3 days"),
            "{}",
            alerts[0].title
        );
        assert_eq!(alerts[1].id, "incident-7-media-new-york-overdue");
        assert_eq!(alerts[1].severity, Severity::Critical);
        assert!(alerts[1].title.contains("notice to the media in New York"));
        assert_eq!(alerts[1].hipaa, ["45 CFR 164.404(b)"]);
        // The same board again gives the same alerts: nothing new to announce.
        assert_eq!(deadline_alerts(&board), alerts);
        // Never the incident's title (free text that may name someone).
        for a in &alerts {
            assert!(!a.title.contains("Ann Example"));
            assert!(
                !a.description
                    .as_deref()
                    .unwrap_or_default()
                    .contains("Ann Example")
            );
        }
    }
}
