//! The device registry: who may log in, and the entity actors it starts on demand (through
//! a factory per kind) and supervises. It knows no protocol: adapters present an
//! [`EntityKey`](crate::entity::EntityKey) and a connection handle, and get back where the
//! device's readings go.

mod actor;
mod directory;
mod messages;

pub use actor::{DeviceEntry, DeviceRegistryActor, RegistrySettings};
pub use directory::Directory;
pub use messages::{
    AuthorizeDevice, CloseConnection, CloseReason, ConnectionEnded, ConnectionHandle, ConnectionId,
    DeviceAssigned, DeviceGrant, DeviceRemoved, DeviceUpserted, LoginRefused, Shutdown,
    WatchConnections,
};
