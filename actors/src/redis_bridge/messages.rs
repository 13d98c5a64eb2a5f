use std::sync::Arc;

use actix::Message;
use serde_json::Value;
use urbanstream_schema::VehicleId;

use crate::entity::EntityKey;
use crate::rules::AlertForgotten;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteKind {
    Telemetry,
    Event,
    Alert,
}

/// Whether a device is sending, for `device:{id}:status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Online,
    Offline,
}

impl Presence {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Offline => "offline",
        }
    }
}

/// From the hub: one live update or event to publish.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct PublishToRedis {
    pub key: EntityKey,
    pub kind: RemoteKind,
    /// Position for the geo index.
    pub position: Option<(f64, f64)>,
    /// The device went online or offline with this update.
    pub presence: Option<Presence>,
    pub data: Arc<Value>,
}

/// To the hub: an update another node published, decoded.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct RemoteUpdate {
    pub key: EntityKey,
    pub kind: RemoteKind,
    pub vehicle_id: Option<VehicleId>,
    /// An alert a user cleared on that node: this node's engine lets go of it.
    pub cleared_by_user: Option<AlertForgotten>,
    /// What subscribers receive, as published.
    pub data: Value,
}

/// Whether Redis answers now (for readiness).
#[derive(Debug, Message)]
#[rtype(result = "Result<(), String>")]
pub struct PingRedis;
