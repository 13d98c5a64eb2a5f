use actix_web::{web, HttpResponse};
use urbanstream_actors::entity::{typed, EntityKey};
use urbanstream_actors::vehicle::VehicleSnapshot;

use super::parse_imei;
use crate::http::{ApiError, HttpState};

/// `GET /api/v1/devices/{imei}/latest`: the live state held by the device's actor.
#[utoipa::path(get, path = "/api/v1/devices/{imei}/latest", tag = "devices", params(("imei" = String, Path, description = "The tracker's IMEI, 15 to 17 digits")), responses((status = 200, description = "The live state held by the device's actor: position, motion, named IO values", body = Object), (status = 404, description = "No live state", body = crate::http::error::ErrorBody)))]
pub async fn latest(
    state: web::Data<HttpState>,
    imei: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let imei = parse_imei(&imei)?;
    // The snapshot the tracker's actor published: no message, JSON rendered once per update.
    let published = state.directory.latest(&EntityKey::Tracker(imei));
    match published {
        Some(p) if typed::<VehicleSnapshot>(&*p).is_some_and(|s| s.live.is_some()) => {
            Ok(HttpResponse::Ok()
                .content_type(actix_web::http::header::ContentType::json())
                .body(p.json()))
        }
        _ => Err(ApiError::NotFound(format!(
            "no live state for device {imei}"
        ))),
    }
}
