use actix_web::{web, HttpResponse};
use serde::Deserialize;
use urbanstream_actors::commands::SubmitCommand;
use urbanstream_schema::models::CommandRow;

use super::parse_imei;
use crate::auth::Principal;
use crate::http::{ApiError, HttpState};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandBody {
    /// The command text as the device's documentation gives it, e.g. `getinfo`,
    /// `getver`, `setdigout 1` (output 1 on: engine immobiliser).
    command: String,
}

/// Sends a Codec 12 command to a tracker. The command is stored first (QUEUED); it goes out
/// at once when the device is connected, else when it next connects (until
/// `commands.queue_ttl`). Its answer is stored and pushed on `events` and `device:{imei}`
/// as a `command_updated` event; poll `GET …/commands/{id}` or watch the socket.
#[utoipa::path(post, path = "/api/v1/devices/{imei}/commands", tag = "devices",
    request_body = CommandBody,
    params(("imei" = String, Path, description = "The tracker's IMEI, 15 to 17 digits")),
    responses((status = 202, description = "Accepted: queued and, if connected, sent", body = CommandRow),
        (status = 404, description = "Not registered", body = crate::http::openapi::ErrorBody)))]
pub async fn send_command(
    state: web::Data<HttpState>,
    principal: web::ReqData<Principal>,
    imei: web::Path<String>,
    body: web::Json<CommandBody>,
) -> Result<HttpResponse, ApiError> {
    let imei = parse_imei(&imei)?;
    let text = body.into_inner().command;
    let text = text.trim();
    if text.is_empty()
        || text.len() > 512
        || !text.chars().all(|c| c.is_ascii_graphic() || c == ' ')
    {
        return Err(ApiError::BadRequest(
            "command must be 1 to 512 printable ASCII characters".into(),
        ));
    }
    let Some(device) = state.store.device(&imei.to_string()).await? else {
        return Err(ApiError::NotFound(format!(
            "device {imei} is not registered"
        )));
    };
    let row = state
        .commands
        .send(SubmitCommand {
            imei,
            device_id: device.id,
            vehicle_id: device.vehicle_id,
            text: text.to_owned(),
            by: principal.name.clone(),
        })
        .await
        .map_err(|e| ApiError::Unavailable(format!("command dispatcher: {e}")))??;
    Ok(HttpResponse::Accepted().json(row))
}
