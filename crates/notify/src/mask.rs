//! PHI masking for channels not approved for PHI: a patient id becomes a stable pseudonym (a
//! keyed hash, so the SOC can tell two alerts about the same patient apart from alerts about
//! different patients without learning who it is), and the alert's plain-language
//! description, which names the patient and can name relatives, addresses and co-workers,
//! is withheld whenever the alert concerns a patient.
//!
//! The same idea as the console's masking (`crates/console/src/mask.rs`), kept here rather
//! than shared because the console's is tied to its session secret and roles; the pseudonym
//! shape (`masked-` and ten hex digits) is the same so people recognise it. Masking is by
//! construction, not by search: nothing from the description is kept when a patient is named,
//! because a search for the patient id would miss the name and the address.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use ward_model::Alert;

/// What a withheld description reads.
pub const WITHHELD_DESCRIPTION: &str =
    "Details withheld: this alert concerns a patient. Open it in the Ward console.";

/// Masks alerts with one key.
#[derive(Clone)]
pub struct Masker {
    key: [u8; 32],
}

impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Masker(..)")
    }
}

impl Masker {
    /// `key` must be secret and stable (pseudonyms change with it).
    pub fn new(key: [u8; 32]) -> Self {
        Masker { key }
    }

    /// The pseudonym for a patient id: the console's construction (HMAC-SHA-256 over
    /// length-prefixed parts, `ward-console`'s `mask.rs`), so that with the same key a patient
    /// reads the same in a message and on the console page it links to.
    pub fn patient_id(&self, id: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("any key length");
        for part in [&b"patient-pseudonym"[..], id.as_bytes()] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        let digest = mac.finalize().into_bytes();
        let mut out = String::from("masked-");
        for b in &digest[..5] {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }

    /// The alert as a channel not approved for PHI may carry it.
    pub fn alert(&self, alert: &Alert) -> Alert {
        let mut masked = alert.clone();
        if let Some(id) = masked.entities.patient.take() {
            masked.entities.patient = Some(self.patient_id(&id));
            if masked.description.is_some() {
                masked.description = Some(WITHHELD_DESCRIPTION.into());
            }
        }
        masked
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_model::{AlertEntities, AlertStatus, Severity, Timestamp};

    #[test]
    fn pseudonyms_match_the_consoles() {
        // The same vector is asserted in ward-console's mask.rs.
        assert_eq!(
            Masker::new([7; 32]).patient_id("pt000001"),
            "masked-89de90610d"
        );
    }

    fn privacy_alert() -> Alert {
        Alert {
            id: "a1".into(),
            rule_id: "privacy.family_member".into(),
            title: "Staff member opened a family or household member's record".into(),
            severity: Severity::High,
            first_seen: Timestamp(0),
            last_seen: Timestamp(0),
            count: 1,
            entities: AlertEntities {
                user: Some("jdoe".into()),
                patient: Some("MRN-884421".into()),
                ..Default::default()
            },
            attack: vec![],
            hipaa: vec![],
            status: AlertStatus::Open,
            author: None,
            license: None,
            references: vec![],
            description: Some(
                "jdoe opened the record of patient MRN-884421 (Maria Lopez, 12 Elm St)".into(),
            ),
        }
    }

    #[test]
    fn patient_and_description_are_masked_and_pseudonyms_are_stable() {
        let m = Masker::new([7; 32]);
        let a = m.alert(&privacy_alert());
        let text = serde_json::to_string(&a).unwrap();
        for secret in ["MRN-884421", "Maria", "Lopez", "Elm"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        let pseudonym = a.entities.patient.clone().unwrap();
        assert!(pseudonym.starts_with("masked-") && pseudonym.len() == 17);
        assert_eq!(m.alert(&privacy_alert()).entities.patient, Some(pseudonym));
        assert_ne!(
            Masker::new([8; 32])
                .alert(&privacy_alert())
                .entities
                .patient,
            a.entities.patient
        );
        assert_eq!(a.entities.user.as_deref(), Some("jdoe"));
    }

    #[test]
    fn alerts_without_a_patient_keep_their_description() {
        let mut alert = privacy_alert();
        alert.entities.patient = None;
        alert.description = Some("10 failed sign-ins for jdoe".into());
        assert_eq!(Masker::new([1; 32]).alert(&alert), alert);
    }
}
