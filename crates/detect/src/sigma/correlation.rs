//! Sigma 2 correlation rules (`event_count`, `value_count`, `temporal`, `temporal_ordered`):
//! [`parse`] reads the `correlation:` section, [`Window`] evaluates one correlation on the
//! stream of its rules' matches ("signals"), in event-time order, per group of `group-by`
//! values.
//!
//! How the stream is read, where the specification leaves it to the tool:
//! - A condition made of lower bounds only (`gt`, `gte`) is decided as soon as it holds, over
//!   a window sliding with each signal: the signals of the last `timespan`, the newest
//!   included. A condition with an upper bound (`lt`, `lte`, `eq`) can only be decided once
//!   the window is over, so such windows tumble: one opens at a group's first signal, closes
//!   `timespan` later (at the next signal after it, or when the stream's clock passes it) and
//!   is judged then.
//! - `temporal` fires when the rules named (or as many as the condition asks, by default all)
//!   each matched within `timespan`; `temporal_ordered` when they matched in the order listed,
//!   the first and last within `timespan`. Its `condition`, if any, is not used.
//! - A correlation that keeps firing for a group (every further failed login after the
//!   tenth) continues one *episode*: the first firing brings every signal of the window as
//!   evidence, each later one its own signal, until a firing comes more than `timespan` after
//!   the previous one.
//! - A signal older than the newest one its group has seen counts as of that newest time.
//!
//! State is bounded: per group at most [`MAX_SIGNALS`] signals (for a lower-bound
//! `event_count`, only as many as the threshold needs), and at most `max_groups` groups per
//! correlation; groups whose window lies a timespan behind the correlation's newest signal
//! are dropped (tumbling windows are judged once the stream's clock passes their end), and
//! beyond the cap the least recently active groups are evicted and counted
//! ([`Window::evicted`]).

use super::RuleError;
use super::parse::{Meta, meta, scalar, strings};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet, VecDeque};
use ward_model::{AlertEntities, EventId, Timestamp};
use yaml_rust2::Yaml;

/// Signals kept per group and correlation at most.
pub const MAX_SIGNALS: usize = 10_000;
/// Evidence event ids one firing carries at most.
pub const MAX_EVIDENCE: usize = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorrelationType {
    EventCount,
    ValueCount,
    Temporal,
    TemporalOrdered,
}

impl CorrelationType {
    pub fn as_str(self) -> &'static str {
        match self {
            CorrelationType::EventCount => "event_count",
            CorrelationType::ValueCount => "value_count",
            CorrelationType::Temporal => "temporal",
            CorrelationType::TemporalOrdered => "temporal_ordered",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
}

/// `condition:` — every bound must hold (a range is `gt` and `lte` together).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Condition {
    pub bounds: Vec<(Comparison, u64)>,
    /// `value_count`: the field whose distinct values are counted.
    pub field: Option<String>,
}

impl Condition {
    pub fn holds(&self, n: u64) -> bool {
        self.bounds.iter().all(|(cmp, bound)| match cmp {
            Comparison::Gt => n > *bound,
            Comparison::Gte => n >= *bound,
            Comparison::Lt => n < *bound,
            Comparison::Lte => n <= *bound,
            Comparison::Eq => n == *bound,
        })
    }

    /// Only lower bounds: once reached, more signals cannot undo it, so it is decided at once.
    pub fn is_lower_bound(&self) -> bool {
        self.bounds
            .iter()
            .all(|(cmp, _)| matches!(cmp, Comparison::Gt | Comparison::Gte))
    }

    /// The fewest signals that can satisfy a lower-bound condition.
    fn threshold(&self) -> u64 {
        self.bounds
            .iter()
            .map(|(cmp, bound)| match cmp {
                Comparison::Gt => bound.saturating_add(1),
                _ => *bound,
            })
            .max()
            .unwrap_or(1)
    }
}

/// One correlation rule as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Correlation {
    pub meta: Meta,
    pub kind: CorrelationType,
    /// The rules correlated, by id or name, in the order written.
    pub rules: Vec<String>,
    pub group_by: Vec<String>,
    /// Milliseconds.
    pub timespan: i64,
    pub condition: Condition,
    /// `alias → (rule name → field)`.
    pub aliases: Vec<(String, Vec<(String, String)>)>,
    /// The rules referred to also alert on their own.
    pub generate: bool,
}

/// Reads one correlation document.
pub(crate) fn parse(doc: &Yaml) -> Result<Correlation, RuleError> {
    let meta = meta(doc)?;
    let section = &doc["correlation"];
    if section.as_hash().is_none() {
        return Err(RuleError::Invalid("`correlation` is not a map".into()));
    }
    let kind = match scalar(&section["type"]).as_deref() {
        Some("event_count") => CorrelationType::EventCount,
        Some("value_count") => CorrelationType::ValueCount,
        Some("temporal") => CorrelationType::Temporal,
        Some("temporal_ordered") => CorrelationType::TemporalOrdered,
        Some(other) => {
            return Err(RuleError::unsupported(
                format!("correlation type {other}"),
                "Ward evaluates event_count, value_count, temporal and temporal_ordered",
            ));
        }
        None => return Err(RuleError::Invalid("correlation without `type`".into())),
    };
    let rules = strings(&section["rules"]);
    if rules.is_empty() {
        return Err(RuleError::Invalid("correlation without `rules`".into()));
    }
    let group_by = strings(&section["group-by"]);
    let timespan = scalar(&section["timespan"])
        .ok_or_else(|| RuleError::Invalid("correlation without `timespan`".into()))?;
    let timespan = parse_timespan(&timespan).ok_or_else(|| {
        RuleError::Invalid(format!(
            "timespan `{timespan}`: expected a number and s, m, h or d (`90m`)"
        ))
    })?;
    let condition = condition(&section["condition"], kind, rules.len())?;
    let mut aliases = Vec::new();
    if let Some(map) = section["aliases"].as_hash() {
        for (alias, fields) in map {
            let alias = scalar(alias)
                .ok_or_else(|| RuleError::Invalid("an alias name is not text".into()))?;
            let by_rule = fields
                .as_hash()
                .ok_or_else(|| RuleError::Invalid(format!("alias `{alias}` is not a map")))?
                .iter()
                .filter_map(|(rule, field)| Some((scalar(rule)?, scalar(field)?)))
                .collect();
            aliases.push((alias, by_rule));
        }
    }
    // The specification places `generate` beside `type`; early drafts put it at the top.
    let generate = [&section["generate"], &doc["generate"]]
        .iter()
        .any(|g| g.as_bool() == Some(true));
    Ok(Correlation {
        meta,
        kind,
        rules,
        group_by,
        timespan,
        condition,
        aliases,
        generate,
    })
}

fn condition(yaml: &Yaml, kind: CorrelationType, rules: usize) -> Result<Condition, RuleError> {
    let mut out = Condition::default();
    if let Some(map) = yaml.as_hash() {
        for (key, value) in map {
            let key = key.as_str().unwrap_or_default();
            if key == "field" {
                out.field = scalar(value);
                continue;
            }
            let cmp = match key {
                "gt" => Comparison::Gt,
                "gte" => Comparison::Gte,
                "lt" => Comparison::Lt,
                "lte" => Comparison::Lte,
                "eq" => Comparison::Eq,
                other => {
                    return Err(RuleError::Invalid(format!(
                        "condition `{other}`: expected gt, gte, lt, lte, eq or field"
                    )));
                }
            };
            let bound = value
                .as_i64()
                .and_then(|n| u64::try_from(n).ok())
                .ok_or_else(|| {
                    RuleError::Invalid(format!("condition `{key}` needs a count (0 or more)"))
                })?;
            out.bounds.push((cmp, bound));
        }
    } else if !yaml.is_badvalue() && !yaml.is_null() {
        return Err(RuleError::Invalid("`condition` is not a map".into()));
    }
    match kind {
        CorrelationType::EventCount | CorrelationType::ValueCount if out.bounds.is_empty() => {
            return Err(RuleError::Invalid(format!(
                "{} needs a condition (gte: 10 …)",
                kind.as_str()
            )));
        }
        CorrelationType::ValueCount if out.field.is_none() => {
            return Err(RuleError::Invalid(
                "value_count needs `field` in its condition".into(),
            ));
        }
        CorrelationType::Temporal | CorrelationType::TemporalOrdered if out.bounds.is_empty() => {
            out.bounds.push((Comparison::Gte, rules as u64));
        }
        _ => {}
    }
    Ok(out)
}

/// `30s`, `5m`, `1h`, `7d` → milliseconds; `None` for anything else or zero.
pub fn parse_timespan(text: &str) -> Option<i64> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let number: i64 = text[..text.len() - unit.len_utf8()].parse().ok()?;
    let ms = match unit {
        's' => 1_000,
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        _ => return None,
    };
    number.checked_mul(ms).filter(|t| *t > 0)
}

/// One match a correlation hears about: a base rule's match of an event, or a firing of a
/// correlation it refers to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Signal<'a> {
    pub time: Timestamp,
    pub ids: &'a [EventId],
    /// The group-by value each field has for this signal.
    pub group: &'a [String],
    /// The value of `condition.field` (value_count), if the signal carries it.
    pub value: Option<&'a str>,
    pub entities: &'a AlertEntities,
}

/// A correlation's conclusion for one group.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Firing {
    pub time: Timestamp,
    /// The group-by values, in `group-by` order.
    pub group: Vec<String>,
    /// When the episode this firing belongs to began (the alert's window).
    pub episode: Timestamp,
    pub ids: Vec<EventId>,
    /// How many signals it adds to its alert.
    pub count: u64,
    pub entities: AlertEntities,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    time: Timestamp,
    ids: Vec<EventId>,
    value: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Group {
    /// Per rule position (event_count and value_count use position 0 for all).
    recent: Vec<VecDeque<Entry>>,
    /// temporal_ordered: per position, the latest start of a chain complete up to it.
    chain: Vec<Option<Timestamp>>,
    /// Tumbling window start (upper-bound conditions).
    opened: Option<Timestamp>,
    episode: Option<(Timestamp, Timestamp)>,
    latest: Timestamp,
    entities: AlertEntities,
}

/// A [`Window`]'s open groups as saved between runs.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct WindowState {
    groups: Vec<(Vec<String>, serde_json::Value)>,
    evicted: u64,
    swept: Timestamp,
    newest: Timestamp,
}

/// The evaluation state of one correlation.
#[derive(Debug)]
pub(crate) struct Window {
    kind: CorrelationType,
    positions: usize,
    timespan: i64,
    condition: Condition,
    per_group: usize,
    max_groups: usize,
    groups: HashMap<Vec<String>, Group>,
    evicted: u64,
    swept: Timestamp,
    /// The newest signal this correlation heard: sliding state expires relative to it, not
    /// to the stream's clock, so a source ingested behind the others (yesterday's file after
    /// today's) keeps its windows.
    newest: Timestamp,
}

impl Window {
    pub fn new(correlation: &Correlation, max_groups: usize) -> Self {
        let per_group = match correlation.kind {
            CorrelationType::EventCount if correlation.condition.is_lower_bound() => {
                (correlation.condition.threshold() as usize).clamp(1, MAX_SIGNALS)
            }
            _ => MAX_SIGNALS,
        };
        Window {
            kind: correlation.kind,
            positions: correlation.rules.len(),
            timespan: correlation.timespan,
            condition: correlation.condition.clone(),
            per_group,
            max_groups: max_groups.max(1),
            groups: HashMap::new(),
            evicted: 0,
            swept: Timestamp(i64::MIN),
            newest: Timestamp(i64::MIN),
        }
    }

    /// Groups held now.
    pub fn groups(&self) -> usize {
        self.groups.len()
    }

    /// Groups evicted before their window passed, because of the cap.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// What decides how this window reads signals: state saved under another fingerprint
    /// (the rule's type, timespan or condition changed) is not taken back.
    pub fn fingerprint(&self) -> String {
        format!(
            "{}|{}|{}|{:?}",
            self.kind.as_str(),
            self.positions,
            self.timespan,
            self.condition
        )
    }

    /// The open groups, to be saved between runs ([`Window::restore`]).
    pub fn save(&self) -> WindowState {
        WindowState {
            groups: self
                .groups
                .iter()
                .map(|(k, g)| (k.clone(), serde_json::to_value(g).unwrap_or_default()))
                .collect(),
            evicted: self.evicted,
            swept: self.swept,
            newest: self.newest,
        }
    }

    /// Takes back saved groups (at most the cap; a group that does not read is dropped and
    /// counted as evicted). Returns how many groups were taken back.
    pub fn restore(&mut self, state: WindowState) -> usize {
        self.evicted = self.evicted.saturating_add(state.evicted);
        self.swept = self.swept.max(state.swept);
        self.newest = self.newest.max(state.newest);
        let mut taken = 0;
        for (key, group) in state.groups {
            if self.groups.len() >= self.max_groups {
                self.evicted += 1;
                continue;
            }
            match serde_json::from_value::<Group>(group) {
                Ok(group)
                    if group.recent.len() == self.positions
                        && group.chain.len() == self.positions =>
                {
                    self.groups.insert(key, group);
                    taken += 1;
                }
                _ => self.evicted += 1,
            }
        }
        taken
    }

    /// A signal for the rule at `position` of the correlation's `rules`.
    pub fn signal(&mut self, position: usize, signal: &Signal<'_>, out: &mut Vec<Firing>) {
        if position >= self.positions {
            return;
        }
        if !self.groups.contains_key(signal.group) && self.groups.len() >= self.max_groups {
            self.make_room(signal.time);
        }
        self.newest = self.newest.max(signal.time);
        let group = self.groups.entry(signal.group.to_vec()).or_default();
        if group.recent.is_empty() {
            group.recent = vec![VecDeque::new(); self.positions];
            group.chain = vec![None; self.positions];
        }
        let time = signal.time.max(group.latest);
        group.latest = time;
        group.entities = signal.entities.clone();
        let entry = Entry {
            time,
            ids: signal.ids.iter().take(MAX_EVIDENCE).copied().collect(),
            value: signal.value.map(str::to_string),
        };
        let key = signal.group;
        match self.kind {
            CorrelationType::EventCount | CorrelationType::ValueCount => {
                if self.condition.is_lower_bound() {
                    self.slide(key, entry, out);
                } else {
                    self.tumble(key, entry, out);
                }
            }
            CorrelationType::Temporal => self.temporal(key, position, entry, out),
            CorrelationType::TemporalOrdered => self.ordered(key, position, entry, out),
        }
    }

    /// The stream's clock reached `now`: tumbling windows that ended by `now` are judged and
    /// dropped; other groups are dropped once their window lies a timespan behind this
    /// correlation's newest signal.
    pub fn advance(&mut self, now: Timestamp, out: &mut Vec<Firing>) {
        // Sweeping visits every group; a quarter of the timespan between sweeps keeps state
        // at most 25% beyond its window while costing little per batch.
        if now.0 < self.swept.0.saturating_add(self.timespan / 4) {
            return;
        }
        self.swept = now;
        let (timespan, newest) = (self.timespan, self.newest);
        let expired: Vec<Vec<String>> = self
            .groups
            .iter()
            .filter(|(_, g)| match g.opened {
                Some(opened) => opened.0.saturating_add(timespan) <= now.0,
                None => g.latest.0.saturating_add(timespan) <= newest.0,
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in expired {
            if let Some(group) = self.groups.remove(&key) {
                self.close(&key, group, out);
            }
        }
    }

    fn make_room(&mut self, now: Timestamp) {
        let now = now.max(self.newest);
        let timespan = self.timespan;
        self.groups
            .retain(|_, g| g.latest.0.saturating_add(timespan) > now.0);
        if self.groups.len() < self.max_groups {
            return;
        }
        let before = self.groups.len();
        // Still full of live groups: drop the least recently active quarter at once, so the
        // sort is paid once per many insertions.
        let mut times: Vec<Timestamp> = self.groups.values().map(|g| g.latest).collect();
        times.sort_unstable();
        let cut = times[(self.max_groups / 4).min(times.len() - 1)];
        self.groups.retain(|_, g| g.latest > cut);
        self.evicted += (before - self.groups.len()) as u64;
    }

    /// A group leaves memory: an open tumbling window is judged first.
    fn close(&mut self, key: &[String], mut group: Group, out: &mut Vec<Firing>) {
        if group.opened.is_some() {
            let entries: Vec<Entry> = group.recent[0].drain(..).collect();
            if let Some(firing) = self.judge(key, &mut group, &entries, true) {
                out.push(firing);
            }
        }
    }

    fn measure(&self, entries: &[Entry]) -> u64 {
        match self.kind {
            CorrelationType::ValueCount => entries
                .iter()
                .filter_map(|e| e.value.as_deref())
                .collect::<HashSet<_>>()
                .len() as u64,
            _ => entries.len() as u64,
        }
    }

    /// Fires when `entries` satisfy the condition: as a new episode with all their evidence,
    /// or, continuing one, with the newest entry's only (`whole`: every entry is new).
    fn judge(
        &self,
        key: &[String],
        group: &mut Group,
        entries: &[Entry],
        whole: bool,
    ) -> Option<Firing> {
        if !self.condition.holds(self.measure(entries)) {
            return None;
        }
        let last = entries.last()?;
        let first = entries.first()?;
        let continuing = group
            .episode
            .is_some_and(|(_, previous)| last.time.0 - previous.0 <= self.timespan);
        let (start, ids, count) = if continuing && !whole {
            let start = group.episode.map_or(first.time, |(s, _)| s);
            (start, last.ids.clone(), 1)
        } else {
            let start = match group.episode {
                Some((s, _)) if continuing => s,
                _ => first.time,
            };
            let ids = evidence(entries.iter());
            (start, ids, entries.len() as u64)
        };
        group.episode = Some((start, last.time));
        Some(Firing {
            time: last.time,
            group: key.to_vec(),
            episode: start,
            ids,
            count,
            entities: group.entities.clone(),
        })
    }

    fn slide(&mut self, key: &[String], entry: Entry, out: &mut Vec<Firing>) {
        let (timespan, per_group) = (self.timespan, self.per_group);
        let Some(mut group) = self.groups.remove(key) else {
            return;
        };
        let recent = &mut group.recent[0];
        let now = entry.time;
        recent.push_back(entry);
        while recent
            .front()
            .is_some_and(|e| e.time.0 < now.0.saturating_sub(timespan))
            || recent.len() > per_group
        {
            recent.pop_front();
        }
        let entries: Vec<Entry> = recent.iter().cloned().collect();
        if let Some(firing) = self.judge(key, &mut group, &entries, false) {
            out.push(firing);
        }
        self.groups.insert(key.to_vec(), group);
    }

    fn tumble(&mut self, key: &[String], entry: Entry, out: &mut Vec<Firing>) {
        let Some(mut group) = self.groups.remove(key) else {
            return;
        };
        if let Some(opened) = group.opened
            && entry.time.0 >= opened.0.saturating_add(self.timespan)
        {
            let entries: Vec<Entry> = group.recent[0].drain(..).collect();
            if let Some(firing) = self.judge(key, &mut group, &entries, true) {
                out.push(firing);
            }
            group.opened = None;
        }
        if group.opened.is_none() {
            group.opened = Some(entry.time);
        }
        if group.recent[0].len() < MAX_SIGNALS {
            group.recent[0].push_back(entry);
        } else {
            self.evicted += 1;
        }
        self.groups.insert(key.to_vec(), group);
    }

    fn temporal(&mut self, key: &[String], position: usize, entry: Entry, out: &mut Vec<Firing>) {
        let Some(mut group) = self.groups.remove(key) else {
            return;
        };
        let now = entry.time;
        let since = now.0.saturating_sub(self.timespan);
        keep_recent(&mut group.recent[position], entry, since);
        for recent in &mut group.recent {
            while recent.front().is_some_and(|e| e.time.0 < since) {
                recent.pop_front();
            }
        }
        let present = group.recent.iter().filter(|r| !r.is_empty()).count() as u64;
        if self.condition.holds(present) {
            let newest = group.recent[position].back().cloned();
            let continuing = group
                .episode
                .is_some_and(|(_, previous)| now.0 - previous.0 <= self.timespan);
            let (start, ids, count) = match (continuing, newest) {
                (true, Some(newest)) => (group.episode.map_or(now, |(s, _)| s), newest.ids, 1),
                _ => {
                    let all: Vec<&Entry> = group.recent.iter().flatten().collect();
                    let start = all.iter().map(|e| e.time).min().unwrap_or(now);
                    (start, evidence(all.into_iter()), present)
                }
            };
            group.episode = Some((start, now));
            out.push(Firing {
                time: now,
                group: key.to_vec(),
                episode: start,
                ids,
                count,
                entities: group.entities.clone(),
            });
        }
        self.groups.insert(key.to_vec(), group);
    }

    fn ordered(&mut self, key: &[String], position: usize, entry: Entry, out: &mut Vec<Firing>) {
        let Some(mut group) = self.groups.remove(key) else {
            return;
        };
        let now = entry.time;
        let since = now.0.saturating_sub(self.timespan);
        keep_recent(&mut group.recent[position], entry, since);
        let reached = if position == 0 {
            Some(now)
        } else {
            group.chain[position - 1].filter(|start| start.0 >= since)
        };
        if let Some(start) = reached {
            group.chain[position] = Some(start);
        }
        if position + 1 == self.positions && reached.is_some() {
            let start = reached.unwrap_or(now);
            let continuing = group
                .episode
                .is_some_and(|(_, previous)| now.0 - previous.0 <= self.timespan);
            let (episode, ids, count) = if continuing {
                let newest = group.recent[position].back().map(|e| e.ids.clone());
                (
                    group.episode.map_or(start, |(s, _)| s),
                    newest.unwrap_or_default(),
                    1,
                )
            } else {
                let all: Vec<&Entry> = group
                    .recent
                    .iter()
                    .flatten()
                    .filter(|e| e.time.0 >= since)
                    .collect();
                let count = all.len() as u64;
                (start, evidence(all.into_iter()), count)
            };
            group.episode = Some((episode, now));
            out.push(Firing {
                time: now,
                group: key.to_vec(),
                episode,
                ids,
                count,
                entities: group.entities.clone(),
            });
        }
        self.groups.insert(key.to_vec(), group);
    }
}

/// Appends `entry`, dropping entries older than `since` and the oldest beyond the cap.
fn keep_recent(recent: &mut VecDeque<Entry>, entry: Entry, since: i64) {
    recent.push_back(entry);
    while recent.front().is_some_and(|e| e.time.0 < since) || recent.len() > MAX_SIGNALS {
        recent.pop_front();
    }
}

/// The distinct event ids of `entries`, in order, at most [`MAX_EVIDENCE`].
fn evidence<'a>(entries: impl Iterator<Item = &'a Entry>) -> Vec<EventId> {
    let mut seen = HashSet::new();
    entries
        .flat_map(|e| e.ids.iter().copied())
        .filter(|id| seen.insert(*id))
        .take(MAX_EVIDENCE)
        .collect()
}
