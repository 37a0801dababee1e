//! A [`RuleSet`]: every compiled rule lowered into one matcher, so an event is tested against
//! all rules without trying them one by one. It must never match differently from
//! [`CompiledRule::matches`], the rule-by-rule reading, which stays the reference.
//!
//! How it is built, once:
//! - Every leaf test (field, pattern) of every rule becomes a *predicate*; identical text
//!   predicates (same field, case mode, kind and literal) are one predicate shared by rules.
//! - Every text predicate has an *atom*: a literal that any value it accepts must contain (its
//!   literal; for a wildcard the longest literal run between `*` and `?`).
//! - For each rule, a *need*: a set of atoms of which at least one must occur in the event for
//!   the condition to hold (from `and` the most selective branch, from `or` the union; `not`,
//!   regexes, numbers, networks and `null` give none). Rules without a need are always tried.
//! - Rules are grouped into *plans* by logsource, one per (channel, EventID), channel, any
//!   Windows event, and Ward decoder, each holding every rule such an event can select. A plan
//!   has, per field some need reads, an Aho-Corasick automaton over all its rules' atoms on that
//!   field, and for each atom the rules it wakes.
//!
//! How an event is evaluated: its plan is found from its channel and EventID; each field of
//! the plan's automata is read and scanned once, which marks the atoms found and wakes the
//! rules needing them; the woken rules and those always tried are evaluated in order, each
//! predicate at most once per event (a text predicate whose atom was not found is false
//! without looking at the text; a `contains` is decided by its atom alone).
//!
//! Scanning is most of the work, and most of the text scanned holds none of the literals: the
//! keyword search of every Windows event's every value (SigmaHQ's mimikatz keywords, about
//! 1.9 KB an event) is three quarters of it. So a field with few literals (Teddy's limits,
//! up to 64) first asks a SIMD searcher (the crate's `packed` Teddy) whether any of them
//! occurs at all, and runs its automaton only when one does; the automaton finds them all,
//! overlapping, which the leftmost-first searcher alone would not.
//!
//! Lowercase literals are looked for in each text lowercased into one reused buffer: ASCII
//! text byte by byte, without allocating; other text with Unicode's lowercasing, which can
//! turn a non-ASCII character into ASCII letters (`K` the Kelvin sign into `k`). Teddy has no
//! case-insensitive mode; an ASCII case-insensitive automaton on the text as written saved
//! under 2% of the instructions and took 42 MB more for its automata, so it is not used. A
//! value's list of lowercase texts is made only when a woken rule's predicate compares it.
//! Fields the source carried are read straight from `unmapped`, as
//! `Event::field("unmapped.<name>")` reads them, without first comparing the name with every
//! model field.

use super::compile::{CompiledRule, Pattern, Test, TextTest};
use super::condition::Expr;
use super::logsource::Route;
use aho_corasick::{AhoCorasick, AhoCorasickKind, packed};
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use ward_model::{Event, FieldValue};

/// Compiled rules evaluated together (see the module documentation).
#[derive(Debug, Default)]
pub struct RuleSet {
    rules: Vec<CompiledRule>,
    programs: Vec<Program>,
    /// Field paths read by predicates; `None` is the keyword pseudo-field (every text value).
    slots: Vec<Option<String>>,
    /// How each slot is read from an event.
    reads: Vec<Read>,
    preds: Vec<Pred>,
    atoms: usize,
    plans: Vec<Plan>,
    /// Windows plans by lowercased channel: per EventID, and for the channel's other events.
    by_channel: HashMap<String, ChannelPlans>,
    any_windows: Option<usize>,
    by_decoder: HashMap<&'static str, usize>,
}

/// How a slot's value is read from an event.
#[derive(Debug)]
enum Read {
    /// A field the source carried, by its name in `unmapped`.
    Unmapped(String),
    /// A field of the model, through `Event::field`.
    Model(String),
    /// Every text value the source carried (keyword searches).
    Keywords,
}

impl Read {
    fn of(path: &Option<String>) -> Self {
        match path.as_deref() {
            None => Read::Keywords,
            Some(path) => match path.strip_prefix("unmapped.") {
                Some(name) => Read::Unmapped(name.to_string()),
                None => Read::Model(path.to_string()),
            },
        }
    }
}

/// A field the source carried, as `Event::field("unmapped.<name>")` gives it, without first
/// comparing the name with every model field.
fn unmapped_field<'e>(event: &'e Event, name: &str) -> Option<FieldValue<'e>> {
    match event.unmapped.get(name)? {
        serde_json::Value::String(s) => Some(FieldValue::Text(Cow::Borrowed(s))),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Some(FieldValue::Int(i)),
            None => Some(FieldValue::Text(Cow::Owned(n.to_string()))),
        },
        serde_json::Value::Null => None,
        v => Some(FieldValue::Text(Cow::Owned(v.to_string()))),
    }
}

#[derive(Debug, Default)]
struct ChannelPlans {
    by_event_id: HashMap<i64, usize>,
    other: Option<usize>,
}

/// A rule's condition over predicate indices.
#[derive(Debug)]
struct Program {
    condition: Expr,
    /// Per search, its alternatives, each a list of tests that must all hold.
    searches: Vec<Vec<Vec<Check>>>,
    /// Product routes narrow by class and service beyond what the plan index decides.
    check_route: bool,
}

#[derive(Debug)]
enum Check {
    Any(Vec<u32>),
    All(Vec<u32>),
    /// A keyword test with `|all` (one value must satisfy every pattern), which does not split
    /// into predicates; `compile` never builds one, the test decides itself if it ever does.
    Whole {
        search: usize,
        alternative: usize,
        test: usize,
    },
}

#[derive(Debug)]
struct Pred {
    slot: u32,
    pattern: Pattern,
    atom: Option<u32>,
}

#[derive(Debug)]
struct Atom {
    slot: u32,
    cased: bool,
    literal: String,
}

#[derive(Debug, Default)]
struct Plan {
    scans: Vec<Scan>,
    /// Rules tried for every event of the plan (no need), ascending.
    always: Vec<u32>,
}

/// One field's automata in a plan: lowercased literals over the lowercased values (see the
/// module documentation), `cased` literals over the values as written.
#[derive(Debug)]
struct Scan {
    slot: u32,
    automata: Vec<(bool, Automaton)>,
}

#[derive(Debug)]
struct Automaton {
    ac: AhoCorasick,
    /// For a few literals, a SIMD searcher telling whether any occurs at all (see the module
    /// documentation); `None` beyond Teddy's limits or without SIMD.
    any: Option<packed::Searcher>,
    /// Per automaton pattern: its atom, and the rules of the plan it wakes.
    atoms: Vec<u32>,
    wakes: Vec<Vec<u32>>,
}

/// Up to this many literals on a field, its automaton is a DFA (fastest to scan, about 6 KB of
/// memory per literal); beyond, the crate's choice (a contiguous NFA, a few times smaller).
/// SigmaHQ's process creation rules hold 9,097 `CommandLine` literals: 57 MB as a DFA.
const DFA_PATTERNS: usize = 2_000;

/// A set of atoms, one of which must occur; empty means the condition can never hold.
type Need = Vec<u32>;

impl RuleSet {
    pub fn new(rules: Vec<CompiledRule>) -> Self {
        let mut builder = Builder::default();
        let programs: Vec<Program> = rules.iter().map(|rule| builder.program(rule)).collect();
        let needs: Vec<Option<Need>> = programs
            .iter()
            .map(|p| builder.need(p, &p.condition))
            .collect();
        // Every atom a rule's predicates carry, so a scanned field knows all of them.
        let rule_atoms: Vec<Vec<u32>> = programs
            .iter()
            .map(|p| {
                let mut atoms = BTreeSet::new();
                for alternatives in &p.searches {
                    for checks in alternatives {
                        for check in checks {
                            if let Check::Any(ps) | Check::All(ps) = check {
                                atoms.extend(
                                    ps.iter().filter_map(|&i| builder.preds[i as usize].atom),
                                );
                            }
                        }
                    }
                }
                atoms.into_iter().collect()
            })
            .collect();

        let mut by_channel_event: HashMap<(String, i64), Vec<u32>> = HashMap::new();
        let mut by_channel: HashMap<String, Vec<u32>> = HashMap::new();
        let mut any_windows: Vec<u32> = Vec::new();
        let mut by_decoder: HashMap<&'static str, Vec<u32>> = HashMap::new();
        for (index, rule) in rules.iter().enumerate() {
            let index = index as u32;
            match &rule.route {
                Route::Product { decoder, .. } => {
                    by_decoder.entry(decoder).or_default().push(index)
                }
                Route::Windows { channel, kinds } if !kinds.is_empty() => {
                    let _ = channel;
                    for (kind_channel, ids) in kinds.iter() {
                        for id in ids.iter() {
                            by_channel_event
                                .entry((kind_channel.to_ascii_lowercase(), *id))
                                .or_default()
                                .push(index);
                        }
                    }
                }
                Route::Windows {
                    channel: Some(channel),
                    ..
                } => by_channel
                    .entry(channel.to_ascii_lowercase())
                    .or_default()
                    .push(index),
                Route::Windows { channel: None, .. } => any_windows.push(index),
                Route::Nothing(_) => {} // selects nothing
            }
        }
        let mut set = RuleSet {
            reads: builder.slots.iter().map(Read::of).collect(),
            slots: builder.slots,
            atoms: builder.atoms.len(),
            ..Default::default()
        };
        let planner = Planner {
            needs: &needs,
            rule_atoms: &rule_atoms,
            atoms: &builder.atoms,
        };
        let union = |parts: &[&[u32]]| -> Vec<u32> {
            let mut all: Vec<u32> = parts.iter().flat_map(|p| p.iter().copied()).collect();
            all.sort_unstable();
            all.dedup();
            all
        };
        for ((channel, id), rules) in &by_channel_event {
            let on_channel = by_channel.get(channel).map_or(&[][..], Vec::as_slice);
            let plan = planner.plan(&union(&[&any_windows, on_channel, rules]));
            set.plans.push(plan);
            let at = set.plans.len() - 1;
            let plans = set.by_channel.entry(channel.clone()).or_default();
            plans.by_event_id.insert(*id, at);
        }
        for (channel, rules) in &by_channel {
            set.plans.push(planner.plan(&union(&[&any_windows, rules])));
            let at = set.plans.len() - 1;
            set.by_channel.entry(channel.clone()).or_default().other = Some(at);
        }
        if !any_windows.is_empty() {
            set.plans.push(planner.plan(&any_windows));
            set.any_windows = Some(set.plans.len() - 1);
        }
        for (decoder, rules) in &by_decoder {
            set.plans.push(planner.plan(rules));
            set.by_decoder.insert(decoder, set.plans.len() - 1);
        }
        set.preds = builder.preds;
        set.programs = programs;
        set.rules = rules;
        set
    }

    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// The rules the event matches, in the order the rules were given.
    pub fn matches<'a>(&'a self, event: &'a Event) -> impl Iterator<Item = &'a CompiledRule> {
        self.matching(event).map(|(_, rule)| rule)
    }

    /// As [`RuleSet::matches`], with each rule's index in [`RuleSet::rules`].
    pub fn matching<'a>(
        &'a self,
        event: &'a Event,
    ) -> impl Iterator<Item = (usize, &'a CompiledRule)> {
        let mut matched: Vec<usize> = Vec::new();
        let mut plans = 0;
        if let Some(&plan) = self.by_decoder.get(event.metadata.product.as_str()) {
            self.run(&self.plans[plan], event, &mut matched);
            plans += 1;
        }
        if event.metadata.product == "windows" {
            let channel = match event.unmapped.get("Channel") {
                Some(serde_json::Value::String(c)) => self.channel(c),
                _ => self.by_channel.get(""),
            };
            let plan = channel
                .and_then(|plans| {
                    match unmapped_field(event, "EventID") {
                        Some(FieldValue::Int(id)) => plans.by_event_id.get(&id).copied(),
                        _ => None,
                    }
                    .or(plans.other)
                })
                .or(self.any_windows);
            if let Some(plan) = plan {
                self.run(&self.plans[plan], event, &mut matched);
                plans += 1;
            }
        }
        if plans > 1 {
            matched.sort_unstable();
            matched.dedup();
        }
        matched.into_iter().map(|i| (i, &self.rules[i]))
    }

    /// The plans of a channel, compared ignoring ASCII case as the routes compare it.
    fn channel(&self, name: &str) -> Option<&ChannelPlans> {
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            self.by_channel.get(&name.to_ascii_lowercase())
        } else {
            self.by_channel.get(name)
        }
    }

    /// Evaluates one plan's rules against the event, appending the indices of those matching.
    fn run(&self, plan: &Plan, event: &Event, out: &mut Vec<usize>) {
        SCRATCH.with_borrow_mut(|scratch| {
            scratch.begin(
                self.preds.len(),
                self.atoms,
                self.slots.len(),
                self.rules.len(),
            );
            let mut values: Vec<SlotValue<'_>> = Vec::with_capacity(plan.scans.len() + 8);
            let generation = scratch.generation;
            let mut lower = std::mem::take(&mut scratch.lower);
            let mut woken = std::mem::take(&mut scratch.woken);
            woken.clear();
            for scan in &plan.scans {
                let at = self.value(scan.slot, event, scratch, &mut values);

                scratch.scanned[scan.slot as usize] = generation;
                let value = &values[at];
                for (cased, automaton) in &scan.automata {
                    for text in &value.texts {
                        let text: &str = if *cased {
                            text
                        } else {
                            lower.clear();
                            if text.is_ascii() {
                                lower.push_str(text);
                                lower.make_ascii_lowercase();
                            } else {
                                lower.push_str(&text.to_lowercase());
                            }
                            &lower
                        };
                        if automaton
                            .any
                            .as_ref()
                            .is_some_and(|a| a.find(text).is_none())
                        {
                            continue;
                        }
                        automaton.mark(text, scratch, &mut woken);
                    }
                }
            }
            scratch.lower = lower;
            for &rule in &plan.always {
                if scratch.rules[rule as usize] != generation {
                    scratch.rules[rule as usize] = generation;
                    woken.push(rule);
                }
            }
            woken.sort_unstable();
            for &rule in &woken {
                let rule = rule as usize;
                let program = &self.programs[rule];
                if program.check_route && !self.rules[rule].route.selects(event) {
                    continue;
                }
                let mut eval = Eval {
                    set: self,
                    rule,
                    event,
                    scratch,
                    values: &mut values,
                };
                if eval.expr(&program.condition) {
                    out.push(rule);
                }
            }
            scratch.woken = woken;
        });
    }

    /// The position in `values` of the slot's value for this event, read on first use.
    fn value<'e>(
        &self,
        slot: u32,
        event: &'e Event,
        scratch: &mut Scratch,
        values: &mut Vec<SlotValue<'e>>,
    ) -> usize {
        let s = slot as usize;
        if scratch.slots[s] == scratch.generation {
            return scratch.slot_at[s] as usize;
        }
        let value = match &self.reads[s] {
            Read::Unmapped(name) => SlotValue::of_field(unmapped_field(event, name)),
            Read::Model(path) => SlotValue::of_field(event.field(path)),
            Read::Keywords => SlotValue::of_keywords(event),
        };
        values.push(value);
        scratch.slots[s] = scratch.generation;
        scratch.slot_at[s] = (values.len() - 1) as u32;
        values.len() - 1
    }
}

impl Automaton {
    /// Marks the atoms found in `text` and wakes the rules they are the first to wake.
    fn mark(&self, text: &str, scratch: &mut Scratch, woken: &mut Vec<u32>) {
        let generation = scratch.generation;
        for found in self.ac.find_overlapping_iter(text) {
            let i = found.pattern().as_usize();
            let atom = self.atoms[i] as usize;
            if scratch.atoms[atom] == generation {
                continue;
            }
            scratch.atoms[atom] = generation;
            for &rule in &self.wakes[i] {
                if scratch.rules[rule as usize] != generation {
                    scratch.rules[rule as usize] = generation;
                    woken.push(rule);
                }
            }
        }
    }
}

/// A field's value as the patterns read it: its texts (a list's items, else the value as
/// text) and, once a predicate needs them, their lowercase forms.
struct SlotValue<'e> {
    present: bool,
    texts: Vec<Cow<'e, str>>,
    lowered: Option<Vec<String>>,
}

impl<'e> SlotValue<'e> {
    fn of_field(value: Option<FieldValue<'e>>) -> Self {
        let present = value.is_some();
        let texts: Vec<Cow<'e, str>> = match value {
            None => Vec::new(),
            Some(FieldValue::List(items)) => items.into_iter().map(Cow::Borrowed).collect(),
            Some(FieldValue::Text(text)) => vec![text],
            Some(FieldValue::Int(i)) => vec![Cow::Owned(i.to_string())],
        };
        Self::new(present, texts)
    }

    /// Keyword searches read every text value the source carried.
    fn of_keywords(event: &'e Event) -> Self {
        let mut texts: Vec<Cow<'e, str>> = Vec::with_capacity(event.unmapped.len());
        texts.extend(event.unmapped.values().filter_map(|v| match v {
            serde_json::Value::String(s) => Some(Cow::Borrowed(s.as_str())),
            _ => None,
        }));
        Self::new(!texts.is_empty(), texts)
    }

    fn new(present: bool, texts: Vec<Cow<'e, str>>) -> Self {
        SlotValue {
            present,
            texts,
            lowered: None,
        }
    }

    /// The texts and their lowercase forms, lowercased on first use.
    fn lowered(&mut self) -> (&[Cow<'e, str>], &[String]) {
        let texts = &self.texts;
        let lowered = self
            .lowered
            .get_or_insert_with(|| texts.iter().map(|t| t.to_lowercase()).collect());
        (texts, lowered)
    }
}

/// Per-event state, reused between events on a thread: an entry is set for the current event
/// when its stamp equals `generation`, so nothing is cleared between events.
#[derive(Default)]
struct Scratch {
    generation: u32,
    preds: Vec<u32>,
    pred_values: Vec<bool>,
    atoms: Vec<u32>,
    slots: Vec<u32>,
    slot_at: Vec<u32>,
    scanned: Vec<u32>,
    rules: Vec<u32>,
    woken: Vec<u32>,
    /// The text being scanned, lowercased.
    lower: String,
}

impl Scratch {
    fn begin(&mut self, preds: usize, atoms: usize, slots: usize, rules: usize) {
        if self.generation == u32::MAX {
            for stamps in [
                &mut self.preds,
                &mut self.atoms,
                &mut self.slots,
                &mut self.scanned,
                &mut self.rules,
            ] {
                stamps.fill(0);
            }
            self.generation = 0;
        }
        self.generation += 1;
        let grow = |v: &mut Vec<u32>, n: usize| {
            if v.len() < n {
                v.resize(n, 0);
            }
        };
        grow(&mut self.preds, preds);
        if self.pred_values.len() < preds {
            self.pred_values.resize(preds, false);
        }
        grow(&mut self.atoms, atoms);
        grow(&mut self.slots, slots);
        grow(&mut self.slot_at, slots);
        grow(&mut self.scanned, slots);
        grow(&mut self.rules, rules);
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// One rule's condition evaluated against one event.
struct Eval<'a, 'e> {
    set: &'a RuleSet,
    rule: usize,
    event: &'e Event,
    scratch: &'a mut Scratch,
    values: &'a mut Vec<SlotValue<'e>>,
}

impl Eval<'_, '_> {
    fn expr(&mut self, expr: &Expr) -> bool {
        match expr {
            Expr::Search(i) => self.search(*i),
            Expr::Not(inner) => !self.expr(inner),
            Expr::And(items) => items.iter().all(|e| self.expr(e)),
            Expr::Or(items) => items.iter().any(|e| self.expr(e)),
        }
    }

    fn search(&mut self, index: usize) -> bool {
        let set = self.set;
        set.programs[self.rule].searches[index]
            .iter()
            .any(|checks| checks.iter().all(|check| self.check(index, check)))
    }

    fn check(&mut self, search: usize, check: &Check) -> bool {
        match check {
            Check::Any(preds) => preds.iter().any(|&p| self.pred(p)),
            Check::All(preds) => preds.iter().all(|&p| self.pred(p)),
            Check::Whole {
                search: s,
                alternative,
                test,
            } => {
                debug_assert_eq!(search, *s);
                let set = self.set;
                let test: &Test = &set.rules[self.rule].searches[*s].1[*alternative][*test];
                test.matches(self.event)
            }
        }
    }

    fn pred(&mut self, index: u32) -> bool {
        let i = index as usize;
        let generation = self.scratch.generation;
        if self.scratch.preds[i] == generation {
            return self.scratch.pred_values[i];
        }
        let holds = self.decide(i);
        self.scratch.preds[i] = generation;
        self.scratch.pred_values[i] = holds;
        holds
    }

    fn decide(&mut self, index: usize) -> bool {
        let pred = &self.set.preds[index];
        let slot = pred.slot as usize;
        if let (Some(atom), Pattern::Text { test, .. }) = (pred.atom, &pred.pattern)
            && self.scratch.scanned[slot] == self.scratch.generation
        {
            if self.scratch.atoms[atom as usize] != self.scratch.generation {
                return false;
            }
            if matches!(test, TextTest::Contains(_)) {
                return true;
            }
        }
        let at = self
            .set
            .value(pred.slot, self.event, self.scratch, self.values);
        let value = &mut self.values[at];
        let keyword = self.set.slots[slot].is_none();
        match &pred.pattern {
            // A keyword test holds when some text value satisfies the pattern.
            Pattern::Null if keyword => false,
            Pattern::Exists(want) if keyword => *want && value.present,
            Pattern::FieldRef(other) => {
                let (_, lowered) = value.lowered();
                self.event
                    .field(other)
                    .is_some_and(|o| lowered.contains(&o.to_text().to_lowercase()))
            }
            pattern @ Pattern::Text { cased: false, .. } => {
                let present = value.present;
                let (texts, lowered) = value.lowered();
                pattern.matches(present, texts, lowered)
            }
            // Compares the texts as written.
            pattern => pattern.matches(value.present, &value.texts, &[]),
        }
    }
}

/// Lowers rules to programs over shared predicates and atoms.
#[derive(Default)]
struct Builder {
    slots: Vec<Option<String>>,
    slot_ids: HashMap<Option<String>, u32>,
    preds: Vec<Pred>,
    text_preds: HashMap<(u32, String), u32>,
    atoms: Vec<Atom>,
    atom_ids: HashMap<(u32, bool, String), u32>,
}

impl Builder {
    fn program(&mut self, rule: &CompiledRule) -> Program {
        let searches = rule
            .searches
            .iter()
            .enumerate()
            .map(|(s, (_, alternatives))| {
                alternatives
                    .iter()
                    .enumerate()
                    .map(|(a, tests)| {
                        tests
                            .iter()
                            .enumerate()
                            .map(|(t, test)| self.check(test, s, a, t))
                            .collect()
                    })
                    .collect()
            })
            .collect();
        Program {
            condition: rule.condition.clone(),
            searches,
            check_route: matches!(rule.route, Route::Product { .. }),
        }
    }

    fn check(&mut self, test: &Test, search: usize, alternative: usize, index: usize) -> Check {
        if test.path.is_none() && test.all {
            return Check::Whole {
                search,
                alternative,
                test: index,
            };
        }
        let slot = self.slot(&test.path);
        let preds = test.patterns.iter().map(|p| self.pred(slot, p)).collect();
        if test.all {
            Check::All(preds)
        } else {
            Check::Any(preds)
        }
    }

    fn slot(&mut self, path: &Option<String>) -> u32 {
        if let Some(&id) = self.slot_ids.get(path) {
            return id;
        }
        self.slots.push(path.clone());
        let id = (self.slots.len() - 1) as u32;
        self.slot_ids.insert(path.clone(), id);
        id
    }

    fn pred(&mut self, slot: u32, pattern: &Pattern) -> u32 {
        let Pattern::Text { test, cased } = pattern else {
            self.preds.push(Pred {
                slot,
                pattern: pattern.clone(),
                atom: None,
            });
            return (self.preds.len() - 1) as u32;
        };
        let (kind, literal, needle) = match test {
            TextTest::Equals(s) => ('=', s.as_str(), s.as_str()),
            TextTest::Prefix(s) => ('^', s.as_str(), s.as_str()),
            TextTest::Suffix(s) => ('$', s.as_str(), s.as_str()),
            TextTest::Contains(s) => ('~', s.as_str(), s.as_str()),
            TextTest::Wildcard { re, needle } => ('*', re.as_str(), needle.as_str()),
        };
        let key = (slot, format!("{}{kind}{literal}", u8::from(*cased)));
        if let Some(&id) = self.text_preds.get(&key) {
            return id;
        }
        let atom = (!needle.is_empty()).then(|| self.atom(slot, *cased, needle));
        self.preds.push(Pred {
            slot,
            pattern: pattern.clone(),
            atom,
        });
        let id = (self.preds.len() - 1) as u32;
        self.text_preds.insert(key, id);
        id
    }

    fn atom(&mut self, slot: u32, cased: bool, literal: &str) -> u32 {
        let key = (slot, cased, literal.to_string());
        if let Some(&id) = self.atom_ids.get(&key) {
            return id;
        }
        self.atoms.push(Atom {
            slot,
            cased,
            literal: literal.to_string(),
        });
        let id = (self.atoms.len() - 1) as u32;
        self.atom_ids.insert(key, id);
        id
    }

    /// A need of the expression (see the module documentation), or `None` when it can hold
    /// without any atom occurring.
    fn need(&self, program: &Program, expr: &Expr) -> Option<Need> {
        match expr {
            Expr::Search(i) => self.any(
                program.searches[*i]
                    .iter()
                    .map(|checks| self.all(checks.iter().map(|c| self.check_need(c)))),
            ),
            Expr::Not(_) => None,
            Expr::And(items) => self.all(items.iter().map(|e| self.need(program, e))),
            Expr::Or(items) => self.any(items.iter().map(|e| self.need(program, e))),
        }
    }

    fn check_need(&self, check: &Check) -> Option<Need> {
        let pred_need = |&p: &u32| self.preds[p as usize].atom.map(|a| vec![a]);
        match check {
            Check::Any(preds) => self.any(preds.iter().map(pred_need)),
            Check::All(preds) => self.all(preds.iter().map(pred_need)),
            Check::Whole { .. } => None,
        }
    }

    /// Of alternatives any of which may hold: the union of their needs, if each has one.
    fn any(&self, needs: impl Iterator<Item = Option<Need>>) -> Option<Need> {
        let mut union = Vec::new();
        for need in needs {
            union.extend(need?);
        }
        union.sort_unstable();
        union.dedup();
        Some(union)
    }

    /// Of parts that must all hold: the need of the most selective part that has one.
    fn all(&self, needs: impl Iterator<Item = Option<Need>>) -> Option<Need> {
        needs
            .flatten()
            .min_by(|a, b| self.cost(a).total_cmp(&self.cost(b)))
    }

    /// How often a need is expected to wake its rule: short literals occur often, and an
    /// EventID occurs in every event of its kind.
    fn cost(&self, need: &Need) -> f64 {
        need.iter()
            .map(|&a| {
                let atom = &self.atoms[a as usize];
                let event_id = self.slots[atom.slot as usize]
                    .as_deref()
                    .is_some_and(|p| p == "unmapped.EventID");
                if event_id {
                    1.0
                } else {
                    0.5f64.powf(atom.literal.chars().count() as f64 / 2.0)
                }
            })
            .sum()
    }
}

/// Builds plans from the rules' needs and atoms.
struct Planner<'a> {
    needs: &'a [Option<Need>],
    rule_atoms: &'a [Vec<u32>],
    atoms: &'a [Atom],
}

impl Planner<'_> {
    /// The plan for events that can select exactly `rules` (ascending).
    fn plan(&self, rules: &[u32]) -> Plan {
        let mut always = Vec::new();
        // Per field read by some need: the atoms to look for, and which rules each wakes.
        let mut fields: HashMap<u32, HashMap<u32, Vec<u32>>> = HashMap::new();
        for &rule in rules {
            match &self.needs[rule as usize] {
                None => always.push(rule),
                Some(need) => {
                    for &atom in need {
                        fields
                            .entry(self.atoms[atom as usize].slot)
                            .or_default()
                            .entry(atom)
                            .or_default()
                            .push(rule);
                    }
                }
            }
        }
        // A scanned field must know every atom of the plan on it, not only the needed ones.
        for &rule in rules {
            for &atom in &self.rule_atoms[rule as usize] {
                if let Some(field) = fields.get_mut(&self.atoms[atom as usize].slot) {
                    field.entry(atom).or_default();
                }
            }
        }
        let mut slots: Vec<u32> = fields.keys().copied().collect();
        slots.sort_unstable();
        let mut scans = Vec::new();
        for slot in slots {
            let mut wakes: Vec<(u32, Vec<u32>)> = fields
                .remove(&slot)
                .unwrap_or_default()
                .into_iter()
                .collect();
            wakes.sort_unstable_by_key(|(atom, _)| *atom);
            let mut automata = Vec::new();
            let mut failed = Vec::new();
            for cased in [false, true] {
                let (atoms, woken): (Vec<u32>, Vec<Vec<u32>>) = wakes
                    .iter()
                    .filter(|(atom, _)| self.atoms[*atom as usize].cased == cased)
                    .cloned()
                    .unzip();
                if atoms.is_empty() {
                    continue;
                }
                let literals = atoms.iter().map(|&a| &self.atoms[a as usize].literal);
                let any = packed::Config::new()
                    .match_kind(packed::MatchKind::LeftmostFirst)
                    .builder()
                    .extend(literals.clone())
                    .build();
                let built = AhoCorasick::builder()
                    .kind((atoms.len() <= DFA_PATTERNS).then_some(AhoCorasickKind::DFA))
                    .build(literals);
                match built {
                    Ok(ac) => automata.push((
                        cased,
                        Automaton {
                            ac,
                            any,
                            atoms,
                            wakes: woken,
                        },
                    )),
                    Err(_) => failed.extend(woken.into_iter().flatten()),
                }
            }
            if failed.is_empty() {
                scans.push(Scan { slot, automata });
            } else {
                // Too large for an automaton: the field is not scanned and its rules are
                // tried for every event instead (their predicates then read the texts).
                always.extend(wakes.into_iter().flat_map(|(_, rules)| rules));
            }
        }
        always.sort_unstable();
        always.dedup();
        Plan { scans, always }
    }
}
