use actix_web::{web, HttpResponse};
use serde_json::json;
use urbanstream_schema::store::{Window, SPEED_BANDS};

use super::Span;
use crate::http::reports::round;
use crate::http::{ApiError, HttpState};

/// One vehicle over the window: distance, fuel, engine hours, idle time, and its speed
/// profile (share of records per speed band).
#[utoipa::path(get, path = "/api/v1/analytics/vehicle/{id}/stats", tag = "analytics", params(("id" = i64, Path, description = "Vehicle id"), Span),
    responses((status = 200, description = "The vehicle's figures", body = Object),
        (status = 404, description = "No such vehicle", body = crate::http::error::ErrorBody)))]
pub async fn vehicle_stats(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
    q: web::Query<Span>,
) -> Result<HttpResponse, ApiError> {
    let (from_ms, to_ms) = q.checked()?;
    if state.store.vehicle(*id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no vehicle {id}")));
    }
    let devices: Vec<i64> = state
        .store
        .devices_of_vehicle(*id)
        .await?
        .iter()
        .map(|d| d.id)
        .collect();
    let w = Window {
        devices: Some(devices),
        vehicle: Some(*id),
        from_ms,
        to_ms,
    };
    let totals = state.store.trip_totals(&w).await?;
    let profile = state.store.speed_profile(&w).await?;
    let records: i64 = profile.iter().sum();
    let bands: Vec<serde_json::Value> = SPEED_BANDS
        .iter()
        .zip(&profile)
        .map(|((lo, hi), n)| {
            json!({
                "from_kmh": lo,
                "to_kmh": (*hi != i32::MAX).then_some(*hi),
                "records": n,
                "share_pct": if records > 0 { (*n as f64 * 1000.0 / records as f64).round() / 10.0 } else { 0.0 },
            })
        })
        .collect();
    let distance: f64 = totals.iter().map(|t| t.distance_m).sum();
    let driving: f64 = totals.iter().map(|t| t.driving_s).sum();
    let idle: f64 = totals.iter().map(|t| t.idle_s).sum();
    let fuel: Option<f64> = totals
        .iter()
        .filter_map(|t| t.fuel_used_l)
        .reduce(|a, b| a + b);
    Ok(HttpResponse::Ok().json(json!({
        "vehicle_id": *id,
        "from": from_ms,
        "to": to_ms,
        "trips": totals.iter().map(|t| t.trips).sum::<i64>(),
        "distance_km": round(distance / 1000.0, 3),
        "engine_hours": round(driving / 3600.0, 3),
        "idle_h": round(idle / 3600.0, 3),
        "avg_speed_kmh": if driving > 0.0 { round(distance / driving * 3.6, 1) } else { json!(null) },
        "max_speed_kmh": totals.iter().map(|t| t.max_speed_kmh).fold(0.0, f64::max),
        "fuel_used_l": fuel.map(|f| (f * 100.0).round() / 100.0),
        "speed_profile": bands,
    })))
}
