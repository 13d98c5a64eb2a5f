//! Live video cameras at real time through the actors `serve` runs: N cameras each playing
//! Debian's `vtest.avi` (768 × 576, a real pedestrian sequence) at its own rate, people found
//! by the HOG detector on the cameras' decode/detect threads, tracked by the camera actors and
//! fused by one ReID fusion actor.
//!   cargo bench --features video --bench live_cameras -- [CAMERAS] [SECONDS] [DETECT_EVERY]
//!   (defaults 4, 30, 1)
//! Prints, per camera and in all: frames tracked, frames skipped because detection fell
//! behind (the dropped share), the mean detection time, and the process's CPU use in cores.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A failed unwrap is a failed run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use urbanstream::config::{CameraEntry, VideoEntry};
use urbanstream_actors::camera::{CameraActor, CameraCommand, CameraTap, GetStatus};
use urbanstream_actors::reid::ReidFusionActor;
use urbanstream_vision::fusion::FusionConfig;
use urbanstream_vision::geometry::{CalibrationSpec, FloorCalibration};
use urbanstream_vision::tracker::TrackerConfig;

const VTEST: &str = "/usr/share/doc/opencv-doc/examples/data/vtest.avi";

/// User and system CPU seconds of this process.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 of stat (utime, stime), counted after the command name.
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let cameras = args.first().copied().unwrap_or(4) as u32;
    let seconds = args.get(1).copied().unwrap_or(30);
    let every = args.get(2).copied().unwrap_or(1) as u32;
    assert!(
        std::path::Path::new(VTEST).exists(),
        "{VTEST} is missing: apt-get install opencv-doc"
    );
    actix::System::new().block_on(async move {
        let spec = CalibrationSpec {
            h_img_to_floor: Some([[0.01, 0.0, 0.0], [0.0, 0.01, 0.0], [0.0, 0.0, 1.0]]),
            ..CalibrationSpec::default()
        };
        let fusion = ReidFusionActor::new(FusionConfig::default(), Vec::new()).start();
        let mut running = Vec::new();
        for id in 0..cameras {
            let tap = Arc::new(CameraTap::default());
            let cal = FloorCalibration::from_spec(&spec).unwrap();
            let camera = CameraActor::new(
                id,
                10.0,
                cal,
                TrackerConfig::default(),
                fusion.clone().recipient(),
            )
            .with_tap(tap.clone())
            .start();
            camera.send(CameraCommand::Start).await.unwrap().unwrap();
            let entry = CameraEntry {
                id,
                node: String::new(),
                stream: String::new(),
                source: Some(VTEST.into()),
                video: VideoEntry {
                    detect_every: every,
                    repeat: true,
                    picture_fps: 0.0,
                    ..VideoEntry::default()
                },
                roi: None,
                fps: 10.0,
                size: Some([768, 576]),
                calibration: spec.clone(),
                calibration_file: None,
            };
            let (feed, _) = tokio::sync::watch::channel(None);
            let video =
                urbanstream::video_feed::start(&entry, VTEST, camera.clone(), tap, feed, None)
                    .unwrap();
            running.push((camera, video));
        }
        let (t0, c0) = (Instant::now(), cpu_seconds());
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        let (wall, cpu) = (t0.elapsed().as_secs_f64(), cpu_seconds() - c0);
        let (mut frames, mut dropped) = (0, 0);
        println!("camera  tracked  skipped  dropped%  tracked/s");
        for (camera, _) in &running {
            let s = camera.send(GetStatus).await.unwrap();
            frames += s.frames;
            dropped += s.dropped;
            println!(
                "{:>6}  {:>7}  {:>7}  {:>7.1}%  {:>9.2}",
                s.camera,
                s.frames,
                s.dropped,
                100.0 * s.dropped as f64 / (s.frames + s.dropped).max(1) as f64,
                s.frames as f64 / wall
            );
        }
        println!(
            "all     {frames:>7}  {dropped:>7}  {:>7.1}%  {:>9.2}   ({cameras} cameras at 10 fps, detect every {every}, {wall:.0} s; CPU {:.2} cores of {})",
            100.0 * dropped as f64 / (frames + dropped).max(1) as f64,
            frames as f64 / wall,
            cpu / wall,
            std::thread::available_parallelism().map_or(1, |n| n.get()),
        );
        drop(running);
        System::current().stop();
    });
}
