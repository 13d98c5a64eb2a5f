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

/// 2000-01-01T00:00:00Z in milliseconds: no reading of a working device is older. A device
/// that says so lost its clock (a flat battery, no GNSS time yet).
pub const EARLIEST_DEVICE_TIME_MS: i64 = 946_684_800_000;

/// The device times an entity takes: from 2000-01-01 to `max_ahead` past the server's
/// clock. A reading outside is answered (the device cannot fix it by sending it again) but
/// never becomes live state or history: it is quarantined with why. One check for every
/// kind whose devices send their own times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockBounds {
    pub max_ahead: chrono::Duration,
}

impl Default for ClockBounds {
    fn default() -> Self {
        Self {
            max_ahead: chrono::Duration::minutes(10),
        }
    }
}

/// The reason label of a reading whose time is out of range.
pub const TIME_OUT_OF_RANGE: &str = "time_out_of_range";

impl ClockBounds {
    /// `Err(detail)` when `at_ms` is before 2000 or too far ahead of `now`.
    pub fn check(&self, at_ms: i64, now: DateTime<Utc>) -> Result<(), String> {
        if at_ms < EARLIEST_DEVICE_TIME_MS {
            return Err(format!("device time {at_ms} ms is before 2000-01-01"));
        }
        let ahead_ms = at_ms.saturating_sub(now.timestamp_millis());
        if ahead_ms > self.max_ahead.num_milliseconds() {
            return Err(format!(
                "device time {at_ms} ms is {} s ahead of the server's clock (at most {} s)",
                ahead_ms / 1000,
                self.max_ahead.num_seconds()
            ));
        }
        Ok(())
    }
}

/// What an adapter acknowledges but its entity must not take as it came, kept with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    /// Bounded, e.g. [`TIME_OUT_OF_RANGE`].
    pub reason: &'static str,
    pub detail: String,
    /// What was received, as the adapter can write it (a record as JSON).
    pub payload: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_bounds_take_2000_to_max_ahead() {
        let bounds = ClockBounds::default();
        let now = device_time(1_800_000_000_000);
        let ms = now.timestamp_millis();
        assert!(bounds.check(ms, now).is_ok());
        assert!(
            bounds.check(ms + 600_000, now).is_ok(),
            "10 min ahead is fine"
        );
        assert!(bounds.check(ms + 600_001, now).is_err());
        assert!(bounds.check(EARLIEST_DEVICE_TIME_MS, now).is_ok());
        assert!(bounds.check(EARLIEST_DEVICE_TIME_MS - 1, now).is_err());
        assert!(bounds.check(0, now).is_err());
        assert!(bounds.check(i64::MAX, now).is_err());
        assert!(bounds.check(i64::MIN, now).is_err());
        // Year 2200.
        assert!(bounds.check(7_258_118_400_000, now).is_err());
    }
}
