use actix_web::{web, HttpResponse};
use urbanstream_actors::vehicle::GetSnapshot;

use super::parse_imei;
use crate::http::{ApiError, HttpState};

/// `GET /api/v1/devices/{imei}/latest`: the live state held by the device's actor.
#[utoipa::path(get, path = "/api/v1/devices/{imei}/latest", tag = "devices", params(("imei" = String, Path, description = "The tracker's IMEI, 15 to 17 digits")), responses((status = 200, description = "The live state held by the device's actor: position, motion, named IO values", body = Object), (status = 404, description = "No live state", body = super::super::openapi::ErrorBody), (status = 503, description = "Registry unavailable", body = super::super::openapi::ErrorBody)))]
pub async fn latest(
    state: web::Data<HttpState>,
    imei: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let imei = parse_imei(&imei)?;
    // Straight to the vehicle's actor: no registry hop on the most frequent read.
    let snapshot = match state.vehicles.get(&imei) {
        Some(vehicle) => vehicle.send(GetSnapshot).await.ok(),
        None => None,
    };
    match snapshot {
        Some(s) if s.live.is_some() => Ok(HttpResponse::Ok().json(s)),
        _ => Err(ApiError::NotFound(format!(
            "no live state for device {imei}"
        ))),
    }
}
