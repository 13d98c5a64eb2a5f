use actix_web::{web, HttpResponse};
use serde::Deserialize;
use urbanstream_actors::entity::EntityKey;
use urbanstream_actors::registry::{DeviceRemoved, DeviceUpserted};
use urbanstream_schema::models::{NewRobot, RobotChanges};
use urbanstream_schema::store::is_conflict;
use urbanstream_schema::RobotId;
use utoipa::ToSchema;

use super::{robot, view, Robot};
use crate::auth::now_ms;
use crate::http::buses::reload;
use crate::http::{ApiError, HttpState};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RobotBody {
    pub name: String,
    pub bus_id: i64,
    /// 1 to 247.
    pub unit_id: i32,
    /// A register map of `[[modbus.maps]]` (default `oht50-v1`).
    pub map: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RobotPatch {
    pub name: Option<String>,
    pub bus_id: Option<i64>,
    pub unit_id: Option<i32>,
    pub map: Option<String>,
}

async fn check(
    state: &HttpState,
    bus: Option<i64>,
    unit: Option<i32>,
    map: Option<&str>,
) -> Result<(), ApiError> {
    if let Some(u) = unit {
        if !(1..=247).contains(&u) {
            return Err(ApiError::BadRequest("unit_id must be 1 to 247".into()));
        }
    }
    if let Some(b) = bus {
        if state.store.bus(b).await?.is_none() {
            return Err(ApiError::BadRequest(format!("bus {b} does not exist")));
        }
    }
    if let Some(m) = map {
        if !state.robot_maps.iter().any(|n| n == m) {
            return Err(ApiError::BadRequest(format!(
                "unknown register map `{m}`; known: {}",
                state.robot_maps.join(", ")
            )));
        }
    }
    Ok(())
}

fn taken(e: urbanstream_schema::store::DbError) -> ApiError {
    if is_conflict(&e) {
        ApiError::Conflict("another robot has that unit id on that bus".into())
    } else {
        e.into()
    }
}

async fn upserted(state: &HttpState, row: &urbanstream_schema::models::RobotRow) {
    if let Some(device) = row.device_id {
        state.registry.do_send(DeviceUpserted {
            key: EntityKey::Robot(RobotId(row.id)),
            id: device,
            model: row.map.clone(),
        });
    }
    reload(state).await;
}

/// `GET /api/v1/robots`: every robot with its live state.
#[utoipa::path(get, path = "/api/v1/robots", tag = "robots", responses((status = 200, description = "Every robot", body = super::RobotList)))]
pub async fn list(state: web::Data<HttpState>) -> Result<HttpResponse, ApiError> {
    let rows = state.store.robots().await?;
    let items: Vec<Robot> = rows.into_iter().map(|r| view(&state, r)).collect();
    Ok(HttpResponse::Ok().json(super::RobotList { items }))
}

/// `POST /api/v1/robots`: registers a robot at a unit id of a bus; it is polled at once.
#[utoipa::path(post, path = "/api/v1/robots", tag = "robots", request_body = RobotBody, responses((status = 201, description = "Registered", body = Robot), (status = 400, description = "Bad bus, unit or map", body = crate::http::error::ErrorBody), (status = 409, description = "Unit taken", body = crate::http::error::ErrorBody)))]
pub async fn create(
    state: web::Data<HttpState>,
    body: web::Json<RobotBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let map = b.map.unwrap_or_else(|| "oht50-v1".into());
    let name = b.name.trim().to_owned();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::BadRequest(
            "name must be 1 to 100 characters".into(),
        ));
    }
    check(&state, Some(b.bus_id), Some(b.unit_id), Some(&map)).await?;
    let now = now_ms();
    let row = state
        .store
        .create_robot(NewRobot {
            name,
            bus_id: b.bus_id,
            unit_id: b.unit_id,
            map,
            created_ms: now,
            updated_ms: now,
        })
        .await
        .map_err(taken)?;
    upserted(&state, &row).await;
    Ok(HttpResponse::Created().json(view(&state, row)))
}

/// `GET /api/v1/robots/{id}`: the robot and its live state.
#[utoipa::path(get, path = "/api/v1/robots/{id}", tag = "robots", params(("id" = i64, Path, description = "Robot id")), responses((status = 200, description = "The robot", body = Robot), (status = 404, description = "No such robot", body = crate::http::error::ErrorBody)))]
pub async fn get(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let row = robot(&state, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(view(&state, row)))
}

/// `PATCH /api/v1/robots/{id}`.
#[utoipa::path(patch, path = "/api/v1/robots/{id}", tag = "robots", request_body = RobotPatch, params(("id" = i64, Path, description = "Robot id")), responses((status = 200, description = "Updated", body = Robot), (status = 409, description = "Unit taken", body = crate::http::error::ErrorBody), (status = 404, description = "No such robot", body = crate::http::error::ErrorBody)))]
pub async fn update(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
    body: web::Json<RobotPatch>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let p = body.into_inner();
    check(&state, p.bus_id, p.unit_id, p.map.as_deref()).await?;
    let row = state
        .store
        .update_robot(
            id,
            RobotChanges {
                name: p.name.map(|n| n.trim().to_owned()),
                bus_id: p.bus_id,
                unit_id: p.unit_id,
                map: p.map,
                updated_ms: Some(now_ms()),
            },
        )
        .await
        .map_err(taken)?
        .ok_or_else(|| ApiError::NotFound(format!("robot {id} does not exist")))?;
    upserted(&state, &row).await;
    Ok(HttpResponse::Ok().json(view(&state, row)))
}

/// `DELETE /api/v1/robots/{id}`: no longer polled; its history stays until retention.
#[utoipa::path(delete, path = "/api/v1/robots/{id}", tag = "robots", params(("id" = i64, Path, description = "Robot id")), responses((status = 204, description = "Deleted"), (status = 404, description = "No such robot", body = crate::http::error::ErrorBody)))]
pub async fn delete(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let row = robot(&state, id).await?;
    state.store.delete_robot(id).await?;
    if row.device_id.is_some() {
        state.registry.do_send(DeviceRemoved {
            key: EntityKey::Robot(RobotId(id)),
        });
    }
    reload(&state).await;
    Ok(HttpResponse::NoContent().finish())
}
