use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use urbanstream_actors::commands::{CommandTarget, SubmitCommand};
use urbanstream_actors::entity::EntityKey;
use urbanstream_schema::models::CommandRow;
use urbanstream_schema::{DeviceId, VehicleId};

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
///
/// With an `Idempotency-Key` header (1 to 255 printable ASCII characters), a retried request
/// with the same key returns the command the first one created (200,
/// `Idempotent-Replayed: true`) and sends nothing again.
#[utoipa::path(post, path = "/api/v1/devices/{imei}/commands", tag = "devices",
    request_body = CommandBody,
    params(("imei" = String, Path, description = "The tracker's IMEI, 15 to 17 digits"),
        ("Idempotency-Key" = Option<String>, Header, description = "A client's key for this command: a retry with the same key returns the first command")),
    responses((status = 202, description = "Accepted: queued and, if connected, sent", body = CommandRow),
        (status = 200, description = "The command an earlier request with the same Idempotency-Key created", body = CommandRow),
        (status = 400, description = "Bad command text or Idempotency-Key", body = crate::http::error::ErrorBody),
        (status = 404, description = "Not registered", body = crate::http::error::ErrorBody)))]
pub async fn send_command(
    req: HttpRequest,
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
    let idempotency_key = match req.headers().get("Idempotency-Key") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
                .ok_or_else(|| {
                    ApiError::BadRequest(
                        "Idempotency-Key must be 1 to 255 printable ASCII characters".into(),
                    )
                })?
                .to_owned(),
        ),
    };
    let Some(device) = state.store.device(&imei.to_string()).await? else {
        return Err(ApiError::NotFound(format!(
            "device {imei} is not registered"
        )));
    };
    let submitted = state
        .commands
        .send(SubmitCommand {
            target: CommandTarget {
                key: EntityKey::Tracker(imei),
                device_id: DeviceId(device.id),
                vehicle_id: device.vehicle_id.map(VehicleId),
            },
            text: text.to_owned(),
            by: principal.name.clone(),
            idempotency_key,
        })
        .await
        .map_err(|e| ApiError::Unavailable(format!("command dispatcher: {e}")))??;
    if submitted.created {
        Ok(HttpResponse::Accepted().json(submitted.command))
    } else {
        Ok(HttpResponse::Ok()
            .insert_header(("Idempotent-Replayed", "true"))
            .json(submitted.command))
    }
}
