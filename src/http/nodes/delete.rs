use actix_web::{web, HttpResponse};
use urbanstream_actors::entity::EntityKey;
use urbanstream_actors::registry::DeviceRemoved;

use super::parse_node;
use crate::http::{ApiError, HttpState};

/// `DELETE /api/v1/nodes/{id}`: the node is forgotten (its history stays); its messages
/// are refused from now on unless unknown nodes are registered on first contact.
#[utoipa::path(delete, path = "/api/v1/nodes/{id}", tag = "edge", params(("id" = String, Path, description = "Node id")), responses((status = 204, description = "Deleted"), (status = 404, description = "No such node", body = crate::http::error::ErrorBody)))]
pub async fn delete(
    state: web::Data<HttpState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_node(&id)?;
    if !state.store.delete_edge_node(id.as_str()).await? {
        return Err(ApiError::NotFound(format!("node {id} is not registered")));
    }
    state.registry.do_send(DeviceRemoved {
        key: EntityKey::EdgeNode(id),
    });
    Ok(HttpResponse::NoContent().finish())
}
