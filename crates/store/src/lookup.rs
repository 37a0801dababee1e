//! The columns an event row is found by (who, whose record, from where, on which host), taken
//! from the event the same way by every backend, and the one place that decides what a PHI
//! lookup column holds for a given value.
//!
//! Must never be bypassed: commit and query both go through [`LookupKeys::lookup_key`], or a
//! query would stop finding what was stored the day the stored form changes.

use std::borrow::Cow;
use ward_model::Event;

/// Maps a user name, patient id, context id or alert entity to the value stored for lookups.
///
/// In an encrypted store, the keyed hash of the value (HMAC-SHA-256 under the store's lookup
/// key, `ward_vault::LookupKey`), so the database alone no longer says whose records were
/// read while equality lookups keep working; in a store without encryption (tests, tools),
/// the value itself.
#[derive(Debug, Default, Clone)]
pub(crate) struct LookupKeys {
    pub(crate) key: Option<ward_vault::LookupKey>,
}

impl LookupKeys {
    pub(crate) fn lookup_key<'a>(&self, value: &'a str) -> Cow<'a, str> {
        match &self.key {
            Some(key) => Cow::Owned(key.hash(value)),
            None => Cow::Borrowed(value),
        }
    }
}

/// An event's indexed columns.
pub(crate) struct LookupColumns<'a> {
    /// `actor.user.name`, else `actor.user.uid`, through [`LookupKeys::lookup_key`].
    pub user_key: Option<Cow<'a, str>>,
    /// `patient.id`, through [`LookupKeys::lookup_key`].
    pub patient_key: Option<Cow<'a, str>>,
    /// `src_endpoint.ip`, plain: network analytics need ranges, not only equality.
    pub src_ip: Option<&'a str>,
    /// `device.hostname`, else `src_endpoint.hostname`: the host the event happened on.
    pub host: Option<&'a str>,
}

impl<'a> LookupColumns<'a> {
    pub(crate) fn of(keys: &LookupKeys, event: &'a Event) -> Self {
        let user = event
            .actor
            .user
            .name
            .as_deref()
            .or(event.actor.user.uid.as_deref());
        LookupColumns {
            user_key: user.map(|u| keys.lookup_key(u)),
            patient_key: event.patient.id.as_deref().map(|p| keys.lookup_key(p)),
            src_ip: event.src_endpoint.ip.as_deref(),
            host: event
                .device
                .hostname
                .as_deref()
                .or(event.src_endpoint.hostname.as_deref()),
        }
    }
}
