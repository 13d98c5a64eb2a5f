//! `[vehicle]`: the tracker entities' motion, offline and idle settings.

use std::time::Duration;

use serde::Deserialize;

use super::{duration, ConfigError};

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

impl VehicleSection {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.offline_after.is_zero()
            || self.trip_stop_after.is_zero()
            || self.idle_stop_after.is_zero()
        {
            return Err(ConfigError::Invalid {
                key: "vehicle.offline_after",
                message: "durations must be more than zero".into(),
            });
        }
        if !(self.moving_speed_kmh > 0.0 && self.moving_speed_kmh.is_finite()) {
            return Err(ConfigError::Invalid {
                key: "vehicle.moving_speed_kmh",
                message: "must be a positive number".into(),
            });
        }
        if self.mailbox == 0 {
            return Err(ConfigError::Invalid {
                key: "vehicle.mailbox",
                message: "must be at least 1".into(),
            });
        }
        Ok(())
    }

    /// The motion state machine's thresholds.
    pub fn motion(&self) -> urbanstream_actors::vehicle::MotionSettings {
        urbanstream_actors::vehicle::MotionSettings {
            moving_kmh: self.moving_speed_kmh,
            trip_stop_after: self.trip_stop_after,
            ..Default::default()
        }
    }
}
