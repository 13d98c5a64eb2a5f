use actix_web::{web, HttpResponse};
use serde::Serialize;
use urbanstream_actors::entity::EntityKey;
use urbanstream_actors::vehicle::VehicleSnapshot;
use urbanstream_schema::models::ArrivalRow;

use crate::http::devices::parse_imei;
use crate::http::{ApiError, HttpState};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Upcoming {
    route_id: i64,
    vehicle_id: i64,
    imei: String,
    /// The stop's place in the route.
    seq: usize,
    /// Expected arrival, ms since the epoch.
    eta_ms: i64,
    /// Seconds from now.
    eta_s: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StopArrivals {
    stop_id: i64,
    /// Vehicles on their way, soonest first.
    upcoming: Vec<Upcoming>,
    /// The latest arrivals at the stop, newest first, with dwell times.
    recent: Vec<ArrivalRow>,
}

/// Vehicles expected at a stop, with ETAs from their progress along the route and the
/// segment times learned from the last two weeks of arrivals (per leg and hour of day), and
/// the latest arrivals.
#[utoipa::path(get, path = "/api/v1/stops/{id}/arrivals", tag = "transit",
    params(("id" = i64, Path, description = "Stop id")),
    responses((status = 200, description = "Upcoming and recent arrivals", body = StopArrivals),
        (status = 404, description = "No such stop", body = crate::http::error::ErrorBody)))]
pub async fn arrivals(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    if state.store.stop(*id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no stop {id}")));
    }
    let now = crate::auth::now_ms();
    let index = state.routes.current();
    let mut upcoming = Vec::new();
    for route_id in state.store.routes_of_stop(*id).await? {
        let Some(def) = index.routes.get(&route_id) else {
            continue;
        };
        let wanted: Vec<usize> = def
            .stops
            .iter()
            .enumerate()
            .filter(|(_, s)| s.id == *id)
            .map(|(i, _)| i)
            .collect();
        let model = state.eta.model(&state, route_id, now).await?;
        for a in state.store.route_vehicles(route_id).await? {
            for d in state.store.devices_of_vehicle(a.vehicle_id).await? {
                let imei = parse_imei(&d.imei)?;
                let Some(progress) = state
                    .directory
                    .latest_as::<VehicleSnapshot>(&EntityKey::Tracker(imei))
                    .and_then(|s| s.route)
                    .filter(|p| p.route == route_id)
                else {
                    continue;
                };
                for p in model.predict(def, &progress, now) {
                    if wanted.contains(&p.seq) {
                        upcoming.push(Upcoming {
                            route_id,
                            vehicle_id: a.vehicle_id,
                            imei: d.imei.clone(),
                            seq: p.seq,
                            eta_ms: p.eta_ms,
                            eta_s: (p.eta_ms - now) / 1000,
                        });
                        break;
                    }
                }
            }
        }
    }
    upcoming.sort_by_key(|u| u.eta_ms);
    let recent = state.store.stop_arrivals(*id, 20).await?;
    Ok(HttpResponse::Ok().json(StopArrivals {
        stop_id: *id,
        upcoming,
        recent,
    }))
}
