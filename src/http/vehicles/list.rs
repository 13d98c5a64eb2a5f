use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::http::page::Page;
use crate::http::{ApiError, HttpState};

/// `GET /api/v1/vehicles?limit&cursor`.
#[utoipa::path(get, path = "/api/v1/vehicles", tag = "vehicles", params(crate::http::page::Page), responses((status = 200, description = "A page of vehicles", body = super::VehiclePage)))]
pub async fn list(
    state: web::Data<HttpState>,
    q: web::Query<Page>,
) -> Result<HttpResponse, ApiError> {
    let limit = q.limit()?;
    let items = state.store.vehicles(q.after(), limit).await?;
    let next = q.next(limit, items.last().map(|v| v.id), items.len());
    Ok(HttpResponse::Ok().json(json!({ "items": items, "next_cursor": next })))
}
