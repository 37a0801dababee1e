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
//!   authentication failures, bank-detail change requests, PHI sent to personal mailboxes,
//!   links from newly seen sender domains opened from a workstation (Zeek http/ssl, proxy CEF).
//! - [`geoip`]: places and networks of public addresses from MaxMind DB files the user
//!   supplies, for the credential detector.
//!
//! Every detector has the same shape: built from an [`inventory::Inventory`] (where it needs
//! one) and its options, fed events in time order through [`crate::Detector`], concluding
//! [`crate::Finding`]s whose alert names the entities, ATT&CK techniques, HIPAA citations and,
//! in plain words, the evidence. Alerts are grouped by [`crate::engine::alert_id`] over the
//! rule, the entity and the window they cover. State is bounded (per-entity caps, expiry by
//! event time) and reported by each detector's `state()` as [`TableStats`]: entries held, the
//! cap, and how many were evicted to stay under it or expired; no detector does IO, reads a
//! clock, logs or panics.

pub mod credential;
pub mod geoip;
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
/// `cap`. This is what keeps every detector's memory bounded however many distinct users,
/// addresses or devices pass by.
///
/// Entries live in two generations: new ones go into the current generation, and when it holds
/// half the cap the older generation is dropped (its entries counted as evicted, or as expired
/// when their time was over anyway) and the current one becomes the older. An entry touched
/// while in the older generation moves back into the current one. So what is evicted is what
/// was not touched during the last `cap / 2` new entries, approximately the least recently
/// used, at a constant cost per touch: no scan of the table decides what goes.
#[derive(Debug)]
pub(crate) struct Expiring<K, V> {
    current: HashMap<K, (Timestamp, V)>,
    previous: HashMap<K, (Timestamp, V)>,
    cap: usize,
    ttl: i64,
    last_sweep: i64,
    /// Entries dropped to stay under `cap` while still fresh.
    evicted: u64,
    /// Entries dropped, or made anew, because they were not touched for `ttl`.
    expired: u64,
}

/// One table of a detector's state: what it holds, its cap, and what it let go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableStats {
    /// What the table is keyed by (`sources`, `users` …).
    pub table: &'static str,
    pub held: usize,
    pub cap: usize,
    /// Entries dropped to stay under the cap, least recently touched first.
    pub evicted: u64,
    /// Entries dropped because their time was over.
    pub expired: u64,
}

impl<K: Eq + Hash + Clone, V> Expiring<K, V> {
    pub(crate) fn new(cap: usize, ttl_ms: i64) -> Self {
        Expiring {
            current: HashMap::new(),
            previous: HashMap::new(),
            cap: cap.max(2),
            ttl: ttl_ms.max(1),
            last_sweep: i64::MIN,
            evicted: 0,
            expired: 0,
        }
    }

    fn fresh(&self, touched: Timestamp, now: Timestamp) -> bool {
        now.millis().saturating_sub(touched.millis()) <= self.ttl
    }

    /// The entry for `key`, created with `make` when absent or expired, marked as touched.
    pub(crate) fn touch(&mut self, key: K, now: Timestamp, make: impl FnOnce() -> V) -> &mut V {
        if self.current.len() >= self.cap / 2 && !self.current.contains_key(&key) {
            self.rotate(now);
        }
        use std::collections::hash_map::Entry;
        let ttl = self.ttl;
        let stale = |t: Timestamp| now.millis().saturating_sub(t.millis()) > ttl;
        let mut made_anew = false;
        let entry = match self.current.entry(key) {
            Entry::Occupied(o) => {
                let entry = o.into_mut();
                if stale(entry.0) {
                    entry.1 = make();
                    made_anew = true;
                }
                entry
            }
            Entry::Vacant(v) => match self.previous.remove(v.key()) {
                Some(older) if !stale(older.0) => v.insert(older),
                Some(_) => {
                    made_anew = true;
                    v.insert((now, make()))
                }
                None => v.insert((now, make())),
            },
        };
        entry.0 = Timestamp(entry.0.millis().max(now.millis()));
        self.expired += u64::from(made_anew);
        &mut entry.1
    }

    /// The older generation goes; the current one becomes the older.
    fn rotate(&mut self, now: Timestamp) {
        let older = std::mem::take(&mut self.previous);
        let expired = older.values().filter(|(t, _)| !self.fresh(*t, now)).count();
        self.expired += expired as u64;
        self.evicted += (older.len() - expired) as u64;
        drop(older);
        self.previous = std::mem::take(&mut self.current);
    }

    pub(crate) fn get(&self, key: &K, now: Timestamp) -> Option<&V> {
        self.current
            .get(key)
            .or_else(|| self.previous.get(key))
            .filter(|(t, _)| self.fresh(*t, now))
            .map(|(_, v)| v)
    }

    pub(crate) fn get_mut(&mut self, key: &K, now: Timestamp) -> Option<&mut V> {
        let ttl = self.ttl;
        let found = match self.current.get_mut(key) {
            Some(found) => Some(found),
            None => self.previous.get_mut(key),
        };
        found
            .filter(|(t, _)| now.millis().saturating_sub(t.millis()) <= ttl)
            .map(|(_, v)| v)
    }

    /// Drops expired entries, to give their memory back before the cap would. Cheap to call
    /// often: it scans the table at most once a quarter of `ttl` (and a minute) of event time.
    pub(crate) fn sweep(&mut self, now: Timestamp) {
        if now.millis().saturating_sub(self.last_sweep) < (self.ttl / 4).max(MINUTE) {
            return;
        }
        self.last_sweep = now.millis();
        let ttl = self.ttl;
        let before = self.current.len() + self.previous.len();
        for map in [&mut self.current, &mut self.previous] {
            map.retain(|_, (t, _)| now.millis().saturating_sub(t.millis()) <= ttl);
        }
        self.expired += (before - self.current.len() - self.previous.len()) as u64;
    }

    /// Every entry held, fresh or not, with the time it was last touched: what a detector saves
    /// to carry its state across runs (given back through [`Expiring::touch`], oldest first).
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&K, Timestamp, &V)> {
        self.previous
            .iter()
            .chain(self.current.iter())
            .map(|(k, (t, v))| (k, *t, v))
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }

    /// This table's figures, under `name`.
    pub(crate) fn stats(&self, table: &'static str) -> TableStats {
        TableStats {
            table,
            held: self.current.len() + self.previous.len(),
            cap: self.cap,
            evicted: self.evicted,
            expired: self.expired,
        }
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
        let before = m.stats("t");
        assert!(before.evicted > 0, "{before:?}");
        assert_eq!(before.cap, 100);
        m.sweep(Timestamp(100 * HOUR));
        assert_eq!(m.len(), 0);
        let after = m.stats("t");
        assert_eq!(after.expired, before.expired + before.held as u64);
        // Every entry ever made (10,000 keys, one of them made anew) is evicted or expired.
        assert_eq!(after.evicted + after.expired, 10_001);
    }

    #[test]
    fn expiring_map_keeps_what_is_touched_often_under_a_flood_of_new_keys() {
        let mut m: Expiring<u32, u32> = Expiring::new(100, HOUR);
        for i in 1..=10_000u32 {
            *m.touch(0, Timestamp(i64::from(i)), || 0) += 1;
            m.touch(i, Timestamp(i64::from(i)), || 0);
            assert!(m.len() <= 100);
        }
        assert_eq!(m.get(&0, Timestamp(10_000)), Some(&10_000), "never evicted");
        assert!(m.get(&9_999, Timestamp(10_000)).is_some());
        assert!(m.get(&1, Timestamp(10_000)).is_none());
        let stats = m.stats("t");
        assert_eq!(stats.held as u64 + stats.evicted + stats.expired, 10_001);
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
