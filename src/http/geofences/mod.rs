pub mod create;
pub mod delete;
pub mod get;
pub mod list;
pub mod replace;

use serde::Deserialize;
use urbanstream_actors::geo::geojson::{index, shape_from_geojson};
use urbanstream_schema::models::GeofenceData;

use super::{ApiError, HttpState};

/// A geofence as a GeoJSON Feature: a Point with `radius_m` (circle), a Polygon, or a
/// LineString with `width_m` (corridor).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FenceFeature {
    /// `Feature`.
    #[serde(rename = "type")]
    kind: String,
    /// GeoJSON geometry, WGS 84 `[longitude, latitude]` positions.
    #[schema(value_type = Object)]
    geometry: serde_json::Value,
    properties: FenceProperties,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FenceProperties {
    name: String,
    /// A circle's radius (Point geometry).
    radius_m: Option<f64>,
    /// A corridor's full width (LineString geometry).
    width_m: Option<f64>,
    /// Band around the edge where nothing changes (default 20 m).
    hysteresis_m: Option<f64>,
    speed_limit_kmh: Option<f64>,
}

/// Validates a Feature into the row to store.
pub(crate) fn to_data(f: FenceFeature) -> Result<GeofenceData, ApiError> {
    if f.kind != "Feature" {
        return Err(ApiError::BadRequest("expected a GeoJSON Feature".into()));
    }
    let p = f.properties;
    let name = p.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::BadRequest(
            "name must be 1 to 200 characters".into(),
        ));
    }
    let (kind, _) = shape_from_geojson(&f.geometry, p.radius_m, p.width_m)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let hysteresis_m = p.hysteresis_m.unwrap_or(20.0);
    if !(0.0..=1_000.0).contains(&hysteresis_m) {
        return Err(ApiError::BadRequest(
            "hysteresis_m must be 0 to 1000".into(),
        ));
    }
    if p.speed_limit_kmh
        .is_some_and(|v| !(1.0..=300.0).contains(&v))
    {
        return Err(ApiError::BadRequest(
            "speed_limit_kmh must be 1 to 300".into(),
        ));
    }
    Ok(GeofenceData {
        name: name.to_owned(),
        kind: kind.to_owned(),
        geometry: f.geometry.to_string(),
        radius_m: (kind == "circle").then_some(p.radius_m).flatten(),
        width_m: (kind == "corridor").then_some(p.width_m).flatten(),
        hysteresis_m,
        speed_limit_kmh: p.speed_limit_kmh,
        updated_ms: crate::auth::now_ms(),
    })
}

/// Rebuilds this node's index at once (other nodes reload within seconds).
pub(crate) async fn reload(state: &HttpState) -> Result<(), ApiError> {
    let rows = state.store.geofences().await?;
    state.fences.replace(index(&rows));
    Ok(())
}
