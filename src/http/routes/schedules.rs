use actix_web::{web, HttpResponse};
use serde::Serialize;
use urbanstream_schema::models::ScheduleRow;

use crate::http::{ApiError, HttpState};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScheduleList {
    pub(super) items: Vec<ScheduleRow>,
}

/// A route's timetable: departures from its first stop.
#[utoipa::path(get, path = "/api/v1/routes/{id}/schedules", tag = "transit",
    params(("id" = i64, Path, description = "Route id")),
    responses((status = 200, description = "Departures", body = ScheduleList),
        (status = 404, description = "No such route", body = crate::http::error::ErrorBody)))]
pub async fn schedules(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    if state.store.route(*id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no route {id}")));
    }
    Ok(HttpResponse::Ok().json(ScheduleList {
        items: state.store.schedules(*id).await?,
    }))
}
