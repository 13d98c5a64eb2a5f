use actix_web::{web, HttpResponse};
use serde::Deserialize;
use urbanstream_schema::models::UserChanges;

use super::{parse_role, User};
use crate::auth::{blocking, hash_password, now_ms, Principal, PrincipalKind};
use crate::http::{ApiError, HttpState};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChangesBody {
    role: Option<String>,
    disabled: Option<bool>,
    password: Option<String>,
}

/// Changes a user's role, password or disabled flag; the user's sessions end.
#[utoipa::path(
    patch,
    path = "/api/v1/users/{id}",
    tag = "users",
    params(("id" = i64, Path, description = "User id")),
    request_body = UserChangesBody,
    responses(
        (status = 200, description = "Changed", body = User),
        (status = 400, description = "Bad role or password, or an admin disabling or demoting itself", body = crate::http::error::ErrorBody),
        (status = 404, description = "No such user", body = crate::http::error::ErrorBody),
    )
)]
pub async fn update(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
    principal: web::ReqData<Principal>,
    body: web::Json<UserChangesBody>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let body = body.into_inner();
    let role = body.role.as_deref().map(parse_role).transpose()?;
    let is_self = matches!(principal.kind, PrincipalKind::User { id: me, .. } if me == id);
    if is_self && (body.disabled == Some(true) || role.is_some_and(|r| r != principal.role)) {
        return Err(ApiError::BadRequest(
            "an admin cannot disable or demote itself; ask another admin".into(),
        ));
    }
    let password_hash = match body.password {
        Some(p) => {
            crate::auth::check_password(&p).map_err(|e| ApiError::BadRequest(e.to_string()))?;
            Some(blocking(move || hash_password(&p)).await?)
        }
        None => None,
    };
    let changes = UserChanges {
        role: role.map(|r| r.as_str().to_owned()),
        disabled: body.disabled,
        password_changed_ms: password_hash.as_ref().map(|_| now_ms()),
        password_hash,
    };
    let revoke = changes != UserChanges::default();
    let row = state
        .store
        .update_user(id, changes)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("user {id} does not exist")))?;
    if revoke {
        state.auth.revoke_user(id).await?;
    }
    Ok(HttpResponse::Ok().json(User::from(row)))
}
