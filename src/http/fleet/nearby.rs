use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use urbanstream_actors::geo::haversine_m;
use urbanstream_actors::vehicle::VehicleSnapshot;

use crate::http::{ApiError, HttpState};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Near {
    lat: f64,
    lon: f64,
    /// 1..=100000, default 1000.
    radius_m: Option<f64>,
}

/// `GET /api/v1/fleet/nearby?lat&lon&radius_m`: vehicles within the radius, nearest first.
#[utoipa::path(get, path = "/api/v1/fleet/nearby", tag = "fleet", params(Near), responses((status = 200, description = "Vehicles within the radius, nearest first", body = Object)))]
pub async fn nearby(
    state: web::Data<HttpState>,
    q: web::Query<Near>,
) -> Result<HttpResponse, ApiError> {
    if !(-90.0..=90.0).contains(&q.lat) || !(-180.0..=180.0).contains(&q.lon) {
        return Err(ApiError::BadRequest(
            "lat must be -90..90 and lon -180..180".into(),
        ));
    }
    let radius = q.radius_m.unwrap_or(1000.0);
    if !(1.0..=100_000.0).contains(&radius) {
        return Err(ApiError::BadRequest(format!(
            "radius_m must be 1..=100000, got {radius}"
        )));
    }
    let fleet = state.directory.all_as::<VehicleSnapshot>();
    let mut near: Vec<(f64, serde_json::Value)> = fleet
        .into_iter()
        .filter_map(|s| {
            let pos = s.live.as_ref()?.position?;
            let d = haversine_m((q.lat, q.lon), (pos.lat, pos.lon));
            (d <= radius).then(|| {
                (
                    d,
                    json!({ "imei": s.imei, "distance_m": d, "position": pos, "motion": s.motion }),
                )
            })
        })
        .collect();
    near.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(HttpResponse::Ok()
        .json(json!({ "items": near.into_iter().map(|x| x.1).collect::<Vec<_>>() })))
}
