use actix_web::{web, HttpResponse};

use super::{apply, to_data, view, RuleInput, RuleView};
use crate::http::{ApiError, HttpState};

/// Replaces an alert rule. Its open alerts stay open and clear by the new thresholds.
#[utoipa::path(put, path = "/api/v1/alerts/rules/{id}", tag = "alerts", request_body = RuleInput,
    params(("id" = i64, Path, description = "Rule id")),
    responses((status = 200, description = "The stored rule", body = RuleView),
        (status = 404, description = "No such rule", body = crate::http::error::ErrorBody)))]
pub async fn replace(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
    body: web::Json<RuleInput>,
) -> Result<HttpResponse, ApiError> {
    let data = to_data(&state, body.into_inner()).await?;
    let Some(row) = state.store.update_alert_rule(*id, data).await? else {
        return Err(ApiError::NotFound(format!("no alert rule {id}")));
    };
    apply(&state).await?;
    Ok(HttpResponse::Ok().json(view(&row)))
}
