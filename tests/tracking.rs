//! The live camera pipeline: an edge node reports person boxes of two of its streams over MQTT;
//! each stream is a calibrated camera; a WebSocket subscriber of `tracking` sees the two people
//! walking as two global identities, each placed on the floor by both cameras.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a failed unwrap is a failed test.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::mqtt::{MqttNode, NodeOptions};
use common::scene::{camera, frame_message, pose, two_walkers};
use common::{settings, TestApp, WAIT};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

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
        for (i, p) in poses.iter().enumerate() {
            s.cameras.list.push(camera(i as u32, "box-1", p));
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
        let mut msg = frame_message("box-1", &poses, start_ms, k, &two_walkers(k as f64 * 0.1));
        // A car in the same frames is not a person: cameras ignore it.
        msg["detections"].as_array_mut().unwrap().push(json!({"stream_id": "s0", "object_type": "car", "confidence": 0.9, "bbox": {"x": 10, "y": 10, "width": 200, "height": 100}}));
        node.publish_acked("edge-qi/detection/box-1", msg.to_string())
            .await;
    }

    let mut ids = BTreeSet::new();
    let mut both_seen_by_two = false;
    let until = Instant::now() + Duration::from_secs(10);
    let mut status = None;
    while Instant::now() < until && !(both_seen_by_two && ids.len() >= 2 && status.is_some()) {
        let Some(v) = next_json(&mut ws, Duration::from_secs(3)).await else {
            break;
        };
        if v["type"] == "system_status" {
            status = Some(v);
            continue;
        }
        if v["type"] != "tracking_update" {
            continue;
        }
        assert_eq!(v["topic"], "tracking");
        let persons = v["data"]["persons"].as_array().unwrap();
        let t = v["data"]["time"].as_f64().unwrap() - start_ms as f64 / 1000.0;
        for p in persons {
            ids.insert(p["global_id"].as_u64().unwrap());
            let (x, y) = (p["x_m"].as_f64().unwrap(), p["y_m"].as_f64().unwrap());
            let near = two_walkers(t)
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
    // Every two seconds: the cameras' state and rates, people in view, memory.
    let status = status.expect("a system_status message");
    assert_eq!(status["topic"], "tracking");
    assert_eq!(status["data"]["cameras_active"], 2, "{status}");
    assert_eq!(status["data"]["cameras"][1]["state"], "running", "{status}");
    assert!(
        status["data"]["memory_bytes"].as_u64().unwrap() > 1_000_000,
        "{status}"
    );
    assert!(
        app.metric("urbanstream_camera_frames_total{outcome=\"tracked\"}")
            .await
            >= 60.0
    );
}
