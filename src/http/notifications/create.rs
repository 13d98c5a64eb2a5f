use actix_web::{web, HttpResponse};

use super::{to_data, view, ChannelInput, ChannelView};
use crate::http::{ApiError, HttpState};

/// Creates a notification channel; rules name it in `channel_ids`.
#[utoipa::path(post, path = "/api/v1/notifications/channels", tag = "notifications",
    request_body = ChannelInput,
    responses((status = 201, description = "The stored channel", body = ChannelView)))]
pub async fn create(
    state: web::Data<HttpState>,
    body: web::Json<ChannelInput>,
) -> Result<HttpResponse, ApiError> {
    let row = state
        .store
        .create_channel(to_data(body.into_inner())?)
        .await?;
    Ok(HttpResponse::Created().json(view(&row)))
}
