use actix_web::{web, HttpResponse};
use serde_json::json;
use urbanstream_actors::transit::performance::{per_stop, Arrival, Departure, StopPerformance};
use urbanstream_schema::models::StopRow;

use super::{round, ReportQuery, Table};
use crate::http::{ApiError, HttpState};

/// Punctuality and dwell per stop of a route over a window, and its stops.
pub(crate) async fn performance(
    state: &HttpState,
    route_id: i64,
    from_ms: i64,
    to_ms: i64,
) -> Result<(Vec<StopRow>, Vec<StopPerformance>), ApiError> {
    let stops = state.store.route_stops(route_id).await?;
    let offsets: Vec<i32> = stops.iter().map(|(rs, _)| rs.offset_s).collect();
    let deps: Vec<Departure> = state
        .store
        .schedules(route_id)
        .await?
        .iter()
        .map(|s| Departure {
            at_s: s.departure_s,
            days: s.days,
        })
        .collect();
    let arrivals: Vec<Arrival> = state
        .store
        .route_arrivals(route_id, from_ms, to_ms)
        .await?
        .iter()
        .map(|a| Arrival {
            seq: usize::try_from(a.seq).unwrap_or(usize::MAX),
            arrived_ms: a.arrived_ms,
            dwell_s: a.dwell_s,
        })
        .collect();
    Ok((
        stops.into_iter().map(|(_, s)| s).collect(),
        per_stop(&offsets, &deps, &arrivals),
    ))
}

/// A route's stops over the window: arrivals, on-time share (no more than 1 min early or
/// 5 min late against the timetable), mean delay and dwell.
#[utoipa::path(get, path = "/api/v1/reports/route", tag = "reports", params(ReportQuery),
    responses((status = 200, description = "One row per stop of the route", content((Object = "application/json"), (String = "text/csv"))),
        (status = 404, description = "No such route, vehicle or tracker", body = crate::http::error::ErrorBody)))]
pub async fn route(
    state: web::Data<HttpState>,
    q: web::Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    let csv = q.csv()?;
    let w = q.window(&state).await?;
    let route_id = q
        .route
        .ok_or_else(|| ApiError::BadRequest("route is required".into()))?;
    if state.store.route(route_id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no route {route_id}")));
    }
    let (stops, perf) = performance(&state, route_id, w.from_ms, w.to_ms).await?;
    Ok(Table {
        name: "route",
        columns: &[
            "seq",
            "stop_id",
            "stop",
            "arrivals",
            "scheduled",
            "on_time",
            "on_time_pct",
            "avg_delay_s",
            "avg_dwell_s",
        ],
        rows: perf
            .iter()
            .zip(&stops)
            .map(|(p, s)| {
                vec![
                    json!(p.seq),
                    json!(s.id),
                    json!(s.name),
                    json!(p.arrivals),
                    json!(p.scheduled),
                    json!(p.on_time),
                    p.on_time_pct
                        .map_or(serde_json::Value::Null, |v| round(v, 1)),
                    p.avg_delay_s
                        .map_or(serde_json::Value::Null, |v| round(v, 1)),
                    p.avg_dwell_s
                        .map_or(serde_json::Value::Null, |v| round(v, 1)),
                ]
            })
            .collect(),
        truncated: false,
    }
    .respond(csv))
}
