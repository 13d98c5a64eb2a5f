//! REST round trips on both backends: the same answers from PostgreSQL and SQLite.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a failed unwrap is a failed test.

mod common;

use common::{fresh_pg, imei, record, settings, TestApp, WAIT};
use serde_json::{json, Value};
use urbanstream_actors::teltonika::codec::{encode_avl_frame, CodecId};

async fn call(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let (status, text) = app.request(method, path, body.as_ref()).await;
    let v = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path}: {text}"))
    };
    (status, v)
}

async fn crud(app: TestApp) {
    let new_imei = imei(490_154_203_237_518).to_string();
    // Devices.
    let (s, d) = call(
        &app,
        "POST",
        "/api/v1/devices",
        Some(json!({"imei": new_imei, "model": "FMC125", "name": "Bus 7"})),
    )
    .await;
    assert_eq!(s, 201, "{d}");
    assert_eq!(d["imei"], new_imei);
    let (s, e) = call(
        &app,
        "POST",
        "/api/v1/devices",
        Some(json!({"imei": new_imei, "model": "FMC125"})),
    )
    .await;
    assert_eq!((s, e["error"]["code"].as_str()), (409, Some("conflict")));
    let (s, e) = call(
        &app,
        "POST",
        "/api/v1/devices",
        Some(json!({"imei": "123", "model": "FMC125"})),
    )
    .await;
    assert_eq!((s, e["error"]["code"].as_str()), (400, Some("bad_request")));
    let (s, e) = call(
        &app,
        "POST",
        "/api/v1/devices",
        Some(json!({"imei": new_imei, "modle": "x"})),
    )
    .await;
    assert_eq!(s, 400, "unknown fields are refused: {e}");
    let (s, d) = call(
        &app,
        "PATCH",
        &format!("/api/v1/devices/{new_imei}"),
        Some(json!({"name": "Bus 8"})),
    )
    .await;
    assert_eq!((s, d["name"].as_str()), (200, Some("Bus 8")));
    let (s, d) = call(&app, "GET", &format!("/api/v1/devices/{new_imei}"), None).await;
    assert_eq!((s, d["model"].as_str()), (200, Some("FMC125")));

    // The new device may log in now, though unknown IMEIs are refused.
    let mut dev = app.device().await;
    assert_eq!(dev.login(new_imei.parse().unwrap()).await, 1);
    let t = chrono::Utc::now().timestamp_millis() as u64;
    let rec = record(t, 44.7722, 17.191);
    dev.send(&encode_avl_frame(CodecId::Codec8, &[rec]).unwrap())
        .await;
    assert_eq!(dev.ack(WAIT).await, Some(1));
    let mut online = Value::Null;
    for _ in 0..50 {
        online = call(&app, "GET", &format!("/api/v1/devices/{new_imei}"), None)
            .await
            .1;
        if online["online"] == true {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        online["online"], true,
        "a connected device shows online: {online}"
    );
    assert!(online["last_seen_ms"].as_i64().is_some());

    // Vehicles.
    let (s, v) = call(
        &app,
        "POST",
        "/api/v1/vehicles",
        Some(json!({"registration": "BL-123-AB", "make": "Solaris", "year": 2019, "capacity": 90})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["vehicle_type"], "bus");
    let id = v["id"].as_i64().unwrap();
    let (s, _) = call(
        &app,
        "POST",
        "/api/v1/vehicles",
        Some(json!({"registration": "BL-123-AB"})),
    )
    .await;
    assert_eq!(s, 409);
    let (s, _) = call(
        &app,
        "POST",
        "/api/v1/vehicles",
        Some(json!({"registration": "X", "year": 1066})),
    )
    .await;
    assert_eq!(s, 400);
    let (s, v) = call(
        &app,
        "PATCH",
        &format!("/api/v1/vehicles/{id}"),
        Some(json!({"capacity": 95})),
    )
    .await;
    assert_eq!((s, v["capacity"].as_i64()), (200, Some(95)));
    let (s, l) = call(&app, "GET", "/api/v1/vehicles?limit=10", None).await;
    assert_eq!((s, l["items"].as_array().unwrap().len()), (200, 1));
    let (s, _) = call(
        &app,
        "GET",
        &format!("/api/v1/vehicles/{id}/location"),
        None,
    )
    .await;
    assert_eq!(s, 404, "no tracker in it yet");
    let (s, d) = call(
        &app,
        "POST",
        &format!("/api/v1/vehicles/{id}/assign-device"),
        Some(json!({"imei": new_imei})),
    )
    .await;
    assert_eq!((s, d["vehicle_id"].as_i64()), (200, Some(id)));
    let (s, loc) = call(
        &app,
        "GET",
        &format!("/api/v1/vehicles/{id}/location"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{loc}");
    assert!((loc["position"]["lat"].as_f64().unwrap() - 44.7722).abs() < 1e-6);
    assert_eq!(loc["motion"], "moving");
    let (s, _) = call(
        &app,
        "POST",
        "/api/v1/vehicles/999999/assign-device",
        Some(json!({"imei": new_imei})),
    )
    .await;
    assert_eq!(s, 404);

    // Fleet.
    let (s, f) = call(&app, "GET", "/api/v1/fleet/summary", None).await;
    assert_eq!(s, 200, "{f}");
    assert_eq!(f["total"], 6, "5 configured + 1 created: {f}");
    assert_eq!(f["online"], 1);
    assert_eq!(f["moving"], 1);
    let (s, n) = call(
        &app,
        "GET",
        "/api/v1/fleet/nearby?lat=44.7725&lon=17.191&radius_m=200",
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(n["items"].as_array().unwrap().len(), 1);
    assert!(n["items"][0]["distance_m"].as_f64().unwrap() < 100.0);
    let (s, n) = call(
        &app,
        "GET",
        "/api/v1/fleet/nearby?lat=45.5&lon=17.191&radius_m=200",
        None,
    )
    .await;
    assert_eq!((s, n["items"].as_array().unwrap().len()), (200, 0));
    let (s, _) = call(&app, "GET", "/api/v1/fleet/nearby?lat=95&lon=17", None).await;
    assert_eq!(s, 400);

    // Deleting: the device's session is closed and it can no longer log in.
    let (s, _) = call(&app, "DELETE", &format!("/api/v1/vehicles/{id}"), None).await;
    assert_eq!(s, 204);
    let (s, d) = call(&app, "GET", &format!("/api/v1/devices/{new_imei}"), None).await;
    assert_eq!((s, d["vehicle_id"].clone()), (200, Value::Null));
    let (s, _) = call(&app, "DELETE", &format!("/api/v1/devices/{new_imei}"), None).await;
    assert_eq!(s, 204);
    assert!(dev.closed_within(WAIT).await);
    let mut again = app.device().await;
    assert_eq!(again.login(new_imei.parse().unwrap()).await, 0);
    let (s, _) = call(&app, "DELETE", &format!("/api/v1/devices/{new_imei}"), None).await;
    assert_eq!(s, 404);
    let (s, e) = app.request("POST", "/api/v1/vehicles", None).await;
    assert_eq!(s, 400, "{e}");
    app.server.stop().await;
}

#[actix_rt::test]
async fn rest_crud_on_sqlite() {
    crud(TestApp::start(settings(|_| {})).await).await;
}

#[actix_rt::test]
async fn rest_crud_on_postgres() {
    let (_, url) = fresh_pg().await;
    crud(TestApp::start(settings(|s| s.database.url = url)).await).await;
}

#[actix_rt::test]
async fn telemetry_history_pages_and_streamed_exports() {
    let app = TestApp::start(settings(|_| {})).await;
    let id = imei(356_307_042_441_000).to_string();
    let device = app.server.store.device(&id).await.unwrap().unwrap();
    let t0 = chrono::Utc::now().timestamp_millis() - 3_600_000;
    // More rows than one export page, so the stream takes several round trips.
    let rows: Vec<_> = (0..12_345i64)
        .map(|i| urbanstream_schema::models::TelemetryRow {
            device_id: device.id,
            device_time_ms: t0 + i * 100,
            server_time_ms: t0 + i * 100 + 5,
            lat: 44.77 + i as f64 * 1e-6,
            lon: 17.19,
            altitude: 160,
            speed_kmh: 30,
            heading: 90,
            satellites: if i == 7 { 0 } else { 9 },
            fix: i != 7,
            hdop: None,
            ignition: Some(true),
            movement: None,
            external_voltage_v: Some(27.6),
            battery_voltage_v: None,
            gsm_signal: None,
            distance_m: 2.5,
            late: false,
            io: r#"{"raw":{},"named":{}}"#.into(),
        })
        .collect();
    app.server
        .store
        .write(urbanstream_schema::store::Batch {
            telemetry: rows,
            ..Default::default()
        })
        .await
        .unwrap();

    let (s, page) = call(
        &app,
        "GET",
        &format!("/api/v1/telemetry/history?imei={id}&limit=5000"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(page["items"].as_array().unwrap().len(), 5000);
    let cursor = page["next_cursor"].as_i64().unwrap();
    assert_eq!(cursor, t0 + 4999 * 100);
    let (_, page2) = call(
        &app,
        "GET",
        &format!("/api/v1/telemetry/history?imei={id}&limit=5000&cursor={cursor}"),
        None,
    )
    .await;
    assert_eq!(
        page2["items"][0]["device_time_ms"].as_i64(),
        Some(t0 + 5000 * 100)
    );

    let (s, csv) = app
        .get(&format!("/api/v1/telemetry/export?imei={id}&format=csv"))
        .await;
    assert_eq!(s, 200);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + 12_345, "header and every row");
    assert!(lines[0].starts_with("device_time,lat,lon"));
    assert!(lines[1].ends_with(",2.5,false"), "{}", lines[1]);

    let (s, body) = app
        .get(&format!("/api/v1/telemetry/export?imei={id}&format=json"))
        .await;
    assert_eq!(s, 200);
    let all: Value = serde_json::from_str(&body).unwrap();
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 12_345);
    assert!(all
        .windows(2)
        .all(|w| w[0]["device_time_ms"].as_i64() < w[1]["device_time_ms"].as_i64()));

    let (s, gpx) = app
        .get(&format!("/api/v1/telemetry/export?imei={id}&format=gpx"))
        .await;
    assert_eq!(s, 200);
    assert!(gpx.starts_with("<?xml") && gpx.trim_end().ends_with("</gpx>"));
    assert_eq!(
        gpx.matches("<trkpt ").count(),
        12_344,
        "points without a fix are left out"
    );

    for (path, status) in [
        (
            format!("/api/v1/telemetry/export?imei={id}&format=kml"),
            400,
        ),
        (format!("/api/v1/telemetry/export?imei={id}&limit=5"), 400),
        (
            "/api/v1/telemetry/export?imei=490154203237518".to_string(),
            404,
        ),
        ("/api/v1/telemetry/history".to_string(), 400),
    ] {
        let (s, body) = app.get(&path).await;
        assert_eq!(s, status, "{path}: {body}");
    }
    app.server.stop().await;
}
