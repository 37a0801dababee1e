//! Putting rendered messages on the wire: HTTPS posts (webhooks, Slack, Teams), SMTP with
//! STARTTLS or TLS (lettre over rustls), and syslog over TCP or TLS with octet counting.
//!
//! Every network step is bounded by a timeout, so a channel that hangs costs one attempt, not
//! the pump. Errors say what failed and where (host, port, status), never what was sent.

pub mod http;
pub mod smtp;
pub mod syslog;

use crate::error::ConfigError;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

/// How long to wait for a connection (and its TLS handshake).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one whole exchange may take once connected.
pub const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why an attempt failed, in words fit for the delivery list and the logs.
#[derive(Debug, Clone, Error)]
#[error("{0}")]
pub struct SendError(pub String);

/// Splits `host:port` (`[v6]:port` too).
pub fn split_host_port(address: &str) -> Option<(String, u16)> {
    let (host, port) = address.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return None;
    }
    Some((host.to_string(), port.parse().ok()?))
}

/// PEM certificates from a file, as trusted roots beside the public ones.
pub fn read_pem_certs(
    path: &Path,
    setting: &str,
) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>, ConfigError> {
    use rustls_pki_types::pem::PemObject;
    let failed = |reason: String| ConfigError::File {
        setting: setting.to_string(),
        path: path.display().to_string(),
        reason,
    };
    let certs = rustls_pki_types::CertificateDer::pem_file_iter(path)
        .map_err(|e| failed(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| failed(e.to_string()))?;
    if certs.is_empty() {
        return Err(failed("it holds no PEM certificate".into()));
    }
    Ok(certs)
}

/// A rustls client configuration trusting the public web PKI (Mozilla's roots, compiled in)
/// and, when given, the certificates of `ca_file` (a private CA, as MDR collectors and
/// in-house relays often use).
pub fn tls_client(
    ca_file: Option<&Path>,
    setting: &str,
) -> Result<Arc<rustls::ClientConfig>, ConfigError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        for cert in read_pem_certs(path, setting)? {
            roots
                .add(cert)
                .map_err(|e| ConfigError::invalid(setting, format!("unusable certificate: {e}")))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| ConfigError::invalid(setting, e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A TCP connection, optionally wrapped in TLS, within [`CONNECT_TIMEOUT`].
pub(crate) async fn connect(
    host: &str,
    port: u16,
    tls: Option<(&Arc<rustls::ClientConfig>, &str)>,
) -> Result<Box<dyn Io>, SendError> {
    let at = format!("{host}:{port}");
    let attempt = async {
        let tcp = tokio::net::TcpStream::connect((host, port))
            .await
            .map_err(|e| SendError(format!("cannot connect to {at}: {}", e.kind())))?;
        let _ = tcp.set_nodelay(true);
        let Some((config, server_name)) = tls else {
            return Ok(Box::new(tcp) as Box<dyn Io>);
        };
        let name = rustls_pki_types::ServerName::try_from(server_name.to_string())
            .map_err(|_| SendError(format!("{server_name} is not a valid TLS server name")))?;
        let stream = tokio_rustls::TlsConnector::from(Arc::clone(config))
            .connect(name, tcp)
            .await
            .map_err(|e| SendError(format!("TLS with {at} failed: {e}")))?;
        Ok(Box::new(stream) as Box<dyn Io>)
    };
    tokio::time::timeout(CONNECT_TIMEOUT, attempt)
        .await
        .map_err(|_| SendError(format!("connecting to {at} timed out")))?
}

/// A byte stream to a peer.
pub(crate) trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// Reads a secret from the environment variable a setting names.
pub(crate) fn secret_from_env(variable: &str, setting: &str) -> Result<String, ConfigError> {
    match std::env::var(variable) {
        Ok(v) if !v.is_empty() => Ok(v),
        _ => Err(ConfigError::invalid(
            setting,
            format!("the environment variable {variable} is not set"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_pairs_split_including_v6() {
        assert_eq!(
            split_host_port("siem.example:6514"),
            Some(("siem.example".into(), 6514))
        );
        assert_eq!(split_host_port("[::1]:514"), Some(("::1".into(), 514)));
        assert_eq!(split_host_port("siem.example"), None);
        assert_eq!(split_host_port(":514"), None);
    }
}
