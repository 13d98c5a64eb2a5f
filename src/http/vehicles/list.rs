use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::http::{ApiError, HttpState};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    limit: Option<i64>,
    cursor: Option<i64>,
}

/// `GET /api/v1/vehicles?limit&cursor`.
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
    let items = state.store.vehicles(q.cursor.unwrap_or(0), limit).await?;
    let next = (items.len() as i64 == limit)
        .then(|| items.last().map(|v| v.id))
        .flatten();
    Ok(HttpResponse::Ok().json(json!({ "items": items, "next_cursor": next })))
}
