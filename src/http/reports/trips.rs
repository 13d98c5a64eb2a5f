use actix_web::{web, HttpResponse};
use serde_json::json;

use super::{round, time, ReportQuery, Table, MAX_ROWS};
use crate::http::{ApiError, HttpState};

/// Trips in the window (by start), oldest first: when, where from and to, distance, time,
/// top speed, idling and fuel.
#[utoipa::path(get, path = "/api/v1/reports/trips", tag = "reports", params(ReportQuery),
    responses((status = 200, description = "Trips", content((Object = "application/json"), (String = "text/csv"))),
        (status = 404, description = "No such vehicle or tracker", body = crate::http::error::ErrorBody)))]
pub async fn trips(
    state: web::Data<HttpState>,
    q: web::Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    let (csv, w, who) = q.prepare(&state).await?;
    let rows = state.store.trips_in(&w, MAX_ROWS).await?;
    Ok(Table {
        name: "trips",
        columns: &[
            "imei",
            "vehicle_id",
            "start",
            "end",
            "duration_s",
            "distance_km",
            "max_speed_kmh",
            "avg_speed_kmh",
            "idle_s",
            "fuel_used_l",
            "start_lat",
            "start_lon",
            "end_lat",
            "end_lon",
        ],
        rows: rows
            .iter()
            .map(|t| {
                let d = who.get(&t.device_id);
                let avg = if t.duration_s > 0 {
                    t.distance_m / t.duration_s as f64 * 3.6
                } else {
                    0.0
                };
                vec![
                    json!(d.map(|d| d.imei.clone())),
                    json!(t.vehicle_id),
                    time(t.start_ms),
                    time(t.end_ms),
                    json!(t.duration_s),
                    round(t.distance_m / 1000.0, 3),
                    round(t.max_speed_kmh, 1),
                    round(avg, 1),
                    round(t.idle_s, 0),
                    json!(t.fuel_used_l),
                    json!(t.start_lat),
                    json!(t.start_lon),
                    json!(t.end_lat),
                    json!(t.end_lon),
                ]
            })
            .collect(),
        truncated: rows.len() as i64 >= MAX_ROWS,
    }
    .respond(csv))
}
