use actix_web::{web, HttpResponse};
use urbanstream_schema::models::NewVehicle;
use urbanstream_schema::store::is_conflict;

use super::check_year;
use crate::http::{ApiError, HttpState};

/// `POST /api/v1/vehicles`.
#[utoipa::path(post, path = "/api/v1/vehicles", tag = "vehicles", request_body = urbanstream_schema::models::NewVehicle, responses((status = 201, description = "Created", body = urbanstream_schema::models::VehicleRow), (status = 409, description = "Registration taken", body = crate::http::error::ErrorBody)))]
pub async fn create(
    state: web::Data<HttpState>,
    body: web::Json<NewVehicle>,
) -> Result<HttpResponse, ApiError> {
    let v = body.into_inner();
    if v.registration.trim().is_empty() {
        return Err(ApiError::BadRequest(
            "registration must not be empty".into(),
        ));
    }
    check_year(v.year)?;
    let registration = v.registration.clone();
    let row = state.store.create_vehicle(v).await.map_err(|e| {
        if is_conflict(&e) {
            ApiError::Conflict(format!("a vehicle with registration {registration} exists"))
        } else {
            e.into()
        }
    })?;
    Ok(HttpResponse::Created().json(row))
}
