//! The edges the device seam added, end to end: a model's 16-byte IO elements, DualCam camera
//! frames, the fleet plan's IO table into the CAN columns (both backends), full-replace
//! PUTs, idempotent commands, the HTTP latency histogram by route pattern, and Redis
//! presence keys and per-device alert channels.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a failed unwrap is a failed test.

mod common;

use std::time::Duration;

use common::{fix, fresh_pg, imei, now_ms, record, settings, TestApp, WAIT};
use futures_util::StreamExt;
use serde_json::{json, Value};
use urbanstream::config::Settings;
use urbanstream_actors::entity::Io;
use urbanstream_actors::registry::DeviceEntry;
use urbanstream_actors::teltonika::codec::{
    encode_avl_frame, encode_avl_frame_with, encode_command_frame, CodecId, CommandFrame,
    CommandKind, DecodeOptions, IoElement, IoValue,
};
use urbanstream_schema::Imei;

const REGISTERED: u64 = 356_307_042_441_000;

/// Settings with one more registered device of `model`.
fn with_device(id: Imei, model: &str, edit: impl FnOnce(&mut Settings)) -> Settings {
    let model = model.to_owned();
    settings(move |s| {
        s.teltonika.devices.push(DeviceEntry {
            imei: id,
            model,
            name: None,
        });
        edit(s);
    })
}

fn io(id: u16, value: IoValue) -> IoElement {
    IoElement { id, value }
}

#[actix_rt::test]
async fn a_model_with_16_byte_io_elements_is_read_its_way() {
    let wide = imei(356_307_042_442_001);
    let app = TestApp::start(with_device(wide, "FMB130-EXT", |_| {})).await;
    let t = now_ms();
    let v16: [u8; 16] = core::array::from_fn(|i| i as u8 * 17);
    let rec = fix(
        t,
        44.77,
        17.19,
        20,
        vec![io(239, IoValue::U8(1)), io(203, IoValue::B16(v16))],
    );
    let opts = DecodeOptions {
        sixteen_byte_io: true,
    };
    let frame = encode_avl_frame_with(CodecId::Codec8, &[rec], opts).unwrap();
    let mut dev = app.device().await;
    assert_eq!(dev.login(wide).await, 1);
    dev.send(&frame).await;
    assert_eq!(dev.ack(WAIT).await, Some(1), "read with its 16-byte group");
    let live = app.vehicle(wide).unwrap().live.unwrap();
    assert_eq!(live.values.bool(&Io::Ignition), Some(true));
    let device = app
        .server
        .store
        .device(&wide.to_string())
        .await
        .unwrap()
        .unwrap();
    let rows = app
        .server
        .store
        .history(device.id, 0, i64::MAX, 10)
        .await
        .unwrap();
    let stored: Value = serde_json::from_str(&rows[0].io).unwrap();
    assert_eq!(
        stored["raw"]["203"], "00112233445566778899AABBCCDDEEFF",
        "a 16-byte value kept raw, as hex: {stored}"
    );

    // The same bytes from a model without the option do not parse: no ACK.
    let mut plain = app.device().await;
    assert_eq!(plain.login(imei(REGISTERED)).await, 1);
    plain.send(&frame).await;
    assert_eq!(plain.ack(Duration::from_millis(500)).await, None);
    app.server.stop().await;
}

#[actix_rt::test]
async fn camera_data_frames_are_taken_not_refused() {
    let app = TestApp::start(settings(|_| {})).await;
    let series = "urbanstream_teltonika_camera_frames_total";
    let before = app.metric(series).await;
    let mut dev = app.device().await;
    assert_eq!(dev.login(imei(REGISTERED + 1)).await, 1);
    let part = CommandFrame {
        kind: CommandKind::Camera,
        payload: vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10],
    };
    dev.send(&encode_command_frame(&part).unwrap()).await;
    dev.send(&encode_avl_frame(CodecId::Codec8, &[record(now_ms(), 44.77, 17.19)]).unwrap())
        .await;
    assert_eq!(dev.ack(WAIT).await, Some(1), "the session goes on");
    assert_eq!(app.metric(series).await - before, 1.0);
    assert_eq!(
        app.metric("urbanstream_teltonika_frames_rejected_total{reason=\"unexpected_frame\"}")
            .await,
        0.0
    );
    app.server.stop().await;
}

/// The fleet plan's table: CAN fuel 0.4 %/bit, RPM 0.125/bit, coolant °C + 40, brake and
/// per-door flags, the odometer in km.
async fn city_profile_fills_the_can_columns(db: Option<String>) {
    let bus = imei(356_307_042_442_002);
    let app = TestApp::start(with_device(bus, "FMC125-CITY", |s| {
        if let Some(url) = db {
            s.database.url = url;
        }
    }))
    .await;
    let rec = fix(
        now_ms(),
        44.77,
        17.19,
        30,
        vec![
            io(239, IoValue::U8(1)),
            io(269, IoValue::U8(200)),
            io(274, IoValue::U8(130)),
            io(281, IoValue::U8(1)),
            io(284, IoValue::U8(1)),
            io(272, IoValue::U16(12_000)),
            io(277, IoValue::U32(123_456)),
        ],
    );
    let mut dev = app.device().await;
    assert_eq!(dev.login(bus).await, 1);
    dev.send(&encode_avl_frame(CodecId::Codec8Ext, &[rec]).unwrap())
        .await;
    assert_eq!(dev.ack(WAIT).await, Some(1));
    let device = app
        .server
        .store
        .device(&bus.to_string())
        .await
        .unwrap()
        .unwrap();
    let can = app
        .server
        .store
        .can_data(device.id, 0, i64::MAX, 10)
        .await
        .unwrap();
    assert_eq!(can.len(), 1);
    let c = &can[0];
    assert_eq!(c.fuel_level_pct, Some(80.0));
    assert_eq!(c.coolant_temp_c, Some(90.0));
    assert_eq!(c.engine_rpm, Some(1500));
    assert_eq!(c.odometer_m, Some(123_456.0));
    assert_eq!(
        (c.brake_active, c.door1_open, c.door2_open),
        (Some(true), None, Some(true))
    );
    app.server.stop().await;
}

#[actix_rt::test]
async fn city_profile_fills_the_can_columns_sqlite() {
    city_profile_fills_the_can_columns(None).await;
}

#[actix_rt::test]
async fn city_profile_fills_the_can_columns_postgres() {
    let (_, url) = fresh_pg().await;
    city_profile_fills_the_can_columns(Some(url)).await;
}

#[actix_rt::test]
async fn put_replaces_devices_and_vehicles_whole() {
    let app = TestApp::start(settings(|_| {})).await;
    let id = imei(REGISTERED + 2);
    let path = format!("/api/v1/devices/{id}");
    let (s, b) = app
        .request(
            "PATCH",
            &path,
            Some(&json!({"name": "Bus 7", "firmware": "03.27"})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = app
        .request("PUT", &path, Some(&json!({"model": "FMC125-CITY"})))
        .await;
    assert_eq!(s, 200, "{b}");
    let d: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(d["model"], "FMC125-CITY");
    assert_eq!(
        (d["name"].clone(), d["firmware"].clone()),
        (Value::Null, Value::Null)
    );
    let (s, _) = app.request("PUT", &path, Some(&json!({"name": "x"}))).await;
    assert_eq!(s, 400, "the model is required");
    let (s, _) = app
        .request("PUT", &path, Some(&json!({"model": "  "})))
        .await;
    assert_eq!(s, 400);
    let (s, _) = app
        .request(
            "PUT",
            "/api/v1/devices/356307042449999",
            Some(&json!({"model": "FMC125"})),
        )
        .await;
    assert_eq!(s, 404);

    let v = app
        .created(
            "/api/v1/vehicles",
            json!({"registration": "BL-100", "make": "MAN", "year": 2019, "vehicle_type": "van"}),
        )
        .await;
    let vpath = format!("/api/v1/vehicles/{}", v["id"]);
    let (s, b) = app
        .request("PUT", &vpath, Some(&json!({"registration": "BL-101"})))
        .await;
    assert_eq!(s, 200, "{b}");
    let v: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["registration"], "BL-101");
    assert_eq!(
        (v["make"].clone(), v["year"].clone()),
        (Value::Null, Value::Null)
    );
    assert_eq!(v["vehicle_type"], "bus", "replaced by its default");
    let (s, _) = app
        .request(
            "PUT",
            "/api/v1/vehicles/999999",
            Some(&json!({"registration": "BL-9"})),
        )
        .await;
    assert_eq!(s, 404);
    app.server.stop().await;
}

#[actix_rt::test]
async fn a_command_created_twice_with_one_idempotency_key_is_one_command() {
    let app = TestApp::start(settings(|_| {})).await;
    let id = imei(REGISTERED + 3);
    let path = format!("/api/v1/devices/{id}/commands");
    let body = json!({"command": "getinfo"});
    let send = |key: &'static str| {
        let (app, path, body) = (&app, path.clone(), body.clone());
        async move {
            let (s, head, b) = app
                .request_with(
                    app.token.as_deref(),
                    "POST",
                    &path,
                    Some(&body),
                    &[("Idempotency-Key", key)],
                )
                .await;
            (s, head, serde_json::from_str::<Value>(&b).unwrap())
        }
    };
    let (s, _, first) = send("retry-1").await;
    assert_eq!(s, 202, "{first}");
    let (s, head, again) = send("retry-1").await;
    assert_eq!(s, 200, "{again}");
    assert!(head.contains("idempotent-replayed: true"), "{head}");
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["idempotency_key"], "retry-1");
    let (s, _, other) = send("retry-2").await;
    assert_eq!(s, 202);
    assert_ne!(other["id"], first["id"]);
    let long = "k".repeat(256);
    let (s, _, _) = app
        .request_with(
            app.token.as_deref(),
            "POST",
            &path,
            Some(&body),
            &[("Idempotency-Key", &long)],
        )
        .await;
    assert_eq!(s, 400);
    let (_, list) = app.get(&path).await;
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 2, "{list}");
    app.server.stop().await;
}

#[actix_rt::test]
async fn request_latency_is_a_histogram_by_route_pattern() {
    let app = TestApp::start(settings(|_| {})).await;
    for n in 0..3 {
        let (s, _) = app
            .get(&format!("/api/v1/devices/{}", REGISTERED + n))
            .await;
        assert_eq!(s, 200);
    }
    let (s, _) = app.get("/nowhere/356307042441000").await;
    assert_eq!(s, 404);
    let (_, body) = app.get("/metrics").await;
    let count = |route: &str| -> f64 {
        body.lines()
            .filter(|l| l.starts_with("urbanstream_http_request_duration_seconds_count"))
            .filter(|l| l.contains(&format!("route=\"{route}\"")))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    assert!(count("/api/v1/devices/{imei}") >= 3.0, "{body}");
    assert!(count("unmatched") >= 1.0);
    assert!(
        !body.contains("route=\"/nowhere"),
        "labels come from the route table, not the path"
    );
    assert!(body.contains("urbanstream_http_request_duration_seconds_bucket{"));
    app.server.stop().await;
}

#[actix_rt::test]
async fn redis_has_each_device_status_and_its_alert_channel() {
    let (_, db) = fresh_pg().await;
    let prefix = format!("test:seam:{}:{}:", std::process::id(), now_ms());
    let app = TestApp::start(settings(|s| {
        s.database.url = db;
        s.redis.url = Some("redis://127.0.0.1:6379".into());
        s.redis.prefix = prefix.clone();
        s.vehicle.offline_after = Duration::from_millis(600);
    }))
    .await;
    let id = imei(REGISTERED + 4);
    let client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub
        .subscribe(format!("{prefix}alerts:{id}"))
        .await
        .unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    app.created(
        "/api/v1/alerts/rules",
        json!({"name": "Speeding", "kind": "OVERSPEED", "severity": "WARNING", "cooldown_s": 0,
            "params": {"limit_kmh": 50, "min_duration_s": 0}}),
    )
    .await;
    let mut dev = app.device().await;
    assert_eq!(dev.login(id).await, 1);
    let t = now_ms();
    let frame = encode_avl_frame(CodecId::Codec8Ext, &[fix(t, 44.77, 17.19, 80, vec![])]).unwrap();
    dev.send(&frame).await;
    assert_eq!(dev.ack(WAIT).await, Some(1));

    let mut messages = pubsub.on_message();
    let msg = tokio::time::timeout(WAIT, messages.next())
        .await
        .expect("an alert on the device's channel")
        .unwrap();
    let v: Value = serde_json::from_slice(msg.get_payload_bytes()).unwrap();
    assert_eq!(v["imei"], id.to_string());
    assert_eq!(v["data"]["action"], "raised");
    assert_eq!(v["data"]["alert"]["kind"], "OVERSPEED");

    let get = |key: String| {
        let mut redis = redis.clone();
        async move {
            redis::cmd("GET")
                .arg(key)
                .query_async::<Option<String>>(&mut redis)
                .await
                .unwrap()
        }
    };
    let status = format!("{prefix}device:{id}:status");
    assert_eq!(get(status.clone()).await.as_deref(), Some("online"));
    let seen = get(format!("{prefix}device:{id}:last_seen")).await.unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(&seen).is_ok(),
        "{seen}"
    );
    // Silent past `vehicle.offline_after`: offline.
    let mut offline = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if get(status.clone()).await.as_deref() == Some("offline") {
            offline = true;
            break;
        }
    }
    assert!(offline, "the status follows the device");
    let _: () = redis::cmd("DEL")
        .arg(&status)
        .query_async(&mut redis)
        .await
        .unwrap();
    app.server.stop().await;
}
