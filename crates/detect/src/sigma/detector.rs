//! Sigma rules as a [`Detector`]: a [`Collection`] of rules and correlation rules (from the
//! shipped pack or a user's folder) becomes a [`SigmaDetector`] that turns matches into
//! [`Finding`]s.
//!
//! How matches become alerts:
//! - A detection rule's match is one finding; repeats group into one alert per rule, per
//!   entity key and per UTC day. The entity key is the user, host and source address the
//!   event names (any of them may be absent), so one user failing on one workstation all day
//!   is one alert with a count, not a flood, while the same rule on another user is another
//!   alert.
//! - A correlation's firing is one finding; its alert is keyed by the correlation, its
//!   `group-by` values and the UTC day its episode began (see [`super::correlation`]).
//! - Rules referred to by a correlation only feed it, unless a correlation referring to them
//!   says `generate: true` (Sigma 2); the same holds for correlations referred to by another.
//! - Severity is the rule's `level`, ATT&CK ids and HIPAA citations come from its tags
//!   (`attack.t1110.001`, `hipaa.164.312.b`), and author, licence and references travel with
//!   every alert, as the Detection Rule License asks.

use super::correlation::{Correlation, Firing, Signal, Window};
use super::logsource::field_path;
use super::{
    CompiledRule, LogSource, Placeholders, Rule, RuleError, RuleSet, compile_with, parse_documents,
};
use crate::engine::{Detector, Finding, alert_id};
use std::collections::HashMap;
use ward_model::{Alert, AlertEntities, AlertStatus, Event, Severity, Timestamp};

/// Groups one correlation keeps at most (see [`super::correlation`] for what happens beyond).
pub const MAX_GROUPS: usize = 100_000;

const DAY: i64 = 86_400_000;

/// Rules and correlation rules loaded together, each with where it came from (a file name, or
/// `shipped` for the pack inside the binary).
#[derive(Debug, Default)]
pub struct Collection {
    pub rules: Vec<(CompiledRule, String)>,
    pub correlations: Vec<(Correlation, String)>,
    /// The values of `expand` placeholders the rules added are compiled with.
    placeholders: Placeholders,
}

impl Collection {
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty collection whose rules' `expand` placeholders take these values.
    pub fn with_placeholders(placeholders: Placeholders) -> Self {
        Collection {
            placeholders,
            ..Self::default()
        }
    }

    /// Adds every document of one Sigma file; when one fails, nothing of the file is added
    /// (its correlation and base rules belong together). Returns how many documents it held.
    pub fn add(&mut self, text: &str, origin: &str) -> Result<usize, RuleError> {
        let mut rules = Vec::new();
        let mut correlations = Vec::new();
        for document in parse_documents(text)? {
            match document {
                super::Document::Rule(rule) => {
                    rules.push((compile_with(rule, &self.placeholders)?, origin.to_string()))
                }
                super::Document::Correlation(c) => correlations.push((c, origin.to_string())),
            }
        }
        let added = rules.len() + correlations.len();
        self.rules.extend(rules);
        self.correlations.extend(correlations);
        Ok(added)
    }

    pub fn len(&self) -> usize {
        self.rules.len() + self.correlations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The stable identifier of a rule in alerts: its `id`, else its `name`, else its title.
pub fn rule_key(id: Option<&str>, name: Option<&str>, title: &str) -> String {
    id.or(name).unwrap_or(title).to_string()
}

/// Where a signal goes: the correlation (its index) and the position in its `rules`.
#[derive(Debug, Clone, Copy)]
struct Feed {
    node: usize,
    position: usize,
}

/// What an alert of a rule or correlation says, prepared once.
#[derive(Debug, Clone)]
struct Template {
    rule_id: String,
    title: String,
    severity: Severity,
    attack: Vec<String>,
    hipaa: Vec<String>,
    author: Option<String>,
    license: Option<String>,
    references: Vec<String>,
    description: Option<String>,
}

impl Template {
    fn alert(&self, id: String, first: Timestamp, last: Timestamp, count: u64) -> Alert {
        Alert {
            id,
            rule_id: self.rule_id.clone(),
            title: self.title.clone(),
            severity: self.severity,
            first_seen: first,
            last_seen: last,
            count,
            entities: AlertEntities::default(),
            attack: self.attack.clone(),
            hipaa: self.hipaa.clone(),
            status: AlertStatus::Open,
            author: self.author.clone(),
            license: self.license.clone(),
            references: self.references.clone(),
            description: self.description.clone(),
        }
    }
}

fn severity(level: Option<&str>) -> Severity {
    // A rule without a level states none: `unknown`, rather than a guess.
    level.and_then(Severity::parse).unwrap_or(Severity::Unknown)
}

fn rule_template(rule: &Rule) -> Template {
    Template {
        rule_id: rule_key(rule.id.as_deref(), rule.name.as_deref(), &rule.title),
        title: rule.title.clone(),
        severity: severity(rule.level.as_deref()),
        attack: rule.attack.clone(),
        hipaa: rule.hipaa.clone(),
        author: rule.author.clone(),
        license: rule.license.clone(),
        references: rule.references.clone(),
        description: rule.description.clone(),
    }
}

#[derive(Debug)]
struct Node {
    template: Template,
    window: Window,
    alerts: bool,
    feeds: Vec<Feed>,
    group_by: Vec<String>,
    /// Per position of `rules`: the field each `group-by` entry is read from (aliases
    /// applied), and the `value_count` field.
    group_fields: Vec<Vec<String>>,
    value_field: Option<String>,
}

/// A [`Detector`] over a set of Sigma rules and correlations.
#[derive(Debug)]
pub struct SigmaDetector {
    set: RuleSet,
    templates: Vec<Template>,
    alerts: Vec<bool>,
    feeds: Vec<Vec<Feed>>,
    nodes: Vec<Node>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Target {
    Rule(usize),
    Correlation(usize),
}

impl SigmaDetector {
    /// Builds the detector; a correlation that refers to a rule the collection does not hold,
    /// or that refers to itself through others, is an error naming it.
    pub fn new(collection: Collection) -> Result<Self, RuleError> {
        Self::with_max_groups(collection, MAX_GROUPS)
    }

    pub fn with_max_groups(collection: Collection, max_groups: usize) -> Result<Self, RuleError> {
        let rules: Vec<CompiledRule> = collection.rules.into_iter().map(|(r, _)| r).collect();
        let correlations: Vec<Correlation> = collection
            .correlations
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        let mut by_ref: HashMap<&str, Target> = HashMap::new();
        for (i, rule) in rules.iter().enumerate() {
            for key in [rule.rule.id.as_deref(), rule.rule.name.as_deref()]
                .into_iter()
                .flatten()
            {
                by_ref.insert(key, Target::Rule(i));
            }
        }
        for (i, c) in correlations.iter().enumerate() {
            for key in [c.meta.id.as_deref(), c.meta.name.as_deref()]
                .into_iter()
                .flatten()
            {
                by_ref.insert(key, Target::Correlation(i));
            }
        }
        let mut targets: Vec<Vec<Target>> = Vec::with_capacity(correlations.len());
        for c in &correlations {
            let mut resolved = Vec::new();
            for reference in &c.rules {
                resolved.push(*by_ref.get(reference.as_str()).ok_or_else(|| {
                    RuleError::Invalid(format!(
                        "correlation `{}` refers to `{reference}`, which is not loaded",
                        c.meta.title
                    ))
                })?);
            }
            targets.push(resolved);
        }
        check_acyclic(&correlations, &targets)?;

        // A rule or correlation referred to alerts only if a correlation referring to it says
        // `generate: true`.
        let mut rule_alerts = vec![true; rules.len()];
        let mut node_alerts = vec![true; correlations.len()];
        for resolved in &targets {
            for target in resolved {
                match target {
                    Target::Rule(i) => rule_alerts[*i] = false,
                    Target::Correlation(i) => node_alerts[*i] = false,
                }
            }
        }
        for (c, resolved) in correlations.iter().zip(&targets) {
            for target in resolved.iter().filter(|_| c.generate) {
                match target {
                    Target::Rule(i) => rule_alerts[*i] = true,
                    Target::Correlation(i) => node_alerts[*i] = true,
                }
            }
        }

        let mut feeds = vec![Vec::new(); rules.len()];
        let mut node_feeds = vec![Vec::new(); correlations.len()];
        let mut nodes = Vec::with_capacity(correlations.len());
        for (node, (c, resolved)) in correlations.iter().zip(&targets).enumerate() {
            let mut group_fields = Vec::new();
            for (position, target) in resolved.iter().enumerate() {
                match target {
                    Target::Rule(i) => feeds[*i].push(Feed { node, position }),
                    Target::Correlation(i) => node_feeds[*i].push(Feed { node, position }),
                }
                let name = match target {
                    Target::Rule(i) => rules[*i].rule.name.as_deref(),
                    Target::Correlation(i) => correlations[*i].meta.name.as_deref(),
                };
                let reference = c.rules[position].as_str();
                group_fields.push(
                    c.group_by
                        .iter()
                        .map(|field| alias(c, field, name, reference))
                        .collect(),
                );
            }
            nodes.push(Node {
                template: Template {
                    rule_id: rule_key(c.meta.id.as_deref(), c.meta.name.as_deref(), &c.meta.title),
                    title: c.meta.title.clone(),
                    severity: severity(c.meta.level.as_deref()),
                    attack: c.meta.attack.clone(),
                    hipaa: c.meta.hipaa.clone(),
                    author: c.meta.author.clone(),
                    license: c.meta.license.clone(),
                    references: c.meta.references.clone(),
                    description: c.meta.description.clone(),
                },
                window: Window::new(c, max_groups),
                alerts: node_alerts[node],
                feeds: Vec::new(),
                group_by: c.group_by.clone(),
                group_fields,
                value_field: c.condition.field.clone(),
            });
        }
        for (node, feeds) in nodes.iter_mut().zip(node_feeds) {
            node.feeds = feeds;
        }
        let templates = rules.iter().map(|r| rule_template(&r.rule)).collect();
        Ok(SigmaDetector {
            set: RuleSet::new(rules),
            templates,
            alerts: rule_alerts,
            feeds,
            nodes,
        })
    }

    pub fn rules(&self) -> &[CompiledRule] {
        self.set.rules()
    }

    /// Correlation groups held, and groups evicted by the cap, over all correlations.
    pub fn correlation_state(&self) -> (usize, u64) {
        self.nodes.iter().fold((0, 0), |(held, evicted), n| {
            (held + n.window.groups(), evicted + n.window.evicted())
        })
    }

    /// Hands firings to the correlations they feed, turning each into a finding where its
    /// correlation alerts; firings of those correlations continue up the chain.
    fn propagate(&mut self, mut pending: Vec<(usize, Firing)>, out: &mut Vec<Finding>) {
        while let Some((node, firing)) = pending.pop() {
            let n = &self.nodes[node];
            if n.alerts {
                out.push(correlation_finding(n, &firing));
            }
            let feeds = n.feeds.clone();
            let source_group = n.group_by.clone();
            for feed in feeds {
                let target = &mut self.nodes[feed.node];
                let group: Vec<String> = target.group_fields[feed.position]
                    .iter()
                    .map(|field| {
                        source_group
                            .iter()
                            .position(|g| g == field)
                            .map(|i| firing.group[i].clone())
                            .unwrap_or_default()
                    })
                    .collect();
                let signal = Signal {
                    time: firing.time,
                    ids: &firing.ids,
                    group: &group,
                    value: None,
                    entities: &firing.entities,
                };
                let mut fired = Vec::new();
                target.window.signal(feed.position, &signal, &mut fired);
                pending.extend(fired.into_iter().map(|f| (feed.node, f)));
            }
        }
    }
}

/// The field a `group-by` entry is read from for one referred rule: its alias for that rule
/// (by name, or by the reference as written), or the entry itself.
fn alias(c: &Correlation, field: &str, name: Option<&str>, reference: &str) -> String {
    c.aliases
        .iter()
        .find(|(a, _)| a == field)
        .and_then(|(_, by_rule)| {
            by_rule
                .iter()
                .find(|(rule, _)| Some(rule.as_str()) == name || rule == reference)
        })
        .map_or_else(|| field.to_string(), |(_, f)| f.clone())
}

fn check_acyclic(correlations: &[Correlation], targets: &[Vec<Target>]) -> Result<(), RuleError> {
    // 0 unvisited, 1 on the current path, 2 done.
    fn visit(
        i: usize,
        targets: &[Vec<Target>],
        state: &mut [u8],
        correlations: &[Correlation],
    ) -> Result<(), RuleError> {
        match state[i] {
            2 => return Ok(()),
            1 => {
                return Err(RuleError::Invalid(format!(
                    "correlation `{}` refers to itself through other correlations",
                    correlations[i].meta.title
                )));
            }
            _ => {}
        }
        state[i] = 1;
        for t in &targets[i] {
            if let Target::Correlation(j) = t {
                visit(*j, targets, state, correlations)?;
            }
        }
        state[i] = 2;
        Ok(())
    }
    let mut state = vec![0u8; correlations.len()];
    for i in 0..correlations.len() {
        visit(i, targets, &mut state, correlations)?;
    }
    Ok(())
}

fn day_start(t: Timestamp) -> Timestamp {
    Timestamp(t.0 - t.0.rem_euclid(DAY))
}

fn correlation_finding(node: &Node, firing: &Firing) -> Finding {
    let first = firing
        .ids
        .iter()
        .map(|id| id.time())
        .min()
        .unwrap_or(firing.time)
        .min(firing.time);
    let key = firing.group.join("\u{1f}");
    let id = alert_id(&node.template.rule_id, &key, day_start(firing.episode));
    let mut alert = node
        .template
        .alert(id, first, firing.time, firing.count.max(1));
    alert.entities = firing.entities.clone();
    Finding {
        alert,
        events: firing.ids.clone(),
    }
}

/// The entities an event names, as an alert lists them. Windows' `-` (no value) is no value.
pub fn entities_of(event: &Event) -> AlertEntities {
    let text = |path: &str| {
        event
            .field(path)
            .map(|v| v.to_text().into_owned())
            .filter(|s| !s.is_empty() && s != "-")
    };
    // Windows events not normalised by Ward's decoder (a Sigma test, a raw export) still
    // name their entities in Windows' own fields.
    AlertEntities {
        user: text("actor.user.name")
            .or_else(|| text("actor.user.uid"))
            .or_else(|| text("unmapped.TargetUserName"))
            .or_else(|| text("unmapped.User")),
        patient: text("patient.id"),
        src_ip: text("src_endpoint.ip").or_else(|| text("unmapped.IpAddress")),
        dst_ip: text("dst_endpoint.ip"),
        host: text("device.hostname")
            .or_else(|| text("src_endpoint.hostname"))
            .or_else(|| text("unmapped.Computer"))
            .or_else(|| text("unmapped.ComputerName")),
        device: None,
        sender: text("email.from"),
        recipient: event.email.to.first().cloned(),
        vendor: None,
    }
}

fn field_text(event: &Event, field: &str) -> Option<String> {
    event
        .field(&field_path(field))
        .map(|v| v.to_text().into_owned())
}

impl Detector for SigmaDetector {
    fn name(&self) -> &str {
        "sigma"
    }

    fn save_state(&self) -> Option<Vec<u8>> {
        self.saved_state()
    }

    fn restore_state(&mut self, state: &[u8]) -> Result<String, String> {
        self.restored_state(state)
    }

    fn observe(&mut self, event: &Event, out: &mut Vec<Finding>) {
        let matched: Vec<usize> = self.set.matching(event).map(|(i, _)| i).collect();
        if matched.is_empty() {
            return;
        }
        let entities = entities_of(event);
        let ids = [event.id];
        let mut pending = Vec::new();
        for index in matched {
            if self.alerts[index] {
                let template = &self.templates[index];
                let key = [
                    entities.user.as_deref(),
                    entities.host.as_deref(),
                    entities.src_ip.as_deref(),
                ]
                .map(|v| v.unwrap_or_default())
                .join("\u{1f}");
                let id = alert_id(&template.rule_id, &key, day_start(event.time));
                let mut alert = template.alert(id, event.time, event.time, 1);
                alert.entities = entities.clone();
                out.push(Finding {
                    alert,
                    events: vec![event.id],
                });
            }
            for feed in self.feeds[index].clone() {
                let node = &mut self.nodes[feed.node];
                let group: Vec<String> = node.group_fields[feed.position]
                    .iter()
                    .map(|f| field_text(event, f).unwrap_or_default())
                    .collect();
                let value = node
                    .value_field
                    .as_deref()
                    .and_then(|f| field_text(event, f));
                let signal = Signal {
                    time: event.time,
                    ids: &ids,
                    group: &group,
                    value: value.as_deref(),
                    entities: &entities,
                };
                let mut fired = Vec::new();
                node.window.signal(feed.position, &signal, &mut fired);
                pending.extend(fired.into_iter().map(|f| (feed.node, f)));
            }
        }
        self.propagate(pending, out);
    }

    fn advance(&mut self, now: Timestamp, out: &mut Vec<Finding>) {
        let mut pending = Vec::new();
        for (i, node) in self.nodes.iter_mut().enumerate() {
            let mut fired = Vec::new();
            node.window.advance(now, &mut fired);
            pending.extend(fired.into_iter().map(|f| (i, f)));
        }
        self.propagate(pending, out);
    }
}

/// `product/category/service` as one short text, for listings.
pub fn describe_logsource(source: &LogSource) -> String {
    [&source.product, &source.category, &source.service]
        .iter()
        .map(|p| p.as_deref().unwrap_or("*"))
        .collect::<Vec<_>>()
        .join("/")
}

/// What the Sigma detector saves between runs: each correlation's open groups, under the
/// correlation's rule id and a fingerprint of what decides its reading.
#[derive(serde::Serialize, serde::Deserialize)]
struct SavedState {
    version: u32,
    correlations: Vec<SavedWindow>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct SavedWindow {
    rule_id: String,
    fingerprint: String,
    window: super::correlation::WindowState,
}

const STATE_VERSION: u32 = 1;

impl Node {
    fn fingerprint(&self) -> String {
        format!(
            "{}|{:?}|{:?}|{:?}",
            self.window.fingerprint(),
            self.group_by,
            self.group_fields,
            self.value_field
        )
    }
}

impl SigmaDetector {
    /// The open correlation windows, serialised (an empty list when none is open, so a save
    /// replaces older state); `None` without correlations.
    pub(crate) fn saved_state(&self) -> Option<Vec<u8>> {
        if self.nodes.is_empty() {
            return None;
        }
        let state = SavedState {
            version: STATE_VERSION,
            correlations: self
                .nodes
                .iter()
                .filter(|n| n.window.groups() > 0)
                .map(|n| SavedWindow {
                    rule_id: n.template.rule_id.clone(),
                    fingerprint: n.fingerprint(),
                    window: n.window.save(),
                })
                .collect(),
        };
        serde_json::to_vec(&state).ok()
    }

    pub(crate) fn restored_state(&mut self, bytes: &[u8]) -> Result<String, String> {
        let state: SavedState = serde_json::from_slice(bytes)
            .map_err(|e| format!("the saved correlation state does not read: {e}"))?;
        if state.version != STATE_VERSION {
            return Err(format!(
                "the saved correlation state is of version {}, this Ward reads {STATE_VERSION}",
                state.version
            ));
        }
        let (mut groups, mut taken, mut changed) = (0usize, 0usize, Vec::new());
        for saved in state.correlations {
            match self
                .nodes
                .iter_mut()
                .find(|n| n.template.rule_id == saved.rule_id)
            {
                Some(node) if node.fingerprint() == saved.fingerprint => {
                    groups += node.window.restore(saved.window);
                    taken += 1;
                }
                Some(_) => changed.push(saved.rule_id),
                None => {}
            }
        }
        let mut said =
            format!("{groups} open correlation groups of {taken} correlations taken back");
        if !changed.is_empty() {
            said.push_str(&format!(
                "; left out, their rules changed: {}",
                changed.join(", ")
            ));
        }
        Ok(said)
    }
}
