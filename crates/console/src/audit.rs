//! Ward's own audit trail: every sign-in (success or failure), sign-out, view of PHI (which
//! user saw which patient's data, where) and change (alerts, users, tokens, settings) becomes
//! an [`Event`] with product `ward`, committed with `Store::commit` like any other event, so
//! it is chained, verified and searched like them, and Ward's detectors can watch Ward.
//!
//! OCSF classes: Authentication 3002 (sign-in, sign-out), API Activity 6003 (PHI views, alert
//! changes: the console is a web API over Ward's data), Account Change 3001 (users, MFA, API
//! tokens). The export to FHIR follows the IHE Basic Audit Log Patterns (BALP): DICOM
//! `110114 User Authentication` with `110122 Login`/`110123 Logout` subtypes, and FHIR `rest`
//! with the interaction for reads and changes, the patient as entity with role `1` (patient).
//!
//! A PHI view is recorded before the page or answer that shows it is sent; if the record
//! cannot be committed, the PHI is not shown.

use crate::{ConsoleError, ConsoleState};
use serde_json::{Value, json};
use ward_model::event::{api_activity, auth_activity, class};
use ward_model::{Event, Status, Timestamp};
use ward_store::{AUDIT_PRODUCT, Batch};

/// The source name the console's audit events carry (`metadata.log_name`).
pub const AUDIT_SOURCE: &str = "ward-console";

/// Where Ward recorded an audit event: the console (and its API) or the `ward` command line
/// (privacy reports and cases). The event is the same; only the source names differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditSource {
    Console,
    CommandLine,
}

impl AuditSource {
    /// `metadata.log_name` and `resource.type` of the event.
    pub fn name(self) -> &'static str {
        match self {
            AuditSource::Console => AUDIT_SOURCE,
            AuditSource::CommandLine => "ward-cli",
        }
    }

    fn app_name(self) -> &'static str {
        match self {
            AuditSource::Console => "Ward console",
            AuditSource::CommandLine => "ward command line",
        }
    }
}

/// OCSF Account Change activity ids used here.
pub mod account_activity {
    pub const CREATE: u8 = 1;
    pub const ENABLE: u8 = 2;
    pub const PASSWORD_CHANGE: u8 = 3;
    pub const MFA_ENABLE: u8 = 10;
    pub const MFA_DISABLE: u8 = 11;
    pub const ATTACH_POLICY: u8 = 7;
    pub const OTHER: u8 = 99;
}

/// What happened, before it becomes an event. The one writer of Ward's own audit events:
/// the console and the command line build these and store [`AuditRecord::to_event`].
#[derive(Debug, Clone)]
pub struct AuditRecord {
    pub(crate) class_uid: u32,
    pub(crate) activity_id: u8,
    pub(crate) activity_name: &'static str,
    pub(crate) status: Status,
    /// The Ward user (or `token:ID`) who acted; for a failed sign-in, the name tried.
    pub(crate) user: String,
    pub(crate) ip: Option<String>,
    /// The page or API route, e.g. `GET /alerts/{id}`.
    pub(crate) place: String,
    /// What was acted on (an alert id, a user name, a token id), not PHI.
    pub(crate) target: Option<String>,
    /// The patient whose data was shown.
    pub(crate) patient: Option<String>,
    /// A short, PHI-free description (a failure reason, a new role).
    pub(crate) detail: Option<String>,
}

impl AuditRecord {
    pub(crate) fn sign_in(user: &str, ip: Option<String>, ok: bool, detail: &str) -> Self {
        AuditRecord {
            class_uid: class::AUTHENTICATION,
            activity_id: auth_activity::LOGON,
            activity_name: "Logon",
            status: if ok { Status::Success } else { Status::Failure },
            user: user.to_string(),
            ip,
            place: "POST /login".into(),
            target: None,
            patient: None,
            detail: Some(detail.to_string()),
        }
    }

    pub(crate) fn sign_out(user: &str, ip: Option<String>) -> Self {
        AuditRecord {
            activity_id: auth_activity::LOGOFF,
            activity_name: "Logoff",
            status: Status::Success,
            place: "POST /logout".into(),
            detail: None,
            ..AuditRecord::sign_in(user, ip, true, "")
        }
    }

    pub(crate) fn phi_view(user: &str, ip: Option<String>, place: &str, patient: &str) -> Self {
        AuditRecord::read(user, ip, place, None, Some(patient), "patient data shown")
    }

    /// A read of Ward's data at `place`: of `patient`'s data when there is one (a PHI view),
    /// within `target` (a case's alert id) when there is one. A read that showed no patient
    /// (a report that found nothing) is still a run on record.
    pub fn read(
        user: &str,
        ip: Option<String>,
        place: &str,
        target: Option<&str>,
        patient: Option<&str>,
        detail: &str,
    ) -> Self {
        AuditRecord {
            class_uid: class::API_ACTIVITY,
            activity_id: api_activity::READ,
            activity_name: "Read",
            status: Status::Success,
            user: user.to_string(),
            ip,
            place: place.to_string(),
            target: target.map(str::to_string),
            patient: patient.map(str::to_string),
            detail: Some(detail.to_string()),
        }
    }

    pub fn alert_change(
        user: &str,
        ip: Option<String>,
        place: &str,
        alert: &str,
        detail: String,
    ) -> Self {
        AuditRecord {
            class_uid: class::API_ACTIVITY,
            activity_id: api_activity::UPDATE,
            activity_name: "Update",
            status: Status::Success,
            user: user.to_string(),
            ip,
            place: place.to_string(),
            target: Some(alert.to_string()),
            patient: None,
            detail: Some(detail),
        }
    }

    pub(crate) fn account_change(
        user: &str,
        ip: Option<String>,
        place: &str,
        activity: (u8, &'static str),
        target: &str,
        detail: String,
    ) -> Self {
        AuditRecord {
            class_uid: class::ACCOUNT_CHANGE,
            activity_id: activity.0,
            activity_name: activity.1,
            status: Status::Success,
            user: user.to_string(),
            ip,
            place: place.to_string(),
            target: Some(target.to_string()),
            patient: None,
            detail: Some(detail),
        }
    }

    /// The event stored for this record at `now`, recorded by `source`. The raw record is the
    /// event's own canonical JSON with a random nonce, so two identical actions in the same
    /// millisecond are two events, not one event and a duplicate.
    pub fn to_event(&self, source: AuditSource, now: Timestamp) -> Event {
        let raw = json!({
            "ward_audit": 1,
            "time": now,
            "class_uid": self.class_uid,
            "activity_id": self.activity_id,
            "status": self.status.as_str(),
            "user": self.user,
            "ip": self.ip,
            "place": self.place,
            "target": self.target,
            "patient": self.patient,
            "detail": self.detail,
            "nonce": crate::auth::hex(&crate::auth::random_bytes::<8>()),
        });
        let raw = serde_json::to_vec(&raw).unwrap_or_default();
        let mut event = Event::from_record(AUDIT_PRODUCT, now, raw);
        event.class_uid = self.class_uid;
        event.activity_id = self.activity_id;
        event.activity_name = Some(self.activity_name.to_string());
        event.status = self.status;
        event.status_detail = self.detail.clone();
        event.metadata.log_name = source.name().into();
        event.actor.user.name = Some(self.user.clone());
        event.actor.app_name = Some(source.app_name().into());
        event.src_endpoint.ip = self.ip.clone();
        event.patient.id = self.patient.clone();
        event.resource.r#type = Some(source.name().into());
        event.resource.id = Some(self.place.clone());
        if let Some(target) = &self.target {
            event
                .unmapped
                .insert("target", Value::String(target.clone()));
        }
        event
    }
}

/// Commits audit records as one batch. Called before the response that they describe.
pub(crate) async fn record(
    state: &ConsoleState,
    records: Vec<AuditRecord>,
) -> Result<(), ConsoleError> {
    if records.is_empty() {
        return Ok(());
    }
    let now = state.now();
    let events = records
        .iter()
        .map(|r| r.to_event(AuditSource::Console, now))
        .collect();
    let hook = state.options().on_audit.clone();
    state
        .blocking(move |store| {
            let batch = Batch {
                events,
                ..Default::default()
            };
            let receipt = store.commit(&batch)?;
            if let Some(hook) = hook {
                hook(store, &batch, &receipt);
            }
            Ok(())
        })
        .await
}

/// Ward's audit events as a FHIR R4 Bundle of AuditEvents shaped after IHE BALP.
pub fn to_fhir_bundle(events: &[Event]) -> Value {
    let entries: Vec<Value> = events
        .iter()
        .map(|e| json!({"fullUrl": format!("urn:uuid:{}", uuid_of(e)), "resource": to_fhir(e)}))
        .collect();
    json!({
        "resourceType": "Bundle",
        "type": "collection",
        "total": entries.len(),
        "entry": entries,
    })
}

/// A UUID-shaped rendering of the event id (the id is 16 bytes already).
fn uuid_of(event: &Event) -> String {
    let h = event.id.to_hex();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

const DCM: &str = "http://dicom.nema.org/resources/ontology/DCM";
const REST: &str = "http://hl7.org/fhir/restful-interaction";

/// One audit event as a FHIR R4 AuditEvent.
pub fn to_fhir(event: &Event) -> Value {
    let (type_coding, subtype, action) = match (event.class_uid, event.activity_id) {
        (class::AUTHENTICATION, auth_activity::LOGOFF) => (
            json!({"system": DCM, "code": "110114", "display": "User Authentication"}),
            json!({"system": DCM, "code": "110123", "display": "Logout"}),
            "E",
        ),
        (class::AUTHENTICATION, _) => (
            json!({"system": DCM, "code": "110114", "display": "User Authentication"}),
            json!({"system": DCM, "code": "110122", "display": "Login"}),
            "E",
        ),
        (_, api_activity::READ) => (
            json!({"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest", "display": "RESTful Operation"}),
            json!({"system": REST, "code": "read"}),
            "R",
        ),
        (_, api_activity::CREATE) => (
            json!({"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest", "display": "RESTful Operation"}),
            json!({"system": REST, "code": "create"}),
            "C",
        ),
        _ => (
            json!({"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest", "display": "RESTful Operation"}),
            json!({"system": REST, "code": "update"}),
            "U",
        ),
    };
    let outcome = if event.status == Status::Failure {
        "4"
    } else {
        "0"
    };
    let user = event.actor.user.name.clone().unwrap_or_default();
    let mut agent = json!({
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP", "display": "information recipient"}]},
        "who": {"identifier": {"system": "urn:ward:user", "value": user}, "display": user},
        "requestor": true,
    });
    if let Some(ip) = &event.src_endpoint.ip {
        agent["network"] = json!({"address": ip, "type": "2"});
    }
    let mut entities = Vec::new();
    if let Some(patient) = &event.patient.id {
        entities.push(json!({
            "what": {"reference": format!("Patient/{patient}")},
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1", "display": "Person"},
            "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1", "display": "Patient"},
        }));
    }
    if let Some(place) = &event.resource.id {
        entities.push(json!({
            "what": {"display": place},
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2", "display": "System Object"},
        }));
    }
    if let Some(Value::String(target)) = event.unmapped.get("target") {
        entities.push(json!({
            "what": {"identifier": {"system": "urn:ward:object", "value": target}},
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2", "display": "System Object"},
        }));
    }
    let mut resource = json!({
        "resourceType": "AuditEvent",
        "id": event.id.to_hex(),
        "type": type_coding,
        "subtype": [subtype],
        "action": action,
        "recorded": event.time,
        "outcome": outcome,
        "agent": [agent],
        "source": {
            "observer": {"display": "Ward"},
            "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4", "display": "Application Server"}],
        },
    });
    if let Some(detail) = &event.status_detail {
        resource["outcomeDesc"] = Value::String(detail.clone());
    }
    if !entities.is_empty() {
        resource["entity"] = Value::Array(entities);
    }
    resource
}
