use actix_web::{web, HttpResponse};
use urbanstream_actors::geo::geojson::feature;

use crate::http::{ApiError, HttpState};

/// One geofence as a GeoJSON Feature.
#[utoipa::path(get, path = "/api/v1/geofences/{id}", tag = "geofences",
    params(("id" = i64, Path, description = "Geofence id")),
    responses((status = 200, description = "The Feature", body = Object),
        (status = 404, description = "No such geofence", body = crate::http::error::ErrorBody)))]
pub async fn get(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    match state.store.geofence(id).await? {
        Some(row) => Ok(HttpResponse::Ok().json(feature(&row))),
        None => Err(ApiError::NotFound(format!("geofence {id} does not exist"))),
    }
}
