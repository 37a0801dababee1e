//! Credential attacks and account takeover, across every source of logins at once: sshd on
//! the VPN gateway, Windows 4624/4625, Entra ID and Okta sign-ins, and any other
//! Authentication event with an account, an outcome and an address.
//!
//! Single failures and plain bursts are the Sigma correlation rules' job; this detector keeps
//! the state they cannot: which accounts one address has failed on over hours (spraying),
//! whether a burst of failures ended in a success from the same address, whether denied MFA
//! pushes ended in an approval, where each user signed in last and from which networks, and
//! the roster and vendor contracts that say who may log in at all and when.
//!
//! Geolocation comes from the sign-in itself (Entra's `location`, Okta's
//! `geographicalContext`, mapped by the decoders to `geo.*`) or, for a public address of a
//! sign-in without one (sshd, Windows, VPN), from the GeoIP database the user supplied
//! ([`CredentialOptions::geoip`], looked up through a bounded cache). With an ASN database too,
//! a user's networks are their autonomous systems (`AS64496`), so a home connection that
//! changes address within its provider is not a new network. Without databases, sign-ins
//! that carry no location get network-prefix novelty (/24, /48) but no travel speed.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use ward_model::event::{auth_activity, class};
use ward_model::{AlertEntities, Event, EventId, Severity, Status, Timestamp};

use super::geoip::{GeoCache, GeoIp, is_public};
use super::inventory::Inventory;
use super::{
    DAY, Expiring, HOUR, MINUTE, Rule, TableStats, clock, day_of, duration, ip_of, network_prefix,
    plural, push_capped, unmapped_f64, unmapped_str, unmapped_text,
};
use crate::{Detector, Finding};

const LOGIN_MONITORING: &str = "164.308(a)(5)(ii)(C)";
const AUDIT_CONTROLS: &str = "164.312(b)";
const ACTIVITY_REVIEW: &str = "164.308(a)(1)(ii)(D)";
const TERMINATION: &str = "164.308(a)(3)(ii)(C)";
const ACCESS_CONTROL: &str = "164.312(a)(1)";

pub const PASSWORD_SPRAY: Rule = Rule {
    id: "threat.credential.password_spray",
    title: "Password spraying from one address",
    severity: Severity::High,
    attack: &["T1110.003"],
    hipaa: &[LOGIN_MONITORING, AUDIT_CONTROLS],
};

pub const SPRAY_SUCCESS: Rule = Rule {
    id: "threat.credential.spray_success",
    title: "Password spraying followed by a successful login",
    severity: Severity::Critical,
    attack: &["T1110.003", "T1078"],
    hipaa: &[LOGIN_MONITORING, AUDIT_CONTROLS, ACTIVITY_REVIEW],
};

pub const BRUTE_FORCE_SUCCESS: Rule = Rule {
    id: "threat.credential.brute_force_success",
    title: "Brute force followed by a successful login",
    severity: Severity::Critical,
    attack: &["T1110.001", "T1078"],
    hipaa: &[LOGIN_MONITORING, AUDIT_CONTROLS, ACTIVITY_REVIEW],
};

pub const MFA_FATIGUE: Rule = Rule {
    id: "threat.credential.mfa_fatigue",
    title: "MFA fatigue: denied pushes, then an approval",
    severity: Severity::High,
    attack: &["T1621", "T1078"],
    hipaa: &[LOGIN_MONITORING, AUDIT_CONTROLS],
};

pub const MFA_PUSH_FLOOD: Rule = Rule {
    id: "threat.credential.mfa_push_flood",
    title: "MFA push flood: many pushes denied",
    severity: Severity::Medium,
    attack: &["T1621"],
    hipaa: &[LOGIN_MONITORING, AUDIT_CONTROLS],
};

pub const IMPOSSIBLE_TRAVEL: Rule = Rule {
    id: "threat.credential.impossible_travel",
    title: "Impossible travel between sign-ins",
    severity: Severity::High,
    attack: &["T1078"],
    hipaa: &[LOGIN_MONITORING, AUDIT_CONTROLS],
};

pub const NEW_NETWORK: Rule = Rule {
    id: "threat.credential.new_network",
    title: "First sign-in from a new network",
    severity: Severity::Low,
    attack: &["T1078"],
    hipaa: &[LOGIN_MONITORING],
};

pub const TERMINATED_LOGIN: Rule = Rule {
    id: "threat.credential.terminated_login",
    title: "Login by a terminated account",
    severity: Severity::High,
    attack: &["T1078"],
    hipaa: &[TERMINATION, LOGIN_MONITORING, ACCESS_CONTROL],
};

pub const SERVICE_INTERACTIVE: Rule = Rule {
    id: "threat.credential.service_account_interactive",
    title: "Service account used interactively",
    severity: Severity::Medium,
    attack: &["T1078.002", "T1078.003"],
    hipaa: &[LOGIN_MONITORING, ACCESS_CONTROL],
};

pub const VENDOR_OUTSIDE_CONTRACT: Rule = Rule {
    id: "threat.credential.vendor_outside_contract",
    title: "Vendor account used outside its contract",
    severity: Severity::High,
    attack: &["T1133", "T1078"],
    hipaa: &[LOGIN_MONITORING, "164.308(b)(1)", ACTIVITY_REVIEW],
};

/// Every rule this detector can raise.
pub const RULES: &[Rule] = &[
    PASSWORD_SPRAY,
    SPRAY_SUCCESS,
    BRUTE_FORCE_SUCCESS,
    MFA_FATIGUE,
    MFA_PUSH_FLOOD,
    IMPOSSIBLE_TRAVEL,
    NEW_NETWORK,
    TERMINATED_LOGIN,
    SERVICE_INTERACTIVE,
    VENDOR_OUTSIDE_CONTRACT,
];

/// Thresholds and bounds; the defaults suit a hospital of a few thousand staff.
#[derive(Debug, Clone)]
pub struct CredentialOptions {
    /// Distinct accounts with failed, never-successful logins from one address that make a spray.
    pub spray_accounts: usize,
    /// How far back a spray's failures are counted (sprays are slow: minutes between tries).
    pub spray_window_ms: i64,
    /// The most failures per account, on average, for it to be a spray rather than brute force.
    pub spray_max_per_account: f64,
    /// Failures for one account from one address before a success that makes brute force.
    pub brute_force_failures: usize,
    pub brute_force_window_ms: i64,
    /// Denied MFA pushes for one user before an approval that make MFA fatigue.
    pub mfa_denials: usize,
    pub mfa_window_ms: i64,
    /// Denied pushes within `mfa_window_ms` that raise an alert before any approval.
    pub mfa_flood: usize,
    /// Travel faster than this between two successful sign-ins is impossible …
    pub travel_max_kmh: f64,
    /// … when they are at least this far apart (city-level geolocation is coarse).
    pub travel_min_km: f64,
    /// A new network is reported only for users seen for at least this long: before that every
    /// network is new. `None` turns the new-network alert off.
    pub new_network_after_ms: Option<i64>,
    /// … and who signed in on at least this many distinct days: a day or two of history is
    /// not yet a baseline (the first evening at home would be "new").
    pub new_network_min_days: usize,
    /// A new network within this many km of a place the user signed in from before is not
    /// reported (the sources' geolocation is city-level).
    pub familiar_km: f64,
    /// Account name prefixes of service accounts (compared case-insensitively).
    pub service_account_prefixes: Vec<String>,
    /// How long evidence of a vendor's session keeps joining its alert after the login.
    pub vendor_session_ms: i64,
    /// The most users, addresses or accounts any one table of state holds.
    pub max_entities: usize,
    /// Places (and, with an ASN database, networks) of public addresses, for sign-ins that do
    /// not carry their own location.
    pub geoip: Option<Arc<GeoIp>>,
    /// The most addresses whose GeoIP answer is kept.
    pub geoip_cache: usize,
}

impl Default for CredentialOptions {
    fn default() -> Self {
        CredentialOptions {
            spray_accounts: 10,
            spray_window_ms: 24 * HOUR,
            spray_max_per_account: 3.0,
            brute_force_failures: 10,
            brute_force_window_ms: HOUR,
            mfa_denials: 3,
            mfa_window_ms: HOUR,
            mfa_flood: 10,
            travel_max_kmh: 900.0,
            travel_min_km: 500.0,
            new_network_after_ms: Some(7 * DAY),
            new_network_min_days: 3,
            familiar_km: 100.0,
            service_account_prefixes: ["svc-", "svc_", "sa-", "srv-", "service-"]
                .map(String::from)
                .to_vec(),
            vendor_session_ms: 4 * HOUR,
            max_entities: 200_000,
            geoip: None,
            geoip_cache: 65_536,
        }
    }
}

/// What one event says about a login attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Success,
    /// A wrong password (or unknown account).
    Failure,
    /// An MFA push the user denied or did not answer.
    MfaDenied,
}

#[derive(Debug, Clone)]
struct Attempt {
    /// Lower-cased account name, the key across sources.
    account: String,
    ip: Option<IpAddr>,
    outcome: Outcome,
    /// The account exists (sshd says `invalid user` otherwise; Entra 50034).
    known_account: bool,
    interactive: bool,
    /// A success that passed an MFA challenge (an approved push): only such a success ends a
    /// run of denials; a primary-authentication or SSO success leaves the push still pending.
    mfa_approved: bool,
    /// Where the login was checked: `sshd on vpn-gw01`, `entra`, `windows on ws-1`.
    place: String,
    geo: Option<Geo>,
    /// The autonomous system of the address, from the ASN database.
    asn: Option<(u32, String)>,
}

#[derive(Debug, Clone, PartialEq)]
struct Geo {
    lat: f64,
    lon: f64,
    country: Option<String>,
    city: Option<String>,
    /// Placed by the GeoIP database rather than by the sign-in's source.
    looked_up: bool,
}

impl Geo {
    fn label(&self) -> String {
        match (&self.city, &self.country) {
            (Some(city), Some(country)) => format!("{city}, {country}"),
            (None, Some(country)) => country.clone(),
            (Some(city), None) => city.clone(),
            (None, None) => format!("{:.2},{:.2}", self.lat, self.lon),
        }
    }
}

/// Entra error codes that mean the password (or account) was wrong; other failures are
/// interrupts (MFA required, consent, conditional access) that say nothing about guessing.
const ENTRA_CREDENTIAL_FAILURES: &[&str] = &["50126", "50053", "50055", "50056", "50057", "50034"];

fn attempt(event: &Event) -> Option<Attempt> {
    if event.class_uid != class::AUTHENTICATION || event.activity_id != auth_activity::LOGON {
        return None;
    }
    let name = event.actor.user.name.as_deref()?.trim();
    let account = normalise_account(name)?;
    let product = event.metadata.product.as_str();
    let code = event.metadata.event_code.as_deref().unwrap_or("");
    let mfa = unmapped_str(event, "mfa.result");
    let mut known_account = true;
    let mut interactive = true;
    let outcome = match product {
        "authlog" => {
            // One attempt writes `Failed` (plus `Invalid user` and a PAM line without the
            // account's validity): count the `Failed` and `Accepted` lines only.
            match event.activity_name.as_deref() {
                Some("Failed") => {
                    known_account = event.status_detail.as_deref() != Some("invalid user");
                    Outcome::Failure
                }
                Some("Accepted") => {
                    interactive = unmapped_str(event, "auth_method") != Some("publickey");
                    Outcome::Success
                }
                _ => return None,
            }
        }
        "windows" | "evtx" => {
            let logon_type = unmapped_text(event, "LogonType");
            interactive = matches!(logon_type.as_deref(), Some("2" | "10" | "11"));
            match code {
                "4624" => Outcome::Success,
                "4625" => Outcome::Failure,
                _ => return None,
            }
        }
        "entra" | "okta" => match (mfa, event.status) {
            (Some("denied"), _) => Outcome::MfaDenied,
            (_, Status::Success) => Outcome::Success,
            (_, Status::Failure) if product == "entra" => {
                if !ENTRA_CREDENTIAL_FAILURES.contains(&code) {
                    return None;
                }
                known_account = code != "50034";
                Outcome::Failure
            }
            (_, Status::Failure) => Outcome::Failure,
            _ => return None,
        },
        _ => match event.status {
            Status::Success => Outcome::Success,
            Status::Failure => Outcome::Failure,
            _ => return None,
        },
    };
    let ip = ip_of(event.src_endpoint.ip.as_deref()).filter(|ip| !ip.is_loopback());
    let host = event
        .device
        .hostname
        .as_deref()
        .map(|h| h.split('.').next().unwrap_or(h));
    let app = event.actor.app_name.as_deref();
    let place = match (product, app, host) {
        ("entra" | "okta", Some(app), _) => format!("{product} ({app})"),
        (_, Some(app), Some(host)) => format!("{app} on {host}"),
        (_, None, Some(host)) => format!("{product} on {host}"),
        _ => product.to_string(),
    };
    let geo = match (
        unmapped_f64(event, "geo.lat"),
        unmapped_f64(event, "geo.lon"),
    ) {
        (Some(lat), Some(lon)) if lat.is_finite() && lon.is_finite() => Some(Geo {
            lat,
            lon,
            country: unmapped_text(event, "geo.country"),
            city: unmapped_text(event, "geo.city"),
            looked_up: false,
        }),
        _ => None,
    };
    Some(Attempt {
        account,
        ip,
        outcome,
        known_account,
        interactive,
        mfa_approved: outcome == Outcome::Success && mfa == Some("success"),
        place,
        geo,
        asn: None,
    })
}

/// `WGH\U1035` → `u1035`; UPNs stay whole. Machine accounts and placeholders are not people.
fn normalise_account(name: &str) -> Option<String> {
    let name = name.rsplit('\\').next().unwrap_or(name).trim();
    if name.is_empty() || name == "-" || name.ends_with('$') {
        return None;
    }
    let lower = name.to_lowercase();
    if matches!(
        lower.as_str(),
        "anonymous logon" | "system" | "local service"
    ) {
        return None;
    }
    Some(lower)
}

/// Great-circle distance in km.
fn distance_km(a: &Geo, b: &Geo) -> f64 {
    let (la1, lo1, la2, lo2) = (
        a.lat.to_radians(),
        a.lon.to_radians(),
        b.lat.to_radians(),
        b.lon.to_radians(),
    );
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().clamp(0.0, 1.0).asin()
}

/// One login attempt remembered per source address.
#[derive(Debug, Clone)]
struct Tried {
    time: Timestamp,
    account: String,
    outcome: Outcome,
    /// The account exists: guesses at invalid names are scanners' noise, not a spray.
    known: bool,
    id: EventId,
    place: String,
}

impl Tried {
    fn sprayed(&self) -> bool {
        self.outcome == Outcome::Failure && self.known
    }
}

#[derive(Debug, Default)]
struct SourceState {
    recent: Vec<Tried>,
    /// Start of the spray alert raised for this address, while it lasts.
    spray_since: Option<Timestamp>,
    /// Accounts whose brute force already raised an alert (one alert per account and window).
    brute_forced: HashSet<String>,
    spray_succeeded: HashSet<String>,
}

#[derive(Debug, Default)]
struct MfaState {
    denials: Vec<(Timestamp, EventId, Option<IpAddr>, Option<String>)>,
    /// Start of the push-flood alert raised for the current run of denials.
    flood_since: Option<Timestamp>,
}

#[derive(Debug, Default)]
struct UserHistory {
    first_seen: Option<Timestamp>,
    last_geo: Option<(Timestamp, Geo, Option<IpAddr>, EventId)>,
    prefixes: Vec<String>,
    countries: Vec<String>,
    /// Distinct days (since the epoch) with a successful login, the most recent few.
    days: Vec<i64>,
    /// Where the user signed in from, when the source geolocates (one entry per area).
    places: Vec<Geo>,
}

/// The most attempts remembered per address, and prefixes/countries per user.
const RECENT_CAP: usize = 2_048;
const PREFIX_CAP: usize = 32;

/// See the module documentation.
pub struct CredentialDetector {
    inventory: Arc<Inventory>,
    options: CredentialOptions,
    sources: Expiring<IpAddr, SourceState>,
    mfa: Expiring<String, MfaState>,
    users: Expiring<String, UserHistory>,
    /// Vendor accounts with an open out-of-contract alert: (alert key, window start).
    vendor_sessions: Expiring<String, (String, Timestamp)>,
    /// (rule, key, window) of one-per-day alerts already raised.
    raised: Expiring<(&'static str, String), Timestamp>,
    geoip: Option<GeoCache>,
}

impl CredentialDetector {
    pub fn new(inventory: Arc<Inventory>, options: CredentialOptions) -> Self {
        let cap = options.max_entities;
        let window = options
            .spray_window_ms
            .max(options.brute_force_window_ms)
            .max(HOUR);
        CredentialDetector {
            sources: Expiring::new(cap, window),
            mfa: Expiring::new(cap, options.mfa_window_ms.max(MINUTE)),
            users: Expiring::new(cap, 90 * DAY),
            vendor_sessions: Expiring::new(1_024, options.vendor_session_ms.max(MINUTE)),
            raised: Expiring::new(cap, 2 * DAY),
            geoip: options
                .geoip
                .clone()
                .map(|g| GeoCache::new(g, options.geoip_cache)),
            inventory,
            options,
        }
    }

    /// The tables of state this detector holds, with their caps and what they let go.
    pub fn state(&self) -> Vec<TableStats> {
        let mut tables = vec![
            self.sources.stats("sources"),
            self.mfa.stats("mfa"),
            self.users.stats("users"),
            self.vendor_sessions.stats("vendor_sessions"),
            self.raised.stats("raised"),
        ];
        if let Some(cache) = &self.geoip {
            tables.push(TableStats {
                table: "geoip_cache",
                held: cache.len(),
                cap: cache.capacity(),
                evicted: cache.evicted,
                expired: 0,
            });
        }
        tables
    }

    /// GeoIP lookups answered from the cache and from the databases, and records that did not
    /// decode.
    pub fn geoip_lookups(&self) -> Option<(u64, u64, u64)> {
        self.geoip.as_ref().map(|c| (c.hits, c.misses, c.errors))
    }

    /// Fills in the place (when the sign-in did not carry one) and the network of a public
    /// source address from the GeoIP databases.
    fn locate(&mut self, a: &mut Attempt) {
        let Some(ip) = a.ip else { return };
        let Some(cache) = self.geoip.as_mut() else {
            return;
        };
        if !is_public(ip) || self.inventory.is_internal(ip) {
            return;
        }
        let Some(found) = cache.get(ip) else { return };
        if a.geo.is_none()
            && let Some((lat, lon)) = found.coordinates
        {
            a.geo = Some(Geo {
                lat,
                lon,
                country: found.country.clone(),
                city: found.city.clone(),
                looked_up: true,
            });
        }
        a.asn.clone_from(&found.asn);
    }

    fn is_service_account(&self, account: &str) -> bool {
        self.options
            .service_account_prefixes
            .iter()
            .any(|p| account.starts_with(&p.to_ascii_lowercase()))
    }

    /// Spraying and brute force: state per source address.
    fn by_source(&mut self, event: &Event, a: &Attempt, out: &mut Vec<Finding>) {
        let Some(ip) = a.ip else { return };
        if a.outcome == Outcome::MfaDenied {
            return;
        }
        let opts = &self.options;
        let now = event.time;
        let state = self.sources.touch(ip, now, SourceState::default);
        let horizon = now.millis() - opts.spray_window_ms;
        state.recent.retain(|t| t.time.millis() >= horizon);
        if state.recent.is_empty() {
            state.spray_since = None;
            state.brute_forced.clear();
            state.spray_succeeded.clear();
        }
        push_capped(
            &mut state.recent,
            Tried {
                time: now,
                account: a.account.clone(),
                outcome: a.outcome,
                known: a.known_account,
                id: event.id,
                place: a.place.clone(),
            },
            RECENT_CAP,
        );
        match a.outcome {
            Outcome::Failure if a.known_account => {
                spray(state, ip, event, opts, out);
            }
            Outcome::Success => {
                brute_force(state, ip, event, a, opts, out);
                if state.spray_since.is_some()
                    && state
                        .recent
                        .iter()
                        .any(|t| t.account == a.account && t.outcome == Outcome::Failure)
                    && state.spray_succeeded.insert(a.account.clone())
                {
                    let since = state.spray_since.unwrap_or(now);
                    let accounts: HashSet<&str> = failed_accounts(state).collect();
                    out.push(SPRAY_SUCCESS.finding(
                        &format!("{ip}|{}", a.account),
                        since,
                        (since, now),
                        AlertEntities {
                            user: Some(a.account.clone()),
                            src_ip: Some(ip.to_string()),
                            host: event.device.hostname.clone(),
                            ..Default::default()
                        },
                        format!(
                            "{ip} tried passwords against {} since {}, then logged in as {} at {} ({})",
                            plural(accounts.len(), "account"),
                            clock(since),
                            a.account,
                            clock(now),
                            a.place
                        ),
                        vec![event.id],
                    ));
                }
            }
            _ => {}
        }
    }

    fn mfa_fatigue(&mut self, event: &Event, a: &Attempt, out: &mut Vec<Finding>) {
        let now = event.time;
        let window = self.options.mfa_window_ms;
        match a.outcome {
            Outcome::MfaDenied => {
                let country = a.geo.as_ref().map(Geo::label);
                let state = self.mfa.touch(a.account.clone(), now, MfaState::default);
                state
                    .denials
                    .retain(|d| now.millis() - d.0.millis() <= window);
                push_capped(&mut state.denials, (now, event.id, a.ip, country), 256);
                if state.denials.len() < self.options.mfa_flood {
                    return;
                }
                let first = state.denials.first().map_or(now, |d| d.0);
                let since = *state.flood_since.get_or_insert(first);
                let events = if since == first && state.denials.len() == self.options.mfa_flood {
                    state.denials.iter().map(|d| d.1).collect()
                } else {
                    vec![event.id]
                };
                let from = a.ip.map_or(String::new(), |ip| format!(" from {ip}"));
                out.push(MFA_PUSH_FLOOD.finding(
                    &a.account,
                    since,
                    (since, now),
                    AlertEntities {
                        user: Some(a.account.clone()),
                        src_ip: a.ip.map(|ip| ip.to_string()),
                        ..Default::default()
                    },
                    format!(
                        "{} MFA pushes to {} denied or unanswered in {}, the latest for a sign-in{from} ({}); none approved yet",
                        state.denials.len(),
                        a.account,
                        duration(now.millis() - first.millis()),
                        a.place
                    ),
                    events,
                ));
            }
            Outcome::Success if a.mfa_approved => {
                let Some(state) = self.mfa.get_mut(&a.account, now) else {
                    return;
                };
                state
                    .denials
                    .retain(|d| now.millis() - d.0.millis() <= window);
                if state.denials.len() < self.options.mfa_denials {
                    state.denials.clear();
                    state.flood_since = None;
                    return;
                }
                let denials = std::mem::take(&mut state.denials);
                state.flood_since = None;
                let first = denials.first().map_or(now, |d| d.0);
                let mut ips: Vec<String> = Vec::new();
                for (_, _, ip, place) in &denials {
                    let text = match (ip, place) {
                        (Some(ip), Some(place)) => format!("{ip} ({place})"),
                        (Some(ip), None) => ip.to_string(),
                        (None, Some(place)) => place.clone(),
                        (None, None) => continue,
                    };
                    if !ips.contains(&text) {
                        ips.push(text);
                    }
                }
                let from = if ips.is_empty() {
                    String::new()
                } else {
                    format!(" for sign-ins from {}", ips.join(", "))
                };
                let approved_from = a.ip.map_or(String::new(), |ip| format!(" from {ip}"));
                let mut events: Vec<EventId> = denials.iter().map(|d| d.1).collect();
                events.push(event.id);
                out.push(
                    MFA_FATIGUE.finding(
                        &a.account,
                        first,
                        (first, now),
                        AlertEntities {
                            user: Some(a.account.clone()),
                            src_ip: a
                                .ip
                                .or(denials.last().and_then(|d| d.2))
                                .map(|ip| ip.to_string()),
                            ..Default::default()
                        },
                        format!(
                            "{} denied {} MFA pushes{} in {}, then one was approved{} at {} ({})",
                            a.account,
                            denials.len(),
                            from,
                            duration(now.millis() - first.millis()),
                            approved_from,
                            clock(now),
                            a.place
                        ),
                        events,
                    ),
                );
            }
            Outcome::Success | Outcome::Failure => {}
        }
    }

    /// Impossible travel and new networks, on successful logins.
    fn whereabouts(&mut self, event: &Event, a: &Attempt, out: &mut Vec<Finding>) {
        let Some(ip) = a.ip else { return };
        if a.outcome != Outcome::Success {
            return;
        }
        let now = event.time;
        let internal = self.inventory.is_internal(ip);
        let prefix = match &a.asn {
            Some((number, _)) => format!("AS{number}"),
            None => network_prefix(ip),
        };
        let opts = &self.options;
        let history = self
            .users
            .touch(a.account.clone(), now, UserHistory::default);
        let first_seen = *history.first_seen.get_or_insert(now);
        let new_prefix = !internal && !history.prefixes.contains(&prefix);
        let country = a.geo.as_ref().and_then(|g| g.country.clone());
        let new_country = country
            .as_ref()
            .is_some_and(|c| !history.countries.contains(c));
        let mut travelled = false;
        if let (Some(geo), Some((then, last, last_ip, last_id))) = (&a.geo, &history.last_geo) {
            let km = distance_km(last, geo);
            let hours = (now.millis() - then.millis()).max(MINUTE) as f64 / HOUR as f64;
            let kmh = km / hours;
            if km >= opts.travel_min_km
                && kmh > opts.travel_max_kmh
                && (new_prefix || new_country)
                && *last_ip != Some(ip)
            {
                travelled = true;
                let prior = last_ip.map_or(String::new(), |p| format!(" ({p})"));
                let looked_up = if geo.looked_up || last.looked_up {
                    "; places from the GeoIP database"
                } else {
                    ""
                };
                out.push(IMPOSSIBLE_TRAVEL.finding(
                    &a.account,
                    day_of(now),
                    (*then, now),
                    AlertEntities {
                        user: Some(a.account.clone()),
                        src_ip: Some(ip.to_string()),
                        ..Default::default()
                    },
                    format!(
                        "{} signed in from {}{} at {}, then from {} ({}) {} later: {:.0} km, {:.0} km/h{}{looked_up}",
                        a.account,
                        last.label(),
                        prior,
                        clock(*then),
                        geo.label(),
                        ip,
                        duration(now.millis() - then.millis()),
                        km,
                        kmh,
                        if new_country { "; a country this user never signed in from" } else { "" }
                    ),
                    vec![*last_id, event.id],
                ));
            }
        }
        // A new network in a city the user already signs in from (home broadband beside the
        // hospital's egress) is a new network, not a new place.
        let familiar_place = a.geo.as_ref().is_some_and(|g| {
            history
                .places
                .iter()
                .any(|p| distance_km(p, g) <= opts.familiar_km)
        });
        if !travelled
            && new_prefix
            && !familiar_place
            && !history.prefixes.is_empty()
            && history.days.len() >= opts.new_network_min_days
            && opts
                .new_network_after_ms
                .is_some_and(|after| now.millis() - first_seen.millis() >= after)
        {
            let country_note = match (&country, new_country) {
                (Some(c), true) => format!(", in a country never used before ({c})"),
                _ => String::new(),
            };
            let network = match &a.asn {
                Some((number, org)) if !org.is_empty() => format!(", AS{number} {org}"),
                Some((number, _)) => format!(", AS{number}"),
                None => String::new(),
            };
            out.push(NEW_NETWORK.finding(
                &format!("{}|{prefix}", a.account),
                day_of(now),
                (now, now),
                AlertEntities {
                    user: Some(a.account.clone()),
                    src_ip: Some(ip.to_string()),
                    ..Default::default()
                },
                format!(
                    "{} logged in from {ip} ({}{network}), a network not used in {} of history{country_note}; known networks: {}",
                    a.account,
                    a.place,
                    duration(now.millis() - first_seen.millis()),
                    history.prefixes.len()
                ),
                vec![event.id],
            ));
        }
        let today = now.millis().div_euclid(DAY);
        if !history.days.contains(&today) {
            push_capped(&mut history.days, today, 8);
        }
        if !internal && new_prefix {
            push_capped(&mut history.prefixes, prefix, PREFIX_CAP);
        }
        if let Some(c) = country
            && new_country
        {
            push_capped(&mut history.countries, c, PREFIX_CAP);
        }
        if let Some(geo) = &a.geo {
            if !familiar_place {
                push_capped(&mut history.places, geo.clone(), PREFIX_CAP);
            }
            history.last_geo = Some((now, geo.clone(), Some(ip), event.id));
        }
    }

    /// Terminated, service and vendor accounts: who may log in at all, and when.
    fn account_policy(&mut self, event: &Event, a: &Attempt, out: &mut Vec<Finding>) {
        if a.outcome != Outcome::Success {
            return;
        }
        let now = event.time;
        let day = day_of(now);
        let entities = || AlertEntities {
            user: Some(a.account.clone()),
            src_ip: a.ip.map(|ip| ip.to_string()),
            host: event.device.hostname.clone(),
            ..Default::default()
        };
        let from = a.ip.map_or(String::new(), |ip| format!(" from {ip}"));
        let inventory = Arc::clone(&self.inventory);
        if let Some(member) = inventory.staff_member(&a.account)
            && let Some(terminated) = member.terminated
            && now.millis() >= terminated.millis() + DAY
            && self.first_today(TERMINATED_LOGIN.id, &a.account, day)
        {
            out.push(TERMINATED_LOGIN.finding(
                &a.account,
                day,
                (now, now),
                entities(),
                format!(
                    "{} logged in{from} at {} ({}), {} after the account's termination on {}",
                    a.account,
                    clock(now),
                    a.place,
                    duration(now.millis() - terminated.millis()),
                    terminated.to_rfc3339().get(..10).unwrap_or("")
                ),
                vec![event.id],
            ));
        }
        if a.interactive
            && self.is_service_account(&a.account)
            && self.first_today(SERVICE_INTERACTIVE.id, &a.account, day)
        {
            out.push(SERVICE_INTERACTIVE.finding(
                &a.account,
                day,
                (now, now),
                entities(),
                format!(
                    "service account {} logged in interactively{from} at {} ({}); service accounts should only run unattended jobs",
                    a.account,
                    clock(now),
                    a.place
                ),
                vec![event.id],
            ));
        }
        if let Some(vendor) = inventory.vendor(&a.account) {
            let outside_hours = !vendor.allows(now);
            let unexpected_source = !vendor.sources.is_empty()
                && a.ip
                    .is_some_and(|ip| !vendor.sources.iter().any(|c| c.contains(ip)));
            if (outside_hours || unexpected_source)
                && self.first_today(VENDOR_OUTSIDE_CONTRACT.id, &a.account, day)
            {
                let mut why = Vec::new();
                if outside_hours {
                    why.push(format!("outside its contracted {}", vendor.contract_text()));
                }
                if unexpected_source {
                    why.push("from an address not on its contract".to_string());
                }
                out.push(VENDOR_OUTSIDE_CONTRACT.finding(
                    &a.account,
                    day,
                    (now, now),
                    AlertEntities {
                        vendor: Some(vendor.company.clone()),
                        ..entities()
                    },
                    format!(
                        "vendor account {} ({}) logged in{from} at {} ({}), {}",
                        a.account,
                        vendor.company,
                        clock(now),
                        a.place,
                        why.join(" and ")
                    ),
                    vec![event.id],
                ));
                self.vendor_sessions
                    .touch(a.account.clone(), now, || (a.account.clone(), day));
            }
        }
    }

    /// Whether (rule, key) has not raised an alert on `day` yet; marks it raised.
    fn first_today(&mut self, rule: &'static str, key: &str, day: Timestamp) -> bool {
        let slot = self
            .raised
            .touch((rule, key.to_string()), day, || Timestamp(i64::MIN));
        if *slot == day {
            false
        } else {
            *slot = day;
            true
        }
    }

    /// What a vendor does during an out-of-contract session (sudo, logoff) joins its alert.
    fn vendor_activity(&mut self, event: &Event, out: &mut Vec<Finding>) {
        let Some(name) = event.actor.user.name.as_deref() else {
            return;
        };
        let Some(account) = normalise_account(name) else {
            return;
        };
        let Some((key, day)) = self.vendor_sessions.get(&account, event.time).cloned() else {
            return;
        };
        let Some(vendor) = self.inventory.vendor(&account) else {
            return;
        };
        let what = event
            .unmapped
            .get("sudo.command")
            .and_then(|v| v.as_str())
            .map(|c| format!("ran `sudo {c}`"))
            .or_else(|| event.activity_name.clone())
            .unwrap_or_else(|| "activity".to_string());
        out.push(VENDOR_OUTSIDE_CONTRACT.finding(
            &key,
            day,
            (event.time, event.time),
            AlertEntities {
                user: Some(account.clone()),
                host: event.device.hostname.clone(),
                vendor: Some(vendor.company.clone()),
                ..Default::default()
            },
            format!(
                "vendor account {account} ({}) {what} at {}, outside its contracted {}",
                vendor.company,
                clock(event.time),
                vendor.contract_text()
            ),
            vec![event.id],
        ));
    }
}

fn failed_accounts(state: &SourceState) -> impl Iterator<Item = &str> {
    state
        .recent
        .iter()
        .filter(|t| t.sprayed())
        .map(|t| t.account.as_str())
}

/// Raises or extends the spray alert of `ip` when enough accounts failed from it and none of
/// them then succeeded from it: a shared egress address sees many failures too, but each is
/// followed by the person getting their password right.
fn spray(
    state: &mut SourceState,
    ip: IpAddr,
    event: &Event,
    opts: &CredentialOptions,
    out: &mut Vec<Finding>,
) {
    let now = event.time;
    if let Some(since) = state.spray_since {
        out.push(PASSWORD_SPRAY.finding(
            &ip.to_string(),
            since,
            (now, now),
            AlertEntities {
                src_ip: Some(ip.to_string()),
                host: event.device.hostname.clone(),
                ..Default::default()
            },
            spray_description(state, ip),
            vec![event.id],
        ));
        return;
    }
    let mut tally: HashMap<&str, (usize, bool)> = HashMap::new();
    for t in &state.recent {
        let entry = tally.entry(t.account.as_str()).or_default();
        match t.outcome {
            Outcome::Failure if t.known => entry.0 += 1,
            Outcome::Success if entry.0 > 0 => entry.1 = true,
            _ => {}
        }
    }
    let unresolved: Vec<usize> = tally
        .values()
        .filter(|(fails, ok)| *fails > 0 && !ok)
        .map(|(fails, _)| *fails)
        .collect();
    if unresolved.len() < opts.spray_accounts {
        return;
    }
    let per_account = unresolved.iter().sum::<usize>() as f64 / unresolved.len() as f64;
    if per_account > opts.spray_max_per_account {
        return;
    }
    let since = state
        .recent
        .iter()
        .find(|t| t.sprayed())
        .map_or(now, |t| t.time);
    state.spray_since = Some(since);
    let events = state
        .recent
        .iter()
        .filter(|t| t.sprayed())
        .map(|t| t.id)
        .collect();
    out.push(PASSWORD_SPRAY.finding(
        &ip.to_string(),
        since,
        (since, now),
        AlertEntities {
            src_ip: Some(ip.to_string()),
            host: event.device.hostname.clone(),
            ..Default::default()
        },
        spray_description(state, ip),
        events,
    ));
}

fn spray_description(state: &SourceState, ip: IpAddr) -> String {
    let failures: Vec<&Tried> = state.recent.iter().filter(|t| t.sprayed()).collect();
    let accounts: HashSet<&str> = failures.iter().map(|t| t.account.as_str()).collect();
    let (first, last) = match (failures.first(), failures.last()) {
        (Some(f), Some(l)) => (f.time, l.time),
        _ => return format!("password spraying from {ip}"),
    };
    let places: Vec<&str> = {
        let mut p: Vec<&str> = failures.iter().map(|t| t.place.as_str()).collect();
        p.sort_unstable();
        p.dedup();
        p
    };
    let gaps = if failures.len() > 1 {
        format!(
            ", about {} apart",
            duration((last.millis() - first.millis()) / (failures.len() as i64 - 1))
        )
    } else {
        String::new()
    };
    format!(
        "{} failed logins for {} from {ip} in {} ({}{gaps}), none of them followed by a success; at most {} per account",
        failures.len(),
        plural(accounts.len(), "account"),
        duration(last.millis() - first.millis()),
        places.join(", "),
        accounts
            .iter()
            .map(|a| failures.iter().filter(|t| t.account == *a).count())
            .max()
            .unwrap_or(0)
    )
}

fn brute_force(
    state: &mut SourceState,
    ip: IpAddr,
    event: &Event,
    a: &Attempt,
    opts: &CredentialOptions,
    out: &mut Vec<Finding>,
) {
    let now = event.time;
    let horizon = now.millis() - opts.brute_force_window_ms;
    let failures: Vec<&Tried> = state
        .recent
        .iter()
        .filter(|t| {
            t.account == a.account && t.outcome == Outcome::Failure && t.time.millis() >= horizon
        })
        .collect();
    if failures.len() < opts.brute_force_failures || state.brute_forced.contains(&a.account) {
        return;
    }
    let first = failures.first().map_or(now, |t| t.time);
    let mut events: Vec<EventId> = failures.iter().map(|t| t.id).collect();
    events.push(event.id);
    let description = format!(
        "{} failed logins for {} from {ip} in {}, then a successful login at {} ({})",
        failures.len(),
        a.account,
        duration(now.millis() - first.millis()),
        clock(now),
        a.place
    );
    state.brute_forced.insert(a.account.clone());
    out.push(BRUTE_FORCE_SUCCESS.finding(
        &format!("{ip}|{}", a.account),
        first,
        (first, now),
        AlertEntities {
            user: Some(a.account.clone()),
            src_ip: Some(ip.to_string()),
            host: event.device.hostname.clone(),
            ..Default::default()
        },
        description,
        events,
    ));
}

impl Detector for CredentialDetector {
    fn name(&self) -> &str {
        "credential"
    }

    fn observe(&mut self, event: &Event, out: &mut Vec<Finding>) {
        match attempt(event) {
            Some(mut a) => {
                // Only where the place matters: failures (sprays, brute force) are counted per
                // address and never looked up.
                if a.outcome != Outcome::Failure {
                    self.locate(&mut a);
                }
                self.by_source(event, &a, out);
                self.mfa_fatigue(event, &a, out);
                self.whereabouts(event, &a, out);
                self.account_policy(event, &a, out);
            }
            None => self.vendor_activity(event, out),
        }
    }

    fn advance(&mut self, now: Timestamp, _out: &mut Vec<Finding>) {
        self.sources.sweep(now);
        self.mfa.sweep(now);
        self.users.sweep(now);
        self.vendor_sessions.sweep(now);
        self.raised.sweep(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(minutes: i64) -> Timestamp {
        // 2026-11-03T00:00Z, a Tuesday.
        Timestamp(1_794_096_000_000 + minutes * MINUTE)
    }

    fn sshd(minute: i64, what: &str, user: &str, ip: &str) -> Event {
        let mut e = Event::from_record(
            "authlog",
            t(minute),
            format!("{minute}{what}{user}{ip}").into_bytes(),
        );
        e.class_uid = class::AUTHENTICATION;
        e.activity_id = auth_activity::LOGON;
        e.activity_name = Some(what.to_string());
        e.status = if what == "Accepted" {
            Status::Success
        } else {
            Status::Failure
        };
        e.actor.user.name = Some(user.to_string());
        e.actor.app_name = Some("sshd".into());
        e.src_endpoint.ip = Some(ip.to_string());
        e.device.hostname = Some("vpn-gw01".into());
        e.unmapped.insert("auth_method", json!("password"));
        e
    }

    fn signin(
        minute: i64,
        user: &str,
        ip: &str,
        mfa: Option<&str>,
        geo: (f64, f64, &str),
    ) -> Event {
        let mut e = Event::from_record(
            "entra",
            t(minute),
            format!("{minute}{user}{ip}{mfa:?}").into_bytes(),
        );
        e.class_uid = class::AUTHENTICATION;
        e.activity_id = auth_activity::LOGON;
        e.status = if mfa == Some("denied") {
            Status::Failure
        } else {
            Status::Success
        };
        e.metadata.event_code = Some(if mfa == Some("denied") { "500121" } else { "0" }.into());
        e.actor.user.name = Some(user.to_string());
        e.actor.app_name = Some("Office 365 Exchange Online".into());
        e.src_endpoint.ip = Some(ip.to_string());
        if let Some(m) = mfa {
            e.unmapped.insert("mfa.result", json!(m));
        }
        e.unmapped.insert("geo.lat", json!(geo.0));
        e.unmapped.insert("geo.lon", json!(geo.1));
        e.unmapped.insert("geo.country", json!(geo.2));
        e
    }

    fn run(detector: &mut CredentialDetector, events: &[Event]) -> Vec<Finding> {
        let mut out = Vec::new();
        for e in events {
            detector.observe(e, &mut out);
        }
        out
    }

    fn detector() -> CredentialDetector {
        CredentialDetector::new(Arc::new(Inventory::new()), CredentialOptions::default())
    }

    #[test]
    fn slow_spray_across_many_accounts_raises_one_alert() {
        let events: Vec<Event> = (0..30)
            .map(|i| sshd(i * 4, "Failed", &format!("u{}", 1000 + i), "194.165.16.38"))
            .collect();
        let out = run(&mut detector(), &events);
        assert!(out.iter().all(|f| f.alert.rule_id == PASSWORD_SPRAY.id));
        let ids: HashSet<&str> = out.iter().map(|f| f.alert.id.as_str()).collect();
        assert_eq!(ids.len(), 1, "one alert, extended");
        assert_eq!(
            out[0].events.len(),
            10,
            "the failures that crossed the threshold"
        );
        let d = out[0].alert.description.as_deref().unwrap();
        assert!(
            d.starts_with("10 failed logins for 10 accounts from 194.165.16.38 in 36 min"),
            "{d}"
        );
        assert_eq!(out.len(), 21);
    }

    #[test]
    fn shared_egress_with_mistyped_passwords_is_not_a_spray() {
        let mut events = Vec::new();
        for i in 0..40 {
            let user = format!("u{}", 1000 + i);
            events.push(sshd(i * 3, "Failed", &user, "203.0.113.10"));
            events.push(sshd(i * 3 + 1, "Accepted", &user, "203.0.113.10"));
        }
        assert!(run(&mut detector(), &events).is_empty());
    }

    #[test]
    fn scanners_guessing_invalid_users_are_not_a_spray() {
        let mut events: Vec<Event> = (0..30)
            .map(|i| {
                let mut e = sshd(i, "Failed", &format!("admin{i}"), "179.43.157.121");
                e.status_detail = Some("invalid user".into());
                e
            })
            .collect();
        events.push(sshd(31, "Failed", "root", "179.43.157.121"));
        let out = run(&mut detector(), &events);
        assert!(out.is_empty(), "{out:#?}");
    }

    #[test]
    fn brute_force_then_success_names_the_account_and_count() {
        let mut events: Vec<Event> = (0..57)
            .map(|i| sshd(i / 5, "Failed", "u1186", "91.240.118.133"))
            .collect();
        events.push(sshd(13, "Accepted", "u1186", "91.240.118.133"));
        let out = run(&mut detector(), &events);
        assert_eq!(out.len(), 1);
        let a = &out[0].alert;
        assert_eq!(a.rule_id, BRUTE_FORCE_SUCCESS.id);
        assert_eq!(a.entities.user.as_deref(), Some("u1186"));
        assert_eq!(out[0].events.len(), 58);
        assert!(a.description.as_deref().unwrap().starts_with(
            "57 failed logins for u1186 from 91.240.118.133 in 13 min, then a successful login"
        ));
        // A few failures before a success are a mistyped password.
        let few: Vec<Event> = vec![
            sshd(0, "Failed", "u1", "73.1.1.1"),
            sshd(1, "Failed", "u1", "73.1.1.1"),
            sshd(2, "Accepted", "u1", "73.1.1.1"),
        ];
        assert!(run(&mut detector(), &few).is_empty());
    }

    #[test]
    fn denied_pushes_then_approval_is_mfa_fatigue() {
        let bucharest = (44.43, 26.1, "RO");
        let mut events: Vec<Event> = (0..10)
            .map(|i| signin(i, "lisa@x.org", "89.38.97.169", Some("denied"), bucharest))
            .collect();
        events.push(signin(
            11,
            "lisa@x.org",
            "89.38.97.169",
            Some("success"),
            bucharest,
        ));
        let out = run(&mut detector(), &events);
        let fatigue: Vec<&Finding> = out
            .iter()
            .filter(|f| f.alert.rule_id == MFA_FATIGUE.id)
            .collect();
        assert_eq!(fatigue.len(), 1);
        assert_eq!(fatigue[0].events.len(), 11);
        let flood: Vec<&Finding> = out
            .iter()
            .filter(|f| f.alert.rule_id == MFA_PUSH_FLOOD.id)
            .collect();
        assert_eq!(flood.len(), 1, "the tenth denial raises the flood alert");
        assert_eq!(flood[0].events.len(), 10);
        assert!(
            fatigue[0]
                .alert
                .description
                .as_deref()
                .unwrap()
                .contains("denied 10 MFA pushes")
        );
        // One denial then approval is someone reaching for their phone.
        let normal = vec![
            signin(
                0,
                "a@x.org",
                "71.1.1.1",
                Some("denied"),
                (41.7, -73.7, "US"),
            ),
            signin(
                1,
                "a@x.org",
                "71.1.1.1",
                Some("success"),
                (41.7, -73.7, "US"),
            ),
        ];
        assert!(run(&mut detector(), &normal).is_empty());
    }

    #[test]
    fn impossible_travel_needs_speed_distance_and_an_unfamiliar_place() {
        let home = (41.78, -73.69, "US");
        let amsterdam = (52.37, 4.9, "NL");
        let events = vec![
            signin(0, "megan@x.org", "98.210.79.195", None, home),
            signin(98, "megan@x.org", "185.107.57.46", None, amsterdam),
        ];
        let out = run(&mut detector(), &events);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].alert.rule_id, IMPOSSIBLE_TRAVEL.id);
        let d = out[0].alert.description.as_deref().unwrap();
        assert!(
            d.contains("then from NL (185.107.57.46) 1 h 38 min later"),
            "{d}"
        );
        // Coming home to a familiar network is not reported again.
        let mut det = detector();
        let back = vec![
            signin(0, "m@x.org", "98.210.79.195", None, home),
            signin(600, "m@x.org", "185.107.57.46", None, amsterdam),
            signin(2000, "m@x.org", "98.210.79.195", None, home),
        ];
        assert!(
            run(&mut det, &back).is_empty(),
            "slow enough, then familiar"
        );
    }

    /// The simulated hospital's GeoIP and ASN databases, read back.
    fn simulated_geoip(with_asn: bool) -> Arc<GeoIp> {
        let dir = tempfile::tempdir().unwrap();
        ward_simulate::geoip::write(dir.path(), 0).unwrap();
        let read = |name: &str| std::fs::read(dir.path().join(name)).unwrap();
        let mut geoip = GeoIp::city(read("geoip.mmdb")).unwrap();
        if with_asn {
            geoip = geoip.with_asn(read("geoip-asn.mmdb")).unwrap();
        }
        Arc::new(geoip)
    }

    fn with_geoip(geoip: Arc<GeoIp>) -> CredentialDetector {
        CredentialDetector::new(
            Arc::new(Inventory::new()),
            CredentialOptions {
                geoip: Some(geoip),
                ..Default::default()
            },
        )
    }

    fn rdp(minute: i64, user: &str, ip: &str) -> Event {
        let mut e = Event::from_record(
            "windows",
            t(minute),
            format!("{minute}{user}{ip}").into_bytes(),
        );
        e.class_uid = class::AUTHENTICATION;
        e.activity_id = auth_activity::LOGON;
        e.status = Status::Success;
        e.metadata.event_code = Some("4624".into());
        e.actor.user.name = Some(format!("WGH\\{user}"));
        e.src_endpoint.ip = Some(ip.to_string());
        e.device.hostname = Some("ts01".into());
        e.unmapped.insert("LogonType", json!(10));
        e
    }

    #[test]
    fn impossible_travel_between_vpn_and_rdp_logins_comes_from_the_geoip_database() {
        // sshd and Windows logins carry no location of their own.
        let vpn = vec![
            sshd(0, "Accepted", "u1186", "73.12.40.7"),
            sshd(95, "Accepted", "u1186", "91.219.236.77"),
        ];
        let remote = vec![
            rdp(0, "u1200", "98.210.3.4"),
            rdp(60, "u1200", "102.89.34.70"),
        ];
        for events in [&vpn, &remote] {
            assert!(
                run(&mut detector(), events).is_empty(),
                "without a database there is no place, so no travel"
            );
        }
        let out = run(&mut with_geoip(simulated_geoip(false)), &vpn);
        assert_eq!(out.len(), 1, "{out:#?}");
        assert_eq!(out[0].alert.rule_id, IMPOSSIBLE_TRAVEL.id);
        assert_eq!(
            out[0].alert.entities.src_ip.as_deref(),
            Some("91.219.236.77")
        );
        let d = out[0].alert.description.as_deref().unwrap();
        assert!(
            d.starts_with("u1186 signed in from Millbrook, US (73.12.40.7) at ")
                && d.contains("then from Moscow, RU (91.219.236.77) 1 h 35 min later"),
            "{d}"
        );
        assert!(d.ends_with("; places from the GeoIP database"), "{d}");
        assert_eq!(out[0].events, [vpn[0].id, vpn[1].id]);

        let mut det = with_geoip(simulated_geoip(true));
        let out = run(&mut det, &remote);
        assert_eq!(out.len(), 1, "{out:#?}");
        assert_eq!(out[0].alert.rule_id, IMPOSSIBLE_TRAVEL.id);
        assert!(
            out[0]
                .alert
                .description
                .as_deref()
                .unwrap()
                .contains("Lagos, NG")
        );
        assert_eq!(det.geoip_lookups(), Some((0, 2, 0)));
        // Internal addresses are never looked up, failures neither.
        run(
            &mut det,
            &[
                rdp(70, "u1200", "10.40.3.3"),
                sshd(71, "Failed", "u1200", "91.219.236.78"),
            ],
        );
        assert_eq!(det.geoip_lookups(), Some((0, 2, 0)));
    }

    #[test]
    fn a_location_the_sign_in_carries_wins_over_the_database() {
        // Entra says Amsterdam; the database would say Moscow: the source knows better.
        let mut det = with_geoip(simulated_geoip(false));
        let events = vec![
            signin(0, "m@x.org", "73.12.40.7", None, (41.78, -73.69, "US")),
            signin(98, "m@x.org", "91.219.236.77", None, (52.37, 4.9, "NL")),
        ];
        let out = run(&mut det, &events);
        assert_eq!(out.len(), 1);
        let d = out[0].alert.description.as_deref().unwrap();
        assert!(d.contains("then from NL (91.219.236.77)"), "{d}");
        assert!(!d.contains("GeoIP"), "{d}");
    }

    #[test]
    fn with_an_asn_database_a_new_address_of_the_same_provider_is_not_a_new_network() {
        let options = |geoip| CredentialOptions {
            new_network_after_ms: Some(DAY),
            geoip,
            ..Default::default()
        };
        let events = vec![
            sshd(0, "Accepted", "u1", "73.12.1.1"),
            sshd(1440, "Accepted", "u1", "73.12.1.1"),
            sshd(2 * 1440, "Accepted", "u1", "73.12.1.1"),
            // The provider gave the home router another address, in another /24.
            sshd(3 * 1440, "Accepted", "u1", "73.12.77.3"),
            // A rented server abroad, two days later: a new network (and a new country).
            sshd(5 * 1440, "Accepted", "u1", "185.107.57.46"),
        ];
        let rules = |geoip| {
            let mut det = CredentialDetector::new(Arc::new(Inventory::new()), options(geoip));
            run(&mut det, &events)
                .into_iter()
                .map(|f| {
                    (
                        f.alert.rule_id,
                        f.alert.entities.src_ip.unwrap_or_default(),
                        f.alert.description.unwrap_or_default(),
                    )
                })
                .collect::<Vec<_>>()
        };
        let without = rules(None);
        assert_eq!(
            without.iter().map(|r| r.1.as_str()).collect::<Vec<_>>(),
            ["73.12.77.3", "185.107.57.46"],
            "by /24 both are new"
        );
        let with = rules(Some(simulated_geoip(true)));
        assert_eq!(with.len(), 1, "{with:#?}");
        assert_eq!(with[0].0, NEW_NETWORK.id);
        assert_eq!(with[0].1, "185.107.57.46");
        assert!(
            with[0]
                .2
                .contains("(sshd on vpn-gw01, AS64504 Rented Virtual Servers)")
                && with[0].2.contains("in a country never used before (NL)"),
            "{}",
            with[0].2
        );
    }

    #[test]
    fn new_network_only_after_a_baseline_of_time_and_days() {
        let options = || CredentialOptions {
            new_network_after_ms: Some(DAY),
            ..Default::default()
        };
        let mut det = CredentialDetector::new(Arc::new(Inventory::new()), options());
        let events = vec![
            sshd(0, "Accepted", "u1", "73.1.1.1"),
            sshd(60, "Accepted", "u1", "74.1.1.1"),
            sshd(1440, "Accepted", "u1", "73.1.1.2"),
            sshd(2 * 1440, "Accepted", "u1", "73.1.1.9"),
            sshd(2 * 1440 + 5, "Accepted", "u1", "81.2.2.2"),
        ];
        let out = run(&mut det, &events);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].alert.rule_id, NEW_NETWORK.id);
        assert_eq!(out[0].alert.entities.src_ip.as_deref(), Some("81.2.2.2"));
        // Two days of history are not a baseline: the first evening at home is not news.
        let mut det = CredentialDetector::new(Arc::new(Inventory::new()), options());
        let short = [&events[..2], &events[3..]].concat();
        assert!(run(&mut det, &short).is_empty());
    }

    #[test]
    fn a_new_network_in_a_familiar_city_is_not_news_but_a_new_city_is() {
        let mut det = detector();
        let hospital = (41.78, -73.69, "US");
        let home = (41.80, -73.70, "US");
        let chicago = (41.88, -87.63, "US");
        let day = 1440;
        let events = vec![
            signin(0, "m@x.org", "203.0.113.10", None, hospital),
            signin(day, "m@x.org", "203.0.113.10", None, hospital),
            signin(2 * day, "m@x.org", "203.0.113.10", None, hospital),
            signin(8 * day, "m@x.org", "98.1.1.1", None, home),
            signin(9 * day, "m@x.org", "45.1.1.1", None, chicago),
        ];
        let out = run(&mut det, &events);
        assert_eq!(out.len(), 1, "{out:#?}");
        assert_eq!(out[0].alert.rule_id, NEW_NETWORK.id);
        assert_eq!(out[0].alert.entities.src_ip.as_deref(), Some("45.1.1.1"));
    }

    #[test]
    fn terminated_service_and_vendor_accounts() {
        let roster = Inventory::parse_roster(
            "login,name,department,role,hire_date,termination_date,status\n\
             u1007,Hannah Robinson,MED,physician,2019-01-01,2026-08-12,terminated\n",
        )
        .unwrap();
        let vendors = Inventory::parse_vendors(
            "account,company,source_ip,days,hours_utc,systems\n\
             vnd-pacs,ClearView Imaging,198.51.100.77,Mon-Fri,09:00-17:00,pacs\n",
        )
        .unwrap();
        let inv = Arc::new(Inventory::new().with_staff(roster).with_vendors(vendors));
        let mut det = CredentialDetector::new(inv, CredentialOptions::default());
        let mut sudo = Event::from_record("authlog", t(150), b"sudo".to_vec());
        sudo.class_uid = class::PROCESS_ACTIVITY;
        sudo.actor.user.name = Some("vnd-pacs".into());
        sudo.unmapped
            .insert("sudo.command", json!("/usr/sbin/useradd support2"));
        let events = vec![
            sshd(19 * 60, "Accepted", "u1007", "73.12.134.45"),
            sshd(19 * 60 + 30, "Accepted", "u1007", "73.12.134.45"),
            sshd(140, "Accepted", "vnd-pacs", "198.51.100.77"),
            sudo,
            sshd(10 * 60, "Accepted", "vnd-pacs", "198.51.100.77"),
            sshd(11 * 60, "Accepted", "svc-backup", "10.40.0.5"),
        ];
        let out = run(&mut det, &events);
        let rules: Vec<&str> = out.iter().map(|f| f.alert.rule_id.as_str()).collect();
        assert_eq!(
            rules,
            [
                TERMINATED_LOGIN.id,
                VENDOR_OUTSIDE_CONTRACT.id,
                VENDOR_OUTSIDE_CONTRACT.id,
                SERVICE_INTERACTIVE.id
            ]
        );
        assert_eq!(
            out[1].alert.id, out[2].alert.id,
            "the sudo joins the vendor's alert"
        );
        assert!(
            out[2]
                .alert
                .description
                .as_deref()
                .unwrap()
                .contains("sudo /usr/sbin/useradd")
        );
        assert!(
            out[1]
                .alert
                .description
                .as_deref()
                .unwrap()
                .contains("outside its contracted Mon-Fri 09:00-17:00 UTC")
        );
    }

    #[test]
    fn state_stays_bounded_under_a_flood_of_sources() {
        let mut det = CredentialDetector::new(
            Arc::new(Inventory::new()),
            CredentialOptions {
                max_entities: 1_000,
                ..Default::default()
            },
        );
        let mut out = Vec::new();
        for i in 0..50_000u32 {
            let ip = std::net::Ipv4Addr::from(0x0b00_0000 + i).to_string();
            det.observe(
                &sshd(i64::from(i) / 100, "Failed", &format!("u{i}"), &ip),
                &mut out,
            );
        }
        assert!(det.sources.len() <= 1_000);
        assert!(out.is_empty());
    }

    #[test]
    fn events_without_accounts_or_addresses_are_ignored_without_panic() {
        let mut det = detector();
        let mut out = Vec::new();
        let mut e = Event {
            class_uid: class::AUTHENTICATION,
            activity_id: auth_activity::LOGON,
            status: Status::Failure,
            ..Default::default()
        };
        det.observe(&e, &mut out);
        e.actor.user.name = Some("WS-1$".into());
        e.src_endpoint.ip = Some("not an ip".into());
        det.observe(&e, &mut out);
        e.actor.user.name = Some("x".into());
        e.unmapped.insert("geo.lat", json!("NaN"));
        det.observe(&e, &mut out);
        assert!(out.is_empty());
    }
}
