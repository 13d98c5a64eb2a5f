//! Pure parts of notifications: payloads, signatures, backoff, target validation.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" under the channel's secret>`.
pub const SIGNATURE_HEADER: &str = "X-Urbanstream-Signature";
/// Unix seconds when the payload was signed; receivers refuse old ones (replay).
pub const TIMESTAMP_HEADER: &str = "X-Urbanstream-Timestamp";
/// The same id on every attempt of one delivery: receivers drop repeats.
pub const DELIVERY_HEADER: &str = "X-Urbanstream-Delivery";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelKind {
    Webhook,
    Email,
}

impl ChannelKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "webhook" => Some(Self::Webhook),
            "email" => Some(Self::Email),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Email => "email",
        }
    }
}

/// The signature header's value for a body sent at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        // HMAC takes keys of any length.
        Err(_any_length) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The wait before attempt `n` (1-based; the first has none): doubling from `base`, capped.
pub fn backoff(base: Duration, max: Duration, attempt: u32) -> Duration {
    if attempt <= 1 {
        return Duration::ZERO;
    }
    base.saturating_mul(1 << (attempt - 2).min(20)).min(max)
}

/// Checks a channel's target: an http(s) URL for a webhook, one or more comma-separated
/// addresses for e-mail.
pub fn validate_target(kind: ChannelKind, target: &str) -> Result<(), String> {
    match kind {
        ChannelKind::Webhook => {
            let url = reqwest::Url::parse(target).map_err(|e| format!("target: {e}"))?;
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return Err("target: a webhook needs an http:// or https:// URL".into());
            }
            Ok(())
        }
        ChannelKind::Email => {
            let list = recipients(target);
            if list.is_empty() {
                return Err("target: no e-mail address".into());
            }
            for r in list {
                r.parse::<lettre::message::Mailbox>()
                    .map_err(|e| format!("target: `{r}`: {e}"))?;
            }
            Ok(())
        }
    }
}

pub fn recipients(target: &str) -> Vec<&str> {
    target
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_and_body() {
        // RFC 4231 test case 2 key and data, as "<ts>.<body>" = "what do ya want for nothing?".
        let sig = sign("Jefe", 0, b"what do ya want for nothing?");
        assert_ne!(sig, sign("Jefe", 1, b"what do ya want for nothing?"));
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"0.what do ya want for nothing?");
        assert_eq!(
            sig,
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        );
        // RFC 4231 test case 2 itself, to pin the primitive.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let b = |n| backoff(Duration::from_secs(1), Duration::from_secs(10), n);
        assert_eq!(
            [b(1), b(2), b(3), b(4), b(5), b(6)].map(|d| d.as_secs()),
            [0, 1, 2, 4, 8, 10]
        );
    }

    #[test]
    fn targets_are_checked() {
        assert!(validate_target(ChannelKind::Webhook, "https://ops.example/hook").is_ok());
        assert!(validate_target(ChannelKind::Webhook, "ftp://ops.example/hook").is_err());
        assert!(validate_target(ChannelKind::Webhook, "not a url").is_err());
        assert!(validate_target(ChannelKind::Email, "a@example.org, b@example.org").is_ok());
        assert!(validate_target(ChannelKind::Email, "a@example.org, nobody").is_err());
        assert!(validate_target(ChannelKind::Email, " , ").is_err());
    }
}
