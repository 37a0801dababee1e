//! The synthetic organisation: departments, staff, patients, households, streets, workstations,
//! servers and medical devices, generated once from the seed and then only read.
//!
//! Everything later stages need about a person is here in compact, index-based form (names are
//! indices into [`crate::names`]), so memory is proportional to the organisation's size and
//! nothing else. Relationships that incidents exploit (a staff member who is also a patient,
//! family living in one household, neighbours on one street, a VIP) are built here on purpose,
//! and normal behaviour is built to stay clear of them. This module never does IO.

use crate::names;
use crate::rng::{Rng, mix_all};

pub const MINUTE: i64 = 60_000;
pub const HOUR: i64 = 60 * MINUTE;
pub const DAY: i64 = 24 * HOUR;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Physician,
    Nurse,
    Clerk,
    Lab,
    Radiology,
    Pharmacist,
    Him,
    It,
}

impl Role {
    /// The code written to PractitionerRole.code and the HR roster.
    pub fn code(self) -> &'static str {
        match self {
            Role::Physician => "physician",
            Role::Nurse => "nurse",
            Role::Clerk => "clerk",
            Role::Lab => "lab",
            Role::Radiology => "radiology",
            Role::Pharmacist => "pharmacist",
            Role::Him => "HIM",
            Role::It => "IT",
        }
    }

    pub fn display(self) -> &'static str {
        match self {
            Role::Physician => "Physician",
            Role::Nurse => "Nurse",
            Role::Clerk => "Clerk",
            Role::Lab => "Laboratory technologist",
            Role::Radiology => "Radiology technologist",
            Role::Pharmacist => "Pharmacist",
            Role::Him => "Health information management",
            Role::It => "Information technology",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeptKind {
    /// A ward with beds: admitted patients and their care teams.
    Inpatient,
    Emergency,
    /// Outpatient clinic, weekdays.
    Clinic,
    /// Lab, radiology, pharmacy: read many patients of other departments.
    Ancillary,
    /// Registration, HIM, billing, IT: personal workstations in the admin zone.
    Office,
}

struct DeptSpec {
    code: &'static str,
    name: &'static str,
    kind: DeptKind,
    /// Share of the workforce.
    weight: u32,
    roles: &'static [(Role, u32)],
}

const WARD_ROLES: &[(Role, u32)] = &[(Role::Physician, 20), (Role::Nurse, 70), (Role::Clerk, 10)];
const ED_ROLES: &[(Role, u32)] = &[(Role::Physician, 25), (Role::Nurse, 65), (Role::Clerk, 10)];
const CLINIC_ROLES: &[(Role, u32)] = &[(Role::Physician, 35), (Role::Nurse, 40), (Role::Clerk, 25)];

const DEPARTMENTS: &[DeptSpec] = &[
    DeptSpec {
        code: "MED",
        name: "Internal Medicine",
        kind: DeptKind::Inpatient,
        weight: 14,
        roles: WARD_ROLES,
    },
    DeptSpec {
        code: "SURG",
        name: "General Surgery",
        kind: DeptKind::Inpatient,
        weight: 10,
        roles: WARD_ROLES,
    },
    DeptSpec {
        code: "ICU",
        name: "Intensive Care Unit",
        kind: DeptKind::Inpatient,
        weight: 8,
        roles: WARD_ROLES,
    },
    DeptSpec {
        code: "CARD",
        name: "Cardiology",
        kind: DeptKind::Inpatient,
        weight: 7,
        roles: WARD_ROLES,
    },
    DeptSpec {
        code: "OBS",
        name: "Maternity",
        kind: DeptKind::Inpatient,
        weight: 5,
        roles: WARD_ROLES,
    },
    DeptSpec {
        code: "PEDS",
        name: "Pediatrics",
        kind: DeptKind::Inpatient,
        weight: 5,
        roles: WARD_ROLES,
    },
    DeptSpec {
        code: "ONC",
        name: "Oncology",
        kind: DeptKind::Inpatient,
        weight: 6,
        roles: WARD_ROLES,
    },
    DeptSpec {
        code: "ED",
        name: "Emergency Department",
        kind: DeptKind::Emergency,
        weight: 10,
        roles: ED_ROLES,
    },
    DeptSpec {
        code: "PCC",
        name: "Primary Care Clinic",
        kind: DeptKind::Clinic,
        weight: 5,
        roles: CLINIC_ROLES,
    },
    DeptSpec {
        code: "ORTHO",
        name: "Orthopedics Clinic",
        kind: DeptKind::Clinic,
        weight: 3,
        roles: CLINIC_ROLES,
    },
    DeptSpec {
        code: "DERM",
        name: "Dermatology Clinic",
        kind: DeptKind::Clinic,
        weight: 2,
        roles: CLINIC_ROLES,
    },
    DeptSpec {
        code: "LAB",
        name: "Laboratory",
        kind: DeptKind::Ancillary,
        weight: 6,
        roles: &[(Role::Lab, 1)],
    },
    DeptSpec {
        code: "RAD",
        name: "Radiology",
        kind: DeptKind::Ancillary,
        weight: 5,
        roles: &[(Role::Radiology, 1)],
    },
    DeptSpec {
        code: "PHARM",
        name: "Pharmacy",
        kind: DeptKind::Ancillary,
        weight: 4,
        roles: &[(Role::Pharmacist, 1)],
    },
    DeptSpec {
        code: "HIM",
        name: "Health Information Management",
        kind: DeptKind::Office,
        weight: 3,
        roles: &[(Role::Him, 1)],
    },
    DeptSpec {
        code: "REG",
        name: "Patient Registration",
        kind: DeptKind::Office,
        weight: 4,
        roles: &[(Role::Clerk, 1)],
    },
    DeptSpec {
        code: "BILL",
        name: "Patient Financial Services",
        kind: DeptKind::Office,
        weight: 3,
        roles: &[(Role::Clerk, 1)],
    },
    DeptSpec {
        code: "IT",
        name: "Information Technology",
        kind: DeptKind::Office,
        weight: 3,
        roles: &[(Role::It, 1)],
    },
];

/// The smallest workforce that still staffs every department with two people.
pub const MIN_STAFF: u32 = 40;
/// The smallest patient population that leaves room for every kind of planted incident.
pub const MIN_PATIENTS: u32 = 500;

pub struct Dept {
    pub code: &'static str,
    pub name: &'static str,
    pub kind: DeptKind,
    pub beds: u32,
    /// Staff indices, in roster order.
    pub staff: Vec<u32>,
    /// Shared workstations (asset indices); office departments use personal ones instead.
    pub workstations: Vec<u32>,
}

impl Dept {
    /// The FHIR Organization id.
    pub fn org_id(&self) -> String {
        format!("dept-{}", self.code.to_ascii_lowercase())
    }
}

/// Working hours: start minute after midnight and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shift {
    Day,
    Evening,
    Night,
    LongDay,
    LongNight,
    /// Weekdays 08:00–17:00.
    Office,
}

impl Shift {
    pub fn start_minute(self) -> i64 {
        match self {
            Shift::Day | Shift::LongDay => 7 * 60,
            Shift::Evening => 15 * 60,
            Shift::Night => 23 * 60,
            Shift::LongNight => 19 * 60,
            Shift::Office => 8 * 60,
        }
    }

    pub fn minutes(self) -> i64 {
        match self {
            Shift::LongDay | Shift::LongNight => 12 * 60,
            Shift::Office => 9 * 60,
            _ => 8 * 60,
        }
    }

    pub fn weekdays_only(self) -> bool {
        self == Shift::Office
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Employment {
    Active,
    OnLeave,
    /// Terminated at this day (days since the Unix epoch), before the simulated window.
    Terminated(i64),
}

pub struct Staff {
    pub given: &'static str,
    pub family: &'static str,
    pub female: bool,
    /// Days since the Unix epoch.
    pub birth: i64,
    pub hired: i64,
    pub household: u32,
    pub dept: u16,
    pub role: Role,
    pub shift: Shift,
    pub employment: Employment,
    /// The staff member's own patient record, when they are also a patient (EMP label).
    pub patient: Option<u32>,
    /// Office staff sit at their own workstation.
    pub personal_ws: Option<u32>,
}

/// Bits of [`Patient::labels`].
pub mod label {
    pub const RESTRICTED: u8 = 1;
    pub const VERY_RESTRICTED: u8 = 2;
    pub const CELEBRITY: u8 = 4;
    pub const EMPLOYEE: u8 = 8;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kin {
    Spouse,
    Parent,
    Sibling,
    Friend,
}

impl Kin {
    /// v3-RoleCode.
    pub fn code(self) -> (&'static str, &'static str) {
        match self {
            Kin::Spouse => ("SPS", "spouse"),
            Kin::Parent => ("PRN", "parent"),
            Kin::Sibling => ("SIB", "sibling"),
            Kin::Friend => ("FRND", "unrelated friend"),
        }
    }
}

pub struct Contact {
    pub given: &'static str,
    pub family: &'static str,
    pub kin: Kin,
}

pub struct Patient {
    pub given: &'static str,
    pub family: &'static str,
    pub female: bool,
    pub birth: i64,
    pub household: u32,
    /// The staff member this patient is, if any.
    pub staff: Option<u32>,
    /// Milliseconds since the epoch.
    pub deceased: Option<i64>,
    pub labels: u8,
    pub contact: Option<Contact>,
}

pub struct Household {
    pub street: u32,
    pub number: u16,
}

pub struct Street {
    pub name: &'static str,
    pub suffix: &'static str,
    pub city: &'static str,
    pub state: &'static str,
    pub postal: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Clinical,
    EhrServers,
    MedicalDevices,
    GuestWifi,
    Admin,
    Dmz,
    VendorVpn,
}

impl Zone {
    pub const ALL: [Zone; 7] = [
        Zone::Clinical,
        Zone::EhrServers,
        Zone::MedicalDevices,
        Zone::GuestWifi,
        Zone::Admin,
        Zone::Dmz,
        Zone::VendorVpn,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Zone::Clinical => "clinical",
            Zone::EhrServers => "ehr-servers",
            Zone::MedicalDevices => "medical-devices",
            Zone::GuestWifi => "guest-wifi",
            Zone::Admin => "admin",
            Zone::Dmz => "dmz",
            Zone::VendorVpn => "vendor-vpn",
        }
    }

    pub fn cidr(self) -> &'static str {
        match self {
            Zone::Clinical => "10.10.0.0/16",
            Zone::EhrServers => "10.20.0.0/24",
            Zone::MedicalDevices => "10.30.0.0/16",
            Zone::GuestWifi => "172.16.0.0/16",
            Zone::Admin => "10.40.0.0/16",
            Zone::Dmz => "192.168.100.0/24",
            Zone::VendorVpn => "10.99.0.0/24",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Zone::Clinical => {
                "shared clinical workstations on the wards, clinics and ancillary departments"
            }
            Zone::EhrServers => "EHR application and database servers, HL7 interface engine, PACS",
            Zone::MedicalDevices => {
                "infusion pumps, patient monitors, imaging modalities, lab analysers"
            }
            Zone::GuestWifi => "patients' and visitors' devices",
            Zone::Admin => "personal workstations of registration, HIM, billing and IT",
            Zone::Dmz => "patient portal and mail relay, reachable from the internet",
            Zone::VendorVpn => "remote access for device and software vendors",
        }
    }
}

pub struct Asset {
    pub hostname: String,
    pub ip: String,
    /// workstation, server, medical-device.
    pub kind: &'static str,
    /// What it is: shared-workstation, ehr-application, infusion-pump …
    pub model: &'static str,
    pub zone: Zone,
    pub dept: Option<u16>,
    pub shared: bool,
}

pub const HOSPITAL_ID: &str = "org-wgh";
pub const HOSPITAL_NAME: &str = "Ward General Hospital";
pub const DOMAIN: &str = "wgh.example.org";
/// The EHR application server every audit event names as observer and destination.
pub const EHR_HOST: &str = "ehr-app01.wgh.example.org";
pub const EHR_IP: &str = "10.20.0.10";
/// Identifier system of login names, in Practitioner.identifier and AuditEvent agents.
pub const LOGIN_SYSTEM: &str = "urn:oid:2.16.840.1.113883.19.5";
pub const MRN_SYSTEM: &str = "urn:oid:2.16.840.1.113883.19.5.2";

pub struct Org {
    pub seed: u64,
    /// Midnight UTC of the first simulated day, milliseconds.
    pub start: i64,
    /// Days since the epoch of `start`.
    pub start_day: i64,
    pub depts: Vec<Dept>,
    pub staff: Vec<Staff>,
    pub patients: Vec<Patient>,
    pub households: Vec<Household>,
    pub streets: Vec<Street>,
    pub assets: Vec<Asset>,
}

/// One staff member's working session on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duty {
    pub start: i64,
    pub end: i64,
    pub ws: u32,
}

impl Org {
    pub fn generate(seed: u64, start: i64, staff: u32, patients: u32) -> Org {
        let staff = staff.max(MIN_STAFF);
        let patients = patients.max(MIN_PATIENTS);
        let start_day = start.div_euclid(DAY);
        let mut rng = Rng::stream(seed, &[0x0126]);
        let streets = streets(&mut rng, (staff + patients) / 2);
        let mut org = Org {
            seed,
            start,
            start_day,
            depts: Vec::new(),
            staff: Vec::with_capacity(staff as usize),
            patients: Vec::with_capacity(patients as usize),
            households: Vec::new(),
            streets,
            assets: Vec::new(),
        };
        org.build_departments(staff);
        org.build_servers_and_devices();
        org.build_staff(&mut rng, staff, patients);
        org.build_patients(&mut rng, patients);
        org
    }

    fn build_departments(&mut self, staff: u32) {
        let total: u32 = DEPARTMENTS.iter().map(|d| d.weight).sum();
        let quotas: Vec<u32> = DEPARTMENTS
            .iter()
            .map(|d| (staff * d.weight / total).max(2))
            .collect();
        for spec in DEPARTMENTS {
            self.depts.push(Dept {
                code: spec.code,
                name: spec.name,
                kind: spec.kind,
                beds: 0,
                staff: Vec::new(),
                workstations: Vec::new(),
            });
        }
        // Quotas are floored; the rest of the workforce joins the largest ward.
        let assigned: u32 = quotas.iter().sum();
        let mut quotas = quotas;
        quotas[0] += staff.saturating_sub(assigned);
        for (d, &q) in quotas.iter().enumerate() {
            let dept = &mut self.depts[d];
            dept.beds = match dept.kind {
                DeptKind::Inpatient => (q * 3 / 5).max(2),
                _ => 0,
            };
            // Staff indices are assigned in department order, so the roster groups by department.
            dept.staff.reserve(q as usize);
        }
        let mut next = 0u32;
        for (d, &q) in quotas.iter().enumerate() {
            for _ in 0..q {
                if next < staff {
                    self.depts[d].staff.push(next);
                    next += 1;
                }
            }
        }
        for d in 0..self.depts.len() {
            let kind = self.depts[d].kind;
            if kind == DeptKind::Office {
                continue;
            }
            let count = (self.depts[d].staff.len() / 6).clamp(2, 240);
            for k in 0..count {
                let code = self.depts[d].code.to_ascii_lowercase();
                let id = self.push_asset(Asset {
                    hostname: format!("ws-{code}-{:02}.{DOMAIN}", k + 1),
                    ip: format!("10.10.{}.{}", d + 1, 10 + k),
                    kind: "workstation",
                    model: "shared-clinical-workstation",
                    zone: Zone::Clinical,
                    dept: Some(d as u16),
                    shared: true,
                });
                self.depts[d].workstations.push(id);
            }
        }
    }

    fn push_asset(&mut self, asset: Asset) -> u32 {
        self.assets.push(asset);
        (self.assets.len() - 1) as u32
    }

    fn build_servers_and_devices(&mut self) {
        let servers: [(&str, &str, &str, Zone); 9] = [
            ("ehr-app01", EHR_IP, "ehr-application", Zone::EhrServers),
            (
                "ehr-app02",
                "10.20.0.11",
                "ehr-application",
                Zone::EhrServers,
            ),
            ("ehr-db01", "10.20.0.20", "ehr-database", Zone::EhrServers),
            (
                "hl7-engine01",
                "10.20.0.30",
                "hl7-interface-engine",
                Zone::EhrServers,
            ),
            ("pacs01", "10.20.0.40", "pacs", Zone::EhrServers),
            ("sso01", "10.20.0.50", "identity-provider", Zone::EhrServers),
            ("portal01", "192.168.100.10", "patient-portal", Zone::Dmz),
            ("mail-relay01", "192.168.100.25", "mail-relay", Zone::Dmz),
            ("vpn-gw01", "10.99.0.1", "vpn-gateway", Zone::VendorVpn),
        ];
        for (host, ip, model, zone) in servers {
            self.push_asset(Asset {
                hostname: format!("{host}.{DOMAIN}"),
                ip: ip.to_string(),
                kind: "server",
                model,
                zone,
                dept: None,
                shared: true,
            });
        }
        for d in 0..self.depts.len() {
            let (kind, beds, code) = (self.depts[d].kind, self.depts[d].beds, self.depts[d].code);
            let devices: Vec<(&'static str, u32)> = match (kind, code) {
                (DeptKind::Inpatient, _) => vec![
                    ("infusion-pump", beds),
                    ("patient-monitor", beds.div_ceil(2)),
                ],
                (DeptKind::Emergency, _) => vec![("infusion-pump", 6), ("patient-monitor", 8)],
                (_, "RAD") => vec![
                    ("ct-scanner", 1),
                    ("mr-scanner", 1),
                    ("x-ray", 3),
                    ("ultrasound", 2),
                ],
                (_, "LAB") => vec![("lab-analyser", 4)],
                _ => Vec::new(),
            };
            let mut n = 0u32;
            for (model, count) in devices {
                for k in 0..count.min(200) {
                    n += 1;
                    let lower = code.to_ascii_lowercase();
                    self.push_asset(Asset {
                        hostname: format!("{model}-{lower}-{:03}.{DOMAIN}", k + 1),
                        ip: format!("10.30.{}.{}", d as u32 + 1 + 20 * (n / 250), 2 + n % 250),
                        kind: "medical-device",
                        model,
                        zone: Zone::MedicalDevices,
                        dept: Some(d as u16),
                        shared: true,
                    });
                }
            }
        }
    }

    fn build_staff(&mut self, rng: &mut Rng, staff: u32, patients: u32) {
        let start_day = self.start_day;
        let mut dept_of = vec![0u16; staff as usize];
        for (d, dept) in self.depts.iter().enumerate() {
            for &s in &dept.staff {
                dept_of[s as usize] = d as u16;
            }
        }
        // Roughly half the workforce's households hold family who are patients, and one in
        // four staff members is a patient here too: the raw material of family and co-worker
        // snooping, and of legitimate care given to colleagues.
        let family_budget = patients / 4;
        for s in 0..staff {
            let d = dept_of[s as usize];
            let dept_index = self.depts[d as usize]
                .staff
                .iter()
                .position(|&x| x == s)
                .unwrap_or(0);
            let kind = self.depts[d as usize].kind;
            let roles = DEPARTMENTS[d as usize].roles;
            // The first two members of a ward are a physician and a nurse, so small hospitals
            // still staff every role.
            let role = match (kind, dept_index) {
                (DeptKind::Inpatient | DeptKind::Emergency | DeptKind::Clinic, 0) => {
                    Role::Physician
                }
                (DeptKind::Inpatient | DeptKind::Emergency | DeptKind::Clinic, 1) => Role::Nurse,
                (DeptKind::Inpatient | DeptKind::Emergency | DeptKind::Clinic, 2) => Role::Clerk,
                _ => {
                    let weights: Vec<u32> = roles.iter().map(|r| r.1).collect();
                    roles[rng.weighted(&weights)].0
                }
            };
            let shift = match (kind, role) {
                (DeptKind::Clinic, _) | (DeptKind::Office, Role::Him | Role::It) => Shift::Office,
                (DeptKind::Office, _) if self.depts[d as usize].code == "BILL" => Shift::Office,
                (DeptKind::Office, _) => {
                    [Shift::Day, Shift::Day, Shift::Evening][rng.below(3) as usize]
                }
                (_, Role::Physician) => {
                    if rng.chance(0.2) {
                        Shift::LongNight
                    } else {
                        Shift::LongDay
                    }
                }
                _ => [
                    Shift::Day,
                    Shift::Day,
                    Shift::Day,
                    Shift::Evening,
                    Shift::Evening,
                    Shift::Night,
                    Shift::Night,
                ][rng.below(7) as usize],
            };
            let female = rng.chance(if role == Role::Nurse { 0.85 } else { 0.5 });
            let given = given_name(rng, female);
            let family = *rng.pick(names::FAMILY);
            let birth = start_day - rng.range(22 * 365, 65 * 365);
            let hired = start_day - rng.range(60, 25 * 365).min(start_day - birth - 20 * 365);
            // One in 25 has left (accounts not always disabled) and one in 50 is on leave: by
            // index rather than by chance, so even a small roster has both.
            let employment = match s % 50 {
                7 | 32 => Employment::Terminated(start_day - rng.range(3, 120)),
                19 => Employment::OnLeave,
                _ => Employment::Active,
            };
            let hired = match employment {
                Employment::Terminated(at) => hired.min(at - 30),
                _ => hired,
            };
            let household = self.new_household(rng);
            let personal_ws = (kind == DeptKind::Office).then(|| {
                let k = self.depts[d as usize]
                    .staff
                    .iter()
                    .position(|&x| x == s)
                    .unwrap_or(0) as u32;
                let code = self.depts[d as usize].code.to_ascii_lowercase();
                self.push_asset(Asset {
                    hostname: format!("pc-{code}-{:03}.{DOMAIN}", k + 1),
                    ip: format!("10.40.{}.{}", (d as u32 + 1) * 4 + k / 250, 2 + k % 250),
                    kind: "workstation",
                    model: "office-workstation",
                    zone: Zone::Admin,
                    dept: Some(d),
                    shared: false,
                })
            });
            self.staff.push(Staff {
                given,
                family,
                female,
                birth,
                hired,
                household,
                dept: d,
                role,
                shift,
                employment,
                patient: None,
                personal_ws,
            });
            if rng.chance(0.25) && (self.patients.len() as u32) < family_budget {
                let p = self.patients.len() as u32;
                self.patients.push(Patient {
                    given,
                    family,
                    female,
                    birth,
                    household,
                    staff: Some(s),
                    deceased: None,
                    labels: label::EMPLOYEE,
                    contact: None,
                });
                self.staff[s as usize].patient = Some(p);
            }
            if rng.chance(0.5) && (self.patients.len() as u32) < family_budget {
                let members = 1 + rng.below(3);
                for m in 0..members {
                    let (kin, birth_of) = if m == 0 && rng.chance(0.7) {
                        (Kin::Spouse, birth + rng.range(-5 * 365, 5 * 365))
                    } else {
                        (
                            Kin::Parent,
                            birth + rng.range(20 * 365, 40 * 365).min(start_day - birth - 365),
                        )
                    };
                    let female = if kin == Kin::Spouse {
                        !female
                    } else {
                        rng.chance(0.5)
                    };
                    // The patient lists the staff member as next of kin: the staff member is
                    // the patient's spouse or parent.
                    self.patients.push(Patient {
                        given: given_name(rng, female),
                        family,
                        female,
                        birth: birth_of.min(start_day - 30),
                        household,
                        staff: None,
                        deceased: None,
                        labels: 0,
                        contact: Some(Contact { given, family, kin }),
                    });
                }
            }
        }
    }

    fn new_household(&mut self, rng: &mut Rng) -> u32 {
        let street = rng.below(self.streets.len() as u64) as u32;
        let number = 1 + rng.below(400) as u16;
        self.households.push(Household { street, number });
        (self.households.len() - 1) as u32
    }

    fn build_patients(&mut self, rng: &mut Rng, patients: u32) {
        let start = self.start;
        let start_day = self.start_day;
        while (self.patients.len() as u32) < patients {
            let household = self.new_household(rng);
            let family = *rng.pick(names::FAMILY);
            let size = [1, 1, 2, 2, 2, 3, 4][rng.below(7) as usize]
                .min(patients - self.patients.len() as u32);
            let first = self.patients.len();
            let base_birth = start_day - rng.range(18 * 365, 90 * 365);
            for m in 0..size {
                let (female, birth) = match m {
                    0 => (rng.chance(0.5), base_birth),
                    1 => (
                        !self.patients[first].female,
                        base_birth + rng.range(-6 * 365, 6 * 365),
                    ),
                    _ => (
                        rng.chance(0.5),
                        (base_birth + rng.range(20 * 365, 40 * 365)).min(start_day - 30),
                    ),
                };
                let contact = if size == 1 {
                    rng.chance(0.5).then(|| Contact {
                        given: {
                            let female = rng.chance(0.5);
                            given_name(rng, female)
                        },
                        family: rng.pick::<&str>(names::FAMILY),
                        kin: Kin::Friend,
                    })
                } else if m == 0 {
                    // Names the spouse, who is generated next: filled in below.
                    Some(Contact {
                        given: "",
                        family,
                        kin: Kin::Spouse,
                    })
                } else {
                    let other = &self.patients[first + m as usize - 1];
                    let kin = match m {
                        1 => Kin::Spouse,
                        2 => Kin::Parent,
                        _ => Kin::Sibling,
                    };
                    Some(Contact {
                        given: other.given,
                        family: other.family,
                        kin,
                    })
                };
                self.patients.push(Patient {
                    given: given_name(rng, female),
                    family,
                    female,
                    birth,
                    household,
                    staff: None,
                    deceased: None,
                    labels: 0,
                    contact,
                });
            }
            if size > 1 {
                let spouse_given = self.patients[first + 1].given;
                if let Some(c) = self.patients[first].contact.as_mut() {
                    c.given = spouse_given;
                }
            }
        }
        // Labels and deaths go to patients who are not staff: a VIP or a long-dead patient who
        // is also on the roster would blur what an incident is about.
        let n = self.patients.len() as u64;
        let vips = (n / 300).max(4);
        let deceased = (n / 50).max(8);
        let sensitive = (n / 100).max(4);
        let mut chosen = 0;
        while chosen < vips {
            let p = &mut self.patients[rng.below(n) as usize];
            if p.staff.is_none() && p.labels == 0 && p.deceased.is_none() {
                p.labels = label::CELEBRITY | label::RESTRICTED;
                chosen += 1;
            }
        }
        chosen = 0;
        while chosen < sensitive {
            let p = &mut self.patients[rng.below(n) as usize];
            if p.staff.is_none() && p.labels == 0 && p.deceased.is_none() {
                p.labels = label::VERY_RESTRICTED;
                chosen += 1;
            }
        }
        chosen = 0;
        while chosen < deceased {
            let p = &mut self.patients[rng.below(n) as usize];
            if p.staff.is_none() && p.labels == 0 && p.deceased.is_none() {
                let died = start - rng.range(30 * DAY, 8 * 365 * DAY);
                p.deceased = Some(died.max(p.birth * DAY + DAY) + rng.range(0, DAY));
                chosen += 1;
            }
        }
    }

    /// The working session of `staff` on simulated day `day` (0-based), if they work that day.
    /// A pure function of seed, staff and day, so sessions and planted incidents agree on
    /// who is at work where without sharing state.
    pub fn duty(&self, staff: u32, day: u32) -> Option<Duty> {
        let s = &self.staff[staff as usize];
        if s.employment != Employment::Active {
            return None;
        }
        let h = mix_all(self.seed, &[0xD07, staff as u64, day as u64]);
        let weekday = (self.start_day + day as i64 + 3).rem_euclid(7); // 0 = Monday
        if s.shift.weekdays_only() {
            if weekday >= 5 || h % 100 >= 93 {
                return None;
            }
        } else if h % 100 >= 62 {
            return None;
        }
        // Arrival varies by a few minutes either way; people leave a little late.
        let jitter = ((h >> 8) % 16) as i64 - 8;
        let start = self.start
            + day as i64 * DAY
            + (s.shift.start_minute() + jitter) * MINUTE
            + ((h >> 16) % 60) as i64 * 1000;
        let end = start + s.shift.minutes() * MINUTE + ((h >> 24) % 20) as i64 * MINUTE;
        let ws = match s.personal_ws {
            Some(ws) => ws,
            None => {
                let pool = &self.depts[s.dept as usize].workstations;
                pool[((h >> 32) % pool.len() as u64) as usize]
            }
        };
        Some(Duty { start, end, ws })
    }

    pub fn login(staff: u32) -> u32 {
        1000 + staff
    }

    pub fn patient_household_street(&self, patient: u32) -> u32 {
        self.households[self.patients[patient as usize].household as usize].street
    }

    pub fn staff_street(&self, staff: u32) -> u32 {
        self.households[self.staff[staff as usize].household as usize].street
    }

    /// Whether `staff` and `patient` share a household (self, or family living together).
    /// Normal behaviour never lets a user touch such a record.
    pub fn same_household(&self, staff: u32, patient: u32) -> bool {
        self.staff[staff as usize].household == self.patients[patient as usize].household
    }

    /// Whether the patient names the staff member as a contact.
    pub fn is_contact_of(&self, staff: u32, patient: u32) -> bool {
        let s = &self.staff[staff as usize];
        self.patients[patient as usize]
            .contact
            .as_ref()
            .is_some_and(|c| c.given == s.given && c.family == s.family)
    }

    /// Whether normal behaviour may let `staff` open `patient`'s record: never their own, a
    /// household member's, or a record naming them as contact.
    pub fn personally_linked(&self, staff: u32, patient: u32) -> bool {
        self.same_household(staff, patient) || self.is_contact_of(staff, patient)
    }

    pub fn dept_of(&self, staff: u32) -> &Dept {
        &self.depts[self.staff[staff as usize].dept as usize]
    }
}

fn given_name(rng: &mut Rng, female: bool) -> &'static str {
    if female {
        rng.pick::<&str>(names::GIVEN_FEMALE)
    } else {
        rng.pick::<&str>(names::GIVEN_MALE)
    }
}

/// About 25 households a street, so every street has neighbours.
fn streets(rng: &mut Rng, households: u32) -> Vec<Street> {
    let combos = names::STREET.len() * names::STREET_SUFFIX.len() * names::CITY.len();
    let count = ((households / 25) as usize).clamp(20, combos);
    let offset = rng.below(combos as u64) as usize;
    (0..count)
        .map(|i| {
            // 7919 is prime and shares no factor with the number of combinations, so the
            // streets are distinct and spread over the cities.
            let j = (offset + i * 7919) % combos;
            let name = names::STREET[j % names::STREET.len()];
            let suffix =
                names::STREET_SUFFIX[(j / names::STREET.len()) % names::STREET_SUFFIX.len()];
            let (city, state, prefix) = names::CITY
                [(j / (names::STREET.len() * names::STREET_SUFFIX.len())) % names::CITY.len()];
            Street {
                name,
                suffix,
                city,
                state,
                postal: format!("{prefix}{:02}", j % 89),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Org {
        Org::generate(3, 1_793_577_600_000, 300, 5_000)
    }

    #[test]
    fn every_department_has_staff_and_every_clinical_one_workstations() {
        let org = small();
        assert_eq!(org.staff.len(), 300);
        assert_eq!(org.patients.len(), 5_000);
        for d in &org.depts {
            assert!(d.staff.len() >= 2, "{}", d.code);
            if d.kind != DeptKind::Office {
                assert!(!d.workstations.is_empty(), "{}", d.code);
            }
        }
    }

    #[test]
    fn employee_patients_share_name_birth_date_and_address_with_their_staff_record() {
        let org = small();
        let mut linked = 0;
        for (i, s) in org.staff.iter().enumerate() {
            if let Some(p) = s.patient {
                let p = &org.patients[p as usize];
                assert_eq!(
                    (p.given, p.family, p.birth, p.household),
                    (s.given, s.family, s.birth, s.household)
                );
                assert_eq!(p.staff, Some(i as u32));
                linked += 1;
            }
        }
        assert!(linked > 30, "{linked}");
    }

    #[test]
    fn duty_is_a_pure_function_of_staff_and_day() {
        let org = small();
        for s in 0..50 {
            assert_eq!(org.duty(s, 1), org.duty(s, 1));
        }
        let working = (0..300).filter(|&s| org.duty(s, 0).is_some()).count();
        assert!((120..250).contains(&working), "{working}");
    }
}
