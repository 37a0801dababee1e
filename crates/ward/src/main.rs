//! `ward`, the one binary: parses the command line and the configuration, opens the store and
//! wires the crates together. Domain logic lives in the library crates, never here.
//!
//! Exit codes: 0 success, 1 failure, 2 bad usage or bad input.

mod added_rules;
mod backup;
mod bench;
mod cli;
mod commands;
mod config;
mod deadlines;
mod demo;
mod detection;
mod incidents;
mod inventory;
mod keys;
mod metrics;
mod notify;
mod privacy;
mod privacy_cases;
mod reach;
mod serve;
mod settings;
mod silence;
mod switches;
mod web;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    init_logging(args.verbose, args.quiet);
    match commands::run(args) {
        Ok(code) => code,
        // Output piped into `head` and closed early is not a failure.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ward: {e:#}");
            ExitCode::from(commands::exit_code(&e))
        }
    }
}

/// Logs go to standard error. They carry counts, names of files and formats, never event
/// contents: PHI must not reach a log.
fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("WARD_LOG").unwrap_or_else(|_| level.into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
