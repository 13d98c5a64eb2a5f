//! Passwords (argon2id), random tokens and their stored hashes (SHA-256).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted (argon2 hashes anything, but a megabyte password is an attack).
pub const MAX_PASSWORD_CHARS: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters")]
    Length,
    #[error("hashing failed: {0}")]
    Hash(String),
}

/// Checks a new password's shape.
pub fn check_password(password: &str) -> Result<(), PasswordError> {
    let n = password.chars().count();
    if (MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&n) {
        Ok(())
    } else {
        Err(PasswordError::Length)
    }
}

/// argon2id with the crate's defaults (RFC 9106's second recommendation: 19 MiB, t = 2,
/// p = 1), as a PHC string. CPU-heavy: call from a blocking thread.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    check_password(password)?;
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// True when `password` matches the PHC string. CPU-heavy: call from a blocking thread.
pub fn verify_password(password: &str, phc: &str) -> bool {
    if password.len() > MAX_PASSWORD_CHARS * 4 {
        return false;
    }
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the user does not exist, so that a login for an unknown
/// name costs the same time as one with a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not-a-real-password-0").unwrap_or_default())
}

/// 32 random bytes, URL-safe base64 (43 characters).
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// What the database keeps of a token or key: SHA-256, hex. Tokens carry 256 random
/// bits, so a fast hash is enough (no dictionary to attack).
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// An API key: `usk_` + 8 characters shown in lists + the secret. Returns (key, prefix).
pub fn new_api_key() -> (String, String) {
    let secret = random_token();
    let key = format!("usk_{secret}");
    let prefix = key.chars().take(12).collect();
    (key, prefix)
}

/// Prefix that marks an API key in `Authorization: Bearer`.
pub const API_KEY_PREFIX: &str = "usk_";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_round_trip_and_rejections() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("anything", "not a phc string"));
        assert!(matches!(hash_password("short"), Err(PasswordError::Length)));
    }

    #[test]
    fn tokens_are_random_and_hashes_stable() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), token_hash(&b));
        let (key, prefix) = new_api_key();
        assert!(key.starts_with(API_KEY_PREFIX) && key.starts_with(&prefix));
    }
}
