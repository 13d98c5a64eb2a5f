use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::PeopleQuery;
use crate::http::{ApiError, HttpState};

/// `GET /api/v1/analytics/detections`: person detections per camera per time bucket, from
/// the edge nodes' stored detections of each camera's stream.
#[utoipa::path(get, path = "/api/v1/analytics/detections", tag = "cameras", params(PeopleQuery), responses((status = 200, description = "Detections per camera over time", body = Object), (status = 404, description = "No such session or zone", body = crate::http::error::ErrorBody)))]
pub async fn detections(
    state: web::Data<HttpState>,
    q: web::Query<PeopleQuery>,
) -> Result<HttpResponse, ApiError> {
    let (from, to) = q.window(&state).await?;
    let bucket = q.bucket_ms(from, to)?;
    if let Some(c) = q.camera_id {
        if !state.cameras.iter().any(|h| h.id == c) {
            return Err(ApiError::NotFound(format!("camera {c} is not configured")));
        }
    }
    let counts = state
        .store
        .detection_counts("person", from, to, bucket)
        .await?;
    let camera_of: BTreeMap<(String, String), u32> = state
        .cameras
        .iter()
        .map(|c| (c.detection_key(), c.id))
        .collect();
    let mut per_camera: BTreeMap<u32, Vec<serde_json::Value>> = BTreeMap::new();
    let mut totals: BTreeMap<u32, i64> = BTreeMap::new();
    for r in &counts {
        let Some(&cam) = camera_of.get(&(r.node_id.clone(), r.stream_id.clone())) else {
            continue;
        };
        if q.camera_id.is_some_and(|c| c != cam) {
            continue;
        }
        per_camera
            .entry(cam)
            .or_default()
            .push(json!({"time": super::iso(r.bucket_ms), "count": r.n}));
        *totals.entry(cam).or_default() += r.n;
    }
    let cameras: Vec<_> = state
        .cameras
        .iter()
        .filter(|c| q.camera_id.is_none_or(|id| id == c.id))
        .map(|c| {
            json!({
                "camera_id": c.id, "node": c.node, "stream": c.stream,
                "total": totals.get(&c.id).copied().unwrap_or(0),
                "buckets": per_camera.remove(&c.id).unwrap_or_default(),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "start_time": super::iso(from),
        "end_time": super::iso(to),
        "bucket_s": bucket / 1000,
        "cameras": cameras,
    })))
}
