//! One key for every tracked thing.

use std::fmt;

use urbanstream_schema::{Imei, NodeId, RobotId};

/// The kinds of tracked things. Each kind has an adapter (its wire), an entity actor and a
/// factory registered with the device registry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntityKind {
    /// A vehicle tracker (Teltonika today), one actor per tracker with its vehicle inside.
    #[default]
    Tracker,
    /// An edge AI node (cameras with a detector) reporting over MQTT.
    EdgeNode,
    /// An overhead hoist robot on a Modbus bus.
    Robot,
}

impl EntityKind {
    /// For metric labels and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tracker => "tracker",
            Self::EdgeNode => "edge_node",
            Self::Robot => "robot",
        }
    }
}

/// Names one tracked thing everywhere above its adapter: the registry's map, the hub's
/// coalescing, the rules' per-entity state, Redis keys and what subscribers receive.
///
/// A kind adds its variant here with the identifier its devices present (a tracker's IMEI,
/// an edge node's id, a robot's unit id), and the three methods below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntityKey {
    Tracker(Imei),
    EdgeNode(NodeId),
    Robot(RobotId),
}

impl EntityKey {
    pub fn kind(&self) -> EntityKind {
        match self {
            Self::Tracker(_) => EntityKind::Tracker,
            Self::EdgeNode(_) => EntityKind::EdgeNode,
            Self::Robot(_) => EntityKind::Robot,
        }
    }

    /// The JSON field that carries the identifier in what is published (`imei`).
    pub fn field(&self) -> &'static str {
        match self {
            Self::Tracker(_) => "imei",
            Self::EdgeNode(_) => "node_id",
            Self::Robot(_) => "robot_id",
        }
    }

    /// The key from a published object's identifier field, the inverse of
    /// [`EntityKey::field`] and `Display`.
    pub fn from_published(object: &serde_json::Value) -> Option<Self> {
        if let Some(imei) = object.get("imei").and_then(serde_json::Value::as_str) {
            return imei.parse().ok().map(Self::Tracker);
        }
        if let Some(id) = object.get("node_id").and_then(serde_json::Value::as_str) {
            return id.parse().ok().map(Self::EdgeNode);
        }
        if let Some(id) = object.get("robot_id").and_then(serde_json::Value::as_str) {
            return Self::parse("robot", id);
        }
        None
    }

    /// The key of a device row of `kind` (as stored in `devices.kind`) and identifier.
    pub fn parse(kind: &str, identifier: &str) -> Option<Self> {
        match kind {
            "tracker" => identifier.parse().ok().map(Self::Tracker),
            "edge_node" => identifier.parse().ok().map(Self::EdgeNode),
            "robot" => identifier
                .strip_prefix("robot:")
                .and_then(|n| n.parse::<i64>().ok())
                .map(|n| Self::Robot(RobotId(n))),
            _ => None,
        }
    }

    /// The tracker's IMEI, for what only trackers have (Codec 12, IO profiles).
    pub fn imei(&self) -> Option<Imei> {
        match self {
            Self::Tracker(imei) => Some(*imei),
            Self::EdgeNode(_) | Self::Robot(_) => None,
        }
    }
}

impl From<Imei> for EntityKey {
    fn from(imei: Imei) -> Self {
        Self::Tracker(imei)
    }
}

/// The device's own identifier, as it presents it (the IMEI digits for a tracker).
impl fmt::Display for EntityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tracker(imei) => imei.fmt(f),
            Self::EdgeNode(id) => id.fmt(f),
            Self::Robot(id) => write!(f, "robot:{id}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_round_trips_through_what_is_published() {
        let key = EntityKey::Tracker("356307042441013".parse().unwrap());
        let published = serde_json::json!({ key.field(): key.to_string() });
        assert_eq!(EntityKey::from_published(&published), Some(key));
        assert_eq!(key.kind().as_str(), "tracker");
        assert_eq!(
            EntityKey::from_published(&serde_json::json!({"imei": "12"})),
            None
        );
        assert_eq!(EntityKey::from_published(&serde_json::json!({})), None);
    }
}
