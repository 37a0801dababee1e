//! Ward's configuration file (TOML) into the binary's own `Config` type: the module
//! `crates/ward/src/config.rs` is compiled in as it is (the binary has no library to link),
//! with a stand-in for the one item it uses from `commands`. Every limit is then resolved with
//! its defaults, as `ward serve` does. A bad file must be refused with a message, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_listen::StreamKind;

/// What `config.rs` needs from the binary's `commands` module: the usage-error type.
mod commands {
    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    pub struct BadInput(pub String);
}

#[allow(dead_code)]
#[path = "../../crates/ward/src/config.rs"]
mod config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = toml::from_str::<config::Config>(text) else {
        return;
    };
    let _ = config.detect.privacy.options();
    let listen = &config.listen;
    let _ = listen.syslog_udp.bind();
    let _ = listen.syslog_tcp.limits(StreamKind::SyslogTcp);
    let _ = listen.syslog_tls.limits(StreamKind::SyslogTls);
    let _ = listen.mllp.limits(StreamKind::Mllp);
    let _ = listen.mllp_tls.limits(StreamKind::MllpTls);
    let _ = listen.http.bind();
    let _ = listen.http.limits();
});
