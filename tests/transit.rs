//! A bus on its route end to end: stops and a route over REST, the bus assigned, driven
//! through the stops (one passed between two fixes); arrivals with dwell times, ETAs to the
//! stops ahead, trips and stays, and the reports and analytics over them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a failed unwrap is a failed test.

mod common;

use common::{fresh_pg, imei, now_ms, settings, TestApp, WAIT};
use serde_json::{json, Value};
use urbanstream_actors::teltonika::codec::{
    encode_avl_frame, AvlRecord, CodecId, IoElement, IoValue,
};

const LAT: f64 = 44.7722;
const LON: f64 = 17.191;

fn fix(ts: u64, north_m: f64, speed: u16, ignition: bool) -> AvlRecord {
    let io = vec![IoElement {
        id: 239,
        value: IoValue::U8(u8::from(ignition)),
    }];
    common::fix(ts, LAT + north_m / 111_195.0, LON, speed, io)
}

async fn json_ok(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<Value>,
    status: u16,
) -> Value {
    let (s, b) = app.request(method, path, body.as_ref()).await;
    assert_eq!(s, status, "{method} {path}: {b}");
    serde_json::from_str(&b).unwrap_or(Value::Null)
}

async fn route_run(app: TestApp) {
    // Four stops 500 m apart, due north.
    let mut stops = Vec::new();
    for i in 0..4 {
        let s = json_ok(
            &app,
            "POST",
            "/api/v1/stops",
            Some(json!({"code": format!("S{i}"), "name": format!("Stop {i}"), "lat": LAT + i as f64 * 500.0 / 111_195.0,
                "lon": LON, "radius_m": 30.0, "shelter": i % 2 == 0})),
            201,
        )
        .await;
        stops.push(s["id"].as_i64().unwrap());
    }
    let (s, e) = app
        .request(
            "POST",
            "/api/v1/stops",
            Some(&json!({"code": "S0", "name": "again", "lat": LAT, "lon": LON})),
        )
        .await;
    assert_eq!(s, 409, "{e}");
    let route = json_ok(
        &app,
        "POST",
        "/api/v1/routes",
        Some(json!({"number": "3", "name": "Centre – North", "colour": "#e41a1c"})),
        201,
    )
    .await;
    let route_id = route["id"].as_i64().unwrap();
    let list: Vec<Value> = stops
        .iter()
        .enumerate()
        .map(|(i, id)| json!({"stop_id": id, "offset_s": i * 60}))
        .collect();
    let ordered = json_ok(
        &app,
        "PUT",
        &format!("/api/v1/routes/{route_id}/stops"),
        Some(json!(list)),
        200,
    )
    .await;
    assert_eq!(ordered["items"].as_array().unwrap().len(), 4);
    assert!((ordered["items"][3]["along_m"].as_f64().unwrap() - 1500.0).abs() < 2.0);
    let (s, _) = app
        .request("DELETE", &format!("/api/v1/stops/{}", stops[1]), None)
        .await;
    assert_eq!(s, 409, "a stop on a route stays");
    let t0 = now_ms() - 400_000;
    let minute = |ms: u64| format!("{:02}:{:02}", (ms / 3_600_000) % 24, (ms / 60_000) % 60);
    let sched = json_ok(
        &app,
        "PUT",
        &format!("/api/v1/routes/{route_id}/schedules"),
        Some(json!([{"departure": minute(t0)}, {"departure": "23:59", "days": ["sat", "sun"]}])),
        200,
    )
    .await;
    assert_eq!(sched["items"][1]["days"], 0b110_0000);
    let vehicle = json_ok(
        &app,
        "POST",
        "/api/v1/vehicles",
        Some(json!({"registration": "BUS-3"})),
        201,
    )
    .await;
    let vehicle_id = vehicle["id"].as_i64().unwrap();
    let id = imei(356_307_042_441_001);
    json_ok(
        &app,
        "POST",
        &format!("/api/v1/vehicles/{vehicle_id}/assign-device"),
        Some(json!({"imei": id.to_string()})),
        200,
    )
    .await;
    json_ok(
        &app,
        "POST",
        &format!("/api/v1/routes/{route_id}/vehicles"),
        Some(json!({"vehicle_id": vehicle_id})),
        200,
    )
    .await;

    // The run: parked at stop 0, engine on, 10 m/s between stops, 10 s at stops 1 and 3,
    // stop 2 passed between fixes at 948 m and 1048 m; engine off; a stay; a short trip.
    let mut fixes: Vec<(u64, f64, u16, bool)> =
        vec![(0, 0.0, 0, false), (5, 0.0, 0, true), (10, 20.0, 36, true)];
    let drive_to = |fixes: &mut Vec<(u64, f64, u16, bool)>, to: f64, step: f64, dwell: bool| {
        let (mut t, mut at) = fixes.last().map(|f| (f.0, f.1)).unwrap();
        while at + step <= to {
            at += step;
            t += 5;
            fixes.push((t, at, 36, true));
        }
        if dwell {
            for _ in 0..2 {
                t += 5;
                fixes.push((t, to, 0, true));
            }
        }
    };
    drive_to(&mut fixes, 70.0, 50.0, false); // leaves stop 0
    drive_to(&mut fixes, 470.0, 50.0, false);
    let t = fixes.last().unwrap().0;
    fixes.push((t + 3, 498.0, 20, true)); // at stop 1
    drive_to(&mut fixes, 498.0, 50.0, true);
    drive_to(&mut fixes, 948.0, 50.0, false);
    drive_to(&mut fixes, 1048.0, 100.0, false); // straight past stop 2
    drive_to(&mut fixes, 1498.0, 50.0, true); // stop 3
    let depart_stop1_at = fixes.iter().find(|f| f.1 > 540.0).unwrap().0;
    let end = fixes.last().unwrap().0;
    fixes.push((end + 5, 1498.0, 0, false)); // engine off: the trip ends
    fixes.push((end + 65, 1498.0, 0, true));
    fixes.push((end + 70, 1548.0, 36, true)); // a short second trip: the stay ends
    fixes.push((end + 75, 1598.0, 36, true));
    fixes.push((end + 80, 1598.0, 0, false));

    let mut dev = app.device().await;
    assert_eq!(dev.login(id).await, 1);
    let mut eta_checked = false;
    for &(s, n, v, ign) in &fixes {
        dev.send(&encode_avl_frame(CodecId::Codec8Ext, &[fix(t0 + s * 1000, n, v, ign)]).unwrap())
            .await;
        assert_eq!(dev.ack(WAIT).await, Some(1));
        if s > depart_stop1_at && !eta_checked {
            // Between stops 1 and 2: the bus is expected at stop 3 (and 2 before it).
            eta_checked = true;
            let a = json_ok(
                &app,
                "GET",
                &format!("/api/v1/stops/{}/arrivals", stops[3]),
                None,
                200,
            )
            .await;
            let up = a["upcoming"].as_array().unwrap();
            assert_eq!(up.len(), 1, "{a}");
            assert_eq!(up[0]["vehicle_id"], vehicle_id);
            assert_eq!(up[0]["seq"], 3);
            let a2 = json_ok(
                &app,
                "GET",
                &format!("/api/v1/stops/{}/arrivals", stops[2]),
                None,
                200,
            )
            .await;
            assert!(
                a2["upcoming"][0]["eta_ms"].as_i64().unwrap() < up[0]["eta_ms"].as_i64().unwrap()
            );
            let on_route = json_ok(
                &app,
                "GET",
                &format!("/api/v1/routes/{route_id}/vehicles"),
                None,
                200,
            )
            .await;
            let progress = &on_route["items"][0]["trackers"][0]["progress"];
            assert_eq!(
                (progress["seq"].as_i64(), progress["at_stop"].as_bool()),
                (Some(1), Some(false)),
                "{on_route}"
            );
        }
    }
    assert!(eta_checked);

    // Arrivals at every stop, in order, with dwell times; stop 2 passed without stopping.
    let window = format!("from={}&to={}", t0 - 1, now_ms() + 1);
    let events = json_ok(
        &app,
        "GET",
        &format!("/api/v1/reports/events?imei={id}&kind=stop_arrived&{window}"),
        None,
        200,
    )
    .await;
    let seqs: Vec<i64> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["data"]["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [0, 1, 2, 3]);
    let mut dwell = Vec::new();
    for stop in &stops {
        let a = json_ok(
            &app,
            "GET",
            &format!("/api/v1/stops/{stop}/arrivals"),
            None,
            200,
        )
        .await;
        let recent = a["recent"].as_array().unwrap();
        assert_eq!(recent.len(), 1, "{a}");
        dwell.push(recent[0]["dwell_s"].as_f64().unwrap_or(-1.0));
    }
    assert_eq!(dwell[0], 15.0, "on the stand from 0 s, left at 15 s");
    assert_eq!(
        dwell[1], 15.0,
        "arrived 3 s after a fix, two 5 s fixes there, gone at the next"
    );
    assert_eq!(dwell[2], 0.0, "passed between fixes");

    // Two trips and the stay between them.
    let trips = json_ok(
        &app,
        "GET",
        &format!("/api/v1/reports/trips?vehicle={vehicle_id}&{window}"),
        None,
        200,
    )
    .await;
    let items = trips["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{trips}");
    assert_eq!(trips["truncated"], false);
    let first = &items[0];
    assert!(
        (first["distance_km"].as_f64().unwrap() - 1.47).abs() < 0.05,
        "{first}"
    );
    assert_eq!(first["max_speed_kmh"], 36.0);
    assert_eq!(first["imei"], id.to_string());
    let stays = json_ok(
        &app,
        "GET",
        &format!("/api/v1/reports/stops?imei={id}&{window}"),
        None,
        200,
    )
    .await;
    assert_eq!(stays["items"].as_array().unwrap().len(), 1);
    // From the stop at stop 3 (the trip ends when the bus stopped) to driving off again.
    assert_eq!(stays["items"][0]["duration_s"], 75);
    let (s, head, csv) = app
        .request_full(
            app.token.as_deref(),
            "GET",
            &format!("/api/v1/reports/summary?vehicle={vehicle_id}&format=csv&{window}"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert!(head.contains("content-type: text/csv"), "{head}");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "imei,vehicle_id,trips,distance_km,driving_h,idle_h,max_speed_kmh,fuel_used_l,fuel_l_per_100km");
    assert!(
        lines[1].starts_with(&format!("{id},{vehicle_id},2,")),
        "{csv}"
    );

    // Punctuality against the timetable: stop 0 due at the minute of t0, reached within it.
    let report = json_ok(
        &app,
        "GET",
        &format!("/api/v1/reports/route?route={route_id}&{window}"),
        None,
        200,
    )
    .await;
    let rows = report["items"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    assert_eq!(
        (rows[0]["arrivals"].as_i64(), rows[0]["on_time"].as_i64()),
        (Some(1), Some(1)),
        "{report}"
    );
    let perf = json_ok(
        &app,
        "GET",
        &format!("/api/v1/analytics/route-performance?{window}"),
        None,
        200,
    )
    .await;
    assert_eq!(perf["items"][0]["arrivals"], 4);
    let fleet = json_ok(
        &app,
        "GET",
        &format!("/api/v1/analytics/fleet-summary?{window}"),
        None,
        200,
    )
    .await;
    assert_eq!(fleet["trips"], 2);
    // The same window in RFC 3339, as the API's other time parameters take it.
    let rfc = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let rfc_window = format!(
        "from={}&to={}",
        rfc(t0 as i64 - 1),
        rfc(now_ms() as i64 + 1)
    );
    let again = json_ok(
        &app,
        "GET",
        &format!("/api/v1/reports/trips?vehicle={vehicle_id}&{rfc_window}"),
        None,
        200,
    )
    .await;
    assert_eq!(again["items"], trips["items"]);
    let fleet_rfc = json_ok(
        &app,
        "GET",
        &format!("/api/v1/analytics/fleet-summary?{rfc_window}"),
        None,
        200,
    )
    .await;
    assert_eq!(fleet_rfc["trips"], 2);
    let (s, e) = app.get("/api/v1/reports/trips?from=yesterday&to=5").await;
    assert_eq!(s, 400, "{e}");
    assert!(e.contains("RFC 3339"), "{e}");
    let stats = json_ok(
        &app,
        "GET",
        &format!("/api/v1/analytics/vehicle/{vehicle_id}/stats?{window}"),
        None,
        200,
    )
    .await;
    let band = stats["speed_profile"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["from_kmh"] == 30)
        .unwrap()
        .clone();
    assert!(band["records"].as_i64().unwrap() > 20, "{stats}");
    let (s, e) = app.get("/api/v1/reports/trips?from=10&to=5").await;
    assert_eq!(s, 400, "{e}");
    let (s, _) = app
        .get(&format!("/api/v1/reports/trips?format=xml&{window}"))
        .await;
    assert_eq!(s, 400);

    // The tracker moves to another bus: the trips stay with the bus they were driven in.
    let other = json_ok(
        &app,
        "POST",
        "/api/v1/vehicles",
        Some(json!({"registration": "BUS-4"})),
        201,
    )
    .await;
    let other_id = other["id"].as_i64().unwrap();
    let moved = json!({"imei": id.to_string()});
    json_ok(
        &app,
        "POST",
        &format!("/api/v1/vehicles/{other_id}/assign-device"),
        Some(moved),
        200,
    )
    .await;
    let kept = json_ok(
        &app,
        "GET",
        &format!("/api/v1/reports/trips?vehicle={vehicle_id}&{window}"),
        None,
        200,
    )
    .await;
    let kept = kept["items"].as_array().unwrap();
    assert_eq!(kept.len(), 2);
    assert!(
        kept.iter().all(|t| t["vehicle_id"] == vehicle_id),
        "{kept:?}"
    );
    let none = json_ok(
        &app,
        "GET",
        &format!("/api/v1/reports/trips?vehicle={other_id}&{window}"),
        None,
        200,
    )
    .await;
    assert!(none["items"].as_array().unwrap().is_empty());

    // Timetable input is checked; routes and stops are replaced and deleted.
    for bad in [
        json!([{"departure": "25:00"}]),
        json!([{"departure": "8"}]),
        json!([{"departure": "08:00", "days": ["funday"]}]),
    ] {
        let (s, e) = app
            .request(
                "PUT",
                &format!("/api/v1/routes/{route_id}/schedules"),
                Some(&bad),
            )
            .await;
        assert_eq!(s, 400, "{bad}: {e}");
    }
    let (s, e) = app
        .request(
            "PUT",
            &format!("/api/v1/routes/{route_id}/stops"),
            Some(&json!([{"stop_id": stops[0]}])),
        )
        .await;
    assert_eq!(s, 400, "one stop is no route: {e}");
    let renamed = json_ok(
        &app,
        "PUT",
        &format!("/api/v1/routes/{route_id}"),
        Some(json!({"number": "3A", "name": "Centre – North", "active": false})),
        200,
    )
    .await;
    assert_eq!(
        (renamed["number"].as_str(), renamed["active"].as_bool()),
        (Some("3A"), Some(false))
    );
    let moved = json_ok(
        &app,
        "PUT",
        &format!("/api/v1/stops/{}", stops[3]),
        Some(json!({"code": "S3", "name": "North end", "lat": LAT + 0.02, "lon": LON})),
        200,
    )
    .await;
    assert_eq!(moved["name"], "North end");
    let spare = json_ok(
        &app,
        "POST",
        "/api/v1/stops",
        Some(json!({"code": "SX", "name": "Spare", "lat": LAT, "lon": LON})),
        201,
    )
    .await;
    let (s, _) = app
        .request("DELETE", &format!("/api/v1/stops/{}", spare["id"]), None)
        .await;
    assert_eq!(s, 204);

    // Off the route: no more tracking; the route goes on without it.
    let (s, _) = app
        .request(
            "DELETE",
            &format!("/api/v1/routes/{route_id}/vehicles/{vehicle_id}"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let on_route = json_ok(
        &app,
        "GET",
        &format!("/api/v1/routes/{route_id}/vehicles"),
        None,
        200,
    )
    .await;
    assert!(on_route["items"].as_array().unwrap().is_empty());
    let (s, _) = app
        .request("DELETE", &format!("/api/v1/routes/{route_id}"), None)
        .await;
    assert_eq!(s, 204);
    let (s, _) = app.get(&format!("/api/v1/routes/{route_id}")).await;
    assert_eq!(s, 404);
}

#[actix_rt::test]
async fn a_bus_on_its_route_sqlite() {
    route_run(TestApp::start(settings(|_| {})).await).await;
}

#[actix_rt::test]
async fn a_bus_on_its_route_postgres() {
    let (_, url) = fresh_pg().await;
    route_run(TestApp::start(settings(|s| s.database.url = url)).await).await;
}
