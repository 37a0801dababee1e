//! E-mail over SMTP with lettre on rustls: STARTTLS required on the submission port (587) or
//! TLS from the start (465). Plain SMTP is not offered, since alerts name staff and hosts.
//! Server replies are not copied into errors (they can quote addresses); the SMTP status code
//! is.

use super::SendError;
use crate::config::{EmailChannel, SmtpSecurity};
use crate::error::ConfigError;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// A ready SMTP relay.
#[derive(Clone)]
pub struct SmtpRelay {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    server: String,
    port: u16,
}

impl std::fmt::Debug for SmtpRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SmtpRelay({}:{})", self.server, self.port)
    }
}

impl SmtpRelay {
    pub fn new(name: &str, c: &EmailChannel) -> Result<Self, ConfigError> {
        let setting = format!("channels.{name}");
        let mut tls = TlsParameters::builder(c.server.clone());
        if let Some(path) = &c.ca_file {
            for cert in super::read_pem_certs(path, &format!("{setting}.ca_file"))? {
                let cert = Certificate::from_der(cert.to_vec()).map_err(|e| {
                    ConfigError::invalid(format!("{setting}.ca_file"), e.to_string())
                })?;
                tls = tls.add_root_certificate(cert);
            }
        }
        let tls = tls
            .build_rustls()
            .map_err(|e| ConfigError::invalid(&setting, format!("TLS settings: {e}")))?;
        let (security, default_port) = match c.security {
            SmtpSecurity::Starttls => (Tls::Required(tls), 587),
            SmtpSecurity::Tls => (Tls::Wrapper(tls), 465),
        };
        let port = c.port.unwrap_or(default_port);
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.server)
            .port(port)
            .tls(security)
            .timeout(Some(super::EXCHANGE_TIMEOUT));
        if let (Some(user), Some(variable)) = (&c.username, &c.password_env) {
            let password = super::secret_from_env(variable, &format!("{setting}.password_env"))?;
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        let from = c
            .from
            .parse()
            .map_err(|_| ConfigError::invalid(format!("{setting}.from"), "is not an address"))?;
        Ok(SmtpRelay {
            transport: builder.build(),
            from,
            server: c.server.clone(),
            port,
        })
    }

    pub async fn send(&self, to: &[String], subject: &str, body: &str) -> Result<(), SendError> {
        let at = format!("{}:{}", self.server, self.port);
        let mut message = Message::builder().from(self.from.clone()).subject(subject);
        for address in to {
            let mailbox: Mailbox = address
                .parse()
                .map_err(|_| SendError("a queued recipient is not an e-mail address".into()))?;
            message = message.to(mailbox);
        }
        let message = message
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_string())
            .map_err(|e| SendError(format!("cannot build the e-mail: {e}")))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) => Err(SendError(match e.status() {
                Some(code) => format!("SMTP server {at} refused the message (reply {code})"),
                None if e.is_timeout() => format!("SMTP exchange with {at} timed out"),
                None if e.is_tls() => format!("TLS with SMTP server {at} failed"),
                None => format!("SMTP exchange with {at} failed ({})", kind(&e)),
            })),
        }
    }
}

fn kind(e: &lettre::transport::smtp::Error) -> &'static str {
    if e.is_transient() {
        "transient"
    } else if e.is_permanent() {
        "permanent"
    } else if e.is_client() {
        "client"
    } else if e.is_response() {
        "unexpected response"
    } else {
        "connection"
    }
}
