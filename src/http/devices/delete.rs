use actix_web::{web, HttpResponse};
use urbanstream_actors::entity::EntityKey;
use urbanstream_actors::registry::DeviceRemoved;

use super::parse_imei;
use crate::http::{ApiError, HttpState};

/// `DELETE /api/v1/devices/{imei}`: the device and its history; an open session is closed.
#[utoipa::path(delete, path = "/api/v1/devices/{imei}", tag = "devices", params(("imei" = String, Path, description = "The tracker's IMEI, 15 to 17 digits")), responses((status = 204, description = "Deleted with its history"), (status = 404, description = "Not registered", body = crate::http::error::ErrorBody)))]
pub async fn delete(
    state: web::Data<HttpState>,
    imei: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let imei = parse_imei(&imei)?;
    if !state.store.delete_device(&imei.to_string()).await? {
        return Err(ApiError::NotFound(format!(
            "device {imei} is not registered"
        )));
    }
    state.registry.do_send(DeviceRemoved {
        key: EntityKey::Tracker(imei),
    });
    Ok(HttpResponse::NoContent().finish())
}
