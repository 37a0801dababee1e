//! `ward serve` as a process: it prints where it listens, shuts down cleanly on SIGTERM, and
//! loses nothing it acknowledged when it is killed mid-stream (issue #4's kill test).

use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};
use ward_store::{EventQuery, SqliteStore, Store};

mod common;

const MESSAGES: usize = 200;
/// The server is killed once this many messages were acknowledged.
const KILL_AFTER_ACKS: usize = 25;

fn adt(i: usize) -> Vec<u8> {
    let text = format!(
        "MSH|^~\\&|EHR|HOSP|WARD|SEC|20261102080000||ADT^A01^ADT_A01|K{i}|P|2.5\r\
         EVN|A01|20261102080000\r\
         PID|1||KILL{i:04}^^^HOSP^MR||DOE^J{i}\r\
         PV1|1|I|W1^1^1||||1234^Welby^Marcus|||||||||||V{i:04}^^^HOSP^VN\r"
    );
    let mut frame = vec![0x0B];
    frame.extend_from_slice(text.as_bytes());
    frame.extend_from_slice(&[0x1C, 0x0D]);
    frame
}

/// Starts `ward serve` with MLLP on an ephemeral port and returns it with the port and its
/// standard output. The caller waits for the child.
fn serve(dir: &Path) -> (Child, SocketAddr, BufReader<std::process::ChildStdout>) {
    let (child, addresses, stdout) = common::serve(
        dir,
        "[listen.mllp]\nenabled = true\nbind = \"127.0.0.1:0\"\n\n[listen.http]\nenabled = false\n",
        &["mllp"],
    );
    (child, addresses[0], stdout)
}

/// The store `ward serve` wrote, opened with the key it created beside the data directory.
fn open_store(dir: &Path) -> SqliteStore {
    let kek = ward_vault::KekSource::File(dir.join("data.kek"));
    SqliteStore::open_encrypted(&dir.join("data"), &kek).unwrap()
}

/// Reads one MLLP-framed ACK: (MSA-1 code, MSA-2 control id).
fn read_ack(stream: &mut impl Read) -> Option<(String, String)> {
    let mut frame = Vec::new();
    let mut byte = [0u8; 1];
    while !frame.ends_with(&[0x1C, 0x0D]) {
        match stream.read(&mut byte) {
            Ok(1) => frame.push(byte[0]),
            _ => return None,
        }
    }
    let text = String::from_utf8_lossy(&frame).to_string();
    let msa = text.split('\r').find(|s| s.starts_with("MSA|"))?;
    let mut fields = msa.split('|').skip(1);
    Some((fields.next()?.to_string(), fields.next()?.to_string()))
}

#[test]
fn kill_mid_stream_loses_nothing_acknowledged_and_duplicates_nothing() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr, _stdout) = serve(dir.path());
    let pid = child.id() as libc::pid_t;

    // A sender that pipelines: every message is sent at once, ACKs are read as they come.
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let sending = std::thread::spawn(move || {
        for i in 0..MESSAGES {
            if writer.write_all(&adt(i)).is_err() {
                break;
            }
        }
    });
    let mut reader = stream;
    let mut acknowledged = Vec::new();
    while let Some((code, id)) = read_ack(&mut reader) {
        assert_eq!(code, "AA", "message {id} was refused");
        acknowledged.push(id);
        if acknowledged.len() == KILL_AFTER_ACKS {
            // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    child.wait().unwrap();
    sending.join().unwrap();
    assert!(
        acknowledged.len() >= KILL_AFTER_ACKS,
        "only {} ACKs before the kill",
        acknowledged.len()
    );
    assert!(
        acknowledged.len() < MESSAGES,
        "the server was killed mid-stream, not after it"
    );

    // Everything acknowledged is stored, before any resend.
    {
        let store = open_store(dir.path());
        for id in &acknowledged {
            let i: usize = id.trim_start_matches('K').parse().unwrap();
            let query = EventQuery {
                patient: Some(format!("KILL{i:04}")),
                ..Default::default()
            };
            assert_eq!(
                store.count_events(&query).unwrap(),
                1,
                "acknowledged message {id} is stored once"
            );
        }
    }

    // Restarted on the same data, the sender resends everything it sent: each is accepted,
    // none is stored twice.
    let (mut child, addr, mut stdout) = serve(dir.path());
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    for i in 0..MESSAGES {
        stream.write_all(&adt(i)).unwrap();
        let (code, id) = read_ack(&mut stream).expect("an ACK");
        assert_eq!((code.as_str(), id), ("AA", format!("K{i}")));
    }
    drop(stream);
    // SAFETY: as above; SIGTERM asks for a graceful shutdown.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("stopped"), "{rest}");

    let store = open_store(dir.path());
    assert_eq!(
        store.count_events(&EventQuery::default()).unwrap(),
        MESSAGES as u64
    );
    for i in 0..MESSAGES {
        let query = EventQuery {
            patient: Some(format!("KILL{i:04}")),
            ..Default::default()
        };
        assert_eq!(
            store.count_events(&query).unwrap(),
            1,
            "message {i} is stored exactly once"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn serve_refuses_a_misspelt_configuration_key() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[listen.mllp]\nenabeld = true\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ward"))
        .arg("--config")
        .arg(&bad)
        .arg("serve")
        .env_remove("WARD_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a misspelt key is refused");
}
