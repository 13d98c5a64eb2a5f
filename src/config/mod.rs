//! Settings: typed, layered (built-in defaults, environment overlay, local file, --config,
//! environment variables), unknown keys refused with the key named, validated at start.
//! One file per section; each section validates itself.

mod alerts;
mod cameras;
mod edge;
mod http;
mod robots;
mod storage;
mod teltonika;
mod vehicle;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;
use urbanstream_actors::teltonika::io_profile::{IoProfiles, ProfileError};

pub use self::alerts::{CommandsSection, NotificationsSection, RulesSection, SmtpSection};
pub use self::cameras::{CameraEntry, CamerasSection, EnvironmentEntry, RecordEntry, VideoEntry};
pub use self::edge::{EdgeSection, MqttSection, UnknownNodes};
pub use self::http::{DashboardSettings, HttpSettings, LogSettings, WsSettings};
pub use self::robots::{ModbusSection, RobotsSection};
pub use self::storage::{BatchSettings, DatabaseSettings, RedisSection, RetentionSettings};
pub use self::teltonika::TeltonikaSettings;
pub use self::vehicle::VehicleSection;
pub use crate::auth::{AuthSettings, MIN_SIGNING_KEY_BYTES};
pub(crate) use crate::duration;

/// The defaults, built into the binary.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");
/// Prefix of environment overrides: `URBANSTREAM__SECTION__KEY`.
pub const ENV_PREFIX: &str = "URBANSTREAM";
/// Selects the overlay `config/<name>.toml`.
pub const ENV_SELECTOR: &str = "URBANSTREAM_ENV";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub log: LogSettings,
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSection,
    pub db: BatchSettings,
    pub retention: RetentionSettings,
    pub teltonika: TeltonikaSettings,
    pub vehicle: VehicleSection,
    pub auth: AuthSettings,
    pub rules: RulesSection,
    pub notifications: NotificationsSection,
    pub commands: CommandsSection,
    pub mqtt: MqttSection,
    pub edge: EdgeSection,
    pub modbus: ModbusSection,
    pub robots: RobotsSection,
    pub dashboard: DashboardSettings,
    #[serde(default)]
    pub ws: WsSettings,
    /// Fixed cameras (people tracked across them); none by default.
    #[serde(default)]
    pub cameras: CamerasSection,
    /// The overlay this was loaded with (`URBANSTREAM_ENV`, default `development`).
    #[serde(skip)]
    pub environment: String,
}

/// Where settings come from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Directory holding the overlays (`<env>.toml`, `local.toml`); skipped when absent.
    pub config_dir: Option<PathBuf>,
    /// Overlay name; `development` when unset.
    pub env: Option<String>,
    /// The file given with `--config`; must exist.
    pub file: Option<PathBuf>,
    /// Environment variables to read overrides from; the process environment when `None`.
    pub vars: Option<HashMap<String, String>>,
}

impl Sources {
    /// The usual sources: `./config`, `URBANSTREAM_ENV`, the process environment.
    pub fn standard(file: Option<PathBuf>) -> Self {
        Self {
            config_dir: Some(PathBuf::from("config")),
            env: std::env::var(ENV_SELECTOR).ok(),
            file,
            vars: None,
        }
    }
}

/// A configuration that cannot be used; the message names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration key `{path}`: {message}")]
    Key { path: String, message: String },
    #[error("configuration: {0}")]
    Profile(#[from] ProfileError),
    #[error("configuration key `{key}`: {message}")]
    Invalid { key: &'static str, message: String },
}

impl From<crate::auth::InvalidSetting> for ConfigError {
    fn from(e: crate::auth::InvalidSetting) -> Self {
        Self::Invalid {
            key: e.key,
            message: e.message,
        }
    }
}

impl Settings {
    /// Loads and validates settings from `sources`.
    pub fn load(sources: &Sources) -> Result<Self, ConfigError> {
        let mut builder =
            Config::builder().add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml));
        if let Some(dir) = &sources.config_dir {
            let env = sources.env.as_deref().unwrap_or("development");
            builder = builder
                .add_source(File::from(dir.join(format!("{env}.toml"))).required(false))
                .add_source(File::from(dir.join("local.toml")).required(false));
        }
        if let Some(file) = &sources.file {
            builder = builder.add_source(File::from(file.as_path()).required(true));
        }
        let env = Environment::with_prefix(ENV_PREFIX)
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .source(sources.vars.clone());
        let raw = builder.add_source(env).build()?;
        let settings: Settings =
            serde_path_to_error::deserialize(raw).map_err(|e| ConfigError::Key {
                path: e.path().to_string(),
                message: e.inner().to_string(),
            })?;
        let mut settings = settings;
        settings.environment = sources
            .env
            .clone()
            .unwrap_or_else(|| "development".to_owned());
        settings.validate()?;
        Ok(settings)
    }

    /// Settings from the built-in defaults only, plus explicit overrides (`section.key`,
    /// value): for tests and tools.
    pub fn defaults_with(overrides: &[(&str, &str)]) -> Result<Self, ConfigError> {
        let vars = overrides
            .iter()
            .map(|(k, v)| {
                (
                    format!("{ENV_PREFIX}__{}", k.replace('.', "__").to_uppercase()),
                    (*v).to_owned(),
                )
            })
            .collect();
        Self::load(&Sources {
            vars: Some(vars),
            ..Sources::default()
        })
    }

    fn validate(&self) -> Result<(), ConfigError> {
        for (key, wanted) in [
            ("teltonika.tls_listen", self.teltonika.tls_listen.is_some()),
            ("mqtt.tls_listen", self.mqtt.tls_listen.is_some()),
        ] {
            if wanted && self.http.tls.is_none() {
                return Err(ConfigError::Invalid {
                    key,
                    message: "a TLS listener needs the server's certificate: set http.tls.cert_file and http.tls.key_file".into(),
                });
            }
        }
        self.teltonika.validate()?;
        self.database.validate()?;
        self.db.validate()?;
        self.retention.validate()?;
        self.vehicle.validate()?;
        self.rules.validate()?;
        self.notifications.validate()?;
        self.commands.validate()?;
        self.mqtt.validate()?;
        self.edge.validate()?;
        self.modbus.validate()?;
        self.robots.validate()?;
        self.auth.validate(&self.environment)?;
        self.cameras.validate()?;
        self.dashboard
            .validate()
            .map_err(|message| ConfigError::Invalid {
                key: "dashboard.tile_url",
                message,
            })?;
        Ok(())
    }

    /// The compiled IO profiles.
    pub fn io_profiles(&self) -> Result<Arc<IoProfiles>, ProfileError> {
        self.teltonika.io_profiles()
    }
}

/// Loads settings the way `serve` does, from the current directory.
pub fn load_standard(file: Option<&Path>) -> Result<Settings, ConfigError> {
    Settings::load(&Sources::standard(file.map(Path::to_path_buf)))
}

#[cfg(test)]
mod tests;
