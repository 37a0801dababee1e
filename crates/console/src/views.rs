//! What pages and API answers show, gathered once for both: alert lists with their filters,
//! the overview's figures, event searches and timelines. Runs on blocking threads; masking
//! and auditing happen at the edge (pages, API), where the caller is known.

use crate::ConsoleError;
use crate::charts::SEVERITIES;
use serde::Deserialize;
use std::collections::HashMap;
use ward_model::{Alert, AlertStatus, Event, Severity, Timestamp};
use ward_store::{AlertQuery, EventQuery, SourceState, Store};

/// Alerts listed at most per page or answer.
pub(crate) const ALERT_LIMIT: usize = 500;
/// Events listed at most per search or timeline.
pub(crate) const EVENT_LIMIT: usize = 200;
const DAY_MS: i64 = 86_400_000;

/// Alert list filters, from a query string.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct AlertFilter {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub rule: Option<String>,
    #[serde(default)]
    pub entity: Option<String>,
    /// `last_seen` (default), `severity`, `count`, `first_seen`.
    #[serde(default)]
    pub sort: Option<String>,
    #[serde(default)]
    pub limit: Option<usize>,
    /// Pages only: `none` (default), `rule` or `entity`; see [`Grouping`]. The JSON API
    /// ignores it, as it ignores any parameter it does not know.
    #[serde(default)]
    pub group: Option<String>,
}

/// How the alerts page folds its list: an analyst facing hundreds of alerts wants to see
/// first which rules fire and which users, hosts or patients keep coming back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Grouping {
    None,
    Rule,
    Entity,
}

impl Grouping {
    pub const CHOICES: [(&'static str, &'static str); 3] =
        [("none", "none"), ("rule", "rule"), ("entity", "entity")];

    pub fn parse(value: &Option<String>) -> Result<Self, ConsoleError> {
        match blank_is_none(value) {
            None | Some("none") => Ok(Self::None),
            Some("rule") => Ok(Self::Rule),
            Some("entity") => Ok(Self::Entity),
            Some(_) => Err(ConsoleError::BadRequest(
                "group must be none, rule or entity".into(),
            )),
        }
    }
}

/// Alerts folded by rule or by entity value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AlertGroup {
    /// The rule id, or the entity value.
    pub key: String,
    /// The rule's title (from its newest alert), or the kinds the value was named as
    /// ("user", "src_ip, dst_ip").
    pub label: String,
    /// Alerts in the group (not the sum of their repeat counts).
    pub alerts: u64,
    pub severity: Severity,
    pub last_seen: Timestamp,
}

/// Folds `alerts` (already masked, so masked patients fold by pseudonym) into groups, the
/// largest first, then the most recent. An alert naming one value under two kinds (a host that
/// is also the device) counts once for it, as the `entity` filter the group links to would list
/// it once.
pub(crate) fn group_alerts(alerts: &[Alert], grouping: Grouping) -> Vec<AlertGroup> {
    struct Acc {
        labels: Vec<String>,
        label_seen: Timestamp,
        alerts: u64,
        severity: Severity,
        last_seen: Timestamp,
    }
    let mut groups: HashMap<String, Acc> = HashMap::new();
    let mut add = |key: &str, labels: &[&str], alert: &Alert| {
        let acc = groups.entry(key.to_string()).or_insert_with(|| Acc {
            labels: Vec::new(),
            label_seen: alert.last_seen,
            alerts: 0,
            severity: alert.severity,
            last_seen: alert.last_seen,
        });
        acc.alerts += 1;
        if severity_rank(alert.severity) > severity_rank(acc.severity) {
            acc.severity = alert.severity;
        }
        acc.last_seen = acc.last_seen.max(alert.last_seen);
        match grouping {
            // The newest alert's title names the rule as it reads today.
            Grouping::Rule => {
                if acc.labels.is_empty() || alert.last_seen > acc.label_seen {
                    acc.labels = labels.iter().map(|l| l.to_string()).collect();
                    acc.label_seen = alert.last_seen;
                }
            }
            _ => {
                for label in labels {
                    if !acc.labels.iter().any(|l| l == label) {
                        acc.labels.push(label.to_string());
                    }
                }
            }
        }
    };
    for alert in alerts {
        match grouping {
            Grouping::None => {}
            Grouping::Rule => add(&alert.rule_id, &[alert.title.as_str()], alert),
            Grouping::Entity => {
                let mut named: Vec<(&str, Vec<&str>)> = Vec::new();
                for (kind, value) in entities(alert) {
                    match named.iter_mut().find(|(v, _)| *v == value) {
                        Some((_, kinds)) => kinds.push(kind),
                        None => named.push((value, vec![kind])),
                    }
                }
                for (value, kinds) in named {
                    add(value, &kinds, alert);
                }
            }
        }
    }
    let mut out: Vec<AlertGroup> = groups
        .into_iter()
        .map(|(key, acc)| AlertGroup {
            key,
            label: acc.labels.join(", "),
            alerts: acc.alerts,
            severity: acc.severity,
            last_seen: acc.last_seen,
        })
        .collect();
    out.sort_by(|a, b| {
        b.alerts
            .cmp(&a.alerts)
            .then_with(|| b.last_seen.cmp(&a.last_seen))
            .then_with(|| a.key.cmp(&b.key))
    });
    out
}

/// Severity for "highest": `Other` and `Unknown` rank as informational, `Fatal` as critical,
/// as the overview's counts place them; within a rank `Fatal` and `Informational` win, so the
/// group's severity does not depend on the order alerts were read in.
fn severity_rank(severity: Severity) -> (usize, bool) {
    (
        severity_index(severity),
        matches!(severity, Severity::Fatal | Severity::Informational),
    )
}

fn blank_is_none(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl AlertFilter {
    pub fn to_query(&self) -> Result<AlertQuery, ConsoleError> {
        let status = match blank_is_none(&self.status) {
            None | Some("all") => None,
            Some(s) => Some(AlertStatus::parse(s).ok_or_else(|| {
                ConsoleError::BadRequest("status must be open, acknowledged or closed".into())
            })?),
        };
        let severity = match blank_is_none(&self.severity) {
            None => None,
            Some(s) => Some(
                Severity::parse(s)
                    .ok_or_else(|| ConsoleError::BadRequest("unknown severity".into()))?,
            ),
        };
        Ok(AlertQuery {
            status,
            severity,
            rule_id: blank_is_none(&self.rule).map(String::from),
            entity: blank_is_none(&self.entity).map(String::from),
            limit: Some(self.limit.unwrap_or(ALERT_LIMIT).min(ALERT_LIMIT)),
            ..Default::default()
        })
    }
}

/// Alerts for a filter, sorted as asked.
pub(crate) fn alerts(store: &dyn Store, filter: &AlertFilter) -> Result<Vec<Alert>, ConsoleError> {
    let mut alerts = store.list_alerts(&filter.to_query()?)?;
    match blank_is_none(&filter.sort) {
        None | Some("last_seen") => {}
        Some("severity") => alerts.sort_by_key(|a| std::cmp::Reverse(a.severity)),
        Some("count") => alerts.sort_by_key(|a| std::cmp::Reverse(a.count)),
        Some("first_seen") => alerts.sort_by_key(|a| std::cmp::Reverse(a.first_seen)),
        Some(_) => return Err(ConsoleError::BadRequest("unknown sort".into())),
    }
    Ok(alerts)
}

/// Event search parameters, from a query string (times as RFC 3339 or dates).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct EventSearch {
    #[serde(default)]
    pub since: Option<String>,
    #[serde(default)]
    pub until: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub patient: Option<String>,
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub limit: Option<usize>,
}

impl EventSearch {
    pub fn is_empty(&self) -> bool {
        [
            &self.since,
            &self.until,
            &self.user,
            &self.patient,
            &self.ip,
            &self.host,
        ]
        .iter()
        .all(|v| blank_is_none(v).is_none())
    }

    pub fn to_query(&self) -> Result<EventQuery, ConsoleError> {
        let time = |v: &Option<String>, what: &str| -> Result<Option<Timestamp>, ConsoleError> {
            match blank_is_none(v) {
                None => Ok(None),
                Some(t) => Timestamp::parse(t).map(Some).ok_or_else(|| {
                    ConsoleError::BadRequest(format!("{what} must be a date or an RFC 3339 time"))
                }),
            }
        };
        Ok(EventQuery {
            since: time(&self.since, "since")?,
            until: time(&self.until, "until")?,
            user: blank_is_none(&self.user).map(String::from),
            patient: blank_is_none(&self.patient).map(String::from),
            src_ip: blank_is_none(&self.ip).map(String::from),
            host: blank_is_none(&self.host).map(String::from),
            limit: Some(self.limit.unwrap_or(EVENT_LIMIT).min(EVENT_LIMIT)),
            ..Default::default()
        })
    }
}

/// The kinds of entity with a timeline.
pub(crate) fn timeline_query(kind: &str, value: &str) -> Result<EventQuery, ConsoleError> {
    let mut query = EventQuery {
        limit: Some(EVENT_LIMIT),
        ..Default::default()
    };
    let value = Some(value.to_string());
    match kind {
        "user" => query.user = value,
        "patient" => query.patient = value,
        "ip" => query.src_ip = value,
        "host" => query.host = value,
        _ => return Err(ConsoleError::NotFound),
    }
    Ok(query)
}

/// One source on the overview and sources pages.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct SourceRow {
    pub name: String,
    pub events: u64,
    pub quarantined: u64,
    pub last_event_time: Option<Timestamp>,
    /// Nothing delivered for longer than the configured silence.
    pub silent: bool,
}

pub(crate) fn sources(
    store: &dyn Store,
    now: Timestamp,
    silent_after_ms: i64,
) -> Result<Vec<SourceRow>, ConsoleError> {
    Ok(store
        .sources()?
        .into_iter()
        .map(|s: SourceState| {
            let last = s.last_event_time.unwrap_or(s.updated_at);
            SourceRow {
                silent: now.millis() - last.millis() > silent_after_ms,
                name: s.source,
                events: s.events,
                quarantined: s.quarantined,
                last_event_time: s.last_event_time,
            }
        })
        .collect())
}

/// The overview's figures.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Overview {
    /// Open alerts per severity, informational to critical.
    pub open_by_severity: [u64; 5],
    pub open_total: u64,
    /// New alerts per day (by first seen) over the last two weeks, per severity.
    pub trend: Vec<(String, [u64; 5])>,
    /// Entities named by the most open alerts: (kind, value, alerts).
    pub top_entities: Vec<(String, String, u64)>,
    pub sources: Vec<SourceRow>,
    pub events: u64,
    pub alerts: u64,
    pub quarantined: u64,
}

/// Alerts read for the overview's counts at most; beyond it, the counts say "at least".
const OVERVIEW_ALERTS: usize = 20_000;
const TREND_DAYS: i64 = 14;

pub(crate) fn severity_index(severity: Severity) -> usize {
    match severity {
        Severity::Unknown | Severity::Informational | Severity::Other => 0,
        Severity::Low => 1,
        Severity::Medium => 2,
        Severity::High => 3,
        Severity::Critical | Severity::Fatal => 4,
    }
}

pub(crate) fn overview(
    store: &dyn Store,
    now: Timestamp,
    silent_after_ms: i64,
) -> Result<Overview, ConsoleError> {
    let stats = store.stats()?;
    let open = store.list_alerts(&AlertQuery {
        status: Some(AlertStatus::Open),
        limit: Some(OVERVIEW_ALERTS),
        ..Default::default()
    })?;
    let mut open_by_severity = [0u64; 5];
    let mut entity_counts: HashMap<(&'static str, String), u64> = HashMap::new();
    for alert in &open {
        open_by_severity[severity_index(alert.severity)] += 1;
        for (kind, value) in entities(alert) {
            *entity_counts.entry((kind, value.to_string())).or_default() += 1;
        }
    }
    let mut top_entities: Vec<(String, String, u64)> = entity_counts
        .into_iter()
        .map(|((k, v), n)| (k.to_string(), v, n))
        .collect();
    top_entities.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.1.cmp(&b.1)));
    top_entities.truncate(10);

    let today = now.millis().div_euclid(DAY_MS);
    let first_day = today - (TREND_DAYS - 1);
    let recent = store.list_alerts(&AlertQuery {
        since: Some(Timestamp(first_day * DAY_MS)),
        limit: Some(OVERVIEW_ALERTS),
        ..Default::default()
    })?;
    let mut trend: Vec<(String, [u64; 5])> = (first_day..=today)
        .map(|d| {
            let date = Timestamp(d * DAY_MS).to_rfc3339();
            (date.get(..10).unwrap_or(&date).to_string(), [0; 5])
        })
        .collect();
    for alert in &recent {
        let day = alert.first_seen.millis().div_euclid(DAY_MS).max(first_day);
        if let Some((_, counts)) = usize::try_from(day - first_day)
            .ok()
            .and_then(|i| trend.get_mut(i))
        {
            counts[severity_index(alert.severity)] += 1;
        }
    }
    Ok(Overview {
        open_total: open.len() as u64,
        open_by_severity,
        trend,
        top_entities,
        sources: sources(store, now, silent_after_ms)?,
        events: stats.events,
        alerts: stats.alerts,
        quarantined: stats.quarantined,
    })
}

/// An alert's entities as (kind, value), in a fixed order.
pub(crate) fn entities(alert: &Alert) -> Vec<(&'static str, &str)> {
    let e = &alert.entities;
    [
        ("user", &e.user),
        ("patient", &e.patient),
        ("src_ip", &e.src_ip),
        ("dst_ip", &e.dst_ip),
        ("host", &e.host),
        ("device", &e.device),
        ("sender", &e.sender),
        ("recipient", &e.recipient),
        ("vendor", &e.vendor),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
    .collect()
}

/// The timeline kind an entity kind links to, when it has one.
pub(crate) fn timeline_kind(entity_kind: &str) -> Option<&'static str> {
    match entity_kind {
        "user" => Some("user"),
        "patient" => Some("patient"),
        "src_ip" | "dst_ip" => Some("ip"),
        "host" | "device" => Some("host"),
        _ => None,
    }
}

/// The severity names, for filters.
pub(crate) fn severity_names() -> Vec<&'static str> {
    SEVERITIES.iter().rev().copied().collect()
}

/// Events of an alert, newest first.
pub(crate) fn alert_evidence(
    store: &dyn Store,
    alert_id: &str,
    limit: usize,
) -> Result<Vec<Event>, ConsoleError> {
    let ids = store.alert_events(alert_id, limit)?;
    let mut events = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(event) = store.get_event(&id)? {
            events.push(event);
        }
    }
    Ok(events)
}

/// Alerts of one status read at most to build the privacy cases or the open-alert counts per
/// rule; beyond it the answer says it is incomplete rather than quietly under-counting.
pub(crate) const CASE_ALERTS: usize = 20_000;

/// Rule ids of the privacy detector start with this.
pub(crate) const PRIVACY_RULE_PREFIX: &str = "privacy.";

/// One privacy case: the open and acknowledged privacy alerts of one workforce member.
#[derive(Debug, Clone)]
pub(crate) struct PrivacyCase {
    /// The user the alerts name; `None` for alerts that name nobody (bulk exports by an
    /// unknown account), kept together as one case.
    pub user: Option<String>,
    /// Most severe first, then most recent.
    pub alerts: Vec<Alert>,
    /// Patients the alerts name, unmasked (mask at the edge), sorted.
    pub patients: Vec<String>,
    pub severity: Severity,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// Accesses in all: the sum of the alerts' counts.
    pub accesses: u64,
}

/// Most severe first, then the most recently seen. Severities compare by
/// [`severity_index`], so `other` and `unknown` rank with informational, not above critical.
fn most_severe_then_recent(
    a: (Severity, Timestamp),
    b: (Severity, Timestamp),
) -> std::cmp::Ordering {
    severity_index(b.0)
        .cmp(&severity_index(a.0))
        .then(b.1.cmp(&a.1))
}

/// The privacy officer's work list: open and acknowledged alerts of the privacy detector,
/// one case per user, most severe and most recent first. The flag says whether an alert list
/// hit [`CASE_ALERTS`], so cases may be missing alerts.
pub(crate) fn privacy_cases(store: &dyn Store) -> Result<(Vec<PrivacyCase>, bool), ConsoleError> {
    let mut truncated = false;
    let mut by_user: HashMap<Option<String>, Vec<Alert>> = HashMap::new();
    for status in [AlertStatus::Open, AlertStatus::Acknowledged] {
        let listed = store.list_alerts(&AlertQuery {
            status: Some(status),
            limit: Some(CASE_ALERTS),
            ..Default::default()
        })?;
        truncated |= listed.len() >= CASE_ALERTS;
        for alert in listed {
            if alert.rule_id.starts_with(PRIVACY_RULE_PREFIX) {
                by_user
                    .entry(alert.entities.user.clone())
                    .or_default()
                    .push(alert);
            }
        }
    }
    let mut cases: Vec<PrivacyCase> = by_user
        .into_iter()
        .filter_map(|(user, mut alerts)| {
            alerts.sort_by(|a, b| {
                most_severe_then_recent((a.severity, a.last_seen), (b.severity, b.last_seen))
                    .then_with(|| a.id.cmp(&b.id))
            });
            let first = alerts.first()?;
            let mut patients: Vec<String> = alerts
                .iter()
                .filter_map(|a| a.entities.patient.clone())
                .collect();
            patients.sort();
            patients.dedup();
            Some(PrivacyCase {
                severity: first.severity,
                first_seen: alerts.iter().map(|a| a.first_seen).min()?,
                last_seen: alerts.iter().map(|a| a.last_seen).max()?,
                accesses: alerts.iter().map(|a| a.count).sum(),
                user,
                patients,
                alerts,
            })
        })
        .collect();
    cases.sort_by(|a, b| {
        most_severe_then_recent((a.severity, a.last_seen), (b.severity, b.last_seen))
            .then_with(|| a.user.cmp(&b.user))
    });
    Ok((cases, truncated))
}

/// Open alerts per rule id. The flag says whether the count hit [`CASE_ALERTS`], so counts
/// are lower bounds.
pub(crate) fn open_alerts_by_rule(
    store: &dyn Store,
) -> Result<(HashMap<String, u64>, bool), ConsoleError> {
    let open = store.list_alerts(&AlertQuery {
        status: Some(AlertStatus::Open),
        limit: Some(CASE_ALERTS),
        ..Default::default()
    })?;
    let truncated = open.len() >= CASE_ALERTS;
    let mut counts: HashMap<String, u64> = HashMap::new();
    for alert in open {
        *counts.entry(alert.rule_id).or_default() += 1;
    }
    Ok((counts, truncated))
}
