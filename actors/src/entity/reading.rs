//! What an adapter hands an entity: readings in the entity's terms, not the wire's.

use chrono::{DateTime, Utc};

use super::facts::Facts;
use super::observation::{Observation, Sequence};
use urbanstream_schema::GeofenceId;

/// A satellite position as the device reported it. `valid` is false when the device had no
/// fix: the coordinates are then its last known ones (or zero) and move nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fix {
    pub lat: f64,
    pub lon: f64,
    pub altitude: i16,
    pub heading: u16,
    pub satellites: u8,
    pub speed_kmh: u16,
    pub valid: bool,
}

impl Fix {
    /// (lat, lon) when the fix is valid.
    pub fn position(&self) -> Option<(f64, f64)> {
        self.valid.then_some((self.lat, self.lon))
    }
}

/// One reading of a device at one device time.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// Device time, milliseconds since the epoch.
    pub at_ms: i64,
    pub fix: Option<Fix>,
    pub facts: Facts,
    /// The wire's own values as a JSON object (a tracker's IO elements by id), stored beside
    /// the facts so that nothing the device sent is lost.
    pub raw: String,
    /// Where the reading stands in the device's stream, when the device numbers its messages.
    pub sequence: Option<Sequence>,
    /// What it reports beyond a fix and facts (heartbeats, detections, …).
    pub observations: Vec<Observation>,
}

impl Reading {
    pub fn at(&self) -> DateTime<Utc> {
        device_time(self.at_ms)
    }

    pub fn speed_kmh(&self) -> f64 {
        self.fix.map_or(0.0, |f| f64::from(f.speed_kmh))
    }
}

/// A reading as its entity accepted it.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    pub reading: Reading,
    /// Not newer than what the entity already had (a buffer flushed after an outage): stored
    /// and evaluated as history, never moves the live state.
    pub late: bool,
    pub received_at: DateTime<Utc>,
    /// The lowest speed limit of the geofences the entity was in at this fix, and that fence,
    /// as its actor decided with each fence's hysteresis (live readings with a fix).
    pub fence_limit: Option<(f64, GeofenceId)>,
}

/// Milliseconds since the epoch to a UTC time (clamped to the representable range).
pub fn device_time(ms: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MAX_UTC)
}
