//! Which channels an alert goes to and when: route matching, quiet hours and digest
//! boundaries. Pure functions of the settings, the alert and the instant.

use crate::config::{NotifyConfig, QuietHours, RouteConfig, Zone};
use std::collections::BTreeMap;
use ward_model::{Alert, Timestamp};

/// How an alert reaches one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// On its own, as soon as allowed.
    Now,
    /// Gathered into a digest sent every this many minutes.
    Digest(u32),
}

/// Where one alert goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub channels: BTreeMap<String, Mode>,
    /// Whether the person on call is paged.
    pub page: bool,
}

/// Whether `route` takes `alert`, whose evidence came from the sources `sources` (the
/// `metadata.product` of its events: `fhir`, `authlog`, `windows` …).
pub fn matches(route: &RouteConfig, alert: &Alert, sources: &[String]) -> bool {
    if !route.sources.is_empty() && !route.sources.iter().any(|s| sources.contains(s)) {
        return false;
    }
    if route.min_severity.is_some_and(|min| alert.severity < min)
        || route.max_severity.is_some_and(|max| alert.severity > max)
    {
        return false;
    }
    if !route.rule_prefixes.is_empty()
        && !route
            .rule_prefixes
            .iter()
            .any(|p| alert.rule_id.starts_with(p.as_str()))
    {
        return false;
    }
    if let Some(entity) = &route.entity {
        let e = &alert.entities;
        let named = [
            &e.user,
            &e.patient,
            &e.src_ip,
            &e.dst_ip,
            &e.host,
            &e.device,
            &e.sender,
            &e.recipient,
            &e.vendor,
        ]
        .into_iter()
        .any(|v| v.as_deref() == Some(entity.as_str()));
        if !named {
            return false;
        }
    }
    true
}

/// Every matching route's channels; a channel any route sends to at once is sent to at once,
/// otherwise the shortest digest interval wins.
pub fn plan(config: &NotifyConfig, alert: &Alert, sources: &[String]) -> Plan {
    let mut plan = Plan::default();
    for route in config.routes.iter().filter(|r| matches(r, alert, sources)) {
        plan.page |= route.page_oncall;
        let mode = route.digest_minutes.map_or(Mode::Now, Mode::Digest);
        for channel in &route.channels {
            plan.channels
                .entry(channel.clone())
                .and_modify(|m| {
                    *m = match (*m, mode) {
                        (Mode::Now, _) | (_, Mode::Now) => Mode::Now,
                        (Mode::Digest(a), Mode::Digest(b)) => Mode::Digest(a.min(b)),
                    }
                })
                .or_insert(mode);
        }
    }
    plan
}

/// When quiet hours that hold at `now` end, or `None` when it is not quiet. Start and end
/// are local wall-clock times, so a night that changes the clock still ends at its hour.
pub fn quiet_until(quiet: &QuietHours, zone: Zone, now: Timestamp) -> Option<Timestamp> {
    use chrono::Timelike;
    let (start, end) = (quiet.start.seconds(), quiet.end.seconds());
    if start == end {
        return None;
    }
    let local = zone.local(now);
    let t = i64::from(local.time().num_seconds_from_midnight());
    let today = local.date();
    let end_date = if start < end {
        (start <= t && t < end).then_some(today)
    } else if t >= start {
        today.succ_opt()
    } else {
        (t < end).then_some(today)
    }?;
    Some(zone.instant(end_date.and_time(quiet.end.0)))
}

/// The next digest boundary strictly after `now` (boundaries are multiples of the interval
/// since the epoch, so every notifier instance agrees on them).
pub fn digest_due(minutes: u32, now: Timestamp) -> Timestamp {
    let interval = i64::from(minutes.max(1)) * 60_000;
    Timestamp((now.millis().div_euclid(interval) + 1) * interval)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LocalTime;
    use chrono::NaiveTime;
    use ward_model::Severity;

    fn alert(rule: &str, severity: Severity, user: &str) -> Alert {
        Alert {
            id: "a".into(),
            rule_id: rule.into(),
            title: "t".into(),
            severity,
            first_seen: Timestamp(0),
            last_seen: Timestamp(0),
            count: 1,
            entities: ward_model::AlertEntities {
                user: Some(user.into()),
                ..Default::default()
            },
            attack: vec![],
            hipaa: vec![],
            status: Default::default(),
            author: None,
            license: None,
            references: vec![],
            description: None,
        }
    }

    #[test]
    fn routes_match_on_severity_rule_prefix_and_entity() {
        let r = RouteConfig {
            min_severity: Some(Severity::Medium),
            rule_prefixes: vec!["privacy.".into()],
            entity: Some("jdoe".into()),
            ..Default::default()
        };
        assert!(matches(
            &r,
            &alert("privacy.vip", Severity::High, "jdoe"),
            &[]
        ));
        assert!(!matches(
            &r,
            &alert("privacy.vip", Severity::Low, "jdoe"),
            &[]
        ));
        assert!(!matches(
            &r,
            &alert("threat.x", Severity::High, "jdoe"),
            &[]
        ));
        assert!(!matches(
            &r,
            &alert("privacy.vip", Severity::High, "other"),
            &[]
        ));
    }

    #[test]
    fn routes_match_on_the_sources_of_the_evidence() {
        let r = RouteConfig {
            sources: vec!["authlog".into(), "entra".into()],
            ..Default::default()
        };
        let a = alert("threat.credential.brute_force_success", Severity::High, "u");
        assert!(matches(&r, &a, &["authlog".into()]));
        assert!(matches(&r, &a, &["fhir".into(), "entra".into()]));
        assert!(!matches(&r, &a, &["fhir".into()]));
        assert!(
            !matches(&r, &a, &[]),
            "no known source: a source route does not take it"
        );
        assert!(matches(&RouteConfig::default(), &a, &[]));
    }

    #[test]
    fn an_immediate_route_beats_a_digest_for_the_same_channel() {
        let config = NotifyConfig {
            routes: vec![
                RouteConfig {
                    channels: vec!["mail".into()],
                    digest_minutes: Some(60),
                    ..Default::default()
                },
                RouteConfig {
                    min_severity: Some(Severity::High),
                    channels: vec!["mail".into()],
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let low = plan(&config, &alert("r", Severity::Low, "u"), &[]);
        assert_eq!(low.channels["mail"], Mode::Digest(60));
        let high = plan(&config, &alert("r", Severity::High, "u"), &[]);
        assert_eq!(high.channels["mail"], Mode::Now);
    }

    fn hm(h: u32, m: u32) -> LocalTime {
        LocalTime(NaiveTime::from_hms_opt(h, m, 0).unwrap())
    }

    #[test]
    fn overnight_quiet_hours_end_in_the_morning_local_time() {
        let quiet = QuietHours {
            start: hm(22, 0),
            end: hm(7, 0),
            max_severity: Severity::Low,
        };
        let offset = Zone::Fixed(crate::config::UtcOffset::parse("+01:00").unwrap());
        // 23:30 local = 22:30 UTC; quiet until 07:00 local = 06:00 UTC next day.
        let now = Timestamp::parse("2026-03-02T22:30:00Z").unwrap();
        assert_eq!(
            quiet_until(&quiet, offset, now),
            Timestamp::parse("2026-03-03T06:00:00Z")
        );
        let early = Timestamp::parse("2026-03-03T05:59:59.500Z").unwrap();
        assert_eq!(
            quiet_until(&quiet, offset, early),
            Timestamp::parse("2026-03-03T06:00:00Z")
        );
        let day = Timestamp::parse("2026-03-03T12:00:00Z").unwrap();
        assert_eq!(quiet_until(&quiet, offset, day), None);
    }

    #[test]
    fn quiet_hours_end_at_their_local_hour_across_a_clock_change() {
        let quiet = QuietHours {
            start: hm(22, 0),
            end: hm(7, 0),
            max_severity: Severity::Low,
        };
        let zone = Zone::Named("America/New_York".parse().unwrap());
        // Saturday 2026-03-07 23:00 EST (04:00 UTC Sunday); the clocks go forward at 02:00,
        // so 07:00 on Sunday is EDT, 11:00 UTC, not 12:00.
        let night = Timestamp::parse("2026-03-08T04:00:00Z").unwrap();
        assert_eq!(
            quiet_until(&quiet, zone, night),
            Timestamp::parse("2026-03-08T11:00:00Z")
        );
        // In November the clocks go back: 07:00 EST on 2026-11-01 is 12:00 UTC.
        let autumn = Timestamp::parse("2026-11-01T03:00:00Z").unwrap();
        assert_eq!(
            quiet_until(&quiet, zone, autumn),
            Timestamp::parse("2026-11-01T12:00:00Z")
        );
    }

    #[test]
    fn digest_boundaries_are_aligned_and_strictly_later() {
        assert_eq!(digest_due(60, Timestamp(0)), Timestamp(3_600_000));
        assert_eq!(digest_due(60, Timestamp(3_599_999)), Timestamp(3_600_000));
        assert_eq!(digest_due(60, Timestamp(3_600_000)), Timestamp(7_200_000));
    }
}
