//! The EHR's audit trail: one [`Access`] (who did what to whose record, when, from which
//! workstation) becomes one FHIR R4 AuditEvent line in the IHE BALP shapes that
//! `ward_decode::fhir` reads (table in `docs/formats.md`).
//!
//! Normal behaviour and planted incidents both go through [`AuditWriter::write`], so an
//! incident's events can differ from normal ones only in the relationships they reveal, never
//! in their format. This is the simulator's hot path: JSON is assembled from static pieces
//! and digits without `serde_json::Value` or per-event allocation. It must never write a
//! string it did not take from the simulator's own ASCII tables (no escaping is done).

use crate::org::{EHR_HOST, EHR_IP, HOSPITAL_NAME, LOGIN_SYSTEM, Org};
use chrono::DateTime;
use std::io::{self, Write};

/// The kind of record a clinical action touches; the data entity's resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Data {
    Patient,
    Observation,
    Condition,
    MedicationRequest,
    MedicationAdministration,
    DocumentReference,
    DiagnosticReport,
    ImagingStudy,
    ServiceRequest,
    Encounter,
    Coverage,
    Claim,
    AllergyIntolerance,
}

impl Data {
    fn name(self) -> &'static str {
        match self {
            Data::Patient => "Patient",
            Data::Observation => "Observation",
            Data::Condition => "Condition",
            Data::MedicationRequest => "MedicationRequest",
            Data::MedicationAdministration => "MedicationAdministration",
            Data::DocumentReference => "DocumentReference",
            Data::DiagnosticReport => "DiagnosticReport",
            Data::ImagingStudy => "ImagingStudy",
            Data::ServiceRequest => "ServiceRequest",
            Data::Encounter => "Encounter",
            Data::Coverage => "Coverage",
            Data::Claim => "Claim",
            Data::AllergyIntolerance => "AllergyIntolerance",
        }
    }

    /// Prefix of generated resource ids.
    fn prefix(self) -> &'static str {
        match self {
            Data::Patient => "pt",
            Data::Observation => "obs",
            Data::Condition => "cond",
            Data::MedicationRequest => "medrx",
            Data::MedicationAdministration => "medadm",
            Data::DocumentReference => "doc",
            Data::DiagnosticReport => "dxr",
            Data::ImagingStudy => "img",
            Data::ServiceRequest => "sr",
            Data::Encounter => "enc",
            Data::Coverage => "cov",
            Data::Claim => "clm",
            Data::AllergyIntolerance => "alg",
        }
    }
}

/// What the user did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    Login,
    /// A mistyped password (outcome 8).
    LoginFailed,
    Logout,
    /// BALP PatientRead of the data kind (`Data::Patient`: the demographics).
    Read(Data),
    /// BALP PatientQuery: a search of the data kind within the patient's record.
    Search(Data),
    /// A registration search by family name and birth date (no patient entity: the result is
    /// not yet known).
    FindPatient,
    Create(Data),
    Update(Data),
    /// DCM 110106 Export of a document from the patient's record (disclosure).
    Export,
    /// DCM 110113 Security Alert / 110127 Emergency Override Started.
    BreakGlass,
}

/// v3-ActReason purpose of use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Treatment,
    EmergencyTreatment,
    Operations,
    Payment,
}

impl Purpose {
    fn code(self) -> &'static str {
        match self {
            Purpose::Treatment => "TREAT",
            Purpose::EmergencyTreatment => "ETREAT",
            Purpose::Operations => "HOPERAT",
            Purpose::Payment => "HPAYMT",
        }
    }
}

/// One audited action: the unit both normal behaviour and incidents produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// Milliseconds since the epoch.
    pub time: i64,
    pub what: What,
    pub user: u32,
    /// Asset index of the workstation.
    pub ws: u32,
    pub patient: Option<u32>,
    pub purpose: Purpose,
    /// Seeds the data entity's id, so ids look varied yet are reproducible.
    pub data: u32,
}

const DCM: &str = "http://dicom.nema.org/resources/ontology/DCM";
const ACT_REASON: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
const ENTITY_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
const OBJECT_ROLE: &str = "http://terminology.hl7.org/CodeSystem/object-role";

/// Writes AuditEvents as NDJSON, numbering them.
pub struct AuditWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
    pub events: u64,
    pub bytes: u64,
    /// The day whose `YYYY-MM-DDT` prefix is cached, and the prefix.
    day: i64,
    date: [u8; 11],
    /// The time of the last event written: events must come in order.
    last: i64,
}

impl<W: Write> AuditWriter<W> {
    pub fn new(out: W) -> Self {
        AuditWriter {
            out,
            buf: Vec::with_capacity(4096),
            events: 0,
            bytes: 0,
            day: i64::MIN,
            date: *b"1970-01-01T",
            last: i64::MIN,
        }
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }

    pub fn write(&mut self, org: &Org, a: &Access) -> io::Result<()> {
        debug_assert!(a.time >= self.last, "audit events out of order");
        self.last = a.time;
        self.events += 1;
        let b = &mut self.buf;
        b.clear();
        b.extend_from_slice(br#"{"resourceType":"AuditEvent","id":"ae"#);
        push_padded(b, self.events, 10);
        b.extend_from_slice(br#"","type":"#);
        let (action, outcome_failed) = match a.what {
            What::Login | What::LoginFailed | What::Logout => {
                let (code, display) = if a.what == What::Logout {
                    ("110123", "Logout")
                } else {
                    ("110122", "Login")
                };
                push_coding(b, DCM, "110114", "User Authentication");
                b.extend_from_slice(br#","subtype":["#);
                push_coding(b, DCM, code, display);
                b.push(b']');
                ("E", a.what == What::LoginFailed)
            }
            What::Read(_)
            | What::Search(_)
            | What::FindPatient
            | What::Create(_)
            | What::Update(_) => {
                let (code, action) = match a.what {
                    What::Read(_) => ("read", "R"),
                    What::Create(_) => ("create", "C"),
                    What::Update(_) => ("update", "U"),
                    _ => ("search-type", "E"),
                };
                push_coding(
                    b,
                    "http://terminology.hl7.org/CodeSystem/audit-event-type",
                    "rest",
                    "Restful Operation",
                );
                b.extend_from_slice(br#","subtype":["#);
                push_coding(b, "http://hl7.org/fhir/restful-interaction", code, code);
                b.push(b']');
                (action, false)
            }
            What::Export => {
                push_coding(b, DCM, "110106", "Export");
                ("R", false)
            }
            What::BreakGlass => {
                push_coding(b, DCM, "110113", "Security Alert");
                b.extend_from_slice(br#","subtype":["#);
                push_coding(b, DCM, "110127", "Emergency Override Started");
                b.push(b']');
                ("E", false)
            }
        };
        b.extend_from_slice(br#","action":""#);
        b.extend_from_slice(action.as_bytes());
        b.extend_from_slice(br#"","recorded":""#);
        let day = a.time.div_euclid(86_400_000);
        if day != self.day {
            self.day = day;
            if let Some(t) = DateTime::from_timestamp(day * 86_400, 0) {
                self.date
                    .copy_from_slice(t.format("%Y-%m-%dT").to_string().as_bytes());
            }
        }
        b.extend_from_slice(&self.date);
        let ms = a.time.rem_euclid(86_400_000) as u64;
        push_padded(b, ms / 3_600_000, 2);
        b.push(b':');
        push_padded(b, ms / 60_000 % 60, 2);
        b.push(b':');
        push_padded(b, ms / 1000 % 60, 2);
        b.push(b'.');
        push_padded(b, ms % 1000, 3);
        if outcome_failed {
            b.extend_from_slice(br#"Z","outcome":"8","outcomeDesc":"Invalid password","agent":["#);
        } else {
            b.extend_from_slice(br#"Z","outcome":"0","agent":["#);
        }

        // The user, as requestor.
        let staff = &org.staff[a.user as usize];
        b.extend_from_slice(br#"{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP","display":"information recipient"}]},"who":{"identifier":{"system":""#);
        b.extend_from_slice(LOGIN_SYSTEM.as_bytes());
        b.extend_from_slice(br#"","value":"u"#);
        push_padded(b, Org::login(a.user) as u64, 1);
        b.extend_from_slice(br#""},"display":""#);
        b.extend_from_slice(staff.given.as_bytes());
        b.push(b' ');
        b.extend_from_slice(staff.family.as_bytes());
        b.extend_from_slice(br#""},"requestor":true"#);
        if !matches!(a.what, What::Login | What::LoginFailed | What::Logout) {
            b.extend_from_slice(br#","purposeOfUse":[{"coding":["#);
            push_coding(b, ACT_REASON, a.purpose.code(), a.purpose.code());
            b.extend_from_slice(b"]}]");
        }
        // The workstation (Source Role ID) and the EHR (Destination Role ID).
        let ws = &org.assets[a.ws as usize];
        b.extend_from_slice(br#"},{"type":{"coding":["#);
        push_coding(b, DCM, "110153", "Source Role ID");
        b.extend_from_slice(br#"]},"who":{"display":""#);
        b.extend_from_slice(ws.hostname.as_bytes());
        b.extend_from_slice(br#""},"requestor":false,"network":{"address":""#);
        b.extend_from_slice(ws.ip.as_bytes());
        b.extend_from_slice(br#"","type":"2"}},{"type":{"coding":["#);
        push_coding(b, DCM, "110152", "Destination Role ID");
        b.extend_from_slice(br#"]},"who":{"display":""#);
        b.extend_from_slice(EHR_HOST.as_bytes());
        b.extend_from_slice(br#""},"requestor":false,"network":{"address":""#);
        b.extend_from_slice(EHR_IP.as_bytes());
        b.extend_from_slice(br#"","type":"2"}}],"source":{"site":""#);
        b.extend_from_slice(HOSPITAL_NAME.as_bytes());
        b.extend_from_slice(br#"","observer":{"display":""#);
        b.extend_from_slice(EHR_HOST.as_bytes());
        b.extend_from_slice(br#""},"type":[{"system":"http://terminology.hl7.org/CodeSystem/security-source-type","code":"4","display":"Application Server"}]}"#);

        // Whose record, and which part of it.
        let data = match a.what {
            What::Read(d) | What::Create(d) | What::Update(d) => Some(d),
            What::Export => Some(Data::DocumentReference),
            _ => None,
        };
        let query = matches!(a.what, What::Search(_) | What::FindPatient);
        if a.patient.is_some() || data.is_some() || query {
            b.extend_from_slice(br#","entity":["#);
            let mut first = true;
            // A registration search names the patient only in its query: the result is not
            // yet known to the EHR's audit.
            if let Some(p) = a.patient.filter(|_| a.what != What::FindPatient) {
                b.extend_from_slice(br#"{"what":{"reference":"Patient/pt"#);
                push_padded(b, p as u64, 6);
                b.extend_from_slice(br#""},"type":"#);
                push_coding(b, ENTITY_TYPE, "1", "Person");
                b.extend_from_slice(br#","role":"#);
                push_coding(b, OBJECT_ROLE, "1", "Patient");
                b.push(b'}');
                first = false;
            }
            if let Some(d) = data {
                if !first {
                    b.push(b',');
                }
                b.extend_from_slice(br#"{"what":{"reference":""#);
                b.extend_from_slice(d.name().as_bytes());
                b.push(b'/');
                b.extend_from_slice(d.prefix().as_bytes());
                match (d, a.patient) {
                    (Data::Patient, Some(p)) => push_padded(b, p as u64, 6),
                    _ => {
                        b.push(b'-');
                        push_hex(b, a.data);
                    }
                }
                b.extend_from_slice(br#""},"type":"#);
                push_coding(b, ENTITY_TYPE, "2", "System Object");
                b.extend_from_slice(br#","role":"#);
                push_coding(b, OBJECT_ROLE, "4", "Domain Resource");
                b.push(b'}');
                first = false;
            }
            if query {
                if !first {
                    b.push(b',');
                }
                b.extend_from_slice(br#"{"type":"#);
                push_coding(b, ENTITY_TYPE, "2", "System Object");
                b.extend_from_slice(br#","role":"#);
                push_coding(b, OBJECT_ROLE, "24", "Query");
                b.extend_from_slice(br#","query":""#);
                let mut q = [0u8; 160];
                let n = query_text(&mut q, org, a);
                push_base64(b, &q[..n]);
                b.extend_from_slice(br#""}"#);
            }
            b.push(b']');
        }
        b.extend_from_slice(b"}\n");
        self.bytes += b.len() as u64;
        self.out.write_all(b)
    }
}

/// The HTTP request line a search recorded, as BALP PatientQuery keeps it.
fn query_text(q: &mut [u8; 160], org: &Org, a: &Access) -> usize {
    let mut cursor = io::Cursor::new(&mut q[..]);
    let _ = match (a.what, a.patient) {
        (What::Search(d), Some(p)) => {
            write!(
                cursor,
                "GET /fhir/{}?patient=pt{p:06}&_sort=-date&_count=50",
                d.name()
            )
        }
        (What::FindPatient, Some(p)) => {
            let patient = &org.patients[p as usize];
            write!(
                cursor,
                "GET /fhir/Patient?family={}&birthdate={}",
                patient.family,
                crate::context::date(patient.birth)
            )
        }
        _ => write!(cursor, "GET /fhir/Patient?_count=50"),
    };
    cursor.position() as usize
}

fn push_coding(b: &mut Vec<u8>, system: &str, code: &str, display: &str) {
    b.extend_from_slice(br#"{"system":""#);
    b.extend_from_slice(system.as_bytes());
    b.extend_from_slice(br#"","code":""#);
    b.extend_from_slice(code.as_bytes());
    b.extend_from_slice(br#"","display":""#);
    b.extend_from_slice(display.as_bytes());
    b.extend_from_slice(br#""}"#);
}

/// Decimal digits of `n`, zero-padded to at least `width`.
fn push_padded(b: &mut Vec<u8>, mut n: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 && digits.len() - i >= width {
            break;
        }
    }
    b.extend_from_slice(&digits[i..]);
}

fn push_hex(b: &mut Vec<u8>, n: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for shift in (0..8).rev() {
        b.push(HEX[(n >> (shift * 4)) as usize & 15]);
    }
}

pub(crate) fn push_base64(b: &mut Vec<u8>, data: &[u8]) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for chunk in data.chunks(3) {
        let n = (chunk[0] as u32) << 16
            | (*chunk.get(1).unwrap_or(&0) as u32) << 8
            | *chunk.get(2).unwrap_or(&0) as u32;
        b.push(ALPHABET[(n >> 18) as usize & 63]);
        b.push(ALPHABET[(n >> 12) as usize & 63]);
        b.push(if chunk.len() > 1 {
            ALPHABET[(n >> 6) as usize & 63]
        } else {
            b'='
        });
        b.push(if chunk.len() > 2 {
            ALPHABET[n as usize & 63]
        } else {
            b'='
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_numbers_and_encodes_base64_like_the_standard() {
        let mut b = Vec::new();
        push_padded(&mut b, 7, 3);
        push_padded(&mut b, 0, 2);
        push_padded(&mut b, 1234, 2);
        push_padded(&mut b, 0, 1);
        assert_eq!(b, b"0070012340");
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            let mut b = Vec::new();
            push_base64(&mut b, plain.as_bytes());
            assert_eq!(String::from_utf8(b).unwrap(), encoded);
        }
    }
}
