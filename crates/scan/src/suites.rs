//! The cipher suites the legacy probe offers, by IANA code point and name, each with the
//! strength class the findings are based on. The list deliberately includes suites no modern
//! client would offer (NULL, EXPORT, anonymous, DES, RC4, 3DES), because finding out whether a
//! server still accepts them is the point of the scan. It must never be used to build a client
//! that actually talks to anyone.

use serde::{Deserialize, Serialize};

/// How a cipher suite rates, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuiteStrength {
    /// No confidentiality or no authentication at all: NULL encryption, EXPORT-grade keys,
    /// anonymous key exchange, single DES, RC2.
    Insecure,
    /// Broken or practically attackable ciphers: RC4, 3DES (Sweet32).
    Weak,
    /// CBC-mode MAC-then-encrypt suites (Lucky13-style padding oracles) or static RSA key
    /// exchange without forward secrecy.
    Legacy,
    /// AEAD cipher with an ephemeral (forward-secret) key exchange.
    Strong,
}

/// One cipher suite the probe knows about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuiteDef {
    pub id: u16,
    pub name: &'static str,
    pub strength: SuiteStrength,
    /// Whether the key exchange is ephemeral (ECDHE/DHE), giving forward secrecy.
    pub forward_secret: bool,
}

const fn s(id: u16, name: &'static str, strength: SuiteStrength, forward_secret: bool) -> SuiteDef {
    SuiteDef {
        id,
        name,
        strength,
        forward_secret,
    }
}

use SuiteStrength::{Insecure, Legacy, Strong, Weak};

/// Every suite the TLS 1.2-and-below probe offers, strongest first (the order matters only to
/// servers that honour the client's preference).
pub const PROBE_SUITES: &[SuiteDef] = &[
    s(
        0xC02B,
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        Strong,
        true,
    ),
    s(
        0xC02C,
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        Strong,
        true,
    ),
    s(
        0xC02F,
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        Strong,
        true,
    ),
    s(
        0xC030,
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        Strong,
        true,
    ),
    s(
        0xCCA9,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        Strong,
        true,
    ),
    s(
        0xCCA8,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        Strong,
        true,
    ),
    s(
        0xCCAA,
        "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        Strong,
        true,
    ),
    s(0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", Strong, true),
    s(0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", Strong, true),
    s(0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256", Legacy, false),
    s(0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384", Legacy, false),
    s(
        0xC023,
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        Legacy,
        true,
    ),
    s(
        0xC024,
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
        Legacy,
        true,
    ),
    s(
        0xC027,
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        Legacy,
        true,
    ),
    s(
        0xC028,
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        Legacy,
        true,
    ),
    s(0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", Legacy, true),
    s(0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", Legacy, true),
    s(0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", Legacy, true),
    s(0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", Legacy, true),
    s(0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", Legacy, true),
    s(0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", Legacy, true),
    s(0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", Legacy, true),
    s(0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", Legacy, true),
    s(0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256", Legacy, false),
    s(0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256", Legacy, false),
    s(0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", Legacy, false),
    s(0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", Legacy, false),
    s(0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA", Legacy, false),
    s(0x0084, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA", Legacy, false),
    s(0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", Weak, true),
    s(0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA", Weak, true),
    s(0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", Weak, false),
    s(0xC011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA", Weak, true),
    s(0xC007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", Weak, true),
    s(0x0005, "TLS_RSA_WITH_RC4_128_SHA", Weak, false),
    s(0x0004, "TLS_RSA_WITH_RC4_128_MD5", Weak, false),
    s(0x0009, "TLS_RSA_WITH_DES_CBC_SHA", Insecure, false),
    s(0x0015, "TLS_DHE_RSA_WITH_DES_CBC_SHA", Insecure, true),
    s(0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5", Insecure, false),
    s(
        0x0006,
        "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5",
        Insecure,
        false,
    ),
    s(0x0008, "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA", Insecure, false),
    s(
        0x0014,
        "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA",
        Insecure,
        true,
    ),
    s(0x0018, "TLS_DH_anon_WITH_RC4_128_MD5", Insecure, true),
    s(0x0034, "TLS_DH_anon_WITH_AES_128_CBC_SHA", Insecure, true),
    s(0xC018, "TLS_ECDH_anon_WITH_AES_128_CBC_SHA", Insecure, true),
    s(0xC015, "TLS_ECDH_anon_WITH_NULL_SHA", Insecure, true),
    s(0xC010, "TLS_ECDHE_RSA_WITH_NULL_SHA", Insecure, true),
    s(0xC006, "TLS_ECDHE_ECDSA_WITH_NULL_SHA", Insecure, true),
    s(0x003B, "TLS_RSA_WITH_NULL_SHA256", Insecure, false),
    s(0x0002, "TLS_RSA_WITH_NULL_SHA", Insecure, false),
    s(0x0001, "TLS_RSA_WITH_NULL_MD5", Insecure, false),
];

/// Signalling value (RFC 5746) offered alongside the suites so that servers which insist on
/// secure renegotiation support still answer; never counted as an accepted suite.
pub const EMPTY_RENEGOTIATION_INFO_SCSV: u16 = 0x00FF;

/// Looks a suite up by code point.
pub fn by_id(id: u16) -> Option<&'static SuiteDef> {
    PROBE_SUITES.iter().find(|suite| suite.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn probe_suites_have_unique_ids_and_names() {
        let ids: HashSet<u16> = PROBE_SUITES.iter().map(|suite| suite.id).collect();
        let names: HashSet<&str> = PROBE_SUITES.iter().map(|suite| suite.name).collect();
        assert_eq!(ids.len(), PROBE_SUITES.len());
        assert_eq!(names.len(), PROBE_SUITES.len());
        assert!(!ids.contains(&EMPTY_RENEGOTIATION_INFO_SCSV));
    }

    #[test]
    fn classifies_weak_and_insecure_suites_by_their_names() {
        for suite in PROBE_SUITES {
            let name = suite.name;
            let expected = if name.contains("NULL")
                || name.contains("EXPORT")
                || name.contains("anon")
                || name.contains("_DES_CBC")
            {
                Insecure
            } else if name.contains("RC4") || name.contains("3DES") {
                Weak
            } else if name.contains("CBC") || name.starts_with("TLS_RSA_") {
                Legacy
            } else {
                Strong
            };
            assert_eq!(suite.strength, expected, "{name}");
            assert_eq!(
                suite.forward_secret,
                name.contains("DHE") || name.contains("anon"),
                "{name}"
            );
        }
    }
}
