use actix::Message;
use urbanstream_schema::models::{CanRow, NewEvent, TelemetryRow};

/// Rows and events to store; the reply comes once they are committed.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), PersistError>")]
pub struct PersistTelemetry {
    pub rows: Vec<TelemetryRow>,
    pub can: Vec<CanRow>,
    pub events: Vec<NewEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersistError {
    #[error("the write queue is full")]
    Overloaded,
    #[error("the database did not take the rows: {0}")]
    Failed(String),
}

/// Stops the actor; its supervisor starts it again with empty state. Callers whose rows were
/// waiting get an error (their devices resend). For operations, and for supervision tests.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct RestartActor;
