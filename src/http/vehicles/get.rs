use actix_web::{web, HttpResponse};

use crate::http::{ApiError, HttpState};

/// `GET /api/v1/vehicles/{id}`.
pub async fn get(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    match state.store.vehicle(*id).await? {
        Some(v) => Ok(HttpResponse::Ok().json(v)),
        None => Err(ApiError::NotFound(format!("no vehicle {id}"))),
    }
}
