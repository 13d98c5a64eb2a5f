use actix_web::{web, HttpResponse};

use crate::http::{ApiError, HttpState};

/// `GET /api/v1/system/status`: the plan's `SystemMetrics`, as last computed (every
/// `edge.metrics_every`): total and active nodes, total detections, average latency,
/// bandwidth and energy saved.
#[utoipa::path(get, path = "/api/v1/system/status", tag = "edge", responses((status = 200, description = "System metrics", body = Object)))]
pub async fn status(state: web::Data<HttpState>) -> Result<HttpResponse, ApiError> {
    let current = state.edge.system.current();
    if current.timestamp.timestamp() != 0 {
        return Ok(HttpResponse::Ok().json(&*current));
    }
    // Not computed yet on this node: the latest stored.
    match state.store.latest_system_metrics().await? {
        Some(m) => Ok(HttpResponse::Ok().json(serde_json::json!({
            "timestamp": super::time(m.time_ms),
            "total_nodes": m.total_nodes,
            "active_nodes": m.active_nodes,
            "total_detections": m.total_detections,
            "average_latency": m.average_latency,
            "bandwidth_saved": m.bandwidth_saved,
            "energy_saved": m.energy_saved,
        }))),
        None => Ok(HttpResponse::Ok().json(&*current)),
    }
}
