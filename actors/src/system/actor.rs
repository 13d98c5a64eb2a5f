use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde::Serialize;
use urbanstream_schema::models::{NewCorroboration, NewSystemLog, SystemMetricsRow};
use urbanstream_schema::store::{Batch, Store};
use urbanstream_schema::NodeId;

use super::corroborate::{CorroborationSettings, Corroborator};
use crate::db_batcher::Persist;
use crate::entity::{EntityEvent, EntityKey, EntityUpdate, NodeStatus, Observation};
use crate::hub::{Broadcast, Topic};
use crate::shared::Swap;

/// The plan's system metrics.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SystemMetrics {
    pub timestamp: DateTime<Utc>,
    pub total_nodes: i64,
    pub active_nodes: i64,
    pub total_detections: i64,
    /// Mean of the nodes' latest reported latency, milliseconds.
    pub average_latency: f64,
    /// Sum of the nodes' latest reported figures.
    pub bandwidth_saved: f64,
    pub energy_saved: f64,
}

/// The latest metrics, read without a message.
pub type SystemView = Swap<SystemMetrics>;

#[derive(Clone)]
pub struct SystemSettings {
    pub every: Duration,
    pub store: Store,
    pub persist: Recipient<Persist>,
    pub hub: Option<Recipient<Broadcast>>,
    pub view: SystemView,
    pub corroboration: CorroborationSettings,
}

#[derive(Debug, Clone, Default)]
struct NodeFigures {
    status: Option<NodeStatus>,
    latency_ms: Option<f64>,
    bandwidth_saved: Option<f64>,
    energy_saved: Option<f64>,
}

/// One per process: takes every entity update, keeps edge nodes' figures, writes and pushes
/// the totals every `every`.
pub struct SystemStatsActor {
    settings: SystemSettings,
    nodes: HashMap<NodeId, NodeFigures>,
    detections: i64,
    logs: Vec<NewSystemLog>,
    corroborator: Corroborator,
    /// Where nodes are (from their rows), for corroboration by distance.
    positions: HashMap<NodeId, (f64, f64)>,
}

impl SystemStatsActor {
    pub fn new(settings: SystemSettings) -> Self {
        Self {
            settings,
            nodes: HashMap::new(),
            detections: 0,
            logs: Vec::new(),
            corroborator: Corroborator::default(),
            positions: HashMap::new(),
        }
    }

    /// Detections of `node` in one message, offered to corroboration.
    fn corroborate(&mut self, node: NodeId, at_ms: i64, types: &[&str]) {
        let position = self.positions.get(&node).copied();
        for t in types {
            let Some(e) =
                self.corroborator
                    .observe(&self.settings.corroboration, node, position, t, at_ms)
            else {
                continue;
            };
            let data = serde_json::to_value(&e).unwrap_or_default();
            if let Some(hub) = &self.settings.hub {
                let _ = hub.try_send(Broadcast {
                    topic: Topic::Detections,
                    kind: "corroborated_detection",
                    data: Arc::new(data),
                });
            }
            let batch = Batch {
                corroborations: vec![NewCorroboration {
                    object_type: e.object_type.clone(),
                    first_ms: e.first_ms,
                    time_ms: e.at_ms,
                    nodes: serde_json::to_string(&e.nodes).unwrap_or_default(),
                }],
                ..Batch::default()
            };
            let _ = self.settings.persist.try_send(Persist(batch));
        }
    }

    fn log(
        &mut self,
        at: DateTime<Utc>,
        level: &str,
        node: NodeId,
        message: String,
        details: serde_json::Value,
    ) {
        let entry = NewSystemLog {
            time_ms: at.timestamp_millis(),
            level: level.to_owned(),
            source: format!("node:{node}"),
            message,
            details: details.to_string(),
        };
        if let Some(hub) = &self.settings.hub {
            let data = serde_json::json!({
                "timestamp": at,
                "level": entry.level,
                "source": entry.source,
                "message": entry.message,
                "details": details,
            });
            let _ = hub.try_send(Broadcast {
                topic: Topic::Logs,
                kind: "system_log",
                data: Arc::new(data),
            });
        }
        self.logs.push(entry);
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        let store = self.settings.store.clone();
        ctx.spawn(
            async move { store.edge_nodes().await }
                .into_actor(self)
                .map(|rows, act, _ctx| {
                    let now = Utc::now();
                    let mut total = 0i64;
                    let mut active = 0i64;
                    match rows {
                        Ok(rows) => {
                            act.positions = rows
                                .iter()
                                .filter_map(|r| Some((r.id.parse().ok()?, (r.lat?, r.lon?))))
                                .collect();
                            for r in rows {
                                total += 1;
                                let live =
                                    r.id.parse::<NodeId>()
                                        .ok()
                                        .and_then(|id| act.nodes.get(&id))
                                        .and_then(|f| f.status);
                                let status = live.or_else(|| NodeStatus::parse(&r.status));
                                if status == Some(NodeStatus::Active) {
                                    active += 1;
                                }
                            }
                        }
                        Err(e) => {
                            tracing::debug!("edge nodes not read for the system metrics: {e}");
                            total = act.nodes.len() as i64;
                            active = act
                                .nodes
                                .values()
                                .filter(|f| f.status == Some(NodeStatus::Active))
                                .count() as i64;
                        }
                    }
                    let latencies: Vec<f64> =
                        act.nodes.values().filter_map(|f| f.latency_ms).collect();
                    let m = SystemMetrics {
                        timestamp: now,
                        total_nodes: total,
                        active_nodes: active,
                        total_detections: act.detections,
                        average_latency: if latencies.is_empty() {
                            0.0
                        } else {
                            latencies.iter().sum::<f64>() / latencies.len() as f64
                        },
                        bandwidth_saved: act.nodes.values().filter_map(|f| f.bandwidth_saved).sum(),
                        energy_saved: act.nodes.values().filter_map(|f| f.energy_saved).sum(),
                    };
                    act.settings.view.replace(m.clone());
                    let batch = Batch {
                        system_metrics: vec![SystemMetricsRow {
                            time_ms: now.timestamp_millis(),
                            total_nodes: i32::try_from(m.total_nodes).unwrap_or(i32::MAX),
                            active_nodes: i32::try_from(m.active_nodes).unwrap_or(i32::MAX),
                            total_detections: m.total_detections,
                            average_latency: m.average_latency,
                            bandwidth_saved: m.bandwidth_saved,
                            energy_saved: m.energy_saved,
                            metadata: "{}".into(),
                        }],
                        system_logs: std::mem::take(&mut act.logs),
                        ..Batch::default()
                    };
                    let _ = act.settings.persist.try_send(Persist(batch));
                    if let Some(hub) = &act.settings.hub {
                        let _ = hub.try_send(Broadcast {
                            topic: Topic::System,
                            kind: "system_metrics",
                            data: Arc::new(serde_json::to_value(&m).unwrap_or_default()),
                        });
                    }
                }),
        );
    }
}

impl Actor for SystemStatsActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(65_536);
        let store = self.settings.store.clone();
        ctx.spawn(
            async move { store.detection_count().await }
                .into_actor(self)
                .map(|n, act, _| match n {
                    Ok(n) => act.detections += n,
                    Err(e) => tracing::debug!("stored detections not counted: {e}"),
                }),
        );
        ctx.run_interval(self.settings.every, |act, ctx| act.tick(ctx));
    }
}

impl Handler<EntityUpdate> for SystemStatsActor {
    type Result = ();

    fn handle(&mut self, msg: EntityUpdate, _ctx: &mut Self::Context) {
        let EntityKey::EdgeNode(node) = msg.key else {
            return;
        };
        let mut detections = 0;
        let mut seen: Vec<(i64, Vec<&str>)> = Vec::new();
        {
            let f = self.nodes.entry(node).or_default();
            for rec in msg.readings.iter() {
                for o in &rec.reading.observations {
                    match o {
                        Observation::Detections { detections: d } => {
                            detections += d.len() as i64;
                            let mut types: Vec<&str> =
                                d.iter().map(|d| d.object_type.as_str()).collect();
                            types.sort_unstable();
                            types.dedup();
                            seen.push((rec.reading.at_ms, types));
                        }
                        Observation::Performance(p) => {
                            f.latency_ms = p.latency_ms.or(f.latency_ms);
                            f.bandwidth_saved = p.bandwidth_saved.or(f.bandwidth_saved);
                            f.energy_saved = p.energy_saved.or(f.energy_saved);
                        }
                        _ => {}
                    }
                }
            }
            for e in msg.events.iter() {
                if let EntityEvent::StatusChanged { to, .. } = e {
                    f.status = Some(*to);
                }
            }
        }
        self.detections += detections;
        for (at_ms, types) in &seen {
            self.corroborate(node, *at_ms, types);
        }
        for e in msg.events.iter() {
            let details = serde_json::to_value(e).unwrap_or_default();
            match e {
                EntityEvent::StatusChanged { at, from, to } => {
                    let level = if matches!(to, NodeStatus::Fault | NodeStatus::Offline) {
                        "warning"
                    } else {
                        "info"
                    };
                    self.log(
                        *at,
                        level,
                        node,
                        format!("node {node} {} → {}", from.as_str(), to.as_str()),
                        details,
                    );
                }
                EntityEvent::SequenceGap {
                    at, expected, got, ..
                } => {
                    self.log(
                        *at,
                        "warning",
                        node,
                        format!("node {node}: messages {expected}–{} missing", got - 1),
                        details,
                    );
                }
                EntityEvent::ConsensusDisagreed {
                    at, round_number, ..
                } => {
                    self.log(*at, "warning", node, format!("node {node}: consensus round {round_number} result differs from its votes"), details);
                }
                EntityEvent::Born { at, boot } => {
                    let boot = boot.map_or_else(|| "?".to_owned(), |b| b.to_string());
                    self.log(
                        *at,
                        "info",
                        node,
                        format!("node {node} started (boot {boot})"),
                        details,
                    );
                }
                _ => {}
            }
        }
    }
}
