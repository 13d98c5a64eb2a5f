use actix_web::{web, HttpResponse};
use urbanstream_actors::geo::geojson::feature;

use super::{reload, to_data, FenceFeature};
use crate::http::{ApiError, HttpState};

/// Replaces a geofence's geometry and properties.
#[utoipa::path(put, path = "/api/v1/geofences/{id}", tag = "geofences",
    params(("id" = i64, Path, description = "Geofence id")), request_body = FenceFeature,
    responses((status = 200, description = "The stored Feature", body = Object),
        (status = 404, description = "No such geofence", body = crate::http::error::ErrorBody)))]
pub async fn replace(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
    body: web::Json<FenceFeature>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let data = to_data(body.into_inner())?;
    let row = state
        .store
        .update_geofence(id, data)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("geofence {id} does not exist")))?;
    reload(&state).await?;
    Ok(HttpResponse::Ok().json(feature(&row)))
}
