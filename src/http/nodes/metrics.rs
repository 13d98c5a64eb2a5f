use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::parse_node;
use crate::http::{ApiError, HttpState};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MetricsWindow {
    /// RFC 3339; default 1 h before `to`.
    pub from: Option<DateTime<Utc>>,
    /// RFC 3339, exclusive; default now.
    pub to: Option<DateTime<Utc>>,
    /// `heartbeat` or `metrics`; default both.
    pub kind: Option<String>,
    /// 1..=10000, default 1000.
    pub limit: Option<i64>,
}

/// `GET /api/v1/nodes/{id}/metrics?from&to`: the node's heartbeats and metrics reports, as
/// it sent them, oldest first.
#[utoipa::path(get, path = "/api/v1/nodes/{id}/metrics", tag = "edge", params(("id" = String, Path, description = "Node id"), MetricsWindow), responses((status = 200, description = "Samples", body = Object), (status = 404, description = "No such node", body = crate::http::error::ErrorBody)))]
pub async fn metrics(
    state: web::Data<HttpState>,
    id: web::Path<String>,
    q: web::Query<MetricsWindow>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_node(&id)?;
    let to = q.to.unwrap_or_else(Utc::now);
    let from = q.from.unwrap_or(to - chrono::Duration::hours(1));
    if from >= to {
        return Err(ApiError::BadRequest("`from` must be before `to`".into()));
    }
    let limit = q.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::BadRequest("limit must be 1..=10000".into()));
    }
    if let Some(k) = q.kind.as_deref() {
        if !matches!(k, "heartbeat" | "metrics") {
            return Err(ApiError::BadRequest(
                "kind must be heartbeat or metrics".into(),
            ));
        }
    }
    if state.store.edge_node(id.as_str()).await?.is_none() {
        return Err(ApiError::NotFound(format!("node {id} is not registered")));
    }
    let rows = state
        .store
        .node_samples(
            id.as_str(),
            from.timestamp_millis(),
            to.timestamp_millis(),
            limit,
        )
        .await?;
    let items: Vec<_> = rows
        .into_iter()
        .filter(|r| q.kind.as_deref().is_none_or(|k| k == r.kind))
        .map(|r| {
            json!({
                "kind": r.kind,
                "timestamp": DateTime::<Utc>::from_timestamp_millis(r.time_ms),
                "data": serde_json::from_str::<serde_json::Value>(&r.data).unwrap_or_default(),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "node_id": id, "from": from, "to": to, "items": items })))
}
