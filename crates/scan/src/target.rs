//! The endpoint to scan: a host (DNS name or IP literal), a port, and optionally the server
//! name to send as SNI and to check the certificate against when it differs from the host
//! (scanning a load balancer's address for a virtual host, say). Parsing only, no IO.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One endpoint on the organisation's list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Target {
    /// A DNS name or an IP address, without brackets.
    pub host: String,
    pub port: u16,
    /// SNI and certificate name; defaults to `host` when it is a DNS name.
    pub server_name: Option<String>,
}

/// Why a target string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("target {0:?} has no port: write HOST:PORT, or [IPv6]:PORT for an IPv6 address")]
    MissingPort(String),
    #[error("target {0:?} has an invalid port: expected a number from 1 to 65535")]
    InvalidPort(String),
    #[error("target {0:?} has no host before the port")]
    MissingHost(String),
    #[error("target {0:?} is an IPv6 address without brackets: write [{0}]:PORT")]
    UnbracketedIpv6(String),
    #[error("target {0:?} has brackets around something that is not an IPv6 address")]
    InvalidIpv6(String),
    #[error("target {0:?} has a host with characters no host name or address may contain")]
    InvalidHost(String),
}

impl Target {
    /// A target for `host:port` with no separate server name.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Target {
            host: host.into(),
            port,
            server_name: None,
        }
    }

    /// The same target, with `name` as SNI and certificate name.
    pub fn with_server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// The name to send as SNI and check the certificate against: the explicit server name,
    /// else the host. An IP address host yields the address (checked against IP SANs, never
    /// sent as SNI).
    pub fn effective_name(&self) -> &str {
        self.server_name.as_deref().unwrap_or(&self.host)
    }

    /// Whether the host is an IP literal rather than a DNS name.
    pub fn host_is_ip(&self) -> bool {
        self.host.parse::<IpAddr>().is_ok()
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl FromStr for Target {
    type Err = TargetError;

    /// Parses `host:port`, `192.0.2.1:443` or `[2001:db8::1]:443`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (inside, after) = rest
                .split_once(']')
                .ok_or_else(|| TargetError::InvalidIpv6(text.to_owned()))?;
            if inside.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(TargetError::InvalidIpv6(text.to_owned()));
            }
            let port = after
                .strip_prefix(':')
                .ok_or_else(|| TargetError::MissingPort(text.to_owned()))?;
            (inside, port)
        } else {
            let (host, port) = text
                .rsplit_once(':')
                .ok_or_else(|| TargetError::MissingPort(text.to_owned()))?;
            if host.contains(':') {
                return Err(TargetError::UnbracketedIpv6(text.to_owned()));
            }
            (host, port)
        };
        if host.is_empty() {
            return Err(TargetError::MissingHost(text.to_owned()));
        }
        if !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':' | b'%'))
        {
            return Err(TargetError::InvalidHost(text.to_owned()));
        }
        let port: u16 = port
            .parse()
            .map_err(|_| TargetError::InvalidPort(text.to_owned()))?;
        if port == 0 {
            return Err(TargetError::InvalidPort(text.to_owned()));
        }
        Ok(Target::new(host, port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_ipv4_and_bracketed_ipv6() {
        assert_eq!(
            "ehr.example.org:443".parse(),
            Ok(Target::new("ehr.example.org", 443))
        );
        assert_eq!(
            "192.0.2.10:8443".parse(),
            Ok(Target::new("192.0.2.10", 8443))
        );
        let v6: Target = "[2001:db8::1]:443".parse().unwrap();
        assert_eq!(v6, Target::new("2001:db8::1", 443));
        assert!(v6.host_is_ip());
        assert_eq!(v6.to_string(), "[2001:db8::1]:443");
        assert_eq!(Target::new("a.example", 1).to_string(), "a.example:1");
    }

    #[test]
    fn refuses_targets_without_port_or_with_bad_parts() {
        assert_eq!(
            "ehr.example.org".parse::<Target>(),
            Err(TargetError::MissingPort("ehr.example.org".into()))
        );
        assert!(matches!(
            "2001:db8::1:443".parse::<Target>(),
            Err(TargetError::UnbracketedIpv6(_))
        ));
        assert!(matches!(
            "[not-v6]:443".parse::<Target>(),
            Err(TargetError::InvalidIpv6(_))
        ));
        assert!(matches!(
            "[::1]".parse::<Target>(),
            Err(TargetError::MissingPort(_))
        ));
        assert!(matches!(
            "host:0".parse::<Target>(),
            Err(TargetError::InvalidPort(_))
        ));
        assert!(matches!(
            "host:70000".parse::<Target>(),
            Err(TargetError::InvalidPort(_))
        ));
        assert!(matches!(
            ":443".parse::<Target>(),
            Err(TargetError::MissingHost(_))
        ));
        assert!(matches!(
            "a b:443".parse::<Target>(),
            Err(TargetError::InvalidHost(_))
        ));
    }

    #[test]
    fn effective_name_prefers_the_explicit_server_name() {
        let target = Target::new("10.0.0.5", 443).with_server_name("ehr.example.org");
        assert_eq!(target.effective_name(), "ehr.example.org");
        assert_eq!(Target::new("10.0.0.5", 443).effective_name(), "10.0.0.5");
    }
}
