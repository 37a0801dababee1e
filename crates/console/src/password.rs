//! Passwords as NIST SP 800-63B asks: at least 12 characters, no composition rules, checked
//! against a list of passwords known from breaches and against the user's own name, hashed with
//! argon2id (OWASP's parameters: 19 MiB, 2 passes, 1 lane; the `argon2` crate's defaults).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

pub const MIN_CHARS: usize = 12;
/// Long enough for any passphrase, short enough that hashing cost stays bounded.
pub const MAX_CHARS: usize = 256;

/// Breached and common passwords of 12 characters or more, one a line, `#` comments.
const COMMON: &str = include_str!("../data/common-passwords.txt");

/// Why a password was refused, in words for the person choosing it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRejected {
    #[error("use at least {MIN_CHARS} characters; a phrase of several words is easiest")]
    TooShort,
    #[error("use at most {MAX_CHARS} characters")]
    TooLong,
    #[error("this password is on a list of passwords known from breaches; choose another")]
    Breached,
    #[error("the password must not contain the user name")]
    ContainsName,
    #[error("the password must not be one character repeated")]
    Repetitive,
}

/// Checks a new password against the policy.
pub fn check(password: &str, user_name: &str) -> Result<(), PasswordRejected> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(PasswordRejected::TooShort);
    }
    if chars > MAX_CHARS {
        return Err(PasswordRejected::TooLong);
    }
    let lower = password.to_lowercase();
    if COMMON
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .any(|l| l.to_lowercase() == lower)
    {
        return Err(PasswordRejected::Breached);
    }
    let name = user_name.trim().to_lowercase();
    if name.chars().count() >= 3 && lower.contains(&name) {
        return Err(PasswordRejected::ContainsName);
    }
    let mut distinct = password.chars();
    let first = distinct.next();
    if distinct.all(|c| Some(c) == first) {
        return Err(PasswordRejected::Repetitive);
    }
    Ok(())
}

fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// The argon2id PHC string of `password` with a fresh random salt.
pub fn hash(password: &str) -> String {
    let salt_bytes: [u8; 16] = crate::auth::random_bytes();
    let salt = SaltString::encode_b64(&salt_bytes).expect("16 bytes is a valid salt length");
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters accepts any password up to 4 GiB")
        .to_string()
}

/// Whether `password` matches the PHC string `stored` (constant-time comparison inside).
pub fn verify(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash of a random password, verified against when the user does not exist, so a failed
/// sign-in takes as long for an unknown name as for a known one.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash(&crate::auth::random_token()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_refuses_short_breached_named_and_repeated_passwords() {
        assert_eq!(check("short pass", "ann"), Err(PasswordRejected::TooShort));
        assert_eq!(
            check("Password1234!", "ann"),
            Err(PasswordRejected::Breached)
        );
        assert_eq!(
            check("QWERTYUIOP123", "ann"),
            Err(PasswordRejected::Breached)
        );
        assert_eq!(
            check("my name is annlee ok", "annlee"),
            Err(PasswordRejected::ContainsName)
        );
        assert_eq!(
            check("zzzzzzzzzzzzzz", "ann"),
            Err(PasswordRejected::Repetitive)
        );
        assert_eq!(
            check(&"x".repeat(300), "ann"),
            Err(PasswordRejected::TooLong)
        );
        // No composition rules: a lower-case phrase is fine.
        assert_eq!(check("correct pony staple river", "ann"), Ok(()));
    }

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let a = hash("correct pony staple river");
        let b = hash("correct pony staple river");
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_ne!(a, b);
        assert!(verify("correct pony staple river", &a));
        assert!(!verify("correct pony staple rivers", &a));
        assert!(!verify("anything", "not a hash"));
    }
}
