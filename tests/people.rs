//! Tracking sessions and what they record, on both databases: two people walk through a zone
//! seen by two cameras of an edge node; the session's people, trajectories, journeys, zone
//! occupancy, heatmap, detection counts, exports and report are read back over REST; the
//! session is paused, stopped and a new one started; roles decide who reads what.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a failed unwrap is a failed test.

mod common;

use std::time::{Duration, Instant};

use common::mqtt::{MqttNode, NodeOptions};
use common::scene::{camera, frame_message, pose, two_walkers};
use common::{fresh_pg, settings, TestApp};
use serde_json::{json, Value};

/// Frames sent: 8 seconds at 10 a second.
const FRAMES: i64 = 80;

async fn get_json(app: &TestApp, path: &str) -> Value {
    let (s, b) = app.get(path).await;
    assert_eq!(s, 200, "GET {path}: {b}");
    serde_json::from_str(&b).unwrap()
}

async fn send_json(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let (s, b) = app.request(method, path, body.as_ref()).await;
    (s, serde_json::from_str(&b).unwrap_or(Value::Null))
}

/// Polls `path` until `done` holds for its JSON (10 s at most).
async fn until(app: &TestApp, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = get_json(app, path).await;
        if done(&v) || Instant::now() > deadline {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn sessions_record_people(database_url: Option<String>) {
    let poses = [pose(0.0, 0.0), pose(20.0, 0.0)];
    let app = TestApp::start(settings(|s| {
        if let Some(url) = database_url {
            s.database.url = url;
        }
        s.edge.register_unknown = true;
        s.edge.authenticate = false;
        s.cameras.environment.width_m = 20.0;
        s.cameras.environment.height_m = 14.0;
        s.cameras.record.appearance = true;
        for (i, p) in poses.iter().enumerate() {
            s.cameras.list.push(camera(i as u32, "box-1", p));
        }
    }))
    .await;

    // The server opened a session at start; a second one is refused while it is open.
    let list = get_json(&app, "/api/v1/sessions").await;
    let sessions = list["items"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{list}");
    assert_eq!(sessions[0]["state"], "running");
    assert_eq!(sessions[0]["started_by"], "system");
    let sid = sessions[0]["id"].as_i64().unwrap();
    let (s, _) = send_json(&app, "POST", "/api/v1/sessions", None).await;
    assert_eq!(s, 409);
    let env = get_json(&app, "/api/v1/environments/site").await;
    assert_eq!(env["session_id"], sid);
    assert_eq!(env["cameras"], 2);
    let cams = get_json(&app, "/api/v1/environments/site/cameras").await;
    assert_eq!(cams["items"][1]["calibration"]["K"][0][0], 800.0, "{cams}");

    // A doorway across the room's middle: both people cross it (x from 9 to 11 m).
    let bad = json!({"name": "bow", "polygon": [[0, 0], [2, 2], [2, 0], [0, 2]]});
    assert_eq!(
        send_json(&app, "POST", "/api/v1/zones", Some(bad)).await.0,
        400
    );
    let zone = app
        .created(
            "/api/v1/zones",
            json!({"name": "door", "kind": "entrance", "polygon": [[9, 0], [11, 0], [11, 14], [9, 14]]}),
        )
        .await;
    let zid = zone["id"].as_i64().unwrap();
    let again = json!({"name": "door", "polygon": [[0, 0], [1, 0], [1, 1]]});
    assert_eq!(
        send_json(&app, "POST", "/api/v1/zones", Some(again))
            .await
            .0,
        409
    );
    assert_eq!(
        get_json(&app, "/api/v1/environments/site/zones").await["items"][0]["polygon"][2],
        json!([11.0, 14.0])
    );

    let mut node = MqttNode::connect(
        app.server.mqtt_addr.unwrap(),
        "box-1",
        NodeOptions::default(),
    )
    .await
    .unwrap();
    // Frames at the cameras' own pace, 10 per second, stamped as they are taken.
    let start_ms = chrono::Utc::now().timestamp_millis();
    for k in 0..FRAMES {
        let due = start_ms + k * 100 - chrono::Utc::now().timestamp_millis();
        if due > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(due as u64)).await;
        }
        let msg = frame_message("box-1", &poses, start_ms, k, &two_walkers(k as f64 * 0.1));
        node.publish_acked("edge-qi/detection/box-1", msg.to_string())
            .await;
    }

    // In view now: two people, each seen by both cameras, with a recent path.
    let active = until(&app, "/api/v1/tracking/active", |v| v["count"] == 2).await;
    assert_eq!(active["session_id"], sid, "{active}");
    for p in active["persons"].as_array().unwrap() {
        assert!(!p["trajectory_path"].as_array().unwrap().is_empty(), "{p}");
    }

    // Recorded: two identities, both cameras each, about 6.4 m walked.
    let path = format!("/api/v1/persons?session_id={sid}");
    // Everything recorded: both last seen in the final frame (the recorder writes each second).
    let last_frame_ms = start_ms + (FRAMES - 1) * 100;
    let persons = until(&app, &path, |v| {
        v["items"].as_array().is_some_and(|a| {
            a.len() == 2
                && a.iter().all(|p| {
                    p["distance_m"].as_f64().unwrap_or(0.0) > 5.0
                        && p["last_seen"]
                            .as_str()
                            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                            .is_some_and(|t| t.timestamp_millis() >= last_frame_ms)
                })
        })
    })
    .await;
    let items = persons["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{persons}");
    for p in items {
        assert_eq!(p["cameras_seen"], json!([0, 1]), "{p}");
        let d = p["distance_m"].as_f64().unwrap();
        assert!((5.0..7.5).contains(&d), "walked 6.3 m, recorded {d}: {p}");
    }
    let by_camera = get_json(
        &app,
        &format!("/api/v1/persons?camera_id=1&session_id={sid}"),
    )
    .await;
    assert_eq!(by_camera["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        get_json(&app, "/api/v1/persons?camera_id=7").await["items"],
        json!([])
    );

    // Each trajectory follows its walker, a point per half second at most.
    let mut points_total = 0;
    for p in items {
        let id = p["id"].as_i64().unwrap();
        let traj = get_json(&app, &format!("/api/v1/persons/{id}/trajectory")).await;
        let pts = traj["path_points"].as_array().unwrap();
        assert!((12..=18).contains(&pts.len()), "{} points", pts.len());
        points_total += pts.len();
        for q in pts {
            let t = (chrono::DateTime::parse_from_rfc3339(q["timestamp"].as_str().unwrap())
                .unwrap()
                .timestamp_millis()
                - start_ms) as f64
                / 1000.0;
            let (x, y) = (q["x"].as_f64().unwrap(), q["y"].as_f64().unwrap());
            assert!(
                two_walkers(t)
                    .iter()
                    .any(|w| (w.0 - x).hypot(w.1 - y) < 0.6),
                "{q} at t={t}"
            );
        }
        // The journey: both cameras, then the doorway for about 2.5 s.
        let j = get_json(&app, &format!("/api/v1/persons/{id}/journey")).await;
        let steps = j["steps"].as_array().unwrap();
        assert!(
            steps
                .iter()
                .any(|s| s["kind"] == "camera" && s["camera_id"] == 0),
            "{j}"
        );
        assert!(
            steps
                .iter()
                .any(|s| s["kind"] == "camera" && s["camera_id"] == 1),
            "{j}"
        );
        let door: Vec<_> = steps.iter().filter(|s| s["kind"] == "zone").collect();
        assert_eq!(door.len(), 1, "{j}");
        assert_eq!(door[0]["zone"], "door");
        let dwell = door[0]["duration_s"].as_f64().unwrap();
        assert!((1.8..3.2).contains(&dwell), "dwell {dwell}: {j}");
    }

    // Zone occupancy over the scene's own window: two visits, one bucket holds both.
    let iso = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    };
    let occ = get_json(
        &app,
        &format!(
            "/api/v1/analytics/occupancy?session_id={sid}&zone_id={zid}&bucket_s=3600&start_time={}&end_time={}",
            iso(start_ms - 1000),
            iso(start_ms + 10_000)
        ),
    )
    .await;
    let z = &occ["zones"][0];
    assert_eq!(z["visits"], 2, "{occ}");
    assert_eq!(z["buckets"][0]["present"], 2, "{occ}");
    assert_eq!(z["buckets"][0]["peak"], 2, "{occ}");

    // The heatmap counts every point on the 20 × 14 m plan.
    let heat = get_json(
        &app,
        &format!("/api/v1/analytics/heatmap?session_id={sid}&cell_m=1"),
    )
    .await;
    assert_eq!(
        (heat["columns"].as_u64(), heat["rows"].as_u64()),
        (Some(20), Some(14))
    );
    let counted: u64 = heat["counts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(|c| c.as_u64().unwrap()))
        .sum();
    assert_eq!(counted as usize, points_total, "{heat}");
    // The walk along y = 6 m lands on the rows either side of that line, x from 6 m on.
    let cell = |r: usize, c: usize| heat["counts"][r][c].as_u64().unwrap();
    assert!(
        (6..11).all(|c| cell(5, c) + cell(6, c) > 0),
        "row y=6 walked through: {heat}"
    );

    // Detections per camera: every person box the node sent for that camera's stream.
    let det = get_json(
        &app,
        &format!(
            "/api/v1/analytics/detections?session_id={sid}&end_time={}",
            urlencode(&chrono::Utc::now().to_rfc3339())
        ),
    )
    .await;
    for c in det["cameras"].as_array().unwrap() {
        assert_eq!(c["total"].as_i64().unwrap(), 2 * FRAMES, "{det}");
    }

    let tracking = get_json(
        &app,
        &format!("/api/v1/analytics/tracking?session_id={sid}"),
    )
    .await;
    assert_eq!(tracking["persons"], 2, "{tracking}");
    assert_eq!(tracking["persons_seen_by_several_cameras"], 2);
    assert_eq!(tracking["cameras"].as_array().unwrap().len(), 2);

    // Exports: every recorded point as CSV; the report.
    let (s, csv) = app
        .get(&format!("/api/v1/export/tracking?session_id={sid}"))
        .await;
    assert_eq!(s, 200);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "timestamp,session_id,global_id,x_m,y_m,cameras");
    assert_eq!(lines.len() - 1, points_total, "{csv}");
    let (s, js) = app
        .get(&format!(
            "/api/v1/export/tracking?session_id={sid}&format=json"
        ))
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&js)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        points_total
    );
    assert_eq!(app.get("/api/v1/export/tracking").await.0, 400);
    let (s, report) = send_json(
        &app,
        "POST",
        "/api/v1/export/report",
        Some(json!({"session_id": sid})),
    )
    .await;
    assert_eq!(s, 200, "{report}");
    assert_eq!(report["tracking"]["persons"], 2);
    assert_eq!(report["zones"][0]["visits"], 2);

    // Roles: a viewer sees live tracking only; an analyst reads people and analytics but
    // does not run sessions.
    let viewer = app.user_token("vera", "VIEWER").await;
    let analyst = app.user_token("ana", "ANALYST").await;
    assert_eq!(
        app.request_as(Some(&viewer), "GET", "/api/v1/tracking/active", None)
            .await
            .0,
        200
    );
    assert_eq!(
        app.request_as(Some(&viewer), "GET", &path, None).await.0,
        403
    );
    assert_eq!(
        app.request_as(Some(&viewer), "GET", "/api/v1/analytics/heatmap", None)
            .await
            .0,
        403
    );
    assert_eq!(
        app.request_as(Some(&analyst), "GET", &path, None).await.0,
        200
    );
    let stop = format!("/api/v1/sessions/{sid}/stop");
    assert_eq!(
        app.request_as(Some(&analyst), "POST", &stop, None).await.0,
        403
    );

    // Pause, resume, stop; then a new session starts with its own ids.
    let (s, v) = send_json(&app, "POST", &format!("/api/v1/sessions/{sid}/pause"), None).await;
    assert_eq!((s, v["state"].as_str()), (200, Some("paused")), "{v}");
    assert!(
        v["cameras"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["state"] == "paused"),
        "{v}"
    );
    assert_eq!(
        send_json(&app, "POST", &format!("/api/v1/sessions/{sid}/pause"), None)
            .await
            .0,
        409
    );
    let (s, v) = send_json(
        &app,
        "POST",
        &format!("/api/v1/sessions/{sid}/resume"),
        None,
    )
    .await;
    assert_eq!((s, v["state"].as_str()), (200, Some("running")), "{v}");
    let (s, v) = send_json(&app, "POST", &stop, None).await;
    assert_eq!((s, v["state"].as_str()), (200, Some("stopped")), "{v}");
    assert!(v["ended_ms"].as_i64().is_some());
    assert_eq!(
        get_json(&app, "/api/v1/cameras/0").await["state"],
        "stopped"
    );
    assert_eq!(send_json(&app, "POST", &stop, None).await.0, 409);
    let (s, v) = send_json(&app, "POST", "/api/v1/sessions", None).await;
    assert_eq!(s, 201, "{v}");
    let sid2 = v["id"].as_i64().unwrap();
    assert!(sid2 > sid);
    assert_eq!(v["persons_total"], 0);
    assert_eq!(
        get_json(&app, "/api/v1/cameras/1").await["state"],
        "running"
    );
    // The first session's records stay.
    assert_eq!(
        get_json(&app, &path).await["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // The same two people walk by again, in the new session.
    let again_ms = chrono::Utc::now().timestamp_millis();
    for k in 0..30 {
        let due = again_ms + k * 100 - chrono::Utc::now().timestamp_millis();
        if due > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(due as u64)).await;
        }
        let mut msg = frame_message("box-1", &poses, again_ms, k, &two_walkers(k as f64 * 0.1));
        // The node restarted in between: a new boot, its sequence from 1 again.
        msg["boot"] = json!(2);
        node.publish_acked("edge-qi/detection/box-1", msg.to_string())
            .await;
    }
    let path2 = format!("/api/v1/persons?session_id={sid2}");
    let second = until(&app, &path2, |v| {
        v["items"].as_array().is_some_and(|a| a.len() == 2)
    })
    .await;
    assert_eq!(second["items"].as_array().unwrap().len(), 2, "{second}");
    // Search by appearance: each first-session person is found again in the second session,
    // well above the other person (a different look).
    for p in items.iter() {
        let id = p["id"].as_i64().unwrap();
        let sim = until(&app, &format!("/api/v1/persons/{id}/similar"), |v| {
            v["items"].as_array().is_some_and(|a| a.len() == 3)
        })
        .await;
        let found = sim["items"].as_array().unwrap();
        assert_eq!(found.len(), 3, "{sim}");
        assert_eq!(found[0]["person"]["session_id"], sid2, "{sim}");
        assert!(found[0]["similarity"].as_f64().unwrap() > 0.9, "{sim}");
        assert!(found[1]["similarity"].as_f64().unwrap() < 0.5, "{sim}");
        // The same walker, by where they walked: y = 6 m or 9 m, both times.
        let (y1, y2) = (
            first_y(&app, id).await,
            first_y(&app, found[0]["person"]["id"].as_i64().unwrap()).await,
        );
        assert!((y1 - y2).abs() < 1.0, "{y1} vs {y2}");
        let only_first = get_json(
            &app,
            &format!("/api/v1/persons/{id}/similar?session_id={sid}&min_similarity=-1"),
        )
        .await;
        assert_eq!(
            only_first["items"].as_array().unwrap().len(),
            1,
            "{only_first}"
        );
        let close = get_json(
            &app,
            &format!("/api/v1/persons/{id}/similar?min_similarity=0.9"),
        )
        .await;
        assert_eq!(close["items"].as_array().unwrap().len(), 1, "{close}");
    }
    assert_eq!(app.get("/api/v1/persons/999999/similar").await.0, 404);
    assert_eq!(
        app.get(&format!(
            "/api/v1/persons/{}/similar?limit=0",
            items[0]["id"]
        ))
        .await
        .0,
        400
    );
    assert_eq!(app.get("/api/v1/sessions/999999").await.0, 404);
    assert_eq!(
        app.request("DELETE", &format!("/api/v1/zones/{zid}"), None)
            .await
            .0,
        204
    );
    assert_eq!(app.get(&format!("/api/v1/zones/{zid}")).await.0, 404);
    assert!(app.metric_sum("urbanstream_people_rows_total").await > 0.0);
}

/// Where a recorded person was first placed, across the room (m).
async fn first_y(app: &TestApp, person: i64) -> f64 {
    let t = get_json(app, &format!("/api/v1/persons/{person}/trajectory")).await;
    t["path_points"][0]["y"].as_f64().unwrap()
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

#[actix_rt::test]
async fn sessions_record_people_on_sqlite() {
    sessions_record_people(None).await;
}

#[actix_rt::test]
async fn sessions_record_people_on_postgres() {
    let (_, url) = fresh_pg().await;
    sessions_record_people(Some(url)).await;
}
