use actix_web::{web, HttpResponse};
use urbanstream_schema::models::StopRow;

use crate::http::{ApiError, HttpState};

/// One stop.
#[utoipa::path(get, path = "/api/v1/stops/{id}", tag = "transit",
    params(("id" = i64, Path, description = "Stop id")),
    responses((status = 200, description = "The stop", body = StopRow),
        (status = 404, description = "No such stop", body = crate::http::error::ErrorBody)))]
pub async fn get(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    match state.store.stop(*id).await? {
        Some(s) => Ok(HttpResponse::Ok().json(s)),
        None => Err(ApiError::NotFound(format!("no stop {id}"))),
    }
}
