//! Crash safety (issue #11): `ward` is killed with SIGKILL at random points, chosen by a
//! seeded generator so every run of this test kills at the same places, while it ingests a
//! file and while `ward serve` takes HTTP bulk ingest; after each kill the store must open and
//! verify (`ward verify`), every record acknowledged before the kill must be stored exactly
//! once, and after a restart that re-sends what was not acknowledged every record is stored
//! exactly once. Disk errors (a data directory Ward may not write, a full tmpfs, a file-size
//! limit) must end with a clear message and exit code 1, and leave a store that opens,
//! verifies, and takes the rest when the command is run again.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Kill-and-restart runs of one mode: `default`, or `WARD_CRASH_RUNS` for the issue's bar of
/// 20 of 20 in each mode. File ingest defaults to 10 runs because a debug build on two cores
/// ingests only a few thousand events a second; listener runs are short and default to 20.
fn runs(default: usize) -> usize {
    std::env::var("WARD_CRASH_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// Events in each big file: one commit of 4,096 records and a partial one.
const FILE_EVENTS: usize = 6_000;
/// Events in each file killed mid-ingest: four commits of 4,096 records and a partial one.
/// Bodies are encoded on the decode workers while the previous batch commits, so commits
/// follow one another closely; with only two, most kills fell before the first or after the
/// last.
const KILLED_FILE_EVENTS: usize = 16_500;
/// HTTP bulk requests per listener run, and records in each.
const REQUESTS_PER_RUN: usize = 12;
const RECORDS_PER_REQUEST: usize = 40;
const TOKEN: &str = "crash-test-token";

/// The kill tests time their kills against a measured ingest, and every test here runs `ward`
/// processes that use both cores: they run one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// SplitMix64: a few lines, deterministic per seed, good enough to spread kill points.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [lo, hi).
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn ward(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ward"));
    cmd.arg("--data-dir")
        .arg(data_dir)
        .env_remove("WARD_CONFIG")
        .env_remove("WARD_DATA_DIR")
        .env_remove("WARD_LOG");
    cmd
}

fn describe(out: &Output) -> String {
    format!(
        "{}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `ward verify` must pass; returns the number of events it counted.
fn verify(data_dir: &Path) -> u64 {
    let out = ward(data_dir).arg("verify").output().unwrap();
    assert!(
        out.status.success(),
        "the store must open and verify: {}",
        describe(&out)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("chain intact"), "{text}");
    let events = text
        .split(" (")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok());
    events.unwrap_or_else(|| panic!("no event count in {text:?}"))
}

/// How many times each record id is stored: an AuditEvent's `id` (`metadata.uid`) or a
/// syslog message's MSGID (`metadata.event_code`).
fn stored_uids(data_dir: &Path) -> BTreeMap<String, usize> {
    let out = ward(data_dir)
        .args(["events", "--json", "--limit", "1000000"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let mut counts = BTreeMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let event: Value = serde_json::from_str(line).unwrap();
        let metadata = &event["metadata"];
        let uid = metadata["uid"]
            .as_str()
            .or(metadata["event_code"].as_str())
            .unwrap()
            .to_string();
        *counts.entry(uid).or_insert(0) += 1;
    }
    counts
}

/// One FHIR AuditEvent line (a patient-record read) with its own id.
fn audit_event(id: &str) -> String {
    format!(
        r#"{{"resourceType":"AuditEvent","id":"{id}","type":{{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest"}},"subtype":[{{"system":"http://hl7.org/fhir/restful-interaction","code":"read"}}],"action":"R","recorded":"2026-11-02T10:00:00Z","outcome":"0","agent":[{{"who":{{"identifier":{{"value":"u1035"}}}},"requestor":true,"network":{{"address":"10.1.2.3","type":"2"}}}}],"source":{{"observer":{{"display":"ehr.example"}}}},"entity":[{{"what":{{"reference":"Patient/p{patient}"}},"type":{{"code":"1"}},"role":{{"code":"1"}}}}]}}"#,
        patient = id.len() % 7
    )
}

fn audit_file(path: &Path, prefix: &str, n: usize) -> BTreeSet<String> {
    let mut text = String::new();
    let mut ids = BTreeSet::new();
    for i in 0..n {
        let id = format!("{prefix}{i}");
        text.push_str(&audit_event(&id));
        text.push('\n');
        ids.insert(id);
    }
    std::fs::write(path, text).unwrap();
    ids
}

/// RFC 5424 syslog lines, each with its own MSGID: the cheapest records to ingest, so the
/// kill-and-restart runs stay short.
fn syslog_file(path: &Path, prefix: &str, n: usize) -> BTreeSet<String> {
    let mut text = String::new();
    let mut ids = BTreeSet::new();
    for i in 0..n {
        let id = format!("{prefix}{i}");
        text.push_str(&format!(
            "<86>1 2026-11-02T10:00:00Z ehr-01 backup 4242 {id} - job {i} finished\n"
        ));
        ids.insert(id);
    }
    std::fs::write(path, text).unwrap();
    ids
}

fn sigkill(child: &Child) {
    // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
}

fn ingest_summary(data_dir: &Path, file: &Path) -> Value {
    let format = if file.extension().is_some_and(|e| e == "log") {
        "syslog"
    } else {
        "fhir"
    };
    let out = ward(data_dir)
        .args(["ingest", "--json", "--format", format])
        .arg(file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    serde_json::from_slice(out.stdout.split(|&b| b == b'\n').next().unwrap()).unwrap()
}

#[test]
fn file_ingest_killed_at_random_points_stores_every_event_exactly_once_after_restart() {
    let _serial = one_at_a_time();
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x11_c4a5);

    // How long one whole ingest takes here: kill points are drawn within it.
    let calibration = dir.path().join("calibration.log");
    syslog_file(&calibration, "c", KILLED_FILE_EVENTS);
    let clock = Instant::now();
    let summary = ingest_summary(&dir.path().join("calibration-data"), &calibration);
    let mut whole = clock.elapsed();
    assert_eq!(summary["accepted"], KILLED_FILE_EVENTS as u64, "{summary}");

    let runs = runs(10);
    let mut mid_file = 0;
    for run in 0..runs {
        let data = dir.path().join(format!("data-{run}"));
        let file = dir.path().join(format!("run-{run}.log"));
        let ids = syslog_file(&file, &format!("r{run}-"), KILLED_FILE_EVENTS);
        // Anywhere from the store's creation to the end, more often after the first commit.
        let delay = whole.mul_f64(rng.range(0.3, 1.0));

        let mut child = ward(&data)
            .args(["ingest", "--format", "syslog"])
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        sigkill(&child);
        child.wait().unwrap();

        // Killed before it created the store: nothing to check but the restart.
        let before = if data.join("ward.db").exists() {
            verify(&data)
        } else {
            0
        };
        assert!(
            before <= KILLED_FILE_EVENTS as u64,
            "run {run}: {before} events"
        );
        let partly = before > 0 && before < KILLED_FILE_EVENTS as u64;

        // The restart stores exactly what the killed run had not: event ids are content
        // hashes, so an event stored twice would need a second id, and the store counts it.
        let clock = Instant::now();
        let summary = ingest_summary(&data, &file);
        if before == 0 {
            // A whole ingest again: the machine's pace now, for the next kill points.
            whole = clock.elapsed();
        }
        assert_eq!(
            (summary["accepted"].as_u64(), summary["duplicates"].as_u64()),
            (Some(KILLED_FILE_EVENTS as u64 - before), Some(before)),
            "run {run} (killed after {delay:?}, {before} events stored): {summary}"
        );
        // Listing every event costs seconds in a debug build: the first run killed mid-file
        // is also checked event by event.
        if partly && mid_file == 0 {
            assert_eq!(verify(&data), KILLED_FILE_EVENTS as u64, "run {run}");
            let stored = stored_uids(&data);
            assert_eq!(
                stored.keys().cloned().collect::<BTreeSet<_>>(),
                ids,
                "run {run}"
            );
            assert!(
                stored.values().all(|&n| n == 1),
                "run {run}: an event is stored twice"
            );
        }
        mid_file += usize::from(partly);
        std::fs::remove_dir_all(&data).unwrap();
    }
    eprintln!(
        "file ingest: {runs} kills, {mid_file} with the file partly stored (whole ingest {whole:?}), {:?}",
        started.elapsed()
    );
    // Kill points that all fell before the first or after the last commit would not test a
    // restart in the middle of a file.
    assert!(
        mid_file >= 1,
        "only {mid_file} of {runs} kills landed mid-file"
    );
}

/// `ward serve` with only the HTTP server (ingest token configured) on an ephemeral port.
#[allow(clippy::zombie_processes)] // the caller waits
fn serve(dir: &Path, data_dir: &Path) -> (Child, SocketAddr) {
    let config = dir.join("ward.toml");
    std::fs::write(
        &config,
        format!(
            "[listen.http]\nbind = \"127.0.0.1:0\"\ntoken_sha256 = [\"{}\"]\n",
            ward_listen::http::token_hash(TOKEN)
        ),
    )
    .unwrap();
    let mut child = ward(data_dir)
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        if stdout.read_line(&mut line).unwrap() == 0 {
            let status = child.wait().unwrap();
            panic!("ward serve exited ({status}) before listening");
        }
        if let Some(addr) = line.trim().strip_prefix("listening: http on ") {
            let addr = addr.parse().unwrap();
            // Keep draining standard output so the server never blocks on a full pipe.
            std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
            return (child, addr);
        }
    }
}

/// POSTs one bulk request of syslog lines; `Some(status)` when an answer came, `None` when
/// the connection failed or closed first (the server was killed).
fn post_ingest(addr: SocketAddr, body: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let request = format!(
        "POST /api/ingest?format=syslog HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    let text = String::from_utf8_lossy(&answer);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// One request: its record ids and its body.
type Batch = (Vec<String>, String);

/// The requests of listener run `run`.
fn run_requests(run: usize) -> Vec<Batch> {
    (0..REQUESTS_PER_RUN)
        .map(|r| {
            let ids: Vec<String> = (0..RECORDS_PER_REQUEST)
                .map(|i| format!("h{run}-{r}-{i}"))
                .collect();
            let body = ids
                .iter()
                .map(|id| format!("<86>1 2026-11-02T10:00:00Z ehr-01 backup 4242 {id} - sent\n"))
                .collect();
            (ids, body)
        })
        .collect()
}

/// What [`send_all`] hands back: the requests not yet taken, the count acknowledged so far,
/// and the senders, each returning its acknowledged requests and those cut off by a kill.
type Sending = (
    Arc<Mutex<Vec<Batch>>>,
    Arc<AtomicUsize>,
    Vec<std::thread::JoinHandle<(Vec<Batch>, Vec<Batch>)>>,
);

/// Sends `requests` over two connections at once until they are done or the server dies.
fn send_all(addr: SocketAddr, requests: Vec<Batch>) -> Sending {
    let queue = Arc::new(Mutex::new(requests));
    let acked = Arc::new(AtomicUsize::new(0));
    let senders = (0..2)
        .map(|_| {
            let (queue, acked) = (queue.clone(), acked.clone());
            std::thread::spawn(move || {
                let (mut ok, mut failed) = (Vec::new(), Vec::new());
                loop {
                    let Some((ids, body)) = queue.lock().unwrap().pop() else {
                        return (ok, failed);
                    };
                    match post_ingest(addr, &body) {
                        Some(status) if (200..300).contains(&status) => {
                            ok.push((ids, body));
                            acked.fetch_add(1, Ordering::SeqCst);
                        }
                        Some(status) => panic!("request refused with {status}"),
                        None => failed.push((ids, body)),
                    }
                }
            })
        })
        .collect();
    (queue, acked, senders)
}

#[test]
fn http_ingest_killed_at_random_points_loses_nothing_acknowledged_and_duplicates_nothing() {
    let _serial = one_at_a_time();
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x11_5e7e);
    let runs = runs(20);
    let mut in_flight_stored = 0;
    for run in 0..runs {
        let data = dir.path().join(format!("data-{run}"));
        let requests = run_requests(run);
        let sent: BTreeSet<String> = requests.iter().flat_map(|(ids, _)| ids.clone()).collect();
        let (mut child, addr) = serve(dir.path(), &data);

        // The kill: once a random number of requests (up to half) were acknowledged, after a
        // random pause of up to 40 ms, so it lands anywhere in the commits that follow.
        let kill_after = rng.range(1.0, REQUESTS_PER_RUN as f64 / 2.0) as usize;
        let pause = Duration::from_secs_f64(rng.range(0.0, 0.040));
        let (queue, acked, senders) = send_all(addr, requests);
        let deadline = Instant::now() + Duration::from_secs(30);
        while acked.load(Ordering::SeqCst) < kill_after && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(pause);
        sigkill(&child);
        child.wait().unwrap();
        let mut acknowledged = BTreeSet::new();
        let mut resend: Vec<Batch> = std::mem::take(&mut *queue.lock().unwrap());
        for sender in senders {
            let (ok, failed) = sender.join().unwrap();
            acknowledged.extend(ok.into_iter().flat_map(|(ids, _)| ids));
            resend.extend(failed);
        }

        // The store opens and verifies; every acknowledged record is stored exactly once,
        // nothing is stored that was not sent.
        verify(&data);
        let stored = stored_uids(&data);
        for id in &acknowledged {
            assert_eq!(
                stored.get(id),
                Some(&1),
                "run {run}: acknowledged record {id} must be stored exactly once"
            );
        }
        assert!(stored.values().all(|&n| n == 1), "run {run}: a duplicate");
        assert!(
            stored.keys().all(|id| sent.contains(id)),
            "run {run}: a record never sent is stored"
        );
        in_flight_stored += stored.len() - acknowledged.len();

        // Restarted, the sender re-sends everything not acknowledged: each is answered 2xx,
        // and in the end every record is stored exactly once.
        let (mut child, addr) = serve(dir.path(), &data);
        for (ids, body) in resend {
            let status = post_ingest(addr, &body);
            assert!(
                status.is_some_and(|s| (200..300).contains(&s)),
                "run {run}: re-sent request answered {status:?}"
            );
            acknowledged.extend(ids);
        }
        // SAFETY: kill(2) on our own child's pid; SIGTERM asks for a graceful shutdown.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        assert!(child.wait().unwrap().success());
        assert_eq!(acknowledged, sent, "run {run}");
        assert_eq!(verify(&data), sent.len() as u64, "run {run}");
        let stored = stored_uids(&data);
        assert_eq!(
            stored.keys().cloned().collect::<BTreeSet<_>>(),
            sent,
            "run {run}"
        );
        assert!(stored.values().all(|&n| n == 1), "run {run}: a duplicate");
    }
    eprintln!(
        "http ingest: {runs} kills of {} records each, {in_flight_stored} stored but unacknowledged at a kill (re-sent, not duplicated), {:?}",
        REQUESTS_PER_RUN * RECORDS_PER_REQUEST,
        started.elapsed()
    );
}

fn is_root() -> bool {
    // SAFETY: geteuid(2) has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A store with a few events and the file that made them.
fn seeded_store(dir: &Path) -> (PathBuf, PathBuf) {
    let data = dir.join("data");
    let file = dir.join("seed.ndjson");
    audit_file(&file, "seed", 50);
    ingest_summary(&data, &file);
    (data, file)
}

#[test]
fn a_data_directory_ward_may_not_write_fails_with_a_clear_message_and_no_damage() {
    let _serial = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let (data, _) = seeded_store(dir.path());
    let more = dir.path().join("more.ndjson");
    audit_file(&more, "more", 100);

    // Root passes permission checks, so as root the ingest runs as `nobody` (uid 65534):
    // the data directory stays root's, readable by all, writable by none but root.
    let mode = |path: &Path, m: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(m)).unwrap();
    };
    mode(dir.path(), 0o755);
    mode(&more, 0o644);
    mode(&data, 0o555);
    for entry in std::fs::read_dir(&data).unwrap() {
        mode(&entry.unwrap().path(), 0o444);
    }
    // The key-encryption key beside the data directory stays readable by its owner only:
    // as root it is handed to `nobody` for the run, and back after.
    let kek = dir.path().join("data.kek");
    let own = |uid: u32| std::os::unix::fs::chown(&kek, Some(uid), Some(uid)).unwrap();
    let mut cmd = ward(&data);
    cmd.args(["ingest", "--format", "fhir"]).arg(&more);
    if is_root() {
        own(65534);
        cmd.uid(65534).gid(65534);
    }
    let out = cmd.output().unwrap();
    if is_root() {
        own(0);
    }
    mode(&data, 0o755);
    for entry in std::fs::read_dir(&data).unwrap() {
        mode(&entry.unwrap().path(), 0o644);
    }
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(data.to_str().unwrap()),
        "the message names the data directory: {stderr}"
    );
    assert!(
        stderr.to_lowercase().contains("read-only")
            || stderr.to_lowercase().contains("readonly")
            || stderr.contains("ermission denied"),
        "the message says the directory cannot be written: {stderr}"
    );
    assert_eq!(verify(&data), 50, "nothing changed, nothing damaged");
    let summary = ingest_summary(&data, &more);
    assert_eq!(summary["accepted"], 100, "writable again, it ingests");
}

#[test]
fn a_data_directory_path_that_is_a_file_fails_with_a_clear_message() {
    let _serial = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("data");
    std::fs::write(&not_a_dir, b"not a directory").unwrap();
    let file = dir.path().join("a.ndjson");
    audit_file(&file, "a", 3);
    let out = ward(&not_a_dir)
        .args(["ingest", "--format", "fhir"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(not_a_dir.to_str().unwrap()), "{stderr}");
    assert_eq!(
        std::fs::read(&not_a_dir).unwrap(),
        b"not a directory",
        "the file is left alone"
    );
}

/// After a failed ingest: the message, the exit code, a store that opens and verifies with
/// whole batches only, and a re-run that stores exactly the rest.
fn check_failed_ingest_then_resume(data: &Path, file: &Path, ids: &BTreeSet<String>, out: &Output) {
    assert_eq!(out.status.code(), Some(1), "{}", describe(out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(file.to_str().unwrap()) && stderr.contains("re-run"),
        "the message names the file and says what to do: {stderr}"
    );
    let before = verify(data);
    assert!(before >= 50, "the seeded events are still there: {before}");
    let summary = ingest_summary(data, file);
    assert_eq!(
        summary["duplicates"].as_u64().unwrap(),
        before - 50,
        "what was stored before the failure is whole batches of this file: {summary}"
    );
    assert_eq!(verify(data), 50 + ids.len() as u64);
    let stored = stored_uids(data);
    assert!(ids.iter().all(|id| stored.get(id) == Some(&1)));
}

#[test]
fn a_file_size_limit_fails_the_ingest_with_a_clear_message_and_leaves_a_store_that_verifies() {
    let _serial = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let (data, _) = seeded_store(dir.path());
    let big = dir.path().join("big.ndjson");
    let ids = audit_file(&big, "big", FILE_EVENTS);
    // No file may grow past 512 KiB beyond the largest one now: the store's database and
    // its write-ahead log hit the limit within the first commits. SIGXFSZ is ignored, so a
    // write past the limit fails with EFBIG (SQLite: "disk I/O error"), as a quota would.
    let largest = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .max()
        .unwrap();
    let limit = largest + (512 << 10);
    let mut cmd = ward(&data);
    cmd.args(["ingest", "--format", "fhir"]).arg(&big);
    // SAFETY: the closure runs in the forked child before exec and calls only
    // async-signal-safe functions (signal, setrlimit).
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let rlimit = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &rlimit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    check_failed_ingest_then_resume(&data, &big, &ids, &out);
}

/// A small tmpfs, unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    /// Mounts one where the machine allows it (root with CAP_SYS_ADMIN); else says why not.
    fn mount(at: &Path, size: &str) -> Result<SmallDisk, String> {
        if !is_root() {
            return Err("mounting a tmpfs needs root".into());
        }
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0755")])
            .arg("tmpfs")
            .arg(at)
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(SmallDisk(at.to_path_buf()))
    }

    fn resize(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_fails_the_ingest_with_a_clear_message_and_leaves_a_store_that_verifies() {
    let _serial = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let disk = match SmallDisk::mount(&dir.path().join("disk"), "3m") {
        Ok(disk) => disk,
        Err(why) => {
            // The file-size-limit test above covers the same path (a write that fails).
            eprintln!("skipped: no small tmpfs to fill ({why})");
            return;
        }
    };
    let (data, _) = seeded_store(&disk.0);
    let big = dir.path().join("big.ndjson");
    let ids = audit_file(&big, "big", FILE_EVENTS);
    let out = ward(&data)
        .args(["ingest", "--format", "fhir"])
        .arg(&big)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("disk is full"),
        "the message says the disk is full: {stderr}"
    );
    // The operator makes room; the store opens, verifies, and the re-run stores the rest.
    disk.resize("256m");
    check_failed_ingest_then_resume(&data, &big, &ids, &out);
}
