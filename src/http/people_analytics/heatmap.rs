use actix_web::{web, HttpResponse};
use serde_json::json;

use super::PeopleQuery;
use crate::http::{ApiError, HttpState};

/// Most cells a heatmap may have.
const MAX_CELLS: usize = 1_000_000;

/// `GET /api/v1/analytics/heatmap`: where people were: recorded trajectory points counted per
/// floor cell (`counts[row][col]`, row = y, col = x from `origin`), and the person-seconds
/// each count stands for.
#[utoipa::path(get, path = "/api/v1/analytics/heatmap", tag = "cameras", params(PeopleQuery), responses((status = 200, description = "The heatmap grid", body = Object), (status = 404, description = "No such session or zone", body = crate::http::error::ErrorBody)))]
pub async fn heatmap(
    state: web::Data<HttpState>,
    q: web::Query<PeopleQuery>,
) -> Result<HttpResponse, ApiError> {
    let cell = q.cell_m.unwrap_or(0.5);
    if !(0.05..=10.0).contains(&cell) {
        return Err(ApiError::BadRequest("cell_m must be 0.05 to 10".into()));
    }
    let (from, to) = q.window(&state).await?;
    let points = state.store.floor_positions(q.session_id, from, to).await?;
    // The floor plan when its size is known, otherwise the points' extent.
    let env = &state.environment;
    let (x0, y0, x1, y1) = if env.width_m > 0.0 && env.height_m > 0.0 {
        (0.0, 0.0, env.width_m, env.height_m)
    } else if points.is_empty() {
        (0.0, 0.0, cell, cell)
    } else {
        let fold = |f: fn(f64, f64) -> f64, init: f64, pick: fn(&(f64, f64)) -> f64| {
            points.iter().map(pick).fold(init, f)
        };
        (
            (fold(f64::min, f64::INFINITY, |p| p.0) / cell).floor() * cell,
            (fold(f64::min, f64::INFINITY, |p| p.1) / cell).floor() * cell,
            fold(f64::max, f64::NEG_INFINITY, |p| p.0) + cell * 1e-6,
            fold(f64::max, f64::NEG_INFINITY, |p| p.1) + cell * 1e-6,
        )
    };
    let cols = (((x1 - x0) / cell).ceil() as usize).max(1);
    let rows = (((y1 - y0) / cell).ceil() as usize).max(1);
    if cols.saturating_mul(rows) > MAX_CELLS {
        return Err(ApiError::BadRequest(format!(
            "{cols} × {rows} cells: more than {MAX_CELLS}; take a larger cell_m"
        )));
    }
    let mut counts = vec![vec![0u64; cols]; rows];
    let mut outside = 0u64;
    for &(x, y) in &points {
        let (c, r) = ((x - x0) / cell, (y - y0) / cell);
        if c >= 0.0 && r >= 0.0 && (c as usize) < cols && (r as usize) < rows {
            counts[r as usize][c as usize] += 1;
        } else {
            outside += 1;
        }
    }
    let max = counts.iter().flatten().copied().max().unwrap_or(0);
    Ok(HttpResponse::Ok().json(json!({
        "start_time": super::iso(from),
        "end_time": super::iso(to),
        "session_id": q.session_id,
        "cell_m": cell,
        "origin": [x0, y0],
        "columns": cols,
        "rows": rows,
        "seconds_per_point": state.sessions.as_ref().map(|s| s.record.point_every_s),
        "total_points": points.len(),
        "outside_points": outside,
        "max": max,
        "counts": counts,
    })))
}
