use actix_web::{web, HttpResponse};
use serde::Serialize;

use crate::auth::{Principal, PrincipalKind, Role};
use crate::http::ApiError;

/// Who the caller is.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    name: String,
    role: Role,
    /// `user` or `api_key`.
    kind: &'static str,
    /// When the access token expires (ms since the epoch); absent for API keys.
    expires_ms: Option<i64>,
}

/// The signed-in user or API key and its role.
#[utoipa::path(
    get,
    path = "/api/v1/auth/me",
    tag = "auth",
    responses(
        (status = 200, description = "The caller", body = Me),
        (status = 401, description = "Not signed in", body = crate::http::error::ErrorBody),
    )
)]
pub async fn me(principal: web::ReqData<Principal>) -> Result<HttpResponse, ApiError> {
    let expires_ms = match principal.kind {
        PrincipalKind::User { expires_ms, .. } => Some(expires_ms),
        PrincipalKind::ApiKey { .. } => None,
    };
    Ok(HttpResponse::Ok().json(Me {
        name: principal.name.clone(),
        role: principal.role,
        kind: principal.kind_label(),
        expires_ms,
    }))
}
