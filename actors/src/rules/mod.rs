//! Rules over live telemetry: geofences first.

pub mod geofence;

pub use geofence::{FenceDef, FenceEvent, FenceIndex, FenceTracker, Shape, SharedFences};
pub mod geojson;
