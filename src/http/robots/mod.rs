//! Robots (`/api/v1/robots`): registration on a bus, live state, commands through the
//! ledger, the emergency stop, telemetry and safety events.

pub mod commands;
pub mod crud;
pub mod estop;
pub mod history;

use serde::Serialize;
use urbanstream_actors::entity::EntityKey;
use urbanstream_actors::robot::RobotSnapshot;
use urbanstream_schema::models::RobotRow;
use urbanstream_schema::RobotId;
use utoipa::ToSchema;

use super::{ApiError, HttpState};

/// A robot: its registration and its live state (`disconnected`, `idle`, `moving`,
/// `hoisting`, `fault`, `emergency_stopped`, `stale`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Robot {
    pub id: i64,
    pub device_id: Option<i64>,
    pub name: String,
    pub bus_id: i64,
    pub unit_id: i32,
    /// Its register map.
    pub map: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub state: String,
    /// The latest registers read, the safety conditions in force, when it was last heard.
    #[schema(value_type = Option<Object>)]
    pub live: Option<RobotSnapshot>,
}

/// Every robot.
#[derive(Debug, Serialize, ToSchema)]
pub struct RobotList {
    pub items: Vec<Robot>,
}

pub(crate) fn view(state: &HttpState, row: RobotRow) -> Robot {
    let live = state
        .directory
        .latest_as::<RobotSnapshot>(&EntityKey::Robot(RobotId(row.id)));
    Robot {
        state: live
            .as_ref()
            .map_or("disconnected", |l| l.state.as_str())
            .to_owned(),
        id: row.id,
        device_id: row.device_id,
        name: row.name,
        bus_id: row.bus_id,
        unit_id: row.unit_id,
        map: row.map,
        created_ms: row.created_ms,
        updated_ms: row.updated_ms,
        live,
    }
}

pub(crate) async fn robot(state: &HttpState, id: i64) -> Result<RobotRow, ApiError> {
    state
        .store
        .robot(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("robot {id} does not exist")))
}
