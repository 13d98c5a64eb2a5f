use actix_web::{web, HttpResponse};
use urbanstream_schema::store::{SESSION_PAUSED, SESSION_RUNNING, SESSION_STOPPED};

use super::{sessions, view};
use crate::auth::Principal;
use crate::http::{ApiError, HttpState};

/// `POST /api/v1/sessions`: starts a session: the cameras start afresh, global ids count from
/// 1, and what they see is recorded under the new id. One session is open at a time.
#[utoipa::path(post, path = "/api/v1/sessions", tag = "cameras", responses((status = 201, description = "Started", body = super::SessionView), (status = 409, description = "A session is open", body = crate::http::error::ErrorBody), (status = 404, description = "No camera is configured", body = crate::http::error::ErrorBody)))]
pub async fn start(
    state: web::Data<HttpState>,
    principal: web::ReqData<Principal>,
) -> Result<HttpResponse, ApiError> {
    let row = sessions(&state)?.start(&principal.name).await?;
    Ok(HttpResponse::Created().json(view(&state, row).await?))
}

async fn set(
    state: &HttpState,
    principal: &Principal,
    id: i64,
    to: &'static str,
) -> Result<HttpResponse, ApiError> {
    let row = sessions(state)?.set(id, to).await?;
    tracing::info!(session = id, by = %principal.name, state = to, "session command");
    Ok(HttpResponse::Ok().json(view(state, row).await?))
}

/// `POST /api/v1/sessions/{id}/pause`: the cameras keep their tracks and drop frames.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/pause", tag = "cameras", params(("id" = i64, Path, description = "Session id")), responses((status = 200, description = "Paused", body = super::SessionView), (status = 404, description = "No such session", body = crate::http::error::ErrorBody), (status = 409, description = "Not running", body = crate::http::error::ErrorBody)))]
pub async fn pause(
    state: web::Data<HttpState>,
    principal: web::ReqData<Principal>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    set(&state, &principal, id.into_inner(), SESSION_PAUSED).await
}

/// `POST /api/v1/sessions/{id}/resume`.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/resume", tag = "cameras", params(("id" = i64, Path, description = "Session id")), responses((status = 200, description = "Running", body = super::SessionView), (status = 404, description = "No such session", body = crate::http::error::ErrorBody), (status = 409, description = "Not paused", body = crate::http::error::ErrorBody)))]
pub async fn resume(
    state: web::Data<HttpState>,
    principal: web::ReqData<Principal>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    set(&state, &principal, id.into_inner(), SESSION_RUNNING).await
}

/// `POST /api/v1/sessions/{id}/stop` (also `DELETE /api/v1/sessions/{id}`): the cameras
/// stop, everyone in view leaves, the last rows are stored.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/stop", tag = "cameras", params(("id" = i64, Path, description = "Session id")), responses((status = 200, description = "Stopped", body = super::SessionView), (status = 404, description = "No such session", body = crate::http::error::ErrorBody), (status = 409, description = "Already stopped", body = crate::http::error::ErrorBody)))]
pub async fn stop(
    state: web::Data<HttpState>,
    principal: web::ReqData<Principal>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    set(&state, &principal, id.into_inner(), SESSION_STOPPED).await
}

/// `DELETE /api/v1/sessions/{id}`: stops it (its records stay).
#[utoipa::path(delete, path = "/api/v1/sessions/{id}", tag = "cameras", params(("id" = i64, Path, description = "Session id")), responses((status = 200, description = "Stopped", body = super::SessionView), (status = 404, description = "No such session", body = crate::http::error::ErrorBody), (status = 409, description = "Already stopped", body = crate::http::error::ErrorBody)))]
pub async fn delete(
    state: web::Data<HttpState>,
    principal: web::ReqData<Principal>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    set(&state, &principal, id.into_inner(), SESSION_STOPPED).await
}
