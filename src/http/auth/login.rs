use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use serde::Deserialize;
use urbanstream_actors::metrics as m;

use crate::auth::{AuthError, TokenPair};
use crate::http::access::AuditNote;
use crate::http::{ApiError, HttpState};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    username: String,
    password: String,
}

/// Signs in with a password: a short-lived access token and a refresh token.
///
/// Repeated failures for one username lock it, with a lock that doubles each time (429 with
/// `Retry-After`); attempts per client address are limited too. Every attempt is audited.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    request_body = LoginBody,
    responses(
        (status = 200, description = "Signed in", body = TokenPair),
        (status = 400, description = "Malformed body", body = crate::http::error::ErrorBody),
        (status = 401, description = "Wrong username or password, or user disabled", body = crate::http::error::ErrorBody),
        (status = 429, description = "Locked or rate limited; see Retry-After", body = crate::http::error::ErrorBody),
    ),
    security(())
)]
pub async fn login(
    req: HttpRequest,
    state: web::Data<HttpState>,
    body: web::Json<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    let ip = req.peer_addr().map(|a| a.ip());
    let username: String = body.username.trim().chars().take(128).collect();
    let result = state.auth.login(&username, &body.password, ip).await;
    let outcome = match &result {
        Ok(_) => "success",
        Err(AuthError::TooMany(_)) => "locked",
        Err(_) => "failure",
    };
    metrics::counter!(m::AUTH_LOGINS_TOTAL, "outcome" => outcome).increment(1);
    req.extensions_mut().insert(AuditNote {
        actor: username,
        actor_kind: if outcome == "success" {
            "user"
        } else {
            "anonymous"
        },
        detail: Some(format!("login {outcome}")),
    });
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(result?))
}
