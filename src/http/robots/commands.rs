use actix_web::{web, HttpRequest, HttpResponse};
use urbanstream_actors::commands::{CommandTarget, SubmitCommand};
use urbanstream_actors::entity::{EntityKey, RobotCommand};
use urbanstream_actors::robot::{validate, RobotSnapshot};
use urbanstream_schema::models::CommandRow;
use urbanstream_schema::{DeviceId, RobotId};

use super::robot;
use crate::auth::Principal;
use crate::http::{ApiError, HttpState};

/// A command: `{"command": "move_to_station" | "stop" | "home" | "hoist_up" | "hoist_down" |
/// "reset_fault" | "go_charge", "station"?, "hoist_mm"?, "speed_mm_s"?, "idempotency_key"?}`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandBody {
    pub command: String,
    pub station: Option<u16>,
    pub hoist_mm: Option<u16>,
    pub speed_mm_s: Option<u16>,
    pub idempotency_key: Option<String>,
}

impl CommandBody {
    fn command(&self) -> Result<RobotCommand, ApiError> {
        let bad = |m: String| ApiError::BadRequest(m);
        let c = match self.command.as_str() {
            "move_to_station" => RobotCommand::MoveToStation {
                station: self
                    .station
                    .ok_or_else(|| bad("move_to_station needs `station`".into()))?,
                speed_mm_s: self.speed_mm_s,
            },
            "stop" => RobotCommand::Stop,
            "home" => RobotCommand::Home {
                speed_mm_s: self.speed_mm_s,
            },
            "hoist_up" => RobotCommand::HoistUp {
                hoist_mm: self.hoist_mm,
            },
            "hoist_down" => RobotCommand::HoistDown {
                hoist_mm: self.hoist_mm,
            },
            "reset_fault" => RobotCommand::ResetFault,
            "go_charge" => RobotCommand::GoCharge {
                speed_mm_s: self.speed_mm_s,
            },
            other => {
                return Err(bad(format!(
                    "unknown command `{other}`; expected move_to_station, stop, home, hoist_up, hoist_down, reset_fault or go_charge"
                )))
            }
        };
        Ok(c)
    }
}

/// Submits `command` to robot `id` through the ledger, once its live state allows it.
pub(crate) async fn submit(
    state: &HttpState,
    id: i64,
    command: RobotCommand,
    by: String,
    idempotency_key: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let row = robot(state, id).await?;
    let key = EntityKey::Robot(RobotId(id));
    let live = state.directory.latest_as::<RobotSnapshot>(&key);
    let Some(live) = live else {
        return Err(ApiError::Conflict(format!(
            "robot {id} has not been heard from: it cannot take commands"
        )));
    };
    validate(&command, &live).map_err(ApiError::Conflict)?;
    let Some(device) = row.device_id else {
        return Err(ApiError::Conflict(format!("robot {id} has no device row")));
    };
    let submitted = state
        .commands
        .send(SubmitCommand {
            target: CommandTarget {
                key,
                device_id: DeviceId(device),
                vehicle_id: None,
            },
            text: command.to_text(),
            by,
            idempotency_key,
        })
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))??;
    let mut resp = if submitted.created {
        HttpResponse::Accepted()
    } else {
        let mut r = HttpResponse::Ok();
        r.insert_header(("Idempotent-Replayed", "true"));
        r
    };
    Ok(resp.json(submitted.command))
}

/// `POST /api/v1/robots/{id}/commands`: validated against the robot's live state (409 with
/// the reason when its state forbids it), stored, written as one FC16 write of the command
/// registers, ANSWERED when the robot echoes its sequence, FAILED on a rejection or timeout.
/// Every change is pushed as `command_updated`.
#[utoipa::path(post, path = "/api/v1/robots/{id}/commands", tag = "robots", request_body = CommandBody, params(("id" = i64, Path, description = "Robot id"), ("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key returns the first command")), responses((status = 202, description = "Queued and sent", body = CommandRow), (status = 200, description = "Replayed by idempotency key", body = CommandRow), (status = 400, description = "Bad command", body = crate::http::error::ErrorBody), (status = 404, description = "No such robot", body = crate::http::error::ErrorBody), (status = 409, description = "The robot's state forbids it", body = crate::http::error::ErrorBody), (status = 503, description = "Ledger unavailable", body = crate::http::error::ErrorBody)))]
pub async fn send(
    req: HttpRequest,
    state: web::Data<HttpState>,
    principal: web::ReqData<Principal>,
    id: web::Path<i64>,
    body: web::Json<CommandBody>,
) -> Result<HttpResponse, ApiError> {
    let command = body.command()?;
    let key = body.idempotency_key.clone().or_else(|| {
        req.headers()
            .get("Idempotency-Key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    });
    if key
        .as_ref()
        .is_some_and(|k| !(1..=255).contains(&k.len()) || !k.bytes().all(|b| b.is_ascii_graphic()))
    {
        return Err(ApiError::BadRequest(
            "idempotency key must be 1 to 255 printable ASCII characters".into(),
        ));
    }
    submit(
        &state,
        id.into_inner(),
        command,
        principal.name.clone(),
        key,
    )
    .await
}

/// `GET /api/v1/robots/{id}/commands`: the latest 100, newest first.
#[utoipa::path(get, path = "/api/v1/robots/{id}/commands", tag = "robots", params(("id" = i64, Path, description = "Robot id")), responses((status = 200, description = "Commands (`items`)", body = Object), (status = 404, description = "No such robot", body = crate::http::error::ErrorBody)))]
pub async fn list(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let row = robot(&state, id.into_inner()).await?;
    let items = match row.device_id {
        Some(d) => state.store.device_commands(d, 100).await?,
        None => Vec::new(),
    };
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

/// `GET /api/v1/robots/{id}/commands/{cid}`.
#[utoipa::path(get, path = "/api/v1/robots/{id}/commands/{cid}", tag = "robots", params(("id" = i64, Path, description = "Robot id"), ("cid" = i64, Path, description = "Command id")), responses((status = 200, description = "The command", body = CommandRow), (status = 404, description = "No such command", body = crate::http::error::ErrorBody)))]
pub async fn get(
    state: web::Data<HttpState>,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (id, cid) = path.into_inner();
    let row = robot(&state, id).await?;
    let cmd = state
        .store
        .command(cid)
        .await?
        .filter(|c| Some(c.device_id) == row.device_id)
        .ok_or_else(|| ApiError::NotFound(format!("robot {id} has no command {cid}")))?;
    Ok(HttpResponse::Ok().json(cmd))
}
