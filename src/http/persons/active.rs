use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde_json::json;
use urbanstream_actors::reid::GetLivePeople;

use crate::http::{ApiError, HttpState};

/// `GET /api/v1/tracking/active`: the people in view now: position on the floor (metres),
/// cameras that see them, zones they are in, and their recent path.
#[utoipa::path(get, path = "/api/v1/tracking/active", tag = "cameras", responses((status = 200, description = "People in view", body = Object), (status = 404, description = "No camera configured", body = crate::http::error::ErrorBody)))]
pub async fn active(state: web::Data<HttpState>) -> Result<HttpResponse, ApiError> {
    let sessions = state
        .sessions
        .as_ref()
        .ok_or_else(|| ApiError::NotFound("no camera is configured ([cameras] list)".into()))?;
    let live = sessions
        .recorder
        .send(GetLivePeople)
        .await
        .map_err(|e| ApiError::Unavailable(format!("recorder: {e}")))?;
    let persons: Vec<_> = live
        .persons
        .iter()
        .map(|p| {
            json!({
                "global_id": p.global_id,
                "current_position": {"x": p.x_m, "y": p.y_m, "coordinate_system": "floor_m"},
                "cameras": p.cameras,
                "zones": p.zones.iter().map(|(z, since)| json!({"zone_id": z, "since": DateTime::<Utc>::from_timestamp_millis(*since)})).collect::<Vec<_>>(),
                "first_seen": DateTime::<Utc>::from_timestamp_millis(p.first_seen_ms),
                "last_seen": DateTime::<Utc>::from_timestamp_millis(p.last_seen_ms),
                "distance_m": p.distance_m,
                "trajectory_path": p.recent.iter().map(|(t, x, y)| json!({"timestamp": DateTime::<Utc>::from_timestamp_millis(*t), "x": x, "y": y})).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "session_id": live.session_id,
        "count": persons.len(),
        "persons": persons,
    })))
}
