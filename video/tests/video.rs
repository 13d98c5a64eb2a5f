//! The video path on a real pedestrian sequence (OpenCV's `vtest.avi`, from Debian's
//! opencv-doc) and the colour appearance vector on images made here.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a failed unwrap is a failed test.

use opencv::core::{Mat, Rect, Scalar, CV_8UC3};
use opencv::imgproc;
use opencv::prelude::*;
use urbanstream_video::{
    stripe_histogram, track_video, DetectorSpec, HogDetector, VideoError, VideoOptions,
};
use urbanstream_vision::offline::OfflineConfig;
use urbanstream_vision::tracker::appearance_cost;

const VTEST: &str = "/usr/share/doc/opencv-doc/examples/data/vtest.avi";

#[test]
fn hog_finds_and_tracks_people_in_vtest() {
    let opts = VideoOptions {
        max_frames: 60,
        ..VideoOptions::default()
    };
    let run = track_video(VTEST, &DetectorSpec::Hog, &OfflineConfig::default(), &opts).unwrap();
    assert_eq!(run.frames, 60);
    assert!(
        (run.fps - 10.0).abs() < 1.0,
        "vtest.avi is 10 fps, read {}",
        run.fps
    );
    assert!(
        run.detections >= 60,
        "at least a person a frame on average: {}",
        run.detections
    );
    let mut per_track = std::collections::BTreeMap::<u64, usize>::new();
    for r in &run.rows {
        *per_track.entry(r.1).or_default() += 1;
        assert!(
            r.2[2] > 10.0 && r.2[3] > 30.0 && r.2[0] > -50.0 && r.2[0] < 800.0,
            "box {:?}",
            r.2
        );
    }
    // Several people walk through the whole clip: some tracks last most of it.
    let long = per_track.values().filter(|&&n| n >= 30).count();
    assert!(long >= 2, "tracks and their lengths: {per_track:?}");
}

#[test]
fn skipping_frames_still_tracks() {
    let opts = VideoOptions {
        max_frames: 60,
        detect_every: 3,
        ..VideoOptions::default()
    };
    let run = track_video(VTEST, &DetectorSpec::Hog, &OfflineConfig::default(), &opts).unwrap();
    assert_eq!(run.frames, 60);
    // Boxes exist for frames that were not detected on (the gaps are filled).
    assert!(
        run.rows.iter().any(|r| r.0 % 3 != 1),
        "only detected frames have boxes"
    );
}

#[test]
fn missing_videos_and_unknown_detectors_are_refused() {
    let e = track_video(
        "/nonexistent/clip.avi",
        &DetectorSpec::Hog,
        &OfflineConfig::default(),
        &VideoOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, VideoError::Open(_)), "{e}");
    assert!(matches!(
        DetectorSpec::parse("yolo"),
        Err(VideoError::UnknownDetector(_))
    ));
    assert_eq!(
        DetectorSpec::parse("torchscript:/m.pt").unwrap(),
        DetectorSpec::TorchScript("/m.pt".into())
    );
    let e = track_video(
        VTEST,
        &DetectorSpec::parse("torchscript:/m.pt").unwrap(),
        &OfflineConfig::default(),
        &VideoOptions::default(),
    )
    .unwrap_err();
    // Without libtorch the model is refused for that; with it, the missing file is named.
    if cfg!(feature = "torch") {
        assert!(matches!(e, VideoError::Model(..)), "{e}");
        assert!(e.to_string().contains("/m.pt"), "{e}");
    } else {
        assert!(matches!(e, VideoError::NoTorch(_)), "{e}");
    }
}

fn two_tone(top: (f64, f64, f64), bottom: (f64, f64, f64)) -> Mat {
    let mut m =
        Mat::new_rows_cols_with_default(200, 100, CV_8UC3, Scalar::new(top.0, top.1, top.2, 0.0))
            .unwrap();
    let mut lower = m.roi_mut(Rect::new(0, 100, 100, 100)).unwrap();
    lower
        .set_to(
            &Scalar::new(bottom.0, bottom.1, bottom.2, 0.0),
            &opencv::core::no_array(),
        )
        .unwrap();
    let mut hsv = Mat::default();
    imgproc::cvt_color(&m, &mut hsv, imgproc::COLOR_BGR2HSV, 0).unwrap();
    hsv
}

#[test]
fn colour_vectors_tell_clothes_apart() {
    let b = [0.0, 0.0, 100.0, 200.0];
    let red_blue = stripe_histogram(&two_tone((0.0, 0.0, 220.0), (200.0, 0.0, 0.0)), b)
        .unwrap()
        .unwrap();
    let red_blue2 = stripe_histogram(&two_tone((10.0, 10.0, 210.0), (190.0, 10.0, 10.0)), b)
        .unwrap()
        .unwrap();
    let blue_red = stripe_histogram(&two_tone((200.0, 0.0, 0.0), (0.0, 0.0, 220.0)), b)
        .unwrap()
        .unwrap();
    let grey = stripe_histogram(&two_tone((120.0, 120.0, 120.0), (30.0, 30.0, 30.0)), b)
        .unwrap()
        .unwrap();
    let norm: f32 = red_blue.iter().map(|v| v * v).sum();
    assert!((norm - 1.0).abs() < 1e-4);
    assert!(appearance_cost(&red_blue, &red_blue2) < 0.05);
    assert!(appearance_cost(&red_blue, &blue_red) > 0.3);
    assert!(appearance_cost(&red_blue, &grey) > 0.3);
    assert!(stripe_histogram(
        &two_tone((0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),
        [500.0, 500.0, 10.0, 10.0]
    )
    .unwrap()
    .is_none());
}

#[test]
fn hog_scores_are_probabilities() {
    let mut cap =
        opencv::videoio::VideoCapture::from_file(VTEST, opencv::videoio::CAP_ANY).unwrap();
    let mut frame = Mat::default();
    for _ in 0..20 {
        assert!(cap.read(&mut frame).unwrap());
    }
    let dets = HogDetector::new().unwrap().find(&frame).unwrap();
    assert!(!dets.is_empty());
    assert!(dets.iter().all(|d| d.score > 0.0 && d.score < 1.0));
}
