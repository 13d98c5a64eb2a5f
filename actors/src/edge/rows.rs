//! The rows of what an edge node reported.

use urbanstream_schema::models::{DetectionRow, NewConsensusRound, NodeSampleRow, NodeStateRow};
use urbanstream_schema::store::Batch;
use urbanstream_schema::DeviceId;

use super::logic::{consensus_outcome, EdgeNodeSnapshot};
use crate::entity::{EntityEvent, Observation, Reading};

/// What of a person detection's extra fields is stored. Images of people (`crop`, `image`)
/// and appearance vectors (`embedding`) are live-only unless configured: the rest of the
/// metadata is kept as the node sent it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PersonData {
    pub keep_images: bool,
    pub keep_embeddings: bool,
    /// With `keep_images`: a detection at least this old when it arrives keeps no picture (the
    /// picture retention has passed its time already); `None`: any age.
    pub images_for_ms: Option<i64>,
}

impl PersonData {
    /// What to keep of a reading taken at `at_ms` and received at `received_ms`.
    fn for_reading(self, at_ms: i64, received_ms: i64) -> Self {
        let aged = self
            .images_for_ms
            .is_some_and(|age| received_ms.saturating_sub(at_ms) >= age);
        Self {
            keep_images: self.keep_images && !aged,
            ..self
        }
    }
}

/// Keys of a person detection's metadata that hold a picture of the person.
const IMAGE_KEYS: [&str; 2] = ["crop", "image"];

/// The metadata to store for a detection of `object_type`, as JSON.
pub fn stored_metadata(
    object_type: &str,
    metadata: &serde_json::Map<String, serde_json::Value>,
    keep: PersonData,
) -> String {
    let person = object_type.eq_ignore_ascii_case("person");
    let drop = |k: &str| {
        person
            && ((!keep.keep_images && IMAGE_KEYS.contains(&k))
                || (!keep.keep_embeddings && k == "embedding"))
    };
    if !metadata.keys().any(|k| drop(k)) {
        return serde_json::to_string(metadata).unwrap_or_default();
    }
    let kept: serde_json::Map<String, serde_json::Value> = metadata
        .iter()
        .filter(|(k, _)| !drop(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    serde_json::to_string(&kept).unwrap_or_default()
}

/// Adds the rows of one reading of node `node` to `batch`.
pub fn add_reading(
    batch: &mut Batch,
    node: &str,
    r: &Reading,
    received_ms: i64,
    quorum: f64,
    keep: PersonData,
) {
    let (boot, seq) = r.sequence.map_or((0, -1), |q| (q.boot, q.seq));
    let keep = keep.for_reading(r.at_ms, received_ms);
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
                        metadata: stored_metadata(&d.object_type, &d.metadata, keep),
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

#[cfg(test)]
mod privacy_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pictures_and_appearance_of_people_are_not_stored_unless_asked() {
        let meta = json!({"crop": "/9j/4AAQ", "embedding": [0.1, 0.2], "colour": "red"});
        let meta = meta.as_object().unwrap();
        let stored = |kind: &str, keep| -> serde_json::Value {
            serde_json::from_str(&stored_metadata(kind, meta, keep)).unwrap()
        };
        assert_eq!(
            stored("person", PersonData::default()),
            json!({"colour": "red"})
        );
        assert_eq!(
            stored(
                "Person",
                PersonData {
                    keep_embeddings: true,
                    ..PersonData::default()
                }
            ),
            json!({"embedding": [0.1, 0.2], "colour": "red"})
        );
        assert_eq!(
            stored(
                "person",
                PersonData {
                    keep_images: true,
                    keep_embeddings: true,
                    images_for_ms: None,
                }
            ),
            json!({"crop": "/9j/4AAQ", "embedding": [0.1, 0.2], "colour": "red"})
        );
        // Other objects keep everything the node sent.
        assert_eq!(stored("car", PersonData::default())["crop"], "/9j/4AAQ");
    }

    #[test]
    fn a_picture_older_than_its_retention_when_it_arrives_is_not_kept() {
        let keep = PersonData {
            keep_images: true,
            keep_embeddings: false,
            images_for_ms: Some(1_000),
        };
        assert!(keep.for_reading(5_000, 5_999).keep_images);
        assert!(!keep.for_reading(5_000, 6_000).keep_images);
        let forever = PersonData {
            images_for_ms: None,
            ..keep
        };
        assert!(forever.for_reading(0, i64::MAX).keep_images);
        let never = PersonData {
            keep_images: false,
            ..keep
        };
        assert!(!never.for_reading(5_000, 5_001).keep_images);
    }
}
