use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use urbanstream_schema::store::QuarantineFilter;

use super::time;
use crate::http::{ApiError, HttpState};

/// Which quarantined records to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QuarantineQuery {
    /// `tracker`, `edge_node`, `robot`, or `database` (rows the database refused).
    pub source: Option<String>,
    /// The device: an IMEI, a node id, `robot:{id}`.
    pub subject: Option<String>,
    /// `time_out_of_range`, `database_refused`.
    pub reason: Option<String>,
    /// 1..=1000, default 100.
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<i64>,
}

/// `GET /api/v1/quarantine?source&subject&reason&limit&cursor`: what was acknowledged but not
/// taken as it came (a record dated before 2000 or too far ahead of the server's clock, rows
/// the database refused for good), as received, with why; newest first.
#[utoipa::path(get, path = "/api/v1/quarantine", tag = "operations", params(QuarantineQuery), responses((status = 200, description = "Quarantined records, newest first", body = Object)))]
pub async fn list(
    state: web::Data<HttpState>,
    q: web::Query<QuarantineQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let limit = crate::http::page::limit(q.limit)?;
    let rows = state
        .store
        .quarantined(QuarantineFilter {
            source: q.source,
            subject: q.subject,
            reason: q.reason,
            before_id: q.cursor,
            limit,
        })
        .await?;
    let next_cursor = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let items: Vec<_> = rows
        .into_iter()
        .map(|r| {
            json!({
                "id": r.id,
                "received_at": time(r.received_ms),
                "source": r.source,
                "subject": r.subject,
                "reason": r.reason,
                "detail": r.detail,
                "payload": r.payload,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items, "next_cursor": next_cursor })))
}
