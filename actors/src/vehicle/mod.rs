//! The entity of one tracker and the vehicle it rides in: live state, device-time ordering
//! of readings, motion and trips, geofence membership, route progress.

mod actor;
mod factory;
pub mod logic;
mod messages;
pub mod motion;
pub mod rows;

pub use actor::{TrackerActor, TrackerSettings};
pub use factory::{ProfileOf, TrackerFactory};
pub use logic::LiveState;
pub use messages::VehicleSnapshot;
pub use motion::MotionSettings;
