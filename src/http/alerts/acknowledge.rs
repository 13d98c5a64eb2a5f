use actix_web::{web, HttpResponse};
use urbanstream_actors::rules::AlertAction;
use urbanstream_schema::models::AlertView;
use urbanstream_schema::store::AckOutcome;

use super::announce;
use crate::auth::Principal;
use crate::http::{ApiError, HttpState};

/// Acknowledges an alert: ACTIVE_UNACK → ACTIVE_ACK, recording who and when, pushed to
/// `alerts` subscribers. Acknowledging again changes nothing and answers the alert as is.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/acknowledge", tag = "alerts",
    params(("id" = String, Path, description = "Alert id (UUID)")),
    responses((status = 200, description = "The alert after acknowledgement", body = AlertView),
        (status = 404, description = "No such alert", body = crate::http::error::ErrorBody)))]
pub async fn acknowledge(
    state: web::Data<HttpState>,
    principal: web::ReqData<Principal>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let now = crate::auth::now_ms();
    match state
        .store
        .acknowledge_alert(&id, now, &principal.name)
        .await?
    {
        AckOutcome::Acknowledged(row) => {
            let view = announce(&state, AlertAction::Acknowledged, row).await?;
            Ok(HttpResponse::Ok().json(view))
        }
        AckOutcome::Unchanged(row) => Ok(HttpResponse::Ok().json(AlertView::from(row))),
        AckOutcome::Missing => Err(ApiError::NotFound(format!("no alert {id}"))),
    }
}
