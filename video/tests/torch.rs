//! TorchScript models through libtorch (the `torch` feature): tiny models are traced here, in
//! the test, saved with `torch.jit.save`'s format and loaded back through the same path a
//! user's `.pt` file takes. Nothing is downloaded.
//!
//! The detector model finds bright cells: the frame is pooled to a G × G grid and every cell is
//! a box scoring its brightness, in input pixels (the size is read from the input, so the traced
//! model works at any frame size). The embedder is the mean colour of a crop's upper and lower
//! halves.

#![cfg(feature = "torch")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a failed unwrap is a failed test.

use std::path::{Path, PathBuf};

use opencv::core::{Mat, Rect, Scalar, Size, CV_8UC3};
use opencv::prelude::*;
use opencv::{imgproc, videoio};
use tch::{CModule, Device, Kind, Tensor};
use urbanstream_video::{detect_video, DetectorSpec, EmbedderSpec, VideoError, VideoOptions};
use urbanstream_vision::tracker::{appearance_cost, Detection};

const GRID: i64 = 4;

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("urbanstream-torch-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The traced bright-cell detector; with `class`, a sixth column holding that class.
fn detector_model(dir: &Path, class: Option<f64>) -> PathBuf {
    let example = Tensor::zeros([1, 3, 120, 160], (Kind::Float, Device::Cpu));
    let module = CModule::create_by_tracing("Detector", "forward", &[example], &mut |xs| {
        let x = &xs[0];
        let score = x
            .adaptive_avg_pool2d([GRID, GRID])
            .mean_dim(1, false, Kind::Float)
            .reshape([GRID * GRID, 1]);
        // Width and height as tensors, so they follow the input.
        let w = x
            .select(2, 0)
            .select(1, 0)
            .select(0, 0)
            .ones_like()
            .sum(Kind::Float);
        let h = x
            .select(3, 0)
            .select(1, 0)
            .select(0, 0)
            .ones_like()
            .sum(Kind::Float);
        // Cell corners as fractions, from ops (the tracer records ops, not Rust data).
        let g = GRID as f64;
        let steps = Tensor::arange(GRID, (Kind::Float, Device::Cpu)) / g;
        let x1 = steps.repeat([GRID]);
        let y1 = steps
            .unsqueeze(1)
            .expand([GRID, GRID], false)
            .reshape([GRID * GRID]);
        let cells = Tensor::stack(&[&x1, &y1, &(&x1 + 1.0 / g), &(&y1 + 1.0 / g)], 1);
        let scale = Tensor::stack(&[&w, &h, &w, &h], 0).reshape([1, 4]);
        let mut cols = vec![cells * scale, score];
        if let Some(k) = class {
            cols.push(Tensor::full(
                [GRID * GRID, 1],
                k,
                (Kind::Float, Device::Cpu),
            ));
        }
        vec![Tensor::cat(&cols, 1).unsqueeze(0)]
    })
    .unwrap();
    let path = dir.join(format!("detector-{}.pt", class.unwrap_or(-1.0)));
    module.save(&path).unwrap();
    path
}

/// The traced embedder: the mean (normalised) colour of the crop's upper and lower halves.
fn embedder_model(dir: &Path) -> PathBuf {
    let example = Tensor::zeros([2, 3, 256, 128], (Kind::Float, Device::Cpu));
    let module = CModule::create_by_tracing("Embedder", "forward", &[example], &mut |xs| {
        vec![xs[0].adaptive_avg_pool2d([2, 1]).flatten(1, -1)]
    })
    .unwrap();
    let path = dir.join("embedder.pt");
    module.save(&path).unwrap();
    path
}

/// A module whose output breaks the detector contract: `[N, 3]`.
fn wrong_model(dir: &Path) -> PathBuf {
    let example = Tensor::zeros([1, 3, 120, 160], (Kind::Float, Device::Cpu));
    let module = CModule::create_by_tracing("Wrong", "forward", &[example], &mut |xs| {
        vec![xs[0].adaptive_avg_pool2d([3, 3]).reshape([-1, 3])]
    })
    .unwrap();
    let path = dir.join("wrong.pt");
    module.save(&path).unwrap();
    path
}

/// A black 320 × 240 frame with the given cells of a 4 × 4 grid (column, row) painted white.
fn frame_with(cells: &[(i32, i32)]) -> Mat {
    let mut m = Mat::new_rows_cols_with_default(240, 320, CV_8UC3, Scalar::all(0.0)).unwrap();
    for &(c, r) in cells {
        imgproc::rectangle(
            &mut m,
            Rect::new(c * 80, r * 60, 80, 60),
            Scalar::all(255.0),
            -1,
            imgproc::LINE_8,
            0,
        )
        .unwrap();
    }
    m
}

fn confident(dets: Vec<Detection>) -> Vec<[f64; 4]> {
    let mut b: Vec<[f64; 4]> = dets
        .into_iter()
        .filter(|d| d.score > 0.5)
        .map(|d| d.bbox.map(f64::round))
        .collect();
    b.sort_by(|x, y| x.partial_cmp(y).unwrap());
    b
}

#[test]
fn a_torchscript_detector_finds_what_its_model_finds_at_any_scale() {
    let dir = temp_dir("det");
    let spec = DetectorSpec::parse(&format!(
        "torchscript:{}",
        detector_model(&dir, None).display()
    ))
    .unwrap();
    let frame = frame_with(&[(1, 2), (3, 0)]);
    for scale in [1.0, 0.5, 1.5] {
        let mut det = spec.build(scale).unwrap();
        let found = det.detect(&frame).unwrap();
        assert_eq!(found.len(), 16, "every cell is a box");
        // Boxes come back in frame pixels whatever size the model saw.
        assert_eq!(
            confident(found),
            vec![[80.0, 120.0, 80.0, 60.0], [240.0, 0.0, 80.0, 60.0]],
            "scale {scale}"
        );
    }
    // An empty frame has no confident box.
    let mut det = spec.build(1.0).unwrap();
    assert!(confident(det.detect(&frame_with(&[])).unwrap()).is_empty());
}

#[test]
fn a_class_column_keeps_people_only() {
    let dir = temp_dir("class");
    let frame = frame_with(&[(0, 0)]);
    let person = DetectorSpec::TorchScript(detector_model(&dir, Some(0.0)));
    let car = DetectorSpec::TorchScript(detector_model(&dir, Some(2.0)));
    assert_eq!(
        confident(person.build(1.0).unwrap().detect(&frame).unwrap()),
        vec![[0.0, 0.0, 80.0, 60.0]]
    );
    assert!(car.build(1.0).unwrap().detect(&frame).unwrap().is_empty());
}

#[test]
fn models_that_break_the_contract_are_refused_at_load() {
    let dir = temp_dir("wrong");
    let wrong = wrong_model(&dir);
    let e = DetectorSpec::TorchScript(wrong.clone())
        .build(1.0)
        .err()
        .unwrap();
    assert!(matches!(e, VideoError::Model(..)), "{e}");
    assert!(e.to_string().contains("[N, 5] or [N, 6]"), "{e}");
    // A detector is no embedder: its output has no row per crop.
    let det = detector_model(&dir, None);
    let e = EmbedderSpec::TorchScript(det).build().err().unwrap();
    assert!(e.to_string().contains("[B, D]"), "{e}");
    // Not a TorchScript file at all, and no file.
    let junk = dir.join("junk.pt");
    std::fs::write(&junk, b"not a model").unwrap();
    for p in [junk, dir.join("missing.pt")] {
        let e = DetectorSpec::TorchScript(p.clone())
            .build(1.0)
            .err()
            .unwrap();
        assert!(matches!(e, VideoError::Model(..)), "{e}");
        assert!(e.to_string().contains(&p.display().to_string()), "{e}");
        assert!(
            !e.to_string().contains('\n'),
            "one line, no C++ backtrace: {e}"
        );
    }
}

fn two_tone(top: f64, bottom: f64) -> Mat {
    // BGR: `top`/`bottom` are the red channel, blue the other way round.
    let mut m =
        Mat::new_rows_cols_with_default(200, 100, CV_8UC3, Scalar::new(255.0 - top, 0.0, top, 0.0))
            .unwrap();
    imgproc::rectangle(
        &mut m,
        Rect::new(0, 100, 100, 100),
        Scalar::new(255.0 - bottom, 0.0, bottom, 0.0),
        -1,
        imgproc::LINE_8,
        0,
    )
    .unwrap();
    m
}

#[test]
fn a_torchscript_embedder_describes_each_box() {
    let dir = temp_dir("emb");
    let mut emb = EmbedderSpec::TorchScript(embedder_model(&dir))
        .build()
        .unwrap();
    let describe = |emb: &mut Box<dyn urbanstream_video::AppearanceModel>, img: &Mat| {
        let mut people = vec![
            Detection {
                bbox: [10.0, 10.0, 60.0, 180.0],
                score: 0.9,
                embedding: None,
            },
            // Mostly outside the frame: too little to describe.
            Detection {
                bbox: [98.0, 10.0, 40.0, 80.0],
                score: 0.9,
                embedding: None,
            },
        ];
        emb.describe(img, &mut people).unwrap();
        assert!(people[1].embedding.is_none());
        people[0].embedding.clone().unwrap()
    };
    let red_blue = describe(&mut emb, &two_tone(255.0, 0.0));
    let red_blue_dim = describe(&mut emb, &two_tone(230.0, 20.0));
    let blue_red = describe(&mut emb, &two_tone(0.0, 255.0));
    assert_eq!(red_blue.len(), 6);
    let norm: f32 = red_blue.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4, "unit length: {norm}");
    let same = appearance_cost(&red_blue, &red_blue_dim);
    let other = appearance_cost(&red_blue, &blue_red);
    assert!(same < 0.05 && other > 0.3, "same {same}, other {other}");
}

/// A short video: one bright block standing still, another walking a cell per 4 frames.
fn write_video(path: &Path) {
    let fourcc = videoio::VideoWriter::fourcc('M', 'J', 'P', 'G').unwrap();
    let mut w = videoio::VideoWriter::new(
        path.to_str().unwrap(),
        fourcc,
        10.0,
        Size::new(320, 240),
        true,
    )
    .unwrap();
    assert!(w.is_opened().unwrap());
    for k in 0..24 {
        w.write(&frame_with(&[(0, 0), ((k / 8) + 1, 3)])).unwrap();
    }
    w.release().unwrap();
}

#[test]
fn a_video_is_detected_through_both_models() {
    let dir = temp_dir("video");
    let video = dir.join("blocks.avi");
    write_video(&video);
    let opts = VideoOptions {
        embedder: EmbedderSpec::TorchScript(embedder_model(&dir)),
        ..VideoOptions::default()
    };
    let spec = DetectorSpec::TorchScript(detector_model(&dir, None));
    let mut frames = Vec::new();
    let run = detect_video(video.to_str().unwrap(), &spec, 0.1, &opts, |f| {
        frames.push(f);
        Ok(())
    })
    .unwrap();
    assert_eq!(run.frames, 24);
    assert_eq!(frames.len(), 24);
    // The standing block is found in every frame, at its cell, with a unit appearance vector.
    for f in &frames {
        let standing: Vec<_> = f
            .detections
            .iter()
            .filter(|d| d.bbox[0] < 40.0 && d.bbox[1] < 30.0)
            .collect();
        assert_eq!(standing.len(), 1, "frame {}: {:?}", f.frame, f.detections);
        let b = standing[0].bbox;
        assert!(
            (b[2] - 80.0).abs() < 8.0 && (b[3] - 60.0).abs() < 6.0,
            "{b:?}"
        );
        for d in &f.detections {
            let e = d.embedding.as_ref().expect("an appearance vector");
            let n: f32 = e.iter().map(|v| v * v).sum::<f32>().sqrt();
            assert!((n - 1.0).abs() < 1e-3, "norm {n}");
        }
    }
    assert!(run.detect_ms_per_frame > 0.0);
}
