//! The `[notify]` settings, read from TOML: channels, routes, the on-call schedule, quiet
//! hours and the retry policy. Unknown keys are refused (a misspelt `phi_aproved` must not
//! silently leave a channel unapproved or, worse, be ignored while the operator believes it
//! set). Secrets are named by environment variable (`secret_env`, `password_env`) so the file
//! can be shared; an inline `secret` exists for tests and is discouraged.
//!
//! Local time (handoffs, quiet hours) is the site's IANA time zone (`time_zone =
//! "America/New_York"`, daylight saving time included, from `chrono-tz`'s copy of the tz
//! database), or a fixed `utc_offset` when no zone is named.

use crate::error::ConfigError;
use chrono::{FixedOffset, NaiveDate, NaiveTime};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::path::PathBuf;
use ward_model::{Severity, Timestamp};

/// Everything the notifier is configured with.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// The console's public address, for links in messages (`https://ward.clinic.example`).
    #[serde(default)]
    pub console_url: Option<String>,
    /// The site's time zone for handoffs and quiet hours (`"Europe/Berlin"`); wins over
    /// `utc_offset`.
    #[serde(default)]
    pub time_zone: Option<TimeZone>,
    /// A fixed offset of the site's local time (`"+01:00"`), when no `time_zone` is named.
    #[serde(default)]
    pub utc_offset: UtcOffset,
    #[serde(default)]
    pub channels: BTreeMap<String, ChannelConfig>,
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    #[serde(default)]
    pub oncall: Option<OnCallConfig>,
    #[serde(default)]
    pub quiet_hours: Option<QuietHours>,
    #[serde(default)]
    pub retry: RetryPolicy,
}

impl NotifyConfig {
    /// Parses and checks settings: every route and person names a configured channel, every
    /// webhook has a signing secret, times and offsets are well formed.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: NotifyConfig = toml::from_str(text)?;
        config.check()?;
        Ok(config)
    }

    pub fn check(&self) -> Result<(), ConfigError> {
        for (name, channel) in &self.channels {
            if name.is_empty() || name.contains('|') {
                return Err(ConfigError::invalid(
                    format!("channels.{name}"),
                    "a channel name must be non-empty and must not contain `|`",
                ));
            }
            channel.check(name)?;
        }
        let known = |setting: String, channel: &str| -> Result<(), ConfigError> {
            if self.channels.contains_key(channel) {
                Ok(())
            } else {
                Err(ConfigError::invalid(
                    setting,
                    format!("names channel `{channel}`, which is not configured under [channels]"),
                ))
            }
        };
        for (i, route) in self.routes.iter().enumerate() {
            for channel in &route.channels {
                known(format!("routes[{i}].channels"), channel)?;
                if let Some(ChannelConfig::Email(c)) = self.channels.get(channel)
                    && c.to.is_empty()
                {
                    return Err(ConfigError::invalid(
                        format!("channels.{channel}.to"),
                        format!(
                            "routes[{i}] sends to this e-mail channel, which has no recipients"
                        ),
                    ));
                }
            }
            if route.digest_minutes == Some(0) {
                return Err(ConfigError::invalid(
                    format!("routes[{i}].digest_minutes"),
                    "must be at least 1",
                ));
            }
            if route.page_oncall && self.oncall.is_none() {
                return Err(ConfigError::invalid(
                    format!("routes[{i}].page_oncall"),
                    "pages the on-call person, but there is no [oncall] schedule",
                ));
            }
        }
        if let Some(oncall) = &self.oncall {
            if oncall.people.is_empty() {
                return Err(ConfigError::invalid(
                    "oncall.people",
                    "the rotation needs at least one person",
                ));
            }
            if oncall.rotation_days == 0 {
                return Err(ConfigError::invalid(
                    "oncall.rotation_days",
                    "must be at least 1",
                ));
            }
            if oncall.escalate_after_minutes == 0 {
                return Err(ConfigError::invalid(
                    "oncall.escalate_after_minutes",
                    "must be at least 1",
                ));
            }
            for (i, person) in oncall.people.iter().enumerate() {
                known(format!("oncall.people[{i}].channel"), &person.channel)?;
                if matches!(
                    self.channels.get(&person.channel),
                    Some(ChannelConfig::Email(_))
                ) && person.address.is_none()
                {
                    return Err(ConfigError::invalid(
                        format!("oncall.people[{i}].address"),
                        "an e-mail channel needs the person's address",
                    ));
                }
            }
            for (i, o) in oncall.overrides.iter().enumerate() {
                if !oncall.people.iter().any(|p| p.name == o.person) {
                    return Err(ConfigError::invalid(
                        format!("oncall.overrides[{i}].person"),
                        format!("`{}` is not one of oncall.people", o.person),
                    ));
                }
                if o.until <= o.from {
                    return Err(ConfigError::invalid(
                        format!("oncall.overrides[{i}]"),
                        "`until` must be after `from`",
                    ));
                }
            }
        }
        let r = &self.retry;
        if r.first_delay_seconds == 0 || r.max_delay_seconds < r.first_delay_seconds {
            return Err(ConfigError::invalid(
                "retry",
                "first_delay_seconds must be at least 1 and at most max_delay_seconds",
            ));
        }
        Ok(())
    }
}

/// An IANA time zone name (`America/Chicago`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone(pub chrono_tz::Tz);

impl<'de> Deserialize<'de> for TimeZone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse::<chrono_tz::Tz>().map(TimeZone).map_err(|_| {
            serde::de::Error::custom(format!(
                "not a time zone: {text:?} (write an IANA name such as \"America/New_York\")"
            ))
        })
    }
}

/// The site's local time: a named zone (with its daylight saving rules) or a fixed offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Named(chrono_tz::Tz),
    Fixed(UtcOffset),
}

impl Zone {
    /// The local wall-clock time at `now`.
    pub fn local(self, now: Timestamp) -> chrono::NaiveDateTime {
        use chrono::TimeZone as _;
        let utc = chrono::DateTime::from_timestamp_millis(now.millis())
            .unwrap_or_default()
            .naive_utc();
        match self {
            Zone::Named(tz) => tz.from_utc_datetime(&utc).naive_local(),
            Zone::Fixed(offset) => offset.0.from_utc_datetime(&utc).naive_local(),
        }
    }

    /// The instant a local wall-clock time names: the earlier one when the clock goes back
    /// (the hour repeats), and for a time the clock skipped (it went forward), the same
    /// wall-clock time an hour later.
    pub fn instant(self, local: chrono::NaiveDateTime) -> Timestamp {
        use chrono::TimeZone as _;
        let pick = |l: chrono::NaiveDateTime| -> Option<i64> {
            match self {
                Zone::Named(tz) => tz
                    .from_local_datetime(&l)
                    .earliest()
                    .map(|t| t.timestamp_millis()),
                Zone::Fixed(offset) => offset
                    .0
                    .from_local_datetime(&l)
                    .earliest()
                    .map(|t| t.timestamp_millis()),
            }
        };
        let millis = pick(local)
            .or_else(|| pick(local + chrono::Duration::hours(1)))
            .unwrap_or_else(|| local.and_utc().timestamp_millis());
        Timestamp(millis)
    }
}

impl NotifyConfig {
    /// The site's local time.
    pub fn zone(&self) -> Zone {
        match self.time_zone {
            Some(TimeZone(tz)) => Zone::Named(tz),
            None => Zone::Fixed(self.utc_offset),
        }
    }
}

/// A UTC offset written `+HH:MM`, `-HH:MM` or `Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcOffset(pub FixedOffset);

impl Default for UtcOffset {
    fn default() -> Self {
        UtcOffset(FixedOffset::east_opt(0).expect("zero offset"))
    }
}

impl UtcOffset {
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text == "Z" || text == "UTC" {
            return Some(UtcOffset::default());
        }
        let (sign, rest) = match text.as_bytes().first()? {
            b'+' => (1, &text[1..]),
            b'-' => (-1, &text[1..]),
            _ => return None,
        };
        let (h, m) = rest.split_once(':')?;
        let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
        if !(0..=14).contains(&h) || !(0..60).contains(&m) {
            return None;
        }
        FixedOffset::east_opt(sign * (h * 3600 + m * 60)).map(UtcOffset)
    }

    pub fn seconds(self) -> i64 {
        i64::from(self.0.local_minus_utc())
    }
}

impl<'de> Deserialize<'de> for UtcOffset {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        UtcOffset::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "not a UTC offset: {text:?} (write \"+01:00\", \"-05:00\" or \"Z\")"
            ))
        })
    }
}

/// A local time of day written `HH:MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime(pub NaiveTime);

impl LocalTime {
    pub fn seconds(self) -> i64 {
        use chrono::Timelike;
        i64::from(self.0.num_seconds_from_midnight())
    }
}

impl<'de> Deserialize<'de> for LocalTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        NaiveTime::parse_from_str(text.trim(), "%H:%M")
            .map(LocalTime)
            .map_err(|_| serde::de::Error::custom(format!("not a time of day: {text:?} (HH:MM)")))
    }
}

/// One configured channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChannelConfig {
    Email(EmailChannel),
    Webhook(WebhookChannel),
    Slack(ChatChannel),
    Teams(ChatChannel),
    Syslog(SyslogChannel),
}

impl ChannelConfig {
    /// Whether the channel may carry patient identities.
    pub fn phi_approved(&self) -> bool {
        match self {
            ChannelConfig::Email(c) => c.phi_approved,
            ChannelConfig::Webhook(c) => c.phi_approved,
            ChannelConfig::Slack(c) | ChannelConfig::Teams(c) => c.phi_approved,
            ChannelConfig::Syslog(c) => c.phi_approved,
        }
    }

    /// Whether updates of an alert already sent (count, last seen) are sent too.
    pub fn send_updates(&self) -> bool {
        match self {
            ChannelConfig::Email(c) => c.send_updates,
            ChannelConfig::Webhook(c) => c.send_updates,
            ChannelConfig::Slack(c) | ChannelConfig::Teams(c) => c.send_updates,
            ChannelConfig::Syslog(c) => c.send_updates,
        }
    }

    /// People read it (quiet hours apply); machines (SIEMs, webhooks) get everything at once.
    pub fn for_people(&self) -> bool {
        matches!(
            self,
            ChannelConfig::Email(_) | ChannelConfig::Slack(_) | ChannelConfig::Teams(_)
        )
    }

    fn check(&self, name: &str) -> Result<(), ConfigError> {
        let setting = |field: &str| format!("channels.{name}.{field}");
        match self {
            ChannelConfig::Email(c) => {
                if c.server.trim().is_empty() {
                    return Err(ConfigError::invalid(setting("server"), "is empty"));
                }
                for (field, template) in [
                    ("subject_template", &c.subject_template),
                    ("body_template", &c.body_template),
                ] {
                    if let Some(template) = template {
                        crate::render::template::check(template)
                            .map_err(|reason| ConfigError::invalid(setting(field), reason))?;
                    }
                }
                if c.from.parse::<lettre::message::Mailbox>().is_err() {
                    return Err(ConfigError::invalid(
                        setting("from"),
                        "is not an e-mail address",
                    ));
                }
                for to in &c.to {
                    if to.parse::<lettre::message::Mailbox>().is_err() {
                        return Err(ConfigError::invalid(
                            setting("to"),
                            format!("{to:?} is not an e-mail address"),
                        ));
                    }
                }
                if c.username.is_some() != c.password_env.is_some() {
                    return Err(ConfigError::invalid(
                        setting("username"),
                        "username and password_env go together",
                    ));
                }
            }
            ChannelConfig::Webhook(c) => {
                check_url(&setting("url"), &c.url)?;
                if c.secret.is_none() && c.secret_env.is_none() {
                    return Err(ConfigError::invalid(
                        setting("secret_env"),
                        "a webhook needs a signing secret (secret_env names the variable holding it)",
                    ));
                }
            }
            ChannelConfig::Slack(c) | ChannelConfig::Teams(c) => {
                check_url(&setting("url"), &c.url)?;
            }
            ChannelConfig::Syslog(c) => {
                if crate::send::split_host_port(&c.address).is_none() {
                    return Err(ConfigError::invalid(
                        setting("address"),
                        "must be host:port",
                    ));
                }
                if c.facility > 23 {
                    return Err(ConfigError::invalid(setting("facility"), "must be 0..=23"));
                }
            }
        }
        Ok(())
    }
}

fn check_url(setting: &str, url: &str) -> Result<(), ConfigError> {
    let uri: hyper::Uri = url
        .parse()
        .map_err(|_| ConfigError::invalid(setting, "is not a URL"))?;
    match uri.scheme_str() {
        Some("https") | Some("http") if uri.host().is_some() => Ok(()),
        _ => Err(ConfigError::invalid(
            setting,
            "must be an http:// or https:// URL with a host",
        )),
    }
}

/// How an SMTP connection is secured. Plain SMTP is not offered: alerts name people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// Port 587: plain connection upgraded with STARTTLS, which is required.
    #[default]
    Starttls,
    /// Port 465: TLS from the first byte.
    Tls,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailChannel {
    pub server: String,
    /// Default 587 for STARTTLS, 465 for TLS.
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub security: SmtpSecurity,
    #[serde(default)]
    pub username: Option<String>,
    /// The environment variable holding the SMTP password.
    #[serde(default)]
    pub password_env: Option<String>,
    pub from: String,
    /// Recipients of routed alerts (pages go to the person on call).
    #[serde(default)]
    pub to: Vec<String>,
    /// The subject, with placeholders (`render::template`): default `[Ward] {severity_upper}:
    /// {title}`. Subjects show on lock screens and stay in mail logs: keep patients out.
    #[serde(default)]
    pub subject_template: Option<String>,
    /// The body, with placeholders; default the full alert text.
    #[serde(default)]
    pub body_template: Option<String>,
    /// PEM file of extra trusted certificate authorities (a private relay).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub phi_approved: bool,
    #[serde(default)]
    pub send_updates: bool,
}

/// The body a generic webhook receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyFormat {
    /// Ward's own alert JSON (`schema: "ward.alert.v1"`).
    #[default]
    Json,
    /// OCSF Detection Finding (class 2004).
    Ocsf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookChannel {
    pub url: String,
    /// The environment variable holding the HMAC key.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// The HMAC key inline (tests; prefer `secret_env`).
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub format: BodyFormat,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub phi_approved: bool,
    #[serde(default = "yes")]
    pub send_updates: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatChannel {
    /// The incoming-webhook URL Slack or Teams gave (it is the credential: keep the file
    /// private).
    pub url: String,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub phi_approved: bool,
    #[serde(default)]
    pub send_updates: bool,
}

/// What a syslog line carries after its RFC 5424 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyslogFormat {
    #[default]
    Cef,
    Json,
    Ocsf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogChannel {
    /// `host:port` of the collector.
    pub address: String,
    /// TLS (RFC 5425); plain TCP only when false.
    #[serde(default = "yes")]
    pub tls: bool,
    /// The name the collector's certificate must carry (default: the host of `address`).
    #[serde(default)]
    pub server_name: Option<String>,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub format: SyslogFormat,
    /// RFC 5424 facility (default 10, security/authorization).
    #[serde(default = "authpriv")]
    pub facility: u8,
    /// HOSTNAME in the header (default `ward`).
    #[serde(default = "ward")]
    pub hostname: String,
    #[serde(default)]
    pub phi_approved: bool,
    #[serde(default = "yes")]
    pub send_updates: bool,
}

fn yes() -> bool {
    true
}

fn authpriv() -> u8 {
    10
}

fn ward() -> String {
    "ward".into()
}

/// Which alerts go where. An alert goes to the channels of every route it matches, once per
/// channel; a route with `digest_minutes` gathers its alerts into one message per interval,
/// unless another matching route sends the alert to that channel at once.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// For display and error messages.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub min_severity: Option<Severity>,
    #[serde(default)]
    pub max_severity: Option<Severity>,
    /// Rule id prefixes (`privacy.`, `threat.credential`); empty matches every rule.
    #[serde(default)]
    pub rule_prefixes: Vec<String>,
    /// Matches alerts naming this value as any entity (user, host, address …).
    #[serde(default)]
    pub entity: Option<String>,
    /// Matches alerts whose evidence came from one of these sources: the events'
    /// `metadata.product` (`fhir`, `atna`, `hl7`, `authlog`, `windows`, `zeek`, `entra` …, as
    /// `ward events --json` shows it); empty matches every alert.
    #[serde(default)]
    pub sources: Vec<String>,
    #[serde(default)]
    pub channels: Vec<String>,
    /// Also page the person on call (escalating while unacknowledged).
    #[serde(default)]
    pub page_oncall: bool,
    #[serde(default)]
    pub digest_minutes: Option<u32>,
}

/// A weekly (or any number of days) rotation, with overrides and escalation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnCallConfig {
    /// In rotation order; escalation goes to the next in this order.
    pub people: Vec<Person>,
    /// The local date on which `people[0]` takes the first shift, at `handoff`.
    pub start: NaiveDate,
    /// Local time of day of the handoff.
    pub handoff: LocalTime,
    #[serde(default = "week")]
    pub rotation_days: u32,
    #[serde(default)]
    pub overrides: Vec<Override>,
    /// Unacknowledged pages escalate to the next person after this long.
    #[serde(default = "fifteen")]
    pub escalate_after_minutes: u32,
    /// Pages of at least this severity escalate.
    #[serde(default = "high")]
    pub escalate_min_severity: Severity,
}

fn week() -> u32 {
    7
}

fn fifteen() -> u32 {
    15
}

fn high() -> Severity {
    Severity::High
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    pub name: String,
    /// The channel that pages this person.
    pub channel: String,
    /// The person's address on that channel (an e-mail address for e-mail channels).
    #[serde(default)]
    pub address: Option<String>,
}

/// Someone covering the rotation for a while (holidays, swaps).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    pub person: String,
    pub from: Timestamp,
    pub until: Timestamp,
}

/// Alerts of at most `max_severity` that arrive in quiet hours wait until they end (on
/// channels read by people).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    pub start: LocalTime,
    pub end: LocalTime,
    #[serde(default = "low")]
    pub max_severity: Severity,
}

fn low() -> Severity {
    Severity::Low
}

/// Retries: the n-th failed attempt waits `first_delay × 2^(n-1)`, at most `max_delay`; a
/// delivery older than `give_up_after_hours` is abandoned; a channel that has failed without
/// a success for `channel_failed_after_minutes` raises an alert.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    #[serde(default = "thirty")]
    pub first_delay_seconds: u64,
    #[serde(default = "hour")]
    pub max_delay_seconds: u64,
    #[serde(default = "three_days")]
    pub give_up_after_hours: u64,
    #[serde(default = "ten")]
    pub channel_failed_after_minutes: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first_delay_seconds: thirty(),
            max_delay_seconds: hour(),
            give_up_after_hours: three_days(),
            channel_failed_after_minutes: ten(),
        }
    }
}

impl RetryPolicy {
    /// The delay after `attempts` failed attempts (1 for the first failure).
    pub fn delay_ms(&self, attempts: u32) -> i64 {
        let doublings = attempts.saturating_sub(1).min(32);
        let delay = self
            .first_delay_seconds
            .saturating_mul(1u64 << doublings)
            .min(self.max_delay_seconds);
        i64::try_from(delay.saturating_mul(1000)).unwrap_or(i64::MAX)
    }
}

fn thirty() -> u64 {
    30
}

fn hour() -> u64 {
    3600
}

fn three_days() -> u64 {
    72
}

fn ten() -> u64 {
    10
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
        console_url = "https://ward.clinic.example"
        utc_offset = "-05:00"

        [channels.it-mail]
        kind = "email"
        server = "smtp.clinic.example"
        from = "ward@clinic.example"
        to = ["it@clinic.example"]

        [channels.mdr]
        kind = "syslog"
        address = "siem.mdr.example:6514"

        [channels.hook]
        kind = "webhook"
        url = "https://hooks.example/ward"
        secret_env = "WARD_HOOK_SECRET"
        format = "ocsf"

        [[routes]]
        name = "everything to the MDR"
        channels = ["mdr"]

        [[routes]]
        name = "urgent"
        min_severity = "high"
        channels = ["it-mail", "hook"]
        page_oncall = true

        [oncall]
        start = "2026-01-05"
        handoff = "08:00"
        people = [
            { name = "alice", channel = "it-mail", address = "alice@clinic.example" },
            { name = "bob", channel = "it-mail", address = "bob@clinic.example" },
        ]

        [quiet_hours]
        start = "22:00"
        end = "07:00"
    "#;

    #[test]
    fn sample_settings_parse_with_defaults() {
        let c = NotifyConfig::from_toml(SAMPLE).unwrap();
        assert_eq!(c.utc_offset.seconds(), -5 * 3600);
        assert_eq!(c.channels.len(), 3);
        let Some(ChannelConfig::Syslog(s)) = c.channels.get("mdr") else {
            panic!("mdr is a syslog channel")
        };
        assert!(s.tls && s.send_updates && !s.phi_approved);
        assert_eq!(s.facility, 10);
        assert_eq!(s.format, SyslogFormat::Cef);
        let oncall = c.oncall.unwrap();
        assert_eq!(oncall.rotation_days, 7);
        assert_eq!(oncall.escalate_min_severity, Severity::High);
        assert_eq!(c.quiet_hours.unwrap().max_severity, Severity::Low);
        assert_eq!(c.routes[1].min_severity, Some(Severity::High));
    }

    #[test]
    fn misspelt_keys_are_refused() {
        let text = SAMPLE.replace("kind = \"syslog\"", "kind = \"syslog\"\nphi_aproved = true");
        let err = NotifyConfig::from_toml(&text).unwrap_err().to_string();
        assert!(err.contains("phi_aproved"), "{err}");
        let text = SAMPLE.replace("console_url", "consol_url");
        assert!(NotifyConfig::from_toml(&text).is_err());
    }

    #[test]
    fn a_route_to_an_unknown_channel_is_refused() {
        let text = SAMPLE.replace("channels = [\"mdr\"]", "channels = [\"mdrr\"]");
        let err = NotifyConfig::from_toml(&text).unwrap_err().to_string();
        assert!(err.contains("mdrr") && err.contains("routes[0]"), "{err}");
    }

    #[test]
    fn a_webhook_without_a_secret_is_refused() {
        let text = SAMPLE.replace("secret_env = \"WARD_HOOK_SECRET\"", "");
        let err = NotifyConfig::from_toml(&text).unwrap_err().to_string();
        assert!(err.contains("signing secret"), "{err}");
    }

    #[test]
    fn offsets_parse_and_bad_ones_fail() {
        assert_eq!(UtcOffset::parse("+05:30").unwrap().seconds(), 19_800);
        assert_eq!(UtcOffset::parse("Z").unwrap().seconds(), 0);
        assert!(UtcOffset::parse("05:00").is_none());
        assert!(UtcOffset::parse("+25:00").is_none());
    }

    #[test]
    fn retry_delays_double_and_are_capped() {
        let r = RetryPolicy::default();
        let delays: Vec<_> = (1..=9).map(|n| r.delay_ms(n) / 1000).collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(r.delay_ms(u32::MAX), 3_600_000);
    }
}
