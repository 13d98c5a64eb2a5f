use actix_web::{web, HttpResponse};

use super::{apply, to_data, view, RuleInput, RuleView};
use crate::http::{ApiError, HttpState};

/// Creates an alert rule; it is evaluated from the next record on.
#[utoipa::path(post, path = "/api/v1/alerts/rules", tag = "alerts", request_body = RuleInput,
    responses((status = 201, description = "The stored rule", body = RuleView)))]
pub async fn create(
    state: web::Data<HttpState>,
    body: web::Json<RuleInput>,
) -> Result<HttpResponse, ApiError> {
    let data = to_data(&state, body.into_inner()).await?;
    let row = state.store.create_alert_rule(data).await?;
    apply(&state).await?;
    Ok(HttpResponse::Created().json(view(&row)))
}
