use actix_web::{web, HttpResponse};

use super::{handle, view, CameraList};
use crate::http::{ApiError, HttpState};

/// `GET /api/v1/cameras`: every configured camera with its state.
#[utoipa::path(get, path = "/api/v1/cameras", tag = "cameras", responses((status = 200, description = "Every camera", body = CameraList)))]
pub async fn list(state: web::Data<HttpState>) -> Result<HttpResponse, ApiError> {
    let mut items = Vec::with_capacity(state.cameras.len());
    for c in &state.cameras {
        items.push(view(c).await?);
    }
    Ok(HttpResponse::Ok().json(CameraList { items }))
}

/// `GET /api/v1/cameras/{id}`: one camera.
#[utoipa::path(get, path = "/api/v1/cameras/{id}", tag = "cameras", params(("id" = u32, Path, description = "Camera id")), responses((status = 200, description = "The camera", body = super::Camera), (status = 404, description = "No such camera", body = crate::http::error::ErrorBody)))]
pub async fn get(
    state: web::Data<HttpState>,
    id: web::Path<u32>,
) -> Result<HttpResponse, ApiError> {
    let c = handle(&state, id.into_inner())?;
    Ok(HttpResponse::Ok().json(view(c).await?))
}
