use actix_web::{web, HttpResponse};
use serde_json::json;

use super::{resolve, Window};
use crate::http::{ApiError, HttpState};

/// `GET /api/v1/telemetry/history?imei&from&to&limit&cursor`: a page of stored records,
/// oldest first; `next_cursor` continues after the page.
#[utoipa::path(get, path = "/api/v1/telemetry/history", tag = "telemetry", params(super::Window), responses((status = 200, description = "A page of stored records, oldest first", body = super::TelemetryPage), (status = 404, description = "Not registered", body = crate::http::error::ErrorBody)))]
pub async fn history(
    state: web::Data<HttpState>,
    q: web::Query<Window>,
) -> Result<HttpResponse, ApiError> {
    if q.format.is_some() {
        return Err(ApiError::BadRequest(
            "`format` belongs to /telemetry/export".into(),
        ));
    }
    let r = resolve(&state, &q).await?;
    let limit = q.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be 1..=10000, got {limit}"
        )));
    }
    let from = q.cursor.map_or(r.from_ms, |c| (c + 1).max(r.from_ms));
    let rows = state
        .store
        .history(r.device.id, from, r.to_ms, limit)
        .await?;
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|x| x.device_time_ms))
        .flatten();
    let items: Vec<serde_json::Value> = rows.iter().map(super::row_json).collect();
    Ok(HttpResponse::Ok()
        .json(json!({ "imei": r.device.imei, "items": items, "next_cursor": next })))
}
