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
