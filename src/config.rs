//! Settings: typed, layered (built-in defaults, environment overlay, local file, --config,
//! environment variables), unknown keys refused with the key named, validated at start.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;
use urbanstream_actors::registry::DeviceEntry;
use urbanstream_actors::teltonika::io_profile::{IoElementDef, IoProfiles, ProfileError};
use urbanstream_actors::teltonika::SessionSettings;

/// The defaults, built into the binary.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");
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
    /// The overlay this was loaded with (`URBANSTREAM_ENV`, default `development`).
    #[serde(skip)]
    pub environment: String,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// HS256 key for access tokens; at least 32 bytes. Empty: a random key per start.
    #[serde(default)]
    pub signing_key: Option<String>,
    pub issuer: String,
    #[serde(with = "duration")]
    pub access_ttl: Duration,
    #[serde(with = "duration")]
    pub refresh_ttl: Duration,
    /// Creates user `admin` (ADMIN) at start when no user exists.
    #[serde(default)]
    pub bootstrap_admin_password: Option<String>,
    /// Bearer token that `/metrics` asks for; open when unset.
    #[serde(default)]
    pub metrics_token: Option<String>,
    pub max_failed_logins: u32,
    #[serde(with = "duration")]
    pub lockout_base: Duration,
    #[serde(with = "duration")]
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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub filter: String,
    pub json: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub listen: SocketAddr,
    pub workers: usize,
    /// Origins allowed to call the API from a browser (CORS); empty: same origin only.
    #[serde(default)]
    pub cors_origins: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeltonikaSettings {
    pub listen: SocketAddr,
    #[serde(default)]
    pub udp_listen: Option<SocketAddr>,
    pub register_unknown: bool,
    pub default_model: String,
    pub max_frame_bytes: usize,
    #[serde(with = "duration")]
    pub idle_timeout: Duration,
    #[serde(with = "duration")]
    pub ack_timeout: Duration,
    #[serde(with = "duration")]
    pub command_timeout: Duration,
    #[serde(with = "duration")]
    pub tcp_keepalive: Duration,
    pub max_bad_frames: u32,
    pub default_profile: String,
    pub devices: Vec<DeviceEntry>,
    pub models: HashMap<String, String>,
    pub io_profiles: HashMap<String, Vec<IoElementDef>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VehicleSection {
    pub mailbox: usize,
    #[serde(with = "duration")]
    pub offline_after: Duration,
    pub moving_speed_kmh: f64,
    #[serde(with = "duration")]
    pub trip_stop_after: Duration,
    #[serde(with = "duration")]
    pub idle_stop_after: Duration,
}

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
        let t = &self.teltonika;
        if !(64..=1 << 20).contains(&t.max_frame_bytes) {
            return Err(ConfigError::Invalid {
                key: "teltonika.max_frame_bytes",
                message: format!("{} is outside 64..=1048576", t.max_frame_bytes),
            });
        }
        for (key, d) in [
            ("teltonika.idle_timeout", t.idle_timeout),
            ("teltonika.ack_timeout", t.ack_timeout),
            ("teltonika.command_timeout", t.command_timeout),
            ("teltonika.tcp_keepalive", t.tcp_keepalive),
        ] {
            if d.is_zero() {
                return Err(ConfigError::Invalid {
                    key,
                    message: "must be more than zero".into(),
                });
            }
        }
        if t.max_bad_frames == 0 {
            return Err(ConfigError::Invalid {
                key: "teltonika.max_bad_frames",
                message: "must be at least 1".into(),
            });
        }
        if let Err(e) = urbanstream_schema::store::DbUrl::parse(&self.database.url) {
            return Err(ConfigError::Invalid {
                key: "database.url",
                message: e.to_string(),
            });
        }
        if self.db.batch_rows == 0
            || self.db.max_in_flight == 0
            || self.db.max_pending_rows < self.db.batch_rows
        {
            return Err(ConfigError::Invalid {
                key: "db.batch_rows",
                message: "batch_rows and max_in_flight must be at least 1, max_pending_rows at least batch_rows".into(),
            });
        }
        if self.retention.check_interval.is_zero() {
            return Err(ConfigError::Invalid {
                key: "retention.check_interval",
                message: "must be more than zero".into(),
            });
        }
        if self.vehicle.offline_after.is_zero()
            || self.vehicle.trip_stop_after.is_zero()
            || self.vehicle.idle_stop_after.is_zero()
        {
            return Err(ConfigError::Invalid {
                key: "vehicle.offline_after",
                message: "durations must be more than zero".into(),
            });
        }
        if !(self.vehicle.moving_speed_kmh > 0.0 && self.vehicle.moving_speed_kmh.is_finite()) {
            return Err(ConfigError::Invalid {
                key: "vehicle.moving_speed_kmh",
                message: "must be a positive number".into(),
            });
        }
        if self.rules.tick.is_zero() || self.rules.reload_every.is_zero() {
            return Err(ConfigError::Invalid {
                key: "rules.tick",
                message: "rules.tick and rules.reload_every must be longer than zero".into(),
            });
        }
        if self.notifications.max_concurrent == 0 {
            return Err(ConfigError::Invalid {
                key: "notifications.max_concurrent",
                message: "at least one delivery at a time".into(),
            });
        }
        if self.notifications.max_attempts == 0 {
            return Err(ConfigError::Invalid {
                key: "notifications.max_attempts",
                message: "at least one attempt".into(),
            });
        }
        if let Some(smtp) = &self.notifications.smtp {
            use urbanstream_actors::notify::{validate_target, ChannelKind};
            if let Err(e) = validate_target(ChannelKind::Email, &smtp.from) {
                return Err(ConfigError::Invalid {
                    key: "notifications.smtp.from",
                    message: e,
                });
            }
        }
        if self.commands.queue_ttl.is_zero() {
            return Err(ConfigError::Invalid {
                key: "commands.queue_ttl",
                message: "must be longer than zero".into(),
            });
        }
        if self.vehicle.mailbox == 0 {
            return Err(ConfigError::Invalid {
                key: "vehicle.mailbox",
                message: "must be at least 1".into(),
            });
        }
        self.io_profiles()?;
        self.validate_auth()
    }

    fn validate_auth(&self) -> Result<(), ConfigError> {
        let a = &self.auth;
        let key = a.signing_key.as_deref().filter(|k| !k.is_empty());
        match key {
            Some(k) if k.len() < MIN_SIGNING_KEY_BYTES => {
                return Err(ConfigError::Invalid {
                    key: "auth.signing_key",
                    message: format!("must be at least {MIN_SIGNING_KEY_BYTES} bytes"),
                })
            }
            None if self.environment == "production" => {
                return Err(ConfigError::Invalid {
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
            return Err(ConfigError::Invalid {
                key: "auth.access_ttl",
                message: "access_ttl must be more than zero and less than refresh_ttl".into(),
            });
        }
        if let Some(p) = a
            .bootstrap_admin_password
            .as_deref()
            .filter(|p| !p.is_empty())
        {
            if let Err(e) = crate::auth::check_password(p) {
                return Err(ConfigError::Invalid {
                    key: "auth.bootstrap_admin_password",
                    message: e.to_string(),
                });
            }
        }
        if a.max_failed_logins == 0 || a.lockout_base.is_zero() || a.lockout_max < a.lockout_base {
            return Err(ConfigError::Invalid {
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
            return Err(ConfigError::Invalid {
                key: "auth.rate_per_principal",
                message: "rates and bursts must be at least 1".into(),
            });
        }
        Ok(())
    }

    /// The compiled IO profiles.
    pub fn io_profiles(&self) -> Result<Arc<IoProfiles>, ProfileError> {
        let t = &self.teltonika;
        IoProfiles::new(&t.io_profiles, &t.models, &t.default_profile).map(Arc::new)
    }

    /// The batcher's settings.
    pub fn batcher_settings(&self) -> urbanstream_actors::db_batcher::BatcherSettings {
        urbanstream_actors::db_batcher::BatcherSettings {
            batch_rows: self.db.batch_rows,
            batch_interval: self.db.batch_interval,
            max_pending_rows: self.db.max_pending_rows,
            max_in_flight: self.db.max_in_flight,
            ..Default::default()
        }
    }

    /// The motion state machine's thresholds.
    pub fn notify_settings(&self) -> urbanstream_actors::notify::NotifySettings {
        let n = &self.notifications;
        urbanstream_actors::notify::NotifySettings {
            max_attempts: n.max_attempts,
            retry_base: n.retry_base,
            retry_max: n.retry_max,
            timeout: n.timeout,
            max_concurrent: n.max_concurrent,
            smtp: n
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

    pub fn motion_settings(&self) -> urbanstream_actors::vehicle::MotionSettings {
        urbanstream_actors::vehicle::MotionSettings {
            moving_kmh: self.vehicle.moving_speed_kmh,
            trip_stop_after: self.vehicle.trip_stop_after,
            ..Default::default()
        }
    }

    /// What each Teltonika session needs.
    pub fn session_settings(&self) -> SessionSettings {
        let t = &self.teltonika;
        SessionSettings {
            max_frame: t.max_frame_bytes,
            idle_timeout: t.idle_timeout,
            ack_timeout: t.ack_timeout,
            command_timeout: t.command_timeout,
            max_bad_frames: t.max_bad_frames,
            ..SessionSettings::default()
        }
    }
}

/// Loads settings the way `serve` does, from the current directory.
pub fn load_standard(file: Option<&Path>) -> Result<Settings, ConfigError> {
    Settings::load(&Sources::standard(file.map(Path::to_path_buf)))
}

mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map_err(|e| serde::de::Error::custom(format!("`{s}`: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_load_and_validate() {
        let s = Settings::defaults_with(&[]).unwrap();
        assert_eq!(s.http.listen, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(s.teltonika.listen, "0.0.0.0:5000".parse().unwrap());
        assert_eq!(s.teltonika.udp_listen, None);
        assert!(!s.teltonika.register_unknown);
        assert_eq!(s.teltonika.idle_timeout, Duration::from_secs(600));
        assert_eq!(s.teltonika.max_frame_bytes, 16 * 1024);
        assert_eq!(s.database.url, "sqlite://data/urbanstream.db");
        let err = Settings::defaults_with(&[("database.url", "mysql://x")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("database.url"), "{err}");
        let profiles = s.io_profiles().unwrap();
        assert_eq!(profiles.for_model("FMC125").name(), "fmc125");
        assert_eq!(
            profiles.for_model("FMC125-CAN-ALT").name(),
            "fmc125_can_alt"
        );
    }

    fn load_env(env: &str, vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::load(&Sources {
            env: Some(env.into()),
            vars: Some(
                vars.iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            ..Sources::default()
        })
    }

    #[test]
    fn production_refuses_a_missing_or_short_signing_key() {
        let e = load_env("production", &[]).unwrap_err().to_string();
        assert!(e.contains("auth.signing_key"), "{e}");
        let e = load_env("production", &[("URBANSTREAM__AUTH__SIGNING_KEY", "short")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("at least 32 bytes"), "{e}");
        let key = "k".repeat(MIN_SIGNING_KEY_BYTES);
        let s = load_env("production", &[("URBANSTREAM__AUTH__SIGNING_KEY", &key)]).unwrap();
        assert_eq!(s.environment, "production");
        // Elsewhere a missing key means a random one per start.
        assert!(load_env("development", &[]).is_ok());
        // The key never shows in a debug print.
        assert!(!format!("{:?}", s.auth).contains(&key));
        let e = load_env(
            "development",
            &[("URBANSTREAM__AUTH__BOOTSTRAP_ADMIN_PASSWORD", "short")],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("auth.bootstrap_admin_password"), "{e}");
    }

    #[test]
    fn environment_overrides_any_key() {
        let s = Settings::defaults_with(&[
            ("http.listen", "127.0.0.1:9999"),
            ("teltonika.register_unknown", "true"),
            ("teltonika.udp_listen", "127.0.0.1:5001"),
            ("teltonika.ack_timeout", "250ms"),
        ])
        .unwrap();
        assert_eq!(s.http.listen, "127.0.0.1:9999".parse().unwrap());
        assert!(s.teltonika.register_unknown);
        assert_eq!(
            s.teltonika.udp_listen,
            Some("127.0.0.1:5001".parse().unwrap())
        );
        assert_eq!(s.teltonika.ack_timeout, Duration::from_millis(250));
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let err = Settings::defaults_with(&[("teltonika.listen_port", "5000")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("listen_port"), "{err}");
        assert!(err.contains("teltonika"), "{err}");
        let err = Settings::defaults_with(&[("nosuchsection.key", "1")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("nosuchsection"), "{err}");
    }

    #[test]
    fn bad_values_name_the_key() {
        let err = Settings::defaults_with(&[("teltonika.idle_timeout", "soon")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("teltonika.idle_timeout"), "{err}");
        let err = Settings::defaults_with(&[("teltonika.max_frame_bytes", "10")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("teltonika.max_frame_bytes"), "{err}");
        let err = Settings::defaults_with(&[("teltonika.default_profile", "nope")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope"), "{err}");
    }

    #[test]
    fn file_layers_over_defaults() {
        let dir = std::env::temp_dir().join(format!("urbanstream-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("site.toml");
        std::fs::write(
            &file,
            "[teltonika]\nregister_unknown = true\n[[teltonika.devices]]\nimei = \"356307042441013\"\nmodel = \"FMC125\"\nname = \"Bus 12\"\n",
        )
        .unwrap();
        let s = Settings::load(&Sources {
            file: Some(file.clone()),
            vars: Some(HashMap::new()),
            ..Sources::default()
        })
        .unwrap();
        assert!(s.teltonika.register_unknown);
        assert_eq!(s.teltonika.devices.len(), 1);
        assert_eq!(s.teltonika.devices[0].name.as_deref(), Some("Bus 12"));
        std::fs::write(&file, "[teltonika]\nregister_unknwn = true\n").unwrap();
        let err = Settings::load(&Sources {
            file: Some(file),
            vars: Some(HashMap::new()),
            ..Sources::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("register_unknwn"), "{err}");
    }
}
