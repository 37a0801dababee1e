//! The notifier: alerts in, deliveries queued in the store, due deliveries sent by
//! [`Notifier::pump`]. Every message is rendered (and masked, for channels not approved for
//! PHI) when it is queued, under a key that makes queueing idempotent: the same alert seen
//! twice, or again after a restart, is queued once per channel. The pump marks a delivery
//! done only after the channel accepted it, so a crash between sending and marking sends it
//! again (at least once), and receivers can drop repeats by the `X-Ward-Delivery` key.
//!
//! Escalation state (who was paged for which alert, when) is kept in memory and rebuilt from
//! the queue at start by [`Notifier::resume`]: the pages themselves are deliveries, keyed by
//! alert and level, so the queue says who was paged and when.

use crate::config::{BodyFormat, ChannelConfig, NotifyConfig, Person, SyslogChannel, SyslogFormat};
use crate::error::{ConfigError, NotifyError};
use crate::mask::Masker;
use crate::oncall::Schedule;
use crate::render::{self, Activity, RenderOptions};
use crate::route::{self, Mode};
use crate::send::http::{
    DELIVERY_HEADER, HttpTarget, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature,
};
use crate::send::smtp::SmtpRelay;
use crate::send::syslog::SyslogTarget;
use crate::send::{SendError, secret_from_env, split_host_port, tls_client};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use ward_model::{Alert, AlertEntities, AlertStatus, Severity, Timestamp};
use ward_store::{DeliveryQuery, DeliveryRecord, NewDelivery, Store};

/// The rule id of the alert raised when a channel keeps failing.
pub const CHANNEL_FAILED_RULE: &str = "ward.notify.channel_failed";

/// Why a queued message is given up when its channel's kind changed since it was queued.
const MISFIT: &str = "the queued message does not fit the channel's kind (was it changed?)";

/// At most this many due deliveries are taken per pump.
const PUMP_BATCH: usize = 500;

/// A queued message as stored: rendered for its channel's kind.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Payload {
    /// An HTTP body for a webhook, Slack or Teams (`to`); webhooks are signed when sent.
    Post { to: PostKind, body: String },
    Mail {
        to: Vec<String>,
        subject: String,
        body: String,
    },
    /// One RFC 5424 message, unframed.
    Syslog { message: String },
    /// An alert (as the channel may see it) waiting for its digest.
    DigestItem { alert: Box<Alert> },
}

/// Whom an HTTP body was rendered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum PostKind {
    Webhook,
    Slack,
    Teams,
}

impl PostKind {
    fn of(config: &ChannelConfig) -> Option<Self> {
        match config {
            ChannelConfig::Webhook(_) => Some(PostKind::Webhook),
            ChannelConfig::Slack(_) => Some(PostKind::Slack),
            ChannelConfig::Teams(_) => Some(PostKind::Teams),
            ChannelConfig::Email(_) | ChannelConfig::Syslog(_) => None,
        }
    }
}

enum Sender {
    Mail(SmtpRelay),
    Webhook { target: HttpTarget, secret: Vec<u8> },
    Chat(HttpTarget),
    Syslog(SyslogTarget),
}

struct Channel {
    config: ChannelConfig,
    sender: Sender,
}

/// What one pump did.
#[derive(Debug, Default)]
pub struct PumpReport {
    /// Deliveries the channels accepted.
    pub delivered: usize,
    /// Failed attempts (retried later).
    pub failed: usize,
    /// Deliveries given up on.
    pub abandoned: usize,
    /// Escalation pages queued.
    pub escalated: usize,
    /// Alerts about Ward's own channels (rule [`CHANNEL_FAILED_RULE`]): the caller stores
    /// them (`upsert_alert`) and hands them back to [`Notifier::alerts`] like any alert.
    pub alerts: Vec<Alert>,
}

/// What a failure being recorded stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attempt {
    /// The message was tried and failed.
    Made,
    /// Not tried, because an earlier message to the same channel just failed.
    Postponed,
    /// Not tried, and never will be.
    GiveUp,
}

struct Watch {
    alert: Alert,
    paged_at: Timestamp,
    level: usize,
}

struct Failing {
    since: Timestamp,
    attempts: u64,
    last_error: String,
    alerted: bool,
}

#[derive(Default)]
struct State {
    watches: BTreeMap<String, Watch>,
    failing: BTreeMap<String, Failing>,
}

/// Routes alerts to channels and delivers them. Shared by reference; internally locked.
pub struct Notifier {
    config: NotifyConfig,
    channels: BTreeMap<String, Channel>,
    store: Arc<dyn Store>,
    masker: Masker,
    options: RenderOptions,
    version: &'static str,
    state: Mutex<State>,
}

impl Notifier {
    /// Checks the settings, reads secrets from the environment and CA files from disk, and
    /// prepares every channel. `pseudonym_key` keys patient pseudonyms (keep it secret and
    /// stable).
    pub fn new(
        config: NotifyConfig,
        store: Arc<dyn Store>,
        pseudonym_key: [u8; 32],
    ) -> Result<Self, ConfigError> {
        config.check()?;
        let mut channels = BTreeMap::new();
        for (name, channel) in &config.channels {
            let setting = format!("channels.{name}");
            let sender = match channel {
                ChannelConfig::Email(c) => Sender::Mail(SmtpRelay::new(name, c)?),
                ChannelConfig::Webhook(c) => {
                    let secret = match (&c.secret_env, &c.secret) {
                        (Some(var), _) => secret_from_env(var, &format!("{setting}.secret_env"))?,
                        (None, Some(s)) => s.clone(),
                        (None, None) => unreachable!("checked by NotifyConfig::check"),
                    };
                    let tls = tls_client(c.ca_file.as_deref(), &format!("{setting}.ca_file"))?;
                    Sender::Webhook {
                        target: http_target(&c.url, tls, &setting)?,
                        secret: secret.into_bytes(),
                    }
                }
                ChannelConfig::Slack(c) | ChannelConfig::Teams(c) => {
                    let tls = tls_client(c.ca_file.as_deref(), &format!("{setting}.ca_file"))?;
                    Sender::Chat(http_target(&c.url, tls, &setting)?)
                }
                ChannelConfig::Syslog(c) => Sender::Syslog(syslog_target(c, &setting)?),
            };
            channels.insert(
                name.clone(),
                Channel {
                    config: channel.clone(),
                    sender,
                },
            );
        }
        let options = RenderOptions {
            console_url: config.console_url.clone(),
        };
        Ok(Notifier {
            config,
            channels,
            store,
            masker: Masker::new(pseudonym_key),
            options,
            version: env!("CARGO_PKG_VERSION"),
            state: Mutex::new(State::default()),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The sources (`metadata.product`) of an alert's evidence events, from the store.
    fn evidence_sources(&self, alert: &Alert) -> Result<Vec<String>, NotifyError> {
        const EVIDENCE_LOOKED_AT: usize = 20;
        let mut sources: Vec<String> = Vec::new();
        for id in self.store.alert_events(&alert.id, EVIDENCE_LOOKED_AT)? {
            if let Some(event) = self.store.get_event(&id)?
                && !sources.contains(&event.metadata.product)
            {
                sources.push(event.metadata.product);
            }
        }
        Ok(sources)
    }

    /// Queues what new or updated alerts owe each channel, and pages the person on call.
    /// Blocking (store writes): call it from a blocking thread. Returns how many deliveries
    /// were queued.
    pub fn alerts(&self, alerts: &[Alert], now: Timestamp) -> Result<usize, NotifyError> {
        let mut queued = 0;
        let by_source = self.config.routes.iter().any(|r| !r.sources.is_empty());
        for alert in alerts {
            let sources = if by_source {
                self.evidence_sources(alert)?
            } else {
                Vec::new()
            };
            let plan = route::plan(&self.config, alert, &sources);
            for (name, mode) in &plan.channels {
                let Some(channel) = self.channels.get(name) else {
                    continue;
                };
                let view = self.view(channel, alert);
                let not_before = self.hold_until(channel, alert, now);
                match mode {
                    Mode::Now => {
                        // One key per version of the alert (its count and last sighting):
                        // the same version is queued once, a new version is an update.
                        let prefix = format!("{name}|{}|v|", alert.id);
                        let sent_before = self
                            .store
                            .deliveries()
                            .list(&DeliveryQuery {
                                channel: Some(name.clone()),
                                alert_id: Some(alert.id.clone()),
                                limit: Some(100),
                                ..Default::default()
                            })?
                            .iter()
                            .any(|d| d.key.starts_with(&prefix));
                        let activity = match (sent_before, channel.config.send_updates()) {
                            (false, _) => Activity::Create,
                            (true, true) => Activity::Update,
                            (true, false) => continue,
                        };
                        if self.enqueue(
                            format!("{prefix}{}|{}", alert.count, alert.last_seen.millis()),
                            name,
                            alert,
                            &self.render(channel, &view, activity, None, None),
                            not_before,
                            now,
                        )? {
                            queued += 1;
                        }
                    }
                    Mode::Digest(minutes) => {
                        let due = route::digest_due(*minutes, now).max(not_before);
                        let payload = Payload::DigestItem {
                            alert: Box::new(view),
                        };
                        if self.enqueue(
                            format!("{name}|{}|digest", alert.id),
                            name,
                            alert,
                            &payload,
                            due,
                            now,
                        )? {
                            queued += 1;
                        }
                    }
                }
            }
            if plan.page && alert.status == AlertStatus::Open && self.page(alert, 0, now)? {
                queued += 1;
                let escalates = self
                    .config
                    .oncall
                    .as_ref()
                    .is_some_and(|o| alert.severity >= o.escalate_min_severity);
                if escalates {
                    self.state().watches.insert(
                        alert.id.clone(),
                        Watch {
                            alert: alert.clone(),
                            paged_at: now,
                            level: 0,
                        },
                    );
                }
            }
        }
        Ok(queued)
    }

    /// Picks up escalations a previous process left running: every open alert of escalating
    /// severity seen in the last `lookback_hours` whose pages are in the queue escalates on
    /// from the last level paged, on the clock of its first page. Call once at start, from a
    /// blocking thread. Returns how many alerts are being watched again.
    pub fn resume(&self, now: Timestamp, lookback_hours: u32) -> Result<usize, NotifyError> {
        let Some(oncall) = &self.config.oncall else {
            return Ok(0);
        };
        let since = Timestamp(now.millis() - i64::from(lookback_hours) * 3_600_000);
        let mut resumed = 0;
        let severities = [
            Severity::Informational,
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
            Severity::Fatal,
        ];
        for severity in severities
            .into_iter()
            .filter(|s| *s >= oncall.escalate_min_severity)
        {
            let alerts = self.store.list_alerts(&ward_store::AlertQuery {
                since: Some(since),
                status: Some(AlertStatus::Open),
                severity: Some(severity),
                ..Default::default()
            })?;
            for alert in alerts {
                let pages: Vec<(usize, Timestamp)> = self
                    .store
                    .deliveries()
                    .list(&DeliveryQuery {
                        alert_id: Some(alert.id.clone()),
                        ..Default::default()
                    })?
                    .into_iter()
                    .filter_map(|d| {
                        let level = d.key.rsplit_once("|page|")?.1.parse().ok()?;
                        Some((level, d.created_at))
                    })
                    .collect();
                let Some(paged_at) = pages.iter().find(|(l, _)| *l == 0).map(|(_, t)| *t) else {
                    continue;
                };
                let level = pages.iter().map(|(l, _)| *l).max().unwrap_or(0);
                if level + 1 >= oncall.people.len() {
                    continue;
                }
                self.state().watches.insert(
                    alert.id.clone(),
                    Watch {
                        alert,
                        paged_at,
                        level,
                    },
                );
                resumed += 1;
            }
        }
        Ok(resumed)
    }

    /// A person acknowledged the alert: no more escalation for it.
    pub fn acknowledged(&self, alert_id: &str) {
        self.state().watches.remove(alert_id);
    }

    /// Alerts still waiting to be acknowledged, with the escalation level reached.
    pub fn awaiting_acknowledgement(&self) -> Vec<(String, usize)> {
        self.state()
            .watches
            .iter()
            .map(|(id, w)| (id.clone(), w.level))
            .collect()
    }

    /// The alert as this channel may see it.
    fn view(&self, channel: &Channel, alert: &Alert) -> Alert {
        if channel.config.phi_approved() {
            alert.clone()
        } else {
            self.masker.alert(alert)
        }
    }

    /// Quiet hours hold low-severity messages to people until they end.
    fn hold_until(&self, channel: &Channel, alert: &Alert, now: Timestamp) -> Timestamp {
        match &self.config.quiet_hours {
            Some(q) if channel.config.for_people() && alert.severity <= q.max_severity => {
                route::quiet_until(q, self.config.zone(), now).unwrap_or(now)
            }
            _ => now,
        }
    }

    /// Queues the page of escalation `level` (0: the first page) for `alert`; `false` when
    /// that page was queued before or there is nobody at that level.
    fn page(&self, alert: &Alert, level: usize, now: Timestamp) -> Result<bool, NotifyError> {
        match self.page_delivery(alert, level, now)? {
            Some(d) => Ok(self.store.deliveries().enqueue(&d)?),
            None => Ok(false),
        }
    }

    /// The page of escalation `level` for `alert`, addressed to whoever holds that place in
    /// the on-call order at `now`.
    fn page_delivery(
        &self,
        alert: &Alert,
        level: usize,
        now: Timestamp,
    ) -> Result<Option<NewDelivery>, NotifyError> {
        let Some(oncall) = &self.config.oncall else {
            return Ok(None);
        };
        let schedule = Schedule::new(oncall, self.config.zone());
        let order = schedule.order(now);
        let Some(person) = order.get(level) else {
            return Ok(None);
        };
        let Some(channel) = self.channels.get(&person.channel) else {
            return Ok(None);
        };
        let note = if level == 0 {
            format!(
                "You are on call, {}: please acknowledge this alert in Ward",
                person.name
            )
        } else {
            format!(
                "Escalated to {} (level {level}): not acknowledged after {} minutes",
                person.name,
                u64::from(oncall.escalate_after_minutes) * level as u64
            )
        };
        let view = self.view(channel, alert);
        let payload = self.render(channel, &view, Activity::Create, Some(&note), Some(person));
        delivery(
            format!("{}|{}|page|{level}", person.channel, alert.id),
            &person.channel,
            alert,
            &payload,
            now,
            now,
        )
        .map(Some)
    }

    fn enqueue(
        &self,
        key: String,
        channel: &str,
        alert: &Alert,
        payload: &Payload,
        not_before: Timestamp,
        now: Timestamp,
    ) -> Result<bool, NotifyError> {
        let d = delivery(key, channel, alert, payload, not_before, now)?;
        Ok(self.store.deliveries().enqueue(&d)?)
    }

    fn render(
        &self,
        channel: &Channel,
        alert: &Alert,
        activity: Activity,
        note: Option<&str>,
        person: Option<&Person>,
    ) -> Payload {
        let url = self.options.alert_url(alert);
        match &channel.config {
            ChannelConfig::Email(c) => {
                let mut mail = render::email::render(alert, &self.options, note);
                // A page keeps its marker and note whatever the template says.
                let page = |text: String| match note {
                    Some(note) => format!("[PAGE] {note}: {text}"),
                    None => text,
                };
                if let Some(template) = &c.subject_template {
                    mail.subject = page(render::template::fill(template, alert, &self.options))
                        .replace(['\r', '\n'], " ");
                }
                if let Some(template) = &c.body_template {
                    mail.body = page(render::template::fill(template, alert, &self.options));
                }
                let to = match person.and_then(|p| p.address.clone()) {
                    Some(address) => vec![address],
                    None => c.to.clone(),
                };
                Payload::Mail {
                    to,
                    subject: mail.subject,
                    body: mail.body,
                }
            }
            ChannelConfig::Webhook(c) => {
                let mut body = match c.format {
                    BodyFormat::Json => render::json::render(alert, activity, url.as_deref()),
                    BodyFormat::Ocsf => {
                        render::ocsf::render(alert, activity, self.version, url.as_deref())
                    }
                };
                if let (Some(note), Some(p)) = (note, person) {
                    body["page"] = serde_json::json!({ "person": p.name, "note": note });
                }
                Payload::Post {
                    to: PostKind::Webhook,
                    body: body.to_string(),
                }
            }
            ChannelConfig::Slack(_) => Payload::Post {
                to: PostKind::Slack,
                body: render::chat::slack(alert, &self.options, note).to_string(),
            },
            ChannelConfig::Teams(_) => Payload::Post {
                to: PostKind::Teams,
                body: render::chat::teams(alert, &self.options, note).to_string(),
            },
            ChannelConfig::Syslog(c) => Payload::Syslog {
                message: self.syslog_message(c, alert, activity),
            },
        }
    }

    fn syslog_message(&self, c: &SyslogChannel, alert: &Alert, activity: Activity) -> String {
        let url = self.options.alert_url(alert);
        let (msgid, body) = match c.format {
            SyslogFormat::Cef => ("WARD_ALERT", render::cef::render(alert, self.version)),
            SyslogFormat::Json => (
                "WARD_ALERT",
                render::json::render(alert, activity, url.as_deref()).to_string(),
            ),
            SyslogFormat::Ocsf => (
                "OCSF_2004",
                render::ocsf::render(alert, activity, self.version, url.as_deref()).to_string(),
            ),
        };
        render::syslog::message(alert, c.facility, &c.hostname, msgid, &body)
    }

    /// Queues due escalations, then sends every due delivery, recording each outcome.
    /// `now` is the current instant (injected: tests drive it).
    pub async fn pump(&self, now: Timestamp) -> Result<PumpReport, NotifyError> {
        let mut report = PumpReport::default();
        self.escalate(now, &mut report).await?;

        let store = Arc::clone(&self.store);
        let due = blocking(move || store.deliveries().due(now, PUMP_BATCH)).await??;
        let mut by_channel: BTreeMap<String, Vec<DeliveryRecord>> = BTreeMap::new();
        for d in due {
            by_channel.entry(d.channel.clone()).or_default().push(d);
        }
        for (name, deliveries) in by_channel {
            let Some(channel) = self.channels.get(&name) else {
                let why = SendError("the channel is no longer configured".into());
                self.record(
                    &name,
                    &deliveries,
                    Err(why),
                    now,
                    Attempt::GiveUp,
                    &mut report,
                )
                .await?;
                continue;
            };
            let mut digest = Vec::new();
            let mut single = Vec::new();
            for d in deliveries {
                let payload: Payload =
                    serde_json::from_str(&d.payload).map_err(|e| NotifyError::Payload {
                        id: d.id,
                        reason: e.to_string(),
                    })?;
                match payload {
                    Payload::DigestItem { alert } => digest.push((d, *alert)),
                    other => single.push((d, other)),
                }
            }
            if let Sender::Syslog(target) = &channel.sender {
                // One connection for everything due; digests make no sense to a SIEM, so
                // gathered alerts go as their own lines.
                let ChannelConfig::Syslog(c) = &channel.config else {
                    unreachable!("syslog sender for a syslog channel")
                };
                let mut records = Vec::new();
                let mut messages = Vec::new();
                let mut misfits = Vec::new();
                for (d, payload) in single {
                    match payload {
                        Payload::Syslog { message } => {
                            messages.push(message);
                            records.push(d);
                        }
                        _ => misfits.push(d),
                    }
                }
                let why = SendError(MISFIT.into());
                self.record(&name, &misfits, Err(why), now, Attempt::GiveUp, &mut report)
                    .await?;
                for (d, alert) in digest {
                    messages.push(self.syslog_message(c, &alert, Activity::Create));
                    records.push(d);
                }
                let lines: Vec<&str> = messages.iter().map(String::as_str).collect();
                let result = target.send(&lines).await;
                self.record(&name, &records, result, now, Attempt::Made, &mut report)
                    .await?;
                continue;
            }
            if !digest.is_empty() {
                let alerts: Vec<Alert> = digest.iter().map(|(_, a)| a.clone()).collect();
                let records: Vec<DeliveryRecord> = digest.into_iter().map(|(d, _)| d).collect();
                let key = format!("{name}|digest|{}", records[0].id);
                let payload = self.render_digest(channel, &alerts);
                let result = self.send(channel, &payload, &key, now).await;
                self.record(&name, &records, result, now, Attempt::Made, &mut report)
                    .await?;
            }
            let mut rest = single.into_iter();
            while let Some((d, payload)) = rest.next() {
                if !fits(channel, &payload) {
                    let why = SendError(MISFIT.into());
                    let d = std::slice::from_ref(&d);
                    self.record(&name, d, Err(why), now, Attempt::GiveUp, &mut report)
                        .await?;
                    continue;
                }
                let result = self.send(channel, &payload, &d.key, now).await;
                let failed = result.as_ref().err().map(|e| e.0.clone());
                self.record(
                    &name,
                    std::slice::from_ref(&d),
                    result,
                    now,
                    Attempt::Made,
                    &mut report,
                )
                .await?;
                if let Some(error) = failed {
                    // The receiver is down: the rest of this channel waits for the retry
                    // rather than each costing a timeout now; they were not tried, so their
                    // attempts are not counted.
                    let waiting: Vec<DeliveryRecord> = rest.map(|(d, _)| d).collect();
                    let why = SendError(format!("not tried: an earlier message failed ({error})"));
                    self.record(
                        &name,
                        &waiting,
                        Err(why),
                        now,
                        Attempt::Postponed,
                        &mut report,
                    )
                    .await?;
                    break;
                }
            }
        }
        report.alerts = self.failure_alerts(now);
        Ok(report)
    }

    fn render_digest(&self, channel: &Channel, alerts: &[Alert]) -> Payload {
        match &channel.config {
            ChannelConfig::Email(c) => {
                let mail = render::email::digest(alerts, &self.options);
                Payload::Mail {
                    to: c.to.clone(),
                    subject: mail.subject,
                    body: mail.body,
                }
            }
            ChannelConfig::Webhook(_) => Payload::Post {
                to: PostKind::Webhook,
                body: render::json::digest(alerts).to_string(),
            },
            ChannelConfig::Slack(_) => Payload::Post {
                to: PostKind::Slack,
                body: render::chat::slack_digest(alerts, &self.options).to_string(),
            },
            ChannelConfig::Teams(_) => Payload::Post {
                to: PostKind::Teams,
                body: render::chat::teams_digest(alerts, &self.options).to_string(),
            },
            ChannelConfig::Syslog(_) => unreachable!("syslog digests are sent as lines"),
        }
    }

    async fn send(
        &self,
        channel: &Channel,
        payload: &Payload,
        key: &str,
        now: Timestamp,
    ) -> Result<(), SendError> {
        match (&channel.sender, payload) {
            (Sender::Mail(relay), Payload::Mail { to, subject, body }) => {
                relay.send(to, subject, body).await
            }
            (Sender::Webhook { target, secret }, Payload::Post { body, .. }) => {
                let timestamp = now.millis().div_euclid(1000);
                let headers = [
                    (TIMESTAMP_HEADER, timestamp.to_string()),
                    (
                        SIGNATURE_HEADER,
                        signature(secret, timestamp, body.as_bytes()),
                    ),
                    (DELIVERY_HEADER, key.to_string()),
                ];
                target.post(&headers, body.clone().into_bytes()).await
            }
            (Sender::Chat(target), Payload::Post { body, .. }) => {
                target.post(&[], body.clone().into_bytes()).await
            }
            _ => Err(SendError(MISFIT.into())),
        }
    }

    /// Records the outcome of one attempt covering `records`.
    async fn record(
        &self,
        channel: &str,
        records: &[DeliveryRecord],
        result: Result<(), SendError>,
        now: Timestamp,
        attempt: Attempt,
        report: &mut PumpReport,
    ) -> Result<(), NotifyError> {
        if records.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = records.iter().map(|d| d.id).collect();
        match result {
            Ok(()) => {
                self.state().failing.remove(channel);
                let store = Arc::clone(&self.store);
                let n = blocking(move || -> Result<usize, NotifyError> {
                    let mut n = 0;
                    for id in ids {
                        n += usize::from(store.deliveries().mark_delivered(id, now)?);
                    }
                    Ok(n)
                })
                .await??;
                report.delivered += n;
                tracing::debug!(channel, delivered = n, "notification delivered");
            }
            Err(e) => {
                let error = e.0;
                if attempt == Attempt::Made {
                    tracing::warn!(channel, error = %error, "notification delivery failed");
                    let mut state = self.state();
                    let f = state.failing.entry(channel.to_string()).or_insert(Failing {
                        since: now,
                        attempts: 0,
                        last_error: String::new(),
                        alerted: false,
                    });
                    f.attempts += 1;
                    f.last_error = error.clone();
                }
                let retry = self.config.retry.clone();
                let give_up_ms = i64::try_from(retry.give_up_after_hours.saturating_mul(3_600_000))
                    .unwrap_or(i64::MAX);
                let plans: Vec<(i64, u32, Option<Timestamp>)> = records
                    .iter()
                    .map(|d| {
                        let attempts = match attempt {
                            Attempt::Made => d.attempts.saturating_add(1),
                            Attempt::Postponed | Attempt::GiveUp => d.attempts,
                        };
                        let keep = attempt != Attempt::GiveUp
                            && now.millis() - d.created_at.millis() < give_up_ms;
                        let delay = retry.delay_ms(attempts.max(1));
                        let next = keep.then(|| Timestamp(now.millis().saturating_add(delay)));
                        (d.id, attempts, next)
                    })
                    .collect();
                if attempt == Attempt::Made {
                    report.failed += plans.iter().filter(|p| p.2.is_some()).count();
                }
                report.abandoned += plans.iter().filter(|p| p.2.is_none()).count();
                let store = Arc::clone(&self.store);
                blocking(move || -> Result<(), NotifyError> {
                    for (id, attempts, next) in plans {
                        store.deliveries().mark_failed(id, attempts, next, &error)?;
                    }
                    Ok(())
                })
                .await??;
            }
        }
        Ok(())
    }

    /// Pages the next person for every alert whose page went unacknowledged too long. An
    /// alert acknowledged or closed in the console stops escalating even if nobody told the
    /// notifier.
    async fn escalate(&self, now: Timestamp, report: &mut PumpReport) -> Result<(), NotifyError> {
        let Some(oncall) = &self.config.oncall else {
            return Ok(());
        };
        let step_ms = i64::from(oncall.escalate_after_minutes) * 60_000;
        let due: Vec<(String, Alert, usize)> = self
            .state()
            .watches
            .iter()
            .filter(|(_, w)| now.millis() >= w.paged_at.millis() + step_ms * (w.level as i64 + 1))
            .map(|(id, w)| (id.clone(), w.alert.clone(), w.level + 1))
            .collect();
        for (id, alert, level) in due {
            let store = Arc::clone(&self.store);
            let lookup = id.clone();
            let stored = blocking(move || store.get_alert(&lookup)).await??;
            if stored.is_some_and(|a| a.status != AlertStatus::Open) {
                self.state().watches.remove(&id);
                continue;
            }
            let queued = match self.page_delivery(&alert, level, now)? {
                Some(d) => {
                    let store = Arc::clone(&self.store);
                    blocking(move || store.deliveries().enqueue(&d)).await??
                }
                None => false,
            };
            let mut state = self.state();
            let people = oncall.people.len();
            if queued {
                report.escalated += 1;
            }
            if level + 1 >= people {
                state.watches.remove(&id);
            } else if let Some(w) = state.watches.get_mut(&id) {
                w.level = level;
            }
        }
        Ok(())
    }

    /// Alerts for channels that have failed, without a success, for longer than the policy
    /// allows; one per failure episode.
    fn failure_alerts(&self, now: Timestamp) -> Vec<Alert> {
        let threshold_ms = i64::try_from(
            self.config
                .retry
                .channel_failed_after_minutes
                .saturating_mul(60_000),
        )
        .unwrap_or(i64::MAX);
        let mut out = Vec::new();
        let mut state = self.state();
        for (name, f) in state.failing.iter_mut() {
            if f.alerted || now.millis() - f.since.millis() < threshold_ms {
                continue;
            }
            f.alerted = true;
            let kind = self
                .channels
                .get(name)
                .map_or("removed", |c| kind_name(&c.config));
            out.push(Alert {
                id: failure_alert_id(name, f.since),
                rule_id: CHANNEL_FAILED_RULE.into(),
                title: "A notification channel keeps failing".into(),
                severity: Severity::High,
                first_seen: f.since,
                last_seen: now,
                count: f.attempts,
                entities: AlertEntities::default(),
                attack: Vec::new(),
                hipaa: vec!["164.308(a)(6)(ii)".into()],
                status: AlertStatus::Open,
                author: Some("Ward".into()),
                license: None,
                references: Vec::new(),
                description: Some(format!(
                    "Channel `{name}` ({kind}) has failed every delivery attempt since {} ({} attempts; last: {}). Its messages are kept and retried; check the receiver and the network path from Ward.",
                    f.since, f.attempts, f.last_error
                )),
            });
        }
        out
    }
}

/// Whether a queued message was rendered for this channel's kind (the kind may have changed
/// in the settings since the message was queued).
fn fits(channel: &Channel, payload: &Payload) -> bool {
    match payload {
        Payload::Mail { .. } => matches!(channel.config, ChannelConfig::Email(_)),
        Payload::Syslog { .. } => matches!(channel.config, ChannelConfig::Syslog(_)),
        Payload::Post { to, .. } => PostKind::of(&channel.config) == Some(*to),
        Payload::DigestItem { .. } => true,
    }
}

fn kind_name(c: &ChannelConfig) -> &'static str {
    match c {
        ChannelConfig::Email(_) => "e-mail",
        ChannelConfig::Webhook(_) => "webhook",
        ChannelConfig::Slack(_) => "Slack",
        ChannelConfig::Teams(_) => "Teams",
        ChannelConfig::Syslog(_) => "syslog",
    }
}

/// Stable per channel and failure episode, shaped like detector alert ids (32 hex digits).
fn failure_alert_id(channel: &str, since: Timestamp) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(CHANNEL_FAILED_RULE.as_bytes());
    h.update([0]);
    h.update(channel.as_bytes());
    h.update([0]);
    h.update(since.millis().to_be_bytes());
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn http_target(
    url: &str,
    tls: Arc<rustls::ClientConfig>,
    setting: &str,
) -> Result<HttpTarget, ConfigError> {
    HttpTarget::new(url, tls)
        .ok_or_else(|| ConfigError::invalid(format!("{setting}.url"), "is not a usable URL"))
}

fn syslog_target(c: &SyslogChannel, setting: &str) -> Result<SyslogTarget, ConfigError> {
    let (host, port) = split_host_port(&c.address)
        .ok_or_else(|| ConfigError::invalid(format!("{setting}.address"), "must be host:port"))?;
    let tls = if c.tls {
        let config = tls_client(c.ca_file.as_deref(), &format!("{setting}.ca_file"))?;
        Some((
            config,
            c.server_name.clone().unwrap_or_else(|| host.clone()),
        ))
    } else {
        None
    };
    Ok(SyslogTarget::new(host, port, tls))
}

fn delivery(
    key: String,
    channel: &str,
    alert: &Alert,
    payload: &Payload,
    not_before: Timestamp,
    now: Timestamp,
) -> Result<NewDelivery, NotifyError> {
    let payload = serde_json::to_string(payload).map_err(|e| NotifyError::Payload {
        id: 0,
        reason: e.to_string(),
    })?;
    Ok(NewDelivery {
        key,
        channel: channel.to_string(),
        alert_id: alert.id.clone(),
        payload,
        not_before,
        created_at: now,
    })
}

/// Runs store work on a blocking thread.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, NotifyError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| NotifyError::Join(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The server shares one notifier between tasks and spawns its pump.
    #[test]
    fn the_notifier_can_be_shared_and_its_pump_spawned() {
        fn shared<T: Send + Sync>() {}
        fn spawnable<T: Send>(_: &T) {}
        shared::<Notifier>();
        let pump = |n: &'static Notifier| {
            let future = n.pump(Timestamp(0));
            spawnable(&future);
        };
        let _ = pump;
    }

    #[test]
    fn failure_alert_ids_are_stable_per_channel_and_episode() {
        let a = failure_alert_id("mdr", Timestamp(1));
        assert_eq!(a.len(), 32);
        assert_eq!(a, failure_alert_id("mdr", Timestamp(1)));
        assert_ne!(a, failure_alert_id("mdr", Timestamp(2)));
        assert_ne!(a, failure_alert_id("mail", Timestamp(1)));
    }
}
