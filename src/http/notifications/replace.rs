use actix_web::{web, HttpResponse};

use super::{to_data, view, ChannelInput, ChannelView};
use crate::http::{ApiError, HttpState};

/// Replaces a notification channel.
#[utoipa::path(put, path = "/api/v1/notifications/channels/{id}", tag = "notifications",
    request_body = ChannelInput, params(("id" = i64, Path, description = "Channel id")),
    responses((status = 200, description = "The stored channel", body = ChannelView),
        (status = 404, description = "No such channel", body = crate::http::error::ErrorBody)))]
pub async fn replace(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
    body: web::Json<ChannelInput>,
) -> Result<HttpResponse, ApiError> {
    let mut data = to_data(body.into_inner())?;
    // A target sent back as it was shown (credentials masked) keeps the stored one.
    if data.target.contains(urbanstream_schema::redact::MASK) {
        if let Some(old) = state.store.channel(*id).await? {
            if urbanstream_schema::redact::redact(&old.target) == data.target {
                data.target = old.target;
            }
        }
    }
    match state.store.update_channel(*id, data).await? {
        Some(row) => Ok(HttpResponse::Ok().json(view(&row))),
        None => Err(ApiError::NotFound(format!("no notification channel {id}"))),
    }
}
