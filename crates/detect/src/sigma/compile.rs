//! Compilation: a [`Rule`] becomes a [`CompiledRule`] once, with its logsource routed, its
//! field names resolved to event paths, its values transformed by their modifiers and lowered
//! to the cheapest test that decides them (equals, prefix, suffix, contains, or a regex only
//! when a wildcard sits inside). Evaluation then only reads fields and compares.
//!
//! Case-insensitive tests keep their literal lowercased and compare it with the lowercased
//! field, which is computed once per field per search rather than once per value.

use super::condition::{self, Expr};
use super::logsource::{Route, field_path};
use super::placeholder::Placeholders;
use super::{FieldSpec, Rule, RuleError, Search, Value};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use regex::{Regex, RegexBuilder};
use std::borrow::Cow;
use std::net::IpAddr;
use ward_model::{Event, FieldValue};

/// Bounds on a rule's compiled regex, since rule text may come from anyone. 10 MiB, as the
/// regex crate's default: SigmaHQ's `\w{1,64}` (Unicode classes, repeated) needs more than 1 MiB.
const REGEX_SIZE_LIMIT: usize = 10 << 20;

/// A rule ready to evaluate.
#[derive(Debug)]
pub struct CompiledRule {
    pub rule: Rule,
    pub route: Route,
    pub(super) searches: Vec<(String, Vec<Vec<Test>>)>,
    pub(super) condition: Expr,
}

/// One field (or, for keywords, any field) and what its value must satisfy.
#[derive(Debug)]
pub(super) struct Test {
    /// `None` for keyword searches: any text value of the event.
    pub(super) path: Option<String>,
    pub(super) patterns: Vec<Pattern>,
    /// `|all`: every pattern must hold, rather than any.
    pub(super) all: bool,
}

#[derive(Debug, Clone)]
pub(super) enum Pattern {
    /// `null`: the field is absent.
    Null,
    Exists(bool),
    /// Text tests; `cased` compares the original text, otherwise both sides are lowercase.
    Text {
        test: TextTest,
        cased: bool,
    },
    Regex(Regex),
    Cidr(IpAddr, u8),
    Number(Ordering, f64),
    /// `fieldref`: equal (ignoring case) to the value of another field, by its event path.
    FieldRef(String),
}

#[derive(Debug, Clone)]
pub(super) enum TextTest {
    Equals(String),
    Prefix(String),
    Suffix(String),
    Contains(String),
    /// `needle` is the longest run of literal characters between wildcards: every text the
    /// regex matches contains it, which lets a rule set look for it with its literals.
    Wildcard {
        re: Regex,
        needle: String,
    },
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Ordering {
    Lt,
    Lte,
    Gt,
    Gte,
}

/// Compiles a parsed rule; every unsupported feature is an error naming it. A placeholder of
/// the `expand` modifier has no values here, so a rule using one is refused: see
/// [`compile_with`].
pub fn compile(rule: Rule) -> Result<CompiledRule, RuleError> {
    compile_with(rule, &Placeholders::default())
}

/// Compiles a parsed rule with the configured values of `expand` placeholders.
pub fn compile_with(rule: Rule, placeholders: &Placeholders) -> Result<CompiledRule, RuleError> {
    let route = Route::of(&rule.logsource);
    let map = |specs: &[FieldSpec]| -> Result<Vec<Test>, RuleError> {
        let mut all = Vec::new();
        for spec in specs {
            all.extend(tests(spec, placeholders)?);
        }
        Ok(all)
    };
    let mut searches = Vec::new();
    for (name, search) in &rule.detection.searches {
        let alternatives = match search {
            Search::AllOf(specs) => vec![map(specs)?],
            Search::AnyOf(maps) => maps
                .iter()
                .map(|specs| map(specs))
                .collect::<Result<_, _>>()?,
            Search::Keywords(values) => values
                .iter()
                .map(|v| {
                    let spec = FieldSpec {
                        field: String::new(),
                        modifiers: vec!["contains".into()],
                        values: vec![v.clone()],
                    };
                    map(std::slice::from_ref(&spec))
                })
                .collect::<Result<_, _>>()?,
        };
        searches.push((name.clone(), alternatives));
    }
    let names: Vec<&str> = searches.iter().map(|(n, _)| n.as_str()).collect();
    let mut conditions = Vec::new();
    for text in &rule.detection.conditions {
        conditions.push(
            condition::parse(text, &names).map_err(|reason| RuleError::Condition {
                condition: text.clone(),
                reason,
            })?,
        );
    }
    let condition = if conditions.len() == 1 {
        conditions.remove(0)
    } else {
        Expr::Or(conditions)
    };
    Ok(CompiledRule {
        rule,
        route,
        searches,
        condition,
    })
}

impl CompiledRule {
    /// Whether the event is of the rule's logsource and satisfies its condition.
    pub fn matches(&self, event: &Event) -> bool {
        self.route.selects(event) && self.eval(&self.condition, event)
    }

    /// For a matching event, the names of the searches that matched it (why it matched);
    /// `None` when the rule does not match.
    pub fn explain(&self, event: &Event) -> Option<Vec<&str>> {
        if !self.matches(event) {
            return None;
        }
        Some(
            self.searches
                .iter()
                .enumerate()
                .filter(|(i, _)| self.search(*i, event))
                .map(|(_, (name, _))| name.as_str())
                .collect(),
        )
    }

    fn eval(&self, expr: &Expr, event: &Event) -> bool {
        match expr {
            Expr::Search(i) => self.search(*i, event),
            Expr::Not(inner) => !self.eval(inner, event),
            Expr::And(items) => items.iter().all(|e| self.eval(e, event)),
            Expr::Or(items) => items.iter().any(|e| self.eval(e, event)),
        }
    }

    fn search(&self, index: usize, event: &Event) -> bool {
        self.searches[index]
            .1
            .iter()
            .any(|tests| tests.iter().all(|t| t.matches(event)))
    }
}

impl Test {
    pub(super) fn matches(&self, event: &Event) -> bool {
        match &self.path {
            Some(path) => self.check(event, event.field(path).as_ref()),
            None => event.unmapped.values().any(|v| match v {
                serde_json::Value::String(s) => {
                    self.check(event, Some(&FieldValue::Text(Cow::Borrowed(s))))
                }
                _ => false,
            }),
        }
    }

    fn check(&self, event: &Event, value: Option<&FieldValue<'_>>) -> bool {
        let texts: Vec<Cow<'_, str>> = match value {
            None => Vec::new(),
            Some(FieldValue::List(items)) => items.iter().map(|s| Cow::Borrowed(*s)).collect(),
            Some(v) => vec![v.to_text()],
        };
        let lowered: Vec<String> = texts.iter().map(|t| t.to_lowercase()).collect();
        let one = |p: &Pattern| match p {
            Pattern::FieldRef(other) => event
                .field(other)
                .is_some_and(|o| lowered.contains(&o.to_text().to_lowercase())),
            p => p.matches(value.is_some(), &texts, &lowered),
        };
        if self.all {
            self.patterns.iter().all(one)
        } else {
            self.patterns.iter().any(one)
        }
    }
}

impl Pattern {
    pub(super) fn matches(
        &self,
        present: bool,
        texts: &[Cow<'_, str>],
        lowered: &[String],
    ) -> bool {
        match self {
            Pattern::Null => !present,
            Pattern::Exists(want) => present == *want,
            Pattern::Text { test, cased } => {
                if *cased {
                    texts.iter().any(|t| test.matches(t))
                } else {
                    lowered.iter().any(|t| test.matches(t))
                }
            }
            Pattern::Regex(re) => texts.iter().any(|t| re.is_match(t)),
            Pattern::Cidr(net, bits) => texts
                .iter()
                .filter_map(|t| t.trim().parse::<IpAddr>().ok())
                .any(|ip| in_network(ip, *net, *bits)),
            Pattern::Number(order, bound) => texts
                .iter()
                .filter_map(|t| t.trim().parse::<f64>().ok())
                .any(|n| match order {
                    Ordering::Lt => n < *bound,
                    Ordering::Lte => n <= *bound,
                    Ordering::Gt => n > *bound,
                    Ordering::Gte => n >= *bound,
                }),
            // Needs the event; decided by `Test::check`.
            Pattern::FieldRef(_) => false,
        }
    }
}

impl TextTest {
    fn matches(&self, text: &str) -> bool {
        match self {
            TextTest::Equals(s) => text == s,
            TextTest::Prefix(s) => text.starts_with(s.as_str()),
            TextTest::Suffix(s) => text.ends_with(s.as_str()),
            TextTest::Contains(s) => text.contains(s.as_str()),
            TextTest::Wildcard { re, .. } => re.is_match(text),
        }
    }
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// How a value is matched, from the modifiers.
#[derive(Default, Clone, Copy)]
struct Modifiers {
    contains: bool,
    startswith: bool,
    endswith: bool,
    all: bool,
    cased: bool,
    re: Option<(bool, bool, bool)>,
    cidr: bool,
    exists: bool,
    number: Option<Ordering>,
    fieldref: bool,
    windash: bool,
    /// Value transformations in the order written: utf16 encodings, then base64.
    utf16: Option<&'static str>,
    base64: bool,
    base64offset: bool,
    /// `%name%` placeholders stand for their configured values.
    expand: bool,
}

fn modifiers(spec: &FieldSpec) -> Result<Modifiers, RuleError> {
    let mut m = Modifiers::default();
    for name in &spec.modifiers {
        match name.as_str() {
            "contains" => m.contains = true,
            "startswith" => m.startswith = true,
            "endswith" => m.endswith = true,
            "all" => m.all = true,
            "cased" => m.cased = true,
            "re" => m.re = Some((false, false, false)),
            "i" | "m" | "s" => {
                let Some((i, mm, s)) = m.re.as_mut() else {
                    return Err(RuleError::Pattern {
                        field: spec.field.clone(),
                        reason: format!("`{name}` only follows `re`"),
                    });
                };
                match name.as_str() {
                    "i" => *i = true,
                    "m" => *mm = true,
                    _ => *s = true,
                }
            }
            "cidr" => m.cidr = true,
            "exists" => m.exists = true,
            "lt" => m.number = Some(Ordering::Lt),
            "lte" => m.number = Some(Ordering::Lte),
            "gt" => m.number = Some(Ordering::Gt),
            "gte" => m.number = Some(Ordering::Gte),
            "windash" => m.windash = true,
            "fieldref" => m.fieldref = true,
            "expand" => m.expand = true,
            "base64" => m.base64 = true,
            "base64offset" => m.base64offset = true,
            "utf16le" | "wide" => m.utf16 = Some("utf16le"),
            "utf16be" => m.utf16 = Some("utf16be"),
            "utf16" => m.utf16 = Some("utf16"),
            other => {
                return Err(RuleError::unsupported(
                    format!("modifier {other}"),
                    format!(
                        "field `{}`: the `{other}` modifier is not implemented",
                        spec.field
                    ),
                ));
            }
        }
    }
    if m.fieldref && (m.contains || m.startswith || m.endswith || m.re.is_some()) {
        return Err(RuleError::unsupported(
            "modifier fieldref with a match modifier",
            "only `fieldref` equality is implemented",
        ));
    }
    let transformed = m.re.is_some()
        || m.cidr
        || m.exists
        || m.number.is_some()
        || m.fieldref
        || m.windash
        || m.base64
        || m.base64offset;
    if m.expand && transformed {
        return Err(RuleError::unsupported(
            "modifier expand with a value modifier",
            format!(
                "field `{}`: `expand` is implemented with contains, startswith, endswith, all \
                 and cased only",
                spec.field
            ),
        ));
    }
    if m.utf16.is_some() && !(m.base64 || m.base64offset) {
        return Err(RuleError::unsupported(
            "modifier utf16 without base64",
            "UTF-16 values only make sense encoded (base64/base64offset)",
        ));
    }
    Ok(m)
}

/// The tests of one `field|modifiers: values` entry: one, unless `expand` with `all` turns
/// values into several alternatives each (every value must hold, through any of its
/// expansions, so each such value becomes a test of its own).
fn tests(spec: &FieldSpec, placeholders: &Placeholders) -> Result<Vec<Test>, RuleError> {
    let m = modifiers(spec)?;
    if !m.expand {
        return Ok(vec![test(spec, &m)?]);
    }
    let mut expanded = Vec::new();
    for value in &spec.values {
        expanded.push(match value.text() {
            Some(text) => placeholders
                .expand(&spec.field, text)?
                .into_iter()
                .map(Value::Text)
                .collect(),
            None => vec![value.clone()],
        });
    }
    let spec_of = |values: Vec<Value>| FieldSpec {
        field: spec.field.clone(),
        modifiers: spec.modifiers.clone(),
        values,
    };
    if m.all {
        let one = Modifiers { all: false, ..m };
        expanded
            .into_iter()
            .map(|values| test(&spec_of(values), &one))
            .collect()
    } else {
        Ok(vec![test(&spec_of(expanded.concat()), &m)?])
    }
}

fn test(spec: &FieldSpec, m: &Modifiers) -> Result<Test, RuleError> {
    let path = (!spec.field.is_empty()).then(|| field_path(&spec.field));
    let pattern_error = |reason: String| RuleError::Pattern {
        field: spec.field.clone(),
        reason,
    };
    let mut patterns = Vec::new();
    for value in &spec.values {
        let Some(text) = value.text() else {
            patterns.push(Pattern::Null);
            continue;
        };
        if m.fieldref {
            patterns.push(Pattern::FieldRef(field_path(text)));
        } else if m.exists {
            let want = match text {
                "true" => true,
                "false" => false,
                _ => {
                    return Err(pattern_error(format!(
                        "`exists` takes true or false, not `{text}`"
                    )));
                }
            };
            patterns.push(Pattern::Exists(want));
        } else if let Some((i, multi, dot)) = m.re {
            let re = RegexBuilder::new(text)
                .case_insensitive(i)
                .multi_line(multi)
                .dot_matches_new_line(dot)
                .size_limit(REGEX_SIZE_LIMIT)
                .dfa_size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| pattern_error(format!("regex: {e}")))?;
            patterns.push(Pattern::Regex(re));
        } else if m.cidr {
            let (net, bits) = text.split_once('/').unwrap_or((text, ""));
            let net: IpAddr = net
                .trim()
                .parse()
                .map_err(|_| pattern_error(format!("`{text}` is not a network")))?;
            let max = if net.is_ipv4() { 32 } else { 128 };
            let bits = if bits.is_empty() {
                Ok(max)
            } else {
                bits.parse::<u8>()
            };
            match bits {
                Ok(b) if b <= max => patterns.push(Pattern::Cidr(net, b)),
                _ => return Err(pattern_error(format!("`{text}`: bad prefix length"))),
            }
        } else if let Some(order) = m.number {
            let bound = text
                .parse::<f64>()
                .map_err(|_| pattern_error(format!("`{text}` is not a number")))?;
            patterns.push(Pattern::Number(order, bound));
        } else {
            for literal in variants(text, m) {
                patterns.push(wildcard(&literal, m).map_err(&pattern_error)?);
            }
        }
    }
    Ok(Test {
        path,
        patterns,
        all: m.all,
    })
}

/// The literal variants a value stands for after `windash`, `utf16*` and `base64*`. Encoded
/// values are escaped so their characters are never read as wildcards.
fn variants(text: &str, m: &Modifiers) -> Vec<String> {
    let mut values = if m.windash {
        windash(text)
    } else {
        vec![text.to_string()]
    };
    if m.base64 || m.base64offset {
        values = values
            .into_iter()
            .flat_map(|v| {
                let bytes = encode_utf16(&v, m.utf16);
                let encoded = if m.base64offset {
                    base64_offsets(&bytes)
                } else {
                    vec![STANDARD.encode(&bytes)]
                };
                encoded.into_iter().map(|e| escape(&e))
            })
            .collect();
    }
    values
}

fn encode_utf16(text: &str, utf16: Option<&str>) -> Vec<u8> {
    match utf16 {
        None => text.as_bytes().to_vec(),
        Some("utf16be") => text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
        // `utf16` writes a byte order mark first, as Python's codec does.
        Some("utf16") => [0xff, 0xfe]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
            .collect(),
        Some(_) => text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
    }
}

/// The three encodings of `bytes` at offsets 0, 1 and 2 within a base64 group, trimmed of the
/// characters that depend on the neighbouring bytes (pySigma's `base64offset`).
fn base64_offsets(bytes: &[u8]) -> Vec<String> {
    const START: [usize; 3] = [0, 2, 3];
    const END: [usize; 3] = [0, 3, 2];
    (0..3)
        .map(|i| {
            let mut padded = vec![b' '; i];
            padded.extend_from_slice(bytes);
            let encoded = STANDARD.encode(&padded);
            let end = encoded.len() - END[(bytes.len() + i) % 3];
            encoded.get(START[i]..end).unwrap_or_default().to_string()
        })
        .collect()
}

/// `windash`: every `-` or `/` that starts an option (after a non-word character, before a
/// word character) in each of the dashes Windows command lines accept.
fn windash(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let starts_option = |i: usize| {
        matches!(chars[i], '-' | '/')
            && (i == 0 || !is_word(chars[i - 1]))
            && chars.get(i + 1).is_some_and(|c| is_word(*c))
    };
    ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}']
        .iter()
        .map(|dash| {
            chars
                .iter()
                .enumerate()
                .map(|(i, c)| if starts_option(i) { *dash } else { *c })
                .collect()
        })
        .collect()
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[derive(Debug, PartialEq)]
enum Piece {
    Literal(char),
    Any,
    One,
}

/// Reads Sigma wildcards: `*` any run, `?` one character, `\` escapes `*`, `?` and `\` and is
/// a literal backslash before anything else (pySigma's reading).
fn pieces(text: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push(Piece::Any),
            '?' => out.push(Piece::One),
            '\\' => match chars.peek() {
                Some(&n @ ('*' | '?' | '\\')) => {
                    chars.next();
                    out.push(Piece::Literal(n));
                }
                _ => out.push(Piece::Literal('\\')),
            },
            c => out.push(Piece::Literal(c)),
        }
    }
    out
}

/// Lowers one value to the cheapest test: a literal with `*` only at its ends becomes equals,
/// prefix, suffix or contains; anything else a regex anchored at both ends.
fn wildcard(text: &str, m: &Modifiers) -> Result<Pattern, String> {
    let source = if m.cased {
        text.to_string()
    } else {
        text.to_lowercase()
    };
    let mut pieces = pieces(&source);
    if m.contains || m.endswith {
        pieces.insert(0, Piece::Any);
    }
    if m.contains || m.startswith {
        pieces.push(Piece::Any);
    }
    let lead = pieces.first() == Some(&Piece::Any);
    let trail = pieces.len() > 1 && pieces.last() == Some(&Piece::Any);
    let inner = &pieces[usize::from(lead)..pieces.len() - usize::from(trail)];
    let test = if inner.iter().all(|p| matches!(p, Piece::Literal(_))) {
        let literal: String = inner
            .iter()
            .map(|p| match p {
                Piece::Literal(c) => *c,
                _ => unreachable!("checked literal above"),
            })
            .collect();
        match (lead, trail) {
            (false, false) => TextTest::Equals(literal),
            (false, true) => TextTest::Prefix(literal),
            (true, false) => TextTest::Suffix(literal),
            (true, true) => TextTest::Contains(literal),
        }
    } else {
        let mut needle = String::new();
        let mut run = String::new();
        for p in &pieces {
            match p {
                Piece::Literal(c) => run.push(*c),
                _ => run.clear(),
            }
            if run.chars().count() > needle.chars().count() {
                needle.clone_from(&run);
            }
        }
        let mut re = String::from("(?s)^");
        for p in &pieces {
            match p {
                Piece::Literal(c) => re.push_str(&regex::escape(&c.to_string())),
                Piece::Any => re.push_str(".*"),
                Piece::One => re.push('.'),
            }
        }
        re.push('$');
        let re = RegexBuilder::new(&re)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| format!("wildcard `{text}`: {e}"))?;
        TextTest::Wildcard { re, needle }
    };
    Ok(Pattern::Text {
        test,
        cased: m.cased,
    })
}
