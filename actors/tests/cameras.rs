//! Camera entities and the ReID fusion aggregator as actors: two calibrated cameras see the same
//! two people walking; their tracked people come out of the aggregator as two global identities,
//! each placed on the floor by both cameras. A camera's state machine decides what it accepts.
//! Offline runs (`replay`) go through the same actors on the files' clock.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use actix::prelude::*;
use std::sync::{Arc, Mutex};
use urbanstream_actors::camera::{
    CameraActor, CameraCommand, CameraDetections, CameraState, GetStatus,
};
use urbanstream_actors::reid::{ReidFusionActor, Snapshot, TrackingUpdate};
use urbanstream_actors::replay;
use urbanstream_vision::fusion::FusionConfig;
use urbanstream_vision::geometry::{CalibrationSpec, FloorCalibration};
use urbanstream_vision::mot::DetRow;
use urbanstream_vision::offline::{OfflineConfig, SceneCamera};
use urbanstream_vision::tracker::{Detection, TrackerConfig};

struct Collector(Arc<Mutex<Vec<TrackingUpdate>>>);
impl Actor for Collector {
    type Context = Context<Self>;
}
impl Handler<TrackingUpdate> for Collector {
    type Result = ();
    fn handle(&mut self, msg: TrackingUpdate, _: &mut Self::Context) {
        self.0.lock().unwrap().push(msg);
    }
}

/// A camera 5 m up at `(cx, cy)`, looking down towards the room's middle (10, 7).
fn camera(cx: f64, cy: f64) -> (FloorCalibration, [[f64; 3]; 3], [f64; 3]) {
    let norm = |v: [f64; 3]| {
        let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        [v[0] / n, v[1] / n, v[2] / n]
    };
    let cross = |a: [f64; 3], b: [f64; 3]| {
        [
            a[1] * b[2] - a[2] * b[1],
            a[2] * b[0] - a[0] * b[2],
            a[0] * b[1] - a[1] * b[0],
        ]
    };
    let centre = [cx, cy, 5.0];
    let fwd = norm([10.0 - cx, 7.0 - cy, -5.0]);
    let right = norm(cross(fwd, [0.0, 0.0, 1.0]));
    let down = cross(fwd, right);
    let r = [right, down, fwd];
    let t = [0, 1, 2].map(|i| -(r[i][0] * centre[0] + r[i][1] * centre[1] + r[i][2] * centre[2]));
    let spec = CalibrationSpec {
        k: Some([[800.0, 0.0, 640.0], [0.0, 800.0, 360.0], [0.0, 0.0, 1.0]]),
        r: Some(r),
        t: Some(t),
        ..CalibrationSpec::default()
    };
    (FloorCalibration::from_spec(&spec).unwrap(), r, t)
}

/// The box a 1.7 m person standing at `(x, y)` makes in a camera (0.41 as wide as tall).
fn person_box(cam: &(FloorCalibration, [[f64; 3]; 3], [f64; 3]), x: f64, y: f64) -> [f64; 4] {
    let (_, r, t) = cam;
    let project = |p: [f64; 3]| {
        let c = [0, 1, 2].map(|i| r[i][0] * p[0] + r[i][1] * p[1] + r[i][2] * p[2] + t[i]);
        (800.0 * c[0] / c[2] + 640.0, 800.0 * c[1] / c[2] + 360.0)
    };
    let (u, v) = project([x, y, 0.0]);
    let (_, top) = project([x, y, 1.7]);
    let h = v - top;
    [u - 0.205 * h, top, 0.41 * h, h]
}

#[actix_rt::test]
async fn two_cameras_two_people_two_identities() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let collector = Collector(seen.clone()).start();
    let fusion = ReidFusionActor::new(FusionConfig::default(), vec![collector.recipient()]).start();
    let cals = [camera(0.0, 0.0), camera(20.0, 0.0)];
    let cams: Vec<_> = cals
        .iter()
        .enumerate()
        .map(|(i, c)| {
            CameraActor::new(
                i as u32,
                10.0,
                c.0.clone(),
                TrackerConfig::default(),
                fusion.clone().recipient(),
            )
            .start()
        })
        .collect();
    for c in &cams {
        assert_eq!(
            c.send(CameraCommand::Start).await.unwrap(),
            Ok(CameraState::Running)
        );
    }
    for k in 0..60 {
        let t = k as f64 * 0.1;
        let people = [(6.0 + 0.8 * t, 6.0), (14.0 - 0.8 * t, 9.0)];
        for (c, cal) in cams.iter().zip(&cals) {
            let detections = people
                .iter()
                .map(|&(x, y)| Detection {
                    bbox: person_box(cal, x, y),
                    score: 0.9,
                    embedding: None,
                })
                .collect();
            c.send(CameraDetections {
                time_s: t,
                detections,
            })
            .await
            .unwrap();
        }
    }
    let snap = fusion.send(Snapshot).await.unwrap();
    assert_eq!(snap.active, 2, "{snap:?}");
    let updates = seen.lock().unwrap();
    let last = updates
        .iter()
        .rev()
        .find(|u| u.identities.len() == 2)
        .expect("an update with both people");
    for id in &last.identities {
        assert_eq!(id.cameras.len(), 2, "seen by both cameras: {id:?}");
        // Each identity stands where one of the people is.
        let t = last.time_s;
        let near = [(6.0 + 0.8 * t, 6.0), (14.0 - 0.8 * t, 9.0)]
            .iter()
            .any(|p| (p.0 - id.x_m).hypot(p.1 - id.y_m) < 0.3);
        assert!(near, "{id:?} at t={t}");
    }
    let ids: std::collections::BTreeSet<u64> = updates
        .iter()
        .skip(5)
        .flat_map(|u| u.identities.iter().map(|i| i.global_id))
        .collect();
    assert_eq!(ids.len(), 2, "the same two ids throughout: {ids:?}");
}

#[actix_rt::test]
async fn a_camera_takes_frames_only_while_running() {
    let fusion = ReidFusionActor::new(FusionConfig::default(), Vec::new()).start();
    let cam = CameraActor::new(
        7,
        10.0,
        camera(0.0, 0.0).0,
        TrackerConfig::default(),
        fusion.recipient(),
    )
    .start();
    let frame = |t: f64| CameraDetections {
        time_s: t,
        detections: vec![Detection {
            bbox: [600.0, 300.0, 40.0, 100.0],
            score: 0.9,
            embedding: None,
        }],
    };
    cam.send(frame(0.0)).await.unwrap();
    let s = cam.send(GetStatus).await.unwrap();
    assert_eq!((s.state, s.frames, s.dropped), (CameraState::Stopped, 0, 1));
    assert!(
        cam.send(CameraCommand::Pause).await.unwrap().is_err(),
        "a stopped camera cannot pause"
    );
    cam.send(CameraCommand::Start).await.unwrap().unwrap();
    cam.send(frame(0.0)).await.unwrap();
    cam.send(frame(0.1)).await.unwrap();
    cam.send(frame(0.05)).await.unwrap(); // behind the clock
    assert_eq!(
        cam.send(CameraCommand::Pause).await.unwrap(),
        Ok(CameraState::Paused)
    );
    cam.send(frame(0.2)).await.unwrap();
    let s = cam.send(GetStatus).await.unwrap();
    assert_eq!(
        (s.state, s.frames, s.dropped, s.live_tracks),
        (CameraState::Paused, 2, 3, 1)
    );
    assert_eq!(
        cam.send(CameraCommand::Resume).await.unwrap(),
        Ok(CameraState::Running)
    );
    assert_eq!(
        cam.send(CameraCommand::Fail).await.unwrap(),
        Ok(CameraState::Failed)
    );
    let s = cam.send(GetStatus).await.unwrap();
    assert_eq!(s.live_tracks, 0, "a failed run keeps no tracks");
    assert_eq!(
        cam.send(CameraCommand::Start).await.unwrap(),
        Ok(CameraState::Running)
    );
}

#[actix_rt::test]
async fn the_last_instant_is_fused_and_people_who_leave_are_reported_gone() {
    use std::time::Duration;
    use urbanstream_vision::fusion::FusionEvent;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let collector = Collector(seen.clone()).start();
    let cfg = FusionConfig {
        coast_s: 0.3,
        ..FusionConfig::default()
    };
    let fusion = ReidFusionActor::new(cfg, vec![collector.recipient()])
        .with_timing(Duration::from_millis(20), Duration::from_millis(50))
        .start();
    let cam_pose = camera(0.0, 0.0);
    let cam = CameraActor::new(
        0,
        10.0,
        cam_pose.0.clone(),
        TrackerConfig::default(),
        fusion.clone().recipient(),
    )
    .start();
    cam.send(CameraCommand::Start).await.unwrap().unwrap();
    for k in 0..10 {
        let detections = vec![Detection {
            bbox: person_box(&cam_pose, 8.0, 6.0),
            score: 0.9,
            embedding: None,
        }];
        cam.send(CameraDetections {
            time_s: k as f64 * 0.1,
            detections,
        })
        .await
        .unwrap();
    }
    // No later instant comes: the last one is fused once the camera has been quiet a moment,
    // and the person, seen no more, leaves as the clock runs on.
    tokio::time::sleep(Duration::from_millis(800)).await;
    {
        let updates = seen.lock().unwrap();
        assert!(
            updates
                .iter()
                .any(|u| (u.time_s - 0.9).abs() < 1e-9 && u.identities.len() == 1),
            "the last instant was fused"
        );
        assert!(
            updates.iter().any(|u| u
                .events
                .iter()
                .any(|e| matches!(e, FusionEvent::Left { .. }))),
            "a left event"
        );
    }
    assert_eq!(fusion.send(Snapshot).await.unwrap().active, 0);
}

/// Two people crossing the room seen by two cameras at 10 fps, as a scene's files give them.
fn two_camera_scene() -> Vec<SceneCamera> {
    [camera(0.0, 0.0), camera(20.0, 0.0)]
        .into_iter()
        .enumerate()
        .map(|(i, cal)| {
            let mut detections = Vec::new();
            for k in 1..=80u64 {
                let t = (k - 1) as f64 * 0.1;
                for (x, y) in [(6.0 + 0.6 * t, 6.0), (14.0 - 0.6 * t, 9.0)] {
                    detections.push(DetRow {
                        frame: k,
                        id: -1,
                        bbox: person_box(&cal, x, y),
                        score: 0.9,
                        line: detections.len(),
                    });
                }
            }
            SceneCamera {
                id: i as u32,
                calibration: cal.0,
                size: Some([1280, 720]),
                fps: 10.0,
                detections,
                embeddings: None,
            }
        })
        .collect()
}

#[actix_rt::test]
async fn a_scene_replayed_through_the_actors_gives_one_id_per_person_on_every_camera() {
    let scene = two_camera_scene();
    let cfg = OfflineConfig::default();
    let result = replay::run_mtmc(&scene, &cfg).await.unwrap();
    assert_eq!(result.detections, 2 * 80 * 2);
    assert_eq!(result.identities, 2, "{:?}", result.events);
    // Both cameras write both people under the same two global ids, every frame.
    let ids = |cam: u32| -> std::collections::BTreeSet<u64> {
        result.per_camera[&cam].iter().map(|r| r.1).collect()
    };
    assert_eq!(ids(0).len(), 2);
    assert_eq!(ids(0), ids(1));
    assert_eq!(result.per_camera[&0].len(), 160);
    // The floor paths follow the people: frame k is at t = (k − 1) / 10.
    for &(frame, _, x, y) in &result.floor {
        let t = (frame - 1) as f64 * 0.1;
        let near = [(6.0 + 0.6 * t, 6.0), (14.0 - 0.6 * t, 9.0)]
            .iter()
            .any(|p| (p.0 - x).hypot(p.1 - y) < 0.25);
        assert!(near, "frame {frame}: ({x:.2}, {y:.2})");
    }
    // On the scene's clock alone: a second run, with the machine busy, is the same run.
    let busy = std::thread::spawn(|| {
        let until = std::time::Instant::now() + std::time::Duration::from_millis(300);
        let mut n = 0u64;
        while std::time::Instant::now() < until {
            n = n.wrapping_add(1);
        }
        n
    });
    let again = replay::run_mtmc(&scene, &cfg).await.unwrap();
    let _ = busy.join();
    assert_eq!(again.floor, result.floor);
    assert_eq!(again.per_camera, result.per_camera);
}

#[actix_rt::test]
async fn a_detection_file_is_tracked_by_a_camera_actor() {
    let scene = two_camera_scene();
    // One camera's file with every 5th frame missing: the tracks coast and the gaps are filled.
    let rows: Vec<DetRow> = scene[0]
        .detections
        .iter()
        .filter(|r| r.frame % 5 != 0)
        .cloned()
        .collect();
    let out = replay::run_single(&rows, None, 10.0, &OfflineConfig::default())
        .await
        .unwrap();
    let mut per = std::collections::BTreeMap::<u64, Vec<u64>>::new();
    for r in &out {
        per.entry(r.1).or_default().push(r.0);
    }
    assert_eq!(per.len(), 2, "{per:?}");
    for frames in per.values() {
        // A track is confirmed after its first frames; from then on every frame is there, to
        // the file's last (79: 80 was dropped with every 5th).
        let first = frames[0];
        assert!(first <= 3, "{frames:?}");
        assert_eq!(frames, &(first..=79).collect::<Vec<_>>());
    }
}
