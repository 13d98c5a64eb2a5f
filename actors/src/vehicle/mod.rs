//! The entity actor of one tracked vehicle: live state, device-time ordering of records.

mod actor;
pub mod logic;
mod messages;
pub mod motion;

pub use actor::{Published, SnapshotSlot, VehicleActor, VehicleSettings};
pub use logic::LiveState;
pub use messages::{
    GetSnapshot, IdleFor, IngestOutcome, IngestRecords, Retire, SetVehicle, TelemetryAccepted,
    TelemetryRecord, Transport, VehicleError, VehicleSnapshot,
};
pub use motion::{Motion, MotionSettings, VehicleEvent};
