use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use serde::Deserialize;
use urbanstream_actors::metrics as m;

use crate::auth::{AuthError, TokenPair};
use crate::http::access::AuditNote;
use crate::http::{ApiError, HttpState};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    refresh_token: String,
}

/// Swaps a refresh token for a new access token and a new refresh token.
///
/// The old refresh token stops working. Presenting it again is taken as theft: every token
/// of that sign-in is revoked.
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "auth",
    request_body = RefreshBody,
    responses(
        (status = 200, description = "New tokens", body = TokenPair),
        (status = 400, description = "Malformed body", body = crate::http::error::ErrorBody),
        (status = 401, description = "Invalid, expired, revoked or reused refresh token", body = crate::http::error::ErrorBody),
    ),
    security(())
)]
pub async fn refresh(
    req: HttpRequest,
    state: web::Data<HttpState>,
    body: web::Json<RefreshBody>,
) -> Result<HttpResponse, ApiError> {
    let result = state.auth.refresh(&body.refresh_token).await;
    let outcome = match &result {
        Ok(_) => "refreshed",
        Err(AuthError::Reused) => "reuse",
        Err(_) => "refresh_failure",
    };
    metrics::counter!(m::AUTH_LOGINS_TOTAL, "outcome" => outcome).increment(1);
    req.extensions_mut().insert(AuditNote {
        actor: "refresh-token".into(),
        actor_kind: "anonymous",
        detail: Some(outcome.to_owned()),
    });
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(result?))
}
