//! The embedded store: one SQLite file in WAL mode, driven by a dedicated thread so that
//! no query ever blocks an async thread.

use std::path::PathBuf;
use std::sync::Arc;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use tokio::sync::{mpsc, oneshot};

use super::Batch;
use super::DbError;
use crate::schema::{can_data, events, stop_arrivals, telemetry, trips, vehicle_stops};

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");

type Job = Box<dyn FnOnce(&mut SqliteConnection) + Send>;

/// Handle to the SQLite worker thread. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    jobs: mpsc::Sender<Job>,
}

impl SqliteStore {
    /// Opens (creating it and its directory if needed) and migrates the database file.
    pub async fn open(path: PathBuf) -> Result<Self, DbError> {
        let (ready_tx, ready_rx) = oneshot::channel();
        let (jobs, mut rx) = mpsc::channel::<Job>(1024);
        std::thread::Builder::new()
            .name("sqlite-store".into())
            .spawn(move || {
                let mut conn = match connect(&path) {
                    Ok(c) => {
                        let _ = ready_tx.send(Ok(()));
                        c
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                while let Some(job) = rx.blocking_recv() {
                    job(&mut conn);
                }
            })
            .map_err(|e| DbError::Connect(format!("starting the SQLite thread: {e}")))?;
        ready_rx.await.map_err(|_closed| DbError::Closed)??;
        Ok(Self { jobs })
    }

    pub(crate) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut SqliteConnection) -> Result<T, DbError> + Send + 'static,
    ) -> Result<T, DbError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = tx.send(f(conn));
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_closed| DbError::Closed)?;
        rx.await.map_err(|_closed| DbError::Closed)?
    }

    pub async fn write(&self, batch: Arc<Batch>) -> Result<usize, DbError> {
        self.run(move |conn| {
            let d = &*batch;
            conn.immediate_transaction(|c| {
                // One prepared statement, executed per row inside one transaction: SQLite
                // has no multi-row INSERT with a conflict clause in diesel, and per-row
                // execution in a transaction costs microseconds.
                let mut written = 0;
                for row in &d.telemetry {
                    written += diesel::insert_or_ignore_into(telemetry::table)
                        .values(row)
                        .execute(c)?;
                }
                for r in &d.can {
                    diesel::insert_or_ignore_into(can_data::table)
                        .values(r)
                        .execute(c)?;
                }
                for e in &d.events {
                    diesel::insert_or_ignore_into(events::table)
                        .values(e)
                        .execute(c)?;
                }
                for t in &d.trips {
                    diesel::insert_or_ignore_into(trips::table)
                        .values(t)
                        .execute(c)?;
                }
                for s in &d.stays {
                    diesel::insert_or_ignore_into(vehicle_stops::table)
                        .values(s)
                        .execute(c)?;
                }
                for a in &d.arrivals {
                    diesel::insert_or_ignore_into(stop_arrivals::table)
                        .values(a)
                        .execute(c)?;
                }
                for dep in &d.departures {
                    diesel::update(
                        stop_arrivals::table
                            .filter(stop_arrivals::device_id.eq(dep.device_id))
                            .filter(stop_arrivals::stop_id.eq(dep.stop_id))
                            .filter(stop_arrivals::arrived_ms.eq(dep.arrived_ms)),
                    )
                    .set((
                        stop_arrivals::departed_ms.eq(dep.departed_ms),
                        stop_arrivals::dwell_s.eq(dep.dwell_s),
                    ))
                    .execute(c)?;
                }
                Ok(written)
            })
        })
        .await
    }

    pub async fn delete_before(&self, cutoff_ms: i64) -> Result<u64, DbError> {
        self.run(move |conn| {
            conn.immediate_transaction(|c| {
                diesel::delete(can_data::table.filter(can_data::device_time_ms.lt(cutoff_ms)))
                    .execute(c)?;
                let n = diesel::delete(
                    telemetry::table.filter(telemetry::device_time_ms.lt(cutoff_ms)),
                )
                .execute(c)?;
                Ok(n as u64)
            })
        })
        .await
    }

    pub async fn ping(&self) -> Result<(), DbError> {
        self.run(|conn| Ok(conn.batch_execute("SELECT 1")?)).await
    }
}

fn connect(path: &std::path::Path) -> Result<SqliteConnection, DbError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| DbError::Connect(format!("creating {}: {e}", dir.display())))?;
    }
    let url = path.to_string_lossy().into_owned();
    let mut conn =
        SqliteConnection::establish(&url).map_err(|e| DbError::Connect(format!("{url}: {e}")))?;
    // WAL for concurrent readers; FULL so that a committed batch survives power loss, since
    // its records are acknowledged to devices right after.
    conn.batch_execute(
        "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
    )?;
    conn.run_pending_migrations(SQLITE_MIGRATIONS)
        .map_err(|e| DbError::Migration(e.to_string()))?;
    Ok(conn)
}
