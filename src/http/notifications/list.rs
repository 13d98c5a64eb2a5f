use actix_web::{web, HttpResponse};

use super::{view, ChannelList};
use crate::http::{ApiError, HttpState};

/// Every notification channel.
#[utoipa::path(get, path = "/api/v1/notifications/channels", tag = "notifications",
    responses((status = 200, description = "The channels", body = ChannelList)))]
pub async fn list(state: web::Data<HttpState>) -> Result<HttpResponse, ApiError> {
    let rows = state.store.channels().await?;
    Ok(HttpResponse::Ok().json(ChannelList {
        items: rows.iter().map(view).collect(),
    }))
}
