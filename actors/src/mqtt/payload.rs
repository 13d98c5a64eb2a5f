//! Edge node topics and payloads (the EDGE-QI shapes): what each message says, in the
//! entity vocabulary, or why it is refused.
//!
//! | topic | payload |
//! | --- | --- |
//! | `edge-qi/nodes/{id}/heartbeat` | `{node_id, timestamp, cpu_usage, memory_usage, status, network_status?, energy_consumption?, seq?, boot?}` |
//! | `edge-qi/nodes/{id}/status` | birth `{status: "online", boot?, capabilities?}` (retained) or death `{status: "offline"}` (last will) |
//! | `edge-qi/detection/{id}` | one detection `{stream_id, object_type, confidence, bbox: {x, y, width, height, normalized?}, location?, metadata?}` with `node_id`, `timestamp`, `seq?` beside it, or `{node_id, timestamp, seq?, detections: [...]}` |
//! | `edge-qi/metrics/{id}` | `{node_id, timestamp, latency_ms?, bandwidth_saved?, energy_saved?, …}` |
//! | `edge-qi/consensus/{id}` | `{node_id, timestamp, round_number, votes: {voter: vote}, result?, participants?, duration_ms?, success?}` |
//!
//! Timestamps are RFC 3339 or epoch milliseconds (absent: the time received). Fields we do
//! not know are kept: a detection's go to its `metadata`, the others are stored with the
//! raw message.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use urbanstream_schema::NodeId;

use crate::entity::{
    BBox, Birth, ClockBounds, ConsensusReport, Detection, Facts, Health, NodeStatus, Observation,
    Performance, Reading, Sequence,
};

/// The topic prefix of every edge node message.
pub const PREFIX: &str = "edge-qi";

/// The topic filters a consumer subscribes to.
pub const FILTERS: [&str; 5] = [
    "edge-qi/nodes/+/heartbeat",
    "edge-qi/nodes/+/status",
    "edge-qi/detection/+",
    "edge-qi/metrics/+",
    "edge-qi/consensus/+",
];

/// The kinds of message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    Heartbeat,
    Status,
    Detection,
    Metrics,
    Consensus,
}

impl MessageType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Heartbeat => "heartbeat",
            Self::Status => "status",
            Self::Detection => "detection",
            Self::Metrics => "metrics",
            Self::Consensus => "consensus",
        }
    }
}

/// Why a message is refused. `reason()` is a bounded metric label.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refused {
    #[error("topic `{0}` is not an edge node topic")]
    Topic(String),
    #[error("node id in topic: {0}")]
    NodeId(String),
    #[error("payload of {size} bytes is over the limit of {limit}")]
    Oversize { size: usize, limit: usize },
    #[error("malformed JSON: {0}")]
    Json(String),
    #[error("{0}")]
    Shape(String),
    #[error("node_id `{payload}` does not match the topic's `{topic}`")]
    NodeMismatch { topic: String, payload: String },
    #[error("timestamp out of range: {0}")]
    Time(String),
    #[error("node {0} is not registered")]
    UnknownNode(NodeId),
    #[error("node {node} may not publish to `{topic}`")]
    Forbidden { node: NodeId, topic: String },
    #[error("node {0} is quarantined until an operator admits it")]
    Quarantined(NodeId),
    #[error("not stored: {0}")]
    Unavailable(String),
}

impl Refused {
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Topic(_) => "bad_topic",
            Self::NodeId(_) => "bad_node_id",
            Self::Oversize { .. } => "oversize",
            Self::Json(_) => "malformed_json",
            Self::Shape(_) => "wrong_type",
            Self::NodeMismatch { .. } => "node_mismatch",
            Self::Time(_) => crate::entity::TIME_OUT_OF_RANGE,
            Self::UnknownNode(_) => "unknown_node",
            Self::Forbidden { .. } => "not_authorized",
            Self::Quarantined(_) => "quarantined",
            Self::Unavailable(_) => "unavailable",
        }
    }
}

/// Limits a message is checked against.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_payload: usize,
    /// The timestamps a node may send: from 2000 to a little ahead of our clock.
    pub clock: ClockBounds,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_payload: 256 * 1024,
            clock: ClockBounds {
                max_ahead: chrono::Duration::minutes(5),
            },
        }
    }
}

/// A message understood.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub node: NodeId,
    pub kind: MessageType,
    pub reading: Reading,
}

/// The node and message type a topic names.
pub fn topic(topic: &str) -> Result<(NodeId, MessageType), Refused> {
    let bad = || Refused::Topic(topic.to_owned());
    let parts: Vec<&str> = topic.split('/').collect();
    let (id, kind) = match parts.as_slice() {
        [PREFIX, "nodes", id, "heartbeat"] => (*id, MessageType::Heartbeat),
        [PREFIX, "nodes", id, "status"] => (*id, MessageType::Status),
        [PREFIX, "detection", id] => (*id, MessageType::Detection),
        [PREFIX, "metrics", id] => (*id, MessageType::Metrics),
        [PREFIX, "consensus", id] => (*id, MessageType::Consensus),
        _ => return Err(bad()),
    };
    let node = id
        .parse::<NodeId>()
        .map_err(|e| Refused::NodeId(e.to_string()))?;
    Ok((node, kind))
}

/// Reads one message received at `now`.
pub fn parse(
    topic_name: &str,
    payload: &[u8],
    now: DateTime<Utc>,
    limits: Limits,
) -> Result<Parsed, Refused> {
    let (node, kind) = topic(topic_name)?;
    if payload.len() > limits.max_payload {
        return Err(Refused::Oversize {
            size: payload.len(),
            limit: limits.max_payload,
        });
    }
    let value: Value = serde_json::from_slice(payload).map_err(|e| Refused::Json(e.to_string()))?;
    let Value::Object(mut m) = value else {
        return Err(Refused::Shape("payload must be a JSON object".into()));
    };
    if let Some(v) = m.get("node_id") {
        let claimed = v
            .as_str()
            .ok_or_else(|| Refused::Shape("node_id must be a string".into()))?;
        if claimed != node.as_str() {
            return Err(Refused::NodeMismatch {
                topic: node.to_string(),
                payload: claimed.to_owned(),
            });
        }
    }
    let at = match m.get("timestamp") {
        None | Some(Value::Null) => now,
        Some(v) => timestamp(v)?,
    };
    limits
        .clock
        .check(at.timestamp_millis(), now)
        .map_err(Refused::Time)?;
    let sequence = match (int(&m, "seq")?, int(&m, "boot")?) {
        (Some(seq), boot) => Some(Sequence {
            boot: boot.unwrap_or(-1),
            seq,
        }),
        (None, _) => None,
    };
    let observation = match kind {
        MessageType::Heartbeat => Observation::Heartbeat(health(&m)?),
        MessageType::Metrics => Observation::Performance(Performance {
            latency_ms: num(&m, "latency_ms")?.or(num(&m, "average_latency")?),
            bandwidth_saved: num(&m, "bandwidth_saved")?,
            energy_saved: num(&m, "energy_saved")?,
        }),
        MessageType::Consensus => Observation::Consensus(consensus(&m)?),
        MessageType::Status => match text(&m, "status")? {
            Some("offline" | "dead" | "disconnected") => Observation::Death,
            _ => Observation::Birth(Birth {
                boot: int(&m, "boot")?,
                capabilities: m.get("capabilities").cloned().unwrap_or(Value::Null),
            }),
        },
        MessageType::Detection => {
            let detections = match m.remove("detections") {
                Some(Value::Array(list)) => list
                    .into_iter()
                    .enumerate()
                    .map(|(i, d)| match d {
                        Value::Object(d) => detection(d)
                            .map_err(|e| Refused::Shape(format!("detections[{i}]: {e}"))),
                        _ => Err(Refused::Shape(format!("detections[{i}] must be an object"))),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                Some(_) => return Err(Refused::Shape("detections must be an array".into())),
                None => {
                    let raw = m.clone();
                    let mut d = raw;
                    for k in ["node_id", "timestamp", "seq", "boot"] {
                        d.remove(k);
                    }
                    vec![detection(d).map_err(|e| Refused::Shape(e.to_string()))?]
                }
            };
            Observation::Detections { detections }
        }
    };
    // Detections keep what they carried in their own metadata; the other messages are
    // stored as sent.
    let raw = match kind {
        MessageType::Detection => String::new(),
        _ => String::from_utf8_lossy(payload).into_owned(),
    };
    Ok(Parsed {
        node,
        kind,
        reading: Reading {
            at_ms: at.timestamp_millis(),
            fix: None,
            facts: Facts::default(),
            raw,
            sequence,
            observations: vec![observation],
        },
    })
}

fn timestamp(v: &Value) -> Result<DateTime<Utc>, Refused> {
    match v {
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .or_else(|_| {
                // Python's isoformat() without an offset: UTC by the plan's convention.
                chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                    .map(|t| t.and_utc())
            })
            .map_err(|e| Refused::Shape(format!("timestamp `{s}`: {e}"))),
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .and_then(DateTime::<Utc>::from_timestamp_millis)
            .ok_or_else(|| Refused::Shape(format!("timestamp {n} is not epoch milliseconds"))),
        _ => Err(Refused::Shape(
            "timestamp must be RFC 3339 text or epoch milliseconds".into(),
        )),
    }
}

fn num(m: &Map<String, Value>, k: &str) -> Result<Option<f64>, Refused> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|f| f.is_finite())
            .map(Some)
            .ok_or_else(|| Refused::Shape(format!("{k} must be a finite number"))),
        Some(_) => Err(Refused::Shape(format!("{k} must be a number"))),
    }
}

fn int(m: &Map<String, Value>, k: &str) -> Result<Option<i64>, Refused> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| Refused::Shape(format!("{k} must be an integer"))),
        Some(_) => Err(Refused::Shape(format!("{k} must be an integer"))),
    }
}

fn text<'a>(m: &'a Map<String, Value>, k: &str) -> Result<Option<&'a str>, Refused> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Refused::Shape(format!("{k} must be a string"))),
    }
}

fn health(m: &Map<String, Value>) -> Result<Health, Refused> {
    let status = match text(m, "status")? {
        None => NodeStatus::Active,
        Some(s) => NodeStatus::reported(s).ok_or_else(|| {
            Refused::Shape(format!("status `{s}` is not one of active, idle, fault"))
        })?,
    };
    let percent = |k: &str| -> Result<f64, Refused> {
        let v = num(m, k)?.ok_or_else(|| Refused::Shape(format!("{k} is required")))?;
        if (0.0..=100.0).contains(&v) {
            Ok(v)
        } else {
            Err(Refused::Shape(format!("{k} must be 0 to 100, got {v}")))
        }
    };
    Ok(Health {
        status,
        cpu_usage: percent("cpu_usage")?,
        memory_usage: percent("memory_usage")?,
        network_status: text(m, "network_status")?.map(str::to_owned),
        energy_consumption: num(m, "energy_consumption")?,
    })
}

fn detection(mut d: Map<String, Value>) -> Result<Detection, Refused> {
    let stream_id = match d.remove("stream_id") {
        Some(Value::String(s)) => s,
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(Refused::Shape("stream_id (string) is required".into())),
    };
    let object_type = match d.remove("object_type") {
        Some(Value::String(s)) if !s.is_empty() => s,
        _ => return Err(Refused::Shape("object_type (string) is required".into())),
    };
    let confidence = num(&d, "confidence")?
        .filter(|c| (0.0..=1.0).contains(c))
        .ok_or_else(|| Refused::Shape("confidence (0 to 1) is required".into()))?;
    d.remove("confidence");
    let bbox: BBox = match d.remove("bbox") {
        Some(b) => serde_json::from_value(b).map_err(|e| Refused::Shape(format!("bbox: {e}")))?,
        None => return Err(Refused::Shape("bbox is required".into())),
    };
    if !(bbox.x.is_finite() && bbox.y.is_finite() && bbox.width >= 0.0 && bbox.height >= 0.0) {
        return Err(Refused::Shape(
            "bbox must be finite with width and height ≥ 0".into(),
        ));
    }
    let location = match d.remove("location") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(other) => Some(other.to_string()),
    };
    let mut metadata = match d.remove("metadata") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(Refused::Shape("metadata must be an object".into())),
    };
    // Fields we do not know are kept, not refused.
    metadata.extend(d);
    Ok(Detection {
        stream_id,
        object_type,
        confidence,
        bbox,
        location,
        metadata,
    })
}

fn consensus(m: &Map<String, Value>) -> Result<ConsensusReport, Refused> {
    let round_number =
        int(m, "round_number")?.ok_or_else(|| Refused::Shape("round_number is required".into()))?;
    let votes = match m.get("votes") {
        Some(Value::Object(v)) => v.clone(),
        Some(Value::Array(list)) => {
            let mut votes = Map::new();
            for (i, v) in list.iter().enumerate() {
                let voter = v
                    .get("node_id")
                    .or_else(|| v.get("voter"))
                    .and_then(Value::as_str)
                    .map_or_else(|| i.to_string(), str::to_owned);
                votes.insert(voter, v.get("vote").cloned().unwrap_or(Value::Null));
            }
            votes
        }
        None | Some(Value::Null) => Map::new(),
        Some(_) => return Err(Refused::Shape("votes must be an object or an array".into())),
    };
    let small = |k: &str| -> Result<Option<i32>, Refused> {
        int(m, k)?
            .map(|v| i32::try_from(v).map_err(|e| Refused::Shape(format!("{k}: {e}"))))
            .transpose()
    };
    let success = match m.get("success") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(Refused::Shape("success must be true or false".into())),
    };
    Ok(ConsensusReport {
        round_number,
        votes,
        result: m.get("result").filter(|v| !v.is_null()).cloned(),
        participants: small("participants")?,
        duration_ms: small("duration_ms")?,
        success,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn ok(topic: &str, payload: &str) -> Parsed {
        parse(topic, payload.as_bytes(), now(), Limits::default()).unwrap()
    }

    fn refused(topic: &str, payload: &[u8]) -> &'static str {
        parse(topic, payload, now(), Limits::default())
            .unwrap_err()
            .reason()
    }

    #[test]
    fn a_heartbeat_as_the_plan_sends_it() {
        let p = ok(
            "edge-qi/nodes/n1/heartbeat",
            r#"{"node_id":"n1","timestamp":"2026-12-02T09:59:59.500000","cpu_usage":12.5,"memory_usage":40,"status":"idle","gpu":3}"#,
        );
        assert_eq!(p.kind, MessageType::Heartbeat);
        assert_eq!(p.reading.at_ms, now().timestamp_millis() - 500);
        let Observation::Heartbeat(h) = &p.reading.observations[0] else {
            panic!("{p:?}")
        };
        assert_eq!(
            (h.status, h.cpu_usage, h.memory_usage),
            (NodeStatus::Idle, 12.5, 40.0)
        );
        assert!(
            p.reading.raw.contains("\"gpu\":3"),
            "unknown fields are kept"
        );
        assert_eq!(p.reading.sequence, None);
    }

    #[test]
    fn detections_one_or_many_with_sequence() {
        let one = ok(
            "edge-qi/detection/cam-2",
            r#"{"node_id":"cam-2","timestamp":1764669600000,"seq":7,"boot":2,"stream_id":"s1","object_type":"person","confidence":0.9,"bbox":{"x":1,"y":2,"width":3,"height":4},"track":11}"#,
        );
        assert_eq!(one.reading.sequence, Some(Sequence { boot: 2, seq: 7 }));
        let Observation::Detections { detections } = &one.reading.observations[0] else {
            panic!()
        };
        assert_eq!(detections.len(), 1);
        assert_eq!(
            detections[0].metadata["track"], 11,
            "extra fields go to metadata"
        );
        assert!(!detections[0].bbox.normalized);
        let many = ok(
            "edge-qi/detection/cam-2",
            r#"{"timestamp":1764669600000,"detections":[
                {"stream_id":"s1","object_type":"car","confidence":0.5,"bbox":{"x":0.1,"y":0.2,"width":0.3,"height":0.4,"normalized":true},"location":"gate"},
                {"stream_id":"s1","object_type":"bicycle","confidence":0.7,"bbox":{"x":0,"y":0,"width":1,"height":1},"metadata":{"speed":3}}]}"#,
        );
        let Observation::Detections { detections } = &many.reading.observations[0] else {
            panic!()
        };
        assert_eq!(detections.len(), 2);
        assert_eq!(detections[0].location.as_deref(), Some("gate"));
        assert!(detections[0].bbox.normalized);
        assert_eq!(detections[1].metadata["speed"], 3);
    }

    #[test]
    fn births_deaths_metrics_and_consensus() {
        let b = ok(
            "edge-qi/nodes/n1/status",
            r#"{"status":"online","boot":4,"capabilities":{"fps":15}}"#,
        );
        assert!(matches!(
            &b.reading.observations[0],
            Observation::Birth(Birth { boot: Some(4), .. })
        ));
        let d = ok("edge-qi/nodes/n1/status", r#"{"status":"offline"}"#);
        assert_eq!(d.reading.observations[0], Observation::Death);
        let m = ok(
            "edge-qi/metrics/n1",
            r#"{"average_latency":12,"bandwidth_saved":100.5}"#,
        );
        assert_eq!(
            m.reading.observations[0],
            Observation::Performance(Performance {
                latency_ms: Some(12.0),
                bandwidth_saved: Some(100.5),
                energy_saved: None
            })
        );
        let c = ok(
            "edge-qi/consensus/n1",
            r#"{"round_number":9,"votes":[{"node_id":"a","vote":"car"},{"node_id":"b","vote":"car"}],"result":"car","participants":2,"duration_ms":40,"success":true}"#,
        );
        let Observation::Consensus(c) = &c.reading.observations[0] else {
            panic!()
        };
        assert_eq!(c.votes.len(), 2);
        assert_eq!(c.round_number, 9);
    }

    #[test]
    fn bad_input_is_refused_with_a_reason() {
        let hb = "edge-qi/nodes/n1/heartbeat";
        assert_eq!(refused("edge-qi/other/n1", b"{}"), "bad_topic");
        assert_eq!(refused("edge-qi/detection/a+b", b"{}"), "bad_node_id");
        assert_eq!(refused(hb, b"{not json"), "malformed_json");
        assert_eq!(refused(hb, b"[1]"), "wrong_type");
        assert_eq!(
            refused(hb, br#"{"cpu_usage":"high","memory_usage":1}"#),
            "wrong_type"
        );
        assert_eq!(
            refused(hb, br#"{"cpu_usage":101,"memory_usage":1}"#),
            "wrong_type"
        );
        assert_eq!(
            refused(hb, br#"{"cpu_usage":1,"memory_usage":1,"status":"sleepy"}"#),
            "wrong_type"
        );
        assert_eq!(
            refused(hb, br#"{"node_id":"n2","cpu_usage":1,"memory_usage":1}"#),
            "node_mismatch"
        );
        assert_eq!(
            refused(
                hb,
                br#"{"timestamp":"2027-01-01T00:00:00Z","cpu_usage":1,"memory_usage":1}"#
            ),
            "time_out_of_range"
        );
        assert_eq!(
            refused(hb, br#"{"timestamp":0,"cpu_usage":1,"memory_usage":1}"#),
            "time_out_of_range",
            "before 2000: a node without its clock"
        );
        assert_eq!(refused(hb, &vec![b' '; 300 * 1024]), "oversize");
        assert_eq!(
            refused("edge-qi/detection/n1", br#"{"stream_id":"s","object_type":"car","confidence":1.5,"bbox":{"x":0,"y":0,"width":1,"height":1}}"#),
            "wrong_type"
        );
        assert_eq!(
            refused(
                "edge-qi/detection/n1",
                br#"{"detections":[{"object_type":"car"}]}"#
            ),
            "wrong_type"
        );
    }
}
