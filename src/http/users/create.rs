use actix_web::{web, HttpResponse};
use serde::Deserialize;
use urbanstream_schema::store::is_conflict;

use super::{check_username, parse_role, User};
use crate::auth::{blocking, hash_password, now_ms};
use crate::http::{ApiError, HttpState};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    username: String,
    /// 10 to 256 characters.
    password: String,
    /// ADMIN, DISPATCHER, OPERATOR, ANALYST or VIEWER.
    role: String,
}

/// Creates a user.
#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "users",
    request_body = NewUserBody,
    responses(
        (status = 201, description = "Created", body = User),
        (status = 400, description = "Bad username, password or role", body = crate::http::error::ErrorBody),
        (status = 409, description = "Username taken", body = crate::http::error::ErrorBody),
    )
)]
pub async fn create(
    state: web::Data<HttpState>,
    body: web::Json<NewUserBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    check_username(&body.username)?;
    let role = parse_role(&body.role)?;
    crate::auth::check_password(&body.password).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let password = body.password;
    let hash = blocking(move || hash_password(&password)).await?;
    let row = state
        .store
        .create_user(&body.username, &hash, role.as_str(), now_ms())
        .await
        .map_err(|e| {
            if is_conflict(&e) {
                ApiError::Conflict(format!("user `{}` exists", body.username))
            } else {
                e.into()
            }
        })?;
    Ok(HttpResponse::Created().json(User::from(row)))
}
