//! `/api/v1/stops`: stops, and the vehicles expected at each.

pub mod arrivals;
pub mod create;
pub mod delete;
pub mod get;
pub mod list;
pub mod replace;

use serde::{Deserialize, Serialize};
use urbanstream_schema::models::{StopData, StopRow};

use super::ApiError;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StopInput {
    /// The stop's public code; unique.
    code: String,
    name: String,
    lat: f64,
    lon: f64,
    /// A vehicle within this distance is at the stop (default 30 m).
    radius_m: Option<f64>,
    #[serde(default)]
    shelter: bool,
    /// Has a passenger display.
    #[serde(default)]
    display: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StopList {
    items: Vec<StopRow>,
}

pub(crate) fn to_data(s: StopInput) -> Result<StopData, ApiError> {
    let (code, name) = (s.code.trim(), s.name.trim());
    if code.is_empty() || code.chars().count() > 32 {
        return Err(ApiError::BadRequest(
            "code must be 1 to 32 characters".into(),
        ));
    }
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::BadRequest(
            "name must be 1 to 200 characters".into(),
        ));
    }
    if !(-90.0..=90.0).contains(&s.lat) || !(-180.0..=180.0).contains(&s.lon) {
        return Err(ApiError::BadRequest(
            "lat must be -90..90 and lon -180..180".into(),
        ));
    }
    let radius_m = s.radius_m.unwrap_or(30.0);
    if !(5.0..=500.0).contains(&radius_m) {
        return Err(ApiError::BadRequest("radius_m must be 5 to 500".into()));
    }
    Ok(StopData {
        code: code.to_owned(),
        name: name.to_owned(),
        lat: s.lat,
        lon: s.lon,
        radius_m,
        shelter: s.shelter,
        display: s.display,
        updated_ms: crate::auth::now_ms(),
    })
}

pub(crate) fn conflict(e: urbanstream_schema::store::DbError) -> ApiError {
    if urbanstream_schema::store::is_conflict(&e) {
        ApiError::Conflict("stop code already taken".into())
    } else {
        e.into()
    }
}
