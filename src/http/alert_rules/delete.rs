use actix_web::{web, HttpResponse};

use super::apply;
use crate::http::{ApiError, HttpState};

/// Deletes an alert rule; its alerts stay in the history.
#[utoipa::path(delete, path = "/api/v1/alerts/rules/{id}", tag = "alerts",
    params(("id" = i64, Path, description = "Rule id")),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such rule", body = crate::http::error::ErrorBody)))]
pub async fn delete(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    if !state.store.delete_alert_rule(*id).await? {
        return Err(ApiError::NotFound(format!("no alert rule {id}")));
    }
    apply(&state).await?;
    Ok(HttpResponse::NoContent().finish())
}
