use actix_web::{web, HttpResponse};

use crate::auth::now_ms;
use crate::http::{ApiError, HttpState};

/// Revokes an API key; it stops working on this node at once and on others within seconds.
#[utoipa::path(
    delete,
    path = "/api/v1/api-keys/{id}",
    tag = "api-keys",
    params(("id" = i64, Path, description = "API key id")),
    responses(
        (status = 200, description = "Revoked", body = urbanstream_schema::models::ApiKeyRow),
        (status = 404, description = "No such key", body = crate::http::error::ErrorBody),
    )
)]
pub async fn revoke(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let row = state
        .store
        .revoke_api_key(id, now_ms())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("API key {id} does not exist")))?;
    state.auth.forget_api_key(&row.key_hash);
    Ok(HttpResponse::Ok().json(row))
}
