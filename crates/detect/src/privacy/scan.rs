//! A privacy scan over history: the privacy detector run over a period's audit events, oldest
//! first, with its findings folded into alerts (as the engine would store them) and ranked for
//! the privacy officer, beside the figures that say how much of the period was explained and
//! by which template. Used by `ward privacy scan` and `ward bench privacy`; nothing is stored.

use super::{PrivacyDetector, PrivacyOptions, PrivacyStats};
use crate::engine::{Detector, Finding};
use std::collections::HashMap;
use ward_model::{Alert, ContextResource, Event, Timestamp};

/// An alert of the scan and how many events it names.
#[derive(Debug, Clone)]
pub struct ScanAlert {
    pub alert: Alert,
    pub evidence: usize,
}

/// What a scan found.
#[derive(Debug, Clone)]
pub struct ScanReport {
    /// Most severe first, then oldest first.
    pub alerts: Vec<ScanAlert>,
    pub stats: PrivacyStats,
    /// Learned templates in force at the end, as (user's department, patient's department).
    pub learned: Vec<(String, String)>,
    /// Events handed to the scan (of any kind; only accesses to records are assessed).
    pub events: u64,
}

/// The privacy detector over a stream of events, collecting its findings.
pub struct PrivacyScan {
    detector: PrivacyDetector,
    alerts: HashMap<String, ScanAlert>,
    findings: Vec<Finding>,
    events: u64,
    last: Option<Timestamp>,
}

impl PrivacyScan {
    pub fn new(options: PrivacyOptions) -> Self {
        PrivacyScan {
            detector: PrivacyDetector::new(options),
            alerts: HashMap::new(),
            findings: Vec::new(),
            events: 0,
            last: None,
        }
    }

    /// Organisation context: staff, departments, patients, encounters, care teams.
    pub fn context(&mut self, resources: &[ContextResource]) {
        self.detector.context(resources);
    }

    /// One event, in time order.
    pub fn observe(&mut self, event: &Event) {
        self.events += 1;
        self.last = Some(self.last.map_or(event.time, |t| t.max(event.time)));
        self.detector.observe(event, &mut self.findings);
        self.fold();
    }

    /// Concludes what the end of the period decides (accesses held for the sweep window,
    /// break-the-glass awaiting follow-up) and ranks the alerts.
    pub fn finish(mut self, end: Option<Timestamp>) -> ScanReport {
        let end = end.or(self.last).unwrap_or(Timestamp(0));
        // Far enough past the end for every window to close.
        self.detector.advance(
            Timestamp(end.millis().saturating_add(2 * 86_400_000)),
            &mut self.findings,
        );
        self.fold();
        let mut alerts: Vec<ScanAlert> = self.alerts.into_values().collect();
        alerts.sort_by(|a, b| {
            b.alert
                .severity
                .cmp(&a.alert.severity)
                .then(a.alert.first_seen.cmp(&b.alert.first_seen))
                .then(a.alert.id.cmp(&b.alert.id))
        });
        ScanReport {
            alerts,
            stats: self.detector.stats(),
            learned: self.detector.learned_templates(),
            events: self.events,
        }
    }

    fn fold(&mut self) {
        for f in self.findings.drain(..) {
            match self.alerts.get_mut(&f.alert.id) {
                Some(seen) => {
                    let a = &mut seen.alert;
                    a.first_seen = a.first_seen.min(f.alert.first_seen);
                    a.last_seen = a.last_seen.max(f.alert.last_seen);
                    a.count = a.count.saturating_add(f.alert.count);
                    a.severity = a.severity.max(f.alert.severity);
                    if a.entities.patient.is_none() {
                        a.entities.patient = f.alert.entities.patient;
                    }
                    seen.evidence += f.events.len();
                }
                None => {
                    let evidence = f.events.len();
                    self.alerts.insert(
                        f.alert.id.clone(),
                        ScanAlert {
                            alert: f.alert,
                            evidence,
                        },
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_model::event::{Severity, api_activity, class};

    fn access(n: u32, user: &str, patient: &str, t: i64) -> Event {
        let mut e = Event::from_record("fhir", Timestamp(t), format!("{n}").into_bytes());
        e.class_uid = class::API_ACTIVITY;
        e.activity_id = api_activity::READ;
        e.metadata.event_code = Some("read".into());
        e.actor.user.name = Some(user.into());
        e.patient.id = Some(patient.into());
        e
    }

    #[test]
    fn findings_fold_into_ranked_alerts_and_the_end_of_the_period_concludes_held_accesses() {
        let mut scan = PrivacyScan::new(PrivacyOptions::default());
        scan.context(&[ContextResource {
            kind: ward_model::ContextKind::PractitionerRole,
            id: "roster-u1".into(),
            summary: ward_model::ContextSummary::Employment {
                login: "u1".into(),
                name: Default::default(),
                department: None,
                role: Some("nurse".into()),
                hired: None,
                terminated: Some(Timestamp(0)),
                status: ward_model::context::EmploymentStatus::Terminated,
                leave_start: None,
                leave_end: None,
            },
            raw: Vec::new(),
        }]);
        // A terminated account (critical at once) and an unknown patient read twice.
        scan.observe(&access(1, "u1", "nobody", 1_000));
        scan.observe(&access(2, "u1", "nobody", 2_000));
        let report = scan.finish(None);
        assert_eq!(report.events, 2);
        assert_eq!(report.stats.accesses, 2);
        let rules: Vec<&str> = report
            .alerts
            .iter()
            .map(|a| a.alert.rule_id.as_str())
            .collect();
        assert_eq!(
            rules,
            vec!["privacy.terminated_user", "privacy.unexplained_access"]
        );
        assert_eq!(report.alerts[0].alert.severity, Severity::Critical);
        assert_eq!(report.alerts[0].alert.count, 2);
        assert_eq!(report.alerts[0].evidence, 2);
        assert_eq!(
            report.alerts[1].alert.count, 2,
            "one alert per user, patient and day"
        );
    }
}
