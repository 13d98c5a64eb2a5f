//! The live camera pipeline: an edge node reports person boxes of two of its streams over MQTT;
//! each stream is a calibrated camera; a WebSocket subscriber of `tracking` sees the two people
//! walking as two global identities, each placed on the floor by both cameras.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a failed unwrap is a failed test.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::mqtt::{MqttNode, NodeOptions};
use common::{settings, TestApp, WAIT};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use urbanstream::config::CameraEntry;
use urbanstream_vision::geometry::CalibrationSpec;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A camera 5 m up at `(cx, cy)` looking at the room's middle (10, 7): its R and t.
fn pose(cx: f64, cy: f64) -> ([[f64; 3]; 3], [f64; 3]) {
    let norm = |v: [f64; 3]| {
        let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        [v[0] / n, v[1] / n, v[2] / n]
    };
    let cross = |a: [f64; 3], b: [f64; 3]| {
        [
            a[1] * b[2] - a[2] * b[1],
            a[2] * b[0] - a[0] * b[2],
            a[0] * b[1] - a[1] * b[0],
        ]
    };
    let fwd = norm([10.0 - cx, 7.0 - cy, -5.0]);
    let right = norm(cross(fwd, [0.0, 0.0, 1.0]));
    let r = [right, cross(fwd, right), fwd];
    let c = [cx, cy, 5.0];
    (
        r,
        [0, 1, 2].map(|i| -(r[i][0] * c[0] + r[i][1] * c[1] + r[i][2] * c[2])),
    )
}

const K: [[f64; 3]; 3] = [[800.0, 0.0, 640.0], [0.0, 800.0, 360.0], [0.0, 0.0, 1.0]];

/// The box, normalised to a 1280×720 frame, of a 1.7 m person at `(x, y)`.
fn normalised_box((r, t): &([[f64; 3]; 3], [f64; 3]), x: f64, y: f64) -> Value {
    let project = |p: [f64; 3]| {
        let c = [0, 1, 2].map(|i| r[i][0] * p[0] + r[i][1] * p[1] + r[i][2] * p[2] + t[i]);
        (800.0 * c[0] / c[2] + 640.0, 800.0 * c[1] / c[2] + 360.0)
    };
    let (u, v) = project([x, y, 0.0]);
    let (_, top) = project([x, y, 1.7]);
    let h = v - top;
    json!({"x": (u - 0.205 * h) / 1280.0, "y": top / 720.0, "width": 0.41 * h / 1280.0, "height": h / 720.0, "normalized": true})
}

async fn next_json(ws: &mut Ws, wait: Duration) -> Option<Value> {
    let until = Instant::now() + wait;
    loop {
        let left = until.checked_duration_since(Instant::now())?;
        let msg = tokio::time::timeout(left, ws.next()).await.ok()??.ok()?;
        if let Message::Text(t) = msg {
            return serde_json::from_str(&t).ok();
        }
    }
}

#[actix_rt::test]
async fn an_edge_nodes_two_streams_track_two_people_as_two_identities() {
    let poses = [pose(0.0, 0.0), pose(20.0, 0.0)];
    let app = TestApp::start(settings(|s| {
        s.edge.register_unknown = true;
        s.edge.authenticate = false;
        for (i, (r, t)) in poses.iter().enumerate() {
            s.cameras.list.push(CameraEntry {
                id: i as u32,
                node: "box-1".into(),
                stream: format!("s{i}"),
                fps: 10.0,
                size: Some([1280, 720]),
                calibration: CalibrationSpec {
                    k: Some(K),
                    r: Some(*r),
                    t: Some(*t),
                    ..CalibrationSpec::default()
                },
            });
        }
    }))
    .await;
    let (mut ws, _) = tokio_tungstenite::connect_async(app.ws_url())
        .await
        .unwrap();
    next_json(&mut ws, WAIT).await;
    ws.send(Message::Text(
        json!({"op": "subscribe", "topics": ["tracking"]})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let ack = next_json(&mut ws, WAIT).await.unwrap();
    assert_eq!(ack["data"]["subscribed"], json!(["tracking"]), "{ack}");

    let mut node = MqttNode::connect(
        app.server.mqtt_addr.unwrap(),
        "box-1",
        NodeOptions::default(),
    )
    .await
    .unwrap();
    // Four seconds of two people walking, sent as they happened (device time, 10 frames a second).
    let start_ms = chrono::Utc::now().timestamp_millis() - 5_000;
    for k in 0..40 {
        let t = k as f64 * 0.1;
        let people = [(6.0 + 0.8 * t, 6.0), (14.0 - 0.8 * t, 9.0)];
        let mut detections = Vec::new();
        for (i, p) in poses.iter().enumerate() {
            for (n, &(x, y)) in people.iter().enumerate() {
                // Each person's appearance vector as the node's embedder gives it (one of them
                // also carries a malformed one in another field, which is ignored).
                let embedding: Vec<f64> =
                    (0..8).map(|d| if d % 2 == n { 1.0 } else { 0.1 }).collect();
                detections.push(json!({"stream_id": format!("s{i}"), "object_type": "person", "confidence": 0.9,
                    "bbox": normalised_box(p, x, y), "embedding": embedding, "metadata": {"colour": "red"}}));
            }
        }
        // A car in the same frames is not a person: cameras ignore it.
        detections.push(json!({"stream_id": "s0", "object_type": "car", "confidence": 0.9, "bbox": {"x": 10, "y": 10, "width": 200, "height": 100}}));
        let msg = json!({"node_id": "box-1", "timestamp": start_ms + k * 100, "boot": 1, "seq": k + 1, "detections": detections});
        node.publish_acked("edge-qi/detection/box-1", msg.to_string())
            .await;
    }

    let mut ids = BTreeSet::new();
    let mut both_seen_by_two = false;
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until && !(both_seen_by_two && ids.len() >= 2) {
        let Some(v) = next_json(&mut ws, Duration::from_secs(2)).await else {
            break;
        };
        if v["type"] != "tracking_update" {
            continue;
        }
        assert_eq!(v["topic"], "tracking");
        let persons = v["data"]["persons"].as_array().unwrap();
        let t = v["data"]["time"].as_f64().unwrap() - start_ms as f64 / 1000.0;
        for p in persons {
            ids.insert(p["global_id"].as_u64().unwrap());
            let (x, y) = (p["x_m"].as_f64().unwrap(), p["y_m"].as_f64().unwrap());
            let near = [(6.0 + 0.8 * t, 6.0), (14.0 - 0.8 * t, 9.0)]
                .iter()
                .any(|q| (q.0 - x).hypot(q.1 - y) < 0.5);
            assert!(near, "{p} at t={t}");
        }
        both_seen_by_two |= persons.len() == 2
            && persons
                .iter()
                .all(|p| p["cameras"].as_array().unwrap().len() == 2);
    }
    assert!(
        both_seen_by_two,
        "no update placed both people with both cameras"
    );
    assert_eq!(ids.len(), 2, "two people, two ids: {ids:?}");
    assert!(
        app.metric("urbanstream_camera_frames_total{outcome=\"tracked\"}")
            .await
            >= 60.0
    );
}
