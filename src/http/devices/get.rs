use actix_web::{web, HttpResponse};

use super::parse_imei;
use crate::http::{ApiError, HttpState};

/// `GET /api/v1/devices/{imei}`.
#[utoipa::path(get, path = "/api/v1/devices/{imei}", tag = "devices", params(("imei" = String, Path, description = "The tracker's IMEI, 15 to 17 digits")), responses((status = 200, description = "The device", body = urbanstream_schema::models::DeviceRow), (status = 404, description = "Not registered", body = crate::http::error::ErrorBody)))]
pub async fn get(
    state: web::Data<HttpState>,
    imei: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let imei = parse_imei(&imei)?;
    match state.store.device(&imei.to_string()).await? {
        Some(d) => Ok(HttpResponse::Ok().json(d)),
        None => Err(ApiError::NotFound(format!(
            "device {imei} is not registered"
        ))),
    }
}
