//! HTTP/1.1 POST over hyper's connection-level client, on TCP or tokio-rustls: both already in
//! Ward's dependency tree (hyper-util's pooled client would need a TLS connector crate it does
//! not have, and a few posts a minute gain nothing from pooling). One connection per post
//! also gives every attempt a fresh, bounded exchange.
//!
//! Generic webhooks are signed: `X-Ward-Timestamp` (Unix seconds) and
//! `X-Ward-Signature: sha256=<hex HMAC-SHA256 over "<timestamp>.<body>">`, so a receiver can
//! verify the sender and refuse replays older than its tolerance.

use super::{EXCHANGE_TIMEOUT, SendError, connect};
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, Uri};
use sha2::Sha256;
use std::sync::Arc;

pub const SIGNATURE_HEADER: &str = "x-ward-signature";
pub const TIMESTAMP_HEADER: &str = "x-ward-timestamp";
pub const DELIVERY_HEADER: &str = "x-ward-delivery";

/// At most this much of a response body is read (and then dropped).
const MAX_RESPONSE: usize = 64 * 1024;

/// `sha256=<hex>` over `"<timestamp>.<body>"`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::from("sha256=");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Where posts go.
#[derive(Clone)]
pub struct HttpTarget {
    uri: Uri,
    host: String,
    port: u16,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for HttpTarget {
    // The path of a Slack or Teams webhook URL is its credential: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HttpTarget({}:{})", self.host, self.port)
    }
}

impl HttpTarget {
    /// `url` was checked by the configuration (http or https, with a host).
    pub fn new(url: &str, tls: Arc<rustls::ClientConfig>) -> Option<Self> {
        let uri: Uri = url.parse().ok()?;
        let https = uri.scheme_str() == Some("https");
        let host = uri
            .host()?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        Some(HttpTarget {
            uri,
            host,
            port,
            tls: https.then_some(tls),
        })
    }

    /// Posts `body` as JSON with extra headers; `Ok` only for a 2xx answer.
    pub async fn post(&self, headers: &[(&str, String)], body: Vec<u8>) -> Result<(), SendError> {
        let mut all = vec![("content-type", "application/json".to_string())];
        all.extend(headers.iter().map(|(n, v)| (*n, v.clone())));
        let answer = self
            .exchange(hyper::Method::POST, &all, body, MAX_RESPONSE)
            .await?;
        if (200..300).contains(&answer.status) {
            Ok(())
        } else {
            Err(SendError(format!(
                "{}:{} answered HTTP {}",
                self.host, self.port, answer.status
            )))
        }
    }

    /// Fetches the target (a feed): the status, the `Location` of a redirect, and at most
    /// `max_body` bytes of the body (`truncated` says whether there was more).
    pub async fn get(&self, max_body: usize) -> Result<Answer, SendError> {
        self.exchange(hyper::Method::GET, &[], Vec::new(), max_body)
            .await
    }

    async fn exchange(
        &self,
        method: hyper::Method,
        headers: &[(&str, String)],
        body: Vec<u8>,
        max_body: usize,
    ) -> Result<Answer, SendError> {
        let at = format!("{}:{}", self.host, self.port);
        let io = connect(
            &self.host,
            self.port,
            self.tls.as_ref().map(|c| (c, self.host.as_str())),
        )
        .await?;
        let exchange = async {
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
                    .await
                    .map_err(|e| SendError(format!("HTTP handshake with {at} failed: {e}")))?;
            let driver = tokio::spawn(conn);
            let authority = self
                .uri
                .authority()
                .map_or_else(|| self.host.clone(), |a| a.to_string());
            let path = self
                .uri
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_string();
            let mut request = Request::builder()
                .method(method)
                .uri(path)
                .header(hyper::header::HOST, authority)
                .header(hyper::header::USER_AGENT, "Ward");
            for (name, value) in headers {
                request = request.header(*name, value);
            }
            let request = request
                .body(Full::new(Bytes::from(body)))
                .map_err(|e| SendError(format!("cannot build the request to {at}: {e}")))?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| SendError(format!("HTTP request to {at} failed: {e}")))?;
            let status = response.status().as_u16();
            let location = response
                .headers()
                .get(hyper::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            // Read a bounded part of the answer so the connection ends cleanly.
            let mut body = response.into_body();
            let mut kept = Vec::new();
            let mut truncated = false;
            loop {
                match body.frame().await {
                    Some(Ok(frame)) => {
                        let Some(data) = frame.data_ref() else {
                            continue;
                        };
                        let room = max_body.saturating_sub(kept.len());
                        kept.extend_from_slice(&data[..data.len().min(room)]);
                        if data.len() > room {
                            truncated = true;
                            break;
                        }
                    }
                    Some(Err(e)) => {
                        driver.abort();
                        return Err(SendError(format!("reading the answer of {at} failed: {e}")));
                    }
                    None => break,
                }
            }
            driver.abort();
            Ok(Answer {
                status,
                location,
                body: kept,
                truncated,
            })
        };
        tokio::time::timeout(EXCHANGE_TIMEOUT, exchange)
            .await
            .map_err(|_| SendError(format!("the HTTP exchange with {at} timed out")))?
    }
}

/// What a server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub body: Vec<u8>,
    /// The body was longer than the most the caller would read.
    pub truncated: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_hmac() {
        // HMAC-SHA256("key", "1700000000.{}") computed independently with Python's hmac.
        assert_eq!(
            signature(b"key", 1_700_000_000, b"{}"),
            "sha256=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
    }
}
