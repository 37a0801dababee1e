//! The detectors Ward runs by default, in one list: the Sigma detector with the shipped
//! healthcare pack (and any rules the caller adds), patient-privacy monitoring, and the threat
//! analytics (credential attacks, devices and networks, mail) over the organisation's
//! inventory. The binary and the demo build their [`crate::engine::Engine`] from this.

use crate::engine::Detector;
use crate::privacy::PrivacyDetector;
use crate::sigma::{Collection, RuleError, SigmaDetector, pack};
use crate::threat::credential::{CredentialDetector, CredentialOptions};
use crate::threat::inventory::Inventory;
use crate::threat::mail::{MailDetector, MailOptions};
use crate::threat::network::{NetworkDetector, NetworkOptions};
use std::sync::Arc;

/// The standard detectors with an empty inventory and no extra rules.
pub fn standard() -> Result<Vec<Box<dyn Detector>>, RuleError> {
    standard_with(Arc::new(Inventory::new()), Collection::new())
}

/// The standard detectors over `inventory`, with `extra` Sigma rules (a user's folder) loaded
/// beside the shipped pack, so correlations may refer to rules of either.
pub fn standard_with(
    inventory: Arc<Inventory>,
    extra: Collection,
) -> Result<Vec<Box<dyn Detector>>, RuleError> {
    let mut sigma = pack::shipped()?;
    sigma.rules.extend(extra.rules);
    sigma.correlations.extend(extra.correlations);
    Ok(vec![
        Box::new(SigmaDetector::new(sigma)?),
        Box::new(PrivacyDetector::default()),
        Box::new(CredentialDetector::new(
            Arc::clone(&inventory),
            CredentialOptions::default(),
        )),
        Box::new(NetworkDetector::new(
            Arc::clone(&inventory),
            NetworkOptions::default(),
        )),
        Box::new(MailDetector::new(inventory, MailOptions::default())),
    ])
}
