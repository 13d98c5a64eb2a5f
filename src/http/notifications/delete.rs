use actix_web::{web, HttpResponse};

use crate::http::{ApiError, HttpState};

/// Deletes a notification channel; rules naming it skip it from then on.
#[utoipa::path(delete, path = "/api/v1/notifications/channels/{id}", tag = "notifications",
    params(("id" = i64, Path, description = "Channel id")),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such channel", body = crate::http::error::ErrorBody)))]
pub async fn delete(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    if state.store.delete_channel(*id).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound(format!("no notification channel {id}")))
    }
}
