//! A camera whose video the server decodes itself (`--features video`): Debian's `vtest.avi`
//! (a real pedestrian sequence) played at its own rate, people found by the HOG detector and
//! tracked; a WebSocket client sees them on the floor and watches the picture, as binary JPEG
//! messages with the tracks drawn on it, for as long as it asks.

#![cfg(feature = "video")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a failed unwrap is a failed test.

mod common;

use std::time::{Duration, Instant};

use common::{settings, TestApp, WAIT};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use urbanstream::config::{CameraEntry, VideoEntry};
use urbanstream_vision::geometry::CalibrationSpec;

const VTEST: &str = "/usr/share/doc/opencv-doc/examples/data/vtest.avi";

fn video_camera(id: u32, source: &str) -> CameraEntry {
    CameraEntry {
        id,
        node: String::new(),
        stream: String::new(),
        source: Some(source.into()),
        video: VideoEntry {
            detect_every: 2,
            picture_bytes: 30_000,
            ..VideoEntry::default()
        },
        roi: None,
        fps: 10.0,
        size: Some([768, 576]),
        // A centimetre a pixel: the 768 × 576 picture covers 7.68 × 5.76 m.
        calibration: CalibrationSpec {
            h_img_to_floor: Some([[0.01, 0.0, 0.0], [0.0, 0.01, 0.0], [0.0, 0.0, 1.0]]),
            ..CalibrationSpec::default()
        },
        calibration_file: None,
    }
}

#[actix_rt::test]
async fn a_video_camera_tracks_people_and_shows_its_picture_while_watched() {
    let app = TestApp::start(settings(|s| {
        s.cameras.list.push(video_camera(0, VTEST));
    }))
    .await;
    let cams = app.get("/api/v1/cameras").await;
    assert!(cams.1.contains(VTEST), "{}", cams.1);

    let (mut ws, _) = tokio_tungstenite::connect_async(app.ws_url())
        .await
        .unwrap();
    ws.send(Message::Text(
        json!({"op": "subscribe", "topics": ["tracking", "camera:0", "camera:9"]})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();

    let (mut pictures, mut people, mut status): (Vec<Vec<u8>>, usize, Option<Value>) =
        (Vec::new(), 0, None);
    let mut refused_unknown = false;
    let until = Instant::now() + Duration::from_secs(40);
    while Instant::now() < until && (pictures.len() < 5 || people == 0 || status.is_none()) {
        let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await
        else {
            continue;
        };
        match msg {
            Message::Binary(b) => pictures.push(b.to_vec()),
            Message::Text(t) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                match v["type"].as_str() {
                    Some("tracking_update") => {
                        people = people.max(v["data"]["persons"].as_array().unwrap().len());
                    }
                    // The first report has no rate yet: it needs one before it.
                    Some("system_status")
                        if v["data"]["cameras"][0]["fps"].as_f64().unwrap_or(0.0) > 0.0 =>
                    {
                        status = Some(v)
                    }
                    Some("error") => {
                        assert_eq!(v["error"]["code"], "bad_topic", "{v}");
                        refused_unknown = true;
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    assert!(refused_unknown, "camera:9 has no picture and says so");
    assert!(
        people > 0,
        "the people walking in vtest.avi are tracked on the floor"
    );
    let status = status.expect("a system_status with a frame rate");
    assert_eq!(status["data"]["cameras"][0]["state"], "running", "{status}");
    assert!(
        status["data"]["cameras"][0]["fps"].as_f64().unwrap() > 1.0,
        "{status}"
    );
    assert!(pictures.len() >= 5, "{} pictures", pictures.len());
    let now_ms = chrono::Utc::now().timestamp_millis();
    for p in &pictures {
        assert_eq!(u32::from_be_bytes(p[0..4].try_into().unwrap()), 0);
        let taken = i64::from_be_bytes(p[4..12].try_into().unwrap());
        assert!((now_ms - taken).abs() < 60_000, "taken at {taken}");
        let jpeg = &p[12..];
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "a JPEG starts with SOI");
        assert_eq!(&jpeg[jpeg.len() - 2..], &[0xFF, 0xD9], "and ends with EOI");
        assert!(jpeg.len() < 200_000, "{} bytes", jpeg.len());
    }
    // Pictures come at the capped rate (5 a second), not at the video's.
    let times: Vec<i64> = pictures
        .iter()
        .map(|p| i64::from_be_bytes(p[4..12].try_into().unwrap()))
        .collect();
    let span = (times[times.len() - 1] - times[0]) as f64 / 1000.0;
    let rate = (times.len() - 1) as f64 / span.max(0.001);
    assert!(rate < 6.5, "{rate:.1} pictures a second");

    // Unsubscribed: the pictures stop.
    ws.send(Message::Text(
        json!({"op": "unsubscribe", "topics": ["camera:0"]})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let quiet_from = Instant::now() + Duration::from_millis(500);
    let mut late = 0;
    while Instant::now() < quiet_from + Duration::from_secs(2) {
        if let Ok(Some(Ok(Message::Binary(_)))) =
            tokio::time::timeout(Duration::from_millis(200), ws.next()).await
        {
            if Instant::now() > quiet_from {
                late += 1;
            }
        }
    }
    assert_eq!(late, 0, "pictures after unsubscribing");
    assert!(app.metric("urbanstream_camera_frames_encoded_total").await >= 5.0);
    // The people it found are stored like an edge node's detections, counted per camera.
    let mut stored = 0;
    let until = Instant::now() + WAIT;
    while stored == 0 && Instant::now() < until {
        let (code, body) = app.get("/api/v1/analytics/detections?camera_id=0").await;
        assert_eq!(code, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        stored = v["cameras"][0]["total"].as_i64().unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(stored > 0, "video detections are stored");

    // A viewer sees positions, not pictures of people.
    let viewer = app.user_token("watcher", "viewer").await;
    let url = format!("ws://{}/ws?token={viewer}", app.server.http_addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ws.send(Message::Text(
        json!({"op": "subscribe", "topics": ["camera:0"]})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let until = Instant::now() + WAIT;
    let mut forbidden = false;
    while Instant::now() < until && !forbidden {
        if let Ok(Some(Ok(Message::Text(t)))) =
            tokio::time::timeout(Duration::from_secs(1), ws.next()).await
        {
            let v: Value = serde_json::from_str(&t).unwrap();
            forbidden = v["error"]["code"] == "forbidden";
        }
    }
    assert!(forbidden);
}

#[actix_rt::test]
async fn a_video_camera_whose_source_is_missing_fails_and_the_server_runs_on() {
    let app = TestApp::start(settings(|s| {
        s.cameras
            .list
            .push(video_camera(0, "/nonexistent/lobby.mp4"));
    }))
    .await;
    let mut state = String::new();
    let until = Instant::now() + WAIT;
    while Instant::now() < until {
        let (code, body) = app.get("/api/v1/cameras/0").await;
        assert_eq!(code, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        state = v["state"].as_str().unwrap().to_owned();
        if state == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state, "failed");
    assert_eq!(app.get("/health").await.0, 200);
}

#[actix_rt::test]
async fn an_operator_watches_a_video_cameras_picture_on_the_dashboard() {
    let app = TestApp::start(settings(|s| {
        s.cameras.list.push(video_camera(0, VTEST));
    }))
    .await;
    let password = "oona-password";
    let (code, body) = app
        .request(
            "POST",
            "/api/v1/users",
            Some(&json!({"username": "oona", "password": password, "role": "OPERATOR"})),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let b = common::browser::Browser::start().await;
    b.goto(&format!("http://{}/#/people", app.server.http_addr))
        .await;
    b.sign_in("oona", password).await;
    b.wait_for(
        "!!document.querySelector('#camera-watch button[data-watch=\"0\"]')",
        WAIT,
    )
    .await;
    b.eval("document.querySelector('#camera-watch button[data-watch=\"0\"]').click()")
        .await;
    // The picture arrives and is drawn: a real decoded JPEG, scaled to 640 wide.
    b.wait_for(
        "document.getElementById('camera-picture').naturalWidth === 640 && !document.getElementById('camera-picture').hidden",
        WAIT,
    )
    .await;
    b.wait_for(
        "document.getElementById('camera-picture-caption').textContent.startsWith('Camera 0 ·')",
        WAIT,
    )
    .await;
    if let Some(dir) = std::env::var_os("URBANSTREAM_SCREENSHOTS") {
        b.eval("document.getElementById('camera-picture').scrollIntoView()")
            .await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        b.screenshot(&std::path::PathBuf::from(dir).join("camera-picture.png"))
            .await;
    }
    // Hidden again: the subscription ends, and the server stops drawing for this viewer.
    b.eval("document.querySelector('#camera-watch button[data-watch=\"0\"]').click()")
        .await;
    b.wait_for("document.getElementById('camera-picture').hidden", WAIT)
        .await;
}
