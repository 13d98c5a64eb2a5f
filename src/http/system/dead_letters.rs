use actix_web::{web, HttpResponse};
use serde_json::json;

use super::{time, Span};
use crate::http::{ApiError, HttpState};

/// `GET /api/v1/mqtt/dead-letters?limit`: MQTT messages refused (malformed, wrong node,
/// oversize, …), newest first, with the first 4 KiB of each payload.
#[utoipa::path(get, path = "/api/v1/mqtt/dead-letters", tag = "edge", params(Span), responses((status = 200, description = "Refused messages", body = Object)))]
pub async fn dead_letters(
    state: web::Data<HttpState>,
    q: web::Query<Span>,
) -> Result<HttpResponse, ApiError> {
    let (_, _, limit) = q.range()?;
    let rows = state.store.mqtt_dead_letters(limit).await?;
    let items: Vec<_> = rows
        .into_iter()
        .map(|r| {
            json!({
                "id": r.id,
                "received_at": time(r.received_ms),
                "topic": r.topic,
                "reason": r.reason,
                "detail": r.detail,
                "payload": String::from_utf8_lossy(&r.payload),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}
