use actix_web::{web, HttpResponse};
use serde_json::json;

use super::{time, ReportQuery, Table, MAX_ROWS};
use crate::http::{ApiError, HttpState};

/// Stays between trips in the window (by start), oldest first: where and how long.
#[utoipa::path(get, path = "/api/v1/reports/stops", tag = "reports", params(ReportQuery),
    responses((status = 200, description = "Stays", content((Object = "application/json"), (String = "text/csv"))),
        (status = 404, description = "No such vehicle or tracker", body = crate::http::error::ErrorBody)))]
pub async fn stops(
    state: web::Data<HttpState>,
    q: web::Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    let (csv, w, who) = q.prepare(&state).await?;
    let rows = state.store.stays_in(&w, MAX_ROWS).await?;
    Ok(Table {
        name: "stops",
        columns: &[
            "imei",
            "vehicle_id",
            "start",
            "end",
            "duration_s",
            "lat",
            "lon",
        ],
        rows: rows
            .iter()
            .map(|s| {
                let d = who.get(&s.device_id);
                vec![
                    json!(d.map(|d| d.imei.clone())),
                    json!(s.vehicle_id),
                    time(s.start_ms),
                    time(s.end_ms),
                    json!(s.duration_s),
                    json!(s.lat),
                    json!(s.lon),
                ]
            })
            .collect(),
        truncated: rows.len() as i64 >= MAX_ROWS,
    }
    .respond(csv))
}
