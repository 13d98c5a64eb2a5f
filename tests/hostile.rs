//! What an attacker or a careless integrator sends, against the server as shipped: each probe
//! gets a clear answer, is counted, and holds back nobody else's data. A new kind of device
//! adds its probes here.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a failed unwrap is a failed test.

mod common;

use std::time::Duration;

use actix::Actor;
use common::{fresh_pg, imei, now_ms, record, settings, TestApp, WAIT};
use serde_json::Value;
use urbanstream_actors::db_batcher::{BatcherSettings, DbBatcherActor, Persist};
use urbanstream_actors::teltonika::codec::{encode_avl_frame, CodecId};
use urbanstream_schema::models::NewMqttDeadLetter;
use urbanstream_schema::store::{Batch, QuarantineFilter, Store};

const LAT: f64 = 44.7722;
const LON: f64 = 17.191;

/// Year 2200, in milliseconds.
const YEAR_2200_MS: u64 = 7_258_118_400_000;

async fn clock_probe(app: &TestApp) {
    let dev_id = imei(356_307_042_441_001);
    let mut dev = app.device().await;
    assert_eq!(dev.login(dev_id).await, 1);
    let t = now_ms();
    // A real record and one from 2200 in one frame: both answered (resending cannot fix the
    // second), the real one taken.
    let frame = encode_avl_frame(
        CodecId::Codec8,
        &[record(t, LAT, LON), record(YEAR_2200_MS, LAT, LON)],
    )
    .unwrap();
    dev.send(&frame).await;
    assert_eq!(dev.ack(WAIT).await, Some(2));
    for absurd in [u64::MAX, 1_000] {
        let frame = encode_avl_frame(CodecId::Codec8, &[record(absurd, LAT, LON)]).unwrap();
        dev.send(&frame).await;
        assert_eq!(dev.ack(WAIT).await, Some(1), "answered: {absurd}");
    }
    // The next real record moves the vehicle: nothing absurd became its latest.
    let frame = encode_avl_frame(CodecId::Codec8, &[record(t + 1_000, LAT + 0.001, LON)]).unwrap();
    dev.send(&frame).await;
    assert_eq!(dev.ack(WAIT).await, Some(1));
    let live = app.vehicle(dev_id).unwrap().live.unwrap();
    assert_eq!(live.device_time.timestamp_millis(), (t + 1_000) as i64);
    let (status, body) = app.get(&format!("/api/v1/devices/{dev_id}/latest")).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        !body.contains("+262142") && !body.contains("2200-"),
        "{body}"
    );

    // History holds the two real records only.
    let device = app
        .server
        .store
        .device(&dev_id.to_string())
        .await
        .unwrap()
        .unwrap();
    let rows = app
        .server
        .store
        .history(device.id, i64::MIN, i64::MAX, 10)
        .await
        .unwrap();
    let times: Vec<i64> = rows.iter().map(|r| r.device_time_ms).collect();
    assert_eq!(times.len(), 2, "{times:?}");
    assert!(times
        .iter()
        .all(|&ms| ms == t as i64 || ms == t as i64 + 1_000));

    // The three are in the quarantine as received, with why, for an operator.
    let (status, body) = app
        .get(&format!("/api/v1/quarantine?subject={dev_id}"))
        .await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{v}");
    for item in items {
        assert_eq!(item["reason"], "time_out_of_range");
        assert_eq!(item["source"], "tracker");
        let record: Value = serde_json::from_str(item["payload"].as_str().unwrap()).unwrap();
        assert!(record["gps"]["lat"].as_f64().is_some(), "{record}");
    }
    let stamps: Vec<u64> = items
        .iter()
        .map(|i| {
            let r: Value = serde_json::from_str(i["payload"].as_str().unwrap()).unwrap();
            r["timestamp_ms"].as_u64().unwrap()
        })
        .collect();
    assert!(
        stamps.contains(&YEAR_2200_MS) && stamps.contains(&u64::MAX) && stamps.contains(&1_000)
    );
    assert!(
        app.metric("urbanstream_teltonika_records_rejected_total{reason=\"time_out_of_range\"}")
            .await
            >= 3.0
    );
    // Only admins read it.
    let viewer = app.user_token("viewer1", "VIEWER").await;
    let (status, _) = app
        .request_as(Some(&viewer), "GET", "/api/v1/quarantine", None)
        .await;
    assert_eq!(status, 403);
}

#[actix_rt::test]
async fn a_tracker_clock_out_of_range_is_answered_quarantined_and_never_live() {
    let app = TestApp::start(settings(|_| {})).await;
    clock_probe(&app).await;
    app.server.stop().await;
}

/// The partitions of the telemetry tables in the database at `url`.
async fn partitions(url: &str) -> Vec<String> {
    use diesel::sql_types::Text;
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct Name {
        #[diesel(sql_type = Text)]
        name: String,
    }
    let mut c = AsyncPgConnection::establish(url).await.unwrap();
    let rows: Vec<Name> = diesel::sql_query(
        "SELECT c.relname::text AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname IN ('telemetry', 'can_data')",
    )
    .load(&mut c)
    .await
    .unwrap();
    rows.into_iter().map(|r| r.name).collect()
}

#[actix_rt::test]
async fn a_tracker_clock_out_of_range_opens_no_partition_on_postgres() {
    let (name, url) = fresh_pg().await;
    let app = TestApp::start(settings(|s| s.database.url = url.clone())).await;
    clock_probe(&app).await;
    // Daily partitions, named by their day: none outside this century.
    let far: Vec<String> = partitions(&url)
        .await
        .into_iter()
        .filter(|p| {
            let year = p
                .rsplit('_')
                .next()
                .and_then(|d| d.get(..4)?.parse::<u32>().ok());
            !year.is_some_and(|y| (2020..2100).contains(&y))
        })
        .collect();
    assert!(far.is_empty(), "partitions out of range: {far:?} ({name})");
    app.server.stop().await;
}

#[actix_rt::test]
async fn a_fix_off_the_globe_is_dropped_and_the_record_kept() {
    let app = TestApp::start(settings(|_| {})).await;
    let dev_id = imei(356_307_042_441_002);
    let mut dev = app.device().await;
    assert_eq!(dev.login(dev_id).await, 1);
    let t = now_ms();
    let frame = encode_avl_frame(CodecId::Codec8, &[record(t, LAT, LON)]).unwrap();
    dev.send(&frame).await;
    assert_eq!(dev.ack(WAIT).await, Some(1));
    let mut off = record(t + 1_000, LAT, LON);
    off.gps.latitude = 950_000_000; // 95°
    let frame = encode_avl_frame(CodecId::Codec8, &[off]).unwrap();
    dev.send(&frame).await;
    assert_eq!(dev.ack(WAIT).await, Some(1), "the record is taken");
    let live = app.vehicle(dev_id).unwrap().live.unwrap();
    assert_eq!(live.device_time.timestamp_millis(), (t + 1_000) as i64);
    assert!(!live.fix, "without its fix");
    let position = live.position.unwrap();
    assert!(
        (position.lat - LAT).abs() < 1e-6,
        "the last good position stays"
    );
    assert_eq!(
        live.values.bool(&urbanstream_actors::entity::Io::Ignition),
        Some(true),
        "the rest of the record stays"
    );
    assert!(
        app.metric("urbanstream_teltonika_fixes_dropped_total{reason=\"position_out_of_range\"}")
            .await
            >= 1.0
    );
    app.server.stop().await;
}

fn dead_letter(topic: &str) -> Batch {
    Batch {
        dead_letters: vec![NewMqttDeadLetter {
            received_ms: now_ms() as i64,
            topic: topic.into(),
            reason: "probe".into(),
            detail: String::new(),
            payload: b"{}".to_vec(),
        }],
        ..Batch::default()
    }
}

#[actix_rt::test]
async fn a_row_the_database_refuses_for_good_holds_back_no_one_else() {
    let (_name, url) = fresh_pg().await;
    let store = Store::open(&url, 2).await.unwrap();
    let batcher = DbBatcherActor::new(
        store.clone(),
        BatcherSettings {
            // Long enough for both callers' rows to share one batch.
            batch_interval: Duration::from_millis(200),
            min_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(200),
            ..BatcherSettings::default()
        },
    )
    .start();
    // PostgreSQL takes no NUL in a text value, however often it is asked.
    let bad = batcher.send(Persist(dead_letter("edge-qi/bad\0topic")));
    let good = batcher.send(Persist(dead_letter("edge-qi/good")));
    let good = tokio::time::timeout(WAIT, good).await;
    assert!(
        matches!(good, Ok(Ok(Ok(())))),
        "the other caller is answered: {good:?}"
    );
    let bad = tokio::time::timeout(WAIT, bad).await;
    assert!(
        matches!(bad, Ok(Ok(Ok(())))),
        "the refused rows are quarantined and their caller answered: {bad:?}"
    );
    let stored = store.mqtt_dead_letters(10).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].topic, "edge-qi/good");
    let kept = store
        .quarantined(QuarantineFilter {
            reason: Some("database_refused".into()),
            limit: 10,
            ..QuarantineFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].source, "database");
    assert!(
        kept[0].payload.contains("edge-qi/bad\\0topic"),
        "{}",
        kept[0].payload
    );
    assert!(!kept[0].detail.is_empty());
    // The batcher goes on taking rows.
    let after = batcher.send(Persist(dead_letter("edge-qi/after"))).await;
    assert!(matches!(after, Ok(Ok(()))));
}

#[actix_rt::test]
async fn oversize_bodies_get_413_with_the_limit_named() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::start(settings(|_| {})).await;
    let big = serde_json::json!({"registration": "x".repeat(100_000)});
    let (s, body) = app.request("POST", "/api/v1/vehicles", Some(&big)).await;
    assert_eq!(s, 413, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "payload_too_large");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("65536"),
        "{v}"
    );
    // The same without a length announced (chunked): refused once the limit is passed.
    let mut c = tokio::net::TcpStream::connect(app.server.http_addr)
        .await
        .unwrap();
    let head = format!(
        "POST /api/v1/vehicles HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        app.token.as_deref().unwrap()
    );
    c.write_all(head.as_bytes()).await.unwrap();
    let chunk = "x".repeat(8_192);
    let opening = "{\"registration\":\"";
    let _ = c
        .write_all(format!("{:x}\r\n{opening}\r\n", opening.len()).as_bytes())
        .await;
    for _ in 0..16 {
        if c.write_all(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes())
            .await
            .is_err()
        {
            break;
        }
    }
    let _ = c.write_all(b"0\r\n\r\n").await;
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(WAIT, c.read_to_end(&mut raw)).await;
    let raw = String::from_utf8_lossy(&raw);
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    assert!(
        app.metric("urbanstream_http_responses_total{class=\"4xx\"}")
            .await
            >= 2.0
    );
    // The server goes on answering.
    assert_eq!(app.get("/health").await.0, 200);
    app.server.stop().await;
}

#[test]
fn serve_prints_no_database_password() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_urbanstream"))
        .arg("serve")
        .env(
            "URBANSTREAM__DATABASE__URL",
            "postgres://app:Sup3rSecretPw@127.0.0.1:9/city",
        )
        .env("URBANSTREAM__HTTP__LISTEN", "127.0.0.1:0")
        .env("URBANSTREAM__TELTONIKA__LISTEN", "127.0.0.1:0")
        .env("URBANSTREAM__MQTT__LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the database is unreachable");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("Sup3rSecretPw"), "{text}");
    assert!(
        text.contains("postgres://app:***@127.0.0.1:9/city"),
        "{text}"
    );
}

#[actix_rt::test]
async fn health_and_channels_show_no_credentials() {
    let app = TestApp::start(settings(|s| {
        s.mqtt.url = Some("mqtt://node-7:MqttSecretPw@127.0.0.1:9".into());
        s.redis.url = Some("redis://:RedisSecretPw@127.0.0.1:9/0".into());
    }))
    .await;
    for path in ["/api/v1/system/health", "/ready", "/api/v1/system/status"] {
        let (_, body) = app.get(path).await;
        assert!(
            !body.contains("MqttSecretPw") && !body.contains("RedisSecretPw"),
            "{path}: {body}"
        );
    }
    let (_, body) = app.get("/api/v1/system/health").await;
    assert!(body.contains("mqtt://node-7:***@127.0.0.1:9"), "{body}");
    // A webhook's credentials are stored as given, shown masked, and kept when the masked
    // form is sent back.
    let target = "https://ops:HookSecretPw@hooks.example.org/alerts?token=HookToken&room=7";
    let created = app
        .created(
            "/api/v1/notifications/channels",
            serde_json::json!({"name": "ops", "kind": "webhook", "target": target}),
        )
        .await;
    let shown = created["target"].as_str().unwrap().to_owned();
    assert_eq!(
        shown,
        "https://ops:***@hooks.example.org/alerts?token=***&room=7"
    );
    let (_, list) = app.get("/api/v1/notifications/channels").await;
    assert!(
        !list.contains("HookSecretPw") && !list.contains("HookToken"),
        "{list}"
    );
    let id = created["id"].as_i64().unwrap();
    let (s, body) = app
        .request(
            "PUT",
            &format!("/api/v1/notifications/channels/{id}"),
            Some(&serde_json::json!({"name": "ops 2", "kind": "webhook", "target": shown})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let stored = app.server.store.channel(id).await.unwrap().unwrap();
    assert_eq!(stored.target, target, "the stored credentials are kept");
    app.server.stop().await;
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next JSON text frame whose `data` has `key` (other frames skipped).
async fn frame_with(ws: &mut Ws, key: &str) -> Value {
    use futures_util::StreamExt;
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame in time")
            .unwrap()
            .unwrap();
        if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["data"].get(key).is_some() || v.get(key).is_some() {
                return v;
            }
        }
    }
}

async fn ws_op(ws: &mut Ws, v: Value) {
    use futures_util::SinkExt;
    ws.send(tokio_tungstenite::tungstenite::Message::Text(
        v.to_string().into(),
    ))
    .await
    .unwrap();
}

#[actix_rt::test]
async fn topics_leave_the_hub_and_one_connection_holds_a_bounded_number() {
    let app = TestApp::start(settings(|s| s.ws.max_topics = 300)).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(app.ws_url())
        .await
        .unwrap();
    frame_with(&mut ws, "authenticated").await;
    let gauge = "urbanstream_hub_topics";
    // A client panning across a city: topics come and go, the hub keeps none it let go.
    for round in 0..8 {
        let names: Vec<String> = (0..250).map(|i| format!("node:pan-{round}-{i}")).collect();
        ws_op(
            &mut ws,
            serde_json::json!({"op": "subscribe", "topics": names}),
        )
        .await;
        let ok = frame_with(&mut ws, "subscribed").await;
        assert_eq!(ok["data"]["subscribed"].as_array().unwrap().len(), 250);
        let mut held = 0.0;
        for _ in 0..50 {
            held = app.metric(gauge).await;
            if held == 250.0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(held, 250.0, "round {round}");
        ws_op(
            &mut ws,
            serde_json::json!({"op": "unsubscribe", "topics": names}),
        )
        .await;
        frame_with(&mut ws, "unsubscribed").await;
        let mut left = -1.0;
        for _ in 0..50 {
            left = app.metric(gauge).await;
            if left == 0.0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            left, 0.0,
            "round {round}: topics nobody holds stay in the hub"
        );
    }
    // Past `ws.max_topics`: an error frame, and what was held is kept.
    let first: Vec<String> = (0..200).map(|i| format!("node:cap-{i}")).collect();
    ws_op(
        &mut ws,
        serde_json::json!({"op": "subscribe", "topics": first}),
    )
    .await;
    frame_with(&mut ws, "subscribed").await;
    let more: Vec<String> = (200..301).map(|i| format!("node:cap-{i}")).collect();
    ws_op(
        &mut ws,
        serde_json::json!({"op": "subscribe", "topics": more}),
    )
    .await;
    let refused = frame_with(&mut ws, "error").await;
    assert_eq!(refused["error"]["code"], "too_many_topics", "{refused}");
    // Asking again for topics already held costs nothing.
    let again: Vec<String> = (0..100).map(|i| format!("node:cap-{i}")).collect();
    ws_op(
        &mut ws,
        serde_json::json!({"op": "subscribe", "topics": again}),
    )
    .await;
    frame_with(&mut ws, "subscribed").await;
    assert!(
        app.metric("urbanstream_ws_messages_rejected_total{reason=\"too_many_topics\"}")
            .await
            >= 1.0
    );
    app.server.stop().await;
}

#[actix_rt::test]
async fn a_node_silent_since_a_restart_gets_its_node_offline_not_a_trackers_alert() {
    use common::mqtt::{MqttNode, NodeOptions};
    let db = common::fresh_sqlite_url();
    let edit = |s: &mut urbanstream::config::Settings| {
        s.database.url = db.clone();
        s.edge.register_unknown = true;
        s.edge.authenticate = false;
        s.rules.reload_every = Duration::from_millis(200);
    };
    let app = TestApp::start(settings(edit)).await;
    for (kind, params) in [
        ("NODE_OFFLINE", serde_json::json!({"after_s": 1})),
        ("DEVICE_OFFLINE", serde_json::json!({"after_s": 1})),
    ] {
        app.created(
            "/api/v1/alerts/rules",
            serde_json::json!({"name": kind, "kind": kind, "severity": "WARNING", "cooldown_s": 0, "params": params}),
        )
        .await;
    }
    let mut node = MqttNode::connect(
        app.server.mqtt_addr.unwrap(),
        "cam-r",
        NodeOptions::default(),
    )
    .await
    .unwrap();
    let beat = serde_json::json!({"node_id": "cam-r", "cpu_usage": 5.0, "memory_usage": 10.0,
        "status": "active", "boot": 1, "seq": 1});
    node.publish_acked("edge-qi/nodes/cam-r/heartbeat", beat.to_string())
        .await;
    node.vanish();
    app.server.stop().await;

    // The same database, a new process: the node never comes back.
    let app = TestApp::start(settings(edit)).await;
    let until = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (_, body) = app.get("/api/v1/alerts?open=true").await;
        let v: Value = serde_json::from_str(&body).unwrap();
        let items = v["items"].as_array().unwrap();
        let kinds: Vec<&str> = items.iter().filter_map(|a| a["kind"].as_str()).collect();
        assert!(
            !kinds.contains(&"DEVICE_OFFLINE"),
            "a tracker's rule on a node: {body}"
        );
        if kinds.contains(&"NODE_OFFLINE") {
            break;
        }
        assert!(std::time::Instant::now() < until, "no NODE_OFFLINE: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.server.stop().await;
}

/// A registered node's key, through the API.
async fn node_key(app: &TestApp, node: &str) -> String {
    let key = app
        .created(
            "/api/v1/api-keys",
            serde_json::json!({"name": node, "role": "OPERATOR"}),
        )
        .await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, b) = app
        .request_as(
            Some(&key),
            "POST",
            "/api/v1/nodes/register",
            Some(&serde_json::json!({"id": node, "name": node})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    key
}

/// The SUBACK of one subscription: whether each filter was granted.
async fn subscribe(node: &mut common::mqtt::MqttNode, filter: &str) -> bool {
    use common::mqtt::Seen;
    node.client
        .subscribe(filter, rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();
    loop {
        match node.next(WAIT).await {
            Some(Seen::Subscribed(granted)) => return granted[0],
            Some(_) => {}
            None => panic!("no SUBACK for {filter}"),
        }
    }
}

/// Messages on `node` within `wait`.
async fn messages(node: &mut common::mqtt::MqttNode, wait: Duration) -> Vec<String> {
    let mut topics = Vec::new();
    while let Some(seen) = node.next(wait).await {
        if let common::mqtt::Seen::Message(topic, _) = seen {
            topics.push(topic);
        }
    }
    topics
}

#[actix_rt::test]
async fn a_node_reads_and_writes_only_what_is_its_own_on_the_embedded_broker() {
    use common::mqtt::{MqttNode, NodeOptions};
    let app = TestApp::start(settings(|s| {
        s.edge.register_unknown = false;
        s.edge.authenticate = true;
    }))
    .await;
    let addr = app.server.mqtt_addr.unwrap();
    let (key_a, key_b) = (node_key(&app, "cam-a").await, node_key(&app, "cam-b").await);
    let creds = |node: &str, key: &str| NodeOptions {
        credentials: Some((node.into(), key.into())),
        ..NodeOptions::default()
    };
    let mut a = MqttNode::connect(addr, "cam-a", creds("cam-a", &key_a))
        .await
        .unwrap();
    let mut b = MqttNode::connect(addr, "cam-b", creds("cam-b", &key_b))
        .await
        .unwrap();
    // Everything, another node's data, and topics outside the prefix: refused.
    for filter in [
        "#",
        "edge-qi/#",
        "edge-qi/detection/+",
        "edge-qi/detection/cam-b",
        "edge-qi/nodes/cam-b/#",
        "edge-qi/+/cam-a",
        "other/#",
    ] {
        assert!(!subscribe(&mut a, filter).await, "{filter} granted");
    }
    // What is addressed to it: granted.
    assert!(subscribe(&mut a, "edge-qi/nodes/cam-a/#").await);
    assert!(subscribe(&mut a, "edge-qi/config/cam-a").await);
    // B's detections reach no one through A; A cannot speak for B, nor outside the prefix.
    let detection = serde_json::json!({"node_id": "cam-b", "detections": [{"object_type": "person",
        "confidence": 0.9, "bbox": {"x": 1, "y": 2, "width": 3, "height": 4}}]});
    b.publish_acked("edge-qi/detection/cam-b", detection.to_string())
        .await;
    // A's own publishes are not waited for here: waiting would take its incoming messages
    // for other events.
    for topic in ["edge-qi/nodes/cam-b/heartbeat", "other/topic"] {
        a.client
            .publish(topic, rumqttc::QoS::AtLeastOnce, false, b"{}".to_vec())
            .await
            .unwrap();
    }
    let got = messages(&mut a, Duration::from_millis(400)).await;
    assert!(got.is_empty(), "{got:?}");
    let (_, letters) = app.get("/api/v1/mqtt/dead-letters").await;
    assert!(
        letters.contains("other/topic") && letters.contains("edge-qi/nodes/cam-b/heartbeat"),
        "{letters}"
    );
    // A second connection with A's client id: only with A's credentials.
    assert!(
        MqttNode::connect(addr, "cam-a", creds("cam-b", &key_b))
            .await
            .is_err(),
        "another node's credentials take no client id"
    );
    assert!(
        app.metric("urbanstream_mqtt_connects_refused_total{reason=\"client_id_taken\"}")
            .await
            >= 1.0
    );
    let mut again = MqttNode::connect(addr, "cam-a", creds("cam-a", &key_a))
        .await
        .unwrap();
    assert!(subscribe(&mut again, "edge-qi/nodes/cam-a/#").await);
    assert!(
        app.metric("urbanstream_mqtt_messages_rejected_total{reason=\"subscribe_not_authorized\"}")
            .await
            >= 7.0
    );
    app.server.stop().await;
}

#[actix_rt::test]
async fn the_shipped_mosquitto_acl_keeps_each_node_to_its_own_topics() {
    use common::mqtt::{free_port, MqttNode, NodeOptions};
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("urbanstream-acl-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let passwd = dir.join("passwd");
    for (i, (user, password)) in [
        ("urbanstream", "svc-pw"),
        ("cam-a", "a-pw"),
        ("cam-b", "b-pw"),
    ]
    .iter()
    .enumerate()
    {
        let mut cmd = std::process::Command::new("mosquitto_passwd");
        if i == 0 {
            cmd.arg("-c");
        }
        let ok = cmd
            .arg("-b")
            .arg(&passwd)
            .arg(user)
            .arg(password)
            .status()
            .expect("mosquitto_passwd (the mosquitto package)");
        assert!(ok.success());
    }
    std::fs::set_permissions(&passwd, std::fs::Permissions::from_mode(0o644)).unwrap();
    let acl = concat!(env!("CARGO_MANIFEST_DIR"), "/docker/mosquitto/acl");
    let port = free_port();
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\nacl_file {acl}\n",
            passwd.display()
        ),
    )
    .unwrap();
    let bin = if std::path::Path::new("/usr/sbin/mosquitto").exists() {
        "/usr/sbin/mosquitto"
    } else {
        "mosquitto"
    };
    let mut broker = std::process::Command::new(bin)
        .arg("-c")
        .arg(&conf)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let until = std::time::Instant::now() + WAIT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < until, "mosquitto did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let as_user = |u: &str, p: &str| NodeOptions {
        credentials: Some((u.into(), p.into())),
        ..NodeOptions::default()
    };
    let mut service = MqttNode::connect(addr, "urbanstream-1", as_user("urbanstream", "svc-pw"))
        .await
        .unwrap();
    let mut a = MqttNode::connect(addr, "cam-a", as_user("cam-a", "a-pw"))
        .await
        .unwrap();
    let mut b = MqttNode::connect(addr, "cam-b", as_user("cam-b", "b-pw"))
        .await
        .unwrap();
    subscribe(&mut service, "edge-qi/#").await;
    subscribe(&mut a, "#").await;
    subscribe(&mut a, "edge-qi/detection/+").await;
    subscribe(&mut a, "edge-qi/nodes/cam-a/#").await;
    // Published without waiting here for the PUBACKs: a subscriber's own waits would take
    // its incoming messages for other events.
    let publish = |node: &common::mqtt::MqttNode, topic: &'static str| {
        let client = node.client.clone();
        async move {
            client
                .publish(topic, rumqttc::QoS::AtLeastOnce, false, b"{}".to_vec())
                .await
                .unwrap();
        }
    };
    b.publish_acked("edge-qi/detection/cam-b", b"{\"b\":1}".to_vec())
        .await;
    publish(&a, "edge-qi/detection/cam-b").await;
    publish(&a, "edge-qi/detection/cam-a").await;
    publish(&service, "edge-qi/nodes/cam-a/command").await;
    let seen_by_service = messages(&mut service, Duration::from_millis(500)).await;
    let seen_by_a = messages(&mut a, Duration::from_millis(300)).await;
    let _ = broker.kill();
    let _ = broker.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        seen_by_service.contains(&"edge-qi/detection/cam-b".to_string())
            && seen_by_service.contains(&"edge-qi/detection/cam-a".to_string()),
        "the service reads every node: {seen_by_service:?}"
    );
    assert_eq!(
        seen_by_service
            .iter()
            .filter(|t| *t == "edge-qi/detection/cam-b")
            .count(),
        1,
        "cam-a cannot publish for cam-b: {seen_by_service:?}"
    );
    assert_eq!(
        seen_by_a,
        ["edge-qi/nodes/cam-a/command"],
        "cam-a reads only what is addressed to it"
    );
}

/// Waits until `series` reads `want` (or returns what it read last).
async fn metric_settles(app: &TestApp, series: &str, want: f64) -> f64 {
    let mut seen = f64::NAN;
    for _ in 0..250 {
        seen = app.metric(series).await;
        if seen == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    seen
}

#[actix_rt::test]
async fn a_dashboard_that_stops_reading_is_cut_off_and_one_that_reads_keeps_everything() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let app = TestApp::start(settings(|s| {
        s.teltonika.register_unknown = true;
        s.ws.write_timeout = Duration::from_millis(500);
    }))
    .await;
    // The stalled client takes little into its socket, so what it does not read backs up
    // to the server quickly; it subscribes and then never reads again.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(app.server.http_addr).await.unwrap();
    let tcp = tokio_tungstenite::MaybeTlsStream::Plain(tcp);
    let (mut stalled, _) = tokio_tungstenite::client_async(app.ws_url(), tcp)
        .await
        .unwrap();
    frame_with(&mut stalled, "authenticated").await;
    ws_op(
        &mut stalled,
        serde_json::json!({"op": "subscribe", "topics": ["fleet"]}),
    )
    .await;
    let (mut reader, _) = tokio_tungstenite::connect_async(app.ws_url())
        .await
        .unwrap();
    frame_with(&mut reader, "authenticated").await;
    ws_op(
        &mut reader,
        serde_json::json!({"op": "subscribe", "topics": ["fleet"]}),
    )
    .await;
    frame_with(&mut reader, "subscribed").await;
    assert_eq!(
        metric_settles(&app, "urbanstream_hub_subscribers", 2.0).await,
        2.0
    );

    // The reader counts, per tracker, the newest record time pushed to it.
    let newest = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashMap::<
        String,
        i64,
    >::new()));
    let seen = newest.clone();
    let reading = tokio::spawn(async move {
        while let Some(Ok(msg)) = reader.next().await {
            let Message::Text(t) = msg else { continue };
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["type"] != "telemetry" {
                continue;
            }
            let at =
                chrono::DateTime::parse_from_rfc3339(v["data"]["device_time"].as_str().unwrap())
                    .unwrap()
                    .timestamp_millis();
            let imei = v["data"]["imei"].as_str().unwrap().to_owned();
            let mut m = seen.lock().unwrap();
            let e = m.entry(imei).or_insert(0);
            *e = (*e).max(at);
        }
    });

    // Trackers send until the stalled client's socket and the buffers before it are full
    // and one frame has waited past the limit (the kernel grows a socket's buffers to
    // megabytes on loopback, so how much that takes is not known in advance).
    let t0 = now_ms() - 3_600_000;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut senders = Vec::new();
    for d in 0..20u64 {
        let app_addr = app.server.teltonika_addr;
        let stop = stop.clone();
        senders.push(tokio::spawn(async move {
            let mut dev = common::RawDevice::connect(app_addr).await;
            assert_eq!(dev.login(imei(356_307_042_450_000 + d)).await, 1);
            let mut f = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && f < 600 {
                let recs: Vec<_> = (0..5)
                    .map(|r| record(t0 + (f * 5 + r) * 1_000, LAT + d as f64 * 1e-3, LON))
                    .collect();
                dev.send(&encode_avl_frame(CodecId::Codec8, &recs).unwrap())
                    .await;
                assert_eq!(dev.ack(WAIT).await, Some(5));
                f += 1;
            }
            (
                imei(356_307_042_450_000 + d).to_string(),
                t0 + (f * 5 - 1) * 1_000,
            )
        }));
    }
    let cut_off = "urbanstream_ws_clients_cut_off_total{reason=\"slow\"}";
    let mut cut = 0.0;
    for _ in 0..600 {
        cut = app.metric(cut_off).await;
        if cut >= 1.0 || senders.iter().all(|s| s.is_finished()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut last = std::collections::HashMap::new();
    for s in senders {
        let (imei, ts) = s.await.unwrap();
        last.insert(imei, ts as i64);
    }
    if cut < 1.0 {
        cut = metric_settles(&app, cut_off, 1.0).await;
    }
    // The stalled one was cut off and left the hub, while it still does not read.
    assert_eq!(cut, 1.0, "the client that stopped reading is cut off");
    assert_eq!(
        metric_settles(&app, "urbanstream_hub_subscribers", 1.0).await,
        1.0
    );
    assert_eq!(
        metric_settles(&app, "urbanstream_ws_sessions_active", 1.0).await,
        1.0
    );
    // The reader got every tracker's newest record.
    let mut complete = false;
    for _ in 0..100 {
        {
            let m = newest.lock().unwrap();
            complete = *m == last;
        }
        if complete {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        complete,
        "the reader kept up: {:?} against {last:?}",
        newest.lock().unwrap()
    );
    // Once it reads again, the stalled one finds its connection ended: what was in flight,
    // then a close (1013, try again later) or the end of the stream, and nothing new.
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stalled.next().await {
                None | Some(Err(_)) => return None,
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
            }
        }
    })
    .await
    .expect("the cut-off connection ends");
    if let Some(code) = ended {
        assert_eq!(code, 1013);
    }
    reading.abort();
    app.server.stop().await;
}
