use actix_web::{web, HttpResponse};
use serde_json::json;

use super::{cursor, detection_json, DetectionQuery};
use crate::http::page::limit;
use crate::http::{ApiError, HttpState};

/// `GET /api/v1/detections?node&stream&object_type&min_confidence&from&to&limit&cursor`:
/// oldest first, one page at a time.
#[utoipa::path(get, path = "/api/v1/detections", tag = "edge", params(DetectionQuery), responses((status = 200, description = "A page of detections", body = Object)))]
pub async fn list(
    state: web::Data<HttpState>,
    q: web::Query<DetectionQuery>,
) -> Result<HttpResponse, ApiError> {
    if q.format.is_some() {
        return Err(ApiError::BadRequest(
            "format is for /api/v1/detections/export".into(),
        ));
    }
    let limit = limit(q.limit)?;
    let rows = state.store.detections(q.filter(limit)?).await?;
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(cursor))
        .flatten();
    let items: Vec<_> = rows.iter().map(detection_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items, "next_cursor": next })))
}
