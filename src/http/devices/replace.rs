use actix_web::{web, HttpResponse};
use urbanstream_schema::models::DeviceReplace;

use super::parse_imei;
use crate::http::{ApiError, HttpState};

/// `PUT /api/v1/devices/{imei}`: replaces `name`, `model` and `firmware` whole (an absent
/// `name` or `firmware` becomes empty). A changed model takes effect at the next login.
#[utoipa::path(put, path = "/api/v1/devices/{imei}", tag = "devices", params(("imei" = String, Path, description = "The tracker's IMEI, 15 to 17 digits")), request_body = DeviceReplace, responses((status = 200, description = "Replaced", body = urbanstream_schema::models::DeviceRow), (status = 400, description = "Empty model", body = crate::http::error::ErrorBody), (status = 404, description = "Not registered", body = crate::http::error::ErrorBody)))]
pub async fn replace(
    state: web::Data<HttpState>,
    imei: web::Path<String>,
    body: web::Json<DeviceReplace>,
) -> Result<HttpResponse, ApiError> {
    let imei = parse_imei(&imei)?;
    if body.model.trim().is_empty() {
        return Err(ApiError::BadRequest("model must not be empty".into()));
    }
    let row = state
        .store
        .replace_device(&imei.to_string(), body.into_inner())
        .await?;
    super::changed(&state, imei, row)
}
