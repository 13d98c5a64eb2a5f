use actix_web::{web, HttpResponse};

use super::{view, RuleView};
use crate::http::{ApiError, HttpState};

/// One alert rule.
#[utoipa::path(get, path = "/api/v1/alerts/rules/{id}", tag = "alerts",
    params(("id" = i64, Path, description = "Rule id")),
    responses((status = 200, description = "The rule", body = RuleView),
        (status = 404, description = "No such rule", body = crate::http::error::ErrorBody)))]
pub async fn get(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    match state.store.alert_rule(*id).await? {
        Some(row) => Ok(HttpResponse::Ok().json(view(&row))),
        None => Err(ApiError::NotFound(format!("no alert rule {id}"))),
    }
}
