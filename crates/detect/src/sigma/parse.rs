//! Sigma YAML to [`Rule`]: metadata, logsource and the detection's searches, kept close to the
//! text (modifiers as written, values as scalars). Checks shape only; meaning (modifiers,
//! patterns, the condition) is checked by compilation. Never panics on any input.

use super::RuleError;
use yaml_rust2::{Yaml, YamlLoader};

/// One Sigma rule as written.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rule {
    pub title: String,
    pub id: Option<String>,
    pub status: Option<String>,
    pub level: Option<String>,
    pub tags: Vec<String>,
    /// ATT&CK technique ids from the tags (`attack.t1059.001` → `T1059.001`).
    pub attack: Vec<String>,
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

/// Parses one Sigma rule. A file of several YAML documents (Sigma 1 `action: global`
/// collections, correlation rules with their base rules) is refused as unsupported rather than
/// half read.
pub fn parse_rule(text: &str) -> Result<Rule, RuleError> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| RuleError::Yaml(e.to_string()))?;
    let doc = match docs.as_slice() {
        [one] => one,
        [] => return Err(RuleError::Invalid("empty document".into())),
        _ => {
            return Err(RuleError::unsupported(
                "multi-document rule",
                "rule collections (several YAML documents) are not read yet",
            ));
        }
    };
    if doc.as_hash().is_none() {
        return Err(RuleError::Invalid("the document is not a map".into()));
    }
    if !doc["correlation"].is_badvalue() {
        return Err(RuleError::unsupported(
            "correlation rule",
            "Sigma 2 correlation rules are not evaluated yet",
        ));
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
    let author = scalar(&doc["author"]);
    let logsource = &doc["logsource"];
    if logsource.as_hash().is_none() {
        return Err(RuleError::Invalid("no logsource map".into()));
    }
    Ok(Rule {
        title,
        id: scalar(&doc["id"]),
        status: scalar(&doc["status"]),
        level: scalar(&doc["level"]),
        tags,
        attack,
        author,
        references: strings(&doc["references"]),
        license: scalar(&doc["license"]),
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

fn scalar(yaml: &Yaml) -> Option<String> {
    match yaml {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Real(r) => Some(r.clone()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn strings(yaml: &Yaml) -> Vec<String> {
    match yaml {
        Yaml::Array(items) => items.iter().filter_map(scalar).collect(),
        other => scalar(other).into_iter().collect(),
    }
}
