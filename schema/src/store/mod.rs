//! The database: PostgreSQL (diesel-async over a bb8 pool) or an embedded SQLite file,
//! chosen by one URL. Both run the same migrations' meaning and answer the same queries.

/// Runs one diesel query on whichever backend: `|c| query.method(c)`. The same expression is
/// compiled against diesel-async (PostgreSQL) and diesel (SQLite, on its worker thread).
macro_rules! on_db {
    ($store:expr, |$c:ident| $body:expr) => {
        match $store {
            Store::Postgres(s) => {
                let mut conn = s.conn().await?;
                let $c = &mut *conn;
                #[allow(unused_imports)]
                use diesel_async::RunQueryDsl;
                ($body).await.map_err(DbError::from)
            }
            Store::Sqlite(s) => {
                s.run(move |$c| {
                    #[allow(unused_imports)]
                    use diesel::RunQueryDsl;
                    ($body).map_err(DbError::from)
                })
                .await
            }
        }
    };
}

mod auth;
pub mod batch;
mod crud;
mod edge;
mod geofences;
mod network;
mod operations;
mod people;
pub mod pg_connect;
mod postgres;
mod quarantine;
mod reports;
mod robot;
mod sqlite;
mod sqlite_history;

use std::path::PathBuf;
use std::sync::Arc;

use crate::redact::redact;

pub use auth::AuditFilter;
pub use crud::is_conflict;
pub use edge::{DetectionFilter, LogFilter, EDGE_NODE_KIND, EDGE_NODE_MODEL};
pub use network::Network;
pub use operations::{AckOutcome, AlertFilter, ACTIVE_ACK, ACTIVE_UNACK, CLEARED};
pub use people::{DetectionCount, PersonFilter, SESSION_PAUSED, SESSION_RUNNING, SESSION_STOPPED};
pub use postgres::PgStore;
pub use quarantine::QuarantineFilter;
pub use reports::{TripTotals, Window, SPEED_BANDS};
pub use robot::{robot_identifier, ROBOT_KIND};
pub use sqlite::SqliteStore;

pub use batch::{Batch, Departure};

/// A database failure; `kind()` is a bounded label for logs and metrics.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    // Messages quote what the drivers said, which may hold a URL: shown redacted.
    #[error("database URL `{0}` is neither postgres://… nor sqlite://…")]
    BadUrl(String),
    #[error("cannot connect: {}", redact(.0))]
    Connect(String),
    #[error("connection pool: {}", redact(.0))]
    Pool(String),
    #[error("migrations: {}", redact(.0))]
    Migration(String),
    #[error("query: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("copy: {}", redact(.0))]
    Copy(String),
    #[error("database worker stopped")]
    Closed,
}

impl DbError {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::BadUrl(_) => "bad_url",
            Self::Connect(_) => "connect",
            Self::Pool(_) => "pool",
            Self::Migration(_) => "migration",
            Self::Query(_) => "query",
            Self::Copy(_) => "copy",
            Self::Closed => "closed",
        }
    }
}

/// Which database a URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbUrl {
    Postgres(String),
    Sqlite(PathBuf),
}

impl DbUrl {
    pub fn parse(url: &str) -> Result<Self, DbError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(url.to_owned()))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(DbError::BadUrl(crate::redact::redact(url)));
            }
            Ok(Self::Sqlite(PathBuf::from(path)))
        } else {
            Err(DbError::BadUrl(crate::redact::redact(url)))
        }
    }
}

/// The store behind `database.url`. Cheap to clone.
#[derive(Clone)]
pub enum Store {
    Postgres(PgStore),
    Sqlite(SqliteStore),
}

impl Store {
    /// Connects and runs pending migrations.
    pub async fn open(url: &str, pool_size: u32) -> Result<Self, DbError> {
        match DbUrl::parse(url)? {
            DbUrl::Postgres(u) => PgStore::open(&u, pool_size).await.map(Self::Postgres),
            DbUrl::Sqlite(p) => SqliteStore::open(p).await.map(Self::Sqlite),
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "postgres",
            Self::Sqlite(_) => "sqlite",
        }
    }

    /// Writes a batch in one transaction. A telemetry row whose (device, device time) is
    /// already stored is skipped, and so is an event already stored (with the rows it
    /// implies), so a retransmit is stored once. Returns the telemetry rows newly written.
    pub async fn write(&self, batch: impl Into<Arc<Batch>>) -> Result<usize, DbError> {
        let batch = batch.into();
        match self {
            Self::Postgres(s) => s.write(batch).await,
            Self::Sqlite(s) => s.write(batch).await,
        }
    }

    /// Removes telemetry older than `cutoff_ms`: whole daily partitions on PostgreSQL.
    /// Returns what was dropped (partitions or rows).
    pub async fn drop_telemetry_before(&self, cutoff_ms: i64) -> Result<u64, DbError> {
        match self {
            Self::Postgres(s) => {
                s.drop_partitions_before(postgres::TELEMETRY_TABLES, cutoff_ms)
                    .await
            }
            Self::Sqlite(s) => s.delete_before(cutoff_ms).await,
        }
    }

    /// Removes detections older than `cutoff_ms`: whole daily partitions on PostgreSQL.
    pub async fn drop_detections_before(&self, cutoff_ms: i64) -> Result<u64, DbError> {
        match self {
            Self::Postgres(s) => {
                s.drop_partitions_before(postgres::DETECTION_TABLES, cutoff_ms)
                    .await
            }
            Self::Sqlite(s) => {
                s.run(move |c| {
                    use crate::schema::detections;
                    use diesel::{ExpressionMethods, QueryDsl, RunQueryDsl};
                    let n =
                        diesel::delete(detections::table.filter(detections::time_ms.lt(cutoff_ms)))
                            .execute(c)?;
                    Ok(n as u64)
                })
                .await
            }
        }
    }

    /// Removes robot telemetry older than `cutoff_ms` (whole daily partitions on PostgreSQL)
    /// and safety events older than it.
    pub async fn drop_robot_history_before(&self, cutoff_ms: i64) -> Result<u64, DbError> {
        use crate::schema::safety_events;
        use diesel::{ExpressionMethods, QueryDsl};
        let dropped = match self {
            Self::Postgres(s) => {
                s.drop_partitions_before(postgres::ROBOT_TELEMETRY_TABLES, cutoff_ms)
                    .await?
            }
            Self::Sqlite(s) => {
                s.run(move |c| {
                    use crate::schema::robot_telemetry;
                    use diesel::RunQueryDsl;
                    let n = diesel::delete(
                        robot_telemetry::table.filter(robot_telemetry::time_ms.lt(cutoff_ms)),
                    )
                    .execute(c)?;
                    Ok(n as u64)
                })
                .await?
            }
        };
        on_db!(self, |c| diesel::delete(
            safety_events::table.filter(safety_events::time_ms.lt(cutoff_ms))
        )
        .execute(c))?;
        Ok(dropped)
    }

    /// A trivial round trip, for readiness.
    pub async fn ping(&self) -> Result<(), DbError> {
        match self {
            Self::Postgres(s) => s.ping().await,
            Self::Sqlite(s) => s.ping().await,
        }
    }
}

/// Milliseconds in a day; telemetry partitions are whole UTC days.
pub const DAY_MS: i64 = 86_400_000;

/// `NotFound` becomes `None`.
pub(crate) fn optional<T>(r: Result<T, DbError>) -> Result<Option<T>, DbError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(DbError::Query(diesel::result::Error::NotFound)) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_backend() {
        assert_eq!(
            DbUrl::parse("postgres://localhost/x").unwrap(),
            DbUrl::Postgres("postgres://localhost/x".into())
        );
        assert_eq!(
            DbUrl::parse("sqlite://data/u.db").unwrap(),
            DbUrl::Sqlite("data/u.db".into())
        );
        assert!(matches!(DbUrl::parse("mysql://x"), Err(DbError::BadUrl(_))));
        assert!(matches!(DbUrl::parse("sqlite://"), Err(DbError::BadUrl(_))));
    }
}
