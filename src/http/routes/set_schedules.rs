use actix_web::{web, HttpResponse};
use serde::Deserialize;
use urbanstream_schema::models::NewSchedule;

use super::schedules::ScheduleList;
use crate::http::{ApiError, HttpState};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleInput {
    /// Departure from the first stop, `HH:MM` UTC.
    departure: String,
    /// Days it runs: `mon`…`sun`; absent or empty, every day.
    #[serde(default)]
    days: Vec<String>,
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Replaces a route's timetable.
#[utoipa::path(put, path = "/api/v1/routes/{id}/schedules", tag = "transit",
    request_body = Vec<ScheduleInput>, params(("id" = i64, Path, description = "Route id")),
    responses((status = 200, description = "Departures", body = ScheduleList),
        (status = 404, description = "No such route", body = crate::http::error::ErrorBody)))]
pub async fn set_schedules(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
    body: web::Json<Vec<ScheduleInput>>,
) -> Result<HttpResponse, ApiError> {
    if state.store.route(*id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no route {id}")));
    }
    let input = body.into_inner();
    if input.len() > 1_000 {
        return Err(ApiError::BadRequest("at most 1000 departures".into()));
    }
    let mut rows = Vec::with_capacity(input.len());
    for s in input {
        let bad = || ApiError::BadRequest(format!("departure `{}` is not HH:MM", s.departure));
        let (h, m) = s.departure.split_once(':').ok_or_else(bad)?;
        let (Ok(h), Ok(m)) = (h.parse::<i32>(), m.parse::<i32>()) else {
            return Err(bad());
        };
        if !(0..24).contains(&h) || !(0..60).contains(&m) {
            return Err(bad());
        }
        let mut days = 0;
        for d in &s.days {
            let i = DAYS
                .iter()
                .position(|x| x.eq_ignore_ascii_case(d))
                .ok_or_else(|| ApiError::BadRequest(format!("day `{d}`: expected mon … sun")))?;
            days |= 1 << i;
        }
        rows.push(NewSchedule {
            route_id: *id,
            departure_s: h * 3600 + m * 60,
            days: if days == 0 { 0x7f } else { days },
        });
    }
    let items = state.store.set_schedules(*id, rows).await?;
    Ok(HttpResponse::Ok().json(ScheduleList { items }))
}
