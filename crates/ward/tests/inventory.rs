//! The inventory end to end, as an IT lead would use it from the command line: the simulated
//! hospital's asset list imported, the KEV catalogue (the snapshot bundled in the repository)
//! and an endoflife.date file imported as feeds, the exposure list ranked, an SBOM attached
//! to a host, the telemetry ingested so that discovery flags the planted rogue device and the
//! reachability report shows the guest Wi-Fi reaching the EHR servers, a device reviewed,
//! encryption coverage, and a TLS scan of a local `openssl s_server` feeding that coverage.
//! Bad input gets exit 2 and a message naming the file.

use serde_json::Value;
use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::Ward;

/// A Ward whose commands read `ward.toml` in its directory.
fn ward() -> Ward {
    let ward = Ward::new();
    let config = ward.path("ward.toml");
    ward.with_config(config)
}

/// The repository's bundled KEV snapshot, unpacked.
fn kev_file(ward: &Ward) -> PathBuf {
    let gz =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../inventory/feeds/kev-2025.08.25.json.gz");
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(gz).unwrap())
        .read_to_end(&mut json)
        .unwrap();
    let path = ward.path("known_exploited_vulnerabilities.json");
    std::fs::write(&path, json).unwrap();
    path
}

fn truth_src_ip(sim: &Path, kind: &str) -> String {
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(sim.join("truth.json")).unwrap()).unwrap();
    truth["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} planted"))["entities"]["src_ip"]
        .as_str()
        .unwrap()
        .to_string()
}

fn factor<'a>(entry: &'a Value, kind: &str) -> Option<&'a Value> {
    entry["factors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == kind)
}

#[test]
fn an_it_lead_answers_what_we_have_what_is_exposed_what_reaches_phi_and_what_is_encrypted() {
    let ward = ward();
    let sim = ward.path("sim");
    std::fs::write(ward.path("ward.toml"), "").unwrap();
    ward.ok(&[
        "simulate",
        "--out",
        sim.to_str().unwrap(),
        "--days",
        "2",
        "--staff",
        "150",
        "--patients",
        "500",
        "--seed",
        "11",
    ]);
    std::fs::write(
        ward.path("ward.toml"),
        format!(
            "[detect]\ninventory = {:?}\n",
            sim.join("context").to_str().unwrap()
        ),
    )
    .unwrap();
    let assets_csv = sim.join("context/assets.csv");
    let rows = std::fs::read_to_string(&assets_csv)
        .unwrap()
        .lines()
        .count()
        - 1;

    // What do we have.
    let imported = ward.ok(&["inventory", "import", assets_csv.to_str().unwrap()]);
    assert!(
        imported.contains(&format!("{rows} asset(s) added, 0 updated")),
        "{imported}"
    );
    let listed = ward.json_lines(&["inventory", "list", "--json"]);
    assert_eq!(listed.len(), rows);
    // A second import updates, never duplicates.
    let again = ward.ok(&["inventory", "import", assets_csv.to_str().unwrap()]);
    assert!(
        again.contains(&format!("0 asset(s) added, {rows} updated")),
        "{again}"
    );

    // What is known exploited: the VPN appliance's FortiOS is in KEV, with ransomware use.
    let kev = kev_file(&ward);
    let fed = ward.ok(&["feeds", "update", "--from", kev.to_str().unwrap()]);
    assert!(fed.contains("kev: 1404"), "{fed}");
    let exposure = ward.json_lines(&["inventory", "exposure", "--json", "--as-of", "2026-11-29"]);
    let scores: Vec<u64> = exposure
        .iter()
        .map(|e| e["score"].as_u64().unwrap())
        .collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "ranked: {scores:?}"
    );
    let vpn = exposure
        .iter()
        .find(|e| e["asset_id"] == "vpn-gw01.wgh.example.org")
        .expect("the VPN gateway is exposed");
    let exploited = factor(vpn, "known-exploited").expect("a KEV factor");
    assert!(
        vpn["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == "CVE-2024-21762" && f["ransomware"] == true),
        "{vpn}"
    );
    assert!(
        exploited["detail"]
            .as_str()
            .unwrap()
            .contains("vendor and product"),
        "a match without a version range says so: {exploited}"
    );
    assert!(factor(vpn, "ransomware").is_some());
    // Infusion pumps run firmware no feed knows: nothing claimed about them.
    assert!(
        !exposure
            .iter()
            .any(|e| e["asset_id"].as_str().unwrap().starts_with("infusion-pump")),
        "no finding without evidence"
    );

    // What is out of date: an endoflife.date release list, product named on the command line.
    let eol = ward.path("windows-server.json");
    std::fs::write(
        &eol,
        r#"[{"cycle":"2012-R2","releaseDate":"2013-10-18","support":"2018-10-09","eol":"2023-10-10","latest":"6.3.9600","lts":false},
            {"cycle":"2019","releaseDate":"2018-11-13","support":"2024-01-09","eol":"2029-01-09","latest":"10.0.17763","lts":true}]"#,
    )
    .unwrap();
    let fed = ward.ok(&["feeds", "update", "--from", eol.to_str().unwrap()]);
    assert!(fed.contains("eol:windows-server: 2"), "{fed}");
    let feeds = ward.json_lines(&["feeds", "list", "--json"]);
    assert_eq!(feeds.len(), 2);
    assert!(
        feeds
            .iter()
            .all(|f| f["sha256"].as_str().unwrap().len() == 64)
    );
    let show: Value = serde_json::from_str(&ward.ok(&[
        "inventory",
        "show",
        "ehr-db01.wgh.example.org",
        "--json",
    ]))
    .unwrap();
    let findings = show["findings"].as_array().unwrap();
    let end_of_life = findings
        .iter()
        .find(|f| f["kind"] == "end-of-life")
        .unwrap_or_else(|| panic!("Windows Server 2012 R2 is past its end of life: {findings:?}"));
    assert!(
        end_of_life["reason"]
            .as_str()
            .unwrap()
            .contains("2023-10-10"),
        "{end_of_life}"
    );
    let app: Value = serde_json::from_str(&ward.ok(&[
        "inventory",
        "show",
        "ehr-app01.wgh.example.org",
        "--json",
    ]))
    .unwrap();
    assert!(
        !app["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "end-of-life"),
        "Windows Server 2019 is supported until 2029"
    );

    // An SBOM attached to the host its application runs on.
    let sbom = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../inventory/tests/data/dependency-track-4.6.0.cdx.json");
    ward.ok(&[
        "inventory",
        "import",
        "--asset",
        "ehr-app01.wgh.example.org",
        sbom.to_str().unwrap(),
    ]);
    let app: Value = serde_json::from_str(&ward.ok(&[
        "inventory",
        "show",
        "ehr-app01.wgh.example.org",
        "--json",
    ]))
    .unwrap();
    let software = app["asset"]["software"].as_array().unwrap();
    assert!(software.len() > 5, "{software:?}");
    assert!(
        software.iter().any(|s| s["purl"]
            .as_str()
            .is_some_and(|p| p.starts_with("pkg:maven/"))),
        "{software:?}"
    );
    assert_eq!(
        app["asset"]["zone"], "ehr-servers",
        "the host keeps what it was"
    );

    // What can reach PHI: the telemetry shows the flows and the devices.
    ward.ok(&[
        "ingest",
        sim.join("telemetry/zeek/conn.log").to_str().unwrap(),
        sim.join("telemetry/windows-security.ndjson")
            .to_str()
            .unwrap(),
    ]);
    let svg = ward.path("map.svg");
    let report = ward.json_lines(&["zones", "report", "--json", "--svg", svg.to_str().unwrap()]);
    let ehr = report
        .iter()
        .find(|r| r["zone"] == "ehr-servers")
        .expect("the EHR servers hold PHI");
    let guest = ehr["observed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["from"] == "guest-wifi")
        .expect("the guest Wi-Fi was seen reaching the EHR servers");
    assert!(guest["denied"].as_u64().unwrap() > 0, "{guest}");
    assert!(
        ehr["by_policy"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["from"] != "guest-wifi"),
        "the policy never lets the guest Wi-Fi in"
    );
    let drawn = std::fs::read_to_string(&svg).unwrap();
    assert!(
        drawn.starts_with("<svg") && drawn.contains("guest-wifi"),
        "{drawn}"
    );
    let exposure = ward.json_lines(&["inventory", "exposure", "--json", "--as-of", "2026-11-29"]);
    let db = exposure
        .iter()
        .find(|e| e["asset_id"] == "ehr-db01.wgh.example.org")
        .unwrap();
    let reach = factor(db, "untrusted-reach").expect("the database is reachable from outside");
    assert!(
        reach["detail"].as_str().unwrap().contains("guest-wifi"),
        "{reach}"
    );

    // What is new and unknown: the rogue device planted on a clinical wall port, and nothing
    // the inventory lists.
    let rogue = truth_src_ip(&sim, "unknown_device");
    let unknown = ward.json_lines(&["inventory", "unknown", "--json"]);
    let keys: Vec<&str> = unknown.iter().map(|u| u["key"].as_str().unwrap()).collect();
    assert!(keys.contains(&format!("ip:{rogue}").as_str()), "{keys:?}");
    let listed: Vec<String> = std::fs::read_to_string(&assets_csv)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().to_string())
        .collect();
    for u in &unknown {
        if let Some(address) = u["address"].as_str() {
            assert!(!listed.iter().any(|l| l == address), "{address} is listed");
        }
    }
    let seen = unknown
        .iter()
        .find(|u| u["key"] == format!("ip:{rogue}"))
        .unwrap();
    assert_eq!(seen["sources"], serde_json::json!(["zeek"]));
    ward.ok(&[
        "inventory",
        "review",
        &format!("ip:{rogue}"),
        "--accept",
        "rogue-minipc",
        "--by",
        "it-lead",
    ]);
    let unknown = ward.json_lines(&["inventory", "unknown", "--json"]);
    assert!(!unknown.iter().any(|u| u["key"] == format!("ip:{rogue}")));
    let accepted: Value =
        serde_json::from_str(&ward.ok(&["inventory", "show", "rogue-minipc", "--json"])).unwrap();
    assert_eq!(accepted["asset"]["addresses"], serde_json::json!([rogue]));
    assert_eq!(accepted["asset"]["origin"], "discovered");
    ward.refused(&[
        "inventory",
        "review",
        "ip:192.0.2.99",
        "--dismiss",
        "not ours",
    ]);

    // Is it encrypted: the PACS holds PHI and is not encrypted at rest.
    let coverage = ward.json_lines(&["inventory", "encryption", "--json"]);
    let pacs = coverage
        .iter()
        .find(|r| r["asset_id"] == "pacs01.wgh.example.org")
        .unwrap();
    assert_eq!(pacs["at_rest"], false);
    assert!(
        pacs["gaps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "not encrypted at rest")
    );
    assert!(
        !coverage
            .iter()
            .any(|r| r["asset_id"] == "sso01.wgh.example.org"),
        "only systems that store, process or transmit PHI are listed"
    );

    // Bad input: a feed given as an asset list and the other way round, a file of neither.
    let stderr = ward.refused(&["feeds", "update", "--from", assets_csv.to_str().unwrap()]);
    assert!(
        stderr.contains("assets.csv") && stderr.contains("not a feed"),
        "{stderr}"
    );
    let stderr = ward.refused(&["inventory", "import", kev.to_str().unwrap()]);
    assert!(stderr.contains("feed"), "{stderr}");
    let broken = ward.path("broken.csv");
    std::fs::write(&broken, "hostname,ip,mfa\nweb01,10.0.0.1,perhaps\n").unwrap();
    let stderr = ward.refused(&["inventory", "import", broken.to_str().unwrap()]);
    assert!(stderr.contains("line 2"), "{stderr}");
    assert!(
        !stderr.contains("web01"),
        "errors never repeat a row: {stderr}"
    );
}

/// An `openssl s_server` child, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A self-signed certificate for `cn` with extra X.509 extensions: `(key, cert)` PEM files.
fn self_signed(ward: &Ward, cn: &str, extensions: &[&str]) -> (PathBuf, PathBuf) {
    let (key, cert) = (ward.path("key.pem"), ward.path("cert.pem"));
    let mut req = Command::new("openssl");
    req.args([
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
    ])
    .arg("-subj")
    .arg(format!("/CN={cn}"));
    for extension in extensions {
        req.args(["-addext", extension]);
    }
    let made = req
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(made.success());
    (key, cert)
}

/// `openssl s_server` with `options` on a free loopback port, serving files from `dir` (for
/// `-WWW`); returns once it accepts connections.
fn s_server(options: &[&str], key: &Path, cert: &Path, dir: &Path) -> (Server, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = Server(
        Command::new("openssl")
            .args(["s_server", "-quiet"])
            .args(options)
            .arg("-accept")
            .arg(port.to_string())
            .arg("-cert")
            .arg(cert)
            .arg("-key")
            .arg(key)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "s_server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, port)
}

fn openssl() -> Option<()> {
    match Command::new("openssl").arg("version").output() {
        Ok(out) if out.status.success() => Some(()),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI is set and `openssl` is missing (.ci/run installs it)")
        }
        _ => {
            eprintln!("skipped: `openssl` is not on PATH; set CI to make this fail");
            None
        }
    }
}

#[test]
fn a_tls_scan_of_a_phi_server_shows_in_encryption_coverage() {
    if openssl().is_none() {
        return;
    }
    let ward = ward();
    std::fs::write(ward.path("ward.toml"), "").unwrap();
    let (key, cert) = self_signed(&ward, "lis01.example.org", &[]);
    let (_server, port) = s_server(&["-www", "-tls1_2"], &key, &cert, ward.root());
    let csv = ward.path("lab.csv");
    std::fs::write(
        &csv,
        "hostname,ip,kind,stores_phi,encryption_at_rest,encryption_in_transit\n\
         lis01.example.org,127.0.0.1,server,yes,yes,yes\n",
    )
    .unwrap();
    ward.ok(&["inventory", "import", csv.to_str().unwrap()]);
    // Declared encrypted and nothing scanned yet: covered on the inventory's word.
    let before = ward.json_lines(&["inventory", "encryption", "--json"]);
    assert_eq!(before[0]["in_transit"], true);

    let target = format!("127.0.0.1:{port}");
    let scanned = ward.json_lines(&["scan", "tls", &target, "--json"]);
    assert_eq!(scanned.len(), 1);
    assert_eq!(scanned[0]["grade"], "F", "{}", scanned[0]);
    let codes: Vec<&str> = scanned[0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"tls.cert.self_signed"), "{codes:?}");
    assert!(codes.contains(&"tls.hsts.missing"), "{codes:?}");

    // The scan wins over the inventory's word.
    let after = ward.json_lines(&["inventory", "encryption", "--json"]);
    assert_eq!(after[0]["in_transit"], false, "{}", after[0]);
    assert_eq!(after[0]["scans"], serde_json::json!([[target, "F"]]));
    assert!(
        after[0]["gaps"][0]
            .as_str()
            .unwrap()
            .starts_with("weak or broken TLS"),
        "{}",
        after[0]
    );
    // Only the endpoints named are scanned.
    let stderr = ward.refused(&["scan", "tls"]);
    assert!(stderr.contains("scan_targets"), "{stderr}");
}

#[test]
fn feeds_are_downloaded_over_tls_from_a_mirror_trusted_by_its_ca() {
    if openssl().is_none() {
        return;
    }
    let ward = ward();
    let www = ward.path("www");
    std::fs::create_dir_all(www.join("eol")).unwrap();
    // A mirror: KEV and one endoflife.date product, served by `openssl s_server -WWW`.
    let kev = kev_file(&ward);
    std::fs::copy(&kev, www.join("kev.json")).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../inventory/feeds/eol/windows-server.json"),
        www.join("eol/windows-server"),
    )
    .unwrap();
    std::fs::write(www.join("eol/garbage"), "<html>not found</html>").unwrap();
    let (key, cert) = self_signed(
        &ward,
        "localhost",
        &[
            "subjectAltName=DNS:localhost",
            "basicConstraints=critical,CA:FALSE",
        ],
    );
    let (_server, port) = s_server(&["-WWW"], &key, &cert, &www);
    let config = |products: &str, ca: bool| {
        let ca = if ca {
            format!("feeds_ca_file = {:?}\n", cert.to_str().unwrap())
        } else {
            String::new()
        };
        std::fs::write(
            ward.path("ward.toml"),
            format!(
                "[inventory]\nkev_url = \"https://localhost:{port}/kev.json\"\n\
                 endoflife_url = \"https://localhost:{port}/eol/{{product}}\"\n\
                 endoflife_products = [{products}]\n{ca}"
            ),
        )
        .unwrap();
    };

    // Without the mirror's CA nothing is trusted, and nothing is stored.
    config("\"windows-server\"", false);
    let out = ward.run(&["feeds", "update"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("kev.json"), "{stderr}");
    assert!(ward.ok(&["feeds", "list"]).is_empty());

    // With it, both feeds arrive; a product the mirror answers with garbage is reported and
    // the rest are kept.
    config("\"windows-server\", \"garbage\"", true);
    let out = ward.run(&["feeds", "update"]);
    assert_eq!(out.status.code(), Some(1), "one product failed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("kev: 1404"), "{stdout}");
    assert!(stdout.contains("eol:windows-server: 20"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("eol/garbage") && stderr.contains("not a feed"),
        "{stderr}"
    );
    let feeds = ward.json_lines(&["feeds", "list", "--json"]);
    let origins: Vec<&str> = feeds
        .iter()
        .map(|f| f["origin"].as_str().unwrap())
        .collect();
    assert_eq!(
        origins,
        [
            format!("https://localhost:{port}/eol/windows-server"),
            format!("https://localhost:{port}/kev.json")
        ]
    );
}
