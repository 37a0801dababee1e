//! Vulnerability and lifecycle feeds, parsed from their JSON: the CISA Known Exploited
//! Vulnerabilities catalogue, endoflife.date product data (the v1 API and the legacy
//! `/api/{product}.json` array), and NVD CVE API 2.0 pages. `detect_feed` tells them apart
//! so `ward feeds update --from FILE` needs no flag.
//!
//! Pure: bytes in, values out. Errors name the feed and the field path; they never quote
//! field values.

use crate::cpe::Cpe;
use crate::json::{JsonError, Reader, index, join, kind, parse_date};
use crate::version::VersionRange;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What a feed file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeedKind {
    Kev,
    EndOfLifeV1,
    EndOfLifeLegacy,
    Nvd,
    CycloneDx,
    Unknown,
}

/// Tells the feed kind from its content; `Unknown` for anything else, including bad JSON.
pub fn detect_feed(bytes: &[u8]) -> FeedKind {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let Ok(value) = serde_json::from_slice::<Value>(bytes) else {
        return FeedKind::Unknown;
    };
    match &value {
        Value::Object(o) => {
            if o.get("bomFormat").and_then(Value::as_str) == Some("CycloneDX") {
                FeedKind::CycloneDx
            } else if o.contains_key("catalogVersion")
                || (o
                    .get("title")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.contains("Known Exploited")))
            {
                FeedKind::Kev
            } else if o
                .get("result")
                .and_then(|r| r.get("releases"))
                .is_some_and(Value::is_array)
            {
                FeedKind::EndOfLifeV1
            } else if o.get("format").and_then(Value::as_str) == Some("NVD_CVE")
                || o.get("vulnerabilities")
                    .and_then(Value::as_array)
                    .and_then(|v| v.first())
                    .is_some_and(|v| v.get("cve").is_some())
            {
                FeedKind::Nvd
            } else {
                FeedKind::Unknown
            }
        }
        Value::Array(items) if items.first().is_some_and(|i| i.get("cycle").is_some()) => {
            FeedKind::EndOfLifeLegacy
        }
        _ => FeedKind::Unknown,
    }
}

// ---------------------------------------------------------------------------------------
// CISA KEV

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KevEntry {
    pub cve_id: String,
    pub vendor_project: String,
    pub product: String,
    pub vulnerability_name: String,
    pub date_added: NaiveDate,
    pub short_description: String,
    pub required_action: String,
    pub due_date: Option<NaiveDate>,
    /// `knownRansomwareCampaignUse` is `Known`.
    pub known_ransomware: bool,
    pub notes: String,
    pub cwes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KevCatalog {
    pub title: String,
    pub catalog_version: String,
    pub date_released: Option<NaiveDate>,
    pub entries: Vec<KevEntry>,
}

impl KevCatalog {
    pub fn get(&self, cve_id: &str) -> Option<&KevEntry> {
        self.entries
            .iter()
            .find(|e| e.cve_id.eq_ignore_ascii_case(cve_id))
    }
}

/// Parses `known_exploited_vulnerabilities.json`.
pub fn parse_kev(bytes: &[u8]) -> Result<KevCatalog, JsonError> {
    let r = Reader {
        document: "CISA KEV catalogue",
    };
    let root = r.parse(bytes)?;
    let root = r.object(&root, "$")?;
    let title = r.opt_string(root, "title", "$")?.unwrap_or_default();
    let catalog_version = r.string(root, "catalogVersion", "$")?;
    let date_released = match r.opt_string(root, "dateReleased", "$")? {
        None => None,
        Some(d) => Some(parse_date(&d).ok_or_else(|| r.error("dateReleased", "not a date"))?),
    };
    let list = root
        .get("vulnerabilities")
        .ok_or_else(|| r.error("vulnerabilities", "missing"))?;
    let mut entries = Vec::new();
    for (i, v) in r.array(list, "vulnerabilities")?.iter().enumerate() {
        let path = index("$", "vulnerabilities", i);
        let o = r.object(v, &path)?;
        let text = |key: &str| -> Result<String, JsonError> {
            Ok(r.opt_string(o, key, &path)?.unwrap_or_default())
        };
        let date = |key: &str| -> Result<Option<NaiveDate>, JsonError> {
            match r.opt_string(o, key, &path)? {
                None => Ok(None),
                Some(d) if d.trim().is_empty() => Ok(None),
                Some(d) => parse_date(&d)
                    .map(Some)
                    .ok_or_else(|| r.error(&join(&path, key), "not a YYYY-MM-DD date")),
            }
        };
        let cve_id = r.string(o, "cveID", &path)?;
        if !cve_id.to_ascii_uppercase().starts_with("CVE-") {
            return Err(r.error(&join(&path, "cveID"), "not a CVE id (CVE-YYYY-NNNN)"));
        }
        let mut cwes = Vec::new();
        for (j, c) in r.opt_array(o, "cwes", &path)?.iter().enumerate() {
            match c {
                Value::String(s) => cwes.push(s.clone()),
                other => {
                    return Err(r.error(
                        &index(&path, "cwes", j),
                        format!("expected a string, found {}", kind(other)),
                    ));
                }
            }
        }
        entries.push(KevEntry {
            cve_id,
            vendor_project: text("vendorProject")?,
            product: text("product")?,
            vulnerability_name: text("vulnerabilityName")?,
            date_added: date("dateAdded")?
                .ok_or_else(|| r.error(&join(&path, "dateAdded"), "missing"))?,
            short_description: text("shortDescription")?,
            required_action: text("requiredAction")?,
            due_date: date("dueDate")?,
            known_ransomware: text("knownRansomwareCampaignUse")?.eq_ignore_ascii_case("known"),
            notes: text("notes")?,
            cwes,
        });
    }
    Ok(KevCatalog {
        title,
        catalog_version,
        date_released,
        entries,
    })
}

// ---------------------------------------------------------------------------------------
// endoflife.date

/// A lifecycle milestone (end of life, end of active support): reached or not, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "status", content = "date")]
pub enum Milestone {
    /// Not reached and no date announced.
    NotAnnounced,
    /// Reached, date not given.
    Reached,
    /// Reached on, or due on, this date (the first day without support).
    On(NaiveDate),
}

impl Milestone {
    /// Whether the milestone has passed on `as_of` (the date itself counts as passed).
    pub fn reached(&self, as_of: NaiveDate) -> bool {
        match self {
            Milestone::NotAnnounced => false,
            Milestone::Reached => true,
            Milestone::On(d) => as_of >= *d,
        }
    }

    pub fn date(&self) -> Option<NaiveDate> {
        match self {
            Milestone::On(d) => Some(*d),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EolIdentifier {
    /// `cpe`, `purl`, `repology` …
    pub kind: String,
    pub id: String,
}

/// One release cycle (`3.8`, `22.04`, `2019`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EolRelease {
    pub name: String,
    pub release_date: Option<NaiveDate>,
    pub lts: bool,
    pub end_of_life: Milestone,
    /// End of active support (bug fixes); security fixes may continue until end of life.
    pub end_of_active_support: Milestone,
    /// End of extended (paid) support, when the product has one.
    pub end_of_extended_support: Option<Milestone>,
    pub latest: Option<String>,
    pub latest_date: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EolProduct {
    /// The endoflife.date product name (`python`, `windows-server`).
    pub name: String,
    pub identifiers: Vec<EolIdentifier>,
    pub releases: Vec<EolRelease>,
}

const EOL_V1: Reader = Reader {
    document: "endoflife.date product (v1 API)",
};
const EOL_LEGACY: Reader = Reader {
    document: "endoflife.date product (legacy API)",
};

/// Parses a v1 API product document (`GET /api/v1/products/{product}`).
pub fn parse_endoflife_v1(bytes: &[u8]) -> Result<EolProduct, JsonError> {
    let r = &EOL_V1;
    let root = r.parse(bytes)?;
    let root = r.object(&root, "$")?;
    let result = root
        .get("result")
        .ok_or_else(|| r.error("result", "missing"))?;
    let result = r.object(result, "result")?;
    let name = r.string(result, "name", "result")?;
    let mut identifiers = Vec::new();
    for (i, v) in r
        .opt_array(result, "identifiers", "result")?
        .iter()
        .enumerate()
    {
        let path = index("result", "identifiers", i);
        let o = r.object(v, &path)?;
        identifiers.push(EolIdentifier {
            kind: r.string(o, "type", &path)?,
            id: r.string(o, "id", &path)?,
        });
    }
    let mut releases = Vec::new();
    for (i, v) in r
        .opt_array(result, "releases", "result")?
        .iter()
        .enumerate()
    {
        let path = index("result", "releases", i);
        let o = r.object(v, &path)?;
        let milestone = |flag: &str, date: &str| -> Result<Milestone, JsonError> {
            match optional_date(r, o, date, &path)? {
                Some(d) => Ok(Milestone::On(d)),
                None if r.opt_bool(o, flag, &path)? == Some(true) => Ok(Milestone::Reached),
                None => Ok(Milestone::NotAnnounced),
            }
        };
        let (latest, latest_date) = match o.get("latest") {
            None | Some(Value::Null) => (None, None),
            Some(l) => {
                let lp = join(&path, "latest");
                let lo = r.object(l, &lp)?;
                (
                    r.opt_string(lo, "name", &lp)?,
                    optional_date(r, lo, "date", &lp)?,
                )
            }
        };
        let extended = match o.get("isEoes") {
            None | Some(Value::Null) => None,
            Some(_) => Some(milestone("isEoes", "eoesFrom")?),
        };
        releases.push(EolRelease {
            name: r.string(o, "name", &path)?,
            release_date: optional_date(r, o, "releaseDate", &path)?,
            lts: r.opt_bool(o, "isLts", &path)?.unwrap_or(false),
            end_of_life: milestone("isEol", "eolFrom")?,
            end_of_active_support: milestone("isEoas", "eoasFrom")?,
            end_of_extended_support: extended,
            latest,
            latest_date,
        });
    }
    Ok(EolProduct {
        name,
        identifiers,
        releases,
    })
}

/// Parses a legacy `/api/{product}.json` array, which does not name its product.
pub fn parse_endoflife_legacy(product: &str, bytes: &[u8]) -> Result<EolProduct, JsonError> {
    let r = &EOL_LEGACY;
    let root = r.parse(bytes)?;
    let mut releases = Vec::new();
    for (i, v) in r.array(&root, "$")?.iter().enumerate() {
        let path = format!("[{i}]");
        let o = r.object(v, &path)?;
        let name = r
            .opt_string(o, "cycle", &path)?
            .ok_or_else(|| r.error(&join(&path, "cycle"), "missing"))?;
        // `eol`, `support`, `extendedSupport` and `lts`: true/false, or a date.
        let milestone =
            |key: &str| -> Result<Option<Milestone>, JsonError> {
                match o.get(key) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::Bool(true)) => Ok(Some(Milestone::Reached)),
                    Some(Value::Bool(false)) => Ok(Some(Milestone::NotAnnounced)),
                    Some(Value::String(s)) => parse_date(s)
                        .map(|d| Some(Milestone::On(d)))
                        .ok_or_else(|| {
                            r.error(
                                &join(&path, key),
                                "neither true/false nor a YYYY-MM-DD date",
                            )
                        }),
                    Some(other) => Err(r.error(
                        &join(&path, key),
                        format!("expected true/false or a date, found {}", kind(other)),
                    )),
                }
            };
        let lts = match milestone("lts")? {
            None | Some(Milestone::NotAnnounced) => false,
            Some(Milestone::Reached) => true,
            // `"lts": "2024-10-22"`: LTS from that date; the cycle is an LTS line.
            Some(Milestone::On(_)) => true,
        };
        releases.push(EolRelease {
            name,
            release_date: optional_date(r, o, "releaseDate", &path)?,
            lts,
            end_of_life: milestone("eol")?.unwrap_or(Milestone::NotAnnounced),
            end_of_active_support: milestone("support")?.unwrap_or(Milestone::NotAnnounced),
            end_of_extended_support: milestone("extendedSupport")?,
            latest: r.opt_string(o, "latest", &path)?,
            latest_date: optional_date(r, o, "latestReleaseDate", &path)?,
        });
    }
    Ok(EolProduct {
        name: product.to_string(),
        identifiers: Vec::new(),
        releases,
    })
}

fn optional_date(
    r: &Reader,
    o: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<NaiveDate>, JsonError> {
    match r.opt_string(o, key, path)? {
        None => Ok(None),
        Some(d) => parse_date(&d)
            .map(Some)
            .ok_or_else(|| r.error(&join(path, key), "not a YYYY-MM-DD date")),
    }
}

// ---------------------------------------------------------------------------------------
// NVD CVE API 2.0

/// One `cpeMatch` criterion: a CPE pattern and, when its version is `*`, a version range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NvdCpeMatch {
    pub criteria: Cpe,
    /// The criterion as NVD wrote it, for reasons.
    pub criteria_text: String,
    pub vulnerable: bool,
    pub range: VersionRange,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NvdNode {
    /// `OR` or `AND`.
    pub operator: String,
    pub negate: bool,
    pub cpe_match: Vec<NvdCpeMatch>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NvdConfiguration {
    /// `AND` when every node must match (an application on a platform); else `OR`.
    pub operator: String,
    pub nodes: Vec<NvdNode>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NvdCve {
    pub id: String,
    pub configurations: Vec<NvdConfiguration>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NvdFeed {
    pub cves: Vec<NvdCve>,
}

impl NvdFeed {
    pub fn get(&self, cve_id: &str) -> Option<&NvdCve> {
        self.cves.iter().find(|c| c.id.eq_ignore_ascii_case(cve_id))
    }
}

/// Parses an NVD CVE API 2.0 response (`{"vulnerabilities": [{"cve": {...}}]}`).
pub fn parse_nvd(bytes: &[u8]) -> Result<NvdFeed, JsonError> {
    let r = Reader {
        document: "NVD CVE feed",
    };
    let root = r.parse(bytes)?;
    let root = r.object(&root, "$")?;
    let list = root
        .get("vulnerabilities")
        .ok_or_else(|| r.error("vulnerabilities", "missing"))?;
    let mut cves = Vec::new();
    for (i, v) in r.array(list, "vulnerabilities")?.iter().enumerate() {
        let path = index("$", "vulnerabilities", i);
        let item = r.object(v, &path)?;
        let cve_path = join(&path, "cve");
        let cve = r.object(
            item.get("cve")
                .ok_or_else(|| r.error(&cve_path, "missing"))?,
            &cve_path,
        )?;
        let id = r.string(cve, "id", &cve_path)?;
        let mut configurations = Vec::new();
        for (c, config) in r
            .opt_array(cve, "configurations", &cve_path)?
            .iter()
            .enumerate()
        {
            let c_path = index(&cve_path, "configurations", c);
            let config = r.object(config, &c_path)?;
            let mut nodes = Vec::new();
            for (n, node) in r.opt_array(config, "nodes", &c_path)?.iter().enumerate() {
                let n_path = index(&c_path, "nodes", n);
                let node = r.object(node, &n_path)?;
                let mut cpe_match = Vec::new();
                for (m, cm) in r.opt_array(node, "cpeMatch", &n_path)?.iter().enumerate() {
                    let m_path = index(&n_path, "cpeMatch", m);
                    let cm = r.object(cm, &m_path)?;
                    let criteria_text = r.string(cm, "criteria", &m_path)?;
                    let criteria = Cpe::parse(&criteria_text)
                        .map_err(|e| r.error(&join(&m_path, "criteria"), e.to_string()))?;
                    cpe_match.push(NvdCpeMatch {
                        criteria,
                        criteria_text,
                        vulnerable: r.opt_bool(cm, "vulnerable", &m_path)?.unwrap_or(true),
                        range: VersionRange {
                            start_including: r.opt_string(cm, "versionStartIncluding", &m_path)?,
                            start_excluding: r.opt_string(cm, "versionStartExcluding", &m_path)?,
                            end_including: r.opt_string(cm, "versionEndIncluding", &m_path)?,
                            end_excluding: r.opt_string(cm, "versionEndExcluding", &m_path)?,
                        },
                    });
                }
                nodes.push(NvdNode {
                    operator: r
                        .opt_string(node, "operator", &n_path)?
                        .unwrap_or_else(|| "OR".into()),
                    negate: r.opt_bool(node, "negate", &n_path)?.unwrap_or(false),
                    cpe_match,
                });
            }
            configurations.push(NvdConfiguration {
                operator: r
                    .opt_string(config, "operator", &c_path)?
                    .unwrap_or_else(|| "OR".into()),
                nodes,
            });
        }
        cves.push(NvdCve { id, configurations });
    }
    Ok(NvdFeed { cves })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    const KEV: &str = r#"{"title": "CISA Catalog of Known Exploited Vulnerabilities",
      "catalogVersion": "2025.08.25", "dateReleased": "2025-08-25T17:04:19.9796Z", "count": 1,
      "vulnerabilities": [{"cveID": "CVE-2014-0160", "vendorProject": "OpenSSL", "product": "OpenSSL",
        "vulnerabilityName": "OpenSSL Information Disclosure Vulnerability", "dateAdded": "2022-05-04",
        "shortDescription": "Heartbleed", "requiredAction": "Apply updates per vendor instructions.",
        "dueDate": "2022-05-25", "knownRansomwareCampaignUse": "Known", "notes": "", "cwes": ["CWE-125"]}]}"#;

    #[test]
    fn parses_kev_entries_with_dates_and_ransomware_flag() {
        let kev = parse_kev(KEV.as_bytes()).unwrap();
        assert_eq!(kev.catalog_version, "2025.08.25");
        assert_eq!(kev.date_released, Some(day("2025-08-25")));
        let e = kev.get("cve-2014-0160").unwrap();
        assert_eq!(e.due_date, Some(day("2022-05-25")));
        assert!(e.known_ransomware);
        assert_eq!(e.cwes, ["CWE-125"]);
        assert_eq!(detect_feed(KEV.as_bytes()), FeedKind::Kev);
    }

    #[test]
    fn kev_errors_name_the_entry_and_field() {
        let bad = KEV.replace("\"2022-05-25\"", "\"soon\"");
        let e = parse_kev(bad.as_bytes()).unwrap_err();
        assert_eq!(e.path, "vulnerabilities[0].dueDate");
        let bad = KEV.replace("CVE-2014-0160", "heartbleed");
        assert_eq!(
            parse_kev(bad.as_bytes()).unwrap_err().path,
            "vulnerabilities[0].cveID"
        );
        let e = parse_kev(br#"{"catalogVersion": "1", "vulnerabilities": {}}"#).unwrap_err();
        assert_eq!(
            (e.path.as_str(), e.reason.as_str()),
            ("vulnerabilities", "expected an array, found an object")
        );
    }

    #[test]
    fn legacy_endoflife_reads_booleans_or_dates() {
        let text = r#"[
          {"cycle": "3.12", "releaseDate": "2023-10-02", "eol": "2028-10-31", "latest": "3.12.4",
           "latestReleaseDate": "2024-06-06", "lts": false, "support": "2025-04-02"},
          {"cycle": "2.7", "releaseDate": "2010-07-03", "eol": true, "latest": "2.7.18", "lts": false},
          {"cycle": 3.8, "releaseDate": "2019-10-14", "eol": "2024-10-07", "support": false},
          {"cycle": "2022", "releaseDate": "2021-08-18", "eol": "2031-10-14", "support": "2026-10-13",
           "extendedSupport": true, "lts": "2021-08-18"}
        ]"#;
        assert_eq!(detect_feed(text.as_bytes()), FeedKind::EndOfLifeLegacy);
        let p = parse_endoflife_legacy("python", text.as_bytes()).unwrap();
        assert_eq!(p.name, "python");
        assert_eq!(p.releases[0].end_of_life, Milestone::On(day("2028-10-31")));
        assert_eq!(
            p.releases[0].end_of_active_support,
            Milestone::On(day("2025-04-02"))
        );
        assert_eq!(p.releases[1].end_of_life, Milestone::Reached);
        assert_eq!(p.releases[2].name, "3.8");
        assert_eq!(p.releases[2].end_of_active_support, Milestone::NotAnnounced);
        assert_eq!(
            p.releases[3].end_of_extended_support,
            Some(Milestone::Reached)
        );
        assert!(p.releases[3].lts);
        let e = parse_endoflife_legacy("x", br#"[{"cycle": "1", "eol": 5}]"#).unwrap_err();
        assert_eq!(e.path, "[0].eol");
        let e = parse_endoflife_legacy("x", br#"[{"eol": false}]"#).unwrap_err();
        assert_eq!(e.path, "[0].cycle");
    }

    #[test]
    fn v1_endoflife_reads_flags_dates_and_identifiers() {
        let text = r#"{"schema_version": "1.2.0", "result": {"name": "nodejs",
          "identifiers": [{"id": "pkg:generic/node", "type": "purl"}, {"id": "cpe:/a:nodejs:node.js", "type": "cpe"}],
          "releases": [
            {"name": "22", "releaseDate": "2024-04-24", "isLts": true, "isEol": false, "eolFrom": "2027-04-30",
             "isEoas": false, "eoasFrom": "2025-10-21", "isMaintained": true,
             "latest": {"name": "22.9.0", "date": "2024-09-17", "link": "https://nodejs.org/"}},
            {"name": "0.10", "releaseDate": "2013-03-11", "isLts": false, "isEol": true, "eolFrom": null,
             "isEoas": true, "eoasFrom": null, "isMaintained": false, "latest": null}
          ]}}"#;
        assert_eq!(detect_feed(text.as_bytes()), FeedKind::EndOfLifeV1);
        let p = parse_endoflife_v1(text.as_bytes()).unwrap();
        assert_eq!(p.identifiers.len(), 2);
        assert_eq!(p.releases[0].end_of_life, Milestone::On(day("2027-04-30")));
        assert_eq!(p.releases[0].latest.as_deref(), Some("22.9.0"));
        assert!(p.releases[0].lts);
        assert_eq!(p.releases[1].end_of_life, Milestone::Reached);
        assert_eq!(p.releases[1].end_of_active_support, Milestone::Reached);
        let bad = text.replace("\"2027-04-30\"", "\"April\"");
        assert_eq!(
            parse_endoflife_v1(bad.as_bytes()).unwrap_err().path,
            "result.releases[0].eolFrom"
        );
    }

    #[test]
    fn milestone_is_reached_on_its_date_not_the_day_before() {
        let m = Milestone::On(day("2024-10-07"));
        assert!(!m.reached(day("2024-10-06")));
        assert!(m.reached(day("2024-10-07")));
        assert!(m.reached(day("2024-10-08")));
        assert!(!Milestone::NotAnnounced.reached(day("2999-01-01")));
        assert!(Milestone::Reached.reached(day("1970-01-01")));
    }

    #[test]
    fn parses_nvd_configurations_and_ranges() {
        let text = r#"{"resultsPerPage": 1, "format": "NVD_CVE", "version": "2.0", "vulnerabilities": [
          {"cve": {"id": "CVE-2023-0286", "configurations": [{"nodes": [{"operator": "OR", "negate": false,
            "cpeMatch": [{"vulnerable": true, "criteria": "cpe:2.3:a:openssl:openssl:*:*:*:*:*:*:*:*",
              "versionStartIncluding": "3.0.0", "versionEndExcluding": "3.0.8", "matchCriteriaId": "X"}]}]}]}}]}"#;
        assert_eq!(detect_feed(text.as_bytes()), FeedKind::Nvd);
        let feed = parse_nvd(text.as_bytes()).unwrap();
        let m = &feed.get("CVE-2023-0286").unwrap().configurations[0].nodes[0].cpe_match[0];
        assert_eq!(m.range.describe(), ">= 3.0.0, < 3.0.8");
        let bad = text.replace("cpe:2.3:a:openssl:openssl:*:*:*:*:*:*:*:*", "openssl");
        let e = parse_nvd(bad.as_bytes()).unwrap_err();
        assert_eq!(
            e.path,
            "vulnerabilities[0].cve.configurations[0].nodes[0].cpeMatch[0].criteria"
        );
    }

    #[test]
    fn detect_feed_says_unknown_for_other_json_and_garbage() {
        assert_eq!(detect_feed(b"{\"a\": 1}"), FeedKind::Unknown);
        assert_eq!(detect_feed(b"[1, 2]"), FeedKind::Unknown);
        assert_eq!(detect_feed(b"\xff\xfe"), FeedKind::Unknown);
        assert_eq!(
            detect_feed(br#"{"bomFormat": "CycloneDX", "specVersion": "1.5"}"#),
            FeedKind::CycloneDx
        );
    }
}
