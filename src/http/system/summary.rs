use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::http::nodes::view;
use crate::http::{ApiError, HttpState};

/// `GET /api/v1/system/nodes/summary`: nodes by status, with their mean CPU and memory.
#[utoipa::path(get, path = "/api/v1/system/nodes/summary", tag = "edge", responses((status = 200, description = "Node statistics", body = Object)))]
pub async fn summary(state: web::Data<HttpState>) -> Result<HttpResponse, ApiError> {
    let nodes: Vec<_> = state
        .store
        .edge_nodes()
        .await?
        .into_iter()
        .map(|r| view(&state, r))
        .collect();
    let mut by_status: BTreeMap<&str, usize> = ["registered", "active", "idle", "fault", "offline"]
        .into_iter()
        .map(|s| (s, 0))
        .collect();
    for n in &nodes {
        if let Some(c) = by_status.get_mut(n.status.as_str()) {
            *c += 1;
        }
    }
    let live: Vec<_> = nodes
        .iter()
        .filter(|n| n.status != "offline" && n.status != "registered")
        .collect();
    let mean = |f: fn(&&crate::http::nodes::Node) -> f64| {
        if live.is_empty() {
            0.0
        } else {
            live.iter().map(f).sum::<f64>() / live.len() as f64
        }
    };
    Ok(HttpResponse::Ok().json(json!({
        "total": nodes.len(),
        "by_status": by_status,
        "average_cpu_usage": mean(|n| n.cpu_usage),
        "average_memory_usage": mean(|n| n.memory_usage),
    })))
}
