//! What the end-to-end tests of the `ward` binary share: a [`Ward`] with its own temporary
//! directory, run the way a user runs it (the environment's `WARD_*` settings removed, so a
//! developer's shell cannot change a test), and the public samples beside the repository.

// Each test binary compiles this module and uses a part of it.
#![allow(dead_code)]

pub mod privacy;

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};

/// The `ward` binary with a data directory of its own, `data/` in a temporary directory that
/// also holds the test's input files.
pub struct Ward {
    dir: tempfile::TempDir,
    config: Option<PathBuf>,
}

impl Default for Ward {
    fn default() -> Self {
        Self::new()
    }
}

impl Ward {
    pub fn new() -> Self {
        Ward {
            dir: tempfile::tempdir().unwrap(),
            config: None,
        }
    }

    /// Every later command gets `--config PATH`.
    pub fn with_config(mut self, path: impl Into<PathBuf>) -> Self {
        self.config = Some(path.into());
        self
    }

    /// The temporary directory's path.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// `name` inside the temporary directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.path("data")
    }

    /// Writes `contents` to `name` in the temporary directory and returns its path.
    pub fn file(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// `ward --data-dir DIR [--config FILE] ARGS`, not started.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ward"));
        cmd.arg("--data-dir").arg(self.data_dir());
        if let Some(config) = &self.config {
            cmd.arg("--config").arg(config);
        }
        cmd.args(args)
            .env_remove("WARD_CONFIG")
            .env_remove("WARD_DATA_DIR")
            .env_remove("WARD_KEK");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs with `input` on standard input.
    pub fn run_with_input(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input).unwrap();
        drop(stdin);
        child.wait_with_output().unwrap()
    }

    /// Runs, asserts success and returns standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        succeeded(args, self.run(args))
    }

    /// [`Ward::ok`] with `input` on standard input.
    pub fn ok_with_input(&self, args: &[&str], input: &[u8]) -> String {
        succeeded(args, self.run_with_input(args, input))
    }

    /// Runs, asserts success and reads standard output as JSON lines.
    pub fn json_lines(&self, args: &[&str]) -> Vec<Value> {
        self.ok(args)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// `ward ingest --json PATH`: the run's summary.
    pub fn ingest_json(&self, path: &Path) -> Value {
        let out = self.json_lines(&["ingest", "--json", path.to_str().unwrap()]);
        out.into_iter().next().unwrap()
    }

    /// Runs, asserts exit code 2 (bad input or usage) and returns standard error.
    pub fn refused(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "ward {args:?} should refuse its input:\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stderr).unwrap()
    }
}

fn succeeded(args: &[&str], out: Output) -> String {
    assert!(
        out.status.success(),
        "ward {args:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The real public samples beside the repository (`../shared/data`). Absent: `None` after a
/// message saying the test is skipped, unless `CI` is set, where a missing sample fails.
pub fn shared_data() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    if path.is_dir() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but the shared samples are missing at {}",
        path.display()
    );
    eprintln!(
        "skipped: the shared samples are not at {} (they live beside the repository)",
        path.display()
    );
    None
}

/// Starts `ward serve` with `config` written to `DIR/ward.toml` and its data in `DIR/data`,
/// and returns once each listener named in `listening` (`http`, `mllp`, `syslog-tcp` …) has
/// printed the address it bound, with those addresses in the same order. Standard output is
/// handed back for tests that read what serve prints next; the others [`drain`] it. The
/// caller waits for the child (the lint cannot see that through the return value).
#[allow(clippy::zombie_processes)]
pub fn serve(
    dir: &Path,
    config: &str,
    listening: &[&str],
) -> (Child, Vec<SocketAddr>, BufReader<ChildStdout>) {
    let config_path = dir.join("ward.toml");
    std::fs::write(&config_path, config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ward"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--config")
        .arg(&config_path)
        .arg("serve")
        .env_remove("WARD_CONFIG")
        .env_remove("WARD_DATA_DIR")
        .env_remove("WARD_KEK")
        .env_remove("WARD_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut addresses: Vec<Option<SocketAddr>> = vec![None; listening.len()];
    let mut line = String::new();
    while addresses.iter().any(Option::is_none) {
        line.clear();
        if stdout.read_line(&mut line).unwrap() == 0 {
            let status = child.wait().unwrap();
            panic!("ward serve exited ({status}) before listening");
        }
        let Some(rest) = line.trim().strip_prefix("listening: ") else {
            continue;
        };
        for (name, address) in listening.iter().zip(addresses.iter_mut()) {
            if let Some(addr) = rest.strip_prefix(name).and_then(|r| r.strip_prefix(" on ")) {
                *address = Some(addr.parse().unwrap());
            }
        }
    }
    (child, addresses.into_iter().flatten().collect(), stdout)
}

/// Keeps reading a server's standard output so that it never blocks on a full pipe.
pub fn drain(mut stdout: BufReader<ChildStdout>) {
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
}
