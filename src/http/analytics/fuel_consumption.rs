use actix_web::{web, HttpResponse};
use serde_json::json;
use urbanstream_schema::store::Window;

use super::Span;
use crate::http::reports::{devices, round};
use crate::http::{ApiError, HttpState};

/// Fuel per vehicle over the window (from the CAN fuel counter, per trip): litres,
/// distance and litres per 100 km, highest consumption first.
#[utoipa::path(get, path = "/api/v1/analytics/fuel-consumption", tag = "analytics", params(Span),
    responses((status = 200, description = "Per vehicle", body = Object)))]
pub async fn fuel_consumption(
    state: web::Data<HttpState>,
    q: web::Query<Span>,
) -> Result<HttpResponse, ApiError> {
    let (from_ms, to_ms) = q.checked()?;
    let who = devices(&state).await?;
    let totals = state
        .store
        .trip_totals(&Window {
            devices: None,
            vehicle: None,
            from_ms,
            to_ms,
        })
        .await?;
    let mut items: Vec<(f64, serde_json::Value)> = totals
        .iter()
        .filter_map(|t| {
            let fuel = t.fuel_used_l?;
            let per_100 = (t.distance_m > 0.0).then(|| fuel / t.distance_m * 100_000.0);
            let d = who.get(&t.device_id);
            Some((
                per_100.unwrap_or(0.0),
                json!({
                    "imei": d.map(|d| d.imei.clone()),
                    "vehicle_id": d.and_then(|d| d.vehicle_id),
                    "fuel_used_l": round(fuel, 2),
                    "distance_km": round(t.distance_m / 1000.0, 3),
                    "l_per_100km": per_100.map(|v| (v * 100.0).round() / 100.0),
                }),
            ))
        })
        .collect();
    items.sort_by(|a, b| b.0.total_cmp(&a.0));
    Ok(HttpResponse::Ok().json(json!({
        "from": from_ms,
        "to": to_ms,
        "items": items.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
    })))
}
