use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::http::{ApiError, HttpState};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    /// 1..=1000, default 100.
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<i64>,
}

/// `GET /api/v1/devices?limit&cursor`: registered devices by id.
pub async fn list(
    state: web::Data<HttpState>,
    q: web::Query<Page>,
) -> Result<HttpResponse, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be 1..=1000, got {limit}"
        )));
    }
    let after = q.cursor.unwrap_or(0);
    let devices = state.store.devices().await?;
    let page: Vec<_> = devices
        .into_iter()
        .filter(|d| d.id > after)
        .take(limit as usize)
        .collect();
    let next = (page.len() as i64 == limit)
        .then(|| page.last().map(|d| d.id))
        .flatten();
    Ok(HttpResponse::Ok().json(json!({ "items": page, "next_cursor": next })))
}
