use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use actix::{Message, Recipient};

use super::topic::Topic;
use crate::entity::EntityKey;
use crate::redis_bridge::PublishToRedis;
use crate::rules::AlertForgotten;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubscriberId(pub u64);

impl SubscriberId {
    pub fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PushKind {
    Telemetry,
    Event,
    Status,
}

/// One update for a subscriber: the JSON text to send, already framed with its topic.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct Push {
    pub topic: Topic,
    pub kind: PushKind,
    /// The entity the update is about: a slow subscriber keeps only the latest per entity.
    pub entity: Option<EntityKey>,
    /// Where the entity is (latitude, longitude), for subscribers watching one area.
    pub position: Option<(f64, f64)>,
    /// Where it was at its previous update: a subscriber whose area it just left gets this
    /// one, to see it go.
    pub from: Option<(f64, f64)>,
    pub json: Arc<str>,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Subscribe {
    pub id: SubscriberId,
    pub topics: Vec<Topic>,
    pub recipient: Recipient<Push>,
}

#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Unsubscribe {
    pub id: SubscriberId,
    pub topics: Vec<Topic>,
}

/// An area on the map: west, south, east, north edges in degrees (WGS 84). An area across
/// the antimeridian has `west > east`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BBox {
    pub west: f64,
    pub south: f64,
    pub east: f64,
    pub north: f64,
}

impl BBox {
    /// Checks the edges: finite, latitudes in [-90, 90] with south ≤ north, longitudes in
    /// [-180, 180].
    pub fn new(west: f64, south: f64, east: f64, north: f64) -> Result<Self, String> {
        let all = [west, south, east, north];
        if all.iter().any(|v| !v.is_finite()) {
            return Err("bbox edges must be numbers".into());
        }
        if !(-90.0..=90.0).contains(&south) || !(-90.0..=90.0).contains(&north) || south > north {
            return Err("bbox latitudes must lie in [-90, 90] with south <= north".into());
        }
        if !(-180.0..=180.0).contains(&west) || !(-180.0..=180.0).contains(&east) {
            return Err("bbox longitudes must lie in [-180, 180]".into());
        }
        Ok(Self {
            west,
            south,
            east,
            north,
        })
    }

    pub fn contains(&self, (lat, lon): (f64, f64)) -> bool {
        let in_lon = if self.west <= self.east {
            (self.west..=self.east).contains(&lon)
        } else {
            lon >= self.west || lon <= self.east
        };
        in_lon && (self.south..=self.north).contains(&lat)
    }
}

/// Limits a subscriber's `fleet` updates to vehicles inside an area (`None`: everywhere).
/// A vehicle that leaves the area gets one last update (the first from outside), so the
/// subscriber sees it go, however it learned of the vehicle.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct SetViewport {
    pub id: SubscriberId,
    pub area: Option<BBox>,
}

/// The subscriber is gone.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Leave {
    pub id: SubscriberId,
}

/// Connects the hub to this node's rule engine (told of alerts users cleared elsewhere).
#[derive(Message)]
#[rtype(result = "()")]
pub struct AttachEngine(pub Recipient<AlertForgotten>);

/// Connects the hub to the Redis bridge.
#[derive(Message)]
#[rtype(result = "()")]
pub struct AttachRedis(pub Recipient<PublishToRedis>);

/// A push to every subscriber of a topic that is about no one entity (system metrics, log
/// entries): `{"type": kind, "topic": …, "data": data}`.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct Broadcast {
    pub topic: Topic,
    pub kind: &'static str,
    pub data: Arc<serde_json::Value>,
}
