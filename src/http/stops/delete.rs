use actix_web::{web, HttpResponse};

use crate::http::{ApiError, HttpState};

/// Deletes a stop that no route calls at.
#[utoipa::path(delete, path = "/api/v1/stops/{id}", tag = "transit",
    params(("id" = i64, Path, description = "Stop id")),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such stop", body = crate::http::error::ErrorBody),
        (status = 409, description = "A route still calls at it", body = crate::http::error::ErrorBody)))]
pub async fn delete(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    if !state.store.routes_of_stop(*id).await?.is_empty() {
        return Err(ApiError::Conflict(format!(
            "stop {id} is on a route; take it off first"
        )));
    }
    if state.store.delete_stop(*id).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound(format!("no stop {id}")))
    }
}
