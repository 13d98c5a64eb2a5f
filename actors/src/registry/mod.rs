//! The device registry: who may log in, and the entity actors it starts on demand and
//! supervises.

mod actor;
mod messages;

pub use actor::{
    DeviceEntry, DeviceRegistryActor, RegistrySettings, VehicleDirectory, WatchLogins,
};
pub use messages::{
    AuthorizeDevice, DeviceAssigned, DeviceGrant, DeviceRemoved, DeviceUpserted, FleetSnapshot,
    GetVehicleSnapshot, LoginRefused, SendDeviceCommand, SessionEnded, Shutdown, VehicleSnapshots,
};
