use actix_web::{web, HttpResponse};
use urbanstream_actors::geo::geojson::feature;

use super::{reload, to_data, FenceFeature};
use crate::http::{ApiError, HttpState};

/// Creates a geofence; vehicles are checked against it from their next fix.
#[utoipa::path(post, path = "/api/v1/geofences", tag = "geofences", request_body = FenceFeature,
    responses((status = 201, description = "The stored Feature, with its id", body = Object)))]
pub async fn create(
    state: web::Data<HttpState>,
    body: web::Json<FenceFeature>,
) -> Result<HttpResponse, ApiError> {
    let data = to_data(body.into_inner())?;
    let row = state.store.create_geofence(data).await?;
    reload(&state).await?;
    Ok(HttpResponse::Created().json(feature(&row)))
}
