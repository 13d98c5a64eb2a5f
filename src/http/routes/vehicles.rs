use actix_web::{web, HttpResponse};
use serde::Serialize;
use urbanstream_actors::entity::EntityKey;
use urbanstream_actors::transit::Progress;
use urbanstream_actors::vehicle::VehicleSnapshot;

use crate::http::devices::parse_imei;
use crate::http::{ApiError, HttpState};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RouteVehicle {
    vehicle_id: i64,
    assigned_ms: i64,
    /// The vehicle's trackers and where each is on the route (absent before its first
    /// stop).
    #[schema(value_type = Vec<Object>)]
    trackers: Vec<serde_json::Value>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RouteVehicleList {
    items: Vec<RouteVehicle>,
}

/// Vehicles assigned to a route, with their live progress along it.
#[utoipa::path(get, path = "/api/v1/routes/{id}/vehicles", tag = "transit",
    params(("id" = i64, Path, description = "Route id")),
    responses((status = 200, description = "Assigned vehicles", body = RouteVehicleList),
        (status = 404, description = "No such route", body = crate::http::error::ErrorBody)))]
pub async fn vehicles(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    if state.store.route(*id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no route {id}")));
    }
    let mut items = Vec::new();
    for a in state.store.route_vehicles(*id).await? {
        let mut trackers = Vec::new();
        for d in state.store.devices_of_vehicle(a.vehicle_id).await? {
            let imei = parse_imei(&d.imei)?;
            let progress: Option<Progress> = state
                .directory
                .latest_as::<VehicleSnapshot>(&EntityKey::Tracker(imei))
                .and_then(|s| s.route)
                .filter(|p| p.route == *id);
            trackers.push(serde_json::json!({ "imei": d.imei, "progress": progress }));
        }
        items.push(RouteVehicle {
            vehicle_id: a.vehicle_id,
            assigned_ms: a.assigned_ms,
            trackers,
        });
    }
    Ok(HttpResponse::Ok().json(RouteVehicleList { items }))
}
