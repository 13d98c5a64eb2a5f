//! `[teltonika]`: the tracker adapter, its devices and IO profiles.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use urbanstream_actors::registry::DeviceEntry;
use urbanstream_actors::teltonika::io_profile::{
    IoElementDef, IoProfiles, ProfileError, ProfileOptions,
};
use urbanstream_actors::teltonika::SessionSettings;

use super::{duration, ConfigError};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeltonikaSettings {
    pub listen: SocketAddr,
    #[serde(default)]
    pub udp_listen: Option<SocketAddr>,
    /// TLS address for trackers whose firmware offers TLS (the certificate of `http.tls`).
    #[serde(default)]
    pub tls_listen: Option<SocketAddr>,
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
    /// Records dated more than this ahead of the server's clock (or before 2000) are
    /// acknowledged and quarantined, never taken as live state or history.
    #[serde(with = "duration")]
    pub max_clock_ahead: Duration,
    pub default_profile: String,
    pub devices: Vec<DeviceEntry>,
    pub models: HashMap<String, String>,
    pub io_profiles: HashMap<String, Vec<IoElementDef>>,
    /// Per profile: how its devices write their frames.
    #[serde(default)]
    pub profile_options: HashMap<String, ProfileOptions>,
}

impl TeltonikaSettings {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(64..=1 << 20).contains(&self.max_frame_bytes) {
            return Err(ConfigError::Invalid {
                key: "teltonika.max_frame_bytes",
                message: format!("{} is outside 64..=1048576", self.max_frame_bytes),
            });
        }
        for (key, d) in [
            ("teltonika.idle_timeout", self.idle_timeout),
            ("teltonika.ack_timeout", self.ack_timeout),
            ("teltonika.command_timeout", self.command_timeout),
            ("teltonika.tcp_keepalive", self.tcp_keepalive),
        ] {
            if d.is_zero() {
                return Err(ConfigError::Invalid {
                    key,
                    message: "must be more than zero".into(),
                });
            }
        }
        if self.max_bad_frames == 0 {
            return Err(ConfigError::Invalid {
                key: "teltonika.max_bad_frames",
                message: "must be at least 1".into(),
            });
        }
        self.io_profiles()?;
        Ok(())
    }

    /// The compiled IO profiles.
    pub fn io_profiles(&self) -> Result<Arc<IoProfiles>, ProfileError> {
        IoProfiles::new(
            &self.io_profiles,
            &self.models,
            &self.profile_options,
            &self.default_profile,
        )
        .map(Arc::new)
    }

    /// What each Teltonika session needs.
    pub fn session(&self, profiles: Arc<IoProfiles>) -> SessionSettings {
        SessionSettings {
            max_frame: self.max_frame_bytes,
            idle_timeout: self.idle_timeout,
            ack_timeout: self.ack_timeout,
            command_timeout: self.command_timeout,
            max_bad_frames: self.max_bad_frames,
            profiles,
            clock: urbanstream_actors::entity::ClockBounds {
                max_ahead: chrono::Duration::from_std(self.max_clock_ahead)
                    .unwrap_or(chrono::Duration::MAX),
            },
            ..SessionSettings::default()
        }
    }
}
