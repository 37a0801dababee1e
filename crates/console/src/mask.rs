//! PHI masking for roles that may not see patient identities: patient ids become stable
//! pseudonyms (a keyed hash, so the same patient reads the same within a running console and
//! one can tell patients apart without knowing who they are), names disappear, and the parts of
//! an event that can carry identities in free form (the raw record, unmapped fields, messages,
//! mail subjects, queries, resource ids) are withheld.

use crate::auth::keyed;
use ward_model::{Alert, Event};

/// Applies or skips masking for one caller.
#[derive(Clone, Copy)]
pub(crate) struct Masker<'a> {
    pub enabled: bool,
    pub secret: &'a [u8; 32],
}

pub(crate) const MASKED_NAME: &str = "[masked]";

impl Masker<'_> {
    /// The pseudonym shown for a patient id.
    pub fn patient_id(&self, id: &str) -> String {
        if !self.enabled {
            return id.to_string();
        }
        let digest = keyed(self.secret, &[b"patient-pseudonym", id.as_bytes()]);
        format!("masked-{}", &digest[..10])
    }

    pub fn is_masked(text: &str) -> bool {
        text.starts_with("masked-") || text == MASKED_NAME
    }

    pub fn event(&self, mut event: Event) -> Event {
        if !self.enabled {
            return event;
        }
        let touches_patient = event.patient.id.is_some() || event.patient.name.is_some();
        if let Some(id) = &event.patient.id {
            event.patient.id = Some(self.patient_id(id));
        }
        if event.patient.name.is_some() {
            event.patient.name = Some(MASKED_NAME.into());
        }
        if (touches_patient || event.resource.r#type.as_deref() == Some("Patient"))
            && event.resource.id.is_some()
        {
            event.resource.id = Some(MASKED_NAME.into());
        }
        if event.resource.query.is_some() {
            event.resource.query = Some(MASKED_NAME.into());
        }
        if event.email.subject.is_some() {
            event.email.subject = Some(MASKED_NAME.into());
        }
        if event.message.is_some() {
            event.message = Some(MASKED_NAME.into());
        }
        event.unmapped.clear();
        event.raw.clear();
        event
    }

    /// The alert with its patient pseudonymised, in its entities and in its description: a
    /// privacy detector names the patient in the plain-language reason ("opened the record of
    /// patient pt-1001").
    pub fn alert(&self, mut alert: Alert) -> Alert {
        if let Some(id) = alert.entities.patient.take() {
            let pseudonym = self.patient_id(&id);
            if self.enabled
                && !id.is_empty()
                && let Some(text) = &mut alert.description
                && text.contains(id.as_str())
            {
                *text = text.replace(id.as_str(), &pseudonym);
            }
            alert.entities.patient = Some(pseudonym);
        }
        alert
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_match_the_notifications() {
        // The same vector is asserted in ward-notify's mask.rs: with the same key, a patient
        // reads the same in a message and on the console page it links to.
        let masker = Masker {
            enabled: true,
            secret: &[7; 32],
        };
        assert_eq!(masker.patient_id("pt000001"), "masked-89de90610d");
    }
}
