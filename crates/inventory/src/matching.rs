//! Matching an asset's software against the feeds: known exploited vulnerabilities (KEV),
//! other CVEs (NVD ranges, or the SBOM's own vulnerability list), end of life and end of
//! active support (endoflife.date). Every finding carries a plain-words reason and says
//! whether it is confirmed or only possible.
//!
//! Rules, in the order they are applied to each component (OS, firmware, software):
//! - **NVD**: a `vulnerable` criterion whose part, vendor and product equal the component's
//!   CPE (or, without a CPE, its vendor and name) and whose version equals the component's,
//!   or whose range contains it. Confirmed, unless NVD only lists the component together
//!   with another platform (an `AND` configuration) or the component has no vendor to
//!   compare: then possible. A component without a version is not matched against ranges.
//! - **SBOM**: a CVE the component's SBOM lists for it. Confirmed.
//! - A CVE found either way is reported as `Kev` when the KEV catalogue lists it, else `Cve`.
//! - **KEV by product**: a KEV entry whose vendorProject and product (normalised) equal the
//!   component's CPE vendor and product, when the CVE was not confirmed above and NVD data
//!   for it, if loaded, does not exclude the version. Possible: the version is not checked.
//! - **End of life**: the component maps to an endoflife.date product by purl or CPE
//!   identifier, by a known CPE vendor and product (`debian:debian_linux`, `f5:nginx`), else
//!   by name or a known other name (`Red Hat Enterprise Linux`, `FortiGate`); the cycle is
//!   the longest release name whose dotted parts lead the version (`3.8.10` is in `3.8`, not
//!   `3.80`), else Windows Server's build or the year in its name. Two products have rules of
//!   their own, because endoflife.date splits their releases further:
//!   - Windows clients (never a name or CPE that says Server): Windows 10 and 11 by feature
//!     update, taken from the build (each cycle's `latest` gives its build), else from the
//!     name or CPE (`22H2`, `windows_10_1809`), else from a long-term servicing year; then
//!     by edition (Home/Pro `-w`, Enterprise/Education `-e`, LTSC/LTSB `-e-lts` or
//!     `-iot-lts`). Without an edition the one whose end of life comes first is taken, and
//!     the reason says so. Older releases (7, 8, 8.1, Vista, XP) by name.
//!   - SQL Server (`mssqlserver`): the version from the build, else the year in the name;
//!     the service pack from the CPE update field or the name, else from the build (the
//!     first service pack whose last listed build is not below it), else the latest service
//!     pack, and the reason says so.
//!
//!   A milestone is reached on its date: on the end-of-life date itself the cycle is end of
//!   life.

use crate::asset::{Asset, Software};
use crate::cpe::{Cpe, CpePart, CpeValue};
use crate::feeds::{EolProduct, EolRelease, KevCatalog, KevEntry, Milestone, NvdCve, NvdFeed};
use crate::purl::Purl;
use crate::version::Version;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The feeds to match against; any may be empty.
#[derive(Debug, Clone, Copy, Default)]
pub struct Feeds<'a> {
    pub kev: Option<&'a KevCatalog>,
    pub nvd: Option<&'a NvdFeed>,
    pub eol: &'a [EolProduct],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// A vulnerability CISA lists as exploited in the wild.
    Kev,
    EndOfLife,
    /// Active support ended; security fixes may continue until end of life.
    EndOfSupport,
    /// A known vulnerability not in KEV.
    Cve,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Confidence {
    Confirmed,
    Possible,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: FindingKind,
    /// The component the finding is about.
    pub software: Software,
    /// The CVE id, or the product and cycle (`python 3.8`).
    pub id: String,
    /// Why it matched, in plain words.
    pub reason: String,
    pub confidence: Confidence,
    /// KEV says the vulnerability has been used in ransomware campaigns.
    pub ransomware: bool,
    /// KEV's remediation due date.
    pub due_date: Option<NaiveDate>,
    /// End-of-life or end-of-support date, when known.
    pub lifecycle_date: Option<NaiveDate>,
}

/// All findings for an asset's operating system, firmware and software, as of `as_of`.
pub fn findings_for(asset: &Asset, feeds: &Feeds<'_>, as_of: NaiveDate) -> Vec<Finding> {
    let mut out = Vec::new();
    for software in asset.all_software() {
        for f in findings_for_software(software, feeds, as_of) {
            if !out
                .iter()
                .any(|o: &Finding| o.kind == f.kind && o.id == f.id && o.software == f.software)
            {
                out.push(f);
            }
        }
    }
    out
}

/// Findings for one component.
pub fn findings_for_software(
    software: &Software,
    feeds: &Feeds<'_>,
    as_of: NaiveDate,
) -> Vec<Finding> {
    let identity = Identity::of(software);
    let mut out: Vec<Finding> = Vec::new();
    let kev_entry = |cve: &str| feeds.kev.and_then(|k| k.get(cve));

    let push_cve = |out: &mut Vec<Finding>, cve: &str, reason: String, confidence: Confidence| {
        if let Some(existing) = out.iter_mut().find(|f| f.id.eq_ignore_ascii_case(cve)) {
            // A second source for the same CVE: keep the stronger confidence.
            if confidence == Confidence::Confirmed && existing.confidence == Confidence::Possible {
                existing.confidence = Confidence::Confirmed;
                existing.reason = with_kev(reason, kev_entry(cve));
            }
            return;
        }
        let kev = kev_entry(cve);
        out.push(Finding {
            kind: if kev.is_some() {
                FindingKind::Kev
            } else {
                FindingKind::Cve
            },
            software: software.clone(),
            id: cve.to_string(),
            reason: with_kev(reason, kev),
            confidence,
            ransomware: kev.is_some_and(|k| k.known_ransomware),
            due_date: kev.and_then(|k| k.due_date),
            lifecycle_date: None,
        });
    };

    if let (Some(nvd), Some(identity)) = (feeds.nvd, &identity) {
        for cve in &nvd.cves {
            if let Some((reason, confidence)) = nvd_match(cve, software, identity) {
                push_cve(&mut out, &cve.id, reason, confidence);
            }
        }
    }
    for cve in &software.vulnerabilities {
        push_cve(
            &mut out,
            cve,
            format!("the SBOM lists {cve} as affecting {}", software.label()),
            Confidence::Confirmed,
        );
    }
    if let (Some(kev), Some(identity)) = (feeds.kev, &identity)
        && identity.from_cpe
    {
        for entry in &kev.entries {
            if out.iter().any(|f| f.id.eq_ignore_ascii_case(&entry.cve_id)) {
                continue;
            }
            // NVD data that covers this CVE but not this version rules the product match out.
            if let Some(cve) = feeds.nvd.and_then(|n| n.get(&entry.cve_id))
                && !cve.configurations.is_empty()
            {
                continue;
            }
            if kev_product_matches(entry, identity) {
                out.push(Finding {
                    kind: FindingKind::Kev,
                    software: software.clone(),
                    id: entry.cve_id.clone(),
                    reason: format!(
                        "possible: only the vendor and product match, {} lists {} {} as exploited \
                         ({}); the version {} was not checked because no NVD version ranges for \
                         it are loaded",
                        entry.cve_id,
                        entry.vendor_project,
                        entry.product,
                        if entry.known_ransomware {
                            "used in ransomware campaigns"
                        } else {
                            "CISA KEV"
                        },
                        if software.version.is_empty() {
                            "(unknown)"
                        } else {
                            &software.version
                        },
                    ),
                    confidence: Confidence::Possible,
                    ransomware: entry.known_ransomware,
                    due_date: entry.due_date,
                    lifecycle_date: None,
                });
            }
        }
    }
    out.extend(eol_findings(software, feeds.eol, as_of));
    out
}

fn with_kev(reason: String, kev: Option<&KevEntry>) -> String {
    match kev {
        None => reason,
        Some(k) => format!(
            "{reason}; CISA KEV lists {} as exploited in the wild since {}{}",
            k.cve_id,
            k.date_added,
            if k.known_ransomware {
                ", including by ransomware campaigns"
            } else {
                ""
            }
        ),
    }
}

/// What a component is, for comparing with CPE criteria. Names are compared normalised
/// (letters and digits only), so `commons-lang3` is NVD's `commons_lang3`.
struct Identity {
    part: CpePart,
    /// The CPE vendor; else the component's vendor and, for a package URL, the words of its
    /// namespace (`org.apache.commons` → `apache`, `commons`).
    vendors: Vec<String>,
    product: String,
    /// Extra CPE attributes to honour (`update`), when the component has a CPE.
    cpe: Option<Cpe>,
    from_cpe: bool,
    version: Option<Version>,
}

/// Namespace words that name no vendor.
const GENERIC_NAMESPACE_WORDS: &[&str] =
    &["com", "org", "net", "io", "dev", "github", "gitlab", "www"];

impl Identity {
    fn of(software: &Software) -> Option<Identity> {
        let cpe = software.cpe.as_deref().and_then(|c| Cpe::parse(c).ok());
        let version_text = if software.version.is_empty() {
            cpe.as_ref()
                .and_then(|c| c.version.value())
                .unwrap_or("")
                .to_string()
        } else {
            software.version.clone()
        };
        let version = (!version_text.trim().is_empty()).then(|| Version::parse(&version_text));
        if let Some(c) = &cpe
            && let Some(product) = c.product.value()
        {
            return Some(Identity {
                part: c.part,
                vendors: c.vendor.value().map(normalise).into_iter().collect(),
                product: normalise(product),
                cpe: cpe.clone(),
                from_cpe: true,
                version,
            });
        }
        let product = normalise(&software.name);
        if product.is_empty() {
            return None;
        }
        let mut vendors: Vec<String> = Vec::new();
        let mut add = |word: String| {
            if !word.is_empty() && !vendors.contains(&word) {
                vendors.push(word);
            }
        };
        add(normalise(&software.vendor));
        if let Some(namespace) = software
            .purl
            .as_deref()
            .and_then(|p| Purl::parse(p).ok())
            .and_then(|p| p.namespace)
        {
            for word in namespace.split(['.', '/', '@']).map(normalise) {
                if !GENERIC_NAMESPACE_WORDS.contains(&word.as_str()) {
                    add(word);
                }
            }
        }
        Some(Identity {
            part: CpePart::Any,
            vendors,
            product,
            cpe: None,
            from_cpe: false,
            version,
        })
    }
}

/// The first vulnerable criterion of `cve` that matches, with the reason and confidence.
fn nvd_match(
    cve: &NvdCve,
    software: &Software,
    identity: &Identity,
) -> Option<(String, Confidence)> {
    let version = identity.version.as_ref()?;
    for config in &cve.configurations {
        let together = config.operator.eq_ignore_ascii_case("AND") && config.nodes.len() > 1;
        for node in config.nodes.iter().filter(|n| !n.negate) {
            for m in node.cpe_match.iter().filter(|m| m.vulnerable) {
                let c = &m.criteria;
                if !(c.part == CpePart::Any
                    || identity.part == CpePart::Any
                    || c.part == identity.part)
                {
                    continue;
                }
                if c.product.value().map(normalise).as_deref() != Some(identity.product.as_str()) {
                    continue;
                }
                let vendor_known = match &c.vendor {
                    CpeValue::Value(v) if identity.vendors.contains(&normalise(v)) => true,
                    CpeValue::Value(_) if !identity.vendors.is_empty() => continue,
                    _ => false,
                };
                if let CpeValue::Value(update) = &c.update {
                    let theirs = identity.cpe.as_ref().and_then(|x| x.update.value());
                    if theirs != Some(update.as_str()) {
                        continue;
                    }
                }
                let label = software.label();
                let why = match &c.version {
                    CpeValue::NotApplicable => continue,
                    CpeValue::Value(v) => {
                        if Version::parse(v) != *version {
                            continue;
                        }
                        format!(
                            "{label} is the version NVD lists for {} ({})",
                            cve.id, m.criteria_text
                        )
                    }
                    CpeValue::Any => {
                        if !m.range.contains(version) {
                            continue;
                        }
                        if m.range.is_unbounded() {
                            format!(
                                "NVD lists every version of {label} as affected by {} ({})",
                                cve.id, m.criteria_text
                            )
                        } else {
                            format!(
                                "{label} is in NVD's range {} for {}",
                                m.range.describe(),
                                cve.id
                            )
                        }
                    }
                };
                let mut confidence = Confidence::Confirmed;
                let mut reason = why;
                if !vendor_known {
                    confidence = Confidence::Possible;
                    reason.push_str("; matched on the product name only, the vendor is not known");
                }
                if together {
                    confidence = Confidence::Possible;
                    reason.push_str(
                        "; NVD lists it as vulnerable only together with another platform",
                    );
                }
                return Some((reason, confidence));
            }
        }
    }
    None
}

/// Lowercase letters and digits only: `Windows Server` → `windowsserver`.
fn normalise(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn kev_product_matches(entry: &KevEntry, identity: &Identity) -> bool {
    let Some(vendor) = identity.vendors.first() else {
        return false;
    };
    // KEV spells vendors as companies (`NextGen Healthcare`), CPE as short names (`nextgen`):
    // the company's first word stands for it when it is the CPE vendor and not too short to
    // mean anything.
    let kev_vendor = normalise(&entry.vendor_project);
    let first_word = entry
        .vendor_project
        .split_whitespace()
        .next()
        .map(normalise)
        .unwrap_or_default();
    if kev_vendor.is_empty()
        || (kev_vendor != *vendor && !(vendor.len() >= 4 && first_word == *vendor))
    {
        return false;
    }
    // KEV names product families (`Windows`, `Exchange Server`); a CPE product whose words
    // start with the family's words (`windows_server_2019`) belongs to it.
    let words = |text: &str| -> Vec<String> {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    };
    let family = words(&entry.product);
    let product = match identity.cpe.as_ref().and_then(|c| c.product.value()) {
        Some(p) => words(p),
        None => return false,
    };
    !family.is_empty()
        && (product.starts_with(&family) || normalise(&entry.product) == identity.product)
}

// ---------------------------------------------------------------------------------------
// End of life

/// The endoflife.date release cycle a component belongs to, and how it was chosen.
#[derive(Debug, Clone)]
pub struct LifecycleMatch<'a> {
    pub product: &'a EolProduct,
    pub release: &'a EolRelease,
    /// How the product and the cycle were chosen, in plain words.
    pub reason: String,
}

/// The endoflife.date cycle `software` belongs to, if any of `products` covers it. Windows
/// clients and SQL Server have their own rules (feature update and edition; service pack);
/// everything else goes by identifier or name, then by version or the name's tail.
pub fn lifecycle_match<'a>(
    software: &Software,
    products: &'a [EolProduct],
) -> Option<LifecycleMatch<'a>> {
    let cpe = software.cpe.as_deref().and_then(|c| Cpe::parse(c).ok());
    if let Some(found) = windows_client_match(software, cpe.as_ref(), products) {
        return Some(found);
    }
    if let Some(found) = sql_server_match(software, cpe.as_ref(), products) {
        return Some(found);
    }
    let (product, how, tail) = eol_product(software, cpe.as_ref(), products)?;
    let (release, from) = pick_release(product, software, &tail)?;
    Some(LifecycleMatch {
        product,
        release,
        reason: format!(
            "matched to endoflife.date product {} {how}, cycle {} from {from}",
            product.name, release.name
        ),
    })
}

/// The version as given, else the CPE's.
fn version_text(software: &Software, cpe: Option<&Cpe>) -> String {
    if software.version.trim().is_empty() {
        cpe.and_then(|c| c.version.value())
            .unwrap_or("")
            .to_string()
    } else {
        software.version.trim().to_string()
    }
}

/// The leading numeric dotted parts of a version or of endoflife.date's `latest`
/// (`12.0.6449.1 CU4+GDR` → 12, 0, 6449, 1).
fn numeric_parts(text: &str) -> Vec<u32> {
    text.split_whitespace()
        .next()
        .unwrap_or("")
        .split('.')
        .map_while(|p| p.parse::<u32>().ok())
        .collect()
}

/// Lowercase runs of letters and digits: `Windows 10 Enterprise LTSC` → `windows`, `10` …
fn lower_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn is_microsoft(cpe: &Cpe) -> bool {
    cpe.vendor
        .value()
        .is_some_and(|v| v.eq_ignore_ascii_case("microsoft"))
}

/// Where an end-of-life milestone falls, for choosing the earliest: a reached milestone
/// without a date first, an unannounced one last.
fn end_order(m: Milestone) -> NaiveDate {
    match m {
        Milestone::Reached => NaiveDate::MIN,
        Milestone::On(d) => d,
        Milestone::NotAnnounced => NaiveDate::MAX,
    }
}

/// Words in a Windows component's name that show it is not the operating system itself.
const NOT_WINDOWS_ITSELF: &[&str] = &[
    "sdk",
    "kit",
    "assistant",
    "tool",
    "tools",
    "driver",
    "drivers",
    "runtime",
    "redistributable",
    "subsystem",
    "defender",
    "terminal",
];

/// The Long-Term Servicing releases by the year in their name, for names without a build
/// (`Windows 10 Enterprise LTSC 2019` is version 1809).
const WINDOWS_LTSC_YEARS: &[(&str, &str)] = &[
    ("2015", "10-1507"),
    ("2016", "10-1607"),
    ("2019", "10-1809"),
    ("2021", "10-21h2"),
    ("2024", "11-24h2"),
];

/// Which Windows a client's words name: `10`/`11` (feature updates and editions), or an
/// older release whose endoflife.date cycle starts with the returned name (`7` → `7-sp1`).
enum WindowsFamily {
    FeatureUpdates(&'static str),
    Release(&'static str, &'static str),
}

fn windows_family(words: &[String]) -> Option<WindowsFamily> {
    let start = words.iter().position(|w| w == "windows")?;
    let mut rest = words
        .get(start + 1..)?
        .iter()
        .map(String::as_str)
        .skip_while(|w| matches!(*w, "embedded" | "standard"));
    Some(match rest.next()? {
        "10" => WindowsFamily::FeatureUpdates("10"),
        "11" => WindowsFamily::FeatureUpdates("11"),
        "7" => WindowsFamily::Release("7", "Windows 7"),
        "8" if rest.next() == Some("1") => WindowsFamily::Release("8.1", "Windows 8.1"),
        "81" => WindowsFamily::Release("8.1", "Windows 8.1"),
        "8" => WindowsFamily::Release("8", "Windows 8"),
        "vista" => WindowsFamily::Release("6", "Windows Vista"),
        "xp" => WindowsFamily::Release("5", "Windows XP"),
        _ => return None,
    })
}

/// The edition a Windows 10 or 11 name gives, as endoflife.date splits them.
#[derive(PartialEq)]
enum WindowsEdition {
    /// Home, Pro, Pro Education, Pro for Workstations: the shorter servicing (`-w`).
    HomePro,
    /// Enterprise and Education: the longer servicing (`-e`).
    EnterpriseEducation,
    /// Long-Term Servicing Channel or Branch (`-e-lts`, `-iot-lts`).
    LongTerm {
        iot: bool,
    },
    /// IoT without long-term servicing (`-iot`).
    Iot,
    Unknown,
}

fn windows_edition(words: &[String]) -> WindowsEdition {
    let has = |w: &str| words.iter().any(|x| x == w);
    if has("ltsc") || has("ltsb") {
        WindowsEdition::LongTerm { iot: has("iot") }
    } else if has("iot") {
        WindowsEdition::Iot
    } else if has("pro") || has("professional") || has("home") {
        // `Pro Education` is serviced as Pro, so Pro is looked for before Education.
        WindowsEdition::HomePro
    } else if has("enterprise") || has("education") {
        WindowsEdition::EnterpriseEducation
    } else {
        WindowsEdition::Unknown
    }
}

/// A Windows client (not Server) by CPE or name: Windows 10 and 11 by feature update (from
/// the build, as endoflife.date's `latest` gives each cycle's build, else from the name or
/// CPE) and edition; older releases by name.
fn windows_client_match<'a>(
    software: &Software,
    cpe: Option<&Cpe>,
    products: &'a [EolProduct],
) -> Option<LifecycleMatch<'a>> {
    let product = products.iter().find(|p| p.name == "windows")?;
    let windows_cpe = cpe.filter(|c| {
        is_microsoft(c)
            && c.part != CpePart::Application
            && c.product
                .value()
                .is_some_and(|p| p.to_ascii_lowercase().starts_with("windows"))
    });
    let mut words: Vec<String> = Vec::new();
    if let Some(c) = windows_cpe {
        for field in [&c.product, &c.update, &c.edition, &c.sw_edition] {
            words.extend(field.value().map(lower_words).unwrap_or_default());
        }
        // `windows_10:1809`: a version without dots names the feature update.
        if let Some(v) = c.version.value().filter(|v| !v.contains('.')) {
            words.extend(lower_words(v));
        }
    }
    let name_words = lower_words(&software.name);
    let how = if windows_cpe.is_some() {
        "by CPE"
    } else {
        "by name"
    };
    let family = windows_family(&words).or_else(|| windows_family(&name_words))?;
    words.extend(name_words);
    if words
        .iter()
        .any(|w| w == "server" || NOT_WINDOWS_ITSELF.contains(&w.as_str()))
    {
        return None;
    }
    let version = version_text(software, cpe);
    let (release, from) = match family {
        WindowsFamily::Release(cycle, label) => {
            let release = product
                .releases
                .iter()
                .filter(|r| r.name == cycle || r.name.starts_with(&format!("{cycle}-")))
                .min_by_key(|r| r.name.len())?;
            let mut from = format!("the release it names ({label})");
            if cycle == "7" && words.iter().any(|w| w == "embedded") {
                from.push_str(
                    "; embedded editions of Windows 7 (Windows Embedded Standard 7, POSReady 7) \
                     have their own, longer support, which endoflife.date's windows product \
                     does not list, so these are the dates of Windows 7 SP1",
                );
            }
            if cycle == "7" && numeric_parts(&version).get(2) == Some(&7600) {
                from.push_str(
                    "; build 7600 is Windows 7 without Service Pack 1, whose support ended \
                     before these dates",
                );
            }
            (release, from)
        }
        WindowsFamily::FeatureUpdates(major) => {
            windows_feature_release(product, &words, major, &version)?
        }
    };
    Some(LifecycleMatch {
        product,
        release,
        reason: format!(
            "matched to endoflife.date product {} {how}, cycle {} from {from}",
            product.name, release.name
        ),
    })
}

/// The feature-update prefix of a cycle name: `10-1809-e-lts` → `10-1809`.
fn feature_prefix(cycle: &str) -> Option<&str> {
    let mut dashes = cycle.match_indices('-').map(|(i, _)| i);
    let _first = dashes.next()?;
    match dashes.next() {
        Some(end) => cycle.get(..end),
        None => Some(cycle),
    }
}

fn windows_feature_release<'a>(
    product: &'a EolProduct,
    words: &[String],
    major: &str,
    version: &str,
) -> Option<(&'a EolRelease, String)> {
    let parts = numeric_parts(version);
    let build = match parts.as_slice() {
        [10, 0, build, ..] => Some(*build),
        _ => None,
    };
    // The build wins over the name: it is what the machine runs.
    let by_build = build.and_then(|build| {
        product
            .releases
            .iter()
            .filter(|r| r.name.starts_with("10-") || r.name.starts_with("11-"))
            .find(|r| {
                r.latest
                    .as_deref()
                    .is_some_and(|l| numeric_parts(l).get(..3) == Some(&[10, 0, build]))
            })
            .and_then(|r| feature_prefix(&r.name))
            .map(|prefix| (prefix, format!("its build number {build}")))
    });
    let by_words = || {
        words.iter().find_map(|w| {
            let prefix = format!("{major}-{w}");
            product
                .releases
                .iter()
                .filter_map(|r| feature_prefix(&r.name))
                .find(|p| *p == prefix)
                .map(|p| {
                    (
                        p,
                        format!("the feature update {} in its name", w.to_uppercase()),
                    )
                })
        })
    };
    let by_ltsc_year = || {
        let long_term = words.iter().any(|w| w == "ltsc" || w == "ltsb");
        WINDOWS_LTSC_YEARS
            .iter()
            .filter(|(year, prefix)| {
                long_term && prefix.starts_with(major) && words.iter().any(|w| w == year)
            })
            .find_map(|(year, prefix)| {
                product
                    .releases
                    .iter()
                    .filter_map(|r| feature_prefix(&r.name))
                    .find(|p| p == prefix)
                    .map(|p| {
                        (
                            p,
                            format!("the long-term servicing year {year} in its name"),
                        )
                    })
            })
    };
    let (prefix, mut from) = by_build.or_else(by_words).or_else(by_ltsc_year)?;
    let cycles: Vec<&EolRelease> = product
        .releases
        .iter()
        .filter(|r| r.name == prefix || r.name.starts_with(&format!("{prefix}-")))
        .collect();
    let with_suffix = |suffix: &str| -> Option<&'a EolRelease> {
        let wanted = if suffix.is_empty() {
            prefix.to_string()
        } else {
            format!("{prefix}-{suffix}")
        };
        cycles.iter().copied().find(|r| r.name == wanted)
    };
    let edition = windows_edition(words);
    let chosen = match edition {
        WindowsEdition::LongTerm { iot: true } => with_suffix("iot-lts"),
        WindowsEdition::LongTerm { iot: false } => with_suffix("e-lts"),
        WindowsEdition::Iot => with_suffix("iot"),
        WindowsEdition::HomePro => with_suffix("w").or_else(|| with_suffix("")),
        WindowsEdition::EnterpriseEducation => with_suffix("e").or_else(|| with_suffix("")),
        WindowsEdition::Unknown => None,
    };
    if let Some(release) = chosen {
        let said = match edition {
            WindowsEdition::LongTerm { iot: true } => "IoT long-term servicing",
            WindowsEdition::LongTerm { iot: false } => "long-term servicing (LTSC/LTSB)",
            WindowsEdition::Iot => "IoT",
            WindowsEdition::HomePro => "Home/Pro",
            _ => "Enterprise/Education",
        };
        from.push_str(&format!(" and the {said} edition in its name"));
        if release.name == prefix {
            from.push_str(" (endoflife.date has one cycle for every edition of this version)");
        }
        return Some((release, from));
    }
    // No edition, or one this feature update has no cycle for: of the general cycles, the
    // one whose end of life comes first, so the finding is never later than the truth.
    let general: Vec<&EolRelease> = cycles
        .iter()
        .copied()
        .filter(|r| {
            r.name == prefix || r.name == format!("{prefix}-w") || r.name == format!("{prefix}-e")
        })
        .collect();
    let release = general
        .iter()
        .copied()
        .min_by_key(|r| end_order(r.end_of_life))?;
    if edition != WindowsEdition::Unknown {
        from.push_str("; endoflife.date has no cycle of this version for the edition in the name");
    }
    if general.len() > 1 {
        let why = if edition == WindowsEdition::Unknown {
            "the name gives no edition, so"
        } else {
            "so"
        };
        from.push_str(&format!(
            "; {why} the edition whose support ends earliest was taken (a conservative \
             call: other editions may be supported longer)"
        ));
    }
    Some((release, from))
}

/// SQL Server versions by the year in their name.
const SQL_SERVER_YEARS: &[(&str, (u32, u32))] = &[
    ("2008r2", (10, 50)),
    ("2005", (9, 0)),
    ("2008", (10, 0)),
    ("2012", (11, 0)),
    ("2014", (12, 0)),
    ("2016", (13, 0)),
    ("2017", (14, 0)),
    ("2019", (15, 0)),
    ("2022", (16, 0)),
    ("2025", (17, 0)),
];

/// Components named `SQL Server …` that are not the database engine and have versions of
/// their own.
const NOT_SQL_SERVER_ITSELF: &[&str] = &[
    "nativeclient",
    "managementstudio",
    "odbc",
    "driver",
    "datatools",
    "reportbuilder",
    "clrtypes",
    "compact",
];

/// An endoflife.date SQL Server cycle (`12.0-sp3`, `10.50-r2`, `6.50-sp5a`): the major and
/// minor version, and the service pack (0 for the release itself).
fn sql_cycle(name: &str) -> Option<((u32, u32), u32)> {
    let (base, suffix) = name.split_once('-').unwrap_or((name, ""));
    let (major, minor) = base.split_once('.')?;
    let version = (major.parse().ok()?, minor.parse().ok()?);
    let level = match suffix.to_ascii_lowercase().strip_prefix("sp") {
        Some(n) => n
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .ok()?,
        None => 0,
    };
    Some((version, level))
}

/// The service pack a name or CPE field gives: `sp3`, `servicepack3` (normalised), `rtm`.
fn service_pack_in(text: &str) -> Option<u32> {
    if text == "rtm" || text.ends_with("rtm") {
        return Some(0);
    }
    ["servicepack", "sp"].iter().find_map(|marker| {
        text.match_indices(marker).find_map(|(i, m)| {
            let digits: String = text
                .get(i + m.len()..)?
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
    })
}

/// SQL Server by CPE or name: the version from the build (else the year in the name), the
/// service pack from the CPE or name, else from the build measured against the last build
/// endoflife.date lists for each service pack, else the latest service pack.
fn sql_server_match<'a>(
    software: &Software,
    cpe: Option<&Cpe>,
    products: &'a [EolProduct],
) -> Option<LifecycleMatch<'a>> {
    let product = products.iter().find(|p| p.name == "mssqlserver")?;
    let sql_cpe = cpe.filter(|c| {
        is_microsoft(c)
            && c.product
                .value()
                .is_some_and(|p| normalise(p).starts_with("sqlserver"))
    });
    let (tail, how) = if let Some(c) = sql_cpe {
        let product_tail = c
            .product
            .value()
            .map(normalise)
            .unwrap_or_default()
            .trim_start_matches("sqlserver")
            .to_string();
        (product_tail, "by CPE")
    } else {
        let full = normalise(&software.name);
        let vendor = normalise(&software.vendor);
        let stripped = full
            .strip_prefix(vendor.as_str())
            .filter(|_| !vendor.is_empty());
        let tail = [Some(full.as_str()), stripped]
            .into_iter()
            .flatten()
            .find_map(|name| {
                ["microsoftsqlserver", "mssqlserver", "sqlserver"]
                    .iter()
                    .find_map(|prefix| name.strip_prefix(prefix))
                    .filter(|rest| {
                        rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_digit())
                    })
            })?;
        if NOT_SQL_SERVER_ITSELF.iter().any(|w| full.contains(w)) {
            return None;
        }
        (tail.to_string(), "by name")
    };
    let version = version_text(software, cpe);
    let parts = numeric_parts(&version);
    let family_of = |v: (u32, u32)| -> Vec<(&'a EolRelease, u32)> {
        let mut family: Vec<(&EolRelease, u32)> = product
            .releases
            .iter()
            .filter_map(|r| {
                let (rv, level) = sql_cycle(&r.name)?;
                (rv == v).then_some((r, level))
            })
            .collect();
        family.sort_by_key(|(_, level)| *level);
        family
    };
    let from_version = match parts.as_slice() {
        [major, minor, ..] => Some((*major, *minor)).filter(|v| !family_of(*v).is_empty()),
        _ => None,
    };
    // A CPE version or a name tail may carry the year (`sql_server:2019`, `SQL Server 2014`).
    let year_text = format!("{tail}{}", normalise(&version));
    let from_year = || {
        SQL_SERVER_YEARS
            .iter()
            .find(|(year, _)| tail.starts_with(year) || year_text.starts_with(year))
            .map(|(year, v)| (*v, *year))
    };
    let (major_minor, from_major) = match from_version {
        Some(v) => (v, format!("its version {}.{}", v.0, v.1)),
        None => {
            let (v, year) = from_year()?;
            (v, format!("the year {year} in its name"))
        }
    };
    let family = family_of(major_minor);
    let latest = family.last().map(|(r, _)| *r)?;
    let explicit = sql_cpe
        .and_then(|c| c.update.value())
        .map(normalise)
        .and_then(|u| service_pack_in(&u).map(|sp| (sp, format!("the CPE update field {u}"))))
        .or_else(|| {
            tail.get(4..)
                .and_then(service_pack_in)
                .map(|sp| (sp, format!("its name (SP{sp})")))
        });
    let build = match parts.as_slice() {
        [major, minor, build, ..] if (*major, *minor) == major_minor => Some(*build),
        _ => None,
    };
    let last_build = |r: &EolRelease| {
        r.latest
            .as_deref()
            .and_then(|l| numeric_parts(l).get(2).copied())
    };
    let (release, from_pack) = if family.len() == 1 {
        (latest, String::new())
    } else if let Some((release, why)) = explicit.and_then(|(sp, why)| {
        family
            .iter()
            .find(|(_, level)| *level == sp)
            .map(|(r, _)| (*r, why))
    }) {
        (release, format!(" and the service pack from {why}"))
    } else if let Some(build) = build {
        // Service packs follow each other in build numbers: the build belongs to the first
        // one whose last listed build is not below it; a newer build to the latest.
        let listed: Vec<&EolRelease> = family
            .iter()
            .map(|(r, _)| *r)
            .filter(|r| last_build(r).is_some())
            .collect();
        match listed
            .iter()
            .position(|r| last_build(r).is_some_and(|last| last >= build))
        {
            Some(i) => {
                let r = listed.get(i).copied().unwrap_or(latest);
                let latest_of = |r: &EolRelease| r.latest.clone().unwrap_or_default();
                let after = i
                    .checked_sub(1)
                    .and_then(|j| listed.get(j))
                    .map(|p| format!("above {}'s last listed build {} and ", p.name, latest_of(p)))
                    .unwrap_or_default();
                (
                    r,
                    format!(
                        " and the service pack from build {build}: {after}not above {}'s last \
                         listed build {}",
                        r.name,
                        latest_of(r)
                    ),
                )
            }
            None => (
                latest,
                format!(
                    " and the service pack from build {build}, above every build listed, so \
                     the latest service pack"
                ),
            ),
        }
    } else {
        (
            latest,
            "; the service pack could not be told from the version, CPE or name, so the \
             latest one was taken (an older service pack's support ended sooner)"
                .to_string(),
        )
    };
    Some(LifecycleMatch {
        product,
        release,
        reason: format!(
            "matched to endoflife.date product {} {how}, cycle {} from {from_major}{from_pack}",
            product.name, release.name
        ),
    })
}

/// CPE vendors and products that name an endoflife.date product (vendor, product, eol).
const CPE_PRODUCTS: &[(&str, &str, &str)] = &[
    ("redhat", "enterprise_linux", "rhel"),
    ("debian", "debian_linux", "debian"),
    ("apache", "tomcat", "tomcat"),
    ("f5", "nginx", "nginx"),
    ("nginx", "nginx", "nginx"),
    ("fortinet", "fortios", "fortios"),
    ("canonical", "ubuntu_linux", "ubuntu"),
    ("openssl", "openssl", "openssl"),
];

/// Other names of endoflife.date products, normalised, and whether what follows the name is
/// a release (`Ubuntu 22.04`) rather than something else (`FortiGate 60F`, a model).
fn name_aliases(product: &str) -> &'static [(&'static str, bool)] {
    match product {
        "nodejs" => &[("node", true), ("nodejs", true)],
        "ubuntu" => &[("ubuntu", true), ("ubuntulinux", true)],
        "windows-server" => &[("windowsserver", true), ("microsoftwindowsserver", true)],
        "python" => &[("python", true), ("cpython", true)],
        "rhel" => &[
            ("rhel", true),
            ("redhatenterpriselinux", true),
            ("redhatenterpriselinuxserver", true),
        ],
        "debian" => &[
            ("debian", true),
            ("debiangnulinux", true),
            ("debianlinux", true),
        ],
        "tomcat" => &[("tomcat", true), ("apachetomcat", true)],
        // FortiGate appliances run FortiOS; the digits after the name are the model.
        "fortios" => &[
            ("fortios", true),
            ("fortinetfortios", true),
            ("fortigate", false),
        ],
        _ => &[],
    }
}

/// How a component was tied to an endoflife.date product, and the name's tail after it.
fn eol_product<'a>(
    software: &Software,
    cpe: Option<&Cpe>,
    products: &'a [EolProduct],
) -> Option<(&'a EolProduct, String, String)> {
    let purl = software.purl.as_deref().and_then(|p| Purl::parse(p).ok());
    for product in products {
        for identifier in &product.identifiers {
            match identifier.kind.as_str() {
                "purl" => {
                    if let (Some(mine), Ok(theirs)) = (&purl, Purl::parse(&identifier.id))
                        && mine.same_package(&theirs)
                    {
                        return Some((
                            product,
                            format!("by package URL {}", identifier.id),
                            String::new(),
                        ));
                    }
                }
                "cpe" => {
                    if let (Some(mine), Ok(theirs)) = (cpe, Cpe::parse(&identifier.id))
                        && theirs.same_product(mine)
                    {
                        return Some((product, format!("by CPE {}", identifier.id), String::new()));
                    }
                }
                _ => {}
            }
        }
    }
    if let Some(c) = cpe
        && let (Some(vendor), Some(cpe_product)) = (c.vendor.value(), c.product.value())
    {
        let (vendor, cpe_product) = (
            vendor.to_ascii_lowercase(),
            cpe_product.to_ascii_lowercase(),
        );
        let by_cpe = format!("by CPE product {vendor}:{cpe_product}");
        if let Some(product) = CPE_PRODUCTS
            .iter()
            .filter(|(v, p, _)| *v == vendor && *p == cpe_product)
            .find_map(|(_, _, eol)| products.iter().find(|p| p.name == *eol))
        {
            return Some((product, by_cpe, String::new()));
        }
        // `windows_server_2019`, `windows_server_2012:r2`: the product names the release.
        if vendor == "microsoft"
            && let Some(rest) = cpe_product.strip_prefix("windows_server_")
            && let Some(product) = products.iter().find(|p| p.name == "windows-server")
        {
            let mut tail = normalise(rest);
            if let Some(v) = c.version.value().filter(|v| v.eq_ignore_ascii_case("r2")) {
                tail.push_str(&normalise(v));
            }
            return Some((product, by_cpe, tail));
        }
    }
    let full = normalise(&software.name);
    let vendor = normalise(&software.vendor);
    let stripped = full
        .strip_prefix(vendor.as_str())
        .filter(|rest| !vendor.is_empty() && !rest.is_empty());
    let names: Vec<&str> = stripped.into_iter().chain([full.as_str()]).collect();
    for product in products {
        let wanted = normalise(&product.name);
        for name in &names {
            for (candidate, tail_is_release) in std::iter::once((wanted.as_str(), true))
                .chain(name_aliases(&product.name).iter().copied())
                .filter(|(candidate, _)| !candidate.is_empty())
            {
                if *name == candidate {
                    return Some((product, "by name".to_string(), String::new()));
                }
                // `Windows Server 2019`, `Ubuntu 22.04`: the name carries the cycle.
                if let Some(rest) = name.strip_prefix(candidate)
                    && rest.starts_with(|c: char| c.is_ascii_digit())
                {
                    let tail = if tail_is_release { rest } else { "" };
                    return Some((product, "by name".to_string(), tail.to_string()));
                }
            }
        }
    }
    None
}

/// Whether `version`'s leading dotted parts are the cycle's (`3.8` ⊂ `3.8.10`; `1.1.1` ⊂ `1.1.1w`).
fn cycle_contains(cycle: &str, version: &[&str]) -> bool {
    let parts: Vec<&str> = cycle.split('.').collect();
    if parts.len() > version.len() || parts.iter().any(|p| p.is_empty()) {
        return false;
    }
    parts.iter().zip(version).enumerate().all(|(i, (c, v))| {
        let number = |s: &str| s.trim_start_matches('0').to_string();
        if c.bytes().all(|b| b.is_ascii_digit()) {
            let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
            let rest = &v[digits.len()..];
            number(c) == number(&digits)
                && !digits.is_empty()
                && (rest.is_empty()
                    || (i + 1 == parts.len() && rest.starts_with(|ch: char| ch.is_alphabetic())))
        } else {
            c.eq_ignore_ascii_case(v)
        }
    })
}

/// Windows Server releases by build number (the third part of `10.0.17763.1234`).
fn windows_server_cycle(version: &[&str]) -> Option<&'static str> {
    let build = |i: usize| version.get(i).and_then(|s| s.parse::<u32>().ok());
    Some(match (build(0)?, build(1)?, build(2)?) {
        (10, 0, 26100) => "2025",
        (10, 0, 20348) => "2022",
        (10, 0, 17763) => "2019",
        (10, 0, 14393) => "2016",
        (6, 3, 9600) => "2012-r2",
        (6, 2, 9200) => "2012",
        _ => return None,
    })
}

fn pick_release<'a>(
    product: &'a EolProduct,
    software: &Software,
    name_tail: &str,
) -> Option<(&'a EolRelease, &'static str)> {
    let version_text = if software.version.is_empty() {
        software
            .cpe
            .as_deref()
            .and_then(|c| Cpe::parse(c).ok())
            .and_then(|c| c.version.value().map(str::to_string))
            .unwrap_or_default()
    } else {
        software.version.clone()
    };
    let version = Version::parse(&version_text);
    let segments = version.segments();
    if product.name == "windows-server"
        && let Some(cycle) = windows_server_cycle(&segments)
        && let Some(r) = product
            .releases
            .iter()
            .find(|r| normalise(&r.name) == normalise(cycle))
    {
        return Some((r, "its build number"));
    }
    let by_version = product
        .releases
        .iter()
        .filter(|r| cycle_contains(&r.name, &segments))
        .max_by_key(|r| r.name.split('.').count());
    if let Some(r) = by_version {
        return Some((r, "its version"));
    }
    if !name_tail.is_empty() {
        // The name's tail, normalised: `2012r2`, `2204`; longest release name that leads it.
        return product
            .releases
            .iter()
            .filter(|r| {
                let n = normalise(&r.name);
                !n.is_empty()
                    && name_tail.starts_with(&n)
                    && !name_tail[n.len()..].starts_with(|c: char| c.is_ascii_digit())
            })
            .max_by_key(|r| r.name.len())
            .map(|r| (r, "its name"));
    }
    None
}

fn eol_findings(software: &Software, products: &[EolProduct], as_of: NaiveDate) -> Vec<Finding> {
    let Some(LifecycleMatch {
        product,
        release,
        reason: matched,
    }) = lifecycle_match(software, products)
    else {
        return Vec::new();
    };
    let label = software.label();
    let id = format!("{} {}", product.name, release.name);
    let finding = |kind, reason: String, date| Finding {
        kind,
        software: software.clone(),
        id: id.clone(),
        reason,
        confidence: Confidence::Confirmed,
        ransomware: false,
        due_date: None,
        lifecycle_date: date,
    };
    let eol = release.end_of_life;
    if eol.reached(as_of) {
        let when = eol.date().map_or("is marked end of life".to_string(), |d| {
            format!("reached end of life on {d} (checked as of {as_of})")
        });
        return vec![finding(
            FindingKind::EndOfLife,
            format!("{label} belongs to {id}, which {when}; {matched}"),
            eol.date(),
        )];
    }
    let eoas = release.end_of_active_support;
    if eoas.reached(as_of) {
        let when = eoas
            .date()
            .map_or("has ended".to_string(), |d| format!("ended on {d}"));
        let until = eol
            .date()
            .map_or("an unannounced date".to_string(), |d| d.to_string());
        return vec![finding(
            FindingKind::EndOfSupport,
            format!(
                "{label} belongs to {id}, whose active support {when} (checked as of {as_of}); \
                 security fixes continue until {until}; {matched}"
            ),
            eoas.date(),
        )];
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feeds::{Milestone, NvdConfiguration, NvdCpeMatch, NvdNode};
    use crate::version::VersionRange;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn openssl(version: &str) -> Software {
        let mut s = Software::new("openssl", version);
        s.vendor = "openssl".into();
        s.cpe = Some(format!("cpe:2.3:a:openssl:openssl:{version}:*:*:*:*:*:*:*"));
        s
    }

    fn nvd_with(range: VersionRange, criteria: &str) -> NvdFeed {
        NvdFeed {
            cves: vec![NvdCve {
                id: "CVE-2023-0286".into(),
                configurations: vec![NvdConfiguration {
                    operator: "OR".into(),
                    nodes: vec![NvdNode {
                        operator: "OR".into(),
                        negate: false,
                        cpe_match: vec![NvdCpeMatch {
                            criteria: Cpe::parse(criteria).unwrap(),
                            criteria_text: criteria.into(),
                            vulnerable: true,
                            range,
                        }],
                    }],
                }],
            }],
        }
    }

    const ANY: &str = "cpe:2.3:a:openssl:openssl:*:*:*:*:*:*:*:*";

    fn range(
        si: Option<&str>,
        se: Option<&str>,
        ei: Option<&str>,
        ee: Option<&str>,
    ) -> VersionRange {
        VersionRange {
            start_including: si.map(Into::into),
            start_excluding: se.map(Into::into),
            end_including: ei.map(Into::into),
            end_excluding: ee.map(Into::into),
        }
    }

    fn hit(feed: &NvdFeed, version: &str) -> Option<Finding> {
        let feeds = Feeds {
            nvd: Some(feed),
            ..Feeds::default()
        };
        findings_for_software(&openssl(version), &feeds, day("2025-01-01"))
            .into_iter()
            .find(|f| f.id == "CVE-2023-0286")
    }

    #[test]
    fn range_start_including_takes_the_start_itself() {
        let feed = nvd_with(range(Some("3.0.0"), None, None, Some("3.0.8")), ANY);
        assert!(hit(&feed, "3.0.0").is_some());
        assert!(hit(&feed, "2.9.9").is_none());
        let f = hit(&feed, "3.0.7").unwrap();
        assert_eq!(
            f.reason,
            "openssl 3.0.7 is in NVD's range >= 3.0.0, < 3.0.8 for CVE-2023-0286"
        );
        assert_eq!(
            (f.kind, f.confidence),
            (FindingKind::Cve, Confidence::Confirmed)
        );
    }

    #[test]
    fn range_start_excluding_leaves_the_start_out() {
        let feed = nvd_with(range(None, Some("3.0.0"), None, Some("3.0.8")), ANY);
        assert!(hit(&feed, "3.0.0").is_none());
        assert!(hit(&feed, "3.0.1").is_some());
    }

    #[test]
    fn range_end_excluding_leaves_the_fixed_version_out() {
        let feed = nvd_with(range(Some("3.0.0"), None, None, Some("3.0.8")), ANY);
        assert!(hit(&feed, "3.0.8").is_none());
        assert!(hit(&feed, "3.0.8.0").is_none(), "3.0.8.0 equals 3.0.8");
        assert!(hit(&feed, "3.0.9").is_none());
    }

    #[test]
    fn range_end_including_takes_the_end_itself() {
        let feed = nvd_with(range(None, None, Some("1.1.1t"), None), ANY);
        assert!(hit(&feed, "1.1.1t").is_some());
        assert!(hit(&feed, "1.1.1s").is_some());
        assert!(hit(&feed, "1.1.1u").is_none());
        assert!(hit(&feed, "1.1.2").is_none());
    }

    #[test]
    fn pre_releases_sit_before_their_release_in_ranges() {
        let feed = nvd_with(range(Some("3.0.0"), None, None, Some("3.0.8")), ANY);
        assert!(
            hit(&feed, "3.0.8-rc1").is_some(),
            "3.0.8-rc1 precedes the fix 3.0.8"
        );
        assert!(
            hit(&feed, "3.0.0-alpha1").is_none(),
            "3.0.0-alpha1 precedes the start 3.0.0"
        );
    }

    #[test]
    fn missing_bounds_mean_every_version_of_the_product() {
        let feed = nvd_with(VersionRange::default(), ANY);
        let f = hit(&feed, "0.9.8").unwrap();
        assert!(
            f.reason
                .starts_with("NVD lists every version of openssl 0.9.8"),
            "{}",
            f.reason
        );
        let only_end = nvd_with(range(None, None, None, Some("1.0.0")), ANY);
        assert!(hit(&only_end, "0.0.1").is_some());
        assert!(hit(&only_end, "1.0.0").is_none());
    }

    #[test]
    fn exact_criteria_versions_need_an_equal_version() {
        let feed = nvd_with(
            VersionRange::default(),
            "cpe:2.3:a:openssl:openssl:1.0.1f:*:*:*:*:*:*:*",
        );
        assert!(hit(&feed, "1.0.1f").is_some());
        assert!(hit(&feed, "1.0.1g").is_none());
        assert!(hit(&feed, "1.0.1").is_none());
        let na = nvd_with(
            VersionRange::default(),
            "cpe:2.3:a:openssl:openssl:-:*:*:*:*:*:*:*",
        );
        assert!(hit(&na, "1.0.1").is_none());
    }

    #[test]
    fn other_vendors_products_and_unknown_versions_do_not_match() {
        let feed = nvd_with(
            VersionRange::default(),
            "cpe:2.3:a:otherco:openssl:*:*:*:*:*:*:*:*",
        );
        assert!(hit(&feed, "1.0.0").is_none());
        let feed = nvd_with(VersionRange::default(), ANY);
        let mut unknown = openssl("");
        unknown.cpe = Some(ANY.into());
        let feeds = Feeds {
            nvd: Some(&feed),
            ..Feeds::default()
        };
        assert!(findings_for_software(&unknown, &feeds, day("2025-01-01")).is_empty());
    }

    #[test]
    fn product_name_only_matches_are_possible_and_say_so() {
        let feed = nvd_with(range(Some("3.0.0"), None, None, Some("3.0.8")), ANY);
        let feeds = Feeds {
            nvd: Some(&feed),
            ..Feeds::default()
        };
        let f = findings_for_software(
            &Software::new("OpenSSL", "3.0.1"),
            &feeds,
            day("2025-01-01"),
        );
        assert_eq!(f[0].confidence, Confidence::Possible);
        assert!(f[0].reason.contains("product name only"));
    }

    #[test]
    fn package_url_namespace_words_stand_in_for_the_cpe_vendor() {
        let criteria = "cpe:2.3:a:apache:commons_lang3:*:*:*:*:*:*:*:*";
        let feed = nvd_with(range(None, None, None, Some("3.18.0")), criteria);
        let feeds = Feeds {
            nvd: Some(&feed),
            ..Feeds::default()
        };
        let mut lang = Software::new("commons-lang3", "3.12.0");
        lang.vendor = "org.apache.commons".into();
        lang.purl = Some("pkg:maven/org.apache.commons/commons-lang3@3.12.0?type=jar".into());
        let f = findings_for_software(&lang, &feeds, day("2025-01-01"));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Confirmed);
        lang.purl = Some("pkg:maven/org.example/commons-lang3@3.12.0".into());
        lang.vendor = "org.example".into();
        assert!(findings_for_software(&lang, &feeds, day("2025-01-01")).is_empty());
    }

    fn kev(cve: &str, vendor: &str, product: &str, ransomware: bool) -> KevCatalog {
        KevCatalog {
            title: String::new(),
            catalog_version: "test".into(),
            date_released: None,
            entries: vec![KevEntry {
                cve_id: cve.into(),
                vendor_project: vendor.into(),
                product: product.into(),
                vulnerability_name: String::new(),
                date_added: day("2022-05-04"),
                short_description: String::new(),
                required_action: String::new(),
                due_date: Some(day("2022-05-25")),
                known_ransomware: ransomware,
                notes: String::new(),
                cwes: Vec::new(),
            }],
        }
    }

    #[test]
    fn a_kev_vendor_named_as_a_company_matches_its_cpe_short_name() {
        let catalog = kev(
            "CVE-2023-43208",
            "NextGen Healthcare",
            "Mirth Connect",
            true,
        );
        let feeds = Feeds {
            kev: Some(&catalog),
            nvd: None,
            eol: &[],
        };
        let cpe = "cpe:2.3:a:nextgen:mirth_connect:4.3.0:*:*:*:*:*:*:*";
        let mirth = Software::from_cpe(&Cpe::parse(cpe).unwrap(), cpe);
        let f = findings_for_software(&mirth, &feeds, day("2025-01-01"));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            (f[0].kind, f[0].confidence),
            (FindingKind::Kev, Confidence::Possible)
        );
        // The first word alone is not enough when the product differs, nor for a vendor
        // whose short name is a fragment.
        let other = kev(
            "CVE-2099-0001",
            "NextGen Healthcare",
            "Patient Portal",
            false,
        );
        let feeds = Feeds {
            kev: Some(&other),
            nvd: None,
            eol: &[],
        };
        assert!(findings_for_software(&mirth, &feeds, day("2025-01-01")).is_empty());
        let short = kev("CVE-2099-0002", "HP Enterprise", "Mirth Connect", false);
        let cpe = "cpe:2.3:a:hp:mirth_connect:4.3.0:*:*:*:*:*:*:*";
        let hp = Software::from_cpe(&Cpe::parse(cpe).unwrap(), cpe);
        let feeds = Feeds {
            kev: Some(&short),
            nvd: None,
            eol: &[],
        };
        assert!(findings_for_software(&hp, &feeds, day("2025-01-01")).is_empty());
    }

    #[test]
    fn kev_is_confirmed_when_nvd_ranges_match_and_possible_on_product_alone() {
        let catalog = kev("CVE-2023-0286", "OpenSSL", "OpenSSL", true);
        let feed = nvd_with(range(Some("3.0.0"), None, None, Some("3.0.8")), ANY);
        let feeds = Feeds {
            kev: Some(&catalog),
            nvd: Some(&feed),
            eol: &[],
        };
        let f = &findings_for_software(&openssl("3.0.7"), &feeds, day("2025-01-01"))[0];
        assert_eq!(
            (f.kind, f.confidence, f.ransomware),
            (FindingKind::Kev, Confidence::Confirmed, true)
        );
        assert_eq!(f.due_date, Some(day("2022-05-25")));
        assert!(
            f.reason
                .contains("CISA KEV lists CVE-2023-0286 as exploited"),
            "{}",
            f.reason
        );
        // NVD covers the CVE and excludes 3.0.8: no product-only guess.
        assert!(findings_for_software(&openssl("3.0.8"), &feeds, day("2025-01-01")).is_empty());
        // Without NVD data, the vendor and product match is only possible.
        let feeds = Feeds {
            kev: Some(&catalog),
            ..Feeds::default()
        };
        let f = &findings_for_software(&openssl("3.0.8"), &feeds, day("2025-01-01"))[0];
        assert_eq!(
            (f.kind, f.confidence),
            (FindingKind::Kev, Confidence::Possible)
        );
        assert!(
            f.reason
                .starts_with("possible: only the vendor and product match"),
            "{}",
            f.reason
        );
    }

    #[test]
    fn kev_product_match_takes_the_product_family_by_whole_words() {
        let catalog = kev("CVE-2020-1472", "Microsoft", "Windows", false);
        let feeds = Feeds {
            kev: Some(&catalog),
            ..Feeds::default()
        };
        let mut ws = Software::new("Windows Server 2019", "10.0.17763.1");
        ws.cpe = Some("cpe:2.3:o:microsoft:windows_server_2019:-:*:*:*:*:*:*:*".into());
        assert_eq!(
            findings_for_software(&ws, &feeds, day("2025-01-01")).len(),
            1
        );
        ws.cpe = Some("cpe:2.3:o:microsoft:windowsxp:-:*:*:*:*:*:*:*".into());
        assert!(findings_for_software(&ws, &feeds, day("2025-01-01")).is_empty());
        ws.cpe = Some("cpe:2.3:o:otherco:windows_server_2019:-:*:*:*:*:*:*:*".into());
        assert!(findings_for_software(&ws, &feeds, day("2025-01-01")).is_empty());
    }

    #[test]
    fn sbom_listed_cves_are_confirmed_and_kev_marked() {
        let catalog = kev("CVE-2021-44228", "Apache", "Log4j2", true);
        let feeds = Feeds {
            kev: Some(&catalog),
            ..Feeds::default()
        };
        let mut log4j = Software::new("log4j-core", "2.14.1");
        log4j.purl = Some("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1".into());
        log4j.vulnerabilities = vec!["CVE-2021-44228".into(), "CVE-2021-45105".into()];
        let f = findings_for_software(&log4j, &feeds, day("2025-01-01"));
        assert_eq!(f.len(), 2);
        assert_eq!(
            (f[0].kind, f[0].confidence),
            (FindingKind::Kev, Confidence::Confirmed)
        );
        assert!(
            f[0].reason
                .starts_with("the SBOM lists CVE-2021-44228 as affecting log4j-core 2.14.1")
        );
        assert_eq!(f[1].kind, FindingKind::Cve);
    }

    fn product(name: &str, releases: &[(&str, &str, Option<&str>)]) -> EolProduct {
        EolProduct {
            name: name.into(),
            identifiers: Vec::new(),
            releases: releases
                .iter()
                .map(|(cycle, eol, eoas)| EolRelease {
                    name: (*cycle).into(),
                    release_date: None,
                    lts: false,
                    end_of_life: Milestone::On(day(eol)),
                    end_of_active_support: eoas
                        .map_or(Milestone::NotAnnounced, |d| Milestone::On(day(d))),
                    end_of_extended_support: None,
                    latest: None,
                    latest_date: None,
                })
                .collect(),
        }
    }

    #[test]
    fn eol_is_reached_on_the_exact_date_not_the_day_before() {
        let python = [product("python", &[("3.8", "2024-10-07", None)])];
        let feeds = Feeds {
            eol: &python,
            ..Feeds::default()
        };
        let s = Software::new("python", "3.8.10");
        assert!(findings_for_software(&s, &feeds, day("2024-10-06")).is_empty());
        let f = &findings_for_software(&s, &feeds, day("2024-10-07"))[0];
        assert_eq!(
            (f.kind, f.id.as_str()),
            (FindingKind::EndOfLife, "python 3.8")
        );
        assert_eq!(f.lifecycle_date, Some(day("2024-10-07")));
        assert!(
            f.reason.contains("reached end of life on 2024-10-07"),
            "{}",
            f.reason
        );
    }

    #[test]
    fn eol_cycle_is_chosen_by_dotted_parts_not_text_prefix() {
        let python = [product(
            "python",
            &[
                ("3.8", "2024-10-07", None),
                ("3.80", "2099-01-01", None),
                ("3", "2099-01-01", None),
            ],
        )];
        let feeds = Feeds {
            eol: &python,
            ..Feeds::default()
        };
        let as_of = day("2025-01-01");
        assert_eq!(
            findings_for_software(&Software::new("python", "3.8.10"), &feeds, as_of)[0].id,
            "python 3.8"
        );
        assert!(
            findings_for_software(&Software::new("python", "3.80.1"), &feeds, as_of).is_empty()
        );
        assert!(findings_for_software(&Software::new("python", "3.9.1"), &feeds, as_of).is_empty());
        assert!(
            findings_for_software(&Software::new("python-dateutil", "3.8.1"), &feeds, as_of)
                .is_empty()
        );
    }

    #[test]
    fn end_of_active_support_is_reported_before_end_of_life() {
        let node = [product(
            "nodejs",
            &[("18", "2025-04-30", Some("2023-10-18"))],
        )];
        let feeds = Feeds {
            eol: &node,
            ..Feeds::default()
        };
        let f =
            &findings_for_software(&Software::new("node", "18.19.0"), &feeds, day("2023-10-18"))[0];
        assert_eq!(f.kind, FindingKind::EndOfSupport);
        assert!(
            findings_for_software(&Software::new("node", "18.19.0"), &feeds, day("2023-10-17"))
                .is_empty()
        );
        assert_eq!(
            findings_for_software(&Software::new("node", "18.19.0"), &feeds, day("2025-04-30"))[0]
                .kind,
            FindingKind::EndOfLife
        );
    }

    #[test]
    fn windows_server_cycles_come_from_build_or_name() {
        let ws = [product(
            "windows-server",
            &[
                ("2019", "2029-01-09", Some("2024-01-09")),
                ("2012-R2", "2023-10-10", None),
                ("2012", "2023-10-10", None),
            ],
        )];
        let feeds = Feeds {
            eol: &ws,
            ..Feeds::default()
        };
        let as_of = day("2025-01-01");
        let f = findings_for_software(
            &Software::new("Windows Server 2019 Datacenter", "10.0.17763.1234"),
            &feeds,
            as_of,
        );
        assert_eq!(
            (f[0].kind, f[0].id.as_str()),
            (FindingKind::EndOfSupport, "windows-server 2019")
        );
        assert!(f[0].reason.contains("from its build number"));
        let f = findings_for_software(
            &Software::new("Microsoft Windows Server 2012 R2", ""),
            &feeds,
            as_of,
        );
        assert_eq!(f[0].id, "windows-server 2012-R2");
        let f = findings_for_software(&Software::new("Windows Server 2012", ""), &feeds, as_of);
        assert_eq!(f[0].id, "windows-server 2012");
    }

    #[test]
    fn sql_server_cycles_and_service_packs_are_read_from_their_names() {
        assert_eq!(sql_cycle("12.0-sp3"), Some(((12, 0), 3)));
        assert_eq!(sql_cycle("10.00-sp1"), Some(((10, 0), 1)));
        assert_eq!(sql_cycle("10.50-r2"), Some(((10, 50), 0)));
        assert_eq!(sql_cycle("6.50-sp5a"), Some(((6, 50), 5)));
        assert_eq!(sql_cycle("16.0"), Some(((16, 0), 0)));
        assert_eq!(sql_cycle("2019"), None);
        assert_eq!(service_pack_in("sp3"), Some(3));
        assert_eq!(service_pack_in("servicepack2"), Some(2));
        assert_eq!(service_pack_in("rtm"), Some(0));
        assert_eq!(service_pack_in("express"), None);
        assert_eq!(service_pack_in("sp"), None);
    }

    #[test]
    fn windows_feature_prefix_drops_the_edition() {
        assert_eq!(feature_prefix("10-1809-e-lts"), Some("10-1809"));
        assert_eq!(feature_prefix("11-23h2-w"), Some("11-23h2"));
        assert_eq!(feature_prefix("10-22h2"), Some("10-22h2"));
        assert_eq!(feature_prefix("8.1"), None);
    }

    #[test]
    fn cycle_containment_handles_ubuntu_and_openssl_letters() {
        assert!(cycle_contains("22.04", &["22", "04", "3"]));
        assert!(!cycle_contains("22.04", &["22", "10"]));
        assert!(cycle_contains("1.1.1", &["1", "1", "1w"]));
        assert!(cycle_contains("1.1", &["1", "1w"]));
        assert!(!cycle_contains("1.1", &["1w", "1"]));
        assert!(!cycle_contains("3.8", &["3", "80"]));
        assert!(!cycle_contains("3.8", &["3"]));
    }
}
