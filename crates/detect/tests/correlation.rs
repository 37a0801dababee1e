//! Sigma 2 correlation rules on a stream of events: one test per correlation type, the
//! specification's own examples among them, the choices Ward makes where the specification
//! leaves them open (sliding and tumbling windows, episodes, `generate`), and bounded state.

use ward_detect::engine::{Detector, Finding};
use ward_detect::sigma::{Collection, RuleError, SigmaDetector};
use ward_model::{Event, Severity, Timestamp};

const MINUTE: i64 = 60_000;
const T0: i64 = 1_793_577_600_000; // 2026-11-02T00:00:00Z

/// A Windows event at `T0 + ms` with these fields (as the windows decoder keeps them).
fn win(ms: i64, fields: &[(&str, serde_json::Value)]) -> Event {
    let raw = format!("{ms}{fields:?}").into_bytes();
    let mut e = Event::from_record("windows", Timestamp(T0 + ms), raw);
    e.unmapped.insert("Channel", "Security".into());
    for (k, v) in fields {
        e.unmapped.insert(k.to_string(), v.clone());
    }
    e
}

fn failed(ms: i64, user: &str) -> Event {
    win(
        ms,
        &[
            ("EventID", 4625.into()),
            ("TargetUserName", user.into()),
            ("TargetDomainName", "WGH".into()),
        ],
    )
}

fn succeeded(ms: i64, user: &str) -> Event {
    win(ms, &[("EventID", 4624.into()), ("User", user.into())])
}

fn detector(text: &str) -> SigmaDetector {
    let mut c = Collection::new();
    c.add(text, "test").unwrap();
    SigmaDetector::new(c).unwrap()
}

/// Feeds events one by one (advancing the clock after each), returns every finding.
fn run(d: &mut SigmaDetector, events: &[Event]) -> Vec<Finding> {
    let mut out = Vec::new();
    for e in events {
        d.observe(e, &mut out);
        d.advance(e.time, &mut out);
    }
    out
}

const SPEC_EVENT_COUNT: &str = r#"
title: Failed logon
name: failed_logon
status: test
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4625
    condition: selection
---
title: Multiple failed logons for a single user (possible brute force attack)
status: test
correlation:
    type: event_count
    rules:
        - failed_logon
    group-by:
        - TargetUserName
        - TargetDomainName
    timespan: 5m
    condition:
        gte: 10
level: high
tags:
    - attack.t1110
    - hipaa.164.308.a.5.ii.c
"#;

#[test]
fn event_count_fires_at_the_threshold_and_later_events_join_the_same_alert() {
    let mut d = detector(SPEC_EVENT_COUNT);
    let mut events: Vec<Event> = (0..11).map(|i| failed(i * 20_000, "alice")).collect();
    // Nine for bob: below the threshold.
    events.extend((0..9).map(|i| failed(i * 20_000 + 1, "bob")));
    let found = run(&mut d, &events);
    assert_eq!(found.len(), 2, "the 10th and the 11th of alice: {found:#?}");
    let (first, second) = (&found[0], &found[1]);
    assert_eq!(
        first.alert.title,
        "Multiple failed logons for a single user (possible brute force attack)"
    );
    assert_eq!(first.alert.count, 10);
    assert_eq!(
        first.events.len(),
        10,
        "the first firing brings the whole window"
    );
    assert_eq!(first.alert.first_seen, events[0].time);
    assert_eq!(first.alert.severity, Severity::High);
    assert_eq!(first.alert.attack, ["T1110"]);
    assert_eq!(first.alert.hipaa, ["164.308(a)(5)(ii)(C)"]);
    assert_eq!(first.alert.entities.user.as_deref(), Some("alice"));
    assert_eq!(second.alert.id, first.alert.id, "one episode, one alert");
    assert_eq!(
        (second.alert.count, second.events.clone()),
        (1, vec![events[10].id])
    );
}

#[test]
fn event_count_window_slides_so_spread_out_failures_never_fire() {
    let mut d = detector(SPEC_EVENT_COUNT);
    // One failure a minute for 20 minutes: never 10 within 5 minutes.
    let events: Vec<Event> = (0..20).map(|i| failed(i * MINUTE, "carol")).collect();
    assert!(run(&mut d, &events).is_empty());
    // Nine, a pause longer than the timespan, then one more: the window slid past the nine.
    let mut d = detector(SPEC_EVENT_COUNT);
    let mut events: Vec<Event> = (0..9).map(|i| failed(i * 1_000, "dave")).collect();
    events.push(failed(6 * MINUTE, "dave"));
    assert!(run(&mut d, &events).is_empty());
}

#[test]
fn a_source_read_behind_the_stream_clock_keeps_its_windows() {
    let mut d = detector(SPEC_EVENT_COUNT);
    let mut out = Vec::new();
    for i in 0..5 {
        d.observe(&failed(i * 1_000, "kim"), &mut out);
    }
    // Another source already reached the next day.
    d.advance(Timestamp(T0 + 24 * 60 * MINUTE), &mut out);
    for i in 5..10 {
        d.observe(&failed(i * 1_000, "kim"), &mut out);
    }
    assert_eq!(
        out.len(),
        1,
        "the ten failures within a minute fire: {out:#?}"
    );
    assert_eq!(out[0].alert.count, 10);
}

#[test]
fn base_rules_referred_to_by_a_correlation_do_not_alert_unless_generate_is_set() {
    let mut d = detector(SPEC_EVENT_COUNT);
    assert!(run(&mut d, &[failed(0, "alice")]).is_empty());
    let generating =
        SPEC_EVENT_COUNT.replace("    timespan: 5m", "    timespan: 5m\n    generate: true");
    let mut d = detector(&generating);
    let found = run(&mut d, &[failed(0, "alice")]);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].alert.title, "Failed logon");
}

const SPEC_VALUE_COUNT: &str = r#"
title: Failed logon
name: failed_logon
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4625
    condition: selection
---
title: Failed logon attempts on multiple hosts (possible lateral movement)
correlation:
    type: value_count
    rules:
        - failed_logon
    group-by:
        - TargetUserName
    timespan: 5m
    condition:
        gte: 3
        field: Computer
level: medium
"#;

#[test]
fn value_count_counts_distinct_values_not_events() {
    let mut d = detector(SPEC_VALUE_COUNT);
    let on = |ms, user: &str, computer: &str| {
        win(
            ms,
            &[
                ("EventID", 4625.into()),
                ("TargetUserName", user.into()),
                ("Computer", computer.into()),
            ],
        )
    };
    // Bob fails five times on one computer: one value.
    let mut events: Vec<Event> = (0..5).map(|i| on(i * 1_000, "bob", "ws1")).collect();
    // Alice on three computers within a minute.
    events.push(on(10_000, "alice", "ws1"));
    events.push(on(20_000, "alice", "ws1"));
    events.push(on(30_000, "alice", "ws2"));
    events.push(on(40_000, "alice", "ws3"));
    let found = run(&mut d, &events);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].alert.entities.user.as_deref(), Some("alice"));
    assert_eq!(found[0].events.len(), 4);
}

const SPEC_TEMPORAL: &str = r#"
title: recon a
name: recon_cmd_a
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        CommandLine|contains: whoami
    condition: selection
---
title: recon b
name: recon_cmd_b
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        CommandLine|contains: ipconfig
    condition: selection
---
title: recon c
name: recon_cmd_c
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        CommandLine|contains: net group
    condition: selection
---
title: Reconnaissance commands
correlation:
    type: temporal
    rules:
        - recon_cmd_a
        - recon_cmd_b
        - recon_cmd_c
    group-by:
        - ComputerName
        - User
    timespan: 5m
level: high
"#;

fn command(ms: i64, host: &str, line: &str) -> Event {
    win(
        ms,
        &[
            ("EventID", 4688.into()),
            ("ComputerName", host.into()),
            ("User", "eve".into()),
            ("CommandLine", line.into()),
        ],
    )
}

#[test]
fn temporal_needs_every_rule_within_the_timespan_in_any_order() {
    let mut d = detector(SPEC_TEMPORAL);
    let found = run(
        &mut d,
        &[
            command(0, "h1", "net group \"domain admins\""),
            command(MINUTE, "h1", "whoami /all"),
            // Another host: its own group, only two of three.
            command(MINUTE, "h2", "whoami"),
            command(2 * MINUTE, "h2", "ipconfig /all"),
            command(3 * MINUTE, "h1", "ipconfig"),
        ],
    );
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].alert.title, "Reconnaissance commands");
    assert_eq!(found[0].events.len(), 3);

    let mut d = detector(SPEC_TEMPORAL);
    let late = run(
        &mut d,
        &[
            command(0, "h3", "whoami"),
            command(MINUTE, "h3", "ipconfig"),
            command(7 * MINUTE, "h3", "net group x"),
        ],
    );
    assert!(
        late.is_empty(),
        "the first command fell out of the timespan"
    );
}

/// The specification's complete example, chained: a correlation of a correlation.
const SPEC_FAILED_THEN_SUCCESS: &str = r#"
title: Correlation - Multiple Failed Logins Followed by Successful Login
id: b180ead8-d58f-40b2-ae54-c8940995b9b6
status: experimental
description: Detects multiple failed logins by a single user followed by a successful login of that user
references:
    - https://reference.com
author: Florian Roth (Nextron Systems)
date: 2023-06-16
correlation:
    type: temporal_ordered
    rules:
        - multiple_failed_login
        - successful_login
    group-by:
        - User
    timespan: 10m
falsepositives:
    - Unlikely
level: high
---
title: Multiple failed logons
id: a8418a5a-5fc4-46b5-b23b-6c73beb19d41
description: Detects multiple failed logins within a certain amount of time
name: multiple_failed_login
correlation:
    type: event_count
    rules:
        - failed_login
    group-by:
        - User
    timespan: 10m
    condition:
        gte: 10
---
title: Single failed login
id: 53ba33fd-3a50-4468-a5ef-c583635cfa92
name: failed_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 529
            - 4625
    condition: selection
---
title: Successful login
id: 4d0a2c83-c62c-4ed4-b475-c7e23a9269b8
description: Detects a successful login
name: successful_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 528
            - 4624
    condition: selection
"#;

fn failed_user(ms: i64, user: &str) -> Event {
    win(ms, &[("EventID", 4625.into()), ("User", user.into())])
}

#[test]
fn temporal_ordered_spec_example_fires_only_for_failures_then_success() {
    let mut d = detector(SPEC_FAILED_THEN_SUCCESS);
    let mut events: Vec<Event> = (0..12).map(|i| failed_user(i * 10_000, "frank")).collect();
    events.push(succeeded(3 * MINUTE, "frank"));
    let found = run(&mut d, &events);
    assert_eq!(
        found.len(),
        1,
        "only the outermost correlation alerts: {found:#?}"
    );
    let alert = &found[0].alert;
    assert_eq!(alert.rule_id, "b180ead8-d58f-40b2-ae54-c8940995b9b6");
    assert_eq!(
        alert.author.as_deref(),
        Some("Florian Roth (Nextron Systems)")
    );
    assert_eq!(alert.references, ["https://reference.com"]);
    assert!(
        found[0].events.contains(&events[12].id),
        "the success is evidence"
    );
    assert!(
        found[0].events.contains(&events[0].id),
        "so are the failures"
    );

    // Success first, failures after: wrong order.
    let mut d = detector(SPEC_FAILED_THEN_SUCCESS);
    let mut events = vec![succeeded(0, "gina")];
    events.extend((0..12).map(|i| failed_user(1_000 + i * 1_000, "gina")));
    assert!(run(&mut d, &events).is_empty());

    // Failures, then a success more than the timespan later.
    let mut d = detector(SPEC_FAILED_THEN_SUCCESS);
    let mut events: Vec<Event> = (0..12).map(|i| failed_user(i * 1_000, "hank")).collect();
    events.push(succeeded(25 * MINUTE, "hank"));
    assert!(run(&mut d, &events).is_empty());
}

#[test]
fn upper_bound_conditions_are_judged_when_the_window_closes() {
    let text = r#"
title: heartbeat
name: heartbeat
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4624
    condition: selection
---
title: Too few logons in an hour
correlation:
    type: event_count
    rules:
        - heartbeat
    group-by:
        - User
    timespan: 1h
    condition:
        lt: 3
level: low
"#;
    let mut d = detector(text);
    let mut found = run(&mut d, &[succeeded(0, "ivan"), succeeded(MINUTE, "ivan")]);
    assert!(found.is_empty(), "not decided before the hour is over");
    d.advance(Timestamp(T0 + 2 * 60 * MINUTE), &mut found);
    assert_eq!(found.len(), 1, "two logons < 3 once the hour closed");
    assert_eq!(found[0].alert.count, 2);

    let mut d = detector(text);
    let events: Vec<Event> = (0..5).map(|i| succeeded(i * MINUTE, "judy")).collect();
    let mut found = run(&mut d, &events);
    d.advance(Timestamp(T0 + 2 * 60 * MINUTE), &mut found);
    assert!(found.is_empty(), "five is not fewer than three");
}

#[test]
fn aliases_group_different_fields_of_different_rules() {
    let text = r#"
title: internal error
name: internal_error
logsource:
    product: zeek
    service: http
detection:
    selection:
        status_code: 500
    condition: selection
---
title: new connection
name: new_network_connection
logsource:
    product: zeek
    service: conn
detection:
    selection:
        conn_state: SF
    condition: selection
---
title: Error then connection back
correlation:
    type: temporal
    rules:
        - internal_error
        - new_network_connection
    group-by:
        - internal_ip
        - remote_ip
    timespan: 10s
    aliases:
        internal_ip:
            internal_error: id.resp_h
            new_network_connection: id.orig_h
        remote_ip:
            internal_error: id.orig_h
            new_network_connection: id.resp_h
level: medium
"#;
    let zeek = |ms: i64, log: &str, orig: &str, resp: &str, field: (&str, serde_json::Value)| {
        let mut e = Event::from_record(
            "zeek",
            Timestamp(T0 + ms),
            format!("{ms}{log}{orig}").into_bytes(),
        );
        e.metadata.event_code = Some(log.into());
        e.unmapped.insert("id.orig_h", orig.into());
        e.unmapped.insert("id.resp_h", resp.into());
        e.unmapped.insert(field.0.to_string(), field.1);
        e
    };
    let mut d = detector(text);
    let found = run(
        &mut d,
        &[
            zeek(
                0,
                "http",
                "203.0.113.5",
                "10.0.0.8",
                ("status_code", 500.into()),
            ),
            // Same pair, reversed roles: matches through the aliases.
            zeek(
                2_000,
                "conn",
                "10.0.0.8",
                "203.0.113.5",
                ("conn_state", "SF".into()),
            ),
        ],
    );
    assert_eq!(found.len(), 1, "{found:#?}");
    let mut d = detector(text);
    let unrelated = run(
        &mut d,
        &[
            zeek(
                0,
                "http",
                "203.0.113.5",
                "10.0.0.8",
                ("status_code", 500.into()),
            ),
            zeek(
                2_000,
                "conn",
                "203.0.113.5",
                "10.0.0.8",
                ("conn_state", "SF".into()),
            ),
        ],
    );
    assert!(unrelated.is_empty());
}

#[test]
fn correlation_state_stays_bounded_under_a_stream_of_distinct_groups() {
    let mut c = Collection::new();
    c.add(SPEC_EVENT_COUNT, "test").unwrap();
    let mut d = SigmaDetector::with_max_groups(c, 1_000).unwrap();
    let mut out = Vec::new();
    for i in 0..100_000i64 {
        d.observe(&failed(i, &format!("user{i}")), &mut out);
    }
    let (held, evicted) = d.correlation_state();
    assert!(held <= 1_000, "{held} groups held");
    assert!(evicted >= 99_000, "evictions are counted: {evicted}");
    assert!(out.is_empty());
    // A group that reaches its threshold while others churn still fires.
    for i in 0..10 {
        d.observe(&failed(300_000 + i, "target"), &mut out);
    }
    assert_eq!(out.len(), 1);
}

#[test]
fn bad_collections_are_refused_naming_the_correlation() {
    let dangling = r#"
title: Refers to nothing
correlation:
    type: event_count
    rules:
        - no_such_rule
    group-by:
        - User
    timespan: 5m
    condition:
        gte: 2
"#;
    let mut c = Collection::new();
    c.add(dangling, "test").unwrap();
    let err = SigmaDetector::new(c).unwrap_err();
    assert!(err.to_string().contains("Refers to nothing"), "{err}");

    let cycle = r#"
title: A
name: a
correlation: {type: event_count, rules: [b], group-by: [User], timespan: 5m, condition: {gte: 2}}
---
title: B
name: b
correlation: {type: event_count, rules: [a], group-by: [User], timespan: 5m, condition: {gte: 2}}
"#;
    let mut c = Collection::new();
    c.add(cycle, "test").unwrap();
    assert!(matches!(SigmaDetector::new(c), Err(RuleError::Invalid(_))));

    for (bad, why) in [
        ("timespan: 5x", "timespan"),
        ("timespan: 5m\n    condition: {gte: -1}", "count"),
    ] {
        let text = SPEC_EVENT_COUNT.replace("timespan: 5m\n    condition:\n        gte: 10", bad);
        let err = Collection::new().add(&text, "test").unwrap_err();
        assert!(err.to_string().contains(why), "{err}");
    }
    let no_field = SPEC_VALUE_COUNT.replace("        field: Computer\n", "");
    assert!(Collection::new().add(&no_field, "test").is_err());
}

#[test]
fn open_windows_saved_and_restored_continue_in_a_new_detector() {
    let mut before = detector(SPEC_EVENT_COUNT);
    let first: Vec<Event> = (0..6).map(|i| failed(i * 1000, "alice")).collect();
    assert!(run(&mut before, &first).is_empty());
    let saved = before
        .save_state()
        .expect("a detector with correlations saves");
    assert!(
        String::from_utf8_lossy(&saved).contains("alice"),
        "the group's key is kept"
    );

    // A new process: the four further failures make ten within five minutes.
    let mut after = detector(SPEC_EVENT_COUNT);
    let said = after.restore_state(&saved).unwrap();
    assert!(said.starts_with("1 open correlation groups"), "{said}");
    let rest: Vec<Event> = (6..10).map(|i| failed(i * 1000, "alice")).collect();
    let found = run(&mut after, &rest);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].alert.count, 10);
    assert_eq!(
        found[0].events.len(),
        10,
        "the first run's events are evidence too"
    );

    // Without the state the same four do not fire (the control).
    assert!(run(&mut detector(SPEC_EVENT_COUNT), &rest).is_empty());

    // State saved by a rule since changed (another threshold) is left out, and said so.
    let changed = SPEC_EVENT_COUNT.replace("gte: 10", "gte: 5");
    let mut other = detector(&changed);
    let said = other.restore_state(&saved).unwrap();
    assert!(said.contains("left out, their rules changed"), "{said}");
    assert!(run(&mut other, &rest[..1]).is_empty());

    // Unreadable state is refused, not a panic.
    assert!(
        detector(SPEC_EVENT_COUNT)
            .restore_state(b"{not json")
            .is_err()
    );
}
