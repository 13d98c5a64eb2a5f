use actix_web::{web, HttpResponse};
use urbanstream_schema::models::VehicleChanges;
use urbanstream_schema::store::is_conflict;

use super::check_year;
use crate::http::{ApiError, HttpState};

/// `PATCH /api/v1/vehicles/{id}`.
#[utoipa::path(patch, path = "/api/v1/vehicles/{id}", tag = "vehicles", params(("id" = i64, Path, description = "Vehicle id")), request_body = urbanstream_schema::models::VehicleChanges, responses((status = 200, description = "Changed", body = urbanstream_schema::models::VehicleRow), (status = 404, description = "No such vehicle", body = crate::http::error::ErrorBody), (status = 409, description = "Registration taken", body = crate::http::error::ErrorBody)))]
pub async fn update(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
    body: web::Json<VehicleChanges>,
) -> Result<HttpResponse, ApiError> {
    check_year(body.year)?;
    match state.store.update_vehicle(*id, body.into_inner()).await {
        Ok(Some(v)) => Ok(HttpResponse::Ok().json(v)),
        Ok(None) => Err(ApiError::NotFound(format!("no vehicle {id}"))),
        Err(e) if is_conflict(&e) => Err(ApiError::Conflict("registration already used".into())),
        Err(e) => Err(e.into()),
    }
}
