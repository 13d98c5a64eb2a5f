use actix_web::{web, HttpResponse};
use serde_json::json;
use urbanstream_schema::store::Window;

use super::Span;
use crate::http::reports::round;
use crate::http::{ApiError, HttpState};

/// The fleet over the window: vehicles that drove, trips, distance, driving and idle hours,
/// fuel, and alerts by severity.
#[utoipa::path(get, path = "/api/v1/analytics/fleet-summary", tag = "analytics", params(Span),
    responses((status = 200, description = "Fleet totals", body = Object)))]
pub async fn fleet_summary(
    state: web::Data<HttpState>,
    q: web::Query<Span>,
) -> Result<HttpResponse, ApiError> {
    let (from_ms, to_ms) = q.checked()?;
    let w = Window {
        devices: None,
        vehicle: None,
        from_ms,
        to_ms,
    };
    let totals = state.store.trip_totals(&w).await?;
    let sum =
        |f: fn(&urbanstream_schema::store::TripTotals) -> f64| totals.iter().map(f).sum::<f64>();
    let fuel: Option<f64> = totals
        .iter()
        .filter_map(|t| t.fuel_used_l)
        .reduce(|a, b| a + b);
    let alerts: serde_json::Map<String, serde_json::Value> = state
        .store
        .alert_counts(&w)
        .await?
        .into_iter()
        .map(|(severity, n)| (severity, json!(n)))
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "from": from_ms,
        "to": to_ms,
        "trackers_active": totals.len(),
        "trips": totals.iter().map(|t| t.trips).sum::<i64>(),
        "distance_km": round(sum(|t| t.distance_m) / 1000.0, 3),
        "driving_h": round(sum(|t| t.driving_s) / 3600.0, 3),
        "idle_h": round(sum(|t| t.idle_s) / 3600.0, 3),
        "max_speed_kmh": totals.iter().map(|t| t.max_speed_kmh).fold(0.0, f64::max),
        "fuel_used_l": fuel.map(|f| (f * 100.0).round() / 100.0),
        "alerts": alerts,
    })))
}
