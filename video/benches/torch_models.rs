//! What a TorchScript detector and embedder cost through our path (frame → tensor → model →
//! boxes; crops → batch → model → unit vectors), with stand-in models of a realistic size: a
//! ResNet-18 backbone (random weights — cost does not depend on them) with a box head as the
//! detector, run on `vtest.avi`'s 768 × 576 frames, and a ResNet-18 embedder on 256 × 128
//! crops (a common re-identification backbone; OSNet is lighter).
//!
//! `LIBTORCH=… LD_LIBRARY_PATH=…/lib cargo bench -p urbanstream-video --features torch --bench torch_models [-- FRAMES]`

#![allow(clippy::unwrap_used, clippy::expect_used)] // A benchmark: a failure ends it.

use std::time::Instant;

use opencv::core::Mat;
use opencv::prelude::*;
use opencv::videoio;
use tch::nn::{self, Module, ModuleT};
use tch::{CModule, Device, Kind, Tensor};
use urbanstream_video::{DetectorSpec, EmbedderSpec};
use urbanstream_vision::tracker::Detection;

const VTEST: &str = "/usr/share/doc/opencv-doc/examples/data/vtest.avi";

fn conv(p: nn::Path, cin: i64, cout: i64, k: i64, stride: i64) -> nn::Conv2D {
    let cfg = nn::ConvConfig {
        stride,
        padding: k / 2,
        bias: false,
        ..Default::default()
    };
    nn::conv2d(p, cin, cout, k, cfg)
}

/// A residual block of two 3 × 3 convolutions.
fn block(p: &nn::Path, cin: i64, cout: i64, stride: i64) -> nn::FuncT<'static> {
    let (c1, b1) = (
        conv(p / "c1", cin, cout, 3, stride),
        nn::batch_norm2d(p / "b1", cout, Default::default()),
    );
    let (c2, b2) = (
        conv(p / "c2", cout, cout, 3, 1),
        nn::batch_norm2d(p / "b2", cout, Default::default()),
    );
    let down = (stride != 1 || cin != cout).then(|| {
        (
            conv(p / "dc", cin, cout, 1, stride),
            nn::batch_norm2d(p / "db", cout, Default::default()),
        )
    });
    nn::func_t(move |x, train| {
        let y = x
            .apply(&c1)
            .apply_t(&b1, train)
            .relu()
            .apply(&c2)
            .apply_t(&b2, train);
        let skip = match &down {
            Some((c, b)) => x.apply(c).apply_t(b, train),
            None => x.shallow_clone(),
        };
        (y + skip).relu()
    })
}

/// ResNet-18's layout (stem, four stages of two blocks, 64 → 512 channels), pooled to one
/// 512-vector per image; written batch-agnostic so a traced model takes any batch.
fn resnet18(p: &nn::Path) -> nn::FuncT<'static> {
    let stem = conv(p / "stem", 3, 64, 7, 2);
    let bn = nn::batch_norm2d(p / "bn", 64, Default::default());
    let mut blocks = Vec::new();
    let mut cin = 64;
    for (i, cout) in [64, 128, 256, 512].into_iter().enumerate() {
        let stride = if i == 0 { 1 } else { 2 };
        blocks.push(block(&(p / format!("l{i}a")), cin, cout, stride));
        blocks.push(block(&(p / format!("l{i}b")), cout, cout, 1));
        cin = cout;
    }
    nn::func_t(move |x, train| {
        let mut y = x.apply(&stem).apply_t(&bn, train).relu().max_pool2d(
            [3, 3],
            [2, 2],
            [1, 1],
            [1, 1],
            false,
        );
        for b in &blocks {
            y = y.apply_t(b, train);
        }
        y.adaptive_avg_pool2d([1, 1]).flatten(1, -1)
    })
}

fn main() {
    let frames: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(30);
    let dir = std::env::temp_dir().join(format!("urbanstream-torch-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let _no_grad = tch::no_grad_guard();

    // Detector: backbone over the whole frame, then 100 boxes from its pooled features.
    let mut vs = nn::VarStore::new(Device::Cpu);
    let backbone = resnet18(&(vs.root() / "backbone"));
    let head = nn::linear(vs.root() / "head", 512, 500, Default::default());
    vs.freeze(); // weights become constants of the traced model
    let example = Tensor::zeros([1, 3, 576, 768], (Kind::Float, Device::Cpu));
    let det = CModule::create_by_tracing("Detector", "forward", &[example], &mut |xs| {
        let f = backbone.forward_t(&xs[0], false);
        vec![head.forward(&f).sigmoid().view([100, 5])]
    })
    .unwrap();
    let det_path = dir.join("detector.pt");
    det.save(&det_path).unwrap();

    let mut cap = videoio::VideoCapture::from_file(VTEST, videoio::CAP_ANY).unwrap();
    let mut decoded = Vec::new();
    while decoded.len() < frames {
        let mut m = Mat::default();
        if !cap.read(&mut m).unwrap() || m.empty() {
            break;
        }
        decoded.push(m);
    }
    // At full size and at half (`detect_scale = 0.5`: a quarter of the pixels).
    for scale in [1.0, 0.5] {
        let mut detector = DetectorSpec::TorchScript(det_path.clone())
            .build(scale)
            .unwrap();
        detector.detect(&decoded[0]).unwrap(); // warm-up
        let t = Instant::now();
        for f in &decoded {
            detector.detect(f).unwrap();
        }
        let det_ms = t.elapsed().as_secs_f64() * 1000.0 / decoded.len() as f64;
        println!(
            "detector (ResNet-18 backbone, 768x576 at scale {scale}, {} frames, {} torch threads): {det_ms:.1} ms/frame",
            decoded.len(),
            tch::get_num_threads()
        );
    }

    // Embedder: one model, any batch.
    let mut vs = nn::VarStore::new(Device::Cpu);
    let net = resnet18(&vs.root());
    vs.freeze();
    let example = Tensor::zeros([2, 3, 256, 128], (Kind::Float, Device::Cpu));
    let emb = CModule::create_by_tracing("Embedder", "forward", &[example], &mut |xs| {
        vec![net.forward_t(&xs[0], false)]
    })
    .unwrap();
    let emb_path = dir.join("embedder.pt");
    emb.save(&emb_path).unwrap();
    for batch in [1usize, 8] {
        let mut model = EmbedderSpec::TorchScript(emb_path.clone()).build().unwrap();
        let people: Vec<Detection> = (0..batch)
            .map(|i| Detection {
                bbox: [20.0 + 80.0 * i as f64, 100.0, 60.0, 160.0],
                score: 0.9,
                embedding: None,
            })
            .collect();
        let mut p = people.clone();
        model.describe(&decoded[0], &mut p).unwrap();
        let rounds = (frames / 2).max(5);
        let t = Instant::now();
        for k in 0..rounds {
            let mut p = people.clone();
            model.describe(&decoded[k % decoded.len()], &mut p).unwrap();
            assert!(p.iter().all(|d| d.embedding.is_some()));
        }
        let per_batch = t.elapsed().as_secs_f64() * 1000.0 / rounds as f64;
        println!(
            "embedder (ResNet-18, 256x128, batch {batch}): {per_batch:.1} ms per batch, {:.1} ms per person",
            per_batch / batch as f64
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
