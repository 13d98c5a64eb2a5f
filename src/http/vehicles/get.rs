use actix_web::{web, HttpResponse};

use crate::http::{ApiError, HttpState};

/// `GET /api/v1/vehicles/{id}`.
#[utoipa::path(get, path = "/api/v1/vehicles/{id}", tag = "vehicles", params(("id" = i64, Path, description = "Vehicle id")), responses((status = 200, description = "The vehicle", body = urbanstream_schema::models::VehicleRow), (status = 404, description = "No such vehicle", body = crate::http::error::ErrorBody)))]
pub async fn get(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    match state.store.vehicle(*id).await? {
        Some(v) => Ok(HttpResponse::Ok().json(v)),
        None => Err(ApiError::NotFound(format!("no vehicle {id}"))),
    }
}
