//! The detectors Ward runs by default, in one list: the Sigma detector with the shipped
//! healthcare pack (and any rules the caller adds), patient-privacy monitoring, and the threat
//! analytics (credential attacks, devices and networks, segmentation, mail) over the
//! organisation's inventory. The binary and the demo build their [`crate::engine::Engine`]
//! from this.
//!
//! Segmentation runs only when `zones.toml` carries a policy. Then the policy is the site's own
//! statement of what guest Wi-Fi may reach, so the network detector's guest rules
//! (`guest_to_phi`, `guest_to_internal`) are silenced and the segmentation detector alone
//! reports such flows, naming the rule set that denied them; sites without a policy keep the
//! guest rules.

use crate::engine::{Detector, Finding};
use crate::privacy::{PrivacyDetector, PrivacyOptions};
use crate::sigma::{Collection, RuleError, SigmaDetector, pack};
use crate::threat::credential::{CredentialDetector, CredentialOptions};
use crate::threat::geoip::GeoIp;
use crate::threat::inventory::Inventory;
use crate::threat::mail::{MailDetector, MailOptions};
use crate::threat::network::{self, NetworkDetector, NetworkOptions};
use crate::threat::segmentation::{SegmentationDetector, SegmentationOptions};
use std::sync::Arc;
use ward_model::{Event, Timestamp};

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
    standard_configured(inventory, extra, None, PrivacyOptions::default())
}

/// As [`standard_with`], with the GeoIP (and ASN) databases the user gave to the credential
/// detector, which places sign-ins from public addresses that carry no location of their own,
/// and the privacy detector's options from the configuration.
pub fn standard_configured(
    inventory: Arc<Inventory>,
    extra: Collection,
    geoip: Option<Arc<GeoIp>>,
    privacy: PrivacyOptions,
) -> Result<Vec<Box<dyn Detector>>, RuleError> {
    let mut sigma = pack::shipped()?;
    sigma.rules.extend(extra.rules);
    sigma.correlations.extend(extra.correlations);
    let network = NetworkDetector::new(Arc::clone(&inventory), NetworkOptions::default());
    let has_policy = inventory.policy.is_some();
    let network: Box<dyn Detector> = if has_policy {
        Box::new(Silenced {
            inner: network,
            rules: &[network::GUEST_TO_PHI.id, network::GUEST_TO_INTERNAL.id],
        })
    } else {
        Box::new(network)
    };
    let mut detectors: Vec<Box<dyn Detector>> = vec![
        Box::new(SigmaDetector::new(sigma)?),
        Box::new(PrivacyDetector::new(privacy)),
        Box::new(CredentialDetector::new(
            Arc::clone(&inventory),
            CredentialOptions {
                geoip,
                ..CredentialOptions::default()
            },
        )),
        network,
    ];
    if has_policy {
        detectors.push(Box::new(SegmentationDetector::new(
            Arc::clone(&inventory),
            SegmentationOptions::default(),
        )));
    }
    detectors.push(Box::new(MailDetector::new(
        inventory,
        MailOptions::default(),
    )));
    Ok(detectors)
}

/// A detector whose findings of some rules are dropped: another detector speaks for them.
struct Silenced<D> {
    inner: D,
    rules: &'static [&'static str],
}

impl<D: Detector> Silenced<D> {
    fn keep_since(&self, out: &mut Vec<Finding>, from: usize) {
        let mut i = from;
        while i < out.len() {
            if self.rules.contains(&out[i].alert.rule_id.as_str()) {
                out.remove(i);
            } else {
                i += 1;
            }
        }
    }
}

impl<D: Detector> Detector for Silenced<D> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn context(&mut self, resources: &[ward_model::ContextResource]) {
        self.inner.context(resources);
    }

    fn observe(&mut self, event: &Event, out: &mut Vec<Finding>) {
        let from = out.len();
        self.inner.observe(event, out);
        self.keep_since(out, from);
    }

    fn advance(&mut self, now: Timestamp, out: &mut Vec<Finding>) {
        let from = out.len();
        self.inner.advance(now, out);
        self.keep_since(out, from);
    }

    fn save_state(&self) -> Option<Vec<u8>> {
        self.inner.save_state()
    }

    fn restore_state(&mut self, state: &[u8]) -> Result<String, String> {
        self.inner.restore_state(state)
    }

    fn conclude(&mut self, end: Timestamp, out: &mut Vec<Finding>) {
        let from = out.len();
        self.inner.conclude(end, out);
        self.keep_since(out, from);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_model::event::class;

    fn guest_conn() -> Event {
        let mut e = Event::from_record("zeek", Timestamp(1_794_096_000_000), b"x".to_vec());
        e.class_uid = class::NETWORK_ACTIVITY;
        e.metadata.event_code = Some("conn".into());
        e.src_endpoint.ip = Some("172.16.3.3".into());
        e.dst_endpoint.ip = Some("10.20.0.20".into());
        e.dst_endpoint.port = Some(1433);
        e.unmapped.insert("proto", "tcp".into());
        e.unmapped.insert("conn_state", "SF".into());
        e
    }

    fn rules_raised(zones: &str) -> Vec<String> {
        let (z, policy) = Inventory::parse_zones_and_policy(zones).unwrap();
        let assets = Inventory::parse_assets(
            "hostname,ip,kind,model,zone\ndb,10.20.0.20,server,ehr-database,ehr-servers\n",
        )
        .unwrap();
        let inventory = Inventory::new()
            .with_zones(z)
            .with_policy(policy)
            .with_assets(assets);
        let mut detectors = standard_with(Arc::new(inventory), Collection::new()).unwrap();
        let mut out = Vec::new();
        for d in detectors.iter_mut() {
            d.observe(&guest_conn(), &mut out);
        }
        out.into_iter().map(|f| f.alert.rule_id).collect()
    }

    const ZONES: &str = "[[zone]]\nname = \"guest-wifi\"\ncidr = \"172.16.0.0/16\"\n\
        [[zone]]\nname = \"ehr-servers\"\ncidr = \"10.20.0.0/24\"\n";

    #[test]
    fn with_a_policy_segmentation_speaks_for_guest_wifi_and_without_one_the_guest_rules_do() {
        assert_eq!(rules_raised(ZONES), [network::GUEST_TO_PHI.id]);
        let with_policy =
            format!("{ZONES}[[allow]]\nfrom = \"guest-wifi\"\nto = \"external\"\nports = [443]\n");
        assert_eq!(
            rules_raised(&with_policy),
            [crate::threat::segmentation::POLICY_VIOLATION.id]
        );
    }
}
