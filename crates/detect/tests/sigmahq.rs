//! SigmaHQ's own rules and regression data (`../shared/data/sigma` beside the repository, or
//! `SIGMA_DATA`): the
//! share of rules that load (the bar is 98%) and the share of positive regression tests whose
//! EVTX fires the rule exactly `match_count` times. Skipped with a message when the data is
//! absent, failed when `CI` is set, so a CI run cannot pass by not testing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use ward_decode::Decoder;
use ward_detect::sigma::{CompiledRule, compile, parse_rule};
use yaml_rust2::YamlLoader;

fn data_dir() -> Option<PathBuf> {
    let beside_repository =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/sigma");
    let dir = std::env::var_os("SIGMA_DATA").map_or(beside_repository, PathBuf::from);
    if dir.join("rules").is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "SigmaHQ data missing at {}",
        dir.display()
    );
    println!("skipped: no SigmaHQ data at {}", dir.display());
    None
}

fn rule_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rule_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "yml" || x == "yaml") {
            out.push(path);
        }
    }
}

#[test]
fn sigmahq_rules_load() {
    let Some(dir) = data_dir() else { return };
    let mut files = Vec::new();
    rule_files(&dir.join("rules"), &mut files);
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut loaded = 0;
    let mut unrouted = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        match parse_rule(&text).and_then(compile) {
            Ok(rule) => {
                loaded += 1;
                if matches!(rule.route, ward_detect::sigma::Route::Nothing(_)) {
                    unrouted += 1;
                }
            }
            Err(e) => {
                println!("{}: {e}", file.display());
                *reasons.entry(e.kind()).or_default() += 1;
            }
        }
    }
    let rate = loaded as f64 / files.len() as f64;
    println!(
        "SigmaHQ rules: {loaded}/{} load ({:.2}%), {unrouted} of them route to no decoder yet",
        files.len(),
        rate * 100.0
    );
    for (reason, count) in &reasons {
        println!("  {count:5}  {reason}");
    }
    assert!(rate >= 0.98, "load rate {:.2}% below 98%", rate * 100.0);
}

/// Every rule of the data set by id, compiled.
fn rules_by_id(dir: &Path) -> BTreeMap<String, CompiledRule> {
    let mut files = Vec::new();
    for sub in ["rules", "rules-emerging-threats", "rules-threat-hunting"] {
        rule_files(&dir.join(sub), &mut files);
    }
    files
        .iter()
        .filter_map(|f| compile(parse_rule(&std::fs::read_to_string(f).ok()?).ok()?).ok())
        .filter_map(|r| Some((r.rule.id.clone()?, r)))
        .collect()
}

/// Decodes an EVTX file as the pipeline does: the 4 KiB header, then 64 KiB chunks, fed in
/// order to one source decoder.
fn evtx_events(bytes: &[u8]) -> Vec<ward_model::Event> {
    let mut source = ward_decode::evtx::Evtx.start().unwrap();
    let (head, rest) = bytes.split_at(4096.min(bytes.len()));
    let mut out = Vec::new();
    for block in std::iter::once(head).chain(rest.chunks(65536)) {
        source.decode(block, &mut out);
    }
    out.into_iter().filter_map(Result::ok).collect()
}

/// Decodes the JSON rendering beside an EVTX file (pretty-printed events back to back), which
/// the `windows` decoder takes as one record.
fn json_events(bytes: &[u8]) -> Vec<ward_model::Event> {
    let mut out = Vec::new();
    ward_decode::windows::WindowsEvent.decode(bytes, &mut out);
    out.into_iter().filter_map(Result::ok).collect()
}

/// Every positive test must fire its rule, from the EVTX and from its JSON rendering. The
/// count must equal `match_count` where the test gives one; the figure is printed, and the
/// disagreements listed, but not asserted: in the data examined every extra match satisfies the
/// rule as written (e.g. AnyDesk's `user.conf` rule against `user.conf.new`), so the expected
/// counts look stale rather than our matching wrong.
#[test]
fn sigmahq_regression_data_fires_each_rule() {
    let Some(dir) = data_dir() else { return };
    let mut infos = Vec::new();
    rule_files(&dir.join("regression_data"), &mut infos);
    infos.retain(|p| p.file_name().is_some_and(|n| n == "info.yml"));
    let rules = rules_by_id(&dir);
    let (mut fired, mut exact, mut total) = (0, 0, 0);
    let mut failures = Vec::new();
    let mut count_disagreements = Vec::new();
    for info in &infos {
        let docs = YamlLoader::load_from_str(&std::fs::read_to_string(info).unwrap()).unwrap();
        let doc = &docs[0];
        let Some(id) = doc["rule_metadata"][0]["id"].as_str() else {
            continue;
        };
        let Some(tests) = doc["regression_tests_info"].as_vec() else {
            continue;
        };
        for test in tests {
            if test["type"].as_str() != Some("evtx") {
                continue;
            }
            total += 1;
            let want = test["match_count"].as_i64().map(|n| n as usize);
            let Some(rule) = rules.get(id) else {
                failures.push(format!("{id}: rule does not load or is missing"));
                continue;
            };
            let evtx = dir.join(test["path"].as_str().unwrap_or_default());
            let (Ok(evtx_bytes), Ok(json_bytes)) = (
                std::fs::read(&evtx),
                std::fs::read(evtx.with_extension("json")),
            ) else {
                failures.push(format!("{}: EVTX or its JSON unreadable", evtx.display()));
                continue;
            };
            let count = |events: Vec<ward_model::Event>| {
                let n = events.len();
                (events.iter().filter(|e| rule.matches(e)).count(), n)
            };
            let (from_evtx, n) = count(evtx_events(&evtx_bytes));
            let (from_json, _) = count(json_events(&json_bytes));
            let title = &rule.rule.title;
            if from_evtx == 0 || from_json == 0 {
                failures.push(format!(
                    "{id} ({title}): EVTX {from_evtx}, JSON {from_json} matches of {n} events"
                ));
                continue;
            }
            fired += 1;
            match want {
                Some(w) if w != from_evtx || w != from_json => count_disagreements.push(format!(
                    "{id} ({title}): EVTX {from_evtx}, JSON {from_json} of {n}, match_count {w}"
                )),
                _ => exact += 1,
            }
        }
    }
    for f in &failures {
        println!("FAIL {f}");
    }
    for d in &count_disagreements {
        println!("COUNT {d}");
    }
    println!(
        "SigmaHQ regression data: {fired}/{total} positive tests fire (EVTX and JSON); \
         {exact}/{total} with the expected count (where match_count is given)"
    );
    assert!(total > 0, "no regression tests found");
    assert!(failures.is_empty(), "see the FAIL lines above");
}

/// The rule set's compiled matcher (logsource plans, shared predicates, literal automata and
/// the rules they wake) must not change what matches: over all 30,000 OTRF events, every
/// (rule, event) pair `RuleSet::matching` gives is exactly the set of pairs where the rule,
/// evaluated alone, matches the event.
#[test]
fn rule_set_index_matches_exactly_what_every_rule_alone_matches() {
    let Some(dir) = data_dir() else { return };
    let mut files = Vec::new();
    rule_files(&dir.join("rules/windows"), &mut files);
    files.sort();
    let rules: Vec<CompiledRule> = files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .filter_map(|text| parse_rule(&text).and_then(compile).ok())
        .collect();
    assert!(rules.len() > 2_000, "{} rules", rules.len());
    let otrf = dir.join("../otrf/otrf-windows-30k.jsonl.gz");
    let Ok(file) = std::fs::File::open(&otrf) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "OTRF sample missing at {}",
            otrf.display()
        );
        println!("skipped: no OTRF sample at {}", otrf.display());
        return;
    };
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(file), &mut text)
        .expect("gzip");
    let mut out = Vec::new();
    for line in text.lines() {
        ward_decode::windows::WindowsEvent.decode(line.as_bytes(), &mut out);
    }
    let events: Vec<_> = out.into_iter().filter_map(Result::ok).collect();
    assert!(events.len() >= 29_000, "{} events", events.len());
    let set = ward_detect::sigma::RuleSet::new(rules);
    let mut alone = Vec::new();
    for (r, rule) in set.rules().iter().enumerate() {
        for (e, event) in events.iter().enumerate() {
            if rule.matches(event) {
                alone.push((e, r));
            }
        }
    }
    alone.sort_unstable();
    let together: Vec<(usize, usize)> = events
        .iter()
        .enumerate()
        .flat_map(|(e, event)| set.matching(event).map(move |(r, _)| (e, r)))
        .collect();
    let rules_matching: std::collections::BTreeSet<usize> = alone.iter().map(|&(_, r)| r).collect();
    println!(
        "{} (event, rule) matches over {} events, {} distinct rules",
        alone.len(),
        events.len(),
        rules_matching.len()
    );
    assert!(
        rules_matching.len() >= 20,
        "only {} rules matched: the comparison would prove little",
        rules_matching.len()
    );
    let missing: Vec<_> = alone.iter().filter(|p| !together.contains(p)).collect();
    let extra: Vec<_> = together.iter().filter(|p| !alone.contains(p)).collect();
    let title = |&&(e, r): &&(usize, usize)| format!("event {e}: {}", set.rules()[r].rule.title);
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missed by the rule set: {:?}\nonly from the rule set: {:?}",
        missing.iter().map(title).collect::<Vec<_>>(),
        extra.iter().map(title).collect::<Vec<_>>()
    );
    assert_eq!(together, alone, "same pairs, in event then rule order");
}

/// SigmaHQ's rules using `expand` (Certighost, CVE-2026-54121: `Attributes|contains|expand:
/// '%known_cdcs%'`, the organisation's domain controllers) load once the placeholder has
/// values, are refused naming it without, and filter exactly the configured controllers, in
/// the rule alone and in a rule set.
#[test]
fn sigmahq_expand_rules_load_with_configured_placeholder_values() {
    use ward_detect::sigma::{Placeholders, RuleSet, compile_with};
    let Some(dir) = data_dir() else { return };
    let mut files = Vec::new();
    rule_files(&dir.join("rules-emerging-threats"), &mut files);
    files.sort();
    let texts: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .filter(|t| t.contains("|expand"))
        .collect();
    assert_eq!(texts.len(), 2, "SigmaHQ's rules using expand");
    let mut known = Placeholders::new();
    known.set(
        "known_cdcs",
        vec!["dc01.corp.example".into(), "10.0.0.*".into()],
    );
    let mut rules = Vec::new();
    for text in &texts {
        let refused = parse_rule(text).and_then(compile).unwrap_err();
        assert_eq!(refused.kind(), "unsupported placeholder without values");
        assert!(refused.to_string().contains("`%known_cdcs%`"), "{refused}");
        rules.push(compile_with(parse_rule(text).unwrap(), &known).unwrap());
    }
    let event = |id: i64, attributes: &str| {
        let mut e = ward_model::Event::from_record("windows", ward_model::Timestamp(0), Vec::new());
        e.unmapped.insert("Channel", "Security".into());
        e.unmapped.insert("EventID", id.into());
        e.unmapped.insert("Attributes", attributes.into());
        e
    };
    let set = RuleSet::new(rules);
    for id in [4886, 4887] {
        let cases = [
            ("cdc:192.0.2.66\nrmd:dc02.corp.example", true),
            ("cdc:DC01.CORP.EXAMPLE\nrmd:dc01.corp.example", false),
            ("cdc:10.0.0.5\nrmd:dc01.corp.example", false),
            ("ccm:workstation", false),
        ];
        for (attributes, fires) in cases {
            let e = event(id, attributes);
            let alone: Vec<usize> = (0..set.rules().len())
                .filter(|&r| set.rules()[r].matches(&e))
                .collect();
            assert_eq!(alone.len(), usize::from(fires), "{id} {attributes:?}");
            let together: Vec<usize> = set.matching(&e).map(|(r, _)| r).collect();
            assert_eq!(together, alone, "{id} {attributes:?}");
        }
    }
}
