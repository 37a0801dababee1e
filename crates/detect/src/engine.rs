//! The shape every detector has, and the engine that runs them on the stream of stored events.
//!
//! A detector sees each newly stored event once, in commit order, and the organisation's
//! context as it arrives; it concludes [`Finding`]s: an alert (the contract shape of
//! `ward alerts --json`) and the ids of the events that are its evidence. The engine turns
//! findings into alert upserts; the caller (the pipeline) writes them to the store after the
//! events' own batch committed, so an alert never names an event that is not stored.
//!
//! Detectors do no IO and read no clock: time is the events' time, passed on by
//! [`Detector::advance`], so replaying a file gives the same alerts as the live stream did.

use ward_model::{Alert, ContextResource, Event, EventId, Timestamp};

/// What a detector concluded: an alert and the events that are its evidence.
///
/// Findings with the same `alert.id` are the same alert seen again: the engine keeps the
/// earliest `first_seen`, the latest `last_seen`, adds up `count`, and links every evidence
/// event. The alert's workflow status (acknowledged, closed, assignee) belongs to people and
/// is never changed by a finding.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub alert: Alert,
    pub events: Vec<EventId>,
}

/// One detector: Sigma rules, a correlation, the privacy analytics, a threat analytic.
pub trait Detector: Send {
    /// Stable name (`sigma`, `privacy`, `credential` …), shown on the console's rules page.
    fn name(&self) -> &str;

    /// Context resources as they arrive: every stored resource at start-up, then each import
    /// or ADT message. Detectors that need no context ignore it.
    fn context(&mut self, _resources: &[ContextResource]) {}

    /// One newly stored event (never a duplicate), in commit order.
    fn observe(&mut self, event: &Event, out: &mut Vec<Finding>);

    /// The stream's clock (the latest event time seen) moved to `now`: windows that closed
    /// without a further event may conclude here.
    fn advance(&mut self, _now: Timestamp, _out: &mut Vec<Finding>) {}

    /// What this detector must remember between runs (open correlation windows), so a
    /// pattern spanning two `ward ingest` runs or a restart of `ward serve` is still seen;
    /// `None` when it keeps nothing worth saving. May name users and patients: the store
    /// keeps it sealed.
    fn save_state(&self) -> Option<Vec<u8>> {
        None
    }

    /// Takes back what [`Detector::save_state`] gave, before any event. State it cannot use
    /// (unreadable, or saved by rules that changed since) is left out, and the reason is
    /// returned for the operator; the detector then starts empty for it.
    fn restore_state(&mut self, _state: &[u8]) -> Result<String, String> {
        Ok(String::new())
    }

    /// The end of a run (`ward ingest` done, `ward serve` stopping), with `end` past every
    /// hold and window. What the detector holds and will not save would be lost, so it is
    /// concluded here, as if the stream ended at `end`. By default a detector that saves
    /// nothing ([`Detector::save_state`] gives `None`) advances its clock to `end`, and one
    /// that saves its state keeps it for the next run; a detector that saves part of what it
    /// holds concludes the rest.
    fn conclude(&mut self, end: Timestamp, out: &mut Vec<Finding>) {
        if self.save_state().is_none() {
            self.advance(end, out);
        }
    }
}

/// The id of an alert: stable across runs and backends, derived from the rule, the entity key
/// the detector groups by (a user, a user and patient, a source address …) and the start of
/// the window the alert covers (a day, an hour, a correlation's timespan). 32 hex digits.
pub fn alert_id(rule_id: &str, key: &str, window_start: Timestamp) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(rule_id.as_bytes());
    hash.update([0]);
    hash.update(key.as_bytes());
    hash.update([0]);
    hash.update(window_start.millis().to_be_bytes());
    let digest = hash.finalize();
    let mut id = String::with_capacity(32);
    for byte in &digest[..16] {
        use std::fmt::Write as _;
        let _ = write!(id, "{byte:02x}");
    }
    id
}

/// `alert_id`'s form (32 hex digits) of HMAC-SHA-256 under `key`.
fn keyed_id(key: &[u8; 32], id: &str) -> String {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key) else {
        return id.to_string();
    };
    mac.update(id.as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(32);
    for byte in &digest[..16] {
        use std::fmt::Write as _;
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Alerts the engine keeps in memory by default (their cumulative state, for merging).
pub const DEFAULT_MAX_ALERTS: usize = 50_000;

/// How far past the last event [`Engine::conclude_unsaved`] moves the detectors' clock.
const END_OF_RUN: std::time::Duration = std::time::Duration::from_secs(7 * 86_400);

/// Runs every detector on each new event and merges their findings into alerts.
///
/// Findings of one alert (same id) are merged into its cumulative state: the earliest
/// `first_seen`, the latest `last_seen`, the counts added up, the entities it did not name yet
/// filled in. Each returned [`Finding`] carries that cumulative alert, ready to upsert, and
/// only the evidence events that are new since the last call. The state of at most
/// `max_alerts` alerts is kept; beyond, the least recently seen are forgotten (counted in
/// [`Engine::forgotten`]), and a later finding of a forgotten alert resumes from the stored
/// alert that the caller's lookup returns ([`Engine::observe_with`]), so counts continue
/// rather than restart. The engine does no IO itself.
pub struct Engine {
    detectors: Vec<Box<dyn Detector>>,
    alerts: std::collections::HashMap<String, Alert>,
    max_alerts: usize,
    clock: Option<Timestamp>,
    forgotten: u64,
    /// Alerts stored since the last [`Engine::drain_outbox`], for whoever delivers them to
    /// people; `None` until [`Engine::enable_outbox`].
    outbox: Option<Vec<Alert>>,
    outbox_dropped: u64,
    /// Per detector, in the order of `detectors`: time spent and events seen (metrics).
    timings: Vec<DetectorTiming>,
    /// Rules people switched off (`crate::switches`): their findings are dropped.
    disabled: std::collections::HashSet<String>,
    /// When set, alert ids are keyed with it (see [`Engine::key_alert_ids`]).
    id_key: Option<[u8; 32]>,
    /// Findings dropped because their rule is switched off.
    suppressed: u64,
}

/// What one detector has cost so far: cumulative time in `observe` and `advance`, measured
/// with the monotonic clock (for metrics only; no decision reads it), and the events it saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DetectorTiming {
    pub nanos: u64,
    pub events: u64,
}

/// Alerts the outbox holds at most between two drains; beyond, the oldest are dropped and
/// counted (they are stored all the same; only their notification is lost).
const MAX_OUTBOX: usize = 100_000;

impl Engine {
    /// The name each detector's state is saved under: its name, and `#2`, `#3`… for a later
    /// detector of the same name.
    fn state_names(&self) -> Vec<String> {
        let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        self.detectors
            .iter()
            .map(|d| {
                let n = seen.entry(d.name()).or_insert(0);
                *n += 1;
                if *n == 1 {
                    d.name().to_string()
                } else {
                    format!("{}#{n}", d.name())
                }
            })
            .collect()
    }

    /// Every detector's state worth saving, by the name to save it under.
    pub fn save_states(&self) -> Vec<(String, Vec<u8>)> {
        self.state_names()
            .into_iter()
            .zip(&self.detectors)
            .filter_map(|(name, d)| d.save_state().map(|state| (name, state)))
            .collect()
    }

    /// Gives each detector the state `load` finds under its name. Returns, per detector that
    /// had state, what it said: what it took back, or why it left the state out.
    pub fn restore_states(
        &mut self,
        load: &mut dyn FnMut(&str) -> Option<Vec<u8>>,
    ) -> Vec<(String, Result<String, String>)> {
        let names = self.state_names();
        let mut said = Vec::new();
        for (name, detector) in names.into_iter().zip(self.detectors.iter_mut()) {
            if let Some(state) = load(&name) {
                let answer = detector.restore_state(&state);
                said.push((name, answer));
            }
        }
        said
    }

    pub fn new(detectors: Vec<Box<dyn Detector>>) -> Self {
        Self::with_max_alerts(detectors, DEFAULT_MAX_ALERTS)
    }

    pub fn with_max_alerts(detectors: Vec<Box<dyn Detector>>, max_alerts: usize) -> Self {
        Engine {
            detectors,
            alerts: std::collections::HashMap::new(),
            max_alerts: max_alerts.max(1),
            clock: None,
            forgotten: 0,
            outbox: None,
            outbox_dropped: 0,
            timings: Vec::new(),
            disabled: std::collections::HashSet::new(),
            suppressed: 0,
            id_key: None,
        }
    }

    /// Keys every alert id with `key` (HMAC-SHA-256 over the detector's id, 32 hex digits).
    /// A detector's id is a plain hash of the rule, the entity and the window, and an entity
    /// may be a patient: without a key, anyone holding a copy of the store could confirm
    /// which patient an alert concerns by hashing candidate record numbers. A store that
    /// encrypts PHI derives the key from its own keys, so ids stay the same across runs.
    pub fn key_alert_ids(&mut self, key: [u8; 32]) {
        self.id_key = Some(key);
    }

    /// The rules whose findings are dropped from now on (replacing the earlier set).
    pub fn set_disabled_rules(&mut self, rules: std::collections::HashSet<String>) {
        self.disabled = rules;
    }

    /// Findings dropped so far because their rule was switched off.
    pub fn suppressed(&self) -> u64 {
        self.suppressed
    }

    /// Keeps the alerts posted with [`Engine::post`] until drained (notifications).
    pub fn enable_outbox(&mut self) {
        self.outbox.get_or_insert_with(Vec::new);
    }

    /// Records alerts the caller stored, when the outbox is enabled.
    pub fn post(&mut self, alerts: impl IntoIterator<Item = Alert>) {
        if let Some(outbox) = &mut self.outbox {
            outbox.extend(alerts);
            if outbox.len() > MAX_OUTBOX {
                let excess = outbox.len() - MAX_OUTBOX;
                outbox.drain(..excess);
                self.outbox_dropped += excess as u64;
            }
        }
    }

    /// The alerts posted since the last drain, oldest first, and how many were dropped
    /// because the outbox was full (since the engine started).
    pub fn drain_outbox(&mut self) -> (Vec<Alert>, u64) {
        let alerts = self.outbox.as_mut().map(std::mem::take).unwrap_or_default();
        (alerts, self.outbox_dropped)
    }

    pub fn detector_names(&self) -> Vec<&str> {
        self.detectors.iter().map(|d| d.name()).collect()
    }

    /// Each detector's name with its cumulative time and event count since the engine started.
    pub fn detector_timings(&self) -> Vec<(&str, DetectorTiming)> {
        self.detectors
            .iter()
            .enumerate()
            .map(|(i, d)| (d.name(), self.timings.get(i).copied().unwrap_or_default()))
            .collect()
    }

    /// Hands context resources to every detector.
    pub fn context(&mut self, resources: &[ContextResource]) {
        for detector in &mut self.detectors {
            detector.context(resources);
        }
    }

    /// Runs the detectors over `events` (new events, in commit order), then moves their clock
    /// to the latest event time seen; returns one finding per alert concluded or updated.
    pub fn observe(&mut self, events: &[Event]) -> Vec<Finding> {
        self.observe_with(events, &mut |_| None)
    }

    /// As [`Engine::observe`]; `stored` looks up an alert this engine holds no state for (one
    /// from an earlier run, or forgotten), so its counts continue from what is stored.
    pub fn observe_with(
        &mut self,
        events: &[Event],
        stored: &mut dyn FnMut(&str) -> Option<Alert>,
    ) -> Vec<Finding> {
        let mut raw = Vec::new();
        self.timings
            .resize(self.detectors.len(), DetectorTiming::default());
        // One clock read per detector call: each call ends where the next one's time starts.
        let mut mark = std::time::Instant::now();
        let mut lap = |timing: &mut DetectorTiming| {
            let now = std::time::Instant::now();
            let spent = u64::try_from(now.duration_since(mark).as_nanos()).unwrap_or(u64::MAX);
            timing.nanos = timing.nanos.saturating_add(spent);
            mark = now;
        };
        for event in events {
            for (detector, timing) in self.detectors.iter_mut().zip(&mut self.timings) {
                detector.observe(event, &mut raw);
                timing.events += 1;
                lap(timing);
            }
            self.clock = Some(self.clock.map_or(event.time, |c| c.max(event.time)));
        }
        if let (Some(now), false) = (self.clock, events.is_empty()) {
            for (detector, timing) in self.detectors.iter_mut().zip(&mut self.timings) {
                detector.advance(now, &mut raw);
                lap(timing);
            }
        }
        self.fold(raw, stored)
    }

    /// The end of a run (`ward ingest` done, `ward serve` stopping). A detector that keeps
    /// nothing between runs ([`Detector::save_state`] gives `None`) would lose what it holds
    /// (accesses the privacy analytics hold back while a pattern may still be learned, windows
    /// still open), so it concludes it now, as if the stream had ended here; a detector that
    /// saves its state keeps it for the next run. Returns the findings as
    /// [`Engine::observe_with`] does. The engine is not meant to observe events after this.
    pub fn conclude_unsaved(
        &mut self,
        stored: &mut dyn FnMut(&str) -> Option<Alert>,
    ) -> Vec<Finding> {
        let Some(now) = self.clock else {
            return Vec::new();
        };
        // Past every hold and window a detector keeps (the longest, privacy's, is a day).
        let end = Timestamp(now.millis().saturating_add(END_OF_RUN.as_millis() as i64));
        let mut raw = Vec::new();
        for detector in &mut self.detectors {
            detector.conclude(end, &mut raw);
        }
        self.fold(raw, stored)
    }

    /// Merges raw findings into the alerts held (or stored), one finding per alert.
    fn fold(
        &mut self,
        raw: Vec<Finding>,
        stored: &mut dyn FnMut(&str) -> Option<Alert>,
    ) -> Vec<Finding> {
        let mut out: Vec<Finding> = Vec::new();
        let mut position: std::collections::HashMap<String, usize> =
            std::collections::HashMap::new();
        for mut finding in raw {
            if let Some(key) = &self.id_key {
                finding.alert.id = keyed_id(key, &finding.alert.id);
            }
            if self.disabled.contains(&finding.alert.rule_id) {
                self.suppressed += 1;
                continue;
            }
            let id = finding.alert.id.clone();
            let state = match self.alerts.get_mut(&id) {
                Some(state) => {
                    merge(state, &finding.alert);
                    state.clone()
                }
                None => {
                    let state = match stored(&id) {
                        Some(mut previous) => {
                            merge(&mut previous, &finding.alert);
                            previous
                        }
                        None => finding.alert.clone(),
                    };
                    self.alerts.insert(id.clone(), state.clone());
                    state
                }
            };
            match position.get(&id) {
                Some(&i) => {
                    out[i].alert = state;
                    for event in finding.events {
                        if !out[i].events.contains(&event) {
                            out[i].events.push(event);
                        }
                    }
                }
                None => {
                    position.insert(id, out.len());
                    out.push(Finding {
                        alert: state,
                        events: finding.events,
                    });
                }
            }
        }
        self.bound();
        out
    }

    /// Alerts whose state is held now.
    pub fn alerts_held(&self) -> usize {
        self.alerts.len()
    }

    /// Alerts whose state was dropped to stay within the bound.
    pub fn forgotten(&self) -> u64 {
        self.forgotten
    }

    fn bound(&mut self) {
        if self.alerts.len() <= self.max_alerts {
            return;
        }
        // Forget the least recently seen quarter at once: one sort per many insertions.
        let mut seen: Vec<Timestamp> = self.alerts.values().map(|a| a.last_seen).collect();
        seen.sort_unstable();
        let keep = self.max_alerts - self.max_alerts / 4;
        let cut = seen[seen.len() - keep.max(1)];
        let before = self.alerts.len();
        self.alerts.retain(|_, a| a.last_seen >= cut);
        if self.alerts.len() > self.max_alerts {
            // Many alerts share the cut's instant: drop by id order among them.
            let mut ids: Vec<String> = self.alerts.keys().cloned().collect();
            ids.sort_unstable_by_key(|id| (self.alerts[id].last_seen, id.clone()));
            for id in &ids[..self.alerts.len() - keep.max(1)] {
                self.alerts.remove(id);
            }
        }
        self.forgotten += (before - self.alerts.len()) as u64;
    }
}

/// Folds a new finding's alert into the cumulative state. Status and the rule's text stay as
/// they are: the status belongs to people.
fn merge(state: &mut Alert, new: &Alert) {
    state.first_seen = state.first_seen.min(new.first_seen);
    state.last_seen = state.last_seen.max(new.last_seen);
    state.count = state.count.saturating_add(new.count);
    let (s, n) = (&mut state.entities, &new.entities);
    for (slot, value) in [
        (&mut s.user, &n.user),
        (&mut s.patient, &n.patient),
        (&mut s.src_ip, &n.src_ip),
        (&mut s.dst_ip, &n.dst_ip),
        (&mut s.host, &n.host),
        (&mut s.device, &n.device),
        (&mut s.sender, &n.sender),
        (&mut s.recipient, &n.recipient),
        (&mut s.vendor, &n.vendor),
    ] {
        if slot.is_none() {
            slot.clone_from(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_ids_differ_by_rule_key_and_window() {
        let a = alert_id("r", "alice", Timestamp(0));
        assert_eq!(a.len(), 32);
        assert_eq!(a, alert_id("r", "alice", Timestamp(0)));
        assert_ne!(a, alert_id("r2", "alice", Timestamp(0)));
        assert_ne!(a, alert_id("r", "bob", Timestamp(0)));
        assert_ne!(a, alert_id("r", "alice", Timestamp(1)));
    }

    /// Concludes one finding per event, keyed by the event's user, counting 1.
    struct PerUser;

    impl Detector for PerUser {
        fn name(&self) -> &str {
            "per-user"
        }

        fn observe(&mut self, event: &Event, out: &mut Vec<Finding>) {
            let user = event.actor.user.name.clone().unwrap_or_default();
            out.push(Finding {
                alert: Alert {
                    id: alert_id("per-user", &user, Timestamp(0)),
                    rule_id: "per-user".into(),
                    title: "t".into(),
                    severity: ward_model::Severity::Low,
                    first_seen: event.time,
                    last_seen: event.time,
                    count: 1,
                    entities: ward_model::AlertEntities {
                        user: Some(user),
                        patient: event.patient.id.clone(),
                        ..Default::default()
                    },
                    attack: vec![],
                    hipaa: vec![],
                    status: ward_model::AlertStatus::Open,
                    author: None,
                    license: None,
                    references: vec![],
                    description: None,
                },
                events: vec![event.id],
            });
        }
    }

    fn event(user: &str, ms: i64) -> Event {
        let mut e = Event::from_record("test", Timestamp(ms), format!("{user}{ms}").into_bytes());
        e.actor.user.name = Some(user.into());
        e
    }

    /// Holds `user`'s events for a day before concluding them as [`PerUser`] would; says it
    /// saves its state when `saves`.
    struct Holding {
        user: &'static str,
        saves: bool,
        held: Vec<Event>,
    }

    impl Detector for Holding {
        fn name(&self) -> &str {
            "holding"
        }

        fn observe(&mut self, event: &Event, _: &mut Vec<Finding>) {
            if event.actor.user.name.as_deref() == Some(self.user) {
                self.held.push(event.clone());
            }
        }

        fn advance(&mut self, now: Timestamp, out: &mut Vec<Finding>) {
            let day = 86_400_000;
            let (done, kept) = std::mem::take(&mut self.held)
                .into_iter()
                .partition(|e| e.time.millis() + day <= now.millis());
            self.held = kept;
            for event in done {
                PerUser.observe(&event, out);
            }
        }

        fn save_state(&self) -> Option<Vec<u8>> {
            self.saves.then(Vec::new)
        }
    }

    #[test]
    fn the_end_of_a_run_concludes_what_detectors_that_save_nothing_hold() {
        let mut engine = Engine::new(vec![
            Box::new(Holding {
                user: "alice",
                saves: false,
                held: Vec::new(),
            }),
            Box::new(Holding {
                user: "bob",
                saves: true,
                held: Vec::new(),
            }),
        ]);
        assert!(
            engine.conclude_unsaved(&mut |_| None).is_empty(),
            "nothing seen"
        );
        let found = engine.observe(&[event("alice", 10), event("bob", 20)]);
        assert!(found.is_empty(), "both held for a day");
        let concluded = engine.conclude_unsaved(&mut |_| None);
        assert_eq!(concluded.len(), 1, "{concluded:?}");
        assert_eq!(concluded[0].alert.entities.user.as_deref(), Some("alice"));
        // Bob's is kept for the next run, with the state the detector saves.
        assert_eq!(engine.save_states().len(), 1);
    }

    #[test]
    fn findings_of_one_alert_merge_into_cumulative_state() {
        let mut engine = Engine::new(vec![Box::new(PerUser)]);
        assert_eq!(engine.detector_names(), ["per-user"]);
        let batch = [event("alice", 50), event("alice", 10), event("bob", 30)];
        let found = engine.observe(&batch);
        assert_eq!(found.len(), 2, "one finding per alert");
        let alice = &found[0];
        assert_eq!(alice.alert.count, 2);
        assert_eq!(alice.alert.first_seen, Timestamp(10));
        assert_eq!(alice.alert.last_seen, Timestamp(50));
        assert_eq!(alice.events, [batch[0].id, batch[1].id]);

        let mut later = event("alice", 90);
        later.patient.id = Some("pt1".into());
        let found = engine.observe(&[later.clone()]);
        assert_eq!(found[0].alert.count, 3, "counts continue across batches");
        assert_eq!(found[0].alert.first_seen, Timestamp(10));
        assert_eq!(found[0].events, [later.id], "evidence: only the new events");
        let timings = engine.detector_timings();
        assert_eq!(timings.len(), 1);
        assert_eq!((timings[0].0, timings[0].1.events), ("per-user", 4));
        assert!(timings[0].1.nanos > 0, "time spent is measured");
        assert_eq!(found[0].alert.entities.patient.as_deref(), Some("pt1"));
    }

    #[test]
    fn keyed_alert_ids_are_stable_per_key_and_unguessable_without_it() {
        let mut plain = Engine::new(vec![Box::new(PerUser)]);
        let mut keyed = Engine::new(vec![Box::new(PerUser)]);
        keyed.key_alert_ids([7; 32]);
        let mut other = Engine::new(vec![Box::new(PerUser)]);
        other.key_alert_ids([8; 32]);
        let batch = [event("frank", 1)];
        let (a, b, c) = (
            plain.observe(&batch).remove(0).alert.id,
            keyed.observe(&batch).remove(0).alert.id,
            other.observe(&batch).remove(0).alert.id,
        );
        assert_eq!(a, alert_id("per-user", "frank", Timestamp(0)));
        assert_eq!(b.len(), 32);
        assert!(b.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(a != b && b != c, "the key decides the id");
        let mut again = Engine::new(vec![Box::new(PerUser)]);
        again.key_alert_ids([7; 32]);
        let later = again.observe(&[event("frank", 2)]).remove(0).alert;
        assert_eq!(later.id, b, "the same alert under the same key");
    }

    #[test]
    fn a_rule_switched_off_raises_nothing_until_switched_back_on() {
        let mut engine = Engine::new(vec![Box::new(PerUser)]);
        engine.set_disabled_rules(["per-user".to_string()].into_iter().collect());
        assert!(
            engine
                .observe(&[event("dave", 1), event("erin", 2)])
                .is_empty()
        );
        assert_eq!(engine.suppressed(), 2);
        engine.set_disabled_rules(Default::default());
        let found = engine.observe(&[event("dave", 3)]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].alert.count, 1, "nothing counted while it was off");
    }

    #[test]
    fn a_stored_alert_resumes_and_keeps_the_status_people_gave_it() {
        let mut engine = Engine::new(vec![Box::new(PerUser)]);
        let mut stored = engine.observe(&[event("carol", 5)]).remove(0).alert;
        stored.count = 40;
        stored.status = ward_model::AlertStatus::Acknowledged;
        let mut fresh = Engine::new(vec![Box::new(PerUser)]);
        let mut lookups = 0;
        let found = fresh.observe_with(&[event("carol", 7), event("carol", 8)], &mut |id| {
            lookups += 1;
            (id == stored.id).then(|| stored.clone())
        });
        assert_eq!(lookups, 1, "looked up once, then held in memory");
        assert_eq!(found[0].alert.count, 42);
        assert_eq!(found[0].alert.status, ward_model::AlertStatus::Acknowledged);
    }

    #[test]
    fn alert_state_is_bounded_by_forgetting_the_least_recently_seen() {
        let mut engine = Engine::with_max_alerts(vec![Box::new(PerUser)], 100);
        for i in 0..10_000 {
            engine.observe(&[event(&format!("u{i}"), i)]);
            assert!(engine.alerts_held() <= 100);
        }
        assert_eq!(engine.forgotten() + engine.alerts_held() as u64, 10_000);
        // The most recent alert is still held: a repeat merges without a lookup.
        let found = engine.observe_with(&[event("u9999", 20_000)], &mut |_| {
            panic!("held alerts are not looked up")
        });
        assert_eq!(found[0].alert.count, 2);
    }
}
