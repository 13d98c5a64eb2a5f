use actix_web::{web, HttpResponse};
use serde_json::json;
use urbanstream_schema::store::LogFilter;

use super::{time, Span};
use crate::http::{ApiError, HttpState};

/// `GET /api/v1/system/logs?level&source&from&to&limit`: the system log, newest first.
#[utoipa::path(get, path = "/api/v1/system/logs", tag = "edge", params(Span), responses((status = 200, description = "Log entries", body = Object)))]
pub async fn logs(
    state: web::Data<HttpState>,
    q: web::Query<Span>,
) -> Result<HttpResponse, ApiError> {
    let (from_ms, to_ms, limit) = q.range()?;
    if let Some(l) = q.level.as_deref() {
        if !matches!(l, "debug" | "info" | "warning" | "error") {
            return Err(ApiError::BadRequest(
                "level must be debug, info, warning or error".into(),
            ));
        }
    }
    let rows = state
        .store
        .system_logs(LogFilter {
            level: q.level.clone(),
            source: q.source.clone(),
            from_ms,
            to_ms,
            limit,
        })
        .await?;
    let items: Vec<_> = rows
        .into_iter()
        .map(|r| {
            json!({
                "id": r.id,
                "timestamp": time(r.time_ms),
                "level": r.level,
                "source": r.source,
                "message": r.message,
                "details": serde_json::from_str::<serde_json::Value>(&r.details).unwrap_or_default(),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}
