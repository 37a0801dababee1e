//! Overload (issue #11): `ward serve` is driven on loopback far beyond what it can ingest, for
//! a bounded time, by HTTP bulk-ingest clients and by syslog-over-TCP senders at once. It must
//! shed load (HTTP 503 with `Retry-After`, TCP senders held back by a full socket rather than
//! by memory growing), keep its resident memory under a bound, store every record it
//! acknowledged, and serve normally again as soon as the load stops.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod common;

const TOKEN: &str = "overload-test-token";
/// How long the load lasts.
const LOAD: Duration = Duration::from_secs(10);
/// HTTP clients sending at once, each as fast as answers come back.
const HTTP_CLIENTS: usize = 24;
/// Syslog lines in each HTTP request.
const LINES_PER_REQUEST: usize = 200;
/// Syslog-over-TCP connections writing as fast as the socket takes bytes.
const TCP_SENDERS: usize = 4;
/// The resident memory `ward serve` may reach under this load. Idle it holds about 30 MB (a
/// debug build with the detection engine loaded) and under this load about 50 MB: the
/// listeners' bounds (8 requests in flight, 2 commits, 64 KiB messages) keep it there. A
/// server that buffered what it is offered (well over 100 MB in ten seconds) would not be.
const MAX_RSS_BYTES: u64 = 256 << 20;

/// `ward serve` with tight listener bounds; the caller waits for the child.
fn serve(dir: &Path) -> (Child, SocketAddr, SocketAddr) {
    let config = format!(
        "[listen]\nmax_pending_commits = 2\n\n\
         [listen.syslog_tcp]\nenabled = true\nbind = \"127.0.0.1:0\"\n\n\
         [listen.http]\nbind = \"127.0.0.1:0\"\nmax_concurrent_requests = 8\n\
         token_sha256 = [\"{}\"]\n",
        ward_listen::http::token_hash(TOKEN)
    );
    let (child, addresses, stdout) = common::serve(dir, &config, &["http", "syslog-tcp"]);
    common::drain(stdout);
    (child, addresses[0], addresses[1])
}

fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .expect("VmRSS in /proc/PID/status");
    kib * 1024
}

/// One RFC 5424 line, unique per (sender, n).
fn syslog_line(sender: &str, n: u64) -> String {
    format!(
        "<86>1 2026-11-02T10:00:00Z ehr-01 sshd 4242 - - Accepted password for u{n} from 10.0.0.1 port 22 ssh2 {sender}-{n}\n"
    )
}

/// A POST of `body`; `(status, Retry-After present, accepted)` or `None` when the
/// connection failed.
fn post(addr: SocketAddr, path: &str, body: &str) -> Option<(u16, bool, u64)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    let text = String::from_utf8_lossy(&answer);
    let status = text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()?;
    let retry_after = text
        .lines()
        .take_while(|l| !l.is_empty())
        .any(|l| l.to_ascii_lowercase().starts_with("retry-after:"));
    let accepted = text
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str::<serde_json::Value>(body).ok())
        .and_then(|v| v["accepted"].as_u64())
        .unwrap_or(0);
    Some((status, retry_after, accepted))
}

fn get_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// `ward verify` must pass after the load; returns the number of events it counted.
fn stored_events(data_dir: &Path) -> u64 {
    let out = Command::new(env!("CARGO_BIN_EXE_ward"))
        .arg("--data-dir")
        .arg(data_dir)
        .arg("verify")
        .env_remove("WARD_CONFIG")
        .env_remove("WARD_DATA_DIR")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("chain intact"),
        "{text}"
    );
    text.split(" (")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no event count in {text:?}"))
}

#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    ok: AtomicU64,
    unavailable: AtomicU64,
    unavailable_without_retry_after: AtomicU64,
    too_many: AtomicU64,
    other_status: AtomicU64,
    connection_failed: AtomicU64,
    /// Records the server said it stored (`accepted` of 2xx answers).
    accepted: AtomicU64,
    /// Records offered over HTTP (every request's lines) and over TCP (whole lines written).
    offered: AtomicU64,
    tcp_bytes: AtomicU64,
    /// Writes that could not complete within 200 ms: the server stopped reading.
    tcp_stalls: AtomicU64,
}

#[test]
fn ten_seconds_of_overload_sheds_load_keeps_memory_bounded_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, http, syslog) = serve(dir.path());
    let pid = child.id();
    let idle_rss = rss_bytes(pid);
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();

    let mut clients = Vec::new();
    for c in 0..HTTP_CLIENTS {
        let (tally, stop) = (tally.clone(), stop.clone());
        clients.push(std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let body: String = (0..LINES_PER_REQUEST)
                    .map(|_| {
                        n += 1;
                        syslog_line(&format!("http{c}"), n)
                    })
                    .collect();
                tally.requests.fetch_add(1, Ordering::Relaxed);
                tally
                    .offered
                    .fetch_add(LINES_PER_REQUEST as u64, Ordering::Relaxed);
                match post(http, "/api/ingest?format=syslog", &body) {
                    Some((200..=299, _, accepted)) => {
                        tally.ok.fetch_add(1, Ordering::Relaxed);
                        tally.accepted.fetch_add(accepted, Ordering::Relaxed);
                    }
                    Some((503, retry_after, _)) => {
                        tally.unavailable.fetch_add(1, Ordering::Relaxed);
                        if !retry_after {
                            tally
                                .unavailable_without_retry_after
                                .fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Some((429, _, _)) => {
                        tally.too_many.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(_) => {
                        tally.other_status.fetch_add(1, Ordering::Relaxed);
                    }
                    None => {
                        tally.connection_failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for s in 0..TCP_SENDERS {
        let (tally, stop) = (tally.clone(), stop.clone());
        clients.push(std::thread::spawn(move || {
            let mut stream = TcpStream::connect(syslog).unwrap();
            stream
                .set_write_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            let mut n = 0u64;
            let mut pending: Vec<u8> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                if pending.is_empty() {
                    for _ in 0..100 {
                        n += 1;
                        pending.extend_from_slice(syslog_line(&format!("tcp{s}"), n).as_bytes());
                    }
                    tally.offered.fetch_add(100, Ordering::Relaxed);
                }
                match stream.write(&pending) {
                    Ok(0) => return,
                    Ok(written) => {
                        tally.tcp_bytes.fetch_add(written as u64, Ordering::Relaxed);
                        pending.drain(..written);
                    }
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                        tally.tcp_stalls.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => panic!("the syslog connection failed under load: {e}"),
                }
            }
        }));
    }

    let mut peak_rss = idle_rss;
    while started.elapsed() < LOAD {
        peak_rss = peak_rss.max(rss_bytes(pid));
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().unwrap();
    }
    let loaded_for = started.elapsed();
    peak_rss = peak_rss.max(rss_bytes(pid));

    // Recovery: once the load stops, the server answers its health checks and takes a new
    // request at once (a 503 left over from the load is retried after its Retry-After).
    let recovering = Instant::now();
    let mut recovered = None;
    while recovering.elapsed() < Duration::from_secs(15) {
        if get_status(http, "/readyz") == Some(200) {
            let body: String = (0..5).map(|n| syslog_line("after", n)).collect();
            if let Some((200..=299, _, accepted)) = post(http, "/api/ingest?format=syslog", &body) {
                recovered = Some((recovering.elapsed(), accepted));
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let after_load_rss = rss_bytes(pid);
    // SAFETY: kill(2) on our own child's pid; SIGTERM asks for a graceful shutdown.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    let status = child.wait().unwrap();

    let t = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let stored = stored_events(&dir.path().join("data"));
    let secs = loaded_for.as_secs_f64();
    eprintln!(
        "overload for {loaded_for:?}: offered {:.0} records/s ({} HTTP requests, {} TCP MB), stored {stored} ({:.0}/s); \
         HTTP 2xx {} / 503 {} / 429 {} / other {} / connection failed {}; TCP write stalls {}; \
         RSS idle {} MB, peak {} MB, after {} MB; recovered in {:?}",
        t(&tally.offered) as f64 / secs,
        t(&tally.requests),
        t(&tally.tcp_bytes) >> 20,
        stored as f64 / secs,
        t(&tally.ok),
        t(&tally.unavailable),
        t(&tally.too_many),
        t(&tally.other_status),
        t(&tally.connection_failed),
        t(&tally.tcp_stalls),
        idle_rss >> 20,
        peak_rss >> 20,
        after_load_rss >> 20,
        recovered.map(|r| r.0),
    );

    assert!(
        status.success(),
        "graceful shutdown after the load: {status}"
    );
    assert!(
        t(&tally.unavailable) > 0,
        "the server never shed load with 503"
    );
    assert_eq!(
        t(&tally.unavailable_without_retry_after),
        0,
        "every 503 says when to retry"
    );
    assert_eq!(t(&tally.other_status), 0, "no answer other than 2xx, 503");
    assert!(t(&tally.ok) > 0, "the server kept storing under load");
    assert!(
        t(&tally.tcp_stalls) > 0,
        "syslog senders were never held back: the server read faster than they wrote"
    );
    // The load: at least ten times what the server ingests.
    assert!(
        t(&tally.offered) > 10 * stored,
        "the load was not beyond what the server ingests ({} offered, {stored} stored)",
        t(&tally.offered)
    );
    assert!(
        peak_rss < MAX_RSS_BYTES,
        "peak RSS {} MB over the bound of {} MB",
        peak_rss >> 20,
        MAX_RSS_BYTES >> 20
    );
    let (_, accepted_after) = recovered.expect("the server serves again once the load stops");
    assert_eq!(accepted_after, 5);
    assert!(
        stored >= t(&tally.accepted) + 5,
        "every acknowledged record is stored ({stored} stored, {} acknowledged)",
        t(&tally.accepted)
    );
}
