//! Ordering of real product version strings, as printed by vendors, package managers and NVD:
//! dotted numbers of any length (`10.0.17763.1234`), patch letters (`1.1.1w` after `1.1.1`),
//! pre-releases (`2.0.0-rc1`, `3.12.0b2`, `1.0~beta` before the release), Debian-style epochs
//! (`1:2.3`) and revisions (`1.2-3ubuntu1` after `1.2`), a leading `v`, and Maven markers
//! (`-SNAPSHOT` before, `.RELEASE`/`-GA`/`.Final` equal to the release).
//!
//! Parsing never fails: any text yields a version, so a strange string compares somewhere
//! rather than hiding a component. Numbers of any length compare without overflow.

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::fmt;

/// One comparable piece of a version.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// Digits without leading zeros; compared by length, then text.
    Number(String),
    /// Letters (lowercase): `w` in `1.1.1w`, `jre` in `11.2.0.jre11`.
    Letters(String),
}

impl Token {
    fn cmp_token(&self, other: &Token) -> Ordering {
        match (self, other) {
            (Token::Number(a), Token::Number(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
            (Token::Letters(a), Token::Letters(b)) => a.cmp(b),
            (Token::Letters(_), Token::Number(_)) => Ordering::Less,
            (Token::Number(_), Token::Letters(_)) => Ordering::Greater,
        }
    }

    fn is_zero(&self) -> bool {
        matches!(self, Token::Number(n) if n.is_empty())
    }
}

/// A parsed version. Equality and ordering follow the rules in the module documentation,
/// so `1.0` equals `1.0.0` and `v2.1` equals `2.1`; the original text is kept for display.
#[derive(Debug, Clone)]
pub struct Version {
    raw: String,
    epoch: Token,
    release: Vec<Token>,
    /// `Some((rank, tokens))` for a pre-release: rank orders dev < alpha < beta < pre < rc.
    pre: Option<(u8, Vec<Token>)>,
    /// Revisions after the release (`-3ubuntu1`); any revision sorts after none.
    post: Vec<Token>,
}

/// Pre-release words and their rank; a single letter counts only when a number follows it
/// (`3.0b1`), because a trailing letter is a patch release (`1.0.2k`).
fn pre_release_rank(word: &str, followed_by_number: bool) -> Option<u8> {
    match word {
        "dev" | "snapshot" | "nightly" => Some(0),
        "alpha" | "ea" => Some(1),
        "a" if followed_by_number => Some(1),
        "beta" => Some(2),
        "b" if followed_by_number => Some(2),
        "m" | "milestone" if followed_by_number => Some(2),
        "pre" | "preview" => Some(3),
        "rc" | "cr" => Some(4),
        "c" if followed_by_number => Some(4),
        _ => None,
    }
}

/// Words that mark a final release and carry no order (`1.1.6.RELEASE`, `3.29.0-GA`).
fn is_release_marker(word: &str) -> bool {
    matches!(word, "release" | "final" | "ga")
}

/// Splits text into digit and letter runs, noting where a `-` or `~` preceded a run.
fn lex(text: &str) -> Vec<(Token, Option<char>)> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let mut separator = None;
    while let Some(&c) = chars.peek() {
        if c.is_ascii_digit() {
            let mut digits = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(d);
                chars.next();
            }
            let trimmed = digits.trim_start_matches('0').to_string();
            out.push((Token::Number(trimmed), separator.take()));
        } else if c.is_alphabetic() {
            let mut word = String::new();
            while let Some(&l) = chars.peek().filter(|l| l.is_alphabetic()) {
                word.extend(l.to_lowercase());
                chars.next();
            }
            out.push((Token::Letters(word), separator.take()));
        } else {
            if c == '-' || c == '~' {
                separator = Some(c);
            }
            chars.next();
        }
    }
    out
}

impl Version {
    pub fn parse(text: &str) -> Version {
        let raw = text.trim().to_string();
        let mut rest = raw.as_str();
        // Build metadata (`+build.5`) carries no order (SemVer 2.0 §10).
        if let Some((head, _)) = rest.split_once('+') {
            rest = head;
        }
        let mut epoch = Token::Number(String::new());
        if let Some((e, tail)) = rest.split_once(':')
            && !e.is_empty()
            && e.bytes().all(|b| b.is_ascii_digit())
        {
            epoch = Token::Number(e.trim_start_matches('0').to_string());
            rest = tail;
        }
        if let Some(tail) = rest.strip_prefix(['v', 'V'])
            && tail.starts_with(|c: char| c.is_ascii_digit())
        {
            rest = tail;
        }
        let tokens = lex(rest);
        let mut release = Vec::new();
        let mut pre: Option<(u8, Vec<Token>)> = None;
        let mut post = Vec::new();
        let mut in_post = false;
        let mut i = 0;
        while let Some((token, separator)) = tokens.get(i) {
            let next_is_number = matches!(tokens.get(i + 1), Some((Token::Number(_), None)));
            i += 1;
            if let Token::Letters(word) = token {
                if is_release_marker(word) {
                    continue;
                }
                if pre.is_none()
                    && !in_post
                    && let Some(rank) = pre_release_rank(word, next_is_number)
                {
                    pre = Some((rank, Vec::new()));
                    continue;
                }
            }
            if let Some((_, tail)) = pre.as_mut() {
                tail.push(token.clone());
            } else if in_post {
                post.push(token.clone());
            } else if separator == &Some('-') && !release.is_empty() {
                // `1.2-3`: a packaging revision of 1.2, not version 1.2.3.
                in_post = true;
                post.push(token.clone());
            } else {
                release.push(token.clone());
            }
        }
        while release.last().is_some_and(Token::is_zero) {
            release.pop();
        }
        Version {
            raw,
            epoch,
            release,
            pre,
            post,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// True when the text held no digit or letter at all.
    pub fn is_empty(&self) -> bool {
        self.release.is_empty() && self.pre.is_none() && self.post.is_empty()
    }

    /// Whether this is a pre-release (`2.0.0-rc1`).
    pub fn is_pre_release(&self) -> bool {
        self.pre.is_some()
    }

    /// The leading dotted segments as written (`3.8.10` → `["3", "8", "10"]`), used to find
    /// the release cycle a version belongs to.
    pub fn segments(&self) -> Vec<&str> {
        let text = self
            .raw
            .split_once(':')
            .map_or(self.raw.as_str(), |(e, t)| {
                if e.bytes().all(|b| b.is_ascii_digit()) {
                    t
                } else {
                    self.raw.as_str()
                }
            });
        let text = text.strip_prefix(['v', 'V']).unwrap_or(text);
        text.split(|c: char| c == '-' || c == '+' || c == '~' || c.is_whitespace())
            .next()
            .unwrap_or("")
            .split(['.', '_'])
            .filter(|s| !s.is_empty())
            .collect()
    }
}

fn cmp_tokens(a: &[Token], b: &[Token]) -> Ordering {
    let zero = Token::Number(String::new());
    for i in 0..a.len().max(b.len()) {
        let order = match (a.get(i), b.get(i)) {
            (Some(x), Some(y)) => x.cmp_token(y),
            // A missing number is a zero, so `1.0` equals `1.0.0`.
            // A trailing letter is a later patch: `1.1.1w` > `1.1.1`.
            (Some(Token::Letters(_)), None) => Ordering::Greater,
            (None, Some(Token::Letters(_))) => Ordering::Less,
            (Some(x), None) => x.cmp_token(&zero),
            (None, Some(y)) => zero.cmp_token(y),
            (None, None) => Ordering::Equal,
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    Ordering::Equal
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp_token(&other.epoch)
            .then_with(|| cmp_tokens(&self.release, &other.release))
            .then_with(|| match (&self.pre, &other.pre) {
                (None, None) => Ordering::Equal,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some((ra, ta)), Some((rb, tb))) => ra.cmp(rb).then_with(|| cmp_tokens(ta, tb)),
            })
            .then_with(|| match (self.post.is_empty(), other.post.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Less,
                (false, true) => Ordering::Greater,
                (false, false) => cmp_tokens(&self.post, &other.post),
            })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.raw)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|s| Version::parse(&s))
    }
}

/// Compares two version strings.
pub fn compare(a: &str, b: &str) -> Ordering {
    Version::parse(a).cmp(&Version::parse(b))
}

/// A range of versions as NVD writes it; a missing bound is open.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRange {
    pub start_including: Option<String>,
    pub start_excluding: Option<String>,
    pub end_including: Option<String>,
    pub end_excluding: Option<String>,
}

impl VersionRange {
    /// True when no bound is set (every version is inside).
    pub fn is_unbounded(&self) -> bool {
        self.start_including.is_none()
            && self.start_excluding.is_none()
            && self.end_including.is_none()
            && self.end_excluding.is_none()
    }

    pub fn contains(&self, version: &Version) -> bool {
        let check = |bound: &Option<String>, ok: fn(Ordering) -> bool| {
            bound
                .as_deref()
                .is_none_or(|b| ok(version.cmp(&Version::parse(b))))
        };
        check(&self.start_including, |o| o != Ordering::Less)
            && check(&self.start_excluding, |o| o == Ordering::Greater)
            && check(&self.end_including, |o| o != Ordering::Greater)
            && check(&self.end_excluding, |o| o == Ordering::Less)
    }

    /// `>= 3.0.0, < 3.0.8`; `any version` when unbounded.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = [
            (">=", &self.start_including),
            (">", &self.start_excluding),
            ("<=", &self.end_including),
            ("<", &self.end_excluding),
        ]
        .iter()
        .filter_map(|(op, b)| b.as_ref().map(|b| format!("{op} {b}")))
        .collect();
        if parts.is_empty() {
            "any version".to_string()
        } else {
            parts.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lt(a: &str, b: &str) {
        assert_eq!(compare(a, b), Ordering::Less, "{a} < {b}");
        assert_eq!(compare(b, a), Ordering::Greater, "{b} > {a}");
    }

    fn eq(a: &str, b: &str) {
        assert_eq!(compare(a, b), Ordering::Equal, "{a} == {b}");
    }

    #[test]
    fn dotted_numbers_compare_numerically_not_as_text() {
        lt("3.8.9", "3.8.10");
        lt("3.8", "3.80");
        lt("10.0.17763.1234", "10.0.17763.5000");
        lt("10.0.14393", "10.0.17763");
        lt("9", "10");
        lt("1.2.3", "1.2.3.1");
        eq("1.0", "1.0.0");
        eq("01.2", "1.2");
        lt("20220320", "20231013");
        lt("99999999999999999999999", "100000000000000000000000");
    }

    #[test]
    fn openssl_patch_letters_sort_after_the_base_release() {
        lt("1.1.1", "1.1.1a");
        lt("1.1.1a", "1.1.1w");
        lt("1.0.2k", "1.0.2u");
        lt("1.1.1w", "1.1.2");
        lt("1.1.1w", "3.0.0");
    }

    #[test]
    fn pre_releases_sort_before_their_release() {
        lt("2.0.0-rc1", "2.0.0");
        lt("2.0.0-rc1", "2.0.0-rc2");
        lt("2.0.0-alpha", "2.0.0-beta");
        lt("2.0.0-beta.2", "2.0.0-rc.1");
        lt("1.9.9", "2.0.0-rc1");
        lt("3.12.0b2", "3.12.0rc1");
        lt("3.12.0rc1", "3.12.0");
        lt("1.0~beta1", "1.0");
        lt("4.6.0-SNAPSHOT", "4.6.0");
        lt("2.0.0-dev", "2.0.0-alpha");
        assert!(Version::parse("2.0.0-rc1").is_pre_release());
        assert!(!Version::parse("1.0.2k").is_pre_release());
    }

    #[test]
    fn epochs_dominate_and_default_to_zero() {
        lt("2.3", "1:2.3");
        lt("1:9.9", "2:0.1");
        eq("0:2.3", "2.3");
    }

    #[test]
    fn packaging_revisions_sort_after_the_upstream_version() {
        lt("1.2", "1.2-3");
        lt("1.2-3", "1.2.1");
        lt("1.1.1f-1ubuntu2", "1.1.1f-1ubuntu2.20");
    }

    #[test]
    fn leading_v_release_markers_and_build_metadata_are_ignored() {
        eq("v1.2.3", "1.2.3");
        eq("V2", "2.0");
        eq("1.1.6.RELEASE", "1.1.6");
        eq("3.29.0-GA", "3.29.0");
        eq("1.0.0+build.7", "1.0.0");
    }

    #[test]
    fn segments_are_the_leading_dotted_parts() {
        assert_eq!(Version::parse("3.8.10").segments(), ["3", "8", "10"]);
        assert_eq!(Version::parse("v22.04.3 LTS").segments(), ["22", "04", "3"]);
        assert_eq!(Version::parse("1:2.3-1").segments(), ["2", "3"]);
    }

    #[test]
    fn never_panics_on_odd_text() {
        for text in [
            "", ":", "v", "-", "~~", "1:", "::1", "é.ü", "+", "1..2", "rc",
        ] {
            let v = Version::parse(text);
            let _ = v.cmp(&Version::parse("1.0"));
            let _ = v.segments();
        }
        assert!(Version::parse("").is_empty());
    }
}
