use actix_web::{web, HttpResponse};
use serde_json::json;

use super::{time, ReportQuery, Table, MAX_ROWS};
use crate::http::{ApiError, HttpState};

/// Events in the window, oldest first (trips, stays, stops, geofences, online / offline),
/// optionally of one `kind`.
#[utoipa::path(get, path = "/api/v1/reports/events", tag = "reports", params(ReportQuery),
    responses((status = 200, description = "Events", content((Object = "application/json"), (String = "text/csv"))),
        (status = 404, description = "No such vehicle or tracker", body = crate::http::error::ErrorBody)))]
pub async fn events(
    state: web::Data<HttpState>,
    q: web::Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    let (csv, w, who) = q.prepare(&state).await?;
    let rows = state.store.events_in(&w, q.kind.clone(), MAX_ROWS).await?;
    Ok(Table {
        name: "events",
        columns: &["imei", "vehicle_id", "time", "kind", "subject", "data"],
        rows: rows
            .iter()
            .map(|e| {
                let d = who.get(&e.device_id);
                vec![
                    json!(d.map(|d| d.imei.clone())),
                    json!(d.and_then(|d| d.vehicle_id)),
                    time(e.time_ms),
                    json!(e.kind),
                    json!(e.subject),
                    serde_json::from_str(&e.data).unwrap_or(serde_json::Value::Null),
                ]
            })
            .collect(),
        truncated: rows.len() as i64 >= MAX_ROWS,
    }
    .respond(csv))
}
