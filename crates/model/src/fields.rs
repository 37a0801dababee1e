//! The one list of field paths that rules, queries and the console may name, with what each
//! means. `docs/fields.md` is generated from [`FIELDS`] (`ward fields --markdown`) and a test
//! keeps the two equal, so the documentation cannot drift from the code.

use crate::event::Event;
use std::borrow::Cow;

/// A documented field path.
#[derive(Debug, Clone, Copy)]
pub struct FieldDef {
    pub path: &'static str,
    pub kind: &'static str,
    pub phi: bool,
    pub meaning: &'static str,
}

/// The value of a field on one event.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue<'a> {
    Text(Cow<'a, str>),
    Int(i64),
    List(Vec<&'a str>),
}

impl FieldValue<'_> {
    /// The value as text, as Sigma compares it.
    pub fn to_text(&self) -> Cow<'_, str> {
        match self {
            FieldValue::Text(t) => Cow::Borrowed(t.as_ref()),
            FieldValue::Int(i) => Cow::Owned(i.to_string()),
            FieldValue::List(items) => Cow::Owned(items.join(",")),
        }
    }
}

macro_rules! fields {
    ($( $path:literal, $kind:literal, $phi:literal, $meaning:literal; )*) => {
        pub const FIELDS: &[FieldDef] = &[ $( FieldDef { path: $path, kind: $kind, phi: $phi, meaning: $meaning }, )* ];
    };
}

fields! {
    "time", "timestamp", false, "When the activity happened (RFC 3339, UTC), as the source recorded it.";
    "class_uid", "integer", false, "OCSF class: 3002 Authentication, 4001 Network Activity, 4009 Email Activity, 6003 API Activity (FHIR REST audit) …";
    "class_name", "string", false, "OCSF class name for `class_uid`.";
    "category_uid", "integer", false, "OCSF category (`class_uid / 1000`).";
    "activity_id", "integer", false, "OCSF activity within the class (API Activity: 1 create, 2 read, 3 update, 4 delete, 99 other; Authentication: 1 logon, 2 logoff).";
    "activity_name", "string", false, "The activity as the source names it (`read`, `search-type`, `Login`, `Emergency Override Started`).";
    "type_uid", "integer", false, "OCSF `class_uid * 100 + activity_id`.";
    "severity", "string", false, "OCSF severity: unknown, informational, low, medium, high, critical, fatal, other.";
    "status", "string", false, "Outcome: success, failure, unknown, other.";
    "status_detail", "string", false, "The source's own outcome description or code.";
    "message", "string", false, "Free-text description carried by the source.";
    "metadata.product", "string", false, "The decoder that read the record (`fhir`, `jsonl`, …).";
    "metadata.log_name", "string", false, "Where the record came from: file path, `-` for standard input, or listener name.";
    "metadata.uid", "string", false, "The record's own identifier in its source (FHIR `AuditEvent.id`).";
    "metadata.event_code", "string", false, "The source's event code (DICOM `110122`, FHIR `read`, Windows `4624`).";
    "actor.user.name", "string", false, "Account name of the person or system that acted.";
    "actor.user.uid", "string", false, "Stable identifier of that account (FHIR reference, SID).";
    "actor.user.full_name", "string", true, "Display name of the person who acted.";
    "actor.user.domain", "string", false, "Account domain or identifier system.";
    "actor.user.role", "string", false, "Role or type of the acting account as the source states it.";
    "actor.app_name", "string", false, "Application acting on the user's behalf.";
    "src_endpoint.ip", "ip", false, "Address the activity came from (client, workstation).";
    "src_endpoint.hostname", "string", false, "Host name the activity came from.";
    "src_endpoint.port", "integer", false, "Source port.";
    "dst_endpoint.ip", "ip", false, "Address the activity went to (server).";
    "dst_endpoint.hostname", "string", false, "Host name or URI the activity went to.";
    "dst_endpoint.port", "integer", false, "Destination port.";
    "device.hostname", "string", false, "The host that observed or recorded the event (audit source, Windows host).";
    "device.ip", "ip", false, "Address of that host.";
    "email.from", "string", false, "Sender address.";
    "email.to", "list", false, "Recipient addresses.";
    "email.subject", "string", true, "Subject line (may carry PHI).";
    "email.message_uid", "string", false, "Message-ID.";
    "patient.id", "string", true, "The patient whose data was touched: FHIR logical id or MRN.";
    "patient.name", "string", true, "The patient's name when the source carries it.";
    "resource.type", "string", false, "Kind of record acted on (`Patient`, `Observation`, `DocumentReference`).";
    "resource.id", "string", false, "Identifier of the record acted on.";
    "resource.query", "string", true, "The search or query as recorded (base64 decoded).";
    "purpose_of_use", "list", false, "Purpose of use codes (v3 ActReason `TREAT`, `ETREAT` for break-the-glass …).";
}

impl Event {
    /// The value of a documented field, or of an unmapped source field when `path` starts with
    /// `unmapped.`. Returns `None` when the event does not carry the field.
    pub fn field(&self, path: &str) -> Option<FieldValue<'_>> {
        fn text(v: &Option<String>) -> Option<FieldValue<'_>> {
            v.as_deref().map(|s| FieldValue::Text(Cow::Borrowed(s)))
        }
        fn port(v: Option<u16>) -> Option<FieldValue<'static>> {
            v.map(|p| FieldValue::Int(p as i64))
        }
        fn list(v: &[String]) -> Option<FieldValue<'_>> {
            (!v.is_empty()).then(|| FieldValue::List(v.iter().map(String::as_str).collect()))
        }
        let borrowed = |s: &'static str| Some(FieldValue::Text(Cow::Borrowed(s)));
        match path {
            "time" => Some(FieldValue::Text(Cow::Owned(self.time.to_rfc3339()))),
            "class_uid" => Some(FieldValue::Int(self.class_uid as i64)),
            "class_name" => borrowed(self.class_name()),
            "category_uid" => Some(FieldValue::Int(self.category_uid() as i64)),
            "activity_id" => Some(FieldValue::Int(self.activity_id as i64)),
            "activity_name" => text(&self.activity_name),
            "type_uid" => Some(FieldValue::Int(self.type_uid() as i64)),
            "severity" => borrowed(self.severity.as_str()),
            "status" => borrowed(self.status.as_str()),
            "status_detail" => text(&self.status_detail),
            "message" => text(&self.message),
            "metadata.product" => Some(FieldValue::Text(Cow::Borrowed(&self.metadata.product))),
            "metadata.log_name" => Some(FieldValue::Text(Cow::Borrowed(&self.metadata.log_name))),
            "metadata.uid" => text(&self.metadata.uid),
            "metadata.event_code" => text(&self.metadata.event_code),
            "actor.user.name" => text(&self.actor.user.name),
            "actor.user.uid" => text(&self.actor.user.uid),
            "actor.user.full_name" => text(&self.actor.user.full_name),
            "actor.user.domain" => text(&self.actor.user.domain),
            "actor.user.role" => text(&self.actor.user.role),
            "actor.app_name" => text(&self.actor.app_name),
            "src_endpoint.ip" => text(&self.src_endpoint.ip),
            "src_endpoint.hostname" => text(&self.src_endpoint.hostname),
            "src_endpoint.port" => port(self.src_endpoint.port),
            "dst_endpoint.ip" => text(&self.dst_endpoint.ip),
            "dst_endpoint.hostname" => text(&self.dst_endpoint.hostname),
            "dst_endpoint.port" => port(self.dst_endpoint.port),
            "device.hostname" => text(&self.device.hostname),
            "device.ip" => text(&self.device.ip),
            "email.from" => text(&self.email.from),
            "email.to" => list(&self.email.to),
            "email.subject" => text(&self.email.subject),
            "email.message_uid" => text(&self.email.message_uid),
            "patient.id" => text(&self.patient.id),
            "patient.name" => text(&self.patient.name),
            "resource.type" => text(&self.resource.r#type),
            "resource.id" => text(&self.resource.id),
            "resource.query" => text(&self.resource.query),
            "purpose_of_use" => list(&self.purpose_of_use),
            other => {
                let key = other.strip_prefix("unmapped.")?;
                match self.unmapped.get(key)? {
                    serde_json::Value::String(s) => Some(FieldValue::Text(Cow::Borrowed(s))),
                    serde_json::Value::Number(n) => match n.as_i64() {
                        Some(i) => Some(FieldValue::Int(i)),
                        None => Some(FieldValue::Text(Cow::Owned(n.to_string()))),
                    },
                    serde_json::Value::Null => None,
                    v => Some(FieldValue::Text(Cow::Owned(v.to_string()))),
                }
            }
        }
    }
}

/// The field reference as Markdown, as `docs/fields.md` holds it.
pub fn markdown() -> String {
    let mut out = String::from(
        "# Event field paths\n\n\
         Generated from `crates/model/src/fields.rs` by `ward fields --markdown`; a test keeps \
         this file equal to the code. Rules, queries and the console name fields by these paths. \
         Fields a source carries that have no place here are kept under `unmapped.<source path>`. \
         PHI marks fields that can identify a patient or carry clinical content.\n\n\
         | path | type | PHI | meaning |\n| --- | --- | --- | --- |\n",
    );
    for f in FIELDS {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            f.path,
            f.kind,
            if f.phi { "yes" } else { "" },
            f.meaning
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_field_is_readable_from_a_full_event() {
        let event = crate::event::tests::full_event();
        for f in FIELDS {
            assert!(
                event.field(f.path).is_some(),
                "documented field {} is not readable",
                f.path
            );
        }
        assert_eq!(event.field("no.such.field"), None);
    }

    #[test]
    fn unmapped_fields_are_reachable_by_prefix() {
        let mut e = Event::default();
        e.unmapped.insert("EventID", serde_json::json!(4624));
        assert_eq!(e.field("unmapped.EventID"), Some(FieldValue::Int(4624)));
    }
}
