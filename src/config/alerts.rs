//! `[rules]`, `[notifications]` and `[commands]`.

use std::time::Duration;

use serde::Deserialize;

use super::{duration, ConfigError};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesSection {
    /// How often devices are checked for silence (DEVICE_OFFLINE).
    #[serde(with = "duration")]
    pub tick: Duration,
    /// How often every node reloads the alert rules (a change through the API on this node
    /// applies at once).
    #[serde(with = "duration")]
    pub reload_every: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationsSection {
    pub max_attempts: u32,
    #[serde(with = "duration")]
    pub retry_base: Duration,
    #[serde(with = "duration")]
    pub retry_max: Duration,
    #[serde(with = "duration")]
    pub timeout: Duration,
    pub max_concurrent: usize,
    pub smtp: Option<SmtpSection>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSection {
    pub host: String,
    pub port: u16,
    pub tls: urbanstream_actors::notify::SmtpTls,
    pub username: Option<String>,
    pub password: Option<String>,
    pub from: String,
}

impl std::fmt::Debug for SmtpSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSection")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<set>"))
            .field("from", &self.from)
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandsSection {
    /// How long a command waits for an offline device before it expires.
    #[serde(with = "duration")]
    pub queue_ttl: Duration,
}

impl RulesSection {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.tick.is_zero() || self.reload_every.is_zero() {
            return Err(ConfigError::Invalid {
                key: "rules.tick",
                message: "rules.tick and rules.reload_every must be longer than zero".into(),
            });
        }
        Ok(())
    }
}

impl NotificationsSection {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_concurrent == 0 {
            return Err(ConfigError::Invalid {
                key: "notifications.max_concurrent",
                message: "at least one delivery at a time".into(),
            });
        }
        if self.max_attempts == 0 {
            return Err(ConfigError::Invalid {
                key: "notifications.max_attempts",
                message: "at least one attempt".into(),
            });
        }
        if let Some(smtp) = &self.smtp {
            use urbanstream_actors::notify::{validate_target, ChannelKind};
            if let Err(e) = validate_target(ChannelKind::Email, &smtp.from) {
                return Err(ConfigError::Invalid {
                    key: "notifications.smtp.from",
                    message: e,
                });
            }
        }
        Ok(())
    }

    /// The notifier's settings.
    pub fn notifier(&self) -> urbanstream_actors::notify::NotifySettings {
        urbanstream_actors::notify::NotifySettings {
            max_attempts: self.max_attempts,
            retry_base: self.retry_base,
            retry_max: self.retry_max,
            timeout: self.timeout,
            max_concurrent: self.max_concurrent,
            smtp: self
                .smtp
                .as_ref()
                .map(|s| urbanstream_actors::notify::SmtpSettings {
                    host: s.host.clone(),
                    port: s.port,
                    tls: s.tls,
                    username: s.username.clone(),
                    password: s.password.clone(),
                    from: s.from.clone(),
                }),
        }
    }
}

impl CommandsSection {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.queue_ttl.is_zero() {
            return Err(ConfigError::Invalid {
                key: "commands.queue_ttl",
                message: "must be longer than zero".into(),
            });
        }
        Ok(())
    }
}
