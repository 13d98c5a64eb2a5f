use std::time::Duration;

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use urbanstream_actors::modbus::DiscoverOn;
use urbanstream_schema::BusId;
use utoipa::{IntoParams, ToSchema};

use crate::http::{ApiError, HttpState};

#[derive(Debug, Deserialize, IntoParams, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscoverQuery {
    /// First unit id to try (default 1).
    pub first: Option<u8>,
    /// Last unit id to try (default 32; at most 247).
    pub last: Option<u8>,
    /// How long each unit may take to answer, ms (default 50).
    pub timeout_ms: Option<u64>,
}

/// `POST /api/v1/modbus/buses/{id}/discover`: scans unit ids for modules (FC43/14 device
/// identification where answered, else the identity registers 200–212). Found modules can
/// then be registered as robots.
#[utoipa::path(post, path = "/api/v1/modbus/buses/{id}/discover", tag = "robots", params(("id" = i64, Path, description = "Bus id"), DiscoverQuery), responses((status = 200, description = "Modules found", body = Object), (status = 404, description = "No such bus", body = crate::http::error::ErrorBody), (status = 503, description = "Bus not running", body = crate::http::error::ErrorBody)))]
pub async fn discover(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
    query: web::Query<DiscoverQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let q = query.into_inner();
    let (first, last) = (q.first.unwrap_or(1), q.last.unwrap_or(32));
    if first == 0 || last > 247 || first > last {
        return Err(ApiError::BadRequest(
            "scan unit ids within 1..=247, first ≤ last".into(),
        ));
    }
    let per_unit = Duration::from_millis(q.timeout_ms.unwrap_or(50).clamp(5, 2000));
    let Some(m) = &state.modbus else {
        return Err(ApiError::Unavailable("modbus is disabled".into()));
    };
    state
        .store
        .bus(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("bus {id} does not exist")))?;
    let found = m
        .send(DiscoverOn {
            bus: BusId(id),
            first,
            last,
            per_unit,
        })
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?
        .map_err(ApiError::Unavailable)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "bus_id": id, "found": found })))
}
