//! The TLS identity of the syslog (RFC 5425) and MLLP listeners: a certificate and key from
//! PEM files, or, when none is configured, a self-signed certificate generated at start whose
//! SHA-256 fingerprint is printed so senders can pin it. rustls with the ring provider, set
//! per configuration so no process-wide default is needed.

use crate::ListenError;
use crate::config::TlsConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

pub struct TlsIdentity {
    pub config: Arc<rustls::ServerConfig>,
    /// SHA-256 of the leaf certificate, as colon-separated upper-case hex.
    pub fingerprint: String,
    pub cert_der: Vec<u8>,
    pub generated: bool,
}

impl TlsIdentity {
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.config.clone())
    }
}

pub fn load_or_generate(config: &TlsConfig) -> Result<TlsIdentity, ListenError> {
    let (certs, key, generated) = match (&config.cert, &config.key) {
        (Some(cert), Some(key)) => {
            let certs = CertificateDer::pem_file_iter(cert)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    ListenError::Tls(format!(
                        "cannot read certificates from {}: {e}",
                        cert.display()
                    ))
                })?;
            if certs.is_empty() {
                return Err(ListenError::Tls(format!(
                    "{} holds no certificate",
                    cert.display()
                )));
            }
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                ListenError::Tls(format!(
                    "cannot read a private key from {}: {e}",
                    key.display()
                ))
            })?;
            (certs, key, false)
        }
        (None, None) => {
            let generated = rcgen::generate_simple_self_signed(vec![
                "localhost".to_string(),
                "127.0.0.1".to_string(),
                "::1".to_string(),
            ])
            .map_err(|e| ListenError::Tls(format!("cannot generate a certificate: {e}")))?;
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
                generated.signing_key.serialize_der(),
            ));
            (vec![generated.cert.der().clone()], key, true)
        }
        _ => {
            return Err(ListenError::Tls(
                "[listen.tls] needs both `cert` and `key`, or neither".into(),
            ));
        }
    };
    let cert_der = certs[0].to_vec();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ListenError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ListenError::Tls(format!("certificate and key do not fit: {e}")))?;
    Ok(TlsIdentity {
        config: Arc::new(server),
        fingerprint: fingerprint(&cert_der),
        cert_der,
        generated,
    })
}

/// `AB:CD:…` over SHA-256 of a DER certificate.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}
