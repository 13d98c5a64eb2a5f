use std::time::Instant;

use actix_web::{web, HttpResponse};
use urbanstream_actors::entity::RobotCommand;
use urbanstream_actors::modbus::{StopAllRobots, StopRobot};
use urbanstream_schema::RobotId;

use super::robot;
use crate::auth::Principal;
use crate::http::{ApiError, HttpState};

/// `POST /api/v1/robots/{id}/estop`: writes the robot's emergency stop coil on the stop
/// lane (ahead of every queued poll and command) and answers once the device acknowledged
/// the write, with the latency. A software protective stop, beside the robot's hardwired
/// emergency stop circuit, never instead of it.
#[utoipa::path(post, path = "/api/v1/robots/{id}/estop", tag = "robots", params(("id" = i64, Path, description = "Robot id")), responses((status = 200, description = "Acknowledged by the robot", body = Object), (status = 404, description = "No such robot", body = crate::http::error::ErrorBody), (status = 503, description = "Not acknowledged (link down, no answer)", body = Object)))]
pub async fn estop(
    state: web::Data<HttpState>,
    principal: web::ReqData<Principal>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let taken = Instant::now();
    let id = id.into_inner();
    let Some(m) = &state.modbus else {
        return Err(ApiError::Unavailable("modbus is disabled".into()));
    };
    let ack = m
        .send(StopRobot {
            robot: RobotId(id),
            taken,
        })
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    if !ack.acknowledged && state.store.robot(id).await?.is_none() {
        return Err(ApiError::NotFound(format!("robot {id} does not exist")));
    }
    tracing::warn!(robot = id, by = %principal.name, acknowledged = ack.acknowledged, latency_us = ack.latency_us, "emergency stop requested");
    Ok(if ack.acknowledged {
        HttpResponse::Ok().json(ack)
    } else {
        HttpResponse::ServiceUnavailable().json(ack)
    })
}

/// `POST /api/v1/robots/estop`: every robot on every bus (an RTU bus also gets a broadcast
/// write first); each robot's acknowledgement is listed.
#[utoipa::path(post, path = "/api/v1/robots/estop", tag = "robots", responses((status = 200, description = "Every robot acknowledged", body = Object), (status = 503, description = "Some robot did not acknowledge", body = Object)))]
pub async fn estop_all(
    state: web::Data<HttpState>,
    principal: web::ReqData<Principal>,
) -> Result<HttpResponse, ApiError> {
    let taken = Instant::now();
    let Some(m) = &state.modbus else {
        return Err(ApiError::Unavailable("modbus is disabled".into()));
    };
    let acks = m
        .send(StopAllRobots { taken })
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let all = acks.iter().all(|a| a.acknowledged);
    tracing::warn!(by = %principal.name, robots = acks.len(), all_acknowledged = all, "emergency stop of every robot requested");
    let body = serde_json::json!({ "all_acknowledged": all, "robots": acks });
    Ok(if all {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    })
}

/// `POST /api/v1/robots/{id}/reset`: `reset_fault` through the ledger; refused (409) while
/// the hardware emergency stop button is pressed.
#[utoipa::path(post, path = "/api/v1/robots/{id}/reset", tag = "robots", params(("id" = i64, Path, description = "Robot id")), responses((status = 202, description = "Queued and sent", body = urbanstream_schema::models::CommandRow), (status = 404, description = "No such robot", body = crate::http::error::ErrorBody), (status = 409, description = "The robot's state forbids it", body = crate::http::error::ErrorBody), (status = 503, description = "Ledger unavailable", body = crate::http::error::ErrorBody)))]
pub async fn reset(
    state: web::Data<HttpState>,
    principal: web::ReqData<Principal>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    robot(&state, id).await?;
    super::commands::submit(
        &state,
        id,
        RobotCommand::ResetFault,
        principal.name.clone(),
        None,
    )
    .await
}
