//! The endoflife.date snapshot bundled in `feeds/eol/` for the offline demo: every file parses
//! as the product its name says, carries the dates endoflife.date published (spot-checked
//! against the source files named in `feeds/README.md`), and the matcher turns the simulated
//! hospital's typical software into the findings those dates imply.

mod common;

use chrono::NaiveDate;
use common::day;
use std::path::PathBuf;
use ward_inventory::matching::{findings_for_software, lifecycle_match};
use ward_inventory::{
    Cpe, EolProduct, EolRelease, FeedKind, Feeds, Finding, FindingKind, Milestone, Software,
    detect_feed, parse_endoflife_legacy,
};

const PRODUCTS: [&str; 10] = [
    "debian",
    "fortios",
    "mssqlserver",
    "nginx",
    "openssl",
    "rhel",
    "tomcat",
    "ubuntu",
    "windows",
    "windows-server",
];

fn bundled() -> Vec<EolProduct> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("feeds/eol");
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    let mut products: Vec<EolProduct> = files
        .iter()
        .map(|path| {
            assert_eq!(
                path.extension().and_then(|e| e.to_str()),
                Some("json"),
                "only product JSON belongs in {}",
                dir.display()
            );
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap();
            let bytes = std::fs::read(path).unwrap();
            assert_eq!(detect_feed(&bytes), FeedKind::EndOfLifeLegacy, "{stem}");
            parse_endoflife_legacy(stem, &bytes)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .collect();
    products.sort_by(|a, b| a.name.cmp(&b.name));
    products
}

fn release<'a>(products: &'a [EolProduct], product: &str, cycle: &str) -> &'a EolRelease {
    products
        .iter()
        .find(|p| p.name == product)
        .unwrap_or_else(|| panic!("no bundled product {product}"))
        .releases
        .iter()
        .find(|r| r.name == cycle)
        .unwrap_or_else(|| panic!("{product} has no cycle {cycle}"))
}

fn on(date: &str) -> Milestone {
    Milestone::On(day(date))
}

#[test]
fn every_bundled_file_parses_as_its_product_with_distinct_cycles() {
    let products = bundled();
    let names: Vec<&str> = products.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, PRODUCTS);
    for product in &products {
        assert!(
            !product.releases.is_empty(),
            "{} has no releases",
            product.name
        );
        for (i, r) in product.releases.iter().enumerate() {
            assert!(
                !r.name.is_empty(),
                "{} release {i} is unnamed",
                product.name
            );
            assert!(
                product.releases[..i].iter().all(|o| o.name != r.name),
                "{} lists cycle {} twice",
                product.name,
                r.name
            );
            assert!(r.release_date.is_some(), "{} {}", product.name, r.name);
        }
    }
    let counts: Vec<usize> = products.iter().map(|p| p.releases.len()).collect();
    assert_eq!(counts, [17, 7, 35, 21, 8, 6, 8, 44, 43, 20]);
}

#[test]
fn windows_server_2012_r2_dates_are_the_published_ones() {
    let products = bundled();
    let r = release(&products, "windows-server", "2012-r2");
    assert_eq!(r.release_date, Some(day("2013-11-25")));
    assert_eq!(r.end_of_active_support, on("2018-10-09"));
    assert_eq!(r.end_of_life, on("2023-10-10"));
    assert_eq!(r.end_of_extended_support, Some(on("2026-10-13")));
    assert!(r.lts);
    assert_eq!(r.latest.as_deref(), Some("6.3.9600"));

    let r = release(&products, "windows-server", "2022");
    assert_eq!(
        (r.end_of_active_support, r.end_of_life),
        (on("2026-10-13"), on("2031-10-14"))
    );
    let r = release(&products, "windows-server", "2016");
    assert_eq!(r.end_of_extended_support, Some(on("2030-01-12")));
}

#[test]
fn ubuntu_18_04_dates_are_the_published_ones() {
    let products = bundled();
    let r = release(&products, "ubuntu", "18.04");
    assert_eq!(r.release_date, Some(day("2018-04-26")));
    assert_eq!(r.end_of_active_support, on("2023-05-31"));
    assert_eq!(r.end_of_life, on("2023-05-31"));
    assert_eq!(r.end_of_extended_support, Some(on("2028-04-01")));
    assert!(r.lts);
    assert_eq!(r.latest.as_deref(), Some("18.04.6"));
    assert_eq!(r.latest_date, Some(day("2021-09-17")));

    let r = release(&products, "ubuntu", "22.04");
    assert_eq!(
        (r.end_of_active_support, r.end_of_life),
        (on("2024-09-30"), on("2027-04-01"))
    );
    assert!(!release(&products, "ubuntu", "25.10").lts);
}

#[test]
fn sql_server_2014_rtm_and_sp3_have_their_own_end_of_life() {
    let products = bundled();
    // endoflife.date splits SQL Server by service pack: 2014 RTM is cycle 12.0, SP3 is 12.0-sp3.
    let rtm = release(&products, "mssqlserver", "12.0");
    assert_eq!(rtm.release_date, Some(day("2014-06-05")));
    assert_eq!(rtm.end_of_life, on("2016-07-12"));
    assert_eq!(rtm.end_of_extended_support, None);
    let sp3 = release(&products, "mssqlserver", "12.0-sp3");
    assert_eq!(sp3.end_of_active_support, on("2019-07-09"));
    assert_eq!(sp3.end_of_life, on("2024-07-09"));
    assert_eq!(sp3.end_of_extended_support, Some(on("2027-07-12")));
    assert_eq!(sp3.latest.as_deref(), Some("12.0.6449.1 CU4+GDR"));
}

#[test]
fn other_products_carry_flags_and_dates_as_published() {
    let products = bundled();
    let w = release(&products, "windows", "10-22h2");
    assert_eq!(
        (w.end_of_life, w.end_of_extended_support),
        (on("2025-10-14"), Some(on("2028-10-10")))
    );
    assert_eq!(
        release(&products, "windows", "8.1").end_of_life,
        on("2023-01-10")
    );

    assert_eq!(
        release(&products, "tomcat", "8.5").end_of_life,
        on("2024-03-31")
    );
    // `eol: false`: no end of life announced.
    assert_eq!(
        release(&products, "tomcat", "9").end_of_life,
        Milestone::NotAnnounced
    );
    assert_eq!(
        release(&products, "nginx", "1.28").end_of_life,
        Milestone::NotAnnounced
    );
    assert_eq!(
        release(&products, "nginx", "1.24").end_of_life,
        on("2024-04-23")
    );

    let ossl = release(&products, "openssl", "1.1.1");
    assert_eq!(ossl.end_of_life, on("2023-09-11"));
    // `eoes: false`: premium support exists and has no announced end.
    assert_eq!(ossl.end_of_extended_support, Some(Milestone::NotAnnounced));
    assert_eq!(
        release(&products, "openssl", "3.0").end_of_life,
        on("2026-09-07")
    );

    let forti = release(&products, "fortios", "7.0");
    assert_eq!(
        (forti.end_of_active_support, forti.end_of_life),
        (on("2024-03-30"), on("2025-09-30"))
    );

    let debian = release(&products, "debian", "11");
    assert_eq!(
        (debian.end_of_life, debian.end_of_extended_support),
        (on("2024-08-14"), Some(on("2026-08-31")))
    );

    // RHEL gives `lts` as a date (ELS from then): an LTS line; RHEL 4 has no `lts`.
    let rhel = release(&products, "rhel", "7");
    assert!(rhel.lts);
    assert_eq!(
        (rhel.end_of_life, rhel.end_of_extended_support),
        (on("2024-06-30"), Some(on("2028-06-30")))
    );
    assert!(!release(&products, "rhel", "4").lts);
}

/// The lifecycle findings for one component as of the demo's date.
fn lifecycle(products: &[EolProduct], software: &Software) -> Vec<(FindingKind, String)> {
    let feeds = Feeds {
        eol: products,
        ..Feeds::default()
    };
    findings_for_software(software, &feeds, day("2026-11-29"))
        .iter()
        .map(|f: &Finding| (f.kind, f.id.clone()))
        .collect()
}

fn named(name: &str, vendor: &str, version: &str) -> Software {
    Software {
        vendor: vendor.to_string(),
        ..Software::new(name, version)
    }
}

#[test]
fn windows_server_2012_r2_is_end_of_life_by_its_build_number() {
    let products = bundled();
    let mut os = named("Windows Server 2012 R2", "Microsoft", "6.3.9600");
    os.cpe = Some("cpe:2.3:o:microsoft:windows_server_2012:r2:*:*:*:*:*:*:*".to_string());
    let feeds = Feeds {
        eol: &products,
        ..Feeds::default()
    };
    let found = findings_for_software(&os, &feeds, day("2026-11-29"));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].kind, FindingKind::EndOfLife);
    assert_eq!(found[0].id, "windows-server 2012-r2");
    assert_eq!(found[0].lifecycle_date, Some(day("2023-10-10")));
    assert!(
        found[0].reason.contains("from its build number"),
        "{}",
        found[0].reason
    );
}

#[test]
fn newer_windows_servers_are_out_of_active_support_only() {
    let products = bundled();
    for (name, version, cycle) in [
        ("Windows Server 2016", "10.0.14393.7428", "2016"),
        ("Windows Server 2019", "10.0.17763.5830", "2019"),
        ("Windows Server 2022", "10.0.20348.2461", "2022"),
    ] {
        assert_eq!(
            lifecycle(&products, &named(name, "Microsoft", version)),
            [(FindingKind::EndOfSupport, format!("windows-server {cycle}"))],
            "{name}"
        );
    }
    assert!(
        lifecycle(
            &products,
            &named("Windows Server 2025", "Microsoft", "10.0.26100")
        )
        .is_empty()
    );
}

#[test]
fn hospital_software_matches_its_cycle_as_of_the_demo_date() {
    let products = bundled();
    let eol = FindingKind::EndOfLife;
    let eos = FindingKind::EndOfSupport;
    for (software, expected) in [
        (
            named("Windows 8.1", "Microsoft", "6.3.9600"),
            Some((eol, "windows 8.1")),
        ),
        (named("Ubuntu", "", "18.04.6"), Some((eol, "ubuntu 18.04"))),
        (named("Ubuntu", "", "22.04.4"), Some((eos, "ubuntu 22.04"))),
        (named("Ubuntu", "", "24.04.2"), None),
        (
            named("Apache Tomcat", "Apache", "8.5.78"),
            Some((eol, "tomcat 8.5")),
        ),
        (named("Apache Tomcat", "Apache", "9.0.76"), None),
        (named("nginx", "", "1.24.0"), Some((eol, "nginx 1.24"))),
        (named("nginx", "", "1.28.0"), None),
        (named("openssl", "", "1.1.1w"), Some((eol, "openssl 1.1.1"))),
        (named("openssl", "", "3.0.13"), Some((eol, "openssl 3.0"))),
        (
            named("FortiOS", "Fortinet", "7.0.12"),
            Some((eol, "fortios 7.0")),
        ),
        (
            named("FortiOS", "Fortinet", "7.2.8"),
            Some((eol, "fortios 7.2")),
        ),
        (
            named("FortiOS", "Fortinet", "7.4.3"),
            Some((eos, "fortios 7.4")),
        ),
        (named("FortiOS", "Fortinet", "7.6.1"), None),
        (named("Debian", "", "11.9"), Some((eol, "debian 11"))),
        (named("RHEL", "Red Hat", "7.9"), Some((eol, "rhel 7"))),
        (named("RHEL", "Red Hat", "9.4"), None),
    ] {
        let expected: Vec<(FindingKind, String)> = expected
            .map(|(kind, id)| (kind, id.to_string()))
            .into_iter()
            .collect();
        assert_eq!(
            lifecycle(&products, &software),
            expected,
            "{} {}",
            software.name,
            software.version
        );
    }
}

// ---------------------------------------------------------------------------------------
// Mapping real-world names and CPEs to the bundled cycles (Windows clients by feature update
// and edition, SQL Server by service pack, products known by other names).

fn by_cpe(text: &str) -> Software {
    Software::from_cpe(&Cpe::parse(text).unwrap(), text)
}

/// The cycle `software` maps to, its end of life, and the reason.
fn mapped(products: &[EolProduct], software: &Software) -> Option<(String, Milestone, String)> {
    lifecycle_match(software, products).map(|m| {
        (
            format!("{} {}", m.product.name, m.release.name),
            m.release.end_of_life,
            m.reason,
        )
    })
}

/// The single lifecycle finding as of the demo's date: kind and the date it reports.
fn finding(products: &[EolProduct], software: &Software) -> Option<(FindingKind, NaiveDate)> {
    let feeds = Feeds {
        eol: products,
        ..Feeds::default()
    };
    let found = findings_for_software(software, &feeds, day("2026-11-29"));
    assert!(found.len() <= 1, "{found:?}");
    found
        .first()
        .map(|f| (f.kind, f.lifecycle_date.expect("a dated milestone")))
}

/// An input, the cycle it must map to with that cycle's end of life, and the finding as of
/// 2026-11-29 (kind and date; `None`: still supported).
type Case = (
    Software,
    &'static str,
    Milestone,
    Option<(FindingKind, &'static str)>,
);

fn check(products: &[EolProduct], cases: &[Case]) {
    for (software, cycle, end_of_life, expected) in cases {
        let what = format!("{} {} {:?}", software.name, software.version, software.cpe);
        let (id, eol, reason) =
            mapped(products, software).unwrap_or_else(|| panic!("{what}: no cycle"));
        assert_eq!(
            (id.as_str(), eol),
            (*cycle, *end_of_life),
            "{what}: {reason}"
        );
        assert_eq!(
            finding(products, software),
            expected.map(|(kind, date)| (kind, day(date))),
            "{what}: {reason}"
        );
    }
}

const EOL: FindingKind = FindingKind::EndOfLife;
const EOS: FindingKind = FindingKind::EndOfSupport;

#[test]
fn windows_10_and_11_map_by_build_and_edition() {
    let products = bundled();
    check(
        &products,
        &[
            // 22H2 has one cycle for every edition; end of life 2025-10-14 (ESU aside).
            (
                by_cpe("cpe:2.3:o:microsoft:windows_10_22h2:10.0.19045.4291:*:*:*:*:*:x64:*"),
                "windows 10-22h2",
                on("2025-10-14"),
                Some((EOL, "2025-10-14")),
            ),
            (
                named("Windows 10 Enterprise 22H2", "Microsoft", "10.0.19045.4291"),
                "windows 10-22h2",
                on("2025-10-14"),
                Some((EOL, "2025-10-14")),
            ),
            (
                named("Windows 11 Enterprise 23H2", "Microsoft", "10.0.22631.4460"),
                "windows 11-23h2-e",
                on("2026-11-10"),
                Some((EOL, "2026-11-10")),
            ),
            (
                named("Windows 11 Pro", "Microsoft", "10.0.22631.4460"),
                "windows 11-23h2-w",
                on("2025-11-11"),
                Some((EOL, "2025-11-11")),
            ),
            (
                named("Windows 11 Education", "", "10.0.22621.3880"),
                "windows 11-22h2-e",
                on("2025-10-14"),
                Some((EOL, "2025-10-14")),
            ),
            // Pro Education is serviced as Pro, not as Education.
            (
                named("Windows 10 Pro Education", "", "10.0.19044.1"),
                "windows 10-21h2-w",
                on("2023-06-13"),
                Some((EOL, "2023-06-13")),
            ),
            (
                named("Windows 11 Home", "Microsoft", "10.0.26100.2314"),
                "windows 11-24h2-w",
                on("2026-10-13"),
                Some((EOL, "2026-10-13")),
            ),
            // The long-term servicing release of 1809 shares build 17763 with 1809 itself.
            (
                named(
                    "Windows 10 Enterprise LTSC 2019",
                    "Microsoft",
                    "10.0.17763.5830",
                ),
                "windows 10-1809-e-lts",
                on("2029-01-09"),
                Some((EOS, "2024-01-09")),
            ),
            (
                named("Windows 10 Enterprise", "Microsoft", "10.0.17763.5830"),
                "windows 10-1809-e",
                on("2021-05-11"),
                Some((EOL, "2021-05-11")),
            ),
            // No build: the year of the long-term servicing release names it.
            (
                named("Windows 10 Enterprise LTSB 2016", "Microsoft", ""),
                "windows 10-1607-e-lts",
                on("2026-10-13"),
                Some((EOL, "2026-10-13")),
            ),
            (
                named("Windows 10 IoT Enterprise LTSC 2021", "", "10.0.19044.4529"),
                "windows 10-21h2-iot-lts",
                on("2032-01-13"),
                None,
            ),
        ],
    );
}

#[test]
fn windows_without_an_edition_takes_the_earliest_ending_one_and_says_so() {
    let products = bundled();
    check(
        &products,
        &[
            (
                by_cpe("cpe:2.3:o:microsoft:windows_11_23h2:10.0.22631.3447:*:*:*:*:*:x64:*"),
                "windows 11-23h2-w",
                on("2025-11-11"),
                Some((EOL, "2025-11-11")),
            ),
            (
                by_cpe("cpe:2.3:o:microsoft:windows_10_1809:10.0.17763.5830:*:*:*:*:*:x64:*"),
                "windows 10-1809-w",
                on("2020-11-10"),
                Some((EOL, "2020-11-10")),
            ),
            // `windows_10:1809`: the CPE version names the feature update.
            (
                by_cpe("cpe:2.3:o:microsoft:windows_10:1809:*:*:*:*:*:x64:*"),
                "windows 10-1809-w",
                on("2020-11-10"),
                Some((EOL, "2020-11-10")),
            ),
            // Windows 11 24H2 Home/Pro ended 2026-10-13, before the demo date.
            (
                named("Windows 11", "Microsoft", "10.0.26100.2314"),
                "windows 11-24h2-w",
                on("2026-10-13"),
                Some((EOL, "2026-10-13")),
            ),
        ],
    );
    let (_, _, reason) = mapped(
        &products,
        &by_cpe("cpe:2.3:o:microsoft:windows_11_23h2:10.0.22631.3447:*:*:*:*:*:x64:*"),
    )
    .unwrap();
    assert!(
        reason.contains("from its build number 22631")
            && reason.contains("the name gives no edition")
            && reason.contains("conservative"),
        "{reason}"
    );
    // One cycle for all editions: nothing to choose, nothing to say.
    let (_, _, reason) = mapped(&products, &named("Windows 10", "", "10.0.19045.1")).unwrap();
    assert!(!reason.contains("conservative"), "{reason}");
}

#[test]
fn windows_11_24h2_enterprise_and_long_term_are_still_supported() {
    let products = bundled();
    for software in [
        named("Windows 11 Enterprise 24H2", "Microsoft", "10.0.26100.2314"),
        named("Windows 11 Enterprise", "Microsoft", "10.0.26100.2314"),
        named(
            "Windows 11 Enterprise LTSC 2024",
            "Microsoft",
            "10.0.26100.2314",
        ),
        named("Windows 11 IoT Enterprise LTSC 2024", "Microsoft", ""),
    ] {
        assert!(mapped(&products, &software).is_some(), "{}", software.name);
        assert_eq!(finding(&products, &software), None, "{}", software.name);
    }
    assert_eq!(
        mapped(
            &products,
            &named("Windows 11 Enterprise LTSC 2024", "Microsoft", "")
        )
        .map(|m| m.0),
        Some("windows 11-24h2-e-lts".to_string())
    );
}

#[test]
fn windows_7_maps_to_its_service_pack_cycle_and_notes_embedded_support() {
    let products = bundled();
    check(
        &products,
        &[
            (
                by_cpe("cpe:2.3:o:microsoft:windows_7:-:sp1:*:*:*:*:*:*"),
                "windows 7-sp1",
                on("2020-01-14"),
                Some((EOL, "2020-01-14")),
            ),
            (
                named("Windows 7", "Microsoft", ""),
                "windows 7-sp1",
                on("2020-01-14"),
                Some((EOL, "2020-01-14")),
            ),
            (
                named("Windows 7 SP1", "Microsoft", "6.1.7601"),
                "windows 7-sp1",
                on("2020-01-14"),
                Some((EOL, "2020-01-14")),
            ),
            (
                named("Windows 7 Embedded", "Microsoft", "6.1.7601"),
                "windows 7-sp1",
                on("2020-01-14"),
                Some((EOL, "2020-01-14")),
            ),
            (
                by_cpe("cpe:2.3:o:microsoft:windows_8.1:-:*:*:*:*:*:*:*"),
                "windows 8.1",
                on("2023-01-10"),
                Some((EOL, "2023-01-10")),
            ),
        ],
    );
    let (_, _, reason) = mapped(
        &products,
        &named("Windows 7 Embedded", "Microsoft", "6.1.7601"),
    )
    .unwrap();
    assert!(
        reason.contains("embedded editions of Windows 7"),
        "{reason}"
    );
    let (_, _, reason) = mapped(&products, &named("Windows 7", "", "6.1.7601")).unwrap();
    assert!(!reason.contains("embedded"), "{reason}");
}

#[test]
fn windows_server_is_never_taken_for_the_client_with_the_same_build() {
    // Windows Server 2019 and Windows 10 1809 are both build 17763.
    let products = bundled();
    check(
        &products,
        &[
            (
                named(
                    "Windows Server 2019 Standard",
                    "Microsoft",
                    "10.0.17763.5830",
                ),
                "windows-server 2019",
                on("2029-01-09"),
                Some((EOS, "2024-01-09")),
            ),
            (
                by_cpe("cpe:2.3:o:microsoft:windows_server_2019:10.0.17763.5830:*:*:*:*:*:*:*"),
                "windows-server 2019",
                on("2029-01-09"),
                Some((EOS, "2024-01-09")),
            ),
            // A CPE that says server outweighs a name that does not.
            (
                Software {
                    name: "Windows".into(),
                    cpe: Some("cpe:2.3:o:microsoft:windows_server_2019:-:*:*:*:*:*:*:*".into()),
                    ..Software::new("Windows", "10.0.17763.5830")
                },
                "windows-server 2019",
                on("2029-01-09"),
                Some((EOS, "2024-01-09")),
            ),
            (
                by_cpe("cpe:2.3:o:microsoft:windows_server_2012:r2:*:*:*:*:*:*:*"),
                "windows-server 2012-r2",
                on("2023-10-10"),
                Some((EOL, "2023-10-10")),
            ),
        ],
    );
}

#[test]
fn windows_tools_and_undatable_windows_are_left_unmatched() {
    let products = bundled();
    for software in [
        // Software that carries Windows' name and build but is not the system.
        named("Windows 10 SDK", "Microsoft", "10.0.19041.685"),
        named(
            "Windows 11 Installation Assistant",
            "Microsoft",
            "1.4.19041.3630",
        ),
        // No build, no feature update, no long-term servicing year: no cycle to choose.
        named("Windows 10 Pro", "Microsoft", ""),
        // Client or server cannot be told from a bare name and build.
        named("Microsoft Windows", "Microsoft", "10.0.17763.5830"),
    ] {
        assert!(
            mapped(&products, &software).is_none(),
            "{}: {:?}",
            software.name,
            mapped(&products, &software)
        );
    }
}

#[test]
fn sql_server_maps_to_the_service_pack_its_build_or_cpe_names() {
    let products = bundled();
    check(
        &products,
        &[
            // 12.0.6024 is SP3: above SP2's last build 12.0.5687.1, below SP3's 12.0.6449.1.
            (
                named("Microsoft SQL Server 2014", "", "12.0.6024.0"),
                "mssqlserver 12.0-sp3",
                on("2024-07-09"),
                Some((EOL, "2024-07-09")),
            ),
            (
                by_cpe("cpe:2.3:a:microsoft:sql_server_2014:12.0.6024.0:sp3:*:*:*:*:x64:*"),
                "mssqlserver 12.0-sp3",
                on("2024-07-09"),
                Some((EOL, "2024-07-09")),
            ),
            (
                named("Microsoft SQL Server 2014 SP3", "Microsoft", ""),
                "mssqlserver 12.0-sp3",
                on("2024-07-09"),
                Some((EOL, "2024-07-09")),
            ),
            (
                named("Microsoft SQL Server 2014", "", "12.0.5000.0"),
                "mssqlserver 12.0-sp2",
                on("2020-01-14"),
                Some((EOL, "2020-01-14")),
            ),
            (
                named("Microsoft SQL Server 2014", "", "12.0.2000.8"),
                "mssqlserver 12.0",
                on("2016-07-12"),
                Some((EOL, "2016-07-12")),
            ),
            (
                named(
                    "Microsoft SQL Server 2016 (64-bit)",
                    "Microsoft",
                    "13.0.6300.2",
                ),
                "mssqlserver 13.0-sp3",
                on("2026-07-14"),
                Some((EOL, "2026-07-14")),
            ),
            (
                named("SQL Server 2019", "", ""),
                "mssqlserver 15.0",
                on("2030-01-08"),
                Some((EOS, "2025-02-28")),
            ),
            (
                named("Microsoft SQL Server 2022", "", "16.0.4135.4"),
                "mssqlserver 16.0",
                on("2033-01-11"),
                None,
            ),
            (
                named("Microsoft SQL Server 2008 R2", "", "10.50.6000.34"),
                "mssqlserver 10.50-sp3",
                on("2019-07-09"),
                Some((EOL, "2019-07-09")),
            ),
        ],
    );
    let (_, _, reason) = mapped(
        &products,
        &named("Microsoft SQL Server 2014", "", "12.0.6024.0"),
    )
    .unwrap();
    assert!(reason.contains("from build 6024"), "{reason}");
}

#[test]
fn sql_server_without_a_service_pack_takes_the_latest_and_says_so() {
    let products = bundled();
    let (id, eol, reason) = mapped(
        &products,
        &named("Microsoft SQL Server 2014", "Microsoft", ""),
    )
    .unwrap();
    assert_eq!(
        (id.as_str(), eol),
        ("mssqlserver 12.0-sp3", on("2024-07-09"))
    );
    assert!(reason.contains("could not be told"), "{reason}");
    // SQL Server tools have versions of their own.
    assert!(
        mapped(
            &products,
            &named("Microsoft SQL Server Management Studio", "", "19.3.4.0")
        )
        .is_none()
    );
    assert!(
        mapped(
            &products,
            &named("Microsoft SQL Server 2012 Native Client", "", "11.4.7462.6")
        )
        .is_none()
    );
}

#[test]
fn products_known_by_other_names_and_cpes_map_to_their_cycles() {
    let products = bundled();
    check(
        &products,
        &[
            (
                named("Red Hat Enterprise Linux", "", "7.9"),
                "rhel 7",
                on("2024-06-30"),
                Some((EOL, "2024-06-30")),
            ),
            (
                named("Red Hat Enterprise Linux", "Red Hat", "8.10"),
                "rhel 8",
                on("2029-05-31"),
                Some((EOS, "2024-05-31")),
            ),
            (
                by_cpe("cpe:2.3:o:redhat:enterprise_linux:9.4:*:*:*:*:*:*:*"),
                "rhel 9",
                on("2032-05-31"),
                None,
            ),
            (
                named("Debian GNU/Linux", "", "11.9"),
                "debian 11",
                on("2024-08-14"),
                Some((EOL, "2024-08-14")),
            ),
            (
                by_cpe("cpe:2.3:o:debian:debian_linux:11:*:*:*:*:*:*:*"),
                "debian 11",
                on("2024-08-14"),
                Some((EOL, "2024-08-14")),
            ),
            (
                named("Apache Tomcat", "", "9.0.43"),
                "tomcat 9",
                Milestone::NotAnnounced,
                None,
            ),
            (
                by_cpe("cpe:2.3:a:apache:tomcat:9.0.43:*:*:*:*:*:*:*"),
                "tomcat 9",
                Milestone::NotAnnounced,
                None,
            ),
            (
                by_cpe("cpe:2.3:a:apache:tomcat:8.5.78:*:*:*:*:*:*:*"),
                "tomcat 8.5",
                on("2024-03-31"),
                Some((EOL, "2024-03-31")),
            ),
            (
                by_cpe("cpe:2.3:a:f5:nginx:1.24.0:*:*:*:*:*:*:*"),
                "nginx 1.24",
                on("2024-04-23"),
                Some((EOL, "2024-04-23")),
            ),
            (
                by_cpe("cpe:2.3:o:fortinet:fortios:7.0.12:*:*:*:*:*:*:*"),
                "fortios 7.0",
                on("2025-09-30"),
                Some((EOL, "2025-09-30")),
            ),
            (
                named("FortiGate 60F", "Fortinet", "7.4.3"),
                "fortios 7.4",
                on("2027-11-11"),
                Some((EOS, "2026-05-11")),
            ),
            (
                by_cpe("cpe:2.3:o:canonical:ubuntu_linux:18.04:*:*:*:lts:*:*:*"),
                "ubuntu 18.04",
                on("2023-05-31"),
                Some((EOL, "2023-05-31")),
            ),
        ],
    );
    // The digits after FortiGate are the model, not a FortiOS release (`60F` is not 6.0).
    assert!(mapped(&products, &named("FortiGate 60F", "Fortinet", "")).is_none());
}
