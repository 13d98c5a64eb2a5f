use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::{person, Person};
use crate::http::{ApiError, HttpState};

/// `GET /api/v1/persons/{id}`.
#[utoipa::path(get, path = "/api/v1/persons/{id}", tag = "cameras", params(("id" = i64, Path, description = "Person id")), responses((status = 200, description = "The person", body = Person), (status = 404, description = "No such person", body = crate::http::error::ErrorBody)))]
pub async fn get(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let p = person(&state, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(Person::from_row(&p)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TrajectoryQuery {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// 1..=100000, default 10000.
    pub limit: Option<i64>,
}

/// `GET /api/v1/persons/{id}/trajectory`: floor points (metres) in time order, with the path
/// length and the cameras that saw them.
#[utoipa::path(get, path = "/api/v1/persons/{id}/trajectory", tag = "cameras", params(("id" = i64, Path, description = "Person id"), TrajectoryQuery), responses((status = 200, description = "The trajectory", body = Object), (status = 404, description = "No such person", body = crate::http::error::ErrorBody)))]
pub async fn trajectory(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
    q: web::Query<TrajectoryQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = q.limit.unwrap_or(10_000);
    if !(1..=100_000).contains(&limit) {
        return Err(ApiError::BadRequest("limit must be 1 to 100000".into()));
    }
    let p = person(&state, id.into_inner()).await?;
    let points = state
        .store
        .trajectory(
            p.session_id,
            Some(p.global_id),
            q.from.map(|t| t.timestamp_millis()),
            q.to.map(|t| t.timestamp_millis()),
            limit,
        )
        .await?;
    let length: f64 = points
        .windows(2)
        .map(|w| (w[1].x_m - w[0].x_m).hypot(w[1].y_m - w[0].y_m))
        .sum();
    let path: Vec<_> = points
        .iter()
        .map(|r| {
            json!({
                "timestamp": DateTime::<Utc>::from_timestamp_millis(r.time_ms),
                "x": r.x_m, "y": r.y_m, "coordinate_system": "floor_m", "cameras": r.cameras,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "person_id": p.id,
        "session_id": p.session_id,
        "global_id": p.global_id,
        "start_time": points.first().and_then(|r| DateTime::<Utc>::from_timestamp_millis(r.time_ms)),
        "end_time": points.last().and_then(|r| DateTime::<Utc>::from_timestamp_millis(r.time_ms)),
        "total_distance_m": length,
        "cameras_traversed": Person::from_row(&p).cameras_seen,
        "path_points": path,
    })))
}

/// `GET /api/v1/persons/{id}/journey`: the person's camera sightings and zone visits in time
/// order (an entry into a camera's view or a zone, and its end).
#[utoipa::path(get, path = "/api/v1/persons/{id}/journey", tag = "cameras", params(("id" = i64, Path, description = "Person id")), responses((status = 200, description = "The journey", body = Object), (status = 404, description = "No such person", body = crate::http::error::ErrorBody)))]
pub async fn journey(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let p = person(&state, id.into_inner()).await?;
    let sightings = state.store.sightings(p.session_id, p.global_id).await?;
    let zone_events = state
        .store
        .zone_events(Some(p.session_id), Some(p.global_id), None, None, None)
        .await?;
    let zones: std::collections::HashMap<i64, String> = state
        .store
        .zones(None)
        .await?
        .into_iter()
        .map(|z| (z.id, z.name))
        .collect();
    // Zone visits: an entry paired with the exit that follows it.
    let mut visits = Vec::new();
    let mut open: std::collections::HashMap<i64, i64> = std::collections::HashMap::new();
    for e in &zone_events {
        if e.kind == "enter" {
            open.insert(e.zone_id, e.time_ms);
        } else if let Some(entered) = open.remove(&e.zone_id) {
            visits.push((e.zone_id, entered, Some(e.time_ms), e.dwell_s));
        }
    }
    visits.extend(open.into_iter().map(|(z, t)| (z, t, None, None)));
    let mut steps: Vec<(i64, serde_json::Value)> = sightings
        .iter()
        .map(|s| {
            (
                s.first_ms,
                json!({
                    "kind": "camera", "camera_id": s.camera,
                    "from": DateTime::<Utc>::from_timestamp_millis(s.first_ms),
                    "to": DateTime::<Utc>::from_timestamp_millis(s.last_ms),
                    "duration_s": (s.last_ms - s.first_ms) as f64 / 1000.0,
                }),
            )
        })
        .collect();
    for (zone, from, to, dwell) in visits {
        steps.push((
            from,
            json!({
                "kind": "zone", "zone_id": zone, "zone": zones.get(&zone),
                "from": DateTime::<Utc>::from_timestamp_millis(from),
                "to": to.and_then(DateTime::<Utc>::from_timestamp_millis),
                "duration_s": dwell,
            }),
        ));
    }
    steps.sort_by_key(|(t, _)| *t);
    // Camera transitions: consecutive sightings by different cameras.
    let mut transitions = Vec::new();
    for w in sightings.windows(2) {
        if w[0].camera != w[1].camera {
            transitions.push(json!({
                "from_camera": w[0].camera, "to_camera": w[1].camera,
                "at": DateTime::<Utc>::from_timestamp_millis(w[1].first_ms),
            }));
        }
    }
    Ok(HttpResponse::Ok().json(json!({
        "person": Person::from_row(&p),
        "steps": steps.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
        "camera_transitions": transitions,
    })))
}
