//! Modbus buses, the robots on them, and what the robots report.

use diesel::prelude::*;
use serde::Serialize;

use crate::schema::{modbus_buses, robot_telemetry, robots, safety_events};

/// A Modbus link: a serial port (RTU) or a TCP gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = modbus_buses)]
pub struct BusRow {
    pub id: i64,
    pub name: String,
    /// `tcp` or `rtu`.
    pub kind: String,
    pub address: Option<String>,
    pub path: Option<String>,
    pub baud: i32,
    /// `N`, `E` or `O`.
    pub parity: String,
    pub stop_bits: i32,
    pub poll_hz: f64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Insertable, AsChangeset)]
#[diesel(table_name = modbus_buses)]
pub struct NewBus {
    pub name: String,
    pub kind: String,
    pub address: Option<String>,
    pub path: Option<String>,
    pub baud: i32,
    pub parity: String,
    pub stop_bits: i32,
    pub poll_hz: f64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// A robot: a device at one unit id of one bus, read with one register map.
#[derive(Debug, Clone, PartialEq, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = robots)]
pub struct RobotRow {
    pub id: i64,
    pub device_id: Option<i64>,
    pub name: String,
    pub bus_id: i64,
    pub unit_id: i32,
    pub map: String,
    pub created_ms: i64,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Insertable)]
#[diesel(table_name = robots)]
pub struct NewRobot {
    pub name: String,
    pub bus_id: i64,
    pub unit_id: i32,
    pub map: String,
    pub created_ms: i64,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, Default, PartialEq, AsChangeset)]
#[diesel(table_name = robots)]
pub struct RobotChanges {
    pub name: Option<String>,
    pub bus_id: Option<i64>,
    pub unit_id: Option<i32>,
    pub map: Option<String>,
    pub updated_ms: Option<i64>,
}

/// One telemetry sample of a robot.
#[derive(Debug, Clone, PartialEq, Serialize, Queryable, Selectable, Insertable)]
#[diesel(table_name = robot_telemetry)]
pub struct RobotTelemetryRow {
    pub robot_id: i64,
    pub time_ms: i64,
    pub state: String,
    pub status_bits: i32,
    pub position_mm: i64,
    pub speed_mm_s: i32,
    pub hoist_mm: i32,
    pub battery_pct: f64,
    pub temperature_c: f64,
    pub station: i32,
    pub target_station: i32,
    pub fault_code: i32,
    pub load_kg: f64,
}

/// A safety condition that began (`active`) or ended.
#[derive(Debug, Clone, PartialEq, Serialize, Queryable, Selectable)]
#[diesel(table_name = safety_events)]
pub struct SafetyEventRow {
    pub id: i64,
    pub robot_id: i64,
    pub time_ms: i64,
    pub kind: String,
    pub active: bool,
    pub severity: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Insertable)]
#[diesel(table_name = safety_events)]
pub struct NewSafetyEvent {
    pub robot_id: i64,
    pub time_ms: i64,
    pub kind: String,
    pub active: bool,
    pub severity: String,
    pub detail: String,
}

/// min / avg / max of one quantity over a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MinAvgMax {
    pub min: f64,
    pub avg: f64,
    pub max: f64,
}

/// A robot's telemetry over one time bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RobotTelemetryBucket {
    pub bucket_ms: i64,
    pub samples: i64,
    pub speed_mm_s: MinAvgMax,
    pub battery_pct: MinAvgMax,
    pub temperature_c: MinAvgMax,
    pub load_kg: MinAvgMax,
}

impl RobotTelemetryBucket {
    /// Buckets of `bucket_ms` (aligned to the epoch) over rows sorted by time.
    pub fn of(rows: &[RobotTelemetryRow], bucket_ms: i64) -> Vec<Self> {
        let bucket_ms = bucket_ms.max(1);
        let mut out: Vec<Self> = Vec::new();
        let mut acc: Vec<[f64; 4]> = Vec::new();
        let flush = |acc: &mut Vec<[f64; 4]>, start: i64, out: &mut Vec<Self>| {
            if acc.is_empty() {
                return;
            }
            let stat = |i: usize| {
                let (mut min, mut max, mut sum) = (f64::INFINITY, f64::NEG_INFINITY, 0.0);
                for v in acc.iter() {
                    min = min.min(v[i]);
                    max = max.max(v[i]);
                    sum += v[i];
                }
                MinAvgMax {
                    min,
                    avg: sum / acc.len() as f64,
                    max,
                }
            };
            out.push(Self {
                bucket_ms: start,
                samples: acc.len() as i64,
                speed_mm_s: stat(0),
                battery_pct: stat(1),
                temperature_c: stat(2),
                load_kg: stat(3),
            });
            acc.clear();
        };
        let mut current = None;
        for r in rows {
            let start = r.time_ms.div_euclid(bucket_ms) * bucket_ms;
            if current != Some(start) {
                if let Some(c) = current {
                    flush(&mut acc, c, &mut out);
                }
                current = Some(start);
            }
            acc.push([
                f64::from(r.speed_mm_s),
                r.battery_pct,
                r.temperature_c,
                r.load_kg,
            ]);
        }
        if let Some(c) = current {
            flush(&mut acc, c, &mut out);
        }
        out
    }
}
