use actix_web::{web, HttpResponse};
use urbanstream_actors::entity::EntityKey;
use urbanstream_actors::registry::DeviceUpserted;
use urbanstream_schema::models::EdgeNodeChanges;
use urbanstream_schema::store::EDGE_NODE_MODEL;

use super::{parse_node, view, NodeCreate};
use crate::auth::{now_ms, Principal, PrincipalKind};
use crate::http::{ApiError, HttpState};

/// `POST /api/v1/nodes/register`: a node registers itself (or updates its details) with a
/// registration API key, which becomes its MQTT password on the embedded broker
/// (username: its id).
#[utoipa::path(post, path = "/api/v1/nodes/register", tag = "edge", request_body = NodeCreate, responses((status = 200, description = "Registered (or updated)", body = super::Node)))]
pub async fn register(
    state: web::Data<HttpState>,
    principal: web::ReqData<Principal>,
    body: web::Json<NodeCreate>,
) -> Result<HttpResponse, ApiError> {
    let PrincipalKind::ApiKey { id: key_id } = principal.kind else {
        return Err(ApiError::Forbidden(
            "a node registers with an API key (Authorization: Bearer usk_…)".into(),
        ));
    };
    let now = now_ms();
    let row = body.row(now)?;
    let id = parse_node(&row.id)?;
    let stored = state.store.ensure_edge_node(row.clone()).await?;
    let changes = EdgeNodeChanges {
        name: Some(row.name),
        location: Some(row.location),
        ip_address: Some(row.ip_address),
        port: Some(row.port),
        capabilities: body.capabilities.as_ref().map(ToString::to_string),
        lat: Some(row.lat),
        lon: Some(row.lon),
        updated_ms: Some(now),
        ..EdgeNodeChanges::default()
    };
    state.store.update_edge_node(id.as_str(), changes).await?;
    state.store.set_edge_node_key(id.as_str(), key_id).await?;
    state.registry.do_send(DeviceUpserted {
        key: EntityKey::EdgeNode(id),
        id: stored.device_id,
        model: EDGE_NODE_MODEL.to_owned(),
    });
    let row = state
        .store
        .edge_node(id.as_str())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("node {id} vanished")))?;
    Ok(HttpResponse::Ok().json(view(&state, row)))
}
