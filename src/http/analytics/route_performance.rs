use actix_web::{web, HttpResponse};
use serde_json::json;
use urbanstream_actors::transit::performance::overall;

use super::Span;
use crate::http::reports::route::performance;
use crate::http::{ApiError, HttpState};

/// Every route over the window: arrivals, on-time share (no more than 1 min early or 5 min
/// late against the timetable), mean delay and mean dwell at stops.
#[utoipa::path(get, path = "/api/v1/analytics/route-performance", tag = "analytics", params(Span),
    responses((status = 200, description = "Per route", body = Object)))]
pub async fn route_performance(
    state: web::Data<HttpState>,
    q: web::Query<Span>,
) -> Result<HttpResponse, ApiError> {
    let (from_ms, to_ms) = q.checked()?;
    let mut items = Vec::new();
    for r in state.store.routes().await? {
        let (_, stops) = performance(&state, r.id, from_ms, to_ms).await?;
        let all = overall(&stops);
        items.push(json!({
            "route_id": r.id,
            "number": r.number,
            "name": r.name,
            "arrivals": all.arrivals,
            "scheduled": all.scheduled,
            "on_time_pct": all.on_time_pct.map(|v| (v * 10.0).round() / 10.0),
            "avg_delay_s": all.avg_delay_s.map(|v| (v * 10.0).round() / 10.0),
            "avg_dwell_s": all.avg_dwell_s.map(|v| (v * 10.0).round() / 10.0),
        }));
    }
    Ok(HttpResponse::Ok().json(json!({ "from": from_ms, "to": to_ms, "items": items })))
}
