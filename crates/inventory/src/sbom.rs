//! CycloneDX JSON SBOMs (specification 1.2 to 1.6): the subject (`metadata.component`), every
//! component including nested ones, with name, version, group, purl and CPE, and the
//! `vulnerabilities` array (ids and the components they affect) when the BOM carries one.
//! A VEX statement that a component is `not_affected` (or the finding a `false_positive`)
//! keeps the vulnerability off that component.
//!
//! Fields this inventory does not use (hashes, licences, dependencies, services) are not read,
//! so a BOM is accepted whatever they contain.

use crate::asset::{Asset, AssetKind, Origin, Software};
use crate::json::{JsonError, Reader, index, join};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

const READER: Reader = Reader {
    document: "CycloneDX SBOM",
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SbomComponent {
    pub bom_ref: Option<String>,
    /// `application`, `library`, `operating-system`, `firmware`, `device` …
    pub kind: String,
    pub name: String,
    pub version: Option<String>,
    /// Maven group, npm scope …
    pub group: Option<String>,
    pub publisher: Option<String>,
    pub purl: Option<String>,
    pub cpe: Option<String>,
    /// The field path in the document (`components[3].components[0]`), for messages.
    pub path: String,
}

impl SbomComponent {
    pub fn to_software(&self) -> Software {
        Software {
            name: self.name.clone(),
            vendor: self
                .group
                .clone()
                .or_else(|| self.publisher.clone())
                .unwrap_or_default(),
            version: self.version.clone().unwrap_or_default(),
            purl: self.purl.clone(),
            cpe: self.cpe.clone(),
            vulnerabilities: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SbomVulnerability {
    /// `CVE-2021-44228`, `GHSA-…`.
    pub id: String,
    pub source: Option<String>,
    /// The `bom-ref`s of the affected components.
    pub affects: Vec<String>,
    /// VEX `analysis.state`: `exploitable`, `in_triage`, `not_affected`, `false_positive` …
    pub analysis_state: Option<String>,
}

impl SbomVulnerability {
    /// Whether the BOM says the vulnerability does apply (no VEX statement to the contrary).
    pub fn applies(&self) -> bool {
        !matches!(
            self.analysis_state.as_deref(),
            Some("not_affected" | "false_positive" | "resolved")
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sbom {
    pub spec_version: String,
    pub serial_number: Option<String>,
    /// What the BOM describes.
    pub subject: Option<SbomComponent>,
    /// Every component, nested ones flattened in document order.
    pub components: Vec<SbomComponent>,
    pub vulnerabilities: Vec<SbomVulnerability>,
}

/// Parses a CycloneDX JSON document.
pub fn parse_cyclonedx(bytes: &[u8]) -> Result<Sbom, JsonError> {
    let root = READER.parse(bytes)?;
    let root = READER.object(&root, "$")?;
    match root.get("bomFormat") {
        Some(Value::String(f)) if f == "CycloneDX" => {}
        Some(_) => return Err(READER.error("bomFormat", "is not \"CycloneDX\"")),
        None => return Err(READER.error("bomFormat", "missing: not a CycloneDX BOM")),
    }
    let spec_version = READER.string(root, "specVersion", "$")?;
    let minor = spec_version
        .strip_prefix("1.")
        .and_then(|m| m.parse::<u32>().ok());
    if !matches!(minor, Some(2..=6)) {
        return Err(READER.error(
            "specVersion",
            "unsupported: this reader handles CycloneDX 1.2 to 1.6",
        ));
    }
    let serial_number = READER.opt_string(root, "serialNumber", "$")?;
    // The subject's own sub-components are parts of what the BOM describes: they are
    // listed first among the components.
    let mut components = Vec::new();
    let subject = match root.get("metadata") {
        None | Some(Value::Null) => None,
        Some(metadata) => {
            let metadata = READER.object(metadata, "metadata")?;
            match metadata.get("component") {
                None | Some(Value::Null) => None,
                Some(c) => Some(component(c, "metadata.component", &mut components)?),
            }
        }
    };
    for (i, c) in READER
        .opt_array(root, "components", "$")?
        .iter()
        .enumerate()
    {
        let mut nested = Vec::new();
        let found = component(c, &index("$", "components", i), &mut nested)?;
        components.push(found);
        components.extend(nested);
    }
    let mut vulnerabilities = Vec::new();
    for (i, v) in READER
        .opt_array(root, "vulnerabilities", "$")?
        .iter()
        .enumerate()
    {
        vulnerabilities.push(vulnerability(v, &index("$", "vulnerabilities", i))?);
    }
    Ok(Sbom {
        spec_version,
        serial_number,
        subject,
        components,
        vulnerabilities,
    })
}

/// Reads one component; its nested components are appended to `nested`.
fn component(
    value: &Value,
    path: &str,
    nested: &mut Vec<SbomComponent>,
) -> Result<SbomComponent, JsonError> {
    let object: &Map<String, Value> = READER.object(value, path)?;
    let name = READER.string(object, "name", path)?;
    if name.trim().is_empty() {
        return Err(READER.error(&join(path, "name"), "empty"));
    }
    let purl = READER.opt_string(object, "purl", path)?;
    if let Some(p) = &purl {
        crate::purl::Purl::parse(p)
            .map_err(|e| READER.error(&join(path, "purl"), e.to_string()))?;
    }
    let cpe = READER.opt_string(object, "cpe", path)?;
    if let Some(c) = &cpe {
        crate::cpe::Cpe::parse(c).map_err(|e| READER.error(&join(path, "cpe"), e.to_string()))?;
    }
    let publisher =
        READER
            .opt_string(object, "publisher", path)?
            .or(match object.get("supplier") {
                Some(Value::Object(s)) => s.get("name").and_then(Value::as_str).map(str::to_string),
                _ => None,
            });
    let found = SbomComponent {
        bom_ref: READER.opt_string(object, "bom-ref", path)?,
        kind: READER
            .opt_string(object, "type", path)?
            .unwrap_or_else(|| "library".to_string()),
        name,
        version: READER.opt_string(object, "version", path)?,
        group: READER.opt_string(object, "group", path)?,
        publisher,
        purl,
        cpe,
        path: path.to_string(),
    };
    for (i, child) in READER
        .opt_array(object, "components", path)?
        .iter()
        .enumerate()
    {
        let child_path = index(path, "components", i);
        let mut grandchildren = Vec::new();
        let c = component(child, &child_path, &mut grandchildren)?;
        nested.push(c);
        nested.extend(grandchildren);
    }
    Ok(found)
}

fn vulnerability(value: &Value, path: &str) -> Result<SbomVulnerability, JsonError> {
    let object = READER.object(value, path)?;
    let id = READER.string(object, "id", path)?;
    let source = match object.get("source") {
        Some(Value::Object(s)) => s.get("name").and_then(Value::as_str).map(str::to_string),
        _ => None,
    };
    let mut affects = Vec::new();
    for (i, a) in READER
        .opt_array(object, "affects", path)?
        .iter()
        .enumerate()
    {
        let a_path = index(path, "affects", i);
        let a = READER.object(a, &a_path)?;
        affects.push(READER.string(a, "ref", &a_path)?);
    }
    let analysis_state = match object.get("analysis") {
        None | Some(Value::Null) => None,
        Some(a) => {
            let a_path = join(path, "analysis");
            READER.opt_string(READER.object(a, &a_path)?, "state", &a_path)?
        }
    };
    Ok(SbomVulnerability {
        id,
        source,
        affects,
        analysis_state,
    })
}

/// Whether an `affects` reference names the component: its `bom-ref`, or a BOM-Link
/// (`urn:cdx:<serial>/<version>#<bom-ref>`) ending in it.
fn refers_to(reference: &str, bom_ref: &str) -> bool {
    reference == bom_ref
        || (reference.starts_with("urn:cdx:")
            && reference
                .rsplit_once('#')
                .is_some_and(|(_, r)| r == bom_ref))
}

impl Sbom {
    /// The components as software, each carrying the ids of the vulnerabilities the BOM
    /// says affect it (matched by `bom-ref`; VEX `not_affected` entries left out).
    pub fn software(&self) -> Vec<Software> {
        self.components
            .iter()
            .map(|c| {
                let mut s = c.to_software();
                if let Some(r) = &c.bom_ref {
                    for v in self.vulnerabilities.iter().filter(|v| v.applies()) {
                        if v.affects.iter().any(|a| refers_to(a, r))
                            && !s.vulnerabilities.contains(&v.id)
                        {
                            s.vulnerabilities.push(v.id.clone());
                        }
                    }
                }
                s
            })
            .collect()
    }

    /// The BOM as an application asset: named after its subject (or `fallback_name` when it
    /// has none), holding every component as software. Merge it into an inventory asset with
    /// `Asset::merge` when the application runs on a known host.
    pub fn to_asset(&self, fallback_name: &str) -> Asset {
        let name = self
            .subject
            .as_ref()
            .map_or(fallback_name.to_string(), |s| s.name.clone());
        let mut asset = Asset::new(name, AssetKind::Application, Origin::Sbom);
        if let Some(subject) = &self.subject {
            asset.vendor = subject.publisher.clone().unwrap_or_default();
        }
        asset.software = self.software();
        asset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NESTED: &str = r#"{
      "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
      "metadata": {"component": {"type": "application", "name": "portal", "version": "2.1",
        "components": [{"type": "library", "name": "portal-core", "version": "2.1"}]}},
      "components": [
        {"type": "library", "name": "outer", "version": "1", "bom-ref": "outer",
         "components": [
           {"name": "inner", "version": "2", "bom-ref": "inner",
            "components": [{"name": "deepest", "version": "3"}]}
         ]},
        {"type": "operating-system", "name": "ubuntu", "version": "22.04",
         "cpe": "cpe:2.3:o:canonical:ubuntu_linux:22.04:*:*:*:lts:*:*:*", "bom-ref": "os"}
      ],
      "vulnerabilities": [
        {"id": "CVE-2024-0001", "source": {"name": "NVD"}, "affects": [{"ref": "inner"}]},
        {"id": "CVE-2024-0003", "affects": [{"ref": "urn:cdx:3e671687-395b-41d5-8d8e-0b2c1f5d3d7f/1#outer"}]},
        {"id": "CVE-2024-0002", "affects": [{"ref": "os"}], "analysis": {"state": "not_affected"}}
      ]
    }"#;

    #[test]
    fn flattens_nested_components_in_document_order() {
        let bom = parse_cyclonedx(NESTED.as_bytes()).unwrap();
        assert_eq!(bom.subject.as_ref().unwrap().name, "portal");
        let names: Vec<&str> = bom.components.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["portal-core", "outer", "inner", "deepest", "ubuntu"]
        );
        assert_eq!(bom.components[0].path, "metadata.component.components[0]");
        assert_eq!(
            bom.components[3].path,
            "components[0].components[0].components[0]"
        );
        assert_eq!(bom.components[4].kind, "operating-system");
    }

    #[test]
    fn vulnerabilities_attach_to_components_unless_vex_says_not_affected() {
        let bom = parse_cyclonedx(NESTED.as_bytes()).unwrap();
        assert_eq!(bom.vulnerabilities.len(), 3);
        assert_eq!(bom.vulnerabilities[0].source.as_deref(), Some("NVD"));
        let software = bom.software();
        assert_eq!(
            software[1].vulnerabilities,
            ["CVE-2024-0003"],
            "by BOM-Link"
        );
        assert_eq!(software[2].vulnerabilities, ["CVE-2024-0001"]);
        assert!(software[4].vulnerabilities.is_empty(), "VEX not_affected");
        let asset = bom.to_asset("unused");
        assert_eq!(
            (asset.id.as_str(), asset.kind),
            ("portal", AssetKind::Application)
        );
        assert_eq!(asset.software.len(), 5);
    }

    #[test]
    fn errors_name_the_field_path() {
        let cases: [(&str, &str); 8] = [
            ("not json", "$"),
            (r#"{"specVersion": "1.4"}"#, "bomFormat"),
            (
                r#"{"bomFormat": "SPDX", "specVersion": "1.4"}"#,
                "bomFormat",
            ),
            (
                r#"{"bomFormat": "CycloneDX", "specVersion": "1.1"}"#,
                "specVersion",
            ),
            (
                r#"{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [{"name": "a"}, {"version": "1"}]}"#,
                "components[1].name",
            ),
            (
                r#"{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [{"name": "a", "components": [{"name": "b", "purl": "npm/b"}]}]}"#,
                "components[0].components[0].purl",
            ),
            (
                r#"{"bomFormat": "CycloneDX", "specVersion": "1.3", "components": [{"name": "a", "version": true}]}"#,
                "components[0].version",
            ),
            (
                r#"{"bomFormat": "CycloneDX", "specVersion": "1.4", "vulnerabilities": [{"id": "X", "affects": [{}]}]}"#,
                "vulnerabilities[0].affects[0].ref",
            ),
        ];
        for (text, path) in cases {
            let e = parse_cyclonedx(text.as_bytes()).unwrap_err();
            assert_eq!(e.path, path, "{text}: {e}");
        }
    }
}
