//! The live path and the REST API: devices → server → a real WebSocket client, and the same
//! records over REST.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a failed unwrap is a failed test.

mod common;

use std::time::Duration;

use common::{imei, now_ms, record, settings, TestApp, WAIT};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use urbanstream_actors::teltonika::codec::{encode_avl_frame, AvlRecord, CodecId, IoValue};

const REGISTERED: u64 = 356_307_042_441_000;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws_connect(app: &TestApp) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(app.ws_url())
        .await
        .unwrap();
    let hello = next_json(&mut ws).await;
    assert_eq!(hello["data"]["authenticated"], "admin", "{hello}");
    ws
}

/// The next JSON text frame (pings and pongs skipped).
async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame in time")
            .unwrap()
            .unwrap();
        if let Message::Text(t) = msg {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

#[actix_rt::test]
async fn websocket_clients_receive_each_update_and_latest_state_first() {
    let app = TestApp::start(settings(|_| {})).await;
    let id = imei(REGISTERED);
    let mut dev = app.device().await;
    assert_eq!(dev.login(id).await, 1);
    let t0 = now_ms();
    dev.send(&encode_avl_frame(CodecId::Codec8Ext, &[record(t0, 44.7700, 17.191)]).unwrap())
        .await;
    assert_eq!(dev.ack(WAIT).await, Some(1));

    let mut fleet = ws_connect(&app).await;
    send(&mut fleet, json!({"op": "subscribe", "topics": ["fleet"]})).await;
    assert_eq!(
        next_json(&mut fleet).await["data"]["subscribed"],
        json!(["fleet"])
    );

    let mut one = ws_connect(&app).await;
    let topic = format!("device:{id}");
    send(&mut one, json!({"op": "subscribe", "topics": [topic]})).await;
    assert_eq!(next_json(&mut one).await["type"], "status");
    let latest = next_json(&mut one).await;
    assert_eq!(latest["type"], "status");
    assert_eq!(latest["topic"], topic);
    assert!(
        (latest["data"]["live"]["position"]["lat"].as_f64().unwrap() - 44.77).abs() < 1e-6,
        "{latest}"
    );

    for i in 1..=5u64 {
        let t = t0 + i * 1000;
        dev.send(
            &encode_avl_frame(
                CodecId::Codec8Ext,
                &[record(t, 44.77 + i as f64 * 0.001, 17.191)],
            )
            .unwrap(),
        )
        .await;
        assert_eq!(dev.ack(WAIT).await, Some(1));
        for (ws, topic) in [
            (&mut fleet, "fleet".to_string()),
            (&mut one, format!("device:{id}")),
        ] {
            let m = next_json(ws).await;
            assert_eq!(m["type"], "telemetry", "{m}");
            assert_eq!(m["topic"], topic);
            assert_eq!(m["data"]["imei"], id.to_string());
            let device_time =
                chrono::DateTime::parse_from_rfc3339(m["data"]["device_time"].as_str().unwrap())
                    .unwrap();
            assert_eq!(device_time.timestamp_millis() as u64, t);
            assert_eq!(m["data"]["values"]["ignition"], true);
            assert_eq!(m["data"]["speed_kmh"], 33);
        }
    }
    // A late record (older than the latest) is stored but not pushed as the live position.
    dev.send(&encode_avl_frame(CodecId::Codec8Ext, &[record(t0 - 60_000, 44.0, 17.191)]).unwrap())
        .await;
    assert_eq!(dev.ack(WAIT).await, Some(1));
    dev.send(&encode_avl_frame(CodecId::Codec8Ext, &[record(t0 + 10_000, 44.8, 17.191)]).unwrap())
        .await;
    assert_eq!(dev.ack(WAIT).await, Some(1));
    let m = next_json(&mut fleet).await;
    assert!(
        (m["data"]["lat"].as_f64().unwrap() - 44.8).abs() < 1e-6,
        "the next push is the newer record: {m}"
    );

    // Unsubscribed: nothing more for that topic.
    send(
        &mut fleet,
        json!({"op": "unsubscribe", "topics": ["fleet"]}),
    )
    .await;
    assert_eq!(
        next_json(&mut fleet).await["data"]["unsubscribed"],
        json!(["fleet"])
    );
    dev.send(&encode_avl_frame(CodecId::Codec8Ext, &[record(t0 + 11_000, 44.8, 17.191)]).unwrap())
        .await;
    assert_eq!(dev.ack(WAIT).await, Some(1));
    assert!(
        tokio::time::timeout(Duration::from_millis(300), fleet.next())
            .await
            .is_err()
    );
    app.server.stop().await;
}

#[actix_rt::test]
async fn bad_websocket_messages_get_an_error_frame_not_a_disconnect() {
    let app = TestApp::start(settings(|_| {})).await;
    let before = app
        .metric_sum("urbanstream_ws_messages_rejected_total")
        .await;
    let mut ws = ws_connect(&app).await;
    ws.send(Message::Text("{not json".into())).await.unwrap();
    let e = next_json(&mut ws).await;
    assert_eq!(e["type"], "error");
    assert_eq!(e["error"]["code"], "bad_request");
    send(
        &mut ws,
        json!({"op": "subscribe", "topics": ["trains", "device:12"]}),
    )
    .await;
    assert_eq!(next_json(&mut ws).await["error"]["code"], "bad_topic");
    assert_eq!(next_json(&mut ws).await["error"]["code"], "bad_topic");
    send(&mut ws, json!({"op": "launch"})).await;
    assert_eq!(next_json(&mut ws).await["error"]["code"], "bad_request");
    // Still open and working.
    send(&mut ws, json!({"op": "subscribe", "topics": ["events"]})).await;
    assert_eq!(
        next_json(&mut ws).await["data"]["subscribed"],
        json!(["events"])
    );
    assert!(
        app.metric_sum("urbanstream_ws_messages_rejected_total")
            .await
            >= before + 4.0
    );
    app.server.stop().await;
}

#[actix_rt::test]
async fn rest_devices_latest_and_history() {
    let app = TestApp::start(settings(|_| {})).await;
    let id = imei(REGISTERED + 1);
    let mut dev = app.device().await;
    assert_eq!(dev.login(id).await, 1);
    let t0 = now_ms() - 10_000;
    let recs: Vec<AvlRecord> = (0..5)
        .map(|i| record(t0 + i * 1000, 44.77, 17.191))
        .collect();
    dev.send(&encode_avl_frame(CodecId::Codec8Ext, &recs).unwrap())
        .await;
    assert_eq!(dev.ack(WAIT).await, Some(5));

    let (status, body) = app.get("/api/v1/devices?limit=2").await;
    assert_eq!(status, 200, "{body}");
    let page: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_i64().unwrap();
    let (_, body) = app
        .get(&format!("/api/v1/devices?limit=100&cursor={cursor}"))
        .await;
    let rest: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        rest["items"].as_array().unwrap().len(),
        3,
        "5 configured devices in all"
    );
    assert_eq!(rest["next_cursor"], Value::Null);

    let (status, body) = app.get(&format!("/api/v1/devices/{id}/latest")).await;
    assert_eq!(status, 200, "{body}");
    let latest: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(latest["records_total"], 5);
    // The next frame is what the next read shows (the published snapshot follows every update).
    let next = record(t0 + 6_000, 44.78, 17.2);
    dev.send(&encode_avl_frame(CodecId::Codec8Ext, &[next]).unwrap())
        .await;
    assert_eq!(dev.ack(WAIT).await, Some(1));
    let (_, body) = app.get(&format!("/api/v1/devices/{id}/latest")).await;
    let latest: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(latest["records_total"], 6);
    assert!(
        (latest["live"]["position"]["lat"].as_f64().unwrap() - 44.78).abs() < 1e-6,
        "{latest}"
    );

    let (status, body) = app.get(&format!("/api/v1/devices/{id}/history")).await;
    assert_eq!(status, 200, "{body}");
    let h: Value = serde_json::from_str(&body).unwrap();
    let items = h["items"].as_array().unwrap();
    assert_eq!(items.len(), 6);
    assert_eq!(items[0]["device_time_ms"].as_u64().unwrap(), t0);
    assert_eq!(items[0]["io"]["named"]["ignition"], true);
    assert_eq!(items[4]["io"]["raw"]["84"], 1234);

    for (path, code, status) in [
        ("/api/v1/devices/12345/latest", "bad_request", 400),
        (
            &*format!("/api/v1/devices/{}/latest", imei(REGISTERED + 4)),
            "not_found",
            404,
        ),
        ("/api/v1/devices?limit=0", "bad_request", 400),
        ("/api/v1/devices?colour=red", "bad_request", 400),
        (
            &*format!("/api/v1/devices/{id}/history?from=yesterday"),
            "bad_request",
            400,
        ),
        (
            &*format!(
                "/api/v1/devices/{id}/history?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z"
            ),
            "bad_request",
            400,
        ),
        ("/api/v1/nothing-here", "not_found", 404),
    ] {
        let (s, body) = app.get(path).await;
        assert_eq!(s, status, "{path}: {body}");
        let v: Value = serde_json::from_str(&body)
            .unwrap_or_else(|_| panic!("{path}: JSON error body, got {body}"));
        assert_eq!(v["error"]["code"], code, "{path}: {body}");
        assert!(v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    let (status, body) = app.get("/ready").await;
    assert_eq!(status, 200, "{body}");
    app.server.stop().await;
}

#[actix_rt::test]
async fn trips_and_offline_are_events_pushed_and_stored() {
    let app = TestApp::start(settings(|s| {
        s.vehicle.offline_after = Duration::from_millis(600)
    }))
    .await;
    let id = imei(REGISTERED + 2);
    let mut ws = ws_connect(&app).await;
    send(&mut ws, json!({"op": "subscribe", "topics": ["events"]})).await;
    assert_eq!(next_json(&mut ws).await["type"], "status");

    let mut dev = app.device().await;
    assert_eq!(dev.login(id).await, 1);
    let t0 = now_ms() - 60_000;
    let mut parked = record(t0, 44.77, 17.191);
    parked.gps.speed = 0;
    parked.io[0].value = IoValue::U8(0);
    let moving = record(t0 + 1000, 44.771, 17.191);
    dev.send(&encode_avl_frame(CodecId::Codec8Ext, &[parked, moving]).unwrap())
        .await;
    assert_eq!(dev.ack(WAIT).await, Some(2));
    let mut kinds = Vec::new();
    while kinds.len() < 6 {
        let m = match tokio::time::timeout(WAIT, next_json(&mut ws)).await {
            Ok(m) => m,
            Err(_) => panic!("only {kinds:?}"),
        };
        assert_eq!(m["type"], "event", "{m}");
        assert_eq!(m["data"]["imei"], id.to_string());
        kinds.push(m["data"]["event"]["kind"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        kinds,
        [
            "went_online",
            "motion_changed",
            "motion_changed",
            "trip_started",
            "trip_ended",
            "went_offline"
        ]
    );

    let device = app
        .server
        .store
        .devices()
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.imei == id.to_string())
        .unwrap();
    let mut stored = Vec::new();
    for _ in 0..50 {
        stored = app
            .server
            .store
            .events(device.id, 0, i64::MAX, 100)
            .await
            .unwrap();
        if stored.len() >= 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stored_kinds: Vec<&str> = stored.iter().map(|e| e.kind.as_str()).collect();
    assert!(
        stored_kinds.starts_with(&[
            "went_online",
            "motion_changed",
            "motion_changed",
            "trip_started"
        ]),
        "{stored_kinds:?}"
    );
    assert!(
        stored_kinds.contains(&"trip_ended") && stored_kinds.contains(&"went_offline"),
        "{stored_kinds:?}"
    );
    let (_, body) = app.get(&format!("/api/v1/devices/{id}/latest")).await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["motion"],
        "offline"
    );
    app.server.stop().await;
}

/// Waits until `n` nodes listen on the shared channel.
async fn wait_for_subscribers(
    redis: &mut redis::aio::MultiplexedConnection,
    channel: &str,
    n: i64,
) {
    for _ in 0..100 {
        let (_, count): (String, i64) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(channel)
            .query_async(redis)
            .await
            .unwrap();
        if count >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{n} nodes never subscribed to {channel}");
}

#[actix_rt::test]
async fn two_nodes_on_one_redis_show_the_same_live_picture_once() {
    let (_, db) = common::fresh_pg().await;
    let prefix = format!("test:{}:{}:", std::process::id(), now_ms());
    let node = || {
        let (db, prefix) = (db.clone(), prefix.clone());
        settings(move |s| {
            s.database.url = db;
            s.redis.url = Some("redis://127.0.0.1:6379".into());
            s.redis.prefix = prefix;
        })
    };
    let a = TestApp::start(node()).await;
    let b = TestApp::start(node()).await;
    let client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    wait_for_subscribers(&mut redis, &format!("{prefix}telemetry:all"), 2).await;

    let mut on_a = ws_connect(&a).await;
    let mut on_b = ws_connect(&b).await;
    for ws in [&mut on_a, &mut on_b] {
        send(ws, json!({"op": "subscribe", "topics": ["fleet"]})).await;
        assert_eq!(next_json(ws).await["type"], "status");
    }
    // The device is connected to node B only.
    let id = imei(REGISTERED + 3);
    let mut dev = b.device().await;
    assert_eq!(dev.login(id).await, 1);
    let t = now_ms();
    dev.send(&encode_avl_frame(CodecId::Codec8Ext, &[record(t, 44.7722, 17.191)]).unwrap())
        .await;
    assert_eq!(dev.ack(WAIT).await, Some(1));
    for ws in [&mut on_a, &mut on_b] {
        let m = next_json(ws).await;
        assert_eq!(m["type"], "telemetry");
        assert_eq!(m["data"]["imei"], id.to_string());
        // Exactly once: no second copy through Redis.
        let again = tokio::time::timeout(Duration::from_millis(400), ws.next()).await;
        assert!(again.is_err(), "a second delivery: {again:?}");
    }
    let latest: String = redis::cmd("GET")
        .arg(format!("{prefix}device:{id}:latest"))
        .query_async(&mut redis)
        .await
        .unwrap();
    let latest: Value = serde_json::from_str(&latest).unwrap();
    assert_eq!(latest["imei"], id.to_string());
    let ttl: i64 = redis::cmd("TTL")
        .arg(format!("{prefix}device:{id}:latest"))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!((3000..=3600).contains(&ttl), "{ttl}");
    let near: Vec<String> = redis::cmd("GEOSEARCH")
        .arg(format!("{prefix}devices:positions"))
        .arg("FROMLONLAT")
        .arg(17.191)
        .arg(44.7722)
        .arg("BYRADIUS")
        .arg(500)
        .arg("m")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(near, vec![id.to_string()]);
    let (status, body) = a.get("/ready").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["redis"], "ok");
    a.server.stop().await;
    b.server.stop().await;
}

#[actix_rt::test]
async fn with_redis_down_live_updates_stay_local() {
    // Nothing listens on port 1.
    let app = TestApp::start(settings(|s| {
        s.redis.url = Some("redis://127.0.0.1:1".into())
    }))
    .await;
    let mut ws = ws_connect(&app).await;
    send(&mut ws, json!({"op": "subscribe", "topics": ["fleet"]})).await;
    assert_eq!(next_json(&mut ws).await["type"], "status");
    let id = imei(REGISTERED + 4);
    let mut dev = app.device().await;
    assert_eq!(dev.login(id).await, 1);
    dev.send(&encode_avl_frame(CodecId::Codec8Ext, &[record(now_ms(), 44.77, 17.191)]).unwrap())
        .await;
    assert_eq!(
        dev.ack(WAIT).await,
        Some(1),
        "ingest does not depend on Redis"
    );
    assert_eq!(next_json(&mut ws).await["data"]["imei"], id.to_string());
    assert!(app.metric_sum("urbanstream_redis_errors_total").await >= 1.0);
    let (status, body) = app.get("/ready").await;
    assert_eq!(status, 503, "{body}");
    let ready: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["database"]["status"], "ok");
    assert_eq!(ready["redis"], "unavailable");
    app.server.stop().await;
}

#[actix_rt::test]
async fn vehicle_topics_follow_device_assignment() {
    let app = TestApp::start(settings(|_| {})).await;
    let id = imei(REGISTERED + 2);
    let (s, v) = app
        .request(
            "POST",
            "/api/v1/vehicles",
            Some(&json!({"registration": "BL-77"})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let vehicle = serde_json::from_str::<Value>(&v).unwrap()["id"]
        .as_i64()
        .unwrap();
    let mut dev = app.device().await;
    assert_eq!(dev.login(id).await, 1);
    let (s, _) = app
        .request(
            "POST",
            &format!("/api/v1/vehicles/{vehicle}/assign-device"),
            Some(&json!({"imei": id.to_string()})),
        )
        .await;
    assert_eq!(s, 200);
    let mut ws = ws_connect(&app).await;
    send(
        &mut ws,
        json!({"op": "subscribe", "topics": [format!("vehicle:{vehicle}")]}),
    )
    .await;
    assert_eq!(next_json(&mut ws).await["type"], "status");
    // The state of the trackers in the vehicle comes first.
    let first = next_json(&mut ws).await;
    assert_eq!(first["topic"], format!("vehicle:{vehicle}"));
    assert_eq!(first["data"][0]["imei"], id.to_string(), "{first}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    dev.send(&encode_avl_frame(CodecId::Codec8Ext, &[record(now_ms(), 44.77, 17.191)]).unwrap())
        .await;
    assert_eq!(dev.ack(WAIT).await, Some(1));
    let m = next_json(&mut ws).await;
    assert_eq!(m["topic"], format!("vehicle:{vehicle}"));
    assert_eq!(m["data"]["vehicle_id"], vehicle);
    assert_eq!(m["data"]["imei"], id.to_string());
    app.server.stop().await;
}
