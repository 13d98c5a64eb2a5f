use std::fmt;
use std::str::FromStr;

use urbanstream_schema::Imei;

use crate::entity::EntityKey;

/// What a client can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Every vehicle's live updates.
    Fleet,
    /// One device's updates.
    Device(Imei),
    /// The updates of the devices in one vehicle.
    Vehicle(i64),
    /// Events (trips, online/offline, geofences) of every entity.
    Events,
    /// Alerts raised, acknowledged and cleared.
    Alerts,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    #[error(
        "unknown topic `{0}`; expected fleet, events, alerts, device:{{imei}} or vehicle:{{id}}"
    )]
    Unknown(String),
    #[error("topic `{topic}`: {reason}")]
    BadId { topic: String, reason: String },
}

impl Topic {
    /// The topic of one entity's own updates.
    pub fn of(key: EntityKey) -> Self {
        match key {
            EntityKey::Tracker(imei) => Self::Device(imei),
        }
    }
}

impl FromStr for Topic {
    type Err = TopicError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fleet" => Ok(Self::Fleet),
            "events" => Ok(Self::Events),
            "alerts" => Ok(Self::Alerts),
            _ => match s.split_once(':') {
                Some(("vehicle", id)) => {
                    id.parse()
                        .map(Self::Vehicle)
                        .map_err(|e: std::num::ParseIntError| TopicError::BadId {
                            topic: s.into(),
                            reason: e.to_string(),
                        })
                }
                Some(("device", id)) => {
                    id.parse()
                        .map(Self::Device)
                        .map_err(|e: urbanstream_schema::ImeiError| TopicError::BadId {
                            topic: s.into(),
                            reason: e.to_string(),
                        })
                }
                _ => Err(TopicError::Unknown(s.into())),
            },
        }
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fleet => f.write_str("fleet"),
            Self::Events => f.write_str("events"),
            Self::Alerts => f.write_str("alerts"),
            Self::Device(imei) => write!(f, "device:{imei}"),
            Self::Vehicle(id) => write!(f, "vehicle:{id}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_parse_and_print() {
        for t in [
            "fleet",
            "events",
            "alerts",
            "device:356307042441013",
            "vehicle:42",
        ] {
            assert_eq!(t.parse::<Topic>().unwrap().to_string(), t);
        }
        assert!(matches!(
            "trains".parse::<Topic>(),
            Err(TopicError::Unknown(_))
        ));
        assert!(matches!(
            "device:12".parse::<Topic>(),
            Err(TopicError::BadId { .. })
        ));
    }
}
