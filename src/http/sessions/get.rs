use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::{sessions, view, SessionList};
use crate::http::{ApiError, HttpState};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// 1..=500, default 50.
    pub limit: Option<i64>,
}

/// `GET /api/v1/sessions`: the latest sessions first.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "cameras", params(ListQuery), responses((status = 200, description = "Sessions", body = SessionList), (status = 404, description = "No camera is configured", body = crate::http::error::ErrorBody)))]
pub async fn list(
    state: web::Data<HttpState>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::BadRequest("limit must be 1 to 500".into()));
    }
    sessions(&state)?;
    let items = state.store.sessions(limit).await?;
    Ok(HttpResponse::Ok().json(SessionList { items }))
}

/// `GET /api/v1/sessions/{id}`: a session's status.
#[utoipa::path(get, path = "/api/v1/sessions/{id}", tag = "cameras", params(("id" = i64, Path, description = "Session id")), responses((status = 200, description = "The session", body = super::SessionView), (status = 404, description = "No such session", body = crate::http::error::ErrorBody)))]
pub async fn get(
    state: web::Data<HttpState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    sessions(&state)?;
    let id = id.into_inner();
    let row = state
        .store
        .session(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("session {id} not found")))?;
    Ok(HttpResponse::Ok().json(view(&state, row).await?))
}
