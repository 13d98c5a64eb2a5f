use actix_web::{web, HttpResponse};
use urbanstream_schema::models::NewVehicle;
use urbanstream_schema::store::is_conflict;

use super::check_year;
use crate::http::{ApiError, HttpState};

/// `PUT /api/v1/vehicles/{id}`: replaces every field of the vehicle (absent optional fields
/// become empty, `vehicle_type` defaults to `bus`), as `POST` would create it.
#[utoipa::path(put, path = "/api/v1/vehicles/{id}", tag = "vehicles", params(("id" = i64, Path, description = "Vehicle id")), request_body = NewVehicle, responses((status = 200, description = "Replaced", body = urbanstream_schema::models::VehicleRow), (status = 400, description = "Bad field", body = crate::http::error::ErrorBody), (status = 404, description = "No such vehicle", body = crate::http::error::ErrorBody), (status = 409, description = "Registration taken", body = crate::http::error::ErrorBody)))]
pub async fn replace(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
    body: web::Json<NewVehicle>,
) -> Result<HttpResponse, ApiError> {
    check_year(body.year)?;
    if body.registration.trim().is_empty() {
        return Err(ApiError::BadRequest(
            "registration must not be empty".into(),
        ));
    }
    match state.store.replace_vehicle(*id, body.into_inner()).await {
        Ok(Some(v)) => Ok(HttpResponse::Ok().json(v)),
        Ok(None) => Err(ApiError::NotFound(format!("no vehicle {id}"))),
        Err(e) if is_conflict(&e) => Err(ApiError::Conflict("registration already used".into())),
        Err(e) => Err(e.into()),
    }
}
