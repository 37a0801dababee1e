//! Sigma YAML to [`Rule`]: metadata, logsource and the detection's searches, kept close to the
//! text (modifiers as written, values as scalars). Checks shape only; meaning (modifiers,
//! patterns, the condition) is checked by compilation. Never panics on any input.

use super::RuleError;
use std::collections::HashMap;
use yaml_rust2::parser::{MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;
use yaml_rust2::{Event, Yaml, YamlLoader};

/// Most YAML nodes a rule file may expand to, aliases expanded. The largest SigmaHQ rules
/// have a few thousand; an alias copies its anchored node, so a few lines of nested aliases
/// can expand to billions ("billion laughs") and exhaust memory while loading.
const MAX_YAML_NODES: u64 = 100_000;

/// Counts the nodes a YAML text expands to without building them.
#[derive(Default)]
struct NodeCount {
    nodes: u64,
    /// Each open sequence or mapping: its anchor and the count where it started.
    open: Vec<(usize, u64)>,
    /// What each anchor expands to.
    anchored: HashMap<usize, u64>,
}

impl MarkedEventReceiver for NodeCount {
    fn on_event(&mut self, event: Event, _mark: Marker) {
        match event {
            Event::Scalar(_, _, anchor, _) => {
                self.nodes += 1;
                if anchor > 0 {
                    self.anchored.insert(anchor, 1);
                }
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                self.nodes += 1;
                self.open.push((anchor, self.nodes));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((anchor, start)) = self.open.pop()
                    && anchor > 0
                {
                    self.anchored.insert(anchor, self.nodes - start + 1);
                }
            }
            Event::Alias(anchor) => {
                let size = self.anchored.get(&anchor).copied().unwrap_or(1);
                self.nodes = self.nodes.saturating_add(size);
            }
            _ => {}
        }
    }
}

/// Loads YAML documents, refusing texts whose aliases would expand past [`MAX_YAML_NODES`].
fn load_yaml(text: &str) -> Result<Vec<Yaml>, RuleError> {
    let mut count = NodeCount::default();
    // A syntax error stops the count early; the loader below reports it.
    let _ = Parser::new_from_str(text).load(&mut count, true);
    if count.nodes > MAX_YAML_NODES {
        return Err(RuleError::Invalid(format!(
            "the YAML expands to more than {MAX_YAML_NODES} nodes (aliases expanded)"
        )));
    }
    YamlLoader::load_from_str(text).map_err(|e| RuleError::Yaml(e.to_string()))
}

/// One Sigma rule as written.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rule {
    pub title: String,
    pub id: Option<String>,
    /// The name correlation rules refer to it by (Sigma 2), unique within a collection.
    pub name: Option<String>,
    pub description: Option<String>,
    pub falsepositives: Vec<String>,
    pub status: Option<String>,
    pub level: Option<String>,
    pub tags: Vec<String>,
    /// ATT&CK technique ids from the tags (`attack.t1059.001` → `T1059.001`).
    pub attack: Vec<String>,
    /// HIPAA Security and Privacy Rule citations from the tags (`hipaa.164.312.b` →
    /// `164.312(b)`), see [`hipaa_citation`].
    pub hipaa: Vec<String>,
    /// Shown wherever the rule's matches are shown (Detection Rule License 1.1).
    pub author: Option<String>,
    pub references: Vec<String>,
    pub license: Option<String>,
    pub logsource: LogSource,
    pub detection: Detection,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogSource {
    pub product: Option<String>,
    pub category: Option<String>,
    pub service: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Detection {
    /// Named searches in the order written.
    pub searches: Vec<(String, Search)>,
    /// One or more conditions; a list means any of them.
    pub conditions: Vec<String>,
}

/// A named search of the detection.
#[derive(Debug, Clone, PartialEq)]
pub enum Search {
    /// A map: every field must match.
    AllOf(Vec<FieldSpec>),
    /// A list of maps: any map must match.
    AnyOf(Vec<Vec<FieldSpec>>),
    /// A list of plain values: any value anywhere in the event.
    Keywords(Vec<Value>),
}

/// `field|modifier|…: value(s)`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSpec {
    pub field: String,
    pub modifiers: Vec<String>,
    pub values: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    /// A YAML number, kept as written for text comparison.
    Number(String),
    Null,
}

impl Value {
    pub fn text(&self) -> Option<&str> {
        match self {
            Value::Text(t) | Value::Number(t) => Some(t),
            Value::Null => None,
        }
    }
}

/// Parses one Sigma rule. A file of several YAML documents (a correlation with its base
/// rules, Sigma 1 `action: global` collections) is refused here; [`parse_documents`] reads
/// those.
pub fn parse_rule(text: &str) -> Result<Rule, RuleError> {
    let docs = load_yaml(text)?;
    let doc = match docs.as_slice() {
        [one] => one,
        [] => return Err(RuleError::Invalid("empty document".into())),
        _ => {
            return Err(RuleError::unsupported(
                "multi-document rule",
                "several YAML documents: load the file as a collection",
            ));
        }
    };
    if !doc["correlation"].is_badvalue() {
        return Err(RuleError::unsupported(
            "correlation rule",
            "a correlation rule needs its collection: load the file as a collection",
        ));
    }
    rule_from_yaml(doc)
}

/// One document of a Sigma file: a detection rule or a correlation rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Document {
    Rule(Rule),
    Correlation(super::correlation::Correlation),
}

/// Parses every YAML document of a Sigma file (`---` separated): detection rules and Sigma 2
/// correlation rules. Sigma 1 `action:` collections (global, reset, repeat) are refused.
pub fn parse_documents(text: &str) -> Result<Vec<Document>, RuleError> {
    let docs = load_yaml(text)?;
    if docs.is_empty() {
        return Err(RuleError::Invalid("empty document".into()));
    }
    docs.iter()
        .map(|doc| {
            if !doc["action"].is_badvalue() {
                return Err(RuleError::unsupported(
                    "rule collection action",
                    "Sigma 1 `action:` collections are not read; split the rules",
                ));
            }
            if doc["correlation"].is_badvalue() {
                rule_from_yaml(doc).map(Document::Rule)
            } else {
                super::correlation::parse(doc).map(Document::Correlation)
            }
        })
        .collect()
}

/// The metadata every Sigma document carries, read the same way for rules and correlations.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Meta {
    pub title: String,
    pub id: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
    pub level: Option<String>,
    pub description: Option<String>,
    pub falsepositives: Vec<String>,
    pub tags: Vec<String>,
    pub attack: Vec<String>,
    pub hipaa: Vec<String>,
    pub author: Option<String>,
    pub references: Vec<String>,
    pub license: Option<String>,
}

pub(crate) fn meta(doc: &Yaml) -> Result<Meta, RuleError> {
    if doc.as_hash().is_none() {
        return Err(RuleError::Invalid("the document is not a map".into()));
    }
    let title = scalar(&doc["title"]).ok_or_else(|| RuleError::Invalid("no title".into()))?;
    let tags = strings(&doc["tags"]);
    let attack = tags
        .iter()
        .filter_map(|t| {
            let id = t.strip_prefix("attack.")?;
            let digits = id.strip_prefix('t')?;
            digits
                .starts_with(|c: char| c.is_ascii_digit())
                .then(|| id.to_ascii_uppercase())
        })
        .collect();
    let hipaa = tags.iter().filter_map(|t| hipaa_citation(t)).collect();
    Ok(Meta {
        title,
        id: scalar(&doc["id"]),
        name: scalar(&doc["name"]),
        status: scalar(&doc["status"]),
        level: scalar(&doc["level"]),
        // Folded YAML (`>`) ends in a newline that is not part of the text.
        description: scalar(&doc["description"]).map(|d| d.trim().to_string()),
        falsepositives: strings(&doc["falsepositives"]),
        tags,
        attack,
        hipaa,
        author: scalar(&doc["author"]),
        references: strings(&doc["references"]),
        license: scalar(&doc["license"]),
    })
}

/// A HIPAA citation from a tag of Ward's `hipaa.` namespace: the part of 45 CFR (`164`), the
/// section, then one tag segment per paragraph level, written in lowercase as Sigma tags are
/// and restored to the CFR's own case: `hipaa.164.312.b` → `164.312(b)`,
/// `hipaa.164.308.a.1.ii.d` → `164.308(a)(1)(ii)(D)` (the fourth paragraph level of the CFR
/// is an upper-case letter). Anything else in the namespace is not a citation: `None`.
pub fn hipaa_citation(tag: &str) -> Option<String> {
    let rest = tag.strip_prefix("hipaa.")?;
    let mut parts = rest.split('.');
    let part = parts.next()?;
    let section = parts.next()?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(part) || !digits(section) {
        return None;
    }
    let mut citation = format!("{part}.{section}");
    for (level, paragraph) in parts.enumerate() {
        let ok = match level % 4 {
            0 | 3 => paragraph.len() == 1 && paragraph.bytes().all(|b| b.is_ascii_alphabetic()),
            1 => digits(paragraph),
            _ => {
                !paragraph.is_empty()
                    && paragraph
                        .bytes()
                        .all(|b| b"ivxlc".contains(&b.to_ascii_lowercase()))
            }
        };
        if !ok {
            return None;
        }
        let shown = if level % 4 == 3 {
            paragraph.to_ascii_uppercase()
        } else {
            paragraph.to_ascii_lowercase()
        };
        citation.push_str(&format!("({shown})"));
    }
    Some(citation)
}

fn rule_from_yaml(doc: &Yaml) -> Result<Rule, RuleError> {
    let m = meta(doc)?;
    let logsource = &doc["logsource"];
    if logsource.as_hash().is_none() {
        return Err(RuleError::Invalid("no logsource map".into()));
    }
    Ok(Rule {
        title: m.title,
        id: m.id,
        name: m.name,
        description: m.description,
        falsepositives: m.falsepositives,
        status: m.status,
        level: m.level,
        tags: m.tags,
        attack: m.attack,
        hipaa: m.hipaa,
        author: m.author,
        references: m.references,
        license: m.license,
        logsource: LogSource {
            product: scalar(&logsource["product"]),
            category: scalar(&logsource["category"]),
            service: scalar(&logsource["service"]),
        },
        detection: detection(&doc["detection"])?,
    })
}

fn detection(yaml: &Yaml) -> Result<Detection, RuleError> {
    let map = yaml
        .as_hash()
        .ok_or_else(|| RuleError::Invalid("no detection map".into()))?;
    let mut out = Detection::default();
    for (key, value) in map {
        let name = key
            .as_str()
            .ok_or_else(|| RuleError::Invalid("a detection key is not text".into()))?;
        match name {
            "condition" => {
                out.conditions = match value {
                    Yaml::Array(items) => items.iter().filter_map(scalar).collect(),
                    other => scalar(other).into_iter().collect(),
                }
            }
            // Sigma 1 fields that only concern the backends.
            "timeframe" => {
                return Err(RuleError::unsupported(
                    "timeframe",
                    "aggregations over time windows are correlation rules, not evaluated yet",
                ));
            }
            _ => out.searches.push((name.to_string(), search(name, value)?)),
        }
    }
    if out.conditions.is_empty() {
        return Err(RuleError::Invalid("detection has no condition".into()));
    }
    Ok(out)
}

fn search(name: &str, yaml: &Yaml) -> Result<Search, RuleError> {
    match yaml {
        Yaml::Hash(_) => Ok(Search::AllOf(field_map(name, yaml)?)),
        Yaml::Array(items) if items.iter().all(|i| matches!(i, Yaml::Hash(_))) => {
            Ok(Search::AnyOf(
                items
                    .iter()
                    .map(|i| field_map(name, i))
                    .collect::<Result<_, _>>()?,
            ))
        }
        Yaml::Array(items) => Ok(Search::Keywords(
            items
                .iter()
                .map(|i| value(i).ok_or_else(|| invalid_value(name)))
                .collect::<Result<_, _>>()?,
        )),
        other => Ok(Search::Keywords(vec![
            value(other).ok_or_else(|| invalid_value(name))?,
        ])),
    }
}

fn invalid_value(name: &str) -> RuleError {
    RuleError::Invalid(format!("search `{name}` mixes maps and values"))
}

fn field_map(name: &str, yaml: &Yaml) -> Result<Vec<FieldSpec>, RuleError> {
    let map = yaml.as_hash().into_iter().flatten();
    let mut specs = Vec::new();
    for (key, values) in map {
        let key = key
            .as_str()
            .ok_or_else(|| RuleError::Invalid(format!("search `{name}`: a key is not text")))?;
        let mut parts = key.split('|');
        let field = parts.next().unwrap_or_default().to_string();
        let modifiers = parts.map(str::to_string).collect();
        let values = match values {
            Yaml::Array(items) if items.is_empty() => vec![Value::Text(String::new())],
            Yaml::Array(items) => items
                .iter()
                .map(|i| value(i).ok_or_else(|| bad_field_value(name, key)))
                .collect::<Result<_, _>>()?,
            other => vec![value(other).ok_or_else(|| bad_field_value(name, key))?],
        };
        specs.push(FieldSpec {
            field,
            modifiers,
            values,
        });
    }
    Ok(specs)
}

fn bad_field_value(name: &str, key: &str) -> RuleError {
    RuleError::Invalid(format!(
        "search `{name}`, field `{key}`: values must be scalars"
    ))
}

fn value(yaml: &Yaml) -> Option<Value> {
    match yaml {
        Yaml::Null => Some(Value::Null),
        Yaml::Integer(i) => Some(Value::Number(i.to_string())),
        Yaml::Real(r) => Some(Value::Number(r.clone())),
        Yaml::Boolean(b) => Some(Value::Text(b.to_string())),
        Yaml::String(s) => Some(Value::Text(s.clone())),
        _ => None,
    }
}

pub(crate) fn scalar(yaml: &Yaml) -> Option<String> {
    match yaml {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Real(r) => Some(r.clone()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

pub(crate) fn strings(yaml: &Yaml) -> Vec<String> {
    match yaml {
        Yaml::Array(items) => items.iter().filter_map(scalar).collect(),
        other => scalar(other).into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_YAML_NODES, hipaa_citation, parse_documents, parse_rule};
    use crate::sigma::RuleError;

    /// Found by the `sigma` fuzz target: nine levels of nine aliases expand to 9^9 nodes,
    /// which exhausted memory while the YAML loaded.
    #[test]
    fn alias_bombs_are_refused_before_they_expand() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
        for level in 1..9u8 {
            let (name, previous) = ((b'a' + level) as char, (b'a' + level - 1) as char);
            let aliases = vec![format!("*{previous}"); 9].join(", ");
            text.push_str(&format!("{name}: &{name} [{aliases}]\n"));
        }
        for result in [
            parse_rule(&text).map(|_| ()),
            parse_documents(&text).map(|_| ()),
        ] {
            match result {
                Err(RuleError::Invalid(reason)) => {
                    assert!(reason.contains(&MAX_YAML_NODES.to_string()), "{reason}")
                }
                other => panic!("expected a refusal, got {other:?}"),
            }
        }
    }

    #[test]
    fn hipaa_tags_become_cfr_citations_in_the_cfr_case() {
        assert_eq!(
            hipaa_citation("hipaa.164.312.b").as_deref(),
            Some("164.312(b)")
        );
        assert_eq!(
            hipaa_citation("hipaa.164.308.a.1.ii.d").as_deref(),
            Some("164.308(a)(1)(ii)(D)")
        );
        assert_eq!(
            hipaa_citation("hipaa.164.312.a.2.ii").as_deref(),
            Some("164.312(a)(2)(ii)")
        );
        for not_a_citation in [
            "attack.t1110",
            "hipaa.security",
            "hipaa.164.x",
            "hipaa.164.312.1",
        ] {
            assert_eq!(hipaa_citation(not_a_citation), None, "{not_a_citation}");
        }
    }
}
