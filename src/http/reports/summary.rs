use actix_web::{web, HttpResponse};
use serde_json::json;

use super::{round, ReportQuery, Table};
use crate::http::{ApiError, HttpState};

/// Per tracker over the window: trips, distance, driving and idle time, top speed, fuel.
#[utoipa::path(get, path = "/api/v1/reports/summary", tag = "reports", params(ReportQuery),
    responses((status = 200, description = "One row per tracker", content((Object = "application/json"), (String = "text/csv"))),
        (status = 404, description = "No such vehicle or tracker", body = crate::http::error::ErrorBody)))]
pub async fn summary(
    state: web::Data<HttpState>,
    q: web::Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    let (csv, w, who) = q.prepare(&state).await?;
    let totals = state.store.trip_totals(&w).await?;
    Ok(Table {
        name: "summary",
        columns: &[
            "imei",
            "vehicle_id",
            "trips",
            "distance_km",
            "driving_h",
            "idle_h",
            "max_speed_kmh",
            "fuel_used_l",
            "fuel_l_per_100km",
        ],
        rows: totals
            .iter()
            .map(|t| {
                let d = who.get(&t.device_id);
                let per_100 = t
                    .fuel_used_l
                    .filter(|_| t.distance_m > 0.0)
                    .map(|f| f / t.distance_m * 100_000.0);
                vec![
                    json!(d.map(|d| d.imei.clone())),
                    json!(d.and_then(|d| d.vehicle_id)),
                    json!(t.trips),
                    round(t.distance_m / 1000.0, 3),
                    round(t.driving_s / 3600.0, 3),
                    round(t.idle_s / 3600.0, 3),
                    round(t.max_speed_kmh, 1),
                    json!(t.fuel_used_l.map(|f| (f * 100.0).round() / 100.0)),
                    json!(per_100.map(|f| (f * 100.0).round() / 100.0)),
                ]
            })
            .collect(),
        truncated: false,
    }
    .respond(csv))
}
