//! The rows of what an edge node reported.

use urbanstream_schema::models::{DetectionRow, NewConsensusRound, NodeSampleRow, NodeStateRow};
use urbanstream_schema::store::Batch;
use urbanstream_schema::DeviceId;

use super::logic::{consensus_outcome, EdgeNodeSnapshot};
use crate::entity::{EntityEvent, Observation, Reading};

/// Adds the rows of one reading of node `node` to `batch`.
pub fn add_reading(batch: &mut Batch, node: &str, r: &Reading, received_ms: i64, quorum: f64) {
    let (boot, seq) = r.sequence.map_or((0, -1), |q| (q.boot, q.seq));
    for o in &r.observations {
        match o {
            Observation::Heartbeat(_) => batch.node_samples.push(NodeSampleRow {
                node_id: node.to_owned(),
                kind: "heartbeat".into(),
                time_ms: r.at_ms,
                data: r.raw.clone(),
            }),
            Observation::Performance(_) => batch.node_samples.push(NodeSampleRow {
                node_id: node.to_owned(),
                kind: "metrics".into(),
                time_ms: r.at_ms,
                data: r.raw.clone(),
            }),
            Observation::Detections { detections } => {
                for (idx, d) in detections.iter().enumerate() {
                    batch.detections.push(DetectionRow {
                        node_id: node.to_owned(),
                        time_ms: r.at_ms,
                        boot,
                        seq,
                        idx: i32::try_from(idx).unwrap_or(i32::MAX),
                        received_ms,
                        stream_id: d.stream_id.clone(),
                        object_type: d.object_type.clone(),
                        confidence: d.confidence,
                        bbox_x: d.bbox.x,
                        bbox_y: d.bbox.y,
                        bbox_width: d.bbox.width,
                        bbox_height: d.bbox.height,
                        bbox_normalized: d.bbox.normalized,
                        location: d.location.clone(),
                        metadata: serde_json::to_string(&d.metadata).unwrap_or_default(),
                    });
                }
            }
            Observation::Consensus(c) => {
                let computed = consensus_outcome(c, quorum);
                let agrees = match (&c.result, &computed) {
                    (Some(reported), computed) => Some(Some(reported) == computed.as_ref()),
                    (None, _) => None,
                };
                batch.consensus.push(NewConsensusRound {
                    node_id: node.to_owned(),
                    round_number: c.round_number,
                    time_ms: r.at_ms,
                    success: c.success,
                    participants: c.participants,
                    duration_ms: c.duration_ms,
                    votes: serde_json::to_string(&c.votes).unwrap_or_default(),
                    result: c.result.as_ref().map(ToString::to_string),
                    computed_result: computed.as_ref().map(ToString::to_string),
                    agrees,
                });
            }
            Observation::Birth(_)
            | Observation::Death
            | Observation::Robot(_)
            | Observation::Unreachable { .. } => {}
        }
    }
}

/// The node's row as its state now stands.
pub fn add_state(batch: &mut Batch, s: &EdgeNodeSnapshot, now_ms: i64) {
    batch.node_states.push(NodeStateRow {
        node_id: s.node_id.to_string(),
        status: s.status.as_str().to_owned(),
        cpu_usage: s.cpu_usage,
        memory_usage: s.memory_usage,
        network_status: s.network_status.clone(),
        energy_consumption: s.energy_consumption,
        boot: s.boot,
        last_heartbeat_ms: s.last_heartbeat.map(|t| t.timestamp_millis()),
        updated_ms: now_ms,
    });
}

/// The node's events, as stored for every kind of device.
pub fn add_events(batch: &mut Batch, device: DeviceId, events: &[EntityEvent]) {
    batch.events.extend(events.iter().map(|e| e.row(device)));
}
