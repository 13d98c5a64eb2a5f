use actix_web::{web, HttpResponse};
use serde_json::json;

use super::{time, Span};
use crate::http::nodes::parse_node;
use crate::http::{ApiError, HttpState};

/// `GET /api/v1/consensus/rounds?node&from&to&limit`: stored rounds, newest first, each with
/// the outcome recomputed from its votes and whether the reporter agreed.
#[utoipa::path(get, path = "/api/v1/consensus/rounds", tag = "edge", params(Span), responses((status = 200, description = "Consensus rounds", body = Object)))]
pub async fn rounds(
    state: web::Data<HttpState>,
    q: web::Query<Span>,
) -> Result<HttpResponse, ApiError> {
    let (from_ms, to_ms, limit) = q.range()?;
    if let Some(n) = &q.node {
        parse_node(n)?;
    }
    let rows = state
        .store
        .consensus_rounds(q.node.clone(), from_ms, to_ms, limit)
        .await?;
    let parse = |s: &Option<String>| {
        s.as_deref()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
    };
    let items: Vec<_> = rows
        .into_iter()
        .map(|r| {
            json!({
                "id": r.id,
                "node_id": r.node_id,
                "round_number": r.round_number,
                "timestamp": time(r.time_ms),
                "success": r.success,
                "participants": r.participants,
                "duration_ms": r.duration_ms,
                "votes": serde_json::from_str::<serde_json::Value>(&r.votes).unwrap_or_default(),
                "result": parse(&r.result),
                "computed_result": parse(&r.computed_result),
                "agrees": r.agrees,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}
