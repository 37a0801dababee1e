//! Common Platform Enumeration names: CPE 2.3 formatted strings
//! (`cpe:2.3:a:openssl:openssl:3.0.7:*:*:*:*:*:*:*`) and CPE 2.2 URIs
//! (`cpe:/o:canonical:ubuntu_linux:22.04`), parsed into one shape, and name matching with
//! the ANY (`*`) and NA (`-`) semantics of NISTIR 7696.
//!
//! Values are kept unescaped and lowercased (CPE comparison is case-insensitive). Wildcards
//! embedded inside a value (`1.2.*`) are kept as literal text: NVD does not use them in
//! vulnerability criteria, which bound versions with explicit ranges instead.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One attribute of a CPE name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CpeValue {
    /// `*` (or empty in a 2.2 URI): any value.
    Any,
    /// `-`: the attribute does not apply (no update, no edition …).
    NotApplicable,
    Value(String),
}

impl CpeValue {
    pub fn value(&self) -> Option<&str> {
        match self {
            CpeValue::Value(v) => Some(v),
            _ => None,
        }
    }

    /// Whether `self`, used as a pattern, matches `target`: ANY matches everything, NA only
    /// NA, a value only the same value. A pattern value does not match a target ANY (the
    /// target might be any version, so a match cannot be claimed).
    pub fn matches(&self, target: &CpeValue) -> bool {
        match (self, target) {
            (CpeValue::Any, _) => true,
            (CpeValue::NotApplicable, t) => *t == CpeValue::NotApplicable,
            (CpeValue::Value(a), CpeValue::Value(b)) => a == b,
            (CpeValue::Value(_), _) => false,
        }
    }
}

/// What a CPE names: an application, an operating system or hardware.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CpePart {
    Application,
    OperatingSystem,
    Hardware,
    Any,
}

impl CpePart {
    fn letter(self) -> &'static str {
        match self {
            CpePart::Application => "a",
            CpePart::OperatingSystem => "o",
            CpePart::Hardware => "h",
            CpePart::Any => "*",
        }
    }
}

/// A CPE name with its eleven attributes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cpe {
    pub part: CpePart,
    pub vendor: CpeValue,
    pub product: CpeValue,
    pub version: CpeValue,
    pub update: CpeValue,
    pub edition: CpeValue,
    pub language: CpeValue,
    pub sw_edition: CpeValue,
    pub target_sw: CpeValue,
    pub target_hw: CpeValue,
    pub other: CpeValue,
}

/// Why a CPE name could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum CpeError {
    #[error("a CPE name starts with `cpe:2.3:` or `cpe:/`")]
    Prefix,
    #[error("a CPE 2.3 name has 13 colon-separated parts, this one has {0}")]
    PartCount(usize),
    #[error("a CPE 2.2 URI has at most 7 components after `cpe:/`, this one has {0}")]
    TooManyComponents(usize),
    #[error("the CPE part must be `a`, `o`, `h` or `*`")]
    Part,
    #[error("the CPE name ends inside an escape (`\\`)")]
    DanglingEscape,
    #[error("the CPE URI has a bad percent-encoding")]
    PercentEncoding,
}

impl Cpe {
    /// Parses either binding; the kind is told by the prefix.
    pub fn parse(text: &str) -> Result<Cpe, CpeError> {
        let text = text.trim();
        let lower = text.get(..8).map(str::to_ascii_lowercase);
        if lower.as_deref() == Some("cpe:2.3:") {
            Cpe::parse_formatted(text)
        } else if text
            .get(..5)
            .is_some_and(|p| p.eq_ignore_ascii_case("cpe:/"))
        {
            Cpe::parse_uri(text)
        } else {
            Err(CpeError::Prefix)
        }
    }

    fn parse_formatted(text: &str) -> Result<Cpe, CpeError> {
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    let next = chars.next().ok_or(CpeError::DanglingEscape)?;
                    field.push('\\');
                    field.push(next);
                }
                ':' => fields.push(std::mem::take(&mut field)),
                c => field.push(c),
            }
        }
        fields.push(field);
        if fields.len() != 13 {
            return Err(CpeError::PartCount(fields.len()));
        }
        let value = |i: usize| -> CpeValue {
            let raw = fields.get(i).map_or("*", String::as_str);
            match raw {
                "*" | "" => CpeValue::Any,
                "-" => CpeValue::NotApplicable,
                _ => CpeValue::Value(unescape(raw).to_lowercase()),
            }
        };
        Ok(Cpe {
            part: parse_part(fields.get(2).map_or("", String::as_str))?,
            vendor: value(3),
            product: value(4),
            version: value(5),
            update: value(6),
            edition: value(7),
            language: value(8),
            sw_edition: value(9),
            target_sw: value(10),
            target_hw: value(11),
            other: value(12),
        })
    }

    fn parse_uri(text: &str) -> Result<Cpe, CpeError> {
        let body = text.get(5..).unwrap_or("");
        let components: Vec<&str> = body.split(':').collect();
        if components.len() > 7 {
            return Err(CpeError::TooManyComponents(components.len()));
        }
        let decode = |i: usize| -> Result<CpeValue, CpeError> {
            let raw = components.get(i).copied().unwrap_or("");
            Ok(match raw {
                "" | "*" => CpeValue::Any,
                "-" => CpeValue::NotApplicable,
                _ => CpeValue::Value(percent_decode(raw)?.to_lowercase()),
            })
        };
        let part = match components.first().copied().unwrap_or("") {
            "" => CpePart::Any,
            p => parse_part(p)?,
        };
        let mut cpe = Cpe {
            part,
            vendor: decode(1)?,
            product: decode(2)?,
            version: decode(3)?,
            update: decode(4)?,
            edition: decode(5)?,
            language: decode(6)?,
            sw_edition: CpeValue::Any,
            target_sw: CpeValue::Any,
            target_hw: CpeValue::Any,
            other: CpeValue::Any,
        };
        // A packed edition `~edition~sw_edition~target_sw~target_hw~other` (CPE 2.3 §6.1.3.2).
        if let CpeValue::Value(packed) = &cpe.edition
            && let Some(rest) = packed.strip_prefix('~')
        {
            let pieces: Vec<CpeValue> = rest
                .split('~')
                .map(|p| match p {
                    "" | "*" => CpeValue::Any,
                    "-" => CpeValue::NotApplicable,
                    v => CpeValue::Value(v.to_string()),
                })
                .collect();
            let get = |i: usize| pieces.get(i).cloned().unwrap_or(CpeValue::Any);
            cpe.edition = get(0);
            cpe.sw_edition = get(1);
            cpe.target_sw = get(2);
            cpe.target_hw = get(3);
            cpe.other = get(4);
        }
        Ok(cpe)
    }

    /// Name matching: every attribute of `self` (the pattern, such as an NVD criterion)
    /// matches the same attribute of `target` (a component's CPE).
    pub fn matches(&self, target: &Cpe) -> bool {
        (self.part == CpePart::Any || self.part == target.part)
            && self.vendor.matches(&target.vendor)
            && self.product.matches(&target.product)
            && self.version.matches(&target.version)
            && self.update.matches(&target.update)
            && self.edition.matches(&target.edition)
            && self.language.matches(&target.language)
            && self.sw_edition.matches(&target.sw_edition)
            && self.target_sw.matches(&target.target_sw)
            && self.target_hw.matches(&target.target_hw)
            && self.other.matches(&target.other)
    }

    /// Same part, vendor and product, ignoring version and the rest.
    pub fn same_product(&self, other: &Cpe) -> bool {
        (self.part == CpePart::Any || other.part == CpePart::Any || self.part == other.part)
            && self.vendor.value().is_some()
            && self.vendor == other.vendor
            && self.product.value().is_some()
            && self.product == other.product
    }

    /// The CPE 2.3 formatted string.
    pub fn to_formatted_string(&self) -> String {
        let mut out = String::from("cpe:2.3:");
        out.push_str(self.part.letter());
        for value in [
            &self.vendor,
            &self.product,
            &self.version,
            &self.update,
            &self.edition,
            &self.language,
            &self.sw_edition,
            &self.target_sw,
            &self.target_hw,
            &self.other,
        ] {
            out.push(':');
            match value {
                CpeValue::Any => out.push('*'),
                CpeValue::NotApplicable => out.push('-'),
                CpeValue::Value(v) => out.push_str(&escape(v)),
            }
        }
        out
    }
}

impl fmt::Display for Cpe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_formatted_string())
    }
}

fn parse_part(text: &str) -> Result<CpePart, CpeError> {
    match text.to_ascii_lowercase().as_str() {
        "a" => Ok(CpePart::Application),
        "o" => Ok(CpePart::OperatingSystem),
        "h" => Ok(CpePart::Hardware),
        "*" => Ok(CpePart::Any),
        _ => Err(CpeError::Part),
    }
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Formatted-string quoting: everything but letters, digits, `_`, `.` and `-` is preceded
/// by `\`; a value that is exactly `-` is quoted too so it does not read as NA.
fn escape(text: &str) -> String {
    if text == "-" {
        return "\\-".to_string();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if !(c.is_alphanumeric() || matches!(c, '_' | '.' | '-')) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn percent_decode(text: &str) -> Result<String, CpeError> {
    crate::purl::percent_decode(text).map_err(|_| CpeError::PercentEncoding)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpe(text: &str) -> Cpe {
        Cpe::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn parses_formatted_string_with_any_na_and_escapes() {
        let c = cpe("cpe:2.3:a:microsoft:internet_explorer:8.0.6001:beta:*:*:*:*:*:*");
        assert_eq!(c.part, CpePart::Application);
        assert_eq!(c.vendor, CpeValue::Value("microsoft".into()));
        assert_eq!(c.version, CpeValue::Value("8.0.6001".into()));
        assert_eq!(c.update, CpeValue::Value("beta".into()));
        assert_eq!(c.edition, CpeValue::Any);
        let c = cpe(r"cpe:2.3:a:hp:insight_diagnostics:7.4.0.1570:-:*:*:online:win2003:x64:*");
        assert_eq!(c.update, CpeValue::NotApplicable);
        assert_eq!(c.target_sw, CpeValue::Value("win2003".into()));
        let c = cpe(r"cpe:2.3:a:foo\:bar:big\$money_manager:2010:*:*:*:*:*:*:*");
        assert_eq!(c.vendor, CpeValue::Value("foo:bar".into()));
        assert_eq!(c.product, CpeValue::Value("big$money_manager".into()));
        assert_eq!(
            c.to_formatted_string(),
            r"cpe:2.3:a:foo\:bar:big\$money_manager:2010:*:*:*:*:*:*:*"
        );
    }

    #[test]
    fn parses_uri_binding_with_percent_encoding_and_packed_edition() {
        let c = cpe("cpe:/o:canonical:ubuntu_linux:22.04");
        assert_eq!(c.part, CpePart::OperatingSystem);
        assert_eq!(c.product, CpeValue::Value("ubuntu_linux".into()));
        assert_eq!(c.update, CpeValue::Any);
        let c = cpe("cpe:/a:foo%21bar:baz:1.0:-:~~online~win2003~x64~");
        assert_eq!(c.vendor, CpeValue::Value("foo!bar".into()));
        assert_eq!(c.update, CpeValue::NotApplicable);
        assert_eq!(c.sw_edition, CpeValue::Value("online".into()));
        assert_eq!(c.target_hw, CpeValue::Value("x64".into()));
        assert_eq!(
            c.to_formatted_string(),
            r"cpe:2.3:a:foo\!bar:baz:1.0:-:*:*:online:win2003:x64:*"
        );
        assert_eq!(
            cpe("cpe:/a:python:python").vendor,
            CpeValue::Value("python".into())
        );
    }

    #[test]
    fn rejects_malformed_names_with_the_reason() {
        assert_eq!(Cpe::parse("openssl"), Err(CpeError::Prefix));
        assert_eq!(Cpe::parse("cpe:2.3:a:openssl"), Err(CpeError::PartCount(4)));
        assert_eq!(
            Cpe::parse("cpe:2.3:x:a:b:c:*:*:*:*:*:*:*"),
            Err(CpeError::Part)
        );
        assert_eq!(
            Cpe::parse("cpe:2.3:a:b:c:d:*:*:*:*:*:*:\\"),
            Err(CpeError::DanglingEscape)
        );
        assert_eq!(Cpe::parse("cpe:/a:b%zz:c"), Err(CpeError::PercentEncoding));
        assert_eq!(
            Cpe::parse("cpe:/a:1:2:3:4:5:6:7"),
            Err(CpeError::TooManyComponents(8))
        );
    }

    #[test]
    fn matching_follows_any_and_na_semantics() {
        let pattern = cpe("cpe:2.3:a:openssl:openssl:*:*:*:*:*:*:*:*");
        assert!(pattern.matches(&cpe("cpe:2.3:a:openssl:openssl:3.0.7:*:*:*:*:*:*:*")));
        assert!(pattern.matches(&cpe("cpe:2.3:a:OpenSSL:OpenSSL:3.0.7:-:*:*:*:*:*:*")));
        assert!(!pattern.matches(&cpe(
            "cpe:2.3:a:openssl_project:openssl:3.0.7:*:*:*:*:*:*:*"
        )));
        assert!(!pattern.matches(&cpe("cpe:2.3:o:openssl:openssl:3.0.7:*:*:*:*:*:*:*")));
        // NA in the pattern only matches NA.
        let na = cpe("cpe:2.3:a:openssl:openssl:3.0.7:-:*:*:*:*:*:*");
        assert!(na.matches(&cpe("cpe:2.3:a:openssl:openssl:3.0.7:-:*:*:*:*:*:*")));
        assert!(!na.matches(&cpe("cpe:2.3:a:openssl:openssl:3.0.7:beta:*:*:*:*:*:*")));
        assert!(!na.matches(&cpe("cpe:2.3:a:openssl:openssl:3.0.7:*:*:*:*:*:*:*")));
        // A value does not match an unknown (ANY) target value.
        let exact = cpe("cpe:2.3:a:openssl:openssl:3.0.7:*:*:*:*:*:*:*");
        assert!(!exact.matches(&cpe("cpe:2.3:a:openssl:openssl:*:*:*:*:*:*:*:*")));
        assert!(exact.same_product(&cpe("cpe:/a:openssl:openssl")));
    }
}
