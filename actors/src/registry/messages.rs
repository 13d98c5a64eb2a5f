use std::sync::atomic::{AtomicU64, Ordering};

use actix::{Message, Recipient};
use urbanstream_schema::VehicleId;

use crate::commands::{Deliver, DeviceConnected, DeviceDisconnected};
use crate::entity::{EntityKey, IngestReadings};

/// Identifies one connection, so that a late `ConnectionEnded` from a replaced connection
/// does not unregister its successor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnectionId(pub u64);

impl ConnectionId {
    pub fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// How the registry reaches a live connection of any adapter.
#[derive(Clone)]
pub struct ConnectionHandle {
    pub id: ConnectionId,
    pub close: Recipient<CloseConnection>,
    /// How commands reach the device over this connection, when its protocol has them.
    pub deliver: Option<Recipient<Deliver>>,
}

/// Why a connection is told to close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The same device logged in on a newer connection.
    Replaced,
    Shutdown,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Replaced => "replaced",
            Self::Shutdown => "shutdown",
        }
    }
}

#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct CloseConnection(pub CloseReason);

/// A device presents itself. Connection-oriented adapters pass their handle; datagrams
/// pass none.
#[derive(Message)]
#[rtype(result = "Result<DeviceGrant, LoginRefused>")]
pub struct AuthorizeDevice {
    pub key: EntityKey,
    pub connection: Option<ConnectionHandle>,
}

/// Where an accepted device's readings go.
#[derive(Clone)]
pub struct DeviceGrant {
    pub entity: Recipient<IngestReadings>,
    /// The device model, as registered (an adapter reads its wire by it).
    pub model: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginRefused {
    #[error("{0} is not registered")]
    Unknown(EntityKey),
    #[error("registration not stored: {0}")]
    Storage(String),
    #[error("no entity factory for this kind of device")]
    NoFactory,
}

/// A connection closed.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ConnectionEnded {
    pub key: EntityKey,
    pub connection: ConnectionId,
}

/// Stops the registry; it tells every open connection to close.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Shutdown;

/// A device was added or changed through the API.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct DeviceUpserted {
    pub key: EntityKey,
    pub id: i64,
    pub model: String,
}

/// A device was deleted: it may no longer log in; an open connection is closed.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct DeviceRemoved {
    pub key: EntityKey,
}

/// A device was put in a vehicle (or taken out, with `None`).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct DeviceAssigned {
    pub key: EntityKey,
    pub vehicle_id: Option<VehicleId>,
}

/// Who is told of every connection and its end (the command ledger).
#[derive(Message)]
#[rtype(result = "()")]
pub struct WatchConnections {
    pub connected: Recipient<DeviceConnected>,
    pub disconnected: Recipient<DeviceDisconnected>,
}
