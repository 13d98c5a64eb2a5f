//! Edge AI nodes and what they report.

use diesel::prelude::*;
use serde::Serialize;

use crate::schema::{
    consensus_rounds, corroborated_detections, detections, edge_nodes, mqtt_dead_letters,
    node_samples, system_logs, system_metrics,
};

/// A registered edge node and its latest reported state.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = edge_nodes)]
pub struct EdgeNodeRow {
    pub id: String,
    pub device_id: i64,
    pub name: String,
    pub status: String,
    pub location: Option<String>,
    pub cpu_usage: f64,
    pub memory_usage: f64,
    pub network_status: String,
    pub energy_consumption: f64,
    pub ip_address: Option<String>,
    pub port: Option<i32>,
    /// JSON object.
    pub capabilities: String,
    pub api_key_id: Option<i64>,
    pub quarantined: bool,
    pub boot: Option<i64>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub last_heartbeat_ms: Option<i64>,
}

impl EdgeNodeRow {
    /// A node known by id and name only, as registered on first contact.
    pub fn new(id: &str, name: &str, now_ms: i64) -> Self {
        Self {
            id: id.to_owned(),
            device_id: 0,
            name: name.to_owned(),
            status: "registered".into(),
            location: None,
            cpu_usage: 0.0,
            memory_usage: 0.0,
            network_status: "good".into(),
            energy_consumption: 0.0,
            ip_address: None,
            port: None,
            capabilities: "{}".into(),
            api_key_id: None,
            quarantined: false,
            boot: None,
            lat: None,
            lon: None,
            created_ms: now_ms,
            updated_ms: now_ms,
            last_heartbeat_ms: None,
        }
    }
}

/// What an admin sets on a node (create or update).
#[derive(Debug, Clone, Default, PartialEq, AsChangeset)]
#[diesel(table_name = edge_nodes)]
pub struct EdgeNodeChanges {
    pub name: Option<String>,
    pub location: Option<Option<String>>,
    pub ip_address: Option<Option<String>>,
    pub port: Option<Option<i32>>,
    pub capabilities: Option<String>,
    pub quarantined: Option<bool>,
    pub lat: Option<Option<f64>>,
    pub lon: Option<Option<f64>>,
    pub updated_ms: Option<i64>,
}

/// A node's live state as its actor last saw it, written with the batch that carried it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeStateRow {
    pub node_id: String,
    pub status: String,
    pub cpu_usage: f64,
    pub memory_usage: f64,
    pub network_status: String,
    pub energy_consumption: f64,
    pub boot: Option<i64>,
    pub last_heartbeat_ms: Option<i64>,
    pub updated_ms: i64,
}

/// One detected object.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = detections)]
pub struct DetectionRow {
    pub node_id: String,
    pub time_ms: i64,
    pub boot: i64,
    /// -1 when the node sent no sequence number.
    pub seq: i64,
    /// Position within its message.
    pub idx: i32,
    pub received_ms: i64,
    pub stream_id: String,
    pub object_type: String,
    pub confidence: f64,
    pub bbox_x: f64,
    pub bbox_y: f64,
    pub bbox_width: f64,
    pub bbox_height: f64,
    pub bbox_normalized: bool,
    pub location: Option<String>,
    /// JSON object.
    pub metadata: String,
}

/// A heartbeat or metrics report as the node sent it.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = node_samples)]
pub struct NodeSampleRow {
    pub node_id: String,
    /// `heartbeat` or `metrics`.
    pub kind: String,
    pub time_ms: i64,
    /// JSON object.
    pub data: String,
}

#[derive(Debug, Clone, PartialEq, Insertable)]
#[diesel(table_name = consensus_rounds)]
pub struct NewConsensusRound {
    pub node_id: String,
    pub round_number: i64,
    pub time_ms: i64,
    pub success: Option<bool>,
    pub participants: Option<i32>,
    pub duration_ms: Option<i32>,
    /// JSON.
    pub votes: String,
    /// JSON, as the node reported it.
    pub result: Option<String>,
    /// JSON, recomputed from the votes.
    pub computed_result: Option<String>,
    pub agrees: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = consensus_rounds)]
pub struct ConsensusRoundRow {
    pub id: i64,
    pub node_id: String,
    pub round_number: i64,
    pub time_ms: i64,
    pub success: Option<bool>,
    pub participants: Option<i32>,
    pub duration_ms: Option<i32>,
    pub votes: String,
    pub result: Option<String>,
    pub computed_result: Option<String>,
    pub agrees: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = system_metrics)]
pub struct SystemMetricsRow {
    pub time_ms: i64,
    pub total_nodes: i32,
    pub active_nodes: i32,
    pub total_detections: i64,
    pub average_latency: f64,
    pub bandwidth_saved: f64,
    pub energy_saved: f64,
    pub metadata: String,
}

#[derive(Debug, Clone, PartialEq, Insertable)]
#[diesel(table_name = system_logs)]
pub struct NewSystemLog {
    pub time_ms: i64,
    pub level: String,
    pub source: String,
    pub message: String,
    pub details: String,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = system_logs)]
pub struct SystemLogRow {
    pub id: i64,
    pub time_ms: i64,
    pub level: String,
    pub source: String,
    pub message: String,
    pub details: String,
}

#[derive(Debug, Clone, PartialEq, Insertable)]
#[diesel(table_name = mqtt_dead_letters)]
pub struct NewMqttDeadLetter {
    pub received_ms: i64,
    pub topic: String,
    pub reason: String,
    pub detail: String,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = mqtt_dead_letters)]
pub struct MqttDeadLetterRow {
    pub id: i64,
    pub received_ms: i64,
    pub topic: String,
    pub reason: String,
    pub detail: String,
    pub payload: Vec<u8>,
}

/// Detections of one object type by several nodes within a window.
#[derive(Debug, Clone, PartialEq, Insertable)]
#[diesel(table_name = corroborated_detections)]
pub struct NewCorroboration {
    pub object_type: String,
    pub first_ms: i64,
    pub time_ms: i64,
    /// JSON array of node ids.
    pub nodes: String,
}
