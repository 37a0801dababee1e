//! A hand-written TLS ClientHello and a bounded parser for the server's first flight, for the
//! versions and suites rustls refuses to speak (SSLv3, TLS 1.0/1.1, RC4, 3DES, NULL, EXPORT).
//! This is how sslyze and testssl probe: offer, read the ServerHello (or the alert), hang up.
//! No key exchange is ever completed, so nothing here is cryptography.
//!
//! Pure functions over bytes, no IO. The parser must never panic, allocate without bound or
//! trust a length field: every server reply, however hostile, ends in a [`Reply`].

use crate::report::Protocol;
use crate::suites::EMPTY_RENEGOTIATION_INFO_SCSV;

const CONTENT_ALERT: u8 = 21;
const ALERT_WARNING: u8 = 1;
const CONTENT_HANDSHAKE: u8 = 22;
const HANDSHAKE_CLIENT_HELLO: u8 = 1;
const HANDSHAKE_SERVER_HELLO: u8 = 2;
const HANDSHAKE_CERTIFICATE: u8 = 11;
const HANDSHAKE_SERVER_KEY_EXCHANGE: u8 = 12;
const HANDSHAKE_SERVER_HELLO_DONE: u8 = 14;

const EXT_SERVER_NAME: u16 = 0x0000;
const EXT_SUPPORTED_GROUPS: u16 = 0x000A;
const EXT_EC_POINT_FORMATS: u16 = 0x000B;
const EXT_SIGNATURE_ALGORITHMS: u16 = 0x000D;
const EXT_PADDING: u16 = 0x0015;
const EXT_SUPPORTED_VERSIONS: u16 = 0x002B;

/// x25519, secp256r1, secp384r1, secp521r1, ffdhe2048, ffdhe3072.
const GROUPS: [u16; 6] = [0x001D, 0x0017, 0x0018, 0x0019, 0x0100, 0x0101];
/// ECDSA and RSA-PSS and PKCS#1 with SHA-2, Ed25519, then the SHA-1 ones old servers need.
const SIGNATURE_SCHEMES: [u16; 12] = [
    0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0807, 0x0203, 0x0201,
];

/// The random value of a TLS 1.3 HelloRetryRequest (RFC 8446, 4.1.3).
const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

/// Largest record body accepted: 2^14 plaintext plus the expansion RFC 5246 allows.
const MAX_RECORD: usize = 16_384 + 2_048;
/// Largest handshake message accepted (a long certificate chain fits comfortably).
const MAX_HANDSHAKE_MESSAGE: usize = 128 * 1024;
/// The longest a DNS name can be; longer names are not sent as SNI.
const MAX_SNI: usize = 253;

/// What to offer in one ClientHello.
#[derive(Debug, Clone)]
pub struct ClientHello<'a> {
    /// The version to offer: SSLv3 to TLS 1.2 (TLS 1.3 is probed through rustls).
    pub version: Protocol,
    pub cipher_suites: &'a [u16],
    /// Sent as SNI when it is a plausible DNS name.
    pub server_name: Option<&'a str>,
    pub random: [u8; 32],
}

impl ClientHello<'_> {
    /// The whole record, ready to write to the socket.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(512);
        put_u16(&mut body, self.version.wire_version());
        body.extend_from_slice(&self.random);
        body.push(0); // empty session id
        let suites: Vec<u16> = self
            .cipher_suites
            .iter()
            .copied()
            .chain([EMPTY_RENEGOTIATION_INFO_SCSV])
            .collect();
        put_u16(&mut body, len_u16(suites.len() * 2));
        for suite in suites {
            put_u16(&mut body, suite);
        }
        body.extend_from_slice(&[1, 0]); // compression methods: null only

        // SSLv3 predates extensions; some SSLv3 stacks reject a hello that carries them.
        if self.version != Protocol::Ssl3 {
            let extensions = self.extensions(body.len());
            put_u16(&mut body, len_u16(extensions.len()));
            body.extend_from_slice(&extensions);
        }

        let mut handshake = Vec::with_capacity(body.len() + 4);
        handshake.push(HANDSHAKE_CLIENT_HELLO);
        put_u24(&mut handshake, body.len());
        handshake.extend_from_slice(&body);

        let record_version = if self.version == Protocol::Ssl3 {
            0x0300
        } else {
            0x0301
        };
        let mut record = Vec::with_capacity(handshake.len() + 5);
        record.push(CONTENT_HANDSHAKE);
        put_u16(&mut record, record_version);
        put_u16(&mut record, len_u16(handshake.len()));
        record.extend_from_slice(&handshake);
        record
    }

    fn extensions(&self, body_len_before: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        if let Some(name) = self.server_name.filter(|name| is_sni_name(name)) {
            let mut data = Vec::with_capacity(name.len() + 5);
            put_u16(&mut data, len_u16(name.len() + 3));
            data.push(0); // host_name
            put_u16(&mut data, len_u16(name.len()));
            data.extend_from_slice(name.as_bytes());
            put_extension(&mut out, EXT_SERVER_NAME, &data);
        }
        let mut groups = Vec::with_capacity(GROUPS.len() * 2 + 2);
        put_u16(&mut groups, len_u16(GROUPS.len() * 2));
        for group in GROUPS {
            put_u16(&mut groups, group);
        }
        put_extension(&mut out, EXT_SUPPORTED_GROUPS, &groups);
        put_extension(&mut out, EXT_EC_POINT_FORMATS, &[1, 0]); // uncompressed
        if self.version == Protocol::Tls12 {
            let mut schemes = Vec::with_capacity(SIGNATURE_SCHEMES.len() * 2 + 2);
            put_u16(&mut schemes, len_u16(SIGNATURE_SCHEMES.len() * 2));
            for scheme in SIGNATURE_SCHEMES {
                put_u16(&mut schemes, scheme);
            }
            put_extension(&mut out, EXT_SIGNATURE_ALGORITHMS, &schemes);
        }
        // Some load balancers hang on hellos of 256 to 511 bytes (RFC 7685's reason for the
        // padding extension): pad those to 512.
        let handshake_len = 4 + body_len_before + 2 + out.len();
        if (256..512).contains(&handshake_len) {
            let pad = (512 - handshake_len).saturating_sub(4);
            put_extension(&mut out, EXT_PADDING, &vec![0; pad]);
        }
        out
    }
}

fn is_sni_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_SNI
        && name.parse::<std::net::IpAddr>().is_err()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
}

fn put_u16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_be_bytes());
}

fn put_u24(out: &mut Vec<u8>, value: usize) {
    let [_, high, middle, low] = u32::try_from(value).unwrap_or(u32::MAX).to_be_bytes();
    out.extend_from_slice(&[high, middle, low]);
}

/// Lengths in a ClientHello are bounded by what this module builds (well under 64 KiB).
fn len_u16(len: usize) -> u16 {
    u16::try_from(len).unwrap_or(u16::MAX)
}

fn put_extension(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    put_u16(out, kind);
    put_u16(out, len_u16(data.len()));
    out.extend_from_slice(data);
}

/// The parts of a ServerHello the scan needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello {
    /// `legacy_version` in the ServerHello.
    pub legacy_version: u16,
    /// The negotiated version: `supported_versions` when present, else `legacy_version`.
    pub version: u16,
    pub cipher_suite: u16,
    pub compression: u8,
    /// A TLS 1.3 HelloRetryRequest rather than a real ServerHello.
    pub hello_retry_request: bool,
}

/// A TLS alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alert {
    pub level: u8,
    pub description: u8,
}

impl Alert {
    /// The alert's name from the TLS registry, for reports.
    pub fn name(self) -> &'static str {
        match self.description {
            0 => "close_notify",
            10 => "unexpected_message",
            20 => "bad_record_mac",
            21 => "decryption_failed",
            22 => "record_overflow",
            30 => "decompression_failure",
            40 => "handshake_failure",
            41 => "no_certificate",
            42 => "bad_certificate",
            43 => "unsupported_certificate",
            47 => "illegal_parameter",
            50 => "decode_error",
            51 => "decrypt_error",
            70 => "protocol_version",
            71 => "insufficient_security",
            80 => "internal_error",
            86 => "inappropriate_fallback",
            90 => "user_canceled",
            109 => "missing_extension",
            110 => "unsupported_extension",
            112 => "unrecognized_name",
            120 => "no_application_protocol",
            _ => "unknown_alert",
        }
    }
}

impl std::fmt::Display for Alert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "alert {} ({})", self.name(), self.description)
    }
}

/// What the server's bytes so far amount to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// More bytes are needed; a ServerHello may already have been read.
    Incomplete { server_hello: Option<ServerHello> },
    /// A ServerHello, and the certificate chain when it was asked for and sent in the clear.
    Hello {
        server_hello: ServerHello,
        certificates: Vec<Vec<u8>>,
    },
    /// The server refused with an alert before any ServerHello.
    Alert(Alert),
    /// The bytes are not TLS records at all (an HTTP or SSH banner, say).
    NotTls,
    /// TLS-shaped but broken; the text says where.
    Malformed(&'static str),
}

/// Parses everything received so far. Call again with the longer buffer when it returns
/// [`Reply::Incomplete`]. With `want_certificates`, reading goes on past the ServerHello to the
/// plaintext Certificate message (TLS 1.2 and older only).
pub fn parse_reply(bytes: &[u8], want_certificates: bool) -> Reply {
    if let Some(&first) = bytes.first()
        && first != CONTENT_HANDSHAKE
        && first != CONTENT_ALERT
    {
        return Reply::NotTls;
    }
    let mut records = Reader::new(bytes);
    let mut handshake = Vec::new();
    let mut server_hello: Option<ServerHello> = None;
    let mut consumed = 0usize;
    loop {
        let Some(&[content_type, major, _minor, length_hi, length_lo]) =
            records.peek(5).and_then(|header| header.first_chunk::<5>())
        else {
            return Reply::Incomplete { server_hello };
        };
        let length = usize::from(u16::from_be_bytes([length_hi, length_lo]));
        if major != 3 {
            return if server_hello.is_some() {
                Reply::Malformed("record with a version other than 3.x after the ServerHello")
            } else {
                Reply::NotTls
            };
        }
        if length > MAX_RECORD {
            return Reply::Malformed("record longer than TLS allows");
        }
        if records.remaining() < 5 + length {
            return Reply::Incomplete { server_hello };
        }
        let _ = records.take(5);
        let Some(body) = records.take(length) else {
            return Reply::Incomplete { server_hello };
        };
        match content_type {
            // A warning such as unrecognized_name may precede the ServerHello; read on.
            CONTENT_ALERT
                if server_hello.is_none()
                    && matches!(body, [ALERT_WARNING, description] if *description != 0) => {}
            CONTENT_ALERT => {
                return match (server_hello, body) {
                    (Some(server_hello), _) => Reply::Hello {
                        server_hello,
                        certificates: Vec::new(),
                    },
                    (None, [level, description, ..]) => Reply::Alert(Alert {
                        level: *level,
                        description: *description,
                    }),
                    (None, _) => Reply::Malformed("alert record shorter than two bytes"),
                };
            }
            CONTENT_HANDSHAKE => {
                if handshake.len() + body.len() > MAX_HANDSHAKE_MESSAGE + 4 {
                    return Reply::Malformed("handshake flight larger than the scanner accepts");
                }
                handshake.extend_from_slice(body);
            }
            _ => {
                // ChangeCipherSpec or anything else ends the plaintext part of the flight.
                return match server_hello {
                    Some(server_hello) => Reply::Hello {
                        server_hello,
                        certificates: Vec::new(),
                    },
                    None => Reply::Malformed("non-handshake record before the ServerHello"),
                };
            }
        }

        // Handshake messages may span records; take every complete one.
        loop {
            let pending = handshake.get(consumed..).unwrap_or(&[]);
            let Some(&[kind, a, b, c]) = pending.first_chunk::<4>() else {
                break;
            };
            let message_len = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
            if message_len > MAX_HANDSHAKE_MESSAGE {
                return Reply::Malformed("handshake message longer than the scanner accepts");
            }
            let Some(message) = pending.get(4..4 + message_len) else {
                break;
            };
            consumed += 4 + message_len;
            match (&server_hello, kind) {
                (None, HANDSHAKE_SERVER_HELLO) => {
                    let parsed = match parse_server_hello(message) {
                        Ok(parsed) => parsed,
                        Err(reason) => return Reply::Malformed(reason),
                    };
                    // TLS 1.3 encrypts everything after the ServerHello.
                    if !want_certificates || parsed.version >= 0x0304 || parsed.hello_retry_request
                    {
                        return Reply::Hello {
                            server_hello: parsed,
                            certificates: Vec::new(),
                        };
                    }
                    server_hello = Some(parsed);
                }
                (None, _) => {
                    return Reply::Malformed("first handshake message is not a ServerHello");
                }
                (Some(hello), HANDSHAKE_CERTIFICATE) => {
                    return match parse_certificate_list(message) {
                        Ok(certificates) => Reply::Hello {
                            server_hello: hello.clone(),
                            certificates,
                        },
                        Err(reason) => Reply::Malformed(reason),
                    };
                }
                (Some(hello), HANDSHAKE_SERVER_KEY_EXCHANGE | HANDSHAKE_SERVER_HELLO_DONE) => {
                    // Anonymous suites send no certificate at all.
                    return Reply::Hello {
                        server_hello: hello.clone(),
                        certificates: Vec::new(),
                    };
                }
                (Some(_), _) => {}
            }
        }
    }
}

fn parse_server_hello(message: &[u8]) -> Result<ServerHello, &'static str> {
    const TRUNCATED: &str = "ServerHello truncated";
    let mut r = Reader::new(message);
    let legacy_version = r.u16().ok_or(TRUNCATED)?;
    let random = r.take(32).ok_or(TRUNCATED)?;
    let session_id_len = usize::from(r.u8().ok_or(TRUNCATED)?);
    if session_id_len > 32 {
        return Err("ServerHello session id longer than 32 bytes");
    }
    r.take(session_id_len).ok_or(TRUNCATED)?;
    let cipher_suite = r.u16().ok_or(TRUNCATED)?;
    let compression = r.u8().ok_or(TRUNCATED)?;
    let mut version = legacy_version;
    if r.remaining() > 0 {
        let extensions_len = usize::from(r.u16().ok_or(TRUNCATED)?);
        let mut extensions = Reader::new(
            r.take(extensions_len)
                .ok_or("ServerHello extensions truncated")?,
        );
        while extensions.remaining() > 0 {
            let kind = extensions.u16().ok_or("ServerHello extension truncated")?;
            let len = usize::from(extensions.u16().ok_or("ServerHello extension truncated")?);
            let data = extensions
                .take(len)
                .ok_or("ServerHello extension truncated")?;
            if kind == EXT_SUPPORTED_VERSIONS {
                let &[hi, lo] = data else {
                    return Err("supported_versions in ServerHello is not two bytes");
                };
                version = u16::from_be_bytes([hi, lo]);
            }
        }
    }
    Ok(ServerHello {
        legacy_version,
        version,
        cipher_suite,
        compression,
        hello_retry_request: random == HELLO_RETRY_RANDOM,
    })
}

fn parse_certificate_list(message: &[u8]) -> Result<Vec<Vec<u8>>, &'static str> {
    const TRUNCATED: &str = "Certificate message truncated";
    let mut r = Reader::new(message);
    let total = r.u24().ok_or(TRUNCATED)?;
    let mut list = Reader::new(r.take(total).ok_or(TRUNCATED)?);
    let mut certificates = Vec::new();
    while list.remaining() > 0 {
        let len = list.u24().ok_or(TRUNCATED)?;
        let der = list.take(len).ok_or(TRUNCATED)?;
        certificates.push(der.to_vec());
    }
    Ok(certificates)
}

/// A cursor over untrusted bytes; every read is checked.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, at: 0 }
    }

    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.at)
    }

    fn peek(&self, n: usize) -> Option<&'a [u8]> {
        self.bytes.get(self.at..self.at.checked_add(n)?)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let out = self.peek(n)?;
        self.at += n;
        Some(out)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    fn u16(&mut self) -> Option<u16> {
        let &[a, b] = self.take(2)? else { return None };
        Some(u16::from_be_bytes([a, b]))
    }

    fn u24(&mut self) -> Option<usize> {
        let &[a, b, c] = self.take(3)? else {
            return None;
        };
        Some(usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(version: Protocol, server_name: Option<&str>) -> Vec<u8> {
        ClientHello {
            version,
            cipher_suites: &[0xC02F, 0x000A],
            server_name,
            random: [7; 32],
        }
        .encode()
    }

    fn record(content_type: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![content_type, 3, 3];
        out.extend_from_slice(&(body.len() as u16).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    fn handshake(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![kind];
        put_u24(&mut out, body.len());
        out.extend_from_slice(body);
        out
    }

    fn server_hello_body(version: u16, suite: u16, supported_version: Option<u16>) -> Vec<u8> {
        let mut body = version.to_be_bytes().to_vec();
        body.extend_from_slice(&[9; 32]);
        body.push(32);
        body.extend_from_slice(&[1; 32]);
        body.extend_from_slice(&suite.to_be_bytes());
        body.push(0);
        if let Some(selected) = supported_version {
            body.extend_from_slice(&6u16.to_be_bytes());
            body.extend_from_slice(&EXT_SUPPORTED_VERSIONS.to_be_bytes());
            body.extend_from_slice(&2u16.to_be_bytes());
            body.extend_from_slice(&selected.to_be_bytes());
        }
        body
    }

    fn certificate_body(certs: &[&[u8]]) -> Vec<u8> {
        let mut list = Vec::new();
        for cert in certs {
            put_u24(&mut list, cert.len());
            list.extend_from_slice(cert);
        }
        let mut body = Vec::new();
        put_u24(&mut body, list.len());
        body.extend_from_slice(&list);
        body
    }

    #[test]
    fn client_hello_has_consistent_lengths_and_offered_fields() {
        let bytes = hello(Protocol::Tls10, Some("ehr.example.org"));
        assert_eq!(bytes[0], CONTENT_HANDSHAKE);
        assert_eq!(&bytes[1..3], &[3, 1]);
        let record_len = usize::from(u16::from_be_bytes([bytes[3], bytes[4]]));
        assert_eq!(record_len, bytes.len() - 5);
        assert_eq!(bytes[5], HANDSHAKE_CLIENT_HELLO);
        let hs_len =
            usize::from(bytes[6]) << 16 | usize::from(bytes[7]) << 8 | usize::from(bytes[8]);
        assert_eq!(hs_len, record_len - 4);
        assert_eq!(
            &bytes[9..11],
            &[3, 1],
            "client_version is the probed version"
        );
        // suites follow random (32) and the empty session id (1)
        let suites_at = 11 + 32 + 1;
        assert_eq!(&bytes[suites_at..suites_at + 2], &[0, 6]);
        assert_eq!(
            &bytes[suites_at + 2..suites_at + 8],
            &[0xC0, 0x2F, 0x00, 0x0A, 0x00, 0xFF]
        );
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("ehr.example.org"));
    }

    #[test]
    fn client_hello_is_padded_out_of_the_256_to_511_byte_range() {
        for suites in 1..200u16 {
            let ids: Vec<u16> = (0..suites).collect();
            let bytes = ClientHello {
                version: Protocol::Tls12,
                cipher_suites: &ids,
                server_name: Some("a.example"),
                random: [0; 32],
            }
            .encode();
            let hs_len = bytes.len() - 5;
            assert!(
                !(256..512).contains(&hs_len),
                "{suites} suites gave {hs_len} bytes"
            );
        }
    }

    #[test]
    fn only_tls12_hello_carries_signature_algorithms_and_sslv3_no_extensions() {
        let has_sigalgs = |bytes: &[u8]| bytes.windows(4).any(|w| w == [0x00, 0x0D, 0x00, 0x1A]);
        assert!(has_sigalgs(&hello(Protocol::Tls12, None)));
        assert!(!has_sigalgs(&hello(Protocol::Tls11, None)));
        let ssl3 = hello(Protocol::Ssl3, Some("a.example"));
        assert_eq!(&ssl3[1..3], &[3, 0]);
        // header (5) + handshake header (4) + version (2) + random + sid + suites + compression
        assert_eq!(ssl3.len(), 5 + 4 + 2 + 32 + 1 + 2 + 6 + 2);
    }

    #[test]
    fn ip_addresses_are_not_sent_as_sni() {
        let with_ip = hello(Protocol::Tls12, Some("192.0.2.1"));
        assert!(!String::from_utf8_lossy(&with_ip).contains("192.0.2.1"));
    }

    #[test]
    fn parses_server_hello_and_certificates_across_records() {
        let mut flight = handshake(
            HANDSHAKE_SERVER_HELLO,
            &server_hello_body(0x0301, 0x000A, None),
        );
        flight.extend(handshake(
            HANDSHAKE_CERTIFICATE,
            &certificate_body(&[b"leaf-der", b"ca-der"]),
        ));
        flight.extend(handshake(HANDSHAKE_SERVER_HELLO_DONE, &[]));
        // split the handshake stream over three records at awkward places
        let mut bytes = record(CONTENT_HANDSHAKE, &flight[..3]);
        bytes.extend(record(CONTENT_HANDSHAKE, &flight[3..50]));
        bytes.extend(record(CONTENT_HANDSHAKE, &flight[50..]));
        let expected_hello = ServerHello {
            legacy_version: 0x0301,
            version: 0x0301,
            cipher_suite: 0x000A,
            compression: 0,
            hello_retry_request: false,
        };
        assert_eq!(
            parse_reply(&bytes, true),
            Reply::Hello {
                server_hello: expected_hello.clone(),
                certificates: vec![b"leaf-der".to_vec(), b"ca-der".to_vec()]
            }
        );
        assert_eq!(
            parse_reply(&bytes, false),
            Reply::Hello {
                server_hello: expected_hello,
                certificates: vec![]
            }
        );
        // every strict prefix is incomplete, never an error or a panic
        for cut in 0..bytes.len() {
            match parse_reply(&bytes[..cut], true) {
                Reply::Incomplete { .. } => {}
                other => panic!("prefix {cut}: {other:?}"),
            }
        }
    }

    #[test]
    fn reads_negotiated_version_from_supported_versions() {
        let bytes = record(
            CONTENT_HANDSHAKE,
            &handshake(
                HANDSHAKE_SERVER_HELLO,
                &server_hello_body(0x0303, 0x1301, Some(0x0304)),
            ),
        );
        let Reply::Hello { server_hello, .. } = parse_reply(&bytes, true) else {
            panic!()
        };
        assert_eq!(
            (server_hello.legacy_version, server_hello.version),
            (0x0303, 0x0304)
        );
    }

    #[test]
    fn reads_past_a_warning_alert_to_the_server_hello() {
        let mut bytes = record(CONTENT_ALERT, &[ALERT_WARNING, 112]);
        bytes.extend(record(
            CONTENT_HANDSHAKE,
            &handshake(
                HANDSHAKE_SERVER_HELLO,
                &server_hello_body(0x0303, 0xC02F, None),
            ),
        ));
        let Reply::Hello { server_hello, .. } = parse_reply(&bytes, false) else {
            panic!()
        };
        assert_eq!(server_hello.cipher_suite, 0xC02F);
        // a fatal alert, or a warning close_notify, ends the probe
        assert!(matches!(
            parse_reply(&record(CONTENT_ALERT, &[2, 40]), false),
            Reply::Alert(_)
        ));
        assert!(matches!(
            parse_reply(&record(CONTENT_ALERT, &[1, 0]), false),
            Reply::Alert(_)
        ));
    }

    #[test]
    fn reports_alerts_non_tls_and_malformed_replies() {
        assert_eq!(
            parse_reply(&record(CONTENT_ALERT, &[2, 70]), false),
            Reply::Alert(Alert {
                level: 2,
                description: 70
            })
        );
        assert_eq!(
            Alert {
                level: 2,
                description: 70
            }
            .name(),
            "protocol_version"
        );
        assert_eq!(
            parse_reply(b"HTTP/1.1 400 Bad Request\r\n\r\n", false),
            Reply::NotTls
        );
        assert_eq!(
            parse_reply(b"SSH-2.0-OpenSSH_9.6\r\n", false),
            Reply::NotTls
        );
        assert!(matches!(
            parse_reply(&[22, 3, 3, 0xFF, 0xFF], false),
            Reply::Malformed(_)
        ));
        assert!(matches!(
            parse_reply(
                &record(
                    CONTENT_HANDSHAKE,
                    &handshake(HANDSHAKE_CERTIFICATE, &[0, 0, 0])
                ),
                false
            ),
            Reply::Malformed(_)
        ));
        let mut short = handshake(
            HANDSHAKE_SERVER_HELLO,
            &server_hello_body(0x0303, 0xC02F, None),
        );
        short.truncate(20);
        short[3] = 16; // claim exactly the bytes present so the message is "complete" but short
        assert!(matches!(
            parse_reply(&record(CONTENT_HANDSHAKE, &short), false),
            Reply::Malformed(_)
        ));
    }

    #[test]
    fn never_panics_on_arbitrary_bytes() {
        // A deterministic pseudo-random walk over byte strings, plus mutations of a valid reply.
        let mut valid = record(
            CONTENT_HANDSHAKE,
            &handshake(
                HANDSHAKE_SERVER_HELLO,
                &server_hello_body(0x0303, 0xC02F, Some(0x0303)),
            ),
        );
        valid.extend(record(
            CONTENT_HANDSHAKE,
            &handshake(HANDSHAKE_CERTIFICATE, &certificate_body(&[b"x"])),
        ));
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let mut bytes = valid.clone();
            let flips = (next() % 4) as usize + 1;
            for _ in 0..flips {
                let at = (next() as usize) % bytes.len();
                bytes[at] = next() as u8;
            }
            let cut = (next() as usize) % (bytes.len() + 1);
            let _ = parse_reply(&bytes[..cut], true);
            let _ = parse_reply(&bytes[..cut], false);
        }
    }
}
