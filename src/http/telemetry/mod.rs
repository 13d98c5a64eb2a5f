pub mod export;
pub mod history;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use urbanstream_schema::models::DeviceRow;
use utoipa::ToSchema;

use super::devices::parse_imei;
use super::{ApiError, HttpState};

/// One device's time window.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Window {
    pub imei: String,
    /// RFC 3339; default 24 h before `to`.
    pub from: Option<DateTime<Utc>>,
    /// RFC 3339, exclusive; default now.
    pub to: Option<DateTime<Utc>>,
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page (history only).
    pub cursor: Option<i64>,
    /// `csv`, `json` or `gpx` (export only).
    pub format: Option<String>,
}

/// Validated window: the device and the time range in milliseconds.
pub struct Resolved {
    pub device: DeviceRow,
    pub from_ms: i64,
    pub to_ms: i64,
}

pub async fn resolve(state: &HttpState, w: &Window) -> Result<Resolved, ApiError> {
    let imei = parse_imei(&w.imei)?;
    let to = w.to.unwrap_or_else(Utc::now);
    let from = w.from.unwrap_or(to - chrono::Duration::hours(24));
    if from >= to {
        return Err(ApiError::BadRequest("`from` must be before `to`".into()));
    }
    let device = state
        .store
        .device(&imei.to_string())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("device {imei} is not registered")))?;
    Ok(Resolved {
        device,
        from_ms: from.timestamp_millis(),
        to_ms: to.timestamp_millis(),
    })
}

/// A stored record as the API shows it: columns, `device_time` in RFC 3339, `io` as JSON.
pub fn row_json(r: &urbanstream_schema::models::TelemetryRow) -> serde_json::Value {
    let io: serde_json::Value = serde_json::from_str(&r.io).unwrap_or_default();
    let mut v = serde_json::to_value(r).unwrap_or_default();
    if let Some(m) = v.as_object_mut() {
        m.insert("io".into(), io);
        let time = DateTime::<Utc>::from_timestamp_millis(r.device_time_ms)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        m.insert("device_time".into(), serde_json::json!(time));
    }
    v
}

/// A stored record: the telemetry columns, `device_time` in RFC 3339 and `io`, every IO
/// element of the record by name (raw ids as `io<N>`).
#[derive(Debug, Serialize, ToSchema)]
pub struct TelemetryRecord {
    pub device_id: i64,
    pub device_time_ms: i64,
    pub device_time: Option<String>,
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
    /// Arrived after newer records (a device flushing its buffer).
    pub late: bool,
    #[schema(value_type = Object)]
    pub io: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceHistory {
    pub imei: String,
    pub from: String,
    pub to: String,
    pub items: Vec<TelemetryRecord>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TelemetryPage {
    pub imei: String,
    pub items: Vec<TelemetryRecord>,
    pub next_cursor: Option<i64>,
}
