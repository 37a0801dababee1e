//! Data-driven Sigma tests: each `sigma/NAME.yml` rule sits beside `sigma/NAME.json`, a list
//! of events (`fields`: the Windows event's fields, as the `windows` decoder keeps them under
//! `unmapped`) with whether the rule `matches` and, optionally, `why` (the searches that
//! matched). Events without `Channel`/`EventID` get Sysmon's and 1 (process creation), so a
//! case only spells out routing when routing is what it tests.

use std::path::Path;
use ward_detect::sigma::{RuleError, compile, parse_rule};
use ward_model::{Event, Timestamp};

fn event(case: &serde_json::Value) -> Event {
    let product = case["product"].as_str().unwrap_or("windows");
    let mut event = Event::from_record(product, Timestamp(0), Vec::new());
    event.unmapped = case["fields"]
        .as_object()
        .cloned()
        .unwrap_or_default()
        .into();
    if !event.unmapped.contains_key("Channel") {
        event
            .unmapped
            .insert("Channel", "Microsoft-Windows-Sysmon/Operational".into());
    }
    if !event.unmapped.contains_key("EventID") {
        event.unmapped.insert("EventID", 1.into());
    }
    event
}

#[test]
fn every_case_matches_as_expected() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sigma");
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    names.sort();
    for rule_path in names {
        let name = rule_path.file_stem().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&rule_path).unwrap();
        let rule = match parse_rule(&text).and_then(compile) {
            Ok(rule) => rule,
            Err(e) => {
                failures.push(format!("{name}: does not load: {e}"));
                continue;
            }
        };
        let cases: Vec<serde_json::Value> = serde_json::from_str(
            &std::fs::read_to_string(rule_path.with_extension("json")).unwrap(),
        )
        .unwrap();
        for (i, case) in cases.iter().enumerate() {
            checked += 1;
            let e = event(case);
            let want = case["matches"].as_bool().unwrap();
            if rule.matches(&e) != want {
                failures.push(format!("{name}[{i}]: expected matches={want}: {case}"));
            }
            if let Some(why) = case.get("why") {
                let got = rule.explain(&e).unwrap_or_default();
                let want: Vec<&str> = why
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap())
                    .collect();
                if got != want {
                    failures.push(format!("{name}[{i}]: explained {got:?}, expected {want:?}"));
                }
            }
        }
    }
    assert!(
        checked > 40,
        "only {checked} cases found in {}",
        dir.display()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The rule set's compiled matcher (shared predicates, literal automata, rules woken by their
/// literals) must agree with every case's rule evaluated alone: all case rules go into one
/// set, and each case event must get from it exactly the rules that match it one by one.
/// The cases cover keywords, `cased`, wildcards, `null`, `exists`, `fieldref`, `all`,
/// `base64offset`, `windash`, numbers and networks, so each kind of predicate is exercised.
#[test]
fn rule_set_matches_what_each_case_rule_matches_alone() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sigma");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    paths.sort();
    let mut rules = Vec::new();
    let mut events = Vec::new();
    for path in &paths {
        if let Ok(rule) = parse_rule(&std::fs::read_to_string(path).unwrap()).and_then(compile) {
            rules.push(rule);
        }
        let cases: Vec<serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(path.with_extension("json")).unwrap())
                .unwrap();
        events.extend(cases.iter().map(event));
    }
    let set = ward_detect::sigma::RuleSet::new(rules);
    let mut matched = 0;
    for (i, e) in events.iter().enumerate() {
        let alone: Vec<usize> = (0..set.rules().len())
            .filter(|&r| set.rules()[r].matches(e))
            .collect();
        let together: Vec<usize> = set.matching(e).map(|(r, _)| r).collect();
        assert_eq!(together, alone, "event {i}: {:?}", e.unmapped);
        matched += alone.len();
    }
    assert!(
        matched > 30,
        "only {matched} matches: the comparison would prove little"
    );
}

fn load(detection: &str) -> Result<(), RuleError> {
    let text = format!("title: t\nlogsource:\n  product: windows\ndetection:\n{detection}");
    parse_rule(&text).and_then(compile).map(|_| ())
}

#[test]
fn unimplemented_modifiers_are_refused_with_their_name() {
    let err = load("  sel:\n    Image|expand|re: '%x%'\n  condition: sel").unwrap_err();
    assert_eq!(
        err.kind(),
        "unsupported modifier expand with a value modifier"
    );
    let err = load("  sel:\n    Image|a|b: x\n  condition: sel").unwrap_err();
    assert_eq!(err.kind(), "unsupported modifier a");
}

#[test]
fn bad_conditions_and_patterns_say_what_is_wrong() {
    let err = load("  sel:\n    Image: x\n  condition: sel and other").unwrap_err();
    assert!(err.to_string().contains("no search named `other`"), "{err}");
    let err = load("  sel:\n    Image|re: '(unclosed'\n  condition: sel").unwrap_err();
    assert_eq!(err.kind(), "bad pattern");
    let err = load("  sel:\n    Ip|cidr: '10.0.0.0/40'\n  condition: sel").unwrap_err();
    assert_eq!(err.kind(), "bad pattern");
    assert!(matches!(
        parse_rule("title: [unclosed"),
        Err(RuleError::Yaml(_))
    ));
}

#[test]
fn metadata_keeps_attack_ids_author_and_licence() {
    let text = "title: T\nid: 1\nstatus: test\nlevel: high\nauthor: A. Person\nlicense: DRL-1.1\n\
                tags:\n  - attack.execution\n  - attack.t1059.001\n  - cve.2021-1\n\
                references:\n  - https://x\nlogsource:\n  product: linux\n\
                detection:\n  sel:\n    a: b\n  condition: sel\n";
    let rule = compile(parse_rule(text).unwrap()).unwrap();
    assert_eq!(rule.rule.attack, vec!["T1059.001"]);
    assert_eq!(rule.rule.author.as_deref(), Some("A. Person"));
    assert_eq!(rule.rule.license.as_deref(), Some("DRL-1.1"));
    assert_eq!(rule.rule.references, vec!["https://x"]);
    assert!(
        matches!(&rule.route, ward_detect::sigma::Route::Nothing(r) if r.contains("linux")),
        "unknown logsources load but route to nothing"
    );
}

/// `expand`: a placeholder stands for any of its configured values (Sigma strings, wildcards
/// kept), with the field's other modifiers applied to each; with `all`, every value must hold
/// through one of its expansions. The rule set agrees with each rule alone.
#[test]
fn expand_placeholders_match_any_configured_value() {
    use ward_detect::sigma::{Placeholders, RuleSet, Unconfigured, compile_with};
    let mut placeholders = Placeholders::new();
    placeholders
        .set(
            "Admins_Workstations",
            vec!["WS-ADMIN-*".into(), "paw01".into()],
        )
        .set("Tools", vec!["psexec".into(), "wmic".into()]);
    let rule = |detection: &str, p: &Placeholders| {
        let text = format!("title: t\nlogsource:\n  product: windows\ndetection:\n{detection}");
        compile_with(parse_rule(&text).unwrap(), p)
    };
    let rules = vec![
        rule(
            "  sel:\n    Computer|expand: '%Admins_Workstations%'\n  condition: sel",
            &placeholders,
        )
        .unwrap(),
        rule(
            "  sel:\n    CommandLine|contains|all|expand:\n      - '%Tools%'\n      - '%Admins_Workstations%'\n  condition: sel",
            &placeholders,
        )
        .unwrap(),
        rule(
            "  sel:\n    Computer|startswith|cased|expand: '%Admins_Workstations%.'\n  condition: not sel",
            &placeholders,
        )
        .unwrap(),
    ];
    let event = |computer: &str, command_line: &str| {
        let case =
            serde_json::json!({"fields": {"Computer": computer, "CommandLine": command_line}});
        self::event(&case)
    };
    let cases = [
        (event("ws-admin-07", "x"), [true, false, true]),
        (event("PAW01", "x"), [true, false, true]),
        (event("paw01.corp", "x"), [false, false, false]),
        (event("WS-ADMIN-07.corp", "x"), [true, false, false]),
        (
            event("ws-user-07", r"PsExec \\paw01 cmd"),
            [false, true, true],
        ),
        (
            event("ws-user-07", "wmic /node:ws-admin-2 process"),
            [false, true, true],
        ),
        (
            event("ws-user-07", r"psexec \\ws-user-2 cmd"),
            [false, false, true],
        ),
    ];
    let set = RuleSet::new(rules);
    for (i, (e, want)) in cases.iter().enumerate() {
        let alone: Vec<bool> = set.rules().iter().map(|r| r.matches(e)).collect();
        assert_eq!(&alone[..], want, "case {i}");
        let together: Vec<usize> = set.matching(e).map(|(r, _)| r).collect();
        let expected: Vec<usize> = (0..3).filter(|&r| want[r]).collect();
        assert_eq!(together, expected, "case {i}");
    }

    // Without values the rule is refused, naming the placeholder, unless read as `*`.
    let unset = "  sel:\n    Computer|expand: 'x-%Unknown%'\n  condition: sel";
    let err = rule(unset, &placeholders).unwrap_err();
    assert_eq!(err.kind(), "unsupported placeholder without values");
    assert!(err.to_string().contains("`%Unknown%`"), "{err}");
    placeholders.unconfigured(Unconfigured::Wildcard);
    let wildcard = rule(unset, &placeholders).unwrap();
    assert!(wildcard.matches(&event("X-anything", "")));
    assert!(!wildcard.matches(&event("y-anything", "")));
}
