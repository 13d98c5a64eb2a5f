//! `/api/v1/routes`: routes, their ordered stops, timetables and vehicles.

pub mod assign;
pub mod create;
pub mod delete;
pub mod get;
pub mod list;
pub mod replace;
pub mod schedules;
pub mod set_schedules;
pub mod set_stops;
pub mod stops;
pub mod unassign;
pub mod vehicles;

use serde::{Deserialize, Serialize};
use urbanstream_schema::models::{RouteData, RouteRow};

use super::ApiError;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteInput {
    /// The public route number, e.g. `3` or `N12`; unique.
    number: String,
    name: String,
    /// `#RRGGBB` (default `#1f77b4`).
    colour: Option<String>,
    #[serde(default = "active")]
    active: bool,
}

fn active() -> bool {
    true
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RouteList {
    items: Vec<RouteRow>,
}

pub(crate) fn to_data(r: RouteInput) -> Result<RouteData, ApiError> {
    let number = r.number.trim();
    let name = r.name.trim();
    if number.is_empty() || number.chars().count() > 16 {
        return Err(ApiError::BadRequest(
            "number must be 1 to 16 characters".into(),
        ));
    }
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::BadRequest(
            "name must be 1 to 200 characters".into(),
        ));
    }
    let colour = r.colour.unwrap_or_else(|| "#1f77b4".into());
    if !(colour.len() == 7
        && colour.starts_with('#')
        && colour[1..].chars().all(|c| c.is_ascii_hexdigit()))
    {
        return Err(ApiError::BadRequest("colour must be #RRGGBB".into()));
    }
    Ok(RouteData {
        number: number.to_owned(),
        name: name.to_owned(),
        colour,
        active: r.active,
        updated_ms: crate::auth::now_ms(),
    })
}

/// A taken route number is a conflict.
pub(crate) fn conflict(e: urbanstream_schema::store::DbError) -> ApiError {
    if urbanstream_schema::store::is_conflict(&e) {
        ApiError::Conflict("route number already taken".into())
    } else {
        e.into()
    }
}
