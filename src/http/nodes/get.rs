use actix_web::{web, HttpResponse};

use super::{parse_node, view};
use crate::http::{ApiError, HttpState};

/// `GET /api/v1/nodes/{id}`.
#[utoipa::path(get, path = "/api/v1/nodes/{id}", tag = "edge", params(("id" = String, Path, description = "Node id")), responses((status = 200, description = "The node", body = super::Node), (status = 404, description = "No such node", body = crate::http::error::ErrorBody)))]
pub async fn get(
    state: web::Data<HttpState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_node(&id)?;
    let row = state
        .store
        .edge_node(id.as_str())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("node {id} is not registered")))?;
    Ok(HttpResponse::Ok().json(view(&state, row)))
}
