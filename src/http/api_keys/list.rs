use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::http::{ApiError, HttpState};

/// Every API key, revoked ones included (never the key itself).
#[utoipa::path(
    get,
    path = "/api/v1/api-keys",
    tag = "api-keys",
    responses((status = 200, description = "The keys", body = super::ApiKeyList))
)]
pub async fn list(state: web::Data<HttpState>) -> Result<HttpResponse, ApiError> {
    let keys = state.store.api_keys().await?;
    Ok(HttpResponse::Ok().json(json!({ "items": keys })))
}
