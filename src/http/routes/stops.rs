use actix_web::{web, HttpResponse};
use serde::Serialize;
use urbanstream_schema::models::StopRow;

use crate::http::{ApiError, HttpState};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RouteStop {
    seq: i32,
    /// Seconds after a departure the stop is due (timetable).
    offset_s: i32,
    /// Metres along the route from the first stop.
    along_m: Option<f64>,
    stop: StopRow,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RouteStopList {
    items: Vec<RouteStop>,
}

/// A route's stops in order.
#[utoipa::path(get, path = "/api/v1/routes/{id}/stops", tag = "transit",
    params(("id" = i64, Path, description = "Route id")),
    responses((status = 200, description = "Stops in order", body = RouteStopList),
        (status = 404, description = "No such route", body = crate::http::error::ErrorBody)))]
pub async fn stops(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    if state.store.route(*id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no route {id}")));
    }
    let index = state.routes.current();
    let def = index.routes.get(&*id);
    let items = state
        .store
        .route_stops(*id)
        .await?
        .into_iter()
        .map(|(rs, stop)| RouteStop {
            seq: rs.seq,
            offset_s: rs.offset_s,
            along_m: def.and_then(|d| d.along_m.get(usize::try_from(rs.seq).ok()?).copied()),
            stop,
        })
        .collect();
    Ok(HttpResponse::Ok().json(RouteStopList { items }))
}
