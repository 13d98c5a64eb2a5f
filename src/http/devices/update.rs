use actix_web::{web, HttpResponse};
use urbanstream_schema::models::DeviceChanges;

use super::parse_imei;
use crate::http::{ApiError, HttpState};

/// `PATCH /api/v1/devices/{imei}` with any of `name`, `model`, `firmware`.
#[utoipa::path(patch, path = "/api/v1/devices/{imei}", tag = "devices", params(("imei" = String, Path, description = "The tracker's IMEI, 15 to 17 digits")), request_body = urbanstream_schema::models::DeviceChanges, responses((status = 200, description = "Changed", body = urbanstream_schema::models::DeviceRow), (status = 404, description = "Not registered", body = crate::http::error::ErrorBody)))]
pub async fn update(
    state: web::Data<HttpState>,
    imei: web::Path<String>,
    body: web::Json<DeviceChanges>,
) -> Result<HttpResponse, ApiError> {
    let imei = parse_imei(&imei)?;
    if body.model.as_deref().is_some_and(|m| m.trim().is_empty()) {
        return Err(ApiError::BadRequest("model must not be empty".into()));
    }
    let row = state
        .store
        .update_device(&imei.to_string(), body.into_inner())
        .await?;
    super::changed(&state, imei, row)
}
