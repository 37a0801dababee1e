//! Synthetic FHIR AuditEvents, normalised as the FHIR decoder would, shared by the store's
//! examples (`commit_throughput`, `lookup_latency`).

use ward_model::event::class;
use ward_model::{Event, EventId, Severity, Status, Timestamp};

/// Deterministic synthetic audit traffic: a few hundred staff reading a few thousand patients'
/// records from a few dozen workstations.
pub struct Feed {
    state: u64,
    n: u64,
    /// Milliseconds of event time between consecutive events.
    spacing_ms: i64,
}

impl Feed {
    pub fn with_spacing(seed: u64, spacing_ms: i64) -> Self {
        Feed {
            state: seed,
            n: 0,
            spacing_ms: spacing_ms.max(1),
        }
    }

    /// xorshift64*: enough variety that compression sees realistic input, no dependency.
    fn next(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn pick(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn next_event(&mut self) -> Event {
        self.n += 1;
        let time =
            Timestamp(1_714_550_400_000 + (self.n as i64) * self.spacing_ms + self.pick(5) as i64);
        let user = self.pick(400);
        let patient = self.pick(5_000);
        let host = self.pick(40);
        let resource_types = [
            "Patient",
            "Observation",
            "Encounter",
            "DocumentReference",
            "MedicationRequest",
        ];
        let resource = resource_types[self.pick(resource_types.len() as u64) as usize];
        let resource_id = self.next() % 1_000_000;
        let outcome = if self.pick(50) == 0 { "4" } else { "0" };
        let session = self.next();
        let raw = format!(
            concat!(
                r#"{{"resourceType":"AuditEvent","id":"ae-{n}-{session:016x}","meta":{{"lastUpdated":"{time}","#,
                r#""versionId":"1"}},"#,
                r#""type":{{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest","display":"RESTful Operation"}},"#,
                r#""subtype":[{{"system":"http://hl7.org/fhir/restful-interaction","code":"read","display":"read"}}],"#,
                r#""action":"R","recorded":"{time}","outcome":"{outcome}","#,
                r#""purposeOfEvent":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"TREAT"}}]}}],"#,
                r#""agent":[{{"type":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP"}}]}},"#,
                r#""who":{{"reference":"Practitioner/pr-{user}","identifier":{{"system":"urn:oid:2.16.840.1.113883.4.6","value":"user{user}"}}}},"#,
                r#""requestor":true,"network":{{"address":"10.20.{host}.{user_octet}","type":"2"}}}},"#,
                r#"{{"who":{{"display":"ehr-app-{host}.hospital.example"}},"requestor":false}}],"#,
                r#""source":{{"site":"Main Campus","observer":{{"display":"ehr-fhir-1.hospital.example"}}}},"#,
                r#""entity":[{{"what":{{"reference":"Patient/pt-{patient}"}},"#,
                r#""type":{{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"1","display":"Person"}},"#,
                r#""role":{{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"1","display":"Patient"}}}},"#,
                r#"{{"what":{{"reference":"{resource}/{resource_id}"}},"#,
                r#""type":{{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"2","display":"System Object"}},"#,
                r#""role":{{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"4","display":"Domain Resource"}},"#,
                r#""detail":[{{"type":"session","valueString":"{session:x}"}}]}}]}}"#
            ),
            n = self.n,
            session = session,
            time = time.to_rfc3339(),
            outcome = outcome,
            user = user,
            user_octet = user % 250,
            host = host,
            patient = patient,
            resource = resource,
            resource_id = resource_id,
        )
        .into_bytes();
        let mut e = Event {
            id: EventId::of_record("fhir", time, &raw),
            time,
            class_uid: class::API_ACTIVITY,
            activity_id: 2,
            activity_name: Some("read".into()),
            severity: Severity::Informational,
            status: if outcome == "0" {
                Status::Success
            } else {
                Status::Failure
            },
            raw,
            ..Default::default()
        };
        e.metadata.product = "fhir".into();
        e.metadata.log_name = "synthetic-audit.ndjson".into();
        e.metadata.uid = Some(format!("ae-{}-{session:016x}", self.n));
        e.metadata.event_code = Some("read".into());
        e.actor.user.name = Some(format!("user{user}"));
        e.actor.user.uid = Some(format!("Practitioner/pr-{user}"));
        e.src_endpoint.ip = Some(format!("10.20.{host}.{}", user % 250));
        e.device.hostname = Some(format!("ehr-app-{host}.hospital.example"));
        e.patient.id = Some(format!("pt-{patient}"));
        e.resource.r#type = Some(resource.into());
        e.resource.id = Some(resource_id.to_string());
        e.purpose_of_use = vec!["TREAT".into()];
        e.unmapped.insert("source.site", "Main Campus".into());
        e.unmapped.insert(
            "entity.detail",
            serde_json::json!({ "session": format!("{session:x}") }),
        );
        e
    }
}
