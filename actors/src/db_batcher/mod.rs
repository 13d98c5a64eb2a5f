//! The database batcher: group commit of telemetry rows. Every caller's reply waits for the
//! transaction that holds its rows, which is what lets a session acknowledge a frame only
//! once its records are durable.

mod actor;
mod messages;

pub use actor::{BatcherSettings, DbBatcherActor};
pub use messages::{PersistError, PersistTelemetry, RestartActor};
