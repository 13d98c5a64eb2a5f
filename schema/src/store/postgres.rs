//! PostgreSQL through diesel-async and a bb8 pool. Telemetry lives in daily range
//! partitions, created on demand before a batch is written and dropped whole by retention.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex};

use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::bb8::Pool;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::pg_connect::PgConnector;
use super::Batch;
use super::{DbError, DAY_MS};
use crate::models::{CanRow, DetectionRow, TelemetryRow};

pub const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

type PgPool = Pool<AsyncPgConnection>;

/// Advisory lock key held while migrating.
const MIGRATION_LOCK: i64 = 0x7572_6261_6e73;

/// Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    connector: Arc<PgConnector>,
    /// Idle connections for COPY (diesel-async has no COPY; tokio-postgres does).
    copy_clients: Arc<tokio::sync::Mutex<Vec<tokio_postgres::Client>>>,
    /// (first table of a group, day) whose partitions are known to exist.
    partitions: Arc<Mutex<HashSet<(&'static str, i64)>>>,
}

/// Tables partitioned by day on their device time, together.
pub const TELEMETRY_TABLES: &[&str] = &["telemetry", "can_data"];
/// Detections, partitioned by day on their time, with a retention of their own.
pub const DETECTION_TABLES: &[&str] = &["detections"];
pub const ROBOT_TELEMETRY_TABLES: &[&str] = &["robot_telemetry"];

/// The partition of `table` for a UTC day.
pub fn partition_name(table: &str, day: i64) -> String {
    // 719,163 days from 0001-01-01 (CE day 1) to 1970-01-01.
    match i32::try_from(day + 719_163)
        .ok()
        .and_then(chrono::NaiveDate::from_num_days_from_ce_opt)
    {
        Some(date) => format!("{table}_{}", date.format("%Y%m%d")),
        None if day < 0 => format!("{table}_dm{}", day.unsigned_abs()),
        None => format!("{table}_d{day}"),
    }
}

#[derive(QueryableByName)]
struct PartitionBound {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    bound: String,
}

/// Upper bound of `FOR VALUES FROM ('a') TO ('b')`.
fn upper_bound(expr: &str) -> Option<i64> {
    let to = expr.split("TO (").nth(1)?;
    to.trim_end_matches(')')
        .trim_matches(|c| c == '\'' || c == ' ' || c == ')')
        .parse()
        .ok()
}

impl PgStore {
    pub async fn open(url: &str, pool_size: u32) -> Result<Self, DbError> {
        let connector = Arc::new(PgConnector::new(url)?);
        Self::migrate_with(&connector).await?;
        let mut config = ManagerConfig::default();
        let pool_connector = connector.clone();
        config.custom_setup = Box::new(move |_url| {
            let c = pool_connector.clone();
            Box::pin(async move { c.diesel().await })
        });
        let manager =
            AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, config);
        let pool = Pool::builder()
            .max_size(pool_size.max(1))
            .connection_timeout(std::time::Duration::from_secs(5))
            .build(manager)
            .await
            .map_err(|e| DbError::Pool(e.to_string()))?;
        Ok(Self {
            pool,
            connector,
            copy_clients: Arc::new(tokio::sync::Mutex::new(Vec::new())),
            partitions: Arc::new(Mutex::new(HashSet::new())),
        })
    }

    /// Applies pending migrations over one connection, closed when done.
    pub async fn migrate(url: &str) -> Result<(), DbError> {
        Self::migrate_with(&PgConnector::new(url)?).await
    }

    async fn migrate_with(connector: &PgConnector) -> Result<(), DbError> {
        let conn = connector
            .diesel()
            .await
            .map_err(|e| DbError::Connect(e.to_string()))?;
        tokio::task::spawn_blocking(move || -> Result<(), DbError> {
            let mut conn: AsyncConnectionWrapper<AsyncPgConnection> = conn.into();
            // Nodes starting together take turns: one migrates, the others then find
            // nothing pending.
            diesel::RunQueryDsl::execute(
                diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})")),
                &mut conn,
            )?;
            let migrated = conn
                .run_pending_migrations(PG_MIGRATIONS)
                .map(|_| ())
                .map_err(|e| DbError::Migration(e.to_string()));
            diesel::RunQueryDsl::execute(
                diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})")),
                &mut conn,
            )?;
            migrated
        })
        .await
        .map_err(|e| DbError::Migration(e.to_string()))?
    }

    pub(crate) async fn conn(
        &self,
    ) -> Result<bb8::PooledConnection<'_, AsyncDieselConnectionManager<AsyncPgConnection>>, DbError>
    {
        self.pool
            .get()
            .await
            .map_err(|e| DbError::Pool(e.to_string()))
    }

    /// Whether the partitions of every time are known to exist.
    fn all_known(
        &self,
        tables: &'static [&'static str],
        mut times: impl Iterator<Item = i64>,
    ) -> bool {
        let group = tables[0];
        let Ok(p) = self.partitions.lock() else {
            return false;
        };
        let mut last = None;
        times.all(|t| {
            let day = t.div_euclid(DAY_MS);
            if last == Some(day) {
                return true;
            }
            last = Some(day);
            p.contains(&(group, day))
        })
    }

    fn known(&self, group: &'static str, day: i64) -> bool {
        self.partitions
            .lock()
            .map(|p| p.contains(&(group, day)))
            .unwrap_or(false)
    }

    /// Creates the daily partitions of `tables` that rows at `times` (ms) need.
    async fn ensure_partitions(
        &self,
        conn: &mut AsyncPgConnection,
        tables: &'static [&'static str],
        times: impl Iterator<Item = i64>,
    ) -> Result<(), DbError> {
        let group = tables[0];
        let days: BTreeSet<i64> = times.map(|t| t.div_euclid(DAY_MS)).collect();
        for day in days {
            if self.known(group, day) {
                continue;
            }
            // The last day representable has no end: such a time is refused, not wrapped.
            let Some(end) = day.checked_add(1).and_then(|d| d.checked_mul(DAY_MS)) else {
                return Err(DbError::Copy(format!(
                    "time in day {day} is out of range for a partition of {group}"
                )));
            };
            for &table in tables {
                let sql = format!(
                    "CREATE TABLE IF NOT EXISTS {} PARTITION OF {table} FOR VALUES FROM ({}) TO ({end})",
                    partition_name(table, day),
                    day * DAY_MS,
                );
                if let Err(e) = diesel::sql_query(&sql).execute(conn).await {
                    // Another node may have created it at the same moment: check once more.
                    tracing::debug!("creating partition of {table} for day {day}: {e}; retrying");
                    diesel::sql_query(&sql).execute(conn).await?;
                }
            }
            if let Ok(mut p) = self.partitions.lock() {
                p.insert((group, day));
            }
        }
        Ok(())
    }

    /// Writes rows with binary COPY into a session-local staging table, then moves them
    /// with `INSERT … SELECT … ON CONFLICT DO NOTHING`, all in one transaction: COPY's speed
    /// with an idempotent result.
    pub async fn write(&self, batch: Arc<Batch>) -> Result<usize, DbError> {
        // A pooled connection only when a partition may be missing: the pool also serves
        // logins and the API, and a batch should not queue behind them for nothing.
        let telemetry = || batch.telemetry.iter().map(|r| r.device_time_ms);
        let detections = || batch.detections.iter().map(|r| r.time_ms);
        let robots = || batch.robot_telemetry.iter().map(|r| r.time_ms);
        if !self.all_known(TELEMETRY_TABLES, telemetry())
            || !self.all_known(DETECTION_TABLES, detections())
            || !self.all_known(ROBOT_TELEMETRY_TABLES, robots())
        {
            let mut conn = self.conn().await?;
            self.ensure_partitions(&mut conn, TELEMETRY_TABLES, telemetry())
                .await?;
            self.ensure_partitions(&mut conn, DETECTION_TABLES, detections())
                .await?;
            self.ensure_partitions(&mut conn, ROBOT_TELEMETRY_TABLES, robots())
                .await?;
        }
        let mut client = self.copy_client().await?;
        // Fast path: COPY straight into the table. Retransmits (rows already stored) make it
        // fail as a whole on the primary key; then the staging path skips them. Batches with
        // late rows, where retransmits are, take the staging path at once.
        let result = if batch.has_late() {
            copy_rows(&mut client, &batch, Target::Staging).await
        } else {
            match copy_rows(&mut client, &batch, Target::Direct).await {
                Err(CopyError::Duplicate) => copy_rows(&mut client, &batch, Target::Staging).await,
                other => other,
            }
        }
        .map_err(|e| match e {
            CopyError::Duplicate => DbError::Copy("duplicate key in staging path".into()),
            CopyError::Db(e) => e,
        });
        match result {
            Ok(n) => {
                self.copy_clients.lock().await.push(client);
                Ok(n)
            }
            // The connection may be broken: drop it rather than reuse it.
            Err(e) => Err(e),
        }
    }

    async fn copy_client(&self) -> Result<tokio_postgres::Client, DbError> {
        if let Some(c) = self.copy_clients.lock().await.pop() {
            if !c.is_closed() {
                return Ok(c);
            }
        }
        let client = self.connector.client().await?;
        client
            .batch_execute(
                "CREATE TEMP TABLE IF NOT EXISTS telemetry_stage (LIKE telemetry) ON COMMIT DELETE ROWS; \
                 CREATE TEMP TABLE IF NOT EXISTS can_stage (LIKE can_data) ON COMMIT DELETE ROWS; \
                 CREATE TEMP TABLE IF NOT EXISTS detections_stage (LIKE detections) ON COMMIT DELETE ROWS",
            )
            .await
            .map_err(pg_err)?;
        Ok(client)
    }

    /// Drops every daily partition of `tables` that ends at or before `cutoff_ms`.
    pub async fn drop_partitions_before(
        &self,
        tables: &'static [&'static str],
        cutoff_ms: i64,
    ) -> Result<u64, DbError> {
        let mut conn = self.conn().await?;
        let names: Vec<String> = tables.iter().map(|t| (*t).to_owned()).collect();
        let parts: Vec<PartitionBound> = diesel::sql_query(
            "SELECT c.relname::text AS name, pg_get_expr(c.relpartbound, c.oid) AS bound \
             FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent \
             WHERE p.relname = ANY($1) AND p.relnamespace = to_regnamespace(current_schema())::oid",
        )
        .bind::<diesel::sql_types::Array<Text>, _>(names)
        .load(&mut conn)
        .await?;
        let group = tables[0];
        let mut dropped = 0;
        for p in parts {
            if upper_bound(&p.bound).is_some_and(|upper| upper <= cutoff_ms) {
                diesel::sql_query(format!(
                    "DROP TABLE IF EXISTS \"{}\"",
                    p.name.replace('"', "")
                ))
                .execute(&mut conn)
                .await?;
                if let Ok(mut known) = self.partitions.lock() {
                    known.retain(|(g, d)| *g != group || (d + 1) * DAY_MS > cutoff_ms);
                }
                dropped += 1;
            }
        }
        Ok(dropped)
    }

    pub async fn ping(&self) -> Result<(), DbError> {
        let mut conn = self.conn().await?;
        diesel::sql_query("SELECT 1").execute(&mut conn).await?;
        Ok(())
    }
}

fn pg_err(e: tokio_postgres::Error) -> DbError {
    DbError::Copy(e.to_string())
}

const COPY_COLUMNS: &str = "device_id, device_time_ms, server_time_ms, lat, lon, altitude, speed_kmh, heading, \
    satellites, fix, hdop, ignition, movement, external_voltage_v, battery_voltage_v, gsm_signal, distance_m, late, io";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Direct,
    Staging,
}

enum CopyError {
    Duplicate,
    Db(DbError),
}

impl From<tokio_postgres::Error> for CopyError {
    fn from(e: tokio_postgres::Error) -> Self {
        if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) {
            Self::Duplicate
        } else {
            Self::Db(pg_err(e))
        }
    }
}

const CAN_COLUMNS: &str = "device_id, device_time_ms, engine_rpm, engine_hours_h, coolant_temp_c, \
    engine_load_pct, fuel_level_l, fuel_level_pct, fuel_used_l, fuel_rate_lph, vehicle_speed_kmh, \
    odometer_m, accelerator_pct, dtc_codes, doors, brake_active, cruise_control, check_engine, \
    door1_open, door2_open, door3_open";

/// One batch in one transaction: binary COPY of telemetry and CAN rows, straight into the
/// tables or (`Staging`) into session temp tables moved over with `ON CONFLICT DO NOTHING`.
async fn copy_rows(
    client: &mut tokio_postgres::Client,
    batch: &Batch,
    target: Target,
) -> Result<usize, CopyError> {
    let (rows, can, events) = (&batch.telemetry, &batch.can, &batch.events);
    let tx = client.transaction().await?;
    let (telemetry, can_table) = match target {
        Target::Direct => ("telemetry", "can_data"),
        Target::Staging => ("telemetry_stage", "can_stage"),
    };
    let copied = copy_telemetry(&tx, telemetry, rows).await?;
    copy_can(&tx, can_table, can).await?;
    let detections_table = match target {
        Target::Direct => "detections",
        Target::Staging => "detections_stage",
    };
    copy_detections(&tx, detections_table, &batch.detections).await?;
    write_edge(&tx, batch).await?;
    if !events.is_empty() {
        let device: Vec<i64> = events.iter().map(|e| e.device_id).collect();
        let time: Vec<i64> = events.iter().map(|e| e.time_ms).collect();
        let kind: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        let data: Vec<&str> = events.iter().map(|e| e.data.as_str()).collect();
        let subject: Vec<&str> = events.iter().map(|e| e.subject.as_str()).collect();
        tokio_postgres::Transaction::execute(&tx,
            "INSERT INTO events (device_id, time_ms, kind, data, subject) \
             SELECT * FROM unnest($1::int8[], $2::int8[], $3::text[], $4::text[], $5::text[]) ON CONFLICT DO NOTHING",
            &[&device, &time, &kind, &data, &subject],
        )
        .await?;
    }
    write_derived(&tx, batch).await?;
    if target == Target::Direct {
        tx.commit().await?;
        return Ok(copied);
    }
    let written = tokio_postgres::Transaction::execute(
            &tx,
            &format!(
                "INSERT INTO telemetry ({COPY_COLUMNS}) SELECT {COPY_COLUMNS} FROM telemetry_stage ON CONFLICT DO NOTHING"
            ),
            &[],
        )
        .await?;
    if !can.is_empty() {
        tokio_postgres::Transaction::execute(&tx,
            &format!("INSERT INTO can_data ({CAN_COLUMNS}) SELECT {CAN_COLUMNS} FROM can_stage ON CONFLICT DO NOTHING"),
            &[],
        )
        .await?;
    }
    if !batch.detections.is_empty() {
        tokio_postgres::Transaction::execute(&tx,
            &format!("INSERT INTO detections ({DETECTION_COLUMNS}) SELECT {DETECTION_COLUMNS} FROM detections_stage ON CONFLICT DO NOTHING"),
            &[],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(usize::try_from(written).unwrap_or(usize::MAX))
}

const DETECTION_COLUMNS: &str =
    "node_id, time_ms, boot, seq, idx, received_ms, stream_id, object_type, \
    confidence, bbox_x, bbox_y, bbox_width, bbox_height, bbox_normalized, location, metadata";

async fn copy_detections(
    tx: &tokio_postgres::Transaction<'_>,
    table: &str,
    rows: &[DetectionRow],
) -> Result<(), CopyError> {
    use tokio_postgres::binary_copy::BinaryCopyInWriter;
    use tokio_postgres::types::{ToSql, Type};
    const TYPES: [Type; 16] = [
        Type::TEXT,
        Type::INT8,
        Type::INT8,
        Type::INT8,
        Type::INT4,
        Type::INT8,
        Type::TEXT,
        Type::TEXT,
        Type::FLOAT8,
        Type::FLOAT8,
        Type::FLOAT8,
        Type::FLOAT8,
        Type::FLOAT8,
        Type::BOOL,
        Type::TEXT,
        Type::TEXT,
    ];
    if rows.is_empty() {
        return Ok(());
    }
    let sink = tx
        .copy_in(&format!(
            "COPY {table} ({DETECTION_COLUMNS}) FROM STDIN BINARY"
        ))
        .await?;
    let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, &TYPES));
    for r in rows {
        let values: [&(dyn ToSql + Sync); 16] = [
            &r.node_id,
            &r.time_ms,
            &r.boot,
            &r.seq,
            &r.idx,
            &r.received_ms,
            &r.stream_id,
            &r.object_type,
            &r.confidence,
            &r.bbox_x,
            &r.bbox_y,
            &r.bbox_width,
            &r.bbox_height,
            &r.bbox_normalized,
            &r.location,
            &r.metadata,
        ];
        writer.as_mut().write(&values).await?;
    }
    writer.finish().await?;
    Ok(())
}

/// Edge nodes' samples, state, consensus rounds, system metrics, logs and dead letters, in
/// the batch's transaction.
async fn write_edge(tx: &tokio_postgres::Transaction<'_>, d: &Batch) -> Result<(), CopyError> {
    if !d.node_samples.is_empty() {
        let node: Vec<&str> = d.node_samples.iter().map(|r| r.node_id.as_str()).collect();
        let kind: Vec<&str> = d.node_samples.iter().map(|r| r.kind.as_str()).collect();
        let time: Vec<i64> = d.node_samples.iter().map(|r| r.time_ms).collect();
        let data: Vec<&str> = d.node_samples.iter().map(|r| r.data.as_str()).collect();
        tokio_postgres::Transaction::execute(tx,
            "INSERT INTO node_samples (node_id, kind, time_ms, data) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[]) ON CONFLICT DO NOTHING",
            &[&node, &kind, &time, &data],
        )
        .await?;
    }
    for n in &d.node_states {
        tokio_postgres::Transaction::execute(tx,
            "UPDATE edge_nodes SET status = $2, cpu_usage = $3, memory_usage = $4, network_status = $5, \
             energy_consumption = $6, boot = COALESCE($7, boot), \
             last_heartbeat_ms = GREATEST(COALESCE($8, last_heartbeat_ms), last_heartbeat_ms), updated_ms = $9 \
             WHERE id = $1",
            &[&n.node_id, &n.status, &n.cpu_usage, &n.memory_usage, &n.network_status,
              &n.energy_consumption, &n.boot, &n.last_heartbeat_ms, &n.updated_ms],
        )
        .await?;
    }
    for c in &d.consensus {
        tokio_postgres::Transaction::execute(tx,
            "INSERT INTO consensus_rounds (node_id, round_number, time_ms, success, participants, duration_ms, \
             votes, result, computed_result, agrees) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT DO NOTHING",
            &[&c.node_id, &c.round_number, &c.time_ms, &c.success, &c.participants, &c.duration_ms,
              &c.votes, &c.result, &c.computed_result, &c.agrees],
        )
        .await?;
    }
    for m in &d.system_metrics {
        tokio_postgres::Transaction::execute(tx,
            "INSERT INTO system_metrics (time_ms, total_nodes, active_nodes, total_detections, average_latency, \
             bandwidth_saved, energy_saved, metadata) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            &[&m.time_ms, &m.total_nodes, &m.active_nodes, &m.total_detections, &m.average_latency,
              &m.bandwidth_saved, &m.energy_saved, &m.metadata],
        )
        .await?;
    }
    for l in &d.system_logs {
        tokio_postgres::Transaction::execute(tx,
            "INSERT INTO system_logs (time_ms, level, source, message, details) VALUES ($1, $2, $3, $4, $5)",
            &[&l.time_ms, &l.level, &l.source, &l.message, &l.details],
        )
        .await?;
    }
    for c in &d.corroborations {
        tokio_postgres::Transaction::execute(tx,
            "INSERT INTO corroborated_detections (object_type, first_ms, time_ms, nodes) VALUES ($1, $2, $3, $4)",
            &[&c.object_type, &c.first_ms, &c.time_ms, &c.nodes],
        )
        .await?;
    }
    if !d.robot_telemetry.is_empty() {
        let t = &d.robot_telemetry;
        let robot: Vec<i64> = t.iter().map(|r| r.robot_id).collect();
        let time: Vec<i64> = t.iter().map(|r| r.time_ms).collect();
        let state: Vec<&str> = t.iter().map(|r| r.state.as_str()).collect();
        let bits: Vec<i32> = t.iter().map(|r| r.status_bits).collect();
        let pos: Vec<i64> = t.iter().map(|r| r.position_mm).collect();
        let speed: Vec<i32> = t.iter().map(|r| r.speed_mm_s).collect();
        let hoist: Vec<i32> = t.iter().map(|r| r.hoist_mm).collect();
        let battery: Vec<f64> = t.iter().map(|r| r.battery_pct).collect();
        let temp: Vec<f64> = t.iter().map(|r| r.temperature_c).collect();
        let station: Vec<i32> = t.iter().map(|r| r.station).collect();
        let target: Vec<i32> = t.iter().map(|r| r.target_station).collect();
        let fault: Vec<i32> = t.iter().map(|r| r.fault_code).collect();
        let load: Vec<f64> = t.iter().map(|r| r.load_kg).collect();
        tokio_postgres::Transaction::execute(tx,
            "INSERT INTO robot_telemetry (robot_id, time_ms, state, status_bits, position_mm, speed_mm_s, hoist_mm, \
             battery_pct, temperature_c, station, target_station, fault_code, load_kg) \
             SELECT * FROM unnest($1::int8[], $2::int8[], $3::text[], $4::int4[], $5::int8[], $6::int4[], $7::int4[], \
             $8::float8[], $9::float8[], $10::int4[], $11::int4[], $12::int4[], $13::float8[]) ON CONFLICT DO NOTHING",
            &[&robot, &time, &state, &bits, &pos, &speed, &hoist, &battery, &temp, &station, &target, &fault, &load],
        )
        .await?;
    }
    for e in &d.safety_events {
        tokio_postgres::Transaction::execute(tx,
            "INSERT INTO safety_events (robot_id, time_ms, kind, active, severity, detail) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&e.robot_id, &e.time_ms, &e.kind, &e.active, &e.severity, &e.detail],
        )
        .await?;
    }
    write_people(tx, &d.people).await?;
    for l in &d.dead_letters {
        tokio_postgres::Transaction::execute(tx,
            "INSERT INTO mqtt_dead_letters (received_ms, topic, reason, detail, payload) VALUES ($1, $2, $3, $4, $5)",
            &[&l.received_ms, &l.topic, &l.reason, &l.detail, &l.payload],
        )
        .await?;
    }
    for q in &d.quarantine {
        tokio_postgres::Transaction::execute(tx,
            "INSERT INTO quarantine (received_ms, source, subject, reason, detail, payload) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&q.received_ms, &q.source, &q.subject, &q.reason, &q.detail, &q.payload],
        )
        .await?;
    }
    Ok(())
}

/// Tracked people's rows, in the batch's transaction: identities and sightings are upserted
/// (their ends move on), points and zone events inserted once.
async fn write_people(
    tx: &tokio_postgres::Transaction<'_>,
    p: &crate::models::PeopleRows,
) -> Result<(), CopyError> {
    for i in &p.identities {
        tokio_postgres::Transaction::execute(tx,
            "INSERT INTO person_identities (session_id, global_id, first_seen_ms, last_seen_ms, cameras, distance_m, merged_into) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (session_id, global_id) DO UPDATE SET \
             first_seen_ms = LEAST(person_identities.first_seen_ms, EXCLUDED.first_seen_ms), \
             last_seen_ms = GREATEST(person_identities.last_seen_ms, EXCLUDED.last_seen_ms), \
             cameras = EXCLUDED.cameras, distance_m = GREATEST(person_identities.distance_m, EXCLUDED.distance_m), \
             merged_into = COALESCE(EXCLUDED.merged_into, person_identities.merged_into)",
            &[&i.session_id, &i.global_id, &i.first_seen_ms, &i.last_seen_ms, &i.cameras, &i.distance_m, &i.merged_into],
        )
        .await?;
    }
    for a in &p.appearances {
        tokio_postgres::Transaction::execute(tx,
            "INSERT INTO person_appearances (session_id, global_id, vector, updated_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (session_id, global_id) DO UPDATE SET vector = EXCLUDED.vector, updated_ms = EXCLUDED.updated_ms",
            &[&a.session_id, &a.global_id, &a.vector, &a.updated_ms],
        )
        .await?;
    }
    if !p.points.is_empty() {
        let session: Vec<i64> = p.points.iter().map(|r| r.session_id).collect();
        let global: Vec<i64> = p.points.iter().map(|r| r.global_id).collect();
        let time: Vec<i64> = p.points.iter().map(|r| r.time_ms).collect();
        let x: Vec<f64> = p.points.iter().map(|r| r.x_m).collect();
        let y: Vec<f64> = p.points.iter().map(|r| r.y_m).collect();
        let cams: Vec<i32> = p.points.iter().map(|r| r.cameras).collect();
        tokio_postgres::Transaction::execute(tx,
            "INSERT INTO trajectory_points (session_id, global_id, time_ms, x_m, y_m, cameras) \
             SELECT * FROM unnest($1::int8[], $2::int8[], $3::int8[], $4::float8[], $5::float8[], $6::int4[]) ON CONFLICT DO NOTHING",
            &[&session, &global, &time, &x, &y, &cams],
        )
        .await?;
    }
    for s in &p.sightings {
        tokio_postgres::Transaction::execute(tx,
            "INSERT INTO person_sightings (session_id, global_id, camera, first_ms, last_ms) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (session_id, global_id, camera, first_ms) DO UPDATE SET \
             last_ms = GREATEST(person_sightings.last_ms, EXCLUDED.last_ms)",
            &[&s.session_id, &s.global_id, &s.camera, &s.first_ms, &s.last_ms],
        )
        .await?;
    }
    for e in &p.zone_events {
        tokio_postgres::Transaction::execute(tx,
            "INSERT INTO zone_events (session_id, global_id, zone_id, kind, time_ms, dwell_s) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT DO NOTHING",
            &[&e.session_id, &e.global_id, &e.zone_id, &e.kind, &e.time_ms, &e.dwell_s],
        )
        .await?;
    }
    Ok(())
}

/// Trips, stays and arrivals of the batch's events, in its transaction.
async fn write_derived(tx: &tokio_postgres::Transaction<'_>, d: &Batch) -> Result<(), CopyError> {
    for t in &d.trips {
        tokio_postgres::Transaction::execute(
            tx,
            "INSERT INTO trips (device_id, start_ms, end_ms, distance_m, duration_s, max_speed_kmh, idle_s, \
             fuel_used_l, start_lat, start_lon, end_lat, end_lon, vehicle_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING",
            &[&t.device_id, &t.start_ms, &t.end_ms, &t.distance_m, &t.duration_s, &t.max_speed_kmh,
              &t.idle_s, &t.fuel_used_l, &t.start_lat, &t.start_lon, &t.end_lat, &t.end_lon, &t.vehicle_id],
        )
        .await?;
    }
    for s in &d.stays {
        tokio_postgres::Transaction::execute(
            tx,
            "INSERT INTO vehicle_stops (device_id, start_ms, end_ms, duration_s, lat, lon, vehicle_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            &[
                &s.device_id,
                &s.start_ms,
                &s.end_ms,
                &s.duration_s,
                &s.lat, &s.lon, &s.vehicle_id],
        )
        .await?;
    }
    for a in &d.arrivals {
        tokio_postgres::Transaction::execute(
            tx,
            "INSERT INTO stop_arrivals (device_id, route_id, stop_id, seq, arrived_ms, vehicle_id) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            &[&a.device_id, &a.route_id, &a.stop_id, &a.seq, &a.arrived_ms, &a.vehicle_id],
        )
        .await?;
    }
    for dep in &d.departures {
        tokio_postgres::Transaction::execute(
            tx,
            "UPDATE stop_arrivals SET departed_ms = $4, dwell_s = $5 \
             WHERE device_id = $1 AND stop_id = $2 AND arrived_ms = $3",
            &[
                &dep.device_id,
                &dep.stop_id,
                &dep.arrived_ms,
                &dep.departed_ms,
                &dep.dwell_s,
            ],
        )
        .await?;
    }
    Ok(())
}

async fn copy_telemetry(
    tx: &tokio_postgres::Transaction<'_>,
    table: &str,
    rows: &[TelemetryRow],
) -> Result<usize, CopyError> {
    use tokio_postgres::binary_copy::BinaryCopyInWriter;
    use tokio_postgres::types::{ToSql, Type};
    const TYPES: [Type; 19] = [
        Type::INT8,
        Type::INT8,
        Type::INT8,
        Type::FLOAT8,
        Type::FLOAT8,
        Type::INT4,
        Type::INT4,
        Type::INT4,
        Type::INT4,
        Type::BOOL,
        Type::FLOAT8,
        Type::BOOL,
        Type::BOOL,
        Type::FLOAT8,
        Type::FLOAT8,
        Type::INT4,
        Type::FLOAT8,
        Type::BOOL,
        Type::TEXT,
    ];
    let sink = tx
        .copy_in(&format!("COPY {table} ({COPY_COLUMNS}) FROM STDIN BINARY"))
        .await?;
    let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, &TYPES));
    for r in rows {
        let values: [&(dyn ToSql + Sync); 19] = [
            &r.device_id,
            &r.device_time_ms,
            &r.server_time_ms,
            &r.lat,
            &r.lon,
            &r.altitude,
            &r.speed_kmh,
            &r.heading,
            &r.satellites,
            &r.fix,
            &r.hdop,
            &r.ignition,
            &r.movement,
            &r.external_voltage_v,
            &r.battery_voltage_v,
            &r.gsm_signal,
            &r.distance_m,
            &r.late,
            &r.io,
        ];
        writer.as_mut().write(&values).await?;
    }
    Ok(usize::try_from(writer.finish().await?).unwrap_or(usize::MAX))
}

async fn copy_can(
    tx: &tokio_postgres::Transaction<'_>,
    table: &str,
    can: &[CanRow],
) -> Result<(), CopyError> {
    use tokio_postgres::binary_copy::BinaryCopyInWriter;
    use tokio_postgres::types::{ToSql, Type};
    const TYPES: [Type; 21] = [
        Type::INT8,
        Type::INT8,
        Type::INT4,
        Type::FLOAT8,
        Type::FLOAT8,
        Type::FLOAT8,
        Type::FLOAT8,
        Type::FLOAT8,
        Type::FLOAT8,
        Type::FLOAT8,
        Type::FLOAT8,
        Type::FLOAT8,
        Type::FLOAT8,
        Type::TEXT,
        Type::INT4,
        Type::BOOL,
        Type::BOOL,
        Type::BOOL,
        Type::BOOL,
        Type::BOOL,
        Type::BOOL,
    ];
    if can.is_empty() {
        return Ok(());
    }
    let sink = tx
        .copy_in(&format!("COPY {table} ({CAN_COLUMNS}) FROM STDIN BINARY"))
        .await?;
    let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, &TYPES));
    for r in can {
        let values: [&(dyn ToSql + Sync); 21] = [
            &r.device_id,
            &r.device_time_ms,
            &r.engine_rpm,
            &r.engine_hours_h,
            &r.coolant_temp_c,
            &r.engine_load_pct,
            &r.fuel_level_l,
            &r.fuel_level_pct,
            &r.fuel_used_l,
            &r.fuel_rate_lph,
            &r.vehicle_speed_kmh,
            &r.odometer_m,
            &r.accelerator_pct,
            &r.dtc_codes,
            &r.doors,
            &r.brake_active,
            &r.cruise_control,
            &r.check_engine,
            &r.door1_open,
            &r.door2_open,
            &r.door3_open,
        ];
        writer.as_mut().write(&values).await?;
    }
    writer.finish().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_names_and_bounds() {
        assert_eq!(partition_name("telemetry", 0), "telemetry_19700101");
        assert_eq!(partition_name("can_data", 0), "can_data_19700101");
        assert_eq!(
            partition_name("telemetry", 1_764_028_800_000 / DAY_MS),
            "telemetry_20251125"
        );
        assert_eq!(partition_name("telemetry", -1), "telemetry_19691231");
        assert_eq!(
            upper_bound("FOR VALUES FROM ('0') TO ('86400000')"),
            Some(86_400_000)
        );
        assert_eq!(
            upper_bound("FOR VALUES FROM (0) TO (86400000)"),
            Some(86_400_000)
        );
        assert_eq!(upper_bound("DEFAULT"), None);
    }
}
