use actix_web::{web, HttpResponse};
use serde_json::json;
use urbanstream_actors::geo::geojson::feature;

use crate::http::{ApiError, HttpState};

/// Every geofence, as a GeoJSON FeatureCollection.
#[utoipa::path(get, path = "/api/v1/geofences", tag = "geofences",
    responses((status = 200, description = "FeatureCollection of the fences", body = Object)))]
pub async fn list(state: web::Data<HttpState>) -> Result<HttpResponse, ApiError> {
    let rows = state.store.geofences().await?;
    let features: Vec<_> = rows.iter().map(feature).collect();
    Ok(HttpResponse::Ok().json(json!({ "type": "FeatureCollection", "features": features })))
}
