//! `[database]`, `[redis]`, `[db]` (the batcher) and `[retention]`.

use std::time::Duration;

use serde::Deserialize;

use super::{duration, ConfigError};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub pool_size: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSection {
    #[serde(default)]
    pub url: Option<String>,
    pub prefix: String,
    #[serde(with = "duration")]
    pub latest_ttl: Duration,
    /// `rediss://`: the CA certificates (PEM) the server's certificate must chain to.
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
    /// `rediss://` to a server that asks for a client certificate: ours (PEM files).
    #[serde(default)]
    pub client_tls: Option<urbanstream_actors::tls::TlsFiles>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchSettings {
    pub batch_rows: usize,
    #[serde(with = "duration")]
    pub batch_interval: Duration,
    pub max_pending_rows: usize,
    pub max_in_flight: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    pub telemetry_days: u32,
    #[serde(with = "duration")]
    pub check_interval: Duration,
}

impl DatabaseSettings {
    pub fn validate(&self) -> Result<(), ConfigError> {
        urbanstream_schema::store::DbUrl::parse(&self.url)
            .map(|_| ())
            .map_err(|e| ConfigError::Invalid {
                key: "database.url",
                message: e.to_string(),
            })
    }
}

impl BatchSettings {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.batch_rows == 0
            || self.max_in_flight == 0
            || self.max_pending_rows < self.batch_rows
        {
            return Err(ConfigError::Invalid {
                key: "db.batch_rows",
                message: "batch_rows and max_in_flight must be at least 1, max_pending_rows at least batch_rows".into(),
            });
        }
        Ok(())
    }

    /// The batcher's settings.
    pub fn batcher(&self) -> urbanstream_actors::db_batcher::BatcherSettings {
        urbanstream_actors::db_batcher::BatcherSettings {
            batch_rows: self.batch_rows,
            batch_interval: self.batch_interval,
            max_pending_rows: self.max_pending_rows,
            max_in_flight: self.max_in_flight,
            ..Default::default()
        }
    }
}

impl RetentionSettings {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.check_interval.is_zero() {
            return Err(ConfigError::Invalid {
                key: "retention.check_interval",
                message: "must be more than zero".into(),
            });
        }
        Ok(())
    }
}
