//! The database batcher: group commit of rows of every kind (`store::Batch`). Every
//! caller's reply waits for the transaction that holds its rows, which is what lets an
//! adapter acknowledge a frame only once its readings are durable.

mod actor;
mod messages;

pub use actor::{BatcherSettings, DbBatcherActor};
pub use messages::{Persist, RestartActor};
