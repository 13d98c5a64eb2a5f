use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::http::page::Page;
use crate::http::{ApiError, HttpState};

/// `GET /api/v1/devices?limit&cursor`: registered devices by id.
#[utoipa::path(get, path = "/api/v1/devices", tag = "devices", params(crate::http::page::Page), responses((status = 200, description = "A page of devices", body = super::DevicePage)))]
pub async fn list(
    state: web::Data<HttpState>,
    q: web::Query<Page>,
) -> Result<HttpResponse, ApiError> {
    let limit = q.limit()?;
    let devices = state.store.devices().await?;
    let page: Vec<_> = devices
        .into_iter()
        .filter(|d| d.id > q.after())
        .take(limit as usize)
        .collect();
    let next = q.next(limit, page.last().map(|d| d.id), page.len());
    Ok(HttpResponse::Ok().json(json!({ "items": page, "next_cursor": next })))
}
