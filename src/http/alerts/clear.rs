use actix_web::{web, HttpResponse};
use urbanstream_actors::rules::{AlertAction, AlertForgotten};
use urbanstream_schema::models::AlertView;
use urbanstream_schema::AlertId;

use super::announce;
use crate::auth::Principal;
use crate::http::{ApiError, HttpState};

/// Clears an alert by hand (an incident dealt with), recording who. The rule's cooldown
/// starts; the next occurrence after it raises a new alert.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/clear", tag = "alerts",
    params(("id" = String, Path, description = "Alert id (UUID)")),
    responses((status = 200, description = "The cleared alert", body = AlertView),
        (status = 404, description = "No such alert", body = crate::http::error::ErrorBody),
        (status = 409, description = "Already cleared", body = crate::http::error::ErrorBody)))]
pub async fn clear(
    state: web::Data<HttpState>,
    principal: web::ReqData<Principal>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let now = crate::auth::now_ms();
    match state
        .store
        .clear_alert(&id, now, Some(&principal.name))
        .await?
    {
        Some(row) => {
            // The engine counts device time; a manual clear starts the cooldown at the
            // alert's latest occurrence.
            state.engine.do_send(AlertForgotten {
                id: AlertId(row.id.clone()),
                at_ms: row.last_ms,
            });
            let view = announce(&state, AlertAction::Cleared, row).await?;
            Ok(HttpResponse::Ok().json(view))
        }
        None => match state.store.alert(&id).await? {
            Some(_) => Err(ApiError::Conflict(format!("alert {id} is already cleared"))),
            None => Err(ApiError::NotFound(format!("no alert {id}"))),
        },
    }
}
