//! The embedded store: one SQLite file in WAL mode, driven by a dedicated thread so that
//! no query ever blocks an async thread.

use std::path::PathBuf;
use std::sync::Arc;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use tokio::sync::{mpsc, oneshot};

use super::sqlite_history::{History, Limits};
use super::Batch;
use super::DbError;
use crate::schema::{events, stop_arrivals, trips, vehicle_stops};

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");

/// The worker thread's own: its connection and the history's staging state.
struct Worker {
    conn: SqliteConnection,
    history: History,
}

type Job = Box<dyn FnOnce(&mut Worker) + Send>;

/// Jobs run between two steps of a history move while jobs are waiting.
const JOBS_PER_MOVE_STEP: usize = 4;

/// Handle to the SQLite worker thread. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    jobs: mpsc::Sender<Job>,
}

impl SqliteStore {
    /// Opens (creating it and its directory if needed) and migrates the database file.
    pub async fn open(path: PathBuf) -> Result<Self, DbError> {
        let (ready_tx, ready_rx) = oneshot::channel();
        let (jobs, rx) = mpsc::channel::<Job>(1024);
        std::thread::Builder::new()
            .name("sqlite-store".into())
            .spawn(move || {
                let opened = connect(&path).and_then(|mut conn| {
                    let history = History::open(&mut conn, Limits::default())?;
                    Ok(Worker { conn, history })
                });
                match opened {
                    Ok(w) => {
                        let _ = ready_tx.send(Ok(()));
                        work(w, rx);
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
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
        self.run_worker(move |w| f(&mut w.conn)).await
    }

    async fn run_worker<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Worker) -> Result<T, DbError> + Send + 'static,
    ) -> Result<T, DbError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |w| {
            let _ = tx.send(f(w));
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_closed| DbError::Closed)?;
        rx.await.map_err(|_closed| DbError::Closed)?
    }

    pub async fn write(&self, batch: Arc<Batch>) -> Result<usize, DbError> {
        self.run_worker(move |w| {
            let d = &*batch;
            let Worker { conn, history } = w;
            let (written, staged) = conn.immediate_transaction(|c| {
                // Prepared statements, executed per row inside one transaction: per-row
                // execution in a transaction costs microseconds.
                let (written, staged) = history.write(c, &d.telemetry, &d.can)?;
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
                write_edge(c, d)?;
                diesel::QueryResult::Ok((written, staged))
            })?;
            history.committed(staged);
            Ok(written)
        })
        .await
    }

    /// Deletes telemetry and CAN rows older than `cutoff_ms`; returns the telemetry rows.
    pub async fn delete_before(&self, cutoff_ms: i64) -> Result<u64, DbError> {
        self.run_worker(move |w| Ok(w.history.delete_before(&mut w.conn, cutoff_ms)?))
            .await
    }

    /// Deletes a device's telemetry and CAN rows.
    pub async fn delete_history(&self, device_id: i64) -> Result<u64, DbError> {
        self.run_worker(move |w| Ok(w.history.delete_device(&mut w.conn, device_id)?))
            .await
    }

    pub async fn ping(&self) -> Result<(), DbError> {
        self.run(|conn| Ok(conn.batch_execute("SELECT 1")?)).await
    }
}

/// Edge nodes' rows of a batch, in its transaction.
fn write_edge(c: &mut SqliteConnection, d: &Batch) -> diesel::QueryResult<()> {
    use crate::schema::{
        consensus_rounds, corroborated_detections, detections, edge_nodes, mqtt_dead_letters,
        node_samples, system_logs, system_metrics,
    };
    for r in &d.robot_telemetry {
        diesel::insert_or_ignore_into(crate::schema::robot_telemetry::table)
            .values(r)
            .execute(c)?;
    }
    for e in &d.safety_events {
        diesel::insert_into(crate::schema::safety_events::table)
            .values(e)
            .execute(c)?;
    }
    for r in &d.detections {
        diesel::insert_or_ignore_into(detections::table)
            .values(r)
            .execute(c)?;
    }
    for r in &d.node_samples {
        diesel::insert_or_ignore_into(node_samples::table)
            .values(r)
            .execute(c)?;
    }
    for n in &d.node_states {
        let row = edge_nodes::table.filter(edge_nodes::id.eq(&n.node_id));
        diesel::update(row)
            .set((
                edge_nodes::status.eq(&n.status),
                edge_nodes::cpu_usage.eq(n.cpu_usage),
                edge_nodes::memory_usage.eq(n.memory_usage),
                edge_nodes::network_status.eq(&n.network_status),
                edge_nodes::energy_consumption.eq(n.energy_consumption),
                edge_nodes::updated_ms.eq(n.updated_ms),
            ))
            .execute(c)?;
        if let Some(boot) = n.boot {
            diesel::update(row)
                .set(edge_nodes::boot.eq(boot))
                .execute(c)?;
        }
        if let Some(at) = n.last_heartbeat_ms {
            diesel::update(
                row.filter(
                    edge_nodes::last_heartbeat_ms
                        .lt(at)
                        .or(edge_nodes::last_heartbeat_ms.is_null()),
                ),
            )
            .set(edge_nodes::last_heartbeat_ms.eq(at))
            .execute(c)?;
        }
    }
    for r in &d.consensus {
        diesel::insert_or_ignore_into(consensus_rounds::table)
            .values(r)
            .execute(c)?;
    }
    for r in &d.system_metrics {
        diesel::insert_or_ignore_into(system_metrics::table)
            .values(r)
            .execute(c)?;
    }
    for r in &d.system_logs {
        diesel::insert_into(system_logs::table)
            .values(r)
            .execute(c)?;
    }
    for r in &d.corroborations {
        diesel::insert_into(corroborated_detections::table)
            .values(r)
            .execute(c)?;
    }
    write_people(c, &d.people)?;
    for r in &d.dead_letters {
        diesel::insert_into(mqtt_dead_letters::table)
            .values(r)
            .execute(c)?;
    }
    for q in &d.quarantine {
        diesel::insert_into(crate::schema::quarantine::table)
            .values(q)
            .execute(c)?;
    }
    Ok(())
}

/// Tracked people's rows, in the batch's transaction: identities and sightings are upserted
/// (their ends move on), points and zone events inserted once.
fn write_people(
    c: &mut SqliteConnection,
    p: &crate::models::PeopleRows,
) -> diesel::QueryResult<()> {
    use crate::schema::{trajectory_points, zone_events};
    use diesel::sql_types::{BigInt, Double, Integer, Nullable, Text};
    for i in &p.identities {
        diesel::sql_query(
            "INSERT INTO person_identities (session_id, global_id, first_seen_ms, last_seen_ms, cameras, distance_m, merged_into) \
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, global_id) DO UPDATE SET \
             first_seen_ms = MIN(first_seen_ms, excluded.first_seen_ms), \
             last_seen_ms = MAX(last_seen_ms, excluded.last_seen_ms), \
             cameras = excluded.cameras, distance_m = MAX(distance_m, excluded.distance_m), \
             merged_into = COALESCE(excluded.merged_into, merged_into)",
        )
        .bind::<BigInt, _>(i.session_id)
        .bind::<BigInt, _>(i.global_id)
        .bind::<BigInt, _>(i.first_seen_ms)
        .bind::<BigInt, _>(i.last_seen_ms)
        .bind::<Text, _>(&i.cameras)
        .bind::<Double, _>(i.distance_m)
        .bind::<Nullable<BigInt>, _>(i.merged_into)
        .execute(c)?;
    }
    for a in &p.appearances {
        diesel::sql_query(
            "INSERT INTO person_appearances (session_id, global_id, vector, updated_ms) VALUES (?, ?, ?, ?) \
             ON CONFLICT (session_id, global_id) DO UPDATE SET vector = excluded.vector, updated_ms = excluded.updated_ms",
        )
        .bind::<BigInt, _>(a.session_id)
        .bind::<BigInt, _>(a.global_id)
        .bind::<Text, _>(&a.vector)
        .bind::<BigInt, _>(a.updated_ms)
        .execute(c)?;
    }
    for r in &p.points {
        diesel::insert_or_ignore_into(trajectory_points::table)
            .values(r)
            .execute(c)?;
    }
    for s in &p.sightings {
        diesel::sql_query(
            "INSERT INTO person_sightings (session_id, global_id, camera, first_ms, last_ms) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (session_id, global_id, camera, first_ms) DO UPDATE SET last_ms = MAX(last_ms, excluded.last_ms)",
        )
        .bind::<BigInt, _>(s.session_id)
        .bind::<BigInt, _>(s.global_id)
        .bind::<Integer, _>(s.camera)
        .bind::<BigInt, _>(s.first_ms)
        .bind::<BigInt, _>(s.last_ms)
        .execute(c)?;
    }
    for e in &p.zone_events {
        diesel::insert_or_ignore_into(zone_events::table)
            .values(e)
            .execute(c)?;
    }
    Ok(())
}

/// The worker's loop: jobs in order; a due history move runs one step at a time, when no
/// job waits or after every few jobs, so that it neither stalls writes nor falls behind.
fn work(mut w: Worker, mut rx: mpsc::Receiver<Job>) {
    use tokio::sync::mpsc::error::TryRecvError;
    let mut since_step = 0;
    loop {
        let job = if w.history.has_work() {
            match rx.try_recv() {
                Ok(job) => Some(job),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => return,
            }
        } else {
            match rx.blocking_recv() {
                Some(job) => Some(job),
                None => return,
            }
        };
        let idle = job.is_none();
        if let Some(job) = job {
            job(&mut w);
            since_step += 1;
        }
        if (idle || since_step >= JOBS_PER_MOVE_STEP) && w.history.has_work() {
            since_step = 0;
            if let Err(e) = w.history.move_step(&mut w.conn) {
                tracing::warn!(error = %e, "moving staged history into the kept tables failed; retrying");
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        }
    }
}

pub(super) fn connect(path: &std::path::Path) -> Result<SqliteConnection, DbError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| DbError::Connect(format!("creating {}: {e}", dir.display())))?;
    }
    let url = path.to_string_lossy().into_owned();
    let mut conn =
        SqliteConnection::establish(&url).map_err(|e| DbError::Connect(format!("{url}: {e}")))?;
    // WAL for concurrent readers; FULL so that a committed batch survives power loss, since
    // its records are acknowledged to devices right after. A 32 MiB page cache holds the
    // history's staging slot being moved and the pages a move step dirties.
    conn.batch_execute(
        "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -32768;",
    )?;
    conn.run_pending_migrations(SQLITE_MIGRATIONS)
        .map_err(|e| DbError::Migration(e.to_string()))?;
    Ok(conn)
}
