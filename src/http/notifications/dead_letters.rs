use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use urbanstream_schema::models::DeadLetterRow;

use crate::http::{ApiError, HttpState};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeadLetterQuery {
    /// 1..=1000, default 100.
    limit: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeadLetterList {
    items: Vec<DeadLetterRow>,
}

/// Notifications that failed every attempt, newest first, with the payload and last error.
#[utoipa::path(get, path = "/api/v1/notifications/dead-letters", tag = "notifications",
    params(DeadLetterQuery),
    responses((status = 200, description = "Undelivered notifications", body = DeadLetterList)))]
pub async fn dead_letters(
    state: web::Data<HttpState>,
    q: web::Query<DeadLetterQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = crate::http::page::limit(q.limit)?;
    let items = state.store.dead_letters(limit).await?;
    Ok(HttpResponse::Ok().json(DeadLetterList { items }))
}
