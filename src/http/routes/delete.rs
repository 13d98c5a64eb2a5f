use actix_web::{web, HttpResponse};

use crate::http::transit::reload;
use crate::http::{ApiError, HttpState};

/// Deletes a route with its stop list, timetable and assignments; arrivals stay.
#[utoipa::path(delete, path = "/api/v1/routes/{id}", tag = "transit",
    params(("id" = i64, Path, description = "Route id")),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such route", body = crate::http::error::ErrorBody)))]
pub async fn delete(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    if !state.store.delete_route(*id).await? {
        return Err(ApiError::NotFound(format!("no route {id}")));
    }
    reload(&state).await?;
    Ok(HttpResponse::NoContent().finish())
}
