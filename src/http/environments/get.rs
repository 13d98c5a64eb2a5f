use actix_web::{web, HttpResponse};
use serde_json::json;

use super::{check, view, EnvironmentList};
use crate::http::{ApiError, HttpState};

/// `GET /api/v1/environments`: the configured site.
#[utoipa::path(get, path = "/api/v1/environments", tag = "cameras", responses((status = 200, description = "The sites", body = EnvironmentList)))]
pub async fn list(state: web::Data<HttpState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(EnvironmentList {
        items: vec![view(&state).await?],
    }))
}

/// `GET /api/v1/environments/{id}`.
#[utoipa::path(get, path = "/api/v1/environments/{id}", tag = "cameras", params(("id" = String, Path, description = "Environment id")), responses((status = 200, description = "The site", body = super::Environment), (status = 404, description = "No such environment", body = crate::http::error::ErrorBody)))]
pub async fn get(
    state: web::Data<HttpState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    check(&state, &id)?;
    Ok(HttpResponse::Ok().json(view(&state).await?))
}

/// `GET /api/v1/environments/{id}/cameras`: its cameras with their calibration and settings.
#[utoipa::path(get, path = "/api/v1/environments/{id}/cameras", tag = "cameras", params(("id" = String, Path, description = "Environment id")), responses((status = 200, description = "Its cameras", body = Object), (status = 404, description = "No such environment", body = crate::http::error::ErrorBody)))]
pub async fn cameras(
    state: web::Data<HttpState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    check(&state, &id)?;
    let items: Vec<_> = state
        .cameras
        .iter()
        .map(|c| {
            json!({
                "id": c.id, "node": c.node, "stream": c.stream, "source": c.entry.source,
                "video": c.entry.source.as_ref().map(|_| &c.entry.video), "roi": c.entry.roi,
                "fps": c.entry.fps, "size": c.entry.size, "calibration": c.entry.calibration,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

/// `GET /api/v1/environments/{id}/zones`: its zones.
#[utoipa::path(get, path = "/api/v1/environments/{id}/zones", tag = "cameras", params(("id" = String, Path, description = "Environment id")), responses((status = 200, description = "Its zones", body = crate::http::zones::ZoneList), (status = 404, description = "No such environment", body = crate::http::error::ErrorBody)))]
pub async fn zones(
    state: web::Data<HttpState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    check(&state, &id)?;
    let rows = state.store.zones(Some(id.into_inner())).await?;
    Ok(HttpResponse::Ok().json(crate::http::zones::ZoneList {
        items: rows
            .iter()
            .map(crate::http::zones::Zone::from_row)
            .collect(),
    }))
}
