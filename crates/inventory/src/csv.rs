//! `assets.csv`: the inventory's spreadsheet form, with the columns documented in
//! `docs/inventory.md`. It reads today's simulator and threat-detector file
//! (`hostname,ip,kind,model,zone,department,shared[,phi]`) and the richer columns.
//!
//! CSV conventions are those of `docs/inventory-files.md`: a header naming the columns in any
//! order (case-insensitive, unknown columns ignored), fields optionally in double quotes (`""`
//! for a quote inside), blank and `#` lines skipped, every row as wide as the header. An error
//! names the line and what is wrong, never the field's text, which may hold a person's name.

use crate::asset::{Asset, AssetKind, Criticality, Origin, PhiUse, Software};
use crate::cpe::Cpe;
use crate::purl::Purl;
use std::collections::HashMap;
use std::net::IpAddr;
use ward_detect::threat::inventory::CsvTable;

/// Why `assets.csv` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[error("assets.csv line {line}: {reason}")]
pub struct CsvError {
    /// 1-based line; 0 for the whole file.
    pub line: usize,
    pub reason: String,
}

fn error(line: usize, reason: impl Into<String>) -> CsvError {
    CsvError {
        line,
        reason: reason.into(),
    }
}

/// Models that hold or serve PHI when the file says nothing about PHI (the threat
/// detectors' list, so both read today's simulator file alike).
const PHI_MODELS: &[&str] = &[
    "ehr-application",
    "ehr-database",
    "hl7-interface-engine",
    "pacs",
    "patient-portal",
    "ris",
    "lis",
    "file-server",
];

/// Every column this parser reads; listed in `docs/inventory.md`.
pub const COLUMNS: &[&str] = &[
    "hostname",
    "name",
    "ip",
    "addresses",
    "kind",
    "shared",
    "model",
    "owner",
    "location",
    "zone",
    "department",
    "phi",
    "stores_phi",
    "processes_phi",
    "transmits_phi",
    "mfa",
    "encryption_at_rest",
    "encryption_in_transit",
    "criticality",
    "vendor",
    "os",
    "os_version",
    "os_cpe",
    "firmware",
    "firmware_version",
    "software",
    "compensating_controls",
];

/// Parses the text of an assets CSV. Rows with the same id (hostname, else name) are an
/// error naming both lines: a spreadsheet with two rows for one host is a mistake to fix,
/// not something to merge silently.
pub fn parse_assets(text: &str) -> Result<Vec<Asset>, CsvError> {
    let table = CsvTable::parse("assets.csv", text, &[]).map_err(|e| error(e.line, e.reason))?;
    if !table.has("hostname") && !table.has("name") {
        return Err(error(
            table.header_line(),
            "the header has neither a `hostname` nor a `name` column",
        ));
    }
    let mut assets = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (line, row) in table.rows() {
        let asset = parse_row(&table, line, row)?;
        if let Some(first) = seen.insert(asset.id.to_ascii_lowercase(), line) {
            return Err(error(
                line,
                format!("the same asset id as line {first} (hostname, or name)"),
            ));
        }
        assets.push(asset);
    }
    Ok(assets)
}

fn parse_row(table: &CsvTable, line: usize, row: &[String]) -> Result<Asset, CsvError> {
    let get = |column: &str| table.get(row, column);
    let hostname = get("hostname");
    let name = get("name");
    let id = if hostname.is_empty() { name } else { hostname };
    if id.is_empty() {
        return Err(error(line, "the row has neither a hostname nor a name"));
    }
    let mut kind = match get("kind") {
        "" => AssetKind::Other,
        // Unknown words are `other`, as the threat detectors read the same file.
        word => AssetKind::from_word(word).unwrap_or(AssetKind::Other),
    };
    let shared =
        parse_flag(get("shared")).map_err(|_| error(line, "`shared` is not yes/no/true/false"))?;
    if shared == Some(true) && kind == AssetKind::Workstation {
        kind = AssetKind::SharedWorkstation;
    }
    let mut asset = Asset::new(id, kind, Origin::Csv);
    if !name.is_empty() {
        asset.name = name.to_string();
    }
    if !hostname.is_empty() {
        asset.hostnames.push(hostname.to_string());
    }
    for (column, text) in [("ip", get("ip")), ("addresses", get("addresses"))] {
        for item in split_list(text) {
            let address = item.parse::<IpAddr>().map_err(|_| {
                error(
                    line,
                    format!("`{column}` holds a value that is not an IP address"),
                )
            })?;
            if !asset.addresses.contains(&address) {
                asset.addresses.push(address);
            }
        }
    }
    asset.model = get("model").to_string();
    asset.owner = get("owner").to_string();
    asset.location = get("location").to_string();
    asset.zone = get("zone").to_string();
    asset.department = get("department").to_string();
    asset.vendor = get("vendor").to_string();
    asset.phi = parse_phi(table, row, line, &asset.model)?;
    for (column, slot) in [
        ("mfa", &mut asset.mfa),
        ("encryption_at_rest", &mut asset.encrypted_at_rest),
        ("encryption_in_transit", &mut asset.encrypted_in_transit),
    ] {
        *slot = parse_flag(get(column))
            .map_err(|_| error(line, format!("`{column}` is not yes/no/true/false/unknown")))?;
    }
    asset.criticality = match get("criticality") {
        "" => Criticality::default(),
        word => Criticality::from_word(word).ok_or_else(|| {
            error(
                line,
                "`criticality` must be patient-care-critical, high, medium or low",
            )
        })?,
    };
    asset.os = parse_platform(line, "os", get("os"), get("os_version"), get("os_cpe"))?;
    asset.firmware = parse_platform(
        line,
        "firmware",
        get("firmware"),
        get("firmware_version"),
        "",
    )?;
    for (i, item) in split_items(get("software")).enumerate() {
        asset.software.push(
            parse_software_item(item)
                .map_err(|reason| error(line, format!("`software` item {}: {reason}", i + 1)))?,
        );
    }
    asset.compensating_controls = split_items(get("compensating_controls"))
        .map(str::to_string)
        .collect();
    Ok(asset)
}

/// PHI from `stores_phi`/`processes_phi`/`transmits_phi`, else `phi`, else the model.
fn parse_phi(
    table: &CsvTable,
    row: &[String],
    line: usize,
    model: &str,
) -> Result<PhiUse, CsvError> {
    let detailed = ["stores_phi", "processes_phi", "transmits_phi"];
    if detailed.iter().any(|c| !table.get(row, c).is_empty()) {
        let mut flags = [false; 3];
        for (flag, column) in flags.iter_mut().zip(detailed) {
            *flag = parse_flag(table.get(row, column))
                .map_err(|_| error(line, format!("`{column}` is not yes/no/true/false")))?
                .unwrap_or(false);
        }
        let [stores, processes, transmits] = flags;
        return Ok(PhiUse {
            stores,
            processes,
            transmits,
        });
    }
    let phi = table.get(row, "phi");
    if phi.is_empty() {
        let held = PHI_MODELS.contains(&model.to_ascii_lowercase().as_str());
        return Ok(PhiUse {
            stores: held,
            processes: held,
            transmits: false,
        });
    }
    if let Ok(Some(flag)) = parse_flag(phi) {
        // "Stores or serves PHI", the threat detectors' meaning of the column.
        return Ok(PhiUse {
            stores: flag,
            processes: flag,
            transmits: false,
        });
    }
    let mut use_ = PhiUse::default();
    for word in split_list(phi) {
        match word.to_ascii_lowercase().as_str() {
            "stores" | "store" => use_.stores = true,
            "processes" | "process" => use_.processes = true,
            "transmits" | "transmit" => use_.transmits = true,
            _ => {
                return Err(error(
                    line,
                    "`phi` must be yes/no or a list of stores, processes, transmits",
                ));
            }
        }
    }
    Ok(use_)
}

/// `yes/true/y/1` and `no/false/n/0`; empty or `unknown` is `None`.
fn parse_flag(text: &str) -> Result<Option<bool>, ()> {
    match text.trim().to_ascii_lowercase().as_str() {
        "" | "unknown" | "?" => Ok(None),
        "yes" | "y" | "true" | "1" => Ok(Some(true)),
        "no" | "n" | "false" | "0" => Ok(Some(false)),
        _ => Err(()),
    }
}

fn parse_platform(
    line: usize,
    column: &str,
    name: &str,
    version: &str,
    cpe: &str,
) -> Result<Option<Software>, CsvError> {
    if name.is_empty() && version.is_empty() && cpe.is_empty() {
        return Ok(None);
    }
    let mut software = Software::new(name, version);
    if !cpe.is_empty() {
        let parsed = Cpe::parse(cpe)
            .map_err(|e| error(line, format!("`{column}_cpe` is not a CPE name: {e}")))?;
        let from_cpe = Software::from_cpe(&parsed, cpe);
        if software.name.is_empty() {
            software.name = from_cpe.name;
        }
        if software.version.is_empty() {
            software.version = from_cpe.version;
        }
        software.vendor = from_cpe.vendor;
        software.cpe = from_cpe.cpe;
    }
    Ok(Some(software))
}

/// One `software` item: a package URL, a CPE name, `name@version`, or a bare name.
fn parse_software_item(item: &str) -> Result<Software, String> {
    if item.len() >= 4
        && item
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("pkg:"))
    {
        let purl = Purl::parse(item).map_err(|e| e.to_string())?;
        return Ok(Software::from_purl(&purl, item));
    }
    if item.len() >= 4
        && item
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("cpe:"))
    {
        let cpe = Cpe::parse(item).map_err(|e| e.to_string())?;
        return Ok(Software::from_cpe(&cpe, item));
    }
    let (name, version) = item.rsplit_once('@').unwrap_or((item, ""));
    if name.trim().is_empty() {
        return Err("the name before `@` is empty".to_string());
    }
    Ok(Software::new(name.trim(), version.trim()))
}

/// Addresses: separated by `;`, `,`, `|` or spaces.
fn split_list(text: &str) -> impl Iterator<Item = &str> {
    text.split([';', ' ', '|', ','])
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Software and controls: separated by `;` only, since names contain spaces.
fn split_items(text: &str) -> impl Iterator<Item = &str> {
    text.split(';').map(str::trim).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_todays_simulator_file() {
        let text = "hostname,ip,kind,model,zone,department,shared\n\
            ws-ed-01.hospital.example,10.10.1.5,workstation,clinical-workstation,clinical,ED,true\n\
            ehr-db-01.hospital.example,10.20.0.10,server,ehr-database,ehr-servers,,false\n\
            pump-0001.hospital.example,10.30.0.20,medical-device,infusion-pump,medical-devices,ICU,false\n";
        let assets = parse_assets(text).unwrap();
        assert_eq!(assets.len(), 3);
        assert_eq!(assets[0].kind, AssetKind::SharedWorkstation);
        assert_eq!(assets[0].department, "ED");
        assert!(!assets[0].phi.any());
        assert_eq!(assets[1].kind, AssetKind::Server);
        assert!(assets[1].phi.stores, "ehr-database holds PHI by model");
        assert_eq!(assets[2].kind, AssetKind::MedicalDevice);
        assert_eq!(
            assets[2].addresses,
            ["10.30.0.20".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(assets[2].criticality, Criticality::Medium);
        assert_eq!(assets[2].origin, Origin::Csv);
    }

    #[test]
    fn reads_rich_columns_in_any_order_and_case() {
        let text = "Name,Kind,Owner,Addresses,Stores_PHI,Transmits_PHI,MFA,Encryption_At_Rest,\
            Criticality,Vendor,OS,OS_Version,OS_CPE,Firmware,Firmware_Version,Software,\
            Compensating_Controls,Hostname\n\
            # a comment line\n\
            \n\
            PACS,server,\"Imaging, Radiology\",10.20.0.5;10.20.0.6 fd00::5,yes,true,no,unknown,\
            patient-care-critical,Acme Imaging,Windows Server 2019,10.0.17763.1234,\
            cpe:2.3:o:microsoft:windows_server_2019:-:*:*:*:*:*:*:*,,,\
            openssl@1.1.1w;pkg:npm/lodash@4.17.20;cpe:2.3:a:apache:log4j:2.14.1:*:*:*:*:*:*:*;Notepad++,\
            network segmentation; application allow-listing,pacs01.hospital.example\n\
            Office 365,cloud-service,IT,,,,yes,yes,low,Microsoft,,,,,,,,\n";
        let assets = parse_assets(text).unwrap();
        let pacs = &assets[0];
        assert_eq!(pacs.id, "pacs01.hospital.example");
        assert_eq!(pacs.name, "PACS");
        assert_eq!(pacs.owner, "Imaging, Radiology");
        assert_eq!(pacs.addresses.len(), 3);
        assert!(pacs.phi.stores && pacs.phi.transmits && !pacs.phi.processes);
        assert_eq!(pacs.mfa, Some(false));
        assert_eq!(pacs.encrypted_at_rest, None);
        assert_eq!(pacs.criticality, Criticality::PatientCareCritical);
        let os = pacs.os.as_ref().unwrap();
        assert_eq!(
            (os.name.as_str(), os.version.as_str(), os.vendor.as_str()),
            ("Windows Server 2019", "10.0.17763.1234", "microsoft")
        );
        assert_eq!(pacs.firmware, None);
        assert_eq!(pacs.software.len(), 4);
        assert_eq!(pacs.software[0].label(), "openssl 1.1.1w");
        assert_eq!(
            pacs.software[1].purl.as_deref(),
            Some("pkg:npm/lodash@4.17.20")
        );
        assert_eq!(pacs.software[1].version, "4.17.20");
        assert_eq!(pacs.software[2].vendor, "apache");
        assert_eq!(pacs.software[3].label(), "Notepad++");
        assert_eq!(
            pacs.compensating_controls,
            ["network segmentation", "application allow-listing"]
        );
        let o365 = &assets[1];
        assert_eq!(
            (o365.id.as_str(), o365.kind),
            ("Office 365", AssetKind::CloudService)
        );
        assert!(o365.hostnames.is_empty());
        assert_eq!(o365.encrypted_at_rest, Some(true));
    }

    #[test]
    fn phi_column_takes_yes_no_or_a_list() {
        let text = "hostname,model,phi\na,ehr-database,no\nb,x,yes\nc,x,stores;transmits\n";
        let assets = parse_assets(text).unwrap();
        assert!(!assets[0].phi.any(), "an explicit no overrides the model");
        assert!(assets[1].phi.stores && assets[1].phi.processes);
        assert!(assets[2].phi.stores && assets[2].phi.transmits && !assets[2].phi.processes);
    }

    #[test]
    fn errors_name_the_line_and_problem_but_never_the_content() {
        let cases = [
            (
                "hostname,ip\nsecret-host,not-an-ip\n",
                2,
                "`ip` holds a value that is not an IP address",
            ),
            (
                "hostname,mfa\nsecret-host,perhaps\n",
                2,
                "`mfa` is not yes/no/true/false/unknown",
            ),
            (
                "hostname,criticality\nsecret-host,extreme\n",
                2,
                "`criticality` must be",
            ),
            (
                "hostname,software\nsecret-host,pkg:npm/%zz\n",
                2,
                "`software` item 1: the package URL has a bad percent-encoding",
            ),
            (
                "hostname,os_cpe\nsecret-host,cpe:2.3:a:b\n",
                2,
                "`os_cpe` is not a CPE name",
            ),
            ("hostname,phi\nsecret-host,sometimes\n", 2, "`phi` must be"),
            ("hostname,name\n,\n", 2, "neither a hostname nor a name"),
            (
                "hostname,ip\n\"secret-host,1.2.3.4\n",
                2,
                "unbalanced quotes",
            ),
            (
                "hostname,ip\nsecret-host\n",
                2,
                "1 fields where the header has 2",
            ),
            (
                "ip,kind\n1.2.3.4,server\n",
                1,
                "neither a `hostname` nor a `name` column",
            ),
            (
                "hostname\nsecret-host\n#\nSECRET-HOST\n",
                4,
                "the same asset id as line 2",
            ),
            ("", 0, "empty file"),
        ];
        for (text, line, reason) in cases {
            let e = parse_assets(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}");
            assert!(e.reason.contains(reason), "{text:?}: {e}");
            assert!(!e.to_string().to_lowercase().contains("secret"), "{e}");
            assert!(e.to_string().starts_with("assets.csv line "));
        }
    }
}
