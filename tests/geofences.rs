//! Geofences end to end: created over REST as GeoJSON, then a tracker driving in and out
//! raises enter / exit events that are pushed live and stored, on both backends.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a failed unwrap is a failed test.

mod common;

use std::time::Duration;

use common::{fresh_pg, imei, now_ms, record, settings, TestApp, WAIT};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use urbanstream_actors::teltonika::codec::{encode_avl_frame, CodecId};

const LAT: f64 = 44.7722;
const LON: f64 = 17.191;

/// `north` metres from the depot's centre.
fn north(m: f64) -> f64 {
    LAT + m / 111_195.0
}

async fn fence_flow(app: TestApp) {
    // CRUD over GeoJSON.
    let depot = json!({
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [LON, LAT]},
        "properties": {"name": "Depot", "radius_m": 100.0, "hysteresis_m": 20.0}
    });
    let (s, body) = app.request("POST", "/api/v1/geofences", Some(&depot)).await;
    assert_eq!(s, 201, "{body}");
    let created: Value = serde_json::from_str(&body).unwrap();
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["properties"]["kind"], "circle");
    assert_eq!(created["geometry"]["coordinates"], json!([LON, LAT]));
    let refused = app
        .metric("urbanstream_http_responses_total{class=\"4xx\"}")
        .await;
    let bad = json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [LON, LAT]}, "properties": {"name": "x"}});
    let (s, e) = app.request("POST", "/api/v1/geofences", Some(&bad)).await;
    assert_eq!(s, 400, "a circle needs radius_m: {e}");
    assert!(e.contains("radius_m"));
    let open_ring = json!({"type": "Feature", "geometry": {"type": "Polygon",
        "coordinates": [[[17.0, 44.0], [17.1, 44.0], [17.1, 44.1]]]}, "properties": {"name": "x"}});
    let (s, e) = app
        .request("POST", "/api/v1/geofences", Some(&open_ring))
        .await;
    assert_eq!(s, 400, "{e}");
    assert!(
        app.metric("urbanstream_http_responses_total{class=\"4xx\"}")
            .await
            >= refused + 2.0,
        "refused input is counted"
    );
    let corridor = json!({
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": [[17.0, 44.0], [17.1, 44.0]]},
        "properties": {"name": "Line 3", "width_m": 40.0}
    });
    let (s, body) = app
        .request("POST", "/api/v1/geofences", Some(&corridor))
        .await;
    assert_eq!(s, 201, "{body}");
    let corridor_id = serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_i64()
        .unwrap();
    let renamed = json!({
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": [[17.0, 44.0], [17.1, 44.0]]},
        "properties": {"name": "Line 3 (new)", "width_m": 40.0}
    });
    let (s, body) = app
        .request(
            "PUT",
            &format!("/api/v1/geofences/{corridor_id}"),
            Some(&renamed),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let (s, _) = app
        .request("DELETE", &format!("/api/v1/geofences/{corridor_id}"), None)
        .await;
    assert_eq!(s, 204);
    let (_, list) = app.get("/api/v1/geofences").await;
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["type"], "FeatureCollection");
    assert_eq!(list["features"].as_array().unwrap().len(), 1);

    // A bus drives in, drifts at the edge, drives out.
    let (mut ws, _) = tokio_tungstenite::connect_async(app.ws_url())
        .await
        .unwrap();
    ws.send(Message::Text(
        json!({"op": "subscribe", "topics": ["events"]})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let id_dev = imei(356_307_042_441_002);
    let mut dev = app.device().await;
    assert_eq!(dev.login(id_dev).await, 1);
    let t0 = now_ms() - 60_000;
    let path = [
        -300.0, -150.0, -80.0, -95.0, -105.0, -92.0, -40.0, 120.0, 300.0,
    ];
    for (i, n) in path.iter().enumerate() {
        let rec = record(t0 + i as u64 * 5_000, north(*n), LON);
        dev.send(&encode_avl_frame(CodecId::Codec8Ext, &[rec]).unwrap())
            .await;
        assert_eq!(dev.ack(WAIT).await, Some(1));
    }
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while let Ok(Some(Ok(m))) = tokio::time::timeout_at(deadline, ws.next()).await {
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(&t).unwrap();
            let e = &v["data"]["event"];
            let kind = e["kind"].as_str().unwrap_or_default().to_owned();
            if kind.starts_with("geofence") {
                seen.push((kind, e["fence"].as_i64(), e["name"].clone()));
            }
        }
    }
    assert_eq!(
        seen,
        vec![
            ("geofence_entered".to_owned(), Some(id), json!("Depot")),
            ("geofence_exited".to_owned(), Some(id), json!("Depot")),
        ],
        "one enter, one exit: the drift at the edge is inside the hysteresis band"
    );
    // Stored with the frames, the exit with its dwell time.
    let device = app
        .server
        .store
        .device(&id_dev.to_string())
        .await
        .unwrap()
        .unwrap();
    let events = app
        .server
        .store
        .events(device.id, 0, i64::MAX, 100)
        .await
        .unwrap();
    let fence_events: Vec<_> = events
        .iter()
        .filter(|e| e.kind.starts_with("geofence"))
        .collect();
    assert_eq!(fence_events.len(), 2, "{events:?}");
    assert_eq!(fence_events[0].subject, id.to_string());
    assert_eq!(fence_events[0].time_ms, (t0 + 2 * 5_000) as i64);
    let exit: Value = serde_json::from_str(&fence_events[1].data).unwrap();
    assert_eq!(exit["dwell_s"], 25.0, "entered at fix 2, left at fix 7");
}

#[actix_rt::test]
async fn geofences_over_rest_raise_enter_and_exit_sqlite() {
    fence_flow(TestApp::start(settings(|_| {})).await).await;
}

#[actix_rt::test]
async fn geofences_over_rest_raise_enter_and_exit_postgres() {
    let (_, url) = fresh_pg().await;
    fence_flow(TestApp::start(settings(|s| s.database.url = url)).await).await;
}
