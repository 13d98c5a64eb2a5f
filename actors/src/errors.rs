//! Errors that cross actor boundaries: typed, cloneable (a reply may go to several waiters)
//! and with a bounded `kind()` for metric labels.

use urbanstream_schema::store::DbError;

/// Why rows were not stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    #[error("the write queue is full")]
    Overloaded,
    /// The database refused or failed; `kind` is [`DbError::kind`].
    #[error("the database did not take the rows ({kind}): {message}")]
    Database { kind: &'static str, message: String },
    /// The writer restarted with the batch unwritten.
    #[error("the batch was lost before it was written")]
    Lost,
}

impl StorageError {
    /// Bounded, for metric labels.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Overloaded => "overloaded",
            Self::Database { kind, .. } => kind,
            Self::Lost => "lost",
        }
    }
}

impl From<&DbError> for StorageError {
    fn from(e: &DbError) -> Self {
        Self::Database {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}
