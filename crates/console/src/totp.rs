//! TOTP (RFC 6238) over HOTP (RFC 4226): HMAC-SHA1, 30-second steps, 6 digits, the parameters
//! every authenticator app supports; plus base32 (RFC 4648) for the secret and the
//! `otpauth://` URI the enrolment QR code carries.
//!
//! Written here over the RustCrypto `hmac` and `sha1` crates rather than taken from `totp-rs`:
//! the algorithm is thirty lines, checked below against the RFC's own test vectors, and
//! `totp-rs` would bring its own base32, URL and QR dependencies (an image stack for the QR
//! feature) into a build that already has everything else it needs.

use hmac::{Hmac, Mac};
use sha1::Sha1;

/// Seconds per TOTP step.
pub const STEP_SECONDS: i64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Bytes of a new secret: 160 bits, as RFC 4226 recommends.
pub const SECRET_BYTES: usize = 20;

/// The HOTP value for `counter`, with `digits` digits.
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let binary = (u32::from(digest[offset]) & 0x7f) << 24
        | u32::from(digest[offset + 1]) << 16
        | u32::from(digest[offset + 2]) << 8
        | u32::from(digest[offset + 3]);
    binary % 10u32.pow(digits)
}

/// The step number of a Unix time in seconds.
pub fn step_of(unix_seconds: i64) -> u64 {
    u64::try_from(unix_seconds.div_euclid(STEP_SECONDS)).unwrap_or(0)
}

/// The 6-digit code at `unix_seconds`, zero-padded.
pub fn code_at(secret: &[u8], unix_seconds: i64) -> String {
    format!(
        "{:0width$}",
        hotp(secret, step_of(unix_seconds), DIGITS),
        width = DIGITS as usize
    )
}

/// The step whose code `code` is, looking one step either side of `unix_seconds` to allow for
/// clock drift and typing time; `None` when it matches none. The comparison takes the same
/// time whatever digits match.
pub fn verify(secret: &[u8], code: &str, unix_seconds: i64) -> Option<u64> {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_of(unix_seconds);
    let mut found = None;
    for step in [now.saturating_sub(1), now, now + 1] {
        let expected = format!(
            "{:0width$}",
            hotp(secret, step, DIGITS),
            width = DIGITS as usize
        );
        if crate::auth::constant_time_eq(expected.as_bytes(), code.as_bytes()) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding, as authenticator apps expect.
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer = 0u32;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Decodes base32, ignoring case, spaces and padding; `None` on any other character.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer = 0u32;
    let mut bits = 0;
    for c in text.bytes() {
        if c == b'=' || c == b' ' {
            continue;
        }
        let c = c.to_ascii_uppercase();
        let value = BASE32.iter().position(|&b| b == c)? as u32;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

/// The `otpauth://` URI an authenticator app reads from the enrolment QR code.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        percent_encode(issuer),
        percent_encode(account),
        base32_encode(secret),
        percent_encode(issuer),
    )
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub(crate) fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 column (8 digits, the 20-byte ASCII secret).
    #[test]
    fn matches_the_rfc_6238_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, expected) in [
            (59, 94287082),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            assert_eq!(hotp(secret, step_of(time), 8), expected, "time {time}");
        }
    }

    /// RFC 4226 Appendix D.
    #[test]
    fn matches_the_rfc_4226_hotp_vectors() {
        let expected = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, value) in expected.iter().enumerate() {
            assert_eq!(hotp(b"12345678901234567890", counter as u64, 6), *value);
        }
    }

    #[test]
    fn verify_accepts_one_step_of_drift_and_nothing_further() {
        let secret = b"12345678901234567890";
        let now = 1_700_000_000;
        assert_eq!(
            verify(secret, &code_at(secret, now), now),
            Some(step_of(now))
        );
        assert!(verify(secret, &code_at(secret, now - 30), now).is_some());
        assert!(verify(secret, &code_at(secret, now + 30), now).is_some());
        assert_eq!(verify(secret, &code_at(secret, now - 90), now), None);
        assert_eq!(verify(secret, "12345", now), None);
        assert_eq!(verify(secret, "abcdef", now), None);
    }

    #[test]
    fn base32_round_trips_and_matches_rfc_4648() {
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_encode(b"f"), "MY");
        assert_eq!(base32_decode("mzxw6ytboi======").unwrap(), b"foobar");
        for n in 0..40u8 {
            let bytes: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37)).collect();
            assert_eq!(base32_decode(&base32_encode(&bytes)).unwrap(), bytes);
        }
        assert_eq!(base32_decode("MZ1"), None);
    }

    #[test]
    fn otpauth_uri_names_issuer_account_and_parameters() {
        let uri = otpauth_uri("Ward", "ann lee", b"foobar");
        assert_eq!(
            uri,
            "otpauth://totp/Ward:ann%20lee?secret=MZXW6YTBOI&issuer=Ward&algorithm=SHA1&digits=6&period=30"
        );
    }
}
