use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use serde_json::json;
use urbanstream_schema::store::PersonFilter;

use super::PeopleQuery;
use crate::http::{ApiError, HttpState};

/// `GET /api/v1/analytics/tracking`: tracking counts over a window: people recorded, how long
/// they stayed in view and how far they walked, people and view time per camera, and camera
/// hand-overs (one camera's sighting followed by another's).
#[utoipa::path(get, path = "/api/v1/analytics/tracking", tag = "cameras", params(PeopleQuery), responses((status = 200, description = "Tracking counts", body = Object), (status = 404, description = "No such session or zone", body = crate::http::error::ErrorBody)))]
pub async fn tracking(
    state: web::Data<HttpState>,
    q: web::Query<PeopleQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(compute(&state, &q).await?))
}

pub(super) async fn compute(
    state: &HttpState,
    q: &PeopleQuery,
) -> Result<serde_json::Value, ApiError> {
    let (from, to) = q.window(state).await?;
    let persons = state
        .store
        .persons(PersonFilter {
            session_id: q.session_id,
            from_ms: Some(from),
            to_ms: Some(to),
            limit: 1_000_000,
            ..PersonFilter::default()
        })
        .await?;
    let persons: Vec<_> = persons.iter().filter(|p| p.merged_into.is_none()).collect();
    let sightings = state
        .store
        .sightings_between(q.session_id, from, to)
        .await?;
    let stays: Vec<f64> = persons
        .iter()
        .map(|p| (p.last_seen_ms - p.first_seen_ms) as f64 / 1000.0)
        .collect();
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    let distances: Vec<f64> = persons.iter().map(|p| p.distance_m).collect();
    // Per camera: distinct people and seconds in view.
    let mut cameras: BTreeMap<i32, (std::collections::BTreeSet<(i64, i64)>, i64)> = BTreeMap::new();
    for s in &sightings {
        let e = cameras.entry(s.camera).or_default();
        e.0.insert((s.session_id, s.global_id));
        e.1 += s.last_ms.min(to) - s.first_ms.max(from);
    }
    // Hand-overs between cameras, per person in time order.
    let mut by_person: BTreeMap<(i64, i64), Vec<(i64, i32)>> = BTreeMap::new();
    for s in &sightings {
        by_person
            .entry((s.session_id, s.global_id))
            .or_default()
            .push((s.first_ms, s.camera));
    }
    let mut handovers: BTreeMap<(i32, i32), u64> = BTreeMap::new();
    for seq in by_person.values_mut() {
        seq.sort_unstable();
        for w in seq.windows(2) {
            if w[0].1 != w[1].1 {
                *handovers.entry((w[0].1, w[1].1)).or_default() += 1;
            }
        }
    }
    let multi = persons
        .iter()
        .filter(|p| serde_json::from_str::<Vec<u32>>(&p.cameras).is_ok_and(|c| c.len() > 1))
        .count();
    Ok(json!({
        "start_time": super::iso(from),
        "end_time": super::iso(to),
        "session_id": q.session_id,
        "persons": persons.len(),
        "persons_seen_by_several_cameras": multi,
        "mean_time_in_view_s": mean(&stays),
        "mean_distance_m": mean(&distances),
        "cameras": cameras.iter().map(|(c, (people, ms))| json!({
            "camera_id": c, "persons": people.len(), "seconds_in_view": *ms as f64 / 1000.0,
        })).collect::<Vec<_>>(),
        "handovers": handovers.iter().map(|((a, b), n)| json!({
            "from_camera": a, "to_camera": b, "count": n,
        })).collect::<Vec<_>>(),
    }))
}
