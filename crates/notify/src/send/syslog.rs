//! Syslog forwarding to a collector over TCP, or TLS as RFC 5425 describes it, each message
//! octet-counted (RFC 6587 §3.4.1). Messages due together go over one connection. TCP syslog
//! has no application acknowledgement: a message counts as delivered once written and
//! flushed without error, which is as far as any syslog sender can know.

use super::{EXCHANGE_TIMEOUT, SendError, connect};
use crate::render::syslog::frame;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

#[derive(Clone)]
pub struct SyslogTarget {
    host: String,
    port: u16,
    tls: Option<(Arc<rustls::ClientConfig>, String)>,
}

impl std::fmt::Debug for SyslogTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SyslogTarget({}:{})", self.host, self.port)
    }
}

impl SyslogTarget {
    pub fn new(host: String, port: u16, tls: Option<(Arc<rustls::ClientConfig>, String)>) -> Self {
        SyslogTarget { host, port, tls }
    }

    /// Sends messages in order over one connection.
    pub async fn send(&self, messages: &[&str]) -> Result<(), SendError> {
        let at = format!("{}:{}", self.host, self.port);
        let mut io = connect(
            &self.host,
            self.port,
            self.tls.as_ref().map(|(c, name)| (c, name.as_str())),
        )
        .await?;
        let write = async {
            for message in messages {
                io.write_all(&frame(message)).await?;
            }
            io.flush().await?;
            io.shutdown().await
        };
        tokio::time::timeout(EXCHANGE_TIMEOUT, write)
            .await
            .map_err(|_| SendError(format!("writing to syslog collector {at} timed out")))?
            .map_err(|e| {
                SendError(format!(
                    "writing to syslog collector {at} failed: {}",
                    e.kind()
                ))
            })
    }
}
