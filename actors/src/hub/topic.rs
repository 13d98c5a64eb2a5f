use std::fmt;
use std::str::FromStr;

use urbanstream_schema::{Imei, NodeId, RobotId};

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
    /// Every edge node's state changes.
    Nodes,
    /// One edge node's state changes and events.
    Node(NodeId),
    /// Every node's detections.
    Detections,
    /// One node's detections.
    NodeDetections(NodeId),
    /// System metrics, every few seconds.
    System,
    /// System log entries.
    Logs,
    /// Every robot's state changes.
    Robots,
    /// People tracked across cameras: global identities on the floor, every fusion step.
    Tracking,
    /// One robot's state changes and events.
    Robot(RobotId),
    /// Robots' safety events.
    Safety,
    /// One video camera's picture with its tracks drawn on it: binary JPEG messages, sent
    /// by the WebSocket session from the camera's feed, not through the hub.
    Camera(u32),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    #[error(
        "unknown topic `{0}`; expected fleet, events, alerts, device:{{imei}}, vehicle:{{id}}, nodes, node:{{id}}, detections, detections:{{node}}, system, logs, robots, robot:{{id}}, safety, tracking or camera:{{id}}"
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
            EntityKey::EdgeNode(id) => Self::Node(id),
            EntityKey::Robot(id) => Self::Robot(id),
        }
    }

    /// The topic of its own an event of `kind` (`EntityEvent::kind`) also goes to, beside
    /// `events` and its entity's: robots' safety events on `safety`.
    pub fn of_event(kind: &str) -> Option<Self> {
        (kind == "safety").then_some(Self::Safety)
    }

    /// The topic of every entity of `key`'s kind.
    pub fn all_of(key: EntityKey) -> Self {
        match key {
            EntityKey::Tracker(_) => Self::Fleet,
            EntityKey::EdgeNode(_) => Self::Nodes,
            EntityKey::Robot(_) => Self::Robots,
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
            "nodes" => Ok(Self::Nodes),
            "detections" => Ok(Self::Detections),
            "system" => Ok(Self::System),
            "logs" => Ok(Self::Logs),
            "robots" => Ok(Self::Robots),
            "safety" => Ok(Self::Safety),
            "tracking" => Ok(Self::Tracking),
            _ => match s.split_once(':') {
                Some((kind @ ("node" | "detections"), id)) => {
                    let id: NodeId = id.parse().map_err(|e: urbanstream_schema::NodeIdError| {
                        TopicError::BadId {
                            topic: s.into(),
                            reason: e.to_string(),
                        }
                    })?;
                    Ok(if kind == "node" {
                        Self::Node(id)
                    } else {
                        Self::NodeDetections(id)
                    })
                }
                Some(("robot", id)) => id.parse().map(|n| Self::Robot(RobotId(n))).map_err(
                    |e: std::num::ParseIntError| TopicError::BadId {
                        topic: s.into(),
                        reason: e.to_string(),
                    },
                ),
                Some(("camera", id)) => {
                    id.parse()
                        .map(Self::Camera)
                        .map_err(|e: std::num::ParseIntError| TopicError::BadId {
                            topic: s.into(),
                            reason: e.to_string(),
                        })
                }
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
            Self::Nodes => f.write_str("nodes"),
            Self::Node(id) => write!(f, "node:{id}"),
            Self::Detections => f.write_str("detections"),
            Self::NodeDetections(id) => write!(f, "detections:{id}"),
            Self::System => f.write_str("system"),
            Self::Logs => f.write_str("logs"),
            Self::Robots => f.write_str("robots"),
            Self::Robot(id) => write!(f, "robot:{id}"),
            Self::Safety => f.write_str("safety"),
            Self::Tracking => f.write_str("tracking"),
            Self::Camera(id) => write!(f, "camera:{id}"),
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
            "nodes",
            "node:cam-1",
            "detections",
            "detections:cam-1",
            "system",
            "tracking",
            "camera:3",
            "logs",
        ] {
            assert_eq!(t.parse::<Topic>().unwrap().to_string(), t);
        }
        assert!(matches!(
            "trains".parse::<Topic>(),
            Err(TopicError::Unknown(_))
        ));
        assert!(matches!(
            "node:a/b".parse::<Topic>(),
            Err(TopicError::BadId { .. })
        ));
        assert!(matches!(
            "device:12".parse::<Topic>(),
            Err(TopicError::BadId { .. })
        ));
    }
}
