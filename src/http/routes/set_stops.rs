use actix_web::{web, HttpResponse};
use serde::Deserialize;
use urbanstream_schema::models::RouteStopRow;

use super::stops::RouteStopList;
use crate::http::transit::reload;
use crate::http::{ApiError, HttpState};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteStopInput {
    stop_id: i64,
    /// Seconds after a departure the stop is due (0 for the first).
    #[serde(default)]
    offset_s: i32,
}

/// Replaces a route's stops, in order (at least two; a stop may appear again on a loop).
#[utoipa::path(put, path = "/api/v1/routes/{id}/stops", tag = "transit",
    request_body = Vec<RouteStopInput>, params(("id" = i64, Path, description = "Route id")),
    responses((status = 200, description = "Stops in order", body = RouteStopList),
        (status = 404, description = "No such route", body = crate::http::error::ErrorBody)))]
pub async fn set_stops(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
    body: web::Json<Vec<RouteStopInput>>,
) -> Result<HttpResponse, ApiError> {
    let list = body.into_inner();
    if state.store.route(*id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no route {id}")));
    }
    if !(2..=500).contains(&list.len()) {
        return Err(ApiError::BadRequest("a route has 2 to 500 stops".into()));
    }
    let mut last = -1;
    for s in &list {
        if state.store.stop(s.stop_id).await?.is_none() {
            return Err(ApiError::BadRequest(format!("no stop {}", s.stop_id)));
        }
        if s.offset_s < last.max(0) || s.offset_s > 86_400 {
            return Err(ApiError::BadRequest(
                "offset_s must not decrease and stay within a day".into(),
            ));
        }
        last = s.offset_s;
    }
    let rows = list
        .iter()
        .enumerate()
        .map(|(i, s)| RouteStopRow {
            route_id: *id,
            seq: i32::try_from(i).unwrap_or(i32::MAX),
            stop_id: s.stop_id,
            offset_s: s.offset_s,
        })
        .collect();
    state.store.set_route_stops(*id, rows).await?;
    reload(&state).await?;
    super::stops::stops(state, id).await
}
