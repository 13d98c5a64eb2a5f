//! `[modbus]` (buses, timeouts, register maps) and `[robots]` (the robot entities).

use std::time::Duration;

use serde::Deserialize;
use urbanstream_actors::modbus::RegisterMap;

use super::{duration, ConfigError};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModbusSection {
    /// Off: no bus is opened (robots are still listed).
    pub enabled: bool,
    /// Every Modbus transaction's deadline.
    #[serde(with = "duration")]
    pub timeout: Duration,
    /// How long a command waits for the robot's sequence echo.
    #[serde(with = "duration")]
    pub command_timeout: Duration,
    /// Polls per second of a bus that sets none.
    pub poll_hz: f64,
    /// Register maps, by name (`oht50-v1` is built in and may be given again here).
    #[serde(default)]
    pub maps: Vec<RegisterMap>,
}

impl ModbusSection {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.timeout < Duration::from_millis(1) || self.timeout > Duration::from_secs(10) {
            return Err(ConfigError::Invalid {
                key: "modbus.timeout",
                message: "must be 1 ms to 10 s".into(),
            });
        }
        if !(0.1..=1000.0).contains(&self.poll_hz) {
            return Err(ConfigError::Invalid {
                key: "modbus.poll_hz",
                message: "must be 0.1 to 1000".into(),
            });
        }
        for m in &self.maps {
            m.validate().map_err(|message| ConfigError::Invalid {
                key: "modbus.maps",
                message,
            })?;
        }
        Ok(())
    }

    /// The maps in force: the built-in one, replaced by a configured map of the same name.
    pub fn all_maps(&self) -> Vec<RegisterMap> {
        let mut maps = self.maps.clone();
        if !maps.iter().any(|m| m.name == "oht50-v1") {
            maps.push(RegisterMap::oht50_v1());
        }
        maps
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RobotsSection {
    pub mailbox: usize,
    /// At most one telemetry row per robot this often (and one at every state change).
    #[serde(with = "duration")]
    pub telemetry_every: Duration,
    /// Polls with a frozen control cycle counter before a robot is stale.
    pub stale_after_polls: u32,
    /// Failed polls in a row before a robot is disconnected.
    pub offline_after_polls: u32,
    /// Telemetry and safety events are kept this many days.
    pub telemetry_days: u32,
}

impl RobotsSection {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.stale_after_polls == 0 || self.offline_after_polls == 0 {
            return Err(ConfigError::Invalid {
                key: "robots.stale_after_polls",
                message: "stale_after_polls and offline_after_polls must be at least 1".into(),
            });
        }
        if self.telemetry_days == 0 {
            return Err(ConfigError::Invalid {
                key: "robots.telemetry_days",
                message: "must be at least 1".into(),
            });
        }
        Ok(())
    }
}
