//! The hand-made hospitals and EHR audit trails of the privacy tests (`privacy`,
//! `privacy_cases`, `privacy_orders`): organisation context as FHIR NDJSON for
//! `ward context import`, and BALP AuditEvents as NDJSON for `ward ingest`, at times counted
//! from [`DAY0`].

use super::Ward;
use serde_json::Value;
use std::fmt::Write as _;

/// An hour, in milliseconds.
pub const H: i64 = 3_600_000;
/// 2026-11-02T00:00:00Z, a Monday.
pub const DAY0: i64 = 1_793_577_600_000;

/// `t` (milliseconds since the epoch) as FHIR writes an instant.
pub fn time(t: i64) -> String {
    chrono::DateTime::from_timestamp_millis(t)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A hospital's context, one FHIR resource a line. Departments are Organizations with id
/// `dept-<code in lower case>`; staff are identified in the EHR's audit trail by their login.
#[derive(Debug, Default)]
pub struct Hospital {
    ndjson: String,
}

impl Hospital {
    pub fn new() -> Self {
        Self::default()
    }

    /// Internal Medicine (MED) with nurses u1 (Ann Lee), u4 (Dot Orr) and u5 (Eve Pak), and
    /// `patients` patients pm0, pm1 … admitted there a day before [`DAY0`] (encounters
    /// `enc-m0` …), whose encounters name no care team member: a nurse's access to them is
    /// explained by her department.
    pub fn internal_medicine(patients: usize) -> Self {
        let mut hospital = Hospital::new().department("MED", "Internal Medicine");
        for (n, (login, given, family)) in [
            ("u1", "Ann", "Lee"),
            ("u4", "Dot", "Orr"),
            ("u5", "Eve", "Pak"),
        ]
        .into_iter()
        .enumerate()
        {
            let born = format!("198{n}-01-01");
            hospital = hospital.staff(login, (given, family), &born, "MED", "nurse");
        }
        for i in 0..patients {
            let line = format!("{i} Near Road");
            hospital = hospital
                .patient(
                    &format!("pm{i}"),
                    &format!("MRNM{i}"),
                    ("Pat", &format!("M{i}")),
                    "1960-01-01",
                    Some((&line, "62701")),
                )
                .admitted(&format!("enc-m{i}"), &format!("pm{i}"), "MED", None);
        }
        hospital
    }

    /// Cardiology (CARD), with no staff and three patients pc1, pc2 and pc3 admitted there a
    /// day before [`DAY0`] (encounters `enc-c1` …): strangers to Internal Medicine.
    pub fn cardiology(mut self) -> Self {
        self = self.department("CARD", "Cardiology");
        for i in 1..=3 {
            let line = format!("{} Hill Road", 2 * i + 1);
            self = self
                .patient(
                    &format!("pc{i}"),
                    &format!("MRNC{i}"),
                    (&format!("Cy{i}"), "Cole"),
                    &format!("1950-01-0{i}"),
                    Some((&line, "62702")),
                )
                .admitted(&format!("enc-c{i}"), &format!("pc{i}"), "CARD", None);
        }
        self
    }

    /// A department: Organization `dept-<code>`.
    pub fn department(self, code: &str, name: &str) -> Self {
        let id = format!("dept-{}", code.to_lowercase());
        self.resource(&format!(
            r#"{{"resourceType":"Organization","id":"{id}","identifier":[{{"value":"{code}"}}],"name":"{name}","active":true}}"#
        ))
    }

    /// A member of staff: Practitioner `login` and PractitionerRole `role-<login>` with
    /// `role` in the department `code`.
    pub fn staff(
        self,
        login: &str,
        (given, family): (&str, &str),
        born: &str,
        code: &str,
        role: &str,
    ) -> Self {
        let dept = format!("dept-{}", code.to_lowercase());
        self.resource(&format!(
            r#"{{"resourceType":"Practitioner","id":"{login}","identifier":[{{"system":"urn:oid:2.16.840.1.113883.19.5","value":"{login}"}}],"active":true,"name":[{{"family":"{family}","given":["{given}"]}}],"birthDate":"{born}"}}"#
        ))
        .resource(&format!(
            r#"{{"resourceType":"PractitionerRole","id":"role-{login}","practitioner":{{"reference":"Practitioner/{login}"}},"organization":{{"reference":"Organization/{dept}"}},"code":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/practitioner-role","code":"{role}"}}]}}],"active":true}}"#
        ))
    }

    /// A patient with medical record number `mrn`, living at `address` (street line, postal
    /// code) in Springfield when given.
    pub fn patient(
        self,
        id: &str,
        mrn: &str,
        (given, family): (&str, &str),
        born: &str,
        address: Option<(&str, &str)>,
    ) -> Self {
        let address = address.map_or(String::new(), |(line, postal)| {
            format!(
                r#","address":[{{"line":["{line}"],"city":"Springfield","postalCode":"{postal}"}}]"#
            )
        });
        self.resource(&format!(
            r#"{{"resourceType":"Patient","id":"{id}","identifier":[{{"type":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}}]}},"value":"{mrn}"}}],"name":[{{"family":"{family}","given":["{given}"]}}],"birthDate":"{born}"{address}}}"#
        ))
    }

    /// An inpatient encounter `id` of `patient` in the department `code`, in progress since
    /// a day before [`DAY0`], with `attending` as its attending physician when given.
    pub fn admitted(self, id: &str, patient: &str, code: &str, attending: Option<&str>) -> Self {
        let dept = format!("dept-{}", code.to_lowercase());
        let participant = attending.map_or(String::new(), |who| {
            format!(
                r#""participant":[{{"type":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"ATND"}}]}}],"individual":{{"reference":"Practitioner/{who}"}}}}],"#
            )
        });
        self.resource(&format!(
            r#"{{"resourceType":"Encounter","id":"{id}","status":"in-progress","class":{{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"IMP"}},"subject":{{"reference":"Patient/{patient}"}},{participant}"period":{{"start":"{}"}},"serviceProvider":{{"reference":"Organization/{dept}"}}}}"#,
            time(DAY0 - 24 * H)
        ))
    }

    /// Any other resource, one JSON object.
    pub fn resource(mut self, json: &str) -> Self {
        self.ndjson.push_str(json);
        self.ndjson.push('\n');
        self
    }

    /// The context as NDJSON.
    pub fn ndjson(&self) -> &str {
        &self.ndjson
    }
}

/// Appends one BALP PatientRead, `ae-<n>` after `n` is counted up, by `user` of `patient` at
/// `t`, from workstation `ws-<user>`.
pub fn read(out: &mut String, n: &mut u32, user: &str, patient: &str, t: i64) {
    *n += 1;
    let _ = writeln!(
        out,
        r#"{{"resourceType":"AuditEvent","id":"ae-{n}","type":{{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest","display":"Restful Operation"}},"subtype":[{{"system":"http://hl7.org/fhir/restful-interaction","code":"read","display":"read"}}],"action":"R","recorded":"{}","outcome":"0","agent":[{{"type":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP"}}]}},"who":{{"identifier":{{"system":"urn:oid:2.16.840.1.113883.19.5","value":"{user}"}}}},"requestor":true,"network":{{"address":"ws-{user}","type":"1"}}}}],"source":{{"observer":{{"display":"ehr.example"}}}},"entity":[{{"what":{{"reference":"Patient/{patient}"}},"type":{{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"1"}},"role":{{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"1","display":"Patient"}}}}]}}"#,
        time(t)
    );
}

/// The stored alerts of the privacy detector (`ward alerts --json`).
pub fn privacy_alerts(ward: &Ward) -> Vec<Value> {
    ward.json_lines(&["alerts", "--json"])
        .into_iter()
        .filter(|a| a["rule_id"].as_str().unwrap_or("").starts_with("privacy."))
        .collect()
}
