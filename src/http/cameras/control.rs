use actix_web::{web, HttpResponse};
use urbanstream_actors::camera::CameraCommand;

use super::{handle, view};
use crate::auth::Principal;
use crate::http::{ApiError, HttpState};

async fn control(
    state: &HttpState,
    principal: &Principal,
    id: u32,
    cmd: CameraCommand,
) -> Result<HttpResponse, ApiError> {
    let c = handle(state, id)?;
    c.addr
        .send(cmd)
        .await
        .map_err(|e| ApiError::Unavailable(format!("camera {id}: {e}")))?
        .map_err(ApiError::Conflict)?;
    tracing::info!(camera = id, by = %principal.name, command = ?cmd, "camera command");
    Ok(HttpResponse::Ok().json(view(c).await?))
}

/// `POST /api/v1/cameras/{id}/start`: a stopped or failed camera starts tracking (a new run:
/// no tracks, its own clock).
#[utoipa::path(post, path = "/api/v1/cameras/{id}/start", tag = "cameras", params(("id" = u32, Path, description = "Camera id")), responses((status = 200, description = "Running", body = super::Camera), (status = 404, description = "No such camera", body = crate::http::error::ErrorBody), (status = 409, description = "Not stopped or failed", body = crate::http::error::ErrorBody)))]
pub async fn start(
    state: web::Data<HttpState>,
    principal: web::ReqData<Principal>,
    id: web::Path<u32>,
) -> Result<HttpResponse, ApiError> {
    control(&state, &principal, id.into_inner(), CameraCommand::Start).await
}

/// `POST /api/v1/cameras/{id}/pause`: a running camera keeps its tracks and drops frames
/// (counted) until resumed.
#[utoipa::path(post, path = "/api/v1/cameras/{id}/pause", tag = "cameras", params(("id" = u32, Path, description = "Camera id")), responses((status = 200, description = "Paused", body = super::Camera), (status = 404, description = "No such camera", body = crate::http::error::ErrorBody), (status = 409, description = "Not running", body = crate::http::error::ErrorBody)))]
pub async fn pause(
    state: web::Data<HttpState>,
    principal: web::ReqData<Principal>,
    id: web::Path<u32>,
) -> Result<HttpResponse, ApiError> {
    control(&state, &principal, id.into_inner(), CameraCommand::Pause).await
}

/// `POST /api/v1/cameras/{id}/resume`: a paused camera runs again.
#[utoipa::path(post, path = "/api/v1/cameras/{id}/resume", tag = "cameras", params(("id" = u32, Path, description = "Camera id")), responses((status = 200, description = "Running", body = super::Camera), (status = 404, description = "No such camera", body = crate::http::error::ErrorBody), (status = 409, description = "Not paused", body = crate::http::error::ErrorBody)))]
pub async fn resume(
    state: web::Data<HttpState>,
    principal: web::ReqData<Principal>,
    id: web::Path<u32>,
) -> Result<HttpResponse, ApiError> {
    control(&state, &principal, id.into_inner(), CameraCommand::Resume).await
}

/// `POST /api/v1/cameras/{id}/stop`: the camera stops and forgets its tracks.
#[utoipa::path(post, path = "/api/v1/cameras/{id}/stop", tag = "cameras", params(("id" = u32, Path, description = "Camera id")), responses((status = 200, description = "Stopped", body = super::Camera), (status = 404, description = "No such camera", body = crate::http::error::ErrorBody)))]
pub async fn stop(
    state: web::Data<HttpState>,
    principal: web::ReqData<Principal>,
    id: web::Path<u32>,
) -> Result<HttpResponse, ApiError> {
    control(&state, &principal, id.into_inner(), CameraCommand::Stop).await
}
