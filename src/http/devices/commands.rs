use actix_web::{web, HttpResponse};
use serde::Serialize;
use urbanstream_schema::models::CommandRow;

use super::parse_imei;
use crate::http::{ApiError, HttpState};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CommandList {
    items: Vec<CommandRow>,
}

/// The device's latest 100 commands, newest first, with their state and answers.
#[utoipa::path(get, path = "/api/v1/devices/{imei}/commands", tag = "devices",
    params(("imei" = String, Path, description = "The tracker's IMEI, 15 to 17 digits")),
    responses((status = 200, description = "Commands", body = CommandList),
        (status = 404, description = "Not registered", body = crate::http::error::ErrorBody)))]
pub async fn commands(
    state: web::Data<HttpState>,
    imei: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let imei = parse_imei(&imei)?;
    let Some(device) = state.store.device(&imei.to_string()).await? else {
        return Err(ApiError::NotFound(format!(
            "device {imei} is not registered"
        )));
    };
    let items = state.store.device_commands(device.id, 100).await?;
    Ok(HttpResponse::Ok().json(CommandList { items }))
}
