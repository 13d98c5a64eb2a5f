use actix_web::{web, HttpResponse};
use serde::Deserialize;
use urbanstream_actors::entity::EntityKey;
use urbanstream_actors::registry::DeviceUpserted;
use urbanstream_schema::models::EdgeNodeChanges;
use urbanstream_schema::store::EDGE_NODE_MODEL;
use utoipa::ToSchema;

use super::{check_fields, parse_node, view};
use crate::auth::now_ms;
use crate::http::{ApiError, HttpState};

/// What an operator changes on a node; absent fields stay (`null` clears an optional one).
/// Status and health come from the node itself.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeUpdate {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub location: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub ip_address: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i32>)]
    pub port: Option<Option<i32>>,
    #[schema(value_type = Option<Object>)]
    pub capabilities: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<f64>)]
    pub lat: Option<Option<f64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<f64>)]
    pub lon: Option<Option<f64>>,
    /// `false` admits a quarantined node; `true` quarantines one.
    pub quarantined: Option<bool>,
}

/// A field that is present (`Some`), possibly `null` (`Some(None)`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// `PATCH /api/v1/nodes/{id}`.
#[utoipa::path(patch, path = "/api/v1/nodes/{id}", tag = "edge", params(("id" = String, Path, description = "Node id")), request_body = NodeUpdate, responses((status = 200, description = "Updated", body = super::Node), (status = 404, description = "No such node", body = crate::http::error::ErrorBody)))]
pub async fn update(
    state: web::Data<HttpState>,
    id: web::Path<String>,
    body: web::Json<NodeUpdate>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_node(&id)?;
    let b = body.into_inner();
    check_fields(
        b.port.flatten(),
        b.lat.flatten(),
        b.lon.flatten(),
        b.capabilities.as_ref(),
    )?;
    if b.name
        .as_ref()
        .is_some_and(|n| n.trim().is_empty() || n.len() > 100)
    {
        return Err(ApiError::BadRequest(
            "name must be 1 to 100 characters".into(),
        ));
    }
    let changes = EdgeNodeChanges {
        name: b.name.map(|n| n.trim().to_owned()),
        location: b.location,
        ip_address: b.ip_address,
        port: b.port,
        capabilities: b.capabilities.map(|c| c.to_string()),
        quarantined: b.quarantined,
        lat: b.lat,
        lon: b.lon,
        updated_ms: Some(now_ms()),
    };
    let row = state
        .store
        .update_edge_node(id.as_str(), changes)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("node {id} is not registered")))?;
    // The registry learns of a node admitted from quarantine (registered by the broker).
    state.registry.do_send(DeviceUpserted {
        key: EntityKey::EdgeNode(id),
        id: row.device_id,
        model: EDGE_NODE_MODEL.to_owned(),
    });
    Ok(HttpResponse::Ok().json(view(&state, row)))
}
