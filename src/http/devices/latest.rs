use actix_web::{web, HttpResponse};

use super::parse_imei;
use crate::http::{ApiError, HttpState};

/// `GET /api/v1/devices/{imei}/latest`: the live state held by the device's actor.
#[utoipa::path(get, path = "/api/v1/devices/{imei}/latest", tag = "devices", params(("imei" = String, Path, description = "The tracker's IMEI, 15 to 17 digits")), responses((status = 200, description = "The live state held by the device's actor: position, motion, named IO values", body = Object), (status = 404, description = "No live state", body = super::super::openapi::ErrorBody), (status = 503, description = "Registry unavailable", body = super::super::openapi::ErrorBody)))]
pub async fn latest(
    state: web::Data<HttpState>,
    imei: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let imei = parse_imei(&imei)?;
    // The snapshot the vehicle's actor published: no message, JSON rendered once per update.
    match state.vehicles.latest(&imei) {
        Some(p) if p.snapshot.live.is_some() => Ok(HttpResponse::Ok()
            .content_type(actix_web::http::header::ContentType::json())
            .body(p.json())),
        _ => Err(ApiError::NotFound(format!(
            "no live state for device {imei}"
        ))),
    }
}
