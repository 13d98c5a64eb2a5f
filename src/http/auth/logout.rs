use actix_web::{web, HttpResponse};

use crate::auth::{Principal, PrincipalKind};
use crate::http::{ApiError, HttpState};

/// Signs out: the session's refresh tokens and access tokens stop working.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    responses(
        (status = 204, description = "Signed out"),
        (status = 400, description = "An API key has no session", body = crate::http::error::ErrorBody),
        (status = 401, description = "Not signed in", body = crate::http::error::ErrorBody),
    )
)]
pub async fn logout(
    state: web::Data<HttpState>,
    principal: web::ReqData<Principal>,
) -> Result<HttpResponse, ApiError> {
    match &principal.kind {
        PrincipalKind::User { session, .. } => {
            state.auth.revoke_session(session).await?;
            Ok(HttpResponse::NoContent().finish())
        }
        PrincipalKind::ApiKey { .. } => Err(ApiError::BadRequest(
            "an API key has no session; revoke the key instead".into(),
        )),
    }
}
