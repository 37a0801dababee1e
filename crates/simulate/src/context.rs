//! Writes the organisation's context as a hospital's systems would export it: FHIR R4 NDJSON
//! (Organization, Practitioner, PractitionerRole, Patient, Encounter, CareTeam, Appointment,
//! ServiceRequest), the HR roster as CSV, and the asset and network-zone inventory as CSV and
//! TOML.
//!
//! The JSON is written by hand: every string comes from the simulator's own ASCII tables or is
//! built from digits, so nothing needs escaping (a test in `names` proves the tables are safe).
//! Never write a string from outside those tables here without escaping it. The resources
//! carry the R4 required elements (Encounter `status` and `class`); the formats of the CSV
//! and TOML files are documented in `docs/simulate.md`.

use crate::behaviour::Consult;
use crate::clinical::{Class, Encounter, Function};
use crate::org::{DAY, Dept, DeptKind, Employment, HOUR, Kin, MINUTE, Org, Zone, label};
use crate::org::{HOSPITAL_ID, HOSPITAL_NAME, LOGIN_SYSTEM, MRN_SYSTEM};
use crate::rng::Rng;
use chrono::DateTime;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

pub const ROLE_SYSTEM: &str = "http://wgh.example.org/fhir/CodeSystem/staff-role";
pub const DEPARTMENT_SYSTEM: &str = "http://wgh.example.org/fhir/NamingSystem/department";
const V3_ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
const V3_CONFIDENTIALITY: &str = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";
const V3_PARTICIPATION: &str = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";
const SNOMED: &str = "http://snomed.info/sct";
/// Share of consults that are formal, ordered with a ServiceRequest; the rest are informal
/// ("curbside") consults nothing in the context shows.
const FORMAL_CONSULT_SHARE: f64 = 0.8;

/// `YYYY-MM-DD` of a day counted from the Unix epoch.
pub fn date(days: i64) -> String {
    DateTime::from_timestamp(days * 86_400, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// FHIR `instant` / `dateTime` with seconds, UTC.
pub fn instant(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

pub fn practitioner_id(staff: u32) -> String {
    format!("pr{}", Org::login(staff))
}

pub fn patient_id(patient: u32) -> String {
    format!("pt{patient:06}")
}

pub fn login_name(staff: u32) -> String {
    format!("u{}", Org::login(staff))
}

/// A file being written line by line, counting its records.
pub struct Lines {
    pub path: PathBuf,
    out: BufWriter<File>,
    pub records: u64,
}

impl Lines {
    pub fn create(path: PathBuf) -> io::Result<Self> {
        let out = BufWriter::with_capacity(256 * 1024, File::create(&path)?);
        Ok(Lines {
            path,
            out,
            records: 0,
        })
    }

    /// Writes `line` and a newline; counts it as a record when `record` is true.
    pub fn line(&mut self, line: &str, record: bool) -> io::Result<()> {
        self.out.write_all(line.as_bytes())?;
        self.out.write_all(b"\n")?;
        self.records += record as u64;
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<(PathBuf, u64)> {
        self.out.flush()?;
        Ok((self.path, self.records))
    }
}

fn human_name(s: &mut String, family: &str, given: &str) {
    let _ = write!(
        s,
        r#""name":[{{"use":"official","family":"{family}","given":["{given}"]}}]"#
    );
}

fn address(s: &mut String, org: &Org, household: u32) {
    let h = &org.households[household as usize];
    let st = &org.streets[h.street as usize];
    let _ = write!(
        s,
        r#""address":[{{"use":"home","line":["{} {} {}"],"city":"{}","state":"{}","postalCode":"{}","country":"US"}}]"#,
        h.number, st.name, st.suffix, st.city, st.state, st.postal
    );
}

fn gender(female: bool) -> &'static str {
    if female { "female" } else { "male" }
}

/// Writes every context file that does not change during the simulation.
pub fn write_static(org: &Org, dir: &Path) -> io::Result<Vec<(PathBuf, u64)>> {
    Ok(vec![
        organizations(org, dir)?,
        practitioners(org, dir)?,
        practitioner_roles(org, dir)?,
        patients(org, dir)?,
        roster(org, dir)?,
        assets(org, dir)?,
        zones(dir)?,
    ])
}

fn organizations(org: &Org, dir: &Path) -> io::Result<(PathBuf, u64)> {
    let mut f = Lines::create(dir.join("organization.ndjson"))?;
    f.line(
        &format!(
            r#"{{"resourceType":"Organization","id":"{HOSPITAL_ID}","active":true,"type":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/organization-type","code":"prov","display":"Healthcare Provider"}}]}}],"name":"{HOSPITAL_NAME}"}}"#
        ),
        true,
    )?;
    for dept in &org.depts {
        f.line(
            &format!(
                r#"{{"resourceType":"Organization","id":"{}","identifier":[{{"system":"{DEPARTMENT_SYSTEM}","value":"{}"}}],"active":true,"type":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/organization-type","code":"dept","display":"Hospital Department"}}]}}],"name":"{}","partOf":{{"reference":"Organization/{HOSPITAL_ID}"}}}}"#,
                dept.org_id(),
                dept.code,
                dept.name
            ),
            true,
        )?;
    }
    f.finish()
}

fn practitioners(org: &Org, dir: &Path) -> io::Result<(PathBuf, u64)> {
    let mut f = Lines::create(dir.join("practitioners.ndjson"))?;
    let mut s = String::with_capacity(512);
    for (i, st) in org.staff.iter().enumerate() {
        let i = i as u32;
        s.clear();
        let active = !matches!(st.employment, Employment::Terminated(_));
        let _ = write!(
            s,
            r#"{{"resourceType":"Practitioner","id":"{}","identifier":[{{"system":"{LOGIN_SYSTEM}","value":"{}"}}],"active":{active},"#,
            practitioner_id(i),
            login_name(i)
        );
        human_name(&mut s, st.family, st.given);
        let _ = write!(
            s,
            r#","gender":"{}","birthDate":"{}","#,
            gender(st.female),
            date(st.birth)
        );
        address(&mut s, org, st.household);
        s.push('}');
        f.line(&s, true)?;
    }
    f.finish()
}

fn practitioner_roles(org: &Org, dir: &Path) -> io::Result<(PathBuf, u64)> {
    let mut f = Lines::create(dir.join("practitioner-roles.ndjson"))?;
    let mut s = String::with_capacity(512);
    for (i, st) in org.staff.iter().enumerate() {
        let i = i as u32;
        s.clear();
        let dept = &org.depts[st.dept as usize];
        let (active, end) = match st.employment {
            Employment::Terminated(at) => (false, Some(at)),
            _ => (true, None),
        };
        let _ = write!(
            s,
            r#"{{"resourceType":"PractitionerRole","id":"prr{}","active":{active},"period":{{"start":"{}""#,
            Org::login(i),
            date(st.hired)
        );
        if let Some(end) = end {
            let _ = write!(s, r#","end":"{}""#, date(end));
        }
        let _ = write!(
            s,
            r#"}},"practitioner":{{"reference":"Practitioner/{}"}},"organization":{{"reference":"Organization/{}"}},"code":[{{"coding":[{{"system":"{ROLE_SYSTEM}","code":"{}","display":"{}"}}]}}]}}"#,
            practitioner_id(i),
            dept.org_id(),
            st.role.code(),
            st.role.display()
        );
        f.line(&s, true)?;
    }
    f.finish()
}

fn patients(org: &Org, dir: &Path) -> io::Result<(PathBuf, u64)> {
    let mut f = Lines::create(dir.join("patients.ndjson"))?;
    let mut s = String::with_capacity(1024);
    for (i, p) in org.patients.iter().enumerate() {
        s.clear();
        let _ = write!(
            s,
            r#"{{"resourceType":"Patient","id":"{}","#,
            patient_id(i as u32)
        );
        if p.labels != 0 {
            let mut labels: Vec<(&str, &str, &str)> = Vec::new();
            if p.labels & label::RESTRICTED != 0 {
                labels.push((V3_CONFIDENTIALITY, "R", "restricted"));
            }
            if p.labels & label::VERY_RESTRICTED != 0 {
                labels.push((V3_CONFIDENTIALITY, "V", "very restricted"));
            }
            if p.labels & label::CELEBRITY != 0 {
                labels.push((V3_ACT_CODE, "CEL", "celebrity"));
            }
            if p.labels & label::EMPLOYEE != 0 {
                labels.push((V3_ACT_CODE, "EMP", "employee"));
            }
            s.push_str(r#""meta":{"security":["#);
            for (k, (system, code, display)) in labels.iter().enumerate() {
                if k > 0 {
                    s.push(',');
                }
                let _ = write!(
                    s,
                    r#"{{"system":"{system}","code":"{code}","display":"{display}"}}"#
                );
            }
            s.push_str("]},");
        }
        let _ = write!(
            s,
            r#""identifier":[{{"type":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR","display":"Medical record number"}}]}},"system":"{MRN_SYSTEM}","value":"MRN{:07}"}}],"#,
            1_000_000 + i
        );
        human_name(&mut s, p.family, p.given);
        let _ = write!(
            s,
            r#","gender":"{}","birthDate":"{}","#,
            gender(p.female),
            date(p.birth)
        );
        if let Some(died) = p.deceased {
            let _ = write!(s, r#""deceasedDateTime":"{}","#, instant(died));
        }
        address(&mut s, org, p.household);
        if let Some(c) = &p.contact
            && !c.given.is_empty()
        {
            let (code, display) = c.kin.code();
            let kind = if c.kin == Kin::Friend {
                ("C", "Emergency Contact")
            } else {
                ("N", "Next-of-Kin")
            };
            let _ = write!(
                s,
                r#","contact":[{{"relationship":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/v2-0131","code":"{}","display":"{}"}}]}},{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/v3-RoleCode","code":"{code}","display":"{display}"}}]}}],"name":{{"use":"official","family":"{}","given":["{}"]}}}}]"#,
                kind.0, kind.1, c.family, c.given
            );
        }
        s.push('}');
        f.line(&s, true)?;
    }
    f.finish()
}

/// Columns: login, name, department, role, hire_date, termination_date, status.
fn roster(org: &Org, dir: &Path) -> io::Result<(PathBuf, u64)> {
    let mut f = Lines::create(dir.join("hr-roster.csv"))?;
    f.line(
        "login,name,department,role,hire_date,termination_date,status",
        false,
    )?;
    for (i, st) in org.staff.iter().enumerate() {
        let (terminated, status) = match st.employment {
            Employment::Active => (String::new(), "active"),
            Employment::OnLeave => (String::new(), "on-leave"),
            Employment::Terminated(at) => (date(at), "terminated"),
        };
        f.line(
            &format!(
                "{},{} {},{},{},{},{terminated},{status}",
                login_name(i as u32),
                st.given,
                st.family,
                org.depts[st.dept as usize].code,
                st.role.code(),
                date(st.hired)
            ),
            true,
        )?;
    }
    f.finish()
}

/// What the inventory knows of one model of asset: who runs it, what it runs, whether it
/// holds PHI and how it is protected. A small hospital's estate as IT leads describe it:
/// current office desktops, clinical PCs on an operating system past its end of life,
/// imaging modalities on Windows 7 behind segmentation, an EHR database on Windows Server
/// 2012 R2 and SQL Server 2014, a vendor VPN appliance without MFA.
struct Profile {
    owner: &'static str,
    location: &'static str,
    /// stores, processes, transmits.
    phi: (bool, bool, bool),
    mfa: &'static str,
    at_rest: &'static str,
    in_transit: &'static str,
    criticality: &'static str,
    vendor: &'static str,
    os: &'static str,
    os_version: &'static str,
    os_cpe: &'static str,
    firmware: &'static str,
    firmware_version: &'static str,
    software: &'static str,
    controls: &'static str,
}

const fn profile(model: &str) -> Profile {
    let base = Profile {
        owner: "IT Infrastructure",
        location: "Main building, data centre",
        phi: (false, false, false),
        mfa: "unknown",
        at_rest: "unknown",
        in_transit: "unknown",
        criticality: "medium",
        vendor: "",
        os: "",
        os_version: "",
        os_cpe: "",
        firmware: "",
        firmware_version: "",
        software: "",
        controls: "",
    };
    let windows_2012 = "cpe:2.3:o:microsoft:windows_server_2012:r2:*:*:*:*:*:*:*";
    let windows_2019 = "cpe:2.3:o:microsoft:windows_server_2019:-:*:*:*:*:*:*:*";
    match model.as_bytes() {
        b"shared-clinical-workstation" => Profile {
            owner: "IT Service Desk",
            location: "Wards and clinics",
            phi: (false, true, true),
            mfa: "no",
            at_rest: "yes",
            in_transit: "yes",
            criticality: "high",
            vendor: "Dell",
            os: "Windows 10 Enterprise 22H2",
            os_version: "10.0.19045.4291",
            os_cpe: "cpe:2.3:o:microsoft:windows_10_22h2:10.0.19045.4291:*:*:*:*:*:x64:*",
            software: "Meridian EHR client@11.2;cpe:2.3:a:google:chrome:124.0.6367.91:*:*:*:*:*:*:*",
            controls: "application allow-listing",
            ..base
        },
        b"office-workstation" => Profile {
            owner: "IT Service Desk",
            location: "Administration building",
            phi: (false, true, false),
            mfa: "yes",
            at_rest: "yes",
            in_transit: "yes",
            criticality: "low",
            vendor: "Lenovo",
            os: "Windows 11 Enterprise 23H2",
            os_version: "10.0.22631.3527",
            os_cpe: "cpe:2.3:o:microsoft:windows_11_23h2:10.0.22631.3527:*:*:*:*:*:x64:*",
            software: "cpe:2.3:a:microsoft:365_apps:-:*:*:*:enterprise:*:*:*",
            ..base
        },
        b"ehr-application" => Profile {
            owner: "Clinical Applications",
            phi: (false, true, true),
            mfa: "yes",
            at_rest: "yes",
            in_transit: "yes",
            criticality: "patient-care-critical",
            vendor: "Meridian EHR Support",
            os: "Windows Server 2019",
            os_version: "10.0.17763.5830",
            os_cpe: windows_2019,
            software: "cpe:2.3:a:apache:tomcat:9.0.43:*:*:*:*:*:*:*;cpe:2.3:a:openssl:openssl:1.1.1k:*:*:*:*:*:*:*",
            ..base
        },
        b"ehr-database" => Profile {
            owner: "Clinical Applications",
            phi: (true, true, false),
            mfa: "yes",
            at_rest: "yes",
            in_transit: "yes",
            criticality: "patient-care-critical",
            vendor: "Meridian EHR Support",
            os: "Windows Server 2012 R2",
            os_version: "6.3.9600",
            os_cpe: windows_2012,
            software: "cpe:2.3:a:microsoft:sql_server_2014:12.0.6024.0:sp3:*:*:*:*:x64:*",
            controls: "network segmentation",
            ..base
        },
        b"hl7-interface-engine" => Profile {
            owner: "Integration Team",
            phi: (false, true, true),
            mfa: "no",
            at_rest: "no",
            in_transit: "no",
            criticality: "patient-care-critical",
            vendor: "NextGen Healthcare",
            os: "Ubuntu 18.04 LTS",
            os_version: "18.04.6",
            os_cpe: "cpe:2.3:o:canonical:ubuntu_linux:18.04:*:*:*:lts:*:*:*",
            software: "cpe:2.3:a:nextgen:mirth_connect:4.3.0:*:*:*:*:*:*:*;cpe:2.3:a:openssl:openssl:1.1.1:*:*:*:*:*:*:*",
            controls: "network segmentation",
            ..base
        },
        b"pacs" => Profile {
            owner: "Radiology IT",
            phi: (true, true, true),
            mfa: "no",
            at_rest: "no",
            in_transit: "no",
            criticality: "patient-care-critical",
            vendor: "ClearView Imaging",
            os: "Windows Server 2012 R2",
            os_version: "6.3.9600",
            os_cpe: windows_2012,
            software: "ClearView PACS@7.4",
            ..base
        },
        b"identity-provider" => Profile {
            owner: "IT Infrastructure",
            mfa: "yes",
            at_rest: "yes",
            in_transit: "yes",
            criticality: "high",
            vendor: "Microsoft",
            os: "Windows Server 2019",
            os_version: "10.0.17763.5830",
            os_cpe: windows_2019,
            ..base
        },
        b"patient-portal" => Profile {
            owner: "Digital Services",
            location: "Main building, data centre (DMZ)",
            phi: (false, true, true),
            mfa: "yes",
            at_rest: "yes",
            in_transit: "yes",
            criticality: "high",
            vendor: "Meridian EHR Support",
            os: "Ubuntu 20.04 LTS",
            os_version: "20.04.6",
            os_cpe: "cpe:2.3:o:canonical:ubuntu_linux:20.04:*:*:*:lts:*:*:*",
            software: "cpe:2.3:a:f5:nginx:1.18.0:*:*:*:*:*:*:*;cpe:2.3:a:openssl:openssl:1.1.1f:*:*:*:*:*:*:*",
            ..base
        },
        b"mail-relay" => Profile {
            location: "Main building, data centre (DMZ)",
            phi: (false, false, true),
            mfa: "yes",
            at_rest: "yes",
            in_transit: "yes",
            criticality: "high",
            os: "Debian 11",
            os_version: "11.9",
            os_cpe: "cpe:2.3:o:debian:debian_linux:11:*:*:*:*:*:*:*",
            software: "cpe:2.3:a:postfix:postfix:3.5.25:*:*:*:*:*:*:*",
            ..base
        },
        b"vpn-gateway" => Profile {
            location: "Main building, network room",
            phi: (false, false, true),
            mfa: "no",
            at_rest: "yes",
            in_transit: "yes",
            criticality: "high",
            vendor: "Fortinet",
            os: "FortiOS",
            os_version: "7.0.12",
            os_cpe: "cpe:2.3:o:fortinet:fortios:7.0.12:*:*:*:*:*:*:*",
            ..base
        },
        b"infusion-pump" => Profile {
            owner: "Biomedical Engineering",
            location: "Wards",
            phi: (false, true, true),
            mfa: "no",
            at_rest: "no",
            in_transit: "yes",
            criticality: "patient-care-critical",
            vendor: "MedInfuse Systems",
            firmware: "MedInfuse MI-4000 firmware",
            firmware_version: "3.2.1",
            controls: "network segmentation",
            ..base
        },
        b"patient-monitor" => Profile {
            owner: "Biomedical Engineering",
            location: "Wards",
            phi: (false, true, true),
            mfa: "no",
            at_rest: "no",
            in_transit: "no",
            criticality: "patient-care-critical",
            vendor: "VitalSense",
            firmware: "VitalSense VS-900 firmware",
            firmware_version: "5.4.0",
            controls: "network segmentation",
            ..base
        },
        b"ct-scanner" | b"mr-scanner" | b"x-ray" | b"ultrasound" => Profile {
            owner: "Biomedical Engineering",
            location: "Radiology",
            phi: (true, true, true),
            mfa: "no",
            at_rest: "no",
            in_transit: "no",
            criticality: "patient-care-critical",
            vendor: "ClearView Imaging",
            os: "Windows 7 Embedded",
            os_version: "6.1.7601",
            os_cpe: "cpe:2.3:o:microsoft:windows_7:-:sp1:*:*:*:*:*:*",
            controls: "network segmentation; vendor-managed",
            ..base
        },
        b"lab-analyser" => Profile {
            owner: "Laboratory",
            location: "Laboratory",
            phi: (true, true, true),
            mfa: "no",
            at_rest: "unknown",
            in_transit: "no",
            criticality: "high",
            os: "Windows 10 Enterprise LTSC 2019",
            os_version: "10.0.17763.5830",
            os_cpe: "cpe:2.3:o:microsoft:windows_10_1809:10.0.17763.5830:*:*:*:*:*:*:*",
            controls: "network segmentation",
            ..base
        },
        _ => base,
    }
}

/// A CSV field, quoted when it holds a comma or a quote.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The asset list in the columns `docs/inventory.md` documents. The threat detectors read its
/// first seven; without a `phi` column they take PHI from the model, as before.
fn assets(org: &Org, dir: &Path) -> io::Result<(PathBuf, u64)> {
    let mut f = Lines::create(dir.join("assets.csv"))?;
    f.line(
        "hostname,ip,kind,model,zone,department,shared,stores_phi,processes_phi,transmits_phi,\
         owner,location,mfa,encryption_at_rest,encryption_in_transit,criticality,vendor,os,\
         os_version,os_cpe,firmware,firmware_version,software,compensating_controls",
        false,
    )?;
    let yes = |b: bool| if b { "yes" } else { "no" };
    for a in &org.assets {
        let dept = a.dept.map(|d| org.depts[d as usize].code).unwrap_or("");
        let p = profile(a.model);
        let (stores, processes, transmits) = p.phi;
        f.line(
            &format!(
                "{},{},{},{},{},{dept},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                a.hostname,
                a.ip,
                a.kind,
                a.model,
                a.zone.name(),
                a.shared,
                yes(stores),
                yes(processes),
                yes(transmits),
                p.owner,
                csv_field(p.location),
                p.mfa,
                p.at_rest,
                p.in_transit,
                p.criticality,
                p.vendor,
                p.os,
                p.os_version,
                p.os_cpe,
                p.firmware,
                p.firmware_version,
                p.software,
                p.controls,
            ),
            true,
        )?;
    }
    f.finish()
}

fn zones(dir: &Path) -> io::Result<(PathBuf, u64)> {
    let mut f = Lines::create(dir.join("zones.toml"))?;
    f.line(
        "# Network zones of the simulated hospital (format: docs/simulate.md).",
        false,
    )?;
    for z in Zone::ALL {
        f.line(
            &format!(
                "\n[[zone]]\nname = \"{}\"\ncidr = \"{}\"\ndescription = \"{}\"",
                z.name(),
                z.cidr(),
                z.description()
            ),
            true,
        )?;
    }
    f.line(&crate::policy::toml(), false)?;
    f.finish()
}

/// Where encounters, care teams and appointments go as the census creates them, and consult
/// orders as sessions plan consults.
pub struct EncounterSink {
    encounters: Lines,
    care_teams: Lines,
    appointments: Lines,
    service_requests: Lines,
    seed: u64,
    /// (encounter, consulting department) pairs already decided, formal or not, for the
    /// encounters the census holds: one order per department per encounter.
    consults: HashSet<(u32, u16)>,
    /// The snapshot time: encounters ending later are still in progress.
    run_end: i64,
    line: String,
}

impl EncounterSink {
    pub fn create(dir: &Path, seed: u64, run_end: i64) -> io::Result<Self> {
        Ok(EncounterSink {
            encounters: Lines::create(dir.join("encounters.ndjson"))?,
            care_teams: Lines::create(dir.join("care-teams.ndjson"))?,
            appointments: Lines::create(dir.join("appointments.ndjson"))?,
            service_requests: Lines::create(dir.join("service-requests.ndjson"))?,
            seed,
            consults: HashSet::new(),
            run_end,
            line: String::with_capacity(2048),
        })
    }

    pub fn write(&mut self, org: &Org, e: &Encounter) -> io::Result<()> {
        let finished = e.end <= self.run_end;
        let (start, end) = (instant(e.start), instant(e.end));
        let period = |s: &mut String| {
            let _ = write!(s, r#""period":{{"start":"{start}""#);
            if finished {
                let _ = write!(s, r#","end":"{end}""#);
            }
            s.push('}');
        };
        let dept: &Dept = &org.depts[e.dept as usize];
        let s = &mut self.line;
        s.clear();
        let (class, class_display) = e.class.code();
        let status = if finished { "finished" } else { "in-progress" };
        let _ = write!(
            s,
            r#"{{"resourceType":"Encounter","id":"enc{:07}","status":"{status}","class":{{"system":"{V3_ACT_CODE}","code":"{class}","display":"{class_display}"}},"subject":{{"reference":"Patient/{}"}},"participant":["#,
            e.id,
            patient_id(e.patient)
        );
        for (k, &(staff, function)) in e.team.iter().enumerate() {
            if k > 0 {
                s.push(',');
            }
            let (code, display) = function.code();
            let _ = write!(
                s,
                r#"{{"type":[{{"coding":[{{"system":"{V3_PARTICIPATION}","code":"{code}","display":"{display}"}}]}}],"#
            );
            period(s);
            let _ = write!(
                s,
                r#","individual":{{"reference":"Practitioner/{}"}}}}"#,
                practitioner_id(staff)
            );
        }
        s.push_str("],");
        period(s);
        let _ = write!(
            s,
            r#","serviceProvider":{{"reference":"Organization/{}"}}}}"#,
            dept.org_id()
        );
        self.encounters.line(s, true)?;

        if e.class == Class::Inpatient {
            s.clear();
            let _ = write!(
                s,
                r#"{{"resourceType":"CareTeam","id":"ct{:07}","status":"{}","name":"{} care team","subject":{{"reference":"Patient/{}"}},"encounter":{{"reference":"Encounter/enc{:07}"}},"#,
                e.id,
                if finished { "inactive" } else { "active" },
                dept.name,
                patient_id(e.patient),
                e.id
            );
            period(s);
            s.push_str(r#","participant":["#);
            for (k, &(staff, function)) in e.team.iter().enumerate() {
                if k > 0 {
                    s.push(',');
                }
                let (code, display) = function.code();
                let _ = write!(
                    s,
                    r#"{{"role":[{{"coding":[{{"system":"{V3_PARTICIPATION}","code":"{code}","display":"{display}"}}]}}],"member":{{"reference":"Practitioner/{}"}},"#,
                    practitioner_id(staff)
                );
                period(s);
                s.push('}');
            }
            let _ = write!(
                s,
                r#"],"managingOrganization":[{{"reference":"Organization/{}"}}]}}"#,
                dept.org_id()
            );
            self.care_teams.line(s, true)?;
        }

        if e.class == Class::Ambulatory
            && let Some(&(attending, _)) = e.team.iter().find(|&&(_, f)| f == Function::Attending)
        {
            // Clinic visits are booked: 1–14 days ahead, a pure function of the encounter so
            // no other stream moves.
            let booked = e.start
                - (1 + (crate::rng::mix_all(self.seed, &[0xB00C, e.id as u64]) % 14) as i64) * DAY;
            s.clear();
            let _ = write!(
                s,
                r#"{{"resourceType":"Appointment","id":"ap{:07}","status":"{}","serviceType":[{{"text":"{}"}}],"start":"{start}","end":"{end}","created":"{}","participant":[{{"actor":{{"reference":"Patient/{}"}},"required":"required","status":"accepted"}},{{"type":[{{"coding":[{{"system":"{V3_PARTICIPATION}","code":"ATND","display":"attender"}}]}}],"actor":{{"reference":"Practitioner/{}"}},"required":"required","status":"accepted"}}]}}"#,
                e.id,
                if finished { "fulfilled" } else { "booked" },
                dept.name,
                instant(booked),
                patient_id(e.patient),
                practitioner_id(attending)
            );
            self.appointments.line(s, true)?;
        }
        Ok(())
    }

    /// A consult a session planned: the first time a department consults on an encounter,
    /// most often (formal consults) the attending ordered it a while before, with a
    /// ServiceRequest addressed to the consulting department. Drawn from a stream of its own
    /// (seed, encounter, department), so the rest of the simulation is unchanged by it.
    pub fn consult(&mut self, org: &Org, c: &Consult) -> io::Result<()> {
        let dept_index = org.staff[c.staff as usize].dept;
        if !self.consults.insert((c.encounter, dept_index)) {
            return Ok(());
        }
        let mut rng = Rng::stream(self.seed, &[0xC0DE, c.encounter as u64, dept_index as u64]);
        if !rng.chance(FORMAL_CONSULT_SHARE) {
            return Ok(());
        }
        let dept = &org.depts[dept_index as usize];
        // Written minutes to hours before the consultant first opens the chart, never before
        // the patient arrived unless the consult itself came before.
        let written = c.at - rng.range(10 * MINUTE, 4 * HOUR);
        let authored = if c.at >= c.start {
            written.max(c.start)
        } else {
            written
        };
        let finished = c.end <= self.run_end;
        let s = &mut self.line;
        s.clear();
        let _ = write!(
            s,
            r#"{{"resourceType":"ServiceRequest","id":"sr{:07}-{}","status":"{}","intent":"order","category":[{{"coding":[{{"system":"{SNOMED}","code":"11429006","display":"Consultation"}}]}}],"code":{{"text":"{} consultation"}},"subject":{{"reference":"Patient/{}"}},"encounter":{{"reference":"Encounter/enc{:07}"}},"#,
            c.encounter,
            dept.code.to_ascii_lowercase(),
            if finished { "completed" } else { "active" },
            dept.name,
            patient_id(c.patient),
            c.encounter
        );
        // Consult and follow: until discharge when the stay has ended.
        let _ = write!(s, r#""occurrencePeriod":{{"start":"{}""#, instant(authored));
        if finished {
            let _ = write!(s, r#","end":"{}""#, instant(c.end));
        }
        let _ = write!(s, r#"}},"authoredOn":"{}","#, instant(authored));
        if let Some(attending) = c.attending {
            let _ = write!(
                s,
                r#""requester":{{"reference":"Practitioner/{}"}},"#,
                practitioner_id(attending)
            );
        }
        let _ = write!(
            s,
            r#""performer":[{{"reference":"Organization/{}","display":"{}"}}]}}"#,
            dept.org_id(),
            dept.name
        );
        self.service_requests.line(s, true)
    }

    /// Forgets the consults of encounters the census no longer holds (memory follows the
    /// census, not the days simulated).
    pub fn forget_consults(&mut self, held: impl Iterator<Item = u32>) {
        let held: HashSet<u32> = held.collect();
        self.consults.retain(|(e, _)| held.contains(e));
    }

    pub fn finish(self) -> io::Result<Vec<(PathBuf, u64)>> {
        Ok(vec![
            self.encounters.finish()?,
            self.care_teams.finish()?,
            self.appointments.finish()?,
            self.service_requests.finish()?,
        ])
    }
}

/// Whether the department's staff treat patients themselves (for scenarios choosing users).
pub fn is_clinical(kind: DeptKind) -> bool {
    matches!(
        kind,
        DeptKind::Inpatient | DeptKind::Emergency | DeptKind::Clinic
    )
}
