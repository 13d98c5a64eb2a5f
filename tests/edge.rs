//! Edge AI nodes over MQTT, end to end: real MQTT clients (ours and paho), the embedded
//! broker and a real Mosquitto, the database, REST and WebSocket.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a failed unwrap is a failed test.

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use common::mqtt::{free_port, Mosquitto, MqttNode, NodeOptions};
use common::{settings, TestApp, WAIT};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use urbanstream_schema::store::{DetectionFilter, Store};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339()
}

/// A development server: any node may connect and is registered on first contact.
async fn dev_app(edit: impl FnOnce(&mut urbanstream::config::Settings)) -> TestApp {
    TestApp::start(settings(|s| {
        s.edge.register_unknown = true;
        s.edge.authenticate = false;
        edit(s);
    }))
    .await
}

fn heartbeat(node: &str, seq: i64, status: &str, cpu: f64) -> Vec<u8> {
    json!({
        "node_id": node, "timestamp": now_rfc3339(), "cpu_usage": cpu,
        "memory_usage": 61.5, "status": status, "boot": 1, "seq": seq,
    })
    .to_string()
    .into_bytes()
}

fn detections(node: &str, seq: i64, n: usize) -> Vec<u8> {
    let list: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "stream_id": "gate-cam", "object_type": if i % 2 == 0 { "person" } else { "car" },
                "confidence": 0.9, "bbox": {"x": 10 * i, "y": 20, "width": 30, "height": 60},
                "track_id": i, "crop": "/9j/4AAQSkZJRg",
            })
        })
        .collect();
    json!({ "node_id": node, "timestamp": now_rfc3339(), "boot": 1, "seq": seq, "detections": list })
        .to_string()
        .into_bytes()
}

async fn stored_detections(
    store: &Store,
    node: &str,
) -> Vec<urbanstream_schema::models::DetectionRow> {
    store
        .detections(DetectionFilter {
            node: Some(node.into()),
            from_ms: 0,
            to_ms: i64::MAX,
            limit: 100_000,
            ..DetectionFilter::default()
        })
        .await
        .unwrap()
}

async fn node_json(app: &TestApp, id: &str) -> Value {
    let (s, b) = app.get(&format!("/api/v1/nodes/{id}")).await;
    assert_eq!(s, 200, "{b}");
    serde_json::from_str(&b).unwrap()
}

/// Polls `check` until it holds or `wait` passes.
async fn eventually<F, Fut>(wait: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = Instant::now() + wait;
    while Instant::now() < until {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: not within {wait:?}");
}

async fn ws_connect(app: &TestApp, topics: &[&str]) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(app.ws_url())
        .await
        .unwrap();
    next_json(&mut ws).await;
    ws.send(Message::Text(
        json!({"op": "subscribe", "topics": topics})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let ack = next_json(&mut ws).await;
    assert_eq!(ack["data"]["subscribed"], json!(topics), "{ack}");
    ws
}

async fn next_json(ws: &mut Ws) -> Value {
    try_next_json(ws, WAIT).await.expect("a frame in time")
}

async fn try_next_json(ws: &mut Ws, wait: Duration) -> Option<Value> {
    let until = Instant::now() + wait;
    loop {
        let left = until.checked_duration_since(Instant::now())?;
        let msg = tokio::time::timeout(left, ws.next()).await.ok()??.ok()?;
        if let Message::Text(t) = msg {
            return serde_json::from_str(&t).ok();
        }
    }
}

/// The next push of `kind`, skipping others.
async fn next_of(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let v = next_json(ws).await;
        if v["type"] == kind {
            return v;
        }
    }
}

#[actix_rt::test]
async fn a_node_goes_active_then_offline_when_silent_and_back() {
    let app = dev_app(|s| {
        s.edge.offline_after = Duration::from_millis(1200);
    })
    .await;
    let addr = app.server.mqtt_addr.unwrap();
    let mut node = MqttNode::connect(addr, "cam-1", NodeOptions::default())
        .await
        .unwrap();
    let birth =
        json!({"status": "online", "boot": 1, "seq": 0, "capabilities": {"detector": "yolov8n"}});
    node.publish_acked_retain("edge-qi/nodes/cam-1/status", birth.to_string(), true)
        .await;
    node.publish_acked(
        "edge-qi/nodes/cam-1/heartbeat",
        heartbeat("cam-1", 1, "active", 35.5),
    )
    .await;
    // The PUBACK came after the commit: the heartbeat is stored already.
    let samples = app
        .server
        .store
        .node_samples("cam-1", 0, i64::MAX, 10)
        .await
        .unwrap();
    assert_eq!(samples.len(), 1, "{samples:?}");
    assert_eq!(samples[0].kind, "heartbeat");
    let n = node_json(&app, "cam-1").await;
    assert_eq!(n["status"], "active", "{n}");
    assert_eq!(n["cpu_usage"], 35.5);
    assert_eq!(n["capabilities"]["detector"], "yolov8n");
    assert_eq!(n["boot"], 1);

    eventually(Duration::from_secs(5), "offline after silence", || async {
        node_json(&app, "cam-1").await["status"] == "offline"
    })
    .await;
    node.publish_acked("edge-qi/detection/cam-1", detections("cam-1", 2, 1))
        .await;
    assert_eq!(node_json(&app, "cam-1").await["status"], "active");
    app.created(
        "/api/v1/alerts/rules",
        json!({"name": "Node fault", "kind": "NODE_FAULT", "severity": "CRITICAL", "cooldown_s": 0}),
    )
    .await;
    // The rule engine picks new rules up on its reload; the node keeps reporting its fault
    // (between healthy heartbeats) until the alert is raised.
    let until = Instant::now() + Duration::from_secs(15);
    let mut seq = 3;
    loop {
        let status = if seq % 2 == 0 { "active" } else { "fault" };
        node.publish_acked(
            "edge-qi/nodes/cam-1/heartbeat",
            heartbeat("cam-1", seq, status, 99.0),
        )
        .await;
        let (_, b) = app.get("/api/v1/alerts").await;
        if b.contains("NODE_FAULT") {
            break;
        }
        assert!(Instant::now() < until, "no NODE_FAULT alert: {b}");
        seq += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    node.publish_acked(
        "edge-qi/nodes/cam-1/heartbeat",
        heartbeat("cam-1", 1000, "fault", 99.0),
    )
    .await;
    assert_eq!(node_json(&app, "cam-1").await["status"], "fault");

    // The history holds the status changes, as events of the node's device row.
    let device = app.server.store.device("cam-1").await.unwrap().unwrap();
    assert_eq!(device.kind, "edge_node");
    let (_, b) = app
        .get("/api/v1/nodes/cam-1/metrics?from=2000-01-01T00:00:00Z")
        .await;
    let m: Value = serde_json::from_str(&b).unwrap();
    let items = m["items"].as_array().unwrap();
    assert!(items.len() >= 3, "{m}");
    assert_eq!(items.last().unwrap()["data"]["status"], "fault");
}

#[actix_rt::test]
async fn detections_are_stored_once_and_pushed_once_when_a_message_comes_again() {
    let app = dev_app(|_| {}).await;
    let mut ws = ws_connect(&app, &["detections", "nodes"]).await;
    let addr = app.server.mqtt_addr.unwrap();
    let mut node = MqttNode::connect(addr, "cam-2", NodeOptions::default())
        .await
        .unwrap();
    let message = detections("cam-2", 5, 3);
    node.publish_acked("edge-qi/detection/cam-2", message.clone())
        .await;
    // The same message again (a QoS 1 redelivery): stored once.
    node.publish_acked("edge-qi/detection/cam-2", message).await;
    let rows = stored_detections(&app.server.store, "cam-2").await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[1].object_type, "car");
    assert_eq!(rows[2].seq, 5);
    assert!(
        rows[0].metadata.contains("track_id"),
        "extra fields kept: {}",
        rows[0].metadata
    );
    // A picture of a person is not kept (`cameras.record.crops` is off); a car's is.
    assert!(!rows[0].metadata.contains("crop"), "{}", rows[0].metadata);
    assert!(rows[1].metadata.contains("crop"), "{}", rows[1].metadata);

    let pushed = next_of(&mut ws, "detection_result").await;
    assert_eq!(pushed["topic"], "detections");
    assert_eq!(pushed["data"]["node_id"], "cam-2");
    assert_eq!(pushed["data"]["detections"].as_array().unwrap().len(), 3);
    // No second push for the redelivery.
    while let Some(v) = try_next_json(&mut ws, Duration::from_millis(500)).await {
        assert_ne!(v["type"], "detection_result", "pushed twice: {v}");
    }

    // REST: filtered, paged with a cursor.
    let (s, b) = app
        .get("/api/v1/detections?node=cam-2&object_type=person&limit=1&from=2000-01-01T00:00:00Z")
        .await;
    assert_eq!(s, 200, "{b}");
    let page: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(page["items"][0]["object_type"], "person");
    assert_eq!(page["items"][0]["bbox"]["height"], 60.0);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, b) = app
        .get(&format!(
            "/api/v1/detections?node=cam-2&object_type=person&limit=1&from=2000-01-01T00:00:00Z&cursor={cursor}"
        ))
        .await;
    let page2: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(page2["items"].as_array().unwrap().len(), 1, "{page2}");
    assert_ne!(page2["items"][0]["index"], page["items"][0]["index"]);
    let (s, csv) = app
        .get("/api/v1/detections/export?node=cam-2&from=2000-01-01T00:00:00Z")
        .await;
    assert_eq!(s, 200);
    assert_eq!(csv.lines().count(), 4, "{csv}");
}

/// With `cameras.record.crops`, pictures of people are stored and leave their detections at
/// `crops_days`: a detection that ages past it loses its picture to the retention task, one that
/// arrives older is stored without it; the rest of the row, and younger pictures, stay.
#[actix_rt::test]
async fn stored_pictures_of_people_leave_their_detections_after_their_retention() {
    let app = dev_app(|s| {
        s.cameras.record.crops = true;
        s.cameras.record.crops_days = 1;
        s.retention.check_interval = Duration::from_millis(200);
    })
    .await;
    let addr = app.server.mqtt_addr.unwrap();
    let mut node = MqttNode::connect(addr, "cam-12", NodeOptions::default())
        .await
        .unwrap();
    let message = |seq: i64, at: String| {
        json!({"node_id": "cam-12", "timestamp": at, "boot": 1, "seq": seq, "detections": [
            {"stream_id": "door", "object_type": "person", "confidence": 0.9, "track_id": 4,
             "bbox": {"x": 10, "y": 20, "width": 30, "height": 60}, "crop": "/9j/4AAQ"}]})
        .to_string()
    };
    let ago = |ms: i64| {
        (chrono::Utc::now() - chrono::Duration::milliseconds(ms))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let topic = "edge-qi/detection/cam-12";
    // Taken 2 days ago: past its retention on arrival.
    node.publish_acked(topic, message(1, ago(2 * 86_400_000)))
        .await;
    // Taken a day less 1.5 s ago: ages past it while stored.
    node.publish_acked(topic, message(2, ago(86_400_000 - 1_500)))
        .await;
    node.publish_acked(topic, message(3, ago(0))).await;
    let rows = stored_detections(&app.server.store, "cam-12").await;
    assert_eq!(rows.len(), 3);
    assert!(!rows[0].metadata.contains("crop"), "{}", rows[0].metadata);
    assert!(rows[1].metadata.contains("crop"), "{}", rows[1].metadata);
    eventually(
        Duration::from_secs(10),
        "the aged picture removed",
        || async {
            !stored_detections(&app.server.store, "cam-12").await[1]
                .metadata
                .contains("crop")
        },
    )
    .await;
    let rows = stored_detections(&app.server.store, "cam-12").await;
    assert!(rows.iter().all(|r| r.metadata.contains("track_id")));
    assert!(rows[2].metadata.contains("crop"), "{}", rows[2].metadata);
}

#[actix_rt::test]
async fn bad_messages_are_acknowledged_counted_and_dead_lettered() {
    let app = dev_app(|s| s.mqtt.max_payload = 2048).await;
    let addr = app.server.mqtt_addr.unwrap();
    let mut node = MqttNode::connect(addr, "cam-3", NodeOptions::default())
        .await
        .unwrap();
    let hb = "edge-qi/nodes/cam-3/heartbeat";
    node.publish_acked(hb, "{not json").await;
    node.publish_acked(hb, heartbeat("cam-4", 1, "active", 1.0))
        .await;
    node.publish_acked(hb, r#"{"cpu_usage": "high", "memory_usage": 1}"#)
        .await;
    node.publish_acked(hb, vec![b' '; 3000]).await;
    let future = json!({"timestamp": "2099-01-01T00:00:00Z", "cpu_usage": 1, "memory_usage": 1});
    node.publish_acked(hb, future.to_string()).await;
    // Still served after the poison.
    node.publish_acked(hb, heartbeat("cam-3", 1, "idle", 5.0))
        .await;
    assert_eq!(node_json(&app, "cam-3").await["status"], "idle");

    let (s, b) = app.get("/api/v1/mqtt/dead-letters").await;
    assert_eq!(s, 200, "{b}");
    let v: Value = serde_json::from_str(&b).unwrap();
    let mut reasons: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["reason"].as_str().unwrap())
        .collect();
    reasons.sort_unstable();
    assert_eq!(
        reasons,
        [
            "malformed_json",
            "node_mismatch",
            "oversize",
            "time_out_of_range",
            "wrong_type"
        ]
    );
    assert_eq!(v["items"][0]["topic"], hb);
    for reason in [
        "malformed_json",
        "node_mismatch",
        "oversize",
        "wrong_type",
        "time_out_of_range",
    ] {
        let series = format!("urbanstream_mqtt_messages_rejected_total{{reason=\"{reason}\"}}");
        assert!(app.metric(&series).await >= 1.0, "{series}");
    }
}

#[actix_rt::test]
async fn in_production_a_node_connects_with_the_key_it_registered_with() {
    let app = TestApp::start(settings(|s| {
        s.edge.register_unknown = false;
        s.edge.authenticate = true;
    }))
    .await;
    let addr = app.server.mqtt_addr.unwrap();
    let refused = MqttNode::connect(addr, "cam-9", NodeOptions::default()).await;
    assert!(refused.is_err(), "anonymous nodes are refused");

    let key = app
        .created(
            "/api/v1/api-keys",
            json!({"name": "cam-9", "role": "OPERATOR"}),
        )
        .await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = app
        .created(
            "/api/v1/api-keys",
            json!({"name": "someone", "role": "OPERATOR"}),
        )
        .await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let creds = |k: &str| NodeOptions {
        credentials: Some(("cam-9".into(), k.into())),
        ..NodeOptions::default()
    };
    assert!(
        MqttNode::connect(addr, "cam-9", creds(&key)).await.is_err(),
        "not registered yet"
    );
    let (s, b) = app
        .request_as(
            Some(&key),
            "POST",
            "/api/v1/nodes/register",
            Some(
                &json!({"id": "cam-9", "name": "Gate 9", "ip_address": "10.0.0.9", "port": 8080,
                         "capabilities": {"fps": 15}}),
            ),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(serde_json::from_str::<Value>(&b).unwrap()["has_key"], true);
    assert!(
        MqttNode::connect(addr, "cam-9", creds(&other))
            .await
            .is_err(),
        "another key does not open this node"
    );
    let mut node = MqttNode::connect(addr, "cam-9", creds(&key)).await.unwrap();
    node.publish_acked(
        "edge-qi/nodes/cam-9/heartbeat",
        heartbeat("cam-9", 1, "active", 3.0),
    )
    .await;
    assert_eq!(node_json(&app, "cam-9").await["status"], "active");
    // A node publishes its own topics only.
    node.publish_acked(
        "edge-qi/nodes/cam-1/heartbeat",
        heartbeat("cam-1", 1, "active", 3.0),
    )
    .await;
    let (_, b) = app.get("/api/v1/mqtt/dead-letters").await;
    assert!(b.contains("not_authorized"), "{b}");
    let (s, _) = app.get("/api/v1/nodes/cam-1").await;
    assert_eq!(s, 404);
}

#[actix_rt::test]
async fn a_last_will_takes_the_node_offline() {
    let app = dev_app(|_| {}).await;
    let addr = app.server.mqtt_addr.unwrap();
    let mut node = MqttNode::connect(addr, "cam-5", NodeOptions::offline_will("cam-5"))
        .await
        .unwrap();
    node.publish_acked(
        "edge-qi/nodes/cam-5/heartbeat",
        heartbeat("cam-5", 1, "active", 3.0),
    )
    .await;
    assert_eq!(node_json(&app, "cam-5").await["status"], "active");
    node.vanish();
    eventually(WAIT, "offline by its last will", || async {
        node_json(&app, "cam-5").await["status"] == "offline"
    })
    .await;
}

#[actix_rt::test]
async fn a_paho_publisher_is_understood() {
    let app = dev_app(|_| {}).await;
    let addr = app.server.mqtt_addr.unwrap();
    let script = r#"
import json, sys, time
import paho.mqtt.client as mqtt
port = int(sys.argv[1])
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="paho-node")
c.connect("127.0.0.1", port)
c.loop_start()
hb = {"node_id": "paho-1", "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
      "cpu_usage": 12.0, "memory_usage": 30.0, "status": "active"}
det = {"node_id": "paho-1", "timestamp": int(time.time() * 1000), "stream_id": "s1",
       "object_type": "bicycle", "confidence": 0.77,
       "bbox": {"x": 0.1, "y": 0.2, "width": 0.3, "height": 0.4, "normalized": True}}
for topic, body in [("edge-qi/nodes/paho-1/heartbeat", hb), ("edge-qi/detection/paho-1", det)]:
    c.publish(topic, json.dumps(body), qos=1).wait_for_publish(5)
c.loop_stop()
c.disconnect()
"#;
    // Off the runtime's thread: the server answers on it.
    let port = addr.port().to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args(["-c", script, &port])
            .output()
            .expect("python3 with paho-mqtt (scripts/test.sh installs it)")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // wait_for_publish returned after our PUBACK, which follows the commit.
    let rows = stored_detections(&app.server.store, "paho-1").await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0].bbox_normalized);
    assert_eq!(node_json(&app, "paho-1").await["status"], "active");
}

async fn ready(app: &TestApp) -> (u16, Value) {
    let (s, b) = app.get("/ready").await;
    (s, serde_json::from_str(&b).unwrap_or_default())
}

/// A Mosquitto of the test's own (persisting in the returned folder) and a development server
/// connected to it as its MQTT client.
async fn mosquitto_app(
    edit: impl FnOnce(&mut urbanstream::config::Settings),
) -> (std::path::PathBuf, Mosquitto, TestApp) {
    let dir = std::env::temp_dir().join(format!("us_mosq_{}_{}", std::process::id(), free_port()));
    let broker = Mosquitto::start(free_port(), dir.clone());
    let url = format!("mqtt://{}", broker.addr());
    let app = dev_app(|s| {
        s.mqtt.url = Some(url);
        s.mqtt.client_id = format!("urbanstream-test-{}", broker.port);
        edit(s);
    })
    .await;
    eventually(WAIT, "connected to mosquitto", || async {
        ready(&app).await.0 == 200
    })
    .await;
    (dir, broker, app)
}

#[actix_rt::test]
async fn through_mosquitto_nothing_acknowledged_is_lost_across_a_broker_restart() {
    let (dir, broker, app) = mosquitto_app(|_| {}).await;
    assert_eq!(ready(&app).await.1["mqtt"]["status"], "ok");

    let total = 200i64;
    let publish = |from: i64, to: i64, addr: SocketAddr| async move {
        let mut node = MqttNode::connect(addr, "cam-7", NodeOptions::default())
            .await
            .unwrap();
        for seq in from..=to {
            node.publish_acked("edge-qi/detection/cam-7", detections("cam-7", seq, 1))
                .await;
        }
    };
    publish(1, 50, broker.addr()).await;
    // The broker restarts; at once, before urbanstream is back, a node publishes: the broker
    // acknowledges and queues those for urbanstream's session, then restarts again.
    let broker = broker.restart();
    publish(51, 150, broker.addr()).await;
    let broker = broker.restart();
    publish(151, total, broker.addr()).await;
    // Every message the broker acknowledged to the node is stored, each once.
    eventually(
        Duration::from_secs(30),
        "every acknowledged message stored",
        || async { stored_detections(&app.server.store, "cam-7").await.len() as i64 == total },
    )
    .await;
    let mut seqs: Vec<i64> = stored_detections(&app.server.store, "cam-7")
        .await
        .iter()
        .map(|r| r.seq)
        .collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs, (1..=total).collect::<Vec<_>>());
    assert_eq!(ready(&app).await.0, 200);

    // The broker down: /ready says so; back: ready again.
    drop(broker);
    eventually(
        Duration::from_secs(10),
        "/ready reports the broker down",
        || async {
            let (s, v) = ready(&app).await;
            s == 503 && v["mqtt"]["status"] == "disconnected"
        },
    )
    .await;
    let _ = std::fs::remove_dir_all(dir);
}

/// A node's life through an external broker (Mosquitto), whose PUBACK is its own: active,
/// offline when silent, back with a detection, a message stored and pushed once however often
/// it comes, offline by its last will, and poison acknowledged, counted and dead-lettered.
#[actix_rt::test]
async fn through_mosquitto_a_node_lives_goes_offline_and_its_poison_is_dead_lettered() {
    let (dir, broker, app) = mosquitto_app(|s| {
        s.mqtt.max_payload = 2048;
        s.edge.offline_after = Duration::from_millis(1200);
    })
    .await;
    let mut ws = ws_connect(&app, &["detections", "node:cam-10"]).await;
    let mut node = MqttNode::connect(broker.addr(), "cam-10", NodeOptions::offline_will("cam-10"))
        .await
        .unwrap();

    node.publish_acked(
        "edge-qi/nodes/cam-10/heartbeat",
        heartbeat("cam-10", 1, "active", 12.5),
    )
    .await;
    let update = next_of(&mut ws, "edge_node_update").await;
    assert_eq!(update["data"]["status"], "active", "{update}");
    assert_eq!(node_json(&app, "cam-10").await["cpu_usage"], 12.5);
    eventually(Duration::from_secs(5), "offline after silence", || async {
        node_json(&app, "cam-10").await["status"] == "offline"
    })
    .await;

    // One message twice (as a QoS 1 redelivery would bring it): stored once, pushed once,
    // and the node is back.
    let message = detections("cam-10", 2, 3);
    node.publish_acked("edge-qi/detection/cam-10", message.clone())
        .await;
    node.publish_acked("edge-qi/detection/cam-10", message)
        .await;
    let pushed = next_of(&mut ws, "detection_result").await;
    assert_eq!(pushed["data"]["detections"].as_array().unwrap().len(), 3);
    eventually(WAIT, "three detections stored", || async {
        stored_detections(&app.server.store, "cam-10").await.len() == 3
    })
    .await;
    eventually(WAIT, "active again", || async {
        node_json(&app, "cam-10").await["status"] == "active"
    })
    .await;
    while let Some(v) = try_next_json(&mut ws, Duration::from_millis(500)).await {
        assert_ne!(v["type"], "detection_result", "pushed twice: {v}");
    }
    assert_eq!(
        stored_detections(&app.server.store, "cam-10").await.len(),
        3
    );

    let reasons = [
        "malformed_json",
        "node_mismatch",
        "oversize",
        "wrong_type",
        "time_out_of_range",
    ];
    let series =
        |reason: &str| format!("urbanstream_mqtt_messages_rejected_total{{reason=\"{reason}\"}}");
    let mut before = Vec::new();
    for reason in reasons {
        before.push(app.metric(&series(reason)).await);
    }
    let hb = "edge-qi/nodes/cam-10/heartbeat";
    node.publish_acked(hb, "{not json").await;
    node.publish_acked(hb, heartbeat("cam-11", 3, "active", 1.0))
        .await;
    node.publish_acked(hb, r#"{"cpu_usage": "high", "memory_usage": 1}"#)
        .await;
    node.publish_acked(hb, vec![b' '; 3000]).await;
    let future = json!({"timestamp": "2099-01-01T00:00:00Z", "cpu_usage": 1, "memory_usage": 1});
    node.publish_acked(hb, future.to_string()).await;
    eventually(WAIT, "five dead letters", || async {
        let (_, b) = app.get("/api/v1/mqtt/dead-letters").await;
        let v: Value = serde_json::from_str(&b).unwrap_or_default();
        v["items"].as_array().is_some_and(|a| a.len() == 5)
    })
    .await;
    // (The counters are the test process's: other tests may add to them meanwhile.)
    for (reason, before) in reasons.into_iter().zip(before) {
        let now = app.metric(&series(reason)).await;
        assert!(now >= before + 1.0, "{reason}: {before} → {now}");
    }
    // Still served after the poison; then the connection drops and the broker sends the will.
    node.publish_acked(hb, heartbeat("cam-10", 4, "idle", 5.0))
        .await;
    eventually(WAIT, "idle", || async {
        node_json(&app, "cam-10").await["status"] == "idle"
    })
    .await;
    node.vanish();
    eventually(WAIT, "offline by its last will", || async {
        node_json(&app, "cam-10").await["status"] == "offline"
    })
    .await;
    drop(broker);
    let _ = std::fs::remove_dir_all(dir);
}

#[actix_rt::test]
async fn system_metrics_consensus_rounds_and_the_log_over_rest_and_websocket() {
    let app = dev_app(|s| s.edge.metrics_every = Duration::from_millis(200)).await;
    let mut ws = ws_connect(&app, &["system", "logs", "node:cam-8"]).await;
    let addr = app.server.mqtt_addr.unwrap();
    let mut node = MqttNode::connect(addr, "cam-8", NodeOptions::default())
        .await
        .unwrap();
    node.publish_acked(
        "edge-qi/nodes/cam-8/heartbeat",
        heartbeat("cam-8", 1, "active", 20.0),
    )
    .await;
    let update = next_of(&mut ws, "edge_node_update").await;
    assert_eq!(update["topic"], "node:cam-8");
    assert_eq!(update["data"]["status"], "active");
    let log = next_of(&mut ws, "system_log").await;
    assert_eq!(log["data"]["source"], "node:cam-8", "{log}");
    let metrics = json!({"node_id": "cam-8", "latency_ms": 21.5, "bandwidth_saved": 1000.0,
                         "energy_saved": 2.5, "boot": 1, "seq": 2});
    node.publish_acked("edge-qi/metrics/cam-8", metrics.to_string())
        .await;
    node.publish_acked("edge-qi/detection/cam-8", detections("cam-8", 3, 4))
        .await;
    // A round whose reported result is not what its votes give is flagged.
    let round = json!({"node_id": "cam-8", "round_number": 7, "boot": 1, "seq": 4,
        "votes": {"a": "bus", "b": "bus", "c": "car"}, "result": "car", "participants": 3,
        "duration_ms": 35, "success": true});
    node.publish_acked("edge-qi/consensus/cam-8", round.to_string())
        .await;
    let (_, b) = app.get("/api/v1/consensus/rounds?node=cam-8").await;
    let rounds: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(rounds["items"][0]["round_number"], 7, "{rounds}");
    assert_eq!(rounds["items"][0]["computed_result"], "bus");
    assert_eq!(rounds["items"][0]["agrees"], false);

    loop {
        let m = next_of(&mut ws, "system_metrics").await;
        if m["data"]["total_detections"] == 4 {
            assert_eq!(m["data"]["active_nodes"], 1, "{m}");
            assert_eq!(m["data"]["total_nodes"], 1);
            assert_eq!(m["data"]["average_latency"], 21.5);
            assert_eq!(m["data"]["bandwidth_saved"], 1000.0);
            break;
        }
    }
    let (_, b) = app.get("/api/v1/system/status").await;
    let status: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(status["total_detections"], 4, "{status}");
    let (s, b) = app.get("/api/v1/system/health").await;
    assert_eq!(s, 200, "{b}");
    let health: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(health["mqtt"]["broker"], "embedded");
    assert_eq!(health["database"]["status"], "ok");
    let (_, b) = app.get("/api/v1/system/nodes/summary").await;
    let summary: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(summary["by_status"]["active"], 1, "{summary}");
    eventually(WAIT, "the consensus disagreement in the log", || async {
        let (_, b) = app.get("/api/v1/system/logs?level=warning").await;
        b.contains("round 7")
    })
    .await;
    // Viewers see nodes but not detections.
    let viewer = app.user_token("watcher", "VIEWER").await;
    let (s, _) = app
        .request_as(Some(&viewer), "GET", "/api/v1/nodes", None)
        .await;
    assert_eq!(s, 200);
    let (s, _) = app
        .request_as(Some(&viewer), "GET", "/api/v1/detections", None)
        .await;
    assert_eq!(s, 403);
}

#[actix_rt::test]
async fn detections_by_two_nodes_at_once_are_one_corroborated_event() {
    let app = dev_app(|s| {
        s.edge.corroboration_nodes = 2;
        s.edge.corroboration_window = Duration::from_secs(5);
    })
    .await;
    let mut ws = ws_connect(&app, &["detections"]).await;
    let addr = app.server.mqtt_addr.unwrap();
    let mut a = MqttNode::connect(addr, "gate-a", NodeOptions::default())
        .await
        .unwrap();
    let mut b = MqttNode::connect(addr, "gate-b", NodeOptions::default())
        .await
        .unwrap();
    a.publish_acked("edge-qi/detection/gate-a", detections("gate-a", 1, 1))
        .await;
    b.publish_acked("edge-qi/detection/gate-b", detections("gate-b", 1, 1))
        .await;
    let e = next_of(&mut ws, "corroborated_detection").await;
    assert_eq!(e["data"]["object_type"], "person", "{e}");
    assert_eq!(e["data"]["nodes"], json!(["gate-a", "gate-b"]));
}

#[actix_rt::test]
async fn an_unknown_node_with_a_valid_key_is_quarantined_until_admitted() {
    let app = TestApp::start(settings(|s| {
        s.edge.register_unknown = false;
        s.edge.authenticate = true;
        s.edge.unknown_nodes = urbanstream::config::UnknownNodes::Quarantine;
    }))
    .await;
    let addr = app.server.mqtt_addr.unwrap();
    let key = app
        .created(
            "/api/v1/api-keys",
            json!({"name": "field-kit", "role": "OPERATOR"}),
        )
        .await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let creds = NodeOptions {
        credentials: Some(("cam-q".into(), key.clone())),
        ..NodeOptions::default()
    };
    let bad = NodeOptions {
        credentials: Some(("cam-q".into(), "usk_not_a_key".into())),
        ..NodeOptions::default()
    };
    assert!(
        MqttNode::connect(addr, "cam-q", bad).await.is_err(),
        "a bad key is refused"
    );
    let mut node = MqttNode::connect(addr, "cam-q", creds.clone())
        .await
        .unwrap();
    node.publish_acked("edge-qi/detection/cam-q", detections("cam-q", 1, 2))
        .await;
    assert!(stored_detections(&app.server.store, "cam-q")
        .await
        .is_empty());
    let n = node_json(&app, "cam-q").await;
    assert_eq!(n["quarantined"], true, "{n}");
    let (_, b) = app.get("/api/v1/mqtt/dead-letters").await;
    assert!(b.contains("quarantined"), "{b}");

    let (s, b) = app
        .request(
            "PATCH",
            "/api/v1/nodes/cam-q",
            Some(&json!({"quarantined": false})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    node.vanish();
    let mut node = MqttNode::connect(addr, "cam-q", creds).await.unwrap();
    node.publish_acked("edge-qi/detection/cam-q", detections("cam-q", 2, 2))
        .await;
    assert_eq!(stored_detections(&app.server.store, "cam-q").await.len(), 2);
}
