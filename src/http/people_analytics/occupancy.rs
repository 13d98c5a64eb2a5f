use std::collections::{BTreeMap, HashMap};

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::PeopleQuery;
use crate::http::{ApiError, HttpState};

/// `GET /api/v1/analytics/occupancy`: per zone and time bucket, how many people were inside
/// at some moment of the bucket (`present`), the most inside at once (`peak`) and the
/// person-seconds spent inside (`person_seconds`), from recorded entries and exits.
#[utoipa::path(get, path = "/api/v1/analytics/occupancy", tag = "cameras", params(PeopleQuery), responses((status = 200, description = "Occupancy per zone over time", body = Object), (status = 404, description = "No such session or zone", body = crate::http::error::ErrorBody)))]
pub async fn occupancy(
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
    let bucket = q.bucket_ms(from, to)?;
    let zones = state
        .store
        .zones(Some(state.environment.id.clone()))
        .await?;
    if let Some(z) = q.zone_id {
        if !zones.iter().any(|r| r.id == z) {
            return Err(ApiError::NotFound(format!("zone {z} not found")));
        }
    }
    // Events from a day earlier so that visits begun before the window are counted.
    let events = state
        .store
        .zone_events(
            q.session_id,
            None,
            q.zone_id,
            Some(from - 86_400_000),
            Some(to),
        )
        .await?;
    // Visits: (zone) → [(enter, exit)]; a visit still open ends at the window's end.
    let mut open: HashMap<(i64, i64, i64), i64> = HashMap::new();
    let mut visits: BTreeMap<i64, Vec<(i64, i64)>> = BTreeMap::new();
    for e in &events {
        let key = (e.session_id, e.global_id, e.zone_id);
        if e.kind == "enter" {
            open.insert(key, e.time_ms);
        } else if let Some(entered) = open.remove(&key) {
            visits
                .entry(e.zone_id)
                .or_default()
                .push((entered, e.time_ms));
        }
    }
    for ((_, _, zone), entered) in open {
        visits.entry(zone).or_default().push((entered, to));
    }
    let n = ((to - from + bucket - 1) / bucket) as usize;
    let mut series = Vec::new();
    for z in zones
        .iter()
        .filter(|z| q.zone_id.is_none_or(|id| id == z.id))
    {
        let vs = visits.get(&z.id).map(Vec::as_slice).unwrap_or(&[]);
        let mut buckets = Vec::with_capacity(n);
        for k in 0..n {
            let (b0, b1) = (
                from + k as i64 * bucket,
                (from + (k as i64 + 1) * bucket).min(to),
            );
            let mut present = 0;
            let mut person_ms = 0i64;
            let mut edges: Vec<(i64, i32)> = Vec::new();
            for &(a, b) in vs {
                let (s, e) = (a.max(b0), b.min(b1));
                if a <= b1 && b >= b0 {
                    present += 1;
                    person_ms += (e - s).max(0);
                    edges.push((s, 1));
                    edges.push((e, -1));
                }
            }
            // Entries before exits at the same instant: a hand-over counts both.
            edges.sort_by_key(|&(t, d)| (t, -d));
            let (mut now, mut peak) = (0, 0);
            for (_, d) in edges {
                now += d;
                peak = peak.max(now);
            }
            buckets.push(json!({
                "time": super::iso(b0), "present": present, "peak": peak,
                "person_seconds": person_ms as f64 / 1000.0,
            }));
        }
        let dwell: Vec<f64> = vs.iter().map(|&(a, b)| (b - a) as f64 / 1000.0).collect();
        series.push(json!({
            "zone_id": z.id, "zone": z.name, "visits": vs.len(),
            "mean_dwell_s": if dwell.is_empty() { None } else { Some(dwell.iter().sum::<f64>() / dwell.len() as f64) },
            "buckets": buckets,
        }));
    }
    Ok(json!({
        "start_time": super::iso(from),
        "end_time": super::iso(to),
        "bucket_s": bucket / 1000,
        "zones": series,
    }))
}
