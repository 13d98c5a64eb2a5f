use actix_web::{web, HttpResponse};
use urbanstream_schema::models::CommandRow;

use super::parse_imei;
use crate::http::{ApiError, HttpState};

/// One command of the device: QUEUED, SENT, ANSWERED (with the device's answer), FAILED
/// (with why) or EXPIRED.
#[utoipa::path(get, path = "/api/v1/devices/{imei}/commands/{id}", tag = "devices",
    params(("imei" = String, Path, description = "The tracker's IMEI, 15 to 17 digits"),
        ("id" = i64, Path, description = "Command id")),
    responses((status = 200, description = "The command", body = CommandRow),
        (status = 404, description = "No such command for this device", body = crate::http::error::ErrorBody)))]
pub async fn command(
    state: web::Data<HttpState>,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (imei, id) = path.into_inner();
    let imei = parse_imei(&imei)?;
    let device = state.store.device(&imei.to_string()).await?;
    match (device, state.store.command(id).await?) {
        (Some(d), Some(c)) if c.device_id == d.id => Ok(HttpResponse::Ok().json(c)),
        _ => Err(ApiError::NotFound(format!(
            "no command {id} for device {imei}"
        ))),
    }
}
