use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::auth::{new_api_key, now_ms, token_hash, Principal};
use crate::http::users::parse_role;
use crate::http::{ApiError, HttpState};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKeyBody {
    /// What the key is for, e.g. `depot-provisioning`.
    name: String,
    /// The role the key acts with.
    role: String,
}

/// A new key: `key` is shown this once; only its hash is stored.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    id: i64,
    name: String,
    role: String,
    prefix: String,
    key: String,
    created_ms: i64,
}

/// Creates an API key for a machine client, scoped to one role.
///
/// Send it as `Authorization: Bearer <key>` or `X-API-Key: <key>`.
#[utoipa::path(
    post,
    path = "/api/v1/api-keys",
    tag = "api-keys",
    request_body = NewApiKeyBody,
    responses(
        (status = 201, description = "Created; the key is in the body, once", body = CreatedApiKey),
        (status = 400, description = "Bad name or role", body = crate::http::error::ErrorBody),
    )
)]
pub async fn create(
    state: web::Data<HttpState>,
    principal: web::ReqData<Principal>,
    body: web::Json<NewApiKeyBody>,
) -> Result<HttpResponse, ApiError> {
    let role = parse_role(&body.role)?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 128 {
        return Err(ApiError::BadRequest(
            "name must be 1 to 128 characters".into(),
        ));
    }
    let (key, prefix) = new_api_key();
    let row = state
        .store
        .create_api_key(
            name,
            &prefix,
            &token_hash(&key),
            role.as_str(),
            &principal.name,
            now_ms(),
        )
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(CreatedApiKey {
            id: row.id,
            name: row.name,
            role: row.role,
            prefix: row.prefix,
            key,
            created_ms: row.created_ms,
        }))
}
