//! User-supplied TorchScript models (the `torch` feature, through libtorch): a people detector
//! and an appearance embedder behind the same traits as HOG and the colour histograms. Nothing
//! is downloaded: the user points at a `.pt` file saved with `torch.jit.save`.
//!
//! The contracts (also in the README):
//! - **Detector**: input `float32 [1, 3, H, W]`, RGB in `[0, 1]`, the frame at `detect_scale`
//!   (a model that needs a fixed size resizes inside its `forward`). Output `float [N, 5]` or
//!   `[N, 6]` (a leading batch dimension of 1 is accepted): `x1, y1, x2, y2, score[, class]` in
//!   input pixels. With a class column only class 0 (COCO's person) is kept. Non-maximum
//!   suppression and the score threshold are ours, after the model.
//! - **Embedder**: input `float32 [B, 3, 256, 128]` — each person's box resized to 128 × 256,
//!   RGB, normalised with ImageNet's mean and deviation (as OSNet and most re-identification
//!   models are trained). Output `float [B, D]`, one vector per box; ours L2-normalises it.
//!
//! Models run on the first CUDA device when libtorch sees one, else on the CPU.

use std::path::Path;

use opencv::core::{Mat, Rect, Size};
use opencv::imgproc;
use opencv::prelude::*;
use tch::{CModule, Device, Kind, Tensor};
use urbanstream_vision::tracker::{normalise, Detection};

use crate::{scale_frame, AppearanceModel, PeopleDetector, VideoError};

/// The embedder's input size, width × height (the usual person re-identification shape).
pub const EMBED_SIZE: (i32, i32) = (128, 256);
const MEAN: [f64; 3] = [0.485, 0.456, 0.406];
const STD: [f64; 3] = [0.229, 0.224, 0.225];

/// A loaded TorchScript module and where it runs.
struct Model {
    module: CModule,
    device: Device,
    name: String,
}

impl Model {
    fn load(path: &Path) -> Result<Self, VideoError> {
        let name = path.display().to_string();
        let device = Device::cuda_if_available();
        let mut module = CModule::load_on_device(path, device)
            .map_err(|e| VideoError::Model(name.clone(), first_line(&e.to_string())))?;
        module.set_eval();
        Ok(Self {
            module,
            device,
            name,
        })
    }

    fn error(&self, why: impl Into<String>) -> VideoError {
        VideoError::Model(self.name.clone(), why.into())
    }

    /// `forward` on one input tensor, without gradients.
    fn run(&self, input: Tensor) -> Result<Tensor, VideoError> {
        tch::no_grad(|| self.module.forward_ts(&[input]))
            .map_err(|e| self.error(first_line(&e.to_string())))
    }

    /// A result's numbers, row-major, on the CPU.
    fn values(&self, t: &Tensor) -> Result<Vec<f32>, VideoError> {
        let flat = t
            .to_device(Device::Cpu)
            .to_kind(Kind::Float)
            .contiguous()
            .view([-1]);
        Vec::<f32>::try_from(&flat).map_err(|e| self.error(first_line(&e.to_string())))
    }
}

/// libtorch's errors carry a C++ backtrace after the first line.
fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).trim().to_string()
}

/// A continuous 8-bit BGR image as an RGB `uint8 [H, W, 3]` tensor.
fn rgb_tensor(bgr: &Mat) -> Result<Tensor, VideoError> {
    let mut rgb = Mat::default();
    imgproc::cvt_color(bgr, &mut rgb, imgproc::COLOR_BGR2RGB, 0)?;
    let (h, w) = (i64::from(rgb.rows()), i64::from(rgb.cols()));
    let bytes = rgb.data_bytes()?;
    Ok(Tensor::from_slice(bytes).view([h, w, 3]))
}

/// A TorchScript people detector.
pub struct TorchDetector {
    model: Model,
    /// Frames are scaled by this before detection.
    pub scale: f64,
}

impl TorchDetector {
    /// Loads the model and runs it once on a blank frame, so a model that breaks the contract
    /// fails here and not on the first person.
    pub fn load(path: &Path, scale: f64) -> Result<Self, VideoError> {
        let mut d = Self {
            model: Model::load(path)?,
            scale,
        };
        let blank = Mat::new_rows_cols_with_default(
            240,
            320,
            opencv::core::CV_8UC3,
            opencv::core::Scalar::all(0.0),
        )?;
        d.detect(&blank)?;
        Ok(d)
    }

    /// The model's output as rows of 5 or 6 numbers.
    fn rows(&self, out: &Tensor) -> Result<(Vec<f32>, usize), VideoError> {
        let out = match out.size().as_slice() {
            [1, _, _] => out.squeeze_dim(0),
            _ => out.shallow_clone(),
        };
        let cols = match out.size().as_slice() {
            [_, c @ (5 | 6)] => *c as usize,
            other => {
                return Err(self.model.error(format!(
                    "a detector returns [N, 5] or [N, 6] (x1, y1, x2, y2, score[, class]), this one {other:?}"
                )))
            }
        };
        Ok((self.model.values(&out)?, cols))
    }
}

impl PeopleDetector for TorchDetector {
    fn detect(&mut self, frame: &Mat) -> Result<Vec<Detection>, VideoError> {
        let scaled = scale_frame(frame, self.scale)?;
        let img = scaled.as_ref().unwrap_or(frame);
        let input = rgb_tensor(img)?
            .to_device(self.model.device)
            .permute([2, 0, 1])
            .unsqueeze(0)
            .to_kind(Kind::Float)
            / 255.0;
        let out = self.model.run(input)?;
        let (v, cols) = self.rows(&out)?;
        let k = 1.0 / self.scale;
        let (fw, fh) = (f64::from(frame.cols()), f64::from(frame.rows()));
        Ok(v.chunks_exact(cols)
            .filter(|r| cols == 5 || r[5].round() == 0.0)
            .filter_map(|r| {
                let [x1, y1, x2, y2, score] = [r[0], r[1], r[2], r[3], r[4]].map(f64::from);
                let (x1, y1) = ((x1 * k).clamp(0.0, fw), (y1 * k).clamp(0.0, fh));
                let (x2, y2) = ((x2 * k).clamp(0.0, fw), (y2 * k).clamp(0.0, fh));
                (x2 - x1 >= 1.0 && y2 - y1 >= 1.0 && score.is_finite()).then(|| Detection {
                    bbox: [x1, y1, x2 - x1, y2 - y1],
                    score: score.clamp(0.0, 1.0),
                    embedding: None,
                })
            })
            .collect())
    }
}

/// A TorchScript appearance embedder (e.g. an OSNet the user exported).
pub struct TorchEmbedder {
    model: Model,
    mean: Tensor,
    std: Tensor,
}

impl TorchEmbedder {
    /// Loads the model and checks its output on one blank crop.
    pub fn load(path: &Path) -> Result<Self, VideoError> {
        let model = Model::load(path)?;
        let device = model.device;
        let shape = |v: [f64; 3]| {
            Tensor::from_slice(&v.map(|x| x as f32))
                .view([1, 3, 1, 1])
                .to_device(device)
        };
        let mut e = Self {
            model,
            mean: shape(MEAN),
            std: shape(STD),
        };
        let blank = Tensor::zeros(
            [1, 3, i64::from(EMBED_SIZE.1), i64::from(EMBED_SIZE.0)],
            (Kind::Float, device),
        );
        let d = e.embed(blank)?;
        if d.len() != 1 || d[0].len() < 2 {
            return Err(e.model.error("an embedder returns [B, D] with D ≥ 2"));
        }
        Ok(e)
    }

    /// Runs the model on a normalised batch; one vector per row, as the model gave it.
    fn embed(&mut self, batch: Tensor) -> Result<Vec<Vec<f32>>, VideoError> {
        let b = batch.size()[0];
        let out = self.model.run(batch)?;
        let d = match out.size().as_slice() {
            [n, d] if *n == b => *d as usize,
            other => {
                return Err(self.model.error(format!(
                    "an embedder returns [B, D] for B crops, this one {other:?} for {b}"
                )))
            }
        };
        let v = self.model.values(&out)?;
        Ok(v.chunks_exact(d.max(1)).map(<[f32]>::to_vec).collect())
    }
}

impl AppearanceModel for TorchEmbedder {
    fn describe(&mut self, frame: &Mat, people: &mut [Detection]) -> Result<(), VideoError> {
        let (fw, fh) = (frame.cols(), frame.rows());
        let mut crops = Vec::new();
        let mut which = Vec::new();
        for (i, d) in people.iter().enumerate() {
            let [x, y, w, h] = d.bbox;
            let x0 = (x.floor() as i32).clamp(0, fw);
            let y0 = (y.floor() as i32).clamp(0, fh);
            let x1 = ((x + w).ceil() as i32).clamp(0, fw);
            let y1 = ((y + h).ceil() as i32).clamp(0, fh);
            // Too little of the person in view to describe.
            if x1 - x0 < 4 || y1 - y0 < 8 {
                continue;
            }
            let roi = Mat::roi(frame, Rect::new(x0, y0, x1 - x0, y1 - y0))?;
            let mut crop = Mat::default();
            imgproc::resize(
                &roi,
                &mut crop,
                Size::new(EMBED_SIZE.0, EMBED_SIZE.1),
                0.0,
                0.0,
                imgproc::INTER_LINEAR,
            )?;
            crops.push(rgb_tensor(&crop)?);
            which.push(i);
        }
        if crops.is_empty() {
            return Ok(());
        }
        let batch = Tensor::stack(&crops, 0)
            .to_device(self.model.device)
            .permute([0, 3, 1, 2])
            .to_kind(Kind::Float)
            / 255.0;
        let batch = (batch - &self.mean) / &self.std;
        for (i, mut v) in which.into_iter().zip(self.embed(batch)?) {
            // A zero or non-finite vector describes nothing.
            people[i].embedding = normalise(&mut v).then_some(v);
        }
        Ok(())
    }
}
