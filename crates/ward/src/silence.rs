//! Source-silence detection: a sender that stops sending is an alert, because while it is
//! silent nothing it does is recorded or checked (HIPAA 164.312(b), audit controls).
//!
//! Sources are grouped into *feeds*: a listener names each connection `kind://address:port`,
//! and a sender reconnecting gets a new port, so a feed is `kind://address` (a file keeps its
//! path). A feed is watched when it came over the network, or when `[detect.silence]` names
//! it. It is silent when the last commit of any of its sources is older than its threshold:
//! the per-feed override, else the larger of `[detect] silence_after_minutes` and three times
//! the median gap between its commits seen in the last day (learning only widens, so a feed
//! that reports every two hours is not declared silent after one). One alert per silence
//! episode (the feed and the instant it went quiet give its id); when the feed speaks again
//! the episode ends, and a later silence is a new alert. Feeds quiet for more than a week are
//! taken as retired, not newly silent.
//!
//! [`Watch::check`] is pure: sources, the time and what is stored come in; alerts come out.
//! The periodic task that feeds it lives in [`run`]. No IO or clock in the decision.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, PoisonError};
use std::time::Duration;
use ward_model::{Alert, AlertEntities, AlertStatus, Severity, Timestamp};
use ward_store::{SourceState, Store};

pub const RULE_ID: &str = "ward.source.silent";
/// How often the periodic task looks.
const CHECK_EVERY: Duration = Duration::from_secs(60);
const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 24 * 60 * MINUTE_MS;
/// Quiet for longer than this: retired, not newly silent.
const RETIRED_AFTER_MS: i64 = 7 * DAY_MS;
/// Gaps needed before the learned cadence counts.
const MIN_GAPS: usize = 6;
/// The learned threshold is this many median gaps.
const GAP_FACTOR: i64 = 3;
/// Gaps remembered per feed at most (a day of one-minute checks).
const MAX_GAPS: usize = 1_440;

/// The thresholds, from `[detect]`.
#[derive(Debug, Clone)]
pub struct SilenceSettings {
    /// Default threshold in minutes; 0 turns detection off for feeds without an override.
    pub after_minutes: u64,
    /// Per feed (as named on the metrics and in alerts): minutes, 0 never.
    pub overrides: HashMap<String, u64>,
}

impl Default for SilenceSettings {
    fn default() -> Self {
        SilenceSettings {
            after_minutes: 60,
            overrides: HashMap::new(),
        }
    }
}

/// Several sources from one sender, combined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    pub name: String,
    /// The last commit of any of its sources (wall clock).
    pub last_commit: Timestamp,
    pub last_event_time: Option<Timestamp>,
    pub events: u64,
    pub quarantined: u64,
}

/// `kind://address:port` becomes `kind://address` (IPv6 in brackets stays whole); anything
/// else (a file path, `-`) is its own feed.
pub fn feed_name(source: &str) -> &str {
    let Some((kind, rest)) = source.split_once("://") else {
        return source;
    };
    let host_end = match rest.strip_prefix('[') {
        Some(v6) => v6.find(']').map(|i| i + 2),
        None => rest.rfind(':'),
    };
    match host_end {
        Some(end) if end < rest.len() && rest[end..].starts_with(':') => {
            &source[..kind.len() + 3 + end]
        }
        _ => source,
    }
}

/// The sources grouped into feeds, by feed name.
pub fn feeds(sources: &[SourceState]) -> Vec<Feed> {
    let mut by_name: std::collections::BTreeMap<&str, Feed> = Default::default();
    for s in sources {
        let name = feed_name(&s.source);
        let feed = by_name.entry(name).or_insert_with(|| Feed {
            name: name.to_string(),
            last_commit: s.updated_at,
            last_event_time: None,
            events: 0,
            quarantined: 0,
        });
        feed.last_commit = feed.last_commit.max(s.updated_at);
        feed.last_event_time = feed.last_event_time.max(s.last_event_time);
        feed.events += s.events;
        feed.quarantined += s.quarantined;
    }
    by_name.into_values().collect()
}

/// What the watch remembers of one feed.
#[derive(Debug, Default)]
struct History {
    last_commit: Option<Timestamp>,
    /// (when observed, gap in ms) between successive commits seen.
    gaps: VecDeque<(Timestamp, i64)>,
    /// The last commit of the episode already raised, while it lasts.
    raised: Option<Timestamp>,
}

/// The watch over every feed: learns cadences, remembers raised episodes.
#[derive(Debug, Default)]
pub struct Watch {
    settings: SilenceSettings,
    feeds: HashMap<String, History>,
}

impl Watch {
    pub fn new(settings: SilenceSettings) -> Self {
        Watch {
            settings,
            feeds: HashMap::new(),
        }
    }

    /// The threshold in ms for a feed, `None` when it is not watched.
    fn threshold(&self, feed: &str) -> Option<i64> {
        if let Some(&minutes) = self.settings.overrides.get(feed) {
            return (minutes > 0).then(|| minutes as i64 * MINUTE_MS);
        }
        if !feed.contains("://") || self.settings.after_minutes == 0 {
            return None;
        }
        let default = self.settings.after_minutes as i64 * MINUTE_MS;
        let learned = self
            .feeds
            .get(feed)
            .and_then(|h| median_gap(&h.gaps))
            .map_or(0, |gap| gap.saturating_mul(GAP_FACTOR));
        Some(default.max(learned))
    }

    /// One look at the sources at `now`: the alerts of silences that began since the last look
    /// (or that `stored` does not know, after a restart).
    pub fn check(
        &mut self,
        sources: &[SourceState],
        now: Timestamp,
        stored: &mut dyn FnMut(&str) -> bool,
    ) -> Vec<Alert> {
        let mut alerts = Vec::new();
        for feed in feeds(sources) {
            let history = self.feeds.entry(feed.name.clone()).or_default();
            if let Some(previous) = history.last_commit
                && feed.last_commit > previous
            {
                history
                    .gaps
                    .push_back((now, feed.last_commit.millis() - previous.millis()));
                history.raised = None;
            }
            history.last_commit = Some(feed.last_commit);
            while history
                .gaps
                .front()
                .is_some_and(|(at, _)| now.millis() - at.millis() > DAY_MS)
                || history.gaps.len() > MAX_GAPS
            {
                history.gaps.pop_front();
            }
            let Some(threshold) = self.threshold(&feed.name) else {
                continue;
            };
            let quiet = now.millis() - feed.last_commit.millis();
            if quiet <= threshold || quiet > RETIRED_AFTER_MS {
                continue;
            }
            let history = self.feeds.get_mut(&feed.name).expect("inserted above");
            if history.raised == Some(feed.last_commit) {
                continue;
            }
            history.raised = Some(feed.last_commit);
            let alert = silence_alert(&feed, threshold, now);
            if !stored(&alert.id) {
                alerts.push(alert);
            }
        }
        alerts
    }
}

fn median_gap(gaps: &VecDeque<(Timestamp, i64)>) -> Option<i64> {
    if gaps.len() < MIN_GAPS {
        return None;
    }
    let mut values: Vec<i64> = gaps.iter().map(|(_, gap)| *gap).collect();
    values.sort_unstable();
    Some(values[values.len() / 2])
}

fn silence_alert(feed: &Feed, threshold_ms: i64, now: Timestamp) -> Alert {
    let host = feed
        .name
        .split_once("://")
        .map(|(_, address)| address.trim_start_matches('[').trim_end_matches(']'));
    let src_ip = host
        .filter(|h| h.parse::<std::net::IpAddr>().is_ok())
        .map(str::to_string);
    let quiet_minutes = (now.millis() - feed.last_commit.millis()) / MINUTE_MS;
    Alert {
        id: ward_detect::engine::alert_id(RULE_ID, &feed.name, feed.last_commit),
        rule_id: RULE_ID.into(),
        title: format!("Source stopped sending: {}", feed.name),
        severity: Severity::Medium,
        first_seen: now,
        last_seen: now,
        count: 1,
        entities: AlertEntities {
            host: Some(feed.name.clone()),
            src_ip,
            ..Default::default()
        },
        attack: vec!["T1562.006".into()],
        hipaa: vec!["164.312(b)".into()],
        status: AlertStatus::Open,
        author: Some("Ward".into()),
        license: None,
        references: vec![],
        description: Some(format!(
            "Ward has received nothing from {} since {} ({quiet_minutes} minutes); it is \
             expected to send at least every {} minutes. While it is silent, what happens on \
             it is neither recorded nor checked. Check that the sender is running, that its \
             logging is configured, and the network path to Ward.",
            feed.name,
            feed.last_commit.to_rfc3339(),
            threshold_ms / MINUTE_MS
        )),
    }
}

/// Every minute until `shutdown`: looks at the sources, stores new silence alerts and posts
/// them to the engine's outbox so notifications go out.
pub async fn run(
    settings: SilenceSettings,
    store: Arc<dyn Store>,
    engine: ward_listen::SharedEngine,
    mut shutdown: ward_listen::Shutdown,
) {
    let watch = Arc::new(std::sync::Mutex::new(Watch::new(settings)));
    let mut tick = tokio::time::interval(CHECK_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait() => break,
        }
        let (watch, store, engine) = (watch.clone(), store.clone(), engine.clone());
        let checked = tokio::task::spawn_blocking(move || -> ward_store::Result<usize> {
            let sources = store.sources()?;
            let mut lookup_failed = None;
            let alerts = watch.lock().unwrap_or_else(PoisonError::into_inner).check(
                &sources,
                Timestamp::now(),
                &mut |id| match store.get_alert(id) {
                    Ok(found) => found.is_some(),
                    Err(e) => {
                        lookup_failed = Some(e);
                        true
                    }
                },
            );
            if let Some(e) = lookup_failed {
                return Err(e);
            }
            for alert in &alerts {
                store.upsert_alert(alert, &[])?;
            }
            let raised = alerts.len();
            engine
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .post(alerts);
            Ok(raised)
        })
        .await;
        match checked {
            Ok(Ok(0)) => {}
            Ok(Ok(raised)) => tracing::warn!(feeds = raised, "sources went silent"),
            Ok(Err(e)) => tracing::warn!(error = %e, "the source-silence check failed"),
            Err(e) => tracing::warn!(error = %e, "the source-silence task failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = MINUTE_MS;

    fn source(name: &str, updated_min: i64) -> SourceState {
        SourceState {
            source: name.into(),
            offset: 0,
            events: 3,
            quarantined: 1,
            last_event_time: Some(Timestamp(updated_min * MIN - 5)),
            updated_at: Timestamp(updated_min * MIN),
        }
    }

    fn at(minutes: i64) -> Timestamp {
        Timestamp(minutes * MIN)
    }

    fn nothing_stored(_: &str) -> bool {
        false
    }

    #[test]
    fn the_configuration_reads_the_default_and_per_source_overrides() {
        let config: crate::config::Config = toml::from_str(
            "[detect]\nsilence_after_minutes = 30\n[detect.silence]\n\"/var/log/ehr.log\" = 120\n\
             \"syslog-udp://10.0.0.4\" = 0\n[metrics]\ntoken_sha256 = []\n",
        )
        .unwrap();
        assert_eq!(config.detect.silence_after_minutes, Some(30));
        assert_eq!(config.detect.silence["/var/log/ehr.log"], 120);
        assert_eq!(config.detect.silence["syslog-udp://10.0.0.4"], 0);
        assert!(crate::metrics::parse_tokens(&["ab".into()]).is_err());
    }

    #[test]
    fn feed_names_drop_the_peer_port_only() {
        assert_eq!(
            feed_name("syslog-tcp://10.0.0.5:51514"),
            "syslog-tcp://10.0.0.5"
        );
        assert_eq!(feed_name("http-ingest://[::1]:4000"), "http-ingest://[::1]");
        assert_eq!(feed_name("http-ingest://-"), "http-ingest://-");
        assert_eq!(feed_name("/var/log/auth.log"), "/var/log/auth.log");
        assert_eq!(feed_name("C:/logs/x.evtx"), "C:/logs/x.evtx");
    }

    #[test]
    fn connections_of_one_sender_are_one_feed() {
        let feeds = feeds(&[
            source("syslog-tcp://10.0.0.5:1000", 10),
            source("syslog-tcp://10.0.0.5:2000", 20),
            source("/tmp/a.log", 5),
        ]);
        assert_eq!(feeds.len(), 2);
        let net = feeds.iter().find(|f| f.name.contains("://")).unwrap();
        assert_eq!(
            (net.events, net.quarantined, net.last_commit),
            (6, 2, at(20))
        );
    }

    #[test]
    fn a_silent_network_feed_raises_one_alert_per_episode() {
        let mut watch = Watch::new(SilenceSettings::default());
        let sources = [source("syslog-udp://10.0.0.5:514", 0)];
        assert!(
            watch
                .check(&sources, at(60), &mut nothing_stored)
                .is_empty(),
            "60 minutes is not yet more than 60"
        );
        let alerts = watch.check(&sources, at(61), &mut nothing_stored);
        assert_eq!(alerts.len(), 1);
        let alert = &alerts[0];
        assert_eq!(alert.rule_id, RULE_ID);
        assert_eq!(alert.severity, Severity::Medium);
        assert_eq!(alert.hipaa, ["164.312(b)"]);
        assert_eq!(alert.entities.src_ip.as_deref(), Some("10.0.0.5"));
        assert_eq!(
            alert.entities.host.as_deref(),
            Some("syslog-udp://10.0.0.5")
        );
        assert_eq!(
            alert.id,
            ward_detect::engine::alert_id(RULE_ID, "syslog-udp://10.0.0.5", at(0))
        );
        assert!(alert.description.as_deref().unwrap().contains("61 minutes"));
        assert!(
            watch
                .check(&sources, at(70), &mut nothing_stored)
                .is_empty(),
            "the same episode is not raised again"
        );

        // It speaks again: no alert; then falls silent again: a new episode, a new id.
        let spoke = [source("syslog-udp://10.0.0.5:514", 75)];
        assert!(watch.check(&spoke, at(76), &mut nothing_stored).is_empty());
        assert!(watch.check(&spoke, at(120), &mut nothing_stored).is_empty());
        let again = watch.check(&spoke, at(136), &mut nothing_stored);
        assert_eq!(again.len(), 1);
        assert_ne!(again[0].id, alert.id);
    }

    #[test]
    fn an_episode_already_stored_is_not_raised_after_a_restart() {
        let sources = [source("mllp://10.1.1.1:3000", 0)];
        let id = ward_detect::engine::alert_id(RULE_ID, "mllp://10.1.1.1", at(0));
        let mut fresh = Watch::new(SilenceSettings::default());
        assert!(fresh.check(&sources, at(90), &mut |i| i == id).is_empty());
    }

    #[test]
    fn files_are_watched_only_when_configured_and_overrides_win() {
        let mut settings = SilenceSettings::default();
        settings.overrides.insert("/var/log/ehr.log".into(), 10);
        settings.overrides.insert("syslog-tcp://10.0.0.9".into(), 0);
        let mut watch = Watch::new(settings);
        let sources = [
            source("/var/log/ehr.log", 0),
            source("/var/log/once.log", 0),
            source("syslog-tcp://10.0.0.9:1", 0),
        ];
        let alerts = watch.check(&sources, at(11), &mut nothing_stored);
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].title, "Source stopped sending: /var/log/ehr.log");
        assert!(
            watch
                .check(&sources, at(600), &mut nothing_stored)
                .is_empty()
        );
    }

    #[test]
    fn a_slow_feed_learns_a_wider_threshold() {
        let mut watch = Watch::new(SilenceSettings::default());
        // Commits every 2 hours, checked each time one arrives.
        for i in 0..=6 {
            let s = [source("syslog-tcp://10.0.0.7:1", i * 120)];
            assert!(
                watch
                    .check(&s, at(i * 120 + 1), &mut nothing_stored)
                    .is_empty()
            );
        }
        let s = [source("syslog-tcp://10.0.0.7:1", 720)];
        assert!(
            watch
                .check(&s, at(720 + 300), &mut nothing_stored)
                .is_empty(),
            "5 hours is within 3 gaps of 2 hours"
        );
        assert_eq!(watch.check(&s, at(720 + 361), &mut nothing_stored).len(), 1);
    }

    #[test]
    fn a_feed_quiet_for_over_a_week_is_retired_and_zero_turns_detection_off() {
        let mut watch = Watch::new(SilenceSettings::default());
        let old = [source("syslog-tcp://10.0.0.8:1", 0)];
        assert!(
            watch
                .check(&old, at(8 * 24 * 60), &mut nothing_stored)
                .is_empty()
        );
        let mut off = Watch::new(SilenceSettings {
            after_minutes: 0,
            overrides: HashMap::new(),
        });
        assert!(off.check(&old, at(120), &mut nothing_stored).is_empty());
    }
}
