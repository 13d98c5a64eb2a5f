use actix_web::{web, HttpResponse};

use super::view;
use crate::http::{ApiError, HttpState};

/// `GET /api/v1/nodes`: every edge node, by id, with its live status.
#[utoipa::path(get, path = "/api/v1/nodes", tag = "edge", responses((status = 200, description = "The nodes", body = super::NodeList)))]
pub async fn list(state: web::Data<HttpState>) -> Result<HttpResponse, ApiError> {
    let rows = state.store.edge_nodes().await?;
    let items: Vec<_> = rows.into_iter().map(|r| view(&state, r)).collect();
    Ok(HttpResponse::Ok().json(super::NodeList { items }))
}
