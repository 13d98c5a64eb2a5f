//! `[auth]`: who may use the API, and how tokens are signed.

use std::time::Duration;

use serde::Deserialize;

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// HS256 key for access tokens; at least 32 bytes. Empty: a random key per start.
    #[serde(default)]
    pub signing_key: Option<String>,
    pub issuer: String,
    #[serde(with = "crate::duration")]
    pub access_ttl: Duration,
    #[serde(with = "crate::duration")]
    pub refresh_ttl: Duration,
    /// Creates user `admin` (ADMIN) at start when no user exists.
    #[serde(default)]
    pub bootstrap_admin_password: Option<String>,
    /// Bearer token that `/metrics` asks for; open when unset.
    #[serde(default)]
    pub metrics_token: Option<String>,
    pub max_failed_logins: u32,
    #[serde(with = "crate::duration")]
    pub lockout_base: Duration,
    #[serde(with = "crate::duration")]
    pub lockout_max: Duration,
    pub rate_per_principal: u32,
    pub burst_per_principal: u32,
    pub rate_per_ip: u32,
    pub burst_per_ip: u32,
    pub logins_per_ip_per_minute: u32,
}

impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |o: &Option<String>| o.as_ref().map(|_| "<set>");
        f.debug_struct("AuthSettings")
            .field("signing_key", &hidden(&self.signing_key))
            .field("issuer", &self.issuer)
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .field(
                "bootstrap_admin_password",
                &hidden(&self.bootstrap_admin_password),
            )
            .field("metrics_token", &hidden(&self.metrics_token))
            .finish_non_exhaustive()
    }
}

/// Shortest signing key accepted (HS256 wants at least its 256-bit output).
pub const MIN_SIGNING_KEY_BYTES: usize = 32;

/// A setting that cannot be used, by its key.
#[derive(Debug, thiserror::Error)]
#[error("configuration key `{key}`: {message}")]
pub struct InvalidSetting {
    pub key: &'static str,
    pub message: String,
}

impl AuthSettings {
    /// Checks the settings; production (`environment`) needs a signing key.
    pub fn validate(&self, environment: &str) -> Result<(), InvalidSetting> {
        let a = self;
        let key = a.signing_key.as_deref().filter(|k| !k.is_empty());
        match key {
            Some(k) if k.len() < MIN_SIGNING_KEY_BYTES => {
                return Err(InvalidSetting {
                    key: "auth.signing_key",
                    message: format!("must be at least {MIN_SIGNING_KEY_BYTES} bytes"),
                })
            }
            None if environment == "production" => {
                return Err(InvalidSetting {
                    key: "auth.signing_key",
                    message: format!(
                        "production needs a signing key of at least {MIN_SIGNING_KEY_BYTES} bytes \
                         (URBANSTREAM__AUTH__SIGNING_KEY)"
                    ),
                })
            }
            _ => {}
        }
        if a.access_ttl.is_zero() || a.refresh_ttl <= a.access_ttl {
            return Err(InvalidSetting {
                key: "auth.access_ttl",
                message: "access_ttl must be more than zero and less than refresh_ttl".into(),
            });
        }
        if let Some(p) = a
            .bootstrap_admin_password
            .as_deref()
            .filter(|p| !p.is_empty())
        {
            if let Err(e) = super::check_password(p) {
                return Err(InvalidSetting {
                    key: "auth.bootstrap_admin_password",
                    message: e.to_string(),
                });
            }
        }
        if a.max_failed_logins == 0 || a.lockout_base.is_zero() || a.lockout_max < a.lockout_base {
            return Err(InvalidSetting {
                key: "auth.max_failed_logins",
                message: "max_failed_logins and lockout_base must be more than zero, lockout_max at least lockout_base".into(),
            });
        }
        if a.rate_per_principal == 0
            || a.burst_per_principal == 0
            || a.rate_per_ip == 0
            || a.burst_per_ip == 0
            || a.logins_per_ip_per_minute == 0
        {
            return Err(InvalidSetting {
                key: "auth.rate_per_principal",
                message: "rates and bursts must be at least 1".into(),
            });
        }
        Ok(())
    }
}
