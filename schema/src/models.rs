//! Rows as diesel reads and writes them.

use diesel::prelude::*;
use serde::Serialize;

use crate::schema::{devices, telemetry};

/// One telemetry record, as stored.
#[derive(Debug, Clone, PartialEq, Default, Insertable, Queryable, Selectable, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize, utoipa::ToSchema)]
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
    /// `tracker` or `edge_node`; `imei` holds the device's own identifier.
    pub kind: String,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = devices)]
pub struct NewDevice<'a> {
    pub imei: &'a str,
    pub name: Option<&'a str>,
    pub model: &'a str,
    pub kind: &'a str,
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
    /// What the event is about besides the device (a geofence id); empty for none.
    pub subject: String,
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
    pub subject: String,
}

/// A vehicle.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = crate::schema::vehicles)]
pub struct VehicleRow {
    pub id: i64,
    pub registration: String,
    pub vehicle_type: String,
    pub make: Option<String>,
    pub model: Option<String>,
    pub year: Option<i32>,
    pub capacity: Option<i32>,
    /// Fleet group, for alert rules that target groups.
    pub group_name: Option<String>,
}

/// A vehicle's writable fields: what `POST` creates and `PUT` replaces whole (absent
/// optional fields become empty).
#[derive(
    Debug, Clone, PartialEq, Insertable, AsChangeset, serde::Deserialize, utoipa::ToSchema,
)]
#[diesel(table_name = crate::schema::vehicles, treat_none_as_null = true)]
#[serde(deny_unknown_fields)]
pub struct NewVehicle {
    pub registration: String,
    #[serde(default = "default_vehicle_type")]
    pub vehicle_type: String,
    pub make: Option<String>,
    pub model: Option<String>,
    pub year: Option<i32>,
    pub capacity: Option<i32>,
    /// Fleet group, for alert rules that target groups.
    pub group_name: Option<String>,
}

fn default_vehicle_type() -> String {
    "bus".into()
}

/// Fields of a vehicle to change; absent ones stay.
#[derive(Debug, Clone, PartialEq, Default, AsChangeset, serde::Deserialize, utoipa::ToSchema)]
#[diesel(table_name = crate::schema::vehicles)]
#[serde(deny_unknown_fields)]
pub struct VehicleChanges {
    pub registration: Option<String>,
    pub vehicle_type: Option<String>,
    pub make: Option<String>,
    pub model: Option<String>,
    pub year: Option<i32>,
    pub capacity: Option<i32>,
    /// Fleet group, for alert rules that target groups.
    pub group_name: Option<String>,
}

/// A device's writable fields, all of them: what `PUT` replaces (absent optional fields
/// become empty).
#[derive(Debug, Clone, PartialEq, AsChangeset, serde::Deserialize, utoipa::ToSchema)]
#[diesel(table_name = crate::schema::devices, treat_none_as_null = true)]
#[serde(deny_unknown_fields)]
pub struct DeviceReplace {
    pub name: Option<String>,
    pub model: String,
    pub firmware: Option<String>,
}

/// Fields of a device to change; absent ones stay.
#[derive(Debug, Clone, PartialEq, Default, AsChangeset, serde::Deserialize, utoipa::ToSchema)]
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
    pub brake_active: Option<bool>,
    pub cruise_control: Option<bool>,
    pub check_engine: Option<bool>,
    pub door1_open: Option<bool>,
    pub door2_open: Option<bool>,
    pub door3_open: Option<bool>,
}

/// An API user. `password_hash` is an argon2id PHC string; it never leaves the server.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = crate::schema::users)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub disabled: bool,
    pub created_ms: i64,
    pub password_changed_ms: i64,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = crate::schema::users)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub disabled: bool,
    pub created_ms: i64,
    pub password_changed_ms: i64,
}

/// What an admin may change about a user.
#[derive(Debug, Clone, PartialEq, Default, AsChangeset)]
#[diesel(table_name = crate::schema::users)]
pub struct UserChanges {
    pub role: Option<String>,
    pub disabled: Option<bool>,
    pub password_hash: Option<String>,
    pub password_changed_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = crate::schema::refresh_tokens)]
pub struct RefreshTokenRow {
    pub id: i64,
    pub user_id: i64,
    pub family: String,
    pub token_hash: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub rotated_ms: Option<i64>,
    pub revoked_ms: Option<i64>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = crate::schema::refresh_tokens)]
pub struct NewRefreshToken<'a> {
    pub user_id: i64,
    pub family: &'a str,
    pub token_hash: &'a str,
    pub created_ms: i64,
    pub expires_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = crate::schema::api_keys)]
pub struct ApiKeyRow {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    #[serde(skip)]
    pub key_hash: String,
    pub role: String,
    pub created_ms: i64,
    pub created_by: String,
    pub last_used_ms: Option<i64>,
    pub revoked_ms: Option<i64>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = crate::schema::api_keys)]
pub struct NewApiKey<'a> {
    pub name: &'a str,
    pub prefix: &'a str,
    pub key_hash: &'a str,
    pub role: &'a str,
    pub created_ms: i64,
    pub created_by: &'a str,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = crate::schema::audit_log)]
pub struct AuditRow {
    pub id: i64,
    pub time_ms: i64,
    pub actor: String,
    pub actor_kind: String,
    pub action: String,
    pub resource: String,
    pub status: i32,
    pub ip: Option<String>,
    pub request_id: String,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Insertable)]
#[diesel(table_name = crate::schema::audit_log)]
pub struct NewAudit {
    pub time_ms: i64,
    pub actor: String,
    pub actor_kind: String,
    pub action: String,
    pub resource: String,
    pub status: i32,
    pub ip: Option<String>,
    pub request_id: String,
    pub detail: Option<String>,
}

/// A geofence as stored: its GeoJSON geometry and how it is watched.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = crate::schema::geofences)]
pub struct GeofenceRow {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub geometry: String,
    pub radius_m: Option<f64>,
    pub width_m: Option<f64>,
    pub hysteresis_m: f64,
    pub speed_limit_kmh: Option<f64>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Insertable, AsChangeset)]
#[diesel(table_name = crate::schema::geofences)]
#[diesel(treat_none_as_null = true)]
pub struct GeofenceData {
    pub name: String,
    pub kind: String,
    pub geometry: String,
    pub radius_m: Option<f64>,
    pub width_m: Option<f64>,
    pub hysteresis_m: f64,
    pub speed_limit_kmh: Option<f64>,
    pub updated_ms: i64,
}

mod operations;
pub use operations::*;

mod network;
pub use network::*;

mod edge;
pub use edge::*;

mod robot;
pub use robot::*;

mod people;
pub use people::*;

mod quarantine;
pub use quarantine::*;
