use actix_web::{web, HttpResponse};

use crate::http::transit::reload;
use crate::http::{ApiError, HttpState};

/// Takes a vehicle off the route.
#[utoipa::path(delete, path = "/api/v1/routes/{id}/vehicles/{vehicle_id}", tag = "transit",
    params(("id" = i64, Path, description = "Route id"), ("vehicle_id" = i64, Path, description = "Vehicle id")),
    responses((status = 204, description = "Unassigned"),
        (status = 404, description = "The vehicle is not on this route", body = crate::http::error::ErrorBody)))]
pub async fn unassign(
    state: web::Data<HttpState>,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (route, vehicle) = path.into_inner();
    let on_route = state
        .store
        .route_vehicles(route)
        .await?
        .iter()
        .any(|a| a.vehicle_id == vehicle);
    if !on_route || !state.store.unassign_route(vehicle).await? {
        return Err(ApiError::NotFound(format!(
            "vehicle {vehicle} is not on route {route}"
        )));
    }
    reload(&state).await?;
    Ok(HttpResponse::NoContent().finish())
}
