use actix_web::{web, HttpResponse};
use chrono::{Timelike, Utc};
use serde_json::json;
use urbanstream_actors::entity::Motion;
use urbanstream_actors::vehicle::VehicleSnapshot;

use crate::http::{ApiError, HttpState};

/// `GET /api/v1/fleet/summary`: trackers by state, distance driven and fuel used today (UTC).
/// Edge nodes and robots are devices too, but not the fleet's.
#[utoipa::path(get, path = "/api/v1/fleet/summary", tag = "fleet", responses((status = 200, description = "Devices by state, distance and fuel today (UTC)", body = Object)))]
pub async fn summary(state: web::Data<HttpState>) -> Result<HttpResponse, ApiError> {
    let total = state
        .store
        .devices()
        .await?
        .iter()
        .filter(|d| d.kind == "tracker")
        .count();
    let fleet = state.directory.all_as::<VehicleSnapshot>();
    let count = |m: Motion| fleet.iter().filter(|s| s.motion == m).count();
    let online = fleet.iter().filter(|s| s.motion != Motion::Offline).count();
    let now = Utc::now();
    let midnight = now
        .with_hour(0)
        .and_then(|t| t.with_minute(0))
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(now);
    let distance_m = state
        .store
        .distance_since(midnight.timestamp_millis())
        .await?;
    let fuel_l = state
        .store
        .fuel_used_since(midnight.timestamp_millis())
        .await?;
    Ok(HttpResponse::Ok().json(json!({
        "total": total,
        "online": online,
        "offline": total.saturating_sub(online),
        "moving": count(Motion::Moving),
        "idling": count(Motion::Idling),
        "parked": count(Motion::Parked),
        "distance_today_km": distance_m / 1000.0,
        "fuel_used_today_l": fuel_l,
        "since": midnight,
    })))
}
