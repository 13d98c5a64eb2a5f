use actix::Message;
use urbanstream_schema::store::Batch;

use crate::errors::StorageError;

/// Rows to store; the reply comes once they are committed.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), StorageError>")]
pub struct Persist(pub Batch);

/// Stops the actor; its supervisor starts it again with empty state. Callers whose rows were
/// waiting get an error (their devices resend). For operations, and for supervision tests.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct RestartActor;
