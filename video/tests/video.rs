//! The video path on a real pedestrian sequence (OpenCV's `vtest.avi`, from Debian's
//! opencv-doc) and the colour appearance vector on images made here.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a failed unwrap is a failed test.

use opencv::core::{Mat, Rect, Scalar, CV_8UC3};
use opencv::imgproc;
use opencv::prelude::*;
use urbanstream_video::{
    detect_video, stripe_histogram, DetectedFrame, DetectorSpec, HogDetector, VideoError,
    VideoOptions, VideoRun,
};
use urbanstream_vision::tracker::appearance_cost;

const VTEST: &str = "/usr/share/doc/opencv-doc/examples/data/vtest.avi";

/// Every detected frame of a run, in order.
fn detect(
    source: &str,
    spec: &DetectorSpec,
    opts: &VideoOptions,
) -> Result<(VideoRun, Vec<DetectedFrame>), VideoError> {
    let mut frames = Vec::new();
    let run = detect_video(source, spec, 0.1, opts, |f| {
        frames.push(f);
        Ok(())
    })?;
    Ok((run, frames))
}

#[test]
fn hog_finds_people_in_vtest() {
    let opts = VideoOptions {
        max_frames: 60,
        ..VideoOptions::default()
    };
    let (run, frames) = detect(VTEST, &DetectorSpec::Hog, &opts).unwrap();
    assert_eq!(run.frames, 60);
    assert!(
        (run.fps - 10.0).abs() < 1.0,
        "vtest.avi is 10 fps, read {}",
        run.fps
    );
    assert_eq!(
        frames.iter().map(|f| f.frame).collect::<Vec<_>>(),
        (1..=60).collect::<Vec<_>>()
    );
    let found: usize = frames.iter().map(|f| f.detections.len()).sum();
    assert_eq!(found, run.detections);
    assert!(found >= 60, "at least a person a frame on average: {found}");
    for d in frames.iter().flat_map(|f| &f.detections) {
        let b = d.bbox;
        assert!(
            b[2] > 10.0 && b[3] > 30.0 && b[0] > -50.0 && b[0] < 800.0,
            "box {b:?}"
        );
        // Each box carries its colour appearance vector, unit length.
        let e = d.embedding.as_ref().expect("an appearance vector");
        let n: f32 = e.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((n - 1.0).abs() < 1e-3, "norm {n}");
    }
    assert!(run.detect_ms_per_frame > 0.0);
}

#[test]
fn detecting_every_third_frame_skips_the_others() {
    let opts = VideoOptions {
        max_frames: 60,
        detect_every: 3,
        ..VideoOptions::default()
    };
    let (run, frames) = detect(VTEST, &DetectorSpec::Hog, &opts).unwrap();
    assert_eq!(run.frames, 60);
    assert_eq!(
        frames.iter().map(|f| f.frame).collect::<Vec<_>>(),
        (1..=60).step_by(3).collect::<Vec<_>>()
    );
}

#[test]
fn an_error_from_the_receiver_ends_the_run() {
    let mut seen = 0;
    let e = detect_video(
        VTEST,
        &DetectorSpec::Hog,
        0.1,
        &VideoOptions::default(),
        |_| {
            seen += 1;
            if seen == 3 {
                return Err(VideoError::Config("enough".into()));
            }
            Ok(())
        },
    )
    .unwrap_err();
    assert_eq!(seen, 3);
    assert!(e.to_string().contains("enough"), "{e}");
}

#[test]
fn missing_videos_and_unknown_detectors_are_refused() {
    let e = detect(
        "/nonexistent/clip.avi",
        &DetectorSpec::Hog,
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
    let e = detect(
        VTEST,
        &DetectorSpec::parse("torchscript:/m.pt").unwrap(),
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
