//! Database schema, models, queries and the domain types shared by every urbanstream crate.
//!
//! This crate knows nothing of actix: it can be used by tools, workers and tests alike.

pub mod ids;
pub mod models;
pub mod redact;
pub mod schema;
pub mod store;
pub mod test_db;

pub use ids::{
    AlertId, BusId, DeviceId, GeofenceId, Imei, ImeiError, NodeId, NodeIdError, RobotId, RouteId,
    StopId, VehicleId,
};
