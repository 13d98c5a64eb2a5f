use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use urbanstream_schema::store::AuditFilter;

use crate::http::{ApiError, HttpState};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this actor (username or API key name).
    actor: Option<String>,
    /// Only this action, e.g. `POST /api/v1/devices`.
    action: Option<String>,
    /// From this time (ms since the epoch), inclusive.
    from: Option<i64>,
    /// Before this time (ms since the epoch).
    to: Option<i64>,
    /// 1..=1000, default 100.
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<i64>,
}

/// The audit log, newest first: logins and every state-changing call.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of entries", body = super::AuditPage),
        (status = 400, description = "Bad filter", body = crate::http::error::ErrorBody),
    )
)]
pub async fn list(
    state: web::Data<HttpState>,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let limit = crate::http::page::limit(q.limit)?;
    let rows = state
        .store
        .audit(AuditFilter {
            actor: q.actor,
            action: q.action,
            from_ms: q.from,
            to_ms: q.to,
            before_id: q.cursor,
            limit,
        })
        .await?;
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    Ok(HttpResponse::Ok().json(json!({ "items": rows, "next_cursor": next })))
}
