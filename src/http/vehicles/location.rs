use actix_web::{web, HttpResponse};
use serde_json::json;
use urbanstream_actors::entity::EntityKey;
use urbanstream_actors::vehicle::VehicleSnapshot;

use crate::http::devices::parse_imei;
use crate::http::{ApiError, HttpState};

/// `GET /api/v1/vehicles/{id}/location`: the latest position of the vehicle's trackers.
#[utoipa::path(get, path = "/api/v1/vehicles/{id}/location", tag = "vehicles", params(("id" = i64, Path, description = "Vehicle id")), responses((status = 200, description = "Latest position of the vehicle's trackers", body = Object), (status = 404, description = "No such vehicle or no position", body = crate::http::error::ErrorBody)))]
pub async fn location(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    if state.store.vehicle(*id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no vehicle {id}")));
    }
    let mut best: Option<serde_json::Value> = None;
    let mut best_time = None;
    for d in state.store.devices_of_vehicle(*id).await? {
        let imei = parse_imei(&d.imei)?;
        let snapshot = state
            .directory
            .latest_as::<VehicleSnapshot>(&EntityKey::Tracker(imei));
        let Some(live) = snapshot.and_then(|s| s.live.map(|l| (l, s.motion))) else {
            continue;
        };
        let (live, motion) = live;
        let Some(pos) = live.position else { continue };
        if best_time.is_none_or(|t| pos.device_time > t) {
            best_time = Some(pos.device_time);
            best = Some(json!({
                "vehicle_id": *id,
                "imei": d.imei,
                "position": pos,
                "speed_kmh": live.speed_kmh,
                "motion": motion,
            }));
        }
    }
    best.map(|b| HttpResponse::Ok().json(b))
        .ok_or_else(|| ApiError::NotFound(format!("no position known for vehicle {id}")))
}
