//! Package URLs (`pkg:type/namespace/name@version?qualifiers#subpath`, package-url/purl-spec):
//! parsing with percent-decoding, the type-specific normalisations of the specification
//! (lowercase names for npm, pypi, github …; `_` as `-` for pypi), and the canonical string.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Purl {
    /// `maven`, `npm`, `pypi`, `deb`, `generic` … (lowercase).
    pub ty: String,
    /// Maven group, npm scope, Debian vendor …; segments joined by `/`.
    pub namespace: Option<String>,
    pub name: String,
    pub version: Option<String>,
    pub qualifiers: BTreeMap<String, String>,
    pub subpath: Option<String>,
}

/// Why a package URL could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum PurlError {
    #[error("a package URL starts with `pkg:`")]
    Scheme,
    #[error("the package URL has no type")]
    MissingType,
    #[error("the package URL type may hold only letters, digits, `.`, `+` and `-`")]
    BadType,
    #[error("the package URL has no name")]
    MissingName,
    #[error("the package URL has a bad percent-encoding")]
    PercentEncoding,
    #[error("a package URL qualifier must be `key=value` with a non-empty key")]
    Qualifier,
}

impl Purl {
    pub fn parse(text: &str) -> Result<Purl, PurlError> {
        let text = text.trim();
        let rest = text
            .get(..4)
            .filter(|p| p.eq_ignore_ascii_case("pkg:"))
            .and_then(|_| text.get(4..))
            .ok_or(PurlError::Scheme)?;
        let (rest, subpath) = match rest.split_once('#') {
            Some((r, s)) => {
                let segments: Result<Vec<String>, PurlError> = s
                    .split('/')
                    .filter(|p| !p.is_empty() && *p != "." && *p != "..")
                    .map(percent_decode)
                    .collect();
                let joined = segments?.join("/");
                (r, (!joined.is_empty()).then_some(joined))
            }
            None => (rest, None),
        };
        let (rest, qualifiers) = match rest.split_once('?') {
            Some((r, q)) => (r, parse_qualifiers(q)?),
            None => (rest, BTreeMap::new()),
        };
        let rest = rest.trim_start_matches('/');
        let (ty, rest) = rest.split_once('/').ok_or(PurlError::MissingType)?;
        if ty.is_empty() {
            return Err(PurlError::MissingType);
        }
        if !ty
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-'))
        {
            return Err(PurlError::BadType);
        }
        let ty = ty.to_ascii_lowercase();
        let rest = rest.trim_end_matches('/');
        let (path, version) = match rest.rsplit_once('@') {
            Some((p, v)) => (p, Some(percent_decode(v)?).filter(|v| !v.is_empty())),
            None => (rest, None),
        };
        let mut segments: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(percent_decode)
            .collect::<Result<_, _>>()?;
        let mut name = segments.pop().ok_or(PurlError::MissingName)?;
        let mut namespace = (!segments.is_empty()).then(|| segments.join("/"));
        match ty.as_str() {
            "pypi" => name = name.to_lowercase().replace('_', "-"),
            "npm" | "github" | "bitbucket" | "hex" | "composer" | "deb" | "apk" => {
                name = name.to_lowercase();
                namespace = namespace.map(|n| n.to_lowercase());
            }
            _ => {}
        }
        Ok(Purl {
            ty,
            namespace,
            name,
            version,
            qualifiers,
            subpath,
        })
    }

    /// Type, namespace and name equal: the same package, any version.
    pub fn same_package(&self, other: &Purl) -> bool {
        self.ty == other.ty
            && self.name.eq_ignore_ascii_case(&other.name)
            && self.namespace.as_deref().map(str::to_lowercase)
                == other.namespace.as_deref().map(str::to_lowercase)
    }
}

fn parse_qualifiers(text: &str) -> Result<BTreeMap<String, String>, PurlError> {
    let mut out = BTreeMap::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').ok_or(PurlError::Qualifier)?;
        if key.is_empty() {
            return Err(PurlError::Qualifier);
        }
        let value = percent_decode(value)?;
        if !value.is_empty() {
            out.insert(key.to_ascii_lowercase(), value);
        }
    }
    Ok(out)
}

/// Decodes `%xx` escapes (UTF-8); a `%` not followed by two hex digits is an error.
pub(crate) fn percent_decode(text: &str) -> Result<String, PurlError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(PurlError::PercentEncoding)?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| PurlError::PercentEncoding)
}

fn percent_encode(text: &str, keep: &[char]) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '~') || keep.contains(&c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

impl fmt::Display for Purl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pkg:{}/", self.ty)?;
        if let Some(ns) = &self.namespace {
            let encoded: Vec<String> = ns.split('/').map(|s| percent_encode(s, &[])).collect();
            write!(f, "{}/", encoded.join("/"))?;
        }
        f.write_str(&percent_encode(&self.name, &[]))?;
        if let Some(v) = &self.version {
            write!(f, "@{}", percent_encode(v, &[':']))?;
        }
        let mut separator = '?';
        for (k, v) in &self.qualifiers {
            write!(f, "{separator}{k}={}", percent_encode(v, &[':', '/']))?;
            separator = '&';
        }
        if let Some(s) = &self.subpath {
            write!(f, "#{}", percent_encode(s, &['/']))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_part_and_decodes_percent_escapes() {
        let p =
            Purl::parse("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1?type=jar").unwrap();
        assert_eq!(p.ty, "maven");
        assert_eq!(p.namespace.as_deref(), Some("org.apache.logging.log4j"));
        assert_eq!(p.name, "log4j-core");
        assert_eq!(p.version.as_deref(), Some("2.14.1"));
        assert_eq!(p.qualifiers.get("type").map(String::as_str), Some("jar"));

        let p = Purl::parse("pkg:npm/%40angular/animation@12.3.1").unwrap();
        assert_eq!(p.namespace.as_deref(), Some("@angular"));
        assert_eq!(p.to_string(), "pkg:npm/%40angular/animation@12.3.1");

        let p =
            Purl::parse("pkg:deb/debian/curl@7.50.3-1?arch=i386&distro=jessie#docs/man%20pages/")
                .unwrap();
        assert_eq!(p.version.as_deref(), Some("7.50.3-1"));
        assert_eq!(p.qualifiers.len(), 2);
        assert_eq!(p.subpath.as_deref(), Some("docs/man pages"));

        let p =
            Purl::parse("pkg:golang/github.com/gorilla/context@234fd47e07d1004f0aed9c").unwrap();
        assert_eq!(p.namespace.as_deref(), Some("github.com/gorilla"));
        assert_eq!(p.name, "context");
    }

    #[test]
    fn normalises_names_per_type() {
        let p = Purl::parse("pkg:PyPI/Django_Rest_Framework@3.14.0").unwrap();
        assert_eq!(
            (p.ty.as_str(), p.name.as_str()),
            ("pypi", "django-rest-framework")
        );
        let p = Purl::parse("pkg:github/Package-URL/Purl-Spec@244fd47e").unwrap();
        assert_eq!(p.namespace.as_deref(), Some("package-url"));
        // Maven names are case-sensitive and kept.
        let p = Purl::parse("pkg:maven/org.Foo/Bar@1").unwrap();
        assert_eq!(p.name, "Bar");
        let p = Purl::parse("pkg:generic/openssl").unwrap();
        assert_eq!((p.name.as_str(), p.version), ("openssl", None));
    }

    #[test]
    fn rejects_malformed_urls_with_the_reason() {
        assert_eq!(Purl::parse("maven/a/b@1"), Err(PurlError::Scheme));
        assert_eq!(Purl::parse("pkg:nameonly"), Err(PurlError::MissingType));
        assert_eq!(Purl::parse("pkg:npm/"), Err(PurlError::MissingName));
        assert_eq!(Purl::parse("pkg:np m/x"), Err(PurlError::BadType));
        assert_eq!(Purl::parse("pkg:npm/a%2"), Err(PurlError::PercentEncoding));
        assert_eq!(Purl::parse("pkg:npm/a?novalue"), Err(PurlError::Qualifier));
        assert_eq!(Purl::parse("pkg:npm/a%ff"), Err(PurlError::PercentEncoding));
    }

    #[test]
    fn same_package_ignores_version_and_qualifiers() {
        let a = Purl::parse("pkg:maven/org.slf4j/slf4j-api@1.7.36?type=jar").unwrap();
        let b = Purl::parse("pkg:maven/org.slf4j/slf4j-api@2.0.0").unwrap();
        let c = Purl::parse("pkg:maven/org.slf4j/slf4j-simple@1.7.36").unwrap();
        assert!(a.same_package(&b));
        assert!(!a.same_package(&c));
    }
}
