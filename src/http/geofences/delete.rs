use actix_web::{web, HttpResponse};

use super::reload;
use crate::http::{ApiError, HttpState};

/// Deletes a geofence; a vehicle inside it gets its exit event at its next fix.
#[utoipa::path(delete, path = "/api/v1/geofences/{id}", tag = "geofences",
    params(("id" = i64, Path, description = "Geofence id")),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such geofence", body = crate::http::error::ErrorBody)))]
pub async fn delete(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if !state.store.delete_geofence(id).await? {
        return Err(ApiError::NotFound(format!("geofence {id} does not exist")));
    }
    reload(&state).await?;
    Ok(HttpResponse::NoContent().finish())
}
