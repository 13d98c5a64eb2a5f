use actix_web::{web, HttpResponse};
use urbanstream_actors::entity::EntityKey;
use urbanstream_actors::registry::DeviceUpserted;
use urbanstream_schema::store::{is_conflict, EDGE_NODE_MODEL};

use super::{parse_node, view, NodeCreate};
use crate::auth::now_ms;
use crate::http::{ApiError, HttpState};

/// `POST /api/v1/nodes`: registers an edge node; its messages are taken from now on.
#[utoipa::path(post, path = "/api/v1/nodes", tag = "edge", request_body = NodeCreate, responses((status = 201, description = "Registered", body = super::Node), (status = 409, description = "Id taken", body = crate::http::error::ErrorBody)))]
pub async fn create(
    state: web::Data<HttpState>,
    body: web::Json<NodeCreate>,
) -> Result<HttpResponse, ApiError> {
    let row = body.row(now_ms())?;
    let id = parse_node(&row.id)?;
    let row = state.store.create_edge_node(row).await.map_err(|e| {
        if is_conflict(&e) {
            ApiError::Conflict(format!("node {id} exists"))
        } else {
            e.into()
        }
    })?;
    state.registry.do_send(DeviceUpserted {
        key: EntityKey::EdgeNode(id),
        id: row.device_id,
        model: EDGE_NODE_MODEL.to_owned(),
    });
    Ok(HttpResponse::Created().json(view(&state, row)))
}
