//! Edge AI nodes: the registry (`/api/v1/nodes`), self-registration with an API key, and
//! each node's reported metrics.

pub mod create;
pub mod delete;
pub mod get;
pub mod list;
pub mod metrics;
pub mod register;
pub mod update;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use urbanstream_actors::edge::EdgeNodeSnapshot;
use urbanstream_actors::entity::{EntityKey, NodeStatus};
use urbanstream_schema::models::EdgeNodeRow;
use urbanstream_schema::NodeId;
use utoipa::ToSchema;

use super::{ApiError, HttpState};

pub(crate) fn parse_node(s: &str) -> Result<NodeId, ApiError> {
    s.parse()
        .map_err(|e| ApiError::BadRequest(format!("`{s}` is not a node id: {e}")))
}

fn time(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.and_then(DateTime::<Utc>::from_timestamp_millis)
}

/// An edge node: the plan's `Node` (id, name, status, location, health, last heartbeat)
/// with what the registry adds. `status` is live: `offline` once nothing was heard for
/// `edge.offline_after`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Node {
    pub id: String,
    pub name: String,
    /// registered, active, idle, fault or offline.
    pub status: String,
    pub location: Option<String>,
    pub cpu_usage: f64,
    pub memory_usage: f64,
    pub network_status: String,
    pub energy_consumption: f64,
    pub last_heartbeat: Option<DateTime<Utc>>,
    pub ip_address: Option<String>,
    pub port: Option<i32>,
    #[schema(value_type = Object)]
    pub capabilities: serde_json::Value,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// The node's boot counter, from its birth message.
    pub boot: Option<i64>,
    /// Whether it registered with an API key (its MQTT password on the embedded broker).
    pub has_key: bool,
    /// Connected but not admitted: its messages are kept as dead letters.
    pub quarantined: bool,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// Stream counters of the running entity (messages, detections, redelivered, missing).
    #[schema(value_type = Option<Object>)]
    pub live: Option<serde_json::Value>,
}

/// Every node.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeList {
    pub items: Vec<Node>,
}

/// The node as the API shows it: the stored row, overlaid with the running entity's state.
pub(crate) fn view(state: &HttpState, row: EdgeNodeRow) -> Node {
    let live = row.id.parse::<NodeId>().ok().and_then(|id| {
        state
            .directory
            .latest_as::<EdgeNodeSnapshot>(&EntityKey::EdgeNode(id))
    });
    let mut node = Node {
        status: row.status.clone(),
        cpu_usage: row.cpu_usage,
        memory_usage: row.memory_usage,
        network_status: row.network_status.clone(),
        energy_consumption: row.energy_consumption,
        last_heartbeat: time(row.last_heartbeat_ms),
        boot: row.boot,
        capabilities: serde_json::from_str(&row.capabilities).unwrap_or_default(),
        id: row.id,
        name: row.name,
        location: row.location,
        ip_address: row.ip_address,
        port: row.port,
        lat: row.lat,
        lon: row.lon,
        has_key: row.api_key_id.is_some(),
        quarantined: row.quarantined,
        created_at: time(Some(row.created_ms)),
        updated_at: time(Some(row.updated_ms)),
        live: None,
    };
    if let Some(s) = live {
        node.status = s.status.as_str().to_owned();
        node.cpu_usage = s.cpu_usage;
        node.memory_usage = s.memory_usage;
        node.network_status.clone_from(&s.network_status);
        node.energy_consumption = s.energy_consumption;
        node.last_heartbeat = s.last_heartbeat.or(node.last_heartbeat);
        node.boot = s.boot.or(node.boot);
        if s.capabilities.as_object().is_some_and(|m| !m.is_empty()) {
            node.capabilities = s.capabilities.clone();
        }
        node.live = Some(serde_json::json!({
            "last_seen": s.last_seen,
            "last_seq": s.last_seq,
            "messages_total": s.messages_total,
            "detections_total": s.detections_total,
            "redelivered_total": s.redelivered_total,
            "missing_total": s.missing_total,
            "performance": s.performance,
        }));
    }
    // The stored status of a node nobody has heard from since (e.g. before a restart).
    let silent = node.last_heartbeat.is_none_or(|t| {
        Utc::now() - t
            >= chrono::Duration::from_std(state.edge.offline_after).unwrap_or(chrono::Duration::MAX)
    });
    let reported = NodeStatus::parse(&node.status)
        .is_some_and(|s| matches!(s, NodeStatus::Active | NodeStatus::Idle | NodeStatus::Fault));
    if reported && silent && node.live.is_none() {
        node.status = NodeStatus::Offline.as_str().to_owned();
    }
    node
}

/// The plan's `NodeCreate`: what a node (or an admin) registers.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeCreate {
    /// 1–50 of A-Z a-z 0-9 _ - . (its MQTT username and topic segment).
    pub id: String,
    pub name: String,
    pub location: Option<String>,
    pub ip_address: Option<String>,
    pub port: Option<i32>,
    #[schema(value_type = Option<Object>)]
    pub capabilities: Option<serde_json::Value>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

impl NodeCreate {
    pub(crate) fn row(&self, now_ms: i64) -> Result<EdgeNodeRow, ApiError> {
        let id = parse_node(&self.id)?;
        if self.name.trim().is_empty() || self.name.len() > 100 {
            return Err(ApiError::BadRequest(
                "name must be 1 to 100 characters".into(),
            ));
        }
        check_fields(self.port, self.lat, self.lon, self.capabilities.as_ref())?;
        let mut row = EdgeNodeRow::new(id.as_str(), self.name.trim(), now_ms);
        row.location.clone_from(&self.location);
        row.ip_address.clone_from(&self.ip_address);
        row.port = self.port;
        row.lat = self.lat;
        row.lon = self.lon;
        if let Some(c) = &self.capabilities {
            row.capabilities = c.to_string();
        }
        Ok(row)
    }
}

pub(crate) fn check_fields(
    port: Option<i32>,
    lat: Option<f64>,
    lon: Option<f64>,
    capabilities: Option<&serde_json::Value>,
) -> Result<(), ApiError> {
    if port.is_some_and(|p| !(1..=65535).contains(&p)) {
        return Err(ApiError::BadRequest("port must be 1 to 65535".into()));
    }
    if lat.is_some_and(|v| !(-90.0..=90.0).contains(&v))
        || lon.is_some_and(|v| !(-180.0..=180.0).contains(&v))
    {
        return Err(ApiError::BadRequest(
            "lat must be -90..90 and lon -180..180".into(),
        ));
    }
    if capabilities.is_some_and(|c| !c.is_object()) {
        return Err(ApiError::BadRequest(
            "capabilities must be a JSON object".into(),
        ));
    }
    Ok(())
}
