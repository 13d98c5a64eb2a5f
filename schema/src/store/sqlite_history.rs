//! Telemetry and CAN history on SQLite: written in arrival order, gathered by device later.
//!
//! The kept tables (`telemetry_kept`, `can_data_kept`) are clustered on `(device_id,
//! device_time_ms)`, which makes a device's history one range read. Written to directly by
//! thousands of devices sending a record each, every row of a batch lands on a leaf page of
//! its own, and the writer spends its time writing 4 KB pages for 300-byte rows (see
//! `docs/performance.md`). So the rows of a device that come one or two in a batch are
//! appended to a staging slot instead (`*_a` or `*_b`, rowid tables in arrival order); when
//! that slot holds enough rows or its oldest is old enough (`Limits`), writes turn to the other
//! slot and this one is moved into the kept tables, a few thousand rows' worth of devices per
//! transaction, between the writer's other jobs, then emptied. A device with several rows in
//! a batch (a tracker sending its buffer) is written to the kept tables directly, as before.
//!
//! `history_staging` records how far a slot's move got, and the views `telemetry` and
//! `can_data` show a slot's rows only above that point, so every row is read once, in the
//! middle of a move too; an interrupted move is finished when the store opens.
//!
//! A record is stored once: one already in a slot is found in memory (the keys of both slots
//! are held here), one already kept is looked up only when it is not newer than the newest
//! kept row of its device (also held here, read once per device).

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Bool, Double, Integer, Nullable, Text};
use diesel::sqlite::{Sqlite, SqliteConnection};

use crate::models::{CanRow, TelemetryRow};

/// When a slot is moved, and in what steps.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// Rows of a slot (telemetry and CAN) that start its move.
    pub move_rows: usize,
    /// Age of a slot's first row that starts its move.
    pub move_age: Duration,
    /// Rows moved per transaction (whole devices).
    pub chunk_rows: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            move_rows: 100_000,
            move_age: Duration::from_secs(30),
            chunk_rows: 4_000,
        }
    }
}
/// A device with at least this many rows in a batch is written to the kept tables directly.
const DIRECT_ROWS: usize = 4;

const TELEMETRY_COLUMNS: &str = "device_id, device_time_ms, server_time_ms, lat, lon, altitude, \
    speed_kmh, heading, satellites, fix, hdop, ignition, movement, external_voltage_v, \
    battery_voltage_v, gsm_signal, distance_m, late, io";
const CAN_COLUMNS: &str = "device_id, device_time_ms, engine_rpm, engine_hours_h, coolant_temp_c, \
    engine_load_pct, fuel_level_l, fuel_level_pct, fuel_used_l, fuel_rate_lph, vehicle_speed_kmh, \
    odometer_m, accelerator_pct, dtc_codes, doors, brake_active, cruise_control, check_engine, \
    door1_open, door2_open, door3_open";

const SLOTS: [&str; 2] = ["a", "b"];

type Key = (i64, i64);

/// One of the history's tables: telemetry or CAN.
struct Table {
    name: &'static str,
    columns: &'static str,
    /// `INSERT INTO {name}_{slot} (…) VALUES` per slot, then `INSERT OR IGNORE INTO
    /// {name}_kept (…) VALUES`: rows follow, several per statement.
    insert: [String; 3],
    /// `(?, …)` for one row.
    marks: String,
    /// Keys held by each slot and not moved yet.
    staged: [BTreeSet<Key>; 2],
    /// The newest kept device time per device, where read.
    newest_kept: HashMap<i64, i64>,
}

impl Table {
    fn new(name: &'static str, columns: &'static str) -> Self {
        let n = columns.split(',').count();
        let marks = vec!["?"; n].join(", ");
        let insert = [
            format!("INSERT INTO {name}_a ({columns}) VALUES "),
            format!("INSERT INTO {name}_b ({columns}) VALUES "),
            format!("INSERT OR IGNORE INTO {name}_kept ({columns}) VALUES "),
        ];
        let marks = format!("({marks})");
        Self {
            name,
            columns,
            insert,
            marks,
            staged: Default::default(),
            newest_kept: HashMap::new(),
        }
    }

    fn is_staged(&self, key: &Key) -> bool {
        self.staged.iter().any(|s| s.contains(key))
    }

    fn newest_kept(&mut self, c: &mut SqliteConnection, device: i64) -> QueryResult<i64> {
        if let Some(&t) = self.newest_kept.get(&device) {
            return Ok(t);
        }
        #[derive(QueryableByName)]
        struct Newest {
            #[diesel(sql_type = Nullable<BigInt>)]
            t: Option<i64>,
        }
        let t = diesel::sql_query(format!(
            "SELECT MAX(device_time_ms) AS t FROM {}_kept WHERE device_id = ?",
            self.name
        ))
        .bind::<BigInt, _>(device)
        .get_result::<Newest>(c)?
        .t
        .unwrap_or(i64::MIN);
        self.newest_kept.insert(device, t);
        Ok(t)
    }

    fn is_kept(&mut self, c: &mut SqliteConnection, (device, time): Key) -> QueryResult<bool> {
        if time > self.newest_kept(c, device)? {
            return Ok(false);
        }
        #[derive(QueryableByName)]
        struct Found {
            #[diesel(sql_type = Bool)]
            found: bool,
        }
        diesel::sql_query(format!(
            "SELECT EXISTS (SELECT 1 FROM {}_kept WHERE device_id = ? AND device_time_ms = ?) AS found",
            self.name
        ))
        .bind::<BigInt, _>(device)
        .bind::<BigInt, _>(time)
        .get_result::<Found>(c)
        .map(|f| f.found)
    }

    fn noted_kept(&mut self, (device, time): Key) {
        if let Some(t) = self.newest_kept.get_mut(&device) {
            *t = (*t).max(time);
        }
    }
}

/// Where each row of a batch goes.
enum Place {
    Skip,
    Slot,
    Kept,
}

/// The staging state, owned by the SQLite worker thread beside its connection.
pub(super) struct History {
    limits: Limits,
    telemetry: Table,
    can: Table,
    /// The slot that takes new rows.
    writing: usize,
    /// When the writing slot took its first row.
    since: Option<Instant>,
    moving: Option<Move>,
}

/// A slot being moved into the kept tables: the upper device id of each chunk left.
struct Move {
    slot: usize,
    /// Whether the slot's index by device is made (the move's first step).
    indexed: bool,
    bounds: Vec<i64>,
    next: usize,
    moved: i64,
}

#[derive(QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = BigInt)]
    device_id: i64,
    #[diesel(sql_type = BigInt)]
    device_time_ms: i64,
}

#[derive(QueryableByName)]
struct Moved {
    #[diesel(sql_type = BigInt)]
    a_moved: i64,
    #[diesel(sql_type = BigInt)]
    b_moved: i64,
}

impl History {
    /// Reads the slots' keys, after finishing a move that was interrupted.
    pub(super) fn open(c: &mut SqliteConnection, limits: Limits) -> QueryResult<Self> {
        let mut h = Self {
            limits,
            telemetry: Table::new("telemetry", TELEMETRY_COLUMNS),
            can: Table::new("can_data", CAN_COLUMNS),
            writing: 0,
            since: None,
            moving: None,
        };
        let moved = diesel::sql_query("SELECT a_moved, b_moved FROM history_staging")
            .get_result::<Moved>(c)?;
        for (slot, moved) in [moved.a_moved, moved.b_moved].into_iter().enumerate() {
            h.load_keys(c, slot, moved)?;
            if moved >= 0 {
                h.start_move(slot, moved);
                while h.moving.is_some() {
                    h.move_step(c)?;
                }
            }
        }
        let rows = |s: usize| h.telemetry.staged[s].len() + h.can.staged[s].len();
        h.writing = if rows(0) <= rows(1) { 0 } else { 1 };
        // A move may have stopped after its first step, before it recorded any progress.
        c.batch_execute(&drop_indexes(SLOTS[h.writing]))?;
        if rows(h.writing) > 0 {
            h.since = Some(Instant::now());
        }
        Ok(h)
    }

    fn load_keys(&mut self, c: &mut SqliteConnection, slot: usize, moved: i64) -> QueryResult<()> {
        for table in [&mut self.telemetry, &mut self.can] {
            let keys = diesel::sql_query(format!(
                "SELECT device_id, device_time_ms FROM {}_{} WHERE device_id > ?",
                table.name, SLOTS[slot]
            ))
            .bind::<BigInt, _>(moved)
            .load::<KeyRow>(c)?;
            table.staged[slot] = keys
                .into_iter()
                .map(|k| (k.device_id, k.device_time_ms))
                .collect();
        }
        Ok(())
    }

    /// Writes a batch's telemetry and CAN rows, inside the caller's transaction. Returns the
    /// telemetry rows newly written, and the keys staged, to be noted once it commits.
    pub(super) fn write(
        &mut self,
        c: &mut SqliteConnection,
        telemetry: &[TelemetryRow],
        can: &[CanRow],
    ) -> QueryResult<(usize, Staged)> {
        let slot = self.writing;
        let (written, telemetry) = write_rows(
            c,
            &mut self.telemetry,
            slot,
            telemetry,
            |r| (r.device_id, r.device_time_ms),
            bind_telemetry,
        )?;
        let (_, can) = write_rows(
            c,
            &mut self.can,
            slot,
            can,
            |r| (r.device_id, r.device_time_ms),
            bind_can,
        )?;
        let staged = Staged {
            slot,
            telemetry,
            can,
        };
        Ok((written, staged))
    }

    /// Notes what a committed write staged.
    pub(super) fn committed(&mut self, staged: Staged) {
        if staged.telemetry.is_empty() && staged.can.is_empty() {
            return;
        }
        self.telemetry.staged[staged.slot].extend(staged.telemetry);
        self.can.staged[staged.slot].extend(staged.can);
        if staged.slot == self.writing && self.since.is_none() {
            self.since = Some(Instant::now());
        }
    }

    /// Whether a move is under way or due.
    pub(super) fn has_work(&mut self) -> bool {
        if self.moving.is_some() {
            return true;
        }
        let rows = self.telemetry.staged[self.writing].len() + self.can.staged[self.writing].len();
        let due = rows >= self.limits.move_rows
            || (rows > 0
                && self
                    .since
                    .is_some_and(|t| t.elapsed() >= self.limits.move_age));
        // Writes turn to the other slot, which its last move emptied (or which still holds
        // rows found when the store opened: they are moved next time).
        if due {
            let slot = self.writing;
            self.writing = 1 - slot;
            self.since = None;
            self.start_move(slot, -1);
        }
        due
    }

    fn start_move(&mut self, slot: usize, moved: i64) {
        let mut bounds = Vec::new();
        let mut rows = 0;
        let mut devices = self.telemetry.staged[slot]
            .iter()
            .chain(self.can.staged[slot].iter())
            .map(|k| k.0)
            .collect::<Vec<_>>();
        devices.sort_unstable();
        for (i, d) in devices.iter().enumerate() {
            rows += 1;
            let last_of_device = devices.get(i + 1) != Some(d);
            if last_of_device && rows >= self.limits.chunk_rows {
                bounds.push(*d);
                rows = 0;
            }
        }
        // The last step takes every device left, so that no row of the slot can stay behind
        // when it is emptied, whatever the keys held here say.
        match bounds.last_mut() {
            Some(last) if rows == 0 => *last = i64::MAX,
            _ => bounds.push(i64::MAX),
        }
        self.moving = Some(Move {
            slot,
            indexed: false,
            bounds,
            next: 0,
            moved,
        });
    }

    /// Moves the next chunk of devices of the slot being moved, or empties the slot after
    /// the last one. Each step is one transaction.
    pub(super) fn move_step(&mut self, c: &mut SqliteConnection) -> QueryResult<()> {
        let Some(m) = self.moving.as_mut() else {
            return Ok(());
        };
        let s = SLOTS[m.slot];
        if !m.indexed {
            // Each step reads its devices' rows through this index: the slot is read in
            // device order once, not scanned whole by every step. Writes go to the other slot
            // now, so the index costs them nothing.
            c.batch_execute(&format!(
                "CREATE INDEX IF NOT EXISTS telemetry_{s}_device ON telemetry_{s} (device_id, device_time_ms); \
                 CREATE INDEX IF NOT EXISTS can_data_{s}_device ON can_data_{s} (device_id, device_time_ms);"
            ))?;
            m.indexed = true;
            return Ok(());
        }
        let Some(&hi) = m.bounds.get(m.next) else {
            c.immediate_transaction(|c| {
                c.batch_execute(&format!(
                    "{} DELETE FROM telemetry_{s}; DELETE FROM can_data_{s}; \
                     UPDATE history_staging SET {s}_moved = -1;",
                    drop_indexes(s)
                ))
            })?;
            let slot = m.slot;
            self.telemetry.staged[slot].clear();
            self.can.staged[slot].clear();
            self.moving = None;
            return Ok(());
        };
        let lo = m.moved;
        c.immediate_transaction(|c| {
            let mut sql = String::new();
            for t in [&self.telemetry, &self.can] {
                let (name, cols) = (t.name, t.columns);
                sql.push_str(&format!(
                    "INSERT OR IGNORE INTO {name}_kept ({cols}) SELECT {cols} FROM {name}_{s} \
                     WHERE device_id > {lo} AND device_id <= {hi} ORDER BY device_id, device_time_ms;"
                ));
            }
            sql.push_str(&format!("UPDATE history_staging SET {s}_moved = {hi};"));
            c.batch_execute(&sql)
        })?;
        m.moved = hi;
        m.next += 1;
        let slot = m.slot;
        for t in [&mut self.telemetry, &mut self.can] {
            let rest = t.staged[slot].split_off(&(hi.saturating_add(1), i64::MIN));
            let moved = std::mem::replace(&mut t.staged[slot], rest);
            for k in moved {
                t.noted_kept(k);
            }
        }
        Ok(())
    }

    /// Deletes rows older than `cutoff_ms`; returns the telemetry rows deleted.
    pub(super) fn delete_before(
        &mut self,
        c: &mut SqliteConnection,
        cutoff_ms: i64,
    ) -> QueryResult<u64> {
        self.delete_where(c, &format!("device_time_ms < {cutoff_ms}"), |(_, t)| {
            t >= cutoff_ms
        })
    }

    /// Deletes a device's history; returns the telemetry rows deleted.
    pub(super) fn delete_device(
        &mut self,
        c: &mut SqliteConnection,
        device: i64,
    ) -> QueryResult<u64> {
        let n = self.delete_where(c, &format!("device_id = {device}"), |(d, _)| d != device)?;
        self.telemetry.newest_kept.remove(&device);
        self.can.newest_kept.remove(&device);
        Ok(n)
    }

    /// Deletes the rows matching `filter` from the kept tables and from what the slots hold
    /// above their moves (the rest is in the kept tables and goes when the slot is emptied),
    /// and forgets the staged keys that `keep` refuses.
    fn delete_where(
        &mut self,
        c: &mut SqliteConnection,
        filter: &str,
        keep: impl Fn(Key) -> bool,
    ) -> QueryResult<u64> {
        let delete = |c: &mut SqliteConnection, name: &str| -> QueryResult<u64> {
            let mut n =
                diesel::sql_query(format!("DELETE FROM {name}_kept WHERE {filter}")).execute(c)?;
            for s in SLOTS {
                n += diesel::sql_query(format!(
                    "DELETE FROM {name}_{s} WHERE {filter} AND device_id > (SELECT {s}_moved FROM history_staging)"
                ))
                .execute(c)?;
            }
            Ok(n as u64)
        };
        let n = c.immediate_transaction(|c| {
            delete(c, "can_data")?;
            delete(c, "telemetry")
        })?;
        for t in [&mut self.telemetry, &mut self.can] {
            for s in &mut t.staged {
                s.retain(|&k| keep(k));
            }
        }
        Ok(n)
    }
}

/// Drops a slot's indexes by device, made for its move.
fn drop_indexes(s: &str) -> String {
    format!("DROP INDEX IF EXISTS telemetry_{s}_device; DROP INDEX IF EXISTS can_data_{s}_device;")
}

/// What a write staged, noted once its transaction commits.
pub(super) struct Staged {
    slot: usize,
    telemetry: Vec<Key>,
    can: Vec<Key>,
}

/// Where each of a batch's rows goes: skipped when stored already (or twice in the batch),
/// to the kept table when its device has several rows in the batch, else to the slot.
fn place(
    c: &mut SqliteConnection,
    table: &mut Table,
    keys: impl Iterator<Item = Key> + Clone,
) -> QueryResult<Vec<Place>> {
    let mut per_device: HashMap<i64, usize> = HashMap::new();
    for (d, _) in keys.clone() {
        *per_device.entry(d).or_default() += 1;
    }
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for key in keys {
        let p = if !seen.insert(key) || table.is_staged(&key) {
            Place::Skip
        } else if per_device[&key.0] >= DIRECT_ROWS {
            // INSERT OR IGNORE finds a kept twin itself.
            table.noted_kept(key);
            Place::Kept
        } else if table.is_kept(c, key)? {
            Place::Skip
        } else {
            Place::Slot
        };
        out.push(p);
    }
    Ok(out)
}

/// Writes one table's rows of a batch (see `place`); returns the rows inserted and the keys
/// staged in the slot.
fn write_rows<'a, R>(
    c: &mut SqliteConnection,
    table: &mut Table,
    slot: usize,
    rows: &'a [R],
    key: fn(&R) -> Key,
    bind: Bind<'a, R>,
) -> QueryResult<(usize, Vec<Key>)> {
    let places = place(c, table, rows.iter().map(key))?;
    let (mut staged, mut to_slot, mut to_kept) = (Vec::new(), Vec::new(), Vec::new());
    for (row, p) in rows.iter().zip(places) {
        match p {
            Place::Skip => {}
            Place::Slot => {
                staged.push(key(row));
                to_slot.push(row);
            }
            Place::Kept => to_kept.push(row),
        }
    }
    let written =
        insert_rows(c, table, slot, &to_slot, bind)? + insert_rows(c, table, 2, &to_kept, bind)?;
    Ok((written, staged))
}

/// Binds one row's values to an INSERT.
type Bind<'a, R> =
    fn(BoxedSqlQuery<'a, Sqlite, SqlQuery>, &'a R) -> BoxedSqlQuery<'a, Sqlite, SqlQuery>;

/// Rows per INSERT statement: diesel prepares a raw statement anew each time, so rows go
/// several to a statement (within SQLite's 32,766 parameters).
const ROWS_PER_INSERT: usize = 500;

/// Inserts rows into a table's slot (0, 1) or its kept table (2); returns the rows inserted.
fn insert_rows<'a, R>(
    c: &mut SqliteConnection,
    table: &Table,
    target: usize,
    rows: &[&'a R],
    bind: Bind<'a, R>,
) -> QueryResult<usize> {
    let mut n = 0;
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut sql = table.insert[target].clone();
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&table.marks);
        }
        let mut q = diesel::sql_query(sql).into_boxed();
        for r in chunk {
            q = bind(q, r);
        }
        n += q.execute(c)?;
    }
    Ok(n)
}

fn bind_telemetry<'a>(
    q: BoxedSqlQuery<'a, Sqlite, SqlQuery>,
    r: &'a TelemetryRow,
) -> BoxedSqlQuery<'a, Sqlite, SqlQuery> {
    q.bind::<BigInt, _>(r.device_id)
        .bind::<BigInt, _>(r.device_time_ms)
        .bind::<BigInt, _>(r.server_time_ms)
        .bind::<Double, _>(r.lat)
        .bind::<Double, _>(r.lon)
        .bind::<Integer, _>(r.altitude)
        .bind::<Integer, _>(r.speed_kmh)
        .bind::<Integer, _>(r.heading)
        .bind::<Integer, _>(r.satellites)
        .bind::<Bool, _>(r.fix)
        .bind::<Nullable<Double>, _>(r.hdop)
        .bind::<Nullable<Bool>, _>(r.ignition)
        .bind::<Nullable<Bool>, _>(r.movement)
        .bind::<Nullable<Double>, _>(r.external_voltage_v)
        .bind::<Nullable<Double>, _>(r.battery_voltage_v)
        .bind::<Nullable<Integer>, _>(r.gsm_signal)
        .bind::<Double, _>(r.distance_m)
        .bind::<Bool, _>(r.late)
        .bind::<Text, _>(&r.io)
}

fn bind_can<'a>(
    q: BoxedSqlQuery<'a, Sqlite, SqlQuery>,
    r: &'a CanRow,
) -> BoxedSqlQuery<'a, Sqlite, SqlQuery> {
    q.bind::<BigInt, _>(r.device_id)
        .bind::<BigInt, _>(r.device_time_ms)
        .bind::<Nullable<Integer>, _>(r.engine_rpm)
        .bind::<Nullable<Double>, _>(r.engine_hours_h)
        .bind::<Nullable<Double>, _>(r.coolant_temp_c)
        .bind::<Nullable<Double>, _>(r.engine_load_pct)
        .bind::<Nullable<Double>, _>(r.fuel_level_l)
        .bind::<Nullable<Double>, _>(r.fuel_level_pct)
        .bind::<Nullable<Double>, _>(r.fuel_used_l)
        .bind::<Nullable<Double>, _>(r.fuel_rate_lph)
        .bind::<Nullable<Double>, _>(r.vehicle_speed_kmh)
        .bind::<Nullable<Double>, _>(r.odometer_m)
        .bind::<Nullable<Double>, _>(r.accelerator_pct)
        .bind::<Nullable<Text>, _>(&r.dtc_codes)
        .bind::<Nullable<Integer>, _>(r.doors)
        .bind::<Nullable<Bool>, _>(r.brake_active)
        .bind::<Nullable<Bool>, _>(r.cruise_control)
        .bind::<Nullable<Bool>, _>(r.check_engine)
        .bind::<Nullable<Bool>, _>(r.door1_open)
        .bind::<Nullable<Bool>, _>(r.door2_open)
        .bind::<Nullable<Bool>, _>(r.door3_open)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
    use super::*;

    fn database() -> SqliteConnection {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "us-history-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        super::super::sqlite::connect(&dir.join("h.db")).unwrap()
    }

    fn telemetry(device_id: i64, t: i64) -> TelemetryRow {
        TelemetryRow {
            device_id,
            device_time_ms: t,
            server_time_ms: t,
            io: "{}".into(),
            ..Default::default()
        }
    }

    fn can(device_id: i64, t: i64) -> CanRow {
        CanRow {
            device_id,
            device_time_ms: t,
            fuel_used_l: Some(t as f64),
            ..Default::default()
        }
    }

    fn write(h: &mut History, c: &mut SqliteConnection, t: &[TelemetryRow], k: &[CanRow]) -> usize {
        let (n, staged) = c.immediate_transaction(|c| h.write(c, t, k)).unwrap();
        h.committed(staged);
        n
    }

    fn count(c: &mut SqliteConnection, sql: &str) -> i64 {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        diesel::sql_query(sql).get_result::<N>(c).unwrap().n
    }

    /// Rows as the views show them, and how many distinct keys those are.
    fn visible(c: &mut SqliteConnection, view: &str) -> (i64, i64) {
        (
            count(c, &format!("SELECT COUNT(*) AS n FROM {view}")),
            count(
                c,
                &format!("SELECT COUNT(*) AS n FROM (SELECT DISTINCT device_id, device_time_ms FROM {view})"),
            ),
        )
    }

    fn small() -> Limits {
        Limits {
            move_rows: 40,
            move_age: Duration::from_secs(3600),
            chunk_rows: 7,
        }
    }

    #[test]
    fn single_records_are_staged_moved_by_device_and_read_once_throughout() {
        let mut c = database();
        let mut h = History::open(&mut c, small()).unwrap();
        let (mut rows, mut can_rows, mut steps) = (0, 0, 0);
        for round in 0..12_i64 {
            let t = 1_000 * round;
            // Ten devices with one record each, one with a buffer of five, and a resend of
            // device 1's record of the round before.
            let mut batch: Vec<_> = (1..=10).map(|d| telemetry(d, t)).collect();
            batch.extend((0..5).map(|i| telemetry(99, t + i)));
            if round > 0 {
                batch.push(telemetry(1, t - 1_000));
            }
            let cans = [can(2, t), can(2, t)];
            assert_eq!(write(&mut h, &mut c, &batch, &cans), 15, "round {round}");
            rows += 15;
            can_rows += 1;
            // One step of a move (if one is due) after each batch, as the worker does.
            if h.has_work() {
                h.move_step(&mut c).unwrap();
                steps += 1;
            }
            assert_eq!(visible(&mut c, "telemetry"), (rows, rows), "round {round}");
            assert_eq!(
                visible(&mut c, "can_data"),
                (can_rows, can_rows),
                "round {round}"
            );
        }
        assert!(steps > 2, "moves ran in steps: {steps}");
        while h.has_work() {
            h.move_step(&mut c).unwrap();
        }
        assert_eq!(visible(&mut c, "telemetry"), (rows, rows));
        let kept = count(&mut c, "SELECT COUNT(*) AS n FROM telemetry_kept");
        assert!(kept >= 100, "most rows were moved: {kept} of {rows}");
        // The buffered device went straight to the kept table, the others through a slot.
        assert_eq!(
            count(
                &mut c,
                "SELECT COUNT(*) AS n FROM telemetry_a WHERE device_id = 99"
            ) + count(
                &mut c,
                "SELECT COUNT(*) AS n FROM telemetry_b WHERE device_id = 99"
            ),
            0
        );

        // Opened again (a restart): what a slot holds is known, and a resend of a kept
        // record or of a staged one is stored once.
        drop(h);
        let mut h = History::open(&mut c, small()).unwrap();
        let again = [telemetry(3, 0), telemetry(4, 11_000), telemetry(5, 11_500)];
        assert_eq!(write(&mut h, &mut c, &again, &[can(2, 0)]), 1);
        assert_eq!(visible(&mut c, "telemetry"), (rows + 1, rows + 1));
        assert_eq!(visible(&mut c, "can_data"), (can_rows, can_rows));
    }

    #[test]
    fn an_interrupted_move_is_finished_when_the_store_opens() {
        let mut c = database();
        let mut h = History::open(&mut c, small()).unwrap();
        for round in 0..4 {
            let batch: Vec<_> = (1..=12).map(|d| telemetry(d, round)).collect();
            write(&mut h, &mut c, &batch, &[can(7, round)]);
        }
        assert!(h.has_work());
        h.move_step(&mut c).unwrap(); // The slot's index by device.
        let indexes = "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'index' AND name LIKE '%\\_a\\_device' ESCAPE '\\'";
        assert_eq!(count(&mut c, indexes), 2);
        h.move_step(&mut c).unwrap();
        assert!(
            count(&mut c, "SELECT a_moved AS n FROM history_staging") > 0,
            "the first step is recorded"
        );
        assert_eq!(visible(&mut c, "telemetry"), (48, 48), "read once mid-move");
        drop(h); // The process stops here.

        let mut h = History::open(&mut c, small()).unwrap();
        assert!(!h.has_work());
        assert_eq!(count(&mut c, indexes), 0, "gone with the move");
        assert_eq!(
            count(&mut c, "SELECT a_moved + b_moved AS n FROM history_staging"),
            -2
        );
        assert_eq!(
            count(&mut c, "SELECT COUNT(*) AS n FROM telemetry_kept"),
            48
        );
        assert_eq!(count(&mut c, "SELECT COUNT(*) AS n FROM can_data_kept"), 4);
        assert_eq!(visible(&mut c, "telemetry"), (48, 48));
        assert_eq!(
            write(&mut h, &mut c, &[telemetry(1, 0), telemetry(1, 9)], &[]),
            1
        );
    }

    #[test]
    fn deletes_reach_kept_and_staged_rows() {
        let mut c = database();
        let mut h = History::open(&mut c, small()).unwrap();
        for round in 0..6 {
            let batch: Vec<_> = (1..=10).map(|d| telemetry(d, 100 * round)).collect();
            write(&mut h, &mut c, &batch, &[can(3, 100 * round)]);
            if h.has_work() {
                h.move_step(&mut c).unwrap();
            }
        }
        assert_eq!(visible(&mut c, "telemetry"), (60, 60));
        assert_eq!(h.delete_device(&mut c, 3).unwrap(), 6);
        assert_eq!(visible(&mut c, "telemetry"), (54, 54));
        assert_eq!(visible(&mut c, "can_data"), (0, 0));
        assert_eq!(h.delete_before(&mut c, 200).unwrap(), 18);
        assert_eq!(visible(&mut c, "telemetry"), (36, 36));
        while h.has_work() {
            h.move_step(&mut c).unwrap();
        }
        assert_eq!(visible(&mut c, "telemetry"), (36, 36));
        // A deleted record sent again is stored again.
        assert_eq!(
            write(&mut h, &mut c, &[telemetry(3, 0), telemetry(4, 0)], &[]),
            2
        );
    }
}
