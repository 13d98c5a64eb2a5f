//! Alerts end to end: rules created over REST, a bus driving through a school zone raises
//! exactly the expected alerts, pushed live on `alerts` and stored; acknowledging and
//! clearing over REST are pushed too. Offline devices, late records, rule validation.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a failed unwrap is a failed test.

mod common;

use std::time::Duration;

use common::{fresh_pg, imei, now_ms, settings, TestApp, WAIT};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use urbanstream_actors::teltonika::codec::{
    encode_avl_frame, AvlRecord, CodecId, IoElement, IoValue,
};

const LAT: f64 = 44.7722;
const LON: f64 = 17.191;

/// A bus `north_m` metres north of the school, ignition on, with speed and fuel level (%).
fn bus(ts: u64, north_m: f64, speed: u16, fuel_pct: u8) -> AvlRecord {
    let io = vec![
        IoElement {
            id: 239,
            value: IoValue::U8(1),
        },
        IoElement {
            id: 89,
            value: IoValue::U8(fuel_pct),
        },
    ];
    common::fix(ts, LAT + north_m / 111_195.0, LON, speed, io)
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn subscribe(app: &TestApp, topics: &[&str]) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(app.ws_url())
        .await
        .unwrap();
    ws.send(Message::Text(
        json!({"op": "subscribe", "topics": topics})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    // The subscription is confirmed before anything is published to it.
    let deadline = tokio::time::Instant::now() + WAIT;
    while let Ok(Some(Ok(m))) = tokio::time::timeout_at(deadline, ws.next()).await {
        if let Message::Text(t) = m {
            if t.contains("subscribed") {
                break;
            }
        }
    }
    ws
}

/// Alert messages (`data`) until `quiet` passes without one.
async fn alerts_seen(ws: &mut Ws, quiet: Duration) -> Vec<Value> {
    let mut seen = Vec::new();
    while let Ok(Some(Ok(m))) = tokio::time::timeout(quiet, ws.next()).await {
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["type"] == "alert" {
                seen.push(v["data"].clone());
            }
        }
    }
    seen
}

fn summary(seen: &[Value]) -> Vec<(String, String)> {
    seen.iter()
        .map(|d| {
            (
                d["action"].as_str().unwrap().to_owned(),
                d["alert"]["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn bus_run(app: TestApp) {
    let school = app.created("/api/v1/geofences",
        json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [LON, LAT]},
            "properties": {"name": "School", "radius_m": 150.0, "hysteresis_m": 20.0, "speed_limit_kmh": 30.0}}),
    )
    .await;
    let school_id = school["id"].as_i64().unwrap();
    let overspeed = app
        .created(
            "/api/v1/alerts/rules",
            json!({"name": "Speeding", "kind": "OVERSPEED", "severity": "CRITICAL", "cooldown_s": 0,
            "params": {"limit_kmh": 60, "min_duration_s": 10}}),
        )
        .await;
    assert_eq!(
        overspeed["params"]["use_geofence_limits"], true,
        "defaults are filled in"
    );
    app.created(
        "/api/v1/alerts/rules",
        json!({"name": "School zone", "kind": "GEOFENCE_ENTER", "severity": "INFO",
            "params": {"geofence_ids": [school_id]}}),
    )
    .await;
    app.created(
        "/api/v1/alerts/rules",
        json!({"name": "Fuel", "kind": "LOW_FUEL"}),
    )
    .await;
    app.created(
        "/api/v1/alerts/rules",
        json!({"name": "Braking", "kind": "HARSH_BRAKING"}),
    )
    .await;
    // A rule for another vehicle only: silent here.
    app.created("/api/v1/alerts/rules",
        json!({"name": "Idle of 99", "kind": "OVERSPEED", "vehicle_ids": [99], "params": {"limit_kmh": 10, "min_duration_s": 0}}),
    )
    .await;

    let mut ws = subscribe(&app, &["alerts"]).await;
    let id = imei(356_307_042_441_001);
    let mut dev = app.device().await;
    assert_eq!(dev.login(id).await, 1);
    let t0 = now_ms() - 600_000;
    // (seconds, metres north of the school, km/h, fuel %)
    let drive: [(u64, f64, u16, u8); 12] = [
        (0, -600.0, 40, 40),
        (5, -400.0, 40, 40),
        (10, -200.0, 40, 40),
        (15, -100.0, 45, 40), // in the school zone (limit 30): entered, over its limit
        (20, 0.0, 45, 40),
        (25, 100.0, 45, 40), // 10 s over the limit: OVERSPEED
        (30, 250.0, 45, 40), // out of the zone, under 60: both clear
        (35, 400.0, 80, 39),
        (40, 600.0, 80, 39),
        (45, 800.0, 80, 39), // 10 s over 60: OVERSPEED again (no cooldown)
        (46, 815.0, 60, 39), // -20 km/h in 1 s: harsh braking; at 60 the overspeed clears
        (51, 900.0, 50, 12), // fuel under 15 %
    ];
    for (s, n, v, f) in drive {
        let rec = bus(t0 + s * 1_000, n, v, f);
        dev.send(&encode_avl_frame(CodecId::Codec8Ext, &[rec]).unwrap())
            .await;
        assert_eq!(dev.ack(WAIT).await, Some(1));
    }
    let seen = alerts_seen(&mut ws, Duration::from_secs(2)).await;
    let expect = [
        ("raised", "GEOFENCE_ENTER"),
        ("raised", "OVERSPEED"),
        ("cleared", "OVERSPEED"),
        ("cleared", "GEOFENCE_ENTER"),
        ("raised", "OVERSPEED"),
        ("cleared", "OVERSPEED"),
        ("raised", "HARSH_BRAKING"),
        ("raised", "LOW_FUEL"),
    ];
    let expect: Vec<(String, String)> = expect
        .iter()
        .map(|(a, k)| (a.to_string(), k.to_string()))
        .collect();
    assert_eq!(summary(&seen), expect, "{seen:#?}");
    let first = &seen[1]["alert"];
    assert_eq!(first["severity"], "CRITICAL");
    assert_eq!(
        first["raised_ms"],
        (t0 + 15_000) as i64,
        "raised at the start of the 10 s"
    );
    assert_eq!(
        first["details"]["limit_kmh"], 30.0,
        "the zone's limit applied"
    );
    assert_eq!(first["details"]["geofence_id"], school_id);
    assert_eq!(seen[0]["alert"]["subject"], school_id.to_string());
    assert_eq!(seen[0]["imei"], id.to_string());

    // Stored: the same alerts; two open (braking, fuel).
    let (s, body) = app.get("/api/v1/alerts?limit=100").await;
    assert_eq!(s, 200, "{body}");
    let all: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 5);
    let (_, body) = app
        .get(&format!("/api/v1/alerts?open=true&imei={id}"))
        .await;
    let open: Value = serde_json::from_str(&body).unwrap();
    let mut kinds: Vec<&str> = open["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["HARSH_BRAKING", "LOW_FUEL"]);
    let (_, body) = app
        .get("/api/v1/alerts?kind=OVERSPEED&status=CLEARED")
        .await;
    let speeding: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(speeding["items"].as_array().unwrap().len(), 2);
    // Paging by cursor walks the same five.
    let (_, body) = app.get("/api/v1/alerts?limit=3").await;
    let page: Value = serde_json::from_str(&body).unwrap();
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, body) = app
        .get(&format!("/api/v1/alerts?limit=3&cursor={cursor}"))
        .await;
    let rest: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(rest["items"].as_array().unwrap().len(), 2);
    assert!(rest["next_cursor"].is_null());

    // A dispatcher acknowledges the fuel alert: recorded and pushed.
    let dispatcher = app.user_token("dana", "DISPATCHER").await;
    let fuel = open["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "LOW_FUEL")
        .unwrap();
    let fuel_id = fuel["id"].as_str().unwrap();
    let viewer = app.user_token("vic", "VIEWER").await;
    let (s, _) = app
        .request_as(
            Some(&viewer),
            "POST",
            &format!("/api/v1/alerts/{fuel_id}/acknowledge"),
            None,
        )
        .await;
    assert_eq!(s, 403, "viewers do not acknowledge");
    let (s, body) = app
        .request_as(
            Some(&dispatcher),
            "POST",
            &format!("/api/v1/alerts/{fuel_id}/acknowledge"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let acked: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(acked["status"], "ACTIVE_ACK");
    assert_eq!(acked["acknowledged_by"], "dana");
    assert!(acked["acknowledged_ms"].as_i64().unwrap() >= (now_ms() - 60_000) as i64);
    let pushed = alerts_seen(&mut ws, Duration::from_secs(1)).await;
    assert_eq!(
        summary(&pushed),
        [("acknowledged".to_owned(), "LOW_FUEL".to_owned())]
    );
    assert_eq!(pushed[0]["alert"]["acknowledged_by"], "dana");
    // Again: unchanged.
    let (s, body) = app
        .request(
            "POST",
            &format!("/api/v1/alerts/{fuel_id}/acknowledge"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["acknowledged_by"],
        "dana"
    );

    // Fuel back up clears it by condition (LOW_FUEL clears at 20 %).
    let rec = bus(t0 + 60_000, 1000.0, 40, 50);
    dev.send(&encode_avl_frame(CodecId::Codec8Ext, &[rec]).unwrap())
        .await;
    assert_eq!(dev.ack(WAIT).await, Some(1));
    let pushed = alerts_seen(&mut ws, Duration::from_secs(1)).await;
    assert_eq!(
        summary(&pushed),
        [("cleared".to_owned(), "LOW_FUEL".to_owned())]
    );
    let (_, body) = app.get(&format!("/api/v1/alerts/{fuel_id}")).await;
    let fuel: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(fuel["status"], "CLEARED");
    assert_eq!(fuel["cleared_ms"], (t0 + 60_000) as i64);
    assert!(fuel["cleared_by"].is_null(), "cleared by its condition");
    assert_eq!(fuel["acknowledged_by"], "dana", "the acknowledgement stays");

    // Harsh braking is cleared by hand.
    let braking = open["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "HARSH_BRAKING")
        .unwrap();
    let braking_id = braking["id"].as_str().unwrap();
    let (s, body) = app
        .request_as(
            Some(&dispatcher),
            "POST",
            &format!("/api/v1/alerts/{braking_id}/clear"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["cleared_by"],
        "dana"
    );
    let (s, _) = app
        .request("POST", &format!("/api/v1/alerts/{braking_id}/clear"), None)
        .await;
    assert_eq!(s, 409, "already cleared");
    let (s, _) = app
        .get("/api/v1/alerts/0190a3c0-0000-7000-8000-000000000000")
        .await;
    assert_eq!(s, 404);
    assert_eq!(app.metric("urbanstream_alerts_open").await, 0.0);
    assert!(app.metric_sum("urbanstream_alerts_raised_total").await >= 5.0);
}

#[actix_rt::test]
async fn a_bus_through_a_school_zone_raises_the_expected_alerts_sqlite() {
    bus_run(TestApp::start(settings(|_| {})).await).await;
}

#[actix_rt::test]
async fn a_bus_through_a_school_zone_raises_the_expected_alerts_postgres() {
    let (_, url) = fresh_pg().await;
    bus_run(TestApp::start(settings(|s| s.database.url = url)).await).await;
}

#[actix_rt::test]
async fn offline_devices_late_records_and_restart() {
    let (_, url) = fresh_pg().await;
    let app = TestApp::start(settings(|s| {
        s.database.url = url.clone();
        s.rules.tick = Duration::from_millis(100);
    }))
    .await;
    let silent = app
        .created(
            "/api/v1/alerts/rules",
            json!({"name": "Silent", "kind": "DEVICE_OFFLINE", "params": {"after_s": 1}}),
        )
        .await;
    app.created("/api/v1/alerts/rules",
        json!({"name": "Speeding", "kind": "OVERSPEED", "params": {"limit_kmh": 60, "min_duration_s": 0}}),
    )
    .await;
    let mut ws = subscribe(&app, &["alerts"]).await;
    let id = imei(356_307_042_441_003);
    let mut dev = app.device().await;
    assert_eq!(dev.login(id).await, 1);
    let t0 = now_ms() - 60_000;
    let send = |recs: Vec<AvlRecord>| encode_avl_frame(CodecId::Codec8Ext, &recs).unwrap();
    dev.send(&send(vec![bus(t0, 0.0, 40, 50)])).await;
    assert_eq!(dev.ack(WAIT).await, Some(1));
    // Silence: offline after 1 s, by the server's clock; data clears it.
    let seen = alerts_seen(&mut ws, Duration::from_millis(2_500)).await;
    assert_eq!(
        summary(&seen),
        [("raised".to_owned(), "DEVICE_OFFLINE".to_owned())]
    );
    dev.send(&send(vec![bus(t0 + 10_000, 0.0, 40, 50)])).await;
    assert_eq!(dev.ack(WAIT).await, Some(1));
    // A buffer flushed after an outage: older records over the limit. Stored as one late,
    // cleared alert, and not raised live as if the bus were speeding now.
    dev.send(&send(vec![
        bus(t0 + 2_000, 0.0, 90, 50),
        bus(t0 + 3_000, 0.0, 95, 50),
        bus(t0 + 4_000, 0.0, 40, 50),
    ]))
    .await;
    assert_eq!(dev.ack(WAIT).await, Some(3));
    let seen = alerts_seen(&mut ws, Duration::from_millis(800)).await;
    assert_eq!(
        summary(&seen),
        [
            ("cleared".to_owned(), "DEVICE_OFFLINE".to_owned()),
            ("cleared".to_owned(), "OVERSPEED".to_owned())
        ]
    );
    let late = &seen[1]["alert"];
    assert_eq!(late["late"], true);
    assert_eq!(late["occurrences"], 2);
    assert_eq!(late["raised_ms"], (t0 + 2_000) as i64);
    assert_eq!(app.metric("urbanstream_alerts_open").await, 0.0);

    let (s, _) = app
        .request(
            "DELETE",
            &format!("/api/v1/alerts/rules/{}", silent["id"]),
            None,
        )
        .await;
    assert_eq!(s, 204);

    // A live overspeed, open when the node restarts: the new node takes it up and clears it.
    dev.send(&send(vec![bus(t0 + 20_000, 0.0, 90, 50)])).await;
    assert_eq!(dev.ack(WAIT).await, Some(1));
    let seen = alerts_seen(&mut ws, Duration::from_millis(800)).await;
    assert_eq!(
        summary(&seen),
        [("raised".to_owned(), "OVERSPEED".to_owned())]
    );
    let open_id = seen[0]["alert"]["id"].as_str().unwrap().to_owned();
    drop(dev);
    app.server.stop().await;
    let app = TestApp::start(settings(|s| s.database.url = url)).await;
    let mut ws = subscribe(&app, &["alerts"]).await;
    let mut dev = app.device().await;
    assert_eq!(dev.login(id).await, 1);
    dev.send(&send(vec![bus(t0 + 25_000, 0.0, 95, 50)])).await;
    assert_eq!(dev.ack(WAIT).await, Some(1));
    dev.send(&send(vec![bus(t0 + 30_000, 0.0, 30, 50)])).await;
    assert_eq!(dev.ack(WAIT).await, Some(1));
    let seen = alerts_seen(&mut ws, Duration::from_millis(800)).await;
    assert_eq!(
        summary(&seen),
        [("cleared".to_owned(), "OVERSPEED".to_owned())],
        "no second alert"
    );
    assert_eq!(seen[0]["alert"]["id"], open_id.as_str());
}

#[actix_rt::test]
async fn rules_are_validated_and_apply_without_restart() {
    let app = TestApp::start(settings(|_| {})).await;
    for (body, why) in [
        (
            json!({"name": "x", "kind": "SPEEDING"}),
            "unknown rule kind",
        ),
        (
            json!({"name": "x", "kind": "OVERSPEED", "params": {"limit_kmh": -5}}),
            "limit_kmh",
        ),
        (
            json!({"name": "x", "kind": "LOW_FUEL", "params": {"below": 10}}),
            "unknown field",
        ),
        (
            json!({"name": "x", "kind": "LOW_FUEL", "severity": "URGENT"}),
            "severity",
        ),
        (json!({"name": "", "kind": "LOW_FUEL"}), "name"),
        (
            json!({"name": "x", "kind": "LOW_FUEL", "cooldown_s": -1}),
            "cooldown_s",
        ),
        (
            json!({"name": "x", "kind": "LOW_FUEL", "channel_ids": [42]}),
            "channel 42",
        ),
        (
            json!({"name": "x", "kind": "LOW_FUEL", "colour": "red"}),
            "unknown field",
        ),
    ] {
        let (s, e) = app
            .request("POST", "/api/v1/alerts/rules", Some(&body))
            .await;
        assert_eq!(s, 400, "{body}: {e}");
        assert!(e.contains(why), "{body}: {e}");
    }
    // Disabled, then enabled by PUT: it applies from the next record.
    let rule = app.created("/api/v1/alerts/rules",
        json!({"name": "Speeding", "kind": "OVERSPEED", "enabled": false, "params": {"limit_kmh": 50, "min_duration_s": 0}}),
    )
    .await;
    let rule_id = rule["id"].as_i64().unwrap();
    let mut ws = subscribe(&app, &["alerts"]).await;
    let id = imei(356_307_042_441_004);
    let mut dev = app.device().await;
    assert_eq!(dev.login(id).await, 1);
    let t0 = now_ms() - 60_000;
    dev.send(&encode_avl_frame(CodecId::Codec8Ext, &[bus(t0, 0.0, 80, 50)]).unwrap())
        .await;
    assert_eq!(dev.ack(WAIT).await, Some(1));
    assert!(alerts_seen(&mut ws, Duration::from_millis(500))
        .await
        .is_empty());
    let (s, body) = app
        .request(
            "PUT",
            &format!("/api/v1/alerts/rules/{rule_id}"),
            Some(&json!({"name": "Speeding", "kind": "OVERSPEED", "params": {"limit_kmh": 50, "min_duration_s": 0}})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    dev.send(&encode_avl_frame(CodecId::Codec8Ext, &[bus(t0 + 1_000, 0.0, 80, 50)]).unwrap())
        .await;
    assert_eq!(dev.ack(WAIT).await, Some(1));
    let seen = alerts_seen(&mut ws, Duration::from_millis(800)).await;
    assert_eq!(
        summary(&seen),
        [("raised".to_owned(), "OVERSPEED".to_owned())]
    );
    let (_, body) = app.get(&format!("/api/v1/alerts/rules/{rule_id}")).await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["enabled"],
        true
    );
    let (s, _) = app
        .request("DELETE", &format!("/api/v1/alerts/rules/{rule_id}"), None)
        .await;
    assert_eq!(s, 204);
    let (s, _) = app.get(&format!("/api/v1/alerts/rules/{rule_id}")).await;
    assert_eq!(s, 404);
    let (_, body) = app.get("/api/v1/alerts").await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["items"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "history stays"
    );
    let (s, e) = app.get("/api/v1/alerts?status=OPEN").await;
    assert_eq!(s, 400, "{e}");
}
