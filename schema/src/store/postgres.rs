//! PostgreSQL through diesel-async and a bb8 pool. Telemetry lives in daily range
//! partitions, created on demand before a batch is written and dropped whole by retention.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex};

use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::bb8::Pool;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::Batch;
use super::{DbError, DAY_MS};
use crate::models::{CanRow, TelemetryRow};

pub const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

type PgPool = Pool<AsyncPgConnection>;

/// Advisory lock key held while migrating.
const MIGRATION_LOCK: i64 = 0x7572_6261_6e73;

/// Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    url: String,
    /// Idle connections for COPY (diesel-async has no COPY; tokio-postgres does).
    copy_clients: Arc<tokio::sync::Mutex<Vec<tokio_postgres::Client>>>,
    /// Days whose partition is known to exist.
    partitions: Arc<Mutex<HashSet<i64>>>,
}

/// Tables partitioned by day.
const PARTITIONED: [&str; 2] = ["telemetry", "can_data"];

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
        Self::migrate(url).await?;
        let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(url);
        let pool = Pool::builder()
            .max_size(pool_size.max(1))
            .connection_timeout(std::time::Duration::from_secs(5))
            .build(manager)
            .await
            .map_err(|e| DbError::Pool(e.to_string()))?;
        Ok(Self {
            pool,
            url: url.to_owned(),
            copy_clients: Arc::new(tokio::sync::Mutex::new(Vec::new())),
            partitions: Arc::new(Mutex::new(HashSet::new())),
        })
    }

    /// Applies pending migrations over one connection, closed when done.
    pub async fn migrate(url: &str) -> Result<(), DbError> {
        let migrate_url = url.to_owned();
        tokio::task::spawn_blocking(move || -> Result<(), DbError> {
            let mut conn =
                <AsyncConnectionWrapper<AsyncPgConnection> as diesel::Connection>::establish(
                    &migrate_url,
                )
                .map_err(|e| DbError::Connect(e.to_string()))?;
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

    fn known(&self, day: i64) -> bool {
        self.partitions
            .lock()
            .map(|p| p.contains(&day))
            .unwrap_or(false)
    }

    async fn ensure_partitions(
        &self,
        conn: &mut AsyncPgConnection,
        rows: &[TelemetryRow],
    ) -> Result<(), DbError> {
        let days: BTreeSet<i64> = rows
            .iter()
            .map(|r| r.device_time_ms.div_euclid(DAY_MS))
            .collect();
        for day in days {
            if self.known(day) {
                continue;
            }
            for table in PARTITIONED {
                let sql = format!(
                    "CREATE TABLE IF NOT EXISTS {} PARTITION OF {table} FOR VALUES FROM ({}) TO ({})",
                    partition_name(table, day),
                    day * DAY_MS,
                    (day + 1) * DAY_MS
                );
                if let Err(e) = diesel::sql_query(&sql).execute(conn).await {
                    // Another node may have created it at the same moment: check once more.
                    tracing::debug!("creating partition of {table} for day {day}: {e}; retrying");
                    diesel::sql_query(&sql).execute(conn).await?;
                }
            }
            if let Ok(mut p) = self.partitions.lock() {
                p.insert(day);
            }
        }
        Ok(())
    }

    /// Writes rows with binary COPY into a session-local staging table, then moves them
    /// with `INSERT … SELECT … ON CONFLICT DO NOTHING`, all in one transaction: COPY's speed
    /// with an idempotent result.
    pub async fn write(&self, batch: Arc<Batch>) -> Result<usize, DbError> {
        if !batch.telemetry.is_empty() {
            let mut conn = self.conn().await?;
            self.ensure_partitions(&mut conn, &batch.telemetry).await?;
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
        let (client, connection) = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            tokio_postgres::connect(&self.url, tokio_postgres::NoTls),
        )
        .await
        .map_err(|_elapsed| DbError::Connect("timed out".into()))?
        .map_err(|e| DbError::Connect(e.to_string()))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("COPY connection ended: {e}");
            }
        });
        client
            .batch_execute(
                "CREATE TEMP TABLE IF NOT EXISTS telemetry_stage (LIKE telemetry) ON COMMIT DELETE ROWS; \
                 CREATE TEMP TABLE IF NOT EXISTS can_stage (LIKE can_data) ON COMMIT DELETE ROWS",
            )
            .await
            .map_err(pg_err)?;
        Ok(client)
    }

    /// Drops every daily partition that ends at or before `cutoff_ms`.
    pub async fn drop_partitions_before(&self, cutoff_ms: i64) -> Result<u64, DbError> {
        let mut conn = self.conn().await?;
        let parts: Vec<PartitionBound> = diesel::sql_query(
            "SELECT c.relname::text AS name, pg_get_expr(c.relpartbound, c.oid) AS bound \
             FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent \
             WHERE p.relname IN ('telemetry', 'can_data') AND p.relnamespace = to_regnamespace(current_schema())::oid",
        )
        .load(&mut conn)
        .await?;
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
                    known.retain(|d| (d + 1) * DAY_MS > cutoff_ms);
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
    tx.commit().await?;
    Ok(usize::try_from(written).unwrap_or(usize::MAX))
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
