use actix_web::{web, HttpResponse};

use super::parse_imei;
use crate::http::{ApiError, HttpState};

/// `GET /api/v1/devices/{imei}`.
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
