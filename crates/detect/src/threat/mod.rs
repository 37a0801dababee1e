//! Threat analytics (issue #7): detectors for what a single-event rule cannot see, because it
//! takes a baseline, state across sources, or the organisation's inventory.
//!
//! - [`credential`]: password spraying, brute force followed by success, MFA fatigue,
//!   impossible travel, first sign-in from a new network, terminated and service accounts used
//!   interactively, vendors outside their contracted hours.
//! - [`network`]: medical devices reaching destinations their fleet does not use, guest Wi-Fi
//!   reaching PHI systems, clear-text PHI protocols leaving the organisation, weak TLS on PHI
//!   services, devices missing from the inventory.
//! - [`segmentation`]: flows the zones.toml policy matrix denies, and the reachability map of
//!   zones (what can reach the systems that hold PHI), drawn as SVG.
//! - [`mail`]: look-alike sender domains, display-name impersonation, Reply-To mismatch,
//!   authentication failures, bank-detail change requests, PHI sent to personal mailboxes.
//!
//! Every detector has the same shape: built from an [`inventory::Inventory`] (where it needs
//! one) and its options, fed events in time order through [`crate::Detector`], concluding
//! [`crate::Finding`]s whose alert names the entities, ATT&CK techniques, HIPAA citations and,
//! in plain words, the evidence. Alerts are grouped by [`crate::engine::alert_id`] over the
//! rule, the entity and the window they cover. State is bounded (per-entity caps, expiry by
//! event time); no detector does IO, reads a clock, logs or panics.

pub mod credential;
pub mod inventory;
pub mod mail;
pub mod network;
pub mod segmentation;

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use ward_model::{Alert, AlertEntities, AlertStatus, Event, EventId, Severity, Timestamp};

use crate::Finding;
use crate::engine::alert_id;

pub(crate) const MINUTE: i64 = 60_000;
pub(crate) const HOUR: i64 = 3_600_000;
pub(crate) const DAY: i64 = 86_400_000;

/// What every alert of one analytic shares: listed per module in `RULES`, for the console's
/// rules page and for tests that map alerts to what they claim to find.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub id: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    pub attack: &'static [&'static str],
    pub hipaa: &'static [&'static str],
}

impl Rule {
    /// A finding of this rule, grouped by `key` and the window starting at `window_start`.
    pub(crate) fn finding(
        &self,
        key: &str,
        window_start: Timestamp,
        span: (Timestamp, Timestamp),
        entities: AlertEntities,
        description: String,
        events: Vec<EventId>,
    ) -> Finding {
        Finding {
            alert: Alert {
                id: alert_id(self.id, key, window_start),
                rule_id: self.id.to_string(),
                title: self.title.to_string(),
                severity: self.severity,
                first_seen: span.0,
                last_seen: span.1,
                count: events.len().max(1) as u64,
                entities,
                attack: self.attack.iter().map(|s| s.to_string()).collect(),
                hipaa: self.hipaa.iter().map(|s| s.to_string()).collect(),
                status: AlertStatus::Open,
                author: Some("Ward threat analytics".to_string()),
                license: None,
                references: Vec::new(),
                description: Some(description),
            },
            events,
        }
    }
}

/// Midnight UTC of the day holding `t`.
pub(crate) fn day_of(t: Timestamp) -> Timestamp {
    Timestamp(t.millis().div_euclid(DAY) * DAY)
}

/// `2026-11-03 07:25 UTC`, for descriptions.
pub(crate) fn clock(t: Timestamp) -> String {
    let text = t.to_rfc3339();
    match (text.get(..10), text.get(11..16)) {
        (Some(date), Some(time)) => format!("{date} {time} UTC"),
        _ => text,
    }
}

/// `41 min`, `2 h 5 min`, `3 days`, for descriptions.
pub(crate) fn duration(ms: i64) -> String {
    let minutes = ms.max(0) / MINUTE;
    match minutes {
        0 => format!("{} s", ms.max(0) / 1000),
        1..=59 => format!("{minutes} min"),
        60..=2879 if minutes % 60 == 0 => format!("{} h", minutes / 60),
        60..=2879 => format!("{} h {} min", minutes / 60, minutes % 60),
        _ => format!("{} days", minutes / 1440),
    }
}

/// `1 account`, `23 accounts`.
pub(crate) fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

pub(crate) fn ip_of(text: Option<&str>) -> Option<IpAddr> {
    let text = text?.trim();
    text.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// The network a user signs in from: the /24 of an IPv4 address, the /48 of an IPv6 one.
pub(crate) fn network_prefix(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
    }
}

/// A text field of `unmapped`, whether the source stored it as a string or a number.
pub(crate) fn unmapped_text(event: &Event, key: &str) -> Option<String> {
    match event.unmapped.get(key)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub(crate) fn unmapped_str<'a>(event: &'a Event, key: &str) -> Option<&'a str> {
    event.unmapped.get(key)?.as_str()
}

pub(crate) fn unmapped_f64(event: &Event, key: &str) -> Option<f64> {
    match event.unmapped.get(key)? {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A map whose entries expire `ttl` after they were last touched and whose size never passes
/// `cap`: when full, the least recently touched tenth is dropped. This is what keeps every
/// detector's memory bounded however many distinct users, addresses or devices pass by.
#[derive(Debug)]
pub(crate) struct Expiring<K, V> {
    map: HashMap<K, (Timestamp, V)>,
    cap: usize,
    ttl: i64,
    last_sweep: i64,
}

impl<K: Eq + Hash + Clone, V> Expiring<K, V> {
    pub(crate) fn new(cap: usize, ttl_ms: i64) -> Self {
        Expiring {
            map: HashMap::new(),
            cap: cap.max(1),
            ttl: ttl_ms.max(1),
            last_sweep: i64::MIN,
        }
    }

    /// The entry for `key`, created with `make` when absent or expired, marked as touched.
    pub(crate) fn touch(&mut self, key: K, now: Timestamp, make: impl FnOnce() -> V) -> &mut V {
        if self.map.len() >= self.cap && !self.map.contains_key(&key) {
            self.sweep(now);
            if self.map.len() >= self.cap {
                self.shrink();
            }
        }
        use std::collections::hash_map::Entry;
        let ttl = self.ttl;
        let entry = match self.map.entry(key) {
            Entry::Occupied(o) => {
                let entry = o.into_mut();
                if now.millis().saturating_sub(entry.0.millis()) > ttl {
                    entry.1 = make();
                }
                entry
            }
            Entry::Vacant(v) => v.insert((now, make())),
        };
        entry.0 = Timestamp(entry.0.millis().max(now.millis()));
        &mut entry.1
    }

    pub(crate) fn get(&self, key: &K, now: Timestamp) -> Option<&V> {
        self.map
            .get(key)
            .filter(|(t, _)| now.millis().saturating_sub(t.millis()) <= self.ttl)
            .map(|(_, v)| v)
    }

    pub(crate) fn get_mut(&mut self, key: &K, now: Timestamp) -> Option<&mut V> {
        let ttl = self.ttl;
        self.map
            .get_mut(key)
            .filter(|(t, _)| now.millis().saturating_sub(t.millis()) <= ttl)
            .map(|(_, v)| v)
    }

    /// Drops expired entries; cheap to call often (it runs at most once a minute of event time).
    pub(crate) fn sweep(&mut self, now: Timestamp) {
        if now.millis().saturating_sub(self.last_sweep) < MINUTE {
            return;
        }
        self.last_sweep = now.millis();
        let ttl = self.ttl;
        self.map
            .retain(|_, (t, _)| now.millis().saturating_sub(t.millis()) <= ttl);
    }

    fn shrink(&mut self) {
        let mut times: Vec<i64> = self.map.values().map(|(t, _)| t.millis()).collect();
        let drop = (self.cap / 10).max(1).min(times.len());
        let (_, &mut cutoff, _) = times.select_nth_unstable(drop.saturating_sub(1));
        let mut dropped = 0;
        self.map.retain(|_, (t, _)| {
            if dropped < drop && t.millis() <= cutoff {
                dropped += 1;
                false
            } else {
                true
            }
        });
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

/// Keeps at most `cap` items, dropping the oldest: evidence lists, recent attempts.
pub(crate) fn push_capped<T>(list: &mut Vec<T>, item: T, cap: usize) {
    if list.len() >= cap.max(1) {
        list.remove(0);
    }
    list.push(item);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiring_map_forgets_by_time_and_stays_under_its_cap() {
        let mut m: Expiring<u32, u32> = Expiring::new(100, HOUR);
        for i in 0..10_000u32 {
            *m.touch(i, Timestamp(i64::from(i) * 1000), || 0) += 1;
            assert!(m.len() <= 100);
        }
        assert!(m.get(&9_999, Timestamp(9_999_000)).is_some());
        assert!(m.get(&9_999, Timestamp(9_999_000 + 2 * HOUR)).is_none());
        // An expired entry is recreated, not continued.
        *m.touch(9_999, Timestamp(9_999_000 + 2 * HOUR), || 0) += 1;
        assert_eq!(m.get(&9_999, Timestamp(9_999_000 + 2 * HOUR)), Some(&1));
        m.sweep(Timestamp(100 * HOUR));
        assert_eq!(m.len(), 0);
    }

    #[test]
    fn prefixes_are_slash_24_and_slash_48() {
        assert_eq!(
            network_prefix("203.0.113.7".parse().unwrap()),
            "203.0.113.0/24"
        );
        assert_eq!(
            network_prefix("2001:db8:aa:1::5".parse().unwrap()),
            "2001:db8:aa::/48"
        );
        assert_eq!(duration(125 * MINUTE), "2 h 5 min");
        assert_eq!(clock(Timestamp(0)), "1970-01-01 00:00 UTC");
    }
}
