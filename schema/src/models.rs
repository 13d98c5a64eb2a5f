//! Rows as diesel reads and writes them.

use diesel::prelude::*;
use serde::Serialize;

use crate::schema::{devices, telemetry};

/// One telemetry record, as stored.
#[derive(Debug, Clone, PartialEq, Insertable, Queryable, Selectable, Serialize)]
#[diesel(table_name = telemetry)]
pub struct TelemetryRow {
    pub device_id: i64,
    pub device_time_ms: i64,
    pub server_time_ms: i64,
    pub lat: f64,
    pub lon: f64,
    pub altitude: i32,
    pub speed_kmh: i32,
    pub heading: i32,
    pub satellites: i32,
    pub fix: bool,
    pub hdop: Option<f64>,
    pub ignition: Option<bool>,
    pub movement: Option<bool>,
    pub external_voltage_v: Option<f64>,
    pub battery_voltage_v: Option<f64>,
    pub gsm_signal: Option<i32>,
    pub distance_m: f64,
    pub late: bool,
    /// Every IO element, raw by id and named by profile, as JSON.
    pub io: String,
}

/// A registered device.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize)]
#[diesel(table_name = devices)]
pub struct DeviceRow {
    pub id: i64,
    pub imei: String,
    pub name: Option<String>,
    pub model: String,
    pub vehicle_id: Option<i64>,
    pub online: bool,
    pub last_seen_ms: Option<i64>,
    pub firmware: Option<String>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = devices)]
pub struct NewDevice<'a> {
    pub imei: &'a str,
    pub name: Option<&'a str>,
    pub model: &'a str,
}

/// A vehicle event to store (trip start/stop, online/offline, motion change).
#[derive(Debug, Clone, PartialEq, Insertable, Serialize)]
#[diesel(table_name = crate::schema::events)]
pub struct NewEvent {
    pub device_id: i64,
    pub time_ms: i64,
    pub kind: String,
    /// Event details as JSON.
    pub data: String,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize)]
#[diesel(table_name = crate::schema::events)]
pub struct EventRow {
    pub id: i64,
    pub device_id: i64,
    pub time_ms: i64,
    pub kind: String,
    pub data: String,
}

/// A vehicle.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize)]
#[diesel(table_name = crate::schema::vehicles)]
pub struct VehicleRow {
    pub id: i64,
    pub registration: String,
    pub vehicle_type: String,
    pub make: Option<String>,
    pub model: Option<String>,
    pub year: Option<i32>,
    pub capacity: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Insertable, serde::Deserialize)]
#[diesel(table_name = crate::schema::vehicles)]
#[serde(deny_unknown_fields)]
pub struct NewVehicle {
    pub registration: String,
    #[serde(default = "default_vehicle_type")]
    pub vehicle_type: String,
    pub make: Option<String>,
    pub model: Option<String>,
    pub year: Option<i32>,
    pub capacity: Option<i32>,
}

fn default_vehicle_type() -> String {
    "bus".into()
}

/// Fields of a vehicle to change; absent ones stay.
#[derive(Debug, Clone, PartialEq, Default, AsChangeset, serde::Deserialize)]
#[diesel(table_name = crate::schema::vehicles)]
#[serde(deny_unknown_fields)]
pub struct VehicleChanges {
    pub registration: Option<String>,
    pub vehicle_type: Option<String>,
    pub make: Option<String>,
    pub model: Option<String>,
    pub year: Option<i32>,
    pub capacity: Option<i32>,
}

/// Fields of a device to change; absent ones stay.
#[derive(Debug, Clone, PartialEq, Default, AsChangeset, serde::Deserialize)]
#[diesel(table_name = crate::schema::devices)]
#[serde(deny_unknown_fields)]
pub struct DeviceChanges {
    pub name: Option<String>,
    pub model: Option<String>,
    pub firmware: Option<String>,
}

/// CAN bus values of one record.
#[derive(Debug, Clone, PartialEq, Default, Insertable, Queryable, Selectable, Serialize)]
#[diesel(table_name = crate::schema::can_data)]
pub struct CanRow {
    pub device_id: i64,
    pub device_time_ms: i64,
    pub engine_rpm: Option<i32>,
    pub engine_hours_h: Option<f64>,
    pub coolant_temp_c: Option<f64>,
    pub engine_load_pct: Option<f64>,
    pub fuel_level_l: Option<f64>,
    pub fuel_level_pct: Option<f64>,
    pub fuel_used_l: Option<f64>,
    pub fuel_rate_lph: Option<f64>,
    pub vehicle_speed_kmh: Option<f64>,
    pub odometer_m: Option<f64>,
    pub accelerator_pct: Option<f64>,
    /// Trouble codes, comma separated.
    pub dtc_codes: Option<String>,
    /// Door bit mask.
    pub doors: Option<i32>,
}
